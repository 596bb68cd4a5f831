/* reports/report.h — the whole interface of module `reports`: a Markdown report of one or
 * more search campaigns, with SVG plots beside it, computed entirely from the results
 * database (read through db/db.h only).
 *
 * Files written, for out_md = DIR/NAME.md (DIR must exist; each file is written to a
 * temporary name and renamed, so a reader never sees half a file):
 *   DIR/NAME.md            the report
 *   DIR/NAME-cascade.svg   routing effective rank by layer: heads as points, layer means as
 *                          lines, probe and standard model, weight level and realised panels
 *   DIR/NAME-tradeoff.svg  attention parameters vs perplexity of every done run, the
 *                          Pareto front as a line
 *   DIR/NAME-sweep.svg     Δ perplexity % vs linearised leading layers, S–D vs standard
 *   DIR/NAME-controls.svg  attention parameters vs perplexity of each candidate joined to
 *                          its blind controls, with the noise floor of its reference as a bar
 *   DIR/NAME-paired.svg    with paired seeds: each seed's gap per candidate and control, the
 *                          mean gap and mean ± 2 standard errors
 *   DIR/NAME-sensitivity.svg  with sensitivity curves: loss added vs head dim after a cut,
 *                          a line per layer, the layer made linear at 0
 * With two or more campaigns the per-campaign plots are NAME-C-cascade.svg etc. (C the
 * campaign's name, characters other than letters, digits, '.', '_', '-' as '_') and
 * NAME-compare.svg overlays the campaigns' tradeoffs. A plot without data (no measured
 * probe, no done run, no sweep, no done blind control) is not written and the report says why.
 * Links are relative (the file names alone). Every point of a plot is one element of
 * class "pt".
 *
 * The report (single campaign; with several, a comparison section first — with a
 * Strategies section when the campaigns' recorded search settings differ only in strategy
 * and seed, else one line saying why not — and then one section per campaign holding the
 * same subsections one level down):
 *   # title, status line
 *   ## Setup          corpus, model, budget, seeds, retraining, rules, machine, version,
 *                     wall time: from the setup JSON (its resolved "train_config" and
 *                     "search"), else the config as given; missing facts say "not recorded"
 *   ## Status         only when a run is not done: queued / running / failed runs by name
 *   ## The measured cascade   per-layer table of the probe, profile table, Spearman
 *                     values, the values the proposal rules read (layer_values: per
 *                     measured run, measure and layer, value ± spread over windows, the
 *                     windows), the cascade plot
 *   ## Sensitivity    with sensitivity curves: per measured run and layer the cost of
 *                     making it linear and of each cut (nats/token), the plot
 *   ## Candidates     table of done runs sorted by attention parameters (with paired seeds:
 *                     each candidate and control by its first seed), failed runs
 *   ## Tradeoff       the tradeoff plot
 *   ## Linearisation sweep    table and plot
 *   ## Noise floor    each reference run with replicates (v_noise): n, perplexity mean ±
 *                     sd and range, the noise floor 2 sd / mean
 *   ## Measured vs blind at equal size   each candidate beside each control (v_controls):
 *                     kind (blind, opposite, standard model), sizes and size difference,
 *                     perplexities, gap, noise floor, verdict; the controls plot
 *     ### Paired verdicts   with paired seeds (v_paired): seeds, gap mean ± sd, se, wins,
 *                     verdict; the paired plot
 *   ## Findings       opens with one sentence, "Did measuring help?": with paired seeds
 *                     v_paired's verdict of each candidate against its blind controls and
 *                     its opposites; else each candidate with blind controls, its
 *                     perplexity against theirs, the noise floor and the answer (or why
 *                     the campaign cannot tell); then numbers computed from the rows above,
 *                     each naming its runs
 *   ## Reproduce      the command that made the report
 * Number formats (tables and findings): integers with ',' thousands separators
 * (1,234,567); perplexity %.3f; Δ perplexity % %+.2f; savings % %.1f; bits per byte %.4f;
 * tokens/s %.0f with separators; effective ranks %.2f, a layer as "mean [min, max]";
 * routing fraction %.3f; Spearman %.3f ("undefined" for NULL); a missing value "–".
 * Text from the database (names, arch strings, reasons, errors, setup values, paths) is
 * escaped so it cannot change the Markdown's structure: as text, control characters and
 * line breaks become spaces, & < > become entities, and \ ` * _ [ ] ~ $ | take a
 * backslash; as a code span (names, arch strings) it is delimited by more backticks than
 * it holds, '|' as "\|" inside a table, and a value holding '<' or '>' is shown as text
 * instead; in a suggested command each value is one shell word, in $'...' form when it
 * holds a control character, '<' or '>' (reports/report_internal.h). The SVG plots escape
 * it for XML. The Pareto column holds "✓" for runs on the front (the
 * database's v_pareto view); a Δ within the noise floor of its reference (v_results.
 * beyond_noise = 0) is followed by " (noise)"; noise floors "±%.2f", gaps and size
 * differences %+.2f. Each Δ is against results.reference_run (in a database older than
 * version 3: the probe, or probe_cont for inherited runs). A database older than version
 * 3 is read as it is; the sections it has no rows for say so.
 *
 * Errors: one line in err (CASCADE_ERR_MAX bytes) naming the file or campaign, and
 * REPORT_ERR_DB when the database could not be read (a campaign not in it, a corrupt
 * or locked file: bad input), -1 when the report could not be made or written.
 */
#ifndef CASCADE_REPORT_H
#define CASCADE_REPORT_H

#include "db/db.h"

#include <stddef.h>

#define REPORT_MAX_CAMPAIGNS 8
#define REPORT_ERR_DB (-2)   /* report_write: reading the database failed */

/* Writes the report of campaigns[0 .. n_campaigns) (n_campaigns = 0: the most recent
 * campaign) to out_md and its plots beside it. A campaign with no runs, or unfinished,
 * gives a report that says so. Every campaign is read before anything is written: an
 * unknown name ("no campaign named 'x'") or a database that fails to read returns
 * REPORT_ERR_DB with nothing written. */
int report_write(struct db *db, const char *const *campaigns, int n_campaigns, const char *out_md, char *err);

/* A duration as reports write it: "1h02m", "3m05s", "12s" (rounded to the second), "–"
 * when not finite or negative. The one duration format of cascade: the command line's
 * progress and summary lines use it too (search/cli.c, cli_format_duration). */
void report_fmt_duration(char *out, size_t n, double seconds);

#endif
