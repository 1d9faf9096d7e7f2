/* modelmux-cp: the control plane (SPEC 2).
 *
 *   modelmux-cp [--listen HOST:PORT] [--db FILE] [--web DIR]
 *               [--tls-cert FILE --tls-key FILE]
 *
 * Opens and migrates the database, sets up the admin token, starts the
 * HTTP server (http.c) and the data-plane channel (dp_channel.c), then the
 * main thread only waits for signals: SIGHUP reloads the --tls-cert/--tls-key
 * pair (a pair that does not load is logged and the old one kept);
 * SIGTERM/SIGINT stop accepting, finish the requests in flight, close the
 * database, exit 0. A --tls-cert or --tls-key that does not load at start
 * is a runtime failure (exit 1). Exit 2 on a bad flag,
 * 1 on a runtime failure (port in use, database that cannot be opened or
 * migrated), each with one line on stderr. The hidden flag --print-routes
 * prints the admin route table (for the OpenAPI test) and exits. */
#include <getopt.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin_token.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/crypto.h"
#include "common/fdlimit.h"
#include "common/log.h"
#include "common/tls_server_mhd.h"
#include "db.h"
#include "dp_channel.h"
#include "jwks_fetch.h"
#include "http.h"
#include "routes.h"
#include "secrets_at_rest.h"

#define PROG "modelmux-cp"

static const char usage_text[] =
    "usage: " PROG " [--listen HOST:PORT] [--db FILE] [--web DIR]\n"
    "                   [--tls-cert FILE --tls-key FILE]\n"
    "  --listen HOST:PORT  admin API, data-plane channel and web UI (default 127.0.0.1:9400)\n"
    "  --db FILE           SQLite database, created and migrated on start (default "
    "./modelmux.db)\n"
    "  --web DIR           static files of the web UI (default: the repo's web/)\n"
    "  --tls-cert FILE     PEM certificate chain: the listener speaks HTTPS only (with --tls-key;\n"
    "                      TLS 1.2+; SIGHUP reloads both files)\n"
    "  --tls-key FILE      PEM private key of --tls-cert\n"
    "environment: MODELMUX_ADMIN_TOKEN (admin bearer token; generated and printed once when "
    "unset),\n"
    "             MODELMUX_DP_TOKEN (data-plane token; unset = refuse every data plane),\n"
    "             MODELMUX_SECRETS_KEY (32 bytes, hex or base64: secret values stored "
    "encrypted),\n"
    "             MODELMUX_SECRETS_KEY_OLD (the previous key, to re-encrypt with the new one)\n";

struct options {
    const char *listen;
    const char *db;
    const char *web;
    const char *tls_cert;
    const char *tls_key;
    int print_routes;
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see --help)\n");
    return 2;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"db", required_argument, NULL, 'd'},
        {"web", required_argument, NULL, 'w'},    {"help", no_argument, NULL, 'h'},
        {"tls-cert", required_argument, NULL, 'c'}, {"tls-key", required_argument, NULL, 'k'},
        {"print-routes", no_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            o->listen = optarg;
            break;
        case 'd':
            o->db = optarg;
            break;
        case 'w':
            o->web = optarg;
            break;
        case 'r':
            o->print_routes = 1;
            break;
        case 'c':
            o->tls_cert = optarg;
            break;
        case 'k':
            o->tls_key = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown flag %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument %s", argv[optind]);
    if (!*o->db)
        return usage_error("%s", "--db must not be empty");
    if (!o->tls_cert != !o->tls_key)
        return usage_error("%s", "--tls-cert and --tls-key go together");
    /* A malformed key is a usage error too, found before the database is
     * touched (a wrong key is found when the database is opened: exit 1). */
    static const char *const key_vars[] = {"MODELMUX_SECRETS_KEY", "MODELMUX_SECRETS_KEY_OLD"};
    for (size_t i = 0; i < sizeof(key_vars) / sizeof(key_vars[0]); i++) {
        const char *v = getenv(key_vars[i]);
        unsigned char key[GW_SEAL_KEY_LEN];
        int bad = v && *v && gw_seal_key_parse(v, key) < 0;
        OPENSSL_cleanse(key, sizeof(key));
        if (bad) {
            fprintf(stderr, PROG ": %s must be 32 bytes, as 64 hex digits or base64\n",
                    key_vars[i]);
            return 2;
        }
    }
    /* A bad --listen is a usage error: refuse it before the database is
     * created (and an admin token generated) for nothing. */
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    char why[256];
    if (!o->print_routes && gw_parse_hostport(o->listen, &sa, &salen, why, sizeof(why)) < 0) {
        fprintf(stderr, PROG ": --listen %s: %s\n", o->listen, why);
        return 2;
    }
    return -1;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The default --web: <exe>/../../web (the repo's, from build/bin), else ./web. */
static void default_web(char *out, size_t outsz)
{
    char exe[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(out, outsz, "%s/../../web", exe);
        if (is_dir(out))
            return;
    }
    snprintf(out, outsz, "web");
}

static void print_routes(void)
{
    for (size_t i = 0; i < cp_nroutes; i++)
        printf("%s %s\n", cp_routes[i].method, cp_routes[i].pattern);
}

/* Waits for SIGTERM/SIGINT (returned); SIGHUP reloads the TLS pair. */
static int wait_stop(const sigset_t *sigs, struct gw_tls_server *tls)
{
    for (;;) {
        int sig = 0;
        if (sigwait(sigs, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            return sig;
        if (tls)
            gw_tls_server_sighup(tls);
        else
            gw_info("SIGHUP: nothing to reload (no --tls-cert)");
    }
}

static int run(const struct options *o, const sigset_t *sigs)
{
    struct gw_err err;
    struct cp_db *db = NULL;
    struct cp_dp *dp = NULL;
    struct cp_http *srv = NULL;
    struct cp_jwks *jwks = NULL;
    struct gw_tls_server *tls = NULL;
    struct cp_http_config cfg = {0};
    char web[PATH_MAX];
    int rc = 1;
    gw_err_clear(&err);
    /* The certificate first: a bad file fails before the database is
     * created (and an admin token generated) for nothing. */
    if (o->tls_cert && !(tls = gw_tls_mhd_server_new(o->tls_cert, o->tls_key, &err)))
        goto out;
    if (cp_db_open(o->db, &db, &err) < 0 ||
        cp_secrets_at_rest_setup(db, getenv("MODELMUX_SECRETS_KEY"),
                                 getenv("MODELMUX_SECRETS_KEY_OLD"), &err) < 0)
        goto out;
    if (cp_admin_token_setup(db, getenv("MODELMUX_ADMIN_TOKEN"), cfg.admin_hash, &err) < 0)
        goto out;
    const char *dp_token = getenv("MODELMUX_DP_TOKEN");
    if (!(dp = cp_dp_new(db, dp_token, &err)))
        goto out;
    cp_db_set_commit_hook(db, cp_dp_notify, dp);
    if (!(jwks = cp_jwks_start(db, &err)))
        goto out;
    if (o->web) {
        snprintf(web, sizeof(web), "%s", o->web);
    } else {
        default_web(web, sizeof(web));
    }
    cfg.listen = o->listen;
    cfg.web_dir = web;
    cfg.db = db;
    cfg.dp = dp;
    cfg.tls = tls;
    if (cp_http_start(&cfg, &srv, &err) < 0) {
        rc = err.kind == GW_ERR_INVALID ? 2 : 1;
        goto out;
    }
    gw_info("listening on %s%s (database %s, revision %lld, web %s)", o->listen,
            tls ? " (HTTPS)" : "", o->db, (long long)cp_db_revision(db), web);
    /* Once serving (a failed start stays one line on stderr). */
    if (!dp_token || !*dp_token)
        gw_warn("MODELMUX_DP_TOKEN is not set: every data plane will be refused (401 on /dp/v1)");
    int sig = wait_stop(sigs, tls);
    gw_info("signal %d: shutting down", sig);
    cp_http_stop(srv);
    srv = NULL;
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, PROG ": %s\n", err.message[0] ? err.message : "startup failed");
    cp_http_stop(srv);
    cp_jwks_stop(jwks);
    if (db)
        cp_db_set_commit_hook(db, NULL, NULL);
    cp_dp_free(dp);
    cp_db_close(db);
    gw_tls_server_free(tls);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o = {"127.0.0.1:9400", "./modelmux.db", NULL, NULL, NULL, 0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.print_routes) {
        print_routes();
        return 0;
    }
    gw_alloc_init();
    gw_log_set_program(PROG);
    gw_fd_limit_raise(); /* connection caps are sized from it (http.c) */
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread (jwks_fetch.c) */
    /* Block the stop signals in every thread; the main thread takes them
     * with sigwait (SIGHUP reloads the TLS pair: wait_stop). SIGPIPE is
     * ignored (clients may vanish mid-reply). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    return run(&o, &sigs);
}
