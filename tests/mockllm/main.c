/* mockllm: a fast mock of an OpenAI-compatible LLM upstream for the
 * data plane's end-to-end tests, `make demo` and the benchmark.
 *
 *   mockllm --listen HOST:PORT [--name NAME] [--threads N]
 *
 * main parses the flags, binds the socket (so "port in use" is reported
 * as such), starts the server, waits for SIGTERM/SIGINT with sigwait (every
 * thread has them blocked) and stops cleanly. Exit codes: 0 after a signal,
 * 1 on a runtime failure (port in use), 2 on a bad flag. See README.md. */
#include "common/addr.h"
#include "common/alloc.h"
#include "common/log.h"
#include "mock_server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define THREADS_MAX 64
#define LISTEN_BACKLOG 4096

static const char usage[] =
    "usage: mockllm --listen HOST:PORT [--name NAME] [--threads N]\n"
    "  --listen HOST:PORT  address to serve on (required)\n"
    "  --name NAME         name echoed in replies and x-mock-name (default mockllm)\n"
    "  --threads N         worker threads, 1-64 (default 2)\n"
    "Control API under /__mock/ (health, stats, requests, faults): see tests/mockllm/README.md\n";

struct options {
    const char *listen;
    const char *name;
    unsigned threads;
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "mockllm: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see --help)\n");
    return -1;
}

/* Returns 0, 1 after --help, -1 on a bad flag (line printed). */
static int parse_args(int argc, char **argv, struct options *o)
{
    o->listen = NULL;
    o->name = "mockllm";
    o->threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        const char *eq = strchr(a, '=');
        size_t klen = eq ? (size_t)(eq - a) : strlen(a);
        int known = (klen == 8 && strncmp(a, "--listen", 8) == 0) ||
                    (klen == 6 && strncmp(a, "--name", 6) == 0) ||
                    (klen == 9 && strncmp(a, "--threads", 9) == 0);
        if (!known)
            return usage_error("unknown flag '%s'", a);
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return usage_error("flag '%s' needs a value", a);
        if (a[2] == 'l') {
            o->listen = val;
        } else if (a[2] == 'n') {
            if (!*val || strlen(val) > MOCK_NAME_MAX)
                return usage_error("--name must be 1-64 characters, got '%s'", val);
            o->name = val;
        } else {
            char *end;
            errno = 0;
            long n = strtol(val, &end, 10);
            if (errno || *end || end == val || n < 1 || n > THREADS_MAX)
                return usage_error("--threads must be a number 1-64, got '%s'", val);
            o->threads = (unsigned)n;
        }
    }
    if (!o->listen)
        return usage_error("%s", "--listen HOST:PORT is required");
    return 0;
}

/* Binds and listens. Returns the fd, -1 for a runtime failure, -2 for a bad
 * address (a line is printed either way). */
static int open_listener(const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char why[256];
    if (gw_parse_hostport(spec, &ss, &len, why, sizeof(why)) < 0) {
        fprintf(stderr, "mockllm: --listen: %s\n", why);
        return -2;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        fprintf(stderr, "mockllm: cannot listen on %s: %s\n", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Many concurrent streams need many descriptors: raise the soft limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct options o;
    struct mock_server srv;
    struct gw_err err;
    sigset_t stop_signals;
    int sig = 0;

    gw_log_set_program("mockllm");
    gw_alloc_init();
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    /* Block the stop signals before any thread starts so only sigwait sees
     * them. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    int fd = open_listener(o.listen);
    if (fd < 0)
        return fd == -2 ? 2 : 1;
    gw_err_clear(&err);
    if (mock_server_start(&srv, fd, o.name, o.threads, &err) < 0) {
        fprintf(stderr, "mockllm: %s\n", err.message);
        return 1;
    }
    gw_info("listening on %s as '%s' with %u threads", o.listen, o.name, o.threads);
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    gw_info("signal %d: stopping", sig);
    mock_server_stop(&srv);
    return 0;
}
