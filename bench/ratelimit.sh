#!/usr/bin/env bash
# The cost of AI rate limiting: throughput of one API through modelmux-dp
# with no limit, with a limit on local counters, and with a limit shared
# through Redis (--redis), measured in the same run with wrk against the
# same mock upstream. A benchmark figure, not a timed test (not in ctest).
#
# The limits are set far above what the run can spend (nothing is refused),
# so the difference is the limiter itself: a local atomic admission, or one
# EVALSHA round trip to Redis per request plus one settle per response.
#
# Needs wrk, redis-server and the built binaries (`make build`;
# `scripts/install-deps.sh --bench` installs wrk).
# Environment (optional):
#   MM_BIN_DIR           binaries (default <repo>/build/bin)
#   BENCH_DURATION       seconds per wrk run (default 10)
#   BENCH_CONNECTIONS    wrk connections (default 64)
#   BENCH_WORKERS        modelmux-dp --workers (default 1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${MM_BIN_DIR:-$ROOT/build/bin}"
DURATION="${BENCH_DURATION:-10}"
CONNS="${BENCH_CONNECTIONS:-64}"
WORKERS="${BENCH_WORKERS:-1}"
KEY="mm-key-app-a-0123456789" # tests/e2e/rl_util.py KEYS["app-a"]

for t in wrk redis-server python3; do
  command -v "$t" >/dev/null || { echo "ratelimit.sh: $t is missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
for b in modelmux-dp mockllm; do
  [ -x "$BIN/$b" ] || { echo "ratelimit.sh: $BIN/$b not built (make build)" >&2; exit 1; }
done

TMP="$(mktemp -d /tmp/mm-bench-rl-XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 1 500); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.02
  done
  echo "ratelimit.sh: nothing listening on port $1" >&2
  exit 1
}

# snapshot FILE MOCK_URL POLICY_JSON ("null": no rate limit)
snapshot() {
  PYTHONPATH="$ROOT/tests/e2e" python3 -c '
import json, sys, rl_util
with open(sys.argv[1], "w") as f:
    json.dump(rl_util.snapshot(sys.argv[2], json.loads(sys.argv[3])), f)
' "$1" "$2" "$3"
}

MOCK_PORT="$(free_port)"
"$BIN/mockllm" --listen "127.0.0.1:$MOCK_PORT" --threads 2 2>"$TMP/mock.log" &
PIDS+=($!)
wait_port "$MOCK_PORT"

REDIS_PORT="$(free_port)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$TMP" >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
wait_port "$REDIS_PORT"

BIG='{"unit": "hour", "scope": "application", "requests": 1000000000000, "totalTokens": 1000000000000000}'

# run NAME POLICY_JSON [extra dp flags...]: prints "NAME req/s p99"
run() {
  local name="$1" policy="$2"
  shift 2
  local snap="$TMP/$name.json" port admin
  snapshot "$snap" "http://127.0.0.1:$MOCK_PORT" "$policy"
  port="$(free_port)"
  admin="$(free_port)"
  "$BIN/modelmux-dp" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
    --config "$snap" --cache "$TMP/$name.cache" --workers "$WORKERS" "$@" 2>"$TMP/$name.log" &
  local pid=$!
  wait_port "$port"
  # warm up (and let the Redis connections come up)
  BENCH_BODY_FILE="$ROOT/bench/body.json" BENCH_AUTH="Bearer $KEY" \
    wrk -t1 -c8 -d1s -s "$ROOT/bench/post.lua" "http://127.0.0.1:$port/rl/v1/chat/completions" >/dev/null
  BENCH_BODY_FILE="$ROOT/bench/body.json" BENCH_AUTH="Bearer $KEY" \
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$ROOT/bench/post.lua" \
    "http://127.0.0.1:$port/rl/v1/chat/completions" >"$TMP/$name.wrk"
  local up=""
  up="$(curl -s "http://127.0.0.1:$admin/metrics" | awk '/^modelmux_ratelimit_backend_up/ {print $2}')" || true
  kill "$pid"
  wait "$pid" || true
  python3 - "$name" "$TMP/$name.wrk" "$DURATION" "${up:--}" <<'EOF'
import json, sys
name, path, dur, up = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
res = None
for line in open(path):
    if line.startswith("BENCH_RESULT "):
        res = json.loads(line[len("BENCH_RESULT "):])
if res is None:
    print("%-16s wrk failed" % name)
    sys.exit(0)
errs = sum(res["errors"].values())
print("%-16s %10.0f %10.2f %10.2f %8d   %s" % (name, res["requests"] / (res["duration_us"] / 1e6),
      res["p50_us"] / 1000, res["p99_us"] / 1000, errs, up))
EOF
}

echo "modelmux-dp --workers $WORKERS, wrk -c$CONNS -d${DURATION}s, mock upstream (same machine)"
printf '%-16s %10s %10s %10s %8s   %s\n' "limit" "req/s" "p50 ms" "p99 ms" "errors" "backend_up"
run none null
run local "$BIG"
run redis "$BIG" --redis "redis://127.0.0.1:$REDIS_PORT"
