/* tests/test_analysis.c — the analysis module's mathematics (SPEC.md §1, §3): heads with
 * known spectra against closed forms, the thin-QR and S–D routes against dense C x C
 * computations, the realised split, Spearman. File formats: test_analysis_files.c. */
#include "test.h"

#include <assert.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "trainer/trainer.h"

/* ---- helpers ------------------------------------------------------------------------- */

static void randn(float *x, long n, float scale, uint64_t *rng)
{
    for (long i = 0; i < n; i++) x[i] = scale * trainer_rng_normal(rng);
}

/* q (n, n) row-major, a random orthogonal matrix (QR of a Gaussian one). */
static void random_orthogonal(double *q, int n, uint64_t *rng)
{
    double *tau = malloc(n * sizeof *tau);
    for (long i = 0; i < (long)n * n; i++) q[i] = trainer_rng_normal(rng);
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, n, q, n, tau);
    LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, n, n, q, n, tau);
    free(tau);
}

/* Closed-form measures of a spectrum given as a list (SPEC §3), independent of the
 * library: erank, PR, and k90 by exact counting of sorted values. */
struct expect { double erank, pr; int k90; };
static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}
static struct expect closed_form(const double *sv_in, int n)
{
    double sv[256];
    memcpy(sv, sv_in, n * sizeof *sv);
    qsort(sv, n, sizeof *sv, cmp_desc);
    double sum = 0, s2 = 0, s4 = 0, h = 0;
    for (int i = 0; i < n; i++) { sum += sv[i]; s2 += sv[i] * sv[i]; s4 += pow(sv[i], 4); }
    for (int i = 0; i < n; i++) h -= sv[i] / sum * log(sv[i] / sum);
    struct expect e = { exp(h), s2 * s2 / s4, 0 };
    double acc = 0;
    while (acc < 0.9 * s2 - 1e-9 * s2) acc += sv[e.k90] * sv[e.k90], e.k90++;
    return e;
}

/* W_Q, W_K (C, d) row-major with M = W_Q W_K^T = sum_i w_i (a_i b_i^T - b_i a_i^T)
 * + sum_j f_j c_j c_j^T, where a_i, b_i, c_j are the columns of basis (C, C) (orthonormal)
 * in order a_1 b_1 a_2 b_2 ... c_1 c_2 ...; then both are mixed by the same orthogonal
 * (d, d) matrix `mix` (NULL: none), which leaves M unchanged. */
static void planes_head(float *wq, float *wk, int C, int d, const double *basis,
                        const double *w, int k, const double *f, int nf, const double *mix)
{
    assert(2 * k + nf <= d);
    double *q = calloc((size_t)C * d, sizeof *q), *kk = calloc((size_t)C * d, sizeof *kk);
    for (int c = 0; c < C; c++) {
        for (int i = 0; i < k; i++) {
            double a = basis[c * C + 2 * i], b = basis[c * C + 2 * i + 1];
            q[c * d + 2 * i] = w[i] * a;      kk[c * d + 2 * i] = b;
            q[c * d + 2 * i + 1] = -w[i] * b; kk[c * d + 2 * i + 1] = a;
        }
        for (int j = 0; j < nf; j++) {
            double cc = basis[c * C + 2 * k + j];
            q[c * d + 2 * k + j] = f[j] * cc;
            kk[c * d + 2 * k + j] = cc;
        }
    }
    for (int c = 0; c < C; c++)
        for (int j = 0; j < d; j++) {
            double sq = 0, sk = 0;
            for (int i = 0; i < d; i++) {
                double o = mix ? mix[i * d + j] : (i == j);
                sq += q[c * d + i] * o;
                sk += kk[c * d + i] * o;
            }
            wq[c * d + j] = (float)sq;
            wk[c * d + j] = (float)sk;
        }
    free(q);
    free(kk);
}

/* Dense reference: singular values (descending) of the skew and symmetric parts of
 * M = W_Q W_K^T (C, C), computed on the full C x C matrix. r, f (C). */
static void dense_split(const float *wq, const float *wk, int ldq, int C, int d,
                        double *r, double *f, double *sq_m)
{
    double *m = calloc((size_t)C * C, sizeof *m), *a = malloc((size_t)C * C * sizeof *a);
    for (int i = 0; i < C; i++)
        for (int j = 0; j < C; j++)
            for (int t = 0; t < d; t++) m[i * C + j] += (double)wq[i * ldq + t] * wk[j * ldq + t];
    *sq_m = 0;
    for (long i = 0; i < (long)C * C; i++) *sq_m += m[i] * m[i];
    for (int i = 0; i < C; i++)
        for (int j = 0; j < C; j++) a[i * C + j] = 0.5 * (m[i * C + j] - m[j * C + i]);
    LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', C, C, a, C, r, NULL, C, NULL, C);
    for (int i = 0; i < C; i++)
        for (int j = 0; j < C; j++) a[i * C + j] = 0.5 * (m[i * C + j] + m[j * C + i]);
    LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', C, C, a, C, f, NULL, C, NULL, C);
    free(m);
    free(a);
}

/* The library's spectrum equals the dense one: the kept values match to float precision,
 * the dropped ones are round-off, and the measures agree with the closed forms. */
static void check_spectrum(struct test_ctx *t_, const struct analysis_spectrum *s,
                           const double *dense, int C, double scale)
{
    REQUIRE(s->n <= C);
    for (int i = 0; i < s->n; i++) CHECK_NEAR(s->sv[i], dense[i], 1e-6 * scale);
    for (int i = s->n; i < C; i++) CHECK_MSG(dense[i] < 1e-7 * scale, "dense sv %d = %g not dropped", i, dense[i]);
    if (s->n > 0) {
        struct expect e = closed_form(dense, s->n);
        CHECK_NEAR(s->erank, e.erank, 1e-6 * e.erank);
        CHECK_NEAR(s->pr, e.pr, 1e-6 * e.pr);
        CHECK(s->k90 == e.k90);
    }
}

/* ---- heads with known spectra -------------------------------------------------------- */

TEST(analysis_planes_match_closed_forms)
{
    enum { C = 48, d = 10 };
    uint64_t rng = 11;
    double basis[C * C], mix[d * d];
    random_orthogonal(basis, C, &rng);
    random_orthogonal(mix, d, &rng);
    double w[3] = { 3.0, 2.0, 0.5 }, f[2] = { 1.5, -0.7 };
    float wq[C * d], wk[C * d];
    planes_head(wq, wk, C, d, basis, w, 3, f, 2, mix);
    struct analysis_split s;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(analysis_head_qk(&s, wq, wk, d, C, d, err) == 0, "%s", err);
    /* routing: each frequency twice; filtering: |f_j| */
    double rsv[6] = { 3, 3, 2, 2, 0.5, 0.5 }, fsv[2] = { 1.5, 0.7 };
    struct expect er = closed_form(rsv, 6), ef = closed_form(fsv, 2);
    /* W_Q, W_K are float32: M is the ideal kernel up to ~1e-7 relative, which shows as
     * tiny extra singular values (real ones of the float matrices, kept by the 1e-9 cut). */
    REQUIRE_MSG(s.routing.n >= 6 && s.filtering.n >= 2, "n %d %d", s.routing.n, s.filtering.n);
    for (int i = 0; i < 6; i++) CHECK_NEAR(s.routing.sv[i], rsv[i], 1e-5);
    for (int i = 6; i < s.routing.n; i++) CHECK(s.routing.sv[i] < 1e-5);
    for (int i = 0; i < 2; i++) CHECK_NEAR(s.filtering.sv[i], fsv[i], 1e-5);
    for (int i = 2; i < s.filtering.n; i++) CHECK(s.filtering.sv[i] < 1e-5);
    CHECK_NEAR(s.routing.erank, er.erank, 1e-4);
    CHECK_NEAR(s.routing.pr, er.pr, 1e-5);
    CHECK(s.routing.k90 == 4 && er.k90 == 4);      /* 9+9+4+4 = 26 >= 0.9 * 26.5 */
    CHECK(s.routing_planes == 2);
    CHECK_NEAR(s.filtering.erank, ef.erank, 1e-4);
    CHECK_NEAR(s.filtering.pr, ef.pr, 1e-5);
    CHECK(s.filtering.k90 == 2);
    double rr = 2 * (9 + 4 + 0.25), ff = 1.5 * 1.5 + 0.7 * 0.7;
    CHECK_NEAR(s.routing_fraction, rr / (rr + ff), 1e-6);
    CHECK_NEAR(s.routing.sq_norm, rr, 1e-4);
    analysis_split_free(&s);
}

/* One plane gives erank = PR = 2, planes = 1; k equal planes give exactly 2k; k90 of 2k
 * equal values is ceil(0.9 * 2k), with the tie at exactly 90% counted (axes: exact). */
TEST(analysis_equal_planes_exact)
{
    enum { C = 24, d = 12 };
    double basis[C * C] = { 0 };
    for (int i = 0; i < C; i++) basis[i * C + (i * 7) % C] = (i % 3) ? 1 : -1; /* signed permutation */
    double w[6] = { 1, 1, 1, 1, 1, 1 };
    int cases[4] = { 1, 2, 5, 6 }, k90[4] = { 2, 4, 9, 11 };
    for (int c = 0; c < 4; c++) {
        int k = cases[c];
        float wq[C * d], wk[C * d];
        planes_head(wq, wk, C, d, basis, w, k, NULL, 0, NULL);
        struct analysis_split s;
        char err[CASCADE_ERR_MAX];
        REQUIRE_MSG(analysis_head_qk(&s, wq, wk, d, C, d, err) == 0, "%s", err);
        CHECK(s.routing.n == 2 * k);
        CHECK_NEAR(s.routing.erank, 2 * k, 1e-9);
        CHECK_NEAR(s.routing.pr, 2 * k, 1e-9);
        CHECK_MSG(s.routing.k90 == k90[c], "k = %d: k90 %d, expected %d", k, s.routing.k90, k90[c]);
        CHECK(s.routing_planes == (k90[c] + 1) / 2);
        CHECK(s.routing_fraction == 1.0);
        CHECK(s.filtering.n == 0 && s.filtering.erank == 0 && s.filtering.k90 == 0);
        analysis_split_free(&s);
    }
}

TEST(analysis_symmetric_kernel_rho0_skew_rho1)
{
    enum { C = 20, d = 4 };
    uint64_t rng = 5;
    float a[C * d], b[C * d], wq[C * d], wk[C * d];
    randn(a, C * d, 1, &rng);
    randn(b, C * d, 1, &rng);
    struct analysis_split s;
    char err[CASCADE_ERR_MAX];
    /* W_K = W_Q: M = W_Q W_Q^T symmetric */
    REQUIRE(analysis_head_qk(&s, a, a, d, C, d, err) == 0);
    CHECK(s.routing_fraction == 0.0);
    CHECK(s.routing.n == 0 && s.routing.erank == 0 && s.routing_planes == 0);
    CHECK(s.filtering.n == d);
    analysis_split_free(&s);
    /* W_Q = [A, -B], W_K = [B, A] (d/2 columns each): M = A B^T - B A^T skew */
    for (int c = 0; c < C; c++)
        for (int j = 0; j < d / 2; j++) {
            wq[c * d + j] = a[c * d + j];      wq[c * d + d / 2 + j] = -b[c * d + j];
            wk[c * d + j] = b[c * d + j];      wk[c * d + d / 2 + j] = a[c * d + j];
        }
    REQUIRE(analysis_head_qk(&s, wq, wk, d, C, d, err) == 0);
    CHECK(s.routing_fraction == 1.0);
    CHECK(s.filtering.n == 0);
    CHECK(s.routing.n == d);  /* rank 2 * (d/2) */
    analysis_split_free(&s);
    /* zero kernel */
    memset(wq, 0, sizeof wq);
    REQUIRE(analysis_head_qk(&s, wq, b, d, C, d, err) == 0);
    CHECK(s.routing_fraction == 0.0 && s.routing.n == 0 && s.filtering.n == 0);
    analysis_split_free(&s);
}

/* ---- thin-QR route = dense C x C ------------------------------------------------------ */

static void qr_vs_dense_case(struct test_ctx *t_, int C, int d, int ld, uint64_t seed)
{
    uint64_t rng = seed;
    float *w = malloc((size_t)C * ld * sizeof *w);
    randn(w, (long)C * ld, 0.5f, &rng);
    const float *wq = w, *wk = w + d;   /* strided heads, as in a qkv matrix */
    struct analysis_split s;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(analysis_head_qk(&s, wq, wk, ld, C, d, err) == 0, "%s", err);
    double *r = malloc(2 * (size_t)C * sizeof *r), *f = r + C, sq_m;
    dense_split(wq, wk, ld, C, d, r, f, &sq_m);
    double scale = r[0] > f[0] ? r[0] : f[0];
    check_spectrum(t_, &s.routing, r, C, scale);
    check_spectrum(t_, &s.filtering, f, C, scale);
    int cap = analysis_routing_capacity(0, C, d);
    CHECK_MSG(s.routing.n == cap, "C %d d %d: routing rank %d, capacity %d", C, d, s.routing.n, cap);
    /* |R|^2 + |F|^2 = |M|^2 (SPEC §1) */
    CHECK_NEAR(s.routing.sq_norm + s.filtering.sq_norm, sq_m, 1e-9 * sq_m);
    double rr = 0;
    for (int i = 0; i < C; i++) rr += r[i] * r[i];
    CHECK_NEAR(s.routing_fraction, rr / sq_m, 1e-9);
    analysis_split_free(&s);
    free(r);
    free(w);
}

TEST(analysis_qr_route_equals_dense)
{
    qr_vs_dense_case(t_, 40, 6, 3 * 6, 1);    /* C > 2d, strided */
    qr_vs_dense_case(t_, 33, 16, 16 * 2, 2);  /* C > 2d, odd C */
    qr_vs_dense_case(t_, 10, 8, 8 * 3, 3);    /* C < 2d: the core is C x C */
    qr_vs_dense_case(t_, 9, 8, 8 * 2, 4);     /* odd C < 2d: capacity C - 1 */
}

/* ---- S–D route = dense U S U^T ------------------------------------------------------- */

TEST(analysis_sd_route_equals_dense)
{
    int cases[3][2] = { { 30, 7 }, { 24, 8 }, { 5, 8 } };  /* (C, d): odd d, even d, C < d */
    for (int c = 0; c < 3; c++) {
        int C = cases[c][0], d = cases[c][1], H = 2, ns = d * (d - 1) / 2;
        uint64_t rng = 100 + c;
        float *u = malloc((size_t)C * H * d * sizeof *u), *s = malloc(ns * sizeof *s), *delta = malloc(d * sizeof *delta);
        randn(u, (long)C * H * d, 0.3f, &rng);
        randn(s, ns, 0.5f, &rng);
        randn(delta, d, 1.0f, &rng);
        const float *uh = u + d;            /* head 1 of an (C, H*d) projection */
        struct analysis_split out;
        char err[CASCADE_ERR_MAX];
        REQUIRE_MSG(analysis_head_sd(&out, uh, H * d, s, delta, C, d, err) == 0, "%s", err);
        /* dense: U S U^T and U D U^T as W_Q W_K^T kernels: W_Q = U S (or U D), W_K = U */
        float *wq = malloc((size_t)C * d * sizeof *wq), *wk = malloc((size_t)C * d * sizeof *wk);
        double *S = calloc((size_t)d * d, sizeof *S), *r = malloc(2 * (size_t)C * sizeof *r), *f = r + C, sq;
        for (int i = 0, k = 0; i < d; i++)
            for (int j = i + 1; j < d; j++, k++) { S[i * d + j] = s[k]; S[j * d + i] = -s[k]; }
        /* routing part: M = U S U^T (skew), so its "routing" values are the spectrum */
        double *m = calloc((size_t)C * C, sizeof *m), *mf = calloc((size_t)C * C, sizeof *mf);
        for (int a = 0; a < C; a++)
            for (int b = 0; b < C; b++)
                for (int i = 0; i < d; i++) {
                    double ua = uh[a * H * d + i];
                    mf[a * C + b] += ua * log1p(exp(delta[i])) * uh[b * H * d + i];
                    for (int j = 0; j < d; j++) m[a * C + b] += ua * S[i * d + j] * uh[b * H * d + j];
                }
        sq = 0;
        for (long i = 0; i < (long)C * C; i++) sq += m[i] * m[i] + mf[i] * mf[i];
        LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', C, C, m, C, r, NULL, C, NULL, C);
        LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', C, C, mf, C, f, NULL, C, NULL, C);
        double scale = r[0] > f[0] ? r[0] : f[0];
        check_spectrum(t_, &out.routing, r, C, scale);
        check_spectrum(t_, &out.filtering, f, C, scale);
        CHECK_NEAR(out.routing.sq_norm + out.filtering.sq_norm, sq, 1e-9 * sq);
        int cap = analysis_routing_capacity(1, C, d);
        CHECK_MSG(out.routing.n == cap, "C %d d %d: routing rank %d, capacity %d", C, d, out.routing.n, cap);
        CHECK(out.filtering.n == (C < d ? C : d));
        analysis_split_free(&out);
        free(u); free(s); free(delta); free(wq); free(wk); free(S); free(r); free(m); free(mf);
    }
}

/* ---- realised ---------------------------------------------------------------------- */

TEST(analysis_realised_split)
{
    enum { N = 24, d = 3 };
    uint64_t rng = 77;
    float lg[N * N];
    randn(lg, N * N, 1.0f, &rng);
    struct analysis_split s;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(analysis_realised(&s, lg, N, err) == 0, "%s", err);
    double a[N * N], r[N], f[N], sq = 0, rr = 0;
    for (int i = 0; i < N * N; i++) sq += (double)lg[i] * lg[i];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) a[i * N + j] = 0.5 * ((double)lg[i * N + j] - lg[j * N + i]);
    for (int i = 0; i < N * N; i++) rr += a[i] * a[i];
    LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', N, N, a, N, r, NULL, N, NULL, N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) a[i * N + j] = 0.5 * ((double)lg[i * N + j] + lg[j * N + i]);
    LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', N, N, a, N, f, NULL, N, NULL, N);
    check_spectrum(t_, &s.routing, r, N, r[0]);
    check_spectrum(t_, &s.filtering, f, N, r[0]);
    CHECK_NEAR(s.routing.sq_norm + s.filtering.sq_norm, sq, 1e-9 * sq);
    CHECK_NEAR(s.routing_fraction, rr / sq, 1e-9);
    CHECK(s.routing.n == N - N % 2);
    analysis_split_free(&s);

    /* S–D-like window: Lambda = P S P^T - P D P^T with P (N, d): routing rank 2, filtering 3 */
    float p[N * d];
    randn(p, N * d, 1.0f, &rng);
    double S[d][d] = { { 0, 0.7, -0.2 }, { -0.7, 0, 0.4 }, { 0.2, -0.4, 0 } }, D[d] = { 0.5, 1.0, 2.0 };
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double v = 0;
            for (int x = 0; x < d; x++)
                for (int y = 0; y < d; y++) v += p[i * d + x] * (S[x][y] - (x == y) * D[x]) * p[j * d + y];
            lg[i * N + j] = (float)v;
        }
    REQUIRE(analysis_realised(&s, lg, N, err) == 0);
    CHECK_MSG(s.routing.n == 2, "routing rank %d", s.routing.n);  /* float logits: round-off */
    CHECK(s.filtering.n >= 3);
    CHECK(s.routing.erank > 1.0 && s.routing.erank <= 2.0 + 1e-9);
    analysis_split_free(&s);

    /* symmetric window: rho = 0; a non-finite logit: a clean error */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++) lg[j * N + i] = lg[i * N + j];
    REQUIRE(analysis_realised(&s, lg, N, err) == 0);
    CHECK(s.routing_fraction == 0.0 && s.routing.n == 0);
    analysis_split_free(&s);
    lg[5 * N + 2] = NAN;
    CHECK(analysis_realised(&s, lg, N, err) == -1);
    CHECK_MSG(strstr(err, "non-finite logit") != NULL, "%s", err);
}

TEST(analysis_nonfinite_weight_is_an_error)
{
    float wq[8 * 2] = { 0 }, wk[8 * 2] = { 0 };
    wk[5] = INFINITY;
    struct analysis_split s;
    char err[CASCADE_ERR_MAX] = "";
    CHECK(analysis_head_qk(&s, wq, wk, 2, 8, 2, err) == -1);
    CHECK_MSG(strstr(err, "non-finite") != NULL, "%s", err);
    CHECK(s.routing.sv == NULL && s.filtering.sv == NULL);
    float u[8 * 3] = { 0 }, sv[3] = { 0, NAN, 0 }, delta[3] = { 0 };
    CHECK(analysis_head_sd(&s, u, 3, sv, delta, 8, 3, err) == -1);
    CHECK_MSG(strstr(err, "non-finite") != NULL, "%s", err);
}

TEST(analysis_spearman_and_capacity)
{
    double x[5] = { 0, 1, 2, 3, 4 }, up[5] = { 1, 2, 3, 5, 9 }, down[5] = { 5, 4, 3, 2, 1 };
    double mixed[5] = { 1, 3, 2, 5, 4 }, flat[5] = { 2, 2, 2, 2, 2 }, ties[5] = { 1, 1, 2, 3, 3 };
    CHECK_NEAR(analysis_spearman(x, up, 5), 1.0, 1e-12);
    CHECK_NEAR(analysis_spearman(x, down, 5), -1.0, 1e-12);
    CHECK_NEAR(analysis_spearman(x, mixed, 5), 0.8, 1e-12);  /* 1 - 6*4/(5*24) */
    /* ties: ranks 1.5 1.5 3 4.5 4.5 -> Pearson with 1..5 = 0.9486832980505138 */
    CHECK_NEAR(analysis_spearman(x, ties, 5), 0.9486832980505138, 1e-12);
    CHECK(isnan(analysis_spearman(x, flat, 5)));
    CHECK(isnan(analysis_spearman(x, up, 1)));
    CHECK(analysis_routing_capacity(0, 768, 64) == 128);
    CHECK(analysis_routing_capacity(0, 9, 8) == 8);
    CHECK(analysis_routing_capacity(0, 7, 8) == 6);
    CHECK(analysis_routing_capacity(1, 768, 7) == 6);
    CHECK(analysis_routing_capacity(1, 5, 8) == 4);
}
