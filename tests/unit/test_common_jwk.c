/* Unit tests of common/jwk.c: JWK, JWKS and PEM public keys, with hostile
 * inputs (wrong sizes and curves, private keys, broken encodings, too many
 * keys). Keys are generated here with OpenSSL (jwt_fixture.h). */
#include "testhelp.h"

#include "common/alloc.h"
#include "common/jwk.h"
#include "jwt_fixture.h"

/* Loads the JWK j (stolen reference). Returns 0/-1 like gw_jwk_from_json. */
static int load(json_t *j, struct gw_jwk *k, struct gw_err *err)
{
    gw_err_clear(err);
    int rc = gw_jwk_from_json(j, k, err);
    json_decref(j);
    return rc;
}

static int has(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

TEST("RSA and EC JWKs load with kid and alg")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwk k;
    struct gw_err err;
    CHECK_INT(load(fx_jwk(fk->rsa, "rsa-1", "RS256"), &k, &err), 0);
    CHECK_INT(k.type, GW_JWK_RSA);
    CHECK_STR(k.kid, "rsa-1");
    CHECK_STR(k.alg, "RS256");
    CHECK(k.pkey && EVP_PKEY_eq(k.pkey, fk->rsa) == 1);
    gw_jwk_cleanup(&k);
    CHECK(k.pkey == NULL);
    gw_jwk_cleanup(&k); /* twice is fine */

    CHECK_INT(load(fx_jwk(fk->ec256, NULL, NULL), &k, &err), 0);
    CHECK_INT(k.type, GW_JWK_EC_P256);
    CHECK_STR(k.kid, "");
    CHECK(EVP_PKEY_eq(k.pkey, fk->ec256) == 1);
    gw_jwk_cleanup(&k);

    json_t *j = fx_jwk(fk->ec384, "ec-384", "ES384");
    json_object_set_new(j, "use", json_string("sig"));
    CHECK_INT(load(j, &k, &err), 0);
    CHECK_INT(k.type, GW_JWK_EC_P384);
    gw_jwk_cleanup(&k);
}

TEST("RSA keys outside 2048-8192 bits are refused")
{
    EVP_PKEY *small = fx_rsa(1024);
    struct gw_jwk k;
    struct gw_err err;
    CHECK_INT(load(fx_jwk(small, NULL, NULL), &k, &err), -1);
    CHECK(has(err.message, "1024 bits"));
    CHECK(k.pkey == NULL);
    char *pem = fx_pem(small, 0);
    CHECK_INT(gw_jwk_from_pem(pem, strlen(pem), &k, &err), -1);
    CHECK(has(err.message, "2048 to 8192 bits"));
    free(pem);
    EVP_PKEY_free(small);

    /* An 8193-bit modulus (not a real key: the size check comes first). */
    unsigned char n[1025];
    memset(n, 0xab, sizeof n);
    n[0] = 0x01;
    char *nb = fx_b64(n, sizeof n);
    json_t *j = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", nb, "e", "AQAB");
    CHECK_INT(load(j, &k, &err), -1);
    CHECK(has(err.message, "8193 bits"));
    free(nb);

    /* Longer still: refused before decoding. */
    unsigned char big[1400];
    memset(big, 0xcd, sizeof big);
    nb = fx_b64(big, sizeof big);
    j = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", nb, "e", "AQAB");
    CHECK_INT(load(j, &k, &err), -1);
    CHECK_STR(err.field, "n");
    CHECK(has(err.message, "too long"));
    free(nb);
}

TEST("RSA JWK with a bad exponent or a non-modulus is refused")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwk k;
    struct gw_err err;
    json_t *j = fx_jwk(fk->rsa, NULL, NULL);
    json_object_set_new(j, "e", json_string("AQAA")); /* even */
    CHECK_INT(load(j, &k, &err), -1);
    CHECK_STR(err.field, "e");
    j = fx_jwk(fk->rsa, NULL, NULL);
    json_object_set_new(j, "e", json_string("AQIDBAUGBwgJ")); /* 9 bytes */
    CHECK_INT(load(j, &k, &err), -1);
    CHECK_STR(err.field, "e");
    /* An even "modulus" of 2048 bits is no RSA key. */
    unsigned char n[256];
    memset(n, 0x88, sizeof n);
    char *nb = fx_b64(n, sizeof n);
    j = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", nb, "e", "AQAB");
    CHECK_INT(load(j, &k, &err), -1);
    CHECK(has(err.message, "not a valid RSA public key"));
    free(nb);
}

TEST("EC JWKs: wrong coordinate size, off-curve point and other curves are refused")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwk k;
    struct gw_err err;
    json_t *j = fx_jwk(fk->ec256, NULL, NULL);
    unsigned char x31[31];
    memset(x31, 7, sizeof x31);
    char *xb = fx_b64(x31, sizeof x31);
    json_object_set_new(j, "x", json_string(xb));
    free(xb);
    CHECK_INT(load(j, &k, &err), -1);
    CHECK_STR(err.field, "x");
    CHECK(has(err.message, "32 bytes"));

    /* P-384 coordinates under crv P-256. */
    j = fx_jwk(fk->ec384, NULL, NULL);
    json_object_set_new(j, "crv", json_string("P-256"));
    CHECK_INT(load(j, &k, &err), -1);

    /* A point off the curve: y changed. */
    j = fx_jwk(fk->ec256, NULL, NULL);
    char *y = strdup(json_string_value(json_object_get(j, "y")));
    y[5] = y[5] == 'A' ? 'B' : 'A';
    json_object_set_new(j, "y", json_string(y));
    free(y);
    CHECK_INT(load(j, &k, &err), -1);
    CHECK(k.pkey == NULL);

    EVP_PKEY *p521 = fx_ec("P-521");
    CHECK_INT(load(fx_jwk(p521, NULL, NULL), &k, &err), -1);
    CHECK_STR(err.field, "crv");
    EVP_PKEY_free(p521);
    EVP_PKEY *k1 = fx_ec("secp256k1");
    char *pem = fx_pem(k1, 0);
    CHECK_INT(gw_jwk_from_pem(pem, strlen(pem), &k, &err), -1);
    CHECK(has(err.message, "unsupported curve"));
    free(pem);
    EVP_PKEY_free(k1);
}

TEST("JWKs with private members, symmetric keys or bad members are refused")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwk k;
    struct gw_err err;
    json_t *j = fx_jwk(fk->ec256, NULL, NULL);
    json_object_set_new(j, "d", json_string("AAAA"));
    CHECK_INT(load(j, &k, &err), -1);
    CHECK_STR(err.field, "d");
    CHECK(has(err.message, "private"));

    CHECK_INT(load(json_pack("{s:s, s:s}", "kty", "oct", "k", "c2VjcmV0"), &k, &err), -1);
    CHECK_INT(load(json_pack("{s:s}", "kty", "oct"), &k, &err), -1);
    CHECK_STR(err.field, "kty");
    CHECK_INT(load(json_pack("{s:s}", "x", "AAAA"), &k, &err), -1);
    CHECK_STR(err.field, "kty");
    CHECK_INT(load(json_string("RSA"), &k, &err), -1);
    CHECK_INT(load(json_pack("[]"), &k, &err), -1);

    j = fx_jwk(fk->rsa, NULL, NULL);
    json_object_set_new(j, "kid", json_integer(7));
    CHECK_INT(load(j, &k, &err), -1);
    CHECK_STR(err.field, "kid");
    char longkid[GW_JWK_KID_MAX + 2];
    memset(longkid, 'k', sizeof longkid - 1);
    longkid[sizeof longkid - 1] = '\0';
    j = fx_jwk(fk->rsa, longkid, NULL);
    CHECK_INT(load(j, &k, &err), -1);
    CHECK_STR(err.field, "kid");
    j = fx_jwk(fk->rsa, "a\nb", NULL);
    CHECK_INT(load(j, &k, &err), -1);

    CHECK_INT(load(fx_jwk(fk->rsa, NULL, "HS256"), &k, &err), -1);
    CHECK_STR(err.field, "alg");
    CHECK_INT(load(fx_jwk(fk->rsa, NULL, "none"), &k, &err), -1);
    CHECK_INT(load(fx_jwk(fk->rsa, NULL, "ES256"), &k, &err), -1);
    CHECK(has(err.message, "does not fit"));
    CHECK_INT(load(fx_jwk(fk->ec256, NULL, "ES384"), &k, &err), -1);
    CHECK(has(err.message, "does not fit"));

    j = fx_jwk(fk->rsa, NULL, NULL);
    json_object_set_new(j, "use", json_string("enc"));
    CHECK_INT(load(j, &k, &err), -1);
    CHECK_STR(err.field, "use");

    j = fx_jwk(fk->rsa, NULL, NULL);
    char *n = strdup(json_string_value(json_object_get(j, "n")));
    size_t len = strlen(n);
    n[len / 2] = '+';
    json_object_set_new(j, "n", json_string(n));
    CHECK_INT(load(j, &k, &err), -1);
    CHECK(has(err.message, "base64url"));
    free(n);
    j = fx_jwk(fk->rsa, NULL, NULL);
    json_object_set_new(j, "e", json_string("AQAB=="));
    CHECK_INT(load(j, &k, &err), -1);
    CHECK_STR(err.field, "e");
}

TEST("PEM: SubjectPublicKeyInfo RSA and EC, and PKCS#1 RSA PUBLIC KEY")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwk k;
    struct gw_err err;
    EVP_PKEY *keys[] = {fk->rsa, fk->ec256, fk->ec384};
    enum gw_jwk_type types[] = {GW_JWK_RSA, GW_JWK_EC_P256, GW_JWK_EC_P384};
    for (int i = 0; i < 3; i++) {
        char *pem = fx_pem(keys[i], 0);
        CHECK(has(pem, "-----BEGIN PUBLIC KEY-----"));
        CHECK_INT(gw_jwk_from_pem(pem, strlen(pem), &k, &err), 0);
        CHECK_INT(k.type, types[i]);
        CHECK(EVP_PKEY_eq(k.pkey, keys[i]) == 1);
        CHECK_STR(k.kid, "");
        gw_jwk_cleanup(&k);
        free(pem);
    }
    char *pem = fx_pem(fk->rsa, 1);
    CHECK(has(pem, "-----BEGIN RSA PUBLIC KEY-----"));
    CHECK_INT(gw_jwk_from_pem(pem, strlen(pem), &k, &err), 0);
    CHECK(EVP_PKEY_eq(k.pkey, fk->rsa) == 1);
    gw_jwk_cleanup(&k);
    /* Surrounding whitespace is fine; the value form goes the same way. */
    char padded[4096];
    snprintf(padded, sizeof padded, "\n  %s\n\n", pem);
    json_t *v = json_string(padded);
    CHECK_INT(gw_jwk_from_value(v, &k, &err), 0);
    json_decref(v);
    gw_jwk_cleanup(&k);
    free(pem);
}

TEST("PEM: private keys, other blocks, two keys, garbage and oversize are refused")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwk k;
    struct gw_err err;
    char *priv = fx_pem_private(fk->rsa);
    CHECK_INT(gw_jwk_from_pem(priv, strlen(priv), &k, &err), -1);
    CHECK(has(err.message, "private key"));
    CHECK(k.pkey == NULL);
    free(priv);

    char *pem = fx_pem(fk->ec256, 0), two[8192];
    snprintf(two, sizeof two, "%s%s", pem, pem);
    CHECK_INT(gw_jwk_from_pem(two, strlen(two), &k, &err), -1);
    CHECK(has(err.message, "more than one key"));
    snprintf(two, sizeof two, "%sjunk", pem);
    CHECK_INT(gw_jwk_from_pem(two, strlen(two), &k, &err), -1);

    char cert[4096];
    snprintf(cert, sizeof cert, "%s", pem);
    char *p;
    while ((p = strstr(cert, "PUBLIC KEY")) != NULL)
        memcpy(p, "CERTIFICAT", 10);
    CHECK_INT(gw_jwk_from_pem(cert, strlen(cert), &k, &err), -1);
    CHECK(has(err.message, "not a public key"));

    /* Valid PEM armour around bytes that are no key. */
    const char *junk = "-----BEGIN PUBLIC KEY-----\nAAAAAAAAAAAAAAAAAAAA\n-----END PUBLIC KEY-----\n";
    CHECK_INT(gw_jwk_from_pem(junk, strlen(junk), &k, &err), -1);
    CHECK(has(err.message, "could not be decoded"));
    CHECK_INT(gw_jwk_from_pem("hello", 5, &k, &err), -1);
    CHECK_INT(gw_jwk_from_pem("", 0, &k, &err), -1);
    CHECK_INT(gw_jwk_from_pem(pem, strlen(pem) - 10, &k, &err), -1); /* cut short */

    char *huge = malloc(GW_JWK_PEM_MAX + 2);
    memset(huge, ' ', GW_JWK_PEM_MAX + 1);
    memcpy(huge, pem, strlen(pem));
    CHECK_INT(gw_jwk_from_pem(huge, GW_JWK_PEM_MAX + 1, &k, &err), -1);
    CHECK(has(err.message, "over"));
    free(huge);
    char nul[4096];
    size_t len = strlen(pem);
    memcpy(nul, pem, len);
    nul[len / 2] = '\0';
    CHECK_INT(gw_jwk_from_pem(nul, len, &k, &err), -1);
    free(pem);
}

struct skips {
    int n;
    char reasons[8][128];
    char kids[8][32];
};

static void on_skip(void *ud, size_t index, const char *kid, const char *reason)
{
    struct skips *s = ud;
    (void)index;
    if (s->n < 8) {
        snprintf(s->reasons[s->n], sizeof s->reasons[0], "%s", reason);
        snprintf(s->kids[s->n], sizeof s->kids[0], "%s", kid);
    }
    s->n++;
}

TEST("JWKS keeps signing keys and skips the others with a reason")
{
    struct fx_keys *fk = fx_keys();
    json_t *keys = json_array();
    json_array_append_new(keys, fx_jwk(fk->rsa, "rsa-1", "RS256"));
    json_t *enc = fx_jwk(fk->rsa2, "rsa-enc", NULL);
    json_object_set_new(enc, "use", json_string("enc"));
    json_array_append_new(keys, enc);
    json_array_append_new(keys, json_pack("{s:s, s:s, s:s}", "kty", "oct", "kid", "hmac", "k",
                                          "c2VjcmV0"));
    json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519",
                                          "kid", "ed", "x", "AAAA"));
    EVP_PKEY *p521 = fx_ec("P-521");
    json_array_append_new(keys, fx_jwk(p521, "p521", NULL));
    EVP_PKEY_free(p521);
    json_t *hs = fx_jwk(fk->rsa2, "hs", NULL);
    json_object_set_new(hs, "alg", json_string("HS256"));
    json_array_append_new(keys, hs);
    json_array_append_new(keys, fx_jwk(fk->ec256, "ec-256", NULL));
    json_t *doc = json_pack("{s:o}", "keys", keys);
    char *text = json_dumps(doc, 0);
    json_decref(doc);

    struct gw_jwks set;
    struct skips sk = {0};
    struct gw_err err;
    CHECK_INT(gw_jwks_parse(text, strlen(text), &set, on_skip, &sk, &err), 0);
    CHECK_INT(set.n, 2);
    CHECK_STR(set.keys[0].kid, "rsa-1");
    CHECK_STR(set.keys[0].alg, "RS256");
    CHECK_STR(set.keys[1].kid, "ec-256");
    CHECK_INT(set.keys[1].type, GW_JWK_EC_P256);
    CHECK_INT(sk.n, 5);
    CHECK_STR(sk.kids[0], "rsa-enc");
    CHECK(has(sk.reasons[0], "use"));
    CHECK(has(sk.reasons[1], "kty oct"));
    CHECK(has(sk.reasons[2], "kty OKP"));
    CHECK(has(sk.reasons[3], "curve"));
    CHECK(has(sk.reasons[4], "alg"));
    gw_jwks_cleanup(&set);
    CHECK(set.keys == NULL);
    /* No callback is fine too. */
    CHECK_INT(gw_jwks_parse(text, strlen(text), &set, NULL, NULL, &err), 0);
    gw_jwks_cleanup(&set);
    free(text);
}

TEST("JWKS: a broken signing key fails the document, naming it")
{
    struct fx_keys *fk = fx_keys();
    json_t *bad = fx_jwk(fk->ec256, "ec", NULL);
    json_object_set_new(bad, "x", json_string("not base64url!"));
    json_t *doc = json_pack("{s:[o,o]}", "keys", fx_jwk(fk->rsa, "rsa-1", NULL), bad);
    struct gw_jwks set;
    struct gw_err err;
    CHECK_INT(gw_jwks_from_json(doc, &set, NULL, NULL, &err), -1);
    CHECK_STR(err.field, "keys[1].x");
    CHECK(set.keys == NULL && set.n == 0);
    json_decref(doc);
}

TEST("JWKS: not JSON, no keys array, too many keys, oversize, duplicates are refused")
{
    struct gw_jwks set;
    struct gw_err err;
    CHECK_INT(gw_jwks_parse("{\"keys\": [", 10, &set, NULL, NULL, &err), -1);
    CHECK(has(err.message, "not JSON"));
    CHECK_INT(gw_jwks_parse("[]", 2, &set, NULL, NULL, &err), -1);
    CHECK_INT(gw_jwks_parse("{\"keys\": {}}", 12, &set, NULL, NULL, &err), -1);
    const char *dup = "{\"keys\": [], \"keys\": []}";
    CHECK_INT(gw_jwks_parse(dup, strlen(dup), &set, NULL, NULL, &err), -1);
    CHECK_INT(gw_jwks_parse("{\"keys\": []}", 12, &set, NULL, NULL, &err), 0);
    CHECK_INT(set.n, 0);
    gw_jwks_cleanup(&set);

    json_t *keys = json_array();
    for (int i = 0; i <= GW_JWK_MAX_KEYS; i++)
        json_array_append_new(keys, json_pack("{s:s}", "kty", "oct"));
    json_t *doc = json_pack("{s:o}", "keys", keys);
    CHECK_INT(gw_jwks_from_json(doc, &set, NULL, NULL, &err), -1);
    CHECK(has(err.message, "at most 32"));
    json_decref(doc);

    char *big = malloc(GW_JWKS_DOC_MAX + 1);
    memset(big, ' ', GW_JWKS_DOC_MAX + 1);
    memcpy(big, "{\"keys\": []}", 12);
    CHECK_INT(gw_jwks_parse(big, GW_JWKS_DOC_MAX + 1, &set, NULL, NULL, &err), -1);
    CHECK(has(err.message, "over"));
    CHECK_INT(gw_jwks_parse(big, GW_JWKS_DOC_MAX, &set, NULL, NULL, &err), 0);
    gw_jwks_cleanup(&set);
    free(big);
}

TEST("JWKS parsing survives allocation failures")
{
    gw_alloc_init();
    struct fx_keys *fk = fx_keys();
    json_t *doc = json_pack("{s:[o,o]}", "keys", fx_jwk(fk->rsa, "a", NULL), fx_jwk(fk->ec384, "b", NULL));
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    int ok = 0;
    for (long n = 0; n < 200 && !ok; n++) {
        struct gw_jwks set;
        struct gw_err err;
        gw_alloc_fail_after(n);
        int rc = gw_jwks_parse(text, strlen(text), &set, NULL, NULL, &err);
        gw_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK_INT(set.n, 2);
            ok = 1;
        } else {
            CHECK(set.keys == NULL);
        }
        gw_jwks_cleanup(&set);
    }
    CHECK(ok);
    free(text);
}

TEST("the alg table holds exactly the eight accepted algs")
{
    const char *yes[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"};
    const char *no[] = {"none", "None", "HS256", "HS384", "HS512", "ES512", "EdDSA", "RS256 ", "",
                        "rs256"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CHECK(gw_jws_alg_find(yes[i], strlen(yes[i])) != NULL);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK(gw_jws_alg_find(no[i], strlen(no[i])) == NULL);
    CHECK(gw_jws_alg_find("RS2567", 5) != NULL); /* by length, not NUL */
    struct gw_jwk rsa = {.type = GW_JWK_RSA, .pkey = fx_keys()->rsa};
    CHECK(gw_jwk_fits(&rsa, gw_jws_alg_find("PS384", 5)));
    CHECK(!gw_jwk_fits(&rsa, gw_jws_alg_find("ES256", 5)));
    memcpy(rsa.alg, "RS256", 6);
    CHECK(!gw_jwk_fits(&rsa, gw_jws_alg_find("PS256", 5)));
    struct gw_jwk ec = {.type = GW_JWK_EC_P256, .pkey = fx_keys()->ec256};
    CHECK(gw_jwk_fits(&ec, gw_jws_alg_find("ES256", 5)));
    CHECK(!gw_jwk_fits(&ec, gw_jws_alg_find("ES384", 5)));
    CHECK(!gw_jwk_fits(&ec, gw_jws_alg_find("RS256", 5)));
}

TEST_MAIN()
