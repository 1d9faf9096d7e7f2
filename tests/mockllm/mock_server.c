/* The mock's MHD daemon, request lifecycle and reply helpers
 * (see mock_server.h).
 *
 * MHD runs its own epoll loop in a pool of worker threads; delays never
 * sleep in a worker: a handler suspends its connection and mock_timer
 * resumes it. Per-request state is allocated on the first callback and freed
 * in the completion callback, which is also where "cancelled" is counted: a
 * request that ended any way but complete, not by the daemon stopping and not
 * by a reset the mock chose. */
#include "mock_server.h"

#include "common/alloc.h"
#include "mock_control.h"
#include "mock_openai.h"

#include <string.h>
#include <unistd.h>

/* Connections in all (streams are long-lived: the benchmark and the 1,000
 * stream test hold many at once). */
#define CONNECTION_LIMIT 20000
/* Per-connection memory for headers and MHD's buffers. */
#define CONNECTION_MEMORY (256 * 1024) /* room for a 64 KiB credential header (common/limits.h) */

int mock_server_stopping(const struct mock_server *srv)
{
    return __atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE);
}

/* ---- reply helpers ------------------------------------------------------ */

struct MHD_Response *mock_response_from_buf(struct gw_buf *b, const char *ctype)
{
    size_t len = b->len;
    char *data = gw_buf_take(b);
    struct MHD_Response *r;
    if (!data) /* an empty body that was never allocated */
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    else
        r = MHD_create_response_from_buffer_with_free_callback(len, data, gw_free);
    if (!r) {
        gw_free(data);
        return NULL;
    }
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return r;
}

enum MHD_Result mock_queue(struct MHD_Connection *c, unsigned int status,
                           struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result mock_queue_json(struct MHD_Connection *c, unsigned int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (!text)
        return mock_queue_error(c, 503, "out of memory");
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(strlen(text), text, gw_free);
    if (!r) {
        gw_free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return mock_queue(c, status, r);
}

struct MHD_Response *mock_response_error(unsigned int status, const char *message)
{
    struct gw_buf b;
    gw_buf_init(&b, 4096);
    if (mock_reply_error(&b, (int)status, message) < 0)
        return NULL;
    return mock_response_from_buf(&b, "application/json");
}

enum MHD_Result mock_queue_error(struct MHD_Connection *c, unsigned int status,
                                 const char *message)
{
    return mock_queue(c, status, mock_response_error(status, message));
}

/* ---- MHD callbacks ------------------------------------------------------ */

static int is_control(const char *url)
{
    return strncmp(url, "/__mock/", 8) == 0 || strcmp(url, "/__mock") == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct mock_server *srv = cls;
    struct mock_req *req = *con_cls;
    (void)version;
    if (!req) {
        req = gw_calloc(1, sizeof(*req));
        if (!req)
            return MHD_NO;
        req->srv = srv;
        req->conn = conn;
        req->control = is_control(url);
        gw_buf_init(&req->body, req->control ? MOCK_CONTROL_BODY_MAX : MOCK_BODY_MAX);
        if (!req->control)
            __atomic_add_fetch(&srv->active, 1, __ATOMIC_RELAXED);
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size) {
        req->received += *upload_data_size;
        if (!req->too_big && !req->nomem) {
            enum gw_buf_result r = gw_buf_append(&req->body, upload_data, *upload_data_size);
            req->too_big = r == GW_BUF_TOOBIG;
            req->nomem = r == GW_BUF_NOMEM;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->control)
        return mock_control_handle(req, url, method);
    return mock_openai_handle(req, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct mock_server *srv = cls;
    struct mock_req *req = *con_cls;
    (void)conn;
    if (!req)
        return;
    if (!req->control) {
        __atomic_sub_fetch(&srv->active, 1, __ATOMIC_RELAXED);
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
            toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN && !req->reset_by_us)
            __atomic_add_fetch(&srv->cancelled, 1, __ATOMIC_RELAXED);
    }
    mock_openai_cleanup(req);
    gw_buf_cleanup(&req->body);
    gw_free(req);
    *con_cls = NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

int mock_server_start(struct mock_server *srv, int fd, const char *name, unsigned threads,
                      struct gw_err *err)
{
    memset(srv, 0, sizeof(*srv));
    snprintf(srv->name, sizeof(srv->name), "%s", name);
    mock_rules_init(&srv->rules);
    if (mock_recorder_init(&srv->recorder) < 0 || !(srv->timer = mock_timer_new())) {
        gw_err_set(err, GW_ERR_NOMEM, "no_memory", NULL, "cannot allocate the request log");
        goto fail;
    }
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv},
        {MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 300, NULL},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, opts,
                                   MHD_OPTION_END);
    if (!srv->daemon) {
        /* The socket stays ours when MHD refuses to start. */
        gw_err_set(err, GW_ERR_INTERNAL, "start_failed", NULL, "cannot start the HTTP server");
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    mock_timer_free(srv->timer);
    srv->timer = NULL;
    mock_recorder_cleanup(&srv->recorder);
    mock_rules_cleanup(&srv->rules);
    return -1;
}

void mock_server_stop(struct mock_server *srv)
{
    __atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
    /* MHD must not be stopped with suspended connections: resume them all
     * (and any suspended from now on) first. */
    mock_timer_stop(srv->timer);
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    mock_timer_free(srv->timer);
    srv->timer = NULL;
    mock_recorder_cleanup(&srv->recorder);
    mock_rules_cleanup(&srv->rules);
}
