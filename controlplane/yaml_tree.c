/* The YAML tree of the imports (see yaml_tree.h). */
#include "yaml_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/alloc.h"

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* Fills err with "line L, column C: <fmt>" (kind INVALID) and returns -1. */
int cp_yt_fail(struct gw_err *err, int line, int col, const char *fmt, ...)
{
    char pos[64], msg[400];
    va_list ap;

    snprintf(pos, sizeof(pos), "line %d, column %d", line, col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gw_err_set(err, GW_ERR_INVALID, "invalid_import", pos, "%s: %s", pos, msg);
}

int cp_yt_nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
}

/* ------------------------------------------------------------------------
 * Pass 1: YAML events -> tree
 * ------------------------------------------------------------------------ */

void cp_yt_free(struct cp_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        cp_yt_free(n->items[i]);
    gw_free(n->items);
    gw_free(n->str);
    gw_free(n);
}

static int ynode_push(struct cp_ynode *parent, struct cp_ynode *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        struct cp_ynode **items = gw_realloc(parent->items, cap * sizeof(*items));
        if (!items)
            return -1;
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = child;
    return 0;
}

/* Line and column (1-based) of byte offset off in text. */
static void offset_position(const char *text, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            (*col)++; /* count characters, not UTF-8 continuation bytes */
        }
    }
}

/* Turns a libyaml parser failure into err, keeping libyaml's problem text. */
static int parser_failure(yaml_parser_t *p, const char *text, size_t len, struct gw_err *err)
{
    int line, col;
    const char *problem = p->problem ? p->problem : "malformed YAML";

    if (p->error == YAML_MEMORY_ERROR)
        return cp_yt_nomem(err);
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark. */
        offset_position(text, len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            return cp_yt_fail(err, line, col, "%s (#%X); the body must be UTF-8 YAML", problem,
                              (unsigned)p->problem_value);
        return cp_yt_fail(err, line, col, "%s; the body must be UTF-8 YAML", problem);
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->problem_mark.index < len && text[p->problem_mark.index] == '\t')
        return cp_yt_fail(err, line, col, "%s: tab characters cannot be used for indentation",
                          problem);
    if (p->context)
        return cp_yt_fail(err, line, col, "%s (%s at line %d, column %d)", problem, p->context,
                          (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    return cp_yt_fail(err, line, col, "%s", problem);
}

/* Refuses anchors and explicit tags on a node event. */
static int check_props(const yaml_event_t *ev, const yaml_char_t *anchor, const yaml_char_t *tag,
                       struct gw_err *err)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;

    if (anchor)
        return cp_yt_fail(err, line, col, "anchors (&%.64s) and aliases are not supported",
                          (const char *)anchor);
    if (tag)
        return cp_yt_fail(err, line, col, "tags (%.64s) are not supported", (const char *)tag);
    return 0;
}

struct builder {
    struct cp_ynode *stream; /* CP_YT_SEQ of document roots */
    struct cp_ynode *stack[CP_YT_MAX_DEPTH + 1];
    int depth;
    size_t count;
    int docs, max_docs;
    const char *more_docs_msg;
};

/* Adds a finished or opened node under the current collection. Takes
 * ownership of n (freed on failure). */
static int attach(struct builder *b, struct cp_ynode *n, struct gw_err *err)
{
    struct cp_ynode *parent;

    if (++b->count > CP_YT_MAX_NODES) {
        int line = n->line, col = n->col;
        cp_yt_free(n);
        return cp_yt_fail(err, line, col, "document too large (more than %d nodes)",
                          CP_YT_MAX_NODES);
    }
    parent = b->depth == 0 ? b->stream : b->stack[b->depth - 1];
    if (parent->kind == CP_YT_MAP && parent->n % 2 == 0) {
        /* n is a key */
        int line = n->line, col = n->col;
        if (n->kind != CP_YT_SCALAR) {
            cp_yt_free(n);
            return cp_yt_fail(err, line, col, "mapping keys must be scalars");
        }
        if (parent->n / 2 >= CP_YT_MAX_MAP_KEYS) {
            cp_yt_free(n);
            return cp_yt_fail(err, line, col, "too many keys in one mapping (at most %d)",
                              CP_YT_MAX_MAP_KEYS);
        }
        for (size_t i = 0; i < parent->n; i += 2) {
            if (strcmp(parent->items[i]->str, n->str) == 0) {
                int first = parent->items[i]->line;
                cp_yt_fail(err, line, col, "duplicate key \"%.64s\" (first at line %d)", n->str,
                           first);
                cp_yt_free(n);
                return -1;
            }
        }
    } else if (b->depth > 0 && parent->kind == CP_YT_SEQ && parent->n >= CP_YT_MAX_SEQ_ITEMS) {
        int line = n->line, col = n->col;
        cp_yt_free(n);
        return cp_yt_fail(err, line, col, "too many items in one sequence (at most %d)",
                          CP_YT_MAX_SEQ_ITEMS);
    }
    if (ynode_push(parent, n) < 0) {
        cp_yt_free(n);
        return cp_yt_nomem(err);
    }
    return 0;
}

static struct cp_ynode *node_new(enum cp_yt_kind kind, const yaml_event_t *ev)
{
    struct cp_ynode *n = gw_calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
    return n;
}

/* Handles one event. Sets *done at the end of the stream. */
static int on_event(struct builder *b, const yaml_event_t *ev, int *done, struct gw_err *err)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    struct cp_ynode *n;

    switch (ev->type) {
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return 0;
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > b->max_docs)
            return cp_yt_fail(err, line, col, "%s", b->more_docs_msg);
        return 0;
    case YAML_ALIAS_EVENT:
        return cp_yt_fail(err, line, col, "aliases (*%.64s) and anchors are not supported",
                          (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        if (check_props(ev, ev->data.scalar.anchor,
                        ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit
                            ? NULL
                            : ev->data.scalar.tag,
                        err) < 0)
            return -1;
        if (ev->data.scalar.length > CP_YT_MAX_SCALAR)
            return cp_yt_fail(err, line, col, "value too long (more than %d bytes)",
                              CP_YT_MAX_SCALAR);
        if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
            return cp_yt_fail(err, line, col, "NUL characters are not allowed");
        n = node_new(CP_YT_SCALAR, ev);
        if (!n)
            return cp_yt_nomem(err);
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = ev->data.scalar.length;
        n->str = gw_strndup((const char *)ev->data.scalar.value, n->len);
        if (!n->str) {
            gw_free(n);
            return cp_yt_nomem(err);
        }
        return attach(b, n, err);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_seq = ev->type == YAML_SEQUENCE_START_EVENT;
        const yaml_char_t *anchor =
            is_seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        const yaml_char_t *tag =
            is_seq ? (ev->data.sequence_start.implicit ? NULL : ev->data.sequence_start.tag)
                   : (ev->data.mapping_start.implicit ? NULL : ev->data.mapping_start.tag);
        if (check_props(ev, anchor, tag, err) < 0)
            return -1;
        if (b->depth >= CP_YT_MAX_DEPTH)
            return cp_yt_fail(err, line, col, "nesting too deep (more than %d levels)",
                              CP_YT_MAX_DEPTH);
        n = node_new(is_seq ? CP_YT_SEQ : CP_YT_MAP, ev);
        if (!n)
            return cp_yt_nomem(err);
        if (attach(b, n, err) < 0)
            return -1;
        b->stack[b->depth++] = n;
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return 0;
    }
    return 0;
}

int cp_yt_parse(const char *text, size_t len, int max_docs, const char *more_docs_msg,
                struct cp_ynode **docs, struct gw_err *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct builder b;
    int done = 0, rc = -1;

    *docs = NULL;
    memset(&b, 0, sizeof(b));
    b.max_docs = max_docs;
    b.more_docs_msg = more_docs_msg;
    b.stream = gw_calloc(1, sizeof(*b.stream));
    if (!b.stream)
        return cp_yt_nomem(err);
    b.stream->kind = CP_YT_SEQ;
    b.stream->line = b.stream->col = 1;
    if (!yaml_parser_initialize(&parser)) {
        gw_free(b.stream);
        return cp_yt_nomem(err);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    /* UTF-8 only: a UTF-16 body fails in the reader with a clear problem. */
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            parser_failure(&parser, text, len, err);
            goto out;
        }
        int r = on_event(&b, &ev, &done, err);
        yaml_event_delete(&ev);
        if (r < 0)
            goto out;
    }
    if (b.stream->n == 0) {
        cp_yt_fail(err, 1, 1, "empty document: a YAML mapping is expected");
        goto out;
    }
    *docs = b.stream;
    b.stream = NULL;
    rc = 0;
out:
    cp_yt_free(b.stream);
    yaml_parser_delete(&parser);
    return rc;
}

/* ------------------------------------------------------------------------
 * Typed access to the tree
 * ------------------------------------------------------------------------ */

int cp_yt_is_null(const struct cp_ynode *n)
{
    return n->kind == CP_YT_SCALAR && n->plain &&
           (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
            strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

/* The value of key in map, or NULL (also when the value is null). */
const struct cp_ynode *cp_yt_get(const struct cp_ynode *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->items[i]->str, key) == 0)
            return cp_yt_is_null(map->items[i + 1]) ? NULL : map->items[i + 1];
    return NULL;
}

int cp_yt_need_map(const struct cp_ynode *n, const char *what, struct gw_err *err)
{
    if (n->kind != CP_YT_MAP)
        return cp_yt_fail(err, n->line, n->col, "%s must be a mapping", what);
    return 0;
}

int cp_yt_need_seq(const struct cp_ynode *n, const char *what, struct gw_err *err)
{
    if (n->kind != CP_YT_SEQ)
        return cp_yt_fail(err, n->line, n->col, "%s must be a list", what);
    return 0;
}

/* String value of key: *out borrowed (NULL when absent and !required). */
int cp_yt_str(const struct cp_ynode *map, const char *key, int required, const char **out,
              struct gw_err *err)
{
    const struct cp_ynode *v = cp_yt_get(map, key);

    *out = NULL;
    if (!v) {
        if (required)
            return cp_yt_fail(err, map->line, map->col, "%s is required", key);
        return 0;
    }
    if (v->kind != CP_YT_SCALAR)
        return cp_yt_fail(err, v->line, v->col, "%s must be a string", key);
    if (required && v->len == 0)
        return cp_yt_fail(err, v->line, v->col, "%s must not be empty", key);
    *out = v->str;
    return 0;
}

/* Bool value of key: *present says whether it was given. */
int cp_yt_bool(const struct cp_ynode *map, const char *key, int *out, int *present,
               struct gw_err *err)
{
    const struct cp_ynode *v = cp_yt_get(map, key);

    *present = 0;
    if (!v)
        return 0;
    if (v->kind == CP_YT_SCALAR && v->plain) {
        if (!strcmp(v->str, "true") || !strcmp(v->str, "True") || !strcmp(v->str, "TRUE")) {
            *out = 1;
            *present = 1;
            return 0;
        }
        if (!strcmp(v->str, "false") || !strcmp(v->str, "False") || !strcmp(v->str, "FALSE")) {
            *out = 0;
            *present = 1;
            return 0;
        }
    }
    return cp_yt_fail(err, v->line, v->col, "%s must be true or false", key);
}

/* Integer value of key in [min, max]: *present says whether it was given. */
int cp_yt_int(const struct cp_ynode *map, const char *key, long long min, long long max,
              long long *out, int *present, struct gw_err *err)
{
    const struct cp_ynode *v = cp_yt_get(map, key);
    const char *s;
    long long x = 0;
    int ok;

    *present = 0;
    if (!v)
        return 0;
    ok = v->kind == CP_YT_SCALAR && v->plain && v->len > 0 && v->len < 20;
    s = ok ? v->str : "";
    if (ok && *s == '-')
        s++;
    ok = ok && *s;
    for (; ok && *s; s++)
        ok = *s >= '0' && *s <= '9';
    if (ok) {
        char *end;
        x = strtoll(v->str, &end, 10);
        ok = *end == 0 && x >= min && x <= max;
    }
    if (!ok)
        return cp_yt_fail(err, v->line, v->col, "%s must be an integer %lld–%lld", key, min, max);
    *out = x;
    *present = 1;
    return 0;
}

int cp_yt_check_keys(const struct cp_ynode *map, const char *const *allowed,
                     const char *const *unsupported, const char *what, struct gw_err *err)
{
    for (size_t i = 0; i < map->n; i += 2) {
        const struct cp_ynode *k = map->items[i];
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k->str) == 0;
        if (ok)
            continue;
        for (const char *const *u = unsupported; u && *u; u++)
            if (strcmp(*u, k->str) == 0)
                return cp_yt_fail(err, k->line, k->col, "%s: \"%s\" is not supported by modelmux",
                                  what, k->str);
        return cp_yt_fail(err, k->line, k->col, "unknown key \"%.64s\" in %s", k->str, what);
    }
    return 0;
}
