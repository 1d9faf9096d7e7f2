/* One gateway request: SPEC 3.1 from the complete request body to the
 * response, as two explicit state machines (curl's lib/multi.c mstate()).
 *
 * The client side (the MHD connection, reached through struct
 * dp_client_ops):
 *
 *   READING --body read, waiting--> PARKED --answer queued--> ANSWERING --MHD done--> DONE
 *      \---------------- answer queued at once ------------------^
 *
 * The upstream side (the limiter's decision and the tries, through
 * ratelimit.h and upstream.h):
 *
 *   IDLE --limiter--> ADMITTING --decision--> IDLE --try--> WAITING --final headers--> BUFFERING
 *     \--no limiter: try----------------------------------^   |  \--failed try--> DISCARDING
 *                                         next target (before |  \--2xx stream--> STREAMING
 *                                   the first event) <---------+------------------------+
 *                 same target after a pause:  PAUSED --timer--> WAITING
 *   any state --answer decided (response, 404, 401, 429, 5xx...), stream ended--> DONE
 *
 * A stream commits late: its response headers go to the client with its
 * first event, so any failure before that is a failed try that moves on.
 * After it, a break (cut, idle, upstream error event) ends the stream with
 * the stream_interrupted event (stream_break.h), unless the policy
 * continues it (continuation.h): then the next target's try runs
 * (WAITING...) while the client side stays ANSWERING, and its events go
 * into the same relay.
 *
 * ADMITTING means "the limiter's callback is still due": a request is
 * never freed, and the upstream side never enters DONE, before it ran.
 *
 * Each side changes only through its setter (set_client / set_upstream in
 * request.c), which logs the transition (MODELMUX_DEBUG=1) and runs the
 * state's on-enter action: entering PARKED suspends the connection and
 * watches it for hang-ups; entering ANSWERING counts the request and
 * resumes the connection; entering client DONE ends the upstream side;
 * entering upstream DONE cancels the transfer.
 *
 * The request is freed when both sides are DONE, never inside a callback:
 * MHD's completed callback and the transfer's end only change states and
 * queue the request's deferred "pump" (dp_loop_defer), which also does MHD
 * resume, curl unpause and stream start in the loop's before-sleep phase.
 *
 * Who calls: the listener (the dp_request_* entry points below, and the
 * dp_client_ops it implements), the worker (dp_request_abort at shutdown);
 * the request calls down into admit.c, try.c (forward.c, upstream.c),
 * respond.c, relay.c, router.h, ratelimit.h and loop.h, and up only through
 * struct dp_client_ops and struct dp_req_env_cb. One worker's thread. */
#ifndef DP_REQUEST_H
#define DP_REQUEST_H

#include "admit.h"
#include "body.h"
#include "common/buf.h"
#include "common/list.h"
#include "config.h"
#include "continuation.h"
#include "forward.h"
#include "ratelimit.h"
#include "relay.h"
#include "reqid.h"
#include "router.h"
#include "try.h"
#include "trylog.h"
#include "upstream.h"

#include <stdint.h>

struct dp_loop;
struct dp_metrics_shard;
struct dp_reply;
struct dp_request;

/* The client side's states. If you add one, add its name to
 * dp_client_state_names[] below and its on-enter action (request.c). */
enum dp_client_state {
    DP_CLIENT_READING,   /* MHD reads the request's headers and body */
    DP_CLIENT_PARKED,    /* body read; connection suspended while the limiter or
                            the upstream decides (watched for hang-ups) */
    DP_CLIENT_ANSWERING, /* our response is queued; MHD sends it (a stream's
                            reader may park the connection for data) */
    DP_CLIENT_DONE       /* MHD completed the request: the connection is gone */
};
#define DP_CLIENT_STATES 4
static const char *const dp_client_state_names[DP_CLIENT_STATES] = {
    [DP_CLIENT_READING] = "READING",
    [DP_CLIENT_PARKED] = "PARKED",
    [DP_CLIENT_ANSWERING] = "ANSWERING",
    [DP_CLIENT_DONE] = "DONE",
};

/* The upstream side's states. If you add one, add its name to
 * dp_upstream_state_names[] below and its on-enter action (request.c). */
enum dp_upstream_state {
    DP_UPSTREAM_IDLE,       /* nothing asked yet (the body is being read) */
    DP_UPSTREAM_ADMITTING,  /* the rate limiter's decision is pending */
    DP_UPSTREAM_WAITING,    /* a try is in flight, no response headers yet */
    DP_UPSTREAM_BUFFERING,  /* a final response: reading its body whole */
    DP_UPSTREAM_DISCARDING, /* a failed try's response: reading its body (kept as
                               the last response), then the next target */
    DP_UPSTREAM_STREAMING,  /* relaying a 2xx stream as it arrives (its headers go
                               to the client with its first event) */
    DP_UPSTREAM_PAUSED,     /* a failed try waits (loop timer) before its repeat on
                               the same target */
    DP_UPSTREAM_DONE        /* no transfer and no callback pending */
};
#define DP_UPSTREAM_STATES 8
static const char *const dp_upstream_state_names[DP_UPSTREAM_STATES] = {
    [DP_UPSTREAM_IDLE] = "IDLE",
    [DP_UPSTREAM_ADMITTING] = "ADMITTING",
    [DP_UPSTREAM_WAITING] = "WAITING",
    [DP_UPSTREAM_BUFFERING] = "BUFFERING",
    [DP_UPSTREAM_DISCARDING] = "DISCARDING",
    [DP_UPSTREAM_STREAMING] = "STREAMING",
    [DP_UPSTREAM_PAUSED] = "PAUSED",
    [DP_UPSTREAM_DONE] = "DONE",
};

/* How the request reaches its client connection (implemented by the
 * listener over MHD; by a fake in the unit tests). ctx is the connection's.
 * None of these may call back into the request synchronously, except
 * suspend, which may report an earlier hang-up (dp_request_hangup). */
struct dp_client_ops {
    /* A request header's value (case-insensitive name), or NULL. */
    const char *(*header)(void *ctx, const char *name);
    /* Calls fn for each query argument (headers 0) or header (headers 1)
     * until fn returns -1; value may be NULL. */
    dp_each_fn each;
    /* Queues rep (taking its body) and returns 0, or -1 when no response
     * could be built (nothing queued, rep untouched). */
    int (*answer)(void *ctx, struct dp_reply *rep);
    void (*suspend)(void *ctx);   /* idempotent; watches for hang-ups meanwhile */
    void (*resume)(void *ctx);    /* idempotent; has MHD run for it */
    int (*suspended)(void *ctx);  /* 1 while suspended */
    /* A hang-up while MHD still reads the body: see listener.c. */
    void (*reading_hangup)(void *ctx);
    /* The client left: shut the socket down so MHD fails what it writes. */
    void (*abandon)(void *ctx);
};

/* How the request reaches its worker. */
struct dp_req_env_cb {
    /* The current config (borrowed; NULL before the first), newest first. */
    struct dp_config *(*config)(void *owner);
};

/* What a request needs of its worker: a small environment, not the worker. */
struct dp_req_env {
    struct dp_loop *loop;
    struct dp_upstream *up;
    struct dp_rl_worker *rlw;
    struct dp_metrics_shard *metrics;
    struct dp_jwt_cache *jwt; /* verified JWT access tokens (jwt_cache.h) */
    struct dp_accesslog *alog; /* the worker's access-log buffer (NULL: unbuffered) */
    int index;              /* the worker's, for request ids */
    uint64_t seq;           /* request counter, for request ids */
    struct gw_list requests; /* live requests (dp_request.link) */
    size_t nrequests;
    const struct dp_req_env_cb *cb;
    void *owner;
};

/* Work the deferred pump does (bits of dp_request.pump). */
#define DP_PUMP_RESUME 1u  /* the stream's reader waits and data came: resume */
#define DP_PUMP_UNPAUSE 2u /* curl_easy_pause(CONT) */
#define DP_PUMP_STREAM 4u  /* queue the streaming response */
#define DP_PUMP_REAP 8u    /* free when both sides are done */
#define DP_PUMP_HANGUP 16u /* the client socket reported a hang-up: act on it */

struct dp_request {
    struct gw_list link; /* env->requests */
    struct dp_req_env *env;
    const struct dp_client_ops *cops;
    void *cctx; /* NULL once the connection let go (client DONE) */
    enum dp_client_state client;
    enum dp_upstream_state upstream;
    unsigned pump;      /* DP_PUMP_* bits pending */
    int pump_scheduled; /* one deferred pump call queued */
    int client_error;   /* MHD ended it with an error, or the client left */
    int client_gone;    /* ... before any answer: logged and counted as 499 */
    int usage_settled;  /* token metrics and the limiter have the usage */
    int body_too_big;
    int64_t start_ms;
    char id[DP_REQID_SIZE]; /* x-request-id */
    char method[16];
    char *path; /* owned copy for the access log */

    struct dp_config *cfg; /* the snapshot this request runs on (one reference) */
    struct dp_admission adm;
    struct gw_buf body;             /* the caller's body */
    struct gw_buf send;             /* the body of the current try when rewritten */
    char *query;                    /* "?a=b" re-encoded, or NULL */
    struct curl_slist *fwd_headers; /* the caller's headers to forward */

    int has_rl; /* the API has a rate limit: rl holds its decision */
    struct dp_rl_result rl;

    struct dp_route route;
    struct dp_try try; /* the current (or last) target's try */
    struct dp_relay relay; /* STREAMING */
    struct dp_usage usage;

    int status; /* what the client got (0: nothing yet), for metrics and log */
    int64_t upstream_ms;
    struct dp_trylog tries; /* every try, for the access log */
    int try_open;           /* the current try is not in tries yet */
    int stream_broken;      /* the upstream broke the stream after its first event */
    int usage_estimated;    /* usage is the estimate of an abandoned stream */
    struct dp_cont cont;    /* mid-stream continuation (continuation.h) */
    /* The try whose first event committed the stream, and the tries up to
     * it: what the stream's headers say even when they go out after a
     * continuation began. */
    const struct dp_target *commit_target;
    int commit_attempts;
};

/* Creates the request for a new MHD request (first access-handler call) on
 * the connection ctx reached through ops: copies method and url, takes a
 * reference to the current config. NULL when out of memory. */
struct dp_request *dp_request_new(struct dp_req_env *env, const struct dp_client_ops *ops,
                                  void *ctx, const char *method, const char *url);

/* First call: header checks that need no body (Content-Length over the
 * limit: 413 at once). */
/* Refuses the request at its headers (framing, header or URL bounds) in
 * the OpenAI error shape, with "Connection: close": nothing after the
 * headers is read or served. */
void dp_request_refuse(struct dp_request *r, int status, const char *code, const char *message);
void dp_request_headers(struct dp_request *r);

/* A piece of the request body (bounded; over DP_BODY_MAX answers 413). */
void dp_request_body(struct dp_request *r, const char *data, size_t n);

/* The body is complete: runs SPEC 3.1 from step 1. Either answers at once
 * or parks the connection and continues from the loop. */
void dp_request_run(struct dp_request *r);

/* The client socket reported a hang-up; handled from the pump. */
void dp_request_hangup(struct dp_request *r);

/* MHD's request-completed callback (error: a termination code other than
 * "completed OK"). The connection is gone for the request from here on. */
void dp_request_closed(struct dp_request *r, int error);

/* Worker shutdown after the drain deadline: stops the upstream side and
 * answers 503 (or ends a stream), resuming the connection. */
void dp_request_abort(struct dp_request *r);

/* Frees a request that outlived its listener (worker teardown only). */
void dp_request_drop(struct dp_request *r);

#endif
