/* tests/test_attention_model.c — the three attention kinds inside the model (issue 3):
 * causality of the whole model, the stability of trained S–D heads (every eigenvalue of
 * L = S - D has Re <= 0, computed with LAPACKE sgeev), and the exact routing/filtering
 * split of S–D logits on a real batch (skew part = P S P^T / sqrt(d)). */
#include "test.h"
#include "trainer/trainer.h"

#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

static void small_model(struct model_config *mc, enum attn_kind k0, enum attn_kind k1, enum attn_kind k2, int ln)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    *mc = tc.model;
    mc->vocab_size = 256;
    mc->seq_len = 12;
    mc->n_layer = 3;
    mc->n_head = 2;
    mc->n_embd = 16;
    mc->layernorm = ln;
    mc->layers[0] = (struct layer_arch){ k0, 8, 8 };
    mc->layers[1] = (struct layer_arch){ k1, 5, 5 };
    mc->layers[2] = (struct layer_arch){ k2, 8, 8 };
}

TEST(model_causal_for_every_kind)
{
    enum attn_kind kinds[3] = { ATTN_SOFTMAX, ATTN_SD, ATTN_LINEAR };
    for (int k = 0; k < 3; k++) {
        struct model_config mc;
        small_model(&mc, kinds[k], kinds[(k + 1) % 3], kinds[k], k != 1);
        struct model m;
        char err[CASCADE_ERR_MAX];
        REQUIRE_MSG(model_init(&m, &mc, 11, err) == 0, "%s", err);
        uint64_t rng = 3;
        for (size_t i = 0; i < m.n_params; i++) m.params[i] += 0.1f * trainer_rng_normal(&rng);
        int T = 12, V = 256, t = 7;
        int32_t in[12];
        for (int i = 0; i < T; i++) in[i] = 'a' + i;
        REQUIRE_MSG(model_forward(&m, in, NULL, 1, T, NULL, err) == 0, "%s", err);
        float *before = malloc(sizeof(float) * T * V);
        memcpy(before, model_logits(&m), sizeof(float) * T * V);
        in[t] = 'z';
        REQUIRE_MSG(model_forward(&m, in, NULL, 1, T, NULL, err) == 0, "%s", err);
        const float *after = model_logits(&m);
        CHECK_MSG(memcmp(before, after, sizeof(float) * t * V) == 0, "kind %d: outputs before t changed", k);
        CHECK_MSG(memcmp(before + t * V, after + t * V, sizeof(float) * V) != 0, "kind %d: output at t unchanged", k);
        free(before);
        model_free(&m);
    }
}

/* A short real training run of an all-S–D model without LayerNorm on a text stream. */
static int train_sd(struct model *m, int steps, char *err)
{
    struct dataset ds;
    memset(&ds, 0, sizeof ds);
    const char *text = "routing moves information between positions; filtering scales relevance. ";
    size_t tl = strlen(text), n = 6000;
    ds.tokens = malloc(sizeof(int32_t) * n);
    for (size_t i = 0; i < n; i++) ds.tokens[i] = (unsigned char)text[(i * 7 + i / tl) % tl];
    ds.n_tokens = n;
    ds.n_train = n - 1000;
    ds.vocab_size = 256;
    ds.is_bytes = 1;
    struct train_config tc;
    trainer_config_defaults(&tc);
    small_model(&tc.model, ATTN_SD, ATTN_SD, ATTN_SD, 0);
    tc.batch_size = 4;
    tc.steps = steps;
    tc.lr = 1e-2;
    tc.warmup_steps = 5;
    tc.eval_every = 0;
    tc.eval_batches = 2;
    struct train_result r;
    int rc = trainer_train(&tc, NULL, m, &ds, NULL, NULL, &r, err);
    free(ds.tokens);
    return rc == 0 && !r.diverged && r.val.loss < 5.0 ? 0 : -1;
}

TEST(sd_trained_heads_are_stable)
{
    struct model m;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(train_sd(&m, 40, err) == 0, "training failed: %s", err);
    int checked = 0;
    double worst = -1e30;
    for (int l = 0; l < m.cfg.n_layer; l++) {
        int d = m.cfg.layers[l].qk_dim;
        for (int h = 0; h < m.cfg.n_head; h++) {
            float *L = malloc(sizeof(float) * d * d), *wr = malloc(sizeof(float) * d), *wi = malloc(sizeof(float) * d);
            REQUIRE(model_sd_matrix(&m, l, h, L) == 0);
            lapack_int info = LAPACKE_sgeev(LAPACK_ROW_MAJOR, 'N', 'N', d, L, d, wr, wi, NULL, 1, NULL, 1);
            CHECK(info == 0);
            for (int i = 0; i < d; i++) {
                if (wr[i] > worst) worst = wr[i];
                CHECK_MSG(wr[i] <= 1e-6f, "layer %d head %d: eigenvalue %g%+gi has Re > 0", l, h, wr[i], wi[i]);
            }
            checked++;
            free(L); free(wr); free(wi);
        }
    }
    CHECK(checked == 6);
    CHECK(worst < 0);   /* D > 0 makes every real part strictly negative */
    model_free(&m);
}

TEST(sd_realised_skew_part_is_p_s_pt)
{
    struct model m;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(train_sd(&m, 20, err) == 0, "training failed: %s", err);
    int T = 12, C = m.cfg.n_embd, d = m.cfg.layers[0].qk_dim, H = m.cfg.n_head;
    int32_t in[12];
    for (int i = 0; i < T; i++) in[i] = "the S-D logit"[i];
    REQUIRE_MSG(model_forward(&m, in, NULL, 1, T, NULL, err) == 0, "%s", err);
    const float *wte = model_param(&m, "wte"), *wpe = model_param(&m, "wpe"), *u = model_param(&m, "h.0.attn.u");
    for (int h = 0; h < H; h++) {
        /* layer 0 without LayerNorm sees x_t = wte[token] + wpe[t]; p_t = U_h^T x_t */
        double *P = calloc((size_t)T * d, sizeof(double));
        for (int t = 0; t < T; t++)
            for (int j = 0; j < d; j++)
                for (int c = 0; c < C; c++)
                    P[t * d + j] += ((double)wte[in[t] * C + c] + wpe[t * C + c]) * u[c * H * d + h * d + j];
        float *L = malloc(sizeof(float) * d * d), *lam = malloc(sizeof(float) * T * T);
        REQUIRE(model_sd_matrix(&m, 0, h, L) == 0);
        REQUIRE(model_attention_logits(&m, 0, h, 0, lam) == 0);
        double maxerr = 0, scale = 0;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                double pspt = 0, pdpt = 0;    /* p_i^T S p_j and p_i^T D p_j */
                for (int a = 0; a < d; a++) {
                    pdpt -= P[i * d + a] * L[a * d + a] * P[j * d + a];
                    for (int b = 0; b < d; b++)
                        if (a != b) pspt += P[i * d + a] * L[a * d + b] * P[j * d + b];
                }
                double skew = 0.5 * ((double)lam[i * T + j] - lam[j * T + i]);
                double sym = 0.5 * ((double)lam[i * T + j] + lam[j * T + i]);
                maxerr = fmax(maxerr, fabs(skew - pspt / sqrt(d)));
                maxerr = fmax(maxerr, fabs(sym + pdpt / sqrt(d)));
                scale = fmax(scale, fabs(lam[i * T + j]));
            }
        CHECK_MSG(maxerr <= 1e-5 * (1 + scale), "head %d: |skew - P S P^T| = %g (scale %g)", h, maxerr, scale);
        free(P); free(L); free(lam);
    }
    model_free(&m);
}
