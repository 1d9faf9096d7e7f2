/* The config model (config.h): the names of its enumerations, freeing,
 * and the combination rules of policies that both the control plane's REST
 * validation and the snapshot reader (config_json.c) apply. Pure
 * functions, any thread. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/json_read.h"

const char *const gw_cfg_env_names[GW_ENV_COUNT] = {"production", "sandbox"};
const char *const gw_cfg_policy_type_names[GW_POLICY_TYPE_COUNT] = {
    "modelRoundRobin", "modelWeightedRoundRobin", "modelFailover", "aiRateLimit"};
const char *const gw_cfg_midstream_names[GW_MIDSTREAM_COUNT] = {"off", "continue"};
const char *const gw_cfg_rl_unit_names[3] = {"minute", "hour", "day"};
const char *const gw_cfg_default_lb_operations[3] = {"/chat/completions", "/completions",
                                                     "/responses"};

/* ---- freeing ----------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        gw_free(v[i]);
    gw_free(v);
}

static void free_policy(struct gw_cfg_policy *p)
{
    gw_free(p->id);
    for (int e = 0; e < GW_ENV_COUNT; e++) {
        for (size_t i = 0; p->targets[e] && i < p->ntargets[e]; i++) {
            gw_free(p->targets[e][i].model);
            gw_free(p->targets[e][i].endpoint);
        }
        gw_free(p->targets[e]);
    }
    free_strv(p->operations, p->noperations);
}

static void free_api(struct gw_cfg_api *a)
{
    gw_free(a->id);
    gw_free(a->name);
    gw_free(a->base_path);
    gw_free(a->version);
    gw_free(a->vendor);
    for (size_t i = 0; a->operations && i < a->noperations; i++) {
        gw_free(a->operations[i].verb);
        gw_free(a->operations[i].target);
        free_strv(a->operations[i].scopes, a->operations[i].nscopes);
    }
    gw_free(a->operations);
    for (size_t i = 0; a->endpoints && i < a->nendpoints; i++) {
        struct gw_cfg_endpoint *e = &a->endpoints[i];
        gw_free(e->id);
        gw_free(e->name);
        gw_free(e->url);
        gw_free(e->auth_header);
        gw_free(e->auth_value);
        gw_free(e->missing_secret);
        gw_free(e->tls_ca_cert);
        gw_free(e->tls_client_cert);
        if (e->tls_client_key) /* the private key does not linger in freed memory */
            memset(e->tls_client_key, 0, strlen(e->tls_client_key));
        gw_free(e->tls_client_key);
        gw_free(e->tls_missing_key);
    }
    gw_free(a->endpoints);
    for (size_t i = 0; a->policies && i < a->npolicies; i++)
        free_policy(&a->policies[i]);
    gw_free(a->policies);
}

static void free_vendor(struct gw_cfg_vendor *v)
{
    gw_free(v->id);
    gw_free(v->name);
    gw_free(v->api_version);
    free_strv(v->models, v->nmodels);
    gw_free(v->request_field);
    gw_free(v->response_field);
    gw_free(v->usage_prompt);
    gw_free(v->usage_completion);
    gw_free(v->usage_total);
    gw_free(v->auth_header);
    gw_free(v->auth_prefix);
}

void gw_cfg_free(struct gw_cfg *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; cfg->vendors && i < cfg->nvendors; i++)
        free_vendor(&cfg->vendors[i]);
    gw_free(cfg->vendors);
    for (size_t i = 0; cfg->apis && i < cfg->napis; i++)
        free_api(&cfg->apis[i]);
    gw_free(cfg->apis);
    for (size_t i = 0; cfg->applications && i < cfg->napplications; i++) {
        gw_free(cfg->applications[i].id);
        gw_free(cfg->applications[i].name);
        free_strv(cfg->applications[i].subscriptions, cfg->applications[i].nsubscriptions);
    }
    gw_free(cfg->applications);
    for (size_t i = 0; cfg->keys && i < cfg->nkeys; i++) {
        gw_free(cfg->keys[i].id);
        gw_free(cfg->keys[i].application);
    }
    gw_free(cfg->keys);
    gw_cfg_free_issuers(cfg);
    gw_free(cfg);
}

/* ---- rules over several policies ------------------------------------------ */

int gw_cfg_check_combination(const struct gw_cfg_policy *pols, size_t i, const char *path,
                             struct gw_err *err)
{
    const struct gw_cfg_policy *p = &pols[i];
    int lb = p->type == GW_POLICY_RR || p->type == GW_POLICY_WRR;
    char field[GW_JR_PATH_MAX];
    for (size_t k = 0; k < i; k++) {
        const struct gw_cfg_policy *o = &pols[k];
        int olb = o->type == GW_POLICY_RR || o->type == GW_POLICY_WRR;
        gw_jr_path(field, sizeof(field), path, "type");
        if (lb && olb)
            return gw_err_set(err, GW_ERR_CONFLICT, "policy_conflict", field,
                              "%s: the API already has a load-balancing policy", field);
        if ((lb && o->type == GW_POLICY_FAILOVER) || (p->type == GW_POLICY_FAILOVER && olb))
            return gw_err_set(err, GW_ERR_CONFLICT, "policy_conflict", field,
                              "%s: a load-balancing policy cannot be combined with failover "
                              "policies", field);
        if (p->type == GW_POLICY_RATELIMIT && o->type == GW_POLICY_RATELIMIT)
            return gw_err_set(err, GW_ERR_CONFLICT, "policy_conflict", field,
                              "%s: the API already has an aiRateLimit policy", field);
        if (p->type != GW_POLICY_FAILOVER || o->type != GW_POLICY_FAILOVER)
            continue;
        /* Two chains for one model in one environment: a request for that
         * model could follow only one of them. */
        for (int env = 0; env < GW_ENV_COUNT; env++) {
            char epath[GW_JR_PATH_MAX];
            if (!p->has_chain[env] || !o->has_chain[env] ||
                strcmp(p->targets[env][0].model, o->targets[env][0].model) != 0)
                continue;
            gw_jr_path(epath, sizeof(epath), path, gw_cfg_env_names[env]);
            gw_jr_path(field, sizeof(field), epath, "target.model");
            return gw_err_set(err, GW_ERR_CONFLICT, "policy_conflict", field,
                              "%s: another failover policy already targets model '%s' in %s",
                              field, p->targets[env][0].model, gw_cfg_env_names[env]);
        }
    }
    return 0;
}

