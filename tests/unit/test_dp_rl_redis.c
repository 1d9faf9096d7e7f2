/* Unit tests of dataplane/rl_redis.c (through ratelimit.h) against a real
 * redis-server started by the test on a free port: admissions decided by the
 * script and shared by two limiters (two data planes), token settles, exact
 * admission over 50 connections, key expiry, NOSCRIPT fallback, a hung
 * server (command timeout), Redis killed (local fallback, logged once) and
 * restarted (shared again), a worker freed with admissions in flight. */
#include "testhelp.h"

#include "rl_fixture.h"

#include "common/clock.h"
#include "dataplane/loop.h"
#include "dataplane/ratelimit.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* 2026-11-21T12:00:00Z */
#define T0_MS (1795262400LL * 1000)

static int redis_port;
static pid_t redis_pid;
static char redis_url[64];

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bind(s, (struct sockaddr *)&a, sizeof(a));
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static int can_connect(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static void redis_start(void)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 1);
        dup2(dn, 2);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && !can_connect(redis_port); i++)
        usleep(10000);
}

static void redis_kill(void)
{
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    redis_pid = 0;
}

/* A synchronous client for looking at what the limiter wrote. */
static redisReply *redis_cmd(const char *fmt, const char *arg)
{
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    if (!c || c->err) {
        redisFree(c);
        return NULL;
    }
    redisReply *r = redisCommand(c, fmt, arg);
    redisFree(c);
    return r;
}

struct got {
    int calls;
    struct dp_rl_result res;
};

static void on_done(void *arg, const struct dp_rl_result *res)
{
    struct got *g = arg;
    g->calls++;
    g->res = *res;
}

static struct dp_ratelimit policy(int64_t requests, int64_t total)
{
    struct dp_ratelimit p = {.policy_id = "p",
                             .unit = DP_RL_MINUTE,
                             .per_application = 0,
                             .requests = requests,
                             .request_tokens = -1,
                             .response_tokens = -1,
                             .total_tokens = total};
    return p;
}

/* Runs the loops until backend_up of every limiter is want (or timeout). */
static int wait_up(struct rl_fixture *ds, int n, int want, int timeout_ms)
{
    int64_t deadline = gw_now_ms() + timeout_ms;
    while (gw_now_ms() < deadline) {
        int all = 1;
        for (int i = 0; i < n; i++) {
            dp_loop_run_once(ds[i].loop, 5);
            if (dp_rl_backend_up(ds[i].rl) != want)
                all = 0;
        }
        if (all)
            return 1;
    }
    return 0;
}

/* Admits and runs the loop until the callback ran. *async tells whether it
 * ran later (Redis) rather than inside dp_rl_admit (local). */
static struct dp_rl_result admit(struct rl_fixture *d, const struct dp_ratelimit *p, const char *api,
                                 int64_t now_ms, int *async)
{
    struct got g = {0};
    dp_rl_admit(d->w, p, api, NULL, now_ms, on_done, &g);
    if (async)
        *async = g.calls == 0;
    int64_t deadline = gw_now_ms() + 3000;
    while (g.calls == 0 && gw_now_ms() < deadline)
        dp_loop_run_once(d->loop, 10);
    CHECK_INT(g.calls, 1);
    return g.res;
}

TEST("two limiters share one Redis budget exactly; keys expire at the window's end")
{
    struct rl_fixture ds[2];
    rl_fixture_open(&ds[0], redis_url);
    rl_fixture_open(&ds[1], redis_url);
    CHECK(wait_up(ds, 2, 1, 3000));
    struct dp_ratelimit p = policy(10, -1);
    int admitted = 0, async_all = 1;
    for (int i = 0; i < 20; i++) {
        int async;
        struct dp_rl_result r = admit(&ds[i % 2], &p, "shared-api", T0_MS + 1000, &async);
        async_all &= async;
        if (!r.limited) {
            admitted++;
            CHECK_INT(r.remaining_requests, 10 - admitted);
        } else {
            CHECK_INT(r.remaining_requests, 0);
            CHECK_INT(r.retry_after_s, 59);
        }
    }
    CHECK_INT(admitted, 10);
    CHECK(async_all);
    redisReply *keys = redis_cmd("KEYS %s", "mmrl:*");
    CHECK(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements == 1);
    if (keys && keys->elements == 1) {
        redisReply *ttl = redis_cmd("TTL %s", keys->element[0]->str);
        CHECK(ttl && ttl->type == REDIS_REPLY_INTEGER && ttl->integer > 0 && ttl->integer <= 59);
        freeReplyObject(ttl);
    }
    freeReplyObject(keys);

    struct gw_buf out;
    gw_buf_init(&out, 4096);
    dp_rl_metrics(ds[0].rl, &out);
    CHECK(out.data && strstr(out.data, "\nmodelmux_ratelimit_backend_up 1\n"));
    gw_buf_cleanup(&out);
    rl_fixture_close(&ds[0]);
    rl_fixture_close(&ds[1]);
}

TEST("token usage settled on one limiter counts on the other")
{
    struct rl_fixture ds[2];
    rl_fixture_open(&ds[0], redis_url);
    rl_fixture_open(&ds[1], redis_url);
    CHECK(wait_up(ds, 2, 1, 3000));
    struct dp_ratelimit p = policy(-1, 100);
    dp_rl_settle(ds[0].w, &p, "tok-api", NULL, 30, 40, 70, T0_MS);
    /* A later command on the same connection: the settle is done by then. */
    CHECK_INT(admit(&ds[0], &p, "tok-api", T0_MS, NULL).remaining_tokens, 30);
    struct dp_rl_result r = admit(&ds[1], &p, "tok-api", T0_MS, NULL);
    CHECK_INT(r.limit_tokens, 100);
    CHECK_INT(r.remaining_tokens, 30);
    dp_rl_settle(ds[1].w, &p, "tok-api", NULL, 30, -1, 30, T0_MS);
    r = admit(&ds[1], &p, "tok-api", T0_MS, NULL);
    CHECK_INT(r.limited, 1);
    CHECK_INT(admit(&ds[0], &p, "tok-api", T0_MS, NULL).limited, 1);
    rl_fixture_close(&ds[0]);
    rl_fixture_close(&ds[1]);
}

TEST("the script cache flushed (NOSCRIPT): the script is sent again, counts stay exact")
{
    struct rl_fixture d;
    rl_fixture_open(&d, redis_url);
    CHECK(wait_up(&d, 1, 1, 3000));
    struct dp_ratelimit p = policy(3, -1);
    CHECK_INT(admit(&d, &p, "noscript", T0_MS, NULL).remaining_requests, 2);
    freeReplyObject(redis_cmd("SCRIPT %s", "FLUSH"));
    int async;
    CHECK_INT(admit(&d, &p, "noscript", T0_MS, &async).remaining_requests, 1);
    CHECK(async);
    CHECK_INT(admit(&d, &p, "noscript", T0_MS, NULL).remaining_requests, 0);
    CHECK_INT(admit(&d, &p, "noscript", T0_MS, NULL).limited, 1);
    rl_fixture_close(&d);
}

struct race {
    struct dp_rl *rl;
    struct dp_ratelimit p;
    atomic_int ready;
    atomic_int admitted;
    atomic_int calls;
};

static void *race_thread(void *arg)
{
    struct race *rc = arg;
    struct rl_fixture d = {.rl = rc->rl};
    d.loop = dp_loop_new();
    d.w = dp_rl_worker_new(rc->rl, d.loop);
    atomic_fetch_add(&rc->ready, 1);
    /* Every connection up before anyone starts (backend_up counts them all). */
    int64_t deadline = gw_now_ms() + 10000;
    while (dp_rl_backend_up(rc->rl) != 1 && gw_now_ms() < deadline)
        dp_loop_run_once(d.loop, 5);
    /* Keep serving the connection while the others finish connecting. */
    for (int i = 0; i < 6; i++) {
        struct got g = {0};
        dp_rl_admit(d.w, &rc->p, "race-redis", NULL, T0_MS + 2000, on_done, &g);
        while (g.calls == 0 && gw_now_ms() < deadline)
            dp_loop_run_once(d.loop, 10);
        atomic_fetch_add(&rc->calls, g.calls);
        if (g.calls == 1 && !g.res.limited)
            atomic_fetch_add(&rc->admitted, 1);
    }
    /* Stay until every thread is done so backend_up stays meaningful. */
    while (atomic_load(&rc->calls) < 300 && gw_now_ms() < deadline)
        dp_loop_run_once(d.loop, 5);
    dp_rl_worker_free(d.w);
    dp_loop_free(d.loop);
    return NULL;
}

TEST("50 connections at once: a budget of 137 admits exactly 137")
{
    struct gw_err err;
    struct race rc;
    memset(&rc, 0, sizeof(rc));
    rc.rl = dp_rl_new(redis_url, &err);
    rc.p = policy(137, -1);
    pthread_t th[50];
    for (int i = 0; i < 50; i++)
        pthread_create(&th[i], NULL, race_thread, &rc);
    for (int i = 0; i < 50; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&rc.calls), 300);
    CHECK_INT(atomic_load(&rc.admitted), 137);
    dp_rl_free(rc.rl);
}

TEST("a hung Redis: the admission times out to a local decision, the link is dropped")
{
    struct rl_fixture d;
    rl_fixture_open(&d, redis_url);
    CHECK(wait_up(&d, 1, 1, 3000));
    struct dp_ratelimit p = policy(100, -1);
    kill(redis_pid, SIGSTOP);
    int64_t t = gw_now_ms();
    int async;
    struct dp_rl_result r = admit(&d, &p, "hung", T0_MS, &async);
    int64_t took = gw_now_ms() - t;
    CHECK(async);
    CHECK_INT(r.limited, 0);
    CHECK(took >= 150 && took < 1500);
    /* No reply for a while: the connection is dropped, decisions are local
     * and immediate. */
    int local_sync = 0;
    for (int i = 0; i < 20 && !local_sync; i++) {
        admit(&d, &p, "hung", T0_MS, &async);
        local_sync = !async;
    }
    CHECK(local_sync);
    CHECK_INT(dp_rl_backend_up(d.rl), 0);
    kill(redis_pid, SIGCONT);
    CHECK(wait_up(&d, 1, 1, 5000));
    rl_fixture_close(&d);
}

TEST("a worker freed with admissions in flight completes each one first")
{
    struct rl_fixture d;
    rl_fixture_open(&d, redis_url);
    CHECK(wait_up(&d, 1, 1, 3000));
    struct dp_ratelimit p = policy(100, -1);
    kill(redis_pid, SIGSTOP);
    struct got g[3] = {{0}, {0}, {0}};
    for (int i = 0; i < 3; i++)
        dp_rl_admit(d.w, &p, "inflight", NULL, T0_MS, on_done, &g[i]);
    dp_loop_run_once(d.loop, 0);
    CHECK_INT(g[0].calls + g[1].calls + g[2].calls, 0);
    dp_rl_worker_free(d.w);
    d.w = NULL;
    CHECK_INT(g[0].calls + g[1].calls + g[2].calls, 3);
    kill(redis_pid, SIGCONT);
    rl_fixture_close(&d);
}

/* Captures fd 2 into a file while f runs; returns the text (static). */
TEST("Redis killed: local counters (carrying the shared counts on), logged once; back: shared")
{
    struct log_capture cap;
    log_capture_start(&cap);

    struct rl_fixture ds[2];
    rl_fixture_open(&ds[0], redis_url);
    rl_fixture_open(&ds[1], redis_url);
    CHECK(wait_up(ds, 2, 1, 3000));
    struct dp_ratelimit p = policy(5, -1);
    for (int i = 0; i < 3; i++)
        CHECK_INT(admit(&ds[0], &p, "outage", T0_MS, NULL).limited, 0);

    redis_kill();
    /* Whatever was in flight and everything after: answered, locally. The
     * local counters start from the 3 the shared store had reported. */
    int async;
    struct dp_rl_result r = admit(&ds[0], &p, "outage", T0_MS, &async);
    CHECK_INT(r.limited, 0);
    CHECK_INT(r.remaining_requests, 1);
    CHECK(wait_up(ds, 2, 0, 3000));
    CHECK_INT(admit(&ds[0], &p, "outage", T0_MS, &async).remaining_requests, 0);
    CHECK(!async);
    CHECK_INT(admit(&ds[0], &p, "outage", T0_MS, NULL).limited, 1);
    /* The other data plane never counted these: its local budget is whole. */
    CHECK_INT(admit(&ds[1], &p, "outage", T0_MS, NULL).remaining_requests, 4);
    struct gw_buf out;
    gw_buf_init(&out, 4096);
    dp_rl_metrics(ds[0].rl, &out);
    CHECK(out.data && strstr(out.data, "\nmodelmux_ratelimit_backend_up 0\n"));
    gw_buf_cleanup(&out);
    /* Reconnect attempts keep failing for a while: still one log line. */
    int64_t until = gw_now_ms() + 1500;
    while (gw_now_ms() < until) {
        dp_loop_run_once(ds[0].loop, 10);
        dp_loop_run_once(ds[1].loop, 10);
    }

    redis_start(); /* same port, empty */
    CHECK(wait_up(ds, 2, 1, 5000));
    struct dp_ratelimit q = policy(2, -1);
    CHECK_INT(admit(&ds[0], &q, "after", T0_MS, &async).remaining_requests, 1);
    CHECK(async);
    CHECK_INT(admit(&ds[1], &q, "after", T0_MS, &async).remaining_requests, 0);
    CHECK(async);
    CHECK_INT(admit(&ds[0], &q, "after", T0_MS, NULL).limited, 1);
    rl_fixture_close(&ds[0]);
    rl_fixture_close(&ds[1]);

    const char *log = log_capture_stop(&cap);
    CHECK_INT(count_of(log, "unreachable"), 2); /* once per limiter (data plane) */
    CHECK_INT(count_of(log, "reachable again"), 2);
}

/* Issue 11 item 16: with a limit of 50 spent, a Redis restarted empty let
 * 50 more of 100 requests through. The local counters (raised to the shared
 * counts by every answer) now seed the new Redis. */
TEST("Redis restarted empty: a spent window stays spent (seeded from local counts)")
{
    struct rl_fixture ds[2];
    rl_fixture_open(&ds[0], redis_url);
    rl_fixture_open(&ds[1], redis_url);
    CHECK(wait_up(ds, 2, 1, 3000));
    struct dp_ratelimit p = policy(50, -1);
    for (int i = 0; i < 50; i++)
        CHECK_INT(admit(&ds[i % 2], &p, "spent", T0_MS, NULL).limited, 0);
    CHECK_INT(admit(&ds[0], &p, "spent", T0_MS, NULL).limited, 1);

    redis_kill();
    redis_start(); /* same port, empty */
    /* Let the limiters see the restart (they may also see it only on their
     * next command), then wait until both are connected again. */
    wait_up(ds, 2, 0, 1000);
    CHECK(wait_up(ds, 2, 1, 5000));
    int admitted = 0, async_all = 1;
    for (int i = 0; i < 100; i++) {
        int async;
        admitted += !admit(&ds[i % 2], &p, "spent", T0_MS, &async).limited;
        async_all &= async;
    }
    CHECK_INT(admitted, 0);
    CHECK(async_all); /* decided by Redis, not by a local fallback */
    /* The new Redis holds the window's count again. */
    redisReply *keys = redis_cmd("KEYS %s", "mmrl:*spent*");
    CHECK(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements == 1);
    if (keys && keys->type == REDIS_REPLY_ARRAY && keys->elements == 1) {
        redisReply *r = redis_cmd("HGET %s r", keys->element[0]->str);
        CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "50") == 0);
        freeReplyObject(r);
    }
    freeReplyObject(keys);
    /* A window nobody counted before the restart starts from zero. */
    struct dp_ratelimit q = policy(2, -1);
    CHECK_INT(admit(&ds[1], &q, "fresh", T0_MS, NULL).remaining_requests, 1);
    rl_fixture_close(&ds[0]);
    rl_fixture_close(&ds[1]);
}

TEST("Redis unreachable from the start: local decisions at once, backend 0")
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", free_port());
    struct gw_err err;
    struct rl_fixture d;
    d.rl = dp_rl_new(url, &err);
    d.loop = dp_loop_new();
    d.w = dp_rl_worker_new(d.rl, d.loop);
    CHECK(wait_up(&d, 1, 0, 3000));
    struct dp_ratelimit p = policy(1, -1);
    int async;
    CHECK_INT(admit(&d, &p, "never", T0_MS, &async).limited, 0);
    CHECK(!async);
    CHECK_INT(admit(&d, &p, "never", T0_MS, NULL).limited, 1);
    rl_fixture_close(&d);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    redis_port = free_port();
    snprintf(redis_url, sizeof(redis_url), "redis://127.0.0.1:%d", redis_port);
    redis_start();
    if (!can_connect(redis_port)) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    int passed = 0, failed = 0;
    for (int i = 0; i < mm_ntests; i++) {
        if (argc > 1 && !strstr(mm_tests[i].name, argv[1]))
            continue;
        mm_current_failed = 0;
        mm_tests[i].fn();
        printf("%s %s\n", mm_current_failed ? "FAIL" : "ok  ", mm_tests[i].name);
        if (mm_current_failed)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    if (redis_pid > 0)
        redis_kill();
    return failed ? 1 : 0;
}
