/* The import and export routes: POST /api/v1/apis/import (an apk-conf or
 * Kubernetes custom resources), GET /api/v1/apis/{id}/apk-conf and
 * GET /api/v1/apis/{id}/crs.
 *
 * Glue between the pure translators (apkconf_import.c and crs_import.c
 * write one import description, apkconf_export.c and crs_export.c read an
 * API back) and the resource layer. The import parses the body once
 * (yaml_tree.c), picks the front end by its first document (a Kubernetes
 * object has "kind" and "apiVersion"), then creates the description in ONE
 * write transaction (import_apply.c), so one config revision; on any error
 * everything is rolled back and the revision stays. The exports read the
 * API, its vendor, endpoints and policies in one read transaction and
 * answer application/yaml.
 *
 * Runs on the HTTP worker thread that owns req (see req.h). */
#include "apkconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "crs.h"
#include "import_apply.h"
#include "db.h"
#include "req.h"
#include "resources.h"
#include "yaml_tree.h"

#define CP_STR2(x) #x
#define CP_STR(x) CP_STR2(x)

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
                          "the import body must be UTF-8 (Content-Type: application/yaml)");
    }
    return gw_err_set(
        err, GW_ERR_MEDIA_TYPE, "unsupported_media_type", NULL,
        "Content-Type must be application/yaml for an import (apk-conf or custom resources)");
}

/* Parses the body into a description: Kubernetes custom resources when its
 * first document is a Kubernetes object, else an apk-conf. */
static int parse_body(const char *body, size_t len, json_t **desc, struct gw_err *err)
{
    struct cp_ynode *docs = NULL;
    int rc;

    if (cp_yt_parse(body, len, CP_CRS_MAX_DOCS,
                    "too many documents (at most " CP_STR(CP_CRS_MAX_DOCS) ")", &docs, err) < 0)
        return -1;
    if (cp_crs_detect(docs))
        rc = cp_crs_parse(docs, desc, err);
    else /* read again as one document, for the apk-conf's own errors */
        rc = cp_apkconf_parse(body, len, desc, err);
    cp_yt_free(docs);
    return rc;
}

int cp_apkconf_import(struct cp_req *req, struct gw_err *err)
{
    json_t *desc = NULL, *api = NULL;

    if (req->body_len > CP_APKCONF_MAX_BODY)
        return gw_err_set(err, GW_ERR_TOO_LARGE, "too_large", NULL,
                          "import body larger than %d bytes", CP_APKCONF_MAX_BODY);
    if (check_content_type(req->content_type, err) < 0)
        return -1;
    if (parse_body(req->body, req->body_len, &desc, err) < 0)
        return -1;
    if (cp_db_begin(req->db, err) < 0)
        goto fail;
    if (cp_im_apply(req->db, desc, &api, err) < 0) {
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

/* The emitters of the two export routes (same signature). */
typedef int (*emit_fn)(const json_t *api, const json_t *vendor, const json_t *endpoints,
                       const json_t *policies, char **out, size_t *out_len, struct gw_err *err);

/* Reads the API of the route, its vendor, endpoints and policies in one
 * read transaction and answers 200 application/yaml with emit's output. */
static int export_with(struct cp_req *req, emit_fn emit, struct gw_err *err)
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
    if (emit(api, vendor, endpoints, policies, &yaml, &len, err) < 0)
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

int cp_apkconf_export(struct cp_req *req, struct gw_err *err)
{
    return export_with(req, cp_apkconf_emit, err);
}

int cp_crs_export(struct cp_req *req, struct gw_err *err)
{
    return export_with(req, cp_crs_emit, err);
}
