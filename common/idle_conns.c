/* Idle connections give way (see idle_conns.h). The idle connections are
 * one list, newest idle at the front; busy ones are off it. Any thread, under the
 * registry's mutex. */
#include "idle_conns.h"

#include "alloc.h"
#include "list.h"

#include <pthread.h>
#include <sys/socket.h>

struct gw_idle_conn {
    struct gw_list link; /* on r->idle while idle and not closing */
    int fd;
    int busy;
    int closing; /* shut down here, not reported closed yet */
};

struct gw_idle_conns {
    pthread_mutex_t mu;
    struct gw_list idle;
    unsigned soft_max;
    unsigned open;    /* opened, not reported closed */
    unsigned closing; /* of those, shut down here */
    uint64_t evicted;
};

struct gw_idle_conns *gw_idle_conns_new(unsigned soft_max)
{
    struct gw_idle_conns *r = gw_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    gw_list_init(&r->idle);
    r->soft_max = soft_max;
    return r;
}

void gw_idle_conns_free(struct gw_idle_conns *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    gw_free(r); /* entries left belong to connections the server freed */
}

/* Shuts down the longest idle connections while too many are open. */
static void make_room(struct gw_idle_conns *r)
{
    while (r->open - r->closing > r->soft_max && !gw_list_empty(&r->idle)) {
        struct gw_idle_conn *c = gw_list_entry(r->idle.prev, struct gw_idle_conn, link);
        gw_list_remove(&c->link);
        c->closing = 1;
        r->closing++;
        r->evicted++;
        shutdown(c->fd, SHUT_RDWR);
    }
}

struct gw_idle_conn *gw_idle_conn_opened(struct gw_idle_conns *r, int fd)
{
    struct gw_idle_conn *c = gw_calloc(1, sizeof(*c));
    pthread_mutex_lock(&r->mu);
    r->open++;
    if (c) {
        c->fd = fd;
        gw_list_push(&r->idle, &c->link);
    }
    make_room(r);
    pthread_mutex_unlock(&r->mu);
    return c;
}

void gw_idle_conn_busy(struct gw_idle_conns *r, struct gw_idle_conn *c, int busy)
{
    if (!c)
        return;
    pthread_mutex_lock(&r->mu);
    if (!c->closing && c->busy != busy) {
        c->busy = busy;
        if (busy)
            gw_list_remove(&c->link);
        else
            gw_list_push(&r->idle, &c->link); /* the newest idle */
    }
    pthread_mutex_unlock(&r->mu);
}

void gw_idle_conn_closed(struct gw_idle_conns *r, struct gw_idle_conn *c)
{
    pthread_mutex_lock(&r->mu);
    r->open--;
    if (c && c->closing)
        r->closing--;
    if (c)
        gw_list_remove(&c->link); /* a no-op when it is off the list */
    pthread_mutex_unlock(&r->mu);
    gw_free(c);
}

uint64_t gw_idle_conns_evicted(struct gw_idle_conns *r)
{
    pthread_mutex_lock(&r->mu);
    uint64_t n = r->evicted;
    pthread_mutex_unlock(&r->mu);
    return n;
}
