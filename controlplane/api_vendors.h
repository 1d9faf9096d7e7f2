/* The REST resources (crud descriptions and own handlers) of /api/v1/vendors
 * and the vendors' model lists (SPEC 2.2 "Vendors"). The read functions used
 * by other modules are in resources.h. Any MHD worker thread. */
#ifndef CP_API_VENDORS_H
#define CP_API_VENDORS_H

#include "crud.h"
#include "req.h"

/* /api/v1/vendors[/{id}] */
extern const struct cp_crud cp_vendors_crud;
/* /api/v1/vendors/{id}/models[/{name}] (list = GET, create = POST, put = PUT, delete = DELETE) */
extern const struct cp_crud cp_models_crud;

/* PUT /api/v1/vendors/{id}/models with {"items": [...]}: replaces the model
 * list (409 when a model that goes away is used by a policy) and answers
 * 200 {"items": [...]}, the shape of GET. */
int cp_h_models_put(struct cp_req *req, struct gw_err *err);

/* Validates a model name (1-128 characters, no control characters). */
int cp_model_name_check(const char *name, const char *field, struct gw_err *err);

#endif
