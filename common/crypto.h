/* Hashing, random tokens, constant-time comparison and sealing of secret
 * values (OpenSSL libcrypto).
 *
 * API keys and the admin token are stored and pushed as SHA-256 hex digests
 * only; compare secrets with gw_ct_equal so timing leaks nothing. Secret
 * values at rest are sealed with AES-256-GCM (gw_seal / gw_unseal). */
#ifndef GW_CRYPTO_H
#define GW_CRYPTO_H

#include <stddef.h>

#define GW_SHA256_HEX_LEN 64

/* Writes the lowercase hex SHA-256 of data into out (65 bytes incl. NUL). */
void gw_sha256_hex(const void *data, size_t len, char out[GW_SHA256_HEX_LEN + 1]);

/* The hex SHA-256 of the concatenation of n pieces (data[i], lens[i]
 * bytes), without copying them together. */
void gw_sha256_hex_parts(const void *const *data, const size_t *lens, size_t n,
                         char out[GW_SHA256_HEX_LEN + 1]);

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

/* --- sealing (AES-256-GCM) ------------------------------------------------ */

#define GW_SEAL_KEY_LEN 32
/* Every sealed value starts with this marker, so a sealed value is told
 * from a plain one: "mmsealed1:" + unpadded base64url (b64url.h) of
 * 12-byte nonce | ciphertext | 16-byte tag. */
#define GW_SEAL_MARKER "mmsealed1:"

/* Parses a 32-byte key written as 64 hex digits or as base64 (standard or
 * URL-safe alphabet, padding optional). Returns 0 with key filled, or -1
 * (nothing else is accepted, to catch a truncated or mistyped key). */
int gw_seal_key_parse(const char *text, unsigned char key[GW_SEAL_KEY_LEN]);

/* Seals the len bytes of plain under key with a fresh random nonce; aad
 * (aadlen bytes, e.g. the secret's name) is authenticated, not stored: the
 * same aad must be given to gw_unseal. Returns a new NUL-terminated string
 * (GW_SEAL_MARKER...) to gw_free, or NULL (no memory, random source). */
char *gw_seal(const unsigned char key[GW_SEAL_KEY_LEN], const void *aad, size_t aadlen,
              const void *plain, size_t len);

/* Opens a value made by gw_seal with the same key and aad. Returns a new
 * NUL-terminated string (*len its length, may be NULL) to gw_free, or NULL
 * when sealed is not a sealed value, was made with another key or aad, or
 * was altered. */
char *gw_unseal(const unsigned char key[GW_SEAL_KEY_LEN], const void *aad, size_t aadlen,
                const char *sealed, size_t *len);

/* 1 when text starts with GW_SEAL_MARKER. */
int gw_is_sealed(const char *text);

#endif
