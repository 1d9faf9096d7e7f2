/* The REST resources (crud descriptions and own handlers) of
 * /api/v1/applications, their API keys and their subscriptions (SPEC 2.2
 * "Applications and API keys"). A key is shown once, in the reply that
 * creates it; only its SHA-256 is stored. Any MHD worker thread. */
#ifndef CP_API_APPLICATIONS_H
#define CP_API_APPLICATIONS_H

#include "crud.h"
#include "req.h"

/* /api/v1/applications[/{id}] */
extern const struct cp_crud cp_apps_crud;
/* /api/v1/applications/{id}/keys[/{kid}] */
extern const struct cp_crud cp_keys_crud;
/* /api/v1/applications/{id}/subscriptions[/{apiId}] */
extern const struct cp_crud cp_subs_crud;

/* Prefix of every API key the control plane makes. */
#define CP_API_KEY_PREFIX "mmk_"

#endif
