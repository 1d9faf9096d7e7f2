/* Custom resources: the API, its HTTPRoutes (operations, and the Backends
 * of each environment) and those Backends (endpoints) -> the import
 * description (see crs_doc.h). Pure functions, any thread. */
#include "crs_doc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "import_map.h"

/* ------------------------------------------------------------------------
 * Backends -> endpoints
 * ------------------------------------------------------------------------ */

/* Refuses any {…} placeholder of url but {model}; n is where url came from. */
static int check_placeholders(const char *url, const struct cp_ynode *n, struct gw_err *err)
{
    for (const char *p = strchr(url, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        if (end && end - p == 6 && strncmp(p, "{model}", 7) == 0)
            continue;
        return cp_yt_fail(err, n->line, n->col,
                          "placeholder %.*s cannot be filled in by modelmux (only {model} is: "
                          "write the value itself)",
                          end ? (int)(end - p + 1) : 1, p);
    }
    return 0;
}

/* spec.security.apiKey {in: Header, name, valueFrom {name, valueKey}}. */
static int xl_backend_security(const struct cp_ynode *sec, json_t *ep, struct gw_err *err)
{
    static const char *const keys[] = {"apiKey", NULL};
    static const char *const api_keys[] = {"in", "name", "valueFrom", NULL};
    static const char *const from_keys[] = {"name", "valueKey", NULL};
    const struct cp_ynode *ak, *from;
    const char *in, *header, *secret, *secret_key;

    if (cp_yt_need_map(sec, "security (only apiKey security can be mapped)", err) < 0 ||
        cp_crs_keys(sec, keys, "security", err) < 0 || cp_crs_map(sec, "apiKey", 1, &ak, err) < 0 ||
        cp_crs_keys(ak, api_keys, "security.apiKey", err) < 0 ||
        cp_yt_str(ak, "in", 0, &in, err) < 0 || cp_yt_str(ak, "name", 1, &header, err) < 0 ||
        cp_crs_map(ak, "valueFrom", 1, &from, err) < 0 ||
        cp_crs_keys(from, from_keys, "valueFrom", err) < 0 ||
        cp_yt_str(from, "name", 1, &secret, err) < 0 ||
        cp_yt_str(from, "valueKey", 0, &secret_key, err) < 0)
        return -1;
    if (in && strcmp(in, "Header") != 0) {
        const struct cp_ynode *v = cp_yt_get(ak, "in");
        return cp_yt_fail(err, v->line, v->col, "in must be Header (not \"%.32s\")", in);
    }
    /* SPEC 7.1: APK sends "Bearer " only in front of an Authorization header. */
    return cp_im_security(ep, secret, secret_key, header,
                          strcasecmp(header, "Authorization") == 0 ? "Bearer " : "", err);
}

/* spec.x-modelmux {timeoutMs, headerPrefix, tls}: what APK has no field for. */
static int xl_backend_ext(const struct cp_ynode *ext, json_t *ep, struct gw_err *err)
{
    static const char *const keys[] = {"timeoutMs", "headerPrefix", "tls", NULL};
    const char *prefix;
    json_t *sec = json_object_get(ep, "security");

    if (cp_yt_need_map(ext, "x-modelmux", err) < 0 ||
        cp_crs_keys(ext, keys, "x-modelmux", err) < 0 ||
        cp_im_copy_int(ext, "timeoutMs", 1, CP_IM_MAX_TIMEOUT_MS, ep, "timeoutMs", err) < 0 ||
        cp_yt_str(ext, "headerPrefix", 0, &prefix, err) < 0 ||
        (cp_yt_get(ext, "tls") && cp_im_tls(cp_yt_get(ext, "tls"), "x-modelmux.tls", ep, err) < 0))
        return -1;
    if (!prefix)
        return 0;
    if (!sec) {
        const struct cp_ynode *v = cp_yt_get(ext, "headerPrefix");
        return cp_yt_fail(err, v->line, v->col, "headerPrefix needs spec.security");
    }
    return cp_im_put_str(sec, "prefix", prefix, err);
}

/* spec.tls: APK's CA for the backend, given inline (certificateInline ->
 * the endpoint's tls.caCert). A CA in a Secret or ConfigMap, and
 * allowedSANs, are refused (400) rather than ignored: ignoring them would
 * verify against the wrong roots or names. */
static int xl_backend_tls(const struct cp_ynode *t, json_t *ep, struct gw_err *err)
{
    static const char *const keys[] = {"certificateInline", NULL};
    static const char *const unsupported[] = {"secretRef", "configMapRef", "allowedSANs", NULL};
    const char *ca;
    json_t *tls;

    if (cp_yt_need_map(t, "tls", err) < 0 || cp_yt_check_keys(t, keys, unsupported, "tls", err) < 0 ||
        cp_yt_str(t, "certificateInline", 1, &ca, err) < 0)
        return -1;
    if (!(tls = json_object()) || cp_im_put(ep, "tls", tls, err) < 0)
        return cp_yt_nomem(err);
    return cp_im_put_str(tls, "caCert", ca, err);
}

/* The URL of a Backend: protocol://services[0].host:port + basePath. */
static int backend_url(const struct cp_ynode *spec, char *url, size_t size, struct gw_err *err)
{
    static const char *const svc_keys[] = {"host", "port", NULL};
    const struct cp_ynode *services, *svc, *bp = cp_yt_get(spec, "basePath");
    const char *host, *proto, *base;
    long long port = 0;
    int present = 0;
    size_t blen;
    char portbuf[16];

    if (cp_crs_seq(spec, "services", &services, err) < 0 ||
        cp_yt_str(spec, "protocol", 0, &proto, err) < 0 ||
        cp_yt_str(spec, "basePath", 0, &base, err) < 0)
        return -1;
    if (!services || services->n != 1)
        return cp_yt_fail(err, services ? services->line : spec->line,
                          services ? services->col : spec->col,
                          "services must hold exactly one {host, port} (an endpoint has one URL)");
    svc = services->items[0];
    if (cp_yt_need_map(svc, "a service", err) < 0 ||
        cp_crs_keys(svc, svc_keys, "a service", err) < 0 ||
        cp_yt_str(svc, "host", 1, &host, err) < 0 ||
        cp_yt_int(svc, "port", 1, 65535, &port, &present, err) < 0)
        return -1;
    if (!present)
        return cp_yt_fail(err, svc->line, svc->col, "port is required");
    if (!proto)
        proto = "http"; /* APK's default */
    if (strcmp(proto, "http") != 0 && strcmp(proto, "https") != 0) {
        const struct cp_ynode *v = cp_yt_get(spec, "protocol");
        return cp_yt_fail(err, v->line, v->col, "protocol must be http or https (not \"%.16s\")",
                          proto);
    }
    base = base ? base : "";
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--; /* the gateway appends the operation's "/target" */
    /* The protocol's own port is left out: the same URL, and the form the
     * export reads back unchanged. */
    if (port == (strcmp(proto, "https") == 0 ? 443 : 80))
        snprintf(portbuf, sizeof(portbuf), "%s", "");
    else
        snprintf(portbuf, sizeof(portbuf), ":%lld", port);
    if (blen >= size ||
        snprintf(url, size, "%s://%s%s%.*s", proto, host, portbuf, (int)blen, base) >= (int)size)
        return cp_yt_fail(err, spec->line, spec->col, "the Backend's URL is too long");
    if (check_placeholders(host, cp_yt_get(svc, "host"), err) < 0)
        return -1;
    return bp ? check_placeholders(base, bp, err) : 0;
}

/* The endpoint of Backend d in environment env (created on first use). */
static int use_backend(struct crs *c, struct doc *d, int env)
{
    static const char *const keys[] = {"services", "basePath", "protocol", "security",
                                       "tls",      "x-modelmux", NULL};
    char url[2048], name[300];
    const struct cp_ynode *v;
    json_t *item, *ep;

    if (d->ref[env])
        return 0;
    if (cp_crs_keys(d->spec, keys, "spec", c->err) < 0 ||
        backend_url(d->spec, url, sizeof(url), c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    /* SPEC 7.1: a Backend serving both environments gives two endpoints,
     * the sandbox one named <name>-sandbox (production routes come first). */
    snprintf(name, sizeof(name), "%s%s", d->name, env == 1 && d->ref[0] ? "-sandbox" : "");
    if (cp_im_add_item(c->desc, "endpoints", d->root, d->label, &item, &ep, c->err) < 0 ||
        cp_im_put_str(item, "ref", name, c->err) < 0 ||
        cp_im_put_str(ep, "name", name, c->err) < 0 ||
        cp_im_put_str(ep, "environment", cp_im_env_names[env], c->err) < 0 ||
        cp_im_put_str(ep, "url", url, c->err) < 0)
        return -1;
    v = cp_yt_get(d->spec, "security");
    if (v && xl_backend_security(v, ep, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    v = cp_yt_get(d->spec, "tls");
    if (v && xl_backend_tls(v, ep, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    v = cp_yt_get(d->spec, "x-modelmux");
    if (v && xl_backend_ext(v, ep, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    d->ref[env] = json_string_value(json_object_get(item, "ref"));
    return 0;
}

/* ------------------------------------------------------------------------
 * HTTPRoutes -> operations and endpoints
 * ------------------------------------------------------------------------ */

/* A URLRewrite filter must leave the path as it is: modelmux sends
 * url + target. */
static int xl_filter(const struct cp_ynode *f, const char *path, struct gw_err *err)
{
    static const char *const keys[] = {"type", "urlRewrite", NULL};
    static const char *const rw_keys[] = {"path", NULL};
    static const char *const path_keys[] = {"type", "replaceFullPath", "replacePrefixMatch", NULL};
    const struct cp_ynode *rw, *p, *to_node;
    const char *type, *ptype, *to = NULL;

    if (cp_yt_need_map(f, "a filter", err) < 0 || cp_crs_keys(f, keys, "a filter", err) < 0 ||
        cp_yt_str(f, "type", 1, &type, err) < 0)
        return -1;
    if (strcmp(type, "URLRewrite") != 0) {
        const struct cp_ynode *v = cp_yt_get(f, "type");
        return cp_yt_fail(err, v->line, v->col, "filter %.64s cannot be mapped to modelmux", type);
    }
    if (cp_crs_map(f, "urlRewrite", 1, &rw, err) < 0 ||
        cp_crs_keys(rw, rw_keys, "urlRewrite (a hostname rewrite cannot be mapped)", err) < 0 ||
        cp_crs_map(rw, "path", 1, &p, err) < 0 ||
        cp_crs_keys(p, path_keys, "urlRewrite.path", err) < 0 ||
        cp_yt_str(p, "type", 1, &ptype, err) < 0)
        return -1;
    if (strcmp(ptype, "ReplaceFullPath") == 0 || strcmp(ptype, "ReplacePrefixMatch") == 0) {
        const char *key = ptype[7] == 'F' ? "replaceFullPath" : "replacePrefixMatch";
        if (cp_yt_str(p, key, 1, &to, err) < 0)
            return -1;
        to_node = cp_yt_get(p, key);
    } else {
        to_node = cp_yt_get(p, "type");
        return cp_yt_fail(err, to_node->line, to_node->col, "unknown urlRewrite.path.type %.32s",
                          ptype);
    }
    if (strcmp(to, path) != 0)
        return cp_yt_fail(err, to_node->line, to_node->col,
                          "URLRewrite must rewrite to the same path (%.200s, not %.200s): modelmux "
                          "sends the operation's path to the endpoint as it is",
                          path, to);
    return 0;
}

/* Adds the operation (target, verb) unless the API has it already;
 * secured: 0 or 1 from the rule's x-modelmux, -1 when not given; ext: the
 * rule's x-modelmux (its scopes), or NULL. */
static int add_operation(struct crs *c, const char *target, const char *verb, int secured,
                         const struct cp_ynode *ext)
{
    json_t *api = json_object_get(c->desc, "api"), *ops = json_object_get(api, "operations"), *op;
    size_t i;

    if (!ops) {
        ops = json_array();
        if (cp_im_put(api, "operations", ops, c->err) < 0)
            return -1;
    }
    json_array_foreach (ops, i, op) {
        if (strcmp(json_string_value(json_object_get(op, "target")), target) == 0 &&
            strcmp(json_string_value(json_object_get(op, "verb")), verb) == 0)
            return 0;
    }
    op = json_pack("{s:s, s:s}", "target", target, "verb", verb);
    if (!op || json_array_append_new(ops, op) != 0)
        return cp_yt_nomem(c->err);
    if (secured >= 0 && cp_im_put(op, "secured", json_boolean(secured), c->err) < 0)
        return -1;
    return ext ? cp_im_copy_strs(ext, "scopes", op, "scopes", c->err) : 0;
}

/* A rule's x-modelmux {secured, scopes}: what an HTTPRoute cannot say.
 * *secured -1 when not given; *ext the extension or NULL. */
static int xl_rule_ext(struct crs *c, const struct cp_ynode *rule, int *secured,
                       const struct cp_ynode **ext_out)
{
    static const char *const keys[] = {"secured", "scopes", NULL};
    const struct cp_ynode *ext;
    int present = 0;

    *secured = -1;
    if (cp_crs_map(rule, "x-modelmux", 0, &ext, c->err) < 0 ||
        (ext && (cp_crs_keys(ext, keys, "x-modelmux", c->err) < 0 ||
                 cp_yt_bool(ext, "secured", secured, &present, c->err) < 0)))
        return -1;
    if (!present)
        *secured = -1;
    *ext_out = ext;
    return 0;
}

/* One rule's matches: each {path {type, value}, method} is an operation;
 * its filters must keep the path. */
static int xl_matches(struct crs *c, const struct cp_ynode *rule)
{
    static const char *const match_keys[] = {"path", "method", NULL};
    static const char *const path_keys[] = {"type", "value", NULL};
    const struct cp_ynode *matches, *filters, *m, *p, *ext;
    const char *value, *method;
    int secured;

    if (cp_crs_seq(rule, "matches", &matches, c->err) < 0 ||
        cp_crs_seq(rule, "filters", &filters, c->err) < 0 ||
        xl_rule_ext(c, rule, &secured, &ext) < 0)
        return -1;
    if (!matches || matches->n == 0)
        return cp_yt_fail(c->err, rule->line, rule->col,
                          "a rule needs matches (a path and a method)");
    for (size_t i = 0; i < matches->n; i++) {
        m = matches->items[i];
        if (cp_yt_need_map(m, "a match", c->err) < 0 ||
            cp_crs_keys(m, match_keys, "a match", c->err) < 0 ||
            cp_crs_map(m, "path", 1, &p, c->err) < 0 ||
            cp_crs_keys(p, path_keys, "path", c->err) < 0 ||
            cp_yt_str(p, "value", 1, &value, c->err) < 0 ||
            cp_yt_str(m, "method", 0, &method, c->err) < 0)
            return -1;
        if (!method)
            return cp_yt_fail(c->err, m->line, m->col,
                              "method is required (a modelmux operation has one verb)");
        for (size_t f = 0; filters && f < filters->n; f++)
            if (xl_filter(filters->items[f], value, c->err) < 0)
                return -1;
        if (add_operation(c, value, method, secured, ext) < 0)
            return -1;
    }
    return 0;
}

static int xl_backend_refs(struct crs *c, const struct doc *route, const struct cp_ynode *rule,
                           int env)
{
    static const char *const keys[] = {"group", "kind", "name", "namespace", NULL};
    const struct cp_ynode *refs, *r;
    const char *kind, *name;
    struct doc *b;

    if (cp_crs_seq(rule, "backendRefs", &refs, c->err) < 0)
        return -1;
    for (size_t i = 0; refs && i < refs->n; i++) {
        r = refs->items[i];
        if (cp_yt_need_map(r, "a backendRef", c->err) < 0 ||
            cp_crs_keys(r, keys, "a backendRef", c->err) < 0 ||
            cp_yt_str(r, "kind", 0, &kind, c->err) < 0 ||
            cp_yt_str(r, "name", 1, &name, c->err) < 0)
            return -1;
        if (!kind || strcmp(kind, "Backend") != 0)
            return cp_yt_fail(c->err, r->line, r->col,
                              "backendRef %.120s must have kind: Backend (a Service cannot be "
                              "mapped)",
                              name);
        b = cp_crs_find(c, K_BACKEND, name);
        if (!b) {
            const struct cp_ynode *v = cp_yt_get(r, "name");
            return cp_yt_fail(c->err, v->line, v->col, "Backend \"%.120s\" is not in the body",
                              name);
        }
        (void)route;
        if (use_backend(c, b, env) < 0)
            return -2; /* the error names the Backend already */
    }
    return 0;
}

static int xl_route(struct crs *c, struct doc *d, int env)
{
    static const char *const keys[] = {"hostnames", "parentRefs", "rules", NULL};
    static const char *const rule_keys[] = {"matches", "filters", "backendRefs", "x-modelmux",
                                            NULL};
    const struct cp_ynode *rules;

    if (cp_crs_keys(d->spec, keys, "spec", c->err) < 0 ||
        cp_crs_seq(d->spec, "rules", &rules, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    for (size_t i = 0; rules && i < rules->n; i++) {
        const struct cp_ynode *rule = rules->items[i];
        int rc;
        if (cp_yt_need_map(rule, "a rule", c->err) < 0 ||
            cp_crs_keys(rule, rule_keys, "a rule", c->err) < 0 || xl_matches(c, rule) < 0)
            return cp_crs_in_doc(c->err, d);
        rc = xl_backend_refs(c, d, rule, env);
        if (rc == -1)
            return cp_crs_in_doc(c->err, d);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* spec.production[] / spec.sandbox[] {routeRefs: [names]} of the API. */
int cp_crs_routes(struct crs *c, int env)
{
    static const char *const keys[] = {"routeRefs", NULL};
    const struct cp_ynode *list, *refs, *name;
    struct doc *route;

    if (cp_crs_seq(c->api->spec, cp_im_env_names[env], &list, c->err) < 0)
        return cp_crs_in_doc(c->err, c->api);
    for (size_t i = 0; list && i < list->n; i++) {
        if (cp_yt_need_map(list->items[i], "an environment entry", c->err) < 0 ||
            cp_crs_keys(list->items[i], keys, cp_im_env_names[env], c->err) < 0 ||
            cp_crs_seq(list->items[i], "routeRefs", &refs, c->err) < 0)
            return cp_crs_in_doc(c->err, c->api);
        for (size_t r = 0; refs && r < refs->n; r++) {
            name = refs->items[r];
            if (name->kind != CP_YT_SCALAR)
                return cp_yt_fail(c->err, name->line, name->col, "a routeRef must be a name"),
                       cp_crs_in_doc(c->err, c->api);
            route = cp_crs_find(c, K_ROUTE, name->str);
            if (!route) {
                cp_yt_fail(c->err, name->line, name->col, "HTTPRoute \"%.120s\" is not in the body",
                           name->str);
                return cp_crs_in_doc(c->err, c->api);
            }
            if (xl_route(c, route, env) < 0)
                return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The API
 * ------------------------------------------------------------------------ */

int cp_crs_api(struct crs *c)
{
    static const char *const keys[] = {
        "apiName",       "apiType",        "apiVersion",        "basePath",   "isDefaultVersion",
        "organization",  "definitionPath", "definitionFileRef", "production", "sandbox",
        "apiProperties", "environment",    "systemAPI",         NULL};
    const struct cp_ynode *spec = c->api->spec;
    json_t *api = json_object_get(c->desc, "api");
    const char *name, *type, *version, *base;
    char basepath[1024];
    size_t blen, vlen;
    json_t *at;

    if (cp_crs_keys(spec, keys, "spec", c->err) < 0 ||
        cp_yt_str(spec, "apiName", 1, &name, c->err) < 0 ||
        cp_yt_str(spec, "apiType", 0, &type, c->err) < 0 ||
        cp_yt_str(spec, "apiVersion", 1, &version, c->err) < 0 ||
        cp_yt_str(spec, "basePath", 1, &base, c->err) < 0)
        return cp_crs_in_doc(c->err, c->api);
    if (type && strcmp(type, "REST") != 0) {
        const struct cp_ynode *v = cp_yt_get(spec, "apiType");
        cp_yt_fail(c->err, v->line, v->col, "apiType must be REST (not \"%.32s\")", type);
        return cp_crs_in_doc(c->err, c->api);
    }
    /* APK's basePath ends with "/<apiVersion>"; modelmux adds the version. */
    blen = strlen(base);
    vlen = strlen(version);
    if (blen > vlen + 1 && base[blen - vlen - 1] == '/' && strcmp(base + blen - vlen, version) == 0)
        blen -= vlen + 1;
    snprintf(basepath, sizeof(basepath), "%.*s", (int)blen, base);
    if (cp_im_put_str(api, "name", name, c->err) < 0 ||
        cp_im_put_str(api, "basePath", basepath, c->err) < 0 ||
        cp_im_put_str(api, "version", version, c->err) < 0 ||
        cp_im_copy_bool(spec, "isDefaultVersion", api, "defaultVersion", c->err) < 0 ||
        cp_im_put(c->desc, "apiAt", at = json_object(), c->err) < 0 ||
        cp_im_put_pos(at, c->api->root, c->api->label, c->err) < 0)
        return cp_crs_in_doc(c->err, c->api);
    return 0;
}
