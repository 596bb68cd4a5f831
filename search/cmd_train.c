/* search/cmd_train.c — `cascade train`, `cascade eval`, `cascade prepare-brown`,
 * `cascade info`: the trainer's command-line face. */
#include "search/cli.h"
#include "trainer/trainer.h"

#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#ifndef CASCADE_VERSION
#define CASCADE_VERSION "unknown"
#endif

/* Set by SIGINT/SIGTERM; the training callback reads it and stops after the step,
 * writing a checkpoint. The one piece of process-wide state: a signal can only reach
 * the program through such a flag. */
static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static void install_stop_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* "S S L L" plus the head dims, for one-line summaries. */
static void describe_layers(char *out, size_t n, const struct model_config *mc)
{
    size_t k = 0;
    int same_d = 1;
    for (int l = 0; l < mc->n_layer && k < n; l++) {
        const char *c = mc->layers[l].kind == ATTN_SD ? "S" : mc->layers[l].kind == ATTN_LINEAR ? "L" : "A";
        k += snprintf(out + k, n - k, "%s%s", l ? " " : "", c);
        if (mc->layers[l].head_dim != mc->layers[0].head_dim) same_d = 0;
    }
    if (same_d) { if (k < n) snprintf(out + k, n - k, " (d=%d)", mc->layers[0].head_dim); return; }
    if (k < n) k += snprintf(out + k, n - k, " (d=");
    for (int l = 0; l < mc->n_layer && k < n; l++)
        k += snprintf(out + k, n - k, "%s%d", l ? "," : "", mc->layers[l].head_dim);
    if (k < n) snprintf(out + k, n - k, ")");
}

static void print_model_summary(const struct model_config *mc)
{
    char layers[512];
    describe_layers(layers, sizeof layers, mc);
    struct param_counts pc = model_config_param_counts(mc);
    printf("model: L%d C%d H%d T%d V%d, layernorm %s, embeddings x%g | attention %s "
           "(A softmax, S S-D, L linear)\n", mc->n_layer, mc->n_embd, mc->n_head, mc->seq_len,
           mc->vocab_size, mc->layernorm ? "on" : "off", mc->embed_scale, layers);
    printf("params: %zu total, %zu attention (%.1f%%)\n", pc.total, pc.attention,
           100.0 * pc.attention / (double)pc.total);
}

static int load_data_or_explain(struct dataset *ds, const char *path, int vocab, double val_fraction)
{
    char err[CASCADE_ERR_MAX];
    if (data_load(ds, path, vocab, val_fraction, err) == 0) return 0;
    fprintf(stderr, "cascade: %s\n", err);
    if (access(path, F_OK) != 0 && strstr(path, "brown"))
        fprintf(stderr, "cascade: hint: 'make data' downloads and prepares the Brown corpus\n");
    return -1;
}

static int print_progress(const struct train_progress *p, void *user)
{
    (void)user;
    char eta[32], el[32];
    cli_format_duration(eta, sizeof eta, p->eta_s);
    cli_format_duration(el, sizeof el, p->elapsed_s);
    printf("step %6lld/%lld | loss %.4f | lr %.2e | grad %.3f | %.0f tok/s | %s elapsed, ETA %s\n",
           (long long)p->step, (long long)p->steps, p->loss, p->lr, p->grad_norm, p->tokens_per_s, el, eta);
    if (p->is_eval) {
        if (isnan(p->val.bits_per_byte))
            printf("  val loss %.4f nats/token | perplexity %.3f\n", p->val.loss, p->val.perplexity);
        else
            printf("  val loss %.4f nats/token | perplexity %.3f | %.4f bits per byte\n",
                   p->val.loss, p->val.perplexity, p->val.bits_per_byte);
    }
    fflush(stdout);
    return stop_requested != 0;
}

int cmd_train(int argc, char **argv)
{
    const char *cmd = "train", *config = NULL, *out = NULL, *v;
    long steps = -1, threads = -1, seed = -1;
    int resume = 0, r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(argc, argv, &i, cmd, "--config", &config))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--out", &out))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--steps", &v))) {
            if (r < 0 || cli_long(cmd, "--steps", v, 1, 1000000000L, &steps) < 0) return 2;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, cmd, "--seed", &v))) {
            if (r < 0 || cli_long(cmd, "--seed", v, 0, 0x7fffffffffffffffL, &seed) < 0) return 2;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, cmd, "--threads", &v))) {
            if (r < 0 || cli_long(cmd, "--threads", v, 0, 1024, &threads) < 0) return 2;
            continue;
        }
        if (strcmp(argv[i], "--resume") == 0) { resume = 1; continue; }
        return cli_unknown(cmd, argv[i]);
    }
    if (!config) { fprintf(stderr, "cascade train: --config FILE is required\n"); return 2; }
    struct train_config tc;
    char err[CASCADE_ERR_MAX];
    if (trainer_config_load(&tc, config, err) != 0) { fprintf(stderr, "cascade train: %s\n", err); return 2; }
    if (steps > 0) tc.steps = (int)steps;
    if (seed >= 0) tc.seed = (uint64_t)seed;
    if (threads >= 0) tc.threads = (int)threads;
    if (out) snprintf(tc.out_path, sizeof tc.out_path, "%s", out);
    if (trainer_config_validate(&tc, config, err) != 0) { fprintf(stderr, "cascade train: %s\n", err); return 2; }
    if (tc.out_path[0] && !resume && access(tc.out_path, F_OK) == 0) {
        fprintf(stderr, "cascade train: %s exists; pass --resume to continue it, or --out NEW\n", tc.out_path);
        return 2;
    }
    if (tc.out_path[0] && cli_mkdir_parent(tc.out_path) != 0) {
        fprintf(stderr, "cascade train: %s: cannot create the checkpoint's directory: %s\n", tc.out_path,
                strerror(errno));
        return 2;
    }
    cli_set_threads(tc.threads);
    struct dataset ds;
    if (load_data_or_explain(&ds, tc.data_path, tc.model.vocab_size, tc.val_fraction) != 0) return 2;
    print_model_summary(&tc.model);
    printf("data: %s, %zu tokens (train %zu, validation %zu) | batch %d x %d | %d steps | "
           "%d threads, BLAS core %s\n", ds.path, ds.n_tokens, ds.n_train, ds.n_tokens - ds.n_train,
           tc.batch_size, tc.model.seq_len, tc.steps, omp_get_max_threads(), blas_core_name());
    if (resume && tc.out_path[0] && access(tc.out_path, F_OK) == 0)
        printf("resuming from %s\n", tc.out_path);
    fflush(stdout);
    install_stop_handler();
    struct model m;
    struct train_result res;
    int rc = trainer_train(&tc, resume ? tc.out_path : NULL, &m, &ds, print_progress, NULL, &res, err);
    if (rc != 0) {
        fprintf(stderr, "cascade train: %s\n", err);
        data_free(&ds);
        return m.params ? 1 : 2;
    }
    if (res.diverged) {
        fprintf(stderr, "cascade train: training diverged (loss or gradient NaN/inf) at step %lld; "
                "no checkpoint written for it\n", (long long)res.steps_done + 1);
        model_free(&m);
        data_free(&ds);
        return 1;
    }
    if (isnan(res.val.loss)) { /* already finished before this call: evaluate now */
        trainer_evaluate(&m, &ds, tc.batch_size, tc.model.seq_len, tc.eval_batches, &res.val);
        printf("already at step %lld/%d\n", (long long)m.step, tc.steps);
    }
    char wall[32];
    cli_format_duration(wall, sizeof wall, res.wall_s);
    printf("%s at step %lld: val loss %.4f | perplexity %.3f", res.stopped ? "stopped" : "done",
           (long long)m.step, res.val.loss, res.val.perplexity);
    if (!isnan(res.val.bits_per_byte)) printf(" | %.4f bits per byte", res.val.bits_per_byte);
    printf(" | %.0f tok/s | %s", res.tokens_per_s, wall);
    if (tc.out_path[0]) printf(" | checkpoint %s", tc.out_path);
    printf("\n");
    model_free(&m);
    data_free(&ds);
    return res.stopped ? 130 : 0;
}

int cmd_eval(int argc, char **argv)
{
    const char *cmd = "eval", *ckpt = NULL, *data = NULL, *v;
    long batches = 0, threads = -1;
    int r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(argc, argv, &i, cmd, "--checkpoint", &ckpt))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--data", &data))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--batches", &v))) {
            if (r < 0 || cli_long(cmd, "--batches", v, 1, 1000000, &batches) < 0) return 2;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, cmd, "--threads", &v))) {
            if (r < 0 || cli_long(cmd, "--threads", v, 0, 1024, &threads) < 0) return 2;
            continue;
        }
        return cli_unknown(cmd, argv[i]);
    }
    if (!ckpt) { fprintf(stderr, "cascade eval: --checkpoint CKPT is required\n"); return 2; }
    struct model m;
    struct train_config tc;
    char err[CASCADE_ERR_MAX];
    if (checkpoint_load(ckpt, &m, &tc, NULL, err) != 0) { fprintf(stderr, "cascade eval: %s\n", err); return 2; }
    cli_set_threads(threads >= 0 ? threads : tc.threads);
    struct dataset ds;
    if (load_data_or_explain(&ds, data ? data : tc.data_path, m.cfg.vocab_size, tc.val_fraction) != 0) {
        model_free(&m);
        return 2;
    }
    struct eval_result ev;
    int B = tc.batch_size, T = m.cfg.seq_len;
    if (trainer_evaluate(&m, &ds, B, T, (int)batches, &ev) != 0) {
        fprintf(stderr, "cascade eval: %s: the validation split is smaller than one batch of %d x %d tokens\n",
                ds.path, B, T);
        model_free(&m);
        data_free(&ds);
        return 2;
    }
    printf("%s on %s (validation, %lld tokens)\n", ckpt, ds.path, (long long)ev.tokens);
    printf("val loss %.4f nats/token | perplexity %.3f", ev.loss, ev.perplexity);
    if (!isnan(ev.bits_per_byte)) printf(" | %.4f bits per byte", ev.bits_per_byte);
    printf("\n");
    model_free(&m);
    data_free(&ds);
    return 0;
}

int cmd_prepare_brown(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: cascade prepare-brown CORPUS_DIR OUT.txt\n"); return 2; }
    char err[CASCADE_ERR_MAX];
    size_t bytes = 0;
    if (data_prepare_brown(argv[1], argv[2], &bytes, err) != 0) {
        fprintf(stderr, "cascade prepare-brown: %s\n", err);
        return 1;
    }
    printf("wrote %s: %zu bytes of plain text (one sentence per line)\n", argv[2], bytes);
    return 0;
}

int cmd_info(int argc, char **argv)
{
    (void)argc; (void)argv;
    __builtin_cpu_init();
    printf("cascade %s\n", CASCADE_VERSION);
    printf("BLAS core: %s\n", blas_core_name());
    printf("threads: %d (OpenMP)\n", omp_get_max_threads());
    printf("CPU: avx2 %s, fma %s, avx512f %s\n", __builtin_cpu_supports("avx2") ? "yes" : "no",
           __builtin_cpu_supports("fma") ? "yes" : "no", __builtin_cpu_supports("avx512f") ? "yes" : "no");
    return 0;
}
