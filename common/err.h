/* Error details passed from deep code to the place that answers the user.
 *
 * A function that can fail takes a caller-supplied struct gw_err and fills it
 * on failure: a kind (which maps to an HTTP status at the edge, see
 * gw_err_http_status), a human message, and where the problem is (a JSON field
 * path such as "production[1].weight", or a YAML "line 12, column 5"). */
#ifndef GW_ERR_H
#define GW_ERR_H

#include <stdarg.h>

enum gw_err_kind {
    GW_ERR_NONE = 0,   /* no error */
    GW_ERR_INVALID,    /* bad input: malformed, wrong type, missing, invalid (400) */
    GW_ERR_AUTH,       /* missing or wrong credentials (401) */
    GW_ERR_FORBIDDEN,  /* authenticated but not allowed (403) */
    GW_ERR_NOT_FOUND,  /* unknown id or route (404) */
    GW_ERR_METHOD,     /* method not allowed on this route (405) */
    GW_ERR_CONFLICT,   /* name taken, still referenced, incompatible (409) */
    GW_ERR_TOO_LARGE,  /* body or field over its bound (413) */
    GW_ERR_MEDIA_TYPE, /* wrong Content-Type (415) */
    GW_ERR_NOMEM,      /* allocation failed (503) */
    GW_ERR_INTERNAL,   /* database or other internal failure (500) */
    GW_ERR_UNAVAILABLE /* a dependency is down (503) */
};

struct gw_err {
    enum gw_err_kind kind;
    char code[48];     /* short machine code, e.g. "invalid_field" */
    char field[128];   /* JSON path or YAML position, "" when not applicable */
    char message[512]; /* human text; names the field when there is one */
};

/* Clears err (kind NONE, empty strings). err may be NULL. */
void gw_err_clear(struct gw_err *err);

/* Sets kind, code, field (may be NULL) and a printf-style message.
 * err may be NULL (the error is then dropped). Returns -1 so callers can
 * write `return gw_err_set(...)`. */
int gw_err_set(struct gw_err *err, enum gw_err_kind kind, const char *code, const char *field,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* HTTP status for a kind (400, 401, 403, 404, 405, 409, 413, 415, 500, 503). */
int gw_err_http_status(enum gw_err_kind kind);

#endif
