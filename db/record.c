/* db/record.c — what the search controller writes and reads back: campaigns, runs, step
 * metrics, spectral measurements and results (tables of db/schema.sql). Each write
 * function is one transaction (BEGIN IMMEDIATE ... COMMIT), so a process killed at any
 * moment leaves either all of a call's rows or none. Every SQL value is a bound
 * parameter: a writer lists its values (struct sql_value) and write_sql prepares, binds,
 * steps and finalizes; end_write commits or rolls back, so each writer states only its SQL,
 * its values and its checks. What is read back is read by column name: each table's columns are an enum
 * and a name for each (runs: enum run_col, run_cols), the SELECT is made from the names,
 * and read_rows steps through the rows of a list. */
#include "db/db_internal.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_empty(const char *s)
{
    char *d = strdup(s ? s : "");
    return d;
}

/* ---- writing: the one shape of every writer ---------------------------------------------- */

/* A value for one parameter of a statement, bound by bind_values: an integer; a real (NaN
 * binds NULL); text where NULL and "" bind NULL (db_bind_text: optional fields); or text
 * bound as it is ("" stays "": names and configs, which the schema requires). */
enum sql_type { SQL_INT, SQL_REAL, SQL_TEXT, SQL_STR };
struct sql_value {
    enum sql_type type;
    int64_t i;
    double r;
    const char *s;
};
#define V_INT(x)  ((struct sql_value){ .type = SQL_INT, .i = (x) })
#define V_REAL(x) ((struct sql_value){ .type = SQL_REAL, .r = (x) })
#define V_TEXT(x) ((struct sql_value){ .type = SQL_TEXT, .s = (x) })
#define V_STR(x)  ((struct sql_value){ .type = SQL_STR, .s = (x) })
#define N_VALUES(v) ((int)(sizeof (v) / sizeof (v)[0]))

/* Binds v[0 .. n-1] to the parameters ?1 .. ?n of st. */
static void bind_values(sqlite3_stmt *st, const struct sql_value *v, int n)
{
    for (int k = 0; k < n; k++) {
        switch (v[k].type) {
        case SQL_INT:  sqlite3_bind_int64(st, k + 1, v[k].i); break;
        case SQL_REAL: db_bind_real(st, k + 1, v[k].r); break;
        case SQL_TEXT: db_bind_text(st, k + 1, v[k].s); break;
        case SQL_STR:  sqlite3_bind_text(st, k + 1, v[k].s, -1, SQLITE_TRANSIENT); break;
        }
    }
}

/* Steps a statement that returns no rows, finalizes it. */
static int step_done(struct db *db, sqlite3_stmt *st, const char *what, char *err)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(db, what, err);
}

/* Prepares sql, binds v, steps it to its end and finalizes it: 0, or -1 and err ("PATH:
 * what: <sqlite message>"). Inside the caller's transaction. */
static int write_sql(struct db *db, const char *sql, const struct sql_value *v, int n, const char *what, char *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, &st, sql, err) != 0) return -1;
    bind_values(st, v, n);
    return step_done(db, st, what, err);
}

/* Ends the transaction a writer began with db_begin: COMMIT when its body succeeded (rc
 * 0), else ROLLBACK. Returns what the writer returns: 0, or -1 with err. */
static int end_write(struct db *db, int rc, char *err)
{
    if (rc != 0) {
        db_rollback(db);
        return -1;
    }
    return db_commit(db, err);
}

/* One transaction that updates the row `id` and must change exactly it (an UPDATE of a
 * missing row changes nothing, which SQLite does not call an error). `noun` ("campaign",
 * "run") names the row in the error. */
static int update_row(struct db *db, const char *sql, const struct sql_value *v, int n, const char *what,
                      const char *noun, int64_t id, char *err)
{
    if (db_begin(db, err) != 0) return -1;
    int rc = write_sql(db, sql, v, n, what, err);
    if (rc == 0 && sqlite3_changes(db->h) != 1) {
        snprintf(err, CASCADE_ERR_MAX, "%s: no %s with id %lld", db->path, noun, (long long)id);
        rc = -1;
    }
    return end_write(db, rc, err);
}

/* Two campaign configs are the same when they are the same JSON value (whitespace and
 * key order aside); texts that are not JSON are compared as text. */
static int same_config(const char *a, const char *b)
{
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    int same = ja && jb ? cJSON_Compare(ja, jb, 1) : strcmp(a, b) == 0;
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    return same;
}

/* ---- reading rows -------------------------------------------------------------------- */

/* "SELECT cols[0], cols[1], ... rest": a column's index in the statement is its enum
 * value, so readers name columns (RUN_STATUS) instead of counting them. */
static int prepare_select(struct db *db, sqlite3_stmt **st, const char *const *cols, int n_cols, const char *rest,
                          char *err)
{
    char sql[2048];
    size_t k = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    for (int i = 0; i < n_cols; i++) {
        assert(cols[i]);
        k += (size_t)snprintf(sql + k, sizeof sql - k, "%s%s", i ? ", " : "", cols[i]);
    }
    k += (size_t)snprintf(sql + k, sizeof sql - k, " %s", rest);
    assert(k < sizeof sql);
    return db_prepare(db, st, sql, err);
}

/* The column as a real, NAN for NULL. */
static double column_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* The column's text into a fixed field ("" for NULL; cut to the field). */
static void column_copy(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    snprintf(dst, n, "%s", db_column_text(st, i));
}

/* A state read back (db_*_from_name): the schema's CHECK constraints allow no name but
 * the enum's, so the -1 of an unknown one cannot occur; it would read as the first. */
static int state_of(int value) { return value < 0 ? 0 : value; }

/* Reads the current row into *row (zeroed); -1 when out of memory. ctx: the caller's. */
typedef int (*row_reader_fn)(sqlite3_stmt *st, void *row, const void *ctx);

/* Frees what one row read holds (not the row itself). */
typedef void (*row_free_fn)(void *row);

/* Frees an array of n rows of `size` bytes read by read_rows (free_row NULL: the rows
 * hold nothing to free). */
static void free_rows(void *rows, int n, size_t size, row_free_fn free_row)
{
    for (int i = 0; rows && free_row && i < n; i++) free_row((char *)rows + (size_t)i * size);
    free(rows);
}

/* Steps st to its end and finalizes it, reading every row with read_row into a growing
 * array of elements of `size` bytes: 0 with *rows (NULL when there is none) and *n, or
 * -1 with what was read freed (a row whose reading failed included) and err: "PATH: out
 * of memory WHAT" or "PATH: WHAT: <sqlite message>". */
static int read_rows(struct db *db, sqlite3_stmt *st, size_t size, row_reader_fn read_row, const void *ctx,
                     row_free_fn free_row, void **rows, int *n, const char *what, char *err)
{
    char *list = NULL;
    int count = 0, cap = 0, rc;
    *rows = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            int grown_cap = cap ? 2 * cap : 16;
            char *grown = realloc(list, (size_t)grown_cap * size);
            if (!grown) break;
            list = grown;
            cap = grown_cap;
        }
        void *row = list + (size_t)count++ * size;
        memset(row, 0, size);
        if (read_row(st, row, ctx) != 0) break;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        *rows = list;
        *n = count;
        return 0;
    }
    if (rc == SQLITE_ROW) snprintf(err, CASCADE_ERR_MAX, "%s: out of memory %s", db->path, what);
    else db_fail(db, what, err);
    free_rows(list, count, size, free_row);
    return -1;
}

/* ---- campaigns ----------------------------------------------------------------------- */

int db_campaign_begin(struct db *db, const char *name, const char *config_json,
                      const char *code_version, const char *host, int64_t *campaign_id, char *err)
{
    if (!name || !name[0] || strlen(name) >= sizeof ((struct db_campaign *)0)->name) {
        snprintf(err, CASCADE_ERR_MAX, "%s: a campaign needs a name of 1 to %zu bytes", db->path,
                 sizeof ((struct db_campaign *)0)->name - 1);
        return -1;
    }
    if (!config_json) config_json = "";
    if (db_begin(db, err) != 0) return -1;
    sqlite3_stmt *st;
    if (db_prepare(db, &st, "SELECT id, config_json FROM campaigns WHERE name = ?1", err) != 0) goto fail;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int same = same_config(db_column_text(st, 1), config_json);
        *campaign_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        db_rollback(db);
        if (same) return 0;
        snprintf(err, CASCADE_ERR_MAX, "%s: campaign '%s' exists with a different config; use another name",
                 db->path, name);
        return -1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) { db_fail(db, "looking up the campaign", err); goto fail; }
    const struct sql_value v[] = { V_STR(name), V_STR(config_json), V_REAL(db_now()), V_TEXT(code_version),
                                   V_TEXT(host) };
    if (write_sql(db, "INSERT INTO campaigns (name, config_json, status, started_at, code_version, host) "
                  "VALUES (?1, ?2, 'running', ?3, ?4, ?5)", v, N_VALUES(v), "adding the campaign", err) != 0)
        goto fail;
    *campaign_id = sqlite3_last_insert_rowid(db->h);
    return db_commit(db, err);
fail:
    db_rollback(db);
    return -1;
}

int db_campaign_set_status(struct db *db, int64_t campaign_id, enum db_campaign_status status, char *err)
{
    if (db_campaign_status_from_name(db_campaign_status_name(status)) < 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: campaign status %d is not one of running, done, failed, stopped",
                 db->path, (int)status);
        return -1;
    }
    const struct sql_value v[] = { V_INT(campaign_id), V_TEXT(db_campaign_status_name(status)), V_REAL(db_now()) };
    return update_row(db, "UPDATE campaigns SET status = ?2, "
                      "finished_at = CASE WHEN ?2 = 'running' THEN NULL ELSE ?3 END WHERE id = ?1",
                      v, N_VALUES(v), "setting the campaign status", "campaign", campaign_id, err);
}

int db_campaign_set_setup(struct db *db, int64_t campaign_id, const char *setup_json, char *err)
{
    if (setup_json && setup_json[0]) {
        cJSON *j = cJSON_Parse(setup_json);
        int is_object = cJSON_IsObject(j);
        cJSON_Delete(j);
        if (!is_object) {
            snprintf(err, CASCADE_ERR_MAX, "%s: campaign %lld: the setup is not a JSON object", db->path,
                     (long long)campaign_id);
            return -1;
        }
    }
    assert(db->version >= 2);   /* a writer's file is migrated to the current version */
    const struct sql_value v[] = { V_INT(campaign_id), V_TEXT(setup_json) };
    return update_row(db, "UPDATE campaigns SET setup_json = ?2 WHERE id = ?1", v, N_VALUES(v),
                      "recording the campaign's setup", "campaign", campaign_id, err);
}

enum campaign_col {
    CAMPAIGN_ID, CAMPAIGN_NAME, CAMPAIGN_CONFIG_JSON, CAMPAIGN_STATUS, CAMPAIGN_STARTED_AT, CAMPAIGN_FINISHED_AT,
    CAMPAIGN_CODE_VERSION, CAMPAIGN_HOST, CAMPAIGN_SETUP_JSON, CAMPAIGN_NCOLS
};
static const char *const campaign_cols[CAMPAIGN_NCOLS] = {
    [CAMPAIGN_ID] = "id", [CAMPAIGN_NAME] = "name", [CAMPAIGN_CONFIG_JSON] = "config_json",
    [CAMPAIGN_STATUS] = "status", [CAMPAIGN_STARTED_AT] = "started_at", [CAMPAIGN_FINISHED_AT] = "finished_at",
    [CAMPAIGN_CODE_VERSION] = "code_version", [CAMPAIGN_HOST] = "host", [CAMPAIGN_SETUP_JSON] = "setup_json",
};

int db_campaign_get(struct db *db, const char *name, struct db_campaign *out, char *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    const char *cols[CAMPAIGN_NCOLS];
    memcpy(cols, campaign_cols, sizeof cols);
    if (db->version < 2) cols[CAMPAIGN_SETUP_JSON] = "NULL";   /* a version-1 file, read as it is, has none */
    if (prepare_select(db, &st, cols, CAMPAIGN_NCOLS, "FROM campaigns WHERE ?1 IS NULL OR name = ?1 "
                       "ORDER BY started_at DESC, id DESC LIMIT 1", err) != 0)
        return -1;
    db_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, CAMPAIGN_ID);
        column_copy(st, CAMPAIGN_NAME, out->name, sizeof out->name);
        out->config_json = dup_or_empty(db_column_text(st, CAMPAIGN_CONFIG_JSON));
        out->status = state_of(db_campaign_status_from_name(db_column_text(st, CAMPAIGN_STATUS)));
        out->started_at = sqlite3_column_double(st, CAMPAIGN_STARTED_AT);
        out->finished_at = sqlite3_column_double(st, CAMPAIGN_FINISHED_AT);   /* NULL reads as 0 */
        column_copy(st, CAMPAIGN_CODE_VERSION, out->code_version, sizeof out->code_version);
        column_copy(st, CAMPAIGN_HOST, out->host, sizeof out->host);
        out->setup_json = dup_or_empty(db_column_text(st, CAMPAIGN_SETUP_JSON));
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) {
        if (out->config_json && out->setup_json) return 0;
        db_campaign_free(out);
        snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", db->path);
        return -1;
    }
    if (rc != SQLITE_DONE) return db_fail(db, "reading the campaign", err);
    if (name) snprintf(err, CASCADE_ERR_MAX, "%s: no campaign named '%s'", db->path, name);
    else snprintf(err, CASCADE_ERR_MAX, "%s: no campaign yet", db->path);
    return -1;
}

void db_campaign_free(struct db_campaign *c)
{
    if (!c) return;
    free(c->config_json);
    free(c->setup_json);
    c->config_json = NULL;
    c->setup_json = NULL;
}

/* ---- runs ---------------------------------------------------------------------------- */

static int check_run(struct db *db, const struct db_run *run, char *err)
{
    if (!run->name[0] || strlen(run->name) >= sizeof run->name) {
        snprintf(err, CASCADE_ERR_MAX, "%s: a run needs a name of 1 to %zu bytes", db->path, sizeof run->name - 1);
        return -1;
    }
    if (db_role_from_name(db_role_name(run->role)) < 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: run '%s': role %d is not one of probe, baseline, candidate, control",
                 db->path, run->name, (int)run->role);
        return -1;
    }
    if (run->retrain[0] && strcmp(run->retrain, "scratch") != 0 && strcmp(run->retrain, "inherit") != 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: run '%s': retrain '%.16s' is not scratch, inherit or empty",
                 db->path, run->name, run->retrain);
        return -1;
    }
    return 0;
}

int db_run_add(struct db *db, const struct db_run *run, int64_t *run_id, int *created, char *err)
{
    *created = 0;
    if (check_run(db, run, err) != 0 || db_begin(db, err) != 0) return -1;
    sqlite3_stmt *st;
    if (db_prepare(db, &st, "SELECT (SELECT id FROM runs WHERE campaign_id = ?1 AND name = ?2), "
                   "EXISTS (SELECT 1 FROM campaigns WHERE id = ?1)", err) != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, run->campaign_id);
    sqlite3_bind_text(st, 2, run->name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int exists = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    int campaign_exists = rc == SQLITE_ROW && sqlite3_column_int(st, 1);
    if (exists) *run_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) { db_fail(db, "looking up the run", err); goto fail; }
    if (exists) { db_rollback(db); return 0; }
    if (!campaign_exists) {
        snprintf(err, CASCADE_ERR_MAX, "%s: no campaign with id %lld", db->path, (long long)run->campaign_id);
        goto fail;
    }
    const struct sql_value v[] = {
        V_INT(run->campaign_id), V_STR(run->name), V_STR(db_role_name(run->role)), V_INT(run->seq),
        V_TEXT(run->arch), V_TEXT(run->arch_json), V_TEXT(run->reason), V_TEXT(run->retrain),
        V_INT(run->seed), V_TEXT(run->checkpoint), V_TEXT(run->host), V_TEXT(run->control_of),
        V_TEXT(run->replicate_of), V_INT(run->round), V_TEXT(run->parent),
    };
    if (write_sql(db, "INSERT INTO runs (campaign_id, name, role, status, seq, arch, arch_json, reason, "
                  "retrain, seed, checkpoint, host, control_of, replicate_of, round, parent) "
                  "VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                  v, N_VALUES(v), "adding the run", err) != 0)
        goto fail;
    *run_id = sqlite3_last_insert_rowid(db->h);
    if (db_commit(db, err) != 0) return -1;
    *created = 1;
    return 0;
fail:
    db_rollback(db);
    return -1;
}

int db_run_set_status(struct db *db, int64_t run_id, enum db_status status,
                      const char *error_or_null, char *err)
{
    assert(status >= DB_QUEUED && status <= DB_FAILED);
    const struct sql_value v[] = { V_INT(run_id), V_STR(db_status_name(status)), V_TEXT(error_or_null),
                                   V_REAL(db_now()) };
    /* running: count the attempt, keep the first start; done/failed: the end time. */
    return update_row(db, "UPDATE runs SET status = ?2, error = ?3, "
                      "attempts = attempts + (?2 = 'running'), "
                      "started_at = CASE WHEN ?2 = 'running' THEN coalesce(started_at, ?4) ELSE started_at END, "
                      "finished_at = CASE WHEN ?2 IN ('done', 'failed') THEN ?4 ELSE NULL END "
                      "WHERE id = ?1", v, N_VALUES(v), "setting the run status", "run", run_id, err);
}

int db_run_set_host(struct db *db, int64_t run_id, const char *host, char *err)
{
    const struct sql_value v[] = { V_INT(run_id), V_TEXT(host) };
    return update_row(db, "UPDATE runs SET host = ?2 WHERE id = ?1", v, N_VALUES(v), "setting the run's host",
                      "run", run_id, err);
}


enum run_col {
    RUN_ID, RUN_CAMPAIGN_ID, RUN_NAME, RUN_ROLE, RUN_STATUS, RUN_SEQ, RUN_ARCH, RUN_ARCH_JSON, RUN_REASON,
    RUN_RETRAIN, RUN_SEED, RUN_CHECKPOINT, RUN_ATTEMPTS, RUN_STARTED_AT, RUN_FINISHED_AT, RUN_HOST, RUN_ERROR,
    RUN_CONTROL_OF, RUN_REPLICATE_OF, RUN_ROUND, RUN_PARENT, RUN_NCOLS
};
static const char *const run_cols[RUN_NCOLS] = {
    [RUN_ID] = "id", [RUN_CAMPAIGN_ID] = "campaign_id", [RUN_NAME] = "name", [RUN_ROLE] = "role",
    [RUN_STATUS] = "status", [RUN_SEQ] = "seq", [RUN_ARCH] = "arch", [RUN_ARCH_JSON] = "arch_json",
    [RUN_REASON] = "reason", [RUN_RETRAIN] = "retrain", [RUN_SEED] = "seed", [RUN_CHECKPOINT] = "checkpoint",
    [RUN_ATTEMPTS] = "attempts", [RUN_STARTED_AT] = "started_at", [RUN_FINISHED_AT] = "finished_at",
    [RUN_HOST] = "host", [RUN_ERROR] = "error", [RUN_CONTROL_OF] = "control_of", [RUN_REPLICATE_OF] = "replicate_of",
    [RUN_ROUND] = "round", [RUN_PARENT] = "parent",
};

static int read_run(sqlite3_stmt *st, void *row, const void *ctx)
{
    struct db_run *r = row;
    r->id = sqlite3_column_int64(st, RUN_ID);
    r->campaign_id = sqlite3_column_int64(st, RUN_CAMPAIGN_ID);
    column_copy(st, RUN_NAME, r->name, sizeof r->name);
    r->role = state_of(db_role_from_name(db_column_text(st, RUN_ROLE)));
    r->status = state_of(db_status_from_name(db_column_text(st, RUN_STATUS)));
    r->seq = sqlite3_column_int(st, RUN_SEQ);
    r->arch = dup_or_empty(db_column_text(st, RUN_ARCH));
    r->arch_json = dup_or_empty(db_column_text(st, RUN_ARCH_JSON));
    r->reason = dup_or_empty(db_column_text(st, RUN_REASON));
    column_copy(st, RUN_RETRAIN, r->retrain, sizeof r->retrain);
    r->seed = sqlite3_column_int64(st, RUN_SEED);
    column_copy(st, RUN_CHECKPOINT, r->checkpoint, sizeof r->checkpoint);
    r->attempts = sqlite3_column_int(st, RUN_ATTEMPTS);
    r->started_at = sqlite3_column_double(st, RUN_STARTED_AT);
    r->finished_at = sqlite3_column_double(st, RUN_FINISHED_AT);
    column_copy(st, RUN_HOST, r->host, sizeof r->host);
    column_copy(st, RUN_ERROR, r->error, sizeof r->error);
    column_copy(st, RUN_CONTROL_OF, r->control_of, sizeof r->control_of);
    column_copy(st, RUN_REPLICATE_OF, r->replicate_of, sizeof r->replicate_of);
    r->round = sqlite3_column_int(st, RUN_ROUND);
    column_copy(st, RUN_PARENT, r->parent, sizeof r->parent);
    return r->arch && r->arch_json && r->reason ? 0 : -1;
}

static void free_run(void *row)
{
    struct db_run *r = row;
    free(r->arch);
    free(r->arch_json);
    free(r->reason);
}

int db_runs_list(struct db *db, int64_t campaign_id, struct db_run **runs, int *n, char *err)
{
    *runs = NULL;
    *n = 0;
    sqlite3_stmt *st;
    const char *cols[RUN_NCOLS];
    memcpy(cols, run_cols, sizeof cols);
    if (db->version < 3) cols[RUN_CONTROL_OF] = cols[RUN_REPLICATE_OF] = "NULL";   /* an older file, read as it is */
    if (db->version < 4) cols[RUN_ROUND] = cols[RUN_PARENT] = "NULL";
    if (prepare_select(db, &st, cols, RUN_NCOLS, "FROM runs WHERE campaign_id = ?1 ORDER BY seq, id", err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, campaign_id);
    void *rows;
    if (read_rows(db, st, sizeof **runs, read_run, NULL, free_run, &rows, n, "listing runs", err) != 0) return -1;
    *runs = rows;
    return 0;
}

void db_runs_free(struct db_run *runs, int n) { free_rows(runs, n, sizeof *runs, free_run); }

/* ---- metrics and measurements ------------------------------------------------------ */

/* Fails with "no run with id N" unless the run exists. Inside a transaction. */
static int need_run(struct db *db, int64_t run_id, char *err)
{
    int e = db_run_exists(db, run_id, err);
    if (e == 0) snprintf(err, CASCADE_ERR_MAX, "%s: no run with id %lld", db->path, (long long)run_id);
    return e == 1 ? 0 : -1;
}

int db_record_step(struct db *db, int64_t run_id, int64_t step, double loss, double lr,
                   double grad_norm, double tokens_per_s, double val_loss, char *err)
{
    const struct sql_value v[] = { V_INT(run_id), V_INT(step), V_REAL(loss), V_REAL(lr), V_REAL(grad_norm),
                                   V_REAL(tokens_per_s), V_REAL(val_loss) };
    if (db_begin(db, err) != 0) return -1;
    int rc = need_run(db, run_id, err);
    if (rc == 0)
        rc = write_sql(db, "INSERT OR REPLACE INTO steps (run_id, step, loss, lr, grad_norm, tokens_per_s, val_loss) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", v, N_VALUES(v), "recording a step", err);
    return end_write(db, rc, err);
}

static int valid_level(const char *level)
{
    return level && (strcmp(level, "weight") == 0 || strcmp(level, "realised") == 0);
}

static int insert_head(struct db *db, sqlite3_stmt *st, int64_t run_id, const char *level,
                       const struct db_head_measure *h, char *err)
{
    const struct sql_value v[] = {
        V_INT(run_id), V_STR(level), V_INT(h->layer), V_INT(h->head), V_STR(h->kind), V_REAL(h->routing_fraction),
        V_REAL(h->routing_erank), V_REAL(h->routing_pr), V_INT(h->routing_k90), V_INT(h->routing_planes),
        V_REAL(h->filtering_erank), V_REAL(h->filtering_pr), V_INT(h->filtering_k90), V_TEXT(h->routing_sv_json),
        V_TEXT(h->filtering_sv_json),
    };
    sqlite3_reset(st);
    bind_values(st, v, N_VALUES(v));
    if (sqlite3_step(st) == SQLITE_DONE) return 0;
    char what[96];
    snprintf(what, sizeof what, "recording head %d.%d (%.16s)", h->layer, h->head, h->kind);
    return db_fail(db, what, err);
}

static int insert_layer(struct db *db, sqlite3_stmt *st, int64_t run_id, const char *level,
                        const struct db_layer_measure *l, char *err)
{
    const struct sql_value v[] = {
        V_INT(run_id), V_STR(level), V_INT(l->layer), V_REAL(l->routing_erank_mean), V_REAL(l->routing_erank_min),
        V_REAL(l->routing_erank_max), V_REAL(l->routing_fraction_mean), V_REAL(l->filtering_erank_mean),
    };
    sqlite3_reset(st);
    bind_values(st, v, N_VALUES(v));
    if (sqlite3_step(st) == SQLITE_DONE) return 0;
    char what[64];
    snprintf(what, sizeof what, "recording layer %d", l->layer);
    return db_fail(db, what, err);
}

/* Each measure's own level, when set, must be the call's. */
static int check_levels(struct db *db, const char *level, const struct db_head_measure *heads, int n_heads,
                        const struct db_layer_measure *layers, int n_layers, char *err)
{
    if (!valid_level(level)) {
        snprintf(err, CASCADE_ERR_MAX, "%s: analysis level '%s' is not weight or realised", db->path,
                 level ? level : "(null)");
        return -1;
    }
    for (int i = 0; i < n_heads; i++)
        if (heads[i].level[0] && strcmp(heads[i].level, level) != 0) {
            snprintf(err, CASCADE_ERR_MAX, "%s: head %d.%d has level '%.16s' in a '%s' analysis", db->path,
                     heads[i].layer, heads[i].head, heads[i].level, level);
            return -1;
        }
    for (int i = 0; i < n_layers; i++)
        if (layers[i].level[0] && strcmp(layers[i].level, level) != 0) {
            snprintf(err, CASCADE_ERR_MAX, "%s: layer %d has level '%.16s' in a '%s' analysis", db->path,
                     layers[i].layer, layers[i].level, level);
            return -1;
        }
    return 0;
}

static int delete_level(struct db *db, const char *table, int64_t run_id, const char *level, char *err)
{
    static const char *const sql[] = {
        "DELETE FROM head_measures WHERE run_id = ?1 AND level = ?2",
        "DELETE FROM layer_measures WHERE run_id = ?1 AND level = ?2",
    };
    const struct sql_value v[] = { V_INT(run_id), V_STR(level) };
    return write_sql(db, sql[strcmp(table, "head_measures") == 0 ? 0 : 1], v, N_VALUES(v), "replacing measurements",
                     err);
}

int db_record_analysis(struct db *db, int64_t run_id, const char *level,
                       const struct db_head_measure *heads, int n_heads,
                       const struct db_layer_measure *layers, int n_layers,
                       double cascade_spearman, char *err)
{
    assert(n_heads >= 0 && n_layers >= 0);
    if (check_levels(db, level, heads, n_heads, layers, n_layers, err) != 0 || db_begin(db, err) != 0) return -1;
    int rc = need_run(db, run_id, err);
    if (rc == 0) rc = delete_level(db, "head_measures", run_id, level, err);
    if (rc == 0) rc = delete_level(db, "layer_measures", run_id, level, err);
    /* one prepared statement for all the heads, one for all the layers (a prepare per row
     * would dominate a model's worth of rows) */
    sqlite3_stmt *st = NULL;
    if (rc == 0)
        rc = db_prepare(db, &st, "INSERT INTO head_measures (run_id, level, layer, head, kind, routing_fraction, "
                        "routing_erank, routing_pr, routing_k90, routing_planes, filtering_erank, filtering_pr, "
                        "filtering_k90, routing_sv_json, filtering_sv_json) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)", err);
    for (int i = 0; rc == 0 && i < n_heads; i++) rc = insert_head(db, st, run_id, level, &heads[i], err);
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0)
        rc = db_prepare(db, &st, "INSERT INTO layer_measures (run_id, level, layer, routing_erank_mean, "
                        "routing_erank_min, routing_erank_max, routing_fraction_mean, filtering_erank_mean) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", err);
    for (int i = 0; rc == 0 && i < n_layers; i++) rc = insert_layer(db, st, run_id, level, &layers[i], err);
    sqlite3_finalize(st);
    const struct sql_value v[] = { V_INT(run_id), V_STR(level), V_REAL(cascade_spearman), V_REAL(db_now()) };
    if (rc == 0)
        rc = write_sql(db, "INSERT OR REPLACE INTO analysis_summary (run_id, level, cascade_spearman, measured_at) "
                       "VALUES (?1, ?2, ?3, ?4)", v, N_VALUES(v), "recording the analysis summary", err);
    return end_write(db, rc, err);
}

enum layer_col {
    LAYER_LAYER, LAYER_ROUTING_ERANK_MEAN, LAYER_ROUTING_ERANK_MIN, LAYER_ROUTING_ERANK_MAX,
    LAYER_ROUTING_FRACTION_MEAN, LAYER_FILTERING_ERANK_MEAN, LAYER_NCOLS
};
static const char *const layer_cols[LAYER_NCOLS] = {
    [LAYER_LAYER] = "layer", [LAYER_ROUTING_ERANK_MEAN] = "routing_erank_mean",
    [LAYER_ROUTING_ERANK_MIN] = "routing_erank_min", [LAYER_ROUTING_ERANK_MAX] = "routing_erank_max",
    [LAYER_ROUTING_FRACTION_MEAN] = "routing_fraction_mean", [LAYER_FILTERING_ERANK_MEAN] = "filtering_erank_mean",
};

/* ctx: the level read ("weight", "realised"). */
static int read_layer(sqlite3_stmt *st, void *row, const void *ctx)
{
    struct db_layer_measure *l = row;
    l->layer = sqlite3_column_int(st, LAYER_LAYER);
    snprintf(l->level, sizeof l->level, "%s", (const char *)ctx);
    l->routing_erank_mean = column_real(st, LAYER_ROUTING_ERANK_MEAN);
    l->routing_erank_min = column_real(st, LAYER_ROUTING_ERANK_MIN);
    l->routing_erank_max = column_real(st, LAYER_ROUTING_ERANK_MAX);
    l->routing_fraction_mean = column_real(st, LAYER_ROUTING_FRACTION_MEAN);
    l->filtering_erank_mean = column_real(st, LAYER_FILTERING_ERANK_MEAN);
    return 0;
}

int db_analysis_get(struct db *db, int64_t run_id, const char *level, struct db_layer_measure **layers,
                    int *n_layers, double *cascade_spearman, int *found, char *err)
{
    *layers = NULL;
    *n_layers = 0;
    *found = 0;
    *cascade_spearman = NAN;
    sqlite3_stmt *st;
    if (db_prepare(db, &st, "SELECT cascade_spearman FROM analysis_summary WHERE run_id = ?1 AND level = ?2",
                   err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    db_bind_text(st, 2, level);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *cascade_spearman = column_real(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return db_fail(db, "reading the analysis", err);
    if (prepare_select(db, &st, layer_cols, LAYER_NCOLS, "FROM layer_measures WHERE run_id = ?1 AND level = ?2 "
                       "ORDER BY layer", err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    db_bind_text(st, 2, level);
    void *rows;
    if (read_rows(db, st, sizeof **layers, read_layer, level, NULL, &rows, n_layers,
                  "reading the layer measures", err) != 0)
        return -1;
    *layers = rows;
    *found = 1;
    return 0;
}

enum head_col {
    HEAD_LAYER, HEAD_HEAD, HEAD_KIND, HEAD_ROUTING_FRACTION, HEAD_ROUTING_ERANK, HEAD_ROUTING_PR, HEAD_ROUTING_K90,
    HEAD_ROUTING_PLANES, HEAD_FILTERING_ERANK, HEAD_FILTERING_PR, HEAD_FILTERING_K90, HEAD_ROUTING_SV_JSON,
    HEAD_FILTERING_SV_JSON, HEAD_NCOLS
};
static const char *const head_cols[HEAD_NCOLS] = {
    [HEAD_LAYER] = "layer", [HEAD_HEAD] = "head", [HEAD_KIND] = "kind", [HEAD_ROUTING_FRACTION] = "routing_fraction",
    [HEAD_ROUTING_ERANK] = "routing_erank", [HEAD_ROUTING_PR] = "routing_pr", [HEAD_ROUTING_K90] = "routing_k90",
    [HEAD_ROUTING_PLANES] = "routing_planes", [HEAD_FILTERING_ERANK] = "filtering_erank",
    [HEAD_FILTERING_PR] = "filtering_pr", [HEAD_FILTERING_K90] = "filtering_k90",
    [HEAD_ROUTING_SV_JSON] = "routing_sv_json", [HEAD_FILTERING_SV_JSON] = "filtering_sv_json",
};

/* The column's text, malloc'ed, in *dst; NULL stays NULL. -1 when out of memory. */
static int column_dup_or_null(sqlite3_stmt *st, int i, char **dst)
{
    *dst = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return 0;
    return (*dst = strdup(db_column_text(st, i))) ? 0 : -1;
}

/* ctx: the level read ("weight", "realised"). */
static int read_head(sqlite3_stmt *st, void *row, const void *ctx)
{
    struct db_head_measure *h = row;
    h->layer = sqlite3_column_int(st, HEAD_LAYER);
    h->head = sqlite3_column_int(st, HEAD_HEAD);
    column_copy(st, HEAD_KIND, h->kind, sizeof h->kind);
    snprintf(h->level, sizeof h->level, "%s", (const char *)ctx);
    h->routing_fraction = column_real(st, HEAD_ROUTING_FRACTION);
    h->routing_erank = column_real(st, HEAD_ROUTING_ERANK);
    h->routing_pr = column_real(st, HEAD_ROUTING_PR);
    h->routing_k90 = sqlite3_column_int(st, HEAD_ROUTING_K90);
    h->routing_planes = sqlite3_column_int(st, HEAD_ROUTING_PLANES);
    h->filtering_erank = column_real(st, HEAD_FILTERING_ERANK);
    h->filtering_pr = column_real(st, HEAD_FILTERING_PR);
    h->filtering_k90 = sqlite3_column_int(st, HEAD_FILTERING_K90);
    if (column_dup_or_null(st, HEAD_ROUTING_SV_JSON, &h->routing_sv_json) != 0) return -1;
    return column_dup_or_null(st, HEAD_FILTERING_SV_JSON, &h->filtering_sv_json);
}

static void free_head(void *row)
{
    struct db_head_measure *h = row;
    free(h->routing_sv_json);
    free(h->filtering_sv_json);
}

int db_head_measures_get(struct db *db, int64_t run_id, const char *level, struct db_head_measure **heads,
                         int *n_heads, char *err)
{
    *heads = NULL;
    *n_heads = 0;
    if (!valid_level(level)) {
        snprintf(err, CASCADE_ERR_MAX, "%s: analysis level '%s' is not weight or realised", db->path,
                 level ? level : "(null)");
        return -1;
    }
    sqlite3_stmt *st;
    if (prepare_select(db, &st, head_cols, HEAD_NCOLS, "FROM head_measures WHERE run_id = ?1 AND level = ?2 "
                       "ORDER BY layer, head", err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, level, -1, SQLITE_TRANSIENT);
    void *rows;
    if (read_rows(db, st, sizeof **heads, read_head, level, free_head, &rows, n_heads, "reading the head measures",
                  err) != 0)
        return -1;
    *heads = rows;
    return 0;
}

void db_head_measures_free(struct db_head_measure *heads, int n_heads)
{
    free_rows(heads, n_heads, sizeof *heads, free_head);
}

/* ---- results ------------------------------------------------------------------------- */

int db_record_result(struct db *db, int64_t run_id, const struct db_result *r, char *err)
{
    double now = db_now();
    const struct sql_value v[] = {
        V_INT(run_id), V_INT(r->params_total), V_INT(r->params_attention), V_REAL(r->params_saved_pct),
        V_REAL(r->attention_saved_pct), V_REAL(r->val_loss), V_REAL(r->perplexity), V_REAL(r->bits_per_byte),
        V_REAL(r->delta_ppl_pct), V_REAL(r->tokens_per_s), V_REAL(r->flops_per_token), V_REAL(r->wall_s),
        V_INT(r->steps), V_INT(r->tokens_trained), V_REAL(now), V_TEXT(r->reference_run),
    };
    const struct sql_value done[] = { V_INT(run_id), V_REAL(now) };
    if (db_begin(db, err) != 0) return -1;
    int rc = need_run(db, run_id, err);
    if (rc == 0)
        rc = write_sql(db, "INSERT OR REPLACE INTO results (run_id, params_total, params_attention, "
                       "params_saved_pct, attention_saved_pct, val_loss, perplexity, bits_per_byte, delta_ppl_pct, "
                       "tokens_per_s, flops_per_token, wall_s, steps, tokens_trained, recorded_at, reference_run) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                       v, N_VALUES(v), "recording the result", err);
    if (rc == 0)
        rc = write_sql(db, "UPDATE runs SET status = 'done', error = NULL, finished_at = ?2 WHERE id = ?1", done,
                       N_VALUES(done), "marking the run done", err);
    return end_write(db, rc, err);
}

enum result_col {
    RESULT_PARAMS_TOTAL, RESULT_PARAMS_ATTENTION, RESULT_PARAMS_SAVED_PCT, RESULT_ATTENTION_SAVED_PCT,
    RESULT_VAL_LOSS, RESULT_PERPLEXITY, RESULT_BITS_PER_BYTE, RESULT_DELTA_PPL_PCT, RESULT_TOKENS_PER_S,
    RESULT_FLOPS_PER_TOKEN, RESULT_WALL_S, RESULT_STEPS, RESULT_TOKENS_TRAINED, RESULT_REFERENCE_RUN, RESULT_NCOLS
};
static const char *const result_cols[RESULT_NCOLS] = {
    [RESULT_PARAMS_TOTAL] = "params_total", [RESULT_PARAMS_ATTENTION] = "params_attention",
    [RESULT_PARAMS_SAVED_PCT] = "params_saved_pct", [RESULT_ATTENTION_SAVED_PCT] = "attention_saved_pct",
    [RESULT_VAL_LOSS] = "val_loss", [RESULT_PERPLEXITY] = "perplexity", [RESULT_BITS_PER_BYTE] = "bits_per_byte",
    [RESULT_DELTA_PPL_PCT] = "delta_ppl_pct", [RESULT_TOKENS_PER_S] = "tokens_per_s",
    [RESULT_FLOPS_PER_TOKEN] = "flops_per_token", [RESULT_WALL_S] = "wall_s", [RESULT_STEPS] = "steps",
    [RESULT_TOKENS_TRAINED] = "tokens_trained", [RESULT_REFERENCE_RUN] = "reference_run",
};

int db_result_get(struct db *db, int64_t run_id, struct db_result *out, int *found, char *err)
{
    memset(out, 0, sizeof *out);
    *found = 0;
    sqlite3_stmt *st;
    const char *cols[RESULT_NCOLS];
    memcpy(cols, result_cols, sizeof cols);
    if (db->version < 3) cols[RESULT_REFERENCE_RUN] = "NULL";   /* an older file, read as it is */
    if (prepare_select(db, &st, cols, RESULT_NCOLS, "FROM results WHERE run_id = ?1", err) != 0) return -1;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->params_total = sqlite3_column_int64(st, RESULT_PARAMS_TOTAL);
        out->params_attention = sqlite3_column_int64(st, RESULT_PARAMS_ATTENTION);
        out->params_saved_pct = column_real(st, RESULT_PARAMS_SAVED_PCT);
        out->attention_saved_pct = column_real(st, RESULT_ATTENTION_SAVED_PCT);
        out->val_loss = column_real(st, RESULT_VAL_LOSS);
        out->perplexity = column_real(st, RESULT_PERPLEXITY);
        out->bits_per_byte = column_real(st, RESULT_BITS_PER_BYTE);
        out->delta_ppl_pct = column_real(st, RESULT_DELTA_PPL_PCT);
        out->tokens_per_s = column_real(st, RESULT_TOKENS_PER_S);
        out->flops_per_token = column_real(st, RESULT_FLOPS_PER_TOKEN);
        out->wall_s = column_real(st, RESULT_WALL_S);
        out->steps = sqlite3_column_int64(st, RESULT_STEPS);
        out->tokens_trained = sqlite3_column_int64(st, RESULT_TOKENS_TRAINED);
        column_copy(st, RESULT_REFERENCE_RUN, out->reference_run, sizeof out->reference_run);
        *found = 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(db, "reading the result", err);
}

int db_round_set(struct db *db, int64_t campaign_id, int round, const char *incumbent, const char *objective,
                 double value, double delta_ppl_pct, int final, char *err)
{
    const struct sql_value v[] = { V_INT(campaign_id), V_INT(round), V_TEXT(incumbent), V_TEXT(objective),
                                   V_REAL(value), V_REAL(delta_ppl_pct), V_INT(final) };
    if (db_begin(db, err) != 0) return -1;
    return end_write(db, write_sql(db, "INSERT OR REPLACE INTO rounds (campaign_id, round, incumbent, objective, "
                                   "value, delta_ppl_pct, final) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                   v, N_VALUES(v), "recording the round", err), err);
}

/* ---- the values the proposal rules read ---------------------------------------------- */

int db_record_layer_values(struct db *db, int64_t run_id, const char *measure, const double *value,
                           const double *spread, int n_layer, int n, char *err)
{
    assert(n_layer >= 0 && n >= 1);
    if (db_begin(db, err) != 0) return -1;
    const struct sql_value key[] = { V_INT(run_id), V_STR(measure) };
    int rc = need_run(db, run_id, err);
    if (rc == 0)
        rc = write_sql(db, "DELETE FROM layer_values WHERE run_id = ?1 AND measure = ?2", key, N_VALUES(key),
                       "replacing the layer values", err);
    for (int l = 0; rc == 0 && l < n_layer; l++) {
        const struct sql_value v[] = { V_INT(run_id), V_STR(measure), V_INT(l), V_REAL(value[l]),
                                       V_REAL(spread ? spread[l] : NAN), V_INT(n) };
        rc = write_sql(db, "INSERT INTO layer_values (run_id, measure, layer, value, spread, n) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", v, N_VALUES(v), "recording the layer values", err);
    }
    return end_write(db, rc, err);
}

int db_record_sensitivity(struct db *db, int64_t run_id, const struct db_sensitivity_point *pts, int n, char *err)
{
    assert(n >= 0);
    if (db_begin(db, err) != 0) return -1;
    const struct sql_value key[] = { V_INT(run_id) };
    int rc = need_run(db, run_id, err);
    if (rc == 0)
        rc = write_sql(db, "DELETE FROM sensitivity WHERE run_id = ?1", key, N_VALUES(key),
                       "replacing the sensitivity curves", err);
    for (int i = 0; rc == 0 && i < n; i++) {
        const struct sql_value v[] = { V_INT(run_id), V_INT(pts[i].layer), V_STR(pts[i].change),
                                       V_INT(pts[i].head_dim), V_REAL(pts[i].val_loss), V_REAL(pts[i].delta_loss) };
        rc = write_sql(db, "INSERT INTO sensitivity (run_id, layer, change, head_dim, val_loss, delta_loss) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", v, N_VALUES(v), "recording the sensitivity curves", err);
    }
    return end_write(db, rc, err);
}

/* ---- the evidence tables, read for reports ---------------------------------------------
 * One query per campaign and table (not per run): a report reads every measured run's rows
 * at once. A file older than version 5 has none of these tables, and a version-5 file made
 * before v_paired existed (views come with db/schema.sql) has no paired rows: both read as
 * no rows, so an old file gives a report without these sections instead of an error. */

/* Whether the file holds a table or view of this name (version 5 files differ in views). */
static int has_object(struct db *db, const char *name, int *found, char *err)
{
    sqlite3_stmt *st;
    *found = 0;
    if (db_prepare(db, &st, "SELECT 1 FROM sqlite_master WHERE name = ?1", err) != 0) return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(db, "looking up the schema", err);
}

static int read_layer_value(sqlite3_stmt *st, void *row, const void *ctx)
{
    struct db_layer_value *v = row;
    v->run_id = sqlite3_column_int64(st, 0);
    column_copy(st, 1, v->measure, sizeof v->measure);
    v->layer = sqlite3_column_int(st, 2);
    v->value = column_real(st, 3);
    v->spread = column_real(st, 4);
    v->n = sqlite3_column_int(st, 5);
    return 0;
}

int db_layer_values_list(struct db *db, int64_t campaign_id, struct db_layer_value **rows, int *n, char *err)
{
    *rows = NULL;
    *n = 0;
    if (db->version < 5) return 0;   /* recorded from version 5 on */
    sqlite3_stmt *st;
    if (db_prepare(db, &st, "SELECT v.run_id, v.measure, v.layer, v.value, v.spread, v.n FROM layer_values v "
                   "JOIN runs r ON r.id = v.run_id WHERE r.campaign_id = ?1 ORDER BY r.seq, r.id, v.measure, v.layer",
                   err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, campaign_id);
    void *list;
    if (read_rows(db, st, sizeof **rows, read_layer_value, NULL, NULL, &list, n, "reading the layer values", err) != 0)
        return -1;
    *rows = list;
    return 0;
}

static int read_sensitivity_row(sqlite3_stmt *st, void *row, const void *ctx)
{
    struct db_sensitivity_row *s = row;
    s->run_id = sqlite3_column_int64(st, 0);
    s->pt.layer = sqlite3_column_int(st, 1);
    column_copy(st, 2, s->pt.change, sizeof s->pt.change);
    s->pt.head_dim = sqlite3_column_int(st, 3);
    s->pt.val_loss = column_real(st, 4);
    s->pt.delta_loss = column_real(st, 5);
    return 0;
}

int db_sensitivity_list(struct db *db, int64_t campaign_id, struct db_sensitivity_row **rows, int *n, char *err)
{
    *rows = NULL;
    *n = 0;
    if (db->version < 5) return 0;
    sqlite3_stmt *st;
    /* per layer: the linearisation first, then the cuts from the widest head dim down (a
     * curve read left to right as the cut deepens is drawn by head dim anyway) */
    if (db_prepare(db, &st, "SELECT s.run_id, s.layer, s.change, s.head_dim, s.val_loss, s.delta_loss FROM sensitivity s "
                   "JOIN runs r ON r.id = s.run_id WHERE r.campaign_id = ?1 "
                   "ORDER BY r.seq, r.id, s.layer, s.change = 'cut', s.head_dim DESC", err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, campaign_id);
    void *list;
    if (read_rows(db, st, sizeof **rows, read_sensitivity_row, NULL, NULL, &list, n, "reading the sensitivity curves",
                  err) != 0)
        return -1;
    *rows = list;
    return 0;
}

static int read_paired(sqlite3_stmt *st, void *row, const void *ctx)
{
    struct db_paired *p = row;
    column_copy(st, 0, p->candidate, sizeof p->candidate);
    column_copy(st, 1, p->control, sizeof p->control);
    column_copy(st, 2, p->control_kind, sizeof p->control_kind);
    p->n = sqlite3_column_int(st, 3);
    p->gap_mean_pct = column_real(st, 4);
    p->gap_sd_pct = column_real(st, 5);
    p->gap_se_pct = column_real(st, 6);
    p->wins = sqlite3_column_int(st, 7);
    column_copy(st, 8, p->verdict, sizeof p->verdict);
    return 0;
}

int db_paired_list(struct db *db, int64_t campaign_id, struct db_paired **rows, int *n, char *err)
{
    *rows = NULL;
    *n = 0;
    if (db->version < 5) return 0;
    int found;
    if (has_object(db, "v_paired", &found, err) != 0) return -1;
    if (!found) return 0;
    sqlite3_stmt *st;
    /* in the campaign's order: by the candidate's seq, then the control's */
    if (db_prepare(db, &st, "SELECT p.candidate, p.control, p.control_kind, p.n, p.gap_mean_pct, p.gap_sd_pct, "
                   "p.gap_se_pct, p.wins, p.verdict FROM v_paired p "
                   "LEFT JOIN runs a ON a.campaign_id = p.campaign_id AND a.name = p.candidate "
                   "LEFT JOIN runs b ON b.campaign_id = p.campaign_id AND b.name = p.control "
                   "WHERE p.campaign_id = ?1 ORDER BY a.seq, b.seq, p.candidate, p.control", err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, campaign_id);
    void *list;
    if (read_rows(db, st, sizeof **rows, read_paired, NULL, NULL, &list, n, "reading the paired verdicts", err) != 0)
        return -1;
    *rows = list;
    return 0;
}
