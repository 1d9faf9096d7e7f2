/* Nesting depth of JSON text, measured before a parser sees it (jansson's
 * own limit is 2048 levels of recursion; our inputs allow far fewer). Pure
 * function, any thread. */
#ifndef GW_JSON_DEPTH_H
#define GW_JSON_DEPTH_H

#include <stddef.h>

/* 1 when the arrays and objects of the len bytes of JSON text at text nest
 * at most max deep (a top-level object is depth 1), else 0. Brackets inside
 * strings (with their escapes) do not count. The text need not be valid
 * JSON: the parser judges that afterwards. */
int gw_json_depth_ok(const void *text, size_t len, int max);

#endif
