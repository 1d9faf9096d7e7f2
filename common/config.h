/* The config model: the C form of the snapshot document the control plane
 * publishes and every data plane applies (schema/config.schema.json, SPEC
 * 2.3). One definition for both binaries.
 *
 *   JSON snapshot --gw_cfg_from_json--> struct gw_cfg --(dataplane/config.c)--> lookup tables
 *   struct gw_cfg --gw_cfg_to_json--> JSON snapshot (config_write.c)
 *
 * gw_cfg_from_json() checks the whole document against the contract: each
 * field with the rules of common/rules.h and the bounds of common/limits.h
 * (the same functions the control plane applies to REST input), then the
 * references (vendor and endpoint ids, environments, operations) and the
 * combination rules of policies. The control plane runs it on every
 * snapshot before publishing (controlplane/snapshot.c); the data plane runs
 * it before compiling (dataplane/cfgsync.c). gw_cfg_check_hash() recomputes
 * the document's sha256.
 *
 * Ownership: a struct gw_cfg owns every string and array in it (copied out
 * of the document); gw_cfg_free() releases all of it. Immutable once built;
 * pure functions, any thread. */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define GW_CFG_SCHEMA_VERSION 1

enum gw_env {
    GW_ENV_PRODUCTION = 0, /* production keys, unsecured operations */
    GW_ENV_SANDBOX = 1     /* sandbox keys */
};
#define GW_ENV_COUNT 2
extern const char *const gw_cfg_env_names[GW_ENV_COUNT];

enum gw_model_in {
    GW_MODEL_IN_BODY = 0, /* a top-level JSON field of the request body */
    GW_MODEL_IN_PATH = 1  /* the endpoint URL holds {model} (Azure deployments) */
};

enum gw_policy_type {
    GW_POLICY_RR = 0,       /* modelRoundRobin */
    GW_POLICY_WRR = 1,      /* modelWeightedRoundRobin */
    GW_POLICY_FAILOVER = 2, /* modelFailover */
    GW_POLICY_RATELIMIT = 3 /* aiRateLimit */
};
#define GW_POLICY_TYPE_COUNT 4
extern const char *const gw_cfg_policy_type_names[GW_POLICY_TYPE_COUNT];

enum gw_midstream {
    GW_MIDSTREAM_OFF = 0,     /* "off": a broken stream ends with an error event */
    GW_MIDSTREAM_CONTINUE = 1 /* "continue": continue on the next target */
};
#define GW_MIDSTREAM_COUNT 2
extern const char *const gw_cfg_midstream_names[GW_MIDSTREAM_COUNT];

enum gw_rl_unit {
    GW_RL_MINUTE = 0, /* windows aligned to the UTC minute */
    GW_RL_HOUR = 1,   /* ... the UTC hour */
    GW_RL_DAY = 2     /* ... the UTC day */
};
extern const char *const gw_cfg_rl_unit_names[3];

/* The routed operations of a round-robin policy without "operations". */
extern const char *const gw_cfg_default_lb_operations[3];

struct gw_cfg_vendor {
    char *id;
    char *name;
    char *api_version; /* "" when absent */
    char **models;
    size_t nmodels;
    enum gw_model_in request_in, response_in;
    char *request_field, *response_field;
    char *usage_prompt, *usage_completion, *usage_total; /* dotted paths */
    char *auth_header, *auth_prefix;
};

struct gw_cfg_endpoint {
    char *id;
    char *name;
    enum gw_env env;
    char *url;
    int64_t timeout_ms;
    /* auth: header NULL = send no credential; else exactly one of value
     * (prefix + secret value, resolved) and missing_secret. */
    char *auth_header;
    char *auth_value;
    char *missing_secret;
    /* tls (SPEC 2.2), each NULL when absent: extra trusted CA certificates
     * and the client certificate (PEM); the client key (PEM, resolved from
     * its secret) or, when that secret is missing, its name. A client
     * certificate comes with exactly one of the last two. */
    char *tls_ca_cert;
    char *tls_client_cert;
    char *tls_client_key;
    char *tls_missing_key;
};

struct gw_cfg_operation {
    char *verb;   /* "POST" */
    char *target; /* "/chat/completions" */
    int secured;
    /* OAuth scopes a JWT must hold (SPEC 3.1 step 2); none when nscopes 0. */
    char **scopes;
    size_t nscopes;
};

/* One (model, endpoint) target of a policy. */
struct gw_cfg_target {
    char *model;
    char *endpoint;        /* endpoint id */
    size_t endpoint_index; /* into the API's endpoints */
    int weight;            /* 1 unless weighted round robin */
};

/* The optional routing fields of SPEC revision 2 (defaults: all 0 / off). */
struct gw_cfg_routing {
    int retries;                     /* 0..GW_RETRIES_MAX */
    int max_retry_after_wait_s;      /* 0..GW_RETRY_AFTER_WAIT_MAX_S */
    int64_t first_token_timeout_ms;  /* 0 = off */
    int64_t stream_idle_timeout_ms;  /* 0 = off */
    enum gw_midstream midstream;
};

struct gw_cfg_policy {
    char *id;
    enum gw_policy_type type;
    /* Routing policies (RR, WRR, FAILOVER). */
    int64_t suspend_s;
    struct gw_cfg_routing routing;
    /* Per environment: RR/WRR the target list; FAILOVER the chain (target
     * first, then the fallbacks), has_chain 0 when the environment has none. */
    struct gw_cfg_target *targets[GW_ENV_COUNT];
    size_t ntargets[GW_ENV_COUNT];
    int has_chain[GW_ENV_COUNT];
    int64_t request_timeout_ms; /* FAILOVER */
    /* RR/WRR: the operation targets routed (defaults filled in). */
    char **operations;
    size_t noperations;
    /* RATELIMIT: limits are -1 when not set. */
    enum gw_rl_unit unit;
    int per_application; /* scope "application" */
    int64_t requests, request_tokens, response_tokens, total_tokens;
};

struct gw_cfg_api {
    char *id;
    char *name;
    char *base_path;
    char *version;
    int default_version;
    int subscription_validation;
    char *vendor;        /* vendor id */
    size_t vendor_index; /* into cfg->vendors */
    struct gw_cfg_operation *operations;
    size_t noperations;
    struct gw_cfg_endpoint *endpoints;
    size_t nendpoints;
    struct gw_cfg_policy *policies;
    size_t npolicies;
};

/* An application: its subscriptions are its own, shared by all its keys
 * (the snapshot grows with keys + subscriptions, not their product). */
struct gw_cfg_application {
    char *id;
    char *name;
    char **subscriptions; /* API ids, in document order */
    size_t nsubscriptions;
};

/* An API key (in "keys": hash set, subscriptions none, its application's
 * apply through app_index) or an issuer's OAuth client (hash "", its own
 * subscriptions, has_app 0). */
struct gw_cfg_key {
    char *id; /* optional for API keys (NULL): a data plane needs only the hash */
    char hash[65]; /* sha256 hex of the key */
    char *application; /* an application id */
    int has_app;       /* API keys: app_index names the application */
    size_t app_index;  /* into cfg->applications */
    enum gw_env type;
    int64_t expires_at;   /* Unix seconds, 0 = never */
    char **subscriptions; /* OAuth clients only: API ids, in document order */
    size_t nsubscriptions;
};

/* A JWT issuer (SPEC 2.2 "Issuers", 2.3). Its OAuth clients are read into
 * gw_cfg_key entries (id = the client id, hash "", no expiry), so a JWT
 * caller's application, environment and subscriptions look like an API
 * key's. audiences and keys are checked with common/jwt_issuer_json.c (the
 * data plane builds its table with the same function). */
struct gw_cfg_issuer {
    char *id;
    char *issuer;       /* the tokens' iss */
    char *client_claim; /* NULL: azp, then client_id */
    json_t *audiences;  /* owned reference: array of strings */
    json_t *keys;       /* owned reference: PEM strings and JWKs (inline + fetched) */
    struct gw_cfg_key *clients;
    size_t nclients;
};

struct gw_cfg {
    int64_t revision;
    char sha256[65];
    struct gw_cfg_vendor *vendors;
    size_t nvendors;
    struct gw_cfg_api *apis;
    size_t napis;
    struct gw_cfg_application *applications;
    size_t napplications;
    struct gw_cfg_key *keys;
    size_t nkeys;
    struct gw_cfg_issuer *issuers;
    size_t nissuers;
};

/* Reads and checks a snapshot document (borrowed). Returns a new model, or
 * NULL with err: GW_ERR_INVALID (code "invalid_config", err->field the JSON
 * path of the first problem, e.g. "apis[0].policies[1].production[2].weight",
 * the message starting with it) or GW_ERR_NOMEM. Does not check sha256
 * against the content (gw_cfg_check_hash does). */
struct gw_cfg *gw_cfg_from_json(json_t *doc, struct gw_err *err);

/* Writes a model as a snapshot document (new reference; every field the
 * reader reads, defaults written out, sha256 computed), or NULL on out of
 * memory. gw_cfg_from_json() of the result gives back the same model. */
json_t *gw_cfg_to_json(const struct gw_cfg *cfg);

/* The combination rules of SPEC 2.2 for pols[i] against pols[0..i-1] of one
 * API: at most one load-balancing policy and then no failover policy; no two
 * failover policies whose target models are equal in either environment
 * (SPEC: 409; otherwise a data plane could follow only one chain); at most
 * one aiRateLimit. Reads only type, has_chain and targets[env][0].model.
 * Returns 0, or -1 with err (GW_ERR_CONFLICT, code "policy_conflict", field
 * path + ".type" or path + ".<env>.target.model"; path may be ""). */
int gw_cfg_check_combination(const struct gw_cfg_policy *pols, size_t i, const char *path,
                             struct gw_err *err);

/* Reads the optional "issuers" of doc into cfg (config_issuers.c; called
 * by gw_cfg_from_json): every issuer built with the data plane's code, all
 * of them in one table, so a repeated iss or (issuer, client id) fails
 * here. 0 or -1 with err naming the JSON path. */
int gw_cfg_read_issuers(json_t *doc, struct gw_cfg *cfg, struct gw_err *err);

/* Reads j's "subscriptions" (an array of API ids) into a new *out of *n
 * (config_json.c; for applications and OAuth clients). */
int gw_cfg_read_subscriptions(json_t *j, const char *path, char ***out, size_t *n,
                              struct gw_err *err);

/* Frees the issuers of cfg (config_issuers.c). */
void gw_cfg_free_issuers(struct gw_cfg *cfg);

/* Frees a model; NULL is a no-op. */
void gw_cfg_free(struct gw_cfg *cfg);

/* The snapshot hash: lowercase hex SHA-256 of the compact JSON (keys
 * sorted) of {"vendors", "apis", "applications", "keys", "issuers"} of doc
 * (borrowed; a member doc lacks is left out), into out.
 * Returns 0, or -1 on out of memory. */
int gw_cfg_hash(json_t *doc, char out[65]);

/* The same hash from the texts of those members (each already in the
 * canonical form json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes), in
 * gw_cfg_hashed_members order ("apis", "applications", "issuers", "keys",
 * "vendors"); a part with text NULL is left out. For text that is not
 * canonical the result differs from gw_cfg_hash of the parsed document. */
#define GW_CFG_HASHED 5
extern const char *const gw_cfg_hashed_members[GW_CFG_HASHED];
struct gw_cfg_part {
    const char *text;
    size_t len;
};
void gw_cfg_hash_parts(const struct gw_cfg_part parts[GW_CFG_HASHED], char out[65]);

/* gw_cfg_from_json for a document whose "applications" and "keys" are
 * given as texts (config_apps.h gw_cfg_read_apps_keys_text) while rest
 * (borrowed) holds everything else. NULL when rest is not valid or the
 * texts are not in the fast subset (err then says little: read the whole
 * document with gw_cfg_from_json for the reason). */
struct gw_cfg *gw_cfg_from_json_bulk(json_t *rest, const char *apps, size_t alen,
                                     const char *keys, size_t klen, struct gw_err *err);

/* Recomputes doc's hash and compares it with its "sha256" member. Returns
 * 0, or -1 with err (GW_ERR_INVALID, field "sha256": missing, or does not
 * match the content; GW_ERR_NOMEM). */
int gw_cfg_check_hash(json_t *doc, struct gw_err *err);

#endif
