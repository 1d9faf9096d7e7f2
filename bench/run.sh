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
# the syscalls per proxied request (strace -c over a fixed number of
# requests, nginx and the gateway), the TLS variant (both through a local
# TLS terminator with a throwaway CA: cold start, then steady), and 10,000
# concurrent slow SSE streams through the mock directly, nginx and the
# gateway (bench/sse_client.py). Prints the tables and a verdict per goal of
# issue 13 and writes them to docs/bench-results.md. Not part of `make test`.
#
# Environment (all optional):
#   MM_BIN_DIR          binaries (default <repo>/build/bin)
#   BENCH_QUICK=1       3 s runs, 1 round, results to the temp dir (development)
#   BENCH_DURATION      seconds per wrk run (default 10; 3 when quick)
#   BENCH_ROUNDS        rounds over every target and concurrency (default 3)
#   BENCH_CONCURRENCY   wrk connections, space separated (default "16 64 256 1000")
#   BENCH_WORKERS       modelmux-dp --workers and nginx worker_processes (default 1)
#   BENCH_STREAMS       concurrent SSE streams (default 10000; 1000 when quick)
#   BENCH_STRACE_REQUESTS  requests counted under strace -c (default 20000;
#                       5000 when quick; 0 skips the syscall count)
#   BENCH_TLS=0         skip the TLS variant
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
CONCURRENCY="${BENCH_CONCURRENCY:-16 64 256 1000}"
export BENCH_WORKERS="${BENCH_WORKERS:-1}"
if [ "$BENCH_QUICK" = 1 ]; then
  export BENCH_STREAMS="${BENCH_STREAMS:-1000}" BENCH_STRACE_REQUESTS="${BENCH_STRACE_REQUESTS:-5000}"
else
  export BENCH_STREAMS="${BENCH_STREAMS:-10000}" BENCH_STRACE_REQUESTS="${BENCH_STRACE_REQUESTS:-20000}"
fi
export BENCH_TLS="${BENCH_TLS:-1}"
export BENCH_CONNECT_BATCH=100
export BENCH_NGINX_ACCESS_LOG="${BENCH_NGINX_ACCESS_LOG:-on}"
# Slow streams: a chunk a second for 15 s, so that all of them are open at
# once while the client is still connecting the last ones.
STREAM_CHUNKS=15
STREAM_CHUNK_DELAY_MS=1000
# The TLS variant: the first TLS_COLD_S seconds against a target that never
# spoke to the terminator (handshakes included), at c=TLS_C.
export BENCH_TLS_C=64 BENCH_TLS_COLD_S=5
# Syscalls are counted at this concurrency.
export BENCH_STRACE_C=64
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
[[ "$BENCH_DURATION" =~ ^[0-9]+$ && "$BENCH_ROUNDS" =~ ^[0-9]+$ && "$BENCH_WORKERS" =~ ^[0-9]+$ &&
   "$BENCH_STREAMS" =~ ^[0-9]+$ && "$BENCH_STRACE_REQUESTS" =~ ^[0-9]+$ ]] ||
  die "BENCH_DURATION, BENCH_ROUNDS, BENCH_WORKERS, BENCH_STREAMS and BENCH_STRACE_REQUESTS must be integers"

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

# Each connection is a socket at the gateway and one more upstream (and the
# mock holds the other end of that one): every process started from here
# inherits the limit. Root may raise the hard limit; others get what it is.
NOFILE_WANT=$((BENCH_STREAMS * 3 + 4096))
[ "$NOFILE_WANT" -ge 65536 ] || NOFILE_WANT=65536
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$NOFILE_WANT" ]; then
  ulimit -Hn "$NOFILE_WANT" 2>/dev/null || true
fi
ulimit -n "$NOFILE_WANT" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE="$(ulimit -n)"
[ "$NOFILE" = unlimited ] && NOFILE=1048576
[ "$NOFILE" -ge $((BENCH_STREAMS * 2 + 512)) ] ||
  note "open-file limit $NOFILE is low for $BENCH_STREAMS streams"
for c in $CONCURRENCY; do
  [ "$NOFILE" -ge $((c * 2 + 512)) ] || note "open-file limit $NOFILE is low for c=$c"
done
# nginx: a connection to the client and one upstream per stream.
NGINX_WORKER_CONNECTIONS=$((BENCH_STREAMS * 2 + 2048))

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

read -r MOCK_PORT NGINX_PORT DP_PORT DP_ADMIN_PORT NGINX_TLS_PORT TLSTERM_PORT <<<"$(free_ports 6)"

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

# --- the TLS terminator (TLS variant) ----------------------------------------
# A throwaway CA and a certificate for 127.0.0.1 (openssl CLI), and a second
# nginx terminating TLS in front of the mock, on the load CPU with the mock:
# it is the vendor's side, not a target. Targets reach it as
# https://127.0.0.1:TLSTERM_PORT/v1/... and must verify it with the CA.
TLS_READY=0
TLSTERM_PID=""
export BENCH_TLS_MISSING=""
make_test_ca() { # make_test_ca DIR
  local d=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=modelmux bench test CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
      >"$d/ext.cnf" &&
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
      -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
}
start_tlsterm() {
  [ "$BENCH_TLS" = 1 ] || return 0
  mkdir -p "$OUT/tlsterm"
  if ! command -v openssl >/dev/null || ! make_test_ca "$OUT/tlsterm"; then
    BENCH_TLS_MISSING="no test CA (openssl CLI missing or failing)"
  else
    nginx_conf "$HERE/tlsterm.conf.tmpl" "$OUT/tlsterm" "$TLSTERM_PORT" >"$OUT/tlsterm/nginx.conf"
    TLSTERM_PID="$(launch_nginx tlsterm "${PIN_LOAD[@]}")"
    pids+=("$TLSTERM_PID")
    if wait_port "$TLSTERM_PID" "$TLSTERM_PORT" tlsterm &&
      [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$OUT/tlsterm/ca.pem" \
        -H 'Content-Type: application/json' --data-binary "@$HERE/body.json" \
        "https://127.0.0.1:$TLSTERM_PORT/v1/chat/completions")" = 200 ]; then
      TLS_READY=1
    else
      BENCH_TLS_MISSING="the TLS terminator does not answer: $(tail -n 2 "$OUT/tlsterm/error.log" 2>/dev/null)"
    fi
  fi
  [ -z "$BENCH_TLS_MISSING" ] || note "TLS variant not measured: $BENCH_TLS_MISSING"
}
# The server of the baseline nginx that proxies to the terminator over
# HTTPS (verified, sessions reused, upstream keepalive).
tls_proxy_server() {
  [ "$TLS_READY" = 1 ] || return 0
  cat <<EOF
    upstream tlsterm {
        server 127.0.0.1:$TLSTERM_PORT;
        keepalive 512;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_TLS_PORT reuseport backlog=4096;
        location / {
            proxy_pass https://tlsterm;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $OUT/tlsterm/ca.pem;
            proxy_ssl_name 127.0.0.1;
            proxy_ssl_session_reuse on;
        }
    }
EOF
}

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
# nginx_conf TEMPLATE DIR PORT: the template with the placeholders every
# nginx of the bench has filled in (DIR holds its logs and temp files).
nginx_conf() {
  local conf
  conf="$(<"$1")"
  conf="${conf//@OTHER_TEMP_PATHS@/${other_temp//$OUT\/nginx/$2}}"
  conf="${conf//@DIR@/$2}"
  conf="${conf//@PORT@/$3}"
  conf="${conf//@MOCK_PORT@/$MOCK_PORT}"
  conf="${conf//@NOFILE@/$NOFILE}"
  conf="${conf//@WORKER_CONNECTIONS@/$NGINX_WORKER_CONNECTIONS}"
  printf '%s\n' "$conf"
}
# launch_nginx NAME [PIN...]: runs nginx on $OUT/NAME/nginx.conf in the
# background (not daemonized); prints its pid.
launch_nginx() {
  local name=$1
  shift
  "$@" nginx -p "$OUT/$name" -c "$OUT/$name/nginx.conf" -e "$OUT/$name/error.log" \
    >"$OUT/$name.log" 2>&1 </dev/null &
  echo $!
}
start_tlsterm
access_log="off"
[ "$BENCH_NGINX_ACCESS_LOG" = on ] && access_log="$OUT/nginx/access.log"
NGINX_CONF="$(nginx_conf "$HERE/nginx.conf.tmpl" "$OUT/nginx" "$NGINX_PORT")"
NGINX_CONF="${NGINX_CONF//@WORKERS@/$BENCH_WORKERS}"
NGINX_CONF="${NGINX_CONF//@ACCESS_LOG@/$access_log}"
NGINX_CONF="${NGINX_CONF//@TLS_PROXY@/$(tls_proxy_server)}"
printf '%s\n' "$NGINX_CONF" >"$OUT/nginx/nginx.conf"
NGINX_PID="$(launch_nginx nginx "${PIN_TARGET[@]}")"
pids+=("$NGINX_PID")
wait_port "$NGINX_PID" "$NGINX_PORT" nginx || { cat "$OUT/nginx/error.log" >&2; die "nginx did not start"; }
nginx_pids() { echo "$NGINX_PID" "$(pgrep -P "$NGINX_PID" | tr '\n' ' ')"; }

# modelmux-dp, standalone on the generated snapshot.
DP_PID=""
MODELMUX_TLS_MISSING=""
start_modelmux() {
  if [ ! -x "$BIN/modelmux-dp" ]; then
    BENCH_MODELMUX_MISSING="$BIN/modelmux-dp is not built"
    return 1
  fi
  local tls_args=()
  if [ "$TLS_READY" = 1 ]; then
    if grep -q '"caCert"' "$ROOT/schema/config.schema.json"; then
      tls_args=(--tls-url "https://127.0.0.1:$TLSTERM_PORT/v1" --ca-cert "$OUT/tlsterm/ca.pem")
    else
      MODELMUX_TLS_MISSING="this build has no endpoint tls.caCert (SPEC 2.2, issue 15 item 2): modelmux cannot trust the test CA"
    fi
  fi
  python3 "$HERE/snapshot.py" --mock-port "$MOCK_PORT" --key "$BENCH_KEY" --out "$OUT/snapshot.json" \
    "${tls_args[@]}" ||
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
URL[nginx-tls]="http://127.0.0.1:$NGINX_TLS_PORT/v1/chat/completions"
URL[modelmux-tls]="http://127.0.0.1:$DP_PORT/bench-tls/1.0/chat/completions"
AUTH[mock]="" AUTH[nginx]="" AUTH[modelmux]="Bearer $BENCH_KEY"
AUTH[nginx-tls]="" AUTH[modelmux-tls]="Bearer $BENCH_KEY"

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
  if [ "${t%-tls}" = modelmux ] && ! grep -qi '^x-modelmux-model:' "$OUT/check-$t.head"; then
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
# The TLS variant's targets (one check request each: one handshake before
# the cold run, as a gateway's readiness probe would make).
TLS_TARGETS=()
export BENCH_MODELMUX_TLS_MISSING=""
if [ "$TLS_READY" = 1 ]; then
  if check nginx-tls; then
    TLS_TARGETS+=(nginx-tls)
  else
    note "nginx over TLS not measured: $(tail -n 2 "$OUT/nginx/error.log")"
  fi
  if [ -n "$BENCH_MODELMUX_MISSING" ]; then
    BENCH_MODELMUX_TLS_MISSING="modelmux not measured"
  elif [ -n "$MODELMUX_TLS_MISSING" ]; then
    BENCH_MODELMUX_TLS_MISSING="$MODELMUX_TLS_MISSING"
  elif check modelmux-tls; then
    TLS_TARGETS+=(modelmux-tls)
  else
    BENCH_MODELMUX_TLS_MISSING="modelmux does not answer through the TLS terminator: $(head -c 200 "$OUT/check-modelmux-tls.body" 2>/dev/null)"
  fi
  [ -z "$BENCH_MODELMUX_TLS_MISSING" ] || note "modelmux over TLS not measured: $BENCH_MODELMUX_TLS_MISSING"
fi
clear_hwm "$MOCK_PID" || note "cannot reset VmHWM (/proc/PID/clear_refs): peak RSS is since process start"

target_pids() {
  case "$1" in
    mock) echo "$MOCK_PID" ;;
    nginx | nginx-tls) nginx_pids ;;
    modelmux | modelmux-tls) echo "$DP_PID" ;;
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

# measure TARGET C ROUND [SECONDS [PHASE]]: one wrk run, recorded with the
# target's CPU time, peak RSS, the 1-minute load average at its start and,
# for the TLS targets, what the terminator saw (connections, resumptions).
measure() {
  local t=$1 c=$2 r=$3 secs=${4:-$BENCH_DURATION} phase=${5:-steady} tp before after load
  local out="$OUT/wrk-$1-c$2-r$3-$phase.txt" extra=()
  # shellcheck disable=SC2207
  tp=($(target_pids "$t"))
  clear_hwm "${tp[@]}" || true
  load="$(cut -d' ' -f1 /proc/loadavg)"
  if [[ "$t" == *-tls ]]; then
    : >"$OUT/tlsterm/access.log"
    extra=(--tlsterm-log "$OUT/tlsterm/access.log")
  fi
  before="$(cpu_ticks "${tp[@]}")"
  wrk_run "$t" "$c" "$secs" "$out"
  after="$(cpu_ticks "${tp[@]}")"
  # nginx writes its log lines as each request ends: let the last ones land.
  [ ${#extra[@]} -eq 0 ] || sleep 0.5
  python3 "$HERE/report.py" record-wrk --target "$t" --c "$c" --round "$r" --wrk "$out" \
    --cpu-ticks $((after - before)) --hwm-kib "$(hwm_kib "${tp[@]}")" --phase "$phase" \
    --load "$load" "${extra[@]}" >>"$RESULTS" ||
    { note "wrk against $t at c=$c (round $r) gave no result: $(tail -n 2 "$out" | tr '\n' ' ')"; return 0; }
  tail -n 1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("bench: %-12s c=%-4d round %d %-6s: %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  cpu %5.2f s  errors %d  load %s" % (r["target"], r["c"], r["round"], r["phase"], r["rps"], r["p50_ms"], r["p99_ms"], r["cpu_s"], r["errors"], r["load"]))'
}

# strace_count TARGET: syscalls of the target's processes (every thread)
# over BENCH_STRACE_REQUESTS requests at c=BENCH_STRACE_C (strace -c -f).
strace_count() {
  local t=$1 out="$OUT/strace-$1.txt" wout="$OUT/wrk-strace-$1.txt" sp wp args=() pid
  for pid in $(target_pids "$t"); do args+=(-p "$pid"); done
  strace -c -f -o "$out" "${args[@]}" 2>"$OUT/strace-$t.err" &
  sp=$!
  sleep 1 # attached to every thread before the first request
  BENCH_MAX_REQUESTS="$BENCH_STRACE_REQUESTS" BENCH_AUTH="${AUTH[$t]}" "${PIN_LOAD[@]}" \
    wrk -t "$WRK_THREADS" -c "$BENCH_STRACE_C" -d 600s --timeout 10s --latency -s "$HERE/post.lua" \
    "${URL[$t]}" >"$wout" 2>&1 &
  wp=$!
  # post.lua stops wrk's thread after the last response, but wrk's main
  # thread sleeps out -d: once it is alone again (after its thread started),
  # SIGINT makes it report now.
  local started=0 n
  while kill -0 "$wp" 2>/dev/null; do
    n="$(ls "/proc/$wp/task" 2>/dev/null | wc -l)"
    if [ "$n" -gt 1 ]; then
      started=1
    elif [ "$started" = 1 ]; then
      break
    fi
    sleep 0.2
  done
  kill -INT "$wp" 2>/dev/null || true
  wait "$wp" 2>/dev/null || true
  sleep 0.5
  kill -INT "$sp" 2>/dev/null || true
  wait "$sp" 2>/dev/null || true
  python3 "$HERE/report.py" record-strace --target "$t" --c "$BENCH_STRACE_C" --wrk "$wout" \
    --strace "$out" >>"$RESULTS" ||
    { note "the syscall count of $t failed: $(tail -n 2 "$OUT/strace-$t.err" | tr '\n' ' ')"; return 0; }
  tail -n 1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("bench: %-12s %.2f syscalls per request over %d requests: %s" % (r["target"], r["per_request"], r["requests"], ", ".join("%s %.2f" % (k, v) for k, v in r["top"])))'
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

# --- syscalls per proxied request ----------------------------------------------
if [ "$BENCH_STRACE_REQUESTS" -gt 0 ]; then
  if command -v strace >/dev/null; then
    for t in "${TARGETS[@]}"; do
      [ "$t" = mock ] || strace_count "$t"
    done
  else
    note "strace is missing: no syscall count (scripts/install-deps.sh --bench installs it)"
  fi
fi

# --- TLS upstream ------------------------------------------------------------
# First the cold start (the target has made one handshake, for its check
# request): BENCH_TLS_COLD_S seconds at c=BENCH_TLS_C, then BENCH_ROUNDS
# steady runs, targets interleaved.
if [ ${#TLS_TARGETS[@]} -gt 0 ]; then
  for t in "${TLS_TARGETS[@]}"; do
    measure "$t" "$BENCH_TLS_C" 0 "$BENCH_TLS_COLD_S" cold
  done
  for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for ((i = 0; i < ${#TLS_TARGETS[@]}; i++)); do
      measure "${TLS_TARGETS[$(((i + r - 1) % ${#TLS_TARGETS[@]}))]}" "$BENCH_TLS_C" "$r"
    done
  done
fi

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
    --timeout 180 >"$OUT/stream-$t.json" 2>"$OUT/stream-$t.err" || true
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
export BENCH_MODELMUX_MISSING BENCH_NOTES BENCH_STREAM_SHAPE BENCH_TLS_MISSING BENCH_MODELMUX_TLS_MISSING
python3 "$HERE/report.py" report --results "$RESULTS" --out "$MD"

# The rate-limit benchmark of its own engineer, when present.
if [ -f "$HERE/ratelimit.sh" ]; then
  echo
  echo "bench: running bench/ratelimit.sh"
  MM_BIN_DIR="$BIN" bash "$HERE/ratelimit.sh" || echo "bench: bench/ratelimit.sh failed (exit $?)" >&2
fi
