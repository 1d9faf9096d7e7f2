/* Applications, API keys and subscriptions (see api_applications.h). */
#include "api_applications.h"

#include <string.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "crud.h"
#include "common/limits.h"
#include "jfield.h"
#include "resources.h"


#define APP_JSON                                                                                   \
    "SELECT json_object('id', a.id, 'name', a.name, 'description', a.description, "                \
    "'createdAt', a.created_at) FROM applications a "
#define KEY_JSON                                                                                   \
    "SELECT json_object('id', k.id, 'type', k.type, 'createdAt', k.created_at, 'expiresAt', "      \
    "k.expires_at) FROM api_keys k "
#define SUB_JSON                                                                                   \
    "SELECT json_object('apiId', s.api_id, 'apiName', p.name, 'createdAt', s.created_at) "         \
    "FROM subscriptions s JOIN apis p ON p.id = s.api_id "

static void now_text(char out[32])
{
    gw_format_rfc3339(gw_wall_s(), out);
}

/* --- applications ------------------------------------------------------------ */

static int app_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    (void)ids;
    return cp_db_query_json(db, err, out, APP_JSON "ORDER BY a.seq", "");
}

static int app_get(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    if (cp_db_query_one(db, err, out, APP_JSON "WHERE a.id = ?1", "s", ids[0]) < 0)
        return -1;
    return *out ? 0 : cp_not_found(err, "application", ids[0]);
}

static int app_write(struct cp_db *db, const char *id, int is_new, json_t *body, json_t **out,
                     struct gw_err *err)
{
    const char *name, *desc;
    int64_t n = 0;
    char now[32];
    if (cp_jf_str(body, "name", NULL, CP_JF_REQUIRED | CP_JF_NAME, GW_NAME_MAX_CHARS, &name, err) <
            0 ||
        cp_jf_str(body, "description", NULL, 0, 1024, &desc, err) < 0 ||
        cp_db_query_int(db, err, &n,
                        "SELECT count(*) FROM applications WHERE name = ?1 AND id != ?2", "ss",
                        name, id) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "name_taken", "name",
                          "an application named '%s' already exists", name);
    if (is_new && cp_room_for_one(db, "SELECT count(*) FROM applications", GW_APPLICATIONS_MAX,
                                  "applications", "GW_APPLICATIONS_MAX", err) < 0)
        return -1;
    now_text(now);
    if (is_new ? cp_db_run(db, err,
                           "INSERT INTO applications (id, seq, name, description, created_at) "
                           "VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM applications), ?2, "
                           "?3, ?4)",
                           "ssss", id, name, desc ? desc : "", now) < 0
               : cp_db_run(db, err,
                           "UPDATE applications SET name = ?2, description = ?3 WHERE id = ?1",
                           "sss", id, name, desc ? desc : "") < 0)
        return -1;
    const char *ids[1] = {id};
    return app_get(db, ids, out, err);
}

static int app_create(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                      struct gw_err *err)
{
    (void)ids;
    char id[33];
    if (cp_db_new_id(id, err) < 0)
        return -1;
    return app_write(db, id, 1, body, out, err);
}

static int app_replace(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                       struct gw_err *err)
{
    json_t *old = NULL;
    if (app_get(db, ids, &old, err) < 0)
        return -1;
    json_decref(old);
    return app_write(db, ids[0], 0, body, out, err);
}

static int app_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    int n = cp_db_run(db, err, "DELETE FROM applications WHERE id = ?1", "s", ids[0]);
    if (n < 0)
        return -1;
    return n ? 0 : cp_not_found(err, "application", ids[0]);
}

const struct cp_crud cp_apps_crud = {app_list, app_get, app_create, app_replace, app_remove};

/* --- API keys ------------------------------------------------------------------ */

static int app_exists(struct cp_db *db, const char *id, struct gw_err *err)
{
    json_t *app = NULL;
    const char *ids[1] = {id};
    if (app_get(db, ids, &app, err) < 0)
        return -1;
    json_decref(app);
    return 0;
}

static int key_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    if (app_exists(db, ids[0], err) < 0)
        return -1;
    return cp_db_query_json(db, err, out, KEY_JSON "WHERE k.application_id = ?1 ORDER BY k.seq",
                            "s", ids[0]);
}

/* 1 when the "YYYY-MM-DD" that s starts with (already checked to be
 * digits by gw_parse_rfc3339) is a day of the calendar: the parser accepts
 * any day up to 31 and would carry 2030-02-30 over into March. */
static int real_date(const char *s)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* Reads "expiresAt" (RFC 3339, in the future) as normalized UTC text into
 * out, or "" when absent. */
static int read_expiry(json_t *body, char out[32], struct gw_err *err)
{
    const char *s;
    int64_t t;
    out[0] = '\0';
    if (cp_jf_str(body, "expiresAt", NULL, 0, 64, &s, err) < 0)
        return -1;
    if (!s)
        return 0;
    if (gw_parse_rfc3339(s, &t) < 0 || !real_date(s))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "expiresAt",
                          "expiresAt must be an RFC 3339 time such as 2030-01-01T00:00:00Z");
    if (t <= gw_wall_s())
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "expiresAt",
                          "expiresAt must be in the future");
    gw_format_rfc3339(t, out);
    return 0;
}

static int key_create(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                      struct gw_err *err)
{
    const char *type;
    char id[33], expires[32], now[32], key[96], hash[GW_SHA256_HEX_LEN + 1];
    if (cp_jf_str(body, "type", NULL, CP_JF_REQUIRED, 16, &type, err) < 0)
        return -1;
    if (strcmp(type, "production") != 0 && strcmp(type, "sandbox") != 0)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "type",
                          "type must be \"production\" or \"sandbox\"");
    if (read_expiry(body, expires, err) < 0 || app_exists(db, ids[0], err) < 0 ||
        cp_room_for_one(db, "SELECT count(*) FROM api_keys", GW_KEYS_MAX, "API keys",
                        "GW_KEYS_MAX", err) < 0 ||
        cp_db_new_id(id, err) < 0)
        return -1;
    if (gw_random_token(CP_API_KEY_PREFIX, key, sizeof(key)) < 0)
        return gw_err_set(err, GW_ERR_INTERNAL, "random", NULL, "random source failed");
    gw_sha256_hex(key, strlen(key), hash);
    now_text(now);
    if (cp_db_run(db, err,
                  "INSERT INTO api_keys (id, seq, application_id, hash, type, created_at, "
                  "expires_at) VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM api_keys), ?2, "
                  "?3, ?4, ?5, ?6)",
                  "ssssss", id, ids[0], hash, type, now, expires[0] ? expires : NULL) < 0)
        return -1;
    *out = json_pack("{s:s,s:s,s:s,s:s,s:s?}", "id", id, "key", key, "type", type, "createdAt", now,
                     "expiresAt", expires[0] ? expires : NULL);
    return *out ? 0 : cp_nomem(err);
}

static int key_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    if (app_exists(db, ids[0], err) < 0)
        return -1;
    int n = cp_db_run(db, err, "DELETE FROM api_keys WHERE application_id = ?1 AND id = ?2", "ss",
                      ids[0], ids[1]);
    if (n < 0)
        return -1;
    return n ? 0 : cp_not_found(err, "key", ids[1]);
}

const struct cp_crud cp_keys_crud = {key_list, NULL, key_create, NULL, key_remove};

/* --- subscriptions --------------------------------------------------------------- */

static int sub_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    if (app_exists(db, ids[0], err) < 0)
        return -1;
    return cp_db_query_json(db, err, out, SUB_JSON "WHERE s.application_id = ?1 ORDER BY s.seq",
                            "s", ids[0]);
}

static int sub_create(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                      struct gw_err *err)
{
    const char *api_id;
    int64_t n = 0;
    char now[32];
    if (cp_jf_str(body, "apiId", NULL, CP_JF_REQUIRED | CP_JF_NAME, 64, &api_id, err) < 0 ||
        app_exists(db, ids[0], err) < 0 ||
        cp_db_query_int(db, err, &n, "SELECT count(*) FROM apis WHERE id = ?1", "s", api_id) < 0)
        return -1;
    if (!n)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "apiId",
                          "apiId: no API with id '%s'", api_id);
    if (cp_db_query_int(
            db, err, &n,
            "SELECT count(*) FROM subscriptions WHERE application_id = ?1 AND api_id = ?2", "ss",
            ids[0], api_id) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "exists", "apiId",
                          "the application is already subscribed to API '%s'", api_id);
    if (cp_room_for_one(db, "SELECT count(*) FROM subscriptions", GW_SUBSCRIPTIONS_MAX,
                        "subscriptions", "GW_SUBSCRIPTIONS_MAX", err) < 0)
        return -1;
    now_text(now);
    if (cp_db_run(db, err,
                  "INSERT INTO subscriptions (application_id, api_id, seq, created_at) VALUES "
                  "(?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM subscriptions), ?3)",
                  "sss", ids[0], api_id, now) < 0)
        return -1;
    return cp_db_query_one(db, err, out, SUB_JSON "WHERE s.application_id = ?1 AND s.api_id = ?2",
                           "ss", ids[0], api_id);
}

static int sub_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    if (app_exists(db, ids[0], err) < 0)
        return -1;
    int n =
        cp_db_run(db, err, "DELETE FROM subscriptions WHERE application_id = ?1 AND api_id = ?2",
                  "ss", ids[0], ids[1]);
    if (n < 0)
        return -1;
    return n ? 0 : cp_not_found(err, "subscription", ids[1]);
}

const struct cp_crud cp_subs_crud = {sub_list, NULL, sub_create, NULL, sub_remove};
