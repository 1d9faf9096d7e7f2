/* Schema migrations (see migrate.h). Main thread, before serving. */
#include "migrate.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

#define MAX_MIGRATIONS 256
#define MAX_MIGRATION_BYTES (4 * 1024 * 1024)

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Directory part of path (in place). */
static void strip_last(char *path, int times)
{
    for (int i = 0; i < times; i++) {
        char *slash = strrchr(path, '/');
        if (!slash)
            return;
        *slash = '\0';
    }
}

int cp_migrate_find_dir(char *out, size_t outsz)
{
    const char *env = getenv("MODELMUX_SCHEMA_DIR");
    if (env && *env) {
        snprintf(out, outsz, "%s", env);
        return is_dir(out) ? 0 : -1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        strip_last(exe, 1);
        snprintf(out, outsz, "%s/../../schema/sqlite", exe);
        if (is_dir(out))
            return 0;
        snprintf(out, outsz, "%s/../share/modelmux/schema/sqlite", exe);
        if (is_dir(out))
            return 0;
    }
    /* The source tree this file was compiled from (CMake passes absolute
     * paths): <src>/controlplane/migrate.c -> <src>/schema/sqlite. */
    char src[PATH_MAX];
    snprintf(src, sizeof(src), "%s", __FILE__);
    strip_last(src, 2);
    snprintf(out, outsz, "%s/schema/sqlite", src);
    return is_dir(out) ? 0 : -1;
}

struct migration {
    long version;
    char name[NAME_MAX + 1];
};

static int cmp_migration(const void *a, const void *b)
{
    long va = ((const struct migration *)a)->version, vb = ((const struct migration *)b)->version;
    return va < vb ? -1 : va > vb;
}

/* Lists NNN_*.sql files of dir, sorted by number. Returns the count or -1. */
static int list_migrations(const char *dir, struct migration *m, int max, struct gw_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL, "cannot open %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char *end = NULL;
        long v = strtol(e->d_name, &end, 10);
        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 || end == e->d_name ||
            *end != '_' || v <= 0)
            continue;
        if (n == max) {
            closedir(d);
            return gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL, "too many migrations");
        }
        m[n].version = v;
        snprintf(m[n].name, sizeof(m[n].name), "%s", e->d_name);
        n++;
    }
    closedir(d);
    qsort(m, (size_t)n, sizeof(*m), cmp_migration);
    for (int i = 1; i < n; i++)
        if (m[i].version == m[i - 1].version)
            return gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL, "two migrations numbered %ld",
                              m[i].version);
    return n;
}

static char *read_file(const char *path, struct gw_err *err)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    if (!f) {
        gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL, "cannot read %s", path);
        return NULL;
    }
    data = gw_malloc(MAX_MIGRATION_BYTES + 1);
    if (!data) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        goto out;
    }
    size_t n = fread(data, 1, MAX_MIGRATION_BYTES + 1, f);
    if (n > MAX_MIGRATION_BYTES || ferror(f)) {
        gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL, "cannot read %s", path);
        gw_free(data);
        data = NULL;
        goto out;
    }
    data[n] = '\0';
out:
    fclose(f);
    return data;
}

static int exec_sql(sqlite3 *db, const char *sql, const char *what, struct gw_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL, "%s: %s", what,
                   msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static long current_version(sqlite3 *db, struct gw_err *err)
{
    sqlite3_stmt *st = NULL;
    long v = -1;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL, "schema_migrations: %s",
                   sqlite3_errmsg(db));
        goto out;
    }
    v = (long)sqlite3_column_int64(st, 0);
out:
    sqlite3_finalize(st);
    return v;
}

static int record(sqlite3 *db, const struct migration *m, struct gw_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO schema_migrations (version, name, applied_at) "
                           "VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_DONE)
        rc = 0;
out:
    if (rc < 0)
        gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL, "%s: %s", m->name, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static int apply_one(sqlite3 *db, const char *dir, const struct migration *m, struct gw_err *err)
{
    char path[PATH_MAX + NAME_MAX + 2];
    snprintf(path, sizeof(path), "%s/%s", dir, m->name);
    char *sql = read_file(path, err);
    if (!sql)
        return -1;
    int rc = -1;
    if (exec_sql(db, "BEGIN IMMEDIATE", m->name, err) < 0)
        goto out;
    if (exec_sql(db, sql, m->name, err) < 0 || record(db, m, err) < 0 ||
        exec_sql(db, "COMMIT", m->name, err) < 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    rc = 0;
out:
    gw_free(sql);
    return rc;
}

int cp_migrate(sqlite3 *db, struct gw_err *err)
{
    char dir[PATH_MAX];
    struct migration *m = NULL;
    int applied = -1;
    if (cp_migrate_find_dir(dir, sizeof(dir)) < 0)
        return gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL,
                          "schema migrations not found (set MODELMUX_SCHEMA_DIR)");
    if (exec_sql(db,
                 "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                 "name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                 "schema_migrations", err) < 0)
        return -1;
    long have = current_version(db, err);
    if (have < 0)
        return -1;
    m = gw_calloc(MAX_MIGRATIONS, sizeof(*m));
    if (!m)
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    int n = list_migrations(dir, m, MAX_MIGRATIONS, err);
    if (n < 0)
        goto out;
    if (n > 0 && have > m[n - 1].version) {
        gw_err_set(err, GW_ERR_INTERNAL, "migrate", NULL,
                   "database schema version %ld is newer than this binary (%ld)", have,
                   m[n - 1].version);
        goto out;
    }
    applied = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].version <= have)
            continue;
        if (apply_one(db, dir, &m[i], err) < 0) {
            applied = -1;
            goto out;
        }
        applied++;
    }
out:
    gw_free(m);
    return applied;
}
