/* Unit tests of common/http_framing.c: the verdict over header triples and
 * the URL bounds (the e2e test_sec_framing.py attacks the real listeners). */
#include "testhelp.h"

#include "common/http_framing.h"
#include "common/limits.h"

#include <stdlib.h>
#include <string.h>

static void hdr(struct gw_framing *f, const char *name, const char *value, size_t len)
{
    gw_framing_header(f, name, strlen(name), value, len);
}

static int status_of(const char *n1, const char *v1, const char *n2, const char *v2)
{
    struct gw_framing f;
    gw_framing_init(&f);
    hdr(&f, "Host", "x", 1);
    if (n1)
        hdr(&f, n1, v1, strlen(v1));
    if (n2)
        hdr(&f, n2, v2, strlen(v2));
    return gw_framing_verdict(&f).status;
}

TEST("framing accepts one Content-Length, one chunked coding, equal repeats")
{
    CHECK_INT(status_of("Content-Length", "12", NULL, NULL), 0);
    CHECK_INT(status_of("Transfer-Encoding", "chunked", NULL, NULL), 0);
    CHECK_INT(status_of("transfer-encoding", "Chunked", NULL, NULL), 0);
    CHECK_INT(status_of("Content-Length", "12", "content-length", "12"), 0);
}

TEST("framing refuses CL with TE, differing CLs, other codings (400)")
{
    CHECK_INT(status_of("Content-Length", "12", "Transfer-Encoding", "chunked"), 400);
    CHECK_INT(status_of("Transfer-Encoding", "chunked", "Content-Length", "0"), 400);
    CHECK_INT(status_of("Content-Length", "12", "Content-Length", "4"), 400);
    CHECK_INT(status_of("Transfer-Encoding", "identity, chunked", NULL, NULL), 400);
    CHECK_INT(status_of("Transfer-Encoding", "xchunked", NULL, NULL), 400);
    CHECK_INT(status_of("Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"), 400);
}

TEST("framing refuses CR, LF and NUL in values and malformed lines (400)")
{
    CHECK_INT(status_of("X-A", "a\rb", NULL, NULL), 400);
    CHECK_INT(status_of("X-A", "a\nb", NULL, NULL), 400);
    struct gw_framing f;
    gw_framing_init(&f);
    hdr(&f, "X-A", "a\0b", 3);
    CHECK_INT(gw_framing_verdict(&f).status, 400);
    CHECK(strcmp(gw_framing_verdict(&f).code, "bad_header") == 0);
    gw_framing_init(&f);
    gw_framing_bad_line(&f);
    CHECK_INT(gw_framing_verdict(&f).status, 400);
}

TEST("framing bounds: headers 431 past GW_HTTP_HEADERS_MAX_BYTES, URL 414")
{
    size_t n = GW_HTTP_HEADERS_MAX_BYTES;
    char *v = malloc(n);
    CHECK(v != NULL);
    memset(v, 'x', n);
    struct gw_framing f;
    gw_framing_init(&f);
    hdr(&f, "X", v, n - 5); /* 1 + (n - 5) + 4 = n: at the bound */
    CHECK_INT(gw_framing_verdict(&f).status, 0);
    hdr(&f, "Y", "", 0);
    CHECK_INT(gw_framing_verdict(&f).status, 431);
    free(v);

    char *u = malloc(GW_HTTP_URL_MAX_BYTES + 2);
    CHECK(u != NULL);
    memset(u, 'u', GW_HTTP_URL_MAX_BYTES + 1);
    u[GW_HTTP_URL_MAX_BYTES] = '\0';
    CHECK(gw_framing_url_ok(u));
    u[GW_HTTP_URL_MAX_BYTES] = 'u';
    u[GW_HTTP_URL_MAX_BYTES + 1] = '\0';
    CHECK(!gw_framing_url_ok(u));
    free(u);
    CHECK(gw_framing_url_ok("/a?x=1&y=2"));
    gw_framing_init(&f);
    gw_framing_url_too_long(&f);
    CHECK_INT(gw_framing_verdict(&f).status, 414);
}

TEST("framing bounds the number of query arguments")
{
    size_t cap = 4 * (GW_HTTP_QUERY_ARGS_MAX + 2) + 8;
    char *u = malloc(cap);
    CHECK(u != NULL);
    size_t len = 0;
    u[len++] = '/';
    u[len++] = '?';
    for (int i = 0; i < GW_HTTP_QUERY_ARGS_MAX; i++) {
        memcpy(u + len, i ? "&a=b" : "a=b", i ? 4 : 3);
        len += i ? 4 : 3;
    }
    u[len] = '\0';
    CHECK(gw_framing_url_ok(u));
    memcpy(u + len, "&a", 3);
    CHECK(!gw_framing_url_ok(u));
    free(u);
}

TEST_MAIN()
