/* Writing the config model as a snapshot document (config.h,
 * gw_cfg_to_json): the inverse of config_json.c, field for field, so that
 * reading what it writes gives the same model. Used by tests that build
 * snapshots in C, and by any tool that edits a snapshot through the model
 * (the sha256 is recomputed). Pure functions, any thread. */
#include "config.h"

#include "common/clock.h"

static const char *const model_in_names[] = {"body", "path"};

/* Appends a new reference to arr; 0, or -1 (arr unchanged) on failure.
 * json_array_append_new() frees v whatever happens. */
static int append(json_t *arr, json_t *v)
{
    return v ? json_array_append_new(arr, v) : -1;
}

static json_t *strv(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (append(a, json_string(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *vendor_json(const struct gw_cfg_vendor *v)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s, s:s},"
                     " s:{s:s, s:s}}",
                     "id", v->id, "name", v->name, "apiVersion", v->api_version, "models",
                     strv(v->models, v->nmodels), "requestModel", "in",
                     model_in_names[v->request_in], "field", v->request_field, "responseModel",
                     "in", model_in_names[v->response_in], "field", v->response_field, "usage",
                     "promptTokens", v->usage_prompt, "completionTokens", v->usage_completion,
                     "totalTokens", v->usage_total, "auth", "header", v->auth_header, "prefix",
                     v->auth_prefix);
}

/* Sets o[key] = s when s is given. 0 or -1. */
static int set_opt(json_t *o, const char *key, const char *s)
{
    return !s ? 0 : json_object_set_new(o, key, json_string(s));
}

/* The endpoint's "tls", or NULL (none, or out of memory: *failed). */
static json_t *endpoint_tls_json(const struct gw_cfg_endpoint *e, int *failed)
{
    if (!e->tls_ca_cert && !e->tls_client_cert)
        return NULL;
    json_t *t = json_object();
    if (!t || set_opt(t, "caCert", e->tls_ca_cert) < 0 ||
        set_opt(t, "clientCert", e->tls_client_cert) < 0 ||
        set_opt(t, "clientKey", e->tls_client_key) < 0 ||
        set_opt(t, "missingClientKey", e->tls_missing_key) < 0) {
        json_decref(t);
        *failed = 1;
        return NULL;
    }
    return t;
}

static json_t *endpoint_json(const struct gw_cfg_endpoint *e)
{
    json_t *auth = !e->auth_header ? json_null()
                   : e->auth_value ? json_pack("{s:s, s:s}", "header", e->auth_header, "value",
                                               e->auth_value)
                                   : json_pack("{s:s, s:s}", "header", e->auth_header,
                                               "missingSecret", e->missing_secret);
    int failed = 0;
    json_t *tls = endpoint_tls_json(e, &failed);
    json_t *j = failed ? NULL
                       : json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "id", e->id, "name", e->name,
                                   "environment", gw_cfg_env_names[e->env], "url", e->url,
                                   "timeoutMs", (json_int_t)e->timeout_ms, "auth", auth);
    if (j && tls && json_object_set_new(j, "tls", tls) < 0) {
        json_decref(j);
        return NULL;
    }
    if (!j)
        json_decref(tls);
    if (failed)
        json_decref(auth); /* json_pack did not take it */
    return j;
}

static json_t *targets_json(const struct gw_cfg_target *t, size_t n, int weighted)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *v = weighted ? json_pack("{s:s, s:s, s:i}", "model", t[i].model, "endpoint",
                                         t[i].endpoint, "weight", t[i].weight)
                             : json_pack("{s:s, s:s}", "model", t[i].model, "endpoint",
                                         t[i].endpoint);
        if (append(a, v) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* A failover chain of env, or null. */
static json_t *chain_json(const struct gw_cfg_policy *p, int env)
{
    if (!p->has_chain[env])
        return json_null();
    const struct gw_cfg_target *t = p->targets[env];
    return json_pack("{s:{s:s, s:s}, s:o}", "target", "model", t[0].model, "endpoint",
                     t[0].endpoint, "fallbacks", targets_json(t + 1, p->ntargets[env] - 1, 0));
}

/* Adds the routing fields of SPEC revision 2 to o. */
static int add_routing(json_t *o, const struct gw_cfg_routing *r)
{
    json_t *add = json_pack("{s:i, s:i, s:I, s:I, s:s}", "retries", r->retries,
                            "maxRetryAfterWaitSec", r->max_retry_after_wait_s,
                            "firstTokenTimeoutMs", (json_int_t)r->first_token_timeout_ms,
                            "streamIdleTimeoutMs", (json_int_t)r->stream_idle_timeout_ms,
                            "midStreamFailover", gw_cfg_midstream_names[r->midstream]);
    int rc = add ? json_object_update(o, add) : -1;
    json_decref(add);
    return rc;
}

/* Sets key to v (a new reference) when v >= 0. */
static int set_limit(json_t *o, const char *key, int64_t v)
{
    return v < 0 ? 0 : json_object_set_new(o, key, json_integer(v));
}

static json_t *policy_json(const struct gw_cfg_policy *p)
{
    static const char *const scopes[] = {"api", "application"};
    json_t *o = NULL;
    int rc = 0;
    const char *type = gw_cfg_policy_type_names[p->type];
    switch (p->type) {
    case GW_POLICY_RR:
    case GW_POLICY_WRR: {
        int w = p->type == GW_POLICY_WRR;
        o = json_pack("{s:s, s:s, s:I, s:o, s:o, s:o}", "id", p->id, "type", type,
                      "suspendDurationSec", (json_int_t)p->suspend_s, "production",
                      targets_json(p->targets[0], p->ntargets[0], w), "sandbox",
                      targets_json(p->targets[1], p->ntargets[1], w), "operations",
                      strv(p->operations, p->noperations));
        rc = o ? add_routing(o, &p->routing) : -1;
        break;
    }
    case GW_POLICY_FAILOVER:
        o = json_pack("{s:s, s:s, s:I, s:I, s:o, s:o}", "id", p->id, "type", type,
                      "requestTimeoutMs", (json_int_t)p->request_timeout_ms, "suspendDurationSec",
                      (json_int_t)p->suspend_s, "production", chain_json(p, 0), "sandbox",
                      chain_json(p, 1));
        rc = o ? add_routing(o, &p->routing) : -1;
        break;
    case GW_POLICY_RATELIMIT:
        o = json_pack("{s:s, s:s, s:s, s:s}", "id", p->id, "type", type, "unit",
                      gw_cfg_rl_unit_names[p->unit], "scope", scopes[p->per_application]);
        rc = !o || set_limit(o, "requests", p->requests) < 0 ||
                     set_limit(o, "requestTokens", p->request_tokens) < 0 ||
                     set_limit(o, "responseTokens", p->response_tokens) < 0 ||
                     set_limit(o, "totalTokens", p->total_tokens) < 0
                 ? -1
                 : 0;
        break;
    }
    if (rc < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* An operation; "scopes" only when it requires some. */
static json_t *operation_json(const struct gw_cfg_operation *op)
{
    json_t *o = json_pack("{s:s, s:s, s:b}", "target", op->target, "verb", op->verb, "secured",
                          op->secured);
    if (o && op->nscopes > 0 && json_object_set_new(o, "scopes", strv(op->scopes, op->nscopes)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *api_json(const struct gw_cfg *cfg, const struct gw_cfg_api *a)
{
    json_t *ops = json_array(), *eps = json_array(), *pols = json_array();
    int ok = ops && eps && pols;
    for (size_t i = 0; ok && i < a->noperations; i++)
        ok = append(ops, operation_json(&a->operations[i])) == 0;
    for (size_t i = 0; ok && i < a->nendpoints; i++)
        ok = append(eps, endpoint_json(&a->endpoints[i])) == 0;
    for (size_t i = 0; ok && i < a->npolicies; i++)
        ok = append(pols, policy_json(&a->policies[i])) == 0;
    if (!ok) {
        json_decref(ops);
        json_decref(eps);
        json_decref(pols);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:o, s:o, s:o}", "id", a->id, "name",
                     a->name, "basePath", a->base_path, "version", a->version, "defaultVersion",
                     a->default_version, "vendor", cfg->vendors[a->vendor_index].id,
                     "subscriptionValidation", a->subscription_validation, "operations", ops,
                     "endpoints", eps, "policies", pols);
}

static json_t *application_json(const struct gw_cfg_application *a)
{
    return json_pack("{s:s, s:s, s:o}", "id", a->id, "name", a->name, "subscriptions",
                     strv(a->subscriptions, a->nsubscriptions));
}

/* "id" and "expiresAt" only when set, as the control plane writes keys. */
static json_t *key_json(const struct gw_cfg_key *k)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "hash", k->hash, "application", k->application,
                          "type", gw_cfg_env_names[k->type]);
    if (o && k->id && json_object_set_new(o, "id", json_string(k->id)) < 0) {
        json_decref(o);
        return NULL;
    }
    if (o && k->expires_at) {
        char when[32];
        gw_format_rfc3339(k->expires_at, when);
        if (json_object_set_new(o, "expiresAt", json_string(when)) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *client_json(const struct gw_cfg_key *c)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "clientId", c->id, "application", c->application,
                     "type", gw_cfg_env_names[c->type], "subscriptions",
                     strv(c->subscriptions, c->nsubscriptions));
}

static json_t *issuer_json(const struct gw_cfg_issuer *is)
{
    json_t *clients = json_array();
    for (size_t i = 0; clients && i < is->nclients; i++)
        if (append(clients, client_json(&is->clients[i])) < 0) {
            json_decref(clients);
            return NULL;
        }
    json_t *o = json_pack("{s:s, s:s, s:O, s:O, s:o}", "id", is->id, "issuer", is->issuer,
                          "audiences", is->audiences, "keys", is->keys, "clients", clients);
    if (o && is->client_claim &&
        json_object_set_new(o, "clientClaim", json_string(is->client_claim)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Sets doc's "issuers" (only when the model has some, as the control plane
 * writes it). 0 or -1. */
static int add_issuers(json_t *doc, const struct gw_cfg *cfg)
{
    json_t *arr;
    if (!cfg->nissuers)
        return 0;
    if (!(arr = json_array()) || json_object_set_new(doc, "issuers", arr) < 0)
        return -1;
    for (size_t i = 0; i < cfg->nissuers; i++)
        if (append(arr, issuer_json(&cfg->issuers[i])) < 0)
            return -1;
    return 0;
}

json_t *gw_cfg_to_json(const struct gw_cfg *cfg)
{
    char hash[65];
    json_t *vendors = json_array(), *apis = json_array(), *apps = json_array(),
           *keys = json_array();
    int ok = vendors && apis && apps && keys;
    for (size_t i = 0; ok && i < cfg->nvendors; i++)
        ok = append(vendors, vendor_json(&cfg->vendors[i])) == 0;
    for (size_t i = 0; ok && i < cfg->napis; i++)
        ok = append(apis, api_json(cfg, &cfg->apis[i])) == 0;
    for (size_t i = 0; ok && i < cfg->napplications; i++)
        ok = append(apps, application_json(&cfg->applications[i])) == 0;
    for (size_t i = 0; ok && i < cfg->nkeys; i++)
        ok = append(keys, key_json(&cfg->keys[i])) == 0;
    if (!ok) {
        json_decref(vendors);
        json_decref(apis);
        json_decref(apps);
        json_decref(keys);
        return NULL;
    }
    json_t *doc = json_pack("{s:i, s:I, s:o, s:o, s:o, s:o}", "schemaVersion",
                            GW_CFG_SCHEMA_VERSION, "revision", (json_int_t)cfg->revision,
                            "vendors", vendors, "apis", apis, "applications", apps, "keys", keys);
    if (!doc || add_issuers(doc, cfg) < 0 || gw_cfg_hash(doc, hash) < 0 ||
        json_object_set_new(doc, "sha256", json_string(hash)) < 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
