/* JSON text without a tree (see json_raw.h). Pure; any thread. */
#include "json_raw.h"

#include <stdio.h>
#include <string.h>

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* p at an opening quote: the byte after the closing one, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* p at the start of a value: the byte after it, or NULL. Containers are
 * matched by bracket count only; their content is checked by whoever
 * parses the range. */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return skip_string(p, end);
    if (*p != '{' && *p != '[') {
        const char *s = p;
        while (p < end && !is_ws(*p) && *p != ',' && *p != '}' && *p != ']')
            p++;
        return p > s ? p : NULL;
    }
    size_t depth = 0;
    while (p < end) {
        if (*p == '"') {
            p = skip_string(p, end);
            if (!p)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

const struct gw_json_member *gw_json_raw_find(const struct gw_json_member *m, int n,
                                              const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < n; i++)
        if (m[i].namelen == len && memcmp(m[i].name, name, len) == 0)
            return &m[i];
    return NULL;
}

int gw_json_raw_members(const char *text, size_t len, struct gw_json_member out[GW_JSON_TOP_MAX])
{
    const char *end = text + len, *p = skip_ws(text, end);
    int n = 0;
    if (p >= end || *p++ != '{')
        return -1;
    p = skip_ws(p, end);
    if (p < end && *p == '}')
        return gw_json_cur_done(&(struct gw_json_cur){p + 1, end}) == 0 ? 0 : -1;
    for (;;) {
        if (n == GW_JSON_TOP_MAX || p >= end || *p != '"')
            return -1;
        const char *name = p + 1, *q = skip_string(p, end);
        if (!q || memchr(name, '\\', (size_t)(q - 1 - name)))
            return -1;
        struct gw_json_member m = {name, (size_t)(q - 1 - name), NULL, 0};
        for (int i = 0; i < n; i++)
            if (out[i].namelen == m.namelen && memcmp(out[i].name, name, m.namelen) == 0)
                return -1;
        p = skip_ws(q, end);
        if (p >= end || *p++ != ':')
            return -1;
        m.value = skip_ws(p, end);
        p = skip_value(m.value, end);
        if (!p)
            return -1;
        m.len = (size_t)(p - m.value);
        out[n++] = m;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p >= end || *p != '}')
            return -1;
        return gw_json_cur_done(&(struct gw_json_cur){p + 1, end}) == 0 ? n : -1;
    }
}

/* ---- the strict cursor ------------------------------------------------------ */

char gw_json_cur_peek(struct gw_json_cur *c)
{
    c->p = skip_ws(c->p, c->end);
    return c->p < c->end ? *c->p : 0;
}

int gw_json_cur_char(struct gw_json_cur *c, char ch)
{
    if (gw_json_cur_peek(c) != ch)
        return -1;
    c->p++;
    return 0;
}

int gw_json_cur_string(struct gw_json_cur *c, const char **s, size_t *n)
{
    if (gw_json_cur_char(c, '"') != 0)
        return -1;
    const char *p = c->p;
    while (p < c->end && *p != '"') {
        unsigned char u = (unsigned char)*p;
        if (u < 0x20 || u > 0x7e || u == '\\')
            return -1;
        p++;
    }
    if (p >= c->end)
        return -1;
    *s = c->p;
    *n = (size_t)(p - c->p);
    c->p = p + 1;
    return 0;
}

int gw_json_cur_null(struct gw_json_cur *c)
{
    if (gw_json_cur_peek(c) != 'n' || c->end - c->p < 4 || memcmp(c->p, "null", 4) != 0)
        return -1;
    c->p += 4;
    return 0;
}

int gw_json_cur_done(struct gw_json_cur *c)
{
    return gw_json_cur_peek(c) == 0 && c->p == c->end ? 0 : -1;
}

/* ---- writing ------------------------------------------------------------------ */

enum gw_buf_result gw_json_raw_put_str(struct gw_buf *b, const char *s, size_t n)
{
    enum gw_buf_result r = gw_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; r == GW_BUF_OK && i < n; i++) {
        unsigned char u = (unsigned char)s[i];
        if (u >= 0x20 && u != '"' && u != '\\')
            continue;
        char esc[8];
        const char *e = u == '"' ? "\\\"" : u == '\\' ? "\\\\" : u == '\b' ? "\\b"
                      : u == '\f' ? "\\f" : u == '\n' ? "\\n" : u == '\r' ? "\\r"
                      : u == '\t' ? "\\t" : NULL;
        if (!e) {
            snprintf(esc, sizeof(esc), "\\u%04X", u); /* jansson's case */
            e = esc;
        }
        r = gw_buf_append(b, s + run, i - run);
        if (r == GW_BUF_OK)
            r = gw_buf_append_str(b, e);
        run = i + 1;
    }
    if (r == GW_BUF_OK)
        r = gw_buf_append(b, s + run, n - run);
    if (r == GW_BUF_OK)
        r = gw_buf_append(b, "\"", 1);
    return r;
}
