"""The data plane following the real control plane: it applies revisions as
they are committed, reports them, keeps serving when the control plane dies,
and starts from its cache (mode 0600) when the control plane is down."""
import os
import stat
import time


import dp_util as du
import mm


def configure(cp, mock):
    """An OpenAI API with one endpoint, a round robin over two models and a
    production key. Returns (api id, endpoint id, key)."""
    vendors = cp.ok("GET", "/vendors")["items"]
    openai = [v for v in vendors if v["name"] == "OpenAI"][0]
    cp.ok("PUT", "/secrets/up-secret", {"apiKey": du.UPSTREAM_SECRET})
    api = cp.ok("POST", "/apis", {"name": "chat", "basePath": "/chat", "version": "v1",
                                  "vendor": openai["id"]}, expect=201)
    ep = cp.ok("POST", "/apis/%s/endpoints" % api["id"],
               {"name": "mock", "environment": "production", "url": mock.url + "/v1",
                "security": {"secret": "up-secret", "secretKey": "apiKey"}, "timeoutMs": 60000}, expect=201)
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "modelRoundRobin", "suspendDurationSec": 60,
           "production": [{"model": "gpt-4o", "endpoint": ep["id"]},
                          {"model": "o1-mini", "endpoint": ep["id"]}], "sandbox": []}, expect=201)
    app = cp.ok("POST", "/applications", {"name": "app"}, expect=201)
    key = cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "production"}, expect=201)["key"]
    return api["id"], ep["id"], key


def revision(cp):
    return cp.ok("GET", "/revision")["revision"]


def applied(dp):
    return du.metric_value(dp.metrics(), "modelmux_config_revision")


def call(dp, key, model="x"):
    return du.chat(dp, key, model=model, path="/chat/v1/chat/completions")


def test_follows_revisions_and_reports_them(mock):
    cp = mm.ControlPlane()
    _, _, key = configure(cp, mock)
    dp = mm.DataPlane(cp=cp, dp_id="dp-one")
    mm.wait_until(lambda: applied(dp) == revision(cp), what="revision applied")
    r = call(dp, key)
    assert r.status == 200, r.text
    assert r.headers["x-modelmux-endpoint"] == "mock"
    h = du.lower_headers(du.mock_requests(mock)[-1])
    assert h["authorization"] == "Bearer " + du.UPSTREAM_SECRET
    # a new key is usable as soon as its revision is pushed (long poll, no restart)
    apps = cp.ok("GET", "/applications")["items"]
    key2 = cp.ok("POST", "/applications/%s/keys" % apps[0]["id"], {"type": "production"}, expect=201)["key"]
    t0 = time.time()
    mm.wait_until(lambda: call(dp, key2).status == 200, timeout=5, what="new key applied")
    assert time.time() - t0 < 5 * mm.SLOW
    mm.wait_until(lambda: any(d["id"] == "dp-one" and d["revision"] == revision(cp)
                              for d in cp.ok("GET", "/dataplanes")["items"]), what="dataplane listed")
    assert dp.stop() == 0


def test_cache_written_0600_and_used_when_cp_is_down(mock):
    cp = mm.ControlPlane()
    _, _, key = configure(cp, mock)
    dp = mm.DataPlane(cp=cp)
    mm.wait_until(lambda: applied(dp) == revision(cp), what="revision applied")
    rev = revision(cp)
    cache = dp.cache
    mm.wait_until(lambda: os.path.exists(cache), what="cache written")
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    with open(cache) as f:
        assert '"revision"' in f.read()
    # the control plane dies: the data plane keeps serving
    cp.kill()
    for _ in range(5):
        assert call(dp, key).status == 200
    assert dp.stop() == 0
    # restarted while the control plane is down: serves from the cache
    dp2 = mm.DataPlane(cp=cp.url, cache=cache)
    assert applied(dp2) == rev
    assert call(dp2, key).status == 200
    assert "cache" in dp2.stderr()
    assert dp2.stop() == 0


def test_control_plane_restart_is_followed_again(mock):
    cp = mm.ControlPlane()
    api_id, ep_id, key = configure(cp, mock)
    db = cp.db
    dp = mm.DataPlane(cp=cp)
    mm.wait_until(lambda: applied(dp) == revision(cp), what="revision applied")
    port = cp.port
    cp.stop()
    assert call(dp, key).status == 200
    # same port, same database: the data plane reconnects by itself
    orig = mm.free_port
    mm.free_port = lambda: port
    try:
        cp2 = mm.ControlPlane(db=db)
    finally:
        mm.free_port = orig
    cp2.ok("POST", "/applications", {"name": "another"}, expect=201)
    mm.wait_until(lambda: applied(dp) == revision(cp2), timeout=15, what="reconnected")


def test_wrong_token_is_not_ready(mock):
    cp = mm.ControlPlane()
    configure(cp, mock)
    dp = mm.DataPlane(cp=cp, wait_ready=False, env={"MODELMUX_DP_TOKEN": "wrong"})
    mm.wait_until(lambda: dp.stderr().count("401") >= 2, what="two refused polls logged")
    assert mm.request(dp.admin_port, "GET", "/readyz").status == 503
    assert dp.stop() == 0
