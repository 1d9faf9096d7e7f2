-- wrk script of bench/jwt_gateway.py: POSTs a chat completion with
-- "Authorization: Bearer <token>", taking the tokens of the file named by
-- the environment variable BENCH_TOKENS one after the other (one line each),
-- and stops the thread once every token was sent (so with distinct tokens no
-- request is a cache hit). One wrk thread.
local tokens, n, sent, answered = {}, 0, 0, 0
local body = '{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}'

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    n = n + 1
    tokens[n] = line
  end
end

function request()
  sent = sent + 1
  local t = tokens[((sent - 1) % n) + 1]
  return wrk.format("POST", os.getenv("BENCH_PATH"),
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. t},
                    body)
end

function response(status, headers, body)
  answered = answered + 1
  if sent >= n then
    wrk.thread:stop()
  end
end
