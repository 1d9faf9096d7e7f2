/* The access log: one JSON line per request on stderr (SPEC 3.2).
 *
 * {"time","id","method","path","api","requestedModel","model","endpoint",
 *  "status","attempts","tries":[{"model","endpoint","outcome","ms"}...],
 *  "durationMs","promptTokens","completionTokens","totalTokens"}
 * plus "triesNotListed" (tries past DP_TRYLOG_MAX), "tokensEstimated",
 * "clientAborted", "streamError" and "tlsError" (why the last failed try's
 * TLS handshake failed) when they hold.
 * Never an API key, a secret or a header value.
 *
 * Each worker buffers its lines (struct dp_accesslog, DP_ACCESSLOG_BUF
 * bytes) and its loop flushes them once per iteration, before it sleeps:
 * one write(2) for all the requests an iteration finished, never one per
 * request. A flush writes whole lines only; on a pipe or socket in writes
 * of at most PIPE_BUF bytes, so lines of several workers (and the other
 * log lines) never interleave. The worker flushes at exit, so no line is
 * lost on a clean shutdown. A line that does not fit the buffer is written
 * on its own.
 *
 * dp_accesslog_write (unbuffered): any thread. A struct dp_accesslog: its
 * worker's thread only. */
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
    const char *tls_error; /* "tlsError": why the last try's TLS handshake failed, or NULL */
};

#define DP_ACCESSLOG_BUF (64 * 1024)

/* Writes the line now, in one write(2). Silently drops it when out of
 * memory. */
void dp_accesslog_write(const struct dp_access *a);

struct dp_accesslog;

/* A buffer writing to fd (the data plane: STDERR_FILENO). NULL when out of
 * memory. */
struct dp_accesslog *dp_accesslog_new(int fd);

/* Adds the line to the buffer, flushing first when it would not fit. log
 * NULL: dp_accesslog_write. */
void dp_accesslog_add(struct dp_accesslog *log, const struct dp_access *a);

/* Writes the buffered lines (blocking). NULL or empty: no syscall. */
void dp_accesslog_flush(struct dp_accesslog *log);

/* Flushes and frees. NULL is a no-op. */
void dp_accesslog_free(struct dp_accesslog *log);

/* Appends s as a JSON string literal (with quotes) to out; NULL gives null.
 * Bytes that are not well-formed UTF-8 become U+FFFD, so the result is valid
 * JSON whatever s holds. Shared with other writers of JSON text in the data
 * plane. Returns 0/-1. */
struct gw_buf;
int dp_json_str(struct gw_buf *out, const char *s);

#endif
