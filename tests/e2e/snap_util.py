"""Snapshot size at scale (issue 11 item 11): many keys, APIs and
applications written straight into the control plane's SQLite database
(fast), then the real control plane builds and publishes the snapshot itself
and a real data plane applies it. Used by test_cp_snapshot_size.py (light)
and test_heavy_snapshot_size.py (the issue's target, label heavy)."""

import hashlib
import os
import sqlite3
import time

import cp_util as cu
import mm


def bulk_key(i):
    return "mm-bulk-key-%06d-0123456789" % i


def cpu_s(proc):
    """CPU seconds (user + system) a running mm.Proc has used: unlike wall
    time, not stretched by other load on a shared machine."""
    with open("/proc/%d/stat" % proc.p.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _clone(conn, table, template_id, rows):
    """Inserts copies of table's row template_id with each dict of rows
    overriding some columns."""
    conn.row_factory = sqlite3.Row
    tpl = dict(conn.execute("SELECT * FROM %s WHERE id = ?" % table, (template_id,)).fetchone())
    cols = list(tpl)
    sql = "INSERT INTO %s (%s) VALUES (%s)" % (table, ",".join(cols), ",".join("?" * len(cols)))
    conn.executemany(sql, ([r.get(c, tpl[c]) for c in cols] for r in rows))


def populate(napis, napps, subs_per_app, nkeys):
    """A stopped control plane's database with napis APIs (one endpoint
    each, subscription validation on), napps applications each subscribed to
    subs_per_app APIs (application a to APIs a, a+1, ...), and nkeys
    production keys spread over the applications (key i to application
    i % napps, raw key bulk_key(i)). Returns (db path, api ids, app ids)."""
    cp = mm.ControlPlane()
    api = cu.make_api(cp, base="/bulk-0", subscriptionValidation=True)
    ep = cu.make_endpoint(cp, api["id"], "e1")
    app = cp.ok("POST", "/applications", {"name": "bulk-app-0"}, expect=201)
    key = cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "production"}, expect=201)
    cp.ok("POST", "/applications/%s/subscriptions" % app["id"], {"apiId": api["id"]}, expect=201)
    cp.stop()
    conn = sqlite3.connect(cp.db)
    api_ids = [api["id"]] + ["%032x" % (0xa0000000 + i) for i in range(1, napis)]
    app_ids = [app["id"]] + ["%032x" % (0xb0000000 + i) for i in range(1, napps)]
    _clone(conn, "apis", api["id"], [{"id": api_ids[i], "seq": 1000 + i, "name": "bulk-%d" % i,
                                      "base_path": "/bulk-%d" % i} for i in range(1, napis)])
    _clone(conn, "endpoints", ep["id"], [{"id": "%032x" % (0xc0000000 + i), "seq": 1000 + i,
                                          "api_id": api_ids[i]} for i in range(1, napis)])
    _clone(conn, "applications", app["id"], [{"id": app_ids[i], "seq": 1000 + i,
                                              "name": "bulk-app-%d" % i} for i in range(1, napps)])
    conn.execute("DELETE FROM subscriptions")
    conn.execute("DELETE FROM api_keys")
    now = "2026-01-01T00:00:00Z"
    conn.executemany("INSERT INTO subscriptions (application_id, api_id, seq, created_at) "
                     "VALUES (?, ?, ?, ?)",
                     ((app_ids[a], api_ids[(a + j) % napis], a * subs_per_app + j, now)
                      for a in range(napps) for j in range(subs_per_app)))
    conn.executemany("INSERT INTO api_keys (id, seq, application_id, hash, type, created_at) "
                     "VALUES (?, ?, ?, ?, 'production', ?)",
                     (("%032x" % (0xd0000000 + i), i, app_ids[i % napps],
                       hashlib.sha256(bulk_key(i).encode()).hexdigest(), now)
                      for i in range(nkeys)))
    conn.execute("UPDATE config_revision SET revision = revision + 1 WHERE id = 1")
    conn.commit()
    conn.close()
    assert key["key"]  # the REST key was replaced by the bulk ones
    return cp.db, api_ids, app_ids


def check_scale(napis, napps, subs_per_app, nkeys, max_bytes, max_build_s, max_apply_s):
    """Populates, starts the control plane on that database, fetches the
    snapshot three times (each a new revision, built on its first request)
    and starts a data plane on it twice (the best time of each counts);
    asserts the size, the CPU seconds of building (control plane) and of
    starting and applying (data plane), with wall time at most ten times
    those, and that the keys work with their application's subscriptions.
    Returns (bytes, build CPU s, apply CPU s)."""
    db, api_ids, app_ids = populate(napis, napps, subs_per_app, nkeys)
    cp = mm.ControlPlane(db=db)
    # The best of three builds (a rename in between makes a new revision):
    # the bound is on the work, not on what other processes on a shared
    # machine take from it meanwhile.
    builds = []
    for i in range(3):
        if i:
            cp.ok("PUT", "/applications/%s" % app_ids[0], {"name": "bulk-app-0-%d" % i})
        rev = cu.revision(cp)
        t0, c0 = time.monotonic(), cpu_s(cp)
        r = cu.dp_config(cp, after=0, dp_id="probe")
        builds.append((cpu_s(cp) - c0, time.monotonic() - t0))
        assert r.status == 200, r
    build_s, build_wall = min(builds)
    size = len(r.body)
    doc = r.json()
    assert doc["revision"] == rev
    assert len(doc["keys"]) == nkeys and len(doc["apis"]) == napis
    assert len(doc["applications"]) == napps
    assert all(len(a["subscriptions"]) == subs_per_app for a in doc["applications"])
    assert all("subscriptions" not in k for k in doc["keys"])
    # The best of two data planes started on it, for the same reason.
    applies = []
    for i in range(2):
        if i:
            assert dp.stop() == 0
        t0 = time.monotonic()
        dp = mm.DataPlane(cp=cp, dp_id="dp-scale", wait_ready=False)
        dp.wait_ready(timeout=60 * mm.SLOW)
        applies.append((cpu_s(dp), time.monotonic() - t0))
    apply_s, apply_wall = min(applies)
    # The control plane sees the revision the data plane really runs.
    mm.wait_until(lambda: any(d["id"] == "dp-scale" and d["revision"] == rev
                              for d in cp.ok("GET", "/dataplanes")["items"]),
                  timeout=30, what="/dataplanes shows dp-scale at revision %d" % rev)
    # Key i belongs to application i % napps, subscribed to APIs a .. a+subs-1.
    i = nkeys - 1
    a = i % napps
    sub = (a + subs_per_app - 1) % napis
    nosub = (a + subs_per_app) % napis
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    ok = dp.call("POST", "/bulk-%d/v1/chat/completions" % sub, body, key=bulk_key(i))
    assert ok.status not in (401, 403), ok.text  # authenticated and subscribed (upstream is down)
    no = dp.call("POST", "/bulk-%d/v1/chat/completions" % nosub, body, key=bulk_key(i))
    assert no.status == 403 and "not subscribed" in no.text, no.text
    unknown = dp.call("POST", "/bulk-%d/v1/chat/completions" % sub, body, key=bulk_key(nkeys))
    assert unknown.status == 401
    dp.stop()
    cp.stop()
    print("snapshot: %d keys, %d APIs, %d applications x %d subscriptions: %d bytes, built in "
          "%.2f s CPU (%.2f s wall), applied in %.2f s CPU (%.2f s wall)"
          % (nkeys, napis, napps, subs_per_app, size, build_s, build_wall, apply_s, apply_wall))
    assert size < max_bytes, size
    assert build_s < max_build_s * mm.SLOW, build_s
    assert build_wall < 10 * max_build_s * mm.SLOW, build_wall
    assert apply_s < max_apply_s * mm.SLOW, apply_s
    assert apply_wall < 10 * max_apply_s * mm.SLOW, apply_wall
    return size, build_s, apply_s
