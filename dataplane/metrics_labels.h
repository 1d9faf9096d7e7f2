/* The label values /metrics may show (SPEC 3.2, issue 11 item 10): only what
 * the applied configuration names. A model that no routing policy and no
 * vendor model list names is reported as model="other", and the series of
 * APIs, endpoints, models and targets that a new config no longer has are
 * deleted, so no caller and no number of reloads can grow /metrics.
 *
 * A struct dp_metrics_labels is built once per applied config (on the
 * config thread), handed to the metrics registry (dp_metrics_publish), and
 * then only read, under the registry's locks. It owns copies of every
 * string. Threads: any, one at a time. */
#ifndef DP_METRICS_LABELS_H
#define DP_METRICS_LABELS_H

#include <stddef.h>

struct dp_config;
struct dp_target_state;
struct dp_metrics_labels;

/* One routing target of the config, for modelmux_target_suspended. */
struct dp_metrics_target {
    const char *api;
    const char *model;
    const char *endpoint;
    const struct dp_target_state *state; /* owned by struct dp_suspensions (never freed before it) */
};

/* The label values of a compiled config: API names, endpoint names, the
 * models of every routing target and of every vendor's model list. NULL
 * when out of memory. */
struct dp_metrics_labels *dp_metrics_labels_of_config(const struct dp_config *cfg);

/* An empty set, and its parts one by one (for tests, and for the function
 * above). The adders copy their strings and return 0, or -1 when out of
 * memory. Adding a target adds its API, model and endpoint too. */
struct dp_metrics_labels *dp_metrics_labels_new(void);
void dp_metrics_labels_free(struct dp_metrics_labels *l);
int dp_metrics_labels_add_api(struct dp_metrics_labels *l, const char *api);
int dp_metrics_labels_add_endpoint(struct dp_metrics_labels *l, const char *endpoint);
int dp_metrics_labels_add_model(struct dp_metrics_labels *l, const char *model);
int dp_metrics_labels_add_target(struct dp_metrics_labels *l, const char *api, const char *model,
                                 const char *endpoint, const struct dp_target_state *state);

/* Whether the config names this value. */
int dp_metrics_labels_has_api(const struct dp_metrics_labels *l, const char *api);
int dp_metrics_labels_has_endpoint(const struct dp_metrics_labels *l, const char *endpoint);
int dp_metrics_labels_has_model(const struct dp_metrics_labels *l, const char *model);

/* The targets, each label triple once: policies naming the same (API,
 * model, endpoint) share one suspension state (suspension.h keys it so), and the
 * first one named is kept. */
size_t dp_metrics_labels_ntargets(const struct dp_metrics_labels *l);
const struct dp_metrics_target *dp_metrics_labels_target(const struct dp_metrics_labels *l,
                                                         size_t i);

#endif
