/* Claiming the --listen port for this process, with nothing another local
 * user can take first.
 *
 * The workers' daemons share --listen through SO_REUSEPORT, which any
 * socket of the same user may join: a second data plane started on the
 * port would silently take part of the connections. The claim is the port
 * itself, no name in a shared namespace (the abstract unix socket used
 * before could be bound by any local user first, which kept the data plane
 * from starting): one socket binds the address *without* SO_REUSEPORT,
 * which fails on any other socket of the port (a listener of any user, a
 * data plane's workers), listens, and only then turns SO_REUSEPORT on so
 * the other workers can join it. Two data planes starting at the same
 * moment can both bind (SO_REUSEADDR, neither listening yet), but only the
 * first listen() succeeds. That socket then serves as worker 0's listening
 * socket, so every socket of the group accepts.
 *
 * Thread: main, before the workers start. */
#ifndef DP_PORTCLAIM_H
#define DP_PORTCLAIM_H

#include "common/err.h"

#include <sys/socket.h>

/* Backlog of every listening socket of --listen (the claimed one and the
 * workers'). */
#define DP_LISTEN_BACKLOG 1024

/* Binds and listens on addr as described above. Returns the listening
 * socket (non-blocking, close-on-exec, SO_REUSEPORT on), which the caller
 * owns and hands to worker 0's daemon, or -1 with err: "address in use"
 * (GW_ERR_UNAVAILABLE) when anything else holds the port, including
 * another modelmux-dp. */
int dp_port_claim(const struct sockaddr *addr, socklen_t addrlen, struct gw_err *err);

#endif
