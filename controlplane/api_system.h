/* Route handlers for GET /api/v1/revision and GET /api/v1/dataplanes.
 * Any MHD worker thread. */
#ifndef CP_API_SYSTEM_H
#define CP_API_SYSTEM_H

#include "req.h"

int cp_h_revision(struct cp_req *req, struct gw_err *err);
int cp_h_dataplanes(struct cp_req *req, struct gw_err *err);

#endif
