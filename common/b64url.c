/* Strict unpadded base64url (see b64url.h). */
#include "b64url.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of c, or -1 when c is not in the base64url alphabet. */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t gw_b64url_decoded_len(size_t len)
{
    return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

long gw_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
    if (len % 4 == 1 || outsz < gw_b64url_decoded_len(len))
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = sextet((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Left-over bits (2 or 4) must be zero: otherwise two strings decode to
     * the same bytes. */
    if (acc != 0)
        return -1;
    return (long)o;
}

long gw_b64url_encode(const unsigned char *in, size_t len, char *out, size_t outsz)
{
    size_t need = (len * 4 + 2) / 3;
    if (outsz < need + 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = alphabet[(acc >> bits) & 63];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return (long)o;
}
