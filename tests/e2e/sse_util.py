"""Raw-socket HTTP/1.1 helpers for the stream tests: the exact bytes on the
wire (chunked terminator or not, reset or FIN), a chunked body decoded, its
server-sent events and their text."""
import json
import socket
import time

CHAT = "/v1/chat/completions"
TERMINATOR = b"0\r\n\r\n"


def raw(port, body, path=CHAT, timeout=15.0, headers=None):
    """POSTs body and reads until the server ends the connection (or the
    body is complete). Returns (bytes, [(seconds since sent, bytes read)],
    error or None)."""
    data = json.dumps(body).encode()
    extra = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in (headers or {}).items())
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n%s"
              b"Content-Length: %d\r\n\r\n%s" % (path.encode(), extra, len(data), data))
    t0, out, reads, err = time.monotonic(), b"", [], None
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            reads.append((time.monotonic() - t0, b))
            if out.endswith(TERMINATOR) or (b"Content-Length" in out and body_done(out)):
                break
    except OSError as e:
        err = e
    s.close()
    return out, reads, err


def body_done(out):
    head, sep, rest = out.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":")[1])
    return False


def dechunk(payload):
    """The body of a chunked payload and whether it ended with the
    terminating chunk."""
    body = b""
    while payload:
        size_line, sep, rest = payload.partition(b"\r\n")
        if not sep:
            return body, False
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body, rest.startswith(b"\r\n")
        if len(rest) < size + 2:
            return body + rest[:size], False
        body += rest[:size]
        payload = rest[size + 2:]
    return body, False


def split(out):
    head, _, payload = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, head.decode(), payload


def events(body):
    return [e[len(b"data: "):] for e in body.split(b"\n\n") if e]


def texts(evs):
    """The answer text of chat chunk events (an error event has none)."""
    out = ""
    for e in evs:
        if e == b"[DONE]":
            continue
        d = json.loads(e)
        for c in d.get("choices") or []:
            out += (c.get("delta") or {}).get("content") or ""
    return out
