/* Token usage in upstream responses (body.h): the vendor's dotted paths
 * ("usage.prompt_tokens") looked up in a JSON object. Pure functions. */
#include "body.h"

#include <string.h>

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

int dp_usage_from_doc(json_t *doc, const struct dp_vendor *v, struct dp_usage *usage)
{
    usage->prompt = at_path(doc, v ? v->usage_prompt : "usage.prompt_tokens");
    usage->completion = at_path(doc, v ? v->usage_completion : "usage.completion_tokens");
    usage->total = at_path(doc, v ? v->usage_total : "usage.total_tokens");
    return usage->prompt >= 0 || usage->completion >= 0 || usage->total >= 0;
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

/* Usage from just the member holding it: parses only that value. Returns 1
 * found, 0 absent, -1 when the whole body must be parsed instead. */
static int usage_by_skim(const char *data, size_t len, const struct dp_vendor *v,
                         struct dp_usage *usage)
{
    const char *head, *val;
    size_t vlen, hl = v ? common_head(v, &head) : 0;
    if (hl == 0)
        return -1;
    int found = skim_member(data, len, head, hl, &val, &vlen);
    if (found <= 0)
        return found;
    json_t *sub = json_loadb(val, vlen, 0, NULL);
    if (!sub)
        return -1;
    usage->prompt = at_path(sub, v->usage_prompt + hl + 1);
    usage->completion = at_path(sub, v->usage_completion + hl + 1);
    usage->total = at_path(sub, v->usage_total + hl + 1);
    json_decref(sub);
    return usage->prompt >= 0 || usage->completion >= 0 || usage->total >= 0;
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
