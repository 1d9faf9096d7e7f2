/* The walk of an MHD request's headers and URL through http_framing.h, for
 * both listeners' access handlers (first call, headers complete).
 *
 * Header only (static inline) so that libmm_common never links MHD; each
 * binary compiles it against its own MHD. Thread: the caller's.
 *
 * libmicrohttpd 0.9.75 (Debian 12) cuts a header value at a NUL (the rest of
 * the line is dropped, value sizes never show it), ends a line at a bare LF,
 * and joins an obs-fold line into the previous value. None of that is
 * visible in the values, but all of it is in the layout: MHD parses the
 * header block in place, so consecutive header lines lie in its read buffer
 * as "name\0value\0\0" (CR and LF zeroed) and the next name follows exactly
 * two zero bytes after a value. Anything else between two lines (a byte
 * after a NUL, a single LF, a value moved by folding) is refused as a bad
 * header. Later MHD versions parse differently (and refuse these
 * themselves), so the layout check is only compiled for 0.9.75 and older. */
#ifndef GW_HTTP_FRAMING_MHD_H
#define GW_HTTP_FRAMING_MHD_H

#include "http_framing.h"

#include <microhttpd.h>
#include <stdint.h>
#include <string.h>

#if MHD_VERSION < 0x00097600
#define GW_FRAMING_MHD_LAYOUT 1
#else
#define GW_FRAMING_MHD_LAYOUT 0
#endif

struct gw_framing_mhd {
    struct gw_framing f;
    const char *prev_end; /* just past the previous header's value */
};

static inline int gw_framing_mhd_adjacent(const char *prev_end, const char *name)
{
    return (uintptr_t)name - (uintptr_t)prev_end == 2 && prev_end[0] == '\0' &&
           prev_end[1] == '\0';
}

static inline enum MHD_Result gw_framing_mhd_header(void *cls, enum MHD_ValueKind kind,
                                                    const char *key, size_t key_size,
                                                    const char *value, size_t value_size)
{
    (void)kind;
    struct gw_framing_mhd *m = cls;
    if (!value)
        value_size = 0;
    if (GW_FRAMING_MHD_LAYOUT && m->prev_end && !gw_framing_mhd_adjacent(m->prev_end, key))
        gw_framing_bad_line(&m->f);
    m->prev_end = value ? value + value_size : key + key_size;
    gw_framing_header(&m->f, key, key_size, value ? value : "", value_size);
    return MHD_YES;
}

/* The URL bound, on the raw request target. MHD_OPTION_URI_LOG_CALLBACK
 * sees it before MHD splits the query into arguments (each costs pool
 * memory: thousands of them exhaust any pool and MHD drops the connection
 * without an answer). Over the limit, the query is emptied in MHD's buffer
 * (MHD has already found the '?': the bytes after it are cleared too) so
 * that no argument is parsed, and the request's context starts as the mark
 * below, which the access handler turns into the 414. */
static inline void *gw_framing_mhd_uri_mark(void)
{
    static char mark;
    return &mark;
}

static inline void *gw_framing_mhd_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    if (gw_framing_url_ok(uri))
        return NULL;
    char *q = strchr(uri, '?'); /* MHD's own read buffer, writable */
    if (q) {
        q[1] = '\0'; /* q[1] is at worst the terminator */
        q[0] = '\0';
    }
    return gw_framing_mhd_uri_mark();
}

/* The verdict on conn's request; context is the request's context as the
 * access handler's first call found it (gw_framing_mhd_uri's result). */
static inline struct gw_framing_verdict gw_framing_mhd_check(struct MHD_Connection *conn,
                                                             const void *context)
{
    struct gw_framing_mhd m = {.prev_end = NULL};
    gw_framing_init(&m.f);
    if (context == gw_framing_mhd_uri_mark())
        gw_framing_url_too_long(&m.f);
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, gw_framing_mhd_header, &m);
    return gw_framing_verdict(&m.f);
}

#endif
