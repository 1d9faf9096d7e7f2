/* Allocation wrappers used by all modelmux code.
 *
 * Every heap allocation goes through gw_malloc() and friends so that tests can
 * make the Nth allocation fail (gw_alloc_fail_after) and check that the code
 * answers 413/503 or an error instead of crashing. Unlike Redis we never abort
 * on out-of-memory: callers handle NULL. jansson is routed here too by
 * gw_alloc_init(). Thread-safe: the fault counter is atomic. */
#ifndef GW_ALLOC_H
#define GW_ALLOC_H

#include <stddef.h>

/* Routes jansson's allocations through gw_malloc/gw_free. Call once at start. */
void gw_alloc_init(void);

void *gw_malloc(size_t n);
void *gw_calloc(size_t count, size_t size);
void *gw_realloc(void *p, size_t n);
/* Duplicates s (NULL gives NULL). */
char *gw_strdup(const char *s);
/* Duplicates the first n bytes of s and NUL-terminates. */
char *gw_strndup(const char *s, size_t n);
void gw_free(void *p);

/* Test hook: after n more successful allocations, every allocation fails
 * until gw_alloc_fail_after(-1) is called. n < 0 disables fault injection. */
void gw_alloc_fail_after(long n);

#endif
