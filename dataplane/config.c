/* Compiles a config snapshot (schema/config.schema.json) into the immutable,
 * reference-counted struct dp_config, and answers lookups on it (config.h).
 *
 * Compile runs once per applied revision, on whichever thread applies it
 * (the sync thread); it validates every field against the schema plus the
 * references between them, naming the JSON path of the first problem. It
 * owns everything it builds: strings are copied out of the document, which
 * the caller keeps. The result is then read concurrently by all workers with
 * no locks; only the reference count changes (atomically).
 *
 * Lookup tables (private): `routes` maps a request path to the (verb, API,
 * operation) triples served there, so one hash lookup answers 200/404/405;
 * `keyindex` maps an API key's SHA-256 hex to its struct dp_key. */
#include "config.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "config_read.h"
#include "hashmap.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX 64
/* Names and models are at most 128 characters (SPEC; the control plane
 * counts them). These are byte bounds: 128 characters of UTF-8 take up to
 * 4 bytes each, and a snapshot must not be refused over a valid name. */
#define NAME_MAX_LEN (128 * 4)
#define MODEL_MAX (128 * 4)
#define STR_MAX 4096        /* any other string (urls, headers, paths) */
#define SUSPEND_MAX_S 31536000000LL /* 1000 years: keeps ms arithmetic in range */

/* The verbs the schema allows; a path has at most one route per verb. */
static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static const char *const env_names[DP_ENV_COUNT] = {"production", "sandbox"};

struct route_verb {
    const char *verb; /* borrowed from op */
    const struct dp_api *api;
    const struct dp_operation *op;
};

struct route_path {
    char *path;
    size_t nverbs;
    struct route_verb verbs[NVERBS];
};

struct route_table {
    struct dp_hmap map; /* path -> struct route_path */
    struct route_path *paths;
    size_t npaths;
};

struct key_index {
    struct dp_hmap map; /* sha256 hex -> struct dp_key */
};

/* Sets err to an out-of-memory failure. Returns -1. */
static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory compiling config");
}

/* Copies s into *dst. -1 (err set) on out of memory. */
static int dup_into(char **dst, const char *s, struct gw_err *err)
{
    *dst = gw_strdup(s);
    return *dst ? 0 : nomem(err);
}

/* ---- freeing ----------------------------------------------------------- */

static void free_targets(struct dp_target *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        gw_free(t[i].model);
    gw_free(t);
}

static void free_lb(struct dp_lb *lb)
{
    if (!lb)
        return;
    free_targets(lb->targets, lb->ntargets);
    gw_free(lb->schedule);
    gw_free(lb);
}

static void free_failover(struct dp_failover *f)
{
    free_targets(f->chain, f->nchain);
    f->chain = NULL;
}

static void free_api(struct dp_api *a)
{
    gw_free(a->id);
    gw_free(a->name);
    gw_free(a->base_path);
    gw_free(a->version);
    for (size_t i = 0; a->operations && i < a->noperations; i++) {
        gw_free(a->operations[i].verb);
        gw_free(a->operations[i].target);
    }
    gw_free(a->operations);
    for (size_t i = 0; a->endpoints && i < a->nendpoints; i++) {
        struct dp_endpoint *e = &a->endpoints[i];
        gw_free(e->id);
        gw_free(e->name);
        gw_free(e->url);
        gw_free(e->auth_header);
        gw_free(e->auth_value);
        gw_free(e->missing_secret);
        gw_free(e->auth_line);
    }
    gw_free(a->endpoints);
    for (int env = 0; env < DP_ENV_COUNT; env++) {
        free_lb(a->lb[env]);
        for (size_t i = 0; a->failovers[env] && i < a->nfailovers[env]; i++)
            free_failover(&a->failovers[env][i]);
        gw_free(a->failovers[env]);
    }
    if (a->ratelimit) {
        gw_free(a->ratelimit->policy_id);
        gw_free(a->ratelimit);
    }
}

static void free_routes(struct route_table *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->npaths; i++)
        gw_free(rt->paths[i].path);
    gw_free(rt->paths);
    dp_hmap_cleanup(&rt->map);
    gw_free(rt);
}

static void config_free(struct dp_config *cfg)
{
    for (size_t i = 0; cfg->vendors && i < cfg->nvendors; i++) {
        struct dp_vendor *v = &cfg->vendors[i];
        gw_free(v->id);
        gw_free(v->name);
        gw_free(v->model_field);
        gw_free(v->usage_prompt);
        gw_free(v->usage_completion);
        gw_free(v->usage_total);
    }
    gw_free(cfg->vendors);
    for (size_t i = 0; cfg->apis && i < cfg->napis; i++)
        free_api(&cfg->apis[i]);
    gw_free(cfg->apis);
    for (size_t i = 0; cfg->keys && i < cfg->nkeys; i++) {
        struct dp_key *k = &cfg->keys[i];
        gw_free(k->id);
        gw_free(k->app_id);
        for (size_t j = 0; k->subscriptions && j < k->nsubscriptions; j++)
            gw_free(k->subscriptions[j]);
        gw_free(k->subscriptions);
    }
    gw_free(cfg->keys);
    free_routes(cfg->routes);
    if (cfg->keyindex) {
        struct key_index *ki = cfg->keyindex;
        dp_hmap_cleanup(&ki->map);
        gw_free(ki);
    }
    gw_free(cfg);
}

struct dp_config *dp_config_ref(struct dp_config *cfg)
{
    atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void dp_config_unref(struct dp_config *cfg)
{
    if (!cfg)
        return;
    /* acq_rel: the freeing thread must see every other thread's last use. */
    if (atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) == 1)
        config_free(cfg);
}

/* ---- vendors ----------------------------------------------------------- */

static int parse_model_location(json_t *v, const char *base, const char *key, int *in,
                                const char **field, struct gw_err *err)
{
    static const char *const ins[] = {"body", "path"};
    char path[DP_CR_PATH_MAX];
    json_t *loc;
    dp_cr_path(path, sizeof(path), base, key);
    if (dp_cr_object(v, base, key, 0, &loc, err) < 0 ||
        dp_cr_enum(loc, path, "in", 0, ins, 2, in, err) < 0 ||
        dp_cr_string(loc, path, "field", 0, 1, STR_MAX, field, err) < 0)
        return -1;
    return 0;
}

static int parse_vendor(json_t *v, const char *path, struct dp_vendor *out, struct gw_err *err)
{
    const char *id, *name, *field, *rfield, *prompt, *completion, *total, *header,
        *prefix, *apiver;
    int in, rin;
    json_t *models, *usage, *auth;
    char upath[DP_CR_PATH_MAX], apath[DP_CR_PATH_MAX], mpath[DP_CR_PATH_MAX];
    if (dp_cr_is_object(v, path, err) < 0 || dp_cr_string(v, path, "id", 0, 1, ID_MAX, &id, err) < 0 ||
        dp_cr_string(v, path, "name", 0, 1, NAME_MAX_LEN, &name, err) < 0 ||
        dp_cr_string(v, path, "apiVersion", DP_CR_OPTIONAL, 0, STR_MAX, &apiver, err) < 0 ||
        dp_cr_array(v, path, "models", 0, &models, err) < 0)
        return -1;
    dp_cr_path(mpath, sizeof(mpath), path, "models");
    for (size_t i = 0; i < json_array_size(models); i++) {
        char ipath[DP_CR_PATH_MAX];
        dp_cr_index(ipath, sizeof(ipath), mpath, i);
        json_t *m = json_array_get(models, i);
        if (!json_is_string(m) || json_string_length(m) < 1 || json_string_length(m) > MODEL_MAX)
            return dp_cr_fail(err, ipath, NULL, "must be a string of 1 to %d characters",
                              MODEL_MAX);
    }
    if (parse_model_location(v, path, "requestModel", &in, &field, err) < 0 ||
        parse_model_location(v, path, "responseModel", &rin, &rfield, err) < 0 ||
        dp_cr_object(v, path, "usage", 0, &usage, err) < 0)
        return -1;
    dp_cr_path(upath, sizeof(upath), path, "usage");
    if (dp_cr_string(usage, upath, "promptTokens", 0, 0, STR_MAX, &prompt, err) < 0 ||
        dp_cr_string(usage, upath, "completionTokens", 0, 0, STR_MAX, &completion, err) < 0 ||
        dp_cr_string(usage, upath, "totalTokens", 0, 0, STR_MAX, &total, err) < 0 ||
        dp_cr_object(v, path, "auth", 0, &auth, err) < 0)
        return -1;
    dp_cr_path(apath, sizeof(apath), path, "auth");
    if (dp_cr_string(auth, apath, "header", DP_CR_NO_CTL, 1, STR_MAX, &header, err) < 0 ||
        dp_cr_string(auth, apath, "prefix", DP_CR_NO_CTL, 0, STR_MAX, &prefix, err) < 0)
        return -1;
    out->model_in = in == 0 ? DP_MODEL_IN_BODY : DP_MODEL_IN_PATH;
    if (dup_into(&out->id, id, err) < 0 || dup_into(&out->name, name, err) < 0 ||
        dup_into(&out->model_field, field, err) < 0 ||
        dup_into(&out->usage_prompt, prompt, err) < 0 ||
        dup_into(&out->usage_completion, completion, err) < 0 ||
        dup_into(&out->usage_total, total, err) < 0)
        return -1;
    return 0;
}

/* ---- endpoints and operations ------------------------------------------ */

/* Checks an HTTP header name: a token (RFC 9110), so nothing can be injected
 * into the upstream request. */
static int valid_header_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!strchr("!#$%&'*+-.^_`|~", *s) && !(*s >= '0' && *s <= '9') &&
            !(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z'))
            return 0;
    return 1;
}

static int parse_endpoint_auth(json_t *ep, const char *path, struct dp_endpoint *out,
                               struct gw_err *err)
{
    char apath[DP_CR_PATH_MAX];
    json_t *auth = json_object_get(ep, "auth");
    dp_cr_path(apath, sizeof(apath), path, "auth");
    if (!auth)
        return dp_cr_fail(err, path, "auth", "is required");
    if (json_is_null(auth))
        return 0;
    if (!json_is_object(auth))
        return dp_cr_fail(err, apath, NULL, "must be null or an object");
    const char *header = NULL, *value = NULL, *missing = NULL;
    if (dp_cr_string(auth, apath, "header", 0, 1, STR_MAX, &header, err) < 0 ||
        dp_cr_string(auth, apath, "value", DP_CR_OPTIONAL | DP_CR_NO_CTL, 0, STR_MAX, &value,
                     err) < 0 ||
        dp_cr_string(auth, apath, "missingSecret", DP_CR_OPTIONAL | DP_CR_NO_CTL, 0, STR_MAX,
                     &missing, err) < 0)
        return -1;
    if (!valid_header_name(header))
        return dp_cr_fail(err, apath, "header", "must be an HTTP header name");
    if (!value == !missing)
        return dp_cr_fail(err, apath, NULL, "must have exactly one of \"value\" and \"missingSecret\"");
    const char *k;
    json_t *unused;
    json_object_foreach(auth, k, unused) {
        if (strcmp(k, "header") != 0 && strcmp(k, "value") != 0 && strcmp(k, "missingSecret") != 0)
            return dp_cr_fail(err, apath, k, "is not allowed");
    }
    if (dup_into(&out->auth_header, header, err) < 0)
        return -1;
    if (missing)
        return dup_into(&out->missing_secret, missing, err);
    if (dup_into(&out->auth_value, value, err) < 0)
        return -1;
    size_t n = strlen(header) + 2 + strlen(value) + 1;
    out->auth_line = gw_malloc(n);
    if (!out->auth_line)
        return nomem(err);
    snprintf(out->auth_line, n, "%s: %s", header, value);
    return 0;
}

static int parse_endpoint(json_t *ep, const char *path, struct dp_endpoint *out,
                          struct gw_err *err)
{
    const char *id, *name, *url;
    int env;
    int64_t timeout;
    if (dp_cr_is_object(ep, path, err) < 0 ||
        dp_cr_string(ep, path, "id", 0, 1, ID_MAX, &id, err) < 0 ||
        dp_cr_string(ep, path, "name", 0, 1, STR_MAX, &name, err) < 0 ||
        dp_cr_enum(ep, path, "environment", 0, env_names, DP_ENV_COUNT, &env, err) < 0 ||
        dp_cr_string(ep, path, "url", DP_CR_NO_CTL, 1, STR_MAX, &url, err) < 0 ||
        dp_cr_int(ep, path, "timeoutMs", 0, 1, INT64_MAX / 2, &timeout, err) < 0)
        return -1;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return dp_cr_fail(err, path, "url", "must start with http:// or https://");
    out->env = (enum dp_env)env;
    out->timeout_ms = timeout;
    out->url_has_model = strstr(url, "{model}") != NULL;
    if (dup_into(&out->id, id, err) < 0 || dup_into(&out->name, name, err) < 0 ||
        dup_into(&out->url, url, err) < 0)
        return -1;
    return parse_endpoint_auth(ep, path, out, err);
}

static int parse_operation(json_t *o, const char *path, struct dp_operation *out,
                           struct gw_err *err)
{
    const char *target;
    int verb, secured;
    if (dp_cr_is_object(o, path, err) < 0 ||
        dp_cr_string(o, path, "target", DP_CR_NO_CTL, 1, STR_MAX, &target, err) < 0 ||
        dp_cr_enum(o, path, "verb", 0, verbs, NVERBS, &verb, err) < 0 ||
        dp_cr_bool(o, path, "secured", 0, &secured, err) < 0)
        return -1;
    if (target[0] != '/')
        return dp_cr_fail(err, path, "target", "must start with /");
    out->secured = secured;
    if (dup_into(&out->verb, verbs[verb], err) < 0 || dup_into(&out->target, target, err) < 0)
        return -1;
    return 0;
}

/* ---- policies ---------------------------------------------------------- */

static const struct dp_endpoint *find_endpoint(const struct dp_api *a, const char *id)
{
    for (size_t i = 0; i < a->nendpoints; i++)
        if (strcmp(a->endpoints[i].id, id) == 0)
            return &a->endpoints[i];
    return NULL;
}

/* Parses one {model, endpoint, weight} of env and links it to its state. */
static int parse_target(json_t *t, const char *path, const struct dp_api *a, enum dp_env env,
                        int weighted, struct dp_state *st, struct dp_target *out,
                        struct gw_err *err)
{
    const char *model, *epid;
    int64_t weight = 1;
    if (dp_cr_is_object(t, path, err) < 0 ||
        dp_cr_string(t, path, "model", DP_CR_NO_CTL, 1, MODEL_MAX, &model, err) < 0 ||
        dp_cr_string(t, path, "endpoint", 0, 1, ID_MAX, &epid, err) < 0 ||
        dp_cr_int(t, path, "weight", DP_CR_OPTIONAL, 1, 1000, &weight, err) < 0)
        return -1;
    const struct dp_endpoint *ep = find_endpoint(a, epid);
    if (!ep)
        return dp_cr_fail(err, path, "endpoint", "no endpoint \"%s\" in this API", epid);
    if (ep->env != env)
        return dp_cr_fail(err, path, "endpoint", "endpoint \"%s\" is not a %s endpoint", epid,
                          env_names[env]);
    out->endpoint = ep;
    out->weight = weighted ? (int)weight : 1;
    if (dup_into(&out->model, model, err) < 0)
        return -1;
    /* State key: API + environment + model + endpoint; \x1f never occurs in
     * ids or models (control characters are refused). */
    char key[4 * 160];
    snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s", a->id, env_names[env], model, epid);
    out->state = dp_state_target(st, key, a->name, model, ep->name);
    return out->state ? 0 : nomem(err);
}

/* Fills lb->schedule with nginx's smooth weighted round robin, unrolled over
 * one cycle: each step adds every weight to its current value, picks the
 * largest (first on ties), and subtracts the total from it. After sum(w)
 * steps every current value is back at 0, so the cycle repeats exactly and
 * each target appears exactly weight times per cycle, spread out evenly. */
static int build_schedule(struct dp_lb *lb, struct gw_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < lb->ntargets; i++)
        total += (size_t)lb->targets[i].weight;
    int64_t *cur = gw_calloc(lb->ntargets, sizeof(*cur));
    lb->schedule = gw_malloc(total * sizeof(*lb->schedule));
    if (!cur || !lb->schedule) {
        gw_free(cur);
        return nomem(err);
    }
    for (size_t s = 0; s < total; s++) {
        size_t best = 0;
        for (size_t i = 0; i < lb->ntargets; i++) {
            cur[i] += lb->targets[i].weight;
            if (cur[i] > cur[best])
                best = i;
        }
        cur[best] -= (int64_t)total;
        lb->schedule[s] = (uint16_t)best;
    }
    lb->schedule_len = total;
    gw_free(cur);
    return 0;
}

/* Parses a target array into out and n (NULL and 0 for an empty array). */
static int parse_target_list(json_t *arr, const char *path, const struct dp_api *a,
                             enum dp_env env, int weighted, struct dp_state *st,
                             struct dp_target **out, size_t *n, struct gw_err *err)
{
    size_t cnt = json_array_size(arr);
    if (cnt > DP_CONFIG_MAX_TARGETS)
        return dp_cr_fail(err, path, NULL, "at most %d targets", DP_CONFIG_MAX_TARGETS);
    *out = NULL;
    *n = 0;
    if (cnt == 0)
        return 0;
    *out = gw_calloc(cnt, sizeof(**out));
    if (!*out)
        return nomem(err);
    *n = cnt;
    for (size_t i = 0; i < cnt; i++) {
        char ipath[DP_CR_PATH_MAX];
        dp_cr_index(ipath, sizeof(ipath), path, i);
        if (parse_target(json_array_get(arr, i), ipath, a, env, weighted, st, &(*out)[i], err) < 0)
            return -1;
    }
    return 0;
}

static int64_t suspend_ms(int64_t sec)
{
    return (sec > SUSPEND_MAX_S ? SUSPEND_MAX_S : sec) * 1000;
}

static int parse_lb(json_t *p, const char *path, const char *policy_id, int weighted,
                    struct dp_api *a, struct dp_state *st, struct gw_err *err)
{
    int64_t sec;
    if (dp_cr_int(p, path, "suspendDurationSec", 0, 0, INT64_MAX, &sec, err) < 0)
        return -1;
    for (int env = 0; env < DP_ENV_COUNT; env++) {
        json_t *arr;
        char epath[DP_CR_PATH_MAX];
        dp_cr_path(epath, sizeof(epath), path, env_names[env]);
        if (dp_cr_array(p, path, env_names[env], 0, &arr, err) < 0)
            return -1;
        struct dp_lb *lb = gw_calloc(1, sizeof(*lb));
        if (!lb)
            return nomem(err);
        if (parse_target_list(arr, epath, a, (enum dp_env)env, weighted, st, &lb->targets,
                              &lb->ntargets, err) < 0) {
            free_lb(lb);
            return -1;
        }
        if (lb->ntargets == 0) { /* no routing in this environment */
            free_lb(lb);
            continue;
        }
        char key[3 * 80];
        snprintf(key, sizeof(key), "%s\x1f%s\x1f%s", a->id, policy_id, env_names[env]);
        lb->suspend_ms = suspend_ms(sec);
        lb->state = dp_state_lb(st, key);
        if (!lb->state || build_schedule(lb, err) < 0) {
            int had_state = lb->state != NULL;
            free_lb(lb);
            return had_state ? -1 : nomem(err);
        }
        a->lb[env] = lb;
    }
    return 0;
}

static int parse_failover_env(json_t *chain, const char *path, enum dp_env env, int64_t timeout,
                              int64_t susp, struct dp_api *a, struct dp_state *st,
                              struct gw_err *err)
{
    json_t *target, *fallbacks;
    char tpath[DP_CR_PATH_MAX], fpath[DP_CR_PATH_MAX];
    if (dp_cr_is_object(chain, path, err) < 0 ||
        dp_cr_object(chain, path, "target", 0, &target, err) < 0 ||
        dp_cr_array(chain, path, "fallbacks", 0, &fallbacks, err) < 0)
        return -1;
    dp_cr_path(tpath, sizeof(tpath), path, "target");
    dp_cr_path(fpath, sizeof(fpath), path, "fallbacks");
    size_t n = 1 + json_array_size(fallbacks);
    if (n > DP_CONFIG_MAX_TARGETS)
        return dp_cr_fail(err, fpath, NULL, "at most %d fallbacks", DP_CONFIG_MAX_TARGETS - 1);
    struct dp_failover f = {.request_timeout_ms = timeout, .suspend_ms = susp};
    f.chain = gw_calloc(n, sizeof(*f.chain));
    if (!f.chain)
        return nomem(err);
    f.nchain = n;
    if (parse_target(target, tpath, a, env, 0, st, &f.chain[0], err) < 0)
        goto fail;
    for (size_t i = 1; i < n; i++) {
        char ipath[DP_CR_PATH_MAX];
        dp_cr_index(ipath, sizeof(ipath), fpath, i - 1);
        if (parse_target(json_array_get(fallbacks, i - 1), ipath, a, env, 0, st, &f.chain[i],
                         err) < 0)
            goto fail;
    }
    /* Several failover policies are allowed when their target models
     * differ; should two still share one, the first keeps it. */
    for (size_t i = 0; i < a->nfailovers[env]; i++)
        if (strcmp(a->failovers[env][i].chain[0].model, f.chain[0].model) == 0) {
            free_failover(&f);
            return 0;
        }
    a->failovers[env][a->nfailovers[env]++] = f;
    return 0;
fail:
    free_failover(&f);
    return -1;
}

static int parse_failover(json_t *p, const char *path, struct dp_api *a, struct dp_state *st,
                          struct gw_err *err)
{
    int64_t timeout, sec;
    if (dp_cr_int(p, path, "requestTimeoutMs", 0, 1, INT64_MAX / 2, &timeout, err) < 0 ||
        dp_cr_int(p, path, "suspendDurationSec", 0, 0, INT64_MAX, &sec, err) < 0)
        return -1;
    for (int env = 0; env < DP_ENV_COUNT; env++) {
        json_t *chain = json_object_get(p, env_names[env]);
        if (!chain || json_is_null(chain))
            continue;
        char epath[DP_CR_PATH_MAX];
        dp_cr_path(epath, sizeof(epath), path, env_names[env]);
        if (parse_failover_env(chain, epath, (enum dp_env)env, timeout, suspend_ms(sec), a, st,
                               err) < 0)
            return -1;
    }
    return 0;
}

static int parse_ratelimit(json_t *p, const char *path, const char *policy_id, struct dp_api *a,
                           struct gw_err *err)
{
    static const char *const units[] = {"minute", "hour", "day"};
    static const enum dp_rl_unit unit_vals[] = {DP_RL_MINUTE, DP_RL_HOUR, DP_RL_DAY};
    static const char *const scopes[] = {"api", "application"};
    int unit, scope;
    int64_t req = -1, rt = -1, st = -1, tt = -1;
    if (dp_cr_enum(p, path, "unit", 0, units, 3, &unit, err) < 0 ||
        dp_cr_enum(p, path, "scope", 0, scopes, 2, &scope, err) < 0 ||
        dp_cr_int(p, path, "requests", DP_CR_OPTIONAL, 0, INT64_MAX, &req, err) < 0 ||
        dp_cr_int(p, path, "requestTokens", DP_CR_OPTIONAL, 0, INT64_MAX, &rt, err) < 0 ||
        dp_cr_int(p, path, "responseTokens", DP_CR_OPTIONAL, 0, INT64_MAX, &st, err) < 0 ||
        dp_cr_int(p, path, "totalTokens", DP_CR_OPTIONAL, 0, INT64_MAX, &tt, err) < 0)
        return -1;
    struct dp_ratelimit *rl = gw_calloc(1, sizeof(*rl));
    if (!rl)
        return nomem(err);
    a->ratelimit = rl;
    rl->unit = unit_vals[unit];
    rl->per_application = scope == 1;
    rl->requests = req;
    rl->request_tokens = rt;
    rl->response_tokens = st;
    rl->total_tokens = tt;
    return dup_into(&rl->policy_id, policy_id, err);
}

enum policy_type { POL_RR, POL_WRR, POL_FAILOVER, POL_RATELIMIT };

static int parse_policies(json_t *pols, const char *path, struct dp_api *a, struct dp_state *st,
                          struct gw_err *err)
{
    static const char *const types[] = {"modelRoundRobin", "modelWeightedRoundRobin",
                                        "modelFailover", "aiRateLimit"};
    size_t n = json_array_size(pols), nfail = 0;
    int nlb = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_object_get(json_array_get(pols, i), "type");
        nfail += json_is_string(t) && strcmp(json_string_value(t), types[POL_FAILOVER]) == 0;
    }
    for (int env = 0; nfail && env < DP_ENV_COUNT; env++) {
        a->failovers[env] = gw_calloc(nfail, sizeof(struct dp_failover));
        if (!a->failovers[env])
            return nomem(err);
    }
    for (size_t i = 0; i < n; i++) {
        char ppath[DP_CR_PATH_MAX];
        const char *id;
        int type;
        json_t *p = json_array_get(pols, i);
        dp_cr_index(ppath, sizeof(ppath), path, i);
        if (dp_cr_is_object(p, ppath, err) < 0 ||
            dp_cr_string(p, ppath, "id", 0, 1, ID_MAX, &id, err) < 0 ||
            dp_cr_enum(p, ppath, "type", 0, types, 4, &type, err) < 0)
            return -1;
        switch ((enum policy_type)type) {
        case POL_RR:
        case POL_WRR:
            if (nlb++ || nfail)
                return dp_cr_fail(err, ppath, "type",
                                  "an API has at most one load-balancing policy and then no "
                                  "failover policy");
            if (parse_lb(p, ppath, id, type == POL_WRR, a, st, err) < 0)
                return -1;
            break;
        case POL_FAILOVER:
            if (parse_failover(p, ppath, a, st, err) < 0)
                return -1;
            break;
        case POL_RATELIMIT:
            if (a->ratelimit)
                return dp_cr_fail(err, ppath, "type", "an API has at most one aiRateLimit policy");
            if (parse_ratelimit(p, ppath, id, a, err) < 0)
                return -1;
            break;
        }
    }
    for (int env = 0; env < DP_ENV_COUNT; env++) {
        if (a->failovers[env] && a->nfailovers[env] == 0) {
            gw_free(a->failovers[env]);
            a->failovers[env] = NULL;
        }
        a->needs_model_env[env] = a->lb[env] != NULL || a->nfailovers[env] > 0;
        a->needs_model |= a->needs_model_env[env];
    }
    return 0;
}

/* ---- APIs -------------------------------------------------------------- */

static const struct dp_vendor *find_vendor(const struct dp_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->nvendors; i++)
        if (strcmp(cfg->vendors[i].id, id) == 0)
            return &cfg->vendors[i];
    return NULL;
}

static int parse_api(json_t *j, const char *path, struct dp_config *cfg, struct dp_api *a,
                     struct dp_state *st, struct gw_err *err)
{
    const char *id, *name, *base, *version, *vendor;
    json_t *ops, *eps, *pols;
    char sub[DP_CR_PATH_MAX];
    if (dp_cr_is_object(j, path, err) < 0 ||
        dp_cr_string(j, path, "id", 0, 1, ID_MAX, &id, err) < 0 ||
        dp_cr_string(j, path, "name", 0, 1, STR_MAX, &name, err) < 0 ||
        dp_cr_string(j, path, "basePath", DP_CR_NO_CTL, 1, STR_MAX, &base, err) < 0 ||
        dp_cr_string(j, path, "version", DP_CR_NO_CTL, 1, STR_MAX, &version, err) < 0 ||
        dp_cr_bool(j, path, "defaultVersion", 0, &a->default_version, err) < 0 ||
        dp_cr_string(j, path, "vendor", 0, 1, ID_MAX, &vendor, err) < 0 ||
        dp_cr_bool(j, path, "subscriptionValidation", 0, &a->subscription_validation, err) < 0 ||
        dp_cr_array(j, path, "operations", 0, &ops, err) < 0 ||
        dp_cr_array(j, path, "endpoints", 0, &eps, err) < 0 ||
        dp_cr_array(j, path, "policies", 0, &pols, err) < 0)
        return -1;
    if (base[0] != '/')
        return dp_cr_fail(err, path, "basePath", "must start with /");
    a->vendor = find_vendor(cfg, vendor);
    if (!a->vendor)
        return dp_cr_fail(err, path, "vendor", "no vendor \"%s\"", vendor);
    if (dup_into(&a->id, id, err) < 0 || dup_into(&a->name, name, err) < 0 ||
        dup_into(&a->base_path, base, err) < 0 || dup_into(&a->version, version, err) < 0)
        return -1;

    dp_cr_path(sub, sizeof(sub), path, "operations");
    a->operations = gw_calloc(json_array_size(ops), sizeof(*a->operations));
    if (!a->operations)
        return nomem(err);
    a->noperations = json_array_size(ops);
    for (size_t i = 0; i < a->noperations; i++) {
        char ipath[DP_CR_PATH_MAX];
        dp_cr_index(ipath, sizeof(ipath), sub, i);
        if (parse_operation(json_array_get(ops, i), ipath, &a->operations[i], err) < 0)
            return -1;
    }

    dp_cr_path(sub, sizeof(sub), path, "endpoints");
    a->endpoints = gw_calloc(json_array_size(eps), sizeof(*a->endpoints));
    if (!a->endpoints)
        return nomem(err);
    a->nendpoints = json_array_size(eps);
    for (size_t i = 0; i < a->nendpoints; i++) {
        char ipath[DP_CR_PATH_MAX];
        dp_cr_index(ipath, sizeof(ipath), sub, i);
        struct dp_endpoint *e = &a->endpoints[i];
        if (parse_endpoint(json_array_get(eps, i), ipath, e, err) < 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(a->endpoints[k].id, e->id) == 0)
                return dp_cr_fail(err, ipath, "id", "duplicate endpoint id \"%s\"", e->id);
        if (!a->first_endpoint[e->env])
            a->first_endpoint[e->env] = e;
    }

    dp_cr_path(sub, sizeof(sub), path, "policies");
    return parse_policies(pols, sub, a, st, err);
}

/* ---- keys -------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_key(json_t *j, const char *path, struct dp_key *k, struct gw_err *err)
{
    static const char *const types[] = {"production", "sandbox"};
    const char *id, *hash, *app, *appname;
    int type;
    json_t *subs, *exp;
    if (dp_cr_is_object(j, path, err) < 0 ||
        dp_cr_string(j, path, "id", 0, 1, ID_MAX, &id, err) < 0 ||
        dp_cr_string(j, path, "hash", 0, 64, 64, &hash, err) < 0 ||
        dp_cr_string(j, path, "application", 0, 1, ID_MAX, &app, err) < 0 ||
        dp_cr_string(j, path, "applicationName", DP_CR_OPTIONAL, 0, STR_MAX, &appname, err) < 0 ||
        dp_cr_enum(j, path, "type", 0, types, 2, &type, err) < 0 ||
        dp_cr_array(j, path, "subscriptions", 0, &subs, err) < 0)
        return -1;
    if (strspn(hash, "0123456789abcdef") != 64)
        return dp_cr_fail(err, path, "hash", "must be 64 lowercase hex digits");
    exp = json_object_get(j, "expiresAt");
    if (!exp)
        return dp_cr_fail(err, path, "expiresAt", "is required");
    if (json_is_string(exp)) {
        if (gw_parse_rfc3339(json_string_value(exp), &k->expires_at) < 0)
            return dp_cr_fail(err, path, "expiresAt", "must be an RFC 3339 time");
        if (k->expires_at == 0) /* 0 means never: the epoch itself is long past */
            k->expires_at = 1;
    } else if (!json_is_null(exp)) {
        return dp_cr_fail(err, path, "expiresAt", "must be an RFC 3339 string or null");
    }
    memcpy(k->hash, hash, 65);
    k->env = (enum dp_env)type;
    if (dup_into(&k->id, id, err) < 0 || dup_into(&k->app_id, app, err) < 0)
        return -1;
    char spath[DP_CR_PATH_MAX];
    dp_cr_path(spath, sizeof(spath), path, "subscriptions");
    k->subscriptions = gw_calloc(json_array_size(subs), sizeof(char *));
    if (!k->subscriptions)
        return nomem(err);
    k->nsubscriptions = json_array_size(subs);
    for (size_t i = 0; i < k->nsubscriptions; i++) {
        json_t *s = json_array_get(subs, i);
        if (!json_is_string(s) || json_string_length(s) < 1 || json_string_length(s) > ID_MAX) {
            char ipath[DP_CR_PATH_MAX];
            dp_cr_index(ipath, sizeof(ipath), spath, i);
            return dp_cr_fail(err, ipath, NULL, "must be an id (1 to %d characters)", ID_MAX);
        }
        if (dup_into(&k->subscriptions[i], json_string_value(s), err) < 0)
            return -1;
    }
    qsort(k->subscriptions, k->nsubscriptions, sizeof(char *), cmp_str);
    return 0;
}

/* ---- lookup tables ----------------------------------------------------- */

/* Adds (verb, api, op) at path; the first API to claim a (path, verb) keeps
 * it. path is taken over (freed when not stored). */
static int add_route(struct route_table *rt, char *path, const struct dp_api *a,
                     const struct dp_operation *op)
{
    struct route_path *r = dp_hmap_get(&rt->map, path, strlen(path));
    if (r) {
        gw_free(path);
    } else {
        r = &rt->paths[rt->npaths];
        r->path = path;
        r->nverbs = 0;
        if (dp_hmap_put(&rt->map, path, strlen(path), r) < 0) {
            gw_free(path);
            r->path = NULL;
            return -1;
        }
        rt->npaths++;
    }
    for (size_t i = 0; i < r->nverbs; i++)
        if (strcmp(r->verbs[i].verb, op->verb) == 0)
            return 0;
    r->verbs[r->nverbs++] = (struct route_verb){op->verb, a, op};
    return 0;
}

static int build_routes(struct dp_config *cfg, struct gw_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < cfg->napis; i++)
        total += cfg->apis[i].noperations * (cfg->apis[i].default_version ? 2 : 1);
    struct route_table *rt = gw_calloc(1, sizeof(*rt));
    if (!rt)
        return nomem(err);
    cfg->routes = rt;
    rt->paths = gw_calloc(total, sizeof(*rt->paths));
    if (!rt->paths || dp_hmap_init(&rt->map, total) < 0)
        return nomem(err);
    /* Versioned paths first, so they win over another API's default-version
     * path that happens to be the same string. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < cfg->napis; i++) {
            const struct dp_api *a = &cfg->apis[i];
            if (pass == 1 && !a->default_version)
                continue;
            for (size_t j = 0; j < a->noperations; j++) {
                const struct dp_operation *op = &a->operations[j];
                size_t n = strlen(a->base_path) + 1 + strlen(a->version) + strlen(op->target) + 1;
                char *p = gw_malloc(n);
                if (!p)
                    return nomem(err);
                if (pass == 0)
                    snprintf(p, n, "%s/%s%s", a->base_path, a->version, op->target);
                else
                    snprintf(p, n, "%s%s", a->base_path, op->target);
                if (add_route(rt, p, a, op) < 0)
                    return nomem(err);
            }
        }
    return 0;
}

static int build_keyindex(struct dp_config *cfg, struct gw_err *err)
{
    struct key_index *ki = gw_calloc(1, sizeof(*ki));
    if (!ki)
        return nomem(err);
    cfg->keyindex = ki;
    if (dp_hmap_init(&ki->map, cfg->nkeys) < 0)
        return nomem(err);
    for (size_t i = 0; i < cfg->nkeys; i++)
        if (dp_hmap_put(&ki->map, cfg->keys[i].hash, 64, &cfg->keys[i]) < 0)
            return nomem(err);
    return 0;
}

/* ---- compile ----------------------------------------------------------- */

/* Allocates *arr for the elements of array member key of doc. */
static int alloc_array(json_t *doc, const char *key, size_t elem, void **arr, size_t *n,
                       json_t **j, struct gw_err *err)
{
    if (dp_cr_array(doc, "", key, 0, j, err) < 0)
        return -1;
    *arr = gw_calloc(json_array_size(*j), elem);
    if (!*arr)
        return nomem(err);
    *n = json_array_size(*j);
    return 0;
}

struct dp_config *dp_config_compile(json_t *doc, struct dp_state *state, struct gw_err *err)
{
    gw_err_clear(err);
    if (!json_is_object(doc)) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_config", "", "the snapshot must be a JSON object");
        return NULL;
    }
    json_t *sv = json_object_get(doc, "schemaVersion");
    if (!json_is_integer(sv) || json_integer_value(sv) != 1) {
        dp_cr_fail(err, "", "schemaVersion", "must be 1 (the only version this data plane knows)");
        return NULL;
    }
    struct dp_config *cfg = gw_calloc(1, sizeof(*cfg));
    if (!cfg) {
        nomem(err);
        return NULL;
    }
    atomic_init(&cfg->refs, 1);
    const char *sha;
    json_t *vendors, *apis, *keys;
    if (dp_cr_int(doc, "", "revision", 0, 0, INT64_MAX, &cfg->revision, err) < 0 ||
        dp_cr_string(doc, "", "sha256", 0, 64, 64, &sha, err) < 0)
        goto fail;
    if (strspn(sha, "0123456789abcdef") != 64) {
        dp_cr_fail(err, "", "sha256", "must be 64 lowercase hex digits");
        goto fail;
    }
    memcpy(cfg->sha256, sha, 65);
    const char *gen;
    if (dp_cr_string(doc, "", "generatedAt", DP_CR_OPTIONAL, 0, STR_MAX, &gen, err) < 0)
        goto fail;

    if (alloc_array(doc, "vendors", sizeof(struct dp_vendor), (void **)&cfg->vendors,
                    &cfg->nvendors, &vendors, err) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->nvendors; i++) {
        char path[DP_CR_PATH_MAX];
        dp_cr_index(path, sizeof(path), "vendors", i);
        if (parse_vendor(json_array_get(vendors, i), path, &cfg->vendors[i], err) < 0)
            goto fail;
        for (size_t k = 0; k < i; k++)
            if (strcmp(cfg->vendors[k].id, cfg->vendors[i].id) == 0) {
                dp_cr_fail(err, path, "id", "duplicate vendor id \"%s\"", cfg->vendors[i].id);
                goto fail;
            }
    }

    if (alloc_array(doc, "apis", sizeof(struct dp_api), (void **)&cfg->apis, &cfg->napis, &apis,
                    err) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->napis; i++) {
        char path[DP_CR_PATH_MAX];
        dp_cr_index(path, sizeof(path), "apis", i);
        if (parse_api(json_array_get(apis, i), path, cfg, &cfg->apis[i], state, err) < 0)
            goto fail;
    }

    if (alloc_array(doc, "keys", sizeof(struct dp_key), (void **)&cfg->keys, &cfg->nkeys, &keys,
                    err) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->nkeys; i++) {
        char path[DP_CR_PATH_MAX];
        dp_cr_index(path, sizeof(path), "keys", i);
        if (parse_key(json_array_get(keys, i), path, &cfg->keys[i], err) < 0)
            goto fail;
    }

    if (build_routes(cfg, err) < 0 || build_keyindex(cfg, err) < 0)
        goto fail;
    return cfg;
fail:
    config_free(cfg);
    return NULL;
}

/* ---- lookups ----------------------------------------------------------- */

enum dp_match dp_config_match(const struct dp_config *cfg, const char *method, const char *path,
                              const struct dp_api **api, const struct dp_operation **op)
{
    const struct route_table *rt = cfg->routes;
    const struct route_path *r = dp_hmap_get(&rt->map, path, strlen(path));
    if (!r)
        return DP_MATCH_NOT_FOUND;
    for (size_t i = 0; i < r->nverbs; i++)
        if (strcmp(r->verbs[i].verb, method) == 0) {
            *api = r->verbs[i].api;
            *op = r->verbs[i].op;
            return DP_MATCH_OK;
        }
    return DP_MATCH_METHOD;
}

enum dp_key_check dp_config_check_key(const struct dp_config *cfg, const struct dp_api *api,
                                      const char *presented, int64_t now_s,
                                      const struct dp_key **key)
{
    char hex[GW_SHA256_HEX_LEN + 1];
    const struct key_index *ki = cfg->keyindex;
    gw_sha256_hex_hot(presented, strlen(presented), hex);
    const struct dp_key *k = dp_hmap_get(&ki->map, hex, GW_SHA256_HEX_LEN);
    if (!k)
        return DP_KEY_UNKNOWN;
    if (k->expires_at != 0 && now_s >= k->expires_at)
        return DP_KEY_EXPIRED;
    if (api && api->subscription_validation &&
        !bsearch(&api->id, k->subscriptions, k->nsubscriptions, sizeof(char *), cmp_str))
        return DP_KEY_NOT_SUBSCRIBED;
    *key = k;
    return DP_KEY_OK;
}
