/* Load-balancing strategies (after h2o's include/h2o/balancer.h): which of
 * n weighted targets request number seq takes, skipping the ones the caller
 * rules out (already tried, suspended).
 *
 * A strategy works on plain arrays (weights in, indexes out), knows nothing
 * of config or JSON, and is unit-tested alone (tests/unit/test_dp_balance.c).
 * Its state is built once per compiled config and then read-only: the only
 * per-request inputs are the policy's sequence number (one atomic fetch-add
 * per request, done by the router) and the request's own step counter, so
 * any number of workers share one balancer with no lock.
 *
 * One strategy today, smooth weighted round robin (nginx's algorithm,
 * exact shares per cycle: SPEC 3.1 step 4); round robin is the same with
 * every weight 1. */
#ifndef DP_BALANCE_H
#define DP_BALANCE_H

#include <stddef.h>
#include <stdint.h>

struct dp_balancer;

/* Says whether target idx must be skipped for this request. */
typedef int (*dp_balance_skip_fn)(size_t idx, void *arg);

struct dp_balance_ops {
    const char *name;
    /* Builds b for n targets with these weights (each >= 1, n >= 1).
     * 0, or -1 on out of memory (b then holds nothing to free). */
    int (*init)(struct dp_balancer *b, const int *weights, size_t n);
    /* The index of the next target for request seq, which has made *step
     * choices so far; skips indexes for which skip(idx, arg) is true.
     * Advances *step. -1 when every target is skipped. */
    long (*select)(const struct dp_balancer *b, uint64_t seq, size_t *step,
                   dp_balance_skip_fn skip, void *arg);
    /* Releases what init made. */
    void (*cleanup)(struct dp_balancer *b);
};

struct dp_balancer {
    const struct dp_balance_ops *ops;
    size_t ntargets;
    /* Smooth weighted round robin unrolled over one cycle: schedule[i] is
     * the index of the target of the i-th request of a cycle; schedule_len
     * = sum of weights. Request n takes schedule[n % schedule_len]. */
    uint16_t *schedule;
    size_t schedule_len;
};

/* Smooth weighted round robin. */
extern const struct dp_balance_ops dp_balance_swrr;

#endif
