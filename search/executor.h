/* search/executor.h — where a campaign's runs are trained (private to search/).
 *
 * The controller (cmd_search.c) hands jobs to an executor and collects their reports; it
 * alone touches the database. Two executors:
 *   - local (executor_local.c): in this process, one run at a time in the controller's
 *     thread, or k at once, each in a thread of its own (search.parallel, parallel.c);
 *   - MPI (executor_mpi.c, built with `make MPI=1`): rank 0 runs the controller and hands
 *     jobs to ranks 1..N-1, which train them and send progress and results back.
 * Progress reaches the controller through on_step, called in the controller's process,
 * so step metrics are recorded the same way wherever the run trains.
 */
#ifndef CASCADE_SEARCH_EXECUTOR_H
#define CASCADE_SEARCH_EXECUTOR_H

#include "search/campaign.h"

struct run_job {
    int64_t run_id;                    /* the run's row in the database */
    struct run_spec spec;
    char ckpt[TRAINER_PATH_MAX];       /* its checkpoint */
    char source[TRAINER_PATH_MAX];     /* warm-start source checkpoint, "" if none */
    int index, total;                  /* "[index/total]" in progress lines */
};

struct run_report {
    int64_t run_id;
    int rc;                            /* 0: outcome is valid; -1: the run could not be trained (err) */
    char err[CASCADE_ERR_MAX];
    struct run_outcome outcome;        /* status 0 done, 1 failed, 2 stopped */
    char host[128];                    /* where it ran */
};

/* Called for each progress report of a run in flight; non-zero asks that run to stop. */
typedef int (*executor_step_fn)(void *user, const struct run_job *job, const struct train_progress *p);

struct executor {
    int slots;                         /* runs that can train at once */
    /* Starts a job; 0 ok, -1 when no slot is free (call next first). */
    int (*start)(struct executor *ex, const struct run_job *job);
    /* Waits for a started job to finish; 0 and *out filled, or -1 when none is in flight. */
    int (*next)(struct executor *ex, struct run_report *out);
    void (*close)(struct executor *ex);
    executor_step_fn on_step;
    void *user;
    void *impl;                        /* executor-specific state */
};

/* How a campaign's runs share this process's threads: `runs` train at once, each with
 * `threads_per_run` OpenMP (and OpenBLAS) threads. */
struct run_layout {
    int runs;
    int threads_per_run;
};

/* The local executor. layout.runs 1: each job trains in the caller's thread when it is
 * started, on the caller's thread count (next() hands its report back). runs k >= 2: up
 * to k jobs train at once, each in a pthread of its own with threads_per_run threads;
 * their progress is queued and next(), in the caller's thread, passes it to on_step and
 * hands back the next job that finishes. A run's numbers do not depend on the layout
 * (the trainer's sums run in a fixed order). -1 when out of memory. */
int executor_local_open(struct executor *ex, const struct campaign_config *cc, const struct dataset *ds,
                        struct run_layout layout, executor_step_fn on_step, void *user);

/* Before threads of `threads_per_run` OpenMP threads start BLAS work side by side: sets
 * OpenBLAS' one process-wide thread count to theirs (which each would otherwise reset on
 * its first call, racing the others) and gives the caller its own OpenMP count back.
 * Nothing to do for 1 thread per run (such a caller never touches the count). Call it
 * while no other thread runs BLAS. */
void executor_blas_threads(int threads_per_run);

/* ---- search.parallel (search/parallel.c) ------------------------------------------------ */

/* The layout of a fixed setting: 1, one run with every thread; k >= 2, k runs of
 * max(1, threads / k) threads. */
struct run_layout parallel_layout(int setting, int threads);

/* What search.parallel resolved to in this process, and on what figures. */
#define PARALLEL_MAX_MEASURED 2
struct parallel_choice {
    int setting;                 /* search.parallel: 0 auto, else the fixed k */
    int threads;                 /* threads of this process */
    struct run_layout layout;    /* the layout the runs train in */
    int n_measured;              /* auto with 2+ threads: the layouts measured (else 0) */
    struct run_layout measured[PARALLEL_MAX_MEASURED];
    double tokens_per_s[PARALLEL_MAX_MEASURED];   /* each one's total training tokens/s */
};

/* The auto choice from measured figures (pure): the index of the highest total tokens/s
 * among n; ties go to the earlier one (list fewer runs first); a figure that is not a
 * finite positive number never wins. -1 when none is. */
int parallel_choose(const double *tokens_per_s, int n);

/* Resolves search.parallel for `threads` threads. A fixed setting, or auto with 1 thread
 * (nothing to share), needs nothing; auto with T >= 2 measures one run of T threads
 * against T runs of 1 thread side by side (parallel_measure: half a second, or two steps,
 * each) and keeps the faster. -1 with err when the measurement failed (out of memory):
 * pc->layout is then one run at a time. */
int parallel_resolve(const struct campaign_config *cc, int threads, struct parallel_choice *pc, char *err);

/* Total training tokens/s of `layout`: layout.runs copies of the campaign's probe train
 * side by side on random tokens, each in a pthread of its own with threads_per_run
 * threads, for about `seconds` (at least one step each) after a warm-up step; nothing is
 * written. -1 with err when a copy could not train (memory). */
int parallel_measure(const struct campaign_config *cc, struct run_layout layout, double seconds,
                     double *tokens_per_s, char *err);

#ifdef CASCADE_MPI
/* The MPI executor (search/executor_mpi.c, `make MPI=1`), for rank 0 when there are
 * workers: one slot per rank 1..N-1. Fails, with err naming the rank, when a worker could
 * not load the config or data, or read other ones than rank 0, or runs another build. */
int executor_mpi_open(struct executor *ex, const struct campaign_config *cc, const struct dataset *ds,
                      executor_step_fn on_step, void *user, char *err);
/* Ranks 1..N-1 of `search` (argv[0] "search"): load the config and data, train the jobs
 * rank 0 sends until it sends QUIT. Returns the exit status. */
int search_mpi_worker(int argc, char **argv);
/* N-1 for N ranks (0 in a single process). */
int search_mpi_workers(void);
/* Rank 0, after `search` returns: tells every worker to leave its loop. */
void search_mpi_quit(void);
#endif

#endif
