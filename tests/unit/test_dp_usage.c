/* Unit tests of dataplane/usage.c's text reader of the usage object: for
 * many generated usage objects (integers of every size and sign, reals,
 * strings plain and escaped, literals, arrays, nested objects, duplicate
 * keys, odd whitespace, broken text), dp_usage_from_json answers exactly what
 * jansson's full parse of the body gives (dp_usage_from_doc). */
#include "testhelp.h"

#include "common/buf.h"
#include "dataplane/body.h"

#include <stdio.h>
#include <stdlib.h>

static unsigned long long rng = 88172645463325252ULL;

static unsigned pick(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *const keys[] = {
    "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
    "cached_tokens", "in", "x", "",
};

/* Valid JSON values, then broken ones (rarer). */
static const char *const scalars[] = {
    "0", "7", "-0", "-3", "12345", "999999999999999999", "9999999999999999999",
    "-9223372036854775808", "123456789012345678901234", "1.5", "2e3", "1E2", "\"5\"",
    "\"plain text\"", "\"esc\\\"aped\"", "\"caf\xc3\xa9\"", "\"\\u0041\"", "true", "false",
    "null", "[1,2]", "[]",
};
static const char *const broken[] = {
    "01", "-", "tru", "nul", "\"\x01\"", "1.", ".5", "+1", "0x10", "\"\xff\"",
};

static const char *const spaces[] = {"", "", "", " ", "\n", "\t ", "\r\n  "};

static void gen_obj(struct gw_buf *b, int depth);

static void gen_value(struct gw_buf *b, int depth)
{
    if (depth < 3 && pick(5) == 0)
        gen_obj(b, depth + 1);
    else if (pick(30) == 0)
        gw_buf_append_str(b, broken[pick(sizeof(broken) / sizeof(broken[0]))]);
    else
        gw_buf_append_str(b, scalars[pick(sizeof(scalars) / sizeof(scalars[0]))]);
}

static void gen_obj(struct gw_buf *b, int depth)
{
    gw_buf_append_str(b, "{");
    unsigned n = pick(6);
    for (unsigned i = 0; i < n; i++) {
        if (i)
            gw_buf_append_str(b, ",");
        gw_buf_append_str(b, spaces[pick(7)]);
        gw_buf_printf(b, "\"%s\"", keys[pick(sizeof(keys) / sizeof(keys[0]))]);
        gw_buf_append_str(b, spaces[pick(7)]);
        gw_buf_append_str(b, ":");
        gw_buf_append_str(b, spaces[pick(7)]);
        gen_value(b, depth);
        gw_buf_append_str(b, spaces[pick(7)]);
    }
    if (pick(40) == 0)
        gw_buf_append_str(b, ","); /* broken */
    gw_buf_append_str(b, "}");
}

/* The reference: jansson parses the whole body. */
static int ref_usage(const char *body, const struct dp_vendor *v, struct dp_usage *u)
{
    u->prompt = u->completion = u->total = -1;
    json_t *doc = json_loads(body, 0, NULL);
    if (!doc)
        return 0;
    int found = json_is_object(doc) && dp_usage_from_doc(doc, v, u);
    json_decref(doc);
    return found;
}

static int check_one(const char *body, const struct dp_vendor *v)
{
    struct dp_usage got, want;
    int g = dp_usage_from_json(body, strlen(body), v, &got);
    int w = ref_usage(body, v, &want);
    if (g != w || got.prompt != want.prompt || got.completion != want.completion ||
        got.total != want.total) {
        fprintf(stderr, "  body %s: got %d %lld %lld %lld, want %d %lld %lld %lld\n", body, g,
                (long long)got.prompt, (long long)got.completion, (long long)got.total, w,
                (long long)want.prompt, (long long)want.completion, (long long)want.total);
        return 0;
    }
    return 1;
}

TEST("generated usage objects: the same answer as jansson's full parse")
{
    struct dp_vendor openai = {.usage_prompt = "usage.prompt_tokens",
                               .usage_completion = "usage.completion_tokens",
                               .usage_total = "usage.total_tokens"};
    struct dp_vendor nested = {.usage_prompt = "usage.prompt_tokens_details.cached_tokens",
                               .usage_completion = "usage.x.in",
                               .usage_total = "usage.total_tokens"};
    int bad = 0, found = 0;
    for (int i = 0; i < 30000 && bad < 5; i++) {
        struct gw_buf b;
        gw_buf_init(&b, 1 << 16);
        gw_buf_append_str(&b, "{\"id\":\"c\",\"choices\":[{\"t\":\"}\"}],\"usage\":");
        gen_obj(&b, 0);
        gw_buf_append_str(&b, pick(2) ? ",\"model\":\"m\"}" : "}");
        const struct dp_vendor *v = pick(2) ? &openai : &nested;
        struct dp_usage u;
        found += dp_usage_from_json(b.data, b.len, v, &u);
        if (!check_one(b.data, v))
            bad++;
        gw_buf_cleanup(&b);
    }
    CHECK_INT(bad, 0);
    fprintf(stderr, "  %d of 30000 with usage\n", found);
    CHECK(found > 1000); /* the generator does produce usage */
}

TEST("hand-picked usage objects")
{
    struct dp_vendor v = {.usage_prompt = "usage.prompt_tokens",
                          .usage_completion = "usage.completion_tokens",
                          .usage_total = "usage.total_tokens"};
    static const char *const bodies[] = {
        "{\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29,"
        "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
        "{\"usage\":{\"prompt_tokens\":1,\"prompt_tokens\":2}}",
        "{\"usage\":{\"prompt_tokens\":1,\"prompt_tokens\":\"2\"}}",
        "{\"usage\":{\"prompt_tokens\":1,\"prompt_tokens\":{\"a\":1}}}",
        "{\"usage\":{\"prompt_tokens\":-0,\"total_tokens\":999999999999999999}}",
        "{\"usage\":{\"prompt_tokens\":9223372036854775807}}",
        "{\"usage\":{\"prompt_tokens\":9223372036854775808}}",
        "{\"usage\":{\"prompt\\u005ftokens\":5}}",
        "{\"usage\":{ \"prompt_tokens\" : 5 , \"total_tokens\" : 6 } }",
        "{\"usage\":{\"prompt_tokens\":5}",
        "{\"usage\":{\"prompt_tokens\":5,}}",
        "{\"usage\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}},"
        "\"prompt_tokens\":3}}",
        "{\"usage\":{}}",
        "{\"usage\":{\"total_tokens\":true}}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        CHECK(check_one(bodies[i], &v));
}

TEST_MAIN()
