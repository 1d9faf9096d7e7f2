/* libmicrohttpd glue of common/idle_conns.h, for both binaries' listeners:
 * the connection notifier (MHD_OPTION_NOTIFY_CONNECTION, with the registry
 * as its closure) and the two calls the access handler (first call) and the
 * completion callback make. Header only (static inline) so that
 * libmm_common never links MHD. Thread: MHD's. */
#ifndef GW_IDLE_CONNS_MHD_H
#define GW_IDLE_CONNS_MHD_H

#include "idle_conns.h"

#include <microhttpd.h>

static inline void gw_idle_mhd_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                                      enum MHD_ConnectionNotificationCode code)
{
    struct gw_idle_conns *r = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *i =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = i ? gw_idle_conn_opened(r, i->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        gw_idle_conn_closed(r, *socket_context);
        *socket_context = NULL;
    }
}

/* A request started (busy 1) or ended (0) on connection c. */
static inline void gw_idle_mhd_busy(struct gw_idle_conns *r, struct MHD_Connection *c, int busy)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (i)
        gw_idle_conn_busy(r, i->socket_context, busy);
}

#endif
