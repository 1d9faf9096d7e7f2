/* Route handlers for /api/v1/apis/{apiId}/endpoints (SPEC 2.2
 * "Endpoints"). The functions other modules call are in resources.h. Any
 * MHD worker thread. */
#ifndef CP_API_ENDPOINTS_H
#define CP_API_ENDPOINTS_H

#include "req.h"

int cp_h_endpoints_list(struct cp_req *req, struct gw_err *err);
int cp_h_endpoint_create(struct cp_req *req, struct gw_err *err);
int cp_h_endpoint_get(struct cp_req *req, struct gw_err *err);
int cp_h_endpoint_put(struct cp_req *req, struct gw_err *err);
int cp_h_endpoint_patch(struct cp_req *req, struct gw_err *err);
int cp_h_endpoint_delete(struct cp_req *req, struct gw_err *err);

/* Checks an upstream URL: http:// or https://, a host, at most 2048
 * characters, no spaces or control characters. */
int cp_endpoint_url_check(const char *url, const char *field, struct gw_err *err);

#endif
