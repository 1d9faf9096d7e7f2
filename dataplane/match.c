/* Path matching (match.h). Built on the thread that compiles a config;
 * looked up by every worker, reading only. */
#include "match.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "config.h"
#include "hashmap.h"

/* The verbs an operation may have (the schema's list): a path has at most
 * one route per verb. */
#define NVERBS 7

struct route_verb {
    const char *verb; /* borrowed from op */
    const struct dp_api *api;
    const struct dp_operation *op;
};

struct route_path {
    char *path;
    size_t nverbs;
    struct route_verb verbs[NVERBS];
};

struct dp_route_table {
    struct dp_hmap map; /* path -> struct route_path */
    struct route_path *paths;
    size_t npaths;
};

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory compiling config");
}

void dp_match_free(struct dp_route_table *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->npaths; i++)
        gw_free(rt->paths[i].path);
    gw_free(rt->paths);
    dp_hmap_cleanup(&rt->map);
    gw_free(rt);
}

/* Adds (verb, api, op) at path; the first API to claim a (path, verb) keeps
 * it. path is taken over (freed when not stored). */
static int add_route(struct dp_route_table *rt, char *path, const struct dp_api *a,
                     const struct dp_operation *op)
{
    struct route_path *r = dp_hmap_get(&rt->map, path, strlen(path));
    if (r) {
        gw_free(path);
    } else {
        r = &rt->paths[rt->npaths];
        r->path = path;
        r->nverbs = 0;
        if (dp_hmap_put(&rt->map, path, strlen(path), r) < 0) {
            gw_free(path);
            r->path = NULL;
            return -1;
        }
        rt->npaths++;
    }
    for (size_t i = 0; i < r->nverbs; i++)
        if (strcmp(r->verbs[i].verb, op->verb) == 0)
            return 0;
    if (r->nverbs == NVERBS)
        return 0;
    r->verbs[r->nverbs++] = (struct route_verb){op->verb, a, op};
    return 0;
}

int dp_match_build(struct dp_config *cfg, struct gw_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < cfg->napis; i++)
        total += cfg->apis[i].noperations * (cfg->apis[i].default_version ? 2 : 1);
    struct dp_route_table *rt = gw_calloc(1, sizeof(*rt));
    if (!rt)
        return nomem(err);
    cfg->routes = rt;
    rt->paths = gw_calloc(total ? total : 1, sizeof(*rt->paths));
    if (!rt->paths || dp_hmap_init(&rt->map, total) < 0)
        return nomem(err);
    /* Versioned paths first, so they win over another API's default-version
     * path that happens to be the same string. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < cfg->napis; i++) {
            const struct dp_api *a = &cfg->apis[i];
            if (pass == 1 && !a->default_version)
                continue;
            for (size_t j = 0; j < a->noperations; j++) {
                const struct dp_operation *op = &a->operations[j];
                size_t n = strlen(a->base_path) + 1 + strlen(a->version) + strlen(op->target) + 1;
                char *p = gw_malloc(n);
                if (!p)
                    return nomem(err);
                if (pass == 0)
                    snprintf(p, n, "%s/%s%s", a->base_path, a->version, op->target);
                else
                    snprintf(p, n, "%s%s", a->base_path, op->target);
                if (add_route(rt, p, a, op) < 0)
                    return nomem(err);
            }
        }
    return 0;
}

enum dp_match dp_config_match(const struct dp_config *cfg, const char *method, const char *path,
                              const struct dp_api **api, const struct dp_operation **op)
{
    const struct dp_route_table *rt = cfg->routes;
    const struct route_path *r = dp_hmap_get(&rt->map, path, strlen(path));
    if (!r)
        return DP_MATCH_NOT_FOUND;
    for (size_t i = 0; i < r->nverbs; i++)
        if (strcmp(r->verbs[i].verb, method) == 0) {
            *api = r->verbs[i].api;
            *op = r->verbs[i].op;
            return DP_MATCH_OK;
        }
    return DP_MATCH_METHOD;
}
