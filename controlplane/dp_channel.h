/* The data-plane channel: GET /dp/v1/config?after=N&wait=S (SPEC 2.3).
 *
 * Answers at once with the snapshot when the revision is above N, else
 * suspends the MHD connection (no thread is held) until a commit wakes it
 * (cp_dp_notify, the database commit hook) or its wait runs out (a small
 * timer thread resumes expired waiters, then the request answers 304).
 * Keeps the built snapshot of the latest revision as one shared MHD
 * response, so a commit that wakes many data planes builds it once. Also
 * keeps the registry of data planes seen (id, applied revision, last seen)
 * for GET /api/v1/dataplanes: the applied revision is the request's
 * X-Dataplane-Revision header when it has one, else its "after".
 *
 * Locks: `lock` guards the waiter list and is held around MHD suspend/resume;
 * `rec_lock` guards the registry and is the only lock taken from MHD's
 * completion callback; `cache_lock` guards the snapshot cache. */
#ifndef CP_DP_CHANNEL_H
#define CP_DP_CHANNEL_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>

#include "common/err.h"

struct cp_db;
struct cp_dp;

/* Longest wait a data plane may ask for, and the default. */
#define CP_DP_MAX_WAIT_S 60
#define CP_DP_DEFAULT_WAIT_S 30
/* A data plane not seen for this long is "stale". */
#define CP_DP_STALE_S 90
/* Optional request header: the revision the data plane runs (default: its
 * "after"), listed by GET /api/v1/dataplanes. */
#define CP_DP_REVISION_HEADER "X-Dataplane-Revision"

/* Creates the channel. token: the data-plane token (NULL or "" = refuse
 * every data plane). Starts the timer thread. Returns NULL with err. */
struct cp_dp *cp_dp_new(struct cp_db *db, const char *token, struct gw_err *err);

/* Stops the timer thread and frees. Call after the HTTP server stopped. */
void cp_dp_free(struct cp_dp *dp);

/* The commit hook (cp_db_commit_fn): wakes every waiting request. */
void cp_dp_notify(void *arg, int64_t revision);

/* The MHD access handler for /dp/v1/...; *state is per-request storage
 * (NULL on the first call; freed by cp_dp_request_done). */
enum MHD_Result cp_dp_handle(struct cp_dp *dp, struct MHD_Connection *c, const char *url,
                             const char *method, void **state);

/* Called from MHD's completion callback with the request's state. */
void cp_dp_request_done(struct cp_dp *dp, void *state);

/* Wakes every waiter and makes new ones answer at once (shutdown). */
void cp_dp_shutdown(struct cp_dp *dp);

/* The data planes seen, as a JSON array of {"id", "revision", "lastSeen",
 * "status"} ("current", "behind" or "stale"). New reference or NULL. */
json_t *cp_dp_list(struct cp_dp *dp);

#endif
