/* search/measure.c — the per-layer value the proposal rules read (search.measure), with
 * its own error: campaign_measure_layers (search/campaign.h).
 *
 * Weight level (erank, pr, k90, planes, erank_minus_init) is a property of the weights:
 * one number per layer, no error of its own. Realised (realised_erank, realised_pr) is a
 * property of the model on text (SPEC §1 applied to the pre-softmax logits of a window,
 * for S–D heads P S P^T): one window is one sample, so we measure analysis_windows windows
 * of analysis_tokens tokens, spread evenly over the validation split (the first at its
 * start, the last ending at its end), and report the mean and the standard deviation
 * across windows (n - 1 in the denominator).
 *
 * Sensitivity (causal) asks the model itself: each S–D layer in turn cut to each head dim
 * of the grid, or made linear, by the surgery a warm start performs (search/inherit.c),
 * and evaluated on the first sensitivity_batches validation batches, the same batches for
 * every point, so differences between points are not sampling noise. A layer's value is
 * its linearisation cost; the curves drive the fraction allocations (search/proposals.c).
 */
#include "search/campaign.h"

#include "analysis/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The layer's value of one analysis. */
static double layer_value(const struct analysis_layer *L, enum campaign_measure m)
{
    switch (m) {
    case MEASURE_REALISED_ERANK: return L->has_realised ? L->realised_mean.routing_erank : NAN;
    case MEASURE_REALISED_PR: return L->has_realised ? L->realised_mean.routing_pr : NAN;
    case MEASURE_PR: return L->mean.routing_pr;
    case MEASURE_K90: return L->mean.routing_k90;
    case MEASURE_PLANES: return 2.0 * L->mean.routing_planes;
    case MEASURE_ERANK:
    case MEASURE_ERANK_MINUS_INIT:
    case MEASURE_SENSITIVITY: break;   /* measured by campaign_measure_sensitivity */
    }
    return L->mean.routing_erank;
}

/* The loss of `src` changed to architecture `arch` (warm-start surgery, no training). */
static int changed_loss(const struct campaign_config *cc, const struct model *src, const struct model_config *arch,
                        const struct dataset *ds, double *loss, char *err)
{
    struct model m;
    if (campaign_inherit(&m, arch, src, cc->base.seed, err) != 0) return -1;
    struct eval_result r;
    int rc = trainer_evaluate(&m, ds, cc->base.batch_size, arch->seq_len, cc->sensitivity_batches, &r, err);
    model_free(&m);
    *loss = r.loss;
    return rc;
}

int campaign_measure_sensitivity(const struct campaign_config *cc, struct model *src, const struct dataset *ds,
                                 struct campaign_sensitivity *out, char *err)
{
    const struct model_config *mc = &src->cfg;
    memset(out, 0, sizeof *out);
    out->n_layer = mc->n_layer;
    int d_max = 0;
    for (int l = 0; l < mc->n_layer; l++) if (mc->layers[l].qk_dim > d_max) d_max = mc->layers[l].qk_dim;
    for (int d = cc->head_dim_step; d < d_max && out->n_dims < CAMPAIGN_MAX_GRID; d += cc->head_dim_step)
        if (d >= cc->head_dim_min) out->dims[out->n_dims++] = d;
    struct eval_result r;
    int rc = trainer_evaluate(src, ds, cc->base.batch_size, mc->seq_len, cc->sensitivity_batches, &r, err);
    out->base_loss = r.loss;
    for (int l = 0; l < mc->n_layer && rc == 0; l++) {
        out->linear_loss[l] = NAN;
        out->head_dim[l] = mc->layers[l].qk_dim;
        for (int j = 0; j < out->n_dims; j++) out->cut_loss[l][j] = NAN;
        if (mc->layers[l].kind != ATTN_SD) continue;
        struct model_config a = *mc;
        a.layers[l].kind = ATTN_LINEAR;
        rc = changed_loss(cc, src, &a, ds, &out->linear_loss[l], err);
        for (int j = 0; j < out->n_dims && rc == 0 && out->dims[j] < mc->layers[l].qk_dim; j++) {
            a = *mc;
            layer_arch_set_head_dim(&a.layers[l], out->dims[j]);
            rc = changed_loss(cc, src, &a, ds, &out->cut_loss[l][j], err);
        }
    }
    return rc;
}

int campaign_measure_layers(const struct campaign_config *cc, struct model *m, const char *label,
                            const struct dataset *ds, double *value, double *spread, int *n,
                            struct campaign_sensitivity *sens, char *err)
{
    if (cc->measure == MEASURE_SENSITIVITY) {
        struct campaign_sensitivity *s = sens ? sens : malloc(sizeof *s);
        if (!s) { snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", label); return -1; }
        int rc = campaign_measure_sensitivity(cc, m, ds, s, err);
        for (int l = 0; rc == 0 && l < s->n_layer; l++) {
            value[l] = s->linear_loss[l] - s->base_loss;
            spread[l] = NAN;
        }
        *n = 1;
        if (!sens) free(s);
        return rc;
    }
    const int L = m->cfg.n_layer;
    int realised = cc->measure == MEASURE_REALISED_ERANK || cc->measure == MEASURE_REALISED_PR;
    int W = realised ? cc->analysis_windows : 1, N = cc->analysis_tokens, rc = 0;
    size_t n_val = ds->n_tokens - ds->n_train;
    if (realised && n_val < (size_t)N) {
        snprintf(err, CASCADE_ERR_MAX, "%s: the validation split has %zu tokens, fewer than search.analysis_tokens = %d",
                 ds->path, n_val, N);
        return -1;
    }
    if (cc->measure == MEASURE_ERANK_MINUS_INIT) rc = model_sd_subtract_init(m, cc->base.seed, err);
    double *x = calloc((size_t)W * L, sizeof *x);   /* (W, L) the value of layer l on window w */
    if (!x) { snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", label); rc = -1; }
    size_t stride = W > 1 ? (n_val - (size_t)N) / (size_t)(W - 1) : 0;
    for (int w = 0; w < W && rc == 0; w++) {
        struct analysis_model am;
        const int32_t *window = realised ? ds->tokens + ds->n_train + (size_t)w * stride : NULL;
        rc = analysis_model_trainer(&am, m, window, realised ? N : 0, label, err);
        if (rc != 0) break;
        for (int l = 0; l < L; l++) x[(size_t)w * L + l] = layer_value(&am.layers[l], cc->measure);
        analysis_model_free(&am);
    }
    for (int l = 0; l < L && rc == 0; l++) {
        double sum = 0.0, ss = 0.0;
        for (int w = 0; w < W; w++) sum += x[(size_t)w * L + l];
        double mean = sum / W;
        for (int w = 0; w < W; w++) ss += (x[(size_t)w * L + l] - mean) * (x[(size_t)w * L + l] - mean);
        value[l] = mean;
        spread[l] = W > 1 ? sqrt(ss / (W - 1)) : NAN;
    }
    *n = W;
    free(x);
    return rc;
}
