"""Issue 11 item 12: idle connections cannot starve either binary. 300 idle
connections used to make the data plane's admin port (/healthz, /metrics)
time out, and 4,100 the control plane's admin API and data-plane channel.
Now idle connections are closed after a short timeout, one address cannot
take every slot (the flood comes from 127.0.0.2.., the probe from
127.0.0.1), the limits are sized from a raised fd limit, and held long
polls (suspended) are not cut by the idle timeout. Real idle sockets."""
import resource
import socket
import time

import pytest

import dp_util as du
import mm
from cp_util import dp_config, revision

DP_ADMIN_IDLE_S = 10  # dataplane/admin.c ADMIN_IDLE_S
CP_IDLE_S = 15  # controlplane/http.c CP_IDLE_S
PER_IP = 1024  # ADMIN_PER_IP, CP_PER_IP


@pytest.fixture(autouse=True)
def many_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 9000:
        pytest.skip("needs a hard fd limit of at least 9000 (have %d)" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Idle:
    """n idle TCP connections to port from source address src (nothing sent)."""

    def __init__(self, port, n, src="127.0.0.2"):
        self.socks = []
        for _ in range(n):
            s = socket.socket()
            s.bind((src, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            self.socks.append(s)

    def closed_by_server(self):
        """How many of them the server has closed (EOF or reset)."""
        n = 0
        for s in self.socks:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    n += 1
            except BlockingIOError:
                pass
            except OSError:
                n += 1
        return n

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


@pytest.fixture
def idle():
    made = []

    def make(port, n, src="127.0.0.2"):
        made.append(Idle(port, n, src))
        return made[-1]
    yield make
    for i in made:
        i.close()


def quick(fn, limit_s=2.0):
    """Runs fn, asserting it returns within limit_s; returns its result."""
    t = time.time()
    r = fn()
    took = time.time() - t
    assert took < limit_s * mm.SLOW, "took %.2fs" % took
    return r


def snapshot_file():
    doc = du.snapshot([du.api("a1", "/chat", [du.endpoint("e1", "http://127.0.0.1:9/v1")])],
                      [du.key("k1", "sk-app-key-caps")])
    return du.write_snapshot(doc)


# --- the data plane's admin port -----------------------------------------------

def test_dp_admin_serves_with_300_idle_connections_from_the_same_host(idle):
    dp = mm.DataPlane(config=snapshot_file())
    idle(dp.admin_port, 300, src="127.0.0.1")
    for path in ("/healthz", "/readyz", "/metrics"):
        r = quick(lambda: mm.request(dp.admin_port, "GET", path, timeout=5))
        assert r.status == 200, (path, r)
    assert dp.stop() == 0


def test_dp_admin_serves_while_another_host_floods_it(idle):
    dp = mm.DataPlane(config=snapshot_file())
    flood = idle(dp.admin_port, 3000)
    assert quick(lambda: mm.request(dp.admin_port, "GET", "/healthz", timeout=5)).status == 200
    assert quick(lambda: mm.request(dp.admin_port, "GET", "/metrics", timeout=5)).status == 200
    # beyond its share the flooding address is turned away at once
    mm.wait_until(lambda: flood.closed_by_server() >= 3000 - PER_IP, timeout=5,
                  what="connections over the per-address limit closed")
    assert dp.stop() == 0


def test_dp_admin_closes_idle_connections(idle):
    dp = mm.DataPlane(config=snapshot_file())
    few = idle(dp.admin_port, 20, src="127.0.0.1")
    time.sleep(DP_ADMIN_IDLE_S / 2)
    assert few.closed_by_server() == 0
    mm.wait_until(lambda: few.closed_by_server() == 20, timeout=DP_ADMIN_IDLE_S + 10,
                  what="idle admin connections closed")
    assert dp.stop() == 0


# --- the control plane --------------------------------------------------------

def test_cp_admin_and_channel_with_4100_idle_connections(idle):
    cp = mm.ControlPlane()
    dp = mm.DataPlane(cp=cp)  # follows by long poll through the flood
    mm.wait_until(lambda: du.metric_value(dp.metrics(), "modelmux_config_revision") == revision(cp),
                  what="first revision applied")
    for i in range(5):  # 4,100 from five other addresses, under each one's share
        idle(cp.port, 820, src="127.0.0.%d" % (2 + i))
    assert quick(lambda: cp.api("GET", "/vendors", timeout=5)).status == 200
    # a new long poll: answered 304 when its wait runs out
    rev = revision(cp)
    r = quick(lambda: dp_config(cp, after=rev, wait=1, timeout=5), limit_s=3)
    assert r.status == 304, r
    # and the data plane that was polling gets a new revision at once
    cp.ok("POST", "/applications", {"name": "during-the-flood"}, expect=201)
    new = revision(cp)
    mm.wait_until(lambda: du.metric_value(dp.metrics(), "modelmux_config_revision") == new, timeout=5,
                  what="revision applied during the flood")
    assert dp.stop() == 0
    assert cp.stop() == 0


def test_cp_one_host_cannot_take_every_connection(idle):
    cp = mm.ControlPlane()
    flood = idle(cp.port, 3000)
    mm.wait_until(lambda: flood.closed_by_server() >= 3000 - PER_IP, timeout=5,
                  what="connections over the per-address limit closed")
    assert quick(lambda: cp.api("GET", "/vendors", timeout=5)).status == 200
    r = quick(lambda: dp_config(cp, after=0, wait=1, timeout=5))
    assert r.status == 200
    assert cp.stop() == 0


def test_cp_closes_idle_connections_but_not_held_long_polls(idle):
    cp = mm.ControlPlane()
    few = idle(cp.port, 20, src="127.0.0.1")
    rev = revision(cp)
    wait_s = CP_IDLE_S + 5
    t = time.time()
    r = dp_config(cp, after=rev, wait=wait_s, timeout=wait_s + 10)
    took = time.time() - t
    assert r.status == 304 and took >= wait_s - 1, (r, took)
    assert few.closed_by_server() == 20
    assert cp.stop() == 0
