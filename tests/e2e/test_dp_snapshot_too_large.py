"""A snapshot over GW_SNAPSHOT_MAX_BYTES (common/limits.h) (issue 11 item
11): the data plane stops the download at once (never the endless "Failed
writing received data" loop), logs it once per revision, keeps serving the
revision it runs (here from its cache), backs off, and tells the control
plane the revision it really runs. The control plane is a stand-in in the
test that announces a body one byte over the limit."""

import http.server
import os
import re
import threading
import time

import dp_util as du
import mm

KEY = "sk-too-large-0123456789"


def snapshot_max_bytes():
    """GW_SNAPSHOT_MAX_BYTES, evaluated from the #defines of limits.h it is
    derived from (integer arithmetic, casts dropped)."""
    with open(os.path.join(mm.SOURCE_DIR, "common", "limits.h")) as f:
        text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S).replace("\\\n", " ")
    defs = dict(re.findall(r"^#define (GW_\w+) (.+)$", text, flags=re.M))

    def value(name):
        expr = re.sub(r"\((size_t|long long)\)", "", defs[name])
        expr = re.sub(r"\bGW_\w+", lambda m: str(value(m.group(0))), expr)
        return int(eval(expr, {"__builtins__": {}}))
    return value("GW_SNAPSHOT_MAX_BYTES")


class HugeSnapshotCP:
    """Answers every /dp/v1/config with 200, X-Config-Revision: 5 and a
    Content-Length one byte over the limit; records the revision headers."""

    def __init__(self, length):
        outer = self
        self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.seen.append(self.headers.get("X-Dataplane-Revision"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(length))
                self.send_header("X-Config-Revision", "5")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b'{"schemaVersion": 1, ')
                self.close_connection = True

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_too_large_snapshot_is_logged_once_and_the_cache_keeps_serving():
    eps = [du.endpoint("e1", "http://127.0.0.1:9/v1")]
    cache = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, [])], [du.key("k1", KEY)],
                                          revision=1))
    os.chmod(cache, 0o600)
    cp = HugeSnapshotCP(snapshot_max_bytes() + 1)
    try:
        dp = mm.DataPlane(cp=cp.url, cache=cache)
        # Backoff 200 ms doubling: several polls within a few seconds.
        mm.wait_until(lambda: len(cp.seen) >= 4, timeout=20 * mm.SLOW, what="4 polls")
        log = dp.stderr()
        lines = [l for l in log.splitlines() if "larger than the limit" in l]
        assert len(lines) == 1, log
        assert "revision 5" in lines[0] and "%d bytes" % snapshot_max_bytes() in lines[0]
        assert "Failed writing received data" not in log
        # It runs revision 1 (from the cache) and says so on every later poll.
        assert cp.seen[-1] == "1", cp.seen
        r = dp.call("POST", "/api/1.0/chat/completions",
                    {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, key=KEY)
        assert r.status not in (401, 403, 404), r.text
        # Backing off, not looping: far fewer polls than a tight loop would make.
        n = len(cp.seen)
        time.sleep(2)
        assert len(cp.seen) - n <= 4, cp.seen
        dp.stop()
    finally:
        cp.close()
