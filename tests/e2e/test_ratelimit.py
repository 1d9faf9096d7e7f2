"""Rate limiting (SPEC 3.1 step 3) on one data plane, local counters: the
real modelmux-dp with a --config snapshot in front of the mock upstream.

Request budgets exact under 50 concurrent callers, the x-ratelimit-* headers
and Retry-After, token budgets from the upstream's usage (plain and
streamed, with and without the caller asking for usage), per-application
scope, roll-over of the window, and requests refused before the limiter not
counting. The data plane's clock is moved (MODELMUX_FAKE_NOW_OFFSET_S) to a
known point of the window so no test straddles a boundary by accident."""
import json
import math
import time

import pytest

import mm
from rl_util import (API_NAME, CHAT, KEYS, OPEN, chat, clock_offset, run_concurrently, fake_now,
                     metric, mock_faults, mock_requests, snapshot, sse_events, write_snapshot)


def start_dp(mock, limit, workers=2, offset=None):
    offset = clock_offset() if offset is None else offset
    path = write_snapshot(snapshot(mock.url, limit))
    dp = mm.DataPlane(config=path, workers=workers,
                      env={"MODELMUX_FAKE_NOW_OFFSET_S": str(offset)})
    dp.offset = offset
    return dp


def expected_retry_after(offset, unit_s):
    return math.ceil(unit_s - fake_now(offset) % unit_s)


def assert_openai_error(r):
    err = r.json()["error"]
    assert isinstance(err["message"], str) and err["message"]
    assert "type" in err and "code" in err


def test_request_budget_headers_and_retry_after(mock):
    dp = start_dp(mock, {"unit": "minute", "scope": "api", "requests": 5})
    for left in (4, 3, 2, 1, 0):
        r = chat(dp)
        assert r.status == 200, r.text
        assert r.headers["x-ratelimit-limit-requests"] == "5"
        assert r.headers["x-ratelimit-remaining-requests"] == str(left)
        # no token limit: that header pair is left out
        assert "x-ratelimit-limit-tokens" not in r.headers
        assert "x-ratelimit-remaining-tokens" not in r.headers
    r = chat(dp)
    assert r.status == 429, r.text
    assert_openai_error(r)
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    ra = int(r.headers["retry-after"])
    exp = expected_retry_after(dp.offset, 60)
    assert 1 <= ra <= 60 and abs(ra - exp) <= 1, (ra, exp)
    # the refused request never reached the upstream
    assert len(mock_requests(mock)) == 5
    m = dp.metrics()
    assert metric(m, "modelmux_ratelimited_total", {"api": API_NAME}) == 1
    # no --redis: no backend gauge
    assert metric(m, "modelmux_ratelimit_backend_up") is None
    assert dp.stop() == 0


@pytest.mark.parametrize("budget", [1, 23])
def test_budget_exact_under_50_concurrent_callers(mock, budget):
    dp = start_dp(mock, {"unit": "hour", "scope": "api", "requests": budget}, workers=2)
    results = run_concurrently(50, lambda: chat(dp).status, per_caller=2)
    assert results.count(200) == budget, results
    assert results.count(429) == 100 - budget, results
    assert len(mock_requests(mock)) == budget
    assert dp.stop() == 0


def test_total_token_budget_from_upstream_usage(mock):
    # mock usage: 10 prompt + 20 completion = 30 per request
    dp = start_dp(mock, {"unit": "minute", "scope": "api", "totalTokens": 100})
    seen = []
    for _ in range(4):
        r = chat(dp)
        assert r.status == 200, r.text
        assert r.headers["x-ratelimit-limit-tokens"] == "100"
        seen.append(int(r.headers["x-ratelimit-remaining-tokens"]))
        assert "x-ratelimit-limit-requests" not in r.headers
        time.sleep(0.1)  # usage is settled as the response completes
    assert seen == [100, 70, 40, 10]
    r = chat(dp)  # 120 >= 100
    assert r.status == 429
    assert r.headers["x-ratelimit-remaining-tokens"] == "0"
    assert abs(int(r.headers["retry-after"]) - expected_retry_after(dp.offset, 60)) <= 1
    m = dp.metrics()
    assert metric(m, "modelmux_tokens_total", {"api": API_NAME, "kind": "prompt"}) == 40
    assert metric(m, "modelmux_tokens_total", {"api": API_NAME, "kind": "completion"}) == 80
    assert dp.stop() == 0


def test_prompt_and_completion_budgets_and_tightest_header(mock):
    dp = start_dp(mock, {"unit": "hour", "scope": "api", "requestTokens": 100,
                         "responseTokens": 1000})
    mock_faults(mock, [{"promptTokens": 45, "completionTokens": 5}])
    r = chat(dp)
    assert r.status == 200
    # no total: the tightest of the two (least left) -- the prompt budget
    assert r.headers["x-ratelimit-limit-tokens"] == "100"
    assert r.headers["x-ratelimit-remaining-tokens"] == "100"
    time.sleep(0.1)
    r = chat(dp)
    assert r.status == 200
    assert r.headers["x-ratelimit-remaining-tokens"] == "55"
    time.sleep(0.1)
    r = chat(dp)
    assert r.status == 200 and r.headers["x-ratelimit-remaining-tokens"] == "10"
    time.sleep(0.1)
    r = chat(dp)  # 135 prompt tokens >= 100
    assert r.status == 429
    assert_openai_error(r)
    assert dp.stop() == 0

    # completion budget, the tighter one from the start
    mock2 = mm.MockLLM()
    dp = start_dp(mock2, {"unit": "hour", "scope": "api", "requestTokens": 1000,
                          "responseTokens": 50})
    mock_faults(mock2, [{"promptTokens": 1, "completionTokens": 30}])
    r = chat(dp)
    assert r.headers["x-ratelimit-limit-tokens"] == "50"
    time.sleep(0.1)
    r = chat(dp)
    assert r.status == 200 and r.headers["x-ratelimit-remaining-tokens"] == "20"
    time.sleep(0.1)
    assert chat(dp).status == 429
    assert dp.stop() == 0
    mock2.stop()


def stream_body(include_usage):
    b = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    if include_usage:
        b["stream_options"] = {"include_usage": True}
    return b


def usage_chunks(events):
    out = []
    for e in events:
        if e == "[DONE]":
            continue
        doc = json.loads(e)
        if doc.get("usage"):
            out.append(doc)
    return out


def test_streamed_usage_counts_even_when_the_caller_does_not_ask(mock):
    dp = start_dp(mock, {"unit": "minute", "scope": "api", "totalTokens": 60})
    r = chat(dp, body=stream_body(False))
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.body)
    assert events and events[-1] == "[DONE]"
    # the caller did not ask for usage: it never sees the usage-only chunk
    assert usage_chunks(events) == []
    # ... but the gateway asked the upstream for it
    sent = mock_requests(mock)[-1]["json"]
    assert sent["stream_options"]["include_usage"] is True
    time.sleep(0.1)
    r = chat(dp, body=stream_body(False))
    assert r.status == 200 and r.headers["x-ratelimit-remaining-tokens"] == "30"
    assert usage_chunks(sse_events(r.body)) == []
    time.sleep(0.1)
    r = chat(dp, body=stream_body(False))  # 60 >= 60
    assert r.status == 429
    assert dp.stop() == 0


def test_streamed_usage_counts_when_the_caller_asks(mock):
    dp = start_dp(mock, {"unit": "minute", "scope": "api", "totalTokens": 50})
    mock_faults(mock, [{"promptTokens": 5, "completionTokens": 20}])
    r = chat(dp, body=stream_body(True))
    assert r.status == 200
    u = usage_chunks(sse_events(r.body))
    assert len(u) == 1 and u[0]["usage"]["total_tokens"] == 25
    time.sleep(0.1)
    r = chat(dp, body=stream_body(True))
    assert r.status == 200 and r.headers["x-ratelimit-remaining-tokens"] == "25"
    assert len(usage_chunks(sse_events(r.body))) == 1
    time.sleep(0.1)
    assert chat(dp, body=stream_body(True)).status == 429
    assert dp.stop() == 0


def test_application_scope_one_budget_per_application(mock):
    dp = start_dp(mock, {"unit": "minute", "scope": "application", "requests": 2})
    assert chat(dp, "app-a").headers["x-ratelimit-remaining-requests"] == "1"
    assert chat(dp, "app-a").headers["x-ratelimit-remaining-requests"] == "0"
    assert chat(dp, "app-a").status == 429
    r = chat(dp, "app-b")
    assert r.status == 200 and r.headers["x-ratelimit-remaining-requests"] == "1"
    # the unsecured operation has no application: the API's own budget
    r = chat(dp, None, body={"model": "gpt-4o", "input": "x"}, path=OPEN)
    assert r.status == 200 and r.headers["x-ratelimit-remaining-requests"] == "1"
    assert chat(dp, "app-b").status == 200
    assert chat(dp, "app-b").status == 429
    assert dp.stop() == 0


def test_api_scope_one_budget_for_all_applications(mock):
    dp = start_dp(mock, {"unit": "minute", "scope": "api", "requests": 3})
    assert chat(dp, "app-a").status == 200
    assert chat(dp, "app-b").status == 200
    assert chat(dp, None, body={"model": "gpt-4o", "input": "x"}, path=OPEN).status == 200
    assert chat(dp, "app-b").status == 429
    assert chat(dp, "app-a").status == 429
    assert dp.stop() == 0


def test_window_roll_over_restores_the_budget(mock):
    # The data plane's clock 3-4 s before the end of a minute.
    dp = start_dp(mock, {"unit": "minute", "scope": "api", "requests": 1},
                  offset=clock_offset(seconds_into_hour=3597))
    assert chat(dp).status == 200
    r = chat(dp)
    if r.status == 200:  # startup took the whole 3 s: we are in the next minute already
        assert dp.stop() == 0
        pytest.skip("data plane startup crossed the window boundary")
    assert r.status == 429
    ra = int(r.headers["retry-after"])
    assert 1 <= ra <= 4, ra
    time.sleep(ra + 0.3)
    r = chat(dp)
    assert r.status == 200, r.text
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert dp.stop() == 0


def test_requests_refused_before_the_limiter_do_not_count(mock):
    dp = start_dp(mock, {"unit": "minute", "scope": "api", "requests": 2})
    # unknown, missing and malformed keys: 401, never counted
    for h in ({"Authorization": "Bearer nope"}, {}, {"Authorization": "Basic x"},
              {"apikey": "x" * 5000}):
        r = mm.request(dp.port, "POST", CHAT, body={"model": "gpt-4o"}, headers=h)
        assert r.status == 401, (h.keys(), r.status)
    # a body over 10 MiB (announced by Content-Length): 413 before any limiter
    head = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (CHAT, KEYS["app-a"], 10 * 1024 * 1024 + 10)).encode()
    assert mm.raw_request(dp.port, head + b'{"model":', timeout=5).startswith(b"HTTP/1.1 413")
    # wrong verb and unknown path
    assert mm.request(dp.port, "GET", CHAT).status == 405
    assert mm.request(dp.port, "POST", "/rl/v1/nothing", body={}).status == 404
    r = chat(dp)
    assert r.status == 200 and r.headers["x-ratelimit-remaining-requests"] == "1"
    assert dp.stop() == 0


def test_hostile_bodies_on_a_limited_api_are_answered(mock):
    dp = start_dp(mock, {"unit": "minute", "scope": "application", "requests": 50})
    bodies = [b"", b"{", b"[]", b"null", b'{"model": 5}', b'{"model":"gpt-4o"' + b"[" * 5000,
              b"\xff\xfe\x00garbage", json.dumps({"model": "x" * 100000}).encode()]
    for b in bodies:
        r = mm.request(dp.port, "POST", CHAT, body=b,
                       headers={"Authorization": "Bearer " + KEYS["app-a"],
                                "Content-Type": "application/json"})
        assert r.status == 400, (b[:20], r.status, r.text[:200])
    # the data plane is alive and the budget is intact enough to serve
    r = chat(dp, "app-b")
    assert r.status == 200 and r.headers["x-ratelimit-remaining-requests"] == "49"
    assert dp.stop() == 0
