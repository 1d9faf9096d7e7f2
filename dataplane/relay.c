/* Streaming relay with backpressure (see relay.h).
 *
 * Owns the request's relay buffer and SSE scanner. Runs on the request's
 * worker thread: dp_relay_data inside curl's write callback, dp_relay_read
 * inside MHD_run, never both at once. Neither calls back into curl or
 * resumes MHD directly: they ask the request's deferred pump to do it. */
#include "relay.h"

#include "request.h"

#include <curl/curl.h>
#include <microhttpd.h>
#include <string.h>

void dp_relay_init(struct dp_relay *rl, const struct dp_vendor *v, int sse, int drop_usage_only)
{
    memset(rl, 0, sizeof(*rl));
    gw_buf_init(&rl->buf, DP_RELAY_MAX);
    rl->use_scan = sse;
    dp_sse_scan_init(&rl->scan, v, drop_usage_only);
}

void dp_relay_cleanup(struct dp_relay *rl)
{
    gw_buf_cleanup(&rl->buf);
    dp_sse_scan_cleanup(&rl->scan);
}

static void wake_reader(struct dp_request *r)
{
    if (r->relay.reader_waiting)
        dp_request_pump(r, DP_PUMP_RESUME);
}

size_t dp_relay_data(struct dp_request *r, const char *data, size_t n)
{
    struct dp_relay *rl = &r->relay;
    if (rl->buf.len >= DP_RELAY_HIGH) {
        /* The client is slower than the upstream: stop reading from it. curl
         * hands the same bytes again after the pump unpaused it. */
        rl->curl_paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    int rc = rl->use_scan ? dp_sse_scan_feed(&rl->scan, data, n, &rl->buf)
                          : (gw_buf_append(&rl->buf, data, n) == GW_BUF_OK ? 0 : -1);
    if (rc != 0)
        return 0; /* out of memory or over the cap: abort the transfer */
    wake_reader(r);
    return n;
}

void dp_relay_upstream_done(struct dp_request *r, int failed)
{
    struct dp_relay *rl = &r->relay;
    rl->upstream_done = 1;
    rl->upstream_failed = failed;
    rl->curl_paused = 0;
    if (rl->use_scan && rl->scan.saw_usage)
        r->usage = rl->scan.usage;
    wake_reader(r);
}

ssize_t dp_relay_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct dp_request *r = cls;
    struct dp_relay *rl = &r->relay;
    if (rl->buf.len == 0 && rl->upstream_done && !rl->finished) {
        rl->finished = 1;
        if (rl->use_scan && !rl->upstream_failed && dp_sse_scan_finish(&rl->scan, &rl->buf) != 0)
            rl->upstream_failed = 1;
        if (rl->use_scan && rl->scan.saw_usage)
            r->usage = rl->scan.usage;
        dp_request_usage_final(r); /* before the client has the end of the stream */
    }
    if (rl->buf.len > 0) {
        size_t n = rl->buf.len < max ? rl->buf.len : max;
        memcpy(buf, rl->buf.data, n);
        gw_buf_consume(&rl->buf, n);
        if (rl->curl_paused && rl->buf.len < DP_RELAY_LOW) {
            rl->curl_paused = 0;
            dp_request_pump(r, DP_PUMP_UNPAUSE);
        }
        return (ssize_t)n;
    }
    if (rl->upstream_done)
        return rl->upstream_failed ? MHD_CONTENT_READER_END_WITH_ERROR
                                   : MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send yet: park the connection until data arrives, so MHD
     * does not call us again in a busy loop. */
    if (rl->curl_paused) {
        rl->curl_paused = 0;
        dp_request_pump(r, DP_PUMP_UNPAUSE);
    }
    dp_request_suspend(r);
    rl->reader_waiting = 1;
    return 0;
}
