/* Route handlers for /api/v1/vendors and the vendors' model lists
 * (SPEC 2.2 "Vendors"). The read functions used by other modules are in
 * resources.h. Any MHD worker thread. */
#ifndef CP_API_VENDORS_H
#define CP_API_VENDORS_H

#include "req.h"

int cp_h_vendors_list(struct cp_req *req, struct gw_err *err);
int cp_h_vendor_create(struct cp_req *req, struct gw_err *err);
int cp_h_vendor_get(struct cp_req *req, struct gw_err *err);
int cp_h_vendor_put(struct cp_req *req, struct gw_err *err);
int cp_h_vendor_patch(struct cp_req *req, struct gw_err *err);
int cp_h_vendor_delete(struct cp_req *req, struct gw_err *err);

int cp_h_models_get(struct cp_req *req, struct gw_err *err);
int cp_h_models_put(struct cp_req *req, struct gw_err *err);
int cp_h_model_add(struct cp_req *req, struct gw_err *err);
int cp_h_model_delete(struct cp_req *req, struct gw_err *err);

/* Validates a model name (1-128 characters, no control characters). */
int cp_model_name_check(const char *name, const char *field, struct gw_err *err);

#endif
