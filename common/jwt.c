/* JWT access token verification (see jwt.h; the order of the checks and
 * their messages are documented in docs/jwt.md, keep both in step).
 *
 * Any thread: the only shared state is the sealed issuer table, read-only.
 * Decoded parts live on the stack (their sizes are bounded), so a rejected
 * token costs no allocation but jansson's. */
#include "jwt.h"

#include "common/alloc.h"
#include "common/b64url.h"
#include "common/json_depth.h"

#include <math.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <string.h>
#include <strings.h>

/* The largest signature: RSA with GW_JWK_RSA_MAX_BITS. */
#define MAX_SIG (GW_JWK_RSA_MAX_BITS / 8)
/* NumericDates above the year 9999 are refused (and int64 math stays safe). */
#define MAX_NUMERIC_DATE 253402300799LL

static const char *const codes[] = {
    [GW_JWT_OK] = "ok",
    [GW_JWT_MALFORMED] = "token_malformed",
    [GW_JWT_UNSUPPORTED_ALG] = "token_alg_unsupported",
    [GW_JWT_UNKNOWN_ISSUER] = "token_issuer_unknown",
    [GW_JWT_UNKNOWN_KEY] = "token_key_unknown",
    [GW_JWT_BAD_SIGNATURE] = "token_signature_invalid",
    [GW_JWT_EXPIRED] = "token_expired",
    [GW_JWT_NOT_YET_VALID] = "token_not_yet_valid",
    [GW_JWT_WRONG_AUDIENCE] = "token_audience_invalid",
    [GW_JWT_UNKNOWN_CLIENT] = "token_client_unknown",
    [GW_JWT_NOMEM] = "nomem",
};

const char *gw_jwt_status_code(enum gw_jwt_status s)
{
    return (unsigned)s < sizeof codes / sizeof codes[0] ? codes[s] : "token_invalid";
}

/* Records the failure in err. The message is a fixed sentence: callers pass
 * no text taken from the token. */
static enum gw_jwt_status fail(struct gw_err *err, enum gw_jwt_status s, const char *msg)
{
    gw_err_set(err, s == GW_JWT_NOMEM ? GW_ERR_NOMEM : GW_ERR_AUTH, gw_jwt_status_code(s), NULL,
               "%s", msg);
    return s;
}

/* ------------------------------------------------------------- parsing --- */

/* The three parts of a compact JWS. */
struct parts {
    const char *header, *payload, *sig;
    size_t header_len, payload_len, sig_len;
};

/* Splits token at its two dots; header and claims non-empty. */
static int split(const char *token, size_t len, struct parts *p)
{
    const char *d1 = memchr(token, '.', len);
    if (!d1)
        return -1;
    const char *rest = d1 + 1, *end = token + len;
    const char *d2 = memchr(rest, '.', (size_t)(end - rest));
    if (!d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
        return -1;
    *p = (struct parts){token, d1 + 1, d2 + 1, (size_t)(d1 - token), (size_t)(d2 - d1 - 1),
                        (size_t)(end - d2 - 1)};
    /* An empty signature is left to the signature check, so that an
     * unsigned "alg": "none" token is named as such. */
    return p->header_len && p->payload_len ? 0 : -1;
}

/* Decodes one base64url JSON part (at most max bytes once decoded) into an
 * object (new reference in *out). what is "header" or "claims". */
static enum gw_jwt_status decode_json(const char *part, size_t len, size_t max, const char *what,
                                      json_t **out, struct gw_err *err)
{
    unsigned char buf[GW_JWT_MAX_PAYLOAD > GW_JWT_MAX_HEADER ? GW_JWT_MAX_PAYLOAD
                                                             : GW_JWT_MAX_HEADER];
    char msg[96];
    *out = NULL;
    if (gw_b64url_decoded_len(len) > max) {
        snprintf(msg, sizeof msg, "malformed token: %s over %zu bytes", what, max);
        return fail(err, GW_JWT_MALFORMED, msg);
    }
    long n = gw_b64url_decode(part, len, buf, sizeof buf);
    if (n < 0) {
        snprintf(msg, sizeof msg, "malformed token: %s is not unpadded base64url", what);
        return fail(err, GW_JWT_MALFORMED, msg);
    }
    if (!gw_json_depth_ok(buf, (size_t)n, GW_JWT_MAX_DEPTH)) {
        snprintf(msg, sizeof msg, "malformed token: %s nested deeper than %d levels", what,
                 GW_JWT_MAX_DEPTH);
        return fail(err, GW_JWT_MALFORMED, msg);
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    /* jansson reports some allocation failures with the code, others with
     * no error text at all (lexer set-up). */
    if (!root && (json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0]))
        return fail(err, GW_JWT_NOMEM, "out of memory");
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(msg, sizeof msg, "malformed token: %s is not a JSON object", what);
        return fail(err, GW_JWT_MALFORMED, msg);
    }
    *out = root;
    return GW_JWT_OK;
}

/* What the JOSE header says. */
struct header {
    const struct gw_jws_alg *alg;
    char kid[GW_JWK_KID_MAX + 1]; /* "" when absent */
};

static enum gw_jwt_status parse_header(const json_t *h, struct header *out, struct gw_err *err)
{
    const json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg))
        return fail(err, GW_JWT_MALFORMED, "malformed token: the header has no alg");
    const char *name = json_string_value(alg);
    size_t len = json_string_length(alg);
    out->alg = gw_jws_alg_find(name, len);
    if (!out->alg) {
        /* "none" and HS*: never verified, whatever key the issuer has (no key
         * material is ever used as an HMAC secret). */
        if ((len == 4 && strncasecmp(name, "none", 4) == 0) || (len >= 2 && !memcmp(name, "HS", 2)))
            return fail(err, GW_JWT_UNSUPPORTED_ALG,
                        "unsupported alg: unsigned (none) and HMAC tokens are refused");
        return fail(err, GW_JWT_UNSUPPORTED_ALG,
                    "unsupported alg: RS256, RS384, RS512, PS256, PS384, PS512, ES256 and "
                    "ES384 are accepted");
    }
    /* RFC 7515 4.1.11: a recipient must refuse extensions it does not know. */
    if (json_object_get(h, "crit"))
        return fail(err, GW_JWT_MALFORMED, "malformed token: crit header parameters are not "
                                           "supported");
    const json_t *kid = json_object_get(h, "kid");
    out->kid[0] = '\0';
    if (kid) {
        size_t klen = json_string_length(kid);
        if (!json_is_string(kid) || klen == 0 || klen > GW_JWK_KID_MAX)
            return fail(err, GW_JWT_MALFORMED,
                        "malformed token: kid is not a string of 1 to 128 characters");
        memcpy(out->kid, json_string_value(kid), klen + 1);
    }
    return GW_JWT_OK;
}

/* A NumericDate claim: -1 malformed, 0 absent, 1 present (*out set). */
static int numeric_date(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(claims, name);
    if (!v)
        return 0;
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = floor(json_real_value(v));
    else
        return -1;
    if (!(d >= 0 && d <= (double)MAX_NUMERIC_DATE))
        return -1;
    *out = (int64_t)d;
    return 1;
}

/* ----------------------------------------------------------- signature --- */

/* JOSE's ES signature is r || s, each coord bytes; EVP wants DER. Writes
 * the DER into der (cap bytes) and returns its length, 0 on failure. */
static size_t ecdsa_der(const unsigned char *sig, size_t coord, unsigned char *der, size_t cap)
{
    size_t len = 0;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)coord, NULL), *s = BN_bin2bn(sig + coord, (int)coord, NULL);
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        int n = i2d_ECDSA_SIG(es, NULL);
        unsigned char *p = der;
        if (n > 0 && (size_t)n <= cap && i2d_ECDSA_SIG(es, &p) == n)
            len = (size_t)n;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return len;
}

/* 1 when key k verifies sig over the signing input tbs with alg a, 0 when
 * not, -1 when out of memory. The key type is checked by the caller
 * (gw_jwk_fits); this sets the padding explicitly all the same, so an RSA
 * key is only ever used as RSA with the alg's padding and hash. */
static int verify_with(const struct gw_jwk *k, const struct gw_jws_alg *a, const char *tbs,
                       size_t tbslen, const unsigned char *sig, size_t siglen)
{
    unsigned char der[2 * 48 + 16];
    if (a->ec_coord) {
        if (siglen != 2 * a->ec_coord)
            return 0;
        siglen = ecdsa_der(sig, a->ec_coord, der, sizeof der);
        if (!siglen)
            return 0;
        sig = der;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    if (!ctx)
        return -1;
    int ok = EVP_DigestVerifyInit_ex(ctx, &pctx, a->digest, NULL, NULL, k->pkey, NULL) == 1;
    if (ok && k->type == GW_JWK_RSA)
        ok = a->pss ? EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                          EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
                          EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, a->digest, NULL) == 1
                    : EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    ok = ok && EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)tbs, tbslen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Finds the issuer's keys for the token and verifies. The header's kid picks
 * the keys with that kid; keys without a kid (PEM keys) are tried when no key
 * has it; without a kid in the token, every key that fits alg is tried. */
static enum gw_jwt_status check_signature(const struct gw_jwt_issuer *is, const struct header *h,
                                          const struct parts *p, struct gw_err *err)
{
    unsigned char sig[MAX_SIG];
    if (gw_b64url_decoded_len(p->sig_len) > sizeof sig)
        return fail(err, GW_JWT_BAD_SIGNATURE, "bad signature: signature too long");
    long siglen = gw_b64url_decode(p->sig, p->sig_len, sig, sizeof sig);
    if (siglen < 0)
        return fail(err, GW_JWT_MALFORMED, "malformed token: signature is not unpadded base64url");
    if (siglen == 0)
        return fail(err, GW_JWT_MALFORMED, "malformed token: the signature is empty");
    size_t tbslen = (size_t)(p->sig - 1 - p->header);
    int by_kid = 0, fitting = 0, wrong_type = 0;
    if (h->kid[0])
        for (size_t i = 0; i < is->nkeys; i++)
            by_kid += strcmp(is->keys[i].kid, h->kid) == 0;
    for (size_t i = 0; i < is->nkeys; i++) {
        const struct gw_jwk *k = &is->keys[i];
        if (by_kid ? strcmp(k->kid, h->kid) != 0 : h->kid[0] && k->kid[0])
            continue;
        if (!gw_jwk_fits(k, h->alg)) {
            wrong_type = 1;
            continue;
        }
        fitting++;
        int v = verify_with(k, h->alg, p->header, tbslen, sig, (size_t)siglen);
        if (v < 0)
            return fail(err, GW_JWT_NOMEM, "out of memory");
        if (v == 1)
            return GW_JWT_OK;
    }
    if (fitting)
        return fail(err, GW_JWT_BAD_SIGNATURE, "bad signature");
    if (by_kid && wrong_type)
        return fail(err, GW_JWT_BAD_SIGNATURE,
                    "bad signature: the key named by kid is not of the type alg needs");
    if (h->kid[0])
        return fail(err, GW_JWT_UNKNOWN_KEY,
                    "bad signature: the issuer has no key with the token's kid");
    return fail(err, GW_JWT_UNKNOWN_KEY, "bad signature: the issuer has no key for this alg");
}

/* -------------------------------------------------------------- claims --- */

static enum gw_jwt_status check_times(const json_t *claims, int64_t now,
                                      struct gw_jwt_claims *out, struct gw_err *err)
{
    if (numeric_date(claims, "exp", &out->exp) != 1)
        return fail(err, GW_JWT_MALFORMED, "malformed token: exp claim missing or not a number");
    int nbf = numeric_date(claims, "nbf", &out->nbf);
    if (nbf < 0)
        return fail(err, GW_JWT_MALFORMED, "malformed token: nbf claim is not a number");
    if (now >= out->exp + GW_JWT_LEEWAY_SEC)
        return fail(err, GW_JWT_EXPIRED, "token expired (exp is past, with 60 s leeway)");
    if (nbf == 1 && now < out->nbf - GW_JWT_LEEWAY_SEC)
        return fail(err, GW_JWT_NOT_YET_VALID,
                    "token not yet valid (nbf is in the future, with 60 s leeway)");
    return GW_JWT_OK;
}

/* 1 when the string aud is one of the issuer's audiences. */
static int audience_listed(const struct gw_jwt_issuer *is, const json_t *aud)
{
    for (size_t i = 0; i < is->naudiences; i++)
        if (strlen(is->audiences[i]) == json_string_length(aud) &&
            memcmp(is->audiences[i], json_string_value(aud), json_string_length(aud)) == 0)
            return 1;
    return 0;
}

static enum gw_jwt_status check_audience(const struct gw_jwt_issuer *is, const json_t *claims,
                                         struct gw_err *err)
{
    const json_t *aud = json_object_get(claims, "aud");
    int found = 0;
    if (json_is_string(aud)) {
        found = audience_listed(is, aud);
    } else if (json_is_array(aud)) {
        if (json_array_size(aud) > GW_JWT_MAX_AUD)
            return fail(err, GW_JWT_MALFORMED, "malformed token: aud array too long");
        size_t i;
        const json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (!json_is_string(v))
                return fail(err, GW_JWT_MALFORMED,
                            "malformed token: aud is not a string or an array of strings");
            found = found || audience_listed(is, v);
        }
    } else if (aud) {
        return fail(err, GW_JWT_MALFORMED,
                    "malformed token: aud is not a string or an array of strings");
    }
    if (is->naudiences == 0 || found)
        return GW_JWT_OK;
    if (!aud)
        return fail(err, GW_JWT_WRONG_AUDIENCE, "wrong audience: the token has no aud claim");
    return fail(err, GW_JWT_WRONG_AUDIENCE,
                "wrong audience: aud names none of the issuer's audiences");
}

static enum gw_jwt_status check_client(const struct gw_jwt_issuer *is, const json_t *claims,
                                       struct gw_jwt_claims *out, struct gw_err *err)
{
    const json_t *v;
    if (is->client_claim[0])
        v = json_object_get(claims, is->client_claim);
    else if (!(v = json_object_get(claims, "azp")))
        v = json_object_get(claims, "client_id");
    if (!v) {
        char msg[128];
        if (is->client_claim[0])
            snprintf(msg, sizeof msg, "unknown client: the token has no %s claim",
                     is->client_claim);
        else
            snprintf(msg, sizeof msg, "unknown client: the token has no azp or client_id claim");
        return fail(err, GW_JWT_UNKNOWN_CLIENT, msg);
    }
    if (!json_is_string(v))
        return fail(err, GW_JWT_MALFORMED, "malformed token: the client claim is not a string");
    size_t len = json_string_length(v);
    const struct gw_jwt_client *c =
        len <= GW_JWT_CLIENT_ID_MAX ? gw_jwt_issuer_find_client(is, json_string_value(v), len)
                                    : NULL;
    if (!c)
        return fail(err, GW_JWT_UNKNOWN_CLIENT,
                    "unknown client: no application has this OAuth client");
    memcpy(out->client_id, c->id, c->len + 1);
    out->client = c->client;
    return GW_JWT_OK;
}

/* -------------------------------------------------------------- verify --- */

/* The checks after the header: issuer, signature, times, audience, client,
 * scope, in the order of docs/jwt.md. */
static enum gw_jwt_status check_claims(const struct gw_jwt_issuers *t, const struct header *h,
                                       const struct parts *p, const json_t *claims, int64_t now,
                                       struct gw_jwt_claims *out, struct gw_err *err)
{
    const json_t *iss = json_object_get(claims, "iss");
    if (!json_is_string(iss))
        return fail(err, GW_JWT_MALFORMED, "malformed token: iss claim missing or not a string");
    const struct gw_jwt_issuer *is =
        gw_jwt_issuers_find(t, json_string_value(iss), json_string_length(iss));
    if (!is)
        return fail(err, GW_JWT_UNKNOWN_ISSUER, "unknown issuer: iss names no configured issuer");
    enum gw_jwt_status s;
    if ((s = check_signature(is, h, p, err)) != GW_JWT_OK ||
        (s = check_times(claims, now, out, err)) != GW_JWT_OK ||
        (s = check_audience(is, claims, err)) != GW_JWT_OK ||
        (s = check_client(is, claims, out, err)) != GW_JWT_OK)
        return s;
    const json_t *scope = json_object_get(claims, "scope");
    if (scope && !json_is_string(scope))
        return fail(err, GW_JWT_MALFORMED, "malformed token: scope claim is not a string");
    out->scope = gw_strdup(scope ? json_string_value(scope) : "");
    if (!out->scope)
        return fail(err, GW_JWT_NOMEM, "out of memory");
    out->issuer = is;
    out->alg = h->alg;
    return GW_JWT_OK;
}

enum gw_jwt_status gw_jwt_verify(const struct gw_jwt_issuers *t, const char *token, size_t len,
                                 int64_t now, struct gw_jwt_claims *out, struct gw_err *err)
{
    struct parts p;
    struct header h;
    json_t *hdr = NULL, *claims = NULL;
    enum gw_jwt_status s;
    memset(out, 0, sizeof *out);
    if (len > GW_JWT_MAX_TOKEN)
        return fail(err, GW_JWT_MALFORMED, "malformed token: over 16384 bytes");
    if (split(token, len, &p) < 0)
        return fail(err, GW_JWT_MALFORMED,
                    "malformed token: not three base64url parts separated by dots");
    if ((s = decode_json(p.header, p.header_len, GW_JWT_MAX_HEADER, "header", &hdr, err)) !=
            GW_JWT_OK ||
        (s = parse_header(hdr, &h, err)) != GW_JWT_OK ||
        (s = decode_json(p.payload, p.payload_len, GW_JWT_MAX_PAYLOAD, "claims", &claims, err)) !=
            GW_JWT_OK ||
        (s = check_claims(t, &h, &p, claims, now, out, err)) != GW_JWT_OK)
        gw_jwt_claims_cleanup(out);
    json_decref(hdr);    /* new references from json_loadb, or NULL */
    json_decref(claims);
    return s;
}

/* ------------------------------------------------------------- helpers --- */

/* 1 when the space-separated list holds want (len bytes) as a whole item. */
static int scope_listed(const char *scope, const char *want, size_t len)
{
    const char *p = scope;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        if ((size_t)(end - p) == len && len && memcmp(p, want, len) == 0)
            return 1;
        p = end;
    }
    return 0;
}

int gw_jwt_scopes_hold(const char *scope, const char *const *required, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!scope || !scope_listed(scope, required[i], strlen(required[i])))
            return 0;
    return 1;
}

int gw_jwt_claims_copy(struct gw_jwt_claims *dst, const struct gw_jwt_claims *src)
{
    *dst = *src;
    dst->scope = gw_strdup(src->scope ? src->scope : "");
    if (!dst->scope) {
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    return 0;
}

void gw_jwt_claims_cleanup(struct gw_jwt_claims *c)
{
    if (!c)
        return;
    gw_free(c->scope);
    memset(c, 0, sizeof *c);
}
