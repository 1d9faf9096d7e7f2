"""modelmux-cp admin REST API (SPEC 2.1, 2.2): every route, its status
codes, and hostile input, against the real binary and a real SQLite file."""
import json
import os

import pytest

import mm
from cp_util import RecordingCP, err_of, make_api, make_endpoint, revision, snapshot

SECRET_VALUE = "sk-TOPSECRET-0123456789-never-in-a-response"


@pytest.fixture
def cp():
    return RecordingCP()


# --- auth, routing, body rules (SPEC 2.1) -----------------------------------

def test_auth_required_on_every_route(cp):
    import subprocess
    routes = subprocess.run([mm.binary("modelmux-cp"), "--print-routes"], capture_output=True,
                            text=True, check=True).stdout.split("\n")
    routes = [r.split(" ", 1) for r in routes if r]
    assert len(routes) > 40
    for method, pattern in routes:
        path = pattern.replace("/api/v1", "").replace("{", "x").replace("}", "")
        for token in ("", "wrong-token"):
            r = cp.api(method, path, body={} if method in ("POST", "PUT", "PATCH") else None,
                       token=token)
            assert r.status == 401, (method, pattern, r)
            assert err_of(r)["code"] == "unauthorized"
        r = mm.request(cp.port, method, "/api/v1" + path)  # no Authorization at all
        assert r.status == 401, (method, pattern, r)


def test_json_answers_end_with_a_newline(cp):
    # what curl prints then ends its line: answers, lists, errors
    for method, path, body in [("GET", "/vendors", None), ("GET", "/revision", None),
                               ("POST", "/applications", {"name": "nl"}),
                               ("GET", "/nope", None), ("POST", "/apis", {"name": 1})]:
        r = cp.api(method, path, body)
        assert r.body.endswith(b"}\n") and r.body.count(b"\n") == 1, (method, path, r.body)
        r.json()
    r = cp.api("GET", "/vendors", token="wrong")
    assert r.status == 401 and r.body.endswith(b"}\n")


def test_unknown_route_and_wrong_method(cp):
    r = cp.api("GET", "/nope")
    assert r.status == 404 and err_of(r)["code"] == "not_found"
    r = cp.api("GET", "/vendors/openai/models/x/y")
    assert r.status == 404
    r = cp.api("DELETE", "/vendors")
    assert r.status == 405 and "GET" in r.headers["allow"] and "POST" in r.headers["allow"]
    err_of(r)
    assert cp.api("PATCH", "/revision").status == 405
    assert cp.api("POST", "/dataplanes", {}).status == 405
    r = mm.request(cp.port, "GET", "/elsewhere")
    assert r.status == 404


def test_malformed_json_wrong_types_missing_fields(cp):
    r = cp.raw("POST", "/applications", b'{"name": ')
    assert r.status == 400 and err_of(r)["code"] == "malformed_json"
    r = cp.raw("POST", "/applications", b'[1, 2]')
    assert r.status == 400
    r = cp.raw("POST", "/applications", b'')
    assert r.status == 400
    r = cp.raw("POST", "/applications", b'{"name": "a", "name": "b"}')
    assert r.status == 400
    r = cp.api("POST", "/applications", {"name": 5})
    assert r.status == 400 and "name" in err_of(r)["message"]
    r = cp.api("POST", "/applications", {})
    assert r.status == 400 and "name" in err_of(r)["message"]
    r = cp.api("POST", "/apis", {"name": "x", "basePath": "/x", "version": "v1"})
    assert r.status == 400 and "vendor" in err_of(r)["message"]
    r = cp.api("POST", "/apis", {"name": "x", "basePath": "x", "version": "v1", "vendor": "openai"})
    assert r.status == 400 and "basePath" in err_of(r)["message"]
    r = cp.api("POST", "/apis", {"name": "x", "basePath": "/x", "version": "v1",
                                 "vendor": "openai", "defaultVersion": "yes"})
    assert r.status == 400 and "defaultVersion" in err_of(r)["message"]
    r = cp.api("POST", "/apis", {"name": "x", "basePath": "/x", "version": "v1", "vendor": "openai",
                                 "operations": [{"target": "/a", "verb": "FETCH"}]})
    assert r.status == 400 and "operations[0].verb" in err_of(r)["message"]


def test_body_limits(cp):
    big = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    assert len(big) > 1024 * 1024
    r = cp.raw("POST", "/applications", big)
    assert r.status == 413 and err_of(r)["code"] == "payload_too_large"
    exact = b'{"name": "x", "description": "' + b"d" * 100 + b'"}'
    exact = exact[:-2] + b"d" * (1024 * 1024 - len(exact)) + b'"}'
    assert len(exact) == 1024 * 1024
    r = cp.raw("POST", "/applications", exact)
    assert r.status == 400 and "description" in err_of(r)["message"]  # within the limit: parsed
    over = exact[:-2] + b'd"}'
    assert len(over) == 1024 * 1024 + 1
    assert cp.raw("POST", "/applications", over).status == 413
    r = cp.raw("POST", "/applications", b"[" * 10000 + b"]" * 10000)
    assert r.status == 400 and err_of(r)["code"] == "malformed_json"
    r = cp.raw("POST", "/applications", b'{"name": {"a": ' * 5000 + b"1" + b"}" * 5001)
    assert r.status == 400
    r = cp.raw("POST", "/applications", b'{"name": "\xff\xfe bad utf-8"}')
    assert r.status == 400
    r = cp.raw("POST", "/applications", b'{"name": "nul \\u0000 inside"}')
    assert r.status == 400
    assert cp.api("GET", "/revision").status == 200  # still alive


def test_content_type(cp):
    assert cp.raw("POST", "/applications", b'{"name": "a"}', content_type="text/plain").status == 415
    assert cp.raw("POST", "/applications", b'{"name": "a"}', content_type=None).status == 415
    r = cp.raw("PUT", "/secrets/s", b'{"k": "v"}', content_type="application/x-www-form-urlencoded")
    assert r.status == 415 and err_of(r)["code"] == "unsupported_media_type"
    r = cp.raw("POST", "/applications", b'{"name": "a"}', content_type="application/json; charset=utf-8")
    assert r.status == 201


def test_hostile_names_stored_verbatim(cp):
    names = ["Robert'); DROP TABLE applications;--", '"quoted" \\ back\\slash', "' OR '1'='1",
             "ünïcödé ✓ 名前", "a" * 128]
    ids = []
    for n in names:
        app = cp.ok("POST", "/applications", {"name": n}, expect=201)
        assert app["name"] == n
        ids.append(app["id"])
    got = {a["name"] for a in cp.ok("GET", "/applications")["items"]}
    assert got == set(names)
    for i, n in zip(ids, names):
        assert cp.ok("GET", "/applications/" + i)["name"] == n
    assert cp.api("POST", "/applications", {"name": "a" * 129}).status == 400
    assert cp.api("POST", "/applications", {"name": "tab\there"}).status == 400
    assert cp.api("POST", "/applications", {"name": ""}).status == 400
    # ids with SQL or encoded slashes are just unknown ids
    assert cp.api("GET", "/applications/'%20OR%201=1--").status == 404
    assert cp.api("GET", "/applications/a%2Fb").status == 404
    assert cp.api("GET", "/applications/%zz").status == 404


# --- vendors and model lists ---------------------------------------------------

def test_builtin_vendors(cp):
    items = cp.ok("GET", "/vendors")["items"]
    by = {v["name"]: v for v in items}
    assert set(by) >= {"OpenAI", "AzureOpenAI", "Mistral"}
    assert all(v["builtin"] for v in by.values())
    az = by["AzureOpenAI"]
    assert az["requestModel"]["in"] == "path"
    assert az["auth"] == {"header": "api-key", "prefix": ""}
    assert by["OpenAI"]["auth"] == {"header": "Authorization", "prefix": "Bearer "}
    for v in items:
        r = cp.api("DELETE", "/vendors/" + v["id"])
        assert r.status == 409 and err_of(r)["code"] == "builtin"
    assert cp.ok("GET", "/vendors/" + az["id"]) == az
    assert cp.api("GET", "/vendors/nope").status == 404


def test_vendor_crud(cp):
    v = cp.ok("POST", "/vendors", {"name": "Local", "models": ["m1", "m2"],
                                   "auth": {"header": "x-key"}}, expect=201)
    assert v["builtin"] is False and v["models"] == ["m1", "m2"]
    assert v["requestModel"] == {"in": "body", "field": "model"}
    assert v["auth"] == {"header": "x-key", "prefix": ""}
    assert cp.api("POST", "/vendors", {"name": "Local"}).status == 409
    r = cp.api("POST", "/vendors", {"name": "X", "requestModel": {"in": "query", "field": "m"}})
    assert r.status == 400 and "requestModel.in" in err_of(r)["message"]
    r = cp.api("POST", "/vendors", {"name": "X", "responseModel": {"in": 1, "field": "m"}})
    assert r.status == 400 and "responseModel.in" in err_of(r)["message"]
    assert cp.api("POST", "/vendors", {"name": "X", "models": ["a", "a"]}).status == 400
    assert cp.api("POST", "/vendors", {"name": "X", "models": "a"}).status == 400
    p = cp.ok("PATCH", "/vendors/" + v["id"], {"description": "mine"})
    assert p["description"] == "mine" and p["models"] == ["m1", "m2"] and p["name"] == "Local"
    u = cp.ok("PUT", "/vendors/" + v["id"], {"name": "Local2"})
    assert u["models"] == [] and u["description"] == "" and u["name"] == "Local2"
    assert cp.api("PUT", "/vendors/nope", {"name": "Z"}).status == 404
    assert cp.api("PATCH", "/vendors/nope", {"name": "Z"}).status == 404
    api = make_api(cp, vendor=v["id"])
    r = cp.api("DELETE", "/vendors/" + v["id"])
    assert r.status == 409 and err_of(r)["code"] == "in_use"
    cp.ok("DELETE", "/apis/" + api["id"], expect=204)
    assert cp.api("DELETE", "/vendors/" + v["id"]).status == 204
    assert cp.api("DELETE", "/vendors/" + v["id"]).status == 404


def test_model_list(cp):
    path = "/vendors/openai/models"
    start = cp.ok("GET", path)["items"]
    assert "gpt-4o" in start
    assert cp.ok("POST", path, {"name": "gpt-4.1"}, expect=201) == {"name": "gpt-4.1"}
    assert cp.ok("GET", path)["items"] == start + ["gpt-4.1"]
    r = cp.api("POST", path, {"name": "gpt-4.1"})
    assert r.status == 409
    assert cp.api("POST", path, {"name": "x" * 129}).status == 400
    assert cp.api("POST", path, {"name": "bad\u0001name"}).status == 400
    assert cp.api("POST", path, {"name": "c1\u0085"}).status == 400
    assert cp.api("POST", path, {}).status == 400
    assert cp.ok("PUT", path, {"items": ["a", "b/c", "d e"]})["items"] == ["a", "b/c", "d e"]
    assert cp.ok("GET", "/vendors/openai")["models"] == ["a", "b/c", "d e"]
    assert cp.api("PUT", path, {"items": ["a", 1]}).status == 400
    assert cp.api("PUT", path, {"models": ["a"]}).status == 400
    assert cp.api("DELETE", path + "/b%2Fc").status == 204
    assert cp.api("DELETE", path + "/d%20e").status == 204
    assert cp.api("DELETE", path + "/nope").status == 404
    assert cp.api("GET", "/vendors/nope/models").status == 404
    assert cp.api("POST", "/vendors/nope/models", {"name": "x"}).status == 404
    assert cp.ok("GET", path)["items"] == ["a"]


def test_model_in_use_by_policy(cp):
    api = make_api(cp)
    ep = make_endpoint(cp, api["id"], "p1")
    cp.ok("POST", "/apis/%s/policies" % api["id"], {
        "type": "modelRoundRobin", "production": [{"model": "gpt-4o", "endpoint": ep["id"]}]},
        expect=201)
    r = cp.api("DELETE", "/vendors/openai/models/gpt-4o")
    assert r.status == 409 and err_of(r)["code"] == "in_use"
    r = cp.api("PUT", "/vendors/openai/models", {"items": ["o1-mini"]})
    assert r.status == 409
    assert "gpt-4o" in cp.ok("GET", "/vendors/openai/models")["items"]
    assert cp.api("DELETE", "/vendors/openai/models/o1-mini").status == 204


# --- secrets -----------------------------------------------------------------------

def test_secrets(cp):
    r = cp.api("PUT", "/secrets/open-ai-secret", {"apiKey": SECRET_VALUE, "other": SECRET_VALUE + "2"})
    assert r.status == 201 and r.json() == {"name": "open-ai-secret", "keys": ["apiKey", "other"]}
    r = cp.api("PUT", "/secrets/open-ai-secret", {"apiKey": SECRET_VALUE})
    assert r.status == 200 and r.json()["keys"] == ["apiKey"]
    assert cp.ok("GET", "/secrets")["items"] == [{"name": "open-ai-secret", "keys": ["apiKey"]}]
    assert cp.ok("GET", "/secrets/open-ai-secret") == {"name": "open-ai-secret", "keys": ["apiKey"]}
    assert cp.api("GET", "/secrets/none").status == 404
    assert cp.api("PUT", "/secrets/s", {"apiKey": 5}).status == 400
    assert cp.api("PUT", "/secrets/s", {}).status == 400
    assert cp.api("PUT", "/secrets/" + "n" * 129, {"k": "v"}).status == 400
    api = make_api(cp)
    ep = make_endpoint(cp, api["id"], "p1", security={"secret": "open-ai-secret"})
    assert ep["security"] == {"secret": "open-ai-secret", "secretKey": "apiKey",
                              "header": "Authorization", "prefix": "Bearer "}
    r = cp.api("DELETE", "/secrets/open-ai-secret")
    assert r.status == 409 and err_of(r)["code"] == "in_use"
    cp.ok("DELETE", "/apis/%s/endpoints/%s" % (api["id"], ep["id"]), expect=204)
    assert cp.api("DELETE", "/secrets/open-ai-secret").status == 204
    assert cp.api("DELETE", "/secrets/open-ai-secret").status == 404
    # error messages never echo a value
    r = cp.api("PUT", "/secrets/s", {"k": SECRET_VALUE, "bad": 1})
    assert r.status == 400
    for resp in cp.responses:
        assert SECRET_VALUE.encode() not in resp.body
    assert SECRET_VALUE not in cp.stderr() and SECRET_VALUE not in cp.stdout()


def test_malformed_secret_body_never_echoes_the_value(cp):
    # jansson's parse errors quote the token near the error: the reply must
    # name the position, not repeat the (secret) text around it
    bodies = [b'{"apiKey": "' + SECRET_VALUE.encode() + b'\\x"}',
              b'{"apiKey": ' + SECRET_VALUE.encode() + b'}',
              b'{"apiKey": "' + SECRET_VALUE.encode() + b'", "apiKey": "' + SECRET_VALUE.encode() + b'"}',
              b'{"apiKey": "' + SECRET_VALUE.encode() + b'"',
              b'{"apiKey": "' + SECRET_VALUE.encode() + b'\t"}']  # a raw tab
    for body in bodies:
        r = cp.raw("PUT", "/secrets/s", body)
        assert r.status == 400, (body, r)
        e = err_of(r)
        assert e["code"] == "malformed_json" and "line 1" in e["message"], e
        assert SECRET_VALUE[3:12].encode() not in r.body, r
    assert cp.api("GET", "/secrets/s").status == 404


def test_header_names_prefixes_and_secret_values_are_header_safe(cp):
    # they end up in an upstream request header: a data plane refuses a whole
    # snapshot holding a header name that is not a token or a control
    # character in a header value, so the control plane refuses them first
    rev = revision(cp)
    for auth, field in [({"header": "X Key"}, "auth.header"), ({"header": "a:b"}, "auth.header"),
                        ({"header": ""}, "auth.header"), ({"header": "x\u00e9"}, "auth.header"),
                        ({"prefix": "Bearer\r\nX-Evil: 1 "}, "auth.prefix"),
                        ({"prefix": "a\tb"}, "auth.prefix"), ({"prefix": "\u0085"}, "auth.prefix")]:
        r = cp.api("POST", "/vendors", {"name": "V", "auth": auth})
        assert r.status == 400 and field in err_of(r)["message"], (auth, r)
    api = make_api(cp)
    base = "/apis/%s/endpoints" % api["id"]
    for sec, field in [({"secret": "s", "header": "x y"}, "security.header"),
                       ({"secret": "s", "header": "x\n"}, "security.header"),
                       ({"secret": "s", "prefix": "p\r\n"}, "security.prefix")]:
        r = cp.api("POST", base, {"name": "e", "environment": "production", "url": "http://x",
                                  "security": sec})
        assert r.status == 400 and field in err_of(r)["message"], (sec, r)
    for value in (SECRET_VALUE + "\n", SECRET_VALUE + "\r", "a\tb", "x\u007f",
                  "x\u0090"):
        r = cp.api("PUT", "/secrets/s", {"apiKey": value})
        assert r.status == 400 and "apiKey" in err_of(r)["message"], (value, r)
        assert SECRET_VALUE.encode() not in r.body
    assert revision(cp) == rev + 1  # only the API
    # what is valid still is: any token, printable and non-ASCII values
    v = cp.ok("POST", "/vendors", {"name": "V", "auth": {"header": "X-Api_Key.1!#$%&'*+^`|~",
                                                          "prefix": "Token ü "}}, expect=201)
    assert v["auth"] == {"header": "X-Api_Key.1!#$%&'*+^`|~", "prefix": "Token ü "}
    assert cp.api("PUT", "/secrets/s", {"apiKey": "sk-ünïcode \"quoted\" 'x' <>"}).status == 201


def test_path_parameters_that_are_not_utf8(cp):
    # ids and names are UTF-8 text; a percent-encoded byte that is not one is
    # an unknown id (404) or an invalid name (400), and every error reply
    # keeps its JSON body
    r = cp.api("PUT", "/secrets/%FFab", {"k": "v"})
    assert r.status == 400 and "name" in err_of(r)["message"], r
    for method, path in [("DELETE", "/secrets/%FFab"), ("GET", "/secrets/%C3"),
                         ("GET", "/applications/%ED%A0%80"), ("DELETE", "/vendors/%C0%AF"),
                         ("DELETE", "/vendors/openai/models/%F5%80%80%80")]:
        r = cp.api(method, path)
        assert r.status == 404, (method, path, r)
        err_of(r)
    assert cp.ok("GET", "/secrets") == {"items": []}


# --- APIs and endpoints ------------------------------------------------------------

def test_apis(cp):
    a = make_api(cp, base="/chat-service", version="1.0")
    assert [o["target"] for o in a["operations"]] == [
        "/chat/completions", "/completions", "/responses", "/embeddings", "/images/generations",
        "/audio/transcriptions", "/audio/translations", "/models"]
    assert all(o["verb"] == ("GET" if o["target"] == "/models" else "POST") and o["secured"]
               for o in a["operations"])
    assert a["defaultVersion"] is False and a["subscriptionValidation"] is False
    r = cp.api("POST", "/apis", {"name": "other", "basePath": "/chat-service", "version": "1.0",
                                 "vendor": "openai"})
    assert r.status == 409
    make_api(cp, base="/chat-service", version="2.0")
    r = cp.api("POST", "/apis", {"name": "x", "basePath": "/y", "version": "1", "vendor": "nope"})
    assert r.status == 400 and "vendor" in err_of(r)["message"]
    ops = [{"target": "/chat/completions", "verb": "POST", "secured": False}]
    p = cp.ok("PATCH", "/apis/" + a["id"], {"operations": ops, "defaultVersion": True})
    assert p["operations"] == ops and p["defaultVersion"] is True and p["name"] == a["name"]
    r = cp.api("PATCH", "/apis/" + a["id"], {"version": "2.0"})
    assert r.status == 409
    r = cp.api("PUT", "/apis/" + a["id"], {"name": "n", "basePath": "/chat-service", "version": "1.0",
                                           "vendor": "openai", "operations": ops + ops})
    assert r.status == 400
    assert cp.ok("GET", "/apis/" + a["id"])["operations"] == ops
    assert len(cp.ok("GET", "/apis")["items"]) == 2
    assert cp.api("GET", "/apis/nope").status == 404
    assert cp.api("DELETE", "/apis/" + a["id"]).status == 204
    assert cp.api("DELETE", "/apis/" + a["id"]).status == 404


def test_operation_scopes_are_checked_and_kept(cp):
    a = make_api(cp, base="/scoped", version="1.0")
    ops = [{"target": "/chat/completions", "verb": "POST", "secured": True,
            "scopes": ["chat:write", "urn:example:models"]},
           {"target": "/embeddings", "verb": "POST", "secured": True}]
    assert cp.ok("PATCH", "/apis/" + a["id"], {"operations": ops})["operations"] == ops
    snap = [x for x in snapshot(cp)["apis"] if x["id"] == a["id"]][0]
    assert snap["operations"] == ops  # what the data plane enforces
    # an empty list is the same as none
    p = cp.ok("PATCH", "/apis/" + a["id"], {"operations": [dict(ops[1], scopes=[])]})
    assert p["operations"] == [ops[1]]
    bad = [
        ({"scopes": "chat"}, "operations[0].scopes must be an array"),
        ({"scopes": ["chat write"]}, "operations[0].scopes[0] must be 1 to 128"),
        ({"scopes": ["a", 'b"']}, "operations[0].scopes[1] must be 1 to 128"),
        ({"scopes": ["x" * 129]}, "operations[0].scopes[0] must be 1 to 128"),
        ({"scopes": ["a\u0001"]}, "operations[0].scopes[0] must be 1 to 128"),
        ({"scopes": [7]}, "operations[0].scopes[0] must be a string"),
        ({"scopes": ["a", "a"]}, "listed twice"),
        ({"scopes": ["s%d" % i for i in range(17)]}, "at most 16 scopes"),
        ({"scopes": ["a"], "secured": False}, "scopes need a secured operation"),
    ]
    for extra, text in bad:
        op = dict({"target": "/chat/completions", "verb": "POST"}, **extra)
        r = cp.api("PATCH", "/apis/" + a["id"], {"operations": [op]})
        assert r.status == 400 and text in err_of(r)["message"], (extra, r)
    assert cp.ok("GET", "/apis/" + a["id"])["operations"] == [ops[1]]


def test_endpoints(cp):
    api = make_api(cp)
    base = "/apis/%s/endpoints" % api["id"]
    e = make_endpoint(cp, api["id"], "p1", url="https://api.openai.com/v1")
    assert e["security"] is None and e["timeoutMs"] == 60000
    assert cp.api("POST", base, {"name": "p1", "environment": "sandbox", "url": "http://x"}).status == 409
    assert cp.api("POST", base, {"name": "p2", "environment": "prod", "url": "http://x"}).status == 400
    r = cp.api("POST", base, {"name": "p2", "environment": "sandbox", "url": "ftp://x"})
    assert r.status == 400 and "url" in err_of(r)["message"]
    r = cp.api("POST", base, {"name": "p2", "environment": "sandbox", "url": "http://x", "timeoutMs": 0})
    assert r.status == 400 and "timeoutMs" in err_of(r)["message"]
    r = cp.api("POST", base, {"name": "p2", "environment": "sandbox", "url": "http://x", "security": {}})
    assert r.status == 400 and "security.secret" in err_of(r)["message"]
    s = cp.ok("POST", base, {"name": "s1", "environment": "sandbox", "url": "http://x",
                             "security": {"secret": "sec", "secretKey": "k", "header": "api-key",
                                          "prefix": ""}}, expect=201)
    assert s["security"] == {"secret": "sec", "secretKey": "k", "header": "api-key", "prefix": ""}
    p = cp.ok("PATCH", base + "/" + s["id"], {"timeoutMs": 5000, "security": None})
    assert p["timeoutMs"] == 5000 and p["security"] is None and p["name"] == "s1"
    assert cp.api("PATCH", base + "/" + s["id"], {"name": "p1"}).status == 409
    assert len(cp.ok("GET", base)["items"]) == 2
    assert cp.api("GET", base + "/nope").status == 404
    assert cp.api("GET", "/apis/nope/endpoints").status == 404
    assert cp.api("POST", "/apis/nope/endpoints", {"name": "a", "environment": "sandbox",
                                                   "url": "http://x"}).status == 404
    assert cp.api("DELETE", base + "/" + s["id"]).status == 204
    assert cp.api("DELETE", base + "/" + s["id"]).status == 404


# --- applications, keys, subscriptions ------------------------------------------------------

def test_applications_keys_subscriptions(cp):
    app = cp.ok("POST", "/applications", {"name": "app1"}, expect=201)
    assert cp.api("POST", "/applications", {"name": "app1"}).status == 409
    keys = "/applications/%s/keys" % app["id"]
    k = cp.ok("POST", keys, {"type": "production"}, expect=201)
    assert set(k) == {"id", "key", "type", "createdAt", "expiresAt"} and k["expiresAt"] is None
    assert len(k["key"]) > 40
    k2 = cp.ok("POST", keys, {"type": "sandbox", "expiresAt": "2099-01-02T03:04:05+01:00"}, expect=201)
    assert k2["expiresAt"] == "2099-01-02T02:04:05Z"
    assert cp.api("POST", keys, {"type": "dev"}).status == 400
    assert cp.api("POST", keys, {"type": "sandbox", "expiresAt": "tomorrow"}).status == 400
    assert cp.api("POST", keys, {"type": "sandbox", "expiresAt": "2001-01-01T00:00:00Z"}).status == 400
    for bad in ("2099-02-30T00:00:00Z", "2099-02-29T00:00:00Z", "2099-04-31T00:00:00Z",
                "2099-13-01T00:00:00Z", "2099-01-01T24:00:00Z", "2099-01-01T00:00:00",
                "2099-01-01", 20990101, "2099-01-01T00:00:00+25:00"):
        r = cp.api("POST", keys, {"type": "sandbox", "expiresAt": bad})
        assert r.status == 400 and "expiresAt" in err_of(r)["message"], (bad, r)
    for good, norm in (("2096-02-29T00:00:00Z", "2096-02-29T00:00:00Z"),
                       ("2099-12-31t23:59:59.5z", "2099-12-31T23:59:59Z"),
                       ("2099-06-30T23:00:00-02:00", "2099-07-01T01:00:00Z")):
        k3 = cp.ok("POST", keys, {"type": "sandbox", "expiresAt": good}, expect=201)
        assert k3["expiresAt"] == norm, (good, k3)
        cp.ok("DELETE", keys + "/" + k3["id"], expect=204)
    listed = cp.ok("GET", keys)["items"]
    assert [x["id"] for x in listed] == [k["id"], k2["id"]]
    assert all("key" not in x for x in listed)
    assert k["key"] not in cp.api("GET", keys).text
    assert cp.api("DELETE", keys + "/" + k["id"]).status == 204
    assert cp.api("DELETE", keys + "/" + k["id"]).status == 404
    assert cp.api("GET", "/applications/nope/keys").status == 404
    api = make_api(cp)
    subs = "/applications/%s/subscriptions" % app["id"]
    s = cp.ok("POST", subs, {"apiId": api["id"]}, expect=201)
    assert s["apiId"] == api["id"]
    assert cp.api("POST", subs, {"apiId": api["id"]}).status == 409
    assert cp.api("POST", subs, {"apiId": "nope"}).status == 400
    assert cp.api("POST", subs, {}).status == 400
    assert [x["apiId"] for x in cp.ok("GET", subs)["items"]] == [api["id"]]
    assert cp.api("DELETE", subs + "/" + api["id"]).status == 204
    assert cp.api("DELETE", subs + "/" + api["id"]).status == 404
    p = cp.ok("PUT", "/applications/" + app["id"], {"name": "renamed"})
    assert p["name"] == "renamed" and p["description"] == ""
    assert cp.api("DELETE", "/applications/" + app["id"]).status == 204
    assert cp.api("GET", "/applications/" + app["id"]).status == 404


def test_revision_and_failed_calls(cp):
    r0 = revision(cp)
    cp.ok("POST", "/applications", {"name": "a"}, expect=201)
    assert revision(cp) == r0 + 1
    before = cp.ok("GET", "/applications")
    assert cp.api("POST", "/applications", {"name": "a"}).status == 409  # taken
    for bad in ({"name": 1}, {}):
        assert cp.api("POST", "/applications", bad).status == 400
    assert cp.api("DELETE", "/vendors/openai").status == 409
    assert revision(cp) == r0 + 1
    assert cp.ok("GET", "/applications") == before
    assert cp.ok("GET", "/dataplanes") == {"items": []}


def test_apkconf_routes_exist(cp):
    r = cp.raw("POST", "/apis/import", b"name: x\n", content_type="application/yaml")
    assert r.status == 400, r
    err_of(r)
    r = cp.api("GET", "/apis/nope/apk-conf")
    assert r.status == 404 and err_of(r)["code"] == "not_found"


# --- every route: body limits, content types, statuses, revisions (SPEC 2.1) ----

def body_routes():
    import subprocess
    out = subprocess.run([mm.binary("modelmux-cp"), "--print-routes"], capture_output=True,
                         text=True, check=True).stdout
    routes = [tuple(line.split(" ", 1)) for line in out.splitlines() if line]
    return [(m, p) for m, p in routes if m in ("POST", "PUT", "PATCH")]


def fill(pattern, ids):
    path = pattern.replace("/api/v1", "")
    for name, value in ids.items():
        path = path.replace("{%s}" % name, value)
    return path


def test_every_body_route_413_and_415(cp):
    api = make_api(cp)
    ep = make_endpoint(cp, api["id"], "p1")
    pol = cp.ok("POST", "/apis/%s/policies" % api["id"],
                {"type": "aiRateLimit", "unit": "minute", "requests": 5}, expect=201)
    app = cp.ok("POST", "/applications", {"name": "app"}, expect=201)
    ids = {"id": api["id"], "eid": ep["id"], "pid": pol["id"], "name": "s"}
    routes = body_routes()
    assert len(routes) >= 20
    rev = revision(cp)
    big = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    for method, pattern in routes:
        i = dict(ids)
        if pattern.startswith("/api/v1/vendors/{id}"):
            i["id"] = "openai"
        elif pattern.startswith("/api/v1/applications/{id}"):
            i["id"] = app["id"]
        path = fill(pattern, i)
        is_import = pattern.endswith("/import")
        ct = "application/yaml" if is_import else "application/json"
        r = cp.raw(method, path, big, content_type=ct)
        assert r.status == 413, (method, pattern, r)
        assert err_of(r)["code"] == "payload_too_large"
        r = cp.raw(method, path, b"name: x\n" if not is_import else b'{"name": "x"}',
                   content_type="text/plain" if not is_import else "application/json")
        assert r.status == 415, (method, pattern, r)
        assert err_of(r)["code"] == "unsupported_media_type"
        r = cp.raw(method, path, b'{"name": "x"}', content_type=None)
        assert r.status == 415, (method, pattern, r)
    assert revision(cp) == rev


def chunked(port, method, path, chunks, content_type="application/json"):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=iter(chunks), encode_chunked=True,
              headers={"Authorization": "Bearer " + mm.ADMIN_TOKEN, "Content-Type": content_type})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_chunked_bodies_are_bounded_too(cp):
    piece = b"a" * 65536
    chunks = [b'{"name": "'] + [piece] * 17 + [b'"}']
    status, body = chunked(cp.port, "POST", "/api/v1/applications", chunks)
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"
    status, body = chunked(cp.port, "POST", "/api/v1/apis/import", [b"name: x\n"] + [b"#" * 65536] * 17,
                           content_type="application/yaml")
    assert status == 413
    status, body = chunked(cp.port, "POST", "/api/v1/applications", [b'{"name": ', b'"chunked"}'])
    assert status == 201 and json.loads(body)["name"] == "chunked"


def test_every_change_answers_its_status_and_bumps_the_revision_once(cp):
    """201 create, 200 update, 204 delete; each success is exactly one new
    revision, and GET of every collection is {"items": [...]}."""
    def step(method, path, body, status):
        before = revision(cp)
        r = cp.api(method, path, body)
        assert r.status == status, (method, path, r)
        assert revision(cp) == before + 1, (method, path)
        if status == 204:
            assert r.body == b""
        return r.json() if r.body else None

    v = step("POST", "/vendors", {"name": "V", "models": ["m1"]}, 201)
    step("PUT", "/vendors/" + v["id"], {"name": "V", "models": ["m1", "m2"]}, 200)
    step("PATCH", "/vendors/" + v["id"], {"description": "d"}, 200)
    step("POST", "/vendors/%s/models" % v["id"], {"name": "m3"}, 201)
    assert step("PUT", "/vendors/%s/models" % v["id"], {"items": ["m1", "m2", "m3", "m4"]},
                200) == {"items": ["m1", "m2", "m3", "m4"]}
    step("DELETE", "/vendors/%s/models/m4" % v["id"], None, 204)
    step("PUT", "/secrets/sec", {"apiKey": "k1"}, 201)
    step("PUT", "/secrets/sec", {"apiKey": "k2"}, 200)
    api = step("POST", "/apis", {"name": "a", "basePath": "/a", "version": "v1", "vendor": v["id"]},
               201)
    step("PUT", "/apis/" + api["id"], {"name": "a2", "basePath": "/a", "version": "v1",
                                       "vendor": v["id"]}, 200)
    step("PATCH", "/apis/" + api["id"], {"defaultVersion": True}, 200)
    eps = "/apis/%s/endpoints" % api["id"]
    ep = step("POST", eps, {"name": "e", "environment": "production", "url": "http://x",
                            "security": {"secret": "sec"}}, 201)
    step("PUT", eps + "/" + ep["id"], {"name": "e", "environment": "production",
                                       "url": "http://y"}, 200)
    step("PATCH", eps + "/" + ep["id"], {"timeoutMs": 1000}, 200)
    pols = "/apis/%s/policies" % api["id"]
    rr = {"type": "modelRoundRobin", "production": [{"model": "m1", "endpoint": ep["id"]}]}
    pol = step("POST", pols, rr, 201)
    step("PUT", pols + "/" + pol["id"], dict(rr, suspendDurationSec=1), 200)
    step("PATCH", pols + "/" + pol["id"], {"suspendDurationSec": 2}, 200)
    app = step("POST", "/applications", {"name": "app"}, 201)
    step("PUT", "/applications/" + app["id"], {"name": "app2"}, 200)
    step("PATCH", "/applications/" + app["id"], {"description": "d"}, 200)
    key = step("POST", "/applications/%s/keys" % app["id"], {"type": "production"}, 201)
    step("POST", "/applications/%s/subscriptions" % app["id"], {"apiId": api["id"]}, 201)
    collections = ["/vendors", "/vendors/%s/models" % v["id"], "/secrets", "/apis", eps, pols,
                   "/applications", "/applications/%s/keys" % app["id"],
                   "/applications/%s/subscriptions" % app["id"], "/dataplanes"]
    for c in collections:
        j = cp.ok("GET", c)
        assert set(j) == {"items"} and isinstance(j["items"], list), (c, j)
    step("DELETE", "/applications/%s/subscriptions/%s" % (app["id"], api["id"]), None, 204)
    step("DELETE", "/applications/%s/keys/%s" % (app["id"], key["id"]), None, 204)
    step("DELETE", "/applications/" + app["id"], None, 204)
    step("DELETE", pols + "/" + pol["id"], None, 204)
    step("DELETE", eps + "/" + ep["id"], None, 204)
    step("DELETE", "/secrets/sec", None, 204)
    step("DELETE", "/apis/" + api["id"], None, 204)
    step("DELETE", "/vendors/" + v["id"], None, 204)
    rev = revision(cp)
    r = cp.raw("POST", "/apis/import", open(os.path.join(mm.SOURCE_DIR, "tests", "data", "apkconf",
                                                         "spec-example.yaml"), "rb").read(),
               content_type="application/yaml")
    assert r.status == 201 and revision(cp) == rev + 1


def test_hostile_requests_do_not_hurt(cp):
    """Oversized headers and URLs, garbage and truncated requests: each gets
    an error or a closed connection; the server keeps serving and keeps its
    data."""
    app = cp.ok("POST", "/applications", {"name": "survivor"}, expect=201)
    rev = revision(cp)
    r = cp.api("GET", "/vendors", headers={"X-Big": "x" * 100000})
    assert r.status == 431, r
    r = cp.api("GET", "/vendors", headers={"X-H%d" % i: "v" * 100 for i in range(600)})
    assert r.status == 431, r
    r = cp.api("GET", "/applications/" + "a" * 100000)
    assert r.status == 414, r  # a URL over the limit (SPEC 5)
    r = cp.api("GET", "/applications/" + "%41" * 3000)  # decodes to 3000 chars: unknown id
    assert r.status == 404, r
    err_of(r)
    r = cp.api("GET", "/vendors?" + "&".join("k%d=v" % i for i in range(5000)))
    assert r.status == 414, r
    for raw in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"POST /api/v1/applications HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                b"POST /api/v1/applications HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
                b"POST /api/v1/applications HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                b"GET /api/v1/vendors HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n\r\n",
                b"\x00\x01\x02\x03" * 1000, b"GET /api/v1/vendors HTTP/1.1\r\nHost: x\r\n"):
        out = mm.raw_request(cp.port, raw, timeout=2)
        if out:
            assert out.startswith(b"HTTP/1."), (raw[:40], out[:80])
            assert not out.startswith(b"HTTP/1.1 2"), (raw[:40], out[:80])
    assert cp.poll() is None
    assert cp.ok("GET", "/applications/" + app["id"])["name"] == "survivor"
    assert revision(cp) == rev
