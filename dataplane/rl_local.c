/* Process-local rate-limit counters: a table of windows with atomic
 * counters, grown by generations (see rl_local.h).
 *
 * Each generation is split into buckets of BUCKET_SLOTS slots; a key lives
 * in the bucket its hash picks in one generation, never elsewhere, so a
 * lookup reads at most BUCKET_SLOTS keys per generation (a handful of
 * generations at most). Generations are only ever added, never freed or
 * moved before the table is, so a slot pointer stays valid for the table's
 * life and readers need no lock to walk them. A slot's key is published last
 * (release) after its counters are zeroed, so a reader that matches the key
 * (acquire) never sees the previous window's counts.
 *
 * Creation and reclaim happen under the key's stripe lock, with a re-scan,
 * which is what keeps a window from being created twice by two threads
 * racing on its first request. The stripe is the low bits of the bucket
 * hash and every generation has at least NSTRIPES buckets (a power of two),
 * so all keys that can share a bucket, in any generation, share a stripe:
 * one lock guards every claim of a slot. */
#include "rl_local.h"

#include "common/alloc.h"

#include <pthread.h>
#include <stdatomic.h>

#define BUCKET_SLOTS 8
#define NSTRIPES 64
#define MAX_GENS 8

struct slot {
    _Atomic uint64_t key; /* 0: empty */
    _Atomic int64_t end_s;
    _Atomic int64_t c[DP_RL_NCOUNTERS];
    _Atomic uint32_t seeded; /* epoch of the last seed handed out, see dp_rl_local_seed */
};

struct gen {
    struct slot *slots;
    uint32_t nbuckets; /* power of two, >= NSTRIPES */
};

struct dp_rl_local {
    struct gen gens[MAX_GENS];
    _Atomic int ngens;  /* generations published (acquire: gens[i] is set) */
    int max_gens;       /* from max_slots */
    pthread_mutex_t grow_mu;
    pthread_mutex_t stripes[NSTRIPES];
};

static int gen_init(struct gen *g, uint32_t nbuckets)
{
    g->slots = gw_calloc((size_t)nbuckets * BUCKET_SLOTS, sizeof(*g->slots));
    g->nbuckets = nbuckets;
    return g->slots ? 0 : -1;
}

struct dp_rl_local *dp_rl_local_new(uint32_t nslots, uint32_t max_slots)
{
    uint32_t nbuckets = DP_RL_LOCAL_MIN_SLOTS / BUCKET_SLOTS;
    while ((uint64_t)nbuckets * BUCKET_SLOTS < nslots && nbuckets < (1u << 24))
        nbuckets *= 2;
    struct dp_rl_local *t = gw_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (gen_init(&t->gens[0], nbuckets) != 0) {
        gw_free(t);
        return NULL;
    }
    /* Generation i holds nbuckets << i buckets: as many as fit in max_slots. */
    uint64_t total = (uint64_t)nbuckets * BUCKET_SLOTS;
    t->max_gens = 1;
    while (t->max_gens < MAX_GENS &&
           total + ((uint64_t)nbuckets << t->max_gens) * BUCKET_SLOTS <= max_slots) {
        total += ((uint64_t)nbuckets << t->max_gens) * BUCKET_SLOTS;
        t->max_gens++;
    }
    atomic_store(&t->ngens, 1);
    pthread_mutex_init(&t->grow_mu, NULL);
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
    pthread_mutex_destroy(&t->grow_mu);
    for (int i = 0; i < MAX_GENS; i++)
        gw_free(t->gens[i].slots);
    gw_free(t);
}

uint64_t dp_rl_local_capacity(const struct dp_rl_local *t)
{
    int n = atomic_load_explicit(&t->ngens, memory_order_acquire);
    uint64_t cap = 0;
    for (int i = 0; i < n; i++)
        cap += (uint64_t)t->gens[i].nbuckets * BUCKET_SLOTS;
    return cap;
}

static uint64_t norm_key(uint64_t key)
{
    return key ? key : 1; /* 0 marks an empty slot */
}

/* The bucket hash of a key: callers' keys need not be well mixed. */
static uint32_t bucket_hash(uint64_t key)
{
    return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> 32);
}

static struct slot *bucket(const struct dp_rl_local *t, int g, uint32_t bh)
{
    return &t->gens[g].slots[(size_t)(bh & (t->gens[g].nbuckets - 1)) * BUCKET_SLOTS];
}

static struct slot *scan(struct slot *b, uint64_t key)
{
    for (int i = 0; i < BUCKET_SLOTS; i++)
        if (atomic_load_explicit(&b[i].key, memory_order_acquire) == key)
            return &b[i];
    return NULL;
}

static struct slot *scan_all(const struct dp_rl_local *t, uint32_t bh, uint64_t key)
{
    int n = atomic_load_explicit(&t->ngens, memory_order_acquire);
    for (int g = 0; g < n; g++) {
        struct slot *s = scan(bucket(t, g, bh), key);
        if (s)
            return s;
    }
    return NULL;
}

/* A slot of bucket b free for a new window: an empty one, else the window
 * that ended first, once it has been over for the grace period. NULL when
 * every slot holds a live window. Under the stripe lock. */
static struct slot *claimable(struct slot *b, int64_t now_s)
{
    struct slot *s = NULL;
    int64_t oldest = INT64_MAX;
    for (int i = 0; i < BUCKET_SLOTS; i++) {
        if (atomic_load_explicit(&b[i].key, memory_order_relaxed) == 0)
            return &b[i];
        int64_t e = atomic_load_explicit(&b[i].end_s, memory_order_relaxed);
        if (e + DP_RL_LOCAL_GRACE_S < now_s && e < oldest) {
            oldest = e;
            s = &b[i];
        }
    }
    return s;
}

/* Adds generation n when the table still has n generations and may grow.
 * Returns whether generation n exists afterwards. */
static int grow(struct dp_rl_local *t, int n)
{
    pthread_mutex_lock(&t->grow_mu);
    int have = atomic_load_explicit(&t->ngens, memory_order_relaxed);
    if (have == n && n < t->max_gens && gen_init(&t->gens[n], t->gens[0].nbuckets << n) == 0) {
        atomic_store_explicit(&t->ngens, n + 1, memory_order_release);
        have = n + 1;
    }
    pthread_mutex_unlock(&t->grow_mu);
    return have > n;
}

/* The slot of window key, created (or an ended one reclaimed, or the table
 * grown) when absent and create is set. NULL when absent and not created. */
static struct slot *find(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                         int create)
{
    key = norm_key(key);
    uint32_t bh = bucket_hash(key);
    struct slot *s = scan_all(t, bh, key);
    if (s || !create)
        return s;

    pthread_mutex_t *m = &t->stripes[bh % NSTRIPES];
    pthread_mutex_lock(m);
    s = scan_all(t, bh, key); /* someone may have created it meanwhile */
    if (s)
        goto out;
    int n = atomic_load_explicit(&t->ngens, memory_order_acquire);
    for (int g = 0; g < n && !s; g++)
        s = claimable(bucket(t, g, bh), now_s);
    while (!s && grow(t, n)) {
        s = claimable(bucket(t, n, bh), now_s);
        n++;
    }
    if (!s)
        goto out;
    atomic_store_explicit(&s->key, 0, memory_order_release);
    for (int i = 0; i < DP_RL_NCOUNTERS; i++)
        atomic_store_explicit(&s->c[i], 0, memory_order_relaxed);
    atomic_store_explicit(&s->seeded, 0, memory_order_relaxed);
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

int dp_rl_local_seed(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                     uint32_t epoch, int64_t counts[DP_RL_NCOUNTERS])
{
    struct slot *s = find(t, key, end_s, now_s, 1);
    if (!s)
        return 0;
    uint32_t e = atomic_load_explicit(&s->seeded, memory_order_relaxed);
    if (e == epoch ||
        !atomic_compare_exchange_strong_explicit(&s->seeded, &e, epoch, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return 0; /* seeded already in this epoch, or being seeded by another thread */
    int any = 0;
    for (int i = 0; i < DP_RL_NCOUNTERS; i++) {
        counts[i] = atomic_load_explicit(&s->c[i], memory_order_relaxed);
        any |= counts[i] > 0;
    }
    return any;
}

void dp_rl_local_read(struct dp_rl_local *t, uint64_t key, int64_t counts[DP_RL_NCOUNTERS])
{
    struct slot *s = find(t, key, 0, 0, 0);
    for (int i = 0; i < DP_RL_NCOUNTERS; i++)
        counts[i] = s ? atomic_load_explicit(&s->c[i], memory_order_relaxed) : 0;
}
