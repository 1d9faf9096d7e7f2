/* The tries of one request, as the access log and modelmux_tries_total
 * report them (SPEC 3.2): for each try its model, endpoint, outcome and
 * milliseconds. A request keeps the first DP_TRYLOG_MAX tries in full and
 * counts the rest. Pure bookkeeping; the request's worker thread. */
#ifndef DP_TRYLOG_H
#define DP_TRYLOG_H

#include <stdint.h>

#define DP_TRYLOG_MAX 16 /* tries listed in one access-log line */

/* How one try ended. If you add one, add its name to dp_try_outcome_names. */
enum dp_try_outcome {
    DP_TRYO_OK,        /* it answered (a response or a complete stream) */
    DP_TRYO_RETRIED,   /* it failed and was repeated on the same target */
    DP_TRYO_FAILED,    /* it failed and the request moved on or ended */
    DP_TRYO_TIMEOUT,   /* a deadline ended it */
    DP_TRYO_CONTINUED, /* its stream broke and another try continued it */
    DP_TRYO_COUNT
};
extern const char *const dp_try_outcome_names[DP_TRYO_COUNT];

struct dp_try_rec {
    const char *model;    /* borrowed from the request's config (or body) */
    const char *endpoint; /* borrowed from the request's config */
    enum dp_try_outcome outcome;
    int64_t ms;
};

struct dp_trylog {
    struct dp_try_rec rec[DP_TRYLOG_MAX];
    int n;     /* entries in rec */
    int total; /* tries recorded, listed or not */
};

/* Records a try (strings borrowed: they must outlive the log). */
void dp_trylog_add(struct dp_trylog *l, const char *model, const char *endpoint,
                   enum dp_try_outcome outcome, int64_t ms);

#endif
