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
#include "api_policies.h"
#include "api_secrets.h"
#include "api_system.h"
#include "api_vendors.h"

/* The apk-conf translation lives in controlplane/apkconf*.c (another
 * module); until its header exists the two routes answer 501. */
#if __has_include("apkconf.h")
#include "apkconf.h"
#define APKCONF_IMPORT cp_apkconf_import
#define APKCONF_EXPORT cp_apkconf_export
#else
#define APKCONF_IMPORT cp_h_apkconf_unavailable
#define APKCONF_EXPORT cp_h_apkconf_unavailable
#endif

#define J CP_ROUTE_JSON_BODY

/* Literal segments before {params} where both could match (apis/import). */
const struct cp_route cp_routes[] = {
    {"GET", "/api/v1/revision", cp_h_revision, 0},
    {"GET", "/api/v1/dataplanes", cp_h_dataplanes, 0},

    {"GET", "/api/v1/vendors", cp_h_vendors_list, 0},
    {"POST", "/api/v1/vendors", cp_h_vendor_create, J},
    {"GET", "/api/v1/vendors/{id}", cp_h_vendor_get, 0},
    {"PUT", "/api/v1/vendors/{id}", cp_h_vendor_put, J},
    {"PATCH", "/api/v1/vendors/{id}", cp_h_vendor_patch, J},
    {"DELETE", "/api/v1/vendors/{id}", cp_h_vendor_delete, 0},
    {"GET", "/api/v1/vendors/{id}/models", cp_h_models_get, 0},
    {"PUT", "/api/v1/vendors/{id}/models", cp_h_models_put, J},
    {"POST", "/api/v1/vendors/{id}/models", cp_h_model_add, J},
    {"DELETE", "/api/v1/vendors/{id}/models/{name}", cp_h_model_delete, 0},

    {"GET", "/api/v1/secrets", cp_h_secrets_list, 0},
    {"GET", "/api/v1/secrets/{name}", cp_h_secret_get, 0},
    {"PUT", "/api/v1/secrets/{name}", cp_h_secret_put, J},
    {"DELETE", "/api/v1/secrets/{name}", cp_h_secret_delete, 0},

    {"POST", "/api/v1/apis/import", APKCONF_IMPORT, CP_ROUTE_RAW_BODY},
    {"GET", "/api/v1/apis", cp_h_apis_list, 0},
    {"POST", "/api/v1/apis", cp_h_api_create, J},
    {"GET", "/api/v1/apis/{id}", cp_h_api_get, 0},
    {"PUT", "/api/v1/apis/{id}", cp_h_api_put, J},
    {"PATCH", "/api/v1/apis/{id}", cp_h_api_patch, J},
    {"DELETE", "/api/v1/apis/{id}", cp_h_api_delete, 0},
    {"GET", "/api/v1/apis/{id}/apk-conf", APKCONF_EXPORT, 0},

    {"GET", "/api/v1/apis/{id}/endpoints", cp_h_endpoints_list, 0},
    {"POST", "/api/v1/apis/{id}/endpoints", cp_h_endpoint_create, J},
    {"GET", "/api/v1/apis/{id}/endpoints/{eid}", cp_h_endpoint_get, 0},
    {"PUT", "/api/v1/apis/{id}/endpoints/{eid}", cp_h_endpoint_put, J},
    {"PATCH", "/api/v1/apis/{id}/endpoints/{eid}", cp_h_endpoint_patch, J},
    {"DELETE", "/api/v1/apis/{id}/endpoints/{eid}", cp_h_endpoint_delete, 0},

    {"GET", "/api/v1/apis/{id}/policies", cp_h_policies_list, 0},
    {"POST", "/api/v1/apis/{id}/policies", cp_h_policy_create, J},
    {"GET", "/api/v1/apis/{id}/policies/{pid}", cp_h_policy_get, 0},
    {"PUT", "/api/v1/apis/{id}/policies/{pid}", cp_h_policy_put, J},
    {"PATCH", "/api/v1/apis/{id}/policies/{pid}", cp_h_policy_patch, J},
    {"DELETE", "/api/v1/apis/{id}/policies/{pid}", cp_h_policy_delete, 0},

    {"GET", "/api/v1/applications", cp_h_apps_list, 0},
    {"POST", "/api/v1/applications", cp_h_app_create, J},
    {"GET", "/api/v1/applications/{id}", cp_h_app_get, 0},
    {"PUT", "/api/v1/applications/{id}", cp_h_app_put, J},
    {"PATCH", "/api/v1/applications/{id}", cp_h_app_patch, J},
    {"DELETE", "/api/v1/applications/{id}", cp_h_app_delete, 0},
    {"GET", "/api/v1/applications/{id}/keys", cp_h_keys_list, 0},
    {"POST", "/api/v1/applications/{id}/keys", cp_h_key_create, J},
    {"DELETE", "/api/v1/applications/{id}/keys/{kid}", cp_h_key_delete, 0},
    {"GET", "/api/v1/applications/{id}/subscriptions", cp_h_subs_list, 0},
    {"POST", "/api/v1/applications/{id}/subscriptions", cp_h_sub_create, J},
    {"DELETE", "/api/v1/applications/{id}/subscriptions/{apiId}", cp_h_sub_delete, 0},
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

enum cp_route_match cp_route_find(const char *method, const char *path, const struct cp_route **route,
                                  const char **params, int *nparams, char *storage,
                                  size_t storagesz, char *allow, size_t allowsz)
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
            alen += (size_t)snprintf(allow + alen, allowsz - alen, "%s%s", alen ? ", " : "",
                                     r->method);
    }
    return alen ? CP_ROUTE_NO_METHOD : CP_ROUTE_NO_PATH;
}
