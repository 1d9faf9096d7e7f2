/* Unit tests of the control plane's database layer (db.c, migrate.c) and
 * the snapshot builder, on a real SQLite file in /tmp. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "controlplane/crud.h"
#include "controlplane/db.h"
#include "controlplane/resources.h"
#include "controlplane/snapshot.h"
#include "testhelp.h"

static char path[64];
static int64_t hook_rev;
static int hook_calls;

static void on_commit(void *arg, int64_t rev)
{
    (void)arg;
    hook_rev = rev;
    hook_calls++;
}

static struct cp_db *open_fresh(void)
{
    snprintf(path, sizeof(path), "/tmp/mm-test-cp-db-XXXXXX");
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    struct cp_db *db = NULL;
    struct gw_err err;
    if (cp_db_open(path, &db, &err) < 0)
        fprintf(stderr, "open: %s\n", err.message);
    return db;
}

static void remove_db(void)
{
    char p[80];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

TEST("a new database is migrated, has the built-in vendors, revision 1")
{
    struct cp_db *db = open_fresh();
    struct gw_err err;
    CHECK(db != NULL);
    CHECK_INT(cp_db_revision(db), 1);
    json_t *v = NULL;
    CHECK_INT(cp_db_read_begin(db, &err), 0);
    CHECK_INT(cp_vendor_find_by_name(db, "AzureOpenAI", &v, &err), 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(v, "auth"), "header")), "api-key");
    json_decref(v);
    CHECK_INT(cp_vendor_find_by_name(db, "Nope", &v, &err), -1);
    CHECK_INT(err.kind, GW_ERR_NOT_FOUND);
    cp_db_read_end(db);
    cp_db_close(db);
    /* reopening applies nothing again */
    CHECK_INT(cp_db_open(path, &db, &err), 0);
    int64_t n = 0;
    CHECK_INT(cp_db_read_begin(db, &err), 0);
    CHECK_INT(cp_db_query_int(db, &err, &n, "SELECT count(*) FROM vendors", ""), 0);
    cp_db_read_end(db);
    CHECK_INT(n, 3);
    cp_db_close(db);
    remove_db();
}

TEST("commits bump the revision by one; rollbacks change nothing")
{
    struct cp_db *db = open_fresh();
    struct gw_err err;
    int64_t rev = 0;
    cp_db_set_commit_hook(db, on_commit, NULL);
    CHECK_INT(cp_db_begin(db, &err), 0);
    CHECK_INT(cp_db_run(db, &err, "INSERT INTO secrets (name) VALUES (?1)", "s", "a"), 1);
    CHECK_INT(cp_db_commit(db, &rev, &err), 0);
    CHECK_INT(rev, 2);
    CHECK_INT(hook_rev, 2);
    CHECK_INT(cp_db_begin(db, &err), 0);
    CHECK_INT(cp_db_run(db, &err, "INSERT INTO secrets (name) VALUES (?1)", "s", "b"), 1);
    CHECK_INT(cp_db_run(db, &err, "INSERT INTO secrets (name) VALUES (?1)", "s", "a"), -1);
    CHECK_INT(err.kind, GW_ERR_CONFLICT);
    cp_db_rollback(db);
    CHECK_INT(cp_db_revision(db), 2);
    CHECK_INT(hook_calls, 1);
    int64_t n = 0;
    CHECK_INT(cp_db_read_begin(db, &err), 0);
    CHECK_INT(cp_db_query_int(db, &err, &n, "SELECT count(*) FROM secrets", ""), 0);
    cp_db_read_end(db);
    CHECK_INT(n, 1);
    cp_db_close(db);
    remove_db();
}

TEST("statements: changed rows, one integer, no row, bad SQL")
{
    struct cp_db *db = open_fresh();
    struct gw_err err;
    int64_t n = 42;
    CHECK_INT(cp_db_begin(db, &err), 0);
    CHECK_INT(cp_db_run(db, &err, "INSERT INTO secrets (name) VALUES (?1), (?2)", "ss", "a", "b"),
              2);
    CHECK_INT(cp_db_run(db, &err, "DELETE FROM secrets WHERE name = ?1", "s", "none"), 0);
    CHECK_INT(cp_db_run(db, &err, "SELECT name FROM secrets", ""), 0); /* a row is not an error */
    CHECK_INT(cp_db_query_int(db, &err, &n, "SELECT count(*) FROM secrets WHERE name != ?1", "s",
                              "a"),
              0);
    CHECK_INT(n, 1);
    n = 42;
    CHECK_INT(cp_db_query_int(db, &err, &n, "SELECT 7 FROM secrets WHERE name = ?1", "s", "zz"), 0);
    CHECK_INT(n, 0); /* no row */
    CHECK_INT(cp_db_query_int(db, &err, &n, "SELECT ?1 + 1", "i", (int64_t)1 << 40), 0);
    CHECK(n == ((int64_t)1 << 40) + 1);
    CHECK_INT(cp_db_query_int(db, &err, &n, "SELECT nope FROM", ""), -1);
    CHECK_INT(err.kind, GW_ERR_INTERNAL);
    CHECK_INT(cp_db_run(db, &err, "INSERT INTO settings (key, value) VALUES (?1, ?2)", "ss", "k",
                        NULL),
              -1);
    CHECK_INT(err.kind, GW_ERR_INVALID); /* NOT NULL */
    cp_db_rollback(db);
    CHECK_INT(cp_db_revision(db), 1);
    cp_db_close(db);
    remove_db();
}

TEST("the internal resource API builds an API in one transaction")
{
    struct cp_db *db = open_fresh();
    struct gw_err err;
    json_t *api = NULL, *ep = NULL, *pol = NULL, *list = NULL, *doc = NULL;
    json_t *api_body = json_pack("{s:s,s:s,s:s,s:s}", "name", "x", "basePath", "/x", "version",
                                 "v1", "vendor", "openai");
    CHECK_INT(cp_db_begin(db, &err), 0);
    CHECK_INT(cp_api_create(db, api_body, &api, &err), 0);
    const char *api_id = json_string_value(json_object_get(api, "id"));
    json_t *ep_body = json_pack("{s:s,s:s,s:s}", "name", "e", "environment", "production", "url",
                                "http://127.0.0.1:1");
    CHECK_INT(cp_endpoint_create(db, api_id, ep_body, &ep, &err), 0);
    json_t *pol_body = json_pack("{s:s,s:[{s:s,s:O}]}", "type", "modelRoundRobin", "production",
                                 "model", "gpt-4o", "endpoint", json_object_get(ep, "id"));
    CHECK_INT(cp_policy_create(db, api_id, pol_body, &pol, &err), 0);
    CHECK_INT(cp_db_commit(db, NULL, &err), 0);
    CHECK_INT(cp_db_revision(db), 2); /* one revision for the whole import */
    CHECK_INT(cp_db_read_begin(db, &err), 0);
    CHECK_INT(cp_policy_list(db, api_id, &list, &err), 0);
    CHECK_INT(json_array_size(list), 1);
    cp_db_read_end(db);
    int64_t rev = 0;
    char *text = NULL;
    size_t len = 0;
    CHECK_INT(cp_snapshot_build(db, &text, &len, &rev, &err), 0);
    CHECK_INT(strlen(text), len);
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    gw_free(text);
    CHECK_INT(rev, 2);
    CHECK_INT(json_array_size(json_object_get(doc, "apis")), 1);
    CHECK_INT(strlen(json_string_value(json_object_get(doc, "sha256"))), 64);
    json_decref(doc);
    json_decref(list);
    json_decref(api);
    json_decref(ep);
    json_decref(pol);
    json_decref(api_body);
    json_decref(ep_body);
    json_decref(pol_body);
    cp_db_close(db);
    remove_db();
}

TEST("a count bound of limits.h: one more row only while under it, else 409 limit_reached")
{
    struct cp_db *db = open_fresh();
    struct gw_err err;
    const char *count = "SELECT count(*) FROM secrets";
    CHECK_INT(cp_db_begin(db, &err), 0);
    CHECK_INT(cp_db_run(db, &err, "INSERT INTO secrets (name) VALUES (?1), (?2)", "ss", "a", "b"),
              2);
    CHECK_INT(cp_room_for_one(db, count, 3, "secrets", "A_MAX", &err), 0);
    CHECK_INT(cp_room_for_one(db, count, 2, "secrets", "A_MAX", &err), -1);
    CHECK_INT(err.kind, GW_ERR_CONFLICT);
    CHECK_STR(err.code, "limit_reached");
    CHECK(strstr(err.message, "2 secrets") && strstr(err.message, "A_MAX"));
    cp_db_rollback(db);
    cp_db_close(db);
    remove_db();
}

TEST("an unreadable database fails with a reason")
{
    struct cp_db *db = NULL;
    struct gw_err err;
    gw_err_clear(&err);
    CHECK_INT(cp_db_open("/nonexistent-dir/x.db", &db, &err), -1);
    CHECK(db == NULL);
    CHECK(strstr(err.message, "/nonexistent-dir/x.db") != NULL);
}

TEST_MAIN()
