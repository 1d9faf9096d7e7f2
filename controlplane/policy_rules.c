/* Policy validation (see policy_rules.h). */
#include "policy_rules.h"

#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/limits.h"
#include "common/rules.h"
#include "jfield.h"

#define MAX_TARGETS GW_TARGETS_MAX
#define MAX_SUSPEND_S GW_SUSPEND_MAX_S
#define MAX_TIMEOUT_MS GW_TIMEOUT_MAX_MS
#define MAX_LIMIT ((json_int_t)GW_RATE_LIMIT_MAX)

/* The policy types (common/config.h), and P_UNKNOWN for any other. */
enum ptype {
    P_RR = GW_POLICY_RR,
    P_WRR = GW_POLICY_WRR,
    P_FAILOVER = GW_POLICY_FAILOVER,
    P_RATE = GW_POLICY_RATELIMIT,
    P_UNKNOWN = GW_POLICY_TYPE_COUNT
};

#define type_names gw_cfg_policy_type_names

static enum ptype type_of(json_t *policy)
{
    const char *t = json_string_value(json_object_get(policy, "type"));
    for (int i = 0; t && i < P_UNKNOWN; i++)
        if (strcmp(t, type_names[i]) == 0)
            return (enum ptype)i;
    return P_UNKNOWN;
}

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
}

/* --- targets -------------------------------------------------------------- */

static int model_known(const struct cp_policy_ctx *ctx, const char *model)
{
    size_t i;
    json_t *m;
    json_array_foreach (ctx->models, i, m)
        if (strcmp(json_string_value(m), model) == 0)
            return 1;
    return 0;
}

/* The endpoint of ctx with this id (borrowed), or NULL. */
static json_t *endpoint_of(const struct cp_policy_ctx *ctx, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach (ctx->endpoints, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
            return e;
    }
    return NULL;
}

/* Checks one target {model, endpoint[, weight]} at path in environment env;
 * *out the normalized target. */
static int check_target(json_t *t, const char *path, const char *env, int weighted,
                        const struct cp_policy_ctx *ctx, json_t **out, struct gw_err *err)
{
    const char *model, *endpoint;
    json_int_t weight = 1;
    char field[96];
    if (!json_is_object(t))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", path, "%s must be an object", path);
    if (cp_jf_str(t, "model", path, CP_JF_REQUIRED | CP_JF_NAME, GW_NAME_MAX_CHARS, &model, err) <
            0 ||
        cp_jf_str(t, "endpoint", path, CP_JF_REQUIRED | CP_JF_NAME, GW_ID_MAX_BYTES, &endpoint,
                  err) < 0 ||
        (weighted && cp_jf_int(t, "weight", path, 1, 1, GW_WEIGHT_MIN, GW_WEIGHT_MAX, &weight,
                               err) < 0))
        return -1;
    if (!model_known(ctx, model)) {
        cp_jf_path(field, sizeof(field), path, "model");
        return gw_err_set(err, GW_ERR_INVALID, "unknown_model", field,
                          "%s: model '%s' is not in the vendor's model list", field, model);
    }
    json_t *ep = endpoint_of(ctx, endpoint);
    const char *have = json_string_value(json_object_get(ep, "environment"));
    if (!have || strcmp(have, env) != 0) {
        cp_jf_path(field, sizeof(field), path, "endpoint");
        return gw_err_set(err, GW_ERR_INVALID, "unknown_endpoint", field,
                          "%s: '%s' is not a %s endpoint of this API", field, endpoint, env);
    }
    /* The model goes into this endpoint's URL path: the data plane would
     * answer every request for it 400 (gw_rule_path_segment), so refuse it
     * here, where the admin can fix it. */
    const char *url = json_string_value(json_object_get(ep, "url"));
    if (url && strstr(url, "{model}")) {
        cp_jf_path(field, sizeof(field), path, "model");
        if (gw_rule_path_segment(model, field, err) != 0)
            return -1;
    }
    *out = weighted
               ? json_pack("{s:s,s:s,s:I}", "model", model, "endpoint", endpoint, "weight", weight)
               : json_pack("{s:s,s:s}", "model", model, "endpoint", endpoint);
    return *out ? 0 : nomem(err);
}

/* A round-robin list for env: array of targets, no target twice. */
static int check_list(json_t *list, const char *env, int weighted, const struct cp_policy_ctx *ctx,
                      json_t **out, struct gw_err *err)
{
    *out = json_array();
    if (!*out)
        return nomem(err);
    if (!list || json_is_null(list))
        return 0;
    if (!json_is_array(list) || json_array_size(list) > MAX_TARGETS)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", env,
                          "%s must be an array of at most %d targets", env, MAX_TARGETS);
    size_t i, j;
    json_t *t;
    json_array_foreach (list, i, t) {
        char path[48];
        json_t *norm = NULL;
        snprintf(path, sizeof(path), "%s[%zu]", env, i);
        if (check_target(t, path, env, weighted, ctx, &norm, err) < 0)
            return -1;
        for (j = 0; j < i; j++) {
            json_t *o = json_array_get(*out, j);
            if (json_equal(json_object_get(o, "model"), json_object_get(norm, "model")) &&
                json_equal(json_object_get(o, "endpoint"), json_object_get(norm, "endpoint"))) {
                json_decref(norm);
                return gw_err_set(err, GW_ERR_INVALID, "duplicate", path,
                                  "%s: this model and endpoint are listed twice", path);
            }
        }
        if (json_array_append_new(*out, norm) < 0)
            return nomem(err);
    }
    return 0;
}

/* A failover chain for env: {target, fallbacks[]} or null. */
static int check_chain(json_t *chain, const char *env, const struct cp_policy_ctx *ctx,
                       json_t **out, struct gw_err *err)
{
    json_t *target = NULL, *fallbacks = NULL;
    char path[48];
    *out = NULL;
    if (!chain || json_is_null(chain))
        return 0;
    if (!json_is_object(chain))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", env,
                          "%s must be an object {target, fallbacks} or null", env);
    snprintf(path, sizeof(path), "%s.target", env);
    if (!json_object_get(chain, "target"))
        return gw_err_set(err, GW_ERR_INVALID, "missing_field", path, "%s is required", path);
    if (check_target(json_object_get(chain, "target"), path, env, 0, ctx, &target, err) < 0)
        return -1;
    json_t *fb = json_object_get(chain, "fallbacks");
    snprintf(path, sizeof(path), "%s.fallbacks", env);
    int rc = -1;
    if (fb && !json_is_null(fb) && (!json_is_array(fb) || json_array_size(fb) > MAX_TARGETS)) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_type", path,
                   "%s must be an array of at most %d targets", path, MAX_TARGETS);
        goto out;
    }
    if (!(fallbacks = json_array())) {
        nomem(err);
        goto out;
    }
    size_t i;
    json_t *t;
    json_array_foreach (fb, i, t) {
        char tpath[96];
        json_t *norm = NULL;
        snprintf(tpath, sizeof(tpath), "%s[%zu]", path, i);
        if (check_target(t, tpath, env, 0, ctx, &norm, err) < 0 ||
            json_array_append_new(fallbacks, norm) < 0)
            goto out;
    }
    *out = json_pack("{s:O,s:O}", "target", target, "fallbacks", fallbacks);
    rc = *out ? 0 : nomem(err);
out:
    json_decref(target);
    json_decref(fallbacks);
    return rc;
}

/* --- routing options (SPEC revision 2) ------------------------------------------ */

/* Copies into out each optional routing field of body that is set, after
 * checking it: retries, maxRetryAfterWaitSec, firstTokenTimeoutMs,
 * streamIdleTimeoutMs, midStreamFailover. Absent fields stay absent (the
 * model's defaults apply), so existing policies read back unchanged. */
static int check_routing_options(json_t *body, json_t *out, struct gw_err *err)
{
    static const struct {
        const char *key;
        json_int_t min, max;
    } ints[] = {{"retries", 0, GW_RETRIES_MAX},
                {"maxRetryAfterWaitSec", 0, GW_RETRY_AFTER_WAIT_MAX_S},
                {"firstTokenTimeoutMs", 0, GW_STREAM_TIMEOUT_MAX_MS},
                {"streamIdleTimeoutMs", 0, GW_STREAM_TIMEOUT_MAX_MS}};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        json_int_t v;
        if (cp_jf_int(body, ints[i].key, NULL, 0, -1, ints[i].min, ints[i].max, &v, err) < 0)
            return -1;
        if (v < 0)
            continue;
        if (i >= 2 && gw_rule_stream_timeout(v, ints[i].key, err) < 0)
            return -1;
        if (json_object_set_new(out, ints[i].key, json_integer(v)) < 0)
            return nomem(err);
    }
    const char *mode;
    if (cp_jf_str(body, "midStreamFailover", NULL, 0, 16, &mode, err) < 0)
        return -1;
    if (mode && gw_rule_enum(mode, gw_cfg_midstream_names, GW_MIDSTREAM_COUNT,
                             "midStreamFailover", err) < 0)
        return -1;
    if (mode && json_object_set_new(out, "midStreamFailover", json_string(mode)) < 0)
        return nomem(err);
    return 0;
}

/* "operations" of a round-robin policy: operation targets of the API, no
 * duplicates. Copied into out only when given. */
static int check_policy_operations(json_t *body, const struct cp_policy_ctx *ctx, json_t *out,
                                   struct gw_err *err)
{
    json_t *ops = json_object_get(body, "operations");
    if (!ops || json_is_null(ops))
        return 0;
    if (!json_is_array(ops) || json_array_size(ops) == 0 ||
        json_array_size(ops) > GW_POLICY_OPERATIONS_MAX)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", "operations",
                          "operations must be an array of 1 to %d operation targets",
                          GW_POLICY_OPERATIONS_MAX);
    size_t i, j;
    json_t *o, *op;
    json_array_foreach (ops, i, o) {
        char path[48];
        int found = 0;
        snprintf(path, sizeof(path), "operations[%zu]", i);
        if (!json_is_string(o))
            return gw_err_set(err, GW_ERR_INVALID, "invalid_type", path, "%s must be a string",
                              path);
        json_array_foreach (ctx->operations, j, op)
            found |= json_equal(json_object_get(op, "target"), o);
        if (!found)
            return gw_err_set(err, GW_ERR_INVALID, "unknown_operation", path,
                              "%s: '%s' is not an operation of this API", path,
                              json_string_value(o));
        for (j = 0; j < i; j++)
            if (json_equal(json_array_get(ops, j), o))
                return gw_err_set(err, GW_ERR_INVALID, "duplicate", path,
                                  "%s: this operation is listed twice", path);
    }
    return json_object_set(out, "operations", ops) < 0 ? nomem(err) : 0;
}

/* --- the four types ----------------------------------------------------------- */

static int check_round_robin(json_t *body, enum ptype type, const struct cp_policy_ctx *ctx,
                             json_t **out, struct gw_err *err)
{
    json_int_t suspend;
    json_t *prod = NULL, *sand = NULL;
    int rc = -1, weighted = type == P_WRR;
    if (cp_jf_int(body, "suspendDurationSec", NULL, 0, 60, 0, MAX_SUSPEND_S, &suspend, err) < 0 ||
        check_list(json_object_get(body, "production"), "production", weighted, ctx, &prod, err) <
            0 ||
        check_list(json_object_get(body, "sandbox"), "sandbox", weighted, ctx, &sand, err) < 0)
        goto out;
    if (json_array_size(prod) == 0 && json_array_size(sand) == 0) {
        gw_err_set(err, GW_ERR_INVALID, "missing_field", "production",
                   "production or sandbox needs at least one target");
        goto out;
    }
    *out = json_pack("{s:s,s:I,s:O,s:O}", "type", type_names[type], "suspendDurationSec", suspend,
                     "production", prod, "sandbox", sand);
    rc = *out ? 0 : nomem(err);
    if (rc == 0 && (check_routing_options(body, *out, err) < 0 ||
                    check_policy_operations(body, ctx, *out, err) < 0)) {
        json_decref(*out);
        *out = NULL;
        rc = -1;
    }
out:
    json_decref(prod);
    json_decref(sand);
    return rc;
}

static int check_failover(json_t *body, const struct cp_policy_ctx *ctx, json_t **out,
                          struct gw_err *err)
{
    json_int_t timeout, suspend;
    json_t *prod = NULL, *sand = NULL;
    int rc = -1;
    if (cp_jf_int(body, "requestTimeoutMs", NULL, 0, 30000, 1, MAX_TIMEOUT_MS, &timeout, err) < 0 ||
        cp_jf_int(body, "suspendDurationSec", NULL, 0, 60, 0, MAX_SUSPEND_S, &suspend, err) < 0 ||
        check_chain(json_object_get(body, "production"), "production", ctx, &prod, err) < 0 ||
        check_chain(json_object_get(body, "sandbox"), "sandbox", ctx, &sand, err) < 0)
        goto out;
    if (!prod && !sand) {
        gw_err_set(err, GW_ERR_INVALID, "missing_field", "production",
                   "production or sandbox is required");
        goto out;
    }
    *out = json_pack("{s:s,s:I,s:I,s:O?,s:O?}", "type", type_names[P_FAILOVER], "requestTimeoutMs",
                     timeout, "suspendDurationSec", suspend, "production", prod, "sandbox", sand);
    rc = *out ? 0 : nomem(err);
    if (rc == 0 && check_routing_options(body, *out, err) < 0) {
        json_decref(*out);
        *out = NULL;
        rc = -1;
    }
out:
    json_decref(prod);
    json_decref(sand);
    return rc;
}

static int check_rate_limit(json_t *body, json_t **out, struct gw_err *err)
{
    static const char *const limits[] = {"requestTokens", "responseTokens", "totalTokens",
                                         "requests"};
    const char *unit, *scope;
    int any = 0;
    if (cp_jf_str(body, "unit", NULL, CP_JF_REQUIRED, 16, &unit, err) < 0 ||
        cp_jf_str(body, "scope", NULL, 0, 16, &scope, err) < 0)
        return -1;
    if (strcmp(unit, "minute") != 0 && strcmp(unit, "hour") != 0 && strcmp(unit, "day") != 0)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "unit",
                          "unit must be \"minute\", \"hour\" or \"day\"");
    if (!scope)
        scope = "api";
    if (strcmp(scope, "api") != 0 && strcmp(scope, "application") != 0)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "scope",
                          "scope must be \"api\" or \"application\"");
    *out = json_pack("{s:s,s:s,s:s}", "type", type_names[P_RATE], "unit", unit, "scope", scope);
    if (!*out)
        return nomem(err);
    for (int i = 0; i < 4; i++) {
        json_int_t v;
        if (cp_jf_int(body, limits[i], NULL, 0, -1, 0, MAX_LIMIT, &v, err) < 0)
            goto fail;
        if (v >= 0) {
            any = 1;
            if (json_object_set_new(*out, limits[i], json_integer(v)) < 0) {
                nomem(err);
                goto fail;
            }
        }
    }
    if (any)
        return 0;
    gw_err_set(err, GW_ERR_INVALID, "missing_field", "requests",
               "at least one of requestTokens, responseTokens, totalTokens, requests is required");
fail:
    json_decref(*out);
    *out = NULL;
    return -1;
}

/* --- combination rules -------------------------------------------------------- */

/* The parts of a normalized policy (REST shape) the combination rules
 * read: type and each environment's chain target model. Strings borrowed
 * from j; tgt provides the storage of targets[env]. */
static void combination_view(json_t *j, struct gw_cfg_policy *p,
                             struct gw_cfg_target tgt[GW_ENV_COUNT])
{
    memset(p, 0, sizeof(*p));
    p->type = (enum gw_policy_type)type_of(j);
    for (int e = 0; p->type == GW_POLICY_FAILOVER && e < GW_ENV_COUNT; e++) {
        json_t *model = json_object_get(
            json_object_get(json_object_get(j, gw_cfg_env_names[e]), "target"), "model");
        if (!json_is_string(model))
            continue;
        memset(&tgt[e], 0, sizeof(tgt[e]));
        tgt[e].model = (char *)json_string_value(model);
        p->targets[e] = &tgt[e];
        p->ntargets[e] = 1;
        p->has_chain[e] = 1;
    }
}

/* The combination rules (common/config.h, the same code a data plane runs
 * on the snapshot): norm against each of ctx->others. */
static int check_combination(json_t *norm, const struct cp_policy_ctx *ctx, struct gw_err *err)
{
    struct gw_cfg_policy pair[2];
    struct gw_cfg_target tgt[2][GW_ENV_COUNT];
    size_t i;
    json_t *o;
    combination_view(norm, &pair[1], tgt[1]);
    json_array_foreach (ctx->others, i, o) {
        combination_view(o, &pair[0], tgt[0]);
        if (type_of(o) != P_UNKNOWN && gw_cfg_check_combination(pair, 1, "", err) < 0)
            return -1;
    }
    return 0;
}

int cp_policy_validate(json_t *body, const struct cp_policy_ctx *ctx, json_t **out,
                       struct gw_err *err)
{
    const char *type;
    *out = NULL;
    if (cp_jf_str(body, "type", NULL, CP_JF_REQUIRED, 64, &type, err) < 0)
        return -1;
    enum ptype t = type_of(body);
    int rc;
    switch (t) {
    case P_RR:
    case P_WRR:
        rc = check_round_robin(body, t, ctx, out, err);
        break;
    case P_FAILOVER:
        rc = check_failover(body, ctx, out, err);
        break;
    case P_RATE:
        rc = check_rate_limit(body, out, err);
        break;
    default:
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "type",
                          "type must be modelRoundRobin, modelWeightedRoundRobin, modelFailover "
                          "or aiRateLimit");
    }
    if (rc == 0 && check_combination(*out, ctx, err) < 0) {
        json_decref(*out);
        *out = NULL;
        rc = -1;
    }
    return rc;
}

/* --- targets of a policy -------------------------------------------------------- */

static int add_targets(json_t *acc, json_t *list)
{
    size_t i;
    json_t *t;
    json_array_foreach (list, i, t) {
        if (json_array_append_new(acc, json_pack("{s:O,s:O}", "model", json_object_get(t, "model"),
                                                 "endpoint", json_object_get(t, "endpoint"))) < 0)
            return -1;
    }
    return 0;
}

json_t *cp_policy_targets(json_t *policy)
{
    json_t *acc = json_array();
    static const char *const envs[] = {"production", "sandbox"};
    for (int e = 0; acc && e < 2; e++) {
        json_t *v = json_object_get(policy, envs[e]);
        int rc = 0;
        if (json_is_array(v)) {
            rc = add_targets(acc, v);
        } else if (json_is_object(v)) {
            json_t *one = json_pack("[O]", json_object_get(v, "target"));
            rc = !one || add_targets(acc, one) < 0 ||
                         add_targets(acc, json_object_get(v, "fallbacks")) < 0
                     ? -1
                     : 0;
            json_decref(one);
        }
        if (rc < 0) {
            json_decref(acc);
            acc = NULL;
        }
    }
    return acc;
}
