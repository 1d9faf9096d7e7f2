/* Database -> config snapshot (see snapshot.h). */
#include "snapshot.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/config_text.h"
#include "common/json_raw.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/crypto.h"
#include "crud.h"
#include "db.h"
#include "resources.h"

/* Endpoints in the snapshot shape: "auth" resolved from secret_values, and
 * "tls" (only when set, without null members: json_patch drops them) with
 * the client key resolved from secret_values too, or the name of its
 * missing secret. */
#define SNAPSHOT_ENDPOINTS                                                                         \
    "SELECT json_patch(json_object('id', e.id, 'name', e.name, 'environment', e.environment, "     \
    "'url', e.url, 'timeoutMs', e.timeout_ms, 'auth', json(CASE WHEN e.secret_name IS NULL THEN "  \
    "'null' WHEN sv.value IS NULL THEN json_object('header', e.header, 'missingSecret', "          \
    "e.secret_name) ELSE json_object('header', e.header, 'value', coalesce(e.prefix, '') || "      \
    "sv.value) END)), json_object('tls', json(CASE WHEN e.tls_ca_cert IS NULL AND "                \
    "e.tls_client_cert IS NULL THEN 'null' ELSE json_object('caCert', e.tls_ca_cert, "             \
    "'clientCert', e.tls_client_cert, 'clientKey', kv.value, 'missingClientKey', CASE WHEN "       \
    "e.tls_key_secret IS NOT NULL AND kv.value IS NULL THEN e.tls_key_secret END) END))) FROM "    \
    "endpoints e LEFT JOIN secret_values sv ON sv.secret_name = e.secret_name AND sv.key = "       \
    "e.secret_key LEFT JOIN secret_values kv ON kv.secret_name = e.tls_key_secret AND kv.key = "   \
    "e.tls_key_name WHERE e.api_id = ?1 ORDER BY e.seq"

/* Applications in order, each with its subscriptions in order (found
 * through the primary key's index: no sort of all subscriptions); keys in
 * the order they were created (rowid: no sort either). No tree, no JSON
 * built by SQLite. Keys carry no key id and no "expiresAt" when they never
 * expire (100,000 keys stay a few MB). */
#define SNAPSHOT_APPLICATIONS "SELECT id, name FROM applications ORDER BY seq"
#define SNAPSHOT_SUBSCRIPTIONS "SELECT api_id FROM subscriptions WHERE application_id = ?1 ORDER BY seq"
#define SNAPSHOT_KEYS "SELECT application_id, expires_at, hash, type FROM api_keys ORDER BY rowid"

/* Issuers in the snapshot shape: clientClaim only when not the default
 * ("azp": then azp, else client_id), keys = inline keys, jwks = the last
 * good JWKS document ({"keys": [...]}, merged into keys by fill_issuers),
 * clients with their application's subscriptions. */
#define SNAPSHOT_ISSUERS                                                                           \
    "SELECT json_object('id', i.id, 'issuer', i.issuer, 'clientClaim', nullif(i.client_claim, "    \
    "'azp'), 'audiences', json(i.audiences), 'keys', json(i.keys), 'jwks', json(coalesce("         \
    "i.jwks_doc, 'null')), 'clients', json((SELECT json_group_array(json(c)) FROM (SELECT "        \
    "json_object('clientId', c.client_id, 'application', c.application_id, 'applicationName', "    \
    "a.name, 'type', c.type, 'subscriptions', json((SELECT json_group_array(api_id) FROM (SELECT " \
    "api_id FROM subscriptions WHERE application_id = c.application_id ORDER BY seq)))) AS c "      \
    "FROM oauth_clients c JOIN applications a ON a.id = c.application_id WHERE c.issuer_id = "     \
    "i.id ORDER BY c.seq)))) FROM issuers i ORDER BY i.seq"

/* Adds "endpoints" and "policies" to each API of apis. */
static int fill_apis(struct cp_db *db, json_t *apis, struct gw_err *err)
{
    size_t i;
    json_t *api;
    json_array_foreach (apis, i, api) {
        const char *id = json_string_value(json_object_get(api, "id"));
        json_t *eps = NULL, *pols = NULL;
        if (cp_db_query_json(db, err, &eps, SNAPSHOT_ENDPOINTS, "s", id) < 0)
            return -1;
        if (json_object_set_new(api, "endpoints", eps) < 0)
            return cp_nomem(err);
        if (cp_policy_list(db, id, &pols, err) < 0)
            return -1;
        if (json_object_set_new(api, "policies", pols) < 0)
            return cp_nomem(err);
    }
    return 0;
}

/* Appends each issuer's fetched JWKS keys to its keys (the data plane
 * takes one list) and drops "jwks" and a null clientClaim. */
static int fill_issuers(json_t *issuers, struct gw_err *err)
{
    size_t i;
    json_t *is;
    json_array_foreach (issuers, i, is) {
        json_t *jwks = json_object_get(is, "jwks");
        json_t *fetched = json_object_get(jwks, "keys");
        if (fetched && json_array_extend(json_object_get(is, "keys"), fetched) < 0)
            return cp_nomem(err);
        json_object_del(is, "jwks");
        if (json_is_null(json_object_get(is, "clientClaim")))
            json_object_del(is, "clientClaim");
    }
    return 0;
}

/* ---- writing the text ------------------------------------------------------ */

/* The text being written, and where each hashed member's value is in it
 * (offsets: the buffer moves as it grows). */
struct out {
    struct gw_buf b;
    size_t at[GW_CFG_HASHED], len[GW_CFG_HASHED];
    int has[GW_CFG_HASHED];
    enum gw_buf_result failed; /* GW_BUF_TOOBIG: over GW_SNAPSHOT_MAX_BYTES */
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->failed == GW_BUF_OK)
        o->failed = gw_buf_append(&o->b, s, n);
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A text column as a JSON string (jansson's escaping: the hash is of
 * canonical text). */
static void put_col(struct out *o, sqlite3_stmt *st, int col)
{
    if (o->failed == GW_BUF_OK)
        o->failed = gw_json_raw_put_str(&o->b, (const char *)sqlite3_column_text(st, col),
                                        (size_t)sqlite3_column_bytes(st, col));
}

/* ,"name": then the member's value written by the caller, between
 * member_begin and member_end. */
static int hashed_index(const char *name)
{
    for (int i = 0; i < GW_CFG_HASHED; i++)
        if (strcmp(gw_cfg_hashed_members[i], name) == 0)
            return i;
    return -1;
}

static void member_begin(struct out *o, const char *name)
{
    put_str(o, ",\"");
    put_str(o, name);
    put_str(o, "\":");
    int i = hashed_index(name);
    o->at[i] = o->b.len;
    o->has[i] = 1;
}

static void member_end(struct out *o, const char *name)
{
    int i = hashed_index(name);
    o->len[i] = o->b.len - o->at[i];
}

/* A small part as jansson's canonical dump (keys sorted, compact). */
static void put_tree(struct out *o, const char *name, json_t *part)
{
    char *text = json_dumps(part, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        o->failed = GW_BUF_NOMEM;
        return;
    }
    member_begin(o, name);
    put_str(o, text);
    member_end(o, name);
    gw_free(text);
}

static int sql_fail(struct cp_db *db, struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_INTERNAL, "database_error", NULL, "database error: %s",
                      sqlite3_errmsg(cp_db_handle(db)));
}

static sqlite3_stmt *prepare(struct cp_db *db, const char *sql, struct gw_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cp_db_handle(db), sql, -1, &st, NULL) != SQLITE_OK) {
        sql_fail(db, err);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* "applications": [{"id","name","subscriptions":[...]}...], members in
 * sorted order. */
static int put_applications(struct cp_db *db, struct out *o, struct gw_err *err)
{
    sqlite3_stmt *apps = prepare(db, SNAPSHOT_APPLICATIONS, err);
    sqlite3_stmt *subs = apps ? prepare(db, SNAPSHOT_SUBSCRIPTIONS, err) : NULL;
    int rc = -1, arc, src = SQLITE_DONE;
    if (!subs)
        goto out;
    member_begin(o, "applications");
    put_str(o, "[");
    for (int n = 0; src == SQLITE_DONE && (arc = sqlite3_step(apps)) == SQLITE_ROW; n++) {
        put_str(o, n ? ",{\"id\":" : "{\"id\":");
        put_col(o, apps, 0);
        put_str(o, ",\"name\":");
        put_col(o, apps, 1);
        put_str(o, ",\"subscriptions\":[");
        sqlite3_reset(subs);
        sqlite3_bind_text(subs, 1, (const char *)sqlite3_column_text(apps, 0),
                          sqlite3_column_bytes(apps, 0), SQLITE_STATIC);
        for (int k = 0; (src = sqlite3_step(subs)) == SQLITE_ROW; k++) {
            if (k)
                put_str(o, ",");
            put_col(o, subs, 0);
        }
        put_str(o, "]}");
    }
    put_str(o, "]");
    member_end(o, "applications");
    if (src != SQLITE_DONE || arc != SQLITE_DONE) {
        sql_fail(db, err);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(subs);
    sqlite3_finalize(apps);
    return rc;
}

/* "keys": [{"application","expiresAt"?,"hash","type"}...] (sorted). */
static int put_keys(struct cp_db *db, struct out *o, struct gw_err *err)
{
    sqlite3_stmt *st = prepare(db, SNAPSHOT_KEYS, err);
    int rc;
    if (!st)
        return -1;
    member_begin(o, "keys");
    put_str(o, "[");
    for (int n = 0; (rc = sqlite3_step(st)) == SQLITE_ROW; n++) {
        put_str(o, n ? ",{\"application\":" : "{\"application\":");
        put_col(o, st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
            put_str(o, ",\"expiresAt\":");
            put_col(o, st, 1);
        }
        put_str(o, ",\"hash\":");
        put_col(o, st, 2);
        put_str(o, ",\"type\":");
        put_col(o, st, 3);
        put_str(o, "}");
    }
    put_str(o, "]");
    member_end(o, "keys");
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sql_fail(db, err);
}

/* Writes the document but its sha256 from the database; the caller holds a
 * read transaction. */
static int write_locked(struct cp_db *db, struct out *o, int64_t *revision, struct gw_err *err)
{
    json_t *vendors = NULL, *apis = NULL, *issuers = NULL;
    char now[32], head[160];
    int rc = -1;
    if (cp_db_query_int(db, err, revision, "SELECT revision FROM config_revision WHERE id = 1",
                        "") < 0 ||
        cp_vendor_list(db, &vendors, err) < 0 || cp_api_list(db, &apis, err) < 0 ||
        fill_apis(db, apis, err) < 0 ||
        cp_db_query_json(db, err, &issuers, SNAPSHOT_ISSUERS, "") < 0 ||
        fill_issuers(issuers, err) < 0)
        goto out;
    gw_format_rfc3339(gw_wall_s(), now);
    snprintf(head, sizeof(head), "{\"schemaVersion\":%d,\"revision\":%lld,\"generatedAt\":\"%s\"",
             CP_SNAPSHOT_SCHEMA_VERSION, (long long)*revision, now);
    put_str(o, head);
    put_tree(o, "vendors", vendors);
    put_tree(o, "apis", apis);
    if (put_applications(db, o, err) < 0 || put_keys(db, o, err) < 0)
        goto out;
    if (json_array_size(issuers))
        put_tree(o, "issuers", issuers);
    rc = 0;
out:
    json_decref(vendors);
    json_decref(apis);
    json_decref(issuers);
    return rc;
}

/* Reads the text back with the data plane's own code (the shared reader)
 * so that a snapshot a data plane would refuse is never published. A
 * failure here is a bug of the control plane's REST validation: it is
 * logged and the data planes keep their current revision. */
static int check_snapshot(const char *text, size_t len, struct gw_err *err)
{
    struct gw_cfg *model = gw_cfg_from_text(text, len, err);
    if (!model) {
        if (err->kind == GW_ERR_NOMEM)
            return -1;
        char why[sizeof(err->message)];
        snprintf(why, sizeof(why), "%s", err->message);
        gw_error("snapshot: refusing to publish a snapshot a data plane would refuse: %s", why);
        return gw_err_set(err, GW_ERR_INTERNAL, "invalid_snapshot", NULL,
                          "the config snapshot is invalid: %s", why);
    }
    gw_cfg_free(model);
    return 0;
}

int cp_snapshot_build(struct cp_db *db, char **text, size_t *len, int64_t *revision,
                      struct gw_err *err)
{
    struct out o;
    memset(&o, 0, sizeof(o));
    gw_buf_init(&o.b, GW_SNAPSHOT_MAX_BYTES);
    *text = NULL;
    *len = 0;
    if (cp_db_read_begin(db, err) < 0)
        return -1;
    int rc = write_locked(db, &o, revision, err);
    cp_db_read_end(db);
    if (rc < 0)
        goto fail;
    struct gw_cfg_part parts[GW_CFG_HASHED];
    char hash[65];
    for (int i = 0; i < GW_CFG_HASHED; i++) {
        parts[i].text = o.has[i] && o.b.data ? o.b.data + o.at[i] : NULL;
        parts[i].len = o.len[i];
    }
    gw_cfg_hash_parts(parts, hash);
    put_str(&o, ",\"sha256\":\"");
    put_str(&o, hash);
    put_str(&o, "\"}");
    if (o.failed != GW_BUF_OK) {
        if (o.failed == GW_BUF_TOOBIG)
            gw_err_set(err, GW_ERR_INTERNAL, "snapshot_too_large", NULL,
                       "the config snapshot of revision %lld is over the limit of %zu bytes "
                       "(GW_SNAPSHOT_MAX_BYTES): not published",
                       (long long)*revision, GW_SNAPSHOT_MAX_BYTES);
        else
            cp_nomem(err);
        goto fail;
    }
    if (check_snapshot(o.b.data, o.b.len, err) < 0)
        goto fail;
    *len = o.b.len;
    *text = gw_buf_take(&o.b);
    return 0;
fail:
    gw_buf_cleanup(&o.b);
    return -1;
}
