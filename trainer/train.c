/* trainer/train.c — the training loop, validation, and thread control.
 *
 * One step: batch(seed, step) -> zero grads -> forward -> backward -> clip -> AdamW.
 * The batch depends only on (seed, step) and the checkpoint holds params, moments and
 * step, so a resumed run continues bit-for-bit as if it had never stopped, on any thread
 * count (test train_thread_count_changes_no_number; docs/performance.md, "Reproducibility").
 */
#include "trainer/trainer.h"

#include <cblas.h>
#include <dirent.h>
#include <sched.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

void openblas_set_num_threads(int n);

/* CPUs this process may run on: under mpirun or srun a rank is often bound to fewer than
 * the machine has. */
static int cpus_available(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

void trainer_set_threads(int n)
{
    if (n <= 0) n = cpus_available();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

/* Subnormal floats are flushed to zero (FTZ: results; DAZ: operands) in this thread and
 * in every thread of OpenMP's pool, and so in the threads they create later (a new thread
 * inherits its creator's floating-point environment). A model that has grown large logits
 * makes subnormal values, and x86 cores take a microcode assist for each subnormal operand
 * of a multiply: a diverging C256 probe (examples/cascade-scale) trained at 250 tokens/s
 * with them and 2,018 with them flushed, to the same validation loss (20 steps resumed
 * from its checkpoint, 1 thread). Values below 1.2e-38 change no number a report shows. */
void trainer_fp_setup(void)
{
#if defined(__x86_64__) || defined(__i386__)
    #pragma omp parallel
    _mm_setcsr(_mm_getcsr() | 0x8040);   /* FTZ (bit 15) | DAZ (bit 6) */
    _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* ------------------------------------------------------------------------------------ */
/* Sharing the cores                                                                      */

/* With train.threads 0 ("all cores") a run uses fewer threads while other work keeps the
 * cores busy. OpenMP's threads meet at a barrier after every parallel loop (hundreds per
 * step); when one of them is descheduled the others wait for it, so a 2-thread run beside
 * an equal-priority neighbour fell to a sixth of its fair share (issue 14). Twice a
 * second the loop counts the runnable tasks on the machine that are not its own and uses
 * trainer_threads_for_load() threads: fewer at once, more after two readings agree. The thread
 * count changes no number (test train_thread_count_changes_no_number), only the time. */
#define GOVERNOR_PERIOD_S 0.5

int trainer_threads_for_load(int max_threads, int cpus, int others)
{
    int free_cpus = cpus - (others > 0 ? others : 0);
    int n = free_cpus < max_threads ? free_cpus : max_threads;
    return n < 1 ? 1 : n;
}

/* Runnable tasks (threads) on the machine that are not this process's: /proc/loadavg's
 * running count minus this process's threads in state R. -1 when unreadable. */
static int runnable_others(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return -1;
    int running = -1, total;
    double l1, l5, l15;
    int ok = fscanf(f, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total) == 5;
    fclose(f);
    if (!ok) return -1;
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return -1;
    int own = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *t = fopen(path, "r");
        if (!t) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, t);
        fclose(t);
        buf[n] = 0;
        const char *close_paren = strrchr(buf, ')');   /* "pid (comm) S ..." */
        if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'R') own++;
    }
    closedir(dir);
    return running - own > 0 ? running - own : 0;
}

struct thread_governor {
    int max_threads;       /* the count at the start; 1 (or train.threads > 0): never acts */
    int cpus;              /* CPUs this process may run on */
    int proposed;          /* the last reading's count: a larger one is applied when the next agrees */
    double next_s;         /* when to read next */
};

static void governor_init(struct thread_governor *g, const struct train_config *tc)
{
    g->max_threads = tc->threads == 0 ? omp_get_max_threads() : 1;
    g->cpus = cpus_available();
    g->proposed = 0;
    g->next_s = now_s();   /* the first reading before the first step */
}

static void governor_tick(struct thread_governor *g)
{
    if (g->max_threads <= 1) return;
    double t = now_s();
    if (t < g->next_s) return;
    g->next_s = t + GOVERNOR_PERIOD_S;
    int others = runnable_others();
    if (others < 0) return;
    int want = trainer_threads_for_load(g->max_threads, g->cpus, others), have = omp_get_max_threads();
    /* giving way at once costs nothing if the load was a blip; taking threads back waits for a
     * second reading, so a run does not flap */
    if (want < have || (want > have && want == g->proposed)) omp_set_num_threads(want);
    g->proposed = want;
}

static void governor_end(const struct thread_governor *g)
{
    if (g->max_threads > 1) omp_set_num_threads(g->max_threads);
}

int trainer_evaluate(struct model *m, const struct dataset *ds, int B, int T, int max_batches,
                     struct eval_result *out, char *err)
{
    int n = data_val_batch_count(ds, B, T);
    if (max_batches > 0 && n > max_batches) n = max_batches;
    if (n <= 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: the validation split is smaller than one batch of %d x %d tokens",
                 ds->path, B, T);
        return -1;
    }
    int32_t *in = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T);
    if (!in || !tg) { free(in); free(tg); snprintf(err, CASCADE_ERR_MAX, "out of memory"); return -1; }
    double sum = 0.0;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        data_val_batch(ds, i, B, T, in, tg);
        float loss;
        rc = model_forward(m, in, tg, B, T, &loss, err);
        sum += loss;
    }
    free(in);
    free(tg);
    if (rc != 0) return -1;
    out->loss = sum / n;
    out->perplexity = exp(out->loss);
    out->bits_per_byte = ds->is_bytes ? out->loss / log(2.0) : NAN;
    out->tokens = (int64_t)n * B * T;
    return 0;
}

int trainer_check_memory(const struct model_config *mc, int B, int T, const char *file, char *err)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return 0;   /* unknown: let the allocation decide */
    double have = (double)pages * (double)page;
    double acts = 4.0 * (double)model_activation_floats(mc, B, T, omp_get_max_threads());
    double params = 16.0 * (double)model_config_param_counts(mc).total;   /* params, grads, m, v */
    if (acts + params <= have) return 0;
    const double gib = 1024.0 * 1024.0 * 1024.0;
    snprintf(err, CASCADE_ERR_MAX, "%s: train.batch_size x model.seq_len = %d x %d needs %.1f GiB (activations "
             "%.1f GiB, parameters and optimiser %.1f GiB); this machine has %.1f GiB of memory", file, B, T,
             (acts + params) / gib, acts / gib, params / gib, have / gib);
    return -1;
}

int model_config_same(const struct model_config *a, const struct model_config *b, char *why, size_t n)
{
    const int ia[] = { a->vocab_size, a->seq_len, a->n_layer, a->n_head, a->n_embd, a->layernorm,
                       a->residual_scale_init };
    const int ib[] = { b->vocab_size, b->seq_len, b->n_layer, b->n_head, b->n_embd, b->layernorm,
                       b->residual_scale_init };
    static const char *const names[] = { "vocab_size", "seq_len", "n_layer", "n_head", "n_embd", "layernorm",
                                         "residual_scale_init" };
    for (int i = 0; i < 7; i++)
        if (ia[i] != ib[i]) { snprintf(why, n, "%s %d vs %d", names[i], ia[i], ib[i]); return 0; }
    if (a->embed_scale != b->embed_scale) {
        snprintf(why, n, "embed_scale %g vs %g", a->embed_scale, b->embed_scale);
        return 0;
    }
    if (a->sd_s_init_std != b->sd_s_init_std) {
        snprintf(why, n, "sd_s_init_std %g vs %g", a->sd_s_init_std, b->sd_s_init_std);
        return 0;
    }
    for (int l = 0; l < a->n_layer; l++) {
        const struct layer_arch *x = &a->layers[l], *y = &b->layers[l];
        if (x->kind != y->kind || x->qk_dim != y->qk_dim || x->v_dim != y->v_dim) {
            snprintf(why, n, "layer %d: %s d=%d/%d vs %s d=%d/%d (qk/v)", l, attn_kind_name(x->kind),
                     x->qk_dim, x->v_dim, attn_kind_name(y->kind), y->qk_dim, y->v_dim);
            return 0;
        }
    }
    return 1;
}

/* Sets up m: from the resume checkpoint if one exists, else freshly initialised.
 * *prior_s: training seconds the checkpoint already holds (0 when fresh). */
static int start_model(const struct train_config *tc, const char *resume_path, const struct dataset *ds,
                       struct model *m, double *prior_s, char *err)
{
    *prior_s = 0.0;
    if (resume_path && access(resume_path, F_OK) == 0) {
        struct checkpoint_info info;
        struct train_config had;
        if (checkpoint_load(resume_path, m, &had, &info, err) != 0) return -1;
        *prior_s = info.train_s;
        char why[128];
        if (!model_config_same(&m->cfg, &tc->model, why, sizeof why)) {
            snprintf(err, CASCADE_ERR_MAX, "%s: the checkpoint's model differs from the config's (%s, "
                     "checkpoint vs config); refusing to resume (use another --out)", resume_path, why);
            model_free(m);
            return -1;
        }
        /* the same model trained another way (seed, schedule, data) is another experiment;
         * more steps extend a run (train --resume --steps N) */
        if (checkpoint_check_training(resume_path, &had, &info, tc, ds, 1, err) != 0) {
            model_free(m);
            return -1;
        }
        return 0;
    }
    return model_init(m, &tc->model, tc->seed, err);
}

int trainer_train(const struct train_config *tc, const char *resume_path, struct model *m,
                  const struct dataset *ds, train_progress_fn cb, void *user,
                  struct train_result *res, char *err)
{
    const int B = tc->batch_size, T = tc->model.seq_len;
    memset(m, 0, sizeof *m);
    memset(res, 0, sizeof *res);
    res->val.loss = NAN;
    if (ds->vocab_size > tc->model.vocab_size) {
        snprintf(err, CASCADE_ERR_MAX, "%s: tokens need vocab_size %d but model.vocab_size is %d",
                 ds->path, ds->vocab_size, tc->model.vocab_size);
        return -1;
    }
    if (ds->n_train < (size_t)T + 2) {
        snprintf(err, CASCADE_ERR_MAX, "%s: the training split has %zu tokens, fewer than seq_len + 2 = %d",
                 ds->path, ds->n_train, T + 2);
        return -1;
    }
    if (data_val_batch_count(ds, B, T) < 1) {
        snprintf(err, CASCADE_ERR_MAX, "%s: the validation split (%zu tokens) is smaller than one batch of "
                 "batch_size x seq_len + 1 = %d tokens; raise data.val_fraction",
                 ds->path, ds->n_tokens - ds->n_train, B * T + 1);
        return -1;
    }
    if (trainer_check_memory(&tc->model, B, T, "the training config", err) != 0) return TRAIN_BAD_INPUT;
    double prior_s;
    if (start_model(tc, resume_path, ds, m, &prior_s, err) != 0) return -1;

    int32_t *in = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T);
    if (!in || !tg) {
        free(in);
        free(tg);
        snprintf(err, CASCADE_ERR_MAX, "out of memory for a batch of %d x %d tokens", B, T);
        return TRAIN_FAILED;
    }
    double t_start = now_s(), t_mark = t_start;
    int64_t step_mark = m->step, start_step = m->step;
    struct checkpoint_info info = { m->step, NAN, prior_s, ds->digest, 1 };
    trainer_fp_setup();
    struct thread_governor gov;
    governor_init(&gov, tc);
    int rc = 0;
    while (m->step < tc->steps) {
        int64_t step = m->step;
        governor_tick(&gov);
        data_train_batch(ds, tc->seed, step, B, T, in, tg);
        model_zero_grad(m);
        float loss;
        if (model_forward(m, in, tg, B, T, &loss, err) != 0) { rc = TRAIN_FAILED; break; }
        if (!isfinite(loss)) { res->diverged = 1; break; }
        model_backward(m);
        float lr = trainer_lr_at(tc, step);
        float norm = model_clip_and_step(m, tc, lr);
        if (!isfinite(norm)) { res->diverged = 1; break; }
        res->final_train_loss = loss;

        int last = m->step == tc->steps;
        int do_eval = last || (tc->eval_every > 0 && m->step % tc->eval_every == 0);
        int do_log = do_eval || last || (tc->log_every > 0 && m->step % tc->log_every == 0);
        int stop = 0;
        if (do_eval) {
            if (trainer_evaluate(m, ds, B, T, tc->eval_batches, &res->val, err) != 0) { rc = TRAIN_FAILED; break; }
            info.val_loss = res->val.loss;
        }
        if (cb && !do_log) {   /* every step: lets a signal stop the run after this step */
            struct train_progress p = { 0 };
            p.step = m->step;
            p.steps = tc->steps;
            p.loss = loss;
            p.lr = lr;
            p.grad_norm = norm;
            stop = cb(&p, user);
        }
        if (do_log && cb) {
            double t = now_s();
            struct train_progress p = { 0 };
            p.is_report = 1;
            p.step = m->step;
            p.steps = tc->steps;
            p.loss = loss;
            p.lr = lr;
            p.grad_norm = norm;
            p.tokens_per_s = (double)(m->step - step_mark) * B * T / (t - t_mark + 1e-12);
            p.elapsed_s = t - t_start;
            p.eta_s = (t - t_start) / (double)(m->step - start_step) * (double)(tc->steps - m->step);
            p.is_eval = do_eval;
            p.val = res->val;
            stop = cb(&p, user);
            t_mark = t;
            step_mark = m->step;
        }
        int do_ckpt = tc->out_path[0] &&
                      (last || stop || (tc->checkpoint_every > 0 && m->step % tc->checkpoint_every == 0));
        info.train_s = prior_s + (now_s() - t_start);
        if (do_ckpt && checkpoint_save(tc->out_path, m, tc, &info, err) != 0) { rc = TRAIN_FAILED; break; }
        if (stop) { res->stopped = 1; break; }
    }
    governor_end(&gov);
    res->steps_done = m->step;
    double segment_s = now_s() - t_start;
    res->wall_s = prior_s + segment_s;
    /* a segment that took no step (resumed after its last checkpoint) measured no rate */
    res->tokens_per_s = m->step > start_step ? (double)(m->step - start_step) * B * T / (segment_s + 1e-12) : NAN;
    free(in);
    free(tg);
    return rc;
}
