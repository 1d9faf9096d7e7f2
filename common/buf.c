/* Bounded growable buffer (see buf.h). */
#include "buf.h"

#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gw_buf_init(struct gw_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void gw_buf_cleanup(struct gw_buf *b)
{
    gw_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static enum gw_buf_result fail(struct gw_buf *b, enum gw_buf_result r)
{
    gw_buf_cleanup(b);
    return r;
}

size_t gw_buf_cap_for(const struct gw_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return b->cap;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return b->cap;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > ((size_t)-1) / 2 ? need : ncap * 2;
    return ncap > b->max + 1 ? b->max + 1 : ncap;
}

static enum gw_buf_result reserve(struct gw_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return fail(b, GW_BUF_TOOBIG);
    size_t ncap = gw_buf_cap_for(b, extra);
    if (ncap == b->cap)
        return GW_BUF_OK;
    char *p = gw_realloc(b->data, ncap);
    if (!p)
        return fail(b, GW_BUF_NOMEM);
    b->data = p;
    b->cap = ncap;
    return GW_BUF_OK;
}

enum gw_buf_result gw_buf_append(struct gw_buf *b, const void *p, size_t n)
{
    enum gw_buf_result r = reserve(b, n);
    if (r != GW_BUF_OK)
        return r;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return GW_BUF_OK;
}

enum gw_buf_result gw_buf_append_str(struct gw_buf *b, const char *s)
{
    return gw_buf_append(b, s, strlen(s));
}

enum gw_buf_result gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, GW_BUF_NOMEM);
    enum gw_buf_result r = reserve(b, (size_t)n);
    if (r != GW_BUF_OK)
        return r;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return GW_BUF_OK;
}

void gw_buf_consume(struct gw_buf *b, size_t n)
{
    if (n >= b->len) {
        gw_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void gw_buf_reset(struct gw_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *gw_buf_take(struct gw_buf *b)
{
    char *p = b->data;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
