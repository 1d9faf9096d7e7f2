/* Shared rate-limit counters in Redis through hiredis's async API on the
 * worker loops (see rl_redis.h).
 *
 * Connection life cycle of one worker (struct dp_rl_redis_conn):
 *
 *   DOWN --retry timer--> CONNECTING --SCRIPT LOAD answered--> UP
 *     ^                       |  handshake timeout, error          |
 *     +-----------------------+------------------------------------+
 *                  connection lost, stalled (no reply for STALL_MS)
 *
 * Only UP takes commands; in every other state the caller decides on local
 * counters at once, so an outage costs no latency beyond the commands that
 * were in flight when it began (each bounded by CMD_TIMEOUT_MS).
 *
 * hiredis tears a context down synchronously (pending callbacks with a NULL
 * reply, then the adapter's cleanup hook, maybe twice). The cleanup hook is
 * therefore the one place that notices "this context is gone": it unwatches
 * the fd, leaves UP, and schedules the reconnect. Commands are never issued
 * on a context flagged DISCONNECTING/FREEING (hiredis refuses them anyway).
 *
 * Threads: see rl_redis.h. The process-wide up/down state uses atomics only. */
#include "rl_redis.h"

#include "common/alloc.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one script. KEYS[1] is the window's hash (fields r, p, c, t);
 * ARGV[1] is "admit" or "settle", ARGV[2] the seconds to the window's end.
 * admit: ARGV[3..6] are the limits of r, p, c, t (-1: none); ARGV[7..10],
 * when present, are floors: counters below them are first raised to them
 * (the data plane's own counts, after Redis came back empty). Then, when no
 * limit has been reached, counts the request; answers {admitted, r, p, c, t}.
 * settle: ARGV[3..5] are the prompt, completion, total tokens to add.
 * Coupled: the field order is enum dp_rl_counter's. */
static const char SCRIPT[] =
    "local k = KEYS[1]\n"
    "if ARGV[1] == 'settle' then\n"
    "  local f = {'p', 'c', 't'}\n"
    "  for i = 1, 3 do\n"
    "    local n = tonumber(ARGV[2 + i])\n"
    "    if n > 0 then redis.call('HINCRBY', k, f[i], n) end\n"
    "  end\n"
    "  redis.call('EXPIRE', k, ARGV[2])\n"
    "  return 0\n"
    "end\n"
    "local f = {'r', 'p', 'c', 't'}\n"
    "local v = redis.call('HMGET', k, 'r', 'p', 'c', 't')\n"
    "local ok = 1\n"
    "local wrote = 0\n"
    "for i = 1, 4 do\n"
    "  v[i] = tonumber(v[i]) or 0\n"
    "  local floor = tonumber(ARGV[6 + i] or '-1')\n"
    "  if floor > v[i] then\n"
    "    redis.call('HSET', k, f[i], floor)\n"
    "    v[i] = floor\n"
    "    wrote = 1\n"
    "  end\n"
    "  local lim = tonumber(ARGV[2 + i])\n"
    "  if lim >= 0 and v[i] >= lim then ok = 0 end\n"
    "end\n"
    "if ok == 1 then\n"
    "  v[1] = redis.call('HINCRBY', k, 'r', 1)\n"
    "  wrote = 1\n"
    "end\n"
    "if wrote == 1 then redis.call('EXPIRE', k, ARGV[2]) end\n"
    "return {ok, v[1], v[2], v[3], v[4]}\n";

struct dp_rl_redis {
    char host[INET6_ADDRSTRLEN]; /* numeric: connecting never resolves */
    int port;
    char name[280]; /* HOST:PORT as given, for logs */
    atomic_int nconns;
    atomic_int nready;
    atomic_int outage; /* 1 between the "unreachable" and "back" log lines */
    atomic_uint epoch; /* handshakes completed so far (see dp_rl_redis_epoch) */
};

enum conn_state {
    ST_DOWN,       /* no context; a retry timer is pending (unless closing) */
    ST_CONNECTING, /* context exists, SCRIPT LOAD not answered yet */
    ST_UP          /* takes commands */
};

struct dp_rl_redis_conn {
    struct dp_rl_redis *r;
    struct dp_loop *loop;
    redisAsyncContext *ac; /* NULL in ST_DOWN */
    int fd;                /* watched fd, -1 when none */
    uint32_t mask;         /* EPOLLIN / EPOLLOUT hiredis asked for */
    enum conn_state state;
    int closing;
    struct dp_timer *retry_timer;
    struct dp_timer *handshake_timer;
    int64_t backoff_ms;
    char sha[48];        /* the script's SHA1, set by SCRIPT LOAD */
    int npending;        /* commands sent, reply not yet in */
    int64_t progress_ms; /* last reply, or when npending left 0 */
};

enum op_kind {
    OP_ADMIT, /* fn set; answered at most once */
    OP_SETTLE /* fire and forget */
};

/* One command in flight; freed by its hiredis callback, which hiredis runs
 * exactly once (with a NULL reply when the context goes away). */
struct op {
    struct dp_rl_redis_conn *c;
    enum op_kind kind;
    int answered;
    int retried; /* NOSCRIPT: resent once with EVAL */
    int seeding; /* admissions: floors holds the counts to raise Redis's to */
    int64_t floors[DP_RL_NCOUNTERS];
    dp_rl_redis_admit_fn fn;
    void *arg;
    struct dp_timer *timer; /* command timeout (admissions only) */
    int64_t ttl_s;
    int64_t nums[DP_RL_NCOUNTERS];
    char key[]; /* NUL-terminated */
};

static void conn_start(struct dp_rl_redis_conn *c);

/* ---- process-wide state ---------------------------------------------------- */

static void report_failure(struct dp_rl_redis *r, const char *why)
{
    if (!atomic_exchange(&r->outage, 1))
        gw_warn("rate limit: Redis %s unreachable (%s): serving on local counters until it is "
                "back",
                r->name, why);
}

static void report_ready(struct dp_rl_redis *r)
{
    int ready = atomic_fetch_add(&r->nready, 1) + 1;
    if (ready == atomic_load(&r->nconns) && atomic_exchange(&r->outage, 0))
        gw_info("rate limit: Redis %s reachable again: counters shared", r->name);
}

uint32_t dp_rl_redis_epoch(struct dp_rl_redis *r)
{
    return atomic_load(&r->epoch);
}

int dp_rl_redis_up(const struct dp_rl_redis *r)
{
    int n = atomic_load(&r->nconns);
    return n > 0 && atomic_load(&r->nready) == n;
}

static int parse_url(const char *url, char *host, size_t hostsz, int *port)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    const char *end = p + strcspn(p, "/");
    if (*end && strcmp(end, "/") != 0 && strcmp(end, "/0") != 0)
        return -1; /* a path other than database 0 */
    const char *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return -1;
        if (rb + 1 < end && rb[1] != ':')
            return -1;
        colon = rb + 1 < end ? rb + 1 : NULL;
        if ((size_t)(rb - p - 1) >= hostsz)
            return -1;
        memcpy(host, p + 1, (size_t)(rb - p - 1));
        host[rb - p - 1] = '\0';
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        const char *hend = colon ? colon : end;
        if (hend == p || (size_t)(hend - p) >= hostsz || memchr(p, '@', (size_t)(hend - p)))
            return -1;
        memcpy(host, p, (size_t)(hend - p));
        host[hend - p] = '\0';
    }
    if (!host[0])
        return -1;
    *port = 6379;
    if (colon) {
        long v = 0;
        const char *d = colon + 1;
        if (d == end)
            return -1;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            v = v * 10 + (*d - '0');
            if (v > 65535)
                return -1;
        }
        if (v < 1)
            return -1;
        *port = (int)v;
    }
    return 0;
}

struct dp_rl_redis *dp_rl_redis_new(const char *url, struct gw_err *err)
{
    char host[256];
    int port;
    if (!url || strlen(url) > 300 || parse_url(url, host, sizeof(host), &port) != 0) {
        gw_err_set(err, GW_ERR_INVALID, "bad_redis_url", "--redis",
                   "--redis: expected redis://HOST:PORT");
        return NULL;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
        gw_err_set(err, GW_ERR_INVALID, "bad_redis_url", "--redis",
                   "--redis: cannot resolve host '%s'", host);
        return NULL;
    }
    struct dp_rl_redis *r = gw_calloc(1, sizeof(*r));
    if (!r) {
        freeaddrinfo(res);
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    const void *a = res->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    inet_ntop(res->ai_family, a, r->host, sizeof(r->host));
    freeaddrinfo(res);
    r->port = port;
    snprintf(r->name, sizeof(r->name), "%s:%d", host, port);
    return r;
}

void dp_rl_redis_free(struct dp_rl_redis *r)
{
    gw_free(r);
}

/* ---- the hiredis adapter ------------------------------------------------- */

static void on_fd(struct dp_loop *loop, int fd, uint32_t events, void *arg)
{
    (void)loop;
    (void)fd;
    struct dp_rl_redis_conn *c = arg;
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        redisAsyncHandleRead(ac);
    /* The read may have torn the context down (cleanup sets c->ac = NULL). */
    if (c->ac == ac && (events & EPOLLOUT))
        redisAsyncHandleWrite(ac);
}

static void set_mask(struct dp_rl_redis_conn *c, uint32_t mask)
{
    if (c->fd < 0 || mask == c->mask)
        return;
    c->mask = mask;
    /* A failed watch (no memory) leaves the connection mute; the stall or
     * handshake timeout then drops it. */
    if (dp_loop_watch(c->loop, c->fd, mask, on_fd, c) != 0)
        gw_warn("rate limit: cannot watch the Redis connection");
}

static void ev_add_read(void *p)
{
    struct dp_rl_redis_conn *c = p;
    set_mask(c, c->mask | EPOLLIN);
}

static void ev_del_read(void *p)
{
    struct dp_rl_redis_conn *c = p;
    set_mask(c, c->mask & ~(uint32_t)EPOLLIN);
}

static void ev_add_write(void *p)
{
    struct dp_rl_redis_conn *c = p;
    set_mask(c, c->mask | EPOLLOUT);
}

static void ev_del_write(void *p)
{
    struct dp_rl_redis_conn *c = p;
    set_mask(c, c->mask & ~(uint32_t)EPOLLOUT);
}

static void on_retry(struct dp_loop *loop, void *arg)
{
    (void)loop;
    struct dp_rl_redis_conn *c = arg;
    c->retry_timer = NULL;
    conn_start(c);
}

/* The connection is gone (or never came): back to DOWN, retry later. */
static void conn_lost(struct dp_rl_redis_conn *c, const char *why)
{
    if (c->state == ST_UP)
        atomic_fetch_sub(&c->r->nready, 1);
    c->state = ST_DOWN;
    c->ac = NULL;
    c->sha[0] = '\0';
    if (c->handshake_timer) {
        dp_loop_timer_cancel(c->loop, c->handshake_timer);
        c->handshake_timer = NULL;
    }
    if (c->closing)
        return;
    report_failure(c->r, why);
    if (!c->retry_timer)
        c->retry_timer = dp_loop_timer_add(c->loop, c->backoff_ms, on_retry, c);
    c->backoff_ms *= 2;
    if (c->backoff_ms > DP_RL_REDIS_BACKOFF_MAX_MS)
        c->backoff_ms = DP_RL_REDIS_BACKOFF_MAX_MS;
}

/* hiredis's cleanup hook: called once or twice per context teardown. */
static void ev_cleanup(void *p)
{
    struct dp_rl_redis_conn *c = p;
    if (c->fd >= 0) {
        dp_loop_unwatch(c->loop, c->fd);
        c->fd = -1;
        c->mask = 0;
    }
    if (c->ac)
        conn_lost(c, "connection lost");
}

/* Tears the context down now; pending commands get NULL replies. Not from
 * inside a hiredis callback of that context (hiredis would defer it). */
static void conn_drop(struct dp_rl_redis_conn *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    if (c->state == ST_UP)
        atomic_fetch_sub(&c->r->nready, 1);
    c->state = ST_CONNECTING; /* not UP: no new command while tearing down */
    if (!c->closing)
        report_failure(c->r, why);
    redisAsyncFree(ac); /* -> callbacks, then ev_cleanup -> conn_lost */
}

static int usable(const struct dp_rl_redis_conn *c)
{
    return c->state == ST_UP && c->ac &&
           !(c->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

/* ---- commands ---------------------------------------------------------------- */

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

static int send_op(struct dp_rl_redis_conn *c, struct op *op)
{
    char ttl[24], n[DP_RL_NCOUNTERS][24], fl[DP_RL_NCOUNTERS][24];
    const char *argv[6 + 2 * DP_RL_NCOUNTERS];
    int argc = 0;
    int eval = op->retried || !c->sha[0];
    argv[argc++] = eval ? "EVAL" : "EVALSHA";
    argv[argc++] = eval ? SCRIPT : c->sha;
    argv[argc++] = "1";
    argv[argc++] = op->key;
    argv[argc++] = op->kind == OP_ADMIT ? "admit" : "settle";
    snprintf(ttl, sizeof(ttl), "%" PRId64, op->ttl_s);
    argv[argc++] = ttl;
    int from = op->kind == OP_ADMIT ? DP_RL_C_REQUESTS : DP_RL_C_PROMPT;
    for (int i = from; i < DP_RL_NCOUNTERS; i++) {
        snprintf(n[i], sizeof(n[i]), "%" PRId64, op->nums[i]);
        argv[argc++] = n[i];
    }
    for (int i = 0; op->seeding && i < DP_RL_NCOUNTERS; i++) {
        snprintf(fl[i], sizeof(fl[i]), "%" PRId64, op->floors[i]);
        argv[argc++] = fl[i];
    }
    if (redisAsyncCommandArgv(c->ac, on_reply, op, argc, argv, NULL) != REDIS_OK)
        return -1;
    if (c->npending++ == 0)
        c->progress_ms = dp_loop_now_ms(c->loop);
    return 0;
}

static void answer(struct op *op, int status, int admitted, const int64_t counts[DP_RL_NCOUNTERS])
{
    static const int64_t zeros[DP_RL_NCOUNTERS];
    if (op->kind != OP_ADMIT || op->answered)
        return;
    op->answered = 1;
    op->fn(op->arg, status, admitted, counts ? counts : zeros);
}

static void on_op_timeout(struct dp_loop *loop, void *arg)
{
    struct op *op = arg;
    struct dp_rl_redis_conn *c = op->c;
    op->timer = NULL;
    answer(op, -1, 0, NULL); /* op stays until hiredis calls back */
    if (c->ac && dp_loop_now_ms(loop) - c->progress_ms >= DP_RL_REDIS_STALL_MS)
        conn_drop(c, "no reply"); /* frees op through on_reply */
}

/* Reads {admitted, r, p, c, t}. Returns 0 or -1 on an unexpected shape. */
static int parse_admit(const redisReply *rep, int *admitted, int64_t counts[DP_RL_NCOUNTERS])
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 + DP_RL_NCOUNTERS)
        return -1;
    for (size_t i = 0; i < rep->elements; i++)
        if (rep->element[i]->type != REDIS_REPLY_INTEGER)
            return -1;
    *admitted = rep->element[0]->integer != 0;
    for (int i = 0; i < DP_RL_NCOUNTERS; i++)
        counts[i] = rep->element[1 + i]->integer;
    return 0;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct op *op = privdata;
    struct dp_rl_redis_conn *c = op->c;
    redisReply *rep = reply;
    c->npending--;
    if (rep)
        c->progress_ms = dp_loop_now_ms(c->loop);
    if (rep && rep->type == REDIS_REPLY_ERROR && !op->retried &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0 && usable(c)) {
        /* The server lost its script cache (restart, SCRIPT FLUSH): send
         * the script itself this once; the op and its timer carry on. */
        op->retried = 1;
        if (send_op(c, op) == 0)
            return;
    }
    int admitted = 0;
    int64_t counts[DP_RL_NCOUNTERS];
    if (op->kind == OP_ADMIT) {
        if (rep && parse_admit(rep, &admitted, counts) == 0) {
            answer(op, 0, admitted, counts);
        } else {
            if (rep)
                gw_debug("rate limit: unexpected Redis reply (type %d) %s", rep->type,
                         rep->type == REDIS_REPLY_ERROR ? rep->str : "");
            answer(op, -1, 0, NULL);
        }
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        gw_debug("rate limit: Redis settle failed: %s", rep->str);
    }
    if (op->timer)
        dp_loop_timer_cancel(c->loop, op->timer);
    gw_free(op);
}

static struct op *op_new(struct dp_rl_redis_conn *c, enum op_kind kind, const char *key,
                         int64_t ttl_s, const int64_t nums[DP_RL_NCOUNTERS])
{
    size_t klen = strlen(key);
    struct op *op = gw_malloc(sizeof(*op) + klen + 1);
    if (!op)
        return NULL;
    memset(op, 0, sizeof(*op));
    op->c = c;
    op->kind = kind;
    op->ttl_s = ttl_s > 0 ? ttl_s : 1;
    memcpy(op->nums, nums, sizeof(op->nums));
    memcpy(op->key, key, klen + 1);
    return op;
}

int dp_rl_redis_admit(struct dp_rl_redis_conn *c, const char *key, int64_t ttl_s,
                      const int64_t limits[DP_RL_NCOUNTERS],
                      const int64_t floors[DP_RL_NCOUNTERS], dp_rl_redis_admit_fn fn, void *arg)
{
    if (!usable(c))
        return -1;
    struct op *op = op_new(c, OP_ADMIT, key, ttl_s, limits);
    if (!op)
        return -1;
    if (floors) {
        op->seeding = 1;
        memcpy(op->floors, floors, sizeof(op->floors));
    }
    op->fn = fn;
    op->arg = arg;
    op->timer = dp_loop_timer_add(c->loop, DP_RL_REDIS_CMD_TIMEOUT_MS, on_op_timeout, op);
    if (!op->timer || send_op(c, op) != 0) {
        if (op->timer)
            dp_loop_timer_cancel(c->loop, op->timer);
        gw_free(op);
        return -1;
    }
    return 0;
}

int dp_rl_redis_settle(struct dp_rl_redis_conn *c, const char *key, int64_t ttl_s,
                       const int64_t add[DP_RL_NCOUNTERS])
{
    if (!usable(c))
        return -1;
    struct op *op = op_new(c, OP_SETTLE, key, ttl_s, add);
    if (!op)
        return -1;
    if (send_op(c, op) != 0) {
        gw_free(op);
        return -1;
    }
    return 0;
}

/* ---- connecting -------------------------------------------------------------- */

static void on_script_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct dp_rl_redis_conn *c = privdata;
    redisReply *rep = reply;
    c->npending--;
    if (!rep)
        return; /* the context is going away; ev_cleanup handles it */
    c->progress_ms = dp_loop_now_ms(c->loop);
    if (rep->type != REDIS_REPLY_STRING || rep->len == 0 || rep->len >= sizeof(c->sha)) {
        gw_warn("rate limit: Redis %s refused the script: %s", c->r->name,
                rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        redisAsyncFree(ac); /* deferred by hiredis until this callback returns */
        return;
    }
    memcpy(c->sha, rep->str, rep->len);
    c->sha[rep->len] = '\0';
    if (c->handshake_timer) {
        dp_loop_timer_cancel(c->loop, c->handshake_timer);
        c->handshake_timer = NULL;
    }
    c->state = ST_UP;
    /* A new incarnation as far as we know (a restarted Redis is empty):
     * windows seed it again with the local counts (dp_rl_redis_epoch). */
    atomic_fetch_add(&c->r->epoch, 1);
    c->backoff_ms = DP_RL_REDIS_BACKOFF_MIN_MS;
    report_ready(c->r);
}

static void on_handshake_timeout(struct dp_loop *loop, void *arg)
{
    (void)loop;
    struct dp_rl_redis_conn *c = arg;
    c->handshake_timer = NULL;
    if (c->state == ST_CONNECTING)
        conn_drop(c, "connect timed out");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    (void)status; /* failures arrive through ev_cleanup */
}

static void conn_start(struct dp_rl_redis_conn *c)
{
    const char *why = "out of memory";
    redisAsyncContext *ac = redisAsyncConnect(c->r->host, c->r->port);
    if (!ac)
        goto fail;
    if (ac->err) {
        why = "connect failed";
        redisAsyncFree(ac);
        goto fail;
    }
    c->ac = ac;
    c->fd = ac->c.fd;
    c->mask = 0;
    c->state = ST_CONNECTING;
    ac->data = c;
    ac->ev.data = c;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect); /* watches for writability */
    c->handshake_timer =
        dp_loop_timer_add(c->loop, DP_RL_REDIS_HANDSHAKE_MS, on_handshake_timeout, c);
    if (!c->handshake_timer ||
        redisAsyncCommand(ac, on_script_loaded, c, "SCRIPT LOAD %s", SCRIPT) != REDIS_OK) {
        conn_drop(c, "out of memory");
        return;
    }
    c->npending++;
    c->progress_ms = dp_loop_now_ms(c->loop);
    return;
fail:
    c->ac = NULL;
    c->state = ST_CONNECTING; /* so conn_lost does not count it as UP */
    conn_lost(c, why);
}

struct dp_rl_redis_conn *dp_rl_redis_conn_new(struct dp_rl_redis *r, struct dp_loop *loop)
{
    struct dp_rl_redis_conn *c = gw_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->r = r;
    c->loop = loop;
    c->fd = -1;
    c->state = ST_DOWN;
    c->backoff_ms = DP_RL_REDIS_BACKOFF_MIN_MS;
    atomic_fetch_add(&r->nconns, 1);
    conn_start(c);
    return c;
}

void dp_rl_redis_conn_free(struct dp_rl_redis_conn *c)
{
    if (!c)
        return;
    c->closing = 1;
    conn_drop(c, "closing");
    if (c->state == ST_UP)
        atomic_fetch_sub(&c->r->nready, 1);
    if (c->retry_timer)
        dp_loop_timer_cancel(c->loop, c->retry_timer);
    if (c->handshake_timer)
        dp_loop_timer_cancel(c->loop, c->handshake_timer);
    atomic_fetch_sub(&c->r->nconns, 1);
    gw_free(c);
}
