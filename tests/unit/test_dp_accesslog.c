/* Unit tests of dataplane/accesslog.c: the line written without printf is
 * byte for byte the line of the printf-based reference below (the writer it
 * replaced), for NULL fields, escapes, unknown (-1) counts, clientAborted,
 * and strings long enough to leave the stack buffer. The per-worker buffer:
 * nothing written before a flush, then every line in order in one write;
 * whole lines of at most PIPE_BUF bytes per write on a pipe; a full buffer
 * flushed before the next line; a line too big for it written on its own;
 * the rest written when the buffer is freed. */
#include "testhelp.h"

#include "common/buf.h"
#include "common/clock.h"
#include "dataplane/accesslog.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The reference: the former dp_json_str and dp_accesslog_write (printf
 * based), into a buffer. */
static size_t ref_utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void ref_json_str(struct gw_buf *b, const char *s)
{
    if (!s) {
        gw_buf_append_str(b, "null");
        return;
    }
    gw_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = *p >= 0x80 ? ref_utf8_len(p) : 0;
        if (n > 0) {
            gw_buf_append(b, p, n);
            p += n;
        } else if (*p == '"' || *p == '\\') {
            gw_buf_printf(b, "\\%c", *p++);
        } else if (*p == '\n') {
            gw_buf_printf(b, "\\n");
            p++;
        } else if (*p >= 0x80) {
            gw_buf_printf(b, "\\ufffd");
            p++;
        } else if (*p < 0x20) {
            gw_buf_printf(b, "\\u%04x", *p++);
        } else {
            gw_buf_append(b, p++, 1);
        }
    }
    gw_buf_append(b, "\"", 1);
}

static void ref_field_str(struct gw_buf *b, const char *name, const char *v)
{
    gw_buf_printf(b, ",\"%s\":", name);
    ref_json_str(b, v);
}

static void ref_field_int(struct gw_buf *b, const char *name, int64_t v)
{
    if (v < 0)
        gw_buf_printf(b, ",\"%s\":null", name);
    else
        gw_buf_printf(b, ",\"%s\":%lld", name, (long long)v);
}

static void ref_line(const struct dp_access *a, struct gw_buf *b)
{
    char ts[32];
    gw_format_rfc3339(a->wall_ms / 1000, ts);
    gw_buf_printf(b, "{\"time\":\"%s\"", ts);
    ref_field_str(b, "id", a->id);
    ref_field_str(b, "method", a->method);
    ref_field_str(b, "path", a->path);
    ref_field_str(b, "api", a->api);
    ref_field_str(b, "requestedModel", a->requested_model);
    ref_field_str(b, "model", a->model);
    ref_field_str(b, "endpoint", a->endpoint);
    ref_field_int(b, "status", a->status);
    ref_field_int(b, "attempts", a->attempts);
    gw_buf_append_str(b, ",\"tries\":[");
    for (int i = 0; a->tries && i < a->tries->n; i++) {
        const struct dp_try_rec *t = &a->tries->rec[i];
        gw_buf_append_str(b, i ? ",{" : "{");
        ref_json_str(b, "model");
        gw_buf_append_str(b, ":");
        ref_json_str(b, t->model);
        ref_field_str(b, "endpoint", t->endpoint);
        ref_field_str(b, "outcome", dp_try_outcome_names[t->outcome]);
        ref_field_int(b, "ms", t->ms);
        gw_buf_append_str(b, "}");
    }
    gw_buf_append_str(b, "]");
    if (a->tries && a->tries->total > a->tries->n)
        ref_field_int(b, "triesNotListed", a->tries->total - a->tries->n);
    ref_field_int(b, "durationMs", a->duration_ms);
    ref_field_int(b, "promptTokens", a->prompt_tokens);
    ref_field_int(b, "completionTokens", a->completion_tokens);
    ref_field_int(b, "totalTokens", a->total_tokens);
    if (a->tokens_estimated)
        gw_buf_append_str(b, ",\"tokensEstimated\":true");
    if (a->client_aborted)
        gw_buf_append_str(b, ",\"clientAborted\":true");
    if (a->stream_error)
        gw_buf_append_str(b, ",\"streamError\":true");
    gw_buf_append(b, "}\n", 2);
}

/* What dp_accesslog_write puts on stderr for a. */
static char *written(const struct dp_access *a, size_t *len)
{
    char path[] = "/tmp/test_dp_accesslog.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    dp_accesslog_write(a);
    dup2(saved, 2);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)n + 1);
    if (s && pread(fd, s, (size_t)n, 0) != n) {
        free(s);
        s = NULL;
    }
    close(fd);
    *len = (size_t)n;
    return s;
}

static void check_same(const struct dp_access *a)
{
    struct gw_buf want;
    gw_buf_init(&want, 1 << 20);
    ref_line(a, &want);
    size_t n = 0;
    char *got = written(a, &n);
    CHECK(got != NULL);
    if (got) {
        CHECK_INT((long long)n, (long long)want.len);
        CHECK_STR(got, want.data);
    }
    free(got);
    gw_buf_cleanup(&want);
}

static char *filled(size_t n, char c)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

TEST("a plain line is the reference line")
{
    struct dp_access a = {
        .wall_ms = 1795000000123LL,
        .id = "abcd-0-1f",
        .method = "POST",
        .path = "/bench/1.0/chat/completions",
        .api = "bench-chat",
        .model = "gpt-4o",
        .endpoint = "mock",
        .status = 200,
        .attempts = 1,
        .duration_ms = 3,
        .prompt_tokens = 12,
        .completion_tokens = 0,
        .total_tokens = 9223372036854775807LL,
    };
    check_same(&a);
    a.wall_ms += 1000; /* another second: a new timestamp */
    check_same(&a);
    a.wall_ms = 0;
    check_same(&a);
}

TEST("NULL fields, unknown counts, clientAborted")
{
    struct dp_access a = {
        .wall_ms = 1795000000999LL,
        .id = "x",
        .method = "",
        .path = "/",
        .status = 499,
        .attempts = 0,
        .duration_ms = -1,
        .prompt_tokens = -1,
        .completion_tokens = -1,
        .total_tokens = -1,
        .client_aborted = 1,
    };
    check_same(&a);
    a.status = -5;
    a.attempts = -1;
    check_same(&a);
}

TEST("tries, requested and served model, estimated tokens, streamError (SPEC 3.2)")
{
    struct dp_trylog tries = {0};
    dp_trylog_add(&tries, "gpt-4o", "primary", DP_TRYO_RETRIED, 12);
    dp_trylog_add(&tries, "gpt-4o", "primary", DP_TRYO_TIMEOUT, 500);
    dp_trylog_add(&tries, "gpt-\"mini", "fall\nback", DP_TRYO_CONTINUED, 3);
    dp_trylog_add(&tries, "gpt-4o-mini", "last", DP_TRYO_OK, 7);
    struct dp_access a = {
        .wall_ms = 1795000000123LL,
        .id = "t",
        .method = "POST",
        .path = "/x",
        .api = "a",
        .requested_model = "gpt-4o",
        .model = "gpt-4o-mini",
        .endpoint = "last",
        .status = 200,
        .attempts = 3,
        .duration_ms = 520,
        .prompt_tokens = 5,
        .completion_tokens = 9,
        .total_tokens = 14,
        .tokens_estimated = 1,
        .stream_error = 1,
        .tries = &tries,
    };
    check_same(&a);
    size_t n = 0;
    char *got = written(&a, &n);
    CHECK(got && strstr(got, "\"tries\":[{\"model\":\"gpt-4o\",\"endpoint\":\"primary\","
                             "\"outcome\":\"retried\",\"ms\":12},") != NULL);
    free(got);
    /* more tries than listed: counted */
    for (int i = 0; i < DP_TRYLOG_MAX + 3; i++)
        dp_trylog_add(&tries, "m", "e", DP_TRYO_FAILED, i);
    CHECK_INT(tries.n, DP_TRYLOG_MAX);
    CHECK_INT(tries.total, DP_TRYLOG_MAX + 7);
    check_same(&a);
}

TEST("every byte that needs escaping, and bytes above 0x7f")
{
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    struct dp_access a = {
        .wall_ms = 1795000000000LL,
        .id = "q\"uote\\back",
        .method = "GE\nT",
        .path = all,
        .api = "caf\xc3\xa9",
        .model = "\x01\x1f\x7f",
        .endpoint = "e\tp",
        .status = 404,
        .attempts = 2,
        .duration_ms = 1234567,
        .prompt_tokens = 1,
        .completion_tokens = 2,
        .total_tokens = 3,
    };
    check_same(&a);
}

TEST("UTF-8: well-formed sequences kept, stray, overlong, surrogate and cut ones replaced")
{
    static const char *const texts[] = {
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", /* 2, 3 and 4 bytes */
        "\xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf",      /* overlong */
        "\xed\xa0\x80 \xf4\x90\x80\x80",                 /* surrogate, past U+10FFFF */
        "\x80\xbf\xfe\xff",                              /* stray bytes */
        "cut \xe2\x82",                                   /* cut by the end */
        "\xe2\x82\\\"",                                  /* cut by an escaped byte */
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct dp_access a = {
            .wall_ms = 1795000000000LL,
            .id = "u",
            .method = "GET",
            .path = texts[i],
            .api = texts[(i + 1) % 6],
            .status = 200,
            .attempts = 1,
        };
        check_same(&a);
        /* dp_json_str, the same escaping into a gw_buf. */
        struct gw_buf got, want;
        gw_buf_init(&got, 1 << 16);
        gw_buf_init(&want, 1 << 16);
        CHECK_INT(dp_json_str(&got, texts[i]), 0);
        ref_json_str(&want, texts[i]);
        CHECK_STR(got.data, want.data);
        gw_buf_cleanup(&got);
        gw_buf_cleanup(&want);
    }
}

TEST("dp_json_str: long strings, a full buffer fails and frees")
{
    char *big = filled(100000, '\x01');
    struct gw_buf got, want;
    gw_buf_init(&got, 1 << 20);
    gw_buf_init(&want, 1 << 20);
    CHECK_INT(dp_json_str(&got, big), 0);
    ref_json_str(&want, big);
    CHECK_INT((long long)got.len, 600002);
    CHECK_STR(got.data, want.data);
    gw_buf_cleanup(&got);
    gw_buf_cleanup(&want);
    gw_buf_init(&got, 100);
    CHECK_INT(dp_json_str(&got, big), -1);
    CHECK(got.data == NULL);
    free(big);
}

TEST("long strings leave the stack buffer")
{
    char *path = filled(100000, '/');
    char *ctl = filled(5000, '\x02');
    struct dp_access a = {
        .wall_ms = 1795000000000LL,
        .id = "id",
        .method = "POST",
        .path = path,
        .api = "a",
        .model = ctl,
        .endpoint = "e",
        .status = 200,
        .attempts = 1,
        .duration_ms = 1,
        .prompt_tokens = 1,
        .completion_tokens = 1,
        .total_tokens = 2,
    };
    check_same(&a);
    free(path);
    free(ctl);
}

/* ---- the per-worker buffer ------------------------------------------------ */

static struct dp_access numbered(int i, const char *path)
{
    struct dp_access a = {
        .wall_ms = 1795000000000LL + i,
        .id = "id",
        .method = "POST",
        .path = path,
        .status = 200,
        .attempts = 1,
        .duration_ms = i,
        .prompt_tokens = -1,
        .completion_tokens = -1,
        .total_tokens = -1,
    };
    return a;
}

/* Every message readable now from a non-blocking SOCK_SEQPACKET socket (one
 * per write), appended to b; each must be whole lines of at most PIPE_BUF
 * bytes. */
static void drain(int fd, struct gw_buf *b)
{
    char tmp[65536];
    ssize_t n;
    while ((n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0) {
        CHECK(n <= PIPE_BUF);
        CHECK(tmp[n - 1] == '\n');
        gw_buf_append(b, tmp, (size_t)n);
    }
}

/* An unlinked temporary file, open for reading and writing. */
static int anon_file(void)
{
    char path[] = "/tmp/test_dp_accesslog.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    return fd;
}

TEST("buffered lines: nothing before the flush, then all of them, in order")
{
    int fd = anon_file();
    struct dp_accesslog *log = dp_accesslog_new(fd);
    CHECK(log != NULL);
    struct gw_buf want;
    gw_buf_init(&want, 1 << 20);
    for (int i = 0; i < 10; i++) {
        struct dp_access a = numbered(i, "/p");
        dp_accesslog_add(log, &a);
        ref_line(&a, &want);
    }
    CHECK_INT((long long)lseek(fd, 0, SEEK_END), 0);
    dp_accesslog_flush(log);
    CHECK_INT((long long)lseek(fd, 0, SEEK_END), (long long)want.len);
    dp_accesslog_flush(log); /* empty: nothing more */
    CHECK_INT((long long)lseek(fd, 0, SEEK_END), (long long)want.len);
    struct dp_access last = numbered(99, "/last");
    dp_accesslog_add(log, &last);
    ref_line(&last, &want);
    dp_accesslog_free(log); /* flushes */
    char *got = calloc(1, want.len + 1);
    CHECK(pread(fd, got, want.len + 1, 0) == (ssize_t)want.len);
    CHECK_STR(got, want.data);
    free(got);
    gw_buf_cleanup(&want);
    close(fd);
}

TEST("on a socket or pipe: writes of whole lines, at most PIPE_BUF bytes; a full buffer flushes itself")
{
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
    int big = 1 << 20;
    setsockopt(sp[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    struct dp_accesslog *log = dp_accesslog_new(sp[1]);
    struct gw_buf want, got;
    gw_buf_init(&want, 1 << 22);
    gw_buf_init(&got, 1 << 22);
    char *mid = filled(700, 'm');
    mid[0] = '/';
    /* More than the buffer holds: it flushes itself before overflowing. */
    for (int i = 0; want.len < DP_ACCESSLOG_BUF + 4096; i++) {
        struct dp_access a = numbered(i, mid);
        dp_accesslog_add(log, &a);
        ref_line(&a, &want);
    }
    drain(sp[0], &got);
    CHECK(got.len > 0 && got.len < want.len); /* flushed once when full, the rest waits */
    dp_accesslog_flush(log);
    drain(sp[0], &got);
    CHECK_INT((long long)got.len, (long long)want.len);
    CHECK(memcmp(got.data, want.data, want.len) == 0);
    dp_accesslog_free(log);
    free(mid);
    gw_buf_cleanup(&want);
    gw_buf_cleanup(&got);
    close(sp[0]);
    close(sp[1]);
}

TEST("a line bigger than the buffer is written on its own, after the buffered ones")
{
    int fd = anon_file();
    struct dp_accesslog *log = dp_accesslog_new(fd);
    char *huge = filled(DP_ACCESSLOG_BUF, 'h');
    huge[0] = '/';
    struct dp_access small = numbered(1, "/small"), large = numbered(2, huge);
    struct gw_buf want;
    gw_buf_init(&want, 1 << 22);
    dp_accesslog_add(log, &small);
    ref_line(&small, &want);
    CHECK_INT((long long)lseek(fd, 0, SEEK_END), 0);
    dp_accesslog_add(log, &large);
    ref_line(&large, &want);
    CHECK_INT((long long)lseek(fd, 0, SEEK_END), (long long)want.len);
    char *got = calloc(1, want.len + 1);
    CHECK(pread(fd, got, want.len + 1, 0) == (ssize_t)want.len);
    CHECK_STR(got, want.data);
    dp_accesslog_free(log);
    free(got);
    free(huge);
    gw_buf_cleanup(&want);
    close(fd);
}

TEST_MAIN()
