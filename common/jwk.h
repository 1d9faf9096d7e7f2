/* Signing keys of JWT issuers, turned into OpenSSL EVP_PKEYs.
 *
 * An issuer's keys arrive as JWKs (RFC 7517/7518: RSA n/e, EC P-256/P-384
 * x/y), as a JWKS document ({"keys": [...]}, what a jwksUri serves), or as PEM
 * public keys (SubjectPublicKeyInfo "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY").
 * This module checks them against the bounds below and builds verification
 * keys; common/jwt.c uses them. Both binaries use it: the control plane to
 * refuse a bad key when an issuer is created or its JWKS is fetched, the data
 * plane to build the keys of a snapshot, so nothing the control plane accepts
 * is refused later.
 *
 * Only public keys are taken: a JWK holding private members or a PEM private
 * key is refused (it would be a leaked secret in the config). Symmetric keys
 * (kty "oct") are never taken: the gateway verifies no HMAC token, so a
 * public key can never be used as an HMAC secret.
 *
 * Pure functions; a struct gw_jwk is immutable once built, and its EVP_PKEY
 * may be used for verification by several threads at once. */
#ifndef GW_JWK_H
#define GW_JWK_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>

#include "common/err.h"

#define GW_JWK_MAX_KEYS 32          /* keys of one issuer / one JWKS document */
#define GW_JWK_RSA_MIN_BITS 2048    /* smaller RSA moduli are refused */
#define GW_JWK_RSA_MAX_BITS 8192    /* larger ones too (verification cost) */
#define GW_JWK_KID_MAX 128          /* bytes of a kid */
#define GW_JWK_PEM_MAX 16384        /* bytes of one PEM public key */
#define GW_JWKS_DOC_MAX (256 * 1024) /* bytes of a JWKS document */

/* Key types a verification key can have (its curve for EC). */
enum gw_jwk_type {
    GW_JWK_RSA = 1,  /* RSA, 2048-8192 bits: RS256/384/512, PS256/384/512 */
    GW_JWK_EC_P256,  /* EC on P-256: ES256 */
    GW_JWK_EC_P384   /* EC on P-384: ES384 */
};

struct gw_jwk {
    char kid[GW_JWK_KID_MAX + 1]; /* "" when the key has none (PEM keys never do) */
    char alg[8];                  /* the JWK's "alg", "" when absent: then any alg of the type */
    enum gw_jwk_type type;
    EVP_PKEY *pkey;               /* owned; NULL after gw_jwk_cleanup */
};

/* A set of keys, e.g. one JWKS document. */
struct gw_jwks {
    struct gw_jwk *keys; /* owned array of n */
    size_t n;
};

/* Called for each key of a JWKS document that is skipped (use other than
 * "sig", unsupported kty, curve or alg): index in "keys", its kid ("" when
 * none) and why, one sentence. */
typedef void (*gw_jwks_skip_fn)(void *ud, size_t index, const char *kid, const char *reason);

/* The JWS algorithms the gateway accepts (RFC 7518 section 3): the RSA
 * ones and ECDSA on P-256/P-384. "none" and the HMAC algorithms are not in
 * this table, so nothing can ever verify them. */
struct gw_jws_alg {
    const char *name;          /* "RS256", "PS384", "ES256", ... */
    enum gw_jwk_type key_type; /* the only key type that can verify it */
    int pss;                   /* 1: RSASSA-PSS (MGF1 with the same hash, salt = hash length) */
    const char *digest;        /* OpenSSL digest name: "SHA2-256", "SHA2-384", "SHA2-512" */
    size_t ec_coord;           /* ES*: bytes of r and of s in the JOSE signature, else 0 */
};

/* The accepted alg named by the len bytes at name, or NULL (unknown, "none",
 * HS256/384/512, ...). */
const struct gw_jws_alg *gw_jws_alg_find(const char *name, size_t len);

/* 1 when key k may verify alg a: same key type, and the JWK's own "alg",
 * when it has one, is a. */
int gw_jwk_fits(const struct gw_jwk *k, const struct gw_jws_alg *a);

/* Builds out from one JWK object (borrowed). kty RSA (n, e) or EC (crv P-256
 * or P-384, x, y of the curve's exact size); kid, alg and use are optional
 * but checked (kid a string of at most GW_JWK_KID_MAX printable bytes, alg
 * one of the accepted JWS algs and fitting the key, use "sig"). Returns 0, or
 * -1 with err (GW_ERR_INVALID naming the member, GW_ERR_NOMEM) and out
 * zeroed. */
int gw_jwk_from_json(const json_t *jwk, struct gw_jwk *out, struct gw_err *err);

/* Builds out from PEM text (len bytes, at most GW_JWK_PEM_MAX, NUL not
 * needed): exactly one "PUBLIC KEY" or "RSA PUBLIC KEY" block, only
 * whitespace around it. kid and alg are left empty. Returns 0, or -1 with err
 * and out zeroed. */
int gw_jwk_from_pem(const char *pem, size_t len, struct gw_jwk *out, struct gw_err *err);

/* One entry of an issuer's "keys" list: a PEM string or a JWK object. */
int gw_jwk_from_value(const json_t *v, struct gw_jwk *out, struct gw_err *err);

/* Frees the key (k may be NULL or already cleaned up). */
void gw_jwk_cleanup(struct gw_jwk *k);

/* The JWK "kty" of a type: "RSA" or "EC". */
const char *gw_jwk_kty(enum gw_jwk_type type);

/* Parses a JWKS document (len bytes of JSON, at most GW_JWKS_DOC_MAX): an
 * object whose "keys" is an array of at most GW_JWK_MAX_KEYS JWKs. Keys that
 * are not for signatures or of an unsupported kind are skipped, each reported
 * to skip (may be NULL); a key that claims to be usable (RSA or EC with use
 * "sig" or no use) but is broken fails the whole document, so a typo in a
 * key manager's JWKS shows instead of silently dropping the key. Returns 0
 * with out filled (possibly with no key), or -1 with err and out empty. */
int gw_jwks_parse(const char *doc, size_t len, struct gw_jwks *out, gw_jwks_skip_fn skip,
                  void *skip_ud, struct gw_err *err);

/* The same from a parsed document (borrowed). */
int gw_jwks_from_json(const json_t *doc, struct gw_jwks *out, gw_jwks_skip_fn skip, void *skip_ud,
                      struct gw_err *err);

/* Frees every key and the array (s may be NULL). */
void gw_jwks_cleanup(struct gw_jwks *s);

#endif
