/* search/inherit.c — warm starts of candidates from a trained source model ("inherit"
 * retraining, SPEC.md §4–§5).
 *
 * d is a head's query/key width (qk_dim), d_v its value width (v_dim).
 * Rules, per layer (source kind -> candidate kind):
 *   same kind, same d, d_v  every tensor copied.
 *   softmax -> linear     [W_Q | W_K | W_V] and W_O copied: the tensors have the same names
 *                         and shapes.
 *   sd -> linear (same d, d_v)  W_K = U, W_Q = U L (L = S - D), W_V, W_O as they were. With our
 *                         (in, out) layout q_i = (U L)^T x_i = L^T p_i, so q_i . k_j =
 *                         p_i^T L p_j = l_ij sqrt(d): the S–D logits exactly. (SPEC §4 writes
 *                         W_Q = U L^T, which gives l_ji; we keep the stated intent.)
 *   sd d -> sd d' < d     (the routing side) the leading rotation planes of S: real Schur
 *                         form S = Z T Z^T
 *                         (LAPACKE dgees), 2x2 blocks ordered by |omega|; Z' = the d'
 *                         columns of the leading planes (a plane split in half when d' is
 *                         odd); U' = U Z', S' = Z'^T S Z' and D' = diag(Z'^T D Z'), both
 *                         scaled by sqrt(d'/d) so that logits keep their size under the new
 *                         1/sqrt(d'). The values are untouched when d_v stays.
 *   sd d_v -> sd d_v' < d_v  (the value side) [ours]: the head's first d_v' value columns
 *                         and the matching rows of W_O. A joint cut (head_dim) does both; a
 *                         routing-only cut (qk_dim) only the first, keeping every value.
 * Everything else (embeddings, MLPs, norms) is copied by name when the shapes agree; a
 * tensor that is neither copied nor converted keeps its fresh initialisation.
 */
#include "search/campaign.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies every tensor of dst whose name and shape match one in src. */
static void copy_matching(struct model *dst, const struct model *src)
{
    for (int i = 0; i < dst->n_tensors; i++) {
        const struct param_tensor *t = &dst->tensors[i];
        const struct param_tensor *s = model_find_tensor(src, t->name);
        if (s && s->numel == t->numel && s->shape[0] == t->shape[0] && s->shape[1] == t->shape[1])
            memcpy(dst->params + t->offset, src->params + s->offset, t->numel * sizeof(float));
    }
}

static float *tensor(const struct model *m, int l, const char *suffix)
{
    char nm[64];
    snprintf(nm, sizeof nm, "h.%d.%s", l, suffix);
    return model_param(m, nm);
}

/* S–D layer -> linear layer of the same widths. */
static int sd_to_linear(struct model *dst, const struct model *src, int l, char *err)
{
    const struct layer_arch *from = &src->cfg.layers[l], *to = &dst->cfg.layers[l];
    int C = src->cfg.n_embd, H = src->cfg.n_head, d = from->qk_dim, dv = from->v_dim;
    int Hd = H * d, Hdv = H * dv, ld = 2 * Hd + Hdv;   /* qkv.w (C, 2Hd + Hdv) */
    if (to->qk_dim != d || to->v_dim != dv) {
        snprintf(err, CASCADE_ERR_MAX, "inherit: layer %d: S-D d=%d/%d -> linear d=%d/%d (qk/v) is not "
                 "supported", l, d, dv, to->qk_dim, to->v_dim);
        return -1;
    }
    const float *u = tensor(src, l, "attn.u"), *vw = tensor(src, l, "attn.v.w"), *vb = tensor(src, l, "attn.v.b");
    float *qkvw = tensor(dst, l, "attn.qkv.w"), *qkvb = tensor(dst, l, "attn.qkv.b");
    float *L = malloc(sizeof(float) * d * d);
    for (int h = 0; h < H; h++) {
        model_sd_matrix(src, l, h, L);
        for (int c = 0; c < C; c++) {
            const float *urow = u + (size_t)c * Hd + h * d;
            float *q = qkvw + (size_t)c * ld + h * d;
            for (int j = 0; j < d; j++) {        /* (U L)_cj = sum_i U_ci L_ij */
                double acc = 0.0;
                for (int i = 0; i < d; i++) acc += (double)urow[i] * L[i * d + j];
                q[j] = (float)acc;
                q[Hd + j] = urow[j];                                   /* W_K = U */
            }
            for (int j = 0; j < dv; j++)                               /* W_V */
                qkvw[(size_t)c * ld + 2 * Hd + h * dv + j] = vw[(size_t)c * Hdv + h * dv + j];
        }
        for (int j = 0; j < d; j++) {
            qkvb[h * d + j] = 0.0f;
            qkvb[Hd + h * d + j] = 0.0f;
        }
        for (int j = 0; j < dv; j++) qkvb[2 * Hd + h * dv + j] = vb[h * dv + j];
    }
    free(L);
    return 0;
}

struct plane { int col; int width; double omega; };

static int by_omega_desc(const void *a, const void *b)
{
    const struct plane *x = a, *y = b;
    if (x->omega != y->omega) return x->omega > y->omega ? -1 : 1;
    return x->col - y->col;
}

/* Z' (d, dn): columns of the Schur vectors of S spanning its leading rotation planes. */
static int leading_planes(double *zsel, const float *L, int d, int dn, char *err)
{
    double *S = malloc(sizeof(double) * d * d), *Z = malloc(sizeof(double) * d * d);
    double *wr = malloc(sizeof(double) * d), *wi = malloc(sizeof(double) * d);
    struct plane *pl = malloc(sizeof *pl * d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) S[i * d + j] = 0.5 * ((double)L[i * d + j] - L[j * d + i]);
    lapack_int sdim = 0;
    lapack_int info = LAPACKE_dgees(LAPACK_ROW_MAJOR, 'V', 'N', NULL, d, S, d, &sdim, wr, wi, Z, d);
    int rc = 0;
    if (info != 0) {
        snprintf(err, CASCADE_ERR_MAX, "inherit: real Schur form of S failed (LAPACK dgees info %d)", (int)info);
        rc = -1;
        goto done;
    }
    int np = 0;
    for (int i = 0; i < d;) {
        int two = i + 1 < d && S[(i + 1) * d + i] != 0.0;
        pl[np++] = (struct plane){ i, two ? 2 : 1, two ? fabs(wi[i]) : 0.0 };
        i += two ? 2 : 1;
    }
    qsort(pl, np, sizeof *pl, by_omega_desc);
    int taken = 0;
    for (int p = 0; p < np && taken < dn; p++)
        for (int w = 0; w < pl[p].width && taken < dn; w++, taken++)
            for (int i = 0; i < d; i++) zsel[i * dn + taken] = Z[i * d + pl[p].col + w];
done:
    free(S); free(Z); free(wr); free(wi); free(pl);
    return rc;
}

/* S–D layer of widths (d, dv) -> S–D layer of (dn, dvn), dn <= d, dvn <= dv: each side
 * that shrinks is cut; a side that keeps its width was copied by name already. */
static int sd_cut(struct model *dst, const struct model *src, int l, char *err)
{
    int C = src->cfg.n_embd, H = src->cfg.n_head;
    int d = src->cfg.layers[l].qk_dim, dn = dst->cfg.layers[l].qk_dim;
    int dv = src->cfg.layers[l].v_dim, dvn = dst->cfg.layers[l].v_dim;
    int Hd = H * d, Hdn = H * dn, Hdv = H * dv, Hdvn = H * dvn;
    const float *u = tensor(src, l, "attn.u"), *vw = tensor(src, l, "attn.v.w"), *vb = tensor(src, l, "attn.v.b");
    const float *pw = tensor(src, l, "attn.proj.w");
    float *u2 = tensor(dst, l, "attn.u"), *s2 = tensor(dst, l, "attn.s"), *dl2 = tensor(dst, l, "attn.delta");
    float *vw2 = tensor(dst, l, "attn.v.w"), *vb2 = tensor(dst, l, "attn.v.b"), *pw2 = tensor(dst, l, "attn.proj.w");
    float *L = malloc(sizeof(float) * d * d);
    double *z = calloc((size_t)d * dn, sizeof(double));
    const double scale = sqrt((double)dn / d);
    int rc = 0;
    for (int h = 0; h < H && rc == 0 && dn < d; h++) {
        model_sd_matrix(src, l, h, L);
        if ((rc = leading_planes(z, L, d, dn, err)) != 0) break;
        /* U' = U Z' */
        for (int c = 0; c < C; c++)
            for (int j = 0; j < dn; j++) {
                double acc = 0.0;
                for (int i = 0; i < d; i++) acc += (double)u[(size_t)c * Hd + h * d + i] * z[i * dn + j];
                u2[(size_t)c * Hdn + h * dn + j] = (float)acc;
            }
        /* L' = Z'^T L Z' * scale: skew part -> s', diagonal of the symmetric part -> delta' */
        int k = 0;
        for (int a = 0; a < dn; a++) {
            for (int b = a; b < dn; b++) {
                double lab = 0.0, lba = 0.0;
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++) {
                        lab += z[i * dn + a] * L[i * d + j] * z[j * dn + b];
                        lba += z[i * dn + b] * L[i * d + j] * z[j * dn + a];
                    }
                if (b == a) {
                    double dv = -lab * scale;          /* D' entry > 0: D is positive definite */
                    if (dv < 1e-6) dv = 1e-6;
                    dl2[h * dn + a] = (float)(dv > 20 ? dv : log(expm1(dv)));  /* softplus^-1 */
                } else {
                    s2[(size_t)h * dn * (dn - 1) / 2 + k++] = (float)(0.5 * (lab - lba) * scale);
                }
            }
        }
    }
    /* values: the first dvn columns of each head, and the matching rows of W_O */
    for (int h = 0; h < H && rc == 0 && dvn < dv; h++) {
        for (int c = 0; c < C; c++)
            for (int j = 0; j < dvn; j++) vw2[(size_t)c * Hdvn + h * dvn + j] = vw[(size_t)c * Hdv + h * dv + j];
        for (int j = 0; j < dvn; j++) {
            vb2[h * dvn + j] = vb[h * dv + j];
            memcpy(pw2 + (size_t)(h * dvn + j) * C, pw + (size_t)(h * dv + j) * C, sizeof(float) * C);
        }
    }
    free(L);
    free(z);
    return rc;
}

int campaign_inherit(struct model *dst, const struct model_config *arch, const struct model *src,
                     uint64_t seed, char *err)
{
    const struct model_config *sc = &src->cfg;
    if (arch->n_layer != sc->n_layer || arch->n_embd != sc->n_embd || arch->n_head != sc->n_head ||
        arch->vocab_size != sc->vocab_size || arch->seq_len != sc->seq_len || arch->layernorm != sc->layernorm ||
        arch->embed_scale != sc->embed_scale) {
        snprintf(err, CASCADE_ERR_MAX, "inherit: the candidate's shape differs from its source's (n_layer %d/%d, "
                 "n_embd %d/%d, n_head %d/%d, layernorm %d/%d, embed_scale %g/%g: candidate/source)",
                 arch->n_layer, sc->n_layer, arch->n_embd, sc->n_embd, arch->n_head, sc->n_head, arch->layernorm,
                 sc->layernorm, arch->embed_scale, sc->embed_scale);
        return -1;
    }
    if (model_init(dst, arch, seed, err) != 0) return -1;
    copy_matching(dst, src);
    for (int l = 0; l < arch->n_layer; l++) {
        enum attn_kind from = sc->layers[l].kind, to = arch->layers[l].kind;
        int d = sc->layers[l].qk_dim, dn = arch->layers[l].qk_dim;
        int dv = sc->layers[l].v_dim, dvn = arch->layers[l].v_dim;
        int rc = 0;
        if (from == to && d == dn && dv == dvn) continue;
        if (from == ATTN_SD && to == ATTN_LINEAR) rc = sd_to_linear(dst, src, l, err);
        else if (from == ATTN_SD && to == ATTN_SD && dn <= d && dvn <= dv) rc = sd_cut(dst, src, l, err);
        else if (from == ATTN_SOFTMAX && to == ATTN_LINEAR && d == dn && dv == dvn) rc = 0; /* copied by name */
        else {
            snprintf(err, CASCADE_ERR_MAX, "inherit: layer %d: %s d=%d/%d -> %s d=%d/%d (qk/v) is not supported",
                     l, attn_kind_name(from), d, dv, attn_kind_name(to), dn, dvn);
            rc = -1;
        }
        if (rc != 0) { model_free(dst); return -1; }
    }
    return 0;
}
