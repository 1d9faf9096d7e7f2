/* Policies of an API: storage and routes (see api_policies.h,
 * resources.h). A policy is stored as its normalized JSON body plus one
 * policy_refs row per (model, endpoint) target, which the "still in use"
 * checks of vendors' models and endpoints query. */
#include "api_policies.h"

#include <string.h>

#include "common/alloc.h"
#include "crud.h"
#include "policy_rules.h"
#include "resources.h"

#define POLICY_JSON "SELECT json_set(p.body, '$.id', p.id) FROM policies p "

int cp_policy_list(struct cp_db *db, const char *api_id, json_t **out, struct gw_err *err)
{
    json_t *api = NULL;
    *out = NULL;
    if (cp_api_get(db, api_id, &api, err) < 0)
        return -1;
    json_decref(api);
    return cp_db_query_json(db, err, out, POLICY_JSON "WHERE p.api_id = ?1 ORDER BY p.seq", "s",
                            api_id);
}

static int pol_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    return cp_policy_list(db, ids[0], out, err);
}

static int pol_get(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    json_t *api = NULL;
    if (cp_api_get(db, ids[0], &api, err) < 0)
        return -1;
    json_decref(api);
    if (cp_db_query_one(db, err, out, POLICY_JSON "WHERE p.api_id = ?1 AND p.id = ?2", "ss", ids[0],
                        ids[1]) < 0)
        return -1;
    return *out ? 0 : cp_not_found(err, "policy", ids[1]);
}

/* Gathers what a policy of api_id is checked against; self (may be NULL)
 * is left out of the other policies. */
static int load_ctx(struct cp_db *db, const char *api_id, const char *self,
                    struct cp_policy_ctx *ctx, struct gw_err *err)
{
    json_t *api = NULL, *vendor = NULL;
    int rc = -1;
    memset(ctx, 0, sizeof(*ctx));
    if (cp_api_get(db, api_id, &api, err) < 0 ||
        cp_vendor_get(db, json_string_value(json_object_get(api, "vendor")), &vendor, err) < 0 ||
        cp_endpoint_list(db, api_id, &ctx->endpoints, err) < 0 ||
        cp_db_query_json(db, err, &ctx->others,
                         POLICY_JSON "WHERE p.api_id = ?1 AND p.id != ?2 ORDER BY p.seq", "ss",
                         api_id, self ? self : "") < 0)
        goto out;
    ctx->models = json_incref(json_object_get(vendor, "models"));
    ctx->operations = json_incref(json_object_get(api, "operations"));
    rc = 0;
out:
    json_decref(api);
    json_decref(vendor);
    return rc;
}

static void free_ctx(struct cp_policy_ctx *ctx)
{
    json_decref(ctx->models);
    json_decref(ctx->endpoints);
    json_decref(ctx->others);
    json_decref(ctx->operations);
}

static int store_refs(struct cp_db *db, const char *id, json_t *norm, struct gw_err *err)
{
    json_t *targets = cp_policy_targets(norm);
    size_t i;
    json_t *t;
    int rc = 0;
    if (!targets)
        return cp_nomem(err);
    if (cp_db_run(db, err, "DELETE FROM policy_refs WHERE policy_id = ?1", "s", id) < 0)
        rc = -1;
    json_array_foreach (targets, i, t) {
        if (rc == 0 &&
            cp_db_run(db, err,
                      "INSERT INTO policy_refs (policy_id, model, endpoint_id) VALUES (?1, ?2, ?3)",
                      "sss", id, json_string_value(json_object_get(t, "model")),
                      json_string_value(json_object_get(t, "endpoint"))) < 0)
            rc = -1;
    }
    json_decref(targets);
    return rc;
}

static int write_policy(struct cp_db *db, const char *api_id, const char *id, int is_new,
                        json_t *body, json_t **out, struct gw_err *err)
{
    struct cp_policy_ctx ctx;
    json_t *norm = NULL;
    char *text = NULL;
    int rc = -1;
    if (load_ctx(db, api_id, is_new ? NULL : id, &ctx, err) < 0 ||
        cp_policy_validate(body, &ctx, &norm, err) < 0)
        goto out;
    if (!(text = json_dumps(norm, JSON_COMPACT))) {
        cp_nomem(err);
        goto out;
    }
    const char *type = json_string_value(json_object_get(norm, "type"));
    if (is_new ? cp_db_run(db, err,
                           "INSERT INTO policies (id, seq, api_id, type, body) VALUES (?1, "
                           "(SELECT coalesce(max(seq), 0) + 1 FROM policies), ?2, ?3, ?4)",
                           "ssss", id, api_id, type, text) < 0
               : cp_db_run(db, err, "UPDATE policies SET type = ?2, body = ?3 WHERE id = ?1", "sss",
                           id, type, text) < 0)
        goto out;
    if (store_refs(db, id, norm, err) < 0)
        goto out;
    const char *ids[2] = {api_id, id};
    rc = pol_get(db, ids, out, err);
out:
    free_ctx(&ctx);
    json_decref(norm);
    gw_free(text);
    return rc;
}

int cp_policy_create(struct cp_db *db, const char *api_id, json_t *body, json_t **out,
                     struct gw_err *err)
{
    char id[33];
    if (cp_db_new_id(id, err) < 0)
        return -1;
    return write_policy(db, api_id, id, 1, body, out, err);
}

static int pol_create(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                      struct gw_err *err)
{
    return cp_policy_create(db, ids[0], body, out, err);
}

static int pol_replace(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                       struct gw_err *err)
{
    json_t *old = NULL;
    if (pol_get(db, ids, &old, err) < 0)
        return -1;
    json_decref(old);
    return write_policy(db, ids[0], ids[1], 0, body, out, err);
}

static int pol_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    json_t *old = NULL;
    if (pol_get(db, ids, &old, err) < 0)
        return -1;
    json_decref(old);
    return cp_db_run(db, err, "DELETE FROM policies WHERE id = ?1", "s", ids[1]) < 0 ? -1 : 0;
}

const struct cp_crud cp_policies_crud = {pol_list, pol_get, pol_create, pol_replace, pol_remove};
