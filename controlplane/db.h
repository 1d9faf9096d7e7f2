/* The control plane's SQLite database: one connection, one lock, revisions.
 *
 * cp_db owns the single sqlite3 connection (WAL, foreign keys on, busy
 * timeout) and the mutex that serializes every use of it, so writers never
 * interleave and every committed change gets the next revision with no gaps.
 * All access goes through a transaction opened here:
 *
 *   cp_db_begin()      lock + BEGIN IMMEDIATE (a change)
 *   ... cp_db_run() / cp_db_query_*() ...
 *   cp_db_commit()     bump config revision + COMMIT + unlock + wake waiters
 *   cp_db_rollback()   ROLLBACK + unlock (on any failure: nothing changes)
 *
 *   cp_db_read_begin() lock + BEGIN (a consistent read), cp_db_read_end()
 *
 * Any thread may call these; a thread must not nest transactions. SQL is
 * only ever run as prepared statements with bound parameters. */
#ifndef CP_DB_H
#define CP_DB_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "common/err.h"

struct cp_db;

/* Called after each successful commit with the new revision, still inside
 * cp_db_commit() but after the lock is released. Must not block. */
typedef void (*cp_db_commit_fn)(void *arg, int64_t revision);

/* Opens (creating it when missing) the database at path, sets WAL, foreign
 * keys and the busy timeout, and applies the migrations (see migrate.h).
 * The database and its -wal/-shm are created 0600 (umask 077 while
 * opening), and existing ones with looser modes are set to 0600 with a
 * warning. Main thread, before other threads exist.
 * Returns 0 with *out set, or -1 with err filled (GW_ERR_INTERNAL). */
int cp_db_open(const char *path, struct cp_db **out, struct gw_err *err);

/* Closes the connection (checkpointing the WAL). NULL is a no-op. No
 * transaction may be open. */
void cp_db_close(struct cp_db *db);

/* Registers the commit hook (one; NULL to clear). Set before serving. */
void cp_db_set_commit_hook(struct cp_db *db, cp_db_commit_fn fn, void *arg);

/* The raw connection, for code running inside a transaction of this API. */
sqlite3 *cp_db_handle(struct cp_db *db);

/* Starts a write transaction: takes the writer lock, BEGIN IMMEDIATE.
 * Returns 0, or -1 (lock released, err filled). */
int cp_db_begin(struct cp_db *db, struct gw_err *err);

/* Bumps the config revision, commits and releases the lock. On success
 * *revision (may be NULL) is the new revision and the commit hook runs.
 * On failure the transaction is rolled back, the lock released, -1. */
int cp_db_commit(struct cp_db *db, int64_t *revision, struct gw_err *err);

/* Commits without bumping the revision and without waking data planes: for
 * bookkeeping that is not configuration (the admin token's hash). 0 / -1. */
int cp_db_commit_quiet(struct cp_db *db, struct gw_err *err);

/* Rolls back the open write or read transaction and releases the lock. */
void cp_db_rollback(struct cp_db *db);

/* Starts a read-only transaction (consistent view); end with
 * cp_db_read_end(). Returns 0 or -1 (lock released, err filled). */
int cp_db_read_begin(struct cp_db *db, struct gw_err *err);

/* Ends the read transaction of cp_db_read_begin() and releases the lock. */
void cp_db_read_end(struct cp_db *db);

/* The last committed revision (no lock needed). */
int64_t cp_db_revision(struct cp_db *db);

/* --- statements (only inside a transaction) ------------------------------
 *
 * Parameters are described by a type string, one letter per argument:
 *   's' const char * (NULL binds SQL NULL), 'i' int64_t, 'b' int (0/1)
 * e.g. cp_db_run(db, err, "UPDATE t SET a=?1 WHERE id=?2", "is", n, id). */

/* Runs a statement that returns no rows. Returns the number of changed rows
 * (>= 0), or -1 with err: a UNIQUE violation is GW_ERR_CONFLICT, a foreign
 * key violation GW_ERR_CONFLICT, anything else GW_ERR_INTERNAL. */
int cp_db_run(struct cp_db *db, struct gw_err *err, const char *sql, const char *types, ...);

/* Runs a query whose rows each have one TEXT column holding JSON (build it
 * with SQLite's json_object()). Returns 0 with *out a new JSON array of the
 * parsed rows (new reference), or -1 with err. */
int cp_db_query_json(struct cp_db *db, struct gw_err *err, json_t **out, const char *sql,
                     const char *types, ...);

/* Like cp_db_query_json for at most one row: *out is the parsed row (new
 * reference) or NULL when there is no row. Returns 0 or -1. */
int cp_db_query_one(struct cp_db *db, struct gw_err *err, json_t **out, const char *sql,
                    const char *types, ...);

/* Runs a query returning one integer (e.g. SELECT count(*)). Returns 0 with
 * *out set (0 when there is no row), or -1 with err. */
int cp_db_query_int(struct cp_db *db, struct gw_err *err, int64_t *out, const char *sql,
                    const char *types, ...);

/* Writes a new random resource id (16 hex chars) into out. Returns 0/-1. */
int cp_db_new_id(char out[33], struct gw_err *err);

#endif
