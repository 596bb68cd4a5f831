/* tests/test_measure.c — the per-layer value the proposal rules read
 * (campaign_measure_layers, search/measure.c): weight level and realised over windows. */
#include "test.h"
#include "analysis/analysis.h"
#include "search/campaign.h"

#include <stdlib.h>
#include <string.h>

/* A 3-layer S–D model checkpoint and a byte corpus of 3000 tokens (val 0.2: 600). */
static int measure_setup(struct test_ctx *t_, struct campaign_config *cc, char *ckpt, size_t n, struct dataset *ds)
{
    char corpus[512], err[CASCADE_ERR_MAX];
    test_tmppath(corpus, sizeof corpus, "measure_corpus.txt");
    char text[3001];
    uint64_t rng = 7;
    for (int i = 0; i < 3000; i++) text[i] = (char)('a' + trainer_rng_next(&rng) % 20);
    text[3000] = 0;
    if (test_write_text(corpus, text) != 0) return -1;
    if (data_load(ds, corpus, 256, 0.2, err) != 0) { CHECK_MSG(0, "%s", err); return -1; }
    memset(cc, 0, sizeof *cc);
    trainer_config_defaults(&cc->base);
    const char *mj = "{\"vocab_size\": 256, \"seq_len\": 32, \"n_layer\": 3, \"n_head\": 2, \"n_embd\": 16, "
                     "\"attention\": \"sd\", \"layernorm\": false}";
    if (model_config_from_json_string(&cc->base.model, mj, "test", err) != 0) { CHECK_MSG(0, "%s", err); return -1; }
    cc->analysis_tokens = 24;
    struct model m;
    if (model_init(&m, &cc->base.model, 5, err) != 0) { CHECK_MSG(0, "%s", err); return -1; }
    test_tmppath(ckpt, n, "measure.safetensors");
    int rc = checkpoint_save(ckpt, &m, NULL, NULL, err);
    CHECK_MSG(rc == 0, "%s", err);
    model_free(&m);
    return rc;
}

/* realised: the mean and sample sd over windows evenly spread over the validation split
 * (first at its start, last ending at its end), each window analysed as analysis_model_trainer
 * does; weight level: one value, no spread. */
TEST(measure_realised_is_the_mean_over_windows)
{
    struct campaign_config cc;
    struct dataset ds;
    char ckpt[512], err[CASCADE_ERR_MAX];
    REQUIRE(measure_setup(t_, &cc, ckpt, sizeof ckpt, &ds) == 0);
    struct model m;
    REQUIRE_MSG(checkpoint_load(ckpt, &m, NULL, NULL, err) == 0, "%s", err);
    const int W = 3, N = 24, L = 3;
    size_t n_val = ds.n_tokens - ds.n_train, stride = (n_val - N) / (W - 1);
    double x[3][3];
    for (int w = 0; w < W; w++) {
        struct analysis_model am;
        REQUIRE_MSG(analysis_model_trainer(&am, &m, ds.tokens + ds.n_train + w * stride, N, "t", err) == 0, "%s", err);
        for (int l = 0; l < L; l++) x[w][l] = am.layers[l].realised_mean.routing_pr;
        analysis_model_free(&am);
    }
    CHECK(ds.n_train + (W - 1) * stride + N <= ds.n_tokens && ds.n_train + (W - 1) * stride + N > ds.n_tokens - W);
    cc.measure = MEASURE_REALISED_PR;
    cc.analysis_windows = W;
    double value[3], spread[3];
    int n = 0;
    REQUIRE_MSG(campaign_measure_layers(&cc, ckpt, &ds, value, spread, &n, err) == 0, "%s", err);
    CHECK(n == W);
    for (int l = 0; l < L; l++) {
        double mean = (x[0][l] + x[1][l] + x[2][l]) / 3.0, ss = 0.0;
        for (int w = 0; w < W; w++) ss += (x[w][l] - mean) * (x[w][l] - mean);
        CHECK_NEAR(value[l], mean, 1e-12);
        CHECK_NEAR(spread[l], sqrt(ss / 2.0), 1e-12);
        CHECK(spread[l] > 0);   /* different text, different routing */
    }
    /* one window: the first, no spread */
    cc.analysis_windows = 1;
    REQUIRE_MSG(campaign_measure_layers(&cc, ckpt, &ds, value, spread, &n, err) == 0, "%s", err);
    CHECK(n == 1 && isnan(spread[0]));
    CHECK_NEAR(value[1], x[0][1], 1e-12);
    /* weight level: the analysis of the weights alone */
    struct analysis_model am;
    REQUIRE_MSG(analysis_model_trainer(&am, &m, NULL, 0, "t", err) == 0, "%s", err);
    cc.measure = MEASURE_ERANK;
    cc.analysis_windows = 8;
    REQUIRE_MSG(campaign_measure_layers(&cc, ckpt, &ds, value, spread, &n, err) == 0, "%s", err);
    CHECK(n == 1 && isnan(spread[2]));
    CHECK_NEAR(value[2], am.layers[2].mean.routing_erank, 1e-12);
    analysis_model_free(&am);
    /* a validation split shorter than a window is refused, naming the key */
    cc.measure = MEASURE_REALISED_ERANK;
    cc.analysis_tokens = (int)n_val + 1;
    CHECK(campaign_measure_layers(&cc, ckpt, &ds, value, spread, &n, err) == -1 &&
          strstr(err, "search.analysis_tokens"));
    model_free(&m);
    data_free(&ds);
}
