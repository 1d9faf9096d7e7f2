/* Unit tests of dataplane/loop.c: fd events, timer order and cancel,
 * deferred calls, stale events after unwatch, parked and one-shot watches,
 * cross-thread stop. */
#include "testhelp.h"

#include "dataplane/loop.h"

#include <pthread.h>
#include <unistd.h>

static int order[16], norder;

static void mark(struct dp_loop *loop, void *arg)
{
    (void)loop;
    order[norder++] = (int)(long)arg;
}

TEST("timers fire in due order, ties in creation order, cancel works")
{
    struct dp_loop *loop = dp_loop_new();
    norder = 0;
    dp_loop_timer_add(loop, 30, mark, (void *)3);
    dp_loop_timer_add(loop, 10, mark, (void *)1);
    struct dp_timer *c = dp_loop_timer_add(loop, 20, mark, (void *)99);
    dp_loop_timer_add(loop, 20, mark, (void *)2);
    dp_loop_timer_cancel(loop, c);
    for (int i = 0; i < 20 && norder < 3; i++)
        dp_loop_run_once(loop, 50);
    CHECK_INT(norder, 3);
    CHECK_INT(order[0], 1);
    CHECK_INT(order[1], 2);
    CHECK_INT(order[2], 3);
    dp_loop_free(loop);
}

static int reads;

static void on_read(struct dp_loop *loop, int fd, uint32_t events, void *arg)
{
    (void)loop;
    (void)arg;
    char c;
    if (events & EPOLLIN && read(fd, &c, 1) == 1)
        reads++;
}

static void defer_mark(struct dp_loop *loop, void *arg)
{
    mark(loop, arg);
}

TEST("fd readiness and deferred calls")
{
    struct dp_loop *loop = dp_loop_new();
    int p[2];
    CHECK_INT(pipe(p), 0);
    reads = 0;
    norder = 0;
    CHECK_INT(dp_loop_watch(loop, p[0], EPOLLIN, on_read, NULL), 0);
    CHECK_INT(write(p[1], "x", 1), 1);
    dp_loop_defer(loop, defer_mark, (void *)7);
    dp_loop_run_once(loop, 100);
    CHECK_INT(reads, 1);
    CHECK_INT(norder, 1);
    CHECK_INT(order[0], 7);
    dp_loop_unwatch(loop, p[0]);
    CHECK_INT(write(p[1], "y", 1), 1);
    dp_loop_run_once(loop, 20);
    CHECK_INT(reads, 1);
    close(p[0]);
    close(p[1]);
    dp_loop_free(loop);
}

static int other_reads;

static void on_read_other(struct dp_loop *loop, int fd, uint32_t events, void *arg)
{
    (void)arg;
    on_read(loop, fd, events, NULL);
    other_reads++;
}

TEST("a parked fd: taken back for the same events, or dropped when it reports")
{
    struct dp_loop *loop = dp_loop_new();
    int p[2];
    CHECK_INT(pipe(p), 0);
    reads = other_reads = 0;
    CHECK_INT(dp_loop_watch(loop, p[0], EPOLLIN, on_read, NULL), 0);
    dp_loop_park(loop, p[0]);
    /* nothing pending: watched again for the same events by a new owner */
    CHECK_INT(dp_loop_watch(loop, p[0], EPOLLIN, on_read_other, NULL), 0);
    CHECK_INT(write(p[1], "a", 1), 1);
    CHECK_INT(dp_loop_run_once(loop, 100), 1);
    CHECK_INT(reads, 1);
    CHECK_INT(other_reads, 1);
    /* parked with data arriving: nobody is called, the fd leaves the set
     * (level-triggered, it would otherwise be reported at every wait) */
    dp_loop_park(loop, p[0]);
    CHECK_INT(write(p[1], "b", 1), 1);
    CHECK_INT(dp_loop_run_once(loop, 100), 1);
    CHECK_INT(reads, 1);
    CHECK_INT(dp_loop_run_once(loop, 20), 0);
    /* watched again: added back, the pending byte is reported */
    CHECK_INT(dp_loop_watch(loop, p[0], EPOLLIN, on_read, NULL), 0);
    CHECK_INT(dp_loop_run_once(loop, 100), 1);
    CHECK_INT(reads, 2);
    /* parked, then watched for other events: changed in the set */
    dp_loop_park(loop, p[0]);
    CHECK_INT(dp_loop_watch(loop, p[1], EPOLLOUT, on_read_other, NULL), 0);
    CHECK_INT(dp_loop_watch(loop, p[0], EPOLLIN | EPOLLRDHUP, on_read, NULL), 0);
    CHECK_INT(write(p[1], "c", 1), 1);
    dp_loop_unwatch(loop, p[1]);
    CHECK_INT(dp_loop_run_once(loop, 100), 1);
    CHECK_INT(reads, 3);
    /* parked, then unwatched: gone, nothing reported */
    dp_loop_park(loop, p[0]);
    dp_loop_unwatch(loop, p[0]);
    CHECK_INT(write(p[1], "d", 1), 1);
    CHECK_INT(dp_loop_run_once(loop, 20), 0);
    CHECK_INT(reads, 3);
    /* parking what is not watched is a no-op */
    dp_loop_park(loop, p[0]);
    dp_loop_park(loop, -1);
    CHECK_INT(dp_loop_run_once(loop, 20), 0);
    close(p[0]);
    close(p[1]);
    dp_loop_free(loop);
}

TEST("a one-shot watch reports once and is re-armed by watching it again")
{
    struct dp_loop *loop = dp_loop_new();
    int p[2];
    CHECK_INT(pipe(p), 0);
    reads = 0;
    CHECK_INT(dp_loop_watch(loop, p[0], EPOLLIN | EPOLLONESHOT, on_read, NULL), 0);
    CHECK_INT(write(p[1], "ab", 2), 2);
    CHECK_INT(dp_loop_run_once(loop, 100), 1);
    CHECK_INT(reads, 1);
    CHECK_INT(dp_loop_run_once(loop, 20), 0); /* a byte is left, but disarmed */
    CHECK_INT(dp_loop_watch(loop, p[0], EPOLLIN | EPOLLONESHOT, on_read, NULL), 0);
    CHECK_INT(dp_loop_run_once(loop, 100), 1);
    CHECK_INT(reads, 2);
    dp_loop_unwatch(loop, p[0]);
    close(p[0]);
    close(p[1]);
    dp_loop_free(loop);
}

static struct dp_loop *shared_loop;

static void *stopper(void *arg)
{
    (void)arg;
    usleep(50000);
    dp_loop_stop(shared_loop);
    return NULL;
}

TEST("stop from another thread ends run")
{
    shared_loop = dp_loop_new();
    pthread_t t;
    pthread_create(&t, NULL, stopper, NULL);
    CHECK_INT(dp_loop_run(shared_loop), 0);
    pthread_join(t, NULL);
    dp_loop_free(shared_loop);
}

TEST_MAIN()
