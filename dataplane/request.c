/* The request: its two state machines and the steps of SPEC 3.1 that join
 * admission (admit.c), the limiter, routing (router.h), the tries
 * (try.c), the relay (relay.c) and the answer (respond.c).
 * See request.h for the states and lifetime rules.
 *
 * Owns everything in struct dp_request: its config reference, bodies,
 * header lists, its try (through try.c), its relay and its continuation.
 *
 * Why one file of ~1100 lines: it is the two state machines and every
 * transition between them, which read best side by side (a transition of
 * one side often enters a state of the other; a stream's break enters a
 * continuation's try while the client side keeps answering). The
 * mechanics and rules each step needs live below it: admit.c, try.c and
 * try_policy.c (which failures do what), forward.c, relay.c,
 * stream_break.c, continuation.c, trylog.c, respond.c.
 * Runs on the request's worker thread only. */
#include "request.h"

#include "accesslog.h"
#include "bufbudget.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rules.h"
#include "forward.h"
#include "loop.h"
#include "metrics.h"
#include "models.h"
#include "reqid.h"
#include "respond.h"
#include "stream_break.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void pump_run(struct dp_loop *loop, void *arg);
static void pump(struct dp_request *r, unsigned bits);
static void start_stream(struct dp_request *r);
static void client_left(struct dp_request *r);
static void try_again(void *arg);

/* How the try reports (upstream.h): see "the upstream's reports" below. */
static int on_headers(void *arg, const struct dp_upstream_xfer *x);
static size_t on_data(void *arg, const char *data, size_t n);
static void on_done(void *arg, int result);

static const struct dp_upstream_cb upstream_cb = {on_headers, on_data, on_done};

static int64_t now_ms(const struct dp_request *r)
{
    return dp_loop_now_ms(r->env->loop);
}

/* ==== the two state machines ================================================
 *
 * Each side's state changes only in its setter, which logs and then runs the
 * on-enter action of the new state (a table, as curl's mstate()). */

static void set_upstream(struct dp_request *r, enum dp_upstream_state s);

/* Entering PARKED: suspend the connection (the client adapter then watches
 * the socket for hang-ups, MHD does not). */
static void enter_parked(struct dp_request *r)
{
    if (r->cctx)
        r->cops->suspend(r->cctx);
}

static const char *metric_model(const struct dp_request *r)
{
    return r->try.target && r->try.target->model ? r->try.target->model : r->adm.model;
}

/* modelmux_requests_total, once per request: when its status is decided
 * (so a scrape right after the response has it), or at the end for a
 * client that left before we answered (499). */
static void count_request(struct dp_request *r, int status)
{
    dp_metrics_request(r->env->metrics, r->adm.api ? r->adm.api->name : NULL, metric_model(r),
                       r->try.target ? r->try.target->endpoint->name : NULL, status);
}

/* Resumes the connection if suspended; the stream's reader, if any, is
 * called again. */
static void resume_client(struct dp_request *r)
{
    if (!r->cctx)
        return;
    dp_relay_resumed(&r->relay);
    r->cops->resume(r->cctx);
}

/* Entering ANSWERING (the response is queued): count it, resume. */
static void enter_answering(struct dp_request *r)
{
    if (r->status)
        count_request(r, r->status);
    resume_client(r);
}

/* Entering client DONE: nothing may reach the connection any more; the
 * upstream side ends too, unless the limiter's callback is still due (it
 * ends it). The pump frees the request once both sides are done. */
static void enter_client_done(struct dp_request *r)
{
    r->cctx = NULL;
    if (r->client_error && (r->upstream == DP_UPSTREAM_STREAMING || r->try.xfer.easy))
        gw_debug("request %s: client gone, cancelling the upstream", r->id);
    if (r->upstream != DP_UPSTREAM_ADMITTING)
        set_upstream(r, DP_UPSTREAM_DONE);
    pump(r, DP_PUMP_REAP);
}

/* Entering upstream DONE: stop the transfer, its deadline and a pending
 * pause before a repeat, if any. */
static void enter_upstream_done(struct dp_request *r)
{
    dp_try_stop(&r->try);
}

static void (*const client_enter[DP_CLIENT_STATES])(struct dp_request *) = {
    [DP_CLIENT_READING] = NULL,
    [DP_CLIENT_PARKED] = enter_parked,
    [DP_CLIENT_ANSWERING] = enter_answering,
    [DP_CLIENT_DONE] = enter_client_done,
};

static void (*const upstream_enter[DP_UPSTREAM_STATES])(struct dp_request *) = {
    [DP_UPSTREAM_DONE] = enter_upstream_done,
};

static void set_client(struct dp_request *r, enum dp_client_state s)
{
    if (r->client == s)
        return;
    gw_debug("request %s: client %s -> %s", r->id, dp_client_state_names[r->client],
             dp_client_state_names[s]);
    r->client = s;
    if (client_enter[s])
        client_enter[s](r);
}

static void set_upstream(struct dp_request *r, enum dp_upstream_state s)
{
    if (r->upstream == s)
        return;
    gw_debug("request %s: upstream %s -> %s", r->id, dp_upstream_state_names[r->upstream],
             dp_upstream_state_names[s]);
    r->upstream = s;
    if (upstream_enter[s])
        upstream_enter[s](r);
}

/* The upstream side has nothing more to do (the answer is decided). */
static void end_upstream(struct dp_request *r)
{
    if (r->upstream != DP_UPSTREAM_ADMITTING) /* the limiter's callback ends it */
        set_upstream(r, DP_UPSTREAM_DONE);
}

/* ==== creation and the end ================================================== */

struct dp_request *dp_request_new(struct dp_req_env *env, const struct dp_client_ops *ops,
                                  void *ctx, const char *method, const char *url)
{
    struct dp_request *r = gw_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->path = gw_strdup(url ? url : "/");
    if (!r->path) {
        gw_free(r);
        return NULL;
    }
    r->env = env;
    r->cops = ops;
    r->cctx = ctx;
    r->client = DP_CLIENT_READING;
    r->upstream = DP_UPSTREAM_IDLE;
    r->start_ms = dp_loop_now_ms(env->loop);
    dp_try_init(&r->try, &upstream_cb, r, env->loop, try_again);
    dp_cont_init(&r->cont);
    r->usage.prompt = r->usage.completion = r->usage.total = -1;
    size_t mn = strnlen(method ? method : "", sizeof(r->method) - 1);
    memcpy(r->method, method ? method : "", mn);
    r->method[mn] = '\0';
    gw_buf_init(&r->body, DP_BODY_MAX);
    gw_buf_init(&r->send, DP_BODY_MAX + 64 * 1024);
    dp_reqid_make(r->id, ops->header(ctx, "x-request-id"), env->index, ++env->seq);
    struct dp_config *cfg = env->cb->config(env->owner);
    if (cfg)
        r->cfg = dp_config_ref(cfg);
    gw_list_push(&env->requests, &r->link);
    env->nrequests++;
    return r;
}

static int64_t usage_total(const struct dp_request *r)
{
    if (r->usage.total < 0 && r->usage.prompt >= 0 && r->usage.completion >= 0)
        return r->usage.prompt + r->usage.completion;
    return r->usage.total;
}

/* The response's token usage is final: counts it in the token metrics and
 * settles it with the limiter, once, before the client has the whole
 * response, so a request sent right after sees it. */
static void usage_final(struct dp_request *r)
{
    if (r->usage_settled)
        return;
    r->usage_settled = 1;
    if (r->usage.prompt < 0 && r->usage.completion < 0)
        return;
    const struct dp_api *api = r->adm.api;
    dp_metrics_tokens(r->env->metrics, api ? api->name : NULL, metric_model(r), r->usage.prompt,
                      r->usage.completion);
    if (r->has_rl && !r->rl.limited)
        dp_rl_settle(r->env->rlw, api->ratelimit, api->id, r->adm.app_id, r->usage.prompt,
                     r->usage.completion, usage_total(r), gw_wall_ms());
}

/* What the client got: the status, or 499 when it left before any answer. */
static int final_status(const struct dp_request *r)
{
    return r->client_gone || !r->status ? 499 : r->status;
}

/* ==== tries ================================================================== */

static void log_try(struct dp_request *r, enum dp_try_outcome o, int64_t ms)
{
    const struct dp_target *t = r->try.target;
    const char *model = t->model ? t->model : r->adm.model;
    dp_trylog_add(&r->tries, model, t->endpoint->name, o, ms);
    dp_metrics_try(r->env->metrics, r->adm.api ? r->adm.api->name : NULL, model,
                   t->endpoint->name, dp_try_outcome_names[o]);
}

/* The current try ended with outcome o: the access log's tries and
 * modelmux_tries_total. */
static void record_try(struct dp_request *r, enum dp_try_outcome o)
{
    if (!r->try_open || !r->try.target)
        return;
    r->try_open = 0;
    log_try(r, o, now_ms(r) - r->try.began_ms);
}

/* curl re-sent the request on a fresh connection after a reused one was
 * reset (upstream.h, sends): every send is a try, counted in the attempts
 * header and listed as repeated. */
static void count_resends(struct dp_request *r)
{
    for (int n = dp_try_resends(&r->try); n > 0; n--) {
        r->route.attempts++;
        log_try(r, DP_TRYO_RETRIED, 0);
    }
}

/* A stream the client left or the upstream broke before its usage came:
 * the usage seen so far, else the estimate, so token limits are charged. */
static void abandoned_usage(struct dp_request *r)
{
    if (r->usage_settled || !r->relay.active || !r->relay.committed)
        return;
    if (!(r->client_error || r->stream_broken) || r->usage.prompt >= 0 ||
        r->usage.completion >= 0)
        return;
    if (dp_relay_usage(&r->relay, &r->usage))
        return;
    dp_stream_usage_estimate(r->body.len, r->relay.scan.content_bytes, &r->usage);
    r->usage_estimated = 1;
}

static void finish_accounting(struct dp_request *r)
{
    if (!r->status) /* not counted when answered: the client left first */
        count_request(r, final_status(r));
    record_try(r, r->relay.committed ? DP_TRYO_OK : DP_TRYO_FAILED); /* cut short */
    abandoned_usage(r);
    usage_final(r);
    const struct dp_target *t = r->try.target;
    struct dp_access a = {
        .wall_ms = gw_wall_ms(),
        .id = r->id,
        .method = r->method,
        .path = r->path,
        .api = r->adm.api ? r->adm.api->name : NULL,
        .requested_model = r->adm.model,
        .model = metric_model(r),
        .endpoint = t ? t->endpoint->name : NULL,
        .status = final_status(r),
        .attempts = r->route.attempts,
        .duration_ms = now_ms(r) - r->start_ms,
        .prompt_tokens = r->usage.prompt,
        .completion_tokens = r->usage.completion,
        .total_tokens = usage_total(r),
        .client_aborted = r->client_error && !r->stream_broken,
        .stream_error = r->stream_broken,
        .tokens_estimated = r->usage_estimated,
        .tries = &r->tries,
        .tls_error = r->try.last.tls_error[0] ? r->try.last.tls_error : NULL,
    };
    dp_accesslog_add(r->env->alog, &a);
}

static void unlink_request(struct dp_request *r)
{
    gw_list_remove(&r->link);
    r->env->nrequests--;
}

static void request_free(struct dp_request *r)
{
    unlink_request(r);
    dp_admission_cleanup(&r->adm);
    dp_relay_cleanup(&r->relay);
    gw_buf_cleanup(&r->body);
    gw_buf_cleanup(&r->send);
    dp_try_cleanup(&r->try);
    dp_cont_cleanup(&r->cont);
    curl_slist_free_all(r->fwd_headers);
    gw_free(r->query);
    gw_free(r->path);
    dp_config_unref(r->cfg);
    gw_free(r);
}

/* Frees r when both sides are done and no pump is queued (from the pump
 * only: never inside a callback of the request's own objects). */
static void maybe_free(struct dp_request *r)
{
    if (r->client != DP_CLIENT_DONE || r->upstream != DP_UPSTREAM_DONE || r->pump_scheduled)
        return;
    finish_accounting(r);
    request_free(r);
}

void dp_request_drop(struct dp_request *r)
{
    dp_try_stop(&r->try);
    unlink_request(r);
}

/* ==== answers =============================================================== */

/* Queues rep (its body is taken or freed) and enters ANSWERING. Returns 0,
 * or -1 when the response could not be built (nothing queued). A request
 * that answered already or whose client is gone drops rep. Never called
 * from inside a curl callback. */
static void end_broken(struct dp_request *r, const char *message);

static int answer(struct dp_request *r, struct dp_reply *rep)
{
    if (r->client == DP_CLIENT_ANSWERING || r->client == DP_CLIENT_DONE || !r->cctx) {
        dp_reply_cleanup(rep);
        if (r->cont.phase != DP_CONT_OFF && !r->relay.upstream_done)
            end_broken(r, r->cont.reason); /* a continuation's own answer never goes out */
        return 0;
    }
    dp_reply_common(rep, r->id, r->commit_target ? r->commit_target : r->try.target,
                    r->commit_target ? r->commit_attempts : r->route.attempts,
                    r->has_rl ? &r->rl : NULL);
    if (r->cops->answer(r->cctx, rep) != 0) {
        dp_reply_cleanup(rep);
        return -1;
    }
    dp_reply_cleanup(rep);
    if (!r->client_gone)
        r->status = rep->status;
    set_client(r, DP_CLIENT_ANSWERING);
    if (!rep->stream)
        end_upstream(r);
    return 0;
}

/* Answers with the OpenAI error shape. */
static void respond_error(struct dp_request *r, int status, const char *code, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

static void respond_error(struct dp_request *r, int status, const char *code, const char *fmt,
                          ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct dp_reply rep;
    dp_reply_init(&rep, status);
    dp_reply_error(&rep, status, code, msg);
    if (rep.status == 429 && r->try.last.retry_after[0]) /* set by the limiter's refusal */
        dp_reply_header(&rep, "Retry-After", r->try.last.retry_after);
    if (answer(r, &rep) != 0)
        end_upstream(r); /* nothing can be sent: MHD's end frees the request */
}

static void respond_refusal(struct dp_request *r, const struct dp_refusal *why)
{
    respond_error(r, why->status, why->code, "%s", why->message);
}

/* GET .../models: answered from the snapshot (models.h), never upstream. */
static void respond_models(struct dp_request *r)
{
    struct gw_buf b;
    struct dp_reply rep;
    gw_buf_init(&b, DP_MODELS_BODY_MAX);
    dp_reply_init(&rep, 200);
    if (dp_models_list(r->cfg, r->adm.api, r->adm.env, &b) == 0) {
        rep.len = b.len;
        rep.body = gw_buf_take(&b);
    }
    gw_buf_cleanup(&b);
    if (!rep.body) {
        respond_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    dp_reply_header(&rep, "Content-Type", "application/json");
    if (answer(r, &rep) != 0)
        respond_error(r, 503, "out_of_memory", "out of memory");
}

/* The upstream response held in r->last goes back as it is. */
static void respond_upstream(struct dp_request *r)
{
    struct dp_reply rep;
    dp_reply_init(&rep, r->try.last.status);
    rep.body = dp_try_body_take(&r->try, &rep.len, &rep.held);
    if (!rep.body)
        rep.len = 0;
    if (r->try.last.ctype[0])
        dp_reply_header(&rep, "Content-Type", r->try.last.ctype);
    if (r->try.last.retry_after[0] && !r->has_rl)
        dp_reply_header(&rep, "Retry-After", r->try.last.retry_after);
    if (answer(r, &rep) != 0)
        respond_error(r, 503, "out_of_memory", "out of memory");
}

/* ==== the deferred pump ===================================================== */

static void pump(struct dp_request *r, unsigned bits)
{
    r->pump |= bits;
    if (r->pump_scheduled)
        return;
    if (dp_loop_defer(r->env->loop, pump_run, r) == 0)
        r->pump_scheduled = 1;
    else
        gw_error("request %s: cannot defer (out of memory)", r->id);
}

/* The client socket reported a hang-up. Runs from the pump, so after MHD
 * had its turn at the socket in this iteration. */
static void handle_hangup(struct dp_request *r)
{
    if (r->cops->suspended(r->cctx)) {
        client_left(r); /* waiting for the limiter, the upstream or stream data */
        return;
    }
    if (r->client != DP_CLIENT_READING)
        return; /* MHD is writing our answer: a write error will end it */
    r->cops->reading_hangup(r->cctx);
}

static void pump_run(struct dp_loop *loop, void *arg)
{
    (void)loop;
    struct dp_request *r = arg;
    unsigned bits = r->pump;
    r->pump = 0;
    r->pump_scheduled = 0;
    if (r->cctx && (bits & DP_PUMP_HANGUP))
        handle_hangup(r);
    if (r->cctx) {
        if (bits & DP_PUMP_STREAM)
            start_stream(r);
        if ((bits & DP_PUMP_RESUME) && r->relay.reader_waiting)
            resume_client(r);
        /* May run the write callback, which may ask for another pump. */
        if (bits & DP_PUMP_UNPAUSE)
            dp_upstream_unpause(&r->try.xfer);
    }
    maybe_free(r);
}

void dp_request_hangup(struct dp_request *r)
{
    pump(r, DP_PUMP_HANGUP);
}

void dp_request_closed(struct dp_request *r, int error)
{
    if (error)
        r->client_error = 1;
    set_client(r, DP_CLIENT_DONE);
}

/* ==== step 1-2: receiving ================================================= */

static const char *client_header(void *ctx, const char *name)
{
    struct dp_request *r = ctx;
    return r->cops->header(r->cctx, name);
}

/* What admission reads of r (admit.h); everything borrowed from r. */
static void admit_in(struct dp_request *r, struct dp_admit_in *in)
{
    *in = (struct dp_admit_in){
        .cfg = r->cfg,
        .method = r->method,
        .path = r->path,
        .header = client_header,
        .ctx = r,
        .body = r->body.data,
        .body_len = r->body.len,
        .body_too_big = r->body_too_big,
        .now_s = gw_wall_s(),
        .jwt = r->env->jwt,
    };
}

void dp_request_refuse(struct dp_request *r, int status, const char *code, const char *message)
{
    struct dp_reply rep;
    dp_reply_init(&rep, status);
    dp_reply_error(&rep, status, code, message);
    dp_reply_header(&rep, "Connection", "close");
    if (answer(r, &rep) != 0)
        end_upstream(r);
}

void dp_request_headers(struct dp_request *r)
{
    const char *cl = r->cops->header(r->cctx, "Content-Length");
    unsigned long long n = 0;
    if (cl) {
        char *end;
        n = strtoull(cl, &end, 10);
        if (end != cl && n > DP_BODY_MAX)
            respond_error(r, 413, "body_too_large", "request body is over %d bytes",
                          DP_BODY_MAX);
    }
    if (r->client != DP_CLIENT_READING)
        return;
    /* Path, verb and key before any body is read (SPEC 3.1 step 7): an
     * unauthenticated caller never makes the worker hold its body. With a
     * body still to come, the connection is closed rather than read on. */
    struct dp_admit_in in;
    struct dp_refusal why;
    admit_in(r, &in);
    if (dp_admit_headers(&in, &r->adm, &why) == 0)
        return;
    if (n > 0 || r->cops->header(r->cctx, "Transfer-Encoding"))
        dp_request_refuse(r, why.status, why.code, why.message);
    else
        respond_refusal(r, &why);
}

void dp_request_body(struct dp_request *r, const char *data, size_t n)
{
    if (r->client != DP_CLIENT_READING || r->body_too_big)
        return;
    if (gw_buf_append(&r->body, data, n) != GW_BUF_OK)
        r->body_too_big = 1; /* the rest is read and dropped; 413 at the end */
}


/* Reads what the upstream request needs from the connection while it is
 * not suspended: the query string and the headers to forward. */
static int capture_forwarding(struct dp_request *r)
{
    return dp_fwd_collect(r->cops->each, r->cctx, &r->query, &r->fwd_headers);
}

/* ==== steps 4-5: routing and tries ========================================= */

static void start_try(struct dp_request *r, const struct dp_target *t)
{
    const struct gw_cfg_routing *rt = dp_route_routing(&r->route);
    struct dp_try_req q = {
        .method = r->method,
        .op = r->adm.op,
        .query = r->query,
        .fwd = r->fwd_headers,
        .id = r->id,
        .body =
            {
                .data = r->cont.has_json ? r->cont.body.data : r->body.data,
                .len = r->cont.has_json ? r->cont.body.len : r->body.len,
                .model = r->adm.model,
                .json = r->cont.has_json ? &r->cont.json
                                         : r->adm.has_json ? &r->adm.json : NULL,
                .multipart = r->adm.multipart,
                .content_type =
                    r->adm.multipart ? r->cops->header(r->cctx, "Content-Type") : NULL,
                .force_usage = r->adm.force_usage,
                .vendor = r->adm.api->vendor,
            },
        .send = &r->send,
        .header_ms =
            r->route.kind == DP_ROUTE_KIND_FAILOVER ? r->route.failover->request_timeout_ms : 0,
        .first_token_ms = rt->first_token_timeout_ms,
        .stream_idle_ms = rt->stream_idle_timeout_ms,
    };
    const struct dp_endpoint *ep = t->endpoint;
    switch (dp_try_start(&r->try, r->env->up, t, &q)) {
    case DP_TRY_STARTED:
        r->try_open = 1;
        set_upstream(r, DP_UPSTREAM_WAITING);
        return;
    case DP_TRY_MISSING_SECRET:
        respond_error(r, 502, "missing_secret",
                      "endpoint '%s' needs the secret '%s', which does not exist", ep->name,
                      ep->missing_secret);
        return;
    case DP_TRY_NO_MODEL:
        respond_error(r, 400, "missing_model",
                      "the request has no model, and endpoint '%s' takes it in its URL",
                      ep->name);
        return;
    case DP_TRY_BAD_MODEL: {
        struct gw_err err;
        gw_rule_path_segment(t->model, "the model", &err);
        respond_error(r, 400, "invalid_model", "%s (endpoint '%s' takes it in its URL)",
                      err.message, ep->name);
        return;
    }
    case DP_TRY_NOMEM:
    default:
        respond_error(r, 503, "out_of_memory", "cannot start the upstream request");
        return;
    }
}

static void answer_exhausted(struct dp_request *r, enum dp_route_end why)
{
    const struct dp_api *api = r->adm.api;
    if (r->cont.phase != DP_CONT_OFF) {
        end_broken(r, r->cont.reason); /* no target continued the stream */
        return;
    }
    switch (why) {
    case DP_ROUTE_ALL_SUSPENDED:
        respond_error(r, 503, "all_targets_suspended",
                      "every target of API '%s' is suspended; try again later", api->name);
        return;
    case DP_ROUTE_NO_ENDPOINT:
        respond_error(r, 503, "no_endpoint", "API '%s' has no %s endpoint", api->name,
                      r->adm.env == DP_ENV_SANDBOX ? "sandbox" : "production");
        return;
    default:
        break;
    }
    if (r->try.last.complete) {
        respond_upstream(r);
    } else if (r->try.last.fail == DP_OUTCOME_TIMEOUT) {
        respond_error(r, 504, "upstream_timeout", "the upstream did not answer in time");
    } else if (r->try.last.tls_error[0]) {
        respond_error(r, 502, "upstream_tls_error", "%s", r->try.last.tls_error);
    } else {
        respond_error(r, 502, "upstream_unreachable", "the upstream could not be reached");
    }
}

static void next_try(struct dp_request *r)
{
    enum dp_route_end why = DP_ROUTE_NONE;
    const struct dp_target *t = dp_route_next(&r->route, now_ms(r), &why);
    if (!t) {
        answer_exhausted(r, why);
        return;
    }
    start_try(r, t);
}

/* The pause before a same-target repeat is over (a loop timer). */
static void try_again(void *arg)
{
    struct dp_request *r = arg;
    if (r->upstream != DP_UPSTREAM_PAUSED)
        return;
    r->route.attempts++; /* every try before the headers went out counts */
    start_try(r, r->try.target);
}

/* A failed try is repeated on the same target after the pause armed. */
static void pause_try(struct dp_request *r)
{
    record_try(r, DP_TRYO_RETRIED);
    set_upstream(r, DP_UPSTREAM_PAUSED);
}

static void route_start(struct dp_request *r)
{
    struct gw_err err;
    gw_err_clear(&err);
    if (dp_route_begin(&r->route, r->adm.api, r->adm.env, r->adm.op->target, r->adm.model,
                       &err) != 0) {
        respond_error(r, gw_err_http_status(err.kind), err.code[0] ? err.code : "invalid_request",
                      "%s", err.message[0] ? err.message : "invalid request");
        return;
    }
    next_try(r);
}

/* ==== step 3: rate limit ==================================================== */

static void on_admit(void *arg, const struct dp_rl_result *res)
{
    struct dp_request *r = arg;
    r->rl = *res;
    if (r->client == DP_CLIENT_ANSWERING || r->client == DP_CLIENT_DONE) {
        /* answered meanwhile (shutdown), or the client is gone */
        set_upstream(r, DP_UPSTREAM_DONE);
        if (r->client == DP_CLIENT_DONE)
            pump(r, DP_PUMP_REAP);
        return;
    }
    set_upstream(r, DP_UPSTREAM_IDLE);
    if (res->limited) {
        struct dp_refusal why;
        dp_metrics_ratelimited(r->env->metrics, r->adm.api->name);
        dp_admit_limited(r->adm.api, res, r->try.last.retry_after, &why);
        respond_refusal(r, &why);
        return;
    }
    route_start(r);
}

/* ==== the whole request ===================================================== */


void dp_request_run(struct dp_request *r)
{
    if (r->client != DP_CLIENT_READING)
        return; /* answered already (413 on Content-Length, or refused at the headers) */
    struct dp_admit_in in;
    struct dp_refusal why;
    admit_in(r, &in);
    /* The headers were admitted when they arrived (dp_request_headers),
     * unless the caller went straight to run. */
    if ((!r->adm.api && dp_admit_headers(&in, &r->adm, &why) != 0) ||
        dp_admit_body(&in, &r->adm, &why) != 0) {
        respond_refusal(r, &why);
        return;
    }
    if (r->adm.listing) {
        respond_models(r);
        return;
    }
    if (capture_forwarding(r) != 0) {
        respond_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    const struct dp_api *api = r->adm.api;
    if (api->ratelimit) {
        r->has_rl = 1;
        set_upstream(r, DP_UPSTREAM_ADMITTING);
        dp_rl_admit(r->env->rlw, api->ratelimit, api->id, r->adm.app_id, gw_wall_ms(), on_admit,
                    r);
    } else {
        route_start(r);
    }
    /* Waiting for the limiter or the upstream: park the connection. */
    if (r->client == DP_CLIENT_READING &&
        (r->upstream == DP_UPSTREAM_ADMITTING || r->upstream == DP_UPSTREAM_WAITING))
        set_client(r, DP_CLIENT_PARKED);
}

/* ==== the upstream's reports (upstream.h callbacks) ========================= */

static void relay_wake(void *arg)
{
    pump(arg, DP_PUMP_RESUME);
}

static void relay_unpause(void *arg)
{
    pump(arg, DP_PUMP_UNPAUSE);
}

static void relay_park(void *arg)
{
    struct dp_request *r = arg;
    if (r->cctx)
        r->cops->suspend(r->cctx);
}

static void relay_end(void *arg, const struct dp_usage *u)
{
    struct dp_request *r = arg;
    if (u)
        r->usage = *u;
    else
        abandoned_usage(r); /* a broken stream is charged too */
    usage_final(r); /* before the client has the end of the stream */
}

/* The stream's first event is ready: it is the answer now (headers go out
 * with it, from the pump). Inside curl's write callback. */
static void relay_first(void *arg)
{
    struct dp_request *r = arg;
    r->commit_target = r->try.target;
    r->commit_attempts = r->route.attempts;
    dp_try_first_event(&r->try);
    dp_metrics_ttft(r->env->metrics, r->adm.api->name, metric_model(r), now_ms(r) - r->start_ms);
    pump(r, DP_PUMP_STREAM);
}

static const struct dp_relay_cb relay_cb = {relay_wake, relay_unpause, relay_park, relay_end,
                                            relay_first};

/* Inside curl's header callback: no multi calls. */
static int on_headers(void *arg, const struct dp_upstream_xfer *x)
{
    struct dp_request *r = arg;
    if (r->client == DP_CLIENT_DONE || r->upstream != DP_UPSTREAM_WAITING)
        return -1;
    int may_stream = r->adm.has_json && r->adm.json.stream;
    count_resends(r);
    switch (dp_try_headers(&r->try, x, &r->route, now_ms(r), may_stream)) {
    case DP_TRY_DISCARD:
        set_upstream(r, DP_UPSTREAM_DISCARDING);
        return 0;
    case DP_TRY_STREAM: {
        int sse = strncasecmp(x->content_type, "text/event-stream", 17) == 0;
        if (r->cont.phase != DP_CONT_OFF) {
            dp_relay_continue(&r->relay); /* the same stream for the client */
            dp_cont_attach(&r->cont, &r->relay.scan);
            dp_try_first_event(&r->try);
        } else {
            dp_relay_init(&r->relay, &relay_cb, r, r->adm.api->vendor, sse, r->adm.force_usage);
            dp_cont_watch(&r->cont, &r->relay.scan, dp_route_routing(&r->route)->midstream,
                          r->adm.op->target, sse);
        }
        set_upstream(r, DP_UPSTREAM_STREAMING); /* queued with the first event */
        return 0;
    }
    case DP_TRY_BUFFER:
    default:
        /* A continuation's own answer (a 400, say) never goes to the caller. */
        set_upstream(r, r->cont.phase != DP_CONT_OFF ? DP_UPSTREAM_DISCARDING
                                                     : DP_UPSTREAM_BUFFERING);
        return 0;
    }
}

/* Inside curl's write callback: no multi calls. */
static size_t on_data(void *arg, const char *data, size_t n)
{
    struct dp_request *r = arg;
    if (r->client == DP_CLIENT_DONE)
        return 0;
    dp_try_read(&r->try, now_ms(r));
    switch (r->upstream) {
    case DP_UPSTREAM_STREAMING: {
        size_t k = dp_relay_data(&r->relay, data, n);
        /* an error event, or a continuation not repeating the text, ends it */
        return r->relay.scan.error_event || r->cont.mismatch ? 0 : k;
    }
    case DP_UPSTREAM_BUFFERING:
        return dp_try_keep(&r->try, 0, data, n);
    case DP_UPSTREAM_DISCARDING:
        return dp_try_keep(&r->try, 1, data, n);
    default:
        return n;
    }
}

/* The stream's response: queued once the stream is decided, from the pump. */
static void start_stream(struct dp_request *r)
{
    if (r->client != DP_CLIENT_PARKED || !r->relay.active)
        return;
    struct dp_reply rep;
    dp_reply_init(&rep, r->try.last.status);
    rep.stream = &r->relay;
    dp_reply_header(&rep, "Content-Type", r->try.last.ctype[0] ? r->try.last.ctype : "text/event-stream");
    dp_reply_header(&rep, "Cache-Control", "no-cache");
    if (answer(r, &rep) != 0) {
        set_upstream(r, DP_UPSTREAM_DONE);
        respond_error(r, 503, "out_of_memory", "out of memory");
    }
}

/* The next target that would have been tried carries a broken stream on
 * (continuation.h) with the text sent so far; why: the first break's
 * reason. The current try, if still open, is logged as continued. Returns
 * 1 when the next try started (or was answered), 0 when there is no
 * target left or no continuation body could be built. */
static int continuation_next(struct dp_request *r, const char *why)
{
    enum dp_route_end end;
    const struct dp_target *t = dp_route_next(&r->route, now_ms(r), &end);
    if (!t || dp_cont_begin(&r->cont, &r->relay.scan, why, r->body.data, r->body.len,
                            r->adm.api->vendor->model_field) != 0)
        return 0;
    record_try(r, DP_TRYO_CONTINUED);
    start_try(r, t);
    return 1;
}

/* A try without response headers, or a stream before its first event,
 * failed (refused, reset, timed out). */
static void try_failed(struct dp_request *r, int result)
{
    gw_debug("request %s: try on %s failed: %s", r->id, r->try.target->endpoint->name,
             curl_easy_strerror((CURLcode)result));
    count_resends(r);
    enum dp_try_next n = dp_try_failed(&r->try, result, &r->route, now_ms(r));
    if (n == DP_TRY_AGAIN) {
        pause_try(r);
        return;
    }
    record_try(r, r->try.last.fail == DP_OUTCOME_TIMEOUT ? DP_TRYO_TIMEOUT : DP_TRYO_FAILED);
    if (n == DP_TRY_NEXT && r->cont.phase != DP_CONT_OFF) {
        if (!continuation_next(r, r->cont.reason)) /* with the text again */
            end_broken(r, r->cont.reason);
    } else if (n == DP_TRY_NEXT) {
        next_try(r);
    } else {
        answer_exhausted(r, DP_ROUTE_EXHAUSTED);
    }
}

/* A continuation's try was refused: a 400 to the message holding the text
 * is asked again without it; anything else moves to the next target. */
static void continuation_refused(struct dp_request *r)
{
    record_try(r, DP_TRYO_FAILED);
    if (r->try.last.status == 400 && r->cont.phase == DP_CONT_WITH_TEXT) {
        dp_cont_without_text(&r->cont);
        r->route.attempts++;
        start_try(r, r->try.target);
        return;
    }
    if (!continuation_next(r, r->cont.reason))
        end_broken(r, r->cont.reason);
}

/* A failed response was read whole (DISCARDING): the same target again
 * after a pause, or the next one. */
static void discarded_done(struct dp_request *r)
{
    r->try.last.complete = 1;
    if (r->try.again_ms >= 0 && dp_try_pause(&r->try, r->try.again_ms) == 0) {
        pause_try(r);
        return;
    }
    if (r->cont.phase != DP_CONT_OFF) {
        continuation_refused(r);
        return;
    }
    record_try(r, DP_TRYO_FAILED);
    next_try(r);
}

/* A response read whole was cut: over its cap, or over the worker's
 * budget (bufbudget.h). */
static void respond_over(struct dp_request *r)
{
    if (r->try.last.over == DP_TRY_OVER_BUDGET)
        respond_error(r, 503, "buffer_budget_exhausted",
                      "the data plane is holding as many upstream responses as its memory budget "
                      "allows (%zu bytes per worker, --buffer-budget); try again shortly",
                      dp_bufbudget_worker_budget());
    else
        respond_error(r, 502, "upstream_response_too_large",
                      "the upstream response is larger than %zu bytes (--max-response-bytes)",
                      dp_bufbudget_response_max());
}

/* The whole response was read (BUFFERING). */
static void buffered_done(struct dp_request *r, int result)
{
    if (result != CURLE_OK) {
        int timeout = result == CURLE_OPERATION_TIMEDOUT;
        record_try(r, timeout ? DP_TRYO_TIMEOUT : DP_TRYO_FAILED);
        dp_try_body_drop(&r->try);
        if (r->try.last.over != DP_TRY_OVER_NONE) {
            respond_over(r);
            return;
        }
        respond_error(r, timeout ? 504 : 502, timeout ? "upstream_timeout" : "upstream_error",
                      "the upstream response failed: %s", curl_easy_strerror((CURLcode)result));
        return;
    }
    if (dp_try_context_length(&r->try, &r->route, now_ms(r))) {
        record_try(r, DP_TRYO_FAILED); /* a larger model may take it */
        next_try(r);
        return;
    }
    record_try(r, DP_TRYO_OK);
    if (r->try.last.status >= 200 && r->try.last.status < 300 && r->try.last.body.len > 0)
        dp_usage_from_json(r->try.last.body.data, r->try.last.body.len, r->adm.api->vendor, &r->usage);
    usage_final(r);
    respond_upstream(r);
}

/* The stream ends with the stream_interrupted event and an unterminated
 * body (SPEC 3.1 step 6). */
static void end_broken(struct dp_request *r, const char *message)
{
    r->stream_broken = 1;
    dp_relay_usage(&r->relay, &r->usage);
    dp_relay_break(&r->relay, message);
    set_upstream(r, DP_UPSTREAM_DONE);
    start_stream(r); /* if the pump has not queued it yet */
}

/* midStreamFailover "continue": the next target that would have been
 * tried carries the stream on (continuation.h). Returns 1 when its try
 * started. */
static int continue_stream(struct dp_request *r, const char *why)
{
    return dp_cont_eligible(&r->cont, &r->relay.scan) && continuation_next(r, why);
}

/* The stream broke after its first event (cut, idle, upstream error
 * event): continued, or ended with the stream_interrupted event. */
static void stream_broke(struct dp_request *r, int result)
{
    int timeout = r->try.timed_out || result == CURLE_OPERATION_TIMEDOUT;
    const char *why = dp_stream_break_message(&r->relay.scan, timeout);
    gw_debug("request %s: the stream from %s broke: %s", r->id, r->try.target->endpoint->name,
             why);
    dp_metrics_stream_break(r->env->metrics, r->adm.api->name, r->try.target->endpoint->name);
    if (r->cont.mismatch)
        why = r->cont.reason; /* the refusal's answer did not repeat the text */
    else if (continue_stream(r, why))
        return;
    record_try(r, timeout ? DP_TRYO_TIMEOUT : DP_TRYO_FAILED);
    end_broken(r, r->cont.phase != DP_CONT_OFF ? r->cont.reason : why);
}

/* The streamed transfer ended. Before its first event it is a failed try
 * like any other (the client has nothing yet); after it, an error is a
 * break. */
static void stream_done(struct dp_request *r, int result)
{
    if (!r->relay.committed && result != CURLE_OK) {
        dp_relay_cleanup(&r->relay);
        try_failed(r, result);
        return;
    }
    if (result != CURLE_OK || r->relay.scan.error_event) {
        stream_broke(r, result);
        return;
    }
    record_try(r, DP_TRYO_OK);
    dp_relay_usage(&r->relay, &r->usage);
    dp_relay_upstream_done(&r->relay, 0);
    set_upstream(r, DP_UPSTREAM_DONE);
    start_stream(r); /* if the pump has not queued it yet */
}

/* After curl_multi_info_read (not a curl callback). */
static void on_done(void *arg, int result)
{
    struct dp_request *r = arg;
    dp_try_ended(&r->try);
    int64_t took = now_ms(r) - r->try.xfer.started_ms;
    r->upstream_ms += took;
    if (r->try.target)
        dp_metrics_upstream(r->env->metrics, r->try.target->endpoint->name, took);
    switch (r->upstream) {
    case DP_UPSTREAM_WAITING:
        try_failed(r, result);
        return;
    case DP_UPSTREAM_DISCARDING:
        discarded_done(r);
        return;
    case DP_UPSTREAM_BUFFERING:
        buffered_done(r, result);
        return;
    case DP_UPSTREAM_STREAMING:
        stream_done(r, result);
        return;
    default:
        return;
    }
}

/* ==== the client left, shutdown ============================================= */

/* The client hung up while its connection was suspended: stop the upstream
 * side and end the request as soon as possible (the access log and metrics
 * say 499). Shutting the socket down first makes MHD fail to send whatever
 * dp_request_abort queues, so MHD ends the request with an error at once. */
static void client_left(struct dp_request *r)
{
    gw_debug("request %s: the client left while %s/%s, cancelling", r->id,
             dp_client_state_names[r->client], dp_upstream_state_names[r->upstream]);
    if (r->client != DP_CLIENT_ANSWERING)
        r->client_gone = 1; /* no answer went out: 499, not what abort queues */
    r->client_error = 1;
    r->cops->abandon(r->cctx);
    dp_request_abort(r);
}

void dp_request_abort(struct dp_request *r)
{
    if (r->client == DP_CLIENT_DONE)
        return;
    if (r->upstream == DP_UPSTREAM_STREAMING && r->relay.committed) {
        if (!r->relay.upstream_done)
            dp_relay_upstream_done(&r->relay, 1);
        set_upstream(r, DP_UPSTREAM_DONE);
    } else if (r->upstream != DP_UPSTREAM_IDLE && r->upstream != DP_UPSTREAM_DONE) {
        /* a try in flight, a pause, the limiter, or a stream with nothing sent */
        dp_try_stop(&r->try);
        respond_error(r, 503, "shutting_down", "the data plane is shutting down");
    }
    start_stream(r); /* a stream decided but not queued yet */
    resume_client(r);
}
