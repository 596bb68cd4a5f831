/* reports/findings.c — the report's findings: sentences computed from the campaign's rows,
 * each stating its numbers (formats of reports/report.h) and naming the runs they come
 * from. Nothing is concluded that the rows do not show: a finding whose runs are not all
 * done is left out. Output: the opening sentence as a paragraph, then a Markdown bullet
 * list ("- ..." lines).
 *
 * The findings open with one sentence, did measuring help? (reports/controls.c: each
 * measured candidate against its blind controls of equal size, with the noise floor).
 * Then, in order: the probe against the standard baseline; the shape of the
 * measured cascade; the linearisation sweep per k (S–D, and the standard control at the
 * same k) and how often the S–D model pays less; cascade-allocated head dims; linear
 * prefixes combined with them; any other candidate; the Pareto front and its cheapest
 * run; failed runs; what is not finished. */
#include "reports/report_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "costs +1.23% perplexity" / "improves perplexity by 0.50%" / "leaves perplexity unchanged (+0.00%)" */
static void cost_phrase(char *out, size_t n, double delta)
{
    char d[32];
    snprintf(d, sizeof d, "%+.2f", delta);
    if (strcmp(d, "+0.00") == 0 || strcmp(d, "-0.00") == 0) snprintf(out, n, "leaves perplexity unchanged (%s%%)", d);
    else if (delta > 0) snprintf(out, n, "costs %s%% perplexity", d);
    else snprintf(out, n, "improves perplexity by %.2f%%", -delta);
}

/* "saves 25.0% of the attention parameters" / "adds 3.0% attention parameters" */
static void saving_phrase(char *out, size_t n, double saved)
{
    if (!isfinite(saved)) snprintf(out, n, "has no recorded saving");
    else if (saved >= 0) snprintf(out, n, "saves %.1f%% of the attention parameters", saved);
    else snprintf(out, n, "adds %.1f%% attention parameters", -saved);
}

static const struct report_run *run_at(const struct report_campaign *rc, int i)
{
    return i >= 0 ? &rc->runs[i] : NULL;
}

/* A name from the database as a code span. */
static void code(struct report_buf *md, const char *name)
{
    report_md_code(md, name, REPORT_MD_PROSE);
}

/* " (`a` vs `b`)" */
static void versus(struct report_buf *md, const char *a, const char *b)
{
    report_buf_puts(md, " (");
    code(md, a);
    report_buf_puts(md, " vs ");
    code(md, b);
    report_buf_puts(md, ")");
}

static void baselines(const struct report_campaign *rc, struct report_buf *md)
{
    const struct report_run *p = run_at(rc, rc->probe), *s = run_at(rc, rc->standard);
    if (!p || !s || !p->has_result || !s->has_result || !(s->res.perplexity > 0)) return;
    char cost[96];
    cost_phrase(cost, sizeof cost, 100.0 * (p->res.perplexity / s->res.perplexity - 1.0));
    report_buf_printf(md, "- The S–D probe without LayerNorm reaches perplexity %.3f and the standard softmax model with "
                      "LayerNorm %.3f: relative to the standard baseline the probe %s", p->res.perplexity,
                      s->res.perplexity, cost);
    versus(md, p->run->name, s->run->name);
    report_buf_puts(md, ".\n");
}

static void profile(const struct report_level *lv, const char *who, const char *run, struct report_buf *md)
{
    if (!lv[0].found || lv[0].n_layers < 2) return;
    const struct db_layer_measure *a = &lv[0].layers[0], *b = &lv[0].layers[lv[0].n_layers - 1];
    char ea[32], eb[32];
    snprintf(ea, sizeof ea, "%.2f", a->routing_erank_mean);
    snprintf(eb, sizeof eb, "%.2f", b->routing_erank_mean);
    const char *verb = strcmp(ea, eb) == 0 ? "stays at" : b->routing_erank_mean > a->routing_erank_mean ? "rises" : "falls";
    if (strcmp(verb, "stays at") == 0)
        report_buf_printf(md, "- %s mean routing effective rank (weight level) stays at %s from layer %d to layer %d",
                          who, ea, a->layer, b->layer);
    else
        report_buf_printf(md, "- %s mean routing effective rank (weight level) %s from %s (layer %d) to %s (layer %d)",
                          who, verb, ea, a->layer, eb, b->layer);
    char r0[32], r1[32];
    snprintf(r0, sizeof r0, isfinite(lv[0].spearman) ? "%.3f" : "undefined", lv[0].spearman);
    snprintf(r1, sizeof r1, isfinite(lv[1].spearman) ? "%.3f" : "undefined", lv[1].spearman);
    report_buf_printf(md, "; Spearman ρ with depth %s at the weight level", r0);
    if (lv[1].found) report_buf_printf(md, ", %s realised", r1);
    report_buf_puts(md, " (");
    code(md, run);
    report_buf_puts(md, ").\n");
}

/* The done run of `series` at k, or NULL. */
static const struct report_run *sweep_run(const struct report_campaign *rc, int series, int k)
{
    for (int i = 0; i < rc->n_runs; i++) {
        const struct report_run *r = &rc->runs[i];
        if (r->sweep_series == series && r->sweep_k == k && isfinite(r->sweep_delta)) return r;
    }
    return NULL;
}

/* ", within its noise floor" when the Δ is within its reference's (v_results.beyond_noise = 0). */
static const char *noise_note(const struct report_run *r)
{
    return r->beyond_noise == 0 ? ", within its noise floor" : "";
}

/* The name of the run a recorded Δ ppl % is measured against (reports/load.c, delta_refs). */
static const char *delta_ref(const struct report_campaign *rc, const struct report_run *r)
{
    return r->ref >= 0 ? rc->runs[r->ref].run->name : r->res.reference_run[0] ? r->res.reference_run : "probe";
}

static void sweep(const struct report_campaign *rc, struct report_buf *md)
{
    /* each series against its own k = 0 run (report_internal.h, sweep_ref) */
    const struct report_run *p = run_at(rc, rc->sweep_ref[0]), *s = run_at(rc, rc->sweep_ref[1]);
    int both = 0, sd_less = 0;
    char less_ks[256] = "";
    for (int k = 1; k <= REPORT_MAX_LAYERS; k++) {
        const struct report_run *a = sweep_run(rc, 0, k), *b = sweep_run(rc, 1, k);
        if (!a && !b) continue;
        char cost[96], save[96], layers[48];
        if (k == 1) snprintf(layers, sizeof layers, "layer");
        else snprintf(layers, sizeof layers, "%d layers", k);
        if (a) {
            cost_phrase(cost, sizeof cost, a->sweep_delta);
            saving_phrase(save, sizeof save, a->res.attention_saved_pct);
            report_buf_printf(md, "- Linearising the first %s of the S–D model %s and %s", layers, cost, save);
            versus(md, a->run->name, p->run->name);
            if (b) {
                cost_phrase(cost, sizeof cost, b->sweep_delta);
                report_buf_printf(md, "; the same prefix on the standard model %s", cost);
                versus(md, b->run->name, s->run->name);
            }
            report_buf_puts(md, ".\n");
        } else {
            cost_phrase(cost, sizeof cost, b->sweep_delta);
            report_buf_printf(md, "- Linearising the first %s of the standard model %s", layers, cost);
            versus(md, b->run->name, s->run->name);
            report_buf_puts(md, "; the S–D run with this prefix is not done.\n");
        }
        if (a && b) {
            both++;
            if (a->sweep_delta < b->sweep_delta) {
                size_t len = strlen(less_ks);
                snprintf(less_ks + len, sizeof less_ks - len, "%s%d", sd_less ? ", " : "", k);
                sd_less++;
            }
        }
    }
    if (both > 0)
        report_buf_printf(md, "- At %d of the %d prefix length%s run on both models, linearising costs the S–D model "
                          "less perplexity than the standard model%s%s%s.\n", sd_less, both, report_plural(both),
                          sd_less ? " (k = " : "", less_ks, sd_less ? ")" : "");
}

/* Candidates outside the sweep: cascade allocation (S–D layers with other head dims),
 * linear prefix + allocation, anything else. */
static void allocations(const struct report_campaign *rc, struct report_buf *md)
{
    const struct report_run *p = run_at(rc, rc->probe);
    for (int i = 0; i < rc->n_runs; i++) {
        const struct report_run *r = &rc->runs[i];
        /* a paired seed's candidate is the same model again: its gaps are in the opening sentence */
        if (!r->has_result || r->run->role != DB_ROLE_CANDIDATE || r->sweep_series >= 0 || report_is_paired_seed(rc, i))
            continue;
        int linear = 0, cut = 0;
        for (int l = 0; r->arch.ok && l < r->arch.n_layer; l++) {
            linear += r->arch.kind[l] == 'L';
            cut += p && p->arch.ok && l < p->arch.n_layer && (r->arch.dim[l] < p->arch.dim[l] || r->arch.v_dim[l] < p->arch.v_dim[l]);
        }
        const char *what = !r->arch.ok ? "Candidate" : cut && linear ? "Linear prefix plus cascade allocation"
                         : cut ? "Cascade allocation" : "Candidate";
        char save[96];
        saving_phrase(save, sizeof save, r->res.attention_saved_pct);
        report_buf_printf(md, "- %s ", what);
        code(md, r->run->name);
        report_buf_puts(md, " (");
        code(md, r->run->arch);
        report_buf_printf(md, ") %s at %+.2f%% perplexity (vs ", save, r->res.delta_ppl_pct);
        code(md, delta_ref(rc, r));
        report_buf_printf(md, "%s).\n", noise_note(r));
    }
}

static void pareto(const struct report_campaign *rc, struct report_buf *md)
{
    int *order = malloc(sizeof(int) * ((size_t)rc->n_runs + 1));
    if (!order) { md->oom = 1; return; }
    int nd = report_sorted_done(rc, order), n = 0, cheapest = -1;
    for (int j = 0; j < nd; j++)
        if (rc->runs[order[j]].pareto) { n++; if (cheapest < 0) cheapest = order[j]; }
    if (n == 0) { free(order); return; }
    report_buf_printf(md, "- The Pareto front of attention parameters vs perplexity holds %d run%s:", n, n == 1 ? "" : "s");
    int k = 0;
    for (int j = 0; j < nd; j++)
        if (rc->runs[order[j]].pareto) {
            report_buf_puts(md, k++ ? ", " : " ");
            code(md, rc->runs[order[j]].run->name);
        }
    free(order);
    const struct report_run *c = &rc->runs[cheapest];
    if (cheapest != rc->probe && rc->probe >= 0 && isfinite(c->res.attention_saved_pct)) {
        char save[96];
        saving_phrase(save, sizeof save, c->res.attention_saved_pct);
        report_buf_puts(md, ". The one with the fewest attention parameters, ");
        code(md, c->run->name);
        report_buf_printf(md, ", %s at %+.2f%% perplexity (vs ", save, c->res.delta_ppl_pct);
        code(md, delta_ref(rc, c));
        report_buf_printf(md, "%s)", noise_note(c));
    }
    report_buf_puts(md, ".\n");
}

static void failures(const struct report_campaign *rc, struct report_buf *md)
{
    if (rc->n_failed > 0) {
        report_buf_printf(md, "- %d of %d run%s failed:", rc->n_failed, rc->n_runs, report_plural(rc->n_runs));
        int k = 0;
        for (int i = 0; i < rc->n_runs; i++) {
            const struct db_run *r = rc->runs[i].run;
            if (r->status != DB_FAILED) continue;
            report_buf_puts(md, k++ ? "; " : " ");
            code(md, r->name);
            report_buf_puts(md, " (");
            report_md_cell(md, r->error[0] ? r->error : "no reason recorded");
            report_buf_puts(md, ")");
        }
        report_buf_puts(md, ".\n");
    }
    if (rc->n_queued + rc->n_running > 0)
        report_buf_printf(md, "- Not finished: %d run%s queued and %d running; these findings cover the %d done run%s.\n",
                          rc->n_queued, rc->n_queued == 1 ? "" : "s", rc->n_running, rc->n_done, rc->n_done == 1 ? "" : "s");
}

void report_findings(const struct report_campaign *rc, struct report_buf *md)
{
    report_did_measuring_help(rc, md);
    if (rc->n_runs == 0) {
        report_buf_puts(md, "No findings: the campaign has no runs yet.\n");
        return;
    }
    if (rc->n_done == 0) report_buf_puts(md, "- No run is done yet, so there is nothing to compare.\n");
    baselines(rc, md);
    if (rc->probe >= 0) profile(rc->probe_lv, "The probe's", rc->runs[rc->probe].run->name, md);
    if (rc->standard >= 0) profile(rc->standard_lv, "The standard model's", rc->runs[rc->standard].run->name, md);
    sweep(rc, md);
    allocations(rc, md);
    pareto(rc, md);
    failures(rc, md);
}
