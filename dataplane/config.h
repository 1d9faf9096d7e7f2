/* The compiled, immutable config snapshot of the data plane.
 *
 * dp_config_compile() turns one snapshot document (schema/config.schema.json)
 * into lookup tables, once, when the snapshot is applied: operations by
 * method + path, API keys by hash, vendors and endpoints resolved to
 * pointers, each load-balancing policy's smooth weighted round-robin schedule
 * precomputed, failover chains by model, the rate-limit policy parsed. No
 * request ever parses JSON config.
 *
 * Ownership: a struct dp_config is reference counted (atomically) and never
 * changes after compile. A request takes a reference when it starts
 * (dp_config_ref) and drops it when it ends, so it finishes on the snapshot it
 * started with however many reloads happen meanwhile.
 *
 * Mutable routing state — the round-robin sequence of each policy and the
 * suspension deadline of each target — is NOT in the snapshot: it lives in
 * struct dp_state (state.h), shared by all snapshots, so that it carries over
 * reloads for targets that still exist. compile() links each target and
 * policy to its state entry. */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include "common/err.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct dp_state;
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
    int64_t timeout_ms;  /* total time allowed for one upstream try */
    char *auth_header;   /* NULL: send no credential */
    char *auth_value;    /* value for auth_header (prefix + secret), or NULL */
    char *missing_secret;/* non-NULL: the secret is missing; answer 502 */
    char *auth_line;     /* "Header: value", ready for a curl_slist, or NULL */
};

/* Most targets one load-balancing list or failover chain may hold (the
 * router's tried set and the uint16_t schedule are sized by it). */
#define DP_CONFIG_MAX_TARGETS 256

/* One (model, endpoint) pair a request can be routed to. */
struct dp_target {
    char *model;
    const struct dp_endpoint *endpoint;
    int weight;                    /* 1 for round robin */
    struct dp_target_state *state; /* shared suspension state, see state.h */
};

/* A round-robin or weighted round-robin policy for one environment. */
struct dp_lb {
    struct dp_target *targets;
    size_t ntargets;
    /* Smooth weighted round robin (nginx's algorithm) unrolled over one
     * cycle: schedule[i] is the index of the target of the i-th request of a
     * cycle; schedule_len = sum of weights. Request n of the policy takes
     * schedule[n % schedule_len]. */
    uint16_t *schedule;
    size_t schedule_len;
    int64_t suspend_ms;
    struct dp_lb_state *state; /* the shared sequence counter, see state.h */
};

/* A failover chain for one environment: chain[0] is the target, the rest
 * the fallbacks in order. Applies to requests whose model is chain[0].model. */
struct dp_failover {
    struct dp_target *chain;
    size_t nchain;
    int64_t request_timeout_ms; /* no response headers within this: failed try */
    int64_t suspend_ms;
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

struct dp_key {
    char hash[65]; /* sha256 hex of the key */
    char *id;
    char *app_id;
    enum dp_env env;
    int64_t expires_at; /* Unix seconds, 0 = never */
    char **subscriptions; /* API ids, sorted (bsearch) */
    size_t nsubscriptions;
};

struct dp_config {
    atomic_long refs;
    int64_t revision;
    char sha256[65];
    struct dp_vendor *vendors;
    size_t nvendors;
    struct dp_api *apis;
    size_t napis;
    struct dp_key *keys;
    size_t nkeys;
    /* Lookup tables (private to config.c): routes and keys hash maps. */
    void *routes;
    void *keyindex;
};

/* Compiles a snapshot document (borrowed reference) into a new config with
 * one reference, linking targets and policies to their entries in state
 * (created when new, kept when they exist: that is how round-robin positions
 * and suspensions carry over a reload). Validates everything the schema says
 * plus references (vendor ids, endpoint ids, environments, weights); on any
 * problem returns NULL and fills err (kind GW_ERR_INVALID, field = JSON path)
 * and the caller keeps its current config. */
struct dp_config *dp_config_compile(json_t *doc, struct dp_state *state, struct gw_err *err);

/* Takes a reference; returns cfg. Any thread. */
struct dp_config *dp_config_ref(struct dp_config *cfg);

/* Drops a reference; frees on the last one. NULL is a no-op. Any thread. */
void dp_config_unref(struct dp_config *cfg);

enum dp_match {
    DP_MATCH_OK,        /* *api and *op are set */
    DP_MATCH_NOT_FOUND, /* no API serves the path (404) */
    DP_MATCH_METHOD     /* the path exists for another verb (405) */
};

/* Matches method + path (no query string) against basePath/version/target
 * and, for default-version APIs, basePath/target. O(1) hash lookups. */
enum dp_match dp_config_match(const struct dp_config *cfg, const char *method, const char *path,
                              const struct dp_api **api, const struct dp_operation **op);

enum dp_key_check {
    DP_KEY_OK,            /* *key is set */
    DP_KEY_UNKNOWN,       /* no such key, or revoked (401) */
    DP_KEY_EXPIRED,       /* expires_at passed (401) */
    DP_KEY_NOT_SUBSCRIBED /* subscription validation on, no subscription (403) */
};

/* Hashes the presented key and looks it up; checks expiry against now_s
 * (Unix seconds) and, when the API validates subscriptions, the key's
 * application's subscriptions. */
enum dp_key_check dp_config_check_key(const struct dp_config *cfg, const struct dp_api *api,
                                      const char *presented, int64_t now_s,
                                      const struct dp_key **key);

#endif
