/* Route handlers for /api/v1/secrets (SPEC 2.2 "Secrets"): write-only
 * key/value sets that endpoints name. No reply and no log line ever holds a
 * secret's value: reads return the names and key names only. Any MHD
 * worker thread. */
#ifndef CP_API_SECRETS_H
#define CP_API_SECRETS_H

#include "req.h"

int cp_h_secrets_list(struct cp_req *req, struct gw_err *err);
int cp_h_secret_get(struct cp_req *req, struct gw_err *err);
int cp_h_secret_put(struct cp_req *req, struct gw_err *err);
int cp_h_secret_delete(struct cp_req *req, struct gw_err *err);

#endif
