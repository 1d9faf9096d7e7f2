/* The words of a failed upstream TLS handshake (dataplane/upstream_tls.c):
 * which curl results are TLS failures, and what the 502 says for each. */
#include "dataplane/upstream_tls.h"

#include <string.h>

#include "testhelp.h"

static int reason(int result, const char *errbuf, char *out, size_t n)
{
    memset(out, 'x', n);
    return dp_upstream_tls_reason(result, errbuf, out, n);
}

TEST("upstream tls: unverified, name mismatch, handshake failure")
{
    char out[512];
    CHECK_INT(reason(CURLE_PEER_FAILED_VERIFICATION,
                     "SSL certificate problem: unable to get local issuer certificate", out,
                     sizeof(out)),
              1);
    CHECK_STR(out, "the upstream's TLS certificate could not be verified (SSL certificate "
                   "problem: unable to get local issuer certificate)");
    CHECK_INT(reason(CURLE_PEER_FAILED_VERIFICATION,
                     "SSL: no alternative certificate subject name matches target host name "
                     "'localhost'",
                     out, sizeof(out)),
              1);
    CHECK(strstr(out, "does not match its host name") != NULL);
    CHECK_INT(reason(CURLE_SSL_CONNECT_ERROR,
                     "OpenSSL/3.0.19: error:0A000410:SSL routines::sslv3 alert handshake failure",
                     out, sizeof(out)),
              1);
    CHECK(strstr(out, "the TLS handshake with the upstream failed (OpenSSL") == out);
    CHECK_INT(reason(CURLE_SSL_CERTPROBLEM, "", out, sizeof(out)), 1); /* curl's own words */
    CHECK(strstr(out, "handshake") != NULL && strstr(out, "()") == NULL);
}

TEST("upstream tls: a read error counts only when it carries a TLS alert")
{
    char out[512];
    CHECK_INT(reason(CURLE_RECV_ERROR,
                     "OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate "
                     "required, errno 0",
                     out, sizeof(out)),
              1);
    CHECK(strstr(out, "certificate required") != NULL);
    CHECK_INT(reason(CURLE_RECV_ERROR, "Recv failure: Connection reset by peer", out, sizeof(out)),
              0);
    CHECK_INT((int)strlen(out), 0);
    CHECK_INT(reason(CURLE_COULDNT_CONNECT, "Failed to connect", out, sizeof(out)), 0);
    CHECK_INT(reason(CURLE_OPERATION_TIMEDOUT, "", out, sizeof(out)), 0);
    CHECK_INT(reason(CURLE_OK, "", out, sizeof(out)), 0);
}

TEST("upstream tls: a long detail is cut, never overflows")
{
    char big[2048], out[64];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_INT(reason(CURLE_SSL_CONNECT_ERROR, big, out, sizeof(out)), 1);
    CHECK_INT((int)strlen(out), (int)sizeof(out) - 1);
}

TEST_MAIN()
