/* A growable byte buffer with a hard cap (after curl's dynbuf).
 *
 * Every body, header block and SSE line we accumulate lives in one of these.
 * Appending past the cap fails with GW_BUF_TOOBIG and frees the contents, so
 * a hostile peer can never make us grow without bound. Always NUL-terminated
 * (the NUL is not counted in len). Not thread-safe; owned by one request. */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stddef.h>

struct gw_buf {
    char *data; /* NULL until the first append */
    size_t len; /* bytes used, excluding the trailing NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on len */
};

enum gw_buf_result {
    GW_BUF_OK = 0,      /* appended */
    GW_BUF_TOOBIG = -1, /* would exceed max; buffer freed and reset */
    GW_BUF_NOMEM = -2   /* allocation failed; buffer freed and reset */
};

/* Initialises an empty buffer that may hold at most max bytes. */
void gw_buf_init(struct gw_buf *b, size_t max);

/* Appends n bytes. See enum gw_buf_result. */
enum gw_buf_result gw_buf_append(struct gw_buf *b, const void *p, size_t n);

/* The bytes b will have allocated after appending extra bytes (its
 * current capacity when they fit, or when they would go over max). */
size_t gw_buf_cap_for(const struct gw_buf *b, size_t extra);

/* Appends a NUL-terminated string. */
enum gw_buf_result gw_buf_append_str(struct gw_buf *b, const char *s);

/* Appends printf-formatted text. */
enum gw_buf_result gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Drops the first n bytes (n <= len), keeping the rest. */
void gw_buf_consume(struct gw_buf *b, size_t n);

/* Empties the buffer but keeps its memory. */
void gw_buf_reset(struct gw_buf *b);

/* Hands the data to the caller (who frees it with gw_free) and resets b.
 * Returns NULL when the buffer is empty and was never allocated. */
char *gw_buf_take(struct gw_buf *b);

/* Frees the memory; the buffer stays usable with the same max. */
void gw_buf_cleanup(struct gw_buf *b);

#endif
