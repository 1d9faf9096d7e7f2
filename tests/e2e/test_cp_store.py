"""The control plane's SQLite store: gapless revisions under concurrent
writers, no change from a failed call, durability across SIGKILL, and the
process contract (flags, exit codes, signals, migrations)."""
import os
import signal
import sqlite3
import subprocess
import threading
import time

import mm
from cp_util import RecordingCP, dp_config, proc_status, read_status, revision


def test_concurrent_writers_get_gapless_revisions():
    cp = RecordingCP()
    start = revision(cp)
    seen = []
    errors = []
    lock = threading.Lock()

    def writer(t):
        for i in range(50):
            r = cp.api("POST", "/applications", {"name": "w%d-%d" % (t, i)})
            if r.status != 201:
                errors.append(r)
            # a read of the revision interleaves with the other writers
            if i % 10 == 0:
                with lock:
                    seen.append(revision(cp))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[:3]
    assert revision(cp) == start + 400
    names = {a["name"] for a in cp.ok("GET", "/applications")["items"]}
    assert names == {"w%d-%d" % (t, i) for t in range(8) for i in range(50)}
    assert all(start <= s <= start + 400 for s in seen)
    # the snapshot agrees
    assert dp_config(cp).json()["revision"] == start + 400


def test_failed_call_changes_nothing():
    cp = RecordingCP()
    api = cp.ok("POST", "/apis", {"name": "a", "basePath": "/a", "version": "v1", "vendor": "openai"},
                expect=201)
    ep = cp.ok("POST", "/apis/%s/endpoints" % api["id"],
               {"name": "e", "environment": "production", "url": "http://x"}, expect=201)
    rev = revision(cp)
    before = [cp.ok("GET", p) for p in ("/apis", "/apis/%s/endpoints" % api["id"], "/vendors",
                                        "/apis/%s/policies" % api["id"])]
    bad = [
        ("POST", "/apis/%s/policies" % api["id"],
         {"type": "modelRoundRobin", "production": [{"model": "gpt-4o", "endpoint": ep["id"]},
                                                    {"model": "nope", "endpoint": ep["id"]}]}, 400),
        ("PUT", "/vendors/openai", {"name": "OpenAI", "models": ["a", "a"]}, 400),
        ("PUT", "/apis/" + api["id"], {"name": "a", "basePath": "/a", "version": "v1", "vendor": "x"}, 400),
        ("PATCH", "/apis/%s/endpoints/%s" % (api["id"], ep["id"]), {"url": "nope"}, 400),
        ("DELETE", "/vendors/openai", None, 409),  # in use by the API
    ]
    for method, path, body, status in bad:
        r = cp.api(method, path, body)
        assert r.status == status, (method, path, r)
    assert revision(cp) == rev
    after = [cp.ok("GET", p) for p in ("/apis", "/apis/%s/endpoints" % api["id"], "/vendors",
                                       "/apis/%s/policies" % api["id"])]
    assert after == before


def test_sigkill_keeps_every_acknowledged_change():
    cp = RecordingCP()
    acked = []
    stop = threading.Event()

    def writer(t):
        i = 0
        while not stop.is_set():
            try:
                r = cp.api("POST", "/applications", {"name": "d%d-%d" % (t, i)}, timeout=5)
            except OSError:
                return
            if r.status == 201:
                acked.append(r.json()["name"])
            i += 1

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    mm.wait_until(lambda: len(acked) >= 100, timeout=30, what="100 writes")
    cp.kill()
    stop.set()
    for th in threads:
        th.join()
    con = sqlite3.connect(cp.db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    cp2 = mm.ControlPlane(db=cp.db)
    names = {a["name"] for a in cp2.ok("GET", "/applications")["items"]}
    missing = set(acked) - names
    assert not missing, sorted(missing)[:5]
    assert cp2.ok("GET", "/revision")["revision"] >= 1 + len(acked)
    assert cp2.stop() == 0
    con = sqlite3.connect(cp.db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions and versions == sorted(set(versions))
    con.close()


def run_cp(args, env=None, timeout=10):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([mm.binary("modelmux-cp")] + args, capture_output=True, text=True,
                          timeout=timeout * mm.SLOW, env=e)


def test_flags_and_exit_codes(tmp_path):
    r = run_cp(["--bogus"])
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--bogus" in r.stderr
    r = run_cp(["--listen"])
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = run_cp(["extra"])
    assert r.returncode == 2
    r = run_cp(["--help"])
    assert r.returncode == 0 and "--listen" in r.stdout and "--db" in r.stdout and "--web" in r.stdout
    for listen in ("nonsense", "127.0.0.1:99999", "", "[::1"):
        r = run_cp(["--listen", listen, "--db", str(tmp_path / "a.db")])
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (listen, r.stderr)
        assert "--listen" in r.stderr and r.stdout == ""  # no token generated for nothing
        assert not (tmp_path / "a.db").exists()  # refused before the database is touched
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    r = run_cp(["--listen", "127.0.0.1:%d" % mm.free_port(), "--db", str(bad)])
    assert r.returncode == 1 and "database" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cp(["--listen", "127.0.0.1:%d" % mm.free_port(), "--db", str(tmp_path / "no/dir/x.db")])
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    cp = mm.ControlPlane()
    r = run_cp(["--listen", "127.0.0.1:%d" % cp.port, "--db", str(tmp_path / "b.db")])
    assert r.returncode == 1 and "in use" in r.stderr.lower() and len(r.stderr.strip().splitlines()) == 1


def test_database_that_cannot_be_migrated(tmp_path):
    db = str(tmp_path / "m.db")
    cp = mm.ControlPlane(db=db)
    assert cp.stop() == 0
    # a database written by a newer binary is refused, and left as it is
    con = sqlite3.connect(db)
    con.execute("INSERT INTO schema_migrations (version, name, applied_at) "
                "VALUES (999, '999_future.sql', '2099-01-01T00:00:00Z')")
    con.commit()
    con.close()
    r = run_cp(["--listen", "127.0.0.1:%d" % mm.free_port(), "--db", db])
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "newer" in r.stderr
    # a migration that fails is rolled back: nothing of it stays, exit 1
    bad = tmp_path / "schema"
    bad.mkdir()
    src = os.path.join(mm.SOURCE_DIR, "schema", "sqlite")
    for name in os.listdir(src):
        (bad / name).write_bytes(open(os.path.join(src, name), "rb").read())
    (bad / "900_broken.sql").write_text("CREATE TABLE half_done (x);\nTHIS IS NOT SQL;\n")
    fresh = str(tmp_path / "fresh.db")
    r = run_cp(["--listen", "127.0.0.1:%d" % mm.free_port(), "--db", fresh],
               env={"MODELMUX_SCHEMA_DIR": str(bad)})
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "900_broken.sql" in r.stderr
    con = sqlite3.connect(fresh)
    tables = {t[0] for t in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    versions = [v[0] for v in con.execute("SELECT version FROM schema_migrations")]
    con.close()
    assert "half_done" not in tables and 900 not in versions and "vendors" in tables
    # a directory is not a database
    r = run_cp(["--listen", "127.0.0.1:%d" % mm.free_port(), "--db", str(tmp_path)])
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_generated_admin_token_printed_once(tmp_path):
    db = str(tmp_path / "tok.db")
    cp = mm.ControlPlane(db=db, admin_token=None, env={"MODELMUX_ADMIN_TOKEN": None})
    mm.wait_until(lambda: "admin token:" in cp.stdout(), what="token on stdout")
    token = cp.stdout().split("admin token:")[1].split()[0]
    assert len(token) > 30
    assert mm.request(cp.port, "GET", "/api/v1/revision", token=token).status == 200
    assert mm.request(cp.port, "GET", "/api/v1/revision", token=token + "x").status == 401
    assert cp.stop() == 0
    con = sqlite3.connect(db)
    dump = "\n".join(con.iterdump())
    con.close()
    assert token not in dump
    cp2 = mm.ControlPlane(db=db, admin_token=None, env={"MODELMUX_ADMIN_TOKEN": None})
    time.sleep(0.2)
    assert "admin token" not in cp2.stdout()
    assert mm.request(cp2.port, "GET", "/api/v1/revision", token=token).status == 200


def test_sigterm_and_sigint_exit_cleanly_with_waiters():
    for sig in (signal.SIGTERM, signal.SIGINT):
        cp = RecordingCP()
        rev = revision(cp)
        result = {}
        th = threading.Thread(target=lambda: result.setdefault("r", dp_config(cp, after=rev, wait=60)))
        th.start()
        time.sleep(0.3)
        t0 = time.time()
        assert cp.stop(sig=sig, timeout=10) == 0
        assert time.time() - t0 < 5 * mm.SLOW
        th.join(10)
        assert result["r"].status == 304  # nothing changed: the waiter is let go
        con = sqlite3.connect(cp.db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()


def test_sigterm_finishes_a_request_in_flight():
    """A request whose body is still arriving when SIGTERM comes is served
    (stop accepting, finish in flight), its change is kept, exit 0."""
    import socket
    cp = RecordingCP()
    body = b'{"name": "in-flight"}'
    s = socket.create_connection(("127.0.0.1", cp.port), timeout=10 * mm.SLOW)
    s.sendall(("POST /api/v1/applications HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n\r\n" % (mm.ADMIN_TOKEN, len(body))).encode() + body[:9])
    time.sleep(0.2)
    cp.signal(signal.SIGTERM)
    time.sleep(0.3)
    # no new connection is accepted any more
    try:
        socket.create_connection(("127.0.0.1", cp.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused
    s.sendall(body[9:])
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 201"), data[:200]
    assert cp.wait(10) == 0
    cp.stop()
    cp2 = mm.ControlPlane(db=cp.db)
    assert [a["name"] for a in cp2.ok("GET", "/applications")["items"]] == ["in-flight"]
    assert cp2.stop() == 0


def test_unauthenticated_bodies_are_not_kept_in_memory():
    """64 clients without the admin token, each in the middle of a 1 MiB
    body: the server reads and drops their bytes instead of holding 64 MiB,
    then answers each 401."""
    import socket
    cp = RecordingCP()
    cp.ok("GET", "/vendors")
    base = proc_status(cp.pid, "VmRSS")
    n, size = 64, 1024 * 1024
    socks = []
    try:
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", cp.port), timeout=30 * mm.SLOW)
            s.sendall(("POST /api/v1/applications HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Authorization: Bearer wrong\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n" % size).encode() + b" " * (size - 100))
            socks.append(s)
        time.sleep(0.5)
        grown = proc_status(cp.pid, "VmRSS") - base
        assert grown < 16 * 1024, "RSS grew by %d KiB" % grown
        for s in socks:
            s.sendall(b" " * 100)
        assert [read_status(s) for s in socks] == [401] * n
    finally:
        for s in socks:
            s.close()
    assert cp.poll() is None
