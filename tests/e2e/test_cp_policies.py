"""Policies (SPEC 2.2): every validation and combination rule."""
import pytest

from cp_util import RecordingCP, err_of, make_api, make_endpoint, revision


@pytest.fixture
def env():
    cp = RecordingCP()
    api = make_api(cp)
    p1 = make_endpoint(cp, api["id"], "p1")
    p2 = make_endpoint(cp, api["id"], "p2")
    s1 = make_endpoint(cp, api["id"], "s1", env="sandbox")
    other = make_api(cp, base="/other")
    o1 = make_endpoint(cp, other["id"], "o1")
    return cp, api["id"], p1["id"], p2["id"], s1["id"], o1["id"]


def post(cp, api, body):
    return cp.api("POST", "/apis/%s/policies" % api, body)


def test_round_robin_shapes(env):
    cp, api, p1, p2, s1, o1 = env
    r = post(cp, api, {"type": "modelRoundRobin", "production": [{"model": "gpt-4o", "endpoint": p1}],
                       "sandbox": [{"model": "o1-mini", "endpoint": s1}]})
    assert r.status == 201
    pol = r.json()
    assert pol["suspendDurationSec"] == 60 and pol["production"] == [{"model": "gpt-4o", "endpoint": p1}]
    assert cp.ok("GET", "/apis/%s/policies/%s" % (api, pol["id"])) == pol
    assert cp.ok("GET", "/apis/%s/policies" % api)["items"] == [pol]
    w = {"type": "modelWeightedRoundRobin", "suspendDurationSec": 5,
         "production": [{"model": "gpt-4o", "endpoint": p1, "weight": 1000},
                        {"model": "gpt-4o-mini", "endpoint": p2, "weight": 1}]}
    got = cp.ok("PUT", "/apis/%s/policies/%s" % (api, pol["id"]), w)
    assert got["type"] == "modelWeightedRoundRobin" and got["production"][0]["weight"] == 1000
    assert got["sandbox"] == []
    patched = cp.ok("PATCH", "/apis/%s/policies/%s" % (api, pol["id"]), {"suspendDurationSec": 7})
    assert patched["suspendDurationSec"] == 7 and patched["production"] == got["production"]


@pytest.mark.parametrize("body,field", [
    ({"type": "modelRoundRobin", "production": [{"model": "nope", "endpoint": "P1"}]}, "production[0].model"),
    ({"type": "modelRoundRobin", "production": [{"model": "gpt-4o", "endpoint": "S1"}]}, "production[0].endpoint"),
    ({"type": "modelRoundRobin", "sandbox": [{"model": "gpt-4o", "endpoint": "P1"}]}, "sandbox[0].endpoint"),
    ({"type": "modelRoundRobin", "production": [{"model": "gpt-4o", "endpoint": "O1"}]}, "production[0].endpoint"),
    ({"type": "modelRoundRobin", "production": [{"model": "gpt-4o", "endpoint": "nope"}]}, "production[0].endpoint"),
    ({"type": "modelRoundRobin", "production": [{"endpoint": "P1"}]}, "production[0].model"),
    ({"type": "modelRoundRobin", "production": []}, "production"),
    ({"type": "modelRoundRobin", "production": {"model": "gpt-4o"}}, "production"),
    ({"type": "modelRoundRobin", "production": [{"model": "gpt-4o", "endpoint": "P1"}] * 2}, "production[1]"),
    ({"type": "modelRoundRobin", "suspendDurationSec": -1,
      "production": [{"model": "gpt-4o", "endpoint": "P1"}]}, "suspendDurationSec"),
    ({"type": "modelWeightedRoundRobin", "production": [{"model": "gpt-4o", "endpoint": "P1"}]}, "production[0].weight"),
    ({"type": "modelWeightedRoundRobin", "production": [{"model": "gpt-4o", "endpoint": "P1", "weight": 0}]}, "production[0].weight"),
    ({"type": "modelWeightedRoundRobin", "production": [{"model": "gpt-4o", "endpoint": "P1", "weight": 1001}]}, "production[0].weight"),
    ({"type": "modelWeightedRoundRobin", "production": [{"model": "gpt-4o", "endpoint": "P1", "weight": 1.5}]}, "production[0].weight"),
    ({"type": "modelWeightedRoundRobin", "production": [{"model": "gpt-4o", "endpoint": "P1", "weight": "2"}]}, "production[0].weight"),
    ({"type": "modelFailover"}, "production"),
    ({"type": "modelFailover", "production": {"fallbacks": []}}, "production.target"),
    ({"type": "modelFailover", "production": {"target": {"model": "gpt-4o", "endpoint": "P1"},
                                               "fallbacks": [{"model": "x", "endpoint": "P2"}]}}, "production.fallbacks[0].model"),
    ({"type": "modelFailover", "requestTimeoutMs": 0,
      "production": {"target": {"model": "gpt-4o", "endpoint": "P1"}}}, "requestTimeoutMs"),
    ({"type": "aiRateLimit", "unit": "week", "requests": 1}, "unit"),
    ({"type": "aiRateLimit", "requests": 1}, "unit"),
    ({"type": "aiRateLimit", "unit": "minute"}, "requests"),
    ({"type": "aiRateLimit", "unit": "minute", "scope": "user", "requests": 1}, "scope"),
    ({"type": "aiRateLimit", "unit": "minute", "requests": -5}, "requests"),
    ({"type": "aiRateLimit", "unit": "minute", "totalTokens": "many"}, "totalTokens"),
    ({"type": "roundRobin"}, "type"),
    ({}, "type"),
])
def test_invalid_policies(env, body, field):
    cp, api, p1, p2, s1, o1 = env
    import json
    text = json.dumps(body).replace('"P1"', '"%s"' % p1).replace('"P2"', '"%s"' % p2) \
        .replace('"S1"', '"%s"' % s1).replace('"O1"', '"%s"' % o1)
    rev = revision(cp)
    r = post(cp, api, json.loads(text))
    assert r.status == 400, r
    assert field in err_of(r)["message"], (field, r)
    assert revision(cp) == rev


def rr(p):
    return {"type": "modelRoundRobin", "production": [{"model": "gpt-4o", "endpoint": p}]}


def fo(model, p):
    return {"type": "modelFailover", "production": {"target": {"model": model, "endpoint": p},
                                                    "fallbacks": []}}


def test_combinations(env):
    cp, api, p1, p2, s1, o1 = env
    lb = post(cp, api, rr(p1)).json()
    r = post(cp, api, dict(rr(p2), type="modelWeightedRoundRobin",
                           production=[{"model": "gpt-4o", "endpoint": p2, "weight": 2}]))
    assert r.status == 409 and err_of(r)["code"] == "policy_conflict"
    assert post(cp, api, rr(p2)).status == 409
    assert post(cp, api, fo("gpt-4o", p1)).status == 409
    rl = {"type": "aiRateLimit", "unit": "day", "requests": 10}
    assert post(cp, api, rl).status == 201
    assert post(cp, api, dict(rl, unit="hour")).status == 409
    # replacing the LB policy by itself is not a conflict
    assert cp.api("PUT", "/apis/%s/policies/%s" % (api, lb["id"]), rr(p2)).status == 200
    cp.ok("DELETE", "/apis/%s/policies/%s" % (api, lb["id"]), expect=204)
    assert cp.api("DELETE", "/apis/%s/policies/%s" % (api, lb["id"])).status == 404
    f1 = post(cp, api, fo("gpt-4o", p1))
    assert f1.status == 201
    assert post(cp, api, fo("gpt-4o-mini", p2)).status == 201
    r = post(cp, api, fo("gpt-4o", p2))
    assert r.status == 409 and "gpt-4o" in err_of(r)["message"]
    assert post(cp, api, rr(p1)).status == 409
    # a failover may change to a target model that is still free
    assert cp.api("PATCH", "/apis/%s/policies/%s" % (api, f1.json()["id"]),
                  {"production": {"target": {"model": "o1-mini", "endpoint": p1}}}).status == 200
    assert post(cp, api, fo("gpt-4o", p2)).status == 201


def test_a_model_in_use_names_the_policy_and_the_api(env):
    cp, api, p1, p2, s1, o1 = env
    name = cp.ok("GET", "/apis/" + api)["name"]
    pol = post(cp, api, {"type": "modelRoundRobin", "production": [{"model": "o1-mini", "endpoint": p1}]}).json()
    for r in (cp.api("DELETE", "/vendors/openai/models/o1-mini"),
              cp.api("PUT", "/vendors/openai/models", {"items": ["gpt-4o"]})):
        assert r.status == 409
        e = err_of(r)
        assert e["code"] == "in_use"
        assert e["message"] == ("model 'o1-mini' is used by the modelRoundRobin policy %s of API '%s' "
                                "(/chat v1): remove it from the policy first" % (pol["id"], name)), e
    other = cp.ok("GET", "/apis")["items"]
    o = [a for a in other if a["basePath"] == "/other"][0]
    r = post(cp, o["id"], {"type": "modelFailover", "production": {"target": {"model": "o1-mini", "endpoint": o1}}})
    assert r.status == 201, r.text
    msg = err_of(cp.api("DELETE", "/vendors/openai/models/o1-mini"))["message"]
    assert msg.endswith("(and 1 other policy): remove it from the policy first"), msg


def test_references_in_use(env):
    cp, api, p1, p2, s1, o1 = env
    pol = post(cp, api, {"type": "modelFailover",
                         "production": {"target": {"model": "gpt-4o", "endpoint": p1},
                                        "fallbacks": [{"model": "o1-mini", "endpoint": p2}]}}).json()
    r = cp.api("DELETE", "/apis/%s/endpoints/%s" % (api, p2))
    assert r.status == 409
    r = cp.api("PATCH", "/apis/%s/endpoints/%s" % (api, p2), {"environment": "sandbox"})
    assert r.status == 409
    assert cp.api("DELETE", "/vendors/openai/models/o1-mini").status == 409
    v = cp.ok("POST", "/vendors", {"name": "Other", "models": ["gpt-4o"]}, expect=201)
    assert cp.api("PATCH", "/apis/" + api, {"vendor": v["id"]}).status == 409
    cp.ok("DELETE", "/apis/%s/policies/%s" % (api, pol["id"]), expect=204)
    assert cp.api("DELETE", "/apis/%s/endpoints/%s" % (api, p2)).status == 204
    assert cp.api("DELETE", "/vendors/openai/models/o1-mini").status == 204
    assert cp.api("GET", "/apis/nope/policies").status == 404
    assert cp.api("POST", "/apis/nope/policies", rr(p1)).status == 404
    # deleting an API takes its endpoints and policies along
    post(cp, api, rr(p1))
    assert cp.api("DELETE", "/apis/" + api).status == 204
    assert cp.api("GET", "/apis/%s/policies" % api).status == 404
