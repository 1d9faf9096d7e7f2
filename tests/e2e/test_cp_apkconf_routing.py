"""The SPEC section 7 example, imported as apk-conf, routes through a real
data plane to the mock upstream: requests spread over the three production
models by weighted round robin, with the secret as the upstream
Authorization header and the caller's API key never forwarded."""
import collections
import json
import os

import mm

SPEC_EXAMPLE = os.path.join(mm.SOURCE_DIR, "tests", "data", "apkconf", "spec-example.yaml")
PATH = "/chat-service-prod-sand/1.0/chat/completions"


def test_imported_spec_example_routes_through_the_data_plane():
    cp = mm.ControlPlane()
    mock = mm.MockLLM()
    with open(SPEC_EXAMPLE, "rb") as f:
        conf = f.read().replace(b"https://api.openai.com/v1", (mock.url + "/v1").encode())
    r = cp.api("POST", "/apis/import", body=conf, headers={"Content-Type": "application/yaml"})
    assert r.status == 201, r
    # the secret is created after the import (SPEC 7 allows either order)
    cp.ok("PUT", "/secrets/open-ai-secret", {"apiKey": "sk-routing-secret"})
    app = cp.ok("POST", "/applications", {"name": "apkconf-router"})
    key = cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "production"})["key"]

    dp = mm.DataPlane(cp=cp)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}

    def send():
        return dp.call("POST", PATH, body, key=key)

    mm.wait_until(lambda: send().status == 200, timeout=15, what="the imported API to route")
    assert mm.request(mock.port, "DELETE", "/__mock/requests").status == 204
    for _ in range(30):
        r = send()
        assert r.status == 200, r
    recs = mm.request(mock.port, "GET", "/__mock/requests").json()["items"]
    assert len(recs) == 30
    models = collections.Counter(rec["model"] for rec in recs)
    assert set(models) == {"gpt-4o", "o1-mini", "gpt-4o-mini"}, models
    assert all(n >= 5 for n in models.values()), models
    text = json.dumps(recs)
    assert "Bearer sk-routing-secret" in text
    assert key not in text
    dp.stop()
    mock.stop()
    cp.stop()
