/* Endpoints of an API (see api_endpoints.h, resources.h). */
#include "api_endpoints.h"

#include <string.h>

#include "crud.h"
#include "common/limits.h"
#include "jfield.h"
#include "resources.h"


/* One endpoint as REST JSON; "FROM endpoints e" follows. "tls" only when
 * set, without its null members (json_patch drops them); its clientKey is
 * the secret reference, never a value. */
#define ENDPOINT_JSON                                                                              \
    "SELECT json_patch(json_object('id', e.id, 'name', e.name, 'environment', e.environment, "     \
    "'url', e.url, 'security', json(CASE WHEN e.secret_name IS NULL THEN 'null' ELSE "             \
    "json_object('secret', e.secret_name, 'secretKey', e.secret_key, 'header', e.header, "         \
    "'prefix', e.prefix) END), 'timeoutMs', e.timeout_ms), json_object('tls', json(CASE WHEN "     \
    "e.tls_ca_cert IS NULL AND e.tls_client_cert IS NULL THEN 'null' ELSE json_object('caCert', "  \
    "e.tls_ca_cert, 'clientCert', e.tls_client_cert, 'clientKey', json(CASE WHEN "                 \
    "e.tls_key_secret IS NULL THEN 'null' ELSE json_object('secret', e.tls_key_secret, "           \
    "'secretKey', e.tls_key_name) END)) END))) FROM endpoints e "

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
    const char *ca_cert, *client_cert;   /* tls, NULL when absent */
    const char *key_secret, *key_name;   /* tls.clientKey, NULL when absent */
};

/* A stored secret value an endpoint would use must suit that use (SPEC 2.2
 * Secrets): rule() on the value of (secret, key) when it exists. The value
 * is never quoted. */
static int check_secret_use(struct cp_db *db, const char *secret, const char *key,
                            int (*rule)(const char *, const char *, struct gw_err *),
                            const char *field, struct gw_err *err)
{
    json_t *v = NULL;
    if (cp_db_query_one(db, err, &v,
                        "SELECT json_array(value) FROM secret_values WHERE secret_name = ?1 AND "
                        "key = ?2",
                        "ss", secret, key) < 0)
        return -1;
    const char *s = json_string_value(json_array_get(v, 0));
    int rc = s ? rule(s, field, err) : 0;
    json_decref(v);
    return rc;
}

/* "tls": absent, null, or {caCert?, clientCert?, clientKey?: {secret,
 * secretKey}} with a certificate, and a clientCert only with a clientKey. */
static int read_tls(struct cp_db *db, json_t *tls, struct ep_in *e, struct gw_err *err)
{
    static const char *const keys[] = {"caCert", "clientCert", "clientKey"};
    const char *k;
    json_t *v, *ck;
    if (!tls || json_is_null(tls))
        return 0;
    if (!json_is_object(tls))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", "tls",
                          "tls must be an object or null");
    json_object_foreach (tls, k, v) {
        if (strcmp(k, keys[0]) != 0 && strcmp(k, keys[1]) != 0 && strcmp(k, keys[2]) != 0)
            return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "tls",
                              "tls.%s is not a known field (caCert, clientCert, clientKey)", k);
    }
    if (cp_jf_str(tls, "caCert", "tls", 0, GW_PEM_MAX_BYTES, &e->ca_cert, err) < 0 ||
        cp_jf_str(tls, "clientCert", "tls", 0, GW_PEM_MAX_BYTES, &e->client_cert, err) < 0 ||
        (e->ca_cert && gw_rule_pem_certs(e->ca_cert, "tls.caCert", err) < 0) ||
        (e->client_cert && gw_rule_pem_certs(e->client_cert, "tls.clientCert", err) < 0))
        return -1;
    ck = json_object_get(tls, "clientKey");
    if (ck && !json_is_null(ck)) {
        if (!json_is_object(ck))
            return gw_err_set(err, GW_ERR_INVALID, "invalid_type", "tls.clientKey",
                              "tls.clientKey must be an object {secret, secretKey}");
        if (cp_jf_str(ck, "secret", "tls.clientKey", CP_JF_REQUIRED | CP_JF_NAME,
                      GW_NAME_MAX_CHARS, &e->key_secret, err) < 0 ||
            cp_jf_str(ck, "secretKey", "tls.clientKey", CP_JF_REQUIRED | CP_JF_NAME,
                      GW_NAME_MAX_CHARS, &e->key_name, err) < 0 ||
            check_secret_use(db, e->key_secret, e->key_name, gw_rule_pem_key, "tls.clientKey",
                             err) < 0)
            return -1;
    }
    if (!e->ca_cert && !e->client_cert)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "tls",
                          "tls needs caCert or clientCert (or tls: null)");
    if (!e->client_cert != !e->key_secret)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field",
                          e->client_cert ? "tls.clientKey" : "tls.clientCert",
                          "tls.clientCert and tls.clientKey go together");
    return 0;
}

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
    /* A stored value may be a PEM key (for tls.clientKey); a header value
     * must not hold its line breaks. */
    if (check_secret_use(db, e->secret, e->secret_key, gw_rule_no_control, "security.secret",
                         err) < 0)
        return -1;
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
    if (read_tls(db, json_object_get(body, "tls"), e, err) < 0)
        return -1;
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
                  e.secret ? e.prefix : NULL) < 0 ||
        cp_db_run(db, err,
                  "UPDATE endpoints SET tls_ca_cert = ?2, tls_client_cert = ?3, tls_key_secret = "
                  "?4, tls_key_name = ?5 WHERE id = ?1",
                  "sssss", id, e.ca_cert, e.client_cert, e.key_secret, e.key_name) < 0)
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
