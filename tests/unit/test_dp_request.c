/* Unit tests of dataplane/request.c: the client and upstream state machines
 * driven by a fake client and a fake upstream (dp_reqpath.h), without
 * sockets. Answers at once (404, 413), buffered responses, a failed try and
 * the next target, failover exhaustion (502 / 504), streams with
 * backpressure through the relay, the limiter's 429, hang-ups while
 * parked, MHD completing first, shutdown. */
#include "testhelp.h"

#include "dp_reqpath.h"

#define WRR "/chat-service-prod-sand/1.0/chat/completions"
#define FO "/fo/v1/chat/completions"
#define CHAT "{\"model\":\"gpt-4o\",\"messages\":[]}"
#define STREAM "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}"

static void with_key(struct fake_client *c)
{
    memset(c, 0, sizeof(*c));
    fake_header(c, "Authorization", "Bearer sk-test-prod");
    fake_header(c, "Content-Type", "application/json");
}

/* MHD completes the request (error: not "completed OK"); the pump frees it. */
static void complete(struct fixture *f, struct dp_request *r, int error)
{
    dp_request_closed(r, error);
    CHECK_INT(r->client, DP_CLIENT_DONE);
    CHECK_INT(f->env.nrequests, 1); /* never freed inside the callback */
    fx_run(f);
    CHECK_INT(f->env.nrequests, 0);
}

TEST("state name tables match the enums")
{
    CHECK_STR(dp_client_state_names[DP_CLIENT_DONE], "DONE");
    CHECK_STR(dp_upstream_state_names[DP_UPSTREAM_DONE], "DONE");
    CHECK_STR(dp_upstream_state_names[DP_UPSTREAM_STREAMING], "STREAMING");
    CHECK_INT(sizeof(dp_client_state_names) / sizeof(dp_client_state_names[0]), DP_CLIENT_DONE + 1);
    CHECK_INT(sizeof(dp_upstream_state_names) / sizeof(dp_upstream_state_names[0]),
              DP_UPSTREAM_DONE + 1);
}

TEST("404: answered at once, upstream side DONE, freed only after MHD completes")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", "/nowhere", CHAT);
    CHECK_INT(c.answers, 1);
    CHECK_INT(c.status, 404);
    CHECK(strstr(c.body, "\"code\":\"not_found\"") != NULL);
    CHECK_STR(fake_got(&c, "x-request-id"), r->id);
    CHECK_INT(r->client, DP_CLIENT_ANSWERING);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    CHECK_INT(c.suspends, 0);
    fx_run(&f);
    CHECK_INT(f.env.nrequests, 1); /* the client side is not done */
    complete(&f, r, 0);
    fx_close(&f);
}

TEST("Content-Length over the limit: 413 at the headers, the body is not kept")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    fake_header(&c, "Content-Length", "99999999999");
    struct dp_request *r = dp_request_new(&f.env, &fake_ops, &c, "POST", WRR);
    dp_request_headers(r);
    CHECK_INT(c.status, 413);
    dp_request_body(r, "abc", 3);
    CHECK_INT(r->body.len, 0);
    dp_request_run(r); /* nothing more */
    CHECK_INT(c.answers, 1);
    complete(&f, r, 0);
    fx_close(&f);
}

TEST("buffered 200: READING > PARKED > ANSWERING, WAITING > BUFFERING > DONE, usage read")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, CHAT);
    CHECK_INT(r->client, DP_CLIENT_PARKED);
    CHECK_INT(r->upstream, DP_UPSTREAM_WAITING);
    CHECK_INT(c.suspended, 1);
    CHECK_INT(dp_upstream_active(f.env.up), 1);
    CHECK_STR(r->try.target->endpoint->name, "primary");
    CHECK_INT(fake_headers(r, 200, "application/json"), 0);
    CHECK_INT(r->upstream, DP_UPSTREAM_BUFFERING);
    CHECK_INT(c.answers, 0);
    const char *body = "{\"id\":\"x\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
                       "\"total_tokens\":7}}";
    CHECK_INT(fake_data(r, body), strlen(body));
    fake_end(r, CURLE_OK);
    CHECK_INT(dp_upstream_active(f.env.up), 0);
    CHECK_INT(c.status, 200);
    CHECK_STR(c.body, body);
    CHECK_STR(fake_got(&c, "Content-Type"), "application/json");
    CHECK_STR(fake_got(&c, "x-modelmux-endpoint"), "primary");
    CHECK_STR(fake_got(&c, "x-modelmux-attempts"), "1");
    CHECK_INT(r->usage.total, 7);
    CHECK_INT(r->client, DP_CLIENT_ANSWERING);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    CHECK_INT(c.suspended, 0);
    CHECK_INT(c.resumes, 1);
    complete(&f, r, 0);
    fx_close(&f);
}

TEST("a failed try is discarded and the next target answers (failover on 500)")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, CHAT);
    CHECK_INT(fake_headers(r, 500, "application/json"), 0);
    CHECK_INT(r->upstream, DP_UPSTREAM_DISCARDING);
    CHECK_INT(fake_data(r, "{\"error\":1}"), 11);
    fake_end(r, CURLE_OK);
    CHECK_INT(r->upstream, DP_UPSTREAM_WAITING); /* the next target */
    CHECK_STR(r->try.target->endpoint->name, "secondary");
    CHECK_INT(c.answers, 0);
    CHECK_INT(r->client, DP_CLIENT_PARKED);
    CHECK_INT(fake_headers(r, 200, "application/json"), 0);
    fake_data(r, "{}");
    fake_end(r, CURLE_OK);
    CHECK_INT(c.status, 200);
    CHECK_STR(c.body, "{}");
    CHECK_STR(fake_got(&c, "x-modelmux-attempts"), "2");
    complete(&f, r, 0);
    fx_close(&f);
}

TEST("every target fails: the last response, else 502, else 504 after timeouts")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    /* three tries without headers (connect errors): 502 */
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, CHAT);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(r->upstream, DP_UPSTREAM_WAITING);
        fake_end(r, CURLE_COULDNT_CONNECT);
    }
    CHECK_INT(c.status, 502);
    CHECK(strstr(c.body, "upstream_unreachable") != NULL);
    complete(&f, r, 0);
    fx_close(&f);

    /* timeouts: 504 (fx_close dropped the suspensions) */
    fx_open(&f, fx_compile(NULL, 0));
    with_key(&c);
    r = fx_request(&f, &c, "POST", FO, CHAT);
    for (int i = 0; i < 3; i++)
        fake_end(r, CURLE_OPERATION_TIMEDOUT);
    CHECK_INT(c.status, 504);
    CHECK(strstr(c.body, "upstream_timeout") != NULL);
    complete(&f, r, 0);
    fx_close(&f);

    /* failed responses: the last one goes back as it is */
    fx_open(&f, fx_compile(NULL, 0));
    with_key(&c);
    r = fx_request(&f, &c, "POST", FO, CHAT);
    for (int i = 0; i < 3; i++) {
        fake_headers(r, 503, "text/plain");
        fake_data(r, "busy");
        fake_end(r, CURLE_OK);
    }
    CHECK_INT(c.status, 503);
    CHECK_STR(c.body, "busy");
    CHECK_STR(fake_got(&c, "Content-Type"), "text/plain");
    complete(&f, r, 0);
    fx_close(&f);
}

/* Reads what MHD's content reader would get now. */
static ssize_t read_stream(struct fake_client *c, char *out, size_t max)
{
    return dp_relay_read(c->stream, 0, out, max);
}

TEST("stream: queued from the pump with its first event (late commit), reader parks and is woken, end of stream")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, STREAM);
    CHECK_INT(fake_headers(r, 200, "text/event-stream"), 0);
    CHECK_INT(r->upstream, DP_UPSTREAM_STREAMING);
    fx_run(&f);
    CHECK_INT(c.answers, 0); /* SPEC 3.1 step 6: the headers go with the first event */
    CHECK_INT(r->client, DP_CLIENT_PARKED);
    const char *ev = "data: {\"x\":1}\n\n";
    CHECK_INT(fake_data(r, ev), strlen(ev));
    CHECK_INT(c.answers, 0); /* not from inside curl's callback */
    fx_run(&f);
    CHECK_INT(c.answers, 1);
    CHECK_INT(c.status, 200);
    CHECK(c.stream == &r->relay);
    CHECK_STR(fake_got(&c, "Cache-Control"), "no-cache");
    CHECK_INT(r->client, DP_CLIENT_ANSWERING);
    CHECK_INT(c.suspended, 0);
    char buf[256];
    ssize_t n = read_stream(&c, buf, sizeof(buf));
    CHECK_INT(n, strlen(ev));
    CHECK_INT(read_stream(&c, buf, sizeof(buf)), 0); /* nothing yet: parks */
    CHECK_INT(c.suspended, 1);
    CHECK_INT(fake_data(r, ev), strlen(ev));
    CHECK_INT(c.suspended, 1); /* woken from the pump, not the callback */
    fx_run(&f);
    CHECK_INT(c.suspended, 0);
    n = read_stream(&c, buf, sizeof(buf));
    CHECK_INT(n, strlen(ev));
    fake_end(r, CURLE_OK);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    CHECK_INT(read_stream(&c, buf, sizeof(buf)), MHD_CONTENT_READER_END_OF_STREAM);
    complete(&f, r, 0);
    fx_close(&f);
}

TEST("stream: a failure before the first event is a failed try that moves on; after it, a break")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, STREAM);
    fake_headers(r, 200, "text/event-stream");
    fake_data(r, ": keep-alive comment, no event yet");
    fake_end(r, CURLE_RECV_ERROR);
    CHECK_INT(c.answers, 0);
    CHECK_INT(r->upstream, DP_UPSTREAM_WAITING); /* the next target */
    CHECK_STR(r->try.target->endpoint->name, "secondary");
    fake_headers(r, 200, "text/event-stream");
    const char *ev = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"abcdefgh\"}}]}\n\n";
    fake_data(r, ev);
    fx_run(&f);
    CHECK_INT(c.answers, 1);
    CHECK_STR(fake_got(&c, "x-modelmux-attempts"), "2");
    /* an upstream error event: not relayed, ends the transfer, breaks the stream */
    CHECK_INT(fake_data(r, "data: {\"error\": {\"message\": \"overloaded\"}}\n\n"), 0);
    fake_end(r, CURLE_WRITE_ERROR);
    CHECK_INT(r->stream_broken, 1);
    char buf[512], want[512];
    ssize_t n = read_stream(&c, buf, sizeof(buf) - 1);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    snprintf(want, sizeof(want), "%sdata: {\"error\": {\"message\": \"overloaded\", \"type\": "
             "\"upstream_error\", \"code\": \"stream_interrupted\"}}\n\n", ev);
    CHECK_STR(buf, want);
    CHECK_INT(read_stream(&c, buf, sizeof(buf)), MHD_CONTENT_READER_END_WITH_ERROR);
    /* no usage came: the estimate (body / 4, text sent / 4) is charged */
    CHECK_INT(r->usage_estimated, 1);
    CHECK_INT(r->usage.completion, 2);
    CHECK_INT(r->usage.prompt, (int64_t)(strlen(STREAM) / 4));
    CHECK_INT(r->tries.n, 2);
    CHECK_INT(r->tries.rec[0].outcome, DP_TRYO_FAILED);
    CHECK_INT(r->tries.rec[1].outcome, DP_TRYO_FAILED);
    complete(&f, r, 1);
    fx_close(&f);
}

TEST("stream that ends before the pump queued it: still answered, then ends")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, STREAM);
    fake_headers(r, 200, "text/event-stream");
    fake_data(r, "data: [DONE]\n\n");
    fake_end(r, CURLE_OK);
    CHECK_INT(c.answers, 1);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    char buf[64];
    CHECK_INT(read_stream(&c, buf, sizeof(buf)), 14);
    CHECK_INT(read_stream(&c, buf, sizeof(buf)), MHD_CONTENT_READER_END_OF_STREAM);
    fx_run(&f);
    CHECK_INT(c.answers, 1);
    complete(&f, r, 0);
    fx_close(&f);
}

TEST("rate limit: the sixth request of a minute gets 429 with Retry-After")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    for (int i = 0; i < 6; i++) {
        with_key(&c);
        struct dp_request *r = fx_request(&f, &c, "POST", WRR, CHAT);
        if (i < 5) {
            CHECK_INT(r->upstream, DP_UPSTREAM_WAITING); /* ADMITTING > IDLE > WAITING */
            CHECK_INT(r->client, DP_CLIENT_PARKED);
            fake_headers(r, 200, "application/json");
            fake_end(r, CURLE_OK);
            CHECK_INT(c.status, 200);
            CHECK_STR(fake_got(&c, "x-ratelimit-limit-requests"), "5");
        } else {
            CHECK_INT(c.status, 429);
            CHECK(strstr(c.body, "rate_limited") != NULL);
            CHECK(strtol(fake_got(&c, "Retry-After"), NULL, 10) >= 1);
            CHECK_STR(fake_got(&c, "x-ratelimit-remaining-requests"), "0");
            CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
            CHECK_INT(c.suspends, 0);
        }
        complete(&f, r, 0);
    }
    fx_close(&f);
}

TEST("hang-up while parked: transfer cancelled, abandoned, 503 not recorded (499)")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, CHAT);
    dp_request_hangup(r);
    CHECK_INT(c.abandoned, 0); /* acted on from the pump */
    fx_run(&f);
    CHECK_INT(c.abandoned, 1);
    CHECK_INT(dp_upstream_active(f.env.up), 0);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    CHECK_INT(c.answers, 1); /* what MHD will fail to send */
    CHECK_INT(r->status, 0); /* logged and counted as 499 */
    CHECK_INT(r->client_gone, 1);
    complete(&f, r, 1);
    fx_close(&f);
}

TEST("hang-up while reading the body goes to the client adapter")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = dp_request_new(&f.env, &fake_ops, &c, "POST", FO);
    dp_request_hangup(r);
    fx_run(&f);
    CHECK_INT(c.reading_hangups, 1);
    CHECK_INT(c.abandoned, 0);
    complete(&f, r, 1);
    fx_close(&f);
}

TEST("MHD completes while the try waits: upstream DONE cancels it, freed from the pump")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, CHAT);
    CHECK_INT(dp_upstream_active(f.env.up), 1);
    dp_request_closed(r, 1);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    CHECK_INT(dp_upstream_active(f.env.up), 0);
    fx_run(&f);
    CHECK_INT(f.env.nrequests, 0);
    fx_close(&f);
}

TEST("shutdown: waiting > 503 shutting_down; streaming > the stream ends with an error")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c, d;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, CHAT);
    dp_request_abort(r);
    CHECK_INT(c.status, 503);
    CHECK(strstr(c.body, "shutting_down") != NULL);
    CHECK_INT(c.suspended, 0);
    complete(&f, r, 0);

    /* a stream with no event yet has sent nothing: 503 too (late commit) */
    with_key(&d);
    r = fx_request(&f, &d, "POST", FO, STREAM);
    fake_headers(r, 200, "text/event-stream");
    fx_run(&f);
    dp_request_abort(r);
    CHECK_INT(d.status, 503);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    complete(&f, r, 0);

    with_key(&d);
    r = fx_request(&f, &d, "POST", FO, STREAM);
    fake_headers(r, 200, "text/event-stream");
    const char *ev = "data: {}\n\n";
    fake_data(r, ev);
    fx_run(&f);
    char buf[64];
    CHECK_INT(dp_relay_read(d.stream, 0, buf, sizeof(buf)), strlen(ev));
    CHECK_INT(dp_relay_read(d.stream, 0, buf, sizeof(buf)), 0);
    dp_request_abort(r);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    CHECK_INT(dp_relay_read(d.stream, 0, buf, sizeof(buf)), MHD_CONTENT_READER_END_WITH_ERROR);
    complete(&f, r, 1);
    fx_close(&f);
}

TEST("a 503 with retries: PAUSED on a loop timer, then the same target again; a hang-up while paused")
{
    static const char *const edits[] = {"apis[1].policies[0].retries", "1"};
    struct fixture f;
    fx_open(&f, fx_compile(edits, 2));
    struct fake_client c;
    with_key(&c);
    struct dp_request *r = fx_request(&f, &c, "POST", FO, CHAT);
    const struct dp_target *first = r->try.target;
    fake_headers(r, 503, "application/json");
    fake_data(r, "{}");
    fake_end(r, CURLE_OK);
    CHECK_INT(r->upstream, DP_UPSTREAM_PAUSED);
    CHECK_INT(dp_upstream_active(f.env.up), 0);
    CHECK(r->try.again_ms >= 100 && r->try.again_ms <= 400);
    /* the pause is a loop timer: the worker's loop runs meanwhile */
    for (int i = 0; i < 20 && r->upstream == DP_UPSTREAM_PAUSED; i++)
        dp_loop_run_once(f.loop, 50);
    CHECK_INT(r->upstream, DP_UPSTREAM_WAITING);
    CHECK(r->try.target == first); /* the same target */
    CHECK_INT(r->route.attempts, 2);
    CHECK_INT(r->tries.n, 1);
    CHECK_INT(r->tries.rec[0].outcome, DP_TRYO_RETRIED);
    CHECK(!dp_target_suspended(first->state, dp_loop_now_ms(f.loop)));
    /* it fails again: the budget is used up, the next target, suspended */
    fake_headers(r, 503, "application/json");
    fake_end(r, CURLE_OK);
    CHECK_INT(r->upstream, DP_UPSTREAM_WAITING);
    CHECK(r->try.target != first);
    CHECK(dp_target_suspended(first->state, dp_loop_now_ms(f.loop)));
    /* a connection error on the next target: paused; the client hangs up */
    fake_end(r, CURLE_COULDNT_CONNECT);
    CHECK_INT(r->upstream, DP_UPSTREAM_PAUSED);
    dp_request_hangup(r);
    fx_run(&f);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    CHECK(r->try.pause == NULL);
    CHECK_INT(r->client_gone, 1);
    complete(&f, r, 1);
    fx_close(&f);
}

TEST("GET .../models: answered from the snapshot, no try, upstream side DONE")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    memset(&c, 0, sizeof(c));
    struct dp_request *r = fx_request(&f, &c, "GET", "/azure/2024/models", NULL);
    CHECK_INT(c.status, 200);
    CHECK(strstr(c.body, "\"object\":\"list\"") != NULL);
    CHECK(strstr(c.body, "\"gpt-4o\"") != NULL);
    CHECK_STR(fake_got(&c, "Content-Type"), "application/json");
    CHECK_INT(dp_upstream_active(f.env.up), 0);
    CHECK_INT(r->upstream, DP_UPSTREAM_DONE);
    CHECK(r->try.target == NULL);
    complete(&f, r, 0);
    fx_close(&f);
}

TEST("missing secret: 502 before any transfer; no config: 503")
{
    struct fixture f;
    fx_open(&f, fx_compile(NULL, 0));
    struct fake_client c;
    memset(&c, 0, sizeof(c));
    struct dp_request *r = fx_request(&f, &c, "POST", "/azure/2024/chat/completions", CHAT);
    CHECK_INT(c.status, 502);
    CHECK(strstr(c.body, "missing_secret") != NULL);
    CHECK_INT(dp_upstream_active(f.env.up), 0);
    complete(&f, r, 0);
    fx_close(&f);

    fx_open(&f, NULL);
    memset(&c, 0, sizeof(c));
    r = fx_request(&f, &c, "POST", FO, CHAT);
    CHECK_INT(c.status, 503);
    CHECK(strstr(c.body, "not_ready") != NULL);
    complete(&f, r, 0);
    fx_close(&f);
}

TEST_MAIN()
