/* The JSON access log (see accesslog.h). Stateless; any thread. */
#include "accesslog.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"

#include <stdint.h>
#include <stdio.h>

/* Length of the well-formed UTF-8 sequence at p (1 to 4), or 0 (a stray or
 * overlong byte, a surrogate, past U+10FFFF, or cut by the terminator). */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
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

int dp_json_str(struct gw_buf *out, const char *s)
{
    if (!s)
        return gw_buf_append_str(out, "null") == GW_BUF_OK ? 0 : -1;
    if (gw_buf_append(out, "\"", 1) != GW_BUF_OK)
        return -1;
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p;
    while (*p) {
        if (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) {
            p++;
            continue;
        }
        /* Paths are percent-decoded by MHD: any byte may come. JSON must
         * stay valid UTF-8, so a byte that starts no valid sequence is
         * written as U+FFFD. */
        size_t n = *p >= 0x80 ? utf8_len(p) : 0;
        if (n > 0) {
            p += n;
            continue;
        }
        if (p > run && gw_buf_append(out, run, (size_t)(p - run)) != GW_BUF_OK)
            return -1;
        char esc[8];
        int k;
        if (*p == '"' || *p == '\\')
            k = snprintf(esc, sizeof(esc), "\\%c", *p);
        else if (*p == '\n')
            k = snprintf(esc, sizeof(esc), "\\n");
        else if (*p >= 0x80)
            k = snprintf(esc, sizeof(esc), "\\ufffd");
        else
            k = snprintf(esc, sizeof(esc), "\\u%04x", *p);
        if (gw_buf_append(out, esc, (size_t)k) != GW_BUF_OK)
            return -1;
        run = ++p;
    }
    if (p > run && gw_buf_append(out, run, (size_t)(p - run)) != GW_BUF_OK)
        return -1;
    return gw_buf_append(out, "\"", 1) == GW_BUF_OK ? 0 : -1;
}

static int field_str(struct gw_buf *b, const char *name, const char *v)
{
    if (gw_buf_printf(b, ",\"%s\":", name) != GW_BUF_OK)
        return -1;
    return dp_json_str(b, v);
}

static int field_int(struct gw_buf *b, const char *name, int64_t v)
{
    if (v < 0)
        return gw_buf_printf(b, ",\"%s\":null", name) == GW_BUF_OK ? 0 : -1;
    return gw_buf_printf(b, ",\"%s\":%lld", name, (long long)v) == GW_BUF_OK ? 0 : -1;
}

void dp_accesslog_write(const struct dp_access *a)
{
    struct gw_buf b;
    gw_buf_init(&b, 16384);
    char ts[32];
    gw_format_rfc3339(a->wall_ms / 1000, ts);
    int rc = gw_buf_printf(&b, "{\"time\":\"%s\"", ts) == GW_BUF_OK ? 0 : -1;
    rc |= field_str(&b, "id", a->id);
    rc |= field_str(&b, "method", a->method);
    rc |= field_str(&b, "path", a->path);
    rc |= field_str(&b, "api", a->api);
    rc |= field_str(&b, "model", a->model);
    rc |= field_str(&b, "endpoint", a->endpoint);
    rc |= field_int(&b, "status", a->status);
    rc |= field_int(&b, "attempts", a->attempts);
    rc |= field_int(&b, "durationMs", a->duration_ms);
    rc |= field_int(&b, "promptTokens", a->prompt_tokens);
    rc |= field_int(&b, "completionTokens", a->completion_tokens);
    rc |= field_int(&b, "totalTokens", a->total_tokens);
    if (a->client_aborted)
        rc |= gw_buf_append_str(&b, ",\"clientAborted\":true") == GW_BUF_OK ? 0 : -1;
    rc |= gw_buf_append(&b, "}", 1) == GW_BUF_OK ? 0 : -1;
    if (rc == 0)
        gw_log_raw(b.data, b.len);
    gw_buf_cleanup(&b);
}
