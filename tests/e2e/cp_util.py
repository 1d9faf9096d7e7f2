"""Helpers for the control-plane e2e tests (test_cp_*.py): a ControlPlane
that records every response body (so a test can scan them all for secret
values), and builders for a vendor model list, secret, API, endpoints."""
import json
import threading

import mm


class RecordingCP(mm.ControlPlane):
    """mm.ControlPlane whose api() keeps every response for later scans."""

    def __init__(self, *a, **kw):
        self.responses = []
        self._lock = threading.Lock()
        super().__init__(*a, **kw)

    def api(self, method, path, body=None, token=None, headers=None, timeout=30.0):
        r = super().api(method, path, body=body, token=token, headers=headers, timeout=timeout)
        with self._lock:
            self.responses.append(r)
        return r

    def raw(self, method, path, data, content_type="application/json", token=None):
        """A request with a raw body (bytes) and the given Content-Type
        (None: no Content-Type header)."""
        h = {}
        if content_type is not None:
            h["Content-Type"] = content_type
        return self.api(method, path, body=data, headers=h, token=token)


def err_of(r):
    """The {"code", "message"} of an error reply (asserts the shape)."""
    j = r.json()
    assert set(j) == {"error"}, j
    assert isinstance(j["error"]["code"], str) and j["error"]["code"], j
    assert isinstance(j["error"]["message"], str) and j["error"]["message"], j
    return j["error"]


def make_api(cp, base="/chat", version="v1", vendor="openai", **extra):
    body = {"name": "api" + base.replace("/", "-"), "basePath": base, "version": version,
            "vendor": vendor}
    body.update(extra)
    return cp.ok("POST", "/apis", body, expect=201)


def make_endpoint(cp, api_id, name, env="production", url="http://127.0.0.1:9/v1", **extra):
    body = {"name": name, "environment": env, "url": url}
    body.update(extra)
    return cp.ok("POST", "/apis/%s/endpoints" % api_id, body, expect=201)


def revision(cp):
    return cp.ok("GET", "/revision")["revision"]


def dp_config(cp, after=0, wait=None, token=mm.DP_TOKEN, dp_id="dp-test", timeout=90):
    q = "/dp/v1/config?after=%d" % after
    if wait is not None:
        q += "&wait=%s" % wait
    h = {"X-Dataplane-Id": dp_id} if dp_id is not None else {}
    return mm.request(cp.port, "GET", q, headers=h, token=token, timeout=timeout)


def snapshot(cp):
    r = dp_config(cp, after=0)
    assert r.status == 200, r
    return r.json()


def proc_status(pid, field):
    """An integer field of /proc/PID/status ("Threads", "VmRSS" in KiB)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def read_status(sock):
    """The status code of the HTTP response arriving on sock."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ")[1])


def dumps_sorted(obj):
    """JSON as jansson's JSON_COMPACT|JSON_SORT_KEYS writes it."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
