/* The REST resources of JWT issuers (SPEC 2.2 "Issuers"):
 * /api/v1/issuers[/{id}], the on-demand JWKS refresh
 * POST /api/v1/issuers/{id}/refresh, and the applications' OAuth clients
 * /api/v1/applications/{id}/oauth-clients[/{clientId}].
 *
 * An issuer's inline keys, audiences, issuer string and client claim are
 * checked by building the issuer with common/jwt_issuer.c, the code and
 * bounds a data plane uses. Fetching the JWKS is controlplane/jwks_fetch.c's
 * job: these handlers only mark the issuer due (column jwks_due) and never
 * wait for the network. Any MHD worker thread. */
#ifndef CP_API_ISSUERS_H
#define CP_API_ISSUERS_H

#include "crud.h"
#include "req.h"

/* /api/v1/issuers[/{id}] */
extern const struct cp_crud cp_issuers_crud;
/* /api/v1/applications/{id}/oauth-clients[/{clientId}] */
extern const struct cp_crud cp_oauth_clients_crud;

/* POST /api/v1/issuers/{id}/refresh: asks for a JWKS fetch now; 202 with
 * the issuer as it is (poll GET for the result), 409 without a jwksUri. */
int cp_h_issuer_refresh(struct cp_req *req, struct gw_err *err);

#endif
