/* libcrypto-backed hashing and tokens (see crypto.h). */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

static void sha256_to_hex(const unsigned char md[32], char out[GW_SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[GW_SHA256_HEX_LEN] = '\0';
}

void gw_sha256_hex(const void *data, size_t len, char out[GW_SHA256_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    sha256_to_hex(md, out);
}

static EVP_MD *sha256_fetched; /* set once, never freed (lives as long as the process) */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* The thread's digest context: freed by the thread-exit destructor. */
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static int ctx_key_ok;

static void free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void make_ctx_key(void)
{
    ctx_key_ok = pthread_key_create(&ctx_key, free_ctx) == 0;
}

void gw_sha256_hex_hot(const void *data, size_t len, char out[GW_SHA256_HEX_LEN + 1])
{
    pthread_once(&sha256_once, fetch_sha256);
    pthread_once(&ctx_once, make_ctx_key);
    EVP_MD_CTX *ctx = ctx_key_ok ? pthread_getspecific(ctx_key) : NULL;
    if (!ctx && ctx_key_ok && (ctx = EVP_MD_CTX_new()) != NULL &&
        pthread_setspecific(ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!sha256_fetched || !ctx || EVP_DigestInit_ex(ctx, sha256_fetched, NULL) != 1 ||
        EVP_DigestUpdate(ctx, data, len) != 1 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 ||
        mdlen != 32) {
        gw_sha256_hex(data, len, out);
        return;
    }
    sha256_to_hex(md, out);
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
