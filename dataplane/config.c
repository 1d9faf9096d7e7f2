/* Compiles the checked config model (common/config.h) into the immutable,
 * reference-counted struct dp_config (config.h).
 *
 * Compile runs once per applied revision, on whichever thread applies it
 * (the sync thread, or main for files). Everything it checks is the model's
 * job (gw_cfg_from_json, shared with the control plane); this file only
 * resolves references to pointers, links targets and policies to their
 * carried-over state (suspension.h), builds the balancers (balance.h), the path
 * table (match.h), the key index (keys.h) and the JWT issuer table
 * (config_jwt.c). Strings stay in the model,
 * which the config owns. The result is then read concurrently by all
 * workers with no locks; only the reference count changes (atomically). */
#include "config.h"

#include "common/alloc.h"
#include "suspension.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory compiling config");
}

/* ---- freeing ----------------------------------------------------------- */

static void free_lb(struct dp_lb *lb)
{
    if (!lb)
        return;
    gw_free(lb->targets);
    if (lb->bal.ops)
        lb->bal.ops->cleanup(&lb->bal);
    gw_free(lb);
}

static void free_api(struct dp_api *a)
{
    gw_free(a->operations);
    if (a->endpoints)
        for (size_t i = 0; i < a->nendpoints; i++)
            gw_free(a->endpoints[i].auth_line);
    gw_free(a->endpoints);
    for (int env = 0; env < DP_ENV_COUNT; env++) {
        free_lb(a->lb[env]);
        for (size_t i = 0; a->failovers[env] && i < a->nfailovers[env]; i++)
            gw_free(a->failovers[env][i].chain);
        gw_free(a->failovers[env]);
    }
    gw_free(a->ratelimit);
}

static void config_free(struct dp_config *cfg)
{
    gw_free(cfg->vendors);
    for (size_t i = 0; cfg->apis && i < cfg->napis; i++)
        free_api(&cfg->apis[i]);
    gw_free(cfg->apis);
    for (size_t i = 0; cfg->apps && i < cfg->napps; i++)
        gw_free(cfg->apps[i].subscriptions);
    gw_free(cfg->apps);
    gw_free(cfg->keys);
    dp_match_free(cfg->routes);
    dp_keys_free(cfg->keyindex);
    dp_config_free_jwt(cfg);
    gw_cfg_free(cfg->model);
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

/* ---- vendors, endpoints, operations ------------------------------------ */

static void compile_vendor(struct gw_cfg_vendor *m, struct dp_vendor *v)
{
    v->id = m->id;
    v->name = m->name;
    v->model_in = m->request_in == GW_MODEL_IN_PATH ? DP_MODEL_IN_PATH : DP_MODEL_IN_BODY;
    v->model_field = m->request_field;
    v->usage_prompt = m->usage_prompt;
    v->usage_completion = m->usage_completion;
    v->usage_total = m->usage_total;
}

static int compile_endpoint(struct gw_cfg_endpoint *m, struct dp_endpoint *e, struct gw_err *err)
{
    e->id = m->id;
    e->name = m->name;
    e->env = (enum dp_env)m->env;
    e->url = m->url;
    e->url_has_model = strstr(m->url, "{model}") != NULL;
    e->timeout_ms = m->timeout_ms;
    e->auth_header = m->auth_header;
    e->auth_value = m->auth_value;
    e->missing_secret = m->missing_secret;
    e->has_tls = m->tls_ca_cert || m->tls_client_cert;
    e->tls = (struct dp_upstream_tls){m->tls_ca_cert, m->tls_client_cert, m->tls_client_key};
    if (!e->missing_secret) /* the client key's secret is missing: 502 the same way */
        e->missing_secret = m->tls_missing_key;
    if (!m->auth_value)
        return 0;
    size_t n = strlen(m->auth_header) + 2 + strlen(m->auth_value) + 1;
    e->auth_line = gw_malloc(n);
    if (!e->auth_line)
        return nomem(err);
    snprintf(e->auth_line, n, "%s: %s", m->auth_header, m->auth_value);
    return 0;
}

/* ---- policies ---------------------------------------------------------- */

/* Suspension times fit in int64 milliseconds (the model bounds them). */
static int64_t suspend_ms(int64_t sec)
{
    return sec * 1000;
}

/* Fills out[0..n-1] from the model's targets of env and links each to its
 * shared suspension state. */
static int compile_targets(const struct gw_cfg_target *m, size_t n, struct dp_api *a,
                           enum dp_env env, struct dp_suspensions *st, struct dp_target *out,
                           struct gw_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct dp_endpoint *ep = &a->endpoints[m[i].endpoint_index];
        out[i].model = m[i].model;
        out[i].endpoint = ep;
        out[i].weight = m[i].weight;
        /* State key: API + environment + model + endpoint; \x1f never occurs
         * in ids or models (control characters are refused). */
        char key[4 * 160];
        snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s", a->id, gw_cfg_env_names[env],
                 m[i].model, ep->id);
        out[i].state = dp_suspensions_target(st, key, a->name, m[i].model, ep->name);
        if (!out[i].state)
            return nomem(err);
    }
    return 0;
}

static int compile_lb(struct gw_cfg_policy *p, struct dp_api *a, struct dp_suspensions *st,
                      struct gw_err *err)
{
    for (int env = 0; env < DP_ENV_COUNT; env++) {
        size_t n = p->ntargets[env];
        if (n == 0) /* no routing in this environment */
            continue;
        struct dp_lb *lb = gw_calloc(1, sizeof(*lb));
        int weights[DP_CONFIG_MAX_TARGETS];
        if (!lb)
            return nomem(err);
        a->lb[env] = lb;
        lb->targets = gw_calloc(n, sizeof(*lb->targets));
        if (!lb->targets)
            return nomem(err);
        lb->ntargets = n;
        lb->suspend_ms = suspend_ms(p->suspend_s);
        lb->routing = p->routing;
        lb->operations = p->operations;
        lb->noperations = p->noperations;
        if (compile_targets(p->targets[env], n, a, (enum dp_env)env, st, lb->targets, err) < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            weights[i] = lb->targets[i].weight;
        if (dp_balance_swrr.init(&lb->bal, weights, n) < 0)
            return nomem(err);
        char key[3 * 80];
        snprintf(key, sizeof(key), "%s\x1f%s\x1f%s", a->id, p->id, gw_cfg_env_names[env]);
        lb->state = dp_suspensions_lb(st, key);
        if (!lb->state)
            return nomem(err);
    }
    return 0;
}

static int compile_failover(struct gw_cfg_policy *p, struct dp_api *a, struct dp_suspensions *st,
                            struct gw_err *err)
{
    for (int env = 0; env < DP_ENV_COUNT; env++) {
        if (!p->has_chain[env])
            continue;
        struct dp_failover *f = &a->failovers[env][a->nfailovers[env]];
        f->request_timeout_ms = p->request_timeout_ms;
        f->suspend_ms = suspend_ms(p->suspend_s);
        f->routing = p->routing;
        f->chain = gw_calloc(p->ntargets[env], sizeof(*f->chain));
        if (!f->chain)
            return nomem(err);
        f->nchain = p->ntargets[env];
        a->nfailovers[env]++;
        if (compile_targets(p->targets[env], f->nchain, a, (enum dp_env)env, st, f->chain, err) <
            0)
            return -1;
    }
    return 0;
}

static int compile_ratelimit(struct gw_cfg_policy *p, struct dp_api *a, struct gw_err *err)
{
    static const enum dp_rl_unit units[] = {DP_RL_MINUTE, DP_RL_HOUR, DP_RL_DAY};
    struct dp_ratelimit *rl = gw_calloc(1, sizeof(*rl));
    if (!rl)
        return nomem(err);
    a->ratelimit = rl;
    rl->policy_id = p->id;
    rl->unit = units[p->unit];
    rl->per_application = p->per_application;
    rl->requests = p->requests;
    rl->request_tokens = p->request_tokens;
    rl->response_tokens = p->response_tokens;
    rl->total_tokens = p->total_tokens;
    return 0;
}

static int compile_policies(struct gw_cfg_api *m, struct dp_api *a, struct dp_suspensions *st,
                            struct gw_err *err)
{
    size_t nfail = 0;
    for (size_t i = 0; i < m->npolicies; i++)
        nfail += m->policies[i].type == GW_POLICY_FAILOVER;
    for (int env = 0; nfail && env < DP_ENV_COUNT; env++) {
        a->failovers[env] = gw_calloc(nfail, sizeof(struct dp_failover));
        if (!a->failovers[env])
            return nomem(err);
    }
    for (size_t i = 0; i < m->npolicies; i++) {
        struct gw_cfg_policy *p = &m->policies[i];
        int rc = 0;
        switch (p->type) {
        case GW_POLICY_RR:
        case GW_POLICY_WRR:
            rc = compile_lb(p, a, st, err);
            break;
        case GW_POLICY_FAILOVER:
            rc = compile_failover(p, a, st, err);
            break;
        case GW_POLICY_RATELIMIT:
            rc = compile_ratelimit(p, a, err);
            break;
        }
        if (rc < 0)
            return -1;
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

/* ---- APIs and keys ----------------------------------------------------- */

static int compile_api(struct dp_config *cfg, struct gw_cfg_api *m, struct dp_api *a,
                       struct dp_suspensions *st, struct gw_err *err)
{
    a->id = m->id;
    a->name = m->name;
    a->base_path = m->base_path;
    a->version = m->version;
    a->default_version = m->default_version;
    a->subscription_validation = m->subscription_validation;
    a->vendor = &cfg->vendors[m->vendor_index];
    a->operations = gw_calloc(m->noperations ? m->noperations : 1, sizeof(*a->operations));
    a->endpoints = gw_calloc(m->nendpoints ? m->nendpoints : 1, sizeof(*a->endpoints));
    if (!a->operations || !a->endpoints)
        return nomem(err);
    a->noperations = m->noperations;
    for (size_t i = 0; i < m->noperations; i++) {
        a->operations[i].verb = m->operations[i].verb;
        a->operations[i].target = m->operations[i].target;
        a->operations[i].secured = m->operations[i].secured;
        a->operations[i].scopes = (const char *const *)m->operations[i].scopes;
        a->operations[i].nscopes = m->operations[i].nscopes;
    }
    a->nendpoints = m->nendpoints;
    for (size_t i = 0; i < m->nendpoints; i++) {
        struct dp_endpoint *e = &a->endpoints[i];
        if (compile_endpoint(&m->endpoints[i], e, err) < 0)
            return -1;
        if (!a->first_endpoint[e->env])
            a->first_endpoint[e->env] = e;
    }
    return compile_policies(m, a, st, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An issuer's OAuth client (config_jwt.c): its own subscriptions, sorted. */
int dp_config_compile_key(struct gw_cfg_key *m, struct dp_key *k, struct gw_err *err)
{
    memcpy(k->hash, m->hash, sizeof(k->hash));
    k->id = m->id;
    k->app_id = m->application;
    k->app = NULL;
    k->env = (enum dp_env)m->type;
    k->expires_at = m->expires_at;
    k->subscriptions = gw_calloc(m->nsubscriptions ? m->nsubscriptions : 1, sizeof(char *));
    if (!k->subscriptions)
        return nomem(err);
    k->nsubscriptions = m->nsubscriptions;
    if (m->nsubscriptions)
        memcpy(k->subscriptions, m->subscriptions, m->nsubscriptions * sizeof(char *));
    qsort(k->subscriptions, k->nsubscriptions, sizeof(char *), cmp_str);
    return 0;
}

/* The application's subscribed API set, sorted once for all its keys. */
static int compile_app(struct gw_cfg_application *m, struct dp_app *a, struct gw_err *err)
{
    a->id = m->id;
    a->subscriptions = gw_calloc(m->nsubscriptions ? m->nsubscriptions : 1, sizeof(char *));
    if (!a->subscriptions)
        return nomem(err);
    a->nsubscriptions = m->nsubscriptions;
    if (m->nsubscriptions)
        memcpy(a->subscriptions, m->subscriptions, m->nsubscriptions * sizeof(char *));
    qsort(a->subscriptions, a->nsubscriptions, sizeof(char *), cmp_str);
    return 0;
}

/* An API key: its application's subscriptions apply (k->app). */
static void compile_key(struct dp_config *cfg, struct gw_cfg_key *m, struct dp_key *k)
{
    memcpy(k->hash, m->hash, sizeof(k->hash));
    k->id = m->id;
    k->app_id = m->application;
    k->app = &cfg->apps[m->app_index];
    k->env = (enum dp_env)m->type;
    k->expires_at = m->expires_at;
}

/* ---- compile ----------------------------------------------------------- */

static int compile(struct dp_config *cfg, struct gw_cfg *m, struct dp_suspensions *st,
                   struct gw_err *err)
{
    cfg->revision = m->revision;
    memcpy(cfg->sha256, m->sha256, sizeof(cfg->sha256));
    cfg->vendors = gw_calloc(m->nvendors ? m->nvendors : 1, sizeof(*cfg->vendors));
    cfg->apis = gw_calloc(m->napis ? m->napis : 1, sizeof(*cfg->apis));
    cfg->apps = gw_calloc(m->napplications ? m->napplications : 1, sizeof(*cfg->apps));
    cfg->keys = gw_calloc(m->nkeys ? m->nkeys : 1, sizeof(*cfg->keys));
    if (!cfg->vendors || !cfg->apis || !cfg->apps || !cfg->keys)
        return nomem(err);
    cfg->nvendors = m->nvendors;
    for (size_t i = 0; i < m->nvendors; i++)
        compile_vendor(&m->vendors[i], &cfg->vendors[i]);
    cfg->napis = m->napis;
    for (size_t i = 0; i < m->napis; i++)
        if (compile_api(cfg, &m->apis[i], &cfg->apis[i], st, err) < 0)
            return -1;
    cfg->napps = m->napplications;
    for (size_t i = 0; i < m->napplications; i++)
        if (compile_app(&m->applications[i], &cfg->apps[i], err) < 0)
            return -1;
    cfg->nkeys = m->nkeys;
    for (size_t i = 0; i < m->nkeys; i++)
        compile_key(cfg, &m->keys[i], &cfg->keys[i]);
    if (dp_match_build(cfg, err) < 0 || dp_keys_build(cfg, err) < 0 ||
        dp_config_compile_jwt(cfg, err) < 0)
        return -1;
    return 0;
}

struct dp_config *dp_config_compile_model(struct gw_cfg *model, struct dp_suspensions *state,
                                          struct gw_err *err)
{
    struct dp_config *cfg = gw_calloc(1, sizeof(*cfg));
    if (!cfg) {
        gw_cfg_free(model);
        nomem(err);
        return NULL;
    }
    atomic_init(&cfg->refs, 1);
    cfg->model = model;
    if (compile(cfg, model, state, err) < 0) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

struct dp_config *dp_config_compile(json_t *doc, struct dp_suspensions *state, struct gw_err *err)
{
    struct gw_cfg *model = gw_cfg_from_json(doc, err);
    return model ? dp_config_compile_model(model, state, err) : NULL;
}
