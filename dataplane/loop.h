/* The per-worker event loop of the data plane (after Redis's ae.c).
 *
 * Each worker thread owns one struct dp_loop: one epoll set for every file
 * descriptor the worker cares about (its libmicrohttpd daemon's epoll fd, the
 * sockets libcurl asks it to watch, hiredis connections), a min-heap of
 * timers, and a queue of deferred calls. One iteration:
 *
 *   epoll_wait (timeout = next timer) -> fd callbacks -> due timers ->
 *   deferred calls ("before sleep": frees, curl unpause, MHD resume, ...)
 *   -> the before-sleep hook (the worker's access-log flush)
 *
 * The loop caches one monotonic "now" per iteration (dp_loop_now_ms), as curl
 * does, so everything handled in one iteration sees the same time.
 * Nothing here is thread-safe except dp_loop_wakeup() and dp_loop_stop(),
 * which any thread may call. */
#ifndef DP_LOOP_H
#define DP_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct dp_loop;
struct dp_timer;

/* Called when fd is ready; events is a mask of EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP. */
typedef void (*dp_loop_fd_fn)(struct dp_loop *loop, int fd, uint32_t events, void *arg);
/* Called once when a timer is due (the timer is already gone). */
typedef void (*dp_loop_timer_fn)(struct dp_loop *loop, void *arg);
/* Called from the before-sleep phase of the iteration it was deferred in
 * (or of the next one when deferred from the before-sleep phase itself). */
typedef void (*dp_loop_defer_fn)(struct dp_loop *loop, void *arg);

/* Creates a loop. Returns NULL on failure (out of memory or fds). */
struct dp_loop *dp_loop_new(void);

/* Frees the loop: pending timers and deferred calls are dropped without
 * being called; watched fds are not closed. NULL is a no-op. */
void dp_loop_free(struct dp_loop *loop);

/* Watches fd for events (EPOLLIN and/or EPOLLOUT; 0 keeps the fd registered
 * but idle), replacing any previous watch of that fd. Returns 0 or -1. */
int dp_loop_watch(struct dp_loop *loop, int fd, uint32_t events, dp_loop_fd_fn fn, void *arg);

/* Stops listening to fd but leaves it registered, for an fd that will
 * likely be watched again for the same events (a pooled connection): that
 * dp_loop_watch then makes no syscall, nor does the park. If fd reports an
 * event while parked, it is removed from the set (one epoll_ctl) and the
 * event is dropped. The owner must dp_loop_unwatch it before closing it
 * (closing alone would leave the loop believing it registered). No-op when
 * not watched. */
void dp_loop_park(struct dp_loop *loop, int fd);

/* Stops watching fd (no-op when not watched). Safe from inside callbacks:
 * an event already fetched for fd in this iteration is not delivered. */
void dp_loop_unwatch(struct dp_loop *loop, int fd);

/* Calls fn(arg) once after delay_ms (>= 0). Returns a handle for
 * dp_loop_timer_cancel, or NULL when out of memory. */
struct dp_timer *dp_loop_timer_add(struct dp_loop *loop, int64_t delay_ms, dp_loop_timer_fn fn,
                                   void *arg);

/* Cancels a timer that has not fired yet. t must be a handle returned by
 * dp_loop_timer_add whose callback has not run; NULL is a no-op. */
void dp_loop_timer_cancel(struct dp_loop *loop, struct dp_timer *t);

/* Queues fn(arg) for the before-sleep phase. Returns 0 or -1 (out of memory). */
int dp_loop_defer(struct dp_loop *loop, dp_loop_defer_fn fn, void *arg);

/* Calls fn(loop, arg) at the end of every iteration, after the deferred
 * calls, right before the next epoll_wait (and so once more after the
 * last iteration's work). One hook per loop; fn NULL removes it. */
void dp_loop_before_sleep(struct dp_loop *loop, dp_loop_defer_fn fn, void *arg);

/* The cached monotonic time of the current iteration, in ms. */
int64_t dp_loop_now_ms(const struct dp_loop *loop);

/* Refreshes the cached time (for long callbacks); returns it. */
int64_t dp_loop_update_time(struct dp_loop *loop);

/* Runs iterations until dp_loop_stop. Returns 0, or -1 if epoll fails. */
int dp_loop_run(struct dp_loop *loop);

/* Runs one iteration waiting at most max_wait_ms (-1: until an event or
 * timer). Returns the number of fd events handled, or -1 on epoll failure. */
int dp_loop_run_once(struct dp_loop *loop, int max_wait_ms);

/* Makes dp_loop_run return after the current iteration. Any thread. */
void dp_loop_stop(struct dp_loop *loop);

/* Wakes a loop blocked in epoll_wait (an eventfd write). Any thread. */
void dp_loop_wakeup(struct dp_loop *loop);

#endif
