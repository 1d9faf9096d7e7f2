/* Suspensions of targets (SPEC 3.1 step 4), and the other routing state
 * shared by all workers and carried over config reloads.
 *
 * One struct dp_suspensions per data-plane process. It holds, by stable key,
 * the mutable part of routing that must survive a reload: each load-balancing
 * policy's request sequence (key: API id + policy id + environment) and each
 * target's suspension deadline (key: API id + environment + model +
 * endpoint id). Entries are found or created only by dp_config_compile (under
 * the state's mutex, never per request); requests then touch them through
 * the pointers the compiled config holds, with atomics only, so no lock is
 * taken on the request path. Entries of targets that disappear are kept
 * (bounded by what configs ever named) and reused if the target comes back. */
#ifndef DP_SUSPENSION_H
#define DP_SUSPENSION_H

#include <stdatomic.h>
#include <stdint.h>

struct dp_target_state {
    _Atomic int64_t suspended_until_ms; /* monotonic ms; <= now: available */
    /* For the modelmux_target_suspended metric. */
    char *api_name;
    char *model;
    char *endpoint_name;
};

struct dp_lb_state {
    atomic_uint_fast64_t seq; /* requests routed by this policy so far */
};

struct dp_suspensions;

/* Creates an empty state. NULL on out of memory. */
struct dp_suspensions *dp_suspensions_new(void);
void dp_suspensions_free(struct dp_suspensions *st);

/* Finds or creates the entry for key (copied). Thread-safe (mutex); for
 * config compile only. NULL on out of memory. Labels are updated to the
 * latest names given. */
struct dp_target_state *dp_suspensions_target(struct dp_suspensions *st, const char *key,
                                        const char *api_name, const char *model,
                                        const char *endpoint_name);
struct dp_lb_state *dp_suspensions_lb(struct dp_suspensions *st, const char *key);

/* Calls fn for every target entry (for /metrics). Takes the mutex. */
void dp_suspensions_foreach_target(struct dp_suspensions *st,
                             void (*fn)(const struct dp_target_state *t, void *arg), void *arg);

/* Whether t is suspended at now_ms. */
static inline int dp_target_suspended(const struct dp_target_state *t, int64_t now_ms)
{
    return atomic_load_explicit(&t->suspended_until_ms, memory_order_relaxed) > now_ms;
}

/* Suspends t until now_ms + ms (never shortens an existing suspension). */
void dp_target_suspend(struct dp_target_state *t, int64_t now_ms, int64_t ms);

#endif
