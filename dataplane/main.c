/* modelmux-dp: the data plane (SPEC section 3).
 *
 * The main thread parses the flags, builds what the workers share (routing
 * state, rate limiter, metrics, the first config when --config is given),
 * starts the workers, the admin server and the control-plane follower, and
 * then only waits for signals: SIGHUP reloads --config and the --tls-cert/
 * --tls-key pair of --listen (connections in flight keep the certificate
 * they started with), SIGTERM/SIGINT drain the workers (up to DP_DRAIN_MS)
 * and exit 0. A --tls-cert, --tls-key or --cp-ca file that does not load at
 * start is a runtime error. Exit codes: 2 for usage
 * errors, 1 for runtime errors, each with one line on stderr. */
#include "admin.h"
#include "bufbudget.h"
#include "cfgsync.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/fdlimit.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/pem.h"
#include "common/tls_server_mhd.h"
#include "config.h"
#include "listener.h"
#include "metrics.h"
#include "portclaim.h"
#include "ratelimit.h"
#include "suspension.h"
#include "upstream_tls.h"
#include "worker.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKERS 256

struct opts {
    const char *listen;
    const char *admin_listen;
    const char *cp;
    const char *config;
    const char *cache;
    const char *id;
    const char *redis;
    const char *tls_cert;
    const char *tls_key;
    const char *cp_ca;
    int workers;
    const char *response_max; /* --max-response-bytes, or NULL */
    const char *budget;       /* --buffer-budget, or NULL */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: modelmux-dp [--listen HOST:PORT] [--admin-listen HOST:PORT]\n"
            "                   (--cp URL | --config FILE) [--cache FILE] [--id NAME]\n"
            "                   [--redis URL] [--workers N]\n"
            "                   [--max-response-bytes N] [--buffer-budget N]\n"
            "                   [--tls-cert FILE --tls-key FILE] [--cp-ca FILE]\n"
            "\n"
            "  --listen HOST:PORT        where applications call (default 127.0.0.1:9095)\n"
            "  --admin-listen HOST:PORT  /metrics, /healthz, /readyz (default 127.0.0.1:9096)\n"
            "  --cp URL                  control plane base URL, followed by long poll\n"
            "  --config FILE             standalone: snapshot JSON, re-read on SIGHUP\n"
            "  --cache FILE              last applied snapshot (default "
            "./modelmux-dp.cache.json)\n"
            "  --id NAME                 name reported to the control plane (default "
            "hostname)\n"
            "  --redis URL               redis://HOST:PORT, shared rate-limit counters\n"
            "  --workers N               worker threads (default: number of cores)\n"
            "  --max-response-bytes N    largest upstream response read whole (not\n"
            "                            streamed); larger ones answer 502 (default 64M)\n"
            "  --buffer-budget N         memory per worker for the responses it holds\n"
            "                            whole; when spent, callers get 503 (default 256M)\n"
            "                            (sizes in bytes, or with a K, M or G suffix)\n"
            "  --tls-cert FILE           PEM certificate chain: --listen speaks HTTPS only (with\n"
            "                            --tls-key; TLS 1.2+; SIGHUP reloads both files)\n"
            "  --tls-key FILE            PEM private key of --tls-cert\n"
            "  --cp-ca FILE              extra trusted CA (PEM) for an https:// --cp\n"
            "\n"
            "environment: MODELMUX_DP_TOKEN  token for the control-plane channel\n");
}

static int fail_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "modelmux-dp: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see --help)\n");
    return 2;
}

/* A size flag: bytes, or with a K, M or G (binary) suffix, in min..max.
 * Returns 0, or -1 when it is not one. */
static int parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    if (shift)
        end++;
    if (errno || end == s || *end || s[0] == '-' || v > (max >> shift))
        return -1;
    v <<= shift;
    if (v < min)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* --max-response-bytes and --buffer-budget (common/limits.h bounds; a
 * budget smaller than one response could never hold one). 0 or 2. */
static int parse_sizes(const struct opts *o)
{
    size_t rmax = GW_UPSTREAM_BODY_DEFAULT_BYTES, budget = GW_BUFFER_BUDGET_DEFAULT_BYTES;
    char why[160];
    if (o->response_max && parse_size(o->response_max, GW_UPSTREAM_BODY_MIN_BYTES,
                                      GW_UPSTREAM_BODY_MAX_BYTES, &rmax) != 0) {
        snprintf(why, sizeof(why), "--max-response-bytes must be a size from %zuK to %zuM, not",
                 GW_UPSTREAM_BODY_MIN_BYTES >> 10, GW_UPSTREAM_BODY_MAX_BYTES >> 20);
        fprintf(stderr, "modelmux-dp: %s '%s' (see --help)\n", why, o->response_max);
        return 2;
    }
    if (o->budget && parse_size(o->budget, rmax, GW_BUFFER_BUDGET_MAX_BYTES, &budget) != 0) {
        fprintf(stderr,
                "modelmux-dp: --buffer-budget must be a size from the response cap (%zu bytes) "
                "to %zuG, not '%s' (see --help)\n",
                rmax, GW_BUFFER_BUDGET_MAX_BYTES >> 30, o->budget);
        return 2;
    }
    if (!o->budget && budget < rmax)
        budget = rmax;
    dp_bufbudget_configure(rmax, budget);
    return 0;
}

/* Returns 0, 2 (usage error, reported), or 3 (--help printed). */
static int parse_flags(int argc, char **argv, struct opts *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->listen = "127.0.0.1:9095";
    o->admin_listen = "127.0.0.1:9096";
    o->cache = "./modelmux-dp.cache.json";
    o->workers = ncpu > 0 ? (int)(ncpu > MAX_WORKERS ? MAX_WORKERS : ncpu) : 1;
    static const char *const names[] = {"--listen", "--admin-listen", "--cp", "--config",
                                        "--cache",  "--id",           "--redis", "--workers",
                                        "--max-response-bytes", "--buffer-budget",
                                        "--tls-cert", "--tls-key", "--cp-ca"};
    const char **slots[] = {&o->listen, &o->admin_listen, &o->cp, &o->config,
                            &o->cache,  &o->id,           &o->redis, NULL,
                            &o->response_max, &o->budget,
                            &o->tls_cert, &o->tls_key, &o->cp_ca};
    const char *workers = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 3;
        }
        size_t k;
        const char *val = NULL;
        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            size_t n = strlen(names[k]);
            if (strncmp(a, names[k], n) == 0 && (a[n] == '\0' || a[n] == '='))
                break;
        }
        if (k == sizeof(names) / sizeof(names[0]))
            return fail_usage("unknown flag %s", a);
        const char *eq = strchr(a, '=');
        if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return fail_usage("flag %s needs a value", a);
            val = argv[++i];
        }
        if (*val == '\0')
            return fail_usage("flag %s needs a non-empty value", names[k]);
        if (slots[k])
            *slots[k] = val;
        else
            workers = val;
    }
    if (workers) {
        char *end;
        long n = strtol(workers, &end, 10);
        if (*end != '\0' || n < 1 || n > MAX_WORKERS)
            return fail_usage("--workers must be a number from 1 to 256, not '%s'", workers);
        o->workers = (int)n;
    }
    if (parse_sizes(o) != 0)
        return 2;
    if (o->cp && o->config)
        return fail_usage("%s", "--cp and --config cannot be used together");
    if (!o->cp && !o->config)
        return fail_usage("%s", "one of --cp URL or --config FILE is required");
    if (o->cp && strncmp(o->cp, "http://", 7) != 0 && strncmp(o->cp, "https://", 8) != 0)
        return fail_usage("--cp must be an http:// or https:// URL, not '%s'", o->cp);
    if (o->redis && strncmp(o->redis, "redis://", 8) != 0)
        return fail_usage("--redis must be redis://HOST:PORT, not '%s'", o->redis);
    if (!o->tls_cert != !o->tls_key)
        return fail_usage("%s", "--tls-cert and --tls-key go together");
    if (o->cp_ca && (!o->cp || strncmp(o->cp, "https://", 8) != 0))
        return fail_usage("%s", "--cp-ca needs an https:// --cp");
    return 0;
}

/* --cp-ca must hold PEM certificates only (libcurl reads it again at each
 * connection to the control plane). 0, or -1 with err. */
static int cp_ca_check(const char *path, struct gw_err *err)
{
    size_t n = 0;
    char *buf = gw_pem_read_file("--cp-ca", path, &n, err);
    if (!buf)
        return -1;
    int count = gw_pem_cert_count(buf, n);
    gw_free(buf);
    if (count < 0)
        return gw_err_set(err, GW_ERR_INVALID, "tls", NULL,
                          "--cp-ca %s: holds something that is not a PEM certificate", path);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof(o));
    gw_log_set_program("modelmux-dp");
    int prc = parse_flags(argc, argv, &o);
    if (prc == 3)
        return 0;
    if (prc != 0)
        return 2;

    struct sockaddr_storage admin_addr;
    socklen_t admin_len;
    char why[256];
    struct dp_shared sh;
    if (dp_shared_init(&sh) != 0) {
        fprintf(stderr, "modelmux-dp: cannot initialise\n");
        return 1;
    }
    if (gw_parse_hostport(o.listen, &sh.listen_addr, &sh.listen_len, why, sizeof(why)) != 0) {
        fprintf(stderr, "modelmux-dp: --listen %s: %s (see --help)\n", o.listen, why);
        return 2;
    }
    if (gw_parse_hostport(o.admin_listen, &admin_addr, &admin_len, why, sizeof(why)) != 0) {
        fprintf(stderr, "modelmux-dp: --admin-listen %s: %s (see --help)\n", o.admin_listen,
                why);
        return 2;
    }
    char host[256];
    if (!o.id && gethostname(host, sizeof(host)) == 0) {
        host[sizeof(host) - 1] = '\0';
        o.id = host;
    }

    /* Signals are taken by sigwait on this thread only: block them before
     * any other thread exists so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    gw_fd_limit_raise();
    gw_alloc_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dp_upstream_tls_check();

    int rc = 1;
    struct gw_err err;
    gw_err_clear(&err);
    struct dp_cfgsync *cs = NULL;
    struct dp_admin *admin = NULL;
    sh.nworkers = o.workers;
    sh.workers = gw_calloc((size_t)o.workers, sizeof(*sh.workers));
    sh.state = dp_suspensions_new();
    sh.metrics = dp_metrics_new(o.workers);
    sh.rl = dp_rl_new(o.redis, &err);
    if (!sh.rl && err.kind == GW_ERR_INVALID) {
        /* A --redis URL that does not parse is a bad flag (SPEC 6). */
        fprintf(stderr, "modelmux-dp: %s, not '%s' (see --help)\n", err.message, o.redis);
        rc = 2;
        goto out;
    }
    if (!sh.workers || !sh.state || !sh.metrics || !sh.rl) {
        fprintf(stderr, "modelmux-dp: %s\n", err.message[0] ? err.message : "out of memory");
        goto out;
    }
    if (o.tls_cert && !(sh.tls = gw_tls_mhd_server_new(o.tls_cert, o.tls_key, &err))) {
        fprintf(stderr, "modelmux-dp: %s\n", err.message);
        goto out;
    }
    if (o.cp_ca && cp_ca_check(o.cp_ca, &err) < 0) {
        fprintf(stderr, "modelmux-dp: %s\n", err.message);
        goto out;
    }
    struct dp_cfgsync_opts co = {
        .cp_url = o.cp,
        .file = o.config,
        .cache_path = o.cache,
        .token = getenv("MODELMUX_DP_TOKEN"),
        .id = o.id,
        .cp_ca = o.cp_ca,
    };
    if (o.cp && !co.token)
        gw_warn("MODELMUX_DP_TOKEN is not set: the control plane will refuse this data plane");
    /* With --config the file is read (and must be valid) before listening. */
    cs = dp_cfgsync_new(&sh, &co, &err);
    if (!cs) {
        if (o.config)
            fprintf(stderr, "modelmux-dp: --config %s: %s%s%s%s\n", o.config, err.message,
                    err.field[0] ? " (at " : "", err.field, err.field[0] ? ")" : "");
        else
            fprintf(stderr, "modelmux-dp: %s\n", err.message);
        goto out;
    }
    /* The admin port first: once --listen accepts, /readyz and /metrics
     * answer too (scripts wait for one port, then use both). */
    admin = dp_admin_start(&sh, (const struct sockaddr *)&admin_addr, admin_len, &err);
    if (!admin) {
        fprintf(stderr, "modelmux-dp: --admin-listen %s: %s\n", o.admin_listen, err.message);
        goto out;
    }
    sh.listen_fd =
        dp_port_claim((const struct sockaddr *)&sh.listen_addr, sh.listen_len, &err);
    if (sh.listen_fd < 0) {
        fprintf(stderr, "modelmux-dp: --listen %s: %s\n", o.listen, err.message);
        goto out;
    }
    for (int i = 0; i < o.workers; i++) {
        sh.workers[i] = dp_worker_new(&sh, i, &err);
        if (!sh.workers[i]) {
            fprintf(stderr, "modelmux-dp: --listen %s: %s\n", o.listen, err.message);
            goto out;
        }
    }
    for (int i = 0; i < o.workers; i++) {
        if (dp_worker_start(sh.workers[i]) != 0) {
            fprintf(stderr, "modelmux-dp: cannot start worker threads\n");
            goto out;
        }
    }
    if (dp_cfgsync_start(cs) != 0) {
        fprintf(stderr, "modelmux-dp: cannot start the config thread\n");
        goto out;
    }
    gw_info("listening on %s (admin %s), %d workers, config from %s", o.listen, o.admin_listen,
            o.workers, o.cp ? o.cp : o.config);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (sh.tls) /* new connections get the files' current pair */
                gw_tls_server_sighup(sh.tls);
            if (o.config)
                dp_cfgsync_reload_file(cs);
            else if (!sh.tls)
                gw_info("SIGHUP ignored (following the control plane)");
            continue;
        }
        gw_info("signal %d: draining requests in flight", sig);
        break;
    }
    rc = 0;
out:
    dp_cfgsync_free(cs);
    cs = NULL;
    for (int i = 0; sh.workers && i < o.workers; i++)
        if (sh.workers[i])
            dp_worker_drain(sh.workers[i]);
    for (int i = 0; sh.workers && i < o.workers; i++)
        if (sh.workers[i])
            dp_worker_join(sh.workers[i]);
    dp_admin_stop(admin);
    for (int i = 0; sh.workers && i < o.workers; i++) {
        dp_worker_free(sh.workers[i]);
        sh.workers[i] = NULL;
    }
    gw_free(sh.workers);
    sh.workers = NULL;
    dp_rl_free(sh.rl);
    dp_metrics_free(sh.metrics);
    if (sh.listen_fd >= 0)
        close(sh.listen_fd); /* when no daemon took it (a failed start) */
    dp_shared_cleanup(&sh);
    dp_suspensions_free(sh.state);
    gw_tls_server_free(sh.tls); /* after the workers' listeners stopped */
    curl_global_cleanup();
    if (rc == 0)
        gw_info("stopped");
    return rc;
}
