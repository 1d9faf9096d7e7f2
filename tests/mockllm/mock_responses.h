/* The mock's Responses API (POST .../responses): the response object, and
 * the event sequence of a stream as OpenAI sends it -
 *
 *   response.created, response.in_progress, response.output_item.added,
 *   response.content_part.added, response.output_text.delta (one per
 *   content chunk), response.output_text.done, response.content_part.done,
 *   response.output_item.done, response.completed (with the usage)
 *
 * each as "event: <type>\ndata: {"type": <type>, "sequence_number": N,
 * ...}\n\n", and no "[DONE]" (the Responses API has none). The text is the
 * chat reply's, "mock reply from <name> for <model>", split as chat chunks
 * split it. Usage uses the Responses API's names (input_tokens,
 * output_tokens, total_tokens). Every function appends to a caller-owned
 * bounded buffer and returns 0, or -1 when it refused. Pure; any thread. */
#ifndef MOCK_RESPONSES_H
#define MOCK_RESPONSES_H

#include "common/buf.h"
#include "mock_reply.h"

/* The completed response object (the non-streaming reply). */
int mock_responses_body(struct gw_buf *out, const struct mock_reply *r);

/* The four events before the text: created, in_progress,
 * output_item.added, content_part.added. */
int mock_responses_head(struct gw_buf *out, const struct mock_reply *r);

/* The output_text.delta event of piece i of n (0 <= i < n). */
int mock_responses_delta(struct gw_buf *out, const struct mock_reply *r, int i, int n);

/* The four events after n deltas: output_text.done, content_part.done,
 * output_item.done, completed. */
int mock_responses_tail(struct gw_buf *out, const struct mock_reply *r, int n);

#endif
