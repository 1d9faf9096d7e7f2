/* REST JSON of one API -> WSO2 APK custom resources (see crs.h).
 *
 * One YAML stream, in the order kubectl would apply them: the API, one
 * HTTPRoute per environment that has endpoints (production always, for the
 * operations), one Backend per endpoint (named after it, so the import
 * gives the same names), an APIPolicy (the vendor and the routing policies),
 * an AIProvider when the vendor is not one of APK's built-in ones, and an
 * AIRateLimitPolicy for the aiRateLimit policy. What APK cannot say is
 * written as clearly named extensions that crs_import.c reads back:
 *   modelRoundRobin          APIPolicy spec.override.x-modelmux-modelRoundRobin
 *   modelFailover            APIPolicy spec.override.x-modelmux-modelFailover[]
 *   aiRateLimit scope        AIRateLimitPolicy spec.override.x-modelmux.scope
 *   endpoint tls.caCert      Backend spec.tls.certificateInline (APK)
 *   endpoint tls client      Backend spec.x-modelmux.tls {clientCert, clientKey}
 *   endpoint timeoutMs, a    Backend spec.x-modelmux {timeoutMs, headerPrefix}
 *   header prefix other than APK's ("Bearer " for Authorization, else none)
 *   routing policy fields    inside the extensions above, or APIPolicy
 *   (retries, timeouts, ...)  spec.override.x-modelmux-routing beside
 *                            modelBasedRoundRobin
 *   secured: false, scopes   HTTPRoute rule x-modelmux {secured, scopes}
 * Secrets: Backends name their Secret and key; no Secret document and no
 * value is ever written (see controlplane/README-apkconf.md).
 *
 * Pure function, any thread. */
#include "crs.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "apkconf.h"
#include "import_map.h"
#include "yaml_emit.h"

struct crx {
    struct cp_yemit e;
    const json_t *api, *vendor, *endpoints, *policies;
    char api_name[64];      /* metadata.name of the API */
    char provider_name[64]; /* the aiProvider reference */
    int has_env[2];
};

static const char *env_names[2] = {"production", "sandbox"};

static const char *str_of(const json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s ? s : "";
}

/* A Kubernetes object name from any text: lower case, [a-z0-9-]. */
static void slug(char *out, size_t size, const char *s, const char *suffix)
{
    size_t n = 0;

    for (; *s && n + 1 < size; s++)
        out[n++] = isalnum((unsigned char)*s) ? (char)tolower((unsigned char)*s) : '-';
    out[n] = 0;
    if (n == 0)
        snprintf(out, size, "x");
    n = strlen(out);
    snprintf(out + n, size - n, "%s", suffix);
}

static int metadata(struct crx *x, const char *api_version, const char *kind, const char *name)
{
    struct cp_yemit *e = &x->e;

    return cp_ye_doc_start(e, 1) < 0 || cp_ye_map_start(e) < 0 ||
                   cp_ye_kv_str(e, "apiVersion", api_version) < 0 ||
                   cp_ye_kv_str(e, "kind", kind) < 0 || cp_ye_key(e, "metadata") < 0 ||
                   cp_ye_map_start(e) < 0 || cp_ye_kv_str(e, "name", name) < 0 ||
                   cp_ye_map_end(e) < 0
               ? -1
               : 0;
}

static int doc_end(struct crx *x)
{
    return cp_ye_map_end(&x->e) < 0 || cp_ye_doc_end(&x->e) < 0 ? -1 : 0;
}

/* targetRef naming the API. */
static int target_api(struct crx *x)
{
    struct cp_yemit *e = &x->e;

    return cp_ye_key(e, "targetRef") < 0 || cp_ye_map_start(e) < 0 ||
                   cp_ye_kv_str(e, "group", "gateway.networking.k8s.io") < 0 ||
                   cp_ye_kv_str(e, "kind", "API") < 0 || cp_ye_kv_str(e, "name", x->api_name) < 0 ||
                   cp_ye_map_end(e) < 0
               ? -1
               : 0;
}

static int backend_ref(struct crx *x, const char *name)
{
    struct cp_yemit *e = &x->e;

    return cp_ye_map_start(e) < 0 || cp_ye_kv_str(e, "group", "dp.wso2.com") < 0 ||
                   cp_ye_kv_str(e, "kind", "Backend") < 0 || cp_ye_kv_str(e, "name", name) < 0 ||
                   cp_ye_map_end(e) < 0
               ? -1
               : 0;
}

static const json_t *endpoint_by_id(const struct crx *x, const char *id)
{
    const json_t *ep;
    size_t i;

    json_array_foreach (x->endpoints, i, ep) {
        if (strcmp(str_of(ep, "id"), id) == 0)
            return ep;
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * API, HTTPRoutes, Backends
 * ------------------------------------------------------------------------ */

static int emit_api(struct crx *x)
{
    struct cp_yemit *e = &x->e;
    char base[1200];

    snprintf(base, sizeof(base), "%s/%s", str_of(x->api, "basePath"), str_of(x->api, "version"));
    if (metadata(x, "dp.wso2.com/v1alpha3", "API", x->api_name) < 0 || cp_ye_key(e, "spec") < 0 ||
        cp_ye_map_start(e) < 0 || cp_ye_opt_str(e, "apiName", x->api, "name") < 0 ||
        cp_ye_kv_str(e, "apiType", "REST") < 0 ||
        cp_ye_opt_str(e, "apiVersion", x->api, "version") < 0 ||
        cp_ye_kv_str(e, "basePath", base) < 0 ||
        cp_ye_opt_bool(e, "isDefaultVersion", x->api, "defaultVersion") < 0)
        return -1;
    for (int env = 0; env < 2; env++) {
        char route[80];
        if (!x->has_env[env])
            continue;
        snprintf(route, sizeof(route), "%.40s-%s", x->api_name, env_names[env]);
        if (cp_ye_key(e, env_names[env]) < 0 || cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0 ||
            cp_ye_map_start(e) < 0 || cp_ye_key(e, "routeRefs") < 0 ||
            cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0 ||
            cp_ye_scalar(e, route, YAML_DOUBLE_QUOTED_SCALAR_STYLE) < 0 || cp_ye_seq_end(e) < 0 ||
            cp_ye_map_end(e) < 0 || cp_ye_seq_end(e) < 0)
            return -1;
    }
    return cp_ye_map_end(e) < 0 ? -1 : doc_end(x);
}

/* One rule per operation, each sending to every endpoint of env. */
/* A rule's x-modelmux {secured: false, scopes: [...]}, when the operation
 * says either. */
static int emit_rule_ext(struct cp_yemit *e, const json_t *op)
{
    const json_t *scopes = json_object_get(op, "scopes");
    int open = json_is_false(json_object_get(op, "secured")), has_scopes = json_array_size(scopes);

    if (!open && !has_scopes)
        return 0;
    if (cp_ye_key(e, "x-modelmux") < 0 || cp_ye_map_start(e) < 0 ||
        (open && cp_ye_kv_bool(e, "secured", 0) < 0) ||
        (has_scopes && cp_ye_kv_strs(e, "scopes", scopes) < 0))
        return -1;
    return cp_ye_map_end(e);
}

static int emit_route(struct crx *x, int env)
{
    struct cp_yemit *e = &x->e;
    const json_t *op, *ep;
    char route[80];
    size_t i, j;

    snprintf(route, sizeof(route), "%.40s-%s", x->api_name, env_names[env]);
    if (metadata(x, "gateway.networking.k8s.io/v1beta1", "HTTPRoute", route) < 0 ||
        cp_ye_key(e, "spec") < 0 || cp_ye_map_start(e) < 0 || cp_ye_key(e, "rules") < 0 ||
        cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0)
        return -1;
    json_array_foreach (json_object_get(x->api, "operations"), i, op) {
        const char *path = str_of(op, "target");
        if (cp_ye_map_start(e) < 0 || cp_ye_key(e, "matches") < 0 ||
            cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0 || cp_ye_map_start(e) < 0 ||
            cp_ye_key(e, "path") < 0 || cp_ye_map_start(e) < 0 ||
            cp_ye_kv_str(e, "type", "RegularExpression") < 0 ||
            cp_ye_kv_str(e, "value", path) < 0 || cp_ye_map_end(e) < 0 ||
            cp_ye_opt_str(e, "method", op, "verb") < 0 || cp_ye_map_end(e) < 0 ||
            cp_ye_seq_end(e) < 0 || cp_ye_key(e, "filters") < 0 ||
            cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0 || cp_ye_map_start(e) < 0 ||
            cp_ye_kv_str(e, "type", "URLRewrite") < 0 || cp_ye_key(e, "urlRewrite") < 0 ||
            cp_ye_map_start(e) < 0 || cp_ye_key(e, "path") < 0 || cp_ye_map_start(e) < 0 ||
            cp_ye_kv_str(e, "type", "ReplaceFullPath") < 0 ||
            cp_ye_kv_str(e, "replaceFullPath", path) < 0 || cp_ye_map_end(e) < 0 ||
            cp_ye_map_end(e) < 0 || cp_ye_map_end(e) < 0 || cp_ye_seq_end(e) < 0 ||
            emit_rule_ext(e, op) < 0 ||
            cp_ye_key(e, "backendRefs") < 0 || cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0)
            return -1;
        json_array_foreach (x->endpoints, j, ep) {
            if (strcmp(str_of(ep, "environment"), env_names[env]) == 0 &&
                backend_ref(x, str_of(ep, "name")) < 0)
                return -1;
        }
        if (cp_ye_seq_end(e) < 0 || cp_ye_map_end(e) < 0)
            return -1;
    }
    return cp_ye_seq_end(e) < 0 || cp_ye_map_end(e) < 0 ? -1 : doc_end(x);
}

/* Splits an endpoint URL into protocol, host, port and base path. */
static void split_url(const char *url, char *proto, char *host, size_t hsize, int *port,
                      const char **base)
{
    const char *p = strstr(url, "://"), *h, *end;

    snprintf(proto, 8, "%.*s", p ? (int)(p - url) : 4, p ? url : "http");
    h = p ? p + 3 : url;
    end = h[0] == '[' ? strchr(h, ']') : NULL; /* an IPv6 literal */
    end = end ? end + 1 : h;
    end += strcspn(end, ":/?");
    snprintf(host, hsize, "%.*s", (int)(end - h), h);
    *port = strcmp(proto, "https") == 0 ? 443 : 80;
    if (*end == ':') {
        *port = (int)strtol(end + 1, NULL, 10);
        end += 1 + strspn(end + 1, "0123456789");
    }
    *base = end;
}

static int emit_backend_security(struct crx *x, const json_t *sec, const char **ext_prefix)
{
    struct cp_yemit *e = &x->e;
    const char *header = str_of(sec, "header"), *prefix = str_of(sec, "prefix");
    const char *apk_prefix = strcasecmp(header, "Authorization") == 0 ? "Bearer " : "";

    *ext_prefix = strcmp(prefix, apk_prefix) != 0 ? prefix : NULL;
    return cp_ye_key(e, "security") < 0 || cp_ye_map_start(e) < 0 || cp_ye_key(e, "apiKey") < 0 ||
                   cp_ye_map_start(e) < 0 || cp_ye_kv_str(e, "in", "Header") < 0 ||
                   cp_ye_kv_str(e, "name", header) < 0 || cp_ye_key(e, "valueFrom") < 0 ||
                   cp_ye_map_start(e) < 0 || cp_ye_opt_str(e, "name", sec, "secret") < 0 ||
                   cp_ye_opt_str(e, "valueKey", sec, "secretKey") < 0 || cp_ye_map_end(e) < 0 ||
                   cp_ye_map_end(e) < 0 || cp_ye_map_end(e) < 0
               ? -1
               : 0;
}

static int emit_backend(struct crx *x, const json_t *ep)
{
    struct cp_yemit *e = &x->e;
    const json_t *sec = json_object_get(ep, "security"), *tls = json_object_get(ep, "tls");
    const char *base, *ext_prefix = NULL;
    char proto[8], host[512];
    int port;

    split_url(str_of(ep, "url"), proto, host, sizeof(host), &port, &base);
    if (metadata(x, "dp.wso2.com/v1alpha2", "Backend", str_of(ep, "name")) < 0 ||
        cp_ye_key(e, "spec") < 0 || cp_ye_map_start(e) < 0 || cp_ye_key(e, "services") < 0 ||
        cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0 || cp_ye_map_start(e) < 0 ||
        cp_ye_kv_str(e, "host", host) < 0 || cp_ye_kv_int(e, "port", port) < 0 ||
        cp_ye_map_end(e) < 0 || cp_ye_seq_end(e) < 0 || cp_ye_kv_str(e, "basePath", base) < 0 ||
        cp_ye_kv_str(e, "protocol", proto) < 0 ||
        (json_is_object(sec) && emit_backend_security(x, sec, &ext_prefix) < 0))
        return -1;
    /* tls: the CA in APK's own field, the client certificate (and its
     * key's secret, never the key) in the extension. */
    if (json_object_get(tls, "caCert") &&
        (cp_ye_key(e, "tls") < 0 || cp_ye_map_start(e) < 0 ||
         cp_ye_opt_str(e, "certificateInline", tls, "caCert") < 0 || cp_ye_map_end(e) < 0))
        return -1;
    if (cp_ye_key(e, "x-modelmux") < 0 || cp_ye_map_start(e) < 0 ||
        cp_ye_opt_int(e, "timeoutMs", ep, "timeoutMs") < 0 ||
        (ext_prefix && cp_ye_kv_str(e, "headerPrefix", ext_prefix) < 0) ||
        (tls && cp_im_emit_tls(e, tls, 0) < 0) || cp_ye_map_end(e) < 0)
        return -1;
    return cp_ye_map_end(e) < 0 ? -1 : doc_end(x);
}

/* ------------------------------------------------------------------------
 * APIPolicy, AIProvider, AIRateLimitPolicy
 * ------------------------------------------------------------------------ */

/* The routing policies' optional fields (retries, stream timeouts,
 * midStreamFailover, operations) as keys of the current mapping. */
static int emit_routing(struct crx *x, const json_t *p)
{
    static const char *const ints[] = {"retries", "maxRetryAfterWaitSec", "firstTokenTimeoutMs",
                                       "streamIdleTimeoutMs"};
    struct cp_yemit *e = &x->e;
    const json_t *ops = json_object_get(p, "operations"), *op;
    size_t i;

    for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if (cp_ye_opt_int(e, ints[i], p, ints[i]) < 0)
            return -1;
    if (cp_ye_opt_str(e, "midStreamFailover", p, "midStreamFailover") < 0)
        return -1;
    if (!json_is_array(ops))
        return 0;
    if (cp_ye_key(e, "operations") < 0 || cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0)
        return -1;
    json_array_foreach (ops, i, op) {
        if (cp_ye_scalar(e, json_string_value(op), YAML_DOUBLE_QUOTED_SCALAR_STYLE) < 0)
            return -1;
    }
    return cp_ye_seq_end(e);
}

static int has_routing(const json_t *p)
{
    static const char *const keys[] = {"retries",
                                       "maxRetryAfterWaitSec",
                                       "firstTokenTimeoutMs",
                                       "streamIdleTimeoutMs",
                                       "midStreamFailover",
                                       "operations"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_object_get(p, keys[i]))
            return 1;
    return 0;
}

/* {model, backendRef, weight?} */
static int emit_target(struct crx *x, const json_t *t, int weighted)
{
    struct cp_yemit *e = &x->e;
    const json_t *ep = endpoint_by_id(x, str_of(t, "endpoint"));

    if (!ep)
        return gw_err_set(NULL, GW_ERR_INTERNAL, "internal", NULL, "unknown endpoint");
    return cp_ye_map_start(e) < 0 || cp_ye_opt_str(e, "model", t, "model") < 0 ||
                   cp_ye_key(e, "backendRef") < 0 || backend_ref(x, str_of(ep, "name")) < 0 ||
                   (weighted && cp_ye_opt_int(e, "weight", t, "weight") < 0) || cp_ye_map_end(e) < 0
               ? -1
               : 0;
}

static int emit_round_robin(struct crx *x, const json_t *p, int weighted)
{
    static const char *const lists[2] = {"productionModels", "sandboxModels"};
    struct cp_yemit *e = &x->e;

    if (cp_ye_key(e, weighted ? "modelBasedRoundRobin" : "x-modelmux-modelRoundRobin") < 0 ||
        cp_ye_map_start(e) < 0 ||
        cp_ye_opt_int(e, "onQuotaExceedSuspendDuration", p, "suspendDurationSec") < 0)
        return -1;
    for (int env = 0; env < 2; env++) {
        const json_t *arr = json_object_get(p, env_names[env]), *t;
        size_t i;
        if (!json_is_array(arr))
            continue;
        if (cp_ye_key(e, lists[env]) < 0 || cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0)
            return -1;
        json_array_foreach (arr, i, t) {
            if (emit_target(x, t, weighted) < 0)
                return -1;
        }
        if (cp_ye_seq_end(e) < 0)
            return -1;
    }
    if (!weighted)
        return emit_routing(x, p) < 0 ? -1 : cp_ye_map_end(e);
    /* APK's modelBasedRoundRobin keeps its shape; the rest goes beside it. */
    if (cp_ye_map_end(e) < 0)
        return -1;
    if (!has_routing(p))
        return 0;
    return cp_ye_key(e, "x-modelmux-routing") < 0 || cp_ye_map_start(e) < 0 ||
                   emit_routing(x, p) < 0 || cp_ye_map_end(e) < 0
               ? -1
               : 0;
}

static int emit_failover(struct crx *x, const json_t *p)
{
    struct cp_yemit *e = &x->e;

    if (cp_ye_map_start(e) < 0 || cp_ye_opt_int(e, "requestTimeoutMs", p, "requestTimeoutMs") < 0 ||
        cp_ye_opt_int(e, "onQuotaExceedSuspendDuration", p, "suspendDurationSec") < 0 ||
        emit_routing(x, p) < 0)
        return -1;
    for (int env = 0; env < 2; env++) {
        const json_t *o = json_object_get(p, env_names[env]), *t;
        size_t i;
        if (!json_is_object(o))
            continue;
        if (cp_ye_key(e, env_names[env]) < 0 || cp_ye_map_start(e) < 0 ||
            cp_ye_key(e, "target") < 0 || emit_target(x, json_object_get(o, "target"), 0) < 0 ||
            cp_ye_key(e, "fallbacks") < 0 || cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0)
            return -1;
        json_array_foreach (json_object_get(o, "fallbacks"), i, t) {
            if (emit_target(x, t, 0) < 0)
                return -1;
        }
        if (cp_ye_seq_end(e) < 0 || cp_ye_map_end(e) < 0)
            return -1;
    }
    return cp_ye_map_end(e);
}

static int emit_apipolicy(struct crx *x)
{
    struct cp_yemit *e = &x->e;
    char name[80];
    const json_t *p;
    size_t i;
    int failovers = 0;

    snprintf(name, sizeof(name), "%.50s-api-policy", x->api_name);
    if (metadata(x, "dp.wso2.com/v1alpha4", "APIPolicy", name) < 0 || cp_ye_key(e, "spec") < 0 ||
        cp_ye_map_start(e) < 0 || cp_ye_key(e, "override") < 0 || cp_ye_map_start(e) < 0 ||
        cp_ye_key(e, "aiProvider") < 0 || cp_ye_map_start(e) < 0 ||
        cp_ye_kv_str(e, "name", x->provider_name) < 0 || cp_ye_map_end(e) < 0 ||
        cp_ye_opt_bool(e, "subscriptionValidation", x->api, "subscriptionValidation") < 0)
        return -1;
    json_array_foreach (x->policies, i, p) {
        const char *type = str_of(p, "type");
        if (strcmp(type, "modelWeightedRoundRobin") == 0 && emit_round_robin(x, p, 1) < 0)
            return -1;
        if (strcmp(type, "modelRoundRobin") == 0 && emit_round_robin(x, p, 0) < 0)
            return -1;
        failovers += strcmp(type, "modelFailover") == 0;
    }
    if (failovers) {
        if (cp_ye_key(e, "x-modelmux-modelFailover") < 0 ||
            cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0)
            return -1;
        json_array_foreach (x->policies, i, p) {
            if (strcmp(str_of(p, "type"), "modelFailover") == 0 && emit_failover(x, p) < 0)
                return -1;
        }
        if (cp_ye_seq_end(e) < 0)
            return -1;
    }
    return cp_ye_map_end(e) < 0 || target_api(x) < 0 || cp_ye_map_end(e) < 0 ? -1 : doc_end(x);
}

/* {in: Body|Path, value} */
static int value_in(struct crx *x, const char *k, const json_t *loc)
{
    struct cp_yemit *e = &x->e;

    if (!json_is_object(loc))
        return 0;
    return cp_ye_key(e, k) < 0 || cp_ye_map_start(e) < 0 ||
                   cp_ye_kv_str(e, "in", strcmp(str_of(loc, "in"), "path") == 0 ? "Path" : "Body") <
                       0 ||
                   cp_ye_opt_str(e, "value", loc, "field") < 0 || cp_ye_map_end(e) < 0
               ? -1
               : 0;
}

static int emit_provider(struct crx *x)
{
    static const char *const rest[3] = {"promptTokens", "completionTokens", "totalTokens"};
    static const char *const apk[3] = {"promptTokens", "completionToken", "totalToken"};
    struct cp_yemit *e = &x->e;
    const json_t *usage = json_object_get(x->vendor, "usage"), *m;
    size_t i;

    if (metadata(x, "dp.wso2.com/v1alpha4", "AIProvider", x->provider_name) < 0 ||
        cp_ye_key(e, "spec") < 0 || cp_ye_map_start(e) < 0 ||
        cp_ye_opt_str(e, "providerName", x->vendor, "name") < 0 ||
        cp_ye_opt_str(e, "providerAPIVersion", x->vendor, "apiVersion") < 0 ||
        value_in(x, "requestModel", json_object_get(x->vendor, "requestModel")) < 0 ||
        value_in(x, "responseModel", json_object_get(x->vendor, "responseModel")) < 0 ||
        cp_ye_key(e, "rateLimitFields") < 0 || cp_ye_map_start(e) < 0)
        return -1;
    for (int k = 0; k < 3; k++) {
        char path[300];
        snprintf(path, sizeof(path), "$%s", str_of(usage, rest[k]));
        if (cp_ye_key(e, apk[k]) < 0 || cp_ye_map_start(e) < 0 ||
            cp_ye_kv_str(e, "in", "Body") < 0 || cp_ye_kv_str(e, "value", path) < 0 ||
            cp_ye_map_end(e) < 0)
            return -1;
    }
    if (cp_ye_map_end(e) < 0 || cp_ye_key(e, "supportedModels") < 0 ||
        cp_ye_seq_start(e, YAML_BLOCK_SEQUENCE_STYLE) < 0)
        return -1;
    json_array_foreach (json_object_get(x->vendor, "models"), i, m) {
        if (cp_ye_scalar(e, json_string_value(m), YAML_DOUBLE_QUOTED_SCALAR_STYLE) < 0)
            return -1;
    }
    return cp_ye_seq_end(e) < 0 || cp_ye_map_end(e) < 0 ? -1 : doc_end(x);
}

static int emit_ratelimit(struct crx *x, const json_t *p)
{
    struct cp_yemit *e = &x->e;
    const char *unit = cp_im_unit_apk(str_of(p, "unit")), *scope = str_of(p, "scope");
    int tokens = json_object_get(p, "requestTokens") || json_object_get(p, "responseTokens") ||
                 json_object_get(p, "totalTokens");
    char name[80];

    snprintf(name, sizeof(name), "%.50s-ai-ratelimit", x->api_name);
    if (metadata(x, "dp.wso2.com/v1alpha3", "AIRateLimitPolicy", name) < 0 ||
        cp_ye_key(e, "spec") < 0 || cp_ye_map_start(e) < 0 || cp_ye_key(e, "override") < 0 ||
        cp_ye_map_start(e) < 0)
        return -1;
    if (tokens &&
        (cp_ye_key(e, "tokenCount") < 0 || cp_ye_map_start(e) < 0 ||
         cp_ye_kv_str(e, "unit", unit) < 0 ||
         cp_ye_opt_int(e, "requestTokenCount", p, "requestTokens") < 0 ||
         cp_ye_opt_int(e, "responseTokenCount", p, "responseTokens") < 0 ||
         cp_ye_opt_int(e, "totalTokenCount", p, "totalTokens") < 0 || cp_ye_map_end(e) < 0))
        return -1;
    if (json_object_get(p, "requests") &&
        (cp_ye_key(e, "requestCount") < 0 || cp_ye_map_start(e) < 0 ||
         cp_ye_opt_int(e, "requestsPerUnit", p, "requests") < 0 ||
         cp_ye_kv_str(e, "unit", unit) < 0 || cp_ye_map_end(e) < 0))
        return -1;
    if (strcmp(scope, "api") != 0 && (cp_ye_key(e, "x-modelmux") < 0 || cp_ye_map_start(e) < 0 ||
                                      cp_ye_kv_str(e, "scope", scope) < 0 || cp_ye_map_end(e) < 0))
        return -1;
    return cp_ye_map_end(e) < 0 || target_api(x) < 0 || cp_ye_map_end(e) < 0 ? -1 : doc_end(x);
}

static int emit_all(struct crx *x)
{
    const json_t *ep, *p;
    size_t i;
    const char *apk = cp_im_builtin_apk_name(str_of(x->vendor, "name"));
    int builtin = apk && json_is_true(json_object_get(x->vendor, "builtin"));

    if (builtin)
        snprintf(x->provider_name, sizeof(x->provider_name), "%s", apk);
    else
        slug(x->provider_name, sizeof(x->provider_name), str_of(x->vendor, "name"), "-provider");
    if (emit_api(x) < 0)
        return -1;
    for (int env = 0; env < 2; env++)
        if (x->has_env[env] && emit_route(x, env) < 0)
            return -1;
    json_array_foreach (x->endpoints, i, ep) {
        if (emit_backend(x, ep) < 0)
            return -1;
    }
    if (emit_apipolicy(x) < 0 || (!builtin && emit_provider(x) < 0))
        return -1;
    json_array_foreach (x->policies, i, p) {
        if (strcmp(str_of(p, "type"), "aiRateLimit") == 0 && emit_ratelimit(x, p) < 0)
            return -1;
    }
    return 0;
}

int cp_crs_emit(const json_t *api, const json_t *vendor, const json_t *endpoints,
                const json_t *policies, char **out, size_t *out_len, struct gw_err *err)
{
    struct crx x;
    const json_t *ep;
    size_t i;

    memset(&x, 0, sizeof(x));
    x.api = api;
    x.vendor = vendor;
    x.endpoints = endpoints;
    x.policies = policies;
    gw_err_clear(err);
    slug(x.api_name, sizeof(x.api_name) - 8, str_of(api, "name"), "");
    x.has_env[0] = 1; /* the production route carries the operations */
    json_array_foreach (endpoints, i, ep) {
        x.has_env[strcmp(str_of(ep, "environment"), "sandbox") == 0] = 1;
    }
    if (cp_ye_init(&x.e, (size_t)CP_APKCONF_MAX_BODY * 4, err) < 0)
        return -1;
    return cp_ye_finish(&x.e, emit_all(&x) < 0, "custom resources", out, out_len, err);
}
