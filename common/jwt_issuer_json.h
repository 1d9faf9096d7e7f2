/* One issuer of the config (SPEC 2.2 "Issuers") built from its JSON parts,
 * the one way both binaries turn config into a struct gw_jwt_issuer: the
 * control plane to check an issuer (REST input, a fetched JWKS) and the
 * data plane to compile a snapshot, so that what one accepts the other does
 * too. Pure function, any thread. */
#ifndef GW_JWT_ISSUER_JSON_H
#define GW_JWT_ISSUER_JSON_H

#include <jansson.h>

#include "common/err.h"
#include "common/jwt_issuer.h"

/* Makes err's message start with its field ("keys[2].n: ..."), after
 * prefix ("jwks.keys[2].n: ...") when prefix is not NULL. */
void gw_jwt_err_name_field(struct gw_err *err, const char *prefix);

/* A new issuer: iss, client_claim (NULL: azp then client_id), audiences (a
 * JSON array of strings or NULL), keys (an array of PEM strings / JWKs or
 * NULL) and jwks (a JWKS document {"keys": [...]} or NULL), all borrowed.
 * The bounds are those of common/jwt_issuer.h and common/jwk.h (at most
 * GW_JWK_MAX_KEYS keys in all). Errors name the field ("audiences[1]",
 * "keys[0].n", "jwks: keys[2].x"). Returns NULL with err. */
struct gw_jwt_issuer *gw_jwt_issuer_from_json(const char *iss, const char *client_claim,
                                              const json_t *audiences, const json_t *keys,
                                              const json_t *jwks, struct gw_err *err);

#endif
