/* Test fixture for JWT code: real keys generated with OpenSSL
 * (EVP_PKEY_keygen), their public halves as PEM and JWK, and tokens signed
 * with EVP_DigestSign (or HMAC, to check that HMAC tokens are refused). No
 * fixed blobs: every key and token is made at run time, so anyone can change
 * a case. Used by the unit tests, bench/jwt.c and tests/fuzz/.
 *
 * Every function returns memory the caller frees with free() (or
 * EVP_PKEY_free / json_decref), and aborts the test program on an OpenSSL
 * failure, which here is a broken environment, not a test result. */
#ifndef MM_JWT_FIXTURE_H
#define MM_JWT_FIXTURE_H

#include "common/b64url.h"
#include "common/jwt.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_CHECK(x)                                                                    \
    do {                                                                               \
        if (!(x)) {                                                                    \
            fprintf(stderr, "jwt fixture: %s failed (%s:%d)\n", #x, __FILE__, __LINE__); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* A new key: "RSA" with bits, or "EC" on curve ("P-256", "P-384", ...). */
static __attribute__((unused)) EVP_PKEY *fx_keygen(const char *type, int bits, const char *curve)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    FX_CHECK(ctx && EVP_PKEY_keygen_init(ctx) == 1);
    if (bits)
        FX_CHECK(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) == 1);
    if (curve)
        FX_CHECK(EVP_PKEY_CTX_set_group_name(ctx, curve) == 1);
    FX_CHECK(EVP_PKEY_keygen(ctx, &pkey) == 1);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static __attribute__((unused)) EVP_PKEY *fx_rsa(int bits)
{
    return fx_keygen("RSA", bits, NULL);
}

static __attribute__((unused)) EVP_PKEY *fx_ec(const char *curve)
{
    return fx_keygen("EC", 0, curve);
}

/* base64url of len bytes, malloc'd. */
static __attribute__((unused)) char *fx_b64(const void *data, size_t len)
{
    size_t cap = (len * 4 + 2) / 3 + 1;
    char *out = malloc(cap);
    FX_CHECK(out && gw_b64url_encode(data, len, out, cap) >= 0);
    return out;
}

static __attribute__((unused)) char *fx_b64s(const char *s)
{
    return fx_b64(s, strlen(s));
}

/* "a.b" or "a.b.c", malloc'd. */
static __attribute__((unused)) char *fx_join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
    char *out = malloc(n);
    FX_CHECK(out);
    snprintf(out, n, c ? "%s.%s.%s" : "%s.%s", a, b, c ? c : "");
    return out;
}

/* The digest name and PSS flag of a JWS alg (the test's own table, so a bug
 * in common/jwk.c's table does not hide itself). */
static __attribute__((unused)) const char *fx_digest(const char *alg, int *pss, size_t *ec_coord)
{
    *pss = alg[0] == 'P';
    *ec_coord = alg[0] != 'E' ? 0 : strcmp(alg, "ES256") == 0 ? 32 : strcmp(alg, "ES384") == 0 ? 48 : 66;
    const char *bits = alg + 2;
    return strcmp(bits, "256") == 0 ? "SHA256" : strcmp(bits, "384") == 0 ? "SHA384" : "SHA512";
}

/* The raw JWS signature of input under alg with key: RSA PKCS#1 v1.5, PSS
 * (salt = hash length) or ECDSA turned from DER into JOSE's r || s. */
static __attribute__((unused)) unsigned char *fx_sign_raw(EVP_PKEY *key, const char *alg, const char *input, size_t *siglen)
{
    int pss;
    size_t coord;
    const char *md = fx_digest(alg, &pss, &coord);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    FX_CHECK(ctx && EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, key, NULL) == 1);
    if (pss) {
        FX_CHECK(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
        FX_CHECK(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
    }
    size_t len = 0;
    FX_CHECK(EVP_DigestSign(ctx, NULL, &len, (const unsigned char *)input, strlen(input)) == 1);
    unsigned char *sig = malloc(len);
    FX_CHECK(sig && EVP_DigestSign(ctx, sig, &len, (const unsigned char *)input, strlen(input)) == 1);
    EVP_MD_CTX_free(ctx);
    if (coord) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
        FX_CHECK(es);
        unsigned char *raw = malloc(2 * coord);
        FX_CHECK(raw && BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)coord) == (int)coord &&
                 BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + coord, (int)coord) == (int)coord);
        ECDSA_SIG_free(es);
        free(sig);
        sig = raw;
        len = 2 * coord;
    }
    *siglen = len;
    return sig;
}

/* A compact token with the given raw header and claims JSON, signed with
 * key under alg ("HS256" etc.: HMAC with hmac_secret as the key instead). */
static __attribute__((unused)) char *fx_token_raw(EVP_PKEY *key, const char *alg, const char *header, const char *claims,
                          const char *hmac_secret)
{
    char *h = fx_b64s(header), *c = fx_b64s(claims);
    char *input = fx_join(h, c, NULL);
    unsigned char *sig;
    size_t siglen;
    if (hmac_secret) {
        sig = malloc(EVP_MAX_MD_SIZE);
        FX_CHECK(sig && EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, hmac_secret,
                                  strlen(hmac_secret), (const unsigned char *)input,
                                  strlen(input), sig, EVP_MAX_MD_SIZE, &siglen) != NULL);
    } else {
        sig = fx_sign_raw(key, alg, input, &siglen);
    }
    char *s = fx_b64(sig, siglen);
    char *token = fx_join(h, c, s);
    free(h);
    free(c);
    free(input);
    free(sig);
    free(s);
    return token;
}

/* A token with header {"alg": alg, "typ": "JWT", "kid": kid (when not
 * NULL)} and the given claims. */
static __attribute__((unused)) char *fx_token(EVP_PKEY *key, const char *alg, const char *kid, const char *claims)
{
    char header[256];
    if (kid)
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
    else
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    return fx_token_raw(key, alg, header, claims, NULL);
}

/* The public key as PEM: "PUBLIC KEY" (SubjectPublicKeyInfo) or, with
 * pkcs1, "RSA PUBLIC KEY". malloc'd, NUL-terminated. */
static __attribute__((unused)) char *fx_pem(EVP_PKEY *key, int pkcs1)
{
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(
        key, EVP_PKEY_PUBLIC_KEY, "PEM", pkcs1 ? "type-specific" : "SubjectPublicKeyInfo", NULL);
    unsigned char *data = NULL;
    size_t len = 0;
    FX_CHECK(ectx && OSSL_ENCODER_to_data(ectx, &data, &len) == 1);
    OSSL_ENCODER_CTX_free(ectx);
    char *pem = malloc(len + 1);
    FX_CHECK(pem);
    memcpy(pem, data, len);
    pem[len] = '\0';
    OPENSSL_free(data);
    return pem;
}

/* The private key as PEM (PKCS#8), to check that it is refused. */
static __attribute__((unused)) char *fx_pem_private(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    FX_CHECK(bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *pem = malloc((size_t)len + 1);
    FX_CHECK(pem);
    memcpy(pem, data, (size_t)len);
    pem[len] = '\0';
    BIO_free(bio);
    return pem;
}

/* base64url of a big-number parameter of key, left-padded to pad bytes
 * (0: minimal). */
static __attribute__((unused)) char *fx_bn_b64(EVP_PKEY *key, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    FX_CHECK(EVP_PKEY_get_bn_param(key, param, &bn) == 1);
    int len = pad ? pad : BN_num_bytes(bn);
    unsigned char *buf = malloc((size_t)len);
    FX_CHECK(buf && BN_bn2binpad(bn, buf, len) == len);
    char *out = fx_b64(buf, (size_t)len);
    free(buf);
    BN_free(bn);
    return out;
}

/* The public JWK of key (new reference): RSA n/e or EC crv/x/y; kid and
 * alg set when not NULL. */
static __attribute__((unused)) json_t *fx_jwk(EVP_PKEY *key, const char *kid, const char *alg)
{
    json_t *j = json_object();
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        json_object_set_new(j, "kty", json_string("RSA"));
        char *n = fx_bn_b64(key, OSSL_PKEY_PARAM_RSA_N, 0), *e = fx_bn_b64(key, OSSL_PKEY_PARAM_RSA_E, 0);
        json_object_set_new(j, "n", json_string(n));
        json_object_set_new(j, "e", json_string(e));
        free(n);
        free(e);
    } else {
        char group[32];
        size_t glen;
        FX_CHECK(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                sizeof group, &glen) == 1);
        int p256 = strcmp(group, "prime256v1") == 0, p384 = strcmp(group, "secp384r1") == 0;
        int coord = p256 ? 32 : p384 ? 48 : 66;
        json_object_set_new(j, "kty", json_string("EC"));
        json_object_set_new(j, "crv", json_string(p256 ? "P-256" : p384 ? "P-384" : "P-521"));
        char *x = fx_bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, coord);
        char *y = fx_bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, coord);
        json_object_set_new(j, "x", json_string(x));
        json_object_set_new(j, "y", json_string(y));
        free(x);
        free(y);
    }
    if (kid)
        json_object_set_new(j, "kid", json_string(kid));
    if (alg)
        json_object_set_new(j, "alg", json_string(alg));
    return j;
}

/* The fixture's keys, made once per process (RSA key generation takes a
 * while, more so under ASan). */
struct fx_keys {
    EVP_PKEY *rsa;     /* RSA 2048, kid "rsa-1" */
    EVP_PKEY *rsa2;    /* RSA 2048, kid "rsa-2" (rotation, wrong key) */
    EVP_PKEY *ec256;   /* P-256, kid "ec-256" */
    EVP_PKEY *ec384;   /* P-384, kid "ec-384" */
};

static __attribute__((unused)) struct fx_keys *fx_keys(void)
{
    static struct fx_keys k;
    if (!k.rsa) {
        k.rsa = fx_rsa(2048);
        k.rsa2 = fx_rsa(2048);
        k.ec256 = fx_ec("P-256");
        k.ec384 = fx_ec("P-384");
    }
    return &k;
}

#define FX_ISS "https://km.example.com/oauth2/token"

/* The "applications" the fixture's OAuth clients map to. */
static const int fx_app_a = 1, fx_app_b = 2;

/* A table with one issuer FX_ISS: the fixture's rsa (kid rsa-1), ec256
 * (ec-256) and ec384 (ec-384) keys as JWKs, clients client-a -> &fx_app_a
 * and client-b -> &fx_app_b, the given audiences (NULL-terminated, may be
 * NULL) and client claim (NULL: the default). */
static __attribute__((unused)) struct gw_jwt_issuers *fx_table(const char *const *audiences,
                                                               const char *claim)
{
    struct fx_keys *fk = fx_keys();
    struct gw_err err;
    struct gw_jwt_issuer *is = gw_jwt_issuer_new(FX_ISS, claim, &err);
    json_t *keys = json_pack("[o,o,o]", fx_jwk(fk->rsa, "rsa-1", NULL),
                             fx_jwk(fk->ec256, "ec-256", NULL), fx_jwk(fk->ec384, "ec-384", NULL));
    FX_CHECK(is && gw_jwt_issuer_add_keys_json(is, keys, &err) == 0);
    json_decref(keys);
    for (size_t i = 0; audiences && audiences[i]; i++)
        FX_CHECK(gw_jwt_issuer_add_audience(is, audiences[i], &err) == 0);
    FX_CHECK(gw_jwt_issuer_add_client(is, "client-b", &fx_app_b, &err) == 0);
    FX_CHECK(gw_jwt_issuer_add_client(is, "client-a", &fx_app_a, &err) == 0);
    struct gw_jwt_issuers *t = gw_jwt_issuers_new();
    FX_CHECK(t && gw_jwt_issuers_add(t, is, &err) == 0);
    return t;
}

/* Claims for FX_ISS and client-a, valid from now - 10 to now + ttl, with
 * extra members appended (a JSON fragment starting with ',' or ""). Written
 * into buf (cap bytes), returned. */
static __attribute__((unused)) char *fx_claims(char *buf, size_t cap, long long now, long long ttl,
                                               const char *extra)
{
    snprintf(buf, cap, "{\"iss\":\"%s\",\"sub\":\"alice\",\"exp\":%lld,\"iat\":%lld,"
                       "\"azp\":\"client-a\",\"scope\":\"chat default\"%s}",
             FX_ISS, now + ttl, now - 10, extra);
    return buf;
}

#endif
