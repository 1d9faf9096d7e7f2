/* AI rate limiting (the aiRateLimit policy, SPEC 3.1 step 3 and 3.3).
 *
 * Fixed windows aligned to the UTC minute/hour/day. Four counters per window
 * and scope (API, or API + application): requests, prompt tokens, completion
 * tokens, total tokens. A request is admitted when no counter of its window
 * has reached its limit; admission counts the request atomically. Tokens are
 * added when the response's usage is known (dp_rl_settle).
 *
 * Counters live in this process's memory (shared by the workers, atomics and
 * a lock-free or striped table, never a global lock per request) and, with
 * --redis, in Redis: each worker then has its own hiredis async connection
 * driven by its event loop (loop.h), so admission may complete later, from
 * the loop, without ever blocking it. When Redis is unreachable the module
 * falls back to the local counters, logs once per outage, reports
 * modelmux_ratelimit_backend_up 0, and reconnects with backoff. Once Redis is
 * back (or after any reconnect), the first admission of each window raises
 * Redis's counters to the local ones, so a restarted, empty Redis does not
 * reopen a window already spent. When the local table has no room for a
 * window, the request counts as over its limit (429), never as admitted.
 *
 * Threads: dp_rl_new/free on the main thread; a struct dp_rl_worker belongs
 * to one worker thread and is used only from it. */
#ifndef DP_RATELIMIT_H
#define DP_RATELIMIT_H

#include "common/buf.h"
#include "common/err.h"
#include "config.h"
#include "loop.h"

#include <stdint.h>

struct dp_rl;
struct dp_rl_worker;

/* The decision for one request, and what the x-ratelimit-* headers say.
 * Values are -1 where not applicable (no such limit). */
struct dp_rl_result {
    int limited;                /* 1: answer 429 */
    int64_t retry_after_s;      /* when limited: seconds to the window's end */
    int64_t limit_requests;     /* x-ratelimit-limit-requests */
    int64_t remaining_requests; /* x-ratelimit-remaining-requests (after this one) */
    int64_t limit_tokens;       /* x-ratelimit-limit-tokens (total, else tightest) */
    int64_t remaining_tokens;   /* x-ratelimit-remaining-tokens */
};

/* Called exactly once per dp_rl_admit, on the worker's thread: possibly
 * before dp_rl_admit returns (local counters), or later from the worker's
 * loop (Redis reply, or fallback to local counters on a Redis error). */
typedef void (*dp_rl_done_fn)(void *arg, const struct dp_rl_result *res);

/* Creates the process-wide limiter. redis_url is NULL (local counters only)
 * or "redis://HOST:PORT". Returns NULL with err on a bad URL or no memory. */
struct dp_rl *dp_rl_new(const char *redis_url, struct gw_err *err);

/* Frees it; all workers must be freed first. NULL is a no-op. */
void dp_rl_free(struct dp_rl *rl);

/* Attaches a worker (its event loop) to the limiter. NULL on no memory. */
struct dp_rl_worker *dp_rl_worker_new(struct dp_rl *rl, struct dp_loop *loop);

/* Detaches and frees; pending admissions are completed (local decision)
 * before it returns. NULL is a no-op. */
void dp_rl_worker_free(struct dp_rl_worker *w);

/* Admits (or refuses) one request of api under policy p for application
 * app_id (may be NULL for unsecured operations; then the scope is the API).
 * now_ms is wall-clock ms (gw_wall_ms: windows are UTC-aligned). */
void dp_rl_admit(struct dp_rl_worker *w, const struct dp_ratelimit *p, const char *api_id,
                 const char *app_id, int64_t now_ms, dp_rl_done_fn done, void *arg);

/* Adds a response's token usage (values < 0 are ignored) to the window of
 * now_ms. Fire and forget. */
void dp_rl_settle(struct dp_rl_worker *w, const struct dp_ratelimit *p, const char *api_id,
                  const char *app_id, int64_t prompt, int64_t completion, int64_t total,
                  int64_t now_ms);

/* 1 when counters are shared through Redis right now, 0 when on local
 * counters because Redis is down, -1 when no Redis is configured. */
int dp_rl_backend_up(const struct dp_rl *rl);

/* Appends the limiter's Prometheus lines (modelmux_ratelimit_backend_up ...)
 * to out; nothing without --redis. */
void dp_rl_metrics(const struct dp_rl *rl, struct gw_buf *out);

/* Appends the local table's lines (modelmux_ratelimit_local_windows,
 * modelmux_ratelimit_local_full_total) to out. */
void dp_rl_table_metrics(const struct dp_rl *rl, struct gw_buf *out);

#endif
