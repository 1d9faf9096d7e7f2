"""Routing through the real data plane and the mock upstream: exact weighted
round-robin shares across workers, 429 retries and suspension, every
failover trigger and final status, suspension expiry, all targets
suspended."""
import collections
import concurrent.futures
import time

import pytest

import dp_util as du
import mm

KEY = "key-routing-0123456789"
P = "/api/1.0" + du.CHAT
CLOSED = "http://127.0.0.1:%d/v1"  # a port nothing listens on


def start(mock, policies, endpoints=None, workers=2):
    eps = endpoints or [du.endpoint("e1", mock.url + "/v1", name="good")]
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, policies, name="chat")],
                                        [du.key("k1", KEY)]))
    return mm.DataPlane(config=cfg, workers=workers)


def models_of(dp, n, threads=8):
    def one(_):
        r = du.chat(dp, KEY)
        assert r.status == 200, r.text
        return r.headers["x-modelmux-model"]
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, range(n)))


def test_weighted_shares_exact_with_two_workers_and_concurrent_clients(mock):
    pol = du.wrr("p1", [du.target("gpt-4o", "e1", 3), du.target("gpt-4o-mini", "e1", 2),
                        du.target("o1-mini", "e1", 1)])
    dp = start(mock, [pol], workers=2)
    got = collections.Counter(models_of(dp, 6 * 25, threads=12))
    assert got == {"gpt-4o": 75, "gpt-4o-mini": 50, "o1-mini": 25}, got
    # the upstream saw each model rewritten in the body
    seen = collections.Counter(i["json"]["model"] for i in du.mock_requests(mock))
    assert seen == got


def test_round_robin_equal_shares(mock):
    pol = du.wrr("p1", [du.target("gpt-4o", "e1"), du.target("o1-mini", "e1")], weighted=False)
    dp = start(mock, [pol], workers=2)
    got = collections.Counter(models_of(dp, 40))
    assert got == {"gpt-4o": 20, "o1-mini": 20}, got


def test_429_suspends_target_and_retries_next(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 429}])
    pol = du.wrr("p1", [du.target("gpt-4o", "e1"), du.target("o1-mini", "e1")], suspend_s=60)
    dp = start(mock, [pol])
    results = [du.chat(dp, KEY) for _ in range(6)]
    assert all(r.status == 200 for r in results), results
    assert all(r.headers["x-modelmux-model"] == "o1-mini" for r in results)
    assert sorted(int(r.headers["x-modelmux-attempts"]) for r in results)[-1] == 2
    # gpt-4o was asked once, then left alone while suspended
    assert sum(1 for i in du.mock_requests(mock) if i["json"]["model"] == "gpt-4o") == 1
    assert du.metric_value(dp.metrics(), "modelmux_target_suspended", model="gpt-4o") == 1


def test_every_target_suspended_is_503(mock):
    du.mock_faults(mock, [{"status": 429}])
    pol = du.wrr("p1", [du.target("gpt-4o", "e1"), du.target("o1-mini", "e1")], suspend_s=60)
    dp = start(mock, [pol])
    r = du.chat(dp, KEY)
    assert r.status == 429, r.text  # every try failed: the last upstream response (SPEC 3.1 step 4)
    asked = len(du.mock_requests(mock))
    assert asked == 2  # each target at most once
    r = du.chat(dp, KEY)
    assert r.status == 503
    assert r.json()["error"]["code"] == "all_targets_suspended"
    assert len(du.mock_requests(mock)) == asked


def test_suspension_expires(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 429, "count": 1}])
    pol = du.wrr("p1", [du.target("gpt-4o", "e1"), du.target("o1-mini", "e1")], suspend_s=1)
    dp = start(mock, [pol], workers=1)
    t0 = time.time()
    r = du.chat(dp, KEY)
    assert r.headers["x-modelmux-model"] == "o1-mini" and r.headers["x-modelmux-attempts"] == "2"
    within = []  # answers routed while gpt-4o was surely suspended (1 s from after t0)
    for _ in range(4):
        m = du.chat(dp, KEY).headers["x-modelmux-model"]
        if time.time() < t0 + 1.0:
            within.append(m)
    assert set(within) <= {"o1-mini"}, within
    time.sleep(1.3)
    models = {du.chat(dp, KEY).headers["x-modelmux-model"] for _ in range(4)}
    assert models == {"gpt-4o", "o1-mini"}


def test_retry_after_longer_than_suspension(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 429, "count": 1, "retryAfter": 3}])
    pol = du.wrr("p1", [du.target("gpt-4o", "e1"), du.target("o1-mini", "e1")], suspend_s=1)
    dp = start(mock, [pol], workers=1)
    t0 = time.time()
    du.chat(dp, KEY)
    time.sleep(1.5)  # past suspendDurationSec, within Retry-After
    within = []
    for _ in range(4):
        m = du.chat(dp, KEY).headers["x-modelmux-model"]
        if time.time() < t0 + 3.0:
            within.append(m)
    assert within and set(within) == {"o1-mini"}, within


def test_remaining_zero_suspends_after_success(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "count": 1, "headers": {"x-ratelimit-remaining-requests": "0"}}])
    pol = du.wrr("p1", [du.target("gpt-4o", "e1"), du.target("o1-mini", "e1")], suspend_s=60)
    dp = start(mock, [pol], workers=1)
    first = du.chat(dp, KEY)
    assert first.status == 200 and first.headers["x-modelmux-model"] == "gpt-4o"
    assert {du.chat(dp, KEY).headers["x-modelmux-model"] for _ in range(4)} == {"o1-mini"}


# --- failover -----------------------------------------------------------------

def failover_setup(mock, bad_url=None, request_timeout_ms=30000, suspend_s=60):
    eps = [du.endpoint("e1", mock.url + "/v1", name="good"),
           du.endpoint("e2", bad_url or mock.url + "/v1", name="primary")]
    pol = du.failover("f1", du.target("gpt-4o", "e2"), [du.target("gpt-4o-mini", "e1")],
                      request_timeout_ms=request_timeout_ms, suspend_s=suspend_s)
    return start(mock, [pol], endpoints=eps, workers=1)


@pytest.mark.parametrize("trigger", ["refused", "timeout", "500", "429", "404"])
def test_failover_triggers(mock, trigger):
    bad_url = None
    if trigger == "refused":
        bad_url = CLOSED % mm.free_port()
    elif trigger == "timeout":
        du.mock_faults(mock, [{"model": "gpt-4o", "delayMs": 3000}])
    else:
        du.mock_faults(mock, [{"model": "gpt-4o", "status": int(trigger)}])
    dp = failover_setup(mock, bad_url, request_timeout_ms=500)
    t0 = time.time()
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200, r.text
    assert r.headers["x-modelmux-model"] == "gpt-4o-mini"
    assert r.headers["x-modelmux-endpoint"] == "good"
    assert r.headers["x-modelmux-attempts"] == "2"
    if trigger == "timeout":
        assert time.time() - t0 < 2.5 * mm.SLOW
    if trigger == "404":
        # SPEC rev 2: a 4xx moves the request on without suspending anything
        r = du.chat(dp, KEY, model="gpt-4o")
        assert r.status == 200 and r.headers["x-modelmux-attempts"] == "2"
        assert du.metric_value(dp.metrics(), "modelmux_target_suspended", model="gpt-4o", endpoint="primary") == 0
        return
    # the failed target is suspended: the next request starts at the fallback
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 200 and r.headers["x-modelmux-attempts"] == "1"
    assert r.headers["x-modelmux-model"] == "gpt-4o-mini"
    assert du.metric_value(dp.metrics(), "modelmux_target_suspended", model="gpt-4o", endpoint="primary") == 1


@pytest.mark.parametrize("status", [400, 422])
def test_caller_errors_are_final(mock, status):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": status}])
    dp = failover_setup(mock)
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == status
    assert r.headers["x-modelmux-attempts"] == "1"
    assert r.headers["x-modelmux-model"] == "gpt-4o"
    assert "error" in r.json()
    assert len(du.mock_requests(mock)) == 1
    assert du.metric_value(dp.metrics(), "modelmux_target_suspended", model="gpt-4o") == 0


def test_failover_all_fail_returns_last_response(mock):
    du.mock_faults(mock, [{"status": 500}])
    dp = failover_setup(mock)
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 500
    assert r.headers["x-modelmux-attempts"] == "2"
    assert "error" in r.json()


def test_failover_all_unreachable_502_and_timeouts_504(mock):
    eps = [du.endpoint("e1", CLOSED % mm.free_port(), name="a"), du.endpoint("e2", CLOSED % mm.free_port(), name="b")]
    pol = du.failover("f1", du.target("gpt-4o", "e2"), [du.target("gpt-4o-mini", "e1")])
    dp = start(mock, [pol], endpoints=eps, workers=1)
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 502
    assert r.json()["error"]["code"] == "upstream_unreachable"
    dp.stop()
    du.mock_faults(mock, [{"delayMs": 2000}])
    dp = failover_setup(mock, request_timeout_ms=300)
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.status == 504, r.text
    assert r.json()["error"]["type"]


def test_failover_suspension_expiry(mock):
    du.mock_faults(mock, [{"model": "gpt-4o", "status": 503, "count": 1}])
    dp = failover_setup(mock, suspend_s=1)
    t0 = time.time()
    assert du.chat(dp, KEY, model="gpt-4o").headers["x-modelmux-attempts"] == "2"
    m = du.chat(dp, KEY, model="gpt-4o").headers["x-modelmux-model"]
    assert m == "gpt-4o-mini" or time.time() >= t0 + 1.0, m  # still suspended
    time.sleep(1.3)
    r = du.chat(dp, KEY, model="gpt-4o")
    assert r.headers["x-modelmux-model"] == "gpt-4o" and r.headers["x-modelmux-attempts"] == "1"


def test_failover_other_model_goes_direct(mock):
    dp = failover_setup(mock)
    r = du.chat(dp, KEY, model="something-else")
    assert r.status == 200
    assert r.headers["x-modelmux-model"] == "something-else"
