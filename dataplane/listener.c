/* One worker's MHD daemon, driven by the worker's loop (see listener.h).
 *
 * Owns the daemon, the loop timer that honours MHD_get_timeout, and one
 * struct dp_conn per client connection (MHD's socket context): the
 * request's way back to its connection (struct dp_client_ops over MHD) and
 * the connection's hang-up watch. The access handler dispatches the three
 * phases of an MHD request (headers, body pieces, complete) to request.c;
 * the request object is MHD's con_cls, released from the completed
 * callback. Thread: the worker's. */
#include "listener.h"

#include "bufbudget.h"
#include "common/alloc.h"
#include "common/http_framing_mhd.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/tls_server_mhd.h"
#include "loop.h"
#include "portclaim.h"
#include "request.h"
#include "respond.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Per-connection pool: GW_HTTP_POOL_BYTES (common/limits.h), room for a
 * request just over the URL or header limits so that we answer it (414,
 * 431 in the OpenAI shape) rather than MHD. MHD zeroes the pool for every
 * request on a kept-alive connection: a memset of 48 KiB, far below a
 * request's other costs. */
#define CONN_MEMORY GW_HTTP_POOL_BYTES
#define CONN_LIMIT 20000
#define CONN_TIMEOUT_S 120       /* idle client connections */
#define STREAM_BLOCK (16 * 1024) /* MHD's buffer for a stream's content reader */
#define HUP_STALLS_MAX 64 /* hang-up re-checks while MHD reads nothing more */

struct dp_listener {
    struct dp_req_env *env;
    struct dp_loop *loop;
    struct MHD_Daemon *daemon;
    int epfd;
    struct dp_timer *timer;
    int64_t timer_due;
    struct gw_tls_server *tls; /* --tls-cert, or NULL */
};

/* One client connection, from MHD's start to close notification. */
struct dp_conn {
    struct dp_listener *l;
    struct MHD_Connection *conn;
    int fd;                 /* owned by MHD, or -1 */
    int armed;              /* the one-shot hang-up watch may still report */
    int suspended;          /* suspended by us */
    int hup_seen;           /* the current request's client hung up */
    uint64_t body_received; /* bytes of the current request's body MHD handed us */
    uint64_t hup_mark;      /* body_received at the last hang-up check */
    int hup_stalls;         /* hang-up checks in a row without body progress */
    struct dp_request *req; /* the request being served, or NULL */
    struct gw_tls_cred *tls; /* the certificate this connection presents, or NULL */
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
    int64_t due = dp_loop_now_ms(l->loop) + (int64_t)t;
    if (l->timer && l->timer_due <= due)
        return;
    if (l->timer)
        dp_loop_timer_cancel(l->loop, l->timer);
    l->timer = dp_loop_timer_add(l->loop, (int64_t)t, on_timer, l);
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

/* ---- the client's hang-ups -------------------------------------------------
 *
 * MHD misses some client disconnects: a suspended connection is not watched
 * at all, and in external-epoll mode MHD registers sockets edge-triggered
 * and treats a short recv() as "drained", so an EOF that arrived together
 * with the last bytes of a request is never read (the request then waits
 * for a body that cannot come, up to the connection timeout). So every
 * client socket is watched in the worker's loop for EPOLLRDHUP (plus the
 * implied EPOLLHUP/EPOLLERR) with EPOLLONESHOT, from connection start to
 * close: the first report disarms the watch and goes to the connection's
 * current request (dp_request_hangup), which acts on it from its pump. A
 * report with no request being served is dropped; the next request on the
 * connection re-arms the watch (one EPOLL_CTL_MOD), and a hang-up that is
 * still there is reported to it at once. Like nginx, a client that shuts
 * its sending side while we wait for the upstream has left (499). */

static void on_client_hup(struct dp_loop *loop, int fd, uint32_t events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    struct dp_conn *c = arg;
    c->armed = 0; /* one-shot: disabled in the epoll set until re-armed */
    if (!c->req)
        return;
    c->hup_seen = 1;
    dp_request_hangup(c->req);
}

/* Makes sure a hang-up of c's client will be reported. */
static void watch(struct dp_conn *c)
{
    if (c->armed || c->fd < 0)
        return;
    if (dp_loop_watch(c->l->loop, c->fd, EPOLLRDHUP | EPOLLONESHOT, on_client_hup, c) == 0)
        c->armed = 1;
}

/* ---- struct dp_client_ops over MHD ---------------------------------------- */

static const char *conn_header(void *ctx, const char *name)
{
    struct dp_conn *c = ctx;
    return MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
}

struct each_ctx {
    int (*fn)(void *arg, const char *key, const char *value);
    void *arg;
};

static enum MHD_Result each_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct each_ctx *e = cls;
    return e->fn(e->arg, key, value) == 0 ? MHD_YES : MHD_NO;
}

static void conn_each(void *ctx, int headers, int (*fn)(void *, const char *, const char *),
                      void *arg)
{
    struct dp_conn *c = ctx;
    struct each_ctx e = {fn, arg};
    MHD_get_connection_values(c->conn, headers ? MHD_HEADER_KIND : MHD_GET_ARGUMENT_KIND,
                              each_value, &e);
}

static struct MHD_Response *make_response(struct dp_reply *rep)
{
    if (rep->stream)
        return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, dp_relay_read,
                                                 rep->stream, NULL);
    if (rep->body && rep->held) { /* given back when MHD is done with it */
        struct dp_bufhold *h = dp_bufbudget_hold(rep->body, rep->held);
        struct MHD_Response *resp = h ? MHD_create_response_from_buffer_with_free_callback_cls(
                                            rep->len, rep->body, dp_bufbudget_hold_free, h)
                                      : NULL;
        if (!resp) {
            gw_free(h); /* the reply keeps its body and budget */
            return NULL;
        }
        rep->body = NULL; /* MHD frees both */
        rep->held = 0;
        return resp;
    }
    if (rep->body) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer_with_free_callback(rep->len, rep->body, gw_free);
        if (resp)
            rep->body = NULL; /* MHD frees it */
        return resp;
    }
    return MHD_create_response_from_buffer(rep->fixed ? rep->len : 0,
                                           (void *)(rep->fixed ? rep->fixed : ""),
                                           MHD_RESPMEM_PERSISTENT);
}

static int conn_answer(void *ctx, struct dp_reply *rep)
{
    struct dp_conn *c = ctx;
    struct MHD_Response *resp = make_response(rep);
    if (!resp)
        return -1;
    for (int i = 0; i < rep->nheaders; i++)
        MHD_add_response_header(resp, rep->name[i], rep->value[i]);
    if (MHD_queue_response(c->conn, (unsigned)rep->status, resp) != MHD_YES)
        gw_warn("request %s: MHD refused the %d response",
                c->req ? dp_reply_get(rep, "x-request-id") : "?", rep->status);
    MHD_destroy_response(resp);
    return 0;
}

/* MHD does not watch a suspended socket; we do. A hang-up reported
 * earlier (while MHD was writing) counts now. */
static void conn_suspend(void *ctx)
{
    struct dp_conn *c = ctx;
    if (c->suspended)
        return;
    MHD_suspend_connection(c->conn);
    c->suspended = 1;
    if (c->hup_seen && c->req)
        dp_request_hangup(c->req);
    else
        watch(c);
}

/* Resumes and has MHD run in the next iteration (MHD's own wake-up of its
 * epoll set is not relied upon). */
static void conn_resume(void *ctx)
{
    struct dp_conn *c = ctx;
    if (!c->suspended)
        return;
    c->suspended = 0;
    MHD_resume_connection(c->conn);
    dp_listener_kick(c->l);
}

static int conn_suspended(void *ctx)
{
    return ((struct dp_conn *)ctx)->suspended;
}

/* Still reading the body when the client hung up. If bytes are left before
 * the EOF, MHD has yet to read them (and will): look again at the next
 * report, as long as MHD makes progress. With nothing left, the body can
 * never complete, and MHD may not have seen the EOF (see above): shutting
 * the socket down gives MHD's epoll set a hang-up it cannot miss, and MHD
 * closes the connection. */
static void conn_reading_hangup(void *ctx)
{
    struct dp_conn *c = ctx;
    char ch;
    ssize_t n = recv(c->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))) {
        c->hup_stalls = c->body_received == c->hup_mark ? c->hup_stalls + 1 : 0;
        c->hup_mark = c->body_received;
        if (c->hup_stalls < HUP_STALLS_MAX)
            watch(c); /* else MHD's idle timeout remains */
        return;
    }
    gw_debug("request %s: the client closed before sending its whole body",
             c->req ? c->req->id : "?");
    shutdown(c->fd, SHUT_RDWR);
    dp_listener_kick(c->l);
}

static void conn_abandon(void *ctx)
{
    struct dp_conn *c = ctx;
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
}

static const struct dp_client_ops conn_ops = {
    .header = conn_header,
    .each = conn_each,
    .answer = conn_answer,
    .suspend = conn_suspend,
    .resume = conn_resume,
    .suspended = conn_suspended,
    .reading_hangup = conn_reading_hangup,
    .abandon = conn_abandon,
};

/* ---- MHD callbacks ---------------------------------------------------------- */

static struct dp_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)version;
    (void)cls;
    struct dp_request *r = *con_cls;
    struct dp_conn *c = conn_of(conn);
    if (!c)
        return MHD_NO; /* out of memory at connection start: MHD closes it */
    if (!r || r == gw_framing_mhd_uri_mark()) {
        /* Strict framing first (SPEC 5, common/http_framing_mhd.h): a
         * refused request is answered and its connection closed, so the
         * bytes after its headers never become a second request. */
        struct gw_framing_verdict v = gw_framing_mhd_check(conn, r);
        *con_cls = NULL;
        c->req = NULL; /* MHD completed the previous request already */
        c->hup_seen = 0;
        c->body_received = c->hup_mark = 0;
        c->hup_stalls = 0;
        r = dp_request_new(c->l->env, &conn_ops, c, method, url);
        if (!r)
            return MHD_NO; /* out of memory: MHD closes the connection */
        c->req = r;
        *con_cls = r;
        watch(c);
        if (v.status)
            dp_request_refuse(r, v.status, v.code, v.message);
        else
            dp_request_headers(r);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        c->body_received += *upload_data_size;
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
    struct dp_listener *l = cls;
    struct dp_request *r = *con_cls;
    *con_cls = NULL;
    if (!r || r == gw_framing_mhd_uri_mark())
        return; /* the URL mark: MHD ended the request before on_access ran */
    struct dp_conn *c = conn_of(conn);
    if (c) {
        if (c->req == r)
            c->req = NULL; /* the connection's next request gets its reports */
        c->suspended = 0;
    }
    int error = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
    dp_request_closed(r, error);
    /* MHD closes the socket of a failed connection only on its next run. */
    if (error)
        dp_listener_kick(l);
}

/* A connection's life: its struct dp_conn lives as long. CLOSED comes
 * before MHD closes the socket, also from MHD_stop_daemon. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct dp_listener *l = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct dp_conn *c = gw_calloc(1, sizeof(*c));
        *socket_context = c;
        if (!c)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->l = l;
        c->conn = conn;
        c->fd = ci ? ci->connect_fd : -1;
        c->tls = gw_tls_mhd_started(l->tls, conn); /* before the handshake */
        watch(c); /* on failure: re-tried by the connection's requests */
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct dp_conn *c = *socket_context;
        *socket_context = NULL;
        if (!c)
            return;
        if (c->req) /* not expected: MHD completes the request first */
            dp_request_closed(c->req, 1);
        if (c->fd >= 0) /* before MHD closes it (and its number is reused) */
            dp_loop_unwatch(l->loop, c->fd);
        gw_tls_cred_release(c->tls);
        gw_free(c);
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

struct dp_listener *dp_listener_new(struct dp_req_env *env, int *claimed_fd,
                                    const struct sockaddr *addr, socklen_t addrlen,
                                    struct gw_tls_server *tls, struct gw_err *err)
{
    (void)addrlen;
    struct dp_listener *l = gw_calloc(1, sizeof(*l));
    if (!l) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    l->env = env;
    l->loop = env->loop;
    l->epfd = -1;
    l->tls = tls;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
                     gw_tls_mhd_flag(tls);
    struct MHD_OptionItem tls_opts[GW_TLS_MHD_OPTIONS];
    gw_tls_mhd_options(tls, tls_opts);
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Worker 0 serves on the socket that claimed the port (portclaim.h,
     * passed as claimed_fd), the others join it with SO_REUSEPORT. */
    MHD_socket claimed = claimed_fd && *claimed_fd >= 0 ? *claimed_fd : MHD_INVALID_SOCKET;
    errno = 0;
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, l, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, claimed, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, l, MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_URI_LOG_CALLBACK,
        gw_framing_mhd_uri, NULL,
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
        *claimed_fd = -1; /* the daemon's now: MHD_stop_daemon closes it */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info || dp_loop_watch(l->loop, info->epoll_fd, EPOLLIN, on_epoll, l) != 0) {
        gw_err_set(err, GW_ERR_INTERNAL, "epoll", NULL, "cannot watch the HTTP daemon");
        MHD_stop_daemon(l->daemon);
        gw_free(l);
        return NULL;
    }
    l->epfd = info->epoll_fd;
    /* Accept whatever is already pending once the loop runs. */
    l->timer = dp_loop_timer_add(l->loop, 0, on_timer, l);
    l->timer_due = dp_loop_now_ms(l->loop);
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
    struct dp_loop *loop = l->loop;
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
    struct dp_loop *loop = l->loop;
    if (l->epfd >= 0)
        dp_loop_unwatch(loop, l->epfd);
    MHD_stop_daemon(l->daemon);
    if (l->timer)
        dp_loop_timer_cancel(loop, l->timer);
    l->timer = NULL;
    gw_free(l);
}
