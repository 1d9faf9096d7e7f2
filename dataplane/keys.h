/* API-key authentication on a compiled config (SPEC 3.1 step 2).
 *
 * dp_keys_build() indexes, once per compiled config, the snapshot's API
 * keys by the SHA-256 hex of the key; dp_config_check_key() hashes the
 * presented key and answers with one lookup. Immutable after build; read by
 * every worker with no lock. */
#ifndef DP_KEYS_H
#define DP_KEYS_H

#include <stdint.h>

#include "common/err.h"

struct dp_config;
struct dp_api;
struct dp_key;
struct dp_key_index;

/* Builds cfg->keyindex from cfg->keys. 0, or -1 with err (out of memory). */
int dp_keys_build(struct dp_config *cfg, struct gw_err *err);

/* Frees an index; NULL is a no-op. */
void dp_keys_free(struct dp_key_index *ki);

enum dp_key_check {
    DP_KEY_OK,            /* *key is set */
    DP_KEY_UNKNOWN,       /* no such key, or revoked (401) */
    DP_KEY_EXPIRED,       /* expires_at passed (401) */
    DP_KEY_NOT_SUBSCRIBED /* subscription validation on, no subscription (403) */
};

/* Hashes the presented key and looks it up; checks expiry against now_s
 * (Unix seconds) and, when the API validates subscriptions, the key's
 * application's subscriptions. */
/* 1 when k's application is subscribed to the API with this id. */
int dp_key_subscribed(const struct dp_key *k, const char *api_id);

enum dp_key_check dp_config_check_key(const struct dp_config *cfg, const struct dp_api *api,
                                      const char *presented, int64_t now_s,
                                      const struct dp_key **key);

#endif
