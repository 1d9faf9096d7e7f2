/* Broken and abandoned streams (see stream_break.h). Pure. */
#include "stream_break.h"

const char *dp_stream_break_message(const struct dp_sse_scan *scan, int timed_out)
{
    if (scan && scan->error_event && scan->error_msg[0])
        return scan->error_msg;
    if (scan && scan->error_event)
        return "the upstream sent an error event";
    if (timed_out)
        return "the upstream stream stalled (no data within the idle timeout)";
    return "the upstream closed the stream before its end";
}

void dp_stream_usage_estimate(size_t body_len, int64_t content_bytes, struct dp_usage *out)
{
    out->prompt = (int64_t)(body_len / 4);
    out->completion = content_bytes > 0 ? content_bytes / 4 : 0;
    out->total = out->prompt + out->completion;
}
