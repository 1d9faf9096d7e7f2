/* Config sources: control-plane long poll, cache file, --config file (see
 * cfgsync.h).
 *
 * Owns the polling thread, its curl easy handle and the copy of the last
 * applied snapshot's identity (revision, sha256). Validation and compiling
 * happen here, on this thread (or the main thread for files), never on a
 * worker; publishing goes through dp_shared_publish. */
#include "cfgsync.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/config_text.h"
#include "common/json_raw.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/secret_file.h"
#include "config.h"
#include "metrics.h"
#include "metrics_labels.h"
#include "worker.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SNAPSHOT_MAX GW_SNAPSHOT_MAX_BYTES
#define POLL_WAIT_S 30
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000

struct dp_cfgsync {
    struct dp_shared *sh;
    char *cp_url, *file, *cache_path, *token, *id, *cp_ca;
    pthread_t thread;
    int started;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t revision; /* last applied (or skipped as invalid) revision, -1 none */
    char sha256[65];
    long last_status; /* HTTP status of the last POLL_REFUSED answer */
    long long too_large_rev; /* last revision logged as over SNAPSHOT_MAX, -1 none */
    int quiet; /* the first load of --config: main reports it once listening */
};

/* ---- applying a document --------------------------------------------------- */

/* Validates, compiles and publishes the snapshot in text (len bytes). 0
 * applied, 1 unchanged (same sha256), -1 invalid (err).
 *
 * gw_cfg_from_text recomputes the sha256 from the content, and it must
 * match the one the document states: a snapshot edited by hand (a --config
 * file) without updating it is refused like any invalid snapshot, with a
 * log line saying so, and the running revision stays. Only then is
 * "unchanged" decided, on the verified hash. */
static int apply_text(struct dp_cfgsync *cs, const char *text, size_t len, struct gw_err *err)
{
    struct gw_cfg *model = gw_cfg_from_text(text, len, err);
    if (!model)
        return -1;
    if (cs->revision >= 0 && strcmp(model->sha256, cs->sha256) == 0) {
        if (model->revision > cs->revision) {
            /* Same content under a newer revision: report it, nothing to compile. */
            cs->revision = model->revision;
            atomic_store(&cs->sh->revision, cs->revision);
        }
        gw_cfg_free(model);
        return 1;
    }
    struct dp_config *cfg = dp_config_compile_model(model, cs->sh->state, err);
    if (!cfg)
        return -1;
    dp_shared_publish(cs->sh, cfg);
    dp_metrics_publish(cs->sh->metrics, dp_metrics_labels_of_config(cfg));
    cs->revision = cfg->revision;
    snprintf(cs->sha256, sizeof(cs->sha256), "%s", cfg->sha256);
    if (!cs->quiet)
        gw_info("config revision %lld applied", (long long)cfg->revision);
    dp_config_unref(cfg);
    return 0;
}

/* The "revision" a snapshot's text states (for one it refused), or -1. */
static int64_t text_revision(const char *text, size_t len)
{
    struct gw_json_member m[GW_JSON_TOP_MAX];
    int n = gw_json_raw_members(text, len, m);
    const struct gw_json_member *r = n > 0 ? gw_json_raw_find(m, n, "revision") : NULL;
    char num[24];
    if (!r || r->len >= sizeof(num))
        return -1;
    memcpy(num, r->value, r->len);
    num[r->len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(num, &end, 10);
    return errno || *end || end == num || v < 0 ? -1 : v;
}

static char *read_file(const char *path, size_t *len, struct gw_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        gw_err_set(err, GW_ERR_INVALID, "unreadable", NULL, "cannot read %s: %s", path,
                   strerror(errno));
        return NULL;
    }
    struct gw_buf b;
    gw_buf_init(&b, SNAPSHOT_MAX);
    char chunk[65536];
    size_t n;
    enum gw_buf_result rc = GW_BUF_OK;
    while (rc == GW_BUF_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = gw_buf_append(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (rc != GW_BUF_OK || failed) {
        gw_buf_cleanup(&b);
        if (rc == GW_BUF_TOOBIG)
            gw_err_set(err, GW_ERR_INVALID, "too_large", NULL,
                       "%s is larger than the limit of %zu bytes (GW_SNAPSHOT_MAX_BYTES, the "
                       "largest snapshot the bounds of common/limits.h allow)",
                       path, (size_t)SNAPSHOT_MAX);
        else
            gw_err_set(err, GW_ERR_INVALID, "unreadable", NULL, "cannot read %s (%s)", path,
                       failed ? "read error" : "out of memory");
        return NULL;
    }
    *len = b.len;
    char *data = gw_buf_take(&b);
    if (!data)
        data = gw_strdup("");
    return data;
}

/* Applies the document in data from a file; 0/1 ok, -1 invalid (err). */
static int apply_file(struct dp_cfgsync *cs, const char *path, struct gw_err *err)
{
    size_t len = 0;
    char *data = read_file(path, &len, err);
    if (!data)
        return -1;
    int rc = apply_text(cs, data, len, err);
    gw_free(data);
    return rc;
}

/* ---- the long poll ------------------------------------------------------------ */

/* The body being downloaded; over is set when it would pass SNAPSHOT_MAX. */
struct sink {
    struct gw_buf b;
    int over;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *k = userdata;
    if (k->b.len + size * nmemb > SNAPSHOT_MAX) {
        k->over = 1;
        return 0;
    }
    return gw_buf_append(&k->b, data, size * nmemb) == GW_BUF_OK ? size * nmemb : 0;
}

/* A snapshot over SNAPSHOT_MAX: said once per revision (the control plane
 * names it in X-Config-Revision), then the caller backs off while the
 * current revision keeps serving. */
static void too_large(struct dp_cfgsync *cs, CURL *e)
{
    struct curl_header *h = NULL;
    long long rev = -1;
    if (curl_easy_header(e, "X-Config-Revision", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h) {
        char *end = NULL;
        rev = strtoll(h->value, &end, 10);
        if (!end || *end)
            rev = -1;
    }
    if (rev >= 0 && rev == cs->too_large_rev)
        return;
    cs->too_large_rev = rev;
    gw_error("control plane snapshot of revision %lld is larger than the limit of %zu bytes "
             "(GW_SNAPSHOT_MAX_BYTES, the largest the bounds of common/limits.h allow: %d keys, "
             "%d applications, %d subscriptions, %d APIs): keeping revision %lld",
             rev, (size_t)SNAPSHOT_MAX, GW_KEYS_MAX, GW_APPLICATIONS_MAX, GW_SUBSCRIPTIONS_MAX,
             GW_APIS_MAX, (long long)cs->revision);
}

static int on_progress(void *clientp, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    struct dp_cfgsync *cs = clientp;
    return atomic_load(&cs->stop) ? 1 : 0; /* non-zero aborts the transfer */
}

enum poll_result {
    POLL_APPLIED,   /* a new snapshot was applied */
    POLL_UNCHANGED, /* 304, or nothing new */
    POLL_REJECTED,  /* a snapshot came but was invalid (skipped) */
    POLL_REFUSED,   /* the control plane answered with an error status (401, 5xx, ...) */
    POLL_TOO_LARGE, /* the snapshot is over SNAPSHOT_MAX (not read) */
    POLL_FAILED     /* the control plane could not be reached (network, timeout) */
};

static enum poll_result poll_once(struct dp_cfgsync *cs, CURL *e, int wait_s)
{
    char url[4096];
    long long after = cs->revision < 0 ? 0 : (long long)cs->revision;
    size_t ul = strlen(cs->cp_url);
    while (ul > 0 && cs->cp_url[ul - 1] == '/')
        ul--;
    snprintf(url, sizeof(url), "%.*s/dp/v1/config?after=%lld&wait=%d", (int)ul, cs->cp_url,
             after, wait_s);
    struct curl_slist *h = NULL, *n;
    char line[1024];
    snprintf(line, sizeof(line), "Authorization: Bearer %s", cs->token ? cs->token : "");
    if ((n = curl_slist_append(h, line)))
        h = n;
    snprintf(line, sizeof(line), "X-Dataplane-Id: %s", cs->id);
    if ((n = curl_slist_append(h, line)))
        h = n;
    /* `after` also moves past a snapshot we refused; this says what runs. */
    int64_t running = atomic_load(&cs->sh->revision);
    if (running >= 0) {
        snprintf(line, sizeof(line), "X-Dataplane-Revision: %lld", (long long)running);
        if ((n = curl_slist_append(h, line)))
            h = n;
    }
    struct sink sink = {.over = 0};
    struct gw_buf *bp = &sink.b;
    gw_buf_init(bp, SNAPSHOT_MAX);
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SNAPSHOT_MAX);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, cs);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(wait_s + 15) * 1000L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* --cp-ca: trusted besides the system's store (libcurl keeps its
     * default CA path when a CA file is set). Read at every connection, so
     * a rotated file needs no restart. */
    if (cs->cp_ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, cs->cp_ca);
    char errbuf[CURL_ERROR_SIZE] = ""; /* names the TLS failure, when one */
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(e);
    curl_slist_free_all(h);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    enum poll_result res = POLL_FAILED;
    cs->last_status = 0;
    if (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_WRITE_ERROR && sink.over)) {
        too_large(cs, e);
        res = POLL_TOO_LARGE;
    } else if (rc != CURLE_OK) {
        if (!atomic_load(&cs->stop))
            gw_warn("control plane %s: %s%s%s", cs->cp_url, curl_easy_strerror(rc),
                    errbuf[0] ? ": " : "", errbuf);
    } else if (status == 304) {
        res = POLL_UNCHANGED;
    } else if (status != 200) {
        res = POLL_REFUSED;
        cs->last_status = status;
        gw_warn("control plane %s answered %ld%s", cs->cp_url, status,
                status == 401 ? " (check MODELMUX_DP_TOKEN)" : "");
    } else {
        struct gw_err err;
        gw_err_clear(&err);
        const char *text = bp->data ? bp->data : "";
        int a = apply_text(cs, text, bp->len, &err);
        if (a == 0) {
            res = POLL_APPLIED;
            if (gw_secret_file_write(cs->cache_path, bp->data, bp->len) != 0)
                gw_warn("cannot write the cache %s: %s", cs->cache_path, strerror(errno));
        } else if (a == 1) {
            res = POLL_UNCHANGED;
        } else {
            int64_t rev = text_revision(text, bp->len);
            gw_error("control plane snapshot rejected, keeping revision %lld: %s%s%s",
                     (long long)cs->revision, err.message, err.field[0] ? " at " : "",
                     err.field);
            /* Skip that revision rather than fetch it again at once. */
            if (rev > cs->revision && cs->revision >= 0)
                cs->revision = rev;
            res = POLL_REJECTED;
        }
    }
    gw_buf_cleanup(bp);
    return res;
}

/* Sleeps ms unless asked to stop. Returns 1 when stopping. */
static int nap(struct dp_cfgsync *cs, int64_t ms)
{
    struct timespec ts;
    gw_deadline_ts(CLOCK_REALTIME, ms, &ts);
    pthread_mutex_lock(&cs->mu);
    while (!atomic_load(&cs->stop))
        if (pthread_cond_timedwait(&cs->cv, &cs->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&cs->mu);
    return atomic_load(&cs->stop);
}

/* Falls back to the cache after the first poll failed. The log says what
 * happened: a control plane that answered (a wrong token gets 401) is not
 * "unreachable", and telling the two apart is what the operator needs. */
static void load_cache(struct dp_cfgsync *cs, enum poll_result why)
{
    char what[64];
    if (why == POLL_REFUSED)
        snprintf(what, sizeof(what), "control plane answered %ld", cs->last_status);
    else if (why == POLL_TOO_LARGE)
        snprintf(what, sizeof(what), "control plane snapshot too large");
    else
        snprintf(what, sizeof(what), "control plane unreachable");
    struct gw_err err;
    gw_err_clear(&err);
    if (access(cs->cache_path, F_OK) != 0) {
        gw_warn("%s and no cache at %s: not ready yet", what, cs->cache_path);
        return;
    }
    int rc = apply_file(cs, cs->cache_path, &err);
    if (rc < 0)
        gw_error("cache %s not usable: %s", cs->cache_path, err.message);
    else
        gw_info("%s: serving revision %lld from the cache %s", what, (long long)cs->revision,
                cs->cache_path);
}

static void *poll_main(void *arg)
{
    struct dp_cfgsync *cs = arg;
    CURL *e = curl_easy_init();
    if (!e) {
        gw_error("config sync: cannot create a curl handle");
        return NULL;
    }
    int64_t backoff = BACKOFF_MIN_MS;
    int first = 1;
    unsigned seed = (unsigned)gw_now_ms() ^ (unsigned)getpid();
    while (!atomic_load(&cs->stop)) {
        enum poll_result r = poll_once(cs, e, first ? 0 : POLL_WAIT_S);
        if (first && (r == POLL_FAILED || r == POLL_REFUSED || r == POLL_TOO_LARGE) &&
            cs->revision < 0)
            load_cache(cs, r);
        first = 0;
        if (r == POLL_APPLIED || r == POLL_UNCHANGED) {
            backoff = BACKOFF_MIN_MS;
            continue;
        }
        /* Failure or rejected snapshot: exponential backoff with jitter. */
        int64_t jitter = (int64_t)(rand_r(&seed) % (unsigned)(backoff / 2 + 1));
        if (nap(cs, backoff / 2 + jitter))
            break;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    curl_easy_cleanup(e);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------ */

struct dp_cfgsync *dp_cfgsync_new(struct dp_shared *sh, const struct dp_cfgsync_opts *o,
                                  struct gw_err *err)
{
    struct dp_cfgsync *cs = gw_calloc(1, sizeof(*cs));
    if (!cs) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    cs->sh = sh;
    cs->revision = -1;
    cs->too_large_rev = -1;
    atomic_init(&cs->stop, 0);
    pthread_mutex_init(&cs->mu, NULL);
    pthread_cond_init(&cs->cv, NULL);
    cs->cp_url = gw_strdup(o->cp_url);
    cs->file = gw_strdup(o->file);
    cs->cache_path = gw_strdup(o->cache_path);
    cs->token = gw_strdup(o->token);
    cs->id = gw_strdup(o->id ? o->id : "modelmux-dp");
    cs->cp_ca = gw_strdup(o->cp_ca);
    if ((o->cp_url && !cs->cp_url) || (o->file && !cs->file) || !cs->cache_path || !cs->id ||
        (o->cp_ca && !cs->cp_ca)) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        goto fail;
    }
    if (cs->file) {
        gw_err_clear(err);
        cs->quiet = 1;
        int rc = apply_file(cs, cs->file, err);
        cs->quiet = 0;
        if (rc < 0)
            goto fail;
    }
    return cs;
fail:
    dp_cfgsync_free(cs);
    return NULL;
}

int dp_cfgsync_start(struct dp_cfgsync *cs)
{
    if (!cs->cp_url)
        return 0;
    if (pthread_create(&cs->thread, NULL, poll_main, cs) != 0)
        return -1;
    cs->started = 1;
    return 0;
}

int dp_cfgsync_reload_file(struct dp_cfgsync *cs)
{
    if (!cs->file)
        return -1;
    struct gw_err err;
    gw_err_clear(&err);
    int rc = apply_file(cs, cs->file, &err);
    if (rc < 0) {
        gw_error("reload of %s failed, keeping revision %lld: %s%s%s", cs->file,
                 (long long)cs->revision, err.message, err.field[0] ? " at " : "", err.field);
        return -1;
    }
    if (rc == 1)
        gw_info("reload of %s: unchanged", cs->file);
    return 0;
}

void dp_cfgsync_free(struct dp_cfgsync *cs)
{
    if (!cs)
        return;
    if (cs->started) {
        pthread_mutex_lock(&cs->mu);
        atomic_store(&cs->stop, 1);
        pthread_cond_broadcast(&cs->cv);
        pthread_mutex_unlock(&cs->mu);
        pthread_join(cs->thread, NULL);
    }
    pthread_mutex_destroy(&cs->mu);
    pthread_cond_destroy(&cs->cv);
    gw_free(cs->cp_url);
    gw_free(cs->file);
    gw_free(cs->cache_path);
    gw_free(cs->token);
    gw_free(cs->id);
    gw_free(cs->cp_ca);
    gw_free(cs);
}
