/* Unit tests of controlplane/apkconf_export.c: every policy type written as
 * apk-conf reads back (through apkconf_import.c) to the same REST objects,
 * for imported APIs and for APIs shaped like the REST API makes them. The
 * control plane's defaults are simulated here (ids, timeoutMs, header and
 * prefix from the vendor), so the comparison is the one the e2e test makes
 * against the real control plane. */
#include "controlplane/apkconf_export.c"

#include "common/alloc.h"
#include "controlplane/import_map.h"
#include "testdata.h"
#include "testhelp.h"

static json_t *vendor_openai(void)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:[s,s,s]}", "id", "vendor-1", "name", "OpenAI",
                     "apiVersion", "v1", "auth", "header", "Authorization", "prefix", "Bearer ",
                     "models", "gpt-4o", "gpt-4o-mini", "o1-mini");
}

static char *read_data(const char *name, size_t *len)
{
    return read_test_data("apkconf", name, len);
}

/* What the control plane would store for a description: {"api", "endpoints",
 * "policies"} in REST shape with defaults filled and endpoint ids
 * "id-<name>". New reference. */
static json_t *simulate_cp(json_t *desc, const json_t *vendor)
{
    json_t *api = json_deep_copy(json_object_get(desc, "api"));
    json_t *eps = json_array(), *pols = json_array(), *ids = json_object(), *item, *op;
    const json_t *auth = json_object_get(vendor, "auth");
    size_t i;

    json_object_set_new(api, "id", json_string("api-1"));
    json_object_set(api, "vendor", json_object_get(vendor, "id"));
    if (!json_object_get(api, "defaultVersion"))
        json_object_set_new(api, "defaultVersion", json_false());
    if (!json_object_get(api, "subscriptionValidation"))
        json_object_set_new(api, "subscriptionValidation", json_false());
    if (!json_object_get(api, "operations"))
        json_object_set_new(
            api, "operations",
            json_pack("[{s:s, s:s}]", "target", "/chat/completions", "verb", "POST"));
    json_array_foreach (json_object_get(api, "operations"), i, op) {
        if (!json_object_get(op, "secured"))
            json_object_set_new(op, "secured", json_true());
    }
    json_array_foreach (json_object_get(desc, "endpoints"), i, item) {
        json_t *ep = json_deep_copy(json_object_get(item, "body")), *sec;
        char id[160];
        snprintf(id, sizeof(id), "id-%s", json_string_value(json_object_get(ep, "name")));
        json_object_set_new(ep, "id", json_string(id));
        json_object_set_new(ids, json_string_value(json_object_get(item, "ref")), json_string(id));
        if (!json_object_get(ep, "timeoutMs"))
            json_object_set_new(ep, "timeoutMs", json_integer(60000));
        sec = json_object_get(ep, "security");
        if (sec && !json_object_get(sec, "header"))
            json_object_set(sec, "header", json_object_get(auth, "header"));
        if (sec && !json_object_get(sec, "prefix"))
            json_object_set(sec, "prefix", json_object_get(auth, "prefix"));
        json_array_append_new(eps, ep);
    }
    json_array_foreach (json_object_get(desc, "policies"), i, item) {
        json_t *p = json_deep_copy(json_object_get(item, "body"));
        char id[32];
        snprintf(id, sizeof(id), "pol-%zu", i + 1);
        json_object_set_new(p, "id", json_string(id));
        if (cp_im_resolve_refs(p, ids, NULL) < 0)
            fprintf(stderr, "  unresolved endpoint ref\n");
        if (!strcmp(json_string_value(json_object_get(p, "type")), "aiRateLimit") &&
            !json_object_get(p, "scope"))
            json_object_set_new(p, "scope", json_string("api"));
        json_array_append_new(pols, p);
    }
    json_decref(ids);
    return json_pack("{s:o, s:o, s:o}", "api", api, "endpoints", eps, "policies", pols);
}

static int cmp_dumps(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Policies are a set: sorts them by their JSON text. */
static void sort_policies(json_t *n)
{
    json_t *pols = json_object_get(n, "policies"), *sorted = json_array();
    size_t count = json_array_size(pols);
    char **dumps = calloc(count + 1, sizeof(*dumps));

    for (size_t i = 0; i < count; i++)
        dumps[i] = json_dumps(json_array_get(pols, i), JSON_SORT_KEYS | JSON_COMPACT);
    qsort(dumps, count, sizeof(*dumps), cmp_dumps);
    for (size_t i = 0; i < count; i++) {
        json_array_append_new(sorted, json_loads(dumps[i], 0, NULL));
        free(dumps[i]);
    }
    free(dumps);
    json_object_set_new(n, "policies", sorted);
}

/* A copy of rest where policies name endpoints by name (not id), have no id
 * and are in a canonical order: what must survive a round trip. (The
 * endpoint-level aiRatelimit of APK is read before apiPolicies, so creation
 * order of policies is not kept; it has no meaning.) */
static json_t *normalize(const json_t *rest)
{
    json_t *n = json_deep_copy(rest), *names = json_object(), *e, *p;
    size_t i;

    json_array_foreach (json_object_get(n, "endpoints"), i, e) {
        json_object_set(names, json_string_value(json_object_get(e, "id")),
                        json_object_get(e, "name"));
        json_object_del(e, "id");
    }
    json_array_foreach (json_object_get(n, "policies"), i, p) {
        json_object_del(p, "id");
        cp_im_resolve_refs(p, names, NULL);
    }
    json_object_del(json_object_get(n, "api"), "id");
    sort_policies(n);
    json_decref(names);
    return n;
}

/* Exports rest, imports the YAML again, and checks the result equals rest.
 * Returns the YAML (caller frees with gw_free) for further checks. */
static char *round_trip(const json_t *rest, const json_t *vendor)
{
    struct gw_err err;
    char *yaml = NULL;
    size_t len = 0;
    json_t *desc = NULL, *again = NULL, *n1, *n2;

    gw_err_clear(&err);
    if (cp_apkconf_emit(json_object_get(rest, "api"), vendor, json_object_get(rest, "endpoints"),
                        json_object_get(rest, "policies"), &yaml, &len, &err) < 0) {
        fprintf(stderr, "  emit failed: %s\n", err.message);
        mm_current_failed = 1;
        return NULL;
    }
    CHECK_INT(strlen(yaml), len);
    if (cp_apkconf_parse(yaml, len, &desc, &err) < 0) {
        fprintf(stderr, "  re-import failed: %s\n%s\n", err.message, yaml);
        mm_current_failed = 1;
        return yaml;
    }
    again = simulate_cp(desc, vendor);
    n1 = normalize(rest);
    n2 = normalize(again);
    if (!json_equal(n1, n2)) {
        char *a = json_dumps(n1, JSON_SORT_KEYS | JSON_INDENT(1));
        char *b = json_dumps(n2, JSON_SORT_KEYS | JSON_INDENT(1));
        fprintf(stderr, "  round trip differs:\n%s\n---\n%s\n---\n%s\n", a, b, yaml);
        free(a);
        free(b);
        mm_current_failed = 1;
    }
    json_decref(n1);
    json_decref(n2);
    json_decref(again);
    json_decref(desc);
    return yaml;
}

/* Imports a data file and simulates the control plane. */
static json_t *rest_of_file(const char *name, const json_t *vendor)
{
    size_t len = 0;
    char *text = read_data(name, &len);
    json_t *desc = NULL, *rest = NULL;
    struct gw_err err;

    if (text && cp_apkconf_parse(text, len, &desc, &err) == 0)
        rest = simulate_cp(desc, vendor);
    json_decref(desc);
    free(text);
    CHECK(rest != NULL);
    return rest;
}

/* ------------------------------------------------------------------------ */

TEST("SPEC example: export is plain APK and round-trips")
{
    json_t *vendor = vendor_openai(), *rest = rest_of_file("spec-example.yaml", vendor);
    char *yaml;

    if (!rest)
        goto out;
    yaml = round_trip(rest, vendor);
    CHECK(yaml != NULL);
    if (yaml) {
        CHECK(strstr(yaml, "name: \"chat-service-api-prod-sand\"\n") == yaml);
        CHECK(strstr(yaml, "version: \"1.0\"") != NULL);
        CHECK(strstr(yaml, "type: \"REST\"") != NULL);
        CHECK(strstr(yaml, "aiProvider:\n  name: \"OpenAI\"\n  apiVersion: \"v1\"") != NULL);
        CHECK(strstr(yaml, "policyName: \"ModelBasedRoundRobin\"") != NULL);
        CHECK(strstr(yaml, "onQuotaExceedSuspendDuration: 60") != NULL);
        CHECK(strstr(yaml, "apiKeyNameKey: \"Authorization\"") != NULL);
        CHECK(strstr(yaml, "secretName: \"open-ai-secret\"") != NULL);
        /* generated names, vendor prefix and default timeout need no extension */
        CHECK(strstr(yaml, "x-modelmux") == NULL);
        CHECK(strstr(yaml, "resiliency") == NULL);
        gw_free(yaml);
    }
    json_decref(rest);
out:
    json_decref(vendor);
}

TEST("failover, aiRatelimit, timeouts and names round-trip")
{
    json_t *vendor = vendor_openai(), *rest = rest_of_file("all-policies.yaml", vendor);
    char *yaml;

    if (!rest)
        goto out;
    yaml = round_trip(rest, vendor);
    if (yaml) {
        CHECK(strstr(yaml, "aiRatelimit:\n") != NULL);
        CHECK(strstr(yaml, "promptLimit: 5000") != NULL);
        CHECK(strstr(yaml, "requestLimit: 6000") != NULL);
        CHECK(strstr(yaml, "upstreamResponseTimeout: 30") != NULL);
        CHECK(strstr(yaml, "policyName: \"ModelmuxModelFailover\"") != NULL);
        CHECK(strstr(yaml, "name: \"backup\"") != NULL);
        CHECK(strstr(yaml, "timeoutMs: 2500") != NULL);
        CHECK(strstr(yaml, "defaultVersion: true") != NULL);
        CHECK(strstr(yaml, "scopes: [\"chat:write\", \"models\"]") != NULL);
        CHECK(strstr(yaml, "scopes: []") != NULL);
        gw_free(yaml);
    }
    json_decref(rest);
out:
    json_decref(vendor);
}

TEST("modelRoundRobin and per-application aiRateLimit round-trip")
{
    json_t *vendor = vendor_openai(), *rest = rest_of_file("round-robin.yaml", vendor);
    char *yaml;

    if (!rest)
        goto out;
    yaml = round_trip(rest, vendor);
    if (yaml) {
        CHECK(strstr(yaml, "policyName: \"ModelmuxModelRoundRobin\"") != NULL);
        CHECK(strstr(yaml, "policyName: \"ModelmuxAIRateLimit\"") != NULL);
        CHECK(strstr(yaml, "scope: \"application\"") != NULL);
        CHECK(strstr(yaml, "aiRatelimit") == NULL);
        gw_free(yaml);
    }
    json_decref(rest);
out:
    json_decref(vendor);
}

TEST("an API made through the REST API round-trips (names, same URLs, prefixes)")
{
    json_t *vendor = vendor_openai();
    json_t *rest = json_pack(
        "{s:{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:[{s:s, s:s, s:b}, {s:s, s:s, s:b}]},"
        " s:[{s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s, s:s}},"
        "    {s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s, s:s}},"
        "    {s:s, s:s, s:s, s:s, s:i},"
        "    {s:s, s:s, s:s, s:s, s:i}],"
        " s:[{s:s, s:s, s:i, s:i, s:{s:{s:s, s:s}, s:[{s:s, s:s}]}},"
        "    {s:s, s:s, s:s, s:s, s:i}]}",
        "api", "id", "a1b2", "name", "true", "basePath", "/päth \"quoted\"", "version", "1.0",
        "vendor", "vendor-1", "defaultVersion", 1, "subscriptionValidation", 0, "operations",
        "target", "/chat/completions", "verb", "POST", "secured", 1, "target", "/embeddings",
        "verb", "POST", "secured", 0,
        /* endpoints */
        "endpoints", "id", "e1", "name", "openai-prod", "environment", "production", "url",
        "https://api.openai.com/v1", "timeoutMs", 1500, "security", "secret", "s1", "secretKey",
        "apiKey", "header", "Authorization", "prefix", "Token ", "id", "e2", "name",
        "openai-prod-2", "environment", "production", "url", "https://api.openai.com/v1",
        "timeoutMs", 60000, "security", "secret", "s2", "secretKey", "apiKey", "header", "api-key",
        "prefix", "Bearer ", "id", "e3", "name", "sandbox-7", "environment", "sandbox", "url",
        "http://127.0.0.1:9/v1", "timeoutMs", 120000, "id", "e4", "name", "sandbox-2",
        "environment", "sandbox", "url", "http://127.0.0.1:10/v1", "timeoutMs", 60000,
        /* policies */
        "policies", "id", "p1", "type", "modelFailover", "requestTimeoutMs", 30000,
        "suspendDurationSec", 0, "production", "target", "model", "gpt-4o", "endpoint", "e1",
        "fallbacks", "model", "gpt-4o-mini", "endpoint", "e2", "id", "p2", "type", "aiRateLimit",
        "unit", "day", "scope", "api", "totalTokens", 15000);
    char *yaml;

    CHECK(rest != NULL);
    if (!rest)
        goto out;
    yaml = round_trip(rest, vendor);
    if (yaml) {
        CHECK(strstr(yaml, "name: \"openai-prod\"") != NULL);
        CHECK(strstr(yaml, "headerPrefix: \"Token \"") != NULL);
        CHECK(strstr(yaml, "headerPrefix: \"Bearer \"") == NULL);
        CHECK(strstr(yaml, "timeoutMs: 1500") != NULL);
        CHECK(strstr(yaml, "upstreamResponseTimeout: 120") != NULL);
        /* the second sandbox endpoint happens to carry its generated name */
        CHECK(strstr(yaml, "name: \"sandbox-2\"") == NULL);
        CHECK(strstr(yaml, "name: \"sandbox-7\"") != NULL);
        CHECK(strstr(yaml, "name: \"true\"") != NULL);
        CHECK(strstr(yaml, "endpoint: \"openai-prod-2\"") != NULL); /* shared URL: by name */
        CHECK(strstr(yaml, "totalLimit: 15000") != NULL);
        CHECK(strstr(yaml, "unit: \"Day\"") != NULL);
        gw_free(yaml);
    }
    json_decref(rest);
out:
    json_decref(vendor);
}

TEST("aiRateLimit of an API without endpoints uses the extension")
{
    json_t *vendor = vendor_openai();
    json_t *rest = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:[]}, s:[],"
                             " s:[{s:s, s:s, s:s, s:s, s:i}]}",
                             "api", "id", "x", "name", "n", "basePath", "/n", "version", "v",
                             "vendor", "vendor-1", "defaultVersion", 0, "subscriptionValidation", 0,
                             "operations", "endpoints", "policies", "id", "p", "type",
                             "aiRateLimit", "unit", "minute", "scope", "api", "requests", 10);
    char *yaml = round_trip(rest, vendor);

    if (yaml) {
        CHECK(strstr(yaml, "policyName: \"ModelmuxAIRateLimit\"") != NULL);
        CHECK(strstr(yaml, "endpointConfigurations") == NULL);
        CHECK(strstr(yaml, "operations: []") != NULL);
        gw_free(yaml);
    }
    json_decref(rest);
    json_decref(vendor);
}

TEST("a policy naming an unknown endpoint is an internal error")
{
    struct gw_err err;
    json_t *vendor = vendor_openai();
    json_t *api = json_pack("{s:s, s:s, s:s}", "name", "n", "basePath", "/n", "version", "1");
    json_t *eps = json_array();
    json_t *pols = json_pack("[{s:s, s:[{s:s, s:s, s:i}]}]", "type", "modelWeightedRoundRobin",
                             "production", "model", "m", "endpoint", "nope", "weight", 1);
    char *yaml = NULL;
    size_t len = 0;

    CHECK_INT(cp_apkconf_emit(api, vendor, eps, pols, &yaml, &len, &err), -1);
    CHECK_INT(err.kind, GW_ERR_INTERNAL);
    CHECK(yaml == NULL);
    json_decref(pols);
    json_decref(eps);
    json_decref(api);
    json_decref(vendor);
}

struct emit_args {
    json_t *rest, *vendor;
};

static int emit_once(void *ctx, struct gw_err *err)
{
    struct emit_args *a = ctx;
    char *yaml = NULL;
    size_t len;
    int rc = cp_apkconf_emit(json_object_get(a->rest, "api"), a->vendor,
                             json_object_get(a->rest, "endpoints"),
                             json_object_get(a->rest, "policies"), &yaml, &len, err);

    gw_free(yaml);
    return rc;
}

TEST("allocation failures while exporting: NOMEM or success, no leak")
{
    json_t *vendor = vendor_openai(), *rest = rest_of_file("all-policies.yaml", vendor);
    struct emit_args a = {rest, vendor};

    CHECK(rest && alloc_torture(emit_once, &a, 2000));
    json_decref(rest);
    json_decref(vendor);
}

__attribute__((constructor)) static void init_alloc(void)
{
    gw_alloc_init();
}

TEST_MAIN()
