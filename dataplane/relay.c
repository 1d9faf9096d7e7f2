/* Streaming relay with backpressure (see relay.h).
 *
 * Owns the relay buffer and SSE scanner of one stream. Runs on the owner's
 * worker thread: dp_relay_data inside curl's write callback, dp_relay_read
 * inside MHD_run, never both at once. Neither calls back into curl or
 * resumes MHD: they ask the owner (struct dp_relay_cb), which defers that
 * work to the loop. */
#include "relay.h"

#include "accesslog.h"

#include <curl/curl.h>
#include <microhttpd.h>
#include <string.h>

void dp_relay_init(struct dp_relay *rl, const struct dp_relay_cb *cb, void *arg,
                   const struct dp_vendor *v, int sse, int drop_usage_only)
{
    memset(rl, 0, sizeof(*rl));
    rl->cb = cb;
    rl->arg = arg;
    rl->active = 1;
    gw_buf_init(&rl->buf, DP_RELAY_MAX);
    rl->use_scan = sse;
    dp_sse_scan_init(&rl->scan, v, drop_usage_only);
}

void dp_relay_cleanup(struct dp_relay *rl)
{
    if (!rl->active)
        return;
    gw_buf_cleanup(&rl->buf);
    dp_sse_scan_cleanup(&rl->scan);
    rl->active = 0;
}

static void wake_reader(struct dp_relay *rl)
{
    if (rl->reader_waiting)
        rl->cb->wake(rl->arg);
}

static void ask_unpause(struct dp_relay *rl)
{
    rl->upstream_paused = 0;
    rl->cb->unpause(rl->arg);
}

size_t dp_relay_data(struct dp_relay *rl, const char *data, size_t n)
{
    if (rl->buf.len >= DP_RELAY_HIGH) {
        /* The client is slower than the upstream: stop reading from it. curl
         * hands the same bytes again once unpaused. */
        rl->upstream_paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    int rc = rl->use_scan ? dp_sse_scan_feed(&rl->scan, data, n, &rl->buf)
                          : (gw_buf_append(&rl->buf, data, n) == GW_BUF_OK ? 0 : -1);
    if (rc != 0)
        return 0; /* out of memory or over the cap: abort the transfer */
    if (rl->buf.len > 0 && !rl->committed) {
        rl->committed = 1;
        if (rl->cb->first)
            rl->cb->first(rl->arg);
    }
    wake_reader(rl);
    return n;
}

void dp_relay_continue(struct dp_relay *rl)
{
    struct dp_sse_scan old = rl->scan;
    gw_buf_cleanup(&old.pending);
    dp_sse_scan_init(&rl->scan, old.vendor, old.drop_usage_only);
    rl->scan.text = old.text;
    rl->scan.content_bytes = old.content_bytes;
    memcpy(rl->scan.id, old.id, sizeof(old.id));
    rl->upstream_done = rl->upstream_failed = rl->upstream_paused = 0;
}

int dp_relay_break(struct dp_relay *rl, const char *message)
{
    struct gw_buf ev;
    gw_buf_init(&ev, 4096);
    int rc = -1;
    if (gw_buf_append_str(&ev, "data: {\"error\": {\"message\": ") == GW_BUF_OK &&
        dp_json_str(&ev, message && *message ? message
                                             : "the upstream stream was interrupted") == 0 &&
        gw_buf_append_str(&ev, ", \"type\": \"upstream_error\", \"code\": "
                               "\"stream_interrupted\"}}\n\n") == GW_BUF_OK)
        rc = gw_buf_append(&rl->buf, ev.data, ev.len) == GW_BUF_OK ? 0 : -1;
    gw_buf_cleanup(&ev);
    if (rl->use_scan)
        gw_buf_reset(&rl->scan.pending); /* an unfinished event is not passed on */
    rl->broken = 1;
    rl->committed = 1;
    dp_relay_upstream_done(rl, 1);
    return rc;
}

void dp_relay_upstream_done(struct dp_relay *rl, int failed)
{
    rl->upstream_done = 1;
    rl->upstream_failed = failed;
    rl->upstream_paused = 0;
    wake_reader(rl);
}

int dp_relay_usage(const struct dp_relay *rl, struct dp_usage *out)
{
    if (!rl->use_scan || !rl->scan.saw_usage)
        return 0;
    *out = rl->scan.usage;
    return 1;
}

void dp_relay_resumed(struct dp_relay *rl)
{
    rl->reader_waiting = 0;
}

ssize_t dp_relay_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct dp_relay *rl = cls;
    if (rl->buf.len == 0 && rl->upstream_done && !rl->finished) {
        rl->finished = 1;
        if (rl->use_scan && !rl->upstream_failed && dp_sse_scan_finish(&rl->scan, &rl->buf) != 0)
            rl->upstream_failed = 1;
        struct dp_usage u;
        /* before the client has the end of the stream */
        rl->cb->end(rl->arg, dp_relay_usage(rl, &u) ? &u : NULL);
    }
    if (rl->buf.len > 0) {
        size_t n = rl->buf.len < max ? rl->buf.len : max;
        memcpy(buf, rl->buf.data, n);
        gw_buf_consume(&rl->buf, n);
        if (rl->upstream_paused && rl->buf.len < DP_RELAY_LOW)
            ask_unpause(rl);
        return (ssize_t)n;
    }
    if (rl->upstream_done)
        return rl->upstream_failed ? MHD_CONTENT_READER_END_WITH_ERROR
                                   : MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send yet: park the connection until data arrives, so MHD
     * does not call us again in a busy loop. */
    if (rl->upstream_paused)
        ask_unpause(rl);
    rl->cb->park(rl->arg);
    rl->reader_waiting = 1;
    return 0;
}
