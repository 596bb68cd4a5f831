/* search/cmd_analyze.c — `cascade analyze CKPT [--data FILE --tokens N] [--json] [--heads]
 * [--n-head N]`: the spectral analysis of every attention head of a checkpoint (cascade,
 * Hugging Face GPT-2/BERT safetensors, llm.c GPT-2 .bin; analysis/analysis.h).
 *
 * Prints a per-layer table (mean [min..max] over heads), a text bar chart of routing
 * effective rank by layer (the cascade), the cascade's Spearman value and a summary over
 * all heads; --heads adds one row per head, --json prints analysis_model_to_json() instead.
 * Errors: one line `cascade analyze: ...` on stderr; exit status 2 for bad usage or a
 * checkpoint that cannot be read or split into heads, 1 when writing the output fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "search/cli.h"

#define BAR_WIDTH 40

static const char *usage =
    "usage: cascade analyze CKPT [--data FILE [--tokens N]] [--minus-init] [--json] [--heads] [--n-head N]\n"
    "  CKPT      cascade checkpoint, Hugging Face GPT-2/BERT .safetensors, or llm.c GPT-2 .bin\n"
    "  --data    also measure the realised logits on the first validation window of FILE\n"
    "            (cascade checkpoints only)\n"
    "  --tokens  window length N (default: the model's context length)\n"
    "  --minus-init  S-D layers measured as S - S_0, S_0 regenerated from the run's seed:\n"
    "            what training changed, without the random init (cascade checkpoints)\n"
    "  --json    print JSON (every head, weight level and realised) instead of tables\n"
    "  --heads   also print one row per head\n"
    "  --n-head  number of heads (default: the checkpoint, or config.json beside it)\n";

static void print_bar(double v, double vmax, char ch)
{
    int n = vmax > 0 && isfinite(v) ? (int)lround(BAR_WIDTH * v / vmax) : 0;
    for (int i = 0; i < n; i++) putchar(ch);
}

static void print_measures_row(const struct analysis_measures *mean,
                               const struct analysis_measures *mn,
                               const struct analysis_measures *mx)
{
    printf(" %5.3f  %6.2f [%6.2f..%6.2f] %6.2f %5.1f %5.1f | %7.2f %7.2f %5.1f",
           mean->routing_fraction, mean->routing_erank, mn->routing_erank, mx->routing_erank,
           mean->routing_pr, mean->routing_k90, mean->routing_planes,
           mean->filtering_erank, mean->filtering_pr, mean->filtering_k90);
}

static void print_layer_table(const struct analysis_model *m, int realised)
{
    printf("layer kind      d  cap |   rho  routing erank [min..max]      PR   k90 plane |"
           "  f.erank    f.PR f.k90\n");
    for (int l = 0; l < m->n_layer; l++) {
        const struct analysis_layer *ly = &m->layers[l];
        if (realised && !ly->has_realised) {
            printf("%5d %-7s %3d %4d |   (no realised logits: %s attention)\n", l, ly->kind,
                   ly->head_dim, ly->capacity, ly->kind);
            continue;
        }
        printf("%5d %-7s %3d %4d |", l, ly->kind, ly->head_dim, ly->capacity);
        if (realised) print_measures_row(&ly->realised_mean, &ly->realised_min, &ly->realised_max);
        else print_measures_row(&ly->mean, &ly->min, &ly->max);
        putchar('\n');
    }
}

static void print_head_row(const struct analysis_split *s)
{
    printf(" %5.3f %7.2f %7.2f %5d %5d | %7.2f %7.2f %5d", s->routing_fraction, s->routing.erank,
           s->routing.pr, s->routing.k90, s->routing_planes, s->filtering.erank, s->filtering.pr,
           s->filtering.k90);
}

static void print_heads(const struct analysis_model *m)
{
    int realised = m->realised_tokens > 0;
    printf("\nper head (weight level%s)\n", realised ? "; second group: realised" : "");
    printf("layer head kind      d |   rho r.erank    r.PR r.k90 plane | f.erank    f.PR f.k90%s\n",
           realised ? " ||   rho r.erank    r.PR r.k90 plane | f.erank    f.PR f.k90" : "");
    for (int i = 0; i < m->n_layer * m->n_head; i++) {
        const struct analysis_head *hd = &m->heads[i];
        printf("%5d %4d %-7s %3d |", hd->layer, hd->head, hd->kind, hd->head_dim);
        print_head_row(&hd->weight);
        if (hd->has_realised) { printf(" ||"); print_head_row(&hd->realised); }
        putchar('\n');
    }
}

static void print_chart(const struct analysis_model *m)
{
    int realised = m->realised_tokens > 0;
    double vmax = 0;
    for (int l = 0; l < m->n_layer; l++) {
        const struct analysis_layer *ly = &m->layers[l];
        if (ly->mean.routing_erank > vmax) vmax = ly->mean.routing_erank;
        if (ly->has_realised && ly->realised_mean.routing_erank > vmax) vmax = ly->realised_mean.routing_erank;
    }
    printf("\nrouting effective rank by layer (mean over heads; '#' weight level%s)\n",
           realised ? ", '=' realised" : "");
    for (int l = 0; l < m->n_layer; l++) {
        const struct analysis_layer *ly = &m->layers[l];
        printf("%5d %-7s %7.2f |", l, ly->kind, ly->mean.routing_erank);
        print_bar(ly->mean.routing_erank, vmax, '#');
        putchar('\n');
        if (ly->has_realised) {
            printf("%5s %-7s %7.2f |", "", "", ly->realised_mean.routing_erank);
            print_bar(ly->realised_mean.routing_erank, vmax, '=');
            putchar('\n');
        }
    }
}

static void print_dist(const char *name, const struct analysis_dist *d)
{
    printf("  %-28s mean %7.3f  min %7.3f  p10 %7.3f  median %7.3f  p90 %7.3f  max %7.3f\n",
           name, d->mean, d->min, d->p10, d->p50, d->p90, d->max);
}

/* NAN (one layer, or a flat profile) prints as "undefined". */
static void print_spearman(double r)
{
    if (isnan(r)) printf("undefined");
    else printf("%+.3f", r);
}

static void print_report(const struct analysis_model *m, const char *data, int heads)
{
    printf("%s: %s, %d layers x %d heads, C = %d\n", m->path, analysis_format_name(m->format),
           m->n_layer, m->n_head, m->n_embd);
    printf("\nweight level (W_Q W_K^T; S-D: U S U^T and U D U^T), mean [min..max] over heads\n");
    print_layer_table(m, 0);
    if (m->realised_tokens > 0) {
        printf("\nrealised on %d tokens of %s (first validation window)\n", m->realised_tokens, data);
        print_layer_table(m, 1);
    }
    if (heads) print_heads(m);
    print_chart(m);
    printf("\ncascade (Spearman of layer routing erank with depth): weight ");
    print_spearman(m->cascade);
    if (m->realised_tokens > 0) { printf(", realised "); print_spearman(m->cascade_realised); }
    printf("\n\nall %d heads (weight level):\n", m->n_layer * m->n_head);
    print_dist("routing fraction rho", &m->routing_fraction);
    print_dist("routing erank", &m->routing_erank);
    print_dist("routing erank / capacity", &m->routing_erank_frac);
}

int cmd_analyze(int argc, char **argv)
{
    const char *ckpt = NULL, *v;
    struct analysis_options opt = { 0, NULL, 0, 0 };
    int json = 0, heads = 0, r;
    long n;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) json = 1;
        else if (strcmp(a, "--heads") == 0) heads = 1;
        else if (strcmp(a, "--minus-init") == 0) opt.minus_init = 1;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { fputs(usage, stdout); return 0; }
        else if ((r = cli_opt(argc, argv, &i, "analyze", "--data", &opt.data_path)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "analyze", "--tokens", &v)) != 0) {
            if (r < 0 || cli_long("analyze", a, v, 1, 1 << 20, &n) != 0) return 2;
            opt.tokens = (int)n;
        } else if ((r = cli_opt(argc, argv, &i, "analyze", "--n-head", &v)) != 0) {
            if (r < 0 || cli_long("analyze", a, v, 1, 1 << 20, &n) != 0) return 2;
            opt.n_head = (int)n;
        } else if (a[0] == '-') return cli_unknown("analyze", a);
        else if (!ckpt) ckpt = a;
        else { fprintf(stderr, "cascade analyze: '%s': only one checkpoint is analysed at a time\n", a); return 2; }
    }
    if (!ckpt) { fprintf(stderr, "cascade analyze: no checkpoint given\n%s", usage); return 2; }
    if (opt.tokens && !opt.data_path) { fprintf(stderr, "cascade analyze: --tokens needs --data\n"); return 2; }

    struct analysis_model m;
    char err[CASCADE_ERR_MAX];
    if (analysis_model_file(&m, ckpt, &opt, err) != 0) {
        fprintf(stderr, "cascade analyze: %s\n", err);
        return 2;
    }
    int rc = 0;
    if (json) {
        char *s = analysis_model_to_json(&m);
        if (s) { puts(s); free(s); }
        else { fprintf(stderr, "cascade analyze: out of memory writing JSON\n"); rc = 1; }
    } else {
        print_report(&m, opt.data_path, heads);
    }
    analysis_model_free(&m);
    return rc;
}
