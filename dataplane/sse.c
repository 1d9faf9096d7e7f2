/* Incremental scanner over an upstream server-sent-events stream (body.h).
 *
 * Bytes are appended to `pending` and scanned once for line ends (LF, CRLF
 * or CR, as the SSE grammar allows); a blank line ends an event. Each
 * complete event is passed on at once; its data lines are joined and, when
 * they hold a JSON object, its usage is read (a chat chunk's, or the
 * response of a Responses API's response.completed event) and a usage-only
 * chunk the caller did not ask for is dropped. Only the unfinished tail stays in
 * `pending`, at most DP_SSE_EVENT_MAX bytes: a longer event is forwarded raw
 * as it arrives (unparsed) until its end. Owned by one request; one thread. */
#include "body.h"

#include <stdio.h>
#include <string.h>

#define DP_SSE_EVENT_MAX (1024 * 1024)
#define SSE_SLICE (64 * 1024) /* bytes appended per scan, bounding pending */

void dp_sse_scan_init(struct dp_sse_scan *s, const struct dp_vendor *v, int drop_usage_only)
{
    memset(s, 0, sizeof(*s));
    gw_buf_init(&s->pending, DP_SSE_EVENT_MAX + SSE_SLICE + 16);
    s->drop_usage_only = drop_usage_only;
    s->vendor = v;
    s->usage.prompt = s->usage.completion = s->usage.total = -1;
    s->line_empty = 1;
}

void dp_sse_scan_cleanup(struct dp_sse_scan *s)
{
    gw_buf_cleanup(&s->pending);
}

static int out_append(struct gw_buf *out, const char *p, size_t n)
{
    return gw_buf_append(out, p, n) == GW_BUF_OK ? 0 : -1;
}

/* Length of the line at p (n bytes left) and of its end-of-line marker. */
static size_t line_len(const char *p, size_t n, size_t *eol)
{
    size_t i = 0;
    while (i < n && p[i] != '\n' && p[i] != '\r')
        i++;
    *eol = i == n ? 0 : (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') ? 2 : 1;
    return i;
}

/* An upstream error event: remembered (with its message) and dropped. */
static int error_event(struct dp_sse_scan *s, json_t *doc)
{
    json_t *e = json_object_get(doc, "error");
    if (!e || json_is_null(e))
        return 0;
    s->error_event = 1;
    json_t *m = json_is_object(e) ? json_object_get(e, "message") : e;
    snprintf(s->error_msg, sizeof(s->error_msg), "%s", json_is_string(m) ? json_string_value(m) : "");
    return 1;
}

/* The answer text of one event: a chat chunk's choices[0].delta.content, a
 * completion chunk's choices[0].text, a Responses API text delta's delta.
 * Notes what a continuation cannot carry on (tool calls, several choices). */
static void read_text(struct dp_sse_scan *s, json_t *doc)
{
    json_t *t = NULL;
    json_t *choices = json_object_get(doc, "choices");
    if (json_is_array(choices)) {
        if (json_array_size(choices) > 1)
            s->not_text = 1;
        json_t *c0 = json_array_get(choices, 0);
        json_t *delta = json_object_get(c0, "delta");
        if (json_integer_value(json_object_get(c0, "index")) != 0 ||
            json_object_get(delta, "tool_calls") || json_object_get(delta, "function_call"))
            s->not_text = 1;
        t = delta ? json_object_get(delta, "content") : json_object_get(c0, "text");
        if (!s->id[0] && json_is_string(json_object_get(doc, "id")))
            snprintf(s->id, sizeof(s->id), "%s", json_string_value(json_object_get(doc, "id")));
    } else {
        s->not_text = 1;
        json_t *type = json_object_get(doc, "type");
        if (json_is_string(type) && strcmp(json_string_value(type), "response.output_text.delta") == 0)
            t = json_object_get(doc, "delta");
    }
    if (!json_is_string(t))
        return;
    size_t n = json_string_length(t);
    s->content_bytes += (int64_t)n;
    if (s->text && gw_buf_append(s->text, json_string_value(t), n) != GW_BUF_OK)
        s->not_text = 1; /* too long to carry on */
}

/* Reads the usage of the JSON in data; returns 1 when the event is dropped
 * (a usage-only chunk the caller did not ask for, an error event), 2 when
 * edit appended it, -1 when out of memory. */
static int inspect_json(struct dp_sse_scan *s, const char *data, size_t n, struct gw_buf *out)
{
    json_t *doc = json_loadb(data, n, 0, NULL);
    if (!doc)
        return 0;
    int drop = 0;
    if (json_is_object(doc) && error_event(s, doc)) {
        json_decref(doc);
        return 1;
    }
    if (json_is_object(doc)) {
        struct dp_usage u;
        if (dp_usage_from_event(doc, s->vendor, &u)) {
            s->usage = u;
            s->saw_usage = 1;
        }
        json_t *usage = json_object_get(doc, "usage");
        json_t *choices = json_object_get(doc, "choices");
        drop = s->drop_usage_only && usage && !json_is_null(usage) && json_is_array(choices) &&
               json_array_size(choices) == 0;
        if (!drop && s->edit) {
            int e = s->edit(s->edit_arg, doc, out);
            drop = e == 1 ? 2 : e == 0 ? 1 : e == -2 ? -1 : 0;
        }
        if (drop != 1 && drop != -1 && !(choices && json_array_size(choices) == 0))
            read_text(s, doc);
    }
    json_decref(doc);
    return drop;
}

/* Handles one complete event ev (n bytes, its blank line included):
 * appends it to out unless it is dropped. may_drop is 0 for the tail of a
 * stream that ended without a blank line. */
static int handle_event(struct dp_sse_scan *s, const char *ev, size_t n, int may_drop,
                        struct gw_buf *out)
{
    struct gw_buf joined;
    const char *data = NULL;
    size_t dlen = 0, ndata = 0;
    int rc = 0, drop = 0;
    gw_buf_init(&joined, DP_SSE_EVENT_MAX);
    for (size_t i = 0; i < n;) {
        size_t eol, len = line_len(ev + i, n - i, &eol);
        const char *line = ev + i;
        i += len + (eol ? eol : 0);
        if (len < 4 || memcmp(line, "data", 4) != 0 || (len > 4 && line[4] != ':'))
            continue;
        const char *v = line + (len > 4 ? 5 : 4);
        size_t vlen = len - (size_t)(v - line);
        if (vlen && *v == ' ') {
            v++;
            vlen--;
        }
        /* One data line (the usual case) is read in place; several are
         * joined with LF as the SSE grammar says. */
        if (ndata == 1 && (out_append(&joined, data, dlen) < 0))
            goto nomem;
        if (ndata >= 1 && (out_append(&joined, "\n", 1) < 0 || out_append(&joined, v, vlen) < 0))
            goto nomem;
        data = v;
        dlen = vlen;
        ndata++;
    }
    if (ndata > 1) {
        data = joined.data;
        dlen = joined.len;
    }
    if (s->error_event)
        drop = 1; /* nothing after an upstream error event is passed on */
    else if (ndata && dlen && data[0] == '{')
        drop = inspect_json(s, data, dlen, out);
    else if (s->edit && ndata && dlen == 6 && memcmp(data, "[DONE]", 6) == 0)
        drop = s->edit(s->edit_arg, NULL, out) == 0; /* the end marker: may be held back */
    if (drop == 1 && !may_drop && !s->error_event)
        drop = 0;
    if (drop < 0)
        rc = -1;
    else if (!drop)
        rc = out_append(out, ev, n);
    gw_buf_cleanup(&joined);
    return rc;
nomem:
    gw_buf_cleanup(&joined);
    return -1;
}

/* Scans pending from scan_pos, handing out complete events; final treats a
 * CR at the very end as a line end. Keeps only the unfinished tail. */
static int scan(struct dp_sse_scan *s, int final, struct gw_buf *out)
{
    const char *p = s->pending.data;
    size_t len = s->pending.len, start = 0, i = s->scan_pos;
    while (i < len) {
        size_t eol;
        if (p[i] == '\n') {
            eol = 1;
        } else if (p[i] == '\r') {
            if (i + 1 == len && !final)
                break; /* a CR LF may be split across feeds: wait */
            eol = i + 1 < len && p[i + 1] == '\n' ? 2 : 1;
        } else {
            s->line_empty = 0;
            i++;
            continue;
        }
        size_t end = i + eol;
        if (s->line_empty) { /* a blank line: the event is complete */
            int rc = s->passthrough ? out_append(out, p + start, end - start)
                                    : handle_event(s, p + start, end - start, 1, out);
            if (rc < 0)
                return -1;
            s->passthrough = 0;
            start = end;
        }
        s->line_empty = 1;
        i = end;
    }
    if (!s->passthrough && i - start > DP_SSE_EVENT_MAX)
        s->passthrough = 1; /* too long to hold: forward it raw as it comes */
    if (s->passthrough) {
        if (out_append(out, p + start, i - start) < 0)
            return -1;
        start = i;
    }
    gw_buf_consume(&s->pending, start);
    s->scan_pos = i - start;
    return 0;
}

int dp_sse_scan_feed(struct dp_sse_scan *s, const char *data, size_t n, struct gw_buf *out)
{
    while (n > 0) {
        size_t k = n < SSE_SLICE ? n : SSE_SLICE;
        if (gw_buf_append(&s->pending, data, k) != GW_BUF_OK || scan(s, 0, out) < 0)
            return -1;
        data += k;
        n -= k;
    }
    return 0;
}

int dp_sse_scan_finish(struct dp_sse_scan *s, struct gw_buf *out)
{
    if (s->pending.len && scan(s, 1, out) < 0)
        return -1;
    int rc = 0;
    if (s->pending.len) /* an event the stream never ended: pass it on as is */
        rc = s->passthrough ? out_append(out, s->pending.data, s->pending.len)
                            : handle_event(s, s->pending.data, s->pending.len, 0, out);
    gw_buf_reset(&s->pending);
    s->scan_pos = 0;
    s->passthrough = 0;
    s->line_empty = 1;
    return rc;
}
