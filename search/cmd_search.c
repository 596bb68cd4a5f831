/* search/cmd_search.c — `cascade search`: the campaign controller.
 *
 * Stages (each resumable; the database is the record of what is done):
 *   1. baselines: the S–D probe (no LayerNorm) and the standard softmax model (LayerNorm)
 *   2. measure: the analysis of both (weight level and realised on validation tokens),
 *      every head and layer stored
 *   3. propose: candidates from the probe's cascade (search/campaign.c, SPEC §5)
 *   4. retrain every candidate and control, evaluate on the same validation tokens
 *   5. record results; the Pareto front is a view of the database
 * A run's checkpoint is runs_dir/CAMPAIGN/RUN.safetensors. Killed at any moment and run
 * again, the controller skips done runs, resumes a running one from its checkpoint, and
 * re-records the analyses (deterministic) and proposals (idempotent by name).
 */
#include "analysis/analysis.h"
#include <cjson/cJSON.h>
#include "db/db.h"
#include "search/campaign.h"
#include "search/cli.h"
#include "search/executor.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef CASCADE_VERSION
#define CASCADE_VERSION "unknown"
#endif

/* Set by SIGINT/SIGTERM: the run in flight stops after its step, writes its checkpoint and
 * the campaign is left "stopped" (resumable). */
static volatile sig_atomic_t search_stop;
static void on_stop_signal(int sig) { (void)sig; search_stop = 1; }

struct controller {
    struct campaign_config cc;
    struct db *db;
    struct dataset ds;
    int64_t campaign_id;
    char host[128];
    char dir[TRAINER_PATH_MAX];       /* runs_dir/NAME */
    int tty;                          /* progress bar redrawn in place */
    double last_print[64];            /* of each run's progress line (by job index % 64), unix s */
    struct executor ex;               /* where runs train (local, or MPI workers) */
    /* the probe's figures, the reference of every saving and delta */
    /* The perplexity references of Δ: [0] the probe; [1] in inherit mode, the probe
     * continued for inherit_steps (run "probe_cont"), the reference of every inherited
     * run, so that Δ compares equal training budgets. NAN until recorded. */
    double ref_ppl[2];
    struct param_counts probe_params;
};



static void ckpt_path(const struct controller *c, const char *run, char *out, size_t n)
{
    snprintf(out, n, "%s/%s.safetensors", c->dir, run);
}

/* ---- progress ------------------------------------------------------------------------- */

static int on_step(void *user, const struct run_job *job, const struct train_progress *p)
{
    struct controller *c = user;
    char e[CASCADE_ERR_MAX];
    if (db_record_step(c->db, job->run_id, p->step, p->loss, p->lr, p->grad_norm, p->tokens_per_s,
                       p->is_eval ? p->val.loss : NAN, e) != 0)
        fprintf(stderr, "\ncascade search: %s\n", e);
    double t = cli_now();
    double *last = &c->last_print[job->index % 64];
    if ((c->tty && c->ex.slots == 1) || t - *last > 10.0 || p->step == p->steps) {
        int width = 24, fill = (int)(width * (double)p->step / p->steps);
        char bar[64], eta[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        cli_format_duration(eta, sizeof eta, p->eta_s);
        int in_place = c->tty && c->ex.slots == 1;
        printf("%s  [%d/%d] %-14s [%s] %3.0f%% step %lld/%lld loss %.3f %6.0f tok/s ETA %s%s",
               in_place ? "\r" : "", job->index, job->total, job->spec.name, bar,
               100.0 * p->step / p->steps, (long long)p->step, (long long)p->steps, p->loss,
               p->tokens_per_s, eta, in_place ? "   " : "\n");
        fflush(stdout);
        *last = t;
    }
    return search_stop != 0;
}

/* ---- recording ------------------------------------------------------------------------- */

static void to_db_head(struct db_head_measure *h, const struct analysis_head *a, const struct analysis_split *s,
                       const char *level, char **sv_r, char **sv_f)
{
    memset(h, 0, sizeof *h);
    struct analysis_measures m = analysis_measures_of(s);
    h->layer = a->layer;
    h->head = a->head;
    snprintf(h->kind, sizeof h->kind, "%s", a->kind);
    snprintf(h->level, sizeof h->level, "%s", level);
    h->routing_fraction = m.routing_fraction;
    h->routing_erank = m.routing_erank;
    h->routing_pr = m.routing_pr;
    h->routing_k90 = (int)m.routing_k90;
    h->routing_planes = (int)m.routing_planes;
    h->filtering_erank = m.filtering_erank;
    h->filtering_pr = m.filtering_pr;
    h->filtering_k90 = (int)m.filtering_k90;
    const struct analysis_spectrum *sp[2] = { &s->routing, &s->filtering };
    char **dst[2] = { sv_r, sv_f };
    for (int k = 0; k < 2; k++) {
        size_t cap = 24 * (size_t)sp[k]->n + 4, len = 1;
        char *j = malloc(cap);
        j[0] = '[';
        for (int i = 0; i < sp[k]->n; i++) len += snprintf(j + len, cap - len, "%s%.6g", i ? "," : "", sp[k]->sv[i]);
        snprintf(j + len, cap - len, "]");
        *dst[k] = j;
    }
    h->routing_sv_json = *sv_r;
    h->filtering_sv_json = *sv_f;
}

/* Analyses a finished run's checkpoint and stores both levels; returns the layer means of
 * the weight-level routing erank in erank_out (n_layer) when it is not NULL. */
static int analyse_run(struct controller *c, int64_t run_id, const char *run, double *erank_out, char *err)
{
    char path[TRAINER_PATH_MAX];
    ckpt_path(c, run, path, sizeof path);
    struct model m;
    if (checkpoint_load(path, &m, NULL, NULL, err) != 0) return -1;
    struct analysis_model am;
    int N = c->cc.analysis_tokens;
    const int32_t *window = c->ds.tokens + c->ds.n_train;
    int rc = analysis_model_trainer(&am, &m, window, N, path, err);
    model_free(&m);
    if (rc != 0) return -1;
    int nh = am.n_layer * am.n_head;
    struct db_head_measure *heads = calloc(nh, sizeof *heads);
    struct db_layer_measure *layers = calloc(am.n_layer, sizeof *layers);
    char **svs = calloc(2 * (size_t)nh, sizeof *svs);
    for (int level = 0; level < 2 && rc == 0; level++) {
        const char *lv = level ? "realised" : "weight";
        int n = 0;
        for (int i = 0; i < nh; i++) {
            const struct analysis_head *a = &am.heads[i];
            if (level && !a->has_realised) continue;
            to_db_head(&heads[n], a, level ? &a->realised : &a->weight, lv, &svs[2 * n], &svs[2 * n + 1]);
            n++;
        }
        int nl = 0;
        for (int l = 0; l < am.n_layer; l++) {
            const struct analysis_layer *L = &am.layers[l];
            if (level && !L->has_realised) continue;
            const struct analysis_measures *mean = level ? &L->realised_mean : &L->mean;
            const struct analysis_measures *mn = level ? &L->realised_min : &L->min;
            const struct analysis_measures *mx = level ? &L->realised_max : &L->max;
            struct db_layer_measure *d = &layers[nl++];
            d->layer = l;
            snprintf(d->level, sizeof d->level, "%s", lv);
            d->routing_erank_mean = mean->routing_erank;
            d->routing_erank_min = mn->routing_erank;
            d->routing_erank_max = mx->routing_erank;
            d->routing_fraction_mean = mean->routing_fraction;
            d->filtering_erank_mean = mean->filtering_erank;
        }
        rc = db_record_analysis(c->db, run_id, lv, heads, n, layers, nl,
                                level ? am.cascade_realised : am.cascade, err);
        for (int i = 0; i < 2 * n; i++) { free(svs[i]); svs[i] = NULL; }
    }
    if (rc == 0 && erank_out)
        for (int l = 0; l < am.n_layer; l++) erank_out[l] = am.layers[l].mean.routing_erank;
    free(heads);
    free(layers);
    free(svs);
    analysis_model_free(&am);
    return rc;
}

/* Which Δ reference a run is (0 the probe, 1 the continued probe), or -1. */
static int reference_index(const struct run_spec *spec)
{
    if (strcmp(spec->name, "probe") == 0) return 0;
    if (strcmp(spec->name, CAMPAIGN_PROBE_CONT) == 0) return 1;
    return -1;
}

/* Which reference a run's Δ is measured against: inherited runs (but the continued probe
 * itself) against the continued probe, everything else against the probe. */
static int reference_of(const struct run_spec *spec)
{
    return spec->inherit_from != SOURCE_NONE && reference_index(spec) != 1 ? 1 : 0;
}

static int record_outcome(struct controller *c, const struct run_job *job, const struct run_outcome *o, char *err)
{
    const struct run_spec *spec = &job->spec;
    int64_t run_id = job->run_id;
    struct param_counts pc = model_config_param_counts(&spec->arch);
    if (strcmp(spec->role, "probe") == 0) c->probe_params = pc;
    int is_ref = reference_index(spec);
    if (is_ref >= 0) c->ref_ppl[is_ref] = o->val.perplexity;
    double ref = c->ref_ppl[reference_of(spec)];
    struct db_result r = { 0 };
    r.params_total = (int64_t)pc.total;
    r.params_attention = (int64_t)pc.attention;
    r.params_saved_pct = 100.0 * (1.0 - (double)pc.total / c->probe_params.total);
    r.attention_saved_pct = 100.0 * (1.0 - (double)pc.attention / c->probe_params.attention);
    r.val_loss = o->val.loss;
    r.perplexity = o->val.perplexity;
    r.bits_per_byte = o->val.bits_per_byte;
    r.delta_ppl_pct = 100.0 * (o->val.perplexity / ref - 1.0);
    r.tokens_per_s = o->tokens_per_s;
    r.flops_per_token = model_config_train_flops_per_token(&spec->arch, spec->arch.seq_len);
    r.wall_s = o->wall_s;
    r.steps = o->steps;
    r.tokens_trained = o->steps * (int64_t)c->cc.base.batch_size * spec->arch.seq_len;
    if (db_record_result(c->db, run_id, &r, err) != 0) return -1;
    char arch[256], wall[32];
    campaign_arch_string(arch, sizeof arch, &spec->arch);
    cli_format_duration(wall, sizeof wall, o->wall_s);
    printf("%s  [%d/%d] %-14s done: %s | attention params %lld (%+.1f%%) | ppl %.3f (%+.2f%%) | %.0f tok/s | %s\n",
           c->tty ? "\r" : "", job->index, job->total, spec->name, arch, (long long)r.params_attention,
           -r.attention_saved_pct, r.perplexity, r.delta_ppl_pct, r.tokens_per_s, wall);
    fflush(stdout);
    return 0;
}

/* The Δ references (probe, continued probe) when they finished in an earlier process. */
static int load_references(struct controller *c, const struct run_spec *probe, char *err)
{
    static const char *const names[2] = { "probe", CAMPAIGN_PROBE_CONT };
    struct db_run *rows;
    int n;
    if (db_runs_list(c->db, c->campaign_id, &rows, &n, err) != 0) return -1;
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        c->ref_ppl[k] = NAN;
        for (int i = 0; i < n && rc == 0; i++) {
            if (strcmp(rows[i].name, names[k]) != 0) continue;
            struct db_result r;
            int found = 0;
            rc = db_result_get(c->db, rows[i].id, &r, &found, err);
            if (found) c->ref_ppl[k] = r.perplexity;
        }
    }
    db_runs_free(rows, n);
    c->probe_params = model_config_param_counts(&probe->arch);
    return rc;
}

/* ---- running -------------------------------------------------------------------------- */

/* Records a finished job. Returns 0, 1 if it was stopped by a signal, -1 on a database error. */
static int record_report(struct controller *c, const struct run_job *job, const struct run_report *rep, char *err)
{
    const char *why = NULL;
    /* where it ran: the controller's host unless an MPI worker trained it */
    if (rep->host[0] && db_run_set_host(c->db, job->run_id, rep->host, err) != 0) return -1;
    if (rep->rc != 0) why = rep->err;
    else if (rep->outcome.status == 2) return 1;
    else if (rep->outcome.status == 1) why = rep->outcome.error;
    if (why) {
        printf("%s  [%d/%d] %-14s FAILED: %s\n", c->tty ? "\r" : "", job->index, job->total, job->spec.name, why);
        return db_run_set_status(c->db, job->run_id, DB_FAILED, why, err) != 0 ? -1 : 0;
    }
    return record_outcome(c, job, &rep->outcome, err) != 0 ? -1 : 0;
}

/* Trains jobs through the executor, up to ex.slots at once, and records each report. A
 * report whose reference (the probe) is not recorded yet waits until it is. Returns 0,
 * 1 when stopped by a signal, -1 on a database error. */
static int run_jobs(struct controller *c, struct run_job *jobs, int n, char *err)
{
    int next = 0, in_flight = 0, stopped = 0, failed = 0, n_wait = 0;
    struct run_report *waiting = calloc(n > 0 ? n : 1, sizeof *waiting);
    while (next < n || in_flight > 0) {
        while (next < n && in_flight < c->ex.slots && !stopped && !search_stop && !failed) {
            if (db_run_set_status(c->db, jobs[next].run_id, DB_RUNNING, NULL, err) != 0) { failed = 1; break; }
            if (c->ex.start(&c->ex, &jobs[next]) != 0) break;
            next++;
            in_flight++;
        }
        if (in_flight == 0) break;
        struct run_report rep;
        if (c->ex.next(&c->ex, &rep) != 0) break;
        in_flight--;
        waiting[n_wait++] = rep;
        /* record every waiting report whose reference is known, in arrival order */
        for (int progress = 1; progress;) {
            progress = 0;
            for (int i = 0; i < n_wait; i++) {
                const struct run_job *job = NULL;
                for (int j = 0; j < n; j++) if (jobs[j].run_id == waiting[i].run_id) job = &jobs[j];
                assert(job);
                int ref = reference_of(&job->spec);
                if (isnan(c->ref_ppl[ref]) && reference_index(&job->spec) != ref && waiting[i].rc == 0 &&
                    waiting[i].outcome.status == 0)
                    continue;   /* its reference has not reported yet */
                int r = record_report(c, job, &waiting[i], err);
                if (r < 0) failed = 1;
                if (r == 1) stopped = 1;
                waiting[i--] = waiting[--n_wait];
                progress = 1;
            }
        }
    }
    free(waiting);
    if (failed) return -1;
    return stopped || search_stop ? 1 : 0;
}

/* Jobs for the specs whose runs are not finished yet. */
static int make_jobs(struct controller *c, const struct run_spec *specs, int n_specs, struct run_job **out, int *n_out,
                     char *err)
{
    struct db_run *rows;
    int n_rows;
    if (db_runs_list(c->db, c->campaign_id, &rows, &n_rows, err) != 0) return -1;
    struct run_job *jobs = calloc(n_specs > 0 ? n_specs : 1, sizeof *jobs);
    int n = 0;
    for (int i = 0; i < n_specs; i++) {
        const struct db_run *row = NULL;
        for (int j = 0; j < n_rows; j++) if (strcmp(rows[j].name, specs[i].name) == 0) row = &rows[j];
        if (!row) { free(jobs); db_runs_free(rows, n_rows); snprintf(err, CASCADE_ERR_MAX, "run %s is not in the database", specs[i].name); return -1; }
        if (row->status == DB_DONE || row->status == DB_FAILED) continue;
        char ck[TRAINER_PATH_MAX];
        ckpt_path(c, specs[i].name, ck, sizeof ck);
        if (row->status == DB_QUEUED && row->attempts == 0 && access(ck, F_OK) == 0) {
            /* never started here, yet a checkpoint exists: it belongs to another database
             * or config, and resuming it would mix two experiments */
            snprintf(err, CASCADE_ERR_MAX, "%s exists but run '%s' of campaign '%s' has never started in %s; "
                     "remove the file or choose another search.runs_dir", ck, specs[i].name, c->cc.name, db_path(c->db));
            free(jobs);
            db_runs_free(rows, n_rows);
            return -1;
        }
        struct run_job *j = &jobs[n++];
        j->run_id = row->id;
        j->spec = specs[i];
        ckpt_path(c, specs[i].name, j->ckpt, sizeof j->ckpt);
        if (specs[i].inherit_from == SOURCE_PROBE) ckpt_path(c, "probe", j->source, sizeof j->source);
        if (specs[i].inherit_from == SOURCE_STANDARD) ckpt_path(c, "standard", j->source, sizeof j->source);
        j->index = i + 1;
        j->total = n_specs;
    }
    db_runs_free(rows, n_rows);
    *out = jobs;
    *n_out = n;
    return 0;
}

/* Runs the specs that are not finished; 0, 1 stopped, -1 database error. */
static int run_specs(struct controller *c, const struct run_spec *specs, int n_specs)
{
    char err[CASCADE_ERR_MAX];
    struct run_job *jobs;
    int n;
    if (make_jobs(c, specs, n_specs, &jobs, &n, err) != 0) { fprintf(stderr, "cascade search: %s\n", err); return -1; }
    int rc = run_jobs(c, jobs, n, err);
    if (rc < 0) fprintf(stderr, "cascade search: %s\n", err);
    free(jobs);
    return rc;
}

static enum db_status run_status(struct controller *c, const char *name)
{
    char err[CASCADE_ERR_MAX];
    struct db_run *rows;
    int n;
    enum db_status st = DB_FAILED;
    if (db_runs_list(c->db, c->campaign_id, &rows, &n, err) != 0) return DB_FAILED;
    for (int i = 0; i < n; i++) if (strcmp(rows[i].name, name) == 0) st = rows[i].status;
    db_runs_free(rows, n);
    return st;
}

static int add_run(struct controller *c, const struct run_spec *s, int seq, int64_t *id, char *err)
{
    struct db_run r;
    memset(&r, 0, sizeof r);
    r.campaign_id = c->campaign_id;
    snprintf(r.name, sizeof r.name, "%s", s->name);
    snprintf(r.role, sizeof r.role, "%s", s->role);
    campaign_arch_string(r.arch, sizeof r.arch, &s->arch);
    r.arch_json = model_config_to_json(&s->arch);
    r.reason = (char *)s->reason;
    snprintf(r.retrain, sizeof r.retrain, "%s", s->inherit_from != SOURCE_NONE ? "inherit" : "scratch");
    r.seed = (int64_t)c->cc.base.seed;
    r.seq = seq;
    ckpt_path(c, s->name, r.checkpoint, sizeof r.checkpoint);
    snprintf(r.host, sizeof r.host, "%s", c->host);
    int created;
    int rc = db_run_add(c->db, &r, id, &created, err);
    free(r.arch_json);
    return rc;
}

static int run_campaign(struct controller *c)
{
    char err[CASCADE_ERR_MAX];
    struct run_spec base[2];
    campaign_baselines(&c->cc, &base[0], &base[1]);
    int64_t ids[2];
    for (int i = 0; i < 2; i++)
        if (add_run(c, &base[i], i, &ids[i], err) != 0) goto db_error;
    if (load_references(c, &base[0], err) != 0) goto db_error;

    /* 1. baselines, 2. their measurements */
    printf("stage 1/3: baselines (probe: S-D without LayerNorm; standard: softmax with LayerNorm), %d steps each\n",
           c->cc.base.steps);
    int rc = run_specs(c, base, 2);
    if (rc != 0) return rc;
    double erank[TRAINER_MAX_LAYERS];
    for (int i = 0; i < 2; i++) {
        if (run_status(c, base[i].name) != DB_DONE) {
            fprintf(stderr, "cascade search: the %s failed; candidates need it (see 'cascade query runs')\n", base[i].name);
            return 2;
        }
        if (analyse_run(c, ids[i], base[i].name, i == 0 ? erank : NULL, err) != 0) {
            fprintf(stderr, "cascade search: analysis of %s: %s\n", base[i].name, err);
            return 2;
        }
    }
    printf("measured cascade (probe, mean routing erank by layer):");
    for (int l = 0; l < c->cc.base.model.n_layer; l++) printf(" %.2f", erank[l]);
    printf("\n");

    /* 3. proposals */
    struct run_spec *props;
    int np;
    campaign_propose(&c->cc, erank, &props, &np);
    for (int i = 0; i < np; i++) {
        int64_t id;
        if (add_run(c, &props[i], 2 + i, &id, err) != 0) { free(props); goto db_error; }
    }
    printf("stage 2/3: %d candidates proposed (threshold %.2f, multipliers", np, c->cc.linear_threshold);
    for (int i = 0; i < c->cc.n_multipliers; i++) printf(" %g", c->cc.multipliers[i]);
    printf(", retrain %s)\n", c->cc.retrain == RETRAIN_INHERIT ? "inherit" : "scratch");

    /* 4. candidates */
    printf("stage 3/3: training candidates\n");
    rc = run_specs(c, props, np);
    free(props);
    return rc;
db_error:
    fprintf(stderr, "cascade search: %s\n", err);
    return -1;
}

/* The campaign's results, compact, through `cascade query` (one formatter for both). */
static void print_results(const char *dbpath, const char *campaign)
{
    char sql[1024];
    /* campaign names are letters, digits, '_', '.', '-' (checked on load): safe to quote */
    snprintf(sql, sizeof sql,
             "SELECT run, role, arch, params_attention AS attn_params, round(attention_saved_pct, 1) AS attn_saved_pct, "
             "round(perplexity, 3) AS ppl, round(delta_ppl_pct, 2) AS dppl_pct, round(bits_per_byte, 4) AS bpb, "
             "CASE pareto WHEN 1 THEN '*' ELSE '' END AS pareto, status FROM v_results "
             "WHERE campaign = '%s' ORDER BY params_attention, perplexity", campaign);
    char *argv[] = { "query", "--db", (char *)dbpath, "--sql", sql, NULL };
    fflush(stdout);
    cmd_query(5, argv);
}

/* The machine and corpus of this (segment of the) campaign, for reports. */
static int record_setup(struct controller *c, char *err)
{
    char cpu[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(cpu, sizeof cpu, "%s", colon + 2);
            cpu[strcspn(cpu, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cpu_model", cpu);
    cJSON_AddNumberToObject(o, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(o, "threads", omp_get_max_threads());
    cJSON_AddStringToObject(o, "blas_core", blas_core_name());
    cJSON_AddStringToObject(o, "version", CASCADE_VERSION);
    cJSON_AddStringToObject(o, "corpus_path", c->ds.path);
    cJSON_AddNumberToObject(o, "tokens", (double)c->ds.n_tokens);
    cJSON_AddNumberToObject(o, "train_tokens", (double)c->ds.n_train);
    cJSON_AddNumberToObject(o, "val_tokens", (double)(c->ds.n_tokens - c->ds.n_train));
    cJSON_AddNumberToObject(o, "val_fraction", c->cc.base.val_fraction);
    cJSON_AddBoolToObject(o, "is_bytes", c->ds.is_bytes);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = json ? db_campaign_set_setup(c->db, c->campaign_id, json, err) : -1;
    if (!json) snprintf(err, CASCADE_ERR_MAX, "out of memory");
    free(json);
    return rc;
}

int cmd_search(int argc, char **argv)
{
    const char *cmd = "search", *config = NULL, *dbpath = NULL, *v;
    long threads = -1;
    int r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(argc, argv, &i, cmd, "--config", &config))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--db", &dbpath))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--threads", &v))) {
            if (r < 0 || cli_long(cmd, "--threads", v, 0, 1024, &threads) < 0) return 2;
            continue;
        }
        return cli_unknown(cmd, argv[i]);
    }
    if (!config || !dbpath) { fprintf(stderr, "cascade search: --config FILE and --db FILE are required\n"); return 2; }
    struct controller c;
    memset(&c, 0, sizeof c);
    char err[CASCADE_ERR_MAX];
    if (campaign_config_load(&c.cc, config, err) != 0) { fprintf(stderr, "cascade search: %s\n", err); return 2; }
    cli_set_threads(threads >= 0 ? threads : c.cc.base.threads);
    if (data_load(&c.ds, c.cc.base.data_path, c.cc.base.model.vocab_size, c.cc.base.val_fraction, err) != 0) {
        fprintf(stderr, "cascade search: %s\n", err);
        if (access(c.cc.base.data_path, F_OK) != 0) fprintf(stderr, "cascade search: hint: 'make data' prepares the Brown corpus\n");
        campaign_config_free(&c.cc);
        return 2;
    }
    if (cli_mkdir_parent(dbpath) != 0)
        snprintf(err, sizeof err, "%s: cannot create the database's directory: %s", dbpath, strerror(errno));
    else if (db_open(&c.db, dbpath, DB_WRITE, err) == 0)
        err[0] = '\0';
    if (err[0]) {
        fprintf(stderr, "cascade search: %s\n", err);
        data_free(&c.ds);
        campaign_config_free(&c.cc);
        return 2;
    }
    gethostname(c.host, sizeof c.host - 1);
    snprintf(c.dir, sizeof c.dir, "%s/%s", c.cc.runs_dir, c.cc.name);
    int rc = 0;
    if (cli_mkdir_p(c.dir) != 0) {
        fprintf(stderr, "cascade search: %s: cannot create the checkpoint directory (search.runs_dir)\n", c.dir);
        rc = 2;
        goto out;
    }
    if (db_campaign_begin(c.db, c.cc.name, c.cc.json, CASCADE_VERSION, c.host, &c.campaign_id, err) != 0) {
        fprintf(stderr, "cascade search: %s\n", err);
        rc = 2;
        goto out;
    }
    if (record_setup(&c, err) != 0) { fprintf(stderr, "cascade search: %s\n", err); rc = 2; goto out; }
    struct db_campaign dc;
    if (db_campaign_get(c.db, c.cc.name, &dc, err) == 0) {
        int finished = strcmp(dc.status, "done") == 0;
        db_campaign_free(&dc);
        if (finished) {
            printf("campaign '%s' in %s is finished; 'cascade query --db %s results' shows its results\n",
                   c.cc.name, dbpath, dbpath);
            goto out;
        }
    }
    c.tty = isatty(STDOUT_FILENO);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("campaign '%s': %s, L%d C%d H%d T%d, batch %d, %d steps, seed %llu | data %s | db %s | %d threads, BLAS %s\n",
           c.cc.name, config, c.cc.base.model.n_layer, c.cc.base.model.n_embd, c.cc.base.model.n_head,
           c.cc.base.model.seq_len, c.cc.base.batch_size, c.cc.base.steps, (unsigned long long)c.cc.base.seed,
           c.ds.path, dbpath, omp_get_max_threads(), blas_core_name());
    fflush(stdout);
    double t0 = cli_now();
    snprintf(err, sizeof err, "out of memory");
#ifdef CASCADE_MPI
    /* under mpirun -np N > 1, ranks 1..N-1 train the runs (search/executor_mpi.c) */
    int ex_rc = search_mpi_workers() > 0 ? executor_mpi_open(&c.ex, &c.cc, &c.ds, on_step, &c, err)
                                          : executor_local_open(&c.ex, &c.cc, &c.ds, on_step, &c);
#else
    int ex_rc = executor_local_open(&c.ex, &c.cc, &c.ds, on_step, &c);
#endif
    if (ex_rc != 0) {
        fprintf(stderr, "cascade search: %s\n", err);
        rc = 1;
        goto out;
    }
    db_campaign_set_status(c.db, c.campaign_id, "running", err);   /* once work can start */
    rc = run_campaign(&c);
    c.ex.close(&c.ex);
    char wall[32];
    cli_format_duration(wall, sizeof wall, cli_now() - t0);
    if (rc == 1) {
        db_campaign_set_status(c.db, c.campaign_id, "stopped", err);
        printf("\nstopped after %s; run the same command again to continue\n", wall);
        rc = 130;
    } else if (rc == 0) {
        if (db_campaign_set_status(c.db, c.campaign_id, "done", err) != 0) fprintf(stderr, "cascade search: %s\n", err);
        printf("campaign '%s' finished in %s. Results (Pareto front of attention parameters vs perplexity: *):\n",
               c.cc.name, wall);
        print_results(dbpath, c.cc.name);
    } else {
        db_campaign_set_status(c.db, c.campaign_id, "failed", err);
        rc = rc < 0 ? 1 : rc;
    }
out:
    db_close(c.db);
    data_free(&c.ds);
    campaign_config_free(&c.cc);
    return rc;
}
