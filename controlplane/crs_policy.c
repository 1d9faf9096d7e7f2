/* Custom resources: APIPolicy (the vendor's name, modelBasedRoundRobin and
 * the modelmux extensions for the other routing policies,
 * subscriptionValidation) and AIRateLimitPolicy -> the import description
 * (see crs_doc.h). Pure functions, any thread. */
#include "crs_doc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "import_map.h"

/* ------------------------------------------------------------------------
 * APIPolicy: vendor, routing policies, subscriptionValidation
 * ------------------------------------------------------------------------ */

/* targetRef {group, kind, name} must name the API (or, when backend_ok, one
 * of its Backends): *backend set then. */
int cp_crs_target(struct crs *c, const struct cp_ynode *spec, int backend_ok, struct gw_err *err)
{
    static const char *const keys[] = {"group", "kind", "name", "namespace", NULL};
    const struct cp_ynode *t;
    const char *kind, *name;
    struct doc *b;

    if (cp_crs_map(spec, "targetRef", 1, &t, err) < 0 ||
        cp_crs_keys(t, keys, "targetRef", err) < 0 || cp_yt_str(t, "kind", 1, &kind, err) < 0 ||
        cp_yt_str(t, "name", 1, &name, err) < 0)
        return -1;
    if (strcmp(kind, "API") == 0 && strcmp(name, c->api->name) == 0)
        return 0;
    if (backend_ok && strcmp(kind, "Backend") == 0) {
        b = cp_crs_find(c, K_BACKEND, name);
        if (b && (b->ref[0] || b->ref[1]))
            return 0;
        return cp_yt_fail(err, t->line, t->col,
                          b ? "Backend \"%.120s\" is not used by the API's routes"
                            : "Backend \"%.120s\" is not in the body",
                          name);
    }
    if (strcmp(kind, "API") == 0)
        return cp_yt_fail(err, t->line, t->col,
                          "API \"%.120s\" is not in the body (the API is "
                          "\"%.120s\")",
                          name, c->api->name);
    return cp_yt_fail(err, t->line, t->col, "targetRef must name the API%s (not a %.32s)",
                      backend_ok ? " or one of its Backends" : "", kind);
}

/* The endpoint ref of backendRef {group, kind, name} in environment env. */
static int backend_ref(struct crs *c, const struct cp_ynode *m, int env, const char **ref)
{
    static const char *const keys[] = {"group", "kind", "name", "namespace", NULL};
    const struct cp_ynode *r;
    const char *name, *kind;
    struct doc *b;

    if (cp_crs_map(m, "backendRef", 1, &r, c->err) < 0 ||
        cp_crs_keys(r, keys, "backendRef", c->err) < 0 ||
        cp_yt_str(r, "kind", 0, &kind, c->err) < 0 || cp_yt_str(r, "name", 1, &name, c->err) < 0)
        return -1;
    b = cp_crs_find(c, K_BACKEND, name);
    if (!b)
        return cp_yt_fail(c->err, r->line, r->col, "Backend \"%.120s\" is not in the body", name);
    if (!b->ref[env])
        return cp_yt_fail(c->err, r->line, r->col,
                          "Backend \"%.120s\" serves no %s route of the API", name,
                          cp_im_env_names[env]);
    *ref = b->ref[env];
    return 0;
}

/* One {model, backendRef, weight?} of a round-robin or failover policy. */
static int xl_target(struct crs *c, const struct cp_ynode *m, int env, int weighted, json_t **out)
{
    static const char *const keys_w[] = {"model", "backendRef", "weight", NULL};
    static const char *const keys[] = {"model", "backendRef", NULL};
    const char *model, *ref = NULL;
    long long w = 1;
    int present;

    *out = NULL;
    if (cp_yt_need_map(m, "a model entry", c->err) < 0 ||
        cp_crs_keys(m, weighted ? keys_w : keys, "a model entry", c->err) < 0 ||
        cp_yt_str(m, "model", 1, &model, c->err) < 0 || backend_ref(c, m, env, &ref) < 0 ||
        (weighted &&
         cp_yt_int(m, "weight", GW_WEIGHT_MIN, GW_WEIGHT_MAX, &w, &present, c->err) < 0))
        return -1;
    return cp_im_target(model, ref, weighted ? w : 0, out, c->err);
}

static int xl_target_list(struct crs *c, const struct cp_ynode *seq, int env, int weighted,
                          json_t *arr)
{
    if (cp_yt_need_seq(seq, cp_im_env_names[env], c->err) < 0)
        return -1;
    for (size_t i = 0; i < seq->n; i++) {
        json_t *t = NULL;
        if (xl_target(c, seq->items[i], env, weighted, &t) < 0) {
            json_decref(t);
            return -1;
        }
        if (json_array_append_new(arr, t) != 0)
            return cp_yt_nomem(c->err);
    }
    return 0;
}

/* The optional fields of the routing policies (SPEC 2.2), which APK has no
 * form for: read from an extension map into the policy body. */
#define ROUTING_KEYS                                                                               \
    "retries", "maxRetryAfterWaitSec", "firstTokenTimeoutMs", "streamIdleTimeoutMs",               \
        "midStreamFailover", "operations"

static int xl_routing(struct crs *c, const struct cp_ynode *map, json_t *body)
{
    const struct cp_ynode *ops = NULL;
    const char *mid;
    json_t *arr;

    if (cp_im_copy_int(map, "retries", 0, GW_RETRIES_MAX, body, "retries", c->err) < 0 ||
        cp_im_copy_int(map, "maxRetryAfterWaitSec", 0, GW_RETRY_AFTER_WAIT_MAX_S, body,
                       "maxRetryAfterWaitSec", c->err) < 0 ||
        cp_im_copy_int(map, "firstTokenTimeoutMs", 0, GW_STREAM_TIMEOUT_MAX_MS, body,
                       "firstTokenTimeoutMs", c->err) < 0 ||
        cp_im_copy_int(map, "streamIdleTimeoutMs", 0, GW_STREAM_TIMEOUT_MAX_MS, body,
                       "streamIdleTimeoutMs", c->err) < 0 ||
        cp_yt_str(map, "midStreamFailover", 0, &mid, c->err) < 0 ||
        (mid && cp_im_put_str(body, "midStreamFailover", mid, c->err) < 0) ||
        cp_crs_seq(map, "operations", &ops, c->err) < 0)
        return -1;
    if (!ops)
        return 0;
    if (cp_im_put(body, "operations", arr = json_array(), c->err) < 0)
        return -1;
    for (size_t i = 0; i < ops->n; i++) {
        if (ops->items[i]->kind != CP_YT_SCALAR)
            return cp_yt_fail(c->err, ops->items[i]->line, ops->items[i]->col,
                              "an operation must be a path");
        if (json_array_append_new(arr, json_string(ops->items[i]->str)) != 0)
            return cp_yt_nomem(c->err);
    }
    return 0;
}

/* modelBasedRoundRobin (weighted) / x-modelmux-modelRoundRobin (plain):
 * {onQuotaExceedSuspendDuration, productionModels[], sandboxModels[]}. */
static int xl_round_robin(struct crs *c, const struct doc *d, const struct cp_ynode *rr,
                          int weighted)
{
    static const char *const keys[] = {"onQuotaExceedSuspendDuration", "productionModels",
                                       "sandboxModels", NULL};
    static const char *const ext_keys[] = {"onQuotaExceedSuspendDuration", "productionModels",
                                           "sandboxModels", ROUTING_KEYS, NULL};
    static const char *const lists[] = {"productionModels", "sandboxModels"};
    json_t *item, *body;

    if (cp_yt_need_map(rr, weighted ? "modelBasedRoundRobin" : "x-modelmux-modelRoundRobin",
                       c->err) < 0 ||
        cp_crs_keys(rr, weighted ? keys : ext_keys,
                    weighted ? "modelBasedRoundRobin" : "x-modelmux-modelRoundRobin", c->err) < 0 ||

        cp_im_add_item(c->desc, "policies", rr, d->label, &item, &body, c->err) < 0 ||
        cp_im_put_str(item, "policyName", weighted ? "modelBasedRoundRobin" : "modelRoundRobin",
                      c->err) < 0 ||
        cp_im_put_str(body, "type", weighted ? "modelWeightedRoundRobin" : "modelRoundRobin",
                      c->err) < 0 ||
        cp_im_copy_int(rr, "onQuotaExceedSuspendDuration", 0, CP_IM_MAX_SUSPEND_SEC, body,
                       "suspendDurationSec", c->err) < 0)
        return -1;
    for (int e = 0; e < 2; e++) {
        const struct cp_ynode *list = cp_yt_get(rr, lists[e]);
        json_t *arr = json_array();
        if (!list) {
            json_decref(arr);
            continue;
        }
        if (cp_im_put(body, cp_im_env_names[e], arr, c->err) < 0 ||
            xl_target_list(c, list, e, weighted, arr) < 0)
            return -1;
    }
    return weighted ? 0 : xl_routing(c, rr, body);
}

/* x-modelmux-modelFailover: a list of {requestTimeoutMs,
 * onQuotaExceedSuspendDuration, production {target, fallbacks[]}, sandbox}
 * whose targets are {model, backendRef}. */
static int xl_failover(struct crs *c, const struct doc *d, const struct cp_ynode *fo)
{
    static const char *const keys[] = {"requestTimeoutMs", "onQuotaExceedSuspendDuration",
                                       "production",       "sandbox",
                                       ROUTING_KEYS,       NULL};
    static const char *const env_keys[] = {"target", "fallbacks", NULL};
    const struct cp_ynode *env, *target, *fb;
    json_t *item, *body, *o, *t, *arr;

    if (cp_yt_need_map(fo, "a failover policy", c->err) < 0 ||
        cp_crs_keys(fo, keys, "x-modelmux-modelFailover", c->err) < 0 ||
        cp_im_add_item(c->desc, "policies", fo, d->label, &item, &body, c->err) < 0 ||
        cp_im_put_str(item, "policyName", "modelFailover", c->err) < 0 ||
        cp_im_put_str(body, "type", "modelFailover", c->err) < 0 ||
        cp_im_copy_int(fo, "requestTimeoutMs", 1, CP_IM_MAX_TIMEOUT_MS, body, "requestTimeoutMs",
                       c->err) < 0 ||
        cp_im_copy_int(fo, "onQuotaExceedSuspendDuration", 0, CP_IM_MAX_SUSPEND_SEC, body,
                       "suspendDurationSec", c->err) < 0 ||
        xl_routing(c, fo, body) < 0)
        return -1;
    for (int e = 0; e < 2; e++) {
        if (cp_crs_map(fo, cp_im_env_names[e], 0, &env, c->err) < 0)
            return -1;
        if (!env)
            continue;
        if (cp_im_put(body, cp_im_env_names[e], o = json_object(), c->err) < 0 ||
            cp_im_put(o, "fallbacks", arr = json_array(), c->err) < 0 ||
            cp_crs_keys(env, env_keys, cp_im_env_names[e], c->err) < 0 ||
            cp_crs_map(env, "target", 1, &target, c->err) < 0)
            return -1;
        if (xl_target(c, target, e, 0, &t) < 0) {
            json_decref(t);
            return -1;
        }
        fb = cp_yt_get(env, "fallbacks");
        if (cp_im_put(o, "target", t, c->err) < 0 || (fb && xl_target_list(c, fb, e, 0, arr) < 0))
            return -1;
    }
    return 0;
}

/* aiProvider {name}: the one vendor of the API. */
static int xl_provider_ref(struct crs *c, const struct doc *d, const struct cp_ynode *p)
{
    static const char *const keys[] = {"name", NULL};
    const char *name;

    if (cp_yt_need_map(p, "aiProvider", c->err) < 0 ||
        cp_crs_keys(p, keys, "aiProvider", c->err) < 0 ||
        cp_yt_str(p, "name", 1, &name, c->err) < 0)
        return -1;
    if (c->provider_at && strcmp(c->provider_at->str, name) != 0)
        return cp_yt_fail(c->err, p->line, p->col,
                          "a second aiProvider \"%.120s\" (%s names \"%.120s\" at line %d): an "
                          "API has one vendor",
                          name, c->provider_by->label, c->provider_at->str, c->provider_at->line);
    c->provider_by = d;
    c->provider_at = cp_yt_get(p, "name");
    return 0;
}

/* The value of a policy field: spec.override's, else spec.default's. */
static const struct cp_ynode *field(const struct cp_ynode *ov, const struct cp_ynode *def,
                                    const char *key)
{
    const struct cp_ynode *v = ov ? cp_yt_get(ov, key) : NULL;
    return v ? v : def ? cp_yt_get(def, key) : NULL;
}

static int xl_apipolicy_fields(struct crs *c, const struct doc *d, const struct cp_ynode *ov,
                               const struct cp_ynode *def)
{
    const struct cp_ynode *v, *r;
    json_t *api = json_object_get(c->desc, "api");

    if ((v = field(ov, def, "aiProvider")) && xl_provider_ref(c, d, v) < 0)
        return -1;
    if ((v = field(ov, def, "modelBasedRoundRobin")) && xl_round_robin(c, d, v, 1) < 0)
        return -1;
    if ((r = field(ov, def, "x-modelmux-routing"))) {
        static const char *const keys[] = {ROUTING_KEYS, NULL};
        json_t *pols = json_object_get(c->desc, "policies");
        json_t *last = json_array_get(pols, json_array_size(pols) - 1);
        if (!v)
            return cp_yt_fail(c->err, r->line, r->col,
                              "x-modelmux-routing needs a modelBasedRoundRobin beside it");
        if (cp_yt_need_map(r, "x-modelmux-routing", c->err) < 0 ||
            cp_crs_keys(r, keys, "x-modelmux-routing", c->err) < 0 ||
            xl_routing(c, r, json_object_get(last, "body")) < 0)
            return -1;
    }
    if ((v = field(ov, def, "x-modelmux-modelRoundRobin")) && xl_round_robin(c, d, v, 0) < 0)
        return -1;
    if ((v = field(ov, def, "x-modelmux-modelFailover"))) {
        if (cp_yt_need_seq(v, "x-modelmux-modelFailover", c->err) < 0)
            return -1;
        for (size_t i = 0; i < v->n; i++)
            if (xl_failover(c, d, v->items[i]) < 0)
                return -1;
    }
    if ((v = field(ov, def, "subscriptionValidation"))) {
        const struct cp_ynode *holder = ov && cp_yt_get(ov, "subscriptionValidation") ? ov : def;
        if (cp_im_copy_bool(holder, "subscriptionValidation", api, "subscriptionValidation",
                            c->err) < 0)
            return -1;
    }
    return 0;
}

int cp_crs_apipolicy(struct crs *c, const struct doc *d)
{
    static const char *const keys[] = {"default", "override", "targetRef", NULL};
    static const char *const part_keys[] = {"aiProvider",
                                            "modelBasedRoundRobin",
                                            "subscriptionValidation",
                                            "x-modelmux-modelRoundRobin",
                                            "x-modelmux-modelFailover",
                                            "x-modelmux-routing",
                                            NULL};
    const struct cp_ynode *ov, *def;

    if (cp_crs_keys(d->spec, keys, "spec", c->err) < 0 ||
        cp_crs_target(c, d->spec, 0, c->err) < 0 ||
        cp_crs_map(d->spec, "override", 0, &ov, c->err) < 0 ||
        cp_crs_map(d->spec, "default", 0, &def, c->err) < 0 ||
        (ov && cp_crs_keys(ov, part_keys, "spec.override", c->err) < 0) ||
        (def && cp_crs_keys(def, part_keys, "spec.default", c->err) < 0) ||
        xl_apipolicy_fields(c, d, ov, def) < 0)
        return cp_crs_in_doc(c->err, d);
    return 0;
}

/* ------------------------------------------------------------------------
 * AIRateLimitPolicy, Secret
 * ------------------------------------------------------------------------ */

int cp_crs_ratelimit(struct crs *c, const struct doc *d)
{
    static const char *const keys[] = {"default", "override", "targetRef", NULL};
    static const char *const part_keys[] = {"organization", "tokenCount", "requestCount",
                                            "x-modelmux", NULL};
    static const char *const token_keys[] = {"unit", "requestTokenCount", "responseTokenCount",
                                             "totalTokenCount", NULL};
    static const char *const req_keys[] = {"requestsPerUnit", "unit", NULL};
    static const char *const ext_keys[] = {"scope", NULL};
    struct cp_im_limits l = {
        .what = "AIRateLimitPolicy", .token_what = "tokenCount", .request_what = "requestCount"};
    const struct cp_ynode *ov, *def, *part, *ext = NULL;
    const char *scope = NULL;
    json_t *item, *body;
    int present;

    if (cp_crs_keys(d->spec, keys, "spec", c->err) < 0 ||
        cp_crs_target(c, d->spec, 1, c->err) < 0 ||
        cp_crs_map(d->spec, "override", 0, &ov, c->err) < 0 ||
        cp_crs_map(d->spec, "default", 0, &def, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    part = ov ? ov : def;
    if (!part) {
        cp_yt_fail(c->err, d->spec->line, d->spec->col,
                   "spec.override or spec.default is required");
        return cp_crs_in_doc(c->err, d);
    }
    if (cp_crs_keys(part, part_keys, ov ? "spec.override" : "spec.default", c->err) < 0 ||
        cp_crs_map(part, "tokenCount", 0, &l.token, c->err) < 0 ||
        cp_crs_map(part, "requestCount", 0, &l.request, c->err) < 0 ||
        cp_crs_map(part, "x-modelmux", 0, &ext, c->err) < 0 ||
        (l.token && cp_crs_keys(l.token, token_keys, "tokenCount", c->err) < 0) ||
        (l.request && cp_crs_keys(l.request, req_keys, "requestCount", c->err) < 0) ||
        (ext && (cp_crs_keys(ext, ext_keys, "x-modelmux", c->err) < 0 ||
                 cp_yt_str(ext, "scope", 0, &scope, c->err) < 0)))
        return cp_crs_in_doc(c->err, d);
    static const char *const token_limits[3] = {"requestTokenCount", "responseTokenCount",
                                                "totalTokenCount"};
    for (int i = 0; l.token && i < 3; i++)
        if (cp_yt_int(l.token, token_limits[i], 0, CP_IM_BIG_LIMIT, &l.tokens[i], &present,
                      c->err) < 0)
            return cp_crs_in_doc(c->err, d);
    if (l.request && cp_yt_int(l.request, "requestsPerUnit", 0, CP_IM_BIG_LIMIT, &l.requests,
                               &present, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    if (cp_im_add_item(c->desc, "policies", part, d->label, &item, &body, c->err) < 0 ||
        cp_im_put_str(item, "policyName", "AIRateLimitPolicy", c->err) < 0)
        return -1;
    if (cp_im_ratelimit(&l, part, body, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    return scope ? cp_im_put_str(body, "scope", scope, c->err) : 0;
}

/* Standard base64 (with padding) -> bytes; -1 when s is not base64. */
