/* Unit tests of dataplane/metrics_labels.c and of how dataplane/metrics.c
 * bounds its label values with it (issue 11 item 10): caller-chosen models
 * are counted as model="other", series of what a new config no longer names
 * are deleted, modelmux_target_suspended lists exactly the config's targets,
 * and 12,000 distinct models never make the exposition fail. */
#include "testhelp.h"

#include "metrics_render.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "dataplane/metrics.h"
#include "dataplane/metrics_labels.h"
#include "dataplane/suspension.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lines_of(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += strncmp(p, prefix, len) == 0;
    return n;
}

/* API "chat" with targets gpt-4o@ep-1 and o1-mini@ep-2, vendor models
 * gpt-4o-mini; st (may be NULL) gives the targets their states. */
static struct dp_metrics_labels *labels_v1(struct dp_target_state *st)
{
    struct dp_metrics_labels *l = dp_metrics_labels_new();
    CHECK_INT(dp_metrics_labels_add_target(l, "chat", "gpt-4o", "ep-1", st ? &st[0] : NULL), 0);
    CHECK_INT(dp_metrics_labels_add_target(l, "chat", "o1-mini", "ep-2", st ? &st[1] : NULL), 0);
    CHECK_INT(dp_metrics_labels_add_target(l, "chat", "gpt-4o", "ep-1", st ? &st[0] : NULL), 0);
    CHECK_INT(dp_metrics_labels_add_model(l, "gpt-4o-mini"), 0);
    return l;
}

TEST("the label set: what was added, each target once")
{
    struct dp_metrics_labels *l = labels_v1(NULL);
    CHECK(dp_metrics_labels_has_api(l, "chat"));
    CHECK(!dp_metrics_labels_has_api(l, "other-api"));
    CHECK(dp_metrics_labels_has_endpoint(l, "ep-2"));
    CHECK(!dp_metrics_labels_has_endpoint(l, "ep-3"));
    CHECK(dp_metrics_labels_has_model(l, "gpt-4o"));
    CHECK(dp_metrics_labels_has_model(l, "gpt-4o-mini"));
    CHECK(!dp_metrics_labels_has_model(l, "gpt-4"));
    CHECK(!dp_metrics_labels_has_model(l, NULL));
    CHECK_INT(dp_metrics_labels_ntargets(l), 2);
    CHECK_STR(dp_metrics_labels_target(l, 1)->model, "o1-mini");
    dp_metrics_labels_free(l);
    dp_metrics_labels_free(NULL);
}

TEST("12000 caller models: model=\"other\", the exposition stays whole")
{
    struct dp_metrics *m = dp_metrics_new(2);
    dp_metrics_publish(m, labels_v1(NULL));
    char model[32];
    for (int i = 0; i < 12000; i++) {
        snprintf(model, sizeof(model), "attacker-%d", i);
        dp_metrics_request(dp_metrics_shard(m, i % 2), "chat", model, NULL, 400);
        dp_metrics_tokens(dp_metrics_shard(m, i % 2), "chat", model, 1, 1);
    }
    dp_metrics_request(dp_metrics_shard(m, 0), "chat", "gpt-4o", "ep-1", 200);
    dp_metrics_request(dp_metrics_shard(m, 1), "chat", "gpt-4o-mini", "ep-1", 200);
    dp_metrics_request(dp_metrics_shard(m, 1), "chat", "", NULL, 401);
    char *t = render(m);
    CHECK(t != NULL);
    if (t) {
        CHECK(strstr(t, "modelmux_requests_total{api=\"chat\",model=\"other\",endpoint=\"\","
                        "status=\"400\"} 12000\n") != NULL);
        CHECK(strstr(t, "{api=\"chat\",model=\"other\",kind=\"prompt\"} 12000\n") != NULL);
        CHECK(strstr(t, "{api=\"chat\",model=\"gpt-4o\",endpoint=\"ep-1\",status=\"200\"} 1\n"));
        CHECK(strstr(t, "{api=\"chat\",model=\"gpt-4o-mini\",endpoint=\"ep-1\",status=\"200\"} 1\n"));
        CHECK(strstr(t, "{api=\"chat\",model=\"\",endpoint=\"\",status=\"401\"} 1\n"));
        CHECK(strstr(t, "attacker-") == NULL);
        CHECK(strstr(t, "\nmodelmux_metrics_dropped_total 0\n") != NULL);
        CHECK_INT(lines_of(t, "modelmux_requests_total{"), 4);
    }
    gw_free(t);
    dp_metrics_free(m);
}

TEST("a new config deletes the series of what it no longer names")
{
    struct dp_target_state st[3];
    memset(st, 0, sizeof(st));
    struct dp_metrics *m = dp_metrics_new(2);
    dp_metrics_publish(m, labels_v1(st));
    dp_target_suspend(&st[1], gw_now_ms(), 60000);
    dp_metrics_request(dp_metrics_shard(m, 0), "chat", "gpt-4o", "ep-1", 200);
    dp_metrics_request(dp_metrics_shard(m, 1), "chat", "o1-mini", "ep-2", 200);
    dp_metrics_upstream(dp_metrics_shard(m, 1), "ep-2", 10);
    dp_metrics_tokens(dp_metrics_shard(m, 0), "chat", "o1-mini", 5, 5);
    dp_metrics_ratelimited(dp_metrics_shard(m, 0), "chat");
    char *t = render(m);
    CHECK(t && strstr(t, "modelmux_target_suspended{api=\"chat\",model=\"o1-mini\","
                         "endpoint=\"ep-2\"} 1\n"));
    CHECK(t && strstr(t, "modelmux_target_suspended{api=\"chat\",model=\"gpt-4o\","
                         "endpoint=\"ep-1\"} 0\n"));
    CHECK(t && lines_of(t, "modelmux_target_suspended{") == 2);
    gw_free(t);

    /* v2: API renamed "chat2", ep-2 and o1-mini gone, a new target. */
    for (int rev = 0; rev < 150; rev++) {
        struct dp_metrics_labels *l = dp_metrics_labels_new();
        CHECK_INT(dp_metrics_labels_add_target(l, "chat2", "gpt-4o", "ep-1", &st[0]), 0);
        CHECK_INT(dp_metrics_labels_add_target(l, "chat2", "gpt-4o", "ep-3", &st[2]), 0);
        dp_metrics_publish(m, l);
    }
    dp_metrics_request(dp_metrics_shard(m, 0), "chat2", "gpt-4o", "ep-3", 200);
    dp_metrics_request(dp_metrics_shard(m, 0), "chat2", "o1-mini", "ep-3", 200);
    t = render(m);
    CHECK(t != NULL);
    if (t) {
        CHECK(strstr(t, "\"chat\"") == NULL);
        CHECK(strstr(t, "ep-2") == NULL);
        CHECK(strstr(t, "o1-mini") == NULL);
        CHECK(strstr(t, "modelmux_ratelimited_total{") == NULL);
        CHECK(strstr(t, "{api=\"chat2\",model=\"other\",endpoint=\"ep-3\",status=\"200\"} 1\n"));
        CHECK(strstr(t, "{api=\"chat2\",model=\"gpt-4o\",endpoint=\"ep-3\",status=\"200\"} 1\n"));
        CHECK_INT(lines_of(t, "modelmux_target_suspended{"), 2);
        CHECK(strstr(t, "modelmux_target_suspended{api=\"chat2\",model=\"gpt-4o\","
                        "endpoint=\"ep-3\"} 0\n"));
    }
    gw_free(t);
    dp_metrics_publish(m, NULL); /* ignored: the set stays */
    dp_metrics_free(m);
}

TEST("allocation failures while building label sets and publishing")
{
    for (long n = 0; n < 40; n++) {
        struct dp_metrics *m = dp_metrics_new(1);
        dp_metrics_request(dp_metrics_shard(m, 0), "chat", "gpt-4o", "ep-1", 200);
        gw_alloc_fail_after(n);
        struct dp_metrics_labels *l = dp_metrics_labels_new();
        int ok = l && dp_metrics_labels_add_target(l, "chat", "gpt-4o", "ep-1", NULL) == 0 &&
                 dp_metrics_labels_add_model(l, "gpt-4o-mini") == 0;
        if (ok)
            dp_metrics_publish(m, l);
        else
            dp_metrics_labels_free(l);
        gw_alloc_fail_after(-1);
        char *t = render(m);
        CHECK(t != NULL);
        /* Published or not, the live series survives. */
        CHECK(t && strstr(t, "{api=\"chat\",model=\"gpt-4o\",endpoint=\"ep-1\",status=\"200\"} 1\n"));
        gw_free(t);
        dp_metrics_free(m);
    }
}

TEST_MAIN()
