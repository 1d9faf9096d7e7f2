/* Process-local rate-limit counters: a fixed table of windows with atomic
 * counters (see rl_local.h).
 *
 * The table is split into buckets of BUCKET_SLOTS slots; a key lives in the
 * bucket its hash picks, never elsewhere, so a lookup reads at most
 * BUCKET_SLOTS keys. A slot's key is published last (release) after its
 * counters are zeroed, so a reader that matches the key (acquire) never sees
 * the previous window's counts. Creation and reclaim happen under the
 * bucket's stripe lock, with a re-scan, which is what keeps a window from
 * being created twice by two threads racing on its first request. */
#include "rl_local.h"

#include "common/alloc.h"

#include <pthread.h>
#include <stdatomic.h>

#define BUCKET_SLOTS 8
#define NSTRIPES 64

struct slot {
    _Atomic uint64_t key; /* 0: empty */
    _Atomic int64_t end_s;
    _Atomic int64_t c[DP_RL_NCOUNTERS];
};

struct dp_rl_local {
    struct slot *slots;
    uint32_t nbuckets; /* power of two */
    pthread_mutex_t stripes[NSTRIPES];
};

struct dp_rl_local *dp_rl_local_new(uint32_t nslots)
{
    uint32_t nbuckets = 8;
    while (nbuckets * BUCKET_SLOTS < nslots && nbuckets < (1u << 24))
        nbuckets *= 2;
    struct dp_rl_local *t = gw_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->slots = gw_calloc((size_t)nbuckets * BUCKET_SLOTS, sizeof(*t->slots));
    if (!t->slots) {
        gw_free(t);
        return NULL;
    }
    t->nbuckets = nbuckets;
    for (int i = 0; i < NSTRIPES; i++)
        pthread_mutex_init(&t->stripes[i], NULL);
    return t;
}

void dp_rl_local_free(struct dp_rl_local *t)
{
    if (!t)
        return;
    for (int i = 0; i < NSTRIPES; i++)
        pthread_mutex_destroy(&t->stripes[i]);
    gw_free(t->slots);
    gw_free(t);
}

static uint64_t norm_key(uint64_t key)
{
    return key ? key : 1; /* 0 marks an empty slot */
}

static struct slot *scan(struct slot *b, uint64_t key)
{
    for (int i = 0; i < BUCKET_SLOTS; i++)
        if (atomic_load_explicit(&b[i].key, memory_order_acquire) == key)
            return &b[i];
    return NULL;
}

/* The slot of window key, created (or an expired one reclaimed) when absent
 * and create is set. NULL when absent and not created. */
static struct slot *find(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                         int create)
{
    key = norm_key(key);
    uint64_t h = key * 0x9e3779b97f4a7c15ULL; /* callers' keys need not be well mixed */
    uint32_t bi = (uint32_t)(h >> 32) & (t->nbuckets - 1);
    struct slot *b = &t->slots[(size_t)bi * BUCKET_SLOTS];
    struct slot *s = scan(b, key);
    if (s || !create)
        return s;

    pthread_mutex_t *m = &t->stripes[bi % NSTRIPES];
    pthread_mutex_lock(m);
    s = scan(b, key); /* someone may have created it meanwhile */
    if (s)
        goto out;
    /* Prefer an empty slot; else the window that ended first, once it has
     * been over for the grace period. */
    int64_t oldest = INT64_MAX;
    for (int i = 0; i < BUCKET_SLOTS; i++) {
        if (atomic_load_explicit(&b[i].key, memory_order_relaxed) == 0) {
            s = &b[i];
            break;
        }
        int64_t e = atomic_load_explicit(&b[i].end_s, memory_order_relaxed);
        if (e + DP_RL_LOCAL_GRACE_S < now_s && e < oldest) {
            oldest = e;
            s = &b[i];
        }
    }
    if (!s)
        goto out;
    atomic_store_explicit(&s->key, 0, memory_order_release);
    for (int i = 0; i < DP_RL_NCOUNTERS; i++)
        atomic_store_explicit(&s->c[i], 0, memory_order_relaxed);
    atomic_store_explicit(&s->end_s, end_s, memory_order_relaxed);
    atomic_store_explicit(&s->key, key, memory_order_release);
out:
    pthread_mutex_unlock(m);
    return s;
}

int dp_rl_local_admit(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                      const int64_t limits[DP_RL_NCOUNTERS], int64_t counts[DP_RL_NCOUNTERS])
{
    struct slot *s = find(t, key, end_s, now_s, 1);
    if (!s)
        return -1;
    int refused = 0;
    for (int i = DP_RL_C_PROMPT; i < DP_RL_NCOUNTERS; i++) {
        counts[i] = atomic_load_explicit(&s->c[i], memory_order_relaxed);
        if (limits[i] >= 0 && counts[i] >= limits[i])
            refused = 1;
    }
    /* Check-and-count in one CAS: exactly `limit` callers ever succeed. */
    int64_t v = atomic_load_explicit(&s->c[DP_RL_C_REQUESTS], memory_order_relaxed);
    for (;;) {
        int64_t lim = limits[DP_RL_C_REQUESTS];
        if (refused || (lim >= 0 && v >= lim)) {
            counts[DP_RL_C_REQUESTS] = v;
            return 0;
        }
        if (atomic_compare_exchange_weak_explicit(&s->c[DP_RL_C_REQUESTS], &v, v + 1,
                                                  memory_order_acq_rel, memory_order_relaxed)) {
            counts[DP_RL_C_REQUESTS] = v + 1;
            return 1;
        }
    }
}

int dp_rl_local_add(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                    const int64_t add[DP_RL_NCOUNTERS])
{
    struct slot *s = find(t, key, end_s, now_s, 1);
    if (!s)
        return -1;
    for (int i = 0; i < DP_RL_NCOUNTERS; i++)
        if (add[i] > 0)
            atomic_fetch_add_explicit(&s->c[i], add[i], memory_order_relaxed);
    return 0;
}

int dp_rl_local_merge(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                      const int64_t seen[DP_RL_NCOUNTERS])
{
    struct slot *s = find(t, key, end_s, now_s, 1);
    if (!s)
        return -1;
    for (int i = 0; i < DP_RL_NCOUNTERS; i++) {
        int64_t v = atomic_load_explicit(&s->c[i], memory_order_relaxed);
        while (v < seen[i] && !atomic_compare_exchange_weak_explicit(
                                  &s->c[i], &v, seen[i], memory_order_relaxed,
                                  memory_order_relaxed))
            ;
    }
    return 0;
}

void dp_rl_local_read(struct dp_rl_local *t, uint64_t key, int64_t counts[DP_RL_NCOUNTERS])
{
    struct slot *s = find(t, key, 0, 0, 0);
    for (int i = 0; i < DP_RL_NCOUNTERS; i++)
        counts[i] = s ? atomic_load_explicit(&s->c[i], memory_order_relaxed) : 0;
}
