#!/usr/bin/env bash
# `make bench`: the data plane against nginx and the bare mock (bench/README.md).
#
# Starts the mock upstream (build/bin/mockllm), nginx as a plain reverse proxy
# with upstream keepalive in front of it, and modelmux-dp in standalone mode
# (--config, a snapshot with a two-model weighted round robin over the mock
# and a secured operation). Drives each target with wrk and bench/post.lua at
# every concurrency, targets interleaved, several rounds; measures requests/s,
# p50/p99, the target's CPU time (utime + stime from /proc/PID/stat) and
# peak RSS (VmHWM, reset before each run through /proc/PID/clear_refs). Then
# 1,000 concurrent SSE streams through the mock directly, nginx and the
# gateway (bench/sse_client.py). Prints the tables and writes them to
# docs/bench-results.md. Not part of `make test`.
#
# Environment (all optional):
#   MM_BIN_DIR          binaries (default <repo>/build/bin)
#   BENCH_QUICK=1       3 s runs, 1 round, results to the temp dir (development)
#   BENCH_DURATION      seconds per wrk run (default 10; 3 when quick)
#   BENCH_ROUNDS        rounds over every target and concurrency (default 3)
#   BENCH_CONCURRENCY   wrk connections, space separated (default "16 64 256")
#   BENCH_WORKERS       modelmux-dp --workers and nginx worker_processes (default 1)
#   BENCH_STREAMS       concurrent SSE streams (default 1000)
#   BENCH_RESULTS       Markdown output (default docs/bench-results.md; the
#                       temp dir when quick)
#   BENCH_KEEP=1        keep the temp dir (logs, configs, raw wrk output)
#   BENCH_NGINX_ACCESS_LOG  on (default, one line per request, as the gateway
#                       logs) or off
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/bench"
BIN="${MM_BIN_DIR:-$ROOT/build/bin}"
export BENCH_QUICK="${BENCH_QUICK:-0}"
if [ "$BENCH_QUICK" = 1 ]; then
  export BENCH_DURATION="${BENCH_DURATION:-3}" BENCH_ROUNDS="${BENCH_ROUNDS:-1}"
else
  export BENCH_DURATION="${BENCH_DURATION:-10}" BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
fi
CONCURRENCY="${BENCH_CONCURRENCY:-16 64 256}"
export BENCH_WORKERS="${BENCH_WORKERS:-1}"
export BENCH_STREAMS="${BENCH_STREAMS:-1000}"
export BENCH_CONNECT_BATCH=100
export BENCH_NGINX_ACCESS_LOG="${BENCH_NGINX_ACCESS_LOG:-on}"
STREAM_CHUNKS=20
STREAM_CHUNK_DELAY_MS=100
export BENCH_STREAM_SHAPE="$STREAM_CHUNKS chunks $STREAM_CHUNK_DELAY_MS ms apart from the mock"
BENCH_KEY="mm-bench-key-0123456789abcdef"
export BENCH_MODELMUX_MISSING=""
export BENCH_NOTES=""
WRK_THREADS=1
WARMUP_S=2

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*"; BENCH_NOTES+="$*"$'\n'; }

for t in wrk nginx python3 curl; do
  command -v "$t" >/dev/null || die "$t is missing (make bench installs it: scripts/install-deps.sh --bench)"
done
[ -x "$BIN/mockllm" ] || die "$BIN/mockllm is missing: build first (make build), or set MM_BIN_DIR"
for c in $CONCURRENCY; do
  if ! [[ "$c" =~ ^[0-9]+$ ]] || [ "$c" -lt "$WRK_THREADS" ]; then die "BENCH_CONCURRENCY: bad value $c"; fi
done
[[ "$BENCH_DURATION" =~ ^[0-9]+$ && "$BENCH_ROUNDS" =~ ^[0-9]+$ && "$BENCH_WORKERS" =~ ^[0-9]+$ ]] ||
  die "BENCH_DURATION, BENCH_ROUNDS and BENCH_WORKERS must be integers"

# Other work on the machine skews every number: the report shows the load.
BENCH_LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
# What was measured: the commit checked out when the run started (the
# binaries in $BIN are assumed to be built from it, as `make bench` does).
BENCH_COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ -n "$(git -C "$ROOT" status --porcelain -- common dataplane tests/mockllm 2>/dev/null)" ]; then
  BENCH_COMMIT+=" + uncommitted changes in common/, dataplane/ or tests/mockllm/"
fi
export BENCH_LOADAVG_START BENCH_COMMIT BENCH_BIN="$BIN"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/modelmux-bench.XXXXXX")"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
if [ "$BENCH_QUICK" = 1 ]; then
  MD="${BENCH_RESULTS:-$OUT/bench-results.md}"
else
  MD="${BENCH_RESULTS:-$ROOT/docs/bench-results.md}"
fi

# --- CPU pinning -------------------------------------------------------------
# The measured target (nginx, modelmux-dp, or the mock when it is measured
# directly) runs alone on TARGET_CPU; wrk, the SSE client and the mock (when
# it is only the upstream) share LOAD_CPU. Same placement for nginx and the
# gateway, so their numbers compare.
NCPU="$(nproc)"
if command -v taskset >/dev/null && [ "$NCPU" -ge 2 ] && taskset -c 0,1 true 2>/dev/null; then
  TARGET_CPU=1 LOAD_CPU=0
  PIN_TARGET=(taskset -c "$TARGET_CPU") PIN_LOAD=(taskset -c "$LOAD_CPU")
  export BENCH_PINNING="target process on CPU $TARGET_CPU; wrk, the SSE client and the upstream mock on CPU $LOAD_CPU (the mock moves to CPU $TARGET_CPU when it is the target) (taskset)"
else
  TARGET_CPU="" LOAD_CPU=""
  PIN_TARGET=() PIN_LOAD=()
  export BENCH_PINNING="not pinned ($NCPU CPU(s) or no taskset): load generator and target share the CPUs"
fi
echo "bench: $BENCH_PINNING"
repin() { # repin PID CPU: moves every thread of PID
  [ -n "$2" ] && taskset -a -p -c "$2" "$1" >/dev/null
  return 0
}

# Each connection is a socket at the gateway and one more upstream.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge $((BENCH_STREAMS * 2 + 512)) ] ||
  note "open-file limit $(ulimit -n) is low for $BENCH_STREAMS streams"

# --- processes ---------------------------------------------------------------
pids=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "bench: logs and raw output kept in $OUT"
  else
    rm -rf "$OUT"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_ports() { # free_ports N: N ports free on 127.0.0.1 a moment ago
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # wait_port PID PORT NAME: 0 once listening, 1 if PID died or 15 s passed
  for _ in $(seq 150); do
    kill -0 "$1" 2>/dev/null || { echo "bench: $3 exited at start:" >&2; tail -n 20 "$OUT/$3.log" >&2; return 1; }
    port_open "$2" && return 0
    sleep 0.1
  done
  echo "bench: $3 does not listen on port $2" >&2
  return 1
}

read -r MOCK_PORT NGINX_PORT DP_PORT DP_ADMIN_PORT <<<"$(free_ports 4)"

# utime + stime in clock ticks, summed over the given pids (all threads).
cpu_ticks() {
  local sum=0 pid stat
  for pid in "$@"; do
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
    stat="${stat##*) }"
    # shellcheck disable=SC2086
    set -- $stat
    sum=$((sum + ${12} + ${13}))
  done
  echo "$sum"
}
# Resets the peak RSS of the given pids (Linux >= 4.0); 1 if it cannot.
clear_hwm() {
  local pid
  for pid in "$@"; do echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || return 1; done
}
# VmHWM in KiB summed over the given pids.
hwm_kib() {
  local sum=0 pid v
  for pid in "$@"; do
    v="$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" || continue
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# The mock: one thread per worker of the targets, at least 2 (with a single
# thread, libmicrohttpd 0.9.75's internal epoll loop stalls beyond ~128
# connections, which would cap every target at c=256).
MOCK_ARGS=(--listen "127.0.0.1:$MOCK_PORT" --name bench-mock)
if "$BIN/mockllm" --help 2>&1 | grep -q -- '--threads'; then
  MOCK_ARGS+=(--threads "$((BENCH_WORKERS > 2 ? BENCH_WORKERS : 2))")
fi
export BENCH_MOCK_ARGS=" ${MOCK_ARGS[*]:2}"
"${PIN_LOAD[@]}" "$BIN/mockllm" "${MOCK_ARGS[@]}" >"$OUT/mock.log" 2>&1 </dev/null &
MOCK_PID=$!
pids+=("$MOCK_PID")
wait_port "$MOCK_PID" "$MOCK_PORT" mock || die "the mock did not start"

# nginx: a generated config in the temp dir, not daemonized.
mkdir -p "$OUT/nginx"
# The temp paths of the modules this nginx has (their defaults are not ours
# to write), on one line.
other_temp="    #"
for mod in fastcgi uwsgi scgi; do
  if nginx -V 2>&1 | grep -q -- "--http-$mod-temp-path"; then
    other_temp+=" ${mod}_temp_path $OUT/nginx/$mod;"
  fi
done
other_temp="${other_temp/#    # /    }"
access_log="off"
[ "$BENCH_NGINX_ACCESS_LOG" = on ] && access_log="$OUT/nginx/access.log"
NGINX_CONF="$(<"$HERE/nginx.conf.tmpl")"
NGINX_CONF="${NGINX_CONF//@DIR@/$OUT/nginx}"
NGINX_CONF="${NGINX_CONF//@PORT@/$NGINX_PORT}"
NGINX_CONF="${NGINX_CONF//@MOCK_PORT@/$MOCK_PORT}"
NGINX_CONF="${NGINX_CONF//@WORKERS@/$BENCH_WORKERS}"
NGINX_CONF="${NGINX_CONF//@ACCESS_LOG@/$access_log}"
NGINX_CONF="${NGINX_CONF//@OTHER_TEMP_PATHS@/$other_temp}"
printf '%s\n' "$NGINX_CONF" >"$OUT/nginx/nginx.conf"
"${PIN_TARGET[@]}" nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" -e "$OUT/nginx/error.log" \
  >"$OUT/nginx.log" 2>&1 </dev/null &
NGINX_PID=$!
pids+=("$NGINX_PID")
wait_port "$NGINX_PID" "$NGINX_PORT" nginx || { cat "$OUT/nginx/error.log" >&2; die "nginx did not start"; }
nginx_pids() { echo "$NGINX_PID" "$(pgrep -P "$NGINX_PID" | tr '\n' ' ')"; }

# modelmux-dp, standalone on the generated snapshot.
DP_PID=""
start_modelmux() {
  if [ ! -x "$BIN/modelmux-dp" ]; then
    BENCH_MODELMUX_MISSING="$BIN/modelmux-dp is not built"
    return 1
  fi
  python3 "$HERE/snapshot.py" --mock-port "$MOCK_PORT" --key "$BENCH_KEY" --out "$OUT/snapshot.json" ||
    { BENCH_MODELMUX_MISSING="the bench snapshot could not be generated"; return 1; }
  "${PIN_TARGET[@]}" "$BIN/modelmux-dp" --listen "127.0.0.1:$DP_PORT" \
    --admin-listen "127.0.0.1:$DP_ADMIN_PORT" --config "$OUT/snapshot.json" \
    --cache "$OUT/dp.cache.json" --workers "$BENCH_WORKERS" --id bench \
    >"$OUT/modelmux.log" 2>&1 </dev/null &
  DP_PID=$!
  pids+=("$DP_PID")
  if ! wait_port "$DP_PID" "$DP_PORT" modelmux; then
    BENCH_MODELMUX_MISSING="modelmux-dp did not start: $(tail -n 1 "$OUT/modelmux.log" 2>/dev/null)"
    return 1
  fi
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DP_ADMIN_PORT/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  BENCH_MODELMUX_MISSING="modelmux-dp /readyz never answered 200 with the bench snapshot"
  return 1
}

# The body post.lua sends (and the sanity checks).
export BENCH_BODY_FILE="$HERE/body.json"
BENCH_BODY_BYTES="$(wc -c <"$BENCH_BODY_FILE")"
export BENCH_BODY_BYTES

declare -A URL AUTH
URL[mock]="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
URL[nginx]="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"
URL[modelmux]="http://127.0.0.1:$DP_PORT/bench/1.0/chat/completions"
AUTH[mock]="" AUTH[nginx]="" AUTH[modelmux]="Bearer $BENCH_KEY"

# check TARGET: one request must answer 200 (and, through the gateway, name
# the routed model).
check() {
  local t=$1 args=(-s -o "$OUT/check-$1.body" -D "$OUT/check-$1.head" -w '%{http_code}'
                   -H 'Content-Type: application/json' --data-binary "@$BENCH_BODY_FILE")
  [ -n "${AUTH[$t]}" ] && args+=(-H "Authorization: ${AUTH[$t]}")
  local code
  code="$(curl "${args[@]}" "${URL[$t]}")" || code="000"
  if [ "$code" != 200 ]; then
    echo "bench: $t answered $code to the check request: $(head -c 300 "$OUT/check-$t.body" 2>/dev/null)" >&2
    return 1
  fi
  if [ "$t" = modelmux ] && ! grep -qi '^x-modelmux-model:' "$OUT/check-$t.head"; then
    echo "bench: modelmux answered without x-modelmux-model" >&2
    return 1
  fi
}

TARGETS=(mock nginx)
check mock || die "the mock does not answer chat completions"
check nginx || { tail -n 5 "$OUT/nginx/error.log" >&2; die "nginx does not proxy to the mock"; }
if start_modelmux && check modelmux; then
  TARGETS+=(modelmux)
else
  [ -n "$BENCH_MODELMUX_MISSING" ] || BENCH_MODELMUX_MISSING="modelmux-dp does not answer the check request: $(head -c 200 "$OUT/check-modelmux.body" 2>/dev/null)"
  note "modelmux not measured: $BENCH_MODELMUX_MISSING"
fi
clear_hwm "$MOCK_PID" || note "cannot reset VmHWM (/proc/PID/clear_refs): peak RSS is since process start"

target_pids() {
  case "$1" in
    mock) echo "$MOCK_PID" ;;
    nginx) nginx_pids ;;
    modelmux) echo "$DP_PID" ;;
  esac
}

# wrk_run TARGET C SECONDS OUTFILE
wrk_run() {
  [ "$1" = mock ] && repin "$MOCK_PID" "$TARGET_CPU"
  BENCH_AUTH="${AUTH[$1]}" "${PIN_LOAD[@]}" wrk -t "$WRK_THREADS" -c "$2" -d "${3}s" --timeout 10s \
    --latency -s "$HERE/post.lua" "${URL[$1]}" >"$4" 2>&1 || true
  [ "$1" = mock ] && repin "$MOCK_PID" "$LOAD_CPU"
  return 0
}

# measure TARGET C ROUND
measure() {
  local t=$1 c=$2 r=$3 tp before after out="$OUT/wrk-$1-c$2-r$3.txt"
  # shellcheck disable=SC2207
  tp=($(target_pids "$t"))
  clear_hwm "${tp[@]}" || true
  before="$(cpu_ticks "${tp[@]}")"
  wrk_run "$t" "$c" "$BENCH_DURATION" "$out"
  after="$(cpu_ticks "${tp[@]}")"
  python3 "$HERE/report.py" record-wrk --target "$t" --c "$c" --round "$r" --wrk "$out" \
    --cpu-ticks $((after - before)) --hwm-kib "$(hwm_kib "${tp[@]}")" >>"$RESULTS" ||
    { note "wrk against $t at c=$c (round $r) gave no result: $(tail -n 2 "$out" | tr '\n' ' ')"; return 0; }
  tail -n 1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("bench: %-8s c=%-3d round %d: %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  cpu %5.2f s  errors %d" % (r["target"], r["c"], r["round"], r["rps"], r["p50_ms"], r["p99_ms"], r["cpu_s"], r["errors"]))'
}

for t in "${TARGETS[@]}"; do
  echo "bench: warming up $t (${WARMUP_S} s)"
  wrk_run "$t" 64 "$WARMUP_S" "$OUT/warmup-$t.txt"
done
total_runs=$((BENCH_ROUNDS * $(wc -w <<<"$CONCURRENCY") * ${#TARGETS[@]}))
echo "bench: $total_runs runs of ${BENCH_DURATION} s (targets: ${TARGETS[*]}; concurrency: $CONCURRENCY)"
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
  for c in $CONCURRENCY; do
    # Rotate the target order every round, so no target always runs first.
    for ((i = 0; i < ${#TARGETS[@]}; i++)); do
      measure "${TARGETS[$(((i + r - 1) % ${#TARGETS[@]}))]}" "$c" "$r"
    done
  done
done

# --- streaming ---------------------------------------------------------------
# The mock streams STREAM_CHUNKS chunks STREAM_CHUNK_DELAY_MS apart, so the
# streams are open together; then BENCH_STREAMS of them at once per target.
code="$(curl -s -o "$OUT/faults.body" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "{\"rules\":[{\"chunks\":$STREAM_CHUNKS,\"chunkDelayMs\":$STREAM_CHUNK_DELAY_MS}]}" \
  "http://127.0.0.1:$MOCK_PORT/__mock/faults")" || code=000
if [ "$code" != 200 ] && [ "$code" != 204 ]; then
  note "the mock refused the stream shape ($code: $(head -c 200 "$OUT/faults.body")): streams use its default"
  BENCH_STREAM_SHAPE="the mock's default stream"
fi
for t in "${TARGETS[@]}"; do
  # shellcheck disable=SC2207
  tp=($(target_pids "$t"))
  [ "$t" = mock ] && repin "$MOCK_PID" "$TARGET_CPU"
  clear_hwm "${tp[@]}" || true
  before="$(cpu_ticks "${tp[@]}")"
  port="${URL[$t]#http://127.0.0.1:}"
  "${PIN_LOAD[@]}" python3 "$HERE/sse_client.py" --port "${port%%/*}" --path "/${port#*/}" \
    --auth "${AUTH[$t]}" --streams "$BENCH_STREAMS" --connect-batch "$BENCH_CONNECT_BATCH" \
    --timeout 60 >"$OUT/stream-$t.json" 2>"$OUT/stream-$t.err" || true
  after="$(cpu_ticks "${tp[@]}")"
  [ "$t" = mock ] && repin "$MOCK_PID" "$LOAD_CPU"
  if [ -s "$OUT/stream-$t.json" ]; then
    python3 "$HERE/report.py" record-stream --target "$t" --client "$OUT/stream-$t.json" \
      --cpu-ticks $((after - before)) --hwm-kib "$(hwm_kib "${tp[@]}")" >>"$RESULTS"
    echo "bench: $BENCH_STREAMS streams via $t: $(cat "$OUT/stream-$t.json")"
  else
    note "the SSE client failed against $t: $(tail -n 3 "$OUT/stream-$t.err")"
  fi
done

for t in "${TARGETS[@]}"; do
  kill -0 "$(target_pids "$t" | cut -d' ' -f1)" 2>/dev/null || note "$t died during the benchmark (see its log)"
done

echo
export BENCH_MODELMUX_MISSING BENCH_NOTES BENCH_STREAM_SHAPE
python3 "$HERE/report.py" report --results "$RESULTS" --out "$MD"

# The rate-limit benchmark of its own engineer, when present.
if [ -f "$HERE/ratelimit.sh" ]; then
  echo
  echo "bench: running bench/ratelimit.sh"
  MM_BIN_DIR="$BIN" bash "$HERE/ratelimit.sh" || echo "bench: bench/ratelimit.sh failed (exit $?)" >&2
fi
