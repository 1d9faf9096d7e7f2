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
 * This file indexes the documents and drives the walk; each group of kinds
 * is mapped in its own file (crs_doc.h). Security, rate limits, round-robin
 * targets and secrets are mapped by import_map.c, shared with the apk-conf
 * import.
 *
 * Pure functions, no globals: any thread. */
#include "crs.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "crs_doc.h"
#include "import_map.h"

/* Coupled with enum crs_kind (crs_doc.h). */
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

/* Prefixes an INVALID error with the document's label; returns -1. */
int cp_crs_in_doc(struct gw_err *err, const struct doc *d)
{
    char msg[sizeof(err->message)];

    if (!err || err->kind != GW_ERR_INVALID || !d)
        return -1;
    snprintf(msg, sizeof(msg), "%.200s, %.300s", d->label, err->message);
    memcpy(err->message, msg, sizeof(msg));
    return -1;
}

int cp_crs_keys(const struct cp_ynode *map, const char *const *allowed, const char *what,
                struct gw_err *err)
{
    return cp_yt_check_keys(map, allowed, NULL, what, err);
}

/* A mapping at key (required or not): *out NULL when absent. */
int cp_crs_map(const struct cp_ynode *map, const char *key, int required,
               const struct cp_ynode **out, struct gw_err *err)
{
    *out = cp_yt_get(map, key);
    if (!*out)
        return required ? cp_yt_fail(err, map->line, map->col, "%s is required", key) : 0;
    return cp_yt_need_map(*out, key, err);
}

int cp_crs_seq(const struct cp_ynode *map, const char *key, const struct cp_ynode **out,
               struct gw_err *err)
{
    *out = cp_yt_get(map, key);
    return *out ? cp_yt_need_seq(*out, key, err) : 0;
}

struct doc *cp_crs_find(struct crs *c, enum crs_kind kind, const char *name)
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
            return cp_crs_keys(root, k == K_SECRET ? secret_keys : top_keys, kind, err);
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
        cp_crs_map(root, "metadata", 1, &meta, c->err) < 0 ||
        cp_yt_str(meta, "name", 1, &d->name, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    kind = cp_yt_get(root, "kind");
    snprintf(d->label, sizeof(d->label), "%.64s \"%.120s\"",
             kind && kind->kind == CP_YT_SCALAR ? kind->str : "?", d->name);
    if (index_kind(root, d, c->err) < 0 || cp_crs_keys(meta, meta_keys, "metadata", c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    dup = cp_crs_find(c, d->kind, d->name);
    if (dup && dup != d) {
        cp_yt_fail(c->err, root->line, root->col, "a second %s named \"%.120s\" (first at line %d)",
                   kinds[d->kind].kind, d->name, dup->root->line);
        return cp_crs_in_doc(c->err, d);
    }
    if (d->kind != K_SECRET && cp_crs_map(root, "spec", 1, &d->spec, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    if (d->kind != K_API)
        return 0;
    if (c->api) {
        cp_yt_fail(c->err, root->line, root->col,
                   "a second API document (%s at line %d): the body must hold exactly one",
                   c->api->label, c->api->root->line);
        return cp_crs_in_doc(c->err, d);
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
    if (index_docs(c, docs) < 0 || cp_crs_api(c) < 0 || cp_crs_routes(c, 0) < 0 ||
        cp_crs_routes(c, 1) < 0)
        return -1;
    for (size_t i = 0; i < c->n; i++)
        if (c->docs[i].kind == K_POLICY && cp_crs_apipolicy(c, &c->docs[i]) < 0)
            return -1;
    if (cp_crs_vendor(c) < 0)
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        if (c->docs[i].kind == K_RATELIMIT && cp_crs_ratelimit(c, &c->docs[i]) < 0)
            return -1;
        if (c->docs[i].kind == K_SECRET && cp_crs_secret(c, &c->docs[i]) < 0)
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
