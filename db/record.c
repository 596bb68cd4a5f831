/* db/record.c — what the search controller writes and reads back: campaigns, runs, step
 * metrics, spectral measurements and results (tables of db/schema.sql). Each write
 * function is one transaction (BEGIN IMMEDIATE ... COMMIT), so a process killed at any
 * moment leaves either all of a call's rows or none. Every SQL value is a bound
 * parameter. */
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

/* Steps a statement that returns no rows, finalizes it. */
static int step_done(struct db *db, sqlite3_stmt *st, const char *what, char *err)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(db, what, err);
}

/* One transaction that updates the row `id` and must change exactly it: ?1 is the id, ?2
 * the text (NULL when NULL or ""), ?3, where the statement has it, the time now. `noun`
 * ("campaign", "run") names the row in the error. */
static int update_row(struct db *db, const char *sql, int64_t id, const char *text, const char *doing,
                      const char *noun, char *err)
{
    if (db_begin(db, err) != 0) return -1;
    sqlite3_stmt *st;
    if (db_prepare(db, &st, sql, err) != 0) goto fail;
    sqlite3_bind_int64(st, 1, id);
    db_bind_text(st, 2, text);
    if (sqlite3_bind_parameter_count(st) >= 3) sqlite3_bind_double(st, 3, db_now());
    if (step_done(db, st, doing, err) != 0) goto fail;
    if (sqlite3_changes(db->h) != 1) {
        snprintf(err, CASCADE_ERR_MAX, "%s: no %s with id %lld", db->path, noun, (long long)id);
        goto fail;
    }
    return db_commit(db, err);
fail:
    db_rollback(db);
    return -1;
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
    if (db_prepare(db, &st, "INSERT INTO campaigns (name, config_json, status, started_at, code_version, host) "
                   "VALUES (?1, ?2, 'running', ?3, ?4, ?5)", err) != 0) goto fail;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, config_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, db_now());
    db_bind_text(st, 4, code_version);
    db_bind_text(st, 5, host);
    if (step_done(db, st, "adding the campaign", err) != 0) goto fail;
    *campaign_id = sqlite3_last_insert_rowid(db->h);
    return db_commit(db, err);
fail:
    db_rollback(db);
    return -1;
}

int db_campaign_set_status(struct db *db, int64_t campaign_id, const char *status, char *err)
{
    static const char *const ok[] = { "running", "done", "failed", "stopped" };
    int known = 0;
    for (int i = 0; i < 4; i++) known |= status && strcmp(status, ok[i]) == 0;
    if (!known) {
        snprintf(err, CASCADE_ERR_MAX, "%s: campaign status '%s' is not one of running, done, failed, stopped",
                 db->path, status ? status : "(null)");
        return -1;
    }
    return update_row(db, "UPDATE campaigns SET status = ?2, "
                      "finished_at = CASE WHEN ?2 = 'running' THEN NULL ELSE ?3 END WHERE id = ?1",
                      campaign_id, status, "setting the campaign status", "campaign", err);
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
    return update_row(db, "UPDATE campaigns SET setup_json = ?2 WHERE id = ?1", campaign_id, setup_json,
                      "recording the campaign's setup", "campaign", err);
}

int db_campaign_get(struct db *db, const char *name, struct db_campaign *out, char *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    /* a version-1 file, read as it is, has no setup_json column */
    const char *sql = db->version >= 2
        ? "SELECT id, name, config_json, status, started_at, finished_at, code_version, host, setup_json "
          "FROM campaigns WHERE ?1 IS NULL OR name = ?1 ORDER BY started_at DESC, id DESC LIMIT 1"
        : "SELECT id, name, config_json, status, started_at, finished_at, code_version, host, NULL "
          "FROM campaigns WHERE ?1 IS NULL OR name = ?1 ORDER BY started_at DESC, id DESC LIMIT 1";
    if (db_prepare(db, &st, sql, err) != 0) return -1;
    db_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        snprintf(out->name, sizeof out->name, "%s", db_column_text(st, 1));
        out->config_json = dup_or_empty(db_column_text(st, 2));
        snprintf(out->status, sizeof out->status, "%s", db_column_text(st, 3));
        out->started_at = sqlite3_column_double(st, 4);
        out->finished_at = sqlite3_column_double(st, 5);   /* NULL reads as 0 */
        snprintf(out->code_version, sizeof out->code_version, "%s", db_column_text(st, 6));
        snprintf(out->host, sizeof out->host, "%s", db_column_text(st, 7));
        out->setup_json = dup_or_empty(db_column_text(st, 8));
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

static int valid_role(const char *role)
{
    static const char *const roles[] = { "probe", "baseline", "candidate", "control" };
    for (int i = 0; i < 4; i++)
        if (strcmp(role, roles[i]) == 0) return 1;
    return 0;
}

static int check_run(struct db *db, const struct db_run *run, char *err)
{
    if (!run->name[0] || strlen(run->name) >= sizeof run->name) {
        snprintf(err, CASCADE_ERR_MAX, "%s: a run needs a name of 1 to %zu bytes", db->path, sizeof run->name - 1);
        return -1;
    }
    if (!valid_role(run->role)) {
        snprintf(err, CASCADE_ERR_MAX, "%s: run '%s': role '%.16s' is not one of probe, baseline, candidate, control",
                 db->path, run->name, run->role);
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
    if (db_prepare(db, &st, "INSERT INTO runs (campaign_id, name, role, status, seq, arch, arch_json, reason, "
                   "retrain, seed, checkpoint, host) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                   err) != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, run->campaign_id);
    sqlite3_bind_text(st, 2, run->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, run->role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, run->seq);
    db_bind_text(st, 5, run->arch);
    db_bind_text(st, 6, run->arch_json);
    db_bind_text(st, 7, run->reason);
    db_bind_text(st, 8, run->retrain);
    sqlite3_bind_int64(st, 9, run->seed);
    db_bind_text(st, 10, run->checkpoint);
    db_bind_text(st, 11, run->host);
    if (step_done(db, st, "adding the run", err) != 0) goto fail;
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
    if (db_begin(db, err) != 0) return -1;
    sqlite3_stmt *st;
    /* running: count the attempt, keep the first start; done/failed: the end time. */
    if (db_prepare(db, &st, "UPDATE runs SET status = ?2, error = ?3, "
                   "attempts = attempts + (?2 = 'running'), "
                   "started_at = CASE WHEN ?2 = 'running' THEN coalesce(started_at, ?4) ELSE started_at END, "
                   "finished_at = CASE WHEN ?2 IN ('done', 'failed') THEN ?4 ELSE NULL END "
                   "WHERE id = ?1", err) != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, db_status_name(status), -1, SQLITE_STATIC);
    db_bind_text(st, 3, error_or_null);
    sqlite3_bind_double(st, 4, db_now());
    if (step_done(db, st, "setting the run status", err) != 0) goto fail;
    if (sqlite3_changes(db->h) != 1) {
        snprintf(err, CASCADE_ERR_MAX, "%s: no run with id %lld", db->path, (long long)run_id);
        goto fail;
    }
    return db_commit(db, err);
fail:
    db_rollback(db);
    return -1;
}

int db_run_set_host(struct db *db, int64_t run_id, const char *host, char *err)
{
    return update_row(db, "UPDATE runs SET host = ?2 WHERE id = ?1", run_id, host, "setting the run's host",
                      "run", err);
}

static enum db_status status_of(const char *s)
{
    if (strcmp(s, "running") == 0) return DB_RUNNING;
    if (strcmp(s, "done") == 0) return DB_DONE;
    if (strcmp(s, "failed") == 0) return DB_FAILED;
    return DB_QUEUED;
}

/* One row of the SELECT in db_runs_list into r; -1 when out of memory. */
static int read_run(sqlite3_stmt *st, struct db_run *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->campaign_id = sqlite3_column_int64(st, 1);
    snprintf(r->name, sizeof r->name, "%s", db_column_text(st, 2));
    snprintf(r->role, sizeof r->role, "%s", db_column_text(st, 3));
    r->status = status_of(db_column_text(st, 4));
    r->seq = sqlite3_column_int(st, 5);
    snprintf(r->arch, sizeof r->arch, "%s", db_column_text(st, 6));
    r->arch_json = dup_or_empty(db_column_text(st, 7));
    r->reason = dup_or_empty(db_column_text(st, 8));
    snprintf(r->retrain, sizeof r->retrain, "%s", db_column_text(st, 9));
    r->seed = sqlite3_column_int64(st, 10);
    snprintf(r->checkpoint, sizeof r->checkpoint, "%s", db_column_text(st, 11));
    r->attempts = sqlite3_column_int(st, 12);
    r->started_at = sqlite3_column_double(st, 13);
    r->finished_at = sqlite3_column_double(st, 14);
    snprintf(r->host, sizeof r->host, "%s", db_column_text(st, 15));
    snprintf(r->error, sizeof r->error, "%s", db_column_text(st, 16));
    return r->arch_json && r->reason ? 0 : -1;
}

int db_runs_list(struct db *db, int64_t campaign_id, struct db_run **runs, int *n, char *err)
{
    *runs = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (db_prepare(db, &st, "SELECT id, campaign_id, name, role, status, seq, arch, arch_json, reason, retrain, "
                   "seed, checkpoint, attempts, started_at, finished_at, host, error "
                   "FROM runs WHERE campaign_id = ?1 ORDER BY seq, id", err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, campaign_id);
    struct db_run *list = NULL;
    int count = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            struct db_run *grown = realloc(list, (size_t)cap * sizeof *grown);
            if (!grown) break;
            list = grown;
        }
        if (read_run(st, &list[count++]) != 0) break;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        *runs = list;
        *n = count;
        return 0;
    }
    if (rc == SQLITE_ROW) snprintf(err, CASCADE_ERR_MAX, "%s: out of memory listing runs", db->path);
    else db_fail(db, "listing runs", err);
    db_runs_free(list, count);
    return -1;
}

void db_runs_free(struct db_run *runs, int n)
{
    for (int i = 0; runs && i < n; i++) {
        free(runs[i].arch_json);
        free(runs[i].reason);
    }
    free(runs);
}

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
    if (db_begin(db, err) != 0) return -1;
    sqlite3_stmt *st;
    if (need_run(db, run_id, err) != 0 ||
        db_prepare(db, &st, "INSERT OR REPLACE INTO steps (run_id, step, loss, lr, grad_norm, tokens_per_s, val_loss) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", err) != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, step);
    db_bind_real(st, 3, loss);
    db_bind_real(st, 4, lr);
    db_bind_real(st, 5, grad_norm);
    db_bind_real(st, 6, tokens_per_s);
    db_bind_real(st, 7, val_loss);
    if (step_done(db, st, "recording a step", err) != 0) goto fail;
    return db_commit(db, err);
fail:
    db_rollback(db);
    return -1;
}

static int valid_level(const char *level)
{
    return level && (strcmp(level, "weight") == 0 || strcmp(level, "realised") == 0);
}

static int insert_head(struct db *db, sqlite3_stmt *st, int64_t run_id, const char *level,
                       const struct db_head_measure *h, char *err)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, level, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, h->layer);
    sqlite3_bind_int(st, 4, h->head);
    sqlite3_bind_text(st, 5, h->kind, -1, SQLITE_TRANSIENT);
    db_bind_real(st, 6, h->routing_fraction);
    db_bind_real(st, 7, h->routing_erank);
    db_bind_real(st, 8, h->routing_pr);
    sqlite3_bind_int(st, 9, h->routing_k90);
    sqlite3_bind_int(st, 10, h->routing_planes);
    db_bind_real(st, 11, h->filtering_erank);
    db_bind_real(st, 12, h->filtering_pr);
    sqlite3_bind_int(st, 13, h->filtering_k90);
    db_bind_text(st, 14, h->routing_sv_json);
    db_bind_text(st, 15, h->filtering_sv_json);
    if (sqlite3_step(st) == SQLITE_DONE) return 0;
    char what[96];
    snprintf(what, sizeof what, "recording head %d.%d (%.16s)", h->layer, h->head, h->kind);
    return db_fail(db, what, err);
}

static int insert_layer(struct db *db, sqlite3_stmt *st, int64_t run_id, const char *level,
                        const struct db_layer_measure *l, char *err)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, level, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, l->layer);
    db_bind_real(st, 4, l->routing_erank_mean);
    db_bind_real(st, 5, l->routing_erank_min);
    db_bind_real(st, 6, l->routing_erank_max);
    db_bind_real(st, 7, l->routing_fraction_mean);
    db_bind_real(st, 8, l->filtering_erank_mean);
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
    sqlite3_stmt *st;
    if (db_prepare(db, &st, sql[strcmp(table, "head_measures") == 0 ? 0 : 1], err) != 0) return -1;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, level, -1, SQLITE_TRANSIENT);
    return step_done(db, st, "replacing measurements", err);
}

int db_record_analysis(struct db *db, int64_t run_id, const char *level,
                       const struct db_head_measure *heads, int n_heads,
                       const struct db_layer_measure *layers, int n_layers,
                       double cascade_spearman, char *err)
{
    assert(n_heads >= 0 && n_layers >= 0);
    if (check_levels(db, level, heads, n_heads, layers, n_layers, err) != 0 || db_begin(db, err) != 0) return -1;
    sqlite3_stmt *st = NULL;
    if (need_run(db, run_id, err) != 0 || delete_level(db, "head_measures", run_id, level, err) != 0 ||
        delete_level(db, "layer_measures", run_id, level, err) != 0)
        goto fail;
    if (db_prepare(db, &st, "INSERT INTO head_measures (run_id, level, layer, head, kind, routing_fraction, "
                   "routing_erank, routing_pr, routing_k90, routing_planes, filtering_erank, filtering_pr, "
                   "filtering_k90, routing_sv_json, filtering_sv_json) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)", err) != 0)
        goto fail;
    for (int i = 0; i < n_heads; i++)
        if (insert_head(db, st, run_id, level, &heads[i], err) != 0) goto fail;
    sqlite3_finalize(st);
    if (db_prepare(db, &st, "INSERT INTO layer_measures (run_id, level, layer, routing_erank_mean, "
                   "routing_erank_min, routing_erank_max, routing_fraction_mean, filtering_erank_mean) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", err) != 0)
        goto fail;
    for (int i = 0; i < n_layers; i++)
        if (insert_layer(db, st, run_id, level, &layers[i], err) != 0) goto fail;
    sqlite3_finalize(st);
    if (db_prepare(db, &st, "INSERT OR REPLACE INTO analysis_summary (run_id, level, cascade_spearman, measured_at) "
                   "VALUES (?1, ?2, ?3, ?4)", err) != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, level, -1, SQLITE_TRANSIENT);
    db_bind_real(st, 3, cascade_spearman);
    sqlite3_bind_double(st, 4, db_now());
    int rc = step_done(db, st, "recording the analysis summary", err);
    st = NULL;
    if (rc != 0) goto fail;
    return db_commit(db, err);
fail:
    sqlite3_finalize(st);
    db_rollback(db);
    return -1;
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
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) *cascade_spearman = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return db_fail(db, "reading the analysis", err);
    if (db_prepare(db, &st, "SELECT layer, routing_erank_mean, routing_erank_min, routing_erank_max, "
                   "routing_fraction_mean, filtering_erank_mean, (SELECT count(*) FROM layer_measures "
                   "WHERE run_id = ?1 AND level = ?2) FROM layer_measures WHERE run_id = ?1 AND level = ?2 "
                   "ORDER BY layer", err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    db_bind_text(st, 2, level);
    struct db_layer_measure *list = NULL;
    int n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!list) {
            list = calloc((size_t)sqlite3_column_int(st, 6), sizeof *list);
            if (!list) break;
        }
        struct db_layer_measure *l = &list[n++];
        memset(l, 0, sizeof *l);
        l->layer = sqlite3_column_int(st, 0);
        snprintf(l->level, sizeof l->level, "%s", level);
        double *v[5] = { &l->routing_erank_mean, &l->routing_erank_min, &l->routing_erank_max,
                         &l->routing_fraction_mean, &l->filtering_erank_mean };
        for (int k = 0; k < 5; k++)
            *v[k] = sqlite3_column_type(st, 1 + k) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 1 + k);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(list);
        if (rc == SQLITE_ROW) snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", db->path);
        else db_fail(db, "reading the layer measures", err);
        return -1;
    }
    *layers = list;
    *n_layers = n;
    *found = 1;
    return 0;
}

/* One row of the SELECT in db_head_measures_get into h; -1 when out of memory. */
static int read_head(sqlite3_stmt *st, const char *level, struct db_head_measure *h)
{
    memset(h, 0, sizeof *h);
    h->layer = sqlite3_column_int(st, 0);
    h->head = sqlite3_column_int(st, 1);
    snprintf(h->kind, sizeof h->kind, "%s", db_column_text(st, 2));
    snprintf(h->level, sizeof h->level, "%s", level);
    double *reals[] = { &h->routing_fraction, &h->routing_erank, &h->routing_pr, &h->filtering_erank,
                        &h->filtering_pr };
    const int cols[] = { 3, 4, 5, 7, 8 };
    for (int k = 0; k < 5; k++)
        *reals[k] = sqlite3_column_type(st, cols[k]) == SQLITE_NULL ? NAN : sqlite3_column_double(st, cols[k]);
    h->routing_k90 = sqlite3_column_int(st, 6);
    h->routing_planes = sqlite3_column_int(st, 10);
    h->filtering_k90 = sqlite3_column_int(st, 9);
    for (int k = 0; k < 2; k++) {
        char **dst = k ? &h->filtering_sv_json : &h->routing_sv_json;
        if (sqlite3_column_type(st, 11 + k) == SQLITE_NULL) continue;
        if (!(*dst = strdup(db_column_text(st, 11 + k)))) return -1;
    }
    return 0;
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
    if (db_prepare(db, &st, "SELECT layer, head, kind, routing_fraction, routing_erank, routing_pr, routing_k90, "
                   "filtering_erank, filtering_pr, filtering_k90, routing_planes, routing_sv_json, "
                   "filtering_sv_json FROM head_measures WHERE run_id = ?1 AND level = ?2 ORDER BY layer, head",
                   err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, level, -1, SQLITE_TRANSIENT);
    struct db_head_measure *list = NULL;
    int count = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 32;
            struct db_head_measure *grown = realloc(list, (size_t)cap * sizeof *grown);
            if (!grown) break;
            list = grown;
        }
        if (read_head(st, level, &list[count++]) != 0) break;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        *heads = list;
        *n_heads = count;
        return 0;
    }
    if (rc == SQLITE_ROW) snprintf(err, CASCADE_ERR_MAX, "%s: out of memory reading head measures", db->path);
    else db_fail(db, "reading the head measures", err);
    db_head_measures_free(list, count);
    return -1;
}

void db_head_measures_free(struct db_head_measure *heads, int n_heads)
{
    for (int i = 0; heads && i < n_heads; i++) {
        free(heads[i].routing_sv_json);
        free(heads[i].filtering_sv_json);
    }
    free(heads);
}

/* ---- results ------------------------------------------------------------------------- */

int db_record_result(struct db *db, int64_t run_id, const struct db_result *r, char *err)
{
    if (db_begin(db, err) != 0) return -1;
    sqlite3_stmt *st;
    if (need_run(db, run_id, err) != 0 ||
        db_prepare(db, &st, "INSERT OR REPLACE INTO results (run_id, params_total, params_attention, "
                   "params_saved_pct, attention_saved_pct, val_loss, perplexity, bits_per_byte, delta_ppl_pct, "
                   "tokens_per_s, flops_per_token, wall_s, steps, tokens_trained, recorded_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)", err) != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, r->params_total);
    sqlite3_bind_int64(st, 3, r->params_attention);
    const double reals[] = { r->params_saved_pct, r->attention_saved_pct, r->val_loss, r->perplexity,
                             r->bits_per_byte, r->delta_ppl_pct, r->tokens_per_s, r->flops_per_token, r->wall_s };
    for (int k = 0; k < 9; k++) db_bind_real(st, 4 + k, reals[k]);
    sqlite3_bind_int64(st, 13, r->steps);
    sqlite3_bind_int64(st, 14, r->tokens_trained);
    double now = db_now();
    sqlite3_bind_double(st, 15, now);
    if (step_done(db, st, "recording the result", err) != 0) goto fail;
    if (db_prepare(db, &st, "UPDATE runs SET status = 'done', error = NULL, finished_at = ?2 WHERE id = ?1", err) != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_double(st, 2, now);
    if (step_done(db, st, "marking the run done", err) != 0) goto fail;
    return db_commit(db, err);
fail:
    db_rollback(db);
    return -1;
}

static double column_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int db_result_get(struct db *db, int64_t run_id, struct db_result *out, int *found, char *err)
{
    memset(out, 0, sizeof *out);
    *found = 0;
    sqlite3_stmt *st;
    if (db_prepare(db, &st, "SELECT params_total, params_attention, params_saved_pct, attention_saved_pct, "
                   "val_loss, perplexity, bits_per_byte, delta_ppl_pct, tokens_per_s, flops_per_token, wall_s, "
                   "steps, tokens_trained FROM results WHERE run_id = ?1", err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->params_total = sqlite3_column_int64(st, 0);
        out->params_attention = sqlite3_column_int64(st, 1);
        double *reals[] = { &out->params_saved_pct, &out->attention_saved_pct, &out->val_loss, &out->perplexity,
                            &out->bits_per_byte, &out->delta_ppl_pct, &out->tokens_per_s, &out->flops_per_token,
                            &out->wall_s };
        for (int k = 0; k < 9; k++) *reals[k] = column_real(st, 2 + k);
        out->steps = sqlite3_column_int64(st, 11);
        out->tokens_trained = sqlite3_column_int64(st, 12);
        *found = 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(db, "reading the result", err);
}
