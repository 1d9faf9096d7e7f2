/* Allocation wrappers with fault injection (see alloc.h). */
#include "alloc.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Remaining successful allocations before failures start; < 0 = never fail. */
static atomic_long fail_countdown = -1;

static int should_fail(void)
{
    long v = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (v < 0)
        return 0;
    if (v == 0)
        return 1;
    atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
    return 0;
}

void gw_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

void *gw_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *gw_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *gw_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

char *gw_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = gw_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *gw_strdup(const char *s)
{
    return s ? gw_strndup(s, strlen(s)) : NULL;
}

void gw_free(void *p)
{
    free(p);
}

void gw_alloc_init(void)
{
    json_set_alloc_funcs(gw_malloc, gw_free);
}
