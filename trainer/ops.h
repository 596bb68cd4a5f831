/* trainer/ops.h — the trainer's kernels, one function per op and direction (private to
 * the trainer module and its tests; other modules use trainer.h).
 *
 * Conventions (as in llm.c):
 *   - output pointers first, then inputs, then sizes; shapes in the comment of each op.
 *   - *_backward functions ACCUMULATE (+=) into every gradient they write, so that a
 *     tensor used twice (residual streams, the tied embedding) sums its gradients; the
 *     caller zeroes gradients once per step.
 *   - q, k, v are read through a row stride `ld` (floats between consecutive tokens),
 *     so they can live interleaved in one (B, T, 2*H*d + H*d_v) buffer or in separate
 *     buffers. d is a head's query/key width (SPEC's d, the layer's qk_dim), d_v its value
 *     width (v_dim). Head h of token (b, t) is at base + (b*T + t)*ld + h*d in q and k,
 *     + h*d_v in v.
 *   - every weight matmul goes through cblas_sgemm; the per-head products of attention and
 *     the S–D query transform are hand-written tiles (trainer/ops_tile.h), whose call
 *     overhead is lower at a head's sizes.
 *   - *_set variants of a backward overwrite their input gradient instead of adding to
 *     it, for buffers they are the only writer of (no zeroing pass).
 * Threading: OpenMP parallel loops; results do not depend on the thread count except
 * where a comment says so (reductions are done in a fixed order).
 */
#ifndef CASCADE_TRAINER_OPS_H
#define CASCADE_TRAINER_OPS_H

#include <stdint.h>

/* e^x and tanh(x) for the elementwise passes (GELU, softmaxes), branch-free so that the
 * loops using them vectorise; libm's expf/tanhf are scalar calls and made GELU alone
 * 30-45% of a training step (`cascade bench --profile`, docs/performance.md).
 * ops_expf: x = n ln2 + r, |r| <= ln2/2 (ln2 in two parts), e^r by its degree-6 Taylor
 * polynomial (truncation < 1.3e-7 relative), 2^n from the exponent bits; x is clamped to
 * [-87.3, 88.3] so 2^n stays a normal float: below -87.3 it returns ~1e-38, not 0.
 * Relative error < 4e-7 over the range (tested). ops_tanhf: 1 - 2 / (e^2x + 1): absolute
 * error < 3e-7 (tested), exact +-1 in the tails. */
static inline float ops_expf(float x)
{
    x = x < -87.3f ? -87.3f : x > 88.3f ? 88.3f : x;   /* a select (-fno-trapping-math) */
    /* round(x / ln2), x / ln2 > -128.5; the integer steps unsigned, so that a NaN x (which
     * converts to INT_MIN on x86 and gives a NaN result) wraps instead of overflowing */
    int32_t n = (int32_t)((uint32_t)(int32_t)(x * 1.44269504f + 128.5f) - 128u);
    float r = x - (float)n * 0.693145752f;
    r = r - (float)n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f +
              r * (0.00833333377f + r * 0.00138888892f)))));
    union { uint32_t i; float f; } two_n = { .i = ((uint32_t)n + 127u) << 23 };
    return p * two_n.f;
}

static inline float ops_tanhf(float x)
{
    return 1.0f - 2.0f / (ops_expf(2.0f * x) + 1.0f);
}

/* out (B,T,C) = scale * (wte[inp] + wpe[t]); inp (B,T); wte (V,C); wpe (maxT,C);
 * scale: model.embed_scale (1 for GPT-2). Backward accumulates scale * dout. */
void encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe,
                     float scale, int B, int T, int C);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp,
                      float scale, int B, int T, int C);

/* out (N,C) = (inp - mean) * rstd * w + b, per row; mean, rstd (N) saved for backward. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean,
                        const float *rstd, int N, int C);

/* out (N,OC) with row stride ldo = inp (N,IC) @ w (IC,OC) + bias (OC, or NULL). */
void matmul_forward(float *out, int ldo, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC);
/* dinp (N,IC) += dout @ w^T (skipped if dinp NULL); dw (IC,OC) += inp^T @ dout;
 * dbias (OC) += column sums of dout (skipped if NULL). dout has row stride ldd. */
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, int ldd,
                     const float *inp, const float *w, int N, int IC, int OC);
/* The same with dinp overwritten, not accumulated: for a gradient buffer whose only
 * writer this is, which then needs no zeroing pass (dw, dbias still accumulate). */
void matmul_backward_set(float *dinp, float *dw, float *dbias, const float *dout, int ldd,
                         const float *inp, const float *w, int N, int IC, int OC);

/* Two products of one input in one parallel region (S–D's U and W_V): out_a (N, oc_a) =
 * inp (N,IC) @ w_a + bias_a and out_b likewise, both with row stride ldo; the values of
 * two matmul_forward calls. */
void matmul_forward_pair(float *out_a, const float *w_a, const float *bias_a, int oc_a,
                         float *out_b, const float *w_b, const float *bias_b, int oc_b,
                         int ldo, const float *inp, int N, int IC);
/* The backward of the pair: dinp (N,IC) += dout_a @ w_a^T + dout_b @ w_b^T (in that order,
 * as two matmul_backward calls); dw_a, dw_b, dbias_a, dbias_b (or NULL) += as there. dout_a
 * and dout_b have row stride ldd. */
void matmul_backward_pair(float *dinp, const float *inp, int N, int IC, int ldd,
                          float *dw_a, float *dbias_a, const float *dout_a, const float *w_a, int oc_a,
                          float *dw_b, float *dbias_b, const float *dout_b, const float *w_b, int oc_b);

/* Output head tied to the token embedding: logits (N,V) = x (N,C) @ wte^T, wte (V,C). */
void tied_head_forward(float *logits, const float *x, const float *wte, int N, int C, int V);
/* dx (N,C) += dlogits @ wte; dwte (V,C) += dlogits^T @ x. */
void tied_head_backward(float *dx, float *dwte, const float *dlogits, const float *x,
                        const float *wte, int N, int C, int V);

/* GELU, tanh approximation (GPT-2). inp, out (n). */
void gelu_forward(float *out, const float *inp, long n);
void gelu_backward(float *dinp, const float *inp, const float *dout, long n);
/* dinp = (not +=) the gradient: for a buffer whose only writer this is. */
void gelu_backward_set(float *dinp, const float *inp, const float *dout, long n);

/* out (n) = a + b. Its backward is the identity into both inputs (done inline). */
void residual_forward(float *out, const float *a, const float *b, long n);

/* Fused softmax + cross-entropy over the vocabulary.
 * logits (N,V) -> probs (N,V), losses (N) in nats; targets (N). */
void crossentropy_forward(float *losses, float *probs, const float *logits,
                          const int32_t *targets, int N, int V);
/* dlogits (N,V) += (probs - onehot(target)) * dloss, dloss = d(mean loss)/d(loss_i). */
void crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
                           float dloss, int N, int V);

/* Causal softmax attention (scale 1/sqrt(d)).
 * q, k, v: strided (see above); out (B,T,H*d_v); att (B,H,T,T) softmax probabilities:
 * row i holds them for j <= i and zeros up to the end of its strip of rows (the
 * backward reads no further); floats past that are never written, so a caller that
 * zeroes att once (the model does, when it lays out its activations) has zeros for every
 * j > i. Rows are written with streaming stores (issue 21): att is read again only by
 * the backward. */
void attention_forward(float *out, float *att, const float *q, const float *k,
                       const float *v, int ld, int B, int T, int H, int d, int d_v);
/* dq, dk, dv: strided like q, k, v (accumulated). scratch: T*T floats per thread,
 * attention_scratch_floats() in all. */
void attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                        const float *q, const float *k, const float *v, const float *att,
                        int ld, int B, int T, int H, int d, int d_v);
/* The same with dq, dk, dv overwritten (every column of every head; a row's other
 * floats untouched): no zeroing pass where this is their first writer. */
void attention_backward_set(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *q, const float *k, const float *v, const float *att,
                            int ld, int B, int T, int H, int d, int d_v);
long attention_scratch_floats(int T, int nthreads);

/* ---- S–D attention (SPEC.md §2) ---------------------------------------------------
 * logits l_ij = p_i^T L p_j / sqrt(d), L = S - D. Written as softmax attention with
 * queries q_i = L^T p_i (so q_i . p_j = p_i^T L p_j) and keys k_j = p_j. */

/* Lmat (H,d,d) = S - D per head: S_ij = s[idx(i,j)] for i<j, S_ji = -S_ij, S_ii = 0;
 * D = diag(softplus(delta)). s (H, d(d-1)/2) in row-major upper-triangle order
 * (i=0: j=1..d-1, then i=1: j=2..d-1, ...); delta (H,d). */
void sd_build_l(float *Lmat, const float *s, const float *delta, int H, int d);
/* ds += dL_ij - dL_ji (i<j); ddelta += -dL_ii * sigmoid(delta). dL (H,d,d). */
void sd_build_l_backward(float *ds, float *ddelta, const float *dL, const float *delta,
                         int H, int d);
/* q (N rows, stride ldq) per head h: q_h = p_h @ L_h (row i: p_i^T L = (L^T p_i)^T).
 * p strided with ldp. N = B*T. */
void sd_query_forward(float *q, int ldq, const float *p, int ldp, const float *Lmat,
                      int N, int H, int d);
/* dp_h += dq_h @ L_h^T; dL_h += p_h^T @ dq_h. */
void sd_query_backward(float *dp, int ldp, float *dL, const float *dq, int ldq,
                       const float *p, const float *Lmat, int N, int H, int d);

/* ---- ELU+1 causal linear attention (SPEC.md §4) -----------------------------------
 * phi(x) = elu(x) + 1; y_i = phi(q_i)^T S_i / (phi(q_i)^T z_i + eps),
 * S_i = sum_{j<=i} phi(k_j) v_j^T (d x d_v), z_i = sum_{j<=i} phi(k_j). O(T d d_v) per head.
 * out (B,T,H*d_v); den (B,H,T) saves the denominators for backward. scratch: the running
 * sums, linear_attention_scratch_floats(T, d, d_v, nthreads) floats (as for backward). */
#define LINEAR_ATTN_EPS 1e-6f
void linear_attention_forward(float *out, float *den, float *scratch, const float *q,
                              const float *k, const float *v, int ld, int B, int T, int H, int d,
                              int d_v);
/* dq, dk, dv strided like q, k, v (accumulated). scratch: linear_attention_scratch_floats. */
void linear_attention_backward(float *dq, float *dk, float *dv, float *scratch,
                               const float *dout, const float *q, const float *k,
                               const float *v, const float *out, const float *den,
                               int ld, int B, int T, int H, int d, int d_v);
long linear_attention_scratch_floats(int T, int d, int d_v, int nthreads);

#endif
