/* Per-worker cache of verified JWT access tokens (see jwt_cache.h). Runs on
 * the worker thread that owns it. */
#include "jwt_cache.h"

#include "common/alloc.h"

#include <string.h>

struct entry {
    char key[GW_SHA256_HEX_LEN + 1]; /* "" when empty */
    uint64_t generation;
    struct gw_jwt_claims claims;     /* owned; claims.exp is the entry's end */
};

struct dp_jwt_cache {
    struct entry *entries; /* nsets * DP_JWT_CACHE_WAYS */
    size_t nsets;          /* power of two */
    struct gw_jwt_claims spare; /* a verdict not worth caching, see dp_jwt_check */
    struct dp_jwt_cache_stats stats;
};

struct dp_jwt_cache *dp_jwt_cache_new(size_t capacity)
{
    if (capacity == 0)
        capacity = DP_JWT_CACHE_ENTRIES;
    if (capacity > DP_JWT_CACHE_MAX)
        capacity = DP_JWT_CACHE_MAX;
    size_t nsets = 1;
    while (nsets * DP_JWT_CACHE_WAYS < capacity)
        nsets *= 2;
    struct dp_jwt_cache *c = gw_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->entries = gw_calloc(nsets * DP_JWT_CACHE_WAYS, sizeof *c->entries);
    if (!c->entries) {
        gw_free(c);
        return NULL;
    }
    c->nsets = nsets;
    c->stats.capacity = nsets * DP_JWT_CACHE_WAYS;
    return c;
}

static void drop(struct entry *e)
{
    gw_jwt_claims_cleanup(&e->claims);
    e->key[0] = '\0';
    e->generation = 0;
}

void dp_jwt_cache_free(struct dp_jwt_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->stats.capacity; i++)
        drop(&c->entries[i]);
    gw_jwt_claims_cleanup(&c->spare);
    gw_free(c->entries);
    gw_free(c);
}

void dp_jwt_cache_key(const char *token, size_t len, char key[GW_SHA256_HEX_LEN + 1])
{
    gw_sha256_hex_hot(token, len, key);
}

/* The first entry of key's set: the key's first 16 hex digits are uniformly
 * distributed, so they index directly. */
static struct entry *set_of(struct dp_jwt_cache *c, const char *key)
{
    uint64_t h = 0;
    for (int i = 0; i < 16; i++) {
        char ch = key[i];
        h = h << 4 | (uint64_t)(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
    }
    return &c->entries[(h & (c->nsets - 1)) * DP_JWT_CACHE_WAYS];
}

const struct gw_jwt_claims *dp_jwt_cache_get(struct dp_jwt_cache *c,
                                             const char key[GW_SHA256_HEX_LEN + 1],
                                             uint64_t generation, int64_t now)
{
    struct entry *set = set_of(c, key);
    for (int w = 0; w < DP_JWT_CACHE_WAYS; w++) {
        struct entry *e = &set[w];
        if (!e->key[0] || memcmp(e->key, key, GW_SHA256_HEX_LEN) != 0)
            continue;
        if (e->generation != generation || e->claims.exp <= now) {
            drop(e);
            break;
        }
        c->stats.hits++;
        return &e->claims;
    }
    c->stats.misses++;
    return NULL;
}

/* 1 when e holds a verdict usable under generation at now. */
static int live(const struct entry *e, uint64_t generation, int64_t now)
{
    return e->key[0] && e->generation == generation && e->claims.exp > now;
}

/* The entry to (over)write for key: the same key, else an empty, stale or
 * expired one, else the live one that expires first. */
static struct entry *slot_for(struct dp_jwt_cache *c, const char *key, uint64_t generation,
                              int64_t now)
{
    struct entry *set = set_of(c, key), *victim = NULL;
    for (int w = 0; w < DP_JWT_CACHE_WAYS; w++) {
        struct entry *e = &set[w];
        if (e->key[0] && memcmp(e->key, key, GW_SHA256_HEX_LEN) == 0)
            return e;
        if (!victim || (live(victim, generation, now) &&
                        (!live(e, generation, now) || e->claims.exp < victim->claims.exp)))
            victim = e;
    }
    if (live(victim, generation, now))
        c->stats.evictions++;
    return victim;
}

/* Moves claims (owned by the caller until now) into the cache. */
static struct gw_jwt_claims *store(struct dp_jwt_cache *c, const char *key, uint64_t generation,
                                   struct gw_jwt_claims *claims, int64_t now)
{
    struct entry *e = slot_for(c, key, generation, now);
    drop(e);
    memcpy(e->key, key, GW_SHA256_HEX_LEN + 1);
    e->generation = generation;
    e->claims = *claims;
    memset(claims, 0, sizeof *claims);
    return &e->claims;
}

int dp_jwt_cache_put(struct dp_jwt_cache *c, const char key[GW_SHA256_HEX_LEN + 1],
                     uint64_t generation, const struct gw_jwt_claims *claims, int64_t now)
{
    if (claims->exp <= now)
        return 0;
    struct gw_jwt_claims copy;
    if (gw_jwt_claims_copy(&copy, claims) < 0)
        return -1;
    store(c, key, generation, &copy, now);
    return 0;
}

enum gw_jwt_status dp_jwt_check(struct dp_jwt_cache *c, const struct gw_jwt_issuers *t,
                                const char *token, size_t len, int64_t now,
                                const struct gw_jwt_claims **out, struct gw_err *err)
{
    char key[GW_SHA256_HEX_LEN + 1];
    uint64_t generation = gw_jwt_issuers_generation(t);
    *out = NULL;
    if (len > GW_JWT_MAX_TOKEN) /* not worth hashing: gw_jwt_verify says why */
        return gw_jwt_verify(t, token, len, now, &(struct gw_jwt_claims){0}, err);
    dp_jwt_cache_key(token, len, key);
    if ((*out = dp_jwt_cache_get(c, key, generation, now)) != NULL)
        return GW_JWT_OK;
    struct gw_jwt_claims claims;
    enum gw_jwt_status s = gw_jwt_verify(t, token, len, now, &claims, err);
    if (s != GW_JWT_OK)
        return s;
    if (claims.exp <= now) {
        /* Accepted within the leeway only: not cached (entries end at exp),
         * but *out needs a home until the next call. */
        gw_jwt_claims_cleanup(&c->spare);
        c->spare = claims;
        *out = &c->spare;
        return GW_JWT_OK;
    }
    *out = store(c, key, generation, &claims, now);
    return GW_JWT_OK;
}

struct dp_jwt_cache_stats dp_jwt_cache_stats(const struct dp_jwt_cache *c)
{
    return c->stats;
}
