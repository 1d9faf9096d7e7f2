"""JWT issuers and OAuth clients on the control plane (SPEC 2.2 "Issuers"):
the /api/v1/issuers resource checked with the data plane's key code, the
JWKS fetched from a local JWKS server (at creation, update and on demand,
failures kept as jwksError with the last keys), OAuth clients of
applications, and a clean stop while a fetch hangs. Keys are real, made
with the openssl CLI."""
import signal
import time

import pytest

import mm
from cp_util import RecordingCP, err_of, revision
from jwt_util import JwksServer, Key


@pytest.fixture
def cp():
    c = RecordingCP()
    yield c
    assert c.stop() == 0


@pytest.fixture(scope="module")
def keys():
    return {"rsa": Key("rsa", kid="r1"), "rsa2": Key("rsa", kid="r2"),
            "ec": Key("ec", kid="e1"), "ec384": Key("ec", curve="P-384", kid="e2")}


def issuer_body(**kw):
    body = {"name": "km", "issuer": "https://km.example.com/oauth2/token"}
    body.update(kw)
    return body


def wait_issuer(cp, iid, pred, what):
    box = {}

    def check():
        box["i"] = cp.ok("GET", "/issuers/" + iid)
        return pred(box["i"])
    mm.wait_until(check, timeout=15, interval=0.1, what=what)
    return box["i"]


# --- the resource -------------------------------------------------------------

def test_issuer_inline_keys_crud(cp, keys):
    rev = revision(cp)
    body = issuer_body(keys=[keys["rsa"].pem, keys["ec"].jwk(), keys["ec384"].jwk(alg="ES384")],
                       audiences=["gw", "other"])
    i = cp.ok("POST", "/issuers", body, expect=201)
    assert revision(cp) == rev + 1
    assert i["name"] == "km" and i["issuer"] == body["issuer"]
    assert i["clientClaim"] == "azp" and i["audiences"] == ["gw", "other"]
    assert i["keys"] == body["keys"] and i["jwksUri"] is None
    assert i["jwksError"] is None and i["jwksKeyIds"] == [] and i["jwksFetchedAt"] is None
    assert cp.ok("GET", "/issuers/" + i["id"]) == i
    assert cp.ok("GET", "/issuers")["items"] == [i]
    # PATCH and PUT
    p = cp.ok("PATCH", "/issuers/" + i["id"], {"clientClaim": "client_id", "audiences": []})
    assert p["clientClaim"] == "client_id" and p["audiences"] == [] and p["keys"] == body["keys"]
    p = cp.ok("PUT", "/issuers/" + i["id"], issuer_body(name="km2", keys=[keys["rsa"].jwk()]))
    assert p["name"] == "km2" and p["clientClaim"] == "azp" and len(p["keys"]) == 1
    cp.ok("DELETE", "/issuers/" + i["id"], expect=204)
    assert cp.api("GET", "/issuers/" + i["id"]).status == 404
    assert cp.api("DELETE", "/issuers/" + i["id"]).status == 404


def test_issuer_unique_name_and_iss(cp, keys):
    cp.ok("POST", "/issuers", issuer_body(keys=[keys["rsa"].pem]), expect=201)
    r = cp.api("POST", "/issuers", issuer_body(issuer="https://other", keys=[keys["rsa"].pem]))
    assert r.status == 409 and err_of(r)["code"] == "name_taken"
    # a data plane refuses two issuers with one iss: so does the control plane
    r = cp.api("POST", "/issuers", issuer_body(name="km-b", keys=[keys["rsa"].pem]))
    assert r.status == 409 and "issuer" in err_of(r)["message"]


@pytest.mark.parametrize("patch,words", [
    ({"name": ""}, "name"),
    ({"issuer": None}, "issuer"),
    ({"issuer": "x" * 513}, "issuer"),
    ({"keys": []}, "keys or jwksUri"),
    ({"keys": "not a list"}, "keys"),
    ({"jwksUri": "ftp://km/jwks"}, "http"),
    ({"jwksUri": "https://user:pw@km/jwks"}, "user"),
    ({"audiences": "gw"}, "audiences"),
    ({"audiences": ["a"] * 17}, "audiences"),
    ({"clientClaim": "x" * 65}, "clientClaim"),
])
def test_issuer_bad_fields(cp, keys, patch, words):
    body = issuer_body(keys=[keys["rsa"].pem])
    body.update(patch)
    r = cp.api("POST", "/issuers", body)
    assert r.status == 400, (patch, r)
    e = err_of(r)
    assert words in e["message"], e
    assert cp.ok("GET", "/issuers")["items"] == []


def test_issuer_bad_keys_refused_naming_the_key(cp, keys):
    rsa = keys["rsa"].jwk()
    bad = [
        (dict(rsa, d="AAAA"), "keys[0]"),                          # a private JWK
        ({"kty": "oct", "k": "c2VjcmV0"}, "keys[0]"),             # an HMAC secret
        (Key("rsa", bits=1024).jwk(), "keys[0]"),                 # too small
        (dict(rsa, alg="ES256"), "keys[0]"),                      # alg of another type
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "keys[0]"),
        (open(keys["rsa"].priv).read(), "keys[0]"),               # a PEM private key
    ]
    for key, field in bad:
        r = cp.api("POST", "/issuers", issuer_body(keys=[key]))
        assert r.status == 400, (key, r)
        e = err_of(r)
        assert field in e["message"], e
        assert "PRIVATE" not in r.text and "c2VjcmV0" not in r.text
    r = cp.api("POST", "/issuers", issuer_body(keys=[keys["rsa"].pem] * 33))
    assert r.status == 400 and "keys" in err_of(r)["message"]


# --- JWKS fetching ---------------------------------------------------------------

def test_jwks_fetched_at_creation_refresh_and_update(cp, keys):
    with JwksServer({"keys": [keys["rsa"].jwk(), keys["ec"].jwk()]}) as srv:
        t0 = time.time()
        i = cp.ok("POST", "/issuers", issuer_body(jwksUri=srv.url), expect=201)
        assert time.time() - t0 < 2  # the create does not wait for the network
        rev = revision(cp)
        i = wait_issuer(cp, i["id"], lambda x: x["jwksKeyIds"] == ["r1", "e1"], "first fetch")
        assert i["jwksError"] is None and i["jwksFetchedAt"]
        mm.wait_until(lambda: revision(cp) == rev + 1, what="new keys bump the revision")
        # rotation: the server now has r2 only; on demand refresh
        srv.set({"keys": [keys["rsa2"].jwk()]})
        r = cp.api("POST", "/issuers/%s/refresh" % i["id"])
        assert r.status == 202 and r.json()["id"] == i["id"]
        i = wait_issuer(cp, i["id"], lambda x: x["jwksKeyIds"] == ["r2"], "rotated keys")
        # the same document again: no new revision
        rev = revision(cp)
        hits = srv.hits
        cp.ok("POST", "/issuers/%s/refresh" % i["id"], expect=202)
        mm.wait_until(lambda: srv.hits > hits, what="another fetch")
        time.sleep(0.5)
        assert revision(cp) == rev
        # an update fetches again
        srv.set({"keys": [keys["ec384"].jwk()]})
        cp.ok("PATCH", "/issuers/" + i["id"], {"audiences": ["gw"]})
        wait_issuer(cp, i["id"], lambda x: x["jwksKeyIds"] == ["e2"], "fetch after update")


@pytest.mark.parametrize("serve,words", [
    (dict(status=500, doc={"keys": []}), "HTTP status 500"),
    (dict(raw=b"not json"), "invalid"),
    (dict(raw=b'{"keys": [' + b'{"kty":"RSA"},' * 30000 + b'{}]}'), "over"),
    (dict(doc={"keys": [{"kty": "RSA", "kid": "x", "n": "AQAB", "e": "AQAB"}]}), "keys[0]"),
    (dict(doc={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), "no usable signing key"),
])
def test_failed_fetch_keeps_the_last_keys(cp, keys, serve, words):
    with JwksServer({"keys": [keys["rsa"].jwk()]}) as srv:
        i = cp.ok("POST", "/issuers", issuer_body(jwksUri=srv.url), expect=201)
        i = wait_issuer(cp, i["id"], lambda x: x["jwksKeyIds"] == ["r1"], "first fetch")
        fetched_at, rev = i["jwksFetchedAt"], revision(cp)
        srv.set(**serve)
        cp.ok("POST", "/issuers/%s/refresh" % i["id"], expect=202)
        i = wait_issuer(cp, i["id"], lambda x: x["jwksError"], "jwksError")
        assert words in i["jwksError"], i["jwksError"]
        assert i["jwksKeyIds"] == ["r1"] and i["jwksFetchedAt"] == fetched_at
        assert revision(cp) == rev
        # fixed again: the error goes away
        srv.set({"keys": [keys["rsa2"].jwk()]})
        cp.ok("POST", "/issuers/%s/refresh" % i["id"], expect=202)
        i = wait_issuer(cp, i["id"], lambda x: x["jwksKeyIds"] == ["r2"], "recovered")
        assert i["jwksError"] is None


def test_unreachable_jwks_and_refresh_without_uri(cp, keys):
    port = mm.free_port()
    i = cp.ok("POST", "/issuers",
              issuer_body(jwksUri="http://127.0.0.1:%d/jwks" % port), expect=201)
    i = wait_issuer(cp, i["id"], lambda x: x["jwksError"], "jwksError")
    assert "failed" in i["jwksError"] and i["jwksKeyIds"] == []
    j = cp.ok("POST", "/issuers", issuer_body(name="inline", issuer="https://i2",
                                              keys=[keys["rsa"].pem]), expect=201)
    r = cp.api("POST", "/issuers/%s/refresh" % j["id"])
    assert r.status == 409 and "jwksUri" in err_of(r)["message"]
    assert cp.api("POST", "/issuers/nope/refresh").status == 404


def test_sigterm_during_a_hanging_fetch(keys):
    with JwksServer({"keys": [keys["rsa"].jwk()]}) as srv:
        srv.delay = 8
        cp = mm.ControlPlane()
        cp.ok("POST", "/issuers", issuer_body(jwksUri=srv.url), expect=201)
        mm.wait_until(lambda: srv.hits > 0, what="fetch started")
        t0 = time.time()
        assert cp.stop(signal.SIGTERM) == 0
        assert time.time() - t0 < 4


# --- OAuth clients --------------------------------------------------------------------

def test_oauth_clients(cp, keys):
    iss = cp.ok("POST", "/issuers", issuer_body(keys=[keys["rsa"].pem]), expect=201)
    iss2 = cp.ok("POST", "/issuers", issuer_body(name="km2", issuer="https://km2",
                                                 keys=[keys["ec"].jwk()]), expect=201)
    a = cp.ok("POST", "/applications", {"name": "app-a"}, expect=201)
    b = cp.ok("POST", "/applications", {"name": "app-b"}, expect=201)
    rev = revision(cp)
    c = cp.ok("POST", "/applications/%s/oauth-clients" % a["id"],
              {"issuer": iss["id"], "clientId": "client-1", "type": "production"}, expect=201)
    assert revision(cp) == rev + 1
    assert c["issuer"] == iss["id"] and c["issuerName"] == "km"
    assert c["clientId"] == "client-1" and c["type"] == "production" and c["createdAt"]
    # (issuer, clientId) unique across applications
    r = cp.api("POST", "/applications/%s/oauth-clients" % b["id"],
               {"issuer": iss["id"], "clientId": "client-1", "type": "sandbox"})
    assert r.status == 409
    # the same client id at another issuer is another client
    cp.ok("POST", "/applications/%s/oauth-clients" % b["id"],
          {"issuer": iss2["id"], "clientId": "client-1", "type": "sandbox"}, expect=201)
    for body, field in [({"issuer": "nope", "clientId": "x", "type": "production"}, "issuer"),
                        ({"issuer": iss["id"], "clientId": "", "type": "production"}, "clientId"),
                        ({"issuer": iss["id"], "clientId": "x" * 257, "type": "production"},
                         "clientId"),
                        ({"issuer": iss["id"], "clientId": "x", "type": "prod"}, "type"),
                        ({"issuer": iss["id"], "type": "production"}, "clientId")]:
        r = cp.api("POST", "/applications/%s/oauth-clients" % a["id"], body)
        assert r.status == 400 and field in err_of(r)["message"], (body, r)
    assert cp.api("POST", "/applications/nope/oauth-clients",
                  {"issuer": iss["id"], "clientId": "y", "type": "production"}).status == 404
    items = cp.ok("GET", "/applications/%s/oauth-clients" % a["id"])["items"]
    assert items == [c]
    # an issuer in use cannot be deleted
    r = cp.api("DELETE", "/issuers/" + iss["id"])
    assert r.status == 409 and err_of(r)["code"] == "in_use"
    cp.ok("DELETE", "/applications/%s/oauth-clients/client-1" % a["id"], expect=204)
    assert cp.api("DELETE", "/applications/%s/oauth-clients/client-1" % a["id"]).status == 404
    cp.ok("DELETE", "/issuers/" + iss["id"], expect=204)
    # deleting an application removes its clients, freeing the issuer
    cp.ok("DELETE", "/applications/" + b["id"], expect=204)
    cp.ok("DELETE", "/issuers/" + iss2["id"], expect=204)
