/* The apk-conf routes: POST /api/v1/apis/import, GET /api/v1/apis/{id}/apk-conf.
 *
 * Glue between the pure translators (apkconf_import.c, apkconf_export.c) and
 * the internal resource API (resources.h). The import runs in ONE write
 * transaction: vendor lookup by name, the API, its endpoints, then its
 * policies (endpoint refs replaced by the new ids), then one commit, so one
 * config revision; on any error everything is rolled back and the revision
 * stays. Errors raised by the resource layer for an endpoint or a policy are
 * prefixed with the line and column of that entry in the document. The
 * export reads the API, its vendor, endpoints and policies in one read
 * transaction and answers application/yaml.
 *
 * Runs on the HTTP worker thread that owns req (see req.h). */
#include "apkconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "db.h"
#include "req.h"
#include "resources.h"

/* Content types accepted for the import (parameters allowed after ';'). */
static const char *const yaml_types[] = {"application/yaml", "application/x-yaml", "text/yaml",
                                         "text/x-yaml", NULL};

/* 0 when ct names YAML in UTF-8 (no charset, or charset=utf-8), else -1
 * with a 415 in err. */
static int check_content_type(const char *ct, struct gw_err *err)
{
    const char *charset;

    for (const char *const *t = yaml_types; ct && *t; t++) {
        size_t n = strlen(*t);
        if (strncasecmp(ct, *t, n) != 0 || (ct[n] && ct[n] != ';' && ct[n] != ' '))
            continue;
        charset = strcasestr(ct + n, "charset=");
        if (!charset)
            return 0;
        charset += strlen("charset=");
        if (*charset == '"')
            charset++;
        if (strncasecmp(charset, "utf-8", 5) == 0 || strncasecmp(charset, "utf8", 4) == 0)
            return 0;
        return gw_err_set(err, GW_ERR_MEDIA_TYPE, "unsupported_media_type", NULL,
                          "apk-conf must be UTF-8 (Content-Type: application/yaml)");
    }
    return gw_err_set(err, GW_ERR_MEDIA_TYPE, "unsupported_media_type", NULL,
                      "Content-Type must be application/yaml for an apk-conf import");
}

/* Prefixes err's message with the position of a description item
 * ({"line", "column"}), so a resource-layer error names the apk-conf line. */
static void at_position(struct gw_err *err, const json_t *item)
{
    char pos[64], msg[sizeof(err->message)];

    if (!err || err->kind == GW_ERR_NOMEM || err->kind == GW_ERR_INTERNAL)
        return;
    snprintf(pos, sizeof(pos), "line %d, column %d",
             (int)json_integer_value(json_object_get(item, "line")),
             (int)json_integer_value(json_object_get(item, "column")));
    /* The original message may lose its tail to make room for the position. */
    snprintf(msg, sizeof(msg), "%s: %.440s", pos, err->message);
    memcpy(err->message, msg, sizeof(msg));
    if (!err->field[0])
        snprintf(err->field, sizeof(err->field), "%s", pos);
}

/* Looks the vendor up by the aiProvider name; unknown names are a 400 at
 * the aiProvider line. *vendor: the vendor (new reference). */
static int find_vendor(struct cp_db *db, const json_t *desc_vendor, json_t **vendor,
                       struct gw_err *err)
{
    const char *name = json_string_value(json_object_get(desc_vendor, "name"));

    if (cp_vendor_find_by_name(db, name, vendor, err) == 0)
        return 0;
    if (err && err->kind == GW_ERR_NOT_FOUND) {
        gw_err_set(err, GW_ERR_INVALID, "unknown_vendor", "aiProvider.name",
                   "unknown aiProvider \"%.128s\": no vendor has that name", name);
        at_position(err, desc_vendor);
    }
    return -1;
}

/* Creates everything of desc inside the open transaction. *api: the API. */
static int create_all(struct cp_db *db, json_t *desc, json_t **api, struct gw_err *err)
{
    json_t *vendor = NULL, *ids = NULL, *created = NULL, *item;
    json_t *body = json_object_get(desc, "api");
    const char *api_id;
    size_t i;
    int rc = -1;

    if (find_vendor(db, json_object_get(desc, "vendor"), &vendor, err) < 0)
        goto out;
    if (json_object_set(body, "vendor", json_object_get(vendor, "id")) != 0) {
        gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
        goto out;
    }
    if (cp_api_create(db, body, api, err) < 0)
        goto out;
    api_id = json_string_value(json_object_get(*api, "id"));
    ids = json_object();
    if (!ids || !api_id) {
        gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
        goto out;
    }
    json_array_foreach(json_object_get(desc, "endpoints"), i, item) {
        if (cp_endpoint_create(db, api_id, json_object_get(item, "body"), &created, err) < 0) {
            at_position(err, item);
            goto out;
        }
        if (json_object_set(ids, json_string_value(json_object_get(item, "ref")),
                            json_object_get(created, "id")) != 0) {
            gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
            goto out;
        }
        json_decref(created);
        created = NULL;
    }
    json_array_foreach(json_object_get(desc, "policies"), i, item) {
        json_t *pbody = json_object_get(item, "body");
        if (cp_apkconf_resolve_refs(pbody, ids, err) < 0)
            goto out;
        if (cp_policy_create(db, api_id, pbody, &created, err) < 0) {
            at_position(err, item);
            goto out;
        }
        json_decref(created);
        created = NULL;
    }
    rc = 0;
out:
    if (rc < 0) {
        json_decref(*api);
        *api = NULL;
    }
    json_decref(created);
    json_decref(ids);
    json_decref(vendor);
    return rc;
}

int cp_apkconf_import(struct cp_req *req, struct gw_err *err)
{
    json_t *desc = NULL, *api = NULL;

    if (req->body_len > CP_APKCONF_MAX_BODY)
        return gw_err_set(err, GW_ERR_TOO_LARGE, "too_large", NULL,
                          "apk-conf larger than %d bytes", CP_APKCONF_MAX_BODY);
    if (check_content_type(req->content_type, err) < 0)
        return -1;
    if (cp_apkconf_parse(req->body, req->body_len, &desc, err) < 0)
        return -1;
    if (cp_db_begin(req->db, err) < 0)
        goto fail;
    if (create_all(req->db, desc, &api, err) < 0) {
        cp_db_rollback(req->db);
        goto fail;
    }
    if (cp_db_commit(req->db, NULL, err) < 0) /* rolls back by itself */
        goto fail;
    json_decref(desc);
    return cp_req_reply_json(req, 201, api, err);
fail:
    json_decref(api);
    json_decref(desc);
    return -1;
}

/* The vendor of api (REST JSON). */
static int vendor_of(struct cp_db *db, const json_t *api, json_t **vendor, struct gw_err *err)
{
    const char *vid = json_string_value(json_object_get(api, "vendor"));

    if (!vid)
        return gw_err_set(err, GW_ERR_INTERNAL, "internal", NULL, "API without a vendor");
    return cp_vendor_get(db, vid, vendor, err);
}

int cp_apkconf_export(struct cp_req *req, struct gw_err *err)
{
    json_t *api = NULL, *vendor = NULL, *endpoints = NULL, *policies = NULL;
    const char *id = req->nparams > 0 ? req->params[0] : NULL;
    char *yaml = NULL;
    size_t len = 0;
    int rc = -1;

    if (!id)
        return gw_err_set(err, GW_ERR_NOT_FOUND, "not_found", NULL, "no such API");
    if (cp_db_read_begin(req->db, err) < 0)
        return -1;
    if (cp_api_get(req->db, id, &api, err) < 0 || vendor_of(req->db, api, &vendor, err) < 0 ||
        cp_endpoint_list(req->db, id, &endpoints, err) < 0 ||
        cp_policy_list(req->db, id, &policies, err) < 0) {
        cp_db_read_end(req->db);
        goto out;
    }
    cp_db_read_end(req->db);
    if (cp_apkconf_emit(api, vendor, endpoints, policies, &yaml, &len, err) < 0)
        goto out;
    rc = cp_req_reply_raw(req, 200, yaml, len, "application/yaml");
    yaml = NULL;
out:
    gw_free(yaml);
    json_decref(policies);
    json_decref(endpoints);
    json_decref(vendor);
    json_decref(api);
    return rc;
}
