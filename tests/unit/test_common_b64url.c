/* Unit tests of common/b64url.c: strict unpadded base64url. */
#include "testhelp.h"

#include "common/b64url.h"

#include <openssl/rand.h>

static long dec(const char *s, unsigned char *out, size_t cap)
{
    return gw_b64url_decode(s, strlen(s), out, cap);
}

TEST("b64url decodes the RFC 4648 vectors without padding")
{
    unsigned char out[16];
    CHECK_INT(dec("", out, sizeof out), 0);
    CHECK_INT(dec("Zg", out, sizeof out), 1);
    CHECK(memcmp(out, "f", 1) == 0);
    CHECK_INT(dec("Zm8", out, sizeof out), 2);
    CHECK(memcmp(out, "fo", 2) == 0);
    CHECK_INT(dec("Zm9vYmFy", out, sizeof out), 6);
    CHECK(memcmp(out, "foobar", 6) == 0);
    CHECK_INT(dec("-_8", out, sizeof out), 2); /* 0xfb 0xff: the url-safe characters */
    CHECK_INT(out[0], 0xfb);
    CHECK_INT(out[1], 0xff);
}

TEST("b64url refuses padding, the standard alphabet, whitespace and NUL")
{
    unsigned char out[16];
    CHECK_INT(dec("Zg==", out, sizeof out), -1);
    CHECK_INT(dec("Zm8=", out, sizeof out), -1);
    CHECK_INT(dec("+_8", out, sizeof out), -1);
    CHECK_INT(dec("-/8", out, sizeof out), -1);
    CHECK_INT(dec("Zm9v YmFy", out, sizeof out), -1);
    CHECK_INT(dec("Zm9v\nYmFy", out, sizeof out), -1);
    CHECK_INT(gw_b64url_decode("Zm\0v", 4, out, sizeof out), -1);
    CHECK_INT(dec("Zm9v.mFy", out, sizeof out), -1);
    CHECK_INT(dec("\xc3\xa9", out, sizeof out), -1);
}

TEST("b64url refuses impossible lengths and non-canonical trailing bits")
{
    unsigned char out[16];
    CHECK_INT(dec("Z", out, sizeof out), -1);     /* 1 mod 4: no whole byte */
    CHECK_INT(dec("Zm9vY", out, sizeof out), -1);
    CHECK_INT(dec("Zh", out, sizeof out), -1);    /* "Zg" with a low bit set: same byte */
    CHECK_INT(dec("Zm9", out, sizeof out), -1);   /* "Zm8" with a low bit set */
}

TEST("b64url refuses an output buffer that is too small")
{
    unsigned char out[2];
    CHECK_INT(dec("Zm9vYmFy", out, sizeof out), -1);
    char enc[4];
    CHECK_INT(gw_b64url_encode((const unsigned char *)"foo", 3, enc, sizeof enc), -1);
}

TEST("b64url round-trips random bytes of every length up to 300")
{
    unsigned char raw[300], back[300];
    char enc[401];
    CHECK_INT(RAND_bytes(raw, sizeof raw), 1);
    for (size_t len = 0; len <= sizeof raw; len++) {
        long n = gw_b64url_encode(raw, len, enc, sizeof enc);
        CHECK_INT(n, (long)((len * 4 + 2) / 3));
        CHECK_INT(gw_b64url_decoded_len((size_t)n), len);
        CHECK_INT(gw_b64url_decode(enc, (size_t)n, back, sizeof back), (long)len);
        CHECK(memcmp(raw, back, len) == 0);
    }
}

TEST_MAIN()
