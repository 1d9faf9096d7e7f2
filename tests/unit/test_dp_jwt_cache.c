/* Unit tests of dataplane/jwt_cache.c: hits and misses, entries end at exp,
 * a new issuer table (config change, key rotation) never sees old entries,
 * the cache stays within its capacity and evicts what expires first. */
#include "testhelp.h"

#include "common/alloc.h"
#include "common/crypto.h"
#include "dataplane/jwt_cache.h"
#include "jwt_fixture.h"

#define NOW 1780000000LL

/* A token for client-a valid until NOW + ttl, made distinct by jti. */
static char *token(int jti, long long ttl)
{
    char extra[64], cl[1024];
    snprintf(extra, sizeof extra, ",\"jti\":\"t-%d\"", jti);
    return fx_token(fx_keys()->ec256, "ES256", "ec-256", fx_claims(cl, sizeof cl, NOW, ttl, extra));
}

static enum gw_jwt_status check(struct dp_jwt_cache *c, struct gw_jwt_issuers *t, const char *tok,
                                int64_t now, const struct gw_jwt_claims **out)
{
    struct gw_err err;
    return dp_jwt_check(c, t, tok, strlen(tok), now, out, &err);
}

TEST("a repeated token is a hit: one verification, the same verdict")
{
    struct gw_jwt_issuers *t = fx_table(NULL, NULL);
    struct dp_jwt_cache *c = dp_jwt_cache_new(0);
    CHECK_INT(dp_jwt_cache_stats(c).capacity, DP_JWT_CACHE_ENTRIES);
    char *tok = token(1, 300);
    const struct gw_jwt_claims *cl = NULL;
    CHECK_INT(check(c, t, tok, NOW, &cl), GW_JWT_OK);
    CHECK(cl && cl->client == &fx_app_a);
    CHECK_INT(dp_jwt_cache_stats(c).misses, 1);
    CHECK_INT(dp_jwt_cache_stats(c).hits, 0);
    for (int i = 0; i < 3; i++) {
        cl = NULL;
        CHECK_INT(check(c, t, tok, NOW + 100, &cl), GW_JWT_OK);
        CHECK(cl && cl->client == &fx_app_a);
        CHECK_STR(cl->client_id, "client-a");
        CHECK_STR(cl->scope, "chat default");
        CHECK_INT(cl->exp, NOW + 300);
    }
    CHECK_INT(dp_jwt_cache_stats(c).hits, 3);
    CHECK_INT(dp_jwt_cache_stats(c).misses, 1);
    /* The key is the token's SHA-256: the token itself is not kept. */
    char key[GW_SHA256_HEX_LEN + 1], want[GW_SHA256_HEX_LEN + 1];
    dp_jwt_cache_key(tok, strlen(tok), key);
    gw_sha256_hex(tok, strlen(tok), want);
    CHECK_STR(key, want);
    CHECK(dp_jwt_cache_get(c, key, gw_jwt_issuers_generation(t), NOW) != NULL);
    free(tok);
    dp_jwt_cache_free(c);
    gw_jwt_issuers_free(t);
}

TEST("failures are not cached, and say why each time")
{
    struct gw_jwt_issuers *t = fx_table(NULL, NULL);
    struct dp_jwt_cache *c = dp_jwt_cache_new(16);
    char cl[1024];
    char *bad = fx_token(fx_keys()->rsa2, "RS256", "rsa-1", fx_claims(cl, sizeof cl, NOW, 300, ""));
    const struct gw_jwt_claims *out;
    struct gw_err err;
    for (int i = 0; i < 2; i++) {
        CHECK_INT(dp_jwt_check(c, t, bad, strlen(bad), NOW, &out, &err), GW_JWT_BAD_SIGNATURE);
        CHECK(out == NULL);
        CHECK_STR(err.code, "token_signature_invalid");
    }
    CHECK_INT(dp_jwt_cache_stats(c).misses, 2);
    CHECK_INT(dp_jwt_cache_stats(c).hits, 0);
    /* Over the token bound: refused without hashing it. */
    char *huge = malloc(GW_JWT_MAX_TOKEN + 2);
    memset(huge, 'a', GW_JWT_MAX_TOKEN + 1);
    huge[GW_JWT_MAX_TOKEN + 1] = '\0';
    CHECK_INT(dp_jwt_check(c, t, huge, strlen(huge), NOW, &out, &err), GW_JWT_MALFORMED);
    CHECK_INT(dp_jwt_cache_stats(c).misses, 2);
    free(huge);
    free(bad);
    dp_jwt_cache_free(c);
    gw_jwt_issuers_free(t);
}

TEST("an entry ends at exp; within the leeway the token verifies again, uncached")
{
    struct gw_jwt_issuers *t = fx_table(NULL, NULL);
    struct dp_jwt_cache *c = dp_jwt_cache_new(16);
    char *tok = token(2, 10);
    const struct gw_jwt_claims *out;
    CHECK_INT(check(c, t, tok, NOW, &out), GW_JWT_OK);
    CHECK_INT(check(c, t, tok, NOW + 9, &out), GW_JWT_OK);
    CHECK_INT(dp_jwt_cache_stats(c).hits, 1);
    /* At exp: a miss, verified again (accepted thanks to the leeway). */
    CHECK_INT(check(c, t, tok, NOW + 10, &out), GW_JWT_OK);
    CHECK(out && out->client == &fx_app_a);
    CHECK_INT(check(c, t, tok, NOW + 30, &out), GW_JWT_OK);
    CHECK_INT(dp_jwt_cache_stats(c).hits, 1);
    CHECK_INT(dp_jwt_cache_stats(c).misses, 3);
    CHECK_INT(check(c, t, tok, NOW + 70, &out), GW_JWT_EXPIRED);
    CHECK(out == NULL);
    free(tok);
    dp_jwt_cache_free(c);
    gw_jwt_issuers_free(t);
}

TEST("a new issuer table never uses entries made under the old one (key rotation)")
{
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t1 = fx_table(NULL, NULL);
    /* The new table: the same issuer, only rsa-2, the same clients. */
    struct gw_err err;
    struct gw_jwt_issuer *is = gw_jwt_issuer_new(FX_ISS, NULL, &err);
    json_t *keys = json_pack("{s:[o]}", "keys", fx_jwk(fk->rsa2, "rsa-2", NULL));
    CHECK_INT(gw_jwt_issuer_add_keys_json(is, keys, &err), 0);
    json_decref(keys);
    CHECK_INT(gw_jwt_issuer_add_client(is, "client-a", &fx_app_b, &err), 0);
    struct gw_jwt_issuers *t2 = gw_jwt_issuers_new();
    CHECK_INT(gw_jwt_issuers_add(t2, is, &err), 0);

    struct dp_jwt_cache *c = dp_jwt_cache_new(16);
    char cl[1024];
    char *old = fx_token(fk->rsa, "RS256", "rsa-1", fx_claims(cl, sizeof cl, NOW, 300, ""));
    const struct gw_jwt_claims *out;
    CHECK_INT(check(c, t1, old, NOW, &out), GW_JWT_OK);
    CHECK_INT(check(c, t1, old, NOW, &out), GW_JWT_OK);
    CHECK_INT(dp_jwt_cache_stats(c).hits, 1);
    CHECK_INT(check(c, t2, old, NOW, &out), GW_JWT_UNKNOWN_KEY);
    char *new = fx_token(fk->rsa2, "RS256", "rsa-2", fx_claims(cl, sizeof cl, NOW, 300, ""));
    CHECK_INT(check(c, t2, new, NOW, &out), GW_JWT_OK);
    CHECK(out && out->client == &fx_app_b); /* the new table's client, not a stale pointer */
    CHECK_INT(check(c, t2, new, NOW, &out), GW_JWT_OK);
    CHECK_INT(dp_jwt_cache_stats(c).hits, 2);
    free(old);
    free(new);
    dp_jwt_cache_free(c);
    gw_jwt_issuers_free(t1);
    gw_jwt_issuers_free(t2);
}

TEST("the cache stays within its capacity")
{
    struct gw_jwt_issuers *t = fx_table(NULL, NULL);
    struct dp_jwt_cache *c = dp_jwt_cache_new(8);
    CHECK_INT(dp_jwt_cache_stats(c).capacity, 8);
    const struct gw_jwt_claims *out;
    char *toks[64];
    for (int i = 0; i < 64; i++) {
        toks[i] = token(100 + i, 300 + i);
        CHECK_INT(check(c, t, toks[i], NOW, &out), GW_JWT_OK);
    }
    CHECK_INT(dp_jwt_cache_stats(c).evictions, 64 - 8);
    int hits = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t before = dp_jwt_cache_stats(c).hits;
        CHECK_INT(check(c, t, toks[i], NOW, &out), GW_JWT_OK);
        hits += dp_jwt_cache_stats(c).hits > before;
        free(toks[i]);
    }
    CHECK(hits <= 8);
    CHECK_INT(dp_jwt_cache_stats(c).capacity, 8);
    struct dp_jwt_cache *big = dp_jwt_cache_new(1u << 30);
    CHECK_INT(dp_jwt_cache_stats(big).capacity, DP_JWT_CACHE_MAX);
    dp_jwt_cache_free(big);
    dp_jwt_cache_free(c);
    gw_jwt_issuers_free(t);
}

/* A key whose set is 0 in a 1-set cache (every key is), distinct by n. */
static void fake_key(int n, char key[GW_SHA256_HEX_LEN + 1])
{
    char s[16];
    snprintf(s, sizeof s, "k%d", n);
    gw_sha256_hex(s, strlen(s), key);
}

TEST("a full set gives up its entry that expires first; stale and expired ones go before")
{
    struct dp_jwt_cache *c = dp_jwt_cache_new(DP_JWT_CACHE_WAYS); /* one set */
    struct gw_jwt_claims cl = {.exp = 0};
    cl.scope = "s";
    char keys[6][GW_SHA256_HEX_LEN + 1];
    long long exps[] = {NOW + 400, NOW + 100, NOW + 300, NOW + 200};
    for (int i = 0; i < 4; i++) {
        fake_key(i, keys[i]);
        cl.exp = exps[i];
        CHECK_INT(dp_jwt_cache_put(c, keys[i], 7, &cl, NOW), 0);
    }
    fake_key(4, keys[4]);
    cl.exp = NOW + 500;
    CHECK_INT(dp_jwt_cache_put(c, keys[4], 7, &cl, NOW), 0);
    CHECK(dp_jwt_cache_get(c, keys[1], 7, NOW) == NULL); /* exp NOW+100: evicted */
    CHECK(dp_jwt_cache_get(c, keys[0], 7, NOW) != NULL);
    CHECK(dp_jwt_cache_get(c, keys[2], 7, NOW) != NULL);
    CHECK(dp_jwt_cache_get(c, keys[3], 7, NOW) != NULL);
    CHECK(dp_jwt_cache_get(c, keys[4], 7, NOW) != NULL);
    CHECK_INT(dp_jwt_cache_stats(c).evictions, 1);
    /* At NOW+350, keys[2] and keys[3] are expired: they go first, no eviction. */
    fake_key(5, keys[5]);
    CHECK_INT(dp_jwt_cache_put(c, keys[5], 7, &cl, NOW + 350), 0);
    CHECK_INT(dp_jwt_cache_stats(c).evictions, 1);
    CHECK(dp_jwt_cache_get(c, keys[0], 7, NOW + 350) != NULL);
    CHECK(dp_jwt_cache_get(c, keys[4], 7, NOW + 350) != NULL);
    CHECK(dp_jwt_cache_get(c, keys[5], 7, NOW + 350) != NULL);
    /* Another generation: nothing matches, and its entries are replaced first. */
    CHECK(dp_jwt_cache_get(c, keys[0], 8, NOW) == NULL);
    CHECK(dp_jwt_cache_get(c, keys[0], 7, NOW) == NULL); /* dropped by the stale lookup */
    /* Claims already expired are not stored; the same key replaces itself. */
    cl.exp = NOW;
    CHECK_INT(dp_jwt_cache_put(c, keys[1], 7, &cl, NOW), 0);
    CHECK(dp_jwt_cache_get(c, keys[1], 7, NOW - 1) == NULL);
    cl.exp = NOW + 50;
    cl.scope = "first";
    CHECK_INT(dp_jwt_cache_put(c, keys[4], 7, &cl, NOW), 0);
    const struct gw_jwt_claims *got = dp_jwt_cache_get(c, keys[4], 7, NOW);
    CHECK(got && strcmp(got->scope, "first") == 0 && got->exp == NOW + 50);
    dp_jwt_cache_free(c);
    dp_jwt_cache_free(NULL);
}

TEST("allocation failures: no cache, or a put that fails cleanly")
{
    gw_alloc_fail_after(0);
    CHECK(dp_jwt_cache_new(8) == NULL);
    gw_alloc_fail_after(1);
    CHECK(dp_jwt_cache_new(8) == NULL);
    gw_alloc_fail_after(-1);
    struct dp_jwt_cache *c = dp_jwt_cache_new(8);
    struct gw_jwt_claims cl = {.exp = NOW + 10, .scope = "x"};
    char key[GW_SHA256_HEX_LEN + 1];
    fake_key(1, key);
    gw_alloc_fail_after(0);
    CHECK_INT(dp_jwt_cache_put(c, key, 1, &cl, NOW), -1);
    gw_alloc_fail_after(-1);
    CHECK(dp_jwt_cache_get(c, key, 1, NOW) == NULL);
    CHECK_INT(dp_jwt_cache_put(c, key, 1, &cl, NOW), 0);
    CHECK(dp_jwt_cache_get(c, key, 1, NOW) != NULL);
    dp_jwt_cache_free(c);
}

TEST_MAIN()
