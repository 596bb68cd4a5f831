/* search/campaign.c — the campaign config, the reference runs, the candidate rules of
 * SPEC.md §5, and training one run of a campaign.
 *
 * Campaign config (JSON; README "Campaign config" is the reference):
 *   {"name": "demo",
 *    "data": {...}, "model": {...}, "train": {...}   the trainer's schema (trainer/config.c);
 *        "model" gives the shape only: attention kinds, head dims, layernorm,
 *        linear_prefix and embed_scale (search.probe_embed_scale) are chosen per run by
 *        the search, so they are rejected here;
 *        train.out too (checkpoints go to search.runs_dir)
 *    "search": {"linear_threshold": 2.5, "max_prefix": n_layer, "multipliers": [1, 2],
 *               "head_dim_step": 4, "head_dim_min": 4, "control": true, "combine": true,
 *               "retrain": "scratch" | "inherit", "inherit_steps": steps/4,
 *               "analysis_tokens": seq_len, "runs_dir": "runs",
 *               "probe_embed_scale": 32}}   embedding multiplier of the runs without
 *                                           LayerNorm [ours]; those with it use 1
 */
#include "search/campaign.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* ------------------------------------------------------------------------------------ */
/* Config                                                                                 */

static char *read_text(const char *path, char *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fail(err, "%s: cannot open campaign config", path); return NULL; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (16L << 20)) { fclose(f); fail(err, "%s: not a campaign config (size %ld)", path, n); return NULL; }
    char *s = malloc(n + 1);
    if (!s || fread(s, 1, n, f) != (size_t)n) { fclose(f); free(s); fail(err, "%s: read error", path); return NULL; }
    s[n] = 0;
    fclose(f);
    return s;
}

/* line:column of byte offset `at` in text */
static void line_col(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') { (*line)++; *col = 1; } else (*col)++;
    }
}

static int get_number(const cJSON *obj, const char *key, const char *file, double lo, double hi,
                      int integral, double *out, char *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) return 0;
    if (!cJSON_IsNumber(it) || (integral && it->valuedouble != floor(it->valuedouble)) ||
        !(it->valuedouble >= lo && it->valuedouble <= hi))
        return fail(err, "%s: search.%s: expected %s in [%g, %g]", file, key,
                    integral ? "an integer" : "a number", lo, hi);
    *out = it->valuedouble;
    return 0;
}

static int get_bool(const cJSON *obj, const char *key, const char *file, int *out, char *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) return 0;
    if (!cJSON_IsBool(it)) return fail(err, "%s: search.%s: expected true or false", file, key);
    *out = cJSON_IsTrue(it);
    return 0;
}

static int parse_search(struct campaign_config *cc, const cJSON *s, char *err)
{
    static const char *const known[] = { "linear_threshold", "max_prefix", "multipliers", "head_dim_step",
                                         "head_dim_min", "control", "combine", "retrain", "inherit_steps",
                                         "analysis_tokens", "runs_dir", "probe_embed_scale", NULL };
    const char *file = cc->path;
    const struct model_config *mc = &cc->base.model;
    if (!cJSON_IsObject(s)) return fail(err, "%s: search: expected an object", file);
    for (const cJSON *it = s->child; it; it = it->next) {
        int ok = 0;
        for (int k = 0; known[k]; k++) ok |= strcmp(it->string, known[k]) == 0;
        if (!ok) return fail(err, "%s: search.%s: unknown key", file, it->string);
    }
    double v;
    v = cc->linear_threshold;
    if (get_number(s, "linear_threshold", file, 0, 1e6, 0, &v, err)) return -1;
    cc->linear_threshold = v;
    v = cc->max_prefix;
    if (get_number(s, "max_prefix", file, 0, mc->n_layer, 1, &v, err)) return -1;
    cc->max_prefix = (int)v;
    v = cc->head_dim_step;
    if (get_number(s, "head_dim_step", file, 1, 1024, 1, &v, err)) return -1;
    cc->head_dim_step = (int)v;
    v = cc->head_dim_min;
    if (get_number(s, "head_dim_min", file, 1, 1024, 1, &v, err)) return -1;
    cc->head_dim_min = (int)v;
    v = cc->inherit_steps;
    if (get_number(s, "inherit_steps", file, 1, 1e9, 1, &v, err)) return -1;
    cc->inherit_steps = (int)v;
    v = cc->analysis_tokens;
    if (get_number(s, "analysis_tokens", file, 2, mc->seq_len, 1, &v, err)) return -1;
    cc->analysis_tokens = (int)v;
    v = cc->probe_embed_scale;
    if (get_number(s, "probe_embed_scale", file, 1e-6, 1e6, 0, &v, err)) return -1;
    cc->probe_embed_scale = v;
    if (get_bool(s, "control", file, &cc->control, err) || get_bool(s, "combine", file, &cc->combine, err))
        return -1;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "multipliers");
    if (m) {
        int n = cJSON_GetArraySize(m);
        if (!cJSON_IsArray(m) || n < 1 || n > CAMPAIGN_MAX_MULTIPLIERS)
            return fail(err, "%s: search.multipliers: expected a list of 1..%d numbers", file, CAMPAIGN_MAX_MULTIPLIERS);
        cc->n_multipliers = 0;
        for (const cJSON *it = m->child; it; it = it->next) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble > 0 && it->valuedouble <= 1000))
                return fail(err, "%s: search.multipliers[%d]: expected a number in (0, 1000]", file, cc->n_multipliers);
            cc->multipliers[cc->n_multipliers++] = it->valuedouble;
        }
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(s, "retrain");
    if (r) {
        if (cJSON_IsString(r) && strcmp(r->valuestring, "scratch") == 0) cc->retrain = RETRAIN_SCRATCH;
        else if (cJSON_IsString(r) && strcmp(r->valuestring, "inherit") == 0) cc->retrain = RETRAIN_INHERIT;
        else return fail(err, "%s: search.retrain: expected \"scratch\" or \"inherit\"", file);
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(s, "runs_dir");
    if (d) {
        if (!cJSON_IsString(d) || !d->valuestring[0] || strlen(d->valuestring) >= sizeof cc->runs_dir - 200)
            return fail(err, "%s: search.runs_dir: expected a directory path", file);
        snprintf(cc->runs_dir, sizeof cc->runs_dir, "%s", d->valuestring);
    }
    return 0;
}

int campaign_config_load(struct campaign_config *cc, const char *path, char *err)
{
    memset(cc, 0, sizeof *cc);
    snprintf(cc->path, sizeof cc->path, "%s", path);
    cc->json = read_text(path, err);
    if (!cc->json) return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(cc->json, &end, 1);
    if (!root) {
        int line, col;
        line_col(cc->json, end ? end : cc->json, &line, &col);
        campaign_config_free(cc);
        return fail(err, "%s: line %d, column %d: invalid JSON", path, line, col);
    }
    int rc = -1;
    cJSON *train_part = cJSON_CreateObject();
    if (!cJSON_IsObject(root)) { fail(err, "%s: expected a JSON object", path); goto done; }
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "name") && strcmp(it->string, "data") && strcmp(it->string, "model") &&
            strcmp(it->string, "train") && strcmp(it->string, "search")) {
            fail(err, "%s: %s: unknown key (known: name, data, model, train, search)", path, it->string);
            goto done;
        }
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= sizeof cc->name ||
        strspn(name->valuestring, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            strlen(name->valuestring)) {
        fail(err, "%s: name: expected a campaign name of letters, digits, '_', '.', '-'", path);
        goto done;
    }
    snprintf(cc->name, sizeof cc->name, "%s", name->valuestring);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    static const char *const per_run[] = { "attention", "head_dim", "layernorm", "linear_prefix",
                                            "embed_scale", NULL };
    for (int k = 0; model && per_run[k]; k++) {
        if (cJSON_GetObjectItemCaseSensitive(model, per_run[k])) {
            fail(err, "%s: model.%s: chosen per run by the search (probe: sd without LayerNorm; "
                 "standard: softmax with LayerNorm; the probe's embed_scale: search.probe_embed_scale); "
                 "remove it", path, per_run[k]);
            goto done;
        }
    }
    const cJSON *train = cJSON_GetObjectItemCaseSensitive(root, "train");
    if (train && cJSON_GetObjectItemCaseSensitive(train, "out")) {
        fail(err, "%s: train.out: checkpoints go to search.runs_dir; remove it", path);
        goto done;
    }
    static const char *const sections[] = { "data", "model", "train", NULL };
    for (int k = 0; sections[k]; k++) {
        cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, sections[k]);
        if (sec) cJSON_AddItemReferenceToObject(train_part, sections[k], sec);
    }
    if (trainer_config_from_json(&cc->base, train_part, path, "", err) != 0) goto done;
    const struct model_config *mc = &cc->base.model;
    cc->linear_threshold = 2.5;
    cc->max_prefix = mc->n_layer;
    cc->n_multipliers = 2;
    cc->multipliers[0] = 1.0;
    cc->multipliers[1] = 2.0;
    cc->head_dim_step = 4;
    cc->head_dim_min = 4;
    cc->control = 1;
    cc->combine = 1;
    cc->retrain = RETRAIN_SCRATCH;
    cc->inherit_steps = cc->base.steps / 4 > 0 ? cc->base.steps / 4 : 1;
    cc->analysis_tokens = mc->seq_len;
    cc->probe_embed_scale = model_default_embed_scale(0);
    snprintf(cc->runs_dir, sizeof cc->runs_dir, "runs");
    const cJSON *search = cJSON_GetObjectItemCaseSensitive(root, "search");
    if (search && parse_search(cc, search, err) != 0) goto done;
    rc = 0;
done:
    cJSON_Delete(train_part);
    cJSON_Delete(root);
    if (rc != 0) campaign_config_free(cc);
    return rc;
}

void campaign_config_free(struct campaign_config *cc)
{
    free(cc->json);
    cc->json = NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Runs and candidates                                                                    */

void campaign_arch_string(char *out, int n, const struct model_config *mc)
{
    int k = 0;
    for (int l = 0; l < mc->n_layer && k < n; l++) {
        const char *c = mc->layers[l].kind == ATTN_SD ? "S" : mc->layers[l].kind == ATTN_LINEAR ? "L" : "A";
        k += snprintf(out + k, n - k, "%s%s", l ? " " : "", c);
    }
    if (k < n) k += snprintf(out + k, n - k, " | d ");
    for (int l = 0; l < mc->n_layer && k < n; l++)
        k += snprintf(out + k, n - k, "%s%d", l ? "," : "", mc->layers[l].head_dim);
    if (k < n) snprintf(out + k, n - k, "%s", mc->layernorm ? " | LN" : "");
}

static void uniform_arch(struct model_config *mc, const struct campaign_config *cc, enum attn_kind kind, int ln)
{
    *mc = cc->base.model;
    mc->layernorm = ln;
    mc->embed_scale = ln ? 1.0f : (float)cc->probe_embed_scale;
    int d = mc->n_embd / mc->n_head;
    for (int l = 0; l < mc->n_layer; l++) mc->layers[l] = (struct layer_arch){ kind, d };
}

void campaign_baselines(const struct campaign_config *cc, struct run_spec *probe, struct run_spec *standard)
{
    memset(probe, 0, sizeof *probe);
    memset(standard, 0, sizeof *standard);
    snprintf(probe->name, sizeof probe->name, "probe");
    snprintf(probe->role, sizeof probe->role, "probe");
    uniform_arch(&probe->arch, cc, ATTN_SD, 0);
    snprintf(probe->reason, sizeof probe->reason,
             "reference: S-D attention without LayerNorm in every layer, whose routing cascade is measured");
    probe->steps = cc->base.steps;
    snprintf(standard->name, sizeof standard->name, "standard");
    snprintf(standard->role, sizeof standard->role, "baseline");
    uniform_arch(&standard->arch, cc, ATTN_SOFTMAX, 1);
    snprintf(standard->reason, sizeof standard->reason,
             "conventional reference: softmax attention with LayerNorm, same shape and budget");
    standard->steps = cc->base.steps;
}

static int same_arch(const struct model_config *a, const struct model_config *b)
{
    if (a->layernorm != b->layernorm || a->n_layer != b->n_layer) return 0;
    for (int l = 0; l < a->n_layer; l++)
        if (a->layers[l].kind != b->layers[l].kind || a->layers[l].head_dim != b->layers[l].head_dim) return 0;
    return 1;
}

struct proposals { struct run_spec *v; int n, cap; };

/* A zeroed slot at the end of the list. */
static struct run_spec *append(struct proposals *p)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->v = realloc(p->v, sizeof *p->v * p->cap);
    }
    struct run_spec *r = &p->v[p->n++];
    memset(r, 0, sizeof *r);
    return r;
}

/* A new candidate of architecture arch, or NULL when it equals its reference or an
 * earlier proposal. */
static struct run_spec *propose(struct proposals *p, const struct model_config *arch, const struct model_config *ref)
{
    if (ref && same_arch(arch, ref)) return NULL;   /* no change from a reference: nothing to learn */
    for (int i = 0; i < p->n; i++)
        if (same_arch(&p->v[i].arch, arch)) return NULL;
    struct run_spec *r = append(p);
    r->arch = *arch;
    return r;
}

/* d_l = clamp(round_up(m * erank_l, step), d_min, d) — SPEC §5 */
static int allocated_dim(const struct campaign_config *cc, double m, double erank, int d)
{
    int step = cc->head_dim_step;
    int v = (int)ceil(m * erank / step - 1e-9) * step;
    if (v < cc->head_dim_min) v = cc->head_dim_min;
    if (v > d) v = d;
    return v;
}

static void format_eranks(char *out, int n, const double *e, int L)
{
    int k = 0;
    for (int l = 0; l < L && k < n; l++) k += snprintf(out + k, n - k, "%s%.2f", l ? ", " : "", e[l]);
}

int campaign_propose(const struct campaign_config *cc, const double *layer_erank,
                     struct run_spec **out, int *n)
{
    struct proposals p = { 0 };
    struct run_spec probe, standard;
    campaign_baselines(cc, &probe, &standard);
    const int L = cc->base.model.n_layer, d = probe.arch.layers[0].head_dim;
    const int inherit = cc->retrain == RETRAIN_INHERIT;
    const int steps = inherit ? cc->inherit_steps : cc->base.steps;
    char er[256];
    format_eranks(er, sizeof er, layer_erank, L);

    /* 0. inherit mode: the probe and the standard model trained inherit_steps more, with
     * the candidates' schedule, so that inherited runs are compared at equal budgets */
    for (int k = 0; inherit && k < (cc->control ? 2 : 1); k++) {
        struct run_spec *r = append(&p);
        *r = k == 0 ? probe : standard;
        snprintf(r->name, sizeof r->name, "%s", k == 0 ? CAMPAIGN_PROBE_CONT : CAMPAIGN_STANDARD_CONT);
        snprintf(r->role, sizeof r->role, "baseline");
        snprintf(r->reason, sizeof r->reason, "equal-budget reference: the %s continued for %d steps like the "
                 "inherited %s, so their deltas measure the architecture, not the extra training",
                 k == 0 ? "probe" : "standard model", steps, k == 0 ? "candidates (their delta is against it)" : "controls");
        r->inherit_from = k == 0 ? SOURCE_PROBE : SOURCE_STANDARD;
        r->steps = steps;
    }
    /* K: the leading layers whose cascade value is at or below the threshold */
    int K = 0;
    while (K < L && layer_erank[K] <= cc->linear_threshold) K++;
    int kmax = K + 1 < cc->max_prefix ? K + 1 : cc->max_prefix;

    /* 1. linear prefixes 1..K and the knee K+1 */
    for (int k = 1; k <= kmax; k++) {
        struct model_config a = probe.arch;
        for (int l = 0; l < k; l++) a.layers[l].kind = ATTN_LINEAR;
        struct run_spec *r = propose(&p, &a, &probe.arch);
        if (!r) continue;
        snprintf(r->name, sizeof r->name, "lin%d", k);
        snprintf(r->role, sizeof r->role, "candidate");
        if (k <= K)
            snprintf(r->reason, sizeof r->reason, "linear prefix: layers 0..%d have mean routing erank <= %.2f "
                     "(probe, weight level: %s) [SPEC 5]", k - 1, cc->linear_threshold, er);
        else
            snprintf(r->reason, sizeof r->reason, "knee of the linear prefix: one layer past the threshold "
                     "(layer %d has erank %.2f > %.2f) [SPEC 5]", k - 1, layer_erank[k - 1], cc->linear_threshold);
        r->inherit_from = inherit ? SOURCE_PROBE : SOURCE_NONE;
        r->steps = steps;
    }
    /* 2. the same prefixes on the standard model: the control */
    for (int k = 1; cc->control && k <= kmax; k++) {
        struct model_config a = standard.arch;
        for (int l = 0; l < k; l++) a.layers[l].kind = ATTN_LINEAR;
        struct run_spec *r = propose(&p, &a, &standard.arch);
        if (!r) continue;
        snprintf(r->name, sizeof r->name, "std_lin%d", k);
        snprintf(r->role, sizeof r->role, "control");
        snprintf(r->reason, sizeof r->reason, "control: the linear prefix of lin%d on the standard softmax "
                 "model with LayerNorm [SPEC 5]", k);
        r->inherit_from = inherit ? SOURCE_STANDARD : SOURCE_NONE;
        r->steps = steps;
    }
    /* 3. cascade-allocated head dims, then 4. combined with the linear prefix: the
     * qualifying prefix, within max_prefix, leaving at least one S–D layer to cut */
    int Kc = K < cc->max_prefix ? K : cc->max_prefix;
    if (Kc > L - 1) Kc = L - 1;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && (!cc->combine || Kc < 1)) break;
        for (int i = 0; i < cc->n_multipliers; i++) {
            double m = cc->multipliers[i];
            struct model_config a = probe.arch;
            char dims[256];
            int k = 0;
            for (int l = 0; l < L; l++) {
                if (pass == 1 && l < Kc) a.layers[l].kind = ATTN_LINEAR;  /* linear layers keep full d */
                else a.layers[l].head_dim = allocated_dim(cc, m, layer_erank[l], d);
                k += snprintf(dims + k, sizeof dims - k, "%s%d", l ? "," : "", a.layers[l].head_dim);
            }
            struct run_spec *r = propose(&p, &a, &probe.arch);
            if (!r) continue;
            if (pass == 0) {
                snprintf(r->name, sizeof r->name, "cut_m%g", m);
                snprintf(r->reason, sizeof r->reason, "cascade-allocated head dims d_l = clamp(round_up(%g * erank_l, %d), "
                         "%d, %d) = [%s] from erank [%s] [SPEC 5]", m, cc->head_dim_step, cc->head_dim_min, d, dims, er);
            } else {
                snprintf(r->name, sizeof r->name, "lin%d_cut_m%g", Kc, m);
                snprintf(r->reason, sizeof r->reason, "linear prefix of %d layers (erank <= %.2f) combined with "
                         "cascade-allocated head dims (m = %g) on the S-D layers: d = [%s] [SPEC 5]",
                         Kc, cc->linear_threshold, m, dims);
            }
            snprintf(r->role, sizeof r->role, "candidate");
            r->inherit_from = inherit ? SOURCE_PROBE : SOURCE_NONE;
            r->steps = steps;
        }
    }
    *out = p.v;
    *n = p.n;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* One run                                                                                */

int campaign_train_run(const struct campaign_config *cc, const struct run_spec *spec,
                       const char *ckpt_path, const char *source_ckpt, const struct dataset *ds,
                       train_progress_fn cb, void *user, struct run_outcome *out, char *err)
{
    memset(out, 0, sizeof *out);
    struct train_config tc = cc->base;
    tc.model = spec->arch;
    tc.steps = spec->steps;
    if (tc.warmup_steps >= tc.steps) tc.warmup_steps = tc.steps / 10;
    snprintf(tc.out_path, sizeof tc.out_path, "%s", ckpt_path);
    if (trainer_config_validate(&tc, cc->path, err) != 0) return -1;

    /* Inherit: the warm-started model becomes the run's step-0 checkpoint, so the rest is
     * an ordinary resume (and a kill during this run resumes the same way). */
    if (spec->inherit_from != SOURCE_NONE && access(ckpt_path, F_OK) != 0) {
        struct model src, dst;
        if (!source_ckpt) return fail(err, "run %s: no source checkpoint to inherit from", spec->name);
        if (checkpoint_load(source_ckpt, &src, NULL, NULL, err) != 0) return -1;
        int rc = campaign_inherit(&dst, &spec->arch, &src, tc.seed, err);
        model_free(&src);
        if (rc != 0) return -1;
        dst.step = 0;
        struct checkpoint_info info = { 0, NAN, 0.0 };
        rc = checkpoint_save(ckpt_path, &dst, &tc, &info, err);
        model_free(&dst);
        if (rc != 0) return -1;
    }
    struct model m;
    struct train_result res;
    if (trainer_train(&tc, ckpt_path, &m, ds, cb, user, &res, err) != 0) return -1;
    if (isnan(res.val.loss) && !res.diverged && !res.stopped &&  /* finished earlier: evaluate */
        trainer_evaluate(&m, ds, tc.batch_size, tc.model.seq_len, tc.eval_batches, &res.val, err) != 0) {
        model_free(&m);
        return -1;
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
