/* A small YAML tree for the imports (apk-conf and Kubernetes custom
 * resources): libyaml's event parser -> nodes that keep their line and
 * column, with every hostile-input bound applied while reading, and typed
 * accessors whose errors read "line L, column C: <problem>".
 *
 * Hostile input is refused here: any anchor or alias (so a "billion laughs"
 * stream stops at its first anchor), explicit tags, nesting deeper than
 * CP_YT_MAX_DEPTH, more than CP_YT_MAX_NODES nodes in the stream, more than
 * the caller's document count, scalars over CP_YT_MAX_SCALAR bytes, NUL
 * characters, duplicate keys, CP_YT_MAX_MAP_KEYS keys in one mapping or
 * CP_YT_MAX_SEQ_ITEMS items in one list; libyaml itself refuses tabs used as
 * indentation, invalid UTF-8 and control characters (its problem text is
 * passed on with the position). Memory is bounded by the body size times a
 * small constant.
 *
 * Pure functions, no globals: any thread. */
#ifndef CP_YAML_TREE_H
#define CP_YAML_TREE_H

#include <stddef.h>

#include "common/err.h"

#define CP_YT_MAX_DEPTH 32       /* nested collections */
#define CP_YT_MAX_NODES 65536    /* scalars + collections, whole stream */
#define CP_YT_MAX_SCALAR 8192    /* bytes in one scalar */
#define CP_YT_MAX_MAP_KEYS 256   /* keys in one mapping (cheap duplicate checks) */
#define CP_YT_MAX_SEQ_ITEMS 4096 /* items in one list */

enum cp_yt_kind {
    CP_YT_SCALAR, /* str/len hold the value */
    CP_YT_SEQ,    /* items[0..n) */
    CP_YT_MAP     /* items[2i] is a key (scalar), items[2i+1] its value */
};

struct cp_ynode {
    enum cp_yt_kind kind;
    int line, col; /* 1-based start position */
    int plain;     /* scalar written without quotes (can be a bool, int, null) */
    char *str;     /* scalar value, NUL-terminated */
    size_t len;
    struct cp_ynode **items;
    size_t n, cap;
};

/* Parses a UTF-8 YAML stream of at most max_docs documents (len bytes, need
 * not be NUL-terminated). *docs: a CP_YT_SEQ node whose items are the
 * documents' roots (an empty document is a null scalar), freed with
 * cp_yt_free. Returns 0, or -1 with err (GW_ERR_INVALID with "line L, column
 * C: ..." for malformed or hostile input; GW_ERR_NOMEM). An empty stream is
 * an error. more_docs_msg is the problem text for one document too many. */
int cp_yt_parse(const char *text, size_t len, int max_docs, const char *more_docs_msg,
                struct cp_ynode **docs, struct gw_err *err);

/* Frees a tree. NULL is a no-op. */
void cp_yt_free(struct cp_ynode *n);

/* Fills err with "line L, column C: <fmt>" (kind INVALID, field "line L,
 * column C") and returns -1. */
int cp_yt_fail(struct gw_err *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* GW_ERR_NOMEM; returns -1. */
int cp_yt_nomem(struct gw_err *err);

/* 1 when n is a plain null scalar ("", ~, null). */
int cp_yt_is_null(const struct cp_ynode *n);

/* The value of key in map (a CP_YT_MAP), or NULL (also when it is null). */
const struct cp_ynode *cp_yt_get(const struct cp_ynode *map, const char *key);

/* -1 with "<what> must be a mapping / a list" unless n has that kind. */
int cp_yt_need_map(const struct cp_ynode *n, const char *what, struct gw_err *err);
int cp_yt_need_seq(const struct cp_ynode *n, const char *what, struct gw_err *err);

/* Refuses keys of map not in allowed (NULL-terminated). A key listed in
 * unsupported (NULL-terminated, or NULL) gets "<what>: "k" is not supported
 * by modelmux", any other "unknown key "k" in <what>". */
int cp_yt_check_keys(const struct cp_ynode *map, const char *const *allowed,
                     const char *const *unsupported, const char *what, struct gw_err *err);

/* String value of key: *out borrowed from the tree (NULL when absent and
 * not required; required values must not be empty). */
int cp_yt_str(const struct cp_ynode *map, const char *key, int required, const char **out,
              struct gw_err *err);

/* Bool (true/false, any case YAML 1.1 allows): *present says whether given. */
int cp_yt_bool(const struct cp_ynode *map, const char *key, int *out, int *present,
               struct gw_err *err);

/* Integer in [min, max] written as a plain decimal: *present says whether
 * it was given. */
int cp_yt_int(const struct cp_ynode *map, const char *key, long long min, long long max,
              long long *out, int *present, struct gw_err *err);

#endif
