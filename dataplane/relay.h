/* Streaming relay: upstream bytes to the client as they arrive, with one
 * bounded buffer per stream and backpressure both ways (h2o's
 * h2o_send/proceed).
 *
 *   upstream on-data --dp_relay_data--> [ buf ] --dp_relay_read--> MHD
 *
 * - Upstream faster than the client: when buf holds DP_RELAY_HIGH bytes the
 *   data call answers CURL_WRITEFUNC_PAUSE; once the reader drained it
 *   below DP_RELAY_LOW the relay asks its owner to unpause the upstream.
 * - Client faster than the upstream: the MHD content reader, finding buf
 *   empty, asks its owner to park (suspend) the connection and returns 0;
 *   new data makes the relay ask the owner to wake the reader. A reader
 *   never returns 0 without parking (that would busy-loop MHD).
 *
 * Server-sent events pass through the SSE scanner (body.h) so the usage of
 * the final chunk is seen, and the usage-only chunk we asked for on the
 * caller's behalf is dropped. An upstream error event is not relayed; the
 * owner sees it (scan.error_event) and breaks the stream (dp_relay_break):
 * the caller gets the `stream_interrupted` event and an unterminated body.
 *
 * The relay knows nothing of requests: it calls up only through struct
 * dp_relay_cb, and none of those calls may call back into the relay
 * synchronously except dp_relay_resumed. Thread: the owner's worker. */
#ifndef DP_RELAY_H
#define DP_RELAY_H

#include "body.h"
#include "common/buf.h"

#include <stddef.h>
#include <sys/types.h>

#define DP_RELAY_HIGH (64 * 1024) /* pause the upstream at this many bytes held */
#define DP_RELAY_LOW (16 * 1024)  /* ... and unpause below this */
#define DP_RELAY_MAX (4 * 1024 * 1024) /* hard cap (one SSE event may be 1 MiB) */

/* How the relay reaches its owner (arg). */
struct dp_relay_cb {
    /* The reader is parked and data (or the end) arrived: resume the
     * connection (later, from the loop: the owner calls dp_relay_resumed). */
    void (*wake)(void *arg);
    /* The upstream was paused and the buffer drained: unpause it (later,
     * from the loop: never from inside MHD's reader). */
    void (*unpause)(void *arg);
    /* The reader has nothing to send: suspend the connection now (MHD
     * allows it from a content reader). */
    void (*park)(void *arg);
    /* The stream's end reached the reader (before the client has it):
     * usage is the final usage seen, or NULL when none was. */
    void (*end)(void *arg, const struct dp_usage *usage);
    /* The first bytes for the client are ready (a stream commits late:
     * its headers go out with its first event, SPEC 3.1 step 6). Called
     * once, inside the upstream's write callback. May be NULL. */
    void (*first)(void *arg);
};

struct dp_relay {
    const struct dp_relay_cb *cb;
    void *arg;
    struct gw_buf buf;      /* bytes for the client, bounded */
    struct dp_sse_scan scan;
    int active;             /* initialised (a stream was decided) */
    int use_scan;           /* the response is text/event-stream */
    int upstream_done;      /* the transfer ended */
    int upstream_failed;    /* ... with an error: end the client side with one */
    int finished;           /* scanner tail flushed */
    int reader_waiting;     /* the reader parked the connection for data */
    int upstream_paused;    /* dp_relay_data answered PAUSE */
    int committed;          /* bytes for the client came: the stream is the answer */
    int broken;             /* ended with the stream_interrupted event (dp_relay_break) */
};

/* Prepares a relay (scanner when sse) reporting to cb with arg. */
void dp_relay_init(struct dp_relay *rl, const struct dp_relay_cb *cb, void *arg,
                   const struct dp_vendor *v, int sse, int drop_usage_only);

/* Frees its buffers; a relay never initialised (zeroed) is fine. */
void dp_relay_cleanup(struct dp_relay *rl);

/* Upstream body bytes: returns n, 0 (abort: out of memory or over the cap)
 * or CURL_WRITEFUNC_PAUSE. */
size_t dp_relay_data(struct dp_relay *rl, const char *data, size_t n);

/* The transfer ended (failed: with an error); wakes the reader. */
void dp_relay_upstream_done(struct dp_relay *rl, int failed);

/* Ends a broken stream: drops an unfinished event, appends the
 * `stream_interrupted` error event (message: the upstream's, or a default
 * when NULL or empty) and ends the client side with an error once it is
 * sent, so MHD closes the connection without the chunked terminator.
 * Returns 0, or -1 when the event could not be queued (out of memory; the
 * stream still ends with the error). */
int dp_relay_break(struct dp_relay *rl, const char *message);

/* Another upstream carries the stream on (continuation.h): the bytes the
 * client has not read yet stay, the scanner starts afresh (an unfinished
 * event of the broken upstream is dropped) keeping its text, content count
 * and id, and the upstream side is open again. */
void dp_relay_continue(struct dp_relay *rl);

/* The usage the scanner saw so far: 1 and *out set, or 0. */
int dp_relay_usage(const struct dp_relay *rl, struct dp_usage *out);

/* The owner resumed the connection: the reader is no longer waiting. */
void dp_relay_resumed(struct dp_relay *rl);

/* MHD content reader callback (cls = the relay). */
ssize_t dp_relay_read(void *cls, uint64_t pos, char *buf, size_t max);

#endif
