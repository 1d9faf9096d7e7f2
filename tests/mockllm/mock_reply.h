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

/* What a reply says. Strings are borrowed, valid UTF-8, NUL-terminated. */
struct mock_reply {
    enum mock_route route;   /* which operation's shape */
    const char *name;        /* the mock's --name */
    const char *model;       /* the model echoed */
    unsigned long long id;   /* makes "chatcmpl-mock-<id>" */
    long long created;       /* Unix seconds */
    long prompt_tokens;      /* usage.prompt_tokens */
    long completion_tokens;  /* usage.completion_tokens */
};

/* Appends s as a JSON string literal (quotes included, escaped). */
int mock_reply_json_str(struct gw_buf *out, const char *s);

/* The non-streaming body of r->route (MOCK_ROUTE_NONE is refused: -1). */
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

#endif
