"""GET .../models, answered by the data plane from its snapshot (SPEC 2.2),
and routing policies scoped to their operations: an embeddings call through
an API with a chat round robin keeps its model and goes to the first
endpoint; apk-conf export and import keep a policy's "operations"."""
import dp_util as du
import mm
from openai_util import BASE, MODELS, OpenAISystem


def listing(s, key):
    r = s.dp.call("GET", BASE + "/models", key=key)
    assert r.status == 200, r.text
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["object"] == "list"
    for m in doc["data"]:
        assert m["object"] == "model" and m["created"] == 0 and m["owned_by"] == "OpenAI"
    return [m["id"] for m in doc["data"]]


def test_models_listing_from_the_snapshot_never_forwarded():
    s = OpenAISystem()
    assert any(o["target"] == "/models" and o["verb"] == "GET" for o in s.api["operations"])
    # production: the failover policy's target and fallback
    assert listing(s, s.key) == ["gpt-4o", "gpt-4o-mini"]
    # sandbox: no routing policy there, so the vendor's whole list
    assert listing(s, s.sandbox_key) == MODELS
    # secured like the other operations
    r = s.dp.call("GET", BASE + "/models")
    assert r.status == 401
    assert s.dp.call("GET", BASE + "/models", key="not-a-key").status == 401
    assert s.dp.call("POST", BASE + "/models", {}, key=s.key).status == 405
    assert s.mock_requests() == []  # never forwarded
    # a new revision changes the listing at once
    s.cp.ok("DELETE", "/apis/%s/policies/%s" % (s.api["id"], s.policy["id"]), expect=204)
    rev = s.cp.ok("GET", "/revision")["revision"]
    mm.wait_until(lambda: du.metric_value(s.dp.metrics(), "modelmux_config_revision") == rev,
                  what="new revision applied")
    assert listing(s, s.key) == MODELS
    s.stop()


def test_round_robin_routes_only_its_operations():
    s = OpenAISystem(routing="wrr")
    assert s.policy.get("operations") in (None, ["/chat/completions", "/completions", "/responses"])
    for _ in range(4):
        r = s.post("/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b"]})
        assert r.status == 200, r.text
        assert len(r.json()["data"]) == 2
    chat = [s.post("/chat/completions", {"model": "x", "messages": []}).headers["x-modelmux-model"]
            for _ in range(4)]
    resp = [s.post("/responses", {"model": "x", "input": "hi"}).headers["x-modelmux-model"]
            for _ in range(2)]
    assert sorted(chat) == ["gpt-4o", "gpt-4o", "o1-mini", "o1-mini"]
    assert sorted(resp) == ["gpt-4o", "o1-mini"]
    seen = s.mock_requests()
    assert [q["model"] for q in seen if q["path"] == "/v1/embeddings"] == ["text-embedding-3-small"] * 4
    # an operation out of the policy's scope needs no model at the gateway
    # (the upstream is the one to judge: the mock wants one)
    r = s.post("/images/generations", {"prompt": "a cat"})
    assert s.mock_requests()[-1]["path"] == "/v1/images/generations"
    assert r.json()["error"]["message"] == "you must provide a model parameter"
    s.stop()


def test_round_robin_with_its_own_operations_and_apk_conf_round_trip():
    s = OpenAISystem(routing="wrr", operations=["/embeddings"])
    assert s.policy["operations"] == ["/embeddings"]
    r = s.post("/chat/completions", {"model": "gpt-4o-mini", "messages": []})
    assert r.status == 200 and r.headers["x-modelmux-model"] == "gpt-4o-mini"
    models = {s.post("/embeddings", {"model": "e", "input": "a"}).headers["x-modelmux-model"]
              for _ in range(2)}
    assert models == {"gpt-4o", "o1-mini"}
    # a policy naming an operation the API does not have is refused
    bad = dict(s.policy, operations=["/nope"])
    del bad["id"]
    r = s.cp.api("PUT", "/apis/%s/policies/%s" % (s.api["id"], s.policy["id"]), bad)
    assert r.status == 400 and "/nope" in r.json()["error"]["message"]
    # apk-conf: exported with the operations, imported back the same
    r = s.cp.api("GET", "/apis/%s/apk-conf" % s.api["id"])
    assert r.status == 200, r.text
    text = r.text
    assert 'operations: ["/embeddings"]' in text, text
    text = text.replace("basePath: \"/openai\"", "basePath: \"/openai-copy\"").replace(
        "basePath: /openai\n", "basePath: /openai-copy\n")
    r = s.cp.api("POST", "/apis/import", body=text.encode(),
                 headers={"Content-Type": "application/yaml"})
    assert r.status == 201, r.text
    copy = r.json()
    pols = s.cp.ok("GET", "/apis/%s/policies" % copy["id"])["items"]
    rr = [p for p in pols if p["type"] == "modelWeightedRoundRobin"]
    assert len(rr) == 1 and rr[0]["operations"] == ["/embeddings"]
    s.stop()
