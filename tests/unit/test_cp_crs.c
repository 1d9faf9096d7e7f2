/* Unit tests of the custom-resource import and export (controlplane/
 * crs_import.c and the files it drives, crs_export.c) and of the mapping
 * they share with the apk-conf import (import_map.c): APK's Azure OpenAI example and model
 * routing sample as they stand, base64 and placeholders, errors naming the
 * document and the line, hostile streams, export -> import of every
 * policy type, and allocation failures. */
#include "controlplane/crs_import.c"
#include "controlplane/crs_routes.c" /* check_placeholders */
#include "controlplane/crs_secret.c" /* b64_decode */

#include <time.h>

#include "common/alloc.h"
#include "testdata.h"
#include "testhelp.h"

/* Parses text as a stream of CRs; NULL with err on failure. */
static json_t *parse_text(const char *text, size_t len, struct gw_err *err)
{
    struct cp_ynode *docs = NULL;
    json_t *out = NULL;

    gw_err_clear(err);
    if (cp_yt_parse(text, len, CP_CRS_MAX_DOCS, "too many documents", &docs, err) == 0 &&
        cp_crs_parse(docs, &out, err) < 0)
        out = NULL;
    cp_yt_free(docs);
    return out;
}

static json_t *parse_file(const char *name, struct gw_err *err)
{
    size_t len = 0;
    char *text = read_test_data("crs", name, &len);
    json_t *out = text ? parse_text(text, len, err) : NULL;

    free(text);
    return out;
}

/* The Azure example with from replaced by to (first occurrence after the
 * file's opening comment), parsed; the error message is left in err. */
static json_t *parse_azure_with(const char *from, const char *to, struct gw_err *err)
{
    size_t len = 0;
    char *text = read_test_data("crs", "azure-openai.yaml", &len);
    char *body = strstr(text, "apiVersion:"), *at = body ? strstr(body, from) : NULL;
    char *patched = malloc(len + strlen(to) + 1);
    json_t *out = NULL;

    if (at) {
        int head = (int)(at - text);
        snprintf(patched, len + strlen(to) + 1, "%.*s%s%s", head, text, to, at + strlen(from));
        out = parse_text(patched, strlen(patched), err);
    } else {
        fprintf(stderr, "  \"%s\" not in the example\n", from);
        mm_current_failed = 1;
    }
    free(patched);
    free(text);
    return out;
}

/* Checks that the patched example fails with a message starting with want. */
static void expect_error(const char *from, const char *to, const char *want)
{
    struct gw_err err;
    json_t *out = parse_azure_with(from, to, &err);

    CHECK(out == NULL);
    json_decref(out);
    CHECK_INT(err.kind, GW_ERR_INVALID);
    if (strncmp(err.message, want, strlen(want)) != 0) {
        fprintf(stderr, "  got  \"%s\"\n  want \"%s...\"\n", err.message, want);
        mm_current_failed = 1;
    }
}

/* ------------------------------------------------------------------------ */

TEST("APK's Azure OpenAI example maps as SPEC 7.1 says")
{
    struct gw_err err;
    json_t *d = parse_file("azure-openai.yaml", &err);

    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "  %s\n", err.message);
        return;
    }
    CHECK_STR(sget(d, "api.name"), "Azure OpenAI Service API");
    CHECK_STR(sget(d, "api.basePath"), "/QXp1cmUgT3BlbkFJIFNlcnZpY2UgQVBJMjAyNC0wNi0wMQ");
    CHECK_STR(sget(d, "api.version"), "1.0.0");
    CHECK(json_is_false(jget(d, "api.defaultVersion")));
    CHECK_INT(json_array_size(jget(d, "api.operations")), 6);
    CHECK_STR(sget(d, "api.operations.#2.target"), "/chat/completions");
    CHECK_STR(sget(d, "api.operations.#2.verb"), "POST");
    CHECK_STR(sget(d, "vendor.name"), "AzureOpenAI"); /* ai-provider-azure-ai */
    CHECK(jget(d, "vendor.create") == NULL);
    CHECK(strstr(sget(d, "vendor.at"), "APIPolicy \"ai-provider-") == sget(d, "vendor.at"));

    CHECK_INT(json_array_size(jget(d, "endpoints")), 1);
    CHECK_STR(sget(d, "endpoints.#0.ref"), "backend-33eb53282e93f5fd3f26935311af727d58bd42c3-api");
    CHECK_STR(sget(d, "endpoints.#0.body.environment"), "production");
    CHECK_STR(sget(d, "endpoints.#0.body.url"),
              "https://xxxx.openai.azure.com/openai/deployments/gpt-4o");
    CHECK_STR(sget(d, "endpoints.#0.body.security.secret"), "mysecret");
    CHECK_STR(sget(d, "endpoints.#0.body.security.secretKey"), "apiKey");
    CHECK_STR(sget(d, "endpoints.#0.body.security.header"), "api-key");
    CHECK_STR(sget(d, "endpoints.#0.body.security.prefix"), "");

    CHECK_INT(json_array_size(jget(d, "policies")), 1);
    CHECK_STR(sget(d, "policies.#0.body.type"), "aiRateLimit");
    CHECK_STR(sget(d, "policies.#0.body.scope"), "api");
    CHECK_STR(sget(d, "policies.#0.body.unit"), "minute");
    CHECK_INT(iget(d, "policies.#0.body.requestTokens"), 5000);
    CHECK_INT(iget(d, "policies.#0.body.responseTokens"), 10000);
    CHECK_INT(iget(d, "policies.#0.body.totalTokens"), 15000);
    CHECK_INT(iget(d, "policies.#0.body.requests"), 6000);

    CHECK_INT(json_array_size(jget(d, "secrets")), 1);
    CHECK_STR(sget(d, "secrets.#0.name"), "mysecret");
    CHECK_STR(sget(d, "secrets.#0.values.apiKey"), "sk-azure-secret-42");
    json_decref(d);
}

TEST("model routing sample: a Backend in both environments gives <name>-sandbox")
{
    struct gw_err err;
    json_t *d = parse_file("model-routing.yaml", &err);

    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "  %s\n", err.message);
        return;
    }
    CHECK_STR(sget(d, "api.basePath"), "/chat-service-prod-sand");
    CHECK_STR(sget(d, "vendor.name"), "OpenAI");
    CHECK_STR(sget(d, "vendor.create.usage.promptTokens"), "usage.promptTokens");
    CHECK_STR(sget(d, "vendor.create.requestModel.in"), "body");
    CHECK_INT(json_array_size(jget(d, "vendor.create.models")), 3);
    CHECK_INT(json_array_size(jget(d, "endpoints")), 4);
    CHECK_STR(sget(d, "endpoints.#0.ref"), "chat-backend-1");
    CHECK_STR(sget(d, "endpoints.#1.ref"), "chat-backend-2");
    CHECK_STR(sget(d, "endpoints.#2.ref"), "chat-backend-1-sandbox");
    CHECK_STR(sget(d, "endpoints.#2.body.environment"), "sandbox");
    CHECK_STR(sget(d, "endpoints.#3.ref"), "chat-backend-2-sandbox");
    CHECK_STR(sget(d, "endpoints.#0.body.url"), "https://api.openai.com/v1"); /* "/v1/" */
    CHECK_STR(sget(d, "endpoints.#0.body.security.prefix"), "Bearer ");
    CHECK_STR(sget(d, "policies.#0.body.type"), "modelWeightedRoundRobin");
    CHECK_INT(iget(d, "policies.#0.body.suspendDurationSec"), 60);
    CHECK_STR(sget(d, "policies.#0.body.production.#1.model"), "o1-mini");
    CHECK_STR(sget(d, "policies.#0.body.production.#1.endpoint"), "chat-backend-2");
    CHECK_INT(iget(d, "policies.#0.body.production.#0.weight"), 3);
    CHECK_STR(sget(d, "policies.#0.body.sandbox.#2.endpoint"), "chat-backend-2-sandbox");
    CHECK_STR(sget(d, "secrets.#0.values.apiKey"), "sk-round-robin");
    json_decref(d);
}

TEST("base64 data: padding, bad characters, bad length")
{
    char out[64];
    size_t n = 0;

    CHECK_INT(b64_decode("c2stYXp1cmUtc2VjcmV0LTQy", 24, out, &n), 0);
    CHECK_STR(out, "sk-azure-secret-42");
    CHECK_INT(b64_decode("YQ==", 4, out, &n), 0);
    CHECK_INT(n, 1);
    CHECK_STR(out, "a");
    CHECK_INT(b64_decode("YWI=", 4, out, &n), 0);
    CHECK_STR(out, "ab");
    CHECK_INT(b64_decode("", 0, out, &n), 0);
    CHECK_INT(n, 0);
    CHECK_INT(b64_decode("YQ=", 3, out, &n), -1);
    CHECK_INT(b64_decode("Y=Q=", 4, out, &n), -1);
    CHECK_INT(b64_decode("no*t", 4, out, &n), -1);
    CHECK_INT(b64_decode("=abc", 4, out, &n), -1);
}

TEST("placeholders: {model} kept, any other refused")
{
    struct cp_ynode at = {.line = 3, .col = 4};
    struct gw_err err;

    CHECK_INT(check_placeholders("/openai/deployments/{model}", &at, &err), 0);
    CHECK_INT(check_placeholders("/plain", &at, &err), 0);
    CHECK_INT(check_placeholders("/x/{deployment-id}", &at, &err), -1);
    CHECK(strstr(err.message, "line 3, column 4: placeholder {deployment-id}") == err.message);
    CHECK_INT(check_placeholders("/{model}/{endpoint}", &at, &err), -1);
    CHECK(strstr(err.message, "{endpoint}") != NULL);
    CHECK_INT(check_placeholders("/x/{unclosed", &at, &err), -1);
    CHECK_INT(check_placeholders("/x/{Model}", &at, &err), -1);
}

TEST("errors name the document, the line and the problem")
{
    expect_error("kind: API\n", "kind: Api\n",
                 "Api \"azure-open-ai\", line 6, column 7: unknown kind");
    expect_error("apiVersion: dp.wso2.com/v1alpha3\nkind: API",
                 "apiVersion: dp.wso2.com/v1\nkind: API",
                 "API \"azure-open-ai\", line 5, column 13: apiVersion \"dp.wso2.com/v1\"");
    expect_error("    - \"8bcdea77634e2d4c827a7ea88f8075c4dd538834-production-httproute-1\"",
                 "    - \"elsewhere\"",
                 "API \"azure-open-ai\", line 19, column 7: HTTPRoute \"elsewhere\" is not in");
    expect_error("/openai/deployments/gpt-4o", "/openai/deployments/{deployment-id}",
                 "Backend \"backend-33eb53282e93f5fd3f26935311af727d58bd42c3-api\", line 134, "
                 "column 13: placeholder {deployment-id}");
    expect_error("      unit: Minute\n  targetRef", "      unit: Day\n  targetRef",
                 "AIRateLimitPolicy \"llm-backend-rl\", line 182, column 13: requestCount.unit "
                 "must equal tokenCount.unit");
    expect_error("replaceFullPath: \"/completions\"", "replaceFullPath: \"/x\"",
                 "HTTPRoute \"8bcdea77634e2d4c827a7ea88f8075c4dd538834-production-httproute-1\", "
                 "line 40, column 28: URLRewrite must rewrite to the same path");
    expect_error("    name: azure-open-ai\n", "    name: other-api\n",
                 "APIPolicy \"ai-provider-8bcdea77634e2d4c827a7ea88f8075c4dd538834-api-policy\", "
                 "line 154, column 5: API \"other-api\" is not in the body");
    expect_error("      method: \"POST\"\n", "",
                 "HTTPRoute \"8bcdea77634e2d4c827a7ea88f8075c4dd538834-production-httproute-1\", "
                 "line 31, column 7: method is required");
    expect_error("  protocol: \"https\"", "  protocol: \"wss\"",
                 "Backend \"backend-33eb53282e93f5fd3f26935311af727d58bd42c3-api\", line 135, "
                 "column 13: protocol must be http or https");
    expect_error("kind: Secret\nmetadata:\n  name: mysecret",
                 "kind: Secret\nmetadata:\n  name: azure-open-ai\n  uid2: x",
                 "Secret \"azure-open-ai\", line 162, column 3: unknown key \"uid2\" in metadata");
}

TEST("two API documents, no API document")
{
    struct gw_err err;
    const char *api = "apiVersion: dp.wso2.com/v1alpha3\nkind: API\nmetadata:\n  name: a\n"
                      "spec:\n  apiName: a\n  apiVersion: \"1\"\n  basePath: /a/1\n";
    char two[1024];
    json_t *d;

    snprintf(two, sizeof(two), "%s---\n%s", api, api);
    d = parse_text(two, strlen(two), &err);
    CHECK(d == NULL);
    CHECK(strstr(err.message, "API \"a\", line 10, column 1: a second") == err.message);
    d = parse_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: v\n", 63,
                   &err);
    CHECK(d == NULL);
    CHECK(strstr(err.message, "line 1, column 1: no API document") == err.message);
}

TEST("detect: an apk-conf is not a CR stream")
{
    struct gw_err err;
    struct cp_ynode *docs = NULL;
    const char *conf = "name: x\nbasePath: /x\nversion: v1\n";
    const char *crs = "---\n---\nkind: API\napiVersion: dp.wso2.com/v1alpha3\n";

    CHECK_INT(cp_yt_parse(conf, strlen(conf), 4, "many", &docs, &err), 0);
    CHECK_INT(cp_crs_detect(docs), 0);
    cp_yt_free(docs);
    CHECK_INT(cp_yt_parse(crs, strlen(crs), 4, "many", &docs, &err), 0);
    CHECK_INT(cp_crs_detect(docs), 1);
    cp_yt_free(docs);
}

TEST("hostile streams: 10,000 documents, anchors, deep nesting stop early")
{
    struct gw_err err;
    struct cp_ynode *docs = NULL;
    const char *one = "---\nkind: Secret\n";
    size_t n = 10000, len = strlen(one) * n;
    char *big = malloc(len + 1);
    struct timespec t0, t1;

    for (size_t i = 0; i < n; i++)
        memcpy(big + i * strlen(one), one, strlen(one));
    big[len] = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(cp_yt_parse(big, len, CP_CRS_MAX_DOCS, "too many documents", &docs, &err), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(docs == NULL);
    if (!strstr(err.message, "too many documents"))
        fprintf(stderr, "  %s\n", err.message);
    CHECK(strstr(err.message, "line 513, column 1: too many documents") == err.message);
    CHECK(t1.tv_sec - t0.tv_sec < 2);
    free(big);

    const char *laughs = "kind: API\nmetadata: &a {name: x}\nspec: *a\n";
    CHECK_INT(cp_yt_parse(laughs, strlen(laughs), 8, "many", &docs, &err), -1);
    CHECK(strstr(err.message, "anchors") != NULL);

    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = 0;
    CHECK_INT(cp_yt_parse(deep, strlen(deep), 8, "many", &docs, &err), -1);
    CHECK(strstr(err.message, "nesting too deep") != NULL);
}

/* ------------------------------------------------------------------------
 * Export -> import
 * ------------------------------------------------------------------------ */

/* Emits the API as CRs and parses them back into a description. */
static json_t *round_trip(const json_t *api, const json_t *vendor, const json_t *eps,
                          const json_t *pols, char **yaml)
{
    struct gw_err err;
    size_t len = 0;
    json_t *d;

    *yaml = NULL;
    if (cp_crs_emit(api, vendor, eps, pols, yaml, &len, &err) < 0) {
        fprintf(stderr, "  emit: %s\n", err.message);
        return NULL;
    }
    d = parse_text(*yaml, len, &err);
    if (!d)
        fprintf(stderr, "  parse: %s\n%s\n", err.message, *yaml);
    return d;
}

TEST("export then import: every policy type and the extensions")
{
    json_t *api = json_pack(
        "{s:s, s:s, s:s, s:b, s:b, s:[{s:s, s:s}, {s:s, s:s}]}", "name", "My API", "basePath",
        "/my", "version", "v2", "defaultVersion", 1, "subscriptionValidation", 1, "operations",
        "target", "/chat/completions", "verb", "POST", "target", "/models", "verb", "GET");
    json_t *vendor = json_pack(
        "{s:s, s:s, s:b, s:[s], s:{s:s, s:s}, s:{s:s, s:s, s:s}}", "name", "Corp", "apiVersion",
        "9", "builtin", 0, "models", "m1", "requestModel", "in", "path", "field", "model", "usage",
        "promptTokens", "u.a", "completionTokens", "u.b", "totalTokens", "u.c");
    json_t *eps = json_pack("[{s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s, s:s}},"
                            " {s:s, s:s, s:s, s:s, s:i, s:n}]",
                            "id", "e1", "name", "one", "environment", "production", "url",
                            "http://10.0.0.1:8080/v1/{model}", "timeoutMs", 1500, "security",
                            "secret", "s", "secretKey", "k", "header", "x-key", "prefix", "Key ",
                            "id", "e2", "name", "two", "environment", "sandbox", "url",
                            "https://h.example.com", "timeoutMs", 60000, "security");
    json_t *pols = json_pack("[{s:s, s:i, s:[{s:s, s:s}]},"
                             " {s:s, s:i, s:i, s:i, s:{s:{s:s, s:s}, s:[{s:s, s:s}]}},"
                             " {s:s, s:s, s:s, s:i, s:i}]",
                             "type", "modelRoundRobin", "suspendDurationSec", 5, "sandbox", "model",
                             "m1", "endpoint", "e2", "type", "modelFailover", "requestTimeoutMs",
                             900, "suspendDurationSec", 7, "retries", 2, "production", "target",
                             "model", "m1", "endpoint", "e1", "fallbacks", "model", "m1",
                             "endpoint", "e1", "type", "aiRateLimit", "unit", "hour", "scope",
                             "application", "totalTokens", 10, "requests", 3);
    char *yaml = NULL;
    json_t *d = round_trip(api, vendor, eps, pols, &yaml);

    CHECK(d != NULL);
    if (d) {
        CHECK_STR(sget(d, "api.name"), "My API");
        CHECK_STR(sget(d, "api.basePath"), "/my");
        CHECK(json_is_true(jget(d, "api.defaultVersion")));
        CHECK(json_is_true(jget(d, "api.subscriptionValidation")));
        CHECK_STR(sget(d, "api.operations.#1.target"), "/models");
        CHECK_STR(sget(d, "api.operations.#1.verb"), "GET");
        CHECK_STR(sget(d, "vendor.name"), "Corp");
        CHECK_STR(sget(d, "vendor.create.requestModel.in"), "path");
        CHECK_STR(sget(d, "vendor.create.usage.totalTokens"), "u.c");
        CHECK_STR(sget(d, "endpoints.#0.body.url"), "http://10.0.0.1:8080/v1/{model}");
        CHECK_INT(iget(d, "endpoints.#0.body.timeoutMs"), 1500);
        CHECK_STR(sget(d, "endpoints.#0.body.security.prefix"), "Key ");
        CHECK_STR(sget(d, "endpoints.#0.body.security.header"), "x-key");
        CHECK_STR(sget(d, "endpoints.#1.ref"), "two");
        CHECK_STR(sget(d, "endpoints.#1.body.url"), "https://h.example.com");
        CHECK(jget(d, "endpoints.#1.body.security") == NULL);
        CHECK_STR(sget(d, "policies.#0.body.type"), "modelRoundRobin");
        CHECK_STR(sget(d, "policies.#0.body.sandbox.#0.endpoint"), "two");
        CHECK(jget(d, "policies.#0.body.sandbox.#0.weight") == NULL);
        CHECK_STR(sget(d, "policies.#1.body.type"), "modelFailover");
        CHECK_INT(iget(d, "policies.#1.body.requestTimeoutMs"), 900);
        CHECK_INT(iget(d, "policies.#1.body.retries"), 2);
        CHECK_STR(sget(d, "policies.#1.body.production.fallbacks.#0.endpoint"), "one");
        CHECK_STR(sget(d, "policies.#2.body.scope"), "application");
        CHECK_STR(sget(d, "policies.#2.body.unit"), "hour");
        CHECK_INT(iget(d, "policies.#2.body.requests"), 3);
        CHECK_INT(json_array_size(jget(d, "secrets")), 0);
    }
    CHECK(yaml && !strstr(yaml, "kind: \"Secret\""));
    gw_free(yaml);
    json_decref(d);
    json_decref(api);
    json_decref(vendor);
    json_decref(eps);
    json_decref(pols);
}

struct text {
    char *s;
    size_t len;
};

static int parse_once(void *ctx, struct gw_err *err)
{
    struct text *t = ctx;
    struct cp_ynode *docs = NULL;
    json_t *out = NULL;
    int rc = cp_yt_parse(t->s, t->len, CP_CRS_MAX_DOCS, "many", &docs, err);

    if (rc == 0)
        rc = cp_crs_parse(docs, &out, err);
    cp_yt_free(docs);
    json_decref(out);
    return rc;
}

TEST("allocation failures: no crash, no leak, NOMEM or success")
{
    struct text t;

    t.s = read_test_data("crs", "model-routing.yaml", &t.len);
    CHECK(alloc_torture(parse_once, &t, 20000));
    free(t.s);
}

static int export_once(void *ctx, struct gw_err *err)
{
    json_t *d = ctx;
    char *yaml = NULL;
    size_t len = 0;
    int rc = cp_crs_emit(json_object_get(d, "api"), json_object_get(d, "vendor"),
                         json_object_get(d, "endpoints"), json_object_get(d, "policies"), &yaml,
                         &len, err);

    gw_free(yaml);
    return rc;
}

TEST("allocation failures while exporting: NOMEM or success, no leak")
{
    json_t *d = json_pack(
        "{s:{s:s, s:s, s:s, s:[{s:s, s:s}]}, s:{s:s, s:b, s:[s], s:{}},"
        " s:[{s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s, s:s}}],"
        " s:[{s:s, s:i, s:[{s:s, s:s, s:i}]}, {s:s, s:s, s:s, s:i}]}",
        "api", "name", "a", "basePath", "/a", "version", "v1", "operations", "target", "/x", "verb",
        "POST", "vendor", "name", "V", "builtin", 0, "models", "m", "usage", "endpoints", "id", "e",
        "name", "e", "environment", "production", "url", "https://h/v1", "timeoutMs", 5, "security",
        "secret", "s", "secretKey", "k", "header", "Authorization", "prefix", "Bearer ", "policies",
        "type", "modelWeightedRoundRobin", "suspendDurationSec", 1, "production", "model", "m",
        "endpoint", "e", "weight", 2, "type", "aiRateLimit", "unit", "day", "scope", "application",
        "requests", 4);

    CHECK(d && alloc_torture(export_once, d, 5000));
    json_decref(d);
}

/* jansson allocates through gw_malloc, so fault injection reaches it. */
__attribute__((constructor)) static void init_alloc(void)
{
    gw_alloc_init();
}

TEST_MAIN()
