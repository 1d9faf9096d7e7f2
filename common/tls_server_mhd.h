/* An HTTPS listener's MHD side (see tls_server.h), for both binaries.
 *
 * gw_tls_mhd_options fills the daemon options of a listener: with a
 * struct gw_tls_server, the start-up pair and the priorities (the daemon
 * must then also get MHD_USE_TLS, gw_tls_mhd_flag); without, nothing (an
 * array that only ends). gw_tls_mhd_started is called from the listener's
 * MHD_OPTION_NOTIFY_CONNECTION callback on MHD_CONNECTION_NOTIFY_STARTED,
 * which MHD 0.9.75 runs after creating the connection's GnuTLS session and
 * before the handshake: it puts the current credentials on the session and
 * returns the reference the connection keeps until CLOSED.
 *
 * Header only (static inline) so that libmm_common never links MHD. */
#ifndef GW_TLS_SERVER_MHD_H
#define GW_TLS_SERVER_MHD_H

#include "tls_server.h"

#include <microhttpd.h>
#include <stdint.h>

#define GW_TLS_MHD_OPTIONS 4 /* items gw_tls_mhd_options writes, END included */

/* Fills opts[GW_TLS_MHD_OPTIONS] for MHD_OPTION_ARRAY. s may be NULL. */
static inline void gw_tls_mhd_options(const struct gw_tls_server *s, struct MHD_OptionItem *opts)
{
    int n = 0;
    if (s) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                            (void *)gw_tls_server_cert_pem(s)};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
                                            (void *)gw_tls_server_key_pem(s)};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)gw_tls_server_priorities()};
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

/* MHD_USE_TLS when s is given, else 0. */
static inline unsigned gw_tls_mhd_flag(const struct gw_tls_server *s)
{
    return s ? (unsigned)MHD_USE_TLS : 0u;
}

/* gw_tls_server_new, after checking that this libmicrohttpd has TLS. */
static inline struct gw_tls_server *gw_tls_mhd_server_new(const char *cert_path,
                                                          const char *key_path, struct gw_err *err)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        gw_err_set(err, GW_ERR_INTERNAL, "tls", NULL,
                   "--tls-cert: this libmicrohttpd was built without TLS support");
        return NULL;
    }
    return gw_tls_server_new(cert_path, key_path, err);
}

/* The connection's credentials reference (NULL without TLS). */
static inline struct gw_tls_cred *gw_tls_mhd_started(struct gw_tls_server *s,
                                                     struct MHD_Connection *conn)
{
    if (!s)
        return NULL;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    return gw_tls_server_attach(s, ci ? ci->tls_session : NULL);
}

#endif
