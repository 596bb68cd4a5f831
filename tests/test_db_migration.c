/* tests/test_db_migration.c — schema versions 2 and 3 of the results database (db/): a file
 * made with version 1's layout (its db/schema.sql, kept verbatim in tests/db_fixture.c as
 * the migration base) and filled with rows is read as it is by a reader, migrated by a
 * writer to the current version with every row intact and the layout of a new file
 * (columns, views), and then takes a campaign setup; a version-2 file likewise, its new
 * columns NULL, and then takes controls, replicates and references; the setup's and the
 * head measures' round trips on a new file. */
#include "test.h"
#include "tests/db_fixture.h"
#include "db/db_internal.h"

#include <stdlib.h>
#include <string.h>


/* ---- helpers ------------------------------------------------------------------------------ */



/* The first column of the first row as text ("" for none, "ERROR" on error), raw file. */
static void raw_text(const char *path, const char *sql, char *out, size_t n)
{
    sqlite3 *h;
    snprintf(out, n, "ERROR");
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) snprintf(out, n, "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "NULL");
            else if (rc == SQLITE_DONE) snprintf(out, n, "%s", "");
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(h);
}

/* Checks that the first cell of sql on the raw file reads `want`. */
static void check_raw(struct test_ctx *t_, const char *path, const char *sql, const char *want)
{
    char a[4096];
    raw_text(path, sql, a, sizeof a);
    CHECK_MSG(strcmp(a, want) == 0, "%s: got '%s', expected '%s'", sql, a, want);
}

/* The migrated file has a new file's layout: the same columns in the same order in the
 * tables migrations changed, and the same objects, views to the letter (db_migrate
 * replaces them with db/schema.sql's). Objects named `own` (a user's view) are left out. */
static void check_layout_of_new(struct test_ctx *t_, const char *migrated, const char *own)
{
    static char a[65536], b[65536];   /* the views' SQL */
    char fresh[512], err[CASCADE_ERR_MAX], sql[512];
    db_fixture_fresh_path(fresh, sizeof fresh, "layout-new.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, fresh, DB_WRITE, err) == 0, "%s", err);
    db_close(db);
    const char *tables[] = { "campaigns", "runs", "results" };
    for (int i = 0; i < 3; i++) {
        snprintf(sql, sizeof sql, "SELECT group_concat(name || ':' || type || ':' || \"notnull\", ',') "
                 "FROM pragma_table_info('%s')", tables[i]);
        raw_text(migrated, sql, a, sizeof a);
        raw_text(fresh, sql, b, sizeof b);
        CHECK_MSG(strcmp(a, b) == 0, "%s: migrated %s\nnew      %s", tables[i], a, b);
    }
    snprintf(sql, sizeof sql, "SELECT group_concat(type || ' ' || name || (CASE type WHEN 'view' THEN ': ' || sql "
             "ELSE '' END), char(10)) FROM (SELECT type, name, sql FROM sqlite_master WHERE name IS NOT '%s' "
             "ORDER BY name)", own ? own : "");
    raw_text(migrated, sql, a, sizeof a);
    raw_text(fresh, sql, b, sizeof b);
    size_t k = 0;
    while (a[k] && a[k] == b[k]) k++;
    k = k > 60 ? k - 60 : 0;   /* where they part */
    CHECK_MSG(strcmp(a, b) == 0, "migrated ...%.160s\nnew      ...%.160s", a + k, b + k);
    CHECK(strstr(b, "view v_noise: CREATE VIEW v_noise AS") && strstr(b, "view v_controls: CREATE VIEW v_controls AS"));
}

/* A version-1 file holding one campaign with a done probe (result, analysis of two heads
 * in one layer) and a failed candidate. */
static const char v1_rows_sql[] =
    "INSERT INTO campaigns (id, name, config_json, status, started_at, finished_at, code_version, host) "
    "  VALUES (1, 'old', '{\"name\": \"old\"}', 'done', 1700000000.5, 1700000600.25, 'v1-abc', 'h1');"
    "INSERT INTO runs (id, campaign_id, name, role, status, seq, arch, arch_json, reason, retrain, seed, attempts, "
    "  started_at, finished_at, host, error) VALUES "
    "  (10, 1, 'probe', 'probe', 'done', 0, 'S S | d 16,16', '{}', 'reference', NULL, 7, 1, 1700000001, 1700000100, 'h1', NULL),"
    "  (11, 1, 'lin1', 'candidate', 'failed', 1, 'L S | d 16,16', '{}', 'linear prefix', 'scratch', 7, 2, 1700000101, 1700000200, 'h1', 'diverged at step 9');"
    "INSERT INTO results (run_id, params_total, params_attention, params_saved_pct, attention_saved_pct, val_loss, "
    "  perplexity, bits_per_byte, delta_ppl_pct, tokens_per_s, flops_per_token, wall_s, steps, tokens_trained, recorded_at) "
    "  VALUES (10, 5000, 1024, 0.0, 0.0, 2.0, 7.38905609893065, 2.88539008177793, 0.0, 1234.5, 99.0, 98.5, 20, 640, 1700000100);"
    "INSERT INTO head_measures (run_id, level, layer, head, kind, routing_fraction, routing_erank, routing_pr, routing_k90, "
    "  routing_planes, filtering_erank, filtering_pr, filtering_k90, routing_sv_json, filtering_sv_json) VALUES "
    "  (10, 'weight', 0, 0, 'sd', 0.25, 1.5, 1.25, 2, 1, 3.5, 3.25, 4, '[2,1]', NULL),"
    "  (10, 'weight', 0, 1, 'sd', 0.5, 2.5, 2.25, 3, 2, 4.5, 4.25, 5, NULL, '[3,2,1]');"
    "INSERT INTO layer_measures VALUES (10, 'weight', 0, 2.0, 1.5, 2.5, 0.375, 4.0);"
    "INSERT INTO analysis_summary VALUES (10, 'weight', NULL, 1700000110);";

/* setup: the campaign's setup_json as the file holds it ("" for none). */
static void check_v1_rows(struct test_ctx *t_, struct db *db, const char *setup)
{
    char err[CASCADE_ERR_MAX];
    struct db_campaign c;
    REQUIRE_MSG(db_campaign_get(db, "old", &c, err) == 0, "%s", err);
    CHECK(c.id == 1 && strcmp(c.config_json, "{\"name\": \"old\"}") == 0 && c.status == DB_CAMPAIGN_DONE);
    CHECK(c.started_at == 1700000000.5 && c.finished_at == 1700000600.25);
    CHECK(strcmp(c.code_version, "v1-abc") == 0 && strcmp(c.host, "h1") == 0);
    CHECK_MSG(c.setup_json && strcmp(c.setup_json, setup) == 0, "%s", c.setup_json);
    db_campaign_free(&c);
    CHECK(c.setup_json == NULL && c.config_json == NULL);
    struct db_run *runs;
    int n;
    REQUIRE_MSG(db_runs_list(db, 1, &runs, &n, err) == 0, "%s", err);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(runs[0].id == 10 && runs[0].status == DB_DONE && strcmp(runs[0].arch, "S S | d 16,16") == 0);
        CHECK(runs[1].status == DB_FAILED && runs[1].attempts == 2 && strcmp(runs[1].error, "diverged at step 9") == 0);
        CHECK(strcmp(runs[1].reason, "linear prefix") == 0 && strcmp(runs[1].retrain, "scratch") == 0);
    }
    db_runs_free(runs, n);
    struct db_result r;
    int found;
    REQUIRE_MSG(db_result_get(db, 10, &r, &found, err) == 0, "%s", err);
    CHECK(found && r.params_total == 5000 && r.params_attention == 1024 && r.perplexity == 7.38905609893065);
    CHECK(r.tokens_per_s == 1234.5 && r.wall_s == 98.5 && r.steps == 20 && r.tokens_trained == 640);
    struct db_layer_measure *layers;
    double rho;
    REQUIRE_MSG(db_analysis_get(db, 10, "weight", &layers, &n, &rho, &found, err) == 0, "%s", err);
    CHECK(found && n == 1 && isnan(rho));
    if (n == 1) CHECK(layers[0].routing_erank_mean == 2.0 && layers[0].routing_fraction_mean == 0.375);
    free(layers);
    struct db_head_measure *heads;
    REQUIRE_MSG(db_head_measures_get(db, 10, "weight", &heads, &n, err) == 0, "%s", err);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(heads[0].head == 0 && heads[0].routing_erank == 1.5 && heads[1].routing_erank == 2.5);
        CHECK(strcmp(heads[0].routing_sv_json, "[2,1]") == 0 && heads[0].filtering_sv_json == NULL);
        CHECK(heads[1].routing_sv_json == NULL && strcmp(heads[1].filtering_sv_json, "[3,2,1]") == 0);
        CHECK(heads[1].routing_k90 == 3 && heads[1].routing_planes == 2 && heads[1].filtering_k90 == 5);
        CHECK(strcmp(heads[1].kind, "sd") == 0 && strcmp(heads[1].level, "weight") == 0);
    }
    db_head_measures_free(heads, n);
}

/* ---- tests -------------------------------------------------------------------------------- */

TEST(db_migrates_a_v1_file_keeping_its_rows)
{
    char path[512], err[CASCADE_ERR_MAX], a[4096];
    db_fixture_fresh_path(path, sizeof path, "v1.db");
    REQUIRE(DB_SCHEMA_VERSION == 5 && db_migrations[2] != NULL && db_migrations[3] != NULL && db_migrations[4] != NULL && db_migrations[5] != NULL);
    REQUIRE(db_fixture_exec(path, db_fixture_schema_v1_sql) == 0);
    REQUIRE(db_fixture_exec(path, v1_rows_sql) == 0);
    raw_text(path, "PRAGMA user_version", a, sizeof a);
    REQUIRE(strcmp(a, "1") == 0);

    /* a reader reads version 1 as it is, and leaves it at version 1 */
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    CHECK(db_schema_version(db) == 1);
    check_v1_rows(t_, db, "");
    db_close(db);
    check_raw(t_, path, "PRAGMA user_version", "1");

    /* a writer migrates it, through version 2, to the current version */
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    CHECK(db_schema_version(db) == DB_SCHEMA_VERSION);
    check_v1_rows(t_, db, "");
    REQUIRE_MSG(db_campaign_set_setup(db, 1, "{\"cpu_model\": \"Test CPU\", \"cores\": 2}", err) == 0, "%s", err);
    struct db_campaign c;
    REQUIRE_MSG(db_campaign_get(db, NULL, &c, err) == 0, "%s", err);
    CHECK(strcmp(c.setup_json, "{\"cpu_model\": \"Test CPU\", \"cores\": 2}") == 0);
    db_campaign_free(&c);
    db_close(db);
    check_raw(t_, path, "PRAGMA user_version", "5");
    check_raw(t_, path, "SELECT json_extract(setup_json, '$.cpu_model') FROM campaigns", "Test CPU");
    check_raw(t_, path, "PRAGMA foreign_key_check", "");
    check_raw(t_, path, "PRAGMA integrity_check", "ok");
    check_layout_of_new(t_, path, NULL);

    /* reopened, everything is still there */
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    REQUIRE_MSG(db_campaign_get(db, "old", &c, err) == 0, "%s", err);
    CHECK(strstr(c.setup_json, "Test CPU") != NULL && strcmp(c.code_version, "v1-abc") == 0);
    db_campaign_free(&c);
    db_close(db);
}

/* The rows of v1_rows_sql in a version-2 file, with its setup; and a view of the user's
 * own, which migrating leaves alone. */
static const char v2_extra_sql[] =
    "UPDATE campaigns SET setup_json = '{\"cores\": 4}' WHERE id = 1;"
    "CREATE VIEW my_view AS SELECT name FROM runs;";

static int ignore_rows(void *user, const struct db_row *row) { (void)user; (void)row; return 0; }

/* Named queries of version 3 on an older file: refused, naming the file and versions. */
static void check_v3_queries_refused(struct test_ctx *t_, struct db *db, const char *path)
{
    char err[CASCADE_ERR_MAX];
    const char *names[] = { "noise", "controls" };
    for (int i = 0; i < 2; i++) {
        CHECK(db_query_named(db, names[i], "old", ignore_rows, NULL, err) != 0);
        CHECK_MSG(strstr(err, path) == err && strstr(err, names[i]) && strstr(err, "needs schema version 3") &&
                  strstr(err, "the file is version 2"), "%s", err);
    }
}

TEST(db_v3_migrates_a_v2_file_keeping_its_rows)
{
    char path[512], err[CASCADE_ERR_MAX], a[4096];
    db_fixture_fresh_path(path, sizeof path, "v2.db");
    /* a version-2 file as cascade's version 2 left one: version 1's layout migrated by
     * db_migrations[2] (version 2 kept version 1's views) */
    REQUIRE(db_fixture_exec(path, db_fixture_schema_v1_sql) == 0);
    sqlite3 *h;
    REQUIRE(sqlite3_open(path, &h) == SQLITE_OK);
    int migrated = db_migrate(h, path, db_migrations, 1, 2, NULL, err);
    sqlite3_close(h);
    REQUIRE_MSG(migrated == 0, "%s", err);
    REQUIRE(db_fixture_exec(path, v1_rows_sql) == 0 && db_fixture_exec(path, v2_extra_sql) == 0);
    raw_text(path, "PRAGMA user_version", a, sizeof a);
    REQUIRE(strcmp(a, "2") == 0);

    /* a reader reads version 2 as it is: no control_of, replicate_of, reference_run, and
     * no noise or controls query */
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    CHECK(db_schema_version(db) == 2);
    check_v1_rows(t_, db, "{\"cores\": 4}");
    check_v3_queries_refused(t_, db, path);
    db_close(db);
    check_raw(t_, path, "PRAGMA user_version", "2");

    /* a writer migrates it: the rows stay, the new columns are NULL */
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    check_v1_rows(t_, db, "{\"cores\": 4}");
    struct db_run *runs;
    int n;
    REQUIRE_MSG(db_runs_list(db, 1, &runs, &n, err) == 0, "%s", err);
    CHECK(n == 2);
    for (int i = 0; i < n; i++) CHECK(strcmp(runs[i].control_of, "") == 0 && strcmp(runs[i].replicate_of, "") == 0);
    db_runs_free(runs, n);
    struct db_result r;
    int found;
    REQUIRE_MSG(db_result_get(db, 10, &r, &found, err) == 0, "%s", err);
    CHECK(found && strcmp(r.reference_run, "") == 0 && r.perplexity == 7.38905609893065);
    db_close(db);
    check_raw(t_, path, "PRAGMA user_version", "5");
    check_raw(t_, path, "SELECT count(*) FROM runs WHERE control_of IS NULL AND replicate_of IS NULL", "2");
    check_raw(t_, path, "SELECT count(*) FROM results WHERE reference_run IS NULL", "1");
    check_raw(t_, path, "SELECT json_extract(setup_json, '$.cores') FROM campaigns", "4");
    check_raw(t_, path, "SELECT group_concat(name) FROM (SELECT name FROM my_view ORDER BY name)", "lin1,probe");
    check_raw(t_, path, "SELECT (SELECT count(*) FROM v_noise) || ',' || (SELECT count(*) FROM v_controls) || ',' || "
              "(SELECT count(*) FROM v_results WHERE noise_pct IS NULL AND beyond_noise IS NULL AND reference_run IS NULL)",
              "0,0,2");
    check_raw(t_, path, "PRAGMA foreign_key_check", "");
    check_layout_of_new(t_, path, "my_view");

    /* the migrated file takes controls, replicates and references, and reads them back */
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    const char *names[3][3] = { { "cut_m1", "", "" }, { "uniform_m1", "cut_m1", "" }, { "probe_r2", "", "probe" } };
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        struct db_run run;
        memset(&run, 0, sizeof run);
        run.campaign_id = 1;
        run.seq = 2 + i;
        run.role = i == 0 ? DB_ROLE_CANDIDATE : i == 1 ? DB_ROLE_CONTROL : DB_ROLE_BASELINE;
        snprintf(run.name, sizeof run.name, "%s", names[i][0]);
        snprintf(run.control_of, sizeof run.control_of, "%s", names[i][1]);
        snprintf(run.replicate_of, sizeof run.replicate_of, "%s", names[i][2]);
        int created;
        REQUIRE_MSG(db_run_add(db, &run, &ids[i], &created, err) == 0 && created, "%s", err);
    }
    memset(&r, 0, sizeof r);
    r.perplexity = 7.5;
    snprintf(r.reference_run, sizeof r.reference_run, "probe");
    REQUIRE_MSG(db_record_result(db, ids[2], &r, err) == 0, "%s", err);
    db_close(db);
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    REQUIRE_MSG(db_runs_list(db, 1, &runs, &n, err) == 0, "%s", err);
    REQUIRE(n == 5);
    for (int i = 0; i < 3; i++) {
        CHECK(strcmp(runs[2 + i].name, names[i][0]) == 0 && strcmp(runs[2 + i].control_of, names[i][1]) == 0);
        CHECK(strcmp(runs[2 + i].replicate_of, names[i][2]) == 0);
    }
    db_runs_free(runs, n);
    REQUIRE_MSG(db_result_get(db, ids[2], &r, &found, err) == 0, "%s", err);
    CHECK(found && strcmp(r.reference_run, "probe") == 0 && r.perplexity == 7.5);
    db_close(db);
    check_raw(t_, path, "SELECT reference || ' ' || n FROM v_noise", "probe 2");

    /* version 4: rounds; the migrated runs read round 0 and no parent */
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    REQUIRE_MSG(db_runs_list(db, 1, &runs, &n, err) == 0, "%s", err);
    for (int i = 0; i < n; i++) CHECK(runs[i].round == 0 && runs[i].parent[0] == 0);
    db_runs_free(runs, n);
    REQUIRE_MSG(db_round_set(db, 1, 0, "cut_m1", "attention_params", 1000, -0.5, 0, err) == 0, "%s", err);
    REQUIRE_MSG(db_round_set(db, 1, 1, "uniform_m1", "attention_params", 800, 1.5, 1, err) == 0, "%s", err);
    REQUIRE_MSG(db_round_set(db, 1, 1, "uniform_m1", "attention_params", 800, 1.25, 1, err) == 0, "%s", err);
    db_close(db);
    check_raw(t_, path, "SELECT group_concat(round || ':' || incumbent || ':' || delta_ppl_pct || ':' || final) FROM "
              "v_rounds", "0:cut_m1:-0.5:0,1:uniform_m1:1.25:1");
}

TEST(db_v2_campaign_setup_set_replace_clear_refuse)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "setup.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    int64_t id;
    REQUIRE_MSG(db_campaign_begin(db, "s", "{}", "v", "h", &id, err) == 0, "%s", err);
    struct db_campaign c;
    REQUIRE_MSG(db_campaign_get(db, "s", &c, err) == 0, "%s", err);
    CHECK(strcmp(c.setup_json, "") == 0);
    db_campaign_free(&c);
    const char *setup = "{\"cpu_model\": \"X \\\"quoted\\\" CPU\", \"cores\": 16, \"threads\": 8, "
                        "\"blas_core\": \"Haswell\", \"val_fraction\": 0.05, \"is_bytes\": true}";
    REQUIRE_MSG(db_campaign_set_setup(db, id, setup, err) == 0, "%s", err);
    REQUIRE_MSG(db_campaign_set_setup(db, id, setup, err) == 0, "%s", err);   /* again: replaces */
    REQUIRE_MSG(db_campaign_get(db, "s", &c, err) == 0, "%s", err);
    CHECK(strcmp(c.setup_json, setup) == 0);
    db_campaign_free(&c);
    /* refused: not an object, not JSON, no such campaign; the stored setup stays */
    const char *bad[] = { "[1, 2]", "{\"cores\": ", "\"text\"", "42" };
    for (int i = 0; i < 4; i++) {
        CHECK(db_campaign_set_setup(db, id, bad[i], err) != 0);
        CHECK_MSG(strstr(err, path) && strstr(err, "the setup is not a JSON object"), "%s", err);
    }
    CHECK(db_campaign_set_setup(db, id + 100, "{}", err) != 0);
    CHECK_MSG(strstr(err, "no campaign with id"), "%s", err);
    REQUIRE_MSG(db_campaign_get(db, "s", &c, err) == 0, "%s", err);
    CHECK(strcmp(c.setup_json, setup) == 0);
    db_campaign_free(&c);
    /* cleared */
    REQUIRE_MSG(db_campaign_set_setup(db, id, NULL, err) == 0, "%s", err);
    REQUIRE_MSG(db_campaign_get(db, "s", &c, err) == 0, "%s", err);
    CHECK(strcmp(c.setup_json, "") == 0);
    db_campaign_free(&c);
    db_close(db);
}

TEST(db_v2_head_measures_read_back)
{
    char path[512], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "heads.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    int64_t cid, rid;
    int created;
    REQUIRE_MSG(db_campaign_begin(db, "h", "{}", "v", "h", &cid, err) == 0, "%s", err);
    struct db_run r;
    memset(&r, 0, sizeof r);
    r.campaign_id = cid;
    snprintf(r.name, sizeof r.name, "probe");
    r.role = DB_ROLE_PROBE;
    REQUIRE_MSG(db_run_add(db, &r, &rid, &created, err) == 0, "%s", err);
    struct db_head_measure heads[3];
    memset(heads, 0, sizeof heads);
    for (int i = 0; i < 3; i++) {   /* given out of order: read back by layer, head */
        heads[i].layer = i == 0 ? 1 : 0;
        heads[i].head = i == 2 ? 0 : 1;
        snprintf(heads[i].kind, sizeof heads[i].kind, "sd");
        heads[i].routing_erank = 1.0 + i;
        heads[i].routing_fraction = NAN;
        heads[i].filtering_erank = 10.0 + i;
        heads[i].routing_k90 = 3 + i;
    }
    heads[1].routing_sv_json = "[1.5,0.5]";
    REQUIRE_MSG(db_record_analysis(db, rid, "realised", heads, 3, NULL, 0, 0.5, err) == 0, "%s", err);
    struct db_head_measure *got;
    int n;
    REQUIRE_MSG(db_head_measures_get(db, rid, "weight", &got, &n, err) == 0, "%s", err);
    CHECK(n == 0 && got == NULL);
    REQUIRE_MSG(db_head_measures_get(db, rid, "realised", &got, &n, err) == 0, "%s", err);
    REQUIRE(n == 3);
    CHECK(got[0].layer == 0 && got[0].head == 0 && got[0].routing_erank == 3.0 && got[0].routing_k90 == 5);
    CHECK(got[1].layer == 0 && got[1].head == 1 && got[1].routing_erank == 2.0);
    CHECK(strcmp(got[1].routing_sv_json, "[1.5,0.5]") == 0 && got[1].filtering_sv_json == NULL);
    CHECK(got[2].layer == 1 && got[2].head == 1 && got[2].filtering_erank == 10.0);
    CHECK(isnan(got[2].routing_fraction) && strcmp(got[2].level, "realised") == 0);
    db_head_measures_free(got, n);
    CHECK(db_head_measures_get(db, rid, "softly", &got, &n, err) != 0 && strstr(err, "not weight or realised"));
    db_close(db);
}
