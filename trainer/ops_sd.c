/* trainer/ops_sd.c — S–D attention's own kernels (SPEC.md §2).
 *
 * An S–D head has logits l_ij = p_i^T L p_j / sqrt(d) with L = S - D, S skew-symmetric
 * and D = diag(softplus(delta)) positive. We never form the bilinear form directly:
 * q_i = L^T p_i turns it into an ordinary dot product q_i . p_j, so the softmax
 * attention kernels (ops.c) do the rest with keys k_j = p_j. What lives here is
 * building L from its free parameters (s, delta), the query transform q = p L, and
 * their backward passes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/ops.h"
#include "trainer/ops_tile.h"

/* softplus(x) = log(1 + e^x), written so that e^x never overflows for large x. */
static float softplus(float x)
{
    return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

/* d softplus / dx = sigmoid(x); exp(-x) may overflow to inf for very negative x,
 * which gives the correct limit 0. */
static float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* Lmat (H,d,d), s (H, d(d-1)/2), delta (H,d).
 * S_ij = s, S_ji = -s (i<j), S_ii = 0: skew by construction, so every eigenvalue of
 * L = S - D has Re <= 0 (SPEC §2). D > 0 because softplus > 0. */
void sd_build_l(float *Lmat, const float *s, const float *delta, int H, int d)
{
    long ns = (long)d * (d - 1) / 2;
    for (int h = 0; h < H; h++) {
        float *L = Lmat + (long)h * d * d;
        const float *sh = s + h * ns;
        const float *dh = delta + (long)h * d;
        long idx = 0; /* row-major upper triangle: (0,1..d-1), (1,2..d-1), ... */
        for (int i = 0; i < d; i++) {
            L[(long)i * d + i] = -softplus(dh[i]);
            for (int j = i + 1; j < d; j++, idx++) {
                L[(long)i * d + j] = sh[idx];
                L[(long)j * d + i] = -sh[idx];
            }
        }
    }
}

/* ds (H, d(d-1)/2) += dL_ij - dL_ji (i<j): s enters L twice, with opposite signs.
 * ddelta (H,d) += -dL_ii * sigmoid(delta_i): L_ii = -softplus(delta_i). dL (H,d,d). */
void sd_build_l_backward(float *ds, float *ddelta, const float *dL, const float *delta,
                         int H, int d)
{
    long ns = (long)d * (d - 1) / 2;
    for (int h = 0; h < H; h++) {
        const float *g = dL + (long)h * d * d;
        float *dsh = ds + h * ns;
        float *ddh = ddelta + (long)h * d;
        const float *dh = delta + (long)h * d;
        long idx = 0;
        for (int i = 0; i < d; i++) {
            ddh[i] += -g[(long)i * d + i] * sigmoid(dh[i]);
            for (int j = i + 1; j < d; j++, idx++)
                dsh[idx] += g[(long)i * d + j] - g[(long)j * d + i];
        }
    }
}

/* The query transform and its backward are per-head products of N x d by d x d: one
 * sgemm per head cost more in BLAS' threading and call overhead than the arithmetic
 * (0.22 ms per layer of the demo probe with 2 threads, 0.08 ms on one). They are
 * att_tile products here (trainer/ops_tile.h), parallel over strips of rows for q and dp,
 * and over (head, tile of dL) for dL, each dL entry summed over the N rows in order, so
 * results do not depend on the thread count. */

/* Work space of one thread: every head's L_h or L_h^T as a tile operand, padded to
 * (d, dp): H x d x dp floats. */
static float *sd_alloc(int H, int d)
{
    size_t n = (size_t)H * d * round_up(d, ATT_W);
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "cascade: out of memory for %zu floats of S-D work space\n", n);
        abort();
    }
    return p;
}

/* out rows (i0.., nr of them, stride ldo) (=|+=) A rows (stride lda) @ Bm (d x dp
 * operand); add: accumulate. */
static void sd_rows_times(float *out, int ldo, const float *A, int lda, const float *Bm, int dp,
                          int i0, int nr, int d, int add)
{
    const float *ar[ATT_R];
    float tile[ATT_R * ATT_W] __attribute__((aligned(64)));
    tile_rows(ar, A, lda, i0, nr);
    for (int c0 = 0; c0 < d; c0 += ATT_W) {
        int nc = d - c0 < ATT_W ? d - c0 : ATT_W;
        att_tile(tile, ATT_W, ar, 1, Bm + c0, dp, 0, d);
        for (int r = 0; r < nr; r++) {
            float *o = out + (long)(i0 + r) * ldo + c0;
            const float *t = tile + r * ATT_W;
            if (add) for (int c = 0; c < nc; c++) o[c] += t[c];
            else memcpy(o, t, sizeof(float) * nc);
        }
    }
}

/* q (N rows, stride ldq), p (N rows, stride ldp), Lmat (H,d,d); per head h the
 * (N,d) block at column h*d: q_h = p_h @ L_h, i.e. row i is p_i^T L = (L^T p_i)^T, so
 * that q_i . p_j = p_i^T L p_j (SPEC §2). q is overwritten. One parallel loop over strips
 * of rows, every head in each. */
void sd_query_forward(float *q, int ldq, const float *p, int ldp, const float *Lmat,
                      int N, int H, int d)
{
    if (N <= 0 || d <= 0) return;
    int dp = round_up(d, ATT_W);
    #pragma omp parallel
    {
        float *lb = sd_alloc(H, d);
        for (int h = 0; h < H; h++)
            copy_pad(lb + (long)h * d * dp, dp, Lmat + (long)h * d * d, d, d, d);
        #pragma omp for schedule(static)
        for (int i0 = 0; i0 < N; i0 += ATT_R)
            for (int h = 0; h < H; h++)
                sd_rows_times(q + (long)h * d, ldq, p + (long)h * d, ldp, lb + (long)h * d * dp, dp, i0,
                              N - i0 < ATT_R ? N - i0 : ATT_R, d, 0);
        free(lb);
    }
}

/* dp_h (N,d) += dq_h @ L_h^T  (d/dp of p L);
 * dL_h (d,d) += p_h^T @ dq_h  (d/dL of p L, summed over the N rows in order).
 * dp, p stride ldp; dq stride ldq. */
void sd_query_backward(float *dp, int ldp, float *dL, const float *dq, int ldq,
                       const float *p, const float *Lmat, int N, int H, int d)
{
    if (N <= 0 || d <= 0) return;
    int dpad = round_up(d, ATT_W), rt = (d + ATT_R - 1) / ATT_R, ct = dpad / ATT_W;
    /* dq's columns are read as B rows: in place where d is a whole number of tiles, else
     * through a zero-padded copy of every head (N x dpad each) */
    float *dqp = NULL;
    if (d % ATT_W) {
        dqp = aligned_alloc(64, ((size_t)H * N * dpad * sizeof(float) + 63) / 64 * 64);
        if (!dqp) { fprintf(stderr, "cascade: out of memory for S-D work space\n"); abort(); }
    }
    #pragma omp parallel
    {
        float *lt = sd_alloc(H, d);
        for (int h = 0; h < H; h++) {      /* L_h^T, padded */
            const float *Lh = Lmat + (long)h * d * d;
            float *o = lt + (long)h * d * dpad;
            for (int i = 0; i < d; i++)
                for (int j = 0; j < dpad; j++) o[(long)i * dpad + j] = j < d ? Lh[(long)j * d + i] : 0.0f;
        }
        #pragma omp for schedule(static)
        for (int i0 = 0; i0 < N; i0 += ATT_R)
            for (int h = 0; h < H; h++)
                sd_rows_times(dp + (long)h * d, ldp, dq + (long)h * d, ldq, lt + (long)h * d * dpad, dpad, i0,
                              N - i0 < ATT_R ? N - i0 : ATT_R, d, 1);
        free(lt);
        if (dqp) {
            #pragma omp for schedule(static)
            for (int h = 0; h < H; h++) copy_pad(dqp + (long)h * N * dpad, dpad, dq + (long)h * d, ldq, N, d);
        }
        /* dL: tiles (ATT_R rows of L, ATT_W columns) of every head, each summed over the
         * N rows in order; p_h^T's rows are p's columns (k stride ldp) */
        #pragma omp for schedule(static)
        for (int t = 0; t < H * rt * ct; t++) {
            int h = t / (rt * ct), r0 = (t / ct % rt) * ATT_R, c0 = (t % ct) * ATT_W;
            int nr = d - r0 < ATT_R ? d - r0 : ATT_R, nc = d - c0 < ATT_W ? d - c0 : ATT_W;
            long ldb = dqp ? dpad : ldq;
            const float *Bm = dqp ? dqp + (long)h * N * dpad : dq + (long)h * d;
            const float *ar[ATT_R];
            float tile[ATT_R * ATT_W] __attribute__((aligned(64)));
            for (int r = 0; r < ATT_R; r++) ar[r] = p + (long)h * d + r0 + (r < nr ? r : nr - 1);
            att_tile(tile, ATT_W, ar, ldp, Bm + c0, ldb, 0, N);
            float *o = dL + (long)h * d * d;
            for (int r = 0; r < nr; r++)
                for (int c = 0; c < nc; c++) o[(long)(r0 + r) * d + c0 + c] += tile[r * ATT_W + c];
        }
    }
    free(dqp);
}
