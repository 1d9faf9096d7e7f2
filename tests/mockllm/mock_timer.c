/* The resume timer (see mock_timer.h).
 *
 * A binary min-heap under one mutex; the thread sleeps on a condition
 * variable (CLOCK_MONOTONIC) until the earliest deadline or a new earlier
 * entry. Resumes are issued outside the lock: MHD_resume_connection takes
 * MHD's own lock and may be slow, and workers call mock_timer_add while
 * holding theirs. */
#include "mock_timer.h"

#include "common/alloc.h"
#include "common/clock.h"

#include <microhttpd.h>
#include <pthread.h>
#include <time.h>

struct entry {
    int64_t due;
    struct MHD_Connection *conn;
};

struct mock_timer {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int started;
    int stopping;
    struct entry *heap;
    size_t n, cap;
};

static void sift_up(struct entry *h, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent].due <= h[i].due)
            break;
        struct entry tmp = h[parent];
        h[parent] = h[i];
        h[i] = tmp;
        i = parent;
    }
}

static void sift_down(struct entry *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].due < h[m].due)
            m = l;
        if (r < n && h[r].due < h[m].due)
            m = r;
        if (m == i)
            return;
        struct entry tmp = h[m];
        h[m] = h[i];
        h[i] = tmp;
        i = m;
    }
}

static struct entry pop(struct mock_timer *t)
{
    struct entry top = t->heap[0];
    t->heap[0] = t->heap[--t->n];
    sift_down(t->heap, t->n, 0);
    return top;
}

/* Resumes in batches of this many per lock release. */
#define BATCH 64

static void *run(void *arg)
{
    struct mock_timer *t = arg;
    struct MHD_Connection *due[BATCH];
    pthread_mutex_lock(&t->lock);
    for (;;) {
        size_t k = 0;
        int64_t now = gw_now_ms();
        while (t->n && k < BATCH && (t->stopping || t->heap[0].due <= now))
            due[k++] = pop(t).conn;
        if (k) {
            pthread_mutex_unlock(&t->lock);
            for (size_t i = 0; i < k; i++)
                MHD_resume_connection(due[i]);
            pthread_mutex_lock(&t->lock);
            continue;
        }
        if (t->stopping)
            break;
        if (t->n == 0) {
            pthread_cond_wait(&t->wake, &t->lock);
        } else {
            int64_t at = t->heap[0].due;
            struct timespec ts = {.tv_sec = at / 1000, .tv_nsec = (at % 1000) * 1000000L};
            pthread_cond_timedwait(&t->wake, &t->lock, &ts);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

struct mock_timer *mock_timer_new(void)
{
    struct mock_timer *t = gw_calloc(1, sizeof(*t));
    pthread_condattr_t attr;
    if (!t)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_init(&attr);
    /* gw_now_ms is CLOCK_MONOTONIC: the deadlines must be on the same clock. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        mock_timer_free(t);
        return NULL;
    }
    t->started = 1;
    return t;
}

void mock_timer_add(struct mock_timer *t, int64_t due_ms, struct MHD_Connection *c)
{
    pthread_mutex_lock(&t->lock);
    if (t->stopping)
        goto resume_now;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        struct entry *h = gw_realloc(t->heap, ncap * sizeof(*h));
        if (!h)
            goto resume_now;
        t->heap = h;
        t->cap = ncap;
    }
    t->heap[t->n] = (struct entry){.due = due_ms, .conn = c};
    sift_up(t->heap, t->n++);
    if (t->heap[0].conn == c)
        pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    return;
resume_now:
    pthread_mutex_unlock(&t->lock);
    MHD_resume_connection(c);
}

void mock_timer_stop(struct mock_timer *t)
{
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    if (t->started) {
        pthread_join(t->thread, NULL);
        t->started = 0;
    }
}

void mock_timer_free(struct mock_timer *t)
{
    if (!t)
        return;
    mock_timer_stop(t);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    gw_free(t->heap);
    gw_free(t);
}
