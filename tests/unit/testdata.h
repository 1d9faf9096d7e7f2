/* Helpers for the unit tests of the imports and exports: values at a
 * dotted JSON path, test data files, and the allocation-failure loop. */
#ifndef MM_TESTDATA_H
#define MM_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/err.h"

/* The value at path: "a.b.c" through objects, "#2" indexes arrays. */
static inline json_t *jget(const json_t *o, const char *path)
{
    char buf[256], *save = NULL, *tok;
    const json_t *cur = o;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
        cur = tok[0] == '#' ? json_array_get(cur, (size_t)strtol(tok + 1, NULL, 10))
                            : json_object_get(cur, tok);
    return (json_t *)cur;
}

static inline const char *sget(const json_t *o, const char *path)
{
    return json_string_value(jget(o, path));
}

/* Integer at path, -999 when absent. */
static inline long long iget(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return json_is_integer(v) ? json_integer_value(v) : -999;
}

/* tests/data/<dir>/<name> (found from this file's path), malloc'd and
 * NUL-terminated; NULL when it cannot be read. */
static inline char *read_test_data(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    const char *here = __FILE__, *slash = strrchr(here, '/');
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%.*s/../data/%s/%s", slash ? (int)(slash - here) : 1,
             slash ? here : ".", dir, name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

/* One run of the code under test: 0, or -1 with err (fn frees what it made). */
typedef int (*mm_alloc_run_fn)(void *ctx, struct gw_err *err);

/* Runs fn with the Nth allocation failing, N = 0, 1, ... until it succeeds
 * (at most max runs); every failure before must be GW_ERR_NOMEM. Returns 1
 * when fn succeeded, 0 otherwise (the odd error is printed). */
static inline int alloc_torture(mm_alloc_run_fn fn, void *ctx, long max)
{
    for (long n = 0; n < max; n++) {
        struct gw_err err;
        int rc;
        gw_err_clear(&err);
        gw_alloc_fail_after(n);
        rc = fn(ctx, &err);
        gw_alloc_fail_after(-1);
        if (rc == 0)
            return 1;
        if (err.kind != GW_ERR_NOMEM) {
            fprintf(stderr, "  n=%ld: kind %d %s\n", n, err.kind, err.message);
            return 0;
        }
    }
    return 0;
}

#endif
