/* Token usage in upstream responses (body.h): the vendor's dotted paths
 * ("usage.prompt_tokens") looked up in a JSON object, then, when they find
 * nothing, the Responses API's names (usage.input_tokens, ...; SPEC 2.2).
 * Also which operations the gateway may ask for a stream's usage. Pure
 * functions. */
#include "body.h"
#include "json_scan.h"

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
 * request path together, so the body goes through the request bodies' strict
 * scanner (json_scan.h: one scanner for bodies and responses), which tells
 * each top-level member's span, and only the usage member is read, again
 * with the scanner. Whatever the scanner is unsure of (escaped keys, numbers
 * at the limits, invalid text) goes to jansson as before: the scanner never
 * decides a malformed body is well formed. */

/* How deep the scanner follows a response body before it is unsure (jansson
 * then parses: it bounds its own recursion). */
#define SKIM_DEPTH 64

struct member_find {
    const char *key; /* the member wanted */
    size_t klen;
    int found;       /* seen (the last one counts, as jansson reads it) */
    size_t off, len; /* its value */
};

static int on_top_member(void *ctx, const char *k, size_t kl, size_t voff, size_t vlen)
{
    struct member_find *f = ctx;
    if (kl == f->klen && memcmp(k, f->key, kl) == 0) {
        f->found = 1;
        f->off = voff;
        f->len = vlen;
    }
    return 0;
}

/* Finds the top-level member key (klen bytes) of the object in s; sets *v
 * and *vlen to its raw value. Returns 1 found, 0 absent, -1 unsure. */
static int skim_member(const char *s, size_t n, const char *key, size_t klen, const char **v,
                       size_t *vlen)
{
    struct member_find f = {key, klen, 0, 0, 0};
    if (dp_json_members(s, n, SKIM_DEPTH, on_top_member, &f) != 0)
        return -1;
    if (!f.found)
        return 0;
    *v = s + f.off;
    *vlen = f.len;
    return 1;
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
 * The usage object is small: integers, maybe nested objects of integers. The
 * scanner walks it (and each nested object a wanted path goes into) and the
 * wanted integers are taken from their checked text without building a tree;
 * a repeated key replaces an earlier one, as in jansson. A count that is not
 * a non-negative integer is not found, as at_path says. */

#define READ_DEPTH 8

struct want {
    const char *path[3]; /* relative dotted paths */
    int64_t val[3];      /* the result: >= 0, or -1 */
};

/* The value text t (vlen bytes, checked by the scanner) as an integer >= 0
 * of at most 18 digits ("-0" is 0, as jansson reads it), or -1 (a real, a
 * negative number, not a number). */
static int64_t int_of(const char *t, size_t vlen)
{
    size_t i = t[0] == '-';
    int64_t x = 0;
    if (vlen == i || vlen - i > 18)
        return -1;
    for (; i < vlen; i++) {
        if (t[i] < '0' || t[i] > '9')
            return -1;
        x = x * 10 + (t[i] - '0');
    }
    return t[0] == '-' && x != 0 ? -1 : x;
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

/* One level of the walk: the object text s, the want paths followed at this
 * level (active[j], from offset off[j]). */
struct level {
    const char *s;
    struct want *w;
    int depth;
    int active[3];
    size_t off[3];
};

static int read_level(struct want *w, const char *s, size_t n, int depth, const int active[3],
                      const size_t off[3]);

static int on_usage_member(void *ctx, const char *k, size_t kl, size_t voff, size_t vlen)
{
    struct level *lv = ctx;
    const char *val = lv->s + voff;
    int sub_active[3] = {0, 0, 0}, below = 0;
    size_t sub_off[3] = {0, 0, 0};
    for (int j = 0; j < 3; j++) {
        int step = lv->active[j] ? path_step(lv->w->path[j], lv->off[j], k, kl) : 0;
        if (step)
            lv->w->val[j] = -1; /* this member replaces any earlier one */
        if (step == 2)
            lv->w->val[j] = int_of(val, vlen);
        if (step == 1 && val[0] == '{') {
            sub_active[j] = below = 1;
            sub_off[j] = lv->off[j] + kl + 1;
        }
    }
    if (!below)
        return 0;
    if (lv->depth >= READ_DEPTH)
        return -1;
    return read_level(lv->w, val, vlen, lv->depth + 1, sub_active, sub_off);
}

/* Reads the object text s (n bytes) at nesting level depth. Returns 0, or
 * -1 when unsure. */
static int read_level(struct want *w, const char *s, size_t n, int depth, const int active[3],
                      const size_t off[3])
{
    struct level lv = {s, w, depth, {active[0], active[1], active[2]}, {off[0], off[1], off[2]}};
    return dp_json_members(s, n, READ_DEPTH, on_usage_member, &lv);
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
    if (read_level(&w, val, vlen, 1, active, off) != 0)
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
