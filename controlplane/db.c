/* SQLite access for the control plane (see db.h).
 *
 * One connection shared by every MHD worker thread, guarded by one mutex
 * held for the whole of a transaction. Serializing is what makes revisions
 * gapless and strictly increasing under concurrent writers, and it costs
 * little: every admin call is a handful of indexed statements. The
 * revision is also kept in an atomic so long-poll checks need no lock. */
#include "db.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/log.h"
#include "migrate.h"

struct cp_db {
    sqlite3 *h;
    pthread_mutex_t lock;
    _Atomic int64_t revision;
    cp_db_commit_fn hook;
    void *hook_arg;
};

static int sql_fail(struct cp_db *db, struct gw_err *err, const char *what)
{
    return gw_err_set(err, GW_ERR_INTERNAL, "database", NULL, "%s: %s", what,
                      sqlite3_errmsg(db->h));
}

static int exec_plain(struct cp_db *db, const char *sql, struct gw_err *err)
{
    if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(db, err, sql);
    return 0;
}

/* Reads the stored revision into the atomic. Caller holds the lock. */
static int load_revision(struct cp_db *db, struct gw_err *err)
{
    int64_t rev = 0;
    if (cp_db_query_int(db, err, &rev, "SELECT revision FROM config_revision WHERE id = 1", "") < 0)
        return -1;
    atomic_store(&db->revision, rev);
    return 0;
}

/* The database holds secrets: its files are the user's only (SPEC 2, 5).
 * Files left with looser modes (by an older version, a copy, a restore)
 * are set to 0600 before opening, because SQLite gives a new -wal/-shm the
 * mode of the database file itself. */
static const char *const db_suffixes[] = {"", "-wal", "-shm", "-journal"};
#define NSUFFIXES (sizeof(db_suffixes) / sizeof(db_suffixes[0]))

/* Sets each file of path that others may read to 0600; was[i] is its old
 * mode (0 when it was fine or absent), -1 when chmod failed. */
static void tighten_modes(const char *path, long was[NSUFFIXES])
{
    for (size_t i = 0; i < NSUFFIXES; i++) {
        char p[PATH_MAX];
        struct stat st;
        int n = snprintf(p, sizeof(p), "%s%s", path, db_suffixes[i]);
        was[i] = 0;
        if (n < 0 || (size_t)n >= sizeof(p) || stat(p, &st) != 0 || !S_ISREG(st.st_mode) ||
            (st.st_mode & 077) == 0)
            continue;
        was[i] = chmod(p, 0600) == 0 ? (long)(st.st_mode & 07777) : -1;
    }
}

/* Says what tighten_modes did, once the database opened (a start that
 * fails stays one line). */
static void report_modes(const char *path, const long was[NSUFFIXES])
{
    for (size_t i = 0; i < NSUFFIXES; i++) {
        if (was[i] > 0)
            gw_warn("%s%s had mode %04lo (readable by other users): now 0600", path,
                    db_suffixes[i], (unsigned long)was[i]);
        else if (was[i] < 0)
            gw_warn("%s%s is readable by other users and its mode cannot be changed", path,
                    db_suffixes[i]);
    }
}

/* Opens the connection with WAL on. The caller set the umask. */
static int open_handle(struct cp_db *db, const char *path, struct gw_err *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK)
        return gw_err_set(err, GW_ERR_INTERNAL, "database", NULL, "cannot open database %s: %s",
                          path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, 5000);
    /* WAL: readers never block the writer; synchronous=FULL: a change that
     * was acknowledged survives a crash of the process or of the machine. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        sqlite3_finalize(st);
        return gw_err_set(err, GW_ERR_INTERNAL, "database", NULL, "cannot use database %s: %s",
                          path, sqlite3_errmsg(db->h));
    }
    sqlite3_finalize(st);
    return 0;
}

int cp_db_open(const char *path, struct cp_db **out, struct gw_err *err)
{
    struct cp_db *db = gw_calloc(1, sizeof(*db));
    if (!db)
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    pthread_mutex_init(&db->lock, NULL);
    long was[NSUFFIXES];
    tighten_modes(path, was);
    /* Files created from here on (the database, its -wal and -shm) are
     * 0600 whatever umask we were started with. Main thread, before any
     * other thread exists: umask is per process. The migrations run under
     * it too (the first write creates the -wal). */
    mode_t old_umask = umask(077);
    int rc = open_handle(db, path, err);
    if (rc == 0 && (exec_plain(db, "PRAGMA foreign_keys=ON", err) < 0 ||
                    exec_plain(db, "PRAGMA synchronous=FULL", err) < 0 ||
                    cp_migrate(db->h, err) < 0 || load_revision(db, err) < 0))
        rc = -1;
    umask(old_umask);
    if (rc < 0) {
        cp_db_close(db);
        return -1;
    }
    report_modes(path, was);
    *out = db;
    return 0;
}

void cp_db_close(struct cp_db *db)
{
    if (!db)
        return;
    if (db->h) {
        sqlite3_exec(db->h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_close_v2(db->h);
    }
    pthread_mutex_destroy(&db->lock);
    gw_free(db);
}

void cp_db_set_commit_hook(struct cp_db *db, cp_db_commit_fn fn, void *arg)
{
    db->hook = fn;
    db->hook_arg = arg;
}

sqlite3 *cp_db_handle(struct cp_db *db)
{
    return db->h;
}

int64_t cp_db_revision(struct cp_db *db)
{
    return atomic_load(&db->revision);
}

static int begin(struct cp_db *db, const char *sql, struct gw_err *err)
{
    pthread_mutex_lock(&db->lock);
    if (exec_plain(db, sql, err) < 0) {
        pthread_mutex_unlock(&db->lock);
        return -1;
    }
    return 0;
}

int cp_db_begin(struct cp_db *db, struct gw_err *err)
{
    return begin(db, "BEGIN IMMEDIATE", err);
}

int cp_db_read_begin(struct cp_db *db, struct gw_err *err)
{
    return begin(db, "BEGIN", err);
}

void cp_db_read_end(struct cp_db *db)
{
    sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&db->lock);
}

void cp_db_rollback(struct cp_db *db)
{
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&db->lock);
}

int cp_db_commit(struct cp_db *db, int64_t *revision, struct gw_err *err)
{
    int64_t rev = 0;
    if (cp_db_run(db, err, "UPDATE config_revision SET revision = revision + 1 WHERE id = 1", "") !=
            1 ||
        cp_db_query_int(db, err, &rev, "SELECT revision FROM config_revision WHERE id = 1", "") <
            0 ||
        exec_plain(db, "COMMIT", err) < 0) {
        if (err && err->kind == GW_ERR_NONE)
            sql_fail(db, err, "revision");
        cp_db_rollback(db);
        return -1;
    }
    atomic_store(&db->revision, rev);
    pthread_mutex_unlock(&db->lock);
    if (revision)
        *revision = rev;
    if (db->hook)
        db->hook(db->hook_arg, rev);
    return 0;
}

int cp_db_commit_quiet(struct cp_db *db, struct gw_err *err)
{
    if (exec_plain(db, "COMMIT", err) < 0) {
        cp_db_rollback(db);
        return -1;
    }
    pthread_mutex_unlock(&db->lock);
    return 0;
}

/* --- statements ---------------------------------------------------------- */

static int bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
    for (int i = 0; types[i]; i++) {
        int rc = SQLITE_OK;
        switch (types[i]) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, i + 1);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
            break;
        case 'b':
            rc = sqlite3_bind_int(st, i + 1, va_arg(ap, int) ? 1 : 0);
            break;
        default:
            return -1;
        }
        if (rc != SQLITE_OK)
            return -1;
    }
    return 0;
}

static sqlite3_stmt *prepare(struct cp_db *db, struct gw_err *err, const char *sql,
                             const char *types, va_list ap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
        sql_fail(db, err, "prepare");
        return NULL;
    }
    if (bind_args(st, types, ap) < 0) {
        sql_fail(db, err, "bind");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static int step_error(struct cp_db *db, struct gw_err *err, int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return gw_err_set(err, GW_ERR_CONFLICT, "conflict", NULL, "already exists");
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return gw_err_set(err, GW_ERR_CONFLICT, "in_use", NULL,
                          "still referenced by another resource");
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return gw_err_set(err, GW_ERR_INVALID, "invalid", NULL, "invalid value: %s",
                          sqlite3_errmsg(db->h));
    default:
        return sql_fail(db, err, "step");
    }
}

/* Prepares sql, binds ap and steps once. With col0 NULL returns the number
 * of changed rows; else *col0 is column 0 of the first row (0 when there is
 * none) and it returns 0. -1 with err on any failure. */
static int step_once(struct cp_db *db, struct gw_err *err, const char *sql, const char *types,
                     va_list ap, int64_t *col0)
{
    sqlite3_stmt *st = prepare(db, err, sql, types, ap);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret = 0;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        ret = step_error(db, err, rc);
    } else if (col0) {
        if (rc == SQLITE_ROW)
            *col0 = sqlite3_column_int64(st, 0);
    } else {
        ret = sqlite3_changes(db->h);
    }
    sqlite3_finalize(st);
    return ret;
}

int cp_db_run(struct cp_db *db, struct gw_err *err, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = step_once(db, err, sql, types, ap, NULL);
    va_end(ap);
    return rc;
}

/* Steps st collecting column 0 of each row, parsed as JSON, into arr. */
static int collect_json(struct cp_db *db, struct gw_err *err, sqlite3_stmt *st, json_t *arr)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        json_error_t jerr;
        json_t *row = text ? json_loads(text, JSON_DECODE_ANY, &jerr) : json_null();
        if (!row || json_array_append_new(arr, row) < 0)
            return gw_err_set(err, GW_ERR_INTERNAL, "database", NULL, "bad stored JSON");
    }
    return rc == SQLITE_DONE ? 0 : step_error(db, err, rc);
}

static int query_json_v(struct cp_db *db, struct gw_err *err, json_t **out, const char *sql,
                        const char *types, va_list ap)
{
    *out = NULL;
    sqlite3_stmt *st = prepare(db, err, sql, types, ap);
    if (!st)
        return -1;
    json_t *arr = json_array();
    int rc = -1;
    if (!arr) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        goto out;
    }
    if (collect_json(db, err, st, arr) < 0) {
        json_decref(arr);
        goto out;
    }
    *out = arr;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int cp_db_query_json(struct cp_db *db, struct gw_err *err, json_t **out, const char *sql,
                     const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = query_json_v(db, err, out, sql, types, ap);
    va_end(ap);
    return rc;
}

int cp_db_query_one(struct cp_db *db, struct gw_err *err, json_t **out, const char *sql,
                    const char *types, ...)
{
    json_t *arr = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = query_json_v(db, err, &arr, sql, types, ap);
    va_end(ap);
    *out = NULL;
    if (rc < 0)
        return -1;
    if (json_array_size(arr) > 0)
        *out = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return 0;
}

int cp_db_query_int(struct cp_db *db, struct gw_err *err, int64_t *out, const char *sql,
                    const char *types, ...)
{
    va_list ap;
    *out = 0;
    va_start(ap, types);
    int rc = step_once(db, err, sql, types, ap, out);
    va_end(ap);
    return rc;
}

int cp_db_new_id(char out[33], struct gw_err *err)
{
    if (gw_random_hex(8, out, 33) < 0)
        return gw_err_set(err, GW_ERR_INTERNAL, "random", NULL, "random source failed");
    return 0;
}
