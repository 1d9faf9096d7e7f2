/* GET .../models, which the gateway answers itself from its snapshot
 * (SPEC 2.2), never forwarding it upstream:
 *
 *   {"object": "list", "data": [{"id": "<model>", "object": "model",
 *    "created": 0, "owned_by": "<vendor name>"}, ...]}
 *
 * listing, for the caller's environment, the models the API's routing
 * policies name there (round-robin targets, failover targets and their
 * fallbacks; each once, in policy order), or the vendor's whole model list
 * when no routing policy applies to that environment. Pure functions over
 * an immutable config; any thread. */
#ifndef DP_MODELS_H
#define DP_MODELS_H

#include "common/buf.h"
#include "config.h"

/* A listing of GW_MODELS_MAX names of GW_NAME_MAX_CHARS characters, each
 * escaped, twice (id and owned_by), fits in this. */
#define DP_MODELS_BODY_MAX ((size_t)8 * 1024 * 1024)

/* 1 when op is the listing the gateway answers itself: GET /models. */
int dp_models_is_listing(const struct dp_operation *op);

/* Appends the listing for api's callers in env to out. Returns 0, or -1
 * when out refused (out of memory; the buffer is then empty). */
int dp_models_list(const struct dp_config *cfg, const struct dp_api *api, enum dp_env env,
                   struct gw_buf *out);

#endif
