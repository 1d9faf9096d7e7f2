/* Generic resource handlers (see crud.h). */
#include "crud.h"

#include "jfield.h"

json_t *cp_items(json_t *items)
{
    if (!items)
        return NULL;
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "items", items) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int cp_not_found(struct gw_err *err, const char *what, const char *id)
{
    return gw_err_set(err, GW_ERR_NOT_FOUND, "not_found", NULL, "%s '%s' not found", what,
                      id ? id : "");
}

int cp_room_for_one(struct cp_db *db, const char *count_sql, int64_t max, const char *what,
                    const char *bound, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n, count_sql, "") < 0)
        return -1;
    if (n < max)
        return 0;
    return gw_err_set(err, GW_ERR_CONFLICT, "limit_reached", NULL,
                      "there are %lld %s already, the most a config snapshot holds (%s)",
                      (long long)n, what, bound);
}

int cp_nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
}

/* Runs one read-only step in a read transaction. */
static int read_tx(struct cp_req *req,
                   int (*fn)(struct cp_db *, const char **, json_t **, struct gw_err *),
                   json_t **out, struct gw_err *err)
{
    if (cp_db_read_begin(req->db, err) < 0)
        return -1;
    int rc = fn(req->db, req->params, out, err);
    cp_db_read_end(req->db);
    return rc;
}

int cp_crud_list(const struct cp_crud *c, struct cp_req *req, struct gw_err *err)
{
    json_t *items = NULL;
    if (read_tx(req, c->list, &items, err) < 0)
        return -1;
    return cp_req_reply_json(req, 200, cp_items(items), err);
}

int cp_crud_get(const struct cp_crud *c, struct cp_req *req, struct gw_err *err)
{
    json_t *item = NULL;
    if (read_tx(req, c->get, &item, err) < 0)
        return -1;
    return cp_req_reply_json(req, 200, item, err);
}

/* The write steps: create, replace or patch, then commit. */
enum write_kind { W_CREATE, W_REPLACE, W_PATCH };

static int write_tx(const struct cp_crud *c, struct cp_req *req, enum write_kind kind,
                    struct gw_err *err)
{
    json_t *out = NULL, *old = NULL, *merged = NULL;
    if (cp_db_begin(req->db, err) < 0)
        return -1;
    int rc = -1;
    if (kind == W_CREATE) {
        rc = c->create(req->db, req->params, req->json, &out, err);
    } else if (kind == W_REPLACE) {
        rc = c->replace(req->db, req->params, req->json, &out, err);
    } else if (c->get(req->db, req->params, &old, err) == 0) {
        merged = cp_json_merge(old, req->json);
        rc = merged ? c->replace(req->db, req->params, merged, &out, err) : cp_nomem(err);
    }
    json_decref(old);
    json_decref(merged);
    if (rc < 0) {
        cp_db_rollback(req->db);
        json_decref(out);
        return -1;
    }
    if (cp_db_commit(req->db, NULL, err) < 0) {
        json_decref(out);
        return -1;
    }
    return cp_req_reply_json(req, kind == W_CREATE ? 201 : 200, out, err);
}

int cp_crud_create(const struct cp_crud *c, struct cp_req *req, struct gw_err *err)
{
    return write_tx(c, req, W_CREATE, err);
}

int cp_crud_put(const struct cp_crud *c, struct cp_req *req, struct gw_err *err)
{
    return write_tx(c, req, W_REPLACE, err);
}

int cp_crud_patch(const struct cp_crud *c, struct cp_req *req, struct gw_err *err)
{
    return write_tx(c, req, W_PATCH, err);
}

int cp_crud_delete(const struct cp_crud *c, struct cp_req *req, struct gw_err *err)
{
    if (cp_db_begin(req->db, err) < 0)
        return -1;
    if (c->remove(req->db, req->params, err) < 0) {
        cp_db_rollback(req->db);
        return -1;
    }
    if (cp_db_commit(req->db, NULL, err) < 0)
        return -1;
    return cp_req_reply_empty(req, 204);
}

int cp_crud_run(const struct cp_crud *c, enum cp_crud_op op, struct cp_req *req, struct gw_err *err)
{
    switch (op) {
    case CP_OP_LIST:
        return cp_crud_list(c, req, err);
    case CP_OP_GET:
        return cp_crud_get(c, req, err);
    case CP_OP_CREATE:
        return cp_crud_create(c, req, err);
    case CP_OP_PUT:
        return cp_crud_put(c, req, err);
    case CP_OP_PATCH:
        return cp_crud_patch(c, req, err);
    case CP_OP_DELETE:
        return cp_crud_delete(c, req, err);
    }
    return gw_err_set(err, GW_ERR_INTERNAL, "internal", NULL, "unknown operation");
}
