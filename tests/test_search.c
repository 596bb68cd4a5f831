/* tests/test_search.c — the search controller's parts: campaign config validation, the
 * candidate rules of SPEC §5 on a hand-made cascade, and the inherit transforms. */
#include "test.h"
#include "search/campaign.h"
#include "search/executor.h"

#include <dirent.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>


static const char *campaign_json =
    "{\"name\": \"t\", \"data\": {\"path\": \"x.txt\"},\n"
    " \"model\": {\"n_layer\": 6, \"n_embd\": 128, \"n_head\": 4, \"seq_len\": 64},\n"
    " \"train\": {\"steps\": 100, \"batch_size\": 4},\n"
    " \"search\": {\"linear_threshold\": 2.5, \"multipliers\": [1, 2], \"head_dim_step\": 4, \"measure\": \"erank\",\n"
    "            \"head_dim_min\": 4, \"runs_dir\": \"/tmp/x\"}}\n";

static int load(struct test_ctx *t_, struct campaign_config *cc, const char *json, char *err)
{
    char path[512];
    test_tmppath(path, sizeof path, "campaign.json");
    if (test_write_text(path, json) != 0) return -1;
    return campaign_config_load(cc, path, err);
}

static const struct run_spec *named(const struct run_spec *v, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0) return &v[i];
    return NULL;
}

TEST(search_propose_follows_the_cascade)
{
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(load(t_, &cc, campaign_json, err) == 0, "%s", err);
    /* three layers at or below 2.5, then rising: K = 3, knee at 4 */
    double erank[6] = { 2.0, 2.2, 2.5, 3.1, 4.0, 9.5 };
    struct run_spec *p;
    int n;
    REQUIRE(campaign_propose(&cc, erank, NULL, &p, &n) == 0);
    /* probe_r2, probe_r3 (replicates: 3 by default), lin1..lin4, std_lin1..4, cut_m1,
     * cut_m2, lin3_cut_m1, lin3_cut_m2; blind controls linlast1..4, uniform_m1,
     * reversed_m1, uniform_m2, reversed_m2 */
    CHECK_MSG(n == 22, "%d proposals", n);
    const struct run_spec *r;
    for (int i = 2; i <= 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "probe_r%d", i);
        REQUIRE((r = named(p, n, name)) != NULL);
        CHECK(strcmp(r->replicate_of, "probe") == 0 && strcmp(r->role, "baseline") == 0);
        CHECK(r->seed == cc.base.seed + (uint64_t)(i - 1) && r->inherit_from == SOURCE_NONE);
        CHECK(r->arch.layers[0].kind == ATTN_SD && !r->arch.layernorm && r->steps == cc.base.steps);
    }
    REQUIRE((r = named(p, n, "lin3")) != NULL);
    CHECK(r->arch.layers[2].kind == ATTN_LINEAR && r->arch.layers[3].kind == ATTN_SD && !r->arch.layernorm);
    /* the embedding multiplier follows LayerNorm: the probe's family without, the control's with */
    CHECK(r->arch.embed_scale == TRAINER_NO_LN_EMBED_SCALE);
    CHECK(strstr(r->reason, "<= 2.50") != NULL);
    REQUIRE((r = named(p, n, "lin4")) != NULL);
    CHECK(strstr(r->reason, "knee") != NULL && strstr(r->reason, "3.10") != NULL);
    CHECK(named(p, n, "lin5") == NULL);
    REQUIRE((r = named(p, n, "std_lin2")) != NULL);
    CHECK(strcmp(r->role, "control") == 0 && r->arch.layernorm == 1 && r->arch.embed_scale == 1.0f);
    CHECK(r->arch.layers[1].kind == ATTN_LINEAR && r->arch.layers[2].kind == ATTN_SOFTMAX);
    /* d_l = clamp(round_up(m erank_l, 4), 4, 32) */
    int want1[6] = { 4, 4, 4, 4, 4, 12 }, want2[6] = { 4, 8, 8, 8, 8, 20 };
    REQUIRE((r = named(p, n, "cut_m1")) != NULL);
    for (int l = 0; l < 6; l++) CHECK_MSG(r->arch.layers[l].qk_dim == want1[l], "m1 layer %d: %d", l, r->arch.layers[l].qk_dim);
    REQUIRE((r = named(p, n, "cut_m2")) != NULL);
    for (int l = 0; l < 6; l++) CHECK_MSG(r->arch.layers[l].qk_dim == want2[l], "m2 layer %d: %d", l, r->arch.layers[l].qk_dim);
    REQUIRE((r = named(p, n, "lin3_cut_m2")) != NULL);
    CHECK(r->arch.layers[0].kind == ATTN_LINEAR && r->arch.layers[0].qk_dim == 32);
    CHECK(r->arch.layers[3].kind == ATTN_SD && r->arch.layers[3].qk_dim == 8 && r->arch.layers[5].qk_dim == 20);
    /* blind controls: equal size (uniform within 2% or the nearest a single dim gives,
     * stated), the reversed order exactly, the last k layers linear */
    for (int m = 1; m <= 2; m++) {
        char name[32];
        snprintf(name, sizeof name, "cut_m%d", m);
        const struct run_spec *cand = named(p, n, name);
        REQUIRE(cand != NULL);
        size_t want = model_config_param_counts(&cand->arch).attention;
        snprintf(name, sizeof name, "uniform_m%d", m);
        REQUIRE((r = named(p, n, name)) != NULL);
        CHECK(strcmp(r->role, "control") == 0 && strcmp(r->control_of, cand->name) == 0);
        size_t got = model_config_param_counts(&r->arch).attention;
        for (int l = 1; l < 6; l++) CHECK(r->arch.layers[l].qk_dim == r->arch.layers[0].qk_dim);
        /* no other uniform dim is nearer */
        for (int d = 1; d <= 32; d++) {
            struct model_config a = r->arch;
            for (int l = 0; l < 6; l++) layer_arch_set_head_dim(&a.layers[l], d);
            size_t other = model_config_param_counts(&a).attention;
            CHECK_MSG(llabs((long long)other - (long long)want) >= llabs((long long)got - (long long)want),
                      "%s: d %d is nearer", name, d);
        }
        double off = 100.0 * fabs((double)got / want - 1.0);
        CHECK_MSG(off <= 2.0 || strstr(r->reason, "the nearest a single dim allows"), "%s: %.1f%%: %s", name, off,
                  r->reason);
        snprintf(name, sizeof name, "reversed_m%d", m);
        REQUIRE((r = named(p, n, name)) != NULL);
        CHECK(strcmp(r->control_of, cand->name) == 0 && strcmp(r->role, "control") == 0);
        for (int l = 0; l < 6; l++) CHECK(r->arch.layers[l].qk_dim == cand->arch.layers[5 - l].qk_dim);
        CHECK(model_config_param_counts(&r->arch).attention == want);
    }
    for (int k = 1; k <= 4; k++) {
        char name[32];
        snprintf(name, sizeof name, "linlast%d", k);
        REQUIRE((r = named(p, n, name)) != NULL);
        CHECK(strcmp(r->role, "control") == 0 && r->control_of[0] == 'l' && atoi(r->control_of + 3) == k);
        for (int l = 0; l < 6; l++) CHECK(r->arch.layers[l].kind == (l >= 6 - k ? ATTN_LINEAR : ATTN_SD));
        CHECK(!r->arch.layernorm);
    }
    CHECK(strcmp(named(p, n, "std_lin2")->control_of, "lin2") == 0);
    free(p);

    /* a flat high cascade: no layer qualifies; only the knee (lin1) and its control,
     * and multipliers so large the dims stay full propose nothing */
    double high[6] = { 40, 40, 40, 40, 40, 40 };
    REQUIRE(campaign_propose(&cc, high, NULL, &p, &n) == 0);
    CHECK_MSG(n == 5 && named(p, n, "lin1") && named(p, n, "std_lin1") && named(p, n, "linlast1"), "%d proposals", n);
    free(p);
    campaign_config_free(&cc);
}

/* Every shipped config loads: campaign configs (they have a "name") as campaigns, the
 * rest as training configs. */
TEST(search_every_shipped_config_loads)
{
    DIR *d = opendir("configs");
    REQUIRE(d != NULL);
    int n = 0;
    char err[CASCADE_ERR_MAX], path[600], *text = NULL;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        snprintf(path, sizeof path, "configs/%s", e->d_name);
        size_t size;
        REQUIRE((text = test_read_file(path, &size)) != NULL);
        if (strstr(text, "\"name\"")) {
            struct campaign_config cc;
            CHECK_MSG(campaign_config_load(&cc, path, err) == 0, "%s", err);
            campaign_config_free(&cc);
        } else {
            struct train_config tc;
            CHECK_MSG(trainer_config_load(&tc, path, err) == 0, "%s", err);
            if (strcmp(e->d_name, "tiny_sd_embed1.json") == 0) CHECK(tc.model.embed_scale == 1.0f && !tc.model.layernorm);
        }
        free(text);
        text = NULL;
        n++;
    }
    closedir(d);
    CHECK_MSG(n >= 8, "%d configs", n);
}

/* search.probe_embed_scale sets the multiplier of the runs without LayerNorm only. */
TEST(search_probe_embed_scale_applies_to_runs_without_layernorm)
{
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX], json[2048];
    const char *at = strstr(campaign_json, "\"runs_dir\"");
    REQUIRE(at != NULL);
    snprintf(json, sizeof json, "%.*s\"probe_embed_scale\": 1, %s", (int)(at - campaign_json), campaign_json, at);
    REQUIRE_MSG(load(t_, &cc, json, err) == 0, "%s", err);
    CHECK(cc.probe_embed_scale == 1.0);
    struct run_spec probe, standard;
    campaign_baselines(&cc, &probe, &standard);
    CHECK(probe.arch.embed_scale == 1.0f && standard.arch.embed_scale == 1.0f);
    campaign_config_free(&cc);
    snprintf(json, sizeof json, "%.*s\"probe_embed_scale\": 12.5, %s", (int)(at - campaign_json), campaign_json, at);
    REQUIRE_MSG(load(t_, &cc, json, err) == 0, "%s", err);
    campaign_baselines(&cc, &probe, &standard);
    CHECK(probe.arch.embed_scale == 12.5f && !probe.arch.layernorm);
    CHECK(standard.arch.embed_scale == 1.0f && standard.arch.layernorm);
    double erank[6] = { 2.0, 2.2, 2.5, 3.1, 4.0, 9.5 };
    struct run_spec *p;
    int n;
    REQUIRE(campaign_propose(&cc, erank, NULL, &p, &n) == 0);
    for (int i = 0; i < n; i++)
        CHECK_MSG(p[i].arch.embed_scale == (p[i].arch.layernorm ? 1.0f : 12.5f), "%s: %g", p[i].name, p[i].arch.embed_scale);
    free(p);
    campaign_config_free(&cc);
}

TEST(search_config_errors_name_the_key)
{
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX];
    struct { const char *from, *to, *want; } cases[] = {
        { "\"head_dim_min\": 4", "\"head_dim_min\": 4, \"bogus\": 1", "search.bogus: unknown key" },
        { "\"seq_len\": 64", "\"seq_len\": 64, \"attention\": \"sd\"", "model.attention" },
        { "\"seq_len\": 64", "\"seq_len\": 64, \"embed_scale\": 8", "model.embed_scale: chosen per run" },
        { "\"runs_dir\"", "\"probe_embed_scale\": 0, \"runs_dir\"", "search.probe_embed_scale" },
        { "\"runs_dir\"", "\"retrain\": \"warm\", \"runs_dir\"", "search.retrain" },
        { "[1, 2]", "[1, -2]", "search.multipliers[1]" },
        { "\"steps\": 100", "\"steps\": 0", "train.steps" },
        { "\"name\": \"t\"", "\"name\": \"a b\"", "name:" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[2048];
        const char *at = strstr(campaign_json, cases[i].from);
        REQUIRE(at != NULL);
        snprintf(json, sizeof json, "%.*s%s%s", (int)(at - campaign_json), campaign_json, cases[i].to,
                 at + strlen(cases[i].from));
        CHECK_MSG(load(t_, &cc, json, err) == -1, "case %zu accepted", i);
        CHECK_MSG(strstr(err, cases[i].want) && strstr(err, "campaign.json"), "case %zu: %s", i, err);
    }
    CHECK(load(t_, &cc, "{\"name\": \"t\",, }", err) == -1);
    CHECK_MSG(strstr(err, "line 1") != NULL, "%s", err);
}

/* A small all-S–D model with randomised weights. */
static int sd_model(struct model *m, int d, char *err)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    struct model_config mc = tc.model;
    mc.n_layer = 2;
    mc.n_embd = 12;
    mc.n_head = 2;
    mc.seq_len = 8;
    mc.layernorm = 0;
    for (int l = 0; l < 2; l++) mc.layers[l] = (struct layer_arch){ ATTN_SD, d, d };
    if (model_init(m, &mc, 5, err) != 0) return -1;
    uint64_t rng = 17;
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = 0.5f * trainer_rng_normal(&rng);
    return 0;
}

static int same_tensor(const struct model *a, const struct model *b, const char *name)
{
    const struct param_tensor *x = model_find_tensor(a, name), *y = model_find_tensor(b, name);
    return x && y && x->numel == y->numel && memcmp(a->params + x->offset, b->params + y->offset,
                                                    sizeof(float) * x->numel) == 0;
}

/* A routing-only cut (qk_dim 6 -> 4, v_dim 6) changes U, S, D exactly as the joint cut
 * does and keeps every value weight; a value-only cut keeps U, S, D and takes each head's
 * leading value columns and the matching rows of W_O. */
TEST(search_inherit_cuts_one_side)
{
    struct model src, joint, routing, values;
    char err[CASCADE_ERR_MAX];
    REQUIRE(sd_model(&src, 6, err) == 0);
    struct model_config a = src.cfg;
    layer_arch_set_head_dim(&a.layers[0], 4);
    REQUIRE_MSG(campaign_inherit(&joint, &a, &src, 1, err) == 0, "%s", err);
    a = src.cfg;
    a.layers[0].qk_dim = 4;
    REQUIRE_MSG(campaign_inherit(&routing, &a, &src, 1, err) == 0, "%s", err);
    a = src.cfg;
    a.layers[0].v_dim = 4;
    REQUIRE_MSG(campaign_inherit(&values, &a, &src, 1, err) == 0, "%s", err);
    const char *routing_side[3] = { "h.0.attn.u", "h.0.attn.s", "h.0.attn.delta" };
    const char *value_side[3] = { "h.0.attn.v.w", "h.0.attn.v.b", "h.0.attn.proj.w" };
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(same_tensor(&routing, &joint, routing_side[i]), "%s: routing-only cut differs from the joint", routing_side[i]);
        CHECK_MSG(same_tensor(&routing, &src, value_side[i]), "%s: a routing-only cut changed the values", value_side[i]);
        CHECK_MSG(same_tensor(&values, &src, routing_side[i]), "%s: a value-only cut changed the routing", routing_side[i]);
        CHECK_MSG(same_tensor(&values, &joint, value_side[i]), "%s: value-only cut differs from the joint", value_side[i]);
    }
    /* the value-only cut's W_V: columns h*6 .. h*6+3 of the source, per head */
    const float *vs = model_param(&src, "h.0.attn.v.w"), *vd = model_param(&values, "h.0.attn.v.w");
    int bad = 0;
    for (int c = 0; c < 12; c++)
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++) bad += vd[c * 8 + h * 4 + j] != vs[c * 12 + h * 6 + j];
    CHECK(bad == 0);
    /* a routing-only cut of S–D, then linearised at the same widths */
    a = routing.cfg;
    a.layers[0].kind = ATTN_LINEAR;
    struct model lin;
    REQUIRE_MSG(campaign_inherit(&lin, &a, &routing, 1, err) == 0, "%s", err);
    const float *qkv = model_param(&lin, "h.0.attn.qkv.w"), *v = model_param(&routing, "h.0.attn.v.w");
    bad = 0;   /* qkv.w (C, 2 H 4 + H 6): W_V at column 16 */
    for (int c = 0; c < 12; c++)
        for (int j = 0; j < 12; j++) bad += qkv[c * 28 + 16 + j] != v[c * 12 + j];
    CHECK(bad == 0);
    /* growing a side is refused, naming both widths */
    a = src.cfg;
    a.layers[1].v_dim = 8;
    struct model refused;
    CHECK(campaign_inherit(&refused, &a, &src, 1, err) == -1);
    CHECK_MSG(strstr(err, "layer 1: sd d=6/6 -> sd d=6/8 (qk/v) is not supported"), "%s", err);
    model_free(&src); model_free(&joint); model_free(&routing); model_free(&values); model_free(&lin);
}


TEST(search_inherit_sd_to_linear_keeps_the_logits)
{
    struct model src, dst;
    char err[CASCADE_ERR_MAX];
    REQUIRE(sd_model(&src, 6, err) == 0);
    struct model_config arch = src.cfg;
    arch.layers[0].kind = ATTN_LINEAR;
    REQUIRE_MSG(campaign_inherit(&dst, &arch, &src, 1, err) == 0, "%s", err);
    int C = 12, H = 2, d = 6, Hd = 12;
    const float *u = model_param(&src, "h.0.attn.u"), *w = model_param(&dst, "h.0.attn.qkv.w");
    /* the MLP and the untouched layer are copied exactly */
    CHECK(memcmp(model_param(&src, "h.1.attn.s"), model_param(&dst, "h.1.attn.s"), sizeof(float) * 2 * 15) == 0);
    CHECK(memcmp(model_param(&src, "h.0.mlp.fc.w"), model_param(&dst, "h.0.mlp.fc.w"), sizeof(float) * C * 4 * C) == 0);
    uint64_t rng = 3;
    float x[2][12];
    for (int k = 0; k < 2; k++) for (int c = 0; c < C; c++) x[k][c] = trainer_rng_normal(&rng);
    for (int h = 0; h < H; h++) {
        float L[36];
        model_sd_matrix(&src, 0, h, L);
        double p[2][6] = { { 0 } }, q[6] = { 0 }, kk[6] = { 0 };
        for (int j = 0; j < d; j++)
            for (int c = 0; c < C; c++) {
                p[0][j] += x[0][c] * u[c * Hd + h * d + j];
                p[1][j] += x[1][c] * u[c * Hd + h * d + j];
                q[j] += x[0][c] * w[c * 3 * Hd + h * d + j];
                kk[j] += x[1][c] * w[c * 3 * Hd + Hd + h * d + j];
            }
        double qk = 0, plp = 0;
        for (int a = 0; a < d; a++) {
            qk += q[a] * kk[a];
            for (int b = 0; b < d; b++) plp += p[0][a] * L[a * d + b] * p[1][b];
        }
        CHECK_NEAR(qk, plp, 1e-4 * (1 + fabs(plp)));
    }
    model_free(&src);
    model_free(&dst);
}

TEST(search_inherit_cut_keeps_the_leading_rotation_planes)
{
    struct model src, dst;
    char err[CASCADE_ERR_MAX];
    const int d = 6, dn = 4;
    REQUIRE(sd_model(&src, d, err) == 0);
    /* S = Q blockdiag(3 J, 0.5 J, 2 J) Q^T for a random orthogonal Q: planes 3, 2, 0.5 */
    double Q[36], A[36], tau[6];
    uint64_t rng = 9;
    for (int i = 0; i < 36; i++) A[i] = trainer_rng_normal(&rng);
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, d, d, A, d, tau);
    memcpy(Q, A, sizeof Q);
    LAPACKE_dorgqr(LAPACK_ROW_MAJOR, d, d, d, Q, d, tau);
    double blk[36] = { 0 }, om[3] = { 3.0, 0.5, 2.0 };
    for (int b = 0; b < 3; b++) { blk[(2 * b) * d + 2 * b + 1] = om[b]; blk[(2 * b + 1) * d + 2 * b] = -om[b]; }
    float *s = model_param(&src, "h.0.attn.s");
    int k = 0;
    for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) {
            double v = 0;
            for (int a = 0; a < d; a++) for (int b = 0; b < d; b++) v += Q[i * d + a] * blk[a * d + b] * Q[j * d + b];
            s[k++] = (float)v;   /* head 0 */
        }
    struct model_config arch = src.cfg;
    layer_arch_set_head_dim(&arch.layers[0], dn);
    REQUIRE_MSG(campaign_inherit(&dst, &arch, &src, 1, err) == 0, "%s", err);
    /* S' has the two leading planes, scaled by sqrt(dn/d): singular values 3,3,2,2 * c */
    float L[16], sv[4], scratch[4];
    REQUIRE(model_sd_matrix(&dst, 0, 0, L) == 0);
    float S[16];
    for (int i = 0; i < 16; i++) S[i] = 0.5f * (L[i] - L[(i % 4) * 4 + i / 4]);
    REQUIRE(LAPACKE_sgesvd(LAPACK_ROW_MAJOR, 'N', 'N', 4, 4, S, 4, sv, NULL, 1, NULL, 1, scratch) == 0);
    double c = sqrt((double)dn / d);
    CHECK_NEAR(sv[0], 3 * c, 1e-4);
    CHECK_NEAR(sv[1], 3 * c, 1e-4);
    CHECK_NEAR(sv[2], 2 * c, 1e-4);
    CHECK_NEAR(sv[3], 2 * c, 1e-4);
    /* the filtering part stays positive: D' = diag(softplus(delta')) > 0 */
    for (int i = 0; i < 4; i++) CHECK(L[i * 4 + i] < 0);
    model_free(&src);
    model_free(&dst);
}

/* An inherited run's schedule: short warmup to train.lr x inherit_lr_frac, cosine down to
 * where the probe's ended (train.lr x min_lr_frac); a fraction at or below that end is a
 * constant lr at the probe's final value. */
TEST(search_continuation_schedule_starts_where_the_probe_ended)
{
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(load(t_, &cc, campaign_json, err) == 0, "%s", err);
    CHECK(cc.inherit_lr_frac == CAMPAIGN_INHERIT_LR_FRAC);
    cc.base.lr = 2e-3;
    cc.base.min_lr_frac = 0.1;
    cc.base.warmup_steps = 100;
    struct train_config tc = cc.base;
    tc.steps = 200;
    cc.inherit_lr_frac = 0.5;
    campaign_continuation_schedule(&cc, &tc);
    CHECK(tc.warmup_steps == 10);
    CHECK_NEAR(trainer_lr_at(&tc, 9), 1e-3, 1e-9);            /* peak after the warmup */
    CHECK_NEAR(trainer_lr_at(&tc, 199), 2e-4, 1e-9);          /* the probe's final lr */
    for (int s = 10; s < 199; s++) CHECK(trainer_lr_at(&tc, s + 1) <= trainer_lr_at(&tc, s));
    CHECK(trainer_lr_at(&tc, 0) < 2e-4);                      /* it never jumps to the old peak */
    tc = cc.base;
    tc.steps = 200;
    cc.inherit_lr_frac = 0.05;   /* below the end: constant at the probe's final lr */
    campaign_continuation_schedule(&cc, &tc);
    CHECK_NEAR(trainer_lr_at(&tc, 50), 2e-4, 1e-9);
    CHECK_NEAR(trainer_lr_at(&tc, 199), 2e-4, 1e-9);
    /* shorter than inherit_short_steps (200): the probe's final lr, constant, no warmup */
    tc = cc.base;
    tc.steps = 50;
    cc.inherit_lr_frac = 0.25;
    campaign_continuation_schedule(&cc, &tc);
    CHECK(tc.warmup_steps == 0);
    for (int s = 0; s < 50; s++) CHECK_NEAR(trainer_lr_at(&tc, s), 2e-4, 1e-9);
    /* the key is read and range-checked like the others */
    campaign_config_free(&cc);
    char bad[4096];
    snprintf(bad, sizeof bad, "%.*s, \"inherit_lr_frac\": 0}}", (int)(strrchr(campaign_json, '}') - campaign_json - 1),
             campaign_json);
    CHECK(load(t_, &cc, bad, err) == -1 && strstr(err, "search.inherit_lr_frac: expected a number in (0, 1], got 0"));
}

/* campaign_json with its "measure": "erank" replaced by `measure` (a JSON value, or "" to
 * leave the key out). */
static void with_measure(char *out, size_t n, const char *measure)
{
    const char *at = strstr(campaign_json, " \"measure\": \"erank\",");
    snprintf(out, n, "%.*s%s%s%s", (int)(at - campaign_json), campaign_json, measure[0] ? " \"measure\": " : "",
             measure, measure[0] ? "," : "");
    size_t k = strlen(out);
    snprintf(out + k, n - k, "%s", at + strlen(" \"measure\": \"erank\","));
}

/* search.measure chooses the layer value the rules read; its name is in every reason. */
TEST(search_measure_is_a_config_choice)
{
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX], text[4096];
    with_measure(text, sizeof text, "\"k90\"");
    REQUIRE_MSG(load(t_, &cc, text, err) == 0, "%s", err);
    CHECK(cc.measure == MEASURE_K90 && strcmp(campaign_measure_name(cc.measure), "k90") == 0);
    double v[6] = { 2.0, 2.0, 9, 9, 9, 9 };
    struct run_spec *p;
    int n;
    REQUIRE(campaign_propose(&cc, v, NULL, &p, &n) == 0);
    const struct run_spec *r = named(p, n, "lin2");
    CHECK(r && strstr(r->reason, "mean routing k90 <= 2.50"));
    free(p);
    campaign_config_free(&cc);
    with_measure(text, sizeof text, "\"rank\"");
    CHECK(load(t_, &cc, text, err) == -1 && strstr(err, "search.measure: expected \"erank\", \"pr\", \"k90\", \"planes\", \"erank_minus_init\", \"realised_erank\", \"realised_pr\" or \"sensitivity\""));
    /* the default is sensitivity (chosen by the evidence campaign) */
    with_measure(text, sizeof text, "");
    REQUIRE_MSG(load(t_, &cc, text, err) == 0, "%s", err);
    CHECK(cc.measure == MEASURE_SENSITIVITY);
    campaign_config_free(&cc);
}

/* A round's proposals from an incumbent and its re-measured values: the reference first,
 * the lowest-ranked S–D layer linear and a blind other one, the layer with the most room
 * cut and a blind other one cut by as many dims; all inherit the incumbent. */
TEST(search_round_proposals_one_layer_at_a_time)
{
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(load(t_, &cc, campaign_json, err) == 0, "%s", err);
    struct run_spec probe, standard;
    campaign_baselines(&cc, &probe, &standard);
    struct model_config arch = probe.arch;
    arch.layers[5].kind = ATTN_LINEAR;               /* an incumbent with one linear layer */
    double v[6] = { 9.0, 3.0, 12.0, 20.0, 7.0, 1.0 };  /* layer 5 is linear: its value is not read */
    struct run_spec *p;
    int n;
    REQUIRE(campaign_propose_round(&cc, 2, "r1_lin5", &arch, v, NULL, NULL, 0, &p, &n) == 0);
    REQUIRE_MSG(n == 7, "%d proposals", n);   /* the reference and its 2 replicates, then 4 */
    /* the round's reference continues the previous one and its Δ is against it; its
     * replicates repeat it with the next seeds */
    CHECK(strcmp(p[0].name, "probe_round2") == 0 && strcmp(p[0].parent, "probe_round1") == 0 &&
          strcmp(p[0].role, "baseline") == 0 && strcmp(p[0].reference, "probe_round1") == 0);
    for (int i = 1; i <= 2; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "probe_round2_r%d", i + 1);
        CHECK(strcmp(p[i].name, nm) == 0 && strcmp(p[i].replicate_of, "probe_round2") == 0 &&
              strcmp(p[i].parent, "probe_round1") == 0 && p[i].seed == cc.base.seed + (uint64_t)i);
    }
    const struct run_spec *r = named(p, n, "r2_lin1");
    REQUIRE(r != NULL);
    CHECK(r->arch.layers[1].kind == ATTN_LINEAR && strcmp(r->parent, "r1_lin5") == 0 &&
          strcmp(r->reference, "probe_round2") == 0 && r->round == 2 && r->steps == cc.inherit_steps);
    /* d_l = clamp(round_up(1 * v_l, 4), 4, 32): room 20 at layer 0, 28 at 1, 16 at 2, 8 at
     * 3, 24 at 4: layer 1 is cut to 4 */
    r = named(p, n, "r2_cut1");
    REQUIRE(r != NULL);
    CHECK(r->arch.layers[1].qk_dim == 4 && r->arch.layers[0].qk_dim == 32 && r->arch.layers[4].qk_dim == 32);
    size_t size = model_config_param_counts(&r->arch).attention;
    int blind = 0;
    for (int i = 0; i < n; i++) {
        if (strncmp(p[i].name, "r2_linblind", 11) == 0) {
            int l = atoi(p[i].name + 11);
            CHECK(l != 1 && l != 5 && p[i].arch.layers[l].kind == ATTN_LINEAR && strcmp(p[i].control_of, "r2_lin1") == 0);
            blind++;
        }
        if (strncmp(p[i].name, "r2_cutblind", 11) == 0) {
            int l = atoi(p[i].name + 11);
            CHECK(l != 1 && l != 5 && p[i].arch.layers[l].qk_dim == 4 && strcmp(p[i].control_of, "r2_cut1") == 0);
            CHECK(model_config_param_counts(&p[i].arch).attention == size);
            blind++;
        }
    }
    CHECK(blind == 2);
    free(p);
    campaign_config_free(&cc);
}

/* search.parallel: 0..1024 (0 auto, the default), one-line errors naming the key. */
TEST(search_parallel_key_is_validated)
{
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(load(t_, &cc, campaign_json, err) == 0, "%s", err);
    CHECK(cc.parallel == 0);
    campaign_config_free(&cc);
    const char *bad[] = { "-1", "1025", "1.5", "\"auto\"", "true", "null" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[2048];
        const char *at = strstr(campaign_json, "\"runs_dir\"");
        REQUIRE(at != NULL);
        snprintf(json, sizeof json, "%.*s\"parallel\": %s, %s", (int)(at - campaign_json), campaign_json, bad[i], at);
        CHECK_MSG(load(t_, &cc, json, err) == -1, "parallel %s accepted", bad[i]);
        CHECK_MSG(strstr(err, "campaign.json: search.parallel: expected an integer in 0..1024") && !strchr(err, '\n'),
                  "parallel %s: %s", bad[i], err);
    }
    char json[2048];
    const char *at = strstr(campaign_json, "\"runs_dir\"");
    snprintf(json, sizeof json, "%.*s\"parallel\": 3, %s", (int)(at - campaign_json), campaign_json, at);
    REQUIRE_MSG(load(t_, &cc, json, err) == 0, "%s", err);
    CHECK(cc.parallel == 3);
    campaign_config_free(&cc);
}

/* The layouts of fixed settings, and auto's choice from given figures (no measurement). */
TEST(search_parallel_layout_and_choice)
{
    struct { int setting, threads, runs, per_run; } cases[] = {
        { 0, 4, 1, 4 }, { 1, 4, 1, 4 }, { 1, 1, 1, 1 }, { 2, 2, 2, 1 }, { 2, 5, 2, 2 }, { 3, 2, 3, 1 },
        { 4, 16, 4, 4 }, { 2, 0, 2, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct run_layout l = parallel_layout(cases[i].setting, cases[i].threads);
        CHECK_MSG(l.runs == cases[i].runs && l.threads_per_run == cases[i].per_run, "parallel %d on %d threads: %d x %d",
                  cases[i].setting, cases[i].threads, l.runs, l.threads_per_run);
    }
    /* figures as auto lists them: one run of T threads first, then T runs of 1 */
    double side_faster[] = { 6100.0, 7900.0 }, alone_faster[] = { 52000.0, 31000.0 }, tie[] = { 5000.0, 5000.0 };
    double one_failed[] = { NAN, 4000.0 }, zero[] = { 0.0, -1.0 }, inf[] = { 3000.0, INFINITY };
    CHECK(parallel_choose(side_faster, 2) == 1);
    CHECK(parallel_choose(alone_faster, 2) == 0);
    CHECK(parallel_choose(tie, 2) == 0);            /* a tie keeps one run at a time */
    CHECK(parallel_choose(one_failed, 2) == 1);
    CHECK(parallel_choose(zero, 2) == -1);
    CHECK(parallel_choose(inf, 2) == 0);
    CHECK(parallel_choose(side_faster, 0) == -1);
    /* fixed settings and auto on 1 thread resolve without measuring */
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(load(t_, &cc, campaign_json, err) == 0, "%s", err);
    struct parallel_choice pc;
    CHECK(parallel_resolve(&cc, 1, &pc, err) == 0 && pc.n_measured == 0 && pc.layout.runs == 1 &&
          pc.layout.threads_per_run == 1);
    cc.parallel = 2;
    CHECK(parallel_resolve(&cc, 4, &pc, err) == 0 && pc.n_measured == 0 && pc.setting == 2 && pc.layout.runs == 2 &&
          pc.layout.threads_per_run == 2);
    campaign_config_free(&cc);
}

/* low{k}: the k lowest-measured layers linear wherever they are; high{k} the opposite; and
 * lowblind{k} k layers from the seed, never low{k}'s own; all of one size; the same seed
 * draws the same blind layers. */
TEST(search_low_k_follows_the_profile_anywhere)
{
    static const char *json =
        "{\"name\": \"lk\", \"data\": {\"path\": \"x.txt\"},\n"
        " \"model\": {\"n_layer\": 5, \"n_embd\": 32, \"n_head\": 2, \"seq_len\": 32},\n"
        " \"search\": {\"linear_threshold\": 0, \"max_prefix\": 1, \"multipliers\": [1], \"replicates\": 1,\n"
        "            \"low_k\": [1, 2]}}\n";
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(load(t_, &cc, json, err) == 0, "%s", err);
    double v[5] = { 9.0, 2.0, 5.0, 3.0, 4.0 };   /* lowest: 1, then 3; highest: 0, then 2 */
    struct run_spec *p, *q;
    int n, nq;
    REQUIRE(campaign_propose(&cc, v, NULL, &p, &n) == 0);
    /* kinds by layer: L linear, S S-D */
    const char *linear[5][2] = { { "low1", "SLSSS" }, { "high1", "LSSSS" }, { "low2", "SLSLS" }, { "high2", "LSLSS" },
                                 { "lin1", "LSSSS" } };   /* high1 is lin1's model: trained as a control all the same */
    for (int i = 0; i < 5; i++) {
        const struct run_spec *r = named(p, n, linear[i][0]);
        REQUIRE_MSG(r, "%s missing", linear[i][0]);
        for (int l = 0; l < 5; l++)
            CHECK_MSG((r->arch.layers[l].kind == ATTN_LINEAR) == (linear[i][1][l] == 'L'), "%s layer %d", r->name, l);
    }
    for (int k = 1; k <= 2; k++) {
        char nm[3][16];
        snprintf(nm[0], 16, "low%d", k);
        snprintf(nm[1], 16, "high%d", k);
        snprintf(nm[2], 16, "lowblind%d", k);
        const struct run_spec *c = named(p, n, nm[0]), *h = named(p, n, nm[1]), *b = named(p, n, nm[2]);
        REQUIRE(c && h && b);
        CHECK(strcmp(c->role, "candidate") == 0 && strcmp(h->role, "control") == 0 && strcmp(b->role, "control") == 0);
        CHECK(strcmp(h->control_of, nm[0]) == 0 && strcmp(b->control_of, nm[0]) == 0);
        size_t size = model_config_param_counts(&c->arch).attention;
        CHECK(model_config_param_counts(&h->arch).attention == size);
        CHECK(model_config_param_counts(&b->arch).attention == size);
        int nb = 0, same = 1;
        for (int l = 0; l < 5; l++) {
            nb += b->arch.layers[l].kind == ATTN_LINEAR;
            same &= b->arch.layers[l].kind == c->arch.layers[l].kind;
        }
        CHECK(nb == k && !same);
    }
    /* the same seed, the same draws; another seed may draw others but still k layers */
    REQUIRE(campaign_propose(&cc, v, NULL, &q, &nq) == 0);
    CHECK(nq == n && memcmp(&named(q, nq, "lowblind2")->arch, &named(p, n, "lowblind2")->arch, sizeof(struct model_config)) == 0);
    free(p);
    free(q);
    campaign_config_free(&cc);
    /* a k that leaves no S-D layer is refused, naming the element */
    const char *bad = "{\"name\": \"lk\", \"data\": {\"path\": \"x.txt\"}, \"model\": {\"n_layer\": 3}, "
                      "\"search\": {\"low_k\": [1, 3]}}";
    CHECK_MSG(load(t_, &cc, bad, err) == -1 && strstr(err, "search.low_k[1]: expected an integer in 1..2"), "%s", err);
}

/* A round never proposes a model trained before: the measured choice gives way to the
 * next (the next-lowest layer; the next best cut). */
TEST(search_round_never_repeats_a_trained_model)
{
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(load(t_, &cc, campaign_json, err) == 0, "%s", err);
    struct run_spec probe, standard;
    campaign_baselines(&cc, &probe, &standard);
    struct model_config arch = probe.arch;
    arch.layers[5].kind = ATTN_LINEAR;
    double v[6] = { 9.0, 3.0, 12.0, 20.0, 7.0, 1.0 };
    struct model_config trained[2] = { arch, arch };
    trained[0].layers[1].kind = ATTN_LINEAR;     /* what r2_lin1 would be */
    layer_arch_set_head_dim(&trained[1].layers[1], 4);   /* what r2_cut1 would be */
    struct run_spec *p;
    int n;
    REQUIRE(campaign_propose_round(&cc, 2, "r1_lin5", &arch, v, NULL, trained, 2, &p, &n) == 0);
    CHECK(!named(p, n, "r2_lin1") && !named(p, n, "r2_cut1"));
    const struct run_spec *lin = named(p, n, "r2_lin4"), *cut = named(p, n, "r2_cut4");
    CHECK_MSG(lin && lin->arch.layers[4].kind == ATTN_LINEAR, "next-lowest layer 4 made linear");
    CHECK_MSG(cut && cut->arch.layers[4].qk_dim == 8, "next most room: layer 4 cut to 8");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) CHECK(memcmp(&p[i].arch, &trained[k], sizeof trained[k]) != 0);
    free(p);
    campaign_config_free(&cc);
}

/* search.strategy random: per_round changes of a drawn layer each (linear, or the head dim
 * halved), all candidates; nothing measured is read (NaN values work the same); the same
 * seed draws the same; another search.seed may draw others. */
TEST(search_random_strategy_draws_from_the_seed)
{
    static const char *json =
        "{\"name\": \"rs\", \"data\": {\"path\": \"x.txt\"},\n"
        " \"model\": {\"n_layer\": 6, \"n_embd\": 128, \"n_head\": 4, \"seq_len\": 64},\n"
        " \"search\": {\"retrain\": \"inherit\", \"budget_ppl_pct\": 5, \"strategy\": \"random\", \"replicates\": 1,\n"
        "            \"per_round\": 4, \"seed\": %d}}\n";
    char text[1024], err[CASCADE_ERR_MAX];
    struct run_spec *p[3];
    int n[3];
    for (int k = 0; k < 3; k++) {
        snprintf(text, sizeof text, json, k == 2 ? 99 : 7);
        struct campaign_config cc;
        REQUIRE_MSG(load(t_, &cc, text, err) == 0, "%s", err);
        CHECK(cc.strategy == STRATEGY_RANDOM && cc.search_seed == (k == 2 ? 99u : 7u));
        struct run_spec probe, standard;
        campaign_baselines(&cc, &probe, &standard);
        double v[6];
        for (int l = 0; l < 6; l++) v[l] = k == 1 ? NAN : 1.0 + l;   /* not read */
        REQUIRE(campaign_propose_round(&cc, 1, "probe", &probe.arch, v, NULL, NULL, 0, &p[k], &n[k]) == 0);
        REQUIRE(n[k] == 5);
        for (int i = 1; i < 5; i++) {
            const struct run_spec *r = &p[k][i];
            int lin = 0, cut = 0;
            for (int l = 0; l < 6; l++) {
                lin += r->arch.layers[l].kind == ATTN_LINEAR;
                cut += r->arch.layers[l].qk_dim == 16;   /* 32 halved */
            }
            CHECK_MSG(strcmp(r->role, "candidate") == 0 && lin + cut == 1 &&
                      (lin ? strstr(r->name, "_rlin") != NULL : strstr(r->name, "_rcut") != NULL), "%s", r->name);
        }
        campaign_config_free(&cc);
    }
    for (int i = 0; i < 5; i++) CHECK(memcmp(&p[0][i].arch, &p[1][i].arch, sizeof p[0][i].arch) == 0);
    int differ = 0;
    for (int i = 0; i < 5; i++) differ += memcmp(&p[0][i].arch, &p[2][i].arch, sizeof p[0][i].arch) != 0;
    CHECK(differ > 0);
    for (int k = 0; k < 3; k++) free(p[k]);
}

/* erank_minus_init cannot be read by the rounds (an incumbent that was cut or inherited
 * has no S_0 of any seed): refused with the reason; a strategy needs the rounds. */
TEST(search_rounds_refuse_erank_minus_init_and_strategy_needs_rounds)
{
    struct campaign_config cc;
    char err[CASCADE_ERR_MAX];
    const char *bad = "{\"name\": \"r\", \"data\": {\"path\": \"x.txt\"}, \"model\": {\"n_layer\": 3}, \"search\": "
                      "{\"retrain\": \"inherit\", \"budget_ppl_pct\": 5, \"measure\": \"erank_minus_init\"}}";
    CHECK_MSG(load(t_, &cc, bad, err) == -1 && strstr(err, "search.measure: \"erank_minus_init\" cannot be read by the "
                                                         "rounds"), "%s", err);
    const char *alone = "{\"name\": \"r\", \"data\": {\"path\": \"x.txt\"}, \"model\": {\"n_layer\": 3}, \"search\": "
                        "{\"strategy\": \"random\"}}";
    CHECK_MSG(load(t_, &cc, alone, err) == -1 && strstr(err, "search.strategy: has no effect without "
                                                           "search.budget_ppl_pct"), "%s", err);
    const char *ok = "{\"name\": \"r\", \"data\": {\"path\": \"x.txt\"}, \"model\": {\"n_layer\": 3}, \"search\": "
                     "{\"retrain\": \"inherit\", \"budget_ppl_pct\": 5, \"strategy\": \"measured\"}}";
    CHECK_MSG(load(t_, &cc, ok, err) == 0 && cc.strategy == STRATEGY_MEASURED, "%s", err);
    campaign_config_free(&cc);
}
