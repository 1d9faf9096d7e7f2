/* The control plane's JWKS fetcher (SPEC 2.2 "Issuers"): one background
 * thread fetches the jwksUri of each issuer that is due (created, updated,
 * refreshed on demand: issuers.jwks_due > 0) or whose last attempt is 10
 * minutes old, with libcurl (http/https only, bounded size and time),
 * checks the document with the data plane's code (common/jwt_issuer_json.c,
 * together with the issuer's inline keys) and stores it: a new key set
 * bumps the config revision (the data planes get it in the snapshot); a
 * failed fetch keeps the last keys and records the reason (jwksError). MHD
 * threads never wait for it. */
#ifndef CP_JWKS_FETCH_H
#define CP_JWKS_FETCH_H

#include "common/err.h"
#include "db.h"

#define CP_JWKS_REFRESH_S 600    /* every issuer's JWKS is fetched this often */
#define CP_JWKS_TIMEOUT_MS 10000 /* one fetch, connect to last byte */

struct cp_jwks;

/* Starts the thread (main thread, after the database is open). */
struct cp_jwks *cp_jwks_start(struct cp_db *db, struct gw_err *err);

/* Stops it: a fetch in progress is aborted, the thread joined. NULL is a
 * no-op. Main thread, at shutdown. */
void cp_jwks_stop(struct cp_jwks *f);

#endif
