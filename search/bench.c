/* search/bench.c — `cascade bench`: training throughput against the machine's own sgemm
 * peak. Nothing here is asserted; the numbers are for the README and closing notes.
 *
 * Reported per shape: tokens/s of full training steps (forward + backward + AdamW on
 * random tokens), achieved GFLOP/s = tokens/s x model_config_train_flops_per_token()
 * (3 x forward: 2 FLOPs per matmul weight per token incl. the tied head, plus the
 * attention terms; README "FLOP formula"), and that as a fraction of the sgemm peak
 * measured in the same run (best of square sgemms n = 512, 1024, 2048).
 */
#include "search/cli.h"
#include "trainer/trainer.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static double sgemm_peak_gflops(int quick)
{
    double best = 0.0;
    for (int n = 512; n <= (quick ? 1024 : 2048); n *= 2) {
        float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
              *c = malloc(sizeof(float) * n * n);
        for (long i = 0; i < (long)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        int reps = n <= 512 ? 40 : n <= 1024 ? 8 : 3;
        double t = cli_now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        t = cli_now() - t;
        double g = 2.0 * n * n * (double)n * reps / t / 1e9;
        if (g > best) best = g;
        free(a); free(b); free(c);
    }
    return best;
}

/* Times `steps` training steps of mc at batch B; returns tokens/s. */
static double train_tokens_per_s(const struct model_config *mc, int B, int steps)
{
    struct model m;
    char err[CASCADE_ERR_MAX];
    if (model_init(&m, mc, 1, err) != 0) { fprintf(stderr, "cascade bench: %s\n", err); return 0; }
    struct train_config tc;
    trainer_config_defaults(&tc);
    tc.model = *mc;
    int T = mc->seq_len;
    int32_t *in = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T);
    int ok = in && tg;
    if (!ok) snprintf(err, CASCADE_ERR_MAX, "out of memory for a %d x %d batch", B, T);
    uint64_t rng = 5;
    for (int i = 0; ok && i < B * T; i++) { in[i] = trainer_rng_next(&rng) % mc->vocab_size; tg[i] = trainer_rng_next(&rng) % mc->vocab_size; }
    double t0 = 0;
    for (int s = -2; ok && s < steps; s++) { /* two warm-up steps lay out memory */
        if (s == 0) t0 = cli_now();
        model_zero_grad(&m);
        ok = model_forward(&m, in, tg, B, T, NULL, err) == 0;
        if (!ok) break;
        model_backward(&m);
        model_clip_and_step(&m, &tc, 1e-3f);
    }
    double dt = cli_now() - t0;
    free(in); free(tg);
    model_free(&m);
    if (!ok) { fprintf(stderr, "cascade bench: %s\n", err); return 0; }
    return (double)steps * B * T / dt;
}

static void shape(struct model_config *mc, int L, int C, int H, int T, enum attn_kind kind, int layernorm)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    *mc = tc.model;
    mc->n_layer = L; mc->n_embd = C; mc->n_head = H; mc->seq_len = T; mc->layernorm = layernorm;
    mc->embed_scale = model_default_embed_scale(layernorm);
    for (int l = 0; l < L; l++) mc->layers[l] = (struct layer_arch){ kind, C / H };
}

int cmd_bench(int argc, char **argv)
{
    const char *cmd = "bench", *v;
    long threads = 0;
    int quick = 0, r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(argc, argv, &i, cmd, "--threads", &v))) {
            if (r < 0 || cli_long(cmd, "--threads", v, 0, 1024, &threads) < 0) return 2;
            continue;
        }
        if (strcmp(argv[i], "--quick") == 0) { quick = 1; continue; }
        return cli_unknown(cmd, argv[i]);
    }
    cli_set_threads(threads);
    char core[256];
    blas_core_describe(core, sizeof core);
    char cpu[256];
    cli_cpu_model(cpu, sizeof cpu);
    printf("cascade bench: %s, %d threads, BLAS core %s\n", cpu, omp_get_max_threads(), core);
    double peak = sgemm_peak_gflops(quick);
    printf("sgemm peak (best square n=512..%d): %.1f GFLOP/s\n\n", quick ? 1024 : 2048, peak);

    printf("%-28s %10s %12s %9s %8s\n", "training step", "tokens/s", "GFLOP/token", "GFLOP/s", "of peak");
    struct { const char *name; int L, C, H, T, B, steps; } shapes[] = {
        { "tiny  (L4 C128 H4 T128 B16)", 4, 128, 4, 128, 16, 20 },
        { "small (L6 C256 H4 T256 B8)", 6, 256, 4, 256, 8, 10 },
    };
    for (int s = 0; s < 2; s++) {
        struct model_config mc;
        shape(&mc, shapes[s].L, shapes[s].C, shapes[s].H, shapes[s].T, ATTN_SOFTMAX, 1);
        double tps = train_tokens_per_s(&mc, shapes[s].B, quick ? 3 : shapes[s].steps);
        double fpt = model_config_train_flops_per_token(&mc, mc.seq_len);
        printf("%-28s %10.0f %12.5f %9.1f %7.1f%%\n", shapes[s].name, tps, fpt / 1e9, tps * fpt / 1e9,
               100.0 * tps * fpt / 1e9 / peak);
        fflush(stdout);
    }

    printf("\nattention kinds, L4 C128 H4 d32, %d tokens per batch: training tokens/s\n", 4096);
    printf("%-8s %10s %10s %10s\n", "T", "softmax", "sd", "linear");
    int Ts[3] = { 128, 512, 1024 };
    for (int i = 0; i < 3; i++) {
        printf("%-8d", Ts[i]);
        for (int k = 0; k < 3; k++) {
            struct model_config mc;
            shape(&mc, 4, 128, 4, Ts[i], (enum attn_kind)k, k == ATTN_SOFTMAX);
            printf(" %10.0f", train_tokens_per_s(&mc, 4096 / Ts[i], quick ? 2 : 6));
            fflush(stdout);
        }
        printf("\n");
    }
    return 0;
}
