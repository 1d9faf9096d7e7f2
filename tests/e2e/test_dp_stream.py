"""Streaming through the data plane: events reach the client as the upstream
sends them, a client that goes away cancels the upstream transfer, a slow
client does not make the gateway buffer the whole stream, and usage is
asked for and counted when the API has a token limit."""
import json
import socket
import time


import dp_util as du
import mm

KEY = "key-stream-0123456789"
P = "/api/1.0" + du.CHAT


def start(mock, policies=None, workers=2, url=None):
    eps = [du.endpoint("e1", url or mock.url + "/v1", name="good")]
    pol = policies if policies is not None else [du.wrr("p1", [du.target("gpt-4o", "e1")])]
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, pol, name="chat")], [du.key("k1", KEY)]))
    return mm.DataPlane(config=cfg, workers=workers)


def test_first_chunk_arrives_before_upstream_finishes(mock):
    du.mock_faults(mock, [{"chunks": 5, "chunkDelayMs": 400}])
    dp = start(mock)
    s = du.Stream(dp.port, P, {"model": "x", "stream": True, "messages": []}, KEY)
    try:
        assert s.resp.status == 200
        assert s.resp.getheader("Content-Type").startswith("text/event-stream")
        assert s.resp.getheader("x-modelmux-model") == "gpt-4o"
        times = []
        payloads = []
        for t, p in s.events():
            times.append(t)
            payloads.append(p)
    finally:
        s.close()
    assert payloads[-1] == "[DONE]"
    assert len(payloads) >= 6
    # the first event came long before the last (the stream was not buffered)
    assert times[0] < times[-1] - 1.0, times
    assert json.loads(payloads[0])["model"] == "gpt-4o"


def test_client_disconnect_cancels_upstream(mock):
    du.mock_faults(mock, [{"chunks": 100, "chunkDelayMs": 100}])
    dp = start(mock)
    s = du.Stream(dp.port, P, {"model": "x", "stream": True, "messages": []}, KEY)
    ev = s.events()
    next(ev)
    next(ev)
    assert du.mock_stats(mock)["active"] >= 1
    s.conn.sock.shutdown(socket.SHUT_RDWR)
    s.close()
    mm.wait_until(lambda: du.mock_stats(mock)["active"] == 0, timeout=5, what="upstream stream cancelled")
    assert du.mock_stats(mock)["cancelled"] >= 1
    # the data plane serves on
    assert du.chat(dp, KEY).status == 200


def raw_request(rid, body, path=P):
    data = json.dumps(body).encode()
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + rid.encode() +
            b"\r\nAuthorization: Bearer " + KEY.encode() + b"\r\nContent-Type: application/json\r\n" +
            b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)


def send_raw(port, rid, body):
    """Sends a chat request on a new socket without reading the answer."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(raw_request(rid, body))
    return s


def read_response(s):
    """Reads one Content-Length response from s; returns (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "connection closed before the response headers"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = [int(v) for k, _, v in (l.partition(":") for l in lines[1:]) if k.lower() == "content-length"]
    assert length, lines
    while len(rest) < length[0]:
        chunk = s.recv(65536)
        assert chunk, "connection closed in the response body"
        rest += chunk
    assert len(rest) == length[0]  # nothing more: one answer per request
    return int(lines[0].split()[1]), rest


def test_client_leaving_before_the_upstream_answers_cancels_it(mock):
    """While the upstream has not answered, the client's connection is parked
    (MHD does not watch it): a client that leaves then is still noticed at
    once, the upstream transfer is cancelled, and the log says 499."""
    with du.SilentUpstream() as up:
        dp = start(mock, url=up.url + "/v1")
        for i in range(3):
            rid = "leaver-%d" % i
            s = send_raw(dp.port, rid, {"model": "x", "messages": []})
            mm.wait_until(lambda: up.stats()[0] > i, timeout=5, what="the upstream got the request")
            if i == 1:
                s.shutdown(socket.SHUT_WR)  # a half-close counts as leaving too (as in nginx)
            else:
                s.close()
            mm.wait_until(lambda: up.stats()[1] > i, timeout=3, what="the upstream transfer cancelled")
            if i == 1:
                s.settimeout(3 * mm.SLOW)
                try:
                    assert s.recv(100) == b""  # no answer, the connection closed
                except ConnectionResetError:
                    pass
                s.close()
            a = du.wait_logged(dp, lambda a: a["id"] == rid, timeout=3, what="request %s logged" % rid)
            assert a["status"] == 499 and a["clientAborted"] is True, a
        text = dp.metrics()
        assert du.metric_value(text, "modelmux_requests_total", status="499") == 3
        t0 = time.time()
        assert dp.stop() == 0
        assert time.time() - t0 < 5 * mm.SLOW
        assert "still in flight" not in dp.stderr()


def test_client_leaving_on_a_kept_alive_connection_is_noticed(mock):
    """The hang-up watch belongs to the connection, not to one request: after
    requests answered on a kept-alive connection, a later one that waits for
    the upstream still notices its client leaving (close or half-close), and
    the data plane serves on."""
    with du.SilentUpstream() as up:
        good = du.api("a1", "/api", [du.endpoint("e1", mock.url + "/v1", name="good")],
                      [du.wrr("p1", [du.target("gpt-4o", "e1")])], name="chat")
        slow = du.api("a2", "/slow", [du.endpoint("e2", up.url + "/v1", name="silent")],
                      [du.wrr("p2", [du.target("gpt-4o", "e2")])], name="slow")
        dp = mm.DataPlane(config=du.write_snapshot(du.snapshot([good, slow], [du.key("k1", KEY)])),
                          workers=1)
        for i, half in enumerate((False, True)):
            s = socket.create_connection(("127.0.0.1", dp.port))
            s.settimeout(5 * mm.SLOW)
            for j in range(3):
                s.sendall(raw_request("kept-%d-%d" % (i, j), {"model": "x", "messages": []}))
                status, body = read_response(s)
                assert status == 200 and json.loads(body)["model"] == "gpt-4o"
            rid = "kept-leaver-%d" % i
            s.sendall(raw_request(rid, {"model": "x", "messages": []}, path="/slow/1.0" + du.CHAT))
            mm.wait_until(lambda: up.stats()[0] > i, timeout=5, what="the upstream got the request")
            if half:
                s.shutdown(socket.SHUT_WR)
            else:
                s.close()
            mm.wait_until(lambda: up.stats()[1] > i, timeout=3, what="the upstream transfer cancelled")
            a = du.wait_logged(dp, lambda a: a["id"] == rid, timeout=3, what="request %s logged" % rid)
            assert a["status"] == 499 and a["clientAborted"] is True, a
            if half:
                try:
                    assert s.recv(100) == b""  # no answer, the connection closed
                except ConnectionResetError:
                    pass
                s.close()
        assert du.chat(dp, KEY).status == 200
        assert du.metric_value(dp.metrics(), "modelmux_requests_total", status="499") == 2
        assert dp.stop() == 0
        assert "still in flight" not in dp.stderr()


def test_client_leaving_between_stream_chunks_is_noticed(mock):
    """Between two chunks the connection is parked too: a client leaving
    then ends the request without waiting for the next chunk."""
    du.mock_faults(mock, [{"chunks": 3, "chunkDelayMs": 30000}])
    dp = start(mock)
    s = du.Stream(dp.port, P, {"model": "x", "stream": True, "messages": []}, KEY)
    next(s.events())
    rid = s.resp.getheader("x-request-id")
    s.conn.sock.shutdown(socket.SHUT_RDWR)
    s.close()
    a = du.wait_logged(dp, lambda a: a["id"] == rid, timeout=3, what="the stream ended")
    assert a["status"] == 200 and a["clientAborted"] is True, a
    assert du.chat(dp, KEY).status == 200


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_reader_backpressure(mock):
    """A client that reads nothing while a large stream (~18 MB) is produced:
    the upstream transfer is paused (not read to the end into memory), the
    gateway's memory stays flat, and closing the client cancels the upstream."""
    du.mock_faults(mock, [{"chunks": 100000}])
    dp = start(mock, workers=1)
    before = rss_kb(dp.pid)
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", dp.port))
    body = json.dumps({"model": "x", "stream": True, "messages": []}).encode()
    c.sendall(b"POST " + P.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
              b"\r\n\r\n" + body)
    c.recv(1024)
    time.sleep(1.5 * mm.SLOW)
    assert du.mock_stats(mock)["active"] == 1  # paused, not finished
    if not mm.SANITIZE:  # ASan's quarantine keeps freed memory resident
        assert rss_kb(dp.pid) - before < 8 * 1024, (before, rss_kb(dp.pid))
    c.close()
    mm.wait_until(lambda: du.mock_stats(mock)["active"] == 0, what="upstream cancelled")
    assert du.chat(dp, KEY).status == 200


def test_stream_usage_forced_and_hidden_when_token_limited(mock):
    pols = [du.wrr("p1", [du.target("gpt-4o", "e1")]),
            du.ratelimit("rl", totalTokens=100000, requests=1000)]
    dp = start(mock, pols)
    s = du.Stream(dp.port, P, {"model": "x", "stream": True, "messages": []}, KEY)
    try:
        assert s.resp.status == 200
        assert s.resp.getheader("x-ratelimit-limit-tokens") == "100000"
        payloads = [p for _, p in s.events()]
    finally:
        s.close()
    # we asked the upstream for usage...
    sent = du.mock_requests(mock)[-1]["json"]
    assert sent["stream_options"]["include_usage"] is True
    # ...and kept the usage-only chunk from the caller, who did not ask
    for p in payloads[:-1]:
        doc = json.loads(p)
        assert doc.get("choices") != [] or not doc.get("usage"), p
    mm.wait_until(lambda: du.metric_value(dp.metrics(), "modelmux_tokens_total", kind="completion"),
                  what="streamed tokens counted")
    text = dp.metrics()
    assert du.metric_value(text, "modelmux_tokens_total", kind="prompt") == 10
    # the caller asking for usage gets it
    s = du.Stream(dp.port, P, {"model": "x", "stream": True, "stream_options": {"include_usage": True},
                               "messages": []}, KEY)
    try:
        payloads = [p for _, p in s.events()]
    finally:
        s.close()
    assert any(json.loads(p).get("usage") for p in payloads[:-1] if p != "[DONE]")


def test_upstream_reset_mid_stream_ends_client_stream(mock):
    du.mock_faults(mock, [{"chunks": 10, "resetAfterChunks": 2, "chunkDelayMs": 50}])
    dp = start(mock)
    s = du.Stream(dp.port, P, {"model": "x", "stream": True, "messages": []}, KEY)
    got = []
    try:
        for _, p in s.events():
            got.append(p)
    except Exception:
        pass  # the chunked body ends abnormally
    finally:
        s.close()
    assert "[DONE]" not in got
    assert du.chat(dp, KEY).status == 200


def test_stream_error_before_first_byte_fails_over(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 500}])
    eps = [du.endpoint("e1", mock.url + "/v1", name="good")]
    pol = du.failover("f1", du.target("gpt-4o", "e1"), [du.target("gpt-4o-mini", "e1")])
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, [pol])], [du.key("k1", KEY)]))
    dp = mm.DataPlane(config=cfg)
    s = du.Stream(dp.port, P, {"model": "gpt-4o", "stream": True, "messages": []}, KEY)
    try:
        assert s.resp.status == 200
        assert s.resp.getheader("x-modelmux-model") == "gpt-4o-mini"
        assert s.resp.getheader("x-modelmux-attempts") == "2"
        assert [p for _, p in s.events()][-1] == "[DONE]"
    finally:
        s.close()
