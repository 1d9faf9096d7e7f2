/* Unit tests of tests/mockllm/mock_reply.c: every body parses as JSON with
 * the fields the gateway reads. */
#include "testhelp.h"

#include "common/alloc.h"
#include "tests/mockllm/mock_embed.h"
#include "tests/mockllm/mock_reply.h"
#include "tests/mockllm/mock_responses.h"

#include <jansson.h>
#include <stdint.h>

static struct mock_reply reply(enum mock_route route, const char *model)
{
    struct mock_reply r = {.route = route, .name = "m1", .model = model, .id = 7,
                           .created = 1700000000, .prompt_tokens = 11, .completion_tokens = 22};
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

TEST("reply: every operation is JSON echoing the model, usage in OpenAI's names")
{
    /* chat-era operations say prompt_tokens, the newer ones input_tokens */
    enum mock_route routes[] = {MOCK_ROUTE_COMPLETIONS, MOCK_ROUTE_EMBEDDINGS,
                                MOCK_ROUTE_RESPONSES,   MOCK_ROUTE_IMAGES,
                                MOCK_ROUTE_TRANSCRIPTIONS, MOCK_ROUTE_TRANSLATIONS};
    const char *prompt_name[] = {"prompt_tokens", "prompt_tokens", "input_tokens",
                                 "input_tokens",  "input_tokens",  "input_tokens"};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        json_t *d = body_json(routes[i], "q\"uo\\te\n\x01");
        CHECK(d != NULL);
        CHECK_STR(json_string_value(json_object_get(d, "model")), "q\"uo\\te\n\x01");
        CHECK_INT(usage(d, prompt_name[i]), 11);
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

/* Decodes RFC 4648 base64 into out (at most outsz bytes); returns the length. */
static size_t unbase64(const char *s, unsigned char *out, size_t outsz)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(b64, *s);
        if (!p)
            return (size_t)-1;
        acc = (acc << 6) | (uint32_t)(p - b64);
        bits += 6;
        if (bits >= 8 && n < outsz) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

TEST("reply: embeddings, one vector per input, float or little-endian float32 base64")
{
    struct mock_reply r = reply(MOCK_ROUTE_EMBEDDINGS, "text-embedding-3-small");
    r.inputs = 3;
    r.dimensions = 5; /* 20 bytes: the last base64 group is padded */
    for (int b64 = 0; b64 < 2; b64++) {
        struct gw_buf b;
        r.base64 = b64;
        gw_buf_init(&b, 65536);
        CHECK_INT(mock_reply_body(&b, &r), 0);
        json_t *d = json_loadb(b.data, b.len, 0, NULL);
        CHECK(d != NULL);
        json_t *data = json_object_get(d, "data");
        CHECK_INT(json_array_size(data), 3);
        for (long i = 0; i < 3; i++) {
            json_t *e = json_array_get(data, (size_t)i);
            CHECK_INT(json_integer_value(json_object_get(e, "index")), i);
            json_t *v = json_object_get(e, "embedding");
            float got[8];
            if (b64) {
                unsigned char raw[64];
                CHECK_INT(strlen(json_string_value(v)), 28);
                CHECK_INT(unbase64(json_string_value(v), raw, sizeof(raw)), 20);
                for (int j = 0; j < 5; j++) {
                    uint32_t bits = (uint32_t)raw[4 * j] | (uint32_t)raw[4 * j + 1] << 8 |
                                    (uint32_t)raw[4 * j + 2] << 16 | (uint32_t)raw[4 * j + 3] << 24;
                    memcpy(&got[j], &bits, 4);
                }
            } else {
                CHECK_INT(json_array_size(v), 5);
                for (int j = 0; j < 5; j++)
                    got[j] = (float)json_real_value(json_array_get(v, (size_t)j));
            }
            for (int j = 0; j < 5; j++)
                CHECK(got[j] == mock_embed_value(i, j));
        }
        CHECK(mock_embed_value(0, 0) == 0.125f && mock_embed_value(2, 1) == -(0.375f + 1.0f / 1024));
        CHECK_INT(usage(d, "total_tokens"), 11);
        json_decref(d);
        gw_buf_cleanup(&b);
    }
}

TEST("reply: images as url or b64_json, n of them")
{
    struct mock_reply r = reply(MOCK_ROUTE_IMAGES, "gpt-image-1");
    r.images = 2;
    r.b64_json = 1;
    struct gw_buf b;
    gw_buf_init(&b, 65536);
    CHECK_INT(mock_reply_body(&b, &r), 0);
    json_t *d = json_loadb(b.data, b.len, 0, NULL);
    CHECK_INT(json_array_size(json_object_get(d, "data")), 2);
    CHECK(json_is_string(json_object_get(json_array_get(json_object_get(d, "data"), 1), "b64_json")));
    CHECK_INT(usage(d, "total_tokens"), 33);
    json_decref(d);
    gw_buf_cleanup(&b);
}

/* The JSON of the one "event: <type>\ndata: {...}\n\n" at *p; moves *p on. */
static json_t *next_event(const char **p, char type[64])
{
    const char *e = *p;
    if (strncmp(e, "event: ", 7) != 0)
        return NULL;
    const char *nl = strchr(e, '\n');
    snprintf(type, 64, "%.*s", (int)(nl - e - 7), e + 7);
    if (strncmp(nl + 1, "data: ", 6) != 0)
        return NULL;
    const char *data = nl + 7, *end = strstr(data, "\n\n");
    *p = end + 2;
    return json_loadb(data, (size_t)(end - data), 0, NULL);
}

TEST("reply: the Responses API's object and event sequence")
{
    struct mock_reply r = reply(MOCK_ROUTE_RESPONSES, "gpt-4o");
    json_t *d = body_json(MOCK_ROUTE_RESPONSES, "gpt-4o");
    CHECK_STR(json_string_value(json_object_get(d, "object")), "response");
    CHECK_STR(json_string_value(json_object_get(d, "status")), "completed");
    json_t *part = json_array_get(
        json_object_get(json_array_get(json_object_get(d, "output"), 0), "content"), 0);
    CHECK_STR(json_string_value(json_object_get(part, "type")), "output_text");
    CHECK_STR(json_string_value(json_object_get(part, "text")), "mock reply from m1 for gpt-4o");
    CHECK_INT(usage(d, "output_tokens"), 22);
    CHECK_INT(usage(d, "total_tokens"), 33);
    json_decref(d);

    static const char *const want[] = {
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"};
    struct gw_buf b;
    gw_buf_init(&b, 65536);
    CHECK_INT(mock_responses_head(&b, &r), 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(mock_responses_delta(&b, &r, i, 3), 0);
    CHECK_INT(mock_responses_tail(&b, &r, 3), 0);
    CHECK_INT(gw_buf_append(&b, "", 1), GW_BUF_OK); /* NUL-terminate */
    const char *p = b.data;
    char joined[256] = "", type[64];
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        json_t *ev = next_event(&p, type);
        CHECK(ev != NULL);
        CHECK_STR(type, want[k]);
        CHECK_STR(json_string_value(json_object_get(ev, "type")), want[k]);
        CHECK_INT(json_integer_value(json_object_get(ev, "sequence_number")), (long long)k);
        if (k >= 4 && k < 7)
            strncat(joined, json_string_value(json_object_get(ev, "delta")),
                    sizeof(joined) - strlen(joined) - 1);
        if (k == 10) {
            CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "response"), "status")),
                      "completed");
            CHECK_INT(usage(json_object_get(ev, "response"), "input_tokens"), 11);
        }
        json_decref(ev);
    }
    CHECK_STR(p, "");
    CHECK_STR(joined, "mock reply from m1 for gpt-4o");
    gw_buf_cleanup(&b);
}

TEST_MAIN()
