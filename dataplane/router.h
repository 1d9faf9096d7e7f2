/* Routing: which (model, endpoint) a request goes to, and what to do after
 * each upstream try (SPEC 3.1 step 4).
 *
 * A request owns one struct dp_route (embedded, no allocation). The request
 * state machine calls dp_route_begin once, then loops:
 *
 *     t = dp_route_next(&r, now, &why)      NULL: stop, answer per `why`
 *     ... send to t->endpoint with model t->model ...
 *     v = dp_route_report(&r, t, &outcome, now)
 *     DP_VERDICT_DONE: return this upstream response to the caller
 *     DP_VERDICT_RETRY: try dp_route_next again (only before the first event
 *                       was sent to the caller)
 *
 * Policies:
 * - load balancing (round robin / weighted): the policy's shared sequence is
 *   advanced atomically (one fetch_add per request), the schedule entry it
 *   lands on is taken unless suspended or already tried, else the following
 *   entries. Any failed try moves on to the next one (each target at most
 *   once); every target suspended -> NULL with DP_ROUTE_ALL_SUSPENDED.
 * - failover: the chain whose target model equals the request's model; try
 *   the target then the fallbacks in order, skipping suspended ones.
 * Which outcomes fail a try and which suspend its target is try_policy.h's
 * rule (429, 5xx, connection errors and timeouts suspend; 401/403/404 and
 * other 4xx move on without suspending). Same-target repeats happen before
 * a try is reported here (try.c): a reported failure is final for the
 * target.
 * - no policy (or a failover policy whose models don't match the request):
 *   the environment's first endpoint, model unchanged.
 * Any 2xx whose x-ratelimit-remaining-requests/tokens is 0 suspends its
 * target (the response still goes back). Suspension lasts the policy's
 * suspend time, or the upstream's Retry-After when longer.
 * No locks: suspension and sequence updates are atomics (suspension.h). */
#ifndef DP_ROUTER_H
#define DP_ROUTER_H

#include "config.h"
#include "try_policy.h"

#include <stdint.h>

#define DP_ROUTE_MAX_TRIES 64 /* targets one request may try */

enum dp_route_end {
    DP_ROUTE_NONE,           /* a target was returned */
    DP_ROUTE_NO_ENDPOINT,    /* the environment has no endpoint (503) */
    DP_ROUTE_ALL_SUSPENDED,  /* every target is suspended (503) */
    DP_ROUTE_EXHAUSTED       /* every target was tried: answer with the last
                                upstream response, or 502/504 */
};

enum dp_verdict {
    DP_VERDICT_DONE, /* return this response to the caller */
    DP_VERDICT_RETRY /* try the next target */
};

enum dp_route_kind {
    DP_ROUTE_KIND_DIRECT,  /* no policy: first endpoint, model unchanged */
    DP_ROUTE_KIND_LB,      /* round robin / weighted round robin */
    DP_ROUTE_KIND_FAILOVER /* a failover chain */
};

struct dp_route {
    enum dp_route_kind kind;
    const struct dp_api *api;
    enum dp_env env;
    const struct dp_lb *lb;
    const struct dp_failover *failover;
    uint64_t seq;       /* LB: this request's sequence number */
    size_t step;        /* LB: schedule offset tried so far; FO: chain index */
    int attempts;       /* targets handed out */
    unsigned char tried[DP_ROUTE_MAX_TRIES]; /* LB: by target index */
    struct dp_target direct; /* DIRECT: the synthesized target */
};

/* Starts routing a request of api in env for operation target (NULL: as
 * if every policy routed it) whose body model is model (NULL when the body
 * has none). A round robin applies only to the targets in its "operations";
 * other operations go to the environment's first endpoint with the model
 * unchanged. Returns 0, or -1 with err (400) when a routing policy applies
 * and model is NULL. */
int dp_route_begin(struct dp_route *r, const struct dp_api *api, enum dp_env env,
                   const char *target, const char *model, struct gw_err *err);

/* The next target to try, or NULL with *why set. */
const struct dp_target *dp_route_next(struct dp_route *r, int64_t now_ms, enum dp_route_end *why);

/* The policy's SPEC revision 2 options (retries, deadlines, continuation);
 * the defaults (all off) when no routing policy applies. */
const struct gw_cfg_routing *dp_route_routing(const struct dp_route *r);

/* Records the outcome of a try of t (suspending it as the rules say) and
 * says whether to return it or try the next target. */
enum dp_verdict dp_route_report(struct dp_route *r, const struct dp_target *t,
                                const struct dp_outcome *o, int64_t now_ms);

#endif
