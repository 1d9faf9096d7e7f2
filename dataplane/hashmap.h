/* A small open-addressing hash map from byte-string keys to pointers, for
 * the data plane's lookup tables (routes and API keys of a compiled config,
 * the entries of the routing state).
 *
 * Keys are borrowed: the map stores the caller's pointer and length, so the
 * key's memory must outlive the map (the owner keeps it next to the value).
 * Lookups never allocate. Linear probing, load kept <= 1/2, grows by
 * doubling on insert. Not thread-safe: a config's maps are built once and
 * then only read; the state's maps are used under the state's mutex. */
#ifndef DP_HASHMAP_H
#define DP_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct dp_hmap_slot {
    const char *key; /* NULL: empty slot */
    size_t keylen;
    uint64_t hash;
    void *val;
};

struct dp_hmap {
    struct dp_hmap_slot *slots;
    size_t cap; /* power of two, 0 before the first insert */
    size_t n;
};

/* Initialises an empty map with room for `expected` keys without growing.
 * Returns 0, or -1 when out of memory (the map is then empty but valid). */
int dp_hmap_init(struct dp_hmap *m, size_t expected);

/* Frees the slot array (not keys or values). */
void dp_hmap_cleanup(struct dp_hmap *m);

/* The value stored under key, or NULL. */
void *dp_hmap_get(const struct dp_hmap *m, const char *key, size_t keylen);

/* Stores val under key (borrowed, see above) unless the key is present.
 * Returns 1 inserted, 0 already present (nothing changed), -1 out of memory. */
int dp_hmap_put(struct dp_hmap *m, const char *key, size_t keylen, void *val);

/* The hash used by the map (FNV-1a, 64 bit). */
uint64_t dp_hmap_hash(const char *key, size_t keylen);

#endif
