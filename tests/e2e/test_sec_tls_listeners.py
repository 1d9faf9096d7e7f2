"""HTTPS listeners (SPEC 2, 3; issue 15 item 1): modelmux-cp and modelmux-dp
with --tls-cert/--tls-key speak HTTPS only (TLS 1.2+, AEAD ciphers, ALPN
http/1.1), refuse plain HTTP, reload the pair on SIGHUP without dropping
connections in flight, and refuse a bad pair at start (one line, exit 1);
a data plane follows an HTTPS control plane with --cp-ca and refuses it
without. Certificates are made here with the openssl CLI."""
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading
import time

import dp_util as du
import mm
import tls_util as tu

KEY = "k-tls-0123456789"


def peer_cn(conn):
    cert = conn.sock.getpeercert()
    return dict(x[0] for x in cert["subject"])["commonName"]


def plain_refused(port):
    """A plain HTTP request on an HTTPS port gets no HTTP answer (the
    connection is closed or reset)."""
    try:
        out = mm.raw_request(port, b"GET /api/v1/revision HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
    except ConnectionResetError:
        return True
    return not out.startswith(b"HTTP/")


def run_exit(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(args, capture_output=True, text=True, timeout=30 * mm.SLOW, env=e)
    return r.returncode, r.stderr.strip().splitlines()


def test_cp_https_admin_ui_and_versions():
    pki = tu.Pki()
    ca = pki.ca("ca")
    srv = pki.cert(ca, "cp-server")
    cp = tu.HttpsControlPlane(srv, ca[0])
    assert cp.ok("GET", "/revision")["revision"] >= 1
    # the UI on the same listener
    r = tu.https_request(cp.port, "GET", "/ui/", cafile=ca[0])
    assert r.status == 200 and b"<html" in r.body.lower()
    # untrusted without the CA, wrong name refused
    try:
        tu.https_request(cp.port, "GET", "/api/v1/revision", token=cp.token)
        assert False, "a certificate from an unknown CA was accepted"
    except ssl.SSLCertVerificationError:
        pass
    # TLS 1.2 or 1.3 with ALPN http/1.1; a TLS 1.2 client offering only a
    # CBC cipher is refused
    ctx = tu.client_context(ca[0])
    ctx.set_alpn_protocols(["http/1.1"])
    conn = tu.tls_connection(cp.port, ctx=ctx)
    assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert conn.sock.selected_alpn_protocol() == "http/1.1"
    conn.close()
    ctx12 = tu.client_context(ca[0])
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    conn = tu.tls_connection(cp.port, ctx=ctx12)
    assert conn.sock.version() == "TLSv1.2"
    assert "GCM" in conn.sock.cipher()[0] or "CHACHA20" in conn.sock.cipher()[0]
    conn.close()
    cbc = tu.client_context(ca[0])
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    try:
        tu.tls_connection(cp.port, ctx=cbc).close()
        assert False, "a CBC-only TLS 1.2 client was accepted"
    except (ssl.SSLError, ConnectionError):
        pass
    assert plain_refused(cp.port)
    # still serving after all that
    assert cp.ok("GET", "/revision")["revision"] >= 1
    assert cp.stop() == 0


def test_bad_pairs_are_one_line_exit_1(tmp_path):
    pki = tu.Pki()
    ca = pki.ca("ca")
    a = pki.cert(ca, "a")
    b = pki.cert(ca, "b")
    junk = str(tmp_path / "junk.pem")
    with open(junk, "w") as f:
        f.write("not pem at all\n")
    cases = [
        ([a[0], b[1]], "does not match"),
        ([a[1], a[1]], "--tls-cert"),
        ([a[0], junk], "--tls-key"),
        ([a[0], str(tmp_path / "missing.key")], "No such file"),
    ]
    for (cert, key), want in cases:
        db = str(tmp_path / "cp.db")
        rc, lines = run_exit([mm.binary("modelmux-cp"), "--listen", "127.0.0.1:%d" % mm.free_port(),
                              "--db", db, "--tls-cert", cert, "--tls-key", key],
                             env={"MODELMUX_ADMIN_TOKEN": "x"})
        assert rc == 1 and len(lines) == 1 and want in lines[0], (cert, key, rc, lines)
        assert not os.path.exists(db), "the database was created before the pair was checked"
        rc, lines = run_exit([mm.binary("modelmux-dp"), "--config", "/nonexistent.json",
                              "--listen", "127.0.0.1:%d" % mm.free_port(),
                              "--admin-listen", "127.0.0.1:%d" % mm.free_port(),
                              "--tls-cert", cert, "--tls-key", key])
        assert rc == 1 and len(lines) == 1 and want in lines[0], (cert, key, rc, lines)
    # one without the other: usage (exit 2)
    rc, lines = run_exit([mm.binary("modelmux-cp"), "--tls-cert", a[0]])
    assert rc == 2 and "--tls-key" in lines[0]
    rc, lines = run_exit([mm.binary("modelmux-dp"), "--config", "x", "--tls-key", a[1]])
    assert rc == 2 and "--tls-cert" in lines[0]
    rc, lines = run_exit([mm.binary("modelmux-dp"), "--config", "x", "--cp-ca", ca[0]])
    assert rc == 2 and "--cp-ca" in lines[0]
    for b_ in ("modelmux-cp", "modelmux-dp"):
        out = subprocess.run([mm.binary(b_), "--help"], capture_output=True, text=True).stdout
        assert "--tls-cert" in out and "--tls-key" in out
    out = subprocess.run([mm.binary("modelmux-dp"), "--help"], capture_output=True, text=True).stdout
    assert "--cp-ca" in out


def snapshot_for(mock):
    ep = du.endpoint("ep-1", mock.url + "/v1", name="mock")
    doc = du.snapshot([du.api("api-1", "/api", [ep], [])], [du.key("k1", KEY)])
    return du.write_snapshot(doc)


def test_dp_https_listener_reload_keeps_connections(mock):
    pki = tu.Pki()
    ca = pki.ca("ca")
    first = pki.cert(ca, "first")
    second = pki.cert(ca, "second", rsa=True)
    live = (pki.path("live.pem"), pki.path("live.key"))
    shutil.copy(first[0], live[0])
    shutil.copy(first[1], live[1])
    dp = mm.DataPlane(config=snapshot_for(mock), extra_args=["--tls-cert", live[0], "--tls-key", live[1]])
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    hdr = {"Authorization": "Bearer " + KEY}
    r = tu.https_request(dp.port, "POST", "/api/1.0/chat/completions", body=body, headers=hdr, cafile=ca[0])
    assert r.status == 200, r.text
    assert plain_refused(dp.port)
    # a kept-alive connection and a slow request in flight across the reload
    kept = tu.tls_connection(dp.port, cafile=ca[0])
    assert peer_cn(kept) == "first"
    kept.request("POST", "/api/1.0/chat/completions", body=json.dumps(body),
                 headers=dict(hdr, **{"Content-Type": "application/json"}))
    resp = kept.getresponse()
    assert resp.status == 200
    resp.read()
    du.mock_faults(mock, [{"model": "gpt-4o-mini", "delayMs": 1500}])
    slow = {}

    def slow_call():
        b = dict(body, model="gpt-4o-mini")
        slow["r"] = tu.https_request(dp.port, "POST", "/api/1.0/chat/completions", body=b, headers=hdr,
                                     cafile=ca[0])

    t = threading.Thread(target=slow_call)
    t.start()
    mm.wait_until(lambda: any(q.get("model") == "gpt-4o-mini" for q in du.mock_requests(mock)),
                  what="the slow request upstream")
    shutil.copy(second[0], live[0])
    shutil.copy(second[1], live[1])
    dp.signal(signal.SIGHUP)
    mm.wait_until(lambda: "reloaded --tls-cert" in dp.stderr(), what="the reload")
    fresh = tu.tls_connection(dp.port, cafile=ca[0])
    assert peer_cn(fresh) == "second"
    fresh.close()
    t.join(30 * mm.SLOW)
    assert slow["r"].status == 200, slow["r"]
    # the connection opened before the reload still serves
    kept.request("POST", "/api/1.0/chat/completions", body=json.dumps(body),
                 headers=dict(hdr, **{"Content-Type": "application/json"}))
    resp = kept.getresponse()
    assert resp.status == 200
    resp.read()
    kept.close()
    # a broken pair on SIGHUP: logged, the current one kept
    with open(live[1], "w") as f:
        f.write("garbage\n")
    dp.signal(signal.SIGHUP)
    mm.wait_until(lambda: "keeping the current certificate" in dp.stderr(), what="the refused reload")
    conn = tu.tls_connection(dp.port, cafile=ca[0])
    assert peer_cn(conn) == "second"
    conn.close()
    assert dp.stop() == 0


def test_dp_follows_https_cp_with_cp_ca(mock):
    pki = tu.Pki()
    ca = pki.ca("cp-ca")
    cp = tu.HttpsControlPlane(pki.cert(ca, "cp"), ca[0])
    vendors = cp.ok("GET", "/vendors")["items"]
    openai = [v for v in vendors if v["name"] == "OpenAI"][0]
    api = cp.ok("POST", "/apis", {"name": "chat", "basePath": "/chat", "version": "v1",
                                  "vendor": openai["id"]}, expect=201)
    cp.ok("POST", "/apis/%s/endpoints" % api["id"],
          {"name": "mock", "environment": "production", "url": mock.url + "/v1"}, expect=201)
    app = cp.ok("POST", "/applications", {"name": "app"}, expect=201)
    key = cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "production"}, expect=201)["key"]
    dp = mm.DataPlane(cp=cp, extra_args=["--cp-ca", ca[0]])
    r = du.chat(dp, key, path="/chat/v1/chat/completions")
    assert r.status == 200, r.text
    items = cp.ok("GET", "/dataplanes")["items"]
    assert items and items[0]["revision"] == cp.ok("GET", "/revision")["revision"]
    # without --cp-ca the control plane's certificate is not trusted
    lone = mm.DataPlane(cp=cp, wait_ready=False)
    mm.wait_until(lambda: "certificate" in lone.stderr().lower(), what="a certificate error logged")
    assert not lone._ready()
    assert lone.stop() == 0
    # a --cp-ca that is not PEM certificates: one line, exit 1
    rc, lines = run_exit([mm.binary("modelmux-dp"), "--cp", cp.url, "--cp-ca", pki.cert(ca, "x")[1],
                          "--listen", "127.0.0.1:%d" % mm.free_port(),
                          "--admin-listen", "127.0.0.1:%d" % mm.free_port()])
    assert rc == 1 and len(lines) == 1 and "--cp-ca" in lines[0], lines
    assert dp.stop() == 0
    assert cp.stop() == 0
