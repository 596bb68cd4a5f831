/* analysis/model.c — a whole model: reads checkpoints (cascade safetensors, Hugging Face
 * GPT-2 and BERT safetensors, llm.c GPT-2 .bin; layouts in analysis.h), analyses every
 * head (spectrum.c), and summarises per layer, across depth (the cascade) and over all
 * heads. Safetensors are read through trainer.h's st_* reader.
 */
#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "analysis/analysis.h"
#include "trainer/trainer.h"

#define LLMC_MAGIC 20240326
#define LLMC_VERSION_FP32 3

const char *analysis_format_name(enum analysis_format f)
{
    switch (f) {
    case ANALYSIS_CASCADE: return "cascade";
    case ANALYSIS_HF_GPT2: return "hf-gpt2";
    case ANALYSIS_HF_BERT: return "hf-bert";
    case ANALYSIS_LLMC: return "llmc";
    }
    return "?";
}

/* ------------------------------------------------------------------------------------ */
/* Model bookkeeping                                                                      */

static int model_alloc(struct analysis_model *am, const char *path, enum analysis_format fmt,
                       int L, int H, int C, char *err)
{
    memset(am, 0, sizeof *am);
    snprintf(am->path, sizeof am->path, "%s", path);
    am->format = fmt;
    am->n_layer = L; am->n_head = H; am->n_embd = C;
    am->cascade = am->cascade_realised = NAN;
    am->heads = calloc((size_t)L * H, sizeof *am->heads);
    am->layers = calloc((size_t)L, sizeof *am->layers);
    if (!am->heads || !am->layers) {
        analysis_model_free(am);
        snprintf(err, CASCADE_ERR_MAX, "%s: out of memory for %d x %d heads", path, L, H);
        return -1;
    }
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++) {
            am->heads[l * H + h].layer = l;
            am->heads[l * H + h].head = h;
        }
    return 0;
}

void analysis_model_free(struct analysis_model *m)
{
    if (!m) return;
    if (m->heads)
        for (int i = 0; i < m->n_layer * m->n_head; i++) {
            analysis_split_free(&m->heads[i].weight);
            analysis_split_free(&m->heads[i].realised);
        }
    free(m->heads);
    free(m->layers);
    m->heads = NULL;
    m->layers = NULL;
}

/* Sets kind, d and capacity of every head of layer l. */
static void layer_set_kind(struct analysis_model *am, int l, const char *kind, int d)
{
    for (int h = 0; h < am->n_head; h++) {
        struct analysis_head *hd = &am->heads[l * am->n_head + h];
        snprintf(hd->kind, sizeof hd->kind, "%s", kind);
        hd->head_dim = d;
        hd->capacity = analysis_routing_capacity(strcmp(kind, "sd") == 0, am->n_embd, d);
    }
}

/* Runs fn(ctx, h, e) for heads h < H in parallel (OpenMP over heads: BLAS inside runs
 * single-threaded, far cheaper for these small matrices than BLAS threads). Returns -1 if
 * all succeeded, else the lowest failing head, whose message is copied into e. */
typedef int (*head_fn)(void *ctx, int h, char *e);
static int for_each_head(int H, head_fn fn, void *ctx, char *e)
{
    char *errs = malloc((size_t)H * CASCADE_ERR_MAX);
    if (!errs) { snprintf(e, CASCADE_ERR_MAX, "out of memory"); return 0; }
    int bad = H;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int h = 0; h < H; h++) {
        if (fn(ctx, h, errs + (size_t)h * CASCADE_ERR_MAX) != 0) {
            #pragma omp critical(analysis_bad_head)
            if (h < bad) bad = h;
        }
    }
    if (bad < H) snprintf(e, CASCADE_ERR_MAX, "%s", errs + (size_t)bad * CASCADE_ERR_MAX);
    free(errs);
    return bad < H ? bad : -1;
}

struct qk_job { struct analysis_model *am; int l, ld, q_off, k_off, d; const float *w; };
static int qk_head(void *ctx, int h, char *e)
{
    struct qk_job *j = ctx;
    struct analysis_model *am = j->am;
    return analysis_head_qk(&am->heads[j->l * am->n_head + h].weight, j->w + j->q_off + h * j->d,
                            j->w + j->k_off + h * j->d, j->ld, am->n_embd, j->d, e);
}

/* Weight level of layer l from an in x out matrix w (C rows, row stride ld) holding W_Q
 * of head h at columns q_off + h*d and W_K at k_off + h*d. */
static int layer_qk(struct analysis_model *am, int l, const float *w, int ld, int q_off,
                    int k_off, int d, const char *kind, const char *tensor, char *err)
{
    layer_set_kind(am, l, kind, d);
    struct qk_job job = { am, l, ld, q_off, k_off, d, w };
    char e[CASCADE_ERR_MAX];
    int bad = for_each_head(am->n_head, qk_head, &job, e);
    if (bad < 0) return 0;
    snprintf(err, CASCADE_ERR_MAX, "%s: %s: head %d: %s", am->path, tensor, bad, e);
    return -1;
}

/* dst (cols, rows) = src (rows, cols)^T. */
static void transpose(float *dst, const float *src, int rows, int cols)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            dst[(long)j * rows + i] = src[(long)i * cols + j];
}

/* ------------------------------------------------------------------------------------ */
/* Summaries                                                                              */

static void measures_accumulate(struct analysis_measures *mean, struct analysis_measures *mn,
                                struct analysis_measures *mx, const struct analysis_measures *x,
                                int first)
{
    /* The struct is a flat run of doubles: walk it as an array. */
    _Static_assert(sizeof(struct analysis_measures) == 8 * sizeof(double), "flat doubles");
    enum { N = sizeof(struct analysis_measures) / sizeof(double) };
    const double *v = (const double *)x;
    double *a = (double *)mean, *lo = (double *)mn, *hi = (double *)mx;
    for (int i = 0; i < N; i++) {
        if (first) { a[i] = 0; lo[i] = hi[i] = v[i]; }
        a[i] += v[i];
        if (v[i] < lo[i]) lo[i] = v[i];
        if (v[i] > hi[i]) hi[i] = v[i];
    }
}

static void measures_scale(struct analysis_measures *m, double s)
{
    double *a = (double *)m;
    for (size_t i = 0; i < sizeof *m / sizeof(double); i++) a[i] *= s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Average ranks (1-based) of v (n) into r (n). O(n^2): n is a layer count. */
static void ranks(const double *v, double *r, int n)
{
    for (int i = 0; i < n; i++) {
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) { less += v[j] < v[i]; equal += v[j] == v[i]; }
        r[i] = less + (equal + 1) / 2.0;
    }
}

double analysis_spearman(const double *x, const double *y, int n)
{
    if (n < 2) return NAN;
    double *rx = malloc(2 * (size_t)n * sizeof *rx);
    if (!rx) return NAN;
    double *ry = rx + n;
    ranks(x, rx, n);
    ranks(y, ry, n);
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) { mx += rx[i]; my += ry[i]; }
    mx /= n; my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    free(rx);
    if (sxx <= 0 || syy <= 0) return NAN;
    return sxy / sqrt(sxx * syy);
}

/* Quantile q of sorted v (n >= 1), linear interpolation between order statistics. */
static double quantile(const double *v, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)pos;
    if (i >= n - 1) return v[n - 1];
    return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

static struct analysis_dist dist_of(double *v, int n)
{
    struct analysis_dist d = { NAN, NAN, NAN, NAN, NAN, NAN };
    if (n == 0) return d;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    d.mean = s / n;
    d.min = v[0];
    d.max = v[n - 1];
    d.p10 = quantile(v, n, 0.1);
    d.p50 = quantile(v, n, 0.5);
    d.p90 = quantile(v, n, 0.9);
    return d;
}

void analysis_model_summarise(struct analysis_model *m)
{
    int L = m->n_layer, H = m->n_head;
    double *buf = malloc(((size_t)3 * L * H + 3 * (size_t)L) * sizeof *buf);
    double *lx = buf ? buf + (size_t)3 * L * H : NULL, *ly = lx ? lx + L : NULL, *lz = ly ? ly + L : NULL;
    int nr = 0;
    for (int l = 0; l < L; l++) {
        struct analysis_layer *ly_ = &m->layers[l];
        const struct analysis_head *h0 = &m->heads[l * H];
        ly_->layer = l;
        snprintf(ly_->kind, sizeof ly_->kind, "%s", h0->kind);
        ly_->head_dim = h0->head_dim;
        ly_->capacity = h0->capacity;
        ly_->n_head = H;
        ly_->has_realised = H > 0;
        for (int h = 0; h < H; h++) {
            const struct analysis_head *hd = &m->heads[l * H + h];
            struct analysis_measures w = analysis_measures_of(&hd->weight);
            measures_accumulate(&ly_->mean, &ly_->min, &ly_->max, &w, h == 0);
            ly_->has_realised &= hd->has_realised;
        }
        measures_scale(&ly_->mean, 1.0 / H);
        if (ly_->has_realised) {
            for (int h = 0; h < H; h++) {
                struct analysis_measures r = analysis_measures_of(&m->heads[l * H + h].realised);
                measures_accumulate(&ly_->realised_mean, &ly_->realised_min, &ly_->realised_max, &r, h == 0);
            }
            measures_scale(&ly_->realised_mean, 1.0 / H);
        }
    }
    m->cascade = m->cascade_realised = NAN;
    struct analysis_dist none = { NAN, NAN, NAN, NAN, NAN, NAN };
    m->routing_fraction = m->routing_erank = m->routing_erank_frac = none;
    if (!buf) return; /* out of memory: per-layer values are set, the summaries stay NAN */
    for (int l = 0; l < L; l++) { lx[l] = l; ly[l] = m->layers[l].mean.routing_erank; }
    m->cascade = analysis_spearman(lx, ly, L);
    for (int l = 0; l < L; l++)
        if (m->layers[l].has_realised) { lx[nr] = l; lz[nr] = m->layers[l].realised_mean.routing_erank; nr++; }
    if (nr > 0) m->cascade_realised = analysis_spearman(lx, lz, nr);
    int n = L * H;
    double *rho = buf, *er = buf + n, *fr = buf + 2 * (size_t)n;
    for (int i = 0; i < n; i++) {
        const struct analysis_head *hd = &m->heads[i];
        rho[i] = hd->weight.routing_fraction;
        er[i] = hd->weight.routing.erank;
        fr[i] = hd->capacity > 0 ? hd->weight.routing.erank / hd->capacity : NAN;
    }
    m->routing_fraction = dist_of(rho, n);
    m->routing_erank = dist_of(er, n);
    m->routing_erank_frac = dist_of(fr, n);
    free(buf);
}

/* ------------------------------------------------------------------------------------ */
/* Models in memory (the trainer's)                                                      */

static const float *need_param(struct model *m, const char *label, const char *name, char *err)
{
    const float *p = model_param(m, name);
    if (!p) snprintf(err, CASCADE_ERR_MAX, "%s: %s: missing", label, name);
    return p;
}

struct sd_job { struct analysis_model *am; int l, d; const float *u, *s, *delta; };
static int sd_head(void *ctx, int h, char *e)
{
    struct sd_job *j = ctx;
    struct analysis_model *am = j->am;
    int H = am->n_head, d = j->d;
    long ns = (long)d * (d - 1) / 2;
    return analysis_head_sd(&am->heads[j->l * H + h].weight, j->u + h * d, H * d, j->s + h * ns,
                            j->delta + (long)h * d, am->n_embd, d, e);
}

static int trainer_weights(struct analysis_model *am, struct model *m, int l, char *err)
{
    const struct model_config *c = &m->cfg;
    int H = c->n_head, d = c->layers[l].qk_dim;   /* the routing side; v_dim is not read */
    char name[64];
    if (c->layers[l].kind == ATTN_SD) {
        char sn[64], dn[64];
        snprintf(name, sizeof name, "h.%d.attn.u", l);
        snprintf(sn, sizeof sn, "h.%d.attn.s", l);
        snprintf(dn, sizeof dn, "h.%d.attn.delta", l);
        const float *u = need_param(m, am->path, name, err), *s = u ? need_param(m, am->path, sn, err) : NULL;
        const float *delta = s ? need_param(m, am->path, dn, err) : NULL;
        if (!delta) return -1;
        layer_set_kind(am, l, "sd", d);
        struct sd_job job = { am, l, d, u, s, delta };
        char e[CASCADE_ERR_MAX];
        int bad = for_each_head(H, sd_head, &job, e);
        if (bad < 0) return 0;
        snprintf(err, CASCADE_ERR_MAX, "%s: %s: head %d: %s", am->path, name, bad, e);
        return -1;
    }
    snprintf(name, sizeof name, "h.%d.attn.qkv.w", l);
    const float *w = need_param(m, am->path, name, err);
    if (!w) return -1;
    int ld = H * (2 * d + c->layers[l].v_dim);      /* qkv.w (C, 2Hd + Hdv): W_Q | W_K | W_V */
    return layer_qk(am, l, w, ld, 0, H * d, d, attn_kind_name(c->layers[l].kind), name, err);
}

struct realised_job { struct analysis_model *am; const struct model *m; int l, N; };
static int realised_head(void *ctx, int h, char *e)
{
    struct realised_job *j = ctx;
    struct analysis_head *hd = &j->am->heads[j->l * j->am->n_head + h];
    float *lg = malloc((size_t)j->N * j->N * sizeof *lg);
    int rc = -1;
    if (!lg) snprintf(e, CASCADE_ERR_MAX, "out of memory for %dx%d logits", j->N, j->N);
    else if (model_attention_logits(j->m, j->l, h, 0, lg) != 0) snprintf(e, CASCADE_ERR_MAX, "no attention logits");
    else rc = analysis_realised(&hd->realised, lg, j->N, e);
    hd->has_realised = rc == 0;
    free(lg);
    return rc;
}

/* One forward pass on tokens (1, N), then the realised split of every softmax/S–D head. */
static int trainer_realised(struct analysis_model *am, struct model *m, const int32_t *tokens,
                            int N, char *err)
{
    char ferr[CASCADE_ERR_MAX];
    if (model_forward(m, tokens, NULL, 1, N, NULL, ferr) != 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: realised: %s", am->path, ferr);
        return -1;
    }
    am->realised_tokens = N;
    for (int l = 0; l < am->n_layer; l++) {
        if (m->cfg.layers[l].kind == ATTN_LINEAR) continue;
        struct realised_job job = { am, m, l, N };
        char e[CASCADE_ERR_MAX];
        int bad = for_each_head(am->n_head, realised_head, &job, e);
        if (bad >= 0) {
            snprintf(err, CASCADE_ERR_MAX, "%s: layer %d head %d: realised: %s", am->path, l, bad, e);
            return -1;
        }
    }
    return 0;
}

int analysis_model_trainer(struct analysis_model *out, struct model *m, const int32_t *tokens,
                           int N, const char *label, char *err)
{
    const struct model_config *c = &m->cfg;
    if (model_alloc(out, label, ANALYSIS_CASCADE, c->n_layer, c->n_head, c->n_embd, err) != 0) return -1;
    for (int l = 0; l < c->n_layer; l++)
        if (trainer_weights(out, m, l, err) != 0) { analysis_model_free(out); return -1; }
    if (tokens) {
        if (N < 1 || N > c->seq_len) {
            snprintf(err, CASCADE_ERR_MAX, "%s: realised window of %d tokens: must be 1..%d (the context length)", label, N, c->seq_len);
            analysis_model_free(out);
            return -1;
        }
        if (trainer_realised(out, m, tokens, N, err) != 0) { analysis_model_free(out); return -1; }
    }
    analysis_model_summarise(out);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Files                                                                                  */

/* n_head from the config.json beside path (key `key`). */
static int config_n_head(const char *path, const char *key, int *n_head, char *err)
{
    char cfg[1100];
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(cfg, sizeof cfg, "%.*s/config.json", (int)(slash - path), path);
    else snprintf(cfg, sizeof cfg, "config.json");
    if (access(cfg, F_OK) != 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: number of heads unknown: no %s beside it (give --n-head)", path, cfg);
        return -1;
    }
    char *buf;
    if (trainer_read_file(cfg, (size_t)1 << 20, &buf, NULL, err) != 0) return -1;
    cJSON *j = cJSON_Parse(buf);
    const cJSON *v = j ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
    int ok = cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble == (int)v->valuedouble;
    if (ok) *n_head = (int)v->valuedouble;
    else snprintf(err, CASCADE_ERR_MAX, "%s: number of heads: %s: %s: %s", path, cfg, key,
                  j ? "missing or not a positive integer" : "not valid JSON");
    cJSON_Delete(j);
    free(buf);
    return ok ? 0 : -1;
}

static int heads_from(const char *path, const struct analysis_options *opt, const char *key,
                      int *H, char *err)
{
    if (opt && opt->n_head > 0) { *H = opt->n_head; return 0; }
    return config_n_head(path, key, H, err);
}

static int check_split(const char *path, const char *tensor, int C, int H, char *err)
{
    if (H >= 1 && C % H == 0) return 0;
    snprintf(err, CASCADE_ERR_MAX, "%s: %s: width %d does not split into %d heads", path, tensor, C, H);
    return -1;
}

/* A 2-D tensor of shape (rows, cols), read as float32 into a malloc'ed buffer. */
static float *read_2d(const struct st_file *f, const char *name, int64_t rows, int64_t cols,
                      char *err)
{
    const struct st_tensor *t = st_find(f, name);
    if (!t) { snprintf(err, CASCADE_ERR_MAX, "%s: %s: missing", f->path, name); return NULL; }
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
        char sh[96] = "";
        for (int i = 0, o = 0; i < t->ndim && o < (int)sizeof sh; i++)
            o += snprintf(sh + o, sizeof sh - o, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        snprintf(err, CASCADE_ERR_MAX, "%s: %s: shape [%s], expected [%lld, %lld]", f->path, name, sh,
                 (long long)rows, (long long)cols);
        return NULL;
    }
    float *w = malloc((size_t)rows * cols * sizeof *w);
    if (!w) { snprintf(err, CASCADE_ERR_MAX, "%s: %s: out of memory", f->path, name); return NULL; }
    char e[CASCADE_ERR_MAX];
    if (st_read_f32(f, t, w, e) != 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: %s: %s", f->path, name, e);
        free(w);
        return NULL;
    }
    return w;
}

/* Hugging Face GPT-2: [prefix]h.{l}.attn.c_attn.weight (C, 3C), Conv1D = in x out. */
static int load_hf_gpt2(struct analysis_model *am, const struct st_file *f, const char *prefix,
                        const struct analysis_options *opt, char *err)
{
    char name[200];
    snprintf(name, sizeof name, "%sh.0.attn.c_attn.weight", prefix);
    const struct st_tensor *t0 = st_find(f, name);
    assert(t0);
    if (t0->ndim != 2 || t0->shape[0] < 1 || t0->shape[1] != 3 * t0->shape[0] || t0->shape[0] > (1 << 20)) {
        snprintf(err, CASCADE_ERR_MAX, "%s: %s: shape is not [C, 3C]", f->path, name);
        return -1;
    }
    int C = (int)t0->shape[0], L = 0, H;
    for (;; L++) {
        snprintf(name, sizeof name, "%sh.%d.attn.c_attn.weight", prefix, L);
        if (!st_find(f, name)) break;
    }
    snprintf(name, sizeof name, "%sh.0.attn.c_attn.weight", prefix);
    if (heads_from(f->path, opt, "n_head", &H, err) != 0 || check_split(f->path, name, C, H, err) != 0)
        return -1;
    if (model_alloc(am, f->path, ANALYSIS_HF_GPT2, L, H, C, err) != 0) return -1;
    for (int l = 0; l < L; l++) {
        snprintf(name, sizeof name, "%sh.%d.attn.c_attn.weight", prefix, l);
        float *w = read_2d(f, name, C, 3 * C, err);
        int rc = w ? layer_qk(am, l, w, 3 * C, 0, C, C / H, "softmax", name, err) : -1;
        free(w);
        if (rc != 0) { analysis_model_free(am); return -1; }
    }
    return 0;
}

/* Hugging Face BERT: [prefix]encoder.layer.{l}.attention.self.{query,key}.weight (C, C),
 * nn.Linear = out x in: transposed to in x out before the heads are cut. */
static int load_hf_bert(struct analysis_model *am, const struct st_file *f, const char *prefix,
                        const struct analysis_options *opt, char *err)
{
    char qn[200], kn[200];
    snprintf(qn, sizeof qn, "%sencoder.layer.0.attention.self.query.weight", prefix);
    const struct st_tensor *t0 = st_find(f, qn);
    assert(t0);
    if (t0->ndim != 2 || t0->shape[0] < 1 || t0->shape[0] != t0->shape[1] || t0->shape[0] > (1 << 20)) {
        snprintf(err, CASCADE_ERR_MAX, "%s: %s: shape is not [C, C]", f->path, qn);
        return -1;
    }
    int C = (int)t0->shape[0], L = 0, H;
    for (;; L++) {
        snprintf(qn, sizeof qn, "%sencoder.layer.%d.attention.self.query.weight", prefix, L);
        if (!st_find(f, qn)) break;
    }
    snprintf(qn, sizeof qn, "%sencoder.layer.0.attention.self.query.weight", prefix);
    if (heads_from(f->path, opt, "num_attention_heads", &H, err) != 0 || check_split(f->path, qn, C, H, err) != 0)
        return -1;
    if (model_alloc(am, f->path, ANALYSIS_HF_BERT, L, H, C, err) != 0) return -1;
    float *qk = malloc(2 * (size_t)C * C * sizeof *qk); /* (C, 2C) in x out: [W_Q | W_K] */
    if (!qk) { analysis_model_free(am); snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", f->path); return -1; }
    int rc = 0;
    for (int l = 0; l < L && rc == 0; l++) {
        snprintf(qn, sizeof qn, "%sencoder.layer.%d.attention.self.query.weight", prefix, l);
        snprintf(kn, sizeof kn, "%sencoder.layer.%d.attention.self.key.weight", prefix, l);
        float *wq = read_2d(f, qn, C, C, err), *wk = wq ? read_2d(f, kn, C, C, err) : NULL;
        if (wk) {
            /* qk[c, j] = wq[j, c], qk[c, C + j] = wk[j, c] */
            for (int j = 0; j < C; j++)
                for (int c = 0; c < C; c++) {
                    qk[(long)c * 2 * C + j] = wq[(long)j * C + c];
                    qk[(long)c * 2 * C + C + j] = wk[(long)j * C + c];
                }
            rc = layer_qk(am, l, qk, 2 * C, 0, C, C / H, "softmax", qn, err);
        } else rc = -1;
        free(wq);
        free(wk);
    }
    free(qk);
    if (rc != 0) analysis_model_free(am);
    return rc;
}

/* llm.c GPT-2 .bin (layout in analysis.h). Reads qkvw layer by layer. */
static int load_llmc(struct analysis_model *am, FILE *fp, const char *path, long long fsize,
                     const struct analysis_options *opt, char *err)
{
    int32_t hd[256];
    if (fsize < (long long)sizeof hd || fseek(fp, 0, SEEK_SET) != 0 || fread(hd, sizeof hd, 1, fp) != 1) {
        snprintf(err, CASCADE_ERR_MAX, "%s: header: truncated (%lld bytes, need 1024)", path, fsize);
        return -1;
    }
    if (hd[1] != LLMC_VERSION_FP32) {
        snprintf(err, CASCADE_ERR_MAX, "%s: header: llm.c version %d not supported (only %d, fp32)", path, hd[1], LLMC_VERSION_FP32);
        return -1;
    }
    long long maxT = hd[2], V = hd[3], L = hd[4], NH = hd[5], C = hd[6], Vp = hd[7];
    if (maxT < 1 || V < 1 || L < 1 || L > 100000 || NH < 1 || C < 1 || C > (1 << 20) || Vp < V) {
        snprintf(err, CASCADE_ERR_MAX, "%s: header: bad sizes maxT=%lld V=%lld L=%lld NH=%lld C=%lld Vp=%lld", path, maxT, V, L, NH, C, Vp);
        return -1;
    }
    /* llm.c's 16 parameter tensors, in file order. */
    static const char *names[16] = { "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw",
        "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb" };
    long long sizes[16] = { Vp * C, maxT * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C,
        L * C, L * C, L * C, L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C };
    long long off = (long long)sizeof hd, qkv_off = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4) qkv_off = off;
        off += 4 * sizes[i];
        if (off > fsize) {
            snprintf(err, CASCADE_ERR_MAX, "%s: %s: truncated (file has %lld bytes, the tensor ends at %lld)", path, names[i], fsize, off);
            return -1;
        }
    }
    if (off != fsize) {
        snprintf(err, CASCADE_ERR_MAX, "%s: %lld bytes after lnfb (file has %lld, parameters end at %lld)", path, fsize - off, fsize, off);
        return -1;
    }
    int H = opt && opt->n_head > 0 ? opt->n_head : (int)NH;
    if (check_split(path, "qkvw", (int)C, H, err) != 0) return -1;
    if (model_alloc(am, path, ANALYSIS_LLMC, (int)L, H, (int)C, err) != 0) return -1;
    size_t n = (size_t)3 * C * C;
    float *raw = malloc(2 * n * sizeof *raw); /* (3C, C) out x in, then (C, 3C) in x out */
    if (!raw) { analysis_model_free(am); snprintf(err, CASCADE_ERR_MAX, "%s: qkvw: out of memory", path); return -1; }
    float *w = raw + n;
    int rc = fseek(fp, (long)qkv_off, SEEK_SET) == 0 ? 0 : -1;
    if (rc) snprintf(err, CASCADE_ERR_MAX, "%s: qkvw: %s", path, strerror(errno));
    for (int l = 0; l < L && rc == 0; l++) {
        char name[64];
        snprintf(name, sizeof name, "qkvw[%d]", l);
        if (fread(raw, sizeof *raw, n, fp) != n) {
            snprintf(err, CASCADE_ERR_MAX, "%s: %s: read failed", path, name);
            rc = -1;
            break;
        }
        transpose(w, raw, (int)(3 * C), (int)C);
        rc = layer_qk(am, l, w, (int)(3 * C), 0, (int)C, (int)(C / H), "softmax", name, err);
    }
    free(raw);
    if (rc != 0) analysis_model_free(am);
    return rc;
}

/* Our checkpoint: checkpoint_load, then the realised window if data is given. */
static int load_cascade(struct analysis_model *am, const char *path,
                        const struct analysis_options *opt, char *err)
{
    struct model m;
    struct train_config tc;
    struct checkpoint_info info;
    memset(&m, 0, sizeof m);
    if (checkpoint_load(path, &m, &tc, &info, err) != 0) return -1;
    int32_t *tok = NULL;
    int N = 0, rc = 0;
    if (opt && opt->n_head > 0 && opt->n_head != m.cfg.n_head) {
        snprintf(err, CASCADE_ERR_MAX, "%s: --n-head %d: the checkpoint has %d heads", path, opt->n_head, m.cfg.n_head);
        rc = -1;
    }
    if (rc == 0 && opt && opt->minus_init) {
        if (opt->data_path) {
            snprintf(err, CASCADE_ERR_MAX, "%s: --minus-init measures weights only; drop --data", path);
            rc = -1;
        } else {
            rc = model_sd_subtract_init(&m, tc.seed, err);
        }
    }
    if (rc == 0 && opt && opt->data_path) {
        N = opt->tokens > 0 ? opt->tokens : m.cfg.seq_len;
        if (N > m.cfg.seq_len) {
            snprintf(err, CASCADE_ERR_MAX, "%s: --tokens %d: more than the context length %d", path, N, m.cfg.seq_len);
            rc = -1;
        } else {
            struct dataset ds;
            memset(&ds, 0, sizeof ds);
            rc = data_load(&ds, opt->data_path, m.cfg.vocab_size, tc.val_fraction, err);
            if (rc == 0 && data_val_batch_count(&ds, 1, N) < 1) {
                snprintf(err, CASCADE_ERR_MAX, "%s: validation split has %zu tokens, a window needs %d",
                         opt->data_path, ds.n_tokens - ds.n_train, N + 1);
                rc = -1;
            }
            if (rc == 0) {
                tok = malloc(2 * (size_t)N * sizeof *tok);
                if (tok) data_val_batch(&ds, 0, 1, N, tok, tok + N);
                else { snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", opt->data_path); rc = -1; }
            }
            if (ds.tokens) data_free(&ds);
        }
    }
    if (rc == 0) rc = analysis_model_trainer(am, &m, tok, N, path, err);
    free(tok);
    model_free(&m);
    return rc;
}

/* Which safetensors layout f holds; sets *prefix. -1 if none. */
static int st_layout(const struct st_file *f, const char **prefix)
{
    static const char *gpt2[] = { "", "transformer." }, *bert[] = { "bert.", "" };
    char name[200];
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%sh.0.attn.c_attn.weight", gpt2[i]);
        if (st_find(f, name)) { *prefix = gpt2[i]; return ANALYSIS_HF_GPT2; }
        snprintf(name, sizeof name, "%sencoder.layer.0.attention.self.query.weight", bert[i]);
        if (st_find(f, name)) { *prefix = bert[i]; return ANALYSIS_HF_BERT; }
    }
    *prefix = "";
    const char *fmt = st_metadata_get(f, "format");
    if ((fmt && strcmp(fmt, "cascade-checkpoint") == 0) ||
        (st_find(f, "wte") && (st_find(f, "h.0.attn.qkv.w") || st_find(f, "h.0.attn.u"))))
        return ANALYSIS_CASCADE;
    return -1;
}

int analysis_model_file(struct analysis_model *out, const char *path,
                        const struct analysis_options *opt, char *err)
{
    memset(out, 0, sizeof *out);
    size_t size = 0;
    FILE *fp = trainer_fopen_regular(path, &size, err);
    if (!fp) return -1;
    unsigned char head[4] = { 0 };
    size_t got = fread(head, 1, sizeof head, fp);
    int32_t magic;
    memcpy(&magic, head, 4);
    if (got == sizeof head && magic == LLMC_MAGIC) {
        int rc = load_llmc(out, fp, path, (long long)size, opt, err);
        fclose(fp);
        if (rc == 0) analysis_model_summarise(out);
        return rc;
    }
    fclose(fp);
    /* anything else must be safetensors: its reader says what is wrong with it, exactly
     * as `eval` would */
    struct st_file f;
    if (st_open(&f, path, err) != 0) {
        if (strstr(err, ": not a safetensors file")) {
            size_t n = strlen(err);
            snprintf(err + n, CASCADE_ERR_MAX - n, "; not a safetensors or llm.c checkpoint");
        }
        return -1;
    }
    const char *prefix;
    int fmt = st_layout(&f, &prefix), rc = -1;
    if (fmt < 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: no attention tensors (looked for [transformer.]h.0.attn.c_attn.weight, "
                 "[bert.]encoder.layer.0.attention.self.query.weight, h.0.attn.qkv.w, h.0.attn.u)", path);
    } else if (fmt != ANALYSIS_CASCADE && opt && opt->data_path) {
        snprintf(err, CASCADE_ERR_MAX, "%s: --data: realised logits need a cascade checkpoint (the trainer's forward pass)", path);
    } else if (fmt == ANALYSIS_HF_GPT2) {
        rc = load_hf_gpt2(out, &f, prefix, opt, err);
    } else if (fmt == ANALYSIS_HF_BERT) {
        rc = load_hf_bert(out, &f, prefix, opt, err);
    } else if (fmt == ANALYSIS_CASCADE) {
        st_close(&f);
        return load_cascade(out, path, opt, err);
    }
    st_close(&f);
    if (rc == 0) analysis_model_summarise(out);
    return rc;
}
