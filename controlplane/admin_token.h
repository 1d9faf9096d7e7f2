/* The admin token of /api/v1: from MODELMUX_ADMIN_TOKEN, or generated on
 * the first start, printed once on stdout, and kept only as its SHA-256 in
 * the settings table. Main thread, at start. */
#ifndef CP_ADMIN_TOKEN_H
#define CP_ADMIN_TOKEN_H

#include "common/crypto.h"
#include "common/err.h"

struct cp_db;

/* Fills hash with the SHA-256 hex of the admin token: env_token when set
 * and not empty; else the stored hash; else a new token is generated,
 * printed to stdout as "admin token: <token>" and its hash stored.
 * Returns 0 or -1 with err. */
int cp_admin_token_setup(struct cp_db *db, const char *env_token, char hash[GW_SHA256_HEX_LEN + 1],
                         struct gw_err *err);

#endif
