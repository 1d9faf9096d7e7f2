/* Unit tests of dataplane/router.c: direct routing, exact weighted shares
 * (one thread and several), 429 retries and suspension, all suspended,
 * Retry-After, remaining_zero, failover chains (failure rule, suspended
 * target start, exhaustion), model matching. */
#include "testhelp.h"

#include "dataplane/config.h"
#include "dataplane/router.h"
#include "dataplane/suspension.h"
#include "dp_snapshot.h"

#include <pthread.h>

#define NOW 1000000

static struct dp_suspensions *st;

/* Compiles basic.json after applying edits (path, JSON text) pairs. */
static struct dp_config *compile_edited(const char *const *edits, size_t n)
{
    json_t *doc = snap_load("basic.json");
    for (size_t i = 0; i + 1 < n; i += 2) {
        json_error_t je;
        snap_edit(doc, edits[i], json_loads(edits[i + 1], JSON_DECODE_ANY, &je));
    }
    struct gw_err err;
    st = dp_suspensions_new();
    struct dp_config *cfg = dp_config_compile(doc, st, &err);
    if (!cfg)
        fprintf(stderr, "  compile: %s\n", err.message);
    json_decref(doc);
    return cfg;
}

static struct dp_config *compile_plain(void)
{
    return compile_edited(NULL, 0);
}

static void done(struct dp_config *cfg)
{
    dp_config_unref(cfg);
    dp_suspensions_free(st);
    st = NULL;
}

static struct dp_outcome response(int status)
{
    return (struct dp_outcome){DP_OUTCOME_RESPONSE, status, -1, 0, 0, 0};
}

/* Routes one request and returns the index of the target it got in lb. */
static long pick(const struct dp_api *api, enum dp_env env, int64_t now, struct dp_route *r)
{
    enum dp_route_end why;
    struct gw_err err;
    if (dp_route_begin(r, api, env, NULL, "gpt-4o", &err) != 0)
        return -1;
    const struct dp_target *t = dp_route_next(r, now, &why);
    return t ? (long)(t - api->lb[env]->targets) : -1;
}

TEST("no policy: first endpoint of the environment, model unchanged, one try")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *az = &cfg->apis[2];
    struct dp_route r;
    struct gw_err err;
    enum dp_route_end why;
    const char *model = "my-model";
    CHECK_INT(dp_route_begin(&r, az, DP_ENV_PRODUCTION, NULL, model, &err), 0);
    CHECK_INT(r.kind, DP_ROUTE_KIND_DIRECT);
    const struct dp_target *t = dp_route_next(&r, NOW, &why);
    CHECK(t != NULL);
    CHECK(t->model == model);
    CHECK(t->endpoint == &az->endpoints[0]);
    CHECK_INT(why, DP_ROUTE_NONE);
    struct dp_outcome o = response(503);
    o.remaining_zero = 1;
    CHECK_INT(dp_route_report(&r, t, &o, NOW), DP_VERDICT_DONE);
    CHECK(dp_route_next(&r, NOW, &why) == NULL);
    CHECK_INT(why, DP_ROUTE_EXHAUSTED);

    /* No model at all is fine without a policy. */
    CHECK_INT(dp_route_begin(&r, az, DP_ENV_PRODUCTION, NULL, NULL, &err), 0);
    t = dp_route_next(&r, NOW, &why);
    CHECK(t != NULL && t->model == NULL);

    /* No sandbox endpoint. */
    CHECK_INT(dp_route_begin(&r, az, DP_ENV_SANDBOX, NULL, model, &err), 0);
    CHECK(dp_route_next(&r, NOW, &why) == NULL);
    CHECK_INT(why, DP_ROUTE_NO_ENDPOINT);
    done(cfg);
}

TEST("a routing policy needs a model in the body")
{
    struct dp_config *cfg = compile_plain();
    struct dp_route r;
    struct gw_err err;
    gw_err_clear(&err);
    CHECK_INT(dp_route_begin(&r, &cfg->apis[0], DP_ENV_PRODUCTION, NULL, NULL, &err), -1);
    CHECK_INT(gw_err_http_status(err.kind), 400);
    CHECK_INT(dp_route_begin(&r, &cfg->apis[1], DP_ENV_SANDBOX, NULL, NULL, &err), -1);
    done(cfg);
}

TEST("a round robin routes only its operations; the others go direct with their model")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[0];
    struct dp_route r;
    struct gw_err err;
    enum dp_route_end why;
    /* default operations: chat, completions, responses */
    static const char *const routed[] = {"/chat/completions", "/completions", "/responses"};
    for (size_t i = 0; i < 3; i++) {
        CHECK_INT(dp_route_begin(&r, api, DP_ENV_PRODUCTION, routed[i], "gpt-4o", &err), 0);
        CHECK_INT(r.kind, DP_ROUTE_KIND_LB);
    }
    const char *model = "text-embedding-3-small";
    CHECK_INT(dp_route_begin(&r, api, DP_ENV_PRODUCTION, "/embeddings", model, &err), 0);
    CHECK_INT(r.kind, DP_ROUTE_KIND_DIRECT);
    const struct dp_target *t = dp_route_next(&r, NOW, &why);
    CHECK(t && t->model == model && t->endpoint == api->first_endpoint[DP_ENV_PRODUCTION]);
    /* an operation the policy does not route needs no model */
    CHECK_INT(dp_route_begin(&r, api, DP_ENV_SANDBOX, "/images/generations", NULL, &err), 0);
    CHECK_INT(r.kind, DP_ROUTE_KIND_DIRECT);
    CHECK_INT(dp_route_begin(&r, api, DP_ENV_SANDBOX, "/chat/completions", NULL, &err), -1);
    done(cfg);

    static const char *const edits[] = {"apis[0].policies[0].operations", "[\"/embeddings\"]"};
    cfg = compile_edited(edits, 2);
    CHECK(cfg != NULL);
    api = &cfg->apis[0];
    CHECK_INT(dp_route_begin(&r, api, DP_ENV_PRODUCTION, "/embeddings", model, &err), 0);
    CHECK_INT(r.kind, DP_ROUTE_KIND_LB);
    CHECK_INT(dp_route_begin(&r, api, DP_ENV_PRODUCTION, "/chat/completions", "gpt-4o", &err), 0);
    CHECK_INT(r.kind, DP_ROUTE_KIND_DIRECT);
    done(cfg);
}

TEST("weighted 5:3:1: every window of one cycle has exact shares")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[0];
    struct dp_route r;
    long seq[9 * 50];
    for (int i = 0; i < 9 * 50; i++)
        seq[i] = pick(api, DP_ENV_PRODUCTION, NOW, &r);
    for (int start = 0; start + 9 <= 9 * 50; start++) {
        int c[3] = {0, 0, 0};
        for (int i = start; i < start + 9; i++)
            if (seq[i] >= 0 && seq[i] < 3)
                c[seq[i]]++;
        if (c[0] != 5 || c[1] != 3 || c[2] != 1) {
            CHECK(0);
            break;
        }
    }
    /* The target's model replaces the request's. */
    struct gw_err err;
    enum dp_route_end why;
    dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "whatever", &err);
    const struct dp_target *t = dp_route_next(&r, NOW, &why);
    CHECK(t != NULL && strcmp(t->model, "whatever") != 0);
    done(cfg);
}

static const struct dp_api *mt_api;
static atomic_long mt_counts[8];

static void *mt_worker(void *arg)
{
    long n = (long)arg;
    struct dp_route r;
    for (long i = 0; i < n; i++) {
        long idx = pick(mt_api, DP_ENV_PRODUCTION, NOW, &r);
        if (idx >= 0 && idx < 8)
            atomic_fetch_add(&mt_counts[idx], 1);
    }
    return NULL;
}

TEST("weighted shares are exact with several threads")
{
    struct dp_config *cfg = compile_plain();
    mt_api = &cfg->apis[0];
    for (int i = 0; i < 8; i++)
        atomic_store(&mt_counts[i], 0);
    enum { THREADS = 4, CYCLES = 4000 };
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, mt_worker, (void *)(long)(9 * CYCLES / THREADS));
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&mt_counts[0]), 5 * CYCLES);
    CHECK_INT(atomic_load(&mt_counts[1]), 3 * CYCLES);
    CHECK_INT(atomic_load(&mt_counts[2]), 1 * CYCLES);
    done(cfg);
}

TEST("one target, and weight 1000 against 1")
{
    const char *one[] = {"apis[0].policies[0].production",
                         "[{\"model\":\"gpt-4o\",\"endpoint\":\"ep-prod\",\"weight\":7}]"};
    struct dp_config *cfg = compile_edited(one, 2);
    struct dp_route r;
    for (int i = 0; i < 20; i++)
        CHECK_INT(pick(&cfg->apis[0], DP_ENV_PRODUCTION, NOW, &r), 0);
    done(cfg);

    const char *heavy[] = {"apis[0].policies[0].production",
                           "[{\"model\":\"a\",\"endpoint\":\"ep-prod\",\"weight\":1000},"
                           "{\"model\":\"b\",\"endpoint\":\"ep-prod2\",\"weight\":1}]"};
    cfg = compile_edited(heavy, 2);
    long c[2] = {0, 0};
    for (int i = 0; i < 3 * 1001; i++) {
        long idx = pick(&cfg->apis[0], DP_ENV_PRODUCTION, NOW, &r);
        if (idx == 0 || idx == 1)
            c[idx]++;
    }
    CHECK_INT(c[0], 3000);
    CHECK_INT(c[1], 3);
    done(cfg);
}

TEST("429: suspend, retry the next target once each, then exhausted / all suspended")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[0];
    struct dp_route r;
    struct gw_err err;
    enum dp_route_end why;
    CHECK_INT(dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "gpt-4o", &err), 0);
    int seen[3] = {0, 0, 0};
    int tries = 0;
    const struct dp_target *t;
    struct dp_outcome o = response(429);
    while ((t = dp_route_next(&r, NOW, &why)) != NULL) {
        seen[t - api->lb[0]->targets]++;
        tries++;
        CHECK_INT(dp_route_report(&r, t, &o, NOW), DP_VERDICT_RETRY);
        CHECK(dp_target_suspended(t->state, NOW));
    }
    CHECK_INT(why, DP_ROUTE_EXHAUSTED);
    CHECK_INT(tries, 3);
    CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    CHECK_INT(r.attempts, 3);

    /* The next request finds them all suspended: 503. */
    CHECK_INT(dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "gpt-4o", &err), 0);
    CHECK(dp_route_next(&r, NOW + 59999, &why) == NULL);
    CHECK_INT(why, DP_ROUTE_ALL_SUSPENDED);
    /* They come back by themselves after suspendDurationSec (60 s). */
    CHECK(pick(api, DP_ENV_PRODUCTION, NOW + 60000, &r) >= 0);
    done(cfg);
}

TEST("LB: every failed try moves on (SPEC rev 2); 429/5xx/connection/timeouts suspend, 4xx do not")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[0];
    struct dp_route r;
    enum dp_route_end why;
    struct dp_outcome outs[7] = {response(500), response(503), response(429),
                                 {DP_OUTCOME_CONNECT_ERROR, 0, -1, 0, 0, 0},
                                 {DP_OUTCOME_TIMEOUT, 0, -1, 0, 0, 0}, response(404), response(200)};
    static const int verdict[7] = {DP_VERDICT_RETRY, DP_VERDICT_RETRY, DP_VERDICT_RETRY,
                                   DP_VERDICT_RETRY, DP_VERDICT_RETRY, DP_VERDICT_RETRY,
                                   DP_VERDICT_DONE};
    static const int suspends[7] = {1, 1, 1, 1, 1, 0, 0};
    struct gw_err err;
    for (int i = 0; i < 7; i++) {
        int64_t now = NOW + (int64_t)i * 1000000; /* past the previous suspensions */
        CHECK_INT(dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "m", &err), 0);
        const struct dp_target *t = dp_route_next(&r, now, &why);
        CHECK(t != NULL);
        CHECK_INT(dp_route_report(&r, t, &outs[i], now), verdict[i]);
        CHECK_INT(dp_target_suspended(t->state, now), suspends[i]);
    }
    done(cfg);
}

TEST("suspended targets are skipped; shares among the rest stay weighted")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[0];
    dp_target_suspend(api->lb[0]->targets[0].state, NOW, 1000);
    struct dp_route r;
    int c[3] = {0, 0, 0};
    for (int i = 0; i < 9 * 10; i++) {
        long idx = pick(api, DP_ENV_PRODUCTION, NOW, &r);
        CHECK(idx == 1 || idx == 2);
        if (idx >= 0)
            c[idx]++;
    }
    CHECK_INT(c[0], 0);
    CHECK_INT(c[1] + c[2], 90);
    CHECK(c[1] > c[2]);
    /* After the suspension, target 0 is back. */
    c[0] = 0;
    for (int i = 0; i < 9; i++)
        c[0] += pick(api, DP_ENV_PRODUCTION, NOW + 1000, &r) == 0;
    CHECK_INT(c[0], 5);
    done(cfg);
}

TEST("Retry-After longer than the policy's suspension wins; shorter does not")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[0];
    struct dp_route r;
    enum dp_route_end why;
    struct gw_err err;
    dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "m", &err);
    const struct dp_target *a = dp_route_next(&r, NOW, &why);
    struct dp_outcome o = response(429);
    o.retry_after_ms = 120000;
    CHECK_INT(dp_route_report(&r, a, &o, NOW), DP_VERDICT_RETRY);
    CHECK(dp_target_suspended(a->state, NOW + 119999));
    CHECK(!dp_target_suspended(a->state, NOW + 120000));
    const struct dp_target *b = dp_route_next(&r, NOW, &why);
    CHECK(b != NULL && b != a);
    o.retry_after_ms = 1000;
    CHECK_INT(dp_route_report(&r, b, &o, NOW), DP_VERDICT_RETRY);
    CHECK(dp_target_suspended(b->state, NOW + 59999));
    CHECK(!dp_target_suspended(b->state, NOW + 60000));
    done(cfg);
}

TEST("2xx with remaining 0: returned, and the target suspended for the next requests")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[0];
    struct dp_route r;
    enum dp_route_end why;
    struct gw_err err;
    dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "m", &err);
    const struct dp_target *a = dp_route_next(&r, NOW, &why);
    struct dp_outcome o = response(200);
    o.remaining_zero = 1;
    CHECK_INT(dp_route_report(&r, a, &o, NOW), DP_VERDICT_DONE);
    CHECK(dp_target_suspended(a->state, NOW));
    for (int i = 0; i < 20; i++)
        CHECK(pick(api, DP_ENV_PRODUCTION, NOW + 1, &r) != a - api->lb[0]->targets);
    /* A 4xx with remaining 0 is not a 2xx: it moves on, suspending nothing. */
    const struct dp_target *b = &api->lb[0]->targets[(a - api->lb[0]->targets + 1) % 3];
    o = response(404);
    o.remaining_zero = 1;
    CHECK_INT(dp_route_report(&r, b, &o, NOW), DP_VERDICT_RETRY);
    CHECK(!dp_target_suspended(b->state, NOW));
    done(cfg);
}

TEST("failover: the failure rule")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[1];
    static const int final[] = {200, 201, 204, 299, 400, 405, 413, 422};
    static const int failing[] = {401, 403, 404, 408, 409, 429, 500, 502, 503, 504, 301, 100};
    /* SPEC rev 2: only 429 and 5xx suspend; 4xx and the rest move on */
    static const int suspends[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0};
    struct dp_route r;
    enum dp_route_end why;
    struct gw_err err;
    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++) {
        CHECK_INT(dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "gpt-4o", &err), 0);
        CHECK_INT(r.kind, DP_ROUTE_KIND_FAILOVER);
        const struct dp_target *t = dp_route_next(&r, NOW, &why);
        CHECK(t == &api->failovers[0][0].chain[0]);
        struct dp_outcome o = response(final[i]);
        CHECK_INT(dp_route_report(&r, t, &o, NOW), DP_VERDICT_DONE);
        CHECK(!dp_target_suspended(t->state, NOW));
    }
    for (size_t i = 0; i < sizeof(failing) / sizeof(failing[0]); i++) {
        CHECK_INT(dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "gpt-4o", &err), 0);
        const struct dp_target *t = dp_route_next(&r, NOW + (int64_t)i * 100000, &why);
        CHECK(t == &api->failovers[0][0].chain[0]);
        struct dp_outcome o = response(failing[i]);
        CHECK_INT(dp_route_report(&r, t, &o, NOW + (int64_t)i * 100000), DP_VERDICT_RETRY);
        CHECK_INT(dp_target_suspended(t->state, NOW + (int64_t)i * 100000 + 29999), suspends[i]);
    }
    done(cfg);
}

TEST("failover: chain order, suspended target start, exhausted, all suspended")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[1];
    const struct dp_failover *f = &api->failovers[0][0];
    struct dp_route r;
    enum dp_route_end why;
    struct gw_err err;
    struct dp_outcome conn = {DP_OUTCOME_CONNECT_ERROR, 0, -1, 0, 0, 0};
    struct dp_outcome tmo = {DP_OUTCOME_TIMEOUT, 0, -1, 0, 0, 0};
    struct dp_outcome ok = response(200);

    dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "gpt-4o", &err);
    const struct dp_target *t = dp_route_next(&r, NOW, &why);
    CHECK(t == &f->chain[0]);
    CHECK_INT(dp_route_report(&r, t, &conn, NOW), DP_VERDICT_RETRY);
    t = dp_route_next(&r, NOW, &why);
    CHECK(t == &f->chain[1]);
    CHECK_INT(dp_route_report(&r, t, &ok, NOW), DP_VERDICT_DONE);
    CHECK_INT(r.attempts, 2);

    /* The target is suspended: the next request starts at the first
     * fallback that is not. */
    dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "gpt-4o", &err);
    t = dp_route_next(&r, NOW + 1, &why);
    CHECK(t == &f->chain[1]);
    CHECK_INT(dp_route_report(&r, t, &tmo, NOW + 1), DP_VERDICT_RETRY);
    t = dp_route_next(&r, NOW + 1, &why);
    CHECK(t == &f->chain[2]);
    CHECK_INT(dp_route_report(&r, t, &conn, NOW + 1), DP_VERDICT_RETRY);
    CHECK(dp_route_next(&r, NOW + 1, &why) == NULL);
    CHECK_INT(why, DP_ROUTE_EXHAUSTED);

    dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "gpt-4o", &err);
    CHECK(dp_route_next(&r, NOW + 2, &why) == NULL);
    CHECK_INT(why, DP_ROUTE_ALL_SUSPENDED);

    /* 30 s later everything is back, starting at the target. */
    dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "gpt-4o", &err);
    CHECK(dp_route_next(&r, NOW + 30001, &why) == &f->chain[0]);
    done(cfg);
}

TEST("failover: Retry-After, remaining_zero, chains by model, others direct")
{
    struct dp_config *cfg = compile_plain();
    const struct dp_api *api = &cfg->apis[1];
    struct dp_route r;
    enum dp_route_end why;
    struct gw_err err;

    dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "o1-mini", &err);
    CHECK(r.failover == &api->failovers[0][1]);
    const struct dp_target *t = dp_route_next(&r, NOW, &why);
    CHECK_STR(t->model, "o1-mini");
    struct dp_outcome o = response(503);
    o.retry_after_ms = 500000;
    CHECK_INT(dp_route_report(&r, t, &o, NOW), DP_VERDICT_RETRY);
    CHECK(dp_target_suspended(t->state, NOW + 499999));
    t = dp_route_next(&r, NOW, &why);
    CHECK_STR(t->model, "gpt-4o-mini");
    o = response(200);
    o.remaining_zero = 1;
    CHECK_INT(dp_route_report(&r, t, &o, NOW), DP_VERDICT_DONE);
    CHECK(dp_target_suspended(t->state, NOW + 9999));
    CHECK(!dp_target_suspended(t->state, NOW + 10000));

    /* A model without a chain goes to the first endpoint unchanged. */
    dp_route_begin(&r, api, DP_ENV_PRODUCTION, NULL, "o3", &err);
    CHECK_INT(r.kind, DP_ROUTE_KIND_DIRECT);
    t = dp_route_next(&r, NOW, &why);
    CHECK_STR(t->model, "o3");
    CHECK(t->endpoint == api->first_endpoint[0]);

    /* Sandbox has its own chain (one target, no fallback). */
    dp_route_begin(&r, api, DP_ENV_SANDBOX, NULL, "gpt-4o", &err);
    t = dp_route_next(&r, NOW, &why);
    CHECK_STR(t->endpoint->name, "sand");
    o = response(500);
    CHECK_INT(dp_route_report(&r, t, &o, NOW), DP_VERDICT_RETRY);
    CHECK(dp_route_next(&r, NOW, &why) == NULL);
    CHECK_INT(why, DP_ROUTE_EXHAUSTED);
    done(cfg);
}

TEST("one request tries at most DP_ROUTE_MAX_TRIES targets")
{
    /* The longest failover chain (a target and GW_TARGETS_MAX fallbacks,
     * one more than DP_ROUTE_MAX_TRIES), every target answering 429. */
    json_t *doc = snap_load("basic.json");
    json_t *fallbacks = json_array();
    for (int i = 1; i <= GW_TARGETS_MAX; i++) {
        char model[16];
        snprintf(model, sizeof(model), "m%d", i);
        json_array_append_new(fallbacks,
                              json_pack("{s:s, s:s}", "model", model, "endpoint", "ep-prod"));
    }
    snap_edit(doc, "apis[0].policies[0]",
              json_pack("{s:s, s:s, s:i, s:i, s:{s:{s:s, s:s}, s:o}, s:n}", "id", "p-fo", "type",
                        "modelFailover", "requestTimeoutMs", 1000, "suspendDurationSec", 60,
                        "production", "target", "model", "m", "endpoint", "ep-prod", "fallbacks",
                        fallbacks, "sandbox"));
    struct gw_err err;
    st = dp_suspensions_new();
    struct dp_config *cfg = dp_config_compile(doc, st, &err);
    json_decref(doc);
    CHECK(cfg != NULL);
    struct dp_route r;
    enum dp_route_end why;
    dp_route_begin(&r, &cfg->apis[0], DP_ENV_PRODUCTION, NULL, "m", &err);
    struct dp_outcome o = response(429);
    const struct dp_target *t;
    int n = 0;
    while ((t = dp_route_next(&r, NOW, &why)) != NULL && n < 1000) {
        n++;
        CHECK_INT(dp_route_report(&r, t, &o, NOW), DP_VERDICT_RETRY);
    }
    CHECK_INT(n, DP_ROUTE_MAX_TRIES);
    CHECK_INT(why, DP_ROUTE_EXHAUSTED);
    /* The one left is still available to the next request. */
    dp_route_begin(&r, &cfg->apis[0], DP_ENV_PRODUCTION, NULL, "m", &err);
    n = 0;
    while ((t = dp_route_next(&r, NOW, &why)) != NULL && n < 1000) {
        n++;
        dp_route_report(&r, t, &o, NOW);
    }
    CHECK_INT(n, GW_TARGETS_MAX + 1 - DP_ROUTE_MAX_TRIES);
    done(cfg);
}

TEST("reload keeps the sequence: shares stay exact across a swap")
{
    struct dp_config *a = compile_plain();
    struct dp_route r;
    int c[3] = {0, 0, 0};
    for (int i = 0; i < 4; i++)
        c[pick(&a->apis[0], DP_ENV_PRODUCTION, NOW, &r)]++;
    json_t *doc = snap_load("basic.json");
    struct gw_err err;
    struct dp_config *b = dp_config_compile(doc, st, &err);
    json_decref(doc);
    for (int i = 0; i < 5; i++)
        c[pick(&b->apis[0], DP_ENV_PRODUCTION, NOW, &r)]++;
    CHECK(c[0] == 5 && c[1] == 3 && c[2] == 1);
    dp_config_unref(a);
    done(b);
}

TEST_MAIN()
