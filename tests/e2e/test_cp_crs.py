"""Kubernetes custom resources on the import route, against the real control
plane (SPEC 2.2, 7.1): APK's Azure OpenAI example as it stands, an
AIProvider becoming a vendor, Secrets (base64 data, stringData, replacing
an existing one), every 400 of section 7.1 naming the document, the line and
the problem with nothing created, hostile YAML refused quickly with bounded
memory, and export (GET /apis/{id}/crs) -> import round trips into a fresh
control plane for every policy type.
"""
import base64
import json
import os
import time

import pytest
import yaml

import cp_util
import import_util
import mm

DATA = os.path.join(mm.SOURCE_DIR, "tests", "data", "crs")
imp = import_util.import_yaml


def data(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


revision = import_util.revision
message = import_util.error_message


def dp_secret(cp, name):
    """The secret's values as the data planes get them."""
    for s in cp_util.snapshot(cp).get("secrets", []):
        if s.get("name") == name:
            return s
    return None


# --- the seed example --------------------------------------------------------

def test_azure_example_imports_as_it_stands(cp):
    rev = revision(cp)
    r = imp(cp, data("azure-openai.yaml"))
    assert r.status == 201, r
    api = r.json()
    assert revision(cp) == rev + 1  # one transaction, one revision
    assert api["name"] == "Azure OpenAI Service API"
    assert api["basePath"] == "/QXp1cmUgT3BlbkFJIFNlcnZpY2UgQVBJMjAyNC0wNi0wMQ"
    assert api["version"] == "1.0.0" and api["defaultVersion"] is False
    vendors = {v["id"]: v["name"] for v in cp.ok("GET", "/vendors")["items"]}
    assert vendors[api["vendor"]] == "AzureOpenAI"  # ai-provider-azure-ai
    assert [(o["verb"], o["target"]) for o in api["operations"]] == [
        ("POST", "/completions"), ("POST", "/embeddings"), ("POST", "/chat/completions"),
        ("POST", "/audio/transcriptions"), ("POST", "/audio/translations"),
        ("POST", "/images/generations")]
    eps = cp.ok("GET", "/apis/%s/endpoints" % api["id"])["items"]
    assert len(eps) == 1
    ep = eps[0]
    assert ep["name"] == "backend-33eb53282e93f5fd3f26935311af727d58bd42c3-api"
    assert ep["environment"] == "production"
    assert ep["url"] == "https://xxxx.openai.azure.com/openai/deployments/gpt-4o"
    assert ep["security"] == {"secret": "mysecret", "secretKey": "apiKey", "header": "api-key",
                              "prefix": ""}
    pols = cp.ok("GET", "/apis/%s/policies" % api["id"])["items"]
    assert len(pols) == 1
    p = pols[0]
    assert (p["type"], p["scope"], p["unit"]) == ("aiRateLimit", "api", "minute")
    assert (p["requestTokens"], p["responseTokens"], p["totalTokens"], p["requests"]) == \
        (5000, 10000, 15000, 6000)
    assert cp.ok("GET", "/secrets/mysecret")["keys"] == ["apiKey"]
    # the base64 data was decoded (the value only ever reaches data planes)
    assert "sk-azure-secret-42" in json.dumps(cp_util.snapshot(cp))


def test_deployment_written_as_model_placeholder_is_kept(cp):
    body = data("azure-openai.yaml").replace(b"/openai/deployments/gpt-4o",
                                             b"/openai/deployments/{model}")
    r = imp(cp, body)
    assert r.status == 201, r
    ep = cp.ok("GET", "/apis/%s/endpoints" % r.json()["id"])["items"][0]
    assert ep["url"].endswith("/openai/deployments/{model}")


def test_ai_provider_in_the_body_becomes_a_vendor(cp):
    body = data("model-routing.yaml").replace(b'providerName : "OpenAI"',
                                              b'providerName : "CorpLLM"')
    body = body.replace(b'"gpt-3.5"', b'"o1-mini"')
    r = imp(cp, body)
    assert r.status == 201, r
    vendors = {v["name"]: v for v in cp.ok("GET", "/vendors")["items"]}
    v = vendors["CorpLLM"]
    assert r.json()["vendor"] == v["id"]
    assert v["apiVersion"] == "v1" and v["builtin"] is False
    assert v["usage"] == {"promptTokens": "usage.promptTokens",
                          "completionTokens": "usage.completionTokens",
                          "totalTokens": "usage.totalTokens"}
    assert v["requestModel"] == {"in": "body", "field": "model"}
    assert v["responseModel"] == {"in": "body", "field": "model"}
    assert sorted(v["models"]) == ["gpt-4o", "gpt-4o-mini", "o1-mini"]
    # a second import reuses the vendor of that name (no second vendor)
    body2 = body.replace(b"/chat-service-prod-sand/1.0", b"/second/1.0")
    r = imp(cp, body2)
    assert r.status == 201, r
    assert r.json()["vendor"] == v["id"]
    assert [x["name"] for x in cp.ok("GET", "/vendors")["items"]].count("CorpLLM") == 1


def test_v1alpha3_ai_provider_model_field(cp):
    body = data("model-routing.yaml").replace(b'providerName : "OpenAI"',
                                              b'providerName : "OldLLM"')
    body = body.replace(b"""  requestModel:
    in: "Body"
    value: "model"
  responseModel:
    in: "Body"
    value: "model"
""", b"""  model:
    in: "Body"
    value: "model_name"
""").replace(b"apiVersion: dp.wso2.com/v1alpha4\nkind: AIProvider",
             b"apiVersion: dp.wso2.com/v1alpha3\nkind: AIProvider")
    body = body.replace(b"  supportedModels:\n    - \"gpt-4o\"\n    - \"gpt-3.5\"\n",
                        b"  supportedModels:\n    - \"gpt-4o\"\n    - \"o1-mini\"\n")
    r = imp(cp, body)
    assert r.status == 201, r
    v = [x for x in cp.ok("GET", "/vendors")["items"] if x["name"] == "OldLLM"][0]
    assert v["requestModel"] == {"in": "body", "field": "model_name"}
    assert v["responseModel"] == {"in": "body", "field": "model_name"}


def test_secrets_string_data_and_replacement(cp):
    cp.ok("PUT", "/secrets/mysecret", {"apiKey": "old-value", "other": "x"})
    body = data("azure-openai.yaml").replace(
        b"data:\n  apiKey: c2stYXp1cmUtc2VjcmV0LTQy",
        b"data:\n  apiKey: c2stYXp1cmUtc2VjcmV0LTQy\nstringData:\n  extra: plain-text-value")
    body = body.replace(b'valueKey: "apiKey"', b'valueKey: "extra"')
    r = imp(cp, body)
    assert r.status == 201, r
    # replaced as PUT /secrets does: the old key set is gone
    assert cp.ok("GET", "/secrets/mysecret")["keys"] == ["apiKey", "extra"]
    text = json.dumps(cp_util.snapshot(cp))
    assert "plain-text-value" in text and "old-value" not in text


def test_backend_secret_may_live_outside_the_body(cp):
    body = data("azure-openai.yaml")
    body = body[:body.index(b"---\napiVersion: v1\nkind: Secret")] + \
        body[body.index(b"---\napiVersion: dp.wso2.com/v1alpha3\nkind: AIRateLimitPolicy"):]
    r = imp(cp, body)
    assert r.status == 201, r
    assert cp.api("GET", "/secrets/mysecret").status == 404


# --- 400s: the document, the line and the problem; nothing created ----------

AZ = None


def azure():
    global AZ
    if AZ is None:
        AZ = data("azure-openai.yaml").decode()
    return AZ


def line_of(text, needle):
    return text[:text.index(needle)].count("\n") + 1


def case_unknown_kind():
    t = azure() + "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec: {}\n"
    return t, 'Ingress "web", line %d, column 7: unknown kind "Ingress"' % line_of(t, "kind: Ingress")


def case_missing_route():
    t = azure().replace('    - "8bcdea77634e2d4c827a7ea88f8075c4dd538834-production-httproute-1"',
                        '    - "no-such-route"')
    return t, 'API "azure-open-ai", line %d, column 7: HTTPRoute "no-such-route" is not in the body' \
        % line_of(t, '"no-such-route"')


def case_missing_backend():
    t = azure().replace('      name: "backend-33eb53282e93f5fd3f26935311af727d58bd42c3-api"\n  - matches:',
                        '      name: "gone"\n  - matches:', 1)
    return t, 'HTTPRoute "8bcdea77634e2d4c827a7ea88f8075c4dd538834-production-httproute-1", line %d, ' \
        'column 13: Backend "gone" is not in the body' % line_of(t, '"gone"')


def case_missing_provider():
    t = azure().replace('name: "ai-provider-azure-ai"', 'name: "my-own-provider"')
    return t, 'APIPolicy "ai-provider-8bcdea77634e2d4c827a7ea88f8075c4dd538834-api-policy", line %d, ' \
        'column 13: AIProvider "my-own-provider" is not in the body' % line_of(t, '"my-own-provider"')


def case_two_apis():
    t = azure() + "---\napiVersion: dp.wso2.com/v1alpha3\nkind: API\nmetadata:\n  name: other\n" \
        "spec:\n  apiName: other\n  apiVersion: \"1\"\n  basePath: /other/1\n"
    return t, 'API "other", line %d, column 1: a second API document' % line_of(t, "apiVersion: dp.wso2.com/v1alpha3\nkind: API\nmetadata:\n  name: other")


def case_placeholder():
    t = azure().replace("/openai/deployments/gpt-4o", "/openai/deployments/{deployment-id}")
    return t, 'Backend "backend-33eb53282e93f5fd3f26935311af727d58bd42c3-api", line %d, column 13: ' \
        'placeholder {deployment-id}' % line_of(t, "deployments/{deployment-id}")


def case_endpoint_placeholder():
    t = azure().replace('host: "xxxx.openai.azure.com"', 'host: "{endpoint}"')
    return t, 'Backend "backend-33eb53282e93f5fd3f26935311af727d58bd42c3-api", line %d, column 11: ' \
        'placeholder {endpoint}' % line_of(t, 'host: "{endpoint}"')


def case_units():
    t = azure().replace("      requestsPerUnit: 6000\n      unit: Minute",
                        "      requestsPerUnit: 6000\n      unit: Hour")
    return t, 'AIRateLimitPolicy "llm-backend-rl", line %d, column 13: requestCount.unit must equal ' \
        'tokenCount.unit' % line_of(t, "unit: Hour")


def case_rewrite():
    t = azure().replace('replaceFullPath: "/embeddings"', 'replaceFullPath: "/v2/embeddings"')
    return t, 'HTTPRoute "8bcdea77634e2d4c827a7ea88f8075c4dd538834-production-httproute-1", line %d, ' \
        'column 28: URLRewrite must rewrite to the same path' % line_of(t, '"/v2/embeddings"')


def case_bad_base64():
    t = azure().replace("apiKey: c2stYXp1cmUtc2VjcmV0LTQy", "apiKey: not*base64")
    return t, 'Secret "mysecret", line %d, column 11: data.apiKey is not base64' \
        % line_of(t, "not*base64")


def case_ratelimit_target():
    t = azure().replace("    kind: Backend\n    name: backend-33eb53282e93f5fd3f26935311af727d58bd42c3-api",
                        "    kind: Backend\n    name: elsewhere")
    return t, 'AIRateLimitPolicy "llm-backend-rl", line %d, column 5: Backend "elsewhere" is not in ' \
        'the body' % line_of(t, "kind: Backend\n    name: elsewhere")


def case_unmappable_field():
    t = azure().replace('  protocol: "https"\n', '  protocol: "https"\n  circuitBreaker:\n    maxRequests: 3\n')
    return t, 'Backend "backend-33eb53282e93f5fd3f26935311af727d58bd42c3-api", line %d, column 3: ' \
        'unknown key "circuitBreaker" in spec' % line_of(t, "circuitBreaker")


def case_resource_layer():
    # an unknown model is the resource layer's 400, with the document named
    t = data("model-routing.yaml").decode().replace('model: "o1-mini"', 'model: "no-such-model"', 1)
    return t, 'APIPolicy "chat-round-robin-prod-sand-api-policy", line %d, column 7: ' \
        % line_of(t, "onQuotaExceedSuspendDuration: 60")


CASES = [case_unknown_kind, case_missing_route, case_missing_backend, case_missing_provider,
         case_two_apis, case_placeholder, case_endpoint_placeholder, case_units, case_rewrite,
         case_bad_base64, case_ratelimit_target, case_unmappable_field, case_resource_layer]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_each_error_names_document_line_and_problem(cp, case):
    text, want = case()
    cp.ok("PUT", "/secrets/mysecret", {"apiKey": "before"})
    rev = revision(cp)
    r = imp(cp, text.encode())
    assert r.status == 400, r
    assert message(r).startswith(want), (message(r), want)
    assert revision(cp) == rev
    assert cp.ok("GET", "/apis")["items"] == []
    assert cp.ok("GET", "/secrets/mysecret")["keys"] == ["apiKey"]


# --- hostile YAML -------------------------------------------------------------

def hostile_cases():
    head = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
    laughs = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: &a lol\n" + "".join(
        "k%d: &l%d [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n"
        % ((i, i) + (("a" if i == 0 else "l%d" % (i - 1)),) * 9) for i in range(9))
    return [
        ("billion laughs", laughs.encode(), "anchors"),
        ("alias expansion", (head + "stringData:\n  a: &x v\n  b: *x\n").encode(), "anchors"),
        ("deep nesting", (head + "spec: " + "[" * 5000 + "]" * 5000 + "\n").encode(),
         "nesting too deep"),
        ("10,000 documents", ("---\n" + head) * 10000, "too many documents"),
        ("tabs", (head + "stringData:\n\ta: b\n").encode(), "tab"),
        ("invalid UTF-8", (head + "stringData:\n  a: \"").encode() + b"\xff\xfe\"\n",
         "UTF-8"),
    ]


@pytest.mark.parametrize("name,body,text", hostile_cases(), ids=[c[0] for c in hostile_cases()])
def test_hostile_yaml_is_refused_quickly_with_bounded_memory(cp, name, body, text):
    if isinstance(body, str):
        body = body.encode()
    assert len(body) <= 1024 * 1024
    rev = revision(cp)
    before = cp_util.proc_status(cp.pid, "VmRSS")
    t0 = time.time()
    for _ in range(3):
        r = imp(cp, body)
        assert r.status == 400, r
        assert text in message(r), message(r)
        assert message(r).startswith("line "), message(r)
    assert time.time() - t0 < 3 * mm.SLOW
    assert cp_util.proc_status(cp.pid, "VmRSS") - before < 64 * 1024  # KiB
    assert revision(cp) == rev
    assert cp.poll() is None


# --- export and round trips -------------------------------------------------

def export(cp, api_id):
    r = cp.api("GET", "/apis/%s/crs" % api_id)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/yaml")
    docs = [d for d in yaml.safe_load_all(r.body) if d]  # valid YAML
    assert docs[0]["kind"] == "API"
    assert b"sk-" not in r.body and b"kind: \"Secret\"" not in r.body
    return r.body


def assert_round_trip(cp, api_id):
    """Exports api_id as CRs, imports them into a fresh control plane,
    compares; then exports again there and checks the YAML is stable."""
    before = import_util.api_snapshot(cp, api_id)
    text = export(cp, api_id)
    cp2 = mm.ControlPlane()
    try:
        r = imp(cp2, text)
        assert r.status == 201, (r, text.decode())
        after = import_util.api_snapshot(cp2, r.json()["id"])
        assert after == before, text.decode()
        assert export(cp2, r.json()["id"]) == text
    finally:
        cp2.stop()
    return text


@pytest.mark.parametrize("name", ["azure-openai.yaml", "model-routing.yaml"])
def test_imported_examples_round_trip(cp, name):
    r = imp(cp, data(name))
    assert r.status == 201, r
    text = assert_round_trip(cp, r.json()["id"])
    assert b"x-modelmux-model" not in text


def vendor_id(cp, name):
    return [v["id"] for v in cp.ok("GET", "/vendors")["items"] if v["name"] == name][0]


def test_modelmux_only_features_round_trip_as_extensions(cp):
    api = cp.ok("POST", "/apis", {"name": "only-mm", "basePath": "/only", "version": "v2",
                                  "vendor": vendor_id(cp, "OpenAI"), "defaultVersion": True,
                                  "subscriptionValidation": True})
    mk = lambda b: cp.ok("POST", "/apis/%s/endpoints" % api["id"], b)
    a = mk({"name": "primary", "environment": "production", "url": "https://a.example.com/v1",
            "timeoutMs": 1500, "security": {"secret": "k", "secretKey": "apiKey",
                                             "header": "Authorization", "prefix": "Token "}})
    b = mk({"name": "backup", "environment": "production", "url": "http://b.example.com:8080",
            "security": {"secret": "k2", "secretKey": "key", "header": "x-api-key"}})
    s = mk({"name": "sbx", "environment": "sandbox", "url": "https://c.example.com/x/{model}"})
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "modelFailover", "requestTimeoutMs": 20000, "suspendDurationSec": 30,
           "production": {"target": {"model": "gpt-4o", "endpoint": a["id"]},
                          "fallbacks": [{"model": "gpt-4o-mini", "endpoint": b["id"]},
                                        {"model": "o1-mini", "endpoint": a["id"]}]},
           "sandbox": {"target": {"model": "gpt-4o", "endpoint": s["id"]}, "fallbacks": []}})
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "modelFailover", "production": {
              "target": {"model": "o1-mini", "endpoint": b["id"]}, "fallbacks": []}})
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "aiRateLimit", "unit": "day", "scope": "application", "requestTokens": 100,
           "requests": 7})
    text = assert_round_trip(cp, api["id"])
    assert b"x-modelmux-modelFailover" in text and b'scope: "application"' in text
    assert b'headerPrefix: "Token "' in text and b"timeoutMs: 1500" in text

    api2 = cp.ok("POST", "/apis", {"name": "rr", "basePath": "/rr", "version": "v1",
                                   "vendor": vendor_id(cp, "Mistral")})
    c = cp.ok("POST", "/apis/%s/endpoints" % api2["id"],
              {"name": "c", "environment": "sandbox", "url": "https://c.example.com/v1"})
    models = cp.ok("GET", "/vendors/%s/models" % api2["vendor"])["items"]
    cp.ok("POST", "/apis/%s/policies" % api2["id"],
          {"type": "modelRoundRobin", "suspendDurationSec": 5,
           "sandbox": [{"model": m, "endpoint": c["id"]} for m in models[:2]]})
    text = assert_round_trip(cp, api2["id"])
    assert b"x-modelmux-modelRoundRobin" in text and b"ai-provider-mistral-ai" in text


def test_custom_vendor_and_bare_api_round_trip(cp):
    v = cp.ok("POST", "/vendors", {"name": "Corp AI", "apiVersion": "2025", "models": ["m1", "m2"],
                                   "requestModel": {"in": "path", "field": "model"},
                                   "usage": {"promptTokens": "u.in", "completionTokens": "u.out",
                                             "totalTokens": "u.all"}})
    api = cp.ok("POST", "/apis", {"name": "corp", "basePath": "/corp", "version": "v1",
                                  "vendor": v["id"]})
    text = assert_round_trip(cp, api["id"])
    assert b"kind: \"AIProvider\"" in text and b'value: "$u.in"' in text
    assert cp.api("GET", "/apis/nope/crs").status == 404
    assert cp.api("GET", "/apis/%s/crs" % api["id"], token="wrong").status == 401


def test_routing_fields_and_unsecured_operations_round_trip(cp):
    api = cp.ok("POST", "/apis", {"name": "fields", "basePath": "/fields", "version": "v1",
                                  "vendor": vendor_id(cp, "OpenAI"),
                                  "operations": [{"target": "/chat/completions", "verb": "POST",
                                                  "secured": False},
                                                 {"target": "/embeddings", "verb": "POST",
                                                  "scopes": ["embed", "read:models"]}]})
    e = cp.ok("POST", "/apis/%s/endpoints" % api["id"],
              {"name": "b", "environment": "production", "url": "http://b.example.com:8080"})
    cp.ok("POST", "/apis/%s/policies" % api["id"],
          {"type": "modelWeightedRoundRobin", "retries": 2, "maxRetryAfterWaitSec": 5,
           "firstTokenTimeoutMs": 500, "streamIdleTimeoutMs": 300, "midStreamFailover": "continue",
           "operations": ["/chat/completions"],
           "production": [{"model": "gpt-4o", "endpoint": e["id"], "weight": 2}]})
    text = assert_round_trip(cp, api["id"])
    assert b"x-modelmux-routing:" in text and b"secured: false" in text
    assert b'scopes: ["embed", "read:models"]' in text

    api2 = cp.ok("POST", "/apis", {"name": "fo-fields", "basePath": "/fof", "version": "v1",
                                   "vendor": vendor_id(cp, "OpenAI")})
    e2 = cp.ok("POST", "/apis/%s/endpoints" % api2["id"],
               {"name": "b", "environment": "production", "url": "https://b.example.com"})
    cp.ok("POST", "/apis/%s/policies" % api2["id"],
          {"type": "modelFailover", "retries": 1, "midStreamFailover": "continue",
           "production": {"target": {"model": "gpt-4o", "endpoint": e2["id"]},
                          "fallbacks": [{"model": "o1-mini", "endpoint": e2["id"]}]}})
    text = assert_round_trip(cp, api2["id"])
    assert b"retries: 1" in text
