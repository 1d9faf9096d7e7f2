#!/usr/bin/env python3
"""JWT verification cost through the gateway (issue 15, "Measure").

Starts the mock upstream and modelmux-dp (one worker, standalone snapshot
with one API, an issuer and its OAuth client, built by the tests' snapshot
builder), then drives POST /api/1.0/chat/completions with wrk
(bench/jwt_gateway.lua) four ways:
  api-key      an API key (the baseline: no JWT work)
  RS256 reused one RS256 token for every request (the worker's cache hits)
  RS256 new    a new RS256 token each request (every one verified)
  ES256 new    a new ES256 token each request
and prints the data plane's CPU time per request (utime + stime from
/proc/PID/stat over the run) and its difference to the API-key baseline:
what a JWT costs per request, cached and not. (Each run sends exactly as
many requests as it has tokens, then its wrk thread stops; wrk still waits
for its -d, so its requests/s is not printed.) Tokens come from
build/bench/bench_jwt -g (OpenSSL). Not part of `make test`.

usage: bench/jwt_gateway.py [--tokens N] [--connections C] [--rounds R]
       (or bash bench/jwt.sh --gateway ...)
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
os.environ.setdefault("MM_SOURCE_DIR", ROOT)
os.environ.setdefault("MM_BIN_DIR", os.path.join(ROOT, "build", "bin"))

import dp_util as du  # noqa: E402  (the one snapshot builder of the Python side)
import mm  # noqa: E402

KEY = "mm-bench-jwt-key-0123456789abcdef"
PATH = "/api/1.0" + du.CHAT


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(dp, tokens_file, connections, seconds):
    env = dict(os.environ, BENCH_TOKENS=tokens_file, BENCH_PATH=PATH)
    before = cpu_seconds(dp.p.pid)
    out = subprocess.run(["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "-s",
                          os.path.join(HERE, "jwt_gateway.lua"), "http://127.0.0.1:%d" % dp.port],
                         env=env, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(dp.p.pid) - before
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        sys.exit("bench: %s non-2xx answers:\n%s" % (bad.group(1), out))
    return n, rps, cpu * 1e6 / n


def snapshot(mock, gen):
    eps = [du.endpoint("e1", mock.url + "/v1")]
    doc = du.snapshot([du.api("a1", "/api", eps, [du.wrr("p1", [du.target("gpt-4o", "e1")])])],
                      [du.key("k1", KEY)])
    doc["issuers"] = [{"id": "i1", "issuer": gen["issuer"], "audiences": [], "keys": gen["keys"],
                       "clients": [{"clientId": "client-a", "application": "app-1",
                                    "type": "production", "subscriptions": []}]}]
    return du.write_snapshot(du.seal(doc))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=20000, help="new tokens per run (default 20000)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    ap.add_argument("--rounds", type=int, default=3, help="runs per caller (default 3)")
    a = ap.parse_args()
    gen_bin = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bench", "bench_jwt")
    gen = json.loads(subprocess.run([gen_bin, "-g", str(a.tokens)], capture_output=True,
                                    check=True).stdout)
    tmp = tempfile.mkdtemp(prefix="mm-jwt-bench-")
    files = {}
    for name, lines in [("api-key", [KEY] * a.tokens),
                        ("RS256 reused", [gen["tokens"]["RS256"][0]] * a.tokens),
                        ("RS256 new", gen["tokens"]["RS256"]),
                        ("ES256 new", gen["tokens"]["ES256"])]:
        files[name] = os.path.join(tmp, name.replace(" ", "-"))
        with open(files[name], "w") as f:
            f.write("\n".join(lines) + "\n")
    mock = mm.MockLLM(extra_args=["--threads", "2"])
    try:
        with mm.DataPlane(config=snapshot(mock, gen), workers=1) as dp:
            dp.wait_ready()
            # warm-up (connections, caches), and how long a run needs: the
            # tokens at a third of the API-key rate, at least 3 s
            _, rps, _ = run_wrk(dp, files["api-key"], a.connections, 3)
            seconds = max(3, int(3 * a.tokens / max(rps, 1.0)) + 1)
            print("JWT through the gateway: 1 worker, wrk -c%d, %d requests per run, median of "
                  "%d runs, load %s" % (a.connections, a.tokens, a.rounds, open("/proc/loadavg").read().split()[0]))
            print("%-14s %10s %14s %16s" % ("caller", "requests", "dp CPU/req", "vs API key"))
            names = ["api-key", "RS256 reused", "RS256 new", "ES256 new"]
            runs = {name: [] for name in names}
            for _ in range(a.rounds):  # modes interleaved, so drift hits all alike
                for name in names:
                    n, _, us = run_wrk(dp, files[name], a.connections, seconds)
                    runs[name].append((us, n))
            base = statistics.median(us for us, _ in runs["api-key"])
            for name in names:
                us = statistics.median(u for u, _ in runs[name])
                print("%-14s %10d %11.1f us %+13.1f us" % (name, sum(n for _, n in runs[name]),
                                                          us, us - base))
    finally:
        mock.stop()
        mm.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
