/* tests/test_report_evidence.c — the report's evidence sections, from a database filled
 * through db/db.h with known rows:
 *   paired    a campaign whose candidates and controls ran on 3 paired seeds (NAME_s2,
 *             NAME_s3): the findings' opening sentence answers from v_paired (measured
 *             better, within noise, control better, each pair's numbers), the Paired
 *             verdicts table holds v_paired's rows, the seed plot has one dot per seed, and
 *             the per-run tables list the first seed only;
 *   single    the same on one seed: the opening sentence keeps its single-seed form and no
 *             paired table or plot appears;
 *   the values the rules read (layer_values, with their spread over windows) and the
 *   Sensitivity section with its plot;
 *   strategies  two campaigns that differ only in search.strategy and search.seed get the
 *             Strategies section; one that differs in another key gets one line instead;
 * and the db/ readers on files without the tables or the view. */
#include "test.h"
#include "tests/db_fixture.h"
#include "db/db.h"
#include "reports/report.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the known rows ------------------------------------------------------------------------ */

#define EV_PROBE_ATTN 16640.0

/* One run: kinds per layer ("SSSS"), head dims, perplexity (0: not done). */
struct ev_run {
    const char *name, *role, *kinds, *dims;
    double ppl;
    double attn;
    const char *control_of, *replicate_of, *reference;
    int64_t seed;
};

/* The model config the controller records (reports read the architecture from it). */
static void ev_arch_json(char *out, size_t n, const char *kinds, const char *dims)
{
    char att[200] = "";
    for (const char *k = kinds; *k; k++) {
        size_t len = strlen(att);
        snprintf(att + len, sizeof att - len, "%s\"%s\"", k == kinds ? "" : ",",
                 *k == 'L' ? "linear" : *k == 'A' ? "softmax" : "sd");
    }
    snprintf(out, n, "{\"n_layer\":%zu,\"layernorm\":%s,\"attention\":[%s],\"head_dim\":[%s]}", strlen(kinds),
             strchr(kinds, 'A') ? "true" : "false", att, dims);
}

/* Adds a run (done when ppl > 0, with its Δ against ref_ppl); its id in *id. */
static int ev_add(struct db *db, int64_t cid, int seq, const struct ev_run *f, double ref_ppl, int64_t *id, char *err)
{
    struct db_run r;
    memset(&r, 0, sizeof r);
    r.campaign_id = cid;
    snprintf(r.name, sizeof r.name, "%s", f->name);
    r.role = (enum db_role)db_role_from_name(f->role);
    char arch[200], arch_json[600];
    snprintf(arch, sizeof arch, "%c %c %c %c | d %s", f->kinds[0], f->kinds[1], f->kinds[2], f->kinds[3], f->dims);
    ev_arch_json(arch_json, sizeof arch_json, f->kinds, f->dims);
    r.arch = arch;
    r.arch_json = arch_json;
    r.reason = (char *)"fixture";
    snprintf(r.retrain, sizeof r.retrain, "%s", r.role == DB_ROLE_CANDIDATE || r.role == DB_ROLE_CONTROL ? "inherit" : "");
    snprintf(r.control_of, sizeof r.control_of, "%s", f->control_of ? f->control_of : "");
    snprintf(r.replicate_of, sizeof r.replicate_of, "%s", f->replicate_of ? f->replicate_of : "");
    r.seed = f->seed ? f->seed : 1337;
    r.seq = seq;
    int created;
    if (db_run_add(db, &r, id, &created, err) != 0) return -1;
    if (!(f->ppl > 0)) return 0;
    if (db_run_set_status(db, *id, DB_RUNNING, NULL, err) != 0) return -1;
    struct db_result x;
    memset(&x, 0, sizeof x);
    x.params_total = 100000 + (int64_t)f->attn;
    x.params_attention = (int64_t)(f->attn > 0 ? f->attn : EV_PROBE_ATTN);
    x.params_saved_pct = 0;
    x.attention_saved_pct = 100.0 * (1.0 - x.params_attention / EV_PROBE_ATTN);
    x.val_loss = log(f->ppl);
    x.perplexity = f->ppl;
    x.bits_per_byte = NAN;
    x.delta_ppl_pct = 100.0 * (f->ppl / ref_ppl - 1.0);
    x.tokens_per_s = 5000;
    x.flops_per_token = 1e6;
    x.wall_s = 60;
    x.steps = 100;
    snprintf(x.reference_run, sizeof x.reference_run, "%s", f->reference ? f->reference : "probe");
    return db_record_result(db, *id, &x, err);
}

/* The paired campaign's candidates and controls on seed 1; seeds 2 and 3 are NAME_s2,
 * NAME_s3 with the perplexities below. Gaps (candidate / control - 1):
 *   cut_f0.5 vs uniform_f0.5   -0.78, -0.62, -0.70 %: measured better (beyond 2 se)
 *   cut_f0.5 vs reversed_f0.5  +0.31, -0.77, +0.16 %: within noise
 *   cut_f0.5 vs inverse_f0.5   about -3 % each seed: measured better (opposite)
 *   low2 vs high2              about +2 % each seed: control better (opposite)
 *   low2 vs lowblind2          -0.80, +0.32, -0.80 %: within noise */
struct ev_paired { const char *name, *role, *kinds, *dims, *control_of; double attn, ppl[3]; };
static const struct ev_paired paired_runs[] = {
    { "cut_f0.5", "candidate", "SSSS", "24,16,16,8", NULL, 8320, { 6.40, 6.42, 6.41 } },
    { "uniform_f0.5", "control", "SSSS", "16,16,16,16", "cut_f0.5", 8320, { 6.45, 6.46, 6.455 } },
    { "reversed_f0.5", "control", "SSSS", "8,16,16,24", "cut_f0.5", 8320, { 6.38, 6.47, 6.40 } },
    { "inverse_f0.5", "control", "SSSS", "12,12,16,24", "cut_f0.5", 8400, { 6.60, 6.62, 6.61 } },
    { "low2", "candidate", "SSLL", "32,32,32,32", NULL, 16000, { 6.20, 6.22, 6.21 } },
    { "high2", "control", "LLSS", "32,32,32,32", "low2", 16000, { 6.10, 6.08, 6.09 } },
    { "lowblind2", "control", "LSSL", "32,32,32,32", "low2", 16000, { 6.25, 6.20, 6.26 } },
};
#define N_PAIRED_RUNS (int)(sizeof paired_runs / sizeof paired_runs[0])

/* The gap of candidate a against control b on seed s, %. */
static double ev_gap(int a, int b, int s) { return 100.0 * (paired_runs[a].ppl[s] / paired_runs[b].ppl[s] - 1.0); }

/* Per-layer values the rules read for the probe: realised erank (8 windows) with spread. */
static const double probe_value[4] = { 6.36, 2.72, 2.18, 2.34 }, probe_spread[4] = { 0.52, 0.11, 0.07, 0.09 };

/* The probe's sensitivity curves: per layer its linearisation and cuts to 16 and 8. */
static const struct db_sensitivity_point probe_sens[] = {
    { 0, 32, "linear", 2.40, 0.2500 }, { 0, 16, "cut", 2.20, 0.0500 }, { 0, 8, "cut", 2.30, 0.1500 },
    { 1, 32, "linear", 2.20, 0.0500 }, { 1, 16, "cut", 2.16, 0.0100 }, { 1, 8, "cut", 2.18, 0.0300 },
    { 2, 32, "linear", 2.17, 0.0200 }, { 2, 16, "cut", 2.152, 0.0020 }, { 2, 8, "cut", 2.16, 0.0100 },
    { 3, 32, "linear", 2.19, 0.0400 }, { 3, 16, "cut", 2.155, 0.0050 }, { 3, 8, "cut", 2.17, 0.0200 },
};
#define N_PROBE_SENS (int)(sizeof probe_sens / sizeof probe_sens[0])

/* The baselines every campaign has: the probe with two replicates and the standard model. */
static int ev_baselines(struct db *db, int64_t cid, int *seq, int64_t *probe_id, char *err)
{
    const struct ev_run base[] = {
        { "probe", "probe", "SSSS", "32,32,32,32", 6.00, EV_PROBE_ATTN, NULL, NULL, NULL, 1337 },
        { "probe_r2", "baseline", "SSSS", "32,32,32,32", 6.02, EV_PROBE_ATTN, NULL, "probe", NULL, 1338 },
        { "probe_r3", "baseline", "SSSS", "32,32,32,32", 5.98, EV_PROBE_ATTN, NULL, "probe", NULL, 1339 },
        { "standard", "baseline", "AAAA", "32,32,32,32", 7.00, 16384, NULL, NULL, NULL, 1337 },
    };
    for (int i = 0; i < 4; i++) {
        int64_t id;
        if (ev_add(db, cid, (*seq)++, &base[i], 6.00, &id, err) != 0) return -1;
        if (i == 0) *probe_id = id;
    }
    return 0;
}

/* A campaign with the paired runs on `seeds` seeds (1 or 3), the probe's layer values and
 * sensitivity curves; `identical`: every seed gives seed 1's perplexities (a campaign with
 * inherit_steps 0, where nothing trains after the cut). */
static int ev_paired_campaign(struct db *db, const char *name, int seeds, int identical, char *err)
{
    int64_t cid, probe_id, id;
    int seq = 0;
    char cfg[200];
    snprintf(cfg, sizeof cfg, "{\"name\": \"%s\", \"search\": {\"candidate_replicates\": %d}}", name, seeds);
    if (db_campaign_begin(db, name, cfg, "v-test", "testhost", &cid, err) != 0 || ev_baselines(db, cid, &seq, &probe_id, err) != 0)
        return -1;
    static const double ref_ppl[3] = { 6.00, 6.02, 5.98 };
    static const char *const refs[3] = { "probe", "probe_r2", "probe_r3" };
    for (int s = 0; s < seeds; s++)
        for (int i = 0; i < N_PAIRED_RUNS; i++) {
            const struct ev_paired *p = &paired_runs[i];
            char rname[64], ctl_of[64];
            snprintf(rname, sizeof rname, s ? "%s_s%d" : "%s", p->name, s + 1);
            if (p->control_of) snprintf(ctl_of, sizeof ctl_of, s ? "%s_s%d" : "%s", p->control_of, s + 1);
            int at = identical ? 0 : s;
            struct ev_run f = { rname, p->role, p->kinds, p->dims, p->ppl[at], p->attn, p->control_of ? ctl_of : NULL,
                                s ? p->name : NULL, refs[s], 1337 + s };
            if (ev_add(db, cid, seq++, &f, ref_ppl[at], &id, err) != 0) return -1;
        }
    if (db_record_layer_values(db, probe_id, "realised_erank", probe_value, probe_spread, 4, 8, err) != 0) return -1;
    double sens_value[4];
    for (int l = 0; l < 4; l++) sens_value[l] = probe_sens[3 * l].delta_loss;
    if (db_record_layer_values(db, probe_id, "sensitivity", sens_value, NULL, 4, 1, err) != 0) return -1;
    if (db_record_sensitivity(db, probe_id, probe_sens, N_PROBE_SENS, err) != 0) return -1;
    return db_campaign_set_status(db, cid, DB_CAMPAIGN_DONE, err);
}

/* A budget-driven campaign of strategy `strategy` and seed `seed`: its probe and standard
 * model, the runs it trained and its rounds; `retrain` is the one other key a test varies. */
static int ev_strategy_campaign(struct db *db, const char *name, const char *strategy, int seed, const char *retrain,
                                double answer_attn, double answer_ppl, int extra_runs, char *err)
{
    int64_t cid, probe_id, id;
    int seq = 0;
    char cfg[300], setup[600];
    snprintf(cfg, sizeof cfg, "{\"name\": \"%s\", \"search\": {\"strategy\": \"%s\", \"seed\": %d}}", name, strategy, seed);
    /* the resolved search section as the controller records it (every key, here a few) */
    snprintf(setup, sizeof setup, "{\"search\": {\"linear_threshold\": 6, \"multipliers\": [0.5], \"retrain\": \"%s\", "
             "\"budget_ppl_pct\": 5, \"max_rounds\": 3, \"strategy\": \"%s\", \"seed\": %d, \"measure\": \"erank\"}}",
             retrain, strategy, seed);
    if (db_campaign_begin(db, name, cfg, "v-test", "testhost", &cid, err) != 0 ||
        db_campaign_set_setup(db, cid, setup, err) != 0 || ev_baselines(db, cid, &seq, &probe_id, err) != 0)
        return -1;
    const struct ev_run probe_cont = { "probe_cont", "baseline", "SSSS", "32,32,32,32", 5.90, EV_PROBE_ATTN, NULL, NULL,
                                       "probe", 1337 };
    if (ev_add(db, cid, seq++, &probe_cont, 6.00, &id, err) != 0) return -1;
    int64_t answer_id = 0;
    for (int k = 0; k < extra_runs; k++) {
        char rname[64];
        snprintf(rname, sizeof rname, "r1_cut%d", k);
        struct ev_run f = { rname, "candidate", "SSSS", k ? "32,32,16,32" : "16,32,32,32", k ? 6.5 : answer_ppl,
                            k ? 14000 : answer_attn, NULL, NULL, "probe_cont", 1337 };
        if (ev_add(db, cid, seq++, &f, 5.90, &id, err) != 0) return -1;
        if (k == 0) answer_id = id;
    }
    /* the incumbent the last round measured again: the rules' values of a round */
    const double v[4] = { 7.5, 6.25, 5.0, 3.75 };
    if (db_record_layer_values(db, answer_id, "erank", v, NULL, 4, 1, err) != 0) return -1;
    double delta = 100.0 * (answer_ppl / 5.90 - 1.0);
    if (db_round_set(db, cid, 0, "probe", "attention_params", EV_PROBE_ATTN, 0, 0, err) != 0 ||
        db_round_set(db, cid, 1, "r1_cut0", "attention_params", answer_attn, delta, 1, err) != 0)
        return -1;
    return db_campaign_set_status(db, cid, DB_CAMPAIGN_DONE, err);
}

/* The fixture database, made once per test run. */
static int ev_database(struct test_ctx *t_, char *path, size_t n)
{
    char err[CASCADE_ERR_MAX];
    test_tmppath(path, n, "evidence.db");
    if (access(path, F_OK) == 0) return 0;
    db_fixture_fresh_path(path, n, "evidence.db");
    struct db *db;
    if (db_open(&db, path, DB_WRITE, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return -1; }
    int rc = ev_paired_campaign(db, "paired", 3, 0, err);
    if (rc == 0) rc = ev_paired_campaign(db, "single", 1, 0, err);
    if (rc == 0) rc = ev_paired_campaign(db, "budget0", 3, 1, err);
    if (rc == 0) rc = ev_strategy_campaign(db, "measured_s1", "measured", 1, "inherit", 8000, 6.10, 3, err);
    if (rc == 0) rc = ev_strategy_campaign(db, "measured_s2", "measured", 2, "inherit", 9000, 6.05, 2, err);
    if (rc == 0) rc = ev_strategy_campaign(db, "random_s1", "rand|om", 1, "inherit", 12000, 6.15, 4, err);
    if (rc == 0) rc = ev_strategy_campaign(db, "scratch_s1", "random", 1, "scratch", 12000, 6.15, 2, err);
    db_close(db);
    if (rc != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); remove(path); return -1; }
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------------------- */

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* The report of `campaigns` as test_tmppath(name); its text (NULL after a failed check). */
static char *ev_report(struct test_ctx *t_, const char *const *campaigns, int n, const char *name)
{
    char path[512], out[600], err[CASCADE_ERR_MAX];
    if (ev_database(t_, path, sizeof path) != 0) return NULL;
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

/* The plot test_tmppath(name), checked to parse; its text or NULL. */
static char *ev_svg(struct test_ctx *t_, const char *name)
{
    char path[600], cmd[800], *out = NULL;
    test_tmppath(path, sizeof path, name);
    char *svg = test_read_file(path, NULL);
    if (!svg) { test_fail(t_, __FILE__, __LINE__, "%s not written", path); return NULL; }
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
    int rc = test_run(cmd, &out);
    CHECK_MSG(rc == 0, "xmllint %s: %s", path, out ? out : "");
    free(out);
    return svg;
}

/* The paragraph of md that starts with `start` (up to the next blank line). */
static char *paragraph(const char *md, const char *start)
{
    const char *a = md ? strstr(md, start) : NULL;
    if (!a) return NULL;
    const char *b = strstr(a, "\n\n");
    size_t n = b ? (size_t)(b - a) : strlen(a);
    char *p = malloc(n + 1);
    if (p) { memcpy(p, a, n); p[n] = 0; }
    return p;
}

/* mean ± sd of the gaps of candidate a against control b over the 3 seeds */
static void gap_stats(int a, int b, double *mean, double *sd)
{
    double g[3], m = 0, ss = 0;
    for (int s = 0; s < 3; s++) { g[s] = ev_gap(a, b, s); m += g[s] / 3; }
    for (int s = 0; s < 3; s++) ss += (g[s] - m) * (g[s] - m);
    *mean = m;
    *sd = sqrt(ss / 2);
}

/* ---- paired verdicts -------------------------------------------------------------------------- */

TEST(report_evidence_opening_sentence_answers_from_the_paired_seeds)
{
    const char *c[] = { "paired" };
    char *md = ev_report(t_, c, 1, "paired.md");
    REQUIRE(md != NULL);
    char *open = paragraph(md, "**Did measuring help?**");
    REQUIRE(open != NULL);
    double m, sd;
    char want[300];
    /* cut_f0.5 against its blind controls: uniform measured better, reversed within noise */
    gap_stats(0, 1, &m, &sd);
    snprintf(want, sizeof want, "For `cut_f0.5`: against its blind controls, measured better than `uniform_f0.5` "
             "(%+.2f ± %.2f%%, 3/3 seeds) and within noise of `reversed_f0.5` (", m, sd);
    CHECK_MSG(strstr(open, want) != NULL, "missing: %s\nin: %s", want, open);
    gap_stats(0, 3, &m, &sd);
    snprintf(want, sizeof want, "; against its opposite, measured better than `inverse_f0.5` (%+.2f ± %.2f%%, 3/3 seeds).",
             m, sd);
    CHECK_MSG(strstr(open, want) != NULL, "missing: %s\nin: %s", want, open);
    /* low2: its blind control within noise, its opposite better */
    gap_stats(4, 5, &m, &sd);
    snprintf(want, sizeof want, "For `low2`: against its blind control, within noise of `lowblind2` (");
    CHECK_MSG(strstr(open, want) != NULL, "missing: %s\nin: %s", want, open);
    snprintf(want, sizeof want, "against its opposite, worse than `high2` (%+.2f ± %.2f%%, 0/3 seeds)", m, sd);
    CHECK_MSG(strstr(open, want) != NULL, "missing: %s\nin: %s", want, open);
    CHECK(strstr(open, "Measured better than all its blind controls: 0 of 2 candidates (none); than all its "
                       "opposites: 1 of 2 (`cut_f0.5`).") != NULL);
    /* nothing of the single-seed form, and no seed run named as a candidate of its own */
    CHECK(strstr(open, "noise floor ±") == NULL && strstr(open, "_s2") == NULL);
    free(open);
    free(md);
}

/* Seeds that all give the same gap (nothing trained after the cut) are said to be one
 * measurement; seeds that differ are not. */
TEST(report_evidence_identical_seeds_are_called_one_measurement)
{
    const char *b0[] = { "budget0" }, *pd[] = { "paired" };
    char *md = ev_report(t_, b0, 1, "budget0.md");
    REQUIRE(md != NULL);
    char *open = paragraph(md, "**Did measuring help?**");
    REQUIRE(open != NULL);
    CHECK_MSG(strstr(open, "Every seed gave the same gap (± 0.00): nothing was trained after the cut") != NULL, "%s", open);
    free(open);
    free(md);
    md = ev_report(t_, pd, 1, "paired-distinct.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "Every seed gave the same gap") == NULL);
    free(md);
}

TEST(report_evidence_paired_table_plot_and_base_runs_only)
{
    const char *c[] = { "paired" };
    char *md = ev_report(t_, c, 1, "paired-table.md");
    REQUIRE(md != NULL);
    REQUIRE(strstr(md, "\n### Paired verdicts\n") != NULL);
    CHECK(strstr(md, "| candidate | control | kind | seeds | gap % (mean ± sd) | se % | wins | verdict |") != NULL);
    static const struct { int a, b; const char *kind, *verdict; } rows[] = {
        { 0, 1, "blind", "measured better" }, { 0, 2, "blind", "within noise" }, { 0, 3, "opposite", "measured better" },
        { 4, 5, "opposite", "control better" }, { 4, 6, "blind", "within noise" },
    };
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
        double m, sd;
        int wins = 0;
        gap_stats(rows[k].a, rows[k].b, &m, &sd);
        for (int s = 0; s < 3; s++) wins += ev_gap(rows[k].a, rows[k].b, s) < 0;
        char row[400];
        snprintf(row, sizeof row, "| `%s` | `%s` | %s | 3 | %+.2f ± %.2f%% | %.2f | %d/3 | %s |", paired_runs[rows[k].a].name,
                 paired_runs[rows[k].b].name, rows[k].kind, m, sd, sd / sqrt(3), wins, rows[k].verdict);
        CHECK_MSG(strstr(md, row) != NULL, "row missing: %s", row);
    }
    /* the controls table names the opposite kind, and lists the first seed only */
    CHECK(strstr(md, "| `cut_f0.5` | `inverse_f0.5` | opposite |") != NULL);
    CHECK(strstr(md, "| `cut_f0.5_s2` |") == NULL && strstr(md, "| `uniform_f0.5_s3` |") == NULL);
    CHECK(strstr(md, "this table lists each one's first seed") != NULL);
    CHECK(strstr(md, "| `low2` | candidate |") != NULL && strstr(md, "| `low2_s2` | candidate |") == NULL);
    CHECK(strstr(md, "Candidate `low2_s2`") == NULL);   /* the findings too */
    /* the seed plot: one dot per seed of each pair, a mean mark per pair */
    CHECK(strstr(md, "![Paired gaps by seed](paired-table-paired.svg)") != NULL);
    char *svg = ev_svg(t_, "paired-table-paired.svg");
    REQUIRE(svg != NULL);
    CHECK_MSG(count_of(svg, "class=\"pt\"") == 5 * 3, "%d dots", count_of(svg, "class=\"pt\""));
    CHECK_MSG(count_of(svg, "class=\"mean\"") == 5, "%d means", count_of(svg, "class=\"mean\""));
    CHECK(strstr(svg, "cut_f0.5_s2 vs reversed_f0.5_s2 (seed 1338)") != NULL);
    free(svg);
    /* the controls plot: the first seed only (cut_f0.5 and its 2 blind controls, low2 and its 1) */
    svg = ev_svg(t_, "paired-table-controls.svg");
    REQUIRE(svg != NULL);
    CHECK_MSG(count_of(svg, "class=\"pt\"") == 2 + 3, "%d points", count_of(svg, "class=\"pt\""));
    free(svg);
    free(md);
}

TEST(report_evidence_one_seed_keeps_the_single_seed_sentence)
{
    const char *c[] = { "single" };
    char *md = ev_report(t_, c, 1, "single.md");
    REQUIRE(md != NULL);
    char *open = paragraph(md, "**Did measuring help?**");
    REQUIRE(open != NULL);
    CHECK_MSG(strstr(open, "**Did measuring help?** For `cut_f0.5` ") != NULL && strstr(open, "noise floor ±") != NULL,
              "got: %s", open);
    CHECK(strstr(open, "On paired seeds") == NULL);
    CHECK(strstr(md, "Paired verdicts") == NULL);
    char path[600];
    test_tmppath(path, sizeof path, "single-paired.svg");
    CHECK(access(path, F_OK) != 0);
    free(open);
    free(md);
}

/* ---- what the rules read; sensitivity ------------------------------------------------------------- */

TEST(report_evidence_layer_values_with_their_spread)
{
    const char *c[] = { "paired" };
    char *md = ev_report(t_, c, 1, "values.md");
    REQUIRE(md != NULL);
    const char *cascade = strstr(md, "## The measured cascade"), *next = strstr(md, "## Sensitivity");
    REQUIRE(cascade && next);
    const char *vals = strstr(cascade, "What the proposal rules read (table layer_values)");
    REQUIRE(vals != NULL && vals < next);
    CHECK(strstr(vals, "For the probe `probe`:\n\n| layer | `realised_erank` (8 windows) | `sensitivity` (nats/token) |\n"
                       "|---:|---:|---:|\n") != NULL);
    for (int l = 0; l < 4; l++) {
        char row[200];
        snprintf(row, sizeof row, "| %d | %.2f ± %.2f | %.4f |\n", l, probe_value[l], probe_spread[l],
                 probe_sens[3 * l].delta_loss);
        CHECK_MSG(strstr(vals, row) != NULL && strstr(vals, row) < next, "missing: %s", row);
    }
    free(md);
    /* a round's incumbent, measured again, at the weight level */
    const char *s[] = { "measured_s1" };
    md = ev_report(t_, s, 1, "values-round.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "For the incumbent after round 1, `r1_cut0`:\n\n| layer | `erank` (weight level) |\n|---:|---:|\n"
                     "| 0 | 7.50 |\n| 1 | 6.25 |\n| 2 | 5.00 |\n| 3 | 3.75 |\n") != NULL);
    CHECK(strstr(md, "## Sensitivity") == NULL);
    free(md);
}

TEST(report_evidence_sensitivity_section_and_plot)
{
    const char *c[] = { "paired" };
    char *md = ev_report(t_, c, 1, "sens.md");
    REQUIRE(md != NULL);
    const char *sec = strstr(md, "\n## Sensitivity\n");
    REQUIRE(sec != NULL);
    CHECK(strstr(sec, "| layer | head dim | made linear: loss added (nats/token) | validation loss when linear | cuts: "
                      "head dim → loss added |") != NULL);
    for (int l = 0; l < 4; l++) {
        const struct db_sensitivity_point *lin = &probe_sens[3 * l], *a = lin + 1, *b = lin + 2;
        char row[300];
        snprintf(row, sizeof row, "| %d | 32 | %+.4f | %.4f | 16 → %+.4f, 8 → %+.4f |", l, lin->delta_loss, lin->val_loss,
                 a->delta_loss, b->delta_loss);
        CHECK_MSG(strstr(sec, row) != NULL, "missing: %s", row);
    }
    CHECK(strstr(sec, "![Sensitivity curves](sens-sensitivity.svg)") != NULL);
    char *svg = ev_svg(t_, "sens-sensitivity.svg");
    REQUIRE(svg != NULL);
    CHECK_MSG(count_of(svg, "class=\"pt\"") == N_PROBE_SENS, "%d points", count_of(svg, "class=\"pt\""));
    CHECK_MSG(count_of(svg, "class=\"curve\"") == 4, "%d curves", count_of(svg, "class=\"curve\""));
    CHECK(strstr(svg, "probe, layer 0 made linear (head dim 32): loss +0.2500 nats/token") != NULL);
    free(svg);
    free(md);
}

/* ---- strategies ----------------------------------------------------------------------------------- */

TEST(report_evidence_strategies_compared_when_only_strategy_and_seed_differ)
{
    const char *c[] = { "measured_s1", "measured_s2", "random_s1" };
    char *md = ev_report(t_, c, 3, "strategies.md");
    REQUIRE(md != NULL);
    const char *sec = strstr(md, "\n## Strategies\n");
    REQUIRE(sec != NULL);
    CHECK(sec < strstr(md, "## Campaign `measured_s1`"));
    CHECK(strstr(sec, "| `measured_s1` | measured | 1 | `r1_cut0` | `S S S S \\| d 16,32,32,32` | 8,000 | ") != NULL);
    char row[300];
    snprintf(row, sizeof row, "| `measured_s2` | measured | 2 | `r1_cut0` | `S S S S \\| d 16,32,32,32` | 9,000 | %+.2f | 5 |",
             100.0 * (6.05 / 5.90 - 1.0));
    CHECK_MSG(strstr(sec, row) != NULL, "missing: %s", row);
    /* a strategy's text from the database is escaped */
    CHECK(strstr(sec, "| `random_s1` | rand\\|om | 1 | `r1_cut0` |") != NULL);
    /* runs trained: done runs other than the probe and the standard model */
    CHECK(strstr(sec, "- `measured_s2`: `probe_r2`, `probe_r3`, `probe_cont`, `r1_cut0`, `r1_cut1`\n") != NULL);
    /* per strategy: mean ± sd over its campaigns */
    double d1 = 100.0 * (6.10 / 5.90 - 1.0), d2 = 100.0 * (6.05 / 5.90 - 1.0), dm = (d1 + d2) / 2;
    snprintf(row, sizeof row, "| measured | 2 | 2 | 8,500 ± 707 | %+.2f ± %.2f | 5.5 ± 0.7 |", dm,
             fabs(d1 - d2) / sqrt(2));
    CHECK_MSG(strstr(sec, row) != NULL, "missing: %s", row);
    CHECK(strstr(sec, "| rand\\|om | 1 | 1 | 12,000 | ") != NULL);
    CHECK(strstr(md, "No Strategies section") == NULL);
    free(md);
}

TEST(report_evidence_strategies_skipped_when_another_key_differs)
{
    const char *c[] = { "measured_s1", "scratch_s1" };
    char *md = ev_report(t_, c, 2, "strategies-skip.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "## Strategies") == NULL);
    CHECK(strstr(md, "\nNo Strategies section: the campaigns' search settings differ in more than search.strategy and "
                     "search.seed (`retrain`).\n") != NULL);
    free(md);
    /* campaigns without recorded search settings: one line as well */
    const char *p[] = { "paired", "measured_s1" };
    md = ev_report(t_, p, 2, "strategies-none.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "\nNo Strategies section: campaign `paired` has no recorded search settings") != NULL);
    free(md);
}

/* ---- db/ readers ---------------------------------------------------------------------------------- */

TEST(report_evidence_db_readers_in_order_and_without_the_view)
{
    char src[512], path[512], err[CASCADE_ERR_MAX], cmd[1200];
    REQUIRE(ev_database(t_, src, sizeof src) == 0);
    struct db *db;
    REQUIRE(db_open(&db, src, DB_READ_ONLY, err) == 0);
    struct db_campaign camp;
    REQUIRE(db_campaign_get(db, "paired", &camp, err) == 0);
    struct db_paired *pr;
    struct db_layer_value *lv;
    struct db_sensitivity_row *sr;
    int np, nv, ns;
    CHECK(db_paired_list(db, camp.id, &pr, &np, err) == 0 && np == 5);
    CHECK(np == 5 && strcmp(pr[0].candidate, "cut_f0.5") == 0 && strcmp(pr[0].control, "uniform_f0.5") == 0 &&
          pr[0].n == 3 && strcmp(pr[3].control_kind, "opposite") == 0 && strcmp(pr[3].verdict, "control better") == 0);
    CHECK(db_layer_values_list(db, camp.id, &lv, &nv, err) == 0 && nv == 8);
    CHECK(nv == 8 && strcmp(lv[0].measure, "realised_erank") == 0 && lv[0].n == 8 && isnan(lv[4].spread));
    CHECK(db_sensitivity_list(db, camp.id, &sr, &ns, err) == 0 && ns == N_PROBE_SENS);
    CHECK(ns == N_PROBE_SENS && strcmp(sr[0].pt.change, "linear") == 0 && sr[1].pt.head_dim == 16 && sr[2].pt.head_dim == 8);
    free(pr);
    free(lv);
    free(sr);
    db_campaign_free(&camp);
    db_close(db);
    /* a version-5 file made before v_paired existed: no paired rows, no error; the report
     * keeps the single-seed sentence */
    db_fixture_fresh_path(path, sizeof path, "evidence-noview.db");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, path);
    REQUIRE(test_run(cmd, NULL) == 0);
    REQUIRE(db_fixture_exec(path, "DROP VIEW v_paired;") == 0);
    REQUIRE(db_open(&db, path, DB_READ_ONLY, err) == 0);
    REQUIRE(db_campaign_get(db, "paired", &camp, err) == 0);
    CHECK(db_paired_list(db, camp.id, &pr, &np, err) == 0 && np == 0 && pr == NULL);
    db_campaign_free(&camp);
    char out[600];
    test_tmppath(out, sizeof out, "noview.md");
    const char *c[] = { "paired" };
    CHECK(report_write(db, c, 1, out, err) == 0);
    db_close(db);
    char *md = test_read_file(out, NULL);
    CHECK(md && strstr(md, "**Did measuring help?** For `cut_f0.5` ") != NULL && strstr(md, "Paired verdicts") == NULL);
    free(md);
}
