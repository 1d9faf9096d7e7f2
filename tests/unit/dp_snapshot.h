/* Test helpers for the data-plane unit tests: load a sample snapshot from
 * tests/data/snapshots/ and edit it by a path such as
 * "apis[0].policies[1].production[2].weight" (the syntax of gw_err.field),
 * to build valid and broken variants. Included by test_dp_*.c only. */
#ifndef MM_DP_SNAPSHOT_H
#define MM_DP_SNAPSHOT_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads tests/data/snapshots/<name> (found next to this file); aborts on failure. */
static json_t *snap_load(const char *name)
{
    char path[1024];
    const char *here = __FILE__;
    const char *cut = strstr(here, "unit/dp_snapshot.h");
    snprintf(path, sizeof(path), "%.*sdata/snapshots/%s", cut ? (int)(cut - here) : 0, here, name);
    json_error_t e;
    json_t *doc = json_load_file(path, 0, &e);
    if (!doc) {
        fprintf(stderr, "cannot load %s: %s\n", path, e.text);
        abort();
    }
    return doc;
}

/* Sets (value != NULL, reference stolen) or deletes (value == NULL) the
 * member at path; "[+]" as the last step appends to an array. Returns 0, or
 * -1 when the path does not lead anywhere. */
static int snap_edit(json_t *doc, const char *path, json_t *value)
{
    json_t *cur = doc;
    const char *p = path;
    for (;;) {
        char key[128];
        size_t n = strcspn(p, ".[");
        int is_index = *p == '[';
        long idx = -1;
        if (is_index) {
            if (strncmp(p, "[+]", 3) == 0) {
                idx = -2;
                p += 3;
            } else {
                idx = strtol(p + 1, (char **)&p, 10);
                p++; /* ']' */
            }
        } else {
            snprintf(key, sizeof(key), "%.*s", (int)n, p);
            p += n;
        }
        if (*p == '.')
            p++;
        int last = *p == '\0';
        if (last) {
            if (is_index && idx == -2)
                return json_array_append_new(cur, value);
            if (is_index)
                return value ? json_array_set_new(cur, (size_t)idx, value)
                             : json_array_remove(cur, (size_t)idx);
            return value ? json_object_set_new(cur, key, value) : json_object_del(cur, key);
        }
        cur = is_index ? json_array_get(cur, (size_t)idx) : json_object_get(cur, key);
        if (!cur) {
            json_decref(value);
            return -1;
        }
    }
}

#endif
