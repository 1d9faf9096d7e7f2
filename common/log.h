/* One-line logging to stderr, shared by both binaries.
 *
 * Lines look like `2026-11-21T11:30:00Z modelmux-dp warn: message`. Each call
 * writes its line with a single write(2) so lines from several threads never
 * interleave. Never pass a secret or an API key to these functions. */
#ifndef GW_LOG_H
#define GW_LOG_H

enum gw_log_level {
    GW_LOG_DEBUG, /* noisy detail, only with MODELMUX_DEBUG=1 */
    GW_LOG_INFO,  /* lifecycle: started, config applied */
    GW_LOG_WARN,  /* something degraded: upstream down, Redis down */
    GW_LOG_ERROR  /* an operation failed */
};

/* Sets the program name shown in every line (default "modelmux"). */
void gw_log_set_program(const char *name);

void gw_log(enum gw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes a raw line (a JSON access-log record, say) plus '\n' to stderr in one
 * write. */
void gw_log_raw(const char *line, unsigned long len);

#define gw_debug(...) gw_log(GW_LOG_DEBUG, __VA_ARGS__)
#define gw_info(...) gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_warn(...) gw_log(GW_LOG_WARN, __VA_ARGS__)
#define gw_error(...) gw_log(GW_LOG_ERROR, __VA_ARGS__)

#endif
