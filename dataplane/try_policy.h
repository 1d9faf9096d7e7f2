/* Which failures do what (SPEC 3.1 step 4), in one place: how a try's
 * outcome is classified, whether that class fails the try, suspends its
 * target, may be repeated on the same target, and how long to wait first.
 *
 * Pure functions over a try's outcome and the routing policy's options
 * (struct gw_cfg_routing); the router (router.c) and the try (try.c) ask
 * here and never decide on a status themselves. Any thread (the jitter's
 * random state is per thread). */
#ifndef DP_TRY_POLICY_H
#define DP_TRY_POLICY_H

#include "common/config.h"

#include <stdint.h>

enum dp_outcome_kind {
    DP_OUTCOME_RESPONSE,      /* response headers arrived: see status */
    DP_OUTCOME_CONNECT_ERROR, /* refused, reset, DNS, TLS... before headers or the first event */
    DP_OUTCOME_TIMEOUT        /* the header or first-token deadline passed */
};

/* What one try came to, as the rules read it. */
struct dp_outcome {
    enum dp_outcome_kind kind;
    int status;             /* HTTP status when kind == RESPONSE */
    int64_t retry_after_ms; /* from Retry-After, -1 when absent */
    int remaining_zero;     /* x-ratelimit-remaining-requests/tokens == 0 */
    int context_length;     /* a 400 whose error code is context_length_exceeded */
    int tls;                /* CONNECT_ERROR that is a TLS handshake or certificate
                               failure: the same again cannot succeed */
};

/* The classes of SPEC 3.1 step 4. If you add one, update every function
 * below (a switch each). */
enum dp_fail {
    DP_FAIL_NONE,        /* the answer: 2xx, or the caller's own 400/405/413/422 */
    DP_FAIL_CONNECT,     /* connection error or reset: repeatable, suspends */
    DP_FAIL_TIMEOUT,     /* a deadline passed: never repeated, suspends */
    DP_FAIL_5XX_RETRY,   /* 500, 502, 503, 504: repeatable, suspends */
    DP_FAIL_5XX,         /* another 5xx: suspends */
    DP_FAIL_429,         /* 429: a short Retry-After is waited out once; suspends */
    DP_FAIL_CALLER       /* 401, 403, 404, other statuses, context_length_exceeded:
                            moves on, suspends nothing */
};

/* The class of o. */
enum dp_fail dp_fail_of(const struct dp_outcome *o);

/* 1 when the class fails the try (anything but DP_FAIL_NONE). */
int dp_fail_failed(enum dp_fail f);

/* 1 when a try of this class suspends its target (429, 5xx, connection
 * errors, timeouts). */
int dp_fail_suspends(enum dp_fail f);

/* Same-target repeats used so far by the current target's tries. */
struct dp_again_state {
    int retries;   /* repeats under `retries` (connection errors, 500/502/503/504) */
    int waited429; /* a 429's Retry-After was waited out once */
};

/* Whether a try that ended with o is repeated on the same target under the
 * policy options rt (NULL: the defaults, no repeat), updating st when it
 * is. Returns the pause before the repeat in ms (>= 0): 100-400 ms of
 * jitter for connection errors (not TLS failures: a certificate that did
 * not verify will not verify again) and 500/502/503/504 (up to rt->retries
 * times), the Retry-After of a 429 when at most rt->max_retry_after_wait_s
 * (once; 0 is off); or -1: no repeat, the try counts as failed (or answered). */
int64_t dp_again_after(const struct gw_cfg_routing *rt, struct dp_again_state *st,
                       const struct dp_outcome *o);

/* A random pause in [100, 400] ms. */
int64_t dp_again_jitter_ms(void);

/* 1 when a JSON error body (n bytes) carries error.code
 * "context_length_exceeded" (OpenAI's shape), so a larger model may take
 * the request. */
int dp_body_context_length(const char *body, size_t n);

#endif
