/* Unit tests of the small helpers in common/: the intrusive list (list.h),
 * integer formatting (fmt.c) and the timespec deadline (clock.c). */
#include "testhelp.h"

#include "common/clock.h"
#include "common/fmt.h"
#include "common/list.h"

#include <stdint.h>

struct item {
    int v;
    struct gw_list link;
};

TEST("list: push at the front, remove anywhere, entry from the link")
{
    struct gw_list head;
    gw_list_init(&head);
    CHECK(gw_list_empty(&head));
    struct item a = {1, {0}}, b = {2, {0}}, c = {3, {0}};
    gw_list_push(&head, &a.link);
    gw_list_push(&head, &b.link);
    gw_list_push(&head, &c.link);
    int seen[3], n = 0;
    for (struct gw_list *p = head.next; p != &head; p = p->next)
        seen[n++] = gw_list_entry(p, struct item, link)->v;
    CHECK_INT(n, 3);
    CHECK_INT(seen[0], 3);
    CHECK_INT(seen[2], 1);
    gw_list_remove(&b.link);
    gw_list_remove(&b.link); /* a lone link: no-op */
    CHECK(head.next == &c.link && c.link.next == &a.link && a.link.prev == &c.link);
    gw_list_remove(&a.link);
    gw_list_remove(&c.link);
    CHECK(gw_list_empty(&head));
}

static const char *fmt_u(uint64_t u, unsigned base)
{
    static char s[GW_FMT_INT_MAX + 1];
    *gw_fmt_u64(s, u, base) = '\0';
    return s;
}

static const char *fmt_i(int64_t v)
{
    static char s[GW_FMT_INT_MAX + 1];
    *gw_fmt_i64(s, v) = '\0';
    return s;
}

TEST("fmt: base 10 and 16, zero, extremes, negatives")
{
    CHECK_STR(fmt_u(0, 10), "0");
    CHECK_STR(fmt_u(429, 10), "429");
    CHECK_STR(fmt_u(255, 16), "ff");
    CHECK_STR(fmt_u(UINT64_MAX, 10), "18446744073709551615");
    CHECK_STR(fmt_u(UINT64_MAX, 16), "ffffffffffffffff");
    CHECK_STR(fmt_i(-1), "-1");
    CHECK_STR(fmt_i(INT64_MIN), "-9223372036854775808");
    CHECK_STR(fmt_i(INT64_MAX), "9223372036854775807");
}

TEST("deadline: ms from now on the given clock, nanoseconds normalised")
{
    struct timespec now, d;
    clock_gettime(CLOCK_MONOTONIC, &now);
    gw_deadline_ts(CLOCK_MONOTONIC, 1999, &d);
    CHECK(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
    int64_t diff = ((int64_t)d.tv_sec - now.tv_sec) * 1000 + (d.tv_nsec - now.tv_nsec) / 1000000;
    CHECK(diff >= 1999 && diff < 2100);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    gw_deadline_ts(CLOCK_REALTIME, 1500, &d);
    diff = ((int64_t)d.tv_sec - wall.tv_sec) * 1000 + (d.tv_nsec - wall.tv_nsec) / 1000000;
    CHECK(diff >= 1500 && diff < 1600);
}

TEST_MAIN()
