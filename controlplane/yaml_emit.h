/* Writing YAML for the exports (apk-conf, custom resources): libyaml's
 * emitter driven with events into a bounded gw_buf, and small helpers that
 * write one key and value each. String values are double-quoted, so "1.0"
 * or "true" stay strings when read back.
 *
 * Every helper returns 0 or -1 (the emitter is then unusable and the
 * caller unwinds; cp_ye_finish turns the failure into err). One emitter per
 * export, any thread. */
#ifndef CP_YAML_EMIT_H
#define CP_YAML_EMIT_H

#include <stddef.h>

#include <jansson.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/err.h"

struct cp_yemit {
    yaml_emitter_t em;
    struct gw_buf out;
    int toobig; /* the output outgrew max */
};

/* Initialises e for at most max bytes of output and starts the stream.
 * On failure e needs no cleanup. */
int cp_ye_init(struct cp_yemit *e, size_t max, struct gw_err *err);

/* Starts / ends one document ("---" written when explicit). */
int cp_ye_doc_start(struct cp_yemit *e, int explicit_start);
int cp_ye_doc_end(struct cp_yemit *e);

/* Ends the stream and hands the text over: 0 with *out (gw_malloc'd,
 * NUL-terminated) and *out_len. With failed set (a helper returned -1),
 * fills err from the emitter's state (unless err is set already) and
 * returns -1. Always releases e. */
int cp_ye_finish(struct cp_yemit *e, int failed, const char *what, char **out, size_t *out_len,
                 struct gw_err *err);

int cp_ye_scalar(struct cp_yemit *e, const char *s, yaml_scalar_style_t style);
int cp_ye_map_start(struct cp_yemit *e);
int cp_ye_map_end(struct cp_yemit *e);
int cp_ye_seq_start(struct cp_yemit *e, yaml_sequence_style_t style);
int cp_ye_seq_end(struct cp_yemit *e);
int cp_ye_key(struct cp_yemit *e, const char *k);                   /* key: */
int cp_ye_kv_str(struct cp_yemit *e, const char *k, const char *v); /* key: "v" */
int cp_ye_kv_int(struct cp_yemit *e, const char *k, json_int_t v);  /* key: 12 */
int cp_ye_kv_bool(struct cp_yemit *e, const char *k, int v);        /* key: true */
/* key: ["a", "b"]: the strings of arr (anything else: key: []). */
int cp_ye_kv_strs(struct cp_yemit *e, const char *k, const json_t *arr);
/* key: value when obj[name] is a string / an integer / a boolean. */
int cp_ye_opt_str(struct cp_yemit *e, const char *k, const json_t *obj, const char *name);
int cp_ye_opt_int(struct cp_yemit *e, const char *k, const json_t *obj, const char *name);
int cp_ye_opt_bool(struct cp_yemit *e, const char *k, const json_t *obj, const char *name);

#endif
