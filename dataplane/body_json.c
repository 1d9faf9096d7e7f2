/* JSON request bodies (body.h): parse once with a depth limit, read the
 * model and stream flags, and render the body sent upstream with the chosen
 * model and, when asked, stream_options.include_usage.
 *
 * Two ways, one result. The body goes through the strict scanner
 * (json_scan.h): no tree, and the upstream body is the caller's bytes with
 * the model's values and stream_options edited in place. Whenever the
 * scanner is unsure (invalid text, escapes where we read...), jansson parses
 * and gives the verdict and the error message, but only for bodies up to
 * DP_JSON_FALLBACK_MAX: a tree costs some twenty times the text and runs on
 * the worker's loop, so a larger body the scanner cannot read is refused.
 *
 * The depth limit is enforced by a pre-scan before jansson parses, so a
 * hostile "[[[[..." never makes the recursive parser go deep. Pure
 * functions; the struct dp_json_body belongs to one request (one thread). */
#include "body.h"

#include "common/alloc.h"
#include "common/json_depth.h"
#include "common/utf8.h"

#include <stdio.h>
#include <string.h>

int dp_body_check_model(const char *m, size_t len)
{
    if (len > DP_MODEL_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
            return -1;
    return 0;
}

/* The scanner's way: 0 done, 1 unsure (jansson must parse), -1 out of
 * memory (err set). */
static int parse_by_scan(const char *data, size_t len, const char *model_field,
                         struct dp_json_body *out, struct gw_err *err)
{
    struct dp_json_scan *sc = &out->scan;
    if (dp_json_scan(data, len, model_field, DP_JSON_MAX_DEPTH, sc) != 0)
        return 1;
    /* The value without its quotes; a bad model gets jansson's path and
     * error. */
    const char *m = data + sc->model_off + 1;
    size_t mlen = sc->has_model ? sc->model_len - 2 : 0;
    if (sc->has_model && dp_body_check_model(m, mlen) < 0)
        return 1;
    if (sc->has_model && !(out->model_own = gw_strndup(m, mlen)))
        return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
    out->scanned = 1;
    out->src = data;
    out->src_len = len;
    out->model = out->model_own;
    out->stream = sc->stream;
    out->include_usage = sc->include_usage;
    return 0;
}

/* jansson's way, the reference: out zeroed. Returns 0 or -1 (err set). */
static int parse_by_jansson(const char *data, size_t len, const char *model_field,
                            struct dp_json_body *out, struct gw_err *err)
{
    if (!gw_json_depth_ok(data, len, DP_JSON_MAX_DEPTH))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_request_error", NULL,
                          "the JSON body is nested deeper than %d levels", DP_JSON_MAX_DEPTH);
    json_error_t je;
    /* JSON_ALLOW_NUL: "\u0000" inside a prompt is the caller's business. */
    json_t *doc = json_loadb(data, len, JSON_ALLOW_NUL, &je);
    if (!doc) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
        return gw_err_set(err, GW_ERR_INVALID, "invalid_request_error", NULL,
                          "the body is not valid JSON (line %d, column %d)", je.line,
                          je.column);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return gw_err_set(err, GW_ERR_INVALID, "invalid_request_error", NULL,
                          "the body must be a JSON object");
    }
    json_t *m = model_field ? json_object_get(doc, model_field) : NULL;
    if (m && (!json_is_string(m) ||
              dp_body_check_model(json_string_value(m), json_string_length(m)) < 0)) {
        json_decref(doc);
        return gw_err_set(err, GW_ERR_INVALID, "invalid_request_error", model_field,
                          "\"%s\" must be a string of at most %d characters, without control "
                          "characters", model_field, DP_MODEL_MAX);
    }
    json_t *so = json_object_get(doc, "stream_options");
    out->doc = doc;
    out->model = m ? json_string_value(m) : NULL;
    out->stream = json_is_true(json_object_get(doc, "stream"));
    out->include_usage = json_is_object(so) && json_is_true(json_object_get(so, "include_usage"));
    return 0;
}

int dp_body_parse_json(const char *data, size_t len, const char *model_field,
                       struct dp_json_body *out, struct gw_err *err)
{
    memset(out, 0, sizeof(*out));
    int scanned = parse_by_scan(data, len, model_field, out, err);
    if (scanned <= 0)
        return scanned;
    memset(out, 0, sizeof(*out));
    if (len > DP_JSON_FALLBACK_MAX)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_request_error", NULL,
                          "the body is not valid JSON, or it holds what the gateway reads only "
                          "in bodies up to %d KiB (an escaped top-level key or model, a number "
                          "out of range)", DP_JSON_FALLBACK_MAX / 1024);
    return parse_by_jansson(data, len, model_field, out, err);
}

void dp_body_json_cleanup(struct dp_json_body *b)
{
    json_decref(b->doc);
    b->doc = NULL;
    b->model = NULL;
    gw_free(b->model_own);
    b->model_own = NULL;
    b->scanned = 0;
}

static int append_cb(const char *buffer, size_t size, void *data)
{
    return gw_buf_append(data, buffer, size) == GW_BUF_OK ? 0 : -1;
}

static int put(struct gw_buf *out, const char *p, size_t n)
{
    return gw_buf_append(out, p, n) == GW_BUF_OK ? 0 : -1;
}

/* s (n bytes of valid UTF-8) as a JSON string, escaped as jansson's dump
 * escapes it. Returns 0 or -1. */
static int put_json_string(struct gw_buf *out, const char *s, size_t n)
{
    if (put(out, "\"", 1) < 0)
        return -1;
    size_t run = 0; /* bytes of s[..i) not yet written */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char esc[8];
        size_t el = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            el = (size_t)snprintf(esc, sizeof(esc), "\\u%04X", c);
        }
        if (put(out, s + run, i - run) < 0 || put(out, esc, el) < 0)
            return -1;
        run = i + 1;
    }
    return put(out, s + run, n - run) < 0 || put(out, "\"", 1) < 0 ? -1 : 0;
}

/* A splice in progress: the caller's bytes copied up to pos, with the
 * model's values and stream_options edited on the way. */
struct splice {
    struct gw_buf *out;
    const char *s;
    size_t pos;
    const char *model; /* NULL: the models stay */
    size_t model_len;
    const char *so_text; /* NULL, or what replaces s[so_off, so_off + so_len) */
    size_t so_off, so_len;
    int failed;
};

/* Copies the caller's bytes up to off, making the stream_options edit when
 * it lies before. */
static void splice_to(struct splice *sp, size_t off)
{
    if (sp->failed)
        return;
    if (sp->so_text && sp->so_off <= off) {
        if (put(sp->out, sp->s + sp->pos, sp->so_off - sp->pos) < 0 ||
            put(sp->out, sp->so_text, strlen(sp->so_text)) < 0)
            sp->failed = 1;
        sp->pos = sp->so_off + sp->so_len;
        sp->so_text = NULL;
    }
    if (!sp->failed && put(sp->out, sp->s + sp->pos, off - sp->pos) < 0)
        sp->failed = 1;
    sp->pos = off;
}

/* A model value at s[off, off + len): replaced (dp_json_model_cb). */
static void splice_model(void *ctx, size_t off, size_t len)
{
    struct splice *sp = ctx;
    splice_to(sp, off);
    if (!sp->failed && put_json_string(sp->out, sp->model, sp->model_len) < 0)
        sp->failed = 1;
    sp->pos = off + len;
}

/* The stream_options edit that makes include_usage true (the caller has
 * checked it is not): the last include_usage's value, or a member added
 * first in the object, or the whole value when it is no object. */
static void plan_usage(struct splice *sp, const struct dp_json_scan *sc)
{
    if (sc->so_object && sc->iu_len) {
        sp->so_text = "true";
        sp->so_off = sc->iu_off;
        sp->so_len = sc->iu_len;
    } else if (sc->so_object) {
        sp->so_text = sc->so_members ? "\"include_usage\":true," : "\"include_usage\":true";
        sp->so_off = sc->so_off + 1;
        sp->so_len = 0;
    } else {
        sp->so_text = "{\"include_usage\":true}";
        sp->so_off = sc->so_off;
        sp->so_len = sc->so_len;
    }
}

/* A scanned body's render: the caller's bytes with every model value
 * replaced (a repeated key too, so no reader of the body sees the caller's
 * model), stream_options edited in place, and the members to add put
 * before the closing brace (the order jansson would give them: model, then
 * stream_options). Returns 0 or -1. */
static int render_by_splice(struct dp_json_body *b, const char *model_field, const char *model,
                            int force_usage, struct gw_buf *out)
{
    const struct dp_json_scan *sc = &b->scan;
    struct splice sp = {out, b->src, 0, NULL, 0, NULL, 0, 0, 0};
    int set_model = model && model_field, members = sc->members;
    char *copy = NULL;
    if (force_usage && sc->has_stream_options && !sc->include_usage)
        plan_usage(&sp, sc);
    if (set_model) {
        /* jansson takes only UTF-8 strings and keys. */
        if (!gw_utf8_valid(model, strlen(model)) ||
            !gw_utf8_valid(model_field, strlen(model_field)) || !(copy = gw_strdup(model)))
            return -1;
        sp.model = model;
        sp.model_len = strlen(model);
        struct dp_json_scan again;
        if (sc->model_count == 1)
            splice_model(&sp, sc->model_off, sc->model_len);
        else if (sc->model_count > 1 &&
                 dp_json_scan_visit(b->src, b->src_len, model_field, DP_JSON_MAX_DEPTH, &again,
                                    splice_model, &sp) != 0)
            sp.failed = 1;
    }
    splice_to(&sp, sc->close);
    if (sp.failed)
        goto fail;
    if (set_model && !sc->has_model &&
        ((members++ && put(out, ",", 1) < 0) ||
         put_json_string(out, model_field, strlen(model_field)) < 0 || put(out, ":", 1) < 0 ||
         put_json_string(out, model, sp.model_len) < 0))
        goto fail;
    static const char usage[] = "\"stream_options\":{\"include_usage\":true}";
    if (force_usage && !sc->has_stream_options &&
        ((members && put(out, ",", 1) < 0) || put(out, usage, sizeof(usage) - 1) < 0))
        goto fail;
    if (put(out, b->src + sc->close, b->src_len - sc->close) < 0)
        goto fail;
    if (copy) {
        gw_free(b->model_own);
        b->model_own = copy;
        b->model = copy;
    }
    if (force_usage)
        b->include_usage = 1;
    return 0;
fail:
    gw_free(copy);
    return -1;
}

/* jansson's way: the tree changed and written compact. */
static int render_tree(struct dp_json_body *b, const char *model_field, const char *model,
                       int force_usage, struct gw_buf *out)
{
    if (model && model_field) {
        json_t *s = json_string(model);
        if (!s || json_object_set_new(b->doc, model_field, s) < 0)
            return -1;
        /* The old string is gone: re-borrow from the new one. */
        b->model = json_string_value(json_object_get(b->doc, model_field));
    }
    if (force_usage) {
        json_t *so = json_object_get(b->doc, "stream_options");
        if (!json_is_object(so)) {
            so = json_object();
            if (!so || json_object_set_new(b->doc, "stream_options", so) < 0)
                return -1;
        }
        if (json_object_set_new(so, "include_usage", json_true()) < 0)
            return -1;
        b->include_usage = 1;
    }
    return json_dump_callback(b->doc, append_cb, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

int dp_body_render_json(struct dp_json_body *b, const char *model_field, const char *model,
                        int force_usage, struct gw_buf *out)
{
    if (!b->doc && b->scanned)
        return render_by_splice(b, model_field, model, force_usage, out);
    return render_tree(b, model_field, model, force_usage, out);
}
