"""Issuers in the snapshot (SPEC 2.3): the control plane publishes each
issuer with its current signing keys (inline, then the last good JWKS,
without the keys a data plane skips) and its OAuth clients with their
application, type and subscriptions; the document matches
schema/config.schema.json; a data plane following the control plane
applies it; a data plane refuses a snapshot whose issuers it cannot build,
naming the issuer."""
import json
import os
import subprocess
import tempfile
import time

import jsonschema
import pytest

import mm
from cp_util import (RecordingCP, dp_config, make_api, make_endpoint, revision,
                     snapshot as cp_snapshot)
from dp_util import seal, snapshot, write_snapshot
from jwt_util import JwksServer, Key, sign

SCHEMA = json.load(open(os.path.join(mm.SOURCE_DIR, "schema", "config.schema.json")))


@pytest.fixture(scope="module")
def keys():
    return {"rsa": Key("rsa", kid="r1"), "ec": Key("ec", kid="e1"), "rsa2": Key("rsa", kid="r2")}


def setup_cp(cp, keys, srv):
    api = make_api(cp)
    iss = cp.ok("POST", "/issuers", {"name": "km", "issuer": "https://km/token",
                                     "jwksUri": srv.url, "keys": [keys["rsa"].pem],
                                     "audiences": ["gw"]}, expect=201)
    app = cp.ok("POST", "/applications", {"name": "app"}, expect=201)
    cp.ok("POST", "/applications/%s/subscriptions" % app["id"], {"apiId": api["id"]}, expect=201)
    cp.ok("POST", "/applications/%s/oauth-clients" % app["id"],
          {"issuer": iss["id"], "clientId": "c-1", "type": "sandbox"}, expect=201)
    return api, iss, app


def test_snapshot_has_issuers_with_fetched_keys_and_clients(keys):
    doc = {"keys": [keys["ec"].jwk(), {"kty": "oct", "k": "c2VjcmV0LXNlY3JldA"},
                    dict(keys["rsa2"].jwk(), use="enc")]}
    with JwksServer(doc) as srv:
        cp = RecordingCP()
        try:
            api, iss, app = setup_cp(cp, keys, srv)
            mm.wait_until(lambda: cp.ok("GET", "/issuers/" + iss["id"])["jwksKeyIds"] == ["e1"],
                          what="JWKS fetched")
            snap = cp_snapshot(cp)
            jsonschema.validate(snap, SCHEMA)
            assert snap["revision"] == revision(cp)
            [i] = snap["issuers"]
            assert i["id"] == iss["id"] and i["issuer"] == "https://km/token"
            assert "clientClaim" not in i  # the default: azp, then client_id
            assert i["audiences"] == ["gw"]
            # inline keys first, then the JWKS's usable keys only
            assert i["keys"] == [keys["rsa"].pem, keys["ec"].jwk()]
            assert "c2VjcmV0LXNlY3JldA" not in json.dumps(snap)
            assert i["clients"] == [{"clientId": "c-1", "application": app["id"],
                                     "applicationName": "app", "type": "sandbox",
                                     "subscriptions": [api["id"]]}]
            # a data plane following the control plane applies it
            with mm.DataPlane(cp=cp) as dp:
                dp.wait_ready()
                mm.wait_until(lambda: any(d["revision"] == snap["revision"] for d in
                                          cp.ok("GET", "/dataplanes")["items"]),
                              what="data plane applied the revision")
                # key rotation reaches the snapshot as a new revision
                srv.set({"keys": [keys["rsa2"].jwk()]})
                cp.ok("POST", "/issuers/%s/refresh" % iss["id"], expect=202)
                mm.wait_until(lambda: cp_snapshot(cp)["issuers"][0]["keys"][-1] ==
                              keys["rsa2"].jwk(), what="rotated keys in the snapshot")
                rev = revision(cp)
                mm.wait_until(lambda: any(d["revision"] == rev for d in
                                          cp.ok("GET", "/dataplanes")["items"]),
                              what="data plane applied the rotation")
                assert dp.poll() is None
        finally:
            assert cp.stop() == 0


def test_snapshot_without_issuers_has_no_member(cp):
    snap = cp_snapshot(cp)
    assert "issuers" not in snap
    jsonschema.validate(snap, SCHEMA)


def issuer_entry(keys, iss="https://km", kid_key="rsa", clients=None):
    return {"id": "i1", "issuer": iss, "audiences": [], "keys": [keys[kid_key].jwk()],
            "clients": clients if clients is not None else
            [{"clientId": "c", "application": "app-1", "type": "production",
              "subscriptions": []}]}


def run_dp(path):
    """modelmux-dp --config path until it fails to start (at most 30 s)."""
    with tempfile.TemporaryDirectory() as tmp:
        return subprocess.run([mm.binary("modelmux-dp"), "--config", path, "--listen",
                               "127.0.0.1:%d" % mm.free_port(), "--admin-listen",
                               "127.0.0.1:%d" % mm.free_port(), "--cache",
                               os.path.join(tmp, "c.json")],
                              capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("mutate,words", [
    (lambda i, k: i["keys"].append(dict(k["rsa"].jwk(), d="AAAA")), "issuers[0]"),
    (lambda i, k: i.update(issuer=""), "issuers[0].issuer"),
    (lambda i, k: i["clients"].append(dict(i["clients"][0])), "issuers[0]"),
    (lambda i, k: i["clients"][0].update(type="prod"), "issuers[0].clients[0].type"),
    (lambda i, k: i.update(keys=[k["rsa"].pem] * 33), "issuers[0]"),
])
def test_standalone_dp_refuses_bad_issuers(keys, mutate, words):
    good = issuer_entry(keys)
    doc = snapshot([], [])
    doc["issuers"] = [good]
    path = write_snapshot(seal(doc))
    try:
        with mm.DataPlane(config=path) as dp:  # the good one is applied
            dp.wait_ready()
        bad = json.loads(json.dumps(good))
        mutate(bad, keys)
        doc["issuers"] = [bad]
        write_snapshot(seal(doc), path)
        run = run_dp(path)
        assert run.returncode == 1, run.stderr
        assert words in run.stderr, run.stderr
    finally:
        os.unlink(path)


def test_two_issuers_with_one_iss_refused(keys):
    doc = snapshot([], [])
    a, b = issuer_entry(keys), issuer_entry(keys, kid_key="ec", clients=[])
    b["id"] = "i2"
    doc["issuers"] = [a, b]
    path = write_snapshot(seal(doc))
    try:
        run = run_dp(path)
        assert run.returncode == 1, run.stderr
        assert "issuers[1]" in run.stderr, run.stderr
    finally:
        os.unlink(path)


def applied(cp, rev):
    return any(d["revision"] >= rev for d in cp.ok("GET", "/dataplanes")["items"])


def test_key_rotation_through_jwks_at_the_gateway(mock, keys):
    """A key manager rotates its signing key: the JWKS now holds only the
    new key. After the control plane's refresh reaches the data plane, a
    token signed with the old key (even one the worker had cached as good)
    is refused naming the check, and tokens of the new key are accepted."""
    def call(dp, token):
        return mm.request(dp.port, "POST", "/rot/v1/chat/completions",
                          body={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                          headers={"Authorization": "Bearer " + token})

    def claims():
        now = int(time.time())
        return {"iss": "https://km/rot", "azp": "c-rot", "exp": now + 600, "iat": now}

    with JwksServer({"keys": [keys["ec"].jwk()]}) as srv:
        cp = RecordingCP()
        try:
            api = make_api(cp, base="/rot")
            make_endpoint(cp, api["id"], "p", url=mock.url + "/v1")
            iss = cp.ok("POST", "/issuers", {"name": "km-rot", "issuer": "https://km/rot",
                                             "jwksUri": srv.url}, expect=201)
            app = cp.ok("POST", "/applications", {"name": "rot"}, expect=201)
            cp.ok("POST", "/applications/%s/oauth-clients" % app["id"],
                  {"issuer": iss["id"], "clientId": "c-rot", "type": "production"}, expect=201)
            mm.wait_until(lambda: cp.ok("GET", "/issuers/" + iss["id"])["jwksKeyIds"] == ["e1"],
                          what="JWKS fetched")
            with mm.DataPlane(cp=cp) as dp:
                dp.wait_ready()
                rev = revision(cp)
                mm.wait_until(lambda: applied(cp, rev), what="data plane at the revision")
                old = sign(keys["ec"], claims(), alg="ES256", kid="e1")
                assert call(dp, old).status == 200
                assert call(dp, old).status == 200  # now from the worker's cache
                new = sign(keys["rsa2"], claims(), kid="r2")
                r = call(dp, new)
                assert r.status == 401 and r.json()["error"]["code"] == "token_key_unknown", r

                srv.set({"keys": [keys["rsa2"].jwk()]})
                cp.ok("POST", "/issuers/%s/refresh" % iss["id"], expect=202)
                mm.wait_until(lambda: revision(cp) > rev, what="a revision with the new key")
                rev = revision(cp)
                mm.wait_until(lambda: applied(cp, rev), what="data plane applied the rotation")
                r = call(dp, old)
                assert r.status == 401 and r.json()["error"]["code"] == "token_key_unknown", r
                assert "kid" in r.json()["error"]["message"] and old not in r.body.decode()
                assert call(dp, new).status == 200
                assert call(dp, sign(keys["rsa2"], claims(), kid="r2")).status == 200
                assert dp.poll() is None
        finally:
            assert cp.stop() == 0
