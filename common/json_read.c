/* Path-aware JSON field readers for the config model (json_read.h).
 * Stateless; any thread. */
#include "json_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/utf8.h"

void gw_jr_path(char *out, size_t outsz, const char *base, const char *key)
{
    if (base && *base)
        snprintf(out, outsz, "%s.%s", base, key);
    else
        snprintf(out, outsz, "%s", key);
}

void gw_jr_index(char *out, size_t outsz, const char *base, size_t i)
{
    snprintf(out, outsz, "%s[%zu]", base, i);
}

int gw_jr_fail(struct gw_err *err, const char *base, const char *key, const char *fmt, ...)
{
    char path[GW_JR_PATH_MAX], why[256];
    if (key)
        gw_jr_path(path, sizeof(path), base, key);
    else
        snprintf(path, sizeof(path), "%s", base);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return gw_err_set(err, GW_ERR_INVALID, "invalid_config", path, "%s: %s", path, why);
}

/* The member, or NULL when absent. Fails (-1) when absent and required. */
static int member(json_t *obj, const char *base, const char *key, int flags, json_t **out,
                  struct gw_err *err)
{
    *out = json_object_get(obj, key);
    if (!*out && !(flags & GW_JR_OPTIONAL))
        return gw_jr_fail(err, base, key, "is required");
    return 0;
}

int gw_jr_string(json_t *obj, const char *base, const char *key, int flags, size_t minlen,
                 size_t maxlen, const char **out, struct gw_err *err)
{
    json_t *v;
    if (member(obj, base, key, flags, &v, err) < 0)
        return -1;
    if (!v || (json_is_null(v) && (flags & GW_JR_OPTIONAL)))
        return 0;
    if (!json_is_string(v))
        return gw_jr_fail(err, base, key, "must be a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (strlen(s) != len)
        return gw_jr_fail(err, base, key, "must not contain NUL characters");
    if (len < minlen || len > maxlen)
        return gw_jr_fail(err, base, key, "must be %zu to %zu characters long", minlen, maxlen);
    if ((flags & GW_JR_NO_CTL) && gw_has_control(s))
        return gw_jr_fail(err, base, key, "must not contain control characters");
    *out = s;
    return 0;
}

int gw_jr_int(json_t *obj, const char *base, const char *key, int flags, int64_t min,
              int64_t max, int64_t *out, struct gw_err *err)
{
    json_t *v;
    if (member(obj, base, key, flags, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return gw_jr_fail(err, base, key, "must be an integer from %lld to %lld",
                          (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

int gw_jr_bool(json_t *obj, const char *base, const char *key, int flags, int *out,
               struct gw_err *err)
{
    json_t *v;
    if (member(obj, base, key, flags, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return gw_jr_fail(err, base, key, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

int gw_jr_enum(json_t *obj, const char *base, const char *key, int flags,
               const char *const *names, size_t n, int *out, struct gw_err *err)
{
    json_t *v;
    if (member(obj, base, key, flags, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (json_is_string(v))
        for (size_t i = 0; i < n; i++)
            if (strcmp(json_string_value(v), names[i]) == 0) {
                *out = (int)i;
                return 0;
            }
    char list[160] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s\"%s\"", i ? ", " : "",
                                 names[i]);
    return gw_jr_fail(err, base, key, "must be one of %s", list);
}

static int is_array(const json_t *v)
{
    return json_is_array(v);
}

static int is_object(const json_t *v)
{
    return json_is_object(v);
}

/* A member for which is(v) holds; what names the type in the message. */
static int typed_member(json_t *obj, const char *base, const char *key, int flags,
                        int (*is)(const json_t *), const char *what, json_t **out,
                        struct gw_err *err)
{
    json_t *v;
    if (member(obj, base, key, flags, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (!is(v))
        return gw_jr_fail(err, base, key, "must be %s", what);
    *out = v;
    return 0;
}

int gw_jr_array(json_t *obj, const char *base, const char *key, int flags, json_t **out,
                struct gw_err *err)
{
    return typed_member(obj, base, key, flags, is_array, "an array", out, err);
}

int gw_jr_object(json_t *obj, const char *base, const char *key, int flags, json_t **out,
                 struct gw_err *err)
{
    return typed_member(obj, base, key, flags, is_object, "an object", out, err);
}

int gw_jr_is_object(json_t *v, const char *path, struct gw_err *err)
{
    if (!json_is_object(v))
        return gw_jr_fail(err, path, NULL, "must be an object");
    return 0;
}
