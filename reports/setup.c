/* reports/setup.c — the report's Setup table: corpus and split, model shape, the probe's
 * and the standard baseline's architectures, budget, seeds, retraining, proposal rules,
 * machine, host, tool version, dates and wall time. Read from the campaign's config JSON
 * (data, model and train resolved with the trainer's defaults, as the campaign did) and its
 * setup JSON (keys: db/db.h, db_campaign_set_setup); a fact neither holds is "not
 * recorded". */
#include "reports/report_internal.h"
#include "trainer/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *report_json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int json_num(const cJSON *obj, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v)) return 0;
    *out = v->valuedouble;
    return 1;
}

static void fmt_num_or(char *out, size_t n, const cJSON *obj, const char *key, const char *missing)
{
    double v;
    if (json_num(obj, key, &v)) report_fmt_int(out, n, (long long)llround(v));
    else snprintf(out, n, "%s", missing);
}

/* The campaign's training config (data, model, train of its config JSON) with the
 * trainer's defaults; -1 and why when it does not read. */
static int campaign_train_config(const struct report_campaign *rc, struct train_config *tc, char *why)
{
    trainer_config_defaults(tc);
    if (!cJSON_IsObject(rc->config)) {
        snprintf(why, CASCADE_ERR_MAX, "the campaign's config is not a JSON object");
        return -1;
    }
    cJSON *part = cJSON_CreateObject();
    static const char *const sections[] = { "data", "model", "train" };
    for (int k = 0; part && k < 3; k++) {
        cJSON *sec = cJSON_GetObjectItemCaseSensitive(rc->config, sections[k]);
        if (sec) cJSON_AddItemReferenceToObject(part, sections[k], sec);
    }
    int rc_ = part ? trainer_config_from_json(tc, part, "config", "", why) : -1;
    if (!part) snprintf(why, CASCADE_ERR_MAX, "out of memory");
    cJSON_Delete(part);
    if (rc_ != 0) trainer_config_defaults(tc);
    return rc_;
}

const cJSON *report_search_section(const struct report_campaign *rc)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(rc->config, "search");
    return cJSON_IsObject(s) ? s : NULL;
}

/* ---- the rows ---------------------------------------------------------------------------------- */

static void setup_row(struct report_buf *md, const char *what, const char *value)
{
    report_buf_printf(md, "| %s | ", what);
    report_md_cell(md, value);
    report_buf_puts(md, " |\n");
}

static void setup_corpus(struct report_buf *md, const struct report_campaign *rc, const struct train_config *tc)
{
    const cJSON *su = rc->setup;
    const char *path = su && report_json_str(su, "corpus_path") ? report_json_str(su, "corpus_path") : tc->data_path;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char v[1400], tokens[48], tr[48], va[48];
    double frac = tc->val_fraction;
    if (su) json_num(su, "val_fraction", &frac);
    const cJSON *bytes = su ? cJSON_GetObjectItemCaseSensitive(su, "is_bytes") : NULL;
    const char *unit = cJSON_IsTrue(bytes) ? "byte tokens" : "tokens";
    if (su && json_num(su, "tokens", &(double){ 0 })) {
        fmt_num_or(tokens, sizeof tokens, su, "tokens", "");
        fmt_num_or(tr, sizeof tr, su, "train_tokens", "not recorded");
        fmt_num_or(va, sizeof va, su, "val_tokens", "not recorded");
        snprintf(v, sizeof v, "`%s` (`%s`): %s %s, split %s train / %s validation (validation fraction %g)", base, path,
                 tokens, unit, tr, va, frac);
    } else {
        snprintf(v, sizeof v, "`%s` (`%s`): size not recorded; validation fraction %g (config)", base, path, frac);
    }
    setup_row(md, "Corpus", v);
}

static void setup_model(struct report_buf *md, const struct report_campaign *rc, const struct train_config *tc,
                        int config_ok, const char *why)
{
    char v[1400];
    const struct model_config *m = &tc->model;
    if (config_ok)
        snprintf(v, sizeof v, "%d layers, width %d, %d heads per layer (head dim %d), context %d tokens, vocabulary %d%s",
                 m->n_layer, m->n_embd, m->n_head, m->n_head > 0 ? m->n_embd / m->n_head : 0, m->seq_len, m->vocab_size,
                 cJSON_GetObjectItemCaseSensitive(rc->config, "model") ? "" : " (trainer defaults: the config gives no model)");
    else
        snprintf(v, sizeof v, "not readable from the config (%s)", why);
    setup_row(md, "Model", v);
    const int refs[2] = { rc->probe, rc->standard };
    const char *what[2] = { "Probe", "Standard baseline" };
    const char *desc[2] = { "S–D attention, no LayerNorm", "softmax attention, LayerNorm" };
    for (int k = 0; k < 2; k++) {
        if (refs[k] < 0) { setup_row(md, what[k], "not recorded"); continue; }
        const struct db_run *r = rc->runs[refs[k]].run;
        /* the embedding multiplier [ours]; runs recorded before it existed had 1 */
        double scale = 1.0;
        cJSON *arch = cJSON_Parse(r->arch_json);
        if (arch) json_num(arch, "embed_scale", &scale);
        cJSON_Delete(arch);
        snprintf(v, sizeof v, "`%s`: `%s` (%s, embeddings ×%g)", r->name, r->arch, desc[k], scale);
        setup_row(md, what[k], v);
    }
}

static void setup_budget(struct report_buf *md, const struct report_campaign *rc, const struct train_config *tc,
                         int config_ok)
{
    char v[1400], steps[48], tok[48];
    if (!config_ok) { setup_row(md, "Budget", "not readable from the config"); return; }
    report_fmt_int(steps, sizeof steps, tc->steps);
    report_fmt_int(tok, sizeof tok, (long long)tc->steps * tc->batch_size * tc->model.seq_len);
    snprintf(v, sizeof v, "%s steps of batch %d × %d tokens (%s tokens per run); learning rate %g, warmup %d steps, "
             "cosine decay to %g×%s", steps, tc->batch_size, tc->model.seq_len, tok, tc->lr, tc->warmup_steps,
             tc->min_lr_frac,
             cJSON_GetObjectItemCaseSensitive(rc->config, "train") ? "" : " (trainer defaults: the config gives no train section)");
    setup_row(md, "Budget", v);
    /* seeds: the distinct seeds of the runs */
    int n = 0, k = 0;
    int64_t seeds[16];
    int counts[16];
    for (int i = 0; i < rc->n_runs; i++) {
        int j = 0;
        while (j < n && seeds[j] != rc->runs[i].run->seed) j++;
        if (j == n && n < 16) { seeds[n] = rc->runs[i].run->seed; counts[n++] = 0; }
        if (j < n) counts[j]++;
    }
    if (n == 0) snprintf(v, sizeof v, "%llu (config; no run yet)", (unsigned long long)tc->seed);
    for (int j = 0; j < n; j++)
        k += snprintf(v + k, sizeof v - k > (size_t)k ? sizeof v - k : 0, "%s%lld (%s)", j ? ", " : "",
                      (long long)seeds[j], n == 1 ? "every run" : counts[j] == 1 ? "1 run" : "runs");
    setup_row(md, "Seeds", v);
}

static void setup_retrain(struct report_buf *md, const struct report_campaign *rc, const struct train_config *tc)
{
    const cJSON *s = report_search_section(rc);
    const char *mode = s && report_json_str(s, "retrain") ? report_json_str(s, "retrain") : "scratch";
    int scratch = 0, inherit = 0;
    for (int i = 0; i < rc->n_runs; i++) {
        const struct db_run *r = rc->runs[i].run;
        if (r->role != DB_ROLE_CANDIDATE && r->role != DB_ROLE_CONTROL) continue;
        scratch += strcmp(r->retrain, "scratch") == 0;
        inherit += strcmp(r->retrain, "inherit") == 0;
    }
    char v[1400], steps[48] = "";
    double st;
    if (s && json_num(s, "inherit_steps", &st)) report_fmt_int(steps, sizeof steps, (long long)st);
    else report_fmt_int(steps, sizeof steps, tc->steps / 4 > 0 ? tc->steps / 4 : 1);
    if (strcmp(mode, "inherit") == 0)
        snprintf(v, sizeof v, "inherit: candidates warm-started from the probe, controls from the standard model, %s steps "
                 "each (candidates and controls: %d inherit, %d scratch)", steps, inherit, scratch);
    else
        snprintf(v, sizeof v, "scratch: every candidate and control trained from scratch with the same seed, data order "
                 "and steps (candidates and controls: %d scratch, %d inherit)", scratch, inherit);
    setup_row(md, "Retraining", v);
    char *rules = s ? cJSON_PrintUnformatted(s) : NULL;
    if (rules) snprintf(v, sizeof v, "`%s` (keys not given take their defaults)", rules);
    else snprintf(v, sizeof v, "defaults (the config has no \"search\" section)");
    free(rules);
    setup_row(md, "Proposal rules", v);
}

static int known_setup_key(const char *k)
{
    static const char *const keys[] = { "cpu_model", "cores", "threads", "blas_core", "version", "corpus_path",
                                        "tokens", "train_tokens", "val_tokens", "val_fraction", "is_bytes" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strcmp(k, keys[i]) == 0) return 1;
    return 0;
}

static void setup_machine(struct report_buf *md, const struct report_campaign *rc)
{
    const cJSON *su = rc->setup;
    char v[1400], cores[48], threads[48];
    if (!su) {
        setup_row(md, "Machine", "not recorded (the campaign has no setup in the database)");
    } else {
        const char *cpu = report_json_str(su, "cpu_model"), *blas = report_json_str(su, "blas_core");
        fmt_num_or(cores, sizeof cores, su, "cores", "not recorded");
        fmt_num_or(threads, sizeof threads, su, "threads", "not recorded");
        snprintf(v, sizeof v, "CPU %s; %s cores; %s threads; OpenBLAS core %s", cpu ? cpu : "not recorded", cores, threads,
                 blas ? blas : "not recorded");
        setup_row(md, "Machine", v);
    }
    setup_row(md, "Host", rc->c.host[0] ? rc->c.host : "not recorded");
    const char *ver = su ? report_json_str(su, "version") : NULL;
    snprintf(v, sizeof v, "%s (setup); the campaign was begun by code version %s", ver ? ver : "not recorded",
             rc->c.code_version[0] ? rc->c.code_version : "not recorded");
    setup_row(md, "Tool version", v);
    for (const cJSON *it = su ? su->child : NULL; it; it = it->next) {
        if (!it->string || known_setup_key(it->string)) continue;
        char *val = cJSON_PrintUnformatted(it);
        snprintf(v, sizeof v, "`%s`", val ? val : "?");
        free(val);
        char key[160];
        snprintf(key, sizeof key, "Setup: %s", it->string);
        setup_row(md, key, v);
    }
}

static void setup_time(struct report_buf *md, const struct report_campaign *rc)
{
    char v[1400], a[48], b[48], d[48], sum[48];
    report_fmt_utc(a, sizeof a, rc->c.started_at);
    report_fmt_utc(b, sizeof b, rc->c.finished_at);
    report_fmt_duration(sum, sizeof sum, rc->runs_wall_s);
    int finished = rc->c.finished_at > 0 && rc->c.status != DB_CAMPAIGN_RUNNING;
    snprintf(v, sizeof v, "started %s; %s%s", a, finished ? "ended " : "not finished", finished ? b : "");
    setup_row(md, "Dates", v);
    if (finished) {
        report_fmt_duration(d, sizeof d, rc->c.finished_at - rc->c.started_at);
        snprintf(v, sizeof v, "%s from the campaign's start to its end (includes any time it was stopped between "
                 "sessions); the done runs' own wall times sum to %s over %d run%s", d, sum, rc->n_done,
                 rc->n_done == 1 ? "" : "s");
    } else {
        snprintf(v, sizeof v, "not finished; the done runs' own wall times sum to %s over %d run%s", sum, rc->n_done,
                 rc->n_done == 1 ? "" : "s");
    }
    setup_row(md, "Wall time", v);
}

void report_section_setup(struct report_buf *md, const struct report_campaign *rc, int h)
{
    report_heading(md, h, "Setup");
    struct train_config tc;
    char why[CASCADE_ERR_MAX];
    int config_ok = campaign_train_config(rc, &tc, why) == 0;
    report_buf_puts(md, "| setting | value |\n|---|---|\n");
    setup_corpus(md, rc, &tc);
    setup_model(md, rc, &tc, config_ok, why);
    setup_budget(md, rc, &tc, config_ok);
    setup_retrain(md, rc, &tc);
    setup_machine(md, rc);
    setup_time(md, rc);
}
