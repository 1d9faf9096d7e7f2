/* Unit tests of dataplane/metrics.c's series lookup by raw label values:
 * equal values at other addresses and NULL/"" find the same series, values
 * whose concatenations collide stay apart, over-long labels are ignored (not
 * counted as dropped), a full family drops and counts, and the rendering is
 * the one labels gave before. */
#include "testhelp.h"

#include "metrics_render.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "dataplane/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long dropped(const char *text)
{
    const char *p = strstr(text, "\nmodelmux_metrics_dropped_total ");
    return p ? atoll(p + strlen("\nmodelmux_metrics_dropped_total ")) : -1;
}

TEST("same values at other addresses, NULL and empty: one series")
{
    struct dp_metrics *m = dp_metrics_new(1);
    struct dp_metrics_shard *s = dp_metrics_shard(m, 0);
    char api[] = "chat", model[] = "gpt-4o";
    char *api2 = strdup(api), *model2 = strdup(model);
    dp_metrics_request(s, api, model, NULL, 200);
    dp_metrics_request(s, api2, model2, "", 200);
    dp_metrics_request(s, api2, model2, "", -3);
    dp_metrics_tokens(s, api, model, 5, 6);
    dp_metrics_tokens(s, api2, model2, 1, 2);
    dp_metrics_tokens(s, NULL, model2, 1, -1);
    char *t = render(m);
    CHECK(t != NULL);
    CHECK(strstr(t, "modelmux_requests_total{api=\"chat\",model=\"gpt-4o\",endpoint=\"\","
                    "status=\"200\"} 2\n") != NULL);
    CHECK(strstr(t, "status=\"-3\"} 1\n") != NULL);
    CHECK(strstr(t, "{api=\"chat\",model=\"gpt-4o\",kind=\"prompt\"} 6\n") != NULL);
    CHECK(strstr(t, "{api=\"chat\",model=\"gpt-4o\",kind=\"completion\"} 8\n") != NULL);
    CHECK(strstr(t, "{api=\"\",model=\"gpt-4o\",kind=\"prompt\"} 1\n") != NULL);
    CHECK(strstr(t, "{api=\"\",model=\"gpt-4o\",kind=\"completion\"}") == NULL);
    gw_free(t);
    free(api2);
    free(model2);
    dp_metrics_free(m);
}

TEST("values that concatenate alike stay apart")
{
    struct dp_metrics *m = dp_metrics_new(1);
    struct dp_metrics_shard *s = dp_metrics_shard(m, 0);
    dp_metrics_request(s, "a", "bc", "d", 200);
    dp_metrics_request(s, "ab", "c", "d", 200);
    dp_metrics_request(s, "ab", "c", "d", 200);
    dp_metrics_upstream(s, "x\"y", 5);
    dp_metrics_upstream(s, "x\\\"y", 5);
    char *t = render(m);
    CHECK(strstr(t, "{api=\"a\",model=\"bc\",endpoint=\"d\",status=\"200\"} 1\n") != NULL);
    CHECK(strstr(t, "{api=\"ab\",model=\"c\",endpoint=\"d\",status=\"200\"} 2\n") != NULL);
    CHECK(strstr(t, "_count{endpoint=\"x\\\"y\"} 1\n") != NULL);
    CHECK(strstr(t, "_count{endpoint=\"x\\\\\\\"y\"} 1\n") != NULL);
    gw_free(t);
    dp_metrics_free(m);
}

TEST("over-long labels are ignored, not dropped")
{
    struct dp_metrics *m = dp_metrics_new(1);
    struct dp_metrics_shard *s = dp_metrics_shard(m, 0);
    char big[1100];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char esc[700]; /* fits raw, not once escaped */
    memset(esc, '"', sizeof(esc) - 1);
    esc[sizeof(esc) - 1] = '\0';
    for (int i = 0; i < 3; i++) {
        dp_metrics_request(s, big, "m", "e", 200);
        dp_metrics_request(s, esc, "m", "e", 200);
        dp_metrics_upstream(s, big, 1);
        dp_metrics_tokens(s, "a", esc, 1, 1);
        dp_metrics_ratelimited(s, esc);
    }
    char *t = render(m);
    CHECK_INT(dropped(t), 0);
    CHECK(strstr(t, "xxxxxxxx") == NULL);
    CHECK(strstr(t, "\\\"\\\"\\\"") == NULL);
    gw_free(t);
    dp_metrics_free(m);
}

TEST("a full family drops and counts the rest")
{
    struct dp_metrics *m = dp_metrics_new(1);
    struct dp_metrics_shard *s = dp_metrics_shard(m, 0);
    char model[32];
    for (int i = 0; i < DP_METRICS_MAX_SERIES + 5; i++) {
        snprintf(model, sizeof(model), "m%d", i);
        dp_metrics_request(s, "a", model, "e", 200);
    }
    dp_metrics_request(s, "a", "m0", "e", 200); /* an existing series still counts */
    char *t = render(m);
    CHECK_INT(dropped(t), 5);
    CHECK(strstr(t, "{api=\"a\",model=\"m0\",endpoint=\"e\",status=\"200\"} 2\n") != NULL);
    gw_free(t);
    dp_metrics_free(m);
}

TEST("allocation failures: counted or dropped, found again later")
{
    struct dp_metrics *m = dp_metrics_new(1);
    struct dp_metrics_shard *s = dp_metrics_shard(m, 0);
    for (long n = 0; n < 6; n++) {
        gw_alloc_fail_after(n);
        dp_metrics_request(s, "a", "m", "e", 200);
        gw_alloc_fail_after(-1);
    }
    for (int i = 0; i < 4; i++)
        dp_metrics_request(s, "a", "m", "e", 200);
    char *t = render(m);
    const char *line = strstr(t, "{api=\"a\",model=\"m\",endpoint=\"e\",status=\"200\"} ");
    CHECK(line != NULL);
    if (line)
        CHECK_INT(atoll(strchr(line, '}') + 2) + dropped(t), 10);
    gw_free(t);
    dp_metrics_free(m);
}

TEST_MAIN()
