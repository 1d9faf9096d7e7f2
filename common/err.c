/* Error detail helpers (see err.h). */
#include "err.h"

#include <stdio.h>
#include <string.h>

void gw_err_clear(struct gw_err *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof(*err));
}

int gw_err_set(struct gw_err *err, enum gw_err_kind kind, const char *code, const char *field,
               const char *fmt, ...)
{
    if (!err)
        return -1;
    err->kind = kind;
    snprintf(err->code, sizeof(err->code), "%s", code ? code : "error");
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

int gw_err_http_status(enum gw_err_kind kind)
{
    switch (kind) {
    case GW_ERR_NONE:
        return 200;
    case GW_ERR_INVALID:
        return 400;
    case GW_ERR_AUTH:
        return 401;
    case GW_ERR_FORBIDDEN:
        return 403;
    case GW_ERR_NOT_FOUND:
        return 404;
    case GW_ERR_METHOD:
        return 405;
    case GW_ERR_CONFLICT:
        return 409;
    case GW_ERR_TOO_LARGE:
        return 413;
    case GW_ERR_MEDIA_TYPE:
        return 415;
    case GW_ERR_NOMEM:
    case GW_ERR_UNAVAILABLE:
        return 503;
    case GW_ERR_INTERNAL:
        break;
    }
    return 500;
}
