/* A tiny unit-test harness (after Redis's src/testhelp.h).
 *
 *   TEST("buf grows") { ... CHECK(x == 1); CHECK_STR(a, "b"); }
 *
 * Each test file includes this header once, defines tests with TEST(name),
 * and ends with TEST_MAIN(). A failing CHECK prints file:line and the
 * expression and marks the test failed; the run ends with the plain closing
 * line "N passed, N failed" and exits 1 on any failure. Tests may include a
 * .c file to reach its static functions. */
#ifndef MM_TESTHELP_H
#define MM_TESTHELP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*mm_test_fn)(void);

struct mm_test {
    const char *name;
    mm_test_fn fn;
};

static struct mm_test mm_tests[512];
static int mm_ntests;
static int mm_current_failed;

#define MM_CAT2(a, b) a##b
#define MM_CAT(a, b) MM_CAT2(a, b)

#define TEST(desc)                                                                  \
    static void MM_CAT(mm_test_, __LINE__)(void);                                   \
    __attribute__((constructor)) static void MM_CAT(mm_register_, __LINE__)(void)   \
    {                                                                               \
        mm_tests[mm_ntests].name = desc;                                            \
        mm_tests[mm_ntests++].fn = MM_CAT(mm_test_, __LINE__);                      \
    }                                                                               \
    static void MM_CAT(mm_test_, __LINE__)(void)

#define CHECK(expr)                                                                 \
    do {                                                                            \
        if (!(expr)) {                                                              \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #expr); \
            mm_current_failed = 1;                                                  \
        }                                                                           \
    } while (0)

#define CHECK_INT(a, b)                                                             \
    do {                                                                            \
        long long mm_a = (long long)(a), mm_b = (long long)(b);                     \
        if (mm_a != mm_b) {                                                         \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
                    __LINE__, #a, mm_a, #b, mm_b);                                  \
            mm_current_failed = 1;                                                  \
        }                                                                           \
    } while (0)

#define CHECK_STR(a, b)                                                             \
    do {                                                                            \
        const char *mm_a = (a), *mm_b = (b);                                        \
        if (!mm_a || !mm_b || strcmp(mm_a, mm_b) != 0) {                            \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,   \
                    __LINE__, #a, mm_a ? mm_a : "(null)", mm_b ? mm_b : "(null)");  \
            mm_current_failed = 1;                                                  \
        }                                                                           \
    } while (0)

#define TEST_MAIN()                                                                 \
    int main(int argc, char **argv)                                                 \
    {                                                                               \
        int passed = 0, failed = 0;                                                 \
        for (int i = 0; i < mm_ntests; i++) {                                       \
            if (argc > 1 && !strstr(mm_tests[i].name, argv[1]))                     \
                continue;                                                           \
            mm_current_failed = 0;                                                  \
            mm_tests[i].fn();                                                       \
            printf("%s %s\n", mm_current_failed ? "FAIL" : "ok  ", mm_tests[i].name); \
            if (mm_current_failed)                                                  \
                failed++;                                                           \
            else                                                                    \
                passed++;                                                           \
        }                                                                           \
        printf("%d passed, %d failed\n", passed, failed);                           \
        return failed ? 1 : 0;                                                      \
    }

#endif
