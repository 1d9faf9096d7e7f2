/* Vendors and their model lists (see api_vendors.h, resources.h).
 *
 * Rows live in vendors + vendor_models; the REST JSON is built by SQLite's
 * json_object() in VENDOR_JSON so there is one definition of the shape. */
#include "api_vendors.h"

#include <string.h>

#include "crud.h"
#include "common/limits.h"
#include "jfield.h"
#include "resources.h"


/* One vendor as REST JSON; "FROM vendors v" follows. */
#define VENDOR_JSON                                                                                \
    "SELECT json_object('id', v.id, 'name', v.name, 'apiVersion', v.api_version, "                 \
    "'description', v.description, 'builtin', json(CASE WHEN v.builtin THEN 'true' ELSE 'false' "  \
    "END), 'models', json((SELECT json_group_array(name) FROM (SELECT name FROM vendor_models "    \
    "WHERE vendor_id = v.id ORDER BY seq))), "                                                     \
    "'requestModel', json_object('in', v.request_in, 'field', v.request_field), "                  \
    "'responseModel', json_object('in', v.response_in, 'field', v.response_field), "               \
    "'usage', json_object('promptTokens', v.usage_prompt, 'completionTokens', "                    \
    "v.usage_completion, 'totalTokens', v.usage_total), "                                          \
    "'auth', json_object('header', v.auth_header, 'prefix', v.auth_prefix)) FROM vendors v "

int cp_model_name_check(const char *name, const char *field, struct gw_err *err)
{
    return gw_rule_name(name, field, GW_NAME_MAX_CHARS, err);
}

/* --- reads ----------------------------------------------------------------- */

int cp_vendor_get(struct cp_db *db, const char *id, json_t **out, struct gw_err *err)
{
    if (cp_db_query_one(db, err, out, VENDOR_JSON "WHERE v.id = ?1", "s", id) < 0)
        return -1;
    return *out ? 0 : cp_not_found(err, "vendor", id);
}

int cp_vendor_find_by_name(struct cp_db *db, const char *name, json_t **out, struct gw_err *err)
{
    if (cp_db_query_one(db, err, out, VENDOR_JSON "WHERE v.name = ?1", "s", name) < 0)
        return -1;
    return *out ? 0 : cp_not_found(err, "vendor", name);
}

int cp_vendor_list(struct cp_db *db, json_t **out, struct gw_err *err)
{
    return cp_db_query_json(db, err, out, VENDOR_JSON "ORDER BY v.seq", "");
}

static int vendor_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    (void)ids;
    return cp_vendor_list(db, out, err);
}

static int vendor_get(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    return cp_vendor_get(db, ids[0], out, err);
}

static int vendor_exists(struct cp_db *db, const char *id, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM vendors WHERE id = ?1", "s", id) < 0)
        return -1;
    return n ? 0 : cp_not_found(err, "vendor", id);
}

/* --- model lists --------------------------------------------------------- */

/* 409 when a policy of an API of this vendor names model; the message names
 * the first such policy (type and id) and its API, and how many others. */
static int model_unused(struct cp_db *db, const char *vendor_id, const char *model,
                        struct gw_err *err)
{
    json_t *row = NULL;
    if (cp_db_query_one(db, err, &row,
                        "SELECT json_object('type', p.type, 'id', p.id, 'api', a.name, "
                        "'basePath', a.base_path, 'version', a.version, 'n', count(*) OVER ()) "
                        "FROM policy_refs r JOIN policies p ON p.id = r.policy_id "
                        "JOIN apis a ON a.id = p.api_id WHERE a.vendor_id = ?1 AND r.model = ?2 "
                        "GROUP BY p.id ORDER BY a.name, p.seq LIMIT 1",
                        "ss", vendor_id, model) < 0)
        return -1;
    if (!row)
        return 0;
    json_int_t others = json_integer_value(json_object_get(row, "n")) - 1; /* borrowed */
    char more[64] = "";
    if (others > 0)
        snprintf(more, sizeof(more), " (and %lld other polic%s)", (long long)others,
                 others == 1 ? "y" : "ies");
    gw_err_set(err, GW_ERR_CONFLICT, "in_use", NULL,
               "model '%s' is used by the %s policy %s of API '%s' (%s %s)%s: remove it from "
               "the policy first",
               model, json_string_value(json_object_get(row, "type")),
               json_string_value(json_object_get(row, "id")),
               json_string_value(json_object_get(row, "api")),
               json_string_value(json_object_get(row, "basePath")),
               json_string_value(json_object_get(row, "version")), more);
    json_decref(row);
    return -1;
}

/* Checks a JSON array of model names: strings, valid, no duplicates. */
static int check_models(json_t *models, const char *field, struct gw_err *err)
{
    if (!json_is_array(models))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", field,
                          "%s must be an array of model names", field);
    size_t i, j;
    json_t *m;
    json_array_foreach (models, i, m) {
        char path[64];
        snprintf(path, sizeof(path), "%s[%zu]", field, i);
        if (!json_is_string(m) || strlen(json_string_value(m)) != json_string_length(m))
            return gw_err_set(err, GW_ERR_INVALID, "invalid_type", path, "%s must be a string",
                              path);
        if (cp_model_name_check(json_string_value(m), path, err) < 0)
            return -1;
        for (j = 0; j < i; j++)
            if (json_equal(json_array_get(models, j), m))
                return gw_err_set(err, GW_ERR_INVALID, "duplicate", path,
                                  "%s: model '%s' is listed twice", path, json_string_value(m));
    }
    return 0;
}

static int has_model(json_t *models, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach (models, i, m)
        if (strcmp(json_string_value(m), name) == 0)
            return 1;
    return 0;
}

/* Replaces the vendor's model list with models (checked). Models that go
 * away must not be used by a policy. */
static int set_models(struct cp_db *db, const char *vendor_id, json_t *models, struct gw_err *err)
{
    json_t *old = NULL;
    int rc = -1;
    if (cp_db_query_json(db, err, &old,
                         "SELECT json_quote(name) FROM vendor_models WHERE vendor_id = ?1", "s",
                         vendor_id) < 0)
        return -1;
    size_t i;
    json_t *m;
    json_array_foreach (old, i, m) {
        if (!has_model(models, json_string_value(m)) &&
            model_unused(db, vendor_id, json_string_value(m), err) < 0)
            goto out;
    }
    if (cp_db_run(db, err, "DELETE FROM vendor_models WHERE vendor_id = ?1", "s", vendor_id) < 0)
        goto out;
    json_array_foreach (models, i, m) {
        if (cp_db_run(db, err,
                      "INSERT INTO vendor_models (vendor_id, name, seq) VALUES (?1, ?2, ?3)", "ssi",
                      vendor_id, json_string_value(m), (int64_t)i) < 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(old);
    return rc;
}

static int models_get(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    json_t *v = NULL;
    if (cp_vendor_get(db, ids[0], &v, err) < 0)
        return -1;
    *out = json_incref(json_object_get(v, "models"));
    json_decref(v);
    return 0;
}

/* --- create / replace ---------------------------------------------------- */

struct model_loc {
    const char *in, *field;
};

static int read_model_loc(json_t *body, const char *key, struct model_loc *loc, struct gw_err *err)
{
    json_t *o = json_object_get(body, key);
    loc->in = "body";
    loc->field = "model";
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", key, "%s must be an object", key);
    if (cp_jf_str(o, "in", key, CP_JF_REQUIRED, 16, &loc->in, err) < 0 ||
        cp_jf_str(o, "field", key, CP_JF_REQUIRED | CP_JF_NAME, GW_NAME_MAX_CHARS, &loc->field, err) <
            0)
        return -1;
    if (strcmp(loc->in, "body") == 0 || strcmp(loc->in, "path") == 0)
        return 0;
    char field[48];
    cp_jf_path(field, sizeof(field), key, "in");
    return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                      "%s must be \"body\" or \"path\"", field);
}

struct vendor_in {
    const char *name, *api_version, *description;
    json_t *models; /* borrowed */
    struct model_loc req, resp;
    const char *usage[3];
    const char *auth_header, *auth_prefix;
};

static int read_object(json_t *body, const char *key, json_t **out, struct gw_err *err)
{
    *out = json_object_get(body, key);
    if (json_is_null(*out))
        *out = NULL;
    if (*out && !json_is_object(*out))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", key, "%s must be an object", key);
    return 0;
}

static int read_vendor(json_t *body, struct vendor_in *v, struct gw_err *err)
{
    static const char *usage_keys[3] = {"promptTokens", "completionTokens", "totalTokens"};
    static const char *usage_defaults[3] = {"usage.prompt_tokens", "usage.completion_tokens",
                                            "usage.total_tokens"};
    json_t *usage = NULL, *auth = NULL;
    memset(v, 0, sizeof(*v));
    if (cp_jf_str(body, "name", NULL, CP_JF_REQUIRED | CP_JF_NAME, GW_NAME_MAX_CHARS, &v->name, err) <
            0 ||
        cp_jf_str(body, "apiVersion", NULL, 0, 64, &v->api_version, err) < 0 ||
        cp_jf_str(body, "description", NULL, 0, 1024, &v->description, err) < 0 ||
        read_model_loc(body, "requestModel", &v->req, err) < 0 ||
        read_model_loc(body, "responseModel", &v->resp, err) < 0 ||
        read_object(body, "usage", &usage, err) < 0 || read_object(body, "auth", &auth, err) < 0)
        return -1;
    v->models = json_object_get(body, "models");
    if (v->models && !json_is_null(v->models) && check_models(v->models, "models", err) < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (cp_jf_str(usage, usage_keys[i], "usage", CP_JF_NAME, 256, &v->usage[i], err) < 0)
            return -1;
        if (!v->usage[i])
            v->usage[i] = usage_defaults[i];
    }
    if (cp_jf_str(auth, "header", "auth", CP_JF_TOKEN, GW_NAME_MAX_CHARS, &v->auth_header, err) < 0 ||
        cp_jf_str(auth, "prefix", "auth", CP_JF_NO_CTL, GW_NAME_MAX_CHARS, &v->auth_prefix, err) < 0)
        return -1;
    if (!v->auth_header)
        v->auth_header = "Authorization";
    if (!v->auth_prefix)
        v->auth_prefix = auth ? "" : "Bearer ";
    if (!v->api_version)
        v->api_version = "";
    if (!v->description)
        v->description = "";
    return 0;
}

static int name_taken(struct cp_db *db, const char *name, const char *except_id, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM vendors WHERE name = ?1 AND id != ?2",
                        "ss", name, except_id ? except_id : "") < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "name_taken", "name",
                          "a vendor named '%s' already exists", name);
    return 0;
}

static int write_vendor(struct cp_db *db, const char *id, int is_new, json_t *body, json_t **out,
                        struct gw_err *err)
{
    struct vendor_in v;
    if (read_vendor(body, &v, err) < 0 || name_taken(db, v.name, id, err) < 0)
        return -1;
    if (is_new) {
        if (cp_db_run(db, err,
                      "INSERT INTO vendors (id, seq, name) VALUES (?1, (SELECT coalesce(max(seq), "
                      "0) + 1 FROM vendors), ?2)",
                      "ss", id, v.name) < 0)
            return -1;
    }
    if (cp_db_run(db, err,
                  "UPDATE vendors SET name = ?2, api_version = ?3, description = ?4, "
                  "request_in = ?5, request_field = ?6, response_in = ?7, response_field = ?8, "
                  "usage_prompt = ?9, usage_completion = ?10, usage_total = ?11, "
                  "auth_header = ?12, auth_prefix = ?13 WHERE id = ?1",
                  "sssssssssssss", id, v.name, v.api_version, v.description, v.req.in, v.req.field,
                  v.resp.in, v.resp.field, v.usage[0], v.usage[1], v.usage[2], v.auth_header,
                  v.auth_prefix) < 0)
        return -1;
    json_t *empty = json_array();
    int rc = empty ? set_models(db, id, v.models && !json_is_null(v.models) ? v.models : empty, err)
                   : cp_nomem(err);
    json_decref(empty);
    if (rc < 0)
        return -1;
    return cp_vendor_get(db, id, out, err);
}

static int vendor_create(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                         struct gw_err *err)
{
    (void)ids;
    char id[33];
    if (cp_db_new_id(id, err) < 0)
        return -1;
    return write_vendor(db, id, 1, body, out, err);
}

static int vendor_replace(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                          struct gw_err *err)
{
    if (vendor_exists(db, ids[0], err) < 0)
        return -1;
    return write_vendor(db, ids[0], 0, body, out, err);
}

static int vendor_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    json_t *v = NULL;
    int64_t apis = 0;
    if (cp_vendor_get(db, ids[0], &v, err) < 0)
        return -1;
    int builtin = json_is_true(json_object_get(v, "builtin"));
    json_decref(v);
    if (builtin)
        return gw_err_set(err, GW_ERR_CONFLICT, "builtin", NULL,
                          "built-in vendor '%s' cannot be deleted", ids[0]);
    if (cp_db_query_int(db, err, &apis, "SELECT count(*) FROM apis WHERE vendor_id = ?1", "s",
                        ids[0]) < 0)
        return -1;
    if (apis)
        return gw_err_set(err, GW_ERR_CONFLICT, "in_use", NULL,
                          "vendor '%s' is used by %lld API(s)", ids[0], (long long)apis);
    return cp_db_run(db, err, "DELETE FROM vendors WHERE id = ?1", "s", ids[0]) < 0 ? -1 : 0;
}

const struct cp_crud cp_vendors_crud = {vendor_list, vendor_get, vendor_create, vendor_replace,
                                        vendor_remove};

/* --- the model-list routes ------------------------------------------------ */

static int models_replace(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                          struct gw_err *err)
{
    json_t *items = json_object_get(body, "items");
    if (!items)
        return gw_err_set(err, GW_ERR_INVALID, "missing_field", "items", "items is required");
    if (check_models(items, "items", err) < 0 || vendor_exists(db, ids[0], err) < 0 ||
        set_models(db, ids[0], items, err) < 0)
        return -1;
    return models_get(db, ids, out, err);
}

static int model_add(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                     struct gw_err *err)
{
    const char *name;
    int64_t n = 0;
    if (cp_jf_str(body, "name", NULL, CP_JF_REQUIRED | CP_JF_NAME, GW_NAME_MAX_CHARS, &name, err) <
            0 ||
        vendor_exists(db, ids[0], err) < 0 ||
        cp_db_query_int(db, err, &n,
                        "SELECT count(*) FROM vendor_models WHERE vendor_id = ?1 AND name = ?2",
                        "ss", ids[0], name) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "exists", "name", "model '%s' is already listed",
                          name);
    if (cp_db_run(db, err,
                  "INSERT INTO vendor_models (vendor_id, name, seq) VALUES (?1, ?2, (SELECT "
                  "coalesce(max(seq), 0) + 1 FROM vendor_models WHERE vendor_id = ?1))",
                  "ss", ids[0], name) < 0)
        return -1;
    *out = json_pack("{s:s}", "name", name);
    return *out ? 0 : cp_nomem(err);
}

static int model_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    if (vendor_exists(db, ids[0], err) < 0 || model_unused(db, ids[0], ids[1], err) < 0)
        return -1;
    int n = cp_db_run(db, err, "DELETE FROM vendor_models WHERE vendor_id = ?1 AND name = ?2", "ss",
                      ids[0], ids[1]);
    if (n < 0)
        return -1;
    return n ? 0 : cp_not_found(err, "model", ids[1]);
}

const struct cp_crud cp_models_crud = {models_get, models_get, model_add, models_replace,
                                       model_remove};

int cp_h_models_put(struct cp_req *r, struct gw_err *e)
{
    json_t *items = NULL;
    if (cp_crud_put(&cp_models_crud, r, e) < 0)
        return -1;
    items = r->out; /* reply {"items": [...]}, the shape of GET */
    r->out = NULL;
    return cp_req_reply_json(r, 200, cp_items(items), e);
}
