/* A per-worker cache of verified JWT access tokens, so that a token an
 * application reuses costs one SHA-256 and one lookup instead of a signature
 * verification (issue 15: "a repeated token costs one lookup").
 *
 * Entries are keyed by the SHA-256 of the token (the token itself is never
 * stored), hold the verdict (struct gw_jwt_claims) and stay until the
 * token's exp. Each entry remembers the generation of the issuer table that
 * verified it (gw_jwt_issuers_generation): after a config change (a key
 * rotated away, a client removed) every older entry misses, and its borrowed
 * issuer/client pointers are never handed out again.
 *
 * Bounded: a fixed number of entries, set-associative (DP_JWT_CACHE_WAYS
 * entries per set); a full set gives up its entry that expires first. Only
 * successful verifications are cached. One cache per worker thread, used
 * only by that thread: no locks. */
#ifndef DP_JWT_CACHE_H
#define DP_JWT_CACHE_H

#include "common/crypto.h"
#include "common/jwt.h"

#include <stddef.h>
#include <stdint.h>

#define DP_JWT_CACHE_ENTRIES 1024 /* default entries per worker (about 400 KiB) */
#define DP_JWT_CACHE_MAX 65536    /* largest capacity dp_jwt_cache_new takes */
#define DP_JWT_CACHE_WAYS 4       /* entries per set */

struct dp_jwt_cache;

/* Counters, for metrics and tests. */
struct dp_jwt_cache_stats {
    uint64_t hits, misses, evictions;
    size_t capacity;
};

/* A cache of capacity entries (rounded up to a power of two multiple of
 * DP_JWT_CACHE_WAYS, at most DP_JWT_CACHE_MAX; 0 means
 * DP_JWT_CACHE_ENTRIES). NULL when out of memory. */
struct dp_jwt_cache *dp_jwt_cache_new(size_t capacity);

/* Frees the cache and every entry. NULL is a no-op. */
void dp_jwt_cache_free(struct dp_jwt_cache *c);

/* The cache key of a token: its lowercase hex SHA-256. */
void dp_jwt_cache_key(const char *token, size_t len, char key[GW_SHA256_HEX_LEN + 1]);

/* The claims cached under key for the table generation, when the entry's
 * exp is still after now; NULL otherwise (an expired or stale entry is
 * dropped). The pointer is valid until the next put or check on c. */
const struct gw_jwt_claims *dp_jwt_cache_get(struct dp_jwt_cache *c,
                                             const char key[GW_SHA256_HEX_LEN + 1],
                                             uint64_t generation, int64_t now);

/* Stores a copy of claims under key for generation (replacing an entry of
 * the same key). Claims whose exp is not after now are not stored. Returns
 * 0, or -1 when out of memory (the cache is unchanged but for a dropped
 * entry). */
int dp_jwt_cache_put(struct dp_jwt_cache *c, const char key[GW_SHA256_HEX_LEN + 1],
                     uint64_t generation, const struct gw_jwt_claims *claims, int64_t now);

/* The data plane's JWT check: a cache hit, or gw_jwt_verify against t and,
 * when the token is good, a put. On GW_JWT_OK *out points at the claims,
 * valid until the next put or check on c (use them at once: resolve the
 * client, check the operation's scopes). Otherwise err as gw_jwt_verify
 * sets it. The verdict moves into the cache: no allocation beyond
 * gw_jwt_verify's. */
enum gw_jwt_status dp_jwt_check(struct dp_jwt_cache *c, const struct gw_jwt_issuers *t,
                                const char *token, size_t len, int64_t now,
                                const struct gw_jwt_claims **out, struct gw_err *err);

/* The counters of c. */
struct dp_jwt_cache_stats dp_jwt_cache_stats(const struct dp_jwt_cache *c);

#endif
