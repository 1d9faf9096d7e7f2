/* The strict one-pass JSON body scanner (json_scan.h).
 *
 * A recursive descent over the text, bounded by max_depth, that checks what
 * jansson's decoder checks (the JSON grammar, UTF-8, escapes, the literals,
 * numbers that fit) and records the spans of the top-level members the
 * gateway reads. Where jansson's verdict depends on more than the grammar
 * (integer range, real overflow, "\u0000" in keys, lone surrogates) or where
 * the meaning needs decoding (escaped keys), it says "unsure" rather than
 * guess: the caller's jansson parse then decides. Pure functions. */
#include "json_scan.h"

#include <string.h>

#include "common/utf8.h"

struct scanner {
    const unsigned char *s;
    size_t n;
    size_t i; /* the next byte */
    int max_depth;
    dp_json_model_cb on_model; /* NULL, or told each top-level model value */
    void *ctx;
};

/* The members of the top-level object the scan looks for. */
enum member {
    MEMBER_OTHER = 0,       /* any other key */
    MEMBER_MODEL,           /* the vendor's model field */
    MEMBER_STREAM,          /* "stream" */
    MEMBER_STREAM_OPTIONS,  /* "stream_options" */
};

static void skip_ws(struct scanner *sc)
{
    while (sc->i < sc->n) {
        unsigned char c = sc->s[sc->i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        sc->i++;
    }
}

/* Four hex digits at s[i]: their value, or -1. */
static long hex4(const unsigned char *s, size_t i, size_t n)
{
    long v = 0;
    if (i > n || n - i < 4)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        unsigned c = s[i + k];
        if (c >= '0' && c <= '9')
            v = v * 16 + (c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v = v * 16 + ((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/* The escape at s[i] ('\\'): the index past it, or 0 when unsure.
 * "\u0000" is fine in a value (JSON_ALLOW_NUL), not in a key. */
static size_t scan_escape(const unsigned char *s, size_t i, size_t n, int in_key)
{
    if (i + 1 >= n)
        return 0;
    switch (s[i + 1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return i + 2;
    case 'u':
        break;
    default:
        return 0;
    }
    long u = hex4(s, i + 2, n);
    if (u < 0 || (u == 0 && in_key) || (u >= 0xdc00 && u <= 0xdfff))
        return 0; /* invalid, "\u0000" in a key, or a lone low surrogate */
    if (u < 0xd800 || u > 0xdbff)
        return i + 6;
    /* A high surrogate: jansson wants its low half right after. */
    if (n - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u')
        return 0;
    long lo = hex4(s, i + 8, n);
    return lo >= 0xdc00 && lo <= 0xdfff ? i + 12 : 0;
}

/* The bytes a string's text holds as they are: printable ASCII but the
 * quote (0x22) and the backslash (0x5c). The inner loop of every prompt. */
#define ONES_16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char plain_byte[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ONES_16,
    ONES_16,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    ONES_16,
    ONES_16,
};

/* The string at s[i] ('"'), a key when in_key: moves past it; *escaped
 * says whether it held an escape. Returns 0 or -1 (unsure). */
static int scan_string(struct scanner *sc, int *escaped, int in_key)
{
    const unsigned char *s = sc->s;
    size_t i = sc->i + 1, n = sc->n;
    *escaped = 0;
    while (i < n) {
        while (i < n && plain_byte[s[i]])
            i++;
        if (i >= n)
            break;
        unsigned c = s[i];
        if (c == '"') {
            sc->i = i + 1;
            return 0;
        }
        if (c >= 0x80) {
            size_t l = gw_utf8_seq(s + i, n - i);
            if (!l)
                return -1;
            i += l;
        } else if (c == '\\') {
            *escaped = 1;
            if (!(i = scan_escape(s, i, n, in_key)))
                return -1;
        } else {
            return -1; /* a raw control character */
        }
    }
    return -1;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A number at s[i] per the JSON grammar, that jansson reads without a range
 * error: integers of at most 18 digits, reals whose magnitude stays far
 * below DBL_MAX (underflow is no error in jansson). Returns 0 or -1. */
static int scan_number(struct scanner *sc)
{
    const unsigned char *s = sc->s;
    size_t i = sc->i, n = sc->n;
    if (s[i] == '-')
        i++;
    size_t d0 = i;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && is_digit(s[i]))
            i++;
    else
        return -1;
    size_t int_digits = i - d0;
    int real = 0;
    long exp = 0;
    if (i < n && s[i] == '.') {
        real = 1;
        size_t f0 = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == f0)
            return -1;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        real = 1;
        int neg = 0;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            neg = s[i++] == '-';
        size_t e0 = i;
        for (; i < n && is_digit(s[i]); i++)
            if (exp < 100000)
                exp = exp * 10 + (s[i] - '0');
        if (i == e0)
            return -1;
        if (neg)
            exp = -exp;
    }
    if (!real && int_digits > 18)
        return -1;
    if (real && (int_digits > 100000 || (long)int_digits + exp > 300))
        return -1;
    sc->i = i;
    return 0;
}

static int scan_literal(struct scanner *sc)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (sc->n - sc->i >= l && memcmp(sc->s + sc->i, lits[k], l) == 0) {
            sc->i += l;
            return 0; /* "truex": the caller finds no delimiter after it */
        }
    }
    return -1;
}

static int scan_value(struct scanner *sc, int depth);

/* Inside "stream_options": the last "include_usage" (the one jansson and
 * the upstream keep), and how many members the object has. */
struct usage_watch {
    int seen;
    int value;
    size_t off, len; /* its value */
    int members;
};

/* Past the opening byte of a container at s[i]: 1 when it closes at once
 * (close passed), 0 when items follow. */
static int begin_items(struct scanner *sc, unsigned char close)
{
    sc->i++;
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == close) {
        sc->i++;
        return 1;
    }
    return 0;
}

/* After an item: 1 on ',' (another item follows), 0 on close (passed), -1
 * on anything else. */
static int next_item(struct scanner *sc, unsigned char close)
{
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == ',') {
        sc->i++;
        skip_ws(sc);
        return 1;
    }
    if (sc->i < sc->n && sc->s[sc->i] == close) {
        sc->i++;
        return 0;
    }
    return -1;
}

/* A member's key and colon at s[i]: *k0 and *klen give the key's raw text,
 * *escaped whether it has an escape. Returns 0 (at the value) or -1. */
static int scan_key(struct scanner *sc, size_t *k0, size_t *klen, int *escaped)
{
    if (sc->i >= sc->n || sc->s[sc->i] != '"')
        return -1;
    *k0 = sc->i + 1;
    if (scan_string(sc, escaped, 1) != 0)
        return -1;
    *klen = sc->i - 1 - *k0;
    skip_ws(sc);
    if (sc->i >= sc->n || sc->s[sc->i] != ':')
        return -1;
    sc->i++;
    skip_ws(sc);
    return 0;
}

/* The object at s[i] ('{'), at nesting level depth. When watch is set, keys
 * must be plain, and the last "include_usage" is recorded. Returns 0 or -1. */
static int scan_object(struct scanner *sc, int depth, struct usage_watch *watch)
{
    if (depth > sc->max_depth)
        return -1;
    if (begin_items(sc, '}'))
        return 0;
    int more;
    do {
        size_t k0, klen, v0;
        int esc;
        if (scan_key(sc, &k0, &klen, &esc) != 0)
            return -1;
        v0 = sc->i;
        if (scan_value(sc, depth) != 0)
            return -1;
        if (watch && esc)
            return -1;
        if (watch)
            watch->members++;
        if (watch && klen == 13 && memcmp(sc->s + k0, "include_usage", 13) == 0) {
            watch->seen = 1;
            watch->value = sc->i - v0 == 4 && memcmp(sc->s + v0, "true", 4) == 0;
            watch->off = v0;
            watch->len = sc->i - v0;
        }
    } while ((more = next_item(sc, '}')) == 1);
    return more;
}

static int scan_array(struct scanner *sc, int depth)
{
    if (depth > sc->max_depth)
        return -1;
    if (begin_items(sc, ']'))
        return 0;
    int more;
    do {
        if (scan_value(sc, depth) != 0)
            return -1;
    } while ((more = next_item(sc, ']')) == 1);
    return more;
}

/* The value at s[i] (whitespace skipped), inside a container at level
 * depth. Returns 0 or -1. */
static int scan_value(struct scanner *sc, int depth)
{
    if (sc->i >= sc->n)
        return -1;
    int esc;
    switch (sc->s[sc->i]) {
    case '{':
        return scan_object(sc, depth + 1, NULL);
    case '[':
        return scan_array(sc, depth + 1);
    case '"':
        return scan_string(sc, &esc, 0);
    case 't': case 'f': case 'n':
        return scan_literal(sc);
    default:
        return scan_number(sc);
    }
}

static enum member member_of(const unsigned char *k, size_t kl, const char *model_field,
                             size_t mfl)
{
    if (model_field && kl == mfl && memcmp(k, model_field, kl) == 0)
        return MEMBER_MODEL;
    if (kl == 6 && memcmp(k, "stream", 6) == 0)
        return MEMBER_STREAM;
    if (kl == 14 && memcmp(k, "stream_options", 14) == 0)
        return MEMBER_STREAM_OPTIONS;
    return MEMBER_OTHER;
}

/* The value of top-level member kind m at s[i]; fills out (a repeated
 * member: the last one counts, as jansson and the upstream read it). 0 or
 * -1. */
static int scan_member(struct scanner *sc, enum member m, struct dp_json_scan *out)
{
    size_t v0 = sc->i;
    int esc;
    if (m == MEMBER_MODEL) {
        if (v0 >= sc->n || sc->s[v0] != '"' || scan_string(sc, &esc, 0) != 0 || esc)
            return -1;
        out->has_model = 1;
        out->model_count++;
        out->model_off = v0;
        out->model_len = sc->i - v0;
        if (sc->on_model)
            sc->on_model(sc->ctx, v0, sc->i - v0);
        return 0;
    }
    if (m == MEMBER_STREAM_OPTIONS) {
        out->has_stream_options = 1;
        out->so_object = v0 < sc->n && sc->s[v0] == '{';
        out->include_usage = 0;
        out->iu_len = 0;
        out->so_members = 0;
        if (out->so_object) {
            struct usage_watch w = {0, 0, 0, 0, 0};
            if (scan_object(sc, 2, &w) != 0)
                return -1;
            out->include_usage = w.value;
            out->iu_off = w.off;
            out->iu_len = w.seen ? w.len : 0;
            out->so_members = w.members;
        } else if (scan_value(sc, 1) != 0) {
            return -1;
        }
        out->so_off = v0;
        out->so_len = sc->i - v0;
        return 0;
    }
    if (scan_value(sc, 1) != 0)
        return -1;
    if (m == MEMBER_STREAM)
        out->stream = sc->i - v0 == 4 && memcmp(sc->s + v0, "true", 4) == 0;
    return 0;
}

int dp_json_scan(const char *text, size_t n, const char *model_field, int max_depth,
                 struct dp_json_scan *out)
{
    return dp_json_scan_visit(text, n, model_field, max_depth, out, NULL, NULL);
}

int dp_json_scan_visit(const char *text, size_t n, const char *model_field, int max_depth,
                       struct dp_json_scan *out, dp_json_model_cb on_model, void *ctx)
{
    struct scanner sc = {(const unsigned char *)text, n, 0, max_depth, on_model, ctx};
    size_t mfl = model_field ? strlen(model_field) : 0;
    memset(out, 0, sizeof(*out));
    /* A model field that is also a member read for itself: let jansson
     * sort out which meaning wins. */
    if (model_field && (strcmp(model_field, "stream") == 0 ||
                        strcmp(model_field, "stream_options") == 0))
        return -1;
    skip_ws(&sc);
    if (sc.i >= n || sc.s[sc.i] != '{' || max_depth < 1)
        return -1;
    if (begin_items(&sc, '}')) {
        out->close = sc.i - 1;
        goto tail;
    }
    int more;
    do {
        size_t k0, kl;
        int esc;
        if (scan_key(&sc, &k0, &kl, &esc) != 0 || esc)
            return -1;
        out->members++;
        if (scan_member(&sc, member_of(sc.s + k0, kl, model_field, mfl), out) != 0)
            return -1;
    } while ((more = next_item(&sc, '}')) == 1);
    if (more < 0)
        return -1;
    out->close = sc.i - 1;
tail:
    skip_ws(&sc);
    return sc.i == n ? 0 : -1;
}

int dp_json_members(const char *text, size_t n, int max_depth, dp_json_member_cb on_member,
                    void *ctx)
{
    struct scanner sc = {(const unsigned char *)text, n, 0, max_depth, NULL, NULL};
    skip_ws(&sc);
    if (sc.i >= n || sc.s[sc.i] != '{' || max_depth < 1)
        return -1;
    int more = 0;
    if (!begin_items(&sc, '}')) {
        do {
            size_t k0, kl, v0;
            int esc;
            if (scan_key(&sc, &k0, &kl, &esc) != 0 || esc)
                return -1;
            v0 = sc.i;
            if (scan_value(&sc, 1) != 0 ||
                on_member(ctx, (const char *)sc.s + k0, kl, v0, sc.i - v0) != 0)
                return -1;
        } while ((more = next_item(&sc, '}')) == 1);
    }
    if (more < 0)
        return -1;
    skip_ws(&sc);
    return sc.i == n ? 0 : -1;
}
