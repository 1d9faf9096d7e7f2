/* Unit tests of the config contract in common/: each rule of rules.h, each
 * bound of limits.h at its maximum and one past it, and the model reader
 * (config_json.c) on the sample snapshot: defaults and ranges of the SPEC
 * revision 2 routing fields, round-robin operations, failover collisions in
 * either environment, the sha256 check. */
#include "common/config.h"
#include "common/limits.h"
#include "common/rules.h"
#include "common/utf8.h"

#include <jansson.h>

#include "testhelp.h"
#include "dp_snapshot.h"
#include "jwt_fixture.h"

/* n copies of the UTF-8 character ch (1 to 4 bytes), NUL-terminated, in buf. */
static char *repeat(char *buf, const char *ch, size_t n)
{
    size_t l = strlen(ch);
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * l, ch, l);
    buf[n * l] = '\0';
    return buf;
}

TEST("names: 128 characters of 1 to 4 bytes pass, 129 do not")
{
    static const char *const chars[] = {"a", "\xc3\xa9", "\xe6\xa8\xa1", "\xf0\x9f\x98\x80"};
    char buf[4 * (GW_NAME_MAX_CHARS + 1) + 1];
    struct gw_err err;
    for (int i = 0; i < 4; i++) {
        CHECK_INT(gw_rule_name(repeat(buf, chars[i], GW_NAME_MAX_CHARS), "n", GW_NAME_MAX_CHARS,
                               &err), 0);
        CHECK_INT(gw_rule_name(repeat(buf, chars[i], GW_NAME_MAX_CHARS + 1), "n",
                               GW_NAME_MAX_CHARS, &err), -1);
        CHECK_STR(err.field, "n");
    }
    CHECK_INT(gw_rule_name("", "n", GW_NAME_MAX_CHARS, &err), -1);
    CHECK_INT(gw_rule_name("a\xc2\x85", "n", GW_NAME_MAX_CHARS, &err), -1); /* C1 */
    CHECK_INT(gw_rule_name("a\x7f", "n", GW_NAME_MAX_CHARS, &err), -1);
    CHECK_INT(gw_rule_name("caf\xe9", "n", GW_NAME_MAX_CHARS, &err), -1); /* Latin-1 */
}

TEST("UTF-8: one validator for bounded and NUL-terminated text")
{
    CHECK(gw_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    CHECK(!gw_utf8_valid("\xf4\x90\x80\x80", 4));
    CHECK(!gw_utf8_valid("\xe6\xa8\xa1", 2)); /* cut inside a sequence */
    CHECK(!gw_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    CHECK_INT((int)gw_utf8_len("\xe6\xa8\xa1x"), 2);
    char s[] = "a\xff" "b";
    gw_utf8_scrub(s);
    CHECK_STR(s, "a?b");
    CHECK(gw_has_control("x\r\n") && gw_has_control("\xc2\x9f") && !gw_has_control("\xc2\xa0"));
}

TEST("URL: 2048 bytes pass, 2049 do not; no user, password or fragment")
{
    char url[GW_URL_MAX_BYTES + 2];
    struct gw_err err;
    memcpy(url, "http://h/", 9);
    memset(url + 9, 'p', GW_URL_MAX_BYTES - 9);
    url[GW_URL_MAX_BYTES] = '\0';
    CHECK_INT(gw_rule_url(url, "url", &err), 0);
    url[GW_URL_MAX_BYTES] = 'p';
    url[GW_URL_MAX_BYTES + 1] = '\0';
    CHECK_INT(gw_rule_url(url, "url", &err), -1);
    CHECK_INT(gw_rule_url("https://u:p@h/v1", "url", &err), -1);
    CHECK(strstr(err.message, "user") != NULL);
    CHECK_INT(gw_rule_url("https://u@h", "url", &err), -1);
    CHECK_INT(gw_rule_url("https://h/v1#x", "url", &err), -1);
    CHECK_INT(gw_rule_url("https://h/v1/@x", "url", &err), 0);
    CHECK_INT(gw_rule_url("ftp://h", "url", &err), -1);
    CHECK_INT(gw_rule_url("http:///x", "url", &err), -1);
    CHECK_INT(gw_rule_url("http://h/a b", "url", &err), -1);
}

TEST("secret values: 64 KiB pass, one byte more does not; ranges; stream timeouts")
{
    static char v[GW_SECRET_VALUE_MAX_BYTES + 2];
    struct gw_err err;
    memset(v, 'x', GW_SECRET_VALUE_MAX_BYTES + 1);
    CHECK_INT(gw_rule_secret_value(v, GW_SECRET_VALUE_MAX_BYTES + 1, "k", &err), -1);
    v[GW_SECRET_VALUE_MAX_BYTES] = '\0';
    CHECK_INT(gw_rule_secret_value(v, GW_SECRET_VALUE_MAX_BYTES, "k", &err), 0);
    CHECK_INT(gw_rule_secret_value("a\0b", 3, "k", &err), -1);
    CHECK(GW_AUTH_VALUE_MAX_BYTES >= GW_SECRET_VALUE_MAX_BYTES + 4 * GW_NAME_MAX_CHARS);
    CHECK_INT(gw_rule_stream_timeout(0, "f", &err), 0);
    CHECK_INT(gw_rule_stream_timeout(99, "f", &err), -1);
    CHECK_INT(gw_rule_stream_timeout(100, "f", &err), 0);
    CHECK_INT(gw_rule_stream_timeout(600000, "f", &err), 0);
    CHECK_INT(gw_rule_stream_timeout(600001, "f", &err), -1);
    CHECK_INT(gw_rule_range(1001, GW_WEIGHT_MIN, GW_WEIGHT_MAX, "w", &err), -1);
    static const char *const modes[] = {"off", "continue"};
    CHECK_INT(gw_rule_enum("continue", modes, 2, "m", &err), 1);
    CHECK_INT(gw_rule_enum("on", modes, 2, "m", &err), -1);
    CHECK(strstr(err.message, "\"off\" or \"continue\"") != NULL);
    CHECK_INT(gw_rule_path("/a/b", "p", 0, &err), 0);
    CHECK_INT(gw_rule_path("/a//b", "p", 0, &err), -1);
    static const char *const segment_ok[] = {"gpt-4o", "gpt-4.1..mini", "...", ".x", "a b"};
    for (size_t i = 0; i < sizeof(segment_ok) / sizeof(segment_ok[0]); i++)
        CHECK_INT(gw_rule_path_segment(segment_ok[i], "model", &err), 0);
    static const char *const segment_bad[] = {"", ".", "..", "a/b", "a\\b", "a?b", "a#b", "%2e",
                                              "a\x01", "a\x7f"};
    for (size_t i = 0; i < sizeof(segment_bad) / sizeof(segment_bad[0]); i++)
        CHECK_INT(gw_rule_path_segment(segment_bad[i], "model", &err), -1);
    CHECK(strstr(err.message, "model") == err.message);
    CHECK_INT(gw_rule_version("1.0", "version", &err), 0);
    CHECK_INT(gw_rule_version("1 0", "version", &err), -1);
    CHECK_INT(gw_rule_header_name("X-Key", "h", GW_NAME_MAX_CHARS, &err), 0);
    CHECK_INT(gw_rule_header_name("X Key", "h", GW_NAME_MAX_CHARS, &err), -1);
}

/* Reads basic.json after one edit; NULL (err set) when refused. */
static struct gw_cfg *read_edited(const char *path, const char *json_value, struct gw_err *err)
{
    json_t *doc = snap_load("basic.json");
    if (path) {
        json_error_t je;
        snap_edit(doc, path, json_value ? json_loads(json_value, JSON_DECODE_ANY, &je) : NULL);
    }
    struct gw_cfg *cfg = gw_cfg_from_json(doc, err);
    json_decref(doc);
    return cfg;
}

TEST("model: routing fields default off, are read, and are range-checked")
{
    struct gw_err err;
    struct gw_cfg *cfg = read_edited(NULL, NULL, &err);
    CHECK(cfg != NULL);
    if (cfg) {
        const struct gw_cfg_policy *p = &cfg->apis[0].policies[0];
        CHECK_INT(p->routing.retries, 0);
        CHECK_INT(p->routing.midstream, GW_MIDSTREAM_OFF);
        CHECK_INT((int)p->noperations, 3);
        CHECK_STR(p->operations[2], "/responses");
        CHECK_INT((int)cfg->apis[0].endpoints[p->targets[0][1].endpoint_index].env,
                  GW_ENV_PRODUCTION);
    }
    gw_cfg_free(cfg);
    json_t *doc = snap_load("basic.json");
    snap_edit(doc, "apis[1].policies[0].retries", json_integer(3));
    snap_edit(doc, "apis[1].policies[0].maxRetryAfterWaitSec", json_integer(60));
    snap_edit(doc, "apis[1].policies[0].firstTokenTimeoutMs", json_integer(100));
    snap_edit(doc, "apis[1].policies[0].streamIdleTimeoutMs", json_integer(600000));
    snap_edit(doc, "apis[1].policies[0].midStreamFailover", json_string("continue"));
    snap_edit(doc, "apis[0].policies[0].operations", json_pack("[s]", "/embeddings"));
    cfg = gw_cfg_from_json(doc, &err);
    json_decref(doc);
    CHECK(cfg != NULL);
    if (cfg) {
        const struct gw_cfg_routing *r = &cfg->apis[1].policies[0].routing;
        CHECK_INT(r->retries, 3);
        CHECK_INT(r->max_retry_after_wait_s, 60);
        CHECK_INT((int)r->first_token_timeout_ms, 100);
        CHECK_INT((int)r->stream_idle_timeout_ms, 600000);
        CHECK_INT(r->midstream, GW_MIDSTREAM_CONTINUE);
        CHECK_INT((int)cfg->apis[0].policies[0].noperations, 1);
    }
    gw_cfg_free(cfg);
    static const struct {
        const char *path, *value, *field;
    } bad[] = {
        {"apis[1].policies[0].retries", "4", "apis[1].policies[0].retries"},
        {"apis[1].policies[0].maxRetryAfterWaitSec", "61", "apis[1].policies[0].maxRetryAfterWaitSec"},
        {"apis[1].policies[0].firstTokenTimeoutMs", "99", "apis[1].policies[0].firstTokenTimeoutMs"},
        {"apis[1].policies[0].streamIdleTimeoutMs", "600001", "apis[1].policies[0].streamIdleTimeoutMs"},
        {"apis[1].policies[0].midStreamFailover", "\"on\"", "apis[1].policies[0].midStreamFailover"},
        {"apis[0].policies[0].operations", "[\"/nope\"]", "apis[0].policies[0].operations[0]"},
        {"apis[0].policies[0].operations", "[]", "apis[0].policies[0].operations"},
        {"apis[0].policies[0].suspendDurationSec", "86401", "apis[0].policies[0].suspendDurationSec"},
        {"apis[1].policies[0].requestTimeoutMs", "600001", "apis[1].policies[0].requestTimeoutMs"},
        {"apis[0].endpoints[0].url", "\"http://u:p@h/v1\"", "apis[0].endpoints[0].url"},
        {"apis[0].endpoints[0].timeoutMs", "600001", "apis[0].endpoints[0].timeoutMs"},
        {"apis[0].endpoints[0].name", "\"a\\u0085\"", "apis[0].endpoints[0].name"},
        {"apis[0].name", "\"\"", "apis[0].name"},
        /* a second failover chain for the same model, in the sandbox only */
        {"apis[1].policies[+]",
         "{\"id\":\"p9\",\"type\":\"modelFailover\",\"requestTimeoutMs\":1,\"suspendDurationSec\":1,"
         "\"sandbox\":{\"target\":{\"model\":\"gpt-4o\",\"endpoint\":\"ep-s\"},\"fallbacks\":[]}}",
         "apis[1].policies[2].sandbox.target.model"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg = read_edited(bad[i].path, bad[i].value, &err);
        if (cfg)
            fprintf(stderr, "  case %zu (%s) accepted\n", i, bad[i].path);
        CHECK(cfg == NULL);
        CHECK_STR(err.field, bad[i].field);
        gw_cfg_free(cfg);
    }
}

TEST("operation scopes: RFC 6749 scope-tokens, at most 16, only on a secured operation")
{
    static char big[GW_SCOPE_MAX_BYTES + 2];
    struct gw_err err;
    CHECK_INT(gw_rule_scope("chat:write", "s", &err), 0);
    CHECK_INT(gw_rule_scope("urn:x!#$%&'()*+,-./[]^_`{|}~", "s", &err), 0);
    static const char *const bad[] = {"", "a b", "a\"b", "a\\b", "a\x01", "a\x7f", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(gw_rule_scope(bad[i], "s", &err), -1);
    memset(big, 'x', GW_SCOPE_MAX_BYTES + 1);
    CHECK_INT(gw_rule_scope(big, "s", &err), -1);
    big[GW_SCOPE_MAX_BYTES] = '\0';
    CHECK_INT(gw_rule_scope(big, "s", &err), 0);

    struct gw_cfg *cfg = read_edited("apis[0].operations[0].scopes", "[\"a\", \"b:c\"]", &err);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_INT((int)cfg->apis[0].operations[0].nscopes, 2);
        CHECK_STR(cfg->apis[0].operations[0].scopes[1], "b:c");
        CHECK_INT((int)cfg->apis[0].operations[1].nscopes, 0);
        json_t *back = gw_cfg_to_json(cfg), *want = json_pack("[ss]", "a", "b:c");
        json_t *ops = json_object_get(json_array_get(json_object_get(back, "apis"), 0),
                                      "operations");
        CHECK(json_equal(json_object_get(json_array_get(ops, 0), "scopes"), want));
        CHECK(json_object_get(json_array_get(ops, 1), "scopes") == NULL);
        json_decref(want);
        json_decref(back);
    }
    gw_cfg_free(cfg);
    static const struct {
        const char *value, *field;
    } refused[] = {
        {"[\"a b\"]", "apis[0].operations[0].scopes[0]"},
        {"[1]", "apis[0].operations[0].scopes[0]"},
        {"\"a\"", "apis[0].operations[0].scopes"},
        {"[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\","
         "\"14\",\"15\",\"16\",\"17\"]",
         "apis[0].operations[0].scopes"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        cfg = read_edited("apis[0].operations[0].scopes", refused[i].value, &err);
        CHECK(cfg == NULL);
        CHECK_STR(err.field, refused[i].field);
        gw_cfg_free(cfg);
    }
    json_t *doc = snap_load("basic.json");
    snap_edit(doc, "apis[0].operations[0].secured", json_false());
    snap_edit(doc, "apis[0].operations[0].scopes", json_pack("[s]", "a"));
    cfg = gw_cfg_from_json(doc, &err);
    json_decref(doc);
    CHECK(cfg == NULL);
    CHECK(strstr(err.message, "scopes need a secured operation") != NULL);
    gw_cfg_free(cfg);
}

TEST("model: an auth value of the largest secret plus the longest prefix is read")
{
    static char v[GW_AUTH_VALUE_MAX_BYTES + 2];
    struct gw_err err;
    memset(v, 'x', GW_AUTH_VALUE_MAX_BYTES);
    json_t *doc = snap_load("basic.json");
    snap_edit(doc, "apis[0].endpoints[0].auth.value", json_string(v));
    struct gw_cfg *cfg = gw_cfg_from_json(doc, &err);
    CHECK(cfg != NULL);
    gw_cfg_free(cfg);
    v[GW_AUTH_VALUE_MAX_BYTES] = 'x';
    snap_edit(doc, "apis[0].endpoints[0].auth.value", json_string(v));
    CHECK(gw_cfg_from_json(doc, &err) == NULL);
    CHECK_STR(err.field, "apis[0].endpoints[0].auth.value");
    json_decref(doc);
}

TEST("sha256: recomputed from the content; an edit without a new hash is refused")
{
    struct gw_err err;
    json_t *doc = snap_load("basic.json");
    char h[65];
    CHECK_INT(gw_cfg_hash(doc, h), 0);
    snap_edit(doc, "sha256", json_string(h));
    CHECK_INT(gw_cfg_check_hash(doc, &err), 0);
    snap_edit(doc, "apis[0].name", json_string("edited"));
    CHECK_INT(gw_cfg_check_hash(doc, &err), -1);
    CHECK_STR(err.field, "sha256");
    CHECK(strstr(err.message, "does not match") != NULL);
    snap_edit(doc, "sha256", NULL);
    CHECK_INT(gw_cfg_check_hash(doc, &err), -1);
    json_decref(doc);
}

TEST("writing the model: read(write(model)) writes the same document, hash included")
{
    struct gw_err err;
    json_t *doc = snap_load("basic.json");
    snap_edit(doc, "apis[1].policies[1].midStreamFailover", json_string("continue"));
    snap_edit(doc, "apis[0].policies[0].operations", json_pack("[s]", "/embeddings"));
    struct gw_cfg *a = gw_cfg_from_json(doc, &err);
    json_decref(doc);
    CHECK(a != NULL);
    if (!a)
        return;
    json_t *w1 = gw_cfg_to_json(a);
    CHECK(w1 != NULL);
    CHECK_INT(gw_cfg_check_hash(w1, &err), 0);
    struct gw_cfg *b = gw_cfg_from_json(w1, &err);
    CHECK(b != NULL);
    if (!b)
        fprintf(stderr, "  %s\n", err.message);
    json_t *w2 = b ? gw_cfg_to_json(b) : NULL;
    CHECK(w2 && json_equal(w1, w2));
    CHECK_STR(json_string_value(json_object_get(
                  json_array_get(json_object_get(json_array_get(json_object_get(w2, "apis"), 1),
                                                 "policies"),
                                 1),
                  "midStreamFailover")),
              "continue");
    CHECK_INT(b ? (int)b->apis[0].policies[0].noperations : 0, 1);
    json_decref(w1);
    json_decref(w2);
    gw_cfg_free(a);
    gw_cfg_free(b);
}

TEST("issuers: read with the JWT code, written back the same; a repeated client is refused")
{
    struct gw_err err;
    EVP_PKEY *k = fx_keygen("RSA", 2048, NULL);
    char *pem = fx_pem(k, 0);
    json_t *doc = snap_load("basic.json");
    /* (the writer spells out a round robin's default operations, which
     * basic.json's first API lacks: name one it has, as the test above) */
    snap_edit(doc, "apis[0].policies[0].operations", json_pack("[s]", "/embeddings"));
    json_t *issuer = json_pack(
        "{s:s, s:s, s:s, s:[s], s:[s], s:[{s:s, s:s, s:s, s:[]}]}", "id", "i1", "issuer",
        "https://km", "clientClaim", "cid", "audiences", "gw", "keys", pem, "clients", "clientId",
        "c1", "application", "app-1", "type", "sandbox", "subscriptions");
    snap_edit(doc, "issuers", json_pack("[o]", issuer));
    struct gw_cfg *a = gw_cfg_from_json(doc, &err);
    CHECK(a != NULL);
    CHECK_INT(a ? (int)a->nissuers : 0, 1);
    CHECK_INT(a ? (int)a->issuers[0].clients[0].type : -1, GW_ENV_SANDBOX);
    json_t *w1 = a ? gw_cfg_to_json(a) : NULL;
    struct gw_cfg *b = w1 ? gw_cfg_from_json(w1, &err) : NULL;
    if (!b)
        fprintf(stderr, "  %s\n", err.message);
    json_t *w2 = b ? gw_cfg_to_json(b) : NULL;
    CHECK(w2 && json_equal(w1, w2));
    CHECK(w1 && json_equal(json_object_get(w1, "issuers"), json_object_get(doc, "issuers")));
    /* the same client id twice in one issuer: a data plane's table refuses it */
    json_array_append(json_object_get(issuer, "clients"),
                      json_array_get(json_object_get(issuer, "clients"), 0));
    CHECK(gw_cfg_from_json(doc, &err) == NULL);
    CHECK_STR(err.field, "issuers[0]");
    json_decref(w1);
    json_decref(w2);
    gw_cfg_free(a);
    gw_cfg_free(b);
    json_decref(doc);
    free(pem);
    EVP_PKEY_free(k);
}

TEST_MAIN()
