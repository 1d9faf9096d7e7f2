-- wrk script of `make bench` (bench/run.sh): every request POSTs the same
-- small non-streaming chat completion to the URL wrk was given.
--   BENCH_BODY_FILE  the body (default: bench/body.json next to this script,
--                    as run.sh sets it)
--   BENCH_AUTH       value of the Authorization header (unset or empty: none
--                    sent); the gateway needs it, nginx and the mock ignore it
--   BENCH_MAX_REQUESTS  stop after this many responses (per wrk thread; run.sh
--                    uses one thread): a fixed number of requests, for the
--                    syscall count under strace. Unset: run for -d seconds.
-- At the end it prints one machine-readable line for run.sh:
--   BENCH_RESULT {"requests":..,"duration_us":..,"p50_us":..,"p99_us":..,"max_us":..,
--                 "errors":{"connect":..,"read":..,"write":..,"status":..,"timeout":..}}
-- (latency percentiles are wrk's --latency ones, in microseconds; "status"
-- counts non-2xx/3xx answers).

local path = os.getenv("BENCH_BODY_FILE") or "bench/body.json"
local f = assert(io.open(path, "rb"), "cannot open the body file " .. path)
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local max_requests = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "")
if max_requests and max_requests > 0 then
  local seen = 0
  function response(status, headers, body)
    seen = seen + 1
    if seen >= max_requests then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
