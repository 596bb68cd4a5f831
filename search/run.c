/* search/run.c — training one run of a campaign: its schedule (the continuation rule of
 * inherited runs), the warm start from its source checkpoint (search/inherit.c), and the
 * outcome the controller records. Touches only checkpoint files, so an MPI worker runs it
 * without the database.
 */
#include "search/campaign.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CASCADE_ERR_MAX, fmt, ap);
    va_end(ap);
    return -1;
}


void campaign_continuation_schedule(const struct campaign_config *cc, struct train_config *tc)
{
    double end_lr = cc->base.lr * cc->base.min_lr_frac;   /* where the probe's schedule ended */
    if (tc->steps < cc->inherit_short_steps) {
        /* a short continuation stays at the probe's final lr: a new peak it has no time to
         * anneal from leaves it worse than the probe (docs/campaigns.md "Continuation") */
        tc->lr = end_lr;
        tc->min_lr_frac = 1.0;
        tc->warmup_steps = 0;
        return;
    }
    tc->lr = cc->base.lr * cc->inherit_lr_frac;
    tc->min_lr_frac = tc->lr > end_lr ? end_lr / tc->lr : 1.0;
    if (tc->lr < end_lr) tc->lr = end_lr;
    tc->warmup_steps = tc->steps / 20;
}

int campaign_train_run(const struct campaign_config *cc, const struct run_spec *spec,
                       const char *ckpt_path, const char *source_ckpt, const struct dataset *ds,
                       train_progress_fn cb, void *user, struct run_outcome *out, char *err)
{
    memset(out, 0, sizeof *out);
    struct train_config tc = cc->base;
    tc.model = spec->arch;
    /* an inherited run of 0 steps is the warm-started model evaluated as it is (what the
     * surgery alone costs); its schedule is that of a 1-step run, never used */
    int eval_only = spec->steps == 0 && spec->inherit_from != SOURCE_NONE;
    tc.steps = eval_only ? 1 : spec->steps;
    if (spec->seed) tc.seed = spec->seed;
    else if (spec->inherit_from != SOURCE_NONE) tc.seed = cc->search_seed;   /* its data order */
    if (tc.warmup_steps >= tc.steps) tc.warmup_steps = tc.steps / 10;
    if (spec->inherit_from != SOURCE_NONE) campaign_continuation_schedule(cc, &tc);
    snprintf(tc.out_path, sizeof tc.out_path, "%s", ckpt_path);
    if (trainer_config_validate(&tc, cc->path, err) != 0) return CAMPAIGN_RUN_BAD;

    /* A checkpoint already there must be this run's own: same model, seed, schedule and
     * data, steps included (a campaign never extends a run). One left by another campaign
     * or config would otherwise be resumed and its numbers recorded as this run's. */
    if (access(ckpt_path, F_OK) == 0) {
        struct train_config had;
        struct checkpoint_info info;
        char why[128];
        if (checkpoint_peek(ckpt_path, &had, &info, err) != 0) return CAMPAIGN_RUN_RETRY;
        if (!model_config_same(&had.model, &tc.model, why, sizeof why))
            return fail(err, "%s: the checkpoint's model differs from run %s's (%s, checkpoint vs run): it belongs "
                        "to another experiment; refusing to resume from it", ckpt_path, spec->name, why),
                   CAMPAIGN_RUN_RETRY;
        if (checkpoint_check_training(ckpt_path, &had, &info, &tc, ds, 0, err) != 0) return CAMPAIGN_RUN_RETRY;
    }
    /* Inherit: the warm-started model becomes the run's step-0 checkpoint, so the rest is
     * an ordinary resume (and a kill during this run resumes the same way). */
    if (spec->inherit_from != SOURCE_NONE && access(ckpt_path, F_OK) != 0) {
        struct model src, dst;
        if (!source_ckpt) return fail(err, "run %s: no source checkpoint to inherit from", spec->name);
        if (checkpoint_load(source_ckpt, &src, NULL, NULL, err) != 0) return CAMPAIGN_RUN_RETRY;
        int rc = campaign_inherit(&dst, &spec->arch, &src, tc.seed, err);
        model_free(&src);
        if (rc != 0) return CAMPAIGN_RUN_BAD;
        dst.step = 0;
        struct checkpoint_info info = { 0, NAN, 0.0, ds->digest, 1 };
        rc = checkpoint_save(ckpt_path, &dst, &tc, &info, err);
        model_free(&dst);
        if (rc != 0) return CAMPAIGN_RUN_RETRY;
    }
    struct model m;
    struct train_result res;
    if (eval_only) {
        struct checkpoint_info info;
        if (checkpoint_load(ckpt_path, &m, NULL, &info, err) != 0) return CAMPAIGN_RUN_RETRY;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = trainer_evaluate(&m, ds, tc.batch_size, tc.model.seq_len, tc.eval_batches, &out->val, err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        out->wall_s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        out->tokens_per_s = NAN;
        out->steps = 0;
        model_free(&m);
        if (rc != 0) return CAMPAIGN_RUN_RETRY;
        if (!isfinite(out->val.loss)) {
            out->status = 1;
            snprintf(out->error, sizeof out->error, "validation loss is not finite");
        }
        return 0;
    }
    /* the campaign checked its data and shapes before any run: what fails here is the
     * machine (memory, disk) or a checkpoint file, which the user can fix and resume */
    if (trainer_train(&tc, ckpt_path, &m, ds, cb, user, &res, err) != 0) {
        model_free(&m);
        return CAMPAIGN_RUN_RETRY;
    }
    if (isnan(res.val.loss) && !res.diverged && !res.stopped &&  /* finished earlier: evaluate */
        trainer_evaluate(&m, ds, tc.batch_size, tc.model.seq_len, tc.eval_batches, &res.val, err) != 0) {
        model_free(&m);
        return CAMPAIGN_RUN_RETRY;
    }
    out->val = res.val;
    out->tokens_per_s = res.tokens_per_s;
    out->wall_s = res.wall_s;
    out->steps = m.step;
    if (res.diverged) {
        out->status = 1;
        snprintf(out->error, sizeof out->error, "diverged: loss or gradient became NaN/inf at step %lld",
                 (long long)m.step + 1);
    } else if (res.stopped) {
        out->status = 2;
    } else if (!isfinite(res.val.loss)) {
        out->status = 1;
        snprintf(out->error, sizeof out->error, "validation loss is not finite");
    }
    model_free(&m);
    return 0;
}

