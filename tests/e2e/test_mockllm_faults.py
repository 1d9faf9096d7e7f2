"""End-to-end tests of the failure-handling faults of tests/mockllm (issue
12): the real mock on a free port, driven over raw sockets so the bytes on
the wire (chunked terminator or not, reset or FIN) are asserted exactly.
See tests/mockllm/README.md, "Fault rules"."""
import json
import socket
import time

import mm
from sse_util import CHAT, TERMINATOR, dechunk, events, raw, split, texts


def faults(m, rules):
    r = mm.request(m.port, "POST", "/__mock/faults", body={"rules": rules})
    assert r.status == 200, r.text
    return r.json()


def log(m):
    r = mm.request(m.port, "GET", "/__mock/requests")
    assert r.status == 200
    return r.json()["items"]


def stats(m):
    return mm.request(m.port, "GET", "/__mock/stats").json()


def stream(model, **extra):
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    body.update(extra)
    return body


def test_status_once_first_n_and_retry_after(mock):
    faults(mock, [{"model": "a", "status": 503, "count": 2, "retryAfter": 3},
                  {"model": "b", "status": 429, "count": 1}])
    got = [mm.request(mock.port, "POST", CHAT, body=stream("a", stream=False)) for _ in range(3)]
    assert [r.status for r in got] == [503, 503, 200]
    assert got[0].headers["retry-after"] == "3"
    assert got[0].json()["error"]["type"] == "server_error"
    got = [mm.request(mock.port, "POST", CHAT, body=stream("b", stream=False)) for _ in range(2)]
    assert [r.status for r in got] == [429, 200]
    assert [e["model"] for e in log(mock)] == ["a", "a", "a", "b", "b"]


def test_reset_before_headers_is_an_rst(mock):
    faults(mock, [{"reset": True}])
    out, _, err = raw(mock.port, stream("a"))
    assert out == b""
    assert isinstance(err, ConnectionResetError)
    assert len(log(mock)) == 1
    assert stats(mock)["cancelled"] == 0


def test_hang_holds_until_the_client_leaves(mock):
    faults(mock, [{"model": "a", "hang": True}])
    s = socket.create_connection(("127.0.0.1", mock.port), timeout=1.0)
    data = json.dumps(stream("a")).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: m\r\nContent-Length: %d\r\n\r\n%s"
              % (len(data), data))
    try:
        assert s.recv(100) == b"", "the hang fault answered"
        raise AssertionError("the hang fault closed the connection")
    except socket.timeout:
        pass
    assert stats(mock)["active"] == 1
    s.close()
    deadline = time.monotonic() + 10
    while stats(mock)["active"] != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stats(mock) == {"requests": 1, "active": 0, "cancelled": 1}


def test_headers_at_once_first_event_later(mock):
    faults(mock, [{"firstChunkDelayMs": 800, "chunks": 2}])
    out, reads, err = raw(mock.port, stream("a"))
    assert err is None
    status, head, payload = split(out)
    assert status == 200 and "text/event-stream" in head
    assert b"\r\n\r\n" in reads[0][1] and b"data:" not in reads[0][1]
    first_event = next(t for t, b in reads if b"data:" in b)
    assert first_event - reads[0][0] >= 0.7
    body, terminated = dechunk(payload)
    assert terminated and texts(events(body)) == "mock reply from m1 for a"


def test_abrupt_close_after_n_events_has_no_terminator(mock):
    faults(mock, [{"resetAfterChunks": 2, "chunks": 5}])
    out, _, _ = raw(mock.port, stream("a"))
    status, _, payload = split(out)
    body, terminated = dechunk(payload)
    assert status == 200 and not terminated and not payload.endswith(TERMINATOR)
    assert len(events(body)) == 2 and b"[DONE]" not in body


def test_stall_then_continue(mock):
    faults(mock, [{"stallAfterChunks": 2, "stallMs": 900, "chunks": 4}])
    out, reads, err = raw(mock.port, stream("a"))
    assert err is None
    body, terminated = dechunk(split(out)[2])
    assert terminated and events(body)[-1] == b"[DONE]"
    assert texts(events(body)) == "mock reply from m1 for a"
    # the biggest gap between two reads is the stall
    gaps = [b[0] - a[0] for a, b in zip(reads, reads[1:])]
    assert max(gaps) >= 0.8


def test_stall_then_close(mock):
    faults(mock, [{"stallAfterChunks": 1, "stallMs": 600, "stallThen": "close", "chunks": 4}])
    t0 = time.monotonic()
    out, _, _ = raw(mock.port, stream("a"))
    assert time.monotonic() - t0 >= 0.5
    body, terminated = dechunk(split(out)[2])
    assert not terminated and len(events(body)) == 1


def test_error_event_mid_stream(mock):
    faults(mock, [{"errorAfterChunks": 2, "chunks": 5}])
    out, _, _ = raw(mock.port, stream("a"))
    body, terminated = dechunk(split(out)[2])
    evs = events(body)
    assert terminated and len(evs) == 3 and b"[DONE]" not in body
    err = json.loads(evs[2])["error"]
    assert err["type"] == "server_error" and err["message"]


def test_malformed_event_then_the_rest(mock):
    faults(mock, [{"malformedAfterChunks": 1, "chunks": 3}])
    out, _, _ = raw(mock.port, stream("a"))
    body, terminated = dechunk(split(out)[2])
    evs = events(body)
    assert terminated and len(evs) == 5 and evs[-1] == b"[DONE]"
    try:
        json.loads(evs[1])
        raise AssertionError("the malformed event parsed")
    except ValueError:
        pass
    assert texts([e for i, e in enumerate(evs) if i != 1]) == "mock reply from m1 for a"


def test_clean_end_without_done(mock):
    faults(mock, [{"noDone": True, "chunks": 3}])
    out, _, _ = raw(mock.port, stream("a", stream_options={"include_usage": True}))
    body, terminated = dechunk(split(out)[2])
    evs = events(body)
    assert terminated and b"[DONE]" not in body and len(evs) == 4
    assert json.loads(evs[-1])["usage"]["total_tokens"] == 30


def test_error_codes_as_openai_sends_them(mock):
    faults(mock, [{"model": "small", "errorCode": "context_length_exceeded"},
                  {"model": "safe", "errorCode": "content_policy_violation"}])
    r = mm.request(mock.port, "POST", CHAT, body=stream("small"))
    assert r.status == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"
    assert r.json()["error"]["param"] == "messages"
    assert r.json()["error"]["type"] == "invalid_request_error"
    r = mm.request(mock.port, "POST", CHAT, body=stream("safe"))
    assert r.status == 400 and r.json()["error"]["code"] == "content_policy_violation"
    assert mm.request(mock.port, "POST", CHAT, body=stream("other")).status == 200


def test_trailing_assistant_refused(mock):
    faults(mock, [{"refuseTrailingAssistant": True}])
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "mock"}]
    r = mm.request(mock.port, "POST", CHAT, body={"model": "a", "messages": msgs})
    assert r.status == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = mm.request(mock.port, "POST", CHAT, body={"model": "a", "messages": msgs[:1]})
    assert r.status == 200


def test_continuation_answers_only_the_rest(mock):
    text = "The quick brown fox jumps over the lazy dog."
    faults(mock, [{"continuation": True, "text": text, "chunks": 3}])
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "The quick brown"}]
    r = mm.request(mock.port, "POST", CHAT, body={"model": "a", "messages": msgs})
    assert r.json()["choices"][0]["message"]["content"] == " fox jumps over the lazy dog."
    out, _, _ = raw(mock.port, {"model": "a", "stream": True, "messages": msgs})
    body, terminated = dechunk(split(out)[2])
    assert terminated and texts(events(body)) == " fox jumps over the lazy dog."
    msgs[1]["content"] = "Something else"
    r = mm.request(mock.port, "POST", CHAT, body={"model": "a", "messages": msgs})
    assert r.json()["choices"][0]["message"]["content"] == text
    r = mm.request(mock.port, "POST", CHAT, body={"model": "a", "messages": msgs[:1]})
    assert r.json()["choices"][0]["message"]["content"] == text


def test_flapping_target(mock):
    t0 = time.monotonic()
    faults(mock, [{"model": "a", "failForMs": 1500, "retryAfter": 1}])
    r = mm.request(mock.port, "POST", CHAT, body=stream("a", stream=False))
    if time.monotonic() - t0 < 1.4:  # a loaded machine may take longer
        assert r.status == 503 and r.headers["retry-after"] == "1"
    time.sleep(max(0.0, 1.6 - (time.monotonic() - t0)))
    r = mm.request(mock.port, "POST", CHAT, body=stream("a", stream=False))
    assert r.status == 200


def test_requests_recorded_in_order_with_time(mock):
    faults(mock, [{"model": "a", "reset": True}, {"model": "b", "status": 500}])
    before = time.time() * 1000
    raw(mock.port, stream("a"))
    time.sleep(0.3)
    mm.request(mock.port, "POST", CHAT, body=stream("b"))
    items = log(mock)
    assert [i["model"] for i in items] == ["a", "b"]
    assert before - 1000 <= items[0]["receivedAtMs"] <= items[1]["receivedAtMs"] - 250
    assert items[1]["receivedAtMs"] <= time.time() * 1000 + 1000
