/* Unit tests of tests/mockllm/mock_multipart.c. */
#include "testhelp.h"

#include "tests/mockllm/mock_multipart.h"

#define B "XyZ"
#define PART(name, value) "--" B "\r\nContent-Disposition: form-data; name=\"" name "\"\r\n\r\n" value "\r\n"

static int field(const char *body, const char *name, char *out, size_t outsz)
{
    return mock_multipart_field(body, strlen(body), B, name, out, outsz);
}

TEST("multipart: boundary from the content type")
{
    char b[80];
    CHECK_INT(mock_multipart_boundary("multipart/form-data; boundary=abc", b, sizeof(b)), 3);
    CHECK_STR(b, "abc");
    CHECK_INT(mock_multipart_boundary("Multipart/Form-Data;charset=x; boundary=\"a b\"", b, sizeof(b)), 3);
    CHECK_STR(b, "a b");
    CHECK_INT(mock_multipart_boundary("multipart/form-data; boundary=abc; x=y", b, sizeof(b)), 3);
    CHECK_INT(mock_multipart_boundary("application/json; boundary=abc", b, sizeof(b)), -1);
    CHECK_INT(mock_multipart_boundary("multipart/form-data", b, sizeof(b)), -1);
    CHECK_INT(mock_multipart_boundary("multipart/form-data; boundary=", b, sizeof(b)), -1);
    CHECK_INT(mock_multipart_boundary("multipart/form-data; boundary=\"abc", b, sizeof(b)), -1);
    CHECK_INT(mock_multipart_boundary("multipart/form-data; boundary=abcdef", b, 4), -1);
    CHECK_INT(mock_multipart_boundary(NULL, b, sizeof(b)), -1);
    char longb[200] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'a', 71);
    CHECK_INT(mock_multipart_boundary(longb, b, sizeof(b)), -1);
}

TEST("multipart: finds a field among others")
{
    char out[32];
    const char *body = PART("language", "en") PART("model", "whisper-1") "--" B "--\r\n";
    CHECK_INT(field(body, "model", out, sizeof(out)), 9);
    CHECK_STR(out, "whisper-1");
    CHECK_INT(field(body, "language", out, sizeof(out)), 2);
    CHECK_STR(out, "en");
    CHECK_INT(field(body, "missing", out, sizeof(out)), -1);
    CHECK_INT(field(body, "mode", out, sizeof(out)), -1); /* a prefix is not a match */
}

TEST("multipart: skips binary file parts and filename=")
{
    char out[32];
    static const char body[] =
        "--" B "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"model\"\r\n"
        "Content-Type: audio/wav\r\n\r\n\x00\x01--X\r\n--Xy\xff\r\n"
        "--" B "\r\ncontent-disposition: form-data; name=\"model\"\r\n\r\nw\r\n--" B "--\r\n";
    CHECK_INT(mock_multipart_field(body, sizeof(body) - 1, B, "model", out, sizeof(out)), 1);
    CHECK_STR(out, "w");
}

TEST("multipart: malformed and oversized")
{
    char out[4];
    CHECK_INT(field("", "model", out, sizeof(out)), -1);
    CHECK_INT(field("garbage", "model", out, sizeof(out)), -1);
    CHECK_INT(field("--" B "--\r\n", "model", out, sizeof(out)), -1);
    CHECK_INT(field("--" B "\r\nContent-Disposition: form-data; name=\"model\"\r\n", "model", out,
                    sizeof(out)), -1); /* no blank line */
    CHECK_INT(field("--" B "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nabc", "model",
                    out, sizeof(out)), -1); /* no closing delimiter */
    CHECK_INT(field(PART("model", "toolong") "--" B "--", "model", out, sizeof(out)), -2);
    CHECK_INT(field(PART("model", "") "--" B "--", "model", out, sizeof(out)), 0);
    CHECK_INT(mock_multipart_field(NULL, 0, B, "model", out, sizeof(out)), -1);
    CHECK_INT(mock_multipart_field("x", 1, "", "model", out, sizeof(out)), -1);
}

TEST_MAIN()
