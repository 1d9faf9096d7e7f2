/* Custom resources: the vendor named by the APIPolicies' aiProvider, from
 * an AIProvider of the body or APK's built-in names (see crs_doc.h). Pure
 * functions, any thread. */
#include "crs_doc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "import_map.h"

/* ------------------------------------------------------------------------
 * AIProvider -> vendor
 * ------------------------------------------------------------------------ */

/* {in: Body|Path, value} -> {"in": "body"|"path", "field": value}. */
static int xl_value_in(const struct cp_ynode *v, const char *what, json_t **out, struct gw_err *err)
{
    static const char *const keys[] = {"in", "value", NULL};
    const char *in, *value;

    *out = NULL;
    if (cp_yt_need_map(v, what, err) < 0 || cp_crs_keys(v, keys, what, err) < 0 ||
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
        cp_crs_keys(rl, keys, "rateLimitFields", err) < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        const struct cp_ynode *f;
        json_t *loc = NULL;
        const char *path;
        if (cp_crs_map(rl, keys[i], 0, &f, err) < 0 ||
            (f && xl_value_in(f, keys[i], &loc, err) < 0))
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
    if (cp_crs_keys(spec, keys, "spec", c->err) < 0 ||
        cp_yt_str(spec, "providerName", 1, &name, c->err) < 0 ||
        cp_yt_str(spec, "providerAPIVersion", 0, &version, c->err) < 0 ||
        cp_im_put_str(vendor, "name", name, c->err) < 0 ||
        cp_im_put_str(dv, "name", name, c->err) < 0 ||
        (version && cp_im_put_str(vendor, "apiVersion", version, c->err) < 0) ||
        cp_im_put_pos(dv, d->root, d->label, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
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
            return cp_crs_in_doc(c->err, d);
    }
    if ((v = cp_yt_get(spec, "rateLimitFields")) &&
        (cp_yt_need_map(v, "rateLimitFields", c->err) < 0 || xl_usage(v, vendor, c->err) < 0))
        return cp_crs_in_doc(c->err, d);
    if ((v = cp_yt_get(spec, "supportedModels"))) {
        if (cp_yt_need_seq(v, "supportedModels", c->err) < 0)
            return cp_crs_in_doc(c->err, d);
        models = json_array();
        if (cp_im_put(vendor, "models", models, c->err) < 0)
            return -1;
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->kind != CP_YT_SCALAR) {
                cp_yt_fail(c->err, v->items[i]->line, v->items[i]->col, "a model must be a name");
                return cp_crs_in_doc(c->err, d);
            }
            if (json_array_append_new(models, json_string(v->items[i]->str)) != 0)
                return cp_yt_nomem(c->err);
        }
    }
    return 0;
}

/* desc.vendor from the aiProvider name: an AIProvider of the body, else
 * one of APK's built-in names. */
int cp_crs_vendor(struct crs *c)
{
    json_t *dv = json_object_get(c->desc, "vendor");
    const struct cp_ynode *at = c->provider_at;
    struct doc *p;

    if (!at) {
        cp_yt_fail(c->err, c->api->root->line, c->api->root->col,
                   "no APIPolicy names an aiProvider for the API (its vendor)");
        return cp_crs_in_doc(c->err, c->api);
    }
    p = cp_crs_find(c, K_PROVIDER, at->str);
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
    return cp_crs_in_doc(c->err, c->provider_by);
}
