/* The shape every REST resource shares: list, get, create, replace (PUT),
 * patch (PATCH = get + merge + replace) and delete, each in one
 * transaction, answered with the status codes of SPEC 2.1.
 *
 * A resource module (api_vendors.c, ...) describes itself with a struct
 * cp_crud of functions that run inside a transaction opened here, and its
 * route handlers are one-line calls to cp_crud_*(). ids are the route's
 * path parameters in order (req->params). Any MHD worker thread. */
#ifndef CP_CRUD_H
#define CP_CRUD_H

#include <jansson.h>

#include "common/err.h"
#include "db.h"
#include "req.h"

/* Operations a resource has no route for may be NULL. */
struct cp_crud {
    /* The JSON array of items (new reference). */
    int (*list)(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err);
    /* One item (new reference); GW_ERR_NOT_FOUND when absent. */
    int (*get)(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err);
    /* Creates from body (borrowed); *out the created item. */
    int (*create)(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                  struct gw_err *err);
    /* Replaces the whole item with body; *out the stored item. */
    int (*replace)(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                   struct gw_err *err);
    /* Deletes; GW_ERR_NOT_FOUND / GW_ERR_CONFLICT (still in use). */
    int (*remove)(struct cp_db *db, const char **ids, struct gw_err *err);
};

/* The operation a route applies to a resource (routes.c). */
enum cp_crud_op {
    CP_OP_LIST,   /* GET collection: 200 {"items": [...]} */
    CP_OP_GET,    /* GET one: 200 */
    CP_OP_CREATE, /* POST: 201 */
    CP_OP_PUT,    /* PUT: 200 (whole resource) */
    CP_OP_PATCH,  /* PATCH: 200 (fields given) */
    CP_OP_DELETE  /* DELETE: 204 */
};

/* Runs op of c for req (the route's handler when it has no own function). */
int cp_crud_run(const struct cp_crud *c, enum cp_crud_op op, struct cp_req *req,
                struct gw_err *err);

/* One operation each (see enum cp_crud_op for the status): run it in its own
 * transaction (a read one for list/get), set the reply on req and return 0,
 * or return -1 with err having changed nothing. c must have the function
 * the operation needs (PATCH needs get and replace). */
int cp_crud_list(const struct cp_crud *c, struct cp_req *req, struct gw_err *err);
int cp_crud_get(const struct cp_crud *c, struct cp_req *req, struct gw_err *err);
int cp_crud_create(const struct cp_crud *c, struct cp_req *req, struct gw_err *err);
int cp_crud_put(const struct cp_crud *c, struct cp_req *req, struct gw_err *err);
int cp_crud_patch(const struct cp_crud *c, struct cp_req *req, struct gw_err *err);
int cp_crud_delete(const struct cp_crud *c, struct cp_req *req, struct gw_err *err);

/* Wraps items (takes ownership) as {"items": items}. NULL on failure. */
json_t *cp_items(json_t *items);

/* Sets err to GW_ERR_NOT_FOUND "<what> <id> not found". Returns -1. */
int cp_not_found(struct gw_err *err, const char *what, const char *id);

/* Sets err to GW_ERR_NOMEM. Returns -1. */
int cp_nomem(struct gw_err *err);

/* Refuses to create one more row when count_sql (a constant "SELECT
 * count(*) FROM ...") already counts max: 409 limit_reached naming what
 * and the bound (common/limits.h: the snapshot's size is derived from
 * these counts). Returns 0 when there is room, -1 with err. */
int cp_room_for_one(struct cp_db *db, const char *count_sql, int64_t max, const char *what,
                    const char *bound, struct gw_err *err);

#endif
