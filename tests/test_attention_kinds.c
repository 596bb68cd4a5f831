/* tests/test_attention_kinds.c — the S–D kernels (trainer/ops_sd.c, SPEC.md §2) and ELU+1
 * causal linear attention (trainer/ops_linear.c, SPEC.md §4).
 *
 * Gradients are checked against double-precision central finite differences of a scalar
 * loss  loss = sum(out .* W)  with fixed random weights W (so dout = W), with float
 * kernels and inputs in [-1, 1). The tolerance, per component, is
 *     |analytic - numeric| <= GRAD_RTOL * max(|analytic|, |numeric|) + GRAD_ATOL
 * with GRAD_RTOL = 1e-2, GRAD_ATOL = 1e-3 (gradients are O(0.1..1) here). It catches a
 * flipped sign or a dropped term: each was tried by breaking the kernel (the denominator
 * path, phi' on the x<=0 branch, the i=j term of the reverse sweep, ds's minus sign).
 * Every backward is called on gradients pre-filled with random values, and the check
 * uses (after - before), so it also checks that backward functions accumulate.
 */
#include "test.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/ops.h"

#define GRAD_RTOL 1e-2
#define GRAD_ATOL 1e-3
#define FD_STEP 1e-2

/* ---- helpers --------------------------------------------------------------------- */

/* xorshift64*: a fixed stream of uniforms in [-1, 1) per seed. */
static float rand_unit(uint64_t *s)
{
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    uint64_t x = *s * 2685821657736338717ULL;
    return (float)((double)(x >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

static void fill_rand(float *x, long n, float scale, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (long i = 0; i < n; i++) x[i] = scale * rand_unit(&s);
}

static double dmax(double a, double b) { return a > b ? a : b; }

static int grad_close(double a, double n)
{
    return fabs(a - n) <= GRAD_RTOL * dmax(fabs(a), fabs(n)) + GRAD_ATOL;
}

static double phi_ref(double x) { return x > 0 ? x + 1.0 : exp(x); }
static double softplus_ref(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Weighted sum of an (N, C) block at row stride ld. */
static double weighted_sum(const float *x, int ld, const float *w, int N, int C)
{
    double s = 0;
    for (int i = 0; i < N; i++)
        for (int c = 0; c < C; c++) s += (double)x[(long)i * ld + c] * w[(long)i * C + c];
    return s;
}

/* Tallies a gradient check so that a failure prints one line, not thousands. */
struct grad_tally { int bad, total; double worst_a, worst_n; long worst_i; };

static void tally(struct grad_tally *g, double a, double n, long i)
{
    g->total++;
    if (!grad_close(a, n)) {
        if (g->bad == 0 || fabs(a - n) > fabs(g->worst_a - g->worst_n)) {
            g->worst_a = a; g->worst_n = n; g->worst_i = i;
        }
        g->bad++;
    }
}

/* ---- S–D: building L -------------------------------------------------------------- */

TEST(attn_sd_build_l_structure_and_gradient)
{
    const int H = 2;
    const int dims[] = {1, 2, 5};
    for (unsigned di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        int d = dims[di];
        int ns = d * (d - 1) / 2;
        float *s = malloc(sizeof(float) * (H * ns + 1));
        float *delta = malloc(sizeof(float) * H * d);
        float *L = malloc(sizeof(float) * H * d * d);
        float *W = malloc(sizeof(float) * H * d * d);
        float *ds = malloc(sizeof(float) * (H * ns + 1));
        float *ds0 = malloc(sizeof(float) * (H * ns + 1));
        float *dd = malloc(sizeof(float) * H * d);
        float *dd0 = malloc(sizeof(float) * H * d);
        fill_rand(s, H * ns, 0.5f, 1 + di);
        fill_rand(delta, H * d, 1.0f, 2 + di);
        /* extremes: softplus must neither overflow nor lose its tail */
        delta[0] = 30.0f;
        if (H * d > 1) delta[1] = -30.0f;
        sd_build_l(L, s, delta, H, d);

        for (int h = 0; h < H; h++) {
            const float *Lh = L + h * d * d;
            int idx = 0;
            for (int i = 0; i < d; i++) {
                double sp = softplus_ref(delta[h * d + i]);
                CHECK_NEAR(Lh[i * d + i], -sp, 1e-6 * sp);
                for (int j = i + 1; j < d; j++, idx++) {
                    CHECK(Lh[i * d + j] == s[h * ns + idx]);  /* upper triangle, row-major */
                    CHECK(Lh[j * d + i] == -Lh[i * d + j]);   /* S skew, D diagonal */
                }
            }
        }

        /* gradient of sum(L .* W) w.r.t. s and delta, at moderate delta */
        fill_rand(delta, H * d, 1.0f, 3 + di);
        fill_rand(W, H * d * d, 1.0f, 4 + di);
        fill_rand(ds0, H * ns, 1.0f, 5 + di);
        fill_rand(dd0, H * d, 1.0f, 6 + di);
        memcpy(ds, ds0, sizeof(float) * H * ns);
        memcpy(dd, dd0, sizeof(float) * H * d);
        sd_build_l_backward(ds, dd, W, delta, H, d);
        struct grad_tally g = {0};
        for (int pass = 0; pass < 2; pass++) {
            float *x = pass == 0 ? s : delta;
            const float *dx = pass == 0 ? ds : dd, *dx0 = pass == 0 ? ds0 : dd0;
            int n = pass == 0 ? H * ns : H * d;
            for (int i = 0; i < n; i++) {
                float x0 = x[i], xp = x0 + (float)FD_STEP, xm = x0 - (float)FD_STEP;
                x[i] = xp; sd_build_l(L, s, delta, H, d);
                double lp = weighted_sum(L, d * d, W, H, d * d);
                x[i] = xm; sd_build_l(L, s, delta, H, d);
                double lm = weighted_sum(L, d * d, W, H, d * d);
                x[i] = x0;
                tally(&g, (double)dx[i] - dx0[i], (lp - lm) / ((double)xp - xm), pass * 1000 + i);
            }
        }
        CHECK_MSG(g.bad == 0, "d=%d: %d of %d gradients off, worst #%ld analytic %.6g numeric %.6g",
                  d, g.bad, g.total, g.worst_i, g.worst_a, g.worst_n);
        free(s); free(delta); free(L); free(W); free(ds); free(ds0); free(dd); free(dd0);
    }
}

/* ---- S–D: the query transform ----------------------------------------------------- */

/* Buffers laid out like the trainer's interleaved (N, 3*H*d) q|k|v buffer plus padding,
 * so a stride bug shows: q in slot 0, p (the keys) in slot 1. */
TEST(attn_sd_query_matches_naive_and_gradient)
{
    const int H = 2, N = 2 * 7;
    const int dims[] = {1, 3, 4};
    for (unsigned di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        int d = dims[di], C = H * d, ld = 3 * C + 2;
        long nb = (long)N * ld;
        float *buf = malloc(sizeof(float) * nb), *buf0 = malloc(sizeof(float) * nb);
        float *gbuf = malloc(sizeof(float) * nb), *gbuf0 = malloc(sizeof(float) * nb);
        float *L = malloc(sizeof(float) * H * d * d);
        float *dL = malloc(sizeof(float) * H * d * d), *dL0 = malloc(sizeof(float) * H * d * d);
        float *W = malloc(sizeof(float) * N * C);
        fill_rand(buf, nb, 1.0f, 10 + di);
        fill_rand(L, H * d * d, 1.0f, 11 + di);
        memcpy(buf0, buf, sizeof(float) * nb);
        float *q = buf, *p = buf + C;

        sd_query_forward(q, ld, p, ld, L, N, H, d);
        int bad = 0, clobbered = 0;
        for (int i = 0; i < N; i++)
            for (int h = 0; h < H; h++)
                for (int c = 0; c < d; c++) {
                    double ref = 0; /* q_i = L^T p_i: q[c] = sum_a p[a] L[a][c] */
                    for (int a = 0; a < d; a++)
                        ref += (double)p[(long)i * ld + h * d + a] * L[h * d * d + a * d + c];
                    if (fabs(q[(long)i * ld + h * d + c] - ref) > 1e-5 * (1 + fabs(ref))) bad++;
                }
        for (long e = 0; e < nb; e++)
            if (e % ld >= C && buf[e] != buf0[e]) clobbered++;
        CHECK_MSG(bad == 0, "d=%d: %d query entries differ from the naive loop", d, bad);
        CHECK_MSG(clobbered == 0, "d=%d: %d entries outside q written", d, clobbered);

        /* loss = sum(q .* W); dq = W placed in slot 0 of a gradient buffer shaped like buf */
        fill_rand(W, N * C, 1.0f, 12 + di);
        fill_rand(gbuf, nb, 1.0f, 13 + di);
        for (int i = 0; i < N; i++) memcpy(gbuf + (long)i * ld, W + (long)i * C, sizeof(float) * C);
        fill_rand(dL, H * d * d, 1.0f, 14 + di);
        memcpy(gbuf0, gbuf, sizeof(float) * nb);
        memcpy(dL0, dL, sizeof(float) * H * d * d);
        sd_query_backward(gbuf + C, ld, dL, gbuf, ld, p, L, N, H, d);
        clobbered = 0;
        for (long e = 0; e < nb; e++)
            if ((e % ld < C || e % ld >= 2 * C) && gbuf[e] != gbuf0[e]) clobbered++;
        CHECK_MSG(clobbered == 0, "d=%d: %d entries outside dp written", d, clobbered);

        struct grad_tally g = {0};
        for (int i = 0; i < N; i++)
            for (int c = 0; c < C; c++) {
                long e = (long)i * ld + C + c;
                float x0 = buf[e], xp = x0 + (float)FD_STEP, xm = x0 - (float)FD_STEP;
                buf[e] = xp; sd_query_forward(q, ld, p, ld, L, N, H, d);
                double lp = weighted_sum(q, ld, W, N, C);
                buf[e] = xm; sd_query_forward(q, ld, p, ld, L, N, H, d);
                double lm = weighted_sum(q, ld, W, N, C);
                buf[e] = x0;
                tally(&g, (double)gbuf[e] - gbuf0[e], (lp - lm) / ((double)xp - xm), e);
            }
        for (int e = 0; e < H * d * d; e++) {
            float x0 = L[e], xp = x0 + (float)FD_STEP, xm = x0 - (float)FD_STEP;
            L[e] = xp; sd_query_forward(q, ld, p, ld, L, N, H, d);
            double lp = weighted_sum(q, ld, W, N, C);
            L[e] = xm; sd_query_forward(q, ld, p, ld, L, N, H, d);
            double lm = weighted_sum(q, ld, W, N, C);
            L[e] = x0;
            tally(&g, (double)dL[e] - dL0[e], (lp - lm) / ((double)xp - xm), nb + e);
        }
        CHECK_MSG(g.bad == 0, "d=%d: %d of %d gradients off, worst #%ld analytic %.6g numeric %.6g",
                  d, g.bad, g.total, g.worst_i, g.worst_a, g.worst_n);
        free(buf); free(buf0); free(gbuf); free(gbuf0); free(L); free(dL); free(dL0); free(W);
    }
}

/* q_i . p_j with q = sd_query(p) is the S–D bilinear form p_i^T L p_j, and its skew and
 * symmetric parts are the routing p_i^T S p_j and minus the filtering p_i^T D p_j (§2). */
TEST(attn_sd_logits_split_into_routing_and_filtering)
{
    const int H = 2, N = 6;
    const int dims[] = {4, 5};
    for (unsigned di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        int d = dims[di], C = H * d, ns = d * (d - 1) / 2;
        float s[2 * 10], delta[2 * 5], L[2 * 25], p[6 * 10], q[6 * 10];
        fill_rand(s, H * ns, 0.5f, 20 + di);
        fill_rand(delta, H * d, 1.0f, 21 + di);
        fill_rand(p, N * C, 1.0f, 22 + di);
        sd_build_l(L, s, delta, H, d);
        sd_query_forward(q, C, p, C, L, N, H, d);
        int bad = 0;
        for (int h = 0; h < H; h++) {
            double S[5][5] = {{0}}, D[5] = {0};
            int idx = 0;
            for (int a = 0; a < d; a++) {
                D[a] = softplus_ref(delta[h * d + a]);
                for (int b = a + 1; b < d; b++, idx++) {
                    S[a][b] = s[h * ns + idx];
                    S[b][a] = -S[a][b];
                }
            }
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++) {
                    const float *pi = p + i * C + h * d, *pj = p + j * C + h * d;
                    const float *qi = q + i * C + h * d, *qj = q + j * C + h * d;
                    double lij = 0, lji = 0, route = 0, filt = 0;
                    for (int a = 0; a < d; a++) {
                        lij += (double)qi[a] * pj[a];
                        lji += (double)qj[a] * pi[a];
                        filt += (double)pi[a] * D[a] * pj[a];
                        for (int b = 0; b < d; b++) route += (double)pi[a] * S[a][b] * pj[b];
                    }
                    double naive = route - filt; /* p_i^T (S - D) p_j */
                    if (fabs(lij - naive) > 1e-5 * (1 + fabs(naive))) bad++;
                    if (fabs((lij - lji) / 2 - route) > 1e-5 * (1 + fabs(route))) bad++;
                    if (fabs((lij + lji) / 2 + filt) > 1e-5 * (1 + fabs(filt))) bad++;
                    if (i == j && !(lij < 0)) bad++; /* Re(p^* L p) = -p^T D p < 0 */
                }
        }
        CHECK_MSG(bad == 0, "d=%d: %d logit identities fail", d, bad);
    }
}

/* ---- linear attention ------------------------------------------------------------- */

/* One problem: an interleaved (B, T, 2*H*d + H*dv + pad) q|k|v buffer, like the
 * trainer's; d the query/key width of a head, dv its value width. Cq = H*d, C = H*dv
 * (the output's width). */
struct lin_case {
    int B, T, H, d, dv, Cq, C, ld;
    float *x, *dx, *out, *den, *dout, *scratch;
};

static void lin_case_init(struct lin_case *c, int B, int T, int H, int d, int dv, uint64_t seed)
{
    c->B = B; c->T = T; c->H = H; c->d = d; c->dv = dv; c->Cq = H * d; c->C = H * dv;
    c->ld = 2 * c->Cq + c->C + 1;
    long nx = (long)B * T * c->ld, no = (long)B * T * c->C;
    c->x = malloc(sizeof(float) * nx);
    c->dx = malloc(sizeof(float) * nx);
    c->out = malloc(sizeof(float) * no);
    c->den = malloc(sizeof(float) * B * H * T);
    c->dout = malloc(sizeof(float) * no);
    c->scratch = malloc(sizeof(float) * linear_attention_scratch_floats(T, d, dv, omp_get_max_threads()));
    fill_rand(c->x, nx, 1.0f, seed);
    fill_rand(c->dout, no, 1.0f, seed + 1);
    fill_rand(c->dx, nx, 1.0f, seed + 2);
}

static void lin_case_free(struct lin_case *c)
{
    free(c->x); free(c->dx); free(c->out); free(c->den); free(c->dout); free(c->scratch);
}

static void lin_forward(struct lin_case *c)
{
    linear_attention_forward(c->out, c->den, c->scratch, c->x, c->x + c->Cq, c->x + 2 * c->Cq, c->ld,
                             c->B, c->T, c->H, c->d, c->dv);
}

static void lin_backward(struct lin_case *c)
{
    linear_attention_backward(c->dx, c->dx + c->Cq, c->dx + 2 * c->Cq, c->scratch, c->dout,
                              c->x, c->x + c->Cq, c->x + 2 * c->Cq, c->out, c->den, c->ld,
                              c->B, c->T, c->H, c->d, c->dv);
}

/* (d, dv) pairs: equal widths, and a value side wider and narrower than the routing side */
static const int lin_dims[][2] = {{1, 1}, {3, 3}, {4, 4}, {5, 5}, {2, 5}, {5, 2}};
static const int lin_lens[] = {1, 7, 33};

/* The O(T^2) definition (SPEC §4) in double, straight from the formula. */
TEST(attn_linear_forward_matches_naive)
{
    for (unsigned di = 0; di < sizeof lin_dims / sizeof lin_dims[0]; di++)
        for (unsigned ti = 0; ti < sizeof lin_lens / sizeof lin_lens[0]; ti++) {
            struct lin_case c;
            int d = lin_dims[di][0], dv = lin_dims[di][1], T = lin_lens[ti];
            lin_case_init(&c, 2, T, 2, d, dv, 100 + 10 * di + ti);
            lin_forward(&c);
            int bad = 0;
            for (int b = 0; b < c.B; b++)
                for (int h = 0; h < c.H; h++)
                    for (int i = 0; i < T; i++) {
                        const float *qi = c.x + ((long)b * T + i) * c.ld + h * d;
                        double num[5] = {0}, den = LINEAR_ATTN_EPS;
                        for (int j = 0; j <= i; j++) {
                            const float *kj = c.x + ((long)b * T + j) * c.ld + c.Cq + h * d;
                            const float *vj = c.x + ((long)b * T + j) * c.ld + 2 * c.Cq + h * dv;
                            double w = 0;
                            for (int a = 0; a < d; a++) w += phi_ref(qi[a]) * phi_ref(kj[a]);
                            den += w;
                            for (int a = 0; a < dv; a++) num[a] += w * vj[a];
                        }
                        if (fabs(c.den[((long)b * c.H + h) * T + i] - den) > 1e-5 * den) bad++;
                        for (int a = 0; a < dv; a++) {
                            double y = num[a] / den, got = c.out[((long)b * T + i) * c.C + h * dv + a];
                            if (fabs(got - y) > 1e-5 * (1 + fabs(y))) bad++;
                        }
                    }
            CHECK_MSG(bad == 0, "d=%d dv=%d T=%d: %d entries differ from the naive reference", d, dv, T, bad);
            lin_case_free(&c);
        }
}

TEST(attn_linear_gradient)
{
    for (unsigned di = 0; di < sizeof lin_dims / sizeof lin_dims[0]; di++)
        for (unsigned ti = 0; ti < sizeof lin_lens / sizeof lin_lens[0]; ti++) {
            struct lin_case c;
            int d = lin_dims[di][0], dv = lin_dims[di][1], T = lin_lens[ti];
            lin_case_init(&c, 2, T, 2, d, dv, 200 + 10 * di + ti);
            long nx = (long)c.B * T * c.ld;
            float *dx0 = malloc(sizeof(float) * nx);
            memcpy(dx0, c.dx, sizeof(float) * nx);
            lin_forward(&c);
            lin_backward(&c);
            /* the padding column of each row is no gradient and must stay untouched */
            int clobbered = 0;
            for (long e = 0; e < nx; e++)
                if (e % c.ld >= 2 * c.Cq + c.C && c.dx[e] != dx0[e]) clobbered++;
            CHECK_MSG(clobbered == 0, "d=%d dv=%d T=%d: %d padding entries written", d, dv, T, clobbered);

            struct grad_tally g = {0};
            for (long e = 0; e < nx; e++) {
                if (e % c.ld >= 2 * c.Cq + c.C) continue;
                float x0 = c.x[e], xp = x0 + (float)FD_STEP, xm = x0 - (float)FD_STEP;
                c.x[e] = xp; lin_forward(&c);
                double lp = weighted_sum(c.out, c.C, c.dout, c.B * T, c.C);
                c.x[e] = xm; lin_forward(&c);
                double lm = weighted_sum(c.out, c.C, c.dout, c.B * T, c.C);
                c.x[e] = x0;
                tally(&g, (double)c.dx[e] - dx0[e], (lp - lm) / ((double)xp - xm), e);
            }
            CHECK_MSG(g.bad == 0,
                      "d=%d dv=%d T=%d: %d of %d gradients off, worst at row %ld col %ld: analytic %.6g numeric %.6g",
                      d, dv, T, g.bad, g.total, g.worst_i / c.ld, g.worst_i % c.ld, g.worst_a, g.worst_n);
            free(dx0);
            lin_case_free(&c);
        }
}

/* Changing q, k or v at token t leaves every output (and denominator) before t, and the
 * other sequence of the batch, bit-identical; the output at t itself does change. */
TEST(attn_linear_causal)
{
    struct lin_case c;
    const int T = 9, d = 3;
    lin_case_init(&c, 2, T, 2, d, d, 300);
    long no = (long)c.B * T * c.C;
    float *out0 = malloc(sizeof(float) * no), *den0 = malloc(sizeof(float) * c.B * c.H * T);
    lin_forward(&c);
    memcpy(out0, c.out, sizeof(float) * no);
    memcpy(den0, c.den, sizeof(float) * c.B * c.H * T);
    for (int t = 0; t < T; t++)
        for (int slot = 0; slot < 3; slot++) {
            float *row = c.x + (long)t * c.ld + slot * c.C; /* sequence b = 0 */
            float saved[6];
            memcpy(saved, row, sizeof(float) * c.C);
            for (int e = 0; e < c.C; e++) row[e] += 0.5f;
            lin_forward(&c);
            int before = memcmp(c.out, out0, sizeof(float) * t * c.C) != 0;
            int other = memcmp(c.out + (long)T * c.C, out0 + (long)T * c.C, sizeof(float) * T * c.C) != 0;
            int at_t = memcmp(c.out + (long)t * c.C, out0 + (long)t * c.C, sizeof(float) * c.C) != 0;
            for (int h = 0; h < c.H; h++)
                before |= memcmp(c.den + (long)h * T, den0 + (long)h * T, sizeof(float) * t) != 0;
            CHECK_MSG(!before, "t=%d slot=%d: an earlier output changed", t, slot);
            CHECK_MSG(!other, "t=%d slot=%d: the other sequence changed", t, slot);
            CHECK_MSG(at_t, "t=%d slot=%d: the output at t did not change", t, slot);
            memcpy(row, saved, sizeof(float) * c.C);
        }
    free(out0); free(den0);
    lin_case_free(&c);
}

/* Forward and backward give bit-identical results with 1, 2 and 3 threads (3 splits the
 * B*H = 4 heads unevenly). */
TEST(attn_linear_thread_count_independent)
{
    int prev = omp_get_max_threads();
    const int counts[] = {1, 2, 3};
    struct lin_case c[3];
    for (int r = 0; r < 3; r++) {
        omp_set_num_threads(counts[r]);
        lin_case_init(&c[r], 2, 17, 2, 5, 5, 400);  /* same seed: same inputs */
        lin_forward(&c[r]);
        lin_backward(&c[r]);
    }
    omp_set_num_threads(prev);
    long no = (long)c[0].B * c[0].T * c[0].C, nx = (long)c[0].B * c[0].T * c[0].ld;
    for (int r = 1; r < 3; r++) {
        CHECK_MSG(memcmp(c[r].out, c[0].out, sizeof(float) * no) == 0, "%d threads: out differs", counts[r]);
        CHECK_MSG(memcmp(c[r].den, c[0].den, sizeof(float) * 2 * 2 * 17) == 0, "%d threads: den differs", counts[r]);
        CHECK_MSG(memcmp(c[r].dx, c[0].dx, sizeof(float) * nx) == 0, "%d threads: gradients differ", counts[r]);
    }
    for (int r = 0; r < 3; r++) lin_case_free(&c[r]);
}
