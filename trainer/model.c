/* trainer/model.c — the GPT model: parameter layout, initialisation, forward, backward,
 * AdamW. Kernels are in ops.c / ops_sd.c / ops_linear.c.
 *
 * Memory is laid out once: all parameters in one block (params), with grads, adam_m and
 * adam_v in blocks of the same layout; the tensor table (name, shape, offset) is the map.
 * Which tensors exist, their shapes, order and initialisation come from PARAM_TABLE
 * (trainer/layout.h); forward and backward reach them through named pointers
 * (struct global_ptrs, struct layer_ptrs) whose offsets are recorded once by model_init.
 * Activations for a given (B, T) are one further block (struct model_acts), carved into
 * per-layer buffers whose sizes follow each layer's attention kind and head dimension.
 *
 * Block l (pre-norm; with layernorm off the ln steps are the identity):
 *   x_in (N,C) -> ln1 -> [attention kind] -> atty (N,H*d) -> proj -> + x_in = res1
 *   res1 -> ln2 -> fc (N,4C) -> gelu -> fcproj (N,C) -> + res1 = res2 = x_in of block l+1
 * Attention kinds, all with q, k, v interleaved in qkv (N, 3*H*d), row stride 3*H*d:
 *   softmax: qkv = ln1 @ qkv.w + qkv.b; causal softmax attention.
 *   sd (SPEC §2): k = p = ln1 @ u; v = ln1 @ v.w + v.b; q = p L (L = S - D per head);
 *                 causal softmax attention on (q, k, v): logits p_i^T L p_j / sqrt(d).
 *   linear (SPEC §4): qkv as softmax; ELU+1 causal linear attention.
 */
#include "trainer/trainer.h"
#include "trainer/layout.h"
#include "trainer/ops.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* Parameter table                                                                        */

/* Named pointers into a parameter-layout block (params or grads), one per row of
 * PARAM_TABLE (trainer/layout.h): model-wide tensors (wte, wpe, lnfw, lnfb) and one
 * layer's tensors (ln1w, qkvw, u, s, ..., fcprojb). NULL where the config has no such
 * tensor (its layer's kind or the layernorm switch). */
#define LAYOUT_PTR_FIELD(field, ...) float *field;
#define LAYOUT_NONE(...)
struct global_ptrs { PARAM_TABLE(LAYOUT_PTR_FIELD, LAYOUT_NONE) };
struct layer_ptrs { PARAM_TABLE(LAYOUT_NONE, LAYOUT_PTR_FIELD) };
#undef LAYOUT_PTR_FIELD

#define NO_TENSOR ((size_t)-1)

/* Offsets of every tensor into a parameter-layout block, recorded while the tensor table
 * is built, so that no pass looks a tensor up by name. */
struct model_layout {
    size_t global[PARAM_ROWS];           /* G rows' offsets, NO_TENSOR where absent */
    size_t layer[][PARAM_ROWS];          /* (L, PARAM_ROWS) L rows' offsets, NO_TENSOR where absent */
};

static float *block_at(float *block, size_t offset)
{
    return offset == NO_TENSOR ? NULL : block + offset;
}

static struct global_ptrs global_ptrs_in(const struct model *m, float *block)
{
    struct global_ptrs p;
#define LAYOUT_PTR_SET(field, ...) p.field = block_at(block, m->layout->global[ROW_##field]);
    PARAM_TABLE(LAYOUT_PTR_SET, LAYOUT_NONE)
#undef LAYOUT_PTR_SET
    return p;
}

/* Layer l's tensors in a parameter-layout block (params or grads). */
static struct layer_ptrs layer_ptrs_in(const struct model *m, float *block, int l)
{
    struct layer_ptrs p;
#define LAYOUT_PTR_SET(field, ...) p.field = block_at(block, m->layout->layer[l][ROW_##field]);
    PARAM_TABLE(LAYOUT_NONE, LAYOUT_PTR_SET)
#undef LAYOUT_PTR_SET
    return p;
}
#undef LAYOUT_NONE

/* Fills m->tensors (allocated for every tensor of the walk) and m->layout's offsets. */
struct table_builder {
    struct model *m;
    int n;
    size_t total;
};

static void table_add(const struct layout_tensor *lt, void *user)
{
    struct table_builder *tb = user;
    struct param_tensor *p = &tb->m->tensors[tb->n++];
    memset(p, 0, sizeof *p);
    if (lt->layer < 0) snprintf(p->name, sizeof p->name, "%s", lt->name);
    else snprintf(p->name, sizeof p->name, "h.%d.%s", lt->layer, lt->name);
    /* validation keeps every shape and element count within an int */
    p->ndim = lt->ndim;
    p->shape[0] = (int)lt->shape[0];
    p->shape[1] = (int)lt->shape[1];
    p->numel = lt->numel;
    p->offset = tb->total;
    p->decay = lt->decay;
    tb->total += p->numel;
    if (lt->layer < 0) tb->m->layout->global[lt->row] = p->offset;
    else tb->m->layout->layer[lt->layer][lt->row] = p->offset;
}

const struct param_tensor *model_find_tensor(const struct model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

float *model_param(const struct model *m, const char *name)
{
    const struct param_tensor *t = model_find_tensor(m, name);
    return t ? m->params + t->offset : NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Activations                                                                            */

struct layer_acts {
    float *ln1, *ln1_mean, *ln1_rstd;   /* (N,C), (N), (N)    layernorm only */
    float *qkv;                         /* (N, 2Hd + Hdv) q | k | v interleaved per row
                                         * (d = qk_dim, dv = v_dim of the layer) */
    float *att;                         /* (B,H,T,T) softmax and sd */
    float *den;                         /* (B,H,T) linear */
    float *lmat;                        /* (H,d,d) L = S - D, sd */
    float *atty;                        /* (N, Hdv) attention output before proj */
    float *attproj;                     /* (N, C) */
    float *res1;                        /* (N, C) */
    float *ln2, *ln2_mean, *ln2_rstd;   /* (N,C), (N), (N)    layernorm only */
    float *fch, *fch_gelu;              /* (N, 4C) */
    float *fcproj;                      /* (N, C) */
    float *res2;                        /* (N, C) block output */
};

struct model_acts {
    int B, T;                           /* shape this block was laid out for */
    int nthreads;                       /* scratch slices */
    float *block;                       /* the one allocation */
    float *encoded;                     /* (N, C) */
    struct layer_acts *layers;          /* (L) */
    float *lnf, *lnf_mean, *lnf_rstd;   /* (N,C), (N), (N) */
    float *logits, *probs, *losses;     /* (N,V), (N,V), (N) */
    const int32_t *inputs, *targets;    /* of the last forward (caller-owned, (B,T)) */
    int has_targets;
    /* gradient buffers, reused by every layer in backward */
    float *dresid;                      /* (N, C) gradient of the residual stream */
    float *dln;                         /* (N, C) gradient of a LayerNorm output */
    float *dqkv;                        /* (N, max over layers of 2Hd + Hdv) */
    float *datty;                       /* (N, max over layers of Hdv) */
    float *dfch, *dfch_gelu;            /* (N, 4C) */
    float *dlogits;                     /* (N, V) */
    float *dlmat;                       /* (H, d_max, d_max) */
    float *scratch;                     /* attention backward and linear-attention forward scratch */
};

/* Lays out (or, with base == NULL, only counts) the activation block for (B, T). */
static size_t acts_layout(struct model_acts *a, float *base, const struct model_config *c,
                          int B, int T, int nthreads)
{
    size_t off = 0;
    size_t N = (size_t)B * T, C = c->n_embd, H = c->n_head, V = c->vocab_size;
    size_t qkv_max = 0, hdv_max = 0, d_max = 0;
    long scratch = 0;
    /* every array starts on a 64-byte line (base is aligned so): att's rows are written
     * with streaming stores, which need it */
#define TAKE(ptr, n) do { (ptr) = base ? base + off : NULL; off += ((n) + 15) / 16 * 16; } while (0)
    TAKE(a->encoded, N * C);
    for (int l = 0; l < c->n_layer; l++) {
        struct layer_acts *la = &a->layers[l];
        int kind = c->layers[l].kind;
        size_t d = c->layers[l].qk_dim, dv = c->layers[l].v_dim, qkv = H * (2 * d + dv);
        memset(la, 0, sizeof *la);
        if (qkv > qkv_max) qkv_max = qkv;
        if (H * dv > hdv_max) hdv_max = H * dv;
        if (d > d_max) d_max = d;
        if (c->layernorm) { TAKE(la->ln1, N * C); TAKE(la->ln1_mean, N); TAKE(la->ln1_rstd, N); }
        TAKE(la->qkv, N * qkv);
        if (kind == ATTN_LINEAR) {
            TAKE(la->den, (size_t)B * H * T);
            long s = linear_attention_scratch_floats(T, (int)d, (int)dv, nthreads);
            if (s > scratch) scratch = s;
        } else {
            TAKE(la->att, (size_t)B * H * T * T);
            long s = attention_scratch_floats(T, nthreads);
            if (s > scratch) scratch = s;
        }
        if (kind == ATTN_SD) TAKE(la->lmat, H * d * d);
        TAKE(la->atty, N * H * dv);
        TAKE(la->attproj, N * C);
        TAKE(la->res1, N * C);
        if (c->layernorm) { TAKE(la->ln2, N * C); TAKE(la->ln2_mean, N); TAKE(la->ln2_rstd, N); }
        TAKE(la->fch, N * 4 * C);
        TAKE(la->fch_gelu, N * 4 * C);
        TAKE(la->fcproj, N * C);
        TAKE(la->res2, N * C);
    }
    if (c->layernorm) { TAKE(a->lnf, N * C); TAKE(a->lnf_mean, N); TAKE(a->lnf_rstd, N); }
    else { a->lnf = a->lnf_mean = a->lnf_rstd = NULL; }
    TAKE(a->logits, N * V);
    TAKE(a->probs, N * V);
    TAKE(a->losses, N);
    TAKE(a->dresid, N * C);
    TAKE(a->dln, N * C);
    TAKE(a->dqkv, N * qkv_max);
    TAKE(a->datty, N * hdv_max);
    TAKE(a->dfch, N * 4 * C);
    TAKE(a->dfch_gelu, N * 4 * C);
    TAKE(a->dlogits, N * V);
    TAKE(a->dlmat, H * d_max * d_max);
    TAKE(a->scratch, (size_t)scratch);
#undef TAKE
    return off;
}

static void acts_free(struct model_acts *a)
{
    if (!a) return;
    free(a->block);
    free(a->layers);
    free(a);
}

size_t model_activation_floats(const struct model_config *c, int B, int T, int nthreads)
{
    struct model_acts a;
    memset(&a, 0, sizeof a);
    a.layers = calloc((size_t)c->n_layer, sizeof *a.layers);
    if (!a.layers) return SIZE_MAX;
    size_t n = acts_layout(&a, NULL, c, B, T, nthreads);
    free(a.layers);
    return n;
}

/* Lays out the activations for (B, T) unless the current block already fits them.
 * Returns -1 with `err` set when memory runs out (m->acts is then NULL). */
static int acts_ensure(struct model *m, int B, int T, char *err)
{
    int nthreads = omp_get_max_threads();
    struct model_acts *a = m->acts;
    if (a && a->B == B && a->T == T && a->nthreads >= nthreads) return 0;
    /* the old block goes first: it is no use for (B, T) and would only raise the peak */
    acts_free(a);
    m->acts = NULL;
    a = calloc(1, sizeof *a);
    struct layer_acts *layers = calloc((size_t)m->cfg.n_layer, sizeof *layers);
    if (!a || !layers) {
        free(a);
        free(layers);
        snprintf(err, CASCADE_ERR_MAX, "model: out of memory for the activations of %d layers",
                 m->cfg.n_layer);
        return -1;
    }
    a->layers = layers;
    size_t n = acts_layout(a, NULL, &m->cfg, B, T, nthreads);
    a->block = n <= SIZE_MAX / sizeof(float) - 16 ? aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64) : NULL;
    if (!a->block) {
        snprintf(err, CASCADE_ERR_MAX, "model: out of memory for the activations of a %d x %d batch "
                 "(%.1f MiB)", B, T, (double)n * sizeof(float) / (1024.0 * 1024.0));
        acts_free(a);
        return -1;
    }
    acts_layout(a, a->block, &m->cfg, B, T, nthreads);
    /* attention_forward writes each row of att only up to its strip's end (ops.h): the
     * rest stays the zeros written here */
    for (int l = 0; l < m->cfg.n_layer; l++)
        if (a->layers[l].att)
            memset(a->layers[l].att, 0, sizeof(float) * (size_t)B * m->cfg.n_head * T * T);
    a->B = B;
    a->T = T;
    a->nthreads = nthreads;
    m->acts = a;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Init                                                                                   */

static void fill_normal(float *p, size_t n, float std, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++) p[i] = std * trainer_rng_normal(rng);
}

static void fill_value(float *p, size_t n, float value)
{
    for (size_t i = 0; i < n; i++) p[i] = value;
}

struct init_ctx {
    struct model *m;
    int i;                 /* tensor index: the walk visits m->tensors in order */
    float proj_std;
    uint64_t rng;
};

static void init_tensor(const struct layout_tensor *lt, void *user)
{
    struct init_ctx *ic = user;
    const struct param_tensor *t = &ic->m->tensors[ic->i++];
    float *p = ic->m->params + t->offset;
    switch (lt->init) {
    case INIT_NORMAL:   fill_normal(p, t->numel, 0.02f, &ic->rng); break;
    case INIT_PROJ:     fill_normal(p, t->numel, ic->proj_std, &ic->rng); break;
    case INIT_ZERO:     fill_value(p, t->numel, 0.0f); break;
    case INIT_ONE:      fill_value(p, t->numel, 1.0f); break;
    case INIT_SD_S:     fill_normal(p, t->numel, ic->m->cfg.sd_s_init_std, &ic->rng); break;
    case INIT_SD_DELTA: fill_value(p, t->numel, 0.1f); break;
    }
}

/* Every tensor per the init column of PARAM_TABLE (GPT-2; S–D per SPEC §2), filled in
 * table order from one generator seeded by `seed`. */
static void init_params(struct model *m, uint64_t seed)
{
    const struct model_config *c = &m->cfg;
    struct init_ctx ic = { m, 0, 0.02f, seed ^ 0x9e3779b97f4a7c15ull };
    if (c->residual_scale_init) ic.proj_std = 0.02f / sqrtf(2.0f * c->n_layer);
    layout_walk(c, init_tensor, &ic);
    assert(ic.i == m->n_tensors);
}

int model_init(struct model *m, const struct model_config *cfg, uint64_t seed, char *err)
{
    memset(m, 0, sizeof *m);
    struct train_config tc;
    trainer_config_defaults(&tc);
    tc.model = *cfg;
    if (trainer_config_validate(&tc, "model", err) != 0) return -1;
    m->cfg = *cfg;
    int n = layout_walk(cfg, NULL, NULL);
    m->tensors = calloc((size_t)n, sizeof *m->tensors);
    m->layout = malloc(sizeof *m->layout + (size_t)cfg->n_layer * sizeof m->layout->layer[0]);
    if (!m->tensors || !m->layout) {
        snprintf(err, CASCADE_ERR_MAX, "model: out of memory for the table of %d tensors", n);
        model_free(m);
        return -1;
    }
    for (int r = 0; r < PARAM_ROWS; r++) {
        m->layout->global[r] = NO_TENSOR;
        for (int l = 0; l < cfg->n_layer; l++) m->layout->layer[l][r] = NO_TENSOR;
    }
    struct table_builder tb = { m, 0, 0 };
    layout_walk(cfg, table_add, &tb);
    assert(tb.n == n);
    m->n_tensors = n;
    m->n_params = tb.total;
    m->params = malloc(tb.total * sizeof(float));
    m->grads = calloc(tb.total, sizeof(float));
    m->adam_m = calloc(tb.total, sizeof(float));
    m->adam_v = calloc(tb.total, sizeof(float));
    if (!m->params || !m->grads || !m->adam_m || !m->adam_v) {
        snprintf(err, CASCADE_ERR_MAX, "model: out of memory for %zu parameters", tb.total);
        model_free(m);
        return -1;
    }
    init_params(m, seed);
    return 0;
}

void model_free(struct model *m)
{
    acts_free(m->acts);
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m->tensors);
    free(m->layout);
    memset(m, 0, sizeof *m);
}

/* Times stmt into m->profile->dir[op] when profiling (struct model_profile). */
#define PROF(m, dir, op, stmt) do { double t0_ = (m)->profile ? omp_get_wtime() : 0.0; stmt; \
    if ((m)->profile) (m)->profile->dir[op] += omp_get_wtime() - t0_; } while (0)

const char *model_prof_op_name(enum model_prof_op op)
{
    static const char *const names[PROF_N] = {
        [PROF_EMBED] = "embedding", [PROF_LAYERNORM] = "layernorm", [PROF_MM_ATTN_IN] = "matmul attn in",
        [PROF_ATTN_CORE] = "attention", [PROF_MM_ATTN_OUT] = "matmul attn out", [PROF_MM_FC] = "matmul mlp fc",
        [PROF_GELU] = "gelu", [PROF_MM_FC_PROJ] = "matmul mlp proj", [PROF_RESIDUAL] = "residual",
        [PROF_HEAD] = "matmul tied head", [PROF_XENT] = "cross-entropy", [PROF_ZERO] = "zeroing",
        [PROF_ADAMW] = "clip + adamw",
    };
    return op >= 0 && op < PROF_N ? names[op] : "?";
}

void model_zero_grad(struct model *m)
{
    PROF(m, bwd, PROF_ZERO, memset(m->grads, 0, m->n_params * sizeof(float)));
}

/* ------------------------------------------------------------------------------------ */
/* Forward                                                                                */

static void attention_block_forward(struct model *m, int l, const float *x, int B, int T)
{
    const struct model_config *c = &m->cfg;
    struct layer_acts *la = &m->acts->layers[l];
    struct layer_ptrs p = layer_ptrs_in(m, m->params, l);
    int N = B * T, C = c->n_embd, H = c->n_head;
    int d = c->layers[l].qk_dim, dv = c->layers[l].v_dim, Hd = H * d, Hdv = H * dv;
    int ld = 2 * Hd + Hdv;
    float *q = la->qkv, *k = la->qkv + Hd, *v = la->qkv + 2 * Hd;
    switch (c->layers[l].kind) {
    case ATTN_SOFTMAX:
        PROF(m, fwd, PROF_MM_ATTN_IN, matmul_forward(la->qkv, ld, x, p.qkvw, p.qkvb, N, C, ld));
        PROF(m, fwd, PROF_ATTN_CORE, attention_forward(la->atty, la->att, q, k, v, ld, B, T, H, d, dv));
        break;
    case ATTN_SD:
        PROF(m, fwd, PROF_MM_ATTN_IN,
             /* p = x U, kept as keys; v = x W_V + b_V */
             matmul_forward_pair(k, p.u, NULL, Hd, v, p.vw, p.vb, Hdv, ld, x, N, C));
        PROF(m, fwd, PROF_ATTN_CORE,
             sd_build_l(la->lmat, p.s, p.delta, H, d);
             sd_query_forward(q, ld, k, ld, la->lmat, N, H, d);      /* q = p L */
             attention_forward(la->atty, la->att, q, k, v, ld, B, T, H, d, dv));
        break;
    case ATTN_LINEAR:
        PROF(m, fwd, PROF_MM_ATTN_IN, matmul_forward(la->qkv, ld, x, p.qkvw, p.qkvb, N, C, ld));
        PROF(m, fwd, PROF_ATTN_CORE,
             linear_attention_forward(la->atty, la->den, m->acts->scratch, q, k, v, ld, B, T, H, d, dv));
        break;
    }
    PROF(m, fwd, PROF_MM_ATTN_OUT, matmul_forward(la->attproj, C, la->atty, p.projw, p.projb, N, Hdv, C));
}

int model_forward(struct model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                  float *loss, char *err)
{
    const struct model_config *c = &m->cfg;
    assert(T >= 1 && T <= c->seq_len && B >= 1);
    if (loss) *loss = 0.0f;
    if (acts_ensure(m, B, T, err) != 0) return -1;
    struct model_acts *a = m->acts;
    struct global_ptrs w = global_ptrs_in(m, m->params);
    int N = B * T, C = c->n_embd, V = c->vocab_size;
    a->inputs = inputs;
    a->targets = targets;
    a->has_targets = targets != NULL;

    PROF(m, fwd, PROF_EMBED, encoder_forward(a->encoded, inputs, w.wte, w.wpe, c->embed_scale, B, T, C));
    const float *x = a->encoded;
    for (int l = 0; l < c->n_layer; l++) {
        struct layer_acts *la = &a->layers[l];
        struct layer_ptrs p = layer_ptrs_in(m, m->params, l);
        const float *xin = x;
        if (c->layernorm) {
            PROF(m, fwd, PROF_LAYERNORM, layernorm_forward(la->ln1, la->ln1_mean, la->ln1_rstd, x, p.ln1w, p.ln1b, N, C));
            xin = la->ln1;
        }
        attention_block_forward(m, l, xin, B, T);
        PROF(m, fwd, PROF_RESIDUAL, residual_forward(la->res1, x, la->attproj, (long)N * C));
        const float *hin = la->res1;
        if (c->layernorm) {
            PROF(m, fwd, PROF_LAYERNORM,
                 layernorm_forward(la->ln2, la->ln2_mean, la->ln2_rstd, la->res1, p.ln2w, p.ln2b, N, C));
            hin = la->ln2;
        }
        PROF(m, fwd, PROF_MM_FC, matmul_forward(la->fch, 4 * C, hin, p.fcw, p.fcb, N, C, 4 * C));
        PROF(m, fwd, PROF_GELU, gelu_forward(la->fch_gelu, la->fch, (long)N * 4 * C));
        PROF(m, fwd, PROF_MM_FC_PROJ,
             matmul_forward(la->fcproj, C, la->fch_gelu, p.fcprojw, p.fcprojb, N, 4 * C, C));
        PROF(m, fwd, PROF_RESIDUAL, residual_forward(la->res2, la->res1, la->fcproj, (long)N * C));
        x = la->res2;
    }
    if (c->layernorm) {
        PROF(m, fwd, PROF_LAYERNORM, layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, x, w.lnfw, w.lnfb, N, C));
        x = a->lnf;
    }
    PROF(m, fwd, PROF_HEAD, tied_head_forward(a->logits, x, w.wte, N, C, V));
    if (!targets) return 0;
    PROF(m, fwd, PROF_XENT, crossentropy_forward(a->losses, a->probs, a->logits, targets, N, V));
    double sum = 0.0;
    for (int i = 0; i < N; i++) sum += a->losses[i];
    if (loss) *loss = (float)(sum / N);
    return 0;
}

const float *model_logits(const struct model *m)
{
    return m->acts ? m->acts->logits : NULL;
}

int model_attention_logits(const struct model *m, int l, int h, int b, float *out)
{
    const struct model_config *c = &m->cfg;
    if (!m->acts || l < 0 || l >= c->n_layer || h < 0 || h >= c->n_head ||
        b < 0 || b >= m->acts->B || c->layers[l].kind == ATTN_LINEAR)
        return -1;
    int T = m->acts->T, d = c->layers[l].qk_dim, Hd = c->n_head * d;
    int ld = 2 * Hd + c->n_head * c->layers[l].v_dim;
    const float *qkv = m->acts->layers[l].qkv + (size_t)b * T * ld + (size_t)h * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d,
                1.0f / sqrtf((float)d), qkv, ld, qkv + Hd, ld, 0.0f, out, T);
    return 0;
}

int model_sd_matrix(const struct model *m, int l, int h, float *out)
{
    const struct model_config *c = &m->cfg;
    if (l < 0 || l >= c->n_layer || h < 0 || h >= c->n_head || c->layers[l].kind != ATTN_SD) return -1;
    struct layer_ptrs p = layer_ptrs_in(m, m->params, l);
    int d = c->layers[l].qk_dim;
    sd_build_l(out, p.s + (size_t)h * d * (d - 1) / 2, p.delta + (size_t)h * d, 1, d);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Backward                                                                               */

/* Given datty (the gradient of the attention output), accumulates the gradients of the
 * layer's attention parameters and of its input x (into dx). */
static void attention_block_backward(struct model *m, int l, const float *x, float *dx, int B, int T)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a = m->acts;
    struct layer_acts *la = &a->layers[l];
    struct layer_ptrs p = layer_ptrs_in(m, m->params, l);
    struct layer_ptrs g = layer_ptrs_in(m, m->grads, l);
    int N = B * T, C = c->n_embd, H = c->n_head;
    int d = c->layers[l].qk_dim, dv = c->layers[l].v_dim, Hd = H * d, Hdv = H * dv;
    int ld = 2 * Hd + Hdv;
    const float *q = la->qkv, *k = la->qkv + Hd, *v = la->qkv + 2 * Hd;
    float *dq = a->dqkv, *dk = a->dqkv + Hd, *dv_ = a->dqkv + 2 * Hd;   /* dv_: the gradient of v */
    /* softmax attention's backward overwrites dq, dk, dv (the whole of dqkv): no zeroing */
    if (c->layers[l].kind == ATTN_LINEAR)
        PROF(m, bwd, PROF_ZERO, memset(a->dqkv, 0, sizeof(float) * (size_t)N * ld));
    switch (c->layers[l].kind) {
    case ATTN_SOFTMAX:
        PROF(m, bwd, PROF_ATTN_CORE,
             attention_backward_set(dq, dk, dv_, a->scratch, a->datty, q, k, v, la->att, ld, B, T, H, d, dv));
        PROF(m, bwd, PROF_MM_ATTN_IN, matmul_backward(dx, g.qkvw, g.qkvb, a->dqkv, ld, x, p.qkvw, N, C, ld));
        break;
    case ATTN_SD:
        PROF(m, bwd, PROF_ATTN_CORE,
             attention_backward_set(dq, dk, dv_, a->scratch, a->datty, q, k, v, la->att, ld, B, T, H, d, dv);
             memset(a->dlmat, 0, sizeof(float) * (size_t)H * d * d);
             sd_query_backward(dk, ld, a->dlmat, dq, ld, k, la->lmat, N, H, d); /* dp = dk + dq L^T */
             sd_build_l_backward(g.s, g.delta, a->dlmat, p.delta, H, d));
        PROF(m, bwd, PROF_MM_ATTN_IN,
             matmul_backward_pair(dx, x, N, C, ld, g.u, NULL, dk, p.u, Hd, g.vw, g.vb, dv_, p.vw, Hdv));
        break;
    case ATTN_LINEAR:
        PROF(m, bwd, PROF_ATTN_CORE,
             linear_attention_backward(dq, dk, dv_, a->scratch, a->datty, q, k, v, la->atty, la->den,
                                       ld, B, T, H, d, dv));
        PROF(m, bwd, PROF_MM_ATTN_IN, matmul_backward(dx, g.qkvw, g.qkvb, a->dqkv, ld, x, p.qkvw, N, C, ld));
        break;
    }
}

void model_backward(struct model *m)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a = m->acts;
    assert(a && a->has_targets);
    struct global_ptrs w = global_ptrs_in(m, m->params), gw = global_ptrs_in(m, m->grads);
    int B = a->B, T = a->T, N = B * T, C = c->n_embd, V = c->vocab_size, L = c->n_layer;
    float *dres = a->dresid;

    PROF(m, bwd, PROF_ZERO, memset(a->dlogits, 0, sizeof(float) * (size_t)N * V));
    PROF(m, bwd, PROF_XENT, crossentropy_backward(a->dlogits, a->probs, a->targets, 1.0f / N, N, V));
    const float *xlast = L > 0 ? a->layers[L - 1].res2 : a->encoded;
    PROF(m, bwd, PROF_ZERO, memset(dres, 0, sizeof(float) * (size_t)N * C));
    if (c->layernorm) {
        PROF(m, bwd, PROF_ZERO, memset(a->dln, 0, sizeof(float) * (size_t)N * C));
        PROF(m, bwd, PROF_HEAD, tied_head_backward(a->dln, gw.wte, a->dlogits, a->lnf, w.wte, N, C, V));
        PROF(m, bwd, PROF_LAYERNORM,
             layernorm_backward(dres, gw.lnfw, gw.lnfb, a->dln, xlast, w.lnfw, a->lnf_mean, a->lnf_rstd, N, C));
    } else {
        PROF(m, bwd, PROF_HEAD, tied_head_backward(dres, gw.wte, a->dlogits, xlast, w.wte, N, C, V));
    }

    for (int l = L - 1; l >= 0; l--) {
        struct layer_acts *la = &a->layers[l];
        struct layer_ptrs p = layer_ptrs_in(m, m->params, l);
        struct layer_ptrs g = layer_ptrs_in(m, m->grads, l);
        int Hdv = c->n_head * c->layers[l].v_dim;
        const float *x = l > 0 ? a->layers[l - 1].res2 : a->encoded;
        /* dres holds d(res2). MLP branch: res2 = res1 + fcproj(gelu(fc(ln2(res1)))). */
        /* dfch_gelu, dfch, dln and datty have one writer each, which overwrites them:
         * no zeroing pass (_set variants) */
        PROF(m, bwd, PROF_MM_FC_PROJ,
             matmul_backward_set(a->dfch_gelu, g.fcprojw, g.fcprojb, dres, C, la->fch_gelu, p.fcprojw,
                                 N, 4 * C, C));
        PROF(m, bwd, PROF_GELU, gelu_backward_set(a->dfch, la->fch, a->dfch_gelu, (long)N * 4 * C));
        if (c->layernorm) {
            PROF(m, bwd, PROF_MM_FC, matmul_backward_set(a->dln, g.fcw, g.fcb, a->dfch, 4 * C, la->ln2, p.fcw, N, C, 4 * C));
            PROF(m, bwd, PROF_LAYERNORM,
                 layernorm_backward(dres, g.ln2w, g.ln2b, a->dln, la->res1, p.ln2w,
                                    la->ln2_mean, la->ln2_rstd, N, C));
        } else {
            PROF(m, bwd, PROF_MM_FC,
                 matmul_backward(dres, g.fcw, g.fcb, a->dfch, 4 * C, la->res1, p.fcw, N, C, 4 * C));
        }
        /* dres now holds d(res1). Attention branch: res1 = x + proj(attn(ln1(x))). */
        PROF(m, bwd, PROF_MM_ATTN_OUT,
             matmul_backward_set(a->datty, g.projw, g.projb, dres, C, la->atty, p.projw, N, Hdv, C));
        if (c->layernorm) {
            PROF(m, bwd, PROF_ZERO, memset(a->dln, 0, sizeof(float) * (size_t)N * C));
            attention_block_backward(m, l, la->ln1, a->dln, B, T);
            PROF(m, bwd, PROF_LAYERNORM,
                 layernorm_backward(dres, g.ln1w, g.ln1b, a->dln, x, p.ln1w,
                                    la->ln1_mean, la->ln1_rstd, N, C));
        } else {
            attention_block_backward(m, l, x, dres, B, T);
        }
    }
    PROF(m, bwd, PROF_EMBED, encoder_backward(gw.wte, gw.wpe, dres, a->inputs, c->embed_scale, B, T, C));
}

/* ------------------------------------------------------------------------------------ */
/* Optimiser                                                                              */

float trainer_lr_at(const struct train_config *tc, int64_t step)
{
    if (step < tc->warmup_steps) return (float)(tc->lr * (double)(step + 1) / tc->warmup_steps);
    int64_t span = tc->steps - tc->warmup_steps;
    if (span <= 1) return (float)tc->lr;
    double frac = (double)(step - tc->warmup_steps) / (double)(span - 1);
    if (frac > 1.0) frac = 1.0;
    double min_lr = tc->lr * tc->min_lr_frac;
    return (float)(min_lr + 0.5 * (tc->lr - min_lr) * (1.0 + cos(M_PI * frac)));
}

static float clip_and_step(struct model *m, const struct train_config *tc, float lr);
float model_clip_and_step(struct model *m, const struct train_config *tc, float lr)
{
    float norm;
    PROF(m, bwd, PROF_ADAMW, norm = clip_and_step(m, tc, lr));
    return norm;
}

#define NORM_PARTS 256   /* partial sums of the gradient norm: ranges fixed by n_params alone */
#define NORM_LANES 32    /* interleaved sums within a range (vector lanes, several chains) */

/* One sweep: the gradient norm as NORM_PARTS partial sums over fixed ranges (in parallel,
 * then added in order, so the value does not depend on the thread count), then AdamW over
 * every tensor in one parallel region (one fork/join per step instead of one per tensor). */
static float clip_and_step(struct model *m, const struct train_config *tc, float lr)
{
    const size_t n = m->n_params;
    double partial[NORM_PARTS], sq = 0.0;
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < NORM_PARTS; c++) {
        size_t i0 = n * c / NORM_PARTS, i1 = n * (c + 1) / NORM_PARTS;
        /* NORM_LANES independent sums (the order fixed by i alone): one chain of dependent
         * double adds ran at 4 cycles an element (clip + AdamW: 1.06 -> 0.78 ms a demo step) */
        const float *g = m->grads;
        double lane[NORM_LANES] = {0}, s = 0.0;
        size_t i = i0;
        for (; i + NORM_LANES <= i1; i += NORM_LANES)
            for (int j = 0; j < NORM_LANES; j++) lane[j] += (double)g[i + j] * g[i + j];
        for (; i < i1; i++) lane[0] += (double)g[i] * g[i];
        for (int j = 0; j < NORM_LANES; j++) s += lane[j];
        partial[c] = s;
    }
    for (int c = 0; c < NORM_PARTS; c++) sq += partial[c];
    float norm = (float)sqrt(sq);
    float scale = 1.0f;
    if (tc->grad_clip > 0 && norm > tc->grad_clip) scale = (float)(tc->grad_clip / norm);
    m->step++;
    const float b1 = (float)tc->beta1, b2 = (float)tc->beta2, eps = (float)tc->adam_eps;
    const float c1 = 1.0f - powf(b1, (float)m->step), c2 = 1.0f - powf(b2, (float)m->step);
    #pragma omp parallel
    for (int t = 0; t < m->n_tensors; t++) {
        const struct param_tensor *pt = &m->tensors[t];
        int decays = pt->decay == DECAY_ALWAYS || (pt->decay == DECAY_IF_S && tc->decay_s);
        const float wd = decays ? (float)tc->weight_decay : 0.0f;
        float *p = m->params + pt->offset, *mm = m->adam_m + pt->offset, *vv = m->adam_v + pt->offset;
        const float *g = m->grads + pt->offset;
        #pragma omp for simd schedule(static) nowait
        for (size_t i = 0; i < pt->numel; i++) {
            float gi = g[i] * scale;
            mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
            vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
            float mhat = mm[i] / c1, vhat = vv[i] / c2;
            p[i] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * p[i]);
        }
    }
    return norm;
}

int model_sd_subtract_init(struct model *m, uint64_t seed, char *err)
{
    struct model m0;
    if (model_init(&m0, &m->cfg, seed, err) != 0) return -1;
    for (int l = 0; l < m->cfg.n_layer; l++) {
        if (m->cfg.layers[l].kind != ATTN_SD) continue;
        char name[64];
        snprintf(name, sizeof name, "h.%d.attn.s", l);
        const struct param_tensor *t = model_find_tensor(m, name);
        const float *s0 = model_param(&m0, name);
        assert(t && s0);   /* every S-D layer has its s (trainer/layout.h) */
        float *s = m->params + t->offset;
        for (size_t i = 0; i < t->numel; i++) s[i] -= s0[i];
    }
    model_free(&m0);
    return 0;
}
