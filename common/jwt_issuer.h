/* The issuer table of JWT verification: issuer string -> signing keys,
 * accepted audiences, client claim name and OAuth clients (SPEC 2.2
 * "Issuers", 2.3). The data plane builds one per snapshot; the control plane
 * can build one to check an issuer the way a data plane will. Built by one
 * thread, then sealed (gw_jwt_issuers_add) and only read, by any number of
 * threads at once (common/jwt.c). */
#ifndef GW_JWT_ISSUER_H
#define GW_JWT_ISSUER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/jwk.h"

#define GW_JWT_ISSUER_MAX 512    /* bytes of an issuer ("iss") string */
#define GW_JWT_AUDIENCE_MAX 512  /* bytes of one audience of an issuer */
#define GW_JWT_MAX_AUDIENCES 16  /* audiences of one issuer */
#define GW_JWT_CLAIM_NAME_MAX 64 /* bytes of a configured client claim name */
#define GW_JWT_CLIENT_ID_MAX 256 /* bytes of an OAuth client id */

/* One OAuth client of an issuer. */
struct gw_jwt_client {
    char *id;           /* owned */
    size_t len;
    const void *client; /* the caller's, borrowed */
};

/* One issuer. Read its fields freely; change it only through the functions
 * below, and not after it went into a table. */
struct gw_jwt_issuer {
    char iss[GW_JWT_ISSUER_MAX + 1];
    size_t iss_len;
    char client_claim[GW_JWT_CLAIM_NAME_MAX + 1]; /* "" = azp, then client_id */
    char *audiences[GW_JWT_MAX_AUDIENCES];        /* owned */
    size_t naudiences;
    struct gw_jwk keys[GW_JWK_MAX_KEYS];
    size_t nkeys;
    struct gw_jwt_client *clients; /* owned; sorted by id once sealed */
    size_t nclients, capclients;
    int sealed;
};

/* ------------------------------------------------------ issuer table --- */

/* A new issuer named iss (the exact "iss" of its tokens, 1 to
 * GW_JWT_ISSUER_MAX bytes) whose client id is in claim client_claim (NULL or
 * "": "azp", then "client_id" when azp is absent). Returns NULL with err. */
struct gw_jwt_issuer *gw_jwt_issuer_new(const char *iss, const char *client_claim,
                                        struct gw_err *err);

/* Adds an accepted audience (1 to GW_JWT_AUDIENCE_MAX bytes, at most
 * GW_JWT_MAX_AUDIENCES). Returns 0 or -1 with err. */
int gw_jwt_issuer_add_audience(struct gw_jwt_issuer *is, const char *aud, struct gw_err *err);

/* Adds a signing key, taking ownership of key->pkey on success (key is then
 * zeroed); at most GW_JWK_MAX_KEYS. Returns 0 or -1 with err (key untouched). */
int gw_jwt_issuer_add_key(struct gw_jwt_issuer *is, struct gw_jwk *key, struct gw_err *err);

/* Adds the keys of a JSON value (borrowed): an array whose entries are PEM
 * strings or JWK objects (the issuer resource's "keys"), or a JWKS document
 * {"keys": [...]} (skipping the keys gw_jwks_from_json skips). err->field
 * names the entry. Returns 0 or -1 with err (keys added before stay). */
int gw_jwt_issuer_add_keys_json(struct gw_jwt_issuer *is, const json_t *keys, struct gw_err *err);

/* Registers an OAuth client of the issuer: client_id (1 to
 * GW_JWT_CLIENT_ID_MAX bytes) maps to client, an opaque pointer handed back
 * in gw_jwt_claims.client (the data plane's application and environment),
 * which must outlive the table. Duplicates are refused by gw_jwt_issuers_add.
 * Returns 0 or -1 with err. */
int gw_jwt_issuer_add_client(struct gw_jwt_issuer *is, const char *client_id, const void *client,
                             struct gw_err *err);

/* Frees an issuer not (yet) in a table. NULL is a no-op. */
void gw_jwt_issuer_free(struct gw_jwt_issuer *is);

/* A new empty table with a process-unique generation (see below). NULL when
 * out of memory. */
struct gw_jwt_issuers *gw_jwt_issuers_new(void);

/* Moves is into the table (takes ownership, also on failure) and seals it:
 * its clients are indexed, nothing may be added to it afterwards. Refuses a
 * second issuer with the same iss and a client id given twice. Returns 0 or
 * -1 with err. */
int gw_jwt_issuers_add(struct gw_jwt_issuers *t, struct gw_jwt_issuer *is, struct gw_err *err);

/* The issuer whose iss is the len bytes at iss, or NULL. */
const struct gw_jwt_issuer *gw_jwt_issuers_find(const struct gw_jwt_issuers *t, const char *iss,
                                                size_t len);

/* A number no other table of this process has: a cache of verified tokens
 * stores it with each entry, and an entry made under another table (an older
 * snapshot, whose issuers and clients may be gone) is never used. */
uint64_t gw_jwt_issuers_generation(const struct gw_jwt_issuers *t);

/* Frees the table, its issuers and keys (not the client pointers). */
void gw_jwt_issuers_free(struct gw_jwt_issuers *t);

/* The client of a sealed issuer whose id is the len bytes at id, or NULL. */
const struct gw_jwt_client *gw_jwt_issuer_find_client(const struct gw_jwt_issuer *is,
                                                      const char *id, size_t len);

#endif
