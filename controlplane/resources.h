/* The internal resource API: create and read APIs, endpoints and policies as
 * REST JSON, inside a transaction the caller owns.
 *
 * The REST handlers (api_apis.c, api_endpoints.c, api_policies.c) are thin
 * wrappers around these functions, so any other code that builds resources
 * (the apk-conf import, controlplane/apkconf*.c) gets exactly the same
 * validation and the same JSON shapes as SPEC 2.2 by calling them. Typical
 * use, all in ONE transaction (a failure anywhere changes nothing):
 *
 *   if (cp_db_begin(db, err) < 0) return -1;
 *   if (cp_vendor_find_by_name(db, "OpenAI", &vendor, err) < 0) goto fail;
 *   json_object_set_new(api_body, "vendor", json_string(id of vendor));
 *   if (cp_api_create(db, api_body, &api, err) < 0) goto fail;
 *   ... cp_endpoint_create(db, api_id, ep_body, &ep, err) for each endpoint
 *   ... cp_policy_create(db, api_id, pol_body, &pol, err) for each policy
 *   if (cp_db_commit(db, NULL, err) < 0) goto fail_nolock;   (one revision)
 *   fail: cp_db_rollback(db);
 *
 * Body arguments are borrowed (never modified, never stolen). *out values are
 * new references the caller must json_decref. Errors: GW_ERR_INVALID (400,
 * message and err->field name the field, e.g. "production[1].weight"),
 * GW_ERR_NOT_FOUND, GW_ERR_CONFLICT (duplicate name, incompatible policies),
 * GW_ERR_INTERNAL/NOMEM. Every function here requires a transaction opened
 * with cp_db_begin() (create) or cp_db_read_begin()/cp_db_begin() (read). */
#ifndef CP_RESOURCES_H
#define CP_RESOURCES_H

#include <jansson.h>

#include "common/err.h"
#include "db.h"

/* --- vendors ------------------------------------------------------------ */

/* The vendor with this id / name as REST JSON ({"id","name","models",...}).
 * Returns 0 with *out set, or -1 (GW_ERR_NOT_FOUND when there is none). */
int cp_vendor_get(struct cp_db *db, const char *id, json_t **out, struct gw_err *err);
int cp_vendor_find_by_name(struct cp_db *db, const char *name, json_t **out, struct gw_err *err);

/* Plain JSON array of every vendor (REST shape), in creation order. */
int cp_vendor_list(struct cp_db *db, json_t **out, struct gw_err *err);

/* --- APIs --------------------------------------------------------------- */

/* Creates an API from body in the REST shape of SPEC 2.2 ("name",
 * "basePath", "version", "vendor" = vendor id, optional "defaultVersion",
 * "subscriptionValidation", "operations" (default: the OpenAI set)). "id" in
 * body is ignored. *out: the created API. (basePath, version) taken: 409. */
int cp_api_create(struct cp_db *db, json_t *body, json_t **out, struct gw_err *err);

/* The API with this id as REST JSON (without endpoints and policies). */
int cp_api_get(struct cp_db *db, const char *id, json_t **out, struct gw_err *err);

/* Plain JSON array of every API (REST shape), in creation order. */
int cp_api_list(struct cp_db *db, json_t **out, struct gw_err *err);

/* --- endpoints ---------------------------------------------------------- */

/* Creates an endpoint of API api_id from body in the REST shape ("name",
 * "environment", "url", optional "timeoutMs" (60000), optional "security"
 * {"secret", "secretKey", "header"?, "prefix"?}; header/prefix default to
 * the vendor's auth). *out: the created endpoint with its "id". */
int cp_endpoint_create(struct cp_db *db, const char *api_id, json_t *body, json_t **out,
                       struct gw_err *err);

/* {"items": [...]}-less plain JSON array of the API's endpoints (REST
 * shape), in creation order. 404 when the API does not exist. */
int cp_endpoint_list(struct cp_db *db, const char *api_id, json_t **out, struct gw_err *err);

/* --- policies ----------------------------------------------------------- */

/* Creates a policy of API api_id from body in the REST shape (one of the four
 * "type"s of SPEC 2.2; targets name endpoints by id). All validation and
 * combination rules apply against the policies already in the API (so
 * create the endpoints first). *out: the created policy with its "id". */
int cp_policy_create(struct cp_db *db, const char *api_id, json_t *body, json_t **out,
                     struct gw_err *err);

/* Plain JSON array of the API's policies (REST shape), in creation order. */
int cp_policy_list(struct cp_db *db, const char *api_id, json_t **out, struct gw_err *err);

/* --- the apk-conf routes -------------------------------------------------
 *
 * The route table (routes.c) dispatches
 *   POST /api/v1/apis/import         -> cp_apkconf_import(req, err)
 *   GET  /api/v1/apis/{id}/apk-conf  -> cp_apkconf_export(req, err)
 *   GET  /api/v1/apis/{id}/crs       -> cp_crs_export(req, err)
 * (apkconf.h). For these routes http.c does NOT check the Content-Type
 * nor parse JSON: req->body/req->body_len hold the raw body (at most 1 MiB,
 * larger bodies got 413 already), req->json is NULL, req->params[0] is {id}
 * for the export. The import answers with cp_req_reply_json(req, 201, api,
 * err); the export with cp_req_reply_raw(req, 200, yaml, len,
 * "application/yaml"). */

#endif
