/* An HTTPS listener's reloadable certificate and key (see tls_server.h).
 * Owns the current GnuTLS credentials (one reference) and the PEM text
 * loaded at start. Any thread; the swap is under a mutex. */
#include "common/tls_server.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/alloc.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/pem.h"

/* TLS 1.2 and 1.3 only; ECDHE (or TLS 1.3) key exchange with AEAD ciphers;
 * the server's order wins. */
#define PRIORITIES                                                                                 \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"  \
    "+CHACHA20-POLY1305:%SERVER_PRECEDENCE"

struct gw_tls_cred {
    atomic_int refs;
    gnutls_certificate_credentials_t x509;
};

struct gw_tls_server {
    char *cert_path;
    char *key_path;
    char *cert_pem; /* the start-up pair, for MHD */
    char *key_pem;
    pthread_mutex_t mu;
    struct gw_tls_cred *current; /* under mu; one reference */
};

static void cred_free(struct gw_tls_cred *c)
{
    if (!c)
        return;
    if (c->x509)
        gnutls_certificate_free_credentials(c->x509);
    gw_free(c);
}

/* 0 when cd holds at least one PEM certificate, else a GnuTLS error. */
static int cert_check(const gnutls_datum_t *cd)
{
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    int rc = gnutls_x509_crt_list_import2(&list, &n, cd, GNUTLS_X509_FMT_PEM, 0);
    for (unsigned i = 0; rc >= 0 && i < n; i++)
        gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list);
    return rc < 0 ? rc : (n ? 0 : GNUTLS_E_NO_CERTIFICATE_FOUND);
}

/* Credentials from the PEM pair. NULL with err. */
static struct gw_tls_cred *cred_new(const struct gw_tls_server *s, const char *cert, size_t cert_len,
                                    const char *key, size_t key_len, struct gw_err *err)
{
    struct gw_tls_cred *c = gw_calloc(1, sizeof(*c));
    if (!c || gnutls_certificate_allocate_credentials(&c->x509) != GNUTLS_E_SUCCESS) {
        cred_free(c);
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "--tls-cert: out of memory");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    gnutls_datum_t cd = {(unsigned char *)cert, (unsigned)cert_len};
    gnutls_datum_t kd = {(unsigned char *)key, (unsigned)key_len};
    int rc = cert_check(&cd);
    if (rc < 0) {
        gw_err_set(err, GW_ERR_INVALID, "tls", NULL, "--tls-cert %s: %s", s->cert_path,
                   gnutls_strerror(rc));
        goto fail;
    }
    rc = gnutls_certificate_set_x509_key_mem2(c->x509, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        gw_err_set(err, GW_ERR_INVALID, "tls", NULL, "--tls-key %s does not match --tls-cert %s",
                   s->key_path, s->cert_path);
        goto fail;
    }
    if (rc < 0) { /* the certificate parsed above: the key is to blame */
        gw_err_set(err, GW_ERR_INVALID, "tls", NULL, "--tls-key %s: %s", s->key_path,
                   gnutls_strerror(rc));
        goto fail;
    }
    return c;
fail:
    cred_free(c);
    return NULL;
}

/* Loads both files; on success cert_out and key_out (when not NULL) get the
 * PEM text (the caller frees), else it is freed here. */
static struct gw_tls_cred *load(const struct gw_tls_server *s, char **cert_out, char **key_out,
                                struct gw_err *err)
{
    size_t cl = 0, kl = 0;
    struct gw_tls_cred *c = NULL;
    char *cert = gw_pem_read_file("--tls-cert", s->cert_path, &cl, err);
    char *key = cert ? gw_pem_read_file("--tls-key", s->key_path, &kl, err) : NULL;
    if (key)
        c = cred_new(s, cert, cl, key, kl, err);
    if (c && cert_out && key_out) {
        *cert_out = cert;
        *key_out = key;
        return c;
    }
    if (key)
        memset(key, 0, kl); /* the private key does not linger in freed memory */
    gw_free(cert);
    gw_free(key);
    return c;
}

struct gw_tls_server *gw_tls_server_new(const char *cert_path, const char *key_path,
                                        struct gw_err *err)
{
    struct gw_tls_server *s = gw_calloc(1, sizeof(*s));
    if (!s || !(s->cert_path = gw_strdup(cert_path)) || !(s->key_path = gw_strdup(key_path))) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        goto fail;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->current = load(s, &s->cert_pem, &s->key_pem, err);
    if (!s->current) {
        pthread_mutex_destroy(&s->mu);
        goto fail;
    }
    return s;
fail:
    if (s) {
        gw_free(s->cert_path);
        gw_free(s->key_path);
        gw_free(s);
    }
    return NULL;
}

int gw_tls_server_reload(struct gw_tls_server *s, struct gw_err *err)
{
    struct gw_tls_cred *c = load(s, NULL, NULL, err);
    if (!c)
        return -1;
    pthread_mutex_lock(&s->mu);
    struct gw_tls_cred *old = s->current;
    s->current = c;
    pthread_mutex_unlock(&s->mu);
    gw_tls_cred_release(old); /* connections still using it hold their own */
    return 0;
}

void gw_tls_server_sighup(struct gw_tls_server *s)
{
    struct gw_err err;
    gw_err_clear(&err);
    if (gw_tls_server_reload(s, &err) < 0)
        gw_warn("SIGHUP: keeping the current certificate: %s", err.message);
    else
        gw_info("SIGHUP: reloaded --tls-cert and --tls-key");
}

const char *gw_tls_server_cert_pem(const struct gw_tls_server *s)
{
    return s->cert_pem;
}

const char *gw_tls_server_key_pem(const struct gw_tls_server *s)
{
    return s->key_pem;
}

const char *gw_tls_server_priorities(void)
{
    return PRIORITIES;
}

struct gw_tls_cred *gw_tls_server_attach(struct gw_tls_server *s, void *gnutls_session)
{
    if (!s || !gnutls_session)
        return NULL;
    pthread_mutex_lock(&s->mu);
    struct gw_tls_cred *c = s->current;
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&s->mu);
    if (gnutls_credentials_set((gnutls_session_t)gnutls_session, GNUTLS_CRD_CERTIFICATE,
                               c->x509) != GNUTLS_E_SUCCESS) {
        gw_tls_cred_release(c);
        return NULL;
    }
    return c;
}

void gw_tls_cred_release(struct gw_tls_cred *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        cred_free(c);
}

void gw_tls_server_free(struct gw_tls_server *s)
{
    if (!s)
        return;
    gw_tls_cred_release(s->current);
    pthread_mutex_destroy(&s->mu);
    if (s->key_pem)
        memset(s->key_pem, 0, strlen(s->key_pem));
    gw_free(s->cert_pem);
    gw_free(s->key_pem);
    gw_free(s->cert_path);
    gw_free(s->key_path);
    gw_free(s);
}
