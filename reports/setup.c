/* reports/setup.c — the report's Setup table: corpus and split, model shape, the probe's
 * and the standard baseline's architectures, budget, seeds, retraining, proposal rules,
 * machine, runs at once (search.parallel), host, tool version, dates and wall time. Read from the database only: the
 * campaign's setup JSON (keys: db/db.h, db_campaign_set_setup), whose "train_config" and
 * "search" are the training config and search section as the campaign resolved them,
 * every key written. A campaign recorded before those keys existed has only its config
 * JSON as given: its values are shown where it gives them and the rest is "not recorded"
 * (resolving the defaults here would be the trainer's code, and could differ from what
 * the campaign's version of it used). */
#include "reports/report_internal.h"

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

/* ---- the training config and the search section ------------------------------------------------ */

/* The resolved training config the setup recorded, or NULL (a campaign from before it). */
static const cJSON *train_config(const struct report_campaign *rc)
{
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(rc->setup, "train_config");
    return cJSON_IsObject(tc) ? tc : NULL;
}

/* section.key of the training config ("data", "model", "train"): the resolved one, else
 * the config's as given; NULL when neither has it. */
static const cJSON *train_value(const struct report_campaign *rc, const char *section, const char *key)
{
    const cJSON *root = train_config(rc) ? train_config(rc) : rc->config;
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, section), key);
}

/* The search section: the resolved one of the setup, else the config's as given; NULL
 * when neither has one. *resolved says which. */
static const cJSON *search_section(const struct report_campaign *rc, int *resolved)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(rc->setup, "search");
    *resolved = cJSON_IsObject(s);
    if (!*resolved) s = cJSON_GetObjectItemCaseSensitive(rc->config, "search");
    return cJSON_IsObject(s) ? s : NULL;
}

const char *report_retrain_mode(const struct report_campaign *rc)
{
    int resolved;
    const char *mode = report_json_str(search_section(rc, &resolved), "retrain");
    if (mode) return mode;
    /* what the candidates and controls recorded (a config that left it to the default) */
    for (int i = 0; i < rc->n_runs; i++) {
        const struct db_run *r = rc->runs[i].run;
        if ((r->role == DB_ROLE_CANDIDATE || r->role == DB_ROLE_CONTROL) && r->retrain[0])
            mode = strcmp(r->retrain, "inherit") == 0 ? "inherit" : mode ? mode : "scratch";
    }
    return mode;
}

/* One value of the training config as text: a whole number with separators (integer), else
 * "%g"; "not recorded" when missing. Returns whether it was there. */
static int fmt_train(char *out, size_t n, const struct report_campaign *rc, const char *section, const char *key,
                     int integer)
{
    const cJSON *v = train_value(rc, section, key);
    if (!cJSON_IsNumber(v)) { snprintf(out, n, "not recorded"); return 0; }
    if (integer) report_fmt_int(out, n, (long long)llround(v->valuedouble));
    else snprintf(out, n, "%g", v->valuedouble);
    return 1;
}

/* A fact made of several config values: each "key value" in a list, for a campaign whose
 * config does not give them all (the sentence form needs every one). */
struct train_key { const char *section, *key; int integer; };
static void list_train(char *out, size_t n, const struct report_campaign *rc, const struct train_key *keys, int nk)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < nk && len + 1 < n; i++) {
        char v[64];
        fmt_train(v, sizeof v, rc, keys[i].section, keys[i].key, keys[i].integer);
        len += (size_t)snprintf(out + len, n - len, "%s%s.%s %s", i ? ", " : "", keys[i].section, keys[i].key, v);
    }
    if (len + 1 < n)
        snprintf(out + len, n - len, " (the config as given: the campaign predates the recorded training config)");
}

/* ---- the rows ---------------------------------------------------------------------------------- */

/* A row whose value is the report's own text (numbers, fixed words: no '|'). A value
 * holding text from the database is written between row_begin and row_end, each piece
 * through report_md_cell or report_md_code. */
static void setup_row(struct report_buf *md, const char *what, const char *value)
{
    report_buf_printf(md, "| %s | %s |\n", what, value);
}
static void row_begin(struct report_buf *md, const char *what) { report_buf_printf(md, "| %s | ", what); }
static void row_end(struct report_buf *md) { report_buf_puts(md, " |\n"); }

static void setup_corpus(struct report_buf *md, const struct report_campaign *rc)
{
    const cJSON *su = rc->setup, *given = train_value(rc, "data", "path");
    const char *path = report_json_str(su, "corpus_path") ? report_json_str(su, "corpus_path")
                     : cJSON_IsString(given) ? given->valuestring : NULL;
    char v[1400], frac[64], tokens[48], tr[48], va[48];
    row_begin(md, "Corpus");
    if (path) {
        report_md_code(md, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, REPORT_MD_TABLE);
        report_buf_puts(md, " (");
        report_md_code(md, path, REPORT_MD_TABLE);
        report_buf_puts(md, ")");
    } else {
        report_buf_puts(md, "path not recorded");
    }
    double f;
    if (json_num(su, "val_fraction", &f)) snprintf(frac, sizeof frac, "%g", f);
    else fmt_train(frac, sizeof frac, rc, "data", "val_fraction", 0);
    const char *unit = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(su, "is_bytes")) ? "byte token" : "token";
    if (json_num(su, "tokens", &f)) {
        fmt_num_or(tokens, sizeof tokens, su, "tokens", "");
        fmt_num_or(tr, sizeof tr, su, "train_tokens", "not recorded");
        fmt_num_or(va, sizeof va, su, "val_tokens", "not recorded");
        snprintf(v, sizeof v, ": %s %s%s, split %s train / %s validation (validation fraction %s)", tokens, unit,
                 report_plural(llround(f)), tr, va, frac);
    } else {
        snprintf(v, sizeof v, ": size not recorded; validation fraction %s (config)", frac);
    }
    report_buf_puts(md, v);
    row_end(md);
}

static void setup_model(struct report_buf *md, const struct report_campaign *rc)
{
    static const struct train_key keys[5] = { { "model", "n_layer", 1 }, { "model", "n_embd", 1 },
                                              { "model", "n_head", 1 }, { "model", "seq_len", 1 },
                                              { "model", "vocab_size", 1 } };
    char v[1400], x[5][64];
    int have = 0;
    for (int k = 0; k < 5; k++) have += fmt_train(x[k], sizeof x[k], rc, keys[k].section, keys[k].key, 1);
    const cJSON *embd = train_value(rc, "model", "n_embd"), *heads = train_value(rc, "model", "n_head");
    const cJSON *layers = train_value(rc, "model", "n_layer"), *ctx = train_value(rc, "model", "seq_len");
    if (have == 5 && heads->valuedouble >= 1)
        snprintf(v, sizeof v, "%s layer%s, width %s, %s head%s per layer (head dim %d), context %s token%s, vocabulary %s",
                 x[0], report_plural(llround(layers->valuedouble)), x[1], x[2], report_plural(llround(heads->valuedouble)),
                 (int)(embd->valuedouble / heads->valuedouble), x[3], report_plural(llround(ctx->valuedouble)), x[4]);
    else
        list_train(v, sizeof v, rc, keys, 5);
    setup_row(md, "Model", v);
    const int refs[2] = { rc->probe, rc->standard };
    const char *what[2] = { "Probe", "Standard baseline" };
    const char *desc[2] = { "S–D attention, no LayerNorm", "softmax attention, LayerNorm" };
    for (int k = 0; k < 2; k++) {
        if (refs[k] < 0) { setup_row(md, what[k], "not recorded"); continue; }
        const struct report_run *r = &rc->runs[refs[k]];
        row_begin(md, what[k]);
        report_md_code(md, r->run->name, REPORT_MD_TABLE);
        report_buf_puts(md, ": ");
        report_md_code(md, r->run->arch, REPORT_MD_TABLE);
        report_buf_printf(md, " (%s, embeddings ×%g)", desc[k], r->arch.embed_scale);
        row_end(md);
    }
}

static void setup_budget(struct report_buf *md, const struct report_campaign *rc)
{
    static const struct train_key keys[6] = { { "train", "steps", 1 }, { "train", "batch_size", 1 },
                                              { "model", "seq_len", 1 }, { "train", "lr", 0 },
                                              { "train", "warmup_steps", 1 }, { "train", "min_lr_frac", 0 } };
    char v[1400], x[6][64], tok[48];
    int have = 0;
    for (int k = 0; k < 6; k++) have += fmt_train(x[k], sizeof x[k], rc, keys[k].section, keys[k].key, keys[k].integer);
    if (have == 6) {
        double steps = train_value(rc, "train", "steps")->valuedouble, ctx = train_value(rc, "model", "seq_len")->valuedouble,
               tokens = steps * train_value(rc, "train", "batch_size")->valuedouble * ctx;
        report_fmt_int(tok, sizeof tok, llround(tokens));
        snprintf(v, sizeof v, "%s step%s of batch %s × %s token%s (%s token%s per run); learning rate %s, warmup %s "
                 "step%s, cosine decay to %s×", x[0], report_plural(llround(steps)), x[1], x[2],
                 report_plural(llround(ctx)), tok, report_plural(llround(tokens)), x[3], x[4],
                 report_plural(llround(train_value(rc, "train", "warmup_steps")->valuedouble)), x[5]);
    } else {
        list_train(v, sizeof v, rc, keys, 6);
    }
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
    if (n == 0) {
        char seed[64];
        fmt_train(seed, sizeof seed, rc, "train", "seed", 0);
        snprintf(v, sizeof v, "%s (config; no run yet)", seed);
    }
    for (int j = 0; j < n; j++)
        k += snprintf(v + k, sizeof v - k > (size_t)k ? sizeof v - k : 0, "%s%lld (%s)", j ? ", " : "",
                      (long long)seeds[j], n == 1 ? "every run" : counts[j] == 1 ? "1 run" : "runs");
    setup_row(md, "Seeds", v);
}

static void setup_retrain(struct report_buf *md, const struct report_campaign *rc)
{
    int resolved;
    const cJSON *s = search_section(rc, &resolved);
    const char *mode = report_retrain_mode(rc);
    int scratch = 0, inherit = 0;
    for (int i = 0; i < rc->n_runs; i++) {
        const struct db_run *r = rc->runs[i].run;
        if (r->role != DB_ROLE_CANDIDATE && r->role != DB_ROLE_CONTROL) continue;
        scratch += strcmp(r->retrain, "scratch") == 0;
        inherit += strcmp(r->retrain, "inherit") == 0;
    }
    char v[1400], steps[64] = "a number of steps not recorded", num[48];
    double st;
    if (json_num(s, "inherit_steps", &st)) {
        report_fmt_int(num, sizeof num, llround(st));
        snprintf(steps, sizeof steps, "%s step%s", num, report_plural(llround(st)));
    }
    if (!mode)
        snprintf(v, sizeof v, "not recorded (candidates and controls: %d scratch, %d inherit)", scratch, inherit);
    else if (strcmp(mode, "inherit") == 0)
        snprintf(v, sizeof v, "inherit: candidates warm-started from the probe, controls from the standard model, %s "
                 "each (candidates and controls: %d inherit, %d scratch)", steps, inherit, scratch);
    else
        snprintf(v, sizeof v, "scratch: every candidate and control trained from scratch with the same seed, data order "
                 "and steps (candidates and controls: %d scratch, %d inherit)", scratch, inherit);
    setup_row(md, "Retraining", v);
    char *rules = s ? cJSON_PrintUnformatted(s) : NULL;
    row_begin(md, "Proposal rules");
    if (rules) {
        report_md_code(md, rules, REPORT_MD_TABLE);
        report_buf_puts(md, resolved ? " (every key as the campaign resolved it)"
                                     : " (as the config gives it; the keys it does not give are not recorded)");
    } else {
        report_buf_puts(md, "not recorded (the config has no \"search\" section, and the campaign predates the recorded "
                        "one)");
    }
    row_end(md);
    free(rules);
}

/* The keys the rows above show, and "cwd", which cascade export reads (where the campaign
 * ran says nothing about its results). */
static int known_setup_key(const char *k)
{
    static const char *const keys[] = { "cpu_model", "cores", "threads", "blas_core", "version", "corpus_path",
                                        "tokens", "train_tokens", "val_tokens", "val_fraction", "is_bytes",
                                        "train_config", "search", "parallel", "cwd" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strcmp(k, keys[i]) == 0) return 1;
    return 0;
}

/* "2 runs at once, 1 thread each (search.parallel auto: ...)" from the setup's
 * "parallel" (the last session's: auto may choose anew each session); nothing for a
 * campaign recorded before it, or under MPI. */
static void setup_parallel(struct report_buf *md, const cJSON *p)
{
    double runs, per_run, setting;
    if (!cJSON_IsObject(p) || !json_num(p, "runs", &runs) || !json_num(p, "threads_per_run", &per_run)) return;
    char v[1400], num[48];
    int k = runs > 1 ? snprintf(v, sizeof v, "%.0f at once, %.0f thread%s each", runs, per_run, per_run == 1 ? "" : "s")
                     : snprintf(v, sizeof v, "one at a time, %.0f thread%s", per_run, per_run == 1 ? "" : "s");
    if (json_num(p, "setting", &setting) && setting != 0) {
        snprintf(v + k, sizeof v - k, " (search.parallel %.0f)", setting);
    } else {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(p, "measured");
        k += snprintf(v + k, sizeof v - k, " (search.parallel auto%s", cJSON_GetArraySize(m) > 0 ? ", measured: " : "");
        int i = 0;
        for (const cJSON *x = cJSON_IsArray(m) ? m->child : NULL; x && k < (int)sizeof v; x = x->next, i++) {
            double r = 0, t = 0, tps = 0;
            json_num(x, "runs", &r);
            json_num(x, "threads_per_run", &t);
            json_num(x, "tokens_per_s", &tps);
            report_fmt_int(num, sizeof num, llround(tps));
            k += snprintf(v + k, sizeof v - k, "%s%.0f × %.0f thread%s %s token%s/s", i ? ", " : "", r, t,
                          report_plural(t), num, report_plural(llround(tps)));
        }
        if (k < (int)sizeof v) snprintf(v + k, sizeof v - k, "%s)", i ? " in all" : "");
    }
    setup_row(md, "Runs", v);
}

static void setup_machine(struct report_buf *md, const struct report_campaign *rc)
{
    const cJSON *su = rc->setup;
    if (!su) {
        setup_row(md, "Machine", "not recorded (the campaign has no setup in the database)");
    } else {
        const char *cpu = report_json_str(su, "cpu_model"), *blas = report_json_str(su, "blas_core");
        row_begin(md, "Machine");
        report_buf_puts(md, "CPU ");
        report_md_cell(md, cpu ? cpu : "not recorded");
        const char *what[2] = { "cores", "threads" }, *noun[2] = { "core", "thread" };
        for (int k = 0; k < 2; k++) {
            double x;
            char num[48];
            if (json_num(su, what[k], &x)) {
                report_fmt_int(num, sizeof num, llround(x));
                report_buf_printf(md, "; %s %s%s", num, noun[k], report_plural(llround(x)));
            } else {
                report_buf_printf(md, "; %s not recorded", what[k]);
            }
        }
        report_buf_puts(md, "; OpenBLAS core ");
        report_md_cell(md, blas ? blas : "not recorded");
        /* train.precision; a campaign recorded before the key existed trained in fp32 */
        const char *prec = cJSON_GetStringValue(train_value(rc, "train", "precision"));
        report_buf_puts(md, "; arithmetic ");
        report_md_cell(md, prec ? prec : "fp32");
        row_end(md);
        setup_parallel(md, cJSON_GetObjectItemCaseSensitive(su, "parallel"));
    }
    row_begin(md, "Host");
    report_md_cell(md, rc->c.host[0] ? rc->c.host : "not recorded");
    row_end(md);
    const char *ver = su ? report_json_str(su, "version") : NULL;
    row_begin(md, "Tool version");
    report_md_cell(md, ver ? ver : "not recorded");
    report_buf_puts(md, " (setup); the campaign was begun by code version ");
    report_md_cell(md, rc->c.code_version[0] ? rc->c.code_version : "not recorded");
    row_end(md);
    for (const cJSON *it = su ? su->child : NULL; it; it = it->next) {
        if (!it->string || known_setup_key(it->string)) continue;
        char *val = cJSON_PrintUnformatted(it);
        report_buf_puts(md, "| Setup: ");
        report_md_cell(md, it->string);
        report_buf_puts(md, " | ");
        report_md_code(md, val ? val : "?", REPORT_MD_TABLE);
        row_end(md);
        free(val);
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
    report_buf_puts(md, "| setting | value |\n|---|---|\n");
    setup_corpus(md, rc);
    setup_model(md, rc);
    setup_budget(md, rc);
    setup_retrain(md, rc);
    setup_machine(md, rc);
    setup_time(md, rc);
}
