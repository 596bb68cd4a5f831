/* reports/rounds.c — the path of a budget-driven search (search.budget_ppl_pct): one row
 * per round's incumbent (v_rounds, as loaded by reports/load.c) with its architecture,
 * objective value and Δ perplexity against its round's equal-budget reference, and one
 * sentence stating the answer and what it saves against the probe. A one-round campaign
 * (no rounds rows) gets no section. */
#include "reports/report_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void report_section_rounds(struct report_buf *md, const struct report_campaign *rc, int h)
{
    if (rc->n_rounds == 0) return;
    report_heading(md, h, "Search rounds");
    const struct report_round *last = &rc->rounds[rc->n_rounds - 1];
    /* the objective is the database's text (v_rounds.objective) */
    report_buf_puts(md, "A budget-driven search: after each round, the incumbent is the run with the best ");
    report_md_code(md, last->objective, REPORT_MD_PROSE);
    report_buf_puts(md, " among those within the budget; the next round re-measures it and proposes one layer's change "
                    "at a time, each with a blind control. Δ is against each round's equal-budget reference.\n\n"
                    "| after round | incumbent | architecture | ");
    report_md_cell(md, last->objective);
    report_buf_puts(md, " | attention params | perplexity | Δ % |\n|---:|---|---|---:|---:|---:|---:|\n");
    for (int k = 0; k < rc->n_rounds; k++) {
        const struct report_round *g = &rc->rounds[k];
        const struct report_run *r = g->run >= 0 ? &rc->runs[g->run] : NULL;
        char value[32], params[32], ppl[32], delta[32];
        report_fmt_fixed(value, sizeof value, g->value, strcmp(g->objective, "attention_params") == 0 ? 0 : 1);
        report_fmt_int(params, sizeof params, r && r->has_result ? (long long)r->res.params_attention : -1);
        report_fmt_fixed(ppl, sizeof ppl, r && r->has_result ? r->res.perplexity : NAN, 3);
        report_fmt_fixed(delta, sizeof delta, g->delta_ppl_pct, 2);
        report_buf_printf(md, "| %d%s | ", g->round, g->final ? " (final)" : "");
        report_md_code(md, r ? r->run->name : "?", REPORT_MD_TABLE);
        report_buf_puts(md, " | ");
        report_md_cell(md, r ? r->run->arch : "?");
        report_buf_printf(md, " | %s | %s | %s | %s |\n", value, params, ppl, delta);
    }
    const struct report_run *ans = last->run >= 0 ? &rc->runs[last->run] : NULL;
    if (!last->final || !ans || !ans->has_result) {
        report_buf_puts(md, "\nThe search has not finished: the last row is the incumbent so far.\n");
        return;
    }
    char saved[32];
    report_fmt_fixed(saved, sizeof saved, ans->res.attention_saved_pct, 1);
    report_buf_puts(md, "\nThe answer: ");
    report_md_code(md, ans->run->name, REPORT_MD_PROSE);
    report_buf_puts(md, " (");
    report_md_cell(md, ans->run->arch);
    report_buf_printf(md, "), %s%% of the probe's attention parameters saved at %+.2f%% perplexity against its reference, "
                      "after %d round%s (the search stops after max_rounds, or sooner when a round finds nothing cheaper "
                      "within the budget). ", saved, last->delta_ppl_pct, last->round, report_plural(last->round));
    /* the command as it runs: each name one shell word, --campaign for a database of several */
    struct report_buf cmd = { 0 };
    report_buf_puts(&cmd, "cascade export --run ");
    report_sh_word(&cmd, ans->run->name);
    report_buf_puts(&cmd, " --campaign ");
    report_sh_word(&cmd, rc->c.name);
    report_md_code(md, cmd.s, REPORT_MD_PROSE);
    if (cmd.oom) md->oom = 1;
    report_buf_free(&cmd);
    report_buf_puts(md, " writes it as a training config.\n");
}
