"""Failure handling through the real data plane and the mock upstream (SPEC
3.1 steps 4 and 6, 3.2; issue 12): which failures do what, same-target
retries and their pauses (the mock's receivedAtMs), a short Retry-After
waited out, suspension only for 429/5xx/connection errors/timeouts, the
endpoint timeout as a gap between reads, late-committed streams with a
first-token deadline, broken streams (raw socket: the stream_interrupted
event and no chunked terminator), abandoned streams charged, and what the
access log and the metrics say about every try."""
import json
import socket
import struct
import time

import dp_util as du
import mm
from sse_util import TERMINATOR, dechunk, events, raw, split, texts

KEY = "key-failures-0123456789"
P = "/api/1.0" + du.CHAT
AUTH = {"Authorization": "Bearer " + KEY}


def start(mock, policies, endpoints=None, workers=1, timeout_ms=60000):
    eps = endpoints or [du.endpoint("e1", mock.url + "/v1", name="primary", timeout_ms=timeout_ms),
                        du.endpoint("e2", mock.url + "/v1", name="fallback", timeout_ms=timeout_ms)]
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, policies, name="chat")],
                                        [du.key("k1", KEY)]))
    return mm.DataPlane(config=cfg, workers=workers)


def fo(request_timeout_ms=30000, suspend_s=60, **routing):
    """gpt-4o on "primary", falling back to gpt-4o-mini on "fallback"."""
    p = du.failover("f1", du.target("gpt-4o", "e1"), [du.target("gpt-4o-mini", "e2")],
                    request_timeout_ms=request_timeout_ms, suspend_s=suspend_s)
    p.update(routing)
    return p


def rr(**routing):
    p = du.wrr("p1", [du.target("gpt-4o", "e1"), du.target("gpt-4o-mini", "e2")], weighted=False)
    p.update(routing)
    return p


def asked(mock):
    """(model, receivedAtMs) of each upstream request, in order."""
    return [(i["model"], i["receivedAtMs"]) for i in du.mock_requests(mock)]


def entry(dp, rid):
    return du.wait_logged(dp, lambda a: a.get("id") == rid, what="the access-log line of " + rid)


def tries(a):
    return [(t["model"], t["endpoint"], t["outcome"]) for t in a["tries"]]


def suspended(dp, model):
    return du.metric_value(dp.metrics(), "modelmux_target_suspended", model=model)


def tries_metric(dp, outcome, **labels):
    return du.metric_value(dp.metrics(), "modelmux_tries_total", outcome=outcome, **labels) or 0


# --- which failures do what (3.1 step 4) ----------------------------------------

def test_500_once_is_retried_on_the_same_target_after_a_jittered_pause(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 500, "count": 1}])
    dp = start(mock, [fo(retries=1)])
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200, r.text
    assert r.headers["x-modelmux-model"] == "gpt-4o"
    assert r.headers["x-modelmux-endpoint"] == "primary"
    assert r.headers["x-modelmux-attempts"] == "2"
    seen = asked(mock)
    assert [m for m, _ in seen] == ["gpt-4o", "gpt-4o"]
    gap = seen[1][1] - seen[0][1]
    assert 90 <= gap <= 400 + 1500 * mm.SLOW, gap  # 100-400 ms of jitter
    assert suspended(dp, "gpt-4o") == 0  # the repeat answered: nothing suspended
    a = entry(dp, r.headers["x-request-id"])
    assert tries(a) == [("gpt-4o", "primary", "retried"), ("gpt-4o", "primary", "ok")]
    assert a["requestedModel"] == "gpt-4o" and a["model"] == "gpt-4o" and a["attempts"] == 2
    assert tries_metric(dp, "retried", model="gpt-4o", endpoint="primary") == 1
    assert tries_metric(dp, "ok", model="gpt-4o", endpoint="primary") == 1


def test_retries_used_up_then_the_fallback_and_the_target_suspended(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 503}])
    dp = start(mock, [fo(retries=2)])
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o-mini", r.text
    assert r.headers["x-modelmux-attempts"] == "4"
    assert [m for m, _ in asked(mock)] == ["gpt-4o"] * 3 + ["gpt-4o-mini"]
    a = entry(dp, r.headers["x-request-id"])
    assert [t[2] for t in tries(a)] == ["retried", "retried", "failed", "ok"]
    assert suspended(dp, "gpt-4o") == 1


def test_reset_before_headers_is_retried(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "reset": True, "count": 1}])
    dp = start(mock, [fo(retries=1)])
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o", r.text
    assert [m for m, _ in asked(mock)] == ["gpt-4o", "gpt-4o"]
    # curl may itself re-send on a fresh connection after a reset of a reused
    # one: such sends are counted as tries too, so the header matches the mock
    assert r.headers["x-modelmux-attempts"] == "2"


def test_defaults_never_repeat(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 500, "count": 1}])
    dp = start(mock, [fo()])
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o-mini"
    assert [m for m, _ in asked(mock)] == ["gpt-4o", "gpt-4o-mini"]


def test_timeouts_are_never_repeated_on_the_same_target(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "hang": True}])
    dp = start(mock, [fo(request_timeout_ms=400, retries=3)])
    t0 = time.time()
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o-mini", r.text
    assert time.time() - t0 < 3 * mm.SLOW
    assert [m for m, _ in asked(mock)] == ["gpt-4o", "gpt-4o-mini"]
    a = entry(dp, r.headers["x-request-id"])
    assert [t[2] for t in tries(a)] == ["timeout", "ok"]
    assert tries_metric(dp, "timeout", model="gpt-4o") == 1
    assert suspended(dp, "gpt-4o") == 1


def test_short_retry_after_is_waited_out_once(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 429, "retryAfter": "1", "count": 1}])
    dp = start(mock, [fo(maxRetryAfterWaitSec=5)])
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o", r.text
    assert r.headers["x-modelmux-attempts"] == "2"
    seen = asked(mock)
    assert [m for m, _ in seen] == ["gpt-4o", "gpt-4o"]
    assert 950 <= seen[1][1] - seen[0][1] <= 1000 + 2000 * mm.SLOW
    assert suspended(dp, "gpt-4o") == 0
    # a worker waiting out a Retry-After still serves others meanwhile
    du.mock_clear(mock)
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 429, "retryAfter": "2"}])
    import threading
    slow = {}
    th = threading.Thread(target=lambda: slow.setdefault("r", du.chat(dp, KEY, model="gpt-4o")))
    th.start()
    time.sleep(0.3)
    t0 = time.time()
    quick = du.chat(dp, KEY, model="gpt-4o-mini")  # another policy model: direct
    assert quick.status == 200 and time.time() - t0 < 1.0 * mm.SLOW
    th.join()
    # the 429 came twice: waited once, then the fallback; the target suspended
    assert slow["r"].status == 200 and slow["r"].headers["x-modelmux-model"] == "gpt-4o-mini"
    assert slow["r"].headers["x-modelmux-attempts"] == "3"
    assert suspended(dp, "gpt-4o") == 1


def test_long_retry_after_moves_on(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 429, "retryAfter": "10", "count": 1}])
    dp = start(mock, [fo(maxRetryAfterWaitSec=5)])
    t0 = time.time()
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o-mini"
    assert time.time() - t0 < 2 * mm.SLOW
    assert suspended(dp, "gpt-4o") == 1


def test_4xx_moves_on_without_suspending_and_rr_moves_on(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 401}])
    dp = start(mock, [rr()])
    for _ in range(4):
        r = du.chat(dp, KEY, model="gpt-4o")
        assert r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o-mini", r.text
    assert suspended(dp, "gpt-4o") == 0
    # every other request tried gpt-4o first (round robin), none skipped it
    assert [m for m, _ in asked(mock)].count("gpt-4o") == 2


def test_rr_moves_on_after_a_500_and_suspends(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 500}])
    dp = start(mock, [rr()])
    got = [du.chat(dp, KEY, model="gpt-4o") for _ in range(3)]
    assert all(r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o-mini" for r in got)
    assert [m for m, _ in asked(mock)].count("gpt-4o") == 1  # suspended after one try
    assert suspended(dp, "gpt-4o") == 1


def test_context_length_moves_on_content_policy_is_final(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "errorCode": "context_length_exceeded", "count": 1},
                          {"model": "gpt-4o", "errorCode": "content_policy_violation", "count": 1}])
    dp = start(mock, [fo(retries=1)])
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o-mini", r.text
    assert suspended(dp, "gpt-4o") == 0
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 400
    assert r.json()["error"]["code"] == "content_policy_violation"
    assert r.headers["x-modelmux-attempts"] == "1"
    assert [m for m, _ in asked(mock)] == ["gpt-4o", "gpt-4o-mini", "gpt-4o"]


# --- deadlines ---------------------------------------------------------------------

def stream_body(model="gpt-4o", **extra):
    b = {"model": model, "stream": True, "messages": [{"role": "user", "content": "hello"}]}
    b.update(extra)
    return b


def test_endpoint_timeout_is_between_reads_not_a_total(mock):
    # 8 chunks 300 ms apart: 2.4 s in all, with a 1.5 s endpoint timeout
    # (both scaled for sanitizer builds: the margin between reads stays wide)
    du.mock_faults(mock, [{"chunks": 8, "chunkDelayMs": int(300 * mm.SLOW)}])
    dp = start(mock, [], timeout_ms=int(1500 * mm.SLOW))
    out, _, _ = raw(dp.port, stream_body(), path=P, headers=AUTH)
    status, _, payload = split(out)
    body, terminated = dechunk(payload)
    assert status == 200 and terminated
    assert events(body)[-1] == b"[DONE]"
    # a gap longer than the timeout breaks the stream
    du.mock_faults(mock, [{"chunks": 4, "stallAfterChunks": 2, "stallMs": int(6000 * mm.SLOW)}])
    t0 = time.time()
    out, _, _ = raw(dp.port, stream_body(), path=P, headers=AUTH)
    assert time.time() - t0 < 4.5 * mm.SLOW
    status, _, payload = split(out)
    body, terminated = dechunk(payload)
    assert status == 200 and not terminated
    assert json.loads(events(body)[-1])["error"]["code"] == "stream_interrupted"


def test_first_token_deadline_moves_on_before_anything_is_sent(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "firstChunkDelayMs": 3000}])
    dp = start(mock, [fo(firstTokenTimeoutMs=500)])
    t0 = time.time()
    out, _, _ = raw(dp.port, stream_body(), path=P, headers=AUTH)
    took = time.time() - t0
    status, head, payload = split(out)
    body, terminated = dechunk(payload)
    assert status == 200 and terminated
    assert "x-modelmux-model: gpt-4o-mini" in head.lower()
    assert "x-modelmux-attempts: 2" in head.lower()
    assert "mock reply from m1 for gpt-4o-mini" == texts(events(body))
    assert took < 2.5 * mm.SLOW
    assert suspended(dp, "gpt-4o") == 1
    m = dp.metrics()
    assert du.metric_value(m, "modelmux_time_to_first_token_seconds_count", model="gpt-4o-mini") == 1
    assert tries_metric(dp, "timeout", model="gpt-4o") == 1


def test_error_before_the_first_event_moves_on(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "resetAfterChunks": 0}])
    dp = start(mock, [fo()])
    out, _, _ = raw(dp.port, stream_body(), path=P, headers=AUTH)
    status, head, payload = split(out)
    body, terminated = dechunk(payload)
    assert status == 200 and terminated
    assert "x-modelmux-model: gpt-4o-mini" in head.lower()
    assert texts(events(body)) == "mock reply from m1 for gpt-4o-mini"


# --- broken streams (3.1 step 6) -------------------------------------------------------

INTERRUPTED = {"type": "upstream_error", "code": "stream_interrupted"}


def broken(dp, mock, rule, message, routing=None):
    """Runs a stream whose primary breaks by rule; checks the bytes the
    caller got and returns the access-log entry."""
    du.mock_faults(mock, [dict(rule, model="gpt-4o", chunks=6)])
    out, _, err = raw(dp.port, stream_body(), path=P, headers=AUTH)
    status, head, payload = split(out)
    assert status == 200
    body, terminated = dechunk(payload)
    assert not terminated and not out.endswith(TERMINATOR), out[-80:]
    evs = events(body)
    assert b"[DONE]" not in evs
    last = json.loads(evs[-1])["error"]
    assert {k: last[k] for k in ("type", "code")} == INTERRUPTED
    assert message in last["message"], last
    # the two content events before the break reached the caller whole
    assert texts(evs[:-1]) == "".join(texts([e]) for e in evs[:2])
    assert len(evs) == 3
    rid = [l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.lower().startswith("x-request-id")][0]
    a = entry(dp, rid)
    assert a.get("streamError") is True and "clientAborted" not in a, a
    return a


def test_stream_cut_ends_with_stream_interrupted_and_no_terminator(mock):
    dp = start(mock, [fo()])
    a = broken(dp, mock, {"resetAfterChunks": 2}, "closed the stream")
    assert [t[2] for t in tries(a)] == ["failed"]
    assert du.metric_value(dp.metrics(), "modelmux_stream_breaks_total", endpoint="primary") == 1


def test_stream_idle_longer_than_stream_idle_timeout(mock):
    dp = start(mock, [fo(streamIdleTimeoutMs=400)])
    t0 = time.time()
    a = broken(dp, mock, {"stallAfterChunks": 2, "stallMs": 5000}, "stalled")
    assert time.time() - t0 < 3 * mm.SLOW
    assert [t[2] for t in tries(a)] == ["timeout"]


def test_upstream_error_event_is_replaced_by_stream_interrupted(mock):
    dp = start(mock, [fo()])
    # the upstream's own error event is not relayed; its message is carried
    broken(dp, mock, {"errorAfterChunks": 2}, "The server had an error while processing your request.")


def test_clean_end_without_done_is_complete(mock):
    du.mock_faults(mock, [{"noDone": True}])
    dp = start(mock, [fo()])
    out, _, _ = raw(dp.port, stream_body(), path=P, headers=AUTH)
    body, terminated = dechunk(split(out)[2])
    assert terminated and texts(events(body)) == "mock reply from m1 for gpt-4o"


# --- abandoned streams are charged (3.1 step 6) ------------------------------------------

def test_a_client_leaving_early_is_charged_the_estimate(mock):
    du.mock_faults(mock, [{"chunks": 4, "chunkDelayMs": 400}])
    eps = [du.endpoint("e1", mock.url + "/v1", name="primary")]
    dp = start(mock, [du.ratelimit("rl", totalTokens=100)], endpoints=eps)
    long_prompt = "x" * 600  # ~150 tokens by the estimate: over the limit at once
    s = du.Stream(dp.port, P, stream_body(messages=[{"role": "user", "content": long_prompt}]), KEY)
    got = []
    for _, p in s.events():
        got.append(p)
        if len(got) == 2:
            break
    s.close()
    a = du.wait_logged(dp, lambda a: a.get("path") == P and a.get("clientAborted"))
    assert a["tokensEstimated"] is True
    assert a["promptTokens"] >= 150 and a["completionTokens"] >= 1, a
    r = du.chat(dp, KEY)
    assert r.status == 429, r.text  # the limit was charged


# --- mid-stream continuation (midStreamFailover "continue") ----------------------------

TEXT = "The quick brown fox jumps over the lazy dog, and then it runs far away."


def continued(dp, body=None, path=P):
    out, _, _ = raw(dp.port, body or stream_body(), path=path, headers=AUTH)
    status, head, payload = split(out)
    body, terminated = dechunk(payload)
    return status, head.lower(), events(body), terminated


def test_broken_stream_continues_on_the_next_target_as_one_stream(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "text": TEXT, "chunks": 6, "resetAfterChunks": 2},
                          {"model": "gpt-4o-mini", "text": TEXT, "continuation": True, "chunks": 3}])
    dp = start(mock, [fo(midStreamFailover="continue")])
    status, head, evs, terminated = continued(dp)
    assert status == 200 and terminated
    assert evs[-1] == b"[DONE]"
    assert texts(evs) == TEXT
    ids = {json.loads(e)["id"] for e in evs if e != b"[DONE]"}
    assert len(ids) == 1, ids  # one stream, the original id
    assert "x-modelmux-attempts: 1" in head
    reqs = du.mock_requests(mock)
    assert [i["model"] for i in reqs] == ["gpt-4o", "gpt-4o-mini"]
    sent = texts(evs[:2])
    assert reqs[1]["json"]["messages"][-1] == {"role": "assistant", "content": sent}
    assert reqs[1]["json"]["messages"][:-1] == reqs[0]["json"]["messages"]
    rid = [l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.startswith("x-request-id")][0]
    a = entry(dp, rid)
    assert tries(a) == [("gpt-4o", "primary", "continued"), ("gpt-4o-mini", "fallback", "ok")]
    assert "streamError" not in a and a["requestedModel"] == "gpt-4o" and a["model"] == "gpt-4o-mini"
    assert tries_metric(dp, "continued", model="gpt-4o") == 1
    assert du.metric_value(dp.metrics(), "modelmux_stream_breaks_total", endpoint="primary") == 1


def test_a_target_refusing_the_assistant_message_is_asked_without_it(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "text": TEXT, "chunks": 5, "errorAfterChunks": 3},
                          {"model": "gpt-4o-mini", "text": TEXT, "refuseTrailingAssistant": True,
                           "chunks": 7}])
    dp = start(mock, [fo(midStreamFailover="continue")])
    status, _, evs, terminated = continued(dp)
    assert status == 200 and terminated and evs[-1] == b"[DONE]"
    assert texts(evs) == TEXT  # the repeated beginning is not relayed twice
    reqs = du.mock_requests(mock)
    assert [i["model"] for i in reqs] == ["gpt-4o", "gpt-4o-mini", "gpt-4o-mini"]
    assert reqs[1]["json"]["messages"][-1]["role"] == "assistant"
    assert reqs[2]["json"]["messages"] == reqs[0]["json"]["messages"]
    assert not any(b"invalid_request_error" in e for e in evs)  # its 400 never reaches the caller


def test_an_answer_not_repeating_the_text_ends_with_stream_interrupted(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "text": TEXT, "chunks": 5, "resetAfterChunks": 2},
                          {"model": "gpt-4o-mini", "text": "Something else entirely.",
                           "refuseTrailingAssistant": True}])
    dp = start(mock, [fo(midStreamFailover="continue")])
    status, _, evs, terminated = continued(dp)
    assert status == 200 and not terminated
    err = json.loads(evs[-1])["error"]
    assert err["code"] == "stream_interrupted" and "closed the stream" in err["message"]
    assert "Something" not in texts(evs[:-1])


def test_no_continuation_outside_chat_or_without_the_option(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "chunks": 5, "resetAfterChunks": 2}])
    dp = start(mock, [fo(midStreamFailover="continue")])
    body = {"model": "gpt-4o", "stream": True, "prompt": "hello"}
    status, _, evs, terminated = continued(dp, body, path="/api/1.0/completions")
    assert status == 200 and not terminated
    assert json.loads(evs[-1])["error"]["code"] == "stream_interrupted"
    assert [i["model"] for i in du.mock_requests(mock)] == ["gpt-4o"]
    dp.stop()
    du.mock_clear(mock)
    dp = start(mock, [fo()])
    status, _, evs, terminated = continued(dp)
    assert not terminated and json.loads(evs[-1])["error"]["code"] == "stream_interrupted"
    assert [i["model"] for i in du.mock_requests(mock)] == ["gpt-4o"]


# --- curl's silent re-send on a reset reused connection --------------------------------

class ResetOnReuse:
    """An upstream that answers the first request of each connection and,
    when a second one comes on the same (kept-alive) connection, resets it
    without answering: libcurl then sends the request again on a fresh
    connection by itself."""

    def __init__(self):
        import threading
        self.lock = threading.Lock()
        self.requests = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d/v1" % self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _read_request(self, c):
        data = b""
        while b"\r\n\r\n" not in data:
            b = c.recv(65536)
            if not b:
                return False
            data += b
        head, _, body = data.partition(b"\r\n\r\n")
        n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")]
        while n and len(body) < n[0]:
            body += c.recv(65536)
        with self.lock:
            self.requests += 1
        return True

    def _conn(self, c):
        out = json.dumps({"object": "chat.completion", "model": "gpt-4o", "choices": [],
                          "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}).encode()
        with c:
            if not self._read_request(c):
                return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(out), out))
            if self._read_request(c):  # the reused connection: reset it, no answer
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self):
        self.sock.close()


def test_curl_resend_on_a_reset_reused_connection_counts_as_a_try(mock):
    up = ResetOnReuse()
    try:
        eps = [du.endpoint("e1", up.url, name="resetting")]
        dp = start(mock, [], endpoints=eps)
        r = du.chat(dp, KEY)
        assert r.status == 200 and r.headers["x-modelmux-attempts"] == "1"
        r = du.chat(dp, KEY)  # curl reuses the connection, is reset, sends again
        assert r.status == 200, r.text
        assert up.requests == 3
        assert r.headers["x-modelmux-attempts"] == "2"  # every request the upstream saw
        a = entry(dp, r.headers["x-request-id"])
        assert [t[2] for t in tries(a)] == ["retried", "ok"] and a["attempts"] == 2
    finally:
        up.close()


def test_a_continuation_that_cannot_connect_moves_to_the_next_target_with_the_text(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "text": TEXT, "chunks": 6, "resetAfterChunks": 2},
                          {"model": "o1-mini", "text": TEXT, "continuation": True, "chunks": 3}])
    eps = [du.endpoint("e1", mock.url + "/v1", name="primary"),
           du.endpoint("e2", "http://127.0.0.1:%d/v1" % mm.free_port(), name="down"),
           du.endpoint("e3", mock.url + "/v1", name="third")]
    pol = du.failover("f1", du.target("gpt-4o", "e1"),
                      [du.target("gpt-4o-mini", "e2"), du.target("o1-mini", "e3")])
    pol["midStreamFailover"] = "continue"
    dp = start(mock, [pol], endpoints=eps)
    status, head, evs, terminated = continued(dp)
    assert status == 200 and terminated and evs[-1] == b"[DONE]"
    assert texts(evs) == TEXT
    reqs = du.mock_requests(mock)
    assert [i["model"] for i in reqs] == ["gpt-4o", "o1-mini"]
    assert reqs[1]["json"]["messages"][-1] == {"role": "assistant", "content": texts(evs[:2])}
    rid = [l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.startswith("x-request-id")][0]
    assert [t[2] for t in tries(entry(dp, rid))] == ["continued", "failed", "ok"]
