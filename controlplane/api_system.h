/* Route handlers for GET /api/v1/revision and GET /api/v1/dataplanes.
 * Any MHD worker thread. */
#ifndef CP_API_SYSTEM_H
#define CP_API_SYSTEM_H

#include "req.h"

/* 200 {"revision": N}, the last committed revision (no lock taken). */
int cp_h_revision(struct cp_req *req, struct gw_err *err);

/* 200 {"items": [{"id", "revision", "lastSeen", "status"}]}, the data planes
 * the channel has seen (dp_channel.h). */
int cp_h_dataplanes(struct cp_req *req, struct gw_err *err);

#endif
