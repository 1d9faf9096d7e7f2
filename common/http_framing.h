/* Strict HTTP/1.1 request framing and header checks (SPEC 5, RFC 9112
 * 6.1/6.3, RFC 9110 5.5), shared by both listeners.
 *
 * MHD-free: each binary walks its MHD header list (MHD_get_connection_values_n,
 * which gives value sizes, so NULs show) and feeds every (name, value, length)
 * triple here, then asks for the verdict before anything else looks at the
 * request. A refusal is answered with its status and the connection closed.
 * Thread: any (the state is the caller's). */
#ifndef GW_HTTP_FRAMING_H
#define GW_HTTP_FRAMING_H

#include <stddef.h>

struct gw_framing {
    size_t header_bytes;  /* "name: value\r\n" summed */
    int url_too_long;     /* the raw request target is over the limit */
    const char *cl;       /* first Content-Length value */
    size_t cl_len;
    int cl_differs;       /* a later Content-Length differs from the first */
    int te_count;         /* Transfer-Encoding header lines */
    int te_other;         /* a Transfer-Encoding value that is not "chunked" */
    int bad_value;        /* CR, LF or NUL inside a value, or a malformed line */
};

struct gw_framing_verdict {
    int status;          /* 0 (fine), 400, 414 or 431 */
    const char *code;    /* short error code */
    const char *message; /* human text, static */
};

void gw_framing_init(struct gw_framing *f);
/* One header line; value holds value_len bytes (NULs included). */
void gw_framing_header(struct gw_framing *f, const char *name, size_t name_len,
                       const char *value, size_t value_len);
/* A header line that was not well formed where the caller's parser could
 * tell (a bare LF, an obs-fold line, bytes hidden after a NUL). */
void gw_framing_bad_line(struct gw_framing *f);
/* Whether a raw request target (path and query) is within the URL bounds:
 * at most GW_HTTP_URL_MAX_BYTES, and at most GW_HTTP_QUERY_ARGS_MAX query
 * arguments; the caller marks one that is not with gw_framing_url_too_long. */
int gw_framing_url_ok(const char *target);
void gw_framing_url_too_long(struct gw_framing *f);
struct gw_framing_verdict gw_framing_verdict(const struct gw_framing *f);

#endif
