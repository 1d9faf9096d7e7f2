/* Reading and checking a snapshot document into the config model
 * (config.h); the model itself (names, freeing, the combination rules) is
 * config.c. Every field is checked with the shared rules (rules.h) and
 * bounds (limits.h), so what the control plane accepts on its REST API
 * always passes here, in both binaries. Errors name the JSON path of the
 * first problem. Pure functions, any thread. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/config_apps.h"
#include "common/crypto.h"
#include "common/json_read.h"
#include "common/limits.h"
#include "common/rules.h"

#define PATH GW_JR_PATH_MAX
#define ANY_LEN ((size_t)-1)

/* The verbs an operation may have. */
static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory reading config");
}

/* Copies s into *dst. -1 (err set) on out of memory. */
static int dup_into(char **dst, const char *s, struct gw_err *err)
{
    *dst = gw_strdup(s);
    return *dst ? 0 : nomem(err);
}

/* ---- typed readers that apply the shared rules ---------------------------- */

/* A name member (rules.h gw_rule_name, max_chars code points). */
static int read_name(json_t *o, const char *base, const char *key, int flags, size_t max_chars,
                     const char **out, struct gw_err *err)
{
    char path[PATH];
    *out = NULL;
    if (gw_jr_string(o, base, key, flags, 0, ANY_LEN, out, err) < 0)
        return -1;
    gw_jr_path(path, sizeof(path), base, key);
    return *out ? gw_rule_name(*out, path, max_chars, err) : 0;
}

/* An id member: 1..GW_ID_MAX_BYTES bytes. */
static int read_id(json_t *o, const char *base, const char *key, const char **out,
                   struct gw_err *err)
{
    return gw_jr_string(o, base, key, 0, 1, GW_ID_MAX_BYTES, out, err);
}

/* A string member checked by rule(s, path, err). */
static int read_ruled(json_t *o, const char *base, const char *key,
                      int (*rule)(const char *, const char *, struct gw_err *), const char **out,
                      struct gw_err *err)
{
    char path[PATH];
    if (gw_jr_string(o, base, key, 0, 0, ANY_LEN, out, err) < 0)
        return -1;
    gw_jr_path(path, sizeof(path), base, key);
    return rule(*out, path, err);
}

static int url_rule(const char *s, const char *path, struct gw_err *err)
{
    return gw_rule_url(s, path, err);
}

static int base_path_rule(const char *s, const char *path, struct gw_err *err)
{
    return gw_rule_path(s, path, 0, err);
}

static int target_rule(const char *s, const char *path, struct gw_err *err)
{
    return gw_rule_path(s, path, 1, err);
}

static int header_rule(const char *s, const char *path, struct gw_err *err)
{
    return gw_rule_header_name(s, path, GW_NAME_MAX_CHARS, err);
}

/* Allocates *arr for the elements of array member key of obj. */
static int alloc_array(json_t *obj, const char *base, const char *key, int flags, size_t elem,
                       void **arr, size_t *n, json_t **j, struct gw_err *err)
{
    *j = NULL;
    *n = 0;
    if (gw_jr_array(obj, base, key, flags, j, err) < 0)
        return -1;
    if (!*j || json_array_size(*j) == 0)
        return 0;
    *arr = gw_calloc(json_array_size(*j), elem);
    if (!*arr)
        return nomem(err);
    *n = json_array_size(*j);
    return 0;
}

/* Array member key of o (flags as gw_jr_array) of at most max (0: any)
 * strings, each checked by rule, copied into *out[0..*n). what names one
 * item in the error ("a model name"). */
static int read_strings(json_t *o, const char *base, const char *key, int flags, size_t max,
                        int (*rule)(const char *, const char *, struct gw_err *),
                        const char *what, char ***out, size_t *n, struct gw_err *err)
{
    char sub[PATH];
    json_t *arr;
    if (alloc_array(o, base, key, flags, sizeof(char *), (void **)out, n, &arr, err) < 0)
        return -1;
    gw_jr_path(sub, sizeof(sub), base, key);
    if (max && *n > max)
        return gw_jr_fail(err, sub, NULL, "at most %zu items", max);
    for (size_t i = 0; i < *n; i++) {
        char ipath[PATH];
        json_t *s = json_array_get(arr, i);
        gw_jr_index(ipath, sizeof(ipath), sub, i);
        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
            return gw_jr_fail(err, ipath, NULL, "must be %s (a string)", what);
        if (rule(json_string_value(s), ipath, err) < 0 ||
            dup_into(&(*out)[i], json_string_value(s), err) < 0)
            return -1;
    }
    return 0;
}

static int model_name_rule(const char *s, const char *path, struct gw_err *err)
{
    return gw_rule_name(s, path, GW_NAME_MAX_CHARS, err);
}

/* ---- vendors ----------------------------------------------------------- */

static int read_model_location(json_t *v, const char *base, const char *key,
                               enum gw_model_in *in, char **field, struct gw_err *err)
{
    static const char *const ins[] = {"body", "path"};
    char path[PATH];
    json_t *loc;
    const char *f;
    int i;
    gw_jr_path(path, sizeof(path), base, key);
    if (gw_jr_object(v, base, key, 0, &loc, err) < 0 ||
        gw_jr_enum(loc, path, "in", 0, ins, 2, &i, err) < 0 ||
        read_name(loc, path, "field", 0, GW_NAME_MAX_CHARS, &f, err) < 0)
        return -1;
    *in = (enum gw_model_in)i;
    return dup_into(field, f, err);
}

static int read_vendor(json_t *v, const char *path, struct gw_cfg_vendor *out,
                       struct gw_err *err)
{
    static const char *const usage_keys[] = {"promptTokens", "completionTokens", "totalTokens"};
    char **usage_out[] = {&out->usage_prompt, &out->usage_completion, &out->usage_total};
    const char *id, *name, *apiver = NULL, *s;
    json_t *usage, *auth;
    char sub[PATH];
    if (gw_jr_is_object(v, path, err) < 0 || read_id(v, path, "id", &id, err) < 0 ||
        read_name(v, path, "name", 0, GW_NAME_MAX_CHARS, &name, err) < 0 ||
        gw_jr_string(v, path, "apiVersion", GW_JR_OPTIONAL, 0, 4 * GW_API_VERSION_MAX_CHARS,
                     &apiver, err) < 0 ||
        dup_into(&out->id, id, err) < 0 || dup_into(&out->name, name, err) < 0 ||
        dup_into(&out->api_version, apiver ? apiver : "", err) < 0 ||
        read_strings(v, path, "models", 0, 0, model_name_rule, "a model name", &out->models,
                     &out->nmodels, err) < 0)
        return -1;
    if (read_model_location(v, path, "requestModel", &out->request_in, &out->request_field,
                            err) < 0 ||
        read_model_location(v, path, "responseModel", &out->response_in, &out->response_field,
                            err) < 0 ||
        gw_jr_object(v, path, "usage", 0, &usage, err) < 0)
        return -1;
    gw_jr_path(sub, sizeof(sub), path, "usage");
    for (int i = 0; i < 3; i++)
        if (read_name(usage, sub, usage_keys[i], 0, GW_USAGE_PATH_MAX_CHARS, &s, err) < 0 ||
            dup_into(usage_out[i], s, err) < 0)
            return -1;
    if (gw_jr_object(v, path, "auth", 0, &auth, err) < 0)
        return -1;
    gw_jr_path(sub, sizeof(sub), path, "auth");
    if (read_ruled(auth, sub, "header", header_rule, &s, err) < 0 ||
        dup_into(&out->auth_header, s, err) < 0 ||
        gw_jr_string(auth, sub, "prefix", GW_JR_NO_CTL, 0, 4 * GW_NAME_MAX_CHARS, &s, err) < 0 ||
        dup_into(&out->auth_prefix, s, err) < 0)
        return -1;
    return 0;
}

/* ---- endpoints and operations ------------------------------------------ */

static int read_endpoint_auth(json_t *ep, const char *path, struct gw_cfg_endpoint *out,
                              struct gw_err *err)
{
    char apath[PATH];
    json_t *auth = json_object_get(ep, "auth");
    gw_jr_path(apath, sizeof(apath), path, "auth");
    if (!auth)
        return gw_jr_fail(err, path, "auth", "is required");
    if (json_is_null(auth))
        return 0;
    if (!json_is_object(auth))
        return gw_jr_fail(err, apath, NULL, "must be null or an object");
    const char *header = NULL, *value = NULL, *missing = NULL, *k;
    json_t *unused;
    if (read_ruled(auth, apath, "header", header_rule, &header, err) < 0 ||
        gw_jr_string(auth, apath, "value", GW_JR_OPTIONAL | GW_JR_NO_CTL, 0,
                     GW_AUTH_VALUE_MAX_BYTES, &value, err) < 0 ||
        read_name(auth, apath, "missingSecret", GW_JR_OPTIONAL, GW_NAME_MAX_CHARS, &missing,
                  err) < 0)
        return -1;
    if (!value == !missing)
        return gw_jr_fail(err, apath, NULL,
                          "must have exactly one of \"value\" and \"missingSecret\"");
    json_object_foreach (auth, k, unused) {
        if (strcmp(k, "header") != 0 && strcmp(k, "value") != 0 && strcmp(k, "missingSecret") != 0)
            return gw_jr_fail(err, apath, k, "is not allowed");
    }
    if (dup_into(&out->auth_header, header, err) < 0)
        return -1;
    return missing ? dup_into(&out->missing_secret, missing, err)
                   : dup_into(&out->auth_value, value, err);
}

/* A PEM member of tls (optional), checked by rule, copied into *out. */
static int read_pem(json_t *tls, const char *base, const char *key,
                    int (*rule)(const char *, const char *, struct gw_err *), char **out,
                    struct gw_err *err)
{
    const char *s = NULL;
    char path[PATH];
    if (gw_jr_string(tls, base, key, GW_JR_OPTIONAL, 1, ANY_LEN, &s, err) < 0)
        return -1;
    if (!s)
        return 0;
    gw_jr_path(path, sizeof(path), base, key);
    if (rule(s, path, err) < 0)
        return -1;
    return dup_into(out, s, err);
}

/* "tls": absent, null, or {caCert?, clientCert?, clientKey? |
 * missingClientKey?}: a client certificate comes with its key (or the name
 * of the missing secret that holds it), and a key only with a certificate. */
static int read_endpoint_tls(json_t *ep, const char *path, struct gw_cfg_endpoint *out,
                             struct gw_err *err)
{
    static const char *const keys[] = {"caCert", "clientCert", "clientKey", "missingClientKey"};
    char tpath[PATH];
    json_t *tls = json_object_get(ep, "tls"), *unused;
    const char *missing = NULL, *k;
    if (!tls || json_is_null(tls))
        return 0;
    gw_jr_path(tpath, sizeof(tpath), path, "tls");
    if (!json_is_object(tls))
        return gw_jr_fail(err, tpath, NULL, "must be null or an object");
    json_object_foreach (tls, k, unused) {
        size_t i = 0;
        while (i < 4 && strcmp(k, keys[i]) != 0)
            i++;
        if (i == 4)
            return gw_jr_fail(err, tpath, k, "is not allowed");
    }
    if (read_pem(tls, tpath, "caCert", gw_rule_pem_certs, &out->tls_ca_cert, err) < 0 ||
        read_pem(tls, tpath, "clientCert", gw_rule_pem_certs, &out->tls_client_cert, err) < 0 ||
        read_pem(tls, tpath, "clientKey", gw_rule_pem_key, &out->tls_client_key, err) < 0 ||
        read_name(tls, tpath, "missingClientKey", GW_JR_OPTIONAL, GW_NAME_MAX_CHARS, &missing,
                  err) < 0 ||
        (missing && dup_into(&out->tls_missing_key, missing, err) < 0))
        return -1;
    if (!out->tls_ca_cert && !out->tls_client_cert)
        return gw_jr_fail(err, tpath, NULL, "must have caCert or clientCert");
    if (!out->tls_client_cert != (!out->tls_client_key && !out->tls_missing_key) ||
        (out->tls_client_key && out->tls_missing_key))
        return gw_jr_fail(err, tpath, NULL,
                          "a clientCert needs exactly one of clientKey and missingClientKey");
    return 0;
}

static int read_endpoint(json_t *ep, const char *path, struct gw_cfg_endpoint *out,
                         struct gw_err *err)
{
    const char *id, *name, *url;
    int env;
    if (gw_jr_is_object(ep, path, err) < 0 || read_id(ep, path, "id", &id, err) < 0 ||
        read_name(ep, path, "name", 0, GW_NAME_MAX_CHARS, &name, err) < 0 ||
        gw_jr_enum(ep, path, "environment", 0, gw_cfg_env_names, GW_ENV_COUNT, &env, err) < 0 ||
        read_ruled(ep, path, "url", url_rule, &url, err) < 0 ||
        gw_jr_int(ep, path, "timeoutMs", 0, 1, GW_TIMEOUT_MAX_MS, &out->timeout_ms, err) < 0)
        return -1;
    out->env = (enum gw_env)env;
    if (dup_into(&out->id, id, err) < 0 || dup_into(&out->name, name, err) < 0 ||
        dup_into(&out->url, url, err) < 0)
        return -1;
    return read_endpoint_auth(ep, path, out, err) < 0 ? -1 : read_endpoint_tls(ep, path, out, err);
}

/* "scopes" of an operation: optional, 1..GW_OPERATION_SCOPES_MAX scopes of
 * a secured operation. */
static int read_scopes(json_t *o, const char *path, struct gw_cfg_operation *out,
                       struct gw_err *err)
{
    char sub[PATH];
    if (read_strings(o, path, "scopes", GW_JR_OPTIONAL, GW_OPERATION_SCOPES_MAX, gw_rule_scope,
                     "a scope", &out->scopes, &out->nscopes, err) < 0)
        return -1;
    gw_jr_path(sub, sizeof(sub), path, "scopes");
    if (out->nscopes > 0 && !out->secured)
        return gw_jr_fail(err, sub, NULL, "scopes need a secured operation");
    return 0;
}

static int read_operation(json_t *o, const char *path, struct gw_cfg_operation *out,
                          struct gw_err *err)
{
    const char *target;
    int verb;
    if (gw_jr_is_object(o, path, err) < 0 ||
        read_ruled(o, path, "target", target_rule, &target, err) < 0 ||
        gw_jr_enum(o, path, "verb", 0, verbs, NVERBS, &verb, err) < 0 ||
        gw_jr_bool(o, path, "secured", 0, &out->secured, err) < 0)
        return -1;
    if (dup_into(&out->verb, verbs[verb], err) < 0 || dup_into(&out->target, target, err) < 0)
        return -1;
    return read_scopes(o, path, out, err);
}

/* ---- policies ---------------------------------------------------------- */

/* Parses one {model, endpoint, weight} of env, resolving the endpoint. */
static int read_target(json_t *t, const char *path, const struct gw_cfg_api *a, enum gw_env env,
                       int weighted, struct gw_cfg_target *out, struct gw_err *err)
{
    const char *model, *epid;
    int64_t weight = 1;
    size_t i;
    if (gw_jr_is_object(t, path, err) < 0 ||
        read_name(t, path, "model", 0, GW_NAME_MAX_CHARS, &model, err) < 0 ||
        read_id(t, path, "endpoint", &epid, err) < 0 ||
        gw_jr_int(t, path, "weight", GW_JR_OPTIONAL, GW_WEIGHT_MIN, GW_WEIGHT_MAX, &weight, err) <
            0)
        return -1;
    for (i = 0; i < a->nendpoints && strcmp(a->endpoints[i].id, epid) != 0; i++)
        ;
    if (i == a->nendpoints)
        return gw_jr_fail(err, path, "endpoint", "no endpoint \"%s\" in this API", epid);
    if (a->endpoints[i].env != env)
        return gw_jr_fail(err, path, "endpoint", "endpoint \"%s\" is not a %s endpoint", epid,
                          gw_cfg_env_names[env]);
    out->endpoint_index = i;
    out->weight = weighted ? (int)weight : 1;
    if (dup_into(&out->model, model, err) < 0 || dup_into(&out->endpoint, epid, err) < 0)
        return -1;
    return 0;
}

/* Reads the n targets of arr (path) into p->targets[env]; first is stored at
 * offset at (1 for failover fallbacks). */
static int read_targets(json_t *arr, const char *path, const struct gw_cfg_api *a,
                        enum gw_env env, int weighted, size_t at, struct gw_cfg_policy *p,
                        struct gw_err *err)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char ipath[PATH];
        gw_jr_index(ipath, sizeof(ipath), path, i);
        if (read_target(json_array_get(arr, i), ipath, a, env, weighted, &p->targets[env][at + i],
                        err) < 0)
            return -1;
    }
    return 0;
}

/* The optional routing fields of SPEC revision 2 (defaults: 0 / off). */
static int read_routing(json_t *j, const char *path, struct gw_cfg_routing *r, struct gw_err *err)
{
    int64_t retries = 0, wait = 0;
    int mode = GW_MIDSTREAM_OFF;
    char fpath[PATH];
    if (gw_jr_int(j, path, "retries", GW_JR_OPTIONAL, 0, GW_RETRIES_MAX, &retries, err) < 0 ||
        gw_jr_int(j, path, "maxRetryAfterWaitSec", GW_JR_OPTIONAL, 0, GW_RETRY_AFTER_WAIT_MAX_S,
                  &wait, err) < 0 ||
        gw_jr_int(j, path, "firstTokenTimeoutMs", GW_JR_OPTIONAL, 0, GW_STREAM_TIMEOUT_MAX_MS,
                  &r->first_token_timeout_ms, err) < 0 ||
        gw_jr_int(j, path, "streamIdleTimeoutMs", GW_JR_OPTIONAL, 0, GW_STREAM_TIMEOUT_MAX_MS,
                  &r->stream_idle_timeout_ms, err) < 0 ||
        gw_jr_enum(j, path, "midStreamFailover", GW_JR_OPTIONAL, gw_cfg_midstream_names,
                   GW_MIDSTREAM_COUNT, &mode, err) < 0)
        return -1;
    gw_jr_path(fpath, sizeof(fpath), path, "firstTokenTimeoutMs");
    if (gw_rule_stream_timeout(r->first_token_timeout_ms, fpath, err) < 0)
        return -1;
    gw_jr_path(fpath, sizeof(fpath), path, "streamIdleTimeoutMs");
    if (gw_rule_stream_timeout(r->stream_idle_timeout_ms, fpath, err) < 0)
        return -1;
    r->retries = (int)retries;
    r->max_retry_after_wait_s = (int)wait;
    r->midstream = (enum gw_midstream)mode;
    return 0;
}

/* "operations" of a round-robin policy: targets of the API's operations;
 * the default set when absent. */
static int read_lb_operations(json_t *j, const char *path, const struct gw_cfg_api *a,
                              struct gw_cfg_policy *p, struct gw_err *err)
{
    json_t *ops = NULL;
    char opath[PATH];
    if (gw_jr_array(j, path, "operations", GW_JR_OPTIONAL, &ops, err) < 0)
        return -1;
    size_t n = ops ? json_array_size(ops) : 3;
    gw_jr_path(opath, sizeof(opath), path, "operations");
    if (ops && (n == 0 || n > GW_POLICY_OPERATIONS_MAX))
        return gw_jr_fail(err, opath, NULL, "must hold 1 to %d operation targets",
                          GW_POLICY_OPERATIONS_MAX);
    p->operations = gw_calloc(n, sizeof(char *));
    if (!p->operations)
        return nomem(err);
    p->noperations = n;
    for (size_t i = 0; i < n; i++) {
        const char *t = ops ? json_string_value(json_array_get(ops, i))
                            : gw_cfg_default_lb_operations[i];
        char ipath[PATH];
        size_t k;
        gw_jr_index(ipath, sizeof(ipath), opath, i);
        if (!t)
            return gw_jr_fail(err, ipath, NULL, "must be an operation target (a string)");
        for (k = 0; ops && k < a->noperations && strcmp(a->operations[k].target, t) != 0; k++)
            ;
        if (ops && k == a->noperations)
            return gw_jr_fail(err, ipath, NULL, "\"%s\" is not an operation of this API", t);
        if (dup_into(&p->operations[i], t, err) < 0)
            return -1;
    }
    return 0;
}

static int read_lb(json_t *j, const char *path, int weighted, const struct gw_cfg_api *a,
                   struct gw_cfg_policy *p, struct gw_err *err)
{
    if (gw_jr_int(j, path, "suspendDurationSec", 0, 0, GW_SUSPEND_MAX_S, &p->suspend_s, err) < 0 ||
        read_routing(j, path, &p->routing, err) < 0 || read_lb_operations(j, path, a, p, err) < 0)
        return -1;
    for (int env = 0; env < GW_ENV_COUNT; env++) {
        json_t *arr;
        char epath[PATH];
        gw_jr_path(epath, sizeof(epath), path, gw_cfg_env_names[env]);
        if (alloc_array(j, path, gw_cfg_env_names[env], 0, sizeof(struct gw_cfg_target),
                        (void **)&p->targets[env], &p->ntargets[env], &arr, err) < 0)
            return -1;
        if (p->ntargets[env] > GW_TARGETS_MAX)
            return gw_jr_fail(err, epath, NULL, "at most %d targets", GW_TARGETS_MAX);
        if (read_targets(arr, epath, a, (enum gw_env)env, weighted, 0, p, err) < 0)
            return -1;
    }
    return 0;
}

static int read_failover_env(json_t *chain, const char *path, enum gw_env env,
                             const struct gw_cfg_api *a, struct gw_cfg_policy *p,
                             struct gw_err *err)
{
    json_t *target, *fallbacks;
    char tpath[PATH], fpath[PATH];
    if (gw_jr_is_object(chain, path, err) < 0 ||
        gw_jr_object(chain, path, "target", 0, &target, err) < 0 ||
        gw_jr_array(chain, path, "fallbacks", 0, &fallbacks, err) < 0)
        return -1;
    gw_jr_path(tpath, sizeof(tpath), path, "target");
    gw_jr_path(fpath, sizeof(fpath), path, "fallbacks");
    if (json_array_size(fallbacks) > GW_TARGETS_MAX)
        return gw_jr_fail(err, fpath, NULL, "at most %d fallbacks", GW_TARGETS_MAX);
    size_t n = 1 + json_array_size(fallbacks);
    p->targets[env] = gw_calloc(n, sizeof(struct gw_cfg_target));
    if (!p->targets[env])
        return nomem(err);
    p->ntargets[env] = n;
    p->has_chain[env] = 1;
    if (read_target(target, tpath, a, env, 0, &p->targets[env][0], err) < 0)
        return -1;
    return read_targets(fallbacks, fpath, a, env, 0, 1, p, err);
}

static int read_failover(json_t *j, const char *path, const struct gw_cfg_api *a,
                         struct gw_cfg_policy *p, struct gw_err *err)
{
    if (gw_jr_int(j, path, "requestTimeoutMs", 0, 1, GW_TIMEOUT_MAX_MS, &p->request_timeout_ms,
                  err) < 0 ||
        gw_jr_int(j, path, "suspendDurationSec", 0, 0, GW_SUSPEND_MAX_S, &p->suspend_s, err) < 0 ||
        read_routing(j, path, &p->routing, err) < 0)
        return -1;
    for (int env = 0; env < GW_ENV_COUNT; env++) {
        json_t *chain = json_object_get(j, gw_cfg_env_names[env]);
        char epath[PATH];
        if (!chain || json_is_null(chain))
            continue;
        gw_jr_path(epath, sizeof(epath), path, gw_cfg_env_names[env]);
        if (read_failover_env(chain, epath, (enum gw_env)env, a, p, err) < 0)
            return -1;
    }
    return 0;
}

static int read_ratelimit(json_t *j, const char *path, struct gw_cfg_policy *p,
                          struct gw_err *err)
{
    static const char *const scopes[] = {"api", "application"};
    int unit, scope;
    p->requests = p->request_tokens = p->response_tokens = p->total_tokens = -1;
    if (gw_jr_enum(j, path, "unit", 0, gw_cfg_rl_unit_names, 3, &unit, err) < 0 ||
        gw_jr_enum(j, path, "scope", 0, scopes, 2, &scope, err) < 0 ||
        gw_jr_int(j, path, "requests", GW_JR_OPTIONAL, 0, GW_RATE_LIMIT_MAX, &p->requests, err) <
            0 ||
        gw_jr_int(j, path, "requestTokens", GW_JR_OPTIONAL, 0, GW_RATE_LIMIT_MAX,
                  &p->request_tokens, err) < 0 ||
        gw_jr_int(j, path, "responseTokens", GW_JR_OPTIONAL, 0, GW_RATE_LIMIT_MAX,
                  &p->response_tokens, err) < 0 ||
        gw_jr_int(j, path, "totalTokens", GW_JR_OPTIONAL, 0, GW_RATE_LIMIT_MAX, &p->total_tokens,
                  err) < 0)
        return -1;
    p->unit = (enum gw_rl_unit)unit;
    p->per_application = scope == 1;
    return 0;
}

static int read_policy(json_t *j, const char *path, const struct gw_cfg_api *a,
                       struct gw_cfg_policy *p, struct gw_err *err)
{
    const char *id;
    int type;
    if (gw_jr_is_object(j, path, err) < 0 || read_id(j, path, "id", &id, err) < 0 ||
        gw_jr_enum(j, path, "type", 0, gw_cfg_policy_type_names, GW_POLICY_TYPE_COUNT, &type,
                   err) < 0 ||
        dup_into(&p->id, id, err) < 0)
        return -1;
    p->type = (enum gw_policy_type)type;
    switch (p->type) {
    case GW_POLICY_RR:
    case GW_POLICY_WRR:
        return read_lb(j, path, p->type == GW_POLICY_WRR, a, p, err);
    case GW_POLICY_FAILOVER:
        return read_failover(j, path, a, p, err);
    case GW_POLICY_RATELIMIT:
        return read_ratelimit(j, path, p, err);
    }
    return 0;
}

/* ---- APIs -------------------------------------------------------------- */

static int read_api(json_t *j, const char *path, const struct gw_cfg *cfg, struct gw_cfg_api *a,
                    struct gw_err *err)
{
    const char *id, *name, *base, *version, *vendor;
    json_t *ops, *eps, *pols;
    char sub[PATH], vpath[PATH];
    if (gw_jr_is_object(j, path, err) < 0 || read_id(j, path, "id", &id, err) < 0 ||
        read_name(j, path, "name", 0, GW_NAME_MAX_CHARS, &name, err) < 0 ||
        read_ruled(j, path, "basePath", base_path_rule, &base, err) < 0 ||
        gw_jr_string(j, path, "version", 0, 0, ANY_LEN, &version, err) < 0)
        return -1;
    gw_jr_path(vpath, sizeof(vpath), path, "version");
    if (gw_rule_version(version, vpath, err) < 0 ||
        gw_jr_bool(j, path, "defaultVersion", 0, &a->default_version, err) < 0 ||
        read_id(j, path, "vendor", &vendor, err) < 0 ||
        gw_jr_bool(j, path, "subscriptionValidation", 0, &a->subscription_validation, err) < 0)
        return -1;
    for (a->vendor_index = 0;
         a->vendor_index < cfg->nvendors && strcmp(cfg->vendors[a->vendor_index].id, vendor) != 0;
         a->vendor_index++)
        ;
    if (a->vendor_index == cfg->nvendors)
        return gw_jr_fail(err, path, "vendor", "no vendor \"%s\"", vendor);
    if (dup_into(&a->id, id, err) < 0 || dup_into(&a->name, name, err) < 0 ||
        dup_into(&a->base_path, base, err) < 0 || dup_into(&a->version, version, err) < 0 ||
        dup_into(&a->vendor, vendor, err) < 0)
        return -1;

    if (alloc_array(j, path, "operations", 0, sizeof(*a->operations), (void **)&a->operations,
                    &a->noperations, &ops, err) < 0)
        return -1;
    gw_jr_path(sub, sizeof(sub), path, "operations");
    if (a->noperations > GW_OPERATIONS_MAX)
        return gw_jr_fail(err, sub, NULL, "at most %d operations", GW_OPERATIONS_MAX);
    for (size_t i = 0; i < a->noperations; i++) {
        char ipath[PATH];
        gw_jr_index(ipath, sizeof(ipath), sub, i);
        if (read_operation(json_array_get(ops, i), ipath, &a->operations[i], err) < 0)
            return -1;
    }

    if (alloc_array(j, path, "endpoints", 0, sizeof(*a->endpoints), (void **)&a->endpoints,
                    &a->nendpoints, &eps, err) < 0)
        return -1;
    gw_jr_path(sub, sizeof(sub), path, "endpoints");
    for (size_t i = 0; i < a->nendpoints; i++) {
        char ipath[PATH];
        gw_jr_index(ipath, sizeof(ipath), sub, i);
        if (read_endpoint(json_array_get(eps, i), ipath, &a->endpoints[i], err) < 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(a->endpoints[k].id, a->endpoints[i].id) == 0)
                return gw_jr_fail(err, ipath, "id", "duplicate endpoint id \"%s\"",
                                  a->endpoints[i].id);
    }

    if (alloc_array(j, path, "policies", 0, sizeof(*a->policies), (void **)&a->policies,
                    &a->npolicies, &pols, err) < 0)
        return -1;
    gw_jr_path(sub, sizeof(sub), path, "policies");
    for (size_t i = 0; i < a->npolicies; i++) {
        char ipath[PATH];
        gw_jr_index(ipath, sizeof(ipath), sub, i);
        if (read_policy(json_array_get(pols, i), ipath, a, &a->policies[i], err) < 0)
            return -1;
        if (gw_cfg_check_combination(a->policies, i, ipath, err) < 0) {
            /* In a snapshot it is one more invalid field. */
            err->kind = GW_ERR_INVALID;
            snprintf(err->code, sizeof(err->code), "invalid_config");
            return -1;
        }
    }
    return 0;
}

/* ---- subscriptions of OAuth clients (config_issuers.c) ----------------- */

int gw_cfg_read_subscriptions(json_t *j, const char *path, char ***out, size_t *n,
                              struct gw_err *err)
{
    json_t *subs;
    char spath[PATH];
    if (alloc_array(j, path, "subscriptions", 0, sizeof(char *), (void **)out, n, &subs, err) < 0)
        return -1;
    gw_jr_path(spath, sizeof(spath), path, "subscriptions");
    for (size_t i = 0; i < *n; i++) {
        json_t *s = json_array_get(subs, i);
        if (!json_is_string(s) || json_string_length(s) < 1 ||
            json_string_length(s) > GW_ID_MAX_BYTES) {
            char ipath[PATH];
            gw_jr_index(ipath, sizeof(ipath), spath, i);
            return gw_jr_fail(err, ipath, NULL, "must be an id (1 to %d characters)",
                              GW_ID_MAX_BYTES);
        }
        if (dup_into(&(*out)[i], json_string_value(s), err) < 0)
            return -1;
    }
    return 0;
}

/* ---- the document ------------------------------------------------------ */

/* "applications" and "keys" given as texts (gw_cfg_from_json_bulk). */
struct bulk {
    const char *apps, *keys;
    size_t alen, klen;
};

static int read_doc(json_t *doc, struct gw_cfg *cfg, const struct bulk *bulk, struct gw_err *err)
{
    const char *sha, *gen;
    json_t *vendors, *apis, *sv = json_object_get(doc, "schemaVersion");
    if (!json_is_integer(sv) || json_integer_value(sv) != GW_CFG_SCHEMA_VERSION)
        return gw_jr_fail(err, "", "schemaVersion",
                          "must be %d (the only version this binary knows)",
                          GW_CFG_SCHEMA_VERSION);
    if (gw_jr_int(doc, "", "revision", 0, 0, INT64_MAX, &cfg->revision, err) < 0 ||
        gw_jr_string(doc, "", "sha256", 0, 64, 64, &sha, err) < 0)
        return -1;
    if (strspn(sha, "0123456789abcdef") != 64)
        return gw_jr_fail(err, "", "sha256", "must be 64 lowercase hex digits");
    memcpy(cfg->sha256, sha, 65);
    if (gw_jr_string(doc, "", "generatedAt", GW_JR_OPTIONAL, 0, ANY_LEN, &gen, err) < 0 ||
        alloc_array(doc, "", "vendors", 0, sizeof(*cfg->vendors), (void **)&cfg->vendors,
                    &cfg->nvendors, &vendors, err) < 0)
        return -1;
    for (size_t i = 0; i < cfg->nvendors; i++) {
        char path[PATH];
        gw_jr_index(path, sizeof(path), "vendors", i);
        if (read_vendor(json_array_get(vendors, i), path, &cfg->vendors[i], err) < 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(cfg->vendors[k].id, cfg->vendors[i].id) == 0)
                return gw_jr_fail(err, path, "id", "duplicate vendor id \"%s\"",
                                  cfg->vendors[i].id);
    }
    if (alloc_array(doc, "", "apis", 0, sizeof(*cfg->apis), (void **)&cfg->apis, &cfg->napis,
                    &apis, err) < 0)
        return -1;
    for (size_t i = 0; i < cfg->napis; i++) {
        char path[PATH];
        gw_jr_index(path, sizeof(path), "apis", i);
        if (read_api(json_array_get(apis, i), path, cfg, &cfg->apis[i], err) < 0)
            return -1;
    }
    if (bulk ? gw_cfg_read_apps_keys_text(bulk->apps, bulk->alen, bulk->keys, bulk->klen, cfg) < 0
                 && gw_err_set(err, GW_ERR_INVALID, "invalid_config", NULL,
                               "applications or keys not in the fast subset") < 0
             : gw_cfg_read_apps_keys(doc, cfg, err) < 0)
        return -1;
    return gw_cfg_read_issuers(doc, cfg, err);
}

struct gw_cfg *gw_cfg_from_json(json_t *doc, struct gw_err *err)
{
    gw_err_clear(err);
    if (!json_is_object(doc)) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_config", "", "the snapshot must be a JSON object");
        return NULL;
    }
    struct gw_cfg *cfg = gw_calloc(1, sizeof(*cfg));
    if (!cfg) {
        nomem(err);
        return NULL;
    }
    if (read_doc(doc, cfg, NULL, err) < 0) {
        gw_cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

struct gw_cfg *gw_cfg_from_json_bulk(json_t *rest, const char *apps, size_t alen,
                                     const char *keys, size_t klen, struct gw_err *err)
{
    struct bulk b = {apps, keys, alen, klen};
    gw_err_clear(err);
    struct gw_cfg *cfg = json_is_object(rest) ? gw_calloc(1, sizeof(*cfg)) : NULL;
    if (cfg && read_doc(rest, cfg, &b, err) < 0) {
        gw_cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

/* ---- the hash ---------------------------------------------------------- */

int gw_cfg_hash(json_t *doc, char out[65])
{
    json_t *body = json_pack("{s:O*,s:O*,s:O*,s:O*,s:O*}", "vendors", json_object_get(doc, "vendors"),
                             "apis", json_object_get(doc, "apis"), "applications",
                             json_object_get(doc, "applications"), "keys",
                             json_object_get(doc, "keys"), "issuers",
                             json_object_get(doc, "issuers"));
    if (!body)
        return -1;
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    if (!text)
        return -1;
    gw_sha256_hex(text, strlen(text), out);
    gw_free(text);
    return 0;
}

const char *const gw_cfg_hashed_members[GW_CFG_HASHED] = {"apis", "applications", "issuers",
                                                          "keys", "vendors"};

struct pieces {
    const void *data[4 * GW_CFG_HASHED + 2];
    size_t lens[4 * GW_CFG_HASHED + 2];
    size_t n;
};

static void piece(struct pieces *p, const char *data, size_t len)
{
    p->data[p->n] = data;
    p->lens[p->n++] = len;
}

void gw_cfg_hash_parts(const struct gw_cfg_part parts[GW_CFG_HASHED], char out[65])
{
    /* {"name":text,...} in gw_cfg_hashed_members order, as json_dumps
     * writes an object with JSON_COMPACT | JSON_SORT_KEYS. */
    struct pieces p = {.n = 0};
    piece(&p, "{", 1);
    for (int i = 0; i < GW_CFG_HASHED; i++) {
        if (!parts[i].text)
            continue;
        piece(&p, p.n > 1 ? ",\"" : "\"", p.n > 1 ? 2 : 1);
        piece(&p, gw_cfg_hashed_members[i], strlen(gw_cfg_hashed_members[i]));
        piece(&p, "\":", 2);
        piece(&p, parts[i].text, parts[i].len);
    }
    piece(&p, "}", 1);
    gw_sha256_hex_parts(p.data, p.lens, p.n, out);
}

int gw_cfg_check_hash(json_t *doc, struct gw_err *err)
{
    char have[65];
    const char *claimed = json_string_value(json_object_get(doc, "sha256"));
    if (!claimed)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_config", "sha256", "sha256: is required");
    if (gw_cfg_hash(doc, have) < 0)
        return nomem(err);
    if (strcmp(have, claimed) != 0)
        return gw_err_set(err, GW_ERR_INVALID, "sha256_mismatch", "sha256",
                          "sha256: does not match the snapshot's content (computed %s)", have);
    return 0;
}
