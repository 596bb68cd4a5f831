/* reports/controls.c — did measuring help? The Noise floor section (v_noise: each
 * reference run with replicates, the spread of their perplexities and the noise floor
 * 2 sd / mean), the Measured vs blind at equal size section (v_controls: each candidate
 * beside each of its controls, with the database's verdict), the Paired verdicts (v_paired:
 * the same over paired seeds, which answer the findings' opening question when a campaign
 * has them), the mark of a Δ within its noise floor (v_results.beyond_noise) and the
 * findings' opening sentence. Every number
 * and verdict is a row of those views, as loaded by reports/load.c; this file only groups
 * them by candidate and words them. A database older than version 3 has none of them, and
 * the sections say so. */
#include "reports/report_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- marks and cells ------------------------------------------------------------------------- */

void report_fmt_delta(char *out, size_t n, const struct report_campaign *rc, int i)
{
    const struct report_run *r = &rc->runs[i];
    if (!isfinite(r->res.delta_ppl_pct)) { snprintf(out, n, "–"); return; }
    /* a reference is within its own noise by definition: no mark */
    int noise = r->beyond_noise == 0 && r->ref != i;
    snprintf(out, n, "%+.2f%s", r->res.delta_ppl_pct, noise ? " (noise)" : "");
}

/* "±0.67" or "–". */
static void fmt_floor(char *out, size_t n, double pct)
{
    if (isfinite(pct)) snprintf(out, n, "±%.2f", pct);
    else snprintf(out, n, "–");
}

/* A section on rows of a version-3 view: its heading, and when it has no rows to show, why
 * (the database predates the view, or the campaign has none: the text `none`). Returns
 * whether the section goes on. */
static int section_begin(struct report_buf *md, const struct report_campaign *rc, int h, const char *title,
                         const char *what, int n, const char *none)
{
    report_heading(md, h, title);
    if (rc->schema_version < 3)
        report_buf_printf(md, "Not recorded: this database is of schema version %d, older than %s (version 3).\n",
                          rc->schema_version, what);
    else if (n == 0)
        report_buf_puts(md, none);
    return rc->schema_version >= 3 && n > 0;
}

/* ---- the noise floor ------------------------------------------------------------------------ */

void report_section_noise(struct report_buf *md, const struct report_campaign *rc, int h)
{
    if (!section_begin(md, rc, h, "Noise floor", "replicates", rc->n_noise,
                       "No run has replicates (the same run trained with other seeds), so there is no noise floor: no Δ "
                       "or gap below can be told apart from the spread between seeds.\n"))
        return;
    report_buf_puts(md, "Each reference run with its replicates (the same run with other seeds): the done ones, their "
                    "perplexity as mean ± sample sd and range, and the noise floor, 2 sd / mean. A Δ or a gap within "
                    "the floor of its reference cannot be told apart from the spread between seeds.\n\n"
                    "| reference | replicates | done | perplexity mean ± sd | range | noise floor % |\n"
                    "|---|---|---:|---:|---:|---:|\n");
    for (int k = 0; k < rc->n_noise; k++) {
        const struct report_noise *z = &rc->noise[k];
        const char *ref = rc->runs[z->ref].run->name;
        report_buf_puts(md, "| ");
        report_md_code(md, ref, REPORT_MD_TABLE);
        report_buf_puts(md, " |");
        int m = 0;
        for (int i = 0; i < rc->n_runs; i++)
            if (strcmp(rc->runs[i].run->replicate_of, ref) == 0) {
                report_buf_puts(md, m++ ? ", " : " ");
                report_md_code(md, rc->runs[i].run->name, REPORT_MD_TABLE);
            }
        char mean[32], sd[32], lo[32], hi[32], pct[32];
        report_fmt_fixed(mean, sizeof mean, z->mean, 3);
        report_fmt_fixed(sd, sizeof sd, z->sd, 3);
        report_fmt_fixed(lo, sizeof lo, z->min, 3);
        report_fmt_fixed(hi, sizeof hi, z->max, 3);
        fmt_floor(pct, sizeof pct, z->pct);
        report_buf_printf(md, " | %d | %s ± %s | %s – %s | %s |\n", z->n, mean, sd, lo, hi, pct);
    }
    report_buf_puts(md, "\nIn the candidates table, \"(noise)\" after a Δ marks one within the noise floor of the run it "
                    "is measured against.\n");
}

/* ---- measured vs blind ---------------------------------------------------------------------- */

void report_section_controls(struct report_buf *md, const struct report_campaign *rc, int h, const char *svg_name,
                             const char *svg_why)
{
    if (!section_begin(md, rc, h, "Measured vs blind at equal size", "blind controls", rc->n_pairs,
                       "No run of this campaign is a control of a candidate (runs.control_of), so nothing tells whether "
                       "the measured choices beat blind ones.\n"))
        return;
    report_buf_puts(md, "Each candidate beside each of its controls: blind controls of the same size on the candidate's "
                    "own model that ignore the measurement (uniform or reversed head dims for a cascade allocation, the "
                    "last layers made linear instead of the first, layers drawn from the seed), opposite controls that "
                    "take the choice the measurement ranks worst (the highest-measured layers, head dims against the "
                    "measure), and the candidate's change made to the standard model. Size difference: the control's "
                    "attention parameters relative to the candidate's. Gap: the candidate's perplexity relative to the "
                    "control's (negative: the measured choice is better). The verdict sets the gap against the noise "
                    "floor of the candidate's reference.");
    if (rc->paired_seeds)
        report_buf_puts(md, " The candidates and controls were trained on paired seeds: this table holds the first "
                        "seed's runs, and every seed is in Paired verdicts below.");
    report_buf_puts(md, "\n\n| candidate | control | kind | attention params (candidate) | attention params (control) | size "
                    "diff % | perplexity (candidate) | perplexity (control) | gap % | noise floor % | verdict |\n"
                    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int k = 0; k < rc->n_pairs; k++) {
        const struct report_pair *p = &rc->pairs[k];
        if (report_is_paired_seed(rc, p->cand)) continue;   /* its seeds are in the paired table */
        char pa[48] = "–", pb[48] = "–", diff[32] = "–", ya[32], yb[32], gap[32] = "–", floor_[32];
        if (isfinite(p->cand_params)) report_fmt_int(pa, sizeof pa, llround(p->cand_params));
        if (isfinite(p->ctl_params)) report_fmt_int(pb, sizeof pb, llround(p->ctl_params));
        if (isfinite(p->size_diff_pct)) snprintf(diff, sizeof diff, "%+.2f", p->size_diff_pct);
        if (isfinite(p->gap_pct)) snprintf(gap, sizeof gap, "%+.2f", p->gap_pct);
        report_fmt_fixed(ya, sizeof ya, p->cand_ppl, 3);
        report_fmt_fixed(yb, sizeof yb, p->ctl_ppl, 3);
        fmt_floor(floor_, sizeof floor_, p->noise_pct);
        report_buf_puts(md, "| ");
        report_md_code(md, rc->runs[p->cand].run->name, REPORT_MD_TABLE);
        report_buf_puts(md, " | ");
        report_md_code(md, rc->runs[p->ctl].run->name, REPORT_MD_TABLE);
        report_buf_printf(md, " | %s | %s | %s | %s | %s | %s | %s | %s | ", p->kind, pa, pb, diff, ya, yb, gap, floor_);
        report_md_cell(md, p->verdict[0] ? p->verdict : "not done");   /* v_controls' text */
        report_buf_puts(md, " |\n");
    }
    if (svg_name)
        report_buf_printf(md, "\n![Measured vs blind at equal size](%s)\n\n*Attention parameters (x) against validation "
                          "perplexity (y): each candidate (filled circle) joined by a line to its blind controls of equal "
                          "size (open triangles), one colour a candidate; the bar through a candidate spans the noise "
                          "floor of its reference, so a control inside it cannot be told apart. The changes on the "
                          "standard model are in the table above and in the sweep.*\n", svg_name);
    else
        report_buf_printf(md, "\nNo plot of the controls: %s.\n", svg_why);
}

/* ---- paired seeds ------------------------------------------------------------------------------ */

/* A paired gap: "-0.58 ± 0.24%", or "+0.10%" for one seed (no sd). */
static void fmt_paired_gap(char *out, size_t n, const struct db_paired *q)
{
    if (!isfinite(q->gap_mean_pct)) snprintf(out, n, "–");
    else if (isfinite(q->gap_sd_pct)) snprintf(out, n, "%+.2f ± %.2f%%", q->gap_mean_pct, q->gap_sd_pct);
    else snprintf(out, n, "%+.2f%%", q->gap_mean_pct);
}

void report_section_paired(struct report_buf *md, const struct report_campaign *rc, int h, const char *svg_name,
                           const char *svg_why)
{
    /* one seed each: v_paired repeats the table above, so it has nothing to add */
    if (!rc->paired_seeds) return;
    report_heading(md, h, "Paired verdicts");
    report_buf_puts(md, "Each candidate against each of its controls over the seeds on which both are done (db view "
                    "v_paired; the runs of seed 2 and on are `NAME_s2`, …, each paired with the control of its own "
                    "seed). Gap: the candidate's perplexity relative to the control's, mean ± sample sd over the seeds "
                    "(negative: the measured choice is better); se: the standard error of the mean gap; wins: seeds on "
                    "which the candidate is better. The verdict needs the mean gap beyond twice its standard error: "
                    "\"measured better\" or \"control better\", else \"within noise\" (\"one seed\": no spread to "
                    "judge by).\n\n"
                    "| candidate | control | kind | seeds | gap % (mean ± sd) | se % | wins | verdict |\n"
                    "|---|---|---|---:|---:|---:|---:|---|\n");
    for (int k = 0; k < rc->n_paired; k++) {
        const struct db_paired *q = &rc->paired[k];
        char gap[64], se[32] = "–";
        fmt_paired_gap(gap, sizeof gap, q);
        if (isfinite(q->gap_se_pct)) snprintf(se, sizeof se, "%.2f", q->gap_se_pct);
        report_buf_puts(md, "| ");
        report_md_code(md, q->candidate, REPORT_MD_TABLE);
        report_buf_puts(md, " | ");
        report_md_code(md, q->control, REPORT_MD_TABLE);
        report_buf_puts(md, " | ");
        report_md_cell(md, q->control_kind);   /* the view's text */
        report_buf_printf(md, " | %d | %s | %s | %d/%d | ", q->n, gap, se, q->wins, q->n);
        report_md_cell(md, q->verdict);
        report_buf_puts(md, " |\n");
    }
    if (svg_name)
        report_buf_printf(md, "\n![Paired gaps by seed](%s)\n\n*The gap of each seed (dots; x: the candidate's "
                          "perplexity relative to the control's, %%, negative: the measured choice is better), one row per "
                          "candidate and control, coloured by the control's kind; the vertical bar marks the mean gap and "
                          "the line through it spans twice its standard error either side, so a line that crosses 0 is "
                          "within noise.*\n", svg_name);
    else
        report_buf_printf(md, "\nNo plot of the paired gaps: %s.\n", svg_why);
}

/* ---- did measuring help? ---------------------------------------------------------------------- */

/* A candidate's done blind pairs, counted by the verdicts of v_controls. */
struct tally { int n, better, worse, within, nofloor; double floor_; };

static struct tally tally_of(const struct report_campaign *rc, int cand)
{
    struct tally t = { 0, 0, 0, 0, 0, NAN };
    for (int k = 0; k < rc->n_pairs; k++) {
        const struct report_pair *p = &rc->pairs[k];
        if (p->cand != cand || !p->blind || !p->verdict[0]) continue;
        t.n++;
        t.better += strcmp(p->verdict, "measured better") == 0;
        t.worse += strcmp(p->verdict, "blind better") == 0;
        t.within += strcmp(p->verdict, "within noise") == 0;
        t.nofloor += strcmp(p->verdict, "no noise floor") == 0;
        t.floor_ = p->noise_pct;   /* the candidate's reference's: the same in each pair */
    }
    return t;
}

/* One candidate's answer, e.g. "for `cut_m1` yes (5.990 vs `uniform_m1` 6.100,
 * `reversed_m1` 6.050; noise floor ±0.67%)": yes when it beats every blind control beyond
 * the noise floor, no when one beats it beyond the floor or none is told apart from it,
 * partly, or cannot tell (its reference has no replicates). */
static void candidate_answer(struct report_buf *md, const struct report_campaign *rc, int cand, int first)
{
    struct tally t = tally_of(rc, cand);
    const char *word = t.n == 0 ? "not yet" : t.nofloor ? "cannot tell" : t.worse ? "no" : t.better == t.n ? "yes"
                     : t.better ? "partly" : "no";
    report_buf_puts(md, first ? "For " : "; for ");
    report_md_code(md, rc->runs[cand].run->name, REPORT_MD_PROSE);
    report_buf_printf(md, " %s (", word);
    if (t.n == 0) {
        report_buf_puts(md, rc->runs[cand].has_result ? "its blind controls are not done)" : "it is not done)");
        return;
    }
    int m = 0;
    for (int k = 0; k < rc->n_pairs; k++) {
        const struct report_pair *p = &rc->pairs[k];
        if (p->cand != cand || !p->blind || !p->verdict[0]) continue;
        if (m++ == 0) report_buf_printf(md, "%.3f vs", p->cand_ppl);
        report_buf_puts(md, m > 1 ? ", " : " ");
        report_md_code(md, rc->runs[p->ctl].run->name, REPORT_MD_PROSE);
        report_buf_printf(md, " %.3f", p->ctl_ppl);
    }
    char f[32];
    fmt_floor(f, sizeof f, t.floor_);
    if (t.nofloor)
        report_buf_puts(md, "; no noise floor: its reference has no replicates)");
    else if (t.worse)
        report_buf_printf(md, "; noise floor %s%%, beyond which %s)", f, t.worse < t.n ? "a blind control is better"
                          : t.n > 1 ? "the blind controls are better" : "the blind control is better");
    else if (t.within == t.n)
        report_buf_printf(md, ", within the noise; noise floor %s%%)", f);
    else if (t.within)
        report_buf_printf(md, "; noise floor %s%%, beyond which it beats %d of its %d blind controls)", f, t.better, t.n);
    else
        report_buf_printf(md, "; noise floor %s%%)", f);
}

/* One control in a candidate's paired answer: "measured better than `uniform_f0.5` (-0.58 ±
 * 0.24%, 3/3 seeds)", "within noise of ...", "worse than ..." (control better), "one seed
 * only against ...". The verdict is v_paired's. */
static void paired_clause(struct report_buf *md, const struct db_paired *q)
{
    const char *v = q->verdict;
    report_buf_puts(md, strcmp(v, "measured better") == 0 ? "measured better than " : strcmp(v, "within noise") == 0
                    ? "within noise of " : strcmp(v, "control better") == 0 ? "worse than " : "one seed only against ");
    report_md_code(md, q->control, REPORT_MD_PROSE);
    char gap[64];
    fmt_paired_gap(gap, sizeof gap, q);
    if (q->n >= 2) report_buf_printf(md, " (%s, %d/%d seeds)", gap, q->wins, q->n);
    else report_buf_printf(md, " (%s)", gap);
}

/* The control kinds in the order a candidate's answer names them, with their phrases. */
static const char *const kinds[3] = { "blind", "opposite", "standard model" };
static const char *const kind_phrase[3][2] = { { "its blind control", "its blind controls" },
                                               { "its opposite", "its opposites" },
                                               { "the same change on the standard model", "the same changes on the "
                                                 "standard model" } };

/* The group of a control kind (0 blind, 1 opposite, 2 the rest). */
static int kind_group(const char *kind)
{
    return strcmp(kind, kinds[0]) == 0 ? 0 : strcmp(kind, kinds[1]) == 0 ? 1 : 2;
}

/* One candidate's paired answer (rows [k0, k1) of rc->paired, all of it): "For `c`: against
 * its blind controls, measured better than `a` (...) and within noise of `b` (...); against
 * its opposite, ...". Returns whether it beat every blind control (1), not (0), or has
 * none of two seeds or more (-1); *opp likewise for its opposites. */
static int paired_answer(struct report_buf *md, const struct report_campaign *rc, int k0, int k1, int *opp)
{
    int all[2] = { 1, 1 }, any[2] = { 0, 0 }, first_group = 1;
    report_buf_puts(md, "For ");
    report_md_code(md, rc->paired[k0].candidate, REPORT_MD_PROSE);
    report_buf_puts(md, ":");
    for (int g = 0; g < 3; g++) {
        int n = 0, m = 0;
        for (int k = k0; k < k1; k++) n += kind_group(rc->paired[k].control_kind) == g;
        if (n == 0) continue;
        report_buf_printf(md, "%s against %s, ", first_group ? "" : ";", kind_phrase[g][n > 1]);
        first_group = 0;
        for (int k = k0; k < k1; k++) {
            const struct db_paired *q = &rc->paired[k];
            if (kind_group(q->control_kind) != g) continue;
            if (m++) report_buf_puts(md, m == n ? " and " : ", ");
            paired_clause(md, q);
            if (g < 2 && q->n >= 2) {
                any[g] = 1;
                all[g] &= strcmp(q->verdict, "measured better") == 0;
            }
        }
    }
    report_buf_puts(md, ". ");
    *opp = any[1] ? all[1] : -1;
    return any[0] ? all[0] : -1;
}

/* "`a`, `b`" or "none" */
static void name_list(struct report_buf *md, const struct report_campaign *rc, const int *ks, int n)
{
    if (n == 0) report_buf_puts(md, "none");
    for (int j = 0; j < n; j++) {
        if (j) report_buf_puts(md, ", ");
        report_md_code(md, rc->paired[ks[j]].candidate, REPORT_MD_PROSE);
    }
}

/* The opening sentence from v_paired (a campaign with paired seeds): each candidate against
 * its blind and its opposite controls, then how many beat all of them. */
static void paired_help(const struct report_campaign *rc, struct report_buf *md)
{
    report_buf_puts(md, "On paired seeds (gap: the candidate's perplexity relative to the control's, mean ± sd over the "
                    "seeds, negative when the measured choice is better; then the seeds it wins; a verdict needs the "
                    "mean gap beyond twice its standard error, see Paired verdicts). ");
    /* With nothing trained after the cut (search.inherit_steps 0) every seed is the same
     * model on the same batches: the gaps agree to rounding and the seeds count as one. */
    int multi = 0, same = 0;
    for (int k = 0; k < rc->n_paired; k++) {
        if (rc->paired[k].n < 2) continue;
        multi++;
        same += fabs(rc->paired[k].gap_sd_pct) < 1e-9;
    }
    if (multi && same == multi)
        report_buf_puts(md, "Every seed gave the same gap (± 0.00): nothing was trained after the cut, so the paired "
                        "seeds are one model evaluated once: the verdicts below hold for this probe only, and the seeds "
                        "it wins count one measurement. ");
    int *beat = malloc(2 * sizeof(int) * ((size_t)rc->n_paired + 1));
    if (!beat) { md->oom = 1; return; }
    int *beat_opp = beat + rc->n_paired + 1, nb = 0, nbo = 0, tb = 0, to = 0;
    for (int k0 = 0; k0 < rc->n_paired;) {
        int k1 = k0 + 1;   /* rows of one candidate are together (by its seq) */
        while (k1 < rc->n_paired && strcmp(rc->paired[k1].candidate, rc->paired[k0].candidate) == 0) k1++;
        int opp, blind = paired_answer(md, rc, k0, k1, &opp);
        if (blind >= 0) { tb++; if (blind) beat[nb++] = k0; }
        if (opp >= 0) { to++; if (opp) beat_opp[nbo++] = k0; }
        k0 = k1;
    }
    if (tb) {
        report_buf_printf(md, "Measured better than all its blind controls: %d of %d candidate%s (", nb, tb,
                          report_plural(tb));
        name_list(md, rc, beat, nb);
        report_buf_puts(md, ")");
        if (to) {
            report_buf_printf(md, "; than all its opposites: %d of %d (", nbo, to);
            name_list(md, rc, beat_opp, nbo);
            report_buf_puts(md, ")");
        }
        report_buf_puts(md, ".");
    } else if (to) {
        report_buf_printf(md, "Measured better than all its opposites: %d of %d candidate%s (", nbo, to, report_plural(to));
        name_list(md, rc, beat_opp, nbo);
        report_buf_puts(md, ").");
    }
    report_buf_puts(md, "\n\n");
    free(beat);
}

void report_did_measuring_help(const struct report_campaign *rc, struct report_buf *md)
{
    report_buf_puts(md, "**Did measuring help?** ");
    if (rc->paired_seeds) { paired_help(rc, md); return; }
    if (rc->schema_version < 3) {
        report_buf_printf(md, "Not recorded: this database (schema version %d) predates blind controls and replicates, "
                          "so the report cannot say.\n\n", rc->schema_version);
        return;
    }
    int shown = 0;
    for (int k = 0; k < rc->n_pairs; k++) {
        int first = 1;   /* each candidate once, at its first blind pair */
        for (int j = 0; j < k; j++) first &= !(rc->pairs[j].cand == rc->pairs[k].cand && rc->pairs[j].blind);
        if (rc->pairs[k].blind && first) candidate_answer(md, rc, rc->pairs[k].cand, shown++ == 0);
    }
    if (shown)
        report_buf_puts(md, ".\n\n");
    else
        report_buf_printf(md, "The report cannot say: this campaign has no blind controls (runs of the candidates' size "
                          "that ignore the measurement)%s.\n\n", rc->n_noise ? ""
                          : ", and no replicates of its reference, so no noise floor either");
}
