/* API-key authentication (keys.h). Built on the thread that compiles a
 * config; looked up by every worker, reading only. */
#include "keys.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "config.h"
#include "hashmap.h"

struct dp_key_index {
    struct dp_hmap map; /* sha256 hex -> struct dp_key */
};

void dp_keys_free(struct dp_key_index *ki)
{
    if (!ki)
        return;
    dp_hmap_cleanup(&ki->map);
    gw_free(ki);
}

int dp_keys_build(struct dp_config *cfg, struct gw_err *err)
{
    struct dp_key_index *ki = gw_calloc(1, sizeof(*ki));
    if (!ki)
        goto nomem;
    cfg->keyindex = ki;
    if (dp_hmap_init(&ki->map, cfg->nkeys) < 0)
        goto nomem;
    for (size_t i = 0; i < cfg->nkeys; i++)
        if (dp_hmap_put(&ki->map, cfg->keys[i].hash, 64, &cfg->keys[i]) < 0)
            goto nomem;
    return 0;
nomem:
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory compiling config");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An API key has its application's subscriptions, an OAuth client its own. */
int dp_key_subscribed(const struct dp_key *k, const char *api_id)
{
    char *const *subs = k->app ? k->app->subscriptions : k->subscriptions;
    size_t n = k->app ? k->app->nsubscriptions : k->nsubscriptions;
    return bsearch(&api_id, subs, n, sizeof(char *), cmp_str) != NULL;
}

enum dp_key_check dp_config_check_key(const struct dp_config *cfg, const struct dp_api *api,
                                      const char *presented, int64_t now_s,
                                      const struct dp_key **key)
{
    char hex[GW_SHA256_HEX_LEN + 1];
    const struct dp_key_index *ki = cfg->keyindex;
    gw_sha256_hex_hot(presented, strlen(presented), hex);
    const struct dp_key *k = dp_hmap_get(&ki->map, hex, GW_SHA256_HEX_LEN);
    if (!k)
        return DP_KEY_UNKNOWN;
    if (k->expires_at != 0 && now_s >= k->expires_at)
        return DP_KEY_EXPIRED;
    if (api && api->subscription_validation && !dp_key_subscribed(k, api->id))
        return DP_KEY_NOT_SUBSCRIBED;
    *key = k;
    return DP_KEY_OK;
}
