/* OpenAI-shaped bodies, SSE chunks and error objects (see mock_reply.h).
 *
 * Built with gw_buf_printf into one bounded buffer per response: the hot
 * path (a non-streaming chat completion) is one printf-style pass and no
 * jansson tree. */
#include "mock_reply.h"

#include <stdio.h>
#include <string.h>

/* Text of the reply: "mock reply from <name> for <model>" (<= 400 bytes). */
#define TEXT_MAX (MOCK_NAME_MAX + MOCK_MODEL_MAX + 64)

static int ok(enum gw_buf_result r)
{
    return r == GW_BUF_OK ? 0 : -1;
}

int mock_reply_json_str(struct gw_buf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (gw_buf_append(out, "\"", 1) != GW_BUF_OK)
        return -1;
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != '\0' && c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (p > run && gw_buf_append(out, run, (size_t)(p - run)) != GW_BUF_OK)
            return -1;
        if (c == '\0')
            break;
        char esc[7] = {'\\', (char)c, 0};
        size_t n = 2;
        if (c < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (gw_buf_append(out, esc, n) != GW_BUF_OK)
            return -1;
        run = p + 1;
    }
    return ok(gw_buf_append(out, "\"", 1));
}

static void reply_text(const struct mock_reply *r, const char *what, char out[TEXT_MAX])
{
    snprintf(out, TEXT_MAX, "mock %s from %s for %s", what, r->name, r->model);
}

/* "model":"<model>" */
static int model_field(struct gw_buf *out, const struct mock_reply *r)
{
    if (gw_buf_append_str(out, "\"model\":") != GW_BUF_OK)
        return -1;
    return mock_reply_json_str(out, r->model);
}

static int usage_field(struct gw_buf *out, const struct mock_reply *r)
{
    return ok(gw_buf_printf(out,
                            "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
                            "\"total_tokens\":%ld}",
                            r->prompt_tokens, r->completion_tokens,
                            r->prompt_tokens + r->completion_tokens));
}

static int body_chat(struct gw_buf *out, const struct mock_reply *r, const char *text)
{
    if (gw_buf_printf(out,
                      "{\"id\":\"chatcmpl-mock-%llu\",\"object\":\"chat.completion\","
                      "\"created\":%lld,",
                      r->id, r->created) != GW_BUF_OK ||
        model_field(out, r) < 0 ||
        gw_buf_append_str(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                               "\"content\":") != GW_BUF_OK ||
        mock_reply_json_str(out, text) < 0 ||
        gw_buf_append_str(out, "},\"logprobs\":null,\"finish_reason\":\"stop\"}],") != GW_BUF_OK ||
        usage_field(out, r) < 0)
        return -1;
    return ok(gw_buf_append(out, "}", 1));
}

static int body_completions(struct gw_buf *out, const struct mock_reply *r, const char *text)
{
    if (gw_buf_printf(out,
                      "{\"id\":\"cmpl-mock-%llu\",\"object\":\"text_completion\",\"created\":%lld,",
                      r->id, r->created) != GW_BUF_OK ||
        model_field(out, r) < 0 || gw_buf_append_str(out, ",\"choices\":[{\"text\":") != GW_BUF_OK ||
        mock_reply_json_str(out, text) < 0 ||
        gw_buf_append_str(out, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],") !=
            GW_BUF_OK ||
        usage_field(out, r) < 0)
        return -1;
    return ok(gw_buf_append(out, "}", 1));
}

static int body_embeddings(struct gw_buf *out, const struct mock_reply *r)
{
    if (gw_buf_append_str(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                               "\"embedding\":[0.0023,-0.0094,0.0157,-0.0072,0.0311,0.0048,"
                               "-0.0215,0.0102]}],") != GW_BUF_OK ||
        model_field(out, r) < 0)
        return -1;
    /* Embeddings have no completion: total = prompt, as OpenAI reports. */
    return ok(gw_buf_printf(out, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}",
                            r->prompt_tokens, r->prompt_tokens));
}

static int body_images(struct gw_buf *out, const struct mock_reply *r)
{
    if (gw_buf_printf(out, "{\"created\":%lld,", r->created) != GW_BUF_OK ||
        model_field(out, r) < 0 ||
        gw_buf_append_str(out, ",\"data\":[{\"url\":\"https://mock.invalid/image.png\"}],") !=
            GW_BUF_OK ||
        usage_field(out, r) < 0)
        return -1;
    return ok(gw_buf_append(out, "}", 1));
}

static int body_audio(struct gw_buf *out, const struct mock_reply *r)
{
    char text[TEXT_MAX];
    reply_text(r, r->route == MOCK_ROUTE_TRANSLATIONS ? "translation" : "transcription", text);
    if (gw_buf_append_str(out, "{\"text\":") != GW_BUF_OK || mock_reply_json_str(out, text) < 0 ||
        gw_buf_append(out, ",", 1) != GW_BUF_OK || model_field(out, r) < 0 ||
        gw_buf_append(out, ",", 1) != GW_BUF_OK || usage_field(out, r) < 0)
        return -1;
    return ok(gw_buf_append(out, "}", 1));
}

int mock_reply_body(struct gw_buf *out, const struct mock_reply *r)
{
    char text[TEXT_MAX];
    reply_text(r, "reply", text);
    switch (r->route) {
    case MOCK_ROUTE_CHAT:
        return body_chat(out, r, text);
    case MOCK_ROUTE_COMPLETIONS:
        return body_completions(out, r, text);
    case MOCK_ROUTE_EMBEDDINGS:
        return body_embeddings(out, r);
    case MOCK_ROUTE_IMAGES:
        return body_images(out, r);
    case MOCK_ROUTE_TRANSCRIPTIONS:
    case MOCK_ROUTE_TRANSLATIONS:
        return body_audio(out, r);
    case MOCK_ROUTE_NONE:
        break;
    }
    return -1;
}

/* Offset where piece i of n of a len-byte UTF-8 text starts: evenly spread,
 * moved forward past continuation bytes so no character is split. */
static size_t piece_start(const char *text, size_t len, int i, int n)
{
    size_t at = len * (size_t)i / (size_t)n;
    while (at < len && ((unsigned char)text[at] & 0xC0) == 0x80)
        at++;
    return at;
}

/* "data: {"id":...,"object":...,"created":...,"model":... (no closing brace):
 * the start of every stream chunk. */
static int chunk_head(struct gw_buf *out, const struct mock_reply *r)
{
    int chat = r->route == MOCK_ROUTE_CHAT;
    if (gw_buf_printf(out, "data: {\"id\":\"%s-mock-%llu\",\"object\":\"%s\",\"created\":%lld,",
                      chat ? "chatcmpl" : "cmpl", r->id,
                      chat ? "chat.completion.chunk" : "text_completion", r->created) != GW_BUF_OK)
        return -1;
    return model_field(out, r);
}

int mock_reply_chunk(struct gw_buf *out, const struct mock_reply *r, int i, int n,
                     int include_usage)
{
    char text[TEXT_MAX];
    reply_text(r, "reply", text);
    size_t len = strlen(text);
    if (n < 1 || i < 0 || i >= n)
        return -1;
    size_t from = piece_start(text, len, i, n), to = piece_start(text, len, i + 1, n);
    char piece[TEXT_MAX];
    memcpy(piece, text + from, to - from);
    piece[to - from] = '\0';
    const char *finish = i == n - 1 ? "\"stop\"" : "null";
    int chat = r->route == MOCK_ROUTE_CHAT;
    if (chunk_head(out, r) < 0)
        return -1;
    if (chat) {
        if (gw_buf_printf(out, ",\"choices\":[{\"index\":0,\"delta\":{%s\"content\":",
                          i == 0 ? "\"role\":\"assistant\"," : "") != GW_BUF_OK ||
            mock_reply_json_str(out, piece) < 0 ||
            gw_buf_printf(out, "},\"logprobs\":null,\"finish_reason\":%s}]", finish) != GW_BUF_OK)
            return -1;
    } else {
        if (gw_buf_append_str(out, ",\"choices\":[{\"text\":") != GW_BUF_OK ||
            mock_reply_json_str(out, piece) < 0 ||
            gw_buf_printf(out, ",\"index\":0,\"logprobs\":null,\"finish_reason\":%s}]", finish) !=
                GW_BUF_OK)
            return -1;
    }
    if (include_usage && gw_buf_append_str(out, ",\"usage\":null") != GW_BUF_OK)
        return -1;
    return ok(gw_buf_append_str(out, "}\n\n"));
}

int mock_reply_usage_chunk(struct gw_buf *out, const struct mock_reply *r)
{
    if (chunk_head(out, r) < 0 || gw_buf_append_str(out, ",\"choices\":[],") != GW_BUF_OK ||
        usage_field(out, r) < 0)
        return -1;
    return ok(gw_buf_append_str(out, "}\n\n"));
}

/* OpenAI's error type and code for a status. */
static void error_kind(int status, const char **type, const char **code)
{
    switch (status) {
    case 400:
        *type = "invalid_request_error", *code = "invalid_request";
        return;
    case 401:
        *type = "invalid_request_error", *code = "invalid_api_key";
        return;
    case 403:
        *type = "invalid_request_error", *code = "forbidden";
        return;
    case 404:
        *type = "invalid_request_error", *code = "not_found";
        return;
    case 405:
        *type = "invalid_request_error", *code = "method_not_allowed";
        return;
    case 413:
        *type = "invalid_request_error", *code = "request_too_large";
        return;
    case 429:
        *type = "requests", *code = "rate_limit_exceeded";
        return;
    default:
        break;
    }
    if (status >= 500) {
        *type = "server_error", *code = "server_error";
        return;
    }
    *type = "invalid_request_error", *code = "mock_error";
}

int mock_reply_error(struct gw_buf *out, int status, const char *message)
{
    const char *type, *code;
    error_kind(status, &type, &code);
    if (gw_buf_append_str(out, "{\"error\":{\"message\":") != GW_BUF_OK ||
        mock_reply_json_str(out, message) < 0)
        return -1;
    return ok(gw_buf_printf(out, ",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}", type, code));
}
