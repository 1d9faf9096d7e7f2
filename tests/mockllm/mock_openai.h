/* The OpenAI routes of the mock: POST .../chat/completions, .../completions,
 * .../responses, .../embeddings, .../images/generations,
 * .../audio/transcriptions, .../audio/translations under any prefix.
 *
 * For each request: find the model (Azure deployment path segment, else the
 * JSON body's "model", else the multipart "model" field), record the
 * request, apply the first matching fault rule (delay, reset, status, extra
 * headers, token counts, raw body), then answer the operation's JSON or an
 * SSE stream (chat and completions chunks, or the Responses API's events)
 * produced one piece at a time by a content reader that suspends between
 * chunks. Runs on MHD worker threads. */
#ifndef MOCK_OPENAI_H
#define MOCK_OPENAI_H

#include "mock_server.h"

/* Default usage and stream length (overridable per rule). */
#define MOCK_DEFAULT_PROMPT_TOKENS 10
#define MOCK_DEFAULT_COMPLETION_TOKENS 20
#define MOCK_DEFAULT_CHUNKS 5

/* Handles a fully received request (may be called again after a delay
 * resumes it). Returns what MHD's access handler returns. */
enum MHD_Result mock_openai_handle(struct mock_req *req, const char *url, const char *method);

/* Frees the OpenAI-route state of req (stream, rule reference). */
void mock_openai_cleanup(struct mock_req *req);

#endif
