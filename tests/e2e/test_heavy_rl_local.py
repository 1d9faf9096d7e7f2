"""Issue 11 item 15, heavy variant (release build only, label heavy): with
scope application, no Redis and a limit of 1 request a day, 30,000
applications each send two requests. The local counter table failed open
per 8-slot bucket (164 second requests got through); now exactly one
request of each application is admitted, and nothing is left uncounted."""
import mm
from rl_util import apps_snapshot, call_apps, day_start_with_margin, metric, write_snapshot

N = 30000


def test_30000_applications_one_request_a_day_each(mock):
    day_start_with_margin()
    apps = ["app-%05d" % i for i in range(N)]
    path = write_snapshot(apps_snapshot(mock.url, apps,
                                        {"unit": "day", "scope": "application", "requests": 1}))
    dp = mm.DataPlane(config=path, workers=2)
    first = call_apps(dp, apps)
    assert sorted(set(first.values())) == [200], {s: list(first.values()).count(s) for s in set(first.values())}
    second = call_apps(dp, apps)
    got_through = [a for a, s in second.items() if s != 429]
    assert got_through == [], got_through[:20]
    text = dp.metrics()
    assert metric(text, "modelmux_ratelimit_local_full_total") == 0
    assert metric(text, "modelmux_ratelimit_local_windows") >= N
    assert "table full" not in dp.stderr()
    assert metric(text, "modelmux_ratelimited_total", {"api": "rl-api"}) == N
    assert dp.stop() == 0
