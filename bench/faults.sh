#!/usr/bin/env bash
# Fault table (issue 12): 16 upstream failures through the gateway with the
# resilient policy fields; prints complete / clean error / wrong per scenario
# with attempts and time. See bench/faults.py for the scenarios; the README's
# "Faults" section holds its table. Needs the release build (build/bin).
#   bench/faults.sh [--fast] [--markdown] [--only NAME]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export MM_SOURCE_DIR="${MM_SOURCE_DIR:-$root}"
export MM_BIN_DIR="${MM_BIN_DIR:-$root/build/bin}"
exec python3 "$root/bench/faults.py" "$@"
