/* Strict base64url (RFC 4648 section 5) without padding, as JOSE uses it.
 *
 * Decoding accepts exactly the canonical encoding: only A-Z a-z 0-9 - _, no
 * '=' padding, no whitespace, a length that is not 1 modulo 4, and zero bits
 * in the unused low bits of the last character (so each byte string has one
 * encoding and a token cannot be altered without changing its bytes).
 * Pure functions, any thread. */
#ifndef GW_B64URL_H
#define GW_B64URL_H

#include <stddef.h>

/* Bytes that decoding len characters yields (len * 3 / 4, rounded down). */
size_t gw_b64url_decoded_len(size_t len);

/* Decodes in (len characters) into out (room for outsz bytes, at least
 * gw_b64url_decoded_len(len)). Returns the number of bytes written, or -1
 * when in is not canonical unpadded base64url or out is too small. */
long gw_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outsz);

/* Encodes len bytes into out (room for outsz bytes, at least
 * (len * 4 + 2) / 3 + 1 for the NUL). Returns the number of characters
 * written (without the NUL), or -1 when out is too small. */
long gw_b64url_encode(const unsigned char *in, size_t len, char *out, size_t outsz);

#endif
