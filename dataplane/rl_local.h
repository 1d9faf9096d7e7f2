/* The process-local rate-limit counters, shared by every worker thread.
 *
 * A table of windows, each keyed by a 64-bit hash of api|app|unit|window
 * start and holding four counters (requests, prompt, completion and total
 * tokens). Lookups of an existing window are lock-free (an acquire load of
 * each slot's key in one small bucket per generation, see below); creating a
 * window takes the lock of that key's stripe, once per key and window, so no
 * two threads ever create the same window twice. Counters are atomics:
 * admission is one compare-and-swap loop on the request counter, so under
 * any concurrency a budget of N requests admits exactly N.
 *
 * Old windows are reclaimed in place: a slot whose window ended more than
 * DP_RL_LOCAL_GRACE_S seconds ago is reused by the next key that hashes to
 * its bucket (the grace keeps a straggler that looked the slot up just before
 * the window ended from counting into its successor). A live window is never
 * evicted. When every bucket a key may use holds live windows, the table
 * grows by one generation (twice the previous one's size), up to the maximum
 * given at creation; only then does it answer "no room", and the caller
 * counts that request as over its limit (issue 11 item 15: 20,000
 * applications with one request a day each must not get a second one
 * through because their keys collided).
 *
 * Threads: any; dp_rl_local_new/free on the main thread. */
#ifndef DP_RL_LOCAL_H
#define DP_RL_LOCAL_H

#include <stdint.h>

/* The counters of one window. Coupled: the Redis script (rl_redis.c) returns
 * them in this order. */
enum dp_rl_counter {
    DP_RL_C_REQUESTS = 0,   /* requests admitted */
    DP_RL_C_PROMPT = 1,     /* prompt tokens (requestTokens) */
    DP_RL_C_COMPLETION = 2, /* completion tokens (responseTokens) */
    DP_RL_C_TOTAL = 3       /* total tokens (totalTokens) */
};
#define DP_RL_NCOUNTERS 4

#define DP_RL_LOCAL_GRACE_S 5

struct dp_rl_local;

/* Creates a table of at least nslots windows (rounded up to a power of two,
 * at least DP_RL_LOCAL_MIN_SLOTS) that may grow to about max_slots windows
 * (never less than its first generation). Returns NULL when out of memory. */
#define DP_RL_LOCAL_MIN_SLOTS 512
struct dp_rl_local *dp_rl_local_new(uint32_t nslots, uint32_t max_slots);

/* Frees the table. NULL is a no-op. No other thread may use it any more. */
void dp_rl_local_free(struct dp_rl_local *t);

/* Admits one request in window key (ending at end_s, Unix seconds) when no
 * counter has reached its limit (limits[i] < 0: no limit): the request
 * counter is then incremented atomically. counts receives the counters as
 * this request left them (requests including this one when admitted).
 * Returns 1 admitted, 0 refused, -1 when the table has no room for the
 * window even after growing to its maximum (every slot it may use holds a
 * live window: the caller counts the request as over the limit, never as
 * admitted). now_s is the caller's wall clock. */
int dp_rl_local_admit(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                      const int64_t limits[DP_RL_NCOUNTERS], int64_t counts[DP_RL_NCOUNTERS]);

/* Adds add[i] (values <= 0 skipped) to the counters of window key.
 * Returns 0, or -1 when the table has no room. */
int dp_rl_local_add(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                    const int64_t add[DP_RL_NCOUNTERS]);

/* Raises each counter of window key to at least seen[i]: the shared counts
 * Redis reported, so that a fallback to local counters starts from them.
 * Returns 0, or -1 when the table has no room. */
int dp_rl_local_merge(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                      const int64_t seen[DP_RL_NCOUNTERS]);

/* The seeding of a shared store (Redis) from this table: epoch names the
 * store's current incarnation (it changes on every reconnect). The first
 * caller for window key in a new epoch gets 1 and the window's counters in
 * counts (to raise the store's counters to at least them); every other call
 * gets 0. 0 also when the window is absent and there is no room for it, or
 * when all its counters are 0 (nothing to seed). */
int dp_rl_local_seed(struct dp_rl_local *t, uint64_t key, int64_t end_s, int64_t now_s,
                     uint32_t epoch, int64_t counts[DP_RL_NCOUNTERS]);

/* Windows the table can hold right now (it grows up to its maximum). */
uint64_t dp_rl_local_capacity(const struct dp_rl_local *t);

/* Reads the counters of window key (zeros when absent). For tests. */
void dp_rl_local_read(struct dp_rl_local *t, uint64_t key, int64_t counts[DP_RL_NCOUNTERS]);

#endif
