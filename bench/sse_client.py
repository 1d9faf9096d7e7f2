#!/usr/bin/env python3
"""Opens N concurrent streaming chat completions (SSE) and times them.

The streaming part of `make bench`: each of --streams connections POSTs
{"stream": true} and reads the server-sent events to "data: [DONE]".
Connections are opened at most --connect-batch at a time (so the kernel's
listen backlog is not the thing measured), and every stream is bounded by
--timeout seconds. Measures, per stream, the time to first byte (request
written -> first body byte of the event stream, i.e. the first "data:")
and the time to the end; and the peak number of streams open at once.

Prints one JSON object on stdout:
  {"streams", "ok", "failed", "statuses": {status: count}, "errors": {...},
   "ttfb_ms": {"p50", "p99", "max"}, "total_ms": {"p50", "p99", "max"},
   "peak_open", "wall_s"}
Standard library only (asyncio); exit 0 even when streams failed (the
caller judges), 2 on bad arguments.
"""
import argparse
import asyncio
import json
import math
import sys
import time


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, math.ceil(p / 100.0 * len(v)) - 1))  # nearest rank
    return round(v[k], 3)


class Run:
    def __init__(self, a):
        self.a = a
        self.open = 0
        self.peak_open = 0
        self.ttfb = []
        self.total = []
        self.statuses = {}
        self.errors = {}
        body = json.dumps({"model": a.model, "stream": True,
                           "messages": [{"role": "user", "content": "Stream a short reply."}]})
        head = ["POST %s HTTP/1.1" % a.path, "Host: %s:%d" % (a.host, a.port),
                "Content-Type: application/json", "Accept: text/event-stream",
                "Content-Length: %d" % len(body), "Connection: close"]
        if a.auth:
            head.append("Authorization: %s" % a.auth)
        self.request = ("\r\n".join(head) + "\r\n\r\n" + body).encode()
        self.connect_sem = asyncio.Semaphore(a.connect_batch)

    def error(self, what):
        self.errors[what] = self.errors.get(what, 0) + 1

    async def one(self):
        writer = None
        counted = False
        try:
            async with self.connect_sem:
                reader, writer = await asyncio.open_connection(self.a.host, self.a.port)
                writer.write(self.request)
                await writer.drain()
            t0 = time.monotonic()
            self.open += 1
            counted = True
            self.peak_open = max(self.peak_open, self.open)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            self.statuses[status] = self.statuses.get(status, 0) + 1
            seen = b""
            first = None
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                if first is None and b"data:" in (seen[-8:] + chunk):
                    first = time.monotonic()
                seen = (seen + chunk)[-64:]
                if b"data: [DONE]" in seen:
                    break
            end = time.monotonic()
            if status != 200:
                self.error("status")
            elif first is None or b"data: [DONE]" not in seen:
                self.error("incomplete")
            else:
                self.ttfb.append((first - t0) * 1000.0)
                self.total.append((end - t0) * 1000.0)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                IndexError) as e:
            self.error(type(e).__name__)
        finally:
            if counted:
                self.open -= 1
            if writer is not None:
                writer.close()

    async def main(self):
        t0 = time.monotonic()
        tasks = [asyncio.ensure_future(asyncio.wait_for(self.one(), self.a.timeout))
                 for _ in range(self.a.streams)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for r in results:
            if isinstance(r, asyncio.TimeoutError):
                self.error("timeout")
            elif isinstance(r, BaseException):
                self.error(type(r).__name__)
        wall = time.monotonic() - t0
        return {"streams": self.a.streams, "ok": len(self.ttfb),
                "failed": self.a.streams - len(self.ttfb),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "errors": self.errors,
                "ttfb_ms": {"p50": percentile(self.ttfb, 50), "p99": percentile(self.ttfb, 99),
                            "max": round(max(self.ttfb), 3) if self.ttfb else None},
                "total_ms": {"p50": percentile(self.total, 50), "p99": percentile(self.total, 99),
                             "max": round(max(self.total), 3) if self.total else None},
                "peak_open": self.peak_open, "wall_s": round(wall, 3)}


def main():
    ap = argparse.ArgumentParser(description="N concurrent SSE chat completions")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--auth", default="", help="Authorization header value")
    ap.add_argument("--model", default="gpt-4o")
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--connect-batch", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=60.0, help="per stream, seconds")
    a = ap.parse_args()
    if not 1 <= a.streams <= 20000 or not 1 <= a.connect_batch <= a.streams:
        print("sse_client: --streams must be 1..20000 and --connect-batch 1..streams",
              file=sys.stderr)
        return 2
    print(json.dumps(asyncio.run(Run(a).main())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
