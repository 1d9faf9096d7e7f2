/* Unit tests of dataplane/relay.c behind a fake owner (struct dp_relay_cb):
 * the reader parks when empty and is woken by data, the upstream is paused
 * at the high mark and unpaused below the low one, SSE usage reaches the
 * end callback (and the usage-only chunk we asked for is dropped), a
 * failed upstream ends the stream with an error, the hard cap aborts. */
#include "testhelp.h"

#include "dataplane/relay.h"

#include <curl/curl.h>
#include <microhttpd.h>

struct owner {
    int wakes, unpauses, parks, ends;
    int saw_usage;
    struct dp_usage usage;
};

static void o_wake(void *arg)
{
    ((struct owner *)arg)->wakes++;
}

static void o_unpause(void *arg)
{
    ((struct owner *)arg)->unpauses++;
}

static void o_park(void *arg)
{
    ((struct owner *)arg)->parks++;
}

static void o_end(void *arg, const struct dp_usage *u)
{
    struct owner *o = arg;
    o->ends++;
    if (u) {
        o->saw_usage = 1;
        o->usage = *u;
    }
}

static const struct dp_relay_cb cb = {o_wake, o_unpause, o_park, o_end, NULL};

static const struct dp_vendor openai = {
    .id = "v",
    .name = "OpenAI",
    .model_in = DP_MODEL_IN_BODY,
    .model_field = "model",
    .usage_prompt = "usage.prompt_tokens",
    .usage_completion = "usage.completion_tokens",
    .usage_total = "usage.total_tokens",
};

TEST("empty: the reader parks (returns 0 only after parking); data wakes it")
{
    struct owner o = {0};
    struct dp_relay rl;
    dp_relay_init(&rl, &cb, &o, &openai, 0, 0);
    char buf[64];
    CHECK_INT(dp_relay_read(&rl, 0, buf, sizeof(buf)), 0);
    CHECK_INT(o.parks, 1);
    CHECK_INT(rl.reader_waiting, 1);
    CHECK_INT(dp_relay_data(&rl, "hello", 5), 5);
    CHECK_INT(o.wakes, 1);
    dp_relay_resumed(&rl);
    CHECK_INT(rl.reader_waiting, 0);
    CHECK_INT(dp_relay_read(&rl, 0, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_INT(dp_relay_data(&rl, "x", 1), 1);
    CHECK_INT(o.wakes, 1); /* the reader was not waiting */
    dp_relay_upstream_done(&rl, 0);
    CHECK_INT(dp_relay_read(&rl, 0, buf, sizeof(buf)), 1);
    CHECK_INT(dp_relay_read(&rl, 0, buf, sizeof(buf)), MHD_CONTENT_READER_END_OF_STREAM);
    CHECK_INT(o.ends, 1);
    CHECK_INT(o.saw_usage, 0);
    dp_relay_cleanup(&rl);
    dp_relay_cleanup(&rl); /* twice is fine */
}

TEST("backpressure: PAUSE at the high mark, unpause once drained below the low one")
{
    struct owner o = {0};
    struct dp_relay rl;
    dp_relay_init(&rl, &cb, &o, &openai, 0, 0);
    static char chunk[DP_RELAY_HIGH];
    memset(chunk, 'a', sizeof(chunk));
    CHECK_INT(dp_relay_data(&rl, chunk, sizeof(chunk)), sizeof(chunk));
    CHECK_INT(dp_relay_data(&rl, chunk, 10), CURL_WRITEFUNC_PAUSE);
    CHECK_INT(rl.buf.len, DP_RELAY_HIGH);
    static char out[DP_RELAY_HIGH];
    CHECK_INT(dp_relay_read(&rl, 0, out, DP_RELAY_HIGH - DP_RELAY_LOW), DP_RELAY_HIGH - DP_RELAY_LOW);
    CHECK_INT(o.unpauses, 0); /* exactly at the low mark: not below */
    CHECK_INT(dp_relay_read(&rl, 0, out, 1), 1);
    CHECK_INT(o.unpauses, 1);
    CHECK_INT(dp_relay_read(&rl, 0, out, sizeof(out)), DP_RELAY_LOW - 1);
    CHECK_INT(o.unpauses, 1);
    dp_relay_cleanup(&rl);
}

TEST("a paused upstream is unpaused when the reader finds nothing")
{
    struct owner o = {0};
    struct dp_relay rl;
    dp_relay_init(&rl, &cb, &o, &openai, 0, 0);
    rl.upstream_paused = 1; /* as after a PAUSE whose bytes were all read */
    char buf[8];
    CHECK_INT(dp_relay_read(&rl, 0, buf, sizeof(buf)), 0);
    CHECK_INT(o.unpauses, 1);
    CHECK_INT(o.parks, 1);
    dp_relay_cleanup(&rl);
}

TEST("SSE: usage reaches the end callback, the usage-only chunk we asked for is dropped")
{
    struct owner o = {0};
    struct dp_relay rl;
    dp_relay_init(&rl, &cb, &o, &openai, 1, 1);
    const char *a = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n";
    const char *u = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,"
                    "\"completion_tokens\":5,\"total_tokens\":7}}\n\n";
    const char *d = "data: [DONE]\n\n";
    CHECK_INT(dp_relay_data(&rl, a, strlen(a)), strlen(a));
    CHECK_INT(dp_relay_data(&rl, u, strlen(u)), strlen(u));
    CHECK_INT(dp_relay_data(&rl, d, strlen(d)), strlen(d));
    struct dp_usage now;
    CHECK_INT(dp_relay_usage(&rl, &now), 1);
    CHECK_INT(now.total, 7);
    dp_relay_upstream_done(&rl, 0);
    char buf[1024];
    ssize_t n = dp_relay_read(&rl, 0, buf, sizeof(buf));
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    CHECK(strstr(buf, "\"hi\"") != NULL);
    CHECK(strstr(buf, "prompt_tokens") == NULL);
    CHECK(strstr(buf, "[DONE]") != NULL);
    CHECK_INT(o.ends, 0); /* the end is reported once everything was read */
    CHECK_INT(dp_relay_read(&rl, 0, buf, sizeof(buf)), MHD_CONTENT_READER_END_OF_STREAM);
    CHECK_INT(o.ends, 1);
    CHECK_INT(o.saw_usage, 1);
    CHECK_INT(o.usage.prompt, 2);
    CHECK_INT(o.usage.completion, 5);
    dp_relay_cleanup(&rl);
}

TEST("a failed upstream ends the stream with an error after what was relayed")
{
    struct owner o = {0};
    struct dp_relay rl;
    dp_relay_init(&rl, &cb, &o, &openai, 0, 0);
    char buf[16];
    CHECK_INT(dp_relay_read(&rl, 0, buf, sizeof(buf)), 0);
    CHECK_INT(dp_relay_data(&rl, "abc", 3), 3);
    dp_relay_upstream_done(&rl, 1);
    CHECK_INT(o.wakes, 2); /* data, then the end (the reader still waits) */
    CHECK_INT(dp_relay_read(&rl, 0, buf, sizeof(buf)), 3);
    CHECK_INT(dp_relay_read(&rl, 0, buf, sizeof(buf)), MHD_CONTENT_READER_END_WITH_ERROR);
    dp_relay_cleanup(&rl);
}

TEST("over the hard cap without an SSE boundary: the transfer is aborted")
{
    struct owner o = {0};
    struct dp_relay rl;
    dp_relay_init(&rl, &cb, &o, &openai, 0, 0);
    rl.buf.max = 8; /* a tiny cap, as DP_RELAY_MAX is for real streams */
    CHECK_INT(dp_relay_data(&rl, "12345678", 8), 8);
    CHECK_INT(dp_relay_data(&rl, "9", 1), 0);
    dp_relay_cleanup(&rl);
}

TEST_MAIN()
