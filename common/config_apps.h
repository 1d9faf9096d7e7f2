/* Reading a snapshot's "applications" and "keys" into the config model
 * (config_apps.c); called by the document reader (config_json.c) only. */
#ifndef GW_CONFIG_APPS_H
#define GW_CONFIG_APPS_H

#include <jansson.h>

#include "common/config.h"
#include "common/err.h"

/* Reads doc's "applications" (each with its subscriptions) and "keys"
 * (each naming one of those applications) into cfg. Returns 0, or -1 with
 * err (GW_ERR_INVALID with the JSON path, or GW_ERR_NOMEM). */
int gw_cfg_read_apps_keys(json_t *doc, struct gw_cfg *cfg, struct gw_err *err);

/* The same from the texts of the "applications" and "keys" arrays (alen
 * and klen bytes), without a tree, for a document in the strict subset
 * common/json_raw.h reads. Returns 0, or -1 when they are not in it or not
 * valid (cfg may then hold part of them: free it and read the document
 * with gw_cfg_read_apps_keys, which says why). */
int gw_cfg_read_apps_keys_text(const char *apps, size_t alen, const char *keys, size_t klen,
                               struct gw_cfg *cfg);

#endif
