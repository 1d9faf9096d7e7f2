/* Unit tests of dataplane/ratelimit.c on local counters: window alignment
 * and Retry-After at minute/hour/day boundaries, the x-ratelimit-* values,
 * exact admission under 50 threads, token budgets, the tightest-token header
 * rule, per-application scope, roll-over. Time is passed explicitly (now_ms),
 * so roll-over needs no sleeping. Redis is covered by test_dp_rl_redis.c. */
#include "testhelp.h"

#include "rl_fixture.h"

#include "common/alloc.h"
#include "dataplane/loop.h"
#include "dataplane/ratelimit.h"

#include <pthread.h>
#include <stdatomic.h>

/* 2026-11-21T12:00:00Z: a whole day, hour and minute. */
#define T0_MS (1795262400LL * 1000)
#define MIN_MS (60LL * 1000)
#define HOUR_MS (3600LL * 1000)
#define DAY_MS (86400LL * 1000)

struct got {
    int calls;
    struct dp_rl_result res;
};

static void on_done(void *arg, const struct dp_rl_result *res)
{
    struct got *g = arg;
    g->calls++;
    g->res = *res;
}

static struct dp_ratelimit policy(enum dp_rl_unit unit, int per_app, int64_t requests,
                                  int64_t prompt, int64_t completion, int64_t total)
{
    struct dp_ratelimit p = {.policy_id = "p1",
                             .unit = unit,
                             .per_application = per_app,
                             .requests = requests,
                             .request_tokens = prompt,
                             .response_tokens = completion,
                             .total_tokens = total};
    return p;
}

/* Local decisions complete before dp_rl_admit returns. */
static struct dp_rl_result admit(struct rl_fixture *f, const struct dp_ratelimit *p, const char *api,
                                 const char *app, int64_t now_ms)
{
    struct got g = {0};
    dp_rl_admit(f->w, p, api, app, now_ms, on_done, &g);
    CHECK_INT(g.calls, 1);
    return g.res;
}

TEST("a limit of 5 answers remaining 4,3,2,1,0 then 429")
{
    struct rl_fixture f;
    rl_fixture_open(&f, NULL);
    struct dp_ratelimit p = policy(DP_RL_MINUTE, 0, 5, -1, -1, -1);
    for (int i = 4; i >= 0; i--) {
        struct dp_rl_result r = admit(&f, &p, "api-five", "app", T0_MS + 1000);
        CHECK_INT(r.limited, 0);
        CHECK_INT(r.limit_requests, 5);
        CHECK_INT(r.remaining_requests, i);
        CHECK_INT(r.limit_tokens, -1);
        CHECK_INT(r.remaining_tokens, -1);
    }
    struct dp_rl_result r = admit(&f, &p, "api-five", "app", T0_MS + 1000);
    CHECK_INT(r.limited, 1);
    CHECK_INT(r.remaining_requests, 0);
    CHECK_INT(r.retry_after_s, 59);
    rl_fixture_close(&f);
}

TEST("windows align to the UTC minute, hour and day; retry-after at boundaries")
{
    struct rl_fixture f;
    rl_fixture_open(&f, NULL);
    struct dp_ratelimit m = policy(DP_RL_MINUTE, 0, 0, -1, -1, -1);
    struct dp_ratelimit h = policy(DP_RL_HOUR, 0, 0, -1, -1, -1);
    struct dp_ratelimit d = policy(DP_RL_DAY, 0, 0, -1, -1, -1);
    /* Exactly at the start of a window: the whole window remains. */
    CHECK_INT(admit(&f, &m, "a", NULL, T0_MS).retry_after_s, 60);
    CHECK_INT(admit(&f, &h, "a", NULL, T0_MS).retry_after_s, 3600);
    CHECK_INT(admit(&f, &d, "a", NULL, T0_MS).retry_after_s, 12 * 3600);
    /* Fractions round up; never below 1. */
    CHECK_INT(admit(&f, &m, "a", NULL, T0_MS + 30250).retry_after_s, 30);
    CHECK_INT(admit(&f, &m, "a", NULL, T0_MS + 59000).retry_after_s, 1);
    CHECK_INT(admit(&f, &m, "a", NULL, T0_MS + 59999).retry_after_s, 1);
    CHECK_INT(admit(&f, &h, "a", NULL, T0_MS + 59 * MIN_MS + 30000).retry_after_s, 30);
    CHECK_INT(admit(&f, &h, "a", NULL, T0_MS + 30 * MIN_MS).retry_after_s, 1800);
    CHECK_INT(admit(&f, &d, "a", NULL, T0_MS + 11 * HOUR_MS).retry_after_s, 3600);
    CHECK_INT(admit(&f, &d, "a", NULL, T0_MS - 12 * HOUR_MS).retry_after_s, 86400);
    CHECK_INT(admit(&f, &d, "a", NULL, T0_MS - 12 * HOUR_MS - 1).retry_after_s, 1);
    rl_fixture_close(&f);
}

TEST("a budget spent in one window is whole again in the next (hour and day roll-over)")
{
    struct rl_fixture f;
    rl_fixture_open(&f, NULL);
    struct dp_ratelimit h = policy(DP_RL_HOUR, 0, 2, -1, -1, -1);
    int64_t t = T0_MS + 59 * MIN_MS; /* 12:59 */
    CHECK_INT(admit(&f, &h, "roll", NULL, t).limited, 0);
    CHECK_INT(admit(&f, &h, "roll", NULL, t).limited, 0);
    CHECK_INT(admit(&f, &h, "roll", NULL, t + 59999).limited, 1);
    struct dp_rl_result r = admit(&f, &h, "roll", NULL, T0_MS + HOUR_MS); /* 13:00:00 */
    CHECK_INT(r.limited, 0);
    CHECK_INT(r.remaining_requests, 1);

    struct dp_ratelimit d = policy(DP_RL_DAY, 0, 1, -1, -1, -1);
    CHECK_INT(admit(&f, &d, "roll", NULL, T0_MS).limited, 0);
    CHECK_INT(admit(&f, &d, "roll", NULL, T0_MS + 11 * HOUR_MS + 59 * MIN_MS).limited, 1);
    CHECK_INT(admit(&f, &d, "roll", NULL, T0_MS + 12 * HOUR_MS).limited, 0);
    /* Minute and hour policies of the same API count apart. */
    struct dp_ratelimit m = policy(DP_RL_MINUTE, 0, 1, -1, -1, -1);
    CHECK_INT(admit(&f, &m, "roll", NULL, T0_MS).limited, 0);
    rl_fixture_close(&f);
}

struct race {
    struct dp_rl *rl;
    struct dp_ratelimit p;
    atomic_int admitted;
    atomic_int refused;
    atomic_int go;
};

static void *race_thread(void *arg)
{
    struct race *rc = arg;
    struct dp_loop *loop = dp_loop_new();
    struct dp_rl_worker *w = dp_rl_worker_new(rc->rl, loop);
    while (!atomic_load(&rc->go))
        ;
    for (int i = 0; i < 40; i++) {
        struct got g = {0};
        dp_rl_admit(w, &rc->p, "race-api", "app", T0_MS + 5000, on_done, &g);
        if (g.calls == 1 && !g.res.limited)
            atomic_fetch_add(&rc->admitted, 1);
        else
            atomic_fetch_add(&rc->refused, 1);
    }
    dp_rl_worker_free(w);
    dp_loop_free(loop);
    return NULL;
}

TEST("50 concurrent callers: a budget of N admits exactly N")
{
    static const int budgets[] = {1, 37, 1000, 1999};
    for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
        struct gw_err err;
        struct race rc;
        memset(&rc, 0, sizeof(rc));
        rc.rl = dp_rl_new(NULL, &err);
        rc.p = policy(DP_RL_MINUTE, 0, budgets[b], -1, -1, -1);
        pthread_t th[50];
        for (int i = 0; i < 50; i++)
            pthread_create(&th[i], NULL, race_thread, &rc);
        atomic_store(&rc.go, 1);
        for (int i = 0; i < 50; i++)
            pthread_join(th[i], NULL);
        CHECK_INT(atomic_load(&rc.admitted), budgets[b]);
        CHECK_INT(atomic_load(&rc.refused), 50 * 40 - budgets[b]);
        dp_rl_free(rc.rl);
    }
}

TEST("token budgets: total, prompt and completion counters refuse once reached")
{
    struct rl_fixture f;
    rl_fixture_open(&f, NULL);
    struct dp_ratelimit p = policy(DP_RL_MINUTE, 0, -1, -1, -1, 100);
    struct dp_rl_result r = admit(&f, &p, "tok", NULL, T0_MS);
    CHECK_INT(r.limited, 0);
    CHECK_INT(r.limit_requests, -1);
    CHECK_INT(r.remaining_requests, -1);
    CHECK_INT(r.limit_tokens, 100);
    CHECK_INT(r.remaining_tokens, 100);
    dp_rl_settle(f.w, &p, "tok", NULL, 20, 40, 60, T0_MS + 10);
    r = admit(&f, &p, "tok", NULL, T0_MS + 20);
    CHECK_INT(r.remaining_tokens, 40);
    /* No total reported: prompt + completion counts. */
    dp_rl_settle(f.w, &p, "tok", NULL, 30, 9, -1, T0_MS + 30);
    r = admit(&f, &p, "tok", NULL, T0_MS + 40);
    CHECK_INT(r.limited, 0);
    CHECK_INT(r.remaining_tokens, 1);
    dp_rl_settle(f.w, &p, "tok", NULL, -1, -1, 1, T0_MS + 50);
    r = admit(&f, &p, "tok", NULL, T0_MS + 30500);
    CHECK_INT(r.limited, 1);
    CHECK_INT(r.remaining_tokens, 0);
    CHECK_INT(r.retry_after_s, 30);
    /* Negative values are ignored. */
    dp_rl_settle(f.w, &p, "tok2", NULL, -5, -5, -5, T0_MS);
    CHECK_INT(admit(&f, &p, "tok2", NULL, T0_MS).remaining_tokens, 100);

    struct dp_ratelimit pr = policy(DP_RL_HOUR, 0, -1, 50, -1, -1);
    dp_rl_settle(f.w, &pr, "tok3", NULL, 50, 1000, 1050, T0_MS);
    r = admit(&f, &pr, "tok3", NULL, T0_MS);
    CHECK_INT(r.limited, 1);
    CHECK_INT(r.limit_tokens, 50);
    CHECK_INT(r.retry_after_s, 3600);

    struct dp_ratelimit co = policy(DP_RL_HOUR, 0, 10, -1, 50, -1);
    dp_rl_settle(f.w, &co, "tok4", NULL, 5000, 49, -1, T0_MS);
    r = admit(&f, &co, "tok4", NULL, T0_MS);
    CHECK_INT(r.limited, 0);
    CHECK_INT(r.remaining_tokens, 1);
    CHECK_INT(r.remaining_requests, 9);
    dp_rl_settle(f.w, &co, "tok4", NULL, 0, 1, -1, T0_MS);
    r = admit(&f, &co, "tok4", NULL, T0_MS);
    CHECK_INT(r.limited, 1);
    /* A refusal by tokens does not spend a request. */
    CHECK_INT(r.remaining_requests, 9);
    rl_fixture_close(&f);
}

TEST("token headers: total when set, else the tightest of prompt and completion")
{
    struct rl_fixture f;
    rl_fixture_open(&f, NULL);
    struct dp_ratelimit all = policy(DP_RL_MINUTE, 0, -1, 10, 20, 1000);
    struct dp_rl_result r = admit(&f, &all, "hdr1", NULL, T0_MS);
    CHECK_INT(r.limit_tokens, 1000);
    CHECK_INT(r.remaining_tokens, 1000);

    struct dp_ratelimit two = policy(DP_RL_MINUTE, 0, -1, 1000, 100, -1);
    r = admit(&f, &two, "hdr2", NULL, T0_MS);
    CHECK_INT(r.limit_tokens, 100);
    CHECK_INT(r.remaining_tokens, 100);
    dp_rl_settle(f.w, &two, "hdr2", NULL, 10, 90, 100, T0_MS);
    r = admit(&f, &two, "hdr2", NULL, T0_MS);
    CHECK_INT(r.limit_tokens, 100);
    CHECK_INT(r.remaining_tokens, 10);
    /* The prompt budget now has less left: it is the tighter one. */
    dp_rl_settle(f.w, &two, "hdr2", NULL, 985, 0, 985, T0_MS);
    r = admit(&f, &two, "hdr2", NULL, T0_MS);
    CHECK_INT(r.limit_tokens, 1000);
    CHECK_INT(r.remaining_tokens, 5);

    struct dp_ratelimit same = policy(DP_RL_MINUTE, 0, -1, 300, 200, -1);
    dp_rl_settle(f.w, &same, "hdr3", NULL, 100, 0, -1, T0_MS);
    r = admit(&f, &same, "hdr3", NULL, T0_MS);
    CHECK_INT(r.limit_tokens, 200); /* tie on 200 left: the smaller limit */
    CHECK_INT(r.remaining_tokens, 200);
    rl_fixture_close(&f);
}

TEST("scope application: one budget per application; scope api: one for all")
{
    struct rl_fixture f;
    rl_fixture_open(&f, NULL);
    struct dp_ratelimit per_app = policy(DP_RL_MINUTE, 1, 2, -1, -1, -1);
    CHECK_INT(admit(&f, &per_app, "scoped", "app-a", T0_MS).remaining_requests, 1);
    CHECK_INT(admit(&f, &per_app, "scoped", "app-a", T0_MS).remaining_requests, 0);
    CHECK_INT(admit(&f, &per_app, "scoped", "app-a", T0_MS).limited, 1);
    CHECK_INT(admit(&f, &per_app, "scoped", "app-b", T0_MS).remaining_requests, 1);
    /* No application (unsecured operation): the API's own budget. */
    CHECK_INT(admit(&f, &per_app, "scoped", NULL, T0_MS).remaining_requests, 1);
    /* Another API is another budget, even with the same application. */
    CHECK_INT(admit(&f, &per_app, "scoped2", "app-a", T0_MS).remaining_requests, 1);
    /* Ids cannot fake each other's keys ("a:b" + "c" vs "a" + "b:c"). */
    CHECK_INT(admit(&f, &per_app, "x:y", "z", T0_MS).remaining_requests, 1);
    CHECK_INT(admit(&f, &per_app, "x", "y:z", T0_MS).remaining_requests, 1);

    struct dp_ratelimit per_api = policy(DP_RL_MINUTE, 0, 2, -1, -1, -1);
    CHECK_INT(admit(&f, &per_api, "shared", "app-a", T0_MS).remaining_requests, 1);
    CHECK_INT(admit(&f, &per_api, "shared", "app-b", T0_MS).remaining_requests, 0);
    CHECK_INT(admit(&f, &per_api, "shared", NULL, T0_MS).limited, 1);

    /* Token usage follows the scope too. */
    struct dp_ratelimit tok = policy(DP_RL_MINUTE, 1, -1, -1, -1, 10);
    dp_rl_settle(f.w, &tok, "scoped-tok", "app-a", 5, 5, 10, T0_MS);
    CHECK_INT(admit(&f, &tok, "scoped-tok", "app-a", T0_MS).limited, 1);
    CHECK_INT(admit(&f, &tok, "scoped-tok", "app-b", T0_MS).remaining_tokens, 10);
    rl_fixture_close(&f);
}

TEST("very long ids still make distinct, bounded keys")
{
    struct rl_fixture f;
    rl_fixture_open(&f, NULL);
    char a[600], b[600];
    memset(a, 'a', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[500] = 'b';
    struct dp_ratelimit p = policy(DP_RL_MINUTE, 1, 1, -1, -1, -1);
    CHECK_INT(admit(&f, &p, a, a, T0_MS).limited, 0);
    CHECK_INT(admit(&f, &p, a, a, T0_MS).limited, 1);
    CHECK_INT(admit(&f, &p, b, a, T0_MS).limited, 0);
    CHECK_INT(admit(&f, &p, a, b, T0_MS).limited, 0);
    rl_fixture_close(&f);
}

TEST("without Redis: backend -1, no metric line; bad Redis URLs are refused")
{
    struct rl_fixture f;
    rl_fixture_open(&f, NULL);
    CHECK_INT(dp_rl_backend_up(f.rl), -1);
    struct gw_buf out;
    gw_buf_init(&out, 4096);
    dp_rl_metrics(f.rl, &out);
    CHECK_INT(out.len, 0);
    gw_buf_cleanup(&out);
    rl_fixture_close(&f);

    static const char *bad[] = {"", "localhost:6379", "http://127.0.0.1:6379",
                                "redis://", "redis://:6379", "redis://127.0.0.1:",
                                "redis://127.0.0.1:0", "redis://127.0.0.1:70000",
                                "redis://127.0.0.1:12x", "redis://127.0.0.1:6379/5",
                                "redis://user:pw@127.0.0.1:6379", "redis://[::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_err err;
        gw_err_clear(&err);
        struct dp_rl *rl = dp_rl_new(bad[i], &err);
        CHECK(rl == NULL);
        CHECK_INT(err.kind, GW_ERR_INVALID);
        dp_rl_free(rl);
    }
}

TEST("allocation failures while creating: NULL or a working limiter, nothing leaks")
{
    for (long n = 0; n < 8; n++) {
        struct gw_err err;
        gw_alloc_fail_after(n);
        struct dp_rl *rl = dp_rl_new(NULL, &err);
        struct dp_loop *loop = rl ? dp_loop_new() : NULL;
        struct dp_rl_worker *w = loop ? dp_rl_worker_new(rl, loop) : NULL;
        gw_alloc_fail_after(-1);
        if (w) {
            struct dp_ratelimit p = policy(DP_RL_MINUTE, 0, 1, -1, -1, -1);
            struct got g = {0};
            dp_rl_admit(w, &p, "oom", NULL, T0_MS, on_done, &g);
            CHECK_INT(g.calls, 1);
            CHECK_INT(g.res.limited, 0);
        }
        dp_rl_worker_free(w);
        dp_loop_free(loop);
        dp_rl_free(rl);
    }
}

/* Admission itself under allocation failure (every allocation failing from
 * the first admission on): each admission is answered exactly once, a
 * budget still admits exactly its limit, and a window the local table
 * cannot store (it may not grow without memory) is refused, counted in
 * modelmux_ratelimit_local_full_total, never admitted uncounted. Once memory
 * is back, the table grows and those applications get their one request. */
TEST("admission under allocation failure: exact budgets, full table refuses, then grows")
{
    enum { APPS = 30000 };
    struct rl_fixture f;
    rl_fixture_open(&f, NULL);
    struct dp_ratelimit five = policy(DP_RL_MINUTE, 0, 5, -1, 100, -1);
    struct dp_ratelimit one = policy(DP_RL_DAY, 1, 1, -1, -1, -1);
    static char refused_app[APPS];
    struct log_capture cap;
    log_capture_start(&cap);
    gw_alloc_fail_after(0);
    int admitted = 0;
    for (int i = 0; i < 8; i++) {
        admitted += !admit(&f, &five, "api-oom", "app", T0_MS).limited;
        dp_rl_settle(f.w, &five, "api-oom", "app", 1, 10, 11, T0_MS);
    }
    int full = 0;
    char app[32];
    for (int i = 0; i < APPS; i++) {
        snprintf(app, sizeof(app), "app-%d", i);
        struct dp_rl_result r = admit(&f, &one, "api-many", app, T0_MS);
        refused_app[i] = (char)r.limited;
        full += r.limited;
        CHECK(admit(&f, &one, "api-many", app, T0_MS).limited); /* never a second one */
    }
    gw_alloc_fail_after(-1);
    const char *log = log_capture_stop(&cap);
    CHECK_INT(admitted, 5);
    CHECK(full > 0); /* some first-generation buckets overflowed: exercised */
    /* said once (at most once a minute), naming what happens */
    CHECK_INT(count_of(log, "local counter table full"), 1);
    CHECK_INT(count_of(log, "refusing requests it cannot count (429)"), 1);
    struct gw_buf out;
    gw_buf_init(&out, 1 << 16);
    dp_rl_table_metrics(f.rl, &out);
    char want[96];
    /* each refused first request, and each second request of those apps */
    snprintf(want, sizeof(want), "\nmodelmux_ratelimit_local_full_total %d\n", 2 * full);
    CHECK(out.data && strstr(out.data, want) != NULL);
    CHECK(out.data && strstr(out.data, "\nmodelmux_ratelimit_local_windows 65536\n") != NULL);
    gw_buf_cleanup(&out);
    /* Memory back: the table grows, each refused application gets its one. */
    for (int i = 0; i < APPS; i++) {
        snprintf(app, sizeof(app), "app-%d", i);
        int limited = admit(&f, &one, "api-many", app, T0_MS).limited;
        CHECK_INT(limited, !refused_app[i]);
    }
    rl_fixture_close(&f);
}

TEST_MAIN()
