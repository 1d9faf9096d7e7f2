/* Per-worker metric shards and the Prometheus exposition (see metrics.h).
 *
 * Owns the shards and their series. A series is one label set of one
 * family; every family uses the same small struct (counters use `count`,
 * the histogram uses all fields). Each shard keeps one open-addressing
 * table per family, keyed by the rendered label text, guarded by the
 * shard's mutex (taken by its worker per update, by the admin thread per
 * scrape). Updates find their series through a second map per family, keyed
 * by the raw label values (NUL-separated), so the label text is rendered
 * only once per series, when it is created, not per request.
 *
 * Label values are bounded by the applied config (metrics_labels.h): each
 * shard points to the registry's current label set, swapped under the
 * shard's mutex by dp_metrics_publish, which also deletes the series whose
 * API, endpoint or model the new config no longer names. A model the config
 * does not name is counted as model="other" (until a first config is
 * published, values are taken as they are: no request is routed before). */
#include "metrics.h"

#include "common/alloc.h"
#include "common/fmt.h"
#include "hashmap.h"
#include "metrics_labels.h"
#include "ratelimit.h"
#include "suspension.h"
#include "common/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const double bucket_s[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                  1,     2.5,  5,     10,   30,  60,  120};
#define NBUCKETS (sizeof(bucket_s) / sizeof(bucket_s[0]))

struct series {
    char *labels; /* rendered: api="x",model="y" */
    char *raw;    /* the label values, NUL-separated (key of the shard's raw map) */
    size_t rawlen;
    uint64_t hash;
    uint64_t count;
    double sum;
    uint64_t buckets[NBUCKETS]; /* non-cumulative */
};

struct table {
    struct series **slots;
    size_t cap, n;
};

enum family {
    FAM_REQUESTS,
    FAM_DURATION,
    FAM_TOKENS,
    FAM_RATELIMITED,
    FAM_TTFT,   /* time to first token (histogram) */
    FAM_TRIES,  /* tries by outcome */
    FAM_BREAKS, /* broken streams */
    FAM_COUNT
};

/* Where each family has its config-bound labels (-1: none). Coupled with
 * the label names of the update functions below. */
static const struct {
    int api, model, endpoint;
} roles[FAM_COUNT] = {
    [FAM_REQUESTS] = {0, 1, 2},
    [FAM_DURATION] = {-1, -1, 0},
    [FAM_TOKENS] = {0, 1, -1},
    [FAM_RATELIMITED] = {0, -1, -1},
    [FAM_TTFT] = {0, 1, -1},
    [FAM_TRIES] = {0, 1, 2},
    [FAM_BREAKS] = {0, -1, 1},
};

#define OTHER_MODEL "other"

struct dp_metrics_shard {
    pthread_mutex_t mu;
    struct table t[FAM_COUNT];
    struct dp_hmap raw[FAM_COUNT]; /* raw label values -> series of t */
    uint64_t dropped;
    const struct dp_metrics_labels *labels; /* the registry's, NULL before the first */
};

struct dp_metrics {
    int n;
    struct dp_metrics_shard *shards;
    pthread_mutex_t mu;               /* publish vs render; taken before a shard's */
    struct dp_metrics_labels *labels; /* current label set, NULL before the first */
};

/* ---- tables ----------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static int table_grow(struct table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    struct series **s = gw_calloc(cap, sizeof(*s));
    if (!s)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        struct series *e = t->slots[i];
        if (!e)
            continue;
        size_t j = e->hash & (cap - 1);
        while (s[j])
            j = (j + 1) & (cap - 1);
        s[j] = e;
    }
    gw_free(t->slots);
    t->slots = s;
    t->cap = cap;
    return 0;
}

/* The series of labels, created when missing (unless the table holds cap
 * series); NULL when full or no memory. */
static struct series *table_get(struct table *t, const char *labels, size_t cap)
{
    uint64_t h = hash_str(labels);
    if (t->cap) {
        for (size_t j = h & (t->cap - 1); t->slots[j]; j = (j + 1) & (t->cap - 1))
            if (t->slots[j]->hash == h && strcmp(t->slots[j]->labels, labels) == 0)
                return t->slots[j];
    }
    if (t->n >= cap)
        return NULL;
    if ((t->n + 1) * 2 > t->cap && table_grow(t) != 0)
        return NULL;
    struct series *e = gw_calloc(1, sizeof(*e));
    if (!e || !(e->labels = gw_strdup(labels))) {
        gw_free(e);
        return NULL;
    }
    e->hash = h;
    size_t j = h & (t->cap - 1);
    while (t->slots[j])
        j = (j + 1) & (t->cap - 1);
    t->slots[j] = e;
    t->n++;
    return e;
}

static void series_free(struct series *e)
{
    gw_free(e->labels);
    gw_free(e->raw);
    gw_free(e);
}

static void table_cleanup(struct table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i])
            series_free(t->slots[i]);
    gw_free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* ---- labels ----------------------------------------------------------------- */

/* Appends name="value" with Prometheus escaping; returns the new length or
 * -1 when out of room. */
static int label(char *out, size_t size, int len, const char *name, const char *v)
{
    if (len < 0)
        return -1;
    int n = snprintf(out + len, size - (size_t)len, "%s%s=\"", len ? "," : "", name);
    if (n < 0 || (size_t)(len + n) >= size)
        return -1;
    len += n;
    for (const char *p = v ? v : ""; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t k = esc ? strlen(esc) : 1;
        if ((size_t)len + k + 2 >= size)
            return -1;
        memcpy(out + len, esc ? esc : p, k);
        len += (int)k;
    }
    out[len++] = '"';
    out[len] = '\0';
    return len;
}

#define LABELS_MAX 1024

#define RAW_MAX LABELS_MAX

/* The raw key of n label values: each value (NULL as "") and a NUL. Returns
 * its length, or 0 when it does not fit. */
static size_t raw_key(char *out, const char *const vals[], int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        const char *v = vals[i] ? vals[i] : "";
        size_t k = strlen(v);
        if (len + k + 1 > RAW_MAX)
            return 0;
        memcpy(out + len, v, k);
        len += k;
        out[len++] = '\0';
    }
    return len;
}

/* The series of family f with these label names and values, found by the raw
 * values, else created (the label text rendered once). Under s->mu. Returns
 * -1 when the label text is too long (the update is ignored), else 0 with
 * *out set, or NULL when the family is full or memory is out (dropped). */
static int series_of(struct dp_metrics_shard *s, enum family f, const char *const names[],
                     const char *const vals[], int n, struct series **out)
{
    char raw[RAW_MAX];
    size_t rawlen = raw_key(raw, vals, n); /* shorter than the label text */
    *out = rawlen ? dp_hmap_get(&s->raw[f], raw, rawlen) : NULL;
    if (*out)
        return 0;
    char l[LABELS_MAX];
    int len = 0;
    for (int i = 0; i < n; i++)
        len = label(l, sizeof(l), len, names[i], vals[i]);
    if (len <= 0 || rawlen == 0)
        return -1;
    struct series *e = table_get(&s->t[f], l, DP_METRICS_MAX_SERIES);
    *out = e;
    if (e && !e->raw && (e->raw = gw_malloc(rawlen)) != NULL) {
        memcpy(e->raw, raw, rawlen);
        e->rawlen = rawlen;
        if (dp_hmap_put(&s->raw[f], e->raw, e->rawlen, e) < 0) {
            gw_free(e->raw); /* still counted; found by its labels next time */
            e->raw = NULL;
        }
    }
    return 0;
}

/* The model label as counted: the caller's value when the config names it
 * (or before any config), else "other". NULL and "" stay (no model). Under
 * s->mu. */
static const char *bounded_model(const struct dp_metrics_shard *s, const char *model)
{
    if (!s->labels || !model || !*model || dp_metrics_labels_has_model(s->labels, model))
        return model;
    return OTHER_MODEL;
}

static void count(struct dp_metrics_shard *s, enum family f, const char *const names[],
                  const char *const in[], int n, uint64_t by)
{
    struct series *e;
    const char *vals[4];
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < n && i < 4; i++)
        vals[i] = i == roles[f].model ? bounded_model(s, in[i]) : in[i];
    if (series_of(s, f, names, vals, n, &e) == 0) {
        if (e)
            e->count += by;
        else
            s->dropped++;
    }
    pthread_mutex_unlock(&s->mu);
}

static char *put_int(char *o, int v)
{
    o = gw_fmt_i64(o, v);
    *o = '\0';
    return o;
}

void dp_metrics_request(struct dp_metrics_shard *s, const char *api, const char *model,
                        const char *endpoint, int status)
{
    static const char *const names[] = {"api", "model", "endpoint", "status"};
    char st[16];
    put_int(st, status);
    const char *const vals[] = {api, model, endpoint, st};
    count(s, FAM_REQUESTS, names, vals, 4, 1);
}

/* One observation of ms in histogram family f. */
static void observe(struct dp_metrics_shard *s, enum family f, const char *const names[],
                    const char *const in[], int n, int64_t ms)
{
    const char *vals[4];
    double sec = (double)(ms < 0 ? 0 : ms) / 1000.0;
    struct series *e;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < n && i < 4; i++)
        vals[i] = i == roles[f].model ? bounded_model(s, in[i]) : in[i];
    if (series_of(s, f, names, vals, n, &e) == 0) { /* else: too long, ignored */
        if (e) {
            e->count++;
            e->sum += sec;
            size_t i = 0;
            while (i < NBUCKETS && sec > bucket_s[i])
                i++;
            if (i < NBUCKETS)
                e->buckets[i]++;
        } else {
            s->dropped++;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void dp_metrics_upstream(struct dp_metrics_shard *s, const char *endpoint, int64_t ms)
{
    static const char *const names[] = {"endpoint"};
    const char *const vals[] = {endpoint};
    observe(s, FAM_DURATION, names, vals, 1, ms);
}

void dp_metrics_ttft(struct dp_metrics_shard *s, const char *api, const char *model, int64_t ms)
{
    static const char *const names[] = {"api", "model"};
    const char *const vals[] = {api, model};
    observe(s, FAM_TTFT, names, vals, 2, ms);
}

void dp_metrics_try(struct dp_metrics_shard *s, const char *api, const char *model,
                    const char *endpoint, const char *outcome)
{
    static const char *const names[] = {"api", "model", "endpoint", "outcome"};
    const char *const vals[] = {api, model, endpoint, outcome};
    count(s, FAM_TRIES, names, vals, 4, 1);
}

void dp_metrics_stream_break(struct dp_metrics_shard *s, const char *api, const char *endpoint)
{
    static const char *const names[] = {"api", "endpoint"};
    const char *const vals[] = {api, endpoint};
    count(s, FAM_BREAKS, names, vals, 2, 1);
}

void dp_metrics_tokens(struct dp_metrics_shard *s, const char *api, const char *model,
                       int64_t prompt, int64_t completion)
{
    static const char *const names[] = {"api", "model", "kind"};
    if (prompt >= 0) {
        const char *const vals[] = {api, model, "prompt"};
        count(s, FAM_TOKENS, names, vals, 3, (uint64_t)prompt);
    }
    if (completion >= 0) {
        const char *const vals[] = {api, model, "completion"};
        count(s, FAM_TOKENS, names, vals, 3, (uint64_t)completion);
    }
}

void dp_metrics_ratelimited(struct dp_metrics_shard *s, const char *api)
{
    static const char *const names[] = {"api"};
    const char *const vals[] = {api};
    count(s, FAM_RATELIMITED, names, vals, 1, 1);
}

/* ---- registry and rendering --------------------------------------------------- */

struct dp_metrics *dp_metrics_new(int nshards)
{
    struct dp_metrics *m = gw_calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->shards = gw_calloc((size_t)nshards, sizeof(*m->shards));
    if (!m->shards) {
        gw_free(m);
        return NULL;
    }
    m->n = nshards;
    pthread_mutex_init(&m->mu, NULL);
    for (int i = 0; i < nshards; i++)
        pthread_mutex_init(&m->shards[i].mu, NULL);
    return m;
}

void dp_metrics_free(struct dp_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        for (int f = 0; f < FAM_COUNT; f++) {
            table_cleanup(&m->shards[i].t[f]);
            dp_hmap_cleanup(&m->shards[i].raw[f]);
        }
        pthread_mutex_destroy(&m->shards[i].mu);
    }
    pthread_mutex_destroy(&m->mu);
    dp_metrics_labels_free(m->labels);
    gw_free(m->shards);
    gw_free(m);
}

struct dp_metrics_shard *dp_metrics_shard(struct dp_metrics *m, int i)
{
    return &m->shards[i];
}

static int merge(struct table *into, const struct table *from)
{
    for (size_t i = 0; i < from->cap; i++) {
        const struct series *e = from->slots[i];
        if (!e)
            continue;
        struct series *d = table_get(into, e->labels, SIZE_MAX); /* shards are capped */
        if (!d)
            return -1;
        d->count += e->count;
        d->sum += e->sum;
        for (size_t b = 0; b < NBUCKETS; b++)
            d->buckets[b] += e->buckets[b];
    }
    return 0;
}

static int ok(enum gw_buf_result r)
{
    return r == GW_BUF_OK ? 0 : -1;
}

static int render_counter(struct gw_buf *out, const char *name, const char *help,
                          const struct table *t)
{
    int rc = ok(gw_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name));
    for (size_t i = 0; i < t->cap && rc == 0; i++)
        if (t->slots[i])
            rc = ok(gw_buf_printf(out, "%s{%s} %llu\n", name, t->slots[i]->labels,
                                  (unsigned long long)t->slots[i]->count));
    return rc;
}

static int render_histogram(struct gw_buf *out, const char *name, const char *help,
                            const struct table *t)
{
    int rc = ok(gw_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name));
    for (size_t i = 0; i < t->cap && rc == 0; i++) {
        const struct series *e = t->slots[i];
        if (!e)
            continue;
        uint64_t cum = 0;
        for (size_t b = 0; b < NBUCKETS && rc == 0; b++) {
            cum += e->buckets[b];
            rc = ok(gw_buf_printf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name, e->labels,
                                  bucket_s[b], (unsigned long long)cum));
        }
        if (rc == 0)
            rc = ok(gw_buf_printf(out,
                                  "%s_bucket{%s,le=\"+Inf\"} %llu\n%s_sum{%s} %.6f\n"
                                  "%s_count{%s} %llu\n",
                                  name, e->labels, (unsigned long long)e->count, name, e->labels,
                                  e->sum, name, e->labels, (unsigned long long)e->count));
    }
    return rc;
}

/* modelmux_target_suspended: one line per target of the applied config. */
static int render_targets(struct gw_buf *out, const struct dp_metrics_labels *l)
{
    int64_t now = gw_now_ms();
    int rc = 0;
    for (size_t i = 0; l && i < dp_metrics_labels_ntargets(l) && rc == 0; i++) {
        const struct dp_metrics_target *t = dp_metrics_labels_target(l, i);
        char lb[LABELS_MAX];
        int n = label(lb, sizeof(lb), 0, "api", t->api);
        n = label(lb, sizeof(lb), n, "model", t->model);
        n = label(lb, sizeof(lb), n, "endpoint", t->endpoint);
        if (n > 0)
            rc = ok(gw_buf_printf(out, "modelmux_target_suspended{%s} %d\n", lb,
                                  t->state && dp_target_suspended(t->state, now) ? 1 : 0));
    }
    return rc;
}

int dp_metrics_render(struct dp_metrics *m, struct dp_suspensions *state, const struct dp_rl *rl,
                      int64_t revision, struct gw_buf *out)
{
    (void)state; /* targets come from the published label set */
    struct table agg[FAM_COUNT];
    memset(agg, 0, sizeof(agg));
    uint64_t dropped = 0;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n; i++) {
        struct dp_metrics_shard *s = &m->shards[i];
        pthread_mutex_lock(&s->mu);
        for (int f = 0; f < FAM_COUNT && rc == 0; f++)
            rc = merge(&agg[f], &s->t[f]);
        dropped += s->dropped;
        pthread_mutex_unlock(&s->mu);
    }
    if (rc == 0)
        rc = render_counter(out, "modelmux_requests_total",
                            "Requests answered, by API, model, endpoint and status.",
                            &agg[FAM_REQUESTS]);
    if (rc == 0)
        rc = render_histogram(out, "modelmux_upstream_duration_seconds",
                              "Time of upstream tries, by endpoint.", &agg[FAM_DURATION]);
    if (rc == 0)
        rc = render_counter(out, "modelmux_tokens_total",
                            "Tokens used, by API, model and kind (prompt|completion).",
                            &agg[FAM_TOKENS]);
    if (rc == 0)
        rc = render_counter(out, "modelmux_ratelimited_total",
                            "Requests refused by the aiRateLimit policy, by API.",
                            &agg[FAM_RATELIMITED]);
    if (rc == 0)
        rc = render_histogram(out, "modelmux_time_to_first_token_seconds",
                              "Streams: from the request's arrival to the first event sent, by "
                              "API and served model.",
                              &agg[FAM_TTFT]);
    if (rc == 0)
        rc = render_counter(out, "modelmux_tries_total",
                            "Upstream tries, by API, model, endpoint and outcome "
                            "(ok|retried|failed|timeout|continued).",
                            &agg[FAM_TRIES]);
    if (rc == 0)
        rc = render_counter(out, "modelmux_stream_breaks_total",
                            "Streams the upstream broke after their first event, by API and "
                            "endpoint.",
                            &agg[FAM_BREAKS]);
    if (rc == 0)
        rc = ok(gw_buf_printf(out,
                              "# HELP modelmux_target_suspended 1 while a routing target is "
                              "suspended.\n# TYPE modelmux_target_suspended gauge\n"));
    if (rc == 0)
        rc = render_targets(out, m->labels);
    pthread_mutex_unlock(&m->mu);
    if (rc == 0)
        rc = ok(gw_buf_printf(out,
                              "# HELP modelmux_config_revision Config revision applied (-1: "
                              "none yet).\n# TYPE modelmux_config_revision gauge\n"
                              "modelmux_config_revision %lld\n"
                              "# HELP modelmux_metrics_dropped_total Metric updates dropped "
                              "(too many series).\n# TYPE modelmux_metrics_dropped_total "
                              "counter\nmodelmux_metrics_dropped_total %llu\n",
                              (long long)revision, (unsigned long long)dropped));
    if (rc == 0 && rl) {
        dp_rl_metrics(rl, out);
        dp_rl_table_metrics(rl, out);
    }
    for (int f = 0; f < FAM_COUNT; f++)
        table_cleanup(&agg[f]);
    return rc;
}

/* ---- publishing a config's label set -------------------------------------------- */

/* The i-th value of a series' raw key. */
static const char *raw_value(const struct series *e, int i)
{
    const char *p = e->raw;
    for (; i > 0; i--)
        p += strlen(p) + 1;
    return p;
}

/* Whether series e of family f only has values the label set l allows. */
static int series_allowed(const struct series *e, enum family f,
                          const struct dp_metrics_labels *l)
{
    if (!e->raw)
        return 1; /* cannot tell (no memory for its key once): keep its counts */
    const char *v;
    if (roles[f].api >= 0 && *(v = raw_value(e, roles[f].api)) &&
        !dp_metrics_labels_has_api(l, v))
        return 0;
    if (roles[f].endpoint >= 0 && *(v = raw_value(e, roles[f].endpoint)) &&
        !dp_metrics_labels_has_endpoint(l, v))
        return 0;
    if (roles[f].model >= 0 && *(v = raw_value(e, roles[f].model)) &&
        strcmp(v, OTHER_MODEL) != 0 && !dp_metrics_labels_has_model(l, v))
        return 0;
    return 1;
}

/* Deletes the series of s that l does not allow, rebuilding the tables and
 * raw maps from the survivors. Under s->mu. On no memory, keeps all. */
static void prune(struct dp_metrics_shard *s, const struct dp_metrics_labels *l)
{
    for (int f = 0; f < FAM_COUNT; f++) {
        struct table *t = &s->t[f];
        struct table keep = {0};
        struct dp_hmap raw;
        if (dp_hmap_init(&raw, t->n) != 0)
            continue;
        while (keep.cap < t->cap && table_grow(&keep) == 0)
            ;
        if (keep.cap < t->cap) {
            table_cleanup(&keep);
            dp_hmap_cleanup(&raw);
            continue;
        }
        for (size_t i = 0; i < t->cap; i++) {
            struct series *e = t->slots[i];
            if (!e)
                continue;
            if (!series_allowed(e, f, l)) {
                series_free(e);
                continue;
            }
            size_t j = e->hash & (keep.cap - 1);
            while (keep.slots[j])
                j = (j + 1) & (keep.cap - 1);
            keep.slots[j] = e;
            keep.n++;
            if (dp_hmap_put(&raw, e->raw, e->rawlen, e) < 0) {
                gw_free(e->raw); /* still counted; found by its labels next time */
                e->raw = NULL;
            }
        }
        gw_free(t->slots);
        *t = keep;
        dp_hmap_cleanup(&s->raw[f]);
        s->raw[f] = raw;
    }
}

void dp_metrics_publish(struct dp_metrics *m, struct dp_metrics_labels *l)
{
    if (!m || !l) {
        dp_metrics_labels_free(l);
        return;
    }
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n; i++) {
        struct dp_metrics_shard *s = &m->shards[i];
        pthread_mutex_lock(&s->mu);
        s->labels = l;
        prune(s, l);
        pthread_mutex_unlock(&s->mu);
    }
    struct dp_metrics_labels *old = m->labels;
    m->labels = l;
    pthread_mutex_unlock(&m->mu);
    dp_metrics_labels_free(old);
}
