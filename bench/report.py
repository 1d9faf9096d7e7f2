#!/usr/bin/env python3
"""Records and reports the measurements of `make bench` (bench/run.sh).

  report.py record-wrk --target T --c N --round R --wrk FILE --cpu-ticks N --hwm-kib K
                       [--phase steady|cold] [--load L] [--tlsterm-log FILE]
      one wrk run -> one JSON line on stdout (run.sh appends it to results.jsonl);
      FILE is wrk's output with the BENCH_RESULT line of bench/post.lua; the
      TLS terminator's log (bench/tlsterm.conf.tmpl) gives the connections it
      accepted during the run and how many of their TLS sessions were resumed
  report.py record-strace --target T --c N --wrk FILE --strace FILE
      one syscall count (strace -c -f output over a wrk run of a fixed number
      of requests) -> one JSON line: syscalls per request, by syscall
  report.py record-stream --target T --client FILE --cpu-ticks N --hwm-kib K
      one streaming run (FILE: the JSON of bench/sse_client.py) -> one JSON line
  report.py report --results FILE [--out FILE.md]
      the tables: printed, and written as Markdown with the date and machine;
      the settings come from run.sh's environment (BENCH_* variables, see
      collect_meta), the machine facts from /proc, git, wrk and nginx

Aggregation over the repeated rounds of one (target, concurrency): requests/s,
p50 and p99 are medians of the rounds; requests per CPU-second is the sum of
requests over the sum of the target's CPU seconds (utime + stime), and its
spread is (max - min) / median of the rounds' own figures (how noisy the
machine was); peak RSS is the largest VmHWM (reset before every run through
/proc/PID/clear_refs).

The verdicts are the goals of issue 13, each on one line (GOALS below).
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys

TARGETS = ("mock", "nginx", "modelmux", "nginx-tls", "modelmux-tls")
LABEL = {"mock": "mock direct", "nginx": "nginx", "modelmux": "modelmux",
         "nginx-tls": "nginx over TLS", "modelmux-tls": "modelmux over TLS"}
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The goals of issue 13 (all in one run, ratios against nginx).
CPU_RATIO_MIN = 0.8          # modelmux req/CPU-s >= 0.8x nginx's at every concurrency
FLAT_MIN = 0.85              # modelmux req/CPU-s at c=1000 >= 85% of its c=16 figure
SYSCALLS_MAX = 6.0           # syscalls per proxied request at c=64
P99_RATIO_MAX = 1.2          # modelmux p99 <= 1.2x nginx's at c=64
TLS_RATIO_MIN = 0.8          # over TLS: modelmux req/CPU-s >= 0.8x nginx's
TLS_COLD_P99_MAX = 5.0       # p99 of the first seconds <= 5x the steady p99
RSS_C1000_MAX_MIB = 64.0     # peak RSS at c=1000
RSS_STREAMS_MAX_MIB = 256.0  # peak RSS with the concurrent slow streams
# What the verdicts compare at (the run's defaults; a run without them says
# "not measured").
FLAT_LOW_C, FLAT_HIGH_C, P99_C, RSS_C = 16, 1000, 64, 1000


def mib(kib):
    return None if kib is None else kib / 1024.0


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.*f" % (nd, v)
    return str(v)


# --- recording -------------------------------------------------------------

def wrk_result(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    m = re.search(r"^BENCH_RESULT (\{.*\})\s*$", text, re.M)
    if not m:
        raise SystemExit("report.py: no BENCH_RESULT line in %s:\n%s" % (path, text[-2000:]))
    return json.loads(m.group(1))


def tlsterm_counts(path):
    """From the terminator's log ("$connection $connection_requests
    $ssl_session_reused $ssl_protocol" per request): requests, connections
    opened (their first request) and how many of those resumed a session."""
    requests = conns = resumed = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            requests += 1
            if parts[1] == "1":
                conns += 1
                resumed += parts[2] == "r"
    return {"requests": requests, "connections": conns, "resumed": resumed}


def record_wrk(a):
    r = wrk_result(a.wrk)
    dur = r["duration_us"] / 1e6
    cpu = a.cpu_ticks / CLK_TCK
    errors = sum(r["errors"].values())
    rec = {"kind": "wrk", "target": a.target, "c": a.c, "round": a.round,
           "requests": r["requests"], "duration_s": round(dur, 3),
           "rps": round(r["requests"] / dur, 1) if dur > 0 else 0.0,
           "p50_ms": r["p50_us"] / 1000.0, "p99_ms": r["p99_us"] / 1000.0,
           "max_ms": r["max_us"] / 1000.0, "errors": errors, "error_detail": r["errors"],
           "cpu_s": round(cpu, 3), "hwm_kib": a.hwm_kib, "phase": a.phase, "load": a.load}
    if a.tlsterm_log:
        rec["tlsterm"] = tlsterm_counts(a.tlsterm_log)
    print(json.dumps(rec))


def strace_calls(path):
    """{syscall: calls} from strace -c's table (-f: all threads summed)."""
    calls = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(parts) < 5 or parts[-1] == "total" or not re.match(r"^[\d.]+$", parts[0]):
                continue
            calls[parts[-1]] = calls.get(parts[-1], 0) + int(parts[3])
    return calls


def record_strace(a):
    r = wrk_result(a.wrk)
    calls = strace_calls(a.strace)
    if r["requests"] <= 0 or not calls:
        raise SystemExit("report.py: no requests or no syscalls counted (%s)" % a.strace)
    n = r["requests"]
    per = {k: v / n for k, v in calls.items()}
    top = sorted(per.items(), key=lambda kv: -kv[1])[:8]
    print(json.dumps({"kind": "strace", "target": a.target, "c": a.c, "requests": n,
                      "calls": calls, "per_request": sum(calls.values()) / n,
                      "top": [[k, round(v, 3)] for k, v in top]}))


def record_stream(a):
    with open(a.client, encoding="utf-8") as f:
        r = json.load(f)
    r.update({"kind": "stream", "target": a.target, "cpu_s": round(a.cpu_ticks / CLK_TCK, 3),
              "hwm_kib": a.hwm_kib})
    print(json.dumps(r))


# --- reporting -------------------------------------------------------------

def spread(values):
    """(max - min) / median, or None with fewer than two values."""
    v = [x for x in values if x is not None]
    if len(v) < 2 or statistics.median(v) == 0:
        return None
    return (max(v) - min(v)) / statistics.median(v)


def aggregate(runs):
    agg = {}
    for r in runs:
        if r.get("phase", "steady") != "steady":
            continue
        agg.setdefault((r["target"], r["c"]), []).append(r)
    out = {}
    for key, rs in agg.items():
        cpu = sum(r["cpu_s"] for r in rs)
        tls = [r["tlsterm"] for r in rs if r.get("tlsterm")]
        out[key] = {"rounds": len(rs), "rps": statistics.median(r["rps"] for r in rs),
                    "cpu_spread": spread([r["requests"] / r["cpu_s"] if r["cpu_s"] > 0 else None
                                          for r in rs]),
                    "tlsterm": {k: sum(t[k] for t in tls) for k in ("requests", "connections",
                                                                     "resumed")} if tls else None,
                    "p50_ms": statistics.median(r["p50_ms"] for r in rs),
                    "p99_ms": statistics.median(r["p99_ms"] for r in rs),
                    "req_per_cpu_s": sum(r["requests"] for r in rs) / cpu if cpu > 0 else None,
                    "hwm_mib": mib(max((r["hwm_kib"] for r in rs if r["hwm_kib"] is not None),
                                       default=None)),
                    "errors": sum(r["errors"] for r in rs),
                    "requests": sum(r["requests"] for r in rs)}
    return out


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def table(head, rows, md):
    """Fixed-width text, or a Markdown table."""
    rows = [[fmt(x) if not isinstance(x, str) else x for x in r] for r in rows]
    if md:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    width = [max(len(x) for x in col) for col in zip(head, *rows)]
    f = "  ".join("%%%ds" % w for w in width)
    return "\n".join([f % tuple(head), f % tuple("-" * w for w in width)] + [f % tuple(r) for r in rows])


def busy_at_start(meta):
    """Whether other work loaded the machine when the run started (the load
    at the end includes the bench's own processes, so it is not used)."""
    try:
        return float(meta.get("loadavg", "0").split()[0]) > 0.5
    except (ValueError, IndexError):
        return False


def not_measured(why=""):
    return "not measured" + (" (%s)" % why if why else "")


def goal_cpu(agg, conc, meta):
    goal = "requests per CPU-second >= %.1fx nginx's at every concurrency" % CPU_RATIO_MIN
    per_c = []
    for c in conc:
        mm, ng = agg.get(("modelmux", c)), agg.get(("nginx", c))
        if mm and ng:
            per_c.append((c, ratio(mm["req_per_cpu_s"], ng["req_per_cpu_s"])))
    if not per_c or any(r is None for _, r in per_c):
        return goal, not_measured(meta.get("modelmux_missing"))
    parts = ["c=%d: %.2fx (%s)" % (c, r, "met" if r >= CPU_RATIO_MIN else
                                   "missed by %.0f%%" % ((CPU_RATIO_MIN - r) / CPU_RATIO_MIN * 100))
             for c, r in per_c]
    return goal, "%s: %s" % ("MET" if all(r >= CPU_RATIO_MIN for _, r in per_c) else "MISSED",
                             "; ".join(parts))


def goal_flat(agg):
    goal = "flat cost: requests per CPU-second at c=%d >= %.0f%% of c=%d" % (
        FLAT_HIGH_C, FLAT_MIN * 100, FLAT_LOW_C)
    lo, hi = agg.get(("modelmux", FLAT_LOW_C)), agg.get(("modelmux", FLAT_HIGH_C))
    if not lo or not hi or not lo["req_per_cpu_s"] or hi["req_per_cpu_s"] is None:
        return goal, not_measured()
    r = hi["req_per_cpu_s"] / lo["req_per_cpu_s"]
    ng_lo, ng_hi = agg.get(("nginx", FLAT_LOW_C)), agg.get(("nginx", FLAT_HIGH_C))
    ng = ""
    if ng_lo and ng_hi and ng_lo["req_per_cpu_s"] and ng_hi["req_per_cpu_s"]:
        ng = "; nginx: %.0f%%" % (100 * ng_hi["req_per_cpu_s"] / ng_lo["req_per_cpu_s"])
    return goal, "%s: %.0f%% (%.0f at c=%d, %.0f at c=%d%s)" % (
        "MET" if r >= FLAT_MIN else "MISSED", 100 * r, hi["req_per_cpu_s"], FLAT_HIGH_C,
        lo["req_per_cpu_s"], FLAT_LOW_C, ng)


def goal_syscalls(straces):
    goal = "<= %.0f syscalls per proxied request at c=64 (access log on)" % SYSCALLS_MAX
    mm, ng = straces.get("modelmux"), straces.get("nginx")
    if not mm:
        return goal, not_measured()
    v = mm["per_request"]
    return goal, "%s: %.2f (nginx %s)" % (
        "MET" if v <= SYSCALLS_MAX else "MISSED by %.2f" % (v - SYSCALLS_MAX), v,
        "%.2f" % ng["per_request"] if ng else "not measured")


def goal_p99(agg, meta):
    goal = "p99 at c=%d <= %.1fx nginx's p99" % (P99_C, P99_RATIO_MAX)
    mm, ng = agg.get(("modelmux", P99_C)), agg.get(("nginx", P99_C))
    if not mm or not ng or not ng["p99_ms"]:
        return goal, not_measured(meta.get("modelmux_missing"))
    r = mm["p99_ms"] / ng["p99_ms"]
    verdict = "MET" if r <= P99_RATIO_MAX else "MISSED"
    if busy_at_start(meta):
        # Tail latency on shared CPUs measures the neighbours, not the
        # gateway: a verdict either way would be noise.
        verdict = "INCONCLUSIVE (machine busy at the start; would read %s)" % verdict
    return goal, "%s: %.2fx (modelmux %.2f ms, nginx %.2f ms)" % (verdict, r, mm["p99_ms"],
                                                                  ng["p99_ms"])


def tls_reuse_text(t):
    if not t or not t["requests"]:
        return "terminator saw nothing"
    return "%d connections (%d resumed sessions) for %d requests" % (
        t["connections"], t["resumed"], t["requests"])


def goal_tls(agg, runs, meta):
    goal = ("TLS upstream: requests per CPU-second >= %.1fx nginx's over the same TLS, "
            "connections and sessions reused, p99 of the first %s s <= %.0fx the steady p99"
            % (TLS_RATIO_MIN, meta.get("tls_cold_s", "?"), TLS_COLD_P99_MAX))
    if meta.get("tls_missing"):
        return goal, not_measured(meta["tls_missing"])
    c = meta.get("tls_c")
    mm, ng = agg.get(("modelmux-tls", c)), agg.get(("nginx-tls", c))
    if not mm:
        return goal, not_measured(meta.get("modelmux_tls_missing"))
    cold = {r["target"]: r for r in runs if r.get("phase") == "cold"}
    ok, parts = True, []
    if ng and ng["req_per_cpu_s"] and mm["req_per_cpu_s"]:
        r = mm["req_per_cpu_s"] / ng["req_per_cpu_s"]
        ok &= r >= TLS_RATIO_MIN
        parts.append("%.2fx nginx" % r)
    else:
        ok = False
        parts.append("nginx over TLS not measured")
    t = mm.get("tlsterm")
    # Reused: steady runs open (almost) no connection: at most one per
    # client connection over all rounds, and every new one resumes.
    reused = bool(t) and t["connections"] <= c and t["resumed"] >= t["connections"] - 1
    ok &= reused
    parts.append("steady: %s (%s)" % (tls_reuse_text(t), "reused" if reused else "NOT reused"))
    cr = cold.get("modelmux-tls")
    if cr and mm["p99_ms"]:
        k = cr["p99_ms"] / mm["p99_ms"]
        ok &= k <= TLS_COLD_P99_MAX
        parts.append("first %s s p99 %.2f ms = %.1fx steady %.2f ms (%s)" % (
            meta.get("tls_cold_s", "?"), cr["p99_ms"], k, mm["p99_ms"],
            tls_reuse_text(cr.get("tlsterm"))))
    else:
        ok = False
        parts.append("cold start not measured")
    return goal, "%s: %s" % ("MET" if ok else "MISSED", "; ".join(parts))


def goal_memory(agg, streams, meta):
    goal = "RSS <= %.0f MiB at c=%d; %s concurrent slow streams all complete with RSS <= %.0f MiB" % (
        RSS_C1000_MAX_MIB, RSS_C, meta.get("streams", "?"), RSS_STREAMS_MAX_MIB)
    mm = agg.get(("modelmux", RSS_C))
    s = streams.get("modelmux")
    if (not mm or mm["hwm_mib"] is None) and (not s or s.get("hwm_kib") is None):
        return goal, not_measured(meta.get("modelmux_missing"))
    ok, parts = True, []
    if mm and mm["hwm_mib"] is not None:
        ok &= mm["hwm_mib"] <= RSS_C1000_MAX_MIB
        parts.append("c=%d: %.1f MiB" % (RSS_C, mm["hwm_mib"]))
    else:
        ok = False
        parts.append("c=%d not measured" % RSS_C)
    if s and s.get("hwm_kib") is not None:
        v = mib(s["hwm_kib"])
        ok &= v <= RSS_STREAMS_MAX_MIB and s["ok"] == s["streams"]
        parts.append("streams: %.1f MiB, %d of %d complete" % (v, s["ok"], s["streams"]))
    else:
        ok = False
        parts.append("streams not measured")
    return goal, "%s: %s" % ("MET" if ok else "MISSED", "; ".join(parts))


def goals(agg, streams, conc, meta, runs=(), straces=None):
    """[(goal, verdict text)], one per goal of issue 13."""
    straces = straces or {}
    return [goal_cpu(agg, conc, meta), goal_flat(agg), goal_syscalls(straces),
            goal_p99(agg, meta), goal_tls(agg, runs, meta), goal_memory(agg, streams, meta)]


def render_straces(straces, meta, md, h):
    """The syscall table (empty when nothing was counted)."""
    if not straces:
        return []
    parts = [h("Syscalls per proxied request (strace -c -f, c=%s)" % meta.get("strace_c"))]
    rows = []
    for t in ("nginx", "modelmux"):
        st = straces.get(t)
        if st:
            rows.append([LABEL[t], str(st["requests"]), fmt(st["per_request"], 2),
                         ", ".join("%s %.2f" % (k, v) for k, v in st["top"])])
    parts.append(table(["target", "requests", "syscalls/request", "most frequent (per request)"],
                       rows, md))
    if md:
        parts.append("Every thread of the target (nginx: master and worker) traced over a wrk "
                     "run stopped after a fixed number of responses; strace slows the target, "
                     "not what it calls.")
    return parts


def render_tls(runs, agg, meta, md, h):
    """The TLS variant's table: cold start and steady, per target."""
    tls_rows = []
    for t in ("nginx-tls", "modelmux-tls"):
        cold = [r for r in runs if r["target"] == t and r.get("phase") == "cold"]
        a = agg.get((t, meta.get("tls_c")))
        if cold:
            r = cold[0]
            tls_rows.append([LABEL[t], "first %s s" % meta.get("tls_cold_s"), fmt(r["rps"], 0),
                             fmt(r["p50_ms"], 2), fmt(r["p99_ms"], 2),
                             fmt(r["requests"] / r["cpu_s"], 0) if r["cpu_s"] else "-",
                             tls_reuse_text(r.get("tlsterm")), "%d/%d" % (r["errors"], r["requests"])])
        if a:
            tls_rows.append([LABEL[t], "steady", fmt(a["rps"], 0), fmt(a["p50_ms"], 2),
                             fmt(a["p99_ms"], 2), fmt(a["req_per_cpu_s"], 0),
                             tls_reuse_text(a.get("tlsterm")), "%d/%d" % (a["errors"], a["requests"])])
    if not tls_rows and not meta.get("tls_missing"):
        return []
    parts = [h("TLS upstream (c=%s, through a local TLS terminator)" % meta.get("tls_c"))]
    if meta.get("tls_missing"):
        parts.append("Not measured: %s" % meta["tls_missing"])
    else:
        parts.append(table(["target", "phase", "req/s", "p50 ms", "p99 ms", "req/CPU-s",
                            "terminator saw", "errors/requests"], tls_rows, md))
        if meta.get("modelmux_tls_missing"):
            parts.append("modelmux over TLS not measured: %s" % meta["modelmux_tls_missing"])
        if md:
            parts.append("The terminator is nginx with a certificate from a throwaway CA "
                         "(bench/tlsterm.conf.tmpl) in front of the mock; both targets verify "
                         "it with that CA. \"first N s\" is the first run against the TLS "
                         "API (the target has answered one check request before).")
    return parts


def render(runs, streams, meta, md, straces=None):
    straces = straces or {}
    conc = sorted({r["c"] for r in runs if not r["target"].endswith("-tls")})
    agg = aggregate(runs)
    parts = []
    h = (lambda s: "## " + s) if md else (lambda s: "== " + s + " ==")
    if md:
        parts.append("# modelmux benchmark results")
        parts.append("Measured by `make bench` (`bench/run.sh`, see `bench/README.md`)%s."
                     % (" in QUICK mode (BENCH_QUICK=1): short runs, indicative only"
                        if meta.get("quick") else ""))
    parts.append("\n".join([
        "- date: %s" % meta.get("date"),
        "- machine: %s CPUs (nproc), %s, %s, kernel %s" % (meta.get("nproc"), meta.get("cpu_model"),
                                                          meta.get("memory"), meta.get("kernel")),
        "- modelmux: commit %s, `--workers %s`, standalone (`--config`) snapshot: weighted round "
        "robin gpt-4o:3 / gpt-4o-mini:1 over the mock, secured operation called with an API key"
        % (meta.get("commit"), meta.get("workers")),
        "- nginx: %s, %s worker process(es), upstream keepalive, access log %s"
        % (meta.get("nginx_version"), meta.get("workers"), meta.get("nginx_access_log")),
        "- binaries: %s; upstream: the mock (`mockllm%s`)" % (meta.get("bin"), meta.get("mock_args", "")),
        "- load: %s, %d round(s) x %s s per target and concurrency, targets interleaved; "
        "%d-byte chat-completion POST" % (meta.get("wrk_version"), meta.get("rounds", 0),
                                          meta.get("duration"), meta.get("body_bytes", 0)),
        "- CPUs: %s" % meta.get("pinning"),
        "- load average (1, 5, 15 min): %s (at the start, anything above 0 is other work "
        "competing for the same CPUs; at the end it includes the bench itself)" % meta.get("loadavg"),
    ]))
    if busy_at_start(meta):
        parts.append("%sThe machine was not idle (load average above): other processes shared the "
                     "CPUs, which shows most in the p99 columns (compare the mock-direct p99 of "
                     "each round under \"Every run\"). Requests per CPU-second and RSS are "
                     "measured per process and are the steadier numbers; the p99 goal is not "
                     "judged.%s"
                     % (("**", "**") if md else ("NOTE: ", "")))
    if meta.get("modelmux_missing"):
        parts.append("**modelmux was not measured: %s**" % meta["modelmux_missing"])

    parts.append(h("Requests (wrk --latency)"))
    rows = []
    for c in conc:
        for t in TARGETS[:3]:
            a = agg.get((t, c))
            if not a:
                continue
            rows.append([LABEL[t], str(c), fmt(a["rps"], 0), fmt(a["p50_ms"], 2), fmt(a["p99_ms"], 2),
                         fmt(a["req_per_cpu_s"], 0), fmt(a["hwm_mib"], 1),
                         "%d/%d" % (a["errors"], a["requests"])])
    parts.append(table(["target", "c", "req/s", "p50 ms", "p99 ms", "req/CPU-s", "peak RSS MiB",
                        "errors/requests"], rows, md))
    if not md:
        parts.append("(req/CPU-s: requests per CPU-second of the target process; nginx = master + worker)")

    rows = []
    for c in conc:
        mm, ng, mk = agg.get(("modelmux", c)), agg.get(("nginx", c)), agg.get(("mock", c))
        if not mm or not ng:
            continue
        rows.append([str(c), fmt(ratio(mm["rps"], ng["rps"]), 2),
                     fmt(ratio(mm["req_per_cpu_s"], ng["req_per_cpu_s"]), 2),
                     fmt(ratio(mm["p99_ms"], ng["p99_ms"]), 2),
                     fmt(ratio(mm["hwm_mib"], ng["hwm_mib"]), 2),
                     fmt(mm["p99_ms"] - mk["p99_ms"], 2) if mk else "-",
                     fmt(ng["p99_ms"] - mk["p99_ms"], 2) if mk else "-",
                     pct(mm["cpu_spread"]), pct(ng["cpu_spread"])])
    if rows:
        parts.append(h("modelmux / nginx"))
        parts.append(table(["c", "req/s", "req/CPU-s", "p99", "peak RSS",
                            "modelmux p99 added ms", "nginx p99 added ms",
                            "modelmux req/CPU-s spread", "nginx spread"], rows, md))
        if md:
            parts.append("Ratios are modelmux's value over nginx's (above 1 is better for req/s "
                         "and req/CPU-s, worse for p99 and RSS). \"p99 added\" is the target's p99 "
                         "minus the mock-direct p99 at the same concurrency. \"spread\" is "
                         "(max - min) / median of the rounds' requests per CPU-second: the noise "
                         "of the machine (other work shares the CPUs; see the load of each run "
                         "under \"Every run\").")

    parts += render_straces(straces, meta, md, h)
    parts += render_tls(runs, agg, meta, md, h)

    if streams:
        parts.append(h("Streaming: %s concurrent SSE streams" % meta.get("streams")))
        rows = []
        for t in TARGETS:
            s = streams.get(t)
            if not s:
                continue
            rows.append([LABEL[t], "%d/%d" % (s["ok"], s["streams"]), str(s["peak_open"]),
                         fmt(s["ttfb_ms"]["p50"], 1), fmt(s["ttfb_ms"]["p99"], 1),
                         fmt(s["ttfb_ms"]["max"], 1), fmt(s["total_ms"]["p50"], 0),
                         fmt(mib(s["hwm_kib"]), 1), fmt(s["cpu_s"], 2),
                         ", ".join("%s:%d" % kv for kv in sorted(s["errors"].items())) or "-"])
        parts.append(table(["target", "ok/streams", "peak open", "TTFB p50 ms", "TTFB p99 ms",
                            "TTFB max ms", "stream p50 ms", "peak RSS MiB", "CPU s", "errors"],
                           rows, md))
        if md:
            parts.append("Each stream: %s. TTFB = request written to first `data:` byte, measured "
                         "by `bench/sse_client.py` (asyncio, connections opened %s at a time)."
                         % (meta.get("stream_shape"), meta.get("connect_batch")))

    parts.append(h("Goals (issue 13)"))
    for goal, verdict in goals(agg, streams, conc, meta, runs, straces):
        parts.append(("- %s: **%s**" if md else "- %s: %s") % (goal, verdict))

    if md:
        parts.append(h("Every run"))
        rows = [[LABEL[r["target"]], str(r["c"]), str(r["round"]), r.get("phase", "steady"),
                 fmt(r["rps"], 0), fmt(r["p50_ms"], 2), fmt(r["p99_ms"], 2), fmt(r["cpu_s"], 2),
                 fmt(r["requests"] / r["cpu_s"], 0) if r["cpu_s"] else "-",
                 fmt(mib(r["hwm_kib"]), 1), str(r["errors"]), r.get("load") or "-"] for r in runs]
        parts.append(table(["target", "c", "round", "phase", "req/s", "p50 ms", "p99 ms", "CPU s",
                            "req/CPU-s", "peak RSS MiB", "errors", "load (1 min)"], rows, md))
        if meta.get("notes"):
            parts.append(h("Notes"))
            parts.append("\n".join("- " + n for n in meta["notes"]))
    return "\n\n".join(parts) + "\n"


def pct(v):
    return "-" if v is None else "%.0f%%" % (100 * v)


def first_line(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    out = (p.stdout + p.stderr).strip().splitlines()
    return out[0] if out else "?"


def read_first(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().strip()
    except OSError:
        return "?"


def collect_meta():
    """The run's settings (BENCH_* from run.sh) and the machine's facts."""
    env = os.environ.get
    cpu_model, memory = "?", "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            cpu_model = m.group(1).strip() if m else "?"
        with open("/proc/meminfo", encoding="utf-8") as f:
            m = re.search(r"^MemTotal:\s*(\d+) kB", f.read(), re.M)
            memory = "%.1f GiB RAM" % (int(m.group(1)) / 1048576.0) if m else "?"
    except OSError:
        pass
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = env("BENCH_COMMIT") or first_line(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu_model": cpu_model, "memory": memory,
        "kernel": os.uname().release, "commit": commit, "bin": env("BENCH_BIN", "?"),
        "wrk_version": first_line(["wrk", "--version"]).split(" Copyright")[0],
        "nginx_version": first_line(["nginx", "-v"]).replace("nginx version: ", ""),
        "quick": env("BENCH_QUICK", "0") == "1",
        "duration": env("BENCH_DURATION", "?"), "rounds": int(env("BENCH_ROUNDS", "0")),
        "workers": env("BENCH_WORKERS", "?"), "streams": env("BENCH_STREAMS", "?"),
        "pinning": env("BENCH_PINNING", "?"), "mock_args": env("BENCH_MOCK_ARGS", ""),
        "nginx_access_log": env("BENCH_NGINX_ACCESS_LOG", "?"),
        "modelmux_missing": env("BENCH_MODELMUX_MISSING", ""),
        "stream_shape": env("BENCH_STREAM_SHAPE", "?"),
        "connect_batch": env("BENCH_CONNECT_BATCH", "?"),
        "strace_c": env("BENCH_STRACE_C", "?"),
        "tls_c": int(env("BENCH_TLS_C", "64")), "tls_cold_s": env("BENCH_TLS_COLD_S", "?"),
        "tls_missing": env("BENCH_TLS_MISSING", "") or (
            "BENCH_TLS=0" if env("BENCH_TLS", "1") == "0" else ""),
        "modelmux_tls_missing": env("BENCH_MODELMUX_TLS_MISSING", ""),
        "body_bytes": int(env("BENCH_BODY_BYTES", "0")),
        "notes": [n for n in env("BENCH_NOTES", "").split("\n") if n.strip()],
        "loadavg": "%s at the start, %s at the end" % (env("BENCH_LOADAVG_START", "?"),
                                                       " ".join(read_first("/proc/loadavg").split()[:3])),
    }


def report(a):
    runs, streams, straces = [], {}, {}
    if os.path.exists(a.results):
        with open(a.results, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                r = json.loads(line)
                if r["kind"] == "wrk":
                    runs.append(r)
                elif r["kind"] == "strace":
                    straces[r["target"]] = r
                else:
                    streams[r["target"]] = r
    meta = collect_meta()
    print(render(runs, streams, meta, md=False, straces=straces))
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(render(runs, streams, meta, md=True, straces=straces))
        print("bench: results written to %s" % a.out)


def main():
    ap = argparse.ArgumentParser(description="make bench: records and the report")
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("record-wrk")
    w.add_argument("--target", choices=TARGETS, required=True)
    w.add_argument("--c", type=int, required=True)
    w.add_argument("--round", type=int, required=True)
    w.add_argument("--wrk", required=True)
    w.add_argument("--cpu-ticks", type=int, required=True)
    w.add_argument("--hwm-kib", type=int)
    w.add_argument("--phase", choices=("steady", "cold"), default="steady")
    w.add_argument("--load", help="1-minute load average when the run started")
    w.add_argument("--tlsterm-log", help="the TLS terminator's access log of this run")
    t = sub.add_parser("record-strace")
    t.add_argument("--target", choices=TARGETS, required=True)
    t.add_argument("--c", type=int, required=True)
    t.add_argument("--wrk", required=True)
    t.add_argument("--strace", required=True)
    s = sub.add_parser("record-stream")
    s.add_argument("--target", choices=TARGETS, required=True)
    s.add_argument("--client", required=True)
    s.add_argument("--cpu-ticks", type=int, required=True)
    s.add_argument("--hwm-kib", type=int)
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--out")
    a = ap.parse_args()
    {"record-wrk": record_wrk, "record-strace": record_strace, "record-stream": record_stream,
     "report": report}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
