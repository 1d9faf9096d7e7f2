/* Streaming relay: upstream bytes to the client as they arrive, with one
 * bounded buffer per request and backpressure both ways (h2o's
 * h2o_send/proceed).
 *
 *   curl write callback --dp_relay_data--> [ buf ] --dp_relay_read--> MHD
 *
 * - Upstream faster than the client: when buf holds DP_RELAY_HIGH bytes the
 *   write callback answers CURL_WRITEFUNC_PAUSE; once the reader drained it
 *   below DP_RELAY_LOW the request's deferred pump unpauses curl.
 * - Client faster than the upstream: the MHD content reader, finding buf
 *   empty, suspends the connection (MHD_suspend_connection, legal from a
 *   content reader) and returns 0; new data makes the pump resume it. A
 *   reader never returns 0 without suspending (that would busy-loop MHD).
 *
 * Server-sent events pass through the SSE scanner (body.h) so the usage of
 * the final chunk is seen, and the usage-only chunk we asked for on the
 * caller's behalf is dropped. Thread: the request's worker. */
#ifndef DP_RELAY_H
#define DP_RELAY_H

#include "body.h"
#include "common/buf.h"

#include <stddef.h>
#include <sys/types.h>

#define DP_RELAY_HIGH (64 * 1024) /* pause the upstream at this many bytes held */
#define DP_RELAY_LOW (16 * 1024)  /* ... and unpause below this */
#define DP_RELAY_MAX (4 * 1024 * 1024) /* hard cap (one SSE event may be 1 MiB) */

struct dp_request;

struct dp_relay {
    struct gw_buf buf;      /* bytes for the client, bounded */
    struct dp_sse_scan scan;
    int use_scan;           /* the response is text/event-stream */
    int upstream_done;      /* the transfer ended */
    int upstream_failed;    /* ... with an error: end the client side with one */
    int finished;           /* scanner tail flushed */
    int reader_waiting;     /* the reader suspended the connection for data */
    int curl_paused;
};

/* Prepares the relay of r (scanner when sse). */
void dp_relay_init(struct dp_relay *rl, const struct dp_vendor *v, int sse, int drop_usage_only);
void dp_relay_cleanup(struct dp_relay *rl);

/* The curl write callback's work: returns n, 0 (abort: out of memory) or
 * CURL_WRITEFUNC_PAUSE. */
size_t dp_relay_data(struct dp_request *r, const char *data, size_t n);

/* The transfer ended (failed: with an error); wakes the reader. */
void dp_relay_upstream_done(struct dp_request *r, int failed);

/* MHD content reader callback (cls = the request). */
ssize_t dp_relay_read(void *cls, uint64_t pos, char *buf, size_t max);

#endif
