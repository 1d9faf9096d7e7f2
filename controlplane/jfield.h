/* Reading and validating fields of JSON request bodies.
 *
 * Every getter names the offending field in its error (GW_ERR_INVALID, the
 * message starts with the field's path, err->field holds it), so the 400s
 * of SPEC 2.1 all read the same way. A field set to JSON null counts as
 * absent. prefix is the path of obj inside the body ("" or NULL at top
 * level, else e.g. "production[1]"). Pure functions, any thread. */
#ifndef CP_JFIELD_H
#define CP_JFIELD_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "common/rules.h"
#include "common/utf8.h"

enum cp_jf_flags {
    CP_JF_REQUIRED = 1, /* absent (or null) is an error */
    CP_JF_NAME = 2,     /* 1..max characters, no control characters */
    CP_JF_NO_CTL = 4,   /* 0..max characters, no control characters (header value parts) */
    CP_JF_TOKEN = 8     /* an HTTP header name: 1..max of RFC 9110 tchar */
};

/* Writes prefix + "." + key (or key alone) into out. */
void cp_jf_path(char *out, size_t outsz, const char *prefix, const char *key);

/* String field: *out borrowed from obj, NULL when absent and optional.
 * max is in characters (UTF-8 code points); 0 = no bound. */
int cp_jf_str(json_t *obj, const char *key, const char *prefix, unsigned flags, size_t max,
              const char **out, struct gw_err *err);

/* Boolean field; def when absent. */
int cp_jf_bool(json_t *obj, const char *key, const char *prefix, int def, int *out,
               struct gw_err *err);

/* Integer field in [min, max]; def when absent and not required. */
int cp_jf_int(json_t *obj, const char *key, const char *prefix, int required, json_int_t def,
              json_int_t min, json_int_t max, json_int_t *out, struct gw_err *err);

/* The PATCH merge: a new object with the fields of base, overwritten by the
 * fields of patch ("id" in patch is ignored). Returns a new reference or
 * NULL on allocation failure. */
json_t *cp_json_merge(json_t *base, json_t *patch);

#endif
