/* apk-conf YAML -> description of REST JSON bodies (see apkconf.h).
 *
 * Two passes. First libyaml's event parser builds a small tree of nodes that
 * keep their line and column; this is where hostile input is refused: any
 * anchor or alias (so a "billion laughs" document stops at its first anchor),
 * explicit tags, nesting deeper than CP_APKCONF_MAX_DEPTH, more than
 * CP_APKCONF_MAX_NODES nodes, over-long scalars, NUL characters, duplicate
 * keys, more than one document; libyaml itself refuses tabs used as
 * indentation, invalid UTF-8 and control characters, and we pass its problem
 * text on with the position. Then the translator walks the tree against the
 * apk-conf shape, refusing unknown keys and wrongly typed values with
 * "line L, column C: <problem>", and writes the REST JSON bodies.
 *
 * Pure functions, no globals: any thread. Memory: the tree is gw_malloc'd
 * and freed before returning; libyaml allocates on its own. */
#include "apkconf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "common/alloc.h"

#define MAX_MAP_KEYS 256   /* keys in one mapping (keeps duplicate checks cheap) */
#define MAX_SEQ_ITEMS 4096 /* items in one sequence */

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* Fills err with "line L, column C: <fmt>" (kind INVALID) and returns -1. */
static int fail_at(struct gw_err *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct gw_err *err, int line, int col, const char *fmt, ...)
{
    char pos[64], msg[400];
    va_list ap;

    snprintf(pos, sizeof(pos), "line %d, column %d", line, col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gw_err_set(err, GW_ERR_INVALID, "invalid_apkconf", pos, "%s: %s", pos, msg);
}

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
}

/* ------------------------------------------------------------------------
 * Pass 1: YAML events -> tree
 * ------------------------------------------------------------------------ */

enum ynode_kind {
    YN_SCALAR, /* str/len hold the value */
    YN_SEQ,    /* items[0..n) */
    YN_MAP     /* items[2i] is a key (scalar), items[2i+1] its value */
};

struct ynode {
    enum ynode_kind kind;
    int line, col;   /* 1-based start position */
    int plain;       /* scalar written without quotes (can be a bool, int, null) */
    char *str;       /* scalar value, NUL-terminated */
    size_t len;
    struct ynode **items;
    size_t n, cap;
};

static void ynode_free(struct ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        ynode_free(n->items[i]);
    gw_free(n->items);
    gw_free(n->str);
    gw_free(n);
}

static int ynode_push(struct ynode *parent, struct ynode *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        struct ynode **items = gw_realloc(parent->items, cap * sizeof(*items));
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
        return nomem(err);
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark. */
        offset_position(text, len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            return fail_at(err, line, col, "%s (#%X); the body must be UTF-8 YAML", problem,
                           (unsigned)p->problem_value);
        return fail_at(err, line, col, "%s; the body must be UTF-8 YAML", problem);
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->problem_mark.index < len && text[p->problem_mark.index] == '\t')
        return fail_at(err, line, col, "%s: tab characters cannot be used for indentation",
                       problem);
    if (p->context)
        return fail_at(err, line, col, "%s (%s at line %d, column %d)", problem, p->context,
                       (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    return fail_at(err, line, col, "%s", problem);
}

/* Refuses anchors and explicit tags on a node event. */
static int check_props(const yaml_event_t *ev, const yaml_char_t *anchor, const yaml_char_t *tag,
                       struct gw_err *err)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;

    if (anchor)
        return fail_at(err, line, col, "anchors (&%.64s) and aliases are not supported",
                       (const char *)anchor);
    if (tag)
        return fail_at(err, line, col, "tags (%.64s) are not supported", (const char *)tag);
    return 0;
}

struct builder {
    struct ynode *root;
    struct ynode *stack[CP_APKCONF_MAX_DEPTH + 1];
    int depth;
    size_t count;
};

/* Adds a finished or opened node under the current collection. Takes
 * ownership of n (freed on failure). */
static int attach(struct builder *b, struct ynode *n, struct gw_err *err)
{
    struct ynode *parent;

    if (++b->count > CP_APKCONF_MAX_NODES) {
        int line = n->line, col = n->col;
        ynode_free(n);
        return fail_at(err, line, col, "document too large (more than %d nodes)",
                       CP_APKCONF_MAX_NODES);
    }
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    parent = b->stack[b->depth - 1];
    if (parent->kind == YN_MAP && parent->n % 2 == 0) {
        /* n is a key */
        int line = n->line, col = n->col;
        if (n->kind != YN_SCALAR) {
            ynode_free(n);
            return fail_at(err, line, col, "mapping keys must be scalars");
        }
        if (parent->n / 2 >= MAX_MAP_KEYS) {
            ynode_free(n);
            return fail_at(err, line, col, "too many keys in one mapping (at most %d)",
                           MAX_MAP_KEYS);
        }
        for (size_t i = 0; i < parent->n; i += 2) {
            if (strcmp(parent->items[i]->str, n->str) == 0) {
                int first = parent->items[i]->line;
                fail_at(err, line, col, "duplicate key \"%.64s\" (first at line %d)", n->str,
                        first);
                ynode_free(n);
                return -1;
            }
        }
    } else if (parent->kind == YN_SEQ && parent->n >= MAX_SEQ_ITEMS) {
        int line = n->line, col = n->col;
        ynode_free(n);
        return fail_at(err, line, col, "too many items in one sequence (at most %d)",
                       MAX_SEQ_ITEMS);
    }
    if (ynode_push(parent, n) < 0) {
        ynode_free(n);
        return nomem(err);
    }
    return 0;
}

static struct ynode *node_new(enum ynode_kind kind, const yaml_event_t *ev)
{
    struct ynode *n = gw_calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
    return n;
}

/* Handles one event. Sets *done at the end of the stream. */
static int on_event(struct builder *b, const yaml_event_t *ev, int *docs, int *done,
                    struct gw_err *err)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    struct ynode *n;

    switch (ev->type) {
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return 0;
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (++*docs > 1)
            return fail_at(err, line, col, "only one YAML document is allowed");
        return 0;
    case YAML_ALIAS_EVENT:
        return fail_at(err, line, col, "aliases (*%.64s) and anchors are not supported",
                       (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        if (check_props(ev, ev->data.scalar.anchor,
                        ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit
                            ? NULL
                            : ev->data.scalar.tag,
                        err) < 0)
            return -1;
        if (ev->data.scalar.length > CP_APKCONF_MAX_SCALAR)
            return fail_at(err, line, col, "value too long (more than %d bytes)",
                           CP_APKCONF_MAX_SCALAR);
        if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
            return fail_at(err, line, col, "NUL characters are not allowed");
        n = node_new(YN_SCALAR, ev);
        if (!n)
            return nomem(err);
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = ev->data.scalar.length;
        n->str = gw_strndup((const char *)ev->data.scalar.value, n->len);
        if (!n->str) {
            gw_free(n);
            return nomem(err);
        }
        return attach(b, n, err);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_seq = ev->type == YAML_SEQUENCE_START_EVENT;
        const yaml_char_t *anchor =
            is_seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        const yaml_char_t *tag = is_seq ? (ev->data.sequence_start.implicit
                                               ? NULL
                                               : ev->data.sequence_start.tag)
                                        : (ev->data.mapping_start.implicit
                                               ? NULL
                                               : ev->data.mapping_start.tag);
        if (check_props(ev, anchor, tag, err) < 0)
            return -1;
        if (b->depth >= CP_APKCONF_MAX_DEPTH)
            return fail_at(err, line, col, "nesting too deep (more than %d levels)",
                           CP_APKCONF_MAX_DEPTH);
        n = node_new(is_seq ? YN_SEQ : YN_MAP, ev);
        if (!n)
            return nomem(err);
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

/* Parses text into a tree. Returns 0 with *root (caller frees with
 * ynode_free), or -1 with err. */
static int build_tree(const char *text, size_t len, struct ynode **root, struct gw_err *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct builder b;
    int docs = 0, done = 0, rc = -1;

    memset(&b, 0, sizeof(b));
    if (!yaml_parser_initialize(&parser))
        return nomem(err);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    /* UTF-8 only: a UTF-16 body fails in the reader with a clear problem. */
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            parser_failure(&parser, text, len, err);
            goto out;
        }
        int r = on_event(&b, &ev, &docs, &done, err);
        yaml_event_delete(&ev);
        if (r < 0)
            goto out;
    }
    if (!b.root) {
        fail_at(err, 1, 1, "empty document: an apk-conf mapping is expected");
        goto out;
    }
    *root = b.root;
    b.root = NULL;
    rc = 0;
out:
    ynode_free(b.root);
    yaml_parser_delete(&parser);
    return rc;
}

/* ------------------------------------------------------------------------
 * Typed access to the tree
 * ------------------------------------------------------------------------ */

static int is_null(const struct ynode *n)
{
    return n->kind == YN_SCALAR && n->plain &&
           (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
            strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

/* The value of key in map, or NULL (also when the value is null). */
static const struct ynode *get(const struct ynode *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->items[i]->str, key) == 0)
            return is_null(map->items[i + 1]) ? NULL : map->items[i + 1];
    return NULL;
}

static int need_map(const struct ynode *n, const char *what, struct gw_err *err)
{
    if (n->kind != YN_MAP)
        return fail_at(err, n->line, n->col, "%s must be a mapping", what);
    return 0;
}

static int need_seq(const struct ynode *n, const char *what, struct gw_err *err)
{
    if (n->kind != YN_SEQ)
        return fail_at(err, n->line, n->col, "%s must be a list", what);
    return 0;
}

/* apk-conf keys that exist in APK but have no modelmux meaning: named as
 * unsupported rather than unknown. */
static const char *const apk_unsupported[] = {
    "rateLimit", "authentication", "corsConfiguration", "additionalProperties", "environment",
    "certificate", "operationPolicies", "endpointConfigurations", "weight", "retryPolicy",
    "circuitBreaker", "downstreamRequestIdleTimeout", "userNameKey", "passwordKey", NULL};

/* Refuses keys of map not in allowed (NULL-terminated). what names map. */
static int check_keys(const struct ynode *map, const char *const *allowed, const char *what,
                      struct gw_err *err)
{
    for (size_t i = 0; i < map->n; i += 2) {
        const struct ynode *k = map->items[i];
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k->str) == 0;
        if (ok)
            continue;
        for (const char *const *u = apk_unsupported; *u; u++)
            if (strcmp(*u, k->str) == 0)
                return fail_at(err, k->line, k->col, "%s: \"%s\" is not supported by modelmux",
                               what, k->str);
        return fail_at(err, k->line, k->col, "unknown key \"%.64s\" in %s", k->str, what);
    }
    return 0;
}

/* String value of key: *out borrowed (NULL when absent and !required). */
static int get_str(const struct ynode *map, const char *key, int required, const char **out,
                   struct gw_err *err)
{
    const struct ynode *v = get(map, key);

    *out = NULL;
    if (!v) {
        if (required)
            return fail_at(err, map->line, map->col, "%s is required", key);
        return 0;
    }
    if (v->kind != YN_SCALAR)
        return fail_at(err, v->line, v->col, "%s must be a string", key);
    if (required && v->len == 0)
        return fail_at(err, v->line, v->col, "%s must not be empty", key);
    *out = v->str;
    return 0;
}

/* Bool value of key: *present says whether it was given. */
static int get_bool(const struct ynode *map, const char *key, int *out, int *present,
                    struct gw_err *err)
{
    const struct ynode *v = get(map, key);

    *present = 0;
    if (!v)
        return 0;
    if (v->kind == YN_SCALAR && v->plain) {
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
    return fail_at(err, v->line, v->col, "%s must be true or false", key);
}

/* Integer value of key in [min, max]: *present says whether it was given. */
static int get_int(const struct ynode *map, const char *key, long long min, long long max,
                   long long *out, int *present, struct gw_err *err)
{
    const struct ynode *v = get(map, key);
    const char *s;
    long long x = 0;
    int ok;

    *present = 0;
    if (!v)
        return 0;
    ok = v->kind == YN_SCALAR && v->plain && v->len > 0 && v->len < 20;
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
        return fail_at(err, v->line, v->col, "%s must be an integer %lld–%lld", key, min, max);
    *out = x;
    *present = 1;
    return 0;
}

/* Sets key of obj to a new value; val NULL (allocation failed) -> NOMEM. */
static int put(json_t *obj, const char *key, json_t *val, struct gw_err *err)
{
    if (json_object_set_new(obj, key, val) != 0)
        return nomem(err);
    return 0;
}

static int put_str(json_t *obj, const char *key, const char *s, struct gw_err *err)
{
    return put(obj, key, json_string(s), err);
}

/* Copies an optional integer key of map into obj[name]. */
static int copy_int(const struct ynode *map, const char *key, long long min, long long max,
                    json_t *obj, const char *name, struct gw_err *err)
{
    long long x;
    int present;

    if (get_int(map, key, min, max, &x, &present, err) < 0)
        return -1;
    return present ? put(obj, name, json_integer(x), err) : 0;
}

/* Copies an optional bool key of map into obj[name]. */
static int copy_bool(const struct ynode *map, const char *key, json_t *obj, const char *name,
                     struct gw_err *err)
{
    int b, present;

    if (get_bool(map, key, &b, &present, err) < 0)
        return -1;
    return present ? put(obj, name, json_boolean(b), err) : 0;
}

/* Adds "line"/"column" of n to obj. */
static int put_pos(json_t *obj, const struct ynode *n, struct gw_err *err)
{
    if (put(obj, "line", json_integer(n->line), err) < 0)
        return -1;
    return put(obj, "column", json_integer(n->col), err);
}

/* ------------------------------------------------------------------------
 * Pass 2: tree -> description
 * ------------------------------------------------------------------------ */

#define BIG_LIMIT 9007199254740991LL /* 2^53 - 1: exact in every JSON reader */
#define MAX_SUSPEND_SEC 31536000LL   /* one year */
#define MAX_TIMEOUT_MS 86400000LL    /* one day */

struct xlate {
    json_t *desc;      /* the description being built */
    json_t *endpoints; /* desc.endpoints (borrowed) */
    json_t *policies;  /* desc.policies (borrowed) */
    const struct ynode *ratelimit_at; /* first aiRatelimit seen, for the error */
    struct gw_err *err;
};

static const char *const env_names[] = {"production", "sandbox"};

/* --- top level: the API ------------------------------------------------- */

static int xl_operations(struct xlate *x, const struct ynode *seq, json_t *api)
{
    static const char *const keys[] = {"target", "verb", "secured", "scopes", NULL};
    json_t *ops = json_array();

    if (put(api, "operations", ops, x->err) < 0)
        return -1;
    if (need_seq(seq, "operations", x->err) < 0)
        return -1;
    for (size_t i = 0; i < seq->n; i++) {
        const struct ynode *op = seq->items[i], *scopes;
        const char *target, *verb;
        json_t *o;

        if (need_map(op, "an operation", x->err) < 0 ||
            check_keys(op, keys, "an operation", x->err) < 0 ||
            get_str(op, "target", 1, &target, x->err) < 0 ||
            get_str(op, "verb", 1, &verb, x->err) < 0)
            return -1;
        scopes = get(op, "scopes");
        if (scopes && need_seq(scopes, "scopes", x->err) < 0)
            return -1;
        if (scopes && scopes->n > 0)
            return fail_at(x->err, scopes->line, scopes->col,
                           "scopes are not supported by modelmux (use an empty list)");
        o = json_object();
        if (json_array_append_new(ops, o) != 0)
            return nomem(x->err);
        if (put_str(o, "target", target, x->err) < 0 || put_str(o, "verb", verb, x->err) < 0 ||
            copy_bool(op, "secured", o, "secured", x->err) < 0)
            return -1;
    }
    return 0;
}

static int xl_api(struct xlate *x, const struct ynode *root)
{
    static const char *const keys[] = {
        "name", "basePath", "version", "type", "defaultVersion", "subscriptionValidation",
        "aiProvider", "endpointConfigurations", "operations", "apiPolicies", "id",
        "definitionPath", NULL};
    static const char *const provider_keys[] = {"name", "apiVersion", NULL};
    const char *name, *base, *version, *type, *vname, *vversion;
    const struct ynode *prov, *ops;
    json_t *api, *vendor;

    api = json_object();
    if (put(x->desc, "api", api, x->err) < 0)
        return -1;
    vendor = json_object();
    if (put(x->desc, "vendor", vendor, x->err) < 0)
        return -1;
    if (need_map(root, "an apk-conf document", x->err) < 0 ||
        check_keys(root, keys, "the apk-conf", x->err) < 0 ||
        get_str(root, "name", 1, &name, x->err) < 0 ||
        get_str(root, "basePath", 1, &base, x->err) < 0 ||
        get_str(root, "version", 1, &version, x->err) < 0 ||
        get_str(root, "type", 0, &type, x->err) < 0)
        return -1;
    if (type && strcmp(type, "REST") != 0) {
        const struct ynode *t = get(root, "type");
        return fail_at(x->err, t->line, t->col, "type must be REST (not \"%.32s\")", type);
    }
    if (put_str(api, "name", name, x->err) < 0 || put_str(api, "basePath", base, x->err) < 0 ||
        put_str(api, "version", version, x->err) < 0 ||
        copy_bool(root, "defaultVersion", api, "defaultVersion", x->err) < 0 ||
        copy_bool(root, "subscriptionValidation", api, "subscriptionValidation", x->err) < 0)
        return -1;

    prov = get(root, "aiProvider");
    if (!prov)
        return fail_at(x->err, root->line, root->col,
                       "aiProvider is required (the vendor, by name)");
    if (need_map(prov, "aiProvider", x->err) < 0 ||
        check_keys(prov, provider_keys, "aiProvider", x->err) < 0 ||
        get_str(prov, "name", 1, &vname, x->err) < 0 ||
        get_str(prov, "apiVersion", 0, &vversion, x->err) < 0)
        return -1;
    if (put_str(vendor, "name", vname, x->err) < 0 ||
        (vversion && put_str(vendor, "apiVersion", vversion, x->err) < 0) ||
        put_pos(vendor, get(prov, "name"), x->err) < 0)
        return -1;

    ops = get(root, "operations");
    return ops ? xl_operations(x, ops, api) : 0;
}

/* --- endpoints ---------------------------------------------------------- */

/* The unit of an aiRatelimit block ("Minute" -> "minute"). */
static int xl_unit(struct xlate *x, const struct ynode *map, const char *key, const char **out)
{
    static const char *const units[] = {"minute", "hour", "day", NULL};
    const char *u;

    if (get_str(map, key, 1, &u, x->err) < 0)
        return -1;
    for (const char *const *p = units; *p; p++) {
        if (strcasecmp(*p, u) == 0) {
            *out = *p;
            return 0;
        }
    }
    const struct ynode *v = get(map, key);
    return fail_at(x->err, v->line, v->col, "%s must be Minute, Hour or Day", key);
}

/* APK's per-endpoint aiRatelimit {enabled, token {promptLimit,
 * completionLimit, totalLimit, unit}, request {requestLimit, unit}} becomes
 * one aiRateLimit policy of scope "api". 0 means "no limit" (APK's default). */
static int xl_airatelimit(struct xlate *x, const struct ynode *rl)
{
    static const char *const keys[] = {"enabled", "token", "request", NULL};
    static const char *const token_keys[] = {"promptLimit", "completionLimit", "totalLimit",
                                             "unit", NULL};
    static const char *const req_keys[] = {"requestLimit", "unit", NULL};
    static const struct {
        const char *apk, *rest;
    } limits[] = {{"promptLimit", "requestTokens"},
                  {"completionLimit", "responseTokens"},
                  {"totalLimit", "totalTokens"}};
    const struct ynode *token, *request;
    const char *unit = NULL, *unit2 = NULL;
    int enabled = 1, present, any = 0;
    long long v;
    json_t *entry, *body;

    if (need_map(rl, "aiRatelimit", x->err) < 0 ||
        check_keys(rl, keys, "aiRatelimit", x->err) < 0 ||
        get_bool(rl, "enabled", &enabled, &present, x->err) < 0)
        return -1;
    if (!enabled)
        return 0;
    if (x->ratelimit_at)
        return fail_at(x->err, rl->line, rl->col,
                       "only one aiRatelimit per API is supported (first at line %d)",
                       x->ratelimit_at->line);
    x->ratelimit_at = rl;
    entry = json_object();
    if (json_array_append_new(x->policies, entry) != 0)
        return nomem(x->err);
    body = json_object();
    if (put(entry, "body", body, x->err) < 0 ||
        put_str(entry, "policyName", "aiRatelimit", x->err) < 0 || put_pos(entry, rl, x->err) < 0 ||
        put_str(body, "type", "aiRateLimit", x->err) < 0 ||
        put_str(body, "scope", "api", x->err) < 0)
        return -1;

    token = get(rl, "token");
    request = get(rl, "request");
    if (token) {
        if (need_map(token, "aiRatelimit.token", x->err) < 0 ||
            check_keys(token, token_keys, "aiRatelimit.token", x->err) < 0 ||
            xl_unit(x, token, "unit", &unit) < 0)
            return -1;
        for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
            if (get_int(token, limits[i].apk, 0, BIG_LIMIT, &v, &present, x->err) < 0)
                return -1;
            if (present && v > 0) {
                any = 1;
                if (put(body, limits[i].rest, json_integer(v), x->err) < 0)
                    return -1;
            }
        }
    }
    if (request) {
        if (need_map(request, "aiRatelimit.request", x->err) < 0 ||
            check_keys(request, req_keys, "aiRatelimit.request", x->err) < 0 ||
            xl_unit(x, request, "unit", &unit2) < 0 ||
            get_int(request, "requestLimit", 0, BIG_LIMIT, &v, &present, x->err) < 0)
            return -1;
        if (unit && strcmp(unit, unit2) != 0) {
            const struct ynode *u = get(request, "unit");
            return fail_at(x->err, u->line, u->col,
                           "aiRatelimit.request.unit must equal aiRatelimit.token.unit "
                           "(modelmux has one unit per rate limit)");
        }
        unit = unit2;
        if (present && v > 0) {
            any = 1;
            if (put(body, "requests", json_integer(v), x->err) < 0)
                return -1;
        }
    }
    if (!any)
        return fail_at(x->err, rl->line, rl->col, "aiRatelimit sets no limit above 0");
    return put_str(body, "unit", unit, x->err);
}

/* endpointSecurity {enabled, securityType {secretName, in: Header,
 * apiKeyNameKey, apiKeyValueKey}} -> REST "security" (NULL when disabled). */
static int xl_security(struct xlate *x, const struct ynode *es, json_t *ep)
{
    static const char *const keys[] = {"enabled", "securityType", NULL};
    static const char *const type_keys[] = {"secretName", "in", "apiKeyNameKey",
                                            "apiKeyValueKey", NULL};
    const struct ynode *st;
    const char *secret, *in, *name_key, *value_key;
    int enabled = 1, present;
    json_t *sec;

    if (need_map(es, "endpointSecurity", x->err) < 0 ||
        check_keys(es, keys, "endpointSecurity", x->err) < 0 ||
        get_bool(es, "enabled", &enabled, &present, x->err) < 0)
        return -1;
    st = get(es, "securityType");
    if (!enabled)
        return 0;
    if (!st)
        return fail_at(x->err, es->line, es->col, "securityType is required");
    if (need_map(st, "securityType", x->err) < 0)
        return -1;
    if (get(st, "userNameKey") || get(st, "passwordKey"))
        return fail_at(x->err, st->line, st->col,
                       "basic endpoint security is not supported by modelmux (use secretName, "
                       "in: Header, apiKeyNameKey, apiKeyValueKey)");
    if (check_keys(st, type_keys, "securityType", x->err) < 0 ||
        get_str(st, "secretName", 1, &secret, x->err) < 0 ||
        get_str(st, "in", 0, &in, x->err) < 0 ||
        get_str(st, "apiKeyNameKey", 0, &name_key, x->err) < 0 ||
        get_str(st, "apiKeyValueKey", 0, &value_key, x->err) < 0)
        return -1;
    if (in && strcmp(in, "Header") != 0) {
        const struct ynode *v = get(st, "in");
        return fail_at(x->err, v->line, v->col, "in must be Header (not \"%.32s\")", in);
    }
    sec = json_object();
    if (put(ep, "security", sec, x->err) < 0 || put_str(sec, "secret", secret, x->err) < 0 ||
        (value_key && put_str(sec, "secretKey", value_key, x->err) < 0) ||
        (name_key && put_str(sec, "header", name_key, x->err) < 0))
        return -1;
    return 0;
}

/* resiliency {timeout {upstreamResponseTimeout: seconds}} -> timeoutMs. */
static int xl_resiliency(struct xlate *x, const struct ynode *res, json_t *ep)
{
    static const char *const keys[] = {"timeout", NULL};
    static const char *const timeout_keys[] = {"upstreamResponseTimeout", NULL};
    const struct ynode *t;
    long long sec;
    int present;

    if (need_map(res, "resiliency", x->err) < 0 ||
        check_keys(res, keys, "resiliency", x->err) < 0)
        return -1;
    t = get(res, "timeout");
    if (!t)
        return 0;
    if (need_map(t, "resiliency.timeout", x->err) < 0 ||
        check_keys(t, timeout_keys, "resiliency.timeout", x->err) < 0 ||
        get_int(t, "upstreamResponseTimeout", 1, MAX_TIMEOUT_MS / 1000, &sec, &present,
                x->err) < 0)
        return -1;
    return present ? put(ep, "timeoutMs", json_integer(sec * 1000), x->err) : 0;
}

/* The modelmux extension block of an endpoint entry:
 * x-modelmux {name, timeoutMs, headerPrefix}. */
static int xl_ep_extension(struct xlate *x, const struct ynode *ext, json_t *ep,
                           const char **name)
{
    static const char *const keys[] = {"name", "timeoutMs", "headerPrefix", NULL};
    const char *prefix;
    json_t *sec;

    if (need_map(ext, "x-modelmux", x->err) < 0 ||
        check_keys(ext, keys, "x-modelmux", x->err) < 0 ||
        get_str(ext, "name", 0, name, x->err) < 0 ||
        get_str(ext, "headerPrefix", 0, &prefix, x->err) < 0)
        return -1;
    if (get(ext, "timeoutMs") && json_object_get(ep, "timeoutMs")) {
        const struct ynode *v = get(ext, "timeoutMs");
        return fail_at(x->err, v->line, v->col,
                       "timeoutMs conflicts with resiliency.timeout.upstreamResponseTimeout");
    }
    if (copy_int(ext, "timeoutMs", 1, MAX_TIMEOUT_MS, ep, "timeoutMs", x->err) < 0)
        return -1;
    if (!prefix)
        return 0;
    sec = json_object_get(ep, "security");
    if (!sec) {
        const struct ynode *v = get(ext, "headerPrefix");
        return fail_at(x->err, v->line, v->col, "headerPrefix needs endpointSecurity");
    }
    return put_str(sec, "prefix", prefix, x->err);
}

/* The first endpoint of the description (in env, or any when env is NULL)
 * whose body[key] equals value, or NULL; *count is the number of matches. */
static json_t *find_endpoint_by(struct xlate *x, const char *env, const char *key,
                                const char *value, int *count)
{
    json_t *found = NULL, *e;
    size_t i;

    *count = 0;
    json_array_foreach(x->endpoints, i, e) {
        json_t *body = json_object_get(e, "body");
        const char *have_env = json_string_value(json_object_get(body, "environment"));
        const char *have = json_string_value(json_object_get(body, key));
        if (!have || !have_env || (env && strcmp(have_env, env) != 0))
            continue;
        if (strcmp(have, value) == 0) {
            if (!found)
                found = e;
            (*count)++;
        }
    }
    return found;
}

/* Checks a new endpoint's name and URL against the ones before it. */
static int check_endpoint_unique(struct xlate *x, const struct ynode *entry, const char *env,
                                 const char *url, const char *name, int explicit_name)
{
    json_t *dup;
    int count;

    dup = find_endpoint_by(x, NULL, "name", name, &count);
    if (dup)
        return fail_at(x->err, entry->line, entry->col,
                       "endpoint name \"%.64s\" is already used (line %d)", name,
                       (int)json_integer_value(json_object_get(dup, "line")));
    if (explicit_name)
        return 0;
    /* Policies name endpoints by URL: a second unnamed endpoint with the same
     * URL in the same environment would be ambiguous. */
    dup = find_endpoint_by(x, env, "url", url, &count);
    if (dup)
        return fail_at(x->err, entry->line, entry->col,
                       "endpoint %.200s is already declared in %s (line %d); give both an "
                       "x-modelmux name to keep them apart",
                       url, env, (int)json_integer_value(json_object_get(dup, "line")));
    return 0;
}

static int xl_endpoint(struct xlate *x, const struct ynode *entry, const char *env, size_t index)
{
    static const char *const keys[] = {"endpoint", "endpointSecurity", "resiliency",
                                       "aiRatelimit", "x-modelmux", NULL};
    const struct ynode *v;
    const char *url, *name = NULL;
    char genname[32];
    json_t *item, *ep;

    if (need_map(entry, "an endpoint configuration", x->err) < 0 ||
        check_keys(entry, keys, "an endpoint configuration", x->err) < 0)
        return -1;
    v = get(entry, "endpoint");
    if (v && v->kind == YN_MAP)
        return fail_at(x->err, v->line, v->col,
                       "endpoint must be a URL (Kubernetes services are not supported)");
    if (get_str(entry, "endpoint", 1, &url, x->err) < 0)
        return -1;

    /* item owns ep; it joins the description only once complete, so the
     * uniqueness checks below never see it. */
    item = json_object();
    if (!item)
        return nomem(x->err);
    ep = json_object();
    if (put(item, "body", ep, x->err) < 0 || put_pos(item, entry, x->err) < 0 ||
        put_str(ep, "environment", env, x->err) < 0 || put_str(ep, "url", url, x->err) < 0)
        goto fail;
    v = get(entry, "endpointSecurity");
    if (v && xl_security(x, v, ep) < 0)
        goto fail;
    v = get(entry, "resiliency");
    if (v && xl_resiliency(x, v, ep) < 0)
        goto fail;
    v = get(entry, "x-modelmux");
    if (v && xl_ep_extension(x, v, ep, &name) < 0)
        goto fail;
    if (!name) {
        /* Deterministic: the same document always gives the same names. */
        snprintf(genname, sizeof(genname), "%s-%zu", env, index + 1);
        if (check_endpoint_unique(x, entry, env, url, genname, 0) < 0)
            goto fail;
        name = genname;
    } else if (check_endpoint_unique(x, entry, env, url, name, 1) < 0) {
        goto fail;
    }
    if (put_str(ep, "name", name, x->err) < 0 || put_str(item, "ref", name, x->err) < 0)
        goto fail;
    if (json_array_append_new(x->endpoints, item) != 0)
        return nomem(x->err);
    v = get(entry, "aiRatelimit");
    return v ? xl_airatelimit(x, v) : 0;
fail:
    json_decref(item);
    return -1;
}

static int xl_endpoints(struct xlate *x, const struct ynode *root)
{
    static const char *const keys[] = {"production", "sandbox", NULL};
    const struct ynode *conf = get(root, "endpointConfigurations");

    if (!conf)
        return 0;
    if (need_map(conf, "endpointConfigurations", x->err) < 0 ||
        check_keys(conf, keys, "endpointConfigurations", x->err) < 0)
        return -1;
    for (size_t e = 0; e < 2; e++) {
        const struct ynode *list = get(conf, env_names[e]);
        if (!list)
            continue;
        if (list->kind == YN_MAP) {
            /* The older apk-conf form: one endpoint configuration. */
            if (xl_endpoint(x, list, env_names[e], 0) < 0)
                return -1;
            continue;
        }
        if (need_seq(list, env_names[e], x->err) < 0)
            return -1;
        for (size_t i = 0; i < list->n; i++)
            if (xl_endpoint(x, list->items[i], env_names[e], i) < 0)
                return -1;
    }
    return 0;
}

/* --- policies ----------------------------------------------------------- */

/* The ref of the endpoint a policy names by URL (or by x-modelmux name). */
static int resolve_endpoint(struct xlate *x, const struct ynode *model, const char *env,
                            const char **ref)
{
    const char *s;
    const struct ynode *v;
    json_t *e;
    int count;

    if (get_str(model, "endpoint", 1, &s, x->err) < 0)
        return -1;
    v = get(model, "endpoint");
    e = find_endpoint_by(x, env, "url", s, &count);
    if (count > 1)
        e = NULL; /* ambiguous URL: only a name will do */
    if (!e)
        e = find_endpoint_by(x, env, "name", s, &count);
    if (!e)
        return fail_at(x->err, v->line, v->col,
                       "endpoint %.200s is not declared in endpointConfigurations.%s%s", s, env,
                       count > 1 ? " (or is declared several times: use its x-modelmux name)"
                                 : "");
    *ref = json_string_value(json_object_get(e, "ref"));
    return 0;
}

/* One {model, endpoint[, weight]} of a round-robin or failover policy. */
static int xl_target(struct xlate *x, const struct ynode *m, const char *env, int weighted,
                     json_t **out)
{
    static const char *const keys_w[] = {"model", "endpoint", "weight", NULL};
    static const char *const keys[] = {"model", "endpoint", NULL};
    const char *model, *ref = NULL;
    long long w = 1;
    int present;
    json_t *t;

    if (need_map(m, "a model entry", x->err) < 0 ||
        check_keys(m, weighted ? keys_w : keys, "a model entry", x->err) < 0 ||
        get_str(m, "model", 1, &model, x->err) < 0 || resolve_endpoint(x, m, env, &ref) < 0 ||
        (weighted && get_int(m, "weight", 1, 1000, &w, &present, x->err) < 0))
        return -1;
    t = json_object();
    *out = t;
    if (!t || put_str(t, "model", model, x->err) < 0 || put_str(t, "endpoint", ref, x->err) < 0 ||
        (weighted && put(t, "weight", json_integer(w), x->err) < 0))
        return t ? -1 : nomem(x->err);
    return 0;
}

/* Appends the targets of the sequence seq to arr. */
static int xl_target_list(struct xlate *x, const struct ynode *seq, const char *env, int weighted,
                          json_t *arr)
{
    for (size_t i = 0; i < seq->n; i++) {
        json_t *t = NULL;
        if (xl_target(x, seq->items[i], env, weighted, &t) < 0) {
            json_decref(t);
            return -1;
        }
        if (json_array_append_new(arr, t) != 0)
            return nomem(x->err);
    }
    return 0;
}

/* ModelBasedRoundRobin (weighted) and ModelmuxModelRoundRobin (plain):
 * {onQuotaExceedSuspendDuration, productionModels[], sandboxModels[]}. */
static int xl_round_robin(struct xlate *x, const struct ynode *params, json_t *body, int weighted)
{
    static const char *const keys[] = {"onQuotaExceedSuspendDuration", "productionModels",
                                       "sandboxModels", NULL};
    static const char *const lists[] = {"productionModels", "sandboxModels"};

    if (put_str(body, "type", weighted ? "modelWeightedRoundRobin" : "modelRoundRobin",
                x->err) < 0 ||
        check_keys(params, keys, "parameters", x->err) < 0 ||
        copy_int(params, "onQuotaExceedSuspendDuration", 0, MAX_SUSPEND_SEC, body,
                 "suspendDurationSec", x->err) < 0)
        return -1;
    for (size_t e = 0; e < 2; e++) {
        const struct ynode *list = get(params, lists[e]);
        json_t *arr;
        if (!list)
            continue;
        if (need_seq(list, lists[e], x->err) < 0)
            return -1;
        arr = json_array();
        if (put(body, env_names[e], arr, x->err) < 0)
            return -1;
        if (xl_target_list(x, list, env_names[e], weighted, arr) < 0)
            return -1;
    }
    return 0;
}

/* ModelmuxModelFailover: {requestTimeoutMs, onQuotaExceedSuspendDuration,
 * production {target {model, endpoint}, fallbacks []}, sandbox {...}}. */
static int xl_failover(struct xlate *x, const struct ynode *params, json_t *body)
{
    static const char *const keys[] = {"requestTimeoutMs", "onQuotaExceedSuspendDuration",
                                       "production", "sandbox", NULL};
    static const char *const env_keys[] = {"target", "fallbacks", NULL};

    if (put_str(body, "type", "modelFailover", x->err) < 0 ||
        check_keys(params, keys, "parameters", x->err) < 0 ||
        copy_int(params, "requestTimeoutMs", 1, MAX_TIMEOUT_MS, body, "requestTimeoutMs",
                 x->err) < 0 ||
        copy_int(params, "onQuotaExceedSuspendDuration", 0, MAX_SUSPEND_SEC, body,
                 "suspendDurationSec", x->err) < 0)
        return -1;
    for (size_t e = 0; e < 2; e++) {
        const struct ynode *env = get(params, env_names[e]), *target, *fb;
        json_t *o, *t = NULL, *arr;
        if (!env)
            continue;
        if (need_map(env, env_names[e], x->err) < 0 ||
            check_keys(env, env_keys, env_names[e], x->err) < 0)
            return -1;
        o = json_object();
        if (put(body, env_names[e], o, x->err) < 0)
            return -1;
        target = get(env, "target");
        if (!target)
            return fail_at(x->err, env->line, env->col, "target is required");
        if (xl_target(x, target, env_names[e], 0, &t) < 0) {
            json_decref(t);
            return -1;
        }
        if (put(o, "target", t, x->err) < 0)
            return -1;
        arr = json_array();
        if (put(o, "fallbacks", arr, x->err) < 0)
            return -1;
        fb = get(env, "fallbacks");
        if (!fb)
            continue;
        if (need_seq(fb, "fallbacks", x->err) < 0)
            return -1;
        if (xl_target_list(x, fb, env_names[e], 0, arr) < 0)
            return -1;
    }
    return 0;
}

/* ModelmuxAIRateLimit: the REST aiRateLimit fields as parameters. */
static int xl_ratelimit_ext(struct xlate *x, const struct ynode *params, json_t *body)
{
    static const char *const keys[] = {"unit", "scope", "requestTokens", "responseTokens",
                                       "totalTokens", "requests", NULL};
    const char *unit, *scope;

    if (x->ratelimit_at)
        return fail_at(x->err, params->line, params->col,
                       "only one AI rate limit per API is supported (first at line %d)",
                       x->ratelimit_at->line);
    x->ratelimit_at = params;
    if (put_str(body, "type", "aiRateLimit", x->err) < 0 ||
        check_keys(params, keys, "parameters", x->err) < 0 ||
        xl_unit(x, params, "unit", &unit) < 0 || get_str(params, "scope", 0, &scope, x->err) < 0 ||
        put_str(body, "unit", unit, x->err) < 0 ||
        (scope && put_str(body, "scope", scope, x->err) < 0))
        return -1;
    for (size_t i = 2; keys[i]; i++)
        if (copy_int(params, keys[i], 1, BIG_LIMIT, body, keys[i], x->err) < 0)
            return -1;
    return 0;
}

static int xl_policy(struct xlate *x, const struct ynode *p)
{
    static const char *const keys[] = {"policyName", "policyVersion", "policyId", "parameters",
                                       NULL};
    const char *name, *ignored;
    const struct ynode *params;
    json_t *entry, *body;

    if (need_map(p, "a policy", x->err) < 0 || check_keys(p, keys, "a policy", x->err) < 0 ||
        get_str(p, "policyName", 1, &name, x->err) < 0 ||
        get_str(p, "policyVersion", 0, &ignored, x->err) < 0 ||
        get_str(p, "policyId", 0, &ignored, x->err) < 0)
        return -1;
    params = get(p, "parameters");
    if (!params)
        return fail_at(x->err, p->line, p->col, "parameters are required");
    if (need_map(params, "parameters", x->err) < 0)
        return -1;
    entry = json_object();
    if (json_array_append_new(x->policies, entry) != 0)
        return nomem(x->err);
    body = json_object();
    if (put(entry, "body", body, x->err) < 0 || put_str(entry, "policyName", name, x->err) < 0 ||
        put_pos(entry, p, x->err) < 0)
        return -1;
    if (strcmp(name, "ModelBasedRoundRobin") == 0)
        return xl_round_robin(x, params, body, 1);
    if (strcmp(name, "ModelmuxModelRoundRobin") == 0)
        return xl_round_robin(x, params, body, 0);
    if (strcmp(name, "ModelmuxModelFailover") == 0)
        return xl_failover(x, params, body);
    if (strcmp(name, "ModelmuxAIRateLimit") == 0)
        return xl_ratelimit_ext(x, params, body);
    const struct ynode *v = get(p, "policyName");
    return fail_at(x->err, v->line, v->col,
                   "unsupported policy \"%.64s\" (modelmux supports ModelBasedRoundRobin, "
                   "ModelmuxModelRoundRobin, ModelmuxModelFailover, ModelmuxAIRateLimit)",
                   name);
}

static int xl_policies(struct xlate *x, const struct ynode *root)
{
    static const char *const keys[] = {"request", "response", NULL};
    const struct ynode *pol = get(root, "apiPolicies"), *req, *resp;

    if (!pol)
        return 0;
    if (need_map(pol, "apiPolicies", x->err) < 0 ||
        check_keys(pol, keys, "apiPolicies", x->err) < 0)
        return -1;
    resp = get(pol, "response");
    if (resp && (need_seq(resp, "apiPolicies.response", x->err) < 0))
        return -1;
    if (resp && resp->n > 0)
        return fail_at(x->err, resp->line, resp->col,
                       "response policies are not supported by modelmux");
    req = get(pol, "request");
    if (!req)
        return 0;
    if (need_seq(req, "apiPolicies.request", x->err) < 0)
        return -1;
    for (size_t i = 0; i < req->n; i++)
        if (xl_policy(x, req->items[i]) < 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------------
 * Public
 * ------------------------------------------------------------------------ */

int cp_apkconf_parse(const char *yaml, size_t len, json_t **out, struct gw_err *err)
{
    struct ynode *root = NULL;
    struct xlate x;
    int rc = -1;

    *out = NULL;
    memset(&x, 0, sizeof(x));
    x.err = err;
    if (len > CP_APKCONF_MAX_BODY)
        return gw_err_set(err, GW_ERR_TOO_LARGE, "too_large", NULL,
                          "apk-conf larger than %d bytes", CP_APKCONF_MAX_BODY);
    if (build_tree(yaml, len, &root, err) < 0)
        return -1;
    x.desc = json_object();
    x.endpoints = json_array();
    x.policies = json_array();
    if (!x.desc || !x.endpoints || !x.policies) {
        json_decref(x.endpoints);
        json_decref(x.policies);
        nomem(err);
        goto out;
    }
    /* The description owns both arrays from here on; x keeps borrowed
     * pointers. */
    if (json_object_set_new(x.desc, "endpoints", x.endpoints) != 0) {
        json_decref(x.policies);
        nomem(err);
        goto out;
    }
    if (json_object_set_new(x.desc, "policies", x.policies) != 0) {
        nomem(err);
        goto out;
    }
    if (xl_api(&x, root) < 0 || xl_endpoints(&x, root) < 0 || xl_policies(&x, root) < 0)
        goto out;
    *out = x.desc;
    x.desc = NULL;
    rc = 0;
out:
    json_decref(x.desc);
    ynode_free(root);
    return rc;
}

int cp_apkconf_resolve_refs(json_t *body, const json_t *ids, struct gw_err *err)
{
    const char *key;
    json_t *v;
    size_t i;

    if (json_is_array(body)) {
        json_array_foreach(body, i, v) {
            if (cp_apkconf_resolve_refs(v, ids, err) < 0)
                return -1;
        }
        return 0;
    }
    if (!json_is_object(body))
        return 0;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "endpoint") == 0 && json_is_string(v)) {
            json_t *id = json_object_get(ids, json_string_value(v));
            if (!json_is_string(id))
                return gw_err_set(err, GW_ERR_INTERNAL, "internal", NULL,
                                  "apk-conf endpoint %s was not created", json_string_value(v));
            if (json_string_set(v, json_string_value(id)) != 0)
                return nomem(err);
        } else if (cp_apkconf_resolve_refs(v, ids, err) < 0) {
            return -1;
        }
    }
    return 0;
}
