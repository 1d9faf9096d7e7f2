/* Routing state shared by all workers and carried over reloads (suspension.h).
 *
 * Owns every target and load-balancing entry ever created, each in its own
 * allocation so that the pointers compiled configs hold stay valid for the
 * life of the state. Two hash maps (by key) find them; both are guarded by
 * one mutex, taken only by config compile and /metrics. The values inside
 * entries are atomics, touched by request threads without the mutex. */
#include "suspension.h"

#include "common/alloc.h"
#include "hashmap.h"

#include <pthread.h>
#include <string.h>

/* What every entry starts with: its key (owned) and the list link. */
struct entry_head {
    char *key;
    struct entry_head *next; /* all entries of a kind, for free and foreach */
};

struct target_entry {
    struct entry_head h; /* first: entries are found and freed by their head */
    struct dp_target_state ts;
};

struct lb_entry {
    struct entry_head h;
    struct dp_lb_state ls;
};

struct dp_suspensions {
    pthread_mutex_t mu;
    struct dp_hmap targets; /* key -> struct target_entry */
    struct dp_hmap lbs;     /* key -> struct lb_entry */
    struct entry_head *target_list;
    struct entry_head *lb_list;
};

struct dp_suspensions *dp_suspensions_new(void)
{
    struct dp_suspensions *st = gw_calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        gw_free(st);
        return NULL;
    }
    return st;
}

void dp_suspensions_free(struct dp_suspensions *st)
{
    if (!st)
        return;
    for (struct entry_head *e = st->target_list, *next; e; e = next) {
        struct target_entry *t = (struct target_entry *)e;
        next = e->next;
        gw_free(t->ts.api_name);
        gw_free(t->ts.model);
        gw_free(t->ts.endpoint_name);
        gw_free(e->key);
        gw_free(e);
    }
    for (struct entry_head *e = st->lb_list, *next; e; e = next) {
        next = e->next;
        gw_free(e->key);
        gw_free(e);
    }
    dp_hmap_cleanup(&st->targets);
    dp_hmap_cleanup(&st->lbs);
    pthread_mutex_destroy(&st->mu);
    gw_free(st);
}

/* Finds the entry of key in m, or creates a zeroed one of size bytes (its
 * head first) and links it into *list; *created tells which. Caller holds
 * the mutex. NULL on out of memory. */
static struct entry_head *find_or_add(struct dp_hmap *m, struct entry_head **list,
                                      const char *key, size_t size, int *created)
{
    struct entry_head *e = dp_hmap_get(m, key, strlen(key));
    *created = 0;
    if (e)
        return e;
    e = gw_calloc(1, size);
    if (!e)
        return NULL;
    e->key = gw_strdup(key);
    if (!e->key || dp_hmap_put(m, e->key, strlen(e->key), e) < 0) {
        gw_free(e->key);
        gw_free(e);
        return NULL;
    }
    e->next = *list;
    *list = e;
    *created = 1;
    return e;
}

/* Replaces *label with a copy of s unless equal. -1 on out of memory (the
 * old label is kept). */
static int set_label(char **label, const char *s)
{
    if (!s || (*label && strcmp(*label, s) == 0))
        return 0;
    char *d = gw_strdup(s);
    if (!d)
        return -1;
    gw_free(*label);
    *label = d;
    return 0;
}

struct dp_target_state *dp_suspensions_target(struct dp_suspensions *st, const char *key,
                                        const char *api_name, const char *model,
                                        const char *endpoint_name)
{
    struct dp_target_state *res = NULL;
    int created;
    pthread_mutex_lock(&st->mu);
    struct target_entry *e = (struct target_entry *)find_or_add(
        &st->targets, &st->target_list, key, sizeof(struct target_entry), &created);
    if (!e)
        goto out;
    if (created)
        atomic_init(&e->ts.suspended_until_ms, INT64_MIN);
    /* A failed label update leaves the older label: the entry is still good,
     * but report it so that compile fails cleanly. */
    if (set_label(&e->ts.api_name, api_name) < 0 || set_label(&e->ts.model, model) < 0 ||
        set_label(&e->ts.endpoint_name, endpoint_name) < 0)
        goto out;
    res = &e->ts;
out:
    pthread_mutex_unlock(&st->mu);
    return res;
}

struct dp_lb_state *dp_suspensions_lb(struct dp_suspensions *st, const char *key)
{
    int created;
    pthread_mutex_lock(&st->mu);
    struct lb_entry *e = (struct lb_entry *)find_or_add(&st->lbs, &st->lb_list, key,
                                                        sizeof(struct lb_entry), &created);
    if (e && created)
        atomic_init(&e->ls.seq, 0);
    pthread_mutex_unlock(&st->mu);
    return e ? &e->ls : NULL;
}

void dp_suspensions_foreach_target(struct dp_suspensions *st,
                             void (*fn)(const struct dp_target_state *t, void *arg), void *arg)
{
    pthread_mutex_lock(&st->mu);
    for (struct entry_head *e = st->target_list; e; e = e->next)
        fn(&((struct target_entry *)e)->ts, arg);
    pthread_mutex_unlock(&st->mu);
}

void dp_target_suspend(struct dp_target_state *t, int64_t now_ms, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    int64_t until = now_ms + ms;
    int64_t cur = atomic_load_explicit(&t->suspended_until_ms, memory_order_relaxed);
    /* Never shorten: another thread may have set a longer Retry-After. */
    while (cur < until &&
           !atomic_compare_exchange_weak_explicit(&t->suspended_until_ms, &cur, until,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}
