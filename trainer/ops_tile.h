/* trainer/ops_tile.h — the small register-tiled products and vector helpers of the
 * hand-written kernels (causal attention in ops.c, the S–D query transform in ops_sd.c);
 * private to trainer/.
 *
 * Why not cblas_sgemm: at the shapes of a head (d = 32, T = 128) one sgemm call costs
 * more in argument checks, buffer setup and panel packing than its arithmetic, and the
 * per-head products were a quarter of the demo probe's step (issue 21).
 *
 * Vectors are GCC vector extensions of VL floats, VL from the target the file is built
 * for (-march=native): 16 with AVX-512, 8 with AVX/AVX2, 4 otherwise. Fused multiply-adds
 * go through the intrinsic of that target (the project builds with -std=c11, whose
 * -ffp-contract=off fuses nothing by itself).
 *
 * att_tile() is the one product: a tile of ATT_R rows x ATT_W = 2 VL columns,
 *   C[r][0..ATT_W) = sum_{k=k0}^{k1-1} A[r][k] * B[k][0..ATT_W),
 * A's entries broadcast from memory through one pointer per row and a k stride (so A can
 * be a block of rows, or a block of columns read as rows: a transposed operand), B's rows
 * loaded as vectors. Each entry of C is one sum in k order, the same on any thread and
 * whatever the surrounding loop: results do not depend on the thread count, only on the
 * build's vector width.
 */
#ifndef CASCADE_TRAINER_OPS_TILE_H
#define CASCADE_TRAINER_OPS_TILE_H

#include <stdint.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define VL 16
#define ATT_R 8
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#elif defined(__AVX__)
#include <immintrin.h>
#define VL 8
#define ATT_R 6
#if defined(__FMA__)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#else
#define VFMA(a, b, c) ((a) * (b) + (c))
#endif
#else
#define VL 4
#define ATT_R 4
#define VFMA(a, b, c) ((a) * (b) + (c))
#endif
#define ATT_W (2 * VL)   /* floats per tile row: att_tile keeps two vectors a row */

typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VL * sizeof(float))));
typedef uint32_t vu __attribute__((vector_size(VL * sizeof(float))));
/* an unaligned, aliasing view for loads and stores */
typedef float vfu __attribute__((vector_size(VL * sizeof(float)), aligned(4), may_alias));

static inline int round_up(int n, int m) { return (n + m - 1) / m * m; }

static inline vf vbcast(float s)
{
    vf v;
    for (int l = 0; l < VL; l++) v[l] = s;
    return v;
}

static inline vf vload(const float *p) { return *(const vfu *)p; }
static inline void vstore(float *p, vf v) { *(vfu *)p = v; }

/* A store past the cache (a streaming store) where p is aligned to the vector and the
 * target has one; else vstore. For arrays read again only much later (attention's
 * probabilities, read by the backward): the cache lines are not fetched first. A
 * parallel region that streams ends with vstream_fence(). */
static inline void vstream(float *p, vf v)
{
#if VL == 16
    if (((uintptr_t)p & 63) == 0) { _mm512_stream_ps(p, (__m512)v); return; }
#elif VL == 8
    if (((uintptr_t)p & 31) == 0) { _mm256_stream_ps(p, (__m256)v); return; }
#endif
    vstore(p, v);
}

static inline void vstream_fence(void)
{
#if VL >= 8
    _mm_sfence();
#endif
}

/* lanes where mask is all ones from a, the others from b */
static inline vf vselect(vi mask, vf a, vf b) { return (vf)((mask & (vi)a) | (~mask & (vi)b)); }
static inline vf vmax(vf a, vf b) { return vselect(a > b, a, b); }

/* lane l < n: all ones */
static inline vi vlanes_below(int n)
{
    vi iota;
    for (int l = 0; l < VL; l++) iota[l] = l;
    return iota < n;
}

/* Lanes added in order 0..VL-1. */
static inline float vsum(vf v)
{
    float s = 0.0f;
    for (int l = 0; l < VL; l++) s += v[l];
    return s;
}

static inline float vhmax(vf v)
{
    float m = v[0];
    for (int l = 1; l < VL; l++) m = v[l] > m ? v[l] : m;
    return m;
}

/* ops_expf (trainer/ops.h) lane by lane: the same operations in the same order, so the
 * same values. */
static inline vf vexpf(vf x)
{
    x = vselect(x < vbcast(-87.3f), vbcast(-87.3f), x);
    x = vselect(x > vbcast(88.3f), vbcast(88.3f), x);
    /* integer steps unsigned: a NaN lane converts to INT_MIN, and must wrap, not overflow */
    vi n = (vi)((vu)__builtin_convertvector(x * 1.44269504f + 128.5f, vi) - 128u);
    vf nf = __builtin_convertvector(n, vf);
    vf r = x - nf * 0.693145752f;
    r = r - nf * 1.42860677e-6f;
    vf p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f +
           r * (0.00833333377f + r * 0.00138888892f)))));
    return p * (vf)(((vu)n + 127u) << 23);
}

/* e^x for x <= 0 (softmax arguments after the row maximum is subtracted), the polynomial
 * of ops_expf in fused multiply-adds: no upper clamp, fewer roundings; not bit-identical
 * to ops_expf, relative error < 4e-7 like it. */
static inline vf vexpf_nonpos(vf x)
{
    x = vselect(x < vbcast(-87.3f), vbcast(-87.3f), x);
    /* integer steps unsigned: a NaN lane converts to INT_MIN, and must wrap, not overflow */
    vi n = (vi)((vu)__builtin_convertvector(x * 1.44269504f + 128.5f, vi) - 128u);
    vf nf = __builtin_convertvector(n, vf);
    vf r = VFMA(nf, vbcast(-0.693145752f), x);
    r = VFMA(nf, vbcast(-1.42860677e-6f), r);
    vf p = VFMA(r, vbcast(0.00138888892f), vbcast(0.00833333377f));
    p = VFMA(p, r, vbcast(0.0416666679f));
    p = VFMA(p, r, vbcast(0.166666672f));
    p = VFMA(p, r, vbcast(0.5f));
    p = VFMA(p, r, vbcast(1.0f));
    p = VFMA(p, r, vbcast(1.0f));
    return p * (vf)(((vu)n + 127u) << 23);
}

/* The tile product described at the top. a[r] points at row r's entry for k = 0 (rows
 * past the end of an operand repeat a valid row; their results are not used); B's rows
 * hold ATT_W readable floats. tile: ATT_R x ATT_W, row stride ldt.
 * Not inlined: inlined into the attention backward, GCC kept B's two vectors on the
 * stack and fed every FMA from memory (24 loads per 16 FMAs: the tiles ran load-bound);
 * as a function of its own every operand stays in a register (backward 0.96 -> 0.79 ms
 * per demo layer on one thread, issue 21). */
static __attribute__((noinline, unused))
void att_tile(float *tile, long ldt, const float *const a[ATT_R], long sk,
              const float *B, long ldb, int k0, int k1)
{
    vf acc[ATT_R][2];
    for (int r = 0; r < ATT_R; r++) acc[r][0] = acc[r][1] = (vf){ 0 };
    for (int k = k0; k < k1; k++) {
        const float *b = B + (long)k * ldb;
        vf b0 = vload(b), b1 = vload(b + VL);
        long ka = (long)k * sk;
        #pragma GCC unroll 8
        for (int r = 0; r < ATT_R; r++) {
            vf x = vbcast(a[r][ka]);
            acc[r][0] = VFMA(x, b0, acc[r][0]);
            acc[r][1] = VFMA(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < ATT_R; r++) {
        vstore(tile + r * ldt, acc[r][0]);
        vstore(tile + r * ldt + VL, acc[r][1]);
    }
}

/* Row pointers of a tile: rows r0 + r (r < nr) of base with stride ld, the last valid
 * row repeated past nr. */
static inline void tile_rows(const float *a[ATT_R], const float *base, long ld, int r0, int nr)
{
    for (int r = 0; r < ATT_R; r++) a[r] = base + (long)(r0 + (r < nr ? r : nr - 1)) * ld;
}

/* Copies rows (n, w) of src (row stride lds) into dst (n, wp), zero-padded to wp. */
static inline void copy_pad(float *dst, int wp, const float *src, long lds, int n, int w)
{
    for (int i = 0; i < n; i++) {
        float *o = dst + (long)i * wp;
        const float *s = src + (long)i * lds;
        for (int c = 0; c < w; c++) o[c] = s[c];
        for (int c = w; c < wp; c++) o[c] = 0.0f;
    }
}

/* Lane index vectors of the butterfly transpose below: for a stage s (a power of two
 * < VL) and rows a = r_i, b = r_{i+s} (bit s of i clear), [a b] indexed 0..2VL-1,
 *   new r_i     takes lane l from a[l] where bit s of l is clear, else from b[l - s];
 *   new r_{i+s} takes lane l from a[l + s] where it is clear, else from b[l].
 * Each stage swaps bit s of the row index with bit s of the lane index; all log2(VL)
 * stages make the VL x VL transpose. */
#define TR_LO(s, l) (((l) & (s)) ? VL + (l) - (s) : (l))
#define TR_HI(s, l) (((l) & (s)) ? VL + (l) : (l) + (s))
#if VL == 16
#define TR_MASK(F, s) ((vi){ F(s, 0), F(s, 1), F(s, 2), F(s, 3), F(s, 4), F(s, 5), F(s, 6), F(s, 7), \
                             F(s, 8), F(s, 9), F(s, 10), F(s, 11), F(s, 12), F(s, 13), F(s, 14), F(s, 15) })
#elif VL == 8
#define TR_MASK(F, s) ((vi){ F(s, 0), F(s, 1), F(s, 2), F(s, 3), F(s, 4), F(s, 5), F(s, 6), F(s, 7) })
#else
#define TR_MASK(F, s) ((vi){ F(s, 0), F(s, 1), F(s, 2), F(s, 3) })
#endif

#if defined(__clang__)
/* clang (the fuzzing build) has no __builtin_shuffle: lane by lane, the same lanes */
static inline vf tr_pick(vf a, vf b, vi m)
{
    vf r;
    for (int l = 0; l < VL; l++) r[l] = m[l] < VL ? a[m[l]] : b[m[l] - VL];
    return r;
}
#else
#define tr_pick(a, b, m) __builtin_shuffle((a), (b), (m))
#endif

static inline __attribute__((always_inline)) void tr_stage(vf r[VL], int s, vi lo, vi hi)
{
    for (int i = 0; i < VL; i++)
        if (!(i & s)) {
            vf a = r[i], b = r[i + s];
            r[i] = tr_pick(a, b, lo);
            r[i + s] = tr_pick(a, b, hi);
        }
}

/* dst (VL rows, stride ldd) = src (VL rows, stride lds)^T, VL x VL floats. */
static inline __attribute__((always_inline))
void transpose_block(float *dst, long ldd, const float *src, long lds)
{
    vf r[VL];
    for (int i = 0; i < VL; i++) r[i] = vload(src + (long)i * lds);
#if VL == 16
    tr_stage(r, 8, TR_MASK(TR_LO, 8), TR_MASK(TR_HI, 8));
#endif
#if VL >= 8
    tr_stage(r, 4, TR_MASK(TR_LO, 4), TR_MASK(TR_HI, 4));
#endif
    tr_stage(r, 2, TR_MASK(TR_LO, 2), TR_MASK(TR_HI, 2));
    tr_stage(r, 1, TR_MASK(TR_LO, 1), TR_MASK(TR_HI, 1));
    for (int i = 0; i < VL; i++) vstore(dst + (long)i * ldd, r[i]);
}

/* dst (w, ldd) = src (n, w)^T, src row stride lds, columns n..ldd-1 zeroed. Whole
 * VL x VL blocks through transpose_block (the element-by-element copy was a fifth of
 * the attention forward: issue 21), the edges one float at a time. */
static inline void copy_transpose(float *dst, int ldd, const float *src, long lds, int n, int w)
{
    int nb = n / VL * VL, wb = w / VL * VL;
    for (int j = 0; j < nb; j += VL)
        for (int c = 0; c < wb; c += VL) transpose_block(dst + (long)c * ldd + j, ldd, src + (long)j * lds + c, lds);
    for (int c = 0; c < w; c++) {
        float *o = dst + (long)c * ldd;
        const float *s = src + c;
        for (int jj = c < wb ? nb : 0; jj < n; jj++) o[jj] = s[(long)jj * lds];
        for (int jj = n; jj < ldd; jj++) o[jj] = 0.0f;
    }
}

/* An operand (n rows, w columns, row stride lds) as att_tile's B: the original where w is
 * a whole number of tiles, else a zero-padded copy in buf (n x round_up(w, ATT_W)). */
static inline const float *tile_operand(float *buf, long *ldb, const float *src, long lds, int n, int w)
{
    if (w % ATT_W == 0) { *ldb = lds; return src; }
    copy_pad(buf, round_up(w, ATT_W), src, lds, n, w);
    *ldb = round_up(w, ATT_W);
    return buf;
}

#endif
