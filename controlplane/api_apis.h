/* The REST resources (crud descriptions and own handlers) of /api/v1/apis
 * (SPEC 2.2 "APIs"). The functions other modules call are in resources.h.
 * Any MHD worker thread. */
#ifndef CP_API_APIS_H
#define CP_API_APIS_H

#include "crud.h"
#include "req.h"

/* /api/v1/apis[/{id}] */
extern const struct cp_crud cp_apis_crud;

/* Checks an operations array (SPEC 2.2): 1..100 of {target ("/..."),
 * verb, secured (default true)}, no (verb, target) twice. Returns a new
 * normalized array, or NULL with err. NULL ops gives the OpenAI default. */
json_t *cp_api_operations(json_t *ops, struct gw_err *err);

#endif
