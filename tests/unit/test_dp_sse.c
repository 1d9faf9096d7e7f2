/* Unit tests of dataplane/sse.c: events split at every byte position, LF,
 * CRLF and CR line ends, [DONE], usage detection, dropping only the
 * usage-only chunk, multi-line data, oversized events passed through raw,
 * an unterminated last event, a full output buffer. */
#include "testhelp.h"

#include "dataplane/body.h"

#include <stdlib.h>

static const char *const chunks[] = {
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}],\"usage\":null}",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}],\"usage\":null}",
    ": keep-alive comment",
    "event: message\nid: 7\ndata: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"finish_reason\":"
    "\"stop\",\"delta\":{}}],\"usage\":null}",
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
    "\"total_tokens\":11}}",
    "data: [DONE]",
};
#define NCHUNKS (sizeof(chunks) / sizeof(chunks[0]))
#define USAGE_CHUNK 4

/* The stream with line ends eol; skip: index of a chunk to leave out. */
static char *stream(const char *eol, int skip)
{
    struct gw_buf b;
    gw_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < NCHUNKS; i++) {
        if ((int)i == skip)
            continue;
        for (const char *p = chunks[i]; *p; p++) {
            if (*p == '\n')
                gw_buf_append_str(&b, eol);
            else
                gw_buf_append(&b, p, 1);
        }
        gw_buf_append_str(&b, eol);
        gw_buf_append_str(&b, eol);
    }
    return gw_buf_take(&b);
}

/* Feeds s in pieces cut at cuts[0..ncuts-1]; returns the output. */
static char *run(const char *s, size_t n, const size_t *cuts, size_t ncuts, int drop,
                 struct dp_usage *usage, int *saw)
{
    struct dp_sse_scan sc;
    struct gw_buf out;
    dp_sse_scan_init(&sc, NULL, drop);
    gw_buf_init(&out, 8 << 20);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        if (dp_sse_scan_feed(&sc, s + at, end - at, &out) != 0)
            return NULL;
        at = end;
    }
    if (dp_sse_scan_finish(&sc, &out) != 0)
        return NULL;
    *usage = sc.usage;
    *saw = sc.saw_usage;
    dp_sse_scan_cleanup(&sc);
    char *r = gw_buf_take(&out);
    return r ? r : calloc(1, 1);
}

static void check_split_everywhere(const char *eol)
{
    char *in = stream(eol, -1), *dropped = stream(eol, USAGE_CHUNK);
    size_t n = strlen(in);
    for (int drop = 0; drop < 2; drop++) {
        const char *want = drop ? dropped : in;
        for (size_t k = 0; k <= n; k++) {
            struct dp_usage u;
            int saw = 0;
            char *out = run(in, n, &k, 1, drop, &u, &saw);
            int good = out && strcmp(out, want) == 0 && saw && u.prompt == 9 &&
                       u.completion == 2 && u.total == 11;
            if (!good) {
                fprintf(stderr, "  eol %s drop %d split at %zu: wrong\n",
                        eol[0] == '\r' ? (eol[1] ? "CRLF" : "CR") : "LF", drop, k);
                CHECK(0);
                free(out);
                break;
            }
            free(out);
        }
    }
    free(in);
    free(dropped);
}

TEST("split at every byte position, LF line ends")
{
    check_split_everywhere("\n");
}

TEST("split at every byte position, CRLF line ends")
{
    check_split_everywhere("\r\n");
}

TEST("split at every byte position, CR line ends")
{
    check_split_everywhere("\r");
}

TEST("byte by byte and in three pieces")
{
    char *in = stream("\r\n", -1), *dropped = stream("\r\n", USAGE_CHUNK);
    size_t n = strlen(in);
    size_t *cuts = malloc(n * sizeof(*cuts));
    for (size_t i = 0; i < n; i++)
        cuts[i] = i;
    struct dp_usage u;
    int saw;
    char *out = run(in, n, cuts, n, 1, &u, &saw);
    CHECK_STR(out, dropped);
    CHECK_INT(u.total, 11);
    free(out);
    for (size_t a = 0; a < n; a += 7)
        for (size_t b = a; b < n; b += 13) {
            size_t c2[2] = {a, b};
            out = run(in, n, c2, 2, 1, &u, &saw);
            if (!out || strcmp(out, dropped) != 0) {
                CHECK(0);
                a = n;
                free(out);
                break;
            }
            free(out);
        }
    free(cuts);
    free(in);
    free(dropped);
}

TEST("only a usage-only chunk is dropped")
{
    static const char *const keep[] = {
        /* usage null, choices empty */
        "data: {\"choices\":[],\"usage\":null}\n\n",
        /* usage and choices */
        "data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"total_tokens\":3}}\n\n",
        /* no choices field */
        "data: {\"usage\":{\"total_tokens\":3}}\n\n",
        /* not JSON / not an object */
        "data: {\"choices\":[],\"usage\":{\"total_tokens\":3}\n\n",
        "data: [1,2]\n\n",
        "data: [DONE]\n\n",
        "\n",
        "retry: 100\n\n",
    };
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        struct dp_usage u;
        int saw;
        char *out = run(keep[i], strlen(keep[i]), NULL, 0, 1, &u, &saw);
        CHECK_STR(out, keep[i]);
        free(out);
    }
    const char *two = "data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"total_tokens\":3}}\n\n";
    struct dp_usage u;
    int saw;
    char *out = run(two, strlen(two), NULL, 0, 0, &u, &saw);
    CHECK_INT(saw, 1);
    CHECK_INT(u.total, 3);
    CHECK_INT(u.prompt, -1);
    free(out);
}

TEST("several data lines are joined with LF before parsing")
{
    const char *s = "data: {\"choices\":[],\n"
                    "data: \"usage\":{\"prompt_tokens\":1,\n"
                    "data:\"completion_tokens\":2,\"total_tokens\":3}}\n\n"
                    "data: [DONE]\n\n";
    struct dp_usage u;
    int saw;
    char *out = run(s, strlen(s), NULL, 0, 1, &u, &saw);
    CHECK_STR(out, "data: [DONE]\n\n");
    CHECK_INT(saw, 1);
    CHECK_INT(u.prompt, 1);
    CHECK_INT(u.completion, 2);
    CHECK_INT(u.total, 3);
    free(out);
}

TEST("an event over 1 MiB passes through raw; the stream goes on")
{
    size_t big = 3 * 1024 * 1024;
    char *s = malloc(big + 1024);
    size_t n = (size_t)snprintf(s, 512, "data: {\"choices\":[],\"usage\":{\"total_tokens\":1},\"pad\":\"");
    memset(s + n, 'x', big);
    n += big;
    n += (size_t)snprintf(s + n, 512, "\"}\n\ndata: {\"choices\":[],\"usage\":{\"total_tokens\":5}}\n\n"
                                "data: [DONE]\n\n");
    size_t cuts[3] = {100, 1024 * 1024 + 10, 2 * 1024 * 1024 + 77};
    struct dp_usage u;
    int saw;
    char *out = run(s, n, cuts, 3, 1, &u, &saw);
    CHECK(out != NULL);
    /* The big one is forwarded whole and unparsed (not dropped); the small
     * usage-only chunk after it is read and dropped. */
    CHECK_INT(strlen(out), n - strlen("data: {\"choices\":[],\"usage\":{\"total_tokens\":5}}\n\n"));
    CHECK(memcmp(out, s, big) == 0);
    CHECK_STR(out + strlen(out) - 14, "data: [DONE]\n\n");
    CHECK_INT(u.total, 5);
    free(out);
    /* In one single feed too. */
    out = run(s, n, NULL, 0, 1, &u, &saw);
    CHECK(out && strlen(out) == n - 49);
    free(out);
    free(s);
}

TEST("the held tail is released at finish, a lone CR included")
{
    const char *s = "data: {\"choices\":[],\"usage\":{\"total_tokens\":4}}\n\ndata: partial\r";
    struct dp_usage u;
    int saw;
    char *out = run(s, strlen(s), NULL, 0, 0, &u, &saw);
    CHECK_STR(out, s);
    CHECK_INT(u.total, 4);
    free(out);
    /* An unterminated usage chunk at the end is read but never dropped. */
    const char *t = "data: {\"choices\":[],\"usage\":{\"total_tokens\":8}}";
    out = run(t, strlen(t), NULL, 0, 1, &u, &saw);
    CHECK_STR(out, t);
    CHECK_INT(u.total, 8);
    free(out);

    /* Nothing is emitted before the event is complete. */
    struct dp_sse_scan sc;
    struct gw_buf o;
    dp_sse_scan_init(&sc, NULL, 0);
    gw_buf_init(&o, 1024);
    CHECK_INT(dp_sse_scan_feed(&sc, "data: a\n", 8, &o), 0);
    CHECK_INT(o.len, 0);
    CHECK_INT(dp_sse_scan_feed(&sc, "\n", 1, &o), 0);
    CHECK_STR(o.data, "data: a\n\n");
    dp_sse_scan_cleanup(&sc);
    gw_buf_cleanup(&o);
}

TEST("a full output buffer: -1")
{
    struct dp_sse_scan sc;
    struct gw_buf o;
    dp_sse_scan_init(&sc, NULL, 0);
    gw_buf_init(&o, 8);
    const char *s = "data: {\"a\":1}\n\n";
    CHECK_INT(dp_sse_scan_feed(&sc, s, strlen(s), &o), -1);
    dp_sse_scan_cleanup(&sc);
    gw_buf_cleanup(&o);
}

TEST("a Responses API stream: usage from response.completed, nothing dropped")
{
    /* response.created carries a response with "usage": null; the deltas
     * none; response.completed the final usage, in the Responses API's names. */
    const char *in =
        "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,"
        "\"response\":{\"id\":\"r\",\"status\":\"in_progress\",\"usage\":null}}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
        "\"delta\":\"Hi\"}\n\n"
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,"
        "\"response\":{\"id\":\"r\",\"status\":\"completed\",\"output\":[],\"usage\":"
        "{\"input_tokens\":12,\"input_tokens_details\":{\"cached_tokens\":0},"
        "\"output_tokens\":5,\"total_tokens\":17}}}\n\n";
    size_t n = strlen(in);
    for (size_t k = 0; k <= n; k++) {
        struct dp_usage u;
        int saw = 0;
        char *out = run(in, n, &k, 1, 1, &u, &saw);
        int good = out && strcmp(out, in) == 0 && saw && u.prompt == 12 && u.completion == 5 &&
                   u.total == 17;
        free(out);
        if (!good) {
            fprintf(stderr, "  split at %zu: wrong\n", k);
            CHECK(0);
            break;
        }
    }
    /* a delta event that happens to hold a "response" is not a closing event */
    const char *other = "data: {\"type\":\"response.in_progress\",\"response\":{\"usage\":"
                        "{\"input_tokens\":1}}}\n\n";
    struct dp_usage u;
    int saw = 0;
    char *out = run(other, strlen(other), NULL, 0, 1, &u, &saw);
    CHECK_INT(saw, 0);
    free(out);
}

TEST("the gateway asks for stream usage only on chat and completions")
{
    CHECK_INT(dp_usage_injectable("/chat/completions"), 1);
    CHECK_INT(dp_usage_injectable("/completions"), 1);
    CHECK_INT(dp_usage_injectable("/responses"), 0);
    CHECK_INT(dp_usage_injectable("/embeddings"), 0);
    CHECK_INT(dp_usage_injectable(NULL), 0);
}

TEST_MAIN()
