/* The JWKS fetcher thread (see jwks_fetch.h). Its own thread; the database
 * is shared with the MHD threads through cp_db's lock, taken only around
 * short reads and writes, never during a fetch. */
#include "jwks_fetch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/jwk.h"
#include "common/jwt_issuer_json.h"
#include "common/log.h"

#define POLL_MS 500 /* how soon a due issuer is noticed */

struct cp_jwks {
    struct cp_db *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop; /* under lock; also read unlocked by the curl progress callback */
};

/* One due issuer, read in a read transaction. */
struct due {
    json_t *row; /* {"id", "uri", "due", "issuer", "claim", "audiences", "keys"} */
    const char *id, *uri;
    int64_t due;
};

struct body {
    char *data;
    size_t len;
};

static int stopping(struct cp_jwks *f)
{
    pthread_mutex_lock(&f->lock);
    int s = f->stop;
    pthread_mutex_unlock(&f->lock);
    return s;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    size_t len = size * n;
    if (b->len + len > GW_JWKS_DOC_MAX)
        return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
    char *d = gw_realloc(b->data, b->len + len + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, p, len);
    b->data = d;
    b->len += len;
    d[b->len] = '\0';
    return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return stopping(ud);
}

/* GETs uri into *out (NUL-terminated). Returns 0, or -1 with why (one
 * sentence, no response body in it). */
static int fetch(struct cp_jwks *f, const char *uri, struct body *out, char *why, size_t whysz)
{
    CURL *e = curl_easy_init();
    long status = 0;
    memset(out, 0, sizeof(*out));
    if (!e) {
        snprintf(why, whysz, "cannot start an HTTP client");
        return -1;
    }
    curl_easy_setopt(e, CURLOPT_URL, uri);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)CP_JWKS_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)CP_JWKS_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE, (long)GW_JWKS_DOC_MAX);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, f);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED)
        snprintf(why, whysz, "the JWKS document is over %d bytes", GW_JWKS_DOC_MAX);
    else if (rc != CURLE_OK)
        snprintf(why, whysz, "fetching the JWKS failed: %s", curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(why, whysz, "fetching the JWKS failed: HTTP status %ld", status);
    else
        return 0;
    gw_free(out->data);
    out->data = NULL;
    return -1;
}

/* Marks skipped[index] for each key gw_jwks_parse skips. */
static void on_skip(void *ud, size_t index, const char *kid, const char *reason)
{
    (void)kid, (void)reason;
    if (index < GW_JWK_MAX_KEYS)
        ((char *)ud)[index] = 1;
}

/* The document's usable keys only, as {"keys": [...]}: keys for other uses
 * (or an "oct" secret) never reach the snapshot. NULL when out of memory. */
static json_t *usable_keys(const json_t *doc, const char *skipped)
{
    json_t *keys = json_array(), *out = json_pack("{s:o}", "keys", keys);
    size_t i;
    json_t *k;
    if (!out)
        return NULL;
    json_array_foreach (json_object_get(doc, "keys"), i, k)
        if (i < GW_JWK_MAX_KEYS && !skipped[i] && json_array_append(keys, k) < 0) {
            json_decref(out);
            return NULL;
        }
    return out;
}

/* Checks the fetched document as a data plane will use it: the issuer with
 * its inline keys plus these. *doc gets the usable keys, *kids their ids.
 * Returns 0 or -1 with why. */
static int check_doc(const struct due *d, const struct body *b, json_t **doc, json_t **kids,
                     char *why, size_t whysz)
{
    struct gw_err err;
    struct gw_jwks set = {0};
    char skipped[GW_JWK_MAX_KEYS] = {0};
    json_error_t jerr;
    gw_err_clear(&err);
    *kids = NULL;
    if (gw_jwks_parse(b->data, b->len, &set, on_skip, skipped, &err) < 0) {
        gw_jwt_err_name_field(&err, NULL);
        snprintf(why, whysz, "the JWKS document is invalid: %s", err.message);
        return -1;
    }
    *kids = json_array();
    for (size_t i = 0; *kids && i < set.n; i++)
        json_array_append_new(*kids, json_string(set.keys[i].kid));
    size_t usable = set.n;
    gw_jwks_cleanup(&set);
    json_t *full = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &jerr);
    *doc = full ? usable_keys(full, skipped) : NULL;
    json_decref(full);
    if (!*kids || !*doc) {
        snprintf(why, whysz, "out of memory");
        return -1;
    }
    if (usable == 0) {
        snprintf(why, whysz, "the JWKS document has no usable signing key");
        return -1;
    }
    json_t *r = d->row;
    struct gw_jwt_issuer *is = gw_jwt_issuer_from_json(
        json_string_value(json_object_get(r, "issuer")),
        json_string_value(json_object_get(r, "claim")), json_object_get(r, "audiences"),
        json_object_get(r, "keys"), *doc, &err);
    if (!is) {
        snprintf(why, whysz, "%s", err.message);
        return -1;
    }
    gw_jwt_issuer_free(is);
    return 0;
}

/* The first issuer due for a fetch at now, or 0 with d->row NULL. */
static int next_due(struct cp_jwks *f, int64_t now, struct due *d, struct gw_err *err)
{
    memset(d, 0, sizeof(*d));
    if (cp_db_read_begin(f->db, err) < 0)
        return -1;
    int rc = cp_db_query_one(
        f->db, err, &d->row,
        "SELECT json_object('id', id, 'uri', jwks_uri, 'due', jwks_due, 'issuer', issuer, "
        "'claim', client_claim, 'audiences', json(audiences), 'keys', json(keys)) FROM issuers "
        "WHERE jwks_uri IS NOT NULL AND (jwks_due > 0 OR jwks_checked_at <= ?1) ORDER BY "
        "jwks_due = 0, jwks_checked_at, seq LIMIT 1",
        "i", now - CP_JWKS_REFRESH_S);
    cp_db_read_end(f->db);
    if (rc < 0 || !d->row)
        return rc;
    d->id = json_string_value(json_object_get(d->row, "id"));
    d->uri = json_string_value(json_object_get(d->row, "uri"));
    d->due = json_integer_value(json_object_get(d->row, "due"));
    return 0;
}

/* Writes the outcome (doc NULL: failed with why) for the issuer, if its
 * jwksUri is still the one fetched. A changed key set bumps the revision. */
static int store(struct cp_jwks *f, const struct due *d, int64_t now, const char *doc,
                 json_t *kids, const char *why, struct gw_err *err)
{
    char at[32];
    int64_t same = 1;
    char *kids_text = kids ? json_dumps(kids, JSON_COMPACT) : NULL;
    gw_format_rfc3339(now, at);
    if (cp_db_begin(f->db, err) < 0) {
        gw_free(kids_text);
        return -1;
    }
    int rc = doc ? cp_db_query_int(f->db, err, &same,
                                   "SELECT count(*) FROM issuers WHERE id = ?1 AND jwks_doc IS ?2",
                                   "ss", d->id, doc)
                 : 0;
    if (rc == 0 && doc)
        rc = cp_db_run(f->db, err,
                       "UPDATE issuers SET jwks_doc = ?3, jwks_kids = ?4, jwks_error = NULL, "
                       "jwks_fetched_at = ?5, jwks_checked_at = ?6, jwks_due = CASE WHEN "
                       "jwks_due = ?7 THEN 0 ELSE jwks_due END WHERE id = ?1 AND jwks_uri = ?2",
                       "sssssii", d->id, d->uri, doc, kids_text ? kids_text : "[]", at, now,
                       d->due);
    else if (rc == 0)
        rc = cp_db_run(f->db, err,
                       "UPDATE issuers SET jwks_error = ?3, jwks_checked_at = ?4, jwks_due = "
                       "CASE WHEN jwks_due = ?5 THEN 0 ELSE jwks_due END WHERE id = ?1 AND "
                       "jwks_uri = ?2",
                       "sssii", d->id, d->uri, why, now, d->due);
    gw_free(kids_text);
    if (rc < 0) {
        cp_db_rollback(f->db);
        return -1;
    }
    return rc > 0 && !same ? cp_db_commit(f->db, NULL, err) : cp_db_commit_quiet(f->db, err);
}

/* Fetches and stores one due issuer. */
static void refresh_one(struct cp_jwks *f, const struct due *d, int64_t now)
{
    struct body b;
    struct gw_err err;
    json_t *doc = NULL, *kids = NULL;
    char why[600] = "";
    char *text = NULL;
    gw_err_clear(&err);
    if (fetch(f, d->uri, &b, why, sizeof(why)) == 0 &&
        check_doc(d, &b, &doc, &kids, why, sizeof(why)) == 0)
        text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (stopping(f))
        goto out;
    if (!text && !why[0])
        snprintf(why, sizeof(why), "out of memory");
    if (text)
        gw_info("issuer %s: JWKS fetched (%zu keys)", d->id, json_array_size(kids));
    else
        gw_warn("issuer %s: %s (keeping the last keys)", d->id, why);
    if (store(f, d, now, text, kids, why, &err) < 0)
        gw_error("issuer %s: storing the JWKS fetch failed: %s", d->id, err.message);
out:
    gw_free(text);
    gw_free(b.data);
    json_decref(doc);
    json_decref(kids);
}

/* Sleeps up to ms unless stopped. Returns 1 when stopping. */
static int nap(struct cp_jwks *f, long ms)
{
    struct timespec t;
    gw_deadline_ts(CLOCK_REALTIME, ms, &t);
    pthread_mutex_lock(&f->lock);
    if (!f->stop)
        pthread_cond_timedwait(&f->cond, &f->lock, &t);
    int s = f->stop;
    pthread_mutex_unlock(&f->lock);
    return s;
}

static void *run(void *arg)
{
    struct cp_jwks *f = arg;
    do {
        struct due d;
        struct gw_err err;
        gw_err_clear(&err);
        int64_t now = gw_wall_s();
        while (!stopping(f) && next_due(f, now, &d, &err) == 0 && d.row) {
            refresh_one(f, &d, now);
            json_decref(d.row);
        }
        if (err.kind != GW_ERR_NONE)
            gw_error("JWKS fetcher: %s", err.message);
    } while (!nap(f, POLL_MS));
    return NULL;
}

struct cp_jwks *cp_jwks_start(struct cp_db *db, struct gw_err *err)
{
    struct cp_jwks *f = gw_calloc(1, sizeof(*f));
    if (!f) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    f->db = db;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        pthread_cond_destroy(&f->cond);
        pthread_mutex_destroy(&f->lock);
        gw_free(f);
        gw_err_set(err, GW_ERR_INTERNAL, "thread", NULL, "cannot start the JWKS fetcher thread");
        return NULL;
    }
    return f;
}

void cp_jwks_stop(struct cp_jwks *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    gw_free(f);
}
