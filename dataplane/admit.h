/* Admission of a request, SPEC 3.1 steps 1-3 up to the rate limiter: the
 * path and verb (404 / 405), the API key (401 / 403) and the environment it
 * selects, the body (413, 400) and the model it names. The rate limiter's
 * own decision (ratelimit.h) is asked by request.c; its refusal (429) is
 * worded here.
 *
 * No connection is needed: the caller passes the request's method, path,
 * a header lookup and the body, so this is tested on plain strings.
 * Runs on the request's worker thread; keeps no state of its own. */
#ifndef DP_ADMIT_H
#define DP_ADMIT_H

#include "body.h"
#include "config.h"

#include <stddef.h>
#include <stdint.h>

struct dp_rl_result;
struct dp_jwt_cache;

/* Looks up a request header by name (case-insensitive): its value, or NULL. */
typedef const char *(*dp_header_fn)(void *ctx, const char *name);

/* What admission reads. Everything is borrowed. */
struct dp_admit_in {
    const struct dp_config *cfg; /* NULL: no snapshot yet (503) */
    const char *method;
    const char *path;
    dp_header_fn header;
    void *ctx;
    const char *body; /* may be NULL when body_len is 0 */
    size_t body_len;
    int body_too_big; /* the body went over DP_BODY_MAX (413) */
    int64_t now_s;    /* wall clock, for key expiry */
    struct dp_jwt_cache *jwt; /* the worker's cache of verified JWTs */
};

/* What an admitted request is. Filled as far as admission got, also when it
 * refuses (api names the API of a 401 in metrics and logs). */
struct dp_admission {
    const struct dp_api *api;
    const struct dp_operation *op;
    const char *app_id; /* borrowed from the config, NULL when unsecured */
    enum dp_env env;
    char *model;        /* the request's model (owned), or NULL */
    int has_json;       /* json holds the parsed body */
    struct dp_json_body json;
    int multipart;      /* multipart/form-data body */
    int listing;        /* GET .../models: the gateway answers it (models.h);
                           the body is not read */
    int force_usage;    /* we ask for stream usage the caller did not */
};

/* A refusal: the answer's status, error code and message. */
struct dp_refusal {
    int status;
    const char *code; /* static or borrowed from the config */
    char message[600];
};

/* Steps 1-2, run when the headers arrive so that no body is read for a
 * request that will be refused (SPEC 3.1 step 7): the configuration (503),
 * the path and verb (404 / 405), the key or JWT (401 / 403). in's body is
 * not read. Returns 0 (a holds the API, operation, environment and
 * application), or -1 with why set. a is zeroed first and must be released
 * with dp_admission_cleanup either way. */
int dp_admit_headers(const struct dp_admit_in *in, struct dp_admission *a,
                     struct dp_refusal *why);

/* The rest, once the body is read, after dp_admit_headers admitted a: the
 * size (413) and, unless a is a listing of models, the body and its model
 * (400). Returns 0 (a is complete) or -1 with why set. */
int dp_admit_body(const struct dp_admit_in *in, struct dp_admission *a, struct dp_refusal *why);

/* Both in one call (dp_admit_headers, then dp_admit_body). */
int dp_admit_check(const struct dp_admit_in *in, struct dp_admission *a, struct dp_refusal *why);

void dp_admission_cleanup(struct dp_admission *a);

/* The rate limiter refused (res->limited): the 429 refusal of api, and the
 * Retry-After value (whole seconds, at least 1) into retry_after. */
void dp_admit_limited(const struct dp_api *api, const struct dp_rl_result *res,
                      char retry_after[32], struct dp_refusal *why);

#endif
