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

/* Builds the snapshot of the current revision. Returns 0 with *out the
 * document (new reference) and *revision its revision, or -1 with err. */
int cp_snapshot_build(struct cp_db *db, json_t **out, int64_t *revision, struct gw_err *err);

/* The "sha256" of a snapshot: SHA-256 hex of the compact, key-sorted JSON of
 * {"vendors", "apis", "keys"} taken from doc. Returns 0 or -1 (no memory). */
int cp_snapshot_hash(json_t *doc, char out[65]);

#endif
