/* Unit tests of common/: bounded buffer, clock parsing, crypto helpers,
 * HOST:PORT parsing, allocation fault injection. */
#include "testhelp.h"

#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/err.h"

#include <pthread.h>
#include <string.h>

TEST("buf appends and stays NUL-terminated")
{
    struct gw_buf b;
    gw_buf_init(&b, 16);
    CHECK_INT(gw_buf_append_str(&b, "hello"), GW_BUF_OK);
    CHECK_INT(gw_buf_printf(&b, " %d", 42), GW_BUF_OK);
    CHECK_STR(b.data, "hello 42");
    CHECK_INT(b.len, 8);
    gw_buf_consume(&b, 6);
    CHECK_STR(b.data, "42");
    gw_buf_cleanup(&b);
}

TEST("buf refuses to grow past its cap and frees itself")
{
    struct gw_buf b;
    gw_buf_init(&b, 8);
    CHECK_INT(gw_buf_append_str(&b, "12345678"), GW_BUF_OK);
    CHECK_INT(gw_buf_append_str(&b, "9"), GW_BUF_TOOBIG);
    CHECK(b.data == NULL);
    CHECK_INT(b.len, 0);
    CHECK_INT(gw_buf_append_str(&b, "ok"), GW_BUF_OK);
    gw_buf_cleanup(&b);
}

TEST("buf predicts the capacity an append leaves it with (the data plane's budget)")
{
    struct gw_buf b;
    gw_buf_init(&b, 1000);
    CHECK_INT(gw_buf_cap_for(&b, 0), 64);
    char src[200];
    memset(src, 'x', sizeof(src));
    for (size_t n = 1; n < sizeof(src); n += 37) {
        size_t want = gw_buf_cap_for(&b, n);
        CHECK_INT(gw_buf_append(&b, src, n), GW_BUF_OK);
        CHECK_INT(b.cap, want);
    }
    gw_buf_reset(&b);
    CHECK_INT(gw_buf_cap_for(&b, 1000), 1001); /* clamped to max + NUL */
    CHECK_INT(gw_buf_cap_for(&b, 1001), b.cap); /* over max: nothing more */
    gw_buf_cleanup(&b);
}

TEST("buf reports allocation failure")
{
    struct gw_buf b;
    gw_buf_init(&b, 1024);
    gw_alloc_fail_after(0);
    CHECK_INT(gw_buf_append_str(&b, "x"), GW_BUF_NOMEM);
    gw_alloc_fail_after(-1);
    CHECK_INT(gw_buf_append_str(&b, "x"), GW_BUF_OK);
    gw_buf_cleanup(&b);
}

TEST("rfc3339 round trip and offsets")
{
    int64_t t;
    CHECK_INT(gw_parse_rfc3339("2026-11-21T11:30:00Z", &t), 0);
    char out[32];
    gw_format_rfc3339(t, out);
    CHECK_STR(out, "2026-11-21T11:30:00Z");
    int64_t t2;
    CHECK_INT(gw_parse_rfc3339("2026-11-21T13:30:00.123+02:00", &t2), 0);
    CHECK_INT(t2, t);
    CHECK_INT(gw_parse_rfc3339("2026-13-01T00:00:00Z", &t), -1);
    CHECK_INT(gw_parse_rfc3339("yesterday", &t), -1);
    CHECK_INT(gw_parse_rfc3339("2026-11-21T11:30:00", &t), -1);
}

TEST("sha256 hex and constant-time compare")
{
    char h[65];
    gw_sha256_hex("abc", 3, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(gw_ct_equal("secret", 6, "secret", 6));
    CHECK(!gw_ct_equal("secret", 6, "secreT", 6));
    CHECK(!gw_ct_equal("secret", 6, "secret2", 7));
    CHECK(!gw_ct_equal(NULL, 0, "", 0));
}

static void *hot_vs_plain(void *arg)
{
    int *bad = arg;
    char buf[300], h1[65], h2[65];
    for (int n = 0; n < (int)sizeof(buf); n++) {
        buf[n] = (char)(n * 7 + 1);
        gw_sha256_hex(buf, (size_t)n, h1);
        gw_sha256_hex_hot(buf, (size_t)n, h2);
        if (strcmp(h1, h2) != 0)
            (*bad)++;
    }
    return NULL;
}

TEST("sha256 hex, hot variant: the same digests, in several threads")
{
    char h[65];
    gw_sha256_hex_hot("abc", 3, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    gw_sha256_hex_hot("", 0, h);
    CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    int bad[3] = {0, 0, 0};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hot_vs_plain, &bad[i]);
    hot_vs_plain(&bad[2]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(bad[0] + bad[1] + bad[2], 0);
}

TEST("random tokens are distinct and well formed")
{
    char a[64], b[64];
    CHECK_INT(gw_random_token("mm_", a, sizeof(a)), 0);
    CHECK_INT(gw_random_token("mm_", b, sizeof(b)), 0);
    CHECK_INT(strlen(a), 46);
    CHECK(strncmp(a, "mm_", 3) == 0);
    CHECK(strcmp(a, b) != 0);
    char small[10];
    CHECK_INT(gw_random_token("mm_", small, sizeof(small)), -1);
    char hex[33];
    CHECK_INT(gw_random_hex(16, hex, sizeof(hex)), 0);
    CHECK_INT(strlen(hex), 32);
}

TEST("hostport parsing")
{
    struct sockaddr_storage ss;
    socklen_t len;
    char why[128];
    CHECK_INT(gw_parse_hostport("127.0.0.1:9400", &ss, &len, why, sizeof(why)), 0);
    CHECK_INT(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9400);
    CHECK_INT(gw_parse_hostport("[::1]:80", &ss, &len, why, sizeof(why)), 0);
    CHECK_INT(gw_parse_hostport("127.0.0.1", &ss, &len, why, sizeof(why)), -1);
    CHECK_INT(gw_parse_hostport("127.0.0.1:99999", &ss, &len, why, sizeof(why)), -1);
    CHECK_INT(gw_parse_hostport("127.0.0.1:abc", &ss, &len, why, sizeof(why)), -1);
}

TEST("err maps kinds to statuses")
{
    struct gw_err e;
    gw_err_clear(&e);
    CHECK_INT(gw_err_set(&e, GW_ERR_CONFLICT, "name_taken", "name", "name '%s' is taken", "x"), -1);
    CHECK_INT(gw_err_http_status(e.kind), 409);
    CHECK_STR(e.message, "name 'x' is taken");
    CHECK_STR(e.field, "name");
    CHECK_INT(gw_err_http_status(GW_ERR_TOO_LARGE), 413);
}

TEST_MAIN()
