/* Database -> config snapshot (see snapshot.h). */
#include "snapshot.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/crypto.h"
#include "crud.h"
#include "db.h"
#include "resources.h"

/* Endpoints in the snapshot shape: "auth" resolved from secret_values. */
#define SNAPSHOT_ENDPOINTS                                                                         \
    "SELECT json_object('id', e.id, 'name', e.name, 'environment', e.environment, 'url', e.url, "  \
    "'timeoutMs', e.timeout_ms, 'auth', json(CASE WHEN e.secret_name IS NULL THEN 'null' "         \
    "WHEN sv.value IS NULL THEN json_object('header', e.header, 'missingSecret', "                 \
    "e.secret_name) ELSE json_object('header', e.header, 'value', coalesce(e.prefix, '') || "      \
    "sv.value) END)) FROM endpoints e LEFT JOIN secret_values sv ON sv.secret_name = "             \
    "e.secret_name AND sv.key = e.secret_key WHERE e.api_id = ?1 ORDER BY e.seq"

/* Applications with their subscriptions, once each; keys name their
 * application (no per-key copy of the subscriptions, no key id, no
 * "expiresAt" when the key never expires: 100,000 keys stay a few MB). */
#define SNAPSHOT_APPLICATIONS                                                                      \
    "SELECT json_object('id', a.id, 'name', a.name, 'subscriptions', json((SELECT "                \
    "json_group_array(api_id) FROM (SELECT api_id FROM subscriptions WHERE application_id = a.id " \
    "ORDER BY seq)))) FROM applications a ORDER BY a.seq"

#define SNAPSHOT_KEYS                                                                              \
    "SELECT CASE WHEN k.expires_at IS NULL THEN json_object('hash', k.hash, 'application', "       \
    "k.application_id, 'type', k.type) ELSE json_object('hash', k.hash, 'application', "           \
    "k.application_id, 'type', k.type, 'expiresAt', k.expires_at) END FROM api_keys k ORDER BY "   \
    "k.seq"

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

int cp_snapshot_hash(json_t *doc, char out[65])
{
    return gw_cfg_hash(doc, out);
}

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

/* Fills doc (borrowed) from the database; the caller holds a read
 * transaction. The parts are new references until doc takes them over. */
static int build_locked(struct cp_db *db, json_t *doc, int64_t *revision, struct gw_err *err)
{
    json_t *vendors = NULL, *apis = NULL, *apps = NULL, *keys = NULL, *issuers = NULL;
    char now[32];
    int rc = -1;
    if (cp_db_query_int(db, err, revision, "SELECT revision FROM config_revision WHERE id = 1",
                        "") < 0 ||
        cp_vendor_list(db, &vendors, err) < 0 || cp_api_list(db, &apis, err) < 0 ||
        fill_apis(db, apis, err) < 0 ||
        cp_db_query_json(db, err, &apps, SNAPSHOT_APPLICATIONS, "") < 0 ||
        cp_db_query_json(db, err, &keys, SNAPSHOT_KEYS, "") < 0 ||
        cp_db_query_json(db, err, &issuers, SNAPSHOT_ISSUERS, "") < 0 ||
        fill_issuers(issuers, err) < 0)
        goto out;
    gw_format_rfc3339(gw_wall_s(), now);
    /* json_object_set() takes its own reference: ours are dropped at out
     * whether or not the sets succeed. */
    if (json_object_set_new(doc, "schemaVersion", json_integer(CP_SNAPSHOT_SCHEMA_VERSION)) < 0 ||
        json_object_set_new(doc, "revision", json_integer(*revision)) < 0 ||
        json_object_set_new(doc, "generatedAt", json_string(now)) < 0 ||
        json_object_set(doc, "vendors", vendors) < 0 || json_object_set(doc, "apis", apis) < 0 ||
        json_object_set(doc, "applications", apps) < 0 ||
        json_object_set(doc, "keys", keys) < 0 ||
        (json_array_size(issuers) && json_object_set(doc, "issuers", issuers) < 0)) {
        cp_nomem(err);
        goto out;
    }
    rc = 0;
out:
    json_decref(vendors);
    json_decref(apis);
    json_decref(apps);
    json_decref(keys);
    json_decref(issuers);
    return rc;
}

/* Reads doc back with the data plane's own code (the shared config model)
 * so that a snapshot a data plane would refuse is never published. A
 * failure here is a bug of the control plane's REST validation: it is
 * logged and the data planes keep their current revision. */
static int check_snapshot(json_t *doc, struct gw_err *err)
{
    struct gw_cfg *model = gw_cfg_from_json(doc, err);
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

int cp_snapshot_build(struct cp_db *db, json_t **out, int64_t *revision, struct gw_err *err)
{
    char hash[65];
    json_t *doc = json_object();
    *out = NULL;
    if (!doc)
        return cp_nomem(err);
    if (cp_db_read_begin(db, err) < 0)
        goto fail;
    int rc = build_locked(db, doc, revision, err);
    cp_db_read_end(db);
    if (rc < 0)
        goto fail;
    if (cp_snapshot_hash(doc, hash) < 0 ||
        json_object_set_new(doc, "sha256", json_string(hash)) < 0) {
        cp_nomem(err);
        goto fail;
    }
    if (check_snapshot(doc, err) < 0)
        goto fail;
    *out = doc;
    return 0;
fail:
    json_decref(doc);
    return -1;
}
