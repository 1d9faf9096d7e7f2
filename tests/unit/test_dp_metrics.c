/* Unit tests of dataplane/metrics.c (shards merged on render, label
 * escaping, histogram buckets, allocation failure) and of the JSON string
 * writer of dataplane/accesslog.c. */
#include "testhelp.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "dataplane/accesslog.h"
#include "dataplane/metrics.h"

#include <stdlib.h>
#include <string.h>

TEST("counters of two shards are merged")
{
    struct dp_metrics *m = dp_metrics_new(2);
    dp_metrics_request(dp_metrics_shard(m, 0), "api", "gpt-4o", "ep", 200);
    dp_metrics_request(dp_metrics_shard(m, 1), "api", "gpt-4o", "ep", 200);
    dp_metrics_request(dp_metrics_shard(m, 1), "api", "gpt-4o", "ep", 429);
    dp_metrics_tokens(dp_metrics_shard(m, 0), "api", "gpt-4o", 10, 20);
    dp_metrics_tokens(dp_metrics_shard(m, 1), "api", "gpt-4o", 1, -1);
    dp_metrics_ratelimited(dp_metrics_shard(m, 1), "api");
    struct gw_buf out;
    gw_buf_init(&out, 1 << 20);
    CHECK_INT(dp_metrics_render(m, NULL, NULL, 7, &out), 0);
    CHECK(strstr(out.data, "modelmux_requests_total{api=\"api\",model=\"gpt-4o\",endpoint=\"ep\","
                           "status=\"200\"} 2\n") != NULL);
    CHECK(strstr(out.data, "status=\"429\"} 1\n") != NULL);
    CHECK(strstr(out.data, "modelmux_tokens_total{api=\"api\",model=\"gpt-4o\",kind=\"prompt\"} 11\n"));
    CHECK(strstr(out.data, "kind=\"completion\"} 20\n") != NULL);
    CHECK(strstr(out.data, "modelmux_ratelimited_total{api=\"api\"} 1\n") != NULL);
    CHECK(strstr(out.data, "modelmux_config_revision 7\n") != NULL);
    gw_buf_cleanup(&out);
    dp_metrics_free(m);
}

TEST("histogram buckets are cumulative and labels escaped")
{
    struct dp_metrics *m = dp_metrics_new(1);
    dp_metrics_upstream(dp_metrics_shard(m, 0), "e\"p\\1\n", 7);
    dp_metrics_upstream(dp_metrics_shard(m, 0), "e\"p\\1\n", 3000);
    struct gw_buf out;
    gw_buf_init(&out, 1 << 20);
    CHECK_INT(dp_metrics_render(m, NULL, NULL, -1, &out), 0);
    CHECK(strstr(out.data, "{endpoint=\"e\\\"p\\\\1\\n\",le=\"0.005\"} 0\n") != NULL);
    CHECK(strstr(out.data, "{endpoint=\"e\\\"p\\\\1\\n\",le=\"0.01\"} 1\n") != NULL);
    CHECK(strstr(out.data, "{endpoint=\"e\\\"p\\\\1\\n\",le=\"5\"} 2\n") != NULL);
    CHECK(strstr(out.data, "_count{endpoint=\"e\\\"p\\\\1\\n\"} 2\n") != NULL);
    gw_buf_cleanup(&out);
    dp_metrics_free(m);
}

TEST("issue 12: time to first token, tries by outcome, stream breaks")
{
    struct dp_metrics *m = dp_metrics_new(2);
    dp_metrics_ttft(dp_metrics_shard(m, 0), "api", "gpt-4o-mini", 40);
    dp_metrics_ttft(dp_metrics_shard(m, 1), "api", "gpt-4o-mini", 1500);
    dp_metrics_try(dp_metrics_shard(m, 0), "api", "gpt-4o", "ep", "retried");
    dp_metrics_try(dp_metrics_shard(m, 1), "api", "gpt-4o", "ep", "retried");
    dp_metrics_try(dp_metrics_shard(m, 1), "api", "gpt-4o", "ep", "continued");
    dp_metrics_stream_break(dp_metrics_shard(m, 0), "api", "ep");
    struct gw_buf out;
    gw_buf_init(&out, 1 << 20);
    CHECK_INT(dp_metrics_render(m, NULL, NULL, 1, &out), 0);
    CHECK(strstr(out.data, "# TYPE modelmux_time_to_first_token_seconds histogram\n") != NULL);
    CHECK(strstr(out.data, "modelmux_time_to_first_token_seconds_bucket{api=\"api\",model=\"gpt-4o-"
                           "mini\",le=\"0.05\"} 1\n") != NULL);
    CHECK(strstr(out.data, "modelmux_time_to_first_token_seconds_count{api=\"api\",model=\"gpt-4o-"
                           "mini\"} 2\n") != NULL);
    CHECK(strstr(out.data, "modelmux_tries_total{api=\"api\",model=\"gpt-4o\",endpoint=\"ep\","
                           "outcome=\"retried\"} 2\n") != NULL);
    CHECK(strstr(out.data, "outcome=\"continued\"} 1\n") != NULL);
    CHECK(strstr(out.data, "modelmux_stream_breaks_total{api=\"api\",endpoint=\"ep\"} 1\n") != NULL);
    gw_buf_cleanup(&out);
    dp_metrics_free(m);
}

/* Each update under an allocation failure is either counted or dropped (and
 * counted as dropped): never lost, never both. A render that runs out of
 * memory answers -1 (the scrape gets 503) and leaves the registry intact:
 * the next render gives the same text as one that never failed. */
TEST("allocation failures: updates counted or dropped; a failed render is -1, then exact")
{
    struct dp_metrics *m = dp_metrics_new(1);
    for (long n = 0; n < 8; n++) {
        gw_alloc_fail_after(n);
        dp_metrics_request(dp_metrics_shard(m, 0), "a", "m", "e", 200);
        gw_alloc_fail_after(-1);
    }
    struct gw_buf want;
    gw_buf_init(&want, 1 << 20);
    CHECK_INT(dp_metrics_render(m, NULL, NULL, 1, &want), 0);
    const char *line = strstr(want.data, "modelmux_requests_total{api=\"a\",model=\"m\",endpoint=\"e\","
                                         "status=\"200\"} ");
    const char *drop = strstr(want.data, "\nmodelmux_metrics_dropped_total ");
    CHECK(line != NULL && drop != NULL);
    if (line && drop)
        CHECK_INT(strtoll(strchr(line, '}') + 2, NULL, 10) +
                      strtoll(drop + strlen("\nmodelmux_metrics_dropped_total "), NULL, 10),
                  8);
    int failed = 0;
    for (long n = 0;; n++) {
        struct gw_buf out;
        gw_buf_init(&out, 1 << 20);
        gw_alloc_fail_after(n);
        int rc = dp_metrics_render(m, NULL, NULL, 1, &out);
        gw_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK(out.len == want.len && memcmp(out.data, want.data, want.len) == 0);
            gw_buf_cleanup(&out);
            break;
        }
        CHECK_INT(rc, -1);
        failed++;
        gw_buf_cleanup(&out);
        if (n > 1000) {
            CHECK(!"render never succeeded");
            break;
        }
    }
    CHECK(failed > 0); /* the first allocations of a render can fail: it was exercised */
    gw_buf_cleanup(&want);
    dp_metrics_free(m);
}

TEST("JSON strings are escaped")
{
    struct gw_buf b;
    gw_buf_init(&b, 1024);
    CHECK_INT(dp_json_str(&b, "a\"b\\c\n\x01"), 0);
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    gw_buf_reset(&b);
    CHECK_INT(dp_json_str(&b, NULL), 0);
    CHECK_STR(b.data, "null");
    gw_buf_cleanup(&b);
}

TEST_MAIN()
