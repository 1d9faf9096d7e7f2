/* Time sources: monotonic milliseconds for timeouts and suspensions, wall
 * clock for windows aligned to UTC and for timestamps. Tests may override the
 * wall clock with MODELMUX_FAKE_NOW_OFFSET_S (seconds added to the real time),
 * read once at start, so window roll-over can be tested without waiting. */
#ifndef GW_CLOCK_H
#define GW_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds since an arbitrary point. */
int64_t gw_now_ms(void);

/* Wall clock, seconds since the Unix epoch (with the test offset applied). */
int64_t gw_wall_s(void);

/* Wall clock in milliseconds since the Unix epoch (with the test offset). */
int64_t gw_wall_ms(void);

/* The absolute time ms milliseconds from now on clock clk (CLOCK_REALTIME
 * or CLOCK_MONOTONIC), for pthread_cond_timedwait and friends. ms >= 0. */
void gw_deadline_ts(clockid_t clk, int64_t ms, struct timespec *ts);

/* Formats t (Unix seconds) as RFC 3339 UTC "2026-11-21T11:30:00Z" into out
 * (at least 21 bytes). */
void gw_format_rfc3339(int64_t t, char out[32]);

/* Parses an RFC 3339 timestamp ("2026-11-21T11:30:00Z", fractional seconds
 * and a +hh:mm offset allowed). Returns 0 and sets *out (Unix seconds), or -1. */
int gw_parse_rfc3339(const char *s, int64_t *out);

#endif
