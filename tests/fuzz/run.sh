#!/usr/bin/env bash
# Builds the libFuzzer targets tests/fuzz/fuzz_*.c with clang (ASan + UBSan)
# and fuzzes each for SECONDS (default 60), starting from tests/fuzz/corpus/
# <name>/ (copied, so the committed seeds stay as they are). Not part of
# `make test`. Needs clang with compiler-rt (Debian: clang).
#   bash tests/fuzz/run.sh [SECONDS] [TARGET]     e.g. bash tests/fuzz/run.sh 300 jwt
# A crash leaves crash-* in build-fuzz/; replay it without clang with
#   build/fuzz/fuzz_<name>_replay build-fuzz/crash-...
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
ONLY=${2:-}
OUT=${FUZZ_BUILD:-build-fuzz}
CC=${CLANG:-clang}
if ! command -v "$CC" >/dev/null; then
  echo "fuzz: $CC not found; install clang (apt-get install clang) to fuzz" >&2
  exit 1
fi
mkdir -p "$OUT"
# shellcheck disable=SC2207
flags=($(pkg-config --cflags --libs jansson yaml-0.1 libcrypto))
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  short=${name#fuzz_}
  [ -n "$ONLY" ] && [ "$ONLY" != "$short" ] && continue
  "$CC" -g -O1 -D_GNU_SOURCE -std=gnu11 -I. -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined common/*.c "$src" "${flags[@]}" -lm -lpthread -o "$OUT/$name"
  mkdir -p "$OUT/corpus-$short"
  [ -d "tests/fuzz/corpus/$short" ] && cp -n "tests/fuzz/corpus/$short"/* "$OUT/corpus-$short/" 2>/dev/null || true
  echo "fuzz: $name for ${SECONDS_EACH}s"
  (cd "$OUT" && "./$name" -max_total_time="$SECONDS_EACH" -max_len=20000 -timeout=10 \
     -print_final_stats=1 "corpus-$short")
done
