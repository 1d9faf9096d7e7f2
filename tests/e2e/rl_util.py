"""Helpers of the rate-limit end-to-end tests (test_ratelimit*.py): a config
snapshot with one rate-limited API in front of the mock, written to a file
for `modelmux-dp --config`, the fake-clock offset that puts the data plane at
a chosen point of a window, and a few HTTP helpers."""
import concurrent.futures
import json
import os
import tempfile
import time

import dp_util as du
import mm

BASE = "/rl"
CHAT = BASE + "/v1/chat/completions"
OPEN = BASE + "/v1/embeddings"  # an unsecured operation of the same API
API_ID = "api-rl"
API_NAME = "rl-api"
KEYS = {"app-a": "mm-key-app-a-0123456789", "app-b": "mm-key-app-b-0123456789"}

VENDOR = {
    "id": "v-openai", "name": "OpenAI", "apiVersion": "v1", "builtin": True,
    "models": ["gpt-4o", "gpt-4o-mini"],
    "requestModel": {"in": "body", "field": "model"},
    "responseModel": {"in": "body", "field": "model"},
    "usage": {"promptTokens": "usage.prompt_tokens", "completionTokens": "usage.completion_tokens",
              "totalTokens": "usage.total_tokens"},
    "auth": {"header": "Authorization", "prefix": "Bearer "},
}


def snapshot(mock_url, limit, revision=1):
    """The snapshot document: API_ID with the aiRateLimit policy `limit`
    (a dict of its fields, e.g. {"unit": "minute", "scope": "api",
    "requests": 5}; None: no policy) and keys of two applications."""
    policies = []
    if limit is not None:
        policies.append({"id": "pol-rl", "type": "aiRateLimit"})
        policies[0].update(limit)
    api = {
        "id": API_ID, "name": API_NAME, "basePath": BASE, "version": "v1",
        "defaultVersion": False, "vendor": "v-openai", "subscriptionValidation": False,
        "operations": [{"target": "/chat/completions", "verb": "POST", "secured": True},
                       {"target": "/embeddings", "verb": "POST", "secured": False}],
        "endpoints": [
            {"id": "ep-prod", "name": "mock-prod", "environment": "production",
             "url": mock_url + "/v1", "timeoutMs": 30000, "auth": None},
            {"id": "ep-sand", "name": "mock-sand", "environment": "sandbox",
             "url": mock_url + "/v1", "timeoutMs": 30000, "auth": None},
        ],
        "policies": policies,
    }
    keys = [du.key("k-" + app, key, app=app) for app, key in sorted(KEYS.items())]
    return du.snapshot([api], keys, vendors=[VENDOR], revision=revision)


def write_snapshot(doc):
    d = tempfile.mkdtemp(prefix="mm-rl-snap-")
    path = os.path.join(d, "snapshot.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def clock_offset(seconds_into_hour=2.0):
    """MODELMUX_FAKE_NOW_OFFSET_S that puts the data plane's wall clock
    `seconds_into_hour` seconds past the start of an hour (and so of a
    minute and, for a small value, well inside every window), in the future."""
    now = time.time()
    return int(3600 - (now % 3600) + seconds_into_hour)


def fake_now(offset):
    return time.time() + offset


def chat(dp, key="app-a", body=None, headers=None, path=CHAT, timeout=30.0):
    h = dict(headers or {})
    if key is not None:
        h["Authorization"] = "Bearer " + KEYS.get(key, key)
    b = body if body is not None else {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    return mm.request(dp.port, "POST", path, body=b, headers=h, timeout=timeout)


def run_concurrently(n_callers, fn, per_caller=1):
    """Runs fn() per_caller times in each of n_callers threads, all at once.
    Returns the list of results."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=n_callers) as ex:
        futures = [ex.submit(lambda: [fn() for _ in range(per_caller)]) for _ in range(n_callers)]
        out = []
        for f in futures:
            out.extend(f.result())
        return out


def metric(text, name, labels=None):
    """The value of one sample (labels: dict that must match), or None."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head == name and not labels:
            return float(value)
        if head.startswith(name + "{") and labels:
            got = dict(p.split("=", 1) for p in head[len(name) + 1:-1].split(",") if "=" in p)
            got = {k: v.strip('"') for k, v in got.items()}
            if all(got.get(k) == v for k, v in labels.items()):
                return float(value)
    return None


def mock_faults(mock, rules):
    r = mm.request(mock.port, "POST", "/__mock/faults", body={"rules": rules})
    assert r.status == 200, r.text


def mock_requests(mock):
    r = mm.request(mock.port, "GET", "/__mock/requests")
    assert r.status == 200
    return r.json()["items"]


def sse_events(resp_body):
    """The data payloads of a server-sent-events body, in order."""
    out = []
    for line in resp_body.decode("utf-8", "replace").splitlines():
        if line.startswith("data: "):
            out.append(line[6:])
    return out


# --- many applications (issue 11 item 15) -----------------------------------

LOCAL_FIRST_BUCKETS = 65536 // 8  # rl_local.c's first generation, in buckets


def app_key(app):
    return "mm-key-%s-0123456789" % app


def apps_snapshot(mock_url, apps, limit):
    """A snapshot of the rate-limited API with one production key per
    application in apps (key app_key(app))."""
    doc = snapshot(mock_url, limit)
    doc["keys"] = [du.key("k-" + app, app_key(app), app=app) for app in apps]
    doc["applications"] = du.applications_of(doc["keys"])
    return du.seal(doc)


def _fnv_mix(data):
    """ratelimit.c's hash_str: FNV-1a 64 with a final mix."""
    h = 1469598103934665603
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 33
    return h or 1


def local_bucket(app, day_start, api_id=API_ID):
    """The first-generation bucket of rl_local.c that the day window of app
    (scope application) lands in: ratelimit.c's key text and hash, then
    rl_local.c's bucket hash. Coupled with both files; a test that relies
    on it checks through /metrics that the table really grew."""
    key = "mmrl:86400:%d:%d:%s:a%s" % (day_start, len(api_id), api_id, app)
    k = _fnv_mix(key.encode())
    bh = ((k * 0x9e3779b97f4a7c15) & 0xFFFFFFFFFFFFFFFF) >> 32
    return bh & (LOCAL_FIRST_BUCKETS - 1)


def day_start_with_margin(margin_s=120):
    """The current UTC day's start, after waiting out its last margin_s
    seconds (a test's windows must not change under it)."""
    now = time.time()
    left = 86400 - now % 86400
    if left < margin_s:
        time.sleep(left + 1)
        now = time.time()
    return int(now - now % 86400)


def call_apps(dp, apps, threads=8):
    """One chat request per application in apps, over keep-alive
    connections from `threads` threads. Returns {app: status}."""
    import http.client
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})

    def run(chunk):
        out = {}
        conn = http.client.HTTPConnection("127.0.0.1", dp.port, timeout=30)
        for app in chunk:
            conn.request("POST", CHAT, body=body,
                         headers={"Authorization": "Bearer " + app_key(app),
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            out[app] = r.status
            if r.getheader("connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", dp.port, timeout=30)
        conn.close()
        return out
    chunks = [apps[i::threads] for i in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as ex:
        result = {}
        for part in ex.map(run, chunks):
            result.update(part)
        return result
