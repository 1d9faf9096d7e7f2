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

static int read_subscriptions(json_t *j, const char *path, struct gw_cfg_application *a,
                              struct gw_err *err)
{
    json_t *subs;
    char spath[PATH];
    if (gw_jr_array(j, path, "subscriptions", 0, &subs, err) < 0)
        return -1;
    size_t n = json_array_size(subs);
    if (n == 0)
        return 0;
    a->subscriptions = gw_calloc(n, sizeof(char *));
    if (!a->subscriptions)
        return nomem(err);
    a->nsubscriptions = n;
    gw_jr_path(spath, sizeof(spath), path, "subscriptions");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(subs, i);
        if (!json_is_string(s) || json_string_length(s) < 1 ||
            json_string_length(s) > GW_ID_MAX_BYTES) {
            char ipath[PATH];
            gw_jr_index(ipath, sizeof(ipath), spath, i);
            return gw_jr_fail(err, ipath, NULL, "must be an id (1 to %d characters)",
                              GW_ID_MAX_BYTES);
        }
        if (dup_into(&a->subscriptions[i], json_string_value(s), err) < 0)
            return -1;
    }
    return 0;
}

static int read_application(json_t *j, const char *path, struct gw_cfg_application *a,
                            struct gw_err *err)
{
    const char *id, *name;
    char npath[PATH];
    if (gw_jr_is_object(j, path, err) < 0 ||
        gw_jr_string(j, path, "id", 0, 1, GW_ID_MAX_BYTES, &id, err) < 0 ||
        gw_jr_string(j, path, "name", 0, 0, (size_t)-1, &name, err) < 0)
        return -1;
    gw_jr_path(npath, sizeof(npath), path, "name");
    if (gw_rule_name(name, npath, GW_NAME_MAX_CHARS, err) < 0 || dup_into(&a->id, id, err) < 0 ||
        dup_into(&a->name, name, err) < 0)
        return -1;
    return read_subscriptions(j, path, a, err);
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

/* "expiresAt": absent or null = never, else an RFC 3339 time. */
static int read_expiry(json_t *j, const char *path, struct gw_cfg_key *k, struct gw_err *err)
{
    json_t *exp = json_object_get(j, "expiresAt");
    if (!exp || json_is_null(exp))
        return 0;
    if (!json_is_string(exp) || gw_parse_rfc3339(json_string_value(exp), &k->expires_at) < 0)
        return gw_jr_fail(err, path, "expiresAt", "must be an RFC 3339 string or null");
    if (k->expires_at == 0) /* 0 means never: the epoch itself is long past */
        k->expires_at = 1;
    return 0;
}

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
