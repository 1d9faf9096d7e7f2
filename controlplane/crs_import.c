/* Kubernetes custom resources -> import description (see crs.h): the CR
 * front end of the import (SPEC section 7.1).
 *
 * The documents are indexed by kind and metadata.name first (exactly one
 * API), then walked from the API: its HTTPRoutes per environment give the
 * operations and, through their backendRefs, the Backends that become
 * endpoints; the APIPolicies give the vendor (an AIProvider of the body or
 * one of APK's built-in names) and the routing policies; an
 * AIRateLimitPolicy gives the aiRateLimit policy; Secrets are written as
 * they are. Every error names the document, the line and the problem.
 * Security, rate limits, round-robin targets and secrets are mapped by
 * import_map.c, shared with the apk-conf import.
 *
 * Pure functions, no globals: any thread. */
#include "crs.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "import_map.h"

/* The kinds modelmux maps, in the order of kinds[]. */
enum crs_kind {
    K_API,       /* the API */
    K_ROUTE,     /* HTTPRoute: operations and Backends of one environment */
    K_BACKEND,   /* Backend: an endpoint */
    K_POLICY,    /* APIPolicy: vendor, routing policies */
    K_PROVIDER,  /* AIProvider: a vendor */
    K_RATELIMIT, /* AIRateLimitPolicy: the aiRateLimit policy */
    K_SECRET,    /* Secret */
    K_COUNT
};

/* Coupled with enum crs_kind. */
static const struct {
    const char *kind;
    const char *versions[4];
} kinds[K_COUNT] = {
    {"API", {"dp.wso2.com/v1alpha2", "dp.wso2.com/v1alpha3", NULL}},
    {"HTTPRoute", {"gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1", NULL}},
    {"Backend", {"dp.wso2.com/v1alpha1", "dp.wso2.com/v1alpha2", NULL}},
    {"APIPolicy", {"dp.wso2.com/v1alpha2", "dp.wso2.com/v1alpha3", "dp.wso2.com/v1alpha4"}},
    {"AIProvider", {"dp.wso2.com/v1alpha3", "dp.wso2.com/v1alpha4", NULL}},
    {"AIRateLimitPolicy", {"dp.wso2.com/v1alpha3", NULL}},
    {"Secret", {"v1", NULL}},
};

struct doc {
    const struct cp_ynode *root, *spec;
    enum crs_kind kind;
    const char *name;
    char label[200];    /* `Backend "name"`, the prefix of its errors */
    const char *ref[2]; /* Backend: its endpoint's ref per environment (NULL: unused) */
};

struct crs {
    struct doc *docs;
    size_t n;
    struct doc *api;
    json_t *desc;
    const struct doc *provider_by;      /* the APIPolicy that named the vendor */
    const struct cp_ynode *provider_at; /* its aiProvider.name */
    struct gw_err *err;
};

/* Prefixes an INVALID error with the document's label; returns -1. */
static int in_doc(struct gw_err *err, const struct doc *d)
{
    char msg[sizeof(err->message)];

    if (!err || err->kind != GW_ERR_INVALID || !d)
        return -1;
    snprintf(msg, sizeof(msg), "%.200s, %.300s", d->label, err->message);
    memcpy(err->message, msg, sizeof(msg));
    return -1;
}

static int check_keys(const struct cp_ynode *map, const char *const *allowed, const char *what,
                      struct gw_err *err)
{
    return cp_yt_check_keys(map, allowed, NULL, what, err);
}

/* A mapping at key (required or not): *out NULL when absent. */
static int get_map(const struct cp_ynode *map, const char *key, int required,
                   const struct cp_ynode **out, struct gw_err *err)
{
    *out = cp_yt_get(map, key);
    if (!*out)
        return required ? cp_yt_fail(err, map->line, map->col, "%s is required", key) : 0;
    return cp_yt_need_map(*out, key, err);
}

static int get_seq(const struct cp_ynode *map, const char *key, const struct cp_ynode **out,
                   struct gw_err *err)
{
    *out = cp_yt_get(map, key);
    return *out ? cp_yt_need_seq(*out, key, err) : 0;
}

static struct doc *find_doc(struct crs *c, enum crs_kind kind, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->docs[i].kind == kind && strcmp(c->docs[i].name, name) == 0)
            return &c->docs[i];
    return NULL;
}

/* ------------------------------------------------------------------------
 * Index: kind, apiVersion, metadata.name of every document
 * ------------------------------------------------------------------------ */

static int index_kind(const struct cp_ynode *root, struct doc *d, struct gw_err *err)
{
    static const char *const top_keys[] = {"apiVersion", "kind",   "metadata",
                                           "spec",       "status", NULL};
    static const char *const secret_keys[] = {"apiVersion", "kind",       "metadata",  "type",
                                              "data",       "stringData", "immutable", NULL};
    const char *kind, *version;
    const struct cp_ynode *v = cp_yt_get(root, "kind");
    int k;

    if (cp_yt_str(root, "kind", 1, &kind, err) < 0 ||
        cp_yt_str(root, "apiVersion", 1, &version, err) < 0)
        return -1;
    for (k = 0; k < K_COUNT && strcmp(kinds[k].kind, kind) != 0; k++)
        ;
    if (k == K_COUNT)
        return cp_yt_fail(err, v->line, v->col,
                          "unknown kind \"%.64s\" (modelmux imports API, HTTPRoute, Backend, "
                          "APIPolicy, AIProvider, AIRateLimitPolicy and Secret)",
                          kind);
    d->kind = (enum crs_kind)k;
    for (int i = 0; i < 4 && kinds[k].versions[i]; i++)
        if (strcmp(kinds[k].versions[i], version) == 0)
            return check_keys(root, k == K_SECRET ? secret_keys : top_keys, kind, err);
    v = cp_yt_get(root, "apiVersion");
    return cp_yt_fail(err, v->line, v->col, "apiVersion \"%.64s\" of %s is not supported", version,
                      kind);
}

static int index_doc(struct crs *c, const struct cp_ynode *root, struct doc *d, size_t number)
{
    static const char *const meta_keys[] = {
        "name",       "namespace",         "labels", "annotations", "uid", "resourceVersion",
        "generation", "creationTimestamp", NULL};
    const struct cp_ynode *meta, *kind;
    struct doc *dup;

    d->root = root;
    snprintf(d->label, sizeof(d->label), "document %zu", number);
    if (cp_yt_need_map(root, "a Kubernetes resource", c->err) < 0 ||
        get_map(root, "metadata", 1, &meta, c->err) < 0 ||
        cp_yt_str(meta, "name", 1, &d->name, c->err) < 0)
        return in_doc(c->err, d);
    kind = cp_yt_get(root, "kind");
    snprintf(d->label, sizeof(d->label), "%.64s \"%.120s\"",
             kind && kind->kind == CP_YT_SCALAR ? kind->str : "?", d->name);
    if (index_kind(root, d, c->err) < 0 || check_keys(meta, meta_keys, "metadata", c->err) < 0)
        return in_doc(c->err, d);
    dup = find_doc(c, d->kind, d->name);
    if (dup && dup != d) {
        cp_yt_fail(c->err, root->line, root->col, "a second %s named \"%.120s\" (first at line %d)",
                   kinds[d->kind].kind, d->name, dup->root->line);
        return in_doc(c->err, d);
    }
    if (d->kind != K_SECRET && get_map(root, "spec", 1, &d->spec, c->err) < 0)
        return in_doc(c->err, d);
    if (d->kind != K_API)
        return 0;
    if (c->api) {
        cp_yt_fail(c->err, root->line, root->col,
                   "a second API document (%s at line %d): the body must hold exactly one",
                   c->api->label, c->api->root->line);
        return in_doc(c->err, d);
    }
    c->api = d;
    return 0;
}

static int index_docs(struct crs *c, const struct cp_ynode *docs)
{
    c->docs = gw_calloc(docs->n ? docs->n : 1, sizeof(*c->docs));
    if (!c->docs)
        return cp_yt_nomem(c->err);
    for (size_t i = 0; i < docs->n; i++) {
        if (cp_yt_is_null(docs->items[i]))
            continue; /* an empty document (a stray "---"), as kubectl skips it */
        /* c->n counts indexed documents, so find_doc sees only earlier ones */
        if (index_doc(c, docs->items[i], &c->docs[c->n], i + 1) < 0)
            return -1;
        c->n++;
    }
    if (!c->api)
        return cp_yt_fail(c->err, 1, 1,
                          "no API document: the body must hold exactly one "
                          "(kind: API, apiVersion: dp.wso2.com/v1alpha3)");
    return 0;
}

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
        check_keys(sec, keys, "security", err) < 0 || get_map(sec, "apiKey", 1, &ak, err) < 0 ||
        check_keys(ak, api_keys, "security.apiKey", err) < 0 ||
        cp_yt_str(ak, "in", 0, &in, err) < 0 || cp_yt_str(ak, "name", 1, &header, err) < 0 ||
        get_map(ak, "valueFrom", 1, &from, err) < 0 ||
        check_keys(from, from_keys, "valueFrom", err) < 0 ||
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

/* spec.x-modelmux {timeoutMs, headerPrefix}: what APK has no field for. */
static int xl_backend_ext(const struct cp_ynode *ext, json_t *ep, struct gw_err *err)
{
    static const char *const keys[] = {"timeoutMs", "headerPrefix", NULL};
    const char *prefix;
    json_t *sec = json_object_get(ep, "security");

    if (cp_yt_need_map(ext, "x-modelmux", err) < 0 ||
        check_keys(ext, keys, "x-modelmux", err) < 0 ||
        cp_im_copy_int(ext, "timeoutMs", 1, CP_IM_MAX_TIMEOUT_MS, ep, "timeoutMs", err) < 0 ||
        cp_yt_str(ext, "headerPrefix", 0, &prefix, err) < 0)
        return -1;
    if (!prefix)
        return 0;
    if (!sec) {
        const struct cp_ynode *v = cp_yt_get(ext, "headerPrefix");
        return cp_yt_fail(err, v->line, v->col, "headerPrefix needs spec.security");
    }
    return cp_im_put_str(sec, "prefix", prefix, err);
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

    if (get_seq(spec, "services", &services, err) < 0 ||
        cp_yt_str(spec, "protocol", 0, &proto, err) < 0 ||
        cp_yt_str(spec, "basePath", 0, &base, err) < 0)
        return -1;
    if (!services || services->n != 1)
        return cp_yt_fail(err, services ? services->line : spec->line,
                          services ? services->col : spec->col,
                          "services must hold exactly one {host, port} (an endpoint has one URL)");
    svc = services->items[0];
    if (cp_yt_need_map(svc, "a service", err) < 0 ||
        check_keys(svc, svc_keys, "a service", err) < 0 ||
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
    static const char *const keys[] = {"services", "basePath",   "protocol",
                                       "security", "x-modelmux", NULL};
    char url[2048], name[300];
    const struct cp_ynode *v;
    json_t *item, *ep;

    if (d->ref[env])
        return 0;
    if (check_keys(d->spec, keys, "spec", c->err) < 0 ||
        backend_url(d->spec, url, sizeof(url), c->err) < 0)
        return in_doc(c->err, d);
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
        return in_doc(c->err, d);
    v = cp_yt_get(d->spec, "x-modelmux");
    if (v && xl_backend_ext(v, ep, c->err) < 0)
        return in_doc(c->err, d);
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

    if (cp_yt_need_map(f, "a filter", err) < 0 || check_keys(f, keys, "a filter", err) < 0 ||
        cp_yt_str(f, "type", 1, &type, err) < 0)
        return -1;
    if (strcmp(type, "URLRewrite") != 0) {
        const struct cp_ynode *v = cp_yt_get(f, "type");
        return cp_yt_fail(err, v->line, v->col, "filter %.64s cannot be mapped to modelmux", type);
    }
    if (get_map(f, "urlRewrite", 1, &rw, err) < 0 ||
        check_keys(rw, rw_keys, "urlRewrite (a hostname rewrite cannot be mapped)", err) < 0 ||
        get_map(rw, "path", 1, &p, err) < 0 ||
        check_keys(p, path_keys, "urlRewrite.path", err) < 0 ||
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
 * secured: 0 or 1 from the rule's x-modelmux, -1 when not given. */
static int add_operation(struct crs *c, const char *target, const char *verb, int secured)
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
    return secured < 0 ? 0 : cp_im_put(op, "secured", json_boolean(secured), c->err);
}

/* A rule's x-modelmux {secured}: what an HTTPRoute cannot say. *secured -1
 * when not given. */
static int xl_rule_ext(struct crs *c, const struct cp_ynode *rule, int *secured)
{
    static const char *const keys[] = {"secured", NULL};
    const struct cp_ynode *ext;
    int present = 0;

    *secured = -1;
    if (get_map(rule, "x-modelmux", 0, &ext, c->err) < 0 ||
        (ext && (check_keys(ext, keys, "x-modelmux", c->err) < 0 ||
                 cp_yt_bool(ext, "secured", secured, &present, c->err) < 0)))
        return -1;
    if (!present)
        *secured = -1;
    return 0;
}

/* One rule's matches: each {path {type, value}, method} is an operation;
 * its filters must keep the path. */
static int xl_matches(struct crs *c, const struct cp_ynode *rule)
{
    static const char *const match_keys[] = {"path", "method", NULL};
    static const char *const path_keys[] = {"type", "value", NULL};
    const struct cp_ynode *matches, *filters, *m, *p;
    const char *value, *method;
    int secured;

    if (get_seq(rule, "matches", &matches, c->err) < 0 ||
        get_seq(rule, "filters", &filters, c->err) < 0 || xl_rule_ext(c, rule, &secured) < 0)
        return -1;
    if (!matches || matches->n == 0)
        return cp_yt_fail(c->err, rule->line, rule->col,
                          "a rule needs matches (a path and a method)");
    for (size_t i = 0; i < matches->n; i++) {
        m = matches->items[i];
        if (cp_yt_need_map(m, "a match", c->err) < 0 ||
            check_keys(m, match_keys, "a match", c->err) < 0 ||
            get_map(m, "path", 1, &p, c->err) < 0 || check_keys(p, path_keys, "path", c->err) < 0 ||
            cp_yt_str(p, "value", 1, &value, c->err) < 0 ||
            cp_yt_str(m, "method", 0, &method, c->err) < 0)
            return -1;
        if (!method)
            return cp_yt_fail(c->err, m->line, m->col,
                              "method is required (a modelmux operation has one verb)");
        for (size_t f = 0; filters && f < filters->n; f++)
            if (xl_filter(filters->items[f], value, c->err) < 0)
                return -1;
        if (add_operation(c, value, method, secured) < 0)
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

    if (get_seq(rule, "backendRefs", &refs, c->err) < 0)
        return -1;
    for (size_t i = 0; refs && i < refs->n; i++) {
        r = refs->items[i];
        if (cp_yt_need_map(r, "a backendRef", c->err) < 0 ||
            check_keys(r, keys, "a backendRef", c->err) < 0 ||
            cp_yt_str(r, "kind", 0, &kind, c->err) < 0 ||
            cp_yt_str(r, "name", 1, &name, c->err) < 0)
            return -1;
        if (!kind || strcmp(kind, "Backend") != 0)
            return cp_yt_fail(c->err, r->line, r->col,
                              "backendRef %.120s must have kind: Backend (a Service cannot be "
                              "mapped)",
                              name);
        b = find_doc(c, K_BACKEND, name);
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

    if (check_keys(d->spec, keys, "spec", c->err) < 0 ||
        get_seq(d->spec, "rules", &rules, c->err) < 0)
        return in_doc(c->err, d);
    for (size_t i = 0; rules && i < rules->n; i++) {
        const struct cp_ynode *rule = rules->items[i];
        int rc;
        if (cp_yt_need_map(rule, "a rule", c->err) < 0 ||
            check_keys(rule, rule_keys, "a rule", c->err) < 0 || xl_matches(c, rule) < 0)
            return in_doc(c->err, d);
        rc = xl_backend_refs(c, d, rule, env);
        if (rc == -1)
            return in_doc(c->err, d);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* spec.production[] / spec.sandbox[] {routeRefs: [names]} of the API. */
static int xl_routes(struct crs *c, int env)
{
    static const char *const keys[] = {"routeRefs", NULL};
    const struct cp_ynode *list, *refs, *name;
    struct doc *route;

    if (get_seq(c->api->spec, cp_im_env_names[env], &list, c->err) < 0)
        return in_doc(c->err, c->api);
    for (size_t i = 0; list && i < list->n; i++) {
        if (cp_yt_need_map(list->items[i], "an environment entry", c->err) < 0 ||
            check_keys(list->items[i], keys, cp_im_env_names[env], c->err) < 0 ||
            get_seq(list->items[i], "routeRefs", &refs, c->err) < 0)
            return in_doc(c->err, c->api);
        for (size_t r = 0; refs && r < refs->n; r++) {
            name = refs->items[r];
            if (name->kind != CP_YT_SCALAR)
                return cp_yt_fail(c->err, name->line, name->col, "a routeRef must be a name"),
                       in_doc(c->err, c->api);
            route = find_doc(c, K_ROUTE, name->str);
            if (!route) {
                cp_yt_fail(c->err, name->line, name->col, "HTTPRoute \"%.120s\" is not in the body",
                           name->str);
                return in_doc(c->err, c->api);
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

static int xl_api(struct crs *c)
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

    if (check_keys(spec, keys, "spec", c->err) < 0 ||
        cp_yt_str(spec, "apiName", 1, &name, c->err) < 0 ||
        cp_yt_str(spec, "apiType", 0, &type, c->err) < 0 ||
        cp_yt_str(spec, "apiVersion", 1, &version, c->err) < 0 ||
        cp_yt_str(spec, "basePath", 1, &base, c->err) < 0)
        return in_doc(c->err, c->api);
    if (type && strcmp(type, "REST") != 0) {
        const struct cp_ynode *v = cp_yt_get(spec, "apiType");
        cp_yt_fail(c->err, v->line, v->col, "apiType must be REST (not \"%.32s\")", type);
        return in_doc(c->err, c->api);
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
        return in_doc(c->err, c->api);
    return 0;
}

/* ------------------------------------------------------------------------
 * APIPolicy: vendor, routing policies, subscriptionValidation
 * ------------------------------------------------------------------------ */

/* targetRef {group, kind, name} must name the API (or, when backend_ok, one
 * of its Backends): *backend set then. */
static int check_target(struct crs *c, const struct cp_ynode *spec, int backend_ok,
                        struct gw_err *err)
{
    static const char *const keys[] = {"group", "kind", "name", "namespace", NULL};
    const struct cp_ynode *t;
    const char *kind, *name;
    struct doc *b;

    if (get_map(spec, "targetRef", 1, &t, err) < 0 || check_keys(t, keys, "targetRef", err) < 0 ||
        cp_yt_str(t, "kind", 1, &kind, err) < 0 || cp_yt_str(t, "name", 1, &name, err) < 0)
        return -1;
    if (strcmp(kind, "API") == 0 && strcmp(name, c->api->name) == 0)
        return 0;
    if (backend_ok && strcmp(kind, "Backend") == 0) {
        b = find_doc(c, K_BACKEND, name);
        if (b && (b->ref[0] || b->ref[1]))
            return 0;
        return cp_yt_fail(err, t->line, t->col,
                          b ? "Backend \"%.120s\" is not used by the API's routes"
                            : "Backend \"%.120s\" is not in the body",
                          name);
    }
    if (strcmp(kind, "API") == 0)
        return cp_yt_fail(err, t->line, t->col,
                          "API \"%.120s\" is not in the body (the API is "
                          "\"%.120s\")",
                          name, c->api->name);
    return cp_yt_fail(err, t->line, t->col, "targetRef must name the API%s (not a %.32s)",
                      backend_ok ? " or one of its Backends" : "", kind);
}

/* The endpoint ref of backendRef {group, kind, name} in environment env. */
static int backend_ref(struct crs *c, const struct cp_ynode *m, int env, const char **ref)
{
    static const char *const keys[] = {"group", "kind", "name", "namespace", NULL};
    const struct cp_ynode *r;
    const char *name, *kind;
    struct doc *b;

    if (get_map(m, "backendRef", 1, &r, c->err) < 0 ||
        check_keys(r, keys, "backendRef", c->err) < 0 ||
        cp_yt_str(r, "kind", 0, &kind, c->err) < 0 || cp_yt_str(r, "name", 1, &name, c->err) < 0)
        return -1;
    b = find_doc(c, K_BACKEND, name);
    if (!b)
        return cp_yt_fail(c->err, r->line, r->col, "Backend \"%.120s\" is not in the body", name);
    if (!b->ref[env])
        return cp_yt_fail(c->err, r->line, r->col,
                          "Backend \"%.120s\" serves no %s route of the API", name,
                          cp_im_env_names[env]);
    *ref = b->ref[env];
    return 0;
}

/* One {model, backendRef, weight?} of a round-robin or failover policy. */
static int xl_target(struct crs *c, const struct cp_ynode *m, int env, int weighted, json_t **out)
{
    static const char *const keys_w[] = {"model", "backendRef", "weight", NULL};
    static const char *const keys[] = {"model", "backendRef", NULL};
    const char *model, *ref = NULL;
    long long w = 1;
    int present;

    *out = NULL;
    if (cp_yt_need_map(m, "a model entry", c->err) < 0 ||
        check_keys(m, weighted ? keys_w : keys, "a model entry", c->err) < 0 ||
        cp_yt_str(m, "model", 1, &model, c->err) < 0 || backend_ref(c, m, env, &ref) < 0 ||
        (weighted &&
         cp_yt_int(m, "weight", GW_WEIGHT_MIN, GW_WEIGHT_MAX, &w, &present, c->err) < 0))
        return -1;
    return cp_im_target(model, ref, weighted ? w : 0, out, c->err);
}

static int xl_target_list(struct crs *c, const struct cp_ynode *seq, int env, int weighted,
                          json_t *arr)
{
    if (cp_yt_need_seq(seq, cp_im_env_names[env], c->err) < 0)
        return -1;
    for (size_t i = 0; i < seq->n; i++) {
        json_t *t = NULL;
        if (xl_target(c, seq->items[i], env, weighted, &t) < 0) {
            json_decref(t);
            return -1;
        }
        if (json_array_append_new(arr, t) != 0)
            return cp_yt_nomem(c->err);
    }
    return 0;
}

/* The optional fields of the routing policies (SPEC 2.2), which APK has no
 * form for: read from an extension map into the policy body. */
#define ROUTING_KEYS                                                                               \
    "retries", "maxRetryAfterWaitSec", "firstTokenTimeoutMs", "streamIdleTimeoutMs",               \
        "midStreamFailover", "operations"

static int xl_routing(struct crs *c, const struct cp_ynode *map, json_t *body)
{
    const struct cp_ynode *ops = NULL;
    const char *mid;
    json_t *arr;

    if (cp_im_copy_int(map, "retries", 0, GW_RETRIES_MAX, body, "retries", c->err) < 0 ||
        cp_im_copy_int(map, "maxRetryAfterWaitSec", 0, GW_RETRY_AFTER_WAIT_MAX_S, body,
                       "maxRetryAfterWaitSec", c->err) < 0 ||
        cp_im_copy_int(map, "firstTokenTimeoutMs", 0, GW_STREAM_TIMEOUT_MAX_MS, body,
                       "firstTokenTimeoutMs", c->err) < 0 ||
        cp_im_copy_int(map, "streamIdleTimeoutMs", 0, GW_STREAM_TIMEOUT_MAX_MS, body,
                       "streamIdleTimeoutMs", c->err) < 0 ||
        cp_yt_str(map, "midStreamFailover", 0, &mid, c->err) < 0 ||
        (mid && cp_im_put_str(body, "midStreamFailover", mid, c->err) < 0) ||
        get_seq(map, "operations", &ops, c->err) < 0)
        return -1;
    if (!ops)
        return 0;
    if (cp_im_put(body, "operations", arr = json_array(), c->err) < 0)
        return -1;
    for (size_t i = 0; i < ops->n; i++) {
        if (ops->items[i]->kind != CP_YT_SCALAR)
            return cp_yt_fail(c->err, ops->items[i]->line, ops->items[i]->col,
                              "an operation must be a path");
        if (json_array_append_new(arr, json_string(ops->items[i]->str)) != 0)
            return cp_yt_nomem(c->err);
    }
    return 0;
}

/* modelBasedRoundRobin (weighted) / x-modelmux-modelRoundRobin (plain):
 * {onQuotaExceedSuspendDuration, productionModels[], sandboxModels[]}. */
static int xl_round_robin(struct crs *c, const struct doc *d, const struct cp_ynode *rr,
                          int weighted)
{
    static const char *const keys[] = {"onQuotaExceedSuspendDuration", "productionModels",
                                       "sandboxModels", NULL};
    static const char *const ext_keys[] = {"onQuotaExceedSuspendDuration", "productionModels",
                                           "sandboxModels", ROUTING_KEYS, NULL};
    static const char *const lists[] = {"productionModels", "sandboxModels"};
    json_t *item, *body;

    if (cp_yt_need_map(rr, weighted ? "modelBasedRoundRobin" : "x-modelmux-modelRoundRobin",
                       c->err) < 0 ||
        check_keys(rr, weighted ? keys : ext_keys,
                   weighted ? "modelBasedRoundRobin" : "x-modelmux-modelRoundRobin", c->err) < 0 ||

        cp_im_add_item(c->desc, "policies", rr, d->label, &item, &body, c->err) < 0 ||
        cp_im_put_str(item, "policyName", weighted ? "modelBasedRoundRobin" : "modelRoundRobin",
                      c->err) < 0 ||
        cp_im_put_str(body, "type", weighted ? "modelWeightedRoundRobin" : "modelRoundRobin",
                      c->err) < 0 ||
        cp_im_copy_int(rr, "onQuotaExceedSuspendDuration", 0, CP_IM_MAX_SUSPEND_SEC, body,
                       "suspendDurationSec", c->err) < 0)
        return -1;
    for (int e = 0; e < 2; e++) {
        const struct cp_ynode *list = cp_yt_get(rr, lists[e]);
        json_t *arr = json_array();
        if (!list) {
            json_decref(arr);
            continue;
        }
        if (cp_im_put(body, cp_im_env_names[e], arr, c->err) < 0 ||
            xl_target_list(c, list, e, weighted, arr) < 0)
            return -1;
    }
    return weighted ? 0 : xl_routing(c, rr, body);
}

/* x-modelmux-modelFailover: a list of {requestTimeoutMs,
 * onQuotaExceedSuspendDuration, production {target, fallbacks[]}, sandbox}
 * whose targets are {model, backendRef}. */
static int xl_failover(struct crs *c, const struct doc *d, const struct cp_ynode *fo)
{
    static const char *const keys[] = {"requestTimeoutMs", "onQuotaExceedSuspendDuration",
                                       "production",       "sandbox",
                                       ROUTING_KEYS,       NULL};
    static const char *const env_keys[] = {"target", "fallbacks", NULL};
    const struct cp_ynode *env, *target, *fb;
    json_t *item, *body, *o, *t, *arr;

    if (cp_yt_need_map(fo, "a failover policy", c->err) < 0 ||
        check_keys(fo, keys, "x-modelmux-modelFailover", c->err) < 0 ||
        cp_im_add_item(c->desc, "policies", fo, d->label, &item, &body, c->err) < 0 ||
        cp_im_put_str(item, "policyName", "modelFailover", c->err) < 0 ||
        cp_im_put_str(body, "type", "modelFailover", c->err) < 0 ||
        cp_im_copy_int(fo, "requestTimeoutMs", 1, CP_IM_MAX_TIMEOUT_MS, body, "requestTimeoutMs",
                       c->err) < 0 ||
        cp_im_copy_int(fo, "onQuotaExceedSuspendDuration", 0, CP_IM_MAX_SUSPEND_SEC, body,
                       "suspendDurationSec", c->err) < 0 ||
        xl_routing(c, fo, body) < 0)
        return -1;
    for (int e = 0; e < 2; e++) {
        if (get_map(fo, cp_im_env_names[e], 0, &env, c->err) < 0)
            return -1;
        if (!env)
            continue;
        if (cp_im_put(body, cp_im_env_names[e], o = json_object(), c->err) < 0 ||
            cp_im_put(o, "fallbacks", arr = json_array(), c->err) < 0 ||
            check_keys(env, env_keys, cp_im_env_names[e], c->err) < 0 ||
            get_map(env, "target", 1, &target, c->err) < 0)
            return -1;
        if (xl_target(c, target, e, 0, &t) < 0) {
            json_decref(t);
            return -1;
        }
        fb = cp_yt_get(env, "fallbacks");
        if (cp_im_put(o, "target", t, c->err) < 0 || (fb && xl_target_list(c, fb, e, 0, arr) < 0))
            return -1;
    }
    return 0;
}

/* aiProvider {name}: the one vendor of the API. */
static int xl_provider_ref(struct crs *c, const struct doc *d, const struct cp_ynode *p)
{
    static const char *const keys[] = {"name", NULL};
    const char *name;

    if (cp_yt_need_map(p, "aiProvider", c->err) < 0 ||
        check_keys(p, keys, "aiProvider", c->err) < 0 || cp_yt_str(p, "name", 1, &name, c->err) < 0)
        return -1;
    if (c->provider_at && strcmp(c->provider_at->str, name) != 0)
        return cp_yt_fail(c->err, p->line, p->col,
                          "a second aiProvider \"%.120s\" (%s names \"%.120s\" at line %d): an "
                          "API has one vendor",
                          name, c->provider_by->label, c->provider_at->str, c->provider_at->line);
    c->provider_by = d;
    c->provider_at = cp_yt_get(p, "name");
    return 0;
}

/* The value of a policy field: spec.override's, else spec.default's. */
static const struct cp_ynode *field(const struct cp_ynode *ov, const struct cp_ynode *def,
                                    const char *key)
{
    const struct cp_ynode *v = ov ? cp_yt_get(ov, key) : NULL;
    return v ? v : def ? cp_yt_get(def, key) : NULL;
}

static int xl_apipolicy_fields(struct crs *c, const struct doc *d, const struct cp_ynode *ov,
                               const struct cp_ynode *def)
{
    const struct cp_ynode *v, *r;
    json_t *api = json_object_get(c->desc, "api");

    if ((v = field(ov, def, "aiProvider")) && xl_provider_ref(c, d, v) < 0)
        return -1;
    if ((v = field(ov, def, "modelBasedRoundRobin")) && xl_round_robin(c, d, v, 1) < 0)
        return -1;
    if ((r = field(ov, def, "x-modelmux-routing"))) {
        static const char *const keys[] = {ROUTING_KEYS, NULL};
        json_t *pols = json_object_get(c->desc, "policies");
        json_t *last = json_array_get(pols, json_array_size(pols) - 1);
        if (!v)
            return cp_yt_fail(c->err, r->line, r->col,
                              "x-modelmux-routing needs a modelBasedRoundRobin beside it");
        if (cp_yt_need_map(r, "x-modelmux-routing", c->err) < 0 ||
            check_keys(r, keys, "x-modelmux-routing", c->err) < 0 ||
            xl_routing(c, r, json_object_get(last, "body")) < 0)
            return -1;
    }
    if ((v = field(ov, def, "x-modelmux-modelRoundRobin")) && xl_round_robin(c, d, v, 0) < 0)
        return -1;
    if ((v = field(ov, def, "x-modelmux-modelFailover"))) {
        if (cp_yt_need_seq(v, "x-modelmux-modelFailover", c->err) < 0)
            return -1;
        for (size_t i = 0; i < v->n; i++)
            if (xl_failover(c, d, v->items[i]) < 0)
                return -1;
    }
    if ((v = field(ov, def, "subscriptionValidation"))) {
        const struct cp_ynode *holder = ov && cp_yt_get(ov, "subscriptionValidation") ? ov : def;
        if (cp_im_copy_bool(holder, "subscriptionValidation", api, "subscriptionValidation",
                            c->err) < 0)
            return -1;
    }
    return 0;
}

static int xl_apipolicy(struct crs *c, const struct doc *d)
{
    static const char *const keys[] = {"default", "override", "targetRef", NULL};
    static const char *const part_keys[] = {"aiProvider",
                                            "modelBasedRoundRobin",
                                            "subscriptionValidation",
                                            "x-modelmux-modelRoundRobin",
                                            "x-modelmux-modelFailover",
                                            "x-modelmux-routing",
                                            NULL};
    const struct cp_ynode *ov, *def;

    if (check_keys(d->spec, keys, "spec", c->err) < 0 || check_target(c, d->spec, 0, c->err) < 0 ||
        get_map(d->spec, "override", 0, &ov, c->err) < 0 ||
        get_map(d->spec, "default", 0, &def, c->err) < 0 ||
        (ov && check_keys(ov, part_keys, "spec.override", c->err) < 0) ||
        (def && check_keys(def, part_keys, "spec.default", c->err) < 0) ||
        xl_apipolicy_fields(c, d, ov, def) < 0)
        return in_doc(c->err, d);
    return 0;
}

/* ------------------------------------------------------------------------
 * AIProvider -> vendor
 * ------------------------------------------------------------------------ */

/* {in: Body|Path, value} -> {"in": "body"|"path", "field": value}. */
static int xl_value_in(const struct cp_ynode *v, const char *what, json_t **out, struct gw_err *err)
{
    static const char *const keys[] = {"in", "value", NULL};
    const char *in, *value;

    *out = NULL;
    if (cp_yt_need_map(v, what, err) < 0 || check_keys(v, keys, what, err) < 0 ||
        cp_yt_str(v, "in", 1, &in, err) < 0 || cp_yt_str(v, "value", 1, &value, err) < 0)
        return -1;
    if (strcasecmp(in, "Body") != 0 && strcasecmp(in, "Path") != 0) {
        const struct cp_ynode *n = cp_yt_get(v, "in");
        return cp_yt_fail(err, n->line, n->col, "%s.in must be Body or Path", what);
    }
    *out = json_pack("{s:s, s:s}", "in", strcasecmp(in, "Body") == 0 ? "body" : "path", "field",
                     value);
    return *out ? 0 : cp_yt_nomem(err);
}

/* rateLimitFields {promptTokens, completionToken, totalToken} of
 * {in: Body, value: "$usage.x"} -> usage {promptTokens, ...: "usage.x"}. */
static int xl_usage(const struct cp_ynode *rl, json_t *vendor, struct gw_err *err)
{
    static const char *const keys[] = {"promptTokens", "completionToken", "totalToken", NULL};
    static const char *const rest[] = {"promptTokens", "completionTokens", "totalTokens"};
    json_t *usage = json_object();

    if (cp_im_put(vendor, "usage", usage, err) < 0 ||
        check_keys(rl, keys, "rateLimitFields", err) < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        const struct cp_ynode *f;
        json_t *loc = NULL;
        const char *path;
        if (get_map(rl, keys[i], 0, &f, err) < 0 || (f && xl_value_in(f, keys[i], &loc, err) < 0))
            return -1;
        if (!f)
            continue;
        path = json_string_value(json_object_get(loc, "field"));
        if (strcmp(json_string_value(json_object_get(loc, "in")), "body") != 0) {
            json_decref(loc);
            return cp_yt_fail(err, f->line, f->col, "%s.in must be Body", keys[i]);
        }
        /* APK writes a JSON path: "$usage.prompt_tokens" or "$.usage.x". */
        path += path[0] == '$';
        path += path[0] == '.';
        int rc = cp_im_put_str(usage, rest[i], path, err);
        json_decref(loc);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int xl_provider(struct crs *c, const struct doc *d, json_t *dv)
{
    static const char *const keys[] = {"providerName",    "providerAPIVersion", "organization",
                                       "model",           "requestModel",       "responseModel",
                                       "rateLimitFields", "supportedModels",    NULL};
    const struct cp_ynode *spec = d->spec, *v;
    const char *name, *version;
    json_t *vendor = json_object(), *loc, *models;

    if (cp_im_put(dv, "create", vendor, c->err) < 0)
        return -1;
    if (check_keys(spec, keys, "spec", c->err) < 0 ||
        cp_yt_str(spec, "providerName", 1, &name, c->err) < 0 ||
        cp_yt_str(spec, "providerAPIVersion", 0, &version, c->err) < 0 ||
        cp_im_put_str(vendor, "name", name, c->err) < 0 ||
        cp_im_put_str(dv, "name", name, c->err) < 0 ||
        (version && cp_im_put_str(vendor, "apiVersion", version, c->err) < 0) ||
        cp_im_put_pos(dv, d->root, d->label, c->err) < 0)
        return in_doc(c->err, d);
    /* v1alpha3 "model" is where the request and the response name the model. */
    static const char *const locs[][2] = {{"model", "requestModel"},
                                          {"model", "responseModel"},
                                          {"requestModel", "requestModel"},
                                          {"responseModel", "responseModel"}};
    for (size_t i = 0; i < 4; i++) {
        if ((v = cp_yt_get(spec, locs[i][0])) == NULL)
            continue;
        if (xl_value_in(v, locs[i][0], &loc, c->err) < 0 ||
            cp_im_put(vendor, locs[i][1], loc, c->err) < 0)
            return in_doc(c->err, d);
    }
    if ((v = cp_yt_get(spec, "rateLimitFields")) &&
        (cp_yt_need_map(v, "rateLimitFields", c->err) < 0 || xl_usage(v, vendor, c->err) < 0))
        return in_doc(c->err, d);
    if ((v = cp_yt_get(spec, "supportedModels"))) {
        if (cp_yt_need_seq(v, "supportedModels", c->err) < 0)
            return in_doc(c->err, d);
        models = json_array();
        if (cp_im_put(vendor, "models", models, c->err) < 0)
            return -1;
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->kind != CP_YT_SCALAR) {
                cp_yt_fail(c->err, v->items[i]->line, v->items[i]->col, "a model must be a name");
                return in_doc(c->err, d);
            }
            if (json_array_append_new(models, json_string(v->items[i]->str)) != 0)
                return cp_yt_nomem(c->err);
        }
    }
    return 0;
}

/* desc.vendor from the aiProvider name: an AIProvider of the body, else
 * one of APK's built-in names. */
static int xl_vendor(struct crs *c)
{
    json_t *dv = json_object_get(c->desc, "vendor");
    const struct cp_ynode *at = c->provider_at;
    struct doc *p;

    if (!at) {
        cp_yt_fail(c->err, c->api->root->line, c->api->root->col,
                   "no APIPolicy names an aiProvider for the API (its vendor)");
        return in_doc(c->err, c->api);
    }
    p = find_doc(c, K_PROVIDER, at->str);
    if (p)
        return xl_provider(c, p, dv);
    if (cp_im_builtin_vendor(at->str))
        return cp_im_put_str(dv, "name", cp_im_builtin_vendor(at->str), c->err) < 0 ||
                       cp_im_put_pos(dv, at, c->provider_by->label, c->err) < 0
                   ? -1
                   : 0;
    cp_yt_fail(c->err, at->line, at->col,
               "AIProvider \"%.120s\" is not in the body (nor one of APK's built-in "
               "ai-provider-open-ai, ai-provider-azure-ai, ai-provider-mistral-ai)",
               at->str);
    return in_doc(c->err, c->provider_by);
}

/* ------------------------------------------------------------------------
 * AIRateLimitPolicy, Secret
 * ------------------------------------------------------------------------ */

static int xl_ratelimit(struct crs *c, const struct doc *d)
{
    static const char *const keys[] = {"default", "override", "targetRef", NULL};
    static const char *const part_keys[] = {"organization", "tokenCount", "requestCount",
                                            "x-modelmux", NULL};
    static const char *const token_keys[] = {"unit", "requestTokenCount", "responseTokenCount",
                                             "totalTokenCount", NULL};
    static const char *const req_keys[] = {"requestsPerUnit", "unit", NULL};
    static const char *const ext_keys[] = {"scope", NULL};
    struct cp_im_limits l = {
        .what = "AIRateLimitPolicy", .token_what = "tokenCount", .request_what = "requestCount"};
    const struct cp_ynode *ov, *def, *part, *ext = NULL;
    const char *scope = NULL;
    json_t *item, *body;
    int present;

    if (check_keys(d->spec, keys, "spec", c->err) < 0 || check_target(c, d->spec, 1, c->err) < 0 ||
        get_map(d->spec, "override", 0, &ov, c->err) < 0 ||
        get_map(d->spec, "default", 0, &def, c->err) < 0)
        return in_doc(c->err, d);
    part = ov ? ov : def;
    if (!part) {
        cp_yt_fail(c->err, d->spec->line, d->spec->col,
                   "spec.override or spec.default is required");
        return in_doc(c->err, d);
    }
    if (check_keys(part, part_keys, ov ? "spec.override" : "spec.default", c->err) < 0 ||
        get_map(part, "tokenCount", 0, &l.token, c->err) < 0 ||
        get_map(part, "requestCount", 0, &l.request, c->err) < 0 ||
        get_map(part, "x-modelmux", 0, &ext, c->err) < 0 ||
        (l.token && check_keys(l.token, token_keys, "tokenCount", c->err) < 0) ||
        (l.request && check_keys(l.request, req_keys, "requestCount", c->err) < 0) ||
        (ext && (check_keys(ext, ext_keys, "x-modelmux", c->err) < 0 ||
                 cp_yt_str(ext, "scope", 0, &scope, c->err) < 0)))
        return in_doc(c->err, d);
    static const char *const token_limits[3] = {"requestTokenCount", "responseTokenCount",
                                                "totalTokenCount"};
    for (int i = 0; l.token && i < 3; i++)
        if (cp_yt_int(l.token, token_limits[i], 0, CP_IM_BIG_LIMIT, &l.tokens[i], &present,
                      c->err) < 0)
            return in_doc(c->err, d);
    if (l.request && cp_yt_int(l.request, "requestsPerUnit", 0, CP_IM_BIG_LIMIT, &l.requests,
                               &present, c->err) < 0)
        return in_doc(c->err, d);
    if (cp_im_add_item(c->desc, "policies", part, d->label, &item, &body, c->err) < 0 ||
        cp_im_put_str(item, "policyName", "AIRateLimitPolicy", c->err) < 0)
        return -1;
    if (cp_im_ratelimit(&l, part, body, c->err) < 0)
        return in_doc(c->err, d);
    return scope ? cp_im_put_str(body, "scope", scope, c->err) : 0;
}

/* Standard base64 (with padding) -> bytes; -1 when s is not base64. */
static int b64_decode(const char *s, size_t len, char *out, size_t *out_len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned acc = 0;
    size_t n = 0, pad = 0;
    int bits = 0;

    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *p = s[i] ? strchr(alphabet, s[i]) : NULL;
        if (s[i] == '=' && i >= len - 2) {
            pad++;
            continue;
        }
        if (!p || pad)
            return -1;
        acc = (acc << 6) | (unsigned)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    out[n] = 0;
    *out_len = n;
    return 0;
}

/* data (base64) and stringData (plain; wins for a key in both). */
static int xl_secret(struct crs *c, const struct doc *d)
{
    const struct cp_ynode *data, *sdata;
    json_t *item, *values;

    if (cp_im_add_item(c->desc, "secrets", d->root, d->label, &item, NULL, c->err) < 0 ||
        cp_im_put(item, "values", values = json_object(), c->err) < 0 ||
        cp_im_put_str(item, "name", d->name, c->err) < 0)
        return -1;
    if (get_map(d->root, "data", 0, &data, c->err) < 0 ||
        get_map(d->root, "stringData", 0, &sdata, c->err) < 0)
        return in_doc(c->err, d);
    for (size_t i = 0; data && i < data->n; i += 2) {
        const struct cp_ynode *k = data->items[i], *v = data->items[i + 1];
        char *buf;
        size_t n = 0;
        int rc;
        if (v->kind != CP_YT_SCALAR) {
            cp_yt_fail(c->err, v->line, v->col, "data.%.64s must be a base64 string", k->str);
            return in_doc(c->err, d);
        }
        buf = gw_malloc(v->len + 1);
        if (!buf)
            return cp_yt_nomem(c->err);
        rc = b64_decode(v->str, v->len, buf, &n);
        if (rc == 0 && memchr(buf, 0, n))
            rc = -1; /* a NUL byte cannot be a header value */
        if (rc == 0)
            rc = cp_im_put(values, k->str, json_stringn(buf, n), c->err) < 0 ? -2 : 0;
        gw_free(buf);
        if (rc == -2)
            return -1;
        if (rc < 0) {
            cp_yt_fail(c->err, v->line, v->col,
                       "data.%.64s is not base64 of text (use stringData for plain values)",
                       k->str);
            return in_doc(c->err, d);
        }
    }
    for (size_t i = 0; sdata && i < sdata->n; i += 2) {
        const struct cp_ynode *k = sdata->items[i], *v = sdata->items[i + 1];
        if (v->kind != CP_YT_SCALAR) {
            cp_yt_fail(c->err, v->line, v->col, "stringData.%.64s must be a string", k->str);
            return in_doc(c->err, d);
        }
        if (cp_im_put_str(values, k->str, v->str, c->err) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Public
 * ------------------------------------------------------------------------ */

int cp_crs_detect(const struct cp_ynode *docs)
{
    for (size_t i = 0; i < docs->n; i++) {
        const struct cp_ynode *d = docs->items[i];
        if (cp_yt_is_null(d))
            continue;
        return d->kind == CP_YT_MAP && cp_yt_get(d, "kind") && cp_yt_get(d, "apiVersion");
    }
    return 0;
}

static int translate(struct crs *c, const struct cp_ynode *docs)
{
    if (index_docs(c, docs) < 0 || xl_api(c) < 0 || xl_routes(c, 0) < 0 || xl_routes(c, 1) < 0)
        return -1;
    for (size_t i = 0; i < c->n; i++)
        if (c->docs[i].kind == K_POLICY && xl_apipolicy(c, &c->docs[i]) < 0)
            return -1;
    if (xl_vendor(c) < 0)
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        if (c->docs[i].kind == K_RATELIMIT && xl_ratelimit(c, &c->docs[i]) < 0)
            return -1;
        if (c->docs[i].kind == K_SECRET && xl_secret(c, &c->docs[i]) < 0)
            return -1;
    }
    return 0;
}

int cp_crs_parse(const struct cp_ynode *docs, json_t **out, struct gw_err *err)
{
    struct crs c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.err = err;
    *out = NULL;
    c.desc = cp_im_desc_new();
    if (!c.desc)
        return cp_yt_nomem(err);
    rc = translate(&c, docs);
    gw_free(c.docs);
    if (rc < 0) {
        json_decref(c.desc);
        return -1;
    }
    *out = c.desc;
    return 0;
}
