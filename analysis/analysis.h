/* analysis/analysis.h — the whole interface of the analysis module: the measuring
 * instrument. It splits the attention interaction of every head into routing (skew part)
 * and filtering (symmetric part) and measures their spectra (SPEC.md §1, §3), per head,
 * per layer and across depth (the cascade), at weight level and, given data, on the
 * realised pre-softmax logits.
 *
 * Per head (SPEC §1): M = W_Q W_K^T (C, C), R = (M - M^T)/2, F = (M + M^T)/2,
 *   routing fraction rho = |R|^2 / |M|^2 (Frobenius). Weight level never forms C x C:
 *   G = [W_Q W_K] (C, 2d) = Q R_G (thin QR), and R, F have the singular values of the
 *   (2d, 2d) cores R_G J R_G^T / 2 and R_G J' R_G^T / 2 (J = [[0,I],[-I,0]], J' = [[0,I],[I,0]]).
 *   S–D heads (SPEC §2, §3): routing U S U^T, filtering U D U^T, via U = Q R_U (d, d cores).
 *   Realised: the (N, N) logit matrix Lambda of a window is split the same way.
 * Measures of a spectrum sigma_1 >= sigma_2 >= ... (SPEC §3):
 *   erank = exp(-sum p_k ln p_k), p_k = sigma_k / sum sigma; PR = (sum s^2)^2 / sum s^4;
 *   k90 = fewest sigma holding 90% of sum s^2; routing planes = ceil(k90 / 2).
 * Choices [ours], documented here:
 *   - singular values <= ANALYSIS_SV_RTOL * |M|_F are zeros of round-off and are dropped
 *     (realised: <= ANALYSIS_SV_RTOL_REALISED * |Lambda|_F, since the trainer's logits are
 *     float32, rounded at ~6e-8 relative per entry, which gives a truly symmetric window a
 *     skew part of noise near 1e-8 |Lambda|_F); a part with none left has erank = PR = k90 = 0, and rho
 *     is computed from the kept values, so an exactly symmetric kernel gives rho = 0 and
 *     an exactly skew one rho = 1. A zero kernel gives rho = 0.
 *   - k90 counts sum_{i<k} s_i^2 >= 0.9 sum s^2 (1 - 1e-12): ties at exactly 90% count.
 *   - weight-level singular values are those of W_Q W_K^T (no 1/sqrt(d)); realised ones
 *     are those of the logits as the trainer returns them (with 1/sqrt(d)). The measures
 *     are scale-free, so only the raw singular values differ.
 *   - biases are not part of the bilinear kernel and are ignored.
 *   - the cascade value of a model is the Spearman rank correlation (average ranks for
 *     ties) of each layer's mean routing erank with the layer index; NAN when undefined
 *     (fewer than 2 layers, or a constant profile).
 *
 * Files read by analysis_model_file() (format detected from the contents):
 *   - cascade checkpoints (safetensors with __metadata__.format "cascade-checkpoint", or
 *     wte and h.0.attn.qkv.w or h.0.attn.u; tensor names in trainer/trainer.h), read
 *     through checkpoint_load(). Softmax and linear
 *     layers: qkv.w (C, 3Hd) in x out; S–D layers: u (C, Hd), s (H, d(d-1)/2), delta (H, d).
 *   - Hugging Face GPT-2 safetensors: [transformer.]h.{l}.attn.c_attn.weight (C, 3C),
 *     Conv1D (in x out) layout, [W_Q | W_K | W_V]; F32, F16 or BF16.
 *   - Hugging Face BERT safetensors: [bert.]encoder.layer.{l}.attention.self.query.weight
 *     and .key.weight (C, C), nn.Linear (out x in) layout.
 *     For both, n_head comes from config.json beside the file ("n_head" for GPT-2,
 *     "num_attention_heads" for BERT) unless the options override it.
 *   - llm.c GPT-2 .bin: a header of 256 int32 (magic 20240326, version 3, maxT, V, L, NH,
 *     C, Vp), then fp32 tensors in llm.c order, each stacked over layers: wte (Vp, C),
 *     wpe (maxT, C), ln1w (L, C), ln1b (L, C), qkvw (L, 3C, C) out x in, qkvb (L, 3C),
 *     attprojw (L, C, C), attprojb (L, C), ln2w, ln2b (L, C), fcw (L, 4C, C), fcb (L, 4C),
 *     fcprojw (L, C, 4C), fcprojb (L, C), lnfw (C), lnfb (C). Only wte..qkvw are read;
 *     the file size must match the whole parameter count.
 *
 * Errors: functions that can fail return 0 or -1 and write one line naming the file and
 * the tensor into err (CASCADE_ERR_MAX bytes). Nothing here prints.
 */
#ifndef CASCADE_ANALYSIS_H
#define CASCADE_ANALYSIS_H

#include <stdint.h>

#ifndef CASCADE_ERR_MAX
#define CASCADE_ERR_MAX 512
#endif

#define ANALYSIS_SV_RTOL 1e-9           /* [ours] weight level: sigma <= RTOL |M|_F is 0 */
#define ANALYSIS_SV_RTOL_REALISED 1e-6  /* [ours] realised (float32 logits) */

/* ------------------------------------------------------------------------------------ */
/* One head                                                                               */

/* The spectrum of one part (routing or filtering) and its measures (SPEC §3). */
struct analysis_spectrum {
    int n;              /* nonzero singular values kept */
    double *sv;         /* (n) descending, malloc'ed (NULL when n = 0) */
    double sq_norm;     /* sum sigma^2 over the kept values = |part|_F^2 */
    double erank;       /* Roy–Vetterli effective rank */
    double pr;          /* participation ratio */
    int k90;            /* components holding 90% of sum sigma^2 */
};

/* The routing/filtering split of one interaction matrix (a kernel or a logit window). */
struct analysis_split {
    double routing_fraction;            /* rho = |R|^2 / (|R|^2 + |F|^2) */
    int routing_planes;                 /* ceil(routing.k90 / 2) */
    struct analysis_spectrum routing;   /* R = (M - M^T)/2 */
    struct analysis_spectrum filtering; /* F = (M + M^T)/2 */
};

void analysis_split_free(struct analysis_split *s);

/* Standard head, weight level. wq, wk: (C, d) in x out layout with row stride ld
 * (element (c, j) at w[c*ld + j]; ld = d when contiguous). O(C d^2). */
int analysis_head_qk(struct analysis_split *out, const float *wq, const float *wk, int ld,
                     int C, int d, char *err);

/* S–D head, weight level (SPEC §2): u (C, d) with row stride ld; s (d(d-1)/2) upper
 * triangle of S, row-major (i < j); delta (d), D = diag(softplus(delta)).
 * Routing U S U^T, filtering U D U^T (the logits use -U D U^T: the same spectrum). */
int analysis_head_sd(struct analysis_split *out, const float *u, int ld, const float *s,
                     const float *delta, int C, int d, char *err);

/* Realised level: logits (N, N) row-major, the full unmasked matrix of one window. */
int analysis_realised(struct analysis_split *out, const float *logits, int N, char *err);

/* Largest rank the routing part can have: min(2d, C) for a standard head, min(d, C) for
 * S–D, rounded down to even (a skew matrix has even rank). Twice the rotation planes. */
int analysis_routing_capacity(int sd, int C, int d);

/* ------------------------------------------------------------------------------------ */
/* A whole model                                                                          */

enum analysis_format {
    ANALYSIS_CASCADE = 0,  /* our checkpoints */
    ANALYSIS_HF_GPT2 = 1,
    ANALYSIS_HF_BERT = 2,
    ANALYSIS_LLMC = 3,
};
const char *analysis_format_name(enum analysis_format f); /* "cascade", "hf-gpt2", ... */

/* A head's (or a layer summary's) scalar measures. */
struct analysis_measures {
    double routing_fraction, routing_erank, routing_pr, routing_k90, routing_planes;
    double filtering_erank, filtering_pr, filtering_k90;
};

/* The scalar measures of one split (rho, erank, PR, k90, planes). */
struct analysis_measures analysis_measures_of(const struct analysis_split *s);

struct analysis_head {
    int layer, head;       /* from 0 */
    char kind[16];         /* "softmax", "sd" or "linear" */
    int head_dim;          /* d */
    int capacity;          /* analysis_routing_capacity() */
    struct analysis_split weight;
    int has_realised;      /* realised is set (data given, not a linear layer) */
    struct analysis_split realised;
};

struct analysis_layer {
    int layer;
    char kind[16];
    int head_dim, capacity, n_head;
    struct analysis_measures mean, min, max;          /* over heads, weight level */
    int has_realised;
    struct analysis_measures realised_mean, realised_min, realised_max;
};

/* Distribution of one measure over all heads of a model. */
struct analysis_dist { double mean, min, p10, p50, p90, max; };

struct analysis_model {
    char path[1024];
    enum analysis_format format;
    int n_layer, n_head, n_embd;
    int realised_tokens;           /* N of the realised window, 0 if none */
    struct analysis_head *heads;   /* (n_layer * n_head), head (l, h) at l*n_head + h */
    struct analysis_layer *layers; /* (n_layer) */
    double cascade;                /* Spearman(layer mean routing erank, layer index) */
    double cascade_realised;       /* the same on data; NAN if none */
    /* over all heads (the paper's first experiment): rho, routing erank, and routing
     * erank / capacity */
    struct analysis_dist routing_fraction, routing_erank, routing_erank_frac;
};

struct analysis_options {
    int n_head;            /* > 0 overrides the file / config.json */
    const char *data_path; /* realised level on this data (cascade checkpoints), or NULL */
    int tokens;            /* N of the realised window; 0 = the model's context length */
    int minus_init;        /* 1: S–D layers' S - S_0, S_0 regenerated from the checkpoint's
                            * seed (SPEC §2; weight level only: no realised window) */
};

/* Reads a checkpoint of any supported format and analyses every head. */
int analysis_model_file(struct analysis_model *out, const char *path,
                        const struct analysis_options *opt, char *err);

struct model;              /* trainer/trainer.h */
/* Analyses a model in memory; with tokens (N of them, N <= its context length), also the
 * realised level (one forward pass, batch 1). label names the model in errors. */
int analysis_model_trainer(struct analysis_model *out, struct model *m,
                           const int32_t *tokens, int N, const char *label, char *err);

void analysis_model_free(struct analysis_model *m);

/* Fills layers[], cascade values and distributions from heads[] (done by the two
 * functions above; public for models assembled by hand). */
void analysis_model_summarise(struct analysis_model *m);

/* Spearman rank correlation of y with x (average ranks for ties); NAN if undefined. */
double analysis_spearman(const double *x, const double *y, int n);

/* The model as JSON (malloc'ed string): path, format, sizes, cascade, summary, layers
 * (mean/min/max), heads (layer, head, kind, routing_fraction, routing_erank, routing_pr,
 * routing_k90, routing_planes, filtering_erank, filtering_pr, filtering_k90,
 * routing_singular_values, filtering_singular_values, and the same under "realised").
 * NaN prints as null. NULL on allocation failure. */
char *analysis_model_to_json(const struct analysis_model *m);

#endif
