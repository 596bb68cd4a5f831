/* trainer/ops_linear.c — ELU+1 causal linear attention (SPEC.md §4,
 * Katharopoulos et al. 2020), forward and exact backward.
 *
 * Per head, with a_i = phi(q_i), c_j = phi(k_j), phi(x) = elu(x) + 1 > 0:
 *   S_i = sum_{j<=i} c_j v_j^T (d,d_v),  z_i = sum_{j<=i} c_j (d),
 *   num_i = S_i^T a_i (d_v),  den_i = a_i . z_i + eps,  y_i = num_i / den_i.
 * d is the query/key width of a head, d_v its value width (equal unless a layer's qk_dim
 * and v_dim differ). Both sweeps keep running d x d_v sums, so a head costs O(T d d_v)
 * time and O(d d_v) memory;
 * no T x T matrix is ever formed (that is the point of linearising a layer, SPEC §5).
 *
 * Backward, with dy_i given:
 *   dnum_i = dy_i / den_i,  dden_i = -(y_i . dy_i) / den_i            (y = num/den)
 *   da_i   = S_i dnum_i + dden_i z_i                                   (through num, den)
 *   dc_j   = G_j v_j + g_j,  dv_j = G_j^T c_j, where, since S_i and z_i contain c_j and
 *            v_j for every i >= j,
 *            G_j = sum_{i>=j} a_i dnum_i^T (d,d_v),  g_j = sum_{i>=j} dden_i a_i (d)
 *   dq_i = da_i * phi'(q_i), dk_j = dc_j * phi'(k_j), phi'(x) = 1 (x>0), e^x (x<=0).
 * A forward sweep rebuilds S_i, z_i for dq; a reverse sweep builds G_j, g_j for dk, dv.
 *
 * The running sums are rank-1 updates and matrix-vector products of size d; they are
 * plain loops rather than BLAS calls, because a d x d call per token costs more in
 * overhead than it computes. Their contiguous inner loops are marked `omp simd`: gcc's
 * -O2 cost model does not vectorise loops of unknown trip count on its own (4-5x at d=64).
 *
 * Threads split the B*H heads; each head is one sequential sweep in a fixed order, so
 * the results do not depend on the thread count.
 */
#include <math.h>
#include <omp.h>

#include "trainer/ops.h"

/* phi(x) = elu(x) + 1: x + 1 for x > 0, e^x otherwise (always > 0, so den_i > 0). */
static inline float phi(float x) { return x > 0.0f ? x + 1.0f : expf(x); }
static inline float phi_grad(float x) { return x > 0.0f ? 1.0f : expf(x); }

/* Floats of per-thread work space: one d x d_v running matrix, three d-vectors and two
 * d_v-vectors. */
static long per_thread_floats(int d, int d_v) { return (long)d * d_v + 3L * d + 2L * d_v; }

/* out (B,T,H*d_v), den (B,H,T); q, k (width d per head), v (d_v) strided with ld (ops.h); scratch as for backward,
 * nthreads at least the team size of the parallel loop (omp_get_max_threads()). */
void linear_attention_forward(float *out, float *den, float *scratch, const float *q,
                              const float *k, const float *v, int ld, int B, int T, int H, int d,
                              int d_v)
{
    if (B <= 0 || T <= 0 || H <= 0 || d <= 0 || d_v <= 0) return;
    long C = (long)H * d_v;
    long per = per_thread_floats(d, d_v);

    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        float *S = scratch + omp_get_thread_num() * per; /* (d,d_v) running sum of c_j v_j^T */
        float *z = S + (long)d * d_v;                 /* (d) running sum of c_j */
        float *a = z + d;                             /* (d) phi(q_i) */
        float *c = a + d;                             /* (d) phi(k_i) */
        for (long e = 0; e < (long)d * d_v; e++) S[e] = 0.0f;
        for (int r = 0; r < d; r++) z[r] = 0.0f;
        float *den_bh = den + (long)bh * T;

        for (int i = 0; i < T; i++) {
            long row = ((long)b * T + i) * ld + (long)h * d;
            long vrow = ((long)b * T + i) * ld + (long)h * d_v;
            const float *qi = q + row, *ki = k + row, *vi = v + vrow;
            /* S_i = S_{i-1} + c_i v_i^T, z_i = z_{i-1} + c_i: token i sees itself. */
            for (int r = 0; r < d; r++) {
                c[r] = phi(ki[r]);
                z[r] += c[r];
                float *Sr = S + (long)r * d_v;
                #pragma omp simd
                for (int col = 0; col < d_v; col++) Sr[col] += c[r] * vi[col];
            }
            /* y_i = S_i^T a_i / (a_i . z_i + eps) */
            float *yi = out + ((long)b * T + i) * C + (long)h * d_v;
            float dn = LINEAR_ATTN_EPS;
            for (int col = 0; col < d_v; col++) yi[col] = 0.0f;
            for (int r = 0; r < d; r++) {
                a[r] = phi(qi[r]);
                dn += a[r] * z[r];
                const float *Sr = S + (long)r * d_v;
                #pragma omp simd
                for (int col = 0; col < d_v; col++) yi[col] += a[r] * Sr[col];
            }
            float inv = 1.0f / dn;
            for (int col = 0; col < d_v; col++) yi[col] *= inv;
            den_bh[i] = dn;
        }
    }
}

/* dq, dk, dv strided like q, k, v (accumulated); dout, out (B,T,H*d_v); den (B,H,T).
 * scratch: linear_attention_scratch_floats(T, d, d_v, nthreads) floats, nthreads at least the
 * team size of the parallel loop (omp_get_max_threads()). Derivation at the top. */
void linear_attention_backward(float *dq, float *dk, float *dv, float *scratch,
                               const float *dout, const float *q, const float *k,
                               const float *v, const float *out, const float *den,
                               int ld, int B, int T, int H, int d, int d_v)
{
    if (B <= 0 || T <= 0 || H <= 0 || d <= 0 || d_v <= 0) return;
    long C = (long)H * d_v;
    long per = per_thread_floats(d, d_v);

    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        float *M = scratch + omp_get_thread_num() * per; /* (d,d_v) S_i, then G_j */
        float *m = M + (long)d * d_v;                     /* (d) z_i, then g_j */
        float *a = m + d;                                 /* (d) phi(q) */
        float *c = a + d;                                 /* (d) phi(k) */
        float *dnum = c + d;                              /* (d_v) dy_i / den_i */
        float *acc = dnum + d_v;                          /* (d_v) a gradient row of dv */
        const float *den_bh = den + (long)bh * T;

        /* Forward sweep: rebuild S_i, z_i; dq_i = (S_i dnum_i + dden_i z_i) * phi'(q_i). */
        for (long e = 0; e < (long)d * d_v; e++) M[e] = 0.0f;
        for (int r = 0; r < d; r++) m[r] = 0.0f;
        for (int i = 0; i < T; i++) {
            long row = ((long)b * T + i) * ld + (long)h * d;
            long vrow = ((long)b * T + i) * ld + (long)h * d_v;
            long orow = ((long)b * T + i) * C + (long)h * d_v;
            const float *qi = q + row, *ki = k + row, *vi = v + vrow;
            const float *yi = out + orow, *dyi = dout + orow;
            for (int r = 0; r < d; r++) {
                c[r] = phi(ki[r]);
                m[r] += c[r];
                float *Mr = M + (long)r * d_v;
                #pragma omp simd
                for (int col = 0; col < d_v; col++) Mr[col] += c[r] * vi[col];
            }
            float inv = 1.0f / den_bh[i], ydy = 0.0f;
            for (int col = 0; col < d_v; col++) {
                dnum[col] = dyi[col] * inv;
                ydy += yi[col] * dyi[col];
            }
            float dden = -ydy * inv;
            float *dqi = dq + row;
            for (int r = 0; r < d; r++) {
                const float *Mr = M + (long)r * d_v;
                float s = 0.0f;
                #pragma omp simd reduction(+:s)
                for (int col = 0; col < d_v; col++) s += Mr[col] * dnum[col];
                dqi[r] += (s + dden * m[r]) * phi_grad(qi[r]);
            }
        }

        /* Reverse sweep: G_j, g_j sum over i >= j, so token j's own term goes in first. */
        for (long e = 0; e < (long)d * d_v; e++) M[e] = 0.0f;
        for (int r = 0; r < d; r++) m[r] = 0.0f;
        for (int j = T - 1; j >= 0; j--) {
            long row = ((long)b * T + j) * ld + (long)h * d;
            long vrow = ((long)b * T + j) * ld + (long)h * d_v;
            long orow = ((long)b * T + j) * C + (long)h * d_v;
            const float *qj = q + row, *kj = k + row, *vj = v + vrow;
            const float *yj = out + orow, *dyj = dout + orow;
            float inv = 1.0f / den_bh[j], ydy = 0.0f;
            for (int col = 0; col < d_v; col++) {
                dnum[col] = dyj[col] * inv;
                ydy += yj[col] * dyj[col];
            }
            float dden = -ydy * inv;
            for (int r = 0; r < d; r++) {
                a[r] = phi(qj[r]);
                m[r] += dden * a[r];
                float *Mr = M + (long)r * d_v;
                #pragma omp simd
                for (int col = 0; col < d_v; col++) Mr[col] += a[r] * dnum[col];
            }
            /* dk_j = (G_j v_j + g_j) * phi'(k_j);  dv_j = G_j^T c_j */
            float *dkj = dk + row, *dvj = dv + vrow;
            for (int col = 0; col < d_v; col++) acc[col] = 0.0f;
            for (int r = 0; r < d; r++) {
                c[r] = phi(kj[r]);
                const float *Mr = M + (long)r * d_v;
                float s = 0.0f;
                #pragma omp simd reduction(+:s)
                for (int col = 0; col < d_v; col++) {
                    s += Mr[col] * vj[col];
                    acc[col] += c[r] * Mr[col];
                }
                dkj[r] += (s + m[r]) * phi_grad(kj[r]);
            }
            for (int col = 0; col < d_v; col++) dvj[col] += acc[col];
        }
    }
}

/* O(d^2) per thread, independent of T (kept in the signature for symmetry with
 * attention_scratch_floats). */
long linear_attention_scratch_floats(int T, int d, int d_v, int nthreads)
{
    (void)T;
    return (long)nthreads * per_thread_floats(d, d_v);
}
