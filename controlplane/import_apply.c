/* Creating an import description in one transaction (see import_apply.h). */
#include "import_apply.h"

#include <stdio.h>
#include <string.h>

#include "api_secrets.h"
#include "api_vendors.h"
#include "import_map.h"
#include "resources.h"

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
}

/* Prefixes err's message with the item's "at" text, so a resource-layer
 * error names the line (and document) it came from. */
static void at_position(struct gw_err *err, const json_t *item)
{
    const char *at = json_string_value(json_object_get(item, "at"));
    char msg[sizeof(err->message)];

    if (!err || !at || err->kind == GW_ERR_NOMEM || err->kind == GW_ERR_INTERNAL)
        return;
    /* The original message may lose its tail to make room for the position. */
    snprintf(msg, sizeof(msg), "%.200s: %.300s", at, err->message);
    memcpy(err->message, msg, sizeof(msg));
    if (!err->field[0])
        snprintf(err->field, sizeof(err->field), "%.120s", at);
}

/* The vendor named in desc.vendor: found by name, else created from its
 * "create" body (custom resources' AIProvider), else a 400. */
static int find_vendor(struct cp_db *db, const json_t *dv, json_t **vendor, struct gw_err *err)
{
    const char *name = json_string_value(json_object_get(dv, "name"));
    json_t *create = json_object_get(dv, "create");

    if (cp_vendor_find_by_name(db, name, vendor, err) == 0)
        return 0;
    if (!err || err->kind != GW_ERR_NOT_FOUND)
        return -1;
    gw_err_clear(err);
    if (create) {
        if (cp_vendors_crud.create(db, NULL, create, vendor, err) == 0)
            return 0;
    } else {
        gw_err_set(err, GW_ERR_INVALID, "unknown_vendor", "aiProvider.name",
                   "unknown aiProvider \"%.128s\": no vendor has that name", name);
    }
    at_position(err, dv);
    return -1;
}

static int write_secrets(struct cp_db *db, const json_t *desc, struct gw_err *err)
{
    json_t *item;
    size_t i;
    int created = 0;

    json_array_foreach (json_object_get(desc, "secrets"), i, item) {
        if (cp_secret_write(db, json_string_value(json_object_get(item, "name")),
                            json_object_get(item, "values"), &created, err) < 0) {
            at_position(err, item);
            return -1;
        }
    }
    return 0;
}

/* Creates the endpoints; ids maps each ref to the created endpoint's id. */
static int create_endpoints(struct cp_db *db, const char *api_id, const json_t *desc, json_t *ids,
                            struct gw_err *err)
{
    json_t *item, *created = NULL;
    size_t i;

    json_array_foreach (json_object_get(desc, "endpoints"), i, item) {
        if (cp_endpoint_create(db, api_id, json_object_get(item, "body"), &created, err) < 0) {
            at_position(err, item);
            return -1;
        }
        int rc = json_object_set(ids, json_string_value(json_object_get(item, "ref")),
                                 json_object_get(created, "id"));
        json_decref(created);
        created = NULL;
        if (rc != 0)
            return nomem(err);
    }
    return 0;
}

static int create_policies(struct cp_db *db, const char *api_id, const json_t *desc,
                           const json_t *ids, struct gw_err *err)
{
    json_t *item, *created = NULL;
    size_t i;

    json_array_foreach (json_object_get(desc, "policies"), i, item) {
        json_t *body = json_object_get(item, "body");
        if (cp_im_resolve_refs(body, ids, err) < 0)
            return -1;
        if (cp_policy_create(db, api_id, body, &created, err) < 0) {
            at_position(err, item);
            return -1;
        }
        json_decref(created);
        created = NULL;
    }
    return 0;
}

int cp_im_apply(struct cp_db *db, json_t *desc, json_t **api, struct gw_err *err)
{
    json_t *vendor = NULL, *ids = NULL;
    json_t *body = json_object_get(desc, "api");
    const char *api_id;
    int rc = -1;

    *api = NULL;
    if (write_secrets(db, desc, err) < 0 ||
        find_vendor(db, json_object_get(desc, "vendor"), &vendor, err) < 0)
        goto out;
    if (json_object_set(body, "vendor", json_object_get(vendor, "id")) != 0) {
        nomem(err);
        goto out;
    }
    if (cp_api_create(db, body, api, err) < 0) {
        at_position(err, json_object_get(desc, "apiAt"));
        goto out;
    }
    api_id = json_string_value(json_object_get(*api, "id"));
    ids = json_object();
    if (!ids || !api_id) {
        nomem(err);
        goto out;
    }
    if (create_endpoints(db, api_id, desc, ids, err) < 0 ||
        create_policies(db, api_id, desc, ids, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0) {
        json_decref(*api);
        *api = NULL;
    }
    json_decref(ids);
    json_decref(vendor);
    return rc;
}
