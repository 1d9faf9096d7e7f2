/* The admin server of the data plane on --admin-listen: /metrics (Prometheus
 * text), /healthz (200 while the process runs), /readyz (503 until a config
 * snapshot is applied, 200 after). A small MHD daemon with its own internal
 * thread; it only reads what struct dp_shared publishes. */
#ifndef DP_ADMIN_H
#define DP_ADMIN_H

#include "common/err.h"

#include <sys/socket.h>

struct dp_shared;
struct dp_admin;

/* Starts serving. NULL with err (address in use...). */
struct dp_admin *dp_admin_start(struct dp_shared *sh, const struct sockaddr *addr,
                                socklen_t addrlen, struct gw_err *err);

/* Stops and frees. NULL is a no-op. */
void dp_admin_stop(struct dp_admin *a);

#endif
