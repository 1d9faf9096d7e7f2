/* JSON request bodies (body.h): parse once with a depth limit, read the
 * model and stream flags, and render the body sent upstream with the chosen
 * model and, when asked, stream_options.include_usage.
 *
 * The depth limit is enforced by a pre-scan before jansson parses, so a
 * hostile "[[[[..." never makes the recursive parser go deep. Pure
 * functions; the struct dp_json_body belongs to one request (one thread). */
#include "body.h"

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

int dp_body_parse_json(const char *data, size_t len, const char *model_field,
                       struct dp_json_body *out, struct gw_err *err)
{
    memset(out, 0, sizeof(*out));
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

void dp_body_json_cleanup(struct dp_json_body *b)
{
    json_decref(b->doc);
    b->doc = NULL;
    b->model = NULL;
}

static int append_cb(const char *buffer, size_t size, void *data)
{
    return gw_buf_append(data, buffer, size) == GW_BUF_OK ? 0 : -1;
}

int dp_body_render_json(struct dp_json_body *b, const char *model_field, const char *model,
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
