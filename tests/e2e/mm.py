"""Shared harness for modelmux end-to-end tests (pytest, standard library only).

Starts the real binaries (build/bin/modelmux-cp, modelmux-dp, mockllm) and
real redis-server on free loopback ports in temp directories, talks to them
over real sockets, and stops every process it started. When a process exits,
its stderr is scanned for sanitizer reports (ASan/UBSan/LSan) and the test
fails if one is found (after Redis's tests/support/server.tcl).

Environment (set by ctest, see CMakeLists.txt):
  MM_BIN_DIR     build/bin of the build under test
  MM_SOURCE_DIR  repository root
  MM_SANITIZE    1 when the binaries are sanitizer builds (slower: scale waits)
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SOURCE_DIR = os.environ.get("MM_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN_DIR = os.environ.get("MM_BIN_DIR", os.path.join(SOURCE_DIR, "build", "bin"))
SANITIZE = os.environ.get("MM_SANITIZE", "0") in ("1", "ON", "TRUE", "true")
# Timeouts in tests are multiplied by this in sanitizer builds.
SLOW = 3.0 if SANITIZE else 1.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")


def binary(name):
    path = os.path.join(BIN_DIR, name)
    if not os.path.exists(path):
        raise RuntimeError("binary %s not built (MM_BIN_DIR=%s)" % (name, BIN_DIR))
    return path


# Ports handed out by free_port() are reserved with a file here, so that two
# tests running at the same time (ctest -j) never get the same port between
# its probe and the moment the program under test binds it.
_PORT_DIR = os.path.join(tempfile.gettempdir(), "modelmux-test-ports")
_PORT_RESERVATION_S = 900
# Below Linux's ephemeral range (32768-60999): the kernel never hands these to
# outgoing connections, so a probed-free port stays free.
_PORT_RANGE = (20000, 32000)


def _reserve(port):
    os.makedirs(_PORT_DIR, exist_ok=True)
    path = os.path.join(_PORT_DIR, str(port))
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.close(fd)
        return True
    except FileExistsError:
        try:
            if time.time() - os.stat(path).st_mtime > _PORT_RESERVATION_S:
                os.utime(path)  # a stale reservation: take it over
                return True
        except OSError:
            pass
        return False


def free_port():
    """A TCP port free on 127.0.0.1 and reserved for this test run: no other
    free_port() caller, in this process or another, gets it for 15 minutes."""
    rng = random.Random()
    for _ in range(2000):
        port = rng.randrange(*_PORT_RANGE)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if _reserve(port):
            return port
    raise RuntimeError("no free port found in %d-%d" % _PORT_RANGE)


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening on %d" % (proc.returncode, port))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listening on port %d after %.1fs" % (port, timeout * SLOW))


def wait_until(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.time() + timeout * SLOW
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last value %r)" % (what, last))


class Proc:
    """A started process with its stderr in a file. Use as a context manager
    or call stop(); stop() checks the stderr for sanitizer reports."""

    def __init__(self, args, env=None, cwd=None, name=None):
        self.args = [str(a) for a in args]
        self.name = name or os.path.basename(self.args[0])
        self.dir = tempfile.mkdtemp(prefix="mm-%s-" % self.name)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
        e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if env:
            e.update({k: str(v) for k, v in env.items() if v is not None})
            for k, v in env.items():
                if v is None:
                    e.pop(k, None)
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.p = subprocess.Popen(self.args, env=e, cwd=cwd or self.dir, stdout=self._out,
                                  stderr=self._err, stdin=subprocess.DEVNULL)
        _live.append(self)

    @property
    def pid(self):
        return self.p.pid

    def poll(self):
        return self.p.poll()

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def kill(self):
        """SIGKILL, no sanitizer check (the process cannot report)."""
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self._close()

    def wait(self, timeout=30.0):
        return self.p.wait(timeout=timeout * SLOW)

    def stop(self, sig=None, timeout=30.0, check=True):
        """Sends sig (default SIGTERM), waits for exit (SIGKILL after timeout),
        returns the exit code. With check, fails on sanitizer reports in stderr."""
        if sig is None:  # (the method signal() above shadows the module here)
            sig = signal.SIGTERM
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                self._close()
                raise AssertionError("%s did not exit within %.0fs of signal %d\n%s"
                                     % (self.name, timeout * SLOW, sig, self.stderr()[-4000:]))
        self._close()
        if check:
            self.check_sanitizers()
        return self.p.returncode

    def check_sanitizers(self):
        text = self.stderr()
        for m in SANITIZER_MARKERS:
            if m in text:
                raise AssertionError("%s: sanitizer report in stderr:\n%s" % (self.name, text[-8000:]))

    def _close(self):
        for f in (self._err, self._out):
            if not f.closed:
                f.close()
        if self in _live:
            _live.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop(check=exc[0] is None)
        return False


_live = []


def stop_all():
    """Stops every process still running (pytest fixture teardown calls this)."""
    for p in list(_live):
        try:
            p.stop(check=False, timeout=10)
        except Exception:
            p.kill()


# --- HTTP ----------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body        # bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


def request(port, method, path, body=None, headers=None, token=None, timeout=30.0, host="127.0.0.1",
            conn=None):
    """One HTTP/1.1 request on a new connection (or on conn, an unused
    http.client connection, e.g. over TLS), closed after. body may be bytes,
    str, or a JSON-able object (then Content-Type defaults to
    application/json)."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    data = body
    if body is not None and not isinstance(body, (bytes, str)):
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
    if conn is None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout * SLOW)
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, payload)
    finally:
        conn.close()


def raw_request(port, data, timeout=5.0):
    """Sends raw bytes, returns whatever comes back until close or timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except socket.timeout:
            pass
        return b"".join(chunks)


class EventStream:
    """A request whose text/event-stream answer is read event by event as it
    arrives (for checking that chunks are not buffered). body: a JSON-able
    object, bytes or str."""

    def __init__(self, port, path, body, headers=None, method="POST", timeout=30.0):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SLOW)
        self.t0 = time.time()
        self.conn.request(method, path, body=data, headers=h)
        self.resp = self.conn.getresponse()

    def events(self):
        """Yields (seconds since the request was sent, payload str) for each
        `data:` line."""
        while True:
            line = self.resp.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n")
            if line.startswith(b"data: "):
                yield time.time() - self.t0, line[6:].decode("utf-8", "replace")

    def close(self):
        self.conn.close()


# --- the components -------------------------------------------------------

ADMIN_TOKEN = "test-admin-token-0123456789"
DP_TOKEN = "test-dp-token-0123456789"


class ControlPlane(Proc):
    """modelmux-cp on a free port with a fresh database (or db=path)."""

    def __init__(self, db=None, admin_token=ADMIN_TOKEN, dp_token=DP_TOKEN, extra_args=(), env=None):
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="mm-cp-db-")
        self.db = db or os.path.join(self.tmp, "modelmux.db")
        self.token = admin_token
        e = {"MODELMUX_ADMIN_TOKEN": admin_token, "MODELMUX_DP_TOKEN": dp_token}
        e.update(env or {})
        super().__init__([binary("modelmux-cp"), "--listen", "127.0.0.1:%d" % self.port,
                          "--db", self.db, "--web", os.path.join(SOURCE_DIR, "web")] + list(extra_args),
                         env=e, name="modelmux-cp")
        wait_port(self.port, proc=self.p)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def api(self, method, path, body=None, token=None, headers=None, timeout=30.0):
        return request(self.port, method, "/api/v1" + path, body=body,
                       token=self.token if token is None else token, headers=headers, timeout=timeout)

    def ok(self, method, path, body=None, expect=(200, 201, 204)):
        """api() that asserts a success status and returns the decoded JSON (or None)."""
        r = self.api(method, path, body)
        if isinstance(expect, int):
            expect = (expect,)
        assert r.status in expect, "%s %s -> %d %s" % (method, path, r.status, r.text)
        return r.json() if r.body else None


class MockLLM(Proc):
    """tests/mockllm on a free port (see tests/mockllm/README.md for its API)."""

    def __init__(self, extra_args=()):
        self.port = free_port()
        super().__init__([binary("mockllm"), "--listen", "127.0.0.1:%d" % self.port] + list(extra_args),
                         name="mockllm")
        wait_port(self.port, proc=self.p)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port


class DataPlane(Proc):
    """modelmux-dp on free ports, following a control plane (cp=) or a
    snapshot file (config=)."""

    def __init__(self, cp=None, config=None, workers=2, dp_id=None, redis=None, cache=None,
                 extra_args=(), env=None, wait_ready=True):
        self.port = free_port()
        self.admin_port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="mm-dp-")
        self.cache = cache or os.path.join(self.tmp, "cache.json")
        args = [binary("modelmux-dp"), "--listen", "127.0.0.1:%d" % self.port,
                "--admin-listen", "127.0.0.1:%d" % self.admin_port, "--cache", self.cache,
                "--workers", str(workers)]
        if cp is not None:
            args += ["--cp", cp.url if hasattr(cp, "url") else cp]
        if config is not None:
            args += ["--config", config]
        if dp_id:
            args += ["--id", dp_id]
        if redis:
            args += ["--redis", redis]
        e = {"MODELMUX_DP_TOKEN": DP_TOKEN}
        e.update(env or {})
        super().__init__(args + list(extra_args), env=e, name="modelmux-dp")
        wait_port(self.port, proc=self.p)
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout=15.0):
        wait_until(lambda: self._ready(), timeout=timeout, what="dataplane /readyz 200")

    def _ready(self):
        try:
            return request(self.admin_port, "GET", "/readyz", timeout=2).status == 200
        except OSError:
            return False

    def call(self, method, path, body=None, key=None, headers=None, timeout=30.0):
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = "Bearer " + key
        return request(self.port, method, path, body=body, headers=h, timeout=timeout)

    def metrics(self):
        return request(self.admin_port, "GET", "/metrics").text


class Redis(Proc):
    """redis-server on a free port, no persistence."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.tmp = tempfile.mkdtemp(prefix="mm-redis-")
        super().__init__([shutil.which("redis-server") or "/usr/bin/redis-server",
                          "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", self.tmp], name="redis-server")
        wait_port(self.port, proc=self.p)

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port
