/* Upstream transfers over one curl multi handle per worker (see upstream.h).
 *
 * Owns the multi handle, the loop timer curl asked for, and the easy handle
 * and header list of every active try (struct dp_upstream_xfer); a try's
 * deadlines are its owner's (try.c). Reports only through the xfer's callback struct; never
 * sees the object that embeds the xfer. Runs on the worker's thread only.
 *
 * Why the indirections: curl forbids multi calls from its own callbacks
 * (CURLM_RECURSIVE_API_CALL), so the socket and timer callbacks only touch
 * the loop, and request completion is handled after
 * curl_multi_socket_action returned, by draining curl_multi_info_read. */
#include "upstream.h"

#include "common/alloc.h"
#include "common/log.h"
#include "loop.h"
#include "proxyenv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Idle upstream connections kept per worker: more than the transfers a busy
 * worker runs at once (1,000 client connections in the bench), so that the
 * connections of a burst go back to the cache instead of being closed and
 * opened again for the next one (churn). One fd and a few KiB each. */
#define MAX_CONNECTS 2048
#define IDLE_EASY_MAX 64  /* finished easy handles kept for the next tries */

struct dp_upstream {
    struct dp_loop *loop;
    CURLM *multi;
    struct dp_timer *timer;
    int active;
    int in_action; /* inside curl_multi_socket_action (for assertions) */
    /* Easy handles of finished tries, already curl_easy_reset: creating and
     * destroying one per request cost more than the rest of a try's curl
     * work. The connections themselves stay in the multi's cache either way. */
    CURL *idle[IDLE_EASY_MAX];
    int nidle;
    /* Sockets curl opened for connections (by fd): kept in the loop's epoll
     * set while the connection idles in curl's cache (dp_loop_park), so a
     * reused connection costs no epoll_ctl; unwatched when curl closes them
     * (close_cb). Other sockets curl asks us to watch (the threaded
     * resolver's) are unwatched as soon as curl lets go of them. */
    unsigned char *conn_fd;
    size_t nconn_fd;
    struct dp_proxyenv proxy; /* read once: no getenv per transfer */
    /* TLS sessions shared by every easy handle of the worker (libcurl keeps
     * them per handle otherwise): a new connection to an upstream resumes
     * the session of an earlier one instead of a full handshake. The
     * worker's thread only, so no lock callbacks. */
    CURLSH *share;
};

/* ---- easy handles ----------------------------------------------------------- */

static CURL *easy_get(struct dp_upstream *up)
{
    if (up->nidle > 0)
        return up->idle[--up->nidle];
    return curl_easy_init();
}

/* Takes back e (not in the multi any more). Only a handle whose transfer
 * completed cleanly (reusable) is kept, reset to a fresh handle's options so
 * it holds no pointer to the request; one that was cancelled, failed or left
 * paused is freed, so no state of a broken transfer carries over. */
static void easy_put(struct dp_upstream *up, CURL *e, int reusable)
{
    if (!reusable || up->nidle >= IDLE_EASY_MAX) {
        curl_easy_cleanup(e);
        return;
    }
    curl_easy_reset(e);
    up->idle[up->nidle++] = e;
}

/* ---- driving the multi ---------------------------------------------------- */

static void drain_done(struct dp_upstream *up)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        struct dp_upstream_xfer *x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(up->multi, easy);
        easy_put(up, easy, result == CURLE_OK && x && !x->paused);
        up->active--;
        if (!x)
            continue;
        x->easy = NULL;
        curl_slist_free_all(x->headers);
        x->headers = NULL;
        x->cb->on_done(x->arg, (int)result);
    }
}

static void socket_action(struct dp_upstream *up, curl_socket_t fd, int flags)
{
    int running;
    up->in_action = 1;
    curl_multi_socket_action(up->multi, fd, flags, &running);
    up->in_action = 0;
    drain_done(up);
}

static void on_fd(struct dp_loop *loop, int fd, uint32_t events, void *arg)
{
    (void)loop;
    struct dp_upstream *up = arg;
    int flags = 0;
    if (events & (EPOLLIN | EPOLLHUP))
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & EPOLLERR)
        flags |= CURL_CSELECT_ERR;
    socket_action(up, fd, flags);
}

static void on_timer(struct dp_loop *loop, void *arg)
{
    (void)loop;
    struct dp_upstream *up = arg;
    up->timer = NULL;
    socket_action(up, CURL_SOCKET_TIMEOUT, 0);
}

static int is_conn_fd(const struct dp_upstream *up, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < up->nconn_fd && up->conn_fd[fd];
}

/* CURLOPT_SOCKOPTFUNCTION: a new connection socket. */
static int sockopt_cb(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    struct dp_upstream *up = clientp;
    /* A new socket cannot be in the loop yet: an entry under its number is
     * a leftover (no syscall when there is none). */
    dp_loop_unwatch(up->loop, fd);
    if (purpose != CURLSOCKTYPE_IPCXN || fd < 0)
        return CURL_SOCKOPT_OK;
    if ((size_t)fd >= up->nconn_fd) {
        size_t n = up->nconn_fd ? up->nconn_fd : 256;
        while (n <= (size_t)fd)
            n *= 2;
        unsigned char *m = gw_realloc(up->conn_fd, n);
        if (!m)
            return CURL_SOCKOPT_OK; /* not marked: unwatched when curl lets go of it */
        memset(m + up->nconn_fd, 0, n - up->nconn_fd);
        up->conn_fd = m;
        up->nconn_fd = n;
    }
    up->conn_fd[fd] = 1;
    return CURL_SOCKOPT_OK;
}

/* CURLOPT_CLOSESOCKETFUNCTION (inherited by the connection, so it may run
 * after the easy handle is gone, until curl_multi_cleanup). */
static int close_cb(void *clientp, curl_socket_t fd)
{
    struct dp_upstream *up = clientp;
    if (is_conn_fd(up, fd))
        up->conn_fd[fd] = 0;
    dp_loop_unwatch(up->loop, fd); /* before the number can be reused */
    return close(fd) == 0 ? 0 : 1;
}

/* CURLMOPT_SOCKETFUNCTION: only loop calls here. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct dp_upstream *up = userp;
    if (what == CURL_POLL_REMOVE) {
        /* A connection going back to curl's cache: likely watched again,
         * for the same events, by the next try. */
        if (is_conn_fd(up, fd))
            dp_loop_park(up->loop, fd);
        else
            dp_loop_unwatch(up->loop, fd);
        return 0;
    }
    uint32_t ev = 0;
    if (what & CURL_POLL_IN)
        ev |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev |= EPOLLOUT;
    if (dp_loop_watch(up->loop, fd, ev, on_fd, up) != 0)
        gw_error("upstream: cannot watch socket %d", (int)fd);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one loop timer, replaced at each call. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct dp_upstream *up = userp;
    if (up->timer) {
        dp_loop_timer_cancel(up->loop, up->timer);
        up->timer = NULL;
    }
    if (timeout_ms >= 0) {
        up->timer = dp_loop_timer_add(up->loop, timeout_ms, on_timer, up);
        if (!up->timer)
            gw_error("upstream: cannot add a timer");
    }
    return 0;
}

struct dp_upstream *dp_upstream_new(struct dp_loop *loop)
{
    struct dp_upstream *up = gw_calloc(1, sizeof(*up));
    if (!up)
        return NULL;
    up->loop = loop;
    if (dp_proxyenv_init(&up->proxy) != 0) {
        gw_free(up);
        return NULL;
    }
    up->multi = curl_multi_init();
    up->share = curl_share_init();
    if (!up->multi || !up->share ||
        curl_share_setopt(up->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        if (up->multi)
            curl_multi_cleanup(up->multi);
        if (up->share)
            curl_share_cleanup(up->share);
        dp_proxyenv_cleanup(&up->proxy);
        gw_free(up);
        return NULL;
    }
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, (long)MAX_CONNECTS);
    return up;
}

void dp_upstream_free(struct dp_upstream *up)
{
    if (!up)
        return;
    if (up->timer)
        dp_loop_timer_cancel(up->loop, up->timer);
    up->timer = NULL;
    while (up->nidle > 0)
        curl_easy_cleanup(up->idle[--up->nidle]);
    /* curl_multi_cleanup closes the cached connections; close_cb unwatches
     * them from the loop (still alive here). */
    curl_multi_cleanup(up->multi);
    curl_share_cleanup(up->share); /* after every easy handle let go of it */
    dp_proxyenv_cleanup(&up->proxy);
    gw_free(up->conn_fd);
    gw_free(up);
}

int dp_upstream_active(const struct dp_upstream *up)
{
    return up->active;
}

/* ---- callbacks of one transfer -------------------------------------------- */

static void trim_value(const char *v, size_t n, const char **out, size_t *outn)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    *out = v;
    *outn = n;
}

static void copy_value(char *dst, size_t dstsz, const char *v, size_t n)
{
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Retry-After is delta-seconds or an HTTP date. */
static int64_t parse_retry_after(const char *v)
{
    char *end;
    long long s = strtoll(v, &end, 10);
    if (end != v && *end == '\0')
        return s < 0 ? 0 : (s > 86400LL * 7 ? 86400LL * 7 : s) * 1000;
    time_t t = curl_getdate(v, NULL);
    if (t < 0)
        return -1;
    int64_t d = (int64_t)t - (int64_t)time(NULL);
    return d < 0 ? 0 : (d > 86400LL * 7 ? 86400LL * 7 : d) * 1000;
}

static int header_is(const char *line, size_t n, const char *name, const char **val, size_t *vn)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
        return 0;
    trim_value(line + k + 1, n - k - 1, val, vn);
    return 1;
}

static size_t header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
    struct dp_upstream_xfer *x = userdata;
    size_t n = size * nitems;
    const char *v;
    size_t vn;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new header block (after a 1xx, say): forget the previous one. */
        x->content_type[0] = '\0';
        x->retry_after[0] = '\0';
        x->retry_after_ms = -1;
        x->remaining_zero = 0;
        return n;
    }
    if (n <= 2 && (line[0] == '\r' || line[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 100 && status < 200)
            return n; /* interim response: the real one follows */
        x->status = (int)status;
        x->headers_done = 1;
        return x->cb->on_headers(x->arg, x) == 0 ? n : 0;
    }
    if (header_is(line, n, "content-type", &v, &vn)) {
        copy_value(x->content_type, sizeof(x->content_type), v, vn);
    } else if (header_is(line, n, "retry-after", &v, &vn)) {
        copy_value(x->retry_after, sizeof(x->retry_after), v, vn);
        x->retry_after_ms = parse_retry_after(x->retry_after);
    } else if (header_is(line, n, "x-ratelimit-remaining-requests", &v, &vn) ||
               header_is(line, n, "x-ratelimit-remaining-tokens", &v, &vn)) {
        if (vn == 1 && v[0] == '0')
            x->remaining_zero = 1;
    }
    return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct dp_upstream_xfer *x = userdata;
    size_t n = x->cb->on_data(x->arg, data, size * nmemb);
    if (n == CURL_WRITEFUNC_PAUSE)
        x->paused = 1;
    return n;
}

/* CURLOPT_PREREQFUNCTION: the request is about to be sent on a connection.
 * Runs again when curl re-sends it on a fresh connection because a reused
 * one was reset before any response: counted, so the owner reports every
 * send as a try. */
static int prereq_cb(void *userdata, char *conn_primary_ip, char *conn_local_ip,
                     int conn_primary_port, int conn_local_port)
{
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    struct dp_upstream_xfer *x = userdata;
    x->sends++;
    return CURL_PREREQFUNC_OK;
}

void dp_upstream_xfer_init(struct dp_upstream_xfer *x, const struct dp_upstream_cb *cb, void *arg)
{
    memset(x, 0, sizeof(*x));
    x->cb = cb;
    x->arg = arg;
    x->retry_after_ms = -1;
}

/* Forgets the previous try's results (keeps the owner's callbacks). */
static void xfer_reset(struct dp_upstream_xfer *x, struct dp_upstream *up)
{
    const struct dp_upstream_cb *cb = x->cb;
    void *arg = x->arg;
    dp_upstream_xfer_init(x, cb, arg);
    x->up = up;
}

int dp_upstream_start(struct dp_upstream *up, struct dp_upstream_xfer *x,
                      const struct dp_upstream_req *q)
{
    CURL *e = easy_get(up);
    if (!e) {
        curl_slist_free_all(q->headers);
        return -1;
    }
    xfer_reset(x, up);
    x->easy = e;
    x->headers = q->headers;
    x->started_ms = dp_loop_now_ms(up->loop);

    curl_easy_setopt(e, CURLOPT_URL, q->url);
    dp_proxyenv_apply(&up->proxy, e, q->url);
    curl_easy_setopt(e, CURLOPT_SHARE, up->share);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L); /* no dot segment squashed: the path we built */
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
    curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, up);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, up);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    /* No CURLOPT_TIMEOUT_MS: a long stream is never cut for its length. */
    int64_t conn = q->connect_timeout_ms > 0 && q->connect_timeout_ms < 10000
                       ? q->connect_timeout_ms
                       : 10000;
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)conn);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
    /* Upstream TLS (upstream_tls.h): the endpoint's CAs and client
     * certificate; curl's error text kept for the 502's reason. */
    dp_upstream_tls_apply(e, q->tls);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);

    if (strcmp(q->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(q->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->body ? q->body_len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        if (strcmp(q->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
    }

    if (curl_multi_add_handle(up->multi, e) != CURLM_OK) {
        easy_put(up, e, 0);
        curl_slist_free_all(x->headers);
        xfer_reset(x, NULL);
        return -1;
    }
    up->active++;
    return 0;
}

void dp_upstream_cancel(struct dp_upstream_xfer *x)
{
    if (!x->up)
        return;
    struct dp_upstream *up = x->up;
    if (!x->easy)
        return;
    curl_multi_remove_handle(up->multi, x->easy);
    easy_put(up, x->easy, 0);
    x->easy = NULL;
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    up->active--;
}

void dp_upstream_finish(struct dp_upstream_xfer *x, int result)
{
    if (!x->easy)
        return;
    dp_upstream_cancel(x);
    x->cb->on_done(x->arg, result);
}

void dp_upstream_unpause(struct dp_upstream_xfer *x)
{
    if (!x->easy || !x->paused)
        return;
    x->paused = 0;
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
}
