/* Reply helpers for route handlers (see req.h). */
#include "req.h"

#include <microhttpd.h>

#include "common/alloc.h"

int cp_req_reply_json(struct cp_req *req, int status, json_t *j, struct gw_err *err)
{
    if (!j)
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    json_decref(req->out);
    req->out = j;
    req->status = status;
    return 0;
}

int cp_req_reply_empty(struct cp_req *req, int status)
{
    req->status = status;
    return 0;
}

int cp_req_reply_raw(struct cp_req *req, int status, char *body, size_t len,
                     const char *content_type)
{
    gw_free(req->raw);
    req->raw = body;
    req->raw_len = len;
    req->raw_type = content_type;
    req->status = status;
    return 0;
}

const char *cp_req_query(struct cp_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void cp_req_cleanup(struct cp_req *req)
{
    json_decref(req->out);
    req->out = NULL;
    gw_free(req->raw);
    req->raw = NULL;
}
