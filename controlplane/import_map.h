/* The mapping shared by the two import front ends (apk-conf in
 * apkconf_import.c, Kubernetes custom resources in crs_import.c): both turn
 * their YAML into one "description" of REST JSON bodies with these
 * functions, so vendors, endpoints, security, rate limits, round-robin
 * targets and secrets are mapped by one piece of code and the two formats
 * cannot drift. import_apply.c then creates the description in one
 * transaction through the resource layer (resources.h), which owns every
 * validation rule.
 *
 * The description (every item carries "line", "column" and "at", the
 * position text that prefixes a resource-layer error about it):
 *
 *   {"api":       {REST API body without "vendor"},
 *    "vendor":    {"name", "apiVersion"?, "line", "column", "at",
 *                  "create": {REST vendor body}?  (create when no vendor has
 *                                                  that name, else reuse)},
 *    "secrets":   [{"name", "values": {key: value}, "line", "column", "at"}],
 *    "endpoints": [{"ref", "line", "column", "at", "body": {REST endpoint}}],
 *    "policies":  [{"policyName", "line", "column", "at",
 *                   "body": {REST policy whose "endpoint" members hold refs}}]}
 *
 * Pure functions, any thread. */
#ifndef CP_IMPORT_MAP_H
#define CP_IMPORT_MAP_H

#include <jansson.h>

#include "common/err.h"
#include "common/limits.h"
#include "yaml_tree.h"

/* The contract's bounds (common/limits.h), so a value the import reads is
 * refused with its line when the resource layer would refuse it anyway. */
#define CP_IM_BIG_LIMIT GW_RATE_LIMIT_MAX
#define CP_IM_MAX_SUSPEND_SEC GW_SUSPEND_MAX_S
#define CP_IM_MAX_TIMEOUT_MS GW_TIMEOUT_MAX_MS

extern const char *const cp_im_env_names[2]; /* "production", "sandbox" */

/* APK's names of its built-in AIProviders <-> modelmux's built-in vendors
 * (ai-provider-open-ai = OpenAI, ai-provider-azure-ai = AzureOpenAI,
 * ai-provider-mistral-ai = Mistral). NULL when s is not one of them. */
const char *cp_im_builtin_vendor(const char *apk_name);
const char *cp_im_builtin_apk_name(const char *vendor);

/* APK's spelling of a REST unit: "minute" -> "Minute" (hour, day alike). */
const char *cp_im_unit_apk(const char *unit);

/* A new, empty description (NULL on no memory). */
json_t *cp_im_desc_new(void);

/* obj[key] = val (new reference, stolen; NULL val means an allocation
 * failed): 0, or -1 with GW_ERR_NOMEM. */
int cp_im_put(json_t *obj, const char *key, json_t *val, struct gw_err *err);
int cp_im_put_str(json_t *obj, const char *key, const char *s, struct gw_err *err);

/* Copies an optional integer in [min, max] / bool at key of map to obj[name]. */
int cp_im_copy_int(const struct cp_ynode *map, const char *key, long long min, long long max,
                   json_t *obj, const char *name, struct gw_err *err);
int cp_im_copy_bool(const struct cp_ynode *map, const char *key, json_t *obj, const char *name,
                    struct gw_err *err);

/* Copies an optional sequence of strings at key of map (e.g. an operation's
 * scopes) to obj[name] when it has items; the REST rules check the values. */
int cp_im_copy_strs(const struct cp_ynode *map, const char *key, json_t *obj, const char *name,
                    struct gw_err *err);

/* Sets "line", "column" and "at" (= doc, when not NULL, then "line L,
 * column C") of item from n. */
int cp_im_put_pos(json_t *item, const struct cp_ynode *n, const char *doc, struct gw_err *err);

/* Appends a new item at n's position to desc[list] ("endpoints",
 * "policies", "secrets") with a new empty "body" object (except secrets).
 * *item and *body are borrowed from desc. */
int cp_im_add_item(json_t *desc, const char *list, const struct cp_ynode *n, const char *doc,
                   json_t **item, json_t **body, struct gw_err *err);

/* The endpoint item of desc whose body[key] equals value (in env, or any
 * environment when env is NULL): the first match, *count the number. */
json_t *cp_im_find_endpoint(json_t *desc, const char *env, const char *key, const char *value,
                            int *count);

/* The endpoint's REST "security": secret name, the key in it, the header
 * (NULL: the vendor's) and the prefix (NULL: the vendor's). */
int cp_im_security(json_t *ep, const char *secret, const char *secret_key, const char *header,
                   const char *prefix, struct gw_err *err);

/* The unit at key of map: "Minute"/"minute" -> "minute" (hour, day alike);
 * required. *out is a static string. */
int cp_im_unit(const struct cp_ynode *map, const char *key, const char **out, struct gw_err *err);

/* The limits of one APK AI rate limit, as both formats carry them. */
struct cp_im_limits {
    const struct cp_ynode *token;   /* the mapping holding the token unit, or NULL */
    const struct cp_ynode *request; /* the mapping holding the request unit, or NULL */
    const char *what, *token_what, *request_what; /* names in messages */
    long long tokens[3]; /* request, response, total tokens; 0 = no limit */
    long long requests;  /* 0 = no limit */
};

/* Fills body with an aiRateLimit policy of scope "api" from l. Both units
 * ("unit" of l->token and of l->request) must agree (else 400 at the
 * request unit); at least one limit above 0 (else 400 at at). */
int cp_im_ratelimit(const struct cp_im_limits *l, const struct cp_ynode *at, json_t *body,
                    struct gw_err *err);

/* A round-robin or failover target {"model", "endpoint": ref, "weight"?}
 * (weight 0: none). *out new reference. */
int cp_im_target(const char *model, const char *ref, long long weight, json_t **out,
                 struct gw_err *err);

/* An endpoint's TLS settings as both formats extend them (x-modelmux.tls,
 * what: its name in messages): {caCert?, clientCert?, clientKey?
 * {secretName, secretKey}} -> the REST endpoint's "tls" (merged into an
 * existing one; checked by the resource layer as over REST). The key itself
 * is a secret's, never in the document. */
int cp_im_tls(const struct cp_ynode *t, const char *what, json_t *ep, struct gw_err *err);

/* Writes the REST endpoint's tls (borrowed) as the mapping cp_im_tls reads,
 * under the key "tls" of the current mapping; with_ca 0 leaves caCert out
 * (a format that has its own field for it). Nothing when there is nothing
 * to write. 0 or -1. */
struct cp_yemit;
int cp_im_emit_tls(struct cp_yemit *e, const json_t *tls, int with_ca);

/* Replaces, in place, every string member named "endpoint" anywhere in body
 * by ids[<that string>] (ids: ref -> endpoint id, borrowed). -1 with err
 * when a ref has no id (an internal error) or on no memory. */
int cp_im_resolve_refs(json_t *body, const json_t *ids, struct gw_err *err);

#endif
