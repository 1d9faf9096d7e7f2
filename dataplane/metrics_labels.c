/* The label values the applied config names (see metrics_labels.h).
 *
 * Three string sets (APIs, endpoints, models), each a dp_hmap over strings
 * this struct owns, and the list of routing targets. Built on the config
 * thread, read under the metrics registry's locks. */
#include "metrics_labels.h"

#include "common/alloc.h"
#include "common/config.h"
#include "config.h"
#include "hashmap.h"

#include <string.h>

struct set {
    struct dp_hmap map; /* name -> its owned copy */
    char **names;
    size_t n, cap;
};

struct dp_metrics_labels {
    struct set apis, endpoints, models;
    struct dp_metrics_target *targets;
    size_t ntargets, cap;
    struct dp_hmap triples; /* "api\0model\0endpoint" -> 1 + index in targets */
    char **triple_keys;     /* owned keys of triples, one per target */
};

static int set_has(const struct set *s, const char *v)
{
    return v && dp_hmap_get(&s->map, v, strlen(v)) != NULL;
}

/* The set's own copy of v (added when missing), or NULL when out of memory. */
static const char *set_add(struct set *s, const char *v)
{
    size_t len = strlen(v);
    char *have = dp_hmap_get(&s->map, v, len);
    if (have)
        return have;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **n = gw_realloc(s->names, cap * sizeof(*n));
        if (!n)
            return NULL;
        s->names = n;
        s->cap = cap;
    }
    char *copy = gw_strdup(v);
    if (!copy)
        return NULL;
    if (dp_hmap_put(&s->map, copy, len, copy) < 0) {
        gw_free(copy);
        return NULL;
    }
    s->names[s->n++] = copy;
    return copy;
}

static void set_cleanup(struct set *s)
{
    for (size_t i = 0; i < s->n; i++)
        gw_free(s->names[i]);
    gw_free(s->names);
    dp_hmap_cleanup(&s->map);
}

struct dp_metrics_labels *dp_metrics_labels_new(void)
{
    return gw_calloc(1, sizeof(struct dp_metrics_labels));
}

void dp_metrics_labels_free(struct dp_metrics_labels *l)
{
    if (!l)
        return;
    set_cleanup(&l->apis);
    set_cleanup(&l->endpoints);
    set_cleanup(&l->models);
    for (size_t i = 0; i < l->ntargets; i++)
        gw_free(l->triple_keys[i]);
    gw_free(l->triple_keys);
    gw_free(l->targets);
    dp_hmap_cleanup(&l->triples);
    gw_free(l);
}

int dp_metrics_labels_add_api(struct dp_metrics_labels *l, const char *api)
{
    return set_add(&l->apis, api) ? 0 : -1;
}

int dp_metrics_labels_add_endpoint(struct dp_metrics_labels *l, const char *endpoint)
{
    return set_add(&l->endpoints, endpoint) ? 0 : -1;
}

int dp_metrics_labels_add_model(struct dp_metrics_labels *l, const char *model)
{
    return set_add(&l->models, model) ? 0 : -1;
}

int dp_metrics_labels_has_api(const struct dp_metrics_labels *l, const char *api)
{
    return set_has(&l->apis, api);
}

int dp_metrics_labels_has_endpoint(const struct dp_metrics_labels *l, const char *endpoint)
{
    return set_has(&l->endpoints, endpoint);
}

int dp_metrics_labels_has_model(const struct dp_metrics_labels *l, const char *model)
{
    return set_has(&l->models, model);
}

int dp_metrics_labels_add_target(struct dp_metrics_labels *l, const char *api, const char *model,
                                 const char *endpoint, const struct dp_target_state *state)
{
    const char *a = set_add(&l->apis, api), *m = set_add(&l->models, model),
               *e = set_add(&l->endpoints, endpoint);
    if (!a || !m || !e)
        return -1;
    size_t la = strlen(a), lm = strlen(m), le = strlen(e), klen = la + lm + le + 2;
    char *key = gw_malloc(klen + 1);
    if (!key)
        return -1;
    memcpy(key, a, la + 1);
    memcpy(key + la + 1, m, lm + 1);
    memcpy(key + la + lm + 2, e, le + 1);
    if (dp_hmap_get(&l->triples, key, klen)) {
        gw_free(key); /* the same series: one line, whichever policy names it */
        return 0;
    }
    if (l->ntargets == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct dp_metrics_target *t = gw_realloc(l->targets, cap * sizeof(*t));
        char **k = t ? gw_realloc(l->triple_keys, cap * sizeof(*k)) : NULL;
        if (t)
            l->targets = t;
        if (!k) {
            gw_free(key);
            return -1;
        }
        l->triple_keys = k;
        l->cap = cap;
    }
    if (dp_hmap_put(&l->triples, key, klen, (void *)(uintptr_t)(l->ntargets + 1)) < 0) {
        gw_free(key);
        return -1;
    }
    l->triple_keys[l->ntargets] = key;
    l->targets[l->ntargets++] = (struct dp_metrics_target){a, m, e, state};
    return 0;
}

size_t dp_metrics_labels_ntargets(const struct dp_metrics_labels *l)
{
    return l->ntargets;
}

const struct dp_metrics_target *dp_metrics_labels_target(const struct dp_metrics_labels *l,
                                                         size_t i)
{
    return &l->targets[i];
}

/* ---- from a config ---------------------------------------------------------- */

static int add_targets(struct dp_metrics_labels *l, const struct dp_api *api,
                       const struct dp_target *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (dp_metrics_labels_add_target(l, api->name, t[i].model, t[i].endpoint->name,
                                         t[i].state) < 0)
            return -1;
    return 0;
}

static int add_api(struct dp_metrics_labels *l, const struct dp_api *api)
{
    if (dp_metrics_labels_add_api(l, api->name) < 0)
        return -1;
    for (size_t i = 0; i < api->nendpoints; i++)
        if (dp_metrics_labels_add_endpoint(l, api->endpoints[i].name) < 0)
            return -1;
    for (int env = 0; env < DP_ENV_COUNT; env++) {
        if (api->lb[env] && add_targets(l, api, api->lb[env]->targets, api->lb[env]->ntargets) < 0)
            return -1;
        for (size_t f = 0; f < api->nfailovers[env]; f++)
            if (add_targets(l, api, api->failovers[env][f].chain,
                            api->failovers[env][f].nchain) < 0)
                return -1;
    }
    return 0;
}

/* Every vendor's model list (the snapshot's vendors[].models). */
static int add_vendor_models(struct dp_metrics_labels *l, const struct gw_cfg *model)
{
    for (size_t i = 0; model && i < model->nvendors; i++)
        for (size_t j = 0; j < model->vendors[i].nmodels; j++)
            if (dp_metrics_labels_add_model(l, model->vendors[i].models[j]) < 0)
                return -1;
    return 0;
}

struct dp_metrics_labels *dp_metrics_labels_of_config(const struct dp_config *cfg)
{
    struct dp_metrics_labels *l = dp_metrics_labels_new();
    if (!l)
        return NULL;
    for (size_t i = 0; i < cfg->napis; i++)
        if (add_api(l, &cfg->apis[i]) < 0)
            goto fail;
    if (add_vendor_models(l, cfg->model) < 0)
        goto fail;
    return l;
fail:
    dp_metrics_labels_free(l);
    return NULL;
}
