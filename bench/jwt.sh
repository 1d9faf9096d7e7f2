#!/usr/bin/env bash
# JWT verification microbenchmark (bench/jwt.c): cost per token of RS256 and
# ES256 with and without the per-worker cache. Not part of `make test`.
#   bash bench/jwt.sh [-n NEW_TOKENS] [-r REUSES]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build "$BUILD" -j 2 --target bench_jwt >/dev/null
exec "$BUILD/bench/bench_jwt" "$@"
