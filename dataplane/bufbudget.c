/* Budget of upstream responses read whole (see bufbudget.h). Worker
 * threads charge and give back their own thread-local count; the caps are
 * written before the workers start and only read after; the refusal
 * counter is atomic (read by the admin thread). */
#include "bufbudget.h"

#include "common/alloc.h"
#include "common/limits.h"

#include <stdatomic.h>

static size_t response_max = GW_UPSTREAM_BODY_DEFAULT_BYTES;
static size_t worker_budget = GW_BUFFER_BUDGET_DEFAULT_BYTES;
static _Thread_local size_t used; /* this worker's charged bytes */
static atomic_ullong refused;

struct dp_bufhold {
    char *body;
    size_t held;
};

void dp_bufbudget_configure(size_t rmax, size_t budget)
{
    response_max = rmax;
    worker_budget = budget;
}

size_t dp_bufbudget_response_max(void)
{
    return response_max;
}

size_t dp_bufbudget_worker_budget(void)
{
    return worker_budget;
}

int dp_bufbudget_charge(struct gw_buf *b, size_t n, size_t *held)
{
    size_t want = gw_buf_cap_for(b, n);
    if (want <= *held)
        return 0;
    size_t more = want - *held;
    if (more > worker_budget - used)
        return -1;
    used += more;
    *held = want;
    return 0;
}

void dp_bufbudget_give(size_t *held)
{
    /* Only a stopped listener freed off its worker thread (shutdown) could
     * give back what another thread charged: never below zero. */
    used -= *held < used ? *held : used;
    *held = 0;
}

void dp_bufbudget_refused(void)
{
    atomic_fetch_add(&refused, 1);
}

size_t dp_bufbudget_used(void)
{
    return used;
}

struct dp_bufhold *dp_bufbudget_hold(char *body, size_t held)
{
    struct dp_bufhold *h = gw_malloc(sizeof(*h));
    if (!h)
        return NULL;
    h->body = body;
    h->held = held;
    return h;
}

void dp_bufbudget_hold_free(void *hold)
{
    struct dp_bufhold *h = hold;
    if (!h)
        return;
    gw_free(h->body);
    dp_bufbudget_give(&h->held);
    gw_free(h);
}

int dp_bufbudget_metrics(struct gw_buf *out)
{
    return gw_buf_printf(out,
                         "# HELP modelmux_buffer_budget_exhausted_total Upstream responses "
                         "refused (503) because the worker's budget for buffered responses "
                         "was spent.\n"
                         "# TYPE modelmux_buffer_budget_exhausted_total counter\n"
                         "modelmux_buffer_budget_exhausted_total %llu\n",
                         (unsigned long long)atomic_load(&refused)) == GW_BUF_OK
               ? 0
               : -1;
}
