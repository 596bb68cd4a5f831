/* reports/compare.c — the Comparison section of a report of several campaigns: a summary
 * table (status, runs, retraining, the baselines' perplexities, the probe's cascade value,
 * the Pareto front and its cheapest run, training wall time), a run-by-run table over the
 * union of run names (each campaign's savings and Δ relative to its own probe), a
 * tradeoff plot of every campaign (NAME-compare.svg), and, when the campaigns differ only in
 * search.strategy and search.seed, the Strategies section: each campaign's answer and the
 * runs it trained, then each strategy's mean ± sd over its campaigns. */
#include "reports/report_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- comparison of campaigns ------------------------------------------------------------------------ */

/* A row of the summary table: one cell per campaign, each written into the table by
 * `cell` (names as code spans and text from the database through report_md_cell). */
static void compare_row(struct report_buf *md, const char *what, const struct report_campaign *const *rcs, int n,
                        void (*cell)(struct report_buf *, const struct report_campaign *))
{
    report_buf_printf(md, "| %s |", what);
    for (int c = 0; c < n; c++) {
        report_buf_puts(md, " ");
        cell(md, rcs[c]);
        report_buf_puts(md, " |");
    }
    report_buf_puts(md, "\n");
}

static void cell_status(struct report_buf *md, const struct report_campaign *rc)
{
    report_buf_puts(md, db_campaign_status_name(rc->c.status));
}
static void cell_runs(struct report_buf *md, const struct report_campaign *rc)
{
    report_buf_printf(md, "%d (%d done, %d failed, %d not finished)", rc->n_runs, rc->n_done, rc->n_failed,
                      rc->n_queued + rc->n_running);
}
static void cell_retrain(struct report_buf *md, const struct report_campaign *rc)
{
    const char *mode = report_retrain_mode(rc);   /* the database's text */
    report_md_cell(md, mode ? mode : "not recorded");
}
static void cell_ppl(struct report_buf *md, const struct report_campaign *rc, int idx)
{
    if (idx < 0 || !rc->runs[idx].has_result) { report_buf_puts(md, "–"); return; }
    report_buf_printf(md, "%.3f (", rc->runs[idx].res.perplexity);
    report_md_code(md, rc->runs[idx].run->name, REPORT_MD_TABLE);
    report_buf_puts(md, ")");
}
static void cell_probe_ppl(struct report_buf *md, const struct report_campaign *rc) { cell_ppl(md, rc, rc->probe); }
static void cell_std_ppl(struct report_buf *md, const struct report_campaign *rc) { cell_ppl(md, rc, rc->standard); }
static void cell_rho(struct report_buf *md, const struct report_campaign *rc)
{
    char v[32] = "–";
    if (rc->probe >= 0 && rc->probe_lv[0].found) report_fmt_spearman(v, sizeof v, rc->probe_lv[0].spearman);
    report_buf_puts(md, v);
}
static void cell_front(struct report_buf *md, const struct report_campaign *rc)
{
    int *order = malloc(sizeof(int) * ((size_t)rc->n_runs + 1)), k = 0, nd = order ? report_sorted_done(rc, order) : 0;
    if (!order) md->oom = 1;
    for (int j = 0; j < nd; j++) {
        const struct report_run *r = &rc->runs[order[j]];
        if (!r->pareto) continue;
        if (k++) report_buf_puts(md, ", ");
        report_md_code(md, r->run->name, REPORT_MD_TABLE);
    }
    if (k == 0) report_buf_puts(md, "–");
    free(order);
}
static void cell_cheapest(struct report_buf *md, const struct report_campaign *rc)
{
    int *order = malloc(sizeof(int) * ((size_t)rc->n_runs + 1)), nd = order ? report_sorted_done(rc, order) : 0, j = 0;
    if (!order) md->oom = 1;
    while (j < nd && !rc->runs[order[j]].pareto) j++;
    if (j < nd) {
        const struct report_run *r = &rc->runs[order[j]];
        report_md_code(md, r->run->name, REPORT_MD_TABLE);
        report_buf_printf(md, ": %.1f%% saved, %+.2f%% perplexity", r->res.attention_saved_pct, r->res.delta_ppl_pct);
    } else {
        report_buf_puts(md, "–");
    }
    free(order);
}
static void cell_wall(struct report_buf *md, const struct report_campaign *rc)
{
    char d[48];
    report_fmt_duration(d, sizeof d, rc->runs_wall_s);
    report_buf_printf(md, "%s (sum of the done runs)", d);
}

static const struct report_run *run_named(const struct report_campaign *rc, const char *name)
{
    for (int i = 0; i < rc->n_runs; i++)
        if (strcmp(rc->runs[i].run->name, name) == 0) return &rc->runs[i];
    return NULL;
}

/* Runs of every campaign by name: the first campaign's done runs in table order, then
 * the other names in the order they come. */
static void compare_runs(struct report_buf *md, const struct report_campaign *const *rcs, int n)
{
    report_buf_puts(md, "\nRun by run (savings and Δ relative to each campaign's own probe; – where a campaign has no "
                    "such run or it is not done):\n\n| run |");
    const char *heads[3] = { " attention saved % |", " perplexity |", " Δ ppl % |" };
    for (int c = 0; c < n; c++)
        for (int k = 0; k < 3; k++) {
            report_buf_puts(md, " ");
            report_md_code(md, rcs[c]->c.name, REPORT_MD_TABLE);
            report_buf_puts(md, heads[k]);
        }
    report_buf_puts(md, "\n|---|");
    for (int c = 0; c < n; c++) report_buf_puts(md, "---:|---:|---:|");
    report_buf_puts(md, "\n");
    for (int c = 0; c < n; c++) {
        int *order = malloc(sizeof(int) * ((size_t)rcs[c]->n_runs + 1));
        if (!order) { md->oom = 1; return; }
        int nd = report_sorted_done(rcs[c], order), ntotal = nd;
        for (int i = 0; i < rcs[c]->n_runs; i++)   /* then the runs that are not done */
            if (!rcs[c]->runs[i].has_result) order[ntotal++] = i;
        for (int j = 0; j < ntotal; j++) {
            const char *name = rcs[c]->runs[order[j]].run->name;
            int seen = 0;
            for (int e = 0; e < c && !seen; e++) seen = run_named(rcs[e], name) != NULL;
            if (seen) continue;
            report_buf_puts(md, "| ");
            report_md_code(md, name, REPORT_MD_TABLE);
            report_buf_puts(md, " |");
            for (int e = 0; e < n; e++) {
                const struct report_run *r = run_named(rcs[e], name);
                if (!r || !r->has_result) { report_buf_puts(md, " – | – | – |"); continue; }
                char s[32], p[32];
                report_fmt_fixed(s, sizeof s, r->res.attention_saved_pct, 1);
                report_fmt_fixed(p, sizeof p, r->res.perplexity, 3);
                if (isfinite(r->res.delta_ppl_pct)) report_buf_printf(md, " %s | %s | %+.2f |", s, p, r->res.delta_ppl_pct);
                else report_buf_printf(md, " %s | %s | – |", s, p);
            }
            report_buf_puts(md, "\n");
        }
        free(order);
    }
}

/* ---- strategies ------------------------------------------------------------------------------ */

/* The search section the campaign recorded as it resolved it (setup_json "search"), or NULL:
 * only that one names every key, so only it can show that two campaigns differ in nothing
 * else (a config as given leaves keys to defaults that may have changed since). */
static const cJSON *recorded_search(const struct report_campaign *rc)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(rc->setup, "search");
    return cJSON_IsObject(s) ? s : NULL;
}

/* The keys a strategy comparison lets differ. */
static int strategy_key(const char *key) { return strcmp(key, "strategy") == 0 || strcmp(key, "seed") == 0; }

/* Whether `key` has the same value (or is missing) in every campaign's search section. */
static int same_everywhere(const struct report_campaign *const *rcs, int n, const char *key)
{
    const cJSON *v0 = cJSON_GetObjectItemCaseSensitive(recorded_search(rcs[0]), key);
    for (int c = 1; c < n; c++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(recorded_search(rcs[c]), key);
        if (!v0 != !v || (v0 && !cJSON_Compare(v0, v, 1))) return 0;
    }
    return 1;
}

/* Writes the keys other than strategy and seed whose values differ, each once, as code spans
 * ("`retrain`, `measure`"); returns how many. */
static int differing_keys(struct report_buf *md, const struct report_campaign *const *rcs, int n)
{
    int k = 0;
    for (int c = 0; c < n; c++) {
        const cJSON *it;
        cJSON_ArrayForEach(it, recorded_search(rcs[c])) {
            if (!it->string || strategy_key(it->string) || same_everywhere(rcs, n, it->string)) continue;
            int seen = 0;   /* named already, from an earlier campaign's section */
            for (int e = 0; e < c && !seen; e++) seen = cJSON_GetObjectItemCaseSensitive(recorded_search(rcs[e]), it->string) != NULL;
            if (seen) continue;
            if (md) {
                if (k) report_buf_puts(md, ", ");
                report_md_code(md, it->string, REPORT_MD_PROSE);
            }
            k++;
        }
    }
    return k;
}

/* The campaign's strategy as recorded ("measured", "random", "mixed"), or NULL. */
static const char *strategy_of(const struct report_campaign *rc)
{
    return report_json_str(recorded_search(rc), "strategy");
}

/* The search's answer: the last round, when it is marked final, with a done incumbent; NULL
 * otherwise (not a budget-driven search, or not finished). */
static const struct report_round *final_round(const struct report_campaign *rc)
{
    const struct report_round *g = rc->n_rounds ? &rc->rounds[rc->n_rounds - 1] : NULL;
    return g && g->final && g->run >= 0 && rc->runs[g->run].has_result ? g : NULL;
}

/* The runs the search trained: done runs other than the probe and the standard baseline (which
 * campaigns comparing strategies share). */
static int trained_runs(const struct report_campaign *rc)
{
    int n = 0;
    for (int i = 0; i < rc->n_runs; i++) n += rc->runs[i].has_result && i != rc->probe && i != rc->standard;
    return n;
}

/* "12,345 ± 678" (mean ± sample sd over n values; "12,345" for one, "–" for none). */
static void fmt_mean_sd(char *out, size_t size, const double *v, int n, int decimals, int sign)
{
    if (n == 0) { snprintf(out, size, "–"); return; }
    double mean = 0, ss = 0;
    for (int i = 0; i < n; i++) mean += v[i] / n;
    for (int i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
    char m[48], d[48];
    if (sign) snprintf(m, sizeof m, "%+.*f", decimals, mean);
    else report_fmt_fixed(m, sizeof m, mean, decimals);
    if (n < 2) { snprintf(out, size, "%s", m); return; }
    report_fmt_fixed(d, sizeof d, sqrt(ss / (n - 1)), decimals);
    snprintf(out, size, "%s ± %s", m, d);
}

/* The Strategies section (campaigns that differ only in search.strategy and search.seed), or
 * one line saying why there is none. */
static void section_strategies(struct report_buf *md, const struct report_campaign *const *rcs, int n)
{
    for (int c = 0; c < n; c++)
        if (!recorded_search(rcs[c])) {
            report_buf_puts(md, "\nNo Strategies section: campaign ");
            report_md_code(md, rcs[c]->c.name, REPORT_MD_PROSE);
            report_buf_puts(md, " has no recorded search settings, so the report cannot tell whether the campaigns "
                            "differ only in search.strategy and search.seed.\n");
            return;
        }
    if (differing_keys(NULL, rcs, n) > 0) {
        report_buf_puts(md, "\nNo Strategies section: the campaigns' search settings differ in more than search.strategy "
                        "and search.seed (");
        differing_keys(md, rcs, n);
        report_buf_puts(md, ").\n");
        return;
    }
    report_heading(md, 2, "Strategies");
    report_buf_puts(md, "The campaigns differ only in search.strategy and search.seed (their recorded search settings "
                    "agree in every other key), so they compare the strategies. Per campaign: the search's answer (the "
                    "final incumbent of table rounds) with its attention parameters and its Δ perplexity against its "
                    "reference, and the runs it trained (done runs other than the probe and the standard baseline, "
                    "which such campaigns may share).\n\n"
                    "| campaign | strategy | seed | final incumbent | architecture | attention params | Δ ppl % | runs "
                    "trained |\n|---|---|---:|---|---|---:|---:|---:|\n");
    for (int c = 0; c < n; c++) {
        const struct report_campaign *rc = rcs[c];
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(recorded_search(rc), "seed");
        char sd[48] = "not recorded";
        if (cJSON_IsNumber(seed)) snprintf(sd, sizeof sd, "%.0f", seed->valuedouble);
        report_buf_puts(md, "| ");
        report_md_code(md, rc->c.name, REPORT_MD_TABLE);
        report_buf_puts(md, " | ");
        report_md_cell(md, strategy_of(rc) ? strategy_of(rc) : "not recorded");
        report_buf_printf(md, " | %s | ", sd);
        const struct report_round *g = final_round(rc);
        if (g) {
            const struct report_run *r = &rc->runs[g->run];
            char attn[48], delta[32] = "–";
            report_fmt_int(attn, sizeof attn, r->res.params_attention);
            if (isfinite(g->delta_ppl_pct)) snprintf(delta, sizeof delta, "%+.2f", g->delta_ppl_pct);
            report_md_code(md, r->run->name, REPORT_MD_TABLE);
            report_buf_puts(md, " | ");
            report_md_code(md, r->run->arch, REPORT_MD_TABLE);
            report_buf_printf(md, " | %s | %s |", attn, delta);
        } else {
            report_buf_puts(md, "no final round | – | – | – |");
        }
        report_buf_printf(md, " %d |\n", trained_runs(rc));
    }
    report_buf_puts(md, "\nRuns trained:\n\n");
    for (int c = 0; c < n; c++) {
        report_buf_puts(md, "- ");
        report_md_code(md, rcs[c]->c.name, REPORT_MD_PROSE);
        report_buf_puts(md, ":");
        int k = 0;
        for (int i = 0; i < rcs[c]->n_runs; i++) {
            if (!rcs[c]->runs[i].has_result || i == rcs[c]->probe || i == rcs[c]->standard) continue;
            report_buf_puts(md, k++ ? ", " : " ");
            report_md_code(md, rcs[c]->runs[i].run->name, REPORT_MD_PROSE);
        }
        report_buf_puts(md, k ? "\n" : " none\n");
    }
    /* per strategy, over its campaigns (seeds): each strategy once, in the order first met */
    report_buf_puts(md, "\nPer strategy, over its campaigns (mean ± sample sd; the answer's values over the campaigns "
                    "that have one):\n\n| strategy | campaigns | with an answer | attention params of the answer | Δ ppl "
                    "% of the answer | runs trained |\n|---|---:|---:|---:|---:|---:|\n");
    double *v = malloc(3 * sizeof(double) * (size_t)n);
    if (!v) { md->oom = 1; return; }
    for (int c = 0; c < n; c++) {
        const char *st = strategy_of(rcs[c]);
        int first = 1;
        for (int e = 0; e < c && first; e++) first = !(st ? strategy_of(rcs[e]) && strcmp(st, strategy_of(rcs[e])) == 0
                                                      : !strategy_of(rcs[e]));
        if (!first) continue;
        int m = 0, answered = 0;
        double *attn = v, *delta = v + n, *trained = v + 2 * n;
        for (int e = c; e < n; e++) {
            const char *se = strategy_of(rcs[e]);
            if (st ? !se || strcmp(st, se) != 0 : se != NULL) continue;
            trained[m++] = trained_runs(rcs[e]);
            const struct report_round *g = final_round(rcs[e]);
            if (g && isfinite(g->delta_ppl_pct)) {
                attn[answered] = (double)rcs[e]->runs[g->run].res.params_attention;
                delta[answered++] = g->delta_ppl_pct;
            }
        }
        char a[64], d[64], t[64];
        fmt_mean_sd(a, sizeof a, attn, answered, 0, 0);
        fmt_mean_sd(d, sizeof d, delta, answered, 2, 1);
        fmt_mean_sd(t, sizeof t, trained, m, 1, 0);
        report_buf_puts(md, "| ");
        report_md_cell(md, st ? st : "not recorded");
        report_buf_printf(md, " | %d | %d | %s | %s | %s |\n", m, answered, a, d, t);
    }
    free(v);
}

int report_section_compare(struct report_buf *md, const struct report_campaign *const *rcs, int n,
                           const struct report_out *o, char *err)
{
    report_heading(md, 2, "Comparison");
    report_buf_puts(md, "| |");
    for (int c = 0; c < n; c++) {
        report_buf_puts(md, " ");
        report_md_code(md, rcs[c]->c.name, REPORT_MD_TABLE);
        report_buf_puts(md, " |");
    }
    report_buf_puts(md, "\n|---|");
    for (int c = 0; c < n; c++) report_buf_puts(md, "---|");
    report_buf_puts(md, "\n");
    compare_row(md, "status", rcs, n, cell_status);
    compare_row(md, "runs", rcs, n, cell_runs);
    compare_row(md, "retraining", rcs, n, cell_retrain);
    compare_row(md, "probe perplexity", rcs, n, cell_probe_ppl);
    compare_row(md, "standard baseline perplexity", rcs, n, cell_std_ppl);
    compare_row(md, "probe cascade ρ (weight)", rcs, n, cell_rho);
    compare_row(md, "Pareto front", rcs, n, cell_front);
    compare_row(md, "fewest attention parameters on the front", rcs, n, cell_cheapest);
    compare_row(md, "training wall time", rcs, n, cell_wall);
    compare_runs(md, rcs, n);
    struct report_plot pf;
    memset(&pf, 0, sizeof pf);
    report_plot_path(&pf, o, NULL, "compare");
    pf.made = report_plot_tradeoff(rcs, n, &pf.svg, pf.why) == 0;
    int rc = report_plot_save(&pf, err);
    if (pf.made)
        report_buf_printf(md, "\n![Attention parameters vs perplexity, campaigns compared](%s)\n\n*Every done run of each "
                          "campaign (colour), markers by role as in each campaign's tradeoff plot; lines: each "
                          "campaign's Pareto front.*\n", pf.link);
    else
        report_buf_printf(md, "\nNo comparison plot: %s.\n", pf.why);
    report_buf_free(&pf.svg);
    section_strategies(md, rcs, n);
    return rc;
}
