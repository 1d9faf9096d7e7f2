"""The pieces of `make bench` that can rot silently, run small: the generated
standalone snapshot (bench/snapshot.py) must satisfy the schema and be served
by the real modelmux-dp with the bench key and its 3:1 weights; the SSE
client (bench/sse_client.py) must see every stream through the gateway to
the end; report.py must turn records into the tables and verdicts."""
import collections
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import dp_util as du
import mm

BENCH = os.path.join(mm.SOURCE_DIR, "bench")
KEY = "bench-tools-test-key"


def snapshot(mock_port):
    path = os.path.join(tempfile.mkdtemp(prefix="mm-bench-"), "snapshot.json")
    subprocess.run([sys.executable, os.path.join(BENCH, "snapshot.py"), "--mock-port", str(mock_port),
                    "--key", KEY, "--out", path], check=True, timeout=30)
    return path


def test_snapshot_is_valid_and_hashed():
    path = snapshot(1234)
    assert os.stat(path).st_mode & 0o777 == 0o600
    with open(path) as f:
        doc = json.load(f)
    import jsonschema
    with open(os.path.join(mm.SOURCE_DIR, "schema", "config.schema.json")) as f:
        jsonschema.validate(doc, json.load(f))
    assert doc["sha256"] == du.snapshot_hash(doc)
    assert doc["keys"][0]["hash"] == hashlib.sha256(KEY.encode()).hexdigest()
    assert doc["apis"][0]["endpoints"][0]["url"] == "http://127.0.0.1:1234/v1"


def test_tls_snapshot_adds_the_tls_api():
    d = tempfile.mkdtemp(prefix="mm-bench-")
    ca = os.path.join(d, "ca.pem")
    with open(ca, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    path = os.path.join(d, "snapshot.json")
    subprocess.run([sys.executable, os.path.join(BENCH, "snapshot.py"), "--mock-port", "1234", "--key", KEY,
                    "--out", path, "--tls-url", "https://127.0.0.1:4321/v1", "--ca-cert", ca],
                   check=True, timeout=30)  # validated against the schema by snapshot.py
    with open(path) as f:
        doc = json.load(f)
    assert doc["sha256"] == du.snapshot_hash(doc)
    plain, tls = doc["apis"]
    assert plain["endpoints"][0]["url"] == "http://127.0.0.1:1234/v1" and "tls" not in plain["endpoints"][0]
    assert tls["basePath"] == "/bench-tls" and tls["endpoints"][0]["url"] == "https://127.0.0.1:4321/v1"
    assert tls["endpoints"][0]["tls"] == {"caCert": open(ca).read()}
    assert {t["endpoint"] for p in tls["policies"] for t in p["production"]} == {tls["endpoints"][0]["id"]}


def test_gateway_serves_the_bench_snapshot_and_streams():
    mock = mm.MockLLM(["--name", "bench-test"])
    dp = mm.DataPlane(config=snapshot(mock.port), workers=1)
    with open(os.path.join(BENCH, "body.json"), "rb") as f:
        body = f.read()
    path = "/bench/1.0/chat/completions"
    models = collections.Counter()
    for _ in range(8):
        r = dp.call("POST", path, body, key=KEY, headers={"Content-Type": "application/json"})
        assert r.status == 200, r
        models[r.headers["x-modelmux-model"]] += 1
    assert models == {"gpt-4o": 6, "gpt-4o-mini": 2}
    assert dp.call("POST", path, body, headers={"Content-Type": "application/json"}).status == 401
    assert dp.call("POST", path, body, key="not-the-key",
                   headers={"Content-Type": "application/json"}).status == 401

    p = subprocess.run([sys.executable, os.path.join(BENCH, "sse_client.py"), "--port", str(dp.port),
                        "--path", path, "--auth", "Bearer " + KEY, "--streams", "20",
                        "--connect-batch", "5", "--timeout", str(30 * mm.SLOW)],
                       capture_output=True, text=True, timeout=120 * mm.SLOW)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["ok"] == 20 and r["failed"] == 0 and r["statuses"] == {"200": 20}, r
    assert 0 < r["ttfb_ms"]["p50"] <= r["total_ms"]["p50"]
    # A wrong key: every stream fails with 401, and the client says so.
    p = subprocess.run([sys.executable, os.path.join(BENCH, "sse_client.py"), "--port", str(dp.port),
                        "--path", path, "--auth", "Bearer wrong", "--streams", "3",
                        "--connect-batch", "3"], capture_output=True, text=True, timeout=60)
    r = json.loads(p.stdout)
    assert r["ok"] == 0 and r["statuses"] == {"401": 3} and r["errors"] == {"status": 3}, r
    p = subprocess.run([sys.executable, os.path.join(BENCH, "sse_client.py"), "--port", "1",
                        "--path", path, "--streams", "0"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    dp.stop()
    mock.stop()


def test_report_tables_and_verdicts():
    d = tempfile.mkdtemp(prefix="mm-bench-report-")
    results = os.path.join(d, "results.jsonl")
    recs = []
    # mock, nginx, modelmux at c=64; modelmux 10% cheaper per request than
    # nginx, 0.3 ms more p99 than the mock, 12 MiB.
    for target, rps, p99, cpu, hwm in (("mock", 50000, 1.0, 5.0, 30000), ("nginx", 30000, 1.5, 8.0, 15000),
                                       ("modelmux", 30000, 1.3, 7.2, 12288)):
        wrk = os.path.join(d, "wrk-%s.txt" % target)
        with open(wrk, "w") as f:
            f.write("Running...\nBENCH_RESULT " + json.dumps(
                {"requests": rps * 10, "duration_us": 10000000, "p50_us": 500, "p99_us": int(p99 * 1000),
                 "max_us": 9000, "errors": {"connect": 0, "read": 0, "write": 0, "status": 0,
                                            "timeout": 0}}) + "\n")
        p = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), "record-wrk", "--target",
                            target, "--c", "64", "--round", "1", "--wrk", wrk, "--cpu-ticks",
                            str(int(cpu * os.sysconf("SC_CLK_TCK"))), "--hwm-kib", str(hwm)],
                           capture_output=True, text=True, check=True, timeout=30)
        recs.append(p.stdout)
    with open(results, "w") as f:
        f.write("".join(recs))
    out = os.path.join(d, "bench-results.md")
    env = dict(os.environ, BENCH_LOADAVG_START="0.10 0.20 0.30")
    p = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), "report", "--results", results,
                        "--out", out], capture_output=True, text=True, check=True, timeout=30, env=env)
    with open(out) as f:
        md = f.read()
    assert "| modelmux | 64 | 30000 | 0.50 | 1.30 | 41667 | 12.0 | 0/300000 |" in md, md
    assert "c=64: 1.11x (met)" in md, md
    # The goals of issue 13, one line each.
    assert "p99 at c=64 <= 1.2x nginx's p99: **MET: 0.87x (modelmux 1.30 ms, nginx 1.50 ms)**" in md, md
    assert "flat cost: requests per CPU-second at c=1000 >= 85% of c=16: **not measured**" in md, md
    assert "syscalls per proxied request at c=64 (access log on): **not measured**" in md, md
    assert "concurrent slow streams all complete with RSS <= 256 MiB: **not measured**" in md, md
    assert "modelmux" in p.stdout and "MET" in p.stdout
    # On a busy machine the tail-latency goal is not judged.
    env["BENCH_LOADAVG_START"] = "3.50 2.00 1.00"
    subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), "report", "--results", results,
                    "--out", out], capture_output=True, text=True, check=True, timeout=30, env=env)
    with open(out) as f:
        md = f.read()
    assert "INCONCLUSIVE (machine busy at the start; would read MET)" in md, md
    assert "The machine was not idle" in md
    # strace -c's table: syscalls per request, all threads summed.
    wrk = os.path.join(d, "wrk-strace.txt")
    with open(wrk, "w") as f:
        f.write("BENCH_RESULT " + json.dumps(
            {"requests": 1000, "duration_us": 1000000, "p50_us": 500, "p99_us": 900, "max_us": 900,
             "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}}) + "\n")
    trace = os.path.join(d, "strace.txt")
    with open(trace, "w") as f:
        f.write("% time     seconds  usecs/call     calls    errors syscall\n"
                "------ ----------- ----------- --------- --------- ----------------\n"
                " 60.00    0.060000          20      3000      1000 recvfrom\n"
                " 30.00    0.030000          15      2000           sendto\n"
                " 10.00    0.010000          20       500           epoll_wait\n"
                "------ ----------- ----------- --------- --------- ----------------\n"
                "100.00    0.100000          18      5500      1000 total\n")
    p = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), "record-strace", "--target",
                        "modelmux", "--c", "64", "--wrk", wrk, "--strace", trace],
                       capture_output=True, text=True, check=True, timeout=30)
    rec = json.loads(p.stdout)
    assert rec["per_request"] == 5.5 and rec["top"][0] == ["recvfrom", 3.0], rec
    # The TLS terminator's log: 3 connections opened (2 resumed) for 5 requests.
    tlog = os.path.join(d, "tlsterm.log")
    with open(tlog, "w") as f:
        f.write("7 1 . TLSv1.3\n7 2 . TLSv1.3\n8 1 r TLSv1.3\n9 1 r TLSv1.3\n8 2 r TLSv1.3\n")
    p = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), "record-wrk", "--target",
                        "modelmux-tls", "--c", "64", "--round", "0", "--phase", "cold", "--wrk", wrk,
                        "--cpu-ticks", "10", "--tlsterm-log", tlog],
                       capture_output=True, text=True, check=True, timeout=30)
    assert json.loads(p.stdout)["tlsterm"] == {"requests": 5, "connections": 3, "resumed": 2}
    with open(results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), "report", "--results", results,
                    "--out", out], capture_output=True, text=True, check=True, timeout=30, env=env)
    with open(out) as f:
        md = f.read()
    assert "syscalls per proxied request at c=64 (access log on): **MET: 5.50 (nginx not measured)**" in md, md
    # A wrk output without the result line is refused, not recorded as zero.
    bad = os.path.join(d, "bad.txt")
    with open(bad, "w") as f:
        f.write("unable to connect to 127.0.0.1:1 Connection refused\n")
    p = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), "record-wrk", "--target", "nginx",
                        "--c", "16", "--round", "1", "--wrk", bad, "--cpu-ticks", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and p.stdout == "" and "no BENCH_RESULT" in p.stderr
