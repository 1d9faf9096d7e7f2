/* The client-facing HTTP server of one worker: a libmicrohttpd daemon in
 * external-epoll mode (MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
 * MHD_USE_TURBO, no thread of its own) driven by the worker's loop.
 *
 * MHD's epoll fd is watched by the worker's dp_loop; when it is readable
 * the listener calls MHD_run(), then arms one loop timer from
 * MHD_get_timeout() (MHD may hold work that no fd will announce). Each
 * worker binds its own daemon to the same address with
 * MHD_OPTION_LISTENING_ADDRESS_REUSE (SO_REUSEPORT), so the kernel spreads
 * connections over the workers; worker 0's daemon serves on the socket
 * that claimed the port (portclaim.h), which keeps other processes off
 * it. The access handler and the completed callback hand requests to
 * request.c (listener -> request); the request reaches its connection back
 * only through struct dp_client_ops, which this module implements over
 * MHD, with each connection's hang-up watch (MHD's connection start/close
 * notifications open and close it).
 *
 * Thread: the worker's (created on the main thread before the worker runs). */
#ifndef DP_LISTENER_H
#define DP_LISTENER_H

#include "common/err.h"

#include <sys/socket.h>

struct dp_listener;
struct dp_loop;
struct dp_req_env;
struct gw_tls_server;

/* Starts a daemon listening on addr (SO_REUSEPORT, after dp_port_claim),
 * watched from env->loop, creating its requests in env (borrowed, outlives
 * the listener). claimed: NULL, or the socket that claimed the port, which
 * the daemon then serves on and owns (*claimed set to -1). tls: the
 * --tls-cert pair (borrowed, outlives the listener; each connection takes
 * the current one at its start), or NULL for plain HTTP. NULL with err
 * (address in use, no memory). */
struct dp_listener *dp_listener_new(struct dp_req_env *env, int *claimed,
                                    const struct sockaddr *addr, socklen_t addrlen,
                                    struct gw_tls_server *tls, struct gw_err *err);

/* Stops accepting new connections (connections already open go on). */
void dp_listener_quiesce(struct dp_listener *l);

/* Makes MHD run in the next loop iteration: after MHD_resume_connection
 * (MHD's own wake-up of its epoll set is not relied upon). */
void dp_listener_kick(struct dp_listener *l);

/* Runs MHD now (after resuming connections at shutdown). */
void dp_listener_run(struct dp_listener *l);

/* Stops the daemon (every connection must be resumed first: see
 * dp_request_abort) and frees. NULL is a no-op. */
void dp_listener_free(struct dp_listener *l);

#endif
