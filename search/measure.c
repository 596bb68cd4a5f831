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
 */
#include "search/campaign.h"

#include "analysis/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
    case MEASURE_ERANK_MINUS_INIT: break;
    }
    return L->mean.routing_erank;
}

int campaign_measure_layers(const struct campaign_config *cc, const char *ckpt, const struct dataset *ds,
                            double *value, double *spread, int *n, char *err)
{
    struct model m;
    if (checkpoint_load(ckpt, &m, NULL, NULL, err) != 0) return -1;
    const int L = m.cfg.n_layer;
    int realised = cc->measure == MEASURE_REALISED_ERANK || cc->measure == MEASURE_REALISED_PR;
    int W = realised ? cc->analysis_windows : 1, N = cc->analysis_tokens, rc = 0;
    size_t n_val = ds->n_tokens - ds->n_train;
    if (realised && n_val < (size_t)N) {
        snprintf(err, CASCADE_ERR_MAX, "%s: the validation split has %zu tokens, fewer than search.analysis_tokens = %d",
                 ds->path, n_val, N);
        model_free(&m);
        return -1;
    }
    if (cc->measure == MEASURE_ERANK_MINUS_INIT) rc = model_sd_subtract_init(&m, cc->base.seed, err);
    double *x = calloc((size_t)W * L, sizeof *x);   /* (W, L) the value of layer l on window w */
    if (!x) { snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", ckpt); rc = -1; }
    size_t stride = W > 1 ? (n_val - (size_t)N) / (size_t)(W - 1) : 0;
    for (int w = 0; w < W && rc == 0; w++) {
        struct analysis_model am;
        const int32_t *window = realised ? ds->tokens + ds->n_train + (size_t)w * stride : NULL;
        rc = analysis_model_trainer(&am, &m, window, realised ? N : 0, ckpt, err);
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
    model_free(&m);
    return rc;
}
