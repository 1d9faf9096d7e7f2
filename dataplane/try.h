/* One try of a request on one target (SPEC 3.1 steps 4-5): building what it
 * sends (forward.h), running it (upstream.h), judging its response headers
 * (try_policy.h's rules, then the router: repeat on the same target, next
 * target, read whole, or stream), and keeping the last response of a
 * failed try for when every target fails.
 *
 * A request has one struct dp_try, reused target after target. The try
 * owns its transfer and the transfer's deadlines, all on one loop timer
 * (the watch):
 *   - no response headers within the header deadline (the failover
 *     policy's requestTimeoutMs, else the endpoint's timeoutMs);
 *   - a stream: no first event within firstTokenTimeoutMs of the headers;
 *   - then no bytes for the idle time (streamIdleTimeoutMs once a stream's
 *     first event went out, when set; else the endpoint's timeoutMs). A
 *     transfer we paused (slow client) is not idle. There is no total
 *     limit: a long stream runs as long as bytes keep coming.
 * A passed deadline ends the transfer as CURLE_OPERATION_TIMEDOUT with
 * t->timed_out set. It also owns the pause before a same-target repeat (a
 * second loop timer, never a blocked worker), after which it calls the
 * owner's `again`. It reports to its owner through the upstream callbacks
 * the owner registered (dp_try_init): the owner's state machine
 * (request.c) decides what each report means. Worker thread. */
#ifndef DP_TRY_H
#define DP_TRY_H

#include "common/buf.h"
#include "config.h"
#include "forward.h"
#include "router.h"
#include "try_policy.h"
#include "upstream.h"

struct dp_loop;
struct dp_timer;

#include <stdint.h>

#define DP_TRY_LAST_MAX (1024 * 1024)      /* failed tries: body kept up to this */

/* The response being read whole, or the last failed one, and how the last
 * try without a response failed. */
struct dp_last {
    int status;
    char ctype[128];
    char retry_after[32]; /* also the limiter's Retry-After of a 429 */
    struct gw_buf body;
    int complete; /* a failed response was read whole: answer it if all fail */
    int fail;     /* DP_OUTCOME_* of the last try without a response, or -1 */
    int over;     /* DP_TRY_OVER_*: why a response read whole was cut */
    char tls_error[CURL_ERROR_SIZE + 96]; /* why its TLS handshake failed, or "" */
};

enum dp_try_over {
    DP_TRY_OVER_NONE,   /* not cut */
    DP_TRY_OVER_CAP,    /* over the per-response cap (bufbudget.h): 502 */
    DP_TRY_OVER_BUDGET  /* the worker's budget was spent: 503 */
};

struct dp_try {
    const struct dp_target *target; /* NULL before the first try */
    struct dp_upstream_xfer xfer;
    struct dp_last last;
    struct dp_loop *loop;
    void (*again)(void *arg); /* the pause before a repeat is over */
    void *arg;
    struct dp_timer *watch;   /* the running transfer's deadline, or NULL */
    int64_t watch_due;        /* ... when it fires */
    struct dp_timer *pause;   /* the pause before a same-target repeat, or NULL */
    struct dp_again_state again_st; /* repeats on target so far */
    int64_t again_ms;         /* >= 0: the failed response being read is repeated after this */
    int64_t header_ms;        /* deadlines of the running transfer (see above) */
    int64_t idle_ms;
    int64_t first_token_ms;   /* 0: none */
    int64_t stream_idle_ms;   /* 0: idle_ms */
    int64_t began_ms;         /* when this try started */
    int64_t headers_at_ms;
    int64_t last_read_ms;
    int streaming;            /* the response is relayed as a stream */
    int first_event;          /* ... and its first event went to the relay */
    int timed_out;            /* the watch ended the transfer */
    int resends_seen;         /* curl's re-sends already reported (dp_try_resends) */
    size_t held;              /* budget bytes last.body holds (bufbudget.h) */
};

/* Prepares t; its transfers report to cb with arg, its deadlines run on
 * loop, and again(arg) is called when a pause before a same-target repeat
 * is over (from a loop timer: the owner starts the repeat). */
void dp_try_init(struct dp_try *t, const struct dp_upstream_cb *cb, void *arg,
                 struct dp_loop *loop, void (*again)(void *arg));

/* Stops a transfer still running, its deadline and a pending pause. */
void dp_try_stop(struct dp_try *t);

/* Stops everything (dp_try_stop) and frees what t holds. */
void dp_try_cleanup(struct dp_try *t);

/* The transfer ended (the owner's on-done): stops its deadline. */
void dp_try_ended(struct dp_try *t);

/* How many more times curl re-sent the running try's request on a fresh
 * connection since the last call (upstream.h, sends): each is a try. */
int dp_try_resends(struct dp_try *t);

/* Body bytes arrived (for the idle deadline). */
void dp_try_read(struct dp_try *t, int64_t now_ms);

/* The stream's first event went to the relay: the first-token deadline is
 * met, the stream idle deadline applies from here. */
void dp_try_first_event(struct dp_try *t);

/* Waits ms on a loop timer, then calls the owner's again. */
int dp_try_pause(struct dp_try *t, int64_t ms);

/* What a try sends, besides the target (all borrowed). */
struct dp_try_req {
    const char *method;
    const struct dp_operation *op;
    const char *query;              /* re-encoded, or NULL */
    const struct curl_slist *fwd;   /* the caller's forwarded header lines */
    const char *id;                 /* X-Request-Id */
    struct dp_fwd_body body;
    struct gw_buf *send;            /* where a rewritten body goes */
    int64_t header_ms;              /* header deadline; 0: the endpoint's timeoutMs */
    int64_t first_token_ms;         /* streams: first event deadline; 0: none */
    int64_t stream_idle_ms;         /* streams after the first event; 0: timeoutMs */
};

enum dp_try_start {
    DP_TRY_STARTED,        /* the transfer runs; it ends with the on-done callback */
    DP_TRY_MISSING_SECRET, /* the endpoint's secret does not exist (502) */
    DP_TRY_NO_MODEL,       /* the endpoint takes the model in its URL, none given (400) */
    DP_TRY_BAD_MODEL,      /* ... and the model fails gw_rule_path_segment (400) */
    DP_TRY_NOMEM           /* out of memory building or starting it (503) */
};

/* Starts a try to target on up (a repeat when target is the last try's:
 * its repeat counts carry on). */
enum dp_try_start dp_try_start(struct dp_try *t, struct dp_upstream *up,
                               const struct dp_target *target, const struct dp_try_req *q);

enum dp_try_verdict {
    DP_TRY_DISCARD, /* a failed response: read it (kept as the last), then the
                       same target again after t->again_ms (>= 0), else the next */
    DP_TRY_BUFFER,  /* the response to return: read it whole */
    DP_TRY_STREAM   /* the response to return, relayed as it arrives */
};

/* The try's final response headers arrived (x): a failure the policy
 * repeats on the same target is not reported (t->again_ms set); any other
 * outcome is reported to the router. Records the response in t->last.
 * may_stream: the caller asked for a stream. */
enum dp_try_verdict dp_try_headers(struct dp_try *t, const struct dp_upstream_xfer *x,
                                   struct dp_route *route, int64_t now_ms, int may_stream);

/* A response read whole (t->last, status 400) whose error code is
 * context_length_exceeded fails the try (a larger model may take it):
 * reports that to the router and returns 1 when the next target should be
 * tried; 0 when the response is the answer. */
int dp_try_context_length(struct dp_try *t, struct dp_route *route, int64_t now_ms);

/* Body bytes of a response read whole (discard 0: all of it or fail; the
 * return is n or 0 to abort) or of a failed one (discard 1: what fits is
 * kept, the rest dropped; returns n). */
size_t dp_try_keep(struct dp_try *t, int discard, const char *data, size_t n);

/* Frees the body kept in t->last and gives its budget back. */
void dp_try_body_drop(struct dp_try *t);

/* The body kept in t->last, taken over by the caller (len bytes, NULL when
 * empty; gw_free it), with *held the budget bytes it still holds (give them
 * back with dp_bufbudget_give, or through dp_bufbudget_hold). */
char *dp_try_body_take(struct dp_try *t, size_t *len, size_t *held);

enum dp_try_next {
    DP_TRY_END,   /* no other try: answer with what the tries left */
    DP_TRY_NEXT,  /* try the next target */
    DP_TRY_AGAIN  /* the same target again after a pause (dp_try_pause armed) */
};

/* The try ended without response headers, or a stream before its first
 * event (result: its CURLcode): records how in t->last.fail; a failure the
 * policy repeats arms the pause, any other is reported to the router. */
enum dp_try_next dp_try_failed(struct dp_try *t, int result, struct dp_route *route,
                               int64_t now_ms);

#endif
