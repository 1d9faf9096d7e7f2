/* Schema migrations: schema/sqlite/NNN_name.sql applied in order at start.
 *
 * Each file whose number is above the highest version recorded in the
 * schema_migrations table runs in its own transaction together with the row
 * that records it, so a crash mid-migration leaves the database at the
 * previous version. The files are found, in order, in $MODELMUX_SCHEMA_DIR,
 * <exe>/../../schema/sqlite (the repo's build/bin), <exe>/../share/modelmux/
 * schema/sqlite (an installed copy), and the source tree this binary was
 * built from. Runs on the main thread before the server starts. */
#ifndef CP_MIGRATE_H
#define CP_MIGRATE_H

#include <sqlite3.h>
#include <stddef.h>

#include "common/err.h"

/* Applies the pending migrations to db. Returns the number applied (>= 0),
 * or -1 with err (GW_ERR_INTERNAL naming the file and SQLite's message). */
int cp_migrate(sqlite3 *db, struct gw_err *err);

/* Finds the migrations directory (see above) into out (size outsz).
 * Returns 0, or -1 when none exists. */
int cp_migrate_find_dir(char *out, size_t outsz);

#endif
