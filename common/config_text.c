/* A config snapshot from its JSON text (see config_text.h). Pure; any
 * thread. */
#include "config_text.h"

#include "common/alloc.h"
#include "common/json_raw.h"

#include <string.h>

/* text with the values of members a and b (a before b in the text) each
 * replaced by "[]": the document without its bulk. NULL when out of memory. */
static char *without(const char *text, size_t len, const struct gw_json_member *a,
                     const struct gw_json_member *b, size_t *outlen)
{
    size_t n = len - a->len - b->len + 4;
    char *out = gw_malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    const char *cuts[2][2] = {{a->value, a->value + a->len}, {b->value, b->value + b->len}};
    const char *from = text;
    for (int i = 0; i < 2; i++) {
        memcpy(o, from, (size_t)(cuts[i][0] - from));
        o += cuts[i][0] - from;
        memcpy(o, "[]", 2);
        o += 2;
        from = cuts[i][1];
    }
    memcpy(o, from, (size_t)(text + len - from));
    o += text + len - from;
    *o = '\0';
    *outlen = n;
    return out;
}

struct gw_cfg *gw_cfg_from_canonical_text(const char *text, size_t len)
{
    struct gw_json_member m[GW_JSON_TOP_MAX];
    int n = gw_json_raw_members(text, len, m);
    if (n < 0)
        return NULL;
    const struct gw_json_member *apps = gw_json_raw_find(m, n, "applications");
    const struct gw_json_member *keys = gw_json_raw_find(m, n, "keys");
    const struct gw_json_member *sha = gw_json_raw_find(m, n, "sha256");
    if (!apps || !keys || !sha || sha->len != 66 || sha->value[0] != '"')
        return NULL;
    struct gw_cfg_part parts[GW_CFG_HASHED];
    for (int i = 0; i < GW_CFG_HASHED; i++) {
        const struct gw_json_member *p = gw_json_raw_find(m, n, gw_cfg_hashed_members[i]);
        parts[i].text = p ? p->value : NULL;
        parts[i].len = p ? p->len : 0;
    }
    char have[65];
    gw_cfg_hash_parts(parts, have);
    if (memcmp(have, sha->value + 1, 64) != 0)
        return NULL;
    size_t rlen;
    int apps_first = apps->value < keys->value;
    char *rest = without(text, len, apps_first ? apps : keys, apps_first ? keys : apps, &rlen);
    json_t *doc = rest ? json_loadb(rest, rlen, JSON_REJECT_DUPLICATES, NULL) : NULL;
    gw_free(rest);
    struct gw_err err;
    struct gw_cfg *cfg =
        doc ? gw_cfg_from_json_bulk(doc, apps->value, apps->len, keys->value, keys->len, &err)
            : NULL;
    json_decref(doc);
    return cfg;
}

/* Any JSON text, through one jansson tree. */
static struct gw_cfg *read_general(const char *text, size_t len, struct gw_err *err)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    struct gw_cfg *cfg = NULL;
    if (!doc) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_json", NULL, "not JSON: %s (line %d)", je.text,
                   je.line);
        return NULL;
    }
    json_t *sv = json_object_get(doc, "schemaVersion");
    if (json_is_object(doc) &&
        (!json_is_integer(sv) || json_integer_value(sv) != GW_CFG_SCHEMA_VERSION))
        gw_err_set(err, GW_ERR_INVALID, "schema_version", "schemaVersion",
                   "unsupported schemaVersion (this binary knows %d)", GW_CFG_SCHEMA_VERSION);
    else if (!json_is_object(doc) || gw_cfg_check_hash(doc, err) == 0)
        cfg = gw_cfg_from_json(doc, err);
    json_decref(doc);
    return cfg;
}

struct gw_cfg *gw_cfg_from_text(const char *text, size_t len, struct gw_err *err)
{
    gw_err_clear(err);
    struct gw_cfg *cfg = gw_cfg_from_canonical_text(text, len);
    return cfg ? cfg : read_general(text, len, err);
}
