/* search/parallel.c — search.parallel: how many runs train side by side in one process.
 *
 * Small models use threads poorly: on 2 cores two 1-thread runs side by side train more
 * tokens in all than one 2-thread run (the issue measured 20-30%), while a large model may
 * use every thread well. "auto" (0, the default) therefore measures, once at the start of
 * each campaign session with T >= 2 threads: a few steps of the campaign's probe model on
 * random tokens, first one run with T threads, then T runs of 1 thread side by side (each
 * in a pthread of its own, their timed windows aligned by a barrier), and keeps the layout
 * with the higher total tokens/s (ties: one run). A run's numbers do not depend on the
 * layout, so the choice, which may differ between sessions, changes only the time taken.
 */
#include "search/executor.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MEASURE_SECONDS 0.5      /* timed window of each layout (at least one step) */
#define WARMUP_STEPS 1           /* untimed: threads started, activations laid out, BLAS buffers */

struct run_layout parallel_layout(int setting, int threads)
{
    if (threads < 1) threads = 1;
    struct run_layout l = { 1, threads };
    if (setting >= 2) {
        l.runs = setting;
        l.threads_per_run = threads / setting > 1 ? threads / setting : 1;
    }
    return l;
}

int parallel_choose(const double *tokens_per_s, int n)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        double v = tokens_per_s[i];
        if (!(isfinite(v) && v > 0)) continue;
        if (best < 0 || v > tokens_per_s[best]) best = i;
    }
    return best;
}

/* ---- the measurement ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* The copies' timed windows begin together, once every started copy has warmed up (or
 * failed before: a copy that ends arrives too, so that none waits forever). */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived, expected;           /* expected: the copies started (set once all are) */
};

static void gate_arrive(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->arrived++;
    pthread_cond_broadcast(&g->cv);
    while (g->arrived < g->expected) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

struct copy {
    const struct train_config *tc;
    const struct dataset *ds;
    int threads;
    double seconds;
    struct gate *aligned;
    int passed;                      /* this copy arrived at the gate */
    double t0, t1;
    int64_t step0, steps;            /* timed steps: t0..t1 */
    int rc;
    char err[CASCADE_ERR_MAX];
};

static int copy_step(const struct train_progress *p, void *user)
{
    struct copy *c = user;
    if (p->step < WARMUP_STEPS) return 0;
    if (p->step == WARMUP_STEPS) {
        gate_arrive(c->aligned);
        c->passed = 1;
        c->t0 = now_s();
        c->step0 = p->step;
        return 0;
    }
    double t = now_s();
    if (t - c->t0 < c->seconds) return 0;
    c->t1 = t;
    c->steps = p->step - c->step0;
    return 1;                        /* stop: no checkpoint (no out_path), no evaluation */
}

static void *copy_main(void *arg)
{
    struct copy *c = arg;
    omp_set_num_threads(c->threads);
    struct model m;
    struct train_result res;
    c->rc = trainer_train(c->tc, NULL, &m, c->ds, copy_step, c, &res, c->err);
    model_free(&m);
    if (!c->passed) gate_arrive(c->aligned);   /* failed early: the others go on */
    if (c->rc == 0 && c->steps < 1) {
        c->rc = -1;
        snprintf(c->err, sizeof c->err, "the measurement's run %s before its timed steps",
                 res.diverged ? "diverged" : "ended");
    }
    return NULL;
}

int parallel_measure(const struct campaign_config *cc, struct run_layout layout, double seconds,
                     double *tokens_per_s, char *err)
{
    *tokens_per_s = NAN;
    struct run_spec probe, standard;
    campaign_baselines(cc, &probe, &standard);
    struct train_config tc = cc->base;
    tc.model = probe.arch;
    tc.steps = 1 << 30;              /* the callback stops each copy */
    tc.eval_every = 0;
    tc.log_every = 0;
    tc.checkpoint_every = 0;
    tc.out_path[0] = 0;
    const int B = tc.batch_size, T = tc.model.seq_len;
    /* random tokens: a training split with room for many windows, one validation batch
     * (trainer_train checks there is one; it is never evaluated) */
    struct dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n_train = 4 * (size_t)B * T + T + 2;
    ds.n_tokens = ds.n_train + (size_t)B * T + 1;
    ds.vocab_size = tc.model.vocab_size;
    snprintf(ds.path, sizeof ds.path, "(random tokens)");
    ds.tokens = malloc(ds.n_tokens * sizeof *ds.tokens);
    struct copy *copies = calloc(layout.runs, sizeof *copies);
    pthread_t *threads = calloc(layout.runs, sizeof *threads);
    struct gate aligned = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, layout.runs };
    int rc = -1, started = 0;
    if (!ds.tokens || !copies || !threads) {
        snprintf(err, CASCADE_ERR_MAX, "out of memory for the measurement of %d runs", layout.runs);
        goto out;
    }
    uint64_t rng = 0x70617261ull;    /* "para" */
    for (size_t i = 0; i < ds.n_tokens; i++) ds.tokens[i] = (int32_t)(trainer_rng_next(&rng) % (uint64_t)ds.vocab_size);
    executor_blas_threads(layout.threads_per_run);
    for (int i = 0; i < layout.runs; i++) {
        copies[i].tc = &tc;
        copies[i].ds = &ds;
        copies[i].threads = layout.threads_per_run;
        copies[i].seconds = seconds;
        copies[i].aligned = &aligned;
        if (pthread_create(&threads[i], NULL, copy_main, &copies[i]) != 0) break;
        started++;
    }
    if (started < layout.runs) {
        /* a machine out of threads: the started copies go on without the others */
        snprintf(err, CASCADE_ERR_MAX, "cannot start the measurement's %d threads", layout.runs);
        pthread_mutex_lock(&aligned.mu);
        aligned.expected = started;
        pthread_cond_broadcast(&aligned.cv);
        pthread_mutex_unlock(&aligned.mu);
    }
    double total = 0.0;
    int ok = started == layout.runs;
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        if (copies[i].rc != 0) {
            if (ok) snprintf(err, CASCADE_ERR_MAX, "%s", copies[i].err);
            ok = 0;
            continue;
        }
        total += (double)copies[i].steps * B * T / (copies[i].t1 - copies[i].t0 + 1e-12);
    }
    if (ok) {
        *tokens_per_s = total;
        rc = 0;
    }
out:
    free(threads);
    free(copies);
    free(ds.tokens);
    return rc;
}

int parallel_resolve(const struct campaign_config *cc, int threads, struct parallel_choice *pc, char *err)
{
    memset(pc, 0, sizeof *pc);
    pc->setting = cc->parallel;
    pc->threads = threads;
    pc->layout = parallel_layout(cc->parallel, threads);
    if (cc->parallel != 0 || threads < 2) return 0;
    pc->n_measured = 2;
    pc->measured[0] = parallel_layout(1, threads);
    pc->measured[1] = (struct run_layout){ threads, 1 };
    for (int i = 0; i < pc->n_measured; i++) {
        if (parallel_measure(cc, pc->measured[i], MEASURE_SECONDS, &pc->tokens_per_s[i], err) != 0) {
            pc->n_measured = 0;
            return -1;
        }
    }
    int best = parallel_choose(pc->tokens_per_s, pc->n_measured);
    if (best >= 0) pc->layout = pc->measured[best];
    return 0;
}
