/* Mid-stream continuation (see continuation.h). Owns the kept text, the
 * continuation body and its parse. The request's worker thread. */
#include "continuation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dp_cont_init(struct dp_cont *c)
{
    memset(c, 0, sizeof(*c));
    gw_buf_init(&c->text, DP_CONT_TEXT_MAX);
    gw_buf_init(&c->body, DP_BODY_MAX + DP_CONT_TEXT_MAX * 6 + 4096);
}

static void drop_body(struct dp_cont *c)
{
    if (c->has_json)
        dp_body_json_cleanup(&c->json);
    c->has_json = 0;
    gw_buf_cleanup(&c->body);
}

void dp_cont_cleanup(struct dp_cont *c)
{
    drop_body(c);
    gw_buf_cleanup(&c->text);
}

void dp_cont_watch(struct dp_cont *c, struct dp_sse_scan *scan, enum gw_midstream mode,
                   const char *op_target, int sse)
{
    if (mode != GW_MIDSTREAM_CONTINUE || !sse || !op_target ||
        strcmp(op_target, "/chat/completions") != 0)
        return;
    c->watching = 1;
    scan->text = &c->text;
}

int dp_cont_eligible(const struct dp_cont *c, const struct dp_sse_scan *scan)
{
    return c->watching && !scan->not_text && !c->mismatch;
}

int dp_cont_begin(struct dp_cont *c, const struct dp_sse_scan *scan, const char *reason,
                  const char *data, size_t len, const char *model_field)
{
    if (c->phase == DP_CONT_OFF) {
        snprintf(c->id, sizeof(c->id), "%s", scan->id);
        snprintf(c->reason, sizeof(c->reason), "%s", reason);
    }
    drop_body(c);
    c->phase = DP_CONT_WITH_TEXT;
    c->skip = 0;
    json_t *doc = json_loadb(data, len, 0, NULL);
    json_t *msgs = json_object_get(doc, "messages");
    json_t *m = json_object();
    json_t *content = json_stringn(c->text.data ? c->text.data : "", c->text.len);
    int rc = -1;
    if (json_is_array(msgs) && m && content &&
        json_object_set_new(m, "role", json_string("assistant")) == 0 &&
        json_object_set(m, "content", content) == 0 && json_array_append(msgs, m) == 0) {
        char *s = json_dumps(doc, JSON_COMPACT);
        if (s && gw_buf_append_str(&c->body, s) == GW_BUF_OK)
            rc = 0;
        free(s);
    }
    json_decref(content);
    json_decref(m);
    json_decref(doc);
    struct gw_err err;
    if (rc == 0 && dp_body_parse_json(c->body.data, c->body.len, model_field, &c->json, &err) == 0)
        c->has_json = 1;
    else
        rc = -1;
    return rc;
}

void dp_cont_without_text(struct dp_cont *c)
{
    drop_body(c);
    c->phase = DP_CONT_WITHOUT_TEXT;
    c->skip = c->text.len;
}

void dp_cont_attach(struct dp_cont *c, struct dp_sse_scan *scan)
{
    scan->text = &c->text;
    scan->edit = dp_cont_edit;
    scan->edit_arg = c;
}

/* WITHOUT_TEXT: takes the answer's first bytes off content while they
 * repeat the text already sent. Returns 0 when content is used up by the
 * skip (the event carries nothing new), 1 when content now holds only the
 * new text, -1 on a mismatch. */
static int skip_prefix(struct dp_cont *c, json_t *delta, const char *s, size_t n)
{
    const char *want = c->text.data + (c->text.len - c->skip);
    size_t k = n < c->skip ? n : c->skip;
    if (memcmp(s, want, k) != 0)
        return -1;
    c->skip -= k;
    if (k == n)
        return 0;
    json_object_set_new(delta, "content", json_stringn(s + k, n - k));
    return 1;
}

int dp_cont_edit(void *arg, json_t *doc, struct gw_buf *out)
{
    struct dp_cont *c = arg;
    if (!doc) { /* [DONE] */
        if (c->skip == 0)
            return -1;
        c->mismatch = 1; /* the answer ended before repeating the whole text */
        return 0;
    }
    json_t *c0 = json_array_get(json_object_get(doc, "choices"), 0);
    json_t *delta = json_object_get(c0, "delta");
    json_t *content = json_object_get(delta, "content");
    const char *s = json_is_string(content) ? json_string_value(content) : "";
    size_t n = json_is_string(content) ? json_string_length(content) : 0;
    json_t *finish = json_object_get(c0, "finish_reason");
    int finishing = finish && !json_is_null(finish);
    if (c->skip > 0 && n > 0) {
        int k = skip_prefix(c, delta, s, n);
        if (k < 0) {
            c->mismatch = 1;
            return 0;
        }
        n = k ? n : 0;
    }
    if (c->skip > 0 && finishing) {
        c->mismatch = 1; /* the answer ended before repeating the whole text */
        return 0;
    }
    if (c0 && n == 0 && !finishing)
        return 0; /* a role-only or skipped chunk: nothing new for the caller */
    if (c->id[0])
        json_object_set_new(doc, "id", json_string(c->id));
    if (delta)
        json_object_del(delta, "role"); /* the caller had the role already */
    char *j = json_dumps(doc, JSON_COMPACT);
    int rc = j && gw_buf_append_str(out, "data: ") == GW_BUF_OK &&
                     gw_buf_append_str(out, j) == GW_BUF_OK &&
                     gw_buf_append_str(out, "\n\n") == GW_BUF_OK
                 ? 1
                 : -2;
    free(j);
    return rc;
}
