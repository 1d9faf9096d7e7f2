/* A request's tries (see trylog.h). The request's worker thread. */
#include "trylog.h"

const char *const dp_try_outcome_names[DP_TRYO_COUNT] = {
    [DP_TRYO_OK] = "ok",
    [DP_TRYO_RETRIED] = "retried",
    [DP_TRYO_FAILED] = "failed",
    [DP_TRYO_TIMEOUT] = "timeout",
    [DP_TRYO_CONTINUED] = "continued",
};

void dp_trylog_add(struct dp_trylog *l, const char *model, const char *endpoint,
                   enum dp_try_outcome outcome, int64_t ms)
{
    l->total++;
    if (l->n >= DP_TRYLOG_MAX)
        return;
    l->rec[l->n++] = (struct dp_try_rec){model, endpoint, outcome, ms < 0 ? 0 : ms};
}
