/* Smooth weighted round robin (balance.h). Built on the thread that
 * compiles a config; select() runs on any worker, reading only. */
#include "balance.h"

#include "common/alloc.h"

/* Fills b->schedule with nginx's smooth weighted round robin, unrolled over
 * one cycle: each step adds every weight to its current value, picks the
 * largest (first on ties), and subtracts the total from it. After sum(w)
 * steps every current value is back at 0, so the cycle repeats exactly and
 * each target appears exactly weight times per cycle, spread out evenly. */
static int swrr_init(struct dp_balancer *b, const int *weights, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (size_t)weights[i];
    int64_t *cur = gw_calloc(n, sizeof(*cur));
    uint16_t *schedule = gw_malloc(total * sizeof(*schedule));
    if (!cur || !schedule) {
        gw_free(cur);
        gw_free(schedule);
        return -1;
    }
    for (size_t s = 0; s < total; s++) {
        size_t best = 0;
        for (size_t i = 0; i < n; i++) {
            cur[i] += weights[i];
            if (cur[i] > cur[best])
                best = i;
        }
        cur[best] -= (int64_t)total;
        schedule[s] = (uint16_t)best;
    }
    gw_free(cur);
    b->ops = &dp_balance_swrr;
    b->ntargets = n;
    b->schedule = schedule;
    b->schedule_len = total;
    return 0;
}

static long swrr_select(const struct dp_balancer *b, uint64_t seq, size_t *step,
                        dp_balance_skip_fn skip, void *arg)
{
    /* Cheap check first, so that a request finding everything skipped does
     * not walk a schedule of up to 64000 entries. */
    int any = 0;
    for (size_t i = 0; i < b->ntargets && !any; i++)
        any = !skip(i, arg);
    if (!any)
        return -1;
    /* Every target occurs in every cycle, so one cycle from where this
     * request stopped finds it. */
    for (size_t j = 0; j < b->schedule_len; j++) {
        size_t k = *step + j;
        size_t idx = b->schedule[(seq + k) % b->schedule_len];
        if (skip(idx, arg))
            continue;
        *step = k + 1;
        return (long)idx;
    }
    return -1;
}

static void swrr_cleanup(struct dp_balancer *b)
{
    gw_free(b->schedule);
    b->schedule = NULL;
    b->schedule_len = 0;
}

const struct dp_balance_ops dp_balance_swrr = {"swrr", swrr_init, swrr_select, swrr_cleanup};
