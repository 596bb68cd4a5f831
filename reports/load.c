/* reports/load.c — a campaign as the report needs it, read through db/db.h: the campaign
 * row with its config and setup (JSON), its runs with their results and Pareto marks,
 * the probe's and the standard baseline's per-layer and per-head measurements at both
 * levels, the noise floor of each replicated reference (v_noise) and each candidate's
 * controls (v_controls), the evidence tables of version 5 (v_paired, layer_values,
 * sensitivity), and what follows from the runs' architectures (arch_json: the
 * per-layer attention kinds and head dims, LayerNorm): which runs belong to the
 * linearisation sweep and at which k, and the run each Δ is against. */
#include "reports/report_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[2] = { "weight", "realised" };

/* ---- architectures -------------------------------------------------------------------------- */

/* The letter of an attention kind as the trainer names it ("linear", "sd", "softmax"), or 0. */
static char kind_letter(const char *name)
{
    static const char *const names[3] = { "linear", "sd", "softmax" };
    for (int k = 0; name && k < 3; k++)
        if (strcmp(name, names[k]) == 0) return "LSA"[k];
    return 0;
}

/* One per-layer width list of n entries, each an integer in 1..2^20, into out; 0 if not. */
static int read_dims(const cJSON *list, int n, int *out)
{
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != n) return 0;
    for (int l = 0; l < n; l++) {
        const cJSON *d = cJSON_GetArrayItem(list, l);
        if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > 1 << 20 || d->valuedouble != (int)d->valuedouble)
            return 0;
        out[l] = (int)d->valuedouble;
    }
    return 1;
}

void report_arch_from_json(const char *json, struct report_arch *a)
{
    memset(a, 0, sizeof *a);
    cJSON *j = json && json[0] ? cJSON_Parse(json) : NULL;
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(j, "attention"), *hd = cJSON_GetObjectItemCaseSensitive(j, "head_dim");
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(j, "n_layer"), *es = cJSON_GetObjectItemCaseSensitive(j, "embed_scale");
    int n = cJSON_GetArraySize(att);
    int ok = cJSON_IsArray(att) && n >= 1 && n <= REPORT_MAX_LAYERS && (!nl || (cJSON_IsNumber(nl) && nl->valuedouble == n));
    if (ok && hd) ok = read_dims(hd, n, a->dim) && read_dims(hd, n, a->v_dim);
    else if (ok) ok = read_dims(cJSON_GetObjectItemCaseSensitive(j, "qk_dim"), n, a->dim) &&
                      read_dims(cJSON_GetObjectItemCaseSensitive(j, "v_dim"), n, a->v_dim);
    for (int l = 0; ok && l < n; l++) {
        a->kind[l] = kind_letter(cJSON_GetStringValue(cJSON_GetArrayItem(att, l)));
        ok = a->kind[l] != 0;
    }
    if (ok) {
        a->n_layer = n;
        a->layernorm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "layernorm"));
        a->ok = 1;
    } else {
        memset(a, 0, sizeof *a);
    }
    a->embed_scale = cJSON_IsNumber(es) ? es->valuedouble : 1.0;
    cJSON_Delete(j);
}

int report_prefix_k(const struct report_arch *a, const struct report_arch *ref)
{
    if (!a->ok || !ref->ok || a->n_layer != ref->n_layer || a->layernorm != ref->layernorm) return -1;
    int k = 0;
    while (k < a->n_layer && a->kind[k] == 'L' && ref->kind[k] != 'L') k++;
    for (int l = 0; l < a->n_layer; l++) {
        if (a->dim[l] != ref->dim[l] || a->v_dim[l] != ref->v_dim[l]) return -1;
        if (l >= k && a->kind[l] != ref->kind[l]) return -1;
    }
    return k;
}

/* ---- loading ----------------------------------------------------------------------------------- */

int report_run_index(const struct report_campaign *rc, const char *name)
{
    for (int i = 0; name && i < rc->n_runs; i++)
        if (strcmp(rc->runs[i].run->name, name) == 0) return i;
    return -1;
}

int report_run_by_id(const struct report_campaign *rc, int64_t id)
{
    for (int i = 0; i < rc->n_runs; i++)
        if (rc->runs[i].run->id == id) return i;
    return -1;
}

int report_base_run(const struct report_campaign *rc, int i)
{
    int b = rc->runs[i].run->replicate_of[0] ? report_run_index(rc, rc->runs[i].run->replicate_of) : -1;
    return b >= 0 ? b : i;
}

/* The name v_paired groups a run under: the run it replicates, else its own. */
static const char *base_name(const struct report_campaign *rc, int i)
{
    return rc->runs[i].run->replicate_of[0] ? rc->runs[i].run->replicate_of : rc->runs[i].run->name;
}

int report_paired_seeds(const struct report_campaign *rc, int k, int *out)
{
    const struct db_paired *q = &rc->paired[k];
    int n = 0;
    for (int j = 0; j < rc->n_pairs; j++) {
        const struct report_pair *p = &rc->pairs[j];
        if (isfinite(p->gap_pct) && strcmp(base_name(rc, p->cand), q->candidate) == 0 &&
            strcmp(base_name(rc, p->ctl), q->control) == 0)
            out[n++] = j;
    }
    return n;
}

int report_is_paired_seed(const struct report_campaign *rc, int i)
{
    const struct db_run *r = rc->runs[i].run;
    return rc->paired_seeds && r->replicate_of[0] && (r->role == DB_ROLE_CANDIDATE || r->role == DB_ROLE_CONTROL);
}

/* A named query's column in a row (not the header), NULL for SQL NULL or no such column. */
static const char *row_value(const struct db_row *row, const char *col)
{
    for (int c = 0; row->values && c < row->ncols; c++)
        if (strcmp(row->names[c], col) == 0) return row->values[c];
    return NULL;
}

/* A real column, NAN for NULL. */
static double row_real(const struct db_row *row, const char *col)
{
    const char *v = row_value(row, col);
    return v ? strtod(v, NULL) : NAN;
}

static int mark_pareto(void *user, const struct db_row *row)
{
    struct report_campaign *rc = user;
    int i = report_run_index(rc, row_value(row, "run"));
    if (i >= 0) rc->runs[i].pareto = 1;
    return 0;
}

/* A row of the "noise" query (v_noise); rows of runs not listed are passed over. */
static int add_noise(void *user, const struct db_row *row)
{
    struct report_campaign *rc = user;
    int i = report_run_index(rc, row_value(row, "reference"));
    if (i < 0 || rc->n_noise >= rc->n_runs) return 0;
    struct report_noise *z = &rc->noise[rc->n_noise++];
    const char *n = row_value(row, "n");
    *z = (struct report_noise){ i, n ? (int)strtol(n, NULL, 10) : 0, row_real(row, "ppl_mean"), row_real(row, "ppl_sd"),
                                row_real(row, "ppl_min"), row_real(row, "ppl_max"), row_real(row, "noise_pct") };
    return 0;
}

/* A row of the "controls" query (v_controls). */
static int add_pair(void *user, const struct db_row *row)
{
    struct report_campaign *rc = user;
    int a = report_run_index(rc, row_value(row, "candidate")), b = report_run_index(rc, row_value(row, "control"));
    if (a < 0 || b < 0 || rc->n_pairs >= rc->n_runs) return 0;
    const char *kind = row_value(row, "control_kind"), *verdict = row_value(row, "verdict");
    struct report_pair *p = &rc->pairs[rc->n_pairs++];
    *p = (struct report_pair){ a, b, !kind || strcmp(kind, "blind") == 0,
                               row_real(row, "candidate_params_attention"), row_real(row, "control_params_attention"),
                               row_real(row, "size_diff_pct"), row_real(row, "candidate_ppl"),
                               row_real(row, "control_ppl"), row_real(row, "gap_pct"), row_real(row, "noise_pct"), "", "" };
    /* the view's own word; one it does not know is shown as the kind the report assumed */
    snprintf(p->kind, sizeof p->kind, "%s", !kind ? "blind" : strcmp(kind, "blind") == 0 || strcmp(kind, "opposite") == 0
             ? kind : "standard model");
    snprintf(p->verdict, sizeof p->verdict, "%s", verdict ? verdict : "");
    return 0;
}

/* A row of v_results: whether the run's Δ is beyond the noise floor of its reference. */
static int add_noise_mark(void *user, const struct db_row *row)
{
    struct report_campaign *rc = user;
    int i = report_run_index(rc, row_value(row, "run"));
    if (i < 0) return 0;
    const char *beyond = row_value(row, "beyond_noise");
    rc->runs[i].beyond_noise = beyond ? (int)strtol(beyond, NULL, 10) != 0 : -1;
    return 0;
}

/* The noise floors, the controls and each Δ's place against its noise floor, from a
 * database that has them (version 3; an older one has none of them). */
static int load_controls(struct db *db, struct report_campaign *rc, char *err)
{
    rc->noise = calloc((size_t)rc->n_runs + 1, sizeof *rc->noise);
    rc->pairs = calloc((size_t)rc->n_runs + 1, sizeof *rc->pairs);
    if (!rc->noise || !rc->pairs) {
        snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", db_path(db));
        return -1;
    }
    if (rc->schema_version < 3) return 0;
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT run, beyond_noise FROM v_results WHERE campaign_id = %lld",
             (long long)rc->c.id);
    if (db_query_named(db, "noise", rc->c.name, add_noise, rc, err) != 0 ||
        db_query_named(db, "controls", rc->c.name, add_pair, rc, err) != 0)
        return -1;
    return db_query_sql(db, sql, add_noise_mark, rc, err);
}

/* A row of the "rounds" query (v_rounds). */
static int add_round(void *user, const struct db_row *row)
{
    struct report_campaign *rc = user;
    if (row->index < 0 || rc->n_rounds >= rc->n_runs + 1) return 0;   /* the header, or more rounds than runs */
    struct report_round *g = &rc->rounds[rc->n_rounds++];
    const char *round = row_value(row, "round"), *obj = row_value(row, "objective"), *fin = row_value(row, "final");
    g->round = round ? (int)strtol(round, NULL, 10) : 0;
    g->run = report_run_index(rc, row_value(row, "incumbent"));
    snprintf(g->objective, sizeof g->objective, "%s", obj ? obj : "");
    g->value = row_real(row, "value");
    g->delta_ppl_pct = row_real(row, "delta_ppl_pct");
    g->final = fin && strcmp(fin, "1") == 0;
    return 0;
}

/* A budget-driven search's rounds (version 4; none in an older file). */
static int load_rounds(struct db *db, struct report_campaign *rc, char *err)
{
    rc->rounds = calloc((size_t)rc->n_runs + 2, sizeof *rc->rounds);
    if (!rc->rounds) { snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", db_path(db)); return -1; }
    if (rc->schema_version < 4) return 0;
    return db_query_named(db, "rounds", rc->c.name, add_round, rc, err);
}

/* The evidence tables of version 5: the paired verdicts, the values the rules read and the
 * sensitivity curves (db/db.h; an older file has none of them). */
static int load_evidence(struct db *db, struct report_campaign *rc, char *err)
{
    if (db_paired_list(db, rc->c.id, &rc->paired, &rc->n_paired, err) != 0 ||
        db_layer_values_list(db, rc->c.id, &rc->values, &rc->n_values, err) != 0 ||
        db_sensitivity_list(db, rc->c.id, &rc->sens, &rc->n_sens, err) != 0)
        return -1;
    for (int k = 0; k < rc->n_paired; k++) rc->paired_seeds |= rc->paired[k].n >= 2;
    return 0;
}

/* The run each Δ is against: results.reference_run as the controller recorded it. A
 * database older than that column (version 3), or a result without it: the campaign's
 * rule, inherited runs against the continued probe (equal budgets) when there is one and
 * everything else against the probe. */
static void delta_refs(struct report_campaign *rc)
{
    for (int i = 0; i < rc->n_runs; i++) {
        struct report_run *r = &rc->runs[i];
        int inherited = strcmp(r->run->retrain, "inherit") == 0 && i != rc->sweep_ref[0];
        r->ref = r->res.reference_run[0] ? report_run_index(rc, r->res.reference_run)
               : inherited && rc->sweep_ref[0] >= 0 ? rc->sweep_ref[0] : rc->probe;
    }
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
        r->beyond_noise = -1;
        report_arch_from_json(r->run->arch_json, &r->arch);
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
    rc->schema_version = db_schema_version(db);
    if (load_runs(db, rc, err) != 0 || load_controls(db, rc, err) != 0 || load_rounds(db, rc, err) != 0 ||
        load_evidence(db, rc, err) != 0)
        goto fail;
    if (db_query_named(db, "pareto", rc->c.name, mark_pareto, rc, err) != 0) goto fail;
    rc->probe = find_role(rc, DB_ROLE_PROBE, "probe");
    rc->standard = find_role(rc, DB_ROLE_BASELINE, "standard");
    for (int l = 0; l < 2; l++) {
        if (rc->probe >= 0 && load_level(db, rc->runs[rc->probe].run->id, l, &rc->probe_lv[l], err) != 0) goto fail;
        if (rc->standard >= 0 && load_level(db, rc->runs[rc->standard].run->id, l, &rc->standard_lv[l], err) != 0)
            goto fail;
    }
    classify_sweep(rc);
    delta_refs(rc);
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
    free(rc->noise);
    free(rc->pairs);
    free(rc->rounds);
    free(rc->paired);
    free(rc->values);
    free(rc->sens);
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
