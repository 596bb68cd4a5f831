/* tests/test_trainer.c — gradient checks of the GPT kernels (trainer/ops.c) and of the
 * whole model, determinism, and exact resume from a checkpoint.
 *
 * Gradient checks use central differences of a scalar loss computed in float with a
 * double accumulator: num = (f(x + h) - f(x - h)) / 2h. An analytic gradient a passes
 * when |a - num| <= RTOL * max(|a|, |num|) + ATOL. With h = 1e-2 and O(1) inputs the
 * float rounding noise of num is ~1e-5 and its truncation error O(h^2) ~1e-4 of the
 * curvature, so RTOL = 1e-2, ATOL = 2e-4 separates a right gradient from one with a
 * wrong sign, a missing term or a factor off (each gives errors of order |a|).
 */
#include "test.h"
#include "trainer/ops.h"
#include "trainer/trainer.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RTOL 1e-2
#define ATOL 2e-4
#define FD_H 1e-2f

static void fill(float *x, long n, float std, uint64_t *rng)
{
    for (long i = 0; i < n; i++) x[i] = std * trainer_rng_normal(rng);
}

static double dot(const float *a, const float *b, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* f(ctx) evaluates the scalar loss at the current inputs. For each of n entries of x
 * (all, or `samples` spread over x) compares ga with central differences. Returns the
 * number of mismatches and reports the first few. */
typedef double (*loss_fn)(void *ctx);
static int grad_check(struct test_ctx *t_, const char *what, loss_fn f, void *ctx, float *x,
                      const float *ga, long n, long samples)
{
    int bad = 0;
    long stride = samples > 0 && samples < n ? n / samples : 1;
    for (long i = 0; i < n; i += stride) {
        float keep = x[i];
        x[i] = keep + FD_H;
        double fp = f(ctx);
        x[i] = keep - FD_H;
        double fm = f(ctx);
        x[i] = keep;
        double num = (fp - fm) / (2.0 * FD_H), a = ga[i];
        double tol = RTOL * fmax(fabs(a), fabs(num)) + ATOL;
        if (!(fabs(a - num) <= tol)) {
            if (bad < 3) test_fail(t_, __FILE__, __LINE__, "%s[%ld]: analytic %.6g numeric %.6g", what, i, a, num);
            bad++;
        }
    }
    return bad;
}

/* ---- LayerNorm ---------------------------------------------------------------------- */
struct ln_ctx { int N, C; float *x, *w, *b, *out, *mean, *rstd, *wout; };
static double ln_loss(void *p)
{
    struct ln_ctx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->x, c->w, c->b, c->N, c->C);
    return dot(c->out, c->wout, (long)c->N * c->C);
}
TEST(ops_layernorm_gradients)
{
    uint64_t rng = 1;
    struct ln_ctx c = { 3, 7 };
    long n = c.N * c.C;
    c.x = malloc(4 * n); c.w = malloc(4 * c.C); c.b = malloc(4 * c.C); c.out = malloc(4 * n);
    c.mean = malloc(4 * c.N); c.rstd = malloc(4 * c.N); c.wout = malloc(4 * n);
    fill(c.x, n, 1, &rng); fill(c.w, c.C, 1, &rng); fill(c.b, c.C, 1, &rng); fill(c.wout, n, 1, &rng);
    float *dx = calloc(n, 4), *dw = calloc(c.C, 4), *db = calloc(c.C, 4);
    ln_loss(&c);
    layernorm_backward(dx, dw, db, c.wout, c.x, c.w, c.mean, c.rstd, c.N, c.C);
    CHECK(grad_check(t_, "dx", ln_loss, &c, c.x, dx, n, 0) == 0);
    CHECK(grad_check(t_, "dw", ln_loss, &c, c.w, dw, c.C, 0) == 0);
    CHECK(grad_check(t_, "db", ln_loss, &c, c.b, db, c.C, 0) == 0);
    /* the normalised rows have mean b and the right spread: a forward check */
    ln_loss(&c);
    double m0 = 0;
    for (int i = 0; i < c.C; i++) m0 += (c.out[i] - c.b[i]) / c.w[i];
    CHECK_NEAR(m0 / c.C, 0.0, 1e-5);
    free(c.x); free(c.w); free(c.b); free(c.out); free(c.mean); free(c.rstd); free(c.wout);
    free(dx); free(dw); free(db);
}

/* ---- Matmul (strided output) -------------------------------------------------------- */
struct mm_ctx { int N, IC, OC, ldo; float *x, *w, *bias, *out, *wout; };
static double mm_loss(void *p)
{
    struct mm_ctx *c = p;
    matmul_forward(c->out, c->ldo, c->x, c->w, c->bias, c->N, c->IC, c->OC);
    double s = 0;
    for (int n = 0; n < c->N; n++) s += dot(c->out + (long)n * c->ldo, c->wout + (long)n * c->ldo, c->OC);
    return s;
}
TEST(ops_matmul_gradients)
{
    uint64_t rng = 2;
    struct mm_ctx c = { 5, 6, 4, 9 };
    c.x = malloc(4 * c.N * c.IC); c.w = malloc(4 * c.IC * c.OC); c.bias = malloc(4 * c.OC);
    c.out = calloc(c.N * c.ldo, 4); c.wout = calloc(c.N * c.ldo, 4);
    fill(c.x, c.N * c.IC, 1, &rng); fill(c.w, c.IC * c.OC, 1, &rng); fill(c.bias, c.OC, 1, &rng);
    fill(c.wout, c.N * c.ldo, 1, &rng);
    float *dx = calloc(c.N * c.IC, 4), *dw = calloc(c.IC * c.OC, 4), *db = calloc(c.OC, 4);
    /* the columns past OC in each output row must stay untouched */
    c.out[c.ldo - 1] = 42.0f;
    mm_loss(&c);
    CHECK(c.out[c.ldo - 1] == 42.0f);
    double out00 = c.bias[0];   /* row 0, column 0 by hand */
    for (int i = 0; i < c.IC; i++) out00 += c.x[i] * c.w[i * c.OC];
    CHECK_NEAR(c.out[0], out00, 1e-5);
    matmul_backward(dx, dw, db, c.wout, c.ldo, c.x, c.w, c.N, c.IC, c.OC);
    CHECK(grad_check(t_, "dx", mm_loss, &c, c.x, dx, c.N * c.IC, 0) == 0);
    CHECK(grad_check(t_, "dw", mm_loss, &c, c.w, dw, c.IC * c.OC, 0) == 0);
    CHECK(grad_check(t_, "dbias", mm_loss, &c, c.bias, db, c.OC, 0) == 0);
    free(c.x); free(c.w); free(c.bias); free(c.out); free(c.wout); free(dx); free(dw); free(db);
}

/* ---- Tied head, GELU, cross-entropy, embedding ---------------------------------------- */
struct head_ctx { int N, C, V; float *x, *wte, *logits, *wout; };
static double head_loss(void *p)
{
    struct head_ctx *c = p;
    tied_head_forward(c->logits, c->x, c->wte, c->N, c->C, c->V);
    return dot(c->logits, c->wout, (long)c->N * c->V);
}
TEST(ops_tied_head_gradients)
{
    uint64_t rng = 3;
    struct head_ctx c = { 4, 5, 7 };
    c.x = malloc(4 * 20); c.wte = malloc(4 * 35); c.logits = malloc(4 * 28); c.wout = malloc(4 * 28);
    fill(c.x, 20, 1, &rng); fill(c.wte, 35, 1, &rng); fill(c.wout, 28, 1, &rng);
    float *dx = calloc(20, 4), *dwte = calloc(35, 4);
    head_loss(&c);
    tied_head_backward(dx, dwte, c.wout, c.x, c.wte, c.N, c.C, c.V);
    CHECK(grad_check(t_, "dx", head_loss, &c, c.x, dx, 20, 0) == 0);
    CHECK(grad_check(t_, "dwte", head_loss, &c, c.wte, dwte, 35, 0) == 0);
    free(c.x); free(c.wte); free(c.logits); free(c.wout); free(dx); free(dwte);
}

struct gelu_ctx { long n; float *x, *out, *wout; };
static double gelu_loss(void *p)
{
    struct gelu_ctx *c = p;
    gelu_forward(c->out, c->x, c->n);
    return dot(c->out, c->wout, c->n);
}
TEST(ops_gelu_gradients)
{
    uint64_t rng = 4;
    struct gelu_ctx c = { 40 };
    c.x = malloc(160); c.out = malloc(160); c.wout = malloc(160);
    fill(c.x, 40, 2, &rng); fill(c.wout, 40, 1, &rng);
    float *dx = calloc(40, 4);
    gelu_loss(&c);
    CHECK_NEAR(c.out[0], 0.5 * c.x[0] * (1 + erf(c.x[0] / sqrt(2.0))), 2e-3); /* tanh form ~ erf form */
    gelu_backward(dx, c.x, c.wout, 40);
    CHECK(grad_check(t_, "dx", gelu_loss, &c, c.x, dx, 40, 0) == 0);
    free(c.x); free(c.out); free(c.wout); free(dx);
}

struct ce_ctx { int N, V; float *logits, *probs, *losses; int32_t *tg; };
static double ce_loss(void *p)
{
    struct ce_ctx *c = p;
    crossentropy_forward(c->losses, c->probs, c->logits, c->tg, c->N, c->V);
    double s = 0;
    for (int i = 0; i < c->N; i++) s += c->losses[i];
    return s / c->N;
}
TEST(ops_crossentropy_gradients)
{
    uint64_t rng = 5;
    int32_t tg[3] = { 0, 4, 2 };
    struct ce_ctx c = { 3, 5, malloc(60), malloc(60), malloc(12), tg };
    fill(c.logits, 15, 2, &rng);
    double l = ce_loss(&c);
    /* against the textbook formula for row 1 */
    double se = 0;
    for (int v = 0; v < 5; v++) se += exp(c.logits[5 + v]);
    CHECK_NEAR(c.losses[1], -(c.logits[9] - log(se)), 1e-5);
    CHECK(l > 0);
    float *dl = calloc(15, 4);
    crossentropy_backward(dl, c.probs, tg, 1.0f / 3, 3, 5);
    CHECK(grad_check(t_, "dlogits", ce_loss, &c, c.logits, dl, 15, 0) == 0);
    free(c.logits); free(c.probs); free(c.losses); free(dl);
}

struct enc_ctx { int B, T, C; float scale; int32_t *inp; float *wte, *wpe, *out, *wout; };
static double enc_loss(void *p)
{
    struct enc_ctx *c = p;
    encoder_forward(c->out, c->inp, c->wte, c->wpe, c->scale, c->B, c->T, c->C);
    return dot(c->out, c->wout, (long)c->B * c->T * c->C);
}
TEST(ops_encoder_finite_differences)
{
    uint64_t rng = 8;
    int32_t inp[6] = { 2, 0, 2, 1, 2, 3 };
    struct enc_ctx c = { 2, 3, 4, 1.0f, inp, malloc(64), malloc(48), malloc(96), malloc(96) };
    fill(c.wte, 16, 1, &rng); fill(c.wpe, 12, 1, &rng); fill(c.wout, 24, 1, &rng);
    float *dwte = calloc(16, 4), *dwpe = calloc(12, 4);
    /* scale 1 (GPT-2) and the no-LayerNorm multiplier */
    const float scales[2] = { 1.0f, 3.5f };
    for (int k = 0; k < 2; k++) {
        c.scale = scales[k];
        memset(dwte, 0, 64); memset(dwpe, 0, 48);
        encoder_backward(dwte, dwpe, c.wout, inp, c.scale, 2, 3, 4);
        CHECK(grad_check(t_, "dwte", enc_loss, &c, c.wte, dwte, 16, 0) == 0);
        CHECK(grad_check(t_, "dwpe", enc_loss, &c, c.wpe, dwpe, 12, 0) == 0);
    }
    free(c.wte); free(c.wpe); free(c.out); free(c.wout); free(dwte); free(dwpe);
}

TEST(ops_encoder_gradients)
{
    /* The embedding is linear, so its exact gradient is a scatter-add; repeated tokens
     * must sum. Check against a hand-built expectation. */
    int B = 2, T = 3, C = 2, V = 4;
    int32_t inp[6] = { 1, 3, 1, 0, 1, 2 };
    float wte[8], wpe[6], out[12], dout[12], dwte[8] = { 0 }, dwpe[6] = { 0 };
    for (int i = 0; i < 8; i++) wte[i] = (float)i;
    for (int i = 0; i < 6; i++) wpe[i] = 10.0f * i;
    for (int i = 0; i < 12; i++) dout[i] = (float)(i + 1);
    encoder_forward(out, inp, wte, wpe, 1.0f, B, T, C);
    CHECK(out[2] == wte[6] + wpe[2]);           /* b0 t1: token 3, position 1 */
    CHECK(out[8] == wte[2] + wpe[2]);           /* b1 t1: token 1, position 1 */
    encoder_backward(dwte, dwpe, dout, inp, 1.0f, B, T, C);
    CHECK(dwte[2] == dout[0] + dout[4] + dout[8]); /* token 1 at three places */
    CHECK(dwte[0] == dout[6]);
    CHECK(dwpe[0] == dout[0] + dout[6]);
    /* a power-of-two scale multiplies exactly */
    encoder_forward(out, inp, wte, wpe, 4.0f, B, T, C);
    CHECK(out[2] == 4.0f * (wte[6] + wpe[2]));
    memset(dwte, 0, sizeof dwte);
    encoder_backward(dwte, dwpe, dout, inp, 4.0f, B, T, C);
    CHECK(dwte[2] == 4.0f * (dout[0] + dout[4] + dout[8]));
    (void)V;
}

/* ---- Causal softmax attention -------------------------------------------------------- */
/* q | k | v interleaved per token, (B, T, 2*H*d + H*dv): d the query/key width, dv the
 * value width (a layer's qk_dim and v_dim). */
struct att_ctx { int B, T, H, d, dv, ld; float *qkv, *out, *att, *wout; };
static double att_loss(void *p)
{
    struct att_ctx *c = p;
    int Hd = c->H * c->d;
    attention_forward(c->out, c->att, c->qkv, c->qkv + Hd, c->qkv + 2 * Hd, c->ld, c->B, c->T, c->H, c->d, c->dv);
    return dot(c->out, c->wout, (long)c->B * c->T * c->H * c->dv);
}
static void attention_case(struct test_ctx *t_, int B, int T, int H, int d, int dv)
{
    uint64_t rng = 6 + T * 31 + d + 7 * dv;
    struct att_ctx c = { B, T, H, d, dv, 2 * H * d + H * dv };
    long nq = (long)B * T * c.ld, no = (long)B * T * H * dv;
    c.qkv = malloc(4 * nq); c.out = malloc(4 * no); c.att = calloc((size_t)B * H * T * T, 4); c.wout = malloc(4 * no);
    fill(c.qkv, nq, 1, &rng); fill(c.wout, no, 1, &rng);
    float *dqkv = calloc(nq, 4), *scratch = malloc(4 * attention_scratch_floats(T, omp_get_max_threads()));
    att_loss(&c);
    /* rows of att are causal distributions */
    for (int i = 0; i < T; i++) {
        double s = 0;
        for (int j = 0; j < T; j++) s += c.att[i * T + j];
        CHECK_NEAR(s, 1.0, 1e-5);
        if (i + 1 < T) CHECK(c.att[i * T + i + 1] == 0.0f);
    }
    int Hd = H * d;
    attention_backward(dqkv, dqkv + Hd, dqkv + 2 * Hd, scratch, c.wout, c.qkv, c.qkv + Hd,
                       c.qkv + 2 * Hd, c.att, c.ld, B, T, H, d, dv);
    CHECK(grad_check(t_, "dqkv", att_loss, &c, c.qkv, dqkv, nq, 0) == 0);
    free(c.qkv); free(c.out); free(c.att); free(c.wout); free(dqkv); free(scratch);
}
TEST(ops_attention_gradients)
{
    attention_case(t_, 2, 5, 2, 3, 3);
    attention_case(t_, 1, 1, 1, 1, 1);
    attention_case(t_, 1, 4, 3, 2, 2);
    /* query/key and value widths apart (a routing-only cut: qk_dim < v_dim, and the reverse) */
    attention_case(t_, 2, 5, 2, 2, 4);
    attention_case(t_, 1, 6, 3, 4, 1);
    /* more rows than one block (ATT_ROWS 64 in trainer/ops.c): a full block and a part */
    attention_case(t_, 1, 66, 1, 1, 1);
}

/* ---- Whole model ---------------------------------------------------------------------- */

/* A small mixed model: softmax, sd, linear layers with head dims 4, 3, 1. */
static void mixed_config(struct model_config *mc, int layernorm)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    *mc = tc.model;
    mc->vocab_size = 11;
    mc->seq_len = 6;
    mc->n_layer = 3;
    mc->n_head = 2;
    mc->n_embd = 8;
    mc->layernorm = layernorm;
    /* a multiplier != 1 without LayerNorm, moderate because the test's weights are large */
    mc->embed_scale = layernorm ? 1.0f : 2.5f;
    mc->layers[0] = (struct layer_arch){ ATTN_SOFTMAX, 4, 4 };
    mc->layers[1] = (struct layer_arch){ ATTN_SD, 3, 3 };
    mc->layers[2] = (struct layer_arch){ ATTN_LINEAR, 1, 1 };
}

/* The same with every layer's query/key and value widths apart (qk_dim, v_dim): the value
 * side wider in one layer, narrower in another. */
static void mixed_split_config(struct model_config *mc, int layernorm)
{
    mixed_config(mc, layernorm);
    mc->layers[0] = (struct layer_arch){ ATTN_SOFTMAX, 2, 4 };
    mc->layers[1] = (struct layer_arch){ ATTN_SD, 3, 2 };
    mc->layers[2] = (struct layer_arch){ ATTN_LINEAR, 1, 3 };
}

struct model_ctx { struct model *m; int32_t *in, *tg; int B, T; };
static double model_loss(void *p)
{
    struct model_ctx *c = p;
    float loss;
    char err[CASCADE_ERR_MAX];
    return model_forward(c->m, c->in, c->tg, c->B, c->T, &loss, err) == 0 ? loss : NAN;
}

static void model_grad_case(struct test_ctx *t_, int layernorm, int split)
{
    struct model_config mc;
    if (split) mixed_split_config(&mc, layernorm);
    else mixed_config(&mc, layernorm);
    struct model m;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(model_init(&m, &mc, 7, err) == 0, "%s", err);
    uint64_t rng = 99;
    /* larger weights than the 0.02 init so every path carries gradient */
    fill(m.params, (long)m.n_params, 0.3f, &rng);
    int B = 2, T = 6;
    int32_t in[12], tg[12];
    for (int i = 0; i < 12; i++) { in[i] = trainer_rng_next(&rng) % 11; tg[i] = trainer_rng_next(&rng) % 11; }
    struct model_ctx c = { &m, in, tg, B, T };
    model_zero_grad(&m);
    model_loss(&c);
    model_backward(&m);
    float *g = malloc(4 * m.n_params);
    memcpy(g, m.grads, 4 * m.n_params);
    int bad_tensors = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        const struct param_tensor *pt = &m.tensors[i];
        float *p = m.params + pt->offset;
        /* directional derivative along a random +-1 direction over the whole tensor */
        float *r = malloc(4 * pt->numel), *keep = malloc(4 * pt->numel);
        memcpy(keep, p, 4 * pt->numel);
        for (size_t j = 0; j < pt->numel; j++) r[j] = (trainer_rng_next(&rng) & 1) ? 1.0f : -1.0f;
        const float h = 1e-3f;
        for (size_t j = 0; j < pt->numel; j++) p[j] = keep[j] + h * r[j];
        double fp = model_loss(&c);
        for (size_t j = 0; j < pt->numel; j++) p[j] = keep[j] - h * r[j];
        double fm = model_loss(&c);
        memcpy(p, keep, 4 * pt->numel);
        double num = (fp - fm) / (2 * h), a = dot(g + pt->offset, r, (long)pt->numel);
        if (!(fabs(a - num) <= RTOL * fmax(fabs(a), fabs(num)) + 2e-3)) {
            test_fail(t_, __FILE__, __LINE__, "layernorm=%d %s: directional analytic %.6g numeric %.6g",
                      layernorm, pt->name, a, num);
            bad_tensors++;
        }
        /* and a few single entries */
        bad_tensors += grad_check(t_, pt->name, model_loss, &c, p, g + pt->offset, (long)pt->numel, 3) != 0;
        free(r);
        free(keep);
    }
    CHECK(bad_tensors == 0);
    free(g);
    model_free(&m);
}

TEST(model_gradients_mixed_layernorm)
{
    model_grad_case(t_, 1, 0);
}

TEST(model_gradients_mixed_no_layernorm)
{
    model_grad_case(t_, 0, 0);
}

/* Every kind with qk_dim != v_dim: the whole model's gradients, tensor by tensor. */
TEST(model_gradients_mixed_qk_v_split)
{
    model_grad_case(t_, 0, 1);
    model_grad_case(t_, 1, 1);
}

TEST(model_param_counts_match_layout)
{
    /* every kind, with and without LayerNorm, and an S–D layer with d = 1, whose attn.s
     * has always been stored as (H) floats (trainer/layout.h) */
    for (int variant = 0; variant < 4; variant++) {
        struct model_config mc;
        if (variant == 3) mixed_split_config(&mc, 1);   /* qk_dim != v_dim in every layer */
        else mixed_config(&mc, variant != 0);
        if (variant == 2) mc.layers[2] = (struct layer_arch){ ATTN_SD, 1, 1 };
        struct model m;
        char err[CASCADE_ERR_MAX];
        REQUIRE_MSG(model_init(&m, &mc, 1, err) == 0, "%s", err);
        struct param_counts pc = model_config_param_counts(&mc);
        CHECK_MSG(pc.total == m.n_params, "variant %d: counted %zu, laid out %zu", variant, pc.total, m.n_params);
        size_t att = 0;
        for (int i = 0; i < m.n_tensors; i++)
            if (strstr(m.tensors[i].name, ".attn.")) att += m.tensors[i].numel;
        CHECK_MSG(pc.attention == att, "variant %d: counted %zu, laid out %zu", variant, pc.attention, att);
        model_free(&m);
    }
}

/* Activations that cannot be allocated are an error with a message, not a NaN loss that
 * reads as divergence; the model stays usable. */
TEST(model_forward_out_of_memory_is_an_error)
{
    struct model_config mc;
    mixed_config(&mc, 0);
    /* one softmax layer whose (B, H, T, T) attention alone is 2^57 floats: more than any
     * address space, so malloc fails even where the kernel overcommits */
    mc.n_layer = 1;
    mc.n_embd = 1;
    mc.n_head = 1024;
    mc.seq_len = 65536;
    mc.layers[0] = (struct layer_arch){ ATTN_SOFTMAX, 1, 1 };
    struct model m;
    char err[CASCADE_ERR_MAX] = "";
    REQUIRE_MSG(model_init(&m, &mc, 1, err) == 0, "%s", err);
    int32_t in[4] = { 1, 2, 3, 4 }, tg[4] = { 2, 3, 4, 5 };
    float loss = -1.0f;
#ifndef __SANITIZE_ADDRESS__   /* ASan aborts on a request this size instead of returning NULL */
    /* fails before it reads the (B, T) tokens, so the 4 here stand in for 2^31 */
    CHECK(model_forward(&m, in, tg, 32767, 65536, &loss, err) == -1);
    CHECK_MSG(strstr(err, "out of memory for the activations of a 32767 x 65536 batch"), "%s", err);
    CHECK(model_logits(&m) == NULL);
#endif
    CHECK_MSG(model_forward(&m, in, tg, 1, 4, &loss, err) == 0, "%s", err);
    CHECK(isfinite(loss) && loss > 0.0f);
    model_free(&m);
}

/* ---- Training: determinism and exact resume ------------------------------------------ */

/* An in-memory byte corpus with structure to learn. */
static void synthetic_dataset(struct dataset *ds, size_t n)
{
    memset(ds, 0, sizeof *ds);
    ds->tokens = malloc(sizeof(int32_t) * n);
    const char *text = "the quick brown fox jumps over the lazy dog. ";
    size_t tl = strlen(text);
    for (size_t i = 0; i < n; i++) ds->tokens[i] = (unsigned char)text[i % tl];
    ds->n_tokens = n;
    ds->n_train = n - n / 10;
    ds->vocab_size = 256;
    ds->is_bytes = 1;
    snprintf(ds->path, sizeof ds->path, "synthetic");
}

static void tiny_train_config(struct train_config *tc, int steps)
{
    trainer_config_defaults(tc);
    tc->model.n_layer = 2;
    tc->model.n_embd = 16;
    tc->model.n_head = 2;
    tc->model.seq_len = 8;
    tc->model.layers[0] = (struct layer_arch){ ATTN_SD, 8, 8 };
    tc->model.layers[1] = (struct layer_arch){ ATTN_LINEAR, 8, 8 };
    tc->model.layernorm = 0;
    tc->batch_size = 4;
    tc->steps = steps;
    tc->warmup_steps = 2;
    tc->eval_every = 0;
    tc->eval_batches = 2;
    tc->checkpoint_every = 0;
    tc->out_path[0] = 0;
}

TEST(train_same_seed_bit_identical_one_thread)
{
    int saved = omp_get_max_threads();
    trainer_set_threads(1);
    struct dataset ds;
    synthetic_dataset(&ds, 4000);
    struct train_config tc;
    tiny_train_config(&tc, 6);
    struct model a, b;
    struct train_result ra, rb;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(trainer_train(&tc, NULL, &a, &ds, NULL, NULL, &ra, err) == 0, "%s", err);
    REQUIRE_MSG(trainer_train(&tc, NULL, &b, &ds, NULL, NULL, &rb, err) == 0, "%s", err);
    CHECK(ra.final_train_loss == rb.final_train_loss);
    CHECK(ra.val.loss == rb.val.loss);
    CHECK(memcmp(a.params, b.params, 4 * a.n_params) == 0);
    /* a different seed gives a different model */
    struct model c;
    struct train_result rc;
    tc.seed += 1;
    REQUIRE(trainer_train(&tc, NULL, &c, &ds, NULL, NULL, &rc, err) == 0);
    CHECK(memcmp(a.params, c.params, 4 * a.n_params) != 0);
    model_free(&a); model_free(&b); model_free(&c);
    data_free(&ds);
    trainer_set_threads(saved);
}

/* The thread count changes no number (docs/performance.md, "Reproducibility"): reductions run in a fixed
 * order and elementwise passes compute each element alike whichever thread (and vector
 * lane or scalar remainder) gets it. Odd sizes (C 24, 4C 96, V 256, T 7, B 3) put
 * elements in the remainders at 1 thread and at 3. */
TEST(train_thread_count_changes_no_number)
{
    int saved = omp_get_max_threads();
    struct dataset ds;
    synthetic_dataset(&ds, 4000);
    struct train_config tc;
    tiny_train_config(&tc, 5);
    tc.model.n_embd = 24;
    tc.model.n_head = 3;
    tc.model.seq_len = 7;
    tc.model.layers[0] = (struct layer_arch){ ATTN_SD, 8, 8 };
    tc.model.layers[1] = (struct layer_arch){ ATTN_SOFTMAX, 8, 8 };
    tc.batch_size = 3;
    struct model a, b;
    struct train_result ra, rb;
    char err[CASCADE_ERR_MAX];
    trainer_set_threads(1);
    REQUIRE_MSG(trainer_train(&tc, NULL, &a, &ds, NULL, NULL, &ra, err) == 0, "%s", err);
    trainer_set_threads(3);
    REQUIRE_MSG(trainer_train(&tc, NULL, &b, &ds, NULL, NULL, &rb, err) == 0, "%s", err);
    CHECK(ra.final_train_loss == rb.final_train_loss);
    CHECK(ra.val.loss == rb.val.loss);
    CHECK(memcmp(a.params, b.params, 4 * a.n_params) == 0);
    model_free(&a); model_free(&b);
    data_free(&ds);
    trainer_set_threads(saved);
}

TEST(train_loss_falls_on_synthetic_text)
{
    struct dataset ds;
    synthetic_dataset(&ds, 4000);
    struct train_config tc;
    tiny_train_config(&tc, 150);
    tc.lr = 1e-2;
    struct model m;
    struct train_result r;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(trainer_train(&tc, NULL, &m, &ds, NULL, NULL, &r, err) == 0, "%s", err);
    /* ln(256) = 5.55 at the start; a repeating 45-byte text is learnt quickly */
    CHECK_MSG(r.val.loss < 3.0, "val loss %.3f after 150 steps", r.val.loss);
    CHECK(!r.diverged);
    model_free(&m);
    data_free(&ds);
}

/* Stops a run after `at` steps, as Ctrl-C does: the trainer then writes its checkpoint. */
static int stop_at(const struct train_progress *p, void *user)
{
    return p->step >= *(const int *)user;
}

TEST(train_resume_continues_exactly)
{
    struct dataset ds;
    synthetic_dataset(&ds, 4000);
    ds.digest = 0x1234;   /* as data_load gives it: recorded in the checkpoint */
    struct train_config tc;
    char err[CASCADE_ERR_MAX];
    tiny_train_config(&tc, 6);
    tc.log_every = 1;
    struct model full, part;
    struct train_result r;
    REQUIRE_MSG(trainer_train(&tc, NULL, &full, &ds, NULL, NULL, &r, err) == 0, "%s", err);
    /* the same run stopped after 3 steps (checkpoint written), then resumed to 6 */
    test_tmppath(tc.out_path, sizeof tc.out_path, "resume.safetensors");
    int at = 3;
    REQUIRE_MSG(trainer_train(&tc, NULL, &part, &ds, stop_at, &at, &r, err) == 0, "%s", err);
    CHECK(r.stopped && part.step == 3);
    model_free(&part);
    /* the checkpoint holds the first segment's training time; the resumed run adds to it */
    struct model probe;
    struct checkpoint_info info;
    REQUIRE_MSG(checkpoint_load(tc.out_path, &probe, NULL, &info, err) == 0, "%s", err);
    model_free(&probe);
    CHECK_MSG(info.train_s > 0 && info.train_s <= r.wall_s, "checkpoint %g s, segment %g s", info.train_s, r.wall_s);
    REQUIRE_MSG(trainer_train(&tc, tc.out_path, &part, &ds, NULL, NULL, &r, err) == 0, "%s", err);
    CHECK(part.step == 6);
    CHECK_MSG(r.wall_s > info.train_s, "run %g s, first segment %g s", r.wall_s, info.train_s);
    /* a config whose model differs (here only the embedding multiplier) is refused */
    struct model other;
    struct train_config tc2 = tc;
    tc2.model.embed_scale = 32.0f;
    tc2.steps = 8;
    CHECK(trainer_train(&tc2, tc.out_path, &other, &ds, NULL, NULL, &r, err) == -1);
    CHECK_MSG(strstr(err, "the checkpoint's model differs from the config's (embed_scale 1 vs 32") != NULL, "%s", err);
    /* the same model trained another way is another experiment: refused, the field named */
    tc2 = tc;
    tc2.seed = tc.seed + 1;
    CHECK(trainer_train(&tc2, tc.out_path, &other, &ds, NULL, NULL, &r, err) == -1);
    CHECK_MSG(strstr(err, "train.seed is") && strstr(err, "in the checkpoint but"), "%s", err);
    tc2 = tc;
    tc2.min_lr_frac = 0.5;
    CHECK(trainer_train(&tc2, tc.out_path, &other, &ds, NULL, NULL, &r, err) == -1);
    CHECK_MSG(strstr(err, "train.min_lr_frac is 0.1 in the checkpoint but 0.5 here"), "%s", err);
    struct dataset ds2 = ds;
    ds2.digest = ds.digest + 1;
    CHECK(trainer_train(&tc, tc.out_path, &other, &ds2, NULL, NULL, &r, err) == -1);
    CHECK_MSG(strstr(err, ": data is digest"), "%s", err);
    CHECK(memcmp(full.params, part.params, 4 * full.n_params) == 0);
    CHECK(memcmp(full.adam_m, part.adam_m, 4 * full.n_params) == 0);
    CHECK(memcmp(full.adam_v, part.adam_v, 4 * full.n_params) == 0);
    model_free(&full);
    model_free(&part);
    data_free(&ds);
}

TEST(checkpoint_round_trip_and_errors)
{
    struct model_config mc;
    mixed_config(&mc, 1);
    struct model m, back;
    char err[CASCADE_ERR_MAX], path[512];
    REQUIRE(model_init(&m, &mc, 3, err) == 0);
    m.step = 17;
    for (size_t i = 0; i < m.n_params; i++) { m.adam_m[i] = (float)i; m.adam_v[i] = 0.5f * i; }
    test_tmppath(path, sizeof path, "ckpt.safetensors");
    struct checkpoint_info info = { 17, 1.25, 42.5 };
    REQUIRE_MSG(checkpoint_save(path, &m, NULL, &info, err) == 0, "%s", err);
    struct checkpoint_info got;
    REQUIRE_MSG(checkpoint_load(path, &back, NULL, &got, err) == 0, "%s", err);
    CHECK(back.step == 17 && got.val_loss == 1.25 && got.train_s == 42.5);
    CHECK(back.n_params == m.n_params);
    CHECK(memcmp(back.params, m.params, 4 * m.n_params) == 0);
    CHECK(memcmp(back.adam_m, m.adam_m, 4 * m.n_params) == 0);
    CHECK(memcmp(back.adam_v, m.adam_v, 4 * m.n_params) == 0);
    CHECK(back.cfg.layers[1].kind == ATTN_SD && back.cfg.layers[2].qk_dim == 1);
    model_free(&back);
    /* a malformed train_seconds (same length, so the header stays valid) is named */
    size_t len;
    char *bytes = test_read_file(path, &len);
    REQUIRE(bytes != NULL);
    char *at = memmem(bytes, len, "\"42.500000\"", 11);
    REQUIRE(at != NULL);
    at[2] = 'x';
    char bad[600];
    snprintf(bad, sizeof bad, "%s.bad", path);
    REQUIRE(test_write_file(bad, bytes, len) == 0);
    free(bytes);
    CHECK(checkpoint_load(bad, &back, NULL, &got, err) == -1);
    CHECK_MSG(strstr(err, "__metadata__.train_seconds: '4x.500000' is not a duration") != NULL, "%s", err);
    /* truncated copy: a clear error naming the file, never a crash */
    char trunc[600], cmd[1300];
    snprintf(trunc, sizeof trunc, "%s.trunc", path);
    snprintf(cmd, sizeof cmd, "head -c 3000 %s > %s", path, trunc);
    REQUIRE(system(cmd) == 0);
    CHECK(checkpoint_load(trunc, &back, NULL, NULL, err) == -1);
    CHECK_MSG(strstr(err, trunc) != NULL, "error does not name the file: %s", err);
    model_free(&m);
}

/* The clipping step returns the gradients' global L2 norm (against a plain double sum;
 * its own sum is interleaved for speed), the same bits on 1 and 2 threads, and with
 * grad_clip below it, AdamW sees the gradients scaled to that norm: the first Adam step
 * moves each parameter by about lr sign(g) either way, so the clip shows in the moments. */
TEST(train_clip_returns_the_gradient_norm_on_any_thread_count)
{
    struct model_config mc;
    mixed_config(&mc, 0);
    mc.n_embd = 64;   /* ~110k parameters: ranges of ~430, so whole rounds of lanes and a tail */
    char err[CASCADE_ERR_MAX];
    float norm[2];
    for (int nt = 1; nt <= 2; nt++) {
        struct model m;
        REQUIRE_MSG(model_init(&m, &mc, 1, err) == 0, "%s", err);
        uint64_t rng = 12;
        fill(m.grads, (long)m.n_params, 1, &rng);
        double sq = 0.0;
        for (size_t i = 0; i < m.n_params; i++) sq += (double)m.grads[i] * m.grads[i];
        struct train_config tc;
        trainer_config_defaults(&tc);
        tc.grad_clip = 0.25 * sqrt(sq);
        int saved = omp_get_max_threads();
        omp_set_num_threads(nt);
        norm[nt - 1] = model_clip_and_step(&m, &tc, 1e-3f);
        omp_set_num_threads(saved);
        CHECK_NEAR(norm[nt - 1], sqrt(sq), 1e-6 * sqrt(sq));
        /* m_1 = (1 - beta1) * g * scale, scale = grad_clip / norm */
        int scaled = 1;
        for (size_t i = 0; i < m.n_params; i += 97) {
            double want = (1.0 - tc.beta1) * m.grads[i] * 0.25;
            scaled &= fabs(m.adam_m[i] - want) <= 1e-5 * fabs(want) + 1e-12;
        }
        CHECK(scaled);
        model_free(&m);
    }
    CHECK(memcmp(&norm[0], &norm[1], sizeof(float)) == 0);
}

/* Weight decay reaches exactly the tensors the table says: with zero gradients an AdamW
 * step multiplies a decayed tensor by (1 - lr wd) and leaves the others alone; S-D's s
 * only with train.decay_s (issue 12's weight-decay arm). */
TEST(train_weight_decay_reaches_s_only_with_decay_s)
{
    for (int decay_s = 0; decay_s <= 1; decay_s++) {
        struct model_config mc;
        mixed_config(&mc, 0);
        struct model m;
        char err[CASCADE_ERR_MAX];
        REQUIRE_MSG(model_init(&m, &mc, 1, err) == 0, "%s", err);
        float *before = malloc(m.n_params * sizeof(float));
        REQUIRE(before);
        memcpy(before, m.params, m.n_params * sizeof(float));
        memset(m.grads, 0, m.n_params * sizeof(float));
        struct train_config tc;
        trainer_config_defaults(&tc);
        tc.weight_decay = 0.5;
        tc.decay_s = decay_s;
        model_clip_and_step(&m, &tc, 0.1f);
        int saw_s = 0;
        for (int i = 0; i < m.n_tensors; i++) {
            const struct param_tensor *pt = &m.tensors[i];
            int is_s = strstr(pt->name, ".attn.s") && !strstr(pt->name, ".attn.s.");
            int is_2d_weight = pt->ndim == 2 && strncmp(pt->name, "w", 1) != 0 && !is_s &&
                               !strstr(pt->name, ".attn.delta");
            float want = (is_2d_weight || (is_s && decay_s)) ? 1.0f - 0.1f * 0.5f : 1.0f;
            saw_s |= is_s;
            for (size_t j = 0; j < pt->numel; j++) {
                float b = before[pt->offset + j], a = m.params[pt->offset + j];
                if (fabsf(a - want * b) > 1e-6f * fabsf(b) + 1e-12f) {
                    CHECK_MSG(0, "decay_s %d: %s[%zu] %g -> %g, want x%g", decay_s, pt->name, j, b, a, want);
                    break;
                }
            }
        }
        CHECK(saw_s);
        free(before);
        model_free(&m);
    }
}

/* The vectorisable e^x and tanh of trainer/ops.h against libm (double) over the ranges
 * the kernels use: softmax exponents (<= 0), GELU's tanh arguments, and the clamps. */
TEST(ops_fast_exp_and_tanh_match_libm)
{
    double worst_exp = 0, worst_tanh = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f + 175.0f * (float)i / 2000000.0f;
        double want = exp((double)x), rel = fabs(ops_expf(x) - want) / want;
        if (rel > worst_exp) worst_exp = rel;
        float u = -12.0f + 24.0f * (float)i / 2000000.0f;
        double dt = fabs(ops_tanhf(u) - tanh((double)u));
        if (dt > worst_tanh) worst_tanh = dt;
    }
    CHECK_MSG(worst_exp < 4e-7, "ops_expf relative error %.3g", worst_exp);
    CHECK_MSG(worst_tanh < 3e-7, "ops_tanhf absolute error %.3g", worst_tanh);
    CHECK(ops_expf(0.0f) == 1.0f);
    CHECK(ops_expf(-1000.0f) > 0.0f && ops_expf(-1000.0f) < 2e-38f);   /* clamped, not 0 */
    CHECK(isfinite(ops_expf(1000.0f)));
    CHECK(ops_tanhf(50.0f) == 1.0f && ops_tanhf(-50.0f) == -1.0f);
}

/* train.threads 0 gives way to other work (trainer/train.c "Sharing the cores"). */
TEST(train_threads_for_load_gives_way)
{
    CHECK(trainer_threads_for_load(2, 2, 0) == 2);
    CHECK(trainer_threads_for_load(2, 2, 1) == 1);
    CHECK(trainer_threads_for_load(2, 2, 5) == 1);
    CHECK(trainer_threads_for_load(8, 16, 4) == 8);
    CHECK(trainer_threads_for_load(8, 16, 10) == 6);
    CHECK(trainer_threads_for_load(1, 2, 0) == 1);
    CHECK(trainer_threads_for_load(4, 4, -1) == 4);
}

/* The profile (cascade bench --profile) times exactly the ops a step runs: with LayerNorm
 * off no LayerNorm time; every op of the step some time; nothing when profile is NULL. */
TEST(model_profile_times_the_ops_that_run)
{
    struct model_config mc;
    mixed_config(&mc, 0);
    struct model m;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(model_init(&m, &mc, 1, err) == 0, "%s", err);
    int B = 2, T = mc.seq_len;
    int32_t in[64], tg[64];
    for (int i = 0; i < B * T; i++) { in[i] = i % mc.vocab_size; tg[i] = (i * 7 + 3) % mc.vocab_size; }
    struct train_config tc;
    trainer_config_defaults(&tc);
    struct model_profile prof;
    memset(&prof, 0, sizeof prof);
    for (int with = 0; with <= 1; with++) {
        m.profile = with ? &prof : NULL;
        model_zero_grad(&m);
        REQUIRE(model_forward(&m, in, tg, B, T, NULL, err) == 0);
        model_backward(&m);
        model_clip_and_step(&m, &tc, 1e-3f);
        if (!with) for (int op = 0; op < PROF_N; op++) CHECK(prof.fwd[op] == 0 && prof.bwd[op] == 0);
    }
    CHECK(prof.fwd[PROF_LAYERNORM] == 0 && prof.bwd[PROF_LAYERNORM] == 0);
    const enum model_prof_op fwd_ops[] = { PROF_EMBED, PROF_MM_ATTN_IN, PROF_ATTN_CORE, PROF_MM_ATTN_OUT, PROF_MM_FC,
                                           PROF_GELU, PROF_MM_FC_PROJ, PROF_RESIDUAL, PROF_HEAD, PROF_XENT };
    for (size_t i = 0; i < sizeof fwd_ops / sizeof fwd_ops[0]; i++) {
        enum model_prof_op op = fwd_ops[i];
        /* the residual's backward is the identity, done inline: nothing to time */
        int has_bwd = op != PROF_RESIDUAL;
        CHECK_MSG(prof.fwd[op] > 0 && (has_bwd ? prof.bwd[op] > 0 : prof.bwd[op] == 0), "%s",
                  model_prof_op_name(op));
    }
    CHECK(prof.bwd[PROF_ADAMW] > 0 && prof.bwd[PROF_ZERO] > 0 && prof.bwd[PROF_MM_FC] > 0);
    CHECK(strcmp(model_prof_op_name(PROF_GELU), "gelu") == 0);
    m.profile = NULL;
    model_free(&m);
}

/* Subnormals are flushed in the caller and in OpenMP's threads (trainer_fp_setup: a
 * diverging model ran 8x slower with them). */
TEST(train_fp_setup_flushes_subnormals_in_every_thread)
{
    trainer_fp_setup();
    int subnormal_seen = 0;
    #pragma omp parallel reduction(+ : subnormal_seen)
    {
        volatile float a = 1e-30f, b = 1e-10f;   /* 1e-40 is subnormal */
        volatile float c = a * b;
        subnormal_seen += c != 0.0f;
    }
    volatile float a = 1e-30f, b = 1e-10f;
    volatile float c = a * b;
    CHECK(c == 0.0f);
    CHECK(subnormal_seen == 0);
}
