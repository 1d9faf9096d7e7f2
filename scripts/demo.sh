#!/usr/bin/env bash
# `make demo`: the whole modelmux system on this machine.
#
# Starts two mock LLM upstreams (mock A, mock B), the control plane with a
# fresh database and one data plane following it; imports the SPEC section 7
# apk-conf with its endpoints pointed at the mocks, creates the secret, an
# application and its keys (scripts/demo/demo.py), sends a dozen requests
# through the gateway and prints which model and endpoint served each. Then
# it keeps everything running, with the URLs, the admin token and a curl
# command printed, until Ctrl-C; every process it started is stopped on the
# way out (INT, TERM, or any exit). Ctrl-C in a terminal signals the whole
# foreground process group, so the processes run in sessions of their own:
# only this script sees it, and it stops them in order (data plane first),
# reports nothing but what went wrong, and removes its temp folder.
#
# Environment (all optional):
#   MM_BIN_DIR              binaries (default: <repo>/build/bin)
#   DEMO_CP_PORT            control plane (default 9400)
#   DEMO_DP_PORT            data plane (default 9095)
#   DEMO_DP_ADMIN_PORT      data plane admin (default 9096)
#   DEMO_MOCK_A_PORT        mock upstream A (default 9501)
#   DEMO_MOCK_B_PORT        mock upstream B (default 9502)
#   DEMO_DATA_DIR           database, cache and logs (default: a new temp
#                           dir, removed on a clean exit; a given dir, or
#                           the temp dir after a failure, is kept)
#   MODELMUX_ADMIN_TOKEN    admin token (default: a random one, printed)
#   MODELMUX_DP_TOKEN       data-plane channel token (default: random)
#   MODELMUX_DEMO_EXIT=1    exit after the table instead of waiting (tests);
#                           the --no-wait flag does the same
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${MM_BIN_DIR:-$ROOT/build/bin}"
CP_PORT="${DEMO_CP_PORT:-9400}"
DP_PORT="${DEMO_DP_PORT:-9095}"
DP_ADMIN_PORT="${DEMO_DP_ADMIN_PORT:-9096}"
MOCK_A_PORT="${DEMO_MOCK_A_PORT:-9501}"
MOCK_B_PORT="${DEMO_MOCK_B_PORT:-9502}"
NO_WAIT="${MODELMUX_DEMO_EXIT:-0}"
for arg in "$@"; do
  case "$arg" in
    --no-wait) NO_WAIT=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

FAILED=0
die() { echo "demo: $*" >&2; FAILED=1; exit 1; }
random_token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

for b in modelmux-cp modelmux-dp mockllm; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing: build first (make build), or set MM_BIN_DIR"
done
command -v python3 >/dev/null || die "python3 is missing (make deps installs it)"
command -v setsid >/dev/null || die "setsid is missing (util-linux)"

# --- processes we started: stopped on any exit -------------------------------
pids=()
declare -A pname=()
KEEP_DATA=1
if [ -n "${DEMO_DATA_DIR:-}" ]; then
  DATA="$DEMO_DATA_DIR"
  mkdir -p "$DATA"
else
  DATA="$(mktemp -d "${TMPDIR:-/tmp}/modelmux-demo.XXXXXX")"
  KEEP_DATA=0
fi

cleanup() {
  local rc=$? pid i
  trap - EXIT INT TERM
  # Stop in reverse start order: the data plane before the control plane
  # and the mocks, so it does not log reconnect noise on the way down.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[$i]}
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo: ${pname[$pid]} (pid $pid) ignored SIGTERM for 10 s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    # Every one of them exits 0 on SIGTERM; anything else is worth saying
    # (a sanitizer build reports leaks through the exit status).
    [ "$status" = 0 ] || echo "demo: ${pname[$pid]} (pid $pid) exited with status $status" >&2
  done
  # A failed run keeps its logs, whoever made the directory.
  if [ "$KEEP_DATA" = 0 ] && [ "$FAILED" = 0 ]; then
    rm -rf "$DATA"
  elif [ ${#pids[@]} -gt 0 ]; then
    echo "demo: logs and database kept in $DATA"
  fi
  [ ${#pids[@]} -gt 0 ] && echo "demo: stopped ${#pids[@]} processes"
  exit "$rc"
}
STOPPING=0
trap cleanup EXIT
trap 'STOPPING=1; echo; exit 0' INT
trap 'STOPPING=1; exit 143' TERM

# Shows the end of a process's log (for failures).
show_log() {
  echo "---- last lines of $DATA/$1.log ----" >&2
  tail -n 20 "$DATA/$1.log" >&2 || true
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME PORT CMD...: runs CMD in the background, in a session of its
# own (setsid: a terminal's Ctrl-C must not reach it before this script has
# stopped the others), with its output in $DATA/NAME.log, and waits until it
# listens on PORT. setsid execs CMD in place (a background job is no group
# leader), so $! is CMD's pid.
start() {
  local name=$1 port=$2 pid
  shift 2
  setsid "$@" >"$DATA/$name.log" 2>&1 </dev/null &
  pid=$!
  pids+=("$pid")
  pname[$pid]=$name
  for _ in $(seq 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log "$name"
      die "$name exited at start (see above)"
    fi
    port_open "$port" && return 0
    sleep 0.1
  done
  show_log "$name"
  die "$name does not listen on 127.0.0.1:$port after 15 s"
}

# Fail loudly, before starting anything, on a port someone else holds.
declare -A seen=()
for spec in "control plane:$CP_PORT:DEMO_CP_PORT" "data plane:$DP_PORT:DEMO_DP_PORT" \
            "data plane admin:$DP_ADMIN_PORT:DEMO_DP_ADMIN_PORT" \
            "mock A:$MOCK_A_PORT:DEMO_MOCK_A_PORT" "mock B:$MOCK_B_PORT:DEMO_MOCK_B_PORT"; do
  IFS=: read -r what port var <<<"$spec"
  if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    die "$var=$port is not a port number"
  fi
  [ -z "${seen[$port]:-}" ] || die "$var and ${seen[$port]} are both $port"
  seen[$port]=$var
  port_open "$port" &&
    die "port $port ($what) is in use on 127.0.0.1: stop what holds it, or set $var to another port"
done

ADMIN_TOKEN="${MODELMUX_ADMIN_TOKEN:-demo-$(random_token)}"
DP_TOKEN="${MODELMUX_DP_TOKEN:-$(random_token)}"
CP_URL="http://127.0.0.1:$CP_PORT"
DP_URL="http://127.0.0.1:$DP_PORT"
DP_ADMIN_URL="http://127.0.0.1:$DP_ADMIN_PORT"

echo "demo: binaries from $BIN, data in $DATA"
start mock-a "$MOCK_A_PORT" "$BIN/mockllm" --listen "127.0.0.1:$MOCK_A_PORT" --name mock-a
start mock-b "$MOCK_B_PORT" "$BIN/mockllm" --listen "127.0.0.1:$MOCK_B_PORT" --name mock-b
echo "demo: mock upstreams A on :$MOCK_A_PORT and B on :$MOCK_B_PORT"
MODELMUX_ADMIN_TOKEN="$ADMIN_TOKEN" MODELMUX_DP_TOKEN="$DP_TOKEN" \
  start modelmux-cp "$CP_PORT" "$BIN/modelmux-cp" --listen "127.0.0.1:$CP_PORT" \
  --db "$DATA/modelmux.db" --web "$ROOT/web"
echo "demo: control plane on $CP_URL"
MODELMUX_DP_TOKEN="$DP_TOKEN" \
  start modelmux-dp "$DP_PORT" "$BIN/modelmux-dp" --listen "127.0.0.1:$DP_PORT" \
  --admin-listen "127.0.0.1:$DP_ADMIN_PORT" --cp "$CP_URL" --id demo-dp \
  --cache "$DATA/modelmux-dp.cache.json"
echo "demo: data plane on $DP_URL (admin $DP_ADMIN_URL)"

if ! python3 "$ROOT/scripts/demo/demo.py" --cp "$CP_URL" --token "$ADMIN_TOKEN" \
    --dp "$DP_URL" --dp-admin "$DP_ADMIN_URL" \
    --mock-a "http://127.0.0.1:$MOCK_A_PORT/v1" --mock-b "http://127.0.0.1:$MOCK_B_PORT/v1" \
    --env-out "$DATA/demo.env"; then
  show_log modelmux-cp
  show_log modelmux-dp
  die "setting up or calling the gateway failed (see above)"
fi
# shellcheck disable=SC1091
. "$DATA/demo.env"

cat <<EOF
modelmux is running:
  control plane   $CP_URL        (web UI: $CP_URL/ui/)
  admin token     $ADMIN_TOKEN
  data plane      $DP_URL        (metrics: $DP_ADMIN_URL/metrics)
  mock upstreams  http://127.0.0.1:$MOCK_A_PORT/v1 (mock-a), http://127.0.0.1:$MOCK_B_PORT/v1 (mock-b)
  API keys        production $DEMO_PROD_KEY
                  sandbox    $DEMO_SANDBOX_KEY
  logs            $DATA/*.log

Try:
  curl -si $DP_URL$DEMO_API_PATH \\
    -H 'Authorization: Bearer $DEMO_PROD_KEY' -H 'Content-Type: application/json' \\
    -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'
  curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' $CP_URL/api/v1/dataplanes
EOF

if [ "$NO_WAIT" = 1 ]; then
  echo "demo: MODELMUX_DEMO_EXIT=1 / --no-wait: stopping"
  exit 0
fi
echo
echo "Press Ctrl-C to stop everything."
# Wake up when any process ends: that one is reported and the rest stopped.
while :; do
  wait -n "${pids[@]}" || true
  for pid in "${pids[@]}"; do
    if [ "$STOPPING" = 0 ] && ! kill -0 "$pid" 2>/dev/null; then
      show_log "${pname[$pid]}"
      die "${pname[$pid]} (pid $pid) exited unexpectedly; stopping the rest"
    fi
  done
done
