/* WSO2 APK's Kubernetes custom resources <-> modelmux (SPEC section 7.1).
 *
 *   crs_import.c  (with crs_routes.c, crs_policy.c, crs_provider.c,
 *                 crs_secret.c; crs_doc.h) a multi-document YAML stream of CRs (one API, its
 *                 HTTPRoutes, Backends, APIPolicies, AIProviders, an
 *                 AIRateLimitPolicy, Secrets) -> an import description
 *                 (import_map.h), created by import_apply.c in one
 *                 transaction from the import route (apkconf.c)
 *   crs_export.c  one API, its vendor, endpoints and policies -> the same
 *                 kinds as YAML, which crs_import.c reads back to the same API
 *
 * The mapping, the modelmux extensions (x-modelmux…) and the choices where
 * APK has no form are documented in controlplane/README-apkconf.md.
 * Pure functions, any thread. */
#ifndef CP_CRS_H
#define CP_CRS_H

#include <stddef.h>

#include <jansson.h>

#include "common/err.h"
#include "yaml_tree.h"

#define CP_CRS_MAX_DOCS 256 /* documents in one body */

/* 1 when the first document of docs (from cp_yt_parse) is a Kubernetes
 * object (a mapping with "kind" and "apiVersion"), else 0 (an apk-conf). */
int cp_crs_detect(const struct cp_ynode *docs);

/* Translates the documents into a new description (*out, new reference).
 * Returns 0, or -1 with err: GW_ERR_INVALID whose message starts with the
 * document (`Backend "name", line L, column C: <problem>`), GW_ERR_NOMEM. */
int cp_crs_parse(const struct cp_ynode *docs, json_t **out, struct gw_err *err);

/* Writes one API as CRs (all borrowed: the REST API, its vendor, the arrays
 * of its endpoints and policies). Secret values are never written: Backends
 * name their Secret, no Secret document is emitted. Returns 0 with *out
 * (gw_malloc'd, NUL-terminated) and *out_len, or -1 with err. */
int cp_crs_emit(const json_t *api, const json_t *vendor, const json_t *endpoints,
                const json_t *policies, char **out, size_t *out_len, struct gw_err *err);

#endif
