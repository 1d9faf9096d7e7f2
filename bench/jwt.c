/* Microbenchmark of JWT access-token verification (issue 15, "Measure"):
 * the cost per request of an RS256 and an ES256 token
 *   - without the cache: every request brings a new token (gw_jwt_verify:
 *     base64url, JSON, signature, claims), and through dp_jwt_check (the
 *     same plus hashing the token and storing the verdict);
 *   - with the cache: a token reused (dp_jwt_check hit: one SHA-256, one
 *     lookup).
 * Keys and tokens are generated at start with OpenSSL (tests/unit/
 * jwt_fixture.h). One thread, the way one data-plane worker runs; times
 * are the thread's CPU time (what a worker spends), not the wall clock.
 *
 *   build/bench/bench_jwt [-n NEW_TOKENS] [-r REUSES]     (bench/jwt.sh)
 *
 * With -g N it measures nothing and prints, for the through-the-gateway
 * benchmark (bench/jwt_gateway.py), one JSON document: the issuer FX_ISS,
 * its public keys as JWKs, and N distinct RS256 and N ES256 tokens of
 * client-a, valid for an hour. */
#include "common/jwt.h"
#include "dataplane/jwt_cache.h"
#include "tests/unit/jwt_fixture.h"

#include <time.h>
#include <unistd.h>

/* CPU time of this thread, in seconds: on a shared machine the wall clock
 * also counts other processes' time slices. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *alg, const char *what, int n, double secs)
{
    double us = secs * 1e6 / n;
    printf("%-6s %-46s %9.2f us/token %10.0f tokens/s  (n=%d)\n", alg, what, us, n / secs, n);
}

static int bench_alg(struct gw_jwt_issuers *t, EVP_PKEY *key, const char *alg, const char *kid,
                     int ntokens, int reuses)
{
    int64_t now = (int64_t)time(NULL);
    char **tokens = calloc((size_t)ntokens, sizeof *tokens);
    for (int i = 0; i < ntokens; i++) {
        char extra[64], cl[1024];
        snprintf(extra, sizeof extra, ",\"jti\":\"bench-%d\"", i);
        tokens[i] = fx_token(key, alg, kid, fx_claims(cl, sizeof cl, now, 3600, extra));
    }
    struct gw_err err;
    int bad = 0;

    double t0 = now_s();
    for (int i = 0; i < ntokens; i++) {
        struct gw_jwt_claims c;
        bad += gw_jwt_verify(t, tokens[i], strlen(tokens[i]), now, &c, &err) != GW_JWT_OK;
        gw_jwt_claims_cleanup(&c);
    }
    report(alg, "gw_jwt_verify, a new token each request", ntokens, now_s() - t0);

    struct dp_jwt_cache *cache = dp_jwt_cache_new(0);
    const struct gw_jwt_claims *out;
    t0 = now_s();
    for (int i = 0; i < ntokens; i++)
        bad += dp_jwt_check(cache, t, tokens[i], strlen(tokens[i]), now, &out, &err) != GW_JWT_OK;
    report(alg, "dp_jwt_check, a new token each request (miss)", ntokens, now_s() - t0);

    /* tokens[0] may have been evicted by the misses: one check puts it back. */
    bad += dp_jwt_check(cache, t, tokens[0], strlen(tokens[0]), now, &out, &err) != GW_JWT_OK;
    uint64_t hits = dp_jwt_cache_stats(cache).hits;
    t0 = now_s();
    for (int i = 0; i < reuses; i++)
        bad += dp_jwt_check(cache, t, tokens[0], strlen(tokens[0]), now, &out, &err) != GW_JWT_OK;
    report(alg, "dp_jwt_check, the token reused (hit)", reuses, now_s() - t0);
    hits = dp_jwt_cache_stats(cache).hits - hits;
    if (hits != (uint64_t)reuses) {
        fprintf(stderr, "bench_jwt: expected %d cache hits, got %llu\n", reuses,
                (unsigned long long)hits);
        bad++;
    }
    dp_jwt_cache_free(cache);
    for (int i = 0; i < ntokens; i++)
        free(tokens[i]);
    free(tokens);
    if (bad)
        fprintf(stderr, "bench_jwt: %d verifications failed: %s\n", bad, err.message);
    return bad ? -1 : 0;
}

/* -g: {"issuer", "keys": [JWK...], "tokens": {"RS256": [...], "ES256": [...]}}. */
static int emit_gateway_tokens(int n)
{
    struct fx_keys *fk = fx_keys();
    int64_t now = (int64_t)time(NULL);
    json_t *rs = json_array(), *es = json_array();
    for (int i = 0; i < n; i++) {
        char extra[64], cl[1024];
        snprintf(extra, sizeof extra, ",\"jti\":\"gw-%d\"", i);
        char *r = fx_token(fk->rsa, "RS256", "rsa-1", fx_claims(cl, sizeof cl, now, 3600, extra));
        char *e = fx_token(fk->ec256, "ES256", "ec-256", fx_claims(cl, sizeof cl, now, 3600, extra));
        json_array_append_new(rs, json_string(r));
        json_array_append_new(es, json_string(e));
        free(r);
        free(e);
    }
    json_t *doc = json_pack("{s:s, s:[o,o], s:{s:o, s:o}}", "issuer", FX_ISS, "keys",
                            fx_jwk(fk->rsa, "rsa-1", NULL), fx_jwk(fk->ec256, "ec-256", NULL),
                            "tokens", "RS256", rs, "ES256", es);
    int rc = doc && json_dumpf(doc, stdout, JSON_COMPACT) == 0 ? 0 : 1;
    json_decref(doc);
    return rc;
}

int main(int argc, char **argv)
{
    int ntokens = 2000, reuses = 200000, gateway = 0, opt;
    while ((opt = getopt(argc, argv, "n:r:g:")) != -1) {
        long v = strtol(optarg, NULL, 10);
        if (v < 1 || v > 10000000) {
            fprintf(stderr, "usage: bench_jwt [-n NEW_TOKENS] [-r REUSES] | -g TOKENS\n");
            return 2;
        }
        if (opt == 'n')
            ntokens = (int)v;
        else if (opt == 'r')
            reuses = (int)v;
        else if (opt == 'g')
            gateway = (int)v;
        else
            return 2;
    }
    if (gateway)
        return emit_gateway_tokens(gateway);
    struct fx_keys *fk = fx_keys();
    struct gw_jwt_issuers *t = fx_table(NULL, NULL);
    printf("JWT verification, one thread, %s\n", OpenSSL_version(OPENSSL_VERSION));
    int rc = bench_alg(t, fk->rsa, "RS256", "rsa-1", ntokens, reuses);
    rc |= bench_alg(t, fk->ec256, "ES256", "ec-256", ntokens, reuses);
    gw_jwt_issuers_free(t);
    return rc ? 1 : 0;
}
