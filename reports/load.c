/* reports/load.c — a campaign as the report needs it, read through db/db.h: the campaign
 * row with its config and setup (JSON), its runs with their results and Pareto marks,
 * the probe's and the standard baseline's per-layer and per-head measurements at both
 * levels, and what follows from the architecture strings ("L L S S | d 32,32,16,8 | LN":
 * per-layer kind L linear, S S–D, A softmax; head dims; LayerNorm): which runs belong
 * to the linearisation sweep and at which k. */
#include "reports/report_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[2] = { "weight", "realised" };

/* ---- architecture strings ------------------------------------------------------------------ */

void report_arch_parse(const char *s, struct report_arch *a)
{
    memset(a, 0, sizeof *a);
    const char *p = s;
    int n = 0;
    while (*p == ' ') p++;
    while (*p == 'L' || *p == 'S' || *p == 'A') {
        if (n == REPORT_MAX_LAYERS || (p[1] != ' ' && p[1] != 0)) return;
        a->kind[n++] = *p++;
        while (*p == ' ') p++;
    }
    if (n == 0 || strncmp(p, "| d ", 4) != 0) return;
    p += 4;
    for (int l = 0; l < n; l++) {
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p || d <= 0 || d > 1 << 20) return;
        a->dim[l] = (int)d;
        p = end;
        if (l < n - 1) {
            if (*p != ',') return;
            p++;
        }
    }
    while (*p == ' ') p++;
    if (strncmp(p, "| LN", 4) == 0) {
        a->layernorm = 1;
        p += 4;
        while (*p == ' ') p++;
    }
    if (*p != 0) return;
    a->n_layer = n;
    a->ok = 1;
}

int report_prefix_k(const struct report_arch *a, const struct report_arch *ref)
{
    if (!a->ok || !ref->ok || a->n_layer != ref->n_layer || a->layernorm != ref->layernorm) return -1;
    int k = 0;
    while (k < a->n_layer && a->kind[k] == 'L' && ref->kind[k] != 'L') k++;
    for (int l = 0; l < a->n_layer; l++) {
        if (a->dim[l] != ref->dim[l]) return -1;
        if (l >= k && a->kind[l] != ref->kind[l]) return -1;
    }
    return k;
}

/* ---- loading ----------------------------------------------------------------------------------- */

struct pareto_ctx { struct report_campaign *rc; };

static int mark_pareto(void *user, const struct db_row *row)
{
    struct report_campaign *rc = ((struct pareto_ctx *)user)->rc;
    for (int c = 0; row->values && c < row->ncols; c++) {
        if (strcmp(row->names[c], "run") != 0 || !row->values[c]) continue;
        for (int i = 0; i < rc->n_runs; i++)
            if (strcmp(rc->runs[i].run->name, row->values[c]) == 0) rc->runs[i].pareto = 1;
    }
    return 0;
}

static int load_level(struct db *db, int64_t run_id, int level, struct report_level *lv, char *err)
{
    memset(lv, 0, sizeof *lv);
    lv->spearman = NAN;
    if (db_analysis_get(db, run_id, level_names[level], &lv->layers, &lv->n_layers, &lv->spearman, &lv->found,
                        err) != 0)
        return -1;
    return db_head_measures_get(db, run_id, level_names[level], &lv->heads, &lv->n_heads, err);
}

static void free_level(struct report_level *lv)
{
    free(lv->layers);
    db_head_measures_free(lv->heads, lv->n_heads);
    memset(lv, 0, sizeof *lv);
}

/* The probe: the run of role probe (named "probe" if there are several); the standard
 * baseline: of role baseline, named "standard" if there are several. */
static int find_role(const struct report_campaign *rc, enum db_role role, const char *name)
{
    int found = -1;
    for (int i = 0; i < rc->n_runs; i++) {
        const struct db_run *r = rc->runs[i].run;
        if (r->role != role) continue;
        if (strcmp(r->name, name) == 0) return i;
        if (found < 0) found = i;
    }
    return found;
}

/* The run named `name` with a result, or -1. */
static int find_done(const struct report_campaign *rc, const char *name)
{
    for (int i = 0; i < rc->n_runs; i++)
        if (strcmp(rc->runs[i].run->name, name) == 0 && rc->runs[i].has_result) return i;
    return -1;
}

/* Sweep membership and Δ for every run (reports/report.h, "Linearisation sweep"). Each
 * series is measured against its k = 0 model: the probe and the standard baseline, or,
 * in an inherit-mode campaign, their continuations for the inherited runs' budget
 * ("probe_cont", "standard_cont"), so that the sweep compares equal training budgets. */
static void classify_sweep(struct report_campaign *rc)
{
    static const enum db_role roles[2][2] = { { DB_ROLE_PROBE, DB_ROLE_CANDIDATE },
                                              { DB_ROLE_BASELINE, DB_ROLE_CONTROL } };
    int pc = find_done(rc, "probe_cont"), sc = find_done(rc, "standard_cont");
    const int refs[2] = { pc >= 0 ? pc : rc->probe, sc >= 0 ? sc : rc->standard };
    rc->sweep_ref[0] = refs[0];
    rc->sweep_ref[1] = refs[1];
    for (int i = 0; i < rc->n_runs; i++) {
        struct report_run *r = &rc->runs[i];
        r->sweep_k = -1;
        r->sweep_series = -1;
        r->sweep_delta = NAN;
        for (int s = 0; s < 2 && r->sweep_series < 0; s++) {
            if (refs[s] < 0) continue;
            if (i != refs[s] && r->run->role != roles[s][0] && r->run->role != roles[s][1]) continue;
            int k = report_prefix_k(&r->arch, &rc->runs[refs[s]].arch);
            if (k < 0 || (k == 0 && i != refs[s])) continue;
            r->sweep_k = k;
            r->sweep_series = s;
            const struct report_run *ref = &rc->runs[refs[s]];
            if (r->has_result && ref->has_result && ref->res.perplexity > 0)
                r->sweep_delta = 100.0 * (r->res.perplexity / ref->res.perplexity - 1.0);
        }
    }
}

static int load_runs(struct db *db, struct report_campaign *rc, char *err)
{
    if (db_runs_list(db, rc->c.id, &rc->db_runs, &rc->n_runs, err) != 0) return -1;
    rc->runs = calloc((size_t)rc->n_runs + 1, sizeof *rc->runs);
    if (!rc->runs) {
        snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", db_path(db));
        return -1;
    }
    for (int i = 0; i < rc->n_runs; i++) {
        struct report_run *r = &rc->runs[i];
        r->run = &rc->db_runs[i];
        report_arch_parse(r->run->arch, &r->arch);
        if (db_result_get(db, r->run->id, &r->res, &r->has_result, err) != 0) return -1;
        r->has_result = r->has_result && r->run->status == DB_DONE;
        switch (r->run->status) {
        case DB_DONE: rc->n_done++; break;
        case DB_FAILED: rc->n_failed++; break;
        case DB_RUNNING: rc->n_running++; break;
        case DB_QUEUED: rc->n_queued++; break;
        }
        if (r->has_result && isfinite(r->res.wall_s)) rc->runs_wall_s += r->res.wall_s;
    }
    return 0;
}

int report_campaign_load(struct db *db, const char *name, struct report_campaign *rc, char *err)
{
    memset(rc, 0, sizeof *rc);
    rc->probe = rc->standard = -1;
    if (db_campaign_get(db, name, &rc->c, err) != 0) return -1;
    rc->config = cJSON_Parse(rc->c.config_json);
    if (rc->c.setup_json[0]) {
        rc->setup = cJSON_Parse(rc->c.setup_json);
        if (!cJSON_IsObject(rc->setup)) { cJSON_Delete(rc->setup); rc->setup = NULL; }
    }
    if (load_runs(db, rc, err) != 0) goto fail;
    struct pareto_ctx pc = { rc };
    if (db_query_named(db, "pareto", rc->c.name, mark_pareto, &pc, err) != 0) goto fail;
    rc->probe = find_role(rc, DB_ROLE_PROBE, "probe");
    rc->standard = find_role(rc, DB_ROLE_BASELINE, "standard");
    for (int l = 0; l < 2; l++) {
        if (rc->probe >= 0 && load_level(db, rc->runs[rc->probe].run->id, l, &rc->probe_lv[l], err) != 0) goto fail;
        if (rc->standard >= 0 && load_level(db, rc->runs[rc->standard].run->id, l, &rc->standard_lv[l], err) != 0)
            goto fail;
    }
    classify_sweep(rc);
    return 0;
fail:
    report_campaign_free(rc);
    return -1;
}

void report_campaign_free(struct report_campaign *rc)
{
    for (int l = 0; l < 2; l++) {
        free_level(&rc->probe_lv[l]);
        free_level(&rc->standard_lv[l]);
    }
    free(rc->runs);
    db_runs_free(rc->db_runs, rc->n_runs);
    cJSON_Delete(rc->config);
    cJSON_Delete(rc->setup);
    db_campaign_free(&rc->c);
    memset(rc, 0, sizeof *rc);
    rc->probe = rc->standard = -1;
}

/* ---- ordering ------------------------------------------------------------------------------------ */

int report_sorted_done(const struct report_campaign *rc, int *order)
{
    int n = 0;
    for (int i = 0; i < rc->n_runs; i++)
        if (rc->runs[i].has_result) order[n++] = i;
    /* insertion sort: few runs, and qsort's comparator would need global state */
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i;
        while (j > 0) {
            const struct report_run *a = &rc->runs[order[j - 1]], *b = &rc->runs[v];
            int after = a->res.params_attention != b->res.params_attention ? a->res.params_attention > b->res.params_attention
                      : a->res.perplexity != b->res.perplexity ? a->res.perplexity > b->res.perplexity
                      : a->run->seq > b->run->seq;
            if (!after) break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    return n;
}
