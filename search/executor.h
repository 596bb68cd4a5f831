/* search/executor.h — where a campaign's runs are trained (private to search/).
 *
 * The controller (cmd_search.c) hands jobs to an executor and collects their reports; it
 * alone touches the database. Two executors:
 *   - local (executor_local.c): one run at a time in this process;
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

/* The local executor: trains each job in this process as it is started. */
int executor_local_open(struct executor *ex, const struct campaign_config *cc, const struct dataset *ds,
                        executor_step_fn on_step, void *user);

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
