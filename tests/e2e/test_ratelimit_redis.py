"""Rate limiting shared through Redis (SPEC 3.3): two real data planes
following the same snapshot file with --redis, a real redis-server, the mock
upstream.

A budget holds across both data planes under concurrency; token usage
settled on one counts on the other; Redis killed mid-test: both keep serving
on local counters and say so (log line, modelmux_ratelimit_backend_up 0);
Redis restarted: both report it and share counters again, and a window spent
before the restart stays spent (issue 11 item 16: the data planes seed the
empty Redis with their own counts); a data plane started while Redis is down
serves and reports it."""
import itertools
import socket
import time


import mm
from rl_util import chat, clock_offset, run_concurrently, metric, snapshot, write_snapshot


def start_pair(mock, redis_url, limit, offset):
    """Two data planes on one snapshot and one Redis, with the same clock."""
    path = write_snapshot(snapshot(mock.url, limit))
    env = {"MODELMUX_FAKE_NOW_OFFSET_S": str(offset)}
    return [mm.DataPlane(config=path, workers=2, dp_id="dp-%d" % i, redis=redis_url, env=env)
            for i in (1, 2)]


def backend_up(dp):
    return metric(dp.metrics(), "modelmux_ratelimit_backend_up")


def wait_backend(dps, value, timeout=10.0):
    mm.wait_until(lambda: all(backend_up(d) == value for d in dps), timeout=timeout,
                  what="modelmux_ratelimit_backend_up == %s" % value)


def redis_command(port, *args):
    """One command over RESP on a fresh connection; the decoded reply
    (bulk strings as str, arrays as lists)."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(out)
        f = s.makefile("rb")

        def read():
            line = f.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind in (b"+", b"-"):
                return rest.decode()
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                if n < 0:
                    return None
                data = f.read(n + 2)[:n]
                return data.decode()
            if kind == b"*":
                return [read() for _ in range(int(rest))]
            raise AssertionError("unexpected RESP reply %r" % line)
        return read()


def test_budget_of_10_holds_across_two_data_planes(mock, redis):
    dps = start_pair(mock, redis.url, {"unit": "hour", "scope": "api", "requests": 10},
                     clock_offset())
    wait_backend(dps, 1)
    turn = itertools.count()  # next() is atomic: callers alternate between the two

    def call():
        return chat(dps[next(turn) % 2]).status

    results = run_concurrently(50, call, per_caller=1)
    assert results.count(200) == 10, results
    assert results.count(429) == 40, results
    # and afterwards, on either one
    assert chat(dps[0]).status == 429
    assert chat(dps[1]).status == 429
    for d in dps:
        assert d.stop() == 0


def test_token_usage_is_shared(mock, redis):
    # mock usage: 30 tokens per request
    dps = start_pair(mock, redis.url, {"unit": "hour", "scope": "application", "totalTokens": 90},
                     clock_offset())
    wait_backend(dps, 1)
    assert chat(dps[0], "app-a").status == 200
    time.sleep(0.1)
    r = chat(dps[1], "app-a")
    assert r.status == 200 and r.headers["x-ratelimit-remaining-tokens"] == "60"
    time.sleep(0.1)
    r = chat(dps[0], "app-a")
    assert r.status == 200 and r.headers["x-ratelimit-remaining-tokens"] == "30"
    time.sleep(0.1)
    assert chat(dps[1], "app-a").status == 429
    assert chat(dps[0], "app-a").status == 429
    # another application has its own budget
    r = chat(dps[1], "app-b")
    assert r.status == 200 and r.headers["x-ratelimit-remaining-tokens"] == "90"
    for d in dps:
        assert d.stop() == 0


def test_redis_killed_then_restarted(mock, redis):
    dps = start_pair(mock, redis.url, {"unit": "hour", "scope": "api", "requests": 6},
                     clock_offset())
    wait_backend(dps, 1)
    assert chat(dps[0]).headers["x-ratelimit-remaining-requests"] == "5"
    assert chat(dps[1]).headers["x-ratelimit-remaining-requests"] == "4"

    port = redis.port
    redis.kill()
    # Both keep serving, on local counters; each reports it.
    statuses = [chat(dps[i % 2]).status for i in range(4)]
    assert statuses.count(200) == 4, statuses
    wait_backend(dps, 0)
    for d in dps:
        mm.wait_until(lambda: "unreachable" in d.stderr(), what="the outage log line")
    time.sleep(1.5)  # reconnect attempts fail meanwhile: still one line per outage
    for d in dps:
        assert d.stderr().count("unreachable") == 1, d.stderr()[-3000:]

    # Redis back (empty): both share it again, seeded with what each counted.
    # dp-1 counted 1 (shared) + 2 (local) = 3, dp-2 2 + 2 = 4: the larger, 4
    # of 6, is where the shared window resumes once both have seeded it (the
    # outage itself let each data plane spend on its own budget).
    again = mm.Redis(port=port)
    try:
        wait_backend(dps, 1, timeout=15.0)
        for d in dps:
            assert "reachable again" in d.stderr()
        results = [chat(dps[i % 2]).status for i in range(10)]
        # dp-1 seeds 3 and takes the 4th; dp-2 seeds 4 (no change) and takes
        # the 5th; dp-1 takes the 6th; then the window is spent.
        assert results == [200] * 3 + [429] * 7, results
    finally:
        for d in dps:
            assert d.stop() == 0
        again.stop(check=False)


def test_spent_window_stays_spent_after_redis_restarts_empty(mock, redis):
    """Issue 11 item 16: limit 50 spent, Redis restarted (empty): 50 more of
    100 requests were admitted. Now none is, and Redis holds the count again."""
    path = write_snapshot(snapshot(mock.url, {"unit": "hour", "scope": "api", "requests": 50}))
    dp = mm.DataPlane(config=path, workers=2, redis=redis.url,
                      env={"MODELMUX_FAKE_NOW_OFFSET_S": str(clock_offset())})
    wait_backend([dp], 1)
    results = run_concurrently(10, lambda: chat(dp).status, per_caller=5)
    assert results.count(200) == 50, results
    assert chat(dp).status == 429
    port = redis.port
    assert redis.stop() == 0
    again = mm.Redis(port=port)
    try:
        mm.wait_until(lambda: "reachable again" in dp.stderr(), timeout=15.0,
                      what="the data plane back on the restarted Redis")
        wait_backend([dp], 1, timeout=15.0)
        keys = redis_command(port, "KEYS", "mmrl:*")
        assert keys == [], keys  # empty indeed
        results = run_concurrently(10, lambda: chat(dp).status, per_caller=10)
        assert results.count(429) == 100, results
        keys = redis_command(port, "KEYS", "mmrl:*")
        assert len(keys) == 1, keys
        assert redis_command(port, "HGET", keys[0], "r") == "50"
        assert 0 < redis_command(port, "TTL", keys[0]) <= 3600
        assert metric(dp.metrics(), "modelmux_ratelimit_backend_up") == 1
    finally:
        assert dp.stop() == 0
        again.stop(check=False)


def test_data_plane_started_while_redis_is_down(mock):
    port = mm.free_port()
    path = write_snapshot(snapshot(mock.url, {"unit": "hour", "scope": "api", "requests": 3}))
    dp = mm.DataPlane(config=path, workers=2, redis="redis://127.0.0.1:%d" % port,
                      env={"MODELMUX_FAKE_NOW_OFFSET_S": str(clock_offset())})
    # serves on local counters, exactly
    results = [chat(dp).status for _ in range(5)]
    assert results == [200, 200, 200, 429, 429], results
    wait_backend([dp], 0)
    mm.wait_until(lambda: "unreachable" in dp.stderr(), what="the outage log line")
    # Redis comes up: shared from then on
    r = mm.Redis(port=port)
    try:
        wait_backend([dp], 1, timeout=15.0)
    finally:
        assert dp.stop() == 0
        r.stop(check=False)


def test_bad_redis_url_is_a_usage_error(mock):
    path = write_snapshot(snapshot(mock.url, {"unit": "hour", "scope": "api", "requests": 3}))
    for url in ("localhost:6379", "redis://", "redis://127.0.0.1:99999", "http://x:1"):
        p = mm.Proc([mm.binary("modelmux-dp"), "--listen", "127.0.0.1:%d" % mm.free_port(),
                     "--admin-listen", "127.0.0.1:%d" % mm.free_port(), "--config", path,
                     "--redis", url], name="modelmux-dp")
        assert p.wait(timeout=10) == 2, url
        err = p.stderr().strip().splitlines()
        assert err and "redis" in err[-1].lower(), err
        p.stop()
