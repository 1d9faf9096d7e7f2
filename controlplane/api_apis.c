/* APIs (see api_apis.h, resources.h). */
#include "api_apis.h"

#include <string.h>

#include "common/alloc.h"
#include "crud.h"
#include "common/limits.h"
#include "jfield.h"
#include "resources.h"


/* One API as REST JSON; "FROM apis a" follows. */
#define API_JSON                                                                                   \
    "SELECT json_object('id', a.id, 'name', a.name, 'basePath', a.base_path, 'version', "          \
    "a.version, 'defaultVersion', json(CASE WHEN a.default_version THEN 'true' ELSE 'false' "      \
    "END), 'vendor', a.vendor_id, 'subscriptionValidation', json(CASE WHEN "                       \
    "a.subscription_validation THEN 'true' ELSE 'false' END), 'operations', json(a.operations)) "  \
    "FROM apis a "

/* The default operation set (SPEC 2.2), all secured: POST on each of these
 * targets, and GET /models (answered by the data plane itself). */
static const char *const openai_targets[] = {
    "/chat/completions",  "/completions",          "/responses",         "/embeddings",
    "/images/generations", "/audio/transcriptions", "/audio/translations", "/models"};
static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};

/* --- validation ----------------------------------------------------------- */

static json_t *default_operations(void)
{
    json_t *ops = json_array();
    for (size_t i = 0; ops && i < sizeof(openai_targets) / sizeof(openai_targets[0]); i++) {
        const char *verb = strcmp(openai_targets[i], "/models") == 0 ? "GET" : "POST";
        if (json_array_append_new(ops, json_pack("{s:s,s:s,s:b}", "target", openai_targets[i],
                                                 "verb", verb, "secured", 1)) < 0) {
            json_decref(ops);
            return NULL;
        }
    }
    return ops;
}

/* An operation's "scopes" (absent, or 1..GW_OPERATION_SCOPES_MAX distinct
 * scopes of a secured operation), added to norm when there are some. */
static int check_scopes(json_t *op, const char *path, int secured, json_t *norm,
                        struct gw_err *err)
{
    json_t *scopes = json_object_get(op, "scopes"), *s;
    char field[64], ifield[96];
    size_t i;
    cp_jf_path(field, sizeof(field), path, "scopes");
    if (!scopes || json_is_null(scopes) || (json_is_array(scopes) && !json_array_size(scopes)))
        return 0;
    if (!json_is_array(scopes) || json_array_size(scopes) > GW_OPERATION_SCOPES_MAX)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be an array of at most %d scopes", field,
                          GW_OPERATION_SCOPES_MAX);
    if (!secured)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s: scopes need a secured operation (secured: true)", field);
    json_array_foreach (scopes, i, s) {
        snprintf(ifield, sizeof(ifield), "%s[%zu]", field, i);
        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
            return gw_err_set(err, GW_ERR_INVALID, "invalid_type", ifield,
                              "%s must be a string", ifield);
        if (gw_rule_scope(json_string_value(s), ifield, err) < 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (json_equal(json_array_get(scopes, k), s))
                return gw_err_set(err, GW_ERR_INVALID, "duplicate", ifield,
                                  "%s: scope '%s' is listed twice", ifield, json_string_value(s));
    }
    if (json_object_set(norm, "scopes", scopes) < 0)
        return cp_nomem(err);
    return 0;
}

static int check_operation(json_t *op, const char *path, json_t *seen_ops, json_t **norm,
                           struct gw_err *err)
{
    const char *target, *verb;
    int secured = 1;
    char field[64];
    if (!json_is_object(op))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", path, "%s must be an object", path);
    if (cp_jf_str(op, "target", path, CP_JF_REQUIRED, GW_PATH_MAX_BYTES, &target, err) < 0 ||
        cp_jf_str(op, "verb", path, CP_JF_REQUIRED, 8, &verb, err) < 0 ||
        cp_jf_bool(op, "secured", path, 1, &secured, err) < 0)
        return -1;
    cp_jf_path(field, sizeof(field), path, "target");
    if (gw_rule_path(target, field, 1, err) < 0)
        return -1;
    size_t v = 0;
    while (v < sizeof(verbs) / sizeof(verbs[0]) && strcmp(verbs[v], verb) != 0)
        v++;
    if (v == sizeof(verbs) / sizeof(verbs[0]))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", path,
                          "%s.verb must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
                          path);
    *norm = json_pack("{s:s,s:s,s:b}", "target", target, "verb", verb, "secured", secured);
    if (!*norm)
        return cp_nomem(err);
    if (check_scopes(op, path, secured, *norm, err) < 0) {
        json_decref(*norm);
        return -1;
    }
    size_t i;
    json_t *o;
    json_array_foreach (seen_ops, i, o) {
        if (json_equal(json_object_get(o, "target"), json_object_get(*norm, "target")) &&
            json_equal(json_object_get(o, "verb"), json_object_get(*norm, "verb"))) {
            json_decref(*norm);
            return gw_err_set(err, GW_ERR_INVALID, "duplicate", path, "%s: %s %s is listed twice",
                              path, verb, target);
        }
    }
    return 0;
}

json_t *cp_api_operations(json_t *ops, struct gw_err *err)
{
    if (!ops || json_is_null(ops))
        return default_operations();
    if (!json_is_array(ops) || json_array_size(ops) == 0 || json_array_size(ops) > GW_OPERATIONS_MAX) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_field", "operations",
                   "operations must be an array of 1 to %d operations", GW_OPERATIONS_MAX);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *op;
    if (!out) {
        cp_nomem(err);
        return NULL;
    }
    json_array_foreach (ops, i, op) {
        char path[48];
        json_t *norm = NULL;
        snprintf(path, sizeof(path), "operations[%zu]", i);
        if (check_operation(op, path, out, &norm, err) < 0 ||
            json_array_append_new(out, norm) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* --- reads ------------------------------------------------------------------ */

int cp_api_get(struct cp_db *db, const char *id, json_t **out, struct gw_err *err)
{
    if (cp_db_query_one(db, err, out, API_JSON "WHERE a.id = ?1", "s", id) < 0)
        return -1;
    return *out ? 0 : cp_not_found(err, "API", id);
}

int cp_api_list(struct cp_db *db, json_t **out, struct gw_err *err)
{
    return cp_db_query_json(db, err, out, API_JSON "ORDER BY a.seq", "");
}

static int api_list(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    (void)ids;
    return cp_api_list(db, out, err);
}

static int api_get(struct cp_db *db, const char **ids, json_t **out, struct gw_err *err)
{
    return cp_api_get(db, ids[0], out, err);
}

/* --- writes ------------------------------------------------------------------ */

struct api_in {
    const char *name, *base_path, *version, *vendor;
    int default_version, subscription_validation;
};

static int read_api(struct cp_db *db, json_t *body, struct api_in *a, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_jf_str(body, "name", NULL, CP_JF_REQUIRED | CP_JF_NAME, GW_NAME_MAX_CHARS, &a->name, err) <
            0 ||
        cp_jf_str(body, "basePath", NULL, CP_JF_REQUIRED, GW_PATH_MAX_BYTES, &a->base_path, err) < 0 ||
        gw_rule_path(a->base_path, "basePath", 0, err) < 0 ||
        cp_jf_str(body, "version", NULL, CP_JF_REQUIRED, 32, &a->version, err) < 0 ||
        gw_rule_version(a->version, "version", err) < 0 ||
        cp_jf_str(body, "vendor", NULL, CP_JF_REQUIRED | CP_JF_NAME, 64, &a->vendor, err) < 0 ||
        cp_jf_bool(body, "defaultVersion", NULL, 0, &a->default_version, err) < 0 ||
        cp_jf_bool(body, "subscriptionValidation", NULL, 0, &a->subscription_validation, err) < 0)
        return -1;
    if (cp_db_query_int(db, err, &n, "SELECT count(*) FROM vendors WHERE id = ?1", "s", a->vendor) <
        0)
        return -1;
    if (!n)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "vendor",
                          "vendor: no vendor with id '%s'", a->vendor);
    return 0;
}

static int path_taken(struct cp_db *db, const struct api_in *a, const char *id, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(
            db, err, &n,
            "SELECT count(*) FROM apis WHERE base_path = ?1 AND version = ?2 AND id != ?3", "sss",
            a->base_path, a->version, id) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "exists", "basePath",
                          "an API with basePath '%s' and version '%s' already exists", a->base_path,
                          a->version);
    return 0;
}

/* On a vendor change, every model the API's policies name must be in the
 * new vendor's list. */
static int models_fit(struct cp_db *db, const char *api_id, const char *vendor, struct gw_err *err)
{
    int64_t n = 0;
    if (cp_db_query_int(db, err, &n,
                        "SELECT count(*) FROM policy_refs r JOIN policies p ON p.id = r.policy_id "
                        "WHERE p.api_id = ?1 AND r.model NOT IN (SELECT name FROM vendor_models "
                        "WHERE vendor_id = ?2)",
                        "ss", api_id, vendor) < 0)
        return -1;
    if (n)
        return gw_err_set(err, GW_ERR_CONFLICT, "in_use", "vendor",
                          "vendor: the API's policies use models the vendor does not list");
    return 0;
}

static int write_api(struct cp_db *db, const char *id, int is_new, json_t *body, json_t **out,
                     struct gw_err *err)
{
    struct api_in a;
    json_t *ops = NULL;
    char *ops_text = NULL;
    int rc = -1;
    if (read_api(db, body, &a, err) < 0 || path_taken(db, &a, id, err) < 0 ||
        (!is_new && models_fit(db, id, a.vendor, err) < 0) ||
        (is_new && cp_room_for_one(db, "SELECT count(*) FROM apis", GW_APIS_MAX, "APIs",
                                   "GW_APIS_MAX", err) < 0))
        return -1;
    ops = cp_api_operations(json_object_get(body, "operations"), err);
    if (!ops)
        return -1;
    ops_text = json_dumps(ops, JSON_COMPACT);
    if (!ops_text) {
        cp_nomem(err);
        goto out;
    }
    if (is_new && cp_db_run(db, err,
                            "INSERT INTO apis (id, seq, name, base_path, version, vendor_id, "
                            "operations) VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM apis), "
                            "?2, ?3, ?4, ?5, '[]')",
                            "sssss", id, a.name, a.base_path, a.version, a.vendor) < 0)
        goto out;
    if (cp_db_run(db, err,
                  "UPDATE apis SET name = ?2, base_path = ?3, version = ?4, default_version = ?5, "
                  "vendor_id = ?6, subscription_validation = ?7, operations = ?8 WHERE id = ?1",
                  "ssssbsbs", id, a.name, a.base_path, a.version, a.default_version, a.vendor,
                  a.subscription_validation, ops_text) < 0)
        goto out;
    rc = cp_api_get(db, id, out, err);
out:
    json_decref(ops);
    gw_free(ops_text);
    return rc;
}

int cp_api_create(struct cp_db *db, json_t *body, json_t **out, struct gw_err *err)
{
    char id[33];
    if (cp_db_new_id(id, err) < 0)
        return -1;
    return write_api(db, id, 1, body, out, err);
}

static int api_create(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                      struct gw_err *err)
{
    (void)ids;
    return cp_api_create(db, body, out, err);
}

static int api_replace(struct cp_db *db, const char **ids, json_t *body, json_t **out,
                       struct gw_err *err)
{
    json_t *old = NULL;
    if (cp_api_get(db, ids[0], &old, err) < 0)
        return -1;
    json_decref(old);
    return write_api(db, ids[0], 0, body, out, err);
}

static int api_remove(struct cp_db *db, const char **ids, struct gw_err *err)
{
    int n = cp_db_run(db, err, "DELETE FROM apis WHERE id = ?1", "s", ids[0]);
    if (n < 0)
        return -1;
    return n ? 0 : cp_not_found(err, "API", ids[0]);
}

const struct cp_crud cp_apis_crud = {api_list, api_get, api_create, api_replace, api_remove};
