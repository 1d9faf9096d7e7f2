/* Unit tests of dataplane/multipart.c: the boundary from Content-Type
 * (quoted or not, case), finding the "model" field among other parts,
 * rewriting it with every other byte kept (binary file parts included), and
 * malformed or hostile bodies. */
#include "testhelp.h"

#include "dataplane/body.h"

#include <stdlib.h>

#define CT "multipart/form-data; boundary=XyZ123"

/* A body like curl -F sends: a binary file part, then the model. */
/* out holds at least BUILD_MAX bytes. */
#define BUILD_MAX 1024
static size_t build(char *out, const char *boundary, const char *model)
{
    size_t n = 0;
    n += (size_t)snprintf(out + n, BUILD_MAX - n,
                         "--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                         "filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n",
                         boundary);
    static const unsigned char bin[] = {'R', 'I', 'F', 'F', 0, 1, '\r', '\n', '-', '-', 0xff,
                                        '\r', '\n', '\r', '\n', 0x80};
    memcpy(out + n, bin, sizeof(bin));
    n += sizeof(bin);
    n += (size_t)snprintf(out + n, BUILD_MAX - n,
                         "\r\n--%s\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n%s"
                         "\r\n--%s\r\ncontent-disposition: form-data; name=\"language\"\r\n\r\nen"
                         "\r\n--%s--\r\n",
                         boundary, model, boundary, boundary);
    return n;
}

TEST("find the model field; replace it keeping every other byte")
{
    char body[1024];
    size_t n = build(body, "XyZ123", "whisper-1");
    const char *m;
    size_t mlen;
    struct gw_err err;
    CHECK_INT(dp_multipart_find_model(body, n, CT, &m, &mlen, &err), 0);
    CHECK_INT(mlen, 9);
    CHECK(memcmp(m, "whisper-1", 9) == 0);

    struct gw_buf out;
    gw_buf_init(&out, 1 << 20);
    CHECK_INT(dp_multipart_replace_model(body, n, CT, "gpt-4o-transcribe", &out), 0);
    char want[1024];
    size_t wn = build(want, "XyZ123", "gpt-4o-transcribe");
    CHECK_INT(out.len, wn);
    CHECK(memcmp(out.data, want, wn) == 0);
    /* And it parses again with the new model. */
    CHECK_INT(dp_multipart_find_model(out.data, out.len, CT, &m, &mlen, &err), 0);
    CHECK_INT(mlen, 17);
    gw_buf_cleanup(&out);
}

TEST("boundary forms: quoted, other parameters, case, preamble and epilogue")
{
    char body[1024];
    const char *m;
    size_t mlen;
    struct gw_err err;
    size_t n = build(body, "----WebKitFormBoundary7MA4YWxkTrZu0gW", "m1");
    CHECK_INT(dp_multipart_find_model(
                  body, n, "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"----WebKitFormBoundary7MA4YWxkTrZu0gW\"",
                  &m, &mlen, &err),
              0);
    CHECK(mlen == 2 && memcmp(m, "m1", 2) == 0);

    /* A quoted boundary with a space and a backslash escape. */
    n = build(body, "a b\"c", "m2");
    CHECK_INT(dp_multipart_find_model(body, n, "multipart/form-data; boundary=\"a b\\\"c\"", &m,
                                      &mlen, &err),
              0);
    CHECK(mlen == 2 && memcmp(m, "m2", 2) == 0);

    /* Preamble before the first delimiter and an epilogue after the last. */
    char with[1200];
    size_t wn = (size_t)snprintf(with, sizeof(with), "this is a preamble\r\n");
    wn += build(with + wn, "XyZ123", "m3");
    wn += (size_t)snprintf(with + wn, sizeof(with) - wn, "epilogue");
    CHECK_INT(dp_multipart_find_model(with, wn, CT, &m, &mlen, &err), 0);
    CHECK(mlen == 2 && memcmp(m, "m3", 2) == 0);
}

TEST("name matching: unquoted, not filename=, empty value")
{
    const char *m;
    size_t mlen;
    struct gw_err err;
    const char *b1 = "--B\r\nContent-Disposition: form-data; filename=\"model\"; name=x\r\n\r\nno"
                     "\r\n--B\r\nContent-Disposition: form-data; name=model\r\n\r\nyes"
                     "\r\n--B--";
    CHECK_INT(dp_multipart_find_model(b1, strlen(b1), "multipart/form-data; boundary=B", &m, &mlen,
                                      &err),
              0);
    CHECK(mlen == 3 && memcmp(m, "yes", 3) == 0);

    const char *b2 = "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n\r\n--B--\r\n";
    CHECK_INT(dp_multipart_find_model(b2, strlen(b2), "multipart/form-data; boundary=B", &m, &mlen,
                                      &err),
              0);
    CHECK_INT(mlen, 0);

    /* "modelx" and "Model" are other fields. */
    const char *b3 = "--B\r\nContent-Disposition: form-data; name=\"modelx\"\r\n\r\na"
                     "\r\n--B\r\nContent-Disposition: form-data; name=\"Model\"\r\n\r\nb\r\n--B--";
    CHECK_INT(dp_multipart_find_model(b3, strlen(b3), "multipart/form-data; boundary=B", &m, &mlen,
                                      &err),
              1);
}

/* Issue 11 item 14: the first model part was routed and rewritten while a
 * second one passed through, and an upstream reading the last one served a
 * model the gateway never chose. */
TEST("two model parts: refused by find and by replace (SPEC 3.1 step 7)")
{
    const char *m;
    size_t mlen;
    struct gw_err err;
    const char *b = "--B\r\nContent-Disposition: form-data; name=model\r\n\r\ncheap"
                    "\r\n--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nxx"
                    "\r\n--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ndear"
                    "\r\n--B--";
    memset(&err, 0, sizeof(err));
    CHECK_INT(dp_multipart_find_model(b, strlen(b), "multipart/form-data; boundary=B", &m, &mlen,
                                      &err),
              -1);
    CHECK_STR(err.field, "model");
    CHECK(strstr(err.message, "more than one model") != NULL);
    struct gw_buf out;
    gw_buf_init(&out, 1 << 16);
    CHECK_INT(dp_multipart_replace_model(b, strlen(b), "multipart/form-data; boundary=B", "x", &out),
              -1);
    gw_buf_cleanup(&out);
}

TEST("a model value with control characters is refused")
{
    const char *b = "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
                    "gpt\r\nX-Evil: 1\r\n--B--\r\n";
    const char *m;
    size_t mlen;
    struct gw_err err;
    gw_err_clear(&err);
    CHECK_INT(dp_multipart_find_model(b, strlen(b), "multipart/form-data; boundary=B", &m, &mlen,
                                      &err),
              -1);
    CHECK_INT(gw_err_http_status(err.kind), 400);
    CHECK_STR(err.field, "model");
}

TEST("no model field: 1 from find, body copied unchanged by replace")
{
    const char *b = "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ndata\r\n--B--\r\n";
    const char *m;
    size_t mlen;
    struct gw_err err;
    CHECK_INT(dp_multipart_find_model(b, strlen(b), "multipart/form-data; boundary=B", &m, &mlen,
                                      &err),
              1);
    struct gw_buf out;
    gw_buf_init(&out, 1024);
    CHECK_INT(dp_multipart_replace_model(b, strlen(b), "multipart/form-data; boundary=B", "x", &out),
              0);
    CHECK_STR(out.data, b);
    gw_buf_cleanup(&out);
    /* A part with no headers at all is fine too. */
    const char *nh = "--B\r\n\r\nraw\r\n--B--";
    CHECK_INT(dp_multipart_find_model(nh, strlen(nh), "multipart/form-data; boundary=B", &m, &mlen,
                                      &err),
              1);
}

TEST("malformed bodies and content types: -1 with a message")
{
    static const char *const cts[] = {
        NULL, "", "application/json", "multipart/form-data", "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"", "multipart/form-data; boundary=\"unterminated",
        "multipart/mixed; boundary=B", "multipart/form-dataX; boundary=B",
        "multipart/form-data; boundary=12345678901234567890123456789012345678901234567890"
        "123456789012345678901",
    };
    const char *ok = "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--B--";
    for (size_t i = 0; i < sizeof(cts) / sizeof(cts[0]); i++) {
        const char *m;
        size_t mlen;
        struct gw_err err;
        gw_err_clear(&err);
        CHECK_INT(dp_multipart_find_model(ok, strlen(ok), cts[i], &m, &mlen, &err), -1);
        CHECK_INT(gw_err_http_status(err.kind), 400);
    }
    static const char *const bodies[] = {
        "",
        "no delimiter at all",
        "--B",                                                        /* nothing after it */
        "--Bxx\r\n\r\nm\r\n--B--",                                    /* junk after delimiter */
        "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm", /* no close */
        "--B\r\nContent-Disposition: form-data; name=\"model\"\r\nm\r\n--B--", /* no blank line */
        "--B\r\nContent-Disposition: form-data; name=\"mod\r\n\r\nm\r\n--B--", /* open quote */
        "--B\nContent-Disposition: form-data; name=\"model\"\n\nm\n--B--", /* bare LF */
        "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--C--",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        const char *m;
        size_t mlen;
        struct gw_err err;
        gw_err_clear(&err);
        int r = dp_multipart_find_model(bodies[i], strlen(bodies[i]),
                                        "multipart/form-data; boundary=B", &m, &mlen, &err);
        if (r != -1)
            fprintf(stderr, "  body %zu: %d\n", i, r);
        CHECK_INT(r, -1);
        CHECK(strstr(err.message, "multipart") != NULL);
        struct gw_buf out;
        gw_buf_init(&out, 1024);
        CHECK_INT(dp_multipart_replace_model(bodies[i], strlen(bodies[i]),
                                             "multipart/form-data; boundary=B", "x", &out),
                  -1);
        gw_buf_cleanup(&out);
    }
}

TEST("every truncation of a valid body is malformed; replace output bounded")
{
    char body[1024];
    size_t n = build(body, "XyZ123", "whisper-1");
    /* Up to the close delimiter's last "-": the final CRLF is optional. */
    for (size_t cut = 0; cut < n - 2; cut++) {
        const char *m = NULL;
        size_t mlen = 0;
        struct gw_err err;
        int r = dp_multipart_find_model(body, cut, CT, &m, &mlen, &err);
        /* Without the close delimiter the body is never accepted. */
        if (r != -1) {
            fprintf(stderr, "  cut %zu accepted\n", cut);
            CHECK(0);
            break;
        }
    }
    struct gw_buf out;
    gw_buf_init(&out, 64); /* too small for the result */
    CHECK_INT(dp_multipart_replace_model(body, n, CT, "m", &out), -1);
    gw_buf_cleanup(&out);
}

TEST("a large file part is scanned without trouble")
{
    size_t big = 5 * 1024 * 1024;
    char *body = malloc(big + 512);
    size_t n = (size_t)snprintf(body, 512, "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n");
    for (size_t i = 0; i < big; i++)
        body[n + i] = (char)(i * 131 % 251); /* never "\r\n--B" */
    n += big;
    n += (size_t)snprintf(body + n, 512, "\r\n--B\r\nContent-Disposition: form-data; name=model\r\n\r\n"
                                   "whisper-1\r\n--B--\r\n");
    const char *m;
    size_t mlen;
    struct gw_err err;
    CHECK_INT(dp_multipart_find_model(body, n, "multipart/form-data; boundary=B", &m, &mlen, &err),
              0);
    CHECK(mlen == 9 && memcmp(m, "whisper-1", 9) == 0);
    struct gw_buf out;
    gw_buf_init(&out, 16 * 1024 * 1024);
    CHECK_INT(dp_multipart_replace_model(body, n, "multipart/form-data; boundary=B", "w2", &out), 0);
    CHECK_INT(out.len, n - 7);
    CHECK(memcmp(out.data, body, n - 40) == 0);
    gw_buf_cleanup(&out);
    free(body);
}

TEST_MAIN()
