/* Request and response bodies: reading and replacing the model, asking the
 * upstream for stream usage, finding token usage in responses and streams.
 *
 * Implemented by one file per job: body_json.c (JSON request bodies),
 * multipart.c (multipart/form-data), usage.c (usage in responses), sse.c
 * (the event-stream scanner).
 *
 * Pure functions over bytes (no I/O, no config state), used by the request
 * state machine; each request body is parsed once. */
#ifndef DP_BODY_H
#define DP_BODY_H

#include "common/buf.h"
#include "common/err.h"
#include "config.h"
#include "json_scan.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define DP_BODY_MAX (10 * 1024 * 1024) /* larger request bodies: 413 */
#define DP_JSON_MAX_DEPTH 64           /* deeper request JSON: 400 */
/* The largest JSON body jansson may parse when the scanner cannot read it
 * (json_scan.h: escapes in top-level keys or the model, numbers near the
 * limits, invalid text); a larger one gets 400 without a tree. */
#define DP_JSON_FALLBACK_MAX (256 * 1024)

#define DP_MODEL_MAX 1024 /* longest model name a request may carry */

/* Checks a model name taken from a request (JSON or multipart): at most
 * DP_MODEL_MAX bytes and no control characters (NUL, CR, LF...), since it
 * ends up in headers (x-modelmux-model) and URLs. 0 ok, -1 not. */
int dp_body_check_model(const char *m, size_t len);

/* A parsed JSON request body. */
struct dp_json_body {
    json_t *doc;       /* the object (owned) */
    const char *model; /* borrowed from doc: the model field, or NULL */
    int stream;        /* "stream": true */
    int include_usage; /* "stream_options": {"include_usage": true} */
    /* Set when the scanner (json_scan.h) read the body instead of jansson:
     * doc stays NULL until a render needs the tree. */
    int scanned;
    const char *src;          /* borrowed: the parsed bytes (see dp_body_parse_json) */
    size_t src_len;
    char *model_own;          /* owned: what model points to while there is no doc */
    struct dp_json_scan scan; /* where the members are in src */
};

/* Parses data as a JSON object (400 with err when it is not valid JSON, not
 * an object, or nested deeper than DP_JSON_MAX_DEPTH; the model field must be
 * a string when present, passing dp_body_check_model; a repeated key: the
 * last one counts; 400 too when the scanner cannot read a body over
 * DP_JSON_FALLBACK_MAX). model_field is the
 * vendor's requestModel.field. A plain body is only scanned, not turned into
 * a tree: out then borrows data, which must stay unchanged until
 * dp_body_json_cleanup (the request's body buffer does). */
int dp_body_parse_json(const char *data, size_t len, const char *model_field,
                       struct dp_json_body *out, struct gw_err *err);
void dp_body_json_cleanup(struct dp_json_body *b);

/* Writes the body to send upstream into out: the model field set to model
 * (when model is not NULL and the vendor takes the model in the body), and,
 * when force_usage, "stream_options": {"include_usage": true} added. Every
 * other field is kept: a scanned body keeps the caller's bytes around the
 * edited values (every model value of a repeated key; members added go
 * before the closing brace); otherwise the tree is written compact. Returns 0, or -1 (out of memory / too big). */
int dp_body_render_json(struct dp_json_body *b, const char *model_field, const char *model,
                        int force_usage, struct gw_buf *out);

/* multipart/form-data (audio transcriptions and translations).
 * Finds the "model" form field of body (boundary from the Content-Type).
 * *model / *model_len point into body. Returns 0 found, 1 absent, -1
 * malformed (err set; also a model failing dp_body_check_model). */
int dp_multipart_find_model(const char *body, size_t len, const char *content_type,
                            const char **model, size_t *model_len, struct gw_err *err);

/* Copies body to out with the "model" field's value replaced by model, every
 * other part byte for byte (a body without a model field is copied as it
 * is). Returns 0 or -1. */
int dp_multipart_replace_model(const char *body, size_t len, const char *content_type,
                               const char *model, struct gw_buf *out);

/* Token usage of one response. Values are -1 when unknown. */
struct dp_usage {
    int64_t prompt;
    int64_t completion;
    int64_t total;
};

/* Reads usage from a JSON response body at the vendor's dotted paths; a
 * count its path does not find is read at usage.input_tokens,
 * usage.output_tokens or usage.total_tokens (the Responses API's names). Returns 1 when found, 0
 * when not (usage left -1). */
int dp_usage_from_json(const char *data, size_t len, const struct dp_vendor *v,
                       struct dp_usage *usage);

/* The same from an already parsed response object (borrowed). v NULL means
 * OpenAI's paths (usage.prompt_tokens, ...). Returns 1 found, 0 not. */
int dp_usage_from_doc(json_t *doc, const struct dp_vendor *v, struct dp_usage *usage);

/* The same from one stream event's JSON (borrowed): a Responses API event
 * that ends the response (response.completed, .incomplete, .failed) holds
 * the usage in its "response" object; any other event is read as a
 * response object itself (a chat chunk). Returns 1 found, 0 not. */
int dp_usage_from_event(json_t *doc, const struct dp_vendor *v, struct dp_usage *usage);

/* 1 when the gateway may add "stream_options": {"include_usage": true} to a
 * streamed request of this operation target: only /chat/completions and
 * /completions take it (the Responses API always reports usage). */
int dp_usage_injectable(const char *target);

/* Incremental scanner over a server-sent-events stream, fed the upstream's
 * bytes as they arrive. It splits events (lines up to a blank line), and for
 * each "data: {json}" event reads the usage. When drop_usage_only is set
 * (the gateway asked for usage the caller did not), an event whose JSON has
 * usage and an empty "choices" array is dropped from the output. Memory is
 * bounded: a partial event is held only until its end (max 1 MiB; longer
 * events are passed through unparsed). */
struct dp_sse_scan {
    struct gw_buf pending;  /* bytes of an incomplete event */
    int drop_usage_only;
    const struct dp_vendor *vendor;
    struct dp_usage usage;  /* the last usage seen */
    int saw_usage;
    int passthrough;        /* an oversized event: forwarding raw until its end */
    size_t scan_pos;        /* bytes of pending already scanned for line ends */
    int line_empty;         /* the current line has no character yet */
    /* What a broken stream needs (SPEC 3.1 step 6), read from each JSON event: */
    int error_event;        /* an upstream error event ({"error": ...}) came: it is
                               not passed on, and nothing after it is */
    char error_msg[256];    /* its message, or "" */
    int64_t content_bytes;  /* bytes of answer text passed on (usage estimate) */
    int not_text;           /* a tool-call delta, several choices, or no chat chunk */
    struct gw_buf *text;    /* when set: the chat answer text passed on (continuation) */
    char id[128];           /* the first chunk's "id", or "" */
    /* When set, every JSON event passed on goes through edit (the doc is
     * borrowed, may be changed; NULL for the "[DONE]" marker): 1 appended by
     * edit to out, 0 drop the event, -1 pass it on unchanged, -2 out of
     * memory. */
    int (*edit)(void *arg, json_t *doc, struct gw_buf *out);
    void *edit_arg;
};

void dp_sse_scan_init(struct dp_sse_scan *s, const struct dp_vendor *v, int drop_usage_only);
void dp_sse_scan_cleanup(struct dp_sse_scan *s);

/* Feeds n bytes; appends to out what the caller must receive (complete
 * events, minus a dropped usage-only event; an incomplete tail is held
 * back). Returns 0 or -1 (out of memory). */
int dp_sse_scan_feed(struct dp_sse_scan *s, const char *data, size_t n, struct gw_buf *out);

/* At end of stream: appends whatever is still held. */
int dp_sse_scan_finish(struct dp_sse_scan *s, struct gw_buf *out);

#endif
