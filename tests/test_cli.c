/* tests/test_cli.c — the trainer's command line: one-line errors with exit status 2 for
 * bad flags, configs, data and checkpoints; train / resume / eval on a small text file;
 * the OpenBLAS core check (a pure choice per CPU, and the re-exec on a fake CPU); the
 * command line's durations, the reports' format. */
#include "test.h"
#include "search/cli.h"
#include "reports/report.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cli(char **out, const char *fmt, const char *a, const char *b)
{
    char args[2048], cmd[4096];
    snprintf(args, sizeof args, fmt, a, b);
    snprintf(cmd, sizeof cmd, "%s %s", test_cascade_bin(), args);
    return test_run(cmd, out);
}

/* a config over a small text file the test writes */
static void small_setup(char *cfg, size_t n)
{
    char corpus[512], text[1024];
    test_tmppath(corpus, sizeof corpus, "cli_corpus.txt");
    char *t = malloc(30000);
    for (int i = 0; i < 30000; i++) t[i] = "the jury said the county election was fair.\n"[i % 45];
    test_write_file(corpus, t, 30000);
    free(t);
    snprintf(text, sizeof text,
             "{\"data\": {\"path\": \"%s\", \"val_fraction\": 0.1},\n"
             " \"model\": {\"n_layer\": 2, \"n_embd\": 16, \"n_head\": 2, \"seq_len\": 16, \"attention\": \"sd\", \"layernorm\": false},\n"
             " \"train\": {\"steps\": 20, \"batch_size\": 4, \"log_every\": 10, \"eval_every\": 10, \"eval_batches\": 2, \"threads\": 1}}\n",
             corpus);
    test_tmppath(cfg, n, "cli.json");
    test_write_text(cfg, text);
}

TEST(cli_bad_input_is_one_line_and_exit_2)
{
    char cfg[512], bad[512], *out = NULL;
    small_setup(cfg, sizeof cfg);
    test_tmppath(bad, sizeof bad, "cli_bad.json");
    test_write_text(bad, "{\"train\": {\"stepz\": 3}}");
    int rc = cli(&out, "train --config %s%s", bad, "");
    CHECK_MSG(rc == 2 && strstr(out, "cli_bad.json") && strstr(out, "train.stepz"), "rc %d: %s", rc, out);
    CHECK(strchr(out, '\n') == out + strlen(out) - 1);   /* exactly one line */
    free(out);
    rc = cli(&out, "train --config %s%s", "/nonexistent/x.json", "");
    CHECK(rc == 2 && strstr(out, "/nonexistent/x.json"));
    free(out);
    rc = cli(&out, "train --config %s --steps %s", cfg, "many");
    CHECK(rc == 2 && strstr(out, "--steps"));
    free(out);
    rc = cli(&out, "train%s%s", "", "");
    CHECK(rc == 2 && strstr(out, "--config"));
    free(out);
    rc = cli(&out, "eval --checkpoint %s%s", cfg, "");   /* a JSON file is no checkpoint */
    CHECK_MSG(rc == 2 && strstr(out, "cli.json"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "frobnicate%s%s", "", "");
    CHECK(rc == 2 && strstr(out, "unknown command"));
    free(out);
}

TEST(cli_train_resume_eval)
{
    char cfg[512], ck[512], *out = NULL;
    small_setup(cfg, sizeof cfg);
    test_tmppath(ck, sizeof ck, "cli.safetensors");
    int rc = cli(&out, "train --config %s --out %s", cfg, ck);
    REQUIRE_MSG(rc == 0, "rc %d: %s", rc, out);
    CHECK(strstr(out, "step     10/20") && strstr(out, "bits per byte") && strstr(out, "ETA"));
    free(out);
    /* an existing checkpoint is not overwritten without --resume */
    rc = cli(&out, "train --config %s --out %s", cfg, ck);
    CHECK(rc == 2 && strstr(out, "--resume"));
    free(out);
    /* --resume with more steps continues from step 20 */
    char args[1200];
    snprintf(args, sizeof args, "%s --steps 30 --resume", ck);
    rc = cli(&out, "train --config %s --out %s", cfg, args);
    CHECK_MSG(rc == 0 && strstr(out, "resuming") && strstr(out, "step     30/30") && !strstr(out, "step     10/30"),
              "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "eval --checkpoint %s%s", ck, "");
    CHECK_MSG(rc == 0 && strstr(out, "val loss") && strstr(out, "perplexity") && strstr(out, "bits per byte"), "%s", out);
    free(out);
    /* a checkpoint in directories that do not exist yet (a fresh clone has no runs/) */
    char nested[600];
    snprintf(nested, sizeof nested, "%s.d/new/sub/x.safetensors", ck);
    rc = cli(&out, "train --config %s --steps 2 --out %s", cfg, nested);
    CHECK_MSG(rc == 0 && access(nested, F_OK) == 0, "rc %d: %s", rc, out);
    /* the summary names the embedding multiplier (the config has no LayerNorm: x32) */
    CHECK_MSG(strstr(out, "layernorm off, embeddings x32") != NULL, "%s", out);
    free(out);
}

/* The core decision over the CPUs the project meets (feature sets as the kernel reports
 * them) and the cores Debian's OpenBLAS 0.3.21 picks or may pick on them. */
TEST(blas_core_choice_table)
{
    const struct blas_cpu sse3 = { 0 };
    const struct blas_cpu avx2 = { .avx2 = 1, .fma = 1 };                     /* Haswell..Zen 3 */
    const struct blas_cpu avx512 = { 1, 1, 1, 1, 1, 1 };  /* Skylake-SP..Sapphire Rapids, Zen 4/5 */
    const struct blas_cpu knl = { 1, 1, 1, 0, 0, 0 };      /* AVX-512F without BW/DQ/VL */
    static const struct {
        const char *cpu, *have, *want;   /* want NULL: keep */
    } rows[] = {
        /* Intel Xeon Skylake-SP / Cascade Lake / Ice Lake-SP */
        { "avx512", "SkylakeX", NULL },
        { "avx512", "Prescott", "SkylakeX" },
        { "avx512", "Haswell", "SkylakeX" },
        { "avx512", "Sandybridge", "SkylakeX" },
        /* Intel Cooper Lake, Sapphire Rapids (AVX-512 + BF16/AMX) */
        { "avx512", "Cooperlake", NULL },
        { "avx512", "SapphireRapids", NULL },
        { "avx512", "sapphirerapids", NULL },
        /* AMD Zen 4 / Zen 5: 0.3.21 says Zen or Haswell (family 26), both AVX2 kernels */
        { "avx512", "Zen", "SkylakeX" },
        /* AMD Zen 2 / Zen 3, Intel Haswell..Skylake client: AVX2 kernels are right */
        { "avx2", "Zen", NULL },
        { "avx2", "Haswell", NULL },
        { "avx2", "Prescott", "Haswell" },
        { "avx2", "Nehalem", "Haswell" },
        { "avx2", "", "Haswell" },
        /* AVX-512F alone (Knights Landing): the AVX2 rule */
        { "knl", "Haswell", NULL },
        { "knl", "Prescott", "Haswell" },
        /* nothing wide: OpenBLAS' choice stands */
        { "sse3", "Prescott", NULL },
        { "sse3", "Core2", NULL },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct blas_cpu *cpu = strcmp(rows[i].cpu, "avx512") == 0 ? &avx512 :
                                     strcmp(rows[i].cpu, "avx2") == 0 ? &avx2 :
                                     strcmp(rows[i].cpu, "knl") == 0 ? &knl : &sse3;
        const char *got = blas_core_choose(rows[i].have, cpu);
        int ok = rows[i].want ? got && strcmp(got, rows[i].want) == 0 : got == NULL;
        CHECK_MSG(ok, "%s CPU, OpenBLAS chose '%s': want %s, got %s", rows[i].cpu, rows[i].have,
                  rows[i].want ? rows[i].want : "(keep)", got ? got : "(keep)");
    }
}

/* The re-exec, on a fake CPU (CASCADE_BLAS_CPU) so that it runs the same way on every
 * machine: AVX2 kernels exist on all of them. Nothing goes to stderr. */
TEST(cli_openblas_core_fallback_is_fixed)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "CASCADE_BLAS_CPU='avx2 fma' OPENBLAS_CORETYPE=Prescott %s info 2>&1 >/dev/null",
             test_cascade_bin());
    int rc = test_run(cmd, &out);
    CHECK_MSG(rc == 0 && out[0] == 0, "rc %d, stderr '%s'", rc, out);
    free(out);
    snprintf(cmd, sizeof cmd, "CASCADE_BLAS_CPU='avx2 fma' OPENBLAS_CORETYPE=Prescott %s info", test_cascade_bin());
    rc = test_run(cmd, &out);
    REQUIRE(rc == 0);
    CHECK_MSG(strstr(out, "BLAS core: Haswell (OpenBLAS had chosen 'Prescott' for this CPU; cascade re-ran "
                          "itself with OPENBLAS_CORETYPE=Haswell)") != NULL, "%s", out);
    free(out);
    /* a core that fits is kept: no re-exec */
    snprintf(cmd, sizeof cmd, "CASCADE_BLAS_CPU='avx2 fma' OPENBLAS_CORETYPE=Haswell %s info", test_cascade_bin());
    rc = test_run(cmd, &out);
    CHECK_MSG(rc == 0 && strstr(out, "BLAS core: Haswell\n") && !strstr(out, "re-ran"), "%s", out);
    free(out);
    /* CASCADE_KEEP_BLAS_CORE=1 leaves the choice alone */
    snprintf(cmd, sizeof cmd, "CASCADE_KEEP_BLAS_CORE=1 CASCADE_BLAS_CPU='avx2 fma' OPENBLAS_CORETYPE=Prescott %s info",
             test_cascade_bin());
    rc = test_run(cmd, &out);
    CHECK_MSG(rc == 0 && strstr(out, "BLAS core: Prescott\n") && !strstr(out, "re-ran"), "%s", out);
    free(out);
}

TEST(cli_durations_are_the_reports_with_unknown_as_a_question_mark)
{
    const double secs[] = { 0, 0.4, 12.4, 59.6, 185, 3599.4, 3725, 90061 };
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        char a[32], b[32];
        cli_format_duration(a, sizeof a, secs[i]);
        report_fmt_duration(b, sizeof b, secs[i]);
        CHECK_MSG(strcmp(a, b) == 0, "%g s: %s vs %s", secs[i], a, b);
    }
    char s[32];
    cli_format_duration(s, sizeof s, 3725);
    CHECK(strcmp(s, "1h02m") == 0);
    cli_format_duration(s, sizeof s, NAN);
    CHECK(strcmp(s, "?") == 0);
    cli_format_duration(s, sizeof s, -1);
    CHECK(strcmp(s, "?") == 0);
    report_fmt_duration(s, sizeof s, NAN);
    CHECK(strcmp(s, "–") == 0);
}
