"""Issue 11 item 12, the reserve: idle connections from many addresses
(each under its per-address share) used to fill a listener's connection
limit, after which a liveness probe on the data plane's admin port, a data
plane's long poll or an admin call on the control plane could not get in.
Now, past 7/8 of the limit, each new connection closes the one idle longest
(common/idle_conns.h); connections with a request in progress, held long
polls included, are never closed.

The binaries size their limits from the fd limit, so each is started with
`ulimit -n 2048` (the control plane: 2048 - 256 = 1792 connections; the
data plane's admin port: 2048 - 1024 = 1024) and flooded from 127.0.0.2..
with more idle sockets than that. Real sockets, as the attack did."""
import os
import stat
import tempfile

import pytest

import dp_util as du
import mm
from cp_util import dp_config, revision
from test_sec_conn_caps import Idle, many_fds, quick  # noqa: F401 (autouse fixture)

FDS = 2048


@pytest.fixture
def limited(monkeypatch):
    """mm.binary() gives a wrapper that runs the binary under ulimit -n FDS
    (exec: same pid, so the harness sees the binary itself)."""
    tmp = tempfile.mkdtemp(prefix="mm-ulimit-")
    real = mm.binary

    def wrapped(name):
        path = os.path.join(tmp, name)
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write('#!/bin/sh\nulimit -n %d\nexec "%s" "$@"\n' % (FDS, real(name)))
            os.chmod(path, stat.S_IRWXU)
        return path
    monkeypatch.setattr(mm, "binary", wrapped)
    yield


@pytest.fixture
def flood():
    made = []

    def make(port, per_address, addresses):
        for i in range(addresses):
            made.append(Idle(port, per_address, src="127.0.0.%d" % (2 + i)))
        return made
    yield make
    for i in made:
        i.close()


def closed(idles):
    return sum(i.closed_by_server() for i in idles)


def test_dp_admin_probe_gets_in_past_idle_sockets_from_many_addresses(limited, flood):
    doc = du.snapshot([du.api("a1", "/chat", [du.endpoint("e1", "http://127.0.0.1:9/v1")])],
                      [du.key("k1", "sk-app-key-reserve")])
    dp = mm.DataPlane(config=du.write_snapshot(doc))
    idles = flood(dp.admin_port, 400, 3)  # 1,200 idle sockets: over the 1,024 limit
    for path in ("/healthz", "/readyz", "/metrics"):
        r = quick(lambda: mm.request(dp.admin_port, "GET", path, timeout=5))
        assert r.status == 200, (path, r)
    # room was made by closing idle sockets (the oldest), not the probes
    mm.wait_until(lambda: closed(idles) >= 1200 - 1024 * 7 // 8, timeout=5,
                  what="idle admin connections closed to make room")
    assert dp.stop() == 0


def test_cp_channel_and_admin_get_in_past_idle_sockets_from_many_addresses(limited, flood):
    cp = mm.ControlPlane()
    dp = mm.DataPlane(cp=cp)  # its long poll is held (busy) through the flood
    mm.wait_until(lambda: du.metric_value(dp.metrics(), "modelmux_config_revision") == revision(cp),
                  what="first revision applied")
    idles = flood(cp.port, 500, 4)  # 2,000 idle sockets: over the 1,792 limit
    assert quick(lambda: cp.api("GET", "/vendors", timeout=5)).status == 200
    rev = revision(cp)
    r = quick(lambda: dp_config(cp, after=rev, wait=1, timeout=5), limit_s=3)
    assert r.status == 304, r
    r = quick(lambda: dp_config(cp, after=0, timeout=5))
    assert r.status == 200, r
    # the held long poll was not the one closed: a change reaches the data plane at once
    cp.ok("POST", "/applications", {"name": "during-the-flood"}, expect=201)
    new = revision(cp)
    mm.wait_until(lambda: du.metric_value(dp.metrics(), "modelmux_config_revision") == new,
                  timeout=5, what="revision applied during the flood")
    assert closed(idles) >= 2000 - 1792 * 7 // 8
    assert dp.stop() == 0
    assert cp.stop() == 0
