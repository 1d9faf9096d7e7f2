/* Route handlers for /api/v1/apis/{apiId}/policies (SPEC 2.2
 * "Policies"); the rules themselves are in policy_rules.c, the functions
 * other modules call in resources.h. Any MHD worker thread. */
#ifndef CP_API_POLICIES_H
#define CP_API_POLICIES_H

#include "req.h"

int cp_h_policies_list(struct cp_req *req, struct gw_err *err);
int cp_h_policy_create(struct cp_req *req, struct gw_err *err);
int cp_h_policy_get(struct cp_req *req, struct gw_err *err);
int cp_h_policy_put(struct cp_req *req, struct gw_err *err);
int cp_h_policy_patch(struct cp_req *req, struct gw_err *err);
int cp_h_policy_delete(struct cp_req *req, struct gw_err *err);

#endif
