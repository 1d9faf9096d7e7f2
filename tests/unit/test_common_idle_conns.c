/* Unit tests of common/idle_conns.c: past the soft cap a new connection
 * shuts down the one idle longest; busy ones (a request in progress) are
 * never chosen; a connection idle again after its answer is the newest
 * idle. Real sockets (socketpair): the peer of a shut-down one reads EOF. */
#include "common/idle_conns.h"

#include <sys/socket.h>
#include <unistd.h>

#include "testhelp.h"

struct pair {
    int fds[2]; /* [0] the server's, [1] the client's */
    struct gw_idle_conn *c;
};

static void open_pair(struct gw_idle_conns *r, struct pair *p)
{
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fds), 0);
    p->c = gw_idle_conn_opened(r, p->fds[0]);
    CHECK(p->c != NULL);
}

/* 1 when the client side sees the end of the stream. */
static int shut(struct pair *p)
{
    char b;
    return recv(p->fds[1], &b, 1, MSG_DONTWAIT) == 0;
}

static void close_pair(struct gw_idle_conns *r, struct pair *p)
{
    gw_idle_conn_closed(r, p->c);
    close(p->fds[0]);
    close(p->fds[1]);
}

TEST("past the soft cap the longest idle connection is shut down, busy ones never")
{
    struct gw_idle_conns *r = gw_idle_conns_new(3);
    struct pair p[6];
    for (int i = 0; i < 3; i++)
        open_pair(r, &p[i]);
    CHECK_INT(gw_idle_conns_evicted(r), 0);
    gw_idle_conn_busy(r, p[0].c, 1); /* a request in progress on the oldest */
    open_pair(r, &p[3]);
    CHECK(!shut(&p[0]));
    CHECK(shut(&p[1])); /* the oldest idle */
    CHECK(!shut(&p[2]) && !shut(&p[3]));
    CHECK_INT(gw_idle_conns_evicted(r), 1);
    close_pair(r, &p[1]); /* the server closes it */
    gw_idle_conn_busy(r, p[0].c, 0); /* answered: now the newest idle */
    open_pair(r, &p[4]);
    CHECK(shut(&p[2]));
    CHECK(!shut(&p[0]) && !shut(&p[3]) && !shut(&p[4]));
    close_pair(r, &p[2]);
    open_pair(r, &p[5]);
    CHECK(shut(&p[3]));
    CHECK(!shut(&p[0]));
    CHECK_INT(gw_idle_conns_evicted(r), 3);
    close_pair(r, &p[3]);
    close_pair(r, &p[0]);
    close_pair(r, &p[4]);
    close_pair(r, &p[5]);
    gw_idle_conns_free(r);
}

TEST_MAIN()
