/* search/executor_local.c — the local executor: trains jobs in this process.
 *
 * One run at a time (layout.runs 1): start() trains the job in the caller's thread, on
 * its thread count; next() hands back the finished job's report.
 *
 * k runs at once (layout.runs k >= 2): start() hands the job to a pthread of its own,
 * which sets its OpenMP thread count to threads_per_run (OpenMP's count is per thread;
 * OpenBLAS' OpenMP build reads it from the calling thread) and trains it with
 * campaign_train_run. A worker never calls on_step: its progress relay queues the
 * progress under a mutex and signals a condition variable; next(), waiting on it in the
 * controller's thread, passes each to on_step and sets the run's stop flag from the
 * answer. A report (log_every, evaluation, last step: what the controller records) waits
 * for its answer, as the MPI executor's STEP waits for its ACK, so a stop asked at a
 * report stops the run after that very step, as one run at a time does; the progress of
 * the steps in between (which only carries the chance to stop: Ctrl-C) does not wait: the
 * relay keeps the latest one per run and returns the run's stop flag as it stands, so a
 * stop asked there is seen at the run's next step. Reports reach on_step in the order
 * they were made; next() returns once a job has finished, all its progress passed on.
 * Workers share only what they read (the config, the tokens, a source checkpoint) and
 * this state, under one mutex; each run writes its own checkpoint.
 */
#include "search/executor.h"

#include <errno.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void openblas_set_num_threads(int n);

void executor_blas_threads(int threads_per_run)
{
    if (threads_per_run < 2) return;
    int mine = omp_get_max_threads();
    openblas_set_num_threads(threads_per_run);   /* sets this thread's OpenMP count too */
    omp_set_num_threads(mine);
}

struct local_state;

/* One run in flight (k >= 2). Written by the controller while idle, then under s->mu. */
struct slot {
    struct local_state *s;
    int busy;                          /* started; its report not handed back yet */
    int done;                          /* trained: `report` is filled */
    int stop;                          /* on_step asked the run to stop */
    int has_report;                    /* a report waits in `report_p` for its answer */
    int64_t report_seq;                /* its place in the order reports were made */
    struct train_progress report_p;
    int has_latest;                    /* a per-step progress waits in `latest` */
    struct train_progress latest;
    int joinable;                      /* `thread` was started */
    pthread_t thread;
    struct run_job job;
    struct run_report report;
};

struct local_state {
    const struct campaign_config *cc;
    const struct dataset *ds;
    struct run_layout layout;
    /* one at a time */
    int pending;                       /* a finished job waits in `report` */
    struct run_job job;
    struct run_report report;
    /* k at once */
    pthread_mutex_t mu;
    pthread_cond_t changed;            /* progress queued or a run finished: the controller waits */
    pthread_cond_t answered;           /* a report was answered: its worker goes on */
    int64_t seq;                       /* reports made so far */
    struct slot *slots;                /* layout.runs */
};

/* ---- one at a time ------------------------------------------------------------------- */

struct step_relay { struct executor *ex; const struct run_job *job; };
static int relay_step(const struct train_progress *p, void *user)
{
    struct step_relay *r = user;
    return r->ex->on_step ? r->ex->on_step(r->ex->user, r->job, p) : 0;
}

static int local_start(struct executor *ex, const struct run_job *job)
{
    struct local_state *s = ex->impl;
    if (s->pending) return -1;
    s->job = *job;
    memset(&s->report, 0, sizeof s->report);
    s->report.run_id = job->run_id;
    gethostname(s->report.host, sizeof s->report.host - 1);
    struct step_relay r = { ex, &s->job };
    s->report.rc = campaign_train_run(s->cc, &s->job.spec, s->job.ckpt, s->job.source[0] ? s->job.source : NULL,
                                      s->ds, relay_step, &r, &s->report.outcome, s->report.err);
    s->pending = 1;
    return 0;
}

static int local_next(struct executor *ex, struct run_report *out)
{
    struct local_state *s = ex->impl;
    if (!s->pending) return -1;
    *out = s->report;
    s->pending = 0;
    return 0;
}

/* ---- k at once ------------------------------------------------------------------------- */

/* The worker's progress callback: queues, never calls on_step; a report waits for its
 * answer. Returns the run's stop flag. */
static int worker_step(const struct train_progress *p, void *user)
{
    struct slot *sl = user;
    struct local_state *s = sl->s;
    pthread_mutex_lock(&s->mu);
    if (p->is_report) {
        sl->report_p = *p;
        sl->report_seq = s->seq++;
        sl->has_report = 1;
        sl->has_latest = 0;            /* the report is newer */
        pthread_cond_signal(&s->changed);
        while (sl->has_report) pthread_cond_wait(&s->answered, &s->mu);
    } else {
        sl->latest = *p;
        sl->has_latest = 1;
        pthread_cond_signal(&s->changed);
    }
    int stop = sl->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void *worker_main(void *arg)
{
    struct slot *sl = arg;
    struct local_state *s = sl->s;
    omp_set_num_threads(s->layout.threads_per_run);
    struct run_report *r = &sl->report;   /* the controller reads it once `done` is set */
    int rc = campaign_train_run(s->cc, &sl->job.spec, sl->job.ckpt, sl->job.source[0] ? sl->job.source : NULL,
                                s->ds, worker_step, sl, &r->outcome, r->err);
    pthread_mutex_lock(&s->mu);
    r->rc = rc;
    sl->done = 1;
    pthread_cond_signal(&s->changed);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int threads_start(struct executor *ex, const struct run_job *job)
{
    struct local_state *s = ex->impl;
    struct slot *sl = NULL;
    int idle = 1;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->layout.runs; i++) {
        if (s->slots[i].busy) idle = 0;
        else if (!sl) sl = &s->slots[i];
    }
    pthread_mutex_unlock(&s->mu);
    if (!sl) return -1;
    if (idle) executor_blas_threads(s->layout.threads_per_run);   /* no run trains now */
    /* the slot is free: no worker touches it until it is started */
    sl->job = *job;
    memset(&sl->report, 0, sizeof sl->report);
    sl->report.run_id = job->run_id;
    gethostname(sl->report.host, sizeof sl->report.host - 1);
    sl->done = sl->stop = sl->has_report = sl->has_latest = 0;
    sl->busy = 1;
    int e = pthread_create(&sl->thread, NULL, worker_main, sl);
    sl->joinable = e == 0;
    if (e != 0) {
        /* the machine's fault (threads, memory): the run stays queued for the next attempt */
        sl->report.rc = CAMPAIGN_RUN_RETRY;
        snprintf(sl->report.err, sizeof sl->report.err, "run %s: cannot start a thread to train it: %s",
                 job->spec.name, strerror(e));
        sl->done = 1;
    }
    return 0;
}

/* Passes queued progress to on_step (forward; else answers "stop" to each) until a run
 * has finished; then hands its report back. 0 and *out; -1 when no run is in flight. */
static int threads_collect(struct executor *ex, struct run_report *out, int forward)
{
    struct local_state *s = ex->impl;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        /* the oldest report waiting, else a run's latest step */
        struct slot *sl = NULL;
        int report = 0;
        for (int j = 0; j < s->layout.runs; j++) {
            struct slot *x = &s->slots[j];
            if (x->busy && x->has_report && (!report || x->report_seq < sl->report_seq)) { sl = x; report = 1; }
        }
        for (int j = 0; j < s->layout.runs && !sl; j++)
            if (s->slots[j].busy && s->slots[j].has_latest) sl = &s->slots[j];
        if (sl) {
            struct train_progress p = report ? sl->report_p : sl->latest;
            sl->has_latest = 0;
            pthread_mutex_unlock(&s->mu);
            /* the controller's thread; sl->job does not change while the run is in flight */
            int stop = forward ? ex->on_step && ex->on_step(ex->user, &sl->job, &p) : 1;
            pthread_mutex_lock(&s->mu);
            if (stop) sl->stop = 1;
            if (report) {
                sl->has_report = 0;
                pthread_cond_broadcast(&s->answered);
            }
            continue;
        }
        /* no progress waits: every report of a finished run has been passed on */
        int busy = 0;
        for (int j = 0; j < s->layout.runs; j++) {
            struct slot *x = &s->slots[j];
            busy += x->busy;
            if (!x->busy || !x->done) continue;
            x->busy = 0;
            *out = x->report;
            pthread_mutex_unlock(&s->mu);
            if (x->joinable) pthread_join(x->thread, NULL);
            x->joinable = 0;
            return 0;
        }
        if (!busy) {
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
        pthread_cond_wait(&s->changed, &s->mu);
    }
}

static int threads_next(struct executor *ex, struct run_report *out)
{
    return threads_collect(ex, out, 1);
}

/* ---- both ----------------------------------------------------------------------------- */

static void local_close(struct executor *ex)
{
    struct local_state *s = ex->impl;
    if (s->slots) {
        /* runs still in flight (only after an error) stop at their next step, with a
         * checkpoint; their reports are dropped */
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < s->layout.runs; i++) s->slots[i].stop = 1;
        pthread_mutex_unlock(&s->mu);
        struct run_report r;
        while (threads_collect(ex, &r, 0) == 0) {}
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->changed);
        pthread_cond_destroy(&s->answered);
        free(s->slots);
    }
    free(s);
    ex->impl = NULL;
}

int executor_local_open(struct executor *ex, const struct campaign_config *cc, const struct dataset *ds,
                        struct run_layout layout, executor_step_fn on_step, void *user)
{
    if (layout.runs < 1) layout.runs = 1;
    if (layout.threads_per_run < 1) layout.threads_per_run = 1;
    struct local_state *s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->cc = cc;
    s->ds = ds;
    s->layout = layout;
    memset(ex, 0, sizeof *ex);
    if (layout.runs > 1) {
        s->slots = calloc(layout.runs, sizeof *s->slots);
        if (!s->slots) { free(s); return -1; }
        for (int i = 0; i < layout.runs; i++) s->slots[i].s = s;
        if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_cond_init(&s->changed, NULL) != 0 ||
            pthread_cond_init(&s->answered, NULL) != 0) {
            free(s->slots);
            free(s);
            return -1;
        }
        ex->start = threads_start;
        ex->next = threads_next;
    } else {
        ex->start = local_start;
        ex->next = local_next;
    }
    ex->slots = layout.runs;
    ex->close = local_close;
    ex->on_step = on_step;
    ex->user = user;
    ex->impl = s;
    return 0;
}
