/* trainer/layout.h — the parameter layout: every parameter tensor of the model, listed
 * once (private to the trainer module; other modules see tensors through trainer.h's
 * struct param_tensor and model_param()).
 *
 * PARAM_TABLE is the only list. From it come
 *   - the checkpoint tensor table (names, shapes, order, offsets; model.c),
 *   - struct global_ptrs and struct layer_ptrs, the named pointers forward and backward
 *     use (model.c),
 *   - the initialisation of every tensor (model.c),
 *   - the parameter counts (model_config_param_counts, config.c),
 * so adding a tensor is adding one row. (The kernels that use it are code, not layout.)
 *
 * One row per tensor, in checkpoint order. G rows are model-wide tensors (one each); L rows
 * are per-layer tensors named "h.{l}.NAME". A run of consecutive L rows is emitted for
 * layer 0, 1, ..., L-1 in turn at its place in the list (GPT-2 order: wte, wpe, the blocks,
 * lnf). Columns:
 *   field  the pointer's name in struct global_ptrs (G) or struct layer_ptrs (L)
 *   name   checkpoint name (G) or the suffix after "h.{l}." (L)
 *   rows, cols  the shape, as expressions in V T C H d Hd dv Hdv (SPEC.md symbols; d is the
 *          layer's qk_dim (query/key width of a head), dv its v_dim (value width), Hd = H*d,
 *          Hdv = H*dv; all 0 in G rows). cols 0 means a 1-D tensor of `rows` floats; so
 *          does a cols expression that evaluates to 0: attn.s of an S–D layer with d = 1
 *          has always been stored as (H) (unused floats; kept for checkpoint and
 *          initialisation compatibility).
 *   decay  DECAY_ALWAYS: AdamW weight decay applies (the 2-D matmul weights; never
 *          embeddings, biases, LayerNorm or delta); DECAY_IF_S: only when train.decay_s
 *          (S-D's s, which weight decay pulls toward S = 0) [ours]
 *   init   enum param_init below
 *   when   which layers have it: the attention kinds that use it (KIND_SOFTMAX, KIND_SD,
 *          KIND_LINEAR, KINDS_ALL), | WITH_LN when it exists only with layernorm on.
 *          G rows use KINDS_ALL.
 * Attention parameters (param_counts.attention) are the L rows whose name starts "attn.".
 * Weights are (in, out): y = x W + b; head h of a (.., H*d) tensor is columns h*d..h*d+d-1
 * (of an (.., H*dv) tensor, h*dv..h*dv+dv-1).
 */
#ifndef CASCADE_TRAINER_LAYOUT_H
#define CASCADE_TRAINER_LAYOUT_H

#include "trainer/trainer.h"

#include <stddef.h>

#define PARAM_TABLE(G, L)                                                                           \
    /* field    name            rows    cols              decay init           when            */ \
    /* token embedding (also the tied output head), position embedding */                         \
    G(wte,      "wte",          V,      C,                0,    INIT_NORMAL,   KINDS_ALL)           \
    G(wpe,      "wpe",          T,      C,                0,    INIT_NORMAL,   KINDS_ALL)           \
    L(ln1w,     "ln1.w",        C,      0,                0,    INIT_ONE,      KINDS_ALL | WITH_LN) \
    L(ln1b,     "ln1.b",        C,      0,                0,    INIT_ZERO,     KINDS_ALL | WITH_LN) \
    /* [W_Q | W_K | W_V] */                                                                         \
    L(qkvw,     "attn.qkv.w",   C,      2 * Hd + Hdv,     1,    INIT_NORMAL,   KIND_SOFTMAX | KIND_LINEAR) \
    L(qkvb,     "attn.qkv.b",   2 * Hd + Hdv, 0,          0,    INIT_ZERO,     KIND_SOFTMAX | KIND_LINEAR) \
    /* S–D (SPEC §2): [U] shared query/key projection, no bias; [s] upper triangle of S,  */ \
    /* row-major (i < j); [δ] D = diag(softplus(δ)); [W_V]                                 */ \
    L(u,        "attn.u",       C,      Hd,               1,    INIT_NORMAL,   KIND_SD)             \
    L(s,        "attn.s",       H,      d * (d - 1) / 2,  2,    INIT_SD_S,     KIND_SD)             \
    L(delta,    "attn.delta",   H,      d,                0,    INIT_SD_DELTA, KIND_SD)             \
    L(vw,       "attn.v.w",     C,      Hdv,              1,    INIT_NORMAL,   KIND_SD)             \
    L(vb,       "attn.v.b",     Hdv,    0,                0,    INIT_ZERO,     KIND_SD)             \
    /* W_O */                                                                                       \
    L(projw,    "attn.proj.w",  Hdv,    C,                1,    INIT_PROJ,     KINDS_ALL)           \
    L(projb,    "attn.proj.b",  C,      0,                0,    INIT_ZERO,     KINDS_ALL)           \
    L(ln2w,     "ln2.w",        C,      0,                0,    INIT_ONE,      KINDS_ALL | WITH_LN) \
    L(ln2b,     "ln2.b",        C,      0,                0,    INIT_ZERO,     KINDS_ALL | WITH_LN) \
    L(fcw,      "mlp.fc.w",     C,      4 * C,            1,    INIT_NORMAL,   KINDS_ALL)           \
    L(fcb,      "mlp.fc.b",     4 * C,  0,                0,    INIT_ZERO,     KINDS_ALL)           \
    L(fcprojw,  "mlp.proj.w",   4 * C,  C,                1,    INIT_PROJ,     KINDS_ALL)           \
    L(fcprojb,  "mlp.proj.b",   C,      0,                0,    INIT_ZERO,     KINDS_ALL)           \
    G(lnfw,     "lnf.w",        C,      0,                0,    INIT_ONE,      KINDS_ALL | WITH_LN) \
    G(lnfb,     "lnf.b",        C,      0,                0,    INIT_ZERO,     KINDS_ALL | WITH_LN)

/* Initialisation (GPT-2, and SPEC §2 for S–D). Tensors are filled in checkpoint order
 * from one generator; only the normal fills draw from it. */
enum param_init {
    INIT_NORMAL,    /* N(0, 0.02^2) */
    INIT_PROJ,      /* N(0, 0.02^2 / (2L)) with residual_scale_init, else as INIT_NORMAL:
                     * output projections into the residual stream (GPT-2) */
    INIT_ZERO,      /* biases */
    INIT_ONE,       /* LayerNorm gains */
    INIT_SD_S,      /* N(0, model.sd_s_init_std^2), 0.1 by default */
    INIT_SD_DELTA,  /* 0.1 */
};

/* The `when` column. One bit per attention kind, so a row lists the kinds that have it. */
enum param_when {
    KIND_SOFTMAX = 1 << ATTN_SOFTMAX,
    KIND_SD = 1 << ATTN_SD,
    KIND_LINEAR = 1 << ATTN_LINEAR,
    KINDS_ALL = KIND_SOFTMAX | KIND_SD | KIND_LINEAR,
    WITH_LN = 1 << 8,
};

/* ROW_wte, ROW_wpe, ROW_ln1w, ...: a row's index in the table. */
#define LAYOUT_ROW_ID(field, ...) ROW_##field,
enum param_row { PARAM_TABLE(LAYOUT_ROW_ID, LAYOUT_ROW_ID) PARAM_ROWS };
#undef LAYOUT_ROW_ID

/* One tensor of a model config: a row in a layer, or a model-wide row. */
struct layout_tensor {
    enum param_row row;
    int layer;              /* -1 for G rows */
    const char *name;       /* the row's name: the whole name (G) or the suffix after "h.{l}." (L) */
    int ndim;               /* 1 or 2 */
    long shape[2];          /* shape[1] is 0 when ndim is 1 */
    size_t numel;
    int decay;
    enum param_init init;
    int attention;          /* 1: counted in param_counts.attention */
};

typedef void (*layout_fn)(const struct layout_tensor *t, void *user);
/* Calls fn (when not NULL) on every tensor model config c has, in checkpoint order, and
 * returns how many there are. Layers beyond TRAINER_MAX_LAYERS are ignored, so it is safe
 * on a config that was not validated (counts only mean something for a valid one). */
int layout_walk(const struct model_config *c, layout_fn fn, void *user);

#endif
