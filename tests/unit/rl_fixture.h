/* Test helper for the rate-limiter unit tests: one limiter with one worker
 * attached to its own event loop, as a data-plane worker has. Included by
 * test_dp_ratelimit.c and test_dp_rl_redis.c only. */
#ifndef MM_RL_FIXTURE_H
#define MM_RL_FIXTURE_H

#include "common/err.h"
#include "dataplane/loop.h"
#include "dataplane/ratelimit.h"

struct rl_fixture {
    struct dp_rl *rl;
    struct dp_loop *loop;
    struct dp_rl_worker *w;
};

/* redis_url NULL: local counters only. */
static void rl_fixture_open(struct rl_fixture *f, const char *redis_url)
{
    struct gw_err err;
    f->rl = dp_rl_new(redis_url, &err);
    f->loop = dp_loop_new();
    f->w = dp_rl_worker_new(f->rl, f->loop);
}

static void rl_fixture_close(struct rl_fixture *f)
{
    dp_rl_worker_free(f->w);
    dp_loop_free(f->loop);
    dp_rl_free(f->rl);
}

#endif
