/* Creates an import description (import_map.h) through the resource layer
 * (resources.h), inside the caller's write transaction: the secrets, the
 * vendor (found by name, or created from "create" when none has that
 * name), the API, its endpoints, then its policies with endpoint refs
 * replaced by the new ids. Every validation rule is the resource layer's;
 * an error about one item gets the item's "at" text prepended, so it names
 * the line (and, for custom resources, the document).
 *
 * Runs on the HTTP worker thread that owns the transaction. */
#ifndef CP_IMPORT_APPLY_H
#define CP_IMPORT_APPLY_H

#include <jansson.h>

#include "common/err.h"
#include "db.h"

/* Creates everything desc describes (desc is modified: the vendor id is set
 * in desc.api, refs in policy bodies are replaced). Returns 0 with *api the
 * created API (new reference), or -1 with err; the caller then rolls back. */
int cp_im_apply(struct cp_db *db, json_t *desc, json_t **api, struct gw_err *err);

#endif
