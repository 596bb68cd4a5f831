/* trainer/ops_sd.c — S–D attention's own kernels (SPEC.md §2).
 *
 * An S–D head has logits l_ij = p_i^T L p_j / sqrt(d) with L = S - D, S skew-symmetric
 * and D = diag(softplus(delta)) positive. We never form the bilinear form directly:
 * q_i = L^T p_i turns it into an ordinary dot product q_i . p_j, so the softmax
 * attention kernels (ops.c) do the rest with keys k_j = p_j. What lives here is
 * building L from its free parameters (s, delta), the query transform q = p L, and
 * their backward passes.
 */
#include <cblas.h>
#include <math.h>

#include "trainer/ops.h"

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

/* q (N rows, stride ldq), p (N rows, stride ldp), Lmat (H,d,d); per head h the
 * (N,d) block at column h*d: q_h = p_h @ L_h, i.e. row i is p_i^T L = (L^T p_i)^T, so
 * that q_i . p_j = p_i^T L p_j (SPEC §2). q is overwritten. One sgemm per head; BLAS
 * threads it. */
void sd_query_forward(float *q, int ldq, const float *p, int ldp, const float *Lmat,
                      int N, int H, int d)
{
    if (N <= 0 || d <= 0) return;
    for (int h = 0; h < H; h++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d, d,
                    1.0f, p + (long)h * d, ldp, Lmat + (long)h * d * d, d,
                    0.0f, q + (long)h * d, ldq);
}

/* dp_h (N,d) += dq_h @ L_h^T  (d/dp of p L);
 * dL_h (d,d) += p_h^T @ dq_h  (d/dL of p L, summed over the N rows inside the sgemm).
 * dp, p stride ldp; dq stride ldq. */
void sd_query_backward(float *dp, int ldp, float *dL, const float *dq, int ldq,
                       const float *p, const float *Lmat, int N, int H, int d)
{
    if (N <= 0 || d <= 0) return;
    for (int h = 0; h < H; h++) {
        const float *dqh = dq + (long)h * d;
        const float *Lh = Lmat + (long)h * d * d;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, d, d,
                    1.0f, dqh, ldq, Lh, d, 1.0f, dp + (long)h * d, ldp);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, N,
                    1.0f, p + (long)h * d, ldp, dqh, ldq, 1.0f, dL + (long)h * d * d, d);
    }
}
