/* search/bench.c — `cascade bench`: training throughput against the machine's own sgemm
 * peak, where a step's time goes, and what sharing the cores costs. Nothing here is
 * asserted; the numbers are for docs/performance.md and closing notes.
 *
 * Reported per shape: tokens/s of full training steps (batch sampling + forward +
 * backward + clipping + AdamW, on a synthetic corpus of random tokens; the median of
 * BENCH_WINDOWS timed windows, with the slowest and fastest beside it), achieved GFLOP/s =
 * tokens/s x model_config_train_flops_per_token() (3 x forward: 2 FLOPs per matmul weight
 * per token incl. the tied head, plus the attention terms; docs/performance.md, "FLOP formula"), and
 * that as a fraction of the sgemm peak measured in the same run (sgemm_peak_gflops).
 * --profile adds, per shape, the time of a step split by op (struct model_profile) plus
 * batch sampling ("data"); "other" is the step's time outside any timed op.
 * --sharing adds two measurements of the cores under other work, both through the
 * training loop itself (trainer_train, train.threads 0, so its thread governor acts):
 *   side by side: one run with every thread, then one 1-thread run per thread at once
 *                 (each its own process), total tokens/s of each (the comparison
 *                 search.parallel "auto" makes, there with threads of one process);
 *   neighbour:    the run with every thread beside equal-priority busy processes, one per
 *                 thread; its fair share is threads / (2 x threads) = half of alone.
 */
#include "search/cli.h"
#include "trainer/trainer.h"

#include <assert.h>
#include <cblas.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The machine's sgemm peak: the best of PEAK_PASSES passes over square sgemms n = 512,
 * 1024, 2048 with all threads (quick: one pass, n <= 1024). One pass took about a fifth
 * of a second and read 277-388 GFLOP/s on a shared 2-vCPU Zen 5 (issue 21): a pass that
 * met a busy neighbour made every fraction of it too high. The best of several is the
 * conservative figure: fractions of it can only come out lower. */
#define PEAK_PASSES 5

static double sgemm_peak_gflops(int quick)
{
    double best = 0.0;
    int nmax = quick ? 1024 : 2048;
    float *a = malloc(sizeof(float) * nmax * nmax), *b = malloc(sizeof(float) * nmax * nmax),
          *c = malloc(sizeof(float) * nmax * nmax);
    if (!a || !b || !c) { free(a); free(b); free(c); return 0.0; }
    /* filled once: an n x n operand is the first n*n floats */
    for (long i = 0; i < (long)nmax * nmax; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    for (int pass = 0; pass < (quick ? 1 : PEAK_PASSES); pass++)
        for (int n = 512; n <= nmax; n *= 2) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            int reps = n <= 512 ? 40 : n <= 1024 ? 8 : 3;
            double t = cli_now();
            for (int r = 0; r < reps; r++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            t = cli_now() - t;
            double g = 2.0 * n * n * (double)n * reps / t / 1e9;
            if (g > best) best = g;
        }
    free(a); free(b); free(c);
    return best;
}

#define BENCH_WINDOWS 5   /* timed windows per shape (--quick: 1) */

struct bench_shape {
    const char *name;
    int L, C, H, T, B, steps;
    enum attn_kind kind;
    int layernorm;
};

static void shape_config(struct model_config *mc, const struct bench_shape *s)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    *mc = tc.model;
    mc->n_layer = s->L; mc->n_embd = s->C; mc->n_head = s->H; mc->seq_len = s->T;
    mc->layernorm = s->layernorm;
    mc->embed_scale = model_default_embed_scale(s->layernorm);
    for (int l = 0; l < s->L; l++) mc->layers[l] = (struct layer_arch){ s->kind, s->C / s->H, s->C / s->H };
}

/* A corpus of random tokens, large enough for any shape here. */
static int synthetic_dataset(struct dataset *ds, int vocab)
{
    memset(ds, 0, sizeof *ds);
    ds->n_tokens = ds->n_train = 1 << 20;
    ds->vocab_size = vocab;
    ds->tokens = malloc(ds->n_tokens * sizeof(int32_t));
    if (!ds->tokens) return -1;
    uint64_t rng = 5;
    for (size_t i = 0; i < ds->n_tokens; i++) ds->tokens[i] = (int32_t)(trainer_rng_next(&rng) % (uint64_t)vocab);
    snprintf(ds->path, sizeof ds->path, "%s", "(random tokens)");
    return 0;
}

/* Training speed of one shape over `windows` timed windows of `steps` steps each (after
 * two warm-up steps), in tokens/s. The median window is the figure reported: on a shared
 * or virtual machine a window can lose a fifth of its speed to other work, and one window
 * of a second was what `make bench` printed before (issue 21: the same binary gave 54.9%
 * and 62.0% of the peak in two runs a minute apart). lo, hi: the slowest and fastest
 * window; mean: all windows together (what the profile's times add up to). */
struct step_rate {
    double median, mean, lo, hi;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Calls the model's step functions directly (not trainer_train) so that the profile can
 * be attached; 0 on success, -1 on error (printed). With prof, the per-op times of every
 * timed step are accumulated there and *data_s gets the batch sampling time. */
static int step_rate_measure(struct step_rate *rate, const struct bench_shape *s, const struct dataset *ds,
                             int steps, int windows, struct model_profile *prof, double *data_s)
{
    enum { MAX_WINDOWS = 16 };
    assert(windows >= 1 && windows <= MAX_WINDOWS && steps >= 1);
    memset(rate, 0, sizeof *rate);
    struct model_config mc;
    shape_config(&mc, s);
    struct model m;
    char err[CASCADE_ERR_MAX];
    if (model_init(&m, &mc, 1, err) != 0) { fprintf(stderr, "cascade bench: %s\n", err); return -1; }
    struct train_config tc;
    trainer_config_defaults(&tc);
    tc.model = mc;
    int B = s->B, T = s->T;
    int32_t *in = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T);
    int ok = in && tg;
    if (!ok) snprintf(err, CASCADE_ERR_MAX, "out of memory for a %d x %d batch", B, T);
    double tps[MAX_WINDOWS], total = 0, tdata = 0, t0 = 0;
    int step = -2;   /* two warm-up steps lay out memory */
    for (int w = 0; ok && w < windows; w++) {
        for (; ok && step < (w + 1) * steps; step++) {
            if (step == w * steps) { t0 = cli_now(); m.profile = prof; }
            double td = cli_now();
            data_train_batch(ds, 1, step + 2, B, T, in, tg);
            tdata += step >= 0 ? cli_now() - td : 0.0;
            model_zero_grad(&m);
            ok = model_forward(&m, in, tg, B, T, NULL, err) == 0;
            if (!ok) break;
            model_backward(&m);
            model_clip_and_step(&m, &tc, 1e-3f);
        }
        double dt = cli_now() - t0;
        total += dt;
        tps[w] = (double)steps * B * T / dt;
    }
    free(in); free(tg);
    model_free(&m);
    if (!ok) { fprintf(stderr, "cascade bench: %s\n", err); return -1; }
    if (data_s) *data_s = tdata;
    rate->mean = (double)steps * windows * B * T / total;
    qsort(tps, (size_t)windows, sizeof tps[0], cmp_double);
    rate->lo = tps[0];
    rate->hi = tps[windows - 1];
    rate->median = windows % 2 ? tps[windows / 2] : 0.5 * (tps[windows / 2 - 1] + tps[windows / 2]);
    return 0;
}

static void print_profile(const struct model_profile *p, double data_s, int steps, double tps, int B, int T)
{
    double step_ms = 1e3 * B * T / tps, other = step_ms - 1e3 * data_s / steps;
    printf("    %-18s %9s %9s %9s %7s\n", "op", "fwd ms", "bwd ms", "ms/step", "share");
    for (int op = 0; op < PROF_N; op++) {
        double f = 1e3 * p->fwd[op] / steps, b = 1e3 * p->bwd[op] / steps;
        other -= f + b;
        if (f + b <= 0) continue;
        printf("    %-18s %9.3f %9.3f %9.3f %6.1f%%\n", model_prof_op_name((enum model_prof_op)op), f, b, f + b,
               100.0 * (f + b) / step_ms);
    }
    printf("    %-18s %9s %9s %9.3f %6.1f%%\n", "data", "", "", 1e3 * data_s / steps, 100.0 * 1e3 * data_s / steps / step_ms);
    printf("    %-18s %9s %9s %9.3f %6.1f%%\n", "other", "", "", other, 100.0 * other / step_ms);
    printf("    %-18s %9s %9s %9.3f\n", "step", "", "", step_ms);
}

/* tokens/s of `cascade train`'s own loop (trainer_train: the thread governor of
 * train.threads 0 included) on shape s for `steps` steps; 0 on error (printed). */
static double trainer_tokens_per_s(const struct bench_shape *s, struct dataset *ds, int steps)
{
    struct train_config tc;
    trainer_config_defaults(&tc);
    shape_config(&tc.model, s);
    tc.batch_size = s->B;
    tc.steps = steps;
    tc.warmup_steps = 0;
    tc.eval_every = 0;
    tc.checkpoint_every = 0;
    tc.threads = 0;
    ds->n_train = ds->n_tokens - (size_t)(s->B * s->T + 1);   /* one validation batch */
    struct model m;
    struct train_result res;
    char err[CASCADE_ERR_MAX];
    int rc = trainer_train(&tc, NULL, &m, ds, NULL, NULL, &res, err);
    model_free(&m);
    ds->n_train = ds->n_tokens;
    if (rc != 0) { fprintf(stderr, "cascade bench: %s\n", err); return 0; }
    return res.tokens_per_s;
}

/* Runs n forked processes side by side, each training shape s with 1 thread; returns
 * their total tokens/s (0 on error). */
static double side_by_side_tokens_per_s(const struct bench_shape *s, struct dataset *ds, int steps, int n)
{
    int fds[64][2];
    pid_t pids[64];
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++) {
        if (pipe(fds[i]) != 0) return 0;
        pids[i] = fork();
        if (pids[i] < 0) return 0;
        if (pids[i] == 0) {
            close(fds[i][0]);
            omp_set_num_threads(1);
            double tps = trainer_tokens_per_s(s, ds, steps);
            ssize_t w = write(fds[i][1], &tps, sizeof tps);
            _exit(w == (ssize_t)sizeof tps ? 0 : 1);
        }
        close(fds[i][1]);
    }
    double total = 0;
    for (int i = 0; i < n; i++) {
        double tps = 0;
        if (read(fds[i][0], &tps, sizeof tps) != (ssize_t)sizeof tps) tps = 0;
        close(fds[i][0]);
        waitpid(pids[i], NULL, 0);
        total += tps;
    }
    return total;
}

/* Starts n busy processes at this process's priority; returns how many started. */
static int start_neighbours(pid_t *pids, int n)
{
    int k = 0;
    for (; k < n; k++) {
        pids[k] = fork();
        if (pids[k] < 0) break;
        if (pids[k] == 0) {
            volatile double x = 1.0;
            for (;;) x = x * 1.0000001 + 1e-9;
        }
    }
    return k;
}

static void stop_neighbours(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) { kill(pids[i], SIGKILL); waitpid(pids[i], NULL, 0); }
}

int cmd_bench(int argc, char **argv)
{
    const char *cmd = "bench", *v;
    long threads = 0;
    int quick = 0, profile = 0, sharing = 0, r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(argc, argv, &i, cmd, "--threads", &v))) {
            if (r < 0 || cli_long(cmd, "--threads", v, 0, 1024, &threads) < 0) return 2;
            continue;
        }
        if (strcmp(argv[i], "--quick") == 0) { quick = 1; continue; }
        if (strcmp(argv[i], "--profile") == 0) { profile = 1; continue; }
        if (strcmp(argv[i], "--sharing") == 0) { sharing = 1; continue; }
        return cli_unknown(cmd, argv[i]);
    }
    trainer_set_threads((int)(threads));
    int nthreads = omp_get_max_threads();
    char core[256], cpu[256];
    blas_core_describe(core, sizeof core);
    host_cpu_model(cpu, sizeof cpu);
    printf("cascade bench: %s, %d thread%s, BLAS core %s\n", cpu, nthreads, nthreads == 1 ? "" : "s", core);
    double peak = sgemm_peak_gflops(quick);
    printf("sgemm peak (best of %d passes over square n=512..%d): %.1f GFLOP/s\n\n", quick ? 1 : PEAK_PASSES,
           quick ? 1024 : 2048, peak);
    struct dataset ds;
    if (synthetic_dataset(&ds, 256) != 0) { fprintf(stderr, "cascade bench: out of memory\n"); return 1; }

    printf("%-40s %10s %12s %9s %8s\n", "training step", "tokens/s", "GFLOP/token", "GFLOP/s", "of peak");
    if (!quick) printf("(the median of %d windows of steps; the slowest and fastest window beside it)\n", BENCH_WINDOWS);
    const struct bench_shape shapes[] = {
        { "tiny  (L4 C128 H4 T128 B16)", 4, 128, 4, 128, 16, 20, ATTN_SOFTMAX, 1 },
        { "small (L6 C256 H4 T256 B8)", 6, 256, 4, 256, 8, 10, ATTN_SOFTMAX, 1 },
        { "demo probe (L6 C128 H4 T128 B8, S-D)", 6, 128, 4, 128, 8, 30, ATTN_SD, 0 },
    };
    const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    int failed = 0;   /* measurements that did not run */
    for (int s = 0; s < n_shapes; s++) {
        struct model_config mc;
        shape_config(&mc, &shapes[s]);
        struct model_profile prof;
        memset(&prof, 0, sizeof prof);
        double data_s = 0;
        int steps = quick ? 3 : shapes[s].steps, windows = quick ? 1 : BENCH_WINDOWS;
        struct step_rate r;
        int bad = step_rate_measure(&r, &shapes[s], &ds, steps, windows, profile ? &prof : NULL, &data_s) != 0;
        failed += bad;   /* the error is on stderr already */
        double fpt = model_config_train_flops_per_token(&mc, mc.seq_len), g = fpt / 1e9;
        printf("%-40s %10.0f %12.5f %9.1f %7.1f%%", shapes[s].name, r.median, g, r.median * g,
               100.0 * r.median * g / peak);
        if (windows > 1) printf("   windows %.1f-%.1f%%", 100.0 * r.lo * g / peak, 100.0 * r.hi * g / peak);
        printf("\n");
        if (profile && !bad) print_profile(&prof, data_s, steps * windows, r.mean, shapes[s].B, shapes[s].T);
        fflush(stdout);
    }

    printf("\nattention kinds, L4 C128 H4 d32, %d tokens per batch: training tokens/s\n", 4096);
    printf("%-8s %10s %10s %10s\n", "T", "softmax", "sd", "linear");
    int Ts[3] = { 128, 512, 1024 };
    for (int i = 0; i < 3; i++) {
        printf("%-8d", Ts[i]);
        for (int k = 0; k < 3; k++) {
            struct bench_shape s = { "", 4, 128, 4, Ts[i], 4096 / Ts[i], 0, (enum attn_kind)k, k == ATTN_SOFTMAX };
            struct step_rate r;
            failed += step_rate_measure(&r, &s, &ds, quick ? 2 : 6, 1, NULL, NULL) != 0;
            printf(" %10.0f", r.median);
            fflush(stdout);
        }
        printf("\n");
    }

    if (sharing && nthreads >= 2) {
        printf("\nsharing the cores (%d threads):\n", nthreads);
        for (int s = 0; s < n_shapes; s += 2) {   /* tiny and the demo probe */
            int steps = quick ? 10 : 4 * shapes[s].steps;
            double alone = trainer_tokens_per_s(&shapes[s], &ds, steps);
            double sbs = side_by_side_tokens_per_s(&shapes[s], &ds, steps, nthreads);
            printf("  %-40s one %d-thread run %8.0f tokens/s | %d 1-thread runs side by side %8.0f tokens/s (x%.2f)\n",
                   shapes[s].name, nthreads, alone, nthreads, sbs, alone > 0 ? sbs / alone : 0.0);
            pid_t pids[64];
            int nb = start_neighbours(pids, nthreads < 64 ? nthreads : 64);
            double shared = trainer_tokens_per_s(&shapes[s], &ds, steps);
            stop_neighbours(pids, nb);
            double fair = alone * nthreads / (nthreads + nb);
            printf("  %-40s beside %d busy processes: %8.0f tokens/s = %.0f%% of its fair share (%.0f)\n",
                   "", nb, shared, fair > 0 ? 100.0 * shared / fair : 0.0, fair);
            fflush(stdout);
        }
    }
    data_free(&ds);
    return failed ? 1 : 0;   /* a shape that did not run is a failure, not a 0 tokens/s figure */
}
