#!/usr/bin/env python3
"""Records and reports the measurements of `make bench` (bench/run.sh).

  report.py record-wrk --target T --c N --round R --wrk FILE --cpu-ticks N --hwm-kib K
      one wrk run -> one JSON line on stdout (run.sh appends it to results.jsonl);
      FILE is wrk's output with the BENCH_RESULT line of bench/post.lua
  report.py record-stream --target T --client FILE --cpu-ticks N --hwm-kib K
      one streaming run (FILE: the JSON of bench/sse_client.py) -> one JSON line
  report.py report --results FILE [--out FILE.md]
      the tables: printed, and written as Markdown with the date and machine;
      the settings come from run.sh's environment (BENCH_* variables, see
      collect_meta), the machine facts from /proc, git, wrk and nginx

Aggregation over the repeated rounds of one (target, concurrency): requests/s,
p50 and p99 are medians of the rounds; requests per CPU-second is the sum of
requests over the sum of the target's CPU seconds (utime + stime); peak RSS
is the largest VmHWM (reset before every run through /proc/PID/clear_refs).
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys

TARGETS = ("mock", "nginx", "modelmux")
LABEL = {"mock": "mock direct", "nginx": "nginx", "modelmux": "modelmux"}
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The goals the issue sets (SPEC-level targets of the data plane).
P99_ADDED_MAX_MS = 0.5
RSS_C64_MAX_MIB = 20.0
RSS_STREAMS_MAX_MIB = 100.0


def mib(kib):
    return None if kib is None else kib / 1024.0


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.*f" % (nd, v)
    return str(v)


# --- recording -------------------------------------------------------------

def record_wrk(a):
    with open(a.wrk, encoding="utf-8", errors="replace") as f:
        text = f.read()
    m = re.search(r"^BENCH_RESULT (\{.*\})\s*$", text, re.M)
    if not m:
        raise SystemExit("report.py: no BENCH_RESULT line in %s:\n%s" % (a.wrk, text[-2000:]))
    r = json.loads(m.group(1))
    dur = r["duration_us"] / 1e6
    cpu = a.cpu_ticks / CLK_TCK
    errors = sum(r["errors"].values())
    rec = {"kind": "wrk", "target": a.target, "c": a.c, "round": a.round,
           "requests": r["requests"], "duration_s": round(dur, 3),
           "rps": round(r["requests"] / dur, 1) if dur > 0 else 0.0,
           "p50_ms": r["p50_us"] / 1000.0, "p99_ms": r["p99_us"] / 1000.0,
           "max_ms": r["max_us"] / 1000.0, "errors": errors, "error_detail": r["errors"],
           "cpu_s": round(cpu, 3), "hwm_kib": a.hwm_kib}
    print(json.dumps(rec))


def record_stream(a):
    with open(a.client, encoding="utf-8") as f:
        r = json.load(f)
    r.update({"kind": "stream", "target": a.target, "cpu_s": round(a.cpu_ticks / CLK_TCK, 3),
              "hwm_kib": a.hwm_kib})
    print(json.dumps(r))


# --- reporting -------------------------------------------------------------

def aggregate(runs):
    agg = {}
    for r in runs:
        agg.setdefault((r["target"], r["c"]), []).append(r)
    out = {}
    for key, rs in agg.items():
        cpu = sum(r["cpu_s"] for r in rs)
        out[key] = {"rounds": len(rs), "rps": statistics.median(r["rps"] for r in rs),
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


def goals(agg, streams, conc, meta):
    """[(goal, verdict text)]"""
    out = []
    why = meta.get("modelmux_missing")
    per_c = []
    for c in conc:
        mm, ng = agg.get(("modelmux", c)), agg.get(("nginx", c))
        if not mm or not ng:
            continue
        per_c.append((c, ratio(mm["req_per_cpu_s"], ng["req_per_cpu_s"])))
    goal = "modelmux requests per CPU-second >= nginx's at every concurrency"
    if not per_c or any(r is None for _, r in per_c):
        out.append((goal, "not measured" + (" (%s)" % why if why else "")))
    else:
        parts = []
        for c, r in per_c:
            parts.append("c=%d: %.2fx (%s)" % (c, r, "met" if r >= 1.0 else
                                               "missed by %.0f%%" % ((1.0 - r) * 100)))
        verdict = "MET" if all(r >= 1.0 for _, r in per_c) else "MISSED"
        out.append((goal, "%s: %s" % (verdict, "; ".join(parts))))

    goal = "p99 added over mock-direct p99 < %.1f ms at c=64" % P99_ADDED_MAX_MS
    mm, mk = agg.get(("modelmux", 64)), agg.get(("mock", 64))
    if not mm or not mk:
        out.append((goal, "not measured" + (" (%s)" % why if why else "")))
    else:
        added = mm["p99_ms"] - mk["p99_ms"]
        verdict = "MET" if added < P99_ADDED_MAX_MS else "MISSED by %.2f ms" % (added - P99_ADDED_MAX_MS)
        if busy_at_start(meta):
            # Tail latency on shared CPUs measures the neighbours, not the
            # gateway: a verdict either way would be noise.
            verdict = "INCONCLUSIVE (machine busy at the start; would read %s)" % verdict
        out.append((goal, "%s: %.2f ms added (modelmux p99 %.2f ms, mock direct %.2f ms)"
                    % (verdict, added, mm["p99_ms"], mk["p99_ms"])))

    goal = "modelmux peak RSS <= %.0f MiB at c=64" % RSS_C64_MAX_MIB
    if not mm or mm["hwm_mib"] is None:
        out.append((goal, "not measured" + (" (%s)" % why if why else "")))
    else:
        v = mm["hwm_mib"]
        out.append((goal, "%s: %.1f MiB" % ("MET" if v <= RSS_C64_MAX_MIB else
                                             "MISSED by %.1f MiB" % (v - RSS_C64_MAX_MIB), v)))

    goal = "modelmux peak RSS <= %.0f MiB with %s concurrent streams" % (
        RSS_STREAMS_MAX_MIB, meta.get("streams", "1,000"))
    s = streams.get("modelmux")
    if not s or s.get("hwm_kib") is None:
        out.append((goal, "not measured" + (" (%s)" % why if why else "")))
    else:
        v = mib(s["hwm_kib"])
        verdict = "MET" if v <= RSS_STREAMS_MAX_MIB else "MISSED by %.1f MiB" % (v - RSS_STREAMS_MAX_MIB)
        if s["ok"] < s["streams"]:
            verdict += " (but only %d of %d streams completed)" % (s["ok"], s["streams"])
        out.append((goal, "%s: %.1f MiB" % (verdict, v)))
    return out


def render(runs, streams, meta, md):
    conc = sorted({r["c"] for r in runs})
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
        for t in TARGETS:
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
                     fmt(ng["p99_ms"] - mk["p99_ms"], 2) if mk else "-"])
    if rows:
        parts.append(h("modelmux / nginx"))
        parts.append(table(["c", "req/s", "req/CPU-s", "p99", "peak RSS",
                            "modelmux p99 added ms", "nginx p99 added ms"], rows, md))
        if md:
            parts.append("Ratios are modelmux's value over nginx's (above 1 is better for req/s "
                         "and req/CPU-s, worse for p99 and RSS). \"p99 added\" is the target's p99 "
                         "minus the mock-direct p99 at the same concurrency.")

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

    parts.append(h("Targets"))
    for goal, verdict in goals(agg, streams, conc, meta):
        parts.append(("- %s: **%s**" if md else "- %s: %s") % (goal, verdict))

    if md:
        parts.append(h("Every run"))
        rows = [[LABEL[r["target"]], str(r["c"]), str(r["round"]), fmt(r["rps"], 0),
                 fmt(r["p50_ms"], 2), fmt(r["p99_ms"], 2), fmt(r["cpu_s"], 2),
                 fmt(mib(r["hwm_kib"]), 1), str(r["errors"])] for r in runs]
        parts.append(table(["target", "c", "round", "req/s", "p50 ms", "p99 ms", "CPU s",
                            "peak RSS MiB", "errors"], rows, md))
        if meta.get("notes"):
            parts.append(h("Notes"))
            parts.append("\n".join("- " + n for n in meta["notes"]))
    return "\n\n".join(parts) + "\n"


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
        "body_bytes": int(env("BENCH_BODY_BYTES", "0")),
        "notes": [n for n in env("BENCH_NOTES", "").split("\n") if n.strip()],
        "loadavg": "%s at the start, %s at the end" % (env("BENCH_LOADAVG_START", "?"),
                                                       " ".join(read_first("/proc/loadavg").split()[:3])),
    }


def report(a):
    runs, streams = [], {}
    if os.path.exists(a.results):
        with open(a.results, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                r = json.loads(line)
                if r["kind"] == "wrk":
                    runs.append(r)
                else:
                    streams[r["target"]] = r
    meta = collect_meta()
    print(render(runs, streams, meta, md=False))
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(render(runs, streams, meta, md=True))
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
    s = sub.add_parser("record-stream")
    s.add_argument("--target", choices=TARGETS, required=True)
    s.add_argument("--client", required=True)
    s.add_argument("--cpu-ticks", type=int, required=True)
    s.add_argument("--hwm-kib", type=int)
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--out")
    a = ap.parse_args()
    {"record-wrk": record_wrk, "record-stream": record_stream, "report": report}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
