#!/usr/bin/env python3
"""Fault table (issue 12, "Measure"): 16 ways an LLM upstream fails, one
streamed chat request each through a real modelmux-dp whose failover policy
sends gpt-4o to a target that fails (the mock's fault rules) and falls back
to a healthy gpt-4o-mini, with the policy fields set for resilience
(retries 1, maxRetryAfterWaitSec 5, firstTokenTimeoutMs and
streamIdleTimeoutMs 10000, midStreamFailover "continue").

For each scenario it prints what the caller got: `complete` (the whole
answer text, a properly ended body), `clean error` (an OpenAI error
response, or a stream ending with the stream_interrupted event and no
chunked terminator), or `wrong` (anything else: a cut or garbled answer
presented as complete), with the attempts header, every try as the access
log lists it (model:outcome) and the time taken.

Both mock targets give the same answer text (the rule's `text`), as two
deployments of one model would, so a continued stream can be checked byte
for byte. Uses the e2e harness (tests/e2e/mm.py) to start the binaries of
build/ on free ports.

  bench/faults.py [--fast] [--markdown] [--only NAME]

--fast scales the deadlines down (first token / idle 1 s, header 2 s) and
the faults with them, for the e2e test that keeps this script working. The
exit status is 1 when a scenario ends other than expected (every one
complete, except the content-policy 400: a clean error after one try)."""
import argparse
import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

import dp_util as du  # noqa: E402
import mm  # noqa: E402
from sse_util import dechunk, events, split  # noqa: E402

KEY = "key-faults-0123456789"
PATH = "/api/1.0/chat/completions"
TEXT = ("Resilience is not the absence of failure but the ability to carry on when a "
        "provider stalls, resets or answers with an error halfway through a sentence.")


def scenarios(s):
    """(name, the failing target's rule, the fallback's rule extras,
    expected outcome). s scales the times (1.0, or less with --fast)."""
    t = lambda ms: int(ms * s)  # noqa: E731
    return [
        ("500 once", {"status": 500, "count": 1}, {}, "complete"),
        ("503 always", {"status": 503}, {}, "complete"),
        ("429, Retry-After 1 s", {"status": 429, "retryAfter": "1", "count": 1}, {}, "complete"),
        ("429, Retry-After 60 s", {"status": 429, "retryAfter": "60"}, {}, "complete"),
        ("reset before headers", {"reset": True, "count": 1}, {}, "complete"),
        ("no response at all", {"hang": True}, {}, "complete"),
        ("first event after 20 s", {"firstChunkDelayMs": t(20000)}, {}, "complete"),
        ("cut after 3 events", {"resetAfterChunks": 3}, {"continuation": True}, "complete"),
        ("stall of 60 s after 3 events", {"stallAfterChunks": 3, "stallMs": t(60000)},
         {"continuation": True}, "complete"),
        ("error event after 3 events", {"errorAfterChunks": 3},
         {"refuseTrailingAssistant": True}, "complete"),
        ("malformed event", {"malformedAfterChunks": 2}, {}, "complete"),
        ("clean end without [DONE]", {"noDone": True}, {}, "complete"),
        ("400 context_length_exceeded", {"errorCode": "context_length_exceeded"}, {}, "complete"),
        ("400 content_policy_violation", {"errorCode": "content_policy_violation"}, {},
         "clean error"),
        ("flapping: 503 for 2 s", {"status": 503, "failForMs": t(2000)}, {}, "complete"),
        ("404 model not found", {"status": 404}, {}, "complete"),
    ]


def snapshot(mock, s):
    eps = [du.endpoint("e1", mock.url + "/v1", name="flaky", timeout_ms=60000),
           du.endpoint("e2", mock.url + "/v1", name="healthy", timeout_ms=60000)]
    pol = du.failover("f1", du.target("gpt-4o", "e1"), [du.target("gpt-4o-mini", "e2")],
                      request_timeout_ms=int(10000 * s), suspend_s=1)
    pol.update({"retries": 1, "maxRetryAfterWaitSec": 5,
                "firstTokenTimeoutMs": int(10000 * s), "streamIdleTimeoutMs": int(10000 * s),
                "midStreamFailover": "continue"})
    return du.snapshot([du.api("a1", "/api", eps, [pol], name="chat")], [du.key("k1", KEY)])


def call(port, timeout):
    """One streamed chat request over a raw socket: (status, headers text,
    body bytes, chunked terminator seen)."""
    body = json.dumps({"model": "gpt-4o", "stream": True,
                       "messages": [{"role": "user", "content": "Tell me about resilience."}]}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(b"POST %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (PATH.encode(), KEY.encode(), len(body), body))
    out = b""
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                break
            out += b
            head, _, rest = out.partition(b"\r\n\r\n")
            if b"chunked" in head.lower() and rest.endswith(b"0\r\n\r\n"):
                break
            if b"content-length" in head.lower() and _complete_fixed(head, rest):
                break
    except OSError:
        pass
    sock.close()
    status, head, payload = split(out)
    if "transfer-encoding: chunked" in head.lower():
        data, terminated = dechunk(payload)
    else:
        data, terminated = payload, True
    return status, head, data, terminated


def _complete_fixed(head, rest):
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":")[1])
    return False


def judge(status, head, data, terminated):
    """(outcome, note) of what the caller got."""
    if status != 200:
        try:
            err = json.loads(data)["error"]
            return "clean error", "%d %s" % (status, err.get("code"))
        except (ValueError, KeyError, TypeError):
            return "wrong", "%d with a body that is not an error" % status
    text, malformed, err = "", 0, None
    for e in events(data):
        if e == b"[DONE]":
            continue
        try:
            d = json.loads(e)
        except ValueError:
            malformed += 1
            continue
        if "error" in d:
            err = d["error"]
            continue
        for c in d.get("choices") or []:
            text += (c.get("delta") or {}).get("content") or ""
    if err is not None:
        if not terminated and err.get("code") == "stream_interrupted":
            return "clean error", "stream_interrupted"
        return "wrong", "an error event in a terminated body"
    if not terminated:
        return "wrong", "cut without an error event"
    if text != TEXT:
        return "wrong", "text differs (%d of %d bytes)" % (len(text), len(TEXT))
    return "complete", "%d malformed event(s) relayed as sent" % malformed if malformed else ""


def header(head, name):
    for line in head.split("\r\n"):
        k, _, v = line.partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return "-"


def run(fast=False, only=None):
    s = 0.1 if fast else 1.0
    mock = mm.MockLLM(extra_args=["--name", "m1"])
    rows = []
    try:
        for name, rule, fallback, expected in scenarios(s):
            if only and only not in name:
                continue
            # a fresh data plane per scenario: no suspension carries over
            cfg = du.write_snapshot(snapshot(mock, s))
            dp = mm.DataPlane(config=cfg, workers=1)
            try:
                du.mock_clear(mock)
                du.mock_faults(mock, [dict(rule, model="gpt-4o", text=TEXT, chunks=6),
                                      dict(fallback, model="gpt-4o-mini", text=TEXT, chunks=6),
                                      {"text": TEXT}])
                t0 = time.monotonic()
                status, head, data, terminated = call(dp.port, timeout=120 * s + 30)
                took = time.monotonic() - t0
                outcome, note = judge(status, head, data, terminated)
                log = du.wait_logged(dp, lambda a: a.get("path") == PATH, timeout=10)
                tries = " ".join("%s:%s" % (t["model"], t["outcome"]) for t in log["tries"])
                rows.append({"scenario": name, "expected": expected, "outcome": outcome,
                             "attempts": header(head, "x-modelmux-attempts"),
                             "served": header(head, "x-modelmux-model"),
                             "upstream": len(du.mock_requests(mock)), "seconds": took, "note": note,
                             "tries": tries})
            finally:
                dp.stop()
                os.unlink(cfg)
    finally:
        mock.stop()
    return rows


def print_table(rows, markdown):
    cols = ("scenario", "outcome", "attempts", "tries", "seconds", "note")
    heads = ("scenario", "caller got", "attempts", "tries (access log)", "time", "note")
    cells = [[r["scenario"], r["outcome"], r["attempts"], r["tries"], "%.2f s" % r["seconds"],
              r["note"]] for r in rows]
    if markdown:
        print("| " + " | ".join(heads) + " |")
        print("|" + "|".join("---" for _ in cols) + "|")
        for c in cells:
            print("| " + " | ".join(c) + " |")
        return
    w = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(heads)))
    for c in cells:
        print("  ".join(v.ljust(w[i]) for i, v in enumerate(c)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fast", action="store_true", help="deadlines and faults scaled to 1/10")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--only", help="only the scenarios whose name holds this")
    a = ap.parse_args()
    rows = run(fast=a.fast, only=a.only)
    print_table(rows, a.markdown)
    # a clean error must come after one try (the caller's own mistake)
    bad = [r for r in rows if r["outcome"] != r["expected"] or
           (r["expected"] == "clean error" and r["attempts"] != "1")]
    for r in bad:
        print("UNEXPECTED: %s: %s (expected %s)" % (r["scenario"], r["outcome"], r["expected"]),
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
