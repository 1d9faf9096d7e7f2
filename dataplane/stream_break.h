/* What a stream that breaks after its first event comes to (SPEC 3.1 step
 * 6): the message of its stream_interrupted event, and the usage charged
 * for a stream the client or the upstream abandoned before its usage
 * chunk (an estimate: prompt = request body bytes / 4, completion =
 * answer text bytes sent / 4). Pure; the request's worker thread. */
#ifndef DP_STREAM_BREAK_H
#define DP_STREAM_BREAK_H

#include "body.h"

#include <stddef.h>
#include <stdint.h>

/* Why the stream broke, for its stream_interrupted event: the upstream
 * error event's message when there was one (scan), else the idle deadline
 * (timed_out), else the cut. Borrowed from scan or static. */
const char *dp_stream_break_message(const struct dp_sse_scan *scan, int timed_out);

/* The estimate of an abandoned stream's usage. */
void dp_stream_usage_estimate(size_t body_len, int64_t content_bytes, struct dp_usage *out);

#endif
