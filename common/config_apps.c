/* Applications and API keys of a snapshot (see config_apps.h). The
 * subscriptions are the application's, once: a key names its application
 * and shares them, so the snapshot grows with keys + subscriptions rather
 * than their product (issue 11 item 11). Keys find their application
 * through an index sorted by id (100,000 keys x 1,000 applications stay
 * linear). Pure functions, any thread. */
#include "config_apps.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/json_raw.h"
#include "common/json_read.h"
#include "common/limits.h"
#include "common/rules.h"

#define PATH GW_JR_PATH_MAX

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory reading config");
}

static int dup_into(char **dst, const char *s, struct gw_err *err)
{
    *dst = gw_strdup(s);
    return *dst ? 0 : nomem(err);
}

/* The elements of array member key of obj into a new zeroed *arr of n. */
static int alloc_array(json_t *obj, const char *key, size_t elem, void **arr, size_t *n,
                       json_t **j, struct gw_err *err)
{
    *n = 0;
    if (gw_jr_array(obj, "", key, 0, j, err) < 0)
        return -1;
    if (json_array_size(*j) == 0)
        return 0;
    *arr = gw_calloc(json_array_size(*j), elem);
    if (!*arr)
        return nomem(err);
    *n = json_array_size(*j);
    return 0;
}

/* ---- applications ---------------------------------------------------------- */

/* An application's id and name, whichever reader found them. */
static int set_application(struct gw_cfg_application *a, const char *id, const char *name,
                           const char *path, struct gw_err *err)
{
    char npath[PATH];
    gw_jr_path(npath, sizeof(npath), path, "name");
    if (gw_rule_name(name, npath, GW_NAME_MAX_CHARS, err) < 0 || dup_into(&a->id, id, err) < 0 ||
        dup_into(&a->name, name, err) < 0)
        return -1;
    return 0;
}

static int read_application(json_t *j, const char *path, struct gw_cfg_application *a,
                            struct gw_err *err)
{
    const char *id, *name;
    if (gw_jr_is_object(j, path, err) < 0 ||
        gw_jr_string(j, path, "id", 0, 1, GW_ID_MAX_BYTES, &id, err) < 0 ||
        gw_jr_string(j, path, "name", 0, 0, (size_t)-1, &name, err) < 0 ||
        set_application(a, id, name, path, err) < 0)
        return -1;
    return gw_cfg_read_subscriptions(j, path, &a->subscriptions, &a->nsubscriptions, err);
}

/* The applications sorted by id, for the keys' look-up. */
struct app_ref {
    const char *id;
    size_t index;
};

static int cmp_ref(const void *a, const void *b)
{
    return strcmp(((const struct app_ref *)a)->id, ((const struct app_ref *)b)->id);
}

/* Sorts the applications into refs; fails on a duplicate id. */
static int sort_applications(const struct gw_cfg *cfg, struct app_ref *refs, struct gw_err *err)
{
    for (size_t i = 0; i < cfg->napplications; i++) {
        refs[i].id = cfg->applications[i].id;
        refs[i].index = i;
    }
    qsort(refs, cfg->napplications, sizeof(*refs), cmp_ref);
    for (size_t i = 1; i < cfg->napplications; i++)
        if (strcmp(refs[i - 1].id, refs[i].id) == 0) {
            char path[PATH];
            size_t later = refs[i].index > refs[i - 1].index ? refs[i].index : refs[i - 1].index;
            gw_jr_index(path, sizeof(path), "applications", later);
            return gw_jr_fail(err, path, "id", "duplicate application id \"%s\"", refs[i].id);
        }
    return 0;
}

static int read_applications(json_t *doc, struct gw_cfg *cfg, struct gw_err *err)
{
    json_t *apps;
    if (alloc_array(doc, "applications", sizeof(*cfg->applications),
                    (void **)&cfg->applications, &cfg->napplications, &apps, err) < 0)
        return -1;
    for (size_t i = 0; i < cfg->napplications; i++) {
        char path[PATH];
        gw_jr_index(path, sizeof(path), "applications", i);
        if (read_application(json_array_get(apps, i), path, &cfg->applications[i], err) < 0)
            return -1;
    }
    return 0;
}

/* ---- keys ------------------------------------------------------------------ */

/* "expiresAt" (exp): NULL = never, else an RFC 3339 time. */
static int set_expiry(const char *exp, const char *path, struct gw_cfg_key *k, struct gw_err *err)
{
    if (!exp)
        return 0;
    if (gw_parse_rfc3339(exp, &k->expires_at) < 0)
        return gw_jr_fail(err, path, "expiresAt", "must be an RFC 3339 string or null");
    if (k->expires_at == 0) /* 0 means never: the epoch itself is long past */
        k->expires_at = 1;
    return 0;
}

/* "expiresAt": absent or null = never, else an RFC 3339 time. */
static int read_expiry(json_t *j, const char *path, struct gw_cfg_key *k, struct gw_err *err)
{
    json_t *exp = json_object_get(j, "expiresAt");
    if (!exp || json_is_null(exp))
        return 0;
    if (!json_is_string(exp))
        return gw_jr_fail(err, path, "expiresAt", "must be an RFC 3339 string or null");
    return set_expiry(json_string_value(exp), path, k, err);
}

static int set_key(struct gw_cfg_key *k, const char *id, const char *hash, const char *app,
                   int type, const char *path, const struct app_ref *refs, size_t nrefs,
                   struct gw_err *err);

static int read_key(json_t *j, const char *path, const struct app_ref *refs, size_t nrefs,
                    struct gw_cfg_key *k, struct gw_err *err)
{
    const char *id = NULL, *hash, *app, *appname;
    int type;
    if (gw_jr_is_object(j, path, err) < 0 ||
        gw_jr_string(j, path, "id", GW_JR_OPTIONAL, 1, GW_ID_MAX_BYTES, &id, err) < 0 ||
        gw_jr_string(j, path, "hash", 0, 64, 64, &hash, err) < 0 ||
        gw_jr_string(j, path, "application", 0, 1, GW_ID_MAX_BYTES, &app, err) < 0 ||
        gw_jr_string(j, path, "applicationName", GW_JR_OPTIONAL, 0, (size_t)-1, &appname,
                     err) < 0 ||
        gw_jr_enum(j, path, "type", 0, gw_cfg_env_names, GW_ENV_COUNT, &type, err) < 0 ||
        read_expiry(j, path, k, err) < 0)
        return -1;
    return set_key(k, id, hash, app, type, path, refs, nrefs, err);
}

/* A key's checked fields into k (the expiry is set already). */
static int set_key(struct gw_cfg_key *k, const char *id, const char *hash, const char *app,
                   int type, const char *path, const struct app_ref *refs, size_t nrefs,
                   struct gw_err *err)
{
    if (strspn(hash, "0123456789abcdef") != 64)
        return gw_jr_fail(err, path, "hash", "must be 64 lowercase hex digits");
    struct app_ref want = {app, 0};
    const struct app_ref *r = bsearch(&want, refs, nrefs, sizeof(*refs), cmp_ref);
    if (!r)
        return gw_jr_fail(err, path, "application", "names no application of \"applications\"");
    memcpy(k->hash, hash, 65);
    k->type = (enum gw_env)type;
    k->app_index = r->index;
    k->has_app = 1;
    if ((id && dup_into(&k->id, id, err) < 0) || dup_into(&k->application, app, err) < 0)
        return -1;
    return 0;
}

int gw_cfg_read_apps_keys(json_t *doc, struct gw_cfg *cfg, struct gw_err *err)
{
    json_t *keys;
    if (read_applications(doc, cfg, err) < 0)
        return -1;
    struct app_ref *refs = gw_calloc(cfg->napplications ? cfg->napplications : 1, sizeof(*refs));
    if (!refs)
        return nomem(err);
    int rc = sort_applications(cfg, refs, err);
    if (rc == 0)
        rc = alloc_array(doc, "keys", sizeof(*cfg->keys), (void **)&cfg->keys, &cfg->nkeys, &keys,
                         err);
    for (size_t i = 0; rc == 0 && i < cfg->nkeys; i++) {
        char path[PATH];
        gw_jr_index(path, sizeof(path), "keys", i);
        rc = read_key(json_array_get(keys, i), path, refs, cfg->napplications, &cfg->keys[i], err);
    }
    gw_free(refs);
    return rc;
}

/* ---- the same from the snapshot's text, without a tree ------------------------- */

/* The text readers below take only the subset of JSON that gw_json_cur
 * reads (what the control plane writes: printable ASCII without escapes)
 * and members they know, each once; anything else returns -1 and the caller
 * reads the document with jansson instead (gw_cfg_read_apps_keys), which
 * then accepts or names the problem. What they accept, they check with the
 * same functions as above, so both readers give the same model. */

/* A string of minlen..maxlen bytes copied into out (NUL-terminated; out
 * has maxlen + 1 bytes). */
static int cur_string_into(struct gw_json_cur *c, size_t minlen, size_t maxlen, char *out)
{
    const char *s;
    size_t n;
    if (gw_json_cur_string(c, &s, &n) != 0 || n < minlen || n > maxlen)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* The next member name: 0 with its index in names (each seen at most once,
 * recorded in *seen), or -1. */
static int cur_member(struct gw_json_cur *c, const char *const *names, int n, unsigned *seen)
{
    const char *s;
    size_t len;
    if (gw_json_cur_string(c, &s, &len) != 0 || gw_json_cur_char(c, ':') != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            if (*seen & (1u << i))
                return -1;
            *seen |= 1u << i;
            return i;
        }
    return -1;
}

/* After a member: 1 when the object goes on (a comma), 0 when it ended. */
static int cur_next(struct gw_json_cur *c, char close)
{
    if (gw_json_cur_char(c, ',') == 0)
        return 1;
    return gw_json_cur_char(c, close) == 0 ? 0 : -1;
}

static int text_subscriptions(struct gw_json_cur *c, struct gw_cfg_application *a)
{
    size_t cap = 0;
    if (gw_json_cur_char(c, '[') != 0)
        return -1;
    if (gw_json_cur_peek(c) == ']')
        return gw_json_cur_char(c, ']');
    for (;;) {
        const char *s;
        size_t n;
        if (gw_json_cur_string(c, &s, &n) != 0 || n < 1 || n > GW_ID_MAX_BYTES)
            return -1;
        if (a->nsubscriptions == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char **p = gw_realloc(a->subscriptions, ncap * sizeof(*p));
            if (!p)
                return -1;
            a->subscriptions = p;
            cap = ncap;
        }
        if (!(a->subscriptions[a->nsubscriptions] = gw_strndup(s, n)))
            return -1;
        a->nsubscriptions++;
        int more = cur_next(c, ']');
        if (more <= 0)
            return more;
    }
}

static int text_application(struct gw_json_cur *c, struct gw_cfg_application *a,
                            struct gw_err *scratch)
{
    static const char *const names[] = {"id", "name", "subscriptions"};
    char id[GW_ID_MAX_BYTES + 1], *name = NULL;
    unsigned seen = 0;
    int rc = -1;
    if (gw_json_cur_char(c, '{') != 0)
        return -1;
    for (int more = 1; more;) {
        int m = cur_member(c, names, 3, &seen);
        const char *s;
        size_t n;
        if (!((m == 0 && cur_string_into(c, 1, GW_ID_MAX_BYTES, id) == 0) ||
              (m == 1 && gw_json_cur_string(c, &s, &n) == 0 && (name = gw_strndup(s, n))) ||
              (m == 2 && text_subscriptions(c, a) == 0)) ||
            (more = cur_next(c, '}')) < 0)
            goto out;
    }
    if (seen == 7u)
        rc = set_application(a, id, name, "", scratch);
out:
    gw_free(name);
    return rc;
}

static int text_key(struct gw_json_cur *c, const struct app_ref *refs, size_t nrefs,
                    struct gw_cfg_key *k, struct gw_err *scratch)
{
    static const char *const names[] = {"id",   "hash",      "application", "applicationName",
                                        "type", "expiresAt"};
    char id[GW_ID_MAX_BYTES + 1], hash[65], app[GW_ID_MAX_BYTES + 1], type[16], exp[64];
    int has_id = 0, has_exp = 0, t = -1;
    unsigned seen = 0;
    if (gw_json_cur_char(c, '{') != 0)
        return -1;
    for (int more = 1; more;) {
        int m = cur_member(c, names, 6, &seen);
        const char *s;
        size_t n;
        int null = (m == 0 || m == 3 || m == 5) && gw_json_cur_peek(c) == 'n';
        if (!((null && gw_json_cur_null(c) == 0) ||
              (m == 0 && cur_string_into(c, 1, GW_ID_MAX_BYTES, id) == 0 && (has_id = 1)) ||
              (m == 1 && cur_string_into(c, 64, 64, hash) == 0) ||
              (m == 2 && cur_string_into(c, 1, GW_ID_MAX_BYTES, app) == 0) ||
              (m == 3 && gw_json_cur_string(c, &s, &n) == 0) ||
              (m == 4 && cur_string_into(c, 0, sizeof(type) - 1, type) == 0) ||
              (m == 5 && cur_string_into(c, 0, sizeof(exp) - 1, exp) == 0 && (has_exp = 1))) ||
            (more = cur_next(c, '}')) < 0)
            return -1;
    }
    if ((seen & 0x16u) != 0x16u) /* hash, application, type */
        return -1;
    for (int i = 0; i < GW_ENV_COUNT; i++)
        if (strcmp(type, gw_cfg_env_names[i]) == 0)
            t = i;
    if (t < 0 || set_expiry(has_exp ? exp : NULL, "", k, scratch) < 0)
        return -1;
    return set_key(k, has_id ? id : NULL, hash, app, t, "", refs, nrefs, scratch);
}

/* An upper bound of the objects in the array text p (len bytes): its '{'
 * bytes (memchr: no parsing). */
static size_t text_bound(const char *p, size_t len)
{
    size_t n = 0;
    const char *end = p + len;
    while ((p = memchr(p, '{', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* Reads the array at c (the whole text) with read (an expression of i_,
 * the element's index), at most max elements; *n counts them, the one
 * being read included (so a failed one is freed with the model). Returns
 * -1 from the calling function on any failure. */
#define TEXT_ARRAY(c, max, n, read)                                                                \
    do {                                                                                           \
        *(n) = 0;                                                                                  \
        if (gw_json_cur_char((c), '[') != 0)                                                       \
            return -1;                                                                             \
        int more_ = 1;                                                                             \
        if (gw_json_cur_peek(c) == ']') {                                                          \
            (c)->p++;                                                                              \
            more_ = 0;                                                                             \
        }                                                                                          \
        while (more_ == 1) {                                                                       \
            size_t i_ = *(n);                                                                      \
            if (i_ == (max))                                                                       \
                return -1;                                                                         \
            (*(n))++;                                                                              \
            if ((read) != 0)                                                                       \
                return -1;                                                                         \
            more_ = cur_next((c), ']');                                                            \
        }                                                                                          \
        if (more_ < 0 || gw_json_cur_done(c) != 0)                                                 \
            return -1;                                                                             \
    } while (0)

static int text_applications(const char *apps, size_t alen, struct gw_cfg *cfg,
                             struct gw_err *scratch)
{
    struct gw_json_cur c = {apps, apps + alen};
    size_t max = text_bound(apps, alen);
    if (max && !(cfg->applications = gw_calloc(max, sizeof(*cfg->applications))))
        return -1;
    TEXT_ARRAY(&c, max, &cfg->napplications,
               text_application(&c, &cfg->applications[i_], scratch));
    return 0;
}

static int text_keys(const char *keys, size_t klen, const struct app_ref *refs, size_t nrefs,
                     struct gw_cfg *cfg, struct gw_err *scratch)
{
    struct gw_json_cur c = {keys, keys + klen};
    size_t max = text_bound(keys, klen);
    if (max && !(cfg->keys = gw_calloc(max, sizeof(*cfg->keys))))
        return -1;
    TEXT_ARRAY(&c, max, &cfg->nkeys, text_key(&c, refs, nrefs, &cfg->keys[i_], scratch));
    return 0;
}

int gw_cfg_read_apps_keys_text(const char *apps, size_t alen, const char *keys, size_t klen,
                               struct gw_cfg *cfg)
{
    struct gw_err scratch;
    if (text_applications(apps, alen, cfg, &scratch) != 0)
        return -1;
    struct app_ref *refs = gw_calloc(cfg->napplications ? cfg->napplications : 1, sizeof(*refs));
    int rc = refs && sort_applications(cfg, refs, &scratch) == 0 &&
                     text_keys(keys, klen, refs, cfg->napplications, cfg, &scratch) == 0
                 ? 0
                 : -1;
    gw_free(refs);
    return rc;
}
