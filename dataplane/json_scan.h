/* A strict one-pass reader of JSON request bodies: validates the whole text
 * and records where the few top-level members the gateway reads are, so the
 * common request needs no jansson tree (body_json.c uses it, and keeps
 * jansson for everything the scanner is not sure about).
 *
 * It only ever answers "certainly valid, and jansson (json_loadb with
 * JSON_ALLOW_NUL) would read these members the same way", or "unsure": never
 * "invalid" — the caller then parses with jansson, which gives the verdict
 * and the error message. Pure function over bytes, any thread. */
#ifndef DP_JSON_SCAN_H
#define DP_JSON_SCAN_H

#include <stddef.h>

/* What the scan found. Offsets are into the scanned text. */
struct dp_json_scan {
    size_t close;        /* offset of the top-level object's closing '}' */
    int members;         /* number of top-level members */
    int has_model;       /* the model field is present (a plain string) */
    int model_count;     /* how many times (a repeated key: the last counts) */
    size_t model_off;    /* the last one's value, quotes included */
    size_t model_len;
    int stream;          /* "stream": true */
    int has_stream_options; /* a "stream_options" member exists (any type) */
    size_t so_off;       /* the last one's value */
    size_t so_len;
    int so_object;       /* ... is an object */
    int so_members;      /* ... with that many members */
    int include_usage;   /* ... with "include_usage": true */
    size_t iu_off;       /* the last "include_usage" value in it (iu_len 0: none) */
    size_t iu_len;
};

/* Told the span (off, len, quotes included) of each top-level model value. */
typedef void (*dp_json_model_cb)(void *ctx, size_t off, size_t len);

/* Scans text (n bytes) as one JSON object, nested at most max_depth levels.
 * model_field (may be NULL: no model wanted) names the model member; its
 * value must be a string without escapes, else the scan is unsure. A
 * repeated key is read as jansson and the upstream read it: the last one
 * counts. Unsure on: a top-level key with an escape, an escaped key inside
 * "stream_options", "\u0000" in a key, a surrogate escape that is not a
 * proper pair, integers of more than 18 digits, reals that could overflow a
 * double, and anything invalid. Returns 0 (out filled) or -1 (unsure). */
int dp_json_scan(const char *text, size_t n, const char *model_field, int max_depth,
                 struct dp_json_scan *out);

/* The same, telling on_model (when not NULL) every model value in order. */
int dp_json_scan_visit(const char *text, size_t n, const char *model_field, int max_depth,
                       struct dp_json_scan *out, dp_json_model_cb on_model, void *ctx);

/* Told each member of an object in text order: its key (raw text without
 * escapes, klen bytes) and its value's span (voff, vlen: offsets into the
 * walked text). Returns 0 to go on, -1 to stop the walk (it then returns -1). */
typedef int (*dp_json_member_cb)(void *ctx, const char *key, size_t klen, size_t voff,
                                 size_t vlen);

/* Walks text (n bytes: one JSON object, white space around it allowed),
 * checked as strictly as dp_json_scan checks a body and nested at most
 * max_depth levels, telling on_member each of its members; the values are
 * checked, not decoded. Unsure on an escaped key and on everything
 * dp_json_scan is unsure of. Used for the usage object of responses
 * (usage.c), so bodies and responses are read by one scanner. Returns 0, or
 * -1 (unsure, or stopped by on_member). */
int dp_json_members(const char *text, size_t n, int max_depth, dp_json_member_cb on_member,
                    void *ctx);

#endif
