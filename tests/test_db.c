/* tests/test_db.c — the results database (db/): the schema and its embedded copy,
 * versions and migrations, refusing corrupt, foreign and newer files, reading where the
 * database's directory cannot be written, the writer's lock, idempotent recording, the
 * Pareto view on a hand-made front, read-only SQL, and the output of `cascade query` in
 * its three formats. */
#include "test.h"
#include "tests/db_fixture.h"
#include "db/db_internal.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------------------------- */




/* First column of the first row of sql on the raw file (-1 on error, -2 for no row). */
static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *h;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
            int rc = sqlite3_step(st);
            v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? -2 : -1;
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(h);
    return v;
}


/* The first column of a query on an open database, as text ("" for no row). */
struct first_cell { char text[256]; int rows; };
static int take_first(void *user, const struct db_row *row)
{
    struct first_cell *f = user;
    if (row->index < 0) return 0;   /* the header */
    if (f->rows++ == 0) snprintf(f->text, sizeof f->text, "%s", row->values[0] ? row->values[0] : "NULL");
    return 0;
}
static const char *cell(struct db *db, const char *sql, struct first_cell *f)
{
    char err[CASCADE_ERR_MAX];
    memset(f, 0, sizeof *f);
    if (db_query_sql(db, sql, take_first, f, err) != 0) snprintf(f->text, sizeof f->text, "ERROR %s", err);
    return f->text;
}

static struct db_run make_run(int64_t campaign_id, const char *name, const char *role, int seq)
{
    struct db_run r;
    memset(&r, 0, sizeof r);
    r.campaign_id = campaign_id;
    snprintf(r.name, sizeof r.name, "%s", name);
    r.role = (enum db_role)db_role_from_name(role);
    r.arch = (char *)"S S S S | d 32";
    r.arch_json = "{\"n_layer\": 4}";
    r.reason = strcmp(role, "candidate") == 0 ? "layers 1-2 routing erank <= 2.50: linear prefix" : NULL;
    snprintf(r.retrain, sizeof r.retrain, "%s", strcmp(role, "candidate") == 0 ? "scratch" : "");
    r.seed = 1337;
    r.seq = seq;
    return r;
}

static struct db_result make_result(int64_t params_attention, double ppl)
{
    struct db_result r;
    memset(&r, 0, sizeof r);
    r.params_total = 100000 + params_attention;
    r.params_attention = params_attention;
    r.params_saved_pct = 12.5;
    r.attention_saved_pct = 37.5;
    r.val_loss = 2.5;
    r.perplexity = ppl;
    r.bits_per_byte = 3.6067;
    r.delta_ppl_pct = -1.25;
    r.tokens_per_s = 12803.5;
    r.flops_per_token = 1234567.0;
    r.wall_s = 61.25;
    r.steps = 200;
    r.tokens_trained = 409600;
    return r;
}

/* Opens path for writing and adds campaign `name` with runs (name, params_attention,
 * perplexity; perplexity 0 = no result, < 0 = failed). */
struct run_row { const char *name; const char *role; int64_t attn; double ppl; };
static int64_t seed_campaign(struct test_ctx *t_, struct db *db, const char *name,
                             const struct run_row *rows, int n, int64_t *ids)
{
    char err[CASCADE_ERR_MAX];
    int64_t cid = -1, rid;
    int created;
    if (db_campaign_begin(db, name, "{\"steps\": 200}", "v1-test", "testhost", &cid, err) != 0) {
        test_fail(t_, __FILE__, __LINE__, "%s", err);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        struct db_run r = make_run(cid, rows[i].name, rows[i].role, i);
        if (db_run_add(db, &r, &rid, &created, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return -1; }
        if (ids) ids[i] = rid;
        if (rows[i].ppl > 0) {
            struct db_result res = make_result(rows[i].attn, rows[i].ppl);
            if (db_record_result(db, rid, &res, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return -1; }
        } else if (rows[i].ppl < 0) {
            if (db_run_set_status(db, rid, DB_FAILED, "training diverged at step 7", err) != 0) {
                test_fail(t_, __FILE__, __LINE__, "%s", err);
                return -1;
            }
        }
    }
    return cid;
}

/* ---- schema and versions --------------------------------------------------------------- */

TEST(db_schema_c_matches_sql)
{
    size_t n;
    char *sql = test_read_file("db/schema.sql", &n);
    REQUIRE_MSG(sql != NULL, "db/schema.sql not readable (tests run from the repository root)");
    CHECK_MSG(n == strlen(db_schema_sql) && strcmp(sql, db_schema_sql) == 0,
              "db_schema_sql differs from db/schema.sql: the Makefile's rule for db/schema_sql.h is wrong");
    char want[64];
    snprintf(want, sizeof want, "PRAGMA user_version = %d;\n", DB_SCHEMA_VERSION);
    CHECK_MSG(strstr(sql, want) != NULL, "db/schema.sql does not set user_version to DB_SCHEMA_VERSION");
    free(sql);
    CHECK(db_migrations[1] == NULL || DB_SCHEMA_VERSION > 1);
}

TEST(db_create_sets_version_and_settings)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "create.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    CHECK(strcmp(db_path(db), path) == 0);
    struct first_cell f;
    CHECK(atoi(cell(db, "PRAGMA user_version", &f)) == DB_SCHEMA_VERSION);
    CHECK(atoll(cell(db, "PRAGMA application_id", &f)) == DB_APPLICATION_ID);
    CHECK(strcmp(cell(db, "PRAGMA foreign_keys", &f), "1") == 0);
    CHECK(strcmp(cell(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &f), "10") == 0);
    CHECK(strcmp(cell(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master "
                          "WHERE type = 'view' ORDER BY name)", &f),
                 "v_campaigns v_cascade v_controls v_noise v_paired v_pareto v_results v_rounds v_runs") == 0);
    /* settings db_query_sql refuses to touch: check them on the handle */
    sqlite3_stmt *st;
    REQUIRE(sqlite3_prepare_v2(db->h, "PRAGMA busy_timeout", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == DB_BUSY_TIMEOUT_MS);
    sqlite3_finalize(st);
    REQUIRE(sqlite3_prepare_v2(db->h, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0);
    sqlite3_finalize(st);
    db_close(db);
    /* the file as the sqlite3 shell sees it */
    CHECK(raw_int(path, "PRAGMA user_version") == DB_SCHEMA_VERSION);
    CHECK(raw_int(path, "SELECT count(*) FROM v_results") == 0);
}

TEST(db_reopen_keeps_data)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "reopen.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row rows[] = { { "probe", "probe", 40000, 12.5 }, { "lin2", "candidate", 30000, 0 } };
    int64_t ids[2];
    int64_t cid = seed_campaign(t_, db, "keep", rows, 2, ids);
    REQUIRE(cid > 0);
    REQUIRE(db_record_step(db, ids[0], 50, 3.25, 2e-3, 0.5, 1000.0, NAN, err) == 0);
    db_close(db);
    for (int mode = 0; mode < 2; mode++) {
        REQUIRE_MSG(db_open(&db, path, mode ? DB_WRITE : DB_READ_ONLY, err) == 0, "%s", err);
        struct db_campaign c;
        REQUIRE_MSG(db_campaign_get(db, "keep", &c, err) == 0, "%s", err);
        CHECK(c.id == cid && strcmp(c.config_json, "{\"steps\": 200}") == 0 && c.status == DB_CAMPAIGN_RUNNING);
        CHECK(strcmp(c.code_version, "v1-test") == 0 && strcmp(c.host, "testhost") == 0 && c.started_at > 1e9);
        db_campaign_free(&c);
        struct db_run *runs;
        int n;
        REQUIRE_MSG(db_runs_list(db, cid, &runs, &n, err) == 0, "%s", err);
        CHECK(n == 2);
        if (n == 2) {
            CHECK(runs[0].id == ids[0] && runs[0].status == DB_DONE && strcmp(runs[0].name, "probe") == 0);
            CHECK(runs[0].role == DB_ROLE_PROBE && runs[1].role == DB_ROLE_CANDIDATE);
            CHECK(runs[1].status == DB_QUEUED && strcmp(runs[1].retrain, "scratch") == 0);
            CHECK(strcmp(runs[1].reason, "layers 1-2 routing erank <= 2.50: linear prefix") == 0);
            CHECK(strcmp(runs[0].reason, "") == 0 && strcmp(runs[0].arch_json, "{\"n_layer\": 4}") == 0);
        }
        db_runs_free(runs, n);
        struct db_result r;
        int found;
        REQUIRE_MSG(db_result_get(db, ids[0], &r, &found, err) == 0, "%s", err);
        CHECK(found && r.params_attention == 40000 && r.perplexity == 12.5 && r.bits_per_byte == 3.6067);
        struct first_cell f;
        CHECK(strcmp(cell(db, "SELECT loss FROM steps", &f), "3.25") == 0);
        CHECK(atoi(cell(db, "PRAGMA user_version", &f)) == DB_SCHEMA_VERSION);
        db_close(db);
    }
}

TEST(db_newer_version_refused)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "newer.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    db_close(db);
    REQUIRE(db_fixture_exec(path, "PRAGMA user_version = 99") == 0);
    for (int mode = 0; mode < 2; mode++) {
        CHECK(db_open(&db, path, mode ? DB_WRITE : DB_READ_ONLY, err) != 0);
        CHECK_MSG(strstr(err, path) && strstr(err, "schema version 99 is newer than this cascade knows"), "%s", err);
    }
    CHECK(raw_int(path, "PRAGMA user_version") == 99);
}

TEST(db_migrate_runs_steps_in_order_each_in_a_transaction)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "migrate.db");
    REQUIRE(db_fixture_exec(path, "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (7); PRAGMA user_version = 1") == 0);
    const char *const steps[] = {
        NULL, NULL,
        "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'two'",
        "CREATE TABLE u (x INTEGER); INSERT INTO u SELECT a FROM t",
        "CREATE TABLE v (y INTEGER); INSERT INTO nowhere VALUES (1)",   /* fails: rolled back */
    };
    sqlite3 *h;
    REQUIRE(sqlite3_open(path, &h) == SQLITE_OK);
    CHECK(db_migrate(h, path, steps, 1, 4, NULL, err) != 0);
    CHECK_MSG(strstr(err, path) && strstr(err, "migrating schema version 3 to 4") && strstr(err, "nowhere"), "%s", err);
    sqlite3_close(h);
    CHECK(raw_int(path, "PRAGMA user_version") == 3);
    CHECK(raw_int(path, "SELECT count(*) FROM t WHERE b = 'two'") == 1);
    CHECK(raw_int(path, "SELECT x FROM u") == 7);
    CHECK(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'v'") == 0);
    /* a step whose rows break a foreign key is refused */
    const char *const fk_steps[] = { NULL, NULL, NULL, NULL,
        "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p INTEGER REFERENCES p (id)); "
        "INSERT INTO c VALUES (5)" };
    REQUIRE(sqlite3_open(path, &h) == SQLITE_OK);
    CHECK(db_migrate(h, path, fk_steps, 3, 4, NULL, err) != 0);
    CHECK_MSG(strstr(err, "refers to a missing row"), "%s", err);
    sqlite3_close(h);
    CHECK(raw_int(path, "PRAGMA user_version") == 3);
}

TEST(db_empty_file_gets_the_schema)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "empty.db");
    REQUIRE(test_write_file(path, "", 0) == 0);
    struct db *db;
    CHECK(db_open(&db, path, DB_READ_ONLY, err) != 0);
    CHECK_MSG(strstr(err, "not a cascade database (an empty file)"), "%s", err);
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    db_close(db);
    CHECK(raw_int(path, "PRAGMA user_version") == DB_SCHEMA_VERSION);
}

/* The file's bytes are the same before and after failing to open it, in both modes. */
static void check_refused_untouched(struct test_ctx *t_, const char *path, const char *want)
{
    size_t n0, n1;
    char *before = test_read_file(path, &n0), err[CASCADE_ERR_MAX];
    REQUIRE(before != NULL);
    for (int mode = 0; mode < 2; mode++) {
        struct db *db = (struct db *)1;
        CHECK(db_open(&db, path, mode ? DB_WRITE : DB_READ_ONLY, err) != 0 && db == NULL);
        CHECK_MSG(strncmp(err, path, strlen(path)) == 0 && strstr(err, want) && !strchr(err, '\n'), "%s", err);
    }
    char *after = test_read_file(path, &n1);
    CHECK(after && n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
}

TEST(db_corrupt_file_refused_and_untouched)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "garbage.db");
    unsigned char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 131 + 7);
    REQUIRE(test_write_file(path, junk, sizeof junk) == 0);
    check_refused_untouched(t_, path, ": not a cascade database (file is not a database)");
    /* text that happens to be short */
    REQUIRE(test_write_file(path, "hello\n", 6) == 0);
    check_refused_untouched(t_, path, "not a cascade database");
    (void)err;
}

TEST(db_foreign_sqlite_file_refused)
{
    char path[512];
    db_fixture_fresh_path(path, sizeof path, "foreign.db");
    REQUIRE(db_fixture_exec(path, "PRAGMA journal_mode = DELETE; CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine')") == 0);
    check_refused_untouched(t_, path, "not a cascade database (an SQLite database of another application)");
}

TEST(db_missing_file_or_directory_refused)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "missing.db");
    struct db *db;
    CHECK(db_open(&db, path, DB_READ_ONLY, err) != 0);
    char want[600];
    snprintf(want, sizeof want, "%s: no such database", path);
    CHECK_MSG(strcmp(err, want) == 0, "%s", err);
    CHECK(access(path, F_OK) != 0);
    CHECK(db_open(&db, test_tmpdir(), DB_WRITE, err) != 0 && strstr(err, "is a directory"));
}

/* ---- reading without write access ----------------------------------------------------- */

/* SIDE beside path ("-wal", "-shm") made a link into a missing directory: it cannot be
 * created or opened, by root either, as where the directory is not writable. */
static int block_companion(const char *path, const char *side)
{
    char link[700], target[700];
    snprintf(link, sizeof link, "%s%s", path, side);
    snprintf(target, sizeof target, "%s/no-such-directory/x", test_tmpdir());
    remove(link);
    return symlink(target, link);
}

static int copy_file(const char *from, const char *to)
{
    size_t n;
    char *data = test_read_file(from, &n);
    int rc = data ? test_write_file(to, data, n) : -1;
    free(data);
    return rc;
}

TEST(db_reader_reads_where_the_wal_files_cannot_be_made)
{
    char dir[600], path[700], side[720], err[CASCADE_ERR_MAX];
    test_tmppath(dir, sizeof dir, "a dir ?#% to escape");   /* a name the immutable URI must escape */
    REQUIRE(mkdir(dir, 0755) == 0 || access(dir, F_OK) == 0);
    snprintf(path, sizeof path, "%s/ro.db", dir);
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row rows[] = { { "probe", "probe", 40000, 12.5 }, { "lin2", "candidate", 30000, 12.8 } };
    REQUIRE(seed_campaign(t_, db, "ro", rows, 2, NULL) > 0);
    db_close(db);
    snprintf(side, sizeof side, "%s-wal", path);
    CHECK(access(side, F_OK) != 0);   /* the writer's close checkpointed every commit into the file */
    /* a reader that can make FILE-wal and FILE-shm opens it normally */
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    CHECK(db->immutable == 0);
    db_close(db);
    /* one that cannot falls back to reading it as immutable, with the same rows */
    REQUIRE(block_companion(path, "-wal") == 0 && block_companion(path, "-shm") == 0);
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    CHECK(db->immutable == 1);
    struct first_cell f;
    CHECK(strcmp(cell(db, "SELECT count(*) FROM v_results WHERE campaign = 'ro' AND status = 'done'", &f), "2") == 0);
    CHECK(strcmp(cell(db, "SELECT count(*) FROM v_pareto", &f), "2") == 0);
    struct first_cell named = { 0 };
    CHECK(db_query_named(db, "runs", "ro", take_first, &named, err) == 0 && named.rows == 2);
    CHECK(db_query_sql(db, "DELETE FROM runs", take_first, &named, err) != 0);
    db_close(db);
    struct stat sb;
    CHECK(lstat(side, &sb) == 0 && S_ISLNK(sb.st_mode) && access(side, F_OK) != 0);   /* nothing made */
    /* the URI escapes what SQLite would read as a query or fragment, and '%' */
    char uri[DB_URI_MAX];
    db_immutable_uri(uri, sizeof uri, "/a b/c?d#e%f.db");
    CHECK_MSG(strcmp(uri, "file:///a b/c%3Fd%23e%25f.db?immutable=1") == 0, "%s", uri);
    db_immutable_uri(uri, sizeof uri, "runs/demo.db");
    CHECK_MSG(strcmp(uri, "file:runs/demo.db?immutable=1") == 0, "%s", uri);
    /* the fallback is for the WAL files alone: other failures keep their own error */
    CHECK(db_read_fallback(path, SQLITE_CORRUPT, err) == 0 && db_read_fallback(path, SQLITE_BUSY, err) == 0);
    CHECK(db_read_fallback(path, SQLITE_READONLY, err) == 1 && db_read_fallback(path, SQLITE_CANTOPEN, err) == 1);
}

TEST(db_reader_refuses_a_wal_it_cannot_read)
{
    char path[512], copy[512], side[600], copy_side[600], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "walsrc.db");
    db_fixture_fresh_path(copy, sizeof copy, "walcopy.db");
    struct db *db, *rd;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row rows[] = { { "probe", "probe", 40000, 12.5 } };
    REQUIRE(seed_campaign(t_, db, "wal", rows, 1, NULL) > 0);
    /* the file as a writer leaves it while open: the commits in FILE-wal */
    snprintf(side, sizeof side, "%s-wal", path);
    snprintf(copy_side, sizeof copy_side, "%s-wal", copy);
    REQUIRE(copy_file(path, copy) == 0 && copy_file(side, copy_side) == 0);
    db_close(db);
    /* a reader that can make FILE-shm reads the commits in the WAL */
    REQUIRE_MSG(db_open(&rd, copy, DB_READ_ONLY, err) == 0, "%s", err);
    struct first_cell f;
    CHECK(rd->immutable == 0 && strcmp(cell(rd, "SELECT count(*) FROM runs", &f), "1") == 0);
    db_close(rd);
    /* one that cannot would miss them as immutable: refused, naming the WAL */
    REQUIRE(block_companion(copy, "-shm") == 0);
    CHECK(db_open(&rd, copy, DB_READ_ONLY, err) != 0);
    CHECK_MSG(strstr(err, copy) == err && strstr(err, copy_side) && strstr(err, "write access") && !strchr(err, '\n'),
              "%s", err);
    CHECK(db_read_fallback(copy, SQLITE_CANTOPEN, err) == -1);
}

/* The case for real: a 0444 database in a 0555 directory. Root ignores modes, so
 * as root the commands run as user nobody (setpriv); otherwise as the user running it. */
TEST(db_cli_query_and_report_without_write_access)
{
    char base[] = "/tmp/cascade_ro.XXXXXX", dir[64], path[96], out[96], cmd[1024], err[CASCADE_ERR_MAX];
    REQUIRE(mkdtemp(base) != NULL);
    snprintf(dir, sizeof dir, "%s/db", base);
    snprintf(path, sizeof path, "%s/ro.db", dir);
    snprintf(out, sizeof out, "%s/out", base);
    int made = chmod(base, 0755) == 0 && mkdir(dir, 0755) == 0 && mkdir(out, 0777) == 0 && chmod(out, 0777) == 0;
    struct db *db;
    if (made && db_open(&db, path, DB_WRITE, err) == 0) {
        struct run_row rows[] = { { "probe", "probe", 40000, 12.5 }, { "lin2", "candidate", 30000, 12.8 } };
        made = seed_campaign(t_, db, "ro", rows, 2, NULL) > 0;
        db_close(db);
    } else {
        made = 0;
    }
    CHECK_MSG(made, "setting up %s", base);
    made = made && chmod(path, 0444) == 0 && chmod(dir, 0555) == 0;
    const char *as = "";
    if (made && geteuid() == 0) {
        as = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
        snprintf(cmd, sizeof cmd, "%s sh -c 'test -r %s && test -x %s'", as, path, test_cascade_bin());
        if (test_run(cmd, NULL) != 0) {
            printf("note: db_cli_query_and_report_without_write_access: no setpriv, or user nobody cannot run %s; "
                   "the CLI part is not run\n", test_cascade_bin());
            made = 0;
        }
    }
    if (made) {
        char *o = NULL;
        snprintf(cmd, sizeof cmd, "%s%s query --db %s results --format csv", as, test_cascade_bin(), path);
        int rc = test_run(cmd, &o);
        CHECK_MSG(rc == 0 && o && strstr(o, "\r\nprobe,probe,done,") && strstr(o, "\r\nlin2,candidate,done,"),
                  "exit %d: %s", rc, o ? o : "");
        free(o);
        snprintf(cmd, sizeof cmd, "%s%s report --db %s --out %s/ro.md", as, test_cascade_bin(), path, out);
        rc = test_run(cmd, &o);
        CHECK_MSG(rc == 0 && o && strstr(o, "wrote "), "exit %d: %s", rc, o ? o : "");
        free(o);
        snprintf(cmd, sizeof cmd, "%s/ro.md", out);
        CHECK(access(cmd, F_OK) == 0);
        snprintf(cmd, sizeof cmd, "ls -A %s", dir);   /* nothing beside the database but the writer's lock file */
        CHECK_MSG(test_run(cmd, &o) == 0 && o && strcmp(o, "ro.db\nro.db.lock\n") == 0, "%s holds: %s", dir, o ? o : "");
        free(o);
    }
    chmod(dir, 0755);
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    CHECK(test_run(cmd, NULL) == 0);
}

/* ---- the writer's lock ----------------------------------------------------------------- */

TEST(db_lock_second_writer_refused)
{
    char path[512], err[CASCADE_ERR_MAX], want[700];
    db_fixture_fresh_path(path, sizeof path, "lock.db");
    struct db *a, *b, *r;
    REQUIRE_MSG(db_open(&a, path, DB_WRITE, err) == 0, "%s", err);
    /* flock locks belong to the open file description: a second open() in the same
     * process conflicts, as another process would */
    CHECK(db_open(&b, path, DB_WRITE, err) != 0);
    snprintf(want, sizeof want, "%s is in use by another cascade process (pid %ld)", path, (long)getpid());
    CHECK_MSG(strcmp(err, want) == 0, "%s", err);
    /* readers are not blocked */
    REQUIRE_MSG(db_open(&r, path, DB_READ_ONLY, err) == 0, "%s", err);
    db_close(r);
    db_close(a);
    REQUIRE_MSG(db_open(&b, path, DB_WRITE, err) == 0, "%s", err);
    db_close(b);
}

TEST(db_lock_released_when_the_holder_is_killed)
{
    char path[512], err[CASCADE_ERR_MAX], want[700];
    db_fixture_fresh_path(path, sizeof path, "killed.db");
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        struct db *db;
        char e[CASCADE_ERR_MAX];
        char ok = db_open(&db, path, DB_WRITE, e) == 0 ? 'y' : 'n';
        if (write(fds[1], &ok, 1) != 1) _exit(1);
        for (;;) pause();
    }
    char ok = 0;
    CHECK(read(fds[0], &ok, 1) == 1 && ok == 'y');
    close(fds[0]);
    close(fds[1]);
    struct db *db;
    CHECK(db_open(&db, path, DB_WRITE, err) != 0);
    snprintf(want, sizeof want, "%s is in use by another cascade process (pid %ld)", path, (long)pid);
    CHECK_MSG(strcmp(err, want) == 0, "%s", err);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct first_cell f;
    CHECK(atoi(cell(db, "PRAGMA user_version", &f)) == DB_SCHEMA_VERSION);
    db_close(db);
}

/* ---- recording ------------------------------------------------------------------------- */

TEST(db_campaign_begin_is_idempotent)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "campaign.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    int64_t a, b, c;
    REQUIRE_MSG(db_campaign_begin(db, "demo", "{\"steps\": 200, \"lr\": 0.002}", "v1", "h", &a, err) == 0, "%s", err);
    /* the same JSON value, written differently, is the same config */
    REQUIRE_MSG(db_campaign_begin(db, "demo", "{ \"lr\": 0.002,\n  \"steps\": 200 }", "v2", "h2", &b, err) == 0, "%s", err);
    CHECK(a == b);
    CHECK(db_campaign_begin(db, "demo", "{\"steps\": 300, \"lr\": 0.002}", "v1", "h", &c, err) != 0);
    CHECK_MSG(strstr(err, "campaign 'demo' exists with a different config; use another name"), "%s", err);
    REQUIRE(db_campaign_begin(db, "other", "{}", NULL, NULL, &c, err) == 0);
    CHECK(c != a);
    CHECK(db_campaign_begin(db, "", "{}", NULL, NULL, &c, err) != 0);
    struct first_cell f;
    CHECK(strcmp(cell(db, "SELECT count(*) FROM campaigns", &f), "2") == 0);
    CHECK(strcmp(cell(db, "SELECT code_version FROM campaigns WHERE name = 'demo'", &f), "v1") == 0);

    struct db_campaign got;
    REQUIRE(db_campaign_get(db, NULL, &got, err) == 0);   /* the most recent */
    CHECK(strcmp(got.name, "other") == 0 && got.finished_at == 0);
    db_campaign_free(&got);
    CHECK(db_campaign_get(db, "nope", &got, err) != 0 && strstr(err, "no campaign named 'nope'"));

    REQUIRE(db_campaign_set_status(db, a, DB_CAMPAIGN_DONE, err) == 0);
    REQUIRE(db_campaign_get(db, "demo", &got, err) == 0);
    CHECK(got.status == DB_CAMPAIGN_DONE && got.finished_at >= got.started_at && got.finished_at > 0);
    db_campaign_free(&got);
    CHECK(strcmp(cell(db, "SELECT status FROM campaigns WHERE name = 'demo'", &f), "done") == 0);   /* stored by name */
    REQUIRE(db_campaign_set_status(db, a, DB_CAMPAIGN_STOPPED, err) == 0);
    CHECK(strcmp(cell(db, "SELECT status FROM campaigns WHERE name = 'demo'", &f), "stopped") == 0);
    REQUIRE(db_campaign_set_status(db, a, DB_CAMPAIGN_RUNNING, err) == 0);
    CHECK(strcmp(cell(db, "SELECT finished_at FROM campaigns WHERE name = 'demo'", &f), "NULL") == 0);
    CHECK(db_campaign_set_status(db, a, (enum db_campaign_status)7, err) != 0 && strstr(err, "not one of"));
    CHECK(db_campaign_set_status(db, 999, DB_CAMPAIGN_DONE, err) != 0 && strstr(err, "no campaign with id 999"));
    db_close(db);
}

TEST(db_run_add_is_idempotent_by_name)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "runs.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    int64_t cid, r1, r2, r3;
    int created;
    REQUIRE(db_campaign_begin(db, "c", "{}", NULL, NULL, &cid, err) == 0);
    struct db_run r = make_run(cid, "lin2", "candidate", 3);
    REQUIRE_MSG(db_run_add(db, &r, &r1, &created, err) == 0, "%s", err);
    CHECK(created == 1);
    r.seq = 9;   /* a second add of the name changes nothing */
    REQUIRE(db_run_add(db, &r, &r2, &created, err) == 0);
    CHECK(created == 0 && r2 == r1);
    struct first_cell f;
    CHECK(strcmp(cell(db, "SELECT count(*) || ' ' || max(seq) || ' ' || status FROM runs", &f), "1 3 queued") == 0);
    /* the same name in another campaign is another run */
    int64_t cid2;
    REQUIRE(db_campaign_begin(db, "c2", "{}", NULL, NULL, &cid2, err) == 0);
    r.campaign_id = cid2;
    REQUIRE(db_run_add(db, &r, &r3, &created, err) == 0);
    CHECK(created == 1 && r3 != r1);
    struct db_run bad = make_run(cid, "x", "teacher", 0);
    CHECK(db_run_add(db, &bad, &r3, &created, err) != 0 && strstr(err, "role -1 is not one of"));
    bad = make_run(777, "x", "probe", 0);
    CHECK(db_run_add(db, &bad, &r3, &created, err) != 0 && strstr(err, "no campaign with id 777"));
    db_close(db);
}

/* The enums of db/db.h and the names the database stores: one to one, and the names are
 * those the schema's CHECK constraints allow, in the enums' order. */
TEST(db_state_names_match_the_schema)
{
    struct { const char *check; int (*value)(const char *); } kinds[] = {
        { "CHECK (status IN ('queued', 'running', 'done', 'failed'))", db_status_from_name },
        { "CHECK (status IN ('running', 'done', 'failed', 'stopped'))", db_campaign_status_from_name },
        { "CHECK (role IN ('probe', 'baseline', 'candidate', 'control'))", db_role_from_name },
    };
    for (int k = 0; k < 3; k++) {
        char want[160] = "";
        size_t len = 0;
        for (int v = 0; v < 4; v++) {
            const char *name = k == 0 ? db_status_name((enum db_status)v)
                             : k == 1 ? db_campaign_status_name((enum db_campaign_status)v) : db_role_name((enum db_role)v);
            CHECK_MSG(kinds[k].value(name) == v, "%s -> %d, not %d", name, kinds[k].value(name), v);
            len += (size_t)snprintf(want + len, sizeof want - len, "%s'%s'", v ? ", " : "", name);
        }
        CHECK_MSG(strstr(kinds[k].check, want) && strstr(db_schema_sql, kinds[k].check), "%s: %s", kinds[k].check, want);
        CHECK(kinds[k].value("nope") == -1 && kinds[k].value(NULL) == -1);
    }
    CHECK(strcmp(db_status_name((enum db_status)4), "?") == 0 && strcmp(db_role_name((enum db_role)-1), "?") == 0);
    CHECK(strcmp(db_campaign_status_name((enum db_campaign_status)9), "?") == 0);
}

TEST(db_run_status_counts_attempts)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "status.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    int64_t cid, rid;
    int created;
    REQUIRE(db_campaign_begin(db, "c", "{}", NULL, NULL, &cid, err) == 0);
    struct db_run r = make_run(cid, "probe", "probe", 0);
    REQUIRE(db_run_add(db, &r, &rid, &created, err) == 0);
    REQUIRE(db_run_set_status(db, rid, DB_RUNNING, NULL, err) == 0);
    struct first_cell f;
    char first_start[64];
    snprintf(first_start, sizeof first_start, "%s", cell(db, "SELECT started_at FROM runs", &f));
    REQUIRE(db_run_set_status(db, rid, DB_RUNNING, NULL, err) == 0);   /* resumed */
    CHECK(strcmp(cell(db, "SELECT started_at FROM runs", &f), first_start) == 0);
    REQUIRE(db_run_set_status(db, rid, DB_FAILED, "training diverged (loss NaN) at step 412", err) == 0);
    struct db_run *runs;
    int n;
    REQUIRE(db_runs_list(db, cid, &runs, &n, err) == 0 && n == 1);
    CHECK(runs[0].status == DB_FAILED && runs[0].attempts == 2 && runs[0].finished_at >= runs[0].started_at);
    CHECK(strcmp(runs[0].error, "training diverged (loss NaN) at step 412") == 0);
    db_runs_free(runs, n);
    /* the host it trained on (an MPI worker's) replaces the controller's */
    REQUIRE(db_run_set_host(db, rid, "node17", err) == 0);
    REQUIRE(db_runs_list(db, cid, &runs, &n, err) == 0 && n == 1);
    CHECK(strcmp(runs[0].host, "node17") == 0);
    db_runs_free(runs, n);
    CHECK(db_run_set_host(db, 12345, "x", err) != 0 && strstr(err, "no run with id 12345"));
    CHECK(db_run_set_status(db, 12345, DB_DONE, NULL, err) != 0 && strstr(err, "no run with id 12345"));
    CHECK(strcmp(db_status_name(DB_DONE), "done") == 0 && strcmp(db_status_name(DB_QUEUED), "queued") == 0);
    db_close(db);
}

TEST(db_record_step_replaces_the_same_step)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "steps.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row rows[] = { { "probe", "probe", 1, 0 } };
    int64_t rid;
    REQUIRE(seed_campaign(t_, db, "c", rows, 1, &rid) > 0);
    REQUIRE(db_record_step(db, rid, 10, 4.0, 1e-3, 0.75, 900.0, NAN, err) == 0);
    REQUIRE(db_record_step(db, rid, 20, 3.5, 1e-3, 0.5, 950.0, 3.75, err) == 0);
    REQUIRE(db_record_step(db, rid, 10, 3.875, 1e-3, 0.625, 1000.0, NAN, err) == 0);   /* resumed, re-recorded */
    struct first_cell f;
    CHECK(strcmp(cell(db, "SELECT count(*) FROM steps", &f), "2") == 0);
    CHECK(strcmp(cell(db, "SELECT loss || ' ' || grad_norm || ' ' || coalesce(val_loss, 'none') FROM steps "
                          "WHERE step = 10", &f), "3.875 0.625 none") == 0);
    CHECK(strcmp(cell(db, "SELECT val_loss FROM steps WHERE step = 20", &f), "3.75") == 0);
    CHECK(db_record_step(db, 999, 1, 1, 1, 1, 1, 1, err) != 0 && strstr(err, "no run with id 999"));
    db_close(db);
}

static void fill_heads(struct db_head_measure *h, int n, double base)
{
    for (int i = 0; i < n; i++) {
        memset(&h[i], 0, sizeof h[i]);
        h[i].layer = i / 2;
        h[i].head = i % 2;
        snprintf(h[i].kind, sizeof h[i].kind, "sd");
        h[i].routing_fraction = 0.5;
        h[i].routing_erank = base + i;
        h[i].routing_k90 = 4;
        h[i].routing_planes = 2;
        h[i].routing_sv_json = "[3.5, 1.25]";
    }
}

TEST(db_record_analysis_replaces_per_level)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "analysis.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row rows[] = { { "probe", "probe", 1, 0 } };
    int64_t rid;
    REQUIRE(seed_campaign(t_, db, "c", rows, 1, &rid) > 0);
    struct db_head_measure h[4];
    struct db_layer_measure l[2] = { { 0, "", 2.0, 1.5, 2.5, 0.5, 3.0 }, { 1, "", 4.0, 3.5, 4.5, 0.5, 3.0 } };
    fill_heads(h, 4, 2.0);
    REQUIRE_MSG(db_record_analysis(db, rid, "weight", h, 4, l, 2, 1.0, err) == 0, "%s", err);
    REQUIRE(db_record_analysis(db, rid, "realised", h, 4, l, 2, 0.5, err) == 0);
    fill_heads(h, 2, 7.0);
    l[0].routing_erank_mean = 7.25;
    REQUIRE(db_record_analysis(db, rid, "weight", h, 2, l, 1, NAN, err) == 0);   /* re-measured */
    struct first_cell f;
    CHECK(strcmp(cell(db, "SELECT count(*) FROM head_measures WHERE level = 'weight'", &f), "2") == 0);
    CHECK(strcmp(cell(db, "SELECT count(*) FROM head_measures WHERE level = 'realised'", &f), "4") == 0);
    CHECK(strcmp(cell(db, "SELECT sum(routing_erank) FROM head_measures WHERE level = 'weight'", &f), "15.0") == 0);
    CHECK(strcmp(cell(db, "SELECT count(*) FROM layer_measures WHERE level = 'weight'", &f), "1") == 0);
    CHECK(strcmp(cell(db, "SELECT coalesce(cascade_spearman, 'null') FROM analysis_summary WHERE level = 'weight'", &f), "null") == 0);
    CHECK(strcmp(cell(db, "SELECT cascade_spearman FROM analysis_summary WHERE level = 'realised'", &f), "0.5") == 0);
    CHECK(strcmp(cell(db, "SELECT routing_sv_json FROM head_measures LIMIT 1", &f), "[3.5, 1.25]") == 0);
    struct db_layer_measure *got;
    int n, found;
    double rho;
    REQUIRE(db_analysis_get(db, rid, "realised", &got, &n, &rho, &found, err) == 0);
    CHECK(found && n == 2 && rho == 0.5);
    if (found && n == 2) CHECK(got[1].layer == 1 && got[1].routing_erank_max == 4.5 && strcmp(got[1].level, "realised") == 0);
    free(got);
    REQUIRE(db_analysis_get(db, rid, "weight", &got, &n, &rho, &found, err) == 0);
    CHECK(found && n == 1 && isnan(rho) && got[0].routing_erank_mean == 7.25);
    free(got);
    /* a level other than weight/realised, or a measure of another level, is refused */
    CHECK(db_record_analysis(db, rid, "logits", h, 2, l, 1, 0, err) != 0 && strstr(err, "'logits'"));
    snprintf(h[1].level, sizeof h[1].level, "realised");
    CHECK(db_record_analysis(db, rid, "weight", h, 2, l, 1, 0, err) != 0 && strstr(err, "head 0.1"));
    CHECK(strcmp(cell(db, "SELECT count(*) FROM head_measures WHERE level = 'weight'", &f), "2") == 0);
    db_close(db);
}

TEST(db_record_result_marks_done)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "result.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row rows[] = { { "probe", "probe", 1, 0 } };
    int64_t rid;
    REQUIRE(seed_campaign(t_, db, "c", rows, 1, &rid) > 0);
    REQUIRE(db_run_set_status(db, rid, DB_RUNNING, NULL, err) == 0);
    struct db_result r = make_result(40000, 12.5);
    r.bits_per_byte = NAN;   /* token data */
    REQUIRE_MSG(db_record_result(db, rid, &r, err) == 0, "%s", err);
    r.perplexity = 12.25;
    REQUIRE(db_record_result(db, rid, &r, err) == 0);   /* replaced */
    struct first_cell f;
    CHECK(strcmp(cell(db, "SELECT status || ' ' || (finished_at IS NOT NULL) FROM runs", &f), "done 1") == 0);
    CHECK(strcmp(cell(db, "SELECT count(*) || ' ' || perplexity || ' ' || coalesce(bits_per_byte, 'null') "
                          "FROM results", &f), "1 12.25 null") == 0);
    struct db_result got;
    int found;
    REQUIRE(db_result_get(db, rid, &got, &found, err) == 0);
    CHECK(found && got.perplexity == 12.25 && isnan(got.bits_per_byte) && got.tokens_trained == 409600);
    REQUIRE(db_result_get(db, rid + 1, &got, &found, err) == 0);
    CHECK(!found);
    CHECK(db_record_result(db, 4242, &r, err) != 0 && strstr(err, "no run with id 4242"));
    db_close(db);
}

/* ---- views and queries ------------------------------------------------------------------ */

struct collected { char text[4096]; int rows; };
static int collect_text(void *user, const struct db_row *row)
{
    struct collected *c = user;
    if (row->index < 0) return 0;   /* the header */
    size_t k = strlen(c->text);
    for (int i = 0; i < row->ncols && k < sizeof c->text; i++)
        k += snprintf(c->text + k, sizeof c->text - k, "%s%s", i ? "," : "",
                      row->values[i] ? row->values[i] : "NULL");
    if (k < sizeof c->text) snprintf(c->text + k, sizeof c->text - k, ";");
    c->rows++;
    return 0;
}

TEST(db_pareto_view_marks_the_front)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "pareto.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    /* (attention params, perplexity): a is dominated by e (fewer params, same ppl), c by b;
     * d and f tie (both stay); g failed and h has no result, so neither counts. */
    struct run_row rows[] = {
        { "a", "probe", 100, 10.0 }, { "b", "candidate", 50, 11.0 }, { "c", "candidate", 50, 12.0 },
        { "d", "candidate", 25, 15.0 }, { "e", "baseline", 80, 10.0 }, { "f", "control", 25, 15.0 },
        { "g", "candidate", 10, -1 }, { "h", "candidate", 5, 0 },
    };
    int64_t ids[8];
    REQUIRE(seed_campaign(t_, db, "front", rows, 8, ids) > 0);
    /* g has a result but failed afterwards: still not on the front, and dominates nobody */
    struct db_result gr = make_result(10, 5.0);
    REQUIRE(db_record_result(db, ids[6], &gr, err) == 0);
    REQUIRE(db_run_set_status(db, ids[6], DB_FAILED, "diverged", err) == 0);
    /* another campaign's better run must not count */
    struct run_row other[] = { { "z", "candidate", 1, 1.0 } };
    REQUIRE(seed_campaign(t_, db, "other", other, 1, NULL) > 0);

    struct collected c = { "", 0 };
    REQUIRE_MSG(db_query_sql(db, "SELECT run, pareto FROM v_results WHERE campaign = 'front' ORDER BY seq",
                             collect_text, &c, err) == 0, "%s", err);
    CHECK_MSG(strcmp(c.text, "a,0;b,1;c,0;d,1;e,1;f,1;g,0;h,0;") == 0, "%s", c.text);
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_named(db, "pareto", "front", collect_text, &c, err) == 0);
    CHECK_MSG(strcmp(c.text, "d,candidate,S S S S | d 32,25,37.5,15.0,-1.25;"
                             "f,control,S S S S | d 32,25,37.5,15.0,-1.25;"
                             "b,candidate,S S S S | d 32,50,37.5,11.0,-1.25;"
                             "e,baseline,S S S S | d 32,80,37.5,10.0,-1.25;") == 0, "%s", c.text);
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_sql(db, "SELECT run FROM v_pareto WHERE campaign = 'other'", collect_text, &c, err) == 0);
    CHECK_MSG(strcmp(c.text, "z;") == 0, "%s", c.text);
    db_close(db);
}

/* One run of the noise and controls fixture: perplexity 0 = not done, < 0 = failed. */
struct ctl_row {
    const char *name, *role, *control_of, *replicate_of;
    int layernorm;
    int64_t attn;
    double ppl;
};

/* The probe with two done replicates and a failed one, the standard model without any;
 * cut_m1 with a blind control of 2% more attention parameters (uniform_m1) and one of the
 * same size (reversed_m1); lin1 with a blind control (linlast1) and the standard-model
 * one (std_lin1, LayerNorm); lin2 with a control not run yet. Every Δ is against the
 * probe. Noise floor of the probe: perplexities 10.0, 10.2, 9.9: mean 10.0333..., sample
 * sd sqrt(((-1/30)^2 + (1/6)^2 + (-2/15)^2) / 2) = 0.152752523..., floor 200 sd / mean =
 * 3.04490079...%. */
static const struct ctl_row ctl_rows[] = {
    { "probe", "probe", NULL, NULL, 0, 16640, 10.0 },
    { "probe_r2", "baseline", NULL, "probe", 0, 16640, 10.2 },
    { "probe_r3", "baseline", NULL, "probe", 0, 16640, 9.9 },
    { "probe_r4", "baseline", NULL, "probe", 0, 16640, -1 },
    { "standard", "baseline", NULL, NULL, 1, 16384, 9.5 },
    { "cut_m1", "candidate", NULL, NULL, 0, 10000, 9.0 },
    { "uniform_m1", "control", "cut_m1", NULL, 0, 10200, 9.6 },     /* gap -6.25%: measured better */
    { "reversed_m1", "control", "cut_m1", NULL, 0, 10000, 9.05 },   /* gap -0.55%: within noise */
    { "lin1", "candidate", NULL, NULL, 0, 16512, 10.1 },
    { "linlast1", "control", "lin1", NULL, 0, 16512, 9.5 },         /* gap +6.32%: blind better */
    { "std_lin1", "control", "lin1", NULL, 1, 16384, 10.5 },        /* gap -3.81%: measured better */
    { "lin2", "candidate", NULL, NULL, 0, 16384, 10.3 },
    { "linlast2", "control", "lin2", NULL, 0, 16384, 0 },           /* queued: no verdict */
};
#define N_CTL (int)(sizeof ctl_rows / sizeof ctl_rows[0])

static int64_t seed_controls(struct test_ctx *t_, struct db *db, const char *name, int replicates)
{
    char err[CASCADE_ERR_MAX];
    int64_t cid = -1, rid;
    int created;
    if (db_campaign_begin(db, name, "{}", "v", "h", &cid, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return -1; }
    for (int i = 0; i < N_CTL; i++) {
        const struct ctl_row *f = &ctl_rows[i];
        if (!replicates && f->replicate_of) continue;
        struct db_run r = make_run(cid, f->name, f->role, i);
        r.arch_json = f->layernorm ? "{\"n_layer\": 4, \"layernorm\": true}" : "{\"n_layer\": 4, \"layernorm\": false}";
        snprintf(r.control_of, sizeof r.control_of, "%s", f->control_of ? f->control_of : "");
        snprintf(r.replicate_of, sizeof r.replicate_of, "%s", f->replicate_of ? f->replicate_of : "");
        if (db_run_add(db, &r, &rid, &created, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return -1; }
        if (f->ppl < 0 && db_run_set_status(db, rid, DB_FAILED, "diverged", err) != 0) {
            test_fail(t_, __FILE__, __LINE__, "%s", err);
            return -1;
        }
        if (f->ppl <= 0) continue;
        struct db_result res = make_result(f->attn, f->ppl);
        res.delta_ppl_pct = 100.0 * (f->ppl / 10.0 - 1.0);
        snprintf(res.reference_run, sizeof res.reference_run, "%s", strcmp(f->name, "standard") == 0 ? "" : "probe");
        if (db_record_result(db, rid, &res, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return -1; }
    }
    return cid;
}

TEST(db_noise_and_controls_views)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "controls.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    REQUIRE(seed_controls(t_, db, "ctl", 1) > 0);
    REQUIRE(seed_controls(t_, db, "bare", 0) > 0);   /* the same without replicates */
    db_close(db);
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    struct collected c = { "", 0 };

    /* v_noise: the probe over itself and its two done replicates, computed by hand above */
    REQUIRE_MSG(db_query_sql(db, "SELECT campaign, reference, n, printf('%.9f', ppl_mean), printf('%.9f', ppl_sd), "
                             "ppl_min, ppl_max, printf('%.8f', noise_pct) FROM v_noise ORDER BY campaign_id, seq",
                             collect_text, &c, err) == 0, "%s", err);
    CHECK_MSG(strcmp(c.text, "ctl,probe,3,10.033333333,0.152752523,9.9,10.2,3.04490079;") == 0, "%s", c.text);
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_named(db, "noise", "ctl", collect_text, &c, err) == 0);
    CHECK_MSG(c.rows == 1 && strncmp(c.text, "probe,3,10.0333333333333", 24) == 0, "%s", c.text);
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_named(db, "noise", "bare", collect_text, &c, err) == 0);
    CHECK(c.rows == 0);

    /* v_results: the floor of each run's reference, and whether |Δ| is beyond it */
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_sql(db, "SELECT run, coalesce(reference_run, '-'), iif(noise_pct IS NULL, '-', printf('%.4f', noise_pct)), "
                         "coalesce(beyond_noise, '-'), coalesce(replicate_of, '-'), coalesce(control_of, '-') "
                         "FROM v_results WHERE campaign = 'ctl' AND run IN ('probe_r2', 'standard', 'cut_m1', "
                         "'reversed_m1', 'lin1', 'linlast2') ORDER BY seq", collect_text, &c, err) == 0);
    CHECK_MSG(strcmp(c.text, "probe_r2,probe,3.0449,0,probe,-;standard,-,-,-,-,-;cut_m1,probe,3.0449,1,-,-;"
                             "reversed_m1,probe,3.0449,1,-,cut_m1;lin1,probe,3.0449,0,-,-;linlast2,-,-,-,-,lin2;") == 0,
              "%s", c.text);

    /* v_controls: one row per pair, sizes, gaps and verdicts */
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_sql(db, "SELECT candidate, control, control_kind, candidate_params_attention, "
                         "coalesce(control_params_attention, '-'), iif(size_diff_pct IS NULL, '-', printf('%.4f', size_diff_pct)), "
                         "iif(gap_pct IS NULL, '-', printf('%.4f', gap_pct)), printf('%.4f', noise_pct), coalesce(verdict, '-') "
                         "FROM v_controls WHERE campaign = 'ctl' ORDER BY candidate_seq, control_seq",
                         collect_text, &c, err) == 0);
    CHECK_MSG(strcmp(c.text, "cut_m1,uniform_m1,blind,10000,10200,2.0000,-6.2500,3.0449,measured better;"
                             "cut_m1,reversed_m1,blind,10000,10000,0.0000,-0.5525,3.0449,within noise;"
                             "lin1,linlast1,blind,16512,16512,0.0000,6.3158,3.0449,blind better;"
                             "lin1,std_lin1,standard model,16512,16384,-0.7752,-3.8095,3.0449,measured better;"
                             "lin2,linlast2,blind,16384,-,-,-,3.0449,-;") == 0, "%s", c.text);
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_named(db, "controls", "bare", collect_text, &c, err) == 0);
    CHECK_MSG(c.rows == 5 && strstr(c.text, "cut_m1,uniform_m1,blind,10000,10200,2.0000000000000018,9.0,9.6,-6.25,NULL,no noise floor;") &&
              strstr(c.text, ";lin2,linlast2,blind,16384,NULL,NULL,10.3,NULL,NULL,NULL,NULL;"), "%s", c.text);
    db_close(db);
}

TEST(db_named_queries)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "named.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row first[] = { { "old", "probe", 9, 9.0 } };
    REQUIRE(seed_campaign(t_, db, "first", first, 1, NULL) > 0);
    struct run_row rows[] = { { "probe", "probe", 40000, 12.5 }, { "lin2", "candidate", 30000, -1 } };
    int64_t ids[2];
    REQUIRE(seed_campaign(t_, db, "second", rows, 2, ids) > 0);
    struct db_layer_measure l[2] = { { 0, "", 2.0, 1.5, 2.5, 0.5, 3.0 }, { 1, "", 4.0, 3.5, 4.5, 0.25, 3.0 } };
    REQUIRE(db_record_analysis(db, ids[0], "weight", NULL, 0, l, 2, 1.0, err) == 0);
    db_close(db);
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    struct collected c = { "", 0 };
    REQUIRE_MSG(db_query_named(db, "campaigns", NULL, collect_text, &c, err) == 0, "%s", err);
    CHECK_MSG(c.rows == 2 && strncmp(c.text, "first,running,1,1,0,", 20) == 0 &&
              strstr(c.text, ";second,running,2,1,1,"), "%s", c.text);
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_named(db, "results", NULL, collect_text, &c, err) == 0);   /* the most recent */
    CHECK_MSG(strcmp(c.text, "probe,probe,done,S S S S | d 32,140000,40000,12.5,37.5,2.5,12.5,3.6067,-1.25,"
                             "12803.5,1234567.0,61.25,1337,1,NULL,NULL;"
                             "lin2,candidate,failed,S S S S | d 32,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,"
                             "NULL,NULL,NULL,1337,0,training diverged at step 7,"
                             "layers 1-2 routing erank <= 2.50: linear prefix;") == 0, "%s", c.text);
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_named(db, "cascade", "second", collect_text, &c, err) == 0);
    CHECK_MSG(strcmp(c.text, "probe,probe,weight,0,2.0,1.5,2.5,0.5,3.0,1.0;"
                             "probe,probe,weight,1,4.0,3.5,4.5,0.25,3.0,1.0;") == 0, "%s", c.text);
    memset(&c, 0, sizeof c);
    REQUIRE(db_query_named(db, "runs", "first", collect_text, &c, err) == 0);
    CHECK_MSG(c.rows == 1 && strncmp(c.text, "0,old,probe,done,", 17) == 0, "%s", c.text);
    CHECK(db_query_named(db, "results", "third", collect_text, &c, err) != 0 && strstr(err, "no campaign named 'third'"));
    CHECK(db_query_named(db, "everything", NULL, collect_text, &c, err) != 0 && strstr(err, "unknown query 'everything'"));
    db_close(db);
}

TEST(db_query_sql_refuses_writes)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "readonly.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row rows[] = { { "probe", "probe", 40000, 12.5 } };
    REQUIRE(seed_campaign(t_, db, "c", rows, 1, NULL) > 0);
    db_close(db);
    const char *refused[] = {
        "INSERT INTO campaigns (name, config_json, started_at) VALUES ('x', '{}', 0)",
        "DELETE FROM results", "DROP TABLE results", "UPDATE runs SET status = 'failed'",
        "CREATE TEMP TABLE x (a)", "ATTACH DATABASE ':memory:' AS m", "PRAGMA user_version = 5",
        "PRAGMA foreign_keys = OFF", "BEGIN", "SELECT 1; DELETE FROM results", "VACUUM", "",
    };
    for (int mode = 0; mode < 2; mode++) {
        REQUIRE_MSG(db_open(&db, path, mode ? DB_WRITE : DB_READ_ONLY, err) == 0, "%s", err);
        struct collected c = { "", 0 };
        for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
            err[0] = 0;
            CHECK_MSG(db_query_sql(db, refused[i], collect_text, &c, err) != 0, "accepted: %s", refused[i]);
            CHECK_MSG(strncmp(err, path, strlen(path)) == 0, "%s", err);
        }
        CHECK(c.rows == 0);
        struct first_cell f;
        CHECK(strcmp(cell(db, "SELECT count(*) FROM results", &f), "1") == 0);
        CHECK(strcmp(cell(db, "SELECT count(*) FROM pragma_table_info('runs')", &f), "21") == 0);
        CHECK(strcmp(cell(db, "PRAGMA table_info(runs)", &f), "0") == 0);
        CHECK(strcmp(cell(db, "  SELECT 2 ; -- a comment\n", &f), "2") == 0);
        CHECK(strcmp(cell(db, "PRAGMA foreign_keys", &f), "1") == 0);
        db_close(db);
    }
    CHECK(raw_int(path, "SELECT count(*) FROM results") == 1);
}

/* ---- cascade query ------------------------------------------------------------------------ */

/* A database for the CLI tests: campaign "cli" with a done probe and a failed candidate. */
static void cli_db(struct test_ctx *t_, char *path, size_t n)
{
    char err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, n, "cli.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row rows[] = { { "probe", "probe", 40000, 12.5 }, { "lin2", "candidate", 30000, -1 } };
    seed_campaign(t_, db, "cli", rows, 2, NULL);
    db_close(db);
}

static int query(const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s query %s", test_cascade_bin(), args);
    return test_run(cmd, out);
}

TEST(db_cli_query_csv)
{
    char path[512], args[1024];
    cli_db(t_, path, sizeof path);
    char *out = NULL;
    snprintf(args, sizeof args, "--db %s results --format csv", path);
    CHECK(query(args, &out) == 0);
    const char *want =
        "run,role,status,arch,params_total,params_attention,params_saved_pct,attention_saved_pct,val_loss,"
        "perplexity,bits_per_byte,delta_ppl_pct,tokens_per_s,flops_per_token,wall_s,seed,pareto,error,reason\r\n"
        "probe,probe,done,S S S S | d 32,140000,40000,12.5,37.5,2.5,12.5,3.6067,-1.25,12803.5,1234567.0,61.25,"
        "1337,1,,\r\n"
        "lin2,candidate,failed,S S S S | d 32,,,,,,,,,,,,1337,0,training diverged at step 7,"
        "layers 1-2 routing erank <= 2.50: linear prefix\r\n";
    CHECK_MSG(out && strcmp(out, want) == 0, "got:\n%s", out ? out : "");
    free(out);
    /* RFC 4180 quoting */
    snprintf(args, sizeof args, "--db %s --format csv --sql \"SELECT 'a,b' AS x, 'say ' || char(34) || 'hi' || char(34) AS y, "
             "'two' || char(10) || 'lines' AS z, NULL AS n\"", path);
    CHECK(query(args, &out) == 0);
    CHECK_MSG(out && strcmp(out, "x,y,z,n\r\n\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n") == 0, "got:\n%s", out ? out : "");
    free(out);
}

TEST(db_cli_query_json)
{
    char path[512], args[1024];
    cli_db(t_, path, sizeof path);
    char *out = NULL;
    snprintf(args, sizeof args, "--db %s results --campaign cli --format json", path);
    CHECK(query(args, &out) == 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    REQUIRE_MSG(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2, "got:\n%s", out ? out : "");
    cJSON *p = cJSON_GetArrayItem(j, 0), *c = cJSON_GetArrayItem(j, 1);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "run")), "probe") == 0);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "perplexity")) == 12.5);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "bits_per_byte")) == 3.6067);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "params_attention")) == 40000);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "flops_per_token")) == 1234567.0);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "delta_ppl_pct")) == -1.25);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "pareto")) == 1);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(p, "reason")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(c, "perplexity")));
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "error")), "training diverged at step 7") == 0);
    cJSON_Delete(j);
    free(out);
    /* numbers keep every digit */
    snprintf(args, sizeof args, "--db %s --format json --sql \"SELECT 0.1 + 0.2 AS x, 9007199254740993 AS big\"", path);
    CHECK(query(args, &out) == 0);
    CHECK_MSG(out && strstr(out, "0.30000000000000004") && strstr(out, "9007199254740993"), "got:\n%s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "--db %s --format json --sql \"SELECT 1 WHERE 0\"", path);
    CHECK(query(args, &out) == 0);
    CHECK_MSG(out && strcmp(out, "[]\n") == 0, "got:\n%s", out ? out : "");
    free(out);
}

TEST(db_cli_query_table)
{
    char path[512], args[1024];
    cli_db(t_, path, sizeof path);
    char *out = NULL;
    snprintf(args, sizeof args, "--db %s pareto", path);
    CHECK(query(args, &out) == 0);
    const char *want =
        "run    role   arch            params_attention  attention_saved_pct  perplexity  delta_ppl_pct\n"
        "-----  -----  --------------  ----------------  -------------------  ----------  -------------\n"
        "probe  probe  S S S S | d 32             40000                 37.5        12.5          -1.25\n";
    CHECK_MSG(out && strcmp(out, want) == 0, "got:\n%s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "--db %s results --format table", path);
    CHECK(query(args, &out) == 0);
    const char *numbers[] = { "140000", "40000", "12.5", "37.5", "2.5", "3.6067", "-1.25", "12803.5",
                              "1234567", "61.25", "1337", "training diverged at step 7" };
    for (size_t i = 0; out && i < sizeof numbers / sizeof *numbers; i++)
        CHECK_MSG(strstr(out, numbers[i]), "no %s in:\n%s", numbers[i], out);
    CHECK(out && strncmp(out, "run    role       status  arch", 30) == 0);
    free(out);
}

TEST(db_cli_query_errors)
{
    char path[512], args[1024], want[700];
    cli_db(t_, path, sizeof path);
    char *out = NULL;
    char missing[512];
    db_fixture_fresh_path(missing, sizeof missing, "nope.db");
    snprintf(args, sizeof args, "--db %s results", missing);
    CHECK(query(args, &out) == 2);
    snprintf(want, sizeof want, "cascade query: %s: no such database\n", missing);
    CHECK_MSG(out && strcmp(out, want) == 0, "got:\n%s", out ? out : "");
    free(out);
    char garbage[512];
    db_fixture_fresh_path(garbage, sizeof garbage, "junk.db");
    REQUIRE(test_write_file(garbage, "this is not sqlite, it is just text that goes on for a while......"
                        "................................................................", 130) == 0);
    snprintf(args, sizeof args, "--db %s runs", garbage);
    CHECK(query(args, &out) == 2);
    snprintf(want, sizeof want, "cascade query: %s: not a cascade database (file is not a database)\n", garbage);
    CHECK_MSG(out && strcmp(out, want) == 0, "got:\n%s", out ? out : "");
    free(out);
    const char *bad[] = { "--sql \"DELETE FROM runs\"", "--sql \"DROP TABLE runs\"", "results --campaign nope",
                          "everything", "results --format xml", "", "results --sql \"SELECT 1\"", "--bogus" };
    const char *says[] = { "may only read", "may only read", "no campaign named 'nope'", "unknown query 'everything'",
                           "--format", "name a query", "not both", "unknown option '--bogus'" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(args, sizeof args, "--db %s %s", path, bad[i]);
        int rc = query(args, &out);
        CHECK_MSG(rc == 2 && out && strncmp(out, "cascade query: ", 15) == 0 && strstr(out, says[i]) &&
                  strchr(out, '\n') == out + strlen(out) - 1, "%s: rc %d, %s", bad[i], rc, out ? out : "");
        free(out);
    }
    CHECK(query("results", &out) == 2 && out && strstr(out, "--db FILE is required"));
    free(out);
    CHECK(raw_int(path, "SELECT count(*) FROM runs") == 2);
}

TEST(db_cli_query_reads_while_a_writer_holds_the_lock)
{
    char path[512], args[1024], err[CASCADE_ERR_MAX];
    cli_db(t_, path, sizeof path);
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    struct run_row rows[] = { { "late", "candidate", 7, 0 } };
    REQUIRE(seed_campaign(t_, db, "cli", rows, 1, NULL) > 0);   /* same campaign, one more run */
    char *out = NULL;
    snprintf(args, sizeof args, "--db %s runs --format csv", path);
    CHECK(query(args, &out) == 0);
    CHECK_MSG(out && strstr(out, "\r\n0,late,candidate,queued,") && strstr(out, "\r\n1,lin2,candidate,failed,"),
              "got:\n%s", out ? out : "");
    free(out);
    db_close(db);
}
