/* reports/report_internal.h — what the files of module `reports` share: a growing text
 * buffer, a campaign as loaded from the database with the facts derived from it, and the
 * functions of each file. Not part of the interface (that is reports/report.h). */
#ifndef CASCADE_REPORT_INTERNAL_H
#define CASCADE_REPORT_INTERNAL_H

#include "reports/report.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* ---- reports/buf.c: text buffers and formatting --------------------------------------- */

struct report_buf {
    char *s;            /* NUL-terminated; NULL until the first write */
    size_t len, cap;
    int oom;            /* a write failed for lack of memory (later writes are dropped) */
};
void report_buf_printf(struct report_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void report_buf_puts(struct report_buf *b, const char *s);
void report_buf_free(struct report_buf *b);
/* Writes the buffer to path (via path.tmp and rename). -1 and err on failure. */
int report_buf_save(const struct report_buf *b, const char *path, char *err);
/* Number formats of report.h: 1,234,567 (negative with '-'); "%.*f" with separators in
 * the integer part; a UTC date "2025-01-31 14:05 UTC" (durations: report_fmt_duration,
 * in report.h). */
void report_fmt_int(char *out, size_t n, long long v);
void report_fmt_fixed(char *out, size_t n, double v, int decimals);
void report_fmt_utc(char *out, size_t n, double unix_s);
/* Every string the report did not write itself (read from the database: names, arch,
 * reasons, errors, campaign names, setup values, paths) reaches the Markdown through one
 * of these three, so that no value can start a line, end a table cell, open or close a
 * code span, or pass raw HTML; no '<' or '>' of a value is ever written as it is.
 *
 * report_md_cell: a value as Markdown text, in prose or a table cell: control characters
 * (line breaks included) as spaces; '&' '<' '>' as "&amp;" "&lt;" "&gt;"; the characters
 * that format inline text or end a cell (\ ` * _ [ ] ~ $ |) after a backslash. */
void report_md_cell(struct report_buf *b, const char *s);
/* Where a code span goes: a GFM table splits its rows at '|' before it reads code spans,
 * so there a '|' inside one is written "\|"; in prose that backslash would show. */
enum report_md_where { REPORT_MD_PROSE = 0, REPORT_MD_TABLE = 1 };
/* report_md_code: a value as a code span (CommonMark 6.1): delimited by a run of
 * backticks longer than any run inside it, with a space inside each delimiter when the
 * value starts or ends with a backtick (or both starts and ends with a space, which a
 * renderer would strip); control characters as spaces. A value holding '<' or '>' is
 * written by report_md_cell instead: a code span cannot escape them. */
void report_md_code(struct report_buf *b, const char *s, enum report_md_where where);
/* report_sh_word: a value as one word of a shell command line that the report suggests:
 * as it is when made only of letters, digits and _ - . / , : = + @ %; else in single
 * quotes ('\'' for a quote); and when it holds a control character, '<' or '>', in the
 * $'...' form of bash and zsh with those as \xHH, so the command stays on one line and
 * holds no raw '<' or '>'. The caller puts the command in a code span or block. */
void report_sh_word(struct report_buf *b, const char *s);
/* "s" unless n is 1: "1 thread", "2 threads", "0 threads". */
const char *report_plural(double n);

/* ---- reports/load.c: a campaign from the database ------------------------------------- */

#define REPORT_MAX_LAYERS 64

/* A run's architecture, read from its arch_json (the model config it trained, as the
 * trainer writes it: "attention" and "head_dim" per layer, or "qk_dim" and "v_dim" where
 * a layer's two widths differ; "layernorm", "embed_scale").
 * The arch string ("L L S S | d 32,32,16,8 | LN") is only shown, never parsed. */
struct report_arch {
    int ok;                        /* read: the per-layer lists are there and agree */
    int n_layer;
    char kind[REPORT_MAX_LAYERS];  /* 'L' linear, 'S' S–D, 'A' softmax */
    int dim[REPORT_MAX_LAYERS];    /* query/key width (qk_dim) of each layer */
    int v_dim[REPORT_MAX_LAYERS];  /* value width (v_dim) of each layer */
    int layernorm;
    double embed_scale;            /* the embedding multiplier [ours]; 1 when not recorded (runs
                                    * recorded before it existed had 1) */
};

/* One level ("weight", "realised") of a run's analysis. */
struct report_level {
    int found;
    struct db_layer_measure *layers;
    int n_layers;
    double spearman;               /* NAN: undefined */
    struct db_head_measure *heads;
    int n_heads;
};

struct report_run {
    const struct db_run *run;      /* into report_campaign.db_runs */
    int has_result;
    struct db_result res;
    int pareto;                    /* on the database's Pareto front */
    struct report_arch arch;
    int sweep_k;                   /* linearised leading layers of a pure prefix run, else -1 */
    int sweep_series;              /* 0 S–D (vs probe), 1 standard (vs the standard baseline), -1 none */
    double sweep_delta;            /* Δ perplexity % vs its series' reference, NAN if not done */
    int ref;                       /* the run its res.delta_ppl_pct is against: res.reference_run, or in a
                                    * database without it the campaign's rule (inherited runs against
                                    * probe_cont, the rest against the probe); -1 if none */
    int beyond_noise;              /* v_results.beyond_noise: 1 |Δ| beyond the noise floor of its recorded
                                    * reference, 0 within it (noise, SPEC 5), -1 unknown (no replicates,
                                    * no recorded reference, or a database older than version 3) */
};

/* A reference run with replicates (a row of v_noise). */
struct report_noise {
    int ref;                       /* the reference run */
    int n;                         /* it and its replicates that are done */
    double mean, sd, min, max;     /* of their perplexities; sd NAN when n < 2 */
    double pct;                    /* the noise floor, 100 * 2 sd / mean, %; NAN when n < 2 */
};

/* A candidate and one of its controls (a row of v_controls). */
struct report_pair {
    int cand, ctl;                 /* run indices */
    int blind;                     /* 1: a blind control of equal size on the candidate's model; 0: an
                                    * opposite control or the candidate's change made to the standard
                                    * model (std_lin) */
    double cand_params, ctl_params; /* attention parameters; NAN unless done */
    double size_diff_pct;          /* 100 (control's attention parameters / the candidate's - 1); NAN */
    double cand_ppl, ctl_ppl;      /* perplexities; NAN unless done */
    double gap_pct;                /* 100 (candidate's perplexity / the control's - 1); NAN unless both done */
    double noise_pct;              /* the noise floor of the candidate's reference; NAN */
    char verdict[24];              /* "measured better", "blind better", "within noise", "no noise floor",
                                    * "" unless both are done */
    char kind[16];                 /* v_controls.control_kind: "blind", "opposite", "standard model" */
};

/* A row of v_rounds: the incumbent after one round of a budget-driven search. */
struct report_round {
    int round;                     /* 0: after the first round */
    int run;                       /* index of the incumbent in runs[], -1 if not listed */
    char objective[32];            /* "attention_params", "flops_per_token", "tokens_per_s" */
    double value, delta_ppl_pct;   /* its objective value, its Δ % against its reference */
    int final;                     /* 1: the search's answer */
};

struct report_campaign {
    struct db_campaign c;
    struct db_run *db_runs;
    int n_runs;
    struct report_run *runs;       /* (n_runs), seq order */
    int probe, standard;           /* indices of the probe and the standard baseline, -1 if none */
    int sweep_ref[2];              /* k = 0 reference of the S–D and standard sweep series (the
                                    * continued probe / standard model in inherit mode), -1 if none */
    struct report_level probe_lv[2], standard_lv[2];   /* [0] weight, [1] realised */
    cJSON *config;                 /* the config JSON, NULL if it does not parse */
    cJSON *setup;                  /* the setup JSON object, NULL if not recorded */
    int n_done, n_failed, n_queued, n_running;
    double runs_wall_s;            /* sum of done runs' wall_s */
    int schema_version;            /* the database's: before 3 no controls, replicates or references */
    struct report_noise *noise;    /* (n_noise) in seq order of the references */
    int n_noise;
    struct report_pair *pairs;     /* (n_pairs) by candidate, then control, in seq order */
    int n_pairs;
    struct report_round *rounds;   /* (n_rounds) a budget-driven search's path, by round (v_rounds;
                                    * none before version 4 or in a one-round campaign) */
    int n_rounds;
    /* the evidence tables (schema version 5; none in an older file) */
    struct db_paired *paired;      /* (n_paired) v_paired: each candidate against each control over its
                                    * paired seeds, by candidate then control in seq order */
    int n_paired;
    int paired_seeds;              /* some v_paired row has n >= 2: verdicts come from v_paired */
    struct db_layer_value *values; /* (n_values) table layer_values: what the rules read, by run seq,
                                    * measure, layer */
    int n_values;
    struct db_sensitivity_row *sens; /* (n_sens) table sensitivity, by run seq, layer */
    int n_sens;
};

/* Loads campaign `name` (NULL: the most recent). -1 and err ("no campaign named 'x'"). */
int report_campaign_load(struct db *db, const char *name, struct report_campaign *rc, char *err);
void report_campaign_free(struct report_campaign *rc);
/* Reads an architecture from a run's arch_json; a->ok = 0 when it does not hold one. */
void report_arch_from_json(const char *json, struct report_arch *a);
/* The index of the run named `name`, or -1. */
int report_run_index(const struct report_campaign *rc, const char *name);
/* k when `a` is `ref` with its first k >= 0 layers made linear (same head dims and
 * LayerNorm), else -1. */
int report_prefix_k(const struct report_arch *a, const struct report_arch *ref);
/* The run's indices sorted by attention parameters, then perplexity, then seq; only done
 * runs with a result. Returns the count; order has n_runs entries. */
int report_sorted_done(const struct report_campaign *rc, int *order);
/* Whether run i is another seed of a candidate or control (search.candidate_replicates:
 * NAME_s2, ... with replicate_of NAME) in a campaign whose verdicts are paired: the per-run
 * tables list the base runs and leave the seeds to the paired verdicts. */
int report_is_paired_seed(const struct report_campaign *rc, int i);
/* The base run of run i: the run it replicates (replicate_of), else i itself. */
int report_base_run(const struct report_campaign *rc, int i);
/* The seeds of paired row k (rc->paired[k]): the indices into rc->pairs of the v_controls rows
 * it averages (candidate and control of one seed, both done), in seq order; returns how many
 * (at most n_pairs, the size of out). */
int report_paired_seeds(const struct report_campaign *rc, int k, int *out);
/* The index of the run whose database id is id, or -1. */
int report_run_by_id(const struct report_campaign *rc, int64_t id);

/* ---- reports/section.c: the helpers every section writer calls (below report.c, which
 * assembles the sections, and below the section files, so none of them calls report.c) --- */

#define REPORT_PATH_MAX 4096

/* Where the files go: DIR/NAME.md, DIR/NAME-....svg. */
struct report_out {
    const char *md_path;
    char dir[REPORT_PATH_MAX];     /* "DIR/" ("" for the current directory) */
    char name[REPORT_PATH_MAX];    /* NAME: the file name without ".md" */
};
/* One plot file: its path and name (the link), its text, whether it was made, why not. */
struct report_plot {
    char path[REPORT_PATH_MAX + 300];
    const char *name;              /* into path */
    char link[3 * REPORT_PATH_MAX]; /* name as the report links it: percent-encoded, since NAME is the
                                    * user's and a space or ')' would end the link */
    struct report_buf svg;
    int made;
    char why[256];
};
/* NAME[-CAMPAIGN]-KIND.svg in the output's directory (campaign NULL: none). */
void report_plot_path(struct report_plot *pf, const struct report_out *o, const char *campaign, const char *kind);
/* Writes the plot if it was made; 0 when there is nothing to write. */
int report_plot_save(struct report_plot *pf, char *err);
/* "\n## text\n\n" with `level` '#'s. */
void report_heading(struct report_buf *md, int level, const char *text);
/* "%.3f", or "undefined" for NAN. */
void report_fmt_spearman(char *out, size_t n, double rho);

/* ---- reports/setup.c ------------------------------------------------------------------------ */

void report_section_setup(struct report_buf *md, const struct report_campaign *rc, int h);
/* The string at key of a JSON object, or NULL. */
const char *report_json_str(const cJSON *obj, const char *key);
/* How candidates were retrained, "scratch" or "inherit": the resolved search section of
 * the setup, else the config's, else what the candidates and controls recorded; NULL when
 * none says. */
const char *report_retrain_mode(const struct report_campaign *rc);

/* ---- reports/compare.c ------------------------------------------------------------------------ */

/* The comparison section of several campaigns and its plot; -1 and err if the plot cannot
 * be written. */
int report_section_compare(struct report_buf *md, const struct report_campaign *const *rcs, int n,
                           const struct report_out *o, char *err);

/* ---- reports/plots.c: the SVG plots ---------------------------------------------------- */

/* Each returns 0 and the SVG text in out, or 1 (nothing written) with the reason in
 * why (256 bytes) when the campaign has no data for it. */
int report_plot_cascade(const struct report_campaign *rc, struct report_buf *out, char *why);
int report_plot_tradeoff(const struct report_campaign *const *rcs, int n, struct report_buf *out, char *why);
int report_plot_sweep(const struct report_campaign *rc, struct report_buf *out, char *why);
int report_plot_controls(const struct report_campaign *rc, struct report_buf *out, char *why);
int report_plot_paired(const struct report_campaign *rc, struct report_buf *out, char *why);
int report_plot_sensitivity(const struct report_campaign *rc, struct report_buf *out, char *why);

/* ---- reports/controls.c: the noise floor and the controls ----------------------------------- */

/* The Noise floor section: each reference's replicates, mean ± sd, range, the floor. */
void report_section_noise(struct report_buf *md, const struct report_campaign *rc, int h);
/* The path of a budget-driven search (reports/rounds.c): each round's incumbent, and the
 * answer with what it saves; nothing for a one-round campaign. */
void report_section_rounds(struct report_buf *md, const struct report_campaign *rc, int h);
/* The Measured vs blind at equal size section: the pairs' table and the plot (svg_name,
 * or NULL and why). */
void report_section_controls(struct report_buf *md, const struct report_campaign *rc, int h, const char *svg_name,
                             const char *svg_why);
/* The Paired verdicts (v_paired), a subsection of the controls: the table and the plot of each
 * seed's gap (svg_name, or NULL and why); nothing unless some pair has two seeds or more
 * (rc->paired_seeds: with one seed each the table above says it all). */
void report_section_paired(struct report_buf *md, const struct report_campaign *rc, int h, const char *svg_name,
                           const char *svg_why);
/* The findings' opening sentence, a paragraph: did measuring help? From v_paired when the
 * campaign has paired seeds (each candidate against its blind and opposite controls), else
 * from v_controls (each candidate against its blind controls and the noise floor). */
void report_did_measuring_help(const struct report_campaign *rc, struct report_buf *md);
/* Run i's Δ ppl % as the candidates table shows it: "+1.23", "+0.31 (noise)" when it is
 * within the noise floor of its reference (v_results.beyond_noise = 0), "–" when none. */
void report_fmt_delta(char *out, size_t n, const struct report_campaign *rc, int i);

/* ---- reports/evidence.c: what the rules read, what a cut costs --------------------------------- */

/* The values the proposal rules read (table layer_values), a table per measured run, for the
 * end of the measured cascade section; nothing when none is recorded. */
void report_cascade_values(struct report_buf *md, const struct report_campaign *rc);
/* The Sensitivity section (table sensitivity): the linearisation costs and cuts per layer and
 * the plot (svg_name, or NULL and why); nothing when no curve is recorded. */
void report_section_sensitivity(struct report_buf *md, const struct report_campaign *rc, int h, const char *svg_name,
                                const char *svg_why);

/* ---- reports/findings.c ------------------------------------------------------------------ */

/* The findings as a Markdown bullet list (or one line saying there is nothing yet). */
void report_findings(const struct report_campaign *rc, struct report_buf *md);

#endif
