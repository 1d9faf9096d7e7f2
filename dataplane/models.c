/* The gateway's own GET .../models (see models.h). */
#include "models.h"

#include "accesslog.h"
#include "common/alloc.h"

#include <string.h>

int dp_models_is_listing(const struct dp_operation *op)
{
    return op && strcmp(op->verb, "GET") == 0 && strcmp(op->target, "/models") == 0;
}

/* The listing so far: the names written, to write each once. */
struct listing {
    struct gw_buf *out;
    const char *owner;
    const char **names;
    size_t n, cap;
    int failed;
};

static void add(struct listing *l, const char *model)
{
    if (l->failed)
        return;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], model) == 0)
            return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        const char **grown = gw_realloc(l->names, cap * sizeof(*grown));
        if (!grown) {
            l->failed = 1;
            return;
        }
        l->names = grown;
        l->cap = cap;
    }
    l->names[l->n++] = model;
    if (gw_buf_append_str(l->out, l->n > 1 ? ",{\"id\":" : "{\"id\":") != GW_BUF_OK ||
        dp_json_str(l->out, model) < 0 ||
        gw_buf_append_str(l->out, ",\"object\":\"model\",\"created\":0,\"owned_by\":") !=
            GW_BUF_OK ||
        dp_json_str(l->out, l->owner) < 0 || gw_buf_append_str(l->out, "}") != GW_BUF_OK)
        l->failed = 1;
}

/* The vendor's model list in the snapshot's model, or NULL. */
static const struct gw_cfg_vendor *model_vendor(const struct dp_config *cfg,
                                                const struct dp_vendor *v)
{
    for (size_t i = 0; cfg->model && v && i < cfg->model->nvendors; i++)
        if (strcmp(cfg->model->vendors[i].id, v->id) == 0)
            return &cfg->model->vendors[i];
    return NULL;
}

int dp_models_list(const struct dp_config *cfg, const struct dp_api *api, enum dp_env env,
                   struct gw_buf *out)
{
    struct listing l = {.out = out, .owner = api->vendor ? api->vendor->name : ""};
    const struct dp_lb *lb = api->lb[env];
    int routed = (lb && lb->ntargets > 0) || api->nfailovers[env] > 0;
    if (gw_buf_append_str(out, "{\"object\":\"list\",\"data\":[") != GW_BUF_OK)
        return -1;
    for (size_t i = 0; lb && i < lb->ntargets; i++)
        add(&l, lb->targets[i].model);
    for (size_t i = 0; i < api->nfailovers[env]; i++)
        for (size_t j = 0; j < api->failovers[env][i].nchain; j++)
            add(&l, api->failovers[env][i].chain[j].model);
    const struct gw_cfg_vendor *v = routed ? NULL : model_vendor(cfg, api->vendor);
    for (size_t i = 0; v && i < v->nmodels; i++)
        add(&l, v->models[i]);
    gw_free(l.names);
    if (l.failed || gw_buf_append_str(out, "]}") != GW_BUF_OK) {
        gw_buf_cleanup(out);
        return -1;
    }
    return 0;
}
