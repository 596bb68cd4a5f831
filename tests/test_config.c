/* tests/test_config.c — the training config: defaults, the shipped configs, the compact
 * per-layer forms, one test per error class (the message must name the file and the exact
 * key path), the model JSON round trip, and parameter/FLOP counts checked by hand. */
#include "test.h"
#include "trainer/trainer.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Writes text to NAME in the test directory; the path goes to path (512 bytes). */
static int write_tmp(const char *name, const char *text, char *path)
{
    test_tmppath(path, 512, name);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

/* Loads `text` as a config file and expects an error line that contains
 * "<file>: <want>", i.e. the file name immediately followed by the key path. The config
 * must be left untouched. */
static void expect_load_error(struct test_ctx *t_, const char *text, const char *want)
{
    char path[512], err[CASCADE_ERR_MAX], expect[1024];
    REQUIRE(write_tmp("bad.json", text, path) == 0);
    struct train_config cfg;
    trainer_config_defaults(&cfg);
    cfg.steps = 4242;
    err[0] = '\0';
    int rc = trainer_config_load(&cfg, path, err);
    CHECK_MSG(rc == -1, "loaded without error: %s", text);
    snprintf(expect, sizeof expect, "%s: %s", path, want);
    CHECK_MSG(strstr(err, expect) != NULL, "error \"%s\" lacks \"%s\"", err, expect);
    CHECK_MSG(strchr(err, '\n') == NULL, "error is not one line: \"%s\"", err);
    CHECK(cfg.steps == 4242);
}

/* Loads `text` as a config file and expects success. */
static int load_text(const char *text, struct train_config *cfg, char *err)
{
    char path[512];
    if (write_tmp("good.json", text, path)) return -1;
    return trainer_config_load(cfg, path, err);
}

static void expect_layers(struct test_ctx *t_, const struct model_config *mc,
                          const enum attn_kind *kinds, const int *dims, int n)
{
    REQUIRE(mc->n_layer == n);
    for (int l = 0; l < n; l++) {
        CHECK_MSG(mc->layers[l].kind == kinds[l], "layer %d kind %s, want %s", l,
                  attn_kind_name(mc->layers[l].kind), attn_kind_name(kinds[l]));
        CHECK_MSG(mc->layers[l].qk_dim == dims[l] && mc->layers[l].v_dim == dims[l],
                  "layer %d qk_dim %d v_dim %d, want %d", l, mc->layers[l].qk_dim, mc->layers[l].v_dim, dims[l]);
    }
    for (int l = n; l < TRAINER_MAX_LAYERS; l++)
        CHECK(mc->layers[l].kind == 0 && mc->layers[l].qk_dim == 0 && mc->layers[l].v_dim == 0);
}

TEST(config_attn_kind_names_round_trip)
{
    const char *names[] = { "softmax", "sd", "linear" };
    for (int k = 0; k < 3; k++) {
        enum attn_kind got;
        CHECK(strcmp(attn_kind_name((enum attn_kind)k), names[k]) == 0);
        CHECK(attn_kind_parse(names[k], &got) == 0 && (int)got == k);
    }
    enum attn_kind got;
    CHECK(attn_kind_parse("SD", &got) == -1);
    CHECK(attn_kind_parse("", &got) == -1);
    CHECK(attn_kind_parse(NULL, &got) == -1);
}

TEST(config_defaults_are_valid)
{
    struct train_config cfg;
    char err[CASCADE_ERR_MAX] = "";
    trainer_config_defaults(&cfg);
    CHECK_MSG(trainer_config_validate(&cfg, "defaults", err) == 0, "%s", err);
    const enum attn_kind k[4] = { ATTN_SOFTMAX, ATTN_SOFTMAX, ATTN_SOFTMAX, ATTN_SOFTMAX };
    const int d[4] = { 32, 32, 32, 32 };
    expect_layers(t_, &cfg.model, k, d, 4);
    CHECK(cfg.model.vocab_size == 256 && cfg.model.n_embd == 128 && cfg.model.n_head == 4);
    CHECK(cfg.model.seq_len == 128 && cfg.model.layernorm == 1 && cfg.model.residual_scale_init == 1);
    CHECK(strcmp(cfg.data_path, "data/brown.txt") == 0);
    CHECK(cfg.batch_size == 16 && cfg.steps == 2000 && cfg.seed == 1337);
}

/* Every value of configs/tiny.json (the defaults) and the shapes of small.json. */
static void check_shipped(struct test_ctx *t_, const struct train_config *c, int L, int C, int T,
                          int B, int d, const char *out)
{
    const struct model_config *m = &c->model;
    CHECK(m->vocab_size == 256 && m->n_layer == L && m->n_embd == C && m->n_head == 4);
    CHECK(m->seq_len == T && m->layernorm == 1 && m->residual_scale_init == 1);
    for (int l = 0; l < L; l++) CHECK(m->layers[l].kind == ATTN_SOFTMAX && m->layers[l].qk_dim == d);
    CHECK(strcmp(c->data_path, "data/brown.txt") == 0);
    CHECK(c->val_fraction == 0.05);
    CHECK(c->batch_size == B && c->steps == 2000);
    CHECK(c->lr == 2e-3 && c->warmup_steps == 100 && c->min_lr_frac == 0.1);
    CHECK(c->weight_decay == 0.0 && c->beta1 == 0.9 && c->beta2 == 0.95 && c->adam_eps == 1e-8);
    CHECK(c->grad_clip == 1.0 && c->seed == 1337);
    CHECK(c->eval_every == 250 && c->eval_batches == 16 && c->log_every == 50);
    CHECK(c->checkpoint_every == 500 && c->threads == 0);
    CHECK(strcmp(c->out_path, out) == 0);
}

TEST(config_tiny_json_loads)
{
    struct train_config cfg, def;
    char err[CASCADE_ERR_MAX] = "";
    REQUIRE_MSG(trainer_config_load(&cfg, "configs/tiny.json", err) == 0, "%s", err);
    check_shipped(t_, &cfg, 4, 128, 128, 16, 32, "runs/tiny.safetensors");
    /* tiny.json spells out the defaults. */
    trainer_config_defaults(&def);
    CHECK(memcmp(&cfg.model, &def.model, sizeof def.model) == 0);
}

TEST(config_small_json_loads)
{
    struct train_config cfg;
    char err[CASCADE_ERR_MAX] = "";
    REQUIRE_MSG(trainer_config_load(&cfg, "configs/small.json", err) == 0, "%s", err);
    check_shipped(t_, &cfg, 6, 256, 256, 8, 64, "runs/small.safetensors");
}

TEST(config_empty_object_gives_defaults)
{
    struct train_config cfg, def;
    char err[CASCADE_ERR_MAX] = "";
    REQUIRE_MSG(load_text("{}", &cfg, err) == 0, "%s", err);
    trainer_config_defaults(&def);
    CHECK(memcmp(&cfg.model, &def.model, sizeof def.model) == 0);
    CHECK(strcmp(cfg.out_path, def.out_path) == 0 && cfg.steps == def.steps);
    /* Empty sections too; and a changed shape re-derives the default head dim. */
    REQUIRE_MSG(load_text("{\"data\":{}, \"model\":{\"n_embd\":96, \"n_layer\":2}, \"train\":{}}",
                          &cfg, err) == 0, "%s", err);
    const enum attn_kind k[2] = { ATTN_SOFTMAX, ATTN_SOFTMAX };
    const int d[2] = { 24, 24 };
    expect_layers(t_, &cfg.model, k, d, 2);
}

/* [ours] embed_scale: 1 with LayerNorm, TRAINER_NO_LN_EMBED_SCALE without, unless set;
 * a checkpoint's model JSON without the key (files from before it existed) means 1. */
TEST(config_embed_scale_defaults_and_legacy_checkpoints)
{
    struct train_config cfg;
    struct model_config mc;
    char err[CASCADE_ERR_MAX] = "";
    REQUIRE_MSG(load_text("{}", &cfg, err) == 0, "%s", err);
    CHECK(cfg.model.embed_scale == 1.0f);
    REQUIRE_MSG(load_text("{\"model\":{\"layernorm\":false}}", &cfg, err) == 0, "%s", err);
    CHECK(cfg.model.embed_scale == TRAINER_NO_LN_EMBED_SCALE && TRAINER_NO_LN_EMBED_SCALE != 1.0f);
    CHECK(model_default_embed_scale(0) == TRAINER_NO_LN_EMBED_SCALE && model_default_embed_scale(1) == 1.0f);
    REQUIRE_MSG(load_text("{\"model\":{\"layernorm\":false, \"embed_scale\": 0.5}}", &cfg, err) == 0, "%s", err);
    CHECK(cfg.model.embed_scale == 0.5f);
    REQUIRE_MSG(load_text("{\"model\":{\"embed_scale\": 7}}", &cfg, err) == 0, "%s", err);
    CHECK(cfg.model.embed_scale == 7.0f && cfg.model.layernorm == 1);
    /* configs/tiny_sd.json has no LayerNorm and leaves the scale to the default */
    REQUIRE_MSG(trainer_config_load(&cfg, "configs/tiny_sd.json", err) == 0, "%s", err);
    CHECK(cfg.model.layernorm == 0 && cfg.model.embed_scale == TRAINER_NO_LN_EMBED_SCALE);
    /* the checkpoint reader: absent means 1 whatever the norm; present is read */
    REQUIRE_MSG(model_config_from_json_string(&mc, "{\"layernorm\": false}", "old.safetensors", err) == 0, "%s", err);
    CHECK(mc.embed_scale == 1.0f);
    REQUIRE_MSG(model_config_from_json_string(&mc, "{\"layernorm\": false, \"embed_scale\": 32}", "new.safetensors", err) == 0, "%s", err);
    CHECK(mc.embed_scale == 32.0f);
    /* out of range and wrong type name the key */
    CHECK(load_text("{\"model\":{\"embed_scale\": 0}}", &cfg, err) == -1);
    CHECK_MSG(strstr(err, "model.embed_scale: expected a number in (0, ") != NULL, "%s", err);
    CHECK(load_text("{\"model\":{\"embed_scale\": \"big\"}}", &cfg, err) == -1);
    CHECK_MSG(strstr(err, "model.embed_scale: expected a number") != NULL, "%s", err);
    CHECK(model_config_from_json_string(&mc, "{\"embed_scale\": -1}", "x.safetensors", err) == -1);
    CHECK_MSG(strstr(err, "x.safetensors: model.embed_scale") != NULL, "%s", err);
}

TEST(config_compact_attention_and_linear_prefix)
{
    struct train_config cfg;
    char err[CASCADE_ERR_MAX] = "";
    /* "linear_prefix" applies after "attention": L L S S. */
    REQUIRE_MSG(load_text("{\"model\": {\"attention\": \"sd\", \"linear_prefix\": 2}}", &cfg, err) == 0,
                "%s", err);
    const enum attn_kind k1[4] = { ATTN_LINEAR, ATTN_LINEAR, ATTN_SD, ATTN_SD };
    const int d1[4] = { 32, 32, 32, 32 };
    expect_layers(t_, &cfg.model, k1, d1, 4);

    /* A per-layer list, then a prefix covering every layer, then prefix 0. */
    REQUIRE_MSG(load_text("{\"model\": {\"n_layer\": 3, \"n_embd\": 96, \"n_head\": 3,"
                          " \"attention\": [\"softmax\", \"sd\", \"linear\"]}}", &cfg, err) == 0,
                "%s", err);
    const enum attn_kind k2[3] = { ATTN_SOFTMAX, ATTN_SD, ATTN_LINEAR };
    const int d2[3] = { 32, 32, 32 };
    expect_layers(t_, &cfg.model, k2, d2, 3);
    REQUIRE_MSG(load_text("{\"model\": {\"n_layer\": 2, \"attention\": \"sd\", \"linear_prefix\": 2}}",
                          &cfg, err) == 0, "%s", err);
    CHECK(cfg.model.layers[0].kind == ATTN_LINEAR && cfg.model.layers[1].kind == ATTN_LINEAR);
    REQUIRE_MSG(load_text("{\"model\": {\"attention\": \"sd\", \"linear_prefix\": 0}}", &cfg, err) == 0,
                "%s", err);
    for (int l = 0; l < 4; l++) CHECK(cfg.model.layers[l].kind == ATTN_SD);
}

TEST(config_head_dim_list_and_scalar)
{
    struct train_config cfg;
    char err[CASCADE_ERR_MAX] = "";
    REQUIRE_MSG(load_text("{\"model\": {\"head_dim\": [32, 16, 8, 4], \"attention\": \"sd\"}}", &cfg, err) == 0,
                "%s", err);
    const enum attn_kind k[4] = { ATTN_SD, ATTN_SD, ATTN_SD, ATTN_SD };
    const int d1[4] = { 32, 16, 8, 4 };
    expect_layers(t_, &cfg.model, k, d1, 4);
    /* An explicit head dim need not divide n_embd (130 / 4 does not). */
    REQUIRE_MSG(load_text("{\"model\": {\"n_embd\": 130, \"head_dim\": 7, \"attention\": \"sd\"}}", &cfg, err) == 0,
                "%s", err);
    const int d2[4] = { 7, 7, 7, 7 };
    expect_layers(t_, &cfg.model, k, d2, 4);
}

TEST(config_error_unknown_key)
{
    expect_load_error(t_, "{\"train\": {\"stepz\": 5}}", "train.stepz: unknown key");
    expect_load_error(t_, "{\"model\": {\"n_heads\": 4}}", "model.n_heads: unknown key");
    expect_load_error(t_, "{\"data\": {\"pth\": \"x\"}}", "data.pth: unknown key");
    expect_load_error(t_, "{\"modle\": {}}", "modle: unknown key");
    /* A control character in a key must not break the one-line rule. */
    expect_load_error(t_, "{\"train\": {\"a\\nb\": 1}}", "train.a?b: unknown key");
}

TEST(config_error_wrong_type)
{
    expect_load_error(t_, "{\"model\": {\"n_head\": \"four\"}}",
                      "model.n_head: expected an integer in 1..1024, got \"four\"");
    expect_load_error(t_, "{\"model\": {\"layernorm\": 1}}", "model.layernorm: expected true or false, got 1");
    expect_load_error(t_, "{\"train\": {\"lr\": \"fast\"}}", "train.lr: expected a number > 0, got \"fast\"");
    expect_load_error(t_, "{\"train\": {\"steps\": null}}", "train.steps: expected an integer >= 1, got null");
    expect_load_error(t_, "{\"data\": {\"path\": 7}}", "data.path: expected a string, got 7");
    expect_load_error(t_, "{\"train\": []}", "train: expected an object, got an array");
    expect_load_error(t_, "{\"model\": {\"attention\": 3}}",
                      "model.attention: expected \"softmax\", \"sd\", \"linear\" or a list");
    expect_load_error(t_, "{\"model\": {\"head_dim\": \"32\"}}",
                      "model.head_dim: expected an integer in 1..1024 or a list");
    expect_load_error(t_, "{\"model\": {\"attention\": [\"sd\", \"lin\", \"sd\", \"sd\"]}}",
                      "model.attention[1]: expected \"softmax\", \"sd\" or \"linear\", got \"lin\"");
    expect_load_error(t_, "{\"model\": {\"head_dim\": [32, 32, true, 32]}}",
                      "model.head_dim[2]: expected an integer in 1..1024, got true");
    expect_load_error(t_, "[1, 2]", "expected a JSON object, got an array");
}

TEST(config_error_out_of_range)
{
    expect_load_error(t_, "{\"model\": {\"n_layer\": 65}}", "model.n_layer: expected an integer in 1..64, got 65");
    expect_load_error(t_, "{\"model\": {\"n_head\": 0}}", "model.n_head: expected an integer in 1..1024, got 0");
    expect_load_error(t_, "{\"model\": {\"vocab_size\": 70000}}",
                      "model.vocab_size: expected an integer in 1..65536 (token files store uint16), got 70000");
    expect_load_error(t_, "{\"model\": {\"head_dim\": 2000}}", "model.head_dim: expected an integer in 1..1024, got 2000");
    expect_load_error(t_, "{\"model\": {\"linear_prefix\": 5}}",
                      "model.linear_prefix: expected an integer in 0..4 (n_layer is 4), got 5");
    expect_load_error(t_, "{\"data\": {\"val_fraction\": 1}}", "data.val_fraction: expected a number in (0, 1), got 1");
    expect_load_error(t_, "{\"data\": {\"path\": \"\"}}", "data.path: expected a non-empty string");
    expect_load_error(t_, "{\"train\": {\"lr\": 0}}", "train.lr: expected a number > 0, got 0");
    expect_load_error(t_, "{\"train\": {\"beta2\": 1.0}}", "train.beta2: expected a number in [0, 1), got 1");
    expect_load_error(t_, "{\"train\": {\"min_lr_frac\": 1.5}}", "train.min_lr_frac: expected a number in [0, 1], got 1.5");
    expect_load_error(t_, "{\"train\": {\"grad_clip\": -1}}", "train.grad_clip: expected a number >= 0, got -1");
    expect_load_error(t_, "{\"train\": {\"warmup_steps\": -1}}", "train.warmup_steps: expected an integer >= 0, got -1");
    expect_load_error(t_, "{\"train\": {\"seed\": -1}}", "train.seed: expected an integer in 0..9007199254740992");
    expect_load_error(t_, "{\"train\": {\"steps\": 1e400}}", "train.steps: expected an integer >= 1, got inf");
    expect_load_error(t_, "{\"train\": {\"batch_size\": 100000000}, \"model\": {\"seq_len\": 1000}}",
                      "train.batch_size: batch_size x model.seq_len = 100000000000 exceeds");
}

TEST(config_error_list_length)
{
    expect_load_error(t_, "{\"model\": {\"head_dim\": [32, 16, 8]}}", "model.head_dim: has 3 entries, n_layer is 4");
    expect_load_error(t_, "{\"model\": {\"n_layer\": 2, \"attention\": [\"sd\"]}}",
                      "model.attention: has 1 entry, n_layer is 2");
    expect_load_error(t_, "{\"model\": {\"attention\": []}}", "model.attention: has 0 entries, n_layer is 4");
}

TEST(config_error_non_integer)
{
    expect_load_error(t_, "{\"model\": {\"n_layer\": 2.5}}", "model.n_layer: expected an integer in 1..64, got 2.5");
    expect_load_error(t_, "{\"train\": {\"seed\": 1.5}}", "train.seed: expected an integer in 0..9007199254740992");
    expect_load_error(t_, "{\"model\": {\"head_dim\": [32, 16.5, 8, 4]}}",
                      "model.head_dim[1]: expected an integer in 1..1024, got 16.5");
    /* Integral values written as floats are integers. */
    struct train_config cfg;
    char err[CASCADE_ERR_MAX] = "";
    REQUIRE_MSG(load_text("{\"model\": {\"n_layer\": 2.0}, \"train\": {\"seed\": 9007199254740992}}", &cfg, err) == 0,
                "%s", err);
    CHECK(cfg.model.n_layer == 2 && cfg.seed == 9007199254740992ull);
}

TEST(config_error_default_head_dim_indivisible)
{
    expect_load_error(t_, "{\"model\": {\"n_embd\": 130}}", "model.head_dim: not given");
    char path[512], err[CASCADE_ERR_MAX] = "";
    struct train_config cfg;
    REQUIRE(write_tmp("bad.json", "{\"model\": {\"n_embd\": 130}}", path) == 0);
    REQUIRE(trainer_config_load(&cfg, path, err) == -1);
    CHECK_MSG(strstr(err, "n_head") != NULL, "%s", err);
}

TEST(config_error_duplicate_key)
{
    expect_load_error(t_, "{\"train\": {\"steps\": 5, \"steps\": 6}}", "train.steps: duplicate key");
    expect_load_error(t_, "{\"model\": {}, \"model\": {}}", "model: duplicate key");
}

TEST(config_error_syntax_and_missing_file)
{
    expect_load_error(t_, "{\n  \"model\": {\n    \"n_head\": 4,,\n  }\n}", "line 3, column");
    expect_load_error(t_, "", "invalid JSON: the text is empty");
    expect_load_error(t_, "{\"model\": {", "line 1, column 12: invalid JSON: unexpected end of text");
    expect_load_error(t_, "{} trailing", "line 1, column");
    struct train_config cfg;
    char err[CASCADE_ERR_MAX] = "";
    CHECK(trainer_config_load(&cfg, "configs/does_not_exist.json", err) == -1);
    CHECK_MSG(strstr(err, "configs/does_not_exist.json: cannot open") != NULL, "%s", err);
    CHECK(trainer_config_load(&cfg, "configs", err) == -1);
    CHECK_MSG(strstr(err, "configs: ") == err, "%s", err);
}

TEST(config_from_json_key_prefix)
{
    cJSON *root = cJSON_Parse("{\"probe\": {\"model\": {\"attention\": \"sd\"}, \"train\": {\"stepz\": 1}},"
                              " \"ok\": {\"train\": {\"steps\": 7}}}");
    REQUIRE(root != NULL);
    struct train_config cfg;
    char err[CASCADE_ERR_MAX] = "";
    const cJSON *probe = cJSON_GetObjectItem(root, "probe");
    CHECK(trainer_config_from_json(&cfg, probe, "campaigns/c.json", "probe.", err) == -1);
    CHECK_MSG(strstr(err, "campaigns/c.json: probe.train.stepz: unknown key") == err, "%s", err);
    /* A prefix without the trailing dot reads the same. */
    CHECK(trainer_config_from_json(&cfg, probe, "campaigns/c.json", "probe", err) == -1);
    CHECK_MSG(strstr(err, "campaigns/c.json: probe.train.stepz: unknown key") == err, "%s", err);
    CHECK(trainer_config_from_json(&cfg, cJSON_GetObjectItem(root, "missing"), "campaigns/c.json",
                                   "probe.", err) == -1);
    CHECK_MSG(strstr(err, "campaigns/c.json: probe: expected a JSON object") == err, "%s", err);
    /* Starts from the defaults, whatever cfg held. */
    memset(&cfg, 0x5a, sizeof cfg);
    REQUIRE_MSG(trainer_config_from_json(&cfg, cJSON_GetObjectItem(root, "ok"), "campaigns/c.json",
                                         "ok.", err) == 0, "%s", err);
    CHECK(cfg.steps == 7 && cfg.batch_size == 16 && cfg.model.n_layer == 4);
    cJSON_Delete(root);
}

TEST(config_validate_code_built)
{
    struct train_config base, cfg;
    char err[CASCADE_ERR_MAX] = "";
    trainer_config_defaults(&base);
#define EXPECT_INVALID(mutate, want) do { cfg = base; mutate; \
        CHECK(trainer_config_validate(&cfg, "code", err) == -1); \
        CHECK_MSG(strstr(err, "code: " want) == err, "error \"%s\" does not start \"%s\"", err, "code: " want); \
    } while (0)
    EXPECT_INVALID(layer_arch_set_head_dim(&cfg.model.layers[2], 0), "model.head_dim[2]: expected an integer in 1..1024, got 0");
    EXPECT_INVALID(cfg.model.layers[2].qk_dim = 0, "model.qk_dim[2]: expected an integer in 1..1024, got 0");
    EXPECT_INVALID(cfg.model.layers[2].v_dim = 2000, "model.v_dim[2]: expected an integer in 1..1024, got 2000");
    EXPECT_INVALID(cfg.model.layers[1].kind = (enum attn_kind)7, "model.attention[1]: expected");
    EXPECT_INVALID(cfg.model.n_layer = 0, "model.n_layer: expected an integer in 1..64, got 0");
    EXPECT_INVALID(cfg.model.layernorm = 2, "model.layernorm: expected true or false");
    EXPECT_INVALID(cfg.lr = -1, "train.lr: expected a number > 0, got -1");
    EXPECT_INVALID(cfg.beta1 = NAN, "train.beta1: expected a number in [0, 1), got nan");
    EXPECT_INVALID(cfg.seed = 1ull << 60, "train.seed: expected an integer in 0..9007199254740992");
    EXPECT_INVALID(cfg.seed = (1ull << 53) + 1, "train.seed: expected an integer in 0..9007199254740992");
    EXPECT_INVALID(cfg.data_path[0] = '\0', "data.path: expected a non-empty string");
    EXPECT_INVALID(cfg.batch_size = 1 << 30, "train.batch_size: batch_size x model.seq_len");
#undef EXPECT_INVALID
    /* Layers beyond n_layer are not looked at; no file name leaves just the key path. */
    cfg = base;
    layer_arch_set_head_dim(&cfg.model.layers[10], -5);
    CHECK_MSG(trainer_config_validate(&cfg, NULL, err) == 0, "%s", err);
    cfg.steps = 0;
    CHECK(trainer_config_validate(&cfg, NULL, err) == -1);
    CHECK_MSG(strncmp(err, "train.steps: ", 13) == 0, "%s", err);
}

TEST(config_model_json_round_trip)
{
    struct model_config a, b;
    char err[CASCADE_ERR_MAX] = "";
    memset(&a, 0, sizeof a);
    a.vocab_size = 300; a.seq_len = 64; a.n_layer = 5; a.n_head = 3; a.n_embd = 96;
    a.layernorm = 0; a.residual_scale_init = 0; a.embed_scale = 0.3f;
    const enum attn_kind kinds[5] = { ATTN_LINEAR, ATTN_LINEAR, ATTN_SD, ATTN_SOFTMAX, ATTN_SD };
    const int dims[5] = { 8, 16, 5, 32, 7 };
    for (int l = 0; l < 5; l++) { a.layers[l].kind = kinds[l]; layer_arch_set_head_dim(&a.layers[l], dims[l]); }
    char *json = model_config_to_json(&a);
    REQUIRE(json != NULL);
    /* The full per-layer form, never the compact one. */
    CHECK_MSG(strstr(json, "\"attention\":[\"linear\",\"linear\",\"sd\",\"softmax\",\"sd\"]") != NULL, "%s", json);
    CHECK_MSG(strstr(json, "\"head_dim\":[8,16,5,32,7]") != NULL, "%s", json);
    CHECK_MSG(strstr(json, "\"layernorm\":false") != NULL, "%s", json);
    memset(&b, 0xff, sizeof b);
    REQUIRE_MSG(model_config_from_json_string(&b, json, "ckpt", err) == 0, "%s: %s", err, json);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    free(json);

    /* The defaults survive too (uniform lists are still written per layer). */
    struct train_config def;
    trainer_config_defaults(&def);
    json = model_config_to_json(&def.model);
    REQUIRE(json != NULL);
    CHECK_MSG(strstr(json, "\"head_dim\":[32,32,32,32]") != NULL, "%s", json);
    REQUIRE_MSG(model_config_from_json_string(&b, json, "ckpt", err) == 0, "%s", err);
    CHECK(memcmp(&def.model, &b, sizeof b) == 0);
    free(json);
}

/* The whole config written as JSON reads back to the same config, and prints the same. */
TEST(config_train_json_round_trip)
{
    struct train_config a, b;
    char err[CASCADE_ERR_MAX] = "";
    trainer_config_defaults(&a);
    a.model.n_layer = 3; a.model.n_embd = 64; a.model.n_head = 2; a.model.layernorm = 0;
    a.model.layers[0] = (struct layer_arch){ ATTN_LINEAR, 8, 8 };
    a.model.layers[1] = (struct layer_arch){ ATTN_SD, 32, 32 };
    a.model.layers[2] = (struct layer_arch){ ATTN_SOFTMAX, 13, 13 };
    memset(&a.model.layers[3], 0, sizeof a.model.layers[3]);
    snprintf(a.data_path, sizeof a.data_path, "data/\"quoted\" path.bin");
    /* One ulp above 2e-3: 15 digits would print it as 0.002. */
    a.val_fraction = 0.1; a.lr = nextafter(2e-3, 1.0); a.min_lr_frac = 1.0; a.weight_decay = 0.1;
    a.seed = (1ull << 53) - 1; a.threads = 3; a.out_path[0] = '\0';
    REQUIRE_MSG(trainer_config_validate(&a, "a", err) == 0, "%s", err);
    char *json = trainer_config_to_json(&a);
    REQUIRE(json != NULL);
    cJSON *root = cJSON_Parse(json);
    REQUIRE_MSG(root != NULL, "%s", json);
    memset(&b, 0x5a, sizeof b);
    CHECK_MSG(trainer_config_from_json(&b, root, "ckpt", "", err) == 0, "%s: %s", err, json);
    cJSON_Delete(root);
    CHECK(memcmp(&a.model, &b.model, sizeof a.model) == 0);
    CHECK(strcmp(a.data_path, b.data_path) == 0 && strcmp(a.out_path, b.out_path) == 0);
    CHECK(a.val_fraction == b.val_fraction && a.lr == b.lr && a.min_lr_frac == b.min_lr_frac);
    CHECK(a.weight_decay == b.weight_decay && a.adam_eps == b.adam_eps && a.beta2 == b.beta2);
    CHECK(a.seed == b.seed && a.threads == b.threads && a.steps == b.steps);
    char *again = trainer_config_to_json(&b);
    REQUIRE(again != NULL);
    CHECK_MSG(strcmp(json, again) == 0, "%s\n    %s", json, again);
    free(json);
    free(again);
}

TEST(config_model_json_string_errors)
{
    struct model_config mc;
    char err[CASCADE_ERR_MAX] = "";
    CHECK(model_config_from_json_string(&mc, "{\"n_head\": 0}", "run.safetensors", err) == -1);
    CHECK_MSG(strstr(err, "run.safetensors: model.n_head: expected an integer in 1..1024, got 0") == err, "%s", err);
    CHECK(model_config_from_json_string(&mc, "{\"steps\": 5}", "run.safetensors", err) == -1);
    CHECK_MSG(strstr(err, "run.safetensors: model.steps: unknown key") == err, "%s", err);
    CHECK(model_config_from_json_string(&mc, "{\"n_layer\": 2, \"head_dim\": [1, 2, 3]}", "r", err) == -1);
    CHECK_MSG(strstr(err, "r: model.head_dim: has 3 entries, n_layer is 2") == err, "%s", err);
    CHECK(model_config_from_json_string(&mc, "{\"n_layer\": ", "r", err) == -1);
    CHECK_MSG(strstr(err, "r: model: ") == err && strstr(err, "invalid JSON"), "%s", err);
    CHECK(model_config_from_json_string(&mc, "[]", "r", err) == -1);
    CHECK_MSG(strstr(err, "r: model: expected an object") == err, "%s", err);
}

TEST(config_param_counts_by_hand)
{
    /* V = 10, T = 8, C = 4, H = 2, layernorm on; layer 0 softmax d = 2, layer 1 S–D d = 3,
     * layer 2 linear d = 1. */
    struct model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.vocab_size = 10; mc.seq_len = 8; mc.n_embd = 4; mc.n_head = 2; mc.n_layer = 3;
    mc.layernorm = 1;
    mc.layers[0] = (struct layer_arch){ ATTN_SOFTMAX, 2, 2 };
    mc.layers[1] = (struct layer_arch){ ATTN_SD, 3, 3 };
    mc.layers[2] = (struct layer_arch){ ATTN_LINEAR, 1, 1 };
    /* wte 10*4 = 40, wpe 8*4 = 32                                      ->  72
     * layer 0 (Hd = 4): qkv.w 4*12 = 48, qkv.b 12, proj.w 4*4 = 16, proj.b 4       -> 80
     * layer 1 (Hd = 6): u 4*6 = 24, s 2*(3*2/2) = 6, delta 2*3 = 6, v.w 24, v.b 6,
     *                   proj.w 6*4 = 24, proj.b 4                                  -> 94
     * layer 2 (Hd = 2): qkv.w 4*6 = 24, qkv.b 6, proj.w 2*4 = 8, proj.b 4          -> 42
     * attention 80 + 94 + 42 = 216
     * ln1 + ln2: 4*4 = 16 per layer                                    ->  48
     * mlp: fc.w 4*16 = 64, fc.b 16, proj.w 16*4 = 64, proj.b 4 = 148 per layer -> 444
     * lnf 2*4                                                          ->   8
     * total 72 + 216 + 48 + 444 + 8 = 788 */
    struct param_counts pc = model_config_param_counts(&mc);
    CHECK_MSG(pc.attention == 216, "attention %zu", pc.attention);
    CHECK_MSG(pc.total == 788, "total %zu", pc.total);
    /* Without LayerNorm: 788 - 48 - 8 = 732. */
    mc.layernorm = 0;
    pc = model_config_param_counts(&mc);
    CHECK_MSG(pc.total == 732 && pc.attention == 216, "total %zu attention %zu", pc.total, pc.attention);

    /* The tiny default: V 256, T 128, C 128, H 4, d 32, 4 softmax layers with layernorm.
     * wte + wpe 256*128 + 128*128 = 49152; attention per layer 128*384 + 384 + 128*128 + 128
     * = 66048; ln 512; mlp 65536 + 512 + 65536 + 128 = 131712; per layer 198272;
     * total 49152 + 4*198272 + 256 = 842496, attention 4*66048 = 264192. */
    struct train_config def;
    trainer_config_defaults(&def);
    pc = model_config_param_counts(&def.model);
    CHECK_MSG(pc.total == 842496 && pc.attention == 264192, "total %zu attention %zu", pc.total, pc.attention);
}

TEST(config_flops_by_hand)
{
    struct model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.vocab_size = 10; mc.seq_len = 8; mc.n_embd = 4; mc.n_head = 2; mc.n_layer = 3;
    mc.layernorm = 1;
    mc.layers[0] = (struct layer_arch){ ATTN_SOFTMAX, 2, 2 };
    mc.layers[1] = (struct layer_arch){ ATTN_SD, 3, 3 };
    mc.layers[2] = (struct layer_arch){ ATTN_LINEAR, 1, 1 };
    /* Matmul weights: head 10*4 = 40
     *   layer 0: qkv.w 48 + proj.w 16 + mlp 64 + 64       = 192
     *   layer 1: u 24 + v.w 24 + proj.w 24 + mlp 128      = 200
     *   layer 2: qkv.w 24 + proj.w 8 + mlp 128            = 160
     *   sum 592, times 2                                  = 1184
     * Attention at T = 8 (average (T+1)/2 = 4.5 positions):
     *   layer 0: 4*H*d*4.5 = 4*2*2*4.5                    = 72
     *   layer 1: 4*2*3*4.5 = 108, + 2*H*d*d = 2*2*3*3 = 36 = 144
     *   layer 2: 4*H*d*d = 8, + 2*H*d = 4                 = 12
     *   sum                                               = 228
     * forward 1184 + 228 = 1412; training 3 * 1412 = 4236. */
    CHECK_NEAR(model_config_train_flops_per_token(&mc, 8), 4236.0, 1e-9);
    CHECK_NEAR(model_config_train_flops_per_token(&mc, 0), 4236.0, 1e-9);  /* 0: seq_len */
    /* At T = 16 only softmax and S–D change: 2*H*d*(T+1) grows by 2*H*d*(17-9), that is
     * 2*2*2*8 = 64 and 2*2*3*8 = 96, so forward 1412 + 160 = 1572, training 4716. */
    CHECK_NEAR(model_config_train_flops_per_token(&mc, 16), 4716.0, 1e-9);
}

/* model.sd_s_init_std [ours, SPEC 2]: the spread of S–D's s at init; 0 starts S at zero;
 * the other tensors are the same draws whatever it is; checkpoints without the key read 0.1. */
TEST(config_sd_s_init_std_sets_the_init_of_s)
{
    struct model_config a, b;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(model_config_from_json_string(&a, "{\"n_layer\": 1, \"n_embd\": 16, \"n_head\": 2, \"seq_len\": 8, "
                                              "\"attention\": \"sd\", \"layernorm\": false}", "t", err) == 0, "%s", err);
    CHECK(a.sd_s_init_std == TRAINER_SD_S_INIT_STD);
    b = a;
    b.sd_s_init_std = 0.0f;
    struct model ma, mb;
    REQUIRE(model_init(&ma, &a, 7, err) == 0 && model_init(&mb, &b, 7, err) == 0);
    const float *sa = model_param(&ma, "h.0.attn.s"), *sb = model_param(&mb, "h.0.attn.s");
    const struct param_tensor *ts = model_find_tensor(&ma, "h.0.attn.s");
    REQUIRE(sa && sb && ts);
    double sq = 0;
    for (size_t i = 0; i < ts->numel; i++) { CHECK(sb[i] == 0.0f); sq += (double)sa[i] * sa[i]; }
    CHECK_NEAR(sqrt(sq / ts->numel), 0.1, 0.03);
    /* every other tensor is drawn identically */
    for (int t = 0; t < ma.n_tensors; t++) {
        if (strcmp(ma.tensors[t].name, "h.0.attn.s") == 0) continue;
        CHECK_MSG(memcmp(ma.params + ma.tensors[t].offset, mb.params + mb.tensors[t].offset,
                         4 * ma.tensors[t].numel) == 0, "%s differs", ma.tensors[t].name);
    }
    model_free(&ma);
    model_free(&mb);
    /* round trip through the JSON a checkpoint stores, and the range check */
    b.sd_s_init_std = 0.001f;
    char *json = model_config_to_json(&b);
    struct model_config back;
    REQUIRE(json && model_config_from_json_string(&back, json, "t", err) == 0);
    CHECK(back.sd_s_init_std == 0.001f);
    free(json);
    CHECK(model_config_from_json_string(&back, "{\"sd_s_init_std\": -1}", "t", err) == -1 &&
          strstr(err, "model.sd_s_init_std"));
}

/* S - S_0 (SPEC §2): subtracting the init of the same seed leaves zero; of another seed,
 * not; only the S–D layers' s changes. */
TEST(model_sd_subtract_init_removes_the_init)
{
    struct model_config mc;
    char err[CASCADE_ERR_MAX];
    REQUIRE(model_config_from_json_string(&mc, "{\"n_layer\": 2, \"n_embd\": 16, \"n_head\": 2, \"seq_len\": 8, "
                                          "\"attention\": [\"sd\", \"softmax\"], \"layernorm\": false}", "t", err) == 0);
    struct model m, before;
    REQUIRE(model_init(&m, &mc, 11, err) == 0 && model_init(&before, &mc, 11, err) == 0);
    REQUIRE(model_sd_subtract_init(&m, 11, err) == 0);
    const struct param_tensor *ts = model_find_tensor(&m, "h.0.attn.s");
    REQUIRE(ts);
    for (size_t i = 0; i < ts->numel; i++) CHECK(m.params[ts->offset + i] == 0.0f);
    for (int t = 0; t < m.n_tensors; t++)
        if (t != (int)(ts - m.tensors))
            CHECK_MSG(memcmp(m.params + m.tensors[t].offset, before.params + m.tensors[t].offset,
                             4 * m.tensors[t].numel) == 0, "%s changed", m.tensors[t].name);
    model_free(&m);
    REQUIRE(model_init(&m, &mc, 11, err) == 0);
    REQUIRE(model_sd_subtract_init(&m, 12, err) == 0);
    ts = model_find_tensor(&m, "h.0.attn.s");   /* the old model's table is gone */
    REQUIRE(ts);
    double sq = 0;
    for (size_t i = 0; i < ts->numel; i++) sq += (double)m.params[ts->offset + i] * m.params[ts->offset + i];
    CHECK(sq > 0);
    model_free(&m);
    model_free(&before);
}

/* train.precision: "fp32" is the default and recorded; "bf16" is refused on every machine
 * with one line that names the field and what is missing (the CPU's instructions, or a
 * bf16 GEMM in the loaded OpenBLAS), whichever this CPU lacks; other values are refused. */
TEST(config_precision_fp32_or_a_refusal)
{
    struct train_config cfg;
    trainer_config_defaults(&cfg);
    CHECK(strcmp(cfg.precision, "fp32") == 0);
    char *json = trainer_config_to_json(&cfg);
    CHECK(json && strstr(json, "\"precision\":\"fp32\"") != NULL);
    free(json);
    expect_load_error(t_, "{\"train\": {\"precision\": \"bf16\"}}", "train.precision: \"bf16\" ");
    expect_load_error(t_, "{\"train\": {\"precision\": \"fp16\"}}",
                      "train.precision: expected \"fp32\" or \"bf16\", got \"fp16\"");
    char path[512], err[CASCADE_ERR_MAX];
    REQUIRE(write_tmp("bf16.json", "{\"train\": {\"precision\": \"bf16\"}}", path) == 0);
    CHECK(trainer_config_load(&cfg, path, err) == -1);
    CHECK_MSG(strstr(err, "lacks") || strstr(err, "not implemented"), "%s", err);
}
