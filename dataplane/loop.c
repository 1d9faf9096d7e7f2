/* The per-worker event loop: epoll + timer heap + deferred calls (see loop.h).
 *
 * Owned and run by one worker thread. Watched fds live in a table indexed by
 * fd; each epoll registration carries the fd and a generation number, so an
 * event fetched for an fd that was unwatched (and maybe reused) earlier in the
 * same iteration is recognised as stale and dropped. A parked fd stays
 * registered with no listener until it is watched again for the same events
 * (no syscall either way) or reports something (then it is removed). Timers are a binary
 * min-heap keyed by due time; each timer knows its heap slot so cancelling is
 * O(log n). */
#include "loop.h"

#include "common/alloc.h"
#include "common/clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct watch {
    dp_loop_fd_fn fn;
    void *arg;
    uint32_t events;
    uint32_t generation; /* bumped at every unwatch; 0 = never watched */
    int active;          /* registered in the epoll set */
    int parked;          /* ... but nobody listens (dp_loop_park) */
};

struct dp_timer {
    int64_t due_ms;
    uint64_t order; /* tie-break: timers due together fire in creation order */
    size_t slot;    /* index in the heap */
    dp_loop_timer_fn fn;
    void *arg;
};

struct deferred {
    dp_loop_defer_fn fn;
    void *arg;
};

struct dp_loop {
    int epfd;
    int wakefd;
    atomic_int stop;
    int64_t now_ms;

    struct watch *watches; /* indexed by fd */
    size_t nwatches;

    struct dp_timer **heap;
    size_t nheap, capheap;
    uint64_t timer_order;

    struct deferred *defers;
    size_t ndefers, capdefers;

    struct deferred before_sleep; /* fn NULL: none */
};

/* ---- fds ------------------------------------------------------------------ */

static int grow_watches(struct dp_loop *loop, int fd)
{
    if ((size_t)fd < loop->nwatches)
        return 0;
    size_t n = loop->nwatches ? loop->nwatches : 64;
    while (n <= (size_t)fd)
        n *= 2;
    struct watch *w = gw_realloc(loop->watches, n * sizeof(*w));
    if (!w)
        return -1;
    memset(w + loop->nwatches, 0, (n - loop->nwatches) * sizeof(*w));
    loop->watches = w;
    loop->nwatches = n;
    return 0;
}

static uint64_t tag(int fd, uint32_t generation)
{
    return ((uint64_t)generation << 32) | (uint32_t)fd;
}

int dp_loop_watch(struct dp_loop *loop, int fd, uint32_t events, dp_loop_fd_fn fn, void *arg)
{
    if (fd < 0 || grow_watches(loop, fd) != 0)
        return -1;
    struct watch *w = &loop->watches[fd];
    if (w->parked && w->events == events) {
        /* Still registered for these very events: taken back as it is. */
        w->parked = 0;
        w->fn = fn;
        w->arg = arg;
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    int op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (!w->active)
        w->generation++;
    ev.data.u64 = tag(fd, w->generation);
    if (epoll_ctl(loop->epfd, op, fd, &ev) != 0) {
        /* The fd may have been closed and reused behind our back. */
        if (op == EPOLL_CTL_MOD && errno == ENOENT)
            op = EPOLL_CTL_ADD;
        else if (op == EPOLL_CTL_ADD && errno == EEXIST)
            op = EPOLL_CTL_MOD;
        else
            return -1;
        if (epoll_ctl(loop->epfd, op, fd, &ev) != 0)
            return -1;
    }
    w->fn = fn;
    w->arg = arg;
    w->events = events;
    w->active = 1;
    w->parked = 0;
    return 0;
}

void dp_loop_park(struct dp_loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->nwatches || !loop->watches[fd].active)
        return;
    struct watch *w = &loop->watches[fd];
    w->parked = 1;
    w->fn = NULL;
    w->arg = NULL;
}

void dp_loop_unwatch(struct dp_loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->nwatches || !loop->watches[fd].active)
        return;
    struct watch *w = &loop->watches[fd];
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL); /* fails harmlessly if closed */
    w->active = 0;
    w->parked = 0;
    w->generation++;
    w->fn = NULL;
    w->arg = NULL;
}

/* ---- timers --------------------------------------------------------------- */

static int timer_before(const struct dp_timer *a, const struct dp_timer *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->order < b->order);
}

static void heap_set(struct dp_loop *loop, size_t i, struct dp_timer *t)
{
    loop->heap[i] = t;
    t->slot = i;
}

static void sift_up(struct dp_loop *loop, size_t i)
{
    struct dp_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, loop->heap[parent]))
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void sift_down(struct dp_loop *loop, size_t i)
{
    struct dp_timer *t = loop->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        struct dp_timer *bt = t;
        if (l < loop->nheap && timer_before(loop->heap[l], bt)) {
            best = l;
            bt = loop->heap[l];
        }
        if (r < loop->nheap && timer_before(loop->heap[r], bt))
            best = r;
        if (best == i)
            break;
        heap_set(loop, i, loop->heap[best]);
        i = best;
    }
    heap_set(loop, i, t);
}

static void heap_remove(struct dp_loop *loop, size_t i)
{
    loop->nheap--;
    if (i == loop->nheap)
        return;
    heap_set(loop, i, loop->heap[loop->nheap]);
    sift_down(loop, i);
    sift_up(loop, loop->heap[i]->slot);
}

struct dp_timer *dp_loop_timer_add(struct dp_loop *loop, int64_t delay_ms, dp_loop_timer_fn fn,
                                   void *arg)
{
    if (loop->nheap == loop->capheap) {
        size_t n = loop->capheap ? loop->capheap * 2 : 64;
        struct dp_timer **h = gw_realloc(loop->heap, n * sizeof(*h));
        if (!h)
            return NULL;
        loop->heap = h;
        loop->capheap = n;
    }
    struct dp_timer *t = gw_malloc(sizeof(*t));
    if (!t)
        return NULL;
    t->due_ms = loop->now_ms + (delay_ms > 0 ? delay_ms : 0);
    t->order = loop->timer_order++;
    t->fn = fn;
    t->arg = arg;
    loop->heap[loop->nheap++] = t;
    sift_up(loop, loop->nheap - 1);
    return t;
}

void dp_loop_timer_cancel(struct dp_loop *loop, struct dp_timer *t)
{
    if (!t)
        return;
    heap_remove(loop, t->slot);
    gw_free(t);
}

static void run_timers(struct dp_loop *loop)
{
    /* Only timers due now; a callback that adds a timer with delay 0 gets it
     * run in the next iteration, never in a loop here. */
    int64_t now = loop->now_ms;
    uint64_t limit = loop->timer_order;
    while (loop->nheap > 0 && loop->heap[0]->due_ms <= now && loop->heap[0]->order < limit) {
        struct dp_timer *t = loop->heap[0];
        heap_remove(loop, 0);
        dp_loop_timer_fn fn = t->fn;
        void *arg = t->arg;
        gw_free(t);
        fn(loop, arg);
    }
}

static int next_timeout(const struct dp_loop *loop, int max_wait_ms)
{
    if (loop->ndefers > 0)
        return 0;
    if (loop->nheap == 0)
        return max_wait_ms;
    int64_t d = loop->heap[0]->due_ms - gw_now_ms();
    if (d < 0)
        d = 0;
    if (max_wait_ms >= 0 && d > max_wait_ms)
        d = max_wait_ms;
    return d > 1000000 ? 1000000 : (int)d;
}

/* ---- deferred calls ------------------------------------------------------- */

int dp_loop_defer(struct dp_loop *loop, dp_loop_defer_fn fn, void *arg)
{
    if (loop->ndefers == loop->capdefers) {
        size_t n = loop->capdefers ? loop->capdefers * 2 : 32;
        struct deferred *d = gw_realloc(loop->defers, n * sizeof(*d));
        if (!d)
            return -1;
        loop->defers = d;
        loop->capdefers = n;
    }
    loop->defers[loop->ndefers].fn = fn;
    loop->defers[loop->ndefers].arg = arg;
    loop->ndefers++;
    return 0;
}

static void run_defers(struct dp_loop *loop)
{
    /* Calls deferred from inside this phase wait for the next iteration:
     * take only the ones queued so far. */
    size_t n = loop->ndefers;
    if (n == 0)
        return; /* defers may still be NULL: memmove(NULL, ...) is undefined */
    for (size_t i = 0; i < n; i++)
        loop->defers[i].fn(loop, loop->defers[i].arg);
    memmove(loop->defers, loop->defers + n, (loop->ndefers - n) * sizeof(*loop->defers));
    loop->ndefers -= n;
}

void dp_loop_before_sleep(struct dp_loop *loop, dp_loop_defer_fn fn, void *arg)
{
    loop->before_sleep.fn = fn;
    loop->before_sleep.arg = arg;
}

/* ---- the loop ------------------------------------------------------------- */

static void drain_wakefd(struct dp_loop *loop, int fd, uint32_t events, void *arg)
{
    (void)loop;
    (void)events;
    (void)arg;
    uint64_t v;
    while (read(fd, &v, sizeof(v)) > 0)
        ;
}

struct dp_loop *dp_loop_new(void)
{
    struct dp_loop *loop = gw_calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->wakefd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail;
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0)
        goto fail;
    loop->now_ms = gw_now_ms();
    if (dp_loop_watch(loop, loop->wakefd, EPOLLIN, drain_wakefd, NULL) != 0)
        goto fail;
    return loop;
fail:
    dp_loop_free(loop);
    return NULL;
}

void dp_loop_free(struct dp_loop *loop)
{
    if (!loop)
        return;
    for (size_t i = 0; i < loop->nheap; i++)
        gw_free(loop->heap[i]);
    gw_free(loop->heap);
    gw_free(loop->defers);
    gw_free(loop->watches);
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    gw_free(loop);
}

int64_t dp_loop_now_ms(const struct dp_loop *loop)
{
    return loop->now_ms;
}

int64_t dp_loop_update_time(struct dp_loop *loop)
{
    loop->now_ms = gw_now_ms();
    return loop->now_ms;
}

int dp_loop_run_once(struct dp_loop *loop, int max_wait_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(loop->epfd, evs, MAX_EVENTS, next_timeout(loop, max_wait_ms));
    if (n < 0 && errno != EINTR)
        return -1;
    dp_loop_update_time(loop);
    for (int i = 0; i < n; i++) {
        int fd = (int)(uint32_t)evs[i].data.u64;
        uint32_t generation = (uint32_t)(evs[i].data.u64 >> 32);
        if ((size_t)fd >= loop->nwatches)
            continue;
        struct watch *w = &loop->watches[fd];
        if (!w->active || w->generation != generation)
            continue; /* unwatched earlier in this iteration */
        if (w->parked) {
            /* Nobody wants it (level-triggered: it would be reported at
             * every wait): out of the set; a later watch adds it back. */
            dp_loop_unwatch(loop, fd);
            continue;
        }
        if (w->fn)
            w->fn(loop, fd, evs[i].events, w->arg);
    }
    run_timers(loop);
    run_defers(loop);
    if (loop->before_sleep.fn)
        loop->before_sleep.fn(loop, loop->before_sleep.arg);
    return n < 0 ? 0 : n;
}

int dp_loop_run(struct dp_loop *loop)
{
    while (!atomic_load(&loop->stop)) {
        if (dp_loop_run_once(loop, -1) < 0)
            return -1;
    }
    return 0;
}

void dp_loop_stop(struct dp_loop *loop)
{
    atomic_store(&loop->stop, 1);
    dp_loop_wakeup(loop);
}

void dp_loop_wakeup(struct dp_loop *loop)
{
    uint64_t one = 1;
    ssize_t r = write(loop->wakefd, &one, sizeof(one));
    (void)r; /* EAGAIN: already signalled */
}
