/* apk-conf YAML -> description of REST JSON bodies (see apkconf.h): the
 * apk-conf front end of the import.
 *
 * yaml_tree.c reads the document (refusing hostile input); this file walks
 * the tree against the apk-conf shape, refusing unknown keys and wrongly
 * typed values with "line L, column C: <problem>", and writes the
 * description with the mapping shared with the custom-resource import
 * (import_map.c): security, rate limits, round-robin targets.
 *
 * Pure functions, no globals: any thread. */
#include "apkconf.h"

#include <stdio.h>
#include <string.h>

#include "import_map.h"
#include "yaml_tree.h"

/* apk-conf keys that exist in APK but have no modelmux meaning: named as
 * unsupported rather than unknown. */
static const char *const apk_unsupported[] = {"rateLimit",
                                              "authentication",
                                              "corsConfiguration",
                                              "additionalProperties",
                                              "environment",
                                              "certificate",
                                              "operationPolicies",
                                              "endpointConfigurations",
                                              "weight",
                                              "retryPolicy",
                                              "circuitBreaker",
                                              "downstreamRequestIdleTimeout",
                                              "userNameKey",
                                              "passwordKey",
                                              NULL};

static int check_keys(const struct cp_ynode *map, const char *const *allowed, const char *what,
                      struct gw_err *err)
{
    return cp_yt_check_keys(map, allowed, apk_unsupported, what, err);
}

struct xlate {
    json_t *desc;                        /* the description being built (import_map.h) */
    const struct cp_ynode *ratelimit_at; /* first aiRatelimit seen, for the error */
    struct gw_err *err;
};

/* --- top level: the API ------------------------------------------------- */

static int xl_operations(struct xlate *x, const struct cp_ynode *seq, json_t *api)
{
    static const char *const keys[] = {"target", "verb", "secured", "scopes", NULL};
    json_t *ops = json_array();

    if (cp_im_put(api, "operations", ops, x->err) < 0)
        return -1;
    if (cp_yt_need_seq(seq, "operations", x->err) < 0)
        return -1;
    for (size_t i = 0; i < seq->n; i++) {
        const struct cp_ynode *op = seq->items[i];
        const char *target, *verb;
        json_t *o;

        if (cp_yt_need_map(op, "an operation", x->err) < 0 ||
            check_keys(op, keys, "an operation", x->err) < 0 ||
            cp_yt_str(op, "target", 1, &target, x->err) < 0 ||
            cp_yt_str(op, "verb", 1, &verb, x->err) < 0)
            return -1;
        o = json_object();
        if (json_array_append_new(ops, o) != 0)
            return cp_yt_nomem(x->err);
        if (cp_im_put_str(o, "target", target, x->err) < 0 ||
            cp_im_put_str(o, "verb", verb, x->err) < 0 ||
            cp_im_copy_bool(op, "secured", o, "secured", x->err) < 0 ||
            cp_im_copy_strs(op, "scopes", o, "scopes", x->err) < 0)
            return -1;
    }
    return 0;
}

static int xl_api(struct xlate *x, const struct cp_ynode *root)
{
    static const char *const keys[] = {"name",
                                       "basePath",
                                       "version",
                                       "type",
                                       "defaultVersion",
                                       "subscriptionValidation",
                                       "aiProvider",
                                       "endpointConfigurations",
                                       "operations",
                                       "apiPolicies",
                                       "id",
                                       "definitionPath",
                                       NULL};
    static const char *const provider_keys[] = {"name", "apiVersion", NULL};
    const char *name, *base, *version, *type, *vname, *vversion;
    const struct cp_ynode *prov, *ops;
    json_t *api, *vendor;

    api = json_object();
    if (cp_im_put(x->desc, "api", api, x->err) < 0)
        return -1;
    vendor = json_object();
    if (cp_im_put(x->desc, "vendor", vendor, x->err) < 0)
        return -1;
    if (cp_yt_need_map(root, "an apk-conf document", x->err) < 0 ||
        check_keys(root, keys, "the apk-conf", x->err) < 0 ||
        cp_yt_str(root, "name", 1, &name, x->err) < 0 ||
        cp_yt_str(root, "basePath", 1, &base, x->err) < 0 ||
        cp_yt_str(root, "version", 1, &version, x->err) < 0 ||
        cp_yt_str(root, "type", 0, &type, x->err) < 0)
        return -1;
    if (type && strcmp(type, "REST") != 0) {
        const struct cp_ynode *t = cp_yt_get(root, "type");
        return cp_yt_fail(x->err, t->line, t->col, "type must be REST (not \"%.32s\")", type);
    }
    if (cp_im_put_str(api, "name", name, x->err) < 0 ||
        cp_im_put_str(api, "basePath", base, x->err) < 0 ||
        cp_im_put_str(api, "version", version, x->err) < 0 ||
        cp_im_copy_bool(root, "defaultVersion", api, "defaultVersion", x->err) < 0 ||
        cp_im_copy_bool(root, "subscriptionValidation", api, "subscriptionValidation", x->err) < 0)
        return -1;

    prov = cp_yt_get(root, "aiProvider");
    if (!prov)
        return cp_yt_fail(x->err, root->line, root->col,
                          "aiProvider is required (the vendor, by name)");
    if (cp_yt_need_map(prov, "aiProvider", x->err) < 0 ||
        check_keys(prov, provider_keys, "aiProvider", x->err) < 0 ||
        cp_yt_str(prov, "name", 1, &vname, x->err) < 0 ||
        cp_yt_str(prov, "apiVersion", 0, &vversion, x->err) < 0)
        return -1;
    if (cp_im_put_str(vendor, "name", vname, x->err) < 0 ||
        (vversion && cp_im_put_str(vendor, "apiVersion", vversion, x->err) < 0) ||
        cp_im_put_pos(vendor, cp_yt_get(prov, "name"), NULL, x->err) < 0)
        return -1;

    ops = cp_yt_get(root, "operations");
    return ops ? xl_operations(x, ops, api) : 0;
}

/* --- endpoints ---------------------------------------------------------- */

/* APK's per-endpoint aiRatelimit {enabled, token {promptLimit,
 * completionLimit, totalLimit, unit}, request {requestLimit, unit}} becomes
 * one aiRateLimit policy of scope "api". 0 means "no limit" (APK's default). */
static int xl_airatelimit(struct xlate *x, const struct cp_ynode *rl)
{
    static const char *const keys[] = {"enabled", "token", "request", NULL};
    static const char *const token_keys[] = {"promptLimit", "completionLimit", "totalLimit", "unit",
                                             NULL};
    static const char *const req_keys[] = {"requestLimit", "unit", NULL};
    static const char *const token_limits[3] = {"promptLimit", "completionLimit", "totalLimit"};
    struct cp_im_limits l = {.what = "aiRatelimit",
                             .token_what = "aiRatelimit.token",
                             .request_what = "aiRatelimit.request"};
    int enabled = 1, present = 0;
    json_t *entry, *body;

    if (cp_yt_need_map(rl, "aiRatelimit", x->err) < 0 ||
        check_keys(rl, keys, "aiRatelimit", x->err) < 0 ||
        cp_yt_bool(rl, "enabled", &enabled, &present, x->err) < 0)
        return -1;
    if (!enabled)
        return 0;
    if (x->ratelimit_at)
        return cp_yt_fail(x->err, rl->line, rl->col,
                          "only one aiRatelimit per API is supported (first at line %d)",
                          x->ratelimit_at->line);
    x->ratelimit_at = rl;
    if (cp_im_add_item(x->desc, "policies", rl, NULL, &entry, &body, x->err) < 0 ||
        cp_im_put_str(entry, "policyName", "aiRatelimit", x->err) < 0)
        return -1;
    l.token = cp_yt_get(rl, "token");
    l.request = cp_yt_get(rl, "request");
    if (l.token && (cp_yt_need_map(l.token, "aiRatelimit.token", x->err) < 0 ||
                    check_keys(l.token, token_keys, "aiRatelimit.token", x->err) < 0))
        return -1;
    for (size_t i = 0; l.token && i < 3; i++)
        if (cp_yt_int(l.token, token_limits[i], 0, CP_IM_BIG_LIMIT, &l.tokens[i], &present,
                      x->err) < 0)
            return -1;
    if (l.request && (cp_yt_need_map(l.request, "aiRatelimit.request", x->err) < 0 ||
                      check_keys(l.request, req_keys, "aiRatelimit.request", x->err) < 0 ||
                      cp_yt_int(l.request, "requestLimit", 0, CP_IM_BIG_LIMIT, &l.requests,
                                &present, x->err) < 0))
        return -1;
    return cp_im_ratelimit(&l, rl, body, x->err);
}

/* endpointSecurity {enabled, securityType {secretName, in: Header,
 * apiKeyNameKey, apiKeyValueKey}} -> REST "security" (NULL when disabled). */
static int xl_security(struct xlate *x, const struct cp_ynode *es, json_t *ep)
{
    static const char *const keys[] = {"enabled", "securityType", NULL};
    static const char *const type_keys[] = {"secretName", "in", "apiKeyNameKey", "apiKeyValueKey",
                                            NULL};
    const struct cp_ynode *st;
    const char *secret, *in, *name_key, *value_key;
    int enabled = 1, present;

    if (cp_yt_need_map(es, "endpointSecurity", x->err) < 0 ||
        check_keys(es, keys, "endpointSecurity", x->err) < 0 ||
        cp_yt_bool(es, "enabled", &enabled, &present, x->err) < 0)
        return -1;
    st = cp_yt_get(es, "securityType");
    if (!enabled)
        return 0;
    if (!st)
        return cp_yt_fail(x->err, es->line, es->col, "securityType is required");
    if (cp_yt_need_map(st, "securityType", x->err) < 0)
        return -1;
    if (cp_yt_get(st, "userNameKey") || cp_yt_get(st, "passwordKey"))
        return cp_yt_fail(x->err, st->line, st->col,
                          "basic endpoint security is not supported by modelmux (use secretName, "
                          "in: Header, apiKeyNameKey, apiKeyValueKey)");
    if (check_keys(st, type_keys, "securityType", x->err) < 0 ||
        cp_yt_str(st, "secretName", 1, &secret, x->err) < 0 ||
        cp_yt_str(st, "in", 0, &in, x->err) < 0 ||
        cp_yt_str(st, "apiKeyNameKey", 0, &name_key, x->err) < 0 ||
        cp_yt_str(st, "apiKeyValueKey", 0, &value_key, x->err) < 0)
        return -1;
    if (in && strcmp(in, "Header") != 0) {
        const struct cp_ynode *v = cp_yt_get(st, "in");
        return cp_yt_fail(x->err, v->line, v->col, "in must be Header (not \"%.32s\")", in);
    }
    return cp_im_security(ep, secret, value_key, name_key, NULL, x->err);
}

/* resiliency {timeout {upstreamResponseTimeout: seconds}} -> timeoutMs. */
static int xl_resiliency(struct xlate *x, const struct cp_ynode *res, json_t *ep)
{
    static const char *const keys[] = {"timeout", NULL};
    static const char *const timeout_keys[] = {"upstreamResponseTimeout", NULL};
    const struct cp_ynode *t;
    long long sec;
    int present;

    if (cp_yt_need_map(res, "resiliency", x->err) < 0 ||
        check_keys(res, keys, "resiliency", x->err) < 0)
        return -1;
    t = cp_yt_get(res, "timeout");
    if (!t)
        return 0;
    if (cp_yt_need_map(t, "resiliency.timeout", x->err) < 0 ||
        check_keys(t, timeout_keys, "resiliency.timeout", x->err) < 0 ||
        cp_yt_int(t, "upstreamResponseTimeout", 1, CP_IM_MAX_TIMEOUT_MS / 1000, &sec, &present,
                  x->err) < 0)
        return -1;
    return present ? cp_im_put(ep, "timeoutMs", json_integer(sec * 1000), x->err) : 0;
}

/* The modelmux extension block of an endpoint entry:
 * x-modelmux {name, timeoutMs, headerPrefix, tls}. */
static int xl_ep_extension(struct xlate *x, const struct cp_ynode *ext, json_t *ep,
                           const char **name)
{
    static const char *const keys[] = {"name", "timeoutMs", "headerPrefix", "tls", NULL};
    const char *prefix;
    json_t *sec;

    if (cp_yt_need_map(ext, "x-modelmux", x->err) < 0 ||
        check_keys(ext, keys, "x-modelmux", x->err) < 0 ||
        cp_yt_str(ext, "name", 0, name, x->err) < 0 ||
        cp_yt_str(ext, "headerPrefix", 0, &prefix, x->err) < 0)
        return -1;
    if (cp_yt_get(ext, "timeoutMs") && json_object_get(ep, "timeoutMs")) {
        const struct cp_ynode *v = cp_yt_get(ext, "timeoutMs");
        return cp_yt_fail(x->err, v->line, v->col,
                          "timeoutMs conflicts with resiliency.timeout.upstreamResponseTimeout");
    }
    if (cp_im_copy_int(ext, "timeoutMs", 1, CP_IM_MAX_TIMEOUT_MS, ep, "timeoutMs", x->err) < 0 ||
        (cp_yt_get(ext, "tls") &&
         cp_im_tls(cp_yt_get(ext, "tls"), "x-modelmux.tls", ep, x->err) < 0))
        return -1;
    if (!prefix)
        return 0;
    sec = json_object_get(ep, "security");
    if (!sec) {
        const struct cp_ynode *v = cp_yt_get(ext, "headerPrefix");
        return cp_yt_fail(x->err, v->line, v->col, "headerPrefix needs endpointSecurity");
    }
    return cp_im_put_str(sec, "prefix", prefix, x->err);
}

/* Checks a new endpoint's name and URL against the ones before it. */
static int check_endpoint_unique(struct xlate *x, const struct cp_ynode *entry, const char *env,
                                 const char *url, const char *name, int explicit_name)
{
    json_t *dup;
    int count;

    dup = cp_im_find_endpoint(x->desc, NULL, "name", name, &count);
    if (dup)
        return cp_yt_fail(x->err, entry->line, entry->col,
                          "endpoint name \"%.64s\" is already used (line %d)", name,
                          (int)json_integer_value(json_object_get(dup, "line")));
    if (explicit_name)
        return 0;
    /* Policies name endpoints by URL: a second unnamed endpoint with the same
     * URL in the same environment would be ambiguous. */
    dup = cp_im_find_endpoint(x->desc, env, "url", url, &count);
    if (dup)
        return cp_yt_fail(x->err, entry->line, entry->col,
                          "endpoint %.200s is already declared in %s (line %d); give both an "
                          "x-modelmux name to keep them apart",
                          url, env, (int)json_integer_value(json_object_get(dup, "line")));
    return 0;
}

static int xl_endpoint(struct xlate *x, const struct cp_ynode *entry, const char *env, size_t index)
{
    static const char *const keys[] = {"endpoint",    "endpointSecurity", "resiliency",
                                       "aiRatelimit", "x-modelmux",       NULL};
    const struct cp_ynode *v;
    const char *url, *name = NULL;
    char genname[32];
    json_t *item, *ep;

    if (cp_yt_need_map(entry, "an endpoint configuration", x->err) < 0 ||
        check_keys(entry, keys, "an endpoint configuration", x->err) < 0)
        return -1;
    v = cp_yt_get(entry, "endpoint");
    if (v && v->kind == CP_YT_MAP)
        return cp_yt_fail(x->err, v->line, v->col,
                          "endpoint must be a URL (Kubernetes services are not supported)");
    if (cp_yt_str(entry, "endpoint", 1, &url, x->err) < 0)
        return -1;

    /* item owns ep; it joins the description only once complete, so the
     * uniqueness checks below never see it. */
    item = json_object();
    if (!item)
        return cp_yt_nomem(x->err);
    ep = json_object();
    if (cp_im_put(item, "body", ep, x->err) < 0 || cp_im_put_pos(item, entry, NULL, x->err) < 0 ||
        cp_im_put_str(ep, "environment", env, x->err) < 0 ||
        cp_im_put_str(ep, "url", url, x->err) < 0)
        goto fail;
    v = cp_yt_get(entry, "endpointSecurity");
    if (v && xl_security(x, v, ep) < 0)
        goto fail;
    v = cp_yt_get(entry, "resiliency");
    if (v && xl_resiliency(x, v, ep) < 0)
        goto fail;
    v = cp_yt_get(entry, "x-modelmux");
    if (v && xl_ep_extension(x, v, ep, &name) < 0)
        goto fail;
    if (!name) {
        /* Deterministic: the same document always gives the same names. */
        snprintf(genname, sizeof(genname), "%s-%zu", env, index + 1);
        if (check_endpoint_unique(x, entry, env, url, genname, 0) < 0)
            goto fail;
        name = genname;
    } else if (check_endpoint_unique(x, entry, env, url, name, 1) < 0) {
        goto fail;
    }
    if (cp_im_put_str(ep, "name", name, x->err) < 0 || cp_im_put_str(item, "ref", name, x->err) < 0)
        goto fail;
    if (json_array_append_new(json_object_get(x->desc, "endpoints"), item) != 0)
        return cp_yt_nomem(x->err);
    v = cp_yt_get(entry, "aiRatelimit");
    return v ? xl_airatelimit(x, v) : 0;
fail:
    json_decref(item);
    return -1;
}

static int xl_endpoints(struct xlate *x, const struct cp_ynode *root)
{
    static const char *const keys[] = {"production", "sandbox", NULL};
    const struct cp_ynode *conf = cp_yt_get(root, "endpointConfigurations");

    if (!conf)
        return 0;
    if (cp_yt_need_map(conf, "endpointConfigurations", x->err) < 0 ||
        check_keys(conf, keys, "endpointConfigurations", x->err) < 0)
        return -1;
    for (size_t e = 0; e < 2; e++) {
        const struct cp_ynode *list = cp_yt_get(conf, cp_im_env_names[e]);
        if (!list)
            continue;
        if (list->kind == CP_YT_MAP) {
            /* The older apk-conf form: one endpoint configuration. */
            if (xl_endpoint(x, list, cp_im_env_names[e], 0) < 0)
                return -1;
            continue;
        }
        if (cp_yt_need_seq(list, cp_im_env_names[e], x->err) < 0)
            return -1;
        for (size_t i = 0; i < list->n; i++)
            if (xl_endpoint(x, list->items[i], cp_im_env_names[e], i) < 0)
                return -1;
    }
    return 0;
}

/* --- policies ----------------------------------------------------------- */

/* The ref of the endpoint a policy names by URL (or by x-modelmux name). */
static int resolve_endpoint(struct xlate *x, const struct cp_ynode *model, const char *env,
                            const char **ref)
{
    const char *s;
    const struct cp_ynode *v;
    json_t *e;
    int count;

    if (cp_yt_str(model, "endpoint", 1, &s, x->err) < 0)
        return -1;
    v = cp_yt_get(model, "endpoint");
    e = cp_im_find_endpoint(x->desc, env, "url", s, &count);
    if (count > 1)
        e = NULL; /* ambiguous URL: only a name will do */
    if (!e)
        e = cp_im_find_endpoint(x->desc, env, "name", s, &count);
    if (!e)
        return cp_yt_fail(x->err, v->line, v->col,
                          "endpoint %.200s is not declared in endpointConfigurations.%s%s", s, env,
                          count > 1 ? " (or is declared several times: use its x-modelmux name)"
                                    : "");
    *ref = json_string_value(json_object_get(e, "ref"));
    return 0;
}

/* One {model, endpoint[, weight]} of a round-robin or failover policy. */
static int xl_target(struct xlate *x, const struct cp_ynode *m, const char *env, int weighted,
                     json_t **out)
{
    static const char *const keys_w[] = {"model", "endpoint", "weight", NULL};
    static const char *const keys[] = {"model", "endpoint", NULL};
    const char *model, *ref = NULL;
    long long w = 1;
    int present;

    *out = NULL;
    if (cp_yt_need_map(m, "a model entry", x->err) < 0 ||
        check_keys(m, weighted ? keys_w : keys, "a model entry", x->err) < 0 ||
        cp_yt_str(m, "model", 1, &model, x->err) < 0 || resolve_endpoint(x, m, env, &ref) < 0 ||
        (weighted &&
         cp_yt_int(m, "weight", GW_WEIGHT_MIN, GW_WEIGHT_MAX, &w, &present, x->err) < 0))
        return -1;
    return cp_im_target(model, ref, weighted ? w : 0, out, x->err);
}

/* Appends the targets of the sequence seq to arr. */
static int xl_target_list(struct xlate *x, const struct cp_ynode *seq, const char *env,
                          int weighted, json_t *arr)
{
    for (size_t i = 0; i < seq->n; i++) {
        json_t *t = NULL;
        if (xl_target(x, seq->items[i], env, weighted, &t) < 0) {
            json_decref(t);
            return -1;
        }
        if (json_array_append_new(arr, t) != 0)
            return cp_yt_nomem(x->err);
    }
    return 0;
}

/* "operations": [target, ...] of a round robin (a modelmux parameter: the
 * operation targets it routes), copied as given; the policy rules check it. */
static int xl_policy_operations(struct xlate *x, const struct cp_ynode *params, json_t *body)
{
    const struct cp_ynode *seq = cp_yt_get(params, "operations");
    json_t *ops;

    if (!seq)
        return 0;
    if (cp_yt_need_seq(seq, "operations", x->err) < 0)
        return -1;
    ops = json_array();
    if (cp_im_put(body, "operations", ops, x->err) < 0)
        return -1;
    for (size_t i = 0; i < seq->n; i++) {
        const struct cp_ynode *t = seq->items[i];
        if (t->kind != CP_YT_SCALAR)
            return cp_yt_fail(x->err, t->line, t->col, "operations must be operation targets");
        if (json_array_append_new(ops, json_string(t->str)) != 0)
            return cp_yt_nomem(x->err);
    }
    return 0;
}

/* ModelBasedRoundRobin (weighted) and ModelmuxModelRoundRobin (plain):
 * {onQuotaExceedSuspendDuration, productionModels[], sandboxModels[],
 * operations[]}. */
static int xl_round_robin(struct xlate *x, const struct cp_ynode *params, json_t *body,
                          int weighted)
{
    static const char *const keys[] = {"onQuotaExceedSuspendDuration", "productionModels",
                                       "sandboxModels", "operations", NULL};
    static const char *const lists[] = {"productionModels", "sandboxModels"};

    if (cp_im_put_str(body, "type", weighted ? "modelWeightedRoundRobin" : "modelRoundRobin",
                      x->err) < 0 ||
        check_keys(params, keys, "parameters", x->err) < 0 ||
        cp_im_copy_int(params, "onQuotaExceedSuspendDuration", 0, CP_IM_MAX_SUSPEND_SEC, body,
                       "suspendDurationSec", x->err) < 0 ||
        xl_policy_operations(x, params, body) < 0)
        return -1;
    for (size_t e = 0; e < 2; e++) {
        const struct cp_ynode *list = cp_yt_get(params, lists[e]);
        json_t *arr;
        if (!list)
            continue;
        if (cp_yt_need_seq(list, lists[e], x->err) < 0)
            return -1;
        arr = json_array();
        if (cp_im_put(body, cp_im_env_names[e], arr, x->err) < 0)
            return -1;
        if (xl_target_list(x, list, cp_im_env_names[e], weighted, arr) < 0)
            return -1;
    }
    return 0;
}

/* ModelmuxModelFailover: {requestTimeoutMs, onQuotaExceedSuspendDuration,
 * production {target {model, endpoint}, fallbacks []}, sandbox {...}}. */
static int xl_failover(struct xlate *x, const struct cp_ynode *params, json_t *body)
{
    static const char *const keys[] = {"requestTimeoutMs", "onQuotaExceedSuspendDuration",
                                       "production", "sandbox", NULL};
    static const char *const env_keys[] = {"target", "fallbacks", NULL};

    if (cp_im_put_str(body, "type", "modelFailover", x->err) < 0 ||
        check_keys(params, keys, "parameters", x->err) < 0 ||
        cp_im_copy_int(params, "requestTimeoutMs", 1, CP_IM_MAX_TIMEOUT_MS, body,
                       "requestTimeoutMs", x->err) < 0 ||
        cp_im_copy_int(params, "onQuotaExceedSuspendDuration", 0, CP_IM_MAX_SUSPEND_SEC, body,
                       "suspendDurationSec", x->err) < 0)
        return -1;
    for (size_t e = 0; e < 2; e++) {
        const struct cp_ynode *env = cp_yt_get(params, cp_im_env_names[e]), *target, *fb;
        json_t *o, *t = NULL, *arr;
        if (!env)
            continue;
        if (cp_yt_need_map(env, cp_im_env_names[e], x->err) < 0 ||
            check_keys(env, env_keys, cp_im_env_names[e], x->err) < 0)
            return -1;
        o = json_object();
        if (cp_im_put(body, cp_im_env_names[e], o, x->err) < 0)
            return -1;
        target = cp_yt_get(env, "target");
        if (!target)
            return cp_yt_fail(x->err, env->line, env->col, "target is required");
        if (xl_target(x, target, cp_im_env_names[e], 0, &t) < 0) {
            json_decref(t);
            return -1;
        }
        if (cp_im_put(o, "target", t, x->err) < 0)
            return -1;
        arr = json_array();
        if (cp_im_put(o, "fallbacks", arr, x->err) < 0)
            return -1;
        fb = cp_yt_get(env, "fallbacks");
        if (!fb)
            continue;
        if (cp_yt_need_seq(fb, "fallbacks", x->err) < 0)
            return -1;
        if (xl_target_list(x, fb, cp_im_env_names[e], 0, arr) < 0)
            return -1;
    }
    return 0;
}

/* ModelmuxAIRateLimit: the REST aiRateLimit fields as parameters. */
static int xl_ratelimit_ext(struct xlate *x, const struct cp_ynode *params, json_t *body)
{
    static const char *const keys[] = {
        "unit", "scope", "requestTokens", "responseTokens", "totalTokens", "requests", NULL};
    const char *unit, *scope;

    if (x->ratelimit_at)
        return cp_yt_fail(x->err, params->line, params->col,
                          "only one AI rate limit per API is supported (first at line %d)",
                          x->ratelimit_at->line);
    x->ratelimit_at = params;
    if (cp_im_put_str(body, "type", "aiRateLimit", x->err) < 0 ||
        check_keys(params, keys, "parameters", x->err) < 0 ||
        cp_im_unit(params, "unit", &unit, x->err) < 0 ||
        cp_yt_str(params, "scope", 0, &scope, x->err) < 0 ||
        cp_im_put_str(body, "unit", unit, x->err) < 0 ||
        (scope && cp_im_put_str(body, "scope", scope, x->err) < 0))
        return -1;
    for (size_t i = 2; keys[i]; i++)
        if (cp_im_copy_int(params, keys[i], 1, CP_IM_BIG_LIMIT, body, keys[i], x->err) < 0)
            return -1;
    return 0;
}

static int xl_policy(struct xlate *x, const struct cp_ynode *p)
{
    static const char *const keys[] = {"policyName", "policyVersion", "policyId", "parameters",
                                       NULL};
    const char *name, *ignored;
    const struct cp_ynode *params;
    json_t *entry, *body;

    if (cp_yt_need_map(p, "a policy", x->err) < 0 || check_keys(p, keys, "a policy", x->err) < 0 ||
        cp_yt_str(p, "policyName", 1, &name, x->err) < 0 ||
        cp_yt_str(p, "policyVersion", 0, &ignored, x->err) < 0 ||
        cp_yt_str(p, "policyId", 0, &ignored, x->err) < 0)
        return -1;
    params = cp_yt_get(p, "parameters");
    if (!params)
        return cp_yt_fail(x->err, p->line, p->col, "parameters are required");
    if (cp_yt_need_map(params, "parameters", x->err) < 0)
        return -1;
    if (cp_im_add_item(x->desc, "policies", p, NULL, &entry, &body, x->err) < 0 ||
        cp_im_put_str(entry, "policyName", name, x->err) < 0)
        return -1;
    if (strcmp(name, "ModelBasedRoundRobin") == 0)
        return xl_round_robin(x, params, body, 1);
    if (strcmp(name, "ModelmuxModelRoundRobin") == 0)
        return xl_round_robin(x, params, body, 0);
    if (strcmp(name, "ModelmuxModelFailover") == 0)
        return xl_failover(x, params, body);
    if (strcmp(name, "ModelmuxAIRateLimit") == 0)
        return xl_ratelimit_ext(x, params, body);
    const struct cp_ynode *v = cp_yt_get(p, "policyName");
    return cp_yt_fail(x->err, v->line, v->col,
                      "unsupported policy \"%.64s\" (modelmux supports ModelBasedRoundRobin, "
                      "ModelmuxModelRoundRobin, ModelmuxModelFailover, ModelmuxAIRateLimit)",
                      name);
}

static int xl_policies(struct xlate *x, const struct cp_ynode *root)
{
    static const char *const keys[] = {"request", "response", NULL};
    const struct cp_ynode *pol = cp_yt_get(root, "apiPolicies"), *req, *resp;

    if (!pol)
        return 0;
    if (cp_yt_need_map(pol, "apiPolicies", x->err) < 0 ||
        check_keys(pol, keys, "apiPolicies", x->err) < 0)
        return -1;
    resp = cp_yt_get(pol, "response");
    if (resp && (cp_yt_need_seq(resp, "apiPolicies.response", x->err) < 0))
        return -1;
    if (resp && resp->n > 0)
        return cp_yt_fail(x->err, resp->line, resp->col,
                          "response policies are not supported by modelmux");
    req = cp_yt_get(pol, "request");
    if (!req)
        return 0;
    if (cp_yt_need_seq(req, "apiPolicies.request", x->err) < 0)
        return -1;
    for (size_t i = 0; i < req->n; i++)
        if (xl_policy(x, req->items[i]) < 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------------
 * Public
 * ------------------------------------------------------------------------ */

int cp_apkconf_parse(const char *yaml, size_t len, json_t **out, struct gw_err *err)
{
    struct cp_ynode *docs = NULL;
    struct xlate x;
    int rc = -1;

    *out = NULL;
    memset(&x, 0, sizeof(x));
    x.err = err;
    if (len > CP_APKCONF_MAX_BODY)
        return gw_err_set(err, GW_ERR_TOO_LARGE, "too_large", NULL, "apk-conf larger than %d bytes",
                          CP_APKCONF_MAX_BODY);
    if (cp_yt_parse(yaml, len, 1, "only one YAML document is allowed", &docs, err) < 0)
        return -1;
    x.desc = cp_im_desc_new();
    if (!x.desc) {
        cp_yt_nomem(err);
        goto out;
    }
    if (xl_api(&x, docs->items[0]) < 0 || xl_endpoints(&x, docs->items[0]) < 0 ||
        xl_policies(&x, docs->items[0]) < 0)
        goto out;
    *out = x.desc;
    x.desc = NULL;
    rc = 0;
out:
    json_decref(x.desc);
    cp_yt_free(docs);
    return rc;
}
