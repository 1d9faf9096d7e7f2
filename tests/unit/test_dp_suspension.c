/* Unit tests of dataplane/suspension.c: find-or-create by key, label updates,
 * suspension that never shortens (also from several threads), foreach. */
#include "testhelp.h"

#include "dataplane/suspension.h"

#include <pthread.h>

TEST("entries are found by key and keep their identity")
{
    struct dp_suspensions *st = dp_suspensions_new();
    struct dp_target_state *a = dp_suspensions_target(st, "api\x1fproduction\x1fgpt\x1f" "ep", "A", "gpt", "E");
    struct dp_target_state *b = dp_suspensions_target(st, "api\x1fproduction\x1fgpt\x1f" "ep2", "A", "gpt", "E2");
    CHECK(a && b && a != b);
    CHECK(!dp_target_suspended(a, 0));
    CHECK(!dp_target_suspended(a, INT64_MIN + 1));
    struct dp_target_state *a2 = dp_suspensions_target(st, "api\x1fproduction\x1fgpt\x1f" "ep", "A2", "gpt", "E");
    CHECK(a2 == a);
    CHECK_STR(a->api_name, "A2"); /* labels follow the latest names */
    struct dp_lb_state *l = dp_suspensions_lb(st, "api\x1fpol\x1fproduction");
    CHECK(l != NULL);
    CHECK_INT(atomic_load(&l->seq), 0);
    atomic_fetch_add(&l->seq, 3);
    CHECK(dp_suspensions_lb(st, "api\x1fpol\x1fproduction") == l);
    CHECK(dp_suspensions_lb(st, "api\x1fpol\x1fsandbox") != l);
    /* Many entries: the maps grow and old pointers stay valid. */
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        CHECK(dp_suspensions_target(st, key, "a", "m", "e") != NULL);
    }
    CHECK(dp_suspensions_target(st, "api\x1fproduction\x1fgpt\x1f" "ep", NULL, NULL, NULL) == a);
    CHECK_INT(atomic_load(&l->seq), 3);
    dp_suspensions_free(st);
    dp_suspensions_free(NULL);
}

TEST("suspension: starts, ends by itself, never shortens")
{
    struct dp_suspensions *st = dp_suspensions_new();
    struct dp_target_state *t = dp_suspensions_target(st, "t", "a", "m", "e");
    dp_target_suspend(t, 1000, 500);
    CHECK(dp_target_suspended(t, 1000));
    CHECK(dp_target_suspended(t, 1499));
    CHECK(!dp_target_suspended(t, 1500));
    dp_target_suspend(t, 1100, 100); /* until 1200 < 1500: kept at 1500 */
    CHECK(dp_target_suspended(t, 1400));
    dp_target_suspend(t, 1100, 60000);
    CHECK(dp_target_suspended(t, 61099));
    CHECK(!dp_target_suspended(t, 61100));
    dp_target_suspend(t, 1100, 0);
    CHECK(dp_target_suspended(t, 61099));
    dp_target_suspend(t, 1100, -5); /* negative is 0 */
    CHECK(dp_target_suspended(t, 61099));
    dp_suspensions_free(st);
}

static struct dp_target_state *shared;

static void *suspender(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < 20000; i++)
        dp_target_suspend(shared, 0, (id * 20000 + i) % 77777);
    return NULL;
}

TEST("concurrent suspensions keep the longest")
{
    struct dp_suspensions *st = dp_suspensions_new();
    shared = dp_suspensions_target(st, "t", "a", "m", "e");
    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, suspender, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&shared->suspended_until_ms), 77776);
    dp_suspensions_free(st);
}

static void count_fn(const struct dp_target_state *t, void *arg)
{
    int *n = arg;
    if (t->model && strcmp(t->model, "m") == 0)
        (*n)++;
}

TEST("foreach visits every target once")
{
    struct dp_suspensions *st = dp_suspensions_new();
    dp_suspensions_target(st, "x", "a", "m", "e");
    dp_suspensions_target(st, "y", "a", "m", "e");
    dp_suspensions_target(st, "x", "a", "m", "e");
    dp_suspensions_target(st, "z", "a", "other", "e");
    int n = 0;
    dp_suspensions_foreach_target(st, count_fn, &n);
    CHECK_INT(n, 2);
    dp_suspensions_free(st);
}

TEST_MAIN()
