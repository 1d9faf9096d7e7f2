/* One worker's MHD daemon, driven by the worker's loop (see listener.h).
 *
 * Owns the daemon and the loop timer that honours MHD_get_timeout. The
 * access handler dispatches the three phases of an MHD request (headers,
 * body pieces, complete) to request.c; per-request state is the request
 * object stored in MHD's con_cls and released from the completed callback.
 * Thread: the worker's. */
#include "listener.h"

#include "common/alloc.h"
#include "common/log.h"
#include "loop.h"
#include "portclaim.h"
#include "request.h"
#include "worker.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

/* Per-connection pool. MHD zeroes it for every request on a kept-alive
 * connection, so its size is paid per request (and per open connection in
 * RSS): 16 KiB holds the headers of any API client (nginx allows 4 x 8 KiB);
 * larger header blocks get 431. */
#define CONN_MEMORY (16 * 1024)
#define CONN_LIMIT 20000
#define CONN_TIMEOUT_S 120       /* idle client connections */

struct dp_listener {
    struct dp_worker *w;
    struct MHD_Daemon *daemon;
    int epfd;
    struct dp_timer *timer;
    int64_t timer_due;
};

static void run_mhd(struct dp_listener *l);

static void on_timer(struct dp_loop *loop, void *arg)
{
    (void)loop;
    struct dp_listener *l = arg;
    l->timer = NULL;
    run_mhd(l);
}

/* MHD wants to be run again within its timeout even without fd activity
 * (data already read into its buffers, connection timeouts). One timer,
 * moved only when MHD needs us sooner than it is set. */
static void arm_timer(struct dp_listener *l)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(l->daemon, &t) != MHD_YES)
        return;
    struct dp_loop *loop = l->w->loop;
    int64_t due = dp_loop_now_ms(loop) + (int64_t)t;
    if (l->timer && l->timer_due <= due)
        return;
    if (l->timer)
        dp_loop_timer_cancel(loop, l->timer);
    l->timer = dp_loop_timer_add(loop, (int64_t)t, on_timer, l);
    l->timer_due = due;
}

static void run_mhd(struct dp_listener *l)
{
    MHD_run(l->daemon);
    arm_timer(l);
}

static void on_epoll(struct dp_loop *loop, int fd, uint32_t events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    run_mhd(arg);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)version;
    struct dp_listener *l = cls;
    struct dp_request *r = *con_cls;
    if (!r) {
        r = dp_request_new(l->w, conn, method, url);
        if (!r)
            return MHD_NO; /* out of memory: MHD closes the connection */
        *con_cls = r;
        dp_request_headers(r);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        dp_request_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    dp_request_run(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    struct dp_request *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    dp_request_closed(r, toe);
}

/* A connection's life: its hang-up watch (request.c) lives as long. CLOSED
 * comes before MHD closes the socket, also from MHD_stop_daemon. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct dp_listener *l = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = dp_client_open(l->w, conn);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        dp_client_close(*socket_context);
        *socket_context = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    gw_debug("mhd: %s", line);
}

struct dp_listener *dp_listener_new(struct dp_worker *w, const struct sockaddr *addr,
                                    socklen_t addrlen, struct gw_err *err)
{
    (void)addrlen;
    struct dp_listener *l = gw_calloc(1, sizeof(*l));
    if (!l) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    l->w = w;
    l->epfd = -1;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Worker 0 serves on the socket that claimed the port (portclaim.h),
     * the others join it with SO_REUSEPORT. */
    MHD_socket claimed = w->index == 0 ? w->sh->listen_fd : MHD_INVALID_SOCKET;
    errno = 0;
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, claimed, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, l, MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)CONN_TIMEOUT_S, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)DP_LISTEN_BACKLOG,
        MHD_OPTION_END);
    if (!l->daemon) {
        int e = errno;
        gw_err_set(err, GW_ERR_UNAVAILABLE, "listen", NULL, "cannot listen%s%s",
                   e ? ": " : "", e ? strerror(e) : "");
        gw_free(l);
        return NULL;
    }
    if (claimed != MHD_INVALID_SOCKET)
        w->sh->listen_fd = -1; /* the daemon's now: MHD_stop_daemon closes it */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info || dp_loop_watch(w->loop, info->epoll_fd, EPOLLIN, on_epoll, l) != 0) {
        gw_err_set(err, GW_ERR_INTERNAL, "epoll", NULL, "cannot watch the HTTP daemon");
        MHD_stop_daemon(l->daemon);
        gw_free(l);
        return NULL;
    }
    l->epfd = info->epoll_fd;
    /* Accept whatever is already pending once the loop runs. */
    l->timer = dp_loop_timer_add(w->loop, 0, on_timer, l);
    l->timer_due = dp_loop_now_ms(w->loop);
    return l;
}

void dp_listener_quiesce(struct dp_listener *l)
{
    if (!l || !l->daemon)
        return;
    MHD_socket fd = MHD_quiesce_daemon(l->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void dp_listener_kick(struct dp_listener *l)
{
    if (!l)
        return;
    struct dp_loop *loop = l->w->loop;
    int64_t now = dp_loop_now_ms(loop);
    if (l->timer && l->timer_due <= now)
        return;
    if (l->timer)
        dp_loop_timer_cancel(loop, l->timer);
    l->timer = dp_loop_timer_add(loop, 0, on_timer, l);
    l->timer_due = now;
}

void dp_listener_run(struct dp_listener *l)
{
    if (l)
        run_mhd(l);
}

void dp_listener_free(struct dp_listener *l)
{
    if (!l)
        return;
    struct dp_loop *loop = l->w->loop;
    if (l->epfd >= 0)
        dp_loop_unwatch(loop, l->epfd);
    MHD_stop_daemon(l->daemon);
    if (l->timer)
        dp_loop_timer_cancel(loop, l->timer);
    l->timer = NULL;
    gw_free(l);
}
