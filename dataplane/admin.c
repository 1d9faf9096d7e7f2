/* The admin HTTP server: /metrics, /healthz, /readyz (see admin.h).
 *
 * Owns one MHD daemon with its own polling thread; handlers only read what
 * struct dp_shared publishes (atomics, the metrics registry's shards under
 * their mutexes, the routing state under its mutex). */
#include "admin.h"

#include "bufbudget.h"
#include "common/alloc.h"
#include "common/fdlimit.h"
#include "common/idle_conns_mhd.h"
#include "metrics.h"
#include "worker.h"

#include <errno.h>
#include <microhttpd.h>
#include <string.h>

/* Connection caps (issue 11 item 12): a liveness probe must get its
 * answer while others hold idle connections. Idle ones are closed after
 * ADMIN_IDLE_S; one address cannot take more than ADMIN_PER_IP slots (a
 * probe or scraper from another address still gets in); the total is
 * bounded by the fd limit (main raises it), less what the workers need;
 * and past 7/8 of it each new connection closes the longest idle one
 * (common/idle_conns.h), so idle sockets from many addresses cannot fill
 * it either. */
#define ADMIN_IDLE_S 10
#define ADMIN_PER_IP 1024
#define ADMIN_CONN_MAX 4096
#define ADMIN_FD_SPARE 1024

struct dp_admin {
    struct dp_shared *sh;
    struct MHD_Daemon *daemon;
    struct gw_idle_conns *idle;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
                             char *body, size_t len, int owned)
{
    struct MHD_Response *resp =
        owned ? MHD_create_response_from_buffer_with_free_callback(len, body, gw_free)
              : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        if (owned)
            gw_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

#define STATIC(s) (char *)(s), sizeof(s) - 1, 0

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)version;
    (void)upload_data;
    struct dp_admin *a = cls;
    if (*con_cls == NULL) {
        *con_cls = a; /* headers seen; answer on the next call */
        gw_idle_mhd_busy(a->idle, conn, 1);
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* bodies are ignored */
        return MHD_YES;
    }
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const char *json = "application/json";
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
        strcmp(url, "/metrics") == 0) {
        if (!get)
            return reply(conn, 405, json,
                         STATIC("{\"error\":{\"message\":\"use GET\",\"type\":"
                                "\"invalid_request_error\",\"code\":\"method_not_allowed\"}}"));
    } else {
        return reply(conn, 404, json,
                     STATIC("{\"error\":{\"message\":\"not found\",\"type\":"
                            "\"invalid_request_error\",\"code\":\"not_found\"}}"));
    }
    if (strcmp(url, "/healthz") == 0)
        return reply(conn, 200, json, STATIC("{\"status\":\"ok\"}"));
    int64_t rev = atomic_load(&a->sh->revision);
    if (strcmp(url, "/readyz") == 0) {
        if (rev < 0)
            return reply(conn, 503, json,
                         STATIC("{\"status\":\"not ready\",\"reason\":\"no config applied\"}"));
        return reply(conn, 200, json, STATIC("{\"status\":\"ready\"}"));
    }
    struct gw_buf out;
    gw_buf_init(&out, 64 * 1024 * 1024);
    if (dp_metrics_render(a->sh->metrics, a->sh->state, a->sh->rl, rev, &out) != 0 ||
        dp_bufbudget_metrics(&out) != 0) {
        gw_buf_cleanup(&out);
        return reply(conn, 503, "text/plain", STATIC("out of memory\n"));
    }
    size_t len = out.len;
    char *body = gw_buf_take(&out);
    gw_buf_cleanup(&out);
    if (!body)
        return reply(conn, 200, "text/plain; version=0.0.4", STATIC(""));
    return reply(conn, 200, "text/plain; version=0.0.4", body, len, 1);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct dp_admin *a = cls;
    if (*con_cls)
        gw_idle_mhd_busy(a->idle, conn, 0);
    *con_cls = NULL;
}

struct dp_admin *dp_admin_start(struct dp_shared *sh, const struct sockaddr *addr,
                                socklen_t addrlen, struct gw_err *err)
{
    (void)addrlen;
    struct dp_admin *a = gw_calloc(1, sizeof(*a));
    if (!a) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    a->sh = sh;
    unsigned limit = gw_conn_limit(ADMIN_FD_SPARE, 64, ADMIN_CONN_MAX);
    a->idle = gw_idle_conns_new(limit - limit / 8);
    if (!a->idle) {
        gw_free(a);
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    a->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, a, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)ADMIN_IDLE_S, MHD_OPTION_CONNECTION_LIMIT,
        limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)ADMIN_PER_IP,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024, MHD_OPTION_NOTIFY_CONNECTION,
        gw_idle_mhd_notify, a->idle, MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
        MHD_OPTION_END);
    if (!a->daemon) {
        int e = errno;
        gw_err_set(err, GW_ERR_UNAVAILABLE, "listen", NULL, "cannot listen%s%s",
                   e ? ": " : "", e ? strerror(e) : "");
        gw_idle_conns_free(a->idle);
        gw_free(a);
        return NULL;
    }
    return a;
}

void dp_admin_stop(struct dp_admin *a)
{
    if (!a)
        return;
    MHD_stop_daemon(a->daemon);
    gw_idle_conns_free(a->idle);
    gw_free(a);
}
