/* OpenAI-shaped bodies, SSE chunks and error objects (see mock_reply.h).
 *
 * Built with gw_buf_printf into one bounded buffer per response: the hot
 * path (a non-streaming chat completion) is one printf-style pass and no
 * jansson tree. */
#include "mock_reply.h"

#include "mock_embed.h"
#include "mock_responses.h"

#include <stdio.h>
#include <string.h>

#define TEXT_MAX MOCK_TEXT_MAX

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

void mock_reply_text(const struct mock_reply *r, const char *what, char out[TEXT_MAX])
{
    snprintf(out, TEXT_MAX, "mock %s from %s for %s", what, r->name, r->model);
}

void mock_reply_answer(const struct mock_reply *r, char out[TEXT_MAX])
{
    char full[TEXT_MAX];
    if (r->text)
        snprintf(full, TEXT_MAX, "%s", r->text);
    else
        mock_reply_text(r, "reply", full);
    size_t len = strlen(full), skip = r->skip < len ? r->skip : len;
    memcpy(out, full + skip, len - skip + 1);
}

int mock_reply_model_field(struct gw_buf *out, const struct mock_reply *r)
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
        mock_reply_model_field(out, r) < 0 ||
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
        mock_reply_model_field(out, r) < 0 || gw_buf_append_str(out, ",\"choices\":[{\"text\":") != GW_BUF_OK ||
        mock_reply_json_str(out, text) < 0 ||
        gw_buf_append_str(out, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],") !=
            GW_BUF_OK ||
        usage_field(out, r) < 0)
        return -1;
    return ok(gw_buf_append(out, "}", 1));
}

/* A 1x1 transparent PNG, the image of every b64_json reply. */
static const char png_1x1[] = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/* {"url": ...} or {"b64_json": ...} with a revised_prompt, as DALL-E 3 and
 * gpt-image-1 answer; usage in the Responses API's names (gpt-image-1). */
static int body_images(struct gw_buf *out, const struct mock_reply *r)
{
    long n = r->images > 0 ? r->images : 1;
    if (gw_buf_printf(out, "{\"created\":%lld,", r->created) != GW_BUF_OK ||
        mock_reply_model_field(out, r) < 0 || gw_buf_append_str(out, ",\"data\":[") != GW_BUF_OK)
        return -1;
    for (long i = 0; i < n; i++) {
        enum gw_buf_result rc =
            r->b64_json ? gw_buf_printf(out, "%s{\"b64_json\":\"%s\",", i ? "," : "", png_1x1)
                        : gw_buf_printf(out, "%s{\"url\":\"https://mock.invalid/image-%ld.png\",",
                                        i ? "," : "", i);
        if (rc != GW_BUF_OK ||
            gw_buf_append_str(out, "\"revised_prompt\":\"a mock image\"}") != GW_BUF_OK)
            return -1;
    }
    return ok(gw_buf_printf(out,
                            "],\"usage\":{\"input_tokens\":%ld,\"input_tokens_details\":"
                            "{\"image_tokens\":0,\"text_tokens\":%ld},\"output_tokens\":%ld,"
                            "\"total_tokens\":%ld}}",
                            r->prompt_tokens, r->prompt_tokens, r->completion_tokens,
                            r->prompt_tokens + r->completion_tokens));
}

/* {"text": ...} with the token usage gpt-4o-transcribe reports. */
static int body_audio(struct gw_buf *out, const struct mock_reply *r)
{
    char text[TEXT_MAX];
    mock_reply_text(r, r->route == MOCK_ROUTE_TRANSLATIONS ? "translation" : "transcription", text);
    if (gw_buf_append_str(out, "{\"text\":") != GW_BUF_OK || mock_reply_json_str(out, text) < 0 ||
        gw_buf_append(out, ",", 1) != GW_BUF_OK || mock_reply_model_field(out, r) < 0)
        return -1;
    return ok(gw_buf_printf(out,
                            ",\"usage\":{\"type\":\"tokens\",\"input_tokens\":%ld,"
                            "\"input_token_details\":{\"text_tokens\":0,\"audio_tokens\":%ld},"
                            "\"output_tokens\":%ld,\"total_tokens\":%ld}}",
                            r->prompt_tokens, r->prompt_tokens, r->completion_tokens,
                            r->prompt_tokens + r->completion_tokens));
}

int mock_reply_body(struct gw_buf *out, const struct mock_reply *r)
{
    char text[TEXT_MAX];
    mock_reply_answer(r, text);
    switch (r->route) {
    case MOCK_ROUTE_CHAT:
        return body_chat(out, r, text);
    case MOCK_ROUTE_COMPLETIONS:
        return body_completions(out, r, text);
    case MOCK_ROUTE_RESPONSES:
        return mock_responses_body(out, r);
    case MOCK_ROUTE_EMBEDDINGS:
        return mock_embed_body(out, r);
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
    return mock_reply_model_field(out, r);
}

int mock_reply_piece(const struct mock_reply *r, int i, int n, char out[TEXT_MAX])
{
    char text[TEXT_MAX];
    if (n < 1 || i < 0 || i >= n)
        return -1;
    mock_reply_answer(r, text);
    size_t len = strlen(text);
    size_t from = piece_start(text, len, i, n), to = piece_start(text, len, i + 1, n);
    memcpy(out, text + from, to - from);
    out[to - from] = '\0';
    return 0;
}

int mock_reply_chunk(struct gw_buf *out, const struct mock_reply *r, int i, int n,
                     int include_usage)
{
    char piece[TEXT_MAX];
    if (mock_reply_piece(r, i, n, piece) < 0)
        return -1;
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

/* The error bodies OpenAI sends for the codes a rule's "errorCode" names. */
static const struct {
    const char *code;
    const char *message;
    const char *param; /* JSON: a string literal or null */
} known_codes[] = {
    {"context_length_exceeded",
     "This model's maximum context length is 128000 tokens. However, your messages resulted in "
     "130000 tokens. Please reduce the length of the messages.",
     "\"messages\""},
    {"content_policy_violation",
     "Your request was rejected as a result of our safety system. Your prompt may contain text "
     "that is not allowed by our safety system.",
     "null"},
};

static int known_index(const char *code)
{
    for (size_t i = 0; i < sizeof(known_codes) / sizeof(known_codes[0]); i++)
        if (strcmp(code, known_codes[i].code) == 0)
            return (int)i;
    return -1;
}

const char *mock_reply_error_code_known(const char *code)
{
    int i = known_index(code);
    return i < 0 ? NULL : known_codes[i].code;
}

int mock_reply_error_for_code(struct gw_buf *out, const char *code)
{
    int i = known_index(code);
    if (i < 0 || gw_buf_append_str(out, "{\"error\":{\"message\":") != GW_BUF_OK ||
        mock_reply_json_str(out, known_codes[i].message) < 0)
        return -1;
    return ok(gw_buf_printf(out, ",\"type\":\"invalid_request_error\",\"param\":%s,\"code\":\"%s\"}}",
                            known_codes[i].param, known_codes[i].code));
}

int mock_reply_error_event(struct gw_buf *out)
{
    if (gw_buf_append_str(out, "data: ") != GW_BUF_OK ||
        mock_reply_error(out, 500, "The server had an error while processing your request.") < 0)
        return -1;
    return ok(gw_buf_append_str(out, "\n\n"));
}

int mock_reply_malformed_event(struct gw_buf *out, const struct mock_reply *r)
{
    return ok(gw_buf_printf(out, "data: {\"id\":\"chatcmpl-mock-%llu\",\"object\":\n\n", r->id));
}
