/* tests/test_perf_kernels.c — the hand-written kernels of issue 21 (trainer/ops_tile.h:
 * causal softmax attention in ops.c, the S–D query transform in ops_sd.c) against
 * straightforward double-precision loops, on random inputs at shapes that reach every
 * edge of their tiling: T = 1, T not a multiple of a tile's rows or columns, query/key
 * width d != value width d_v, widths that are and are not a whole number of tile columns
 * (the kernels read those operands in place or through a padded copy), and row strides
 * with room to spare so that a write outside a head's columns shows. And: results
 * bit-identical with 1, 2 and 3 threads. (The finite-difference checks of the same
 * kernels are ops_attention_gradients in test_trainer.c and attn_sd_* in
 * test_attention_kinds.c.)
 */
#include "test.h"
#include "trainer/ops.h"
#include "trainer/ops_tile.h"
#include "trainer/trainer.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *x, long n, float std, uint64_t *rng)
{
    for (long i = 0; i < n; i++) x[i] = std * trainer_rng_normal(rng);
}

/* |a - ref| <= tol * (1 + |ref|) */
static int close_to(double a, double ref, double tol) { return fabs(a - ref) <= tol * (1.0 + fabs(ref)); }

/* One attention problem: q | k | v of each token in a row of stride ld = 2*H*d + H*d_v + 3
 * (3 floats past v that nothing may write), dout (B, T, H*d_v). */
struct att_case {
    int B, T, H, d, dv, ld;
    float *qkv, *out, *att, *dout, *g, *g0, *scratch;
};

static void att_case_init(struct att_case *c, int B, int T, int H, int d, int dv, uint64_t seed)
{
    c->B = B; c->T = T; c->H = H; c->d = d; c->dv = dv;
    c->ld = 2 * H * d + H * dv + 3;
    long nq = (long)B * T * c->ld, no = (long)B * T * H * dv;
    uint64_t rng = seed;
    c->qkv = malloc(sizeof(float) * nq);
    c->g = malloc(sizeof(float) * nq);
    c->g0 = malloc(sizeof(float) * nq);
    c->out = malloc(sizeof(float) * no);
    c->dout = malloc(sizeof(float) * no);
    c->att = calloc((size_t)B * H * T * T, sizeof(float));   /* zeros past each strip (ops.h) */
    c->scratch = malloc(sizeof(float) * attention_scratch_floats(T, omp_get_max_threads()));
    fill(c->qkv, nq, 1.0f, &rng);
    fill(c->dout, no, 1.0f, &rng);
    fill(c->g0, nq, 1.0f, &rng);   /* backward accumulates onto whatever is there */
    memcpy(c->g, c->g0, sizeof(float) * nq);
}

static void att_case_run(struct att_case *c)
{
    int Hd = c->H * c->d;
    attention_forward(c->out, c->att, c->qkv, c->qkv + Hd, c->qkv + 2 * Hd, c->ld, c->B, c->T, c->H, c->d, c->dv);
    attention_backward(c->g, c->g + Hd, c->g + 2 * Hd, c->scratch, c->dout, c->qkv, c->qkv + Hd,
                       c->qkv + 2 * Hd, c->att, c->ld, c->B, c->T, c->H, c->d, c->dv);
}

static void att_case_free(struct att_case *c)
{
    free(c->qkv); free(c->g); free(c->g0); free(c->out); free(c->dout); free(c->att); free(c->scratch);
}

/* Compares forward and backward of c (already run) with double loops; returns the number
 * of mismatches (first few reported). */
static int att_case_check(struct test_ctx *t_, const struct att_case *c)
{
    int B = c->B, T = c->T, H = c->H, d = c->d, dv = c->dv, ld = c->ld, Hd = H * d, ldo = H * dv;
    double scale = 1.0 / sqrt((double)d), tol = 2e-5;
    double *p = malloc(sizeof(double) * T * T), *ds = malloc(sizeof(double) * T * T);
    double *gq = malloc(sizeof(double) * T * d), *gk = malloc(sizeof(double) * T * d),
           *gv = malloc(sizeof(double) * T * dv);
    int bad = 0;
#define MISMATCH(...) do { if (bad < 4) test_fail(t_, __FILE__, __LINE__, __VA_ARGS__); bad++; } while (0)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *q = c->qkv + (long)b * T * ld + h * d, *k = q + Hd;
            const float *v = c->qkv + (long)b * T * ld + 2 * Hd + h * dv;
            const float *dO = c->dout + (long)b * T * ldo + h * dv;
            const float *a = c->att + ((long)b * H + h) * T * T;
            for (int i = 0; i < T; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= i; j++) {
                    double s = 0;
                    for (int e = 0; e < d; e++) s += (double)q[(long)i * ld + e] * k[(long)j * ld + e];
                    p[i * T + j] = s * scale;
                    if (p[i * T + j] > mx) mx = p[i * T + j];
                }
                for (int j = 0; j <= i; j++) { p[i * T + j] = exp(p[i * T + j] - mx); sum += p[i * T + j]; }
                for (int j = 0; j < T; j++) {
                    p[i * T + j] = j <= i ? p[i * T + j] / sum : 0.0;
                    if (j > i ? a[i * T + j] != 0.0f : !close_to(a[i * T + j], p[i * T + j], tol))
                        MISMATCH("B%d T%d H%d d%d dv%d: att[%d,%d,%d,%d] = %.8g, expected %.8g",
                                 B, T, H, d, dv, b, h, i, j, a[i * T + j], p[i * T + j]);
                }
                for (int e = 0; e < dv; e++) {
                    double o = 0;
                    for (int j = 0; j <= i; j++) o += p[i * T + j] * v[(long)j * ld + e];
                    float got = c->out[((long)b * T + i) * ldo + h * dv + e];
                    if (!close_to(got, o, tol))
                        MISMATCH("B%d T%d H%d d%d dv%d: out[%d,%d,%d,%d] = %.8g, expected %.8g",
                                 B, T, H, d, dv, b, i, h, e, got, o);
                }
            }
            /* backward */
            memset(gq, 0, sizeof(double) * T * d);
            memset(gk, 0, sizeof(double) * T * d);
            memset(gv, 0, sizeof(double) * T * dv);
            for (int i = 0; i < T; i++) {
                double dot = 0;
                for (int j = 0; j <= i; j++) {
                    double dp = 0;
                    for (int e = 0; e < dv; e++) dp += (double)dO[(long)i * ldo + e] * v[(long)j * ld + e];
                    ds[i * T + j] = dp;
                    dot += p[i * T + j] * dp;
                    for (int e = 0; e < dv; e++) gv[(long)j * dv + e] += p[i * T + j] * dO[(long)i * ldo + e];
                }
                for (int j = 0; j <= i; j++) {
                    double s = p[i * T + j] * (ds[i * T + j] - dot) * scale;
                    for (int e = 0; e < d; e++) {
                        gq[(long)i * d + e] += s * k[(long)j * ld + e];
                        gk[(long)j * d + e] += s * q[(long)i * ld + e];
                    }
                }
            }
            for (int t = 0; t < T; t++) {
                long row = ((long)b * T + t) * ld;
                for (int e = 0; e < d; e++) {
                    long iq = row + h * d + e, ik = iq + Hd;
                    if (!close_to(c->g[iq] - c->g0[iq], gq[(long)t * d + e], tol))
                        MISMATCH("B%d T%d H%d d%d dv%d: dq[%d,%d,%d,%d] = %.8g, expected %.8g", B, T, H, d, dv,
                                 b, t, h, e, c->g[iq] - c->g0[iq], gq[(long)t * d + e]);
                    if (!close_to(c->g[ik] - c->g0[ik], gk[(long)t * d + e], tol))
                        MISMATCH("B%d T%d H%d d%d dv%d: dk[%d,%d,%d,%d] = %.8g, expected %.8g", B, T, H, d, dv,
                                 b, t, h, e, c->g[ik] - c->g0[ik], gk[(long)t * d + e]);
                }
                for (int e = 0; e < dv; e++) {
                    long iv = row + 2 * Hd + h * dv + e;
                    if (!close_to(c->g[iv] - c->g0[iv], gv[(long)t * dv + e], tol))
                        MISMATCH("B%d T%d H%d d%d dv%d: dv[%d,%d,%d,%d] = %.8g, expected %.8g", B, T, H, d, dv,
                                 b, t, h, e, c->g[iv] - c->g0[iv], gv[(long)t * dv + e]);
                }
            }
        }
    /* the 3 floats past v in each row are nobody's gradient */
    for (long t = 0; t < (long)B * T; t++)
        for (int e = 2 * Hd + H * dv; e < ld; e++)
            if (c->g[t * ld + e] != c->g0[t * ld + e]) MISMATCH("row %ld: padding entry %d written", t, e);
#undef MISMATCH
    free(p); free(ds); free(gq); free(gk); free(gv);
    return bad;
}

TEST(perf_attention_matches_reference)
{
    /* B, T, H, d, d_v */
    static const int shapes[][5] = {
        { 1, 1, 1, 32, 32 },     /* one token */
        { 2, 1, 3, 5, 7 },
        { 2, 7, 2, 3, 3 },       /* fewer rows than a tile */
        { 1, 37, 2, 32, 32 },    /* T not a multiple of the tile rows or columns */
        { 2, 70, 2, 32, 16 },    /* d != d_v, one in place, one padded */
        { 1, 45, 3, 16, 64 },    /* d_v spans two tile widths (AVX-512) */
        { 1, 33, 1, 64, 48 },
        { 1, 130, 1, 8, 40 },    /* past the tiles of a 128 strip */
        { 1, 128, 2, 32, 32 },   /* the demo probe's heads */
    };
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        struct att_case c;
        att_case_init(&c, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], shapes[s][4], 100 + s);
        att_case_run(&c);
        CHECK_MSG(att_case_check(t_, &c) == 0, "shape %u: B%d T%d H%d d%d dv%d", s, c.B, c.T, c.H, c.d, c.dv);
        att_case_free(&c);
    }
}

/* copy_transpose (the vector block transpose and its edges) against an element-by-
 * element transpose: widths and heights below, at and past whole VL x VL blocks, a
 * source row stride with room to spare, and the zeroed columns past n. */
TEST(perf_copy_transpose_matches_elementwise)
{
    static const int sizes[][2] = { { 1, 1 }, { 3, 5 }, { 16, 16 }, { 8, 32 }, { 37, 33 }, { 128, 32 }, { 130, 48 } };
    for (unsigned z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        int n = sizes[z][0], w = sizes[z][1], lds = w + 3, ldd = round_up(n, 32) + 16;
        float *src = malloc(sizeof(float) * n * lds), *dst = malloc(sizeof(float) * w * ldd);
        REQUIRE(src && dst);
        for (int e = 0; e < n * lds; e++) src[e] = (float)e * 0.25f - 7.0f;
        for (int e = 0; e < w * ldd; e++) dst[e] = NAN;
        copy_transpose(dst, ldd, src, lds, n, w);
        int bad = 0;
        for (int c = 0; c < w; c++)
            for (int j = 0; j < ldd; j++)
                bad += dst[(long)c * ldd + j] != (j < n ? src[(long)j * lds + c] : 0.0f);
        CHECK_MSG(bad == 0, "n %d w %d: %d floats differ", n, w, bad);
        free(src);
        free(dst);
    }
}

/* Large logits: the softmax subtracts the row maximum (no overflow, no NaN) and rows of
 * one dominant key give probability ~1 there. */
TEST(perf_attention_large_logits_stay_finite)
{
    struct att_case c;
    att_case_init(&c, 1, 19, 1, 32, 32, 7);
    for (long e = 0; e < (long)c.T * c.ld; e++) c.qkv[e] *= 40.0f;
    att_case_run(&c);
    int finite = 1;
    for (long e = 0; e < (long)c.T * c.T; e++) finite &= isfinite(c.att[e]);
    for (long e = 0; e < (long)c.T * c.ld; e++) finite &= isfinite(c.g[e]);
    CHECK(finite);
    for (int i = 0; i < c.T; i++) {
        double s = 0;
        for (int j = 0; j < c.T; j++) s += c.att[i * c.T + j];
        CHECK_NEAR(s, 1.0, 1e-5);
    }
    att_case_free(&c);
}

/* The forward writes every float of att the backward reads: a run whose att starts as NaN
 * gives the same out and gradients, bit for bit, as one whose att starts as zeros, and
 * its rows hold the probabilities for j <= i and zeros up to the end of the row's strip
 * (ATT_R rows); past that nothing was written (still NaN). T = 45 ends inside a strip. */
TEST(perf_attention_writes_what_backward_reads)
{
    struct att_case z, n;
    att_case_init(&z, 2, 45, 2, 32, 16, 21);
    att_case_init(&n, 2, 45, 2, 32, 16, 21);
    long na = (long)n.B * n.H * n.T * n.T, nq = (long)n.B * n.T * n.ld, no = (long)n.B * n.T * n.H * n.dv;
    for (long e = 0; e < na; e++) n.att[e] = NAN;
    att_case_run(&z);
    att_case_run(&n);
    CHECK(memcmp(z.out, n.out, sizeof(float) * no) == 0);
    CHECK(memcmp(z.g, n.g, sizeof(float) * nq) == 0);
    int bad = 0;
    for (long bh = 0; bh < (long)n.B * n.H; bh++)
        for (int i = 0; i < n.T; i++) {
            int end = (i / ATT_R + 1) * ATT_R;   /* the strip's end */
            for (int j = 0; j < n.T; j++) {
                float a = n.att[(bh * n.T + i) * n.T + j];
                if (j <= i) bad += !(a == z.att[(bh * n.T + i) * n.T + j] && a >= 0.0f);
                else if (j < end) bad += a != 0.0f;
                else bad += !isnan(a);
            }
        }
    CHECK_MSG(bad == 0, "%d floats of att not as described in ops.h", bad);
    att_case_free(&z);
    att_case_free(&n);
}

/* Bit-identical forward and backward with 1, 2 and 3 threads (3 splits the B*H = 6
 * heads unevenly against 2). */
TEST(perf_attention_thread_count_independent)
{
    int prev = omp_get_max_threads();
    const int counts[] = { 1, 2, 3 };
    struct att_case c[3];
    for (int r = 0; r < 3; r++) {
        omp_set_num_threads(counts[r]);
        att_case_init(&c[r], 2, 45, 3, 32, 16, 55);   /* same seed: same inputs */
        att_case_run(&c[r]);
    }
    omp_set_num_threads(prev);
    long no = (long)c[0].B * c[0].T * c[0].H * c[0].dv, nq = (long)c[0].B * c[0].T * c[0].ld;
    long na = (long)c[0].B * c[0].H * c[0].T * c[0].T;
    for (int r = 1; r < 3; r++) {
        CHECK_MSG(memcmp(c[r].out, c[0].out, sizeof(float) * no) == 0, "%d threads: out differs", counts[r]);
        CHECK_MSG(memcmp(c[r].att, c[0].att, sizeof(float) * na) == 0, "%d threads: att differs", counts[r]);
        CHECK_MSG(memcmp(c[r].g, c[0].g, sizeof(float) * nq) == 0, "%d threads: gradients differ", counts[r]);
    }
    for (int r = 0; r < 3; r++) att_case_free(&c[r]);
}

/* ---- S–D query transform -------------------------------------------------------------- */

/* q = p L per head (into slot 0 of rows of stride ld), dp += dq L^T, dL += p^T dq, against
 * double loops; N not a multiple of the tile rows, d in place (32) and padded (40, 5). */
static int sd_case(struct test_ctx *t_, int N, int H, int d, uint64_t seed, float *q_out, float *g_out,
                   float *dL_out)
{
    int C = H * d, ld = 3 * C + 1;
    long nb = (long)N * ld;
    uint64_t rng = seed;
    float *buf = malloc(sizeof(float) * nb), *g = malloc(sizeof(float) * nb), *g0 = malloc(sizeof(float) * nb);
    float *L = malloc(sizeof(float) * H * d * d), *dL = malloc(sizeof(float) * H * d * d),
          *dL0 = malloc(sizeof(float) * H * d * d);
    fill(buf, nb, 1.0f, &rng);
    fill(g0, nb, 1.0f, &rng);
    fill(L, (long)H * d * d, 0.3f, &rng);
    fill(dL0, (long)H * d * d, 1.0f, &rng);
    memcpy(g, g0, sizeof(float) * nb);
    memcpy(dL, dL0, sizeof(float) * H * d * d);
    float *q = buf, *p = buf + C, *dq = g0, *dp = g + C;   /* dq: slot 0 of g0 (read only) */
    sd_query_forward(q, ld, p, ld, L, N, H, d);
    sd_query_backward(dp, ld, dL, dq, ld, p, L, N, H, d);
    int bad = 0;
    double tol = 2e-5;
    for (int i = 0; i < N; i++)
        for (int h = 0; h < H; h++)
            for (int c = 0; c < d; c++) {
                const float *Lh = L + (long)h * d * d;
                double rq = 0, rp = 0;
                for (int a = 0; a < d; a++) {
                    rq += (double)p[(long)i * ld + h * d + a] * Lh[a * d + c];
                    rp += (double)dq[(long)i * ld + h * d + a] * Lh[c * d + a];
                }
                long e = (long)i * ld + h * d + c;
                if (!close_to(q[e], rq, tol)) { if (bad < 3) test_fail(t_, __FILE__, __LINE__, "d%d q[%d,%d,%d] %.8g vs %.8g", d, i, h, c, q[e], rq); bad++; }
                if (!close_to(dp[e] - g0[e + C], rp, tol)) { if (bad < 3) test_fail(t_, __FILE__, __LINE__, "d%d dp[%d,%d,%d]", d, i, h, c); bad++; }
            }
    for (int h = 0; h < H; h++)
        for (int a = 0; a < d; a++)
            for (int c = 0; c < d; c++) {
                double r = 0;
                for (int i = 0; i < N; i++) r += (double)p[(long)i * ld + h * d + a] * dq[(long)i * ld + h * d + c];
                long e = (long)h * d * d + a * d + c;
                if (!close_to(dL[e] - dL0[e], r, 1e-4)) { if (bad < 3) test_fail(t_, __FILE__, __LINE__, "d%d dL[%d,%d,%d] %.8g vs %.8g", d, h, a, c, dL[e] - dL0[e], r); bad++; }
            }
    /* nothing outside q (forward) and dp (backward) written */
    for (long e = 0; e < nb; e++) {
        long col = e % ld;
        if (col >= C && col < 2 * C) continue;
        if (g[e] != g0[e]) { if (bad < 3) test_fail(t_, __FILE__, __LINE__, "d%d: g[%ld] outside dp written", d, e); bad++; }
    }
    if (q_out) memcpy(q_out, buf, sizeof(float) * nb);
    if (g_out) memcpy(g_out, g, sizeof(float) * nb);
    if (dL_out) memcpy(dL_out, dL, sizeof(float) * H * d * d);
    free(buf); free(g); free(g0); free(L); free(dL); free(dL0);
    return bad;
}

TEST(perf_sd_query_matches_reference)
{
    CHECK(sd_case(t_, 37, 2, 32, 1, NULL, NULL, NULL) == 0);
    CHECK(sd_case(t_, 29, 3, 40, 2, NULL, NULL, NULL) == 0);
    CHECK(sd_case(t_, 9, 2, 5, 3, NULL, NULL, NULL) == 0);
    CHECK(sd_case(t_, 1, 1, 64, 4, NULL, NULL, NULL) == 0);
}

TEST(perf_sd_query_thread_count_independent)
{
    int prev = omp_get_max_threads();
    const int N = 203, H = 3, d = 32, ld = 3 * H * d + 1;
    long nb = (long)N * ld, nl = (long)H * d * d;
    float *q[3], *g[3], *dL[3];
    const int counts[] = { 1, 2, 3 };
    for (int r = 0; r < 3; r++) {
        q[r] = malloc(sizeof(float) * nb); g[r] = malloc(sizeof(float) * nb); dL[r] = malloc(sizeof(float) * nl);
        omp_set_num_threads(counts[r]);
        CHECK(sd_case(t_, N, H, d, 9, q[r], g[r], dL[r]) == 0);
    }
    omp_set_num_threads(prev);
    for (int r = 1; r < 3; r++) {
        CHECK_MSG(memcmp(q[r], q[0], sizeof(float) * nb) == 0, "%d threads: q differs", counts[r]);
        CHECK_MSG(memcmp(g[r], g[0], sizeof(float) * nb) == 0, "%d threads: dp differs", counts[r]);
        CHECK_MSG(memcmp(dL[r], dL[0], sizeof(float) * nl) == 0, "%d threads: dL differs", counts[r]);
    }
    for (int r = 0; r < 3; r++) { free(q[r]); free(g[r]); free(dL[r]); }
}

/* ---- LayerNorm (lane sums) ---------------------------------------------------------- */

/* Forward and backward against double loops at C a multiple of every vector width (128)
 * and not (133, 5), then bit-identical with 1, 2 and 3 threads. */
static void ln_run(int N, int C, uint64_t seed, float *out, float *dx, float *dw, float *db)
{
    uint64_t rng = seed;
    long n = (long)N * C;
    float *x = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * C), *b = malloc(sizeof(float) * C);
    float *dout = malloc(sizeof(float) * n), *mean = malloc(sizeof(float) * N), *rstd = malloc(sizeof(float) * N);
    fill(x, n, 2.0f, &rng); fill(w, C, 1.0f, &rng); fill(b, C, 1.0f, &rng); fill(dout, n, 1.0f, &rng);
    fill(dx, n, 1.0f, &rng); fill(dw, C, 1.0f, &rng); fill(db, C, 1.0f, &rng);   /* accumulated onto */
    for (long i = 0; i < n; i++) x[i] += 0.5f;   /* a mean away from 0 */
    layernorm_forward(out, mean, rstd, x, w, b, N, C);
    layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C);
    free(x); free(w); free(b); free(dout); free(mean); free(rstd);
}

TEST(perf_layernorm_matches_reference_and_threads)
{
    const int Cs[] = { 128, 133, 5 };
    for (int ci = 0; ci < 3; ci++) {
        int N = 37, C = Cs[ci];
        long n = (long)N * C;
        float *out = malloc(sizeof(float) * n), *dx = malloc(sizeof(float) * n),
              *dw = malloc(sizeof(float) * C), *db = malloc(sizeof(float) * C);
        ln_run(N, C, 3 + ci, out, dx, dw, db);
        /* the reference from the same inputs (same generator sequence) */
        uint64_t rng = 3 + ci;
        float *x = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * C), *b = malloc(sizeof(float) * C);
        float *dout = malloc(sizeof(float) * n), *dx0 = malloc(sizeof(float) * n),
              *dw0 = malloc(sizeof(float) * C), *db0 = malloc(sizeof(float) * C);
        fill(x, n, 2.0f, &rng); fill(w, C, 1.0f, &rng); fill(b, C, 1.0f, &rng); fill(dout, n, 1.0f, &rng);
        fill(dx0, n, 1.0f, &rng); fill(dw0, C, 1.0f, &rng); fill(db0, C, 1.0f, &rng);
        for (long i = 0; i < n; i++) x[i] += 0.5f;
        int bad = 0;
        double *rdw = calloc(C, sizeof(double)), *rdb = calloc(C, sizeof(double));
        for (int r = 0; r < N; r++) {
            const float *xr = x + (long)r * C, *dr = dout + (long)r * C;
            double m = 0, v = 0, gm = 0, gxm = 0;
            for (int c = 0; c < C; c++) m += xr[c];
            m /= C;
            for (int c = 0; c < C; c++) v += (xr[c] - m) * (xr[c] - m);
            double s = 1.0 / sqrt(v / C + 1e-5);
            for (int c = 0; c < C; c++) {
                double xh = (xr[c] - m) * s, g = (double)dr[c] * w[c];
                gm += g; gxm += g * xh;
                rdw[c] += dr[c] * xh; rdb[c] += dr[c];
                if (!close_to(out[(long)r * C + c], xh * w[c] + b[c], 1e-5)) bad++;
            }
            gm /= C; gxm /= C;
            for (int c = 0; c < C; c++) {
                double xh = (xr[c] - m) * s, ref = s * ((double)dr[c] * w[c] - gm - xh * gxm);
                if (!close_to(dx[(long)r * C + c] - dx0[(long)r * C + c], ref, 1e-4)) bad++;
            }
        }
        for (int c = 0; c < C; c++)
            if (!close_to(dw[c] - dw0[c], rdw[c], 1e-4) || !close_to(db[c] - db0[c], rdb[c], 1e-4)) bad++;
        CHECK_MSG(bad == 0, "C=%d: %d entries differ from the reference", C, bad);
        /* thread counts */
        int prev = omp_get_max_threads();
        for (int th = 1; th <= 3; th++) {
            float *o2 = malloc(sizeof(float) * n), *dx2 = malloc(sizeof(float) * n),
                  *dw2 = malloc(sizeof(float) * C), *db2 = malloc(sizeof(float) * C);
            omp_set_num_threads(th);
            ln_run(N, C, 3 + ci, o2, dx2, dw2, db2);
            CHECK_MSG(memcmp(o2, out, sizeof(float) * n) == 0 && memcmp(dx2, dx, sizeof(float) * n) == 0 &&
                      memcmp(dw2, dw, sizeof(float) * C) == 0 && memcmp(db2, db, sizeof(float) * C) == 0,
                      "C=%d, %d threads: results differ", C, th);
            free(o2); free(dx2); free(dw2); free(db2);
        }
        omp_set_num_threads(prev);
        free(out); free(dx); free(dw); free(db); free(x); free(w); free(b); free(dout);
        free(dx0); free(dw0); free(db0); free(rdw); free(rdb);
    }
}

/* ---- Overwriting backward variants (no zeroing pass) --------------------------------- */

/* matmul_forward_pair and matmul_backward_pair (S–D's U and W_V in one region) give the
 * bits of two matmul_forward and two matmul_backward calls, at N = 1024 (chunks of 256
 * rows shared by the threads), outputs interleaved in rows of stride ld as in the model. */
TEST(perf_matmul_pair_matches_two_calls)
{
    int N = 1024, IC = 48, A = 32, Bc = 24, ld = A + Bc + 5;
    uint64_t rng = 91;
    float *x = malloc(sizeof(float) * N * IC), *wa = malloc(sizeof(float) * IC * A),
          *wb = malloc(sizeof(float) * IC * Bc), *bb = malloc(sizeof(float) * Bc);
    float *o1 = calloc((size_t)N * ld, sizeof(float)), *o2 = calloc((size_t)N * ld, sizeof(float));
    float *dx1 = malloc(sizeof(float) * N * IC), *dx2 = malloc(sizeof(float) * N * IC);
    float *g1 = malloc(sizeof(float) * (IC * A + IC * Bc + Bc)), *g2 = malloc(sizeof(float) * (IC * A + IC * Bc + Bc));
    REQUIRE(x && wa && wb && bb && o1 && o2 && dx1 && dx2 && g1 && g2);
    fill(x, N * IC, 1, &rng); fill(wa, IC * A, 1, &rng); fill(wb, IC * Bc, 1, &rng); fill(bb, Bc, 1, &rng);
    fill(dx1, N * IC, 1, &rng); memcpy(dx2, dx1, sizeof(float) * N * IC);
    fill(g1, IC * A + IC * Bc + Bc, 1, &rng); memcpy(g2, g1, sizeof(float) * (IC * A + IC * Bc + Bc));
    matmul_forward(o1, ld, x, wa, NULL, N, IC, A);
    matmul_forward(o1 + A, ld, x, wb, bb, N, IC, Bc);
    matmul_forward_pair(o2, wa, NULL, A, o2 + A, wb, bb, Bc, ld, x, N, IC);
    CHECK(memcmp(o1, o2, sizeof(float) * N * ld) == 0);
    /* the outputs as the gradients of the two products */
    matmul_backward(dx1, g1, NULL, o1, ld, x, wa, N, IC, A);
    matmul_backward(dx1, g1 + IC * A, g1 + IC * A + IC * Bc, o1 + A, ld, x, wb, N, IC, Bc);
    matmul_backward_pair(dx2, x, N, IC, ld, g2, NULL, o2, wa, A, g2 + IC * A, g2 + IC * A + IC * Bc, o2 + A, wb, Bc);
    CHECK(memcmp(dx1, dx2, sizeof(float) * N * IC) == 0);
    CHECK(memcmp(g1, g2, sizeof(float) * (IC * A + IC * Bc + Bc)) == 0);
    free(x); free(wa); free(wb); free(bb); free(o1); free(o2); free(dx1); free(dx2); free(g1); free(g2);
}

/* matmul_backward_set and gelu_backward_set write what the accumulating versions add to
 * a zeroed buffer, whatever the buffer held (NaN here); dw, dbias still accumulate. */
TEST(perf_backward_set_variants_overwrite)
{
    int N = 13, IC = 7, OC = 9;
    uint64_t rng = 77;
    float *inp = malloc(sizeof(float) * N * IC), *w = malloc(sizeof(float) * IC * OC),
          *dout = malloc(sizeof(float) * N * OC);
    float *dinp_a = calloc(N * IC, sizeof(float)), *dinp_s = malloc(sizeof(float) * N * IC);
    float *dw_a = malloc(sizeof(float) * IC * OC), *dw_s = malloc(sizeof(float) * IC * OC);
    float *db_a = malloc(sizeof(float) * OC), *db_s = malloc(sizeof(float) * OC);
    fill(inp, N * IC, 1, &rng); fill(w, IC * OC, 1, &rng); fill(dout, N * OC, 1, &rng);
    fill(dw_a, IC * OC, 1, &rng); fill(db_a, OC, 1, &rng);
    memcpy(dw_s, dw_a, sizeof(float) * IC * OC); memcpy(db_s, db_a, sizeof(float) * OC);
    for (int i = 0; i < N * IC; i++) dinp_s[i] = NAN;
    matmul_backward(dinp_a, dw_a, db_a, dout, OC, inp, w, N, IC, OC);
    matmul_backward_set(dinp_s, dw_s, db_s, dout, OC, inp, w, N, IC, OC);
    int same_dinp = 1;
    for (int i = 0; i < N * IC; i++) same_dinp &= dinp_a[i] == dinp_s[i];
    CHECK(same_dinp);
    CHECK(memcmp(dw_a, dw_s, sizeof(float) * IC * OC) == 0);
    CHECK(memcmp(db_a, db_s, sizeof(float) * OC) == 0);

    long n = 1000;
    float *x = malloc(sizeof(float) * n), *dy = malloc(sizeof(float) * n),
          *ga = calloc(n, sizeof(float)), *gs = malloc(sizeof(float) * n);
    fill(x, n, 2, &rng); fill(dy, n, 1, &rng);
    for (long i = 0; i < n; i++) gs[i] = NAN;
    gelu_backward(ga, x, dy, n);
    gelu_backward_set(gs, x, dy, n);
    int same = 1;   /* as values: 0 + (-0) is +0 */
    for (long i = 0; i < n; i++) same &= ga[i] == gs[i];
    CHECK(same);
    free(inp); free(w); free(dout); free(dinp_a); free(dinp_s); free(dw_a); free(dw_s);
    free(db_a); free(db_s); free(x); free(dy); free(ga); free(gs);
}

/* attention_backward_set writes every column of every head what attention_backward adds
 * to zeros, whatever was there (NaN here), and leaves a row's other floats alone. */
TEST(perf_attention_backward_set_overwrites)
{
    struct att_case c;
    att_case_init(&c, 2, 37, 3, 32, 16, 21);
    int Hd = c.H * c.d, used = 2 * Hd + c.H * c.dv;
    long nq = (long)c.B * c.T * c.ld;
    attention_forward(c.out, c.att, c.qkv, c.qkv + Hd, c.qkv + 2 * Hd, c.ld, c.B, c.T, c.H, c.d, c.dv);
    float *gs = malloc(sizeof(float) * nq);
    for (long e = 0; e < nq; e++) { c.g[e] = 0.0f; gs[e] = e % c.ld < used ? NAN : 5.0f; }
    attention_backward(c.g, c.g + Hd, c.g + 2 * Hd, c.scratch, c.dout, c.qkv, c.qkv + Hd,
                       c.qkv + 2 * Hd, c.att, c.ld, c.B, c.T, c.H, c.d, c.dv);
    attention_backward_set(gs, gs + Hd, gs + 2 * Hd, c.scratch, c.dout, c.qkv, c.qkv + Hd,
                           c.qkv + 2 * Hd, c.att, c.ld, c.B, c.T, c.H, c.d, c.dv);
    int bad = 0;
    for (long e = 0; e < nq; e++) bad += e % c.ld < used ? !(gs[e] == c.g[e]) : gs[e] != 5.0f;
    CHECK_MSG(bad == 0, "%d entries differ", bad);
    free(gs);
    att_case_free(&c);
}

/* ---- Weight matmuls split by rows ----------------------------------------------------- */

/* matmul_forward/_backward and the tied head, at sizes where they are split into chunks of
 * rows (N = 1000: 128-row chunks; IC = 300, V = 260) and where they are not (N = 50):
 * bit-identical with 1, 2 and 3 threads, whatever BLAS core runs (some split differently
 * round differently, so the chunks must not follow the thread count). */
static void mm_run(int N, int IC, int OC, float *out, float *dinp, float *dw, float *db,
                   float *logits, float *dx, float *dwte)
{
    uint64_t rng = 4242;
    int V = 260;
    float *inp = malloc(sizeof(float) * N * IC), *w = malloc(sizeof(float) * IC * OC),
          *bias = malloc(sizeof(float) * OC), *dout = malloc(sizeof(float) * N * OC),
          *wte = malloc(sizeof(float) * V * IC), *dl = malloc(sizeof(float) * N * V);
    fill(inp, (long)N * IC, 1, &rng); fill(w, (long)IC * OC, 1, &rng); fill(bias, OC, 1, &rng);
    fill(dout, (long)N * OC, 1, &rng); fill(wte, (long)V * IC, 1, &rng); fill(dl, (long)N * V, 1, &rng);
    fill(dinp, (long)N * IC, 1, &rng); fill(dw, (long)IC * OC, 1, &rng); fill(db, OC, 1, &rng);
    fill(dx, (long)N * IC, 1, &rng); fill(dwte, (long)V * IC, 1, &rng);
    matmul_forward(out, OC, inp, w, bias, N, IC, OC);
    matmul_backward(dinp, dw, db, dout, OC, inp, w, N, IC, OC);
    tied_head_forward(logits, inp, wte, N, IC, V);
    tied_head_backward(dx, dwte, dl, inp, wte, N, IC, V);
    free(inp); free(w); free(bias); free(dout); free(wte); free(dl);
}

TEST(perf_matmul_thread_count_independent)
{
    int prev = omp_get_max_threads();
    /* IC = 600: the weight gradient's M, chunked as a transposed product from 512 */
    const int Ns[] = { 1000, 50, 1000 }, ICs[] = { 300, 300, 600 };
    for (int k = 0; k < 3; k++) {
        int N = Ns[k], IC = ICs[k], OC = 136, V = 260;
        long sizes[7] = { (long)N * OC, (long)N * IC, (long)IC * OC, OC, (long)N * V, (long)N * IC, (long)V * IC };
        float *r[3][7];
        for (int t = 0; t < 3; t++) {
            for (int i = 0; i < 7; i++) r[t][i] = malloc(sizeof(float) * sizes[i]);
            omp_set_num_threads(t + 1);
            mm_run(N, IC, OC, r[t][0], r[t][1], r[t][2], r[t][3], r[t][4], r[t][5], r[t][6]);
        }
        omp_set_num_threads(prev);
        static const char *names[7] = { "out", "dinp", "dw", "dbias", "logits", "dx", "dwte" };
        for (int t = 1; t < 3; t++)
            for (int i = 0; i < 7; i++)
                CHECK_MSG(memcmp(r[t][i], r[0][i], sizeof(float) * sizes[i]) == 0,
                          "N=%d, %d threads: %s differs from 1 thread", N, t + 1, names[i]);
        /* and the product itself, against double loops (forward) */
        for (int t = 0; t < 3; t++) for (int i = 0; i < 7; i++) free(r[t][i]);
    }
}
