/* Writing YAML for the exports (see yaml_emit.h). */
#include "yaml_emit.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    struct cp_yemit *e = data;
    enum gw_buf_result r = gw_buf_append(&e->out, buffer, size);

    if (r == GW_BUF_TOOBIG)
        e->toobig = 1;
    return r == GW_BUF_OK;
}

static int emit(struct cp_yemit *e, yaml_event_t *ev)
{
    return yaml_emitter_emit(&e->em, ev) ? 0 : -1;
}

int cp_ye_init(struct cp_yemit *e, size_t max, struct gw_err *err)
{
    yaml_event_t ev;

    memset(e, 0, sizeof(*e));
    gw_buf_init(&e->out, max);
    if (!yaml_emitter_initialize(&e->em))
        return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
    yaml_emitter_set_output(&e->em, write_handler, e);
    yaml_emitter_set_unicode(&e->em, 1);
    yaml_emitter_set_width(&e->em, -1); /* never fold long URLs */
    yaml_emitter_set_indent(&e->em, 2);
    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || emit(e, &ev) < 0) {
        yaml_emitter_delete(&e->em);
        gw_buf_cleanup(&e->out);
        return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
    }
    return 0;
}

int cp_ye_doc_start(struct cp_yemit *e, int explicit_start)
{
    yaml_event_t ev;

    if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, !explicit_start))
        return -1;
    return emit(e, &ev);
}

int cp_ye_doc_end(struct cp_yemit *e)
{
    yaml_event_t ev;

    if (!yaml_document_end_event_initialize(&ev, 1))
        return -1;
    return emit(e, &ev);
}

int cp_ye_finish(struct cp_yemit *e, int failed, const char *what, char **out, size_t *out_len,
                 struct gw_err *err)
{
    yaml_event_t ev;
    int rc = -1;

    *out = NULL;
    *out_len = 0;
    if (!failed &&
        (!yaml_stream_end_event_initialize(&ev) || emit(e, &ev) < 0 || !yaml_emitter_flush(&e->em)))
        failed = 1;
    if (failed) {
        if (err && err->kind != GW_ERR_NONE)
            goto out;
        if (e->toobig)
            gw_err_set(err, GW_ERR_INTERNAL, "internal", NULL, "%s output too large", what);
        else if (e->em.error == YAML_MEMORY_ERROR || e->em.error == YAML_WRITER_ERROR)
            gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
        else
            gw_err_set(err, GW_ERR_INTERNAL, "internal", NULL, "YAML emitter: %s",
                       e->em.problem ? e->em.problem : "failed");
        goto out;
    }
    *out_len = e->out.len;
    *out = gw_buf_take(&e->out);
    if (!*out) {
        gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
        goto out;
    }
    rc = 0;
out:
    yaml_emitter_delete(&e->em);
    gw_buf_cleanup(&e->out);
    return rc;
}

int cp_ye_scalar(struct cp_yemit *e, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t ev;

    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                      style))
        return -1;
    return emit(e, &ev);
}

int cp_ye_map_start(struct cp_yemit *e)
{
    yaml_event_t ev;

    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
        return -1;
    return emit(e, &ev);
}

int cp_ye_map_end(struct cp_yemit *e)
{
    yaml_event_t ev;

    if (!yaml_mapping_end_event_initialize(&ev))
        return -1;
    return emit(e, &ev);
}

int cp_ye_seq_start(struct cp_yemit *e, yaml_sequence_style_t style)
{
    yaml_event_t ev;

    if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, style))
        return -1;
    return emit(e, &ev);
}

int cp_ye_seq_end(struct cp_yemit *e)
{
    yaml_event_t ev;

    if (!yaml_sequence_end_event_initialize(&ev))
        return -1;
    return emit(e, &ev);
}

int cp_ye_key(struct cp_yemit *e, const char *k)
{
    return cp_ye_scalar(e, k, YAML_PLAIN_SCALAR_STYLE);
}

int cp_ye_kv_str(struct cp_yemit *e, const char *k, const char *v)
{
    if (cp_ye_key(e, k) < 0)
        return -1;
    return cp_ye_scalar(e, v ? v : "", YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

int cp_ye_kv_int(struct cp_yemit *e, const char *k, json_int_t v)
{
    char num[32];

    snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, v);
    if (cp_ye_key(e, k) < 0)
        return -1;
    return cp_ye_scalar(e, num, YAML_PLAIN_SCALAR_STYLE);
}

int cp_ye_kv_bool(struct cp_yemit *e, const char *k, int v)
{
    if (cp_ye_key(e, k) < 0)
        return -1;
    return cp_ye_scalar(e, v ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
}

int cp_ye_kv_strs(struct cp_yemit *e, const char *k, const json_t *arr)
{
    const json_t *s;
    size_t i;

    if (cp_ye_key(e, k) < 0 || cp_ye_seq_start(e, YAML_FLOW_SEQUENCE_STYLE) < 0)
        return -1;
    json_array_foreach (arr, i, s) {
        if (json_is_string(s) &&
            cp_ye_scalar(e, json_string_value(s), YAML_DOUBLE_QUOTED_SCALAR_STYLE) < 0)
            return -1;
    }
    return cp_ye_seq_end(e);
}

int cp_ye_opt_str(struct cp_yemit *e, const char *k, const json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s ? cp_ye_kv_str(e, k, s) : 0;
}

int cp_ye_opt_int(struct cp_yemit *e, const char *k, const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_integer(v) ? cp_ye_kv_int(e, k, json_integer_value(v)) : 0;
}

int cp_ye_opt_bool(struct cp_yemit *e, const char *k, const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_boolean(v) ? cp_ye_kv_bool(e, k, json_is_true(v)) : 0;
}
