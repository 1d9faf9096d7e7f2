/* Test fixture for the request-path unit tests (test_dp_request.c,
 * test_dp_admit.c): the basic.json snapshot compiled, a request
 * environment as a worker has one (loop, curl multi, local rate limiter,
 * metrics shard), a fake client behind struct dp_client_ops and a fake
 * upstream that reports through the request's struct dp_upstream_cb.
 *
 * No socket is ever opened: the curl multi runs on a loop of its own that
 * the tests never run, so a started transfer only sits in the multi until
 * the fake upstream reports headers, data and its end (the end goes
 * through dp_upstream_finish, as the try's deadline does). */
#ifndef MM_DP_REQPATH_H
#define MM_DP_REQPATH_H

#include "common/alloc.h"
#include "dataplane/config.h"
#include "dataplane/loop.h"
#include "dataplane/metrics.h"
#include "dataplane/ratelimit.h"
#include "dataplane/request.h"
#include "dataplane/respond.h"
#include "dataplane/suspension.h"
#include "dataplane/upstream.h"
#include "dp_snapshot.h"

#include <microhttpd.h>
#include <strings.h>

/* ---- the config ------------------------------------------------------------ */

static struct dp_suspensions *fx_state;

/* basic.json after (path, JSON text) edits; NULL when it does not compile. */
static struct dp_config *fx_compile(const char *const *edits, size_t n)
{
    json_t *doc = snap_load("basic.json");
    for (size_t i = 0; i + 1 < n; i += 2) {
        json_error_t je;
        snap_edit(doc, edits[i], json_loads(edits[i + 1], JSON_DECODE_ANY, &je));
    }
    struct gw_err err;
    if (!fx_state)
        fx_state = dp_suspensions_new();
    struct dp_config *cfg = dp_config_compile(doc, fx_state, &err);
    if (!cfg)
        fprintf(stderr, "  compile: %s\n", err.message);
    json_decref(doc);
    return cfg;
}

/* ---- the fake client -------------------------------------------------------- */

struct fake_client {
    const char *hname[16], *hvalue[16]; /* the request's headers */
    int nh;
    const char *aname[8], *avalue[8]; /* its query arguments */
    int na;
    int suspended, suspends, resumes, abandoned, reading_hangups;
    int answers; /* responses queued */
    int status;
    char headers[4096]; /* "name: value\n" of the last response */
    char body[8192];
    size_t len;
    struct dp_relay *stream;
};

static void fake_header(struct fake_client *c, const char *name, const char *value)
{
    c->hname[c->nh] = name;
    c->hvalue[c->nh++] = value;
}

static const char *fc_header(void *ctx, const char *name)
{
    struct fake_client *c = ctx;
    for (int i = 0; i < c->nh; i++)
        if (strcasecmp(c->hname[i], name) == 0)
            return c->hvalue[i];
    return NULL;
}

static void fc_each(void *ctx, int headers, int (*fn)(void *, const char *, const char *),
                    void *arg)
{
    struct fake_client *c = ctx;
    int n = headers ? c->nh : c->na;
    for (int i = 0; i < n; i++)
        if (fn(arg, headers ? c->hname[i] : c->aname[i], headers ? c->hvalue[i] : c->avalue[i]) !=
            0)
            return;
}

static int fc_answer(void *ctx, struct dp_reply *rep)
{
    struct fake_client *c = ctx;
    c->answers++;
    c->status = rep->status;
    c->headers[0] = '\0';
    for (int i = 0; i < rep->nheaders; i++) {
        size_t k = strlen(c->headers);
        snprintf(c->headers + k, sizeof(c->headers) - k, "%s: %s\n", rep->name[i], rep->value[i]);
    }
    const char *b = rep->body ? rep->body : rep->fixed;
    c->len = b ? rep->len : 0;
    if (c->len >= sizeof(c->body))
        c->len = sizeof(c->body) - 1;
    memcpy(c->body, b ? b : "", c->len);
    c->body[c->len] = '\0';
    c->stream = rep->stream;
    gw_free(rep->body); /* taken, as MHD takes it */
    rep->body = NULL;
    return 0;
}

static void fc_suspend(void *ctx)
{
    struct fake_client *c = ctx;
    if (!c->suspended)
        c->suspends++;
    c->suspended = 1;
}

static void fc_resume(void *ctx)
{
    struct fake_client *c = ctx;
    if (c->suspended)
        c->resumes++;
    c->suspended = 0;
}

static int fc_suspended(void *ctx)
{
    return ((struct fake_client *)ctx)->suspended;
}

static void fc_reading_hangup(void *ctx)
{
    ((struct fake_client *)ctx)->reading_hangups++;
}

static void fc_abandon(void *ctx)
{
    ((struct fake_client *)ctx)->abandoned = 1;
}

static const struct dp_client_ops fake_ops = {fc_header,    fc_each,           fc_answer,
                                              fc_suspend,   fc_resume,         fc_suspended,
                                              fc_reading_hangup, fc_abandon};

/* The response header's value in c->headers ("" when absent). */
static const char *fake_got(const struct fake_client *c, const char *name)
{
    static char v[256];
    v[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = c->headers; *p; p = strchr(p, '\n') + 1) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            const char *e = strchr(p, '\n');
            snprintf(v, sizeof(v), "%.*s", (int)(e - p - n - 2), p + n + 2);
            break;
        }
    }
    return v;
}

/* ---- the environment --------------------------------------------------------- */

struct fixture {
    struct dp_config *cfg;
    struct dp_loop *loop;    /* the request's: pumps */
    struct dp_loop *up_loop; /* the multi's: never run (no sockets) */
    struct dp_rl *rl;
    struct dp_metrics *metrics;
    struct dp_req_env env;
};

static struct dp_config *fx_config(void *owner)
{
    return ((struct fixture *)owner)->cfg;
}

static const struct dp_req_env_cb fx_env_cb = {fx_config};

static void fx_open(struct fixture *f, struct dp_config *cfg)
{
    struct gw_err err;
    memset(f, 0, sizeof(*f));
    f->cfg = cfg;
    f->loop = dp_loop_new();
    f->up_loop = dp_loop_new();
    f->rl = dp_rl_new(NULL, &err);
    f->metrics = dp_metrics_new(1);
    f->env.loop = f->loop;
    f->env.up = dp_upstream_new(f->up_loop);
    f->env.rlw = dp_rl_worker_new(f->rl, f->loop);
    f->env.metrics = dp_metrics_shard(f->metrics, 0);
    f->env.cb = &fx_env_cb;
    f->env.owner = f;
    gw_list_init(&f->env.requests);
}

/* Runs the request loop's deferred calls (pumps, frees). */
static void fx_run(struct fixture *f)
{
    for (int i = 0; i < 3; i++)
        dp_loop_run_once(f->loop, 0);
}

static void fx_close(struct fixture *f)
{
    fx_run(f);
    while (!gw_list_empty(&f->env.requests))
        dp_request_drop(gw_list_entry(f->env.requests.next, struct dp_request, link));
    dp_rl_worker_free(f->env.rlw);
    dp_upstream_free(f->env.up);
    dp_loop_free(f->up_loop);
    dp_loop_free(f->loop);
    dp_metrics_free(f->metrics);
    dp_rl_free(f->rl);
    dp_config_unref(f->cfg);
    dp_suspensions_free(fx_state); /* suspensions do not carry over to the next test */
    fx_state = NULL;
}

/* A complete request as the listener makes one: new, headers, body, run. */
static struct dp_request *fx_request(struct fixture *f, struct fake_client *c, const char *method,
                                     const char *path, const char *body)
{
    struct dp_request *r = dp_request_new(&f->env, &fake_ops, c, method, path);
    dp_request_headers(r);
    if (body && *body)
        dp_request_body(r, body, strlen(body));
    dp_request_run(r);
    return r;
}

/* ---- the fake upstream --------------------------------------------------------- */

/* The try's final response headers, as upstream.c's header callback
 * reports them. Returns what the request answered (0 go on, -1 abort). */
static int fake_headers(struct dp_request *r, int status, const char *ctype)
{
    struct dp_upstream_xfer *x = &r->try.xfer;
    x->status = status;
    x->headers_done = 1;
    snprintf(x->content_type, sizeof(x->content_type), "%s", ctype);
    return x->cb->on_headers(x->arg, x);
}

static size_t fake_data(struct dp_request *r, const char *data)
{
    struct dp_upstream_xfer *x = &r->try.xfer;
    return x->cb->on_data(x->arg, data, strlen(data));
}

/* The transfer ends with result (a CURLcode). */
static void fake_end(struct dp_request *r, int result)
{
    dp_upstream_finish(&r->try.xfer, result);
}

#endif
