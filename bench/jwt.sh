#!/usr/bin/env bash
# JWT verification microbenchmark (bench/jwt.c): cost per token of RS256 and
# ES256 with and without the per-worker cache. Not part of `make test`.
#   bash bench/jwt.sh [-n NEW_TOKENS] [-r REUSES]
# With --gateway, the same cost through the data plane (bench/jwt_gateway.py:
# wrk, the mock upstream, one worker; the data plane's CPU per request):
#   bash bench/jwt.sh --gateway [--tokens N] [--connections C] [--rounds R]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} >/dev/null
cmake --build "$BUILD" -j 2 --target bench_jwt >/dev/null
if [ "${1:-}" = --gateway ]; then
  shift
  cmake --build "$BUILD" -j 2 --target modelmux-dp mockllm >/dev/null
  MM_BIN_DIR="$PWD/$BUILD/bin" BUILD="$BUILD" exec python3 bench/jwt_gateway.py "$@"
fi
exec "$BUILD/bench/bench_jwt" "$@"
