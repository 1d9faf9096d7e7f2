/* The client-facing HTTP server of one worker: a libmicrohttpd daemon in
 * external-epoll mode (MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
 * MHD_USE_TURBO, no thread of its own) driven by the worker's loop.
 *
 * MHD's epoll fd is watched by the worker's dp_loop; when it is readable
 * the listener calls MHD_run(), then arms one loop timer from
 * MHD_get_timeout() (MHD may hold work that no fd will announce). The
 * workers' daemons share one listening socket (each has a dup, given with
 * MHD_OPTION_LISTEN_SOCKET), as MHD's own thread pool does: every idle
 * worker is woken by a new connection and the first to accept takes it.
 * Not SO_REUSEPORT: with it, a second data plane started on the same port
 * (same user) bound it too and silently took half the connections. The
 * access handler and the completed callback hand requests to request.c.
 *
 * Thread: the worker's (created on the main thread before the worker runs). */
#ifndef DP_LISTENER_H
#define DP_LISTENER_H

#include "common/err.h"

#include <sys/socket.h>

struct dp_worker;
struct dp_listener;

/* Binds and listens on addr: one non-blocking socket that every worker's
 * daemon accepts from (each gets its own dup). No SO_REUSEPORT: a port that
 * anything else holds, another data plane included, is refused. Returns the
 * fd, or -1 with err (address in use, ...). */
int dp_listener_bind(const struct sockaddr *addr, socklen_t addrlen, struct gw_err *err);

/* Starts the daemon of w on a dup of listen_fd (from dp_listener_bind;
 * family is its address family) and watches it from w->loop. NULL with err
 * (no memory, no fds). */
struct dp_listener *dp_listener_new(struct dp_worker *w, int listen_fd, int family,
                                    struct gw_err *err);

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
