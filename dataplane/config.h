/* The compiled, immutable config snapshot of the data plane.
 *
 * dp_config_compile() turns one snapshot document (schema/config.schema.json)
 * into lookup tables, once, when the snapshot is applied. Reading and
 * checking the document is the shared config model's job
 * (common/config.h, gw_cfg_from_json: the same code the control plane runs
 * before publishing); this module only compiles the model: operations by
 * method + path (match.h), API keys by hash (keys.h), vendors and endpoints
 * resolved to pointers, each load-balancing policy's balancer (balance.h),
 * failover chains by model, the rate-limit policy. No request ever parses
 * JSON config.
 *
 * Strings in these structs are borrowed from the model the config keeps
 * (cfg->model), except auth_line; nobody may change them.
 *
 * Ownership: a struct dp_config is reference counted (atomically) and never
 * changes after compile. A request takes a reference when it starts
 * (dp_config_ref) and drops it when it ends, so it finishes on the snapshot it
 * started with however many reloads happen meanwhile.
 *
 * Mutable routing state — the round-robin sequence of each policy and the
 * suspension deadline of each target — is NOT in the snapshot: it lives in
 * struct dp_suspensions (suspension.h), shared by all snapshots, so that it carries over
 * reloads for targets that still exist. compile() links each target and
 * policy to its state entry. */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include "balance.h"
#include "common/config.h"
#include "common/err.h"
#include "common/limits.h"
#include "upstream_tls.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct dp_suspensions;
struct dp_target_state;
struct dp_lb_state;

enum dp_env {
    DP_ENV_PRODUCTION = 0, /* production keys, unsecured operations */
    DP_ENV_SANDBOX = 1     /* sandbox keys */
};
#define DP_ENV_COUNT 2

enum dp_model_in {
    DP_MODEL_IN_BODY, /* a top-level JSON field of the request body */
    DP_MODEL_IN_PATH  /* the endpoint URL holds {model} (Azure deployments) */
};

struct dp_vendor {
    char *id;
    char *name;
    enum dp_model_in model_in; /* requestModel.in */
    char *model_field;         /* requestModel.field, e.g. "model" */
    char *usage_prompt;        /* dotted path, e.g. "usage.prompt_tokens" */
    char *usage_completion;
    char *usage_total;
};

struct dp_endpoint {
    char *id;
    char *name;
    enum dp_env env;
    char *url;           /* base URL; the request target is appended */
    int url_has_model;   /* url contains "{model}" */
    int64_t timeout_ms;  /* header deadline, then the longest gap between reads */
    char *auth_header;   /* NULL: send no credential */
    char *auth_value;    /* value for auth_header (prefix + secret), or NULL */
    char *missing_secret;/* non-NULL: the secret is missing; answer 502 */
    char *auth_line;     /* "Header: value", ready for a curl_slist, or NULL */
    int has_tls;         /* tls is set (SPEC 2.2 Endpoints "tls") */
    struct dp_upstream_tls tls; /* borrowed from the model */
};

/* Most targets one load-balancing list may hold (the router's tried set and
 * the uint16_t schedule are sized by it); a failover chain holds one more. */
#define DP_CONFIG_MAX_TARGETS GW_TARGETS_MAX

/* One (model, endpoint) pair a request can be routed to. */
struct dp_target {
    char *model;
    const struct dp_endpoint *endpoint;
    int weight;                    /* 1 for round robin */
    struct dp_target_state *state; /* shared suspension state, see suspension.h */
};

/* A round-robin or weighted round-robin policy for one environment. */
struct dp_lb {
    struct dp_target *targets;
    size_t ntargets;
    /* Which target request n of the policy takes (balance.h: smooth
     * weighted round robin over the targets' weights). */
    struct dp_balancer bal;
    int64_t suspend_ms;
    struct dp_lb_state *state; /* the shared sequence counter, see suspension.h */
    struct gw_cfg_routing routing; /* SPEC revision 2 options (carried, see router.h) */
    /* The operation targets the policy routes; others go to the first
     * endpoint. Borrowed from the model. */
    char *const *operations;
    size_t noperations;
};

/* A failover chain for one environment: chain[0] is the target, the rest
 * the fallbacks in order. Applies to requests whose model is chain[0].model. */
struct dp_failover {
    struct dp_target *chain;
    size_t nchain;
    int64_t request_timeout_ms; /* no response headers within this: failed try */
    int64_t suspend_ms;
    struct gw_cfg_routing routing; /* SPEC revision 2 options (carried, see router.h) */
};

enum dp_rl_unit {
    DP_RL_MINUTE = 60,  /* windows aligned to the UTC minute */
    DP_RL_HOUR = 3600,  /* ... the UTC hour */
    DP_RL_DAY = 86400   /* ... the UTC day */
};

/* The aiRateLimit policy. Limits are -1 when not set. */
struct dp_ratelimit {
    char *policy_id;
    enum dp_rl_unit unit;
    int per_application; /* scope "application": one budget per app */
    int64_t requests;
    int64_t request_tokens;  /* prompt tokens */
    int64_t response_tokens; /* completion tokens */
    int64_t total_tokens;
};

struct dp_operation {
    char *verb;   /* "POST" */
    char *target; /* "/chat/completions" */
    int secured;
    /* OAuth scopes a JWT must hold (borrowed from the model); an API key
     * never holds them. */
    const char *const *scopes;
    size_t nscopes;
};

struct dp_api {
    char *id;
    char *name;
    char *base_path;
    char *version;
    int default_version;
    int subscription_validation;
    const struct dp_vendor *vendor;
    struct dp_operation *operations;
    size_t noperations;
    struct dp_endpoint *endpoints;
    size_t nendpoints;
    /* First endpoint of each environment (no routing policy), or NULL. */
    const struct dp_endpoint *first_endpoint[DP_ENV_COUNT];
    /* At most one of lb / failovers is set per environment. */
    struct dp_lb *lb[DP_ENV_COUNT];
    struct dp_failover *failovers[DP_ENV_COUNT];
    size_t nfailovers[DP_ENV_COUNT];
    struct dp_ratelimit *ratelimit; /* NULL when the API has none */
    int needs_model;                /* a routing policy exists: body must have a model */
    /* Per environment: a routing policy (load balancing with targets, or a
     * failover chain) applies there, so the body must name a model. */
    int needs_model_env[DP_ENV_COUNT];
};

/* An application: the set of APIs it is subscribed to, compiled once and
 * shared by all its keys. */
struct dp_app {
    char *id;
    char **subscriptions; /* API ids, sorted (bsearch) */
    size_t nsubscriptions;
};

/* An API key (app set: its application's subscriptions apply) or an
 * issuer's OAuth client (app NULL: its own subscriptions). */
struct dp_key {
    char hash[65]; /* sha256 hex of the key */
    char *id;      /* NULL when the snapshot gives none */
    char *app_id;
    const struct dp_app *app;
    enum dp_env env;
    int64_t expires_at;   /* Unix seconds, 0 = never */
    char **subscriptions; /* OAuth clients: API ids, sorted (bsearch) */
    size_t nsubscriptions;
};

struct dp_config {
    atomic_long refs;
    struct gw_cfg *model; /* owned: the checked snapshot the strings point into */
    int64_t revision;
    char sha256[65];
    struct dp_vendor *vendors;
    size_t nvendors;
    struct dp_api *apis;
    size_t napis;
    struct dp_app *apps;
    size_t napps;
    struct dp_key *keys;
    size_t nkeys;
    /* Lookup tables: match.c's route table, keys.c's key index. */
    struct dp_route_table *routes;
    struct dp_key_index *keyindex;
    /* JWT access tokens (config_jwt.c): the issuer table, NULL when the
     * snapshot has no issuer, and the OAuth clients as keys (id = client
     * id, no hash, no expiry): the gw_jwt_claims.client of a verified token
     * points at one of them. */
    struct gw_jwt_issuers *jwt;
    struct dp_key *jwt_clients;
    size_t njwt_clients;
};

/* Compiles the model's issuers into cfg->jwt and cfg->jwt_clients
 * (config_jwt.c, called by the compile). 0 or -1 with err. */
int dp_config_compile_jwt(struct dp_config *cfg, struct gw_err *err);

/* Frees what dp_config_compile_jwt made (config_jwt.c). */
void dp_config_free_jwt(struct dp_config *cfg);

/* Fills k from the model's key or OAuth client m (config.c). */
int dp_config_compile_key(struct gw_cfg_key *m, struct dp_key *k, struct gw_err *err);

/* Reads a snapshot document (borrowed reference) with the shared model
 * (gw_cfg_from_json: every rule of the contract) and compiles it. Returns
 * NULL with err (kind GW_ERR_INVALID, field = JSON path) on any problem;
 * the caller then keeps its current config. Does not check sha256 (the
 * caller does, gw_cfg_check_hash). */
struct dp_config *dp_config_compile(json_t *doc, struct dp_suspensions *state, struct gw_err *err);

/* Compiles a checked model into a new config with one reference, linking
 * targets and policies to their entries in state (created when new, kept
 * when they exist: that is how round-robin positions and suspensions carry
 * over a reload). Takes ownership of model, also on failure. NULL with err
 * (GW_ERR_NOMEM) on out of memory. */
struct dp_config *dp_config_compile_model(struct gw_cfg *model, struct dp_suspensions *state,
                                          struct gw_err *err);

/* Takes a reference; returns cfg. Any thread. */
struct dp_config *dp_config_ref(struct dp_config *cfg);

/* Drops a reference; frees on the last one. NULL is a no-op. Any thread. */
void dp_config_unref(struct dp_config *cfg);

/* The runtime lookups on a compiled config (path match: 404/405; API-key
 * authentication) live in their own modules. */
#include "keys.h"
#include "match.h"

#endif
