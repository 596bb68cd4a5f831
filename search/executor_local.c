/* search/executor_local.c — the local executor: trains each job in this process, one at
 * a time, when it is started; next() hands back the finished job's report. */
#include "search/executor.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct local_state {
    const struct campaign_config *cc;
    const struct dataset *ds;
    int pending;                       /* a finished job waits in `report` */
    struct run_job job;
    struct run_report report;
};

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

static void local_close(struct executor *ex)
{
    free(ex->impl);
    ex->impl = NULL;
}

int executor_local_open(struct executor *ex, const struct campaign_config *cc, const struct dataset *ds,
                        executor_step_fn on_step, void *user)
{
    struct local_state *s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->cc = cc;
    s->ds = ds;
    memset(ex, 0, sizeof *ex);
    ex->slots = 1;
    ex->start = local_start;
    ex->next = local_next;
    ex->close = local_close;
    ex->on_step = on_step;
    ex->user = user;
    ex->impl = s;
    return 0;
}
