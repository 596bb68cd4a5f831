/* search/cmd_search.c — `cascade search`: the command line of a campaign. It parses the
 * flags, turns Ctrl-C into a stop request, prints what the controller reports (a progress
 * bar per run, one line per finished run) and the results at the end; the campaign itself
 * is campaign_run() (search/controller.c), which prints nothing. */
#include "search/cli.h"
#include "search/controller.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Set by SIGINT/SIGTERM: the run in flight stops after its step, writes its checkpoint and
 * the campaign is left "stopped" (resumable). The one piece of process-wide state: a
 * signal can only reach the program through such a flag. */
static volatile sig_atomic_t search_stop;
static void on_stop_signal(int sig) { (void)sig; search_stop = 1; }

/* What the printer needs between calls. */
struct printer {
    int in_place;                     /* one run at a time on a terminal: redraw its bar */
    double last_print[64];            /* of each run's progress line (by job index % 64), s */
};

static void print_note(void *user, const char *line)
{
    const struct printer *pr = user;
    printf("%s%s\n", pr->in_place ? "\r" : "", line);
    fflush(stdout);
}

static int print_progress(void *user, const struct run_job *job, const struct train_progress *p)
{
    struct printer *pr = user;
    if (!p->is_report) return search_stop != 0;
    double t = cli_now();
    double *last = &pr->last_print[job->index % 64];
    if (pr->in_place || t - *last > 10.0 || p->step == p->steps) {
        int width = 24, fill = (int)(width * (double)p->step / p->steps);
        char bar[64], eta[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        cli_format_duration(eta, sizeof eta, p->eta_s);
        printf("%s  [%d/%d] %-14s [%s] %3.0f%% step %lld/%lld loss %.3f %6.0f tok/s ETA %s%s",
               pr->in_place ? "\r" : "", job->index, job->total, job->spec.name, bar,
               100.0 * p->step / p->steps, (long long)p->step, (long long)p->steps, p->loss,
               p->tokens_per_s, eta, pr->in_place ? "   " : "\n");
        fflush(stdout);
        *last = t;
    }
    return search_stop != 0;
}

static void print_run_ended(void *user, const struct run_job *job, const struct run_summary *s)
{
    const struct printer *pr = user;
    const char *cr = pr->in_place ? "\r" : "";
    if (s->result) {
        const struct db_result *r = s->result;
        char wall[32];
        cli_format_duration(wall, sizeof wall, r->wall_s);
        printf("%s  [%d/%d] %-14s done: %s | attention params %lld (%+.1f%%) | ppl %.3f (%+.2f%%) | %.0f tok/s | %s\n",
               cr, job->index, job->total, job->spec.name, s->arch, (long long)r->params_attention,
               -r->attention_saved_pct, r->perplexity, r->delta_ppl_pct, r->tokens_per_s, wall);
    } else {
        printf("%s  [%d/%d] %-14s %s: %s\n", cr, job->index, job->total, job->spec.name,
               strcmp(s->status, "interrupted") == 0 ? "INTERRUPTED" : "FAILED", s->why ? s->why : "");
    }
    fflush(stdout);
}

/* Several runs at once: their progress interleaves, one line each. */
static void print_parallel(void *user, const struct parallel_choice *pc)
{
    struct printer *pr = user;
    if (pc->layout.runs > 1) pr->in_place = 0;
}

static int should_stop(void *user)
{
    (void)user;
    return search_stop != 0;
}

/* The campaign's results, compact, with `cascade query`'s table formatter. */
static void print_results(const char *dbpath, const char *campaign)
{
    char sql[1024], err[CASCADE_ERR_MAX];
    /* campaign names are letters, digits, '_', '.', '-' (checked on load): safe to quote */
    snprintf(sql, sizeof sql,
             "SELECT run, role, arch, params_attention AS attn_params, round(attention_saved_pct, 1) AS attn_saved_pct, "
             "round(perplexity, 3) AS ppl, round(delta_ppl_pct, 2) AS dppl_pct, round(bits_per_byte, 4) AS bpb, "
             "CASE pareto WHEN 1 THEN '*' ELSE '' END AS pareto, status FROM v_results "
             "WHERE campaign = '%s' ORDER BY params_attention, perplexity", campaign);
    if (cli_print_sql(dbpath, sql, "table", err) != 0) fprintf(stderr, "cascade search: %s\n", err);
}

int cmd_search(int argc, char **argv)
{
    const char *cmd = "search", *config = NULL, *dbpath = NULL, *v;
    long threads = -1;
    int r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(argc, argv, &i, cmd, "--config", &config))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--db", &dbpath))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--threads", &v))) {
            if (r < 0 || cli_long(cmd, "--threads", v, 0, 1024, &threads) < 0) return 2;
            continue;
        }
        return cli_unknown(cmd, argv[i]);
    }
    if (!config || !dbpath) { fprintf(stderr, "cascade search: --config FILE and --db FILE are required\n"); return 2; }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct printer pr = { 0 };
    pr.in_place = isatty(STDOUT_FILENO);
#ifdef CASCADE_MPI
    if (search_mpi_workers() > 0) pr.in_place = 0;   /* several runs at once: one line each */
#endif
    struct campaign_events ev = { &pr, print_note, print_progress, print_run_ended, should_stop, print_parallel };
    struct campaign_request rq = { config, dbpath, threads, "" };
    char err[CASCADE_ERR_MAX] = "";
    double t0 = cli_now();
    enum campaign_end end = campaign_run(&rq, &ev, err);
    char wall[32];
    cli_format_duration(wall, sizeof wall, cli_now() - t0);
    switch (end) {
    case CAMPAIGN_FINISHED:
        printf("campaign '%s' finished in %s. Results (Pareto front of attention parameters vs perplexity: *):\n",
               rq.name, wall);
        print_results(dbpath, rq.name);
        return 0;
    case CAMPAIGN_ALREADY_FINISHED:
        printf("campaign '%s' in %s is finished; 'cascade query --db %s results' shows its results\n", rq.name,
               dbpath, dbpath);
        return 0;
    case CAMPAIGN_STOPPED:
        printf("\nstopped after %s; run the same command again to continue\n", wall);
        return 130;
    case CAMPAIGN_INTERRUPTED:
        /* disk full, out of memory, an unreadable checkpoint: nothing is wrong with the
         * campaign itself, so it stays resumable */
        fprintf(stderr, "cascade search: a run was interrupted by its environment (above); it stays queued: fix the "
                "cause and run the same command again\n");
        return 1;
    case CAMPAIGN_REFUSED:
    case CAMPAIGN_REFERENCE_FAILED:
        fprintf(stderr, "cascade search: %s\n", err);
        return 2;
    case CAMPAIGN_FAILED:
        break;
    }
    fprintf(stderr, "cascade search: %s\n", err);
    return 1;
}
