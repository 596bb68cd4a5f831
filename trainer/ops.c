/* trainer/ops.c — the GPT-2 kernels: embedding, LayerNorm, matmul, tied output head,
 * GELU, residual, softmax cross-entropy and causal softmax attention, each with its exact
 * backward. Signatures and conventions are in trainer/ops.h (backward ops accumulate).
 *
 * Threading: OpenMP over rows (or over (batch, head) for attention). Inside a parallel
 * region OpenBLAS' OpenMP build runs each sgemm on the calling thread. Reductions over
 * rows (weight and bias gradients of elementwise ops) run over column blocks with the
 * rows in a fixed order, so results do not depend on the thread count.
 */
#include "trainer/ops.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <omp.h>
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

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C)
{
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float m = 0.0f, v = 0.0f;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        for (int c = 0; c < C; c++) { float xm = x[c] - m; v += xm * xm; }
        float s = 1.0f / sqrtf(v / C + LAYERNORM_EPS);
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * w[c] + b[c];
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
        float m = mean[n], s = rstd[n], gmean = 0.0f, gxmean = 0.0f;
        for (int c = 0; c < C; c++) {
            float g = d[c] * w[c];
            gmean += g;
            gxmean += g * (x[c] - m) * s;
        }
        gmean /= C;
        gxmean /= C;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - m) * s;
            dx[c] += s * (d[c] * w[c] - gmean - xhat * gxmean);
        }
    }
    /* Weight and bias gradients: column blocks in parallel, rows in order. */
    #pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += COL_BLOCK) {
        int c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++) {
                dw[c] += d[c] * (x[c] - mean[n]) * rstd[n];
                db[c] += d[c];
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Matmul (every product goes through cblas_sgemm)                                        */

void matmul_forward(float *out, int ldo, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC)
{
    float beta = 0.0f;
    if (bias) {
        #pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * ldo, bias, sizeof(float) * OC);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, IC,
                1.0f, inp, IC, w, OC, beta, out, ldo);
}

/* Column sums of a (N, OC) matrix with row stride ld, added into out (OC). */
static void column_sums_add(float *out, const float *m, int ld, int N, int OC)
{
    #pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < OC; c0 += COL_BLOCK) {
        int c1 = c0 + COL_BLOCK < OC ? c0 + COL_BLOCK : OC;
        for (int n = 0; n < N; n++) {
            const float *row = m + (size_t)n * ld;
            for (int c = c0; c < c1; c++) out[c] += row[c];
        }
    }
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, int ldd,
                     const float *inp, const float *w, int N, int IC, int OC)
{
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, IC, OC,
                    1.0f, dout, ldd, w, OC, 1.0f, dinp, IC);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IC, OC, N,
                1.0f, inp, IC, dout, ldd, 1.0f, dw, OC);
    if (dbias) column_sums_add(dbias, dout, ldd, N, OC);
}

void tied_head_forward(float *logits, const float *x, const float *wte, int N, int C, int V)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, C,
                1.0f, x, C, wte, C, 0.0f, logits, V);
}

void tied_head_backward(float *dx, float *dwte, const float *dlogits, const float *x,
                        const float *wte, int N, int C, int V)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, V,
                1.0f, dlogits, V, wte, C, 1.0f, dx, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, N,
                1.0f, dlogits, V, x, C, 1.0f, dwte, C);
}

/* ------------------------------------------------------------------------------------ */
/* GELU (tanh approximation) and residual                                                 */

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

void gelu_forward(float *out, const float *inp, long n)
{
    #pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + ops_tanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, long n)
{
    #pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float th = ops_tanhf(u);
        float sech2 = 1.0f - th * th;
        float grad = 0.5f * (1.0f + th) +
                     0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += grad * dout[i];
    }
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

/* Query rows per block: a block of rows r0..r0+nr-1 needs keys 0..r0+nr-1 only, so the
 * masked upper triangle is computed only inside diagonal blocks (at T = 128: 75% of the
 * full T x T products, at T = 1024: 53%), with one sgemm per block and product. */
#define ATT_ROWS 64

void attention_forward(float *out, float *att, const float *q, const float *k,
                       const float *v, int ld, int B, int T, int H, int d, int d_v)
{
    const float scale = 1.0f / sqrtf((float)d);
    const int ldo = H * d_v;
    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        size_t base = (size_t)b * T * ld + (size_t)h * d;       /* head h of q, k */
        size_t vbase = (size_t)b * T * ld + (size_t)h * d_v;    /* head h of v */
        float *a = att + (size_t)bh * T * T;
        /* scores (rows, keys) = Q K^T / sqrt(d), block by block of rows */
        for (int r0 = 0; r0 < T; r0 += ATT_ROWS) {
            int nr = T - r0 < ATT_ROWS ? T - r0 : ATT_ROWS, nk = r0 + nr;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nk, d,
                        scale, q + base + (size_t)r0 * ld, ld, k + base, ld, 0.0f, a + (size_t)r0 * T, T);
        }
        for (int i = 0; i < T; i++) {
            float *row = a + (size_t)i * T;
            float mx = row[0];
            for (int j = 1; j <= i; j++) mx = row[j] > mx ? row[j] : mx;
            #pragma omp simd
            for (int j = 0; j <= i; j++) row[j] = ops_expf(row[j] - mx);
            float sum = 0.0f;
            for (int j = 0; j <= i; j++) sum += row[j];
            float inv = 1.0f / sum;
            for (int j = 0; j <= i; j++) row[j] *= inv;
            for (int j = i + 1; j < T; j++) row[j] = 0.0f;
        }
        /* out (rows, d_v) = att (rows, keys) @ V (keys, d_v) */
        for (int r0 = 0; r0 < T; r0 += ATT_ROWS) {
            int nr = T - r0 < ATT_ROWS ? T - r0 : ATT_ROWS, nk = r0 + nr;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, d_v, nk,
                        1.0f, a + (size_t)r0 * T, T, v + vbase, ld, 0.0f,
                        out + (size_t)b * T * ldo + (size_t)h * d_v + (size_t)r0 * ldo, ldo);
        }
    }
}

long attention_scratch_floats(int T, int nthreads)
{
    return (long)T * T * nthreads;
}

void attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                        const float *q, const float *k, const float *v, const float *att,
                        int ld, int B, int T, int H, int d, int d_v)
{
    const float scale = 1.0f / sqrtf((float)d);
    const int ldo = H * d_v;
    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        size_t base = (size_t)b * T * ld + (size_t)h * d;       /* head h of q, k */
        size_t vbase = (size_t)b * T * ld + (size_t)h * d_v;    /* head h of v */
        const float *a = att + (size_t)bh * T * T;
        const float *dO = dout + (size_t)b * T * ldo + (size_t)h * d_v;
        float *ds = scratch + (size_t)omp_get_thread_num() * T * T;
        /* per block of rows: datt (rows, keys) = dO @ V^T; dV (keys) += att^T @ dO */
        for (int r0 = 0; r0 < T; r0 += ATT_ROWS) {
            int nr = T - r0 < ATT_ROWS ? T - r0 : ATT_ROWS, nk = r0 + nr;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nk, d_v,
                        1.0f, dO + (size_t)r0 * ldo, ldo, v + vbase, ld, 0.0f, ds + (size_t)r0 * T, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, d_v, nr,
                        1.0f, a + (size_t)r0 * T, T, dO + (size_t)r0 * ldo, ldo, 1.0f, dv + vbase, ld);
        }
        /* softmax backward: dscore_ij = a_ij (datt_ij - sum_k a_ik datt_ik), j <= i */
        for (int i = 0; i < T; i++) {
            const float *ar = a + (size_t)i * T;
            float *dr = ds + (size_t)i * T;
            float dot = 0.0f;
            for (int j = 0; j <= i; j++) dot += ar[j] * dr[j];
            for (int j = 0; j <= i; j++) dr[j] = ar[j] * (dr[j] - dot);
            for (int j = i + 1; j < T; j++) dr[j] = 0.0f;
        }
        /* dQ (rows) += dscore @ K * scale; dK (keys) += dscore^T @ Q (rows) * scale */
        for (int r0 = 0; r0 < T; r0 += ATT_ROWS) {
            int nr = T - r0 < ATT_ROWS ? T - r0 : ATT_ROWS, nk = r0 + nr;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, d, nk,
                        scale, ds + (size_t)r0 * T, T, k + base, ld, 1.0f, dq + base + (size_t)r0 * ld, ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, d, nr,
                        scale, ds + (size_t)r0 * T, T, q + base + (size_t)r0 * ld, ld, 1.0f, dk + base, ld);
        }
    }
}
