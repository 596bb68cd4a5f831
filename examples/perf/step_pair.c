/* examples/perf/step_pair.c — the median time of a training step of the demo probe and
 * the tiny shape, for a paired comparison of two builds of trainer/ (paired.sh links this
 * file against each build's trainer objects and runs the two programs alternately).
 *
 * Usage: step_pair [STEPS]   (default 40 timed steps per shape, after 3 warm-up steps)
 * Prints one line per shape: "NAME median MS (TOKENS tok/s, GFLOP/s) mean MS min MS".
 * The model's step functions are called directly, as `cascade bench` does, on random
 * tokens; threads: OMP_NUM_THREADS (OpenBLAS core: OPENBLAS_CORETYPE, which paired.sh
 * sets to what cascade itself would pick).
 */
#include "trainer/trainer.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int time_shape(const char *name, int L, int C, int H, int T, int B, enum attn_kind kind,
                      int layernorm, int steps)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    struct model_config mc = tc.model;
    mc.n_layer = L; mc.n_embd = C; mc.n_head = H; mc.seq_len = T; mc.layernorm = layernorm;
    mc.embed_scale = model_default_embed_scale(layernorm);
    for (int l = 0; l < L; l++) mc.layers[l] = (struct layer_arch){ kind, C / H, C / H };
    tc.model = mc;
    struct model m;
    char err[CASCADE_ERR_MAX];
    if (model_init(&m, &mc, 1, err) != 0) { fprintf(stderr, "step_pair: %s\n", err); return -1; }
    int32_t *in = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T);
    double *t = malloc(sizeof(double) * steps);
    if (!in || !tg || !t) { fprintf(stderr, "step_pair: out of memory\n"); return -1; }
    uint64_t rng = 5;
    for (int s = -3; s < steps; s++) {
        for (int i = 0; i < B * T; i++) {
            in[i] = (int32_t)(trainer_rng_next(&rng) % 256);
            tg[i] = (int32_t)(trainer_rng_next(&rng) % 256);
        }
        double t0 = omp_get_wtime();
        model_zero_grad(&m);
        if (model_forward(&m, in, tg, B, T, NULL, err) != 0) { fprintf(stderr, "step_pair: %s\n", err); return -1; }
        model_backward(&m);
        model_clip_and_step(&m, &tc, 1e-3f);
        if (s >= 0) t[s] = omp_get_wtime() - t0;
    }
    double sum = 0;
    for (int s = 0; s < steps; s++) sum += t[s];
    qsort(t, (size_t)steps, sizeof t[0], cmp_double);
    double med = t[steps / 2], fpt = model_config_train_flops_per_token(&mc, T);
    printf("%-5s median %.3f ms (%.0f tok/s, %.1f GFLOP/s)  mean %.3f ms  min %.3f ms\n", name, 1e3 * med,
           B * T / med, fpt * B * T / med / 1e9, 1e3 * sum / steps, 1e3 * t[0]);
    model_free(&m);
    free(in); free(tg); free(t);
    return 0;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 40;
    if (steps < 1) { fprintf(stderr, "step_pair: STEPS must be a positive number\n"); return 2; }
    int rc = time_shape("demo", 6, 128, 4, 128, 8, ATTN_SD, 0, steps);
    rc |= time_shape("tiny", 4, 128, 4, 128, 16, ATTN_SOFTMAX, 1, steps);
    return rc ? 1 : 0;
}
