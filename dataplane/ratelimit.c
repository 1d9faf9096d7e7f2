/* AI rate limiting: windows, keys and the decision (see ratelimit.h).
 *
 * This file owns the module API and the arithmetic: which fixed window a
 * time falls in, the key of a (policy scope, window), and how counters turn
 * into a decision and the x-ratelimit-* values. The counters themselves live
 * in rl_local.c (always) and rl_redis.c (with --redis). With Redis up, an
 * admission is decided by the Redis script and the answer's counts are merged
 * into the local table, so that when Redis goes away the local counters carry
 * on from the last shared counts instead of from zero. Token usage is always
 * added locally too, for the same reason.
 *
 * Threads: struct dp_rl is shared (its parts are thread-safe); each struct
 * dp_rl_worker belongs to one worker thread. */
#include "ratelimit.h"

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/log.h"
#include "rl_local.h"
#include "rl_redis.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Windows of all policies and scopes held at once by the local table: its
 * first generation, and the most it grows to (about 1M live windows, some
 * 56 MiB; a window is one API, or one application of it, in one unit). */
#define LOCAL_SLOTS 65536
#define LOCAL_MAX_SLOTS (1u << 20)
/* At most one "table full" log line per this many ms. */
#define FULL_LOG_EVERY_MS 60000
/* Ids longer than this are replaced by their SHA-256 in keys. */
#define KEY_ID_MAX 128
#define KEY_MAX 384

struct dp_rl {
    struct dp_rl_local *local;
    struct dp_rl_redis *redis; /* NULL without --redis */
    atomic_uint_fast64_t full;      /* counts the local table could not store */
    _Atomic int64_t full_logged_ms; /* when the last "table full" line was logged */
};

struct dp_rl_worker {
    struct dp_rl *rl;
    struct dp_loop *loop;
    struct dp_rl_redis_conn *conn; /* NULL without --redis */
};

/* One window of one scope. */
struct window {
    int64_t start_s;
    int64_t end_s;
    uint64_t hash; /* key of the local table */
    char key[KEY_MAX];
};

/* An admission waiting for Redis. It copies what it needs from the policy:
 * once done() has run, the request (and the config it holds) may be gone. */
struct pending {
    struct dp_rl_worker *w;
    int64_t limits[DP_RL_NCOUNTERS];
    struct window win;
    int64_t now_ms;
    dp_rl_done_fn done;
    void *arg;
};

/* ---- windows and keys ----------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The window of now_ms for unit (seconds): [start, start + unit). */
static void window_bounds(enum dp_rl_unit unit, int64_t now_ms, int64_t *start_s, int64_t *end_s)
{
    int64_t u = (int64_t)unit > 0 ? (int64_t)unit : 60;
    int64_t now_s = floor_div(now_ms, 1000);
    *start_s = now_s - (now_s % u + u) % u;
    *end_s = *start_s + u;
}

/* Whole seconds from now_ms to end_s, rounded up, at least 1. */
static int64_t secs_to_end(int64_t end_s, int64_t now_ms)
{
    int64_t ms = end_s * 1000 - now_ms;
    int64_t s = (ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a ... */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    h ^= h >> 33; /* ... with a final mix, as the table uses high bits */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* An id as it goes into a key: itself, or its SHA-256 when absurdly long
 * (ids are at most 64 characters by the schema; this keeps keys bounded). */
static const char *key_id(const char *id, char hex[GW_SHA256_HEX_LEN + 1])
{
    size_t n = strlen(id);
    if (n <= KEY_ID_MAX)
        return id;
    gw_sha256_hex(id, n, hex);
    return hex;
}

/* Fills win for policy p at now_ms. The key names the unit, the window start,
 * the API (length-prefixed, so no id can fake another's key) and, for scope
 * application, the application ("-" for one budget per API). */
static void window_of(const struct dp_ratelimit *p, const char *api_id, const char *app_id,
                      int64_t now_ms, struct window *win)
{
    char h1[GW_SHA256_HEX_LEN + 1], h2[GW_SHA256_HEX_LEN + 1];
    window_bounds(p->unit, now_ms, &win->start_s, &win->end_s);
    const char *api = key_id(api_id ? api_id : "", h1);
    const char *app = (p->per_application && app_id) ? key_id(app_id, h2) : NULL;
    snprintf(win->key, sizeof(win->key), "mmrl:%d:%" PRId64 ":%zu:%s:%s%s", (int)p->unit,
             win->start_s, strlen(api), api, app ? "a" : "-", app ? app : "");
    win->hash = hash_str(win->key);
}

static void limits_of(const struct dp_ratelimit *p, int64_t limits[DP_RL_NCOUNTERS])
{
    limits[DP_RL_C_REQUESTS] = p->requests;
    limits[DP_RL_C_PROMPT] = p->request_tokens;
    limits[DP_RL_C_COMPLETION] = p->response_tokens;
    limits[DP_RL_C_TOTAL] = p->total_tokens;
}

/* ---- the decision ---------------------------------------------------------- */

static int64_t left(int64_t limit, int64_t used)
{
    return used >= limit ? 0 : limit - used;
}

/* Turns a window's counters into the result. counts are as the admission
 * left them (requests include this one when admitted). The token header pair
 * reports the total-token limit, or else whichever of the prompt and
 * completion limits has the least left (the one that will refuse first; the
 * smaller limit on a tie). */
static void fill_result(const int64_t limits[DP_RL_NCOUNTERS],
                        const int64_t counts[DP_RL_NCOUNTERS], int admitted, int64_t end_s,
                        int64_t now_ms, struct dp_rl_result *res)
{
    res->limited = !admitted;
    res->retry_after_s = admitted ? 0 : secs_to_end(end_s, now_ms);
    res->limit_requests = limits[DP_RL_C_REQUESTS];
    res->remaining_requests =
        res->limit_requests >= 0 ? left(res->limit_requests, counts[DP_RL_C_REQUESTS]) : -1;
    res->limit_tokens = -1;
    res->remaining_tokens = -1;
    if (limits[DP_RL_C_TOTAL] >= 0) {
        res->limit_tokens = limits[DP_RL_C_TOTAL];
        res->remaining_tokens = left(limits[DP_RL_C_TOTAL], counts[DP_RL_C_TOTAL]);
        return;
    }
    for (int i = DP_RL_C_PROMPT; i <= DP_RL_C_COMPLETION; i++) {
        if (limits[i] < 0)
            continue;
        int64_t rem = left(limits[i], counts[i]);
        if (res->limit_tokens < 0 || rem < res->remaining_tokens ||
            (rem == res->remaining_tokens && limits[i] < res->limit_tokens)) {
            res->limit_tokens = limits[i];
            res->remaining_tokens = rem;
        }
    }
}

/* The local table had no room for a window: what it could not count is
 * counted as over the limit (a request is refused, never admitted
 * uncounted). Says so in the log (at most once a minute) and in
 * modelmux_ratelimit_local_full_total. */
static void table_full(struct dp_rl *rl, int64_t now_ms, const char *what)
{
    atomic_fetch_add(&rl->full, 1);
    int64_t last = atomic_load(&rl->full_logged_ms);
    if ((last == 0 || now_ms - last >= FULL_LOG_EVERY_MS) &&
        atomic_compare_exchange_strong(&rl->full_logged_ms, &last, now_ms ? now_ms : 1))
        gw_warn("rate limit: local counter table full (%llu windows, its maximum), %s",
                (unsigned long long)dp_rl_local_capacity(rl->local), what);
}

static void decide_locally(struct dp_rl *rl, const int64_t limits[DP_RL_NCOUNTERS],
                           const struct window *win, int64_t now_ms, struct dp_rl_result *res)
{
    int64_t counts[DP_RL_NCOUNTERS] = {0, 0, 0, 0};
    int r = dp_rl_local_admit(rl->local, win->hash, win->end_s, now_ms / 1000, limits, counts);
    if (r < 0) {
        table_full(rl, now_ms, "refusing requests it cannot count (429)");
        for (int i = 0; i < DP_RL_NCOUNTERS; i++)
            counts[i] = limits[i] >= 0 ? limits[i] : 0; /* reported as spent */
        r = 0;
    }
    fill_result(limits, counts, r, win->end_s, now_ms, res);
}

/* ---- API ------------------------------------------------------------------- */

struct dp_rl *dp_rl_new(const char *redis_url, struct gw_err *err)
{
    struct dp_rl *rl = gw_calloc(1, sizeof(*rl));
    if (!rl)
        goto nomem;
    rl->local = dp_rl_local_new(LOCAL_SLOTS, LOCAL_MAX_SLOTS);
    if (!rl->local)
        goto nomem;
    if (redis_url) {
        rl->redis = dp_rl_redis_new(redis_url, err);
        if (!rl->redis)
            goto fail;
    }
    return rl;
nomem:
    gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory creating the rate limiter");
fail:
    dp_rl_free(rl);
    return NULL;
}

void dp_rl_free(struct dp_rl *rl)
{
    if (!rl)
        return;
    dp_rl_redis_free(rl->redis);
    dp_rl_local_free(rl->local);
    gw_free(rl);
}

struct dp_rl_worker *dp_rl_worker_new(struct dp_rl *rl, struct dp_loop *loop)
{
    struct dp_rl_worker *w = gw_calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->rl = rl;
    w->loop = loop;
    if (rl->redis) {
        w->conn = dp_rl_redis_conn_new(rl->redis, loop);
        if (!w->conn) {
            gw_free(w);
            return NULL;
        }
    }
    return w;
}

void dp_rl_worker_free(struct dp_rl_worker *w)
{
    if (!w)
        return;
    dp_rl_redis_conn_free(w->conn); /* completes pending admissions locally */
    gw_free(w);
}

static void on_redis_admit(void *arg, int status, int admitted,
                           const int64_t counts[DP_RL_NCOUNTERS])
{
    struct pending *pd = arg;
    struct dp_rl *rl = pd->w->rl;
    struct dp_rl_result res;
    if (status == 0) {
        dp_rl_local_merge(rl->local, pd->win.hash, pd->win.end_s, pd->now_ms / 1000, counts);
        fill_result(pd->limits, counts, admitted, pd->win.end_s, pd->now_ms, &res);
    } else {
        decide_locally(rl, pd->limits, &pd->win, pd->now_ms, &res);
    }
    dp_rl_done_fn done = pd->done;
    void *darg = pd->arg;
    gw_free(pd);
    done(darg, &res);
}

void dp_rl_admit(struct dp_rl_worker *w, const struct dp_ratelimit *p, const char *api_id,
                 const char *app_id, int64_t now_ms, dp_rl_done_fn done, void *arg)
{
    struct dp_rl_result res;
    int64_t limits[DP_RL_NCOUNTERS];
    struct window win;
    limits_of(p, limits);
    window_of(p, api_id, app_id, now_ms, &win);
    if (w->conn) {
        struct pending *pd = gw_malloc(sizeof(*pd));
        if (pd) {
            pd->w = w;
            memcpy(pd->limits, limits, sizeof(limits));
            pd->win = win;
            pd->now_ms = now_ms;
            pd->done = done;
            pd->arg = arg;
            /* Once per window and Redis incarnation: raise Redis's counters to
             * what this process counted, so a Redis that came back empty does
             * not reopen a spent window (issue 11 item 16). */
            int64_t seed[DP_RL_NCOUNTERS];
            int seeding = dp_rl_local_seed(w->rl->local, win.hash, win.end_s, now_ms / 1000,
                                           dp_rl_redis_epoch(w->rl->redis), seed);
            if (dp_rl_redis_admit(w->conn, win.key, secs_to_end(win.end_s, now_ms), limits,
                                  seeding ? seed : NULL, on_redis_admit, pd) == 0)
                return;
            gw_free(pd);
        }
    }
    decide_locally(w->rl, limits, &win, now_ms, &res);
    done(arg, &res);
}

void dp_rl_settle(struct dp_rl_worker *w, const struct dp_ratelimit *p, const char *api_id,
                  const char *app_id, int64_t prompt, int64_t completion, int64_t total,
                  int64_t now_ms)
{
    /* A vendor that reports no total still spends prompt + completion. */
    if (total < 0 && prompt >= 0 && completion >= 0)
        total = prompt + completion;
    int64_t add[DP_RL_NCOUNTERS] = {0, prompt, completion, total};
    if (prompt <= 0 && completion <= 0 && total <= 0)
        return;
    struct window win;
    window_of(p, api_id, app_id, now_ms, &win);
    if (dp_rl_local_add(w->rl->local, win.hash, win.end_s, now_ms / 1000, add) != 0)
        table_full(w->rl, now_ms, "token usage not counted locally");
    if (w->conn)
        dp_rl_redis_settle(w->conn, win.key, secs_to_end(win.end_s, now_ms), add);
}

int dp_rl_backend_up(const struct dp_rl *rl)
{
    if (!rl->redis)
        return -1;
    return dp_rl_redis_up(rl->redis);
}

void dp_rl_table_metrics(const struct dp_rl *rl, struct gw_buf *out)
{
    gw_buf_printf(out,
                  "# HELP modelmux_ratelimit_local_windows Windows the local rate-limit "
                  "counter table can hold now (it grows up to a bound).\n"
                  "# TYPE modelmux_ratelimit_local_windows gauge\n"
                  "modelmux_ratelimit_local_windows %llu\n"
                  "# HELP modelmux_ratelimit_local_full_total Requests refused (and token "
                  "counts dropped) because the local counter table had no room.\n"
                  "# TYPE modelmux_ratelimit_local_full_total counter\n"
                  "modelmux_ratelimit_local_full_total %llu\n",
                  (unsigned long long)dp_rl_local_capacity(rl->local),
                  (unsigned long long)atomic_load(&rl->full));
}

void dp_rl_metrics(const struct dp_rl *rl, struct gw_buf *out)
{
    int up = dp_rl_backend_up(rl);
    if (up < 0)
        return;
    gw_buf_printf(out,
                  "# HELP modelmux_ratelimit_backend_up 1 when rate-limit counters are shared "
                  "through Redis, 0 when serving on local counters.\n"
                  "# TYPE modelmux_ratelimit_backend_up gauge\n"
                  "modelmux_ratelimit_backend_up %d\n",
                  up);
}
