#!/usr/bin/env python3
"""Configures the running demo system through the control plane's REST API,
sends a dozen requests through the data plane, and prints who answered them.

Called by scripts/demo.sh once the control plane, the data plane and the two
mock upstreams listen. Standard library only. Steps:

  1. imports scripts/demo/chat-service.apk-conf.yaml (SPEC section 7) with its
     production endpoint pointed at mock A and its sandbox endpoint at mock B;
  2. creates the secret open-ai-secret;
  3. adds a second production endpoint (mock B) and replaces the production
     targets of the imported round-robin policy with the three models spread
     over both endpoints, so the rotation spans models AND endpoints;
  4. creates an application with a production and a sandbox API key;
  5. waits until the data plane has applied the latest revision;
  6. sends 12 chat completions and prints a table (request, key type, model,
     endpoint, upstream, status) from the x-modelmux-* response headers and
     the mock's reply text ("mock reply from <mock name> for <model>").

It writes the keys and the API path as shell assignments to --env-out, for
demo.sh to print a ready-to-paste curl command. Exit status 0 on success;
on any failure one line "demo: ..." on stderr and exit 1.
"""
import argparse
import json
import os
import re
import shlex
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
APK_CONF = os.path.join(HERE, "chat-service.apk-conf.yaml")
OPENAI_URL = "https://api.openai.com/v1"
MODELS = ("gpt-4o", "o1-mini", "gpt-4o-mini")
SECRET = "open-ai-secret"
APP_NAME = "demo-app"
EXTRA_ENDPOINT = "mock-b-production"
# Key type of each request sent: one full production rotation (3 models x 2
# endpoints), a sandbox rotation, then production again.
KEY_SEQUENCE = ["production"] * 6 + ["sandbox"] * 3 + ["production"] * 3


class DemoError(Exception):
    pass


def http(method, url, body=None, headers=None, timeout=10.0):
    """One request; returns (status, headers as a lower-case dict, body bytes).
    HTTP error statuses are returned, not raised; connection errors raise."""
    data = body
    h = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


class ControlPlane:
    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, headers=None, expect=(200, 201, 204)):
        h = {"Authorization": "Bearer " + self.token}
        h.update(headers or {})
        status, _, payload = http(method, self.base + "/api/v1" + path, body, h)
        if status not in expect:
            raise DemoError("%s /api/v1%s answered %d: %s"
                            % (method, path, status, payload.decode("utf-8", "replace")[:500]))
        return json.loads(payload) if payload else None


def apk_conf_for(mock_a, mock_b):
    """The SPEC section 7 apk-conf with every production URL replaced by
    mock_a and every sandbox URL by mock_b (the file is otherwise kept as
    it stands: this is a line rewrite, not a YAML round trip)."""
    out = []
    env = None
    with open(APK_CONF, encoding="utf-8") as f:
        for line in f:
            key = line.strip()
            if key in ("production:", "productionModels:"):
                env = "production"
            elif key in ("sandbox:", "sandboxModels:"):
                env = "sandbox"
            if OPENAI_URL in line:
                if env is None:
                    raise DemoError("apk-conf: endpoint URL outside production/sandbox: " + key)
                line = line.replace(OPENAI_URL, mock_a if env == "production" else mock_b)
            out.append(line)
    return "".join(out)


def configure(cp, mock_a, mock_b):
    """Steps 1-4. Returns (api, endpoints by name, production key, sandbox key)."""
    api = cp.call("POST", "/apis/import", apk_conf_for(mock_a, mock_b),
                  headers={"Content-Type": "application/yaml"}, expect=(201,))
    api_id = api["id"]
    print("demo: imported apk-conf as API %s (id %s)" % (api.get("name"), api_id))
    cp.call("PUT", "/secrets/" + SECRET, {"apiKey": "sk-demo"}, expect=(200, 201, 204))
    print("demo: secret %s created" % SECRET)

    endpoints = cp.call("GET", "/apis/%s/endpoints" % api_id)["items"]
    prod_a = [e for e in endpoints if e["environment"] == "production"]
    if len(prod_a) != 1:
        raise DemoError("expected one imported production endpoint, got %r" % endpoints)
    prod_a = prod_a[0]
    security = prod_a.get("security") or {"secret": SECRET, "secretKey": "apiKey",
                                          "header": "Authorization", "prefix": "Bearer "}
    prod_b = cp.call("POST", "/apis/%s/endpoints" % api_id,
                     {"name": EXTRA_ENDPOINT, "environment": "production", "url": mock_b,
                      "security": security, "timeoutMs": 60000}, expect=(201,))
    print("demo: added production endpoint %s -> %s" % (prod_b["name"], mock_b))

    policies = cp.call("GET", "/apis/%s/policies" % api_id)["items"]
    rr = [p for p in policies if p["type"] in ("modelWeightedRoundRobin", "modelRoundRobin")]
    if len(rr) != 1:
        raise DemoError("expected one round-robin policy from the import, got %r" % policies)
    rr = rr[0]
    production = []
    for i in range(2 * len(MODELS)):
        # gpt-4o@A, o1-mini@B, gpt-4o-mini@A, gpt-4o@B, o1-mini@A, gpt-4o-mini@B
        ep = prod_a if i % 2 == 0 else prod_b
        production.append({"model": MODELS[i % len(MODELS)], "endpoint": ep["id"], "weight": 1})
    whole = {k: v for k, v in rr.items() if k != "id"}
    whole["production"] = production
    cp.call("PUT", "/apis/%s/policies/%s" % (api_id, rr["id"]), whole, expect=(200,))
    print("demo: production round robin now spans %d models x 2 endpoints" % len(MODELS))

    app = cp.call("POST", "/applications", {"name": APP_NAME}, expect=(201,))
    keys = {}
    for kind in ("production", "sandbox"):
        keys[kind] = cp.call("POST", "/applications/%s/keys" % app["id"], {"type": kind},
                             expect=(201,))["key"]
    print("demo: application %s with a production and a sandbox API key" % APP_NAME)
    by_name = {e["name"]: e for e in cp.call("GET", "/apis/%s/endpoints" % api_id)["items"]}
    return api, by_name, keys["production"], keys["sandbox"]


def wait_applied(cp, dp_admin, timeout):
    """Step 5: until a data plane reports the current revision and /readyz is 200."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        rev = cp.call("GET", "/revision")["revision"]
        last = cp.call("GET", "/dataplanes")["items"]
        applied = any(isinstance(d.get("revision"), int) and d["revision"] >= rev for d in last)
        try:
            ready = http("GET", dp_admin + "/readyz", timeout=2)[0] == 200
        except OSError:
            ready = False
        if applied and ready:
            print("demo: data plane applied revision %d" % rev)
            return rev
        time.sleep(0.2)
    raise DemoError("the data plane did not apply the config within %.0fs (dataplanes: %s)"
                    % (timeout, json.dumps(last)))


def upstream_of(endpoints, name):
    e = endpoints.get(name)
    if not e:
        return "?"
    return urllib.parse.urlsplit(e["url"]).netloc


def send(dp, path, keys):
    """Step 6: returns one row per request."""
    rows = []
    for i, kind in enumerate(KEY_SEQUENCE, 1):
        body = {"model": MODELS[0],
                "messages": [{"role": "user", "content": "Hello from the modelmux demo (%d)" % i}]}
        status, h, payload = http("POST", dp + path, body,
                                  {"Authorization": "Bearer " + keys[kind]}, timeout=30)
        answered = "-"
        try:
            text = json.loads(payload)["choices"][0]["message"]["content"]
            m = re.search(r"mock reply from (\S+) for", text)
            if m:
                answered = m.group(1)
        except (ValueError, KeyError, IndexError, TypeError):
            pass
        rows.append({"n": i, "key": kind, "model": h.get("x-modelmux-model", "-"),
                     "endpoint": h.get("x-modelmux-endpoint", "-"), "mock": answered,
                     "status": status,
                     "error": "" if status == 200 else payload.decode("utf-8", "replace")[:200]})
    return rows


def print_table(rows, endpoints):
    head = ("#", "key", "model", "endpoint", "upstream", "answered by", "status")
    lines = [[str(r["n"]), r["key"], r["model"], r["endpoint"],
              upstream_of(endpoints, r["endpoint"]), r["mock"], str(r["status"])] for r in rows]
    width = [max(len(x) for x in col) for col in zip(head, *lines)]
    fmt = "  ".join("%%-%ds" % w for w in width)
    print()
    print((fmt % head).rstrip())
    print((fmt % tuple("-" * w for w in width)).rstrip())
    for line in lines:
        print((fmt % tuple(line)).rstrip())
    print()
    ok = [r for r in rows if r["status"] == 200]
    for what, key in (("models", "model"), ("endpoints", "endpoint"), ("mocks", "mock")):
        counts = {}
        for r in ok:
            counts[r[key]] = counts.get(r[key], 0) + 1
        print("  %-10s %s" % (what + ":", ", ".join("%s x%d" % kv for kv in sorted(counts.items()))))
    for r in rows:
        if r["error"]:
            print("  request %d: %d %s" % (r["n"], r["status"], r["error"]))
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cp", required=True, help="control plane base URL")
    ap.add_argument("--token", required=True, help="admin token")
    ap.add_argument("--dp", required=True, help="data plane base URL")
    ap.add_argument("--dp-admin", required=True, help="data plane admin base URL")
    ap.add_argument("--mock-a", required=True, help="mock A base URL (with /v1)")
    ap.add_argument("--mock-b", required=True, help="mock B base URL (with /v1)")
    ap.add_argument("--env-out", required=True, help="file for the shell assignments")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    cp = ControlPlane(a.cp, a.token)
    try:
        api, endpoints, prod_key, sand_key = configure(cp, a.mock_a, a.mock_b)
        wait_applied(cp, a.dp_admin, a.timeout)
        path = "%s/%s/chat/completions" % (api["basePath"], api["version"])
        rows = send(a.dp, path, {"production": prod_key, "sandbox": sand_key})
    except (DemoError, OSError, ValueError, KeyError) as e:
        print("demo: %s" % e, file=sys.stderr)
        return 1
    print_table(rows, endpoints)
    with open(a.env_out, "w", encoding="utf-8") as f:
        f.write("DEMO_API_PATH=%s\n" % shlex.quote(path))
        f.write("DEMO_PROD_KEY=%s\n" % shlex.quote(prod_key))
        f.write("DEMO_SANDBOX_KEY=%s\n" % shlex.quote(sand_key))
    failed = [r for r in rows if r["status"] != 200]
    if failed:
        print("demo: %d of %d requests failed" % (len(failed), len(rows)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
