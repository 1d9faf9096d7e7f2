/* Strict request framing checks (see http_framing.h). Thread: any. */
#include "http_framing.h"

#include "limits.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#include <string.h>
#include <strings.h>

void gw_framing_init(struct gw_framing *f)
{
    memset(f, 0, sizeof(*f));
}

static int has_ctl(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
            return 1;
    return 0;
}

static int name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

void gw_framing_header(struct gw_framing *f, const char *name, size_t name_len,
                       const char *value, size_t value_len)
{
    f->header_bytes += name_len + value_len + 4;
    if (has_ctl(name, name_len) || has_ctl(value, value_len))
        f->bad_value = 1;
    if (name_is(name, name_len, "Content-Length")) {
        if (!f->cl) {
            f->cl = value;
            f->cl_len = value_len;
        } else if (value_len != f->cl_len || memcmp(value, f->cl, value_len) != 0) {
            f->cl_differs = 1;
        }
    } else if (name_is(name, name_len, "Transfer-Encoding")) {
        f->te_count++;
        /* Only one coding is ever valid for a request: exactly "chunked". */
        if (value_len != 7 || strncasecmp(value, "chunked", 7) != 0)
            f->te_other = 1;
    }
}

void gw_framing_bad_line(struct gw_framing *f)
{
    f->bad_value = 1;
}

int gw_framing_url_ok(const char *target)
{
    if (strlen(target) > GW_HTTP_URL_MAX_BYTES)
        return 0;
    const char *q = strchr(target, '?');
    size_t args = q ? 1 : 0;
    for (; q && *q; q++)
        args += *q == '&' || *q == ';';
    return args <= GW_HTTP_QUERY_ARGS_MAX;
}

void gw_framing_url_too_long(struct gw_framing *f)
{
    f->url_too_long = 1;
}

static struct gw_framing_verdict verdict(int status, const char *code, const char *message)
{
    struct gw_framing_verdict v = {status, code, message};
    return v;
}

struct gw_framing_verdict gw_framing_verdict(const struct gw_framing *f)
{
    if (f->url_too_long)
        return verdict(414, "uri_too_long", "the request URL is over " STR(GW_HTTP_URL_MAX_BYTES) " bytes or " STR(GW_HTTP_QUERY_ARGS_MAX) " query arguments");
    if (f->header_bytes > GW_HTTP_HEADERS_MAX_BYTES)
        return verdict(431, "headers_too_large", "the request headers are over " STR(GW_HTTP_HEADERS_MAX_BYTES) " bytes");
    if (f->bad_value)
        return verdict(400, "bad_header", "a header holds a CR, LF or NUL byte, or is folded");
    if (f->te_count && f->cl)
        return verdict(400, "bad_framing", "Content-Length and Transfer-Encoding together");
    if (f->te_count > 1 || f->te_other)
        return verdict(400, "bad_framing", "the only transfer coding accepted is chunked");
    if (f->cl_differs)
        return verdict(400, "bad_framing", "several different Content-Length values");
    return verdict(0, NULL, NULL);
}
