/* The admin API's route table: every /api/v1 route, its method and handler.
 *
 * This table is the single list of routes: http.c dispatches through it,
 * `modelmux-cp --print-routes` prints it, and tests/e2e compare it with
 * schema/openapi.yaml. Patterns are literal segments and {name} segments
 * (one path segment each, percent-decoded). Constant data, any thread. */
#ifndef CP_ROUTES_H
#define CP_ROUTES_H

#include <stddef.h>

#include "crud.h"
#include "req.h"

enum cp_route_flags {
    CP_ROUTE_JSON_BODY = 1, /* the body must be a JSON object (Content-Type checked) */
    CP_ROUTE_RAW_BODY = 2,  /* the handler reads req->body itself (apk-conf import) */
    CP_ROUTE_OPT_BODY = 4   /* no body, or a JSON object as for CP_ROUTE_JSON_BODY (an action) */
};

/* A route runs fn when set, else operation op of the resource crud. */
struct cp_route {
    const char *method;         /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern;        /* "/api/v1/vendors/{id}" */
    cp_handler_fn fn;           /* an own handler, or NULL */
    const struct cp_crud *crud; /* the resource (when fn is NULL) */
    enum cp_crud_op op;
    unsigned flags; /* enum cp_route_flags */
};

/* Runs the route's handler. */
int cp_route_run(const struct cp_route *route, struct cp_req *req, struct gw_err *err);

extern const struct cp_route cp_routes[];
extern const size_t cp_nroutes;

enum cp_route_match {
    CP_ROUTE_FOUND,    /* *route and params set */
    CP_ROUTE_NO_PATH,  /* no pattern matches the path (404) */
    CP_ROUTE_NO_METHOD /* the path exists for other methods (405); allow lists them */
};

/* Matches method + path (raw, still percent-encoded). On CP_ROUTE_FOUND,
 * params[0..*nparams) point into storage (size storagesz), decoded. On
 * CP_ROUTE_NO_METHOD, allow gets "GET, PUT" etc. A path parameter that
 * is split on the raw '/' first, so an encoded "%2F" stays inside its
 * parameter (model names may hold '/'); one that decodes to a NUL or is
 * empty does not match. */
enum cp_route_match cp_route_find(const char *method, const char *path,
                                  const struct cp_route **route, const char **params, int *nparams,
                                  char *storage, size_t storagesz, char *allow, size_t allowsz);

/* Percent-decodes n bytes of s into out (size outsz, NUL-terminated).
 * Returns the decoded length, or -1 on a bad escape, an embedded NUL, or
 * when out is too small. */
long cp_url_decode(const char *s, size_t n, char *out, size_t outsz);

#endif
