/* REST JSON of one API -> apk-conf YAML (see apkconf.h).
 *
 * Drives libyaml's emitter with events into a bounded gw_buf. The layout
 * follows SPEC section 7 (string values double-quoted, so "1.0" or "true"
 * stay strings), and every policy type gets a form apkconf_import.c reads
 * back to the same policy:
 *   modelWeightedRoundRobin      -> ModelBasedRoundRobin (APK)
 *   aiRateLimit, scope "api"     -> aiRatelimit on the first endpoint
 *                                   configuration (APK)
 *   modelRoundRobin              -> ModelmuxModelRoundRobin (extension)
 *   modelFailover                -> ModelmuxModelFailover (extension)
 *   aiRateLimit, other scope or
 *   an API without endpoints     -> ModelmuxAIRateLimit (extension)
 * Endpoint details APK cannot say (a name other than the generated
 * "<environment>-<n>", a header prefix other than the vendor's, a timeout that
 * is not whole seconds) go in an "x-modelmux" mapping of the endpoint entry.
 * See controlplane/README-apkconf.md. Secret values are never read here.
 *
 * Pure function, any thread. */
#include "apkconf.h"

#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "common/alloc.h"
#include "import_map.h"
#include "yaml_emit.h"

#define DEFAULT_TIMEOUT_MS 60000

/* One endpoint as the policies refer to it. */
struct ep_ref {
    const json_t *ep; /* REST endpoint (borrowed) */
    const char *env;  /* "production" or "sandbox" */
    int index;        /* position within its environment */
    int named;        /* write its x-modelmux name (not the generated one) */
    int url_shared;   /* another endpoint of its environment has its URL */
};

struct exporter {
    struct cp_yemit e;
    const json_t *api, *vendor, *endpoints, *policies;
    struct ep_ref *refs;
    size_t nrefs;
    const json_t *ratelimit; /* the aiRateLimit written as APK aiRatelimit, or NULL */
    struct gw_err *err;
};

static const char *const env_names[] = {"production", "sandbox"};

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
}

/* ------------------------------------------------------------------------
 * Endpoints
 * ------------------------------------------------------------------------ */

static const char *str_of(const json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s ? s : "";
}

/* Builds x->refs: environment, index, and whether the name must be written. */
static int index_endpoints(struct exporter *x)
{
    size_t n = json_array_size(x->endpoints), k = 0;

    x->refs = gw_calloc(n ? n : 1, sizeof(*x->refs));
    if (!x->refs)
        return nomem(x->err);
    for (size_t e = 0; e < 2; e++) {
        int index = 0;
        for (size_t i = 0; i < n; i++) {
            const json_t *ep = json_array_get(x->endpoints, i);
            char gen[32];
            if (strcmp(str_of(ep, "environment"), env_names[e]) != 0)
                continue;
            struct ep_ref *r = &x->refs[k++];
            r->ep = ep;
            r->env = env_names[e];
            r->index = index++;
            snprintf(gen, sizeof(gen), "%s-%d", r->env, r->index + 1);
            r->named = strcmp(str_of(ep, "name"), gen) != 0;
        }
    }
    x->nrefs = k;
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < k; j++) {
            if (i != j && x->refs[i].env == x->refs[j].env &&
                strcmp(str_of(x->refs[i].ep, "url"), str_of(x->refs[j].ep, "url")) == 0) {
                /* Policies cannot tell them apart by URL: name both. */
                x->refs[i].url_shared = 1;
                x->refs[i].named = 1;
            }
        }
    }
    return 0;
}

static const struct ep_ref *ref_by_id(const struct exporter *x, const char *id)
{
    for (size_t i = 0; i < x->nrefs; i++)
        if (strcmp(str_of(x->refs[i].ep, "id"), id) == 0)
            return &x->refs[i];
    return NULL;
}

/* APK's aiRatelimit block for the API-wide aiRateLimit policy. */
static int emit_airatelimit(struct exporter *x, const json_t *p)
{
    struct cp_yemit *e = &x->e;
    const char *unit = cp_im_unit_apk(str_of(p, "unit"));
    int tokens = json_object_get(p, "requestTokens") || json_object_get(p, "responseTokens") ||
                 json_object_get(p, "totalTokens");

    if (cp_ye_key(e, "aiRatelimit") < 0 || cp_ye_map_start(e) < 0 ||
        cp_ye_kv_bool(e, "enabled", 1) < 0)
        return -1;
    if (tokens && (cp_ye_key(e, "token") < 0 || cp_ye_map_start(e) < 0 ||
                   cp_ye_opt_int(e, "promptLimit", p, "requestTokens") < 0 ||
                   cp_ye_opt_int(e, "completionLimit", p, "responseTokens") < 0 ||
                   cp_ye_opt_int(e, "totalLimit", p, "totalTokens") < 0 ||
                   cp_ye_kv_str(e, "unit", unit) < 0 || cp_ye_map_end(e) < 0))
        return -1;
    if (json_object_get(p, "requests") &&
        (cp_ye_key(e, "request") < 0 || cp_ye_map_start(e) < 0 ||
         cp_ye_opt_int(e, "requestLimit", p, "requests") < 0 || cp_ye_kv_str(e, "unit", unit) < 0 ||
         cp_ye_map_end(e) < 0))
        return -1;
    return cp_ye_map_end(e);
}

static int emit_endpoint(struct exporter *x, const struct ep_ref *r, int first)
{
    struct cp_yemit *e = &x->e;
    const json_t *ep = r->ep, *sec = json_object_get(ep, "security");
    const json_t *tmo = json_object_get(ep, "timeoutMs");
    const json_t *vauth = json_object_get(x->vendor, "auth");
    json_int_t ms = json_is_integer(tmo) ? json_integer_value(tmo) : DEFAULT_TIMEOUT_MS;
    const char *prefix = json_string_value(json_object_get(sec, "prefix"));
    const char *vprefix = json_string_value(json_object_get(vauth, "prefix"));
    int write_prefix = prefix && !(vprefix && strcmp(prefix, vprefix) == 0);
    int write_ms = ms != DEFAULT_TIMEOUT_MS && ms % 1000 != 0;
    const json_t *tls = json_object_get(ep, "tls");

    if (cp_ye_map_start(e) < 0 || cp_ye_kv_str(e, "endpoint", str_of(ep, "url")) < 0)
        return -1;
    if (json_is_object(sec) &&
        (cp_ye_key(e, "endpointSecurity") < 0 || cp_ye_map_start(e) < 0 ||
         cp_ye_kv_bool(e, "enabled", 1) < 0 || cp_ye_key(e, "securityType") < 0 ||
         cp_ye_map_start(e) < 0 || cp_ye_opt_str(e, "secretName", sec, "secret") < 0 ||
         cp_ye_kv_str(e, "in", "Header") < 0 ||
         cp_ye_opt_str(e, "apiKeyNameKey", sec, "header") < 0 ||
         cp_ye_opt_str(e, "apiKeyValueKey", sec, "secretKey") < 0 || cp_ye_map_end(e) < 0 ||
         cp_ye_map_end(e) < 0))
        return -1;
    if (ms != DEFAULT_TIMEOUT_MS && ms % 1000 == 0 &&
        (cp_ye_key(e, "resiliency") < 0 || cp_ye_map_start(e) < 0 || cp_ye_key(e, "timeout") < 0 ||
         cp_ye_map_start(e) < 0 || cp_ye_kv_int(e, "upstreamResponseTimeout", ms / 1000) < 0 ||
         cp_ye_map_end(e) < 0 || cp_ye_map_end(e) < 0))
        return -1;
    if (first && x->ratelimit && emit_airatelimit(x, x->ratelimit) < 0)
        return -1;
    if ((r->named || write_prefix || write_ms || tls) &&
        (cp_ye_key(e, "x-modelmux") < 0 || cp_ye_map_start(e) < 0 ||
         (r->named && cp_ye_kv_str(e, "name", str_of(ep, "name")) < 0) ||
         (write_ms && cp_ye_kv_int(e, "timeoutMs", ms) < 0) ||
         (write_prefix && cp_ye_kv_str(e, "headerPrefix", prefix) < 0) ||
         (tls && cp_im_emit_tls(e, tls, 1) < 0) || cp_ye_map_end(e) < 0))
        return -1;
    return cp_ye_map_end(e);
}

static int emit_endpoints(struct exporter *x)
{
    struct cp_yemit *e = &x->e;
    int first = 1;

    if (x->nrefs == 0)
        return 0;
    if (cp_ye_key(e, "endpointConfigurations") < 0 || cp_ye_map_start(e) < 0)
        return -1;
    for (size_t env = 0; env < 2; env++) {
        int opened = 0;
        for (size_t i = 0; i < x->nrefs; i++) {
            if (x->refs[i].env != env_names[env])
                continue;
            if (!opened && (cp_ye_key(e, env_names[env]) < 0 ||
                            cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0))
                return -1;
            opened = 1;
            if (emit_endpoint(x, &x->refs[i], first) < 0)
                return -1;
            first = 0;
        }
        if (opened && cp_ye_seq_end(e) < 0)
            return -1;
    }
    return cp_ye_map_end(e);
}

/* ------------------------------------------------------------------------
 * Policies
 * ------------------------------------------------------------------------ */

/* model: "…" endpoint: "<URL or name>" [weight: N] as a mapping. */
static int emit_target(struct exporter *x, const json_t *t, int weighted)
{
    struct cp_yemit *e = &x->e;
    const char *id = str_of(t, "endpoint");
    const struct ep_ref *r = ref_by_id(x, id);

    if (!r)
        return gw_err_set(x->err, GW_ERR_INTERNAL, "internal", NULL,
                          "policy names endpoint %s, which is not in the API", id);
    if (cp_ye_map_start(e) < 0 || cp_ye_opt_str(e, "model", t, "model") < 0 ||
        cp_ye_kv_str(e, "endpoint", r->url_shared ? str_of(r->ep, "name") : str_of(r->ep, "url")) <
            0 ||
        (weighted && cp_ye_opt_int(e, "weight", t, "weight") < 0) || cp_ye_map_end(e) < 0)
        return -1;
    return 0;
}

static int policy_head(struct exporter *x, const char *name)
{
    struct cp_yemit *e = &x->e;

    if (cp_ye_map_start(e) < 0 || cp_ye_kv_str(e, "policyName", name) < 0 ||
        cp_ye_kv_str(e, "policyVersion", "v1") < 0 || cp_ye_key(e, "parameters") < 0 ||
        cp_ye_map_start(e) < 0)
        return -1;
    return 0;
}

static int policy_tail(struct exporter *x)
{
    if (cp_ye_map_end(&x->e) < 0)
        return -1;
    return cp_ye_map_end(&x->e);
}

/* operations: [target, ...] when the policy names the operations it routes
 * (a modelmux parameter; absent means the default ones). */
static int emit_policy_operations(struct exporter *x, const json_t *p)
{
    const json_t *ops = json_object_get(p, "operations");

    return json_is_array(ops) ? cp_ye_kv_strs(&x->e, "operations", ops) : 0;
}

static int emit_round_robin(struct exporter *x, const json_t *p, int weighted)
{
    static const char *const lists[] = {"productionModels", "sandboxModels"};
    struct cp_yemit *e = &x->e;

    if (policy_head(x, weighted ? "ModelBasedRoundRobin" : "ModelmuxModelRoundRobin") < 0 ||
        cp_ye_opt_int(e, "onQuotaExceedSuspendDuration", p, "suspendDurationSec") < 0 ||
        emit_policy_operations(x, p) < 0)
        return -1;
    for (size_t env = 0; env < 2; env++) {
        const json_t *arr = json_object_get(p, env_names[env]), *t;
        size_t i;
        if (!json_is_array(arr))
            continue;
        if (cp_ye_key(e, lists[env]) < 0 ||
            cp_ye_seq_start(e, json_array_size(arr) ? YAML_BLOCK_SEQUENCE_STYLE
                                                    : YAML_FLOW_SEQUENCE_STYLE) < 0)
            return -1;
        json_array_foreach (arr, i, t) {
            if (emit_target(x, t, weighted) < 0)
                return -1;
        }
        if (cp_ye_seq_end(e) < 0)
            return -1;
    }
    return policy_tail(x);
}

static int emit_failover(struct exporter *x, const json_t *p)
{
    struct cp_yemit *e = &x->e;

    if (policy_head(x, "ModelmuxModelFailover") < 0 ||
        cp_ye_opt_int(e, "requestTimeoutMs", p, "requestTimeoutMs") < 0 ||
        cp_ye_opt_int(e, "onQuotaExceedSuspendDuration", p, "suspendDurationSec") < 0)
        return -1;
    for (size_t env = 0; env < 2; env++) {
        const json_t *o = json_object_get(p, env_names[env]), *fb, *t;
        size_t i;
        if (!json_is_object(o))
            continue;
        fb = json_object_get(o, "fallbacks");
        if (cp_ye_key(e, env_names[env]) < 0 || cp_ye_map_start(e) < 0 ||
            cp_ye_key(e, "target") < 0 || emit_target(x, json_object_get(o, "target"), 0) < 0 ||
            cp_ye_key(e, "fallbacks") < 0 ||
            cp_ye_seq_start(e, json_array_size(fb) ? YAML_BLOCK_SEQUENCE_STYLE
                                                   : YAML_FLOW_SEQUENCE_STYLE) < 0)
            return -1;
        json_array_foreach (fb, i, t) {
            if (emit_target(x, t, 0) < 0)
                return -1;
        }
        if (cp_ye_seq_end(e) < 0 || cp_ye_map_end(e) < 0)
            return -1;
    }
    return policy_tail(x);
}

static int emit_ratelimit_ext(struct exporter *x, const json_t *p)
{
    static const char *const limits[] = {"requestTokens", "responseTokens", "totalTokens",
                                         "requests", NULL};
    struct cp_yemit *e = &x->e;

    if (policy_head(x, "ModelmuxAIRateLimit") < 0 || cp_ye_opt_str(e, "unit", p, "unit") < 0 ||
        cp_ye_opt_str(e, "scope", p, "scope") < 0)
        return -1;
    for (const char *const *l = limits; *l; l++)
        if (cp_ye_opt_int(e, *l, p, *l) < 0)
            return -1;
    return policy_tail(x);
}

static int emit_policies(struct exporter *x)
{
    struct cp_yemit *e = &x->e;
    const json_t *p;
    size_t i, count = 0;

    json_array_foreach (x->policies, i, p) {
        if (p != x->ratelimit)
            count++;
    }
    if (count == 0)
        return 0;
    if (cp_ye_key(e, "apiPolicies") < 0 || cp_ye_map_start(e) < 0 || cp_ye_key(e, "request") < 0 ||
        cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0)
        return -1;
    json_array_foreach (x->policies, i, p) {
        const char *type = str_of(p, "type");
        int r;
        if (p == x->ratelimit)
            continue;
        if (strcmp(type, "modelWeightedRoundRobin") == 0)
            r = emit_round_robin(x, p, 1);
        else if (strcmp(type, "modelRoundRobin") == 0)
            r = emit_round_robin(x, p, 0);
        else if (strcmp(type, "modelFailover") == 0)
            r = emit_failover(x, p);
        else if (strcmp(type, "aiRateLimit") == 0)
            r = emit_ratelimit_ext(x, p);
        else
            r = gw_err_set(x->err, GW_ERR_INTERNAL, "internal", NULL,
                           "policy type \"%s\" has no apk-conf form", type);
        if (r < 0)
            return -1;
    }
    if (cp_ye_seq_end(e) < 0)
        return -1;
    return cp_ye_map_end(e);
}

/* ------------------------------------------------------------------------
 * The document
 * ------------------------------------------------------------------------ */

static int emit_operations(struct exporter *x)
{
    struct cp_yemit *e = &x->e;
    const json_t *ops = json_object_get(x->api, "operations"), *op;
    size_t i;

    if (!json_is_array(ops))
        return 0;
    if (cp_ye_key(e, "operations") < 0 ||
        cp_ye_seq_start(e, json_array_size(ops) ? YAML_BLOCK_SEQUENCE_STYLE
                                                : YAML_FLOW_SEQUENCE_STYLE) < 0)
        return -1;
    json_array_foreach (ops, i, op) {
        if (cp_ye_map_start(e) < 0 || cp_ye_opt_str(e, "target", op, "target") < 0 ||
            cp_ye_opt_str(e, "verb", op, "verb") < 0 ||
            cp_ye_opt_bool(e, "secured", op, "secured") < 0 ||
            cp_ye_kv_strs(e, "scopes", json_object_get(op, "scopes")) < 0 || cp_ye_map_end(e) < 0)
            return -1;
    }
    return cp_ye_seq_end(e);
}

static int emit_document(struct exporter *x)
{
    struct cp_yemit *e = &x->e;
    const char *vversion = json_string_value(json_object_get(x->vendor, "apiVersion"));

    if (cp_ye_doc_start(e, 0) < 0)
        return -1;
    if (cp_ye_map_start(e) < 0 || cp_ye_opt_str(e, "name", x->api, "name") < 0 ||
        cp_ye_opt_str(e, "basePath", x->api, "basePath") < 0 ||
        cp_ye_opt_str(e, "version", x->api, "version") < 0 || cp_ye_kv_str(e, "type", "REST") < 0 ||
        cp_ye_opt_bool(e, "defaultVersion", x->api, "defaultVersion") < 0 ||
        cp_ye_opt_bool(e, "subscriptionValidation", x->api, "subscriptionValidation") < 0 ||
        cp_ye_key(e, "aiProvider") < 0 || cp_ye_map_start(e) < 0 ||
        cp_ye_opt_str(e, "name", x->vendor, "name") < 0 ||
        (vversion && *vversion && cp_ye_kv_str(e, "apiVersion", vversion) < 0) ||
        cp_ye_map_end(e) < 0 || emit_endpoints(x) < 0 || emit_operations(x) < 0 ||
        emit_policies(x) < 0 || cp_ye_map_end(e) < 0)
        return -1;
    return cp_ye_doc_end(e);
}

/* The aiRateLimit policy to write in APK's per-endpoint form, or NULL. */
static const json_t *apk_ratelimit(const struct exporter *x)
{
    const json_t *p;
    size_t i;

    if (x->nrefs == 0)
        return NULL;
    json_array_foreach (x->policies, i, p) {
        const char *scope = json_string_value(json_object_get(p, "scope"));
        if (strcmp(str_of(p, "type"), "aiRateLimit") == 0 && (!scope || !strcmp(scope, "api")))
            return p;
    }
    return NULL;
}

int cp_apkconf_emit(const json_t *api, const json_t *vendor, const json_t *endpoints,
                    const json_t *policies, char **out, size_t *out_len, struct gw_err *err)
{
    struct exporter x;
    int rc = -1;

    *out = NULL;
    *out_len = 0;
    memset(&x, 0, sizeof(x));
    x.api = api;
    x.vendor = vendor;
    x.endpoints = endpoints;
    x.policies = policies;
    x.err = err;
    gw_err_clear(err);
    if (cp_ye_init(&x.e, (size_t)CP_APKCONF_MAX_BODY * 4, err) < 0)
        return -1;
    if (index_endpoints(&x) < 0) {
        cp_ye_finish(&x.e, 1, "apk-conf", out, out_len, err);
        goto out;
    }
    x.ratelimit = apk_ratelimit(&x);
    rc = cp_ye_finish(&x.e, emit_document(&x) < 0, "apk-conf", out, out_len, err);
out:
    gw_free(x.refs);
    return rc;
}
