/* Resumes suspended MHD connections at a deadline: the delays of the mock
 * (delayMs before the headers, chunkDelayMs between stream chunks) without a
 * sleeping worker thread.
 *
 * A callback suspends its connection and hands it here with a due time; one
 * timer thread keeps a min-heap of (due, connection) and calls
 * MHD_resume_connection when each is due. Every connection added is resumed
 * exactly once. After mock_timer_stop every pending connection is resumed
 * at once and later adds resume immediately, so the daemon can be stopped
 * with nothing suspended. Thread-safe. */
#ifndef MOCK_TIMER_H
#define MOCK_TIMER_H

#include <stdint.h>

struct MHD_Connection;
struct mock_timer;

/* Starts the timer thread. Returns NULL when out of memory or the thread
 * cannot start. */
struct mock_timer *mock_timer_new(void);

/* Resumes c (already suspended by the caller) at monotonic time due_ms
 * (gw_now_ms). When out of memory or stopping, resumes it at once. */
void mock_timer_add(struct mock_timer *t, int64_t due_ms, struct MHD_Connection *c);

/* Resumes everything pending and joins the thread; later adds resume at
 * once. Idempotent. Call from one thread (the one that will free). */
void mock_timer_stop(struct mock_timer *t);

/* Stops (if needed), joins the thread and frees. NULL is a no-op. */
void mock_timer_free(struct mock_timer *t);

#endif
