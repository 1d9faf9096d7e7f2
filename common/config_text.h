/* Reading a config snapshot from its JSON text: the one entry point both
 * binaries use (the control plane on what it is about to publish, the data
 * plane on what it applies), so a snapshot one accepts the other accepts.
 *
 * The snapshot's bulk is its keys and applications (100,000 keys and 1,000
 * applications x 100 subscriptions is about 19 MB, issue 11 item 11). When
 * the text is in the control plane's canonical form (compact, keys sorted,
 * printable ASCII in the bulk), it is read without a jansson tree for the
 * bulk and its sha256 is checked on the text itself; any other text (a
 * hand-written --config file, say) is read the general way, through one
 * jansson tree, with the same result and the same error messages. Pure;
 * any thread. */
#ifndef GW_CONFIG_TEXT_H
#define GW_CONFIG_TEXT_H

#include "common/config.h"

#include <stddef.h>

/* Parses text (len bytes), checks its schemaVersion, that its sha256
 * matches its content, and everything gw_cfg_from_json checks. Returns a
 * new model, or NULL with err: GW_ERR_INVALID with code "invalid_json"
 * (not JSON), "schema_version", "sha256_mismatch" or "invalid_config"
 * (field: the JSON path), or GW_ERR_NOMEM. */
struct gw_cfg *gw_cfg_from_text(const char *text, size_t len, struct gw_err *err);

/* The first way alone: a model when text is in the canonical form (its
 * sha256 matches its text, the bulk is in the strict subset) and valid,
 * else NULL without saying why. gw_cfg_from_text tries it first; tests
 * call it to check that a text takes this way and gives the same model. */
struct gw_cfg *gw_cfg_from_canonical_text(const char *text, size_t len);

#endif
