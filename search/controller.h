/* search/controller.h — a search campaign as one library call (private to search/).
 *
 * campaign_run() opens the database, records the campaign and its setup, trains the
 * references, measures them, proposes candidates and their blind controls, trains those
 * and records every result. It prints nothing: what happens reaches the caller through
 * struct campaign_events (the CLI, search/cmd_search.c, prints it), and errors come back
 * in `err`. The database is the record of what is done, so a campaign killed at any
 * moment continues where it stopped when the same call is made again.
 *
 * Stages (each resumable):
 *   1. references: the S–D probe (no LayerNorm) and the standard softmax model (LayerNorm)
 *   2. measure both (weight level and realised on validation tokens), propose candidates
 *      from the probe's cascade and their controls (search/proposals.c, SPEC §5)
 *   3. train every candidate and control; record results (Δ against the reference the
 *      controller chose, stored with each result)
 */
#ifndef CASCADE_SEARCH_CONTROLLER_H
#define CASCADE_SEARCH_CONTROLLER_H

#include "db/db.h"
#include "search/executor.h"

/* How a campaign_run call ended; the CLI maps each to an exit status. */
enum campaign_end {
    CAMPAIGN_FINISHED = 0,       /* every run recorded */
    CAMPAIGN_ALREADY_FINISHED,   /* nothing to do: it finished in an earlier call */
    CAMPAIGN_STOPPED,            /* asked to stop (events.should_stop); resumable */
    CAMPAIGN_INTERRUPTED,        /* a run failed through its environment (disk, memory); it
                                  * stays queued and the campaign resumable */
    CAMPAIGN_REFUSED,            /* bad input: config, data, database (err says which) */
    CAMPAIGN_REFERENCE_FAILED,   /* the probe or standard model failed: nothing to compare */
    CAMPAIGN_FAILED,             /* a database or internal error (err) */
};

/* What happened to a run that ended (events.run_ended). */
struct run_summary {
    const char *status;          /* "done", "failed" or "interrupted" (stays queued) */
    const char *why;             /* the failure, or NULL */
    const struct db_result *result;  /* the recorded result when done, else NULL */
    const char *arch;            /* "S S L | d 32,16,8" */
};

/* Every callback may be NULL. They run in the controller's thread. */
struct campaign_events {
    void *user;
    /* A line of what the controller does ("stage 1/3: ..."), without a newline. */
    void (*note)(void *user, const char *line);
    /* A run's progress after every step (p->is_report marks the log_every reports, which
     * are recorded); returns non-zero to stop the campaign after this step. */
    int (*progress)(void *user, const struct run_job *job, const struct train_progress *p);
    void (*run_ended)(void *user, const struct run_job *job, const struct run_summary *s);
    /* Polled between runs and stages: non-zero stops the campaign (resumable). */
    int (*should_stop)(void *user);
    /* How the runs of this session share the threads (search.parallel), once decided,
     * before any run starts; pc->layout.runs > 1: progress of several runs interleaves.
     * Not called under MPI with workers (one run per worker). A note says it too. */
    void (*parallel)(void *user, const struct parallel_choice *pc);
};

struct campaign_request {
    const char *config_path;     /* campaign config (search/campaign.h) */
    const char *db_path;         /* results database; created with its directory */
    long threads;                /* -1: the config's train.threads; 0: all cores */
    char name[128];              /* out: the campaign's name once its config loaded, else "" */
};

/* Runs (or continues) the campaign. Returns how it ended; err holds a one-line message
 * for CAMPAIGN_REFUSED, CAMPAIGN_REFERENCE_FAILED and CAMPAIGN_FAILED. */
enum campaign_end campaign_run(struct campaign_request *rq, const struct campaign_events *ev, char *err);

#endif
