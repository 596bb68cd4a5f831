/* tests/test_analysis_files.c — analysis of whole checkpoints: Hugging Face GPT-2 and BERT
 * safetensors (F32, BF16, F16), llm.c GPT-2 .bin and cascade checkpoints, all written here
 * with known weights; the per-head values, the cascade and the summaries; clean errors for
 * truncated and corrupt files; `cascade analyze` on the command line. */
#include "test.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/analysis.h"
#include "trainer/trainer.h"

/* The known model: L layers, H heads, C = 16, d = 8. Head (l, h) has k = l + 1 rotation
 * planes of frequencies (i + 1)(h + 1), i < k, and one filtering direction of eigenvalue
 * 0.5 (h + 1), on coordinate axes (signed permutations): every value is exact in F32,
 * BF16 and F16, so every format gives the same spectra. Routing erank grows with depth:
 * the cascade's Spearman value is 1. */
enum { KL = 3, KH = 2, KC = 16, KD = 8 };

/* Basis vector j of head (l, h): sign_j * axis (5j + 3h + l) mod C (a signed permutation). */
static void put(float *qkv, int col, int l, int h, int j, float scale)
{
    int axis = (5 * j + 3 * h + l) % KC;
    float sign = (j / 3) % 2 ? -1.0f : 1.0f;
    qkv[axis * 3 * KC + col] = scale * sign;
}

/* qkv (C, 3C) in x out: [W_Q | W_K | W_V], head h at columns h*d of each third.
 * Plane i: a = e_{2i}, b = e_{2i+1}, W_Q cols (w a, -w b), W_K cols (b, a), so that
 * W_Q W_K^T = w (a b^T - b a^T); filtering: W_Q col f e_{2k}, W_K col e_{2k}. */
static void known_qkv(float *qkv, int l)
{
    memset(qkv, 0, sizeof(float) * KC * 3 * KC);
    int k = l + 1;
    for (int h = 0; h < KH; h++) {
        int q0 = h * KD, k0 = KC + h * KD;
        for (int i = 0; i < k; i++) {
            float w = (float)((i + 1) * (h + 1));
            put(qkv, q0 + 2 * i, l, h, 2 * i, w);
            put(qkv, q0 + 2 * i + 1, l, h, 2 * i + 1, -w);
            put(qkv, k0 + 2 * i, l, h, 2 * i + 1, 1);
            put(qkv, k0 + 2 * i + 1, l, h, 2 * i, 1);
        }
        put(qkv, q0 + 2 * k, l, h, 2 * k, 0.5f * (h + 1));
        put(qkv, k0 + 2 * k, l, h, 2 * k, 1);
    }
    for (int c = 0; c < KC; c++)       /* values: anything exact */
        for (int j = 0; j < KC; j++) qkv[c * 3 * KC + 2 * KC + j] = (float)((c * 7 + j) % 5 - 2) * 0.25f;
}

/* The expected measures of head (l, h), from the closed forms of SPEC §3; rsv (2k)
 * descending routing singular values. */
static void expected_head(int l, int h, struct analysis_measures *m, double *rsv, int *nr)
{
    int k = l + 1;
    double sum = 0, s2 = 0, s4 = 0, ent = 0, acc = 0;
    for (int i = 0; i < k; i++) {
        double w = (k - i) * (h + 1.0);
        rsv[2 * i] = rsv[2 * i + 1] = w;
        sum += 2 * w; s2 += 2 * w * w; s4 += 2 * w * w * w * w;
    }
    for (int i = 0; i < 2 * k; i++) ent -= rsv[i] / sum * log(rsv[i] / sum);
    int k90 = 0;
    while (acc < 0.9 * s2 * (1 - 1e-12)) { acc += rsv[k90] * rsv[k90]; k90++; }
    *nr = 2 * k;
    double f = 0.5 * (h + 1);
    m->routing_fraction = s2 / (s2 + f * f);
    m->routing_erank = exp(ent);
    m->routing_pr = s2 * s2 / s4;
    m->routing_k90 = k90;
    m->routing_planes = (k90 + 1) / 2;
    m->filtering_erank = 1;
    m->filtering_pr = 1;
    m->filtering_k90 = 1;
}

/* Every head of am is the known model's (n_layer KL, n_head KH, C KC). */
static void check_known(struct test_ctx *t_, const struct analysis_model *am)
{
    REQUIRE_MSG(am->n_layer == KL && am->n_head == KH && am->n_embd == KC, "%d %d %d", am->n_layer, am->n_head, am->n_embd);
    for (int l = 0; l < KL; l++)
        for (int h = 0; h < KH; h++) {
            const struct analysis_head *hd = &am->heads[l * KH + h];
            struct analysis_measures e, got = analysis_measures_of(&hd->weight);
            double rsv[16];
            int nr;
            expected_head(l, h, &e, rsv, &nr);
            CHECK(hd->layer == l && hd->head == h && hd->head_dim == KD && hd->capacity == 2 * KD);
            CHECK(strcmp(hd->kind, "softmax") == 0);
            CHECK_MSG(hd->weight.routing.n == nr && hd->weight.filtering.n == 1, "(%d,%d): n %d %d", l, h,
                      hd->weight.routing.n, hd->weight.filtering.n);
            for (int i = 0; i < nr && i < hd->weight.routing.n; i++) CHECK_NEAR(hd->weight.routing.sv[i], rsv[i], 1e-9);
            CHECK_NEAR(got.routing_fraction, e.routing_fraction, 1e-12);
            CHECK_NEAR(got.routing_erank, e.routing_erank, 1e-9);
            CHECK_NEAR(got.routing_pr, e.routing_pr, 1e-9);
            CHECK_MSG(got.routing_k90 == e.routing_k90, "(%d,%d): k90 %g, expected %g", l, h, got.routing_k90, e.routing_k90);
            CHECK(got.routing_planes == e.routing_planes);
            CHECK_NEAR(got.filtering_erank, 1, 1e-12);
            CHECK(got.filtering_k90 == 1);
        }
    /* layer summaries and the cascade */
    for (int l = 0; l < KL; l++) {
        struct analysis_measures e0, e1;
        double rsv[16];
        int nr;
        expected_head(l, 0, &e0, rsv, &nr);
        expected_head(l, 1, &e1, rsv, &nr);
        const struct analysis_layer *ly = &am->layers[l];
        CHECK_NEAR(ly->mean.routing_erank, 0.5 * (e0.routing_erank + e1.routing_erank), 1e-9);
        CHECK_NEAR(ly->min.routing_fraction, fmin(e0.routing_fraction, e1.routing_fraction), 1e-12);
        CHECK_NEAR(ly->max.routing_fraction, fmax(e0.routing_fraction, e1.routing_fraction), 1e-12);
        CHECK(!ly->has_realised);
    }
    CHECK_NEAR(am->cascade, 1.0, 1e-12);
    CHECK(isnan(am->cascade_realised));
    CHECK_NEAR(am->routing_erank.min, 2.0, 1e-9);        /* layer 0: one plane */
    CHECK_NEAR(am->routing_erank_frac.min, 2.0 / 16, 1e-9);
}

/* ---- writers --------------------------------------------------------------------------- */

static void tmp(char *out, size_t n, const char *name) { test_tmppath(out, n, name); }

static void subdir(char *out, size_t n, const char *name)
{
    test_tmppath(out, n, name);
    mkdir(out, 0755);
}


/* GPT-2 layout, F32, via st_write. prefix "" or "transformer."; layers beyond n_layers
 * are left out. */
static int write_gpt2_f32(const char *path, const char *prefix, char *err)
{
    static float qkv[KL][KC * 3 * KC], wte[10 * KC];
    char names[KL][96];
    struct st_write_tensor ts[KL + 1];
    for (int l = 0; l < KL; l++) {
        known_qkv(qkv[l], l);
        snprintf(names[l], sizeof names[l], "%sh.%d.attn.c_attn.weight", prefix, l);
        ts[l] = (struct st_write_tensor){ names[l], 2, { KC, 3 * KC }, qkv[l] };
    }
    for (int i = 0; i < 10 * KC; i++) wte[i] = 0.01f * i;
    ts[KL] = (struct st_write_tensor){ "wte.weight", 2, { 10, KC }, wte };
    return st_write(path, ts, KL + 1, NULL, NULL, 0, err);
}

/* float -> BF16 / F16 bits (exact for the known model's values). */
static uint16_t to_bf16(float x) { uint32_t b; memcpy(&b, &x, 4); return (uint16_t)(b >> 16); }
static uint16_t to_f16(float x)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    uint16_t sign = (b >> 16) & 0x8000;
    int e = (int)((b >> 23) & 0xff);
    if (e == 0) return sign;                    /* zero */
    return sign | (uint16_t)((e - 127 + 15) << 10) | (uint16_t)((b >> 13) & 0x3ff);
}

/* A safetensors file written byte by byte: tensors (C, 3C) of the known model in dtype
 * "BF16" or "F16", named NAME_FMT with %d = layer. `cut` bytes are dropped from the end. */
static int write_gpt2_16(const char *path, const char *dtype, const char *name_fmt, long cut)
{
    size_t per = (size_t)KC * 3 * KC * 2;
    char header[2048] = "{";
    int o = 1;
    for (int l = 0; l < KL; l++) {
        char name[96];
        snprintf(name, sizeof name, name_fmt, l);
        o += snprintf(header + o, sizeof header - o, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}",
                      l ? "," : "", name, dtype, KC, 3 * KC, l * per, (l + 1) * per);
    }
    o += snprintf(header + o, sizeof header - o, ",\"__metadata__\":{\"format\":\"pt\"}}");
    while (o % 8) header[o++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)o >> (8 * i));
    size_t total = 8 + o + KL * per;
    uint8_t *buf = malloc(total), *p = buf;
    memcpy(p, len, 8); p += 8;
    memcpy(p, header, o); p += o;
    float qkv[KC * 3 * KC];
    for (int l = 0; l < KL; l++) {
        known_qkv(qkv, l);
        for (int i = 0; i < KC * 3 * KC; i++) {
            uint16_t v = strcmp(dtype, "BF16") == 0 ? to_bf16(qkv[i]) : to_f16(qkv[i]);
            *p++ = (uint8_t)(v & 0xff);
            *p++ = (uint8_t)(v >> 8);
        }
    }
    fwrite(buf, 1, total - cut, f);
    free(buf);
    return fclose(f);
}

/* BERT layout, F32: query/key weight (C, C) out x in = W^T. skip_key_layer >= 0 leaves
 * that layer's key out. */
static int write_bert(const char *path, const char *prefix, int skip_key_layer, char *err)
{
    static float q[KL][KC * KC], k[KL][KC * KC];
    char names[2 * KL][128];
    struct st_write_tensor ts[2 * KL];
    int n = 0;
    for (int l = 0; l < KL; l++) {
        float qkv[KC * 3 * KC];
        known_qkv(qkv, l);
        for (int j = 0; j < KC; j++)
            for (int c = 0; c < KC; c++) {
                q[l][j * KC + c] = qkv[c * 3 * KC + j];
                k[l][j * KC + c] = qkv[c * 3 * KC + KC + j];
            }
        snprintf(names[n], sizeof names[n], "%sencoder.layer.%d.attention.self.query.weight", prefix, l);
        ts[n] = (struct st_write_tensor){ names[n], 2, { KC, KC }, q[l] };
        n++;
        if (l == skip_key_layer) continue;
        snprintf(names[n], sizeof names[n], "%sencoder.layer.%d.attention.self.key.weight", prefix, l);
        ts[n] = (struct st_write_tensor){ names[n], 2, { KC, KC }, k[l] };
        n++;
    }
    return st_write(path, ts, n, NULL, NULL, 0, err);
}

/* llm.c .bin: header then every tensor; qkvw (L, 3C, C) out x in. version and the number
 * of bytes cut from (cut > 0) or added to (cut < 0) the end are for corrupt variants. */
static int write_llmc(const char *path, int version, long cut)
{
    const int maxT = 8, V = 10, Vp = 16, L = KL, C = KC;
    int32_t hd[256] = { 20240326, version, maxT, V, L, KH, C, Vp };
    long sizes[16] = { (long)Vp * C, (long)maxT * C, L * C, L * C, (long)L * 3 * C * C, L * 3 * C,
                       (long)L * C * C, L * C, L * C, L * C, (long)L * 4 * C * C, L * 4 * C,
                       (long)L * C * 4 * C, L * C, C, C };
    long total = 0;
    for (int i = 0; i < 16; i++) total += sizes[i];
    float *p = calloc(total + 16, sizeof *p);
    long qoff = sizes[0] + sizes[1] + sizes[2] + sizes[3];
    for (long i = 0; i < qoff; i++) p[i] = 0.001f * (i % 97);
    for (int l = 0; l < L; l++) {
        float qkv[KC * 3 * KC];
        known_qkv(qkv, l);
        for (int j = 0; j < 3 * C; j++)
            for (int c = 0; c < C; c++) p[qoff + (long)l * 3 * C * C + j * C + c] = qkv[c * 3 * C + j];
    }
    FILE *f = fopen(path, "wb");
    if (!f) { free(p); return -1; }
    fwrite(hd, sizeof hd, 1, f);
    fwrite(p, sizeof *p, total - cut / 4, f);
    free(p);
    return fclose(f);
}

/* err names the file and contains `what`. */
static void check_err(struct test_ctx *t_, const char *path, const struct analysis_options *opt,
                      const char *what)
{
    struct analysis_model am;
    char err[CASCADE_ERR_MAX] = "";
    int rc = analysis_model_file(&am, path, opt, err);
    CHECK_MSG(rc == -1, "%s: expected an error containing '%s'", path, what);
    if (rc == 0) { analysis_model_free(&am); return; }
    CHECK_MSG(strstr(err, path) != NULL, "error does not name the file: %s", err);
    CHECK_MSG(strstr(err, what) != NULL, "error lacks '%s': %s", what, err);
    CHECK_MSG(strchr(err, '\n') == NULL, "error is not one line: %s", err);
    CHECK(am.heads == NULL && am.layers == NULL);
}

/* ---- Hugging Face GPT-2 ---------------------------------------------------------------- */

TEST(analysis_hf_gpt2_f32_bf16_f16)
{
    char dir[512], path[600], cfg[600], err[CASCADE_ERR_MAX];
    subdir(dir, sizeof dir, "gpt2");
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    REQUIRE(test_write_text(cfg, "{\"n_head\": 2, \"n_embd\": 16, \"n_layer\": 3}") == 0);
    const char *prefixes[2] = { "", "transformer." };
    for (int p = 0; p < 2; p++) {
        snprintf(path, sizeof path, "%s/model%d.safetensors", dir, p);
        REQUIRE_MSG(write_gpt2_f32(path, prefixes[p], err) == 0, "%s", err);
        struct analysis_model am;
        REQUIRE_MSG(analysis_model_file(&am, path, NULL, err) == 0, "%s", err);
        CHECK(am.format == ANALYSIS_HF_GPT2);
        check_known(t_, &am);
        analysis_model_free(&am);
    }
    const char *dtypes[2] = { "BF16", "F16" };
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/model_%s.safetensors", dir, dtypes[i]);
        REQUIRE(write_gpt2_16(path, dtypes[i], "transformer.h.%d.attn.c_attn.weight", 0) == 0);
        struct analysis_model am;
        REQUIRE_MSG(analysis_model_file(&am, path, NULL, err) == 0, "%s: %s", dtypes[i], err);
        check_known(t_, &am);
        analysis_model_free(&am);
    }
    /* the layer index comes from the tensor name: JSON carries every head */
    struct analysis_model am;
    snprintf(path, sizeof path, "%s/model0.safetensors", dir);
    REQUIRE(analysis_model_file(&am, path, NULL, err) == 0);
    char *js = analysis_model_to_json(&am);
    REQUIRE(js != NULL);
    cJSON *root = cJSON_Parse(js);
    REQUIRE(root != NULL);
    const cJSON *heads = cJSON_GetObjectItem(root, "heads");
    CHECK(cJSON_GetArraySize(heads) == KL * KH);
    const cJSON *h5 = cJSON_GetArrayItem(heads, 5);
    const char *keys[] = { "layer", "head", "kind", "routing_fraction", "routing_erank", "routing_pr",
                           "routing_k90", "routing_planes", "filtering_erank", "filtering_pr",
                           "filtering_k90", "routing_singular_values", "filtering_singular_values" };
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        CHECK_MSG(cJSON_GetObjectItem(h5, keys[k]) != NULL, "head JSON lacks %s", keys[k]);
    CHECK(cJSON_GetObjectItem(h5, "layer")->valueint == 2 && cJSON_GetObjectItem(h5, "head")->valueint == 1);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(h5, "routing_singular_values")) == 6);
    CHECK(cJSON_GetObjectItem(h5, "realised") == NULL);
    CHECK_NEAR(cJSON_GetObjectItem(root, "cascade_spearman")->valuedouble, 1.0, 1e-12);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(root, "cascade_spearman_realised")));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(root, "layers")) == KL);
    cJSON_Delete(root);
    free(js);
    analysis_model_free(&am);
}

TEST(analysis_hf_gpt2_errors)
{
    char dir[512], path[600], cfg[600], bad[600], err[CASCADE_ERR_MAX];
    subdir(dir, sizeof dir, "gpt2e");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    REQUIRE_MSG(write_gpt2_f32(path, "", err) == 0, "%s", err);
    /* no config.json and no override */
    check_err(t_, path, NULL, "number of heads unknown");
    struct analysis_options o3 = { 3, NULL, 0 }, o2 = { 2, NULL, 0 };
    check_err(t_, path, &o3, "h.0.attn.c_attn.weight: width 16 does not split into 3 heads");
    struct analysis_model am;
    REQUIRE_MSG(analysis_model_file(&am, path, &o2, err) == 0, "%s", err);   /* override */
    check_known(t_, &am);
    analysis_model_free(&am);
    /* a config.json without the key, or not JSON */
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    REQUIRE(test_write_text(cfg, "{\"num_heads\": 2}") == 0);
    check_err(t_, path, NULL, "n_head");
    REQUIRE(test_write_text(cfg, "{\"n_head\": ") == 0);
    check_err(t_, path, NULL, "not valid JSON");
    REQUIRE(test_write_text(cfg, "{\"n_head\": 2}") == 0);
    /* --data on a model the trainer cannot run */
    struct analysis_options od = { 0, "whatever.txt", 0 };
    check_err(t_, path, &od, "--data");
    /* truncated BF16 file, and one with a header that is not JSON */
    snprintf(bad, sizeof bad, "%s/trunc.safetensors", dir);
    REQUIRE(write_gpt2_16(bad, "BF16", "h.%d.attn.c_attn.weight", 100) == 0);
    check_err(t_, bad, &o2, "");
    snprintf(bad, sizeof bad, "%s/garbage.safetensors", dir);
    {
        FILE *f = fopen(bad, "wb");
        const char hdr[] = "{\"x\": [1, 2,    ";     /* 16 bytes, unterminated JSON */
        uint8_t len[8] = { 16, 0, 0, 0, 0, 0, 0, 0 };
        fwrite(len, 1, 8, f);
        fwrite(hdr, 1, 16, f);
        fclose(f);
    }
    check_err(t_, bad, &o2, "");
    /* not a checkpoint at all */
    snprintf(bad, sizeof bad, "%s/notes.txt", dir);
    REQUIRE(test_write_text(bad, "hello, this is not a model\n") == 0);
    check_err(t_, bad, NULL, "not a safetensors or llm.c checkpoint");
    snprintf(bad, sizeof bad, "%s/missing.safetensors", dir);
    check_err(t_, bad, NULL, "No such file");
    /* safetensors without attention tensors */
    snprintf(bad, sizeof bad, "%s/other.safetensors", dir);
    float x[4] = { 1, 2, 3, 4 };
    struct st_write_tensor t1 = { "lm_head.weight", 2, { 2, 2 }, x };
    REQUIRE(st_write(bad, &t1, 1, NULL, NULL, 0, err) == 0);
    check_err(t_, bad, NULL, "no attention tensors");
    /* a layer of the wrong shape; a NaN weight */
    static float q[KC * 3 * KC], q1[KC * 2 * KC];
    known_qkv(q, 0);
    struct st_write_tensor ts[2] = { { "h.0.attn.c_attn.weight", 2, { KC, 3 * KC }, q },
                                     { "h.1.attn.c_attn.weight", 2, { KC, 2 * KC }, q1 } };
    snprintf(bad, sizeof bad, "%s/shape.safetensors", dir);
    REQUIRE(st_write(bad, ts, 2, NULL, NULL, 0, err) == 0);
    check_err(t_, bad, &o2, "h.1.attn.c_attn.weight: shape [16, 32], expected [16, 48]");
    q[5 * 3 * KC + KC + 9] = NAN;   /* W_K of head 1 */
    snprintf(bad, sizeof bad, "%s/nan.safetensors", dir);
    REQUIRE(st_write(bad, ts, 1, NULL, NULL, 0, err) == 0);
    check_err(t_, bad, &o2, "h.0.attn.c_attn.weight: head 1: analysis: non-finite weight");
}

/* ---- Hugging Face BERT ----------------------------------------------------------------- */

TEST(analysis_hf_bert)
{
    char dir[512], path[600], cfg[600], err[CASCADE_ERR_MAX];
    subdir(dir, sizeof dir, "bert");
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    REQUIRE(test_write_text(cfg, "{\"hidden_size\": 16, \"num_attention_heads\": 2}") == 0);
    const char *prefixes[2] = { "bert.", "" };
    for (int p = 0; p < 2; p++) {
        snprintf(path, sizeof path, "%s/model%d.safetensors", dir, p);
        REQUIRE_MSG(write_bert(path, prefixes[p], -1, err) == 0, "%s", err);
        struct analysis_model am;
        REQUIRE_MSG(analysis_model_file(&am, path, NULL, err) == 0, "%s", err);
        CHECK(am.format == ANALYSIS_HF_BERT);
        check_known(t_, &am);
        analysis_model_free(&am);
    }
    snprintf(path, sizeof path, "%s/nokey.safetensors", dir);
    REQUIRE(write_bert(path, "bert.", 2, err) == 0);
    check_err(t_, path, NULL, "bert.encoder.layer.2.attention.self.key.weight: missing");
    struct analysis_options o5 = { 5, NULL, 0 };
    check_err(t_, path, &o5, "bert.encoder.layer.0.attention.self.query.weight: width 16 does not split into 5 heads");
}

/* ---- llm.c ----------------------------------------------------------------------------- */

TEST(analysis_llmc_bin)
{
    char path[512], err[CASCADE_ERR_MAX];
    tmp(path, sizeof path, "gpt2.bin");
    REQUIRE(write_llmc(path, 3, 0) == 0);
    struct analysis_model am;
    REQUIRE_MSG(analysis_model_file(&am, path, NULL, err) == 0, "%s", err);
    CHECK(am.format == ANALYSIS_LLMC);
    check_known(t_, &am);
    analysis_model_free(&am);
    tmp(path, sizeof path, "gpt2_v5.bin");
    REQUIRE(write_llmc(path, 5, 0) == 0);
    check_err(t_, path, NULL, "header: llm.c version 5 not supported");
    tmp(path, sizeof path, "gpt2_trunc.bin");
    REQUIRE(write_llmc(path, 3, 4 * (16 + 16 + 3 * 16)) == 0);   /* lnfb, lnfw, part of fcprojb */
    check_err(t_, path, NULL, "fcprojb: truncated");
    tmp(path, sizeof path, "gpt2_trunc2.bin");
    REQUIRE(write_llmc(path, 3, 4 * 30000) == 0);               /* into qkvw */
    check_err(t_, path, NULL, "qkvw: truncated");
    tmp(path, sizeof path, "gpt2_long.bin");
    REQUIRE(write_llmc(path, 3, -16) == 0);
    check_err(t_, path, NULL, "16 bytes after lnfb");
    tmp(path, sizeof path, "gpt2_head.bin");
    FILE *f = fopen(path, "wb");
    int32_t h[10] = { 20240326, 3, 8 };
    fwrite(h, sizeof h, 1, f);
    fclose(f);
    check_err(t_, path, NULL, "header: truncated");
    struct analysis_options o3 = { 3, NULL, 0 };
    tmp(path, sizeof path, "gpt2.bin");
    check_err(t_, path, &o3, "qkvw: width 16 does not split into 3 heads");
}

/* ---- cascade checkpoints (weight level and realised) -------------------------------------- */

static void cascade_config(struct model_config *mc)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    *mc = tc.model;
    mc->vocab_size = 256;
    mc->seq_len = 12;
    mc->n_layer = 3;
    mc->n_head = 2;
    mc->n_embd = 16;
    mc->layernorm = 0;
    mc->layers[0] = (struct layer_arch){ ATTN_SD, 4, 4 };
    mc->layers[1] = (struct layer_arch){ ATTN_SOFTMAX, 6, 6 };
    mc->layers[2] = (struct layer_arch){ ATTN_LINEAR, 3, 3 };
}

TEST(analysis_cascade_checkpoint_weight_and_realised)
{
    struct model_config mc;
    cascade_config(&mc);
    struct model m;
    char err[CASCADE_ERR_MAX], path[512], data[512];
    REQUIRE_MSG(model_init(&m, &mc, 5, err) == 0, "%s", err);
    uint64_t rng = 3;
    for (size_t i = 0; i < m.n_params; i++) m.params[i] = 0.3f * trainer_rng_normal(&rng);
    tmp(path, sizeof path, "cascade.safetensors");
    REQUIRE_MSG(checkpoint_save(path, &m, NULL, NULL, err) == 0, "%s", err);
    tmp(data, sizeof data, "text.txt");
    {
        FILE *f = fopen(data, "wb");
        for (int i = 0; i < 4000; i++) fputc("the quick brown fox jumps over the lazy dog. "[i % 45], f);
        fclose(f);
    }
    struct analysis_options opt = { 0, data, 10 };
    struct analysis_model am;
    REQUIRE_MSG(analysis_model_file(&am, path, &opt, err) == 0, "%s", err);
    CHECK(am.format == ANALYSIS_CASCADE && am.n_layer == 3 && am.n_head == 2 && am.realised_tokens == 10);
    /* the same window, by hand */
    struct dataset ds;
    struct train_config tc;
    trainer_config_defaults(&tc);
    REQUIRE_MSG(data_load(&ds, data, 256, tc.val_fraction, err) == 0, "%s", err);
    int32_t in[10], tg[10];
    data_val_batch(&ds, 0, 1, 10, in, tg);
    REQUIRE_MSG(model_forward(&m, in, NULL, 1, 10, NULL, err) == 0, "%s", err);
    float lg[100];
    const char *kinds[3] = { "sd", "softmax", "linear" };
    for (int l = 0; l < 3; l++) {
        int d = mc.layers[l].qk_dim;
        for (int h = 0; h < 2; h++) {
            const struct analysis_head *hd = &am.heads[l * 2 + h];
            CHECK(strcmp(hd->kind, kinds[l]) == 0 && hd->head_dim == d);
            struct analysis_split s;
            char name[64];
            if (l == 0) {
                snprintf(name, sizeof name, "h.%d.attn.u", l);
                const float *u = model_param(&m, name);
                snprintf(name, sizeof name, "h.%d.attn.s", l);
                const float *sp = model_param(&m, name);
                snprintf(name, sizeof name, "h.%d.attn.delta", l);
                const float *dp = model_param(&m, name);
                REQUIRE(analysis_head_sd(&s, u + h * d, 2 * d, sp + h * d * (d - 1) / 2, dp + h * d, 16, d, err) == 0);
                CHECK(hd->capacity == 4);
            } else {
                snprintf(name, sizeof name, "h.%d.attn.qkv.w", l);
                const float *w = model_param(&m, name);
                REQUIRE(analysis_head_qk(&s, w + h * d, w + 2 * d + h * d, 6 * d, 16, d, err) == 0);
                CHECK(hd->capacity == 2 * d);
            }
            CHECK(hd->weight.routing.n == s.routing.n);
            CHECK_NEAR(hd->weight.routing_fraction, s.routing_fraction, 1e-12);
            CHECK_NEAR(hd->weight.routing.erank, s.routing.erank, 1e-12);
            CHECK_NEAR(hd->weight.filtering.erank, s.filtering.erank, 1e-12);
            analysis_split_free(&s);
            CHECK(hd->has_realised == (l != 2));
            if (l == 2) continue;
            REQUIRE(model_attention_logits(&m, l, h, 0, lg) == 0);
            REQUIRE(analysis_realised(&s, lg, 10, err) == 0);
            CHECK_NEAR(hd->realised.routing_fraction, s.routing_fraction, 1e-12);
            CHECK_NEAR(hd->realised.routing.erank, s.routing.erank, 1e-12);
            CHECK(hd->realised.routing.n == s.routing.n && hd->realised.filtering.n == s.filtering.n);
            analysis_split_free(&s);
        }
    }
    CHECK(am.layers[0].has_realised && am.layers[1].has_realised && !am.layers[2].has_realised);
    CHECK(!isnan(am.cascade) && !isnan(am.cascade_realised));
    analysis_model_free(&am);
    data_free(&ds);
    model_free(&m);
    /* errors: a window longer than the context, --n-head that disagrees */
    struct analysis_options too_long = { 0, data, 13 }, wrong_heads = { 3, NULL, 0 };
    check_err(t_, path, &too_long, "--tokens 13");
    check_err(t_, path, &wrong_heads, "--n-head 3");
}

/* ---- the command line ----------------------------------------------------------------- */

TEST(analysis_cli_analyze)
{
    char dir[512], path[600], cfg[600], cmd[1600], err[CASCADE_ERR_MAX];
    subdir(dir, sizeof dir, "cli");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    REQUIRE_MSG(write_gpt2_f32(path, "", err) == 0, "%s", err);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    REQUIRE(test_write_text(cfg, "{\"n_head\": 2}") == 0);
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s analyze %s --heads", test_cascade_bin(), path);
    int rc = test_run(cmd, &out);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, out);
    CHECK(out && strstr(out, "hf-gpt2, 3 layers x 2 heads, C = 16"));
    CHECK(out && strstr(out, "cascade (Spearman of layer routing erank with depth): weight +1.000"));
    CHECK(out && strstr(out, "|########################################"));  /* the deepest layer's full bar */
    CHECK(out && strstr(out, "    2    1 softmax   8 |"));                     /* a --heads row */
    free(out);
    snprintf(cmd, sizeof cmd, "%s analyze %s --json", test_cascade_bin(), path);
    rc = test_run(cmd, &out);
    CHECK(rc == 0);
    cJSON *root = out ? cJSON_Parse(out) : NULL;
    CHECK_MSG(root != NULL, "--json output is not JSON: %.200s", out ? out : "");
    if (root) CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(root, "heads")) == KL * KH);
    cJSON_Delete(root);
    free(out);
    snprintf(cmd, sizeof cmd, "%s analyze %s/nope.bin", test_cascade_bin(), dir);
    rc = test_run(cmd, &out);
    CHECK(rc == 2);
    CHECK_MSG(out && strncmp(out, "cascade analyze: ", 17) == 0 && strstr(out, "nope.bin") &&
              strchr(out, '\n') == out + strlen(out) - 1, "%s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "%s analyze %s --n-head x", test_cascade_bin(), path);
    rc = test_run(cmd, &out);
    CHECK(rc == 2 && out && strstr(out, "--n-head"));
    free(out);
}
