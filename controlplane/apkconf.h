/* apk-conf import and export (SPEC sections 2.2 and 7).
 *
 * The parts, one file each:
 *   apkconf_import.c  apk-conf YAML -> an import description (import_map.h;
 *                     the tree and its errors "line L, column C" come from
 *                     yaml_tree.c, the mapping shared with the custom-resource
 *                     import from import_map.c)
 *   apkconf_export.c  REST JSON of one API, its endpoints and policies ->
 *                     apk-conf YAML (libyaml emitter, yaml_emit.c)
 *   apkconf.c         the route handlers: parse (apk-conf or custom
 *                     resources, crs.h), create in one transaction
 *                     (import_apply.c), and read an API back for the exports
 * The mapping between the two worlds (and the modelmux extensions used where
 * APK has no form) is documented in controlplane/README-apkconf.md.
 *
 * Translation functions are pure (no database, no globals) and thread-safe;
 * the handlers run on the control plane's HTTP thread. */
#ifndef CP_APKCONF_H
#define CP_APKCONF_H

#include <stddef.h>

#include <jansson.h>

#include "common/err.h"
#include "yaml_tree.h"

struct cp_req;

/* Hard bounds on an import body (hostile input; the tree's are in yaml_tree.h). */
#define CP_APKCONF_MAX_BODY (1024 * 1024)      /* bytes; larger bodies get 413 */
#define CP_APKCONF_MAX_DEPTH CP_YT_MAX_DEPTH   /* nested collections */
#define CP_APKCONF_MAX_NODES CP_YT_MAX_NODES   /* scalars + collections */
#define CP_APKCONF_MAX_SCALAR CP_YT_MAX_SCALAR /* bytes in one scalar */

/* Parses an apk-conf document (UTF-8 YAML, len bytes, need not be
 * NUL-terminated) into a new description object:
 *
 *   {"api":       {REST API body without "vendor"},
 *    "vendor":    {"name": "OpenAI", "apiVersion": "v1"|absent, "line": L, "column": C},
 *    "endpoints": [{"ref": "production-1", "line": L, "column": C,
 *                   "body": {REST endpoint body: name, environment, url,
 *                            security?, timeoutMs?}}],
 *    "policies":  [{"line": L, "column": C, "policyName": "ModelBasedRoundRobin",
 *                   "body": {REST policy body whose "endpoint" members hold
 *                            the "ref" of an entry of "endpoints"}}]}
 *
 * (plus "at" texts and empty "secrets", see import_map.h). An endpoint's ref
 * is its name (unique within the document); import_apply.c replaces refs by
 * the created ids.
 *
 * Returns 0 and sets *out (new reference) on success; -1 with err filled
 * (kind GW_ERR_INVALID, field "line L, column C", message starting with the
 * same position) on a malformed, hostile or unsupported document, or
 * GW_ERR_TOO_LARGE when len exceeds CP_APKCONF_MAX_BODY, or GW_ERR_NOMEM. */
int cp_apkconf_parse(const char *yaml, size_t len, json_t **out, struct gw_err *err);

/* Writes one API as apk-conf YAML.
 *   api        the REST API object (borrowed)
 *   vendor     the REST vendor object of api.vendor (borrowed; its "name"
 *              and "apiVersion" are used)
 *   endpoints  array of the API's REST endpoint objects (borrowed)
 *   policies   array of the API's REST policy objects (borrowed)
 * Every policy type of SPEC 2.2 is written in a form cp_apkconf_parse reads
 * back to an equivalent API. Secret values never appear (only secret names).
 * Returns 0 with *out (gw_malloc'd, NUL-terminated, caller frees with
 * gw_free) and *out_len; -1 with err set (GW_ERR_INTERNAL when the stored
 * objects are inconsistent, e.g. a policy naming an unknown endpoint;
 * GW_ERR_NOMEM). */
int cp_apkconf_emit(const json_t *api, const json_t *vendor, const json_t *endpoints,
                    const json_t *policies, char **out, size_t *out_len, struct gw_err *err);

/* --- route handlers (apkconf.c; cp_handler_fn signature of req.h) -------- */

/* POST /api/v1/apis/import: req->body is the raw apk-conf or a stream of
 * custom resources (Content-Type must be application/yaml, or another YAML
 * type: else 415). Custom resources also create their Secrets and, for an
 * AIProvider no vendor is named after, the vendor. Creates the API, its
 * endpoints and policies in one transaction (one config revision) and
 * answers 201 with the API. Any failure (400 naming the line, 409, 413)
 * changes nothing. */
int cp_apkconf_import(struct cp_req *req, struct gw_err *err);

/* GET /api/v1/apis/{id}/apk-conf: answers 200 application/yaml with the API
 * as apk-conf (404 for an unknown id). */
int cp_apkconf_export(struct cp_req *req, struct gw_err *err);

/* GET /api/v1/apis/{id}/crs: the API as Kubernetes custom resources
 * (crs.h), 200 application/yaml (404 for an unknown id). */
int cp_crs_export(struct cp_req *req, struct gw_err *err);

#endif
