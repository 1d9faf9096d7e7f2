"""Hostile and malformed input to the data plane, and API-key checks: each
bad request gets the right answer in the OpenAI error shape, and the next
request is still served."""
import json
import socket
import time

import pytest

import dp_util as du
import mm

KEY = "key-input-0123456789"
SANDBOX_KEY = "key-sandbox-0123456789"
EXPIRED_KEY = "key-expired-0123456789"
OTHER_APP_KEY = "key-otherapp-0123456789"
P = "/api/1.0" + du.CHAT


@pytest.fixture
def dp(mock):
    eps = [du.endpoint("e1", mock.url + "/v1", name="prod"),
           du.endpoint("e2", mock.url + "/sandbox/v1", name="sand", env="sandbox")]
    pol = du.wrr("p1", [du.target("gpt-4o", "e1")], sandbox=[du.target("o1-mini", "e2")])
    subs_api = du.api("a2", "/subs", eps, [pol], subscription=True)
    keys = [du.key("k1", KEY, app="app-1", subscriptions=["a1"]),
            du.key("k2", SANDBOX_KEY, app="app-1", kind="sandbox"),
            du.key("k3", EXPIRED_KEY, app="app-1", expires="2001-01-01T00:00:00Z"),
            du.key("k4", OTHER_APP_KEY, app="app-2", subscriptions=["a2"])]
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, [pol]), subs_api], keys))
    d = mm.DataPlane(config=cfg)
    yield d
    t0 = time.time()
    assert d.stop() == 0
    assert "still in flight" not in d.stderr()
    assert time.time() - t0 < 5 * mm.SLOW


def error_of(r):
    doc = r.json()
    assert set(doc) == {"error"}, doc
    e = doc["error"]
    assert isinstance(e["message"], str) and e["message"]
    assert isinstance(e["type"], str) and e["type"]
    assert isinstance(e["code"], str) and e["code"]
    return e


def still_serving(dp):
    r = du.chat(dp, KEY)
    assert r.status == 200, r.text


# --- API keys -----------------------------------------------------------------

def test_missing_unknown_expired_keys_401(dp):
    r = du.chat(dp, None)
    assert r.status == 401 and error_of(r)["code"] == "missing_api_key"
    r = du.chat(dp, "not-a-key")
    assert r.status == 401 and error_of(r)["code"] == "invalid_api_key"
    r = du.chat(dp, EXPIRED_KEY)
    assert r.status == 401 and error_of(r)["code"] == "expired_api_key"
    r = du.chat(dp, None, headers={"Authorization": "Basic " + KEY})
    assert r.status == 401
    still_serving(dp)


def test_apikey_header_accepted(dp):
    r = du.chat(dp, None, headers={"apikey": KEY})
    assert r.status == 200, r.text


def test_subscription_validation_403(dp):
    r = du.chat(dp, KEY, path="/subs/1.0" + du.CHAT)
    assert r.status == 403 and error_of(r)["code"] == "not_subscribed"
    r = du.chat(dp, OTHER_APP_KEY, path="/subs/1.0" + du.CHAT)
    assert r.status == 200, r.text


def test_sandbox_key_uses_sandbox_endpoints(dp, mock):
    r = du.chat(dp, SANDBOX_KEY)
    assert r.status == 200, r.text
    assert r.headers["x-modelmux-endpoint"] == "sand"
    assert r.headers["x-modelmux-model"] == "o1-mini"
    assert du.mock_requests(mock)[-1]["path"].startswith("/sandbox/v1/chat/completions")
    r = du.chat(dp, KEY)
    assert r.headers["x-modelmux-endpoint"] == "prod"


# --- bodies ---------------------------------------------------------------------

def test_non_json_body_400(dp):
    r = mm.request(dp.port, "POST", P, body=b"this is not json",
                   headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
    assert r.status == 400
    error_of(r)
    still_serving(dp)


def test_json_array_body_400(dp):
    r = mm.request(dp.port, "POST", P, body=b"[1,2,3]", headers={"Authorization": "Bearer " + KEY})
    assert r.status == 400
    error_of(r)
    still_serving(dp)


def test_no_model_400(dp):
    r = mm.request(dp.port, "POST", P, body={"messages": []}, headers={"Authorization": "Bearer " + KEY})
    assert r.status == 400
    error_of(r)
    r = mm.request(dp.port, "POST", P, body={"model": 5}, headers={"Authorization": "Bearer " + KEY})
    assert r.status == 400
    r = mm.request(dp.port, "POST", P, body=b"", headers={"Authorization": "Bearer " + KEY})
    assert r.status == 400
    still_serving(dp)


def test_deep_json_400(dp):
    body = b"[" * 10000 + b"]" * 10000
    r = mm.request(dp.port, "POST", P, body=b'{"model":"x","a":' + body + b"}",
                   headers={"Authorization": "Bearer " + KEY})
    assert r.status == 400
    still_serving(dp)


def test_body_over_10_mib_413_with_content_length(dp):
    big = b'{"model":"x","pad":"' + b"a" * (10 * 1024 * 1024 + 1 - 22) + b'"}'
    assert len(big) == 10 * 1024 * 1024 + 1
    head = (b"POST " + P.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(big)).encode() + b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", dp.port), timeout=10 * mm.SLOW) as s:
        s.sendall(head)
        resp = s.recv(65536)
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert b'"error"' in resp
    still_serving(dp)


def test_body_over_10_mib_413_chunked(dp):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", dp.port, timeout=30 * mm.SLOW)

    def gen():
        yield b'{"model":"x","pad":"'
        for _ in range(11):
            yield b"a" * (1024 * 1024)
        yield b'"}'
    conn.request("POST", P, body=gen(), headers={"Authorization": "Bearer " + KEY,
                                                 "Content-Type": "application/json"},
                 encode_chunked=True)
    r = conn.getresponse()
    assert r.status == 413
    assert json.loads(r.read())["error"]["code"] == "body_too_large"
    conn.close()
    still_serving(dp)


def test_body_of_exactly_10_mib_accepted(dp, mock):
    pad = 10 * 1024 * 1024 - len('{"model":"x","pad":""}')
    big = b'{"model":"x","pad":"' + b"a" * pad + b'"}'
    assert len(big) == 10 * 1024 * 1024
    r = mm.request(dp.port, "POST", P, body=big, headers={"Authorization": "Bearer " + KEY,
                                                          "Content-Type": "application/json"})
    assert r.status == 200, r.text[:300]


# --- raw protocol abuse -------------------------------------------------------------

def test_garbage_bytes(dp):
    resp = mm.raw_request(dp.port, b"\x00\x01\x02\xff\xfe garbage \r\n\r\n", timeout=3)
    assert resp == b"" or resp.startswith(b"HTTP/1.1 4"), resp[:200]
    resp = mm.raw_request(dp.port, b"GET / HTTP/9.9\r\n\r\n", timeout=3)
    assert resp.startswith(b"HTTP/1.1 505 "), resp[:200]
    still_serving(dp)


def raw(port, data, timeout=5):
    """raw_request that also accepts a reset after the answer."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * mm.SLOW) as s:
        try:
            s.sendall(data)
            while True:
                c = s.recv(65536)
                if not c:
                    break
                out += c
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            pass
    return out


def test_64_kib_header(dp):
    big = b"x" * (64 * 1024)
    resp = raw(dp.port, b"POST " + P.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + big +
                          b"\r\nContent-Length: 2\r\n\r\n{}", timeout=5)
    assert resp.startswith(b"HTTP/1.1 431 "), resp[:200]
    still_serving(dp)


def test_truncated_request_then_close(dp):
    """A client that closes before its body is complete: the request ends at
    once (499 in the access log), not at the idle timeout or the shutdown.
    (MHD can miss an EOF that arrives with the last bytes.) The key is valid,
    so the gateway reads the body (a wrong one is refused at the headers)."""
    tails = [b"Content-Length: 1000\r\n\r\n{\"mo", b"Content-Length: 1000\r\n\r\n",
             b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"mod"]
    for i in range(12):
        rid = "truncated-%d" % i
        with socket.create_connection(("127.0.0.1", dp.port)) as s:
            if i % 2 == 0:
                # Once the gateway has accepted and polled the connection, the
                # bytes and the FIN in one segment (corked): one epoll edge.
                time.sleep(0.05)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            s.sendall(b"POST " + P.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + rid.encode() +
                      b"\r\napikey: " + KEY.encode() + b"\r\n" + tails[i % 3])
        a = du.wait_logged(dp, lambda a: a["id"] == rid, timeout=3, what="request %s ended" % rid)
        assert a["status"] == 499 and a["clientAborted"] is True, a
    still_serving(dp)


def test_hostile_path_bytes_keep_answers_and_log_valid_json(dp):
    """MHD percent-decodes the path: any byte reaches the error message and
    the access log, which must stay valid JSON (strict UTF-8): bytes that
    are not well-formed UTF-8 become U+FFFD, valid characters stay."""
    cases = [("/nope/%FF%FE%C0%AF", "/nope/" + "\ufffd" * 4),
             ("/nope/%01%0A%22%5C", "/nope/\x01\n\"\\"),
             ("/nope/%E2%82%AC%ED%A0%80", "/nope/\u20ac" + "\ufffd" * 3)]
    for i, (path, decoded) in enumerate(cases):
        rid = "hostile-path-%d" % i
        r = mm.request(dp.port, "POST", path, body=b"{}", headers={"X-Request-Id": rid})
        assert r.status == 404
        assert error_of(r)["code"] == "not_found"  # the body parses despite the bytes

        def logged():
            with open(dp.stderr_path, "rb") as f:
                text = f.read().decode("utf-8")  # strict
            return [json.loads(ln) for ln in text.splitlines() if '"%s"' % rid in ln]
        entry = mm.wait_until(logged, what="request %s logged" % rid)[0]
        assert entry["status"] == 404 and entry["path"] == decoded, entry
    still_serving(dp)


def test_many_bad_requests_then_good(dp):
    for i in range(50):
        resp = mm.raw_request(dp.port, b"POST " + P.encode() + b" HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                              timeout=1)
        assert resp.startswith(b"HTTP/1.1 400 "), resp[:200]
        assert du.chat(dp, "wrong-%d" % i).status == 401
    still_serving(dp)
