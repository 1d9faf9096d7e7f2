"""The config contract at every bound's maximum (common/limits.h): what the
control plane accepts, a real data plane applies and serves with. Real
modelmux-cp + modelmux-dp + mockllm; every value set through the REST API,
so the snapshot is the control plane's own."""
import json
import urllib.parse

import pytest

import dp_util as du
import mm

NAME_MAX = 128        # GW_NAME_MAX_CHARS
URL_MAX = 2048        # GW_URL_MAX_BYTES
TARGETS_MAX = 64      # GW_TARGETS_MAX
SECRET_MAX = 64 * 1024  # GW_SECRET_VALUE_MAX_BYTES


@pytest.fixture
def mock():
    m = mm.MockLLM(extra_args=["--name", "bounds"])
    yield m
    m.stop()


def long_name(ch, n=NAME_MAX):
    """A name of n characters of ch (non-ASCII: n characters, more bytes)."""
    return ch * n


def long_url(mock):
    """mock.url + a path padded to exactly URL_MAX bytes; the mock routes by
    suffix, so it still answers the operation appended after it."""
    base = mock.url + "/v1"
    pad = "/" + "p" * (URL_MAX - len(base) - 1)
    url = base + pad
    assert len(url.encode()) == URL_MAX
    return url


def revision(cp):
    return cp.ok("GET", "/revision")["revision"]


def applied(dp):
    return du.metric_value(dp.metrics(), "modelmux_config_revision")


def test_every_bound_at_its_maximum_is_applied_and_served(mock):
    cp = mm.ControlPlane()
    openai = [v for v in cp.ok("GET", "/vendors")["items"] if v["name"] == "OpenAI"][0]
    # 128-character model names of 2-, 3- and 4-byte UTF-8, and enough
    # plain ones for the largest target lists.
    big_models = [long_name("\u00e9"), long_name("\u6a21"), long_name("\U0001F600")]
    plain = ["m%02d" % i for i in range(TARGETS_MAX + 1)]
    cp.ok("PUT", "/vendors/%s/models" % openai["id"], {"items": big_models + plain})
    # Secrets: a 5,000-byte value and one of the largest size, under a
    # 128-character name and key name.
    sname, skey = long_name("\u0161"), long_name("k")
    v5000, vmax = "a" * 5000, "b" * SECRET_MAX
    cp.ok("PUT", "/secrets/" + urllib.parse.quote(sname), {skey: v5000, "big": vmax})
    api = cp.ok("POST", "/apis", {"name": long_name("\u00e4"), "basePath": "/bounds", "version": "v1",
                                  "vendor": openai["id"]}, expect=201)
    url = long_url(mock)
    ep5 = cp.ok("POST", "/apis/%s/endpoints" % api["id"],
                {"name": long_name("\u00f6"), "environment": "production", "url": url,
                 "security": {"secret": sname, "secretKey": skey}}, expect=201)
    epmax = cp.ok("POST", "/apis/%s/endpoints" % api["id"],
                  {"name": "big-secret", "environment": "production", "url": mock.url + "/v1",
                   "security": {"secret": sname, "secretKey": "big", "header": "X-Big", "prefix": ""}},
                  expect=201)
    # The largest failover chain: a target and TARGETS_MAX fallbacks; each
    # 128-character model is the target of one more failover policy.
    chain = {"target": {"model": plain[0], "endpoint": ep5["id"]},
             "fallbacks": [{"model": m, "endpoint": ep5["id"]} for m in plain[1:]]}
    assert len(chain["fallbacks"]) == TARGETS_MAX
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "modelFailover", "requestTimeoutMs": 600000, "suspendDurationSec": 86400,
           "retries": 3, "maxRetryAfterWaitSec": 60, "firstTokenTimeoutMs": 600000,
           "streamIdleTimeoutMs": 600000, "midStreamFailover": "continue",
           "production": chain}, expect=201)
    for m, ep in zip(big_models, (ep5, epmax, ep5)):
        cp.ok("POST", "/apis/%s/policies" % api["id"],
              {"type": "modelFailover", "production": {"target": {"model": m, "endpoint": ep["id"]},
                                                       "fallbacks": []}}, expect=201)
    # The largest round-robin list, at the largest weight, on a second API.
    api2 = cp.ok("POST", "/apis", {"name": "rr", "basePath": "/bounds-rr", "version": "v1",
                                   "vendor": openai["id"]}, expect=201)
    ep2 = cp.ok("POST", "/apis/%s/endpoints" % api2["id"],
                {"name": "mock", "environment": "production", "url": url,
                 "security": {"secret": sname, "secretKey": skey}}, expect=201)
    cp.ok("POST", "/apis/%s/policies" % api2["id"],
          {"type": "modelWeightedRoundRobin", "suspendDurationSec": 86400,
           "production": [{"model": m, "endpoint": ep2["id"], "weight": 1000}
                          for m in plain[:TARGETS_MAX]], "sandbox": []}, expect=201)
    app = cp.ok("POST", "/applications", {"name": long_name("\u00fc")}, expect=201)
    key = cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "production"}, expect=201)["key"]

    dp = mm.DataPlane(cp=cp)
    mm.wait_until(lambda: applied(dp) == revision(cp), what="revision applied")

    # 5,000-byte secret, longest URL, longest chain, longest names.
    r = du.chat(dp, key, model=plain[0], path="/bounds/v1" + du.CHAT)
    assert r.status == 200, r.text
    sent = du.lower_headers(du.mock_requests(mock)[-1])
    assert sent["authorization"] == "Bearer " + v5000
    assert du.mock_requests(mock)[-1]["path"].startswith(url[len(mock.url):])
    # Each 128-character model routes (the second through the 64 KiB secret).
    for m in big_models:
        du.mock_clear(mock)
        r = du.chat(dp, key, model=m, path="/bounds/v1" + du.CHAT)
        assert r.status == 200, r.text
        assert json.loads(du.mock_requests(mock)[-1]["body"])["model"] == m
    du.mock_clear(mock)
    r = du.chat(dp, key, model=big_models[1], path="/bounds/v1" + du.CHAT)
    sent = du.lower_headers(du.mock_requests(mock)[-1])
    assert sent["x-big"] == vmax
    # The 64-target weighted list serves.
    r = du.chat(dp, key, model="any", path="/bounds-rr/v1" + du.CHAT)
    assert r.status == 200 and r.headers["x-modelmux-model"] in plain, r.text
    # Every bound + 1 is refused by the control plane (and so never reaches a
    # data plane): names, model names, secret value, URL, target lists.
    assert cp.api("POST", "/applications", {"name": long_name("\u00fc", NAME_MAX + 1)}).status == 400
    assert cp.api("POST", "/vendors/%s/models" % openai["id"],
                  {"name": long_name("\u6a21", NAME_MAX + 1)}).status == 400
    assert cp.api("PUT", "/secrets/s2", {"k": "c" * (SECRET_MAX + 1)}).status == 400
    assert cp.api("POST", "/apis/%s/endpoints" % api["id"],
                  {"name": "u", "environment": "production", "url": url + "p"}).status == 400
    assert cp.api("POST", "/apis/%s/policies" % api2["id"], {
        "type": "modelFailover", "production": {
            "target": {"model": plain[0], "endpoint": ep2["id"]},
            "fallbacks": [{"model": m, "endpoint": ep2["id"]} for m in plain] }}).status == 400
    assert applied(dp) == revision(cp)
    assert dp.stop() == 0
