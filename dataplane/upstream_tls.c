/* Upstream TLS options and failure reasons (see upstream_tls.h). No state;
 * the worker's thread. */
#include "upstream_tls.h"

#include "common/log.h"

#include <stdio.h>
#include <string.h>

static void set_blob(CURL *e, CURLoption opt, const char *pem)
{
    struct curl_blob b = {(void *)pem, strlen(pem), CURL_BLOB_COPY};
    curl_easy_setopt(e, opt, &b);
}

void dp_upstream_tls_apply(CURL *e, const struct dp_upstream_tls *tls)
{
    if (!tls)
        return;
    if (tls->ca_cert)
        set_blob(e, CURLOPT_CAINFO_BLOB, tls->ca_cert);
    if (tls->client_cert && tls->client_key) {
        set_blob(e, CURLOPT_SSLCERT_BLOB, tls->client_cert);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        set_blob(e, CURLOPT_SSLKEY_BLOB, tls->client_key);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    }
}

/* 1 when errbuf says the peer's name did not match (OpenSSL flavour). */
static int name_mismatch(const char *errbuf)
{
    return strstr(errbuf, "subject name") != NULL || strstr(errbuf, "does not match") != NULL ||
           strstr(errbuf, "hostname mismatch") != NULL;
}

int dp_upstream_tls_reason(int result, const char *errbuf, char *out, size_t outsz)
{
    const char *what;
    const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror((CURLcode)result);
    out[0] = '\0';
    switch (result) {
    case CURLE_PEER_FAILED_VERIFICATION:
        what = name_mismatch(detail) ? "the upstream's TLS certificate does not match its host name"
                                     : "the upstream's TLS certificate could not be verified";
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CLIENTCERT:
        what = "the TLS handshake with the upstream failed";
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        /* TLS 1.3 sends a server's refusal of the client certificate after
         * the handshake: it shows up as a read error carrying an alert. */
        if (!strstr(detail, "alert") && !strstr(detail, "SSL"))
            return 0;
        what = "the TLS handshake with the upstream failed";
        break;
    default:
        return 0;
    }
    snprintf(out, outsz, "%s (%s)", what, detail);
    return 1;
}

void dp_upstream_tls_check(void)
{
    CURL *e = curl_easy_init();
    char *path = NULL;
    if (!e)
        return;
    if (curl_easy_getinfo(e, CURLINFO_CAPATH, &path) == CURLE_OK && !path)
        gw_warn("libcurl has no default CA path: an endpoint's tls.caCert will be trusted "
                "instead of the system's roots, not in addition to them");
    curl_easy_cleanup(e);
}
