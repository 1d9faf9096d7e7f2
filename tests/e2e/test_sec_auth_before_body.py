"""Issue 11 item 7 (SPEC 3.1 step 7): the API key is checked when the
headers arrive, before any body is read. Unauthenticated callers announcing
10 MiB bodies are answered 401 at once, their connections closed rather than
read on, and the data plane's memory does not grow with what they would
send; the upstream never sees them. A caller with a valid key still sends
its body and is served."""
import socket
import time

import pytest

import cp_util
import dp_util as du
import mm

KEY = "key-authfirst-0123456789"
P = "/api/1.0" + du.CHAT
TEN_MIB = 10 * 1024 * 1024


@pytest.fixture
def dp(mock):
    eps = [du.endpoint("e1", mock.url)]
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps)], [du.key("k1", KEY)]))
    d = mm.DataPlane(config=cfg, workers=1)
    yield d
    assert d.stop() == 0


def head(auth, framing):
    return (b"POST " + P.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
            auth + framing + b"\r\n")


def read_answer(s, timeout):
    """Everything the gateway sends until it closes the connection."""
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("auth", [b"", b"Authorization: Bearer wrong-key\r\n",
                                  b"apikey: wrong-key\r\n"])
@pytest.mark.parametrize("framing", [b"Content-Length: %d\r\n" % TEN_MIB,
                                     b"Transfer-Encoding: chunked\r\n"])
def test_refused_at_the_headers_and_closed(dp, mock, auth, framing):
    du.mock_clear(mock)
    with socket.create_connection(("127.0.0.1", dp.port)) as s:
        s.sendall(head(auth, framing))  # no body byte sent
        t0 = time.monotonic()
        data = read_answer(s, timeout=10 * mm.SLOW)
        took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 401 "), data[:200]
    assert b"\r\nconnection: close\r\n" in data.lower(), data[:400]
    assert b'"type"' in data and b'"code"' in data  # the OpenAI error shape
    assert took < 5 * mm.SLOW, took  # answered, then closed: no wait for the body
    assert du.mock_requests(mock) == []


def test_many_unauthenticated_bodies_keep_memory_bounded(dp, mock):
    du.mock_clear(mock)
    before = cp_util.proc_status(dp.pid, "VmRSS")
    socks = []
    try:
        for _ in range(150):
            s = socket.create_connection(("127.0.0.1", dp.port))
            s.sendall(head(b"apikey: wrong-key\r\n", b"Content-Length: %d\r\n" % TEN_MIB))
            socks.append(s)
        chunk = b"x" * 65536
        for s in socks:  # what a client can push before the gateway's close stops it
            s.setblocking(False)
            for _ in range(16):
                try:
                    s.send(chunk)
                except OSError:
                    break
        answers = [read_answer(s, timeout=10 * mm.SLOW) for s in socks]
    finally:
        for s in socks:
            s.close()
    assert all(a.startswith(b"HTTP/1.1 401 ") for a in answers), [a[:80] for a in answers[:3]]
    grown = cp_util.proc_status(dp.pid, "VmRSS") - before
    assert grown < 64 * 1024, "the data plane grew by %d KiB" % grown  # 150 x 10 MiB if read
    assert du.mock_requests(mock) == []
    r = du.chat(dp, KEY)  # a caller with a valid key is still served
    assert r.status == 200, r.text
