/* Path matching on a compiled config (SPEC 3.1 step 1: 404 / 405).
 *
 * dp_match_build() makes, once per compiled config, a hash table from each
 * served path (basePath/version/target, and basePath/target for
 * default-version APIs) to the (verb, API, operation) triples served there,
 * so one lookup answers 200/404/405. The table is immutable after build
 * and read by every worker with no lock. */
#ifndef DP_MATCH_H
#define DP_MATCH_H

#include "common/err.h"

struct dp_config;
struct dp_api;
struct dp_operation;
struct dp_route_table;

/* Builds cfg->routes from cfg->apis. 0, or -1 with err (out of memory). */
int dp_match_build(struct dp_config *cfg, struct gw_err *err);

/* Frees a table; NULL is a no-op. */
void dp_match_free(struct dp_route_table *rt);

enum dp_match {
    DP_MATCH_OK,        /* *api and *op are set */
    DP_MATCH_NOT_FOUND, /* no API serves the path (404) */
    DP_MATCH_METHOD     /* the path exists for another verb (405) */
};

/* Matches method + path (no query string) against basePath/version/target
 * and, for default-version APIs, basePath/target. O(1) hash lookups. An
 * API's versioned path wins over another API's default-version path. */
enum dp_match dp_config_match(const struct dp_config *cfg, const char *method, const char *path,
                              const struct dp_api **api, const struct dp_operation **op);

#endif
