/* Unit tests of tests/mockllm/mock_reply.c: every body parses as JSON with
 * the fields the gateway reads. */
#include "testhelp.h"

#include "common/alloc.h"
#include "tests/mockllm/mock_reply.h"

#include <jansson.h>

static struct mock_reply reply(enum mock_route route, const char *model)
{
    struct mock_reply r = {route, "m1", model, 7, 1700000000, 11, 22};
    return r;
}

static json_t *body_json(enum mock_route route, const char *model)
{
    struct gw_buf b;
    struct mock_reply r = reply(route, model);
    gw_buf_init(&b, 65536);
    json_t *doc = NULL;
    if (mock_reply_body(&b, &r) == 0)
        doc = json_loadb(b.data, b.len, 0, NULL);
    gw_buf_cleanup(&b);
    return doc;
}

static long long usage(json_t *doc, const char *field)
{
    return json_integer_value(json_object_get(json_object_get(doc, "usage"), field));
}

TEST("reply: chat body")
{
    json_t *d = body_json(MOCK_ROUTE_CHAT, "gpt-4o");
    CHECK(d != NULL);
    CHECK_STR(json_string_value(json_object_get(d, "id")), "chatcmpl-mock-7");
    CHECK_STR(json_string_value(json_object_get(d, "object")), "chat.completion");
    CHECK_STR(json_string_value(json_object_get(d, "model")), "gpt-4o");
    json_t *msg = json_object_get(json_array_get(json_object_get(d, "choices"), 0), "message");
    CHECK_STR(json_string_value(json_object_get(msg, "content")), "mock reply from m1 for gpt-4o");
    CHECK_INT(usage(d, "prompt_tokens"), 11);
    CHECK_INT(usage(d, "completion_tokens"), 22);
    CHECK_INT(usage(d, "total_tokens"), 33);
    json_decref(d);
}

TEST("reply: every operation is JSON echoing the model")
{
    enum mock_route routes[] = {MOCK_ROUTE_COMPLETIONS, MOCK_ROUTE_EMBEDDINGS, MOCK_ROUTE_IMAGES,
                                MOCK_ROUTE_TRANSCRIPTIONS, MOCK_ROUTE_TRANSLATIONS};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        json_t *d = body_json(routes[i], "q\"uo\\te\n\x01");
        CHECK(d != NULL);
        CHECK_STR(json_string_value(json_object_get(d, "model")), "q\"uo\\te\n\x01");
        CHECK_INT(usage(d, "prompt_tokens"), 11);
        json_decref(d);
    }
    struct gw_buf b;
    struct mock_reply r = reply(MOCK_ROUTE_NONE, "x");
    gw_buf_init(&b, 1024);
    CHECK_INT(mock_reply_body(&b, &r), -1);
    gw_buf_cleanup(&b);
}

TEST("reply: stream chunks rebuild the text, split on UTF-8 boundaries")
{
    const char *model = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"; /* 3 characters, 9 bytes */
    struct mock_reply r = reply(MOCK_ROUTE_CHAT, model);
    char joined[512] = "";
    int n = 37; /* more chunks than characters: some are empty */
    for (int i = 0; i < n; i++) {
        struct gw_buf b;
        gw_buf_init(&b, 65536);
        CHECK_INT(mock_reply_chunk(&b, &r, i, n, i % 2), 0);
        CHECK(strncmp(b.data, "data: ", 6) == 0);
        CHECK(b.len > 8 && strcmp(b.data + b.len - 2, "\n\n") == 0);
        json_t *d = json_loadb(b.data + 6, b.len - 8, 0, NULL);
        CHECK(d != NULL);
        json_t *c0 = json_array_get(json_object_get(d, "choices"), 0);
        json_t *delta = json_object_get(c0, "delta");
        CHECK_INT(json_object_get(delta, "role") != NULL, i == 0);
        CHECK_INT(json_is_string(json_object_get(c0, "finish_reason")), i == n - 1);
        CHECK_INT(json_object_get(d, "usage") != NULL, i % 2);
        strncat(joined, json_string_value(json_object_get(delta, "content")),
                sizeof(joined) - strlen(joined) - 1);
        json_decref(d);
        gw_buf_cleanup(&b);
    }
    char want[128];
    snprintf(want, sizeof(want), "mock reply from m1 for %s", model);
    CHECK_STR(joined, want);
    struct gw_buf b;
    gw_buf_init(&b, 1024);
    CHECK_INT(mock_reply_chunk(&b, &r, 5, 5, 0), -1);
    CHECK_INT(mock_reply_chunk(&b, &r, 0, 0, 0), -1);
    gw_buf_cleanup(&b);
}

TEST("reply: usage chunk and error body")
{
    struct gw_buf b;
    struct mock_reply r = reply(MOCK_ROUTE_COMPLETIONS, "m");
    gw_buf_init(&b, 65536);
    CHECK_INT(mock_reply_usage_chunk(&b, &r), 0);
    json_t *d = json_loadb(b.data + 6, b.len - 8, 0, NULL);
    CHECK(d != NULL);
    CHECK_INT(json_array_size(json_object_get(d, "choices")), 0);
    CHECK_INT(usage(d, "total_tokens"), 33);
    json_decref(d);
    gw_buf_reset(&b);
    CHECK_INT(mock_reply_error(&b, 429, "slow \"down\""), 0);
    d = json_loadb(b.data, b.len, 0, NULL);
    json_t *e = json_object_get(d, "error");
    CHECK_STR(json_string_value(json_object_get(e, "message")), "slow \"down\"");
    CHECK_STR(json_string_value(json_object_get(e, "code")), "rate_limit_exceeded");
    CHECK(json_string_value(json_object_get(e, "type")) != NULL);
    json_decref(d);
    gw_buf_cleanup(&b);
}

TEST("reply: a buffer too small fails cleanly")
{
    struct gw_buf b;
    struct mock_reply r = reply(MOCK_ROUTE_CHAT, "gpt-4o");
    gw_buf_init(&b, 32);
    CHECK_INT(mock_reply_body(&b, &r), -1);
    CHECK(b.len == 0);
    gw_buf_cleanup(&b);
    /* Under allocation failure a chunk is -1 (nothing half-written counts),
     * until enough allocations succeed: then exactly the chunk written
     * without any failure. */
    struct gw_buf want;
    gw_buf_init(&want, 65536);
    CHECK_INT(mock_reply_chunk(&want, &r, 0, 1, 1), 0);
    int failed = 0, done = 0;
    for (long k = 0; k < 64 && !done; k++) {
        gw_buf_init(&b, 65536);
        gw_alloc_fail_after(k);
        int rc = mock_reply_chunk(&b, &r, 0, 1, 1);
        gw_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK(b.len == want.len && memcmp(b.data, want.data, want.len) == 0);
            done = 1;
        } else {
            CHECK_INT(rc, -1);
            failed++;
        }
        gw_buf_cleanup(&b);
    }
    CHECK(done);
    CHECK(failed > 0);
    gw_buf_cleanup(&want);
}

TEST_MAIN()
