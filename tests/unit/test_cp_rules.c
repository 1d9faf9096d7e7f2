/* Unit tests of the control plane's pure parts: policy validation and
 * combination rules (policy_rules.c), JSON field checks (jfield.c), the
 * route matcher and URL decoding (routes.c), static content types. */
#include <string.h>

#include "common/alloc.h"
#include "common/json_depth.h"
#include "controlplane/jfield.h"
#include "controlplane/policy_rules.h"
#include "controlplane/routes.h"
#include "controlplane/static.h"
#include "testhelp.h"

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fprintf(stderr, "bad test JSON: %s\n", e.text);
    return j;
}

/* A context: models m1, m2, a/b, ..; endpoints P (production), S (sandbox),
 * Z (production, the model in its URL's path as Azure's deployments). */
static struct cp_policy_ctx ctx_with(const char *others)
{
    struct cp_policy_ctx c;
    c.models = js("[\"m1\", \"m2\", \"a/b\", \"..\"]");
    c.endpoints = js("[{\"id\": \"P\", \"environment\": \"production\"},"
                     " {\"id\": \"S\", \"environment\": \"sandbox\"},"
                     " {\"id\": \"Z\", \"environment\": \"production\","
                     "  \"url\": \"http://h/openai/deployments/{model}\"}]");
    c.others = js(others);
    c.operations = js("[{\"target\": \"/chat/completions\"}, {\"target\": \"/embeddings\"}]");
    return c;
}

static void ctx_free(struct cp_policy_ctx *c)
{
    json_decref(c->models);
    json_decref(c->endpoints);
    json_decref(c->others);
    json_decref(c->operations);
}

/* Validates body against others; returns the error kind (GW_ERR_NONE = ok)
 * and copies the error's field into field (may be NULL). */
static enum gw_err_kind check(const char *body, const char *others, char *field)
{
    struct cp_policy_ctx c = ctx_with(others);
    struct gw_err err;
    json_t *b = js(body), *out = NULL;
    gw_err_clear(&err);
    int rc = cp_policy_validate(b, &c, &out, &err);
    if (field)
        snprintf(field, 128, "%s", err.field);
    json_decref(out);
    json_decref(b);
    ctx_free(&c);
    return rc == 0 ? GW_ERR_NONE : err.kind;
}

TEST("failover policies colliding in either environment: 409 naming it (issue 10)")
{
    char field[128];
    const char *fo_ps = "[{\"type\": \"modelFailover\","
                        " \"production\": {\"target\": {\"model\": \"m1\", \"endpoint\": \"P\"}},"
                        " \"sandbox\": {\"target\": {\"model\": \"m1\", \"endpoint\": \"S\"}}}]";
    /* production differs, sandbox is the same model: 409 */
    CHECK_INT(check("{\"type\": \"modelFailover\","
                    " \"production\": {\"target\": {\"model\": \"m2\", \"endpoint\": \"P\"}},"
                    " \"sandbox\": {\"target\": {\"model\": \"m1\", \"endpoint\": \"S\"}}}",
                    fo_ps, field),
              GW_ERR_CONFLICT);
    CHECK_STR(field, "sandbox.target.model");
    /* a sandbox-only chain for the same model: 409 too */
    CHECK_INT(check("{\"type\": \"modelFailover\","
                    " \"sandbox\": {\"target\": {\"model\": \"m1\", \"endpoint\": \"S\"}}}",
                    fo_ps, field),
              GW_ERR_CONFLICT);
    /* different models in both environments: fine */
    CHECK_INT(check("{\"type\": \"modelFailover\","
                    " \"production\": {\"target\": {\"model\": \"m2\", \"endpoint\": \"P\"}},"
                    " \"sandbox\": {\"target\": {\"model\": \"m2\", \"endpoint\": \"S\"}}}",
                    fo_ps, NULL),
              GW_ERR_NONE);
}

TEST("routing fields of SPEC revision 2 and round-robin operations")
{
    char field[128];
    const char *rr = "{\"type\": \"modelRoundRobin\", \"production\": [{\"model\": \"m1\","
                     " \"endpoint\": \"P\"}], %s}";
    static const struct {
        const char *extra, *field;
    } cases[] = {
        {"\"retries\": 4", "retries"},
        {"\"maxRetryAfterWaitSec\": 61", "maxRetryAfterWaitSec"},
        {"\"firstTokenTimeoutMs\": 99", "firstTokenTimeoutMs"},
        {"\"streamIdleTimeoutMs\": 600001", "streamIdleTimeoutMs"},
        {"\"midStreamFailover\": \"on\"", "midStreamFailover"},
        {"\"operations\": [\"/nope\"]", "operations[0]"},
        {"\"operations\": []", "operations"},
        {"\"operations\": [\"/embeddings\", \"/embeddings\"]", "operations[1]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body), rr, cases[i].extra);
        CHECK_INT(check(body, "[]", field), GW_ERR_INVALID);
        CHECK_STR(field, cases[i].field);
    }
    char body[512];
    snprintf(body, sizeof(body), rr,
             "\"retries\": 3, \"maxRetryAfterWaitSec\": 60, \"firstTokenTimeoutMs\": 0,"
             " \"streamIdleTimeoutMs\": 100, \"midStreamFailover\": \"continue\","
             " \"operations\": [\"/embeddings\"]");
    CHECK_INT(check(body, "[]", NULL), GW_ERR_NONE);
}

TEST("round robin normalizes and fills defaults")
{
    struct cp_policy_ctx c = ctx_with("[]");
    struct gw_err err;
    json_t *b = js("{\"type\": \"modelRoundRobin\", \"extra\": 1,"
                   " \"production\": [{\"model\": \"m1\", \"endpoint\": \"P\", \"weight\": 9}]}");
    json_t *out = NULL;
    CHECK_INT(cp_policy_validate(b, &c, &out, &err), 0);
    CHECK_INT(json_integer_value(json_object_get(out, "suspendDurationSec")), 60);
    CHECK(json_object_get(out, "extra") == NULL);
    CHECK(json_object_get(json_array_get(json_object_get(out, "production"), 0), "weight") == NULL);
    CHECK_INT(json_array_size(json_object_get(out, "sandbox")), 0);
    json_t *targets = cp_policy_targets(out);
    CHECK_INT(json_array_size(targets), 1);
    json_decref(targets);
    json_decref(out);
    json_decref(b);
    ctx_free(&c);
}

TEST("targets must use known models and endpoints of the right environment")
{
    char f[128];
    CHECK_INT(
        check(
            "{\"type\":\"modelRoundRobin\",\"production\":[{\"model\":\"x\",\"endpoint\":\"P\"}]}",
            "[]", f),
        GW_ERR_INVALID);
    CHECK_STR(f, "production[0].model");
    CHECK_INT(
        check(
            "{\"type\":\"modelRoundRobin\",\"production\":[{\"model\":\"m1\",\"endpoint\":\"S\"}]}",
            "[]", f),
        GW_ERR_INVALID);
    CHECK_STR(f, "production[0].endpoint");
    CHECK_INT(
        check("{\"type\":\"modelRoundRobin\",\"sandbox\":[{\"model\":\"m1\",\"endpoint\":\"S\"}]}",
              "[]", NULL),
        GW_ERR_NONE);
}

TEST("a target model that goes into its endpoint's URL path must be a path segment (issue 11)")
{
    char f[128];
    const char *fmt = "{\"type\":\"modelRoundRobin\",\"production\":[{\"model\":\"%s\","
                      "\"endpoint\":\"%s\"}]}";
    char body[256];
    snprintf(body, sizeof(body), fmt, "a/b", "P");
    CHECK_INT(check(body, "[]", NULL), GW_ERR_NONE); /* the model goes in the body */
    snprintf(body, sizeof(body), fmt, "m1", "Z");
    CHECK_INT(check(body, "[]", NULL), GW_ERR_NONE);
    snprintf(body, sizeof(body), fmt, "a/b", "Z");
    CHECK_INT(check(body, "[]", f), GW_ERR_INVALID);
    CHECK_STR(f, "production[0].model");
    snprintf(body, sizeof(body), fmt, "..", "Z");
    CHECK_INT(check(body, "[]", f), GW_ERR_INVALID);
    CHECK_STR(f, "production[0].model");
}

TEST("weights are integers 1-1000")
{
    const char *fmt = "{\"type\":\"modelWeightedRoundRobin\",\"production\":[{\"model\":\"m1\","
                      "\"endpoint\":\"P\",\"weight\":%s}]}";
    const char *bad[] = {"0", "1001", "-1", "2.5", "\"3\"", "null"};
    char body[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), fmt, bad[i]);
        CHECK_INT(check(body, "[]", NULL), GW_ERR_INVALID);
    }
    snprintf(body, sizeof(body), fmt, "1000");
    CHECK_INT(check(body, "[]", NULL), GW_ERR_NONE);
    snprintf(body, sizeof(body), fmt, "1");
    CHECK_INT(check(body, "[]", NULL), GW_ERR_NONE);
}

TEST("one load-balancing policy, then no failover")
{
    const char *rr =
        "{\"type\":\"modelRoundRobin\",\"production\":[{\"model\":\"m1\",\"endpoint\":\"P\"}]}";
    const char *fo = "{\"type\":\"modelFailover\",\"production\":{\"target\":{\"model\":\"m1\","
                     "\"endpoint\":\"P\"},\"fallbacks\":[{\"model\":\"m2\",\"endpoint\":\"P\"}]}}";
    CHECK_INT(check(rr, "[{\"type\":\"modelWeightedRoundRobin\"}]", NULL), GW_ERR_CONFLICT);
    CHECK_INT(check(rr,
                    "[{\"type\":\"modelFailover\",\"production\":{\"target\":{\"model\":\"m2\"}}}]",
                    NULL),
              GW_ERR_CONFLICT);
    CHECK_INT(check(fo, "[{\"type\":\"modelRoundRobin\"}]", NULL), GW_ERR_CONFLICT);
    CHECK_INT(check(rr, "[{\"type\":\"aiRateLimit\",\"unit\":\"day\",\"requests\":1}]", NULL),
              GW_ERR_NONE);
}

TEST("several failovers only with different production target models")
{
    const char *fo = "{\"type\":\"modelFailover\",\"production\":{\"target\":{\"model\":\"m1\","
                     "\"endpoint\":\"P\"}}}";
    CHECK_INT(check(fo,
                    "[{\"type\":\"modelFailover\",\"production\":{\"target\":{\"model\":\"m1\"}}}]",
                    NULL),
              GW_ERR_CONFLICT);
    CHECK_INT(check(fo,
                    "[{\"type\":\"modelFailover\",\"production\":{\"target\":{\"model\":\"m2\"}}}]",
                    NULL),
              GW_ERR_NONE);
    CHECK_INT(check("{\"type\":\"modelFailover\"}", "[]", NULL), GW_ERR_INVALID);
}

TEST("aiRateLimit: unit, scope, at least one limit, only one per API")
{
    char f[128];
    CHECK_INT(check("{\"type\":\"aiRateLimit\",\"unit\":\"minute\",\"totalTokens\":5}", "[]", NULL),
              GW_ERR_NONE);
    CHECK_INT(check("{\"type\":\"aiRateLimit\",\"unit\":\"minute\"}", "[]", NULL), GW_ERR_INVALID);
    CHECK_INT(check("{\"type\":\"aiRateLimit\",\"unit\":\"week\",\"requests\":1}", "[]", f),
              GW_ERR_INVALID);
    CHECK_STR(f, "unit");
    CHECK_INT(check("{\"type\":\"aiRateLimit\",\"unit\":\"day\",\"scope\":\"me\",\"requests\":1}",
                    "[]", f),
              GW_ERR_INVALID);
    CHECK_STR(f, "scope");
    CHECK_INT(check("{\"type\":\"aiRateLimit\",\"unit\":\"day\",\"requests\":1}",
                    "[{\"type\":\"aiRateLimit\"}]", NULL),
              GW_ERR_CONFLICT);
}

TEST("names: length in characters, no control characters")
{
    struct gw_err err;
    char name[200];
    memset(name, 'a', 128);
    name[128] = '\0';
    CHECK_INT(gw_rule_name(name, "n", 128, &err), 0);
    name[128] = 'a';
    name[129] = '\0';
    CHECK_INT(gw_rule_name(name, "n", 128, &err), -1);
    CHECK_INT(gw_rule_name("", "n", 128, &err), -1);
    CHECK_INT(gw_rule_name("a\tb", "n", 128, &err), -1);
    CHECK_INT(gw_rule_name("a\x7f", "n", 128, &err), -1);
    CHECK_INT(gw_rule_name("a\xc2\x85", "n", 128, &err), -1);      /* U+0085, C1 */
    CHECK_INT(gw_rule_name("\xc3\xa9t\xc3\xa9", "n", 3, &err), 0); /* "été": 3 chars */
    CHECK_INT(gw_rule_name("'); DROP TABLE x;--", "n", 128, &err), 0);
    CHECK_INT((int)gw_utf8_len("\xe5\x90\x8d\xe5\x89\x8d"), 2);
}

TEST("UTF-8: well-formed only; scrub keeps a reply encodable")
{
    struct gw_err err;
    CHECK(gw_utf8_valid("plain \xc3\xa9 \xe5\x90\x8d \xf0\x9f\x98\x80", strlen("plain \xc3\xa9 \xe5\x90\x8d \xf0\x9f\x98\x80")));
    CHECK(!gw_utf8_valid("\xff", strlen("\xff")));
    CHECK(!gw_utf8_valid("caf\xe9", strlen("caf\xe9")));         /* Latin-1 */
    CHECK(!gw_utf8_valid("\xc3", strlen("\xc3")));            /* truncated */
    CHECK(!gw_utf8_valid("\xc0\xaf", strlen("\xc0\xaf")));        /* overlong '/' */
    CHECK(!gw_utf8_valid("\xe0\x80\xaf", strlen("\xe0\x80\xaf")));    /* overlong, 3 bytes */
    CHECK(!gw_utf8_valid("\xed\xa0\x80", strlen("\xed\xa0\x80")));    /* surrogate U+D800 */
    CHECK(!gw_utf8_valid("\xf4\x90\x80\x80", strlen("\xf4\x90\x80\x80"))); /* above U+10FFFF */
    CHECK(gw_utf8_valid("\xf4\x8f\xbf\xbf", strlen("\xf4\x8f\xbf\xbf")));  /* U+10FFFF */
    CHECK_INT(gw_rule_name("caf\xe9", "n", 128, &err), -1);
    CHECK(strstr(err.message, "UTF-8") != NULL);
    char s[] = "a\xff\xc3\xa9\xc3";
    gw_utf8_scrub(s);
    CHECK_STR(s, "a?\xc3\xa9?");
}

TEST("header names are tokens; header value parts have no control characters")
{
    struct gw_err err;
    CHECK_INT(gw_rule_header_name("Authorization", "h", 128, &err), 0);
    CHECK_INT(gw_rule_header_name("x-api_key.v1!#$%&'*+^`|~", "h", 128, &err), 0);
    CHECK_INT(gw_rule_header_name("", "h", 128, &err), -1);
    CHECK_INT(gw_rule_header_name("X Key", "h", 128, &err), -1);
    CHECK_INT(gw_rule_header_name("a:b", "h", 128, &err), -1);
    CHECK_INT(gw_rule_header_name("a\r\nb", "h", 128, &err), -1);
    CHECK_INT(gw_rule_header_name("\xc3\xa9", "h", 128, &err), -1);
    CHECK_INT(gw_rule_header_name("abcd", "h", 3, &err), -1);
    CHECK_STR(err.field, "h");
    CHECK_INT(gw_rule_no_control("Bearer \xc3\xbc", "p", &err), 0);
    CHECK_INT(gw_rule_no_control("", "p", &err), 0);
    CHECK_INT(gw_rule_no_control("sk-1\n", "apiKey", &err), -1);
    CHECK(strstr(err.message, "apiKey") != NULL && strstr(err.message, "sk-1") == NULL);
    CHECK_INT(gw_rule_no_control("a\tb", "p", &err), -1);
    CHECK_INT(gw_rule_no_control("\xc2\x90", "p", &err), -1);
    json_t *o = js("{\"h\": \"x y\", \"p\": \"a\\r\\n\"}");
    const char *out;
    CHECK_INT(cp_jf_str(o, "h", "auth", CP_JF_TOKEN, 128, &out, &err), -1);
    CHECK_STR(err.field, "auth.h");
    CHECK_INT(cp_jf_str(o, "p", "auth", CP_JF_NO_CTL, 128, &out, &err), -1);
    CHECK_STR(err.field, "auth.p");
    CHECK_INT(cp_jf_str(o, "p", "auth", 0, 128, &out, &err), 0);
    json_decref(o);
}

TEST("field getters name the field")
{
    struct gw_err err;
    json_t *o = js("{\"s\": 1, \"b\": \"x\", \"i\": 5000, \"n\": null}");
    const char *s;
    int b;
    json_int_t i;
    gw_err_clear(&err);
    CHECK_INT(cp_jf_str(o, "s", "outer", CP_JF_REQUIRED, 10, &s, &err), -1);
    CHECK_STR(err.field, "outer.s");
    CHECK(strstr(err.message, "outer.s") != NULL);
    CHECK_INT(cp_jf_str(o, "n", NULL, 0, 10, &s, &err), 0);
    CHECK(s == NULL);
    CHECK_INT(cp_jf_str(o, "n", NULL, CP_JF_REQUIRED, 10, &s, &err), -1);
    CHECK_INT(cp_jf_bool(o, "b", NULL, 0, &b, &err), -1);
    CHECK_INT(cp_jf_bool(o, "absent", NULL, 1, &b, &err), 0);
    CHECK_INT(b, 1);
    CHECK_INT(cp_jf_int(o, "i", NULL, 1, 0, 1, 1000, &i, &err), -1);
    CHECK_INT(cp_jf_int(o, "i", NULL, 1, 0, 1, 10000, &i, &err), 0);
    CHECK_INT(i, 5000);
    json_decref(o);
}

TEST("JSON depth scan skips strings (the common scanner the control plane uses)")
{
    CHECK_INT(gw_json_depth_ok("[[[]]]", 6, 3), 1);
    CHECK_INT(gw_json_depth_ok("[[[]]]", 6, 2), 0);
    CHECK_INT(gw_json_depth_ok("{\"a\": \"[[[[\"}", 13, 1), 1);
    CHECK_INT(gw_json_depth_ok("{\"a\\\"[\": []}", 12, 2), 1);
    CHECK_INT(gw_json_depth_ok("{\"a\\\"[\": []}", 12, 1), 0);
    char deep[20001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    CHECK_INT(gw_json_depth_ok(deep, 20000, 32), 0);
}

TEST("PATCH merge overrides top-level fields, keeps id")
{
    json_t *base = js("{\"id\": \"1\", \"a\": 1, \"b\": {\"x\": 1}}");
    json_t *patch = js("{\"id\": \"9\", \"b\": {\"y\": 2}, \"c\": 3}");
    json_t *m = cp_json_merge(base, patch);
    json_t *want = js("{\"id\": \"1\", \"a\": 1, \"b\": {\"y\": 2}, \"c\": 3}");
    CHECK(json_equal(m, want));
    json_decref(base);
    json_decref(patch);
    json_decref(m);
    json_decref(want);
}

TEST("route matching: params, 404, 405, decoding")
{
    const struct cp_route *r = NULL;
    const char *params[CP_REQ_MAX_PARAMS];
    int n = 0;
    char storage[256], allow[64];
    CHECK_INT(cp_route_find("DELETE", "/api/v1/vendors/v1/models/a%2Fb", &r, params, &n, storage,
                            sizeof(storage), allow, sizeof(allow)),
              CP_ROUTE_FOUND);
    CHECK_INT(n, 2);
    CHECK_STR(params[0], "v1");
    CHECK_STR(params[1], "a/b");
    CHECK_INT(cp_route_find("POST", "/api/v1/apis/import", &r, params, &n, storage, sizeof(storage),
                            allow, sizeof(allow)),
              CP_ROUTE_FOUND);
    CHECK_STR(r->pattern, "/api/v1/apis/import");
    CHECK_INT(cp_route_find("DELETE", "/api/v1/vendors", &r, params, &n, storage, sizeof(storage),
                            allow, sizeof(allow)),
              CP_ROUTE_NO_METHOD);
    CHECK_STR(allow, "GET, POST");
    CHECK_INT(cp_route_find("GET", "/api/v1/vendors/", &r, params, &n, storage, sizeof(storage),
                            allow, sizeof(allow)),
              CP_ROUTE_NO_PATH);
    CHECK_INT(cp_route_find("GET", "/api/v1/vendors/%00", &r, params, &n, storage, sizeof(storage),
                            allow, sizeof(allow)),
              CP_ROUTE_NO_PATH);
    CHECK_INT(cp_route_find("GET", "/api/v1/vendors/%4", &r, params, &n, storage, sizeof(storage),
                            allow, sizeof(allow)),
              CP_ROUTE_NO_PATH);
    char out[8];
    CHECK_INT(cp_url_decode("a%20b", 5, out, sizeof(out)), 3);
    CHECK_STR(out, "a b");
    CHECK_INT(cp_url_decode("abcdefgh", 8, out, sizeof(out)), -1); /* too long */
}

TEST("every route is unique and well formed")
{
    for (size_t i = 0; i < cp_nroutes; i++) {
        CHECK(strncmp(cp_routes[i].pattern, "/api/v1/", 8) == 0);
        CHECK(cp_routes[i].fn != NULL || cp_routes[i].crud != NULL);
        for (size_t j = i + 1; j < cp_nroutes; j++)
            CHECK(strcmp(cp_routes[i].method, cp_routes[j].method) != 0 ||
                  strcmp(cp_routes[i].pattern, cp_routes[j].pattern) != 0);
    }
}

TEST("static content types")
{
    CHECK(strncmp(cp_static_type("a/app.js"), "text/javascript", 15) == 0);
    CHECK(strncmp(cp_static_type("index.HTML"), "text/html", 9) == 0);
    CHECK_STR(cp_static_type("x.svg"), "image/svg+xml");
    CHECK_STR(cp_static_type("noext"), "application/octet-stream");
}

TEST_MAIN()
