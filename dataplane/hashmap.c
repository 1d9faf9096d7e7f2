/* Open-addressing hash map with borrowed keys (see hashmap.h). Owns only its
 * slot array. Single-threaded by contract. */
#include "hashmap.h"

#include "common/alloc.h"

#include <string.h>

uint64_t dp_hmap_hash(const char *key, size_t keylen)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < keylen; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t cap_for(size_t expected)
{
    size_t cap = 8;
    while (cap < expected * 2)
        cap *= 2;
    return cap;
}

int dp_hmap_init(struct dp_hmap *m, size_t expected)
{
    m->n = 0;
    m->cap = cap_for(expected);
    m->slots = gw_calloc(m->cap, sizeof(*m->slots));
    if (!m->slots) {
        m->cap = 0;
        return -1;
    }
    return 0;
}

void dp_hmap_cleanup(struct dp_hmap *m)
{
    gw_free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

/* The slot holding key, or the empty slot where it would go. cap > 0. */
static struct dp_hmap_slot *find(const struct dp_hmap *m, const char *key, size_t keylen,
                                 uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct dp_hmap_slot *s = &m->slots[i];
        if (!s->key)
            return s;
        if (s->hash == h && s->keylen == keylen && memcmp(s->key, key, keylen) == 0)
            return s;
    }
}

void *dp_hmap_get(const struct dp_hmap *m, const char *key, size_t keylen)
{
    if (m->cap == 0)
        return NULL;
    struct dp_hmap_slot *s = find(m, key, keylen, dp_hmap_hash(key, keylen));
    return s->key ? s->val : NULL;
}

static int grow(struct dp_hmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 8;
    struct dp_hmap_slot *ns = gw_calloc(ncap, sizeof(*ns));
    if (!ns)
        return -1;
    struct dp_hmap old = *m;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].key)
            *find(m, old.slots[i].key, old.slots[i].keylen, old.slots[i].hash) = old.slots[i];
    gw_free(old.slots);
    return 0;
}

int dp_hmap_put(struct dp_hmap *m, const char *key, size_t keylen, void *val)
{
    if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
        return -1;
    uint64_t h = dp_hmap_hash(key, keylen);
    struct dp_hmap_slot *s = find(m, key, keylen, h);
    if (s->key)
        return 0;
    s->key = key;
    s->keylen = keylen;
    s->hash = h;
    s->val = val;
    m->n++;
    return 1;
}
