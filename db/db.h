/* db/db.h — the whole interface of the results database (module `db`).
 *
 * One SQLite file holds campaigns, their runs (probe, baselines, candidates, controls),
 * per-step metrics, per-head and per-layer spectral measurements, and results. The schema
 * is db/schema.sql (versioned; db_open migrates older files forward). The file is in WAL
 * mode with a busy timeout; every write is one transaction. A writer (the search
 * controller) also holds an exclusive advisory lock on FILE.lock (flock), so a second
 * campaign process on the same database refuses at once with a clear message, and a
 * killed process (SIGKILL included) releases the lock with its death.
 *
 * Errors: -1 and one line in err (CASCADE_ERR_MAX bytes) naming the file and what failed.
 */
#ifndef CASCADE_DB_H
#define CASCADE_DB_H

#include <stdint.h>

#ifndef CASCADE_ERR_MAX
#define CASCADE_ERR_MAX 512
#endif

#define DB_SCHEMA_VERSION 5

struct db;   /* opaque: the sqlite3 handle, the lock file descriptor, the path */

enum db_mode { DB_READ_ONLY = 0, DB_WRITE = 1 };
/* DB_WRITE creates the file if needed, migrates it, and takes FILE.lock (refusing with
 * "FILE is in use by another cascade process (pid N)" if held). DB_READ_ONLY opens an
 * existing file read-only (queries, reports) and writes nothing, also where its directory
 * cannot be written (db/db.c, "Reading", says how); it never migrates (a file of an older
 * schema version is read if compatible, a newer one is an error). */
int db_open(struct db **out, const char *path, enum db_mode mode, char *err);
void db_close(struct db *db);
const char *db_path(const struct db *db);
/* The schema version of the open file: DB_SCHEMA_VERSION for a writer (migrated), the
 * file's own for a reader, which reads older files as they are. What a version lacks
 * reads as absent: a version-2 file has no control_of, replicate_of or reference_run
 * (read as "") and no v_noise or v_controls (db_query_named refuses "noise" and
 * "controls" on it). */
int db_schema_version(const struct db *db);

/* ---- states ----------------------------------------------------------------------------
 * A campaign's status, a run's status and a run's role are enums here and their names in
 * the database (the names below, which the schema's CHECK constraints enforce).
 *
 * A campaign, one `cascade search --config C --db F` (run again, the same command resumes
 * it):
 *   running   db_campaign_begin creates it running; it is set running again (finished_at
 *             cleared) whenever a process starts working on it
 *   stopped   the process was interrupted (SIGINT, SIGTERM); resumable
 *   failed    a baseline failed, or the database or the executor did; resumable, but its
 *             failed runs stay failed, so one whose baseline failed fails again
 *   done      every run ended (done or failed); final: the command says so and stops
 * A run of a campaign:
 *   queued    db_run_add; never started
 *   running   db_run_set_status(DB_RUNNING): started (attempts + 1; started_at is the
 *             first start). A run whose campaign stopped, or whose process died, stays
 *             running; resuming the campaign starts it again from its checkpoint
 *             (attempts > 1)
 *   done      db_record_result: trained and evaluated, its result recorded; final
 *   failed    db_run_set_status(DB_FAILED, why): diverged or crashed; final (a resumed
 *             campaign does not retry it)
 * So a campaign resumes its queued and running runs, never its done or failed ones.
 * Roles: the probe (the S–D model the candidates are measured from and compared with),
 * a baseline (the standard softmax model; in inherit mode also the continued probe and
 * standard model; and the replicates of a reference, the same run with another seed:
 * probe_r2, probe_cont_r2, ...), a candidate (proposed from the probe's measurements), a
 * control (compared with one candidate, named by its control_of: a blind control of equal
 * size that ignores the measurement, uniform_m1 or reversed_m1 for cut_m1, linlast1 for
 * lin1; or the candidate's change made to the standard model, std_lin1 for lin1).
 */
enum db_status { DB_QUEUED = 0, DB_RUNNING = 1, DB_DONE = 2, DB_FAILED = 3 };   /* of a run */
enum db_campaign_status { DB_CAMPAIGN_RUNNING = 0, DB_CAMPAIGN_DONE = 1, DB_CAMPAIGN_FAILED = 2,
                          DB_CAMPAIGN_STOPPED = 3 };
enum db_role { DB_ROLE_PROBE = 0, DB_ROLE_BASELINE = 1, DB_ROLE_CANDIDATE = 2, DB_ROLE_CONTROL = 3 };
/* Their names: "queued", "running", "done", "failed"; "running", "done", "failed",
 * "stopped"; "probe", "baseline", "candidate", "control" ("?" for a value not listed). */
const char *db_status_name(enum db_status s);
const char *db_campaign_status_name(enum db_campaign_status s);
const char *db_role_name(enum db_role r);
/* The value of a name above, or -1 when it is none of them. */
int db_status_from_name(const char *name);
int db_campaign_status_from_name(const char *name);
int db_role_from_name(const char *name);

/* ---- campaigns --------------------------------------------------------------------- */

struct db_campaign {
    int64_t id;
    char name[128];
    char *config_json;      /* malloc'ed; the campaign config as given */
    enum db_campaign_status status;
    double started_at, finished_at;  /* unix seconds; 0 if not yet */
    char code_version[64];
    char host[128];
    char *setup_json;       /* malloc'ed; the setup it ran on (see db_campaign_set_setup), "" if not recorded */
};
/* Creates the campaign `name` or returns the existing one. If it exists with a different
 * config_json, fails ("campaign 'demo' exists with a different config; use another name"). */
int db_campaign_begin(struct db *db, const char *name, const char *config_json,
                      const char *code_version, const char *host, int64_t *campaign_id, char *err);
/* Sets the status (the lifecycle above); running clears finished_at, the others set it. */
int db_campaign_set_status(struct db *db, int64_t campaign_id, enum db_campaign_status status, char *err);
/* Records the setup the campaign runs on, replacing any earlier one: a JSON object (NULL
 * or "" clears it). Anything else is refused ("the setup is not a JSON object"). The keys
 * reports read (others are kept and shown as they are; any may be missing):
 *   "cpu_model"    text, e.g. "AMD EPYC 7B13"     "cores"        number of CPU cores
 *   "threads"      threads the run used           "blas_core"    text, e.g. "Haswell (AVX2)"
 *   "version"      tool version (git describe)    "corpus_path"  the data file as given
 *   "cwd"          the directory the campaign ran from (absolute): a relative corpus_path
 *                  or data.path is relative to it (cascade export resolves it so)
 *   "tokens"       tokens in the corpus           "train_tokens", "val_tokens": its split
 *   "val_fraction" the held-out fraction          "is_bytes"     true for byte-level data
 *   "train_config" the resolved training config, an object in the trainer's config schema
 *                  with every key written (trainer_config_to_json): {"data": {...},
 *                  "model": {...}, "train": {...}}; reports read the budget, model shape
 *                  and seed from it instead of resolving the config's defaults themselves
 *   "search"       the resolved search section, an object of every search.* key with its
 *                  value: linear_threshold, max_prefix, multipliers (array), head_dim_step,
 *                  head_dim_min, control, combine, retrain ("scratch" | "inherit"),
 *                  inherit_steps, inherit_lr_frac, analysis_tokens, runs_dir,
 *                  probe_embed_scale, replicates, parallel
 *   "parallel"     how this session's runs shared the threads (search.parallel): an object
 *                  {"setting": 0 (auto) or k, "runs": at once, "threads_per_run": n, and
 *                  under auto with 2+ threads "measured": [{"runs", "threads_per_run",
 *                  "tokens_per_s"} for one run of every thread, then for runs of 1 thread
 *                  side by side]}; absent under MPI and in campaigns from before it
 * Without "train_config" or "search" (a campaign recorded before they existed), reports
 * use what the raw config_json gives and say "not recorded" for the rest. */
int db_campaign_set_setup(struct db *db, int64_t campaign_id, const char *setup_json, char *err);
/* Loads a campaign by name (NULL name: the most recent one). Caller frees with
 * db_campaign_free (config_json, setup_json). */
int db_campaign_get(struct db *db, const char *name, struct db_campaign *out, char *err);
void db_campaign_free(struct db_campaign *c);

/* ---- runs -------------------------------------------------------------------------- */

struct db_run {
    int64_t id, campaign_id;
    char name[64];          /* unique within the campaign: "probe", "standard", "lin2", "cut_m1.5", ... */
    enum db_role role;
    enum db_status status;
    char *arch;             /* compact notation, e.g. "L L S S | d 32,32,16,16", whole (read:
                             * malloc'ed, freed by db_runs_free; write: the caller's) */
    char *arch_json;        /* model config JSON (trainer's model_config_to_json) */
    char *reason;           /* why it was proposed (which measurement, which rule) */
    char retrain[16];       /* "scratch" | "inherit" | "" */
    int64_t seed;
    int seq;                /* order of execution within the campaign */
    char checkpoint[1024];  /* path of its checkpoint */
    double started_at, finished_at;
    char host[128];
    char error[512];        /* failure reason when failed */
    int attempts;           /* times set running (> 1: resumed); read only, ignored by db_run_add */
    char control_of[64];    /* a control: the name of the candidate it is compared with
                             * ("cut_m1" for uniform_m1 and reversed_m1, "lin1" for linlast1
                             * and std_lin1); "" (NULL) for any other run */
    char replicate_of[64];  /* a replicate: the name of the run it repeats with another seed
                             * ("probe" for probe_r2, "probe_cont" for probe_cont_r2); "" (NULL)
                             * otherwise. v_noise takes a reference's noise floor over it and
                             * its done replicates */
    int round;              /* the search round that proposed it (0: the first; 0 in files older
                             * than version 4) */
    char parent[64];        /* the run whose weights it inherited; "" when from scratch */
};
/* Adds a run (status queued) unless one with this name exists in the campaign, in which
 * case *run_id is the existing one and *created = 0. Strings are copied. */
int db_run_add(struct db *db, const struct db_run *run, int64_t *run_id, int *created, char *err);
int db_run_set_status(struct db *db, int64_t run_id, enum db_status status,
                      const char *error_or_null, char *err);
/* The host a run trained on (an MPI worker's, which db_run_add cannot know). */
int db_run_set_host(struct db *db, int64_t run_id, const char *host, char *err);
/* All runs of a campaign in seq order; caller frees with db_runs_free. arch_json and
 * reason are never NULL ("" when absent); arch longer than the field is cut; control_of
 * and replicate_of are "" in a file older than version 3. */
int db_runs_list(struct db *db, int64_t campaign_id, struct db_run **runs, int *n, char *err);
void db_runs_free(struct db_run *runs, int n);

/* ---- rounds (budget-driven search) ------------------------------------------------------ */

/* Records (or replaces) round r's incumbent: the run it starts from; final = 1 marks the
 * search's answer. */
int db_round_set(struct db *db, int64_t campaign_id, int round, const char *incumbent, const char *objective,
                 double value, double delta_ppl_pct, int final, char *err);

/* ---- metrics and measurements --------------------------------------------------------- */

/* Per-step training metrics; (run, step) is unique: a resumed run re-recording a step
 * replaces the row. val_loss may be NAN (none at that step). */
int db_record_step(struct db *db, int64_t run_id, int64_t step, double loss, double lr,
                   double grad_norm, double tokens_per_s, double val_loss, char *err);

/* One head's measurement (SPEC §1, §3). level: "weight" or "realised". */
struct db_head_measure {
    int layer, head;
    char kind[16];          /* "softmax" | "sd" | "linear" */
    char level[16];
    double routing_fraction;
    double routing_erank, routing_pr;
    int routing_k90, routing_planes;
    double filtering_erank, filtering_pr;
    int filtering_k90;
    char *routing_sv_json;  /* JSON array of singular values (may be NULL) */
    char *filtering_sv_json;
};
/* Replaces all head and layer measurements of the run at that level, in one transaction. */
struct db_layer_measure {
    int layer;
    char level[16];
    double routing_erank_mean, routing_erank_min, routing_erank_max;
    double routing_fraction_mean;
    double filtering_erank_mean;
};
/* The per-layer values the proposal rules read (search.measure) for one run: value[l]
 * (NAN: not seen by the measure) and spread[l] (NAN: none), measured on n windows; replaces
 * the run's earlier values of that measure. Read back: db_layer_values_list. */
int db_record_layer_values(struct db *db, int64_t run_id, const char *measure, const double *value,
                           const double *spread, int n_layer, int n, char *err);
/* One point of a run's sensitivity curves (table sensitivity): layer `layer` changed
 * ("cut" to head_dim, or "linear"), its validation loss and the loss added. */
struct db_sensitivity_point {
    int layer, head_dim;
    char change[8];         /* "cut" | "linear" */
    double val_loss, delta_loss;
};
/* Replaces the run's sensitivity curves with these n points. */
int db_record_sensitivity(struct db *db, int64_t run_id, const struct db_sensitivity_point *pts, int n, char *err);
int db_record_analysis(struct db *db, int64_t run_id, const char *level,
                       const struct db_head_measure *heads, int n_heads,
                       const struct db_layer_measure *layers, int n_layers,
                       double cascade_spearman, char *err);
/* Reads back the run's layer measures at that level (ordered by layer; caller frees
 * *layers) and its cascade value (NAN if none): for resuming a campaign without
 * re-measuring. *found = 0 (and nothing allocated) when the level was never recorded. */
int db_analysis_get(struct db *db, int64_t run_id, const char *level, struct db_layer_measure **layers,
                    int *n_layers, double *cascade_spearman, int *found, char *err);
/* Reads back the run's head measures at that level, ordered by layer then head (caller
 * frees with db_head_measures_free; the *_sv_json fields are malloc'ed or NULL, NULL
 * reals read as NAN); *n_heads = 0 (and nothing allocated) when there are none. */
int db_head_measures_get(struct db *db, int64_t run_id, const char *level, struct db_head_measure **heads,
                         int *n_heads, char *err);
void db_head_measures_free(struct db_head_measure *heads, int n_heads);

/* Result of a finished run. */
struct db_result {
    int64_t params_total, params_attention;
    double params_saved_pct, attention_saved_pct;   /* vs the probe, in % */
    double val_loss, perplexity, bits_per_byte;     /* bits_per_byte NAN for non-byte data */
    double delta_ppl_pct;                           /* vs reference_run, in % */
    double tokens_per_s, flops_per_token, wall_s;
    int64_t steps, tokens_trained;
    char reference_run[64];                         /* the name of the run delta_ppl_pct is measured
                                                     * against, as the controller chose it: the probe;
                                                     * for a run warm-started in inherit mode
                                                     * (candidates, controls, standard_cont)
                                                     * "probe_cont", the probe continued for the same
                                                     * inherit_steps (search/controller.c,
                                                     * reference_of). "" (NULL): not recorded, as in
                                                     * every file older than version 3 */
};
/* Records (or replaces) the run's result and marks it done, in one transaction. */
int db_record_result(struct db *db, int64_t run_id, const struct db_result *r, char *err);
/* Reads back a run's result (NULL reals as NAN); *found = 0 when it has none. */
int db_result_get(struct db *db, int64_t run_id, struct db_result *out, int *found, char *err);

/* ---- the evidence tables, for reports ------------------------------------------------------
 * Each reads one campaign's rows (campaign_id) into a malloc'ed array the caller frees with
 * free(); *n = 0 and *rows = NULL when there are none, as in a file older than version 5
 * (which has no such tables) and, for db_paired_list, a version-5 file made before view
 * v_paired existed. NULL reals read as NAN. */

/* A row of table layer_values: what the proposal rules read per layer of a measured run. */
struct db_layer_value {
    int64_t run_id;
    char measure[32];       /* search.measure: "erank", "pr", "k90", "planes", "erank_minus_init"
                             * (weight level), "realised_erank", "realised_pr" (validation
                             * windows), "sensitivity" (loss added by linearising, nats/token) */
    int layer;              /* from 0 */
    double value;           /* in the measure's unit (dims for ranks); NAN: not seen by the measure */
    double spread;          /* sd of the value across windows (n >= 2), same unit; NAN otherwise */
    int n;                  /* validation windows measured (1 at weight level) */
};
/* In run seq order, then measure name, then layer. */
int db_layer_values_list(struct db *db, int64_t campaign_id, struct db_layer_value **rows, int *n, char *err);

/* A row of table sensitivity with its run: one layer cut or linearised, no retraining. */
struct db_sensitivity_row {
    int64_t run_id;
    struct db_sensitivity_point pt;   /* layer, change, head_dim; val_loss and delta_loss in nats/token */
};
/* In run seq order, then layer; per layer the "linear" row first, then the cuts by head dim,
 * widest first. */
int db_sensitivity_list(struct db *db, int64_t campaign_id, struct db_sensitivity_row **rows, int *n, char *err);

/* A row of view v_paired: a candidate against one control over their paired seeds
 * (search.candidate_replicates). Names are the base runs' (cut_f0.5, not cut_f0.5_s2). */
struct db_paired {
    char candidate[64], control[64];
    char control_kind[24];  /* "blind", "opposite" or "standard model" (v_controls.control_kind) */
    int n;                  /* seeds on which both are done */
    double gap_mean_pct;    /* mean over seeds of 100 (candidate's perplexity / control's - 1), %;
                             * negative: the candidate is better */
    double gap_sd_pct;      /* its sample sd over seeds, %; NAN for one seed */
    double gap_se_pct;      /* gap_sd_pct / sqrt(n), %; NAN for one seed */
    int wins;               /* seeds on which the candidate's perplexity is lower */
    char verdict[24];       /* "measured better", "control better" (the mean gap beyond twice its
                             * standard error), "within noise", "one seed" */
};
/* In the campaign's order: by the candidate's seq, then the control's. */
int db_paired_list(struct db *db, int64_t campaign_id, struct db_paired **rows, int *n, char *err);

/* ---- queries --------------------------------------------------------------------------
 * The callback is called once for the header (row->index == -1, values and types NULL,
 * made even when no row follows), then once per row with column names, values as text
 * (NULL for SQL NULL) and their types. Values: integers in decimal, reals in the shortest
 * form that reads back to the same double (with ".0" when integral; "Inf", "-Inf"), text
 * as stored, blobs as X'hex'. A callback's non-zero return stops the query; the call
 * still returns 0. */
enum db_type { DB_TYPE_NULL = 0, DB_TYPE_INTEGER = 1, DB_TYPE_REAL = 2, DB_TYPE_TEXT = 3, DB_TYPE_BLOB = 4 };
struct db_row {
    int ncols;
    char **names;
    char **values;               /* NULL in the header call; an entry is NULL for SQL NULL */
    const enum db_type *types;   /* NULL in the header call */
    int64_t index;               /* -1 for the header call (made even when no row follows), then 0, 1, ... */
};
typedef int (*db_rows_fn)(void *user, const struct db_row *row);
/* Named queries for `cascade query` and reports: "campaigns", "runs", "results",
 * "pareto", "cascade" (per-layer measurements of the probe and the standard baseline),
 * "noise" (v_noise: each reference's spread over its replicates and the noise floor) and
 * "controls" (v_controls: each candidate beside its controls, with the verdict); the last
 * two need a file of version 3 or later ("FILE: query 'noise' needs schema version 3 ...").
 * campaign: a name, or NULL for all (campaigns) / the most recent one (others). Unknown
 * query or campaign names are errors. */
int db_query_named(struct db *db, const char *query, const char *campaign, db_rows_fn fn,
                   void *user, char *err);
/* Arbitrary read-only SQL, on either kind of connection: one statement that only reads
 * (sqlite3_stmt_readonly, and no ATTACH, transaction control or pragma that changes a
 * setting); anything else is refused. */
int db_query_sql(struct db *db, const char *sql, db_rows_fn fn, void *user, char *err);
/* "campaigns, runs, results, pareto, cascade, noise, controls": the names db_query_named
 * knows. */
const char *db_query_names(void);

#endif
