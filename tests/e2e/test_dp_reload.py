"""Config reloads and shutdown of the data plane in --config mode: a reload
every 100 ms under concurrent load fails no request, an invalid new file
keeps the old config, and SIGTERM lets a slow request in flight finish."""
import concurrent.futures
import signal
import threading
import time


import dp_util as du
import mm

KEY = "key-reload-0123456789"
P = "/api/1.0" + du.CHAT


def config(mock, revision, weights):
    eps = [du.endpoint("e1", mock.url + "/v1", name="ep-%d" % revision)]
    pol = du.wrr("p1", [du.target("gpt-4o", "e1", weights[0]), du.target("o1-mini", "e1", weights[1])])
    return du.snapshot([du.api("a1", "/api", eps, [pol])], [du.key("k1", KEY)], revision=revision)


def test_reload_every_100ms_under_load_fails_nothing(mock):
    path = du.write_snapshot(config(mock, 1, (1, 1)))
    dp = mm.DataPlane(config=path, workers=2)
    stop = threading.Event()
    reloads = [0]

    def reloader():
        rev = 1
        while not stop.is_set():
            rev += 1
            du.write_snapshot(config(mock, rev, (rev % 3 + 1, 1)), path)
            dp.signal(signal.SIGHUP)
            reloads[0] += 1
            time.sleep(0.1)

    def client(_):
        statuses = []
        deadline = time.time() + 3.0
        while time.time() < deadline:
            r = du.chat(dp, KEY)
            statuses.append((r.status, r.headers.get("x-modelmux-endpoint")))
        return statuses

    t = threading.Thread(target=reloader)
    t.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            results = [s for part in ex.map(client, range(6)) for s in part]
    finally:
        stop.set()
        t.join()
    assert reloads[0] >= 20
    failed = [s for s in results if s[0] != 200]
    assert not failed, failed[:10]
    assert len(results) > 100
    # several revisions served requests, and the last one is applied
    assert len({e for _, e in results}) > 3
    mm.wait_until(lambda: du.metric_value(dp.metrics(), "modelmux_config_revision") == reloads[0] + 1,
                  what="last revision applied")
    assert dp.stop() == 0


def test_invalid_reload_keeps_old_config(mock):
    path = du.write_snapshot(config(mock, 5, (1, 1)))
    dp = mm.DataPlane(config=path)
    with open(path, "w") as f:
        f.write("{not json")
    dp.signal(signal.SIGHUP)
    mm.wait_until(lambda: "reload of" in dp.stderr(), what="reload failure logged")
    assert du.chat(dp, KEY).status == 200
    assert du.metric_value(dp.metrics(), "modelmux_config_revision") == 5
    bad = config(mock, 6, (1, 1))
    bad["apis"][0]["policies"][0]["production"][0]["endpoint"] = "nope"
    du.write_snapshot(bad, path)
    dp.signal(signal.SIGHUP)
    mm.wait_until(lambda: dp.stderr().count("reload of") >= 2, what="second failure logged")
    assert du.chat(dp, KEY).headers["x-modelmux-endpoint"] == "ep-5"
    du.write_snapshot(config(mock, 7, (1, 1)), path)
    dp.signal(signal.SIGHUP)
    mm.wait_until(lambda: du.chat(dp, KEY).headers["x-modelmux-endpoint"] == "ep-7", what="good reload")
    assert dp.stop() == 0


def test_round_robin_position_carries_over_reload(mock):
    path = du.write_snapshot(config(mock, 1, (1, 1)))
    dp = mm.DataPlane(config=path, workers=1)
    first = [du.chat(dp, KEY).headers["x-modelmux-model"] for _ in range(3)]
    du.write_snapshot(config(mock, 2, (1, 1)), path)
    dp.signal(signal.SIGHUP)
    mm.wait_until(lambda: du.metric_value(dp.metrics(), "modelmux_config_revision") == 2, what="reload")
    after = [du.chat(dp, KEY).headers["x-modelmux-model"] for _ in range(3)]
    seq = first + after
    assert all(seq[i] != seq[i + 1] for i in range(len(seq) - 1)), seq


def test_sigterm_finishes_slow_request_in_flight(mock):
    du.mock_faults(mock, [{"delayMs": 2000}])
    dp = mm.DataPlane(config=du.write_snapshot(config(mock, 1, (1, 1))), workers=2)
    result = {}

    def slow():
        result["r"] = du.chat(dp, KEY)

    t = threading.Thread(target=slow)
    t.start()
    mm.wait_until(lambda: du.mock_stats(mock)["active"] == 1, what="request upstream")
    t0 = time.time()
    dp.signal(signal.SIGTERM)
    # no longer accepting (each worker closes its listener at its next cron
    # tick, 100 ms; polled: under load a fixed sleep may be too short)
    mm.wait_until(lambda: du.port_closed(dp.port), timeout=1.5, what="listeners closed")
    t.join(timeout=20)
    assert result["r"].status == 200, result["r"]
    assert dp.wait(timeout=10) == 0
    assert time.time() - t0 < 10
    dp.stop()


def test_sigterm_with_stream_in_flight(mock):
    du.mock_faults(mock, [{"chunks": 10, "chunkDelayMs": 150}])
    dp = mm.DataPlane(config=du.write_snapshot(config(mock, 1, (1, 1))))
    s = du.Stream(dp.port, P, {"model": "x", "stream": True}, KEY)
    ev = s.events()
    next(ev)
    dp.signal(signal.SIGTERM)
    rest = [p for _, p in ev]
    s.close()
    assert rest[-1] == "[DONE]"
    assert dp.wait(timeout=10) == 0
    dp.stop()
