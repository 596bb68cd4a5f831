/* reports/evidence.c — what the proposal rules read and what a cut costs, from the tables of
 * schema version 5 (loaded by reports/load.c):
 *   layer_values  per measured run (the probe, and each round's incumbent that a budget-driven
 *                 search measured again), per measure and layer: the value the rules read
 *                 with its spread over validation windows and the number of windows; shown
 *                 inside the measured cascade section, one table per run
 *   sensitivity   per measured run, per layer: the validation loss a cut of its head dim, or
 *                 making it linear, adds without retraining; its own section with the plot
 *                 (reports/plots.c, report_plot_sensitivity) and a table of the
 *                 linearisation costs with the cuts beside them
 * Names (runs, measures) are the database's text and go through report_md_code. A file
 * older than version 5 has no rows, and neither part is written. */
#include "reports/report_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a measured run is named in a caption: "the probe `probe`", "round 2's incumbent
 * `r2_cut3`", or the run's name. */
static void measured_run(struct report_buf *md, const struct report_campaign *rc, int i)
{
    if (i < 0) { report_buf_puts(md, "a run not listed"); return; }
    int round = -1;
    for (int k = 0; k < rc->n_rounds; k++)
        if (rc->rounds[k].run == i && i != rc->probe) round = rc->rounds[k].round;
    if (i == rc->probe) report_buf_puts(md, "the probe ");
    else if (round >= 0) report_buf_printf(md, "the incumbent after round %d, ", round);
    report_md_code(md, rc->runs[i].run->name, REPORT_MD_PROSE);
}

/* A value in its measure's unit: losses (sensitivity, nats/token) with 4 decimals, ranks
 * with 2. */
static int value_decimals(const char *measure) { return strcmp(measure, "sensitivity") == 0 ? 4 : 2; }

/* The rows [a, b) of rc->values that belong to one run (rows are by run, then measure). */
static int run_rows_end(const struct report_campaign *rc, int a)
{
    int b = a + 1;
    while (b < rc->n_values && rc->values[b].run_id == rc->values[a].run_id) b++;
    return b;
}

/* One run's table: a column per measure, a row per layer. */
static void values_table(struct report_buf *md, const struct report_campaign *rc, int a, int b)
{
    int starts[16], nm = 0, n_layer = 0;   /* the first row of each measure (at most 16 shown) */
    for (int k = a; k < b; k++) {
        if ((k == a || strcmp(rc->values[k].measure, rc->values[k - 1].measure) != 0) && nm < 16) starts[nm++] = k;
        if (rc->values[k].layer + 1 > n_layer) n_layer = rc->values[k].layer + 1;
    }
    report_buf_puts(md, "| layer |");
    for (int m = 0; m < nm; m++) {
        const struct db_layer_value *v = &rc->values[starts[m]];
        report_buf_puts(md, " ");
        report_md_code(md, v->measure, REPORT_MD_TABLE);
        if (strcmp(v->measure, "sensitivity") == 0) report_buf_puts(md, " (nats/token)");
        else if (v->n > 1) report_buf_printf(md, " (%d windows)", v->n);
        else report_buf_puts(md, " (weight level)");
        report_buf_puts(md, " |");
    }
    report_buf_puts(md, "\n|---:|");
    for (int m = 0; m < nm; m++) report_buf_puts(md, "---:|");
    report_buf_puts(md, "\n");
    for (int l = 0; l < n_layer && l < REPORT_MAX_LAYERS; l++) {
        report_buf_printf(md, "| %d |", l);
        for (int m = 0; m < nm; m++) {
            const struct db_layer_value *v = NULL;
            for (int k = starts[m]; k < b && strcmp(rc->values[k].measure, rc->values[starts[m]].measure) == 0; k++)
                if (rc->values[k].layer == l) v = &rc->values[k];
            char val[48] = "–", spread[48] = "";
            int d = value_decimals(rc->values[starts[m]].measure);
            if (v && isfinite(v->value)) report_fmt_fixed(val, sizeof val, v->value, d);
            if (v && isfinite(v->value) && isfinite(v->spread)) snprintf(spread, sizeof spread, " ± %.*f", d, v->spread);
            report_buf_printf(md, " %s%s |", val, spread);
        }
        report_buf_puts(md, "\n");
    }
}

void report_cascade_values(struct report_buf *md, const struct report_campaign *rc)
{
    if (rc->n_values == 0) return;
    report_buf_puts(md, "\nWhat the proposal rules read (table layer_values): per layer, the value of the measure the "
                    "search ran on (search.measure; a rank in dims, or for `sensitivity` the loss that making the "
                    "layer linear adds, nats/token), as the mean over the layer's heads and, for a realised measure, "
                    "over validation windows, ± its standard deviation across those windows; – for a layer the "
                    "measure does not see (a linear layer).\n");
    for (int a = 0; a < rc->n_values;) {
        int b = run_rows_end(rc, a);
        report_buf_puts(md, "\nFor ");
        measured_run(md, rc, report_run_by_id(rc, rc->values[a].run_id));
        report_buf_puts(md, ":\n\n");
        values_table(md, rc, a, b);
        a = b;
    }
}

/* ---- sensitivity ------------------------------------------------------------------------------ */

/* One run's linearisation costs, a row per layer, with its cuts beside them. */
static void sensitivity_table(struct report_buf *md, const struct report_campaign *rc, int64_t run_id)
{
    report_buf_puts(md, "| layer | head dim | made linear: loss added (nats/token) | validation loss when linear | "
                    "cuts: head dim → loss added |\n|---:|---:|---:|---:|---|\n");
    int n_layer = 0;
    for (int i = 0; i < rc->n_sens; i++)
        if (rc->sens[i].run_id == run_id && rc->sens[i].pt.layer + 1 > n_layer) n_layer = rc->sens[i].pt.layer + 1;
    for (int l = 0; l < n_layer && l < REPORT_MAX_LAYERS; l++) {
        const struct db_sensitivity_point *lin = NULL;
        int cuts = 0;
        for (int i = 0; i < rc->n_sens; i++) {
            const struct db_sensitivity_row *s = &rc->sens[i];
            if (s->run_id != run_id || s->pt.layer != l) continue;
            if (strcmp(s->pt.change, "linear") == 0) lin = &s->pt;
            else cuts++;
        }
        if (!lin && cuts == 0) continue;   /* a layer not measured (not S–D) */
        char dim[32] = "–", added[32] = "–", loss[32] = "–";
        if (lin) {
            snprintf(dim, sizeof dim, "%d", lin->head_dim);
            if (isfinite(lin->delta_loss)) snprintf(added, sizeof added, "%+.4f", lin->delta_loss);
            report_fmt_fixed(loss, sizeof loss, lin->val_loss, 4);
        }
        report_buf_printf(md, "| %d | %s | %s | %s | ", l, dim, added, loss);
        int k = 0;
        for (int i = 0; i < rc->n_sens; i++) {
            const struct db_sensitivity_row *s = &rc->sens[i];
            if (s->run_id != run_id || s->pt.layer != l || strcmp(s->pt.change, "cut") != 0) continue;
            if (isfinite(s->pt.delta_loss)) report_buf_printf(md, "%s%d → %+.4f", k++ ? ", " : "", s->pt.head_dim, s->pt.delta_loss);
            else report_buf_printf(md, "%s%d → –", k++ ? ", " : "", s->pt.head_dim);
        }
        report_buf_puts(md, k ? " |\n" : "– |\n");
    }
}

void report_section_sensitivity(struct report_buf *md, const struct report_campaign *rc, int h, const char *svg_name,
                                const char *svg_why)
{
    if (rc->n_sens == 0) return;
    report_heading(md, h, "Sensitivity");
    report_buf_puts(md, "What one change to one layer costs without retraining (table sensitivity): the validation "
                    "loss, on the same batches for every point, of the measured model with that layer's head dim cut "
                    "to its leading rotation planes, or with the layer made linear, minus the unchanged model's "
                    "(nats/token; positive: worse). The linearisation cost is the value the rules read under "
                    "search.measure `sensitivity`.\n");
    for (int i = 0; i < rc->n_sens;) {
        int64_t run_id = rc->sens[i].run_id;
        report_buf_puts(md, "\nFor ");
        measured_run(md, rc, report_run_by_id(rc, run_id));
        report_buf_puts(md, ":\n\n");
        sensitivity_table(md, rc, run_id);
        while (i < rc->n_sens && rc->sens[i].run_id == run_id) i++;
    }
    if (svg_name)
        report_buf_printf(md, "\n![Sensitivity curves](%s)\n\n*Loss added (nats/token, y) against the head dim after the "
                          "cut (x): one line per layer through its cuts, and a diamond at 0 for the layer made linear; "
                          "one panel per measured run (the first 4).*\n", svg_name);
    else
        report_buf_printf(md, "\nNo sensitivity plot: %s.\n", svg_why);
}
