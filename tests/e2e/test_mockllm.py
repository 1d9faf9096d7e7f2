"""End-to-end tests of tests/mockllm (the mock OpenAI upstream): the real
binary on a free port, driven over real sockets. See tests/mockllm/README.md."""
import http.client
import json
import os
import selectors
import signal
import socket
import subprocess
import time

import pytest

import mm

CHAT = "/v1/chat/completions"


def post(m, path, body, headers=None, timeout=30.0):
    return mm.request(m.port, "POST", path, body=body, headers=headers, timeout=timeout)


def faults(m, rules):
    r = post(m, "/__mock/faults", {"rules": rules})
    assert r.status == 200, r.text
    return r.json()


def requests_log(m, limit=None):
    path = "/__mock/requests" + ("?limit=%d" % limit if limit else "")
    r = mm.request(m.port, "GET", path)
    assert r.status == 200
    return r.json()["items"]


def stats(m):
    r = mm.request(m.port, "GET", "/__mock/stats")
    assert r.status == 200
    return r.json()


def multipart(fields, files=()):
    boundary = "----mmtestboundary7MA4YWxkTrZu0gW"
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" % (boundary, name)).encode()
        out += value.encode() if isinstance(value, str) else value
        out += b"\r\n"
    for name, filename, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name, filename)).encode()
        out += data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return out, "multipart/form-data; boundary=%s" % boundary


def Stream(port, body, path=CHAT):
    return mm.EventStream(port, path, body)


def read_stream(port, body, path=CHAT):
    s = Stream(port, body, path)
    try:
        assert s.resp.status == 200
        assert s.resp.getheader("Content-Type") == "text/event-stream"
        return [p for _, p in s.events()]
    finally:
        s.close()


# --- model echo and shapes --------------------------------------------------

def test_chat_echoes_model_with_usage_and_headers(mock):
    r = post(mock, CHAT, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-mock-name"] == "m1"
    assert r.headers["x-mock-model"] == "gpt-4o"
    doc = r.json()
    assert doc["object"] == "chat.completion"
    assert doc["id"].startswith("chatcmpl-mock-")
    assert doc["model"] == "gpt-4o"
    assert doc["choices"][0]["message"] == {"role": "assistant", "content": "mock reply from m1 for gpt-4o"}
    assert doc["choices"][0]["finish_reason"] == "stop"
    assert doc["usage"] == {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}


def test_any_prefix_and_each_operation(mock):
    r = post(mock, "/some/prefix/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "x"})
    assert r.status == 200
    assert r.json()["object"] == "text_completion"
    assert r.json()["choices"][0]["text"] == "mock reply from m1 for gpt-3.5-turbo-instruct"
    r = post(mock, "/embeddings", {"model": "text-embedding-3-small", "input": "x"})
    assert r.status == 200
    doc = r.json()
    assert doc["model"] == "text-embedding-3-small" and doc["object"] == "list"
    assert len(doc["data"][0]["embedding"]) > 0
    assert doc["usage"] == {"prompt_tokens": 10, "total_tokens": 10}
    r = post(mock, "/v1/images/generations/", {"model": "dall-e-3", "prompt": "a cat"})
    assert r.status == 200
    assert r.json()["model"] == "dall-e-3" and r.json()["data"][0]["url"]


def test_azure_deployment_path_gives_the_model(mock):
    r = post(mock, "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-02-01",
             {"messages": [{"role": "user", "content": "hi"}]})
    assert r.status == 200, r.text
    assert r.json()["model"] == "my-gpt4o"
    assert r.headers["x-mock-model"] == "my-gpt4o"
    # the path wins over a body model (what the gateway routed to)
    r = post(mock, "/openai/deployments/dep-b/embeddings", {"model": "other", "input": "x"})
    assert r.json()["model"] == "dep-b"
    assert requests_log(mock, 1)[0]["model"] == "dep-b"


@pytest.mark.parametrize("op", ["transcriptions", "translations"])
def test_multipart_model_field(mock, op):
    audio = bytes(range(256)) * 64 + b"\r\n--not-the-boundary\r\n"
    body, ctype = multipart([("model", "whisper-1"), ("language", "en")], [("file", "a.wav", audio)])
    r = post(mock, "/v1/audio/" + op, body, headers={"Content-Type": ctype})
    assert r.status == 200, r.text
    doc = r.json()
    assert doc["model"] == "whisper-1"
    assert doc["text"].endswith("from m1 for whisper-1")
    rec = requests_log(mock, 1)[0]
    assert rec["model"] == "whisper-1"
    assert rec["bodyLength"] == len(body)
    assert rec["json"] is None
    # the model field may come after the file part
    body2, ctype2 = multipart([("prompt", "p")], [("file", "a.wav", audio)])
    body2 = body2[: -len(b"--\r\n")] + b"\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nw-late\r\n" \
        + ("--%s--\r\n" % ctype2.split("boundary=")[1]).encode()
    r = post(mock, "/v1/audio/" + op, body2, headers={"Content-Type": ctype2})
    assert r.status == 200, r.text
    assert r.json()["model"] == "w-late"


def test_multipart_without_model_or_boundary_is_400(mock):
    body, ctype = multipart([("language", "en")], [("file", "a.wav", b"\x00\x01")])
    r = post(mock, "/v1/audio/transcriptions", body, headers={"Content-Type": ctype})
    assert r.status == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    r = post(mock, "/v1/audio/transcriptions", body, headers={"Content-Type": "multipart/form-data"})
    assert r.status == 400
    # filename="model" is not the model field
    body, ctype = multipart([], [("file", "model", b"abc")])
    r = post(mock, "/v1/audio/transcriptions", body, headers={"Content-Type": ctype})
    assert r.status == 400


# --- streaming ----------------------------------------------------------------

def test_stream_without_usage(mock):
    events = read_stream(mock.port, {"model": "gpt-4o", "stream": True})
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert len(chunks) == 5
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert c["model"] == "gpt-4o"
        assert "usage" not in c
        assert len(c["choices"]) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "mock reply from m1 for gpt-4o"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_stream_with_include_usage(mock):
    events = read_stream(mock.port, {"model": "o1-mini", "stream": True,
                                     "stream_options": {"include_usage": True}})
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert len(chunks) == 6
    assert all(c["usage"] is None for c in chunks[:5])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}


def test_stream_completions_and_unicode_model(mock):
    events = read_stream(mock.port, {"model": "modèle-日本", "stream": True, "prompt": "x"},
                         path="/v1/completions")
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["object"] == "text_completion"
    assert "".join(c["choices"][0]["text"] for c in chunks) == "mock reply from m1 for modèle-日本"


def test_stream_chunks_arrive_one_at_a_time(mock):
    faults(mock, [{"chunkDelayMs": 200, "chunks": 5}])
    s = Stream(mock.port, {"model": "gpt-4o", "stream": True})
    times = [t for t, _ in s.events()]
    s.close()
    assert len(times) == 6  # 5 chunks + [DONE]
    assert times[0] < 0.5 * mm.SLOW
    assert times[4] - times[0] >= 0.75  # four gaps of 200 ms
    for a, b in zip(times[:4], times[1:5]):
        assert b - a >= 0.15


def test_stream_chunk_count_and_tokens_from_rule(mock):
    faults(mock, [{"chunks": 12, "promptTokens": 7, "completionTokens": 3}])
    events = read_stream(mock.port, {"model": "gpt-4o", "stream": True,
                                     "stream_options": {"include_usage": True}})
    assert len(events) == 12 + 2
    assert json.loads(events[-2])["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    r = post(mock, CHAT, {"model": "gpt-4o"})
    assert r.json()["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


# --- the Responses API, embeddings, images: as OpenAI answers them ------------

def embed_value(i, j):
    """Component j of the mock's vector for input i (tests/mockllm/README.md)."""
    v = (i + 1) / 8 + j / 1024
    return -v if j % 2 else v


def test_responses_json(mock):
    r = post(mock, "/v1/responses", {"model": "gpt-4o", "input": "hi", "instructions": "be brief"})
    assert r.status == 200, r.text
    doc = r.json()
    assert doc["object"] == "response" and doc["status"] == "completed" and doc["model"] == "gpt-4o"
    assert doc["id"].startswith("resp_")
    [msg] = doc["output"]
    assert msg["type"] == "message" and msg["role"] == "assistant" and msg["status"] == "completed"
    assert msg["content"] == [{"type": "output_text", "annotations": [], "logprobs": [],
                               "text": "mock reply from m1 for gpt-4o"}]
    assert doc["usage"] == {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
                            "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0},
                            "total_tokens": 30}


def read_sse(port, body, path):
    """[(event name, parsed data)] of a whole text/event-stream answer."""
    r = mm.request(port, "POST", path, body=body)
    assert r.status == 200, r.text
    assert r.headers["content-type"] == "text/event-stream"
    out = []
    for block in r.body.decode().split("\n\n"):
        if not block:
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines.get("event"), json.loads(lines["data"])))
    return out


def test_responses_stream_event_sequence(mock):
    faults(mock, [{"chunks": 3, "promptTokens": 4, "completionTokens": 6}])
    events = read_sse(mock.port, {"model": "o1-mini", "input": "hi", "stream": True}, "/v1/responses")
    names = [n for n, _ in events]
    assert names == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added"] + ["response.output_text.delta"] * 3 + [
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed"]
    for k, (name, data) in enumerate(events):
        assert data["type"] == name and data["sequence_number"] == k
    assert events[0][1]["response"]["status"] == "in_progress"
    assert events[0][1]["response"]["usage"] is None
    text = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert text == "mock reply from m1 for o1-mini" == events[7][1]["text"]
    assert {d["item_id"] for n, d in events[3:9]} == {events[2][1]["item"]["id"]}
    done = events[-1][1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == text
    assert done["usage"]["input_tokens"] == 4 and done["usage"]["output_tokens"] == 6
    assert done["usage"]["total_tokens"] == 10


def test_responses_stream_reset_before_the_end(mock):
    faults(mock, [{"resetAfterChunks": 2}])
    with pytest.raises(Exception):
        read_sse(mock.port, {"model": "gpt-4o", "input": "hi", "stream": True}, "/v1/responses")


def test_embeddings_one_vector_per_input_float_and_base64(mock):
    import base64
    import struct
    inputs = ["alpha", "beta", "gamma"]
    r = post(mock, "/v1/embeddings", {"model": "text-embedding-3-small", "input": inputs,
                                      "encoding_format": "float"})
    assert r.status == 200, r.text
    data = r.json()["data"]
    assert [d["index"] for d in data] == [0, 1, 2]
    assert [d["embedding"] for d in data] == [[embed_value(i, j) for j in range(8)] for i in range(3)]
    r = post(mock, "/v1/embeddings", {"model": "text-embedding-3-small", "input": inputs,
                                      "encoding_format": "base64", "dimensions": 5})
    assert r.status == 200, r.text
    for i, d in enumerate(r.json()["data"]):
        raw = base64.b64decode(d["embedding"])
        assert list(struct.unpack("<5f", raw)) == [embed_value(i, j) for j in range(5)]
    # a token array is one input, an array of token arrays one per element
    r = post(mock, "/v1/embeddings", {"model": "e", "input": [1, 2, 3]})
    assert len(r.json()["data"]) == 1
    r = post(mock, "/v1/embeddings", {"model": "e", "input": [[1, 2], [3]]})
    assert len(r.json()["data"]) == 2
    for bad in [{"input": []}, {"input": "x", "encoding_format": "hex"},
                {"input": "x", "dimensions": 0}, {"input": ["x"] * 2049},
                {"input": ["x"] * 1000, "dimensions": 3000}]:
        bad["model"] = "e"
        r = post(mock, "/v1/embeddings", bad)
        assert r.status == 400, bad
        assert r.json()["error"]["type"] == "invalid_request_error"


def test_images_url_or_b64_json(mock):
    r = post(mock, "/v1/images/generations", {"model": "dall-e-3", "prompt": "a cat", "n": 2})
    assert [sorted(d) for d in r.json()["data"]] == [["revised_prompt", "url"]] * 2
    r = post(mock, "/v1/images/generations", {"model": "dall-e-2", "prompt": "a cat",
                                              "response_format": "b64_json"})
    assert r.json()["data"][0]["b64_json"]
    r = post(mock, "/v1/images/generations", {"model": "gpt-image-1", "prompt": "a cat"})
    doc = r.json()
    assert doc["data"][0]["b64_json"] and doc["usage"]["total_tokens"] == 30
    assert post(mock, "/v1/images/generations", {"model": "x", "n": 11}).status == 400


# --- faults -------------------------------------------------------------------

def test_fault_status_always(mock):
    faults(mock, [{"status": 503}])
    for _ in range(3):
        r = post(mock, CHAT, {"model": "gpt-4o"})
        assert r.status == 503
        err = r.json()["error"]
        assert set(err) >= {"message", "type", "code"}
        assert r.headers["x-mock-model"] == "gpt-4o"


def test_fault_count_then_normal(mock):
    faults(mock, [{"status": 429, "count": 2}])
    got = [post(mock, CHAT, {"model": "gpt-4o"}).status for _ in range(4)]
    assert got == [429, 429, 200, 200]
    r = post(mock, CHAT, {"model": "gpt-4o"})
    assert r.json()["usage"]["total_tokens"] == 30


def test_fault_per_model_and_first_match(mock):
    faults(mock, [{"model": "gpt-4o", "status": 429, "count": 1},
                  {"model": "gpt-4o", "status": 500},
                  {"model": "o1-mini", "path": "/embeddings", "status": 404}])
    assert post(mock, CHAT, {"model": "o1-mini"}).status == 200
    assert post(mock, "/v1/embeddings", {"model": "o1-mini"}).status == 404
    assert post(mock, CHAT, {"model": "gpt-4o"}).status == 429
    assert post(mock, CHAT, {"model": "gpt-4o"}).status == 500
    assert post(mock, CHAT, {"model": "gpt-4o-mini"}).status == 200
    # Azure model from the path matches too
    assert post(mock, "/openai/deployments/gpt-4o/chat/completions", {}).status == 500


def test_fault_retry_after_and_ratelimit_headers(mock):
    faults(mock, [{"model": "gpt-4o", "status": 429, "retryAfter": "5",
                   "headers": {"x-ratelimit-remaining-requests": "0"}},
                  {"model": "o1-mini", "headers": {"x-ratelimit-remaining-tokens": "0",
                                                    "x-ratelimit-limit-tokens": 1000}}])
    r = post(mock, CHAT, {"model": "gpt-4o"})
    assert r.status == 429
    assert r.headers["retry-after"] == "5"
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    r = post(mock, CHAT, {"model": "o1-mini"})
    assert r.status == 200
    assert r.headers["x-ratelimit-remaining-tokens"] == "0"
    assert r.headers["x-ratelimit-limit-tokens"] == "1000"
    assert r.json()["model"] == "o1-mini"
    # headers on a stream too
    s = Stream(mock.port, {"model": "o1-mini", "stream": True})
    assert s.resp.getheader("x-ratelimit-remaining-tokens") == "0"
    assert [p for _, p in s.events()][-1] == "[DONE]"
    s.close()


def test_fault_delay_before_headers(mock):
    faults(mock, [{"model": "slow", "delayMs": 600}])
    t0 = time.time()
    r = post(mock, CHAT, {"model": "slow"})
    assert r.status == 200
    assert time.time() - t0 >= 0.55
    t0 = time.time()
    assert post(mock, CHAT, {"model": "fast"}).status == 200
    assert time.time() - t0 < 0.5 * mm.SLOW
    # a client that gives up while a response is delayed counts as cancelled
    with pytest.raises(socket.timeout):
        post(mock, CHAT, {"model": "slow"}, timeout=0.2 / mm.SLOW)
    mm.wait_until(lambda: stats(mock)["cancelled"] == 1, what="cancelled == 1")


def test_fault_reset_closes_without_response(mock):
    faults(mock, [{"reset": True, "count": 1}])
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        post(mock, CHAT, {"model": "gpt-4o"})
    assert post(mock, CHAT, {"model": "gpt-4o"}).status == 200
    # a reset the mock chose is not a cancellation
    assert stats(mock)["cancelled"] == 0


def test_fault_reset_after_chunks(mock):
    faults(mock, [{"resetAfterChunks": 2, "chunkDelayMs": 20}])
    s = Stream(mock.port, {"model": "gpt-4o", "stream": True})
    got = []
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError, ValueError)):
        for _, p in s.events():
            got.append(p)
        raise ValueError("stream ended cleanly")  # readline returned b"": premature end
    s.close()
    assert len(got) == 2
    assert "[DONE]" not in got
    assert stats(mock)["cancelled"] == 0


def test_fault_raw_body(mock):
    faults(mock, [{"status": 400, "body": "{\"error\":{\"message\":\"context_length_exceeded\"}}"},])
    r = post(mock, CHAT, {"model": "gpt-4o"})
    assert r.status == 400
    assert r.json() == {"error": {"message": "context_length_exceeded"}}
    faults(mock, [{"body": "not json at all"}])
    r = post(mock, CHAT, {"model": "gpt-4o"})
    assert r.status == 200 and r.body == b"not json at all"
    faults(mock, [{"body": "plain", "headers": {"Content-Type": "text/plain"}}])
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10 * mm.SLOW)
    conn.request("POST", CHAT, body=json.dumps({"model": "gpt-4o"}))
    resp = conn.getresponse()
    assert resp.read() == b"plain"
    assert [v for k, v in resp.getheaders() if k.lower() == "content-type"] == ["text/plain"]
    conn.close()


def test_faults_get_replace_delete(mock):
    rules = [{"model": "a", "status": 429}]
    assert faults(mock, rules) == {"rules": rules}
    assert mm.request(mock.port, "GET", "/__mock/faults").json() == {"rules": rules}
    faults(mock, [{"model": "b", "status": 500}])
    assert post(mock, CHAT, {"model": "a"}).status == 200
    assert post(mock, CHAT, {"model": "b"}).status == 500
    assert mm.request(mock.port, "DELETE", "/__mock/faults").status == 204
    assert mm.request(mock.port, "GET", "/__mock/faults").json() == {"rules": []}
    assert post(mock, CHAT, {"model": "b"}).status == 200


@pytest.mark.parametrize("body", [
    b"{", b"[]", b"{}", b'{"rules": {}}', b'{"rules": [1]}', b'{"rules": [], "x": 1}',
    b'{"rules": [{"statuss": 429}]}', b'{"rules": [{"status": "429"}]}', b'{"rules": [{"status": 99}]}',
    b'{"rules": [{"count": -1}]}', b'{"rules": [{"delayMs": 1e9}]}', b'{"rules": [{"reset": 1}]}',
    b'{"rules": [{"headers": {"bad name": "x"}}]}', b'{"rules": [{"headers": {"x-a": "a\\r\\nb: c"}}]}',
    b'{"rules": [{"headers": {"content-length": "5"}}]}', b'{"rules": [{"headers": []}]}',
    b'{"rules": [{"model": 5}]}', b'{"rules": [{"chunks": 0}]}',
])
def test_faults_refuse_bad_rules(mock, body):
    faults(mock, [{"status": 418 + 11}])
    r = post(mock, "/__mock/faults", body, headers={"Content-Type": "application/json"})
    assert r.status == 400, body
    assert r.json()["error"]["message"]
    # the previous rules stay
    assert post(mock, CHAT, {"model": "x"}).status == 429


# --- recording and stats ----------------------------------------------------------

def test_records_requests_and_clears(mock):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "héllo"}]}
    post(mock, "/v1/chat/completions", body, headers={"Authorization": "Bearer sk-upstream",
                                                      "X-Custom-Thing": "v1"})
    post(mock, "/nope", b"\xff\xfe raw", headers={"Content-Type": "application/octet-stream"})
    items = requests_log(mock)
    assert len(items) == 2
    a, b = items
    assert a["method"] == "POST" and a["path"] == "/v1/chat/completions"
    assert a["headers"]["authorization"] == "Bearer sk-upstream"
    assert a["headers"]["x-custom-thing"] == "v1"
    assert a["headers"]["content-type"] == "application/json"
    assert a["json"] == body
    assert json.loads(a["body"]) == body
    assert a["model"] == "gpt-4o"
    assert b["path"] == "/nope" and b["json"] is None and b["model"] is None
    assert b["body"].endswith(" raw")
    assert requests_log(mock, 1) == [b]
    assert stats(mock)["requests"] == 2
    assert mm.request(mock.port, "DELETE", "/__mock/requests").status == 204
    assert requests_log(mock) == []
    assert stats(mock)["requests"] == 0
    # control calls are not recorded
    mm.request(mock.port, "GET", "/__mock/health")
    assert requests_log(mock) == []


def test_record_keeps_one_mib_of_a_big_body(mock):
    big = {"model": "gpt-4o", "input": "x" * (3 * 1024 * 1024)}
    r = post(mock, "/v1/embeddings", big)
    assert r.status == 200 and r.json()["model"] == "gpt-4o"
    rec = requests_log(mock, 1)[0]
    assert rec["truncated"] is True
    assert len(rec["body"]) == 1024 * 1024
    assert rec["bodyLength"] > 3 * 1024 * 1024
    assert rec["model"] == "gpt-4o"


def test_stats_active_and_cancelled(mock):
    faults(mock, [{"chunkDelayMs": 300, "chunks": 20}])
    s = Stream(mock.port, {"model": "gpt-4o", "stream": True})
    first = next(s.events())
    assert json.loads(first[1])["model"] == "gpt-4o"
    st = stats(mock)
    assert st["active"] == 1 and st["cancelled"] == 0
    s.close()
    mm.wait_until(lambda: stats(mock)["cancelled"] == 1, what="cancelled == 1")
    assert stats(mock)["active"] == 0
    assert stats(mock)["requests"] == 1


def test_health_and_unknown_control_route(mock):
    r = mm.request(mock.port, "GET", "/__mock/health")
    assert r.status == 200 and r.json()["status"] == "ok"
    assert mm.request(mock.port, "GET", "/__mock/nothing").status == 404
    assert mm.request(mock.port, "PATCH", "/__mock/stats").status == 405
    assert mm.request(mock.port, "GET", "/__mock/requests?limit=abc").status == 400


# --- bad and hostile input ----------------------------------------------------------

@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"[1,2]", b"\"str\"", b"{}", b'{"model": 5}',
                                  b'{"model": ""}', b'{"model": "a\\u0000b"}', b'{"model": "' + b"m" * 300 + b'"}',
                                  b'{"model": {"x": 1}}', b"[" * 100000])
def test_bad_bodies_get_openai_400(mock, body):
    r = post(mock, CHAT, body, headers={"Content-Type": "application/json"})
    assert r.status == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["message"] and err["code"]


def test_unknown_path_and_wrong_method(mock):
    r = post(mock, "/v1/models/whatever", {"model": "x"})
    assert r.status == 404 and r.json()["error"]["message"]
    r = mm.request(mock.port, "GET", CHAT)
    assert r.status == 405 and r.json()["error"]["message"]


def test_oversized_body_is_413(mock):
    r = post(mock, "/v1/embeddings", b"{" + b" " * (33 * 1024 * 1024) + b"}",
             headers={"Content-Type": "application/json"})
    assert r.status == 413
    assert r.json()["error"]["code"]
    rec = requests_log(mock, 1)[0]
    assert rec["bodyLength"] == 33 * 1024 * 1024 + 2 and rec["body"] == "" and rec["truncated"]
    assert post(mock, CHAT, {"model": "gpt-4o"}).status == 200


def test_hostile_raw_requests_do_not_hurt(mock):
    for data in [b"GARBAGE\r\n\r\n", b"\x00\x01\x02\xff" * 100, b"POST " + b"/a" * 5000 + b" HTTP/1.1\r\n\r\n",
                 b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                 b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
                 b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"mo"]:
        try:
            mm.raw_request(mock.port, data, timeout=1.0)
        except ConnectionResetError:  # refused mid-send (431 for the huge header)
            pass
    # invalid UTF-8 model in a multipart form
    body, ctype = multipart([("model", b"\xff\xfe")])
    r = post(mock, "/v1/audio/transcriptions", body, headers={"Content-Type": ctype})
    assert r.status == 400
    assert post(mock, CHAT, {"model": "still-alive"}).json()["model"] == "still-alive"
    json.dumps(requests_log(mock))


def test_keep_alive_many_requests_on_one_connection(mock):
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10 * mm.SLOW)
    conn.connect()
    sock = conn.sock
    for i in range(5):
        conn.request("POST", CHAT, body=json.dumps({"model": "m%d" % i}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 200
        assert json.loads(r.read())["model"] == "m%d" % i
    # a stream and an error on the same connection, then a normal call again
    conn.request("POST", CHAT, body=json.dumps({"model": "s", "stream": True}))
    r = conn.getresponse()
    assert r.read().endswith(b"data: [DONE]\n\n")
    conn.request("POST", CHAT, body=b"{bad")
    r = conn.getresponse()
    assert r.status == 400
    r.read()
    conn.request("POST", CHAT, body=json.dumps({"model": "last"}))
    assert json.loads(conn.getresponse().read())["model"] == "last"
    assert conn.sock is sock
    conn.close()


def test_300_concurrent_streams(mock):
    n = 300
    faults(mock, [{"chunkDelayMs": 200, "chunks": 5}])
    req = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\nConnection: close\r\n\r\n%s")
    sel = selectors.DefaultSelector()
    bufs = {}
    for i in range(n):
        body = json.dumps({"model": "m%d" % i, "stream": True})
        s = socket.create_connection(("127.0.0.1", mock.port), timeout=10)
        s.sendall((req % (len(body), body)).encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        bufs[i] = b""
    # the streams overlap (each lasts at least 800 ms)
    mm.wait_until(lambda: stats(mock)["active"] >= n // 2, what="half the streams active at once")
    deadline = time.time() + 30 * mm.SLOW
    open_count = n
    while open_count and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(65536)
            if data:
                bufs[key.data] += data
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                open_count -= 1
    sel.close()
    assert open_count == 0
    for i, b in bufs.items():
        assert b.startswith(b"HTTP/1.1 200"), b[:100]
        assert b.count(b'"model":"m%d"' % i) == 5
        assert b"data: [DONE]" in b
    assert stats(mock)["requests"] == n
    assert stats(mock)["cancelled"] == 0


# --- command line and signals -----------------------------------------------------------

def run_cli(*args):
    return subprocess.run([mm.binary("mockllm")] + list(args), capture_output=True, timeout=20 * mm.SLOW)


def test_help_and_bad_flags():
    r = run_cli("--help")
    assert r.returncode == 0 and b"--listen" in r.stdout
    for args in [(), ("--bogus",), ("--listen",), ("--listen", "nohostport"), ("--listen", "127.0.0.1:99999"),
                 ("--listen", "127.0.0.1:0", "--threads", "0"), ("--listen", "127.0.0.1:0", "--threads", "x"),
                 ("--listen", "127.0.0.1:0", "--name", "")]:
        r = run_cli(*args)
        assert r.returncode == 2, args
        assert len(r.stderr.decode().strip().splitlines()) == 1, (args, r.stderr)


def test_port_in_use_exits_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        r = run_cli("--listen", "127.0.0.1:%d" % s.getsockname()[1])
    assert r.returncode == 1
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "in use" in lines[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_0_with_streams_and_delays_in_flight(sig):
    m = mm.MockLLM(extra_args=["--threads", "3"])
    faults(m, [{"model": "slow", "delayMs": 20000}, {"chunkDelayMs": 20000, "chunks": 3}])
    streams = [Stream(m.port, {"model": "s", "stream": True}) for _ in range(5)]
    for s in streams:
        next(s.events())
    slow = socket.create_connection(("127.0.0.1", m.port))
    body = json.dumps({"model": "slow"})
    slow.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(body), body)).encode())
    mm.wait_until(lambda: stats(m)["active"] == 6, what="6 active")
    t0 = time.time()
    assert m.stop(sig=sig, timeout=10) == 0
    assert time.time() - t0 < 5 * mm.SLOW
    for s in streams:
        s.close()
    slow.close()
