/* Typed, path-aware field readers for reading the config snapshot into the
 * model (common/config_json.c).
 *
 * Each reader checks one member of a JSON object against what the schema
 * says (type, range, length) and on failure fills a gw_err (GW_ERR_INVALID,
 * code "invalid_config") whose field is the JSON path "base.key" and whose
 * message names it, e.g. "apis[0].policies[1].production[2].weight: must be
 * an integer from 1 to 1000". Values are borrowed from the document (jansson
 * borrowed references). Pure functions; any thread. */
#ifndef GW_JSON_READ_H
#define GW_JSON_READ_H

#include "common/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define GW_JR_PATH_MAX 192

enum gw_jr_flags {
    GW_JR_OPTIONAL = 1, /* absent (or, for strings, JSON null) is fine: out unchanged */
    GW_JR_NO_CTL = 2    /* strings: no control characters (common/utf8.h gw_has_control) */
};

/* Writes "base.key" (or "key" when base is empty) into out. */
void gw_jr_path(char *out, size_t outsz, const char *base, const char *key);

/* Writes "base[i]" into out. */
void gw_jr_index(char *out, size_t outsz, const char *base, size_t i);

/* Fails with the path base.key and a printf-style reason. Returns -1. */
int gw_jr_fail(struct gw_err *err, const char *base, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A string member of length minlen..maxlen. 0 or -1. */
int gw_jr_string(json_t *obj, const char *base, const char *key, int flags, size_t minlen,
                 size_t maxlen, const char **out, struct gw_err *err);

/* An integer member in min..max. 0 or -1. */
int gw_jr_int(json_t *obj, const char *base, const char *key, int flags, int64_t min,
              int64_t max, int64_t *out, struct gw_err *err);

/* A boolean member. 0 or -1. */
int gw_jr_bool(json_t *obj, const char *base, const char *key, int flags, int *out,
               struct gw_err *err);

/* A string member equal to one of names[0..n-1]; *out is its index. 0 or -1. */
int gw_jr_enum(json_t *obj, const char *base, const char *key, int flags,
               const char *const *names, size_t n, int *out, struct gw_err *err);

/* An array (or object) member; *out borrowed. 0 or -1. */
int gw_jr_array(json_t *obj, const char *base, const char *key, int flags, json_t **out,
                struct gw_err *err);
int gw_jr_object(json_t *obj, const char *base, const char *key, int flags, json_t **out,
                 struct gw_err *err);

/* Checks that v (at path) is an object. 0 or -1. */
int gw_jr_is_object(json_t *v, const char *path, struct gw_err *err);

#endif
