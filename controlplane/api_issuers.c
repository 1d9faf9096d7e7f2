/* JWT issuers and the applications' OAuth clients (see api_issuers.h).
 *
 * Rows live in issuers + oauth_clients; the REST JSON is built by SQLite's
 * json_object() in ISSUER_JSON / CLIENT_JSON, one definition of each shape. */
#include "api_issuers.h"

#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/jwt_issuer_json.h"
#include "common/limits.h"
#include "common/rules.h"
#include "jfield.h"

#define ISSUER_JSON                                                                                \
    "SELECT json_object('id', i.id, 'name', i.name, 'issuer', i.issuer, 'audiences', "            \
    "json(i.audiences), 'jwksUri', i.jwks_uri, 'keys', json(i.keys), 'clientClaim', "              \
    "i.client_claim, 'jwksKeyIds', json(i.jwks_kids), 'jwksFetchedAt', i.jwks_fetched_at, "        \
    "'jwksError', i.jwks_error) FROM issuers i "
#define CLIENT_JSON                                                                                \
    "SELECT json_object('issuer', c.issuer_id, 'issuerName', i.name, 'clientId', c.client_id, "    \
    "'type', c.type, 'createdAt', c.created_at) FROM oauth_clients c JOIN issuers i ON i.id = "    \
    "c.issuer_id "

/* --- issuers --------------------------------------------------------------- */

static int issuer_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    (void)ids;
    return cp_db_query_json(db, err, out, ISSUER_JSON "ORDER BY i.seq", "");
}

static int issuer_get(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    if (cp_db_query_one(db, err, out, ISSUER_JSON "WHERE i.id = ?1", "s", ids[0]) < 0)
        return -1;
    return *out ? 0 : cp_not_found(err, "issuer", ids[0]);
}

/* The fields of an issuer body, checked. Strings are borrowed from the body;
 * audiences/keys are new references (serialized into the row). */
struct issuer_in {
    const char *name, *issuer, *jwks_uri, *claim;
    json_t *audiences, *keys;
};

static json_t *array_or_empty(json_t *body, const char *key)
{
    json_t *v = json_object_get(body, key);
    return v && !json_is_null(v) ? json_incref(v) : json_array();
}

/* Checks body with the data plane's own code: the issuer is built with
 * common/jwt_issuer_json.c and thrown away. */
static int issuer_read(json_t *body, struct issuer_in *in, struct gw_err *err)
{
    memset(in, 0, sizeof(*in));
    if (cp_jf_str(body, "name", NULL, CP_JF_REQUIRED | CP_JF_NAME, GW_NAME_MAX_CHARS, &in->name,
                  err) < 0 ||
        cp_jf_str(body, "issuer", NULL, CP_JF_REQUIRED | CP_JF_NAME, GW_JWT_ISSUER_MAX,
                  &in->issuer, err) < 0 ||
        cp_jf_str(body, "jwksUri", NULL, 0, GW_URL_MAX_BYTES, &in->jwks_uri, err) < 0 ||
        cp_jf_str(body, "clientClaim", NULL, CP_JF_NAME, GW_JWT_CLAIM_NAME_MAX, &in->claim,
                  err) < 0)
        return -1;
    if (in->jwks_uri && gw_rule_url(in->jwks_uri, "jwksUri", err) < 0)
        return -1;
    in->audiences = array_or_empty(body, "audiences");
    in->keys = array_or_empty(body, "keys");
    if (!in->audiences || !in->keys)
        return cp_nomem(err);
    struct gw_jwt_issuer *is =
        gw_jwt_issuer_from_json(in->issuer, in->claim, in->audiences, in->keys, NULL, err);
    if (!is)
        return -1;
    gw_jwt_issuer_free(is);
    if (!in->jwks_uri && json_array_size(in->keys) == 0)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "keys",
                          "keys or jwksUri is required: the issuer needs signing keys");
    if (!in->claim)
        in->claim = "azp";
    return 0;
}

static void issuer_in_free(struct issuer_in *in)
{
    json_decref(in->audiences);
    json_decref(in->keys);
}

/* 409 when another issuer (not id) has this name or this issuer string
 * (a data plane refuses two issuers with one iss). */
static int issuer_unique(struct cp_db *db, const char *id, const struct issuer_in *in,
                         struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM issuers WHERE name = ?1 AND id != ?2",
                        "ss", in->name, id) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "name_taken", "name",
                          "an issuer named '%s' already exists", in->name);
    if (cp_db_query_int(db, err, &n,
                        "SELECT count(*) FROM issuers WHERE issuer = ?1 AND id != ?2", "ss",
                        in->issuer, id) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "issuer_taken", "issuer",
                          "another issuer already has issuer '%s'", in->issuer);
    return 0;
}

/* Stores the row. A jwksUri makes the issuer due for a fetch (jwks_due
 * bumped); without one, fetched state is dropped. */
static int issuer_store(struct cp_db *db, const char *id, int is_new, const struct issuer_in *in,
                        struct gw_err *err)
{
    char *aud = json_dumps(in->audiences, JSON_COMPACT);
    char *keys = json_dumps(in->keys, JSON_COMPACT);
    int rc = -1;
    if (!aud || !keys) {
        cp_nomem(err);
        goto out;
    }
    if (is_new)
        rc = cp_db_run(db, err,
                       "INSERT INTO issuers (id, seq, name, issuer, audiences, jwks_uri, keys, "
                       "client_claim, jwks_due) VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 "
                       "FROM issuers), ?2, ?3, ?4, ?5, ?6, ?7, ?5 IS NOT NULL)",
                       "sssssss", id, in->name, in->issuer, aud, in->jwks_uri, keys, in->claim);
    else
        rc = cp_db_run(db, err,
                       "UPDATE issuers SET name = ?2, issuer = ?3, audiences = ?4, jwks_uri = ?5, "
                       "keys = ?6, client_claim = ?7, jwks_due = jwks_due + (?5 IS NOT NULL), "
                       "jwks_doc = CASE WHEN ?5 IS NULL THEN NULL ELSE jwks_doc END, "
                       "jwks_kids = CASE WHEN ?5 IS NULL THEN '[]' ELSE jwks_kids END, "
                       "jwks_error = CASE WHEN ?5 IS NULL THEN NULL ELSE jwks_error END, "
                       "jwks_fetched_at = CASE WHEN ?5 IS NULL THEN NULL ELSE jwks_fetched_at "
                       "END WHERE id = ?1",
                       "sssssss", id, in->name, in->issuer, aud, in->jwks_uri, keys, in->claim);
out:
    gw_free(aud);
    gw_free(keys);
    return rc < 0 ? -1 : 0;
}

/* With a jwksUri kept, the last fetched keys stay in the snapshot: the
 * inline keys must still fit beside them (GW_JWK_MAX_KEYS in all). */
static int check_with_fetched(struct cp_db *db, const char *id, const struct issuer_in *in,
                              struct gw_err *err)
{
    json_t *doc = NULL;
    if (!in->jwks_uri)
        return 0;
    if (cp_db_query_one(db, err, &doc,
                        "SELECT jwks_doc FROM issuers WHERE id = ?1 AND jwks_doc IS NOT NULL", "s",
                        id) < 0)
        return -1;
    if (!doc)
        return 0;
    struct gw_jwt_issuer *is =
        gw_jwt_issuer_from_json(in->issuer, in->claim, in->audiences, in->keys, doc, err);
    json_decref(doc);
    if (!is)
        return -1;
    gw_jwt_issuer_free(is);
    return 0;
}

/* 409 when GW_ISSUERS_MAX issuers exist already. */
static int issuer_room(struct cp_db *db, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM issuers", "") < 0)
        return -1;
    return n < GW_ISSUERS_MAX ? 0
                              : gw_err_set(err, GW_ERR_CONFLICT, "too_many", NULL,
                                           "at most %d issuers can be configured", GW_ISSUERS_MAX);
}

static int issuer_write(struct cp_db *db, const char *id, int is_new, json_t *body, json_t **out,
                        struct gw_err *err)
{
    struct issuer_in in;
    int rc = -1;
    if (issuer_read(body, &in, err) == 0 && issuer_unique(db, id, &in, err) == 0 &&
        (is_new ? issuer_room(db, err) : check_with_fetched(db, id, &in, err)) == 0 &&
        issuer_store(db, id, is_new, &in, err) == 0) {
        const char *ids[1] = {id};
        rc = issuer_get(db, ids, out, err);
    }
    issuer_in_free(&in);
    return rc;
}

static int issuer_create(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                         struct gw_err *err)
{
    (void)ids;
    char id[33];
    if (cp_db_new_id(id, err) < 0)
        return -1;
    return issuer_write(db, id, 1, body, out, err);
}

static int issuer_replace(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                          struct gw_err *err)
{
    json_t *old = NULL;
    if (issuer_get(db, ids, &old, err) < 0)
        return -1;
    json_decref(old);
    return issuer_write(db, ids[0], 0, body, out, err);
}

static int issuer_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM oauth_clients WHERE issuer_id = ?1",
                        "s", ids[0]) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "in_use", NULL,
                          "issuer %s is used by %lld OAuth client%s: remove them first", ids[0],
                          (long long)n, n == 1 ? "" : "s");
    int changed = cp_db_run(db, err, "DELETE FROM issuers WHERE id = ?1", "s", ids[0]);
    if (changed < 0)
        return -1;
    return changed ? 0 : cp_not_found(err, "issuer", ids[0]);
}

const struct cp_crud cp_issuers_crud = {issuer_list, issuer_get, issuer_create, issuer_replace,
                                        issuer_remove};

int cp_h_issuer_refresh(struct cp_req *req, struct gw_err *err)
{
    json_t *out = NULL;
    int changed;
    if (cp_db_begin(req->db, err) < 0)
        return -1;
    changed = cp_db_run(req->db, err,
                        "UPDATE issuers SET jwks_due = jwks_due + 1 WHERE id = ?1 AND jwks_uri "
                        "IS NOT NULL",
                        "s", req->params[0]);
    if (changed < 0 || issuer_get(req->db, req->params, &out, err) < 0)
        goto fail;
    if (changed == 0) {
        gw_err_set(err, GW_ERR_CONFLICT, "no_jwks_uri", "jwksUri",
                   "issuer %s has no jwksUri to refresh", req->params[0]);
        goto fail;
    }
    if (cp_db_commit_quiet(req->db, err) < 0) {
        json_decref(out);
        return -1;
    }
    return cp_req_reply_json(req, 202, out, err);
fail:
    json_decref(out);
    cp_db_rollback(req->db);
    return -1;
}

/* --- OAuth clients ------------------------------------------------------------ */

static int app_exists(struct cp_db *db, const char *id, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM applications WHERE id = ?1", "s", id) <
        0)
        return -1;
    return n ? 0 : cp_not_found(err, "application", id);
}

static int client_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    if (app_exists(db, ids[0], err) < 0)
        return -1;
    return cp_db_query_json(db, err, out,
                            CLIENT_JSON "WHERE c.application_id = ?1 ORDER BY c.seq", "s", ids[0]);
}

static int client_read(struct cp_db *db, json_t *body, const char **issuer, const char **client,
                       const char **type, struct gw_err *err)
{
    static const char *const types[] = {"production", "sandbox"};
    int64_t n = 0;
    if (cp_jf_str(body, "issuer", NULL, CP_JF_REQUIRED | CP_JF_NAME, GW_ID_MAX_BYTES, issuer,
                  err) < 0 ||
        cp_jf_str(body, "clientId", NULL, CP_JF_REQUIRED | CP_JF_NAME, GW_JWT_CLIENT_ID_MAX,
                  client, err) < 0 ||
        cp_jf_str(body, "type", NULL, CP_JF_REQUIRED, 16, type, err) < 0 ||
        gw_rule_enum(*type, types, 2, "type", err) < 0)
        return -1;
    if (strlen(*client) > GW_JWT_CLIENT_ID_MAX)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "clientId",
                          "clientId must be 1 to %d bytes", GW_JWT_CLIENT_ID_MAX);
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM issuers WHERE id = ?1", "s", *issuer) <
        0)
        return -1;
    if (!n)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "issuer",
                          "issuer: no issuer with id '%s'", *issuer);
    return 0;
}

static int client_create(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                         struct gw_err *err)
{
    const char *issuer, *client, *type;
    int64_t n = 0;
    char now[32];
    if (app_exists(db, ids[0], err) < 0 || client_read(db, body, &issuer, &client, &type, err) < 0 ||
        cp_db_query_int(db, err, &n,
                        "SELECT count(*) FROM oauth_clients WHERE issuer_id = ?1 AND client_id = "
                        "?2",
                        "ss", issuer, client) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "exists", "clientId",
                          "OAuth client '%s' of this issuer already belongs to an application",
                          client);
    gw_format_rfc3339(gw_wall_s(), now);
    if (cp_db_run(db, err,
                  "INSERT INTO oauth_clients (issuer_id, client_id, application_id, type, seq, "
                  "created_at) VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(seq), 0) + 1 FROM "
                  "oauth_clients), ?5)",
                  "sssss", issuer, client, ids[0], type, now) < 0)
        return -1;
    return cp_db_query_one(db, err, out,
                           CLIENT_JSON "WHERE c.issuer_id = ?1 AND c.client_id = ?2", "ss", issuer,
                           client);
}

/* Removes the application's OAuth clients with this client id (one per
 * issuer that has it). */
static int client_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    if (app_exists(db, ids[0], err) < 0)
        return -1;
    int n = cp_db_run(db, err,
                      "DELETE FROM oauth_clients WHERE application_id = ?1 AND client_id = ?2",
                      "ss", ids[0], ids[1]);
    if (n < 0)
        return -1;
    return n ? 0 : cp_not_found(err, "OAuth client", ids[1]);
}

const struct cp_crud cp_oauth_clients_crud = {client_list, NULL, client_create, NULL,
                                              client_remove};
