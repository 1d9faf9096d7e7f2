/* Shared rate-limit counters in Redis (--redis), driven by the worker loops.
 *
 * struct dp_rl_redis is the process-wide part: the server address (resolved
 * once, on the main thread, so no worker ever blocks on DNS), and whether the
 * counters are shared right now (every worker connected) or not, which it logs
 * once per outage and reports as modelmux_ratelimit_backend_up.
 *
 * struct dp_rl_redis_conn is one worker's hiredis async connection, attached
 * to that worker's struct dp_loop by a small adapter (hiredis read/write
 * hooks -> dp_loop_watch). Each admission or settle is one EVALSHA of one Lua
 * script (EVAL when the server answers NOSCRIPT), which checks the limits and
 * counts atomically in Redis and sets the window key to expire at the
 * window's end. After every (re)connect, each window's first admission
 * carries the local counts as floors (see dp_rl_redis_admit). Every command has a timeout (a loop timer); a connection that
 * makes no progress for a while, or fails, is dropped and re-established with
 * exponential backoff. Nothing here ever blocks the loop.
 *
 * Threads: dp_rl_redis_new/free on the main thread; a conn is used only on
 * its worker's thread; dp_rl_redis_up from any thread. */
#ifndef DP_RL_REDIS_H
#define DP_RL_REDIS_H

#include "common/err.h"
#include "loop.h"
#include "rl_local.h"

#include <stdint.h>

struct dp_rl_redis;
struct dp_rl_redis_conn;

/* Timing (ms). */
#define DP_RL_REDIS_CMD_TIMEOUT_MS 200    /* a command's reply is late: caller decides locally */
#define DP_RL_REDIS_STALL_MS 1000         /* no reply at all for this long: drop the connection */
#define DP_RL_REDIS_HANDSHAKE_MS 500      /* connect + SCRIPT LOAD must finish within this */
#define DP_RL_REDIS_BACKOFF_MIN_MS 50     /* first reconnect delay, doubled per failure ... */
#define DP_RL_REDIS_BACKOFF_MAX_MS 1000   /* ... up to this */

/* The outcome of one admission in Redis. status 0: counts holds the window's
 * counters as the script left them (requests including this one when
 * admitted) and admitted is 1 or 0; status -1: no answer (connection lost,
 * timeout, error reply), decide locally; admitted and counts are then
 * meaningless. Called exactly once per accepted dp_rl_redis_admit, from the
 * worker's loop, never from inside dp_rl_redis_admit. */
typedef void (*dp_rl_redis_admit_fn)(void *arg, int status, int admitted,
                                     const int64_t counts[DP_RL_NCOUNTERS]);

/* Parses "redis://HOST:PORT" (PORT defaults to 6379; a trailing "/" or
 * "/0" is accepted) and resolves HOST. Returns NULL with err (kind
 * GW_ERR_INVALID) on a bad URL or an unknown host, or on no memory. */
struct dp_rl_redis *dp_rl_redis_new(const char *url, struct gw_err *err);

/* Frees it; every conn must be freed first. NULL is a no-op. */
void dp_rl_redis_free(struct dp_rl_redis *r);

/* 1 when every worker's connection is up (counters shared), else 0. */
int dp_rl_redis_up(const struct dp_rl_redis *r);

/* Creates a worker's connection and starts connecting (asynchronously).
 * Returns NULL when out of memory. */
struct dp_rl_redis_conn *dp_rl_redis_conn_new(struct dp_rl_redis *r, struct dp_loop *loop);

/* Closes the connection; commands in flight get their callbacks (status -1)
 * before it returns. Not from inside one of those callbacks. NULL is a
 * no-op. */
void dp_rl_redis_conn_free(struct dp_rl_redis_conn *c);

/* Sends one admission for window key (ttl_s: seconds to the window's end)
 * under limits (-1: none). floors (may be NULL): the window's counters in
 * Redis are first raised to at least these (take the larger), so that a
 * Redis that lost its data starts from what this process counted. Returns 0
 * when sent (fn runs later, exactly once), or -1 when the connection is not
 * up or out of memory (fn never runs). */
int dp_rl_redis_admit(struct dp_rl_redis_conn *c, const char *key, int64_t ttl_s,
                      const int64_t limits[DP_RL_NCOUNTERS],
                      const int64_t floors[DP_RL_NCOUNTERS], dp_rl_redis_admit_fn fn, void *arg);

/* Which incarnation of Redis the connections talk to, as far as this
 * process can tell: it changes whenever a connection (re)completes its
 * handshake, which a restarted Redis forces. Any thread. */
uint32_t dp_rl_redis_epoch(struct dp_rl_redis *r);

/* Adds token usage add[DP_RL_C_PROMPT..DP_RL_C_TOTAL] (values <= 0 skipped)
 * to window key, fire and forget. Returns 0 when sent, -1 when not up. */
int dp_rl_redis_settle(struct dp_rl_redis_conn *c, const char *key, int64_t ttl_s,
                       const int64_t add[DP_RL_NCOUNTERS]);

#endif
