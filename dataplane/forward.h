/* What one try sends upstream, SPEC 3.1 step 5: the URL (endpoint base,
 * {model} filled in, the operation's target, the caller's query
 * re-encoded), the body (model rewritten in JSON or multipart, stream usage
 * asked for), and the header lines (the caller's minus hop-by-hop ones,
 * Host, Content-Length, credentials...; X-Request-Id; the endpoint's
 * credential line).
 *
 * Pure functions over strings and config structs, no connection: the
 * request collects the caller's query arguments and headers once (through
 * dp_fwd_query_add / dp_fwd_header_add) and builds each try from them.
 * Any thread. */
#ifndef DP_FORWARD_H
#define DP_FORWARD_H

#include "body.h"
#include "common/buf.h"
#include "config.h"

#include <curl/curl.h>
#include <stddef.h>

#define DP_FWD_URL_MAX (16 * 1024) /* longest upstream URL, and query string */

/* Calls fn(arg, key, value) for each query argument of a request
 * (headers 0) or each of its headers (headers 1) until fn returns -1;
 * value may be NULL. (The client connection's way to list them.) */
typedef void (*dp_each_fn)(void *ctx, int headers,
                           int (*fn)(void *arg, const char *key, const char *value), void *arg);

/* Reads a request's query arguments (re-encoded into *query, owned, NULL
 * when none or out of memory: then not forwarded) and the headers to
 * forward (*headers, owned curl lines) through each. Returns 0, or -1 when
 * out of memory collecting the headers. */
int dp_fwd_collect(dp_each_fn each, void *ctx, char **query, struct curl_slist **headers);

/* Appends one query argument to q ("?k=v" or "&k=v", percent-encoded;
 * value NULL: "k" alone). Returns 0 or -1 (over q's cap, no memory). */
int dp_fwd_query_add(struct gw_buf *q, const char *key, const char *value);

/* 1 when the caller's header name is never forwarded. */
int dp_fwd_header_dropped(const char *name);

/* Appends the caller's header as a curl line to *list unless dropped or
 * too long. Returns 0, or -1 when out of memory (*list unchanged). */
int dp_fwd_header_add(struct curl_slist **list, const char *name, const char *value);

/* The URL of a try to t for operation op with the re-encoded query (or
 * NULL), appended to url. Returns 0 or -1. */
int dp_fwd_url(const struct dp_target *t, const struct dp_operation *op, const char *query,
               struct gw_buf *url);

/* What a try's body rewrite needs from the request. */
struct dp_fwd_body {
    const char *data; /* the caller's body */
    size_t len;
    const char *model;             /* the caller's model, or NULL */
    struct dp_json_body *json;     /* parsed JSON body, or NULL */
    int multipart;
    const char *content_type;      /* the caller's (multipart boundary), or NULL */
    int force_usage;
    const struct dp_vendor *vendor;
};

/* The body of a try to t: the caller's bytes when nothing changes, else the
 * rewritten document in send (reset first). Returns 0 with *body and *len set,
 * or -1 (no memory, over the cap, malformed multipart). */
int dp_fwd_body(const struct dp_fwd_body *in, const struct dp_target *t, struct gw_buf *send,
                const char **body, size_t *len);

/* The header lines of a try to t: fwd (the caller's forwarded lines) minus
 * any of the endpoint's credential header, then X-Request-Id: id, "Expect:"
 * and the endpoint's credential line. NULL when out of memory. */
struct curl_slist *dp_fwd_headers(const struct curl_slist *fwd, const struct dp_target *t,
                                  const char *id);

#endif
