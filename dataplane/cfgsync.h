/* Config sources of the data plane: following the control plane, or a file.
 *
 * - Control plane (--cp URL): a thread long-polls
 *   GET {cp}/dp/v1/config?after=N&wait=30 with the data-plane token and
 *   X-Dataplane-Id (a blocking curl easy handle: it is this thread's only
 *   job). Each 200 is validated and compiled (dp_config_compile) before it is
 *   published to the workers; an invalid snapshot is logged and skipped, the
 *   current config stays. After a successful apply the document is written
 *   to --cache atomically (temp file, fsync, rename, mode 0600). When the
 *   first attempt fails, the cache is loaded so the data plane serves while
 *   the control plane is down. Errors back off exponentially with jitter.
 * - File (--config FILE): read at start; dp_cfgsync_reload_file on SIGHUP
 *   (an invalid new file keeps the old config, with a log line saying why).
 *
 * Publishing (dp_shared_publish) is atomic for the workers: requests keep
 * the snapshot they started with. Routing state carries over (suspension.h). */
#ifndef DP_CFGSYNC_H
#define DP_CFGSYNC_H

#include "common/err.h"

struct dp_shared;
struct dp_cfgsync;

struct dp_cfgsync_opts {
    const char *cp_url;     /* --cp, or NULL */
    const char *file;       /* --config, or NULL */
    const char *cache_path; /* --cache */
    const char *token;      /* MODELMUX_DP_TOKEN, may be NULL */
    const char *id;         /* --id */
    const char *cp_ca;      /* --cp-ca: extra trusted CA file for an https --cp, or NULL */
};

/* Creates the source. With a file, loads it now: -1 path → NULL with err
 * (the caller exits 1). Strings are copied. */
struct dp_cfgsync *dp_cfgsync_new(struct dp_shared *sh, const struct dp_cfgsync_opts *o,
                                  struct gw_err *err);

/* Control-plane mode: starts the polling thread. Returns 0 or -1. */
int dp_cfgsync_start(struct dp_cfgsync *cs);

/* File mode: re-reads the file; on any problem keeps the current config
 * and logs why. Returns 0 applied, -1 kept. */
int dp_cfgsync_reload_file(struct dp_cfgsync *cs);

/* Stops the thread (aborting a long poll in progress) and frees. */
void dp_cfgsync_free(struct dp_cfgsync *cs);

#endif
