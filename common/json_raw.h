/* JSON text without a tree, for the config snapshot's bulk (issue 11 item
 * 11: 100,000 keys must be written, checked and read in well under a
 * second, which a jansson tree per key does not allow).
 *
 * Three small tools: finding the members of the top-level object as byte
 * ranges of the text (without checking their values: whoever uses a range
 * reads it with a real parser); a cursor that reads a strict subset of JSON
 * (printable-ASCII strings without escapes, null, arrays and objects of
 * those) and says "not in the subset" for anything else, so its caller can
 * fall back to jansson, which then decides; and a string writer that
 * escapes exactly as jansson's json_dumps does, so text written here hashes
 * the same as jansson's canonical dump. Pure; any thread. */
#ifndef GW_JSON_RAW_H
#define GW_JSON_RAW_H

#include "common/buf.h"

#include <stddef.h>

/* One member of the top-level object: its name as written (between the
 * quotes, escapes not decoded) and its value's bytes. */
struct gw_json_member {
    const char *name;
    size_t namelen;
    const char *value;
    size_t len;
};

#define GW_JSON_TOP_MAX 32 /* members read from the top-level object */

/* Finds the members of the object that text is (at most GW_JSON_TOP_MAX,
 * names without backslashes, no name twice). Returns the number found, or
 * -1 when text is not such an object as far as a scan can tell. */
int gw_json_raw_members(const char *text, size_t len, struct gw_json_member out[GW_JSON_TOP_MAX]);

/* The member named name (plain), or NULL. */
const struct gw_json_member *gw_json_raw_find(const struct gw_json_member *m, int n,
                                              const char *name);

/* A cursor over JSON text read in the strict subset described above. Every
 * function returns 0, or -1 when the text there is not in the subset (the
 * cursor is then unusable). */
struct gw_json_cur {
    const char *p;
    const char *end;
};

/* Skips whitespace and consumes c. */
int gw_json_cur_char(struct gw_json_cur *c, char ch);

/* Skips whitespace; returns the next byte without consuming it (0 at the
 * end). */
char gw_json_cur_peek(struct gw_json_cur *c);

/* A string of printable ASCII without escapes: *s points into the text
 * (not NUL-terminated), *n its length. */
int gw_json_cur_string(struct gw_json_cur *c, const char **s, size_t *n);

/* The literal null. */
int gw_json_cur_null(struct gw_json_cur *c);

/* Skips whitespace; 0 when only whitespace is left. */
int gw_json_cur_done(struct gw_json_cur *c);

/* Appends s (n bytes of UTF-8) as a JSON string, escaped as jansson's
 * json_dumps escapes it without flags. Returns GW_BUF_OK or the failure
 * (enum gw_buf_result: the buffer is then freed). */
enum gw_buf_result gw_json_raw_put_str(struct gw_buf *b, const char *s, size_t n);

#endif
