/* Unit tests of common/json_depth.c. */
#include "testhelp.h"

#include "common/json_depth.h"

static int ok(const char *s, int max)
{
    return gw_json_depth_ok(s, strlen(s), max);
}

TEST("depth counts objects and arrays, top level is 1")
{
    CHECK(ok("1", 0));
    CHECK(ok("{}", 1));
    CHECK(!ok("{}", 0));
    CHECK(ok("{\"a\":[1,{\"b\":[]}]}", 4));
    CHECK(!ok("{\"a\":[1,{\"b\":[]}]}", 3));
    CHECK(ok("[][][][]", 1)); /* siblings do not add up */
}

TEST("brackets inside strings and escaped quotes do not count")
{
    CHECK(ok("{\"a\":\"[[[[{{{{\"}", 1));
    CHECK(ok("{\"a\":\"\\\"[[[[\"}", 1));
    CHECK(ok("{\"a\\\\\":\"x\"}", 1));      /* an escaped backslash ends before the quote */
    CHECK(!ok("{\"a\\\\\":[[\"x\"]]}", 2));
    CHECK(ok("\"\\", 0));                   /* a dangling escape at the end */
}

TEST("very deep input is refused without recursion")
{
    static char deep[100001];
    memset(deep, '[', sizeof deep - 1);
    CHECK(!ok(deep, 8));
    CHECK(ok(deep, 100000));
}

TEST_MAIN()
