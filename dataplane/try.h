/* One try of a request on one target (SPEC 3.1 steps 4-5): building what it
 * sends (forward.h), running it (upstream.h), judging its response headers
 * with the router (retry on the next target, read whole, or stream), and
 * keeping the last response of a failed try for when every target fails.
 *
 * A request has one struct dp_try, reused target after target. The try
 * owns its transfer and the transfer's timers (the first-byte timeout);
 * per-try deadlines and same-target retries belong here too. It reports to
 * its owner through the upstream callbacks the owner registered
 * (dp_try_init): the owner's state machine (request.c) decides what each
 * report means. Worker thread. */
#ifndef DP_TRY_H
#define DP_TRY_H

#include "common/buf.h"
#include "config.h"
#include "forward.h"
#include "router.h"
#include "upstream.h"

#include <stdint.h>

#define DP_TRY_RESP_MAX (64 * 1024 * 1024) /* largest non-streamed upstream body */
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
};

struct dp_try {
    const struct dp_target *target; /* NULL before the first try */
    struct dp_upstream_xfer xfer;
    struct dp_last last;
};

/* Prepares t; its transfers report to cb with arg. */
void dp_try_init(struct dp_try *t, const struct dp_upstream_cb *cb, void *arg);

/* Stops a transfer still running and frees what t holds. */
void dp_try_cleanup(struct dp_try *t);

/* What a try sends, besides the target (all borrowed). */
struct dp_try_req {
    const char *method;
    const struct dp_operation *op;
    const char *query;              /* re-encoded, or NULL */
    const struct curl_slist *fwd;   /* the caller's forwarded header lines */
    const char *id;                 /* X-Request-Id */
    struct dp_fwd_body body;
    struct gw_buf *send;            /* where a rewritten body goes */
    int64_t first_byte_ms;          /* 0: none */
};

enum dp_try_start {
    DP_TRY_STARTED,        /* the transfer runs; it ends with the on-done callback */
    DP_TRY_MISSING_SECRET, /* the endpoint's secret does not exist (502) */
    DP_TRY_NO_MODEL,       /* the endpoint takes the model in its URL, none given (400) */
    DP_TRY_BAD_MODEL,      /* ... and the model fails gw_rule_path_segment (400) */
    DP_TRY_NOMEM           /* out of memory building or starting it (503) */
};

/* Starts a try to target on up. */
enum dp_try_start dp_try_start(struct dp_try *t, struct dp_upstream *up,
                               const struct dp_target *target, const struct dp_try_req *q);

enum dp_try_verdict {
    DP_TRY_DISCARD, /* a failed response: read it (kept as the last), then retry */
    DP_TRY_BUFFER,  /* the response to return: read it whole */
    DP_TRY_STREAM   /* the response to return, relayed as it arrives */
};

/* The try's final response headers arrived (x): reports the outcome to the
 * router and records the response in t->last. may_stream: the caller asked
 * for a stream. */
enum dp_try_verdict dp_try_headers(struct dp_try *t, const struct dp_upstream_xfer *x,
                                   struct dp_route *route, int64_t now_ms, int may_stream);

/* Body bytes of a response read whole (discard 0: all of it or fail; the
 * return is n or 0 to abort) or of a failed one (discard 1: what fits is
 * kept, the rest dropped; returns n). */
size_t dp_try_keep(struct dp_try *t, int discard, const char *data, size_t n);

/* The try ended without response headers (result: its CURLcode): records
 * how in t->last.fail and reports it to the router. Returns 1 when the
 * next target should be tried. */
int dp_try_failed(struct dp_try *t, int result, struct dp_route *route, int64_t now_ms);

#endif
