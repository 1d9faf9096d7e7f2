/* PEM text checks shared by both binaries: the TLS material of endpoints
 * (tls.caCert, tls.clientCert, the secret holding tls.clientKey) and the
 * --cp-ca file. OpenSSL's libcrypto parses; nothing is kept. Any thread. */
#ifndef GW_PEM_H
#define GW_PEM_H

#include <stddef.h>

#include "common/err.h"

/* Reads the file at path, at most GW_TLS_FILE_MAX_BYTES of text holding a
 * "-----BEGIN " line, into a NUL-terminated buffer (the caller frees; *len
 * its length). NULL with err "<flag> <path>: <why>". */
char *gw_pem_read_file(const char *flag, const char *path, size_t *len, struct gw_err *err);

/* The number of X.509 certificates in the len bytes of pem (at least one,
 * nothing but certificates and the text between them), or -1 when pem
 * holds none or a block that is not a valid certificate. */
int gw_pem_cert_count(const char *pem, size_t len);

/* 1 when the len bytes of pem hold exactly one unencrypted private key
 * OpenSSL can read (PKCS#8, RSA or EC), else 0. */
int gw_pem_is_private_key(const char *pem, size_t len);

#endif
