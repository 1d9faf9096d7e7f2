"""Rules of the config contract that are new or were drifting (issue 10,
issue 11 item 17): endpoint URLs with a user or password or a fragment,
the routing fields of SPEC revision 2, round-robin "operations", failover
policies colliding in the sandbox, and the data plane's check of the
snapshot's sha256."""
import json
import os
import signal
import subprocess
import tempfile

import pytest

import cp_util as cu
import dp_util as du
import mm
from cp_util import err_of

KEY = "sk-contract-key"


@pytest.fixture
def cp():
    c = mm.ControlPlane()
    yield c
    c.stop()


def setup_api(cp):
    api = cu.make_api(cp)
    p1 = cu.make_endpoint(cp, api["id"], "p1")["id"]
    s1 = cu.make_endpoint(cp, api["id"], "s1", env="sandbox")["id"]
    return api["id"], p1, s1


def post(cp, api, body):
    return cp.api("POST", "/apis/%s/policies" % api, body)


def test_endpoint_url_with_user_password_or_fragment_is_400(cp):
    api = cu.make_api(cp)
    for url in ("http://user:secretpw@127.0.0.1:9/v1", "https://user@example.com/v1",
                "http://127.0.0.1:9/v1#frag"):
        r = cp.api("POST", "/apis/%s/endpoints" % api["id"],
                   {"name": "e", "environment": "production", "url": url})
        assert r.status == 400, url
        assert err_of(r)["message"].startswith("url"), r.text
        assert "secretpw" not in r.text
    # an '@' after the host (in the path) is no user part
    cu.make_endpoint(cp, api["id"], "ok", url="http://127.0.0.1:9/v1/@models")


def test_routing_fields_are_validated_stored_and_published(cp):
    api, p1, s1 = setup_api(cp)
    fields = {"retries": 3, "maxRetryAfterWaitSec": 60, "firstTokenTimeoutMs": 100,
              "streamIdleTimeoutMs": 600000, "midStreamFailover": "continue"}
    rr = {"type": "modelRoundRobin", "production": [{"model": "gpt-4o", "endpoint": p1}],
          "operations": ["/chat/completions", "/embeddings"]}
    for field, bad in (("retries", 4), ("retries", -1), ("maxRetryAfterWaitSec", 61),
                       ("firstTokenTimeoutMs", 99), ("firstTokenTimeoutMs", 600001),
                       ("streamIdleTimeoutMs", 1), ("midStreamFailover", "maybe"),
                       ("retries", "3")):
        r = post(cp, api, dict(rr, **{field: bad}))
        assert r.status == 400, (field, bad)
        assert err_of(r)["message"].startswith(field), r.text
    r = post(cp, api, dict(rr, operations=["/chat/completions", "/nope"]))
    assert r.status == 400 and err_of(r)["code"] == "unknown_operation", r.text
    assert "operations[1]" in err_of(r)["message"]
    assert post(cp, api, dict(rr, operations=[])).status == 400
    assert post(cp, api, dict(rr, operations=["/embeddings", "/embeddings"])).status == 400
    got = cp.ok("POST", "/apis/%s/policies" % api, dict(rr, firstTokenTimeoutMs=0, **{
        k: v for k, v in fields.items() if k != "firstTokenTimeoutMs"}), expect=201)
    assert got["operations"] == ["/chat/completions", "/embeddings"]
    assert got["retries"] == 3 and got["firstTokenTimeoutMs"] == 0
    assert got["midStreamFailover"] == "continue"
    assert cp.ok("GET", "/apis/%s/policies/%s" % (api, got["id"])) == got
    doc = cu.dp_config(cp).json()
    pol = [p for a in doc["apis"] for p in a["policies"] if p["id"] == got["id"]][0]
    for k in ("retries", "maxRetryAfterWaitSec", "streamIdleTimeoutMs", "midStreamFailover",
              "operations"):
        assert pol[k] == got[k]
    # a policy without them reads back without them (defaults apply)
    cp.ok("DELETE", "/apis/%s/policies/%s" % (api, got["id"]))
    plain = cp.ok("POST", "/apis/%s/policies" % api, rr | {"operations": None}, expect=201)
    assert "retries" not in plain and "operations" not in plain


def test_failover_policies_colliding_in_the_sandbox_are_409(cp):
    api, p1, s1 = setup_api(cp)

    def fo(prod_model, sand_model):
        return {"type": "modelFailover",
                "production": {"target": {"model": prod_model, "endpoint": p1}, "fallbacks": []},
                "sandbox": {"target": {"model": sand_model, "endpoint": s1}, "fallbacks": []}}
    cp.ok("POST", "/apis/%s/policies" % api, fo("gpt-4o", "gpt-4o"), expect=201)
    r = post(cp, api, fo("gpt-4o-mini", "gpt-4o"))
    assert r.status == 409 and err_of(r)["code"] == "policy_conflict", r.text
    assert "sandbox" in err_of(r)["message"]
    r = post(cp, api, {"type": "modelFailover",
                       "sandbox": {"target": {"model": "gpt-4o", "endpoint": s1}, "fallbacks": []}})
    assert r.status == 409
    cp.ok("POST", "/apis/%s/policies" % api, fo("gpt-4o-mini", "gpt-4o-mini"), expect=201)


def hand_edited(mock, revision, fix_hash):
    doc = du.snapshot([du.api("api-1", "/api", [du.endpoint("ep-1", mock.url + "/v1")])],
                      [du.key("k1", KEY)], revision=revision)
    doc["apis"][0]["endpoints"][0]["name"] = "edited"
    if fix_hash:
        du.seal(doc)
    return doc


def test_dataplane_refuses_a_snapshot_whose_sha256_does_not_match():
    mock = mm.MockLLM()
    path = du.write_snapshot(hand_edited(mock, 1, fix_hash=True))
    dp = mm.DataPlane(config=path, workers=1)
    assert du.chat(dp, KEY, path="/api/1.0" + du.CHAT).headers["x-modelmux-endpoint"] == "edited"
    # edited by hand without updating sha256: refused, the running revision stays
    bad = hand_edited(mock, 2, fix_hash=False)
    bad["apis"][0]["endpoints"][0]["name"] = "edited-again"
    du.write_snapshot(bad, path)
    dp.signal(signal.SIGHUP)
    mm.wait_until(lambda: "sha256" in dp.stderr(), what="mismatch logged")
    assert "does not match" in dp.stderr()
    assert du.metric_value(dp.metrics(), "modelmux_config_revision") == 1
    assert du.chat(dp, KEY, path="/api/1.0" + du.CHAT).headers["x-modelmux-endpoint"] == "edited"
    assert dp.stop() == 0
    # at start, such a file is an invalid config file: exit 1 with one line
    tmp = tempfile.mkdtemp(prefix="mm-dp-")
    run = subprocess.run([mm.binary("modelmux-dp"), "--config", path, "--listen",
                          "127.0.0.1:%d" % mm.free_port(), "--admin-listen",
                          "127.0.0.1:%d" % mm.free_port(), "--cache", os.path.join(tmp, "c.json")],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1, run.stderr
    assert "sha256" in run.stderr and "does not match" in run.stderr
