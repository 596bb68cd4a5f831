/* trainer/ops.c — the GPT-2 kernels: embedding, LayerNorm, matmul, tied output head,
 * GELU, residual, softmax cross-entropy and causal softmax attention, each with its exact
 * backward. Signatures and conventions are in trainer/ops.h (backward ops accumulate).
 *
 * Threading: OpenMP over rows (or over (batch, head) for attention, whose products are
 * the register tiles of trainer/ops_tile.h, not sgemm calls). Reductions over rows
 * (weight and bias gradients of elementwise ops) run over column blocks with the rows in
 * a fixed order, and row sums over vector lanes in a fixed order, so results do not
 * depend on the thread count.
 */
#include "trainer/ops.h"
#include "trainer/ops_tile.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAYERNORM_EPS 1e-5f
#define COL_BLOCK 64   /* columns per task in column-sum reductions */

/* ------------------------------------------------------------------------------------ */
/* Embedding                                                                              */

void encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe,
                     float scale, int B, int T, int C)
{
    #pragma omp parallel for schedule(static)
    for (int bt = 0; bt < B * T; bt++) {
        const float *e = wte + (size_t)inp[bt] * C, *p = wpe + (size_t)(bt % T) * C;
        float *o = out + (size_t)bt * C;
        for (int c = 0; c < C; c++) o[c] = scale * (e[c] + p[c]);
    }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp,
                      float scale, int B, int T, int C)
{
    /* Serial: several positions may share a token row; the order is fixed. */
    for (int bt = 0; bt < B * T; bt++) {
        const float *d = dout + (size_t)bt * C;
        float *de = dwte + (size_t)inp[bt] * C, *dp = dwpe + (size_t)(bt % T) * C;
        for (int c = 0; c < C; c++) { de[c] += scale * d[c]; dp[c] += scale * d[c]; }
    }
}

/* ------------------------------------------------------------------------------------ */
/* LayerNorm                                                                              */

/* Sums over a row of C floats in a fixed order: VL lanes over whole vectors, the tail
 * columns into lanes 0.., then the lanes in order (vsum). A serial sum of 128 floats is
 * a chain of 128 dependent adds; LayerNorm was 12% of the tiny shape's step (issue 21). */
static inline float row_sum(const float *x, int C)
{
    vf acc = { 0 };
    int c = 0;
    for (; c + VL <= C; c += VL) acc += vload(x + c);
    for (int l = 0; c < C; c++, l++) acc[l] += x[c];
    return vsum(acc);
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C)
{
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float m = row_sum(x, C) / C;
        vf acc = { 0 }, mv = vbcast(m);
        int c = 0;
        for (; c + VL <= C; c += VL) { vf xm = vload(x + c) - mv; acc += xm * xm; }
        for (int l = 0; c < C; c++, l++) { float xm = x[c] - m; acc[l] += xm * xm; }
        float s = 1.0f / sqrtf(vsum(acc) / C + LAYERNORM_EPS);
        for (c = 0; c < C; c++) o[c] = (x[c] - m) * s * w[c] + b[c];
        mean[n] = m;
        rstd[n] = s;
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean,
                        const float *rstd, int N, int C)
{
    /* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dout * w. */
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float m = mean[n], s = rstd[n];
        vf ga = { 0 }, gxa = { 0 }, mv = vbcast(m), sv = vbcast(s);
        int c = 0;
        for (; c + VL <= C; c += VL) {
            vf g = vload(d + c) * vload(w + c);
            ga += g;
            gxa += g * (vload(x + c) - mv) * sv;
        }
        for (int l = 0; c < C; c++, l++) {
            float g = d[c] * w[c];
            ga[l] += g;
            gxa[l] += g * (x[c] - m) * s;
        }
        float gmean = vsum(ga) / C, gxmean = vsum(gxa) / C;
        for (c = 0; c < C; c++) {
            float xhat = (x[c] - m) * s;
            dx[c] += s * (d[c] * w[c] - gmean - xhat * gxmean);
        }
    }
    /* Weight and bias gradients: column blocks in parallel, rows in order, summed in a
     * thread's own copy of its block (writing dw, db row after row from two threads
     * shared a cache line at the blocks' boundary: 2 threads were slower than 1). */
    #pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += COL_BLOCK) {
        int c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C, nc = c1 - c0;
        float lw[COL_BLOCK], lb[COL_BLOCK];
        memcpy(lw, dw + c0, sizeof(float) * nc);
        memcpy(lb, db + c0, sizeof(float) * nc);
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C + c0, *d = dout + (size_t)n * C + c0;
            float m = mean[n], s = rstd[n];
            for (int c = 0; c < nc; c++) {
                lw[c] += d[c] * (x[c] - m) * s;
                lb[c] += d[c];
            }
        }
        memcpy(dw + c0, lw, sizeof(float) * nc);
        memcpy(db + c0, lb, sizeof(float) * nc);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Matmul (every weight product goes through cblas_sgemm, split by rows: sgemm_rows)      */

/* Whether a weight product opens a parallel region of its own: with more than one
 * thread, and not inside a region already (a campaign's parallel runs); every region of
 * products below asks this. */
static int matmul_team_wanted(void)
{
    return omp_get_max_threads() > 1 && !omp_in_parallel();
}

/* Rows per chunk of sgemm_rows_share, from the product's shape alone. A transposed A is a
 * weight gradient, whose K is the batch's tokens and every chunk of which packs all of B:
 * those go in 256-row chunks from M = 512 (a 256 x 128 x 1024 sgemm ran at 165-175
 * GFLOP/s on one Zen 5 core, a 128-row one at 151-157). */
static int sgemm_chunk_rows(CBLAS_TRANSPOSE ta, int M)
{
    if (M >= 1024 || (ta == CblasTrans && M >= 512)) return 256;
    return M >= 256 ? 128 : M >= 128 ? 64 : M >= 64 ? 32 : (M > 0 ? M : 1);
}

/* C (M rows) = alpha op(A) op(B) + beta C, row-major, as one sgemm per chunk of rows of
 * C, the chunks shared by the threads (inside a parallel region OpenBLAS' OpenMP build runs
 * each call on its thread). At the trainer's shapes this beat OpenBLAS' own threading by
 * 1.2-1.6x on 2 cores (issue 21: N = 1024 x 128 x 128, 215 -> 337 GFLOP/s). The chunks
 * (sgemm_chunk_rows: 256 rows from M = 1024, 128 from 256, 64 from 128, else one call;
 * 256 from 512 for a transposed A) depend on M and the transposition alone, never on the
 * thread count: the calls, and so every value, are the same with any number of threads.
 * (Where they were split by thread count, OpenBLAS' Haswell kernels gave different
 * roundings for different splits.) bias (N floats, or NULL): each chunk's rows are first
 * filled with it, and beta is 1.
 * _share: the chunks shared out among the threads of the enclosing parallel region as
 * schedule(static) shares them, with no barrier after (nowait): a thread goes straight
 * on to the region's next product, so the products of one backward pass wait for each
 * other once, at the region's end (issue 21: one barrier per product left the faster
 * core idle for ~10% of the matmul time on a shared 2-vCPU machine). Products in one
 * region must not read what another writes, except where both split the same M rows
 * (the same chunks go to the same thread, in program order). */
static void sgemm_rows_share(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta, float *C,
                             int ldc, const float *bias)
{
    int rows = sgemm_chunk_rows(ta, M);
    int nch = (M + rows - 1) / rows;
    if (bias) beta = 1.0f;
    #pragma omp for schedule(static) nowait
    for (int ch = 0; ch < nch; ch++) {
        int m0 = ch * rows, m1 = m0 + rows < M ? m0 + rows : M;
        if (bias)
            for (int r = m0; r < m1; r++) memcpy(C + (size_t)r * ldc, bias, sizeof(float) * N);
        cblas_sgemm(CblasRowMajor, ta, tb, m1 - m0, N, K, alpha,
                    ta == CblasNoTrans ? A + (size_t)m0 * lda : A + m0, lda, B, ldb, beta,
                    C + (size_t)m0 * ldc, ldc);
    }
}

/* One product in a parallel region of its own. Every cblas_sgemm call runs inside a
 * region when there is more than one thread (a region of one chunk leaves the other
 * threads idle): outside one, OpenBLAS' own threading would split it by the thread
 * count. */
static void sgemm_rows(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb, float beta, float *C,
                       int ldc, const float *bias)
{
    #pragma omp parallel if (matmul_team_wanted())
    sgemm_rows_share(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

void matmul_forward(float *out, int ldo, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC)
{
    sgemm_rows(CblasNoTrans, CblasNoTrans, N, OC, IC, 1.0f, inp, IC, w, OC, 0.0f, out, ldo, bias);
}

void matmul_forward_pair(float *out_a, const float *w_a, const float *bias_a, int oc_a,
                         float *out_b, const float *w_b, const float *bias_b, int oc_b,
                         int ldo, const float *inp, int N, int IC)
{
    #pragma omp parallel if (matmul_team_wanted())
    {
        sgemm_rows_share(CblasNoTrans, CblasNoTrans, N, oc_a, IC, 1.0f, inp, IC, w_a, oc_a, 0.0f, out_a, ldo, bias_a);
        sgemm_rows_share(CblasNoTrans, CblasNoTrans, N, oc_b, IC, 1.0f, inp, IC, w_b, oc_b, 0.0f, out_b, ldo, bias_b);
    }
}

/* Column sums of a (N, OC) matrix with row stride ld, added into out (OC); the column
 * blocks shared out in the enclosing parallel region, nowait (as sgemm_rows_share). */
static void column_sums_add_share(float *out, const float *m, int ld, int N, int OC)
{
    /* each block summed in the thread's own copy, then stored: the same additions in the
     * same order, without two threads writing a cache line shared at a block boundary */
    #pragma omp for schedule(static) nowait
    for (int c0 = 0; c0 < OC; c0 += COL_BLOCK) {
        int nc = c0 + COL_BLOCK < OC ? COL_BLOCK : OC - c0;
        float acc[COL_BLOCK];
        memcpy(acc, out + c0, sizeof(float) * nc);
        for (int n = 0; n < N; n++) {
            const float *row = m + (size_t)n * ld + c0;
            for (int c = 0; c < nc; c++) acc[c] += row[c];
        }
        memcpy(out + c0, acc, sizeof(float) * nc);
    }
}

/* The backward of one product, shared out in the enclosing region: dinp (dinp_beta 1
 * accumulates, 0 overwrites: no zeroing pass before), dw and dbias, none reading what
 * another writes. */
static void matmul_backward_share(float *dinp, float dinp_beta, float *dw, float *dbias,
                                  const float *dout, int ldd, const float *inp, const float *w,
                                  int N, int IC, int OC)
{
    if (dinp)
        sgemm_rows_share(CblasNoTrans, CblasTrans, N, IC, OC, 1.0f, dout, ldd, w, OC, dinp_beta, dinp, IC, NULL);
    sgemm_rows_share(CblasTrans, CblasNoTrans, IC, OC, N, 1.0f, inp, IC, dout, ldd, 1.0f, dw, OC, NULL);
    if (dbias) column_sums_add_share(dbias, dout, ldd, N, OC);
}

static void matmul_backward_beta(float *dinp, float dinp_beta, float *dw, float *dbias,
                                 const float *dout, int ldd, const float *inp, const float *w,
                                 int N, int IC, int OC)
{
    #pragma omp parallel if (matmul_team_wanted())
    matmul_backward_share(dinp, dinp_beta, dw, dbias, dout, ldd, inp, w, N, IC, OC);
}

void matmul_backward_pair(float *dinp, const float *inp, int N, int IC, int ldd,
                          float *dw_a, float *dbias_a, const float *dout_a, const float *w_a, int oc_a,
                          float *dw_b, float *dbias_b, const float *dout_b, const float *w_b, int oc_b)
{
    /* both dinp products split the same N rows: each chunk gets a's term, then b's, on the
     * same thread, as two matmul_backward calls would add them */
    #pragma omp parallel if (matmul_team_wanted())
    {
        matmul_backward_share(dinp, 1.0f, dw_a, dbias_a, dout_a, ldd, inp, w_a, N, IC, oc_a);
        matmul_backward_share(dinp, 1.0f, dw_b, dbias_b, dout_b, ldd, inp, w_b, N, IC, oc_b);
    }
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, int ldd,
                     const float *inp, const float *w, int N, int IC, int OC)
{
    matmul_backward_beta(dinp, 1.0f, dw, dbias, dout, ldd, inp, w, N, IC, OC);
}

void matmul_backward_set(float *dinp, float *dw, float *dbias, const float *dout, int ldd,
                         const float *inp, const float *w, int N, int IC, int OC)
{
    matmul_backward_beta(dinp, 0.0f, dw, dbias, dout, ldd, inp, w, N, IC, OC);
}

void tied_head_forward(float *logits, const float *x, const float *wte, int N, int C, int V)
{
    sgemm_rows(CblasNoTrans, CblasTrans, N, V, C, 1.0f, x, C, wte, C, 0.0f, logits, V, NULL);
}

void tied_head_backward(float *dx, float *dwte, const float *dlogits, const float *x,
                        const float *wte, int N, int C, int V)
{
    #pragma omp parallel if (matmul_team_wanted())
    {
        sgemm_rows_share(CblasNoTrans, CblasNoTrans, N, C, V, 1.0f, dlogits, V, wte, C, 1.0f, dx, C, NULL);
        sgemm_rows_share(CblasTrans, CblasNoTrans, V, C, N, 1.0f, dlogits, V, x, C, 1.0f, dwte, C, NULL);
    }
}

/* ------------------------------------------------------------------------------------ */
/* GELU (tanh approximation) and residual                                                 */

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

/* 0.5 x (1 + tanh u) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): one e^x and one
 * division instead of tanh's (the same function; issue 21: GELU was 5% of a step).
 * e^(-2u) saturates at ops_expf's clamp, where x / (1 + e^(-2u)) is ~0 or x. */
static inline float gelu_sigmoid(float x)
{
    float u = GELU_SCALE * (x + 0.044715f * x * x * x);
    return 1.0f / (1.0f + ops_expf(-2.0f * u));
}

/* d/dx = sigmoid(2u) + 0.5 x sech^2(u) u', sech^2(u) = 4 sigmoid(2u) (1 - sigmoid(2u)). */
static inline float gelu_grad(float x)
{
    float sg = gelu_sigmoid(x);
    return sg + 2.0f * x * sg * (1.0f - sg) * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
}

void gelu_forward(float *out, const float *inp, long n)
{
    #pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) out[i] = inp[i] * gelu_sigmoid(inp[i]);
}

void gelu_backward(float *dinp, const float *inp, const float *dout, long n)
{
    #pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) dinp[i] += gelu_grad(inp[i]) * dout[i];
}

void gelu_backward_set(float *dinp, const float *inp, const float *dout, long n)
{
    #pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) dinp[i] = gelu_grad(inp[i]) * dout[i];
}

void residual_forward(float *out, const float *a, const float *b, long n)
{
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* ------------------------------------------------------------------------------------ */
/* Softmax cross-entropy                                                                  */

void crossentropy_forward(float *losses, float *probs, const float *logits,
                          const int32_t *targets, int N, int V)
{
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        float mx = z[0];
        for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        double sum = 0.0;
        #pragma omp simd
        for (int v = 0; v < V; v++) p[v] = ops_expf(z[v] - mx);
        for (int v = 0; v < V; v++) sum += p[v];
        float inv = (float)(1.0 / sum);
        for (int v = 0; v < V; v++) p[v] *= inv;
        /* log-sum-exp form keeps the loss exact when p[target] underflows */
        losses[n] = (float)(log(sum) - (double)(z[targets[n]] - mx));
    }
}

void crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
                           float dloss, int N, int V)
{
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        for (int v = 0; v < V; v++) d[v] += p[v] * dloss;
        d[targets[n]] -= dloss;
    }
}

/* ------------------------------------------------------------------------------------ */
/* Causal softmax attention                                                               */

/* Per (batch, head), strips of ATT_R query rows: the scores of the strip against keys
 * 0..(its last row) as att_tile products (trainer/ops_tile.h) with K^T, the causal softmax
 * of each row while the strip is in L1, then the strip's output as att_tile products of
 * its probabilities with V. Backward likewise by strips of rows (datt, the softmax
 * backward, dQ), then by strips of keys (dK, dV: sums over the rows i >= j, read down
 * the columns of dscore and att). The masked upper triangle is computed only inside
 * tiles that cross the diagonal, and never used. Sums: k order in the tiles, VL lanes
 * then the lanes in order in the softmax sums and row dots; all fixed, so results do
 * not depend on the thread count or on the BLAS core. */

/* Work space of one thread (floats), forward and backward. */
static long att_fwd_floats(int T, int d, int d_v)
{
    long Tp = round_up(T, ATT_W);
    return (long)d * Tp + (long)T * round_up(d_v, ATT_W) + ATT_R * Tp + (long)ATT_R * ATT_W;
}

static long att_bwd_floats(int T, int d, int d_v)
{
    long Tp = round_up(T, ATT_W), dp = round_up(d, ATT_W), dvp = round_up(d_v, ATT_W);
    return (long)d_v * Tp + 2L * T * dp + (long)T * dvp + ATT_R * Tp + (long)ATT_R * ATT_W;
}

/* The kernels have no error path; a few hundred KB per thread beside activations of
 * B*H*T*T floats. */
static float *att_alloc(long floats)
{
    float *p = aligned_alloc(64, ((size_t)floats * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "cascade: out of memory for %ld floats of attention work space\n", floats);
        abort();
    }
    return p;
}

/* Row i of the causal softmax: s holds the strip's raw scores q_i . k_j for its keys
 * j < nz (round_up(nz, VL) floats writable); n = i+1 <= nz. s gets the probabilities of
 * scale * s for j < n and zeros for n <= j < nz (the strip's product with V reads them
 * there, in L1); row (att's row i, T floats) gets the same nz floats, streamed past the
 * cache (the backward reads them; floats of the row past nz are never read). */
static void softmax_row(float *row, float *s, int n, int nz, float scale)
{
    int nv = (n + VL - 1) / VL, last = (nv - 1) * VL;
    vi tail = vlanes_below(n - last);
    /* max of the raw scores (scale > 0 keeps the order), then e^(scale s - scale max) */
    vf mx = vbcast(-INFINITY);
    for (int j = 0; j < last; j += VL) mx = vmax(mx, vload(s + j));
    mx = vmax(mx, vselect(tail, vload(s + last), vbcast(-INFINITY)));
    vf m = vbcast(-vhmax(mx) * scale), sc = vbcast(scale), acc = { 0 };
    for (int j = 0; j < last; j += VL) {
        vf e = vexpf_nonpos(VFMA(vload(s + j), sc, m));
        acc += e;
        vstore(s + j, e);
    }
    vf e = vselect(tail, vexpf_nonpos(VFMA(vload(s + last), sc, m)), (vf){ 0 });
    acc += e;
    vstore(s + last, e);
    vf inv = vbcast(1.0f / vsum(acc));
    int j = 0;
    for (; j <= last; j += VL) vstore(s + j, vload(s + j) * inv);
    for (; j < nz; j += VL) vstore(s + j, (vf){ 0 });
    for (j = 0; j + VL <= nz; j += VL) vstream(row + j, vload(s + j));
    for (; j < nz; j++) row[j] = s[j];
}

void attention_forward(float *out, float *att, const float *q, const float *k,
                       const float *v, int ld, int B, int T, int H, int d, int d_v)
{
    const float scale = 1.0f / sqrtf((float)d);
    const int ldo = H * d_v, Tp = round_up(T, ATT_W);
    #pragma omp parallel
    {
        float *ws = att_alloc(att_fwd_floats(T, d, d_v));
        float *kt = ws;                                         /* (d, Tp) K^T */
        float *vbuf = kt + (long)d * Tp;                        /* (T, dvp) padded V */
        float *s = vbuf + (long)T * round_up(d_v, ATT_W);       /* (ATT_R, Tp) scores */
        float *tile = s + (long)ATT_R * Tp;                     /* (ATT_R, ATT_W) */
        #pragma omp for schedule(static)
        for (int bh = 0; bh < B * H; bh++) {
            int b = bh / H, h = bh % H;
            const float *qh = q + (size_t)b * T * ld + (size_t)h * d;
            const float *kh = k + (size_t)b * T * ld + (size_t)h * d;
            const float *vh = v + (size_t)b * T * ld + (size_t)h * d_v;
            float *a = att + (size_t)bh * T * T;
            float *oh = out + (size_t)b * T * ldo + (size_t)h * d_v;
            copy_transpose(kt, Tp, kh, ld, T, d);
            long ldv;
            const float *vb = tile_operand(vbuf, &ldv, vh, ld, T, d_v);
            const float *ar[ATT_R];
            for (int i0 = 0; i0 < T; i0 += ATT_R) {
                int nr = T - i0 < ATT_R ? T - i0 : ATT_R, nk = i0 + nr;
                /* scores of the strip against keys 0..nk-1 */
                tile_rows(ar, qh, ld, i0, nr);
                for (int j0 = 0; j0 < nk; j0 += ATT_W) att_tile(s + j0, Tp, ar, 1, kt + j0, Tp, 0, d);
                for (int r = 0; r < nr; r++)
                    softmax_row(a + (size_t)(i0 + r) * T, s + (long)r * Tp, i0 + r + 1, nk, scale);
                /* out (strip, d_v) = att (strip, keys < nk) @ V, from the probabilities in
                 * s (0 past each row's i) */
                tile_rows(ar, s, Tp, 0, nr);
                for (int c0 = 0; c0 < d_v; c0 += ATT_W) {
                    int nc = d_v - c0 < ATT_W ? d_v - c0 : ATT_W;
                    att_tile(tile, ATT_W, ar, 1, vb + c0, ldv, 0, nk);
                    for (int r = 0; r < nr; r++)
                        memcpy(oh + (size_t)(i0 + r) * ldo + c0, tile + r * ATT_W, sizeof(float) * nc);
                }
            }
        }
        vstream_fence();
        free(ws);
    }
}

long attention_scratch_floats(int T, int nthreads)
{
    return (long)T * T * nthreads;
}

/* Row i of the softmax backward: a = att's row (T floats), p = datt_ij (j < n = i+1;
 * round_up(n, VL) readable floats); dr (T floats) gets a_ij (datt_ij - sum_k a_ik datt_ik)
 * for j < n and zeros for n <= j < nz. */
static void softmax_backward_row(float *dr, const float *arow, const float *p, int n, int nz, int T)
{
    int nv = (n + VL - 1) / VL, last = (nv - 1) * VL;
    vi tail = vlanes_below(n - last);
    vf acc = { 0 }, al;
    for (int j = 0; j < last; j += VL) acc += vload(arow + j) * vload(p + j);
    if (last + VL <= T) al = vload(arow + last);
    else for (int l = 0; l < VL; l++) al[l] = last + l < n ? arow[last + l] : 0.0f;
    al = vselect(tail, al, (vf){ 0 });
    acc += al * vselect(tail, vload(p + last), (vf){ 0 });
    vf dot = vbcast(vsum(acc));
    for (int j = 0; j < last; j += VL) vstore(dr + j, vload(arow + j) * (vload(p + j) - dot));
    vf dl = al * (vload(p + last) - dot);   /* 0 in the lanes from n */
    int end = last + VL;
    if (end <= T) vstore(dr + last, dl);
    else { for (int l = 0; last + l < T; l++) dr[last + l] = dl[l]; end = T; }
    for (int j = end; j < nz; j++) dr[j] = 0.0f;
}

/* acc: 1 adds into dq, dk, dv; 0 overwrites their heads' columns. */
static void attention_backward_impl(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                                    const float *q, const float *k, const float *v, const float *att,
                                    int ld, int B, int T, int H, int d, int d_v, int acc)
{
    const float scale = 1.0f / sqrtf((float)d);
    const int ldo = H * d_v, Tp = round_up(T, ATT_W);
    #pragma omp parallel
    {
        float *ws = att_alloc(att_bwd_floats(T, d, d_v));
        float *vt = ws;                                         /* (d_v, Tp) V^T */
        float *kbuf = vt + (long)d_v * Tp;                      /* (T, dp) padded K */
        float *qbuf = kbuf + (long)T * round_up(d, ATT_W);      /* (T, dp) padded Q */
        float *obuf = qbuf + (long)T * round_up(d, ATT_W);      /* (T, dvp) padded dO */
        float *p = obuf + (long)T * round_up(d_v, ATT_W);       /* (ATT_R, Tp) datt strip */
        float *tile = p + (long)ATT_R * Tp;                     /* (ATT_R, ATT_W) */
        float *ds = scratch + (size_t)omp_get_thread_num() * T * T;  /* (T, T) dscores */
        #pragma omp for schedule(static)
        for (int bh = 0; bh < B * H; bh++) {
            int b = bh / H, h = bh % H;
            size_t base = (size_t)b * T * ld + (size_t)h * d, vbase = (size_t)b * T * ld + (size_t)h * d_v;
            const float *a = att + (size_t)bh * T * T;
            const float *dO = dout + (size_t)b * T * ldo + (size_t)h * d_v;
            copy_transpose(vt, Tp, v + vbase, ld, T, d_v);
            long ldk, ldq, ldob;
            const float *kb = tile_operand(kbuf, &ldk, k + base, ld, T, d);
            const float *qb = tile_operand(qbuf, &ldq, q + base, ld, T, d);
            const float *ob = tile_operand(obuf, &ldob, dO, ldo, T, d_v);
            const float *ar[ATT_R];
            /* strips of rows: datt = dO V^T, dscore = a (datt - rowdot), dQ += dscore K */
            for (int i0 = 0; i0 < T; i0 += ATT_R) {
                int nr = T - i0 < ATT_R ? T - i0 : ATT_R, nk = i0 + nr;
                tile_rows(ar, dO, ldo, i0, nr);
                for (int j0 = 0; j0 < nk; j0 += ATT_W) att_tile(p + j0, Tp, ar, 1, vt + j0, Tp, 0, d_v);
                /* dscore rows, zero up to the strip's last key: the tiles below read them
                 * (a key strip j0 <= i0 reads columns j0..j0+ATT_R-1 <= nk-1 of these rows) */
                for (int r = 0; r < nr; r++)
                    softmax_backward_row(ds + (size_t)(i0 + r) * T, a + (size_t)(i0 + r) * T,
                                         p + (long)r * Tp, i0 + r + 1, nk, T);
                tile_rows(ar, ds, T, i0, nr);
                for (int c0 = 0; c0 < d; c0 += ATT_W) {
                    int nc = d - c0 < ATT_W ? d - c0 : ATT_W;
                    att_tile(tile, ATT_W, ar, 1, kb + c0, ldk, 0, nk);
                    for (int r = 0; r < nr; r++) {
                        float *o = dq + base + (size_t)(i0 + r) * ld + c0;
                        const float *t = tile + r * ATT_W;
                        if (acc) for (int c = 0; c < nc; c++) o[c] += scale * t[c];
                        else for (int c = 0; c < nc; c++) o[c] = scale * t[c];
                    }
                }
            }
            /* strips of keys j0..: dK += dscore^T Q, dV += att^T dO, over rows i >= j0 */
            for (int j0 = 0; j0 < T; j0 += ATT_R) {
                int nr = T - j0 < ATT_R ? T - j0 : ATT_R;
                for (int r = 0; r < ATT_R; r++) ar[r] = ds + j0 + (r < nr ? r : nr - 1);
                for (int c0 = 0; c0 < d; c0 += ATT_W) {
                    int nc = d - c0 < ATT_W ? d - c0 : ATT_W;
                    att_tile(tile, ATT_W, ar, T, qb + c0, ldq, j0, T);
                    for (int r = 0; r < nr; r++) {
                        float *o = dk + base + (size_t)(j0 + r) * ld + c0;
                        const float *t = tile + r * ATT_W;
                        if (acc) for (int c = 0; c < nc; c++) o[c] += scale * t[c];
                        else for (int c = 0; c < nc; c++) o[c] = scale * t[c];
                    }
                }
                for (int r = 0; r < ATT_R; r++) ar[r] = a + j0 + (r < nr ? r : nr - 1);
                for (int c0 = 0; c0 < d_v; c0 += ATT_W) {
                    int nc = d_v - c0 < ATT_W ? d_v - c0 : ATT_W;
                    att_tile(tile, ATT_W, ar, T, ob + c0, ldob, j0, T);
                    for (int r = 0; r < nr; r++) {
                        float *o = dv + vbase + (size_t)(j0 + r) * ld + c0;
                        const float *t = tile + r * ATT_W;
                        if (acc) for (int c = 0; c < nc; c++) o[c] += t[c];
                        else memcpy(o, t, sizeof(float) * nc);
                    }
                }
            }
        }
        free(ws);
    }
}

void attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                        const float *q, const float *k, const float *v, const float *att,
                        int ld, int B, int T, int H, int d, int d_v)
{
    attention_backward_impl(dq, dk, dv, scratch, dout, q, k, v, att, ld, B, T, H, d, d_v, 1);
}

void attention_backward_set(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *q, const float *k, const float *v, const float *att,
                            int ld, int B, int T, int H, int d, int d_v)
{
    attention_backward_impl(dq, dk, dv, scratch, dout, q, k, v, att, ld, B, T, H, d, d_v, 0);
}
