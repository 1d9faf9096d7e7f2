"""JWT access tokens at the data plane (SPEC 3.1 step 2): a token signed by
a configured issuer's key (openssl CLI) is accepted for its OAuth client's
application and environment; every failed check answers 401 naming the
check, never the token; subscriptions and application-scoped rate limits
apply to JWT callers as to API keys."""
import time

import pytest

import dp_util as du
import mm
from jwt_util import Key, b64url, hs256, sign

ISS = "https://km.example.com/oauth2/token"
P = "/api/1.0" + du.CHAT


@pytest.fixture(scope="module")
def keys():
    return {"rsa": Key("rsa", kid="r1"), "ec": Key("ec", kid="e1"),
            "other": Key("rsa", kid="r1")}


def issuer(keys, clients, audiences=()):
    return {"id": "i1", "issuer": ISS, "audiences": list(audiences),
            "keys": [keys["rsa"].jwk(), keys["ec"].jwk(alg="ES256")], "clients": clients}


def client(cid, app="app-1", kind="production", subs=()):
    return {"clientId": cid, "application": app, "type": kind, "subscriptions": list(subs)}


def start(mock, keys, subscription=False, audiences=(), policies=None, operations=None):
    eps = [du.endpoint("e1", mock.url + "/v1"), du.endpoint("e2", mock.url + "/v1", env="sandbox")]
    pol = policies if policies is not None else [
        du.wrr("p1", [du.target("gpt-4o-mini", "e1")], sandbox=[du.target("gpt-4o", "e2")])]
    doc = du.snapshot([du.api("a1", "/api", eps, pol, subscription=subscription,
                              operations=operations)],
                      [du.key("k1", "plain-api-key-0123456789")])
    doc["issuers"] = [issuer(keys, [client("prod-client", subs=["a1"]),
                                    client("sbx-client", app="app-2", kind="sandbox"),
                                    client("cid-client", app="app-3")], audiences)]
    return mm.DataPlane(config=du.write_snapshot(du.seal(doc)))


def claims(**kw):
    now = int(time.time())
    c = {"iss": ISS, "azp": "prod-client", "exp": now + 300, "iat": now}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def call(dp, token):
    return du.chat(dp, token, model="gpt-4o")


def test_good_tokens_pick_the_client_environment(mock, keys):
    with start(mock, keys) as dp:
        dp.wait_ready()
        for alg, key in [("RS256", "rsa"), ("RS512", "rsa"), ("PS256", "rsa"), ("ES256", "ec")]:
            r = call(dp, sign(keys[key], claims(), alg=alg))
            assert r.status == 200, (alg, r)
            assert r.json()["model"] == "gpt-4o-mini"  # production route
        r = call(dp, sign(keys["rsa"], claims(azp="sbx-client")))
        assert r.status == 200 and r.json()["model"] == "gpt-4o"  # sandbox route
        # no azp: client_id
        r = call(dp, sign(keys["rsa"], claims(azp=None, client_id="cid-client")))
        assert r.status == 200, r
        # the same token twice (the second from the worker's cache)
        t = sign(keys["rsa"], claims())
        assert call(dp, t).status == 200 and call(dp, t).status == 200
        # API keys still work
        assert call(dp, "plain-api-key-0123456789").status == 200


def test_every_rejection_names_the_check(mock, keys):
    now = int(time.time())
    rsa = keys["rsa"]
    good = sign(rsa, claims())
    h, c, s = good.split(".")
    cases = [
        (sign(rsa, claims(exp=now - 120)), "token_expired", "expired"),
        (sign(rsa, claims(nbf=now + 300)), "token_not_yet_valid", "not yet valid"),
        (sign(keys["other"], claims()), "token_signature_invalid", "bad signature"),
        (h + "." + c + "." + b64url(b"x" * 256), "token_signature_invalid", "bad signature"),
        (b64url(b'{"alg":"none"}') + "." + c + ".", "token_alg_unsupported", "none"),
        (hs256(rsa.pem.encode(), claims()), "token_alg_unsupported", "HMAC"),
        (sign(rsa, claims(iss="https://evil")), "token_issuer_unknown", "unknown issuer"),
        (sign(rsa, claims(azp="nobody")), "token_client_unknown", "unknown client"),
        (sign(rsa, claims(azp=None)), "token_client_unknown", "unknown client"),
        (sign(rsa, claims(), kid="gone"), "token_key_unknown", "kid"),
        (sign(keys["ec"], claims(), alg="RS256"), "token_signature_invalid", "bad signature"),
    ]
    with start(mock, keys) as dp:
        dp.wait_ready()
        for token, code, words in cases:
            r = call(dp, token)
            assert r.status == 401, (code, r)
            e = r.json()["error"]
            assert e["code"] == code and words in e["message"], (code, e)
            assert token not in r.text and token.split(".")[1] not in r.text
        assert good.split(".")[2] not in dp.stderr()


def test_audience(mock, keys):
    with start(mock, keys, audiences=["gateway"]) as dp:
        dp.wait_ready()
        assert call(dp, sign(keys["rsa"], claims(aud="gateway"))).status == 200
        assert call(dp, sign(keys["rsa"], claims(aud=["x", "gateway"]))).status == 200
        for aud in ("other", None):
            r = call(dp, sign(keys["rsa"], claims(aud=aud)))
            assert r.status == 401 and r.json()["error"]["code"] == "token_audience_invalid", r


def test_subscription_validation(mock, keys):
    with start(mock, keys, subscription=True) as dp:
        dp.wait_ready()
        assert call(dp, sign(keys["rsa"], claims())).status == 200  # prod-client subscribes a1
        r = call(dp, sign(keys["rsa"], claims(azp="sbx-client")))
        assert r.status == 403 and r.json()["error"]["code"] == "not_subscribed", r


def test_application_rate_limit_for_jwt_callers(mock, keys):
    pol = [du.wrr("p1", [du.target("gpt-4o-mini", "e1")], sandbox=[du.target("gpt-4o", "e2")]),
           du.ratelimit("rl", scope="application", requests=2)]
    with start(mock, keys, policies=pol) as dp:
        dp.wait_ready()
        # each new token of the same application shares its budget
        assert call(dp, sign(keys["rsa"], claims(jti="1"))).status == 200
        assert call(dp, sign(keys["rsa"], claims(jti="2"))).status == 200
        r = call(dp, sign(keys["rsa"], claims(jti="3")))
        assert r.status == 429, r
        # another application has its own
        assert call(dp, sign(keys["rsa"], claims(azp="sbx-client"))).status == 200


def test_operation_scopes(mock, keys):
    """An operation with scopes needs a JWT whose scope claim holds every one
    (403 naming them otherwise), and always refuses an API key; an operation
    without scopes takes both."""
    ops = [{"target": du.CHAT, "verb": "POST", "secured": True,
            "scopes": ["chat:write", "models:gpt"]},
           {"target": "/completions", "verb": "POST", "secured": True}]
    with start(mock, keys, operations=ops) as dp:
        dp.wait_ready()
        before = len(du.mock_requests(mock))
        for scope in ["chat:write models:gpt", "  models:gpt  openid chat:write "]:
            r = call(dp, sign(keys["rsa"], claims(scope=scope)))
            assert r.status == 200, (scope, r)
        for scope in [None, "", "chat:write", "chat:writes models:gpt", "chat:write,models:gpt"]:
            r = call(dp, sign(keys["rsa"], claims(scope=scope)))
            assert r.status == 403, (scope, r)
            err = r.json()["error"]
            assert err["code"] == "insufficient_scope", r
            assert "chat:write models:gpt" in err["message"], r
        r = call(dp, "plain-api-key-0123456789")
        assert r.status == 403 and r.json()["error"]["code"] == "insufficient_scope", r
        assert "not an API key" in r.json()["error"]["message"], r
        # a good token is still checked before its scopes: expired is 401
        r = call(dp, sign(keys["rsa"], claims(scope="chat:write models:gpt",
                                             exp=int(time.time()) - 3600)))
        assert r.status == 401, r
        assert len(du.mock_requests(mock)) == before + 2  # only the two good calls went on
        # the operation without scopes: API key and scope-less token
        path = "/api/1.0/completions"
        assert du.chat(dp, "plain-api-key-0123456789", path=path).status == 200
        assert du.chat(dp, sign(keys["rsa"], claims()), path=path).status == 200
