/* Unit tests of the failure-handling faults of tests/mockllm: the rule
 * fields of mock_rules.c (parse, bounds, the failForMs window) and the
 * replies of mock_reply.c they use (error bodies by code, error and
 * malformed events, answer text with continuation skip). */
#include "testhelp.h"

#include "common/alloc.h"
#include "tests/mockllm/mock_reply.h"
#include "tests/mockllm/mock_rules.h"

#include <jansson.h>
#include <string.h>

static struct mock_ruleset *parse_at(const char *text, long now_ms, struct gw_err *err)
{
    json_t *doc = json_loads(text, 0, NULL);
    gw_err_clear(err);
    struct mock_ruleset *set = mock_ruleset_parse(doc, now_ms, err);
    json_decref(doc);
    return set;
}

TEST("faults: parse every fault field")
{
    struct gw_err err;
    struct mock_ruleset *set = parse_at(
        "{\"rules\":[{\"hang\":true,\"firstChunkDelayMs\":300,\"stallAfterChunks\":2,"
        "\"stallMs\":400,\"stallThen\":\"close\",\"errorAfterChunks\":3,"
        "\"malformedAfterChunks\":1,\"noDone\":true,\"errorCode\":\"context_length_exceeded\","
        "\"refuseTrailingAssistant\":true,\"continuation\":true,\"text\":\"one two\","
        "\"failForMs\":1000},{\"stallAfterChunks\":0,\"stallMs\":5}]}",
        1000, &err);
    CHECK(set != NULL);
    if (!set)
        return;
    const struct mock_rule *r = &set->rules[0];
    CHECK_INT(r->hang, 1);
    CHECK_INT(r->first_chunk_delay_ms, 300);
    CHECK_INT(r->stall_after_chunks, 2);
    CHECK_INT(r->stall_ms, 400);
    CHECK_INT(r->stall_close, 1);
    CHECK_INT(r->error_after_chunks, 3);
    CHECK_INT(r->malformed_after_chunks, 1);
    CHECK_INT(r->no_done, 1);
    CHECK_STR(r->error_code, "context_length_exceeded");
    CHECK_INT(r->refuse_trailing_assistant, 1);
    CHECK_INT(r->continuation, 1);
    CHECK_STR(r->text, "one two");
    CHECK_INT(r->fail_until_ms, 2000);
    r = &set->rules[1];
    CHECK_INT(r->stall_close, 0); /* "continue" is the default */
    CHECK_INT(r->error_after_chunks, -1);
    CHECK_INT(r->fail_until_ms, -1);
    CHECK(r->error_code == NULL && r->text == NULL);
    mock_ruleset_release(set);
}

TEST("faults: bad fault fields are refused naming the field")
{
    static const struct {
        const char *rules;
        const char *field;
    } cases[] = {
        {"{\"hang\":1}", "rules[0].hang"},
        {"{\"firstChunkDelayMs\":-1}", "rules[0].firstChunkDelayMs"},
        {"{\"firstChunkDelayMs\":600001}", "rules[0].firstChunkDelayMs"},
        {"{\"stallThen\":\"wait\",\"stallAfterChunks\":1,\"stallMs\":1}", "rules[0].stallThen"},
        {"{\"stallMs\":10}", "rules[0]"},
        {"{\"stallAfterChunks\":1}", "rules[0]"},
        {"{\"errorCode\":\"rate_limit_exceeded\"}", "rules[0].errorCode"},
        {"{\"errorCode\":3}", "rules[0].errorCode"},
        {"{\"noDone\":\"yes\"}", "rules[0].noDone"},
        {"{\"text\":7}", "rules[0].text"},
        {"{\"failForMs\":-5}", "rules[0].failForMs"},
        {"{\"malformedAfterChunks\":100001}", "rules[0].malformedAfterChunks"},
        {"{\"continuation\":null}", "rules[0].continuation"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[256];
        struct gw_err err;
        snprintf(doc, sizeof(doc), "{\"rules\":[%s]}", cases[i].rules);
        struct mock_ruleset *set = parse_at(doc, 0, &err);
        CHECK(set == NULL);
        CHECK_INT(err.kind, GW_ERR_INVALID);
        CHECK(strncmp(err.message, cases[i].field, strlen(cases[i].field)) == 0);
        mock_ruleset_release(set);
    }
    char long_text[MOCK_RULE_TEXT_MAX + 40];
    struct gw_err err;
    memcpy(long_text, "{\"rules\":[{\"text\":\"", 19);
    memset(long_text + 19, 'a', MOCK_RULE_TEXT_MAX + 1);
    memcpy(long_text + 19 + MOCK_RULE_TEXT_MAX + 1, "\"}]}", 5);
    CHECK(parse_at(long_text, 0, &err) == NULL);
}

TEST("faults: failForMs matches only inside its window, then the next rule")
{
    struct gw_err err;
    struct mock_rules rules;
    struct mock_ruleset *hold;
    mock_rules_init(&rules);
    mock_rules_replace(&rules, parse_at("{\"rules\":[{\"model\":\"a\",\"failForMs\":500},"
                                        "{\"model\":\"a\",\"chunks\":2}]}",
                                        10000, &err));
    const struct mock_rule *r = mock_rules_match(&rules, "a", "/v1/chat/completions", 10000, &hold);
    CHECK(r != NULL && r->fail_until_ms == 10500);
    mock_ruleset_release(hold);
    r = mock_rules_match(&rules, "a", "/v1/chat/completions", 10499, &hold);
    CHECK(r != NULL && r->fail_until_ms == 10500);
    mock_ruleset_release(hold);
    r = mock_rules_match(&rules, "a", "/v1/chat/completions", 10500, &hold);
    CHECK(r != NULL && r->chunks == 2);
    mock_ruleset_release(hold);
    mock_rules_cleanup(&rules);
}

static json_t *error_of(const char *code)
{
    struct gw_buf b;
    gw_buf_init(&b, 4096);
    json_t *doc = NULL;
    if (mock_reply_error_for_code(&b, code) == 0)
        doc = json_loadb(b.data, b.len, 0, NULL);
    gw_buf_cleanup(&b);
    return json_object_get(doc, "error") ? doc : (json_decref(doc), NULL);
}

TEST("faults: OpenAI's 400 bodies by code")
{
    json_t *d = error_of("context_length_exceeded");
    CHECK(d != NULL);
    json_t *e = json_object_get(d, "error");
    CHECK_STR(json_string_value(json_object_get(e, "code")), "context_length_exceeded");
    CHECK_STR(json_string_value(json_object_get(e, "type")), "invalid_request_error");
    CHECK_STR(json_string_value(json_object_get(e, "param")), "messages");
    CHECK(strstr(json_string_value(json_object_get(e, "message")), "maximum context length") != NULL);
    json_decref(d);
    d = error_of("content_policy_violation");
    CHECK(d != NULL);
    e = json_object_get(d, "error");
    CHECK_STR(json_string_value(json_object_get(e, "code")), "content_policy_violation");
    CHECK(json_is_null(json_object_get(e, "param")));
    json_decref(d);
    CHECK(error_of("server_error") == NULL);
    CHECK(mock_reply_error_code_known("nope") == NULL);
}

TEST("faults: error event and malformed event")
{
    struct gw_buf b;
    struct mock_reply r = {.route = MOCK_ROUTE_CHAT, .name = "m1", .model = "g", .id = 9};
    gw_buf_init(&b, 4096);
    CHECK_INT(mock_reply_error_event(&b), 0);
    CHECK(b.len > 8 && memcmp(b.data, "data: ", 6) == 0 &&
          memcmp(b.data + b.len - 2, "\n\n", 2) == 0);
    json_t *d = json_loadb(b.data + 6, b.len - 8, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(d, "error"), "type")),
              "server_error");
    json_decref(d);
    gw_buf_reset(&b);
    CHECK_INT(mock_reply_malformed_event(&b, &r), 0);
    CHECK(b.len > 8 && memcmp(b.data, "data: {", 7) == 0 &&
          memcmp(b.data + b.len - 2, "\n\n", 2) == 0);
    CHECK(json_loadb(b.data + 6, b.len - 8, 0, NULL) == NULL);
    gw_buf_cleanup(&b);
}

TEST("faults: answer text, rule text and continuation skip")
{
    char out[MOCK_TEXT_MAX];
    struct mock_reply r = {.route = MOCK_ROUTE_CHAT, .name = "m1", .model = "gpt-4o"};
    mock_reply_answer(&r, out);
    CHECK_STR(out, "mock reply from m1 for gpt-4o");
    r.skip = 5;
    mock_reply_answer(&r, out);
    CHECK_STR(out, "reply from m1 for gpt-4o");
    r.text = "h\xc3\xa9llo world";
    r.skip = 3;
    mock_reply_answer(&r, out);
    CHECK_STR(out, "llo world");
    r.skip = 1000; /* clamped */
    mock_reply_answer(&r, out);
    CHECK_STR(out, "");
    /* the pieces of a stream join to the rest of the text */
    r.skip = 3;
    char joined[MOCK_TEXT_MAX] = "";
    for (int i = 0; i < 4; i++) {
        CHECK_INT(mock_reply_piece(&r, i, 4, out), 0);
        strncat(joined, out, sizeof(joined) - strlen(joined) - 1);
    }
    CHECK_STR(joined, "llo world");
}

TEST_MAIN()
