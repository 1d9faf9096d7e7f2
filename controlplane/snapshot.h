/* The config snapshot a data plane loads: the whole configuration at one
 * revision, in the shape of schema/config.schema.json.
 *
 * Built from the database in one read transaction, so revision and content
 * always agree. Endpoint credentials are resolved from the secrets here
 * (the document is sensitive: it only ever goes to an authenticated data
 * plane); API keys appear as hashes only. Any thread. */
#ifndef CP_SNAPSHOT_H
#define CP_SNAPSHOT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct cp_db;

#define CP_SNAPSHOT_SCHEMA_VERSION 1

/* Builds the snapshot of the current revision as its JSON text: compact,
 * members sorted in every part that is hashed (so its "sha256" is of the
 * text itself, common/config_text.h), read back with the data plane's
 * reader before it is returned. Returns 0 with *text (len bytes,
 * NUL-terminated; gw_free it) and *revision, or -1 with err (code
 * "snapshot_too_large" over GW_SNAPSHOT_MAX_BYTES, "invalid_snapshot" when
 * a data plane would refuse it). */
int cp_snapshot_build(struct cp_db *db, char **text, size_t *len, int64_t *revision,
                      struct gw_err *err);

#endif
