/* tests/test_qkv_split.c — a layer's query/key width (qk_dim: the routing side, U S D of
 * S–D, SPEC §2 with p of size qk_dim) apart from its value width (v_dim: W_V and W_O):
 * the config keys, the JSON and checkpoint round trips, the parameter and FLOP counts by
 * hand, and the routing-only candidates of a campaign
 * (search.qk_cuts) with their controls (the inherit cuts of one side: tests/test_search.c,
 * search_inherit_cuts_one_side). The gradient checks of split layers are in
 * tests/test_trainer.c (model_gradients_mixed_qk_v_split, ops_attention_gradients) and
 * tests/test_attention_kinds.c (attn_linear_gradient). */
#include "test.h"
#include "search/campaign.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int load_text(struct test_ctx *t_, struct train_config *tc, const char *json, char *err)
{
    char path[512];
    test_tmppath(path, sizeof path, "split.json");
    if (test_write_text(path, json) != 0) return -1;
    return trainer_config_load(tc, path, err);
}

TEST(split_config_keys_set_one_side_each)
{
    struct train_config tc;
    char err[CASCADE_ERR_MAX];
    /* head_dim sets both, qk_dim and v_dim one side over it */
    REQUIRE_MSG(load_text(t_, &tc, "{\"model\": {\"n_layer\": 3, \"n_embd\": 64, \"n_head\": 2, \"head_dim\": 16,"
                          " \"qk_dim\": [4, 16, 8], \"attention\": \"sd\"}}", err) == 0, "%s", err);
    int qk[3] = { 4, 16, 8 };
    for (int l = 0; l < 3; l++)
        CHECK_MSG(tc.model.layers[l].qk_dim == qk[l] && tc.model.layers[l].v_dim == 16, "layer %d: %d/%d", l,
                  tc.model.layers[l].qk_dim, tc.model.layers[l].v_dim);
    /* without head_dim: the unset side gets n_embd / n_head */
    REQUIRE_MSG(load_text(t_, &tc, "{\"model\": {\"n_layer\": 2, \"n_embd\": 64, \"n_head\": 2, \"v_dim\": 8}}", err) == 0,
                "%s", err);
    CHECK(tc.model.layers[0].qk_dim == 32 && tc.model.layers[0].v_dim == 8);
    /* both sides given: n_embd need not divide */
    REQUIRE_MSG(load_text(t_, &tc, "{\"model\": {\"n_layer\": 1, \"n_embd\": 30, \"n_head\": 4, \"qk_dim\": 3, "
                          "\"v_dim\": 5}}", err) == 0, "%s", err);
    CHECK(tc.model.layers[0].qk_dim == 3 && tc.model.layers[0].v_dim == 5);
    /* errors name the key and the element */
    CHECK(load_text(t_, &tc, "{\"model\": {\"n_layer\": 2, \"qk_dim\": [4, 0]}}", err) == -1);
    CHECK_MSG(strstr(err, "model.qk_dim[1]: expected an integer in 1..1024, got 0"), "%s", err);
    CHECK(load_text(t_, &tc, "{\"model\": {\"n_layer\": 2, \"v_dim\": [4]}}", err) == -1);
    CHECK_MSG(strstr(err, "model.v_dim: has 1 entry, n_layer is 2"), "%s", err);
    CHECK(load_text(t_, &tc, "{\"model\": {\"v_dim\": \"wide\"}}", err) == -1);
    CHECK_MSG(strstr(err, "model.v_dim: expected an integer in 1..1024 or a list"), "%s", err);
}

/* The model JSON keeps one head_dim list while the widths agree (the form of files made
 * before the split), and writes qk_dim and v_dim lists once they differ; both read back
 * to the same config. */
TEST(split_model_json_round_trip)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    struct model_config mc = tc.model;
    char err[CASCADE_ERR_MAX];
    for (int split = 0; split < 2; split++) {
        if (split) mc.layers[1] = (struct layer_arch){ ATTN_SD, 8, 32 };
        char *json = model_config_to_json(&mc);
        REQUIRE(json != NULL);
        CHECK(!split == (strstr(json, "\"head_dim\"") != NULL));
        CHECK(split == (strstr(json, "\"qk_dim\":[32,8,32,32]") != NULL));
        CHECK(split == (strstr(json, "\"v_dim\":[32,32,32,32]") != NULL));
        struct model_config back;
        CHECK_MSG(model_config_from_json_string(&back, json, "t", err) == 0, "%s", err);
        CHECK(memcmp(&back, &mc, sizeof mc) == 0);
        CHECK(model_config_same(&back, &mc, err, sizeof err) == 1);
        free(json);
    }
    /* a model config that differs in one v_dim is a different model */
    struct model_config other = mc;
    other.layers[1].v_dim = 16;
    CHECK(model_config_same(&other, &mc, err, sizeof err) == 0);
    CHECK_MSG(strstr(err, "layer 1") && strstr(err, "8/32") && strstr(err, "8/16"), "%s", err);
}

/* Attention parameters and training FLOPs of split layers, by hand (SPEC §2, §4). */
TEST(split_counts_by_hand)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    struct model_config mc = tc.model;
    mc.n_layer = 3;
    mc.n_embd = 16;
    mc.n_head = 2;
    mc.layernorm = 0;
    mc.layers[0] = (struct layer_arch){ ATTN_SD, 3, 5 };
    mc.layers[1] = (struct layer_arch){ ATTN_SOFTMAX, 2, 6 };
    mc.layers[2] = (struct layer_arch){ ATTN_LINEAR, 4, 1 };
    const long C = 16, H = 2;
    /* S–D: U (C, H d), s (H, d(d-1)/2), delta (H, d), W_V (C, H dv) + bias, W_O (H dv, C) + bias */
    long sd = C * H * 3 + H * 3 + H * 3 + C * H * 5 + H * 5 + H * 5 * C + C;
    /* softmax, linear: qkv (C, 2 H d + H dv) + bias, W_O (H dv, C) + bias */
    long sm = C * (H * 2 * 2 + H * 6) + (H * 2 * 2 + H * 6) + H * 6 * C + C;
    long lin = C * (H * 4 * 2 + H * 1) + (H * 4 * 2 + H * 1) + H * 1 * C + C;
    struct param_counts pc = model_config_param_counts(&mc);
    CHECK_MSG(pc.attention == (size_t)(sd + sm + lin), "attention %zu, by hand %ld", pc.attention, sd + sm + lin);
    struct model m;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(model_init(&m, &mc, 1, err) == 0, "%s", err);
    CHECK(m.n_params == pc.total);
    const struct param_tensor *t = model_find_tensor(&m, "h.0.attn.v.w");
    CHECK(t && t->shape[0] == C && t->shape[1] == H * 5);
    CHECK((t = model_find_tensor(&m, "h.0.attn.u")) && t->shape[1] == H * 3);
    CHECK((t = model_find_tensor(&m, "h.1.attn.qkv.w")) && t->shape[1] == H * (2 * 2 + 6));
    CHECK((t = model_find_tensor(&m, "h.2.attn.proj.w")) && t->shape[0] == H * 1);
    model_free(&m);
    /* FLOPs: 3 x (2 W + A): W every matmul weight, A the attention products */
    const double T = mc.seq_len, V = mc.vocab_size, ctx = T + 1;
    double W = V * C + (C * H * 3 + C * H * 5 + H * 5 * C) + (C * H * (2 * 2 + 6) + H * 6 * C) +
               (C * H * (2 * 4 + 1) + H * 1 * C) + 3 * 8 * C * C;
    double A = (H * (3 + 5) * ctx + 2 * H * 3 * 3) + H * (2 + 6) * ctx + (4 * H * 4 * 1 + 2 * H * 4);
    CHECK_NEAR(model_config_train_flops_per_token(&mc, 0), 3 * (2 * W + A), 1e-6);
}

/* A split model's checkpoint reads back to the same config and weights, and its forward
 * pass gives the same loss. */
TEST(split_checkpoint_round_trip)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    tc.model.n_layer = 2;
    tc.model.n_embd = 16;
    tc.model.n_head = 2;
    tc.model.seq_len = 8;
    tc.model.layernorm = 0;
    tc.model.embed_scale = 4.0f;
    tc.model.layers[0] = (struct layer_arch){ ATTN_SD, 4, 8 };
    tc.model.layers[1] = (struct layer_arch){ ATTN_LINEAR, 8, 2 };
    struct model m, back;
    char err[CASCADE_ERR_MAX], path[512];
    REQUIRE_MSG(model_init(&m, &tc.model, 3, err) == 0, "%s", err);
    test_tmppath(path, sizeof path, "split.safetensors");
    struct checkpoint_info info = { 0 };
    REQUIRE_MSG(checkpoint_save(path, &m, &tc, &info, err) == 0, "%s", err);
    struct train_config tb;
    REQUIRE_MSG(checkpoint_load(path, &back, &tb, NULL, err) == 0, "%s", err);
    CHECK_MSG(model_config_same(&back.cfg, &m.cfg, err, sizeof err) == 1, "%s", err);
    CHECK_MSG(model_config_same(&tb.model, &tc.model, err, sizeof err) == 1, "%s", err);
    CHECK(back.cfg.layers[0].qk_dim == 4 && back.cfg.layers[0].v_dim == 8 && back.cfg.layers[1].v_dim == 2);
    REQUIRE(back.n_params == m.n_params);
    CHECK(memcmp(back.params, m.params, sizeof(float) * m.n_params) == 0);
    int32_t in[16], tg[16];
    for (int i = 0; i < 16; i++) { in[i] = (i * 7) % 256; tg[i] = (i * 13 + 1) % 256; }
    float la = 0, lb = 1;
    REQUIRE(model_forward(&m, in, tg, 2, 8, &la, err) == 0);
    REQUIRE(model_forward(&back, in, tg, 2, 8, &lb, err) == 0);
    CHECK(la == lb && isfinite(la));
    model_free(&m);
    model_free(&back);
}

static const struct run_spec *named(const struct run_spec *v, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0) return &v[i];
    return NULL;
}

/* search.qk_cuts: each head-dim candidate and opposite gets a routing-only twin NAME_qk
 * (its dims as query/key widths, every value width the probe's), with blind controls of
 * the same kind: uniform_..._qk (one query/key width, the size nearest) and
 * reversed_..._qk (the same widths reversed, the same size exactly). */
TEST(split_campaign_routing_only_candidates_and_controls)
{
    char path[512], err[CASCADE_ERR_MAX];
    test_tmppath(path, sizeof path, "qk.json");
    REQUIRE(test_write_text(path,
        "{\"name\": \"t\", \"data\": {\"path\": \"x.txt\"},\n"
        " \"model\": {\"n_layer\": 6, \"n_embd\": 128, \"n_head\": 4, \"seq_len\": 64},\n"
        " \"train\": {\"steps\": 100, \"batch_size\": 4},\n"
        " \"search\": {\"multipliers\": [1], \"measure\": \"erank\", \"max_prefix\": 0, \"combine\": false,\n"
        "            \"control\": false, \"fractions\": [0.5], \"qk_cuts\": true, \"retrain\": \"inherit\",\n"
        "            \"candidate_replicates\": 2, \"runs_dir\": \"/tmp/x\"}}\n") == 0);
    struct campaign_config cc;
    REQUIRE_MSG(campaign_config_load(&cc, path, err) == 0, "%s", err);
    CHECK(cc.qk_cuts == 1);
    double erank[6] = { 2.0, 2.2, 9.5, 3.1, 4.0, 6.5 };
    struct run_spec *p;
    int n;
    REQUIRE(campaign_propose(&cc, erank, NULL, &p, &n) == 0);
    const char *pairs[3][2] = { { "cut_m1", "cut_m1_qk" }, { "cut_f0.5", "cut_f0.5_qk" }, { "inverse_f0.5", "inverse_f0.5_qk" } };
    for (int i = 0; i < 3; i++) {
        const struct run_spec *j = named(p, n, pairs[i][0]), *q = named(p, n, pairs[i][1]);
        REQUIRE_MSG(j && q, "%s and %s proposed", pairs[i][0], pairs[i][1]);
        CHECK(strcmp(j->role, q->role) == 0 && j->inherit_from == q->inherit_from && j->steps == q->steps);
        for (int l = 0; l < 6; l++)
            CHECK_MSG(q->arch.layers[l].qk_dim == j->arch.layers[l].qk_dim && q->arch.layers[l].v_dim == 32,
                      "%s layer %d: %d/%d", q->name, l, q->arch.layers[l].qk_dim, q->arch.layers[l].v_dim);
        CHECK(strstr(q->reason, "routing side only") != NULL);
    }
    CHECK(strcmp(named(p, n, "inverse_f0.5_qk")->control_of, "cut_f0.5_qk") == 0);
    const char *cands[2] = { "cut_m1_qk", "cut_f0.5_qk" }, *suffix[2] = { "m1_qk", "f0.5_qk" };
    for (int i = 0; i < 2; i++) {
        const struct run_spec *cand = named(p, n, cands[i]), *u, *r;
        char name[64];
        snprintf(name, sizeof name, "uniform_%s", suffix[i]);
        REQUIRE_MSG((u = named(p, n, name)) != NULL, "%s proposed", name);
        snprintf(name, sizeof name, "reversed_%s", suffix[i]);
        REQUIRE_MSG((r = named(p, n, name)) != NULL, "%s proposed", name);
        CHECK(strcmp(u->control_of, cand->name) == 0 && strcmp(r->control_of, cand->name) == 0);
        size_t want = model_config_param_counts(&cand->arch).attention;
        CHECK(model_config_param_counts(&r->arch).attention == want);
        for (int l = 0; l < 6; l++) {
            CHECK(u->arch.layers[l].v_dim == 32 && r->arch.layers[l].v_dim == 32);
            CHECK(u->arch.layers[l].qk_dim == u->arch.layers[0].qk_dim);
            CHECK(r->arch.layers[l].qk_dim == cand->arch.layers[5 - l].qk_dim);
        }
        /* no other uniform query/key width is nearer the candidate's size */
        size_t got = model_config_param_counts(&u->arch).attention;
        for (int d = 1; d <= 32; d++) {
            struct model_config a = u->arch;
            for (int l = 0; l < 6; l++) a.layers[l].qk_dim = d;
            size_t other = model_config_param_counts(&a).attention;
            CHECK(llabs((long long)other - (long long)want) >= llabs((long long)got - (long long)want));
        }
    }
    /* paired seeds of the twins, paired with their controls' */
    const struct run_spec *s2 = named(p, n, "inverse_f0.5_qk_s2");
    CHECK(s2 && strcmp(s2->control_of, "cut_f0.5_qk_s2") == 0 && named(p, n, "uniform_m1_qk_s2") != NULL);
    free(p);
    /* a key with nothing to act on is refused, naming it */
    test_tmppath(path, sizeof path, "qk-bad.json");
    REQUIRE(test_write_text(path,
        "{\"name\": \"t\", \"data\": {\"path\": \"x.txt\"},\n"
        " \"model\": {\"n_layer\": 6, \"n_embd\": 128, \"n_head\": 4, \"seq_len\": 64},\n"
        " \"search\": {\"multipliers\": [1], \"qk_cuts\": true, \"runs_dir\": \"/tmp/x\"}}\n") == 0);
    struct campaign_config bad;
    CHECK(campaign_config_load(&bad, path, err) == -1);   /* sensitivity (the default) proposes no cut_m */
    CHECK_MSG(strstr(err, "qk-bad.json: search.qk_cuts: has no effect"), "%s", err);
    /* off by default: no twins */
    cc.qk_cuts = 0;
    REQUIRE(campaign_propose(&cc, erank, NULL, &p, &n) == 0);
    for (int i = 0; i < n; i++) CHECK_MSG(!strstr(p[i].name, "_qk"), "%s", p[i].name);
    free(p);
    campaign_config_free(&cc);
}
