/* search/executor_mpi.c — campaigns across machines: the MPI executor of rank 0 and the
 * worker loop of ranks 1..N-1. Compiled only by `make MPI=1` (-DCASCADE_MPI).
 *
 * Rank 0 runs the controller (cmd_search.c) and is the only process that opens the
 * database. Every other rank loads the same campaign config and dataset itself, then
 * trains the runs rank 0 hands it and sends their progress and outcome back. Messages, all
 * on MPI_COMM_WORLD; a payload is a C struct sent as MPI_BYTE (every rank runs the same
 * build: the HELLO exchange checks the struct sizes and the version):
 *
 *   rank 0 -> worker   HELLO  (empty)                 who are you? (when the executor opens)
 *   worker -> rank 0   HELLO  struct mpi_hello        host, version, struct sizes, hashes of
 *                                                     the config text and of the tokens, or
 *                                                     why the worker could not load them
 *   rank 0 -> worker   JOB    struct run_job          train this run
 *   worker -> rank 0   STEP   struct train_progress   a progress report of the run in flight
 *   rank 0 -> worker   ACK    int                     1: stop the run after this step
 *   worker -> rank 0   DONE   struct run_report       the run's outcome, or rc -1 and why
 *   rank 0 -> worker   QUIT   (empty)                 no more work (main.c, after `search`)
 *
 * Each STEP waits for its ACK, whose flag is on_step's answer: a Ctrl-C on rank 0 stops
 * every run in flight at its next progress report (it writes its checkpoint and comes back
 * "stopped"), then the controller sends QUIT and every rank exits. A SIGINT/SIGTERM that
 * reaches a worker (mpirun forwards them) stops its run the same way.
 *
 * Faults: a run a worker cannot train (rc -1, e.g. an unreadable source checkpoint) comes
 * back in DONE, its error prefixed with the worker's rank and host; the controller records
 * it failed and the campaign goes on. A worker that dies takes the whole job down (MPI
 * aborts it); the database is transactional and runs resume from their checkpoints, so the
 * same command run again continues with nothing recorded lost.
 *
 * Test hooks, read by the workers: CASCADE_MPI_FAIL_RUN=NAME[@STEP] makes the worker given
 * run NAME die (SIGKILL) before training it, or at its first progress report at or after
 * step STEP; CASCADE_MPI_ERROR_RUN=NAME makes it report run NAME as not trainable.
 *
 * Waiting: a blocking MPI receive spins a core, which idle ranks would take from the
 * training ones on a shared node; every wait here polls (MPI_Iprobe) and sleeps up to 1 ms.
 */
#ifdef CASCADE_MPI
#include "search/cli.h"
#include "search/executor.h"

#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef CASCADE_VERSION
#define CASCADE_VERSION "unknown"
#endif

enum { TAG_HELLO = 1, TAG_JOB, TAG_STEP, TAG_ACK, TAG_DONE, TAG_QUIT };

struct mpi_hello {
    int ok;                           /* 0: the worker could not load the config or data (err) */
    char err[CASCADE_ERR_MAX];
    char host[128];
    char version[64];
    int sizes[3];                     /* sizeof struct run_job, run_report, train_progress */
    uint64_t config_hash, data_hash;
};

/* Set by SIGINT/SIGTERM in a worker: its run in flight stops after the current step. */
static volatile sig_atomic_t worker_stop;
static void on_worker_signal(int sig) { (void)sig; worker_stop = 1; }

/* ---- shared ------------------------------------------------------------------------------ */

/* Waits for a message matching (source, tag) without spinning a core: probe, then sleep
 * 20 us doubling up to 1 ms. */
static void wait_message(int source, int tag, MPI_Status *st)
{
    long ns = 20000;
    for (;;) {
        int flag = 0;
        MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, st);
        if (flag) return;
        struct timespec ts = { 0, ns };
        nanosleep(&ts, NULL);
        if (ns < 1000000) ns *= 2;
    }
}

static void drop_message(const MPI_Status *probed)
{
    int n = 0;
    MPI_Get_count(probed, MPI_BYTE, &n);
    char *junk = malloc(n > 0 ? n : 1);
    MPI_Recv(junk, n, MPI_BYTE, probed->MPI_SOURCE, probed->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    free(junk);
}

/* Receives the probed message into buf, which must be exactly `size` bytes long; a message
 * of another size is received and dropped. 0 ok, -1 wrong size. */
static int recv_exact(void *buf, int size, const MPI_Status *probed)
{
    int n = 0;
    MPI_Get_count(probed, MPI_BYTE, &n);
    if (n != size) {
        drop_message(probed);
        return -1;
    }
    MPI_Recv(buf, size, MPI_BYTE, probed->MPI_SOURCE, probed->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return 0;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void hello_fill(struct mpi_hello *h, const struct campaign_config *cc, const struct dataset *ds)
{
    memset(h, 0, sizeof *h);
    h->ok = 1;
    gethostname(h->host, sizeof h->host - 1);
    snprintf(h->version, sizeof h->version, "%s", CASCADE_VERSION);
    h->sizes[0] = (int)sizeof(struct run_job);
    h->sizes[1] = (int)sizeof(struct run_report);
    h->sizes[2] = (int)sizeof(struct train_progress);
    h->config_hash = fnv1a(14695981039346656037ull, cc->json, strlen(cc->json));
    h->data_hash = fnv1a(14695981039346656037ull, ds->tokens, ds->n_tokens * sizeof *ds->tokens);
    h->data_hash = fnv1a(h->data_hash, &ds->n_train, sizeof ds->n_train);
}

int search_mpi_workers(void)
{
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size - 1;
}

void search_mpi_quit(void)
{
    int workers = search_mpi_workers();
    for (int r = 1; r <= workers; r++) MPI_Send(NULL, 0, MPI_BYTE, r, TAG_QUIT, MPI_COMM_WORLD);
}

/* ---- rank 0: the executor ---------------------------------------------------------------- */

struct mpi_state {
    int size;
    int *busy;                        /* per rank: 1 while it trains jobs[rank] */
    struct run_job *jobs;
};

static int mpi_start(struct executor *ex, const struct run_job *job)
{
    struct mpi_state *s = ex->impl;
    for (int r = 1; r < s->size; r++) {
        if (s->busy[r]) continue;
        s->jobs[r] = *job;
        s->busy[r] = 1;
        MPI_Send(&s->jobs[r], (int)sizeof s->jobs[r], MPI_BYTE, r, TAG_JOB, MPI_COMM_WORLD);
        return 0;
    }
    return -1;
}

/* Serves STEP messages (on_step answers them, or "stop" when stop_all) until a DONE
 * arrives. 0 and *out filled; -1 when no job is in flight or a message is malformed. */
static int receive_report(struct executor *ex, struct run_report *out, int stop_all)
{
    struct mpi_state *s = ex->impl;
    int in_flight = 0;
    for (int r = 1; r < s->size; r++) in_flight += s->busy[r];
    if (!in_flight) return -1;
    for (;;) {
        MPI_Status st;
        wait_message(MPI_ANY_SOURCE, MPI_ANY_TAG, &st);
        int src = st.MPI_SOURCE;
        if (st.MPI_TAG == TAG_STEP) {
            struct train_progress p;
            if (recv_exact(&p, (int)sizeof p, &st) != 0 || !s->busy[src]) return -1;
            int stop = stop_all || (ex->on_step && ex->on_step(ex->user, &s->jobs[src], &p));
            MPI_Send(&stop, 1, MPI_INT, src, TAG_ACK, MPI_COMM_WORLD);
        } else if (st.MPI_TAG == TAG_DONE) {
            if (recv_exact(out, (int)sizeof *out, &st) != 0 || !s->busy[src]) return -1;
            s->busy[src] = 0;
            return 0;
        } else {
            drop_message(&st);           /* nothing else is sent to rank 0 now */
        }
    }
}

static int mpi_next(struct executor *ex, struct run_report *out)
{
    return receive_report(ex, out, 0);
}

/* Runs still in flight (only after an error) are stopped and their reports dropped; the
 * workers then wait for QUIT. */
static void mpi_close(struct executor *ex)
{
    struct mpi_state *s = ex->impl;
    struct run_report r;
    while (receive_report(ex, &r, 1) == 0) {}
    free(s->busy);
    free(s->jobs);
    free(s);
    ex->impl = NULL;
}

/* Asks every worker who it is; fails, naming the rank, when one could not load the config
 * or data, or runs another build, or read another config or other data than rank 0. */
static int hello_all(int size, const struct campaign_config *cc, const struct dataset *ds, char *err)
{
    struct mpi_hello mine, theirs;
    hello_fill(&mine, cc, ds);
    for (int r = 1; r < size; r++) MPI_Send(NULL, 0, MPI_BYTE, r, TAG_HELLO, MPI_COMM_WORLD);
    int rc = 0;
    for (int r = 1; r < size; r++) {           /* every reply is received, even after a failure */
        MPI_Status st;
        wait_message(r, TAG_HELLO, &st);
        const char *why = NULL;
        int got = recv_exact(&theirs, (int)sizeof theirs, &st) == 0;
        if (!got) why = "runs another build of cascade-mpi (message sizes differ)";
        else if (!theirs.ok) why = theirs.err;
        else if (strcmp(theirs.version, mine.version) != 0 || memcmp(theirs.sizes, mine.sizes, sizeof mine.sizes) != 0)
            why = "runs another build of cascade-mpi (version or struct sizes differ)";
        else if (theirs.config_hash != mine.config_hash) why = "read another campaign config than rank 0 (every rank must read the same file)";
        else if (theirs.data_hash != mine.data_hash) why = "read other data than rank 0 (every rank must read the same data file)";
        if (why && rc == 0) {
            snprintf(err, CASCADE_ERR_MAX, "rank %d (%s): %s", r, got ? theirs.host : "?", why);
            rc = -1;
        }
    }
    return rc;
}

int executor_mpi_open(struct executor *ex, const struct campaign_config *cc, const struct dataset *ds,
                      executor_step_fn on_step, void *user, char *err)
{
    int size = search_mpi_workers() + 1;
    if (hello_all(size, cc, ds, err) != 0) return -1;
    struct mpi_state *s = calloc(1, sizeof *s);
    if (s) {
        s->size = size;
        s->busy = calloc(size, sizeof *s->busy);
        s->jobs = calloc(size, sizeof *s->jobs);
    }
    if (!s || !s->busy || !s->jobs) {
        if (s) { free(s->busy); free(s->jobs); free(s); }
        snprintf(err, CASCADE_ERR_MAX, "out of memory");
        return -1;
    }
    memset(ex, 0, sizeof *ex);
    ex->slots = size - 1;
    ex->start = mpi_start;
    ex->next = mpi_next;
    ex->close = mpi_close;
    ex->on_step = on_step;
    ex->user = user;
    ex->impl = s;
    return 0;
}

/* ---- ranks 1..N-1: the worker ------------------------------------------------------------- */

struct worker {
    int rank;
    char host[128];
    int ready;                        /* config and data loaded */
    char err[CASCADE_ERR_MAX];        /* why not */
    struct campaign_config cc;
    struct dataset ds;
};

/* The arguments of `search`, parsed quietly: rank 0 parses the same ones and reports. */
static int worker_args(int argc, char **argv, const char **config, long *threads)
{
    *config = NULL;
    *threads = -1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) return -1;
        if (strcmp(argv[i], "--config") == 0) *config = argv[++i];
        else if (strcmp(argv[i], "--db") == 0) i++;
        else if (strcmp(argv[i], "--threads") == 0) {
            char *end;
            *threads = strtol(argv[++i], &end, 10);
            if (*end || *threads < 0 || *threads > 1024) return -1;
        } else return -1;
    }
    return *config ? 0 : -1;
}

static void worker_setup(struct worker *w, int argc, char **argv)
{
    const char *config;
    long threads;
    if (worker_args(argc, argv, &config, &threads) != 0) {
        snprintf(w->err, sizeof w->err, "bad arguments to search");
        return;
    }
    if (campaign_config_load(&w->cc, config, w->err) != 0) return;
    cli_set_threads(threads >= 0 ? threads : w->cc.base.threads);
    if (data_load(&w->ds, w->cc.base.data_path, w->cc.base.model.vocab_size, w->cc.base.val_fraction, w->err) != 0) {
        campaign_config_free(&w->cc);
        return;
    }
    w->ready = 1;
}

/* CASCADE_MPI_FAIL_RUN=NAME[@STEP]: -1 when it does not name this run, else the step at
 * which to die (0: before training). */
static long fail_step_hook(const char *run)
{
    const char *v = getenv("CASCADE_MPI_FAIL_RUN");
    if (!v) return -1;
    const char *at = strchr(v, '@');
    size_t n = at ? (size_t)(at - v) : strlen(v);
    if (n != strlen(run) || strncmp(v, run, n) != 0) return -1;
    return at ? atol(at + 1) : 0;
}

struct worker_relay { long die_at; };

static int worker_step(const struct train_progress *p, void *user)
{
    struct worker_relay *r = user;
    if (r->die_at > 0 && p->step >= r->die_at) raise(SIGKILL);   /* test hook */
    MPI_Send(p, (int)sizeof *p, MPI_BYTE, 0, TAG_STEP, MPI_COMM_WORLD);
    MPI_Status st;
    int stop = 0;
    wait_message(0, TAG_ACK, &st);
    MPI_Recv(&stop, 1, MPI_INT, 0, TAG_ACK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return stop || worker_stop;
}

static void worker_run(struct worker *w, const struct run_job *job, struct run_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->run_id = job->run_id;
    snprintf(rep->host, sizeof rep->host, "%s", w->host);
    const char *error_hook = getenv("CASCADE_MPI_ERROR_RUN");
    struct worker_relay relay = { fail_step_hook(job->spec.name) };
    char why[CASCADE_ERR_MAX];
    if (relay.die_at == 0) raise(SIGKILL);                         /* test hook */
    if (worker_stop) {
        rep->outcome.status = 2;                                   /* stopped before it began */
        return;
    }
    if (!w->ready) {
        snprintf(why, sizeof why, "%s", w->err);
        rep->rc = -1;
    } else if (error_hook && strcmp(error_hook, job->spec.name) == 0) {
        snprintf(why, sizeof why, "run %s: failed on purpose (test hook CASCADE_MPI_ERROR_RUN)", job->spec.name);
        rep->rc = -1;
    } else {
        rep->rc = campaign_train_run(&w->cc, &job->spec, job->ckpt, job->source[0] ? job->source : NULL, &w->ds,
                                     worker_step, &relay, &rep->outcome, why);
    }
    if (rep->rc != 0) snprintf(rep->err, sizeof rep->err, "rank %d (%s): %s", w->rank, w->host, why);
}

int search_mpi_worker(int argc, char **argv)
{
    struct worker w;
    memset(&w, 0, sizeof w);
    MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
    gethostname(w.host, sizeof w.host - 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_worker_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    worker_setup(&w, argc, argv);
    for (int quit = 0; !quit;) {
        MPI_Status st;
        wait_message(0, MPI_ANY_TAG, &st);
        if (st.MPI_TAG == TAG_JOB) {
            struct run_job job;
            struct run_report rep;
            if (recv_exact(&job, (int)sizeof job, &st) != 0) continue;   /* rank 0 checked the sizes */
            worker_run(&w, &job, &rep);
            MPI_Send(&rep, (int)sizeof rep, MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD);
        } else if (st.MPI_TAG == TAG_HELLO) {
            struct mpi_hello h;
            MPI_Recv(NULL, 0, MPI_BYTE, 0, TAG_HELLO, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (w.ready) hello_fill(&h, &w.cc, &w.ds);
            else {
                memset(&h, 0, sizeof h);
                snprintf(h.err, sizeof h.err, "%s", w.err);
                snprintf(h.host, sizeof h.host, "%s", w.host);
            }
            MPI_Send(&h, (int)sizeof h, MPI_BYTE, 0, TAG_HELLO, MPI_COMM_WORLD);
        } else {
            drop_message(&st);
            quit = st.MPI_TAG == TAG_QUIT;
        }
    }
    if (w.ready) {
        data_free(&w.ds);
        campaign_config_free(&w.cc);
    }
    return 0;                         /* rank 0 reports every failure */
}
#endif
