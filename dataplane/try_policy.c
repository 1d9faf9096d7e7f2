/* Failure classification and same-target repeats (see try_policy.h).
 * Owns nothing but a per-thread random state for the jitter. Any thread. */
#include "try_policy.h"

#include "common/clock.h"

#include <jansson.h>
#include <string.h>

enum dp_fail dp_fail_of(const struct dp_outcome *o)
{
    switch (o->kind) {
    case DP_OUTCOME_CONNECT_ERROR:
        return DP_FAIL_CONNECT;
    case DP_OUTCOME_TIMEOUT:
        return DP_FAIL_TIMEOUT;
    case DP_OUTCOME_RESPONSE:
        break;
    }
    int s = o->status;
    if (s >= 200 && s < 300)
        return DP_FAIL_NONE;
    if (s == 400)
        return o->context_length ? DP_FAIL_CALLER : DP_FAIL_NONE;
    if (s == 405 || s == 413 || s == 422)
        return DP_FAIL_NONE; /* the caller's doing: final, returned as it is */
    if (s == 429)
        return DP_FAIL_429;
    if (s == 500 || s == 502 || s == 503 || s == 504)
        return DP_FAIL_5XX_RETRY;
    if (s >= 500 && s < 600)
        return DP_FAIL_5XX;
    return DP_FAIL_CALLER;
}

int dp_fail_failed(enum dp_fail f)
{
    return f != DP_FAIL_NONE;
}

int dp_fail_suspends(enum dp_fail f)
{
    switch (f) {
    case DP_FAIL_CONNECT:
    case DP_FAIL_TIMEOUT:
    case DP_FAIL_5XX_RETRY:
    case DP_FAIL_5XX:
    case DP_FAIL_429:
        return 1;
    case DP_FAIL_NONE:
    case DP_FAIL_CALLER:
        break;
    }
    return 0;
}

/* xorshift64*, seeded per thread from the clock: jitter needs spread, not
 * secrecy. */
static uint64_t next_random(void)
{
    static _Thread_local uint64_t s;
    if (!s)
        s = ((uint64_t)gw_now_ms() << 20) ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ULL;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dULL;
}

int64_t dp_again_jitter_ms(void)
{
    return 100 + (int64_t)(next_random() % 301);
}

int64_t dp_again_after(const struct gw_cfg_routing *rt, struct dp_again_state *st,
                       const struct dp_outcome *o)
{
    if (!rt)
        return -1;
    switch (dp_fail_of(o)) {
    case DP_FAIL_CONNECT:
    case DP_FAIL_5XX_RETRY:
        if (o->tls || st->retries >= rt->retries)
            return -1;
        st->retries++;
        return dp_again_jitter_ms();
    case DP_FAIL_429:
        /* 0 (the default) is off, so the defaults keep WSO2's behaviour
         * even for "Retry-After: 0". */
        if (st->waited429 || rt->max_retry_after_wait_s <= 0 || o->retry_after_ms < 0 ||
            o->retry_after_ms > (int64_t)rt->max_retry_after_wait_s * 1000)
            return -1;
        st->waited429 = 1;
        return o->retry_after_ms;
    case DP_FAIL_NONE:
    case DP_FAIL_TIMEOUT: /* never repeated on the same target */
    case DP_FAIL_5XX:
    case DP_FAIL_CALLER:
        break;
    }
    return -1;
}

int dp_body_context_length(const char *body, size_t n)
{
    if (!body || n == 0 || !memmem(body, n, "context_length_exceeded", 23))
        return 0; /* the cheap test first: most 400s are something else */
    json_t *doc = json_loadb(body, n, 0, NULL);
    json_t *code = json_object_get(json_object_get(doc, "error"), "code");
    int yes = json_is_string(code) && strcmp(json_string_value(code), "context_length_exceeded") == 0;
    json_decref(doc);
    return yes;
}
