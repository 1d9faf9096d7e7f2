/* Secret values encrypted at rest (see secrets_at_rest.h). Main thread at
 * start; the SQL functions it registers then run on whichever thread holds
 * the database lock. */
#include "secrets_at_rest.h"

#include <openssl/crypto.h>
#include <sqlite3.h>
#include <string.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/log.h"
#include "db.h"

#define CHECK_SETTING "secrets_key_check"
#define CHECK_AAD "modelmux:secrets-key-check"
#define CHECK_TEXT "modelmux secrets key check v1"

/* A key, owned by the SQLite function it is registered with (freed by
 * SQLite when the connection closes). */
struct sealing_key {
    int set; /* 0: no MODELMUX_SECRETS_KEY, values are stored as given */
    unsigned char k[GW_SEAL_KEY_LEN];
};

static void key_free(void *p)
{
    if (p)
        OPENSSL_cleanse(p, sizeof(struct sealing_key));
    gw_free(p);
}

/* The associated data of a value: "<secret name>\0<key name>". */
static char *value_aad(sqlite3_context *ctx, sqlite3_value **argv, size_t *len)
{
    const char *name = (const char *)sqlite3_value_text(argv[0]);
    const char *key = (const char *)sqlite3_value_text(argv[1]);
    if (!name || !key) {
        sqlite3_result_error(ctx, "secret value without a name", -1);
        return NULL;
    }
    size_t nl = strlen(name), kl = strlen(key);
    char *aad = gw_malloc(nl + 1 + kl);
    if (!aad) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    memcpy(aad, name, nl + 1);
    memcpy(aad + nl + 1, key, kl);
    *len = nl + 1 + kl;
    return aad;
}

/* The start shared by both functions (argv: secret name, key name,
 * value). Without a key, or for a NULL value, the value passes through
 * (NOT NULL of the table refuses the latter) and NULL is returned: the
 * call is answered. Else returns the associated data (to gw_free) with
 * *text the value, or NULL after setting an error. */
static char *begin_call(sqlite3_context *ctx, sqlite3_value **argv, const char **text,
                        size_t *aadlen)
{
    const struct sealing_key *k = sqlite3_user_data(ctx);
    if (!k->set || sqlite3_value_type(argv[2]) == SQLITE_NULL) {
        sqlite3_result_value(ctx, argv[2]);
        return NULL;
    }
    *text = (const char *)sqlite3_value_text(argv[2]);
    if (!*text) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    return value_aad(ctx, argv, aadlen);
}

/* mm_secret_store(secret_name, key, value) -> what to store: the value
 * sealed, or as it is without a key. */
static void sql_store(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const struct sealing_key *k = sqlite3_user_data(ctx);
    const char *value = NULL;
    size_t aadlen = 0;
    char *aad = begin_call(ctx, argv, &value, &aadlen);
    if (!aad)
        return;
    char *sealed = gw_seal(k->k, aad, aadlen, value, (size_t)sqlite3_value_bytes(argv[2]));
    gw_free(aad);
    if (!sealed) {
        sqlite3_result_error(ctx, "cannot encrypt a secret value", -1);
        return;
    }
    sqlite3_result_text(ctx, sealed, -1, gw_free);
}

/* mm_secret_load(secret_name, key, stored) -> the value; with a key, an
 * error for anything that does not open (the stored text is never passed
 * off as the value). Also mm_unseal_old, with the old key. */
static void sql_load(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const struct sealing_key *k = sqlite3_user_data(ctx);
    const char *sealed = NULL;
    size_t aadlen = 0, len = 0;
    char *aad = begin_call(ctx, argv, &sealed, &aadlen);
    if (!aad)
        return;
    char *plain = gw_unseal(k->k, aad, aadlen, sealed, &len);
    gw_free(aad);
    if (!plain) {
        sqlite3_result_error(ctx, "a secret value does not decrypt with MODELMUX_SECRETS_KEY", -1);
        return;
    }
    sqlite3_result_text(ctx, plain, (int)len, gw_free);
}

/* Registers fn as name with its own copy of key. 0 or -1. */
static int register_fn(sqlite3 *h, const char *name, void (*fn)(sqlite3_context *, int,
                                                                 sqlite3_value **),
                       const unsigned char *key, struct gw_err *err)
{
    struct sealing_key *k = gw_calloc(1, sizeof(*k));
    if (!k)
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    if (key) {
        k->set = 1;
        memcpy(k->k, key, GW_SEAL_KEY_LEN);
    }
    /* DIRECTONLY: not callable from the database file's own views or
     * triggers (our TEMP ones may). The destructor runs on failure too. */
    if (sqlite3_create_function_v2(h, name, 3, SQLITE_UTF8 | SQLITE_DIRECTONLY, k, fn, NULL, NULL,
                                   key_free) != SQLITE_OK)
        return gw_err_set(err, GW_ERR_INTERNAL, "database", NULL, "cannot register %s: %s", name,
                          sqlite3_errmsg(h));
    return 0;
}

/* Readers see the values; the view is read-only, so a writer that forgot
 * main. and mm_secret_store() fails loudly instead of storing plain text. */
static const char shadow_sql[] =
    "CREATE TEMP VIEW secret_values AS SELECT secret_name, key, "
    "mm_secret_load(secret_name, key, value) AS value FROM main.secret_values";

/* Reads the stored key check into *check (new string, NULL when none). */
static int read_check(struct cp_db *db, char **check, struct gw_err *err)
{
    json_t *row = NULL;
    *check = NULL;
    if (cp_db_query_one(db, err, &row,
                        "SELECT json_quote(value) FROM settings WHERE key = '" CHECK_SETTING "'",
                        "") < 0)
        return -1;
    if (row && json_is_string(row) && !(*check = gw_strdup(json_string_value(row)))) {
        json_decref(row);
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    }
    json_decref(row);
    return 0;
}

/* 1 when check opens with key to the known text. */
static int check_opens(const unsigned char key[GW_SEAL_KEY_LEN], const char *check)
{
    char *text = gw_unseal(key, CHECK_AAD, sizeof(CHECK_AAD) - 1, check, NULL);
    int ok = text && strcmp(text, CHECK_TEXT) == 0;
    gw_free(text);
    return ok;
}

static int store_check(struct cp_db *db, const unsigned char key[GW_SEAL_KEY_LEN],
                       struct gw_err *err)
{
    char *check = gw_seal(key, CHECK_AAD, sizeof(CHECK_AAD) - 1, CHECK_TEXT, strlen(CHECK_TEXT));
    if (!check)
        return gw_err_set(err, GW_ERR_INTERNAL, "secrets", NULL, "cannot encrypt the key check");
    int rc = cp_db_run(db, err,
                       "INSERT INTO settings (key, value) VALUES ('" CHECK_SETTING "', ?1) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       "s", check);
    gw_free(check);
    return rc < 0 ? -1 : 0;
}

/* Inside a transaction: seals every value (they are plain: the database
 * had no key check), or re-seals every value from the old key, then
 * stores the new key check. Returns the number of values, or -1. */
static int seal_all(struct cp_db *db, int from_old, const unsigned char key[GW_SEAL_KEY_LEN],
                    struct gw_err *err)
{
    int n = cp_db_run(db, err,
                      from_old ? "UPDATE main.secret_values SET value = mm_secret_store(secret_name, "
                                 "key, mm_unseal_old(secret_name, key, value))"
                               : "UPDATE main.secret_values SET value = "
                                 "mm_secret_store(secret_name, key, value)",
                      "");
    if (n < 0 || store_check(db, key, err) < 0)
        return -1;
    return n;
}

static int parse_key(const char *text, const char *var, unsigned char key[GW_SEAL_KEY_LEN],
                     struct gw_err *err)
{
    if (gw_seal_key_parse(text, key) < 0)
        return gw_err_set(err, GW_ERR_INVALID, "secrets_key", NULL,
                          "%s must be 32 bytes, as 64 hex digits or base64", var);
    return 0;
}

/* With the keys parsed and the functions registered: brings the stored
 * values under key (one transaction). */
static int adopt_key(struct cp_db *db, const unsigned char key[GW_SEAL_KEY_LEN],
                     const unsigned char *old, struct gw_err *err)
{
    char *check = NULL;
    int n = 0;
    const char *what = NULL;
    if (cp_db_begin(db, err) < 0)
        return -1;
    if (read_check(db, &check, err) < 0)
        goto fail;
    if (!check) {
        what = "encrypted";
        n = seal_all(db, 0, key, err);
    } else if (check_opens(key, check)) {
        n = 0; /* already under this key (a restart, or a rotation already done) */
    } else if (old && check_opens(old, check)) {
        what = "re-encrypted with the new MODELMUX_SECRETS_KEY";
        n = seal_all(db, 1, key, err);
    } else {
        gw_err_set(err, GW_ERR_INTERNAL, "secrets_key", NULL,
                   "MODELMUX_SECRETS_KEY%s is not the key this database's secret values are "
                   "encrypted with",
                   old ? " (nor MODELMUX_SECRETS_KEY_OLD)" : "");
        n = -1;
    }
    gw_free(check);
    if (n < 0)
        goto fail;
    if (cp_db_commit_quiet(db, err) < 0)
        return -1;
    if (what) {
        /* Nor in the WAL: its frames from before the conversion go now. */
        sqlite3_exec(cp_db_handle(db), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        gw_info("secret values: %d %s", n, what);
    }
    return 0;
fail:
    cp_db_rollback(db);
    return -1;
}

/* Without a key: fine unless the database is encrypted. */
static int no_key(struct cp_db *db, const char *old_key_text, struct gw_err *err)
{
    char *check = NULL;
    if (old_key_text && *old_key_text)
        return gw_err_set(err, GW_ERR_INVALID, "secrets_key", NULL,
                          "MODELMUX_SECRETS_KEY_OLD needs MODELMUX_SECRETS_KEY (the new key)");
    if (cp_db_read_begin(db, err) < 0)
        return -1;
    int rc = read_check(db, &check, err);
    cp_db_read_end(db);
    if (rc < 0)
        return -1;
    int encrypted = check != NULL;
    gw_free(check);
    check = NULL;
    if (encrypted)
        return gw_err_set(err, GW_ERR_INTERNAL, "secrets_key", NULL,
                          "the database's secret values are encrypted: set MODELMUX_SECRETS_KEY");
    return 0;
}

int cp_secrets_at_rest_setup(struct cp_db *db, const char *key_text, const char *old_key_text,
                             struct gw_err *err)
{
    unsigned char key[GW_SEAL_KEY_LEN], old[GW_SEAL_KEY_LEN];
    int has_key = key_text && *key_text, has_old = old_key_text && *old_key_text, rc = -1;
    sqlite3 *h = cp_db_handle(db);
    memset(old, 0, sizeof(old));
    memset(key, 0, sizeof(key));
    if (!has_key) {
        if (no_key(db, old_key_text, err) < 0)
            goto out;
    } else if (parse_key(key_text, "MODELMUX_SECRETS_KEY", key, err) < 0 ||
               (has_old && parse_key(old_key_text, "MODELMUX_SECRETS_KEY_OLD", old, err) < 0)) {
        goto out;
    }
    if (register_fn(h, "mm_secret_store", sql_store, has_key ? key : NULL, err) < 0 ||
        register_fn(h, "mm_secret_load", sql_load, has_key ? key : NULL, err) < 0 ||
        (has_old && register_fn(h, "mm_unseal_old", sql_load, old, err) < 0))
        goto out;
    /* A replaced or deleted value (plain before the first start with a key,
     * or sealed with an old key) must not linger in free pages. */
    if (sqlite3_exec(h, "PRAGMA secure_delete=ON", NULL, NULL, NULL) != SQLITE_OK) {
        gw_err_set(err, GW_ERR_INTERNAL, "database", NULL, "cannot set secure_delete: %s",
                   sqlite3_errmsg(h));
        goto out;
    }
    if (has_key && adopt_key(db, key, has_old ? old : NULL, err) < 0)
        goto out;
    if (sqlite3_exec(h, shadow_sql, NULL, NULL, NULL) != SQLITE_OK) {
        gw_err_set(err, GW_ERR_INTERNAL, "database", NULL, "cannot set up secret encryption: %s",
                   sqlite3_errmsg(h));
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(old, sizeof(old));
    return rc;
}
