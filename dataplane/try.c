/* One try of a request (see try.h). Owns the try's transfer (through
 * upstream.c) and the last response's buffer. Worker thread. */
#include "try.h"

#include "common/rules.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void dp_try_init(struct dp_try *t, const struct dp_upstream_cb *cb, void *arg)
{
    memset(t, 0, sizeof(*t));
    dp_upstream_xfer_init(&t->xfer, cb, arg);
    gw_buf_init(&t->last.body, DP_TRY_RESP_MAX);
    t->last.fail = -1;
}

void dp_try_cleanup(struct dp_try *t)
{
    dp_upstream_cancel(&t->xfer);
    gw_buf_cleanup(&t->last.body);
}

enum dp_try_start dp_try_start(struct dp_try *t, struct dp_upstream *up,
                               const struct dp_target *target, const struct dp_try_req *q)
{
    t->target = target;
    const struct dp_endpoint *ep = target->endpoint;
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
        .total_timeout_ms = ep->timeout_ms,
        .first_byte_ms = q->first_byte_ms,
    };
    int rc = dp_upstream_start(up, &t->xfer, &req);
    gw_buf_cleanup(&url); /* curl copied the URL */
    return rc == 0 ? DP_TRY_STARTED : DP_TRY_NOMEM;
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
    enum dp_verdict v = dp_route_report(route, t->target, &o, now_ms);
    struct dp_last *l = &t->last;
    l->status = x->status;
    snprintf(l->ctype, sizeof(l->ctype), "%s", x->content_type);
    snprintf(l->retry_after, sizeof(l->retry_after), "%s", x->retry_after);
    gw_buf_cleanup(&l->body);
    l->complete = 0;
    l->fail = -1;
    if (v == DP_VERDICT_RETRY) {
        l->body.max = DP_TRY_LAST_MAX;
        return DP_TRY_DISCARD;
    }
    l->body.max = DP_TRY_RESP_MAX;
    if (may_stream && x->status >= 200 && x->status < 300)
        return DP_TRY_STREAM;
    return DP_TRY_BUFFER;
}

size_t dp_try_keep(struct dp_try *t, int discard, const char *data, size_t n)
{
    struct gw_buf *b = &t->last.body;
    if (!discard)
        return gw_buf_append(b, data, n) == GW_BUF_OK ? n : 0;
    /* A failed try: keep what fits (the caller may get it as the last
     * upstream response), drop the rest. */
    if (b->len + n <= b->max)
        gw_buf_append(b, data, n);
    return n;
}

int dp_try_failed(struct dp_try *t, int result, struct dp_route *route, int64_t now_ms)
{
    int timeout = t->xfer.timed_out || result == CURLE_OPERATION_TIMEDOUT;
    struct dp_outcome o = {
        .kind = timeout ? DP_OUTCOME_TIMEOUT : DP_OUTCOME_CONNECT_ERROR,
        .status = 0,
        .retry_after_ms = -1,
        .remaining_zero = 0,
    };
    t->last.fail = o.kind;
    return dp_route_report(route, t->target, &o, now_ms) == DP_VERDICT_RETRY;
}
