/* Unit tests of the scanner path of JSON request bodies (dataplane/json_scan.c
 * and the splice in body_json.c): a differential test against the jansson
 * path over generated bodies (valid and broken, plain and hostile), then
 * focused cases: what falls back, what the splice writes byte for byte, and
 * failures (allocation, a full buffer). body_json.c is included to reach its
 * jansson path (parse_by_jansson, render_tree), the reference. */
#include "testhelp.h"

#include "common/alloc.h"
#include "dataplane/body_json.c"

#include <stdint.h>

/* ---- generated bodies -------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state >> 11) % n;
}

struct text {
    char data[16384];
    size_t len;
};

static void add(struct text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n < sizeof(t->data)) {
        memcpy(t->data + t->len, s, n);
        t->len += n;
    }
}

static void add_ws(struct text *t)
{
    static const char *const ws[] = {"", "", "", " ", "\n", "\t", "\r\n  ", "  "};
    add(t, ws[rnd(8)]);
}

/* String contents: plain, escapes, unicode (escaped and raw), sometimes
 * something jansson refuses or the scanner is unsure about. */
static void add_string(struct text *t, int hostile)
{
    static const char *const parts[] = {
        "hello", "gpt-4o", " ", "\\\"", "\\\\", "\\/", "\\b\\f\\n\\r\\t", "\\u00e9",
        "\\u20AC", "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "{[,:]}",
        "true", "\x7f",
    };
    static const char *const bad[] = {
        "\\u0000", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\x", "\\u12", "\xc0\x80",
        "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80", "\xc3", "\xff", "\x01",
        "\t", "\\ud83d", "\xe2\x82",
    };
    add(t, "\"");
    int n = (int)rnd(5);
    for (int i = 0; i < n; i++) {
        if (hostile && rnd(12) == 0)
            add(t, bad[rnd(sizeof(bad) / sizeof(bad[0]))]);
        else
            add(t, parts[rnd(sizeof(parts) / sizeof(parts[0]))]);
    }
    add(t, "\"");
}

static void add_number(struct text *t, int hostile)
{
    static const char *const good[] = {
        "0", "-0", "7", "-12", "0.7", "1.5e3", "-2E-5", "1e+2", "123456789012345678",
        "-123456789012345678", "1234567890123456789", "0.000001", "1e-400", "1e300", "3.0e0",
        "9223372036854775807", "1e308", "12345678901234567890e-5", "0.1e301",
    };
    static const char *const bad[] = {
        "01", "1.", ".5", "-", "1e", "1e+", "+1", "99999999999999999999", "1e400", "-1e999",
        "0x10", "1.5e3.2", "NaN", "Infinity", "--1", "-01",
    };
    if (hostile && rnd(10) == 0)
        add(t, bad[rnd(sizeof(bad) / sizeof(bad[0]))]);
    else
        add(t, good[rnd(sizeof(good) / sizeof(good[0]))]);
}

static void add_value(struct text *t, int depth, int hostile);

typedef void (*item_fn)(struct text *t, int depth, int hostile);

/* open, n items separated by commas (with whitespace around), close; a
 * hostile list may end with a stray comma. */
static void add_items(struct text *t, const char *open, const char *close, int n, item_fn item,
                      int depth, int hostile)
{
    add(t, open);
    add_ws(t);
    for (int i = 0; i < n; i++) {
        if (i) {
            add(t, ",");
            add_ws(t);
        }
        item(t, depth, hostile);
        add_ws(t);
    }
    if (hostile && n && rnd(30) == 0)
        add(t, ",");
    add(t, close);
}

static void add_pair(struct text *t, int depth, int hostile)
{
    static const char *const keys[] = {"\"a\"", "\"role\"", "\"content\"", "\"include_usage\"",
                                       "\"\"", "\"\\u0061\"", "\"k\\n\""};
    add(t, keys[rnd(sizeof(keys) / sizeof(keys[0]))]);
    add_ws(t);
    add(t, ":");
    add_ws(t);
    add_value(t, depth, hostile);
}

static void add_object(struct text *t, int depth, int hostile)
{
    add_items(t, "{", "}", (int)rnd(4), add_pair, depth + 1, hostile);
}

static void add_value(struct text *t, int depth, int hostile)
{
    unsigned k = rnd(depth > 6 ? 4 : 6);
    if (k == 0) {
        add_string(t, hostile);
    } else if (k == 1) {
        add_number(t, hostile);
    } else if (k == 2) {
        static const char *const lits[] = {"true", "false", "null", "tru", "nul", "True"};
        add(t, lits[rnd(hostile && rnd(10) == 0 ? 6 : 3)]);
    } else if (k == 3 || k == 4) {
        add_object(t, depth, hostile);
    } else {
        add_items(t, "[", "]", (int)rnd(4), add_value, depth + 1, hostile);
    }
}

/* The top-level members a request body has, in any order, some repeated. */
static void add_member(struct text *t, int depth, int hostile)
{
    switch (rnd(10)) {
    case 0: case 1: {
        add(t, rnd(20) ? "\"model\"" : "\"mod\\u0065l\"");
        add(t, ":");
        add_ws(t);
        unsigned k = rnd(12);
        if (k < 8)
            add_string(t, hostile);
        else if (k == 8)
            add(t, "null");
        else if (k == 9)
            add(t, "42");
        else if (k == 10)
            add(t, "[\"a\"]");
        else
            add(t, "\"bad\\u0007model\"");
        break;
    }
    case 2: {
        static const char *const v[] = {"true", "false", "\"true\"", "null", "1"};
        add(t, "\"stream\":");
        add_ws(t);
        add(t, v[rnd(5)]);
        break;
    }
    case 3: {
        static const char *const v[] = {
            "{\"include_usage\":true}", "{\"include_usage\":false}", "{}", "true", "\"x\"",
            "{\"x\":1, \"include_usage\" : true }", "{\"include_usage\":true,\"include_usage\":false}",
            "{\"include_usage\":false,\"include_usage\":true}", "{\"include\\u005fusage\":true}",
            "null", "[]", "{\"include_usage\":\"true\"}",
        };
        add(t, "\"stream_options\":");
        add_ws(t);
        add(t, v[rnd(sizeof(v) / sizeof(v[0]))]);
        break;
    }
    case 4: case 5: case 6:
        add(t, "\"messages\":");
        add_ws(t);
        add_items(t, "[", "]", 1, add_object, depth + 1, hostile);
        break;
    default: {
        static const char *const k[] = {"\"temperature\"", "\"n\"", "\"x\"", "\"\\u0078\""};
        add(t, k[rnd(4)]);
        add(t, ":");
        add_ws(t);
        add_value(t, depth, hostile);
    }
    }
}

static void gen_body(struct text *t)
{
    int hostile = rnd(3) == 0;
    t->len = 0;
    add_ws(t);
    add_items(t, "{", "}", (int)rnd(7), add_member, 1, hostile);
    add_ws(t);
    if (!hostile)
        return;
    /* Breakage on top: trailing garbage, truncation, one flipped byte. */
    switch (rnd(8)) {
    case 0:
        add(t, rnd(2) ? "x" : "{}");
        break;
    case 1:
        t->len = rnd((unsigned)t->len + 1);
        break;
    case 2:
        if (t->len)
            t->data[rnd((unsigned)t->len)] = "\"{}[]:,\\\x80\x00 a1"[rnd(13)];
        break;
    default:
        break;
    }
}

/* ---- the two paths compared --------------------------------------------------- */

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The upstream body both ways for one (model, force) choice: parsed, they
 * must be equal. Counts a render that took the splice. */
static void compare_render(const char *body, size_t len, const char *model, int force,
                           int *spliced)
{
    struct dp_json_body a, b;
    struct gw_err ea, eb;
    struct gw_buf oa, ob;
    gw_buf_init(&oa, 1 << 20);
    gw_buf_init(&ob, 1 << 20);
    memset(&b, 0, sizeof(b));
    CHECK_INT(dp_body_parse_json(body, len, "model", &a, &ea), 0);
    CHECK_INT(parse_by_jansson(body, len, "model", &b, &eb), 0);
    int was_scanned = a.scanned;
    CHECK_INT(dp_body_render_json(&a, "model", model, force, &oa), 0);
    CHECK_INT(render_tree(&b, "model", model, force, &ob), 0);
    if (was_scanned && !a.doc)
        (*spliced)++;
    CHECK(same_str(a.model, b.model));
    CHECK_INT(a.include_usage, b.include_usage);
    json_t *ja = oa.data ? json_loadb(oa.data, oa.len, JSON_ALLOW_NUL, NULL) : NULL;
    json_t *jb = ob.data ? json_loadb(ob.data, ob.len, JSON_ALLOW_NUL, NULL) : NULL;
    CHECK(ja && jb && json_equal(ja, jb));
    if (!(ja && jb && json_equal(ja, jb)))
        fprintf(stderr, "  body: %.*s\n  got:  %s\n  want: %s\n", (int)len, body,
                oa.data ? oa.data : "(none)", ob.data ? ob.data : "(none)");
    json_decref(ja);
    json_decref(jb);
    dp_body_json_cleanup(&a);
    dp_body_json_cleanup(&b);
    gw_buf_cleanup(&oa);
    gw_buf_cleanup(&ob);
}

/* Parses body both ways; they must agree on everything. Returns 1 when it
 * was accepted, and counts what the scanner took. */
static int compare(const char *body, size_t len, int *scanned, int *spliced)
{
    struct dp_json_body a, b;
    struct gw_err ea, eb;
    gw_err_clear(&ea);
    gw_err_clear(&eb);
    memset(&b, 0, sizeof(b));
    int ra = dp_body_parse_json(body, len, "model", &a, &ea);
    int rb = parse_by_jansson(body, len, "model", &b, &eb);
    CHECK_INT(ra, rb);
    if (ra != rb)
        fprintf(stderr, "  body: %.*s\n", (int)len, body);
    if (ra != 0 || rb != 0) {
        CHECK_INT(ea.kind, eb.kind);
        CHECK_STR(ea.message, eb.message);
        CHECK(a.doc == NULL && !a.scanned);
        dp_body_json_cleanup(&a);
        dp_body_json_cleanup(&b);
        return 0;
    }
    *scanned += a.scanned;
    CHECK(same_str(a.model, b.model));
    CHECK_INT(a.stream, b.stream);
    CHECK_INT(a.include_usage, b.include_usage);
    dp_body_json_cleanup(&a);
    dp_body_json_cleanup(&b);
    static const char *const models[] = {NULL, "o1-mini", "x\",\"admin\":true,\"y\":\"\\\n\x01\xc3\xa9"};
    for (int m = 0; m < 3; m++)
        for (int force = 0; force < 2; force++)
            compare_render(body, len, models[m], force, spliced);
    return 1;
}

TEST("differential: generated bodies, scanner and jansson agree")
{
    struct text t;
    int accepted = 0, scanned = 0, spliced = 0, rounds = 20000;
    for (int i = 0; i < rounds; i++) {
        gen_body(&t);
        /* A copy of exactly len bytes, so ASan sees any read past the end. */
        char *body = gw_malloc(t.len ? t.len : 1);
        memcpy(body, t.data, t.len);
        accepted += compare(body, t.len, &scanned, &spliced);
        gw_free(body);
    }
    fprintf(stderr, "  %d bodies: %d accepted, %d of them scanned, %d splice renders\n", rounds,
            accepted, scanned, spliced);
    /* Both ways are exercised. */
    CHECK(accepted > rounds / 2 && accepted < rounds);
    CHECK(scanned > accepted / 4 && scanned < accepted);
    CHECK(spliced > scanned);
}

/* ---- focused cases ------------------------------------------------------------- */

static int agree(const char *s)
{
    int scanned = 0, spliced = 0;
    return compare(s, strlen(s), &scanned, &spliced);
}

static int scanned_ok(const char *s, const char *field)
{
    struct dp_json_scan sc;
    return dp_json_scan(s, strlen(s), field, DP_JSON_MAX_DEPTH, &sc) == 0;
}

TEST("scanner: plain bodies are scanned, doubtful ones left to jansson")
{
    static const char *const plain[] = {
        "{}", " {\"model\":\"gpt-4o\"} \n", "{\"a\":\"h\\u00e9 \\ud83d\\ude00 \\\"q\\\"\"}",
        "{\"n\":[0,-0,1.5e3,-2E-5,123456789012345678,1e-400,0.7]}",
        "{\"stream_options\":{\"include_usage\":true},\"stream\":true}",
        "{\"messages\":[{\"a\":1,\"a\":2}]}", /* repeats below the top: jansson's last wins */
        "{\"\":\"\xf0\x9f\x98\x80\"}",
        "{\"model\":\"a\",\"model\":\"b\"}",       /* repeated top-level keys: the last wins */
        "{\"x\":1,\"x\":2}",
        "{\"a\":\"\\u0000\"}",                     /* NUL: fine in values, not keys */
        "{\"stream_options\":{\"include_usage\":true,\"include_usage\":false}}",
        "{\"stream\":true,\"stream_options\":null,\"stream\":false,\"stream_options\":{}}",
    };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        CHECK(scanned_ok(plain[i], "model"));
        CHECK(agree(plain[i]));
    }
    static const char *const doubtful[] = {
        "{\"mod\\u0065l\":\"a\"}",                 /* escaped key */
        "{\"model\":\"g\\u0070t\"}",               /* escaped model */
        "{\"model\":5}",                           /* not a string */
        "{\"n\":1234567890123456789}",             /* 19 digits */
        "{\"n\":1e301}",
        "{\"stream_options\":{\"include\\u005fusage\":true}}",
        "[1]", "{\"a\":1}x", "{\"a\":\"\\ud800\"}",
    };
    for (size_t i = 0; i < sizeof(doubtful) / sizeof(doubtful[0]); i++) {
        CHECK(!scanned_ok(doubtful[i], "model"));
        agree(doubtful[i]);
    }
    /* The model field named like a member read for itself. */
    CHECK(!scanned_ok("{\"stream\":\"m\"}", "stream"));
    CHECK(scanned_ok("{\"deployment\":\"d\",\"model\":1}", "deployment"));
    CHECK(scanned_ok("{\"model\":1}", NULL));
}

TEST("scanner: jansson's verdicts on UTF-8, escapes, numbers and literals")
{
    static const char *const rejected[] = {
        "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xe0\x80\x80\"}", "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xf5\x80\x80\x80\"}", "{\"a\":\"\xc3\"}",
        "{\"a\":\"\x80\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}", "{\"a\":\"\t\"}", "{\"\\u0000\":1}", "{\"a\":01}", "{\"a\":1.}",
        "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":+1}", "{\"a\":99999999999999999999}",
        "{\"a\":1e400}", "{\"a\":tru}", "{\"a\":truex}", "{\"a\":NaN}", "{\"a\":1,}", "{,}",
        "{\"a\"}", "{\"a\":1 \"b\":2}", "{\"a\":[1,]}", "{\"a\":1}}", "{\"a\":1} {}", "{",
        "", "   ", "{\"a\":\"x", "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        CHECK(!scanned_ok(rejected[i], "model"));
        CHECK_INT(agree(rejected[i]), 0);
    }
    static const char *const accepted[] = {
        "{\"a\":\"\\u0000\"}", "{\"a\":1234567890123456789}", "{\"a\":1e-999}",
        "{\"a\":\"\\uD83D\\uDE00\"}", "{\"a\":\"\xf4\x8f\xbf\xbf\"}", "{\"a\":[[],{},\"\"]}",
        "{\"a\":-0.0e-0}",
    };
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
        CHECK_INT(agree(accepted[i]), 1);
}

/* {"a":[[...]]} with levels levels in all (the object is the first). */
static void nested_body(char *buf, size_t size, int levels)
{
    size_t n = (size_t)snprintf(buf, size, "{\"a\":");
    for (int i = 1; i < levels && n + 2 < size; i++)
        buf[n++] = '[';
    for (int i = 1; i < levels && n + 2 < size; i++)
        buf[n++] = ']';
    buf[n++] = '}';
    buf[n] = '\0';
}

TEST("scanner: the depth limit is the same (64 levels in, 65 out)")
{
    char body[512];
    nested_body(body, sizeof(body), DP_JSON_MAX_DEPTH);
    CHECK(scanned_ok(body, "model"));
    CHECK_INT(agree(body), 1);
    nested_body(body, sizeof(body), DP_JSON_MAX_DEPTH + 1);
    CHECK(!scanned_ok(body, "model"));
    CHECK_INT(agree(body), 0);
}

static char *render(const char *in, const char *model, int force, int *scanned)
{
    struct dp_json_body b;
    struct gw_err err;
    struct gw_buf out;
    gw_buf_init(&out, 1 << 20);
    if (dp_body_parse_json(in, strlen(in), "model", &b, &err) != 0)
        return NULL;
    *scanned = b.scanned;
    int rc = dp_body_render_json(&b, "model", model, force, &out);
    if (rc == 0 && model && !same_str(b.model, model))
        rc = -1;
    if (rc == 0 && force && !b.include_usage)
        rc = -1;
    dp_body_json_cleanup(&b);
    if (rc != 0) {
        gw_buf_cleanup(&out);
        return NULL;
    }
    return gw_buf_take(&out);
}

TEST("splice: the caller's bytes kept, the model and usage put in")
{
    static const struct {
        const char *in, *model;
        int force;
        const char *want;
        int scanned;
    } cases[] = {
        {"{ \"model\" : \"gpt-4o\" , \"t\": 0.7,\"s\":\"\\u00e9\" }\n", "o1", 0,
         "{ \"model\" : \"o1\" , \"t\": 0.7,\"s\":\"\\u00e9\" }\n", 1},
        {"{\"model\":\"gpt-4o\"}", "a\"b\\c\nd\x01\xc3\xa9", 0,
         "{\"model\":\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"}", 1},
        {"{}", "m", 1, "{\"model\":\"m\",\"stream_options\":{\"include_usage\":true}}", 1},
        {"{ }", NULL, 1, "{ \"stream_options\":{\"include_usage\":true}}", 1},
        {"{\"stream\":true }", "m", 1,
         "{\"stream\":true ,\"model\":\"m\",\"stream_options\":{\"include_usage\":true}}", 1},
        {"{\"model\":\"x\",\"stream_options\":{\"include_usage\":true}}", "y", 1,
         "{\"model\":\"y\",\"stream_options\":{\"include_usage\":true}}", 1},
        {"{\"model\":\"x\",\"stream\":true}", NULL, 0, "{\"model\":\"x\",\"stream\":true}", 1},
        /* stream_options to change: edited in place */
        {"{\"model\": \"x\", \"stream_options\": {\"include_usage\": false}}", "y", 1,
         "{\"model\": \"y\", \"stream_options\": {\"include_usage\": true}}", 1},
        {"{\"stream_options\": [], \"model\": \"x\"}", NULL, 1,
         "{\"stream_options\": {\"include_usage\":true}, \"model\": \"x\"}", 1},
        {"{\"stream_options\":{ \"a\":1}}", NULL, 1,
         "{\"stream_options\":{\"include_usage\":true, \"a\":1}}", 1},
        {"{\"stream_options\":{ }}", NULL, 1, "{\"stream_options\":{\"include_usage\":true }}", 1},
        /* repeated keys: the last one counts, every model value is replaced */
        {"{\"model\": \"x\", \"model\": \"y\"}", "z", 0, "{\"model\": \"z\", \"model\": \"z\"}", 1},
        {"{\"model\":\"a\",\"stream_options\":null,\"model\":\"b\"}", "z", 1,
         "{\"model\":\"z\",\"stream_options\":{\"include_usage\":true},\"model\":\"z\"}", 1},
        {"{\"stream_options\":{\"include_usage\":false},\"stream_options\":{\"include_usage\":1}}",
         NULL, 1,
         "{\"stream_options\":{\"include_usage\":false},\"stream_options\":{\"include_usage\":true}}",
         1},
        /* not scanned: jansson all the way */
        {"{\"mod\\u0065l\": \"x\"}", "z", 0, "{\"model\":\"z\"}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int scanned = -1;
        char *s = render(cases[i].in, cases[i].model, cases[i].force, &scanned);
        CHECK_STR(s, cases[i].want);
        CHECK_INT(scanned, cases[i].scanned);
        gw_free(s);
    }
    /* A model jansson would refuse (not UTF-8): the render fails either way. */
    int scanned;
    CHECK(render("{\"model\":\"x\"}", "\xff", 0, &scanned) == NULL);
    CHECK(render("{\"model\":\"x\",\"stream_options\":{}}", "\xff", 1, &scanned) == NULL);
}

/* A body of about size bytes: {"model":"a","model":"b",...,"x":"<pad>"}
 * with reps model members, then tail before the closing brace. */
static char *big_body(size_t size, int reps, const char *tail, size_t *len)
{
    char *p = gw_malloc(size + 64);
    size_t n = 0;
    p[n++] = '{';
    for (int i = 0; i < reps; i++)
        n += (size_t)snprintf(p + n, 32, "\"model\":\"m%d\",", i % 10);
    memcpy(p + n, "\"x\":\"", 5);
    n += 5;
    while (n < size)
        p[n++] = 'a';
    n += (size_t)snprintf(p + n, 64, "\"%s}", tail);
    *len = n;
    return p;
}

TEST("repeated keys in a large body: scanned, no tree, every model replaced")
{
    size_t len;
    int reps = 10000;
    char *p = big_body(2 * 1024 * 1024, reps, "", &len);
    struct dp_json_body b;
    struct gw_err err;
    struct gw_buf out;
    CHECK_INT(dp_body_parse_json(p, len, "model", &b, &err), 0);
    CHECK(b.scanned && b.doc == NULL);
    CHECK_STR(b.model, "m9"); /* the last one */
    CHECK_INT(b.scan.model_count, reps);
    gw_buf_init(&out, 2 * DP_BODY_MAX);
    CHECK_INT(dp_body_render_json(&b, "model", "routed", 1, &out), 0);
    CHECK(b.doc == NULL);
    size_t n = 0;
    for (const char *q = out.data; (q = strstr(q, "\"model\":\"")); q += 9) {
        n++;
        if (strncmp(q + 9, "routed\"", 7) != 0)
            break;
    }
    CHECK_INT((long)n, reps);
    dp_body_json_cleanup(&b);
    gw_buf_cleanup(&out);
    gw_free(p);
}

TEST("a body the scanner cannot read: jansson only up to DP_JSON_FALLBACK_MAX")
{
    struct dp_json_body b;
    struct gw_err err;
    size_t len;
    /* An escaped top-level key at the end, the scanner's doubt. */
    char *p = big_body(DP_JSON_FALLBACK_MAX - 100, 1, ",\"\\u0078\":1", &len);
    CHECK(len <= DP_JSON_FALLBACK_MAX);
    CHECK_INT(dp_body_parse_json(p, len, "model", &b, &err), 0);
    CHECK(!b.scanned && b.doc != NULL);
    dp_body_json_cleanup(&b);
    gw_free(p);
    p = big_body(DP_JSON_FALLBACK_MAX + 100, 1, ",\"\\u0078\":1", &len);
    gw_err_clear(&err);
    CHECK_INT(dp_body_parse_json(p, len, "model", &b, &err), -1);
    CHECK_INT(err.kind, GW_ERR_INVALID);
    CHECK(strstr(err.message, "up to 256 KiB") != NULL);
    CHECK(b.doc == NULL && !b.scanned);
    gw_free(p);
}

TEST("splice: each render starts from the caller's bytes")
{
    const char *in = "{\"model\":\"a\",\"stream\":true}";
    struct dp_json_body b;
    struct gw_err err;
    struct gw_buf out;
    gw_buf_init(&out, 1 << 16);
    CHECK_INT(dp_body_parse_json(in, strlen(in), "model", &b, &err), 0);
    CHECK_INT(dp_body_render_json(&b, "model", "first", 1, &out), 0);
    CHECK_STR(out.data, "{\"model\":\"first\",\"stream\":true,\"stream_options\":"
                        "{\"include_usage\":true}}");
    gw_buf_reset(&out);
    CHECK_INT(dp_body_render_json(&b, "model", "second", 1, &out), 0);
    CHECK_STR(out.data, "{\"model\":\"second\",\"stream\":true,\"stream_options\":"
                        "{\"include_usage\":true}}");
    CHECK_STR(b.model, "second");
    dp_body_json_cleanup(&b);
    gw_buf_cleanup(&out);
}

TEST("splice: a full output buffer and allocation failures fail cleanly")
{
    struct dp_json_body b;
    struct gw_err err;
    struct gw_buf out;
    const char *in = "{\"model\":\"gpt-4o\",\"messages\":[],\"stream\":true}";
    for (size_t cap = 0; cap < 80; cap += 7) {
        gw_buf_init(&out, cap);
        CHECK_INT(dp_body_parse_json(in, strlen(in), "model", &b, &err), 0);
        CHECK(b.scanned);
        int rc = dp_body_render_json(&b, "model", "o1-mini", 1, &out);
        CHECK(rc == 0 ? out.len <= cap : out.data == NULL);
        CHECK_STR(b.model, rc == 0 ? "o1-mini" : "gpt-4o");
        dp_body_json_cleanup(&b);
        gw_buf_cleanup(&out);
    }

    gw_alloc_init();
    static const char *const bodies[] = {
        "{\"model\":\"gpt-4o\",\"stream\":true}",
        "{\"model\":\"gpt-4o\",\"stream_options\":{\"include_usage\":false}}",
    };
    for (int k = 0; k < 2; k++) {
        int ok = 0;
        for (long n = 0; n < 1000 && !ok; n++) {
            gw_buf_init(&out, 1 << 16);
            gw_alloc_fail_after(n);
            if (dp_body_parse_json(bodies[k], strlen(bodies[k]), "model", &b, &err) == 0) {
                if (dp_body_render_json(&b, "model", "o1-mini", 1, &out) == 0)
                    ok = 1;
                dp_body_json_cleanup(&b);
            } else {
                CHECK(err.kind == GW_ERR_NOMEM);
                CHECK(b.model_own == NULL && b.doc == NULL);
            }
            gw_alloc_fail_after(-1);
            gw_buf_cleanup(&out);
        }
        CHECK(ok);
    }
}

TEST_MAIN()
