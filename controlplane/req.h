/* One admin-API request as a handler sees it, and how it answers.
 *
 * http.c fills a struct cp_req for each matched route (path parameters,
 * raw body, parsed JSON body) and calls the route's handler on an MHD worker
 * thread. The handler either returns -1 with a struct gw_err (http.c turns
 * it into the SPEC 2.1 error reply) or sets the reply with one of the
 * cp_req_reply_*() helpers and returns 0. The request is owned by http.c and
 * lives until the reply is queued. */
#ifndef CP_REQ_H
#define CP_REQ_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

struct cp_db;
struct cp_dp;
struct MHD_Connection;

#define CP_REQ_MAX_PARAMS 4

struct cp_req {
    const char *method;                    /* "GET", "POST", ... */
    const char *path;                      /* URL path, without the query */
    const char *params[CP_REQ_MAX_PARAMS]; /* path parameters ({id}...) in order, decoded */
    int nparams;
    const char *content_type; /* Content-Type header or NULL */
    const char *body;         /* raw body, NUL-terminated ("" when none) */
    size_t body_len;
    json_t *json; /* parsed JSON body (borrowed) or NULL */
    struct cp_db *db;
    struct cp_dp *dp;            /* the data-plane channel (dp_channel.h) */
    struct MHD_Connection *conn; /* for query arguments */

    /* The reply (set through the helpers below). */
    int status;  /* 0 = not set yet */
    json_t *out; /* JSON body (owned) or NULL */
    char *raw;   /* non-JSON body (owned, gw_malloc'd) or NULL */
    size_t raw_len;
    const char *raw_type; /* content type of raw (static string) */
};

/* A route handler: 0 with the reply set, or -1 with err filled. */
typedef int (*cp_handler_fn)(struct cp_req *req, struct gw_err *err);

/* Replies status with the JSON value j; takes ownership of j (a new
 * reference). Returns 0, or -1 (GW_ERR_NOMEM) when j is NULL. */
int cp_req_reply_json(struct cp_req *req, int status, json_t *j, struct gw_err *err);

/* Replies status with no body (204 after a delete). Returns 0. */
int cp_req_reply_empty(struct cp_req *req, int status);

/* Replies status with a non-JSON body; takes ownership of body (gw_malloc'd,
 * len bytes). content_type must be a static string. Returns 0. */
int cp_req_reply_raw(struct cp_req *req, int status, char *body, size_t len,
                     const char *content_type);

/* The value of query argument name, or NULL. */
const char *cp_req_query(struct cp_req *req, const char *name);

/* Frees the reply fields (http.c calls it once the reply is queued). */
void cp_req_cleanup(struct cp_req *req);

#endif
