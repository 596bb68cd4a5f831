/* tests/test_bad_input.c — regression tests for the defects an audit of bad inputs found
 * (issue "every bad input gets its one-line error"): inconsistent checkpoints, files that
 * are not regular files, one reader for every command. Each test failed before its fix.
 */
#include "test.h"
#include "analysis/analysis.h"
#include "search/campaign.h"
#include "trainer/trainer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* `bytes` bytes of a repeated English sentence at path; 0 on success. */
static int write_text_corpus(const char *path, size_t bytes)
{
    static const char line[] = "the jury said the county election was\n";
    char *text = malloc(bytes);
    if (!text) return -1;
    for (size_t i = 0; i < bytes; i++) text[i] = line[i % (sizeof line - 1)];
    int rc = test_write_file(path, text, bytes);
    free(text);
    return rc;
}

/* A small training config over `data` (seq_len T, batch B), written to `path`. */
static void write_train_config(const char *path, const char *data, int T, int B, int steps, int log_every)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"data\": {\"path\": \"%s\", \"val_fraction\": 0.1}, \"model\": {\"n_layer\": 1, "
             "\"n_embd\": 8, \"n_head\": 2, \"seq_len\": %d}, \"train\": {\"steps\": %d, \"batch_size\": %d, "
             "\"log_every\": %d, \"eval_every\": 0, \"eval_batches\": 1, \"checkpoint_every\": 0, \"threads\": 1}}",
             data, T, steps, B, log_every);
    test_write_text(path, text);
}

/* A small model with an S–D layer, saved as a checkpoint at `path`. */
static int save_small(const char *path, char *err)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    struct model_config *mc = &tc.model;
    mc->n_layer = 2;
    mc->n_embd = 8;
    mc->n_head = 2;
    mc->seq_len = 8;
    mc->layers[0] = (struct layer_arch){ ATTN_SD, 4, 4 };
    mc->layers[1] = (struct layer_arch){ ATTN_SOFTMAX, 4, 4 };
    struct model m;
    if (model_init(&m, mc, 5, err) != 0) return -1;
    for (size_t i = 0; i < m.n_params; i++) { m.adam_m[i] = 0.01f; m.adam_v[i] = 0.02f; }
    m.step = 3;
    struct checkpoint_info info = { 3, 1.5, 2.0 };
    int rc = checkpoint_save(path, &m, &tc, &info, err);
    model_free(&m);
    return rc;
}

/* Rewrites checkpoint `in` to `out` through the safetensors writer: tensor `skip` left
 * out, tensor `poison` given a NaN, metadata `key` set to `value` (NULL: unchanged). */
static int rewrite(const char *in, const char *out, const char *skip, const char *poison,
                   const char *key, const char *value, char *err)
{
    struct st_file f;
    if (st_open(&f, in, err) != 0) return -1;
    struct st_write_tensor *ts = calloc((size_t)f.n_tensors, sizeof *ts);
    float **data = calloc((size_t)f.n_tensors, sizeof *data);
    int n = 0, rc = -1;
    for (int i = 0; i < f.n_tensors; i++) {
        const struct st_tensor *t = &f.tensors[i];
        if (skip && strcmp(t->name, skip) == 0) continue;
        data[n] = malloc(sizeof(float) * (st_numel(t) + 1));
        if (st_read_f32(&f, t, data[n], err) != 0) goto done;
        if (poison && strcmp(t->name, poison) == 0) data[n][0] = NAN;
        ts[n] = (struct st_write_tensor){ t->name, t->ndim, { t->shape[0], t->shape[1] }, data[n] };
        n++;
    }
    static const char *const keys[] = { "format", "format_version", "model_config", "train_config", "step",
                                        "val_loss", "params_total", "params_attention", "train_seconds" };
    const char *vals[9];
    for (int k = 0; k < 9; k++) {
        vals[k] = st_metadata_get(&f, keys[k]);
        if (key && strcmp(keys[k], key) == 0) vals[k] = value;
    }
    rc = st_write(out, ts, n, keys, vals, 9, err);
done:
    for (int i = 0; i < n; i++) free(data[i]);
    free(data);
    free(ts);
    st_close(&f);
    return rc;
}

/* checkpoint_load(path) fails with one line that names the file and contains `what`. */
static void expect_load_error(struct test_ctx *t_, const char *path, const char *what)
{
    struct model m;
    struct train_config tc;
    struct checkpoint_info info;
    char err[CASCADE_ERR_MAX] = "";
    int rc = checkpoint_load(path, &m, &tc, &info, err);
    CHECK_MSG(rc == -1, "%s: loaded, expected an error containing '%s'", path, what);
    if (rc == 0) { model_free(&m); return; }
    CHECK_MSG(strstr(err, path) && strstr(err, what), "%s: error lacks '%s': %s", path, what, err);
    CHECK_MSG(!strchr(err, '\n'), "two-line error: %s", err);
    /* without the info and config out-parameters (eval) the same checks apply */
    rc = checkpoint_load(path, &m, NULL, NULL, err);
    CHECK_MSG(rc == -1, "%s: loaded without info/config (eval's call)", path);
    if (rc == 0) model_free(&m);
}

TEST(bad_checkpoint_metadata_values_are_refused)
{
    char err[CASCADE_ERR_MAX], good[512], bad[600];
    test_tmppath(good, sizeof good, "meta_good.safetensors");
    REQUIRE_MSG(save_small(good, err) == 0, "%s", err);
    static const struct { const char *key, *value, *what; } cases[] = {
        { "step", "99999999999999999999", "__metadata__.step: '99999999999999999999' is not a step count" },
        { "step", "-1", "__metadata__.step" },
        { "step", "12abc", "__metadata__.step" },
        { "step", "1\n2", "__metadata__.step: '1?2'" },
        { "val_loss", "abc", "__metadata__.val_loss: 'abc' is not a loss" },
        { "val_loss", "", "__metadata__.val_loss" },
        { "train_seconds", "nan", "__metadata__.train_seconds: 'nan' is not a duration" },
        { "train_config", "{\"train\": {\"steps\": ", "__metadata__.train_config: not valid JSON" },
        { "train_config", "{\"train\": {\"steps\": -4}}", "__metadata__.train_config.train.steps" },
        { "format", "other", "__metadata__.format" },
        { "format_version", "2", "__metadata__.format_version" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(bad, sizeof bad, "%s.%zu", good, i);
        REQUIRE_MSG(rewrite(good, bad, NULL, NULL, cases[i].key, cases[i].value, err) == 0, "%s", err);
        expect_load_error(t_, bad, cases[i].what);
    }
    /* the unchanged rewrite loads: the cases above fail for their one change */
    snprintf(bad, sizeof bad, "%s.same", good);
    REQUIRE_MSG(rewrite(good, bad, NULL, NULL, NULL, NULL, err) == 0, "%s", err);
    struct model m;
    struct checkpoint_info info;
    CHECK_MSG(checkpoint_load(bad, &m, NULL, &info, err) == 0, "%s", err);
    CHECK(m.step == 3 && info.val_loss == 1.5 && info.train_s == 2.0);
    model_free(&m);
}

TEST(bad_checkpoint_tensors_are_refused)
{
    char err[CASCADE_ERR_MAX], good[512], bad[600];
    test_tmppath(good, sizeof good, "tens_good.safetensors");
    REQUIRE_MSG(save_small(good, err) == 0, "%s", err);
    /* a missing moment: refused, not resumed with zero moments */
    snprintf(bad, sizeof bad, "%s.nomoment", good);
    REQUIRE(rewrite(good, bad, "optim.v.h.0.attn.s", NULL, NULL, NULL, err) == 0);
    expect_load_error(t_, bad, "optim.m/v.h.0.attn.s' is missing");
    /* NaN moments */
    snprintf(bad, sizeof bad, "%s.nanmoment", good);
    REQUIRE(rewrite(good, bad, NULL, "optim.m.wpe", NULL, NULL, err) == 0);
    expect_load_error(t_, bad, "tensor 'optim.m.wpe' holds NaN or inf");
    /* a model_config that claims far more parameters than the file holds: refused before
     * allocating it (4096 x 16384 ~ 1.1 G parameters, 4.5 GB, against ~3 KB of tensors) */
    snprintf(bad, sizeof bad, "%s.huge", good);
    REQUIRE(rewrite(good, bad, NULL, NULL, "model_config",
                    "{\"vocab_size\": 256, \"n_layer\": 4, \"n_embd\": 16384, \"n_head\": 16, \"seq_len\": 4096, "
                    "\"layernorm\": false, \"attention\": \"softmax\"}", err) == 0);
    expect_load_error(t_, bad, "__metadata__.model_config describes");
}

/* Two tensors whose data_offsets overlap (both [0, 8)) in a hand-made file. */
TEST(bad_safetensors_overlapping_offsets_are_refused)
{
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    const char *gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    const char *texts[2] = { hdr, gap }, *whats[2] = { "overlap tensor", "unused" };
    for (int k = 0; k < 2; k++) {
        uint8_t buf[512] = { 0 };
        size_t n = strlen(texts[k]);
        for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
        memcpy(buf + 8, texts[k], n);
        char path[512];
        test_tmppath(path, sizeof path, k ? "gap.safetensors" : "overlap.safetensors");
        REQUIRE(test_write_file(path, buf, 8 + n + (k ? 12 : 8)) == 0);
        struct st_file f;
        char err[CASCADE_ERR_MAX] = "";
        CHECK_MSG(st_open(&f, path, err) == -1 && strstr(err, whats[k]) && strstr(err, path), "%s", err);
    }
}

/* A header that starts with spaces is valid safetensors: eval and analyze agree. */
TEST(bad_input_one_reader_for_eval_and_analyze)
{
    char err[CASCADE_ERR_MAX], good[512], spaced[600];
    test_tmppath(good, sizeof good, "one_reader.safetensors");
    REQUIRE_MSG(save_small(good, err) == 0, "%s", err);
    size_t len;
    uint8_t *b = (uint8_t *)test_read_file(good, &len);
    REQUIRE(b && len > 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    uint8_t *c = malloc(len + 3);
    uint64_t n2 = n + 3;
    for (int i = 0; i < 8; i++) c[i] = (uint8_t)(n2 >> (8 * i));
    memcpy(c + 8, "   ", 3);
    memcpy(c + 11, b + 8, len - 8);
    snprintf(spaced, sizeof spaced, "%s.spaced", good);
    REQUIRE(test_write_file(spaced, c, len + 3) == 0);
    free(b);
    free(c);
    struct model m;
    CHECK_MSG(checkpoint_load(spaced, &m, NULL, NULL, err) == 0, "%s", err);
    model_free(&m);
    struct analysis_model am;
    CHECK_MSG(analysis_model_file(&am, spaced, NULL, err) == 0, "analyze: %s", err);
    analysis_model_free(&am);
}

/* A named pipe where a file is expected is refused at once by every command, never
 * waited on (each command runs under `timeout 20`: 124 would mean it hung). */
TEST(bad_input_named_pipe_is_refused)
{
    char fifo[512], cmd[2048], *out = NULL;
    test_tmppath(fifo, sizeof fifo, "pipe");
    REQUIRE(mkfifo(fifo, 0600) == 0);
    const char *const forms[] = {
        "eval --checkpoint %s", "train --config %s", "search --config %s --db %s.db", "analyze %s",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char args[1200];
        snprintf(args, sizeof args, forms[i], fifo, fifo);
        snprintf(cmd, sizeof cmd, "timeout 20 %s %s 2>&1", test_cascade_bin(), args);
        int rc = test_run(cmd, &out);
        CHECK_MSG(rc == 2 && strstr(out, "not a regular file (a named pipe)") && strstr(out, fifo),
                  "%s: rc %d: %s", args, rc, out);
        free(out);
    }
    /* a token file that is a pipe (through a config naming it) */
    char cfg[512];
    test_tmppath(cfg, sizeof cfg, "pipe_data.json");
    write_train_config(cfg, fifo, 8, 2, 1, 1);
    snprintf(cmd, sizeof cmd, "timeout 20 %s train --config %s 2>&1", test_cascade_bin(), cfg);
    int rc = test_run(cmd, &out);
    CHECK_MSG(rc == 2 && strstr(out, "not a regular file (a named pipe)"), "rc %d: %s", rc, out);
    free(out);
}

/* Campaign configs go through the trainer's config reader: duplicate keys anywhere, a NUL
 * byte, a key with a newline in it get the same one-line errors as a training config. */
TEST(bad_campaign_config_is_read_like_a_training_config)
{
    static const struct { const char *text; size_t len; const char *what; } cases[] = {
        { "{\"name\": \"a\", \"name\": \"b\"}", 0, "name: duplicate key" },
        { "{\"name\": \"a\", \"model\": {}, \"model\": {\"n_layer\": 2}}", 0, "model: duplicate key" },
        { "{\"name\": \"a\", \"search\": {}, \"search\": {}}", 0, "search: duplicate key" },
        { "{\"name\": \"a\", \"search\": {\"max_prefix\": 1, \"max_prefix\": 2}}", 0, "search.max_prefix: duplicate key" },
        { "{\"name\": \"a\", \"search\": {\"multipliers\": [1], \"multipliers\": [2]}}", 0,
          "search.multipliers: duplicate key" },
        { "{\"name\": \"a\", \"search\": {\"bad\nkey\": 1}}", 0, "search.bad?key: unknown key" },
        { "{\"name\": \"a\"}\0{\"search\": 5}", 27, "contains a NUL byte at offset 13" },
        { "{\"name\": \"a\", \"search\": {\"head_dim_min\": 2.5}}", 0,
          "search.head_dim_min: expected an integer in 1..1024, got 2.5" },
        { "{\"name\": \"a\", \"search\": {\"max_prefix\": 9}}", 0,
          "search.max_prefix: expected an integer in 0..4 (model.n_layer), got 9" },
        { "{\"name\": \"a\", \"search\": 3}", 0, "search: expected an object, got 3" },
        { "{\"search\": {}}", 0, "name: missing" },
        { "{\"name\": \"a\",\n \"search\": {\"control\": tru}}", 0, "line 2, column" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], err[CASCADE_ERR_MAX] = "";
        snprintf(path, sizeof path, "%s/campaign_%zu.json", test_tmpdir(), i);
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        REQUIRE(test_write_file(path, cases[i].text, len) == 0);
        struct campaign_config cc;
        int rc = campaign_config_load(&cc, path, err);
        CHECK_MSG(rc == -1, "case %zu loaded", i);
        if (rc == 0) { campaign_config_free(&cc); continue; }
        CHECK_MSG(strstr(err, path) && strstr(err, cases[i].what) && !strchr(err, '\n'),
                  "case %zu: error lacks '%s': %s", i, cases[i].what, err);
    }
}

/* Bad input to `train` exits 2 with one line (it exited 1, reading an uninitialised model). */
TEST(bad_input_train_exits_2)
{
    char data[512], cfg[512], ck[512], cmd[2048], *out = NULL;
    test_tmppath(data, sizeof data, "short.txt");
    REQUIRE(test_write_text(data, "far too short for a window of 64 tokens") == 0);
    test_tmppath(cfg, sizeof cfg, "short.json");
    write_train_config(cfg, data, 64, 2, 2, 1);
    snprintf(cmd, sizeof cmd, "%s train --config %s 2>&1 >/dev/null", test_cascade_bin(), cfg);
    int rc = test_run(cmd, &out);
    CHECK_MSG(rc == 2 && strstr(out, data) && strchr(out, '\n') == out + strlen(out) - 1, "rc %d: %s", rc, out);
    free(out);
    /* a truncated checkpoint given to --resume */
    test_tmppath(data, sizeof data, "long.txt");
    REQUIRE(write_text_corpus(data, 4096) == 0);
    test_tmppath(cfg, sizeof cfg, "long.json");
    write_train_config(cfg, data, 16, 2, 2, 1);
    test_tmppath(ck, sizeof ck, "long.safetensors");
    snprintf(cmd, sizeof cmd, "%s train --config %s --out %s >/dev/null 2>&1 && head -c 500 %s > %s.t && mv %s.t %s && "
             "%s train --config %s --out %s --resume 2>&1 >/dev/null", test_cascade_bin(), cfg, ck, ck, ck, ck, ck,
             test_cascade_bin(), cfg, ck);
    rc = test_run(cmd, &out);
    CHECK_MSG(rc == 2 && strstr(out, ck), "rc %d: %s", rc, out);
    free(out);
}

/* Ctrl-C stops after the current step, not at the next log_every (here 10^6 steps away),
 * and says "stopped", not "already at step". */
TEST(train_ctrl_c_stops_after_the_current_step)
{
    char data[512], cfg[512], ck[512], cmd[2048], *out = NULL;
    test_tmppath(data, sizeof data, "ctrlc.txt");
    REQUIRE(write_text_corpus(data, 8192) == 0);
    test_tmppath(cfg, sizeof cfg, "ctrlc.json");
    write_train_config(cfg, data, 16, 2, 100000000, 1000000);
    test_tmppath(ck, sizeof ck, "ctrlc.safetensors");
    /* SIGINT once training has begun (its banner printed; an MPI build starts MPI first) */
    snprintf(cmd, sizeof cmd, "%s train --config %s --out %s > %s.log 2>&1 & p=$!; i=0; "
             "while [ $i -lt 3000 ] && ! grep -q '^data:' %s.log; do i=$((i+1)); sleep 0.01; done; sleep 0.3; "
             "kill -INT $p; i=0; while [ $i -lt 6000 ] && kill -0 $p 2>/dev/null; do i=$((i+1)); sleep 0.01; done; "
             "kill -9 $p 2>/dev/null; wait $p; rc=$?; cat %s.log; exit $rc", test_cascade_bin(), cfg, ck, ck, ck, ck);
    int rc = test_run(cmd, &out);
    CHECK_MSG(rc == 130 && strstr(out, "stopped at step") && !strstr(out, "already at step"), "rc %d: %s", rc, out);
    free(out);
    struct model m;
    struct checkpoint_info info;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(checkpoint_load(ck, &m, NULL, &info, err) == 0, "%s", err);
    CHECK_MSG(m.step > 0 && m.step < 100000000, "step %lld", (long long)m.step);
    model_free(&m);
}

/* A batch whose activations cannot fit is refused before training, with the estimate
 * (it was reported as "training diverged at step 1": the forward pass returned NaN). */
TEST(bad_input_too_large_batch_is_refused_with_the_estimate)
{
    char data[512], cfg[512], cmd[2048], *out = NULL;
    test_tmppath(data, sizeof data, "mem.txt");
    REQUIRE(test_write_text(data, "some text for the memory check, long enough to be a file\n") == 0);
    test_tmppath(cfg, sizeof cfg, "mem.json");
    write_train_config(cfg, data, 65536, 64, 1, 1);
    snprintf(cmd, sizeof cmd, "%s train --config %s 2>&1 >/dev/null", test_cascade_bin(), cfg);
    int rc = test_run(cmd, &out);
    CHECK_MSG(rc == 2 && strstr(out, cfg) && strstr(out, "train.batch_size x model.seq_len = 64 x 65536 needs") &&
              strstr(out, "GiB of memory") && !strstr(out, "diverged"), "rc %d: %s", rc, out);
    free(out);
    /* the estimate is the block the forward pass lays out */
    struct model_config mc;
    char err[CASCADE_ERR_MAX];
    REQUIRE(model_config_from_json_string(&mc, "{\"n_layer\": 1, \"n_embd\": 8, \"n_head\": 2, \"seq_len\": 65536}",
                                          "t", err) == 0);
    CHECK(trainer_check_memory(&mc, 64, 65536, "t", err) == -1);
    CHECK(trainer_check_memory(&mc, 1, 64, "t", err) == 0);
    CHECK(model_activation_floats(&mc, 64, 65536, 1) > (size_t)64 * 65536 * 2 * 65536);   /* the B x H x T x T scores */
}
