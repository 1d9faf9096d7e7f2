/* JSON field validation helpers (see jfield.h). */
#include "jfield.h"

#include "common/rules.h"
#include "common/utf8.h"

#include <stdio.h>
#include <string.h>

void cp_jf_path(char *out, size_t outsz, const char *prefix, const char *key)
{
    if (prefix && *prefix)
        snprintf(out, outsz, "%s.%s", prefix, key);
    else
        snprintf(out, outsz, "%s", key);
}

static json_t *field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static int missing(const char *path, struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_INVALID, "missing_field", path, "%s is required", path);
}

static int wrong_type(const char *path, const char *want, struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_INVALID, "invalid_type", path, "%s must be %s", path, want);
}

int cp_jf_str(json_t *obj, const char *key, const char *prefix, unsigned flags, size_t max,
              const char **out, struct gw_err *err)
{
    char path[128];
    cp_jf_path(path, sizeof(path), prefix, key);
    json_t *v = field(obj, key);
    *out = NULL;
    if (!v)
        return flags & CP_JF_REQUIRED ? missing(path, err) : 0;
    if (!json_is_string(v))
        return wrong_type(path, "a string", err);
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", path,
                          "%s must not contain NUL characters", path);
    if (flags & CP_JF_TOKEN) {
        if (gw_rule_header_name(s, path, max, err) < 0)
            return -1;
    } else if (flags & CP_JF_NAME) {
        if (gw_rule_name(s, path, max, err) < 0)
            return -1;
    } else if (max && gw_utf8_len(s) > max) {
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", path,
                          "%s must be at most %zu characters", path, max);
    } else if ((flags & CP_JF_NO_CTL) && gw_rule_no_control(s, path, err) < 0) {
        return -1;
    }
    *out = s;
    return 0;
}

int cp_jf_bool(json_t *obj, const char *key, const char *prefix, int def, int *out,
               struct gw_err *err)
{
    char path[128];
    cp_jf_path(path, sizeof(path), prefix, key);
    json_t *v = field(obj, key);
    *out = def;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return wrong_type(path, "true or false", err);
    *out = json_is_true(v);
    return 0;
}

int cp_jf_int(json_t *obj, const char *key, const char *prefix, int required, json_int_t def,
              json_int_t min, json_int_t max, json_int_t *out, struct gw_err *err)
{
    char path[128];
    cp_jf_path(path, sizeof(path), prefix, key);
    json_t *v = field(obj, key);
    *out = def;
    if (!v)
        return required ? missing(path, err) : 0;
    if (!json_is_integer(v))
        return wrong_type(path, "an integer", err);
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", path,
                          "%s must be between %lld and %lld", path, (long long)min, (long long)max);
    *out = n;
    return 0;
}

json_t *cp_json_merge(json_t *base, json_t *patch)
{
    json_t *m = json_deep_copy(base);
    if (!m)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach (patch, k, v) {
        if (strcmp(k, "id") != 0 && json_object_set(m, k, v) < 0) {
            json_decref(m);
            return NULL;
        }
    }
    return m;
}
