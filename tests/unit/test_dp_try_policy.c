/* Unit tests of dataplane/try_policy.c: which failures do what (SPEC 3.1
 * step 4): the class of each outcome, which classes suspend, same-target
 * repeats (retries with 100-400 ms jitter, a 429's short Retry-After
 * waited out once, timeouts never), and the context_length_exceeded body. */
#include "testhelp.h"

#include "dataplane/try_policy.h"

#include <string.h>

static struct dp_outcome resp(int status, int64_t retry_after_ms)
{
    return (struct dp_outcome){DP_OUTCOME_RESPONSE, status, retry_after_ms, 0, 0, 0};
}

TEST("classes of every status and failure")
{
    static const int none[] = {200, 201, 204, 299, 400, 405, 413, 422};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        struct dp_outcome o = resp(none[i], -1);
        CHECK_INT(dp_fail_of(&o), DP_FAIL_NONE);
        CHECK_INT(dp_fail_failed(DP_FAIL_NONE), 0);
    }
    static const int caller[] = {401, 403, 404, 408, 409, 418, 451, 301, 304, 100};
    for (size_t i = 0; i < sizeof(caller) / sizeof(caller[0]); i++) {
        struct dp_outcome o = resp(caller[i], -1);
        CHECK_INT(dp_fail_of(&o), DP_FAIL_CALLER);
    }
    static const int retry5[] = {500, 502, 503, 504};
    for (size_t i = 0; i < 4; i++) {
        struct dp_outcome o = resp(retry5[i], -1);
        CHECK_INT(dp_fail_of(&o), DP_FAIL_5XX_RETRY);
    }
    struct dp_outcome o = resp(501, -1);
    CHECK_INT(dp_fail_of(&o), DP_FAIL_5XX);
    o = resp(599, -1);
    CHECK_INT(dp_fail_of(&o), DP_FAIL_5XX);
    o = resp(429, 1000);
    CHECK_INT(dp_fail_of(&o), DP_FAIL_429);
    o = resp(400, -1);
    o.context_length = 1;
    CHECK_INT(dp_fail_of(&o), DP_FAIL_CALLER); /* fails, suspends nothing */
    o = (struct dp_outcome){DP_OUTCOME_CONNECT_ERROR, 0, -1, 0, 0, 0};
    CHECK_INT(dp_fail_of(&o), DP_FAIL_CONNECT);
    o = (struct dp_outcome){DP_OUTCOME_TIMEOUT, 0, -1, 0, 0, 0};
    CHECK_INT(dp_fail_of(&o), DP_FAIL_TIMEOUT);
}

TEST("only 429, 5xx, connection errors and timeouts suspend")
{
    CHECK_INT(dp_fail_suspends(DP_FAIL_NONE), 0);
    CHECK_INT(dp_fail_suspends(DP_FAIL_CALLER), 0);
    CHECK_INT(dp_fail_suspends(DP_FAIL_CONNECT), 1);
    CHECK_INT(dp_fail_suspends(DP_FAIL_TIMEOUT), 1);
    CHECK_INT(dp_fail_suspends(DP_FAIL_5XX_RETRY), 1);
    CHECK_INT(dp_fail_suspends(DP_FAIL_5XX), 1);
    CHECK_INT(dp_fail_suspends(DP_FAIL_429), 1);
    for (int f = DP_FAIL_CONNECT; f <= DP_FAIL_CALLER; f++)
        CHECK_INT(dp_fail_failed((enum dp_fail)f), 1);
}

TEST("retries: connection errors and 500/502/503/504 up to `retries`, jittered; never timeouts")
{
    struct gw_cfg_routing rt = {.retries = 2};
    struct dp_again_state st = {0};
    struct dp_outcome conn = {DP_OUTCOME_CONNECT_ERROR, 0, -1, 0, 0, 0};
    struct dp_outcome s503 = resp(503, -1);
    int64_t w = dp_again_after(&rt, &st, &conn);
    CHECK(w >= 100 && w <= 400);
    w = dp_again_after(&rt, &st, &s503);
    CHECK(w >= 100 && w <= 400);
    CHECK_INT(dp_again_after(&rt, &st, &s503), -1); /* budget used up */
    CHECK_INT(st.retries, 2);
    struct dp_again_state st2 = {0};
    struct dp_outcome tmo = {DP_OUTCOME_TIMEOUT, 0, -1, 0, 0, 0};
    struct dp_outcome s501 = resp(501, -1), s404 = resp(404, -1), s200 = resp(200, -1);
    CHECK_INT(dp_again_after(&rt, &st2, &tmo), -1);
    CHECK_INT(dp_again_after(&rt, &st2, &s501), -1);
    CHECK_INT(dp_again_after(&rt, &st2, &s404), -1);
    CHECK_INT(dp_again_after(&rt, &st2, &s200), -1);
    CHECK_INT(dp_again_after(NULL, &st2, &conn), -1);
    struct gw_cfg_routing defaults = {0}; /* WSO2's behaviour: no repeat */
    CHECK_INT(dp_again_after(&defaults, &st2, &conn), -1);
    /* a TLS failure suspends like a connection error but is never repeated */
    struct dp_outcome tls = {DP_OUTCOME_CONNECT_ERROR, 0, -1, 0, 0, 1};
    CHECK_INT(dp_again_after(&rt, &st2, &tls), -1);
    CHECK_INT(st2.retries, 0);
    CHECK_INT(dp_fail_suspends(dp_fail_of(&tls)), 1);
    /* the jitter spreads over the whole range */
    int64_t lo = 1000, hi = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t j = dp_again_jitter_ms();
        CHECK(j >= 100 && j <= 400);
        lo = j < lo ? j : lo;
        hi = j > hi ? j : hi;
    }
    CHECK(lo < 130 && hi > 370);
}

TEST("429: a Retry-After up to maxRetryAfterWaitSec is waited out once; retries do not cover it")
{
    struct gw_cfg_routing rt = {.retries = 3, .max_retry_after_wait_s = 5};
    struct dp_again_state st = {0};
    struct dp_outcome long429 = resp(429, 6000), none429 = resp(429, -1), ok429 = resp(429, 5000);
    CHECK_INT(dp_again_after(&rt, &st, &long429), -1);
    CHECK_INT(dp_again_after(&rt, &st, &none429), -1);
    CHECK_INT(dp_again_after(&rt, &st, &ok429), 5000);
    CHECK_INT(dp_again_after(&rt, &st, &ok429), -1); /* once */
    CHECK_INT(st.retries, 0);
    struct gw_cfg_routing off = {.retries = 3};
    struct dp_again_state st2 = {0};
    struct dp_outcome zero429 = resp(429, 0);
    CHECK_INT(dp_again_after(&off, &st2, &zero429), -1); /* 0 s (the default) is off */
    rt.max_retry_after_wait_s = 1;
    struct dp_again_state st3 = {0};
    CHECK_INT(dp_again_after(&rt, &st3, &zero429), 0);
}

TEST("context_length_exceeded is read from OpenAI's error body")
{
    const char *yes = "{\"error\": {\"message\": \"too long\", \"type\": \"invalid_request_error\", "
                      "\"param\": \"messages\", \"code\": \"context_length_exceeded\"}}";
    const char *policy = "{\"error\": {\"message\": \"no\", \"code\": \"content_policy_violation\"}}";
    const char *in_message = "{\"error\": {\"message\": \"context_length_exceeded\", \"code\": null}}";
    CHECK_INT(dp_body_context_length(yes, strlen(yes)), 1);
    CHECK_INT(dp_body_context_length(policy, strlen(policy)), 0);
    CHECK_INT(dp_body_context_length(in_message, strlen(in_message)), 0);
    CHECK_INT(dp_body_context_length("context_length_exceeded", 23), 0);
    CHECK_INT(dp_body_context_length(NULL, 0), 0);
}

TEST_MAIN()
