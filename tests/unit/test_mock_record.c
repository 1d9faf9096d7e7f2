/* Unit tests of tests/mockllm/mock_record.c: the bounded request log. */
#include "testhelp.h"

#include "common/alloc.h"
#include "tests/mockllm/mock_record.h"

static int add(struct mock_recorder *rec, const char *path, const char *body, size_t len)
{
    struct mock_record_header h[] = {
        {"Content-Type", 12, "application/json", 16},
        {"X-Dup", 5, "a", 1},
        {"x-dup", 5, "b", 1},
    };
    struct mock_record_in in = {"POST", path, "gpt-4o", h, 3, body, len, 0};
    return mock_recorder_add(rec, &in);
}

TEST("record: fields, lowercase headers, repeats joined, json parsed")
{
    struct mock_recorder rec;
    CHECK_INT(mock_recorder_init(&rec), 0);
    CHECK_INT(add(&rec, "/v1/chat/completions", "{\"model\":\"gpt-4o\"}", 18), 0);
    CHECK_INT(add(&rec, "/x", "\xff\x00z", 3), 0);
    json_t *doc = mock_recorder_to_json(&rec, 0);
    json_t *items = json_object_get(doc, "items");
    CHECK_INT(json_array_size(items), 2);
    json_t *a = json_array_get(items, 0), *b = json_array_get(items, 1);
    CHECK_STR(json_string_value(json_object_get(a, "path")), "/v1/chat/completions");
    json_t *hd = json_object_get(a, "headers");
    CHECK_STR(json_string_value(json_object_get(hd, "content-type")), "application/json");
    CHECK_STR(json_string_value(json_object_get(hd, "x-dup")), "a, b");
    CHECK_STR(json_string_value(json_object_get(json_object_get(a, "json"), "model")), "gpt-4o");
    CHECK_STR(json_string_value(json_object_get(a, "model")), "gpt-4o");
    CHECK(json_is_null(json_object_get(b, "json")));
    CHECK_INT(json_string_length(json_object_get(b, "body")), 3);
    CHECK(json_string_value(json_object_get(b, "body"))[0] == '?');
    CHECK(json_object_get(b, "seq") != NULL);
    json_decref(doc);
    doc = mock_recorder_to_json(&rec, 1);
    CHECK_INT(json_array_size(json_object_get(doc, "items")), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0),
                                                "path")),
              "/x");
    json_decref(doc);
    mock_recorder_clear(&rec);
    doc = mock_recorder_to_json(&rec, 0);
    CHECK_INT(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    mock_recorder_cleanup(&rec);
}

TEST("record: keeps the last MOCK_RECORD_MAX and cuts bodies at 1 MiB")
{
    struct mock_recorder rec;
    mock_recorder_init(&rec);
    for (int i = 0; i < MOCK_RECORD_MAX + 25; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/%d", i);
        add(&rec, path, "{}", 2);
    }
    CHECK_INT(rec.count, MOCK_RECORD_MAX);
    json_t *doc = mock_recorder_to_json(&rec, 2);
    json_t *items = json_object_get(doc, "items");
    char want[32];
    snprintf(want, sizeof(want), "/%d", MOCK_RECORD_MAX + 23);
    CHECK_STR(json_string_value(json_object_get(json_array_get(items, 0), "path")), want);
    json_decref(doc);
    mock_recorder_clear(&rec);

    size_t big = MOCK_RECORD_BODY_MAX + 100;
    char *body = gw_malloc(big);
    memset(body, 'x', big);
    CHECK_INT(add(&rec, "/big", body, big), 0);
    doc = mock_recorder_to_json(&rec, 0);
    json_t *it = json_array_get(json_object_get(doc, "items"), 0);
    CHECK_INT(json_string_length(json_object_get(it, "body")), MOCK_RECORD_BODY_MAX);
    CHECK_INT(json_integer_value(json_object_get(it, "bodyLength")), big);
    CHECK(json_is_true(json_object_get(it, "truncated")));
    json_decref(doc);
    gw_free(body);
    mock_recorder_cleanup(&rec);
}

TEST("record: allocation failure records nothing")
{
    struct mock_recorder rec;
    mock_recorder_init(&rec);
    gw_alloc_fail_after(0);
    CHECK_INT(add(&rec, "/a", "{}", 2), -1);
    gw_alloc_fail_after(-1);
    CHECK_INT(rec.count, 0);
    mock_recorder_cleanup(&rec);
}

TEST_MAIN()
