/* Integer formatting without printf, for hot paths (response headers,
 * request ids, access-log and metrics lines). Pure functions; any thread. */
#ifndef GW_FMT_H
#define GW_FMT_H

#include <stdint.h>

/* Longest output of gw_fmt_u64 (base 10: 20 digits) / gw_fmt_i64 (sign). */
#define GW_FMT_INT_MAX 21

/* Writes u at p in base 10 or 16 (lowercase), at most 20 characters;
 * returns the end. Not terminated. */
char *gw_fmt_u64(char *p, uint64_t u, unsigned base);

/* Writes v in base 10 at p ('-' first when negative), at most 21
 * characters; returns the end. Not terminated. */
char *gw_fmt_i64(char *p, int64_t v);

#endif
