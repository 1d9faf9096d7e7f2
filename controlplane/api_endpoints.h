/* The REST resources (crud descriptions and own handlers) of
 * /api/v1/apis/{apiId}/endpoints (SPEC 2.2 "Endpoints"). The functions other
 * modules call are in resources.h. Any MHD worker thread. */
#ifndef CP_API_ENDPOINTS_H
#define CP_API_ENDPOINTS_H

#include "crud.h"
#include "req.h"

/* /api/v1/apis/{id}/endpoints[/{eid}] */
extern const struct cp_crud cp_endpoints_crud;

/* Checks an upstream URL: http:// or https://, a host, at most 2048
 * characters, no spaces or control characters. */
int cp_endpoint_url_check(const char *url, const char *field, struct gw_err *err);

#endif
