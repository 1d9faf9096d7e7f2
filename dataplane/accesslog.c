/* The JSON access log (see accesslog.h). dp_accesslog_write: any thread;
 * the only state is a per-thread copy of the last timestamp text. A struct
 * dp_accesslog buffer belongs to one worker thread. */
#include "accesslog.h"

#include "common/alloc.h"
#include "common/fmt.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/utf8.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- JSON strings ------------------------------------------------------------
 *
 * Written into memory sized for the worst case by the caller: every input byte
 * takes at most 6 output bytes (\u00XX, \ufffd), plus the two quotes. */

#define ESC_MAX(n) (6 * (n) + 2)

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

/* s (not NULL) as a JSON string literal at o; returns the end. */
static char *put_str(char *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) {
            *o++ = (char)*p++;
            continue;
        }
        /* Paths are percent-decoded by MHD: any byte may come. JSON must
         * stay valid UTF-8, so a byte that starts no valid sequence is
         * written as U+FFFD. */
        size_t n = *p >= 0x80 ? gw_utf8_seq(p, 4) : 0;
        if (n > 0) {
            o = put(o, (const char *)p, n);
            p += n;
            continue;
        }
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p == '\n') {
            o = PUT_LIT(o, "\\n");
        } else if (*p >= 0x80) {
            o = PUT_LIT(o, "\\ufffd");
        } else {
            o = PUT_LIT(o, "\\u00");
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
        p++;
    }
    *o++ = '"';
    return o;
}

int dp_json_str(struct gw_buf *out, const char *s)
{
    if (!s)
        return gw_buf_append_str(out, "null") == GW_BUF_OK ? 0 : -1;
    size_t n = strlen(s);
    char stack[512];
    char *tmp = n <= (sizeof(stack) - 2) / 6 ? stack
                : n < ((size_t)-1) / 6 - 1 ? gw_malloc(ESC_MAX(n))
                                            : NULL;
    if (!tmp) {
        gw_buf_cleanup(out); /* as a failed append would */
        return -1;
    }
    char *end = put_str(tmp, s);
    int rc = gw_buf_append(out, tmp, (size_t)(end - tmp)) == GW_BUF_OK ? 0 : -1;
    if (tmp != stack)
        gw_free(tmp);
    return rc;
}

/* ---- the line, written without printf ---------------------------------------
 *
 * One line per request: formatting it with printf cost about a tenth of the
 * whole request path. The line is written into a buffer sized for the worst
 * case (every byte of every string escaped as \u00XX), on the stack when it
 * fits, so no bounds are checked while writing. */

#define LINE_STACK 2048
#define FIXED_MAX 640 /* names, punctuation, timestamp, six integers and flags */

static char *put_opt_str(char *o, const char *s)
{
    return s ? put_str(o, s) : PUT_LIT(o, "null");
}

/* v as decimal, or null when negative (unknown). */
static char *put_int(char *o, int64_t v)
{
    if (v < 0)
        return PUT_LIT(o, "null");
    return gw_fmt_u64(o, (uint64_t)v, 10);
}

/* The timestamp of second t; the last one is kept per thread, as a worker
 * logs many lines in the same second. */
static const char *timestamp(int64_t t)
{
    static _Thread_local int64_t last_t = INT64_MIN;
    static _Thread_local char last[32];
    if (t != last_t) {
        gw_format_rfc3339(t, last);
        last_t = t;
    }
    return last;
}

static size_t worst_len(const char *s)
{
    return s ? ESC_MAX(strlen(s)) : 4;
}

#define TRY_FIXED_MAX 96 /* one try's names, punctuation, outcome and integer */

static size_t tries_worst_len(const struct dp_trylog *l)
{
    size_t n = 64;
    for (int i = 0; l && i < l->n; i++)
        n += TRY_FIXED_MAX + worst_len(l->rec[i].model) + worst_len(l->rec[i].endpoint);
    return n;
}

/* ,"tries":[{"model":..,"endpoint":..,"outcome":..,"ms":N},...] */
static char *put_tries(char *o, const struct dp_trylog *l)
{
    o = PUT_LIT(o, ",\"tries\":[");
    for (int i = 0; l && i < l->n; i++) {
        const struct dp_try_rec *t = &l->rec[i];
        if (i)
            *o++ = ',';
        o = PUT_LIT(o, "{\"model\":");
        o = put_opt_str(o, t->model);
        o = PUT_LIT(o, ",\"endpoint\":");
        o = put_opt_str(o, t->endpoint);
        o = PUT_LIT(o, ",\"outcome\":");
        o = put_str(o, dp_try_outcome_names[t->outcome]);
        o = PUT_LIT(o, ",\"ms\":");
        o = put_int(o, t->ms);
        *o++ = '}';
    }
    *o++ = ']';
    if (l && l->total > l->n) {
        o = PUT_LIT(o, ",\"triesNotListed\":");
        o = put_int(o, l->total - l->n);
    }
    return o;
}

/* The longest line a could give (with its newline). */
static size_t line_max(const struct dp_access *a)
{
    return FIXED_MAX + worst_len(a->id) + worst_len(a->method) + worst_len(a->path) +
           worst_len(a->api) + worst_len(a->requested_model) + worst_len(a->model) +
           worst_len(a->endpoint) + tries_worst_len(a->tries) +
           (a->tls_error ? 16 + worst_len(a->tls_error) : 0) + 1;
}

/* Writes a's line and its newline at line (line_max(a) bytes); returns the
 * length. */
static size_t format_line(char *line, const struct dp_access *a)
{
    const char *ts = timestamp(a->wall_ms / 1000);
    char *o = PUT_LIT(line, "{\"time\":\"");
    o = put(o, ts, strlen(ts));
    o = PUT_LIT(o, "\",\"id\":");
    o = put_opt_str(o, a->id);
    o = PUT_LIT(o, ",\"method\":");
    o = put_opt_str(o, a->method);
    o = PUT_LIT(o, ",\"path\":");
    o = put_opt_str(o, a->path);
    o = PUT_LIT(o, ",\"api\":");
    o = put_opt_str(o, a->api);
    o = PUT_LIT(o, ",\"requestedModel\":");
    o = put_opt_str(o, a->requested_model);
    o = PUT_LIT(o, ",\"model\":");
    o = put_opt_str(o, a->model);
    o = PUT_LIT(o, ",\"endpoint\":");
    o = put_opt_str(o, a->endpoint);
    o = PUT_LIT(o, ",\"status\":");
    o = put_int(o, a->status);
    o = PUT_LIT(o, ",\"attempts\":");
    o = put_int(o, a->attempts);
    o = put_tries(o, a->tries);
    o = PUT_LIT(o, ",\"durationMs\":");
    o = put_int(o, a->duration_ms);
    o = PUT_LIT(o, ",\"promptTokens\":");
    o = put_int(o, a->prompt_tokens);
    o = PUT_LIT(o, ",\"completionTokens\":");
    o = put_int(o, a->completion_tokens);
    o = PUT_LIT(o, ",\"totalTokens\":");
    o = put_int(o, a->total_tokens);
    if (a->tokens_estimated)
        o = PUT_LIT(o, ",\"tokensEstimated\":true");
    if (a->client_aborted)
        o = PUT_LIT(o, ",\"clientAborted\":true");
    if (a->stream_error)
        o = PUT_LIT(o, ",\"streamError\":true");
    if (a->tls_error) {
        o = PUT_LIT(o, ",\"tlsError\":");
        o = put_opt_str(o, a->tls_error);
    }
    *o++ = '}';
    *o++ = '\n';
    return (size_t)(o - line);
}

void dp_accesslog_write(const struct dp_access *a)
{
    char stack[LINE_STACK];
    size_t need = line_max(a);
    char *line = need <= sizeof(stack) ? stack : gw_malloc(need);
    if (!line)
        return;
    size_t n = format_line(line, a);
    gw_log_raw(line, (unsigned long)(n - 1)); /* gw_log_raw adds the newline */
    if (line != stack)
        gw_free(line);
}

/* ---- the per-worker buffer ----------------------------------------------- */

struct dp_accesslog {
    int fd;
    size_t atomic_max; /* a pipe or socket: writes of whole lines up to PIPE_BUF; 0: any size */
    size_t len;
    char buf[DP_ACCESSLOG_BUF];
};

struct dp_accesslog *dp_accesslog_new(int fd)
{
    struct dp_accesslog *log = gw_malloc(sizeof(*log));
    if (!log)
        return NULL;
    struct stat st;
    log->fd = fd;
    log->len = 0;
    /* Other threads (and other workers' buffers) write to the same fd: on
     * a pipe or socket only writes up to PIPE_BUF are never interleaved. */
    log->atomic_max = fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
                          ? PIPE_BUF
                          : 0;
    return log;
}

/* Writes all of p (blocking through EAGAIN on a non-blocking fd); gives
 * up on any other error, as gw_log does. */
static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, 1000) <= 0)
                return;
        } else {
            return;
        }
    }
}

/* The longest prefix of p[0..n) made of whole lines and at most max bytes;
 * a single longer line when the first is (never 0 for n > 0). */
static size_t whole_lines(const char *p, size_t n, size_t max)
{
    if (n <= max)
        return n;
    for (size_t k = max; k > 0; k--)
        if (p[k - 1] == '\n')
            return k;
    const char *nl = memchr(p, '\n', n);
    return nl ? (size_t)(nl - p) + 1 : n;
}

void dp_accesslog_flush(struct dp_accesslog *log)
{
    if (!log || log->len == 0)
        return;
    size_t off = 0;
    while (off < log->len) {
        size_t k = log->atomic_max ? whole_lines(log->buf + off, log->len - off, log->atomic_max)
                                   : log->len - off;
        write_all(log->fd, log->buf + off, k);
        off += k;
    }
    log->len = 0;
}

void dp_accesslog_add(struct dp_accesslog *log, const struct dp_access *a)
{
    if (!log) {
        dp_accesslog_write(a);
        return;
    }
    size_t need = line_max(a);
    if (need > sizeof(log->buf) - log->len)
        dp_accesslog_flush(log);
    if (need > sizeof(log->buf)) { /* a huge path, say: on its own */
        char *line = gw_malloc(need);
        if (line) {
            write_all(log->fd, line, format_line(line, a));
            gw_free(line);
        }
        return;
    }
    log->len += format_line(log->buf + log->len, a);
}

void dp_accesslog_free(struct dp_accesslog *log)
{
    if (!log)
        return;
    dp_accesslog_flush(log);
    gw_free(log);
}
