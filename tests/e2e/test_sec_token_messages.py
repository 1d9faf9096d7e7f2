"""Issue 11 item 18: failure messages about the data-plane token say what
really happened. A control plane without MODELMUX_DP_TOKEN says once at start
that every data plane will be refused; a data plane refused with 401 does not
then claim the control plane was unreachable."""
import os
import shutil
import tempfile

import dp_util as du
import mm


def snapshot_file(revision):
    doc = du.snapshot([du.api("a1", "/chat", [du.endpoint("e1", "http://127.0.0.1:9/v1")])],
                      [du.key("k1", "sk-app-key-1")], revision=revision)
    return du.write_snapshot(doc)


def test_control_plane_without_dp_token_says_so_once():
    cp = mm.ControlPlane(dp_token=None)
    mm.wait_until(lambda: "MODELMUX_DP_TOKEN" in cp.stderr(), what="the warning")
    # the warning is printed at start, before any data plane asked
    r = mm.request(cp.port, "GET", "/dp/v1/config?after=0&wait=0",
                   headers={"Authorization": "Bearer anything", "X-Dataplane-Id": "x"})
    assert r.status == 401
    r = mm.request(cp.port, "GET", "/dp/v1/config?after=0&wait=0",
                   headers={"Authorization": "Bearer other", "X-Dataplane-Id": "y"})
    assert r.status == 401
    assert cp.stop() == 0
    lines = [l for l in cp.stderr().splitlines() if "MODELMUX_DP_TOKEN" in l]
    assert len(lines) == 1, lines
    assert "every data plane will be refused" in lines[0]


def test_control_plane_with_dp_token_does_not_warn():
    cp = mm.ControlPlane()
    assert cp.stop() == 0
    assert "MODELMUX_DP_TOKEN" not in cp.stderr()


def test_refused_data_plane_does_not_say_unreachable_with_cache():
    cp = mm.ControlPlane()
    # a cache left by an earlier run (the same document /dp/v1/config returns)
    cache = os.path.join(tempfile.mkdtemp(prefix="mm-cache-"), "cache.json")
    shutil.copy(snapshot_file(7), cache)
    dp = mm.DataPlane(cp=cp, cache=cache, env={"MODELMUX_DP_TOKEN": "wrong"})
    # ready from the cache, and the log says why the cache is used
    log = dp.stderr()
    assert "answered 401 (check MODELMUX_DP_TOKEN)" in log
    assert "control plane answered 401: serving revision 7 from the cache" in log, log
    assert "unreachable" not in log, log
    assert dp.stop() == 0


def test_refused_data_plane_does_not_say_unreachable_without_cache():
    cp = mm.ControlPlane()
    dp = mm.DataPlane(cp=cp, wait_ready=False, env={"MODELMUX_DP_TOKEN": "wrong"})
    mm.wait_until(lambda: "no cache" in dp.stderr(), what="the no-cache line")
    log = dp.stderr()
    assert "control plane answered 401 and no cache at" in log, log
    assert "unreachable" not in log, log
    assert mm.request(dp.admin_port, "GET", "/readyz").status == 503
    assert dp.stop() == 0


def test_unreachable_control_plane_still_says_unreachable():
    port = mm.free_port()  # nothing listens there
    dp = mm.DataPlane(cp="http://127.0.0.1:%d" % port, wait_ready=False)
    mm.wait_until(lambda: "no cache" in dp.stderr(), what="the no-cache line")
    assert "control plane unreachable and no cache at" in dp.stderr()
    assert dp.stop() == 0
