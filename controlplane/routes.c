/* The /api/v1 route table and its matcher (see routes.h).
 *
 * Adding a route: add a row here AND the path to schema/openapi.yaml (the
 * e2e test test_cp_openapi.py fails when they differ). */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "api_apis.h"
#include "api_applications.h"
#include "api_endpoints.h"
#include "api_issuers.h"
#include "api_policies.h"
#include "api_secrets.h"
#include "api_system.h"
#include "api_vendors.h"
#include "apkconf.h"

#define J CP_ROUTE_JSON_BODY
/* A route with its own handler, and one that runs a resource operation. */
#define FN(m, p, fn, flags) {m, p, fn, NULL, CP_OP_LIST, flags}
#define OP(m, p, res, op, flags) {m, p, NULL, &cp_##res##_crud, CP_OP_##op, flags}

/* Literal segments before {params} where both could match (apis/import). */
const struct cp_route cp_routes[] = {
    FN("GET", "/api/v1/revision", cp_h_revision, 0),
    FN("GET", "/api/v1/dataplanes", cp_h_dataplanes, 0),

    OP("GET", "/api/v1/vendors", vendors, LIST, 0),
    OP("POST", "/api/v1/vendors", vendors, CREATE, J),
    OP("GET", "/api/v1/vendors/{id}", vendors, GET, 0),
    OP("PUT", "/api/v1/vendors/{id}", vendors, PUT, J),
    OP("PATCH", "/api/v1/vendors/{id}", vendors, PATCH, J),
    OP("DELETE", "/api/v1/vendors/{id}", vendors, DELETE, 0),
    OP("GET", "/api/v1/vendors/{id}/models", models, LIST, 0),
    FN("PUT", "/api/v1/vendors/{id}/models", cp_h_models_put, J),
    OP("POST", "/api/v1/vendors/{id}/models", models, CREATE, J),
    OP("DELETE", "/api/v1/vendors/{id}/models/{name}", models, DELETE, 0),

    OP("GET", "/api/v1/secrets", secrets, LIST, 0),
    OP("GET", "/api/v1/secrets/{name}", secrets, GET, 0),
    FN("PUT", "/api/v1/secrets/{name}", cp_h_secret_put, J),
    OP("DELETE", "/api/v1/secrets/{name}", secrets, DELETE, 0),

    FN("POST", "/api/v1/apis/import", cp_apkconf_import, CP_ROUTE_RAW_BODY),
    OP("GET", "/api/v1/apis", apis, LIST, 0),
    OP("POST", "/api/v1/apis", apis, CREATE, J),
    OP("GET", "/api/v1/apis/{id}", apis, GET, 0),
    OP("PUT", "/api/v1/apis/{id}", apis, PUT, J),
    OP("PATCH", "/api/v1/apis/{id}", apis, PATCH, J),
    OP("DELETE", "/api/v1/apis/{id}", apis, DELETE, 0),
    FN("GET", "/api/v1/apis/{id}/apk-conf", cp_apkconf_export, 0),
    FN("GET", "/api/v1/apis/{id}/crs", cp_crs_export, 0),

    OP("GET", "/api/v1/apis/{id}/endpoints", endpoints, LIST, 0),
    OP("POST", "/api/v1/apis/{id}/endpoints", endpoints, CREATE, J),
    OP("GET", "/api/v1/apis/{id}/endpoints/{eid}", endpoints, GET, 0),
    OP("PUT", "/api/v1/apis/{id}/endpoints/{eid}", endpoints, PUT, J),
    OP("PATCH", "/api/v1/apis/{id}/endpoints/{eid}", endpoints, PATCH, J),
    OP("DELETE", "/api/v1/apis/{id}/endpoints/{eid}", endpoints, DELETE, 0),

    OP("GET", "/api/v1/apis/{id}/policies", policies, LIST, 0),
    OP("POST", "/api/v1/apis/{id}/policies", policies, CREATE, J),
    OP("GET", "/api/v1/apis/{id}/policies/{pid}", policies, GET, 0),
    OP("PUT", "/api/v1/apis/{id}/policies/{pid}", policies, PUT, J),
    OP("PATCH", "/api/v1/apis/{id}/policies/{pid}", policies, PATCH, J),
    OP("DELETE", "/api/v1/apis/{id}/policies/{pid}", policies, DELETE, 0),

    OP("GET", "/api/v1/applications", apps, LIST, 0),
    OP("POST", "/api/v1/applications", apps, CREATE, J),
    OP("GET", "/api/v1/applications/{id}", apps, GET, 0),
    OP("PUT", "/api/v1/applications/{id}", apps, PUT, J),
    OP("PATCH", "/api/v1/applications/{id}", apps, PATCH, J),
    OP("DELETE", "/api/v1/applications/{id}", apps, DELETE, 0),
    OP("GET", "/api/v1/applications/{id}/keys", keys, LIST, 0),
    OP("POST", "/api/v1/applications/{id}/keys", keys, CREATE, J),
    OP("DELETE", "/api/v1/applications/{id}/keys/{kid}", keys, DELETE, 0),
    OP("GET", "/api/v1/applications/{id}/subscriptions", subs, LIST, 0),
    OP("POST", "/api/v1/applications/{id}/subscriptions", subs, CREATE, J),
    OP("DELETE", "/api/v1/applications/{id}/subscriptions/{apiId}", subs, DELETE, 0),
    OP("GET", "/api/v1/applications/{id}/oauth-clients", oauth_clients, LIST, 0),
    OP("POST", "/api/v1/applications/{id}/oauth-clients", oauth_clients, CREATE, J),
    OP("DELETE", "/api/v1/applications/{id}/oauth-clients/{clientId}", oauth_clients, DELETE, 0),

    OP("GET", "/api/v1/issuers", issuers, LIST, 0),
    OP("POST", "/api/v1/issuers", issuers, CREATE, J),
    OP("GET", "/api/v1/issuers/{id}", issuers, GET, 0),
    OP("PUT", "/api/v1/issuers/{id}", issuers, PUT, J),
    OP("PATCH", "/api/v1/issuers/{id}", issuers, PATCH, J),
    OP("DELETE", "/api/v1/issuers/{id}", issuers, DELETE, 0),
    FN("POST", "/api/v1/issuers/{id}/refresh", cp_h_issuer_refresh, CP_ROUTE_OPT_BODY),
};
const size_t cp_nroutes = sizeof(cp_routes) / sizeof(cp_routes[0]);

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long cp_url_decode(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= outsz)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

/* Matches one pattern against path. Returns 1 and fills params, else 0. */
static int match(const char *pattern, const char *path, const char **params, int *nparams,
                 char *storage, size_t storagesz)
{
    const char *p = pattern, *u = path;
    size_t used = 0;
    *nparams = 0;
    while (*p && *u) {
        if (*p != '/' || *u != '/')
            return 0;
        p++;
        u++;
        size_t plen = strcspn(p, "/"), ulen = strcspn(u, "/");
        if (*p == '{') {
            if (ulen == 0 || *nparams == CP_REQ_MAX_PARAMS)
                return 0;
            long n = cp_url_decode(u, ulen, storage + used, storagesz - used);
            if (n <= 0)
                return 0;
            params[(*nparams)++] = storage + used;
            used += (size_t)n + 1;
        } else if (plen != ulen || memcmp(p, u, plen) != 0) {
            return 0;
        }
        p += plen;
        u += ulen;
    }
    return *p == '\0' && *u == '\0';
}

enum cp_route_match cp_route_find(const char *method, const char *path,
                                  const struct cp_route **route, const char **params, int *nparams,
                                  char *storage, size_t storagesz, char *allow, size_t allowsz)
{
    const char *ignored[CP_REQ_MAX_PARAMS];
    char scratch[1024];
    int n = 0;
    size_t alen = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < cp_nroutes; i++) {
        const struct cp_route *r = &cp_routes[i];
        if (strcmp(r->method, method) == 0 &&
            match(r->pattern, path, params, nparams, storage, storagesz)) {
            *route = r;
            return CP_ROUTE_FOUND;
        }
        if (match(r->pattern, path, ignored, &n, scratch, sizeof(scratch)) &&
            !strstr(allow, r->method) && alen + strlen(r->method) + 3 < allowsz)
            alen +=
                (size_t)snprintf(allow + alen, allowsz - alen, "%s%s", alen ? ", " : "", r->method);
    }
    return alen ? CP_ROUTE_NO_METHOD : CP_ROUTE_NO_PATH;
}

int cp_route_run(const struct cp_route *route, struct cp_req *req, struct gw_err *err)
{
    return route->fn ? route->fn(req, err) : cp_crud_run(route->crud, route->op, req, err);
}
