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
    size_t model_off;    /* its value, quotes included */
    size_t model_len;
    int stream;          /* "stream": true */
    int has_stream_options; /* a "stream_options" member exists (any type) */
    int include_usage;   /* "stream_options" is an object with "include_usage": true */
};

/* Scans text (n bytes) as one JSON object, nested at most max_depth levels.
 * model_field (may be NULL: no model wanted) names the model member; its
 * value must be a string without escapes, else the scan is unsure. Also
 * unsure on: a top-level key with an escape or seen twice, an escaped or
 * repeated key inside "stream_options", "\u0000", a surrogate escape that is
 * not a proper pair, integers of more than 18 digits, reals that could
 * overflow a double, more than DP_JSON_SCAN_MAX_KEYS top-level members, and
 * anything invalid. Returns 0 (out filled) or -1 (unsure). */
int dp_json_scan(const char *text, size_t n, const char *model_field, int max_depth,
                 struct dp_json_scan *out);

#define DP_JSON_SCAN_MAX_KEYS 64

#endif
