/* Unit tests of dataplane/continuation.c with the SSE scanner it hooks into
 * (sse.c): what is kept of a stream (text, id, error events, what cannot be
 * continued), the continuation body, and the edit of a continuation's
 * events (original id, role chunk dropped, the repeated text skipped across
 * chunks, a mismatch). */
#include "testhelp.h"

#include "dataplane/continuation.h"

#include <string.h>

static const char *chunk(char *buf, size_t n, const char *id, const char *delta, const char *finish)
{
    snprintf(buf, n,
             "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
             "\"delta\":%s,\"finish_reason\":%s}]}\n\n",
             id, delta, finish ? finish : "null");
    return buf;
}

/* Feeds s to the scanner; returns the output (static buffer). */
static const char *feed(struct dp_sse_scan *sc, const char *s)
{
    static char text[8192];
    struct gw_buf out;
    gw_buf_init(&out, 1 << 20);
    CHECK_INT(dp_sse_scan_feed(sc, s, strlen(s), &out), 0);
    snprintf(text, sizeof(text), "%.*s", (int)out.len, out.data ? out.data : "");
    gw_buf_cleanup(&out);
    return text;
}

TEST("a watched stream keeps its text and id; error events are not passed on")
{
    struct dp_cont c;
    struct dp_sse_scan sc;
    char b[512];
    dp_cont_init(&c);
    dp_sse_scan_init(&sc, NULL, 0);
    dp_cont_watch(&c, &sc, GW_MIDSTREAM_CONTINUE, "/chat/completions", 1);
    CHECK(c.watching);
    feed(&sc, chunk(b, sizeof(b), "orig-1", "{\"role\":\"assistant\",\"content\":\"\"}", NULL));
    feed(&sc, chunk(b, sizeof(b), "orig-1", "{\"content\":\"Hello \"}", NULL));
    feed(&sc, chunk(b, sizeof(b), "orig-1", "{\"content\":\"wor\"}", NULL));
    CHECK_STR(feed(&sc, "data: {\"error\":{\"message\":\"boom\",\"code\":\"server_error\"}}\n\n"), "");
    CHECK(sc.error_event);
    CHECK_STR(sc.error_msg, "boom");
    CHECK_STR(feed(&sc, chunk(b, sizeof(b), "orig-1", "{\"content\":\"ld\"}", NULL)), "");
    CHECK_INT(c.text.len, 9);
    CHECK(memcmp(c.text.data, "Hello wor", 9) == 0);
    CHECK_INT(sc.content_bytes, 9);
    CHECK_STR(sc.id, "orig-1");
    CHECK(dp_cont_eligible(&c, &sc));
    dp_sse_scan_cleanup(&sc);
    dp_cont_cleanup(&c);
}

TEST("tool calls, several choices, other operations, the option off: no continuation")
{
    char b[512];
    struct dp_cont c;
    struct dp_sse_scan sc;
    dp_cont_init(&c);
    dp_sse_scan_init(&sc, NULL, 0);
    dp_cont_watch(&c, &sc, GW_MIDSTREAM_CONTINUE, "/chat/completions", 1);
    feed(&sc, chunk(b, sizeof(b), "x", "{\"tool_calls\":[{\"index\":0,\"id\":\"t\"}]}", NULL));
    CHECK(!dp_cont_eligible(&c, &sc));
    dp_sse_scan_cleanup(&sc);
    dp_sse_scan_init(&sc, NULL, 0);
    feed(&sc, "data: {\"id\":\"x\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"a\"}}]}\n\n");
    CHECK(!dp_cont_eligible(&c, &sc));
    dp_sse_scan_cleanup(&sc);
    dp_cont_cleanup(&c);

    dp_cont_init(&c);
    dp_sse_scan_init(&sc, NULL, 0);
    dp_cont_watch(&c, &sc, GW_MIDSTREAM_CONTINUE, "/completions", 1);
    CHECK(!dp_cont_eligible(&c, &sc));
    dp_cont_watch(&c, &sc, GW_MIDSTREAM_OFF, "/chat/completions", 1);
    CHECK(!dp_cont_eligible(&c, &sc));
    dp_cont_watch(&c, &sc, GW_MIDSTREAM_CONTINUE, "/chat/completions", 0); /* not SSE */
    CHECK(!dp_cont_eligible(&c, &sc));
    dp_sse_scan_cleanup(&sc);
    dp_cont_cleanup(&c);
}

TEST("the continuation body: the caller's request plus one assistant message")
{
    struct dp_cont c;
    struct dp_sse_scan sc;
    dp_cont_init(&c);
    dp_sse_scan_init(&sc, NULL, 0);
    snprintf(sc.id, sizeof(sc.id), "orig-2");
    gw_buf_append_str(&c.text, "Hi \"there\"");
    const char *body = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"hello\"}],\"temperature\":0.5}";
    CHECK_INT(dp_cont_begin(&c, &sc, "cut", body, strlen(body), "model"), 0);
    CHECK_INT(c.phase, DP_CONT_WITH_TEXT);
    CHECK_STR(c.id, "orig-2");
    CHECK_STR(c.reason, "cut");
    CHECK_STR(c.body.data, "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello\"},{\"role\":\"assistant\",\"content\":\"Hi "
                           "\\\"there\\\"\"}],\"temperature\":0.5}");
    CHECK(c.has_json && c.json.stream);
    CHECK_STR(c.json.model, "gpt-4o");
    /* a second break keeps the first reason */
    CHECK_INT(dp_cont_begin(&c, &sc, "later", body, strlen(body), "model"), 0);
    CHECK_STR(c.reason, "cut");
    const char *nomsg = "{\"model\":\"gpt-4o\",\"prompt\":\"x\"}";
    CHECK_INT(dp_cont_begin(&c, &sc, "cut", nomsg, strlen(nomsg), "model"), -1);
    dp_sse_scan_cleanup(&sc);
    dp_cont_cleanup(&c);
}

TEST("a continuation's events: the original id, no second role, the repeated text skipped")
{
    char b[512];
    struct dp_cont c;
    struct dp_sse_scan sc;
    dp_cont_init(&c);
    gw_buf_append_str(&c.text, "Hello wor");
    snprintf(c.id, sizeof(c.id), "orig-3");
    c.phase = DP_CONT_WITH_TEXT;
    dp_sse_scan_init(&sc, NULL, 0);
    dp_cont_attach(&c, &sc);
    CHECK_STR(feed(&sc, chunk(b, sizeof(b), "new", "{\"role\":\"assistant\",\"content\":\"\"}", NULL)),
              "");
    CHECK_STR(feed(&sc, chunk(b, sizeof(b), "new", "{\"role\":\"assistant\",\"content\":\"ld!\"}", NULL)),
              "data: {\"id\":\"orig-3\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
              "\"delta\":{\"content\":\"ld!\"},\"finish_reason\":null}]}\n\n");
    CHECK_INT(c.text.len, 12); /* the text goes on growing */
    dp_sse_scan_cleanup(&sc);

    /* without the message: the answer repeats "Hello world!" from the start */
    dp_cont_without_text(&c);
    CHECK_INT(c.skip, 12);
    dp_sse_scan_init(&sc, NULL, 0);
    dp_cont_attach(&c, &sc);
    CHECK_STR(feed(&sc, chunk(b, sizeof(b), "n2", "{\"content\":\"Hello \"}", NULL)), "");
    CHECK_STR(feed(&sc, chunk(b, sizeof(b), "n2", "{\"content\":\"world! And\"}", NULL)),
              "data: {\"id\":\"orig-3\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
              "\"delta\":{\"content\":\" And\"},\"finish_reason\":null}]}\n\n");
    CHECK_INT(c.skip, 0);
    CHECK(!c.mismatch);
    feed(&sc, "data: [DONE]\n\n");
    CHECK_INT(c.text.len, 16);
    dp_sse_scan_cleanup(&sc);

    /* an answer that does not begin with the text */
    dp_cont_without_text(&c);
    dp_sse_scan_init(&sc, NULL, 0);
    dp_cont_attach(&c, &sc);
    CHECK_STR(feed(&sc, chunk(b, sizeof(b), "n3", "{\"content\":\"Goodbye\"}", NULL)), "");
    CHECK(c.mismatch);
    CHECK(!dp_cont_eligible(&c, &sc));
    dp_sse_scan_cleanup(&sc);
    /* ... or ends before repeating all of it */
    c.mismatch = 0;
    dp_cont_without_text(&c);
    dp_sse_scan_init(&sc, NULL, 0);
    dp_cont_attach(&c, &sc);
    feed(&sc, chunk(b, sizeof(b), "n4", "{\"content\":\"Hello\"}", NULL));
    CHECK(!c.mismatch);
    feed(&sc, chunk(b, sizeof(b), "n4", "{}", "\"stop\""));
    CHECK(c.mismatch);
    dp_sse_scan_cleanup(&sc);
    /* ... or sends [DONE] (no finish_reason) first: held back, a mismatch */
    c.mismatch = 0;
    dp_cont_without_text(&c);
    dp_sse_scan_init(&sc, NULL, 0);
    dp_cont_attach(&c, &sc);
    feed(&sc, chunk(b, sizeof(b), "n5", "{\"content\":\"Hello\"}", NULL));
    CHECK_STR(feed(&sc, "data: [DONE]\n\n"), "");
    CHECK(c.mismatch);
    dp_sse_scan_cleanup(&sc);
    dp_cont_cleanup(&c);
}

TEST_MAIN()
