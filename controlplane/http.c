/* The control plane's libmicrohttpd server (see http.h).
 *
 * Threads: MHD's internal pool (CP_HTTP_THREADS epoll threads) runs every
 * callback here; handlers block only on the database lock. Per connection we
 * keep a struct conn (body buffer bounded to CP_MAX_BODY, data-plane wait
 * state), freed in the completion callback, never inside the handler. */
#include "http.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fdlimit.h"
#include "common/http_framing_mhd.h"
#include "common/idle_conns_mhd.h"
#include "common/json_depth.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/tls_server_mhd.h"
#include "dp_channel.h"
#include "jfield.h"
#include "req.h"
#include "routes.h"
#include "static.h"

#define CP_HTTP_THREADS 4
/* Connection caps (issue 11 item 12). Idle connections (no request yet,
 * or kept alive between requests) are closed after CP_IDLE_S; held long
 * polls are suspended, and suspended connections do not time out. One
 * address holds at most CP_PER_IP connections, so a flood of idle
 * connections from one host leaves room for the data planes and admins
 * elsewhere; the total is bounded by the fd limit (raised at start) so a
 * flood meets this limit, refused at once, and never EMFILE. */
#define CP_IDLE_S 15
#define CP_PER_IP 1024
/* Past 7/8 of the connection limit, each new connection closes the one
 * idle longest (common/idle_conns.h): a data plane's long poll or an
 * admin always gets a slot, however many addresses idle sockets come
 * from; held long polls are busy and never closed. */
#define CP_CONN_MAX 16384
#define CP_FD_SPARE 256
/* Bodies declared larger than this are refused before reading them; up to
 * it, an oversized body is drained first so the client can read its 413. */
#define CP_DRAIN_MAX (64 * 1024 * 1024)

struct cp_http {
    struct cp_http_config cfg;
    char web_dir[PATH_MAX];
    struct MHD_Daemon *daemon;
    int listen_fd;
    struct gw_idle_conns *idle;
};

struct conn {
    struct gw_buf body;
    size_t received; /* all body bytes seen, kept or not */
    int too_big;
    int admin_ok;   /* /api/v1 with the right admin token: the body is kept */
    void *dp_state; /* dp_channel.c's wait state, or NULL */
};

/* --- replies ------------------------------------------------------------- */

static void free_cb(void *p)
{
    gw_free(p);
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                             const char *type, const char *hname, const char *hvalue)
{
    struct MHD_Response *r =
        body ? MHD_create_response_from_buffer_with_free_callback(len, body, free_cb)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        gw_free(body);
        return MHD_NO;
    }
    if (type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (hname)
        MHD_add_response_header(r, hname, hvalue);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json_hdr(struct MHD_Connection *c, unsigned status, json_t *j,
                                      const char *hname, const char *hvalue)
{
    if (!j)
        return queue(c, status, NULL, 0, NULL, hname, hvalue);
    char *s = json_dumps(j, JSON_COMPACT);
    size_t n = s ? strlen(s) : 0;
    /* A newline ends the body, so that curl's output ends its line. */
    char *t = s ? gw_realloc(s, n + 2) : NULL;
    if (!t) {
        gw_free(s);
        return queue(c, 503, NULL, 0, NULL, NULL, NULL);
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    return queue(c, status, t, n + 1, "application/json", hname, hvalue);
}

enum MHD_Result cp_http_reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    return reply_json_hdr(c, status, j, NULL, NULL);
}

/* The error document. The message may quote a path parameter that is not
 * UTF-8 (jansson would refuse it and the reply would lose its body), so
 * such bytes become '?'. */
static json_t *error_body(const struct gw_err *err)
{
    char msg[sizeof(err->message)];
    const char *code = err->code[0] ? err->code : "error";
    snprintf(msg, sizeof(msg), "%s", err->message[0] ? err->message : "internal error");
    gw_utf8_scrub(msg);
    return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

static enum MHD_Result reply_error_hdr(struct MHD_Connection *c, const struct gw_err *err,
                                       const char *hname, const char *hvalue)
{
    int status = gw_err_http_status(err->kind);
    if (status < 400)
        status = 500; /* a handler failed without saying why */
    json_t *j = error_body(err);
    enum MHD_Result r = reply_json_hdr(c, (unsigned)status, j, hname, hvalue);
    json_decref(j);
    return r;
}

enum MHD_Result cp_http_reply_error(struct MHD_Connection *c, const struct gw_err *err)
{
    return reply_error_hdr(c, err, NULL, NULL);
}

/* A request refused for its framing or header sizes (SPEC 5): the admin
 * error shape, and the connection closed so that no byte after the headers
 * is ever read as another request. */
static enum MHD_Result refuse_framing(struct MHD_Connection *c, struct gw_framing_verdict v)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", v.code, "message", v.message);
    enum MHD_Result r = reply_json_hdr(c, (unsigned)v.status, j, MHD_HTTP_HEADER_CONNECTION, "close");
    json_decref(j);
    return r;
}

static enum MHD_Result fail(struct MHD_Connection *c, enum gw_err_kind kind, const char *code,
                            const char *msg)
{
    struct gw_err err;
    gw_err_set(&err, kind, code, NULL, "%s", msg);
    return cp_http_reply_error(c, &err);
}

/* --- the admin API ---------------------------------------------------------- */

int cp_http_bearer_ok(struct MHD_Connection *c, const char *hash)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    char got[GW_SHA256_HEX_LEN + 1];
    gw_sha256_hex(tok, strlen(tok), got);
    return gw_ct_equal(got, GW_SHA256_HEX_LEN, hash, GW_SHA256_HEX_LEN);
}

/* 1 when the Content-Type's media type is application/json. */
static int is_json_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; \t");
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* Parses the body of a JSON route into req->json. */
static int parse_body(struct cp_req *req, struct gw_err *err)
{
    if (!is_json_type(req->content_type))
        return gw_err_set(err, GW_ERR_MEDIA_TYPE, "unsupported_media_type", NULL,
                          "Content-Type must be application/json");
    if (req->body_len == 0)
        return gw_err_set(err, GW_ERR_INVALID, "missing_body", NULL,
                          "a JSON object body is required");
    if (!gw_json_depth_ok(req->body, req->body_len, CP_MAX_JSON_DEPTH))
        return gw_err_set(err, GW_ERR_INVALID, "malformed_json", NULL,
                          "JSON nested deeper than %d levels", CP_MAX_JSON_DEPTH);
    json_error_t jerr;
    req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req->json) {
        /* jansson ends its text with " near '<token>'": that would echo the
         * body (e.g. the secret value being stored) into the reply. */
        char *near = strstr(jerr.text, " near ");
        if (near)
            *near = '\0';
        return gw_err_set(err, GW_ERR_INVALID, "malformed_json", NULL,
                          "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column,
                          jerr.text);
    }
    if (!json_is_object(req->json))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", NULL,
                          "the body must be a JSON object");
    return 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct cp_req *req)
{
    if (req->raw) {
        char *raw = req->raw;
        req->raw = NULL;
        return queue(c, (unsigned)req->status, raw, req->raw_len, req->raw_type, NULL, NULL);
    }
    return cp_http_reply_json(c, (unsigned)(req->status ? req->status : 200), req->out);
}

static enum MHD_Result api_dispatch(struct cp_http *srv, struct MHD_Connection *c, const char *url,
                                    const char *method, struct conn *st)
{
    struct gw_err err;
    gw_err_clear(&err);
    if (!st->admin_ok) {
        gw_err_set(&err, GW_ERR_AUTH, "unauthorized", NULL, "missing or wrong admin token");
        return reply_error_hdr(c, &err, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    }
    struct cp_req req = {0};
    const struct cp_route *route = NULL;
    char storage[2048], allow[64];
    switch (cp_route_find(method, url, &route, req.params, &req.nparams, storage, sizeof(storage),
                          allow, sizeof(allow))) {
    case CP_ROUTE_NO_PATH:
        return fail(c, GW_ERR_NOT_FOUND, "not_found", "no such route");
    case CP_ROUTE_NO_METHOD:
        gw_err_set(&err, GW_ERR_METHOD, "method_not_allowed", NULL,
                   "%s is not allowed here (allowed: %s)", method, allow);
        return reply_error_hdr(c, &err, MHD_HTTP_HEADER_ALLOW, allow);
    case CP_ROUTE_FOUND:
        break;
    }
    req.method = method;
    req.path = url;
    req.db = srv->cfg.db;
    req.dp = srv->cfg.dp;
    req.conn = c;
    req.content_type =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    req.body = st->body.data ? st->body.data : "";
    req.body_len = st->body.len;
    enum MHD_Result ret;
    if (((route->flags & CP_ROUTE_JSON_BODY) ||
         ((route->flags & CP_ROUTE_OPT_BODY) && req.body_len)) &&
        parse_body(&req, &err) < 0)
        ret = cp_http_reply_error(c, &err);
    else if (cp_route_run(route, &req, &err) < 0)
        ret = cp_http_reply_error(c, &err);
    else
        ret = send_reply(c, &req);
    gw_debug("%s %s -> %d", method, route->pattern,
             err.kind != GW_ERR_NONE ? gw_err_http_status(err.kind) : req.status);
    json_decref(req.json);
    cp_req_cleanup(&req);
    return ret;
}

/* --- the MHD callbacks ---------------------------------------------------- */

static enum MHD_Result redirect(struct MHD_Connection *c, const char *to)
{
    return queue(c, MHD_HTTP_FOUND, NULL, 0, NULL, MHD_HTTP_HEADER_LOCATION, to);
}

static int starts_with_segment(const char *url, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(url, prefix, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

static enum MHD_Result dispatch(struct cp_http *srv, struct MHD_Connection *c, const char *url,
                                const char *method, struct conn *st)
{
    if (starts_with_segment(url, "/dp/v1"))
        return cp_dp_handle(srv->cfg.dp, c, url, method, &st->dp_state);
    if (starts_with_segment(url, "/api/v1"))
        return api_dispatch(srv, c, url, method, st);
    if (strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0)
        return redirect(c, "/ui/");
    if (strncmp(url, "/ui/", 4) == 0)
        return cp_static_serve(c, srv->web_dir, url + 4, method);
    return fail(c, GW_ERR_NOT_FOUND, "not_found", "no such route");
}

/* A connection's context (MHD's socket context): its entry in the idle
 * registry, and with --tls-cert the certificate it presents, taken at its
 * start and held until it closes (common/tls_server_mhd.h), so SIGHUP
 * reloads it without touching connections in flight. */
struct conn_ctx {
    void *idle;              /* struct gw_idle_conn, or NULL (not tracked) */
    struct gw_tls_cred *tls; /* or NULL (plain HTTP) */
};

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct cp_http *srv = cls;
    struct conn_ctx *ctx = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        /* Out of memory: neither tracked nor given the reloaded pair (MHD's
         * start-up pair serves it). */
        *socket_context = ctx = gw_calloc(1, sizeof(*ctx));
        if (!ctx)
            return;
        gw_idle_mhd_notify(srv->idle, c, &ctx->idle, toe);
        ctx->tls = gw_tls_mhd_started(srv->cfg.tls, c);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && ctx) {
        gw_idle_mhd_notify(srv->idle, c, &ctx->idle, toe);
        gw_tls_cred_release(ctx->tls);
        gw_free(ctx);
        *socket_context = NULL;
    }
}

/* A request started (busy 1) or ended (0) on connection c. */
static void idle_busy(struct cp_http *srv, struct MHD_Connection *c, int busy)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const struct conn_ctx *ctx = i ? i->socket_context : NULL;
    if (ctx)
        gw_idle_conn_busy(srv->idle, ctx->idle, busy);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct cp_http *srv = cls;
    struct conn *st = *con_cls;
    if (!st || st == gw_framing_mhd_uri_mark()) {
        struct gw_framing_verdict v = gw_framing_mhd_check(c, st);
        *con_cls = NULL;
        idle_busy(srv, c, 1);
        if (v.status)
            return refuse_framing(c, v);
        st = gw_calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        gw_buf_init(&st->body, CP_MAX_BODY);
        *con_cls = st;
        /* Only an authenticated admin request gets its body kept: anyone
         * else's (refused with 401, or on a route without a body) is read
         * and dropped, so unauthenticated clients cannot make us hold a
         * MiB per connection. */
        st->admin_ok = starts_with_segment(url, "/api/v1") &&
                       cp_http_bearer_ok(c, srv->cfg.admin_hash);
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > CP_DRAIN_MAX)
            return fail(c, GW_ERR_TOO_LARGE, "payload_too_large", "the body is over 1 MiB");
        return MHD_YES;
    }
    if (*upload_size) {
        st->received += *upload_size;
        if (st->admin_ok && !st->too_big &&
            gw_buf_append(&st->body, upload_data, *upload_size) != GW_BUF_OK)
            st->too_big = 1;
        *upload_size = 0;
        if (st->received > CP_DRAIN_MAX)
            return MHD_NO;
        return MHD_YES;
    }
    if (st->too_big)
        return fail(c, GW_ERR_TOO_LARGE, "payload_too_large", "the body is over 1 MiB");
    return dispatch(srv, c, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    struct cp_http *srv = cls;
    struct conn *st = *con_cls;
    *con_cls = NULL;
    idle_busy(srv, c, 0);
    if (!st || st == gw_framing_mhd_uri_mark())
        return; /* the URL mark: MHD ended the request before our handler ran */
    if (st->dp_state)
        cp_dp_request_done(srv->cfg.dp, st->dp_state);
    gw_buf_cleanup(&st->body);
    gw_free(st);
}

/* We decode path segments ourselves (routes.c) so an encoded '/' inside an
 * {id} cannot change which route matches; MHD must leave the URL alone. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* --- start / stop ------------------------------------------------------- */

static int bind_listen(const char *listen_at, struct gw_err *err)
{
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    char why[256];
    if (gw_parse_hostport(listen_at, &sa, &salen, why, sizeof(why)) < 0)
        return gw_err_set(err, GW_ERR_INVALID, "usage", NULL, "--listen %s: %s", listen_at, why);
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return gw_err_set(err, GW_ERR_INTERNAL, "listen", NULL, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        return gw_err_set(err, GW_ERR_INTERNAL, "listen", NULL, "cannot listen on %s: %s",
                          listen_at, strerror(e));
    }
    return fd;
}

int cp_http_start(const struct cp_http_config *config, struct cp_http **out, struct gw_err *err)
{
    struct cp_http *srv = gw_calloc(1, sizeof(*srv));
    if (!srv)
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    srv->cfg = *config;
    snprintf(srv->web_dir, sizeof(srv->web_dir), "%s", config->web_dir ? config->web_dir : "web");
    srv->cfg.web_dir = srv->web_dir;
    srv->listen_fd = bind_listen(config->listen, err);
    if (srv->listen_fd < 0) {
        gw_free(srv);
        return -1;
    }
    unsigned limit = gw_conn_limit(CP_FD_SPARE, 4 * CP_HTTP_THREADS, CP_CONN_MAX);
    srv->idle = gw_idle_conns_new(limit - limit / 8);
    if (!srv->idle) {
        close(srv->listen_fd);
        gw_free(srv);
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     gw_tls_mhd_flag(config->tls);
    struct MHD_OptionItem tls[GW_TLS_MHD_OPTIONS];
    gw_tls_mhd_options(config->tls, tls);
    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, tls,
                                   MHD_OPTION_LISTEN_SOCKET,
                                   srv->listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
                                   (unsigned)CP_HTTP_THREADS, MHD_OPTION_NOTIFY_COMPLETED,
                                   on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape,
                                   NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CP_IDLE_S,
                                   MHD_OPTION_CONNECTION_LIMIT, limit,
                                   MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                                   MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CP_PER_IP,
                                   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)GW_HTTP_POOL_BYTES,
                                   MHD_OPTION_URI_LOG_CALLBACK, gw_framing_mhd_uri, NULL,
                                   MHD_OPTION_END);
    if (!srv->daemon) {
        close(srv->listen_fd);
        gw_idle_conns_free(srv->idle);
        gw_free(srv);
        return gw_err_set(err, GW_ERR_INTERNAL, "listen", NULL,
                          "cannot start the HTTP server on %s", config->listen);
    }
    *out = srv;
    return 0;
}

static unsigned open_connections(struct cp_http *srv)
{
    const union MHD_DaemonInfo *i =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return i ? i->num_connections : 0;
}

void cp_http_stop(struct cp_http *srv)
{
    if (!srv)
        return;
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    /* Quiesced, MHD no longer accepts, but the kernel still would: queued
     * clients would wait for nothing. The fd may only be closed after
     * MHD_stop_daemon, so stop it listening now (new connections are
     * refused at once). */
    if (fd != MHD_INVALID_SOCKET)
        shutdown(fd, SHUT_RDWR);
    cp_dp_shutdown(srv->cfg.dp);
    /* Requests in flight finish; idle keep-alive connections would hold us
     * forever, so the wait is bounded. */
    for (int i = 0; i < 200 && open_connections(srv) > 0; i++)
        usleep(10 * 1000);
    MHD_stop_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    gw_idle_conns_free(srv->idle);
    gw_free(srv);
}
