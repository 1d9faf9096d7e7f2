/* Test helper for the rate-limiter unit tests: one limiter with one worker
 * attached to its own event loop, as a data-plane worker has. Included by
 * test_dp_ratelimit.c and test_dp_rl_redis.c only. */
#ifndef MM_RL_FIXTURE_H
#define MM_RL_FIXTURE_H

#include "common/err.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dataplane/loop.h"
#include "dataplane/ratelimit.h"

struct rl_fixture {
    struct dp_rl *rl;
    struct dp_loop *loop;
    struct dp_rl_worker *w;
};

/* redis_url NULL: local counters only. */
static void rl_fixture_open(struct rl_fixture *f, const char *redis_url)
{
    struct gw_err err;
    f->rl = dp_rl_new(redis_url, &err);
    f->loop = dp_loop_new();
    f->w = dp_rl_worker_new(f->rl, f->loop);
}

static void rl_fixture_close(struct rl_fixture *f)
{
    dp_rl_worker_free(f->w);
    dp_loop_free(f->loop);
    dp_rl_free(f->rl);
}

/* stderr captured into a temp file (the limiter's log lines). */
struct log_capture {
    int fd, saved;
};

static void log_capture_start(struct log_capture *c)
{
    char path[] = "/tmp/mm-rl-log-XXXXXX";
    c->fd = mkstemp(path);
    unlink(path);
    c->saved = dup(2);
    dup2(c->fd, 2);
}

/* Restores stderr; returns what was logged (a static buffer). */
static const char *log_capture_stop(struct log_capture *c)
{
    static char text[16384];
    dup2(c->saved, 2);
    close(c->saved);
    lseek(c->fd, 0, SEEK_SET);
    ssize_t n = read(c->fd, text, sizeof(text) - 1);
    text[n > 0 ? n : 0] = '\0';
    close(c->fd);
    return text;
}

/* Occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

#endif
