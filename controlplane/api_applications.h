/* Route handlers for /api/v1/applications, their API keys and their
 * subscriptions (SPEC 2.2 "Applications and API keys"). A key is shown once,
 * in the reply that creates it; only its SHA-256 is stored. Any MHD worker
 * thread. */
#ifndef CP_API_APPLICATIONS_H
#define CP_API_APPLICATIONS_H

#include "req.h"

int cp_h_apps_list(struct cp_req *req, struct gw_err *err);
int cp_h_app_create(struct cp_req *req, struct gw_err *err);
int cp_h_app_get(struct cp_req *req, struct gw_err *err);
int cp_h_app_put(struct cp_req *req, struct gw_err *err);
int cp_h_app_patch(struct cp_req *req, struct gw_err *err);
int cp_h_app_delete(struct cp_req *req, struct gw_err *err);

int cp_h_keys_list(struct cp_req *req, struct gw_err *err);
int cp_h_key_create(struct cp_req *req, struct gw_err *err);
int cp_h_key_delete(struct cp_req *req, struct gw_err *err);

int cp_h_subs_list(struct cp_req *req, struct gw_err *err);
int cp_h_sub_create(struct cp_req *req, struct gw_err *err);
int cp_h_sub_delete(struct cp_req *req, struct gw_err *err);

/* Prefix of every API key the control plane makes. */
#define CP_API_KEY_PREFIX "mmk_"

#endif
