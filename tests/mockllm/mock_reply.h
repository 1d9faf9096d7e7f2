/* Response bodies of the mock: the OpenAI-shaped JSON of each operation,
 * the SSE chunks of a stream, and the OpenAI error object.
 *
 * Every function appends to a caller-owned bounded gw_buf and returns 0, or
 * -1 when the buffer refused (too big or out of memory; the buffer is then
 * empty, see buf.h). No state of its own; any thread. */
#ifndef MOCK_REPLY_H
#define MOCK_REPLY_H

#include "common/limits.h"

#include "common/buf.h"
#include "mock_route.h"

/* The longest model name and mock name the mock accepts (bytes). */
#define MOCK_MODEL_MAX (4 * GW_NAME_MAX_CHARS) /* bytes: any model name the contract allows */
#define MOCK_NAME_MAX 64

/* The reply text "mock <what> from <name> for <model>" fits in this. */
#define MOCK_TEXT_MAX (MOCK_NAME_MAX + MOCK_MODEL_MAX + 64)

/* What a reply says. Strings are borrowed, valid UTF-8, NUL-terminated.
 * The fields after completion_tokens may be left 0 (their defaults). */
struct mock_reply {
    enum mock_route route;   /* which operation's shape */
    const char *name;        /* the mock's --name */
    const char *model;       /* the model echoed */
    unsigned long long id;   /* makes "chatcmpl-mock-<id>" */
    long long created;       /* Unix seconds */
    long prompt_tokens;      /* usage.prompt_tokens (input_tokens) */
    long completion_tokens;  /* usage.completion_tokens (output_tokens) */
    long inputs;             /* embeddings: vectors to return (0: 1) */
    long dimensions;         /* embeddings: values per vector (0: MOCK_EMBED_DIMS) */
    int base64;              /* embeddings: encoding_format "base64" */
    long images;             /* images: how many (0: 1) */
    int b64_json;            /* images: response_format "b64_json" */
    const char *text;        /* the answer text; NULL: "mock reply from <name> for <model>" */
    size_t skip;             /* bytes of the answer already given (continuation) */
};

/* Appends s as a JSON string literal (quotes included, escaped). */
int mock_reply_json_str(struct gw_buf *out, const char *s);

/* "mock <what> from <name> for <model>" into out. */
void mock_reply_text(const struct mock_reply *r, const char *what, char out[MOCK_TEXT_MAX]);

/* The answer text of chat, completions and the Responses API: r->text or
 * "mock reply from <name> for <model>", without its first r->skip bytes
 * (skip is clamped to the text and must fall on a UTF-8 boundary). */
void mock_reply_answer(const struct mock_reply *r, char out[MOCK_TEXT_MAX]);

/* Piece i (0-based) of n of the answer text (mock_reply_answer),
 * split evenly on UTF-8 boundaries, into out. Returns 0, or -1 when not
 * 0 <= i < n. */
int mock_reply_piece(const struct mock_reply *r, int i, int n, char out[MOCK_TEXT_MAX]);

/* "model":"<model>" (no braces or commas around). */
int mock_reply_model_field(struct gw_buf *out, const struct mock_reply *r);

/* The non-streaming body of r->route (MOCK_ROUTE_NONE is refused: -1).
 * Embeddings and the Responses API are written by mock_embed.c and
 * mock_responses.c. */
int mock_reply_body(struct gw_buf *out, const struct mock_reply *r);

/* "data: {chunk}\n\n" for content chunk i (0-based) of n of a chat or
 * completions stream. The text "mock reply from <name> for <model>" is split
 * over the n chunks (on UTF-8 boundaries); the first chat chunk carries the
 * role, the last one finish_reason "stop". With include_usage every chunk has
 * "usage": null, as OpenAI does. */
int mock_reply_chunk(struct gw_buf *out, const struct mock_reply *r, int i, int n,
                     int include_usage);

/* "data: {...}\n\n" with "choices": [] and the usage, the last chunk of a
 * stream asked with stream_options.include_usage. */
int mock_reply_usage_chunk(struct gw_buf *out, const struct mock_reply *r);

/* The stream terminator. */
#define MOCK_REPLY_DONE "data: [DONE]\n\n"

/* {"error": {"message": message, "type": <by status>, "code": <by status>}}
 * (param null). */
int mock_reply_error(struct gw_buf *out, int status, const char *message);

/* The static copy of code when it is an error code the mock can send as
 * OpenAI does ("context_length_exceeded", "content_policy_violation"),
 * else NULL. */
const char *mock_reply_error_code_known(const char *code);

/* OpenAI's 400 body for a known code (message, type, param and code as
 * OpenAI sends them). -1 for an unknown code. */
int mock_reply_error_for_code(struct gw_buf *out, const char *code);

/* "data: {"error": {...}}\n\n": the error event OpenAI sends mid-stream
 * (type "server_error"). */
int mock_reply_error_event(struct gw_buf *out);

/* "data: {"id":"chatcmpl-mock-<id>","object":\n\n": an event whose data
 * is not JSON. */
int mock_reply_malformed_event(struct gw_buf *out, const struct mock_reply *r);

#endif
