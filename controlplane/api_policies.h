/* The REST resources (crud descriptions and own handlers) of
 * /api/v1/apis/{apiId}/policies (SPEC 2.2 "Policies"); the rules themselves
 * are in policy_rules.c, the functions other modules call in resources.h.
 * Any MHD worker thread. */
#ifndef CP_API_POLICIES_H
#define CP_API_POLICIES_H

#include "crud.h"
#include "req.h"

/* /api/v1/apis/{id}/policies[/{pid}] */
extern const struct cp_crud cp_policies_crud;

#endif
