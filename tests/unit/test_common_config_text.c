/* Unit tests of common/config_text.c and common/json_raw.c: a snapshot in
 * the control plane's canonical form is read without a tree for its keys
 * and applications and gives the same model as the general reader; any
 * text it does not take (escapes, non-ASCII, unknown or repeated members,
 * an edit without a new hash) goes to the general reader, which accepts or
 * refuses it with its own message; the string writer escapes as jansson. */
#include "common/alloc.h"
#include "common/config.h"
#include "common/config_text.h"
#include "common/json_raw.h"

#include <jansson.h>

#include "testhelp.h"
#include "dp_snapshot.h"

/* doc (stolen) sealed with its hash and dumped in the canonical form. */
static char *canonical(json_t *doc, size_t *len)
{
    char h[65];
    gw_cfg_hash(doc, h);
    json_object_set_new(doc, "sha256", json_string(h));
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    *len = strlen(text);
    return text;
}

/* basic.json with more applications and keys of every shape. */
static json_t *sample(void)
{
    json_t *doc = snap_load("basic.json");
    json_t *apps = json_object_get(doc, "applications"), *keys = json_object_get(doc, "keys");
    const char *api = json_string_value(json_object_get(json_array_get(json_object_get(doc, "apis"), 0), "id"));
    snap_edit(doc, "apis[0].name", json_string("renamed api"));
    json_array_append_new(apps, json_pack("{s:s,s:s,s:[]}", "id", "app-empty", "name", "no subs",
                                          "subscriptions"));
    json_array_append_new(apps, json_pack("{s:s,s:s,s:[s]}", "id", "app-z", "name", "Zed", "subscriptions", api));
    json_array_append_new(keys, json_pack("{s:s,s:s,s:s,s:s}", "hash",
                                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                          "application", "app-z", "type", "sandbox", "expiresAt",
                                          "2030-01-02T03:04:05Z"));
    json_array_append_new(keys, json_pack("{s:n,s:s,s:s,s:s,s:n,s:n}", "id", "hash",
                                          "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                                          "application", "app-empty", "type", "production",
                                          "applicationName", "expiresAt"));
    json_array_append_new(keys, json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", "key-c", "hash",
                                          "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
                                          "application", "app-z", "type", "production",
                                          "applicationName", "Zed"));
    return doc;
}

/* The general reader's model of text, written back as a document. */
static json_t *general(const char *text, size_t len, struct gw_err *err)
{
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    struct gw_cfg *m = doc && gw_cfg_check_hash(doc, err) == 0 ? gw_cfg_from_json(doc, err) : NULL;
    json_decref(doc);
    json_t *w = m ? gw_cfg_to_json(m) : NULL;
    gw_cfg_free(m);
    return w;
}

static json_t *written(struct gw_cfg *m)
{
    json_t *w = m ? gw_cfg_to_json(m) : NULL;
    gw_cfg_free(m);
    return w;
}

TEST("canonical text: read without a tree, the same model as the general reader")
{
    size_t len;
    struct gw_err err;
    char *text = canonical(sample(), &len);
    json_t *fast = written(gw_cfg_from_canonical_text(text, len));
    json_t *slow = general(text, len, &err);
    CHECK(fast != NULL && slow != NULL);
    CHECK(fast && slow && json_equal(fast, slow));
    json_t *both = written(gw_cfg_from_text(text, len, &err));
    CHECK(both && json_equal(both, slow));
    json_decref(fast);
    json_decref(slow);
    json_decref(both);
    gw_free(text);
}

/* Replaces the first `from` in text (NUL-terminated, gw_malloc'd) by `to`. */
static char *replace(char *text, const char *from, const char *to)
{
    char *at = strstr(text, from);
    CHECK(at != NULL);
    if (!at)
        return text;
    size_t n = strlen(text) - strlen(from) + strlen(to);
    char *out = gw_malloc(n + 1);
    size_t head = (size_t)(at - text);
    memcpy(out, text, head);
    memcpy(out + head, to, strlen(to));
    memcpy(out + head + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
    gw_free(text);
    return out;
}

/* Puts in text's sha256 the hash the general reader computes (of the
 * parsed document), or, for text jansson does not parse, the hash of its
 * own members as a control plane writing that text would: either way only
 * the content can be refused. */
static void reseal(char *text)
{
    struct gw_json_member m[GW_JSON_TOP_MAX];
    int n = gw_json_raw_members(text, strlen(text), m);
    CHECK(n > 0);
    if (n <= 0)
        return;
    char h[65];
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (doc) {
        gw_cfg_hash(doc, h);
    } else {
        struct gw_cfg_part parts[GW_CFG_HASHED];
        for (int i = 0; i < GW_CFG_HASHED; i++) {
            const struct gw_json_member *p = gw_json_raw_find(m, n, gw_cfg_hashed_members[i]);
            parts[i].text = p ? p->value : NULL;
            parts[i].len = p ? p->len : 0;
        }
        gw_cfg_hash_parts(parts, h);
    }
    json_decref(doc);
    const struct gw_json_member *sha = gw_json_raw_find(m, n, "sha256");
    memcpy((char *)sha->value + 1, h, 64);
}

/* text (sealed again) is not taken by the canonical reader, and
 * gw_cfg_from_text answers as the general reader does: the same model, or
 * the same refusal. */
static void same_as_general(char *text)
{
    struct gw_err e1, e2;
    reseal(text);
    size_t len = strlen(text);
    struct gw_cfg *fast = gw_cfg_from_canonical_text(text, len);
    CHECK(fast == NULL);
    gw_cfg_free(fast);
    gw_err_clear(&e2);
    json_t *a = written(gw_cfg_from_text(text, len, &e1));
    json_t *b = general(text, len, &e2);
    CHECK((a == NULL) == (b == NULL));
    if (a && b)
        CHECK(json_equal(a, b));
    else if (!a && b)
        fprintf(stderr, "  refused: %s\n", e1.message);
    if (!a && !b && strstr(e1.message, "not JSON") == NULL)
        CHECK_STR(e1.message, e2.message);
    json_decref(a);
    json_decref(b);
    gw_free(text);
}

TEST("bulk the canonical reader does not take: the general reader decides")
{
    size_t len;
    const char *z = "\"application\":\"app-z\",\"expiresAt\":\"2030-01-02T03:04:05Z\"";
    /* valid, but outside the subset: accepted the general way */
    same_as_general(replace(canonical(sample(), &len), "\"name\":\"Zed\"", "\"name\":\"Z\\u00e9d\""));
    same_as_general(replace(canonical(sample(), &len), "\"name\":\"Zed\"", "\"name\":\"Z\xc3\xa9\x64\""));
    same_as_general(replace(canonical(sample(), &len), z, "\"application\":\"app-z\",\"extra\":1"));
    same_as_general(replace(canonical(sample(), &len), z, "\"application\" : \"app-z\""));
    /* invalid: refused with the general reader's message */
    same_as_general(replace(canonical(sample(), &len), "aaaaaaaa", "AAAAAAAA"));
    same_as_general(replace(canonical(sample(), &len), z, "\"application\":\"app-nobody\""));
    same_as_general(replace(canonical(sample(), &len), "\"type\":\"sandbox\"", "\"type\":\"staging\""));
    same_as_general(replace(canonical(sample(), &len), "2030-01-02T03:04:05Z", "yesterday"));
    same_as_general(replace(canonical(sample(), &len), "\"id\":\"app-z\"", "\"id\":\"app-empty\""));
    same_as_general(replace(canonical(sample(), &len), "\"id\":\"app-z\"", "\"id\":\"\""));
    same_as_general(replace(canonical(sample(), &len), "\"type\":\"sandbox\"", "\"type\":\"sandbox\",\"type\":\"production\""));
    same_as_general(replace(canonical(sample(), &len), "\"name\":\"Zed\"", "\"name\":\"\""));
    same_as_general(replace(canonical(sample(), &len), "\"name\":\"Zed\"", "\"name\":7"));
    same_as_general(replace(canonical(sample(), &len), "\"keys\":[", "\"keys\":[1,"));
}

TEST("an edit without a new sha256 is refused")
{
    size_t len;
    struct gw_err err;
    char *text = replace(canonical(sample(), &len), "aaaaaaaa", "abababab");
    CHECK(gw_cfg_from_text(text, strlen(text), &err) == NULL);
    CHECK_STR(err.code, "sha256_mismatch");
    gw_free(text);
    CHECK(gw_cfg_from_text("{\"schemaVersion\":2}", 19, &err) == NULL);
    CHECK_STR(err.code, "schema_version");
    CHECK(gw_cfg_from_text("[1,", 3, &err) == NULL);
    CHECK_STR(err.code, "invalid_json");
}

TEST("top-level members: ranges, repeated or odd names refused")
{
    struct gw_json_member m[GW_JSON_TOP_MAX];
    const char *t = " {\"a\" : [1,{\"x\":\"]}\\\"\"}] , \"b\":\"s\\\"\",\"c\":-1.5e3}\n";
    int n = gw_json_raw_members(t, strlen(t), m);
    CHECK_INT(n, 3);
    CHECK_INT(m[0].len, strlen("[1,{\"x\":\"]}\\\"\"}]"));
    CHECK(strncmp(m[1].value, "\"s\\\"\"", m[1].len) == 0);
    CHECK(strncmp(m[2].value, "-1.5e3", m[2].len) == 0);
    CHECK(gw_json_raw_find(m, n, "b") == &m[1]);
    CHECK_INT(gw_json_raw_members("{\"a\":1,\"a\":2}", 13, m), -1);
    CHECK_INT(gw_json_raw_members("{\"a\\u0061\":1}", 13, m), -1);
    CHECK_INT(gw_json_raw_members("{\"a\":1} x", 9, m), -1);
    CHECK_INT(gw_json_raw_members("[]", 2, m), -1);
    CHECK_INT(gw_json_raw_members("{}", 2, m), 0);
}

TEST("strings are written as jansson writes them")
{
    const char *cases[] = {"plain", "quote \" back \\ slash /", "ctl \x01\x1f\b\f\n\r\t",
                           "del \x7f", "utf-8 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", ""};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_buf b;
        gw_buf_init(&b, 1024);
        CHECK_INT(gw_json_raw_put_str(&b, cases[i], strlen(cases[i])), GW_BUF_OK);
        json_t *s = json_string(cases[i]);
        char *want = json_dumps(s, JSON_ENCODE_ANY);
        CHECK_STR(b.data, want);
        free(want);
        json_decref(s);
        gw_buf_cleanup(&b);
    }
}

TEST_MAIN()
