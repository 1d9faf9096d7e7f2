/* The per-request state machine (see request.h for the states and the
 * lifetime rules): SPEC 3.1 steps 1-7, from the complete request body to the
 * response, with retries and failover through router.h.
 *
 * Owns everything in struct dp_request: its config reference, bodies,
 * header lists, the curl try (through upstream.c) and the relay buffer.
 * Runs on the request's worker thread only. */
#include "request.h"

#include "accesslog.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "listener.h"
#include "loop.h"
#include "metrics.h"
#include "models.h"
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define RESP_MAX (64 * 1024 * 1024) /* largest non-streamed upstream body */
#define LAST_MAX (1024 * 1024)      /* failed tries: body kept up to this */
#define URL_MAX (16 * 1024)
#define STREAM_BLOCK (16 * 1024)
#define HUP_STALLS_MAX 64 /* hang-up re-checks while MHD reads nothing more */

/* If you add a state to enum dp_req_state, add its name here. */
static const char *const state_names[] = {"RECV",    "ADMIT",  "UPSTREAM", "BUFFER",
                                          "DISCARD", "STREAM", "RESPOND",  "CLOSED"};

static void set_state(struct dp_request *r, enum dp_req_state s)
{
    if (r->state == s)
        return;
    gw_debug("request %s: %s -> %s", r->id, state_names[r->state], state_names[s]);
    r->state = s;
}

static int64_t now_ms(const struct dp_request *r)
{
    return dp_loop_now_ms(r->worker->loop);
}

/* ---- small formatting (per request: no printf) ----------------------------- */

/* Copies s into dst[size], cut to fit (as snprintf "%s" would). */
static void copy_cut(char *dst, size_t size, const char *s)
{
    size_t n = strnlen(s, size - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Writes u in base 10 or 16 (lowercase) at p, at most 20 digits; returns
 * the end (not terminated). */
static char *put_uint(char *p, uint64_t u, unsigned base)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[u % base];
        u /= base;
    } while (u);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

/* ---- request ids ----------------------------------------------------------- */

static pthread_once_t id_once = PTHREAD_ONCE_INIT;
static char id_prefix[17];

static void init_id_prefix(void)
{
    if (gw_random_hex(4, id_prefix, sizeof(id_prefix)) != 0)
        snprintf(id_prefix, sizeof(id_prefix), "%08lx", (unsigned long)gw_wall_ms());
}

static int id_acceptable(const char *v)
{
    size_t n = 0;
    for (; v[n]; n++) {
        char c = v[n];
        if (n >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return n > 0;
}

static void make_id(struct dp_request *r)
{
    const char *given =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "x-request-id");
    if (given && id_acceptable(given)) {
        copy_cut(r->id, sizeof(r->id), given);
        return;
    }
    pthread_once(&id_once, init_id_prefix);
    /* "<prefix>-<worker index, hex>-<sequence, hex>" */
    _Static_assert(sizeof(((struct dp_request *)0)->id) >= sizeof(id_prefix) + 1 + 8 + 1 + 16,
                   "request id buffer too small");
    size_t n = strlen(id_prefix);
    memcpy(r->id, id_prefix, n);
    char *p = r->id + n;
    *p++ = '-';
    p = put_uint(p, (unsigned)r->worker->index, 16);
    *p++ = '-';
    p = put_uint(p, ++r->worker->seq, 16);
    *p = '\0';
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
 * close (struct dp_client): the first report disarms the watch and goes to
 * the connection's current request, remembered in hup_seen and handled by
 * the pump (handle_hangup). A report with no request being served is
 * dropped; the next request on the connection re-arms the watch (one
 * EPOLL_CTL_MOD), and a hang-up that is still there is reported to it at
 * once. Like nginx, a client that shuts its sending side while we wait for
 * the upstream has left (499). */

static void on_client_hup(struct dp_loop *loop, int fd, uint32_t events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    struct dp_client *c = arg;
    c->armed = 0; /* one-shot: disabled in the epoll set until re-armed */
    struct dp_request *r = c->req;
    if (!r)
        return;
    r->hup_seen = 1;
    dp_request_pump(r, DP_PUMP_HANGUP);
}

static int arm_client(struct dp_client *c)
{
    if (dp_loop_watch(c->loop, c->fd, EPOLLRDHUP | EPOLLONESHOT, on_client_hup, c) != 0)
        return -1;
    c->armed = 1;
    return 0;
}

/* Makes sure a hang-up of r's client will be reported to r. */
static void watch_client(struct dp_request *r)
{
    if (r->client && !r->client->armed)
        arm_client(r->client);
}

/* r stops receiving its connection's reports (the watch itself stays). */
static void unwatch_client(struct dp_request *r)
{
    if (!r->client)
        return;
    if (r->client->req == r)
        r->client->req = NULL;
    r->client = NULL;
}

struct dp_client *dp_client_open(struct dp_worker *w, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || ci->connect_fd < 0)
        return NULL;
    struct dp_client *c = gw_malloc(sizeof(*c));
    if (!c)
        return NULL;
    c->loop = w->loop;
    c->fd = ci->connect_fd;
    c->armed = 0;
    c->req = NULL;
    arm_client(c); /* on failure: re-tried by the connection's requests */
    return c;
}

void dp_client_close(struct dp_client *c)
{
    if (!c)
        return;
    if (c->req)
        c->req->client = NULL;
    dp_loop_unwatch(c->loop, c->fd); /* before MHD closes it (and its number is reused) */
    gw_free(c);
}

/* ---- creation ------------------------------------------------------------- */

struct dp_request *dp_request_new(struct dp_worker *w, struct MHD_Connection *conn,
                                  const char *method, const char *url)
{
    struct dp_request *r = gw_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->path = gw_strdup(url ? url : "/");
    if (!r->path) {
        gw_free(r);
        return NULL;
    }
    r->worker = w;
    r->conn = conn;
    r->state = DP_REQ_RECV;
    r->start_ms = dp_loop_now_ms(w->loop);
    r->last_fail = -1;
    r->client_fd = -1;
    r->usage.prompt = r->usage.completion = r->usage.total = -1;
    copy_cut(r->method, sizeof(r->method), method ? method : "");
    gw_buf_init(&r->body, DP_BODY_MAX);
    gw_buf_init(&r->send, DP_BODY_MAX + 64 * 1024);
    gw_buf_init(&r->resp_body, RESP_MAX);
    make_id(r);
    struct dp_config *cfg = dp_worker_config(w);
    if (cfg)
        r->cfg = dp_config_ref(cfg);
    dp_worker_add_request(w, r);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct dp_client *c = ci ? ci->socket_context : NULL;
    if (c) {
        if (c->req) /* not expected: MHD completes a request before the next */
            c->req->client = NULL;
        r->client = c;
        r->client_fd = c->fd;
        c->req = r;
        watch_client(r);
    } else {
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci)
            r->client_fd = ci->connect_fd;
    }
    return r;
}

/* ---- responses ------------------------------------------------------------ */

static void add_header_int(struct MHD_Response *resp, const char *name, int64_t v)
{
    char s[24], *p = s;
    if (v < 0)
        *p++ = '-';
    *put_uint(p, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10) = '\0';
    MHD_add_response_header(resp, name, s);
}

/* Headers every response of ours carries. */
static void add_common_headers(struct dp_request *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "x-request-id", r->id);
    if (r->target) {
        if (r->target->model)
            MHD_add_response_header(resp, "x-modelmux-model", r->target->model);
        MHD_add_response_header(resp, "x-modelmux-endpoint", r->target->endpoint->name);
        add_header_int(resp, "x-modelmux-attempts", r->route.attempts);
    }
    if (r->has_rl) {
        if (r->rl.limit_requests >= 0) {
            add_header_int(resp, "x-ratelimit-limit-requests", r->rl.limit_requests);
            add_header_int(resp, "x-ratelimit-remaining-requests",
                           r->rl.remaining_requests < 0 ? 0 : r->rl.remaining_requests);
        }
        if (r->rl.limit_tokens >= 0) {
            add_header_int(resp, "x-ratelimit-limit-tokens", r->rl.limit_tokens);
            add_header_int(resp, "x-ratelimit-remaining-tokens",
                           r->rl.remaining_tokens < 0 ? 0 : r->rl.remaining_tokens);
        }
    }
}

/* Resumes the connection we suspended and has MHD run for it. */
static void resume(struct dp_request *r)
{
    if (!r->suspended || !r->conn)
        return;
    r->suspended = 0;
    r->relay.reader_waiting = 0;
    MHD_resume_connection(r->conn);
    dp_listener_kick(r->worker->listener);
}

static const char *metric_model(const struct dp_request *r)
{
    return r->target && r->target->model ? r->target->model : r->model;
}

/* modelmux_requests_total, once per request: when its status is decided
 * (so a scrape right after the response has it), or at the end for a
 * client that left before we answered (499). */
static void count_request(struct dp_request *r)
{
    if (r->counted)
        return;
    r->counted = 1;
    int status = r->client_gone || !r->status ? 499 : r->status;
    dp_metrics_request(r->worker->metrics, r->api ? r->api->name : NULL, metric_model(r),
                       r->target ? r->target->endpoint->name : NULL, status);
}

/* Queues resp (consumed) with status; resumes the connection if we had
 * suspended it. Never called from inside a curl callback. */
static void queue(struct dp_request *r, int status, struct MHD_Response *resp,
                  enum dp_req_state next)
{
    if (!resp || r->mhd_done) {
        if (resp)
            MHD_destroy_response(resp);
        return;
    }
    add_common_headers(r, resp);
    if (!r->client_gone) {
        r->status = status;
        count_request(r);
    }
    set_state(r, next);
    if (MHD_queue_response(r->conn, (unsigned)status, resp) != MHD_YES)
        gw_warn("request %s: MHD refused the %d response", r->id, status);
    MHD_destroy_response(resp);
    resume(r);
}

static const char *error_type(int status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    case 502:
    case 504:
        return "upstream_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

/* Answers with the OpenAI error shape. */
static void respond_error(struct dp_request *r, int status, const char *code, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

static void respond_error(struct dp_request *r, int status, const char *code, const char *fmt,
                          ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct gw_buf b;
    gw_buf_init(&b, 8192);
    int rc = gw_buf_append_str(&b, "{\"error\":{\"message\":") == GW_BUF_OK ? 0 : -1;
    rc |= dp_json_str(&b, msg);
    rc |= gw_buf_append_str(&b, ",\"type\":") == GW_BUF_OK ? 0 : -1;
    rc |= dp_json_str(&b, error_type(status));
    rc |= gw_buf_append_str(&b, ",\"code\":") == GW_BUF_OK ? 0 : -1;
    rc |= dp_json_str(&b, code);
    rc |= gw_buf_append_str(&b, "}}") == GW_BUF_OK ? 0 : -1;
    struct MHD_Response *resp = NULL;
    if (rc == 0) {
        size_t len = b.len;
        char *data = gw_buf_take(&b);
        resp = MHD_create_response_from_buffer_with_free_callback(len, data, gw_free);
        if (!resp)
            gw_free(data);
    }
    gw_buf_cleanup(&b);
    if (!resp) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"server_error\",\"code\":\"out_of_memory\"}}";
        resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
                                               MHD_RESPMEM_PERSISTENT);
        status = 503;
    }
    if (!resp)
        return;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (status == 429 && r->resp_retry_after[0]) /* set by the limiter's refusal */
        MHD_add_response_header(resp, "Retry-After", r->resp_retry_after);
    queue(r, status, resp, DP_REQ_RESPOND);
}

/* GET .../models: answered from the snapshot (models.h), never upstream. */
static void respond_models(struct dp_request *r)
{
    struct gw_buf b;
    struct MHD_Response *resp = NULL;
    gw_buf_init(&b, DP_MODELS_BODY_MAX);
    if (dp_models_list(r->cfg, r->api, r->env, &b) == 0) {
        size_t len = b.len;
        char *data = gw_buf_take(&b);
        resp = data ? MHD_create_response_from_buffer_with_free_callback(len, data, gw_free) : NULL;
        if (!resp)
            gw_free(data);
    }
    gw_buf_cleanup(&b);
    if (!resp) {
        respond_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    queue(r, 200, resp, DP_REQ_RESPOND);
}

static void respond_gw_err(struct dp_request *r, const struct gw_err *err)
{
    int status = gw_err_http_status(err->kind);
    respond_error(r, status, err->code[0] ? err->code : "invalid_request", "%s",
                  err->message[0] ? err->message : "invalid request");
}

/* The upstream response held in resp_* goes back as it is. */
static void respond_upstream(struct dp_request *r)
{
    size_t len = r->resp_body.len;
    char *data = gw_buf_take(&r->resp_body);
    struct MHD_Response *resp;
    if (data) {
        resp = MHD_create_response_from_buffer_with_free_callback(len, data, gw_free);
        if (!resp)
            gw_free(data);
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp) {
        respond_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    if (r->resp_ctype[0])
        MHD_add_response_header(resp, "Content-Type", r->resp_ctype);
    if (r->resp_retry_after[0] && !r->has_rl)
        MHD_add_response_header(resp, "Retry-After", r->resp_retry_after);
    queue(r, r->resp_status, resp, DP_REQ_RESPOND);
}

/* ---- deferred pump and the end of a request ------------------------------ */

static void pump_run(struct dp_loop *loop, void *arg);

void dp_request_pump(struct dp_request *r, unsigned bits)
{
    r->pump |= bits;
    if (r->pump_scheduled)
        return;
    if (dp_loop_defer(r->worker->loop, pump_run, r) == 0)
        r->pump_scheduled = 1;
    else
        gw_error("request %s: cannot defer (out of memory)", r->id);
}

static int64_t usage_total(const struct dp_request *r)
{
    if (r->usage.total < 0 && r->usage.prompt >= 0 && r->usage.completion >= 0)
        return r->usage.prompt + r->usage.completion;
    return r->usage.total;
}

void dp_request_usage_final(struct dp_request *r)
{
    if (r->usage_settled)
        return;
    r->usage_settled = 1;
    if (r->usage.prompt < 0 && r->usage.completion < 0)
        return;
    struct dp_worker *w = r->worker;
    const char *api = r->api ? r->api->name : NULL;
    dp_metrics_tokens(w->metrics, api, metric_model(r), r->usage.prompt, r->usage.completion);
    if (r->has_rl && !r->rl.limited)
        dp_rl_settle(w->rlw, r->api->ratelimit, r->api->id, r->app_id, r->usage.prompt,
                     r->usage.completion, usage_total(r), gw_wall_ms());
}

static void finish_accounting(struct dp_request *r)
{
    count_request(r);
    dp_request_usage_final(r);
    const char *api = r->api ? r->api->name : NULL;
    const char *model = metric_model(r);
    const char *endpoint = r->target ? r->target->endpoint->name : NULL;
    int status = r->client_gone || !r->status ? 499 : r->status; /* 499: the client left first */
    int64_t total = usage_total(r);
    struct dp_access a = {
        .wall_ms = gw_wall_ms(),
        .id = r->id,
        .method = r->method,
        .path = r->path,
        .api = api,
        .model = model,
        .endpoint = endpoint,
        .status = status,
        .attempts = r->route.attempts,
        .duration_ms = now_ms(r) - r->start_ms,
        .prompt_tokens = r->usage.prompt,
        .completion_tokens = r->usage.completion,
        .total_tokens = total,
        .client_aborted = r->client_error,
    };
    dp_accesslog_write(&a);
}

static void request_free(struct dp_request *r)
{
    unwatch_client(r);
    dp_worker_remove_request(r->worker, r);
    if (r->has_json)
        dp_body_json_cleanup(&r->json);
    if (r->state == DP_REQ_STREAM || r->relay.buf.max)
        dp_relay_cleanup(&r->relay);
    gw_buf_cleanup(&r->body);
    gw_buf_cleanup(&r->send);
    gw_buf_cleanup(&r->resp_body);
    curl_slist_free_all(r->fwd_headers);
    gw_free(r->query);
    gw_free(r->model);
    gw_free(r->path);
    dp_config_unref(r->cfg);
    gw_free(r);
}

/* Frees r once nothing holds it: MHD is done with it, its transfer is
 * stopped, no limiter callback or deferred pump is pending. */
static void maybe_free(struct dp_request *r)
{
    if (!r->mhd_done || r->pump_scheduled || r->rl_pending)
        return;
    if (r->xfer.easy || r->xfer.first_byte_timer)
        dp_upstream_cancel(r->worker->up, r);
    finish_accounting(r);
    request_free(r);
}

static void start_stream(struct dp_request *r);
static void client_left(struct dp_request *r);

/* The client socket reported a hang-up (hup_seen). Runs from the pump, so
 * after MHD had its turn at the socket in this iteration. */
static void handle_hangup(struct dp_request *r)
{
    if (r->suspended) {
        client_left(r); /* waiting for the limiter or the upstream */
        return;
    }
    if (r->state != DP_REQ_RECV)
        return; /* MHD is writing our answer: a write error will end it */
    /* Still reading the body. If bytes are left before the EOF, MHD has yet
     * to read them (and will): look again at the next iteration, as long as
     * MHD makes progress. With nothing left, the body can never complete,
     * and MHD may not have seen the EOF (see above): shutting the socket
     * down gives MHD's epoll set a hang-up it cannot miss, and MHD closes the
     * connection. */
    char c;
    ssize_t n = recv(r->client_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))) {
        r->hup_stalls = r->body_received == r->hup_mark ? r->hup_stalls + 1 : 0;
        r->hup_mark = r->body_received;
        if (r->hup_stalls < HUP_STALLS_MAX)
            watch_client(r); /* else MHD's idle timeout remains */
        return;
    }
    gw_debug("request %s: the client closed before sending its whole body", r->id);
    shutdown(r->client_fd, SHUT_RDWR);
    dp_listener_kick(r->worker->listener);
}

static void pump_run(struct dp_loop *loop, void *arg)
{
    (void)loop;
    struct dp_request *r = arg;
    unsigned bits = r->pump;
    r->pump = 0;
    r->pump_scheduled = 0;
    if (!r->mhd_done && (bits & DP_PUMP_HANGUP))
        handle_hangup(r);
    if (!r->mhd_done) {
        if (bits & DP_PUMP_STREAM)
            start_stream(r);
        if ((bits & DP_PUMP_RESUME) && r->relay.reader_waiting)
            resume(r);
        /* May run the write callback, which may ask for another pump. */
        if (bits & DP_PUMP_UNPAUSE)
            dp_upstream_unpause(r->worker->up, r);
    }
    maybe_free(r);
}

void dp_request_closed(struct dp_request *r, enum MHD_RequestTerminationCode toe)
{
    unwatch_client(r); /* the connection's next request gets its reports */
    r->mhd_done = 1;
    r->conn = NULL;
    r->suspended = 0;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        r->client_error = 1;
    if (r->client_error && (r->state == DP_REQ_STREAM || r->xfer.easy))
        gw_debug("request %s: client gone, cancelling the upstream", r->id);
    set_state(r, DP_REQ_CLOSED);
    dp_request_pump(r, DP_PUMP_REAP);
    /* MHD closes the socket of a failed connection only on its next run. */
    if (r->client_error)
        dp_listener_kick(r->worker->listener);
}

/* ---- steps 1-2: receiving, matching, authenticating ------------------------ */

void dp_request_headers(struct dp_request *r)
{
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > DP_BODY_MAX)
            respond_error(r, 413, "body_too_large", "request body is over %d bytes",
                          DP_BODY_MAX);
    }
}

void dp_request_body(struct dp_request *r, const char *data, size_t n)
{
    r->body_received += n;
    if (r->state != DP_REQ_RECV || r->body_too_big)
        return;
    if (gw_buf_append(&r->body, data, n) != GW_BUF_OK)
        r->body_too_big = 1; /* the rest is read and dropped; 413 at the end */
}

/* The presented API key, or NULL. */
static const char *find_key(struct dp_request *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        if (*h)
            return h;
    }
    h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "apikey");
    return h && *h ? h : NULL;
}

static int authenticate(struct dp_request *r)
{
    r->env = DP_ENV_PRODUCTION;
    if (!r->op->secured)
        return 0;
    const char *key = find_key(r);
    if (!key) {
        respond_error(r, 401, "missing_api_key",
                      "an API key is required (Authorization: Bearer <key> or apikey: <key>)");
        return -1;
    }
    const struct dp_key *k = NULL;
    switch (dp_config_check_key(r->cfg, r->api, key, gw_wall_s(), &k)) {
    case DP_KEY_OK:
        r->env = k->env;
        r->app_id = k->app_id;
        return 0;
    case DP_KEY_EXPIRED:
        respond_error(r, 401, "expired_api_key", "the API key has expired");
        return -1;
    case DP_KEY_NOT_SUBSCRIBED:
        respond_error(r, 403, "not_subscribed",
                      "the application is not subscribed to API '%s'", r->api->name);
        return -1;
    case DP_KEY_UNKNOWN:
    default:
        respond_error(r, 401, "invalid_api_key", "the API key is not valid");
        return -1;
    }
}

/* Step 7 and the model: parses the body once. */
static int parse_body(struct dp_request *r)
{
    struct gw_err err;
    gw_err_clear(&err);
    const char *ctype = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    const char *data = r->body.data ? r->body.data : "";
    if (ctype && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
        r->multipart = 1;
        const char *m = NULL;
        size_t mlen = 0;
        int rc = dp_multipart_find_model(data, r->body.len, ctype, &m, &mlen, &err);
        if (rc < 0) {
            respond_gw_err(r, &err);
            return -1;
        }
        if (rc == 0 && !(r->model = gw_strndup(m, mlen))) {
            respond_error(r, 503, "out_of_memory", "out of memory");
            return -1;
        }
        return 0;
    }
    if (r->body.len == 0 && !r->api->needs_model)
        return 0;
    if (dp_body_parse_json(data, r->body.len, r->api->vendor->model_field, &r->json, &err) != 0) {
        respond_gw_err(r, &err);
        return -1;
    }
    r->has_json = 1;
    if (r->json.model && !(r->model = gw_strdup(r->json.model))) {
        respond_error(r, 503, "out_of_memory", "out of memory");
        return -1;
    }
    const struct dp_ratelimit *p = r->api->ratelimit;
    if (p && r->json.stream && !r->json.include_usage && dp_usage_injectable(r->op->target) &&
        (p->request_tokens >= 0 || p->response_tokens >= 0 || p->total_tokens >= 0))
        r->force_usage = 1;
    return 0;
}

/* ---- what goes upstream ----------------------------------------------------- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

static int append_escaped(struct gw_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        enum gw_buf_result rc = is_unreserved(*p) ? gw_buf_append(b, p, 1) : gw_buf_append(b, e, 3);
        if (rc != GW_BUF_OK)
            return -1;
    }
    return 0;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct gw_buf *b = cls;
    if (gw_buf_append(b, b->len ? "&" : "?", 1) != GW_BUF_OK || append_escaped(b, key) != 0)
        return MHD_NO;
    if (value && (gw_buf_append(b, "=", 1) != GW_BUF_OK || append_escaped(b, value) != 0))
        return MHD_NO;
    return MHD_YES;
}

/* Headers never forwarded: hop-by-hop ones, those we set ourselves, and the
 * caller's credentials. */
static int header_dropped(const char *name)
{
    static const char *const drop[] = {
        "connection",        "keep-alive",     "proxy-authenticate", "proxy-authorization",
        "te",                "trailer",        "transfer-encoding",  "upgrade",
        "host",              "content-length", "authorization",      "apikey",
        "expect",            "accept-encoding", "x-request-id",      "proxy-connection",
    };
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (strcasecmp(name, drop[i]) == 0)
            return 1;
    return 0;
}

struct fwd_ctx {
    struct curl_slist *list;
    int failed;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct fwd_ctx *c = cls;
    if (header_dropped(key))
        return MHD_YES;
    /* "name: value", or "name;" (curl's way to send an empty value) */
    char line[8192];
    size_t kn = strlen(key), vn = value ? strlen(value) : 0;
    if ((vn ? kn + 2 + vn : kn + 1) >= sizeof(line))
        return MHD_YES; /* longer than any sane header: not forwarded */
    memcpy(line, key, kn);
    if (vn) {
        line[kn] = ':';
        line[kn + 1] = ' ';
        memcpy(line + kn + 2, value, vn);
        line[kn + 2 + vn] = '\0';
    } else {
        line[kn] = ';';
        line[kn + 1] = '\0';
    }
    struct curl_slist *l = curl_slist_append(c->list, line);
    if (!l) {
        c->failed = 1;
        return MHD_NO;
    }
    c->list = l;
    return MHD_YES;
}

/* Reads what the upstream request needs from the connection while it is
 * not suspended: the query string and the headers to forward. */
static int capture_forwarding(struct dp_request *r)
{
    struct gw_buf q;
    gw_buf_init(&q, URL_MAX);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    r->query = gw_buf_take(&q);
    gw_buf_cleanup(&q);
    struct fwd_ctx c = {NULL, 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, &c);
    r->fwd_headers = c.list;
    return c.failed ? -1 : 0;
}

static int build_url(struct dp_request *r, const struct dp_target *t, struct gw_buf *url)
{
    const char *base = t->endpoint->url;
    const char *hole = t->endpoint->url_has_model ? strstr(base, "{model}") : NULL;
    if (hole) {
        if (gw_buf_append(url, base, (size_t)(hole - base)) != GW_BUF_OK ||
            append_escaped(url, t->model ? t->model : "") != 0)
            return -1;
        base = hole + 7;
    }
    if (gw_buf_append_str(url, base) != GW_BUF_OK)
        return -1;
    /* endpoint ".../v1" + target "/chat/completions": one slash between. */
    const char *target = r->op->target;
    if (url->len > 0 && url->data[url->len - 1] == '/' && target[0] == '/')
        target++;
    if (gw_buf_append_str(url, target) != GW_BUF_OK)
        return -1;
    if (r->query && gw_buf_append_str(url, r->query) != GW_BUF_OK)
        return -1;
    return 0;
}

/* The body of a try to t: the caller's bytes when nothing changes, else the
 * rewritten document in r->send. */
static int build_body(struct dp_request *r, const struct dp_target *t, const char **body,
                      size_t *len)
{
    int rewrite_model = t->model && r->api->vendor->model_in == DP_MODEL_IN_BODY &&
                        (!r->model || strcmp(t->model, r->model) != 0);
    *body = r->body.data;
    *len = r->body.len;
    if (r->has_json && (rewrite_model || r->force_usage)) {
        gw_buf_reset(&r->send);
        if (dp_body_render_json(&r->json, r->api->vendor->model_field,
                                rewrite_model ? t->model : NULL, r->force_usage, &r->send) != 0)
            return -1;
        *body = r->send.data;
        *len = r->send.len;
    } else if (r->multipart && r->model && t->model && strcmp(t->model, r->model) != 0) {
        const char *ctype =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
        gw_buf_reset(&r->send);
        if (!ctype || dp_multipart_replace_model(r->body.data, r->body.len, ctype, t->model,
                                                 &r->send) != 0)
            return -1;
        *body = r->send.data;
        *len = r->send.len;
    }
    return 0;
}

static struct curl_slist *build_headers(struct dp_request *r, const struct dp_target *t)
{
    struct curl_slist *l = NULL, *n;
    for (const struct curl_slist *h = r->fwd_headers; h; h = h->next) {
        /* The endpoint's credential header replaces any caller header of
         * that name. */
        const char *auth = t->endpoint->auth_header;
        if (auth) {
            size_t k = strlen(auth);
            if (strncasecmp(h->data, auth, k) == 0 && (h->data[k] == ':' || h->data[k] == ';'))
                continue;
        }
        if (!(n = curl_slist_append(l, h->data)))
            goto fail;
        l = n;
    }
    static const char idname[] = "X-Request-Id: ";
    char idline[sizeof(idname) + sizeof(r->id)];
    memcpy(idline, idname, sizeof(idname) - 1);
    copy_cut(idline + sizeof(idname) - 1, sizeof(r->id), r->id);
    if (!(n = curl_slist_append(l, idline)))
        goto fail;
    l = n;
    if (!(n = curl_slist_append(l, "Expect:")))
        goto fail;
    l = n;
    if (t->endpoint->auth_line) {
        if (!(n = curl_slist_append(l, t->endpoint->auth_line)))
            goto fail;
        l = n;
    }
    return l;
fail:
    curl_slist_free_all(l);
    return NULL;
}

/* ---- steps 4-5: routing and tries ------------------------------------------ */

static void next_try(struct dp_request *r);

static void start_try(struct dp_request *r, const struct dp_target *t)
{
    r->target = t;
    const struct dp_endpoint *ep = t->endpoint;
    if (ep->missing_secret) {
        respond_error(r, 502, "missing_secret",
                      "endpoint '%s' needs the secret '%s', which does not exist", ep->name,
                      ep->missing_secret);
        return;
    }
    if (ep->url_has_model && !t->model) {
        respond_error(r, 400, "missing_model",
                      "the request has no model, and endpoint '%s' takes it in its URL",
                      ep->name);
        return;
    }
    struct gw_buf url;
    gw_buf_init(&url, URL_MAX);
    const char *body;
    size_t len;
    struct curl_slist *headers = NULL;
    if (build_url(r, t, &url) != 0 || build_body(r, t, &body, &len) != 0 ||
        !(headers = build_headers(r, t))) {
        gw_buf_cleanup(&url);
        curl_slist_free_all(headers);
        respond_error(r, 503, "out_of_memory", "out of memory building the upstream request");
        return;
    }
    int with_body = strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0;
    struct dp_upstream_req q = {
        .url = url.data,
        .method = r->method,
        .body = with_body ? (body ? body : "") : NULL,
        .body_len = with_body ? len : 0,
        .headers = headers,
        .total_timeout_ms = ep->timeout_ms,
        .first_byte_ms =
            r->route.kind == DP_ROUTE_KIND_FAILOVER ? r->route.failover->request_timeout_ms : 0,
    };
    int rc = dp_upstream_start(r->worker->up, r, &q);
    gw_buf_cleanup(&url); /* curl copied the URL */
    if (rc != 0) {
        respond_error(r, 503, "out_of_memory", "cannot start the upstream request");
        return;
    }
    set_state(r, DP_REQ_UPSTREAM);
}

static void answer_exhausted(struct dp_request *r, enum dp_route_end why)
{
    switch (why) {
    case DP_ROUTE_ALL_SUSPENDED:
        respond_error(r, 503, "all_targets_suspended",
                      "every target of API '%s' is suspended; try again later", r->api->name);
        return;
    case DP_ROUTE_NO_ENDPOINT:
        respond_error(r, 503, "no_endpoint", "API '%s' has no %s endpoint", r->api->name,
                      r->env == DP_ENV_SANDBOX ? "sandbox" : "production");
        return;
    default:
        break;
    }
    if (r->have_last) {
        respond_upstream(r);
    } else if (r->last_fail == DP_OUTCOME_TIMEOUT) {
        respond_error(r, 504, "upstream_timeout", "the upstream did not answer in time");
    } else {
        respond_error(r, 502, "upstream_unreachable", "the upstream could not be reached");
    }
}

static void next_try(struct dp_request *r)
{
    enum dp_route_end why = DP_ROUTE_NONE;
    const struct dp_target *t = dp_route_next(&r->route, now_ms(r), &why);
    if (!t) {
        answer_exhausted(r, why);
        return;
    }
    start_try(r, t);
}

static void route_start(struct dp_request *r)
{
    struct gw_err err;
    gw_err_clear(&err);
    if (dp_route_begin(&r->route, r->api, r->env, r->op->target, r->model, &err) != 0) {
        respond_gw_err(r, &err);
        return;
    }
    next_try(r);
}

/* ---- step 3: rate limit ----------------------------------------------------- */

static void on_admit(void *arg, const struct dp_rl_result *res)
{
    struct dp_request *r = arg;
    r->rl_pending = 0;
    r->rl = *res;
    if (r->mhd_done) {
        maybe_free(r);
        return;
    }
    if (r->state != DP_REQ_ADMIT)
        return; /* answered meanwhile (shutdown) */
    if (res->limited) {
        dp_metrics_ratelimited(r->worker->metrics, r->api->name);
        char ra[32];
        snprintf(ra, sizeof(ra), "%lld", (long long)(res->retry_after_s > 0 ? res->retry_after_s : 1));
        snprintf(r->resp_retry_after, sizeof(r->resp_retry_after), "%s", ra);
        respond_error(r, 429, "rate_limited",
                      "rate limit of API '%s' reached; retry in %s s", r->api->name, ra);
        return;
    }
    route_start(r);
}

/* ---- the whole request ------------------------------------------------------ */

void dp_request_run(struct dp_request *r)
{
    if (r->state != DP_REQ_RECV)
        return; /* answered already (413 on Content-Length) */
    if (!r->cfg) {
        respond_error(r, 503, "not_ready", "the data plane has no configuration yet");
        return;
    }
    if (r->body_too_big) {
        respond_error(r, 413, "body_too_large", "request body is over %d bytes", DP_BODY_MAX);
        return;
    }
    switch (dp_config_match(r->cfg, r->method, r->path, &r->api, &r->op)) {
    case DP_MATCH_NOT_FOUND:
        respond_error(r, 404, "not_found", "no API serves %s", r->path);
        return;
    case DP_MATCH_METHOD:
        r->api = NULL;
        respond_error(r, 405, "method_not_allowed", "%s is not allowed on %s", r->method,
                      r->path);
        return;
    case DP_MATCH_OK:
        break;
    }
    if (authenticate(r) != 0)
        return;
    if (dp_models_is_listing(r->op)) {
        respond_models(r);
        return;
    }
    if (parse_body(r) != 0)
        return;
    if (capture_forwarding(r) != 0) {
        respond_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    if (r->api->ratelimit) {
        r->has_rl = 1;
        r->rl_pending = 1;
        set_state(r, DP_REQ_ADMIT);
        dp_rl_admit(r->worker->rlw, r->api->ratelimit, r->api->id, r->app_id, gw_wall_ms(),
                    on_admit, r);
    } else {
        route_start(r);
    }
    /* Waiting for the limiter or the upstream: park the connection. */
    if (r->state == DP_REQ_ADMIT || r->state == DP_REQ_UPSTREAM)
        dp_request_suspend(r);
}

void dp_request_suspend(struct dp_request *r)
{
    if (r->suspended || !r->conn)
        return;
    MHD_suspend_connection(r->conn);
    r->suspended = 1;
    /* MHD does not watch a suspended socket; we do. A hang-up reported
     * earlier (while MHD was writing) counts now. */
    if (r->hup_seen)
        dp_request_pump(r, DP_PUMP_HANGUP);
    else
        watch_client(r);
}

/* ---- the upstream side ------------------------------------------------------ */

int dp_request_upstream_headers(struct dp_request *r)
{
    struct dp_upstream_xfer *x = &r->xfer;
    if (r->mhd_done || r->state != DP_REQ_UPSTREAM)
        return -1;
    if (x->first_byte_timer) {
        dp_loop_timer_cancel(r->worker->loop, x->first_byte_timer);
        x->first_byte_timer = NULL;
    }
    struct dp_outcome o = {
        .kind = DP_OUTCOME_RESPONSE,
        .status = x->status,
        .retry_after_ms = x->retry_after_ms,
        .remaining_zero = x->remaining_zero,
    };
    enum dp_verdict v = dp_route_report(&r->route, r->target, &o, now_ms(r));
    r->resp_status = x->status;
    snprintf(r->resp_ctype, sizeof(r->resp_ctype), "%s", x->content_type);
    snprintf(r->resp_retry_after, sizeof(r->resp_retry_after), "%s", x->retry_after);
    gw_buf_cleanup(&r->resp_body);
    r->have_last = 0;
    r->last_fail = -1;
    if (v == DP_VERDICT_RETRY) {
        r->resp_body.max = LAST_MAX;
        set_state(r, DP_REQ_DISCARD);
        return 0;
    }
    r->resp_body.max = RESP_MAX;
    if (r->has_json && r->json.stream && x->status >= 200 && x->status < 300) {
        int sse = strncasecmp(x->content_type, "text/event-stream", 17) == 0;
        dp_relay_init(&r->relay, r->api->vendor, sse, r->force_usage);
        set_state(r, DP_REQ_STREAM);
        dp_request_pump(r, DP_PUMP_STREAM);
        return 0;
    }
    set_state(r, DP_REQ_BUFFER);
    return 0;
}

size_t dp_request_upstream_data(struct dp_request *r, const char *data, size_t n)
{
    if (r->mhd_done)
        return 0;
    switch (r->state) {
    case DP_REQ_STREAM:
        return dp_relay_data(r, data, n);
    case DP_REQ_BUFFER:
        return gw_buf_append(&r->resp_body, data, n) == GW_BUF_OK ? n : 0;
    case DP_REQ_DISCARD:
        /* A failed try: keep what fits (the caller may get it as the last
         * upstream response), drop the rest. */
        if (r->resp_body.len + n <= r->resp_body.max)
            gw_buf_append(&r->resp_body, data, n);
        return n;
    default:
        return n;
    }
}

static void start_stream(struct dp_request *r)
{
    if (r->stream_started || r->state != DP_REQ_STREAM)
        return;
    r->stream_started = 1;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, dp_relay_read, r, NULL);
    if (!resp) {
        dp_upstream_cancel(r->worker->up, r);
        respond_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    MHD_add_response_header(resp, "Content-Type",
                            r->resp_ctype[0] ? r->resp_ctype : "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    queue(r, r->resp_status, resp, DP_REQ_STREAM);
}

void dp_request_upstream_done(struct dp_request *r, int result)
{
    int64_t took = now_ms(r) - r->xfer.started_ms;
    r->upstream_ms += took;
    if (r->target)
        dp_metrics_upstream(r->worker->metrics, r->target->endpoint->name, took);
    if (r->mhd_done) {
        maybe_free(r);
        return;
    }
    switch (r->state) {
    case DP_REQ_UPSTREAM: {
        int timeout = r->xfer.timed_out || result == CURLE_OPERATION_TIMEDOUT;
        struct dp_outcome o = {
            .kind = timeout ? DP_OUTCOME_TIMEOUT : DP_OUTCOME_CONNECT_ERROR,
            .status = 0,
            .retry_after_ms = -1,
            .remaining_zero = 0,
        };
        r->last_fail = o.kind;
        gw_debug("request %s: try on %s failed: %s", r->id, r->target->endpoint->name,
                 curl_easy_strerror((CURLcode)result));
        if (dp_route_report(&r->route, r->target, &o, now_ms(r)) == DP_VERDICT_RETRY)
            next_try(r);
        else
            answer_exhausted(r, DP_ROUTE_EXHAUSTED);
        return;
    }
    case DP_REQ_DISCARD:
        r->have_last = 1;
        next_try(r);
        return;
    case DP_REQ_BUFFER:
        if (result != CURLE_OK) {
            int timeout = result == CURLE_OPERATION_TIMEDOUT;
            gw_buf_cleanup(&r->resp_body);
            respond_error(r, timeout ? 504 : 502, timeout ? "upstream_timeout" : "upstream_error",
                          "the upstream response failed: %s",
                          curl_easy_strerror((CURLcode)result));
            return;
        }
        if (r->resp_status >= 200 && r->resp_status < 300 && r->resp_body.len > 0)
            dp_usage_from_json(r->resp_body.data, r->resp_body.len, r->api->vendor, &r->usage);
        dp_request_usage_final(r);
        respond_upstream(r);
        return;
    case DP_REQ_STREAM:
        dp_relay_upstream_done(r, result != CURLE_OK);
        if (!r->stream_started)
            start_stream(r);
        return;
    default:
        return;
    }
}

/* ---- the client left, shutdown ---------------------------------------------- */

/* The client hung up while its connection was suspended: stop the upstream
 * side and end the request as soon as possible (the access log and metrics
 * say 499). Shutting the socket down first makes MHD fail to send whatever
 * dp_request_abort queues, so MHD ends the request with an error at once. */
static void client_left(struct dp_request *r)
{
    gw_debug("request %s: the client left while %s, cancelling", r->id, state_names[r->state]);
    if (!r->stream_started)
        r->client_gone = 1; /* no answer went out: 499, not what abort queues */
    r->client_error = 1;
    shutdown(r->client_fd, SHUT_RDWR);
    dp_request_abort(r);
}

void dp_request_abort(struct dp_request *r)
{
    if (r->mhd_done)
        return;
    dp_upstream_cancel(r->worker->up, r);
    switch (r->state) {
    case DP_REQ_ADMIT:
    case DP_REQ_UPSTREAM:
    case DP_REQ_BUFFER:
    case DP_REQ_DISCARD:
        respond_error(r, 503, "shutting_down", "the data plane is shutting down");
        break;
    case DP_REQ_STREAM:
        if (!r->relay.upstream_done)
            dp_relay_upstream_done(r, 1);
        if (!r->stream_started)
            start_stream(r);
        break;
    default:
        break;
    }
    resume(r);
}
