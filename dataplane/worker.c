/* Worker threads and the config mailbox (see worker.h).
 *
 * Owns each worker's loop, listener, curl multi and limiter worker; the
 * worker thread runs the loop until a drain ends. Shutdown order matters:
 * requests still alive at the drain deadline are aborted (their connections
 * resumed, since MHD must not be stopped with suspended connections), MHD
 * is run once more, then stopped (its completed callbacks queue the final
 * frees), the deferred calls run, and only then the multi handle goes. */
#include "worker.h"

#include "accesslog.h"
#include "common/alloc.h"
#include "common/log.h"
#include "listener.h"
#include "loop.h"
#include "metrics.h"
#include "ratelimit.h"
#include "request.h"
#include "jwt_cache.h"
#include "upstream.h"

#include <string.h>
#include <unistd.h>

#define CRON_MS 100

/* ---- shared ---------------------------------------------------------------- */

int dp_shared_init(struct dp_shared *sh)
{
    memset(sh, 0, sizeof(*sh));
    sh->listen_fd = -1;
    atomic_store(&sh->revision, -1);
    return pthread_mutex_init(&sh->cfg_mu, NULL) == 0 ? 0 : -1;
}

void dp_shared_cleanup(struct dp_shared *sh)
{
    dp_config_unref(sh->current);
    sh->current = NULL;
    pthread_mutex_destroy(&sh->cfg_mu);
}

static void post(struct dp_worker *w, struct dp_config *cfg)
{
    struct dp_config *old = atomic_exchange(&w->mailbox, dp_config_ref(cfg));
    /* Never taken by the worker (the exchange is atomic): ours to drop. */
    dp_config_unref(old);
    dp_loop_wakeup(w->loop);
}

void dp_shared_publish(struct dp_shared *sh, struct dp_config *cfg)
{
    pthread_mutex_lock(&sh->cfg_mu);
    struct dp_config *old = sh->current;
    sh->current = dp_config_ref(cfg);
    for (int i = 0; i < sh->nworkers; i++)
        if (sh->workers[i])
            post(sh->workers[i], cfg);
    atomic_store(&sh->revision, cfg->revision);
    pthread_mutex_unlock(&sh->cfg_mu);
    dp_config_unref(old);
}

/* ---- worker ---------------------------------------------------------------- */

struct dp_config *dp_worker_config(struct dp_worker *w)
{
    if (atomic_load_explicit(&w->mailbox, memory_order_acquire)) {
        struct dp_config *n = atomic_exchange(&w->mailbox, NULL);
        if (n) {
            dp_config_unref(w->cfg);
            w->cfg = n;
        }
    }
    return w->cfg;
}

static struct dp_config *env_config(void *owner)
{
    return dp_worker_config(owner);
}

static const struct dp_req_env_cb env_cb = {env_config};

/* Before the loop sleeps: the lines of the requests this iteration ended. */
static void flush_log(struct dp_loop *loop, void *arg)
{
    (void)loop;
    dp_accesslog_flush(arg);
}

struct dp_worker *dp_worker_new(struct dp_shared *sh, int index, struct gw_err *err)
{
    struct dp_worker *w = gw_calloc(1, sizeof(*w));
    if (!w) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    w->index = index;
    w->sh = sh;
    atomic_init(&w->mailbox, NULL);
    atomic_init(&w->drain_asked, 0);
    w->metrics = dp_metrics_shard(sh->metrics, index);
    if (!(w->loop = dp_loop_new()) || !(w->up = dp_upstream_new(w->loop)) ||
        !(w->rlw = dp_rl_worker_new(sh->rl, w->loop)) || !(w->jwt = dp_jwt_cache_new(0)) ||
        !(w->alog = dp_accesslog_new(STDERR_FILENO))) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "cannot create worker %d", index);
        goto fail;
    }
    w->env = (struct dp_req_env){
        .loop = w->loop,
        .up = w->up,
        .rlw = w->rlw,
        .metrics = w->metrics,
        .jwt = w->jwt,
        .alog = w->alog,
        .index = index,
        .cb = &env_cb,
        .owner = w,
    };
    gw_list_init(&w->env.requests);
    dp_loop_before_sleep(w->loop, flush_log, w->alog);
    w->listener = dp_listener_new(&w->env, index == 0 ? &sh->listen_fd : NULL,
                                  (const struct sockaddr *)&sh->listen_addr, sh->listen_len,
                                  sh->tls, err);
    if (!w->listener)
        goto fail;
    pthread_mutex_lock(&sh->cfg_mu);
    if (sh->current)
        w->cfg = dp_config_ref(sh->current);
    pthread_mutex_unlock(&sh->cfg_mu);
    return w;
fail:
    dp_worker_free(w);
    return NULL;
}

/* Cron: notices a drain request and ends the loop when the worker is idle
 * or the deadline passed. */
static void cron(struct dp_loop *loop, void *arg)
{
    struct dp_worker *w = arg;
    w->cron = NULL;
    int64_t now = dp_loop_now_ms(loop);
    if (!w->draining && atomic_load(&w->drain_asked)) {
        w->draining = 1;
        w->drain_deadline_ms = now + DP_DRAIN_MS;
        dp_listener_quiesce(w->listener);
        gw_debug("worker %d: draining %zu requests", w->index, w->env.nrequests);
    }
    if (w->draining && (w->env.nrequests == 0 || now >= w->drain_deadline_ms)) {
        dp_loop_stop(loop);
        return;
    }
    w->cron = dp_loop_timer_add(loop, CRON_MS, cron, w);
}

static void shutdown_requests(struct dp_worker *w)
{
    if (w->env.nrequests)
        gw_warn("worker %d: %zu requests still in flight at shutdown", w->index,
                w->env.nrequests);
    /* dp_request_abort never frees (the pump does). */
    struct gw_list *head = &w->env.requests;
    for (struct gw_list *p = head->next; p != head; p = p->next) {
        struct dp_request *r = gw_list_entry(p, struct dp_request, link);
        gw_debug("worker %d: aborting request %s (%s %s, %s/%s)", w->index, r->id, r->method,
                 r->path, dp_client_state_names[r->client],
                 dp_upstream_state_names[r->upstream]);
        dp_request_abort(r);
    }
    /* Let MHD send what it can of the answers, then stop it: its completed
     * callbacks queue the frees, which the last iteration runs. */
    for (int i = 0; i < 5; i++) {
        dp_listener_run(w->listener);
        dp_loop_run_once(w->loop, 10);
    }
    /* Completed callbacks run inside the stop: they must not reach the
     * listener being freed (dp_listener_kick of NULL is a no-op). */
    struct dp_listener *l = w->listener;
    w->listener = NULL;
    dp_listener_free(l);
    for (int i = 0; i < 3; i++)
        dp_loop_run_once(w->loop, 0);
}

static void *worker_main(void *arg)
{
    struct dp_worker *w = arg;
    w->cron = dp_loop_timer_add(w->loop, CRON_MS, cron, w);
    if (dp_loop_run(w->loop) != 0)
        gw_error("worker %d: event loop failed", w->index);
    if (w->cron) {
        dp_loop_timer_cancel(w->loop, w->cron);
        w->cron = NULL;
    }
    shutdown_requests(w);
    dp_accesslog_flush(w->alog);
    return NULL;
}

int dp_worker_start(struct dp_worker *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return -1;
    w->started = 1;
    return 0;
}

void dp_worker_drain(struct dp_worker *w)
{
    atomic_store(&w->drain_asked, 1);
    dp_loop_wakeup(w->loop);
}

void dp_worker_join(struct dp_worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = 0;
}

void dp_worker_free(struct dp_worker *w)
{
    if (!w)
        return;
    struct dp_listener *l = w->listener;
    w->listener = NULL;
    dp_listener_free(l);
    dp_rl_worker_free(w->rlw);
    /* Requests that somehow outlived the listener hold transfers. */
    if (w->env.requests.next) /* initialised */
        while (!gw_list_empty(&w->env.requests))
            dp_request_drop(gw_list_entry(w->env.requests.next, struct dp_request, link));
    dp_upstream_free(w->up);
    if (w->loop)
        dp_loop_run_once(w->loop, 0);
    dp_config_unref(atomic_exchange(&w->mailbox, NULL));
    dp_config_unref(w->cfg);
    dp_accesslog_free(w->alog); /* the last lines, if any */
    dp_loop_free(w->loop);
    dp_jwt_cache_free(w->jwt);
    gw_free(w);
}
