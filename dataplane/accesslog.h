/* The access log: one JSON line per request on stderr (SPEC 3.2).
 *
 * {"time","id","method","path","api","requestedModel","model","endpoint",
 *  "status","attempts","tries":[{"model","endpoint","outcome","ms"}...],
 *  "durationMs","promptTokens","completionTokens","totalTokens"}
 * plus "triesNotListed" (tries past DP_TRYLOG_MAX), "tokensEstimated",
 * "clientAborted" and "streamError" when they hold.
 * Never an API key, a secret or a header value. One write(2) per line
 * (gw_log_raw), so lines of several workers never interleave. Any thread. */
#ifndef DP_ACCESSLOG_H
#define DP_ACCESSLOG_H

#include "trylog.h"

#include <stdint.h>

struct dp_access {
    int64_t wall_ms;      /* when the request ended (Unix ms) */
    const char *id;       /* request id */
    const char *method;
    const char *path;     /* no query string */
    const char *api;      /* API name or NULL */
    const char *requested_model; /* the caller's model, or NULL */
    const char *model;    /* model served (sent upstream), or the requested one, or NULL */
    const char *endpoint; /* endpoint name or NULL */
    int status;
    int attempts;
    int64_t duration_ms;
    int64_t prompt_tokens; /* -1 unknown */
    int64_t completion_tokens;
    int64_t total_tokens;
    int client_aborted; /* the client went away before the end */
    int stream_error;   /* the upstream broke the stream */
    int tokens_estimated; /* token counts are the estimate of an abandoned stream */
    const struct dp_trylog *tries; /* may be NULL */
};

/* Writes the line. Silently drops it when out of memory. */
void dp_accesslog_write(const struct dp_access *a);

/* Appends s as a JSON string literal (with quotes) to out; NULL gives null.
 * Bytes that are not well-formed UTF-8 become U+FFFD, so the result is valid
 * JSON whatever s holds. Shared with other writers of JSON text in the data
 * plane. Returns 0/-1. */
struct gw_buf;
int dp_json_str(struct gw_buf *out, const char *s);

#endif
