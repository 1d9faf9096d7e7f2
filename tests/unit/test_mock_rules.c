/* Unit tests of tests/mockllm/mock_rules.c: parsing, first-match, counts,
 * references. */
#include "testhelp.h"

#include "common/alloc.h"
#include "tests/mockllm/mock_rules.h"

static struct mock_ruleset *parse(const char *text, struct gw_err *err)
{
    json_t *doc = json_loads(text, 0, NULL);
    gw_err_clear(err);
    struct mock_ruleset *set = mock_ruleset_parse(doc, 0, err);
    json_decref(doc);
    return set;
}

TEST("rules: parse every field")
{
    struct gw_err err;
    struct mock_ruleset *set = parse(
        "{\"rules\":[{\"model\":\"gpt-4o\",\"path\":\"/chat/completions\",\"status\":429,"
        "\"count\":2,\"retryAfter\":5,\"headers\":{\"x-a\":\"1\",\"x-b\":2},\"delayMs\":10,"
        "\"chunkDelayMs\":20,\"chunks\":3,\"resetAfterChunks\":1,\"reset\":false,"
        "\"promptTokens\":4,\"completionTokens\":6,\"body\":\"{}\"}]}",
        &err);
    CHECK(set != NULL);
    if (!set)
        return;
    const struct mock_rule *r = &set->rules[0];
    CHECK_STR(r->model, "gpt-4o");
    CHECK_STR(r->path, "/chat/completions");
    CHECK_INT(r->status, 429);
    CHECK_INT(r->remaining, 2);
    CHECK_STR(r->retry_after, "5");
    CHECK_INT(r->nheaders, 2);
    CHECK_STR(r->headers[1].value, "2");
    CHECK_INT(r->delay_ms, 10);
    CHECK_INT(r->chunk_delay_ms, 20);
    CHECK_INT(r->chunks, 3);
    CHECK_INT(r->reset_after_chunks, 1);
    CHECK_INT(r->reset, 0);
    CHECK_INT(r->prompt_tokens, 4);
    CHECK_INT(r->completion_tokens, 6);
    CHECK_STR(r->body, "{}");
    mock_ruleset_release(set);
}

TEST("rules: absent numbers are -1")
{
    struct gw_err err;
    struct mock_ruleset *set = parse("{\"rules\":[{}]}", &err);
    CHECK(set != NULL);
    CHECK_INT(set->rules[0].remaining, -1);
    CHECK_INT(set->rules[0].delay_ms, -1);
    CHECK_INT(set->rules[0].status, 0);
    CHECK(set->rules[0].model == NULL);
    mock_ruleset_release(set);
}

TEST("rules: refusals name the field")
{
    static const struct {
        const char *text, *field;
    } cases[] = {
        {"[]", "rules"},
        {"{\"rules\":{}}", "rules"},
        {"{\"rules\":[],\"x\":1}", "rules"},
        {"{\"rules\":[1]}", "rules[0]"},
        {"{\"rules\":[{},{\"bogus\":1}]}", "rules[1].bogus"},
        {"{\"rules\":[{\"status\":600}]}", "rules[0].status"},
        {"{\"rules\":[{\"status\":\"429\"}]}", "rules[0].status"},
        {"{\"rules\":[{\"count\":-1}]}", "rules[0].count"},
        {"{\"rules\":[{\"chunks\":0}]}", "rules[0].chunks"},
        {"{\"rules\":[{\"reset\":\"yes\"}]}", "rules[0].reset"},
        {"{\"rules\":[{\"headers\":{\"a b\":\"1\"}}]}", "rules[0].headers.a b"},
        {"{\"rules\":[{\"headers\":{\"x\":\"a\\nb\"}}]}", "rules[0].headers.x"},
        {"{\"rules\":[{\"headers\":{\"Content-Length\":\"1\"}}]}", "rules[0].headers.Content-Length"},
        {"{\"rules\":[{\"headers\":{\"x\":[]}}]}", "rules[0].headers.x"},
        {"{\"rules\":[{\"retryAfter\":\"1\\r\\n\"}]}", "rules[0].retryAfter"},
        {"{\"rules\":[{\"model\":null}]}", "rules[0].model"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_err err;
        struct mock_ruleset *set = parse(cases[i].text, &err);
        CHECK(set == NULL);
        CHECK_INT(err.kind, GW_ERR_INVALID);
        CHECK_STR(err.field, cases[i].field);
        mock_ruleset_release(set);
    }
}

TEST("rules: first match, model and path filters, counts")
{
    struct gw_err err;
    struct mock_rules rules;
    struct mock_ruleset *hold;
    mock_rules_init(&rules);
    CHECK(mock_rules_match(&rules, "a", "/x", 0, &hold) == NULL);
    CHECK(hold == NULL);
    mock_rules_replace(&rules, parse("{\"rules\":[{\"model\":\"a\",\"count\":1,\"status\":429},"
                                     "{\"model\":\"a\",\"path\":\"/embeddings\",\"status\":500},"
                                     "{\"status\":503,\"count\":0},{\"promptTokens\":1}]}",
                                     &err));
    const struct mock_rule *r = mock_rules_match(&rules, "a", "/v1/chat/completions", 0, &hold);
    CHECK(r != NULL && r->status == 429);
    CHECK(hold != NULL);
    mock_ruleset_release(hold);
    /* count used up: falls through to the catch-all (count 0 never matches) */
    r = mock_rules_match(&rules, "a", "/v1/chat/completions", 0, &hold);
    CHECK(r != NULL && r->status == 0 && r->prompt_tokens == 1);
    mock_ruleset_release(hold);
    r = mock_rules_match(&rules, "a", "/v1/embeddings", 0, &hold);
    CHECK(r != NULL && r->status == 500);
    mock_ruleset_release(hold);
    r = mock_rules_match(&rules, NULL, NULL, 0, &hold);
    CHECK(r != NULL && r->prompt_tokens == 1);
    /* a held set survives being replaced */
    mock_rules_replace(&rules, NULL);
    CHECK_INT(r->prompt_tokens, 1);
    mock_ruleset_release(hold);
    json_t *doc = mock_rules_to_json(&rules);
    CHECK_INT(json_array_size(json_object_get(doc, "rules")), 0);
    json_decref(doc);
    mock_rules_cleanup(&rules);
}

TEST("rules: allocation failures never leak or crash")
{
    const char *text = "{\"rules\":[{\"model\":\"m\",\"headers\":{\"a\":\"1\",\"b\":\"2\"},"
                       "\"body\":\"x\",\"retryAfter\":\"3\"},{\"path\":\"/p\"}]}";
    json_t *doc = json_loads(text, 0, NULL);
    int ok = 0;
    for (long k = 0; k < 60; k++) {
        struct gw_err err;
        gw_err_clear(&err);
        gw_alloc_fail_after(k);
        struct mock_ruleset *set = mock_ruleset_parse(doc, 0, &err);
        gw_alloc_fail_after(-1);
        if (set)
            ok++;
        else
            CHECK_INT(err.kind, GW_ERR_NOMEM);
        mock_ruleset_release(set);
    }
    CHECK(ok > 0);
    json_decref(doc);
}

TEST_MAIN()
