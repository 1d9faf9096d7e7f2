"""Helpers for the data-plane end-to-end tests: building config snapshots
(schema/config.schema.json), writing them for `modelmux-dp --config`, and
talking to the mock upstream's control API (tests/mockllm)."""
import hashlib
import http.client
import json
import os
import socket
import tempfile
import time

import mm

CHAT = "/chat/completions"
UPSTREAM_SECRET = "sk-upstream-secret-0123456789"


# --- snapshot building -----------------------------------------------------

def vendor_openai(vid="v-openai"):
    return {"id": vid, "name": "OpenAI", "apiVersion": "v1", "models": ["gpt-4o", "gpt-4o-mini", "o1-mini"],
            "requestModel": {"in": "body", "field": "model"},
            "responseModel": {"in": "body", "field": "model"},
            "usage": {"promptTokens": "usage.prompt_tokens", "completionTokens": "usage.completion_tokens",
                      "totalTokens": "usage.total_tokens"},
            "auth": {"header": "Authorization", "prefix": "Bearer "}}


def vendor_azure(vid="v-azure"):
    v = vendor_openai(vid)
    v.update({"name": "AzureOpenAI", "apiVersion": "2024-02-01",
              "requestModel": {"in": "path", "field": "model"},
              "auth": {"header": "api-key", "prefix": ""}})
    return v


def endpoint(eid, url, name=None, env="production", header="Authorization", value="Bearer " + UPSTREAM_SECRET,
             timeout_ms=60000, missing_secret=None, auth=True):
    if not auth:
        a = None
    elif missing_secret:
        a = {"header": header, "missingSecret": missing_secret}
    else:
        a = {"header": header, "value": value}
    return {"id": eid, "name": name or eid, "environment": env, "url": url, "timeoutMs": timeout_ms, "auth": a}


def target(model, ep, weight=None):
    t = {"model": model, "endpoint": ep}
    if weight is not None:
        t["weight"] = weight
    return t


def wrr(pid, production, sandbox=(), suspend_s=60, weighted=True):
    return {"id": pid, "type": "modelWeightedRoundRobin" if weighted else "modelRoundRobin",
            "suspendDurationSec": suspend_s, "production": list(production), "sandbox": list(sandbox)}


def failover(pid, tgt, fallbacks, request_timeout_ms=30000, suspend_s=60, sandbox=None):
    return {"id": pid, "type": "modelFailover", "requestTimeoutMs": request_timeout_ms,
            "suspendDurationSec": suspend_s, "production": {"target": tgt, "fallbacks": list(fallbacks)},
            "sandbox": sandbox}


def ratelimit(pid, unit="minute", scope="api", **limits):
    p = {"id": pid, "type": "aiRateLimit", "unit": unit, "scope": scope}
    p.update(limits)
    return p


def api(aid, base_path, endpoints, policies=(), name=None, vendor="v-openai", version="1.0",
        default_version=False, subscription=False, operations=None):
    return {"id": aid, "name": name or aid, "basePath": base_path, "version": version,
            "defaultVersion": default_version, "vendor": vendor, "subscriptionValidation": subscription,
            "operations": operations if operations is not None else
            [{"target": t, "verb": "POST", "secured": True}
             for t in ("/chat/completions", "/completions", "/embeddings", "/images/generations",
                       "/audio/transcriptions", "/audio/translations")],
            "endpoints": list(endpoints), "policies": list(policies)}


def key(kid, raw, app="app-1", kind="production", expires=None, subscriptions=()):
    """A key of application app. subscriptions are the application's: snapshot()
    moves them (the union over the application's keys) to its "applications"
    entry, since the snapshot holds subscriptions once per application."""
    return {"id": kid, "hash": hashlib.sha256(raw.encode()).hexdigest(), "application": app,
            "type": kind, "expiresAt": expires, "_subscriptions": list(subscriptions)}


def application(app_id, subscriptions=(), name=None):
    return {"id": app_id, "name": name or app_id, "subscriptions": list(subscriptions)}


def applications_of(keys):
    """The "applications" of a snapshot from du.key() entries (popping their
    subscriptions), in order of first appearance."""
    apps = {}
    for k in keys:
        a = apps.setdefault(k["application"], application(k["application"]))
        for s in k.pop("_subscriptions", ()):
            if s not in a["subscriptions"]:
                a["subscriptions"].append(s)
    return list(apps.values())


def snapshot_hash(doc):
    """The snapshot's sha256 as schema/config.schema.json defines it (and
    common/config_json.c gw_cfg_hash computes it)."""
    body = {k: doc[k] for k in ("vendors", "apis", "applications", "keys", "issuers") if k in doc}
    compact = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(compact.encode()).hexdigest()


def seal(doc):
    """Sets doc["sha256"] from its content (after an edit); returns doc."""
    doc["sha256"] = snapshot_hash(doc)
    return doc


def snapshot(apis, keys, vendors=None, revision=1, applications=None):
    """The one snapshot builder of the Python tests (the C tests use
    tests/unit/dp_snapshot.h on tests/data/snapshots/). applications default
    to those the keys name, with the subscriptions given to du.key()."""
    keys = [dict(k) for k in keys]
    apps = applications_of(keys)
    if applications is not None:
        apps = list(applications)
    doc = {"schemaVersion": 1, "revision": revision, "sha256": "",
           "generatedAt": "2026-01-01T00:00:00Z",
           "vendors": vendors if vendors is not None else [vendor_openai(), vendor_azure()],
           "apis": list(apis), "applications": apps, "keys": keys}
    return seal(doc)


def write_snapshot(doc, path=None):
    """Writes doc atomically (rename) and returns the path."""
    if path is None:
        fd, path = tempfile.mkstemp(prefix="mm-snap-", suffix=".json")
        os.close(fd)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)
    return path


# --- the mock upstream -------------------------------------------------------

def mock_faults(m, rules):
    r = mm.request(m.port, "POST", "/__mock/faults", body={"rules": rules})
    assert r.status == 200, r.text


def mock_requests(m):
    r = mm.request(m.port, "GET", "/__mock/requests")
    assert r.status == 200, r.text
    return r.json()["items"]


def mock_clear(m):
    r = mm.request(m.port, "DELETE", "/__mock/requests")
    assert r.status == 204, r.text


def mock_stats(m):
    r = mm.request(m.port, "GET", "/__mock/stats")
    assert r.status == 200, r.text
    return r.json()


def lower_headers(item):
    return {k.lower(): v for k, v in item["headers"].items()}


# --- calling the gateway -------------------------------------------------------

def chat(dp, key_value, model="gpt-4o", path="/api/1.0" + CHAT, stream=False, extra=None, headers=None,
         timeout=30.0):
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    if stream:
        body["stream"] = True
    body.update(extra or {})
    h = dict(headers or {})
    if key_value is not None:
        h["Authorization"] = "Bearer " + key_value
    return mm.request(dp.port, "POST", path, body=body, headers=h, timeout=timeout)


class Stream:
    """A streamed request read line by line as it arrives."""

    def __init__(self, port, path, body, key_value, timeout=30.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * mm.SLOW)
        h = {"Content-Type": "application/json"}
        if key_value:
            h["Authorization"] = "Bearer " + key_value
        self.t0 = time.time()
        self.conn.request("POST", path, body=json.dumps(body), headers=h)
        self.resp = self.conn.getresponse()

    def events(self):
        """Yields (seconds since start, payload) for each `data:` line."""
        while True:
            line = self.resp.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n")
            if line.startswith(b"data: "):
                yield time.time() - self.t0, line[6:].decode()

    def close(self):
        self.conn.close()


def metric_value(text, name, **labels):
    """Sum of the samples of name whose labels include the given ones."""
    total = 0.0
    found = False
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, val = line.rpartition(" ")
        if all('%s="%s"' % (k, v) in head for k, v in labels.items()):
            total += float(val)
            found = True
    return total if found else None


def access_log(dp):
    """The data plane's access-log entries so far (the JSON lines of its
    stderr), oldest first."""
    out = []
    for line in dp.stderr().splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def wait_logged(dp, pred, timeout=5.0, what="an access-log entry"):
    """Waits until an access-log entry satisfies pred; returns it."""
    def find():
        return next((a for a in access_log(dp) if pred(a)), None)
    return mm.wait_until(find, timeout=timeout, interval=0.05, what=what)


def port_closed(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


# --- a recording upstream in the test process --------------------------------

class RecordingUpstream:
    """A tiny HTTP/1.1 upstream in a thread that records the raw request line
    (with the query string, which the mock does not keep) and headers, and
    answers a fixed chat completion. Use as a context manager."""

    def __init__(self):
        import http.server
        import threading
        outer = self
        self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                outer.seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                   "body": body})
                out = json.dumps({"object": "chat.completion", "model": "x", "choices": [],
                                  "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class SilentUpstream:
    """An upstream that reads requests and never answers, and counts the
    connections the gateway closed (a cancelled transfer). Use as a context
    manager."""

    def __init__(self):
        import threading
        self._threading = threading
        self.lock = threading.Lock()
        self.requests = 0  # request heads received
        self.closed = 0    # connections the other side closed
        self._stop = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c):
        data = b""
        with c:
            c.settimeout(None)
            while True:
                try:
                    chunk = c.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                before = data.count(b"\r\n\r\n")
                data += chunk
                if data.count(b"\r\n\r\n") > before:
                    with self.lock:
                        self.requests += 1
        with self.lock:
            self.closed += 1

    def stats(self):
        with self.lock:
            return self.requests, self.closed

    def close(self):
        self._stop = True
        self.thread.join(timeout=5)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
