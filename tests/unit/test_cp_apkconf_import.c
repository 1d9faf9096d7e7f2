/* Unit tests of controlplane/apkconf_import.c: the SPEC section 7 example as
 * it stands, each mapping rule, each error with its line and column, and the
 * hostile files of tests/data/apkconf/. */
#include "controlplane/apkconf_import.c"

#include <time.h>

#include "common/alloc.h"
#include "testdata.h"
#include "testhelp.h"

static char *read_data(const char *name, size_t *len)
{
    return read_test_data("apkconf", name, len);
}

static json_t *parse_file(const char *name, struct gw_err *err)
{
    size_t len = 0;
    char *text = read_data(name, &len);
    json_t *out = NULL;

    gw_err_clear(err);
    if (text && cp_apkconf_parse(text, len, &out, err) < 0)
        out = NULL;
    free(text);
    return out;
}

static json_t *parse_str(const char *text, struct gw_err *err)
{
    json_t *out = NULL;

    gw_err_clear(err);
    if (cp_apkconf_parse(text, strlen(text), &out, err) < 0)
        return NULL;
    return out;
}

/* Checks that text fails with kind INVALID and a message starting with
 * "line L, column C: " and containing what. */
static void expect_error(const char *text, int line, int col, const char *what)
{
    struct gw_err err;
    json_t *out = parse_str(text, &err);
    char pos[64];

    snprintf(pos, sizeof(pos), "line %d, column %d: ", line, col);
    CHECK(out == NULL);
    json_decref(out);
    CHECK_INT(err.kind, GW_ERR_INVALID);
    if (strncmp(err.message, pos, strlen(pos)) != 0 || !strstr(err.message, what)) {
        fprintf(stderr, "  got \"%s\"\n  want \"%s...%s\"\n", err.message, pos, what);
        mm_current_failed = 1;
    }
}

/* The head of a valid document, for error cases that append to it. */
#define HEAD                                                                                       \
    "name: \"t\"\n"                                                                                \
    "basePath: \"/t\"\n"                                                                           \
    "version: \"1.0\"\n"                                                                           \
    "aiProvider:\n"                                                                                \
    "  name: \"OpenAI\"\n"

/* A HEAD plus one production endpoint: the next line is line 9. */
#define HEAD_EP                                                                                    \
    HEAD "endpointConfigurations:\n"                                                               \
         "  production:\n"                                                                         \
         "    - endpoint: \"https://p.example.com\"\n"

/* ------------------------------------------------------------------------ */

TEST("SPEC section 7 example imports as it stands")
{
    struct gw_err err;
    json_t *d = parse_file("spec-example.yaml", &err);

    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "  %s\n", err.message);
        return;
    }
    CHECK_STR(sget(d, "api.name"), "chat-service-api-prod-sand");
    CHECK_STR(sget(d, "api.basePath"), "/chat-service-prod-sand");
    CHECK_STR(sget(d, "api.version"), "1.0");
    CHECK(json_is_false(jget(d, "api.defaultVersion")));
    CHECK(json_is_false(jget(d, "api.subscriptionValidation")));
    CHECK(jget(d, "api.vendor") == NULL);
    CHECK_STR(sget(d, "api.operations.#0.target"), "/chat/completions");
    CHECK_STR(sget(d, "api.operations.#0.verb"), "POST");
    CHECK(json_is_true(jget(d, "api.operations.#0.secured")));
    CHECK_STR(sget(d, "vendor.name"), "OpenAI");
    CHECK_STR(sget(d, "vendor.apiVersion"), "v1");
    CHECK_INT(iget(d, "vendor.line"), 8);

    /* same URL in both environments: two endpoints */
    CHECK_INT(json_array_size(jget(d, "endpoints")), 2);
    CHECK_STR(sget(d, "endpoints.#0.ref"), "production-1");
    CHECK_STR(sget(d, "endpoints.#0.body.name"), "production-1");
    CHECK_STR(sget(d, "endpoints.#0.body.environment"), "production");
    CHECK_STR(sget(d, "endpoints.#0.body.url"), "https://api.openai.com/v1");
    CHECK_STR(sget(d, "endpoints.#0.body.security.secret"), "open-ai-secret");
    CHECK_STR(sget(d, "endpoints.#0.body.security.secretKey"), "apiKey");
    CHECK_STR(sget(d, "endpoints.#0.body.security.header"), "Authorization");
    CHECK(sget(d, "endpoints.#0.body.security.prefix") == NULL); /* vendor's default */
    CHECK_STR(sget(d, "endpoints.#1.body.name"), "sandbox-1");
    CHECK_STR(sget(d, "endpoints.#1.body.environment"), "sandbox");
    CHECK_STR(sget(d, "endpoints.#1.body.url"), "https://api.openai.com/v1");

    CHECK_INT(json_array_size(jget(d, "policies")), 1);
    CHECK_STR(sget(d, "policies.#0.policyName"), "ModelBasedRoundRobin");
    CHECK_INT(iget(d, "policies.#0.line"), 36);
    CHECK_STR(sget(d, "policies.#0.body.type"), "modelWeightedRoundRobin");
    CHECK_INT(iget(d, "policies.#0.body.suspendDurationSec"), 60);
    CHECK_INT(json_array_size(jget(d, "policies.#0.body.production")), 3);
    CHECK_INT(json_array_size(jget(d, "policies.#0.body.sandbox")), 3);
    CHECK_STR(sget(d, "policies.#0.body.production.#0.model"), "gpt-4o");
    CHECK_STR(sget(d, "policies.#0.body.production.#1.model"), "o1-mini");
    CHECK_STR(sget(d, "policies.#0.body.production.#2.model"), "gpt-4o-mini");
    CHECK_STR(sget(d, "policies.#0.body.production.#2.endpoint"), "production-1");
    CHECK_INT(iget(d, "policies.#0.body.production.#2.weight"), 1);
    CHECK_STR(sget(d, "policies.#0.body.sandbox.#0.endpoint"), "sandbox-1");
    CHECK_STR(sget(d, "policies.#0.body.sandbox.#2.model"), "gpt-4o-mini");
    json_decref(d);
}

TEST("aiRatelimit, resiliency, x-modelmux and the failover extension")
{
    struct gw_err err;
    json_t *d = parse_file("all-policies.yaml", &err);

    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "  %s\n", err.message);
        return;
    }
    CHECK(json_is_true(jget(d, "api.defaultVersion")));
    CHECK(json_is_true(jget(d, "api.subscriptionValidation")));
    CHECK(json_is_false(jget(d, "api.operations.#1.secured")));
    CHECK(jget(d, "api.operations.#1.scopes") == NULL);
    CHECK_STR(sget(d, "api.operations.#0.scopes.#0"), "chat:write");
    CHECK_STR(sget(d, "api.operations.#0.scopes.#1"), "models");
    CHECK_INT(iget(d, "endpoints.#0.body.timeoutMs"), 30000);
    CHECK_STR(sget(d, "endpoints.#1.body.name"), "backup");
    CHECK_INT(iget(d, "endpoints.#1.body.timeoutMs"), 2500);
    CHECK(jget(d, "endpoints.#1.body.security") == NULL);
    CHECK_STR(sget(d, "endpoints.#2.body.name"), "sandbox-1");

    CHECK_INT(json_array_size(jget(d, "policies")), 2);
    /* endpoint aiRatelimit comes first (endpoints are read before policies) */
    CHECK_STR(sget(d, "policies.#0.body.type"), "aiRateLimit");
    CHECK_STR(sget(d, "policies.#0.body.scope"), "api");
    CHECK_STR(sget(d, "policies.#0.body.unit"), "minute");
    CHECK_INT(iget(d, "policies.#0.body.requestTokens"), 5000);
    CHECK_INT(iget(d, "policies.#0.body.responseTokens"), 10000);
    CHECK_INT(iget(d, "policies.#0.body.totalTokens"), 15000);
    CHECK_INT(iget(d, "policies.#0.body.requests"), 6000);
    CHECK_STR(sget(d, "policies.#1.body.type"), "modelFailover");
    CHECK_INT(iget(d, "policies.#1.body.requestTimeoutMs"), 30000);
    CHECK_INT(iget(d, "policies.#1.body.suspendDurationSec"), 60);
    CHECK_STR(sget(d, "policies.#1.body.production.target.model"), "gpt-4o");
    CHECK_STR(sget(d, "policies.#1.body.production.target.endpoint"), "production-1");
    CHECK_STR(sget(d, "policies.#1.body.production.fallbacks.#0.endpoint"), "backup");
    CHECK_STR(sget(d, "policies.#1.body.sandbox.target.endpoint"), "sandbox-1");
    CHECK(json_is_array(jget(d, "policies.#1.body.sandbox.fallbacks")));
    CHECK_INT(json_array_size(jget(d, "policies.#1.body.sandbox.fallbacks")), 0);
    json_decref(d);
}

TEST("round-robin extension and per-application rate limit")
{
    struct gw_err err;
    json_t *d = parse_file("round-robin.yaml", &err);

    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_STR(sget(d, "policies.#0.body.type"), "modelRoundRobin");
    CHECK_INT(iget(d, "policies.#0.body.suspendDurationSec"), 30);
    CHECK_STR(sget(d, "policies.#0.body.production.#1.endpoint"), "production-2");
    CHECK_INT(iget(d, "policies.#0.body.production.#1.weight"), -999); /* no weight */
    CHECK_STR(sget(d, "policies.#1.body.type"), "aiRateLimit");
    CHECK_STR(sget(d, "policies.#1.body.scope"), "application");
    CHECK_STR(sget(d, "policies.#1.body.unit"), "hour");
    CHECK_INT(iget(d, "policies.#1.body.totalTokens"), 100000);
    CHECK_INT(iget(d, "policies.#1.body.requests"), 500);
    CHECK_INT(iget(d, "policies.#1.body.requestTokens"), -999);
    json_decref(d);
}

TEST("older single-mapping endpoint form, omitted weight, plain version")
{
    struct gw_err err;
    json_t *d = parse_str("name: t\nbasePath: /t\nversion: 1.0\naiProvider: {name: Mistral}\n"
                          "endpointConfigurations:\n  sandbox:\n    endpoint: https://s.example\n"
                          "apiPolicies:\n  request:\n  - policyName: ModelBasedRoundRobin\n"
                          "    parameters:\n      sandboxModels:\n"
                          "      - {model: m, endpoint: https://s.example}\n",
                          &err);

    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "  %s\n", err.message);
        return;
    }
    CHECK_STR(sget(d, "api.version"), "1.0");
    CHECK(jget(d, "api.operations") == NULL);
    CHECK_STR(sget(d, "endpoints.#0.body.name"), "sandbox-1");
    CHECK_INT(iget(d, "policies.#0.body.sandbox.#0.weight"), 1);
    CHECK(jget(d, "policies.#0.body.production") == NULL);
    json_decref(d);
}

TEST("endpointSecurity enabled: false gives no security; headerPrefix")
{
    struct gw_err err;
    json_t *d =
        parse_str(HEAD "endpointConfigurations:\n  production:\n"
                       "  - endpoint: https://a\n"
                       "    endpointSecurity: {enabled: false, securityType: {secretName: s}}\n"
                       "  - endpoint: https://b\n"
                       "    endpointSecurity: {securityType: {secretName: s2}}\n"
                       "    x-modelmux: {headerPrefix: \"Token \"}\n",
                  &err);

    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "  %s\n", err.message);
        return;
    }
    CHECK(jget(d, "endpoints.#0.body.security") == NULL);
    CHECK_STR(sget(d, "endpoints.#1.body.security.secret"), "s2");
    CHECK_STR(sget(d, "endpoints.#1.body.security.prefix"), "Token ");
    CHECK(sget(d, "endpoints.#1.body.security.secretKey") == NULL);
    json_decref(d);
}

TEST("errors name line and column")
{
    expect_error(HEAD "type: GRAPHQL\n", 6, 7, "type must be REST");
    expect_error("name: t\nbasePath: /t\nversion: \"1\"\n", 1, 1, "aiProvider is required");
    expect_error("basePath: /t\nversion: \"1\"\naiProvider: {name: x}\n", 1, 1, "name is required");
    expect_error(HEAD "defaultVersion: \"yes\"\n", 6, 17, "defaultVersion must be true or false");
    expect_error(HEAD "subscriptionValidation: 1\n", 6, 25,
                 "subscriptionValidation must be true or false");
    expect_error("name: {a: b}\n", 1, 7, "name must be a string");
    expect_error(HEAD "colour: blue\n", 6, 1, "unknown key \"colour\"");
    expect_error(HEAD "rateLimit: {requestsPerUnit: 5, unit: Minute}\n", 6, 1,
                 "\"rateLimit\" is not supported");
    expect_error(HEAD "operations:\n- target: /x\n  verb: POST\n  scopes: admin\n", 9, 11,
                 "scopes must be a list");
    expect_error(HEAD "operations:\n- target: /x\n  verb: POST\n  scopes: [[admin]]\n", 9, 12,
                 "scopes must be a list of strings");
    expect_error(HEAD "operations:\n- target: /x\n", 7, 3, "verb is required");
    expect_error(HEAD "operations: {target: /x}\n", 6, 13, "operations must be a list");
    expect_error(HEAD_EP "      endpointSecurity:\n        securityType:\n"
                         "          secretName: s\n          in: Query\n",
                 12, 15, "in must be Header");
    expect_error(HEAD_EP "      endpointSecurity:\n        securityType:\n"
                         "          userNameKey: u\n",
                 11, 11, "basic endpoint security is not supported");
    expect_error(HEAD_EP "    - endpoint: \"https://p.example.com\"\n", 9, 7,
                 "already declared in production");
    expect_error(HEAD_EP "    - endpoint: {name: svc, port: 80}\n", 9, 17,
                 "endpoint must be a URL");
    expect_error(HEAD_EP "      weight: 3\n", 9, 7, "\"weight\" is not supported");
    expect_error(HEAD_EP "      resiliency: {timeout: {upstreamResponseTimeout: 0}}\n", 9, 55,
                 "upstreamResponseTimeout must be an integer");

    /* policies */
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: ModelBasedRoundRobin\n"
                         "    parameters:\n      productionModels:\n"
                         "      - {model: m, endpoint: \"https://p.example.com\", weight: 0}\n",
                 14, 63, "weight must be an integer 1–1000");
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: ModelBasedRoundRobin\n"
                         "    parameters:\n      productionModels:\n"
                         "      - {model: m, endpoint: \"https://p.example.com\", weight: \"2\"}\n",
                 14, 63, "weight must be an integer 1–1000");
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: ModelBasedRoundRobin\n"
                         "    parameters:\n      sandboxModels:\n"
                         "      - {model: m, endpoint: \"https://p.example.com\"}\n",
                 14, 30, "not declared in endpointConfigurations.sandbox");
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: ModelBasedRoundRobin\n"
                         "    parameters:\n      onQuotaExceedSuspendDuration: -5\n",
                 13, 37, "onQuotaExceedSuspendDuration must be an integer 0–");
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: ModelBasedRoundRobin\n"
                         "    parameters:\n      productionModels:\n"
                         "      - {endpoint: \"https://p.example.com\"}\n",
                 14, 9, "model is required");
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: ModelmuxModelRoundRobin\n"
                         "    parameters:\n      productionModels:\n"
                         "      - {model: m, endpoint: \"https://p.example.com\", weight: 2}\n",
                 14, 55, "\"weight\" is not supported");
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: AddHeader\n"
                         "    parameters: {headerName: x}\n",
                 11, 17, "unsupported policy \"AddHeader\"");
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: ModelBasedRoundRobin\n", 11, 5,
                 "parameters are required");
    expect_error(HEAD_EP "apiPolicies:\n  response:\n  - policyName: AddHeader\n", 11, 3,
                 "response policies are not supported");
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: ModelmuxModelFailover\n"
                         "    parameters:\n      production: {fallbacks: []}\n",
                 13, 19, "target is required");
    expect_error(HEAD_EP "apiPolicies:\n  request:\n  - policyName: ModelmuxAIRateLimit\n"
                         "    parameters: {unit: week}\n",
                 12, 24, "unit must be Minute, Hour or Day");
    expect_error(HEAD_EP "      aiRatelimit:\n        enabled: true\n"
                         "        token: {promptLimit: 5, unit: Minute}\n"
                         "        request: {requestLimit: 5, unit: Hour}\n",
                 12, 42, "must equal aiRatelimit.token.unit");
    expect_error(HEAD_EP "      aiRatelimit:\n        token: {promptLimit: 0, unit: Minute}\n", 10,
                 9, "aiRatelimit sets no limit");
    expect_error(HEAD_EP "      aiRatelimit: {token: {totalLimit: 5, unit: Day}}\n"
                         "apiPolicies:\n  request:\n  - policyName: ModelmuxAIRateLimit\n"
                         "    parameters: {unit: day, totalTokens: 9}\n",
                 13, 17, "only one AI rate limit per API");
}

TEST("YAML-level errors: documents, tags, keys, NUL, sizes")
{
    struct gw_err err;
    json_t *d;
    char *big;

    expect_error("", 1, 1, "empty document");
    expect_error("# only a comment\n", 1, 1, "empty document");
    expect_error(HEAD "---\nname: again\n", 6, 1, "only one YAML document");
    expect_error(HEAD "version2: !!str 1\n", 6, 11, "tags (tag:yaml.org,2002:str)");
    expect_error(HEAD "? [a, b]\n: c\n", 6, 3, "mapping keys must be scalars");
    expect_error("name: \"a\\0b\"\n", 1, 7, "NUL characters are not allowed");
    expect_error("name: \"x\"\n  bad: indent\n", 2, 3, "did not find expected key");
    expect_error("name: [a, b\n", 2, 1, "did not find expected ',' or ']'");
    expect_error("- just\n- a list\n", 1, 1, "an apk-conf document must be a mapping");

    /* a scalar over the bound */
    big = malloc(CP_APKCONF_MAX_SCALAR + 64);
    memcpy(big, "name: ", 6);
    memset(big + 6, 'x', CP_APKCONF_MAX_SCALAR + 1);
    big[6 + CP_APKCONF_MAX_SCALAR + 1] = 0;
    expect_error(big, 1, 7, "value too long");
    free(big);

    /* a body over 1 MiB is TOO_LARGE (413), before any parsing */
    big = malloc(CP_APKCONF_MAX_BODY + 2);
    memset(big, '#', CP_APKCONF_MAX_BODY + 1);
    big[CP_APKCONF_MAX_BODY + 1] = 0;
    d = parse_str(big, &err);
    CHECK(d == NULL);
    CHECK_INT(err.kind, GW_ERR_TOO_LARGE);
    free(big);
}

TEST("too many items or keys are refused")
{
    size_t cap = 64 * 1024, n = 0;
    char *doc = malloc(cap);

    n += (size_t)snprintf(doc + n, cap - n, "name: [");
    for (int i = 0; i < CP_YT_MAX_SEQ_ITEMS + 1; i++)
        n += (size_t)snprintf(doc + n, cap - n, "%s1", i ? "," : "");
    snprintf(doc + n, cap - n, "]\n");
    expect_error(doc, 1, 8 + 2 * CP_YT_MAX_SEQ_ITEMS, "too many items");

    /* 20 lists of 4000 items: the node bound (regression: the error used to
     * read the node it had just freed) */
    {
        size_t bcap = 200 * 1024, bn = 0;
        char *wide = malloc(bcap);
        for (int k = 0; k < 20; k++) {
            bn += (size_t)snprintf(wide + bn, bcap - bn, "k%d: [", k);
            for (int i = 0; i < 4000; i++)
                bn += (size_t)snprintf(wide + bn, bcap - bn, "%s1", i ? "," : "");
            bn += (size_t)snprintf(wide + bn, bcap - bn, "]\n");
        }
        /* 1 root + 16 lines * (key + list + 4000) = 64033 nodes; on line 17
         * the key and list make 64035, and item 1502 (column 7 + 2 * 1501)
         * is node 65537 */
        expect_error(wide, 17, 3009, "document too large");
        free(wide);
    }

    n = (size_t)snprintf(doc, cap, "name: {");
    for (int i = 0; i < CP_YT_MAX_MAP_KEYS + 1; i++)
        n += (size_t)snprintf(doc + n, cap - n, "%sk%d: 1", i ? ", " : "", i);
    snprintf(doc + n, cap - n, "}\n");
    {
        struct gw_err err;
        json_t *d = parse_str(doc, &err);
        CHECK(d == NULL);
        CHECK(strstr(err.message, "too many keys in one mapping") != NULL);
        json_decref(d);
    }
    free(doc);
}

TEST("hostile files: billion laughs refused fast, depth, tabs, encodings, duplicates")
{
    static const struct {
        const char *file;
        int line, col;
        const char *what;
    } cases[] = {
        {"billion-laughs.yaml", 3, 7, "anchors (&a) and aliases are not supported"},
        {"deep-nesting.yaml", 2, 42, "nesting too deep (more than 32 levels)"},
        {"tabs.yaml", 3, 1, "tab characters cannot be used for indentation"},
        {"invalid-utf8.yaml", 2, 14, "invalid leading UTF-8 octet"},
        {"utf16.yaml", 1, 1, "the body must be UTF-8 YAML"},
        {"duplicate-key.yaml", 7, 1, "duplicate key \"basePath\" (first at line 2)"},
        {"bad-weight.yaml", 18, 21, "weight must be an integer 1–1000"},
        {"unknown-policy.yaml", 12, 19, "unsupported policy \"SemanticCache\""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        char *text = read_data(cases[i].file, &len);
        struct timespec t0, t1;
        CHECK(text != NULL);
        if (!text)
            continue;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        expect_error(text, cases[i].line, cases[i].col, cases[i].what);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        CHECK((t1.tv_sec - t0.tv_sec) < 1); /* refused quickly */
        free(text);
    }
}

TEST("an alias anywhere is refused, even without a preceding anchor")
{
    expect_error("name: *x\n", 1, 7, "aliases (*x)");
}

TEST("resolve_refs replaces every endpoint member")
{
    struct gw_err err;
    json_t *d = parse_file("all-policies.yaml", &err);
    json_t *ids = json_pack("{s:s, s:s, s:s}", "production-1", "id-p1", "backup", "id-b",
                            "sandbox-1", "id-s1");
    json_t *body;

    CHECK(d != NULL);
    if (!d)
        return;
    body = jget(d, "policies.#1.body");
    CHECK_INT(cp_im_resolve_refs(body, ids, &err), 0);
    CHECK_STR(sget(body, "production.target.endpoint"), "id-p1");
    CHECK_STR(sget(body, "production.fallbacks.#0.endpoint"), "id-b");
    CHECK_STR(sget(body, "sandbox.target.endpoint"), "id-s1");
    json_object_del(ids, "backup");
    json_string_set(jget(body, "production.target.endpoint"), "x");
    CHECK_INT(cp_im_resolve_refs(body, ids, &err), -1);
    CHECK_INT(err.kind, GW_ERR_INTERNAL);
    json_decref(ids);
    json_decref(d);
}

struct text {
    char *s;
    size_t len;
};

static int parse_once(void *ctx, struct gw_err *err)
{
    struct text *t = ctx;
    json_t *out = NULL;
    int rc = cp_apkconf_parse(t->s, t->len, &out, err);

    json_decref(out);
    return rc;
}

TEST("allocation failures: no crash, no leak, NOMEM or success")
{
    struct text t = {NULL, 0};

    t.s = read_data("all-policies.yaml", &t.len);
    CHECK(t.s != NULL);
    if (!t.s)
        return;
    CHECK(alloc_torture(parse_once, &t, 3000));
    free(t.s);
}

/* jansson allocates through gw_malloc, so fault injection reaches it. */
__attribute__((constructor)) static void init_alloc(void)
{
    gw_alloc_init();
}

TEST_MAIN()
