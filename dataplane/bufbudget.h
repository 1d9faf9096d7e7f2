/* The memory budget of upstream responses read whole (issue 11 item 9,
 * SPEC 5): a response that is not streamed is held in memory until the
 * client has it, so a few large ones could take the process down. Each
 * response is capped (--max-response-bytes) and the responses one worker
 * holds at once share a budget (--buffer-budget): a response that would go
 * past it is refused (the caller gets 503) and counted in
 * modelmux_buffer_budget_exhausted_total.
 *
 * The caps are set once by main before the workers start. The budget is the
 * worker thread's own (thread-local: a worker takes and gives back on its
 * own thread, with no lock); the refusal count is one atomic for the
 * process, read by the admin thread. */
#ifndef DP_BUFBUDGET_H
#define DP_BUFBUDGET_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Sets the per-response cap and the per-worker budget (bytes; callers
 * check them against common/limits.h). Main thread, before the workers. */
void dp_bufbudget_configure(size_t response_max, size_t worker_budget);

/* The per-response cap and the per-worker budget in force. */
size_t dp_bufbudget_response_max(void);
size_t dp_bufbudget_worker_budget(void);

/* Grows *held, the bytes charged for b, to what appending n more bytes to b
 * will allocate (gw_buf_cap_for). Returns 0, or -1 when this worker's
 * budget cannot cover it (nothing charged). */
int dp_bufbudget_charge(struct gw_buf *b, size_t n, size_t *held);

/* Gives back *held bytes to this worker's budget and zeroes *held. */
void dp_bufbudget_give(size_t *held);

/* Counts one response refused for the budget. */
void dp_bufbudget_refused(void);

/* Bytes this worker holds now. */
size_t dp_bufbudget_used(void);

/* A body handed to the client connection with the bytes it holds: freed
 * (and the bytes given back) by dp_bufbudget_hold_free when the connection
 * is done with it. Returns NULL when out of memory (then nothing changed). */
struct dp_bufhold;
struct dp_bufhold *dp_bufbudget_hold(char *body, size_t held);
void dp_bufbudget_hold_free(void *hold);

/* Appends the budget's metrics (Prometheus text). Returns 0 or -1. */
int dp_bufbudget_metrics(struct gw_buf *out);

#endif
