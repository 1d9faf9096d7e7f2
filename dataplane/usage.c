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

int dp_usage_from_json(const char *data, size_t len, const struct dp_vendor *v,
                       struct dp_usage *usage)
{
    usage->prompt = usage->completion = usage->total = -1;
    /* jansson bounds its own recursion (JSON_PARSER_MAX_DEPTH, 2048 in 2.14). */
    json_t *doc = json_loadb(data, len, 0, NULL);
    if (!doc)
        return 0;
    int found = json_is_object(doc) && dp_usage_from_doc(doc, v, usage);
    json_decref(doc);
    return found;
}
