/* JSON request bodies (body.h): parse once with a depth limit, read the
 * model and stream flags, and render the body sent upstream with the chosen
 * model and, when asked, stream_options.include_usage.
 *
 * Two ways, one result. The common body goes through the strict scanner
 * (json_scan.h): no tree, and the upstream body is the caller's bytes with
 * the model's value spliced in. Whenever the scanner is unsure (invalid
 * text, escapes where we read, repeated keys...), jansson parses as before
 * and gives the verdict and the error message; a render the splice cannot
 * do (an existing stream_options to change) builds the tree then.
 *
 * The depth limit is enforced by a pre-scan before jansson parses, so a
 * hostile "[[[[..." never makes the recursive parser go deep. Pure
 * functions; the struct dp_json_body belongs to one request (one thread). */
#include "body.h"

#include "common/alloc.h"
#include "common/utf8.h"

#include <stdio.h>
#include <string.h>

/* Whether the [ and { nesting of data (outside strings) stays within max.
 * Malformed JSON may pass; jansson rejects it next. */
static int depth_ok(const char *data, size_t len, int max)
{
    int depth = 0, in_str = 0, esc = 0;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return 0;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 1;
}

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
    if (!depth_ok(data, len, DP_JSON_MAX_DEPTH))
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

/* A scanned body's render: the caller's bytes with the model's value
 * replaced, and the members to add put before the closing brace (the order
 * jansson would give them: model, then stream_options). The caller has
 * checked that stream_options needs no change. Returns 0 or -1. */
static int render_by_splice(struct dp_json_body *b, const char *model_field, const char *model,
                            int force_usage, struct gw_buf *out)
{
    const struct dp_json_scan *sc = &b->scan;
    const char *s = b->src;
    size_t pos = 0, mlen = model ? strlen(model) : 0;
    int set_model = model && model_field, members = sc->members;
    char *copy = NULL;
    if (set_model) {
        /* jansson takes only UTF-8 strings and keys. */
        if (!gw_utf8_valid(model, mlen) ||
            !gw_utf8_valid(model_field, strlen(model_field)) || !(copy = gw_strdup(model)))
            return -1;
        if (sc->has_model) {
            if (put(out, s, sc->model_off) < 0 || put_json_string(out, model, mlen) < 0)
                goto fail;
            pos = sc->model_off + sc->model_len;
        }
    }
    if (put(out, s + pos, sc->close - pos) < 0)
        goto fail;
    if (set_model && !sc->has_model &&
        ((members++ && put(out, ",", 1) < 0) ||
         put_json_string(out, model_field, strlen(model_field)) < 0 || put(out, ":", 1) < 0 ||
         put_json_string(out, model, mlen) < 0))
        goto fail;
    static const char usage[] = "\"stream_options\":{\"include_usage\":true}";
    if (force_usage && !sc->has_stream_options &&
        ((members && put(out, ",", 1) < 0) || put(out, usage, sizeof(usage) - 1) < 0))
        goto fail;
    if (put(out, s + sc->close, b->src_len - sc->close) < 0)
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
    if (!b->doc && b->scanned) {
        /* The splice cannot change an existing stream_options (nor replace
         * one that is not an object): that takes the tree. */
        if (!force_usage || !b->scan.has_stream_options || b->scan.include_usage)
            return render_by_splice(b, model_field, model, force_usage, out);
        if (!(b->doc = json_loadb(b->src, b->src_len, JSON_ALLOW_NUL, NULL)))
            return -1;
    }
    return render_tree(b, model_field, model, force_usage, out);
}
