/* Upstream transfers: libcurl's multi socket API glued to a worker's loop.
 *
 * One struct dp_upstream per worker holds one curl multi handle. Its socket
 * callback registers curl's sockets with the worker's dp_loop, its timer
 * callback keeps one loop timer; on each event the module calls
 * curl_multi_socket_action and then drains curl_multi_info_read, mapping
 * each finished easy handle back to its transfer through CURLOPT_PRIVATE
 * (curl docs/examples/ephiperfifo.c). The multi keeps its connection cache, so
 * upstream connections are reused across requests (keep-alive).
 *
 * One try is a struct dp_upstream_xfer, embedded in its owner (the request's
 * try, request.h) and reported to it only through the owner's callback
 * struct (struct dp_upstream_cb): on-headers, on-data, on-done. This module
 * knows nothing of requests. The header callback parses what the router
 * needs (status, Retry-After, x-ratelimit-remaining-*). No curl_multi_* call
 * is ever made from inside a curl callback.
 *
 * Thread: the worker's; nothing here is shared. */
#ifndef DP_UPSTREAM_H
#define DP_UPSTREAM_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "upstream_tls.h"

struct dp_loop;
struct dp_timer;
struct dp_upstream;
struct dp_upstream_xfer;

/* How a transfer reports to its owner (arg). Called on the worker's thread.
 * on_headers and on_data run inside curl callbacks: they must not call
 * dp_upstream_* functions (curl forbids multi calls there). */
struct dp_upstream_cb {
    /* A final (non-1xx) header block is complete: x->status, content_type,
     * retry_after... are set. Returns 0 to go on reading, -1 to abort the
     * transfer. */
    int (*on_headers)(void *arg, const struct dp_upstream_xfer *x);
    /* Body bytes: returns n, 0 (abort) or CURL_WRITEFUNC_PAUSE. */
    size_t (*on_data)(void *arg, const char *data, size_t n);
    /* The transfer ended; result is its CURLcode (CURLE_OK, or the one the
     * owner gave dp_upstream_finish, e.g. a deadline's timeout). The
     * easy handle is already released: the owner may start the next try.
     * Not a curl callback. Not called after dp_upstream_cancel. */
    void (*on_done)(void *arg, int result);
};

/* One try. The owner zeroes it once (dp_upstream_xfer_init); the fields
 * below the line are this module's. */
struct dp_upstream_xfer {
    const struct dp_upstream_cb *cb;
    void *arg;
    /* ---- */
    struct dp_upstream *up;     /* the multi it runs on while active */
    CURL *easy;                 /* NULL when no transfer is active */
    struct curl_slist *headers; /* request headers of this try */
    int64_t started_ms;
    int headers_done;           /* a final (non-1xx) header block arrived */
    int paused;                 /* the write callback returned PAUSE */
    int status;
    int64_t retry_after_ms;     /* -1 when absent */
    int remaining_zero;         /* x-ratelimit-remaining-requests/tokens: 0 */
    char content_type[128];
    char retry_after[32];       /* the header as received, for passing on */
    int sends;                  /* times curl sent the request: more than 1 when it
                                   re-sent it on a fresh connection after a
                                   reused one was reset (each one is a try) */
    char errbuf[CURL_ERROR_SIZE]; /* curl's words on a failed transfer (TLS reasons) */
};

/* Creates the multi handle of a worker. NULL when out of memory. */
struct dp_upstream *dp_upstream_new(struct dp_loop *loop);

/* Frees it; every transfer must be cancelled or done first. NULL: no-op. */
void dp_upstream_free(struct dp_upstream *up);

/* Prepares an idle xfer reporting to cb with arg (borrowed, must outlive
 * the xfer's transfers). */
void dp_upstream_xfer_init(struct dp_upstream_xfer *x, const struct dp_upstream_cb *cb, void *arg);

/* What one try sends. Strings are borrowed until the transfer ends. */
struct dp_upstream_req {
    const char *url;
    const char *method;
    const char *body; /* NULL: no body */
    size_t body_len;
    struct curl_slist *headers; /* taken over (freed with the transfer) */
    int64_t connect_timeout_ms; /* 0: 10 s. There is no total limit: the
                                   owner keeps its own deadlines (try.c) */
    const struct dp_upstream_tls *tls; /* the endpoint's TLS material, or NULL */
};

/* Starts a try on x (which must be idle). On success the transfer runs
 * from the loop and ends with x->cb->on_done. Returns 0, or -1 (out of
 * memory; headers freed, nothing started). */
int dp_upstream_start(struct dp_upstream *up, struct dp_upstream_xfer *x,
                      const struct dp_upstream_req *q);

/* Stops x's transfer without reporting it
 * (client gone, shutdown). No-op when none is active. Not from inside a
 * curl callback. */
void dp_upstream_cancel(struct dp_upstream_xfer *x);

/* Ends x's transfer now and reports it as ended with result (the owner's
 * deadline, try.c; a test's fake end of transfer). No-op when idle. Not
 * from inside a curl callback. */
void dp_upstream_finish(struct dp_upstream_xfer *x, int result);

/* Resumes a transfer whose write callback paused it. May call the write
 * callback before returning. Not from inside a curl callback. */
void dp_upstream_unpause(struct dp_upstream_xfer *x);

/* Number of transfers in flight (for tests and shutdown). */
int dp_upstream_active(const struct dp_upstream *up);

#endif
