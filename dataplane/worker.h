/* Workers: one thread per --workers, each running its own event loop with
 * its own MHD daemon (sharing the port through SO_REUSEPORT), its own curl
 * multi handle and its own rate-limiter and metrics shards. Nothing on the
 * request path is shared between workers except the routing state's atomics.
 *
 * struct dp_shared is what the whole process shares: the workers, the
 * routing state, the limiter, the metrics registry and the applied config.
 * A new config is handed to each worker through a one-slot mailbox (an
 * atomic pointer holding a reference): the worker takes it at the start of
 * its next request, so no request ever reads a pointer that another thread
 * may free, and requests in flight keep the snapshot they started with.
 *
 * A worker's requests and its listener do not see struct dp_worker: they
 * get its struct dp_req_env (request.h), whose one up-call (the current
 * config) the worker implements.
 *
 * Threads: dp_shared_* any thread; dp_worker_new/start/join/free on the main
 * thread; dp_worker_config and everything a worker does, on its thread. */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include "common/err.h"
#include "config.h"
#include "request.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

struct dp_loop;
struct dp_listener;
struct dp_upstream;
struct dp_rl;
struct dp_rl_worker;
struct dp_metrics;
struct dp_metrics_shard;
struct dp_suspensions;
struct dp_timer;
struct dp_accesslog;
struct gw_tls_server;

#define DP_DRAIN_MS 28000 /* SIGTERM: longest wait for requests in flight */

struct dp_shared {
    int nworkers;
    struct dp_worker **workers;
    struct dp_suspensions *state;
    struct dp_rl *rl;
    struct dp_metrics *metrics;
    struct sockaddr_storage listen_addr;
    socklen_t listen_len;
    int listen_fd;   /* dp_port_claim's socket until worker 0's daemon takes it, or -1 */
    struct gw_tls_server *tls; /* --tls-cert/--tls-key of --listen, or NULL */
    pthread_mutex_t cfg_mu;
    struct dp_config *current;  /* under cfg_mu; one reference */
    _Atomic int64_t revision;   /* -1 until a snapshot is applied */
};

struct dp_worker {
    int index;
    struct dp_shared *sh;
    pthread_t thread;
    int started;
    struct dp_loop *loop;
    struct dp_listener *listener;
    struct dp_upstream *up;
    struct dp_rl_worker *rlw;
    struct dp_metrics_shard *metrics;
    struct dp_jwt_cache *jwt;
    struct dp_accesslog *alog; /* flushed before each sleep of the loop */
    /* What its requests see of the worker (loop, multi, limiter, metrics,
     * the live requests): the listener and the requests get only this. */
    struct dp_req_env env;
    _Atomic(struct dp_config *) mailbox; /* a newer config, one reference */
    struct dp_config *cfg;               /* this worker's current, one reference */
    atomic_int drain_asked;
    int draining;
    int64_t drain_deadline_ms;
    struct dp_timer *cron;
};

/* Initialises sh (no workers yet). Returns 0 or -1. */
int dp_shared_init(struct dp_shared *sh);
void dp_shared_cleanup(struct dp_shared *sh);

/* Applies cfg: every worker gets it for its next request. Takes its own
 * references (the caller keeps its own). Any thread. */
void dp_shared_publish(struct dp_shared *sh, struct dp_config *cfg);

/* Creates worker index of sh (loop, listener on sh->listen_addr, multi,
 * limiter worker, metrics shard); not running yet. NULL with err. */
struct dp_worker *dp_worker_new(struct dp_shared *sh, int index, struct gw_err *err);

/* Starts its thread. Returns 0 or -1. */
int dp_worker_start(struct dp_worker *w);

/* Asks the worker to stop accepting and exit when its requests are done
 * (at most DP_DRAIN_MS). Any thread. */
void dp_worker_drain(struct dp_worker *w);

/* Waits for the thread to end. */
void dp_worker_join(struct dp_worker *w);

/* Frees it (after join). NULL is a no-op. */
void dp_worker_free(struct dp_worker *w);

/* The worker's current config (borrowed; NULL before the first apply),
 * first swapping in a newer one from the mailbox. Worker thread. */
struct dp_config *dp_worker_config(struct dp_worker *w);

#endif
