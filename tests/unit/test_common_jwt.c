/* Unit tests of common/jwt.c and common/jwt_issuer.c: every accepted alg,
 * and hostile tokens (bad base64url, huge and nested parts, alg none, HS256
 * signed with the issuer's public key as the secret, wrong key types, the
 * kid of another key, ES signatures of the wrong length, times, audiences,
 * missing claims, key rotation). Keys and tokens are made here with OpenSSL
 * (jwt_fixture.h). */
#include "testhelp.h"

#include "common/alloc.h"
#include "common/jwt.h"
#include "jwt_fixture.h"

#include <pthread.h>

#define ISS FX_ISS
#define NOW 1780000000LL

static const int *const app_a = &fx_app_a, *const app_b = &fx_app_b;

static struct gw_jwt_issuers *table_with(const char *const *audiences, const char *claim)
{
    return fx_table(audiences, claim);
}

static struct gw_jwt_issuers *table(void)
{
    return fx_table(NULL, NULL);
}

/* Claims for ISS and client-a, valid at NOW, with extra members. */
static char *claims(const char *extra)
{
    static char buf[16384];
    return fx_claims(buf, sizeof buf, NOW, 300, extra);
}

/* 1 when no 10-character stretch of token shows up in msg. */
static int token_absent(const char *msg, const char *token)
{
    size_t tl = strlen(token), ml = strlen(msg);
    for (size_t i = 0; i + 10 <= tl; i++)
        for (size_t j = 0; j + 10 <= ml; j++)
            if (memcmp(token + i, msg + j, 10) == 0)
                return 0;
    return 1;
}

/* Verifies token at now against t; checks that a failure's message names
 * no part of the token and that claims are empty on failure. */
static enum gw_jwt_status verify_at(struct gw_jwt_issuers *t, const char *token, int64_t now,
                                    struct gw_err *err)
{
    struct gw_jwt_claims c;
    gw_err_clear(err);
    enum gw_jwt_status s = gw_jwt_verify(t, token, strlen(token), now, &c, err);
    if (s != GW_JWT_OK) {
        CHECK(c.scope == NULL && c.issuer == NULL && c.client == NULL);
        CHECK_INT(err->kind, s == GW_JWT_NOMEM ? GW_ERR_NOMEM : GW_ERR_AUTH);
        CHECK_STR(err->code, gw_jwt_status_code(s));
        CHECK(err->message[0] != '\0');
        CHECK(token_absent(err->message, token));
    }
    gw_jwt_claims_cleanup(&c);
    return s;
}

static enum gw_jwt_status verify(struct gw_jwt_issuers *t, const char *token, struct gw_err *err)
{
    return verify_at(t, token, NOW, err);
}

/* Signs claims with key under alg and kid, verifies at NOW, frees. */
static enum gw_jwt_status check(struct gw_jwt_issuers *t, EVP_PKEY *key, const char *alg,
                                const char *kid, const char *cl, struct gw_err *err)
{
    char *token = fx_token(key, alg, kid, cl);
    enum gw_jwt_status s = verify(t, token, err);
    free(token);
    return s;
}

static int has(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

/* ------------------------------------------------------------- accepted --- */

TEST("every accepted alg verifies, and the claims come back")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct {
        EVP_PKEY *key;
        const char *alg, *kid;
    } cases[] = {{fk->rsa, "RS256", "rsa-1"},    {fk->rsa, "RS384", "rsa-1"},
                 {fk->rsa, "RS512", "rsa-1"},    {fk->rsa, "PS256", "rsa-1"},
                 {fk->rsa, "PS384", "rsa-1"},    {fk->rsa, "PS512", "rsa-1"},
                 {fk->ec256, "ES256", "ec-256"}, {fk->ec384, "ES384", "ec-384"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *token = fx_token(cases[i].key, cases[i].alg, cases[i].kid, claims(""));
        struct gw_jwt_claims c;
        struct gw_err err;
        enum gw_jwt_status s = gw_jwt_verify(t, token, strlen(token), NOW, &c, &err);
        if (s != GW_JWT_OK)
            fprintf(stderr, "  %s: %s\n", cases[i].alg, err.message);
        CHECK_INT(s, GW_JWT_OK);
        CHECK(c.client == app_a);
        CHECK_STR(c.client_id, "client-a");
        CHECK_STR(c.scope, "chat default");
        CHECK_INT(c.exp, NOW + 300);
        CHECK_INT(c.nbf, 0);
        CHECK(c.alg && strcmp(c.alg->name, cases[i].alg) == 0);
        CHECK(c.issuer == gw_jwt_issuers_find(t, ISS, strlen(ISS)));
        gw_jwt_claims_cleanup(&c);
        /* Without a kid, the keys that fit the alg are tried. */
        free(token);
        token = fx_token(cases[i].key, cases[i].alg, NULL, claims(""));
        struct gw_err err2;
        CHECK_INT(verify(t, token, &err2), GW_JWT_OK);
        free(token);
    }
    gw_jwt_issuers_free(t);
}

TEST("PEM keys (no kid) verify tokens with and without a kid")
{
    struct fx_keys *fk = fx_keys();
    struct gw_err err;
    struct gw_jwt_issuer *is = gw_jwt_issuer_new(ISS, NULL, &err);
    char *pem = fx_pem(fk->rsa, 1);
    json_t *keys = json_pack("[s]", pem);
    CHECK_INT(gw_jwt_issuer_add_keys_json(is, keys, &err), 0);
    json_decref(keys);
    CHECK_INT(gw_jwt_issuer_add_client(is, "client-a", app_a, &err), 0);
    struct gw_jwt_issuers *t = gw_jwt_issuers_new();
    CHECK_INT(gw_jwt_issuers_add(t, is, &err), 0);
    CHECK_INT(check(t, fk->rsa, "RS256", NULL, claims(""), &err), GW_JWT_OK);
    CHECK_INT(check(t, fk->rsa, "PS256", "whatever-kid", claims(""), &err), GW_JWT_OK);
    CHECK_INT(check(t, fk->rsa2, "RS256", NULL, claims(""), &err), GW_JWT_BAD_SIGNATURE);
    CHECK_INT(check(t, fk->ec256, "ES256", NULL, claims(""), &err), GW_JWT_UNKNOWN_KEY);
    CHECK(has(err.message, "no key for this alg"));
    gw_jwt_issuers_free(t);
    free(pem);
}

/* ------------------------------------------------------------ algs, keys --- */

TEST("alg none and unknown algs are refused")
{
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    char *h = fx_b64s("{\"alg\":\"none\",\"typ\":\"JWT\"}"), *c = fx_b64s(claims(""));
    char *token = fx_join(h, c, "");
    CHECK_INT(verify(t, token, &err), GW_JWT_UNSUPPORTED_ALG);
    CHECK(has(err.message, "none"));
    free(token);
    token = fx_join(h, c, "c2ln");
    CHECK_INT(verify(t, token, &err), GW_JWT_UNSUPPORTED_ALG);
    free(token);
    free(h);
    const char *algs[] = {"None", "NONE", "ES512", "EdDSA", "rs256", "RS256 ", "", "PS"};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char hdr[64];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\"}", algs[i]);
        h = fx_b64s(hdr);
        token = fx_join(h, c, "c2ln");
        CHECK_INT(verify(t, token, &err), GW_JWT_UNSUPPORTED_ALG);
        free(token);
        free(h);
    }
    h = fx_b64s("{\"typ\":\"JWT\"}");
    token = fx_join(h, c, "c2ln");
    CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
    CHECK(has(err.message, "no alg"));
    free(token);
    free(h);
    h = fx_b64s("{\"alg\":256}");
    token = fx_join(h, c, "c2ln");
    CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
    free(token);
    free(h);
    free(c);
    gw_jwt_issuers_free(t);
}

TEST("HS256 signed with the issuer's public key (PEM or JWK text) as the secret is refused")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    char *pem = fx_pem(fk->rsa, 0), *pkcs1 = fx_pem(fk->rsa, 1);
    json_t *jwk = fx_jwk(fk->rsa, "rsa-1", NULL);
    char *jwktext = json_dumps(jwk, 0);
    const char *secrets[] = {pem, pkcs1, jwktext};
    const char *algs[] = {"HS256", "HS384", "HS512"};
    for (size_t i = 0; i < 3; i++)
        for (size_t a = 0; a < 3; a++) {
            char hdr[96];
            snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"rsa-1\"}", algs[a]);
            char *token = fx_token_raw(NULL, algs[a], hdr, claims(""), secrets[i]);
            CHECK_INT(verify(t, token, &err), GW_JWT_UNSUPPORTED_ALG);
            CHECK(has(err.message, "HMAC"));
            free(token);
        }
    /* The same with the issuer configured from that very PEM. */
    struct gw_jwt_issuer *is = gw_jwt_issuer_new(ISS, NULL, &err);
    json_t *keys = json_pack("[s]", pem);
    CHECK_INT(gw_jwt_issuer_add_keys_json(is, keys, &err), 0);
    CHECK_INT(gw_jwt_issuer_add_client(is, "client-a", app_a, &err), 0);
    struct gw_jwt_issuers *t2 = gw_jwt_issuers_new();
    CHECK_INT(gw_jwt_issuers_add(t2, is, &err), 0);
    char *token = fx_token_raw(NULL, "HS256", "{\"alg\":\"HS256\"}", claims(""), pem);
    CHECK_INT(verify(t2, token, &err), GW_JWT_UNSUPPORTED_ALG);
    free(token);
    json_decref(keys);
    json_decref(jwk);
    free(jwktext);
    free(pem);
    free(pkcs1);
    gw_jwt_issuers_free(t);
    gw_jwt_issuers_free(t2);
}

TEST("a key of the wrong type for the alg never verifies")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    /* kid of the EC key, alg RS256 (signed with the RSA key). */
    CHECK_INT(check(t, fk->rsa, "RS256", "ec-256", claims(""), &err), GW_JWT_BAD_SIGNATURE);
    CHECK(has(err.message, "not of the type"));
    /* kid of the RSA key, alg ES256 (signed with the EC key). */
    CHECK_INT(check(t, fk->ec256, "ES256", "rsa-1", claims(""), &err), GW_JWT_BAD_SIGNATURE);
    /* ES384 under the P-256 key's kid. */
    CHECK_INT(check(t, fk->ec384, "ES384", "ec-256", claims(""), &err), GW_JWT_BAD_SIGNATURE);
    /* A PS signature presented as RS and the other way round. */
    char *token = fx_token(fk->rsa, "PS256", "rsa-1", claims(""));
    char *dot = strchr(token, '.');
    char *h = fx_b64s("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}");
    char *swapped = fx_join(h, dot + 1, NULL);
    CHECK_INT(verify(t, swapped, &err), GW_JWT_BAD_SIGNATURE);
    free(swapped);
    free(h);
    free(token);
    gw_jwt_issuers_free(t);
}

TEST("a JWK's own alg restricts it")
{
    struct fx_keys *fk = fx_keys();
    struct gw_err err;
    struct gw_jwt_issuer *is = gw_jwt_issuer_new(ISS, NULL, &err);
    json_t *keys = json_pack("[o]", fx_jwk(fk->rsa, "rsa-1", "PS256"));
    CHECK_INT(gw_jwt_issuer_add_keys_json(is, keys, &err), 0);
    json_decref(keys);
    CHECK_INT(gw_jwt_issuer_add_client(is, "client-a", app_a, &err), 0);
    struct gw_jwt_issuers *t = gw_jwt_issuers_new();
    CHECK_INT(gw_jwt_issuers_add(t, is, &err), 0);
    CHECK_INT(check(t, fk->rsa, "PS256", "rsa-1", claims(""), &err), GW_JWT_OK);
    CHECK_INT(check(t, fk->rsa, "RS256", "rsa-1", claims(""), &err), GW_JWT_BAD_SIGNATURE);
    gw_jwt_issuers_free(t);
}

TEST("the kid of another key, a tampered token and an unknown kid fail")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    CHECK_INT(check(t, fk->rsa2, "RS256", "rsa-1", claims(""), &err), GW_JWT_BAD_SIGNATURE);
    CHECK_STR(err.message, "bad signature");
    CHECK_INT(check(t, fk->rsa2, "RS256", NULL, claims(""), &err), GW_JWT_BAD_SIGNATURE);
    CHECK_INT(check(t, fk->rsa, "RS256", "rsa-9", claims(""), &err), GW_JWT_UNKNOWN_KEY);
    CHECK(has(err.message, "kid"));

    char *token = fx_token(fk->rsa, "RS256", "rsa-1", claims(""));
    char *c2 = fx_b64s(claims(",\"admin\":true"));
    char *dot1 = strchr(token, '.'), *dot2 = strrchr(token, '.');
    *dot1 = '\0';
    char *forged = fx_join(token, c2, dot2 + 1);
    CHECK_INT(verify(t, forged, &err), GW_JWT_BAD_SIGNATURE);
    free(forged);
    free(c2);
    free(token);
    gw_jwt_issuers_free(t);
}

/* token with its signature bytes replaced by len bytes of sig. */
static char *with_sig(const char *token, const unsigned char *sig, size_t len)
{
    char *copy = strdup(token);
    *strrchr(copy, '.') = '\0';
    char *s = fx_b64(sig, len);
    char *dot = strchr(copy, '.');
    *dot = '\0';
    char *out = fx_join(copy, dot + 1, s);
    free(s);
    free(copy);
    return out;
}

TEST("ES signatures of the wrong length or in DER form are refused")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    char *token = fx_token(fk->ec256, "ES256", "ec-256", claims(""));
    const char *s64 = strrchr(token, '.') + 1;
    unsigned char sig[200];
    long n = gw_b64url_decode(s64, strlen(s64), sig, sizeof sig);
    CHECK_INT(n, 64);
    size_t lens[] = {63, 65, 96, 1, 0};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        unsigned char buf[200];
        memset(buf, 0, sizeof buf);
        memcpy(buf, sig, lens[i] < 64 ? lens[i] : 64);
        char *bad = with_sig(token, buf, lens[i]);
        enum gw_jwt_status s = verify(t, bad, &err);
        CHECK(s == (lens[i] ? GW_JWT_BAD_SIGNATURE : GW_JWT_MALFORMED));
        free(bad);
    }
    /* r and s swapped; s = 0; the DER form EVP would take directly. */
    unsigned char sw[64];
    memcpy(sw, sig + 32, 32);
    memcpy(sw + 32, sig, 32);
    char *bad = with_sig(token, sw, 64);
    CHECK_INT(verify(t, bad, &err), GW_JWT_BAD_SIGNATURE);
    free(bad);
    memset(sw + 32, 0, 32);
    memcpy(sw, sig, 32);
    bad = with_sig(token, sw, 64);
    CHECK_INT(verify(t, bad, &err), GW_JWT_BAD_SIGNATURE);
    free(bad);
    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
    unsigned char *der = NULL;
    int dlen = i2d_ECDSA_SIG(es, &der);
    bad = with_sig(token, der, (size_t)dlen);
    CHECK_INT(verify(t, bad, &err), GW_JWT_BAD_SIGNATURE);
    free(bad);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    /* Sanity: the untouched token passes. */
    CHECK_INT(verify(t, token, &err), GW_JWT_OK);
    free(token);
    gw_jwt_issuers_free(t);
}

TEST("key rotation: a kid that left the JWKS stops verifying, the new one works")
{
    struct fx_keys *fk = fx_keys();
    struct gw_err err;
    const char *jwks1 = NULL, *jwks2 = NULL;
    json_t *d1 = json_pack("{s:[o,o]}", "keys", fx_jwk(fk->rsa, "rsa-1", "RS256"),
                           fx_jwk(fk->rsa2, "rsa-2", "RS256"));
    json_t *d2 = json_pack("{s:[o]}", "keys", fx_jwk(fk->rsa2, "rsa-2", "RS256"));
    char *t1 = json_dumps(d1, 0), *t2 = json_dumps(d2, 0);
    jwks1 = t1;
    jwks2 = t2;
    struct gw_jwt_issuers *tables[2];
    for (int i = 0; i < 2; i++) {
        const char *doc = i ? jwks2 : jwks1;
        json_t *j = json_loads(doc, 0, NULL);
        struct gw_jwt_issuer *is = gw_jwt_issuer_new(ISS, NULL, &err);
        CHECK_INT(gw_jwt_issuer_add_keys_json(is, j, &err), 0); /* a JWKS object */
        CHECK_INT(gw_jwt_issuer_add_client(is, "client-a", app_a, &err), 0);
        tables[i] = gw_jwt_issuers_new();
        CHECK_INT(gw_jwt_issuers_add(tables[i], is, &err), 0);
        json_decref(j);
    }
    CHECK(gw_jwt_issuers_generation(tables[0]) != gw_jwt_issuers_generation(tables[1]));
    char *old = fx_token(fk->rsa, "RS256", "rsa-1", claims(""));
    char *new = fx_token(fk->rsa2, "RS256", "rsa-2", claims(""));
    CHECK_INT(verify(tables[0], old, &err), GW_JWT_OK);
    CHECK_INT(verify(tables[0], new, &err), GW_JWT_OK);
    CHECK_INT(verify(tables[1], old, &err), GW_JWT_UNKNOWN_KEY);
    CHECK(has(err.message, "bad signature"));
    CHECK_INT(verify(tables[1], new, &err), GW_JWT_OK);
    free(old);
    free(new);
    free(t1);
    free(t2);
    json_decref(d1);
    json_decref(d2);
    gw_jwt_issuers_free(tables[0]);
    gw_jwt_issuers_free(tables[1]);
}

/* ---------------------------------------------------------------- shape --- */

TEST("tokens that are not three canonical base64url parts are malformed")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    char *good = fx_token(fk->ec256, "ES256", "ec-256", claims(""));
    const char *shapes[] = {"", ".", "..", "...", "a", "a.b", "a.b.c.d", ".b.c", "a..c"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        CHECK_INT(verify(t, shapes[i], &err), GW_JWT_MALFORMED);
    /* One character changed into something outside base64url, in each part. */
    size_t len = strlen(good);
    const char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    size_t at[] = {2, (size_t)(dot1 - good) + 3, (size_t)(dot2 - good) + 3};
    const char bad[] = {'+', '/', '=', ' ', '\n', '%'};
    for (size_t p = 0; p < 3; p++)
        for (size_t b = 0; b < sizeof bad; b++) {
            char *copy = strdup(good);
            copy[at[p]] = bad[b];
            CHECK_INT(verify(t, copy, &err), GW_JWT_MALFORMED);
            free(copy);
        }
    /* Padding appended to the signature; a trailing dot; a NUL inside. */
    char *padded = malloc(len + 3);
    snprintf(padded, len + 3, "%s==", good);
    CHECK_INT(verify(t, padded, &err), GW_JWT_MALFORMED);
    snprintf(padded, len + 3, "%s.", good);
    CHECK_INT(verify(t, padded, &err), GW_JWT_MALFORMED);
    free(padded);
    struct gw_jwt_claims c;
    char *nul = strdup(good);
    nul[5] = '\0';
    CHECK_INT(gw_jwt_verify(t, nul, len, NOW, &c, &err), GW_JWT_MALFORMED);
    free(nul);
    CHECK_INT(verify(t, good, &err), GW_JWT_OK);
    free(good);
    gw_jwt_issuers_free(t);
}

TEST("parts that are not JSON objects, or repeat a member, are malformed")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    const char *headers[] = {"not json", "[\"alg\",\"ES256\"]", "\"ES256\"",
                             "{\"alg\":\"ES256\",\"alg\":\"ES256\"}", "{\"alg\":\"ES256\"",
                             "{\"alg\":\"ES256\",\"kid\":\"a\\u0000b\"}"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *token = fx_token_raw(fk->ec256, "ES256", headers[i], claims(""), NULL);
        CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
        free(token);
    }
    const char *bodies[] = {"null", "[]", "{\"iss\":\"" ISS "\",\"iss\":\"x\"}", "{"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char *token = fx_token(fk->ec256, "ES256", "ec-256", bodies[i]);
        CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
        CHECK(has(err.message, "claims"));
        free(token);
    }
    /* crit: extensions we do not know must be refused (RFC 7515). */
    char *token = fx_token_raw(fk->ec256, "ES256",
                               "{\"alg\":\"ES256\",\"kid\":\"ec-256\",\"crit\":[\"exp\"],\"exp\":1}",
                               claims(""), NULL);
    CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
    CHECK(has(err.message, "crit"));
    free(token);
    token = fx_token_raw(fk->ec256, "ES256", "{\"alg\":\"ES256\",\"kid\":5}", claims(""), NULL);
    CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
    free(token);
    gw_jwt_issuers_free(t);
}

TEST("huge tokens, headers and claims are refused before any crypto")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    char *pad = malloc(GW_JWT_MAX_TOKEN + 1);
    memset(pad, 'a', GW_JWT_MAX_TOKEN);
    pad[GW_JWT_MAX_TOKEN] = '\0';

    char hdr[GW_JWT_MAX_HEADER + 64];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"ec-256\",\"x\":\"%.*s\"}",
             GW_JWT_MAX_HEADER - 40, pad);
    char *token = fx_token_raw(fk->ec256, "ES256", hdr, claims(""), NULL);
    CHECK_INT(verify(t, token, &err), GW_JWT_OK); /* just under the bound */
    free(token);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"ec-256\",\"x\":\"%.*s\"}",
             GW_JWT_MAX_HEADER - 30, pad);
    token = fx_token_raw(fk->ec256, "ES256", hdr, claims(""), NULL);
    CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
    CHECK(has(err.message, "header over 2048 bytes"));
    free(token);

    char extra[GW_JWT_MAX_PAYLOAD + 32];
    snprintf(extra, sizeof extra, ",\"x\":\"%.*s\"", GW_JWT_MAX_PAYLOAD, pad);
    token = fx_token(fk->ec256, "ES256", "ec-256", claims(extra));
    CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
    CHECK(has(err.message, "claims over 8192 bytes"));
    free(token);

    char *huge = malloc(GW_JWT_MAX_TOKEN + 16);
    snprintf(huge, GW_JWT_MAX_TOKEN + 16, "a.b.%s", pad);
    CHECK_INT(verify(t, huge, &err), GW_JWT_MALFORMED);
    CHECK(has(err.message, "over 16384 bytes"));
    free(huge);
    free(pad);
    gw_jwt_issuers_free(t);
}

TEST("JSON nested deeper than the bound is refused; brackets in strings do not count")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    char extra[256];
    /* The claims object is level 1: 7 more levels is the bound (8). */
    snprintf(extra, sizeof extra, ",\"n\":[[[[[[[1]]]]]]],\"s\":\"[[[[[[[[[[{{{{{\\\"[[[\"");
    char *token = fx_token(fk->ec256, "ES256", "ec-256", claims(extra));
    CHECK_INT(verify(t, token, &err), GW_JWT_OK);
    free(token);
    snprintf(extra, sizeof extra, ",\"n\":[[[[[[[[1]]]]]]]]");
    token = fx_token(fk->ec256, "ES256", "ec-256", claims(extra));
    CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
    CHECK(has(err.message, "nested deeper than 8"));
    free(token);
    /* Thousands of levels: refused by the scan, jansson never recurses. */
    char deep[GW_JWT_MAX_PAYLOAD];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, ",\"n\":");
    while (n < 3000)
        deep[n++] = '{';
    deep[n] = '\0';
    token = fx_token(fk->ec256, "ES256", "ec-256", claims(deep));
    CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
    free(token);
    token = fx_token_raw(fk->ec256, "ES256",
                         "{\"alg\":\"ES256\",\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}",
                         claims(""), NULL);
    CHECK_INT(verify(t, token, &err), GW_JWT_MALFORMED);
    CHECK(has(err.message, "header nested"));
    free(token);
    gw_jwt_issuers_free(t);
}

/* --------------------------------------------------------------- claims --- */

TEST("exp and nbf with 60 s leeway")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    char cl[512];
#define AT(exp_nbf, now, want)                                                          \
    do {                                                                                \
        snprintf(cl, sizeof cl,                                                         \
                 "{\"iss\":\"" ISS "\",\"azp\":\"client-a\",%s}", exp_nbf);              \
        char *tok = fx_token(fk->ec256, "ES256", "ec-256", cl);                         \
        CHECK_INT(verify_at(t, tok, now, &err), want);                                  \
        free(tok);                                                                      \
    } while (0)
    AT("\"exp\":1000", 939, GW_JWT_OK);
    AT("\"exp\":1000", 1059, GW_JWT_OK);
    AT("\"exp\":1000", 1060, GW_JWT_EXPIRED);
    CHECK(has(err.message, "expired"));
    AT("\"exp\":1000", 99999, GW_JWT_EXPIRED);
    AT("\"exp\":1000.9", 1059, GW_JWT_OK);
    AT("\"exp\":5000,\"nbf\":1000", 940, GW_JWT_OK);
    AT("\"exp\":5000,\"nbf\":1000", 939, GW_JWT_NOT_YET_VALID);
    CHECK(has(err.message, "not yet valid"));
    AT("\"exp\":5000,\"nbf\":1000.5", 940, GW_JWT_OK);
    /* Missing or ill-typed times. */
    AT("\"sub\":\"x\"", 0, GW_JWT_MALFORMED);
    CHECK(has(err.message, "exp"));
    AT("\"exp\":\"5000\"", 0, GW_JWT_MALFORMED);
    AT("\"exp\":-5", 0, GW_JWT_MALFORMED);
    AT("\"exp\":1e300", 0, GW_JWT_MALFORMED);
    AT("\"exp\":null", 0, GW_JWT_MALFORMED);
    AT("\"exp\":5000,\"nbf\":\"1\"", 0, GW_JWT_MALFORMED);
    AT("\"exp\":5000,\"nbf\":true", 0, GW_JWT_MALFORMED);
#undef AT
    gw_jwt_issuers_free(t);
}

TEST("aud: string or array must hold one of the issuer's audiences")
{
    struct fx_keys *fk = fx_keys();
    const char *auds[] = {"api-a", "https://api.example.com", NULL};
    struct gw_jwt_issuers *t = table_with(auds, NULL), *open = table();
    struct gw_err err;
    struct {
        const char *extra;
        enum gw_jwt_status want, want_open;
    } cases[] = {
        {",\"aud\":\"api-a\"", GW_JWT_OK, GW_JWT_OK},
        {",\"aud\":[\"other\",\"https://api.example.com\"]", GW_JWT_OK, GW_JWT_OK},
        {",\"aud\":\"api-b\"", GW_JWT_WRONG_AUDIENCE, GW_JWT_OK},
        {",\"aud\":\"api-a \"", GW_JWT_WRONG_AUDIENCE, GW_JWT_OK},
        {",\"aud\":\"API-A\"", GW_JWT_WRONG_AUDIENCE, GW_JWT_OK},
        {",\"aud\":[]", GW_JWT_WRONG_AUDIENCE, GW_JWT_OK},
        {"", GW_JWT_WRONG_AUDIENCE, GW_JWT_OK},
        {",\"aud\":[\"api-a\",1]", GW_JWT_MALFORMED, GW_JWT_MALFORMED},
        {",\"aud\":{\"x\":\"api-a\"}", GW_JWT_MALFORMED, GW_JWT_MALFORMED},
        {",\"aud\":7", GW_JWT_MALFORMED, GW_JWT_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", claims(cases[i].extra), &err),
                  cases[i].want);
        if (cases[i].want == GW_JWT_WRONG_AUDIENCE)
            CHECK(has(err.message, "wrong audience"));
        CHECK_INT(check(open, fk->ec256, "ES256", "ec-256", claims(cases[i].extra), &err),
                  cases[i].want_open);
    }
    char many[2048] = ",\"aud\":[";
    for (int i = 0; i <= GW_JWT_MAX_AUD; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"x%d\"", i ? "," : "", i);
    snprintf(many + strlen(many), sizeof many - strlen(many), "]");
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", claims(many), &err), GW_JWT_MALFORMED);
    gw_jwt_issuers_free(t);
    gw_jwt_issuers_free(open);
}

/* Claims for ISS valid at NOW with exactly the given client members. */
static char *client_claims(const char *members)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "{\"iss\":\"" ISS "\",\"exp\":%lld%s}", NOW + 300, members);
    return buf;
}

TEST("client claim: azp, then client_id, or the configured claim")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table(), *cid = table_with(NULL, "cid");
    struct gw_err err;
    struct gw_jwt_claims c;
    char *token = fx_token(fk->ec256, "ES256", "ec-256",
                           client_claims(",\"client_id\":\"client-b\""));
    CHECK_INT(gw_jwt_verify(t, token, strlen(token), NOW, &c, &err), GW_JWT_OK);
    CHECK(c.client == app_b);
    CHECK_STR(c.scope, "");
    gw_jwt_claims_cleanup(&c);
    free(token);
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256",
                    client_claims(",\"azp\":\"client-a\",\"client_id\":\"client-b\""), &err),
              GW_JWT_OK);
    /* azp wins even when it names no client and client_id would. */
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256",
                    client_claims(",\"azp\":\"client-z\",\"client_id\":\"client-b\""), &err),
              GW_JWT_UNKNOWN_CLIENT);
    CHECK(has(err.message, "unknown client"));
    CHECK(!has(err.message, "client-z"));
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", client_claims(""), &err),
              GW_JWT_UNKNOWN_CLIENT);
    CHECK(has(err.message, "no azp or client_id"));
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", client_claims(",\"azp\":7"), &err),
              GW_JWT_MALFORMED);
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", client_claims(",\"azp\":\"\""), &err),
              GW_JWT_UNKNOWN_CLIENT);
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", client_claims(",\"azp\":\"client-\""), &err),
              GW_JWT_UNKNOWN_CLIENT);
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", client_claims(",\"azp\":\"client-aa\""),
                    &err),
              GW_JWT_UNKNOWN_CLIENT);
    char longid[600] = ",\"azp\":\"";
    memset(longid + 8, 'c', 400);
    memcpy(longid + 408, "\"", 2);
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", client_claims(longid), &err),
              GW_JWT_UNKNOWN_CLIENT);
    /* Configured claim: only it counts. */
    CHECK_INT(check(cid, fk->ec256, "ES256", "ec-256", client_claims(",\"cid\":\"client-b\""),
                    &err),
              GW_JWT_OK);
    CHECK_INT(check(cid, fk->ec256, "ES256", "ec-256", client_claims(",\"azp\":\"client-a\""),
                    &err),
              GW_JWT_UNKNOWN_CLIENT);
    CHECK(has(err.message, "no cid claim"));
    gw_jwt_issuers_free(t);
    gw_jwt_issuers_free(cid);
}

TEST("iss missing, ill-typed or unknown; scope of the wrong type")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    struct gw_err err;
    char cl[512];
    snprintf(cl, sizeof cl, "{\"exp\":%lld,\"azp\":\"client-a\"}", NOW + 300);
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", cl, &err), GW_JWT_MALFORMED);
    CHECK(has(err.message, "iss"));
    snprintf(cl, sizeof cl, "{\"iss\":[\"" ISS "\"],\"exp\":%lld,\"azp\":\"client-a\"}", NOW + 300);
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", cl, &err), GW_JWT_MALFORMED);
    const char *others[] = {ISS "/", "https://KM.example.com/oauth2/token", "", "https://evil"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        snprintf(cl, sizeof cl, "{\"iss\":\"%s\",\"exp\":%lld,\"azp\":\"client-a\"}", others[i],
                 NOW + 300);
        CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", cl, &err), GW_JWT_UNKNOWN_ISSUER);
        CHECK(has(err.message, "unknown issuer"));
        CHECK(!has(err.message, "evil"));
    }
    CHECK_INT(check(t, fk->ec256, "ES256", "ec-256", client_claims(",\"azp\":\"client-a\","
                                                                   "\"scope\":[\"a\"]"),
                    &err),
              GW_JWT_MALFORMED);
    gw_jwt_issuers_free(t);
}

TEST("the checks run in the documented order")
{
    /* An expired token with a bad signature says "bad signature"; an expired
     * token for the wrong audience says "expired"; and so on down the list. */
    struct fx_keys *fk = fx_keys();
    const char *auds[] = {"api-a", NULL};
    struct gw_jwt_issuers *t = table_with(auds, NULL);
    struct gw_err err;
    char cl[512];
    snprintf(cl, sizeof cl, "{\"iss\":\"" ISS "\",\"exp\":1,\"aud\":\"x\"}");
    CHECK_INT(check(t, fk->rsa2, "RS256", "rsa-1", cl, &err), GW_JWT_BAD_SIGNATURE);
    CHECK_INT(check(t, fk->rsa, "RS256", "rsa-1", cl, &err), GW_JWT_EXPIRED);
    snprintf(cl, sizeof cl, "{\"iss\":\"" ISS "\",\"exp\":%lld,\"nbf\":%lld,\"aud\":\"x\"}",
             NOW + 999, NOW + 999);
    CHECK_INT(check(t, fk->rsa, "RS256", "rsa-1", cl, &err), GW_JWT_NOT_YET_VALID);
    snprintf(cl, sizeof cl, "{\"iss\":\"" ISS "\",\"exp\":%lld,\"aud\":\"x\"}", NOW + 999);
    CHECK_INT(check(t, fk->rsa, "RS256", "rsa-1", cl, &err), GW_JWT_WRONG_AUDIENCE);
    snprintf(cl, sizeof cl, "{\"iss\":\"nobody\",\"exp\":1}");
    CHECK_INT(check(t, fk->rsa2, "RS256", "rsa-1", cl, &err), GW_JWT_UNKNOWN_ISSUER);
    gw_jwt_issuers_free(t);
}

/* ------------------------------------------------------------- helpers --- */

TEST("scopes: every required scope must be a whole item of the list")
{
    const char *chat[] = {"chat"}, *both[] = {"chat", "embed"}, *empty[] = {""};
    CHECK(gw_jwt_scopes_hold("chat embed", both, 2));
    CHECK(gw_jwt_scopes_hold("  embed   chat ", both, 2));
    CHECK(gw_jwt_scopes_hold("chat", chat, 1));
    CHECK(!gw_jwt_scopes_hold("chat", both, 2));
    CHECK(!gw_jwt_scopes_hold("chatty embed", chat, 1));
    CHECK(!gw_jwt_scopes_hold("cha", chat, 1));
    CHECK(!gw_jwt_scopes_hold("xchat", chat, 1));
    CHECK(!gw_jwt_scopes_hold("", chat, 1));
    CHECK(!gw_jwt_scopes_hold(NULL, chat, 1));
    CHECK(!gw_jwt_scopes_hold("a  b", empty, 1));
    CHECK(gw_jwt_scopes_hold(NULL, NULL, 0));
    CHECK(gw_jwt_scopes_hold("", both, 0));
}

TEST("claims copy and cleanup")
{
    struct gw_jwt_claims a = {.client = app_a, .exp = 5}, b;
    a.scope = gw_strdup("x y");
    memcpy(a.client_id, "client-a", 9);
    CHECK_INT(gw_jwt_claims_copy(&b, &a), 0);
    CHECK(b.scope != a.scope);
    CHECK_STR(b.scope, "x y");
    CHECK_STR(b.client_id, "client-a");
    CHECK_INT(b.exp, 5);
    gw_jwt_claims_cleanup(&a);
    CHECK(a.scope == NULL);
    gw_jwt_claims_cleanup(&b);
    gw_jwt_claims_cleanup(NULL);
    gw_alloc_fail_after(0);
    a.scope = NULL;
    CHECK_INT(gw_jwt_claims_copy(&b, &a), -1);
    gw_alloc_fail_after(-1);
    CHECK(b.scope == NULL && b.client == NULL);
}

TEST("issuer table: bounds, duplicates, key errors name the entry")
{
    struct fx_keys *fk = fx_keys();
    struct gw_err err;
    CHECK(gw_jwt_issuer_new("", NULL, &err) == NULL);
    CHECK(gw_jwt_issuer_new("a\nb", NULL, &err) == NULL);
    CHECK(gw_jwt_issuer_new(ISS, "a\tb", &err) == NULL);
    CHECK_STR(err.field, "clientClaim");
    char big[GW_JWT_ISSUER_MAX + 2];
    memset(big, 'i', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(gw_jwt_issuer_new(big, NULL, &err) == NULL);
    big[GW_JWT_ISSUER_MAX] = '\0';
    struct gw_jwt_issuer *is = gw_jwt_issuer_new(big, NULL, &err);
    CHECK(is != NULL);
    gw_jwt_issuer_free(is);

    is = gw_jwt_issuer_new(ISS, NULL, &err);
    for (int i = 0; i < GW_JWT_MAX_AUDIENCES; i++)
        CHECK_INT(gw_jwt_issuer_add_audience(is, "aud", &err), 0);
    CHECK_INT(gw_jwt_issuer_add_audience(is, "aud", &err), -1);
    CHECK_INT(gw_jwt_issuer_add_client(is, "", app_a, &err), -1);
    CHECK_INT(gw_jwt_issuer_add_client(is, "c\x01", app_a, &err), -1);

    /* Keys: a broken entry is named; a JWKS object works too. */
    char *pem = fx_pem(fk->ec384, 0);
    json_t *bad = fx_jwk(fk->ec256, "x", NULL);
    json_object_set_new(bad, "y", json_string("AAAA"));
    json_t *keys = json_pack("[s,o]", pem, bad);
    CHECK_INT(gw_jwt_issuer_add_keys_json(is, keys, &err), -1);
    CHECK_STR(err.field, "keys[1].y");
    CHECK_INT(is->nkeys, 1);
    json_decref(keys);
    keys = json_pack("[s]", "not a key");
    CHECK_INT(gw_jwt_issuer_add_keys_json(is, keys, &err), -1);
    CHECK_STR(err.field, "keys[0]");
    json_decref(keys);
    keys = json_pack("s", pem);
    CHECK_INT(gw_jwt_issuer_add_keys_json(is, keys, &err), -1);
    json_decref(keys);
    for (size_t i = is->nkeys; i < GW_JWK_MAX_KEYS; i++) {
        keys = json_pack("[s]", pem);
        CHECK_INT(gw_jwt_issuer_add_keys_json(is, keys, &err), 0);
        json_decref(keys);
    }
    keys = json_pack("{s:[o]}", "keys", fx_jwk(fk->rsa, "r", NULL));
    CHECK_INT(gw_jwt_issuer_add_keys_json(is, keys, &err), -1);
    CHECK(has(err.message, "at most 32"));
    json_decref(keys);
    free(pem);

    CHECK_INT(gw_jwt_issuer_add_client(is, "dup", app_a, &err), 0);
    CHECK_INT(gw_jwt_issuer_add_client(is, "dup", app_b, &err), 0);
    struct gw_jwt_issuers *t = gw_jwt_issuers_new();
    CHECK_INT(gw_jwt_issuers_add(t, is, &err), -1); /* freed by the table call */
    CHECK_INT(err.kind, GW_ERR_CONFLICT);
    is = gw_jwt_issuer_new(ISS, NULL, &err);
    CHECK_INT(gw_jwt_issuers_add(t, is, &err), 0);
    CHECK(gw_jwt_issuer_add_client(is, "late", app_a, &err) == -1); /* sealed */
    is = gw_jwt_issuer_new(ISS, "cid", &err);
    CHECK_INT(gw_jwt_issuers_add(t, is, &err), -1);
    CHECK(has(err.message, "given twice"));
    CHECK(gw_jwt_issuers_find(t, ISS, strlen(ISS)) != NULL);
    CHECK(gw_jwt_issuers_find(t, ISS, strlen(ISS) - 1) == NULL);
    gw_jwt_issuers_free(t);
    gw_jwt_issuers_free(NULL);
    gw_jwt_issuer_free(NULL);
}

TEST("many clients: each found by binary search, look-alikes not")
{
    struct gw_err err;
    struct gw_jwt_issuer *is = gw_jwt_issuer_new(ISS, NULL, &err);
    static int apps[500];
    char id[32];
    for (int i = 499; i >= 0; i--) {
        snprintf(id, sizeof id, "client-%d", i * 7);
        CHECK_INT(gw_jwt_issuer_add_client(is, id, &apps[i], &err), 0);
    }
    struct gw_jwt_issuers *t = gw_jwt_issuers_new();
    CHECK_INT(gw_jwt_issuers_add(t, is, &err), 0);
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "client-%d", i * 7);
        const struct gw_jwt_client *c = gw_jwt_issuer_find_client(is, id, strlen(id));
        CHECK(c && c->client == &apps[i]);
        snprintf(id, sizeof id, "client-%d", i * 7 + 1);
        CHECK(gw_jwt_issuer_find_client(is, id, strlen(id)) == NULL);
    }
    CHECK(gw_jwt_issuer_find_client(is, "client-7", 7) == NULL); /* a prefix */
    gw_jwt_issuers_free(t);
}

TEST("verification survives allocation failures: no crash, no leak, no false accept")
{
    /* jansson turns some allocation failures inside its lexer into syntax
     * errors, so a token may be called malformed (401) instead of the
     * server being out of memory (503); never anything else. */
    gw_alloc_init();
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    char *token = fx_token(fk->ec256, "ES256", "ec-256", claims(",\"aud\":[\"a\",\"b\"]"));
    int ok = 0, nomem = 0;
    for (long n = 0; n < 500 && !ok; n++) {
        struct gw_jwt_claims c;
        struct gw_err err;
        gw_alloc_fail_after(n);
        enum gw_jwt_status s = gw_jwt_verify(t, token, strlen(token), NOW, &c, &err);
        gw_alloc_fail_after(-1);
        CHECK(s == GW_JWT_OK || s == GW_JWT_NOMEM || s == GW_JWT_MALFORMED);
        if (s == GW_JWT_OK) {
            CHECK_STR(c.scope, "chat default");
            ok = 1;
        } else if (s == GW_JWT_NOMEM) {
            CHECK_INT(err.kind, GW_ERR_NOMEM);
            nomem++;
        }
        gw_jwt_claims_cleanup(&c);
    }
    CHECK(ok);
    CHECK(nomem > 0); /* at least the scope copy and jansson's set-up say so */
    free(token);
    gw_jwt_issuers_free(t);
}

struct thread_arg {
    struct gw_jwt_issuers *t;
    const char *tokens[3];
    int failures;
};

static void *verify_loop(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 60; i++) {
        struct gw_jwt_claims c;
        struct gw_err err;
        const char *tok = a->tokens[i % 3];
        if (gw_jwt_verify(a->t, tok, strlen(tok), NOW, &c, &err) != GW_JWT_OK)
            a->failures++;
        gw_jwt_claims_cleanup(&c);
    }
    return NULL;
}

TEST("one sealed table verifies from several threads at once")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = table();
    char *t1 = fx_token(fk->rsa, "PS256", "rsa-1", claims(""));
    char *t2 = fx_token(fk->ec256, "ES256", "ec-256", claims(""));
    char *t3 = fx_token(fk->ec384, "ES384", NULL, claims(""));
    struct thread_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){t, {t1, t2, t3}, 0};
        CHECK_INT(pthread_create(&th[i], NULL, verify_loop, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(args[i].failures, 0);
    }
    free(t1);
    free(t2);
    free(t3);
    gw_jwt_issuers_free(t);
}

TEST("status codes are distinct and named")
{
    for (int a = GW_JWT_OK; a <= GW_JWT_NOMEM; a++) {
        CHECK(gw_jwt_status_code((enum gw_jwt_status)a) != NULL);
        for (int b = a + 1; b <= GW_JWT_NOMEM; b++)
            CHECK(strcmp(gw_jwt_status_code((enum gw_jwt_status)a),
                         gw_jwt_status_code((enum gw_jwt_status)b)) != 0);
    }
    CHECK_STR(gw_jwt_status_code(GW_JWT_EXPIRED), "token_expired");
}

TEST_MAIN()
