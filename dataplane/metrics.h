/* Request metrics of the data plane, rendered on /metrics (SPEC 3.2).
 *
 * One shard per worker: the worker updates only its own shard, under the
 * shard's mutex, which is uncontended except while a scrape copies it (no
 * lock is shared between workers on the request path). A scrape (admin
 * thread) merges the shards and renders Prometheus text with the routing
 * state's suspensions, the rate limiter's lines and the config revision.
 * Series are keyed by their rendered label set; each shard holds at most
 * DP_METRICS_MAX_SERIES series per family (more are dropped and counted in
 * modelmux_metrics_dropped_total). Label values are bounded by the applied
 * config (dp_metrics_publish, metrics_labels.h): model="other" for a model
 * it does not name, and no series of what it no longer has. */
#ifndef DP_METRICS_H
#define DP_METRICS_H

#include "common/buf.h"

#include <stdint.h>

#define DP_METRICS_MAX_SERIES 10000

struct dp_metrics;
struct dp_metrics_shard;
struct dp_metrics_labels;
struct dp_suspensions;
struct dp_rl;

/* Creates the registry with nshards shards. NULL when out of memory. */
struct dp_metrics *dp_metrics_new(int nshards);
void dp_metrics_free(struct dp_metrics *m);

/* The shard of worker i (0 <= i < nshards). */
struct dp_metrics_shard *dp_metrics_shard(struct dp_metrics *m, int i);

/* modelmux_requests_total{api,model,endpoint,status}. NULL labels are "". */
void dp_metrics_request(struct dp_metrics_shard *s, const char *api, const char *model,
                        const char *endpoint, int status);

/* modelmux_upstream_duration_seconds{endpoint} (histogram). */
void dp_metrics_upstream(struct dp_metrics_shard *s, const char *endpoint, int64_t ms);

/* modelmux_time_to_first_token_seconds{api,model} (histogram): a stream's
 * first event, ms after the request arrived. */
void dp_metrics_ttft(struct dp_metrics_shard *s, const char *api, const char *model, int64_t ms);

/* modelmux_tries_total{api,model,endpoint,outcome}: one try ended. */
void dp_metrics_try(struct dp_metrics_shard *s, const char *api, const char *model,
                    const char *endpoint, const char *outcome);

/* modelmux_stream_breaks_total{api,endpoint}. */
void dp_metrics_stream_break(struct dp_metrics_shard *s, const char *api, const char *endpoint);

/* modelmux_tokens_total{api,model,kind} for kind prompt and completion
 * (values < 0 ignored). */
void dp_metrics_tokens(struct dp_metrics_shard *s, const char *api, const char *model,
                       int64_t prompt, int64_t completion);

/* modelmux_ratelimited_total{api}. */
void dp_metrics_ratelimited(struct dp_metrics_shard *s, const char *api);

/* Makes l (taken over; may be NULL: ignored) the label set of the applied
 * config: later updates count a model it does not name as "other", and the
 * series of APIs, endpoints and models it does not name are deleted now.
 * Called on the config thread after each new config is published. */
void dp_metrics_publish(struct dp_metrics *m, struct dp_metrics_labels *l);

/* Appends the whole exposition: every family above (merged over shards),
 * modelmux_target_suspended for the targets of the last published label set
 * (state is not read any more: the suspension states come with the label
 * set), rl's lines (may be NULL) and modelmux_config_revision. Returns 0 or
 * -1 (out of memory). */
int dp_metrics_render(struct dp_metrics *m, struct dp_suspensions *state, const struct dp_rl *rl,
                      int64_t revision, struct gw_buf *out);

#endif
