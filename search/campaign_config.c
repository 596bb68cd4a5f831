/* search/campaign_config.c — the campaign config: loading and validation, read by the
 * trainer's table-driven config reader (trainer/config.c) so that it has the same errors.
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
 *               "retrain": "scratch" | "inherit", "inherit_steps": steps/4 (0: the
 *                          inherited model evaluated as it is, no retraining),
 *               "inherit_lr_frac": 0.25 (campaign_continuation_schedule),
 *               "inherit_short_steps": 200 (shorter continuations: constant final lr),
 *               "replicates": 3 (the Δ reference's seeds: the noise floor),
 *               "candidate_replicates": 1 (seeds of every candidate and control:
 *                          paired verdicts, v_paired),
 *               "measure": "sensitivity" (default) | "erank" | "pr" | "k90" | "planes" | "erank_minus_init" |
 *                          "realised_erank" | "realised_pr" | "sensitivity" (what the
 *                          rules read), "sensitivity_batches": 8,
 *               "budget_ppl_pct": 0 (off) | "objective": "attention_params" |
 *               "flops_per_token" | "tokens_per_s", "max_rounds": 3, "per_round": 4
 *                          (budget-driven rounds, needs retrain "inherit"),
 *               "low_k": [] (k of low{k}: the k lowest-measured layers linear),
 *               "fractions": [] (f of cut_f{f}: dims from the measurement at f of the
 *                          probe's attention parameters),
 *               "qk_cuts": false (also each head-dim candidate and opposite with its dims
 *                          on the query/key side alone: NAME_qk, values kept),
 *               "analysis_tokens": seq_len, "analysis_windows": 8 (realised
 *                          measures: windows averaged), "runs_dir": "runs",
 *               "probe_embed_scale": 32,    embedding multiplier of the runs without
 *                                           LayerNorm [ours]; those with it use 1
 *               "parallel": 0}}             runs side by side in this process: 0 auto
 *                                           (measured, search/parallel.c), 1 one at a
 *                                           time, k k at once (threads / k each)
 */
#include "search/campaign.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The search section, read by the trainer's config reader (same errors, duplicate keys
 * refused); "multipliers" and "retrain" are read below, the bounds that depend on the
 * model (max_prefix <= n_layer, analysis_tokens <= seq_len) checked after. */
#define OFF_C(member) offsetof(struct campaign_config, member)
static const struct config_key campaign_keys[] = {
    /* section  key                 type          lo    hi     open  why   offset */
    { "",       "name",             CONFIG_STR,   1,    127,   0, 0, NULL, OFF_C(name) },
    { "search", "linear_threshold", CONFIG_NUM,   0,    1e6,   0, 0, NULL, OFF_C(linear_threshold) },
    { "search", "max_prefix",       CONFIG_INT,   0,    TRAINER_MAX_LAYERS, 0, 0, NULL, OFF_C(max_prefix) },
    { "search", "head_dim_step",    CONFIG_INT,   1,    1024,  0, 0, NULL, OFF_C(head_dim_step) },
    { "search", "head_dim_min",     CONFIG_INT,   1,    1024,  0, 0, NULL, OFF_C(head_dim_min) },
    { "search", "control",          CONFIG_BOOL,  0,    1,     0, 0, NULL, OFF_C(control) },
    { "search", "combine",          CONFIG_BOOL,  0,    1,     0, 0, NULL, OFF_C(combine) },
    { "search", "qk_cuts",          CONFIG_BOOL,  0,    1,     0, 0, NULL, OFF_C(qk_cuts) },
    { "search", "inherit_steps",    CONFIG_INT,   0,    1e9,   0, 0, NULL, OFF_C(inherit_steps) },
    { "search", "replicates",       CONFIG_INT,   1,    16,    0, 0, NULL, OFF_C(replicates) },
    { "search", "candidate_replicates", CONFIG_INT, 1,  16,    0, 0, NULL, OFF_C(candidate_replicates) },
    { "search", "budget_ppl_pct",   CONFIG_NUM,   0,    1000,  0, 0, NULL, OFF_C(budget_ppl_pct) },
    { "search", "max_rounds",       CONFIG_INT,   1,    100,   0, 0, NULL, OFF_C(max_rounds) },
    { "search", "per_round",        CONFIG_INT,   1,    4,     0, 0, NULL, OFF_C(per_round) },
    { "search", "inherit_lr_frac",  CONFIG_NUM,   0,    1,     1, 0, NULL, OFF_C(inherit_lr_frac) },
    { "search", "inherit_short_steps", CONFIG_INT, 0,   1e9,   0, 0, NULL, OFF_C(inherit_short_steps) },
    { "search", "analysis_tokens",  CONFIG_INT,   2,    65536, 0, 0, NULL, OFF_C(analysis_tokens) },
    { "search", "analysis_windows", CONFIG_INT,   1,    64,    0, 0, NULL, OFF_C(analysis_windows) },
    { "search", "sensitivity_batches", CONFIG_INT, 1,   1024,  0, 0, NULL, OFF_C(sensitivity_batches) },
    { "search", "runs_dir",         CONFIG_STR,   1,    TRAINER_PATH_MAX - 200, 0, 0, NULL, OFF_C(runs_dir) },
    { "search", "probe_embed_scale", CONFIG_NUM,  0,    1e6,   1, 0, NULL, OFF_C(probe_embed_scale) },
    { "search", "seed",             CONFIG_SEED,  0,    9007199254740992.0, 0, 0, "2^53, exact as a JSON number",
      OFF_C(search_seed) },
    { "search", "baselines_from",   CONFIG_STR,   0,    TRAINER_PATH_MAX - 1, 0, 0, NULL, OFF_C(baselines_from) },
    { "search", "parallel",         CONFIG_INT,   0,    1024,  0, 0, "0: auto, 1: one run at a time, k: k runs at once",
      OFF_C(parallel) },
};
#define N_CAMPAIGN_KEYS (sizeof campaign_keys / sizeof campaign_keys[0])
static const char *const campaign_sections[] = { "data", "model", "train", "search", NULL };
static const char *const search_extra[] = { "multipliers", "retrain", "measure", "objective", "low_k", "fractions",
                                            "strategy", NULL };

const struct config_key *campaign_config_keys(int *n, const char *const **extra)
{
    *n = (int)N_CAMPAIGN_KEYS;
    if (extra) *extra = search_extra;
    return campaign_keys;
}
static const char *const objective_names[] = { "attention_params", "flops_per_token", "tokens_per_s" };
static const char *const strategy_names[] = { "mixed", "measured", "random" };

const char *campaign_strategy_name(enum campaign_strategy s)
{
    return (int)s >= 0 && (int)s < 3 ? strategy_names[s] : "unknown";
}

const char *campaign_objective_name(enum campaign_objective o)
{
    return (int)o >= 0 && (int)o < 3 ? objective_names[o] : "unknown";
}
static const char *const measure_names[CAMPAIGN_N_MEASURES] = { "erank", "pr", "k90", "planes", "erank_minus_init",
                                                                 "realised_erank", "realised_pr", "sensitivity" };

const char *campaign_measure_name(enum campaign_measure m)
{
    return (int)m >= 0 && (int)m < CAMPAIGN_N_MEASURES ? measure_names[m] : "unknown";
}

static void campaign_defaults(struct campaign_config *cc)
{
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
    cc->inherit_lr_frac = CAMPAIGN_INHERIT_LR_FRAC;
    cc->inherit_short_steps = 200;
    cc->replicates = 3;
    cc->candidate_replicates = 1;
    cc->budget_ppl_pct = 0.0;
    cc->objective = OBJECTIVE_ATTENTION_PARAMS;
    cc->max_rounds = 3;
    cc->per_round = 4;
    cc->analysis_tokens = mc->seq_len;
    cc->analysis_windows = 8;
    /* the default measure is the one the evidence campaign found informative (docs/studies.md
     * "Does measuring help?"): sensitivity beat its opposite controls at every retraining
     * budget and its blind ones in 10 of 12 pairs; the weight erank mostly tied the blind
     * choice and the realised erank pointed the wrong way */
    cc->measure = MEASURE_SENSITIVITY;
    cc->sensitivity_batches = 8;
    cc->search_seed = cc->base.seed;   /* search.seed's default */
    cc->probe_embed_scale = model_default_embed_scale(0);
    cc->parallel = 0;   /* auto */
    snprintf(cc->runs_dir, sizeof cc->runs_dir, "runs");
}

/* search.KEY, when given: a list of at most CAMPAIGN_MAX_MULTIPLIERS numbers into out[]
 * and *n. integer: whole numbers in [lo, hi]; else numbers in (lo, hi) (hi included when
 * hi >= 1000: the multipliers' bound). Errors name the key, or the element: "search.low_k[1]:
 * expected an integer in 1..2 ...". */
static int read_list(const char *file, const cJSON *s, const char *key, const char *list_what, int integer, double lo,
                     double hi, const char *elem_what, double *out, int *n, char *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(s, key);
    if (!a) return 0;
    char path[64];
    snprintf(path, sizeof path, "search.%s", key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > CAMPAIGN_MAX_MULTIPLIERS)
        return config_fail(err, file, path, "expected a list of %s", list_what);
    *n = 0;
    for (const cJSON *it = a->child; it; it = it->next) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
        int ok = integer ? v == floor(v) && v >= lo && v <= hi : v > lo && (hi >= 1000 ? v <= hi : v < hi);
        if (!ok) {
            snprintf(path, sizeof path, "search.%s[%d]", key, *n);
            return config_fail(err, file, path, "expected %s", elem_what);
        }
        out[(*n)++] = v;
    }
    return 0;
}

/* search.multipliers, search.retrain, and the bounds that depend on the model. */
static int parse_search_rest(struct campaign_config *cc, const cJSON *s, char *err)
{
    const char *file = cc->path;
    const struct model_config *mc = &cc->base.model;
    char what[96];
    if (read_list(file, s, "multipliers", "0..8 numbers (none: no multiplier cuts)", 0, 0, 1000, "a number in (0, 1000]",
                  cc->multipliers, &cc->n_multipliers, err) != 0 ||
        read_list(file, s, "fractions", "at most 8 fractions", 0, 0, 1, "a fraction in (0, 1) of the probe's attention "
                  "parameters", cc->fractions, &cc->n_fractions, err) != 0)
        return -1;
    double k[CAMPAIGN_MAX_MULTIPLIERS];
    snprintf(what, sizeof what, "an integer in 1..%d (model.n_layer - 1: one S-D layer stays)", mc->n_layer - 1);
    int n_k = -1;
    if (read_list(file, s, "low_k", "at most 8 layer counts", 1, 1, mc->n_layer - 1, what, k, &n_k, err) != 0) return -1;
    if (n_k >= 0) {
        cc->n_low_k = n_k;
        for (int i = 0; i < n_k; i++) cc->low_k[i] = (int)k[i];
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(s, "retrain");
    if (r) {
        if (cJSON_IsString(r) && strcmp(r->valuestring, "scratch") == 0) cc->retrain = RETRAIN_SCRATCH;
        else if (cJSON_IsString(r) && strcmp(r->valuestring, "inherit") == 0) cc->retrain = RETRAIN_INHERIT;
        else return config_fail(err, file, "search.retrain", "expected \"scratch\" or \"inherit\"");
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(s, "measure");
    if (ms) {
        int k = 0;
        while (k < CAMPAIGN_N_MEASURES && !(cJSON_IsString(ms) && strcmp(ms->valuestring, measure_names[k]) == 0)) k++;
        if (k == CAMPAIGN_N_MEASURES)
            return config_fail(err, file, "search.measure", "expected \"erank\", \"pr\", \"k90\", \"planes\", "
                               "\"erank_minus_init\", \"realised_erank\", \"realised_pr\" or \"sensitivity\"");
        cc->measure = (enum campaign_measure)k;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "strategy");
    if (st) {
        int k = 0;
        while (k < 3 && !(cJSON_IsString(st) && strcmp(st->valuestring, strategy_names[k]) == 0)) k++;
        if (k == 3) return config_fail(err, file, "search.strategy", "expected \"mixed\", \"measured\" or \"random\"");
        cc->strategy = (enum campaign_strategy)k;
    }
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(s, "objective");
    if (ob) {
        int k = 0;
        while (k < 3 && !(cJSON_IsString(ob) && strcmp(ob->valuestring, objective_names[k]) == 0)) k++;
        if (k == 3)
            return config_fail(err, file, "search.objective", "expected \"attention_params\", \"flops_per_token\" or "
                               "\"tokens_per_s\"");
        cc->objective = (enum campaign_objective)k;
    }
    if (cc->budget_ppl_pct > 0 && cc->retrain != RETRAIN_INHERIT)
        return config_fail(err, file, "search.budget_ppl_pct", "rounds inherit each incumbent's weights: set "
                           "search.retrain to \"inherit\"");
    /* keys that would do nothing are refused, not ignored: a user who sets them expects them
     * to act */
    static const char *const round_keys[] = { "objective", "max_rounds", "per_round", "strategy", NULL };
    for (int k = 0; cc->budget_ppl_pct == 0 && round_keys[k]; k++) {
        if (!cJSON_GetObjectItemCaseSensitive(s, round_keys[k])) continue;
        char key[40];
        snprintf(key, sizeof key, "search.%s", round_keys[k]);
        return config_fail(err, file, key, "has no effect without search.budget_ppl_pct (the budget-driven rounds); "
                           "set budget_ppl_pct or remove it");
    }
    /* routing-only twins come from the head-dim families of the first stage */
    int cut_families = cc->n_fractions > 0 || (cc->n_multipliers > 0 && cc->measure != MEASURE_SENSITIVITY);
    if (cc->qk_cuts && (!cut_families || cc->strategy != STRATEGY_MIXED))
        return config_fail(err, file, "search.qk_cuts", "has no effect without a head-dim candidate to take the dims "
                           "of (search.fractions, or search.multipliers under a measure other than \"sensitivity\") "
                           "in a first stage that proposes them (strategy \"mixed\"); remove it");
    if (cc->budget_ppl_pct > 0 && cc->measure == MEASURE_ERANK_MINUS_INIT)
        return config_fail(err, file, "search.measure", "\"erank_minus_init\" cannot be read by the rounds: S_0 of "
                           "an incumbent that was cut or inherited is not the init of any seed (choose another measure "
                           "or remove budget_ppl_pct)");
    int head = mc->n_embd / mc->n_head;
    if (cJSON_GetObjectItemCaseSensitive(s, "head_dim_min") && cc->head_dim_min >= head)
        return config_fail(err, file, "search.head_dim_min", "%d leaves no cut of the probe's head dim %d "
                           "(model.n_embd / model.n_head): no cut candidate could be proposed", cc->head_dim_min, head);
    if (cc->max_prefix > mc->n_layer)
        return config_fail(err, file, "search.max_prefix", "expected an integer in 0..%d (model.n_layer), got %d",
                           mc->n_layer, cc->max_prefix);
    if (cc->analysis_tokens > mc->seq_len)
        return config_fail(err, file, "search.analysis_tokens", "expected an integer in 2..%d (model.seq_len), "
                           "got %d", mc->seq_len, cc->analysis_tokens);
    return 0;
}

int campaign_config_load(struct campaign_config *cc, const char *path, char *err)
{
    memset(cc, 0, sizeof *cc);
    snprintf(cc->path, sizeof cc->path, "%s", path);
    void *root_v = NULL;
    if (config_file_parse(path, &cc->json, &root_v, err) != 0) return -1;
    cJSON *root = root_v;
    int rc = -1;
    cJSON *train_part = cJSON_CreateObject();
    /* top level: name and the sections, each once */
    if (config_read_section(path, root, "", campaign_keys, N_CAMPAIGN_KEYS, campaign_sections, cc, err) != 0)
        goto done;
    if (!cc->name[0]) { config_fail(err, path, "name", "missing: a campaign needs a name"); goto done; }
    if (strspn(cc->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(cc->name)) {
        config_fail(err, path, "name", "expected a campaign name of letters, digits, '_', '.', '-'");
        goto done;
    }
    /* the name is a folder of search.runs_dir: ".." would put checkpoints beside it, "."
     * into it, and a leading dot hides the folder */
    if (cc->name[0] == '.') {
        config_fail(err, path, "name", "'%s': a campaign name may not start with '.' (it names a folder in "
                    "search.runs_dir)", cc->name);
        goto done;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    static const char *const per_run[] = { "attention", "head_dim", "qk_dim", "v_dim", "layernorm",
                                            "linear_prefix", "embed_scale", NULL };
    for (int k = 0; cJSON_IsObject(model) && per_run[k]; k++) {
        if (cJSON_GetObjectItemCaseSensitive(model, per_run[k])) {
            char key[32];
            snprintf(key, sizeof key, "model.%s", per_run[k]);
            config_fail(err, path, key, "chosen per run by the search (probe: sd without LayerNorm; "
                        "standard: softmax with LayerNorm; the probe's embed_scale: search.probe_embed_scale); "
                        "remove it");
            goto done;
        }
    }
    const cJSON *train = cJSON_GetObjectItemCaseSensitive(root, "train");
    if (cJSON_IsObject(train) && cJSON_GetObjectItemCaseSensitive(train, "out")) {
        config_fail(err, path, "train.out", "checkpoints go to search.runs_dir; remove it");
        goto done;
    }
    static const char *const sections[] = { "data", "model", "train", NULL };
    for (int k = 0; sections[k]; k++) {
        cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, sections[k]);
        if (sec) cJSON_AddItemReferenceToObject(train_part, sections[k], sec);
    }
    if (trainer_config_from_json(&cc->base, train_part, path, "", err) != 0) goto done;
    campaign_defaults(cc);
    const cJSON *search = cJSON_GetObjectItemCaseSensitive(root, "search");
    if (search) {
        if (config_read_section(path, search, "search", campaign_keys, N_CAMPAIGN_KEYS, search_extra, cc, err) != 0 ||
            parse_search_rest(cc, search, err) != 0)
            goto done;
    }
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


void *campaign_search_to_json(const struct campaign_config *cc)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (size_t i = 0; i < N_CAMPAIGN_KEYS; i++) {
        const struct config_key *k = &campaign_keys[i];
        if (strcmp(k->section, "search") != 0) continue;
        const char *src = (const char *)cc + k->offset;
        switch (k->type) {
        case CONFIG_INT:   cJSON_AddNumberToObject(o, k->key, *(const int *)src); break;
        case CONFIG_BOOL:  cJSON_AddBoolToObject(o, k->key, *(const int *)src != 0); break;
        case CONFIG_NUM:   cJSON_AddNumberToObject(o, k->key, *(const double *)src); break;
        case CONFIG_FLOAT: cJSON_AddNumberToObject(o, k->key, *(const float *)src); break;
        case CONFIG_SEED:  cJSON_AddNumberToObject(o, k->key, (double)*(const uint64_t *)src); break;
        case CONFIG_STR:   cJSON_AddStringToObject(o, k->key, src); break;
        }
    }
    cJSON *m = cJSON_AddArrayToObject(o, "multipliers");
    for (int i = 0; m && i < cc->n_multipliers; i++) cJSON_AddItemToArray(m, cJSON_CreateNumber(cc->multipliers[i]));
    cJSON *fa = cJSON_AddArrayToObject(o, "fractions");
    for (int i = 0; fa && i < cc->n_fractions; i++) cJSON_AddItemToArray(fa, cJSON_CreateNumber(cc->fractions[i]));
    cJSON *lk = cJSON_AddArrayToObject(o, "low_k");
    for (int i = 0; lk && i < cc->n_low_k; i++) cJSON_AddItemToArray(lk, cJSON_CreateNumber(cc->low_k[i]));
    cJSON_AddStringToObject(o, "retrain", cc->retrain == RETRAIN_INHERIT ? "inherit" : "scratch");
    cJSON_AddStringToObject(o, "strategy", campaign_strategy_name(cc->strategy));
    cJSON_AddStringToObject(o, "measure", campaign_measure_name(cc->measure));
    cJSON_AddStringToObject(o, "objective", campaign_objective_name(cc->objective));
    return o;
}
