/* Hashing, random tokens and constant-time comparison (OpenSSL libcrypto).
 *
 * API keys and the admin token are stored and pushed as SHA-256 hex digests
 * only; compare secrets with gw_ct_equal so timing leaks nothing. */
#ifndef GW_CRYPTO_H
#define GW_CRYPTO_H

#include <stddef.h>

#define GW_SHA256_HEX_LEN 64

/* Writes the lowercase hex SHA-256 of data into out (65 bytes incl. NUL). */
void gw_sha256_hex(const void *data, size_t len, char out[GW_SHA256_HEX_LEN + 1]);

/* The same digest, for hot paths (the data plane hashes every API key it is
 * presented): the SHA-256 implementation is fetched from the provider once
 * per process instead of at every call, and the digest context is kept per
 * thread. Falls back to gw_sha256_hex when either cannot be had. */
void gw_sha256_hex_hot(const void *data, size_t len, char out[GW_SHA256_HEX_LEN + 1]);

/* Writes prefix + 43 characters of base64url from 32 random bytes into out
 * (size outsz, at least strlen(prefix) + 44). Returns 0, or -1 when the random
 * source fails or out is too small. */
int gw_random_token(const char *prefix, char *out, size_t outsz);

/* Writes a random id of 2*nbytes hex characters into out (outsz > 2*nbytes).
 * Returns 0 or -1. */
int gw_random_hex(size_t nbytes, char *out, size_t outsz);

/* Constant-time equality of two byte strings (time depends only on the
 * lengths). Returns 1 when equal. NULL equals nothing. */
int gw_ct_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
