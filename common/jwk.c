/* JWK, JWKS and PEM public keys -> EVP_PKEY (see jwk.h). Any thread. */
#include "jwk.h"

#include "common/alloc.h"
#include "common/b64url.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- algs --- */

static const struct gw_jws_alg algs[] = {
    {"RS256", GW_JWK_RSA, 0, "SHA2-256", 0},     {"RS384", GW_JWK_RSA, 0, "SHA2-384", 0},
    {"RS512", GW_JWK_RSA, 0, "SHA2-512", 0},     {"PS256", GW_JWK_RSA, 1, "SHA2-256", 0},
    {"PS384", GW_JWK_RSA, 1, "SHA2-384", 0},     {"PS512", GW_JWK_RSA, 1, "SHA2-512", 0},
    {"ES256", GW_JWK_EC_P256, 0, "SHA2-256", 32}, {"ES384", GW_JWK_EC_P384, 0, "SHA2-384", 48},
};

const struct gw_jws_alg *gw_jws_alg_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (strlen(algs[i].name) == len && memcmp(algs[i].name, name, len) == 0)
            return &algs[i];
    return NULL;
}

int gw_jwk_fits(const struct gw_jwk *k, const struct gw_jws_alg *a)
{
    return k->pkey && k->type == a->key_type && (!k->alg[0] || strcmp(k->alg, a->name) == 0);
}

const char *gw_jwk_kty(enum gw_jwk_type type)
{
    return type == GW_JWK_RSA ? "RSA" : "EC";
}

void gw_jwk_cleanup(struct gw_jwk *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof *k);
}

/* ------------------------------------------------- checks of a built key --- */

/* EC curve of pkey as our type, 0 when not P-256/P-384. */
static enum gw_jwk_type ec_curve(EVP_PKEY *pkey)
{
    char group[64];
    size_t glen = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen) != 1)
        return 0;
    if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
        return GW_JWK_EC_P256;
    if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
        return GW_JWK_EC_P384;
    return 0;
}

/* Classifies pkey (RSA within the size bounds, or EC on an accepted curve),
 * and runs OpenSSL's public-key validation (EC point on the curve, RSA
 * modulus odd and composite, exponent sane). Sets *type. */
static int check_pkey(EVP_PKEY *pkey, const char *field, enum gw_jwk_type *type,
                      struct gw_err *err)
{
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < GW_JWK_RSA_MIN_BITS || bits > GW_JWK_RSA_MAX_BITS)
            return gw_err_set(err, GW_ERR_INVALID, "invalid_key", field,
                              "RSA key of %d bits: %d to %d bits are accepted", bits,
                              GW_JWK_RSA_MIN_BITS, GW_JWK_RSA_MAX_BITS);
        *type = GW_JWK_RSA;
    } else if (id == EVP_PKEY_EC) {
        *type = ec_curve(pkey);
        if (!*type)
            return gw_err_set(err, GW_ERR_INVALID, "invalid_key", field,
                              "EC key on an unsupported curve: P-256 and P-384 are accepted");
    } else {
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key", field,
                          "unsupported key type: RSA and EC (P-256, P-384) keys are accepted");
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key", field, "not a valid %s public key",
                          gw_jwk_kty(*type));
    return 0;
}

/* ------------------------------------------------------------- JWK JSON --- */

/* "prefix" + "." + member, the gw_err field of a JWK member. */
static const char *member_path(char *buf, size_t cap, const char *prefix, const char *member)
{
    if (prefix && prefix[0])
        snprintf(buf, cap, "%s.%s", prefix, member);
    else
        snprintf(buf, cap, "%s", member);
    return buf;
}

/* Decodes the base64url string member `name` of jwk into out (cap bytes).
 * Sets *outlen. */
static int b64_member(const json_t *jwk, const char *name, const char *prefix, unsigned char *out,
                      size_t cap, size_t *outlen, struct gw_err *err)
{
    char path[160];
    const json_t *v = json_object_get(jwk, name);
    if (!json_is_string(v))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                          member_path(path, sizeof path, prefix, name),
                          "JWK member %s is missing or not a string", name);
    size_t len = json_string_length(v);
    if (gw_b64url_decoded_len(len) > cap)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                          member_path(path, sizeof path, prefix, name),
                          "JWK member %s is too long (key over the size bounds)", name);
    long n = gw_b64url_decode(json_string_value(v), len, out, cap);
    if (n <= 0)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                          member_path(path, sizeof path, prefix, name),
                          "JWK member %s is not unpadded base64url", name);
    *outlen = (size_t)n;
    return 0;
}

/* EVP_PKEY_fromdata with the params built in bld; NULL on failure. */
static EVP_PKEY *pkey_from_params(const char *keytype, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, keytype, NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_from_json(const json_t *jwk, const char *prefix, struct gw_err *err)
{
    /* n may carry one leading zero byte (some key managers add it). */
    unsigned char n[GW_JWK_RSA_MAX_BITS / 8 + 1], e[8];
    size_t nlen = 0, elen = 0;
    char path[160];
    if (b64_member(jwk, "n", prefix, n, sizeof n, &nlen, err) < 0 ||
        b64_member(jwk, "e", prefix, e, sizeof e, &elen, err) < 0)
        return NULL;
    if (!(e[elen - 1] & 1) || (elen == 1 && e[0] < 3)) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_key", member_path(path, sizeof path, prefix, "e"),
                   "JWK member e is not a valid RSA public exponent");
        return NULL;
    }
    BIGNUM *bn_n = BN_bin2bn(n, (int)nlen, NULL), *bn_e = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
        pkey = pkey_from_params("RSA", bld);
    if (!pkey)
        gw_err_set(err, GW_ERR_INVALID, "invalid_key", prefix && prefix[0] ? prefix : NULL,
                   "RSA JWK could not be loaded");
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* Our type for a JWK "crv", 0 when not accepted. */
static enum gw_jwk_type crv_type(const char *crv)
{
    if (crv && strcmp(crv, "P-256") == 0)
        return GW_JWK_EC_P256;
    if (crv && strcmp(crv, "P-384") == 0)
        return GW_JWK_EC_P384;
    return 0;
}

static EVP_PKEY *ec_from_json(const json_t *jwk, const char *prefix, struct gw_err *err)
{
    char path[160];
    enum gw_jwk_type type = crv_type(json_string_value(json_object_get(jwk, "crv")));
    if (!type) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                   member_path(path, sizeof path, prefix, "crv"),
                   "JWK member crv must be P-256 or P-384");
        return NULL;
    }
    size_t coord = type == GW_JWK_EC_P256 ? 32 : 48;
    unsigned char point[1 + 2 * 48];
    size_t xlen = 0, ylen = 0;
    point[0] = 0x04; /* uncompressed point: 04 || x || y */
    if (b64_member(jwk, "x", prefix, point + 1, coord, &xlen, err) < 0 ||
        b64_member(jwk, "y", prefix, point + 1 + coord, coord, &ylen, err) < 0)
        return NULL;
    if (xlen != coord || ylen != coord) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                   member_path(path, sizeof path, prefix, xlen != coord ? "x" : "y"),
                   "JWK member %s must be %zu bytes for this curve", xlen != coord ? "x" : "y",
                   coord);
        return NULL;
    }
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bld &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        type == GW_JWK_EC_P256 ? "prime256v1" : "secp384r1",
                                        0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * coord) == 1)
        pkey = pkey_from_params("EC", bld);
    if (!pkey)
        gw_err_set(err, GW_ERR_INVALID, "invalid_key", prefix && prefix[0] ? prefix : NULL,
                   "EC JWK could not be loaded (x, y not a point of the curve)");
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* kid, alg and use of a JWK into out; refuses private members. */
static int jwk_meta(const json_t *jwk, const char *prefix, struct gw_jwk *out, struct gw_err *err)
{
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    char path[160];
    for (size_t i = 0; i < sizeof private_members / sizeof private_members[0]; i++)
        if (json_object_get(jwk, private_members[i]))
            return gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                              member_path(path, sizeof path, prefix, private_members[i]),
                              "JWK holds private key material (%s): give the public key only",
                              private_members[i]);
    const json_t *kid = json_object_get(jwk, "kid");
    if (kid) {
        const char *s = json_string_value(kid);
        size_t len = json_string_length(kid);
        int ok = s && len >= 1 && len <= GW_JWK_KID_MAX;
        for (size_t i = 0; ok && i < len; i++)
            ok = s[i] >= 0x20 && s[i] < 0x7f;
        if (!ok)
            return gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                              member_path(path, sizeof path, prefix, "kid"),
                              "JWK member kid must be 1 to %d printable ASCII characters",
                              GW_JWK_KID_MAX);
        memcpy(out->kid, s, len + 1);
    }
    const json_t *use = json_object_get(jwk, "use");
    if (use && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                          member_path(path, sizeof path, prefix, "use"),
                          "JWK member use must be \"sig\" for a signing key");
    const json_t *alg = json_object_get(jwk, "alg");
    if (alg) {
        const struct gw_jws_alg *a =
            json_is_string(alg) ? gw_jws_alg_find(json_string_value(alg), json_string_length(alg))
                                : NULL;
        if (!a)
            return gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                              member_path(path, sizeof path, prefix, "alg"),
                              "JWK member alg must be one of RS256, RS384, RS512, PS256, PS384, "
                              "PS512, ES256, ES384");
        memcpy(out->alg, a->name, strlen(a->name) + 1);
    }
    return 0;
}

static int jwk_from_json(const json_t *jwk, const char *prefix, struct gw_jwk *out,
                         struct gw_err *err)
{
    char path[160];
    memset(out, 0, sizeof *out);
    if (!json_is_object(jwk))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key", prefix && prefix[0] ? prefix : NULL,
                          "a JWK must be a JSON object");
    if (jwk_meta(jwk, prefix, out, err) < 0)
        goto fail;
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty && strcmp(kty, "RSA") == 0)
        out->pkey = rsa_from_json(jwk, prefix, err);
    else if (kty && strcmp(kty, "EC") == 0)
        out->pkey = ec_from_json(jwk, prefix, err);
    else {
        gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                   member_path(path, sizeof path, prefix, "kty"),
                   "JWK member kty must be RSA or EC (symmetric and other keys are refused)");
        goto fail;
    }
    if (!out->pkey || check_pkey(out->pkey, prefix && prefix[0] ? prefix : NULL, &out->type, err) < 0)
        goto fail;
    if (out->alg[0] && gw_jws_alg_find(out->alg, strlen(out->alg))->key_type != out->type) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_key",
                   member_path(path, sizeof path, prefix, "alg"),
                   "JWK member alg %s does not fit a %s key%s", out->alg, gw_jwk_kty(out->type),
                   out->type == GW_JWK_RSA ? "" : " on this curve");
        goto fail;
    }
    return 0;
fail:
    gw_jwk_cleanup(out);
    return -1;
}

int gw_jwk_from_json(const json_t *jwk, struct gw_jwk *out, struct gw_err *err)
{
    return jwk_from_json(jwk, NULL, out, err);
}

/* ------------------------------------------------------------------ PEM --- */

/* 1 when the len bytes at s are only ASCII whitespace. */
static int all_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", s[i]) || s[i] == '\0')
            return 0;
    return 1;
}

/* The DER of the single PEM block of pem; *label gets its name. Returns 0 or
 * -1 with err. The caller frees *label, *der with OPENSSL_free. */
static int pem_block(const char *pem, size_t len, char **label, unsigned char **der, long *derlen,
                     struct gw_err *err)
{
    char *header = NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    int ok = PEM_read_bio(bio, label, &header, der, derlen) == 1;
    size_t used = ok ? len - (size_t)BIO_pending(bio) : 0;
    BIO_free(bio);
    OPENSSL_free(header);
    if (!ok)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key", NULL,
                          "not a PEM public key (no readable -----BEGIN ...----- block)");
    if (!all_space(pem + used, len - used)) {
        OPENSSL_free(*label);
        OPENSSL_free(*der);
        *label = NULL;
        *der = NULL;
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key", NULL,
                          "PEM text holds more than one key or trailing data: give one public "
                          "key per entry");
    }
    return 0;
}

int gw_jwk_from_pem(const char *pem, size_t len, struct gw_jwk *out, struct gw_err *err)
{
    memset(out, 0, sizeof *out);
    if (len > GW_JWK_PEM_MAX)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key", NULL,
                          "PEM key over %d bytes", GW_JWK_PEM_MAX);
    if (memchr(pem, '\0', len))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_key", NULL, "PEM key holds a NUL byte");
    while (len && strchr(" \t\r\n", *pem)) { /* PEM_read_bio wants BEGIN at a line start */
        pem++;
        len--;
    }
    char *label = NULL;
    unsigned char *der = NULL;
    long derlen = 0;
    if (pem_block(pem, len, &label, &der, &derlen, err) < 0)
        return -1;
    const unsigned char *p = der;
    int spki = strcmp(label, "PUBLIC KEY") == 0, pkcs1 = strcmp(label, "RSA PUBLIC KEY") == 0;
    if (spki)
        out->pkey = d2i_PUBKEY(NULL, &p, derlen);
    else if (pkcs1)
        out->pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, derlen);
    int ok = out->pkey && p == der + derlen;
    if (!spki && !pkcs1)
        gw_err_set(err, GW_ERR_INVALID, "invalid_key", NULL,
                   strstr(label, "PRIVATE KEY")
                       ? "a PEM private key was given: give the public key only"
                       : "PEM block is not a public key: \"PUBLIC KEY\" or \"RSA PUBLIC KEY\" "
                         "is accepted");
    else if (!out->pkey)
        gw_err_set(err, GW_ERR_INVALID, "invalid_key", NULL, "PEM public key could not be decoded");
    else if (!ok)
        gw_err_set(err, GW_ERR_INVALID, "invalid_key", NULL, "PEM public key has trailing data");
    OPENSSL_free(label);
    OPENSSL_free(der);
    if (!ok || check_pkey(out->pkey, NULL, &out->type, err) < 0) {
        gw_jwk_cleanup(out);
        return -1;
    }
    return 0;
}

int gw_jwk_from_value(const json_t *v, struct gw_jwk *out, struct gw_err *err)
{
    if (json_is_string(v))
        return gw_jwk_from_pem(json_string_value(v), json_string_length(v), out, err);
    return gw_jwk_from_json(v, out, err);
}

/* ----------------------------------------------------------------- JWKS --- */

void gw_jwks_cleanup(struct gw_jwks *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        gw_jwk_cleanup(&s->keys[i]);
    gw_free(s->keys);
    s->keys = NULL;
    s->n = 0;
}

/* Why the JWKS entry k is not for us, or NULL when it claims to be a
 * signing key we can use (and must then load). */
static const char *skip_reason(const json_t *k, char *buf, size_t cap)
{
    const json_t *use = json_object_get(k, "use");
    if (use && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
        return "use is not \"sig\"";
    const char *kty = json_string_value(json_object_get(k, "kty"));
    if (!kty || (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0)) {
        snprintf(buf, cap, "kty %.16s is not supported (RSA and EC are)", kty ? kty : "(none)");
        return buf;
    }
    if (strcmp(kty, "EC") == 0 && !crv_type(json_string_value(json_object_get(k, "crv"))))
        return "EC curve is not supported (P-256 and P-384 are)";
    const json_t *alg = json_object_get(k, "alg");
    if (alg && !(json_is_string(alg) &&
                 gw_jws_alg_find(json_string_value(alg), json_string_length(alg))))
        return "alg is not one of RS256/384/512, PS256/384/512, ES256/384";
    return NULL;
}

int gw_jwks_from_json(const json_t *doc, struct gw_jwks *out, gw_jwks_skip_fn skip, void *skip_ud,
                      struct gw_err *err)
{
    memset(out, 0, sizeof *out);
    const json_t *keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_jwks", "keys",
                          "a JWKS document must be an object with a \"keys\" array");
    size_t n = json_array_size(keys);
    if (n > GW_JWK_MAX_KEYS)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_jwks", "keys",
                          "JWKS document has %zu keys, at most %d are accepted", n,
                          GW_JWK_MAX_KEYS);
    out->keys = gw_calloc(n ? n : 1, sizeof *out->keys);
    if (!out->keys)
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *k = json_array_get(keys, i);
        char prefix[32], buf[96];
        snprintf(prefix, sizeof prefix, "keys[%zu]", i);
        const char *why = json_is_object(k) ? skip_reason(k, buf, sizeof buf) : NULL;
        if (why) {
            const char *kid = json_string_value(json_object_get(k, "kid"));
            if (skip)
                skip(skip_ud, i, kid && strlen(kid) <= GW_JWK_KID_MAX ? kid : "", why);
            continue;
        }
        if (jwk_from_json(k, prefix, &out->keys[out->n], err) < 0) {
            gw_jwks_cleanup(out);
            return -1;
        }
        out->n++;
    }
    return 0;
}

int gw_jwks_parse(const char *doc, size_t len, struct gw_jwks *out, gw_jwks_skip_fn skip,
                  void *skip_ud, struct gw_err *err)
{
    memset(out, 0, sizeof *out);
    if (len > GW_JWKS_DOC_MAX)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_jwks", NULL,
                          "JWKS document over %d bytes", GW_JWKS_DOC_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_jwks", NULL,
                          "JWKS document is not JSON: %s (line %d)", jerr.text, jerr.line);
    int rc = gw_jwks_from_json(root, out, skip, skip_ud, err);
    json_decref(root); /* new reference from json_loadb */
    return rc;
}
