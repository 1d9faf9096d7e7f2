/* libcrypto-backed hashing and tokens (see crypto.h). */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

void gw_sha256_hex(const void *data, size_t len, char out[GW_SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[GW_SHA256_HEX_LEN] = '\0';
}

int gw_random_token(const char *prefix, char *out, size_t outsz)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33];
    size_t plen = strlen(prefix);
    if (outsz < plen + 45 || RAND_bytes(raw, 32) != 1)
        return -1;
    raw[32] = 0;
    memcpy(out, prefix, plen);
    char *o = out + plen;
    /* 32 bytes = 256 bits -> 43 base64url characters (the last one carries
     * 4 bits). */
    for (int i = 0; i < 43; i++) {
        int bit = i * 6, byte = bit / 8, shift = bit % 8;
        unsigned v = ((unsigned)raw[byte] << 8) | (byte + 1 < 33 ? raw[byte + 1] : 0);
        o[i] = b64[(v >> (10 - shift)) & 63];
    }
    o[43] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

int gw_random_hex(size_t nbytes, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    if (nbytes > sizeof(raw) || outsz <= 2 * nbytes || RAND_bytes(raw, (int)nbytes) != 1)
        return -1;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

int gw_ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    if (!a || !b)
        return 0;
    /* Compare the digests so the time does not depend on where the inputs
     * differ, nor (beyond hashing) on the secret's length. */
    char ha[GW_SHA256_HEX_LEN + 1], hb[GW_SHA256_HEX_LEN + 1];
    gw_sha256_hex(a, alen, ha);
    gw_sha256_hex(b, blen, hb);
    return CRYPTO_memcmp(ha, hb, GW_SHA256_HEX_LEN) == 0 && alen == blen;
}
