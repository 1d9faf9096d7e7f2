/* The mapping shared by the apk-conf and custom-resource imports (see
 * import_map.h). Pure functions, any thread. */
#include "import_map.h"

#include "yaml_emit.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const cp_im_env_names[2] = {"production", "sandbox"};

static const struct {
    const char *apk, *vendor;
} builtins[] = {{"ai-provider-open-ai", "OpenAI"},
                {"ai-provider-azure-ai", "AzureOpenAI"},
                {"ai-provider-mistral-ai", "Mistral"}};

const char *cp_im_builtin_vendor(const char *apk_name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].apk, apk_name) == 0)
            return builtins[i].vendor;
    return NULL;
}

const char *cp_im_builtin_apk_name(const char *vendor)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].vendor, vendor) == 0)
            return builtins[i].apk;
    return NULL;
}

const char *cp_im_unit_apk(const char *unit)
{
    return strcmp(unit, "hour") == 0 ? "Hour" : strcmp(unit, "day") == 0 ? "Day" : "Minute";
}

json_t *cp_im_desc_new(void)
{
    json_t *d = json_pack("{s:{}, s:{}, s:[], s:[], s:[]}", "api", "vendor", "secrets", "endpoints",
                          "policies");
    return d;
}

int cp_im_put(json_t *obj, const char *key, json_t *val, struct gw_err *err)
{
    if (json_object_set_new(obj, key, val) != 0)
        return cp_yt_nomem(err);
    return 0;
}

int cp_im_put_str(json_t *obj, const char *key, const char *s, struct gw_err *err)
{
    return cp_im_put(obj, key, json_string(s), err);
}

int cp_im_copy_int(const struct cp_ynode *map, const char *key, long long min, long long max,
                   json_t *obj, const char *name, struct gw_err *err)
{
    long long x = 0;
    int present = 0;

    if (cp_yt_int(map, key, min, max, &x, &present, err) < 0)
        return -1;
    return present ? cp_im_put(obj, name, json_integer(x), err) : 0;
}

int cp_im_copy_bool(const struct cp_ynode *map, const char *key, json_t *obj, const char *name,
                    struct gw_err *err)
{
    int b = 0, present = 0;

    if (cp_yt_bool(map, key, &b, &present, err) < 0)
        return -1;
    return present ? cp_im_put(obj, name, json_boolean(b), err) : 0;
}

int cp_im_copy_strs(const struct cp_ynode *map, const char *key, json_t *obj, const char *name,
                    struct gw_err *err)
{
    const struct cp_ynode *seq = cp_yt_get(map, key);
    json_t *arr;

    if (!seq || cp_yt_is_null(seq))
        return 0;
    if (cp_yt_need_seq(seq, key, err) < 0)
        return -1;
    if (seq->n == 0)
        return 0;
    if (!(arr = json_array()) || cp_im_put(obj, name, arr, err) < 0)
        return arr ? -1 : cp_yt_nomem(err);
    for (size_t i = 0; i < seq->n; i++) {
        const struct cp_ynode *s = seq->items[i];
        if (s->kind != CP_YT_SCALAR)
            return cp_yt_fail(err, s->line, s->col, "%s must be a list of strings", key);
        if (json_array_append_new(arr, json_stringn(s->str, s->len)) != 0)
            return cp_yt_nomem(err);
    }
    return 0;
}

int cp_im_put_pos(json_t *item, const struct cp_ynode *n, const char *doc, struct gw_err *err)
{
    char at[300];

    if (doc)
        snprintf(at, sizeof(at), "%.200s, line %d, column %d", doc, n->line, n->col);
    else
        snprintf(at, sizeof(at), "line %d, column %d", n->line, n->col);
    if (cp_im_put(item, "line", json_integer(n->line), err) < 0 ||
        cp_im_put(item, "column", json_integer(n->col), err) < 0)
        return -1;
    return cp_im_put_str(item, "at", at, err);
}

int cp_im_add_item(json_t *desc, const char *list, const struct cp_ynode *n, const char *doc,
                   json_t **item, json_t **body, struct gw_err *err)
{
    json_t *it = json_object();

    *item = it;
    if (body)
        *body = NULL;
    if (!it || json_array_append_new(json_object_get(desc, list), it) != 0)
        return cp_yt_nomem(err);
    if (cp_im_put_pos(it, n, doc, err) < 0)
        return -1;
    if (!body)
        return 0;
    *body = json_object();
    return cp_im_put(it, "body", *body, err);
}

json_t *cp_im_find_endpoint(json_t *desc, const char *env, const char *key, const char *value,
                            int *count)
{
    json_t *found = NULL, *e;
    size_t i;

    *count = 0;
    json_array_foreach (json_object_get(desc, "endpoints"), i, e) {
        json_t *body = json_object_get(e, "body");
        const char *have_env = json_string_value(json_object_get(body, "environment"));
        const char *have = json_string_value(json_object_get(body, key));
        if (!have || !have_env || (env && strcmp(have_env, env) != 0))
            continue;
        if (strcmp(have, value) == 0) {
            if (!found)
                found = e;
            (*count)++;
        }
    }
    return found;
}

int cp_im_security(json_t *ep, const char *secret, const char *secret_key, const char *header,
                   const char *prefix, struct gw_err *err)
{
    json_t *sec = json_object();

    if (cp_im_put(ep, "security", sec, err) < 0 || cp_im_put_str(sec, "secret", secret, err) < 0 ||
        (secret_key && cp_im_put_str(sec, "secretKey", secret_key, err) < 0) ||
        (header && cp_im_put_str(sec, "header", header, err) < 0) ||
        (prefix && cp_im_put_str(sec, "prefix", prefix, err) < 0))
        return -1;
    return 0;
}

int cp_im_unit(const struct cp_ynode *map, const char *key, const char **out, struct gw_err *err)
{
    static const char *const units[] = {"minute", "hour", "day", NULL};
    const struct cp_ynode *v;
    const char *u = NULL;

    if (cp_yt_str(map, key, 1, &u, err) < 0)
        return -1;
    for (const char *const *p = units; *p; p++) {
        if (strcasecmp(*p, u) == 0) {
            *out = *p;
            return 0;
        }
    }
    v = cp_yt_get(map, key);
    return cp_yt_fail(err, v->line, v->col, "%s must be Minute, Hour or Day", key);
}

int cp_im_ratelimit(const struct cp_im_limits *l, const struct cp_ynode *at, json_t *body,
                    struct gw_err *err)
{
    static const char *const names[3] = {"requestTokens", "responseTokens", "totalTokens"};
    const char *unit = NULL, *unit2 = NULL;
    int any = 0;

    if (cp_im_put_str(body, "type", "aiRateLimit", err) < 0 ||
        cp_im_put_str(body, "scope", "api", err) < 0)
        return -1;
    if (l->token && cp_im_unit(l->token, "unit", &unit, err) < 0)
        return -1;
    if (l->request && cp_im_unit(l->request, "unit", &unit2, err) < 0)
        return -1;
    if (unit && unit2 && strcmp(unit, unit2) != 0) {
        const struct cp_ynode *u = cp_yt_get(l->request, "unit");
        return cp_yt_fail(err, u->line, u->col,
                          "%s.unit must equal %s.unit (modelmux has one unit per rate limit)",
                          l->request_what, l->token_what);
    }
    for (size_t i = 0; i < 3; i++) {
        if (l->tokens[i] <= 0)
            continue;
        any = 1;
        if (cp_im_put(body, names[i], json_integer(l->tokens[i]), err) < 0)
            return -1;
    }
    if (l->requests > 0) {
        any = 1;
        if (cp_im_put(body, "requests", json_integer(l->requests), err) < 0)
            return -1;
    }
    if (!any || !(unit ? unit : unit2))
        return cp_yt_fail(err, at->line, at->col, "%s sets no limit above 0", l->what);
    return cp_im_put_str(body, "unit", unit ? unit : unit2, err);
}

int cp_im_target(const char *model, const char *ref, long long weight, json_t **out,
                 struct gw_err *err)
{
    json_t *t = json_object();

    *out = t;
    if (!t)
        return cp_yt_nomem(err);
    if (cp_im_put_str(t, "model", model, err) < 0 || cp_im_put_str(t, "endpoint", ref, err) < 0 ||
        (weight > 0 && cp_im_put(t, "weight", json_integer(weight), err) < 0))
        return -1;
    return 0;
}

int cp_im_resolve_refs(json_t *body, const json_t *ids, struct gw_err *err)
{
    const char *key;
    json_t *v;
    size_t i;

    if (json_is_array(body)) {
        json_array_foreach (body, i, v) {
            if (cp_im_resolve_refs(v, ids, err) < 0)
                return -1;
        }
        return 0;
    }
    if (!json_is_object(body))
        return 0;
    json_object_foreach (body, key, v) {
        if (strcmp(key, "endpoint") == 0 && json_is_string(v)) {
            json_t *id = json_object_get(ids, json_string_value(v));
            if (!json_is_string(id))
                return gw_err_set(err, GW_ERR_INTERNAL, "internal", NULL,
                                  "imported endpoint %s was not created", json_string_value(v));
            if (json_string_set(v, json_string_value(id)) != 0)
                return cp_yt_nomem(err);
        } else if (cp_im_resolve_refs(v, ids, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Endpoint TLS (x-modelmux.tls)
 * ------------------------------------------------------------------------ */

/* ep's "tls", created empty when absent. NULL on no memory. */
static json_t *tls_of(json_t *ep)
{
    json_t *tls = json_object_get(ep, "tls");
    if (json_is_object(tls))
        return tls;
    tls = json_object();
    return tls && json_object_set_new(ep, "tls", tls) == 0 ? tls : NULL;
}

int cp_im_tls(const struct cp_ynode *t, const char *what, json_t *ep, struct gw_err *err)
{
    static const char *const keys[] = {"caCert", "clientCert", "clientKey", NULL};
    static const char *const key_keys[] = {"secretName", "secretKey", NULL};
    const struct cp_ynode *ck;
    const char *ca, *cert, *secret = NULL, *secret_key = NULL;
    char sub[96];
    json_t *tls, *key;

    if (cp_yt_need_map(t, what, err) < 0 || cp_yt_check_keys(t, keys, NULL, what, err) < 0 ||
        cp_yt_str(t, "caCert", 0, &ca, err) < 0 || cp_yt_str(t, "clientCert", 0, &cert, err) < 0)
        return -1;
    if (!(tls = tls_of(ep)) || (ca && cp_im_put_str(tls, "caCert", ca, err) < 0) ||
        (cert && cp_im_put_str(tls, "clientCert", cert, err) < 0))
        return tls ? -1 : cp_yt_nomem(err);
    if (!(ck = cp_yt_get(t, "clientKey")))
        return 0;
    snprintf(sub, sizeof(sub), "%s.clientKey", what);
    if (cp_yt_need_map(ck, sub, err) < 0 || cp_yt_check_keys(ck, key_keys, NULL, sub, err) < 0 ||
        cp_yt_str(ck, "secretName", 1, &secret, err) < 0 ||
        cp_yt_str(ck, "secretKey", 1, &secret_key, err) < 0)
        return -1;
    if (!(key = json_object()) || cp_im_put(tls, "clientKey", key, err) < 0)
        return cp_yt_nomem(err);
    return cp_im_put_str(key, "secret", secret, err) < 0 ||
                   cp_im_put_str(key, "secretKey", secret_key, err) < 0
               ? -1
               : 0;
}

int cp_im_emit_tls(struct cp_yemit *e, const json_t *tls, int with_ca)
{
    const json_t *ck = json_object_get(tls, "clientKey");
    int ca = with_ca && json_object_get(tls, "caCert");
    if (!ca && !json_object_get(tls, "clientCert"))
        return 0;
    return cp_ye_key(e, "tls") < 0 || cp_ye_map_start(e) < 0 ||
                   (ca && cp_ye_opt_str(e, "caCert", tls, "caCert") < 0) ||
                   cp_ye_opt_str(e, "clientCert", tls, "clientCert") < 0 ||
                   (json_is_object(ck) &&
                    (cp_ye_key(e, "clientKey") < 0 || cp_ye_map_start(e) < 0 ||
                     cp_ye_opt_str(e, "secretName", ck, "secret") < 0 ||
                     cp_ye_opt_str(e, "secretKey", ck, "secretKey") < 0 || cp_ye_map_end(e) < 0)) ||
                   cp_ye_map_end(e) < 0
               ? -1
               : 0;
}
