/* Test helper for the metrics unit tests: the whole exposition of a
 * registry as a string (gw_free it), or NULL when rendering failed.
 * Included by test_dp_metrics_series.c and test_dp_metrics_labels.c. */
#ifndef MM_METRICS_RENDER_H
#define MM_METRICS_RENDER_H

#include "common/buf.h"
#include "dataplane/metrics.h"

static char *render(struct dp_metrics *m)
{
    struct gw_buf out;
    gw_buf_init(&out, 64 << 20);
    if (dp_metrics_render(m, NULL, NULL, 1, &out) != 0) {
        gw_buf_cleanup(&out);
        return NULL;
    }
    return gw_buf_take(&out);
}

#endif
