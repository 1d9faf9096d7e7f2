"""Issue 11 items 10, 14 and 15 (light variant), attacked the way the
outsider did against the real modelmux-dp and mock upstream: caller-chosen
model names must not grow /metrics, removed targets leave no series, a
multipart form with two model fields is refused, and the local rate-limit
counter table never admits what it could not count. The heavy variant of
item 15 (tens of thousands of applications) is tests/e2e/test_heavy_rl_local.py."""
import concurrent.futures
import http.client
import json
import signal

import dp_util as du
import mm
import rl_util as rl

KEY = "key-bounds-0123456789"


def multipart(parts):
    boundary = "----mmbounds7Q"
    body = b""
    for name, value in parts:
        body += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" % (boundary, name)).encode()
        body += value + b"\r\n"
    body += ("--%s--\r\n" % boundary).encode()
    return body, "multipart/form-data; boundary=" + boundary


def one_api_config(mock, policies, revision=1, endpoints=None, keys=None):
    eps = endpoints or [du.endpoint("e1", mock.url + "/v1", name="ep-one")]
    return du.snapshot([du.api("a1", "/api", eps, policies, name="chat-api")],
                       keys or [du.key("k1", KEY)], revision=revision)


def chat_models(dp, models, threads=8):
    """One chat request per model name, over keep-alive connections.
    Returns the statuses."""
    def run(chunk):
        out = []
        conn = http.client.HTTPConnection("127.0.0.1", dp.port, timeout=30)
        for model in chunk:
            conn.request("POST", "/api/1.0" + du.CHAT,
                         body=json.dumps({"model": model, "messages": []}),
                         headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            out.append(r.status)
            if r.getheader("connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", dp.port, timeout=30)
        conn.close()
        return out
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return [s for part in ex.map(run, [models[i::threads] for i in range(threads)]) for s in part]


# --- item 10: /metrics label values come from the config --------------------

def test_12000_caller_models_neither_break_metrics_nor_grow_it(mock):
    """An API without a routing policy forwards the caller's model as it is:
    12,000 distinct names made /metrics answer 503 for good and legitimate
    counts vanish. They are all model="other" now."""
    cfg = du.write_snapshot(one_api_config(mock, []))
    dp = mm.DataPlane(config=cfg, workers=2)
    statuses = chat_models(dp, ["attack-%05d" % i for i in range(12000)])
    assert statuses == [200] * 12000
    assert du.chat(dp, KEY, model="gpt-4o").status == 200  # named by the vendor's model list
    r = mm.request(dp.admin_port, "GET", "/metrics")
    assert r.status == 200, r.text[:300]
    text = r.text
    assert "attack-" not in text
    assert du.metric_value(text, "modelmux_requests_total", api="chat-api", model="other",
                           status="200") == 12000
    assert du.metric_value(text, "modelmux_requests_total", api="chat-api", model="gpt-4o",
                           status="200") == 1
    assert du.metric_value(text, "modelmux_tokens_total", model="other", kind="prompt") > 0
    assert du.metric_value(text, "modelmux_metrics_dropped_total") == 0
    series = [line for line in text.splitlines() if line.startswith("modelmux_requests_total{")]
    assert len(series) == 2, series
    assert dp.stop() == 0


def test_150_reloads_leave_only_the_live_targets_series(mock):
    """Every reload renamed the endpoints: after 150 there were 302
    modelmux_target_suspended series for 2 live targets."""
    def config(rev):
        eps = [du.endpoint("e1", mock.url + "/v1", name="ep-a-%d" % rev),
               du.endpoint("e2", mock.url + "/v1", name="ep-b-%d" % rev)]
        pol = du.wrr("p1", [du.target("gpt-4o", "e1"), du.target("gpt-4o-mini", "e2")])
        return one_api_config(mock, [pol], revision=rev, endpoints=eps)
    path = du.write_snapshot(config(1))
    dp = mm.DataPlane(config=path, workers=2)
    assert du.chat(dp, KEY).status == 200
    for rev in range(2, 152):
        du.write_snapshot(config(rev), path)
        dp.signal(signal.SIGHUP)
        mm.wait_until(lambda: du.metric_value(dp.metrics(), "modelmux_config_revision") == rev,
                      what="revision %d applied" % rev)
        if rev % 50 == 0:
            assert du.chat(dp, KEY).status == 200
    text = dp.metrics()
    suspended = sorted(line.rpartition(" ")[0] for line in text.splitlines()
                       if line.startswith("modelmux_target_suspended{"))
    assert suspended == [
        'modelmux_target_suspended{api="chat-api",model="gpt-4o",endpoint="ep-a-151"}',
        'modelmux_target_suspended{api="chat-api",model="gpt-4o-mini",endpoint="ep-b-151"}'], suspended
    # counters of the removed endpoints are gone too, the live ones kept
    assert "ep-a-1\"" not in text and "ep-a-150\"" not in text and "ep-b-100\"" not in text
    assert dp.stop() == 0


# --- item 14: multipart with two model parts --------------------------------

def test_multipart_with_two_model_parts_is_400_and_never_forwarded(mock):
    # a round robin that routes transcriptions (its "operations")
    pol = dict(du.wrr("p1", [du.target("gpt-4o-mini", "e1")]),
               operations=["/chat/completions", "/audio/transcriptions"])
    cfg = du.write_snapshot(one_api_config(mock, [pol]))
    dp = mm.DataPlane(config=cfg)
    audio = bytes(range(256)) * 8
    # The attack: the gateway routed and rewrote the first model part while
    # the second (which a Starlette upstream reads) went through untouched.
    body, ctype = multipart([("model", b"whisper-1"), ("file", audio), ("model", b"gpt-4o-expensive")])
    r = mm.request(dp.port, "POST", "/api/1.0/audio/transcriptions", body=body,
                   headers={"Authorization": "Bearer " + KEY, "Content-Type": ctype})
    assert r.status == 400, r.text
    err = r.json()["error"]
    assert "more than one model" in err["message"]
    assert err["type"] == "invalid_request_error"
    assert du.mock_requests(mock) == []
    # One model part still works, and is rewritten to the routed model.
    body, ctype = multipart([("model", b"whisper-1"), ("file", audio)])
    r = mm.request(dp.port, "POST", "/api/1.0/audio/transcriptions", body=body,
                   headers={"Authorization": "Bearer " + KEY, "Content-Type": ctype})
    assert r.status == 200, r.text
    assert du.mock_requests(mock)[-1]["model"] == "gpt-4o-mini"


# --- item 15: the local rate-limit table never fails open -------------------

def test_local_counters_never_admit_uncounted_when_a_bucket_is_full(mock):
    """40 applications whose day windows all land in one 8-slot bucket of the
    local table (the attack of 20,000 applications, aimed): each gets exactly
    one request, the table grows rather than admitting uncounted."""
    day_start = rl.day_start_with_margin()
    target = rl.local_bucket("app-0", day_start)
    apps, i = [], 0
    while len(apps) < 40:
        app = "app-%d" % i
        if rl.local_bucket(app, day_start) == target:
            apps.append(app)
        i += 1
    path = rl.write_snapshot(rl.apps_snapshot(mock.url, apps,
                                              {"unit": "day", "scope": "application", "requests": 1}))
    dp = mm.DataPlane(config=path, workers=2)
    first = rl.call_apps(dp, apps)
    assert list(first.values()) == [200] * 40, first
    second = rl.call_apps(dp, apps)
    assert list(second.values()) == [429] * 40, second
    text = dp.metrics()
    # The aim was true: the table had to grow past its first generation.
    assert rl.metric(text, "modelmux_ratelimit_local_windows") > 65536
    assert rl.metric(text, "modelmux_ratelimit_local_full_total") == 0
    assert "table full" not in dp.stderr()
    assert dp.stop() == 0
