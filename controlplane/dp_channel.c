/* The data-plane long-poll channel (see dp_channel.h).
 *
 * A waiting request is a struct waiter on a doubly linked list while its
 * connection is suspended. Whoever resumes it (cp_dp_notify on a commit,
 * the timer thread at its deadline, cp_dp_shutdown) first unlinks it under
 * `lock`, so a waiter is resumed exactly once and the completion callback
 * never finds it on the list. Suspending also happens under `lock`, after
 * re-reading the revision, so a commit cannot slip in between the check and
 * the suspend and leave a request waiting for nothing. */
#include "dp_channel.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/list.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/log.h"
#include "db.h"
#include "http.h"
#include "jfield.h"
#include "snapshot.h"

#define MAX_DATAPLANES 256
#define MAX_ID_CHARS 128

struct waiter {
    struct gw_list link; /* in cp_dp.waiters while suspended */
    struct MHD_Connection *conn;
    int64_t after;
    int64_t deadline_ms; /* gw_now_ms() clock */
    int expired;         /* resumed because the wait ran out */
    char id[MAX_ID_CHARS * 4 + 1];
};

struct dp_rec {
    char id[MAX_ID_CHARS * 4 + 1];
    int64_t revision;  /* the revision it says it has applied */
    int64_t last_seen; /* wall clock seconds */
    int waiting;       /* requests held right now */
};

struct cp_dp {
    struct cp_db *db;
    int has_token;
    char token_hash[GW_SHA256_HEX_LEN + 1];

    pthread_mutex_t lock; /* waiters, shutting_down, stop */
    pthread_cond_t cond;
    struct gw_list waiters;
    int shutting_down, stop;
    pthread_t timer;
    int timer_started;

    pthread_mutex_t rec_lock;
    struct dp_rec recs[MAX_DATAPLANES];
    int nrecs;

    pthread_mutex_t cache_lock;
    struct MHD_Response *cached; /* one reference held here */
    int64_t cached_rev;
};

/* --- waiter list (caller holds lock) --------------------------------------- */

static struct waiter *waiter_of(struct gw_list *p)
{
    return gw_list_entry(p, struct waiter, link);
}

static void resume_all(struct cp_dp *dp)
{
    while (!gw_list_empty(&dp->waiters)) {
        struct waiter *w = waiter_of(dp->waiters.next);
        gw_list_remove(&w->link);
        MHD_resume_connection(w->conn);
    }
}

/* Resumes expired waiters; returns the nearest remaining deadline. */
static int64_t expire(struct cp_dp *dp, int64_t now)
{
    int64_t next = now + 1000;
    for (struct gw_list *p = dp->waiters.next, *nx; p != &dp->waiters; p = nx) {
        nx = p->next;
        struct waiter *w = waiter_of(p);
        if (w->deadline_ms <= now) {
            gw_list_remove(&w->link);
            w->expired = 1;
            MHD_resume_connection(w->conn);
        } else if (w->deadline_ms < next) {
            next = w->deadline_ms;
        }
    }
    return next;
}

static void *timer_main(void *arg)
{
    struct cp_dp *dp = arg;
    pthread_mutex_lock(&dp->lock);
    while (!dp->stop) {
        int64_t next = expire(dp, gw_now_ms());
        int64_t delay = next - gw_now_ms();
        if (delay < 1)
            delay = 1;
        struct timespec ts;
        gw_deadline_ts(CLOCK_MONOTONIC, delay, &ts);
        pthread_cond_timedwait(&dp->cond, &dp->lock, &ts);
    }
    pthread_mutex_unlock(&dp->lock);
    return NULL;
}

void cp_dp_notify(void *arg, int64_t revision)
{
    struct cp_dp *dp = arg;
    (void)revision;
    pthread_mutex_lock(&dp->lock);
    resume_all(dp);
    pthread_mutex_unlock(&dp->lock);
}

void cp_dp_shutdown(struct cp_dp *dp)
{
    pthread_mutex_lock(&dp->lock);
    dp->shutting_down = 1;
    resume_all(dp);
    pthread_mutex_unlock(&dp->lock);
}

/* --- registry ---------------------------------------------------------------- */

/* Records that data plane id asked with after; waiting_delta adjusts its
 * count of held requests. */
static void record(struct cp_dp *dp, const char *id, int64_t after, int waiting_delta)
{
    pthread_mutex_lock(&dp->rec_lock);
    struct dp_rec *r = NULL;
    for (int i = 0; i < dp->nrecs && !r; i++)
        if (strcmp(dp->recs[i].id, id) == 0)
            r = &dp->recs[i];
    if (!r && dp->nrecs < MAX_DATAPLANES) {
        r = &dp->recs[dp->nrecs++];
    } else if (!r) { /* full: reuse the one seen longest ago */
        r = &dp->recs[0];
        for (int i = 1; i < dp->nrecs; i++)
            if (dp->recs[i].last_seen < r->last_seen)
                r = &dp->recs[i];
        memset(r, 0, sizeof(*r));
    }
    if (!r->id[0])
        snprintf(r->id, sizeof(r->id), "%s", id);
    if (after >= 0)
        r->revision = after;
    r->last_seen = gw_wall_s();
    r->waiting += waiting_delta;
    if (r->waiting < 0)
        r->waiting = 0;
    pthread_mutex_unlock(&dp->rec_lock);
}

json_t *cp_dp_list(struct cp_dp *dp)
{
    json_t *items = json_array();
    int64_t now = gw_wall_s(), current = cp_db_revision(dp->db);
    pthread_mutex_lock(&dp->rec_lock);
    for (int i = 0; items && i < dp->nrecs; i++) {
        const struct dp_rec *r = &dp->recs[i];
        char seen[32];
        gw_format_rfc3339(r->last_seen, seen);
        const char *status = !r->waiting && now - r->last_seen > CP_DP_STALE_S ? "stale"
                             : r->revision >= current                          ? "current"
                                                                               : "behind";
        json_t *o = json_pack("{s:s,s:I,s:s,s:s}", "id", r->id, "revision", (json_int_t)r->revision,
                              "lastSeen", seen, "status", status);
        if (!o || json_array_append_new(items, o) < 0) {
            json_decref(items);
            items = NULL;
        }
    }
    pthread_mutex_unlock(&dp->rec_lock);
    return items;
}

/* --- replies -------------------------------------------------------------- */

static enum MHD_Result fail(struct MHD_Connection *c, enum gw_err_kind kind, const char *code,
                            const char *msg)
{
    struct gw_err err;
    gw_err_set(&err, kind, code, NULL, "%s", msg);
    return cp_http_reply_error(c, &err);
}

static enum MHD_Result not_modified(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, r);
    MHD_destroy_response(r);
    return ret;
}

static void free_text(void *p)
{
    gw_free(p);
}

/* Makes the cached response current. Caller holds cache_lock. */
static int refresh_cache(struct cp_dp *dp, struct gw_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int64_t rev = 0;
    if (cp_snapshot_build(dp->db, &text, &len, &rev, err) < 0)
        return -1;
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, text, free_text);
    if (!r) {
        gw_free(text);
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    }
    char revtext[32];
    snprintf(revtext, sizeof(revtext), "%lld", (long long)rev);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Config-Revision", revtext);
    if (dp->cached)
        MHD_destroy_response(dp->cached);
    dp->cached = r;
    dp->cached_rev = rev;
    return 0;
}

static enum MHD_Result send_snapshot(struct cp_dp *dp, struct MHD_Connection *c)
{
    struct gw_err err;
    gw_err_clear(&err);
    enum MHD_Result ret;
    pthread_mutex_lock(&dp->cache_lock);
    if (!dp->cached || dp->cached_rev < cp_db_revision(dp->db)) {
        if (refresh_cache(dp, &err) < 0) {
            pthread_mutex_unlock(&dp->cache_lock);
            gw_error("snapshot: %s", err.message);
            return cp_http_reply_error(c, &err);
        }
    }
    ret = MHD_queue_response(c, MHD_HTTP_OK, dp->cached);
    pthread_mutex_unlock(&dp->cache_lock);
    return ret;
}

/* --- the handler ---------------------------------------------------------- */

/* Parses a non-negative decimal query argument (kind MHD_GET_ARGUMENT_KIND)
 * or header (MHD_HEADER_KIND); def when absent. Returns 0 or -1. */
static int query_num(struct MHD_Connection *c, enum MHD_ValueKind kind, const char *name,
                     int64_t def, int64_t *out)
{
    const char *s = MHD_lookup_connection_value(c, kind, name);
    *out = def;
    if (!s)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0 || s[0] == '-' || s[0] == '+')
        return -1;
    *out = v;
    return 0;
}

/* Suspends c as waiter w unless the revision moved meanwhile. Returns 1 when
 * suspended, 0 when the caller should answer now. */
static int try_suspend(struct cp_dp *dp, struct waiter *w)
{
    int suspended = 0;
    pthread_mutex_lock(&dp->lock);
    if (!dp->shutting_down && cp_db_revision(dp->db) <= w->after && gw_now_ms() < w->deadline_ms) {
        gw_list_push(&dp->waiters, &w->link);
        MHD_suspend_connection(w->conn);
        pthread_cond_signal(&dp->cond);
        suspended = 1;
    }
    pthread_mutex_unlock(&dp->lock);
    return suspended;
}

/* Answers a request that may have waited: snapshot, 304 or suspend again. */
static enum MHD_Result answer(struct cp_dp *dp, struct waiter *w)
{
    if (cp_db_revision(dp->db) > w->after)
        return send_snapshot(dp, w->conn);
    if (w->expired || try_suspend(dp, w) == 0) {
        if (cp_db_revision(dp->db) > w->after) /* moved while deciding */
            return send_snapshot(dp, w->conn);
        return not_modified(w->conn);
    }
    return MHD_YES;
}

enum MHD_Result cp_dp_handle(struct cp_dp *dp, struct MHD_Connection *c, const char *url,
                             const char *method, void **state)
{
    if (*state)
        return answer(dp, *state);
    if (strcmp(url, "/dp/v1/config") != 0)
        return fail(c, GW_ERR_NOT_FOUND, "not_found", "no such route");
    if (!dp->has_token || !cp_http_bearer_ok(c, dp->token_hash))
        return fail(c, GW_ERR_AUTH, "unauthorized",
                    dp->has_token ? "missing or wrong data-plane token"
                                  : "the data-plane channel is disabled (MODELMUX_DP_TOKEN unset)");
    if (strcmp(method, "GET") != 0)
        return fail(c, GW_ERR_METHOD, "method_not_allowed", "only GET is allowed here");
    struct gw_err err;
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Dataplane-Id");
    if (!id || gw_rule_name(id, "X-Dataplane-Id", MAX_ID_CHARS, &err) < 0)
        return fail(c, GW_ERR_INVALID, "invalid_header",
                    "X-Dataplane-Id must be 1 to 128 characters of UTF-8, no control characters");
    int64_t after = 0, wait = CP_DP_DEFAULT_WAIT_S, applied = 0;
    if (query_num(c, MHD_GET_ARGUMENT_KIND, "after", 0, &after) < 0 ||
        query_num(c, MHD_GET_ARGUMENT_KIND, "wait", CP_DP_DEFAULT_WAIT_S, &wait) < 0)
        return fail(c, GW_ERR_INVALID, "invalid_query",
                    "after and wait must be non-negative integers");
    /* "after" is the newest revision the data plane has seen, which is not
     * the one it runs when it refused a snapshot; it may say which one it
     * runs in X-Dataplane-Revision (GET /api/v1/dataplanes shows that). */
    if (query_num(c, MHD_HEADER_KIND, CP_DP_REVISION_HEADER, after, &applied) < 0)
        return fail(c, GW_ERR_INVALID, "invalid_header",
                    CP_DP_REVISION_HEADER " must be a non-negative integer");
    if (wait > CP_DP_MAX_WAIT_S)
        wait = CP_DP_MAX_WAIT_S;
    struct waiter *w = gw_calloc(1, sizeof(*w));
    if (!w)
        return MHD_NO;
    w->conn = c;
    w->after = after;
    w->deadline_ms = gw_now_ms() + wait * 1000;
    snprintf(w->id, sizeof(w->id), "%s", id);
    *state = w;
    record(dp, id, applied, 1);
    return answer(dp, w);
}

void cp_dp_request_done(struct cp_dp *dp, void *state)
{
    struct waiter *w = state;
    record(dp, w->id, -1, -1);
    gw_free(w);
}

/* --- lifecycle ------------------------------------------------------------ */

struct cp_dp *cp_dp_new(struct cp_db *db, const char *token, struct gw_err *err)
{
    struct cp_dp *dp = gw_calloc(1, sizeof(*dp));
    if (!dp) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    dp->db = db;
    gw_list_init(&dp->waiters);
    if (token && *token) {
        dp->has_token = 1;
        gw_sha256_hex(token, strlen(token), dp->token_hash);
    }
    pthread_mutex_init(&dp->lock, NULL);
    pthread_mutex_init(&dp->rec_lock, NULL);
    pthread_mutex_init(&dp->cache_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&dp->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&dp->timer, NULL, timer_main, dp) != 0) {
        gw_err_set(err, GW_ERR_INTERNAL, "thread", NULL, "cannot start the timer thread");
        cp_dp_free(dp);
        return NULL;
    }
    dp->timer_started = 1;
    return dp;
}

void cp_dp_free(struct cp_dp *dp)
{
    if (!dp)
        return;
    if (dp->timer_started) {
        pthread_mutex_lock(&dp->lock);
        dp->stop = 1;
        pthread_cond_signal(&dp->cond);
        pthread_mutex_unlock(&dp->lock);
        pthread_join(dp->timer, NULL);
    }
    if (dp->cached)
        MHD_destroy_response(dp->cached);
    pthread_cond_destroy(&dp->cond);
    pthread_mutex_destroy(&dp->lock);
    pthread_mutex_destroy(&dp->rec_lock);
    pthread_mutex_destroy(&dp->cache_lock);
    gw_free(dp);
}
