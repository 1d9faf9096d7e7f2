"""The web UI's static files at /ui/ (SPEC 4): content types, caching, and
refusal of everything that could leave the --web directory."""
import os

import mm


def make_web(tmp_path):
    web = tmp_path / "web"
    (web / "js").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>modelmux</title>")
    (web / "js" / "app.js").write_text("console.log(1);")
    (web / "style.css").write_text("body{}")
    (web / "logo.svg").write_text("<svg/>")
    (web / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (web / "data.json").write_text("{}")
    (web / ".hidden").write_text("no")
    (tmp_path / "outside.txt").write_text("SECRET-OUTSIDE")
    os.symlink(str(tmp_path / "outside.txt"), str(web / "link.txt"))
    return web


def test_static_files(tmp_path):
    web = make_web(tmp_path)
    cp = mm.ControlPlane(extra_args=["--web", str(web)])
    r = mm.request(cp.port, "GET", "/")
    assert r.status == 302 and r.headers["location"] == "/ui/"
    r = mm.request(cp.port, "GET", "/ui")
    assert r.status == 302 and r.headers["location"] == "/ui/"
    r = mm.request(cp.port, "GET", "/ui/")
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    assert b"modelmux" in r.body and "no-cache" in r.headers["cache-control"]
    for path, ctype in (("js/app.js", "text/javascript"), ("style.css", "text/css"),
                        ("logo.svg", "image/svg+xml"), ("logo.png", "image/png"),
                        ("data.json", "application/json"), ("index.html", "text/html")):
        r = mm.request(cp.port, "GET", "/ui/" + path)
        assert r.status == 200, path
        assert r.headers["content-type"].startswith(ctype), (path, r.headers)
        assert "cache-control" in r.headers
    assert mm.request(cp.port, "HEAD", "/ui/style.css").status == 200
    assert mm.request(cp.port, "POST", "/ui/style.css", body=b"x").status == 405
    assert mm.request(cp.port, "GET", "/ui/missing.html").status == 404
    assert mm.request(cp.port, "GET", "/ui/js").status == 404  # a directory without index


def test_path_traversal_refused(tmp_path):
    web = make_web(tmp_path)
    cp = mm.ControlPlane(extra_args=["--web", str(web)])
    attacks = [b"/ui/../outside.txt", b"/ui/%2e%2e/outside.txt", b"/ui/%2E%2E%2Foutside.txt",
               b"/ui/js/..%2f..%2foutside.txt", b"/ui/..%5coutside.txt", b"/ui//etc/passwd",
               b"/ui/%2fetc%2fpasswd", b"/ui/.hidden", b"/ui/link.txt", b"/ui/%00", b"/ui/a%zz",
               b"/ui/./index.html", b"/ui/js/../../outside.txt"]
    for a in attacks:
        resp = mm.raw_request(cp.port, b"GET " + a + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status = int(resp.split(b" ")[1])
        # a NUL or a broken escape is a bad request; every other path is not found
        assert status == (400 if a in (b"/ui/%00", b"/ui/a%zz") else 404), (a, resp[:200])
        assert b"SECRET-OUTSIDE" not in resp and b"root:" not in resp, a
    assert cp.poll() is None


def test_ui_needs_no_token_but_api_does(tmp_path):
    web = make_web(tmp_path)
    cp = mm.ControlPlane(extra_args=["--web", str(web)])
    assert mm.request(cp.port, "GET", "/ui/index.html").status == 200
    assert mm.request(cp.port, "GET", "/api/v1/vendors").status == 401


def test_repo_web_dir_by_default():
    cp = mm.ControlPlane()  # --web <repo>/web, whatever the UI engineer put there
    web = os.path.join(mm.SOURCE_DIR, "web")
    if os.path.exists(os.path.join(web, "index.html")):
        r = mm.request(cp.port, "GET", "/ui/")
        assert r.status == 200 and r.headers["content-type"].startswith("text/html")
