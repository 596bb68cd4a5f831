/* reports/report.c — report_write: the Markdown report of one or more campaigns and its
 * SVG plots (layout, file names and number formats: reports/report.h). Loads every
 * campaign first (an unknown name fails before anything is written), builds the text in
 * memory, writes the plots, then the Markdown, each atomically. */
#include "reports/report_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CASCADE_VERSION
#define CASCADE_VERSION "unknown"
#endif

/* ---- small helpers ------------------------------------------------------------------------- */

void report_heading(struct report_buf *md, int level, const char *text)
{
    report_buf_printf(md, "\n%.*s %s\n\n", level, "######", text);
}

void report_fmt_spearman(char *out, size_t n, double rho)
{
    if (isfinite(rho)) snprintf(out, n, "%.3f", rho);
    else snprintf(out, n, "undefined");
}

/* A campaign name as part of a file name. */
static void file_safe(char *out, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        out[k++] = ok ? c : '_';
    }
    out[k] = 0;
}

/* ---- plot files -------------------------------------------------------------------------------- */

void report_plot_path(struct report_plot *pf, const struct report_out *o, const char *campaign, const char *kind)
{
    char safe[300] = "";
    if (campaign) file_safe(safe, sizeof safe, campaign);
    snprintf(pf->path, sizeof pf->path, "%s%s-%s%s%s.svg", o->dir, o->name, safe, campaign ? "-" : "", kind);
    pf->name = strrchr(pf->path, '/') ? strrchr(pf->path, '/') + 1 : pf->path;
}

int report_plot_save(struct report_plot *pf, char *err)
{
    return pf->made ? report_buf_save(&pf->svg, pf->path, err) : 0;
}

/* ---- status ------------------------------------------------------------------------------------ */

static void status_line(struct report_buf *md, const struct report_campaign *rc)
{
    if (rc->n_runs == 0) {
        report_buf_printf(md, "Campaign status: **%s**; no runs are recorded yet.\n", rc->c.status);
        return;
    }
    report_buf_printf(md, "Campaign status: **%s**; %d run%s: %d done, %d failed, %d running, %d queued.\n", rc->c.status,
                      rc->n_runs, rc->n_runs == 1 ? "" : "s", rc->n_done, rc->n_failed, rc->n_running, rc->n_queued);
}

static void run_list(struct report_buf *md, const struct report_campaign *rc, enum db_status st, const char *what)
{
    int n = 0;
    for (int i = 0; i < rc->n_runs; i++) n += rc->runs[i].run->status == st;
    if (n == 0) return;
    report_buf_printf(md, "- %s (%d):", what, n);
    int k = 0;
    for (int i = 0; i < rc->n_runs; i++) {
        const struct db_run *r = rc->runs[i].run;
        if (r->status != st) continue;
        report_buf_printf(md, "%s `%s`", k++ ? "," : "", r->name);
        if (st == DB_RUNNING && r->attempts > 1) report_buf_printf(md, " (attempt %d, resumed)", r->attempts);
        if (st == DB_FAILED) {
            report_buf_puts(md, " (");
            report_md_cell(md, r->error[0] ? r->error : "no reason recorded");
            report_buf_puts(md, ")");
        }
    }
    report_buf_puts(md, "\n");
}

static void section_status(struct report_buf *md, const struct report_campaign *rc, int h)
{
    if (strcmp(rc->c.status, "done") == 0 && rc->n_done == rc->n_runs && rc->n_runs > 0) return;
    report_heading(md, h, "Status");
    if (rc->n_runs == 0) {
        report_buf_printf(md, "This campaign is **%s** and has no runs yet: the probe has not been started, so there is "
                          "nothing to report beyond its setup.\n", rc->c.status);
        return;
    }
    if (strcmp(rc->c.status, "done") == 0)
        report_buf_printf(md, "The campaign is done, but %d of its %d runs did not finish:\n\n", rc->n_runs - rc->n_done,
                          rc->n_runs);
    else
        report_buf_printf(md, "The campaign is **%s** (not finished): %d of %d runs are done. The sections below cover "
                          "the done runs only.\n\n", rc->c.status, rc->n_done, rc->n_runs);
    run_list(md, rc, DB_RUNNING, "running");
    run_list(md, rc, DB_QUEUED, "queued");
    run_list(md, rc, DB_FAILED, "failed");
}

/* ---- the measured cascade ------------------------------------------------------------------------ */

static const struct db_layer_measure *layer_of(const struct report_level *lv, int layer)
{
    for (int i = 0; i < lv->n_layers; i++)
        if (lv->layers[i].layer == layer) return &lv->layers[i];
    return NULL;
}

static int max_layer(const struct report_level *lv)
{
    int m = -1;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < lv[k].n_layers; i++)
            if (lv[k].layers[i].layer > m) m = lv[k].layers[i].layer;
    return m;
}

static void erank_cell(struct report_buf *md, const struct db_layer_measure *m)
{
    if (!m) { report_buf_puts(md, " – | – | – |"); return; }
    char a[32], b[32], c[32], f[32], g[32];
    report_fmt_fixed(a, sizeof a, m->routing_erank_mean, 2);
    report_fmt_fixed(b, sizeof b, m->routing_erank_min, 2);
    report_fmt_fixed(c, sizeof c, m->routing_erank_max, 2);
    report_fmt_fixed(f, sizeof f, m->routing_fraction_mean, 3);
    report_fmt_fixed(g, sizeof g, m->filtering_erank_mean, 2);
    report_buf_printf(md, " %s [%s, %s] | %s | %s |", a, b, c, f, g);
}

static void mean_cell(struct report_buf *md, const struct report_level *lv, int layer)
{
    const struct db_layer_measure *m = layer_of(lv, layer);
    char a[32];
    report_fmt_fixed(a, sizeof a, m ? m->routing_erank_mean : NAN, 2);
    report_buf_printf(md, " %s |", a);
}

static void section_cascade(struct report_buf *md, const struct report_campaign *rc, int h, const char *svg_name,
                            const char *svg_why)
{
    report_heading(md, h, "The measured cascade");
    const struct report_level *p = rc->probe_lv, *s = rc->standard_lv;
    if (rc->probe < 0 || (!p[0].found && !p[1].found)) {
        report_buf_printf(md, "The probe has no recorded measurement yet%s.\n",
                          rc->probe < 0 ? " (there is no probe run)" : rc->runs[rc->probe].run->status == DB_DONE ? ""
                          : " (it is not done)");
    } else {
        report_buf_printf(md, "Per layer of the S–D probe `%s`: routing effective rank over the layer's heads as mean "
                          "[min, max], mean routing fraction (‖R‖²/‖M‖², R the skew part), and mean filtering effective "
                          "rank; at the weight level (W_Q W_Kᵀ) and realised (attention logits on validation tokens).\n\n",
                          rc->runs[rc->probe].run->name);
        report_buf_puts(md, "| layer | routing erank (weight) | routing fraction (weight) | filtering erank (weight) | "
                        "routing erank (realised) | routing fraction (realised) | filtering erank (realised) |\n"
                        "|---:|---:|---:|---:|---:|---:|---:|\n");
        for (int l = 0; l <= max_layer(p); l++) {
            report_buf_printf(md, "| %d |", l);
            erank_cell(md, layer_of(&p[0], l));
            erank_cell(md, layer_of(&p[1], l));
            report_buf_puts(md, "\n");
        }
        char a[32], b[32], c[32], d[32];
        report_fmt_spearman(a, sizeof a, p[0].spearman);
        report_fmt_spearman(b, sizeof b, p[1].spearman);
        report_buf_printf(md, "\nCascade value (Spearman ρ of the layer-mean routing effective rank with depth): probe "
                          "%s (weight), %s (realised)", a, p[1].found ? b : "not measured");
        if (rc->standard >= 0 && (s[0].found || s[1].found)) {
            report_fmt_spearman(c, sizeof c, s[0].spearman);
            report_fmt_spearman(d, sizeof d, s[1].spearman);
            report_buf_printf(md, "; standard %s (weight), %s (realised)", s[0].found ? c : "not measured",
                              s[1].found ? d : "not measured");
        }
        report_buf_puts(md, ".\n");
        if (rc->standard >= 0 && (s[0].found || s[1].found)) {
            report_buf_printf(md, "\nMean routing effective rank by layer, the probe `%s` beside the standard model `%s`:\n\n"
                              "| layer | probe (weight) | probe (realised) | standard (weight) | standard (realised) |\n"
                              "|---:|---:|---:|---:|---:|\n", rc->runs[rc->probe].run->name,
                              rc->runs[rc->standard].run->name);
            int L = max_layer(p) > max_layer(s) ? max_layer(p) : max_layer(s);
            for (int l = 0; l <= L; l++) {
                report_buf_printf(md, "| %d |", l);
                mean_cell(md, &p[0], l);
                mean_cell(md, &p[1], l);
                mean_cell(md, &s[0], l);
                mean_cell(md, &s[1], l);
                report_buf_puts(md, "\n");
            }
        }
    }
    if (svg_name)
        report_buf_printf(md, "\n![Routing effective rank by layer](%s)\n\n*Routing effective rank by layer: each head a "
                          "point, the layer means a line; the S–D probe (circles, solid line) beside the standard softmax "
                          "model with LayerNorm (squares, dashed line); one panel per level measured.*\n", svg_name);
    else
        report_buf_printf(md, "\nNo cascade plot: %s.\n", svg_why);
}

/* ---- candidates -------------------------------------------------------------------------------- */

static void candidate_row(struct report_buf *md, const struct report_run *r)
{
    char total[48], attn[48], saved[32], ppl[32], delta[32], bpb[32], tps[48];
    report_fmt_int(total, sizeof total, r->res.params_total);
    report_fmt_int(attn, sizeof attn, r->res.params_attention);
    report_fmt_fixed(saved, sizeof saved, r->res.attention_saved_pct, 1);
    report_fmt_fixed(ppl, sizeof ppl, r->res.perplexity, 3);
    if (isfinite(r->res.delta_ppl_pct)) snprintf(delta, sizeof delta, "%+.2f", r->res.delta_ppl_pct);
    else snprintf(delta, sizeof delta, "–");
    report_fmt_fixed(bpb, sizeof bpb, r->res.bits_per_byte, 4);
    report_fmt_fixed(tps, sizeof tps, r->res.tokens_per_s, 0);
    report_buf_printf(md, "| `%s` | %s | `", r->run->name, r->run->role);
    report_md_cell(md, r->run->arch);
    report_buf_printf(md, "` | %s | %s | %s | %s | %s | %s | %s | %s | ", total, attn, saved, ppl, delta, bpb, tps,
                      r->pareto ? "✓" : "");
    report_md_cell(md, r->run->reason);
    report_buf_puts(md, " |\n");
}

static void section_candidates(struct report_buf *md, const struct report_campaign *rc, int h)
{
    report_heading(md, h, "Candidates");
    int *order = malloc(sizeof(int) * ((size_t)rc->n_runs + 1));
    if (!order) { md->oom = 1; return; }
    int nd = report_sorted_done(rc, order);
    if (nd == 0) {
        report_buf_puts(md, "No run is done yet.\n");
    } else {
        report_buf_printf(md, "Every done run, sorted by attention parameters (then perplexity). Savings and Δ are "
                          "relative to the probe%s%s%s%s; ✓ marks the Pareto front of attention parameters vs perplexity. "
                          "Architecture: each layer's attention (L linear, S S–D, A softmax), then `d` and each layer's "
                          "head dim, then `LN` when LayerNorm is on.\n\n", rc->probe >= 0 ? " `" : "",
                          rc->probe >= 0 ? rc->runs[rc->probe].run->name : "", rc->probe >= 0 ? "`" : "",
                          rc->sweep_ref[0] >= 0 && rc->sweep_ref[0] != rc->probe
                              ? " (Δ of inherited runs: relative to `probe_cont`, the probe trained for the same extra "
                                "steps, so it compares equal budgets)" : "");
        report_buf_puts(md, "| run | role | architecture | params | attention params | attention saved % | perplexity | "
                        "Δ ppl % | bits/byte | tokens/s | Pareto | reason |\n"
                        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|:-:|---|\n");
        for (int j = 0; j < nd; j++) candidate_row(md, &rc->runs[order[j]]);
    }
    free(order);
    if (rc->n_failed > 0) {
        report_buf_puts(md, "\nFailed runs:\n\n");
        for (int i = 0; i < rc->n_runs; i++) {
            const struct db_run *r = rc->runs[i].run;
            if (r->status != DB_FAILED) continue;
            report_buf_printf(md, "- `%s` (%s, `%s`): ", r->name, r->role, r->arch);
            report_md_cell(md, r->error[0] ? r->error : "no reason recorded");
            report_buf_puts(md, "\n");
        }
    }
    if (rc->n_queued + rc->n_running > 0)
        report_buf_printf(md, "\nNot finished: %d queued, %d running (see Status).\n", rc->n_queued, rc->n_running);
}

static void section_tradeoff(struct report_buf *md, int h, const char *svg_name, const char *svg_why)
{
    report_heading(md, h, "Tradeoff");
    if (!svg_name) { report_buf_printf(md, "No tradeoff plot: %s.\n", svg_why); return; }
    report_buf_printf(md, "![Attention parameters vs perplexity](%s)\n\n*Attention parameters (x) against validation "
                      "perplexity (y) of every done run; lower left is better. Star: the probe; square: the standard "
                      "baseline; circles: candidates; open triangles: controls (linear prefixes on the standard model). "
                      "The line joins the Pareto-optimal runs in order of attention parameters.*\n", svg_name);
}

/* ---- sweep ------------------------------------------------------------------------------------ */

static const struct report_run *sweep_at(const struct report_campaign *rc, int series, int k)
{
    for (int i = 0; i < rc->n_runs; i++)
        if (rc->runs[i].sweep_series == series && rc->runs[i].sweep_k == k) return &rc->runs[i];
    return NULL;
}

static void sweep_cell(struct report_buf *md, const struct report_run *r)
{
    if (!r) { report_buf_puts(md, " – | – |"); return; }
    if (isfinite(r->sweep_delta)) report_buf_printf(md, " `%s` | %+.2f |", r->run->name, r->sweep_delta);
    else report_buf_printf(md, " `%s` | %s |", r->run->name, db_status_name(r->run->status));
}

static void section_sweep(struct report_buf *md, const struct report_campaign *rc, int h, const char *svg_name,
                          const char *svg_why)
{
    report_heading(md, h, "Linearisation sweep");
    int kmax = 0;
    for (int i = 0; i < rc->n_runs; i++)
        if (rc->runs[i].sweep_k > kmax) kmax = rc->runs[i].sweep_k;
    if (kmax == 0) {
        report_buf_puts(md, "No linear-prefix runs are recorded.\n");
        return;
    }
    report_buf_printf(md, "Δ perplexity %% when the first k layers are linear. Reference of each series: its own k = 0 "
                      "model — the S–D runs against the probe%s%s%s, the standard runs against the standard baseline"
                      "%s%s%s.\n\n| k | S–D run | Δ ppl %% vs probe | standard run | Δ ppl %% vs standard |\n"
                      "|---:|---|---:|---|---:|\n",
                      rc->sweep_ref[0] >= 0 ? " `" : "", rc->sweep_ref[0] >= 0 ? rc->runs[rc->sweep_ref[0]].run->name : "",
                      rc->sweep_ref[0] >= 0 ? "`" : "", rc->sweep_ref[1] >= 0 ? " `" : "",
                      rc->sweep_ref[1] >= 0 ? rc->runs[rc->sweep_ref[1]].run->name : "", rc->sweep_ref[1] >= 0 ? "`" : "");
    for (int k = 0; k <= kmax; k++) {
        report_buf_printf(md, "| %d |", k);
        sweep_cell(md, sweep_at(rc, 0, k));
        sweep_cell(md, sweep_at(rc, 1, k));
        report_buf_puts(md, "\n");
    }
    if (svg_name)
        report_buf_printf(md, "\n![Linearisation sweep](%s)\n\n*Δ perplexity (%%) against the number of linearised "
                          "leading layers k: the S–D model (circles, solid; relative to its k = 0 run `%s`) against the standard "
                          "softmax model with LayerNorm (squares, dashed; relative to `%s`).*\n", svg_name,
                          rc->sweep_ref[0] >= 0 ? rc->runs[rc->sweep_ref[0]].run->name : "-",
                          rc->sweep_ref[1] >= 0 ? rc->runs[rc->sweep_ref[1]].run->name : "-");
    else
        report_buf_printf(md, "\nNo sweep plot: %s.\n", svg_why);
}

static int section_campaign(struct report_buf *md, const struct report_campaign *rc, const struct report_out *o,
                            int multi, char *err)
{
    int h = multi ? 3 : 2;
    if (multi) {
        char title[200];
        snprintf(title, sizeof title, "Campaign `%s`", rc->c.name);
        report_heading(md, 2, title);
    }
    status_line(md, rc);
    struct report_plot pf[3];
    memset(pf, 0, sizeof pf);
    const char *kinds[3] = { "cascade", "tradeoff", "sweep" };
    for (int k = 0; k < 3; k++) report_plot_path(&pf[k], o, multi ? rc->c.name : NULL, kinds[k]);
    pf[0].made = report_plot_cascade(rc, &pf[0].svg, pf[0].why) == 0;
    pf[1].made = report_plot_tradeoff(&rc, 1, &pf[1].svg, pf[1].why) == 0;
    pf[2].made = report_plot_sweep(rc, &pf[2].svg, pf[2].why) == 0;
    int rc_ = 0;
    for (int k = 0; k < 3 && rc_ == 0; k++) rc_ = report_plot_save(&pf[k], err);
    if (rc_ == 0) {
        report_section_setup(md, rc, h);
        section_status(md, rc, h);
        section_cascade(md, rc, h, pf[0].made ? pf[0].name : NULL, pf[0].why);
        section_candidates(md, rc, h);
        section_tradeoff(md, h, pf[1].made ? pf[1].name : NULL, pf[1].why);
        section_sweep(md, rc, h, pf[2].made ? pf[2].name : NULL, pf[2].why);
        report_heading(md, h, "Findings");
        report_findings(rc, md);
    }
    for (int k = 0; k < 3; k++) report_buf_free(&pf[k].svg);
    return rc_;
}

/* ---- the report ------------------------------------------------------------------------------------ */

static int split_out(const char *out_md, struct report_out *o, char *err)
{
    memset(o, 0, sizeof *o);
    o->md_path = out_md;
    const char *slash = out_md ? strrchr(out_md, '/') : NULL;
    const char *base = slash ? slash + 1 : out_md;
    if (!out_md || !base[0] || strlen(out_md) >= REPORT_PATH_MAX - 64) {
        snprintf(err, CASCADE_ERR_MAX, "%s: expected an output file DIR/NAME.md", out_md ? out_md : "(null)");
        return -1;
    }
    if (slash) snprintf(o->dir, sizeof o->dir, "%.*s", (int)(slash - out_md + 1), out_md);   /* with its '/' */
    snprintf(o->name, sizeof o->name, "%s", base);
    size_t k = strlen(o->name);
    if (k > 3 && strcmp(o->name + k - 3, ".md") == 0) o->name[k - 3] = 0;
    return 0;
}

static void write_title(struct report_buf *md, struct report_campaign *const *rcs, int n, struct db *db)
{
    report_buf_printf(md, "# Cascade report: campaign%s", n > 1 ? "s" : "");
    for (int c = 0; c < n; c++) report_buf_printf(md, "%s `%s`", c == 0 ? "" : c == n - 1 ? " and" : ",", rcs[c]->c.name);
    report_buf_printf(md, "\n\nGenerated by `cascade report` (cascade %s) from the results database `%s`; every number "
                      "below is read from it.\n\n", CASCADE_VERSION, db_path(db));
}

static void write_reproduce(struct report_buf *md, struct report_campaign *const *rcs, int n, struct db *db,
                            const char *out_md)
{
    report_heading(md, 2, "Reproduce");
    report_buf_printf(md, "```\ncascade report --db %s", db_path(db));
    for (int c = 0; c < n; c++) report_buf_printf(md, " --campaign %s", rcs[c]->c.name);
    report_buf_printf(md, " --out %s\ncascade query --db %s results --campaign %s\n```\n", out_md, db_path(db),
                      rcs[0]->c.name);
}

int report_write(struct db *db, const char *const *campaigns, int n_campaigns, const char *out_md, char *err)
{
    if (n_campaigns < 0 || n_campaigns > REPORT_MAX_CAMPAIGNS) {
        snprintf(err, CASCADE_ERR_MAX, "%s: a report compares at most %d campaigns (got %d)", db_path(db),
                 REPORT_MAX_CAMPAIGNS, n_campaigns);
        return -1;
    }
    assert(db && (n_campaigns == 0 || campaigns));
    struct report_out o;
    if (split_out(out_md, &o, err) != 0) return -1;
    int n = n_campaigns > 0 ? n_campaigns : 1;
    struct report_campaign *loaded = calloc((size_t)n, sizeof *loaded);
    struct report_campaign *rcs[REPORT_MAX_CAMPAIGNS];
    if (!loaded) { snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", out_md); return -1; }
    int ok = 0, rc = -1;
    for (; ok < n; ok++) {
        if (report_campaign_load(db, n_campaigns > 0 ? campaigns[ok] : NULL, &loaded[ok], err) != 0) break;
        rcs[ok] = &loaded[ok];
    }
    struct report_buf md = { 0 };
    if (ok == n) {
        write_title(&md, rcs, n, db);
        rc = 0;
        if (n > 1) rc = report_section_compare(&md, (const struct report_campaign *const *)rcs, n, &o, err);
        for (int c = 0; c < n && rc == 0; c++) rc = section_campaign(&md, rcs[c], &o, n > 1, err);
        if (rc == 0) {
            write_reproduce(&md, rcs, n, db, out_md);
            rc = report_buf_save(&md, out_md, err);
        }
    }
    report_buf_free(&md);
    for (int c = 0; c < ok; c++) report_campaign_free(&loaded[c]);
    free(loaded);
    return rc;
}
