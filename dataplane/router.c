/* Routing of one request over the compiled policies (router.h, SPEC 3.1
 * step 4): picks targets (load balancing through the policy's balancer,
 * balance.h; failover chains in order) and judges upstream outcomes.
 *
 * Owns nothing: a struct dp_route lives inside its request and points into
 * the request's config snapshot. Runs on the request's worker thread; the
 * only shared data it touches are the per-policy sequence and per-target
 * suspension deadlines in struct dp_suspensions, with atomics (no lock). */
#include "router.h"

#include "suspension.h"

#include <string.h>

/* The tried set is a bit per target index; DP_ROUTE_MAX_TRIES bytes hold
 * every index a policy may have (DP_CONFIG_MAX_TARGETS). */
_Static_assert(DP_ROUTE_MAX_TRIES * 8 >= DP_CONFIG_MAX_TARGETS, "tried set too small");

static int tried(const struct dp_route *r, size_t i)
{
    return r->tried[i / 8] & (1u << (i % 8));
}

static void mark_tried(struct dp_route *r, size_t i)
{
    r->tried[i / 8] |= (unsigned char)(1u << (i % 8));
}

static int suspended(const struct dp_target *t, int64_t now_ms)
{
    return t->state && dp_target_suspended(t->state, now_ms);
}

/* 1 when the load-balancing policy routes operation target (its
 * "operations", SPEC 2.2); a NULL target is routed. */
static int lb_routes(const struct dp_lb *lb, const char *target)
{
    if (!target)
        return 1;
    for (size_t i = 0; i < lb->noperations; i++)
        if (strcmp(lb->operations[i], target) == 0)
            return 1;
    return 0;
}

int dp_route_begin(struct dp_route *r, const struct dp_api *api, enum dp_env env,
                   const char *target, const char *model, struct gw_err *err)
{
    memset(r, 0, sizeof(*r));
    r->api = api;
    r->env = env;
    /* A round robin routes only its operations: an embeddings call through
     * an API with a chat round robin goes to the first endpoint with its
     * own model. */
    const struct dp_lb *lb = api->lb[env] && lb_routes(api->lb[env], target) ? api->lb[env] : NULL;
    if ((lb || api->nfailovers[env] > 0) && !model)
        return gw_err_set(err, GW_ERR_INVALID, "missing_model", "model",
                          "the request body must name a model");
    if (lb && lb->ntargets > 0) {
        r->kind = DP_ROUTE_KIND_LB;
        r->lb = lb;
        /* One atomic step per request: over any run of requests, each
         * schedule cycle is handed out exactly once, whatever the threads. */
        r->seq = atomic_fetch_add_explicit(&r->lb->state->seq, 1, memory_order_relaxed);
        return 0;
    }
    for (size_t i = 0; model && i < api->nfailovers[env]; i++)
        if (strcmp(api->failovers[env][i].chain[0].model, model) == 0) {
            r->kind = DP_ROUTE_KIND_FAILOVER;
            r->failover = &api->failovers[env][i];
            return 0;
        }
    r->kind = DP_ROUTE_KIND_DIRECT;
    /* The model is only borrowed: the request's body outlives its route. */
    r->direct.model = (char *)model;
    r->direct.endpoint = api->first_endpoint[env];
    r->direct.weight = 1;
    r->direct.state = NULL;
    return 0;
}

/* Skip rule of the balancer for one request: tried or suspended. */
struct lb_skip {
    const struct dp_route *r;
    int64_t now_ms;
};

static int lb_skip(size_t idx, void *arg)
{
    const struct lb_skip *k = arg;
    return tried(k->r, idx) || suspended(&k->r->lb->targets[idx], k->now_ms);
}

static const struct dp_target *next_lb(struct dp_route *r, int64_t now_ms,
                                       enum dp_route_end *why)
{
    const struct dp_lb *lb = r->lb;
    struct lb_skip k = {r, now_ms};
    long idx = lb->bal.ops->select(&lb->bal, r->seq, &r->step, lb_skip, &k);
    if (idx >= 0) {
        mark_tried(r, (size_t)idx);
        r->attempts++;
        return &lb->targets[idx];
    }
    *why = r->attempts ? DP_ROUTE_EXHAUSTED : DP_ROUTE_ALL_SUSPENDED;
    return NULL;
}

static const struct dp_target *next_failover(struct dp_route *r, int64_t now_ms,
                                             enum dp_route_end *why)
{
    const struct dp_failover *f = r->failover;
    for (size_t i = r->step; i < f->nchain; i++) {
        if (suspended(&f->chain[i], now_ms))
            continue;
        r->step = i + 1;
        r->attempts++;
        return &f->chain[i];
    }
    r->step = f->nchain;
    *why = r->attempts ? DP_ROUTE_EXHAUSTED : DP_ROUTE_ALL_SUSPENDED;
    return NULL;
}

const struct dp_target *dp_route_next(struct dp_route *r, int64_t now_ms, enum dp_route_end *why)
{
    *why = DP_ROUTE_NONE;
    /* Bounds the upstream calls one request can cause (retry amplification). */
    if (r->attempts >= DP_ROUTE_MAX_TRIES) {
        *why = DP_ROUTE_EXHAUSTED;
        return NULL;
    }
    switch (r->kind) {
    case DP_ROUTE_KIND_LB:
        return next_lb(r, now_ms, why);
    case DP_ROUTE_KIND_FAILOVER:
        return next_failover(r, now_ms, why);
    case DP_ROUTE_KIND_DIRECT:
        break;
    }
    if (!r->direct.endpoint) {
        *why = DP_ROUTE_NO_ENDPOINT;
        return NULL;
    }
    if (r->attempts) {
        *why = DP_ROUTE_EXHAUSTED;
        return NULL;
    }
    r->attempts++;
    return &r->direct;
}

const struct gw_cfg_routing *dp_route_routing(const struct dp_route *r)
{
    static const struct gw_cfg_routing defaults; /* all zero: WSO2's behaviour */
    switch (r->kind) {
    case DP_ROUTE_KIND_LB:
        return &r->lb->routing;
    case DP_ROUTE_KIND_FAILOVER:
        return &r->failover->routing;
    case DP_ROUTE_KIND_DIRECT:
        break;
    }
    return &defaults;
}

enum dp_verdict dp_route_report(struct dp_route *r, const struct dp_target *t,
                                const struct dp_outcome *o, int64_t now_ms)
{
    int64_t susp;
    switch (r->kind) {
    case DP_ROUTE_KIND_LB:
        susp = r->lb->suspend_ms;
        break;
    case DP_ROUTE_KIND_FAILOVER:
        susp = r->failover->suspend_ms;
        break;
    default:
        return DP_VERDICT_DONE; /* no policy: nothing to suspend or retry */
    }
    enum dp_fail f = dp_fail_of(o);
    int ok2xx = o->kind == DP_OUTCOME_RESPONSE && o->status >= 200 && o->status < 300;
    if (t->state && (dp_fail_suspends(f) || (ok2xx && o->remaining_zero))) {
        if (o->retry_after_ms > susp)
            susp = o->retry_after_ms;
        dp_target_suspend(t->state, now_ms, susp);
    }
    return dp_fail_failed(f) ? DP_VERDICT_RETRY : DP_VERDICT_DONE;
}
