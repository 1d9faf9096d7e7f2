"""apk-conf import and export against the real control plane (SPEC 2.2, 7).

POST /api/v1/apis/import and GET /api/v1/apis/{id}/apk-conf: the SPEC
example as it stands, secrets before or after, unknown vendors and policies,
every error with its line, hostile files, 413/415/401, nothing created on
error (revision unchanged), and export -> import round trips (into a second,
fresh control plane) for every policy type, on imported APIs and on APIs made
through the REST API.
"""
import json
import os
import time

import pytest
import yaml

import import_util
import mm

DATA = os.path.join(mm.SOURCE_DIR, "tests", "data", "apkconf")
YAML_CT = {"Content-Type": "application/yaml"}


def data(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def import_conf(cp, body, headers=None, token=None):
    return cp.api("POST", "/apis/import", body=body,
                  headers=YAML_CT if headers is None else headers, token=token)


revision = import_util.revision
error_message = import_util.error_message


def vendor_id(cp, name):
    for v in cp.ok("GET", "/vendors")["items"]:
        if v["name"] == name:
            return v["id"]
    raise AssertionError("no vendor %s" % name)


# --- the SPEC example --------------------------------------------------------

def test_spec_example_imports_as_it_stands(cp):
    rev = revision(cp)
    r = import_conf(cp, data("spec-example.yaml"))
    assert r.status == 201, r
    api = r.json()
    assert api["name"] == "chat-service-api-prod-sand"
    assert api["basePath"] == "/chat-service-prod-sand"
    assert api["version"] == "1.0"
    assert api["defaultVersion"] is False
    assert api["subscriptionValidation"] is False
    assert api["vendor"] == vendor_id(cp, "OpenAI")
    assert [(o["target"], o["verb"], o["secured"]) for o in api["operations"]] == \
        [("/chat/completions", "POST", True)]
    # one transaction: exactly one new revision
    assert revision(cp) == rev + 1

    eps = cp.ok("GET", "/apis/%s/endpoints" % api["id"])["items"]
    assert sorted(e["environment"] for e in eps) == ["production", "sandbox"]
    for e in eps:
        assert e["url"] == "https://api.openai.com/v1"
        assert e["security"]["secret"] == "open-ai-secret"
        assert e["security"]["secretKey"] == "apiKey"
        assert e["security"]["header"] == "Authorization"
    by_env = {e["environment"]: e["id"] for e in eps}

    pols = cp.ok("GET", "/apis/%s/policies" % api["id"])["items"]
    assert len(pols) == 1
    p = pols[0]
    assert p["type"] == "modelWeightedRoundRobin"
    assert p["suspendDurationSec"] == 60
    for env in ("production", "sandbox"):
        assert [t["model"] for t in p[env]] == ["gpt-4o", "o1-mini", "gpt-4o-mini"]
        assert all(t["endpoint"] == by_env[env] and t["weight"] == 1 for t in p[env])

    # GET /apis/{id} answers the same API
    assert cp.ok("GET", "/apis/%s" % api["id"])["id"] == api["id"]


def test_yaml_content_types(cp):
    for ct in ("application/x-yaml", "text/yaml; charset=utf-8"):
        body = data("spec-example.yaml").replace(b"/chat-service-prod-sand",
                                                 ("/ct-" + ct.split(";")[0].replace("/", "-")).encode())
        r = import_conf(cp, body, headers={"Content-Type": ct})
        assert r.status == 201, (ct, r)


def test_secret_created_before_or_after(cp):
    # before: the secret exists when the API is imported
    assert cp.api("PUT", "/secrets/open-ai-secret", {"apiKey": "sk-before"}).status == 201  # created
    r = import_conf(cp, data("spec-example.yaml"))
    assert r.status == 201, r
    # after: import first (no secret "later-secret" yet), then create it
    later = data("spec-example.yaml").replace(b"open-ai-secret", b"later-secret") \
        .replace(b"/chat-service-prod-sand", b"/later")
    r2 = import_conf(cp, later)
    assert r2.status == 201, r2
    eps = cp.ok("GET", "/apis/%s/endpoints" % r2.json()["id"])["items"]
    assert all(e["security"]["secret"] == "later-secret" for e in eps)
    assert cp.api("PUT", "/secrets/later-secret", {"apiKey": "sk-after"}).status == 201  # created
    names = json.dumps(cp.ok("GET", "/secrets"))
    assert "later-secret" in names and "sk-after" not in names
    # no secret value ever appears in an export
    out = cp.api("GET", "/apis/%s/apk-conf" % r.json()["id"])
    assert out.status == 200 and b"sk-before" not in out.body and b"open-ai-secret" in out.body


# --- errors ------------------------------------------------------------------

def test_unknown_vendor_is_400_naming_it(cp):
    rev = revision(cp)
    body = data("spec-example.yaml").replace(b'name: "OpenAI"', b'name: "NoSuchVendor"')
    r = import_conf(cp, body)
    assert r.status == 400, r
    msg = error_message(r)
    assert "NoSuchVendor" in msg and msg.startswith("line 8, column 9:"), msg
    assert revision(cp) == rev


def test_unknown_policy_name_is_400_naming_it(cp):
    r = import_conf(cp, data("unknown-policy.yaml"))
    assert r.status == 400, r
    msg = error_message(r)
    assert "SemanticCache" in msg and msg.startswith("line 12, column 19:"), msg


HEAD = ('name: "t"\nbasePath: "/t"\nversion: "1.0"\naiProvider:\n  name: "OpenAI"\n'
        'endpointConfigurations:\n  production:\n    - endpoint: "https://p.example.com"\n')

ERRORS = [
    # (document, expected message prefix, expected text)
    (HEAD + "type: GRAPHQL\n", "line 9, column 7:", "type must be REST"),
    (HEAD + "defaultVersion: maybe\n", "line 9, column 17:", "defaultVersion must be true or false"),
    (HEAD + "colour: blue\n", "line 9, column 1:", 'unknown key "colour"'),
    (HEAD + "rateLimit: {requestsPerUnit: 5, unit: Minute}\n", "line 9, column 1:",
     '"rateLimit" is not supported'),
    (HEAD + "operations:\n- {target: /x, verb: POST, scopes: admin}\n", "line 10, column 36:",
     "scopes must be a list"),
    (HEAD + "apiPolicies:\n  request:\n  - policyName: ModelBasedRoundRobin\n    parameters:\n"
     "      productionModels:\n      - {model: gpt-4o, endpoint: \"https://p.example.com\", weight: 0}\n",
     "line 14, column 68:", "weight must be an integer 1–1000"),
    (HEAD + "apiPolicies:\n  request:\n  - policyName: ModelBasedRoundRobin\n    parameters:\n"
     "      sandboxModels:\n      - {model: gpt-4o, endpoint: \"https://p.example.com\"}\n",
     "line 14, column 35:", "not declared in endpointConfigurations.sandbox"),
    (HEAD + "      endpointSecurity: {securityType: {secretName: s, in: Query}}\n",
     "line 9, column 60:", "in must be Header"),
    (HEAD + "name: again\n", "line 9, column 1:", 'duplicate key "name"'),
    ("name: t\n---\nname: u\n", "line 2, column 1:", "only one YAML document"),
    ("name: !!str t\n", "line 1, column 7:", "tags"),
    ("", "line 1, column 1:", "empty document"),
    ("[1, 2]\n", "line 1, column 1:", "must be a mapping"),
    ("name: [unclosed\n", "line 2, column 1:", "did not find expected"),
]


@pytest.mark.parametrize("doc,prefix,text", ERRORS)
def test_each_error_names_line_and_column(cp, doc, prefix, text):
    rev = revision(cp)
    r = import_conf(cp, doc.encode())
    assert r.status == 400, r
    assert r.json()["error"]["code"]
    msg = error_message(r)
    assert msg.startswith(prefix) and text in msg, msg
    assert revision(cp) == rev
    assert cp.ok("GET", "/apis")["items"] == []


def test_resource_layer_errors_get_the_entry_line_and_nothing_is_created(cp):
    # the translator accepts it; the policy layer refuses an unknown model
    rev = revision(cp)
    body = data("spec-example.yaml").replace(b'model: "o1-mini"', b'model: "not-a-model"', 1)
    r = import_conf(cp, body)
    assert r.status == 400, r
    msg = error_message(r)
    assert msg.startswith("line 36, column 7:"), msg
    assert revision(cp) == rev
    assert cp.ok("GET", "/apis")["items"] == []
    # a second import of the same (basePath, version) is a 409, changing nothing
    assert import_conf(cp, data("spec-example.yaml")).status == 201
    rev = revision(cp)
    r = import_conf(cp, data("spec-example.yaml"))
    assert r.status == 409, r
    assert revision(cp) == rev
    assert len(cp.ok("GET", "/apis")["items"]) == 1


@pytest.mark.parametrize("name,prefix,text", [
    ("billion-laughs.yaml", "line 3, column 7:", "anchors"),
    ("deep-nesting.yaml", "line 2, column 42:", "nesting too deep"),
    ("tabs.yaml", "line 3, column 1:", "tab characters"),
    ("invalid-utf8.yaml", "line 2, column 14:", "invalid leading UTF-8 octet"),
    ("utf16.yaml", "line 1, column 1:", "UTF-8"),
    ("duplicate-key.yaml", "line 7, column 1:", 'duplicate key "basePath"'),
    ("bad-weight.yaml", "line 18, column 21:", "weight must be an integer 1–1000"),
])
def test_hostile_files_are_refused_quickly(cp, name, prefix, text):
    rev = revision(cp)
    t0 = time.time()
    r = import_conf(cp, data(name))
    assert time.time() - t0 < 2 * mm.SLOW
    assert r.status == 400, r
    msg = error_message(r)
    assert msg.startswith(prefix) and text in msg, msg
    assert revision(cp) == rev
    assert cp.poll() is None


def test_oversized_wrong_type_and_unauthenticated(cp):
    rev = revision(cp)
    big = b"# padding\n" * (1024 * 1024 // 10 + 1)
    assert len(big) > 1024 * 1024
    assert import_conf(cp, big).status == 413
    r = import_conf(cp, data("spec-example.yaml"), headers={"Content-Type": "application/json"})
    assert r.status == 415, r
    r = import_conf(cp, data("spec-example.yaml"), headers={"Content-Type": "text/yaml; charset=utf-16"})
    assert r.status == 415, r
    assert import_conf(cp, data("spec-example.yaml"), headers={}).status == 415
    assert import_conf(cp, data("spec-example.yaml"), token="wrong").status == 401
    assert revision(cp) == rev
    assert cp.api("GET", "/apis/nope/apk-conf").status == 404
    assert cp.api("GET", "/apis/nope/apk-conf", token="wrong").status == 401


# --- export and round trips -------------------------------------------------

snapshot = import_util.api_snapshot


def export(cp, api_id):
    r = cp.api("GET", "/apis/%s/apk-conf" % api_id)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/yaml")
    doc = yaml.safe_load(r.body)  # valid YAML
    assert doc["type"] == "REST"
    return r.body


def assert_round_trip(cp, api_id):
    """Exports api_id, imports it into a fresh control plane, compares; then
    exports again there and checks the YAML is stable."""
    before = snapshot(cp, api_id)
    text = export(cp, api_id)
    cp2 = mm.ControlPlane()
    try:
        r = import_conf(cp2, text)
        assert r.status == 201, (r, text.decode())
        after = snapshot(cp2, r.json()["id"])
        assert after == before, text.decode()
        assert export(cp2, r.json()["id"]) == text
    finally:
        cp2.stop()
    return text


@pytest.mark.parametrize("name", ["spec-example.yaml", "all-policies.yaml", "round-robin.yaml"])
def test_imported_apis_round_trip(cp, name):
    r = import_conf(cp, data(name))
    assert r.status == 201, r
    text = assert_round_trip(cp, r.json()["id"])
    if name == "spec-example.yaml":
        assert b'policyName: "ModelBasedRoundRobin"' in text and b"x-modelmux" not in text


def make_api(cp, base, vendor="OpenAI"):
    return cp.ok("POST", "/apis", {"name": "rest-" + base.strip("/"), "basePath": base,
                                   "version": "v2", "vendor": vendor_id(cp, vendor),
                                   "defaultVersion": True})


def make_endpoint(cp, api, body):
    return cp.ok("POST", "/apis/%s/endpoints" % api["id"], body)


def test_rest_made_api_with_weighted_round_robin_and_api_rate_limit(cp):
    api = make_api(cp, "/rest-wrr")
    a = make_endpoint(cp, api, {"name": "openai-prod", "environment": "production",
                                "url": "https://api.openai.com/v1", "timeoutMs": 1500,
                                "security": {"secret": "k", "secretKey": "apiKey",
                                             "header": "Authorization", "prefix": "Token "}})
    b = make_endpoint(cp, api, {"name": "openai-prod-b", "environment": "production",
                                "url": "https://api.openai.com/v1",
                                "security": {"secret": "k2", "secretKey": "apiKey"}})
    s = make_endpoint(cp, api, {"name": "sbx", "environment": "sandbox",
                                "url": "http://127.0.0.1:9/v1", "timeoutMs": 120000})
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "modelWeightedRoundRobin", "suspendDurationSec": 15,
           "production": [{"model": "gpt-4o", "endpoint": a["id"], "weight": 3},
                          {"model": "gpt-4o-mini", "endpoint": b["id"], "weight": 1}],
           "sandbox": [{"model": "o1-mini", "endpoint": s["id"], "weight": 1000}]})
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "aiRateLimit", "unit": "hour", "scope": "api", "totalTokens": 15000,
           "requests": 60})
    text = assert_round_trip(cp, api["id"])
    assert b"aiRatelimit:" in text and b'name: "openai-prod"' in text


def test_rest_made_api_with_failover_and_round_robin_policies(cp):
    api = make_api(cp, "/rest-fo")
    a = make_endpoint(cp, api, {"name": "primary", "environment": "production",
                                "url": "https://a.example.com/v1"})
    b = make_endpoint(cp, api, {"name": "backup", "environment": "production",
                                "url": "https://b.example.com/v1"})
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "modelFailover", "requestTimeoutMs": 20000, "suspendDurationSec": 30,
           "production": {"target": {"model": "gpt-4o", "endpoint": a["id"]},
                          "fallbacks": [{"model": "gpt-4o-mini", "endpoint": b["id"]},
                                        {"model": "o1-mini", "endpoint": a["id"]}]}})
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "aiRateLimit", "unit": "day", "scope": "application", "requestTokens": 100})
    text = assert_round_trip(cp, api["id"])
    assert b"ModelmuxModelFailover" in text and b"ModelmuxAIRateLimit" in text

    api2 = make_api(cp, "/rest-rr")
    c = make_endpoint(cp, api2, {"name": "c", "environment": "sandbox",
                                 "url": "https://c.example.com/v1"})
    cp.ok("POST", "/apis/%s/policies" % api2["id"],
          {"type": "modelRoundRobin", "suspendDurationSec": 5,
           "sandbox": [{"model": "gpt-4o", "endpoint": c["id"]},
                       {"model": "gpt-4o-mini", "endpoint": c["id"]}]})
    text = assert_round_trip(cp, api2["id"])
    assert b"ModelmuxModelRoundRobin" in text


def test_rest_made_api_without_endpoints_or_policies(cp):
    api = make_api(cp, "/bare", vendor="AzureOpenAI")
    text = assert_round_trip(cp, api["id"])
    assert b'name: "AzureOpenAI"' in text


def test_generated_hostile_documents(cp):
    rev = revision(cp)
    cases = [
        # 200k items in one list (under 1 MiB): stopped at the item bound
        (b"name: [" + b"1," * 200000 + b"1]\n", "too many items in one sequence"),
        # 20 lists of 4000 items: stopped at the node bound
        (b"".join(b"k%d: [" % i + b"1," * 3999 + b"1]\n" for i in range(20)),
         "document too large"),
        # deep block nesting
        (b"".join(b"  " * i + b"k%d:\n" % i for i in range(40)) + b"  " * 40 + b"v\n",
         "nesting too deep"),
        # many anchors without aliases
        (b"name: &a x\nbasePath: &b y\n", "anchors"),
        # control characters
        (b"name: \"a\x07b\"\n", "control characters are not allowed"),
    ]
    for body, text in cases:
        assert len(body) <= 1024 * 1024
        t0 = time.time()
        r = import_conf(cp, body)
        assert time.time() - t0 < 3 * mm.SLOW
        assert r.status == 400, (text, r)
        msg = error_message(r)
        assert msg.startswith("line ") and text in msg, msg
    assert revision(cp) == rev
    assert cp.poll() is None
