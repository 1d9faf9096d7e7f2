/* PEM checks with libcrypto (see pem.h). No state; any thread. */
#include "common/pem.h"

#include <errno.h>
#include <stdio.h>

#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "common/alloc.h"
#include "common/limits.h"

/* No passphrase prompt, ever: an encrypted key is refused. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* The number of "-----BEGIN " markers in the text. */
static int blocks(const char *pem, size_t len)
{
    int n = 0;
    const char *p = pem, *end = pem + len;
    while (p < end && (p = memmem(p, (size_t)(end - p), "-----BEGIN ", 11)) != NULL) {
        n++;
        p += 11;
    }
    return n;
}

int gw_pem_cert_count(const char *pem, size_t len)
{
    if (!pem || len == 0 || len > INT_MAX)
        return -1;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b)
        return -1;
    int n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    BIO_free(b);
    ERR_clear_error(); /* the end of the text reads as an error */
    /* Every block must have been a certificate: a key or a broken block
     * among them makes the count differ. */
    return n > 0 && n == blocks(pem, len) ? n : -1;
}

int gw_pem_is_private_key(const char *pem, size_t len)
{
    if (!pem || len == 0 || len > INT_MAX || blocks(pem, len) != 1)
        return 0;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b)
        return 0;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
    BIO_free(b);
    ERR_clear_error();
    int ok = k != NULL;
    EVP_PKEY_free(k);
    return ok;
}

char *gw_pem_read_file(const char *flag, const char *path, size_t *len, struct gw_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        gw_err_set(err, GW_ERR_INVALID, "tls", NULL, "%s %s: %s", flag, path, strerror(errno));
        return NULL;
    }
    char *buf = gw_malloc(GW_TLS_FILE_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, GW_TLS_FILE_MAX_BYTES + 1, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (!buf) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "%s %s: out of memory", flag, path);
    } else if (rerr) {
        gw_err_set(err, GW_ERR_INVALID, "tls", NULL, "%s %s: cannot read it", flag, path);
    } else if (n > GW_TLS_FILE_MAX_BYTES) {
        gw_err_set(err, GW_ERR_INVALID, "tls", NULL, "%s %s: larger than %d bytes", flag, path,
                   GW_TLS_FILE_MAX_BYTES);
    } else if (n == 0 || !memmem(buf, n, "-----BEGIN ", 11)) {
        gw_err_set(err, GW_ERR_INVALID, "tls", NULL, "%s %s: not a PEM file", flag, path);
    } else {
        buf[n] = '\0';
        *len = n;
        return buf;
    }
    gw_free(buf);
    return NULL;
}
