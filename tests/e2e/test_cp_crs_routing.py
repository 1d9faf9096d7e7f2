"""WSO2 APK custom resources imported on the control plane serve through a
real data plane to the mock upstream (SPEC 7.1): APK's Azure OpenAI example
sends the Secret's value in api-key without prefix to the deployment's path
and answers with the rate-limit headers of its AIRateLimitPolicy; the
v1alpha4 modelBasedRoundRobin over two Backends spreads requests by weight,
each model to its Backend."""
import collections
import os

import mm

DATA = os.path.join(mm.SOURCE_DIR, "tests", "data", "crs")
YAML_CT = {"Content-Type": "application/yaml"}
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def data(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def app_key(cp, name):
    app = cp.ok("POST", "/applications", {"name": name})
    return cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "production"})["key"]


def recorded(mock):
    return mm.request(mock.port, "GET", "/__mock/requests").json()["items"]


def clear(mock):
    assert mm.request(mock.port, "DELETE", "/__mock/requests").status in (200, 204)


def header(rec, name):
    h = rec["headers"]
    if isinstance(h, dict):
        return {k.lower(): v for k, v in h.items()}.get(name)
    for pair in h:
        if pair[0].lower() == name:
            return pair[1]
    return None


def test_azure_example_serves_with_api_key_and_rate_limit_headers():
    cp = mm.ControlPlane()
    mock = mm.MockLLM()
    dp = None
    try:
        body = data("azure-openai.yaml")
        body = body.replace(b'host: "xxxx.openai.azure.com"', b'host: "127.0.0.1"')
        body = body.replace(b"port: 443", b"port: %d" % mock.port)
        body = body.replace(b'protocol: "https"', b'protocol: "http"')
        r = cp.api("POST", "/apis/import", body=body, headers=YAML_CT)
        assert r.status == 201, r
        key = app_key(cp, "azure-crs")
        dp = mm.DataPlane(cp=cp)
        path = "/QXp1cmUgT3BlbkFJIFNlcnZpY2UgQVBJMjAyNC0wNi0wMQ/1.0.0/chat/completions"

        def send():
            return dp.call("POST", path, dict(CHAT, model="gpt-4o"), key=key)

        mm.wait_until(lambda: send().status == 200, timeout=15 * mm.SLOW,
                      what="the imported Azure API to serve")
        clear(mock)
        r = send()
        assert r.status == 200, r
        assert r.headers["x-ratelimit-limit-requests"] == "6000"
        assert int(r.headers["x-ratelimit-remaining-requests"]) < 6000
        assert r.headers["x-ratelimit-limit-tokens"] == "15000"
        recs = recorded(mock)
        assert len(recs) == 1
        rec = recs[0]
        assert rec["path"].startswith("/openai/deployments/gpt-4o/chat/completions"), rec["path"]
        assert header(rec, "api-key") == "sk-azure-secret-42"  # decoded, no prefix
        assert header(rec, "authorization") is None
        assert key not in str(rec)

        # {deployment-id} written as {model}: the caller's model picks the deployment
        body2 = body.replace(b"/QXp1cmUgT3BlbkFJIFNlcnZpY2UgQVBJMjAyNC0wNi0wMQ/1.0.0", b"/azure-m/1.0.0")
        body2 = body2.replace(b"/openai/deployments/gpt-4o", b"/openai/deployments/{model}")
        body2 = body2.replace(b"name: azure-open-ai", b"name: azure-m")
        r = cp.api("POST", "/apis/import", body=body2, headers=YAML_CT)
        assert r.status == 201, r
        path2 = "/azure-m/1.0.0/chat/completions"
        mm.wait_until(lambda: dp.call("POST", path2, dict(CHAT, model="gpt-4o-mini"),
                                      key=key).status == 200,
                      timeout=15 * mm.SLOW, what="the {model} deployment to serve")
        clear(mock)
        r = dp.call("POST", path2, dict(CHAT, model="gpt-4o-mini"), key=key)
        assert r.status == 200, r
        rec = recorded(mock)[0]
        assert rec["path"].startswith("/openai/deployments/gpt-4o-mini/chat/completions"), rec
        assert header(rec, "api-key") == "sk-azure-secret-42"
    finally:
        if dp:
            dp.stop()
        mock.stop()
        cp.stop()


def test_model_based_round_robin_over_backends_spreads_by_weight():
    cp = mm.ControlPlane()
    mock1 = mm.MockLLM()
    mock2 = mm.MockLLM()
    dp = None
    try:
        body = data("model-routing.yaml")
        one, two = body.index(b'name: "chat-backend-1"\n  labels'), body.index(b'name: "chat-backend-2"\n  labels')
        for start, mock in ((two, mock2), (one, mock1)):  # the later first: offsets stay right
            part = body[start:].replace(b'host: "api.openai.com"', b'host: "127.0.0.1"', 1)
            part = part.replace(b"port: 443", b"port: %d" % mock.port, 1)
            part = part.replace(b'protocol: "https"', b'protocol: "http"', 1)
            body = body[:start] + part
        r = cp.api("POST", "/apis/import", body=body, headers=YAML_CT)
        assert r.status == 201, r
        key = app_key(cp, "rr-crs")
        dp = mm.DataPlane(cp=cp)
        path = "/chat-service-prod-sand/1.0/chat/completions"

        def send():
            return dp.call("POST", path, dict(CHAT, model="gpt-4o"), key=key)

        mm.wait_until(lambda: send().status == 200, timeout=15 * mm.SLOW,
                      what="the imported round robin to serve")
        clear(mock1)
        clear(mock2)
        for _ in range(50):
            r = send()
            assert r.status == 200, r
        recs1, recs2 = recorded(mock1), recorded(mock2)
        assert len(recs1) + len(recs2) == 50
        # weights 3 (gpt-4o, backend 1), 1 (o1-mini, backend 2), 1 (gpt-4o-mini, backend 1)
        m1 = collections.Counter(rec["model"] for rec in recs1)
        m2 = collections.Counter(rec["model"] for rec in recs2)
        assert set(m1) == {"gpt-4o", "gpt-4o-mini"} and set(m2) == {"o1-mini"}, (m1, m2)
        assert 24 <= m1["gpt-4o"] <= 36, m1
        assert 5 <= m1["gpt-4o-mini"] <= 15 and 5 <= m2["o1-mini"] <= 15, (m1, m2)
        for rec in recs1 + recs2:
            assert header(rec, "authorization") == "Bearer sk-round-robin"
    finally:
        if dp:
            dp.stop()
        mock1.stop()
        mock2.stop()
        cp.stop()
