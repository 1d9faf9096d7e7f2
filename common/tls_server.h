/* The certificate and key of an HTTPS listener (SPEC 2 and 3: --tls-cert,
 * --tls-key), shared by both binaries' libmicrohttpd listeners.
 *
 * libmicrohttpd (GnuTLS, as Debian builds it) loads its certificate once, at
 * daemon start. To reload on SIGHUP without a restart, each connection gets
 * the current credentials set on its GnuTLS session when MHD announces it
 * (MHD_CONNECTION_NOTIFY_STARTED, before the handshake): gw_tls_server_attach
 * sets them and returns a reference the connection holds until it closes, so
 * a reload never frees credentials a connection in flight still uses, and
 * connections opened after the reload present the new certificate.
 *
 * The daemon itself is started with gw_tls_server_cert_pem/key_pem (the pair
 * loaded at start; MHD insists on one) and gw_tls_server_priorities (TLS 1.2
 * and 1.3 only, AEAD ciphers with forward secrecy). MHD 0.9.75 offers ALPN
 * "http/1.1" by itself.
 *
 * Threads: attach/release from any listener thread, reload from the main
 * thread; the current credentials are swapped under a mutex. */
#ifndef GW_TLS_SERVER_H
#define GW_TLS_SERVER_H

#include "common/err.h"

struct gw_tls_server;
struct gw_tls_cred;

/* Loads the PEM certificate chain at cert_path and the PEM private key at
 * key_path (each at most GW_TLS_FILE_MAX_BYTES; the key must match the
 * certificate). NULL with err naming the flag and file ("--tls-cert FILE:
 * ...") when a file is missing, unreadable, too large, not PEM, or the pair
 * does not match. The paths are copied. */
struct gw_tls_server *gw_tls_server_new(const char *cert_path, const char *key_path,
                                        struct gw_err *err);

/* Reads both files again and, when they load, makes them the credentials of
 * new connections. Returns 0, or -1 with err (the old pair stays in use). */
int gw_tls_server_reload(struct gw_tls_server *s, struct gw_err *err);

/* SIGHUP: gw_tls_server_reload, its outcome logged (info, or a warning
 * that the current pair is kept). */
void gw_tls_server_sighup(struct gw_tls_server *s);

/* The PEM text loaded at start (for MHD_OPTION_HTTPS_MEM_CERT/KEY), valid
 * until gw_tls_server_free. */
const char *gw_tls_server_cert_pem(const struct gw_tls_server *s);
const char *gw_tls_server_key_pem(const struct gw_tls_server *s);

/* GnuTLS priority string of both listeners. */
const char *gw_tls_server_priorities(void);

/* Sets the current credentials on gnutls_session (a gnutls_session_t, as
 * MHD_CONNECTION_INFO_GNUTLS_SESSION gives it) and returns the reference
 * the connection holds until gw_tls_cred_release; NULL when the session
 * could not take them (MHD's start-up pair then serves the connection). */
struct gw_tls_cred *gw_tls_server_attach(struct gw_tls_server *s, void *gnutls_session);

/* Drops a reference from gw_tls_server_attach. NULL is a no-op. */
void gw_tls_cred_release(struct gw_tls_cred *c);

/* Frees the server (after every listener using it stopped). NULL: no-op. */
void gw_tls_server_free(struct gw_tls_server *s);

#endif
