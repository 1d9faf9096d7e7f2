/* Token usage in upstream responses (body.h): the vendor's dotted paths
 * ("usage.prompt_tokens") looked up in a JSON object, then, when they find
 * nothing, the Responses API's names (usage.input_tokens, ...; SPEC 2.2).
 * Also which operations the gateway may ask for a stream's usage. Pure
 * functions. */
#include "body.h"

#include <string.h>

/* The Responses API's usage names (images and audio answers use them too),
 * read for each count the vendor's path does not find. The vendor's total
 * is usually usage.total_tokens as well, so a Responses API answer gives
 * the total at the vendor's path and the other two here. */
static const struct dp_vendor responses_names = {.usage_prompt = "usage.input_tokens",
                                                 .usage_completion = "usage.output_tokens",
                                                 .usage_total = "usage.total_tokens"};

/* The integer >= 0 at dotted path in doc, or -1. */
static int64_t at_path(json_t *doc, const char *path)
{
    json_t *cur = doc;
    const char *p = path;
    if (!p || !*p)
        return -1;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        char key[128];
        if (n >= sizeof(key) || !json_is_object(cur))
            return -1;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        p += n;
        if (*p == '.')
            p++;
    }
    if (!json_is_integer(cur) || json_integer_value(cur) < 0)
        return -1;
    return json_integer_value(cur);
}

static int found_any(const struct dp_usage *u)
{
    return u->prompt >= 0 || u->completion >= 0 || u->total >= 0;
}

static int found_all(const struct dp_usage *u)
{
    return u->prompt >= 0 && u->completion >= 0 && u->total >= 0;
}

/* Takes from alt each count u lacks. */
static void fill_missing(struct dp_usage *u, const struct dp_usage *alt)
{
    if (u->prompt < 0)
        u->prompt = alt->prompt;
    if (u->completion < 0)
        u->completion = alt->completion;
    if (u->total < 0)
        u->total = alt->total;
}

static void doc_usage(json_t *doc, const struct dp_vendor *v, struct dp_usage *usage)
{
    usage->prompt = at_path(doc, v ? v->usage_prompt : "usage.prompt_tokens");
    usage->completion = at_path(doc, v ? v->usage_completion : "usage.completion_tokens");
    usage->total = at_path(doc, v ? v->usage_total : "usage.total_tokens");
}

int dp_usage_from_doc(json_t *doc, const struct dp_vendor *v, struct dp_usage *usage)
{
    doc_usage(doc, v, usage);
    if (!found_all(usage)) {
        struct dp_usage alt;
        doc_usage(doc, &responses_names, &alt);
        fill_missing(usage, &alt);
    }
    return found_any(usage);
}

int dp_usage_from_event(json_t *doc, const struct dp_vendor *v, struct dp_usage *usage)
{
    const char *type = json_string_value(json_object_get(doc, "type")); /* borrowed */
    json_t *resp = json_object_get(doc, "response");                  /* borrowed */
    if (type && json_is_object(resp) &&
        (strcmp(type, "response.completed") == 0 || strcmp(type, "response.incomplete") == 0 ||
         strcmp(type, "response.failed") == 0))
        return dp_usage_from_doc(resp, v, usage);
    return dp_usage_from_doc(doc, v, usage);
}

int dp_usage_injectable(const char *target)
{
    return target && (strcmp(target, "/chat/completions") == 0 || strcmp(target, "/completions") == 0);
}

/* ---- skimming: find one top-level member without building the tree --------
 *
 * A chat completion's body is mostly choices and text; the usage is one small
 * object. Parsing the whole body with jansson costs more than the rest of the
 * request path together, so the skimmer walks the top-level object's members
 * as text, skipping values by bracket counting (strings and escapes
 * respected), and only the wanted member's value is parsed. It gives up
 * (returns -1, and the caller parses the whole body) on anything unexpected:
 * it never decides a malformed body is well formed. */

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* s[i] is '"': returns the index just past the closing quote, or n. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n;
}

/* Skips one value starting at s[i]; returns the index just past it, or n. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    if (i >= n)
        return n;
    if (s[i] == '"')
        return skip_string(s, i, n);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, i, n) - 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t')
        i++;
    return i;
}

/* Finds the top-level member key (klen bytes, no escapes) of the object in
 * s; sets *v and *vlen to its raw value. Returns 1 found, 0 absent, -1 unsure. */
static int skim_member(const char *s, size_t n, const char *key, size_t klen, const char **v,
                       size_t *vlen)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return -1;
    i = skip_ws(s, i + 1, n);
    if (i < n && s[i] == '}')
        return 0;
    while (i < n) {
        if (s[i] != '"')
            return -1;
        size_t kend = skip_string(s, i, n);
        if (kend >= n)
            return -1;
        const char *k = s + i + 1;
        size_t kl = kend - i - 2;
        if (memchr(k, '\\', kl))
            return -1; /* an escaped key: let jansson decide */
        i = skip_ws(s, kend, n);
        if (i >= n || s[i] != ':')
            return -1;
        i = skip_ws(s, i + 1, n);
        size_t vend = skip_value(s, i, n);
        if (vend >= n || vend == i)
            return -1;
        if (kl == klen && memcmp(k, key, klen) == 0) {
            *v = s + i;
            *vlen = vend - i;
            return 1;
        }
        i = skip_ws(s, vend, n);
        if (i < n && s[i] == '}')
            return 0;
        if (i >= n || s[i] != ',')
            return -1;
        i = skip_ws(s, i + 1, n);
    }
    return -1;
}

/* The usage paths' common first segment ("usage" for every vendor we know),
 * or 0 when they differ or have none. */
static size_t common_head(const struct dp_vendor *v, const char **head)
{
    const char *paths[3] = {v->usage_prompt, v->usage_completion, v->usage_total};
    if (!paths[0] || !paths[1] || !paths[2])
        return 0;
    size_t n = strcspn(paths[0], ".");
    if (paths[0][n] != '.')
        return 0;
    for (int i = 1; i < 3; i++)
        if (strncmp(paths[i], paths[0], n) != 0 || paths[i][n] != '.')
            return 0;
    *head = paths[0];
    return n;
}

/* ---- reading the usage object's integers from its text ---------------------
 *
 * The usage object is small and plain: integers, maybe nested objects of
 * integers, a few ASCII strings. read_obj walks it once and takes the wanted
 * integers (paths relative to the object) without building a tree. It
 * accepts only text jansson certainly accepts the same way (printable ASCII
 * strings without escapes, integers of at most 18 digits, the three
 * literals, objects; duplicate keys: the last one wins, as in jansson); on
 * anything else (arrays, reals, escapes, other bytes, deep nesting) it says
 * "unsure" and the caller parses the object with jansson as before. */

#define READ_DEPTH 8

struct want {
    const char *path[3]; /* relative dotted paths */
    int64_t val[3];      /* the result: >= 0, or -1 */
};

static int is_delim(char c)
{
    return c == ',' || c == '}' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A plain string at s[i] ('"'): printable ASCII, no escape. Returns the index
 * past the closing quote, or 0 when the string is not plain. */
static size_t plain_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20 || c >= 0x7f || c == '\\')
            return 0;
    }
    return 0;
}

/* An integer at s[i] (strict JSON, at most 18 digits, no fraction or
 * exponent, followed by a delimiter). Returns the index past it, or 0. */
static size_t plain_int(const char *s, size_t i, size_t n, int64_t *v)
{
    int neg = s[i] == '-';
    size_t d = i + (size_t)neg, j = d;
    int64_t x = 0;
    while (j < n && s[j] >= '0' && s[j] <= '9') {
        if (j - d >= 18)
            return 0;
        x = x * 10 + (s[j++] - '0');
    }
    if (j == d || (s[d] == '0' && j - d > 1) || j >= n || !is_delim(s[j]))
        return 0;
    *v = neg ? -x : x;
    return j;
}

static size_t literal(const char *s, size_t i, size_t n)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (n - i > l && memcmp(s + i, lits[k], l) == 0 && is_delim(s[i + l]))
            return i + l;
    }
    return 0;
}

/* Whether want path w, from offset off, names key k as its next segment:
 * 2 it ends there, 1 it goes on below k, 0 no. */
static int path_step(const char *w, size_t off, const char *k, size_t kl)
{
    size_t seg = strcspn(w + off, ".");
    if (seg != kl || memcmp(w + off, k, kl) != 0)
        return 0;
    return w[off + seg] == '.' ? 1 : 2;
}

/* Reads the object at s[*pos] ('{'). active[j]: want path j is followed at
 * this level from offset off[j]. Returns 0, or -1 when unsure. */
static int read_obj(const char *s, size_t *pos, size_t n, int depth, struct want *w,
                    const int active[3], const size_t off[3])
{
    size_t i = skip_ws(s, *pos + 1, n);
    if (i < n && s[i] == '}') {
        *pos = i + 1;
        return 0;
    }
    while (i < n && s[i] == '"') {
        size_t kend = plain_string(s, i, n);
        if (!kend)
            return -1;
        const char *k = s + i + 1;
        size_t kl = kend - i - 2;
        i = skip_ws(s, kend, n);
        if (i >= n || s[i] != ':')
            return -1;
        i = skip_ws(s, i + 1, n);
        if (i >= n)
            return -1;
        int step[3], sub_active[3] = {0, 0, 0};
        size_t sub_off[3] = {0, 0, 0};
        for (int j = 0; j < 3; j++) {
            step[j] = active[j] ? path_step(w->path[j], off[j], k, kl) : 0;
            if (step[j])
                w->val[j] = -1; /* this member replaces any earlier one */
            if (step[j] == 1) {
                sub_active[j] = 1;
                sub_off[j] = off[j] + kl + 1;
            }
        }
        int64_t v = 0;
        size_t end;
        if (s[i] == '{') {
            if (depth >= READ_DEPTH)
                return -1;
            end = i;
            if (read_obj(s, &end, n, depth + 1, w, sub_active, sub_off) != 0)
                return -1;
        } else if (s[i] == '"') {
            end = plain_string(s, i, n);
        } else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
            end = plain_int(s, i, n, &v);
            for (int j = 0; j < 3 && end; j++)
                if (step[j] == 2 && v >= 0)
                    w->val[j] = v;
        } else {
            end = literal(s, i, n);
        }
        if (!end)
            return -1;
        i = skip_ws(s, end, n);
        if (i < n && s[i] == '}') {
            *pos = i + 1;
            return 0;
        }
        if (i >= n || s[i] != ',')
            return -1;
        i = skip_ws(s, i + 1, n);
    }
    return -1;
}

/* The integers of the usage object text (the whole of val). Returns 1 found,
 * 0 not, -1 unsure. */
static int usage_read(const char *val, size_t vlen, const struct dp_vendor *v, size_t hl,
                      struct dp_usage *usage)
{
    struct want w = {{v->usage_prompt + hl + 1, v->usage_completion + hl + 1,
                      v->usage_total + hl + 1},
                     {-1, -1, -1}};
    const int active[3] = {1, 1, 1};
    const size_t off[3] = {0, 0, 0};
    for (int j = 0; j < 3; j++)
        if (!w.path[j][0] || strlen(w.path[j]) >= 128)
            return -1; /* at_path's limits: let it decide */
    size_t pos = 0;
    if (vlen == 0 || val[0] != '{' || read_obj(val, &pos, vlen, 1, &w, active, off) != 0 ||
        skip_ws(val, pos, vlen) != vlen)
        return -1;
    usage->prompt = w.val[0];
    usage->completion = w.val[1];
    usage->total = w.val[2];
    return usage->prompt >= 0 || usage->completion >= 0 || usage->total >= 0;
}

/* Usage at v's paths inside the value val of their first segment (hl
 * bytes): read, or else parsed, from that value alone. Returns 1 found, 0
 * not, -1 unsure. */
static int member_usage(const char *val, size_t vlen, const struct dp_vendor *v, size_t hl,
                        struct dp_usage *usage)
{
    int read = usage_read(val, vlen, v, hl, usage);
    if (read >= 0)
        return read;
    json_t *sub = json_loadb(val, vlen, 0, NULL);
    if (!sub)
        return -1;
    usage->prompt = at_path(sub, v->usage_prompt + hl + 1);
    usage->completion = at_path(sub, v->usage_completion + hl + 1);
    usage->total = at_path(sub, v->usage_total + hl + 1);
    json_decref(sub);
    return usage->prompt >= 0 || usage->completion >= 0 || usage->total >= 0;
}

/* Usage from just the member holding it: reads, or else parses, only that
 * value; the counts the vendor's paths miss are looked up under the
 * Responses API's names in the same member when the vendor's paths start
 * with "usage" too (else the whole body is parsed). Returns 1 found, 0 absent, -1 when
 * the whole body must be parsed instead. */
static int usage_by_skim(const char *data, size_t len, const struct dp_vendor *v,
                         struct dp_usage *usage)
{
    const char *head, *val;
    size_t vlen, hl = v ? common_head(v, &head) : 0;
    if (hl == 0)
        return -1;
    int usage_head = hl == 5 && memcmp(head, "usage", 5) == 0;
    int found = skim_member(data, len, head, hl, &val, &vlen);
    if (found < 0 || (found == 0 && !usage_head))
        return -1; /* the fallback names could still be elsewhere: parse */
    if (found == 0)
        return 0;
    if (member_usage(val, vlen, v, hl, usage) < 0)
        return -1;
    if (found_all(usage))
        return 1;
    if (!usage_head)
        return -1;
    struct dp_usage alt;
    if (member_usage(val, vlen, &responses_names, 5, &alt) < 0)
        return -1;
    fill_missing(usage, &alt);
    return found_any(usage);
}

int dp_usage_from_json(const char *data, size_t len, const struct dp_vendor *v,
                       struct dp_usage *usage)
{
    usage->prompt = usage->completion = usage->total = -1;
    int skimmed = usage_by_skim(data, len, v, usage);
    if (skimmed >= 0)
        return skimmed;
    usage->prompt = usage->completion = usage->total = -1;
    /* jansson bounds its own recursion (JSON_PARSER_MAX_DEPTH, 2048 in 2.14). */
    json_t *doc = json_loadb(data, len, 0, NULL);
    if (!doc)
        return 0;
    int found = json_is_object(doc) && dp_usage_from_doc(doc, v, usage);
    json_decref(doc);
    return found;
}
