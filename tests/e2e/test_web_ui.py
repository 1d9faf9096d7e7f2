"""The web UI (SPEC section 4) on a real modelmux-cp.

- The browser tests (tests/web/*.test.mjs: Debian's chromium driven by
  playwright-core, run by `node --test`) against a control plane on a fresh
  database: sign in, model chips, Update, errors, keyboard, phone width, the
  APIs and data-planes views.
- Every file of web/ is served at /ui/ with the right content type, without a
  token, byte for byte; / redirects to /ui/.
- /ui/ never serves anything outside web/: dot-dot paths, their encoded and
  double-encoded forms, backslashes, NUL bytes and absolute paths are refused.

Needs node, /usr/bin/chromium and tests/web/node_modules (make test installs
them: scripts/install-deps.sh and scripts/install-node-deps.sh).
"""
import os
import re
import shutil
import subprocess

import pytest

import mm

WEB_DIR = os.path.join(mm.SOURCE_DIR, "web")
TESTS_DIR = os.path.join(mm.SOURCE_DIR, "tests", "web")
BROWSER_TESTS = ["models.test.mjs", "ui.test.mjs"]

CONTENT_TYPES = {
    ".html": ("text/html",),
    ".js": ("text/javascript", "application/javascript"),
    ".mjs": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".svg": ("image/svg+xml",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


def web_files():
    out = []
    for root, _dirs, files in os.walk(WEB_DIR):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), WEB_DIR).replace(os.sep, "/"))
    return sorted(out)


def media_type(resp):
    return resp.headers.get("content-type", "").split(";")[0].strip().lower()


def test_browser_ui():
    node = shutil.which("node")
    assert node, "node is not installed (scripts/install-deps.sh installs it)"
    assert os.path.exists("/usr/bin/chromium"), "chromium is not installed (scripts/install-deps.sh)"
    assert os.path.isdir(os.path.join(TESTS_DIR, "node_modules", "playwright-core")), \
        "tests/web/node_modules missing: run scripts/install-node-deps.sh"
    cp = mm.ControlPlane()
    env = dict(os.environ)
    env.update({"MM_CP_URL": cp.url, "MM_ADMIN_TOKEN": cp.token, "MM_DP_TOKEN": mm.DP_TOKEN})
    try:
        run = subprocess.run([node, "--test", "--test-reporter=tap"] + BROWSER_TESTS, cwd=TESTS_DIR,
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=min(300 * mm.SLOW, 480))
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        pytest.fail("browser tests did not finish in time:\n" + out[-8000:])
    out = run.stdout.decode("utf-8", "replace")
    summary = dict(re.findall(r"^# (tests|pass|fail|cancelled) (\d+)$", out, re.M))
    assert run.returncode == 0 and summary.get("fail") == "0" and summary.get("cancelled") == "0", \
        "browser tests failed (rc %d):\n%s\n--- control plane stderr ---\n%s" % (
            run.returncode, out[-12000:], cp.stderr()[-3000:])
    assert int(summary.get("pass", "0")) >= 20, "too few browser tests ran:\n" + out[-4000:]
    assert cp.stop() == 0


def test_every_web_file_served_with_its_type(cp):
    files = web_files()
    assert "index.html" in files and "app.js" in files and "style.css" in files
    for name in files:
        ext = os.path.splitext(name)[1]
        assert ext in CONTENT_TYPES, "web/%s: no content type known for %s" % (name, ext)
        r = mm.request(cp.port, "GET", "/ui/" + name)  # no token: the page loads before sign-in
        assert r.status == 200, (name, r)
        assert media_type(r) in CONTENT_TYPES[ext], (name, r.headers.get("content-type"))
        with open(os.path.join(WEB_DIR, name), "rb") as f:
            assert r.body == f.read(), name
    index = mm.request(cp.port, "GET", "/ui/")
    assert index.status == 200 and media_type(index) == "text/html"
    with open(os.path.join(WEB_DIR, "index.html"), "rb") as f:
        assert index.body == f.read()
    query = mm.request(cp.port, "GET", "/ui/app.js?v=1")
    assert query.status == 200 and media_type(query) in CONTENT_TYPES[".js"]


def test_root_redirects_to_ui(cp):
    for path in ("/", "/ui"):
        r = mm.request(cp.port, "GET", path)
        assert r.status == 302, (path, r)
        assert r.headers.get("location", "").endswith("/ui/"), (path, r.headers)


def test_missing_file_and_wrong_method(cp):
    r = mm.request(cp.port, "GET", "/ui/no-such-file.js")
    assert r.status == 404, r
    r = mm.request(cp.port, "POST", "/ui/index.html", body=b"x", headers={"Content-Type": "text/plain"})
    assert r.status == 405, r


TRAVERSALS = [
    "/ui/../../etc/passwd",
    "/ui/../../../../../../etc/passwd",
    "/ui/%2e%2e/%2e%2e/etc/passwd",
    "/ui/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/ui/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/ui/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/ui/%252e%252e/%252e%252e/etc/passwd",
    "/ui/..%252f..%252fetc%252fpasswd",
    "/ui/..\\..\\..\\..\\etc\\passwd",
    "/ui/..%5c..%5c..%5c..%5cetc%5cpasswd",
    "/ui/....//....//....//etc/passwd",
    "/ui/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/ui//etc/passwd",
    "/ui/%2fetc%2fpasswd",
    "/ui/index.html%00.css",
    "/ui/../CMakeLists.txt",
    "/ui/%2e%2e/CMakeLists.txt",
    "/ui/./../tests/e2e/mm.py",
    "/ui/..",
    "/ui/%2e%2e",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_refused(cp, path):
    r = mm.request(cp.port, "GET", path)
    # a NUL is a bad request; every other path is not found
    assert r.status == (400 if "%00" in path else 404), (path, r)
    assert b"root:" not in r.body, path
    assert b"cmake_minimum_required" not in r.body, path
    assert b"def free_port" not in r.body, path
    # Still serving after the hostile request.
    assert mm.request(cp.port, "GET", "/ui/index.html").status == 200


def test_raw_traversal_refused(cp):
    """Paths sent byte for byte, as a hostile client would, not normalised."""
    for target in (b"/ui/../../etc/passwd", b"/ui/%2e%2e/%2e%2e/etc/passwd", b"/ui/..%2f..%2fetc/passwd"):
        out = mm.raw_request(cp.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status = out.split(b"\r\n", 1)[0]
        assert re.match(rb"HTTP/1\.[01] (400|403|404)\b", status), (target, out[:200])
        assert b"root:" not in out, target
