"""The access log is buffered per worker and written once per loop iteration
(dataplane/accesslog.h): every request still gets exactly one whole JSON
line, none is lost when SIGTERM comes right after the last answer, and the
lines of several workers writing at once never interleave."""
import concurrent.futures

import dp_util as du
import mm

KEY = "key-alog-0123456789"


def test_every_line_written_whole_and_none_lost_on_sigterm(mock):
    eps = [du.endpoint("e1", mock.url + "/v1", name="ep-one")]
    pol = [du.wrr("p1", [du.target("gpt-4o-mini", "e1")])]
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, pol, name="chat-api")],
                                        [du.key("k1", KEY)]))
    dp = mm.DataPlane(config=cfg, workers=2)
    n = 300
    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(lambda _: du.chat(dp, KEY).status, range(n)))
    assert statuses == [200] * n
    # SIGTERM at once: the lines of the last iterations are still buffered.
    assert dp.stop() == 0
    lines = [line for line in dp.stderr().splitlines() if line.startswith("{")]
    entries = du.access_log(dp)
    # Each line parses on its own (whole lines, never two workers' mixed).
    assert len(entries) == len(lines) == n, (len(entries), len(lines))
    assert len({e["id"] for e in entries}) == n
    assert all(e["status"] == 200 and e["api"] == "chat-api" for e in entries)
