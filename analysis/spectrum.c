/* analysis/spectrum.c — the routing/filtering split of one head and the spectral measures
 * of its parts (SPEC.md §1, §3): weight level for standard heads (thin-QR route) and S–D
 * heads, and the realised split of a logit window. All linear algebra is in double
 * (LAPACKE, column-major); inputs are float32. No file formats here: see model.c.
 */
#include <assert.h>
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

/* ------------------------------------------------------------------------------------ */
/* Measures of a spectrum (SPEC §3)                                                       */

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Sets out from sv (n values, any order, >= 0; reordered in place): keeps those > cut,
 * descending, and computes erank, PR, k90 of the kept ones. */
static int spectrum_set(struct analysis_spectrum *out, double *sv, int n, double cut, char *err)
{
    memset(out, 0, sizeof *out);
    qsort(sv, (size_t)n, sizeof *sv, cmp_desc);
    int k = 0;
    while (k < n && sv[k] > cut) k++;
    if (k == 0) return 0;
    out->sv = malloc((size_t)k * sizeof *out->sv);
    if (!out->sv) { snprintf(err, CASCADE_ERR_MAX, "analysis: out of memory (%d singular values)", k); return -1; }
    memcpy(out->sv, sv, (size_t)k * sizeof *sv);
    out->n = k;
    /* Normalised by sigma_1 so that sigma^4 cannot overflow; every measure is scale-free. */
    double s1 = sv[0], sum = 0, s2 = 0, s4 = 0;
    for (int i = 0; i < k; i++) {
        double x = sv[i] / s1;
        sum += x; s2 += x * x; s4 += x * x * x * x;
    }
    double h = 0;
    for (int i = 0; i < k; i++) {
        double p = sv[i] / s1 / sum;
        if (p > 0) h -= p * log(p);
    }
    out->erank = exp(h);
    out->pr = s2 * s2 / s4;
    out->sq_norm = s2 * s1 * s1;
    double acc = 0, goal = 0.9 * s2 * (1 - 1e-12);
    int k90 = 0;
    while (k90 < k && acc < goal) { double x = sv[k90] / s1; acc += x * x; k90++; }
    out->k90 = k90;
    return 0;
}

static void spectrum_free(struct analysis_spectrum *s)
{
    free(s->sv);
    memset(s, 0, sizeof *s);
}

void analysis_split_free(struct analysis_split *s)
{
    if (!s) return;
    spectrum_free(&s->routing);
    spectrum_free(&s->filtering);
    s->routing_fraction = 0;
    s->routing_planes = 0;
}

struct analysis_measures analysis_measures_of(const struct analysis_split *s)
{
    struct analysis_measures m;
    m.routing_fraction = s->routing_fraction;
    m.routing_erank = s->routing.erank;
    m.routing_pr = s->routing.pr;
    m.routing_k90 = s->routing.k90;
    m.routing_planes = s->routing_planes;
    m.filtering_erank = s->filtering.erank;
    m.filtering_pr = s->filtering.pr;
    m.filtering_k90 = s->filtering.k90;
    return m;
}

int analysis_routing_capacity(int sd, int C, int d)
{
    int r = sd ? d : 2 * d;
    if (r > C) r = C;
    return r - r % 2;
}

/* ------------------------------------------------------------------------------------ */
/* Spectra of small dense cores                                                           */

static int oom(char *err, const char *what)
{
    snprintf(err, CASCADE_ERR_MAX, "analysis: out of memory (%s)", what);
    return -1;
}

/* Singular values of a skew (m, m) matrix; X is destroyed. sv (m). */
static int sv_skew(double *X, int m, double *sv, char *err)
{
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', m, m, X, m, sv, NULL, m, NULL, m);
    if (info != 0) {
        snprintf(err, CASCADE_ERR_MAX, "analysis: dgesdd failed (info %d) on a %dx%d routing matrix", (int)info, m, m);
        return -1;
    }
    return 0;
}

/* Singular values (= |eigenvalues|) of a symmetric (m, m) matrix; X is destroyed. */
static int sv_symmetric(double *X, int m, double *sv, char *err)
{
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', m, X, m, sv);
    if (info != 0) {
        snprintf(err, CASCADE_ERR_MAX, "analysis: dsyevd failed (info %d) on a %dx%d filtering matrix", (int)info, m, m);
        return -1;
    }
    for (int i = 0; i < m; i++) sv[i] = fabs(sv[i]);
    return 0;
}

static double sq_frobenius(const double *X, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++) s += X[i] * X[i];
    return s;
}

/* rc (m, m) skew and fc (m, m) symmetric are the routing and filtering parts of one
 * interaction matrix (or cores with the same nonzero spectra); both are destroyed.
 * |M|^2 = |R|^2 + |F|^2 (SPEC §1); rtol * |M| is the cut for round-off zeros. */
static int split_from_parts(struct analysis_split *out, double *rc, double *fc, int m,
                            double rtol, char *err)
{
    memset(out, 0, sizeof *out);
    if (m == 0) return 0;
    double norm_m = sqrt(sq_frobenius(rc, (long)m * m) + sq_frobenius(fc, (long)m * m));
    double cut = rtol * norm_m;
    double *sv = malloc((size_t)m * sizeof *sv);
    if (!sv) return oom(err, "singular values");
    int rcode = sv_skew(rc, m, sv, err);
    if (rcode == 0) rcode = spectrum_set(&out->routing, sv, m, cut, err);
    if (rcode == 0) rcode = sv_symmetric(fc, m, sv, err);
    if (rcode == 0) rcode = spectrum_set(&out->filtering, sv, m, cut, err);
    free(sv);
    if (rcode != 0) { analysis_split_free(out); return -1; }
    double total = out->routing.sq_norm + out->filtering.sq_norm;
    out->routing_fraction = total > 0 ? out->routing.sq_norm / total : 0.0;
    out->routing_planes = (out->routing.k90 + 1) / 2;
    return 0;
}

/* k (m, m) general -> rc = (k - k^T)/2, fc = (k + k^T)/2. */
static void skew_sym_parts(double *rc, double *fc, const double *k, int m)
{
    for (int j = 0; j < m; j++)
        for (int i = 0; i < m; i++) {
            double a = k[i + (long)j * m], b = k[j + (long)i * m];
            rc[i + (long)j * m] = 0.5 * (a - b);
            fc[i + (long)j * m] = 0.5 * (a + b);
        }
}

/* dst (C, ncol) column-major double = src (C, ncol) row stride ld. -1 on a non-finite value. */
static int gather(double *dst, int ldd, const float *src, int ld, int C, int ncol)
{
    for (int c = 0; c < C; c++)
        for (int j = 0; j < ncol; j++) {
            float v = src[(long)c * ld + j];
            if (!isfinite(v)) return -1;
            dst[c + (long)j * ldd] = v;
        }
    return 0;
}

/* Thin QR of g (C, n) column-major in place; r (m, n) column-major = the upper
 * trapezoid, m = min(C, n): g = Q r with Q (C, m) orthonormal columns. */
static int thin_qr_r(double *r, double *g, int C, int n, char *err)
{
    int m = C < n ? C : n;
    double *tau = malloc((size_t)m * sizeof *tau);
    if (!tau) return oom(err, "qr");
    lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, C, n, g, C, tau);
    free(tau);
    if (info != 0) {
        snprintf(err, CASCADE_ERR_MAX, "analysis: dgeqrf failed (info %d) on a %dx%d matrix", (int)info, C, n);
        return -1;
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++)
            r[i + (long)j * m] = i <= j ? g[i + (long)j * C] : 0.0;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Heads                                                                                  */

/* SPEC §1: G = [W_Q W_K] = Q R_G, R_G = [A B] (m, d) each, m = min(C, 2d). Then
 * M = Q (A B^T) Q^T: R and F have the spectra of the skew and symmetric parts of the
 * (m, m) core A B^T (= R_G J R_G^T / 2 and its symmetric twin). */
int analysis_head_qk(struct analysis_split *out, const float *wq, const float *wk, int ld,
                     int C, int d, char *err)
{
    assert(C >= 1 && d >= 1 && ld >= d);
    memset(out, 0, sizeof *out);
    int n = 2 * d, m = C < n ? C : n;
    size_t need = (size_t)C * n + (size_t)m * n + 3 * (size_t)m * m;
    double *buf = malloc(need * sizeof *buf);
    if (!buf) return oom(err, "head");
    double *g = buf, *r = g + (size_t)C * n, *k = r + (size_t)m * n;
    double *rc = k + (size_t)m * m, *fc = rc + (size_t)m * m;
    int rcode = -1;
    if (gather(g, C, wq, ld, C, d) != 0 || gather(g + (size_t)C * d, C, wk, ld, C, d) != 0)
        snprintf(err, CASCADE_ERR_MAX, "analysis: non-finite weight in W_Q or W_K");
    else if (thin_qr_r(r, g, C, n, err) == 0) {
        /* k (m, m) = A B^T, A = r[:, :d], B = r[:, d:] */
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, r, m,
                    r + (size_t)m * d, m, 0.0, k, m);
        skew_sym_parts(rc, fc, k, m);
        rcode = split_from_parts(out, rc, fc, m, ANALYSIS_SV_RTOL, err);
    }
    free(buf);
    return rcode;
}

/* softplus(x) = log(1 + e^x), overflow-free (as trainer/ops_sd.c, in double). */
static double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* SPEC §3: U = Q R_U, R_U (m, d), m = min(C, d); U S U^T and U D U^T have the spectra of
 * R_U S R_U^T and R_U D R_U^T (m, m). */
int analysis_head_sd(struct analysis_split *out, const float *u, int ld, const float *s,
                     const float *delta, int C, int d, char *err)
{
    assert(C >= 1 && d >= 1 && ld >= d);
    memset(out, 0, sizeof *out);
    int m = C < d ? C : d;
    size_t need = (size_t)C * d + (size_t)m * d + 2 * (size_t)d * d + 4 * (size_t)m * d;
    double *buf = malloc(need * sizeof *buf);
    if (!buf) return oom(err, "head");
    double *g = buf, *r = g + (size_t)C * d, *sm = r + (size_t)m * d, *dm = sm + (size_t)d * d;
    double *t = dm + (size_t)d * d, *x = t + (size_t)m * d, *rc = x + (size_t)m * d;
    double *fc = rc + (size_t)m * d; /* rc, fc hold (m, m) <= (m, d) */
    int rcode = -1;
    /* S (d, d) skew from its upper triangle, row-major order (i < j); D diagonal. */
    memset(sm, 0, 2 * (size_t)d * d * sizeof *sm);
    long idx = 0, bad = 0;
    for (int i = 0; i < d; i++) {
        bad |= !isfinite(delta[i]);
        dm[i + (long)i * d] = softplus(delta[i]);
        for (int j = i + 1; j < d; j++, idx++) {
            bad |= !isfinite(s[idx]);
            sm[i + (long)j * d] = s[idx];
            sm[j + (long)i * d] = -s[idx];
        }
    }
    if (bad || gather(g, C, u, ld, C, d) != 0)
        snprintf(err, CASCADE_ERR_MAX, "analysis: non-finite weight in U, s or delta");
    else if (thin_qr_r(r, g, C, d, err) == 0) {
        /* rc = R_U S R_U^T, fc = R_U D R_U^T, symmetrised against round-off. */
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, d, d, 1.0, r, m, sm, d, 0.0, t, m);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, t, m, r, m, 0.0, x, m);
        skew_sym_parts(rc, t, x, m);      /* t: discarded symmetric round-off */
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, d, d, 1.0, r, m, dm, d, 0.0, t, m);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, t, m, r, m, 0.0, x, m);
        skew_sym_parts(t, fc, x, m);      /* t: discarded skew round-off */
        rcode = split_from_parts(out, rc, fc, m, ANALYSIS_SV_RTOL, err);
    }
    free(buf);
    return rcode;
}

/* SPEC §1 "on data": Lambda (N, N) = R + F, split and measured the same way. */
int analysis_realised(struct analysis_split *out, const float *logits, int N, char *err)
{
    assert(N >= 1);
    memset(out, 0, sizeof *out);
    double *rc = malloc(2 * (size_t)N * N * sizeof *rc);
    if (!rc) return oom(err, "realised logits");
    double *fc = rc + (size_t)N * N;
    for (int i = 0; i < N; i++)
        for (int j = 0; j <= i; j++) {
            float a = logits[(long)i * N + j], b = logits[(long)j * N + i];
            if (!isfinite(a) || !isfinite(b)) {
                snprintf(err, CASCADE_ERR_MAX, "analysis: non-finite logit at (%d, %d)", isfinite(a) ? j : i, isfinite(a) ? i : j);
                free(rc);
                return -1;
            }
            /* column-major (i, j): the transpose of a skew/symmetric part has the same spectrum */
            rc[i + (long)j * N] = 0.5 * ((double)a - b);
            rc[j + (long)i * N] = -rc[i + (long)j * N];
            fc[i + (long)j * N] = fc[j + (long)i * N] = 0.5 * ((double)a + b);
        }
    int rcode = split_from_parts(out, rc, fc, N, ANALYSIS_SV_RTOL_REALISED, err);
    free(rc);
    return rcode;
}
