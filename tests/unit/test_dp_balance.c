/* Unit tests of dataplane/balance.c on plain weight arrays, no config:
 * smooth weighted round robin's order and exact shares, skipping, and a
 * request's walk over the whole cycle. */
#include "dataplane/balance.c"

#include "testhelp.h"

static int skip_none(size_t idx, void *arg)
{
    (void)idx;
    (void)arg;
    return 0;
}

static int skip_set(size_t idx, void *arg)
{
    const unsigned char *set = arg;
    return set[idx];
}

TEST("5:3:1 gives nginx's order a b a c a b a b a, then repeats")
{
    struct dp_balancer b;
    static const int w[] = {5, 3, 1};
    static const long want[] = {0, 1, 0, 2, 0, 1, 0, 1, 0};
    CHECK_INT(dp_balance_swrr.init(&b, w, 3), 0);
    CHECK_INT((int)b.schedule_len, 9);
    for (uint64_t seq = 0; seq < 27; seq++) {
        size_t step = 0;
        CHECK_INT(b.ops->select(&b, seq, &step, skip_none, NULL), want[seq % 9]);
        CHECK_INT((int)step, 1);
    }
    b.ops->cleanup(&b);
}

TEST("every window of one cycle holds each target exactly weight times")
{
    struct dp_balancer b;
    int w[64];
    size_t total = 0;
    for (int i = 0; i < 64; i++)
        total += (size_t)(w[i] = i == 0 ? 1000 : 1 + i % 7);
    CHECK_INT(dp_balance_swrr.init(&b, w, 64), 0);
    for (uint64_t start = 0; start < 5; start++) {
        size_t counts[64] = {0};
        for (uint64_t seq = start; seq < start + total; seq++) {
            size_t step = 0;
            counts[b.ops->select(&b, seq, &step, skip_none, NULL)]++;
        }
        for (int i = 0; i < 64; i++)
            CHECK_INT((int)counts[i], w[i]);
    }
    b.ops->cleanup(&b);
}

TEST("skipped targets are passed over; one request reaches every other target once")
{
    struct dp_balancer b;
    static const int w[] = {1, 1, 1, 1};
    unsigned char set[4] = {0, 1, 0, 0};
    CHECK_INT(dp_balance_swrr.init(&b, w, 4), 0);
    size_t step = 0;
    long got[3];
    for (int i = 0; i < 3; i++) {
        got[i] = b.ops->select(&b, 1, &step, skip_set, set);
        CHECK(got[i] >= 0 && got[i] != 1);
        set[got[i]] = 1; /* tried */
    }
    CHECK(got[0] != got[1] && got[1] != got[2] && got[0] != got[2]);
    CHECK_INT(b.ops->select(&b, 1, &step, skip_set, set), -1);
    b.ops->cleanup(&b);
}

TEST("out of memory at init: -1 and nothing to free")
{
    struct dp_balancer b;
    static const int w[] = {2, 3};
    memset(&b, 0, sizeof(b));
    gw_alloc_fail_after(0);
    CHECK_INT(dp_balance_swrr.init(&b, w, 2), -1);
    gw_alloc_fail_after(-1);
    CHECK(b.schedule == NULL);
}

TEST_MAIN()
