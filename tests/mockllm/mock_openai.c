/* The OpenAI routes (see mock_openai.h). */
#include "mock_openai.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "mock_embed.h"
#include "mock_multipart.h"
#include "mock_responses.h"
#include "mock_utf8.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Request headers recorded per request (MHD's memory limit bounds them
 * anyway). */
#define RECORD_HEADERS_MAX 128
/* One SSE chunk is at most ~2 KiB (model and name are bounded). */
#define CHUNK_MAX (16 * 1024)
/* How often a "hang" request looks whether its client left. */
#define HANG_POLL_MS 50

/* Where a stream is. The order matters: a reset comes in STREAM_CONTENT or
 * after it, never before the head. */
enum stream_phase {
    STREAM_HEAD,    /* the Responses API's opening events are next */
    STREAM_CONTENT, /* content chunks left to send */
    STREAM_TAIL,    /* the usage-only chunk (chat, completions) or the
                       closing events (responses) are next */
    STREAM_DONE,    /* "data: [DONE]" is next */
    STREAM_END      /* everything sent */
};

struct mock_stream {
    struct mock_req *req;
    struct mock_reply reply;
    long nchunks;           /* content chunks in all */
    long sent;              /* content chunks produced */
    long reset_after;       /* close abruptly after this many; -1 = never */
    long chunk_delay_ms;
    long first_delay_ms;    /* before content chunk 0 */
    long stall_after;       /* a stall before this content chunk; -1 = none */
    long stall_ms;
    int stall_close;        /* close abruptly after the stall */
    long error_after;       /* the error event instead of this chunk; -1 = none */
    long malformed_after;   /* a malformed event before this chunk; -1 = none */
    int malformed_sent;
    int no_done;            /* no "data: [DONE]" */
    int include_usage;
    int responses;          /* the Responses API's events, not chat chunks */
    int waited;             /* the delay before the next chunk has passed */
    enum stream_phase phase;
    struct gw_buf pending;  /* the chunk being sent */
    size_t off;             /* bytes of pending already handed to MHD */
};

void mock_openai_cleanup(struct mock_req *req)
{
    gw_free(req->assistant_text);
    req->assistant_text = NULL;
    if (req->stream_state) {
        gw_buf_cleanup(&req->stream_state->pending);
        gw_free(req->stream_state);
        req->stream_state = NULL;
    }
    mock_ruleset_release(req->hold);
    req->hold = NULL;
    req->rule = NULL;
}

/* ---- request parsing ---------------------------------------------------- */

/* Why a request is refused. */
struct refusal {
    unsigned int status;
    char message[256];
};

static int refuse(struct refusal *why, unsigned int status, const char *message)
{
    why->status = status;
    snprintf(why->message, sizeof(why->message), "%s", message);
    return -1;
}

/* Copies a model name of n bytes into req->model after checking it. */
static int set_model(struct mock_req *req, const char *s, size_t n, struct refusal *why)
{
    if (n == 0)
        return refuse(why, 400, "you must provide a model parameter");
    if (n > MOCK_MODEL_MAX)
        return refuse(why, 400, "model: too long");
    if (memchr(s, '\0', n) || mock_utf8_valid_len(s, n) != n)
        return refuse(why, 400, "model: not valid text");
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    if (chars > GW_NAME_MAX_CHARS) /* the contract's bound is in characters */
        return refuse(why, 400, "model: too long");
    memcpy(req->model, s, n);
    req->model[n] = '\0';
    return 0;
}

static int parse_multipart(struct mock_req *req, const char *ctype, int have_model,
                           struct refusal *why)
{
    char boundary[80], model[MOCK_MODEL_MAX + 2];
    if (mock_multipart_boundary(ctype, boundary, sizeof(boundary)) < 0)
        return refuse(why, 400, "multipart/form-data without a valid boundary");
    if (have_model)
        return 0;
    int n = mock_multipart_field(req->body.data ? req->body.data : "", req->body.len, boundary,
                                 "model", model, sizeof(model));
    if (n == -2)
        return refuse(why, 400, "model: too long");
    if (n < 0)
        return refuse(why, 400, "you must provide a model parameter");
    return set_model(req, model, (size_t)n, why);
}

/* The number of inputs of an embeddings "input": a string or a token array
 * is one, an array of strings or of token arrays one per element. */
static int embed_inputs(struct mock_req *req, json_t *input, struct refusal *why)
{
    if (!input || !json_is_array(input)) {
        req->inputs = 1;
        return 0;
    }
    size_t n = json_array_size(input);
    if (n == 0)
        return refuse(why, 400, "input: must not be empty");
    json_t *first = json_array_get(input, 0); /* borrowed */
    req->inputs = json_is_integer(first) ? 1 : (long)n;
    if (req->inputs > MOCK_EMBED_INPUTS_MAX)
        return refuse(why, 400, "input: at most 2048 inputs");
    return 0;
}

/* "encoding_format" and "dimensions" of an embeddings request. */
static int parse_embeddings(struct mock_req *req, json_t *doc, struct refusal *why)
{
    if (embed_inputs(req, json_object_get(doc, "input"), why) < 0)
        return -1;
    json_t *v = json_object_get(doc, "encoding_format"); /* borrowed */
    if (v && !json_is_null(v)) {
        const char *f = json_string_value(v);
        if (!f || (strcmp(f, "float") != 0 && strcmp(f, "base64") != 0))
            return refuse(why, 400, "encoding_format: must be 'float' or 'base64'");
        req->base64 = strcmp(f, "base64") == 0;
    }
    v = json_object_get(doc, "dimensions");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > MOCK_EMBED_DIMS_MAX)
            return refuse(why, 400, "dimensions: must be an integer from 1 to 3072");
        req->dimensions = (long)json_integer_value(v);
    }
    long dims = req->dimensions ? req->dimensions : MOCK_EMBED_DIMS;
    if (req->inputs * dims > MOCK_EMBED_VALUES_MAX)
        return refuse(why, 400, "input: too many values (inputs x dimensions over 1048576)");
    return 0;
}

/* "n" and "response_format" of an image request (gpt-image models always
 * answer base64). */
static int parse_images(struct mock_req *req, json_t *doc, struct refusal *why)
{
    json_t *v = json_object_get(doc, "n"); /* borrowed */
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10)
            return refuse(why, 400, "n: must be an integer from 1 to 10");
        req->images = (long)json_integer_value(v);
    }
    v = json_object_get(doc, "response_format");
    req->b64_json = (json_is_string(v) && strcmp(json_string_value(v), "b64_json") == 0) ||
                    strncmp(req->model, "gpt-image", 9) == 0;
    return 0;
}

/* Whether the last of "messages" is the assistant's, and its text. */
static int parse_last_message(struct mock_req *req, json_t *doc, struct refusal *why)
{
    json_t *msgs = json_object_get(doc, "messages"); /* borrowed */
    size_t n = json_is_array(msgs) ? json_array_size(msgs) : 0;
    json_t *last = n ? json_array_get(msgs, n - 1) : NULL;
    json_t *role = json_object_get(last, "role");
    req->last_assistant = json_is_string(role) && strcmp(json_string_value(role), "assistant") == 0;
    json_t *content = json_object_get(last, "content");
    if (!req->last_assistant || !json_is_string(content))
        return 0;
    req->assistant_text = gw_strndup(json_string_value(content), json_string_length(content));
    return req->assistant_text ? 0 : refuse(why, 503, "out of memory");
}

static int parse_json(struct mock_req *req, int have_model, struct refusal *why)
{
    json_error_t jerr;
    json_t *doc = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
    int rc = 0;
    if (!doc || !json_is_object(doc)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the body is not a JSON object: %.100s",
                 doc ? "wrong type" : jerr.text);
        rc = refuse(why, 400, msg);
        goto out;
    }
    json_t *v = json_object_get(doc, "stream"); /* borrowed */
    req->stream = json_is_true(v);
    v = json_object_get(doc, "stream_options");
    req->include_usage = json_is_object(v) && json_is_true(json_object_get(v, "include_usage"));
    if (!have_model) {
        v = json_object_get(doc, "model");
        if (!v)
            rc = refuse(why, 400, "you must provide a model parameter");
        else if (!json_is_string(v))
            rc = refuse(why, 400, "model: must be a string");
        else
            rc = set_model(req, json_string_value(v), json_string_length(v), why);
    }
    if (rc == 0 && req->route == MOCK_ROUTE_EMBEDDINGS)
        rc = parse_embeddings(req, doc, why);
    if (rc == 0 && req->route == MOCK_ROUTE_IMAGES)
        rc = parse_images(req, doc, why);
    if (rc == 0 && req->route == MOCK_ROUTE_CHAT)
        rc = parse_last_message(req, doc, why);
out:
    json_decref(doc);
    return rc;
}

/* Route, method, body bound, model. Fills req->route, model, stream flags. */
static int parse_request(struct mock_req *req, const char *url, const char *method,
                         struct refusal *why)
{
    req->route = mock_route_match(url);
    if (req->route == MOCK_ROUTE_NONE)
        return refuse(why, 404, "unknown path");
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return refuse(why, 405, "only POST is allowed here");
    if (req->too_big)
        return refuse(why, 413, "request body too large");
    if (req->nomem)
        return refuse(why, 503, "out of memory");
    int n = mock_route_azure_model(url, req->model, sizeof(req->model));
    if (n < 0)
        return refuse(why, 400, "model: too long");
    if (n > 0 && set_model(req, req->model, (size_t)n, why) < 0)
        return -1;
    const char *ctype =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ctype && strncasecmp(ctype, "multipart/form-data", 19) == 0)
        return parse_multipart(req, ctype, n > 0, why);
    return parse_json(req, n > 0, why);
}

/* ---- recording ---------------------------------------------------------- */

struct header_list {
    struct mock_record_header h[RECORD_HEADERS_MAX];
    size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    struct header_list *l = cls;
    (void)kind;
    if (l->n == RECORD_HEADERS_MAX)
        return MHD_NO;
    l->h[l->n++] = (struct mock_record_header){key, key_size, value ? value : "",
                                               value ? value_size : 0};
    return MHD_YES;
}

static void record(struct mock_req *req, const char *url, const char *method)
{
    struct header_list hl;
    hl.n = 0;
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, collect_header, &hl);
    struct mock_record_in in = {
        .method = method,
        .path = url,
        .model = req->model[0] ? req->model : NULL,
        .headers = hl.h,
        .nheaders = hl.n,
        .body = req->body.data,
        .body_len = req->body.len,
        .body_total = req->received,
    };
    __atomic_add_fetch(&req->srv->requests, 1, __ATOMIC_RELAXED);
    if (mock_recorder_add(&req->srv->recorder, &in) < 0)
        gw_warn("cannot record a request: out of memory");
}

/* ---- the client's socket -------------------------------------------------- */

static int client_fd(struct mock_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Resets the connection (RST, no FIN): SO_LINGER 0, and MHD closes the
 * socket when the handler refuses the request. */
static void reset_now(struct mock_req *req)
{
    struct linger lg = {1, 0};
    int fd = client_fd(req);
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    req->reset_by_us = 1;
}

/* Ends the connection at once. MHD closes a connection it was told to drop
 * only on its next loop pass, which for a just-resumed connection may be
 * much later; shutting the socket down makes the client see the end now. */
static void drop(struct mock_req *req, int on_purpose)
{
    int fd = client_fd(req);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    req->reset_by_us = on_purpose;
}

/* 1 when the client has closed its end. MHD cannot see that while the
 * connection is suspended, and a small response written to a closed socket
 * still "succeeds"; so after every wait the socket is peeked. */
static int client_gone(struct mock_req *req)
{
    char c;
    int fd = client_fd(req);
    if (fd < 0)
        return 0;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ---- responses ---------------------------------------------------------- */

/* x-mock-name, x-mock-model and the rule's headers. */
static void add_headers(struct mock_req *req, struct MHD_Response *r)
{
    MHD_add_response_header(r, "x-mock-name", req->srv->name);
    if (req->model[0])
        MHD_add_response_header(r, "x-mock-model", req->model);
    const struct mock_rule *rule = req->rule;
    if (!rule)
        return;
    if (rule->retry_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, rule->retry_after);
    for (size_t i = 0; i < rule->nheaders; i++) {
        const struct mock_header *h = &rule->headers[i];
        /* A rule's header replaces the mock's own (Content-Type, say). */
        const char *old = MHD_get_response_header(r, h->name);
        if (old)
            MHD_del_response_header(r, h->name, old);
        MHD_add_response_header(r, h->name, h->value);
    }
}

static enum MHD_Result answer(struct mock_req *req, unsigned int status, struct MHD_Response *r)
{
    if (r)
        add_headers(req, r);
    return mock_queue(req->conn, status, r);
}

/* A rule's number when the rule sets it (>= 0), else the default. */
#define RULE_OR(req, field, dflt)                                                   \
    ((req)->rule && (req)->rule->field >= 0 ? (req)->rule->field : (long)(dflt))

static void fill_reply(struct mock_req *req, struct mock_reply *rep)
{
    rep->route = req->route;
    rep->name = req->srv->name;
    rep->model = req->model;
    rep->id = __atomic_add_fetch(&req->srv->next_id, 1, __ATOMIC_RELAXED);
    rep->created = gw_wall_s();
    rep->prompt_tokens = RULE_OR(req, prompt_tokens, MOCK_DEFAULT_PROMPT_TOKENS);
    rep->completion_tokens = RULE_OR(req, completion_tokens, MOCK_DEFAULT_COMPLETION_TOKENS);
    rep->inputs = req->inputs;
    rep->dimensions = req->dimensions;
    rep->base64 = req->base64;
    rep->images = req->images;
    rep->b64_json = req->b64_json;
    rep->text = req->rule ? req->rule->text : NULL;
    rep->skip = 0;
    if (req->rule && req->rule->continuation && req->assistant_text) {
        char full[MOCK_TEXT_MAX];
        mock_reply_answer(rep, full);
        size_t n = strlen(req->assistant_text);
        if (n <= strlen(full) && memcmp(full, req->assistant_text, n) == 0)
            rep->skip = n; /* a prefix of valid UTF-8 ends on a boundary */
    }
}

/* The wait before content chunk st->sent: the stall, the first chunk's
 * delay or the delay between chunks. */
static long content_wait_ms(const struct mock_stream *st)
{
    if (st->sent == st->stall_after)
        return st->stall_ms;
    return st->sent == 0 ? st->first_delay_ms : st->chunk_delay_ms;
}

/* Produces the next piece of the stream into st->pending. Returns 0, 1 when
 * the connection was suspended until the next chunk is due, or a
 * MHD_CONTENT_READER_END_* value. */
static ssize_t next_piece(struct mock_stream *st)
{
    struct mock_req *req = st->req;
    if (st->phase == STREAM_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (st->waited && client_gone(req)) {
        drop(req, 0);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (mock_server_stopping(req->srv) ||
        (st->reset_after >= 0 && (st->phase > STREAM_CONTENT ||
                                  (st->phase == STREAM_CONTENT && st->sent >= st->reset_after)))) {
        drop(req, 1);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    gw_buf_reset(&st->pending);
    st->off = 0;
    int rc = 0;
    switch (st->phase) {
    case STREAM_HEAD:
        rc = mock_responses_head(&st->pending, &st->reply);
        st->phase = STREAM_CONTENT;
        break;
    case STREAM_CONTENT:
        if (!st->waited && content_wait_ms(st) > 0) {
            st->waited = 1;
            MHD_suspend_connection(req->conn);
            mock_timer_add(req->srv->timer, gw_now_ms() + content_wait_ms(st), req->conn);
            return 1;
        }
        if (st->sent == st->stall_after && st->stall_close) {
            drop(req, 1);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (st->sent == st->error_after) {
            rc = mock_reply_error_event(&st->pending);
            st->phase = STREAM_END;
            break;
        }
        if (st->sent == st->malformed_after && !st->malformed_sent) {
            rc = mock_reply_malformed_event(&st->pending, &st->reply);
            st->malformed_sent = 1; /* st->waited stays: no second wait */
            break;
        }
        st->waited = 0;
        rc = st->responses ? mock_responses_delta(&st->pending, &st->reply, (int)st->sent,
                                                  (int)st->nchunks)
                           : mock_reply_chunk(&st->pending, &st->reply, (int)st->sent,
                                              (int)st->nchunks, st->include_usage);
        if (++st->sent == st->nchunks)
            st->phase = st->responses || st->include_usage ? STREAM_TAIL
                        : st->no_done                        ? STREAM_END
                                                             : STREAM_DONE;
        break;
    case STREAM_TAIL:
        if (st->responses) {
            rc = mock_responses_tail(&st->pending, &st->reply, (int)st->nchunks);
            st->phase = STREAM_END; /* the Responses API sends no [DONE] */
        } else {
            rc = mock_reply_usage_chunk(&st->pending, &st->reply);
            st->phase = st->no_done ? STREAM_END : STREAM_DONE;
        }
        break;
    case STREAM_DONE:
        rc = gw_buf_append_str(&st->pending, MOCK_REPLY_DONE) == GW_BUF_OK ? 0 : -1;
        st->phase = STREAM_END;
        break;
    case STREAM_END:
        break;
    }
    return rc < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : 0;
}

/* MHD content reader: hands out the pending chunk, producing the next one
 * when it is used up. Returning 0 is only done after suspending. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct mock_stream *st = cls;
    (void)pos;
    if (st->off == st->pending.len) {
        ssize_t rc = next_piece(st);
        if (rc == 1)
            return 0;
        if (rc < 0)
            return rc;
    }
    size_t n = st->pending.len - st->off;
    if (n > max)
        n = max;
    memcpy(buf, st->pending.data + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static enum MHD_Result answer_stream(struct mock_req *req, unsigned int status)
{
    struct mock_stream *st = gw_calloc(1, sizeof(*st));
    if (!st)
        return mock_queue_error(req->conn, 503, "out of memory");
    req->stream_state = st;
    st->req = req;
    fill_reply(req, &st->reply);
    st->nchunks = RULE_OR(req, chunks, MOCK_DEFAULT_CHUNKS);
    st->reset_after = RULE_OR(req, reset_after_chunks, -1);
    st->chunk_delay_ms = RULE_OR(req, chunk_delay_ms, 0);
    st->first_delay_ms = RULE_OR(req, first_chunk_delay_ms, 0);
    st->stall_after = RULE_OR(req, stall_after_chunks, -1);
    st->stall_ms = RULE_OR(req, stall_ms, 0);
    st->stall_close = req->rule && req->rule->stall_close;
    st->error_after = RULE_OR(req, error_after_chunks, -1);
    st->malformed_after = RULE_OR(req, malformed_after_chunks, -1);
    st->no_done = req->rule && req->rule->no_done;
    st->include_usage = req->include_usage;
    st->responses = req->route == MOCK_ROUTE_RESPONSES;
    st->phase = st->responses ? STREAM_HEAD : STREAM_CONTENT;
    gw_buf_init(&st->pending, CHUNK_MAX);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, CHUNK_MAX, stream_read, st, NULL);
    if (r) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    }
    return answer(req, status, r);
}

/* The response for a parsed request and its rule (after any delay). */
/* Suspends the connection until the timer resumes it at now + ms. */
static enum MHD_Result wait_ms(struct mock_req *req, long ms)
{
    req->phase = 1;
    MHD_suspend_connection(req->conn);
    mock_timer_add(req->srv->timer, gw_now_ms() + ms, req->conn);
    return MHD_YES;
}

/* The status a rule answers: its "status", else 503 for "failForMs", 400
 * for "errorCode", 200. */
static unsigned int rule_status(const struct mock_rule *rule)
{
    if (!rule)
        return 200;
    if (rule->status)
        return (unsigned int)rule->status;
    if (rule->fail_until_ms >= 0)
        return 503;
    return rule->error_code ? 400 : 200;
}

/* The 400s a rule asks for: a known error code, or a refused trailing
 * assistant message. NULL when neither applies. */
static struct MHD_Response *refusal_response(struct mock_req *req, unsigned int status)
{
    const struct mock_rule *rule = req->rule;
    if (rule->error_code) {
        struct gw_buf b;
        gw_buf_init(&b, 4096);
        if (mock_reply_error_for_code(&b, rule->error_code) < 0) {
            gw_buf_cleanup(&b);
            return NULL;
        }
        return mock_response_from_buf(&b, "application/json");
    }
    return mock_response_error(status, "the last message must not be an assistant message");
}

static enum MHD_Result respond(struct mock_req *req)
{
    const struct mock_rule *rule = req->rule;
    unsigned int status = rule_status(rule);
    if (req->phase == 1 && client_gone(req)) {
        drop(req, 0);
        return MHD_NO;
    }
    if (mock_server_stopping(req->srv)) {
        drop(req, 1);
        return MHD_NO;
    }
    if (rule && rule->reset) {
        reset_now(req);
        return MHD_NO;
    }
    if (rule && rule->hang)
        return wait_ms(req, HANG_POLL_MS);
    if (rule && (rule->error_code || (rule->refuse_trailing_assistant && req->last_assistant))) {
        unsigned int st = rule->status ? status : 400;
        return answer(req, st, refusal_response(req, st));
    }
    if (rule && rule->body) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            rule->body_len, (void *)rule->body, MHD_RESPMEM_PERSISTENT); /* req->hold keeps it */
        if (r)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        return answer(req, status, r);
    }
    if (status >= 400) {
        char msg[64];
        snprintf(msg, sizeof(msg), "mock fault: status %u", status);
        return answer(req, status, mock_response_error(status, msg));
    }
    if (req->stream && (req->route == MOCK_ROUTE_CHAT || req->route == MOCK_ROUTE_COMPLETIONS ||
                        req->route == MOCK_ROUTE_RESPONSES))
        return answer_stream(req, status);
    struct mock_reply rep;
    struct gw_buf b;
    fill_reply(req, &rep);
    gw_buf_init(&b, req->route == MOCK_ROUTE_EMBEDDINGS ? MOCK_EMBED_BODY_MAX : 64 * 1024);
    if (mock_reply_body(&b, &rep) < 0)
        return mock_queue_error(req->conn, 503, "out of memory");
    return answer(req, status, mock_response_from_buf(&b, "application/json"));
}

enum MHD_Result mock_openai_handle(struct mock_req *req, const char *url, const char *method)
{
    if (req->phase == 1)
        return respond(req);

    struct refusal why;
    int rc = parse_request(req, url, method, &why);
    record(req, url, method);
    if (rc < 0)
        return answer(req, why.status, mock_response_error(why.status, why.message));

    req->rule = mock_rules_match(&req->srv->rules, req->model, url, gw_now_ms(), &req->hold);
    long delay = RULE_OR(req, delay_ms, 0);
    if (delay > 0 && !mock_server_stopping(req->srv))
        return wait_ms(req, delay);
    return respond(req);
}
