/* JWT access tokens (compact JWS, RFC 7515/7519) checked against a table of
 * issuers: parsing, signature verification with libcrypto, and the claim
 * checks of SPEC 3.1 step 2. docs/jwt.md lists the checks in order with the
 * message each failure gives.
 *
 * The data plane compiles the issuers of a snapshot into a struct
 * gw_jwt_issuers (issuer string -> signing keys, audiences, client claim,
 * OAuth clients) once per revision; the table is then immutable and shared
 * by all workers, and gw_jwt_verify may run on it from any thread at once.
 * The verdict is a struct gw_jwt_claims of fixed shape (plus one owned
 * string), so a per-worker cache of verified tokens (dataplane/jwt_cache.c)
 * can keep it until the token's exp.
 *
 * Nothing here ever puts the token, or any text taken from it, into a
 * message: the 401 messages are fixed sentences naming the failed check. */
#ifndef GW_JWT_H
#define GW_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/jwk.h"
#include "common/jwt_issuer.h"

#define GW_JWT_MAX_TOKEN 16384   /* bytes of a compact token */
#define GW_JWT_MAX_HEADER 2048   /* bytes of the decoded JOSE header */
#define GW_JWT_MAX_PAYLOAD 8192  /* bytes of the decoded claims */
#define GW_JWT_MAX_DEPTH 8       /* JSON nesting of header and claims */
#define GW_JWT_MAX_AUD 32        /* entries of an "aud" array */
#define GW_JWT_LEEWAY_SEC 60     /* clock skew allowed on exp and nbf */

/* The verdict of gw_jwt_verify. Every value but OK is a 401 (NOMEM a 503). */
enum gw_jwt_status {
    GW_JWT_OK = 0,          /* all checks passed, claims filled */
    GW_JWT_MALFORMED,       /* not three canonical base64url parts, not JSON, over a bound,
                               a claim missing or of the wrong type, "crit" header */
    GW_JWT_UNSUPPORTED_ALG, /* alg none, HMAC or anything not in gw_jws_alg_find */
    GW_JWT_UNKNOWN_ISSUER,  /* iss is not an issuer of the table */
    GW_JWT_UNKNOWN_KEY,     /* kid names no key of the issuer (e.g. rotated away), or no
                               key of the issuer fits alg: a bad signature */
    GW_JWT_BAD_SIGNATURE,   /* no fitting key verifies the signature (incl. a wrong key
                               type for alg, an ES signature of the wrong length) */
    GW_JWT_EXPIRED,         /* exp + leeway <= now */
    GW_JWT_NOT_YET_VALID,   /* nbf - leeway > now */
    GW_JWT_WRONG_AUDIENCE,  /* the issuer lists audiences and aud holds none of them */
    GW_JWT_UNKNOWN_CLIENT,  /* no client claim, or it names no OAuth client of the issuer */
    GW_JWT_NOMEM            /* out of memory (503) */
};

/* What a verified token says. Owned by the caller: gw_jwt_claims_cleanup. */
struct gw_jwt_claims {
    const struct gw_jwt_issuer *issuer;      /* borrowed from the table */
    const void *client;                      /* the value given to gw_jwt_issuer_add_client */
    char client_id[GW_JWT_CLIENT_ID_MAX + 1];
    const struct gw_jws_alg *alg;            /* static */
    int64_t exp;                             /* seconds since the epoch */
    int64_t nbf;                             /* 0 when absent */
    char *scope;                             /* owned; the "scope" claim, "" when absent */
};

/* ------------------------------------------------------- verification --- */

/* Checks the compact token (len bytes, no "Bearer ") at time now (seconds
 * since the epoch) against the table, in the order of docs/jwt.md. On
 * GW_JWT_OK fills out (the caller then owns out->scope). Otherwise out is
 * zeroed and err says why: kind GW_ERR_AUTH (GW_ERR_NOMEM for GW_JWT_NOMEM),
 * code gw_jwt_status_code(status), a message naming the failed check and
 * never the token. Thread-safe on a sealed table. */
enum gw_jwt_status gw_jwt_verify(const struct gw_jwt_issuers *t, const char *token, size_t len,
                                 int64_t now, struct gw_jwt_claims *out, struct gw_err *err);

/* A short machine code of a status ("token_expired", ...). */
const char *gw_jwt_status_code(enum gw_jwt_status s);

/* 1 when the space-separated scope list holds every one of the n required
 * scopes (n == 0: always), else 0. scope may be NULL (no scope). */
int gw_jwt_scopes_hold(const char *scope, const char *const *required, size_t n);

/* Deep copy of src into dst (scope duplicated). Returns 0 or -1 when out of
 * memory (dst then zeroed). */
int gw_jwt_claims_copy(struct gw_jwt_claims *dst, const struct gw_jwt_claims *src);

/* Frees the owned scope and zeroes c. NULL is a no-op. */
void gw_jwt_claims_cleanup(struct gw_jwt_claims *c);

#endif
