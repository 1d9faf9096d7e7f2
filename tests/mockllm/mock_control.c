/* /__mock/ control routes (see mock_control.h and README.md). */
#include "mock_control.h"

#include "common/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int is(const char *method, const char *want)
{
    return strcmp(method, want) == 0;
}

static enum MHD_Result health(struct mock_req *req)
{
    json_t *doc = json_pack("{s:s,s:s}", "status", "ok", "name", req->srv->name);
    enum MHD_Result rc = mock_queue_json(req->conn, 200, doc);
    json_decref(doc);
    return rc;
}

static enum MHD_Result stats(struct mock_req *req)
{
    struct mock_server *srv = req->srv;
    json_t *doc = json_pack(
        "{s:I,s:I,s:I}", "requests",
        (json_int_t)__atomic_load_n(&srv->requests, __ATOMIC_RELAXED), "active",
        (json_int_t)__atomic_load_n(&srv->active, __ATOMIC_RELAXED), "cancelled",
        (json_int_t)__atomic_load_n(&srv->cancelled, __ATOMIC_RELAXED));
    enum MHD_Result rc = mock_queue_json(req->conn, 200, doc);
    json_decref(doc);
    return rc;
}

static enum MHD_Result list_requests(struct mock_req *req)
{
    const char *arg = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "limit");
    long limit = 0;
    if (arg) {
        char *end;
        errno = 0;
        limit = strtol(arg, &end, 10);
        if (errno || *end || end == arg || limit < 0)
            return mock_queue_error(req->conn, 400, "limit: must be a non-negative integer");
    }
    json_t *doc = mock_recorder_to_json(&req->srv->recorder, (size_t)limit);
    enum MHD_Result rc = mock_queue_json(req->conn, 200, doc);
    json_decref(doc);
    return rc;
}

static enum MHD_Result no_content(struct mock_req *req)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    return mock_queue(req->conn, 204, r);
}

/* DELETE /__mock/requests: the log and the requests/cancelled counters. */
static enum MHD_Result clear_requests(struct mock_req *req)
{
    mock_recorder_clear(&req->srv->recorder);
    __atomic_store_n(&req->srv->requests, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&req->srv->cancelled, 0, __ATOMIC_RELAXED);
    return no_content(req);
}

static enum MHD_Result get_faults(struct mock_req *req)
{
    json_t *doc = mock_rules_to_json(&req->srv->rules);
    enum MHD_Result rc = mock_queue_json(req->conn, 200, doc);
    json_decref(doc);
    return rc;
}

static enum MHD_Result set_faults(struct mock_req *req)
{
    struct gw_err err;
    json_error_t jerr;
    gw_err_clear(&err);
    if (req->too_big)
        return mock_queue_error(req->conn, 413, "request body too large");
    if (req->nomem)
        return mock_queue_error(req->conn, 503, "out of memory");
    json_t *doc = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
    if (!doc) {
        char msg[256];
        snprintf(msg, sizeof(msg), "invalid JSON: %s (line %d)", jerr.text, jerr.line);
        return mock_queue_error(req->conn, 400, msg);
    }
    struct mock_ruleset *set = mock_ruleset_parse(doc, gw_now_ms(), &err);
    json_decref(doc);
    if (!set)
        return mock_queue_error(req->conn, (unsigned int)gw_err_http_status(err.kind),
                                err.message);
    mock_rules_replace(&req->srv->rules, set);
    return get_faults(req);
}

static enum MHD_Result clear_faults(struct mock_req *req)
{
    mock_rules_replace(&req->srv->rules, NULL);
    return no_content(req);
}

enum MHD_Result mock_control_handle(struct mock_req *req, const char *url, const char *method)
{
    const char *route = url + strlen("/__mock");
    int get = is(method, MHD_HTTP_METHOD_GET), del = is(method, MHD_HTTP_METHOD_DELETE);
    int post = is(method, MHD_HTTP_METHOD_POST) || is(method, MHD_HTTP_METHOD_PUT);
    if (strcmp(route, "/health") == 0) {
        if (get)
            return health(req);
    } else if (strcmp(route, "/stats") == 0) {
        if (get)
            return stats(req);
    } else if (strcmp(route, "/requests") == 0) {
        if (get)
            return list_requests(req);
        if (del)
            return clear_requests(req);
    } else if (strcmp(route, "/faults") == 0) {
        if (get)
            return get_faults(req);
        if (post)
            return set_faults(req);
        if (del)
            return clear_faults(req);
    } else {
        return mock_queue_error(req->conn, 404, "unknown /__mock/ route");
    }
    return mock_queue_error(req->conn, 405, "method not allowed on this route");
}
