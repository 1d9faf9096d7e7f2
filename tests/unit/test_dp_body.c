/* Unit tests of dataplane/body_json.c and usage.c: parsing request bodies
 * (depth limit before jansson recurses, types, model, stream flags),
 * rendering with the model replaced and include_usage forced, order kept,
 * and token usage at the vendor's dotted paths. */
#include "testhelp.h"

#include "common/alloc.h"
#include "dataplane/body.h"

#include <stdlib.h>

static int parse(const char *s, struct dp_json_body *b, struct gw_err *err)
{
    return dp_body_parse_json(s, strlen(s), "model", b, err);
}

TEST("parse: model, stream, include_usage")
{
    struct dp_json_body b;
    struct gw_err err;
    CHECK_INT(parse("{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    &b, &err),
              0);
    CHECK_STR(b.model, "gpt-4o");
    CHECK_INT(b.stream, 1);
    CHECK_INT(b.include_usage, 1);
    dp_body_json_cleanup(&b);
    dp_body_json_cleanup(&b); /* twice is harmless */

    CHECK_INT(parse("{\"messages\":[],\"stream\":\"yes\",\"stream_options\":true}", &b, &err), 0);
    CHECK(b.model == NULL);
    CHECK_INT(b.stream, 0);
    CHECK_INT(b.include_usage, 0);
    dp_body_json_cleanup(&b);

    /* The vendor's field name is used. */
    const char *dep = "{\"model\":1,\"deployment\":\"d\"}";
    CHECK_INT(dp_body_parse_json(dep, strlen(dep), "deployment", &b, &err), 0);
    CHECK_STR(b.model, "d");
    dp_body_json_cleanup(&b);
}

TEST("parse: not JSON, not an object, bad model type: 400")
{
    static const char *const bad[] = {
        "", "{", "nope", "[1,2]", "\"model\"", "42", "null", "{\"model\":5}", "{\"model\":null}",
        "{\"model\":[\"a\"]}", "{\"model\":\"a\\u0000b\"}", "{\"a\":1}{\"b\":2}", "{\"a\":1,}",
        "\xff\xfe{}", "{\"a\":\"\xc3\x28\"}", "{\"model\":\"gpt\\r\\nX-Evil: 1\"}",
        "{\"model\":\"tab\\there\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct dp_json_body b;
        struct gw_err err;
        gw_err_clear(&err);
        CHECK_INT(parse(bad[i], &b, &err), -1);
        CHECK_INT(gw_err_http_status(err.kind), 400);
        CHECK(b.doc == NULL);
        CHECK(err.message[0] != '\0');
    }
}

TEST("model length: DP_MODEL_MAX passes, one more fails")
{
    char buf[DP_MODEL_MAX + 32];
    struct dp_json_body b;
    struct gw_err err;
    for (int extra = 0; extra < 2; extra++) {
        int n = snprintf(buf, sizeof(buf), "{\"model\":\"");
        memset(buf + n, 'm', DP_MODEL_MAX + extra);
        snprintf(buf + n + DP_MODEL_MAX + extra, 8, "\"}");
        CHECK_INT(parse(buf, &b, &err), extra ? -1 : 0);
        dp_body_json_cleanup(&b);
    }
}

static char *nested(int depth, const char *open, const char *close, const char *inner)
{
    size_t n = strlen(inner) + (size_t)depth * (strlen(open) + strlen(close)) + 1;
    char *s = malloc(n), *p = s;
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    for (int i = 0; i < depth; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, inner, li);
    p += li;
    for (int i = 0; i < depth; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

TEST("depth limit: 64 levels pass, 65 fail, a million fail fast; strings do not count")
{
    struct dp_json_body b;
    struct gw_err err;
    /* {"a": [[...[1]...]]}: the object is level 1. */
    char *inner = nested(DP_JSON_MAX_DEPTH - 1, "[", "]", "1");
    char *ok = malloc(strlen(inner) + 16);
    snprintf(ok, strlen(inner) + 16, "{\"a\":%s}", inner);
    CHECK_INT(parse(ok, &b, &err), 0);
    dp_body_json_cleanup(&b);
    free(inner);
    free(ok);

    inner = nested(DP_JSON_MAX_DEPTH, "[", "]", "1");
    char *deep = malloc(strlen(inner) + 16);
    snprintf(deep, strlen(inner) + 16, "{\"a\":%s}", inner);
    CHECK_INT(parse(deep, &b, &err), -1);
    CHECK(strstr(err.message, "deeper") != NULL);
    free(inner);
    free(deep);

    /* Far beyond jansson's own limit (2048): refused by the pre-scan. */
    char *huge = nested(1000000, "{\"a\":", "}", "1");
    CHECK_INT(parse(huge, &b, &err), -1);
    CHECK_INT(gw_err_http_status(err.kind), 400);
    free(huge);

    /* Brackets inside strings (with escaped quotes) are not nesting. */
    char *str = nested(500, "[", "", "");
    char *text = malloc(strlen(str) + 64);
    snprintf(text, strlen(str) + 64, "{\"model\":\"m\",\"c\":\"\\\"%s\\\\\",\"d\":[{}]}", str);
    CHECK_INT(parse(text, &b, &err), 0);
    dp_body_json_cleanup(&b);
    free(str);
    free(text);
}

static char *render(const char *in, const char *model, int force_usage)
{
    struct dp_json_body b;
    struct gw_err err;
    struct gw_buf out;
    gw_buf_init(&out, 1 << 20);
    if (parse(in, &b, &err) != 0)
        return NULL;
    int rc = dp_body_render_json(&b, "model", model, force_usage, &out);
    if (rc == 0 && model && strcmp(b.model, model) != 0)
        rc = -1;
    dp_body_json_cleanup(&b);
    if (rc != 0) {
        gw_buf_cleanup(&out);
        return NULL;
    }
    return gw_buf_take(&out);
}

struct render_case {
    const char *in, *model;
    int force_usage;
    const char *want;
};

static const struct render_case render_cases[] = {
    /* the model replaced in place, every other byte kept as the caller sent
     * it (spacing, escapes) */
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"h\\u00e9 \\\"x\\\"\"}],"
     " \"model\": \"gpt-4o\", \"temperature\": 0.5, \"n\": 2, \"z\": null}",
     "o1-mini", 0,
     "{\"messages\": [{\"role\": \"user\", \"content\": \"h\\u00e9 \\\"x\\\"\"}],"
     " \"model\": \"o1-mini\", \"temperature\": 0.5, \"n\": 2, \"z\": null}"},
    /* a body the scanner leaves to jansson (an escaped key): written compact */
    {"{\"messages\": [], \"\\u006e\": 2, \"model\": \"gpt-4o\"}", "o1-mini", 0,
     "{\"messages\":[],\"n\":2,\"model\":\"o1-mini\"}"},
    /* no model in the body: added at the end */
    {"{\"b\":1,\"a\":2}", "gpt-4o", 0, "{\"b\":1,\"a\":2,\"model\":\"gpt-4o\"}"},
    /* NULL model: unchanged */
    {"{\"model\":\"keep\",\"x\":[]}", NULL, 0, "{\"model\":\"keep\",\"x\":[]}"},
    {"{\"model\":\"m\",\"stream\":true}", "m2", 1,
     "{\"model\":\"m2\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
    {"{\"stream\":true,\"stream_options\":{\"include_usage\":false,\"x\":1}}", NULL, 1,
     "{\"stream\":true,\"stream_options\":{\"include_usage\":true,\"x\":1}}"},
    {"{\"stream\":true,\"stream_options\":\"bogus\"}", NULL, 1,
     "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
    /* hostile model text is escaped, not injected */
    {"{\"model\":\"a\"}", "x\",\"admin\":true,\"y\":\"", 0,
     "{\"model\":\"x\\\",\\\"admin\\\":true,\\\"y\\\":\\\"\"}"},
};

TEST("render: model replaced in place, other fields kept in order, usage forced")
{
    for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
        const struct render_case *c = &render_cases[i];
        char *s = render(c->in, c->model, c->force_usage);
        CHECK_STR(s, c->want);
        gw_free(s);
    }
}

TEST("render: a full output buffer fails cleanly")
{
    struct dp_json_body b;
    struct gw_err err;
    struct gw_buf out;
    gw_buf_init(&out, 10);
    CHECK_INT(parse("{\"model\":\"gpt-4o\",\"messages\":[]}", &b, &err), 0);
    CHECK_INT(dp_body_render_json(&b, "model", "o1", 0, &out), -1);
    CHECK(out.data == NULL);
    dp_body_json_cleanup(&b);
}

TEST("parse and render under allocation failure: error or success, no leak")
{
    gw_alloc_init();
    const char *in = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                     "\"content\":\"hello\"}],\"temperature\":0.2}";
    int ok = 0;
    for (long n = 0; n < 1000 && !ok; n++) {
        struct dp_json_body b;
        struct gw_err err;
        struct gw_buf out;
        gw_buf_init(&out, 1 << 16);
        gw_alloc_fail_after(n);
        if (parse(in, &b, &err) == 0) {
            if (dp_body_render_json(&b, "model", "o1-mini", 1, &out) == 0)
                ok = 1;
            dp_body_json_cleanup(&b);
        } else {
            CHECK(err.kind == GW_ERR_NOMEM || err.kind == GW_ERR_INVALID);
        }
        gw_alloc_fail_after(-1);
        gw_buf_cleanup(&out);
    }
    CHECK(ok);
}

TEST("usage at the vendor's dotted paths")
{
    struct dp_vendor v = {.usage_prompt = "usage.prompt_tokens",
                          .usage_completion = "usage.completion_tokens",
                          .usage_total = "usage.total_tokens"};
    struct dp_usage u;
    const char *r = "{\"id\":\"x\",\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,"
                    "\"total_tokens\":18}}";
    CHECK_INT(dp_usage_from_json(r, strlen(r), &v, &u), 1);
    CHECK_INT(u.prompt, 11);
    CHECK_INT(u.completion, 7);
    CHECK_INT(u.total, 18);
    CHECK_INT(dp_usage_from_json(r, strlen(r), NULL, &u), 1); /* OpenAI defaults */
    CHECK_INT(u.total, 18);

    struct dp_vendor deep = {.usage_prompt = "meta.billing.in", .usage_completion = "out",
                             .usage_total = ""};
    const char *d = "{\"meta\":{\"billing\":{\"in\":3}},\"out\":4,\"usage\":{}}";
    CHECK_INT(dp_usage_from_json(d, strlen(d), &deep, &u), 1);
    CHECK_INT(u.prompt, 3);
    CHECK_INT(u.completion, 4);
    CHECK_INT(u.total, -1);

    static const char *const none[] = {
        "{}", "{\"usage\":null}", "{\"usage\":{\"prompt_tokens\":\"5\"}}",
        "{\"usage\":{\"prompt_tokens\":-1}}", "{\"usage\":{\"prompt_tokens\":1.5}}", "[1]",
        "not json", "", "{\"usage\":[{\"prompt_tokens\":1}]}",
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        CHECK_INT(dp_usage_from_json(none[i], strlen(none[i]), &v, &u), 0);
        CHECK(u.prompt == -1 && u.completion == -1 && u.total == -1);
    }
    /* A deeply nested response is refused by jansson itself, not a crash. */
    char *deepjson = nested(100000, "[", "]", "1");
    CHECK_INT(dp_usage_from_json(deepjson, strlen(deepjson), &v, &u), 0);
    free(deepjson);
}

TEST("usage in the Responses API's names when the vendor's paths find nothing")
{
    struct dp_vendor v = {.usage_prompt = "usage.prompt_tokens",
                          .usage_completion = "usage.completion_tokens",
                          .usage_total = "usage.total_tokens"};
    struct dp_usage u;
    const char *r = "{\"object\":\"response\",\"temperature\":1.0,\"usage\":{\"input_tokens\":12,"
                    "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":5,"
                    "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":17}}";
    const struct dp_vendor *vs[] = {&v, NULL};
    for (int k = 0; k < 2; k++) {
        CHECK_INT(dp_usage_from_json(r, strlen(r), vs[k], &u), 1);
        CHECK(u.prompt == 12 && u.completion == 5 && u.total == 17);
    }
    /* the jansson path (a real inside the usage object) finds them too */
    const char *f = "{\"usage\":{\"x\":0.5,\"input_tokens\":3,\"output_tokens\":4}}";
    CHECK_INT(dp_usage_from_json(f, strlen(f), &v, &u), 1);
    CHECK(u.prompt == 3 && u.completion == 4 && u.total == -1);
    /* the vendor's names win for each count they find */
    const char *both = "{\"usage\":{\"prompt_tokens\":1,\"input_tokens\":9,\"output_tokens\":8}}";
    CHECK_INT(dp_usage_from_json(both, strlen(both), &v, &u), 1);
    CHECK(u.prompt == 1 && u.completion == 8 && u.total == -1);
    /* embeddings: prompt and total, no completion anywhere */
    const char *emb = "{\"data\":[],\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}";
    CHECK_INT(dp_usage_from_json(emb, strlen(emb), &v, &u), 1);
    CHECK(u.prompt == 4 && u.completion == -1 && u.total == 4);
    /* a vendor whose usage lives elsewhere falls back to usage.input_tokens */
    struct dp_vendor meta = {.usage_prompt = "meta.in", .usage_completion = "meta.out",
                             .usage_total = "meta.total"};
    CHECK_INT(dp_usage_from_json(r, strlen(r), &meta, &u), 1);
    CHECK(u.prompt == 12 && u.total == 17);
    const char *m = "{\"meta\":{\"in\":2}}";
    CHECK_INT(dp_usage_from_json(m, strlen(m), &meta, &u), 1);
    CHECK(u.prompt == 2 && u.completion == -1);
    CHECK_INT(dp_usage_from_json("{\"meta\":{}}", 11, &meta, &u), 0);
}

TEST("usage is found by skimming only where a full parse would find it")
{
    struct dp_vendor v = {.usage_prompt = "usage.prompt_tokens",
                          .usage_completion = "usage.completion_tokens",
                          .usage_total = "usage.total_tokens"};
    struct dp_usage u;
    /* A "usage" nested in choices, braces and quotes inside strings, other
     * literals before the real member. */
    const char *r = "{ \"choices\" : [{\"usage\":{\"total_tokens\":99},\"t\":\"}{\\\"usage\\\":\"}],"
                    "\"n\":-1.5e3,\"b\":true,\"z\":null,\"usage\":{\"total_tokens\":5}}";
    CHECK_INT(dp_usage_from_json(r, strlen(r), &v, &u), 1);
    CHECK_INT(u.total, 5);
    CHECK_INT(u.prompt, -1);
    /* An escaped key falls back to the full parse, which decodes it. */
    const char *e = "{\"\\u0075sage\":{\"total_tokens\":6}}";
    CHECK_INT(dp_usage_from_json(e, strlen(e), &v, &u), 1);
    CHECK_INT(u.total, 6);
    /* Malformed bodies find nothing. */
    static const char *const bad[] = {
        "{\"a\":1 \"usage\":{\"total_tokens\":5}}",
        "{\"a\":\"unterminated, \"usage\":{\"total_tokens\":5}}",
        "{\"a\":{\"usage\":{\"total_tokens\":5}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(dp_usage_from_json(bad[i], strlen(bad[i]), &v, &u), 0);
}

TEST_MAIN()
