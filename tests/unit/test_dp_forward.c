/* Unit tests of dataplane/forward.c: what a try sends upstream, on plain
 * strings and config structs. Query re-encoding, the headers never
 * forwarded, curl's empty-value form, URL joining and {model}, the body
 * rewrite (JSON model, stream usage; unchanged bodies pass as they are),
 * the endpoint's credential replacing the caller's. */
#include "testhelp.h"

#include "common/alloc.h"
#include "dataplane/forward.h"

#include <jansson.h>
#include <string.h>

static struct dp_endpoint ep_plain = {
    .name = "plain",
    .url = "http://up/v1/",
    .auth_header = "Authorization",
    .auth_line = "Authorization: Bearer sk-up",
};
static struct dp_endpoint ep_azure = {
    .name = "azure",
    .url = "https://x/deployments/{model}",
    .url_has_model = 1,
    .auth_header = "api-key",
    .auth_line = "api-key: k",
};
static const struct dp_operation chat = {.verb = "POST", .target = "/chat/completions"};
static const struct dp_vendor openai = {.model_in = DP_MODEL_IN_BODY, .model_field = "model"};

static const char *url_of(const struct dp_target *t, const char *query)
{
    static char out[256];
    struct gw_buf b;
    gw_buf_init(&b, 256);
    out[0] = '\0';
    if (dp_fwd_url(t, &chat, query, &b) == 0)
        snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
    gw_buf_cleanup(&b);
    return out;
}

TEST("URL: one slash between base and target, query appended, {model} escaped")
{
    struct dp_target t = {.model = "gpt-4o", .endpoint = &ep_plain};
    CHECK_STR(url_of(&t, NULL), "http://up/v1/chat/completions");
    CHECK_STR(url_of(&t, "?a=1"), "http://up/v1/chat/completions?a=1");
    struct dp_target az = {.model = "my model/1", .endpoint = &ep_azure};
    CHECK_STR(url_of(&az, NULL), "https://x/deployments/my%20model%2F1/chat/completions");
}

TEST("query: arguments re-encoded, a key without value kept alone")
{
    struct gw_buf q;
    gw_buf_init(&q, 1024);
    CHECK_INT(dp_fwd_query_add(&q, "api-version", "2024-02-01"), 0);
    CHECK_INT(dp_fwd_query_add(&q, "x y", "a&b=c"), 0);
    CHECK_INT(dp_fwd_query_add(&q, "flag", NULL), 0);
    CHECK_INT(gw_buf_append(&q, "", 1), GW_BUF_OK);
    CHECK_STR(q.data, "?api-version=2024-02-01&x%20y=a%26b%3Dc&flag");
    gw_buf_cleanup(&q);
    gw_buf_init(&q, 4); /* over the cap */
    CHECK_INT(dp_fwd_query_add(&q, "long", "value"), -1);
    gw_buf_cleanup(&q);
}

TEST("headers: hop-by-hop, Host, credentials and ours are never forwarded")
{
    const char *drop[] = {"Connection", "keep-alive", "Host", "Content-Length", "Authorization",
                          "apikey", "Expect", "Accept-Encoding", "X-Request-Id",
                          "Transfer-Encoding", "Upgrade", "TE", "Proxy-Connection"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        CHECK(dp_fwd_header_dropped(drop[i]));
    CHECK(!dp_fwd_header_dropped("Content-Type"));
    CHECK(!dp_fwd_header_dropped("OpenAI-Organization"));
    struct curl_slist *l = NULL;
    CHECK_INT(dp_fwd_header_add(&l, "Host", "evil"), 0);
    CHECK(l == NULL);
    CHECK_INT(dp_fwd_header_add(&l, "Content-Type", "application/json"), 0);
    CHECK_INT(dp_fwd_header_add(&l, "X-Empty", ""), 0);
    CHECK_STR(l->data, "Content-Type: application/json");
    CHECK_STR(l->next->data, "X-Empty;"); /* curl's way to send an empty value */
    static char huge[9000];
    memset(huge, 'v', sizeof(huge) - 1);
    CHECK_INT(dp_fwd_header_add(&l, "X-Huge", huge), 0); /* not forwarded */
    CHECK(l->next->next == NULL);
    curl_slist_free_all(l);
}

TEST("upstream headers: the caller's minus the endpoint's credential, then id, Expect, credential")
{
    struct curl_slist *fwd = NULL;
    dp_fwd_header_add(&fwd, "Content-Type", "application/json");
    fwd = curl_slist_append(fwd, "authorization: Bearer caller"); /* as if it got through */
    struct dp_target t = {.model = "gpt-4o", .endpoint = &ep_plain};
    struct curl_slist *h = dp_fwd_headers(fwd, &t, "req-1");
    CHECK(h != NULL);
    const char *want[] = {"Content-Type: application/json", "X-Request-Id: req-1", "Expect:",
                          "Authorization: Bearer sk-up"};
    int i = 0;
    for (struct curl_slist *p = h; p; p = p->next, i++)
        CHECK_STR(p->data, i < 4 ? want[i] : "(extra)");
    CHECK_INT(i, 4);
    curl_slist_free_all(h);
    curl_slist_free_all(fwd);
}

TEST("body: unchanged when the model stays; rewritten for another model or stream usage")
{
    const char *src = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}";
    struct dp_json_body json;
    struct gw_err err;
    CHECK_INT(dp_body_parse_json(src, strlen(src), "model", &json, &err), 0);
    struct dp_fwd_body in = {
        .data = src, .len = strlen(src), .model = "gpt-4o", .json = &json, .vendor = &openai};
    struct gw_buf send;
    gw_buf_init(&send, 1 << 20);
    const char *body;
    size_t len;
    struct dp_target same = {.model = "gpt-4o", .endpoint = &ep_plain};
    CHECK_INT(dp_fwd_body(&in, &same, &send, &body, &len), 0);
    CHECK(body == src);
    CHECK_INT(len, strlen(src));
    struct dp_target other = {.model = "o1-mini", .endpoint = &ep_plain};
    CHECK_INT(dp_fwd_body(&in, &other, &send, &body, &len), 0);
    CHECK(body == send.data);
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je);
    CHECK(doc != NULL);
    CHECK_STR(json_string_value(json_object_get(doc, "model")), "o1-mini");
    CHECK(json_object_get(doc, "stream_options") == NULL);
    json_decref(doc);
    in.force_usage = 1;
    CHECK_INT(dp_fwd_body(&in, &same, &send, &body, &len), 0);
    doc = json_loadb(body, len, 0, &je);
    CHECK(doc != NULL);
    CHECK_STR(json_string_value(json_object_get(doc, "model")), "gpt-4o");
    CHECK(json_is_true(json_object_get(json_object_get(doc, "stream_options"), "include_usage")));
    json_decref(doc);
    dp_body_json_cleanup(&json);
    gw_buf_cleanup(&send);
}

TEST("body: multipart model replaced; a model in the URL leaves the body alone")
{
    const char *ctype = "multipart/form-data; boundary=XX";
    const char *src = "--XX\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
                      "--XX--\r\n";
    struct dp_fwd_body in = {.data = src,
                             .len = strlen(src),
                             .model = "whisper-1",
                             .multipart = 1,
                             .content_type = ctype,
                             .vendor = &openai};
    struct gw_buf send;
    gw_buf_init(&send, 1 << 20);
    const char *body;
    size_t len;
    struct dp_target t = {.model = "whisper-2", .endpoint = &ep_plain};
    CHECK_INT(dp_fwd_body(&in, &t, &send, &body, &len), 0);
    CHECK(body == send.data);
    CHECK(memmem(body, len, "whisper-2", 9) != NULL);
    CHECK(memmem(body, len, "whisper-1", 9) == NULL);
    static const struct dp_vendor azure = {.model_in = DP_MODEL_IN_PATH, .model_field = "model"};
    const char *js = "{\"model\":\"a\"}";
    struct dp_json_body json;
    struct gw_err err;
    CHECK_INT(dp_body_parse_json(js, strlen(js), "model", &json, &err), 0);
    struct dp_fwd_body in2 = {
        .data = js, .len = strlen(js), .model = "a", .json = &json, .vendor = &azure};
    struct dp_target b = {.model = "b", .endpoint = &ep_azure};
    CHECK_INT(dp_fwd_body(&in2, &b, &send, &body, &len), 0);
    CHECK(body == js);
    dp_body_json_cleanup(&json);
    gw_buf_cleanup(&send);
}

static int each_calls;

static void fake_each(void *ctx, int headers, int (*fn)(void *, const char *, const char *),
                      void *arg)
{
    (void)ctx;
    each_calls++;
    if (headers) {
        fn(arg, "Accept", "*/*");
        fn(arg, "Authorization", "Bearer caller");
    } else {
        fn(arg, "a", "1 2");
    }
}

TEST("collect: the query re-encoded and the headers to forward, from the client")
{
    char *query = NULL;
    struct curl_slist *h = NULL;
    each_calls = 0;
    CHECK_INT(dp_fwd_collect(fake_each, NULL, &query, &h), 0);
    CHECK_INT(each_calls, 2);
    CHECK_STR(query, "?a=1%202");
    CHECK_STR(h->data, "Accept: */*");
    CHECK(h->next == NULL);
    gw_free(query);
    curl_slist_free_all(h);
}

TEST_MAIN()
