/* Validation of routing and rate-limit policies (SPEC 2.2 "Policies"):
 * the shape of each of the four types, the references (models in the
 * vendor's list, endpoints of the API in the right environment) and the
 * rules for combining policies on one API. Pure functions over JSON, no
 * database: api_policies.c gathers the context. Any thread. */
#ifndef CP_POLICY_RULES_H
#define CP_POLICY_RULES_H

#include <jansson.h>

#include "common/err.h"

/* What a policy is checked against (all borrowed). */
struct cp_policy_ctx {
    json_t *models;    /* array of the API's vendor's model names */
    json_t *endpoints; /* array of the API's endpoints ({"id", "environment", ...}) */
    json_t *others;    /* array of the API's other policies (REST shape) */
    json_t *operations; /* array of the API's operations ({"target", "verb", ...}) */
};

/* Validates body (borrowed) against ctx. Returns 0 with *out the normalized
 * policy without "id" (new reference: defaults filled in, unknown fields
 * dropped), or -1 with err: GW_ERR_INVALID naming the field (shape,
 * unknown model, wrong endpoint), GW_ERR_CONFLICT (cannot be combined with
 * ctx->others). */
int cp_policy_validate(json_t *body, const struct cp_policy_ctx *ctx, json_t **out,
                       struct gw_err *err);

/* Every (model, endpoint) target of a normalized policy, as a new array of
 * {"model", "endpoint"} (empty for aiRateLimit). NULL on no memory. */
json_t *cp_policy_targets(json_t *policy);

#endif
