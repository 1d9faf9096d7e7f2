/* Unit tests of dataplane/rl_local.c: the shared counter table. Creation of
 * a window races (exactly one slot per key under 50 threads), reclaim of
 * ended windows after the grace period, growth when buckets fill, a table
 * at its maximum answering "no room" (never admitting), seeding, merge. */
#include "testhelp.h"

#include "dataplane/rl_local.h"

#include <pthread.h>
#include <stdatomic.h>

static const int64_t NO_LIMITS[DP_RL_NCOUNTERS] = {-1, -1, -1, -1};

TEST("admit, add and merge count into the right counters")
{
    struct dp_rl_local *t = dp_rl_local_new(1024, 1024);
    int64_t lim[DP_RL_NCOUNTERS] = {2, -1, -1, 10};
    int64_t c[DP_RL_NCOUNTERS];
    CHECK_INT(dp_rl_local_admit(t, 42, 160, 100, lim, c), 1);
    CHECK_INT(c[DP_RL_C_REQUESTS], 1);
    int64_t add[DP_RL_NCOUNTERS] = {0, 3, 4, 7};
    CHECK_INT(dp_rl_local_add(t, 42, 160, 100, add), 0);
    CHECK_INT(dp_rl_local_admit(t, 42, 160, 100, lim, c), 1);
    CHECK_INT(c[DP_RL_C_REQUESTS], 2);
    CHECK_INT(c[DP_RL_C_PROMPT], 3);
    CHECK_INT(c[DP_RL_C_COMPLETION], 4);
    CHECK_INT(c[DP_RL_C_TOTAL], 7);
    CHECK_INT(dp_rl_local_admit(t, 42, 160, 100, lim, c), 0);
    CHECK_INT(c[DP_RL_C_REQUESTS], 2);
    /* merge only raises */
    int64_t seen[DP_RL_NCOUNTERS] = {1, 50, 2, 9};
    CHECK_INT(dp_rl_local_merge(t, 42, 160, 100, seen), 0);
    dp_rl_local_read(t, 42, c);
    CHECK_INT(c[DP_RL_C_REQUESTS], 2);
    CHECK_INT(c[DP_RL_C_PROMPT], 50);
    CHECK_INT(c[DP_RL_C_COMPLETION], 4);
    CHECK_INT(c[DP_RL_C_TOTAL], 9);
    /* key 0 is usable like any other */
    CHECK_INT(dp_rl_local_admit(t, 0, 160, 100, lim, c), 1);
    CHECK_INT(c[DP_RL_C_REQUESTS], 1);
    dp_rl_local_free(t);
}

TEST("a table at its maximum has no room; ended windows are reclaimed after the grace")
{
    /* 512 slots, no growth: 2000 live keys cannot all fit. */
    struct dp_rl_local *t = dp_rl_local_new(DP_RL_LOCAL_MIN_SLOTS, DP_RL_LOCAL_MIN_SLOTS);
    CHECK_INT(dp_rl_local_capacity(t), DP_RL_LOCAL_MIN_SLOTS);
    int64_t c[DP_RL_NCOUNTERS];
    int full = 0;
    for (uint64_t k = 1; k <= 2000; k++)
        if (dp_rl_local_admit(t, k * 0x9e3779b97f4a7c15ULL, 160, 100, NO_LIMITS, c) < 0)
            full++;
    CHECK(full >= 2000 - DP_RL_LOCAL_MIN_SLOTS);
    CHECK(full < 2000);
    CHECK_INT(dp_rl_local_capacity(t), DP_RL_LOCAL_MIN_SLOTS);
    /* Just after the windows end, within the grace: still no room. */
    CHECK_INT(dp_rl_local_admit(t, 777, 220, 160 + DP_RL_LOCAL_GRACE_S, NO_LIMITS, c) < 0, 1);
    /* After the grace, new windows find slots again and start at zero. */
    for (uint64_t k = 1; k <= 16; k++) {
        int r = dp_rl_local_admit(t, k * 0x9e3779b97f4a7c15ULL + 1, 220,
                                  161 + DP_RL_LOCAL_GRACE_S, NO_LIMITS, c);
        CHECK_INT(r, 1);
        CHECK_INT(c[DP_RL_C_REQUESTS], 1);
    }
    dp_rl_local_free(t);
}

/* Issue 11 item 15: 8-slot buckets failed open when 9 live windows hashed
 * to one. Now the table grows instead, and every window counts exactly. */
TEST("full buckets grow the table: 30000 live windows of limit 1 each admit exactly once")
{
    struct dp_rl_local *t = dp_rl_local_new(DP_RL_LOCAL_MIN_SLOTS, 1u << 20);
    int64_t lim[DP_RL_NCOUNTERS] = {1, -1, -1, -1};
    int64_t c[DP_RL_NCOUNTERS];
    int admitted = 0, refused = 0, full = 0;
    for (int round = 0; round < 2; round++)
        for (uint64_t k = 1; k <= 30000; k++) {
            int r = dp_rl_local_admit(t, k, 86400, 100, lim, c);
            admitted += r == 1;
            refused += r == 0;
            full += r < 0;
        }
    CHECK_INT(full, 0);
    CHECK_INT(admitted, 30000);
    CHECK_INT(refused, 30000);
    CHECK(dp_rl_local_capacity(t) >= 30000);
    CHECK(dp_rl_local_capacity(t) <= (1u << 20));
    dp_rl_local_free(t);
}

TEST("growth stops at the maximum: then no room, never an admission")
{
    /* 512 + 1024 slots at most. */
    struct dp_rl_local *t = dp_rl_local_new(DP_RL_LOCAL_MIN_SLOTS, 3 * DP_RL_LOCAL_MIN_SLOTS);
    int64_t lim[DP_RL_NCOUNTERS] = {1, -1, -1, -1};
    int64_t c[DP_RL_NCOUNTERS];
    int stored = 0, full = 0;
    for (uint64_t k = 1; k <= 5000; k++) {
        int r = dp_rl_local_admit(t, k, 86400, 100, lim, c);
        stored += r == 1;
        full += r < 0;
    }
    CHECK_INT(dp_rl_local_capacity(t), 3 * DP_RL_LOCAL_MIN_SLOTS);
    CHECK_INT(stored + full, 5000);
    CHECK(stored <= 3 * DP_RL_LOCAL_MIN_SLOTS);
    CHECK(full >= 5000 - 3 * DP_RL_LOCAL_MIN_SLOTS);
    /* Every stored window refuses its second request. */
    for (uint64_t k = 1; k <= 5000; k++)
        CHECK(dp_rl_local_admit(t, k, 86400, 100, lim, c) != 1);
    dp_rl_local_free(t);
}

TEST("seed: once per window and epoch, only when something was counted")
{
    struct dp_rl_local *t = dp_rl_local_new(1024, 1024);
    int64_t c[DP_RL_NCOUNTERS];
    CHECK_INT(dp_rl_local_seed(t, 5, 160, 100, 1, c), 0); /* nothing counted yet */
    CHECK_INT(dp_rl_local_admit(t, 5, 160, 100, NO_LIMITS, c), 1);
    CHECK_INT(dp_rl_local_seed(t, 5, 160, 100, 1, c), 0); /* epoch 1 seeded already */
    CHECK_INT(dp_rl_local_admit(t, 5, 160, 100, NO_LIMITS, c), 1);
    int64_t add[DP_RL_NCOUNTERS] = {0, 7, 0, 7};
    CHECK_INT(dp_rl_local_add(t, 5, 160, 100, add), 0);
    memset(c, 0, sizeof(c));
    CHECK_INT(dp_rl_local_seed(t, 5, 160, 100, 2, c), 1);
    CHECK_INT(c[DP_RL_C_REQUESTS], 2);
    CHECK_INT(c[DP_RL_C_PROMPT], 7);
    CHECK_INT(c[DP_RL_C_TOTAL], 7);
    CHECK_INT(dp_rl_local_seed(t, 5, 160, 100, 2, c), 0);
    dp_rl_local_free(t);
}

struct race {
    struct dp_rl_local *t;
    atomic_int go;
    atomic_int admitted;
};

static void *race_thread(void *arg)
{
    struct race *r = arg;
    int64_t lim[DP_RL_NCOUNTERS] = {500, -1, -1, -1};
    int64_t add[DP_RL_NCOUNTERS] = {0, 1, 0, 0};
    int64_t c[DP_RL_NCOUNTERS];
    while (!atomic_load(&r->go))
        ;
    for (int i = 0; i < 100; i++) {
        /* 20 fresh windows created under contention */
        uint64_t key = 1000 + (uint64_t)(i % 20);
        if (dp_rl_local_admit(r->t, key, 1060, 1000, lim, c) == 1)
            atomic_fetch_add(&r->admitted, 1);
        dp_rl_local_add(r->t, key, 1060, 1000, add);
    }
    return NULL;
}

TEST("50 threads creating the same windows: one slot per key, exact counts")
{
    struct race r;
    memset(&r, 0, sizeof(r));
    r.t = dp_rl_local_new(4096, 4096);
    pthread_t th[50];
    for (int i = 0; i < 50; i++)
        pthread_create(&th[i], NULL, race_thread, &r);
    atomic_store(&r.go, 1);
    for (int i = 0; i < 50; i++)
        pthread_join(th[i], NULL);
    /* 5000 attempts over 20 windows of 250 each: all admitted (limit 500). */
    CHECK_INT(atomic_load(&r.admitted), 5000);
    for (uint64_t k = 1000; k < 1020; k++) {
        int64_t c[DP_RL_NCOUNTERS];
        dp_rl_local_read(r.t, k, c);
        CHECK_INT(c[DP_RL_C_REQUESTS], 250);
        CHECK_INT(c[DP_RL_C_PROMPT], 250);
    }
    dp_rl_local_free(r.t);
}

TEST_MAIN()
