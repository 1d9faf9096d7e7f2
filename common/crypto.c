/* libcrypto-backed hashing, tokens and sealing (see crypto.h). */
#include "crypto.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "b64url.h"

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

void gw_sha256_hex_parts(const void *const *data, const size_t *lens, size_t n,
                         char out[GW_SHA256_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, data[i], lens[i]) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        memset(md, 0, sizeof(md)); /* matches no snapshot's hash */
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

/* --- sealing (AES-256-GCM) ------------------------------------------------ */

#define SEAL_NONCE 12
#define SEAL_TAG 16

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int gw_seal_key_parse(const char *text, unsigned char key[GW_SEAL_KEY_LEN])
{
    size_t len = text ? strlen(text) : 0;
    if (len == 2 * GW_SEAL_KEY_LEN) {
        int ok = 1;
        for (size_t i = 0; i < GW_SEAL_KEY_LEN; i++) {
            int hi = hexval((unsigned char)text[2 * i]), lo = hexval((unsigned char)text[2 * i + 1]);
            ok &= hi >= 0 && lo >= 0;
            key[i] = (unsigned char)((hi & 15) << 4 | (lo & 15));
        }
        if (ok)
            return 0;
    }
    /* base64: the standard alphabet mapped onto base64url, padding dropped
     * (at most "=="), then the strict decoder. */
    char url[64];
    for (int pad = 0; pad < 2 && len > 0 && text[len - 1] == '='; pad++)
        len--;
    if (len >= sizeof(url))
        return -1;
    for (size_t i = 0; i < len; i++)
        url[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : text[i];
    long n = gw_b64url_decode(url, len, key, GW_SEAL_KEY_LEN);
    OPENSSL_cleanse(url, sizeof(url));
    return n == GW_SEAL_KEY_LEN ? 0 : -1;
}

int gw_is_sealed(const char *text)
{
    return text && strncmp(text, GW_SEAL_MARKER, sizeof(GW_SEAL_MARKER) - 1) == 0;
}

/* One AES-256-GCM pass: encrypt (enc=1, tag written) or decrypt (enc=0,
 * tag checked). out has room for len bytes. Returns 0, or -1 (for
 * decryption: wrong key, aad or altered data). */
static int gcm(int enc, const unsigned char *key, const unsigned char *nonce, const void *aad,
               size_t aadlen, const unsigned char *in, size_t len, unsigned char *out,
               unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, rc = -1;
    if (!ctx || len > INT_MAX || aadlen > INT_MAX ||
        EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
        (aadlen && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1) ||
        (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1))
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + (len ? n : 0), &n) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

char *gw_seal(const unsigned char key[GW_SEAL_KEY_LEN], const void *aad, size_t aadlen,
              const void *plain, size_t len)
{
    size_t rawlen = SEAL_NONCE + len + SEAL_TAG, mlen = sizeof(GW_SEAL_MARKER) - 1;
    size_t outsz = mlen + (rawlen * 4 + 2) / 3 + 1;
    if (len > INT_MAX / 2)
        return NULL;
    unsigned char *raw = gw_malloc(rawlen);
    char *out = gw_malloc(outsz);
    if (!raw || !out || RAND_bytes(raw, SEAL_NONCE) != 1 ||
        gcm(1, key, raw, aad, aadlen, plain, len, raw + SEAL_NONCE, raw + SEAL_NONCE + len) < 0 ||
        gw_b64url_encode(raw, rawlen, out + mlen, outsz - mlen) < 0) {
        gw_free(raw);
        gw_free(out);
        return NULL;
    }
    memcpy(out, GW_SEAL_MARKER, mlen);
    gw_free(raw);
    return out;
}

char *gw_unseal(const unsigned char key[GW_SEAL_KEY_LEN], const void *aad, size_t aadlen,
                const char *sealed, size_t *len)
{
    if (!gw_is_sealed(sealed))
        return NULL;
    const char *b64 = sealed + sizeof(GW_SEAL_MARKER) - 1;
    size_t blen = strlen(b64), rawsz = gw_b64url_decoded_len(blen);
    if (rawsz < SEAL_NONCE + SEAL_TAG)
        return NULL;
    unsigned char *raw = gw_malloc(rawsz);
    char *out = gw_malloc(rawsz - SEAL_NONCE - SEAL_TAG + 1);
    long rawlen = raw && out ? gw_b64url_decode(b64, blen, raw, rawsz) : -1;
    size_t plen = rawlen >= SEAL_NONCE + SEAL_TAG ? (size_t)rawlen - SEAL_NONCE - SEAL_TAG : 0;
    if (rawlen < SEAL_NONCE + SEAL_TAG ||
        gcm(0, key, raw, aad, aadlen, raw + SEAL_NONCE, plen, (unsigned char *)out,
            raw + SEAL_NONCE + plen) < 0) {
        gw_free(raw);
        gw_free(out);
        return NULL;
    }
    gw_free(raw);
    out[plen] = '\0';
    if (len)
        *len = plen;
    return out;
}
