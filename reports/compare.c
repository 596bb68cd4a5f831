/* reports/compare.c — the Comparison section of a report of several campaigns: a summary
 * table (status, runs, retraining, the baselines' perplexities, the probe's cascade value,
 * the Pareto front and its cheapest run, training wall time), a run-by-run table over the
 * union of run names (each campaign's savings and Δ relative to its own probe), and a
 * tradeoff plot of every campaign (NAME-compare.svg). */
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
    return rc;
}
