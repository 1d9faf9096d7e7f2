/* Upstream TLS of one try (SPEC 2.2 Endpoints "tls"): the endpoint's extra
 * trusted CA certificates and client certificate and key handed to
 * libcurl as in-memory blobs, and the reason of a failed handshake in
 * words a caller can act on.
 *
 * Verification is never turned off. libcurl (OpenSSL flavour) reads
 * CURLOPT_CAINFO_BLOB instead of its CA bundle file but still its CA path
 * (Debian: /etc/ssl/certs, the same roots hashed), so the endpoint's CAs
 * are trusted in addition to the system's: dp_upstream_tls_check says at
 * start when this libcurl has no default CA path. The blobs are copied by
 * libcurl, and take part in its connection-reuse match, so a connection
 * made with one endpoint's client certificate never serves another's.
 *
 * Thread: the worker's (dp_upstream_tls_check: main, once). */
#ifndef DP_UPSTREAM_TLS_H
#define DP_UPSTREAM_TLS_H

#include <curl/curl.h>
#include <stddef.h>

/* One endpoint's TLS material (borrowed from its config snapshot): each
 * NULL when not set. */
struct dp_upstream_tls {
    const char *ca_cert;     /* PEM certificates trusted besides the system's */
    const char *client_cert; /* PEM, with client_key */
    const char *client_key;  /* PEM private key */
};

/* Sets tls's options on the easy handle e (tls NULL: nothing). */
void dp_upstream_tls_apply(CURL *e, const struct dp_upstream_tls *tls);

/* When result (a CURLcode) is a TLS failure, writes into out a sentence
 * saying why, from curl's error buffer errbuf ("" allowed): "the
 * upstream's TLS certificate could not be verified (...)", "the upstream's
 * TLS certificate does not match its host name (...)", "the TLS handshake
 * with the upstream failed (...)", and returns 1; else returns 0 and out is
 * "". */
int dp_upstream_tls_reason(int result, const char *errbuf, char *out, size_t outsz);

/* Logs a warning when endpoints' tls.caCert would replace the system's
 * roots instead of adding to them (a libcurl without a default CA path). */
void dp_upstream_tls_check(void);

#endif
