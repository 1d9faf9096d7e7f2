/* JSON field validation helpers (see jfield.h). */
#include "jfield.h"

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

size_t cp_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Length (1..4) of the well-formed UTF-8 sequence starting at p, or 0. */
static size_t utf8_seq(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = p[0] >= 0xC2 && p[0] <= 0xDF ? 2 : p[0] >= 0xE0 && p[0] <= 0xEF ? 3
               : p[0] >= 0xF0 && p[0] <= 0xF4                                ? 4
                                                                             : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    /* Overlong 3- and 4-byte forms, UTF-16 surrogates, above U+10FFFF. */
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] > 0x9F) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] > 0x8F))
        return 0;
    return n;
}

int cp_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t n; *p; p += n)
        if (!(n = utf8_seq(p)))
            return 0;
    return 1;
}

void cp_utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    for (size_t n; *p; p += n) {
        if (!(n = utf8_seq(p))) {
            *p = '?';
            n = 1;
        }
    }
}

/* 1 when s holds a control character: C0, DEL, or C1 (U+0080..U+009F,
 * encoded as C2 80..C2 9F). */
static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F))
            return 1;
    return 0;
}

int cp_check_no_control(const char *s, const char *field, struct gw_err *err)
{
    if (has_control(s))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must not contain control characters", field);
    return 0;
}

int cp_check_name(const char *s, const char *field, size_t max, struct gw_err *err)
{
    if (!cp_utf8_valid(s))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be valid UTF-8", field);
    size_t len = cp_utf8_len(s);
    if (len == 0 || (max && len > max))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be 1 to %zu characters", field, max);
    return cp_check_no_control(s, field, err);
}

int cp_check_header_name(const char *s, const char *field, size_t max, struct gw_err *err)
{
    size_t n = strlen(s);
    int ok = n >= 1 && (!max || n <= max);
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
             (s[i] >= 'A' && s[i] <= 'Z') || (s[i] && strchr("!#$%&'*+-.^_`|~", s[i]));
    if (!ok)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be an HTTP header name (letters, digits, !#$%%&'*+-.^_`|~)",
                          field);
    return 0;
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
        if (cp_check_header_name(s, path, max, err) < 0)
            return -1;
    } else if (flags & CP_JF_NAME) {
        if (cp_check_name(s, path, max, err) < 0)
            return -1;
    } else if (max && cp_utf8_len(s) > max) {
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", path,
                          "%s must be at most %zu characters", path, max);
    } else if ((flags & CP_JF_NO_CTL) && cp_check_no_control(s, path, err) < 0) {
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

int cp_json_depth(const char *text, size_t n, int limit)
{
    int depth = 0, deepest = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > deepest && (deepest = depth) > limit)
                return deepest;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return deepest;
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
