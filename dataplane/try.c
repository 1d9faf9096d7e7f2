/* One try of a request (see try.h). Owns the try's transfer (through
 * upstream.c), its deadline and pause timers, and the last response's
 * buffer. Worker thread. */
#include "try.h"

#include "bufbudget.h"
#include "common/alloc.h"
#include "common/rules.h"
#include "loop.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void dp_try_init(struct dp_try *t, const struct dp_upstream_cb *cb, void *arg,
                 struct dp_loop *loop, void (*again)(void *arg))
{
    memset(t, 0, sizeof(*t));
    dp_upstream_xfer_init(&t->xfer, cb, arg);
    gw_buf_init(&t->last.body, dp_bufbudget_response_max());
    t->last.fail = -1;
    t->loop = loop;
    t->again = again;
    t->arg = arg;
    t->again_ms = -1;
}

static void cancel_timer(struct dp_try *t, struct dp_timer **tm)
{
    if (*tm) {
        dp_loop_timer_cancel(t->loop, *tm);
        *tm = NULL;
    }
}

void dp_try_ended(struct dp_try *t)
{
    cancel_timer(t, &t->watch);
}

void dp_try_stop(struct dp_try *t)
{
    dp_upstream_cancel(&t->xfer);
    cancel_timer(t, &t->watch);
    cancel_timer(t, &t->pause);
}

void dp_try_cleanup(struct dp_try *t)
{
    dp_try_stop(t);
    dp_try_body_drop(t);
}

void dp_try_body_drop(struct dp_try *t)
{
    gw_buf_cleanup(&t->last.body);
    dp_bufbudget_give(&t->held);
}

char *dp_try_body_take(struct dp_try *t, size_t *len, size_t *held)
{
    *len = t->last.body.len;
    *held = t->held;
    t->held = 0;
    return gw_buf_take(&t->last.body);
}

/* ---- deadlines ---------------------------------------------------------------- */

/* When the running transfer's current deadline is (monotonic ms). */
static int64_t deadline(const struct dp_try *t)
{
    if (!t->xfer.headers_done)
        return t->xfer.started_ms + t->header_ms;
    if (t->streaming && !t->first_event && t->first_token_ms > 0)
        return t->headers_at_ms + t->first_token_ms;
    int64_t idle = t->streaming && t->first_event && t->stream_idle_ms > 0 ? t->stream_idle_ms
                                                                          : t->idle_ms;
    return t->last_read_ms + idle;
}

static void on_watch(struct dp_loop *loop, void *arg);

static void arm_watch(struct dp_try *t, int64_t now_ms)
{
    t->watch_due = deadline(t);
    int64_t d = t->watch_due - now_ms;
    t->watch = dp_loop_timer_add(t->loop, d > 0 ? d : 0, on_watch, t);
}

/* Deadlines move with every read: rather than re-arm the timer per read,
 * the timer looks again when it fires and sleeps on if bytes came. */
static void on_watch(struct dp_loop *loop, void *arg)
{
    struct dp_try *t = arg;
    t->watch = NULL;
    if (!t->xfer.easy)
        return;
    int64_t now = dp_loop_now_ms(loop);
    if (t->xfer.paused)
        t->last_read_ms = now; /* we stopped reading (slow client): not idle */
    if (now < deadline(t)) {
        arm_watch(t, now);
        return;
    }
    t->timed_out = 1;
    /* Not a curl callback: the owner learns about it as an end of transfer. */
    dp_upstream_finish(&t->xfer, (int)CURLE_OPERATION_TIMEDOUT);
}

int dp_try_resends(struct dp_try *t)
{
    int n = t->xfer.sends - 1 - t->resends_seen;
    if (n <= 0)
        return 0;
    t->resends_seen += n;
    return n;
}

void dp_try_read(struct dp_try *t, int64_t now_ms)
{
    t->last_read_ms = now_ms;
}

/* The deadline may have moved earlier (a first-token or stream idle
 * deadline shorter than the one the watch sleeps on): arm it anew, else
 * leave it. Timer calls only: safe inside curl's callbacks. */
static void rearm_watch(struct dp_try *t, int64_t now_ms)
{
    if (!t->xfer.easy || (t->watch && deadline(t) >= t->watch_due))
        return; /* a later deadline: the watch looks again when it fires */
    cancel_timer(t, &t->watch);
    arm_watch(t, now_ms);
}

void dp_try_first_event(struct dp_try *t)
{
    t->first_event = 1;
    if (t->stream_idle_ms > 0)
        rearm_watch(t, t->last_read_ms);
}

static void on_pause_over(struct dp_loop *loop, void *arg)
{
    (void)loop;
    struct dp_try *t = arg;
    t->pause = NULL;
    t->again(t->arg);
}

int dp_try_pause(struct dp_try *t, int64_t ms)
{
    cancel_timer(t, &t->pause);
    t->pause = dp_loop_timer_add(t->loop, ms, on_pause_over, t);
    return t->pause ? 0 : -1;
}

enum dp_try_start dp_try_start(struct dp_try *t, struct dp_upstream *up,
                               const struct dp_target *target, const struct dp_try_req *q)
{
    if (t->target != target)
        memset(&t->again_st, 0, sizeof(t->again_st)); /* a new target: its own repeats */
    t->target = target;
    const struct dp_endpoint *ep = target->endpoint;
    int64_t now = dp_loop_now_ms(t->loop);
    t->idle_ms = ep->timeout_ms > 0 ? ep->timeout_ms : 600000;
    t->header_ms = q->header_ms > 0 ? q->header_ms : t->idle_ms;
    t->first_token_ms = q->first_token_ms;
    t->stream_idle_ms = q->stream_idle_ms;
    t->began_ms = now;
    t->headers_at_ms = t->last_read_ms = now;
    t->streaming = t->first_event = t->timed_out = t->resends_seen = 0;
    t->again_ms = -1;
    if (ep->missing_secret)
        return DP_TRY_MISSING_SECRET;
    if (ep->url_has_model && !target->model)
        return DP_TRY_NO_MODEL;
    struct gw_err err;
    if (ep->url_has_model && gw_rule_path_segment(target->model, "model", &err) != 0)
        return DP_TRY_BAD_MODEL;
    struct gw_buf url;
    gw_buf_init(&url, DP_FWD_URL_MAX);
    const char *body;
    size_t len;
    struct curl_slist *headers = NULL;
    if (dp_fwd_url(target, q->op, q->query, &url) != 0 ||
        dp_fwd_body(&q->body, target, q->send, &body, &len) != 0 ||
        !(headers = dp_fwd_headers(q->fwd, target, q->id))) {
        gw_buf_cleanup(&url);
        curl_slist_free_all(headers);
        return DP_TRY_NOMEM;
    }
    int with_body = strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0;
    struct dp_upstream_req req = {
        .url = url.data,
        .method = q->method,
        .body = with_body ? (body ? body : "") : NULL,
        .body_len = with_body ? len : 0,
        .headers = headers,
        .connect_timeout_ms = t->header_ms,
        .tls = ep->has_tls ? &ep->tls : NULL,
    };
    int rc = dp_upstream_start(up, &t->xfer, &req);
    gw_buf_cleanup(&url); /* curl copied the URL */
    if (rc != 0)
        return DP_TRY_NOMEM;
    cancel_timer(t, &t->watch);
    arm_watch(t, now);
    return DP_TRY_STARTED;
}

enum dp_try_verdict dp_try_headers(struct dp_try *t, const struct dp_upstream_xfer *x,
                                   struct dp_route *route, int64_t now_ms, int may_stream)
{
    struct dp_outcome o = {
        .kind = DP_OUTCOME_RESPONSE,
        .status = x->status,
        .retry_after_ms = x->retry_after_ms,
        .remaining_zero = x->remaining_zero,
    };
    t->headers_at_ms = t->last_read_ms = now_ms;
    t->again_ms = dp_again_after(dp_route_routing(route), &t->again_st, &o);
    enum dp_verdict v = t->again_ms >= 0 ? DP_VERDICT_RETRY
                                         : dp_route_report(route, t->target, &o, now_ms);
    struct dp_last *l = &t->last;
    l->status = x->status;
    snprintf(l->ctype, sizeof(l->ctype), "%s", x->content_type);
    snprintf(l->retry_after, sizeof(l->retry_after), "%s", x->retry_after);
    dp_try_body_drop(t);
    l->complete = 0;
    l->fail = -1;
    l->over = DP_TRY_OVER_NONE;
    l->tls_error[0] = '\0';
    if (v == DP_VERDICT_RETRY) {
        l->body.max = DP_TRY_LAST_MAX;
        return DP_TRY_DISCARD;
    }
    l->body.max = dp_bufbudget_response_max();
    if (may_stream && x->status >= 200 && x->status < 300) {
        t->streaming = 1;
        rearm_watch(t, now_ms); /* the first-token deadline */
        return DP_TRY_STREAM;
    }
    rearm_watch(t, now_ms); /* from the header deadline to the idle one */
    return DP_TRY_BUFFER;
}

int dp_try_context_length(struct dp_try *t, struct dp_route *route, int64_t now_ms)
{
    struct dp_last *l = &t->last;
    if (l->status != 400 || !dp_body_context_length(l->body.data, l->body.len))
        return 0;
    struct dp_outcome o = {
        .kind = DP_OUTCOME_RESPONSE,
        .status = 400,
        .retry_after_ms = -1,
        .context_length = 1,
    };
    if (dp_route_report(route, t->target, &o, now_ms) != DP_VERDICT_RETRY)
        return 0;
    l->complete = 1; /* the answer if every other target fails too */
    return 1;
}

size_t dp_try_keep(struct dp_try *t, int discard, const char *data, size_t n)
{
    struct gw_buf *b = &t->last.body;
    if (!discard) {
        if (b->len + n > b->max) {
            t->last.over = DP_TRY_OVER_CAP;
            return 0;
        }
        if (dp_bufbudget_charge(b, n, &t->held) != 0) {
            t->last.over = DP_TRY_OVER_BUDGET;
            dp_bufbudget_refused();
            return 0;
        }
        return gw_buf_append(b, data, n) == GW_BUF_OK ? n : 0;
    }
    /* A failed try: keep what fits in its cap and the budget (the caller
     * may get it as the last upstream response), drop the rest. */
    if (b->len + n <= b->max && dp_bufbudget_charge(b, n, &t->held) == 0)
        gw_buf_append(b, data, n);
    return n;
}

enum dp_try_next dp_try_failed(struct dp_try *t, int result, struct dp_route *route,
                               int64_t now_ms)
{
    int timeout = t->timed_out || result == CURLE_OPERATION_TIMEDOUT;
    struct dp_outcome o = {
        .kind = timeout ? DP_OUTCOME_TIMEOUT : DP_OUTCOME_CONNECT_ERROR,
        .status = 0,
        .retry_after_ms = -1,
        .remaining_zero = 0,
    };
    t->last.fail = o.kind;
    o.tls = dp_upstream_tls_reason(result, t->xfer.errbuf, t->last.tls_error,
                                   sizeof(t->last.tls_error));
    int64_t wait = dp_again_after(dp_route_routing(route), &t->again_st, &o);
    if (wait >= 0 && dp_try_pause(t, wait) == 0)
        return DP_TRY_AGAIN;
    return dp_route_report(route, t->target, &o, now_ms) == DP_VERDICT_RETRY ? DP_TRY_NEXT
                                                                             : DP_TRY_END;
}
