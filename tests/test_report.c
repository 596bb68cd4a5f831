/* tests/test_report.c — `reports/` and `cascade report`: a database filled through db/db.h
 * with known rows (a finished campaign with runs of every role, results, head and layer
 * measures, a failed run; a second campaign; an empty one; an unfinished one), reports
 * generated from it, and checks that the tables hold exactly those numbers in the
 * documented formats, that the Pareto marks match a front computed here from the rows,
 * that each SVG parses (xmllint) and has one point per done run / head / sweep run, that
 * empty and unfinished campaigns are reported as such, that two campaigns compare, and
 * the command's errors (a database that cannot be read is bad input, exit 2, as for
 * `cascade query`). */
#include "test.h"
#include "tests/db_fixture.h"
#include "db/db.h"
#include "reports/report_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the known rows ---------------------------------------------------------------------- */

struct fx_run {
    const char *name, *role, *arch, *status;   /* status: done, failed, queued, running */
    int64_t total, attn;
    double ppl, tps;
    const char *reason, *error;
    /* schema version 3 (NULL: none): the candidate a control is of, the run a replicate
     * repeats, the run its Δ is against (its delta_ppl_pct is computed against that one,
     * else the probe); retrain (NULL: scratch for candidates and controls) */
    const char *control_of, *replicate_of, *reference_run, *retrain;
};

#define PROBE_ATTN 16640
#define PROBE_PPL 10.0

static const struct fx_run alpha_runs[] = {
    { "probe", "probe", "S S S S | d 32,32,32,32", "done", 120000, PROBE_ATTN, PROBE_PPL, 5000.4, "reference: S-D probe", NULL },
    { "standard", "baseline", "A A A A | d 32,32,32,32 | LN", "done", 119900, 16384, 9.8, 6100.6, "conventional reference", NULL },
    { "lin1", "candidate", "L S S S | d 32,32,32,32", "done", 119872, 16512, 10.1, 5200.0, "linear prefix: layer 0 erank <= 2.50 [SPEC 5]", NULL },
    { "lin2", "candidate", "L L S S | d 32,32,32,32", "done", 119744, 16384, 10.3, 5400.0, "linear prefix | layers 0..1", NULL },
    { "lin3", "candidate", "L L L S | d 32,32,32,32", "failed", 0, 0, 0, 0, "knee of the linear prefix", "training diverged at step 7 (loss nan)" },
    { "std_lin1", "control", "L A A A | d 32,32,32,32 | LN", "done", 119772, 16384, 10.29, 6000.0, "control of lin1", NULL },
    { "std_lin2", "control", "L L A A | d 32,32,32,32 | LN", "done", 119644, 16384, 10.78, 6050.0, "control of lin2", NULL },
    { "cut_m1", "candidate", "S S S S | d 8,16,24,32", "done", 113360, 10000, 10.5, 5600.0, "cascade-allocated head dims m = 1", NULL },
    { "cut_m2", "candidate", "S S S S | d 16,32,32,32", "done", 117360, 14000, 10.05, 5300.0, "cascade-allocated head dims m = 2", NULL },
    { "lin2_cut_m1", "candidate", "L L S S | d 32,32,24,32", "done", 115360, 12000, 11.0, 5700.0, "linear prefix + allocation", NULL },
};
#define N_ALPHA (int)(sizeof alpha_runs / sizeof alpha_runs[0])

static const struct fx_run beta_runs[] = {
    { "probe", "probe", "S S S S | d 32,32,32,32", "done", 120000, PROBE_ATTN, PROBE_PPL, 5000.0, "reference", NULL },
    { "standard", "baseline", "A A A A | d 32,32,32,32 | LN", "done", 119900, 16384, 9.9, 6000.0, "reference", NULL },
    { "lin1", "candidate", "L S S S | d 32,32,32,32", "done", 119872, 16512, 10.2, 5100.0, "linear prefix", NULL },
    { "cut_m4", "candidate", "S S S S | d 4,8,8,16", "done", 100000, 6000, 12.0, 5900.0, "allocation m = 4", NULL },
};
#define N_BETA (int)(sizeof beta_runs / sizeof beta_runs[0])

static const struct fx_run wip_runs[] = {
    { "probe", "probe", "S S S S | d 32,32,32,32", "done", 120000, PROBE_ATTN, PROBE_PPL, 5000.0, "reference", NULL },
    { "standard", "baseline", "A A A A | d 32,32,32,32 | LN", "running", 0, 0, 0, 0, "reference", NULL },
    { "lin1", "candidate", "L S S S | d 32,32,32,32", "queued", 0, 0, 0, 0, "linear prefix", NULL },
    { "lin2", "candidate", "L L S S | d 32,32,32,32", "failed", 0, 0, 0, 0, "linear prefix", "out of memory | at step 3" },
};
#define N_WIP (int)(sizeof wip_runs / sizeof wip_runs[0])

/* Blind controls and replicates: the probe and two replicates (perplexity 6.00, 6.02, 5.98:
 * sd 0.02, noise floor 200 * 0.02 / 6 = 0.67%); lin1 within the noise of its blind control
 * linlast1 (+0.25%) and better than its standard-model control; cut_m1 better than both
 * blind controls beyond the noise (-1.80%, -0.99%); cut_m2 worse than uniform_m2 beyond
 * it (+1.18%); cut_m4's control not done (the campaign was stopped). */
static const struct fx_run gamma_runs[] = {
    { "probe", "probe", "S S S S | d 32,32,32,32", "done", 120000, PROBE_ATTN, 6.00, 5000, "reference", NULL, NULL, NULL, "probe" },
    { "probe_r2", "baseline", "S S S S | d 32,32,32,32", "done", 120000, PROBE_ATTN, 6.02, 5000, "replicate", NULL, NULL, "probe", "probe" },
    { "probe_r3", "baseline", "S S S S | d 32,32,32,32", "done", 120000, PROBE_ATTN, 5.98, 5000, "replicate", NULL, NULL, "probe", "probe" },
    { "standard", "baseline", "A A A A | d 32,32,32,32 | LN", "done", 119900, 16384, 5.90, 6000, "reference", NULL, NULL, NULL, "probe" },
    { "lin1", "candidate", "L S S S | d 32,32,32,32", "done", 119872, 16512, 5.97, 5200, "linear prefix", NULL, NULL, NULL, "probe" },
    { "linlast1", "control", "S S S L | d 32,32,32,32", "done", 119872, 16512, 5.955, 5200, "blind: last layer linear", NULL, "lin1", NULL, "probe" },
    { "std_lin1", "control", "L A A A | d 32,32,32,32 | LN", "done", 119772, 16384, 6.05, 6000, "standard model", NULL, "lin1", NULL, "probe" },
    { "cut_m1", "candidate", "S S S S | d 8,16,24,32", "done", 113360, 10000, 5.99, 5600, "allocation m = 1", NULL, NULL, NULL, "probe" },
    { "uniform_m1", "control", "S S S S | d 20,20,20,20", "done", 113360, 10000, 6.10, 5600, "blind: uniform", NULL, "cut_m1", NULL, "probe" },
    { "reversed_m1", "control", "S S S S | d 32,24,16,8", "done", 113360, 10000, 6.05, 5600, "blind: reversed", NULL, "cut_m1", NULL, "probe" },
    { "cut_m2", "candidate", "S S S S | d 16,32,32,32", "done", 117360, 14000, 6.02, 5300, "allocation m = 2", NULL, NULL, NULL, "probe" },
    { "uniform_m2", "control", "S S S S | d 28,28,28,28", "done", 117360, 14000, 5.95, 5300, "blind: uniform", NULL, "cut_m2", NULL, "probe" },
    { "cut_m4", "candidate", "S S S S | d 4,8,8,16", "done", 100000, 6000, 6.50, 5900, "allocation m = 4", NULL, NULL, NULL, "probe" },
    { "uniform_m4", "control", "S S S S | d 9,9,9,9", "queued", 0, 0, 0, 0, "blind: uniform", NULL, "cut_m4", NULL, "probe" },
};
#define N_GAMMA (int)(sizeof gamma_runs / sizeof gamma_runs[0])

/* An inherit-mode campaign whose Δ references are recorded: cut_m1 against the probe (which
 * the rule of a database without reference_run would not choose: inherited runs against
 * probe_cont), cut_m2 without one (so against probe_cont by that rule). No controls and no
 * replicates. */
static const struct fx_run refs_runs[] = {
    { "probe", "probe", "S S S S | d 32,32,32,32", "done", 120000, PROBE_ATTN, 6.00, 5000, "reference", NULL, NULL, NULL, "probe" },
    { "probe_cont", "baseline", "S S S S | d 32,32,32,32", "done", 120000, PROBE_ATTN, 5.80, 5000, "continued", NULL, NULL, NULL, "probe", "inherit" },
    { "cut_m1", "candidate", "S S S S | d 8,16,24,32", "done", 113360, 10000, 5.90, 5600, "allocation m = 1", NULL, NULL, NULL, "probe", "inherit" },
    { "cut_m2", "candidate", "S S S S | d 16,32,32,32", "done", 117360, 14000, 5.85, 5300, "allocation m = 2", NULL, NULL, NULL, NULL, "inherit" },
};
#define N_REFS (int)(sizeof refs_runs / sizeof refs_runs[0])

static const char alpha_config[] =
    "{\"name\": \"alpha\", \"data\": {\"path\": \"data/brown.txt\", \"val_fraction\": 0.05}, "
    "\"model\": {\"vocab_size\": 256, \"n_layer\": 4, \"n_embd\": 64, \"n_head\": 2, \"seq_len\": 64}, "
    "\"train\": {\"batch_size\": 4, \"steps\": 100, \"lr\": 0.002, \"warmup_steps\": 10, \"seed\": 1337}, "
    "\"search\": {\"linear_threshold\": 2.5, \"multipliers\": [1, 2]}}";
static const char alpha_setup[] =
    "{\"cpu_model\": \"Test CPU 9000\", \"cores\": 2, \"threads\": 2, \"blas_core\": \"Haswell\", "
    "\"version\": \"v9-test\", \"corpus_path\": \"data/brown.txt\", \"tokens\": 1000000, \"train_tokens\": 950000, "
    "\"val_tokens\": 50000, \"val_fraction\": 0.05, \"is_bytes\": true, \"compiler\": \"gcc 12\", "
    /* as the controller resolves them: every key, so min_lr_frac (0.1) that the config does
     * not give is known without the trainer's defaults */
    "\"train_config\": {\"data\": {\"path\": \"data/brown.txt\", \"val_fraction\": 0.05}, "
    "\"model\": {\"vocab_size\": 256, \"n_layer\": 4, \"n_embd\": 64, \"n_head\": 2, \"seq_len\": 64, "
    "\"layernorm\": false, \"residual_scale_init\": true, \"embed_scale\": 1, \"sd_s_init_std\": 0.02, "
    "\"attention\": [\"sd\", \"sd\", \"sd\", \"sd\"], \"head_dim\": [32, 32, 32, 32]}, "
    "\"train\": {\"batch_size\": 4, \"steps\": 100, \"lr\": 0.002, \"warmup_steps\": 10, \"min_lr_frac\": 0.1, "
    "\"weight_decay\": 0.1, \"beta1\": 0.9, \"beta2\": 0.95, \"adam_eps\": 1e-08, \"grad_clip\": 1, \"seed\": 1337, "
    "\"eval_every\": 0, \"eval_batches\": 8, \"log_every\": 10, \"checkpoint_every\": 0, \"threads\": 0, \"out\": \"\"}}, "
    "\"search\": {\"linear_threshold\": 2.5, \"max_prefix\": 4, \"head_dim_step\": 4, \"head_dim_min\": 4, "
    "\"control\": true, \"combine\": true, \"inherit_steps\": 25, \"replicates\": 1, \"inherit_lr_frac\": 0.25, "
    "\"analysis_tokens\": 64, \"runs_dir\": \"runs\", \"probe_embed_scale\": 32, \"multipliers\": [1, 2], "
    "\"retrain\": \"scratch\", \"measure\": \"erank\"}, "
    "\"parallel\": {\"setting\": 0, \"runs\": 2, \"threads_per_run\": 1, \"measured\": "
    "[{\"runs\": 1, \"threads_per_run\": 2, \"tokens_per_s\": 6100}, {\"runs\": 2, \"threads_per_run\": 1, "
    "\"tokens_per_s\": 7900}]}}";

#define N_LAYER 4
#define N_HEAD 2

/* Known head measures: routing erank of (run, level, layer, head). */
static double fx_erank(int standard, int level, int l, int h)
{
    if (!standard) return level ? 1.2 + 0.6 * l + 0.1 * h : 1.0 + 0.5 * l + 0.25 * h;
    return level ? 2.5 + 0.1 * l + 0.2 * h : 3.0 - 0.2 * l + 0.3 * h;
}
static double fx_fraction(int l, int h) { return 0.1 + 0.05 * l + 0.01 * h; }
static double fx_filtering(int l, int h) { return 10.0 + l + 0.5 * h; }

/* The perplexity f's Δ is against, as the controller chose it: its reference_run's; not
 * recorded, probe_cont's for an inherited run, else the probe's (runs[0]). */
static double ref_ppl_of(const struct fx_run *f, const struct fx_run *runs, int n)
{
    const char *ref = f->reference_run ? f->reference_run : f->retrain && strcmp(f->retrain, "inherit") == 0
                    ? "probe_cont" : "probe";
    for (int i = 0; i < n; i++)
        if (strcmp(runs[i].name, ref) == 0) return runs[i].ppl;
    return runs[0].ppl;
}

static void fx_result(struct db_result *r, const struct fx_run *f, const struct fx_run *probe, double ref_ppl)
{
    memset(r, 0, sizeof *r);
    r->params_total = f->total;
    r->params_attention = f->attn;
    r->params_saved_pct = 100.0 * (1.0 - (double)f->total / probe->total);
    r->attention_saved_pct = 100.0 * (1.0 - (double)f->attn / probe->attn);
    r->val_loss = log(f->ppl);
    r->perplexity = f->ppl;
    r->bits_per_byte = log(f->ppl) / log(2.0);
    r->delta_ppl_pct = 100.0 * (f->ppl / ref_ppl - 1.0);
    r->tokens_per_s = f->tps;
    r->flops_per_token = 1e6;
    r->wall_s = 60.0 + f->attn / 1000.0;
    r->steps = 100;
    r->tokens_trained = 100 * 4 * 64;
    snprintf(r->reference_run, sizeof r->reference_run, "%s", f->reference_run ? f->reference_run : "");
}

static int fx_analysis(struct db *db, int64_t run_id, int standard, char *err)
{
    for (int level = 0; level < 2; level++) {
        struct db_head_measure heads[N_LAYER * N_HEAD];
        struct db_layer_measure layers[N_LAYER];
        memset(heads, 0, sizeof heads);
        memset(layers, 0, sizeof layers);
        for (int l = 0; l < N_LAYER; l++) {
            double sum = 0, mn = INFINITY, mx = -INFINITY, fr = 0, fi = 0;
            for (int h = 0; h < N_HEAD; h++) {
                struct db_head_measure *m = &heads[l * N_HEAD + h];
                m->layer = l;
                m->head = h;
                snprintf(m->kind, sizeof m->kind, "%s", standard ? "softmax" : "sd");
                m->routing_erank = fx_erank(standard, level, l, h);
                m->routing_fraction = fx_fraction(l, h);
                m->filtering_erank = fx_filtering(l, h);
                sum += m->routing_erank;
                mn = fmin(mn, m->routing_erank);
                mx = fmax(mx, m->routing_erank);
                fr += m->routing_fraction;
                fi += m->filtering_erank;
            }
            layers[l] = (struct db_layer_measure){ l, "", sum / N_HEAD, mn, mx, fr / N_HEAD, fi / N_HEAD };
        }
        double rho = standard ? (level ? NAN : -1.0) : (level ? 0.8 : 1.0);
        if (db_record_analysis(db, run_id, level ? "realised" : "weight", heads, N_LAYER * N_HEAD, layers, N_LAYER,
                               rho, err) != 0)
            return -1;
    }
    return 0;
}

/* The arch_json the controller records for an arch string of the fixtures ("L S S S | d
 * 32,32,32,32 | LN"): the trainer's model object (trainer/config.c, model_config_to_json)
 * with its per-layer lists; the probe also its embedding multiplier, the other runs none
 * (as recorded before it existed). Reports read the architecture from this, never from
 * the string. */
static void fx_arch_json(char *out, size_t n, const char *arch, int probe)
{
    static const char *const kinds[3] = { "\"linear\"", "\"sd\"", "\"softmax\"" };
    char att[400] = "", dims[400] = "";
    int layers = 0;
    const char *p = arch;
    for (; *p == 'L' || *p == 'S' || *p == 'A'; p += p[1] ? 2 : 1, layers++) {
        size_t k = strlen(att);
        snprintf(att + k, sizeof att - k, "%s%s", layers ? "," : "", kinds[*p == 'L' ? 0 : *p == 'S' ? 1 : 2]);
    }
    p = strstr(arch, "| d ");
    for (p = p ? p + 4 : ""; *p >= '0' && *p <= '9'; p += *p == ',') {
        char *end;
        long d = strtol(p, &end, 10);
        size_t k = strlen(dims);
        snprintf(dims + k, sizeof dims - k, "%s%ld", dims[0] ? "," : "", d);
        p = end;
    }
    snprintf(out, n, "{\"n_layer\":%d,\"layernorm\":%s%s,\"attention\":[%s],\"head_dim\":[%s]}", layers,
             strstr(arch, "| LN") ? "true" : "false", probe ? ",\"embed_scale\":32" : "", att, dims);
}

/* Adds campaign `name` with its runs; measures the probe and the standard run when done. */
static int fx_campaign(struct db *db, const char *name, const char *config, const char *setup, const char *status,
                       const struct fx_run *runs, int n, char *err)
{
    int64_t cid, rid;
    int created;
    if (db_campaign_begin(db, name, config, "v1-code", "testhost", &cid, err) != 0) return -1;
    if (setup && db_campaign_set_setup(db, cid, setup, err) != 0) return -1;
    for (int i = 0; i < n; i++) {
        const struct fx_run *f = &runs[i];
        struct db_run r;
        memset(&r, 0, sizeof r);
        r.campaign_id = cid;
        snprintf(r.name, sizeof r.name, "%s", f->name);
        r.role = (enum db_role)db_role_from_name(f->role);
        r.arch = (char *)f->arch;
        r.reason = (char *)f->reason;
        char arch_json[1000];
        fx_arch_json(arch_json, sizeof arch_json, f->arch, strcmp(f->role, "probe") == 0);
        r.arch_json = arch_json;
        snprintf(r.retrain, sizeof r.retrain, "%s", f->retrain ? f->retrain : strcmp(f->role, "candidate") == 0 ||
                 strcmp(f->role, "control") == 0 ? "scratch" : "");
        snprintf(r.control_of, sizeof r.control_of, "%s", f->control_of ? f->control_of : "");
        snprintf(r.replicate_of, sizeof r.replicate_of, "%s", f->replicate_of ? f->replicate_of : "");
        r.seed = 1337;
        r.seq = i;
        if (db_run_add(db, &r, &rid, &created, err) != 0) return -1;
        if (strcmp(f->status, "queued") == 0) continue;
        if (db_run_set_status(db, rid, DB_RUNNING, NULL, err) != 0) return -1;
        if (strcmp(f->status, "failed") == 0 && db_run_set_status(db, rid, DB_FAILED, f->error, err) != 0) return -1;
        if (strcmp(f->status, "done") == 0) {
            struct db_result res;
            fx_result(&res, f, &runs[0], ref_ppl_of(f, runs, n));
            if (db_record_result(db, rid, &res, err) != 0) return -1;
            if ((strcmp(f->role, "probe") == 0 || strcmp(f->role, "baseline") == 0) &&
                fx_analysis(db, rid, strcmp(f->role, "baseline") == 0, err) != 0)
                return -1;
        }
    }
    int st = db_campaign_status_from_name(status);
    return st > DB_CAMPAIGN_RUNNING ? db_campaign_set_status(db, cid, (enum db_campaign_status)st, err) : 0;
}

/* A fresh database with campaigns alpha (done), beta (done, inherit, no setup), gamma
 * (done, with controls and replicates), refs (done, inherit, recorded references), wip
 * (running), empty (no runs), in that order of age. */
static int fx_database(struct test_ctx *t_, char *path, size_t n)
{
    char err[CASCADE_ERR_MAX], side[1100];
    test_tmppath(path, n, "report.db");
    if (access(path, F_OK) == 0) return 0;   /* made by an earlier test of this run */
    const char *sfx[] = { "-wal", "-shm", ".lock" };
    for (int i = 0; i < 3; i++) { snprintf(side, sizeof side, "%s%s", path, sfx[i]); remove(side); }
    struct db *db;
    if (db_open(&db, path, DB_WRITE, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return -1; }
    const char *beta_config = "{\"name\": \"beta\", \"model\": {\"n_layer\": 4, \"n_embd\": 64, \"n_head\": 2, "
                              "\"seq_len\": 64}, \"train\": {\"steps\": 100, \"warmup_steps\": 10}, "
                              "\"search\": {\"retrain\": \"inherit\", \"inherit_steps\": 25}}";
    int rc = fx_campaign(db, "alpha", alpha_config, alpha_setup, "done", alpha_runs, N_ALPHA, err);
    if (rc == 0) rc = fx_campaign(db, "beta", beta_config, NULL, "done", beta_runs, N_BETA, err);
    if (rc == 0) rc = fx_campaign(db, "gamma", "{\"name\": \"gamma\"}", NULL, "stopped", gamma_runs, N_GAMMA, err);
    if (rc == 0) rc = fx_campaign(db, "refs", "{\"name\": \"refs\", \"search\": {\"retrain\": \"inherit\"}}", NULL, "done",
                                  refs_runs, N_REFS, err);
    if (rc == 0) rc = fx_campaign(db, "wip", "{\"name\": \"wip\"}", NULL, "running", wip_runs, N_WIP, err);
    if (rc == 0) rc = fx_campaign(db, "empty", "{\"name\": \"empty\"}", NULL, "running", NULL, 0, err);
    db_close(db);
    if (rc != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); remove(path); return -1; }
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* Whether needle occurs in [from, to) (to NULL: to the end). */
static int found_in(const char *from, const char *to, const char *needle)
{
    const char *p = from ? strstr(from, needle) : NULL;
    return p && (!to || p < to);
}

/* 1234567 -> "1,234,567" */
static void grouped(char *out, size_t n, long long v)
{
    char d[32];
    snprintf(d, sizeof d, "%lld", v);
    size_t len = strlen(d), k = 0;
    for (size_t i = 0; i < len && k + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0) out[k++] = ',';
        out[k++] = d[i];
    }
    out[k] = 0;
}

/* The report of `campaigns` into the test directory as NAME.md; returns its text. */
static char *make_report(struct test_ctx *t_, const char *const *campaigns, int n, const char *name)
{
    char path[512], out[600], err[CASCADE_ERR_MAX];
    if (fx_database(t_, path, sizeof path) != 0) return NULL;
    struct db *db;
    if (db_open(&db, path, DB_READ_ONLY, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return NULL; }
    test_tmppath(out, sizeof out, name);
    int rc = report_write(db, campaigns, n, out, err);
    db_close(db);
    if (rc != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return NULL; }
    char *md = test_read_file(out, NULL);
    if (!md) test_fail(t_, __FILE__, __LINE__, "%s not written", out);
    return md;
}

static int xmllint_ok(struct test_ctx *t_, const char *svg)
{
    char cmd[800];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", svg);
    int rc = test_run(cmd, &out);
    if (rc != 0) test_fail(t_, __FILE__, __LINE__, "xmllint %s: exit %d: %s", svg, rc, out ? out : "");
    free(out);
    return rc == 0;
}

/* The expected Pareto front of a campaign's rows: done runs that no other done run
 * matches or beats in both attention parameters and perplexity, beating it in one. */
static int on_front(const struct fx_run *runs, int n, int i)
{
    if (strcmp(runs[i].status, "done") != 0) return 0;
    for (int j = 0; j < n; j++) {
        if (j == i || strcmp(runs[j].status, "done") != 0) continue;
        if (runs[j].attn <= runs[i].attn && runs[j].ppl <= runs[i].ppl &&
            (runs[j].attn < runs[i].attn || runs[j].ppl < runs[i].ppl))
            return 0;
    }
    return 1;
}

/* The candidates-table row of run i as report.h documents it. */
static void expected_row(char *out, size_t n, const struct fx_run *runs, int nr, int i)
{
    const struct fx_run *f = &runs[i];
    char total[32], attn[32], tps[32], arch[300], reason[300];
    grouped(total, sizeof total, f->total);
    grouped(attn, sizeof attn, f->attn);
    grouped(tps, sizeof tps, llround(f->tps));
    size_t k = 0;
    for (const char *s = f->arch; *s && k + 3 < sizeof arch; s++) {
        if (*s == '|') arch[k++] = '\\';
        arch[k++] = *s;
    }
    arch[k] = 0;
    /* the reason is text (reports/report_internal.h, report_md_cell): & < > as entities,
     * \ ` * _ [ ] ~ $ | after a backslash */
    k = 0;
    for (const char *s = f->reason; *s && k + 6 < sizeof reason; s++) {
        const char *entity = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : NULL;
        if (entity) { k += (size_t)snprintf(reason + k, sizeof reason - k, "%s", entity); continue; }
        if (strchr("\\`*_[]~$|", *s)) reason[k++] = '\\';
        reason[k++] = *s;
    }
    reason[k] = 0;
    snprintf(out, n, "| `%s` | %s | `%s` | %s | %s | %.1f | %.3f | %+.2f | %.4f | %s | %s | %s |", f->name, f->role, arch,
             total, attn, 100.0 * (1.0 - (double)f->attn / runs[0].attn), f->ppl, 100.0 * (f->ppl / runs[0].ppl - 1.0),
             log(f->ppl) / log(2.0), tps, on_front(runs, nr, i) ? "✓" : "", reason);
}

/* ---- tests ---------------------------------------------------------------------------------- */

TEST(report_candidates_table_holds_the_rows_with_pareto_marks)
{
    const char *c[] = { "alpha" };
    char *md = make_report(t_, c, 1, "alpha.md");
    REQUIRE(md != NULL);
    int expected_front = 0;
    for (int i = 0; i < N_ALPHA; i++) {
        if (strcmp(alpha_runs[i].status, "done") != 0) continue;
        char row[1024];
        expected_row(row, sizeof row, alpha_runs, N_ALPHA, i);
        CHECK_MSG(strstr(md, row) != NULL, "row missing:\n%s", row);
        expected_front += on_front(alpha_runs, N_ALPHA, i);
    }
    CHECK(expected_front == 3);   /* cut_m1, cut_m2, standard */
    /* one ✓ per front run in the table (the findings name the front without the mark) */
    const char *table = strstr(md, "| run | role | architecture |");
    const char *table_end = table ? strstr(table, "\n\n") : NULL;
    REQUIRE(table && table_end);
    int marks = 0;
    for (const char *p = strstr(table, "| ✓ |"); p && p < table_end; p = strstr(p + 1, "| ✓ |")) marks++;
    CHECK_MSG(marks == expected_front, "%d marks, %d expected", marks, expected_front);
    /* sorted by attention parameters: cut_m1 (10,000) first, probe (16,640) last */
    const char *first = strstr(table, "| `cut_m1` |"), *second = strstr(table, "| `lin2_cut_m1` |"),
               *last = strstr(table, "| `probe` |"), *lin1 = strstr(table, "| `lin1` |");
    CHECK(first && second && last && lin1 && first < second && lin1 < last);
    /* the failed run with its error, not in the table */
    CHECK(strstr(md, "- `lin3` (candidate, `L L L S | d 32,32,32,32`): training diverged at step 7 (loss nan)") != NULL);
    CHECK(strstr(table, "`lin3`") == NULL || strstr(table, "`lin3`") > table_end);
    free(md);
}

TEST(report_setup_and_cascade_tables)
{
    const char *c[] = { "alpha" };
    char *md = make_report(t_, c, 1, "alpha-setup.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "# Cascade report: campaign `alpha`\n") != NULL);
    CHECK(strstr(md, "Campaign status: **done**; 10 runs: 9 done, 1 failed, 0 running, 0 queued.") != NULL);
    CHECK(strstr(md, "| Corpus | `brown.txt` (`data/brown.txt`): 1,000,000 byte tokens, split 950,000 train / 50,000 "
                     "validation (validation fraction 0.05) |") != NULL);
    CHECK(strstr(md, "| Model | 4 layers, width 64, 2 heads per layer (head dim 32), context 64 tokens, vocabulary 256 |"));
    CHECK(strstr(md, "| Probe | `probe`: `S S S S \\| d 32,32,32,32` (S–D attention, no LayerNorm, embeddings ×32) |"));
    CHECK(strstr(md, "(softmax attention, LayerNorm, embeddings ×1) |"));
    CHECK(strstr(md, "| Budget | 100 steps of batch 4 × 64 tokens (25,600 tokens per run); learning rate 0.002, warmup 10 "
                     "steps, cosine decay to 0.1× |"));
    CHECK(strstr(md, "| Seeds | 1337 (every run) |"));
    CHECK(strstr(md, "| Retraining | scratch: every candidate and control trained from scratch"));
    CHECK(strstr(md, "| Machine | CPU Test CPU 9000; 2 cores; 2 threads; OpenBLAS core Haswell; arithmetic fp32 |"));
    CHECK(strstr(md, "| Runs | 2 at once, 1 thread each (search.parallel auto, measured: 1 × 2 threads 6,100 tokens/s, "
                     "2 × 1 thread 7,900 tokens/s in all) |"));
    CHECK(strstr(md, "Setup: parallel") == NULL);
    CHECK(strstr(md, "| Tool version | v9-test (setup); the campaign was begun by code version v1-code |"));
    CHECK(strstr(md, "| Setup: compiler | `\"gcc 12\"` |"));
    CHECK(strstr(md, "| Wall time | ") && strstr(md, "the done runs' own wall times sum to"));
    /* done, but with a failed run: the status says so */
    CHECK(strstr(md, "## Status\n\nThe campaign is done, but 1 of its 10 runs did not finish:\n\n"
                     "- failed (1): `lin3` (training diverged at step 7 (loss nan))\n") != NULL);
    /* per-layer table of the probe: mean [min, max], fraction, filtering; both levels */
    for (int l = 0; l < N_LAYER; l++) {
        char row[512];
        int k = snprintf(row, sizeof row, "| %d |", l);
        for (int level = 0; level < 2; level++) {
            double a = fx_erank(0, level, l, 0), b = fx_erank(0, level, l, 1);
            k += snprintf(row + k, sizeof row - k, " %.2f [%.2f, %.2f] | %.3f | %.2f |", (a + b) / 2, fmin(a, b),
                          fmax(a, b), (fx_fraction(l, 0) + fx_fraction(l, 1)) / 2,
                          (fx_filtering(l, 0) + fx_filtering(l, 1)) / 2);
        }
        CHECK_MSG(strstr(md, row) != NULL, "missing: %s", row);
        /* the profile table: probe and standard means */
        k = snprintf(row, sizeof row, "| %d |", l);
        for (int s = 0; s < 2; s++)
            for (int level = 0; level < 2; level++)
                k += snprintf(row + k, sizeof row - k, " %.2f |", (fx_erank(s, level, l, 0) + fx_erank(s, level, l, 1)) / 2);
        CHECK_MSG(strstr(md, row) != NULL, "missing: %s", row);
    }
    CHECK(strstr(md, "probe 1.000 (weight), 0.800 (realised); standard -1.000 (weight), undefined (realised).") != NULL);
    CHECK(strstr(md, "![Routing effective rank by layer](alpha-setup-cascade.svg)") != NULL);
    CHECK(strstr(md, "![Attention parameters vs perplexity](alpha-setup-tradeoff.svg)") != NULL);
    CHECK(strstr(md, "![Linearisation sweep](alpha-setup-sweep.svg)") != NULL);
    free(md);
}

/* The setup comes from the database alone: alpha's setup holds the resolved training
 * config and search section (its min_lr_frac, 0.1, is in no config it was given); beta,
 * recorded before them, shows its config's values where it gives them and says "not
 * recorded" for the rest, resolving no defaults. */
TEST(report_setup_read_from_setup_json_without_the_trainer)
{
    const char *c[] = { "alpha", "beta" };
    char *md = make_report(t_, c, 2, "setup-json.md");
    REQUIRE(md != NULL);
    const char *a = strstr(md, "## Campaign `alpha`"), *b = strstr(md, "## Campaign `beta`");
    REQUIRE(a && b && a < b);
    CHECK(found_in(a, b, "| Budget | 100 steps of batch 4 × 64 tokens (25,600 tokens per run); learning rate 0.002, "
                         "warmup 10 steps, cosine decay to 0.1× |"));
    CHECK(found_in(a, b, "| Proposal rules | `{\"linear_threshold\":2.5,\"max_prefix\":4,"));
    CHECK(found_in(a, b, "\"replicates\":1,") && found_in(a, b, "(every key as the campaign resolved it) |"));
    CHECK(strstr(md, "Setup: train_config") == NULL && strstr(md, "Setup: search") == NULL);
    CHECK(strstr(b, "| Corpus | path not recorded: size not recorded; validation fraction not recorded (config) |"));
    CHECK(strstr(b, "| Model | model.n_layer 4, model.n_embd 64, model.n_head 2, model.seq_len 64, model.vocab_size not "
                    "recorded (the config as given: the campaign predates the recorded training config) |"));
    CHECK(strstr(b, "| Budget | train.steps 100, train.batch_size not recorded, model.seq_len 64, train.lr not recorded, "
                    "train.warmup_steps 10, train.min_lr_frac not recorded (the config as given:"));
    CHECK(strstr(b, "| Proposal rules | `{\"retrain\":\"inherit\",\"inherit_steps\":25}` (as the config gives it; the "
                    "keys it does not give are not recorded) |"));
    free(md);
}

/* reports/ reads the database only: it includes db/db.h and its own headers, nothing of
 * the trainer (whose defaults a report would otherwise resolve for itself). */
TEST(report_module_includes_only_db_and_itself)
{
    char *out = NULL;
    int rc = test_run("grep -n '#include \"' reports/*.c reports/*.h | grep -v '#include \"reports/' "
                      "| grep -v '#include \"db/db.h\"' | grep -v '#include \"cascade_version.h\"'", &out);
    CHECK_MSG(rc != 0 && out && out[0] == 0, "includes outside db/db.h and reports/: %s", out ? out : "");
    free(out);
    rc = test_run("grep -c '#include \"reports/report_internal.h\"' reports/load.c", &out);
    CHECK_MSG(rc == 0, "the check above reads the wrong directory: %s", out ? out : "");   /* it can fail */
    free(out);
}

TEST(report_sweep_and_findings_from_the_rows)
{
    const char *c[] = { "alpha" };
    char *md = make_report(t_, c, 1, "alpha-sweep.md");
    REQUIRE(md != NULL);
    /* the sweep: S–D vs the probe, standard vs the standard baseline (9.8) */
    CHECK(strstr(md, "| 0 | `probe` | +0.00 | `standard` | +0.00 |") != NULL);
    char row[256];
    snprintf(row, sizeof row, "| 1 | `lin1` | %+.2f | `std_lin1` | %+.2f |", 100 * (10.1 / 10 - 1), 100 * (10.29 / 9.8 - 1));
    CHECK_MSG(strstr(md, row), "missing %s", row);
    snprintf(row, sizeof row, "| 2 | `lin2` | %+.2f | `std_lin2` | %+.2f |", 100 * (10.3 / 10 - 1), 100 * (10.78 / 9.8 - 1));
    CHECK_MSG(strstr(md, row), "missing %s", row);
    CHECK(strstr(md, "| 3 | `lin3` | failed | – | – |") != NULL);
    CHECK(strstr(md, "lin2_cut_m1` | +") == NULL);   /* not a pure prefix: not in the sweep */
    /* findings: numbers with their runs */
    CHECK(strstr(md, "- Linearising the first 2 layers of the S–D model costs +3.00% perplexity and saves 1.5% of the "
                     "attention parameters (`lin2` vs `probe`); the same prefix on the standard model costs +10.00% "
                     "perplexity (`std_lin2` vs `standard`).") != NULL);
    CHECK(strstr(md, "- At 2 of the 2 prefix lengths run on both models, linearising costs the S–D model less perplexity "
                     "than the standard model (k = 1, 2).") != NULL);
    CHECK(strstr(md, "- Cascade allocation `cut_m1` (`S S S S | d 8,16,24,32`) saves 39.9% of the attention parameters "
                     "at +5.00% perplexity (vs `probe`).") != NULL);
    CHECK(strstr(md, "- Linear prefix plus cascade allocation `lin2_cut_m1`") != NULL);
    CHECK(strstr(md, "relative to the standard baseline the probe costs +2.04% perplexity (`probe` vs `standard`)") != NULL);
    CHECK(strstr(md, "- The probe's mean routing effective rank (weight level) rises from 1.12 (layer 0) to 2.62 (layer 3); "
                     "Spearman ρ with depth 1.000 at the weight level, 0.800 realised (`probe`).") != NULL);
    CHECK(strstr(md, "- The Pareto front of attention parameters vs perplexity holds 3 runs: `cut_m1`, `cut_m2`, `standard`. "
                     "The one with the fewest attention parameters, `cut_m1`, saves 39.9% of the attention parameters at "
                     "+5.00% perplexity (vs `probe`).") != NULL);
    CHECK(strstr(md, "- 1 of 10 runs failed: `lin3` (training diverged at step 7 (loss nan)).") != NULL);
    free(md);
}

/* gamma: the Noise floor and Measured vs blind sections hold v_noise's and v_controls'
 * rows, the candidates table marks each Δ within the noise, and the findings open with
 * the answer, each candidate against its blind controls with the noise floor. */
TEST(report_controls_noise_floor_and_did_measuring_help)
{
    const char *c[] = { "gamma" };
    char *md = make_report(t_, c, 1, "gamma.md");
    REQUIRE(md != NULL);
    const char *noise = strstr(md, "## Noise floor"), *ctl = strstr(md, "## Measured vs blind at equal size"),
               *fnd = strstr(md, "## Findings");
    REQUIRE(noise && ctl && fnd && noise < ctl && ctl < fnd);
    /* sd of 6.00, 6.02, 5.98 is 0.02: the floor 200 * 0.02 / 6 */
    char floor_[32];
    snprintf(floor_, sizeof floor_, "±%.2f", 200 * 0.02 / 6);
    CHECK(strcmp(floor_, "±0.67") == 0);
    CHECK(found_in(noise, ctl, "| `probe` | `probe_r2`, `probe_r3` | 3 | 6.000 ± 0.020 | 5.980 – 6.020 | ±0.67 |\n"));
    /* each pair with the view's numbers and verdict, standard-model controls included */
    const char *rows[] = {
        "| `lin1` | `linlast1` | blind | 16,512 | 16,512 | +0.00 | 5.970 | 5.955 | +0.25 | ±0.67 | within noise |",
        "| `lin1` | `std_lin1` | standard model | 16,512 | 16,384 | -0.78 | 5.970 | 6.050 | -1.32 | ±0.67 | measured better |",
        "| `cut_m1` | `uniform_m1` | blind | 10,000 | 10,000 | +0.00 | 5.990 | 6.100 | -1.80 | ±0.67 | measured better |",
        "| `cut_m1` | `reversed_m1` | blind | 10,000 | 10,000 | +0.00 | 5.990 | 6.050 | -0.99 | ±0.67 | measured better |",
        "| `cut_m2` | `uniform_m2` | blind | 14,000 | 14,000 | +0.00 | 6.020 | 5.950 | +1.18 | ±0.67 | blind better |",
        "| `cut_m4` | `uniform_m4` | blind | 6,000 | – | – | 6.500 | – | – | ±0.67 | not done |",
    };
    const char *prev = ctl;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *at = strstr(ctl, rows[i]);
        CHECK_MSG(at && at < fnd && at > prev, "missing or out of order: %s", rows[i]);
        if (at) prev = at;
    }
    CHECK(found_in(ctl, fnd, "![Measured vs blind at equal size](gamma-controls.svg)"));
    /* Δ within the floor of its reference marked, beyond it not, the reference itself not */
    CHECK(strstr(md, "| +0.33 (noise) | ") && strstr(md, "| -0.33 (noise) | "));   /* the replicates */
    CHECK(strstr(md, "| -0.17 (noise) | ") && strstr(md, "| -0.50 (noise) | "));   /* cut_m1, lin1 */
    CHECK(strstr(md, "| -0.75 | ") && strstr(md, "| +1.67 | "));                   /* linlast1, uniform_m1 */
    CHECK(strstr(md, "| +0.00 | ") && !strstr(md, "+0.00 (noise)"));              /* the probe */
    CHECK(strstr(md, "- Cascade allocation `cut_m1` (`S S S S | d 8,16,24,32`) saves 39.9% of the attention parameters at "
                     "-0.17% perplexity (vs `probe`, within its noise floor).\n"));
    CHECK(strstr(md, "- Cascade allocation `cut_m4` (`S S S S | d 4,8,8,16`) saves 63.9% of the attention parameters at "
                     "+8.33% perplexity (vs `probe`).\n"));   /* beyond it */
    /* the findings open with the answer */
    const char *want = "## Findings\n\n**Did measuring help?** For `lin1` no (5.970 vs `linlast1` 5.955, within the noise; "
                       "noise floor ±0.67%); for `cut_m1` yes (5.990 vs `uniform_m1` 6.100, `reversed_m1` 6.050; noise "
                       "floor ±0.67%); for `cut_m2` no (6.020 vs `uniform_m2` 5.950; noise floor ±0.67%, beyond which the "
                       "blind control is better); for `cut_m4` not yet (its blind controls are not done).\n\n- ";
    CHECK_MSG(strstr(md, want) == fnd, "findings open with: %.400s", fnd);
    free(md);
    /* the plot: a point per candidate and per done blind control, a line per blind pair, a
     * noise bar per candidate; the standard-model control std_lin1 only in the table */
    char path[600];
    test_tmppath(path, sizeof path, "gamma-controls.svg");
    char *svg = test_read_file(path, NULL);
    REQUIRE(svg != NULL);
    CHECK(xmllint_ok(t_, path));
    CHECK_MSG(count_of(svg, "class=\"pt\"") == 3 + 4, "%d points", count_of(svg, "class=\"pt\""));
    CHECK(count_of(svg, "class=\"pair\"") == 4 && count_of(svg, "class=\"noise\"") == 3);
    CHECK(count_of(svg, "<polygon class=\"pt\"") == 4 && count_of(svg, "<circle class=\"pt\"") == 3);
    CHECK(strstr(svg, "std_lin1") == NULL);
    CHECK(strstr(svg, "blind control of equal size") && strstr(svg, "noise floor around the candidate"));
    free(svg);
}

/* Campaigns without controls or replicates say so, in the sections and the opening. */
TEST(report_without_controls_or_replicates_says_so)
{
    const char *c[] = { "alpha" };
    char *md = make_report(t_, c, 1, "no-controls.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "## Noise floor\n\nNo run has replicates") != NULL);
    CHECK(strstr(md, "## Measured vs blind at equal size\n\nNo run of this campaign is a control of a candidate") != NULL);
    CHECK(strstr(md, "## Findings\n\n**Did measuring help?** The report cannot say: this campaign has no blind controls "
                     "(runs of the candidates' size that ignore the measurement), and no replicates of its reference, so "
                     "no noise floor either.\n\n- ") != NULL);
    CHECK(strstr(md, "(noise)") == NULL);
    char path[600];
    test_tmppath(path, sizeof path, "no-controls-controls.svg");
    CHECK(access(path, F_OK) != 0);
    free(md);
}

/* Each Δ is against the run results.reference_run names, not the one a rule would pick. */
TEST(report_delta_against_the_recorded_reference)
{
    const char *c[] = { "refs" };
    char *md = make_report(t_, c, 1, "refs.md");
    REQUIRE(md != NULL);
    char want[300];
    snprintf(want, sizeof want, "- Cascade allocation `cut_m1` (`S S S S | d 8,16,24,32`) saves %.1f%% of the attention "
             "parameters at %+.2f%% perplexity (vs `probe`).", 100 * (1 - 10000.0 / PROBE_ATTN), 100 * (5.90 / 6.00 - 1));
    CHECK_MSG(strstr(md, want), "missing %s", want);
    /* no reference recorded: the rule, inherited runs against probe_cont */
    snprintf(want, sizeof want, "`cut_m2` (`S S S S | d 16,32,32,32`) saves %.1f%% of the attention parameters at %+.2f%% "
             "perplexity (vs `probe_cont`).", 100 * (1 - 14000.0 / PROBE_ATTN), 100 * (5.85 / 5.80 - 1));
    CHECK_MSG(strstr(md, want), "missing %s", want);
    free(md);
}

/* A database of schema version 2 (before controls, replicates and recorded references)
 * still reports: the new sections say it predates them, and each Δ is against the run the
 * campaign's rule gives. */
TEST(report_reads_a_version_2_database)
{
    char path[600], old[600], out[600], err[CASCADE_ERR_MAX];
    REQUIRE(fx_database(t_, path, sizeof path) == 0);
    db_fixture_fresh_path(old, sizeof old, "report-v2.db");
    size_t n;
    char *bytes = test_read_file(path, &n);
    REQUIRE(bytes && test_write_file(old, bytes, n) == 0);
    free(bytes);
    REQUIRE(db_fixture_make_v2(old) == 0);
    struct db *db;
    REQUIRE_MSG(db_open(&db, old, DB_READ_ONLY, err) == 0, "%s", err);
    REQUIRE(db_schema_version(db) == 2);
    test_tmppath(out, sizeof out, "v2.md");
    const char *c[] = { "gamma", "refs" };
    int rc = report_write(db, c, 2, out, err);
    db_close(db);
    REQUIRE_MSG(rc == 0, "%s", err);
    char *md = test_read_file(out, NULL);
    REQUIRE(md != NULL);
    const char *g = strstr(md, "## Campaign `gamma`"), *r = strstr(md, "## Campaign `refs`");
    REQUIRE(g && r && g < r);
    CHECK(found_in(g, r, "### Noise floor\n\nNot recorded: this database is of schema version 2, older than replicates "
                         "(version 3).\n"));
    CHECK(found_in(g, r, "### Measured vs blind at equal size\n\nNot recorded: this database is of schema version 2, "
                         "older than blind controls (version 3).\n"));
    CHECK(found_in(g, r, "### Findings\n\n**Did measuring help?** Not recorded: this database (schema version 2) predates "
                         "blind controls and replicates, so the report cannot say.\n\n- "));
    CHECK(found_in(g, r, "| `cut_m1` | candidate | `S S S S \\| d 8,16,24,32` |"));   /* the rows are all there */
    CHECK(strstr(md, "(noise)") == NULL);
    /* no reference_run: cut_m1, inherited, against probe_cont by the rule */
    CHECK(found_in(r, NULL, "- Cascade allocation `cut_m1` (`S S S S | d 8,16,24,32`)") &&
          found_in(r, NULL, "perplexity (vs `probe_cont`).\n- Cascade allocation `cut_m2`"));
    test_tmppath(out, sizeof out, "v2-gamma-controls.svg");
    CHECK(access(out, F_OK) != 0);
    test_tmppath(out, sizeof out, "v2-gamma-tradeoff.svg");
    CHECK(xmllint_ok(t_, out));
    free(md);
}

/* The opening sentence's other answers, from v_controls rows as loaded: partly (one blind
 * control beaten beyond the noise, one within it), cannot tell (no noise floor), no (every
 * blind control better), not yet (the candidate is not done); a standard-model control
 * has no say. */
TEST(report_did_measuring_help_words_each_verdict)
{
    static const char *const names[] = { "a", "a_u", "a_r", "c", "c_u", "e", "e_u", "e_r", "f", "f_u", "a_std" };
    enum { N = sizeof names / sizeof names[0] };
    struct db_run dbr[N];
    struct report_run runs[N];
    memset(dbr, 0, sizeof dbr);
    memset(runs, 0, sizeof runs);
    for (int i = 0; i < N; i++) {
        snprintf(dbr[i].name, sizeof dbr[i].name, "%s", names[i]);
        runs[i].run = &dbr[i];
        runs[i].has_result = i != 8;   /* f is not done */
    }
    const struct report_pair pairs[] = {
        { 0, 1, 1, 100, 100, 0, 5.0, 5.1, -1.96, 1.0, "measured better" },
        { 0, 2, 1, 100, 100, 0, 5.0, 5.01, -0.2, 1.0, "within noise" },
        { 0, 10, 0, 100, 90, -10, 5.0, 6.0, -16.7, 1.0, "measured better" },   /* not blind: no say */
        { 3, 4, 1, 100, 100, 0, 5.0, 5.2, -3.85, NAN, "no noise floor" },
        { 5, 6, 1, 100, 100, 0, 5.0, 4.8, 4.17, 1.0, "blind better" },
        { 5, 7, 1, 100, 100, 0, 5.0, 4.9, 2.04, 1.0, "blind better" },
        { 8, 9, 1, 100, 100, 0, NAN, 5.0, NAN, 1.0, "" },
    };
    struct report_campaign rc;
    memset(&rc, 0, sizeof rc);
    rc.schema_version = 3;
    rc.runs = runs;
    rc.n_runs = N;
    rc.pairs = (struct report_pair *)pairs;
    rc.n_pairs = (int)(sizeof pairs / sizeof pairs[0]);
    struct report_buf b = { 0 };
    report_did_measuring_help(&rc, &b);
    const char *want = "**Did measuring help?** For `a` partly (5.000 vs `a_u` 5.100, `a_r` 5.010; noise floor ±1.00%, "
                       "beyond which it beats 1 of its 2 blind controls); for `c` cannot tell (5.000 vs `c_u` 5.200; no "
                       "noise floor: its reference has no replicates); for `e` no (5.000 vs `e_u` 4.800, `e_r` 4.900; "
                       "noise floor ±1.00%, beyond which the blind controls are better); for `f` not yet (it is not "
                       "done).\n\n";
    CHECK_MSG(b.s && strcmp(b.s, want) == 0, "got %s", b.s ? b.s : "(nothing)");
    report_buf_free(&b);
    /* only the standard-model control: no blind control to answer with */
    rc.pairs = (struct report_pair *)&pairs[2];
    rc.n_pairs = 1;
    rc.n_noise = 1;
    report_did_measuring_help(&rc, &b);
    CHECK_MSG(b.s && strcmp(b.s, "**Did measuring help?** The report cannot say: this campaign has no blind controls (runs "
                                 "of the candidates' size that ignore the measurement).\n\n") == 0, "got %s", b.s);
    report_buf_free(&b);
}

TEST(report_svgs_parse_with_one_point_per_run_and_head)
{
    const char *c[] = { "alpha" };
    char *md = make_report(t_, c, 1, "alpha-svg.md");
    REQUIRE(md != NULL);
    free(md);
    char path[600];
    const char *kinds[] = { "cascade", "tradeoff", "sweep" };
    int want[3];
    want[0] = 2 /* runs */ * 2 /* levels */ * N_LAYER * N_HEAD;
    want[1] = 0;
    for (int i = 0; i < N_ALPHA; i++) want[1] += strcmp(alpha_runs[i].status, "done") == 0;
    want[2] = 6;   /* probe, lin1, lin2; standard, std_lin1, std_lin2 */
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "alpha-svg-%s.svg", kinds[k]);
        test_tmppath(path, sizeof path, name);
        char *svg = test_read_file(path, NULL);
        REQUIRE_MSG(svg != NULL, "%s not written", path);
        CHECK(xmllint_ok(t_, path));
        CHECK_MSG(count_of(svg, "class=\"pt\"") == want[k], "%s: %d points, %d expected", name,
                  count_of(svg, "class=\"pt\""), want[k]);
        /* axes with tick labels and titles, a legend */
        CHECK(strstr(svg, "<g class=\"axes\">") && strstr(svg, "<g class=\"legend\">"));
        CHECK(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
        free(svg);
    }
    test_tmppath(path, sizeof path, "alpha-svg-tradeoff.svg");
    char *svg = test_read_file(path, NULL);
    REQUIRE(svg != NULL);
    CHECK(strstr(svg, "attention parameters (thousands)") && strstr(svg, "validation perplexity (per token)"));
    CHECK(count_of(svg, "class=\"front\"") == 1);
    CHECK(strstr(svg, "Pareto front") != NULL && strstr(svg, "controls (blind; prefix on the standard model)") != NULL);
    free(svg);
}

TEST(report_empty_campaign_says_so)
{
    const char *c[] = { "empty" };
    char *md = make_report(t_, c, 1, "empty.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "Campaign status: **running**; no runs are recorded yet.") != NULL);
    CHECK(strstr(md, "has no runs yet: the probe has not been started") != NULL);
    CHECK(strstr(md, "No run is done yet.") != NULL);
    CHECK(strstr(md, "No tradeoff plot: no run is done yet.") != NULL);
    CHECK(strstr(md, "No cascade plot: no measurement") != NULL);
    CHECK(strstr(md, "| Machine | not recorded") != NULL);
    char path[600];
    test_tmppath(path, sizeof path, "empty-tradeoff.svg");
    CHECK(access(path, F_OK) != 0);
    free(md);
}

TEST(report_unfinished_campaign_lists_queued_running_failed)
{
    const char *c[] = { "wip" };
    char *md = make_report(t_, c, 1, "wip.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "Campaign status: **running**; 4 runs: 1 done, 1 failed, 1 running, 1 queued.") != NULL);
    CHECK(strstr(md, "The campaign is **running** (not finished): 1 of 4 runs is done.") != NULL);
    CHECK(strstr(md, "- running (1): `standard`\n") != NULL);
    CHECK(strstr(md, "- queued (1): `lin1`\n") != NULL);
    CHECK(strstr(md, "- failed (1): `lin2` (out of memory \\| at step 3)\n") != NULL);
    CHECK(strstr(md, "- Not finished: 1 run queued and 1 running; these findings cover the 1 done run.") != NULL);
    CHECK(strstr(md, "| `probe` | probe |") != NULL);
    char path[600];
    test_tmppath(path, sizeof path, "wip-tradeoff.svg");
    char *svg = test_read_file(path, NULL);
    CHECK(svg && count_of(svg, "class=\"pt\"") == 1);
    free(svg);
    CHECK(xmllint_ok(t_, path));
    test_tmppath(path, sizeof path, "wip-cascade.svg");
    svg = test_read_file(path, NULL);
    CHECK(svg && count_of(svg, "class=\"pt\"") == 2 * N_LAYER * N_HEAD);   /* the probe only */
    free(svg);
    free(md);
}

TEST(report_two_campaigns_compared)
{
    const char *c[] = { "alpha", "beta" };
    char *md = make_report(t_, c, 2, "ab.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "# Cascade report: campaigns `alpha` and `beta`\n") != NULL);
    const char *cmp = strstr(md, "## Comparison"), *a = strstr(md, "## Campaign `alpha`"), *b = strstr(md, "## Campaign `beta`");
    REQUIRE(cmp && a && b && cmp < a && a < b);
    CHECK(strstr(cmp, "| | `alpha` | `beta` |") != NULL);
    CHECK(strstr(cmp, "| retraining | scratch | inherit |") != NULL);
    CHECK(strstr(cmp, "| probe perplexity | 10.000 (`probe`) | 10.000 (`probe`) |") != NULL);
    CHECK(strstr(cmp, "| standard baseline perplexity | 9.800 (`standard`) | 9.900 (`standard`) |") != NULL);
    CHECK(strstr(cmp, "| Pareto front | `cut_m1`, `cut_m2`, `standard` | `cut_m4`, `standard` |") != NULL);
    char row[256];
    snprintf(row, sizeof row, "| `lin1` | %.1f | 10.100 | +1.00 | %.1f | 10.200 | +2.00 |",
             100.0 * (1 - 16512.0 / PROBE_ATTN), 100.0 * (1 - 16512.0 / PROBE_ATTN));
    CHECK_MSG(strstr(cmp, row), "missing %s", row);
    CHECK(strstr(cmp, "| `cut_m4` | – | – | – | 63.9 | 12.000 | +20.00 |") != NULL);
    CHECK(strstr(cmp, "| `lin3` | – | – | – | – | – | – |") != NULL);
    CHECK(strstr(md, "### Setup") != NULL && strstr(b, "| Machine | not recorded") != NULL);
    CHECK(strstr(b, "inherit: candidates warm-started from the probe, controls from the standard model, 25 steps") != NULL);
    CHECK(strstr(md, "(ab-compare.svg)") && strstr(md, "(ab-alpha-tradeoff.svg)") && strstr(md, "(ab-beta-tradeoff.svg)"));
    char path[600];
    test_tmppath(path, sizeof path, "ab-compare.svg");
    char *svg = test_read_file(path, NULL);
    REQUIRE(svg != NULL);
    CHECK(xmllint_ok(t_, path));
    CHECK(count_of(svg, "class=\"pt\"") == 9 + 4);
    CHECK(count_of(svg, "class=\"front\"") == 2);
    free(svg);
    test_tmppath(path, sizeof path, "ab-beta-cascade.svg");
    CHECK(xmllint_ok(t_, path));
    free(md);
}

TEST(report_most_recent_campaign_and_unknown_name)
{
    char path[600], out[600], err[CASCADE_ERR_MAX];
    REQUIRE(fx_database(t_, path, sizeof path) == 0);
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    test_tmppath(out, sizeof out, "recent.md");
    REQUIRE_MSG(report_write(db, NULL, 0, out, err) == 0, "%s", err);
    char *md = test_read_file(out, NULL);
    CHECK(md && strstr(md, "# Cascade report: campaign `empty`\n"));
    free(md);
    const char *bad[] = { "alpha", "nope" };
    test_tmppath(out, sizeof out, "nope.md");
    CHECK(report_write(db, bad, 2, out, err) != 0);
    CHECK_MSG(strstr(err, "no campaign named 'nope'") && !strchr(err, '\n'), "%s", err);
    CHECK(access(out, F_OK) != 0);
    db_close(db);
}

TEST(report_escapes_names_in_svg_and_markdown)
{
    char path[600], out[600], err[CASCADE_ERR_MAX], svgp[600];
    test_tmppath(path, sizeof path, "escape.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    const struct fx_run runs[] = {
        { "probe", "probe", "S S | d 8,8", "done", 1000, 200, 5.0, 10.0, "ref", NULL },
        { "a<b&\"c\" 'd'", "candidate", "L S | d 8,8", "done", 900, 150, 5.5, 10.0, "x | y <z>", NULL },
        { "bad\x01utf8\xff", "candidate", "S S | d 4,8", "done", 800, 120, 6.0, 10.0, "r", NULL },
    };
    REQUIRE_MSG(fx_campaign(db, "esc&<>", "{}", NULL, "done", runs, 3, err) == 0, "%s", err);
    db_close(db);
    REQUIRE_MSG(db_open(&db, path, DB_READ_ONLY, err) == 0, "%s", err);
    test_tmppath(out, sizeof out, "esc.md");
    const char *c[] = { "esc&<>" };
    REQUIRE_MSG(report_write(db, c, 1, out, err) == 0, "%s", err);
    db_close(db);
    const char *kinds[] = { "tradeoff", "sweep" };
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "esc-%s.svg", kinds[k]);
        test_tmppath(svgp, sizeof svgp, name);
        CHECK(xmllint_ok(t_, svgp));
    }
    char *md = test_read_file(out, NULL);
    CHECK(md && strstr(md, "| x \\| y &lt;z&gt; |"));
    free(md);
}

/* ---- the command ------------------------------------------------------------------------------ */

static int report_cli(const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s report %s", test_cascade_bin(), args);
    return test_run(cmd, out);
}

TEST(report_cli_writes_the_report)
{
    char path[600], dir[600], args[1400];
    REQUIRE(fx_database(t_, path, sizeof path) == 0);
    test_tmppath(dir, sizeof dir, "cli/sub");   /* made by the command */
    snprintf(args, sizeof args, "--db %s --campaign alpha --out %s/demo.md", path, dir);
    char *out = NULL;
    int rc = report_cli(args, &out);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out ? out : "");
    CHECK(out && strstr(out, "wrote ") && strstr(out, "demo.md"));
    free(out);
    char f[700];
    const char *files[] = { "demo.md", "demo-cascade.svg", "demo-tradeoff.svg", "demo-sweep.svg" };
    for (int i = 0; i < 4; i++) {
        snprintf(f, sizeof f, "%s/%s", dir, files[i]);
        CHECK_MSG(access(f, F_OK) == 0, "%s missing", f);
    }
    snprintf(args, sizeof args, "--db %s --campaign alpha --campaign beta --out %s/two.md", path, dir);
    CHECK(report_cli(args, NULL) == 0);
    snprintf(f, sizeof f, "%s/two-compare.svg", dir);
    CHECK(access(f, F_OK) == 0);
}

TEST(report_cli_errors)
{
    char path[600], args[1400], outp[600];
    REQUIRE(fx_database(t_, path, sizeof path) == 0);
    test_tmppath(outp, sizeof outp, "err.md");
    struct { const char *args; const char *want; } cases[] = {
        { "--db %s --campaign nope --out %s", "no campaign named 'nope'" },
        { "--db %s --campaign alpha --campaign alpha --out %s", "given twice" },
        { "--db %s --out %s.txt", "expected a Markdown file" },
        { "--db %s-missing.db --out %s", "no such database" },
        { "--db %s --bogus --out %s", "unknown option '--bogus'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, cases[i].args, path, outp);
        char *out = NULL;
        int rc = report_cli(args, &out);
        CHECK_MSG(rc == 2, "%s: exit %d", args, rc);
        CHECK_MSG(out && strstr(out, cases[i].want) && strchr(out, '\n') == out + strlen(out) - 1,
                  "%s: got '%s'", args, out ? out : "");
        free(out);
    }
    char *out = NULL;
    snprintf(args, sizeof args, "--db %s", path);
    CHECK(report_cli(args, &out) == 2 && out && strstr(out, "--out DIR/NAME.md are required"));
    free(out);
    CHECK(access(outp, F_OK) != 0);
}

/* A corrupt database opens (its header and schema are intact) and fails when the runs are
 * read: bad input, so exit 2 with one line naming the file, as `cascade query` does, and
 * nothing written. */
TEST(report_cli_unreadable_database_is_exit_2)
{
    char path[600], bad[600], outp[600], args[1400], err[CASCADE_ERR_MAX];
    REQUIRE(fx_database(t_, path, sizeof path) == 0);
    db_fixture_fresh_path(bad, sizeof bad, "corrupt-report.db");
    size_t n;
    char *bytes = test_read_file(path, &n);
    REQUIRE(bytes && test_write_file(bad, bytes, n) == 0);
    free(bytes);
    REQUIRE(db_fixture_corrupt_table(bad, "runs") == 0);
    test_tmppath(outp, sizeof outp, "corrupt/report.md");
    struct db *db;
    REQUIRE_MSG(db_open(&db, bad, DB_READ_ONLY, err) == 0, "%s", err);
    const char *alpha[] = { "alpha" };
    CHECK(report_write(db, alpha, 1, outp, err) == REPORT_ERR_DB);
    CHECK_MSG(strstr(err, bad) == err && strstr(err, "malformed") && !strchr(err, '\n'), "%s", err);
    db_close(db);
    CHECK(access(outp, F_OK) != 0);
    const char *cmds[][2] = { { "report", "--db %s --campaign alpha --out %s" }, { "query", "--db %s runs --campaign alpha" } };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char line[1600], *out = NULL, want[700];
        snprintf(args, sizeof args, cmds[i][1], bad, outp);
        snprintf(line, sizeof line, "%s %s %s", test_cascade_bin(), cmds[i][0], args);
        int rc = test_run(line, &out);
        snprintf(want, sizeof want, "cascade %s: %s: ", cmds[i][0], bad);
        CHECK_MSG(rc == 2, "%s: exit %d", args, rc);
        CHECK_MSG(out && strstr(out, want) == out && strstr(out, "malformed") && strchr(out, '\n') == out + strlen(out) - 1,
                  "%s: got '%s'", args, out ? out : "");
        free(out);
    }
    CHECK(access(outp, F_OK) != 0);
    /* a file that is not a database at all: the same */
    REQUIRE(test_write_file(bad, "not a database, just some text......................................."
                            "..................................................................", 130) == 0);
    snprintf(args, sizeof args, "--db %s --out %s", bad, outp);
    char *out = NULL;
    CHECK(report_cli(args, &out) == 2 && out && strstr(out, "not a cascade database"));
    free(out);
}

/* ---- formats ---------------------------------------------------------------------------------- */

TEST(report_number_formats)
{
    char s[64];
    const struct { long long v; const char *want; } ints[] = {
        { 0, "0" }, { 999, "999" }, { 1000, "1,000" }, { 1234567, "1,234,567" }, { -20480, "-20,480" },
        { INT64_MIN, "-9,223,372,036,854,775,808" },
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        report_fmt_int(s, sizeof s, ints[i].v);
        CHECK_MSG(strcmp(s, ints[i].want) == 0, "%lld -> %s", ints[i].v, s);
    }
    const struct { double v; int d; const char *want; } reals[] = {
        { 5000.4, 0, "5,000" }, { 1234.5678, 2, "1,234.57" }, { -0.001, 2, "0.00" }, { -1234.5, 1, "-1,234.5" },
        { 0.412, 3, "0.412" }, { NAN, 2, "–" }, { INFINITY, 1, "inf" },
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        report_fmt_fixed(s, sizeof s, reals[i].v, reals[i].d);
        CHECK_MSG(strcmp(s, reals[i].want) == 0, "%g -> %s", reals[i].v, s);
    }
    report_fmt_duration(s, sizeof s, 3725);
    CHECK(strcmp(s, "1h02m") == 0);
    report_fmt_duration(s, sizeof s, 185);
    CHECK(strcmp(s, "3m05s") == 0);
    report_fmt_duration(s, sizeof s, 12.4);
    CHECK(strcmp(s, "12s") == 0);
    report_fmt_utc(s, sizeof s, 1700000000);
    CHECK(strcmp(s, "2023-11-14 22:13 UTC") == 0);
    struct report_buf b = { 0 };
    report_md_cell(&b, "a|b\nc <d> <= 2 </e>");
    CHECK(b.s && strcmp(b.s, "a\\|b c &lt;d&gt; &lt;= 2 &lt;/e&gt;") == 0);
    report_buf_free(&b);
    /* the architecture comes from arch_json (the string is only shown) */
    struct report_arch a, ref;
    report_arch_from_json("{\"n_layer\":4,\"layernorm\":true,\"embed_scale\":2.5,\"attention\":[\"linear\",\"linear\","
                          "\"sd\",\"sd\"],\"head_dim\":[32,32,16,8]}", &a);
    CHECK(a.ok && a.n_layer == 4 && a.layernorm && a.kind[1] == 'L' && a.kind[2] == 'S' && a.dim[3] == 8);
    CHECK(a.embed_scale == 2.5);
    report_arch_from_json("{\"layernorm\":true,\"attention\":[\"sd\",\"sd\",\"sd\",\"softmax\"],"
                          "\"head_dim\":[32,32,16,8]}", &ref);
    CHECK(ref.ok && ref.kind[3] == 'A' && ref.embed_scale == 1.0);   /* n_layer and embed_scale may be missing */
    CHECK(report_prefix_k(&a, &ref) == -1);   /* another kind past the prefix */
    report_arch_from_json("{\"layernorm\":true,\"attention\":[\"sd\",\"sd\",\"sd\",\"sd\"],\"head_dim\":[32,32,16,8]}",
                          &ref);
    CHECK(report_prefix_k(&a, &ref) == 2);
    report_arch_from_json("{\"layernorm\":false,\"attention\":[\"sd\",\"sd\",\"sd\",\"sd\"],\"head_dim\":[32,32,16,8]}",
                          &ref);
    CHECK(report_prefix_k(&a, &ref) == -1);   /* other LayerNorm */
    const char *bad[] = { "", "L L S S | d 32,32,16,8 | LN", "{}", "{\"layernorm\":false,\"embed_scale\":32}",
                          "{\"attention\":[\"sd\"],\"head_dim\":[32,32]}", "{\"attention\":[\"sd\",\"x\"],\"head_dim\":[32,32]}",
                          "{\"attention\":[\"sd\"],\"head_dim\":[-1]}", "{\"attention\":[\"sd\"],\"head_dim\":[1.5]}",
                          "{\"n_layer\":2,\"attention\":[\"sd\"],\"head_dim\":[8]}", "{\"attention\":\"sd\",\"head_dim\":8}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        report_arch_from_json(bad[i], &a);
        CHECK_MSG(!a.ok && a.n_layer == 0, "'%s' read", bad[i]);
    }
}
