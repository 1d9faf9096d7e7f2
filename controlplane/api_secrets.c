/* Secrets (see api_secrets.h). */
#include "api_secrets.h"

#include <stdio.h>
#include <string.h>

#include "crud.h"
#include "db.h"
#include "common/limits.h"
#include "jfield.h"


/* A secret without its values; "FROM secrets s" follows. */
#define SECRET_JSON                                                                                \
    "SELECT json_object('name', s.name, 'keys', json((SELECT json_group_array(key) FROM "          \
    "(SELECT key FROM secret_values WHERE secret_name = s.name ORDER BY key)))) FROM secrets s "

static int secret_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    (void)ids;
    return cp_db_query_json(db, err, out, SECRET_JSON "ORDER BY s.name", "");
}

static int secret_get(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    if (cp_db_query_one(db, err, out, SECRET_JSON "WHERE s.name = ?1", "s", ids[0]) < 0)
        return -1;
    return *out ? 0 : cp_not_found(err, "secret", ids[0]);
}

/* Checks the body: an object of 1..GW_SECRET_KEYS_MAX string values. A value becomes
 * (part of) an upstream header value, so it must not hold control
 * characters (a pasted trailing newline would otherwise make every data
 * plane refuse the snapshot), unless it is a PEM private key (an
 * endpoint's tls.clientKey); uses_ok then checks each value against the
 * endpoints that use it. The messages name keys, never values. */
static int check_values(json_t *body, struct gw_err *err)
{
    const char *k;
    json_t *v;
    if (json_object_size(body) == 0 || json_object_size(body) > GW_SECRET_KEYS_MAX)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", NULL,
                          "a secret needs 1 to %d keys with string values", GW_SECRET_KEYS_MAX);
    json_object_foreach (body, k, v) {
        if (gw_rule_name(k, "key name", GW_NAME_MAX_CHARS, err) < 0)
            return -1;
        if (!json_is_string(v))
            return gw_err_set(err, GW_ERR_INVALID, "invalid_type", k, "%s must be a string", k);
        if (gw_rule_secret_value(json_string_value(v), json_string_length(v), k, err) < 0)
            return -1;
        if (gw_rule_secret_text(json_string_value(v), k, err) < 0)
            return -1;
    }
    return 0;
}

/* Each value of the secret name suits the endpoints that use its key: no
 * control character for a header value (security), a PEM private key for
 * tls.clientKey. 0, or -1 with err naming the key. */
static int uses_ok(struct cp_db *db, const char *name, json_t *body, struct gw_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach (body, k, v) {
        int64_t as_header = 0, as_key = 0;
        if (cp_db_query_int(db, err, &as_header,
                            "SELECT count(*) FROM endpoints WHERE secret_name = ?1 AND "
                            "secret_key = ?2",
                            "ss", name, k) < 0 ||
            cp_db_query_int(db, err, &as_key,
                            "SELECT count(*) FROM endpoints WHERE tls_key_secret = ?1 AND "
                            "tls_key_name = ?2",
                            "ss", name, k) < 0)
            return -1;
        if ((as_header && gw_rule_no_control(json_string_value(v), k, err) < 0) ||
            (as_key && gw_rule_pem_key(json_string_value(v), k, err) < 0)) {
            size_t n = strlen(err->message);
            snprintf(err->message + n, sizeof(err->message) - n, " (an endpoint uses it %s)",
                     as_key ? "as tls.clientKey" : "as a header value");
            return -1;
        }
    }
    return 0;
}

static int secret_write(struct cp_db *db, const char *name, json_t *body, int *created,
                        struct gw_err *err)
{
    int64_t n = 0;
    const char *k;
    json_t *v;
    if (gw_rule_name(name, "name", GW_NAME_MAX_CHARS, err) < 0 || check_values(body, err) < 0 ||
        uses_ok(db, name, body, err) < 0 ||
        cp_db_query_int(db, err, &n, "SELECT count(*) FROM secrets WHERE name = ?1", "s", name) < 0)
        return -1;
    *created = n == 0;
    if (cp_db_run(db, err, "INSERT OR IGNORE INTO secrets (name) VALUES (?1)", "s", name) < 0 ||
        cp_db_run(db, err, "DELETE FROM main.secret_values WHERE secret_name = ?1", "s", name) < 0)
        return -1;
    /* Stored sealed when MODELMUX_SECRETS_KEY is set (secrets_at_rest.h). */
    json_object_foreach (body, k, v) {
        if (cp_db_run(db, err,
                      "INSERT INTO main.secret_values (secret_name, key, value) "
                      "VALUES (?1, ?2, mm_secret_store(?1, ?2, ?3))",
                      "sss", name, k, json_string_value(v)) < 0)
            return -1;
    }
    return 0;
}

int cp_secret_write(struct cp_db *db, const char *name, json_t *values, int *created,
                    struct gw_err *err)
{
    return secret_write(db, name, values, created, err);
}

int cp_h_secret_put(struct cp_req *req, struct gw_err *err)
{
    int created = 0;
    json_t *out = NULL;
    if (cp_db_begin(req->db, err) < 0)
        return -1;
    if (secret_write(req->db, req->params[0], req->json, &created, err) < 0 ||
        secret_get(req->db, req->params, &out, err) < 0) {
        cp_db_rollback(req->db);
        return -1;
    }
    if (cp_db_commit(req->db, NULL, err) < 0) {
        json_decref(out);
        return -1;
    }
    return cp_req_reply_json(req, created ? 201 : 200, out, err);
}

static int secret_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n,
                        "SELECT count(*) FROM endpoints WHERE secret_name = ?1 OR tls_key_secret = "
                        "?1",
                        "s", ids[0]) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "in_use", NULL,
                          "secret '%s' is used by %lld endpoint(s)", ids[0], (long long)n);
    int changed = cp_db_run(db, err, "DELETE FROM secrets WHERE name = ?1", "s", ids[0]);
    if (changed < 0)
        return -1;
    return changed ? 0 : cp_not_found(err, "secret", ids[0]);
}

const struct cp_crud cp_secrets_crud = {secret_list, secret_get, NULL, NULL, secret_remove};
