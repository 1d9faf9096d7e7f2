/* Endpoints of an API (see api_endpoints.h, resources.h). */
#include "api_endpoints.h"

#include <string.h>

#include "crud.h"
#include "common/limits.h"
#include "jfield.h"
#include "resources.h"


/* One endpoint as REST JSON; "FROM endpoints e" follows. */
#define ENDPOINT_JSON                                                                              \
    "SELECT json_object('id', e.id, 'name', e.name, 'environment', e.environment, 'url', "         \
    "e.url, 'security', json(CASE WHEN e.secret_name IS NULL THEN 'null' ELSE "                    \
    "json_object('secret', e.secret_name, 'secretKey', e.secret_key, 'header', e.header, "         \
    "'prefix', e.prefix) END), 'timeoutMs', e.timeout_ms) FROM endpoints e "

int cp_endpoint_url_check(const char *url, const char *field, struct gw_err *err)
{
    return gw_rule_url(url, field, err);
}

/* --- reads ------------------------------------------------------------------ */

static int api_exists(struct cp_db *db, const char *api_id, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM apis WHERE id = ?1", "s", api_id) < 0)
        return -1;
    return n ? 0 : cp_not_found(err, "API", api_id);
}

int cp_endpoint_list(struct cp_db *db, const char *api_id, json_t **out, struct gw_err *err)
{
    *out = NULL;
    if (api_exists(db, api_id, err) < 0)
        return -1;
    return cp_db_query_json(db, err, out, ENDPOINT_JSON "WHERE e.api_id = ?1 ORDER BY e.seq", "s",
                            api_id);
}

static int ep_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    return cp_endpoint_list(db, ids[0], out, err);
}

static int ep_get(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    if (api_exists(db, ids[0], err) < 0 ||
        cp_db_query_one(db, err, out, ENDPOINT_JSON "WHERE e.api_id = ?1 AND e.id = ?2", "ss",
                        ids[0], ids[1]) < 0)
        return -1;
    return *out ? 0 : cp_not_found(err, "endpoint", ids[1]);
}

/* --- writes ------------------------------------------------------------------ */

struct ep_in {
    const char *name, *environment, *url;
    json_int_t timeout_ms;
    const char *secret, *secret_key, *header, *prefix; /* secret NULL: no security */
    json_t *vendor_auth; /* owned: the vendor's {header, prefix} the defaults point into */
};

static int read_security(struct cp_db *db, const char *api_id, json_t *sec, struct ep_in *e,
                         struct gw_err *err)
{
    if (!sec || json_is_null(sec))
        return 0;
    if (!json_is_object(sec))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", "security",
                          "security must be an object or null");
    if (cp_jf_str(sec, "secret", "security", CP_JF_REQUIRED | CP_JF_NAME, GW_NAME_MAX_CHARS,
                  &e->secret, err) < 0 ||
        cp_jf_str(sec, "secretKey", "security", CP_JF_NAME, GW_NAME_MAX_CHARS, &e->secret_key, err) <
            0 ||
        cp_jf_str(sec, "header", "security", CP_JF_TOKEN, GW_NAME_MAX_CHARS, &e->header, err) < 0 ||
        cp_jf_str(sec, "prefix", "security", CP_JF_NO_CTL, GW_NAME_MAX_CHARS, &e->prefix, err) < 0)
        return -1;
    if (!e->secret_key)
        e->secret_key = "apiKey";
    if (e->header && e->prefix)
        return 0;
    /* Defaults from the vendor's auth (kept in e->vendor_auth). */
    if (cp_db_query_one(db, err, &e->vendor_auth,
                        "SELECT json_object('header', v.auth_header, 'prefix', v.auth_prefix) FROM "
                        "apis a JOIN vendors v ON v.id = a.vendor_id WHERE a.id = ?1",
                        "s", api_id) < 0)
        return -1;
    if (!e->vendor_auth)
        return cp_not_found(err, "API", api_id);
    if (!e->header)
        e->header = json_string_value(json_object_get(e->vendor_auth, "header"));
    if (!e->prefix)
        e->prefix = json_string_value(json_object_get(e->vendor_auth, "prefix"));
    return 0;
}

static int read_endpoint(struct cp_db *db, const char *api_id, json_t *body, struct ep_in *e,
                         struct gw_err *err)
{
    memset(e, 0, sizeof(*e));
    if (cp_jf_str(body, "name", NULL, CP_JF_REQUIRED | CP_JF_NAME, GW_NAME_MAX_CHARS, &e->name, err) <
            0 ||
        cp_jf_str(body, "environment", NULL, CP_JF_REQUIRED, 16, &e->environment, err) < 0 ||
        cp_jf_str(body, "url", NULL, CP_JF_REQUIRED, GW_URL_MAX_BYTES, &e->url, err) < 0 ||
        cp_endpoint_url_check(e->url, "url", err) < 0 ||
        cp_jf_int(body, "timeoutMs", NULL, 0, 60000, 1, 600000, &e->timeout_ms, err) < 0)
        return -1;
    if (strcmp(e->environment, "production") != 0 && strcmp(e->environment, "sandbox") != 0)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "environment",
                          "environment must be \"production\" or \"sandbox\"");
    return read_security(db, api_id, json_object_get(body, "security"), e, err);
}

static int write_endpoint(struct cp_db *db, const char *api_id, const char *id, int is_new,
                          json_t *body, json_t **out, struct gw_err *err)
{
    struct ep_in e;
    int64_t n = 0;
    int rc = -1;
    memset(&e, 0, sizeof(e));
    if (api_exists(db, api_id, err) < 0 || read_endpoint(db, api_id, body, &e, err) < 0 ||
        cp_db_query_int(
            db, err, &n,
            "SELECT count(*) FROM endpoints WHERE api_id = ?1 AND name = ?2 AND id != ?3", "sss",
            api_id, e.name, id) < 0)
        goto out;
    if (n) {
        gw_err_set(err, GW_ERR_CONFLICT, "name_taken", "name",
                   "this API already has an endpoint named '%s'", e.name);
        goto out;
    }
    if (!is_new) {
        /* A policy names this endpoint in one environment: keep it there. */
        if (cp_db_query_int(db, err, &n,
                            "SELECT count(*) FROM policy_refs r JOIN endpoints x ON x.id = "
                            "r.endpoint_id WHERE x.id = ?1 AND x.environment != ?2",
                            "ss", id, e.environment) < 0)
            goto out;
        if (n) {
            gw_err_set(err, GW_ERR_CONFLICT, "in_use", "environment",
                       "environment: a policy uses this endpoint in its current environment");
            goto out;
        }
    } else if (cp_db_run(db, err,
                         "INSERT INTO endpoints (id, seq, api_id, name, environment, url, "
                         "timeout_ms) VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM "
                         "endpoints), ?2, ?3, ?4, ?5, ?6)",
                         "sssssi", id, api_id, e.name, e.environment, e.url,
                         (int64_t)e.timeout_ms) < 0) {
        goto out;
    }
    if (cp_db_run(db, err,
                  "UPDATE endpoints SET name = ?2, environment = ?3, url = ?4, timeout_ms = ?5, "
                  "secret_name = ?6, secret_key = ?7, header = ?8, prefix = ?9 WHERE id = ?1",
                  "ssssissss", id, e.name, e.environment, e.url, (int64_t)e.timeout_ms, e.secret,
                  e.secret ? e.secret_key : NULL, e.secret ? e.header : NULL,
                  e.secret ? e.prefix : NULL) < 0)
        goto out;
    const char *ids[2] = {api_id, id};
    rc = ep_get(db, ids, out, err);
out:
    json_decref(e.vendor_auth);
    return rc;
}

int cp_endpoint_create(struct cp_db *db, const char *api_id, json_t *body, json_t **out,
                       struct gw_err *err)
{
    char id[33];
    if (cp_db_new_id(id, err) < 0)
        return -1;
    return write_endpoint(db, api_id, id, 1, body, out, err);
}

static int ep_create(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                     struct gw_err *err)
{
    return cp_endpoint_create(db, ids[0], body, out, err);
}

static int ep_replace(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                      struct gw_err *err)
{
    json_t *old = NULL;
    if (ep_get(db, ids, &old, err) < 0)
        return -1;
    json_decref(old);
    return write_endpoint(db, ids[0], ids[1], 0, body, out, err);
}

static int ep_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    json_t *old = NULL;
    int64_t n = 0;
    if (ep_get(db, ids, &old, err) < 0)
        return -1;
    json_decref(old);
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM policy_refs WHERE endpoint_id = ?1", "s",
                        ids[1]) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "in_use", NULL, "endpoint '%s' is used by a policy",
                          ids[1]);
    return cp_db_run(db, err, "DELETE FROM endpoints WHERE id = ?1", "s", ids[1]) < 0 ? -1 : 0;
}

const struct cp_crud cp_endpoints_crud = {ep_list, ep_get, ep_create, ep_replace, ep_remove};
