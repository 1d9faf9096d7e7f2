/* Idle connections give way (issue 11 item 12): when a listener holds more
 * connections than its soft cap, each new one makes the connection that
 * has been idle longest (no request in progress: never sent one, or kept
 * alive after its answer) close, so idle sockets, however many addresses
 * they come from, can never keep a new caller out: a liveness probe on the
 * data plane's admin port, or a data plane's long poll on the control
 * plane's channel. Connections with a request in progress, held long polls
 * included, are never closed here.
 *
 * The registry knows connections by their socket; closing one is
 * shutdown(2), after which the HTTP server sees the end of the stream and
 * closes it itself (reporting it closed here first, then closing the fd:
 * libmicrohttpd's order, so a socket is never shut down after its number
 * was reused). Thread-safe (one mutex): the control plane's server runs
 * several threads. No MHD here: common/idle_conns_mhd.h is the glue. */
#ifndef GW_IDLE_CONNS_H
#define GW_IDLE_CONNS_H

#include <stdint.h>

struct gw_idle_conns;
struct gw_idle_conn;

/* A registry that lets at most soft_max connections stay open while a new
 * one arrives (the server's hard limit should be higher: the difference is
 * the reserve that new connections use while idle ones close). NULL when
 * out of memory. */
struct gw_idle_conns *gw_idle_conns_new(unsigned soft_max);
void gw_idle_conns_free(struct gw_idle_conns *r);

/* A connection on socket fd opened (idle). Closes the longest idle ones
 * while more than soft_max are open. Returns its entry, or NULL when out of
 * memory (then it is not tracked; every call below accepts NULL). */
struct gw_idle_conn *gw_idle_conn_opened(struct gw_idle_conns *r, int fd);

/* A request started (busy 1) or ended (busy 0) on c. */
void gw_idle_conn_busy(struct gw_idle_conns *r, struct gw_idle_conn *c, int busy);

/* c was closed (before its socket is): forgets and frees it. */
void gw_idle_conn_closed(struct gw_idle_conns *r, struct gw_idle_conn *c);

/* Connections closed to make room so far. */
uint64_t gw_idle_conns_evicted(struct gw_idle_conns *r);

#endif
