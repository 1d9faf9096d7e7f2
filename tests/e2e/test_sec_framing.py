"""Strict HTTP framing on both listeners (SPEC 5, issue 11 items 4-6), with
raw sockets against the real binaries: request smuggling (Content-Length
with Transfer-Encoding, differing Content-Lengths, codings other than
chunked), CR, LF or NUL inside header values and obs-fold get 400 and the
connection closed; over-long headers 431 and URLs 414; every refusal in the
listener's JSON error shape. The bytes after a refused request's headers are
a complete second request: it is never served (one answer, then EOF), and
the data plane's upstream (the mock) receives nothing."""
import json
import socket

import pytest

import cp_util as cu
import dp_util as du
import mm

KEY = "key-framing-0123456789"
DP_PATH = b"/api/1.0" + du.CHAT.encode()
CP_PATH = b"/api/v1/apis"
URL_MAX = 16384       # GW_HTTP_URL_MAX_BYTES
HEADERS_MAX = 32768  # GW_HTTP_HEADERS_MAX_BYTES
ARGS_MAX = 256       # GW_HTTP_QUERY_ARGS_MAX


@pytest.fixture
def dp(mock):
    eps = [du.endpoint("e1", mock.url + "/v1", name="prod")]
    pol = du.wrr("p1", [du.target("gpt-4o", "e1")])
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, [pol])],
                                        [du.key("k1", KEY, app="app-1")]))
    d = mm.DataPlane(config=cfg)
    yield d
    assert d.stop() == 0


@pytest.fixture
def cpx():
    c = mm.ControlPlane()
    yield c
    assert c.stop() == 0


def exchange(port, data, timeout=5.0):
    """Sends data; reads one response (its body by Content-Length), then
    whatever follows until EOF. Returns (status, headers, body, rest,
    closed): rest must be empty (no second answer), closed True when the
    server closed (EOF or a reset after the complete answer)."""
    buf = b""
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * mm.SLOW) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    closed = True
                    break
                buf += c
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
    head, sep, tail = buf.partition(b"\r\n\r\n")
    assert sep, buf[:300]
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers["content-length"])
    return status, headers, tail[:n], tail[n:], closed


def dp_head(extra=b""):
    return (b"POST " + DP_PATH + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
            b"\r\nContent-Type: application/json\r\n" + extra)


def cp_head(extra=b""):
    return (b"POST " + CP_PATH + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
            mm.ADMIN_TOKEN.encode() + b"\r\nContent-Type: application/json\r\n" + extra)


DP_BODY = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
CP_BODY = json.dumps({"name": "api-smuggled", "basePath": "/smuggled", "version": "v1",
                      "vendor": "openai"}).encode()


def chunked(body):
    return b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"


def smuggling_cases(head, body, second):
    """(name, request bytes, expected status): each followed by a complete
    second request that a lax parser would serve."""
    n = str(len(body)).encode()
    return [
        ("CL then TE", head(b"Content-Length: " + n + b"\r\nTransfer-Encoding: chunked\r\n\r\n") +
         chunked(body) + second),
        ("TE then CL", head(b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n") +
         chunked(body) + second),
        ("CL 0 with TE", head(b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n") +
         chunked(body) + second),
        ("two Content-Lengths", head(b"Content-Length: " + n + b"\r\nContent-Length: 4\r\n\r\n") +
         body + second),
        ("identity, chunked", head(b"Transfer-Encoding: identity, chunked\r\n\r\n") +
         chunked(body) + second),
        ("xchunked", head(b"Transfer-Encoding: xchunked\r\n\r\n") + chunked(body) + second),
        ("gzip", head(b"Transfer-Encoding: gzip\r\n\r\n") + chunked(body) + second),
        ("chunked twice", head(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") +
         chunked(body) + second),
        ("bare CR in a value", head(b"X-A: a\rAuthorization: Bearer planted\r\nContent-Length: " +
                                    n + b"\r\n\r\n") + body + second),
        ("NUL in a value", head(b"X-A: a\x00b\r\nContent-Length: " + n + b"\r\n\r\n") + body + second),
        ("bare LF", head(b"X-A: a\nX-B: b\r\nContent-Length: " + n + b"\r\n\r\n") + body + second),
        ("obs-fold", head(b"X-A: a\r\n folded\r\nContent-Length: " + n + b"\r\n\r\n") + body + second),
    ]


def size_cases(head, path, body):
    n = str(len(body)).encode()
    big_hdr = head(b"X-Big: " + b"x" * (HEADERS_MAX + 1) + b"\r\nContent-Length: " + n + b"\r\n\r\n")
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"y" * 100) for i in range(HEADERS_MAX // 100))
    long_url = head(b"Content-Length: " + n + b"\r\n\r\n").replace(
        path, path + b"?q=" + b"u" * URL_MAX, 1)
    many_args = head(b"Content-Length: " + n + b"\r\n\r\n").replace(
        path, path + b"?" + b"&".join(b"k%d=v" % i for i in range(ARGS_MAX + 1)), 1)
    return [("one long header", big_hdr + body, 431, "headers_too_large"),
            ("many query arguments", many_args + body, 414, "uri_too_long"),
            ("many headers", head(many + b"Content-Length: " + n + b"\r\n\r\n") + body, 431,
             "headers_too_large"),
            ("long URL", long_url + body, 414, "uri_too_long")]


def dp_error(body):
    doc = json.loads(body)
    assert set(doc) == {"error"} and set(doc["error"]) == {"message", "type", "code"}, doc
    return doc["error"]


def cp_error(body):
    doc = json.loads(body)
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
    return doc["error"]


def check_refused(port, data, status, err_of, what):
    st, headers, body, rest, closed = exchange(port, data)
    assert st == status, (what, st, body)
    assert headers.get("connection") == "close", (what, headers)
    assert headers.get("content-type") == "application/json", (what, headers)
    assert rest == b"", (what, rest[:200])  # no second answer
    assert closed, what
    return err_of(body)


def test_dp_smuggling_and_bad_headers_refused(dp, mock):
    second = b"POST " + DP_PATH + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() + \
        b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(DP_BODY) + DP_BODY
    du.mock_clear(mock)
    for name, data in smuggling_cases(dp_head, DP_BODY, second):
        e = check_refused(dp.port, data, 400, dp_error, name)
        assert e["code"] in ("bad_framing", "bad_header") and e["type"] == "invalid_request_error", (name, e)
    assert du.mock_requests(mock) == []  # nothing forwarded, not even the second request
    r = du.chat(dp, KEY)
    assert r.status == 200, r.text


def test_dp_sizes_431_414_json(dp, mock):
    du.mock_clear(mock)
    for name, data, status, code in size_cases(dp_head, DP_PATH, DP_BODY):
        e = check_refused(dp.port, data, status, dp_error, name)
        assert e["code"] == code, (name, e)
    assert du.mock_requests(mock) == []


def test_dp_lawful_framing_still_served(dp, mock):
    """What the rules allow: one coding "chunked" in any case, the same
    Content-Length twice, headers and a URL just under the limits."""
    n = str(len(DP_BODY)).encode()
    ok = [dp_head(b"Transfer-Encoding: Chunked\r\n\r\n") + chunked(DP_BODY),
          dp_head(b"Content-Length: " + n + b"\r\nContent-Length: " + n + b"\r\n\r\n") + DP_BODY,
          dp_head(b"X-Big: " + b"x" * (HEADERS_MAX - 400) + b"\r\nContent-Length: " + n +
                  b"\r\n\r\n") + DP_BODY,
          dp_head(b"Content-Length: " + n + b"\r\n\r\n").replace(
              DP_PATH, DP_PATH + b"?q=" + b"u" * (URL_MAX - 100), 1) + DP_BODY]
    for data in ok:
        st, headers, body, rest, _ = exchange(dp.port, data + b"GET /nothing HTTP/1.1\r\nHost: x\r\n"
                                              b"Connection: close\r\n\r\n")
        assert st == 200, body
        assert rest.startswith(b"HTTP/1.1 404 "), rest[:100]  # keep-alive: the next request is served


def test_cp_smuggling_and_bad_headers_refused(cpx):
    rev = cu.revision(cpx)
    second = cp_head(b"Content-Length: %d\r\n\r\n" % len(CP_BODY)) + CP_BODY
    for name, data in smuggling_cases(cp_head, CP_BODY, second):
        e = check_refused(cpx.port, data, 400, cp_error, name)
        assert e["code"] in ("bad_framing", "bad_header"), (name, e)
    # Neither the refused request nor the smuggled one changed anything.
    assert cu.revision(cpx) == rev
    assert cpx.ok("GET", "/apis")["items"] == []


def test_cp_sizes_431_414_json(cpx):
    for name, data, status, code in size_cases(cp_head, CP_PATH, CP_BODY):
        e = check_refused(cpx.port, data, status, cp_error, name)
        assert e["code"] == code, (name, e)
    assert cpx.ok("GET", "/apis")["items"] == []


def test_cp_lawful_framing_still_served(cpx):
    body = CP_BODY
    r = exchange(cpx.port, cp_head(b"Transfer-Encoding: chunked\r\nConnection: close\r\n"
                                   b"X-Big: " + b"x" * (HEADERS_MAX - 400) + b"\r\n\r\n") + chunked(body))
    assert r[0] == 201, r[2]
    assert [a["name"] for a in cpx.ok("GET", "/apis")["items"]] == ["api-smuggled"]
