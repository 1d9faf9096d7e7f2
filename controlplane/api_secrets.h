/* The REST resources (crud descriptions and own handlers) of /api/v1/secrets
 * (SPEC 2.2 "Secrets"): write-only key/value sets that endpoints name. No
 * reply and no log line ever holds a secret's value: reads return the names
 * and key names only. Any MHD worker thread. */
#ifndef CP_API_SECRETS_H
#define CP_API_SECRETS_H

#include "crud.h"
#include "req.h"

/* /api/v1/secrets[/{name}] (PUT is cp_h_secret_put: 201 or 200) */
extern const struct cp_crud cp_secrets_crud;

/* PUT /api/v1/secrets/{name} with {"<key>": "<value>", ...}: creates (201)
 * or replaces (200) the secret's whole key set in one transaction and
 * answers {"name", "keys"} (no values). 400 names the offending key. */
int cp_h_secret_put(struct cp_req *req, struct gw_err *err);

/* Creates or replaces secret name with values ({"<key>": "<value>"},
 * borrowed) inside the caller's write transaction, with the checks of PUT
 * (400 naming the key). *created: 1 when it did not exist. Used by the
 * custom-resource import (import_apply.c). */
int cp_secret_write(struct cp_db *db, const char *name, json_t *values, int *created,
                    struct gw_err *err);

#endif
