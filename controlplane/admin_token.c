/* Admin token set-up (see admin_token.h). */
#include "admin_token.h"

#include <stdio.h>
#include <string.h>

#include "db.h"

#define SETTING "admin_token_sha256"

int cp_admin_token_setup(struct cp_db *db, const char *env_token, char hash[GW_SHA256_HEX_LEN + 1],
                         struct gw_err *err)
{
    if (env_token && *env_token) {
        gw_sha256_hex(env_token, strlen(env_token), hash);
        return 0;
    }
    json_t *row = NULL;
    char token[96];
    if (cp_db_begin(db, err) < 0)
        return -1;
    if (cp_db_query_one(db, err, &row,
                        "SELECT json_quote(value) FROM settings WHERE key = '" SETTING "'", "") < 0)
        goto fail;
    if (row) {
        snprintf(hash, GW_SHA256_HEX_LEN + 1, "%s", json_string_value(row));
        json_decref(row);
        return cp_db_commit_quiet(db, err);
    }
    if (gw_random_token("mma_", token, sizeof(token)) < 0) {
        gw_err_set(err, GW_ERR_INTERNAL, "random", NULL, "random source failed");
        goto fail;
    }
    gw_sha256_hex(token, strlen(token), hash);
    if (cp_db_run(db, err, "INSERT INTO settings (key, value) VALUES ('" SETTING "', ?1)", "s",
                  hash) < 0)
        goto fail;
    if (cp_db_commit_quiet(db, err) < 0)
        return -1;
    /* The only time the token is ever shown. */
    printf("admin token: %s\n", token);
    fflush(stdout);
    memset(token, 0, sizeof(token));
    return 0;
fail:
    cp_db_rollback(db);
    return -1;
}
