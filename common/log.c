/* stderr logging (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *program = "modelmux";

void gw_log_set_program(const char *name)
{
    program = name;
}

static int debug_enabled(void)
{
    static int cached = -1;
    if (cached < 0) {
        const char *v = getenv("MODELMUX_DEBUG");
        cached = v && *v && strcmp(v, "0") != 0;
    }
    return cached;
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void gw_log(enum gw_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level == GW_LOG_DEBUG && !debug_enabled())
        return;
    char line[2048];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int n = (int)strftime(line, 32, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, "%s %s: ", program, names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    write_all(line, (size_t)n);
}

void gw_log_raw(const char *line, unsigned long len)
{
    char stackbuf[4096];
    if (len + 1 <= sizeof(stackbuf)) {
        memcpy(stackbuf, line, len);
        stackbuf[len] = '\n';
        write_all(stackbuf, len + 1);
        return;
    }
    write_all(line, len);
    write_all("\n", 1);
}
