"""Upstream TLS per endpoint (SPEC 2.2 Endpoints "tls"; issue 15 item 2),
through the real control plane and a data plane following it: the mock
upstream behind a TLS front (tls_proxy.py) with certificates made here by
the openssl CLI. tls.caCert is trusted, an unverified certificate or a
host-name mismatch answers 502 saying so (response and access log), a front
that requires client certificates takes tls.clientCert + tls.clientKey (a
secret), and the key never shows in a response, a log or an export."""
import ctypes
import os
import shutil
import subprocess

import conftest
import dp_util as du
import mm
import tls_util as tu

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def revision(cp):
    return cp.ok("GET", "/revision")["revision"]


def applied(dp):
    return du.metric_value(dp.metrics(), "modelmux_config_revision")


def setup_api(cp, url, tls=None):
    """An API with one endpoint at url (tls as given): (api id, endpoint id, key)."""
    openai = [v for v in cp.ok("GET", "/vendors")["items"] if v["name"] == "OpenAI"][0]
    api = cp.ok("POST", "/apis", {"name": "chat", "basePath": "/chat", "version": "v1",
                                  "vendor": openai["id"]}, expect=201)
    ep = {"name": "up", "environment": "production", "url": url}
    if tls is not None:
        ep["tls"] = tls
    ep = cp.ok("POST", "/apis/%s/endpoints" % api["id"], ep, expect=201)
    app = cp.ok("POST", "/applications", {"name": "app"}, expect=201)
    key = cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "production"}, expect=201)["key"]
    return api["id"], ep["id"], key


def put_endpoint(cp, api_id, ep_id, url, tls):
    body = {"name": "up", "environment": "production", "url": url}
    if tls is not None:
        body["tls"] = tls
    return cp.api("PUT", "/apis/%s/endpoints/%s" % (api_id, ep_id), body)


def call(cp, dp, key):
    mm.wait_until(lambda: applied(dp) == revision(cp), what="revision applied")
    return du.chat(dp, key, path="/chat/v1/chat/completions")


def test_ca_trust_unverified_and_name_mismatch(mock):
    pki = tu.Pki()
    ca = pki.ca("upstream-ca")
    front = tu.TlsProxy(mock.port, pki.cert(ca, "upstream"))
    other = tu.TlsProxy(mock.port, pki.cert(ca, "elsewhere", hosts=("elsewhere.example",)))
    cp = mm.ControlPlane()
    api_id, ep_id, key = setup_api(cp, front.url() + "/v1")
    dp = mm.DataPlane(cp=cp)
    # not trusted by the system's roots: 502 saying the certificate was not verified
    r = call(cp, dp, key)
    assert r.status == 502, r.text
    err = r.json()["error"]
    assert err["code"] == "upstream_tls_error"
    assert "could not be verified" in err["message"], err
    logged = du.wait_logged(dp, lambda a: a.get("status") == 502)
    assert "could not be verified" in logged["tlsError"]
    # the endpoint's CA: trusted in addition
    ca_pem = tu.read(ca[0])
    r = put_endpoint(cp, api_id, ep_id, front.url() + "/v1", {"caCert": ca_pem})
    assert r.status == 200, r.text
    assert r.json()["tls"] == {"caCert": ca_pem}
    r = call(cp, dp, key)
    assert r.status == 200, r.text
    assert du.mock_requests(mock)[-1]["model"] == "gpt-4o"
    # a certificate for another name: 502 naming the mismatch
    assert put_endpoint(cp, api_id, ep_id, other.url() + "/v1", {"caCert": ca_pem}).status == 200
    r = call(cp, dp, key)
    assert r.status == 502, r.text
    assert "does not match its host name" in r.json()["error"]["message"], r.text
    # verification is never off: another CA does not vouch for the front
    other_ca = pki.ca("other-ca")
    assert put_endpoint(cp, api_id, ep_id, front.url() + "/v1", {"caCert": tu.read(other_ca[0])}).status == 200
    r = call(cp, dp, key)
    assert r.status == 502 and "could not be verified" in r.json()["error"]["message"], r.text
    # a routing policy with retries: a TLS failure moves on, it is not tried again
    # on the same target (a certificate that did not verify will not verify again)
    assert cp.api("POST", "/apis/%s/policies" % api_id,
                  {"type": "modelFailover", "retries": 1,
                   "production": {"target": {"model": "gpt-4o", "endpoint": ep_id},
                                  "fallbacks": []}}).status == 201
    r = call(cp, dp, key)
    assert r.status == 502 and r.json()["error"]["code"] == "upstream_tls_error", r.text
    logged = du.wait_logged(dp, lambda a: a.get("status") == 502 and a.get("tries"))
    assert [t["outcome"] for t in logged["tries"]] == ["failed"], logged
    # tls: null removes it
    r = put_endpoint(cp, api_id, ep_id, front.url() + "/v1", None)
    assert r.status == 200 and "tls" not in r.json()
    conftest.assert_clean_exit(dp)
    conftest.assert_clean_exit(cp)
    conftest.assert_clean_exit(front)
    conftest.assert_clean_exit(other)


def test_mutual_tls_and_the_key_never_shows(mock):
    pki = tu.Pki()
    ca = pki.ca("upstream-ca")
    client_ca = pki.ca("client-ca")
    client = pki.cert(client_ca, "gateway-client", hosts=(), client=True)
    front = tu.TlsProxy(mock.port, pki.cert(ca, "upstream"), client_ca=client_ca[0], tls12=True)
    front13 = tu.TlsProxy(mock.port, pki.cert(ca, "upstream13"), client_ca=client_ca[0])
    key_pem = tu.read(client[1])
    key_body = key_pem.strip().splitlines()[1]  # a line of the key's base64
    cp = mm.ControlPlane()
    ca_pem, cert_pem = tu.read(ca[0]), tu.read(client[0])
    api_id, ep_id, key = setup_api(cp, front.url() + "/v1", {"caCert": ca_pem})
    dp = mm.DataPlane(cp=cp)
    # no client certificate: the front refuses the handshake
    r = call(cp, dp, key)
    assert r.status == 502, r.text
    assert r.json()["error"]["code"] == "upstream_tls_error", r.text
    assert "handshake" in r.json()["error"]["message"], r.text
    # the key's secret named before it exists: 502 missing secret
    tls = {"caCert": ca_pem, "clientCert": cert_pem, "clientKey": {"secret": "gw-client", "secretKey": "key"}}
    r = put_endpoint(cp, api_id, ep_id, front.url() + "/v1", tls)
    assert r.status == 200, r.text
    assert r.json()["tls"]["clientKey"] == {"secret": "gw-client", "secretKey": "key"}
    r = call(cp, dp, key)
    assert r.status == 502 and r.json()["error"]["code"] == "missing_secret", r.text
    # the key arrives: mutual TLS works
    assert cp.api("PUT", "/secrets/gw-client", {"key": key_pem}).status == 201
    r = call(cp, dp, key)
    assert r.status == 200, r.text
    assert "handshake ok client=gateway-client" in front.stderr()
    # the same over TLS 1.3
    assert put_endpoint(cp, api_id, ep_id, front13.url() + "/v1", tls).status == 200
    r = call(cp, dp, key)
    assert r.status == 200, r.text
    assert "handshake ok client=gateway-client" in front13.stderr()
    # a pooled connection or TLS session made with the client certificate
    # never serves the endpoint once it has none
    for url in (front.url(), front13.url()):
        assert put_endpoint(cp, api_id, ep_id, url + "/v1", {"caCert": ca_pem}).status == 200
        r = call(cp, dp, key)
        assert r.status == 502, r.text
    assert put_endpoint(cp, api_id, ep_id, front.url() + "/v1", tls).status == 200
    # a key that is not PEM, for a secret an endpoint uses as tls.clientKey: 400
    r = cp.api("PUT", "/secrets/gw-client", {"key": "sk-not-a-key"})
    assert r.status == 400 and "tls.clientKey" in r.json()["error"]["message"], r.text
    # a PEM key cannot become a header value
    r = cp.api("PUT", "/apis/%s/endpoints/%s" % (api_id, ep_id),
               {"name": "up", "environment": "production", "url": front.url() + "/v1", "tls": tls,
                "security": {"secret": "gw-client", "secretKey": "key"}})
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_field", r.text
    # in use: the secret cannot be deleted
    assert cp.api("DELETE", "/secrets/gw-client").status == 409
    # the key is never in a response, a log or an export
    outs = [cp.api("GET", "/apis/%s/endpoints" % api_id).text, cp.api("GET", "/secrets").text,
            cp.api("GET", "/secrets/gw-client").text, cp.api("GET", "/apis/%s/apk-conf" % api_id).text]
    # apk-conf shows the TLS settings (x-modelmux.tls: certificates and the
    # key's secret reference) and imports back to the same endpoint
    apk = outs[-1]
    assert "tls:" in apk and "clientCert:" in apk and 'secretName: "gw-client"' in apk, apk
    before = cp.ok("GET", "/apis/%s/endpoints" % api_id)["items"][0]["tls"]
    assert cp.api("DELETE", "/apis/%s" % api_id).status == 204
    r = cp.api("POST", "/apis/import", apk, headers={"Content-Type": "application/yaml"})
    assert r.status == 201, r.text
    again = cp.ok("GET", "/apis/%s/endpoints" % r.json()["id"])["items"][0]
    assert again["tls"] == before
    # the CRs too: the CA as APK's Backend spec.tls.certificateInline, the
    # client certificate and its key's secret in spec.x-modelmux.tls
    api_id = r.json()["id"]
    crs = cp.api("GET", "/apis/%s/crs" % api_id).text
    outs.append(crs)
    assert "certificateInline:" in crs and "clientCert:" in crs and 'secretName: "gw-client"' in crs, crs
    assert cp.api("DELETE", "/apis/%s" % api_id).status == 204
    r = cp.api("POST", "/apis/import", crs, headers={"Content-Type": "application/yaml"})
    assert r.status == 201, r.text
    again = cp.ok("GET", "/apis/%s/endpoints" % r.json()["id"])["items"][0]
    assert again["tls"] == before
    # APK's other CA sources are refused, not ignored
    r = cp.api("POST", "/apis/import", crs.replace("certificateInline:", "secretRef:"),
               headers={"Content-Type": "application/yaml"})
    assert r.status == 400 and "secretRef" in r.text, r.text
    key = cp.ok("POST", "/applications/%s/keys" % cp.ok("GET", "/applications")["items"][0]["id"],
                {"type": "production"}, expect=201)["key"]
    r = call(cp, dp, key)
    assert r.status == 200, r.text
    conftest.assert_clean_exit(dp)
    conftest.assert_clean_exit(cp)
    conftest.assert_clean_exit(front)
    conftest.assert_clean_exit(front13)
    outs += [dp.stderr(), cp.stderr(), front.stderr()]
    for text in outs:
        assert key_body not in text and "PRIVATE KEY" not in text, text[:2000]


def test_tls_fields_are_checked(cp):
    pki = tu.Pki()
    ca = pki.ca("ca")
    client = pki.cert(ca, "c", hosts=(), client=True)
    ca_pem, cert_pem, key_pem = tu.read(ca[0]), tu.read(client[0]), tu.read(client[1])
    api_id, ep_id, _ = setup_api(cp, "https://localhost:1/v1")
    bad = [
        ({"caCert": "not pem"}, "tls.caCert"),
        ({"caCert": key_pem}, "tls.caCert"),
        ({"caCert": ca_pem + key_pem}, "tls.caCert"),
        ({"clientCert": cert_pem}, "tls.clientKey"),
        ({"caCert": ca_pem, "clientKey": {"secret": "s", "secretKey": "k"}}, "tls.clientCert"),
        ({"clientCert": cert_pem, "clientKey": {"secret": "s"}}, "secretKey"),
        ({"caCert": ca_pem, "ca": ca_pem}, "tls"),
        ({}, "tls"),
        ("pem", "tls"),
        ({"caCert": "x" * (64 * 1024 + 1)}, "tls"),
    ]
    before = revision(cp)
    for tls, field in bad:
        r = put_endpoint(cp, api_id, ep_id, "https://localhost:1/v1", tls)
        assert r.status == 400, (tls if len(str(tls)) < 200 else "...", r.text)
        assert field in r.json()["error"]["message"], r.text
    assert revision(cp) == before
    # a secret key that is not a PEM private key cannot be a tls.clientKey
    assert cp.api("PUT", "/secrets/s", {"k": "sk-plain"}).status == 201
    r = put_endpoint(cp, api_id, ep_id, "https://localhost:1/v1",
                     {"clientCert": cert_pem, "clientKey": {"secret": "s", "secretKey": "k"}})
    assert r.status == 400 and "tls.clientKey" in r.text, r.text
    # a secret value with line breaks that is not a key is still refused
    r = cp.api("PUT", "/secrets/t", {"k": "sk-\nplain"})
    assert r.status == 400, r.text
    assert cp.api("PUT", "/secrets/t", {"k": key_pem}).status == 201
    r = put_endpoint(cp, api_id, ep_id, "https://localhost:1/v1",
                     {"clientCert": cert_pem, "clientKey": {"secret": "t", "secretKey": "k"}})
    assert r.status == 200, r.text
    assert "PRIVATE KEY" not in r.text and "PRIVATE KEY" not in cp.api("GET", "/secrets/t").text


def test_libcurl_keeps_the_system_ca_path_beside_a_ca_blob(mock):
    """What "trusted in addition to the system store" rests on (see
    dataplane/upstream_tls.h), checked on this machine's libcurl through
    ctypes with the data plane's options: the default CA path is set, and a
    CURLOPT_CAINFO_BLOB (which replaces the CA bundle file) leaves the CA
    path in use. A hashed directory holding the upstream's CA stands in for
    /etc/ssl/certs; the blob holds an unrelated CA."""
    lib = ctypes.CDLL("libcurl.so.4")

    class Blob(ctypes.Structure):
        _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t), ("flags", ctypes.c_uint)]

    CURLOPT_URL, CURLOPT_CAPATH, CURLOPT_CAINFO_BLOB, CURLINFO_CAPATH = 10002, 10097, 40309, 0x100000 + 62
    lib.curl_easy_init.restype = ctypes.c_void_p
    lib.curl_easy_setopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.curl_easy_perform.argtypes = [ctypes.c_void_p]
    lib.curl_easy_getinfo.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.curl_easy_cleanup.argtypes = [ctypes.c_void_p]
    pki = tu.Pki()
    ca = pki.ca("upstream-ca")
    unrelated = pki.ca("unrelated-ca")
    front = tu.TlsProxy(mock.port, pki.cert(ca, "upstream"))
    capath = pki.path("capath")
    os.mkdir(capath)
    shutil.copy(ca[0], capath)
    subprocess.run(["openssl", "rehash", capath], check=True, capture_output=True)

    def perform(path):
        e = lib.curl_easy_init()
        default = ctypes.c_char_p()
        lib.curl_easy_getinfo(e, CURLINFO_CAPATH, ctypes.byref(default))
        lib.curl_easy_setopt(e, CURLOPT_URL, (front.url() + "/__mock/stats").encode())
        pem = tu.read(unrelated[0]).encode()
        buf = ctypes.create_string_buffer(pem)
        blob = Blob(ctypes.cast(buf, ctypes.c_void_p), len(pem), 1)
        lib.curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, ctypes.byref(blob))
        lib.curl_easy_setopt(e, CURLOPT_CAPATH, path.encode())
        rc = lib.curl_easy_perform(e)  # the body goes to stdout (captured by pytest)
        lib.curl_easy_cleanup(e)
        return default.value, rc

    default, rc = perform(capath)
    assert default, "this libcurl has no default CA path: a tls.caCert would replace the system's roots"
    assert rc == 0, "CA path not used beside a CA blob (curl error %d)" % rc
    _, rc = perform(pki.path("empty"))
    assert rc == 60, rc  # CURLE_PEER_FAILED_VERIFICATION: the blob alone does not vouch for it
    conftest.assert_clean_exit(front)
