/* search/proposals.c — the reference runs and the candidate rules of SPEC.md §5: linear
 * prefixes, cascade-allocated head dims, their combination, the standard-model controls,
 * and the blind controls of equal size that every measured candidate is compared with.
 * Pure functions of the campaign config and the measured cascade (tested in
 * tests/test_search.c).
 */
#include "search/campaign.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void campaign_arch_string(char *out, int n, const struct model_config *mc)
{
    int k = 0;
    for (int l = 0; l < mc->n_layer && k < n; l++) {
        const char *c = mc->layers[l].kind == ATTN_SD ? "S" : mc->layers[l].kind == ATTN_LINEAR ? "L" : "A";
        k += snprintf(out + k, n - k, "%s%s", l ? " " : "", c);
    }
    if (k < n) k += snprintf(out + k, n - k, " | d ");
    for (int l = 0; l < mc->n_layer && k < n; l++) {   /* "qk/v" where the widths differ */
        const struct layer_arch *la = &mc->layers[l];
        k += snprintf(out + k, n - k, "%s%d", l ? "," : "", la->qk_dim);
        if (la->v_dim != la->qk_dim && k < n) k += snprintf(out + k, n - k, "/%d", la->v_dim);
    }
    if (k < n) snprintf(out + k, n - k, "%s", mc->layernorm ? " | LN" : "");
}

static void uniform_arch(struct model_config *mc, const struct campaign_config *cc, enum attn_kind kind, int ln)
{
    *mc = cc->base.model;
    mc->layernorm = ln;
    mc->embed_scale = ln ? 1.0f : (float)cc->probe_embed_scale;
    int d = mc->n_embd / mc->n_head;
    for (int l = 0; l < mc->n_layer; l++) mc->layers[l] = (struct layer_arch){ kind, d, d };
}

/* A reference run of the campaign's shape and budget, every layer `kind`. */
static void baseline(struct run_spec *r, const struct campaign_config *cc, const char *name, const char *role,
                     enum attn_kind kind, int ln, const char *reason)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->role, sizeof r->role, "%s", role);
    uniform_arch(&r->arch, cc, kind, ln);
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    r->steps = cc->base.steps;
}

void campaign_baselines(const struct campaign_config *cc, struct run_spec *probe, struct run_spec *standard)
{
    baseline(probe, cc, "probe", "probe", ATTN_SD, 0,
             "reference: S-D attention without LayerNorm in every layer, whose routing cascade is measured");
    baseline(standard, cc, "standard", "baseline", ATTN_SOFTMAX, 1,
             "conventional reference: softmax attention with LayerNorm, same shape and budget");
}

static int same_arch(const struct model_config *a, const struct model_config *b)
{
    if (a->layernorm != b->layernorm || a->n_layer != b->n_layer) return 0;
    for (int l = 0; l < a->n_layer; l++)
        if (a->layers[l].kind != b->layers[l].kind || a->layers[l].qk_dim != b->layers[l].qk_dim ||
            a->layers[l].v_dim != b->layers[l].v_dim)
            return 0;
    return 1;
}

/* A joint cut of a layer by `by` dims: its query/key and value widths both. */
static void cut_layer(struct layer_arch *la, int by)
{
    la->qk_dim -= by;
    la->v_dim -= by;
}

/* Sets layer l's width d: both widths (a joint cut), or the query/key width alone (qk: a
 * routing-only cut, the values kept). */
static void set_layer_dim(struct layer_arch *la, int d, int qk)
{
    if (qk) la->qk_dim = d;
    else layer_arch_set_head_dim(la, d);
}

struct proposals {
    struct run_spec *v;          /* (n) proposals so far, cap allocated */
    int n, cap;
    int oom;                     /* 1 once an allocation failed: the list is incomplete */
};

/* A zeroed slot at the end of the list, or NULL (p->oom set) when out of memory. */
static struct run_spec *append(struct proposals *p)
{
    if (p->oom) return NULL;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        struct run_spec *v = realloc(p->v, sizeof *v * cap);
        if (!v) { p->oom = 1; return NULL; }
        p->v = v;
        p->cap = cap;
    }
    struct run_spec *r = &p->v[p->n++];
    memset(r, 0, sizeof *r);
    return r;
}

/* A new candidate of architecture arch, or NULL when it equals its reference or an
 * earlier proposal (or memory ran out). */
static struct run_spec *propose(struct proposals *p, const struct model_config *arch, const struct model_config *ref)
{
    if (ref && same_arch(arch, ref)) return NULL;   /* no change from a reference: nothing to learn */
    for (int i = 0; i < p->n; i++)
        if (same_arch(&p->v[i].arch, arch)) return NULL;
    struct run_spec *r = append(p);
    if (r) r->arch = *arch;
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

/* A blind control of `cand`: same budget and warm start, role "control", control_of its
 * name. */
static void as_control(struct run_spec *r, const struct run_spec *cand, const char *name, const char *reason)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->role, sizeof r->role, "control");
    snprintf(r->control_of, sizeof r->control_of, "%s", cand->name);
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    r->inherit_from = cand->inherit_from;
    r->steps = cand->steps;
}

/* The uniform head dim whose attention parameter count is nearest `target` (ties: the
 * smaller), for an architecture like `base` with every layer at that dim (qk: its
 * query/key width alone). */
static int nearest_uniform_dim(const struct model_config *base, size_t target, int d_max, int qk, size_t *got)
{
    int best = 1;
    size_t best_diff = (size_t)-1;
    for (int d = 1; d <= d_max; d++) {
        struct model_config a = *base;
        for (int l = 0; l < a.n_layer; l++) set_layer_dim(&a.layers[l], d, qk);
        size_t n = model_config_param_counts(&a).attention;
        size_t diff = n > target ? n - target : target - n;
        if (diff < best_diff) { best_diff = diff; best = d; *got = n; }
    }
    return best;
}

/* uniform_m{m}: one head dim in every layer, the size nearest the candidate's;
 * reversed_m{m}: the candidate's dims in reverse layer order (same size exactly). Of a
 * routing-only candidate (cut_..._qk): the same on the query/key widths, named ..._qk. */
static void add_cut_controls(struct proposals *p, const struct run_spec *cand, const struct model_config *probe,
                             int qk)
{
    const int L = cand->arch.n_layer;
    const char *what = qk ? "query/key width" : "head dim";
    size_t target = model_config_param_counts(&cand->arch).attention, got = 0;
    int d = nearest_uniform_dim(&cand->arch, target, probe->layers[0].qk_dim, qk, &got);
    struct model_config a = cand->arch;
    for (int l = 0; l < L; l++) set_layer_dim(&a.layers[l], d, qk);
    char name[64], why[512];
    double off = 100.0 * ((double)got / (double)target - 1.0);
    struct run_spec *r = propose(p, &a, probe);
    if (r) {
        snprintf(name, sizeof name, "uniform_%s", cand->name + 4);
        snprintf(why, sizeof why, "blind control of %s: %s %d in every layer, %zu attention parameters "
                 "against its %zu (%+.1f%%%s) [SPEC 5]", cand->name, what, d, got, target, off,
                 fabs(off) <= 2.0 ? "" : ", the nearest a single dim allows");
        as_control(r, cand, name, why);
    }
    for (int l = 0; l < L; l++) set_layer_dim(&a.layers[l], cand->arch.layers[L - 1 - l].qk_dim, qk);
    r = propose(p, &a, probe);   /* NULL when the dims read the same both ways */
    if (r) {
        snprintf(name, sizeof name, "reversed_%s", cand->name + 4);
        snprintf(why, sizeof why, "blind control of %s: its %ss in reverse layer order (same size) [SPEC 5]",
                 cand->name, what);
        as_control(r, cand, name, why);
    }
}

/* The routing-only twin of a joint head-dim candidate or opposite control (cut_m{m},
 * cut_f{f}, inverse_f{f}): the same measured dims given to the query/key widths alone,
 * every value width kept at the probe's (search.qk_cuts) [ours]. A routing measure can
 * only be expected to predict the routing side. Named {name}_qk. */
static void add_qk_twin(struct proposals *p, const struct run_spec *src, const struct model_config *probe)
{
    struct model_config a = src->arch;
    for (int l = 0; l < a.n_layer; l++) a.layers[l].v_dim = probe->layers[l].v_dim;
    char cand[72];
    snprintf(cand, sizeof cand, "%s_qk", src->control_of);
    int has_cand = 0;   /* a control's twin needs its candidate's twin */
    for (int i = 0; src->control_of[0] && i < p->n; i++) has_cand |= strcmp(p->v[i].name, cand) == 0;
    /* a control is kept even when another proposal has its architecture (as in
     * add_fraction): the pair must exist to be compared */
    struct run_spec *r = !src->control_of[0] ? propose(p, &a, probe) : has_cand && !same_arch(&a, probe) ? append(p) : NULL;
    if (!r) return;
    *r = *src;
    r->arch = a;
    snprintf(r->name, sizeof r->name, "%s_qk", src->name);
    if (src->control_of[0]) snprintf(r->control_of, sizeof r->control_of, "%s", cand);
    size_t k = strlen(r->reason);
    snprintf(r->reason + k, sizeof r->reason - k, "; routing side only: these dims as query/key widths (U, S, D), "
             "every value width kept [ours]");
}

/* linlast{k}: the last k layers linear instead of the first k. */
static void add_linear_control(struct proposals *p, const struct run_spec *cand, const struct model_config *probe)
{
    const int L = cand->arch.n_layer;
    int k = 0;
    for (int l = 0; l < L; l++) k += cand->arch.layers[l].kind == ATTN_LINEAR;
    struct model_config a = *probe;
    for (int l = L - k; l < L; l++) a.layers[l].kind = ATTN_LINEAR;
    struct run_spec *r = propose(p, &a, probe);
    if (!r) return;
    char name[64], why[512];
    snprintf(name, sizeof name, "linlast%d", k);
    snprintf(why, sizeof why, "blind control of %s: the last %d layer%s linear instead of the first (same size) "
             "[SPEC 5]", cand->name, k, k == 1 ? "" : "s");
    as_control(r, cand, name, why);
}

/* ---- fraction allocations ----------------------------------------------------------- */

static size_t attention_with(const struct model_config *base, const int *dims)
{
    struct model_config a = *base;
    for (int l = 0; l < a.n_layer; l++) layer_arch_set_head_dim(&a.layers[l], dims[l]);
    return model_config_param_counts(&a).attention;
}

/* Greedy over the sensitivity curves: from the full dims, one grid step down at a time in
 * the layer whose step adds the least loss per attention parameter saved (opposite: the
 * most), until at or below the target. The loss of a dim is the single-layer curve's
 * (cuts are assumed to add up). */
static void greedy_dims(const struct model_config *probe, const struct campaign_sensitivity *s, size_t target,
                        int opposite, int *dims)
{
    const int L = probe->n_layer;
    int at[TRAINER_MAX_LAYERS];   /* index into the grid of each layer's dim; n_dims: full */
    for (int l = 0; l < L; l++) { dims[l] = probe->layers[l].qk_dim; at[l] = s->n_dims; }
    while (attention_with(probe, dims) > target) {
        int best = -1, best_j = -1;
        double best_ratio = 0.0;
        size_t now = attention_with(probe, dims);
        for (int l = 0; l < L; l++) {
            int j = at[l] - 1;
            while (j >= 0 && (s->dims[j] >= dims[l] || isnan(s->cut_loss[l][j]))) j--;
            if (j < 0 || probe->layers[l].kind != ATTN_SD) continue;
            double before = at[l] == s->n_dims ? s->base_loss : s->cut_loss[l][at[l]];
            int saved_dims[TRAINER_MAX_LAYERS];
            memcpy(saved_dims, dims, sizeof(int) * L);
            saved_dims[l] = s->dims[j];
            size_t saved = now - attention_with(probe, saved_dims);
            if (saved == 0) continue;
            double ratio = (s->cut_loss[l][j] - before) / (double)saved;
            if (best < 0 || (opposite ? ratio > best_ratio : ratio < best_ratio)) {
                best = l;
                best_j = j;
                best_ratio = ratio;
            }
        }
        if (best < 0) break;   /* every layer at the grid's floor */
        at[best] = best_j;
        dims[best] = s->dims[best_j];
    }
}

/* d_l = clamp(round(c w_l / step) step, head_dim_min, d_l of the probe). */
static void scaled_dims(const struct campaign_config *cc, const struct model_config *probe, const double *w, double c,
                        int *dims)
{
    const int step = cc->head_dim_step;
    for (int l = 0; l < probe->n_layer; l++) {
        long v = lround(c * w[l] / step) * step;
        int d = probe->layers[l].qk_dim;
        dims[l] = v < cc->head_dim_min ? cc->head_dim_min : v > d ? d : (int)v;
    }
}

/* |size / target - 1| */
static double size_off(const struct model_config *probe, const int *dims, size_t target)
{
    return fabs((double)attention_with(probe, dims) / (double)target - 1.0);
}

/* d_l proportional to w_l: the scale c by bisection to the size nearest the target; then,
 * while more than 2% off, the move that brings the size nearest, as long as one does (at
 * most 4 L moves: the bisection leaves the size within a step or two): one
 * layer one head_dim_step up or down, or one layer up and another down (S's d(d-1)/2
 * makes a dim cost more in a wider layer, so a swap moves the size a little). */
static void proportional_dims(const struct campaign_config *cc, const struct model_config *probe, const double *w,
                              size_t target, int *dims)
{
    const int L = probe->n_layer;
    double lo = 0.0, hi = 1.0;
    for (int k = 0; k < 60; k++, hi *= 2.0) {
        scaled_dims(cc, probe, w, hi, dims);
        if (attention_with(probe, dims) >= target) break;
    }
    int best[TRAINER_MAX_LAYERS];
    memcpy(best, dims, sizeof(int) * L);
    double best_off = size_off(probe, dims, target);
    for (int it = 0; it < 60; it++) {
        double c = 0.5 * (lo + hi);
        scaled_dims(cc, probe, w, c, dims);
        double off = size_off(probe, dims, target);
        if (off < best_off) { best_off = off; memcpy(best, dims, sizeof(int) * L); }
        if (attention_with(probe, dims) > target) hi = c; else lo = c;
    }
    memcpy(dims, best, sizeof(int) * L);
    const int step = cc->head_dim_step;
    for (int it = 0; best_off > 0.02 && it < 4 * L; it++) {   /* bounded: each move costs O(L^3) */
        int bl = -1, bm = -1, bd = 0, be = 0;
        for (int l = 0; l < L; l++) {
            for (int m = -1; m < L; m++) {   /* m -1: l alone, by +-step; else l up, m down */
                for (int sgn = -1; sgn <= 1; sgn += 2) {
                    if (m >= 0 && (m == l || sgn < 0)) continue;
                    int v = dims[l] + sgn * step, u = m >= 0 ? dims[m] - step : 0;
                    if (v < cc->head_dim_min || v > probe->layers[l].qk_dim) continue;
                    if (m >= 0 && u < cc->head_dim_min) continue;
                    int was_l = dims[l], was_m = m >= 0 ? dims[m] : 0;
                    dims[l] = v;
                    if (m >= 0) dims[m] = u;
                    double off = size_off(probe, dims, target);
                    dims[l] = was_l;
                    if (m >= 0) dims[m] = was_m;
                    if (off < best_off - 1e-12) { best_off = off; bl = l; bd = v; bm = m; be = u; }
                }
            }
        }
        if (bl < 0) break;
        dims[bl] = bd;
        if (bm >= 0) dims[bm] = be;
    }
}

int campaign_fraction_dims(const struct campaign_config *cc, const struct model_config *probe, const double *value,
                           const struct campaign_sensitivity *sens, double f, int opposite, int *dims)
{
    const int L = probe->n_layer;
    size_t target = (size_t)llround(f * (double)model_config_param_counts(probe).attention);
    if (sens) {
        greedy_dims(probe, sens, target, opposite, dims);
    } else {
        double w[TRAINER_MAX_LAYERS];
        for (int l = 0; l < L; l++) {
            double v = isfinite(value[l]) && value[l] > 1e-9 ? value[l] : 1e-9;
            w[l] = opposite ? 1.0 / v : v;
        }
        proportional_dims(cc, probe, w, target, dims);
    }
    return size_off(probe, dims, target) <= 0.02;
}

/* Layers ordered by value, lowest first (ties: the earlier layer; NAN last). */
static void rank_layers(const double *value, int L, int *order)
{
    for (int l = 0; l < L; l++) order[l] = l;
    for (int i = 1; i < L; i++) {   /* insertion sort: stable, L <= 64 */
        int x = order[i], j = i;
        while (j > 0 && (isnan(value[order[j - 1]]) ? !isnan(value[x]) : value[x] < value[order[j - 1]])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
}

/* "1,4" from a layer set (flags, L of them). */
static void format_layers(char *out, size_t n, const int *set, int L)
{
    size_t k = 0;
    out[0] = 0;
    for (int l = 0; l < L && k < n; l++)
        if (set[l]) k += snprintf(out + k, n - k, "%s%d", k ? "," : "", l);
}

/* low{k}, its opposite high{k} and its blind control lowblind{k} (campaign_propose). */
static void add_low_k(struct proposals *p, const struct campaign_config *cc, const struct run_spec *probe,
                      const double *value, int k, int inherit, int steps)
{
    const int L = probe->arch.n_layer;
    int order[TRAINER_MAX_LAYERS], low[TRAINER_MAX_LAYERS] = { 0 }, high[TRAINER_MAX_LAYERS] = { 0 };
    int blind[TRAINER_MAX_LAYERS];
    rank_layers(value, L, order);
    for (int i = 0; i < k; i++) { low[order[i]] = 1; high[order[L - 1 - i]] = 1; }
    /* blind: k layers drawn from the seed (partial Fisher-Yates), drawn again (a few times)
     * while they are low{k}'s own */
    uint64_t rng = cc->search_seed ^ (0x6c6f77626c696e64ULL + (uint64_t)k);
    for (int tries = 0; tries < 16; tries++) {
        int pool[TRAINER_MAX_LAYERS], same = 1;
        for (int l = 0; l < L; l++) { pool[l] = l; blind[l] = 0; }
        for (int i = 0; i < k; i++) {
            int j = i + (int)(trainer_rng_next(&rng) % (uint64_t)(L - i));
            int t = pool[i]; pool[i] = pool[j]; pool[j] = t;
            blind[pool[i]] = 1;
        }
        for (int l = 0; l < L; l++) same &= blind[l] == low[l];
        if (!same) break;
    }
    const char *mname = campaign_measure_name(cc->measure);
    char name[64], set[256], why[512];
    struct model_config a = probe->arch;
    for (int l = 0; l < L; l++) if (low[l]) a.layers[l].kind = ATTN_LINEAR;
    struct run_spec *cand = propose(p, &a, &probe->arch);
    if (!cand) return;
    format_layers(set, sizeof set, low, L);
    snprintf(cand->name, sizeof cand->name, "low%d", k);
    snprintf(cand->role, sizeof cand->role, "candidate");
    snprintf(cand->reason, sizeof cand->reason, "the %d layer%s with the lowest %s made linear, wherever they are: "
             "layers %s [ours, SPEC 5]", k, k == 1 ? "" : "s", mname, set);
    cand->inherit_from = inherit ? SOURCE_PROBE : SOURCE_NONE;
    cand->steps = steps;
    struct run_spec c = *cand;   /* a copy: append may move the list */
    for (int pass = 0; pass < 2; pass++) {
        const int *flags = pass == 0 ? high : blind;
        a = probe->arch;
        for (int l = 0; l < L; l++) if (flags[l]) a.layers[l].kind = ATTN_LINEAR;
        /* a control is trained even when another proposal has its architecture (high1 is
         * lin1 when layer 0 measures highest): the pair must exist to be compared */
        struct run_spec *r = same_arch(&a, &c.arch) ? NULL : append(p);
        if (!r) continue;
        r->arch = a;
        format_layers(set, sizeof set, flags, L);
        snprintf(name, sizeof name, pass == 0 ? "high%d" : "lowblind%d", k);
        if (pass == 0)
            snprintf(why, sizeof why, "opposite control of %s: the %d layer%s with the highest %s linear instead "
                     "(layers %s): if the measure informs, this must lose [ours]", c.name, k, k == 1 ? "" : "s", mname,
                     set);
        else
            snprintf(why, sizeof why, "blind control of %s: %d layer%s drawn from the seed linear instead (layers %s) "
                     "[ours]", c.name, k, k == 1 ? "" : "s", set);
        as_control(r, &c, name, why);
    }
}

/* cut_f{f} and its opposite inverse_f{f} (its blind controls come with step 5). */
static void add_fraction(struct proposals *p, const struct campaign_config *cc, const struct run_spec *probe,
                         const double *value, const struct campaign_sensitivity *sens, double f, int inherit, int steps)
{
    const int L = probe->arch.n_layer;
    const char *mname = campaign_measure_name(cc->measure);
    size_t full = model_config_param_counts(&probe->arch).attention;
    struct run_spec cand;
    for (int opp = 0; opp < 2; opp++) {
        int dims[TRAINER_MAX_LAYERS];
        int within = campaign_fraction_dims(cc, &probe->arch, value, sens, f, opp, dims);
        struct model_config a = probe->arch;
        char ds[256];
        int k = 0;
        for (int l = 0; l < L; l++) {
            layer_arch_set_head_dim(&a.layers[l], dims[l]);
            k += snprintf(ds + k, sizeof ds - k, "%s%d", l ? "," : "", dims[l]);
        }
        double got = 100.0 * (double)model_config_param_counts(&a).attention / (double)full;
        char how[200];
        if (sens) snprintf(how, sizeof how, "greedy cuts of the %s loss added per parameter saved (sensitivity curves)",
                           opp ? "most" : "least");
        else snprintf(how, sizeof how, "d_l proportional to %s%s_l", opp ? "1 / " : "", mname);
        struct run_spec *r;
        if (opp == 0) {
            if (!(r = propose(p, &a, &probe->arch))) return;
            snprintf(r->name, sizeof r->name, "cut_f%g", f);
            snprintf(r->role, sizeof r->role, "candidate");
            snprintf(r->reason, sizeof r->reason, "head dims at %g of the probe's attention parameters (%.1f%%%s): %s: "
                     "[%s] [ours, SPEC 5]", f, got, within ? "" : ", the nearest the grid allows", how, ds);
            r->inherit_from = inherit ? SOURCE_PROBE : SOURCE_NONE;
            r->steps = steps;
            cand = *r;
        } else {
            if (same_arch(&a, &cand.arch) || !(r = append(p))) return;
            r->arch = a;
            char name[64], why[512];
            snprintf(name, sizeof name, "inverse_f%g", f);
            snprintf(why, sizeof why, "opposite control of %s: %s (%.1f%% of the probe's attention parameters): [%s]: "
                     "if the measure informs, this must lose [ours]", cand.name, how, got, ds);
            as_control(r, &cand, name, why);
        }
    }
}

int campaign_propose(const struct campaign_config *cc, const double *layer_erank,
                     const struct campaign_sensitivity *sens, struct run_spec **out, int *n)
{
    struct proposals p = { 0 };
    struct run_spec probe, standard;
    campaign_baselines(cc, &probe, &standard);
    const int L = cc->base.model.n_layer, d = probe.arch.layers[0].qk_dim;
    const int inherit = cc->retrain == RETRAIN_INHERIT;
    const int steps = inherit ? cc->inherit_steps : cc->base.steps;
    char er[256];
    format_eranks(er, sizeof er, layer_erank, L);
    const char *mname = campaign_measure_name(cc->measure);

    /* 0. inherit mode: the probe and the standard model trained inherit_steps more, with
     * the candidates' schedule, so that inherited runs are compared at equal budgets */
    for (int k = 0; inherit && k < (cc->control ? 2 : 1); k++) {
        struct run_spec *r = append(&p);
        if (!r) break;
        *r = k == 0 ? probe : standard;
        snprintf(r->name, sizeof r->name, "%s", k == 0 ? CAMPAIGN_PROBE_CONT : CAMPAIGN_STANDARD_CONT);
        snprintf(r->role, sizeof r->role, "baseline");
        snprintf(r->reason, sizeof r->reason, "equal-budget reference: the %s continued for %d steps like the "
                 "inherited %s, so their deltas measure the architecture, not the extra training",
                 k == 0 ? "probe" : "standard model", steps, k == 0 ? "candidates (their delta is against it)" : "controls");
        r->inherit_from = k == 0 ? SOURCE_PROBE : SOURCE_STANDARD;
        r->steps = steps;
    }
    /* 0b. replicates of the reference of every Δ (the probe, or the continued probe in
     * inherit mode) with other seeds: their spread is the noise floor of every Δ */
    for (int i = 2; i <= cc->replicates; i++) {
        struct run_spec *r = append(&p);
        if (!r) break;
        *r = probe;
        const char *ref = inherit ? CAMPAIGN_PROBE_CONT : "probe";
        snprintf(r->name, sizeof r->name, "%s_r%d", ref, i);
        snprintf(r->role, sizeof r->role, "baseline");
        snprintf(r->replicate_of, sizeof r->replicate_of, "%s", ref);
        r->seed = (inherit ? cc->search_seed : cc->base.seed) + (uint64_t)(i - 1);
        snprintf(r->reason, sizeof r->reason, "noise floor: %s again with seed %llu (%s), replicate %d of %d; the "
                 "spread of these perplexities is the noise every delta is compared with [SPEC 5]", ref,
                 (unsigned long long)r->seed, inherit ? "the continuation's data order" : "initialisation and data order",
                 i, cc->replicates);
        r->inherit_from = inherit ? SOURCE_PROBE : SOURCE_NONE;
        r->steps = steps;
    }
    /* measured and random searches are their rounds alone: the first stage trains only
     * the references */
    if (cc->strategy != STRATEGY_MIXED) goto done;
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
            snprintf(r->reason, sizeof r->reason, "linear prefix: layers 0..%d have mean routing %s <= %.2f "
                     "(probe, weight level: %s) [SPEC 5]", k - 1, mname, cc->linear_threshold, er);
        else
            snprintf(r->reason, sizeof r->reason, "knee of the linear prefix: one layer past the threshold "
                     "(layer %d has %s %.2f > %.2f) [SPEC 5]", k - 1, mname, layer_erank[k - 1], cc->linear_threshold);
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
        snprintf(r->control_of, sizeof r->control_of, "lin%d", k);
        snprintf(r->reason, sizeof r->reason, "control: the linear prefix of lin%d on the standard softmax "
                 "model with LayerNorm [SPEC 5]", k);
        r->inherit_from = inherit ? SOURCE_STANDARD : SOURCE_NONE;
        r->steps = steps;
    }
    /* 3. cascade-allocated head dims, then 4. combined with the linear prefix: the
     * qualifying prefix, within max_prefix, leaving at least one S–D layer to cut */
    int Kc = K < cc->max_prefix ? K : cc->max_prefix;
    if (Kc > L - 1) Kc = L - 1;
    for (int pass = 0; pass < 2 && cc->measure != MEASURE_SENSITIVITY; pass++) {
        if (pass == 1 && (!cc->combine || Kc < 1)) break;
        for (int i = 0; i < cc->n_multipliers; i++) {
            double m = cc->multipliers[i];
            struct model_config a = probe.arch;
            char dims[256];
            int k = 0;
            for (int l = 0; l < L; l++) {
                if (pass == 1 && l < Kc) a.layers[l].kind = ATTN_LINEAR;  /* linear layers keep full d */
                else layer_arch_set_head_dim(&a.layers[l], allocated_dim(cc, m, layer_erank[l], d));
                k += snprintf(dims + k, sizeof dims - k, "%s%d", l ? "," : "", a.layers[l].qk_dim);
            }
            struct run_spec *r = propose(&p, &a, &probe.arch);
            if (!r) continue;
            if (pass == 0) {
                snprintf(r->name, sizeof r->name, "cut_m%g", m);
                snprintf(r->reason, sizeof r->reason, "cascade-allocated head dims d_l = clamp(round_up(%g * %s_l, %d), "
                         "%d, %d) = [%s] from %s [%s] [SPEC 5]", m, mname, cc->head_dim_step, cc->head_dim_min, d, dims,
                         mname, er);
            } else {
                snprintf(r->name, sizeof r->name, "lin%d_cut_m%g", Kc, m);
                snprintf(r->reason, sizeof r->reason, "linear prefix of %d layers (%s <= %.2f) combined with "
                         "cascade-allocated head dims (m = %g) on the S-D layers: d = [%s] [SPEC 5]",
                         Kc, mname, cc->linear_threshold, m, dims);
            }
            snprintf(r->role, sizeof r->role, "candidate");
            r->inherit_from = inherit ? SOURCE_PROBE : SOURCE_NONE;
            r->steps = steps;
        }
    }
    /* 4b. low{k}: the lowest-measured layers linear wherever they are, with their
     * opposite and blind controls */
    for (int i = 0; i < cc->n_low_k; i++) add_low_k(&p, cc, &probe, layer_erank, cc->low_k[i], inherit, steps);
    /* 4c. fraction allocations with their opposites */
    for (int i = 0; i < cc->n_fractions; i++)
        add_fraction(&p, cc, &probe, layer_erank, sens, cc->fractions[i], inherit, steps);
    /* 4d. routing-only twins of the head-dim candidates and their opposites */
    for (int i = 0, n_joint = p.n; cc->qk_cuts && i < n_joint; i++) {
        struct run_spec src = p.v[i];   /* a copy: append may move the list */
        if (strncmp(src.name, "cut_m", 5) == 0 || strncmp(src.name, "cut_f", 5) == 0 ||
            strncmp(src.name, "inverse_f", 9) == 0)
            add_qk_twin(&p, &src, &probe.arch);
    }
    /* 5. blind controls of every measured candidate [ours, SPEC 5] */
    int n_measured = p.n;
    for (int i = 0; i < n_measured; i++) {
        struct run_spec cand = p.v[i];   /* a copy: append may move the list */
        if (strcmp(cand.role, "candidate") != 0) continue;   /* std_lin controls are "control" */
        if (strncmp(cand.name, "cut_m", 5) == 0 || strncmp(cand.name, "cut_f", 5) == 0) {
            size_t n = strlen(cand.name);
            add_cut_controls(&p, &cand, &probe.arch, n > 3 && strcmp(cand.name + n - 3, "_qk") == 0);
        }
        else if (strncmp(cand.name, "lin", 3) == 0 && !strchr(cand.name, '_')) add_linear_control(&p, &cand, &probe.arch);
    }
    /* 6. paired seeds of every candidate and control */
    int n_first = p.n;
    for (int s = 2; s <= cc->candidate_replicates; s++) {
        for (int i = 0; i < n_first; i++) {
            struct run_spec base = p.v[i];   /* a copy: append may move the list */
            if (strcmp(base.role, "candidate") != 0 && strcmp(base.role, "control") != 0) continue;
            struct run_spec *r = append(&p);
            if (!r) break;
            *r = base;
            snprintf(r->name, sizeof r->name, "%s_s%d", base.name, s);
            snprintf(r->replicate_of, sizeof r->replicate_of, "%s", base.name);
            if (base.control_of[0]) snprintf(r->control_of, sizeof r->control_of, "%s_s%d", base.control_of, s);
            r->seed = (inherit ? cc->search_seed : cc->base.seed) + (uint64_t)(s - 1);
            const char *ref = inherit ? CAMPAIGN_PROBE_CONT : "probe";
            if (s <= cc->replicates) snprintf(r->reference, sizeof r->reference, "%s_r%d", ref, s);
            size_t k = strlen(r->reason);
            snprintf(r->reason + k, sizeof r->reason - k, "; seed %llu (%s), paired seed %d of %d",
                     (unsigned long long)r->seed, inherit ? "the continuation's data order" : "initialisation and data order",
                     s, cc->candidate_replicates);
        }
    }
done:
    if (p.oom) { free(p.v); *out = NULL; *n = 0; return -1; }
    *out = p.v;
    *n = p.n;
    return 0;
}


/* ------------------------------------------------------------------------------------ */
/* Budget-driven rounds                                                                   */

/* The name of round r's equal-budget reference (round 0's is probe_cont). */
void campaign_round_reference(char *out, size_t n, int round)
{
    if (round <= 0) snprintf(out, n, "%s", CAMPAIGN_PROBE_CONT);
    else snprintf(out, n, "probe_round%d", round);
}

/* The round's context: what every proposal of round `round` shares. */
struct round_ctx {
    const struct campaign_config *cc;
    int round;
    const char *incumbent;             /* its name: the parent of every proposal */
    const struct model_config *arch;   /* its architecture */
    const struct model_config *trained;/* (n_trained) architectures trained before */
    int n_trained;
    char ref[64];                      /* this round's equal-budget reference */
};

static int was_trained(const struct round_ctx *x, const struct model_config *a)
{
    for (int i = 0; i < x->n_trained; i++) if (same_arch(&x->trained[i], a)) return 1;
    return 0;
}

/* A round proposal: inherits the incumbent, trained inherit_steps, Δ against the round's
 * reference; NULL when it is the incumbent, an earlier proposal, or trained before. */
static struct run_spec *round_spec(struct proposals *p, const struct round_ctx *x, const struct model_config *arch,
                                   const char *role)
{
    if (was_trained(x, arch)) return NULL;
    struct run_spec *r = propose(p, arch, x->arch);
    if (!r) return NULL;
    r->round = x->round;
    r->inherit_from = SOURCE_PROBE;   /* inherits (from parent, which names the run) */
    snprintf(r->parent, sizeof r->parent, "%s", x->incumbent);
    snprintf(r->reference, sizeof r->reference, "%s", x->ref);
    snprintf(r->role, sizeof r->role, "%s", role);
    r->steps = x->cc->inherit_steps;
    return r;
}

/* The dims a cut of layer l removes: measured (the multiplier rule on value_l, or under
 * sensitivity the next grid point down), or measure-free (random: to half, rounded up to
 * head_dim_step). 0 when the layer cannot be cut. */
static int cut_dims(const struct round_ctx *x, int l, const double *value, const struct campaign_sensitivity *sens,
                    int random)
{
    const struct campaign_config *cc = x->cc;
    int d = x->arch->layers[l].qk_dim, to;
    if (random) {
        to = (int)ceil(d / 2.0 / cc->head_dim_step - 1e-9) * cc->head_dim_step;
        if (to < cc->head_dim_min) to = cc->head_dim_min;
    } else if (sens) {
        to = d;
        for (int j = 0; j < sens->n_dims; j++) if (sens->dims[j] < d && !isnan(sens->cut_loss[l][j])) to = sens->dims[j];
    } else {
        to = allocated_dim(cc, cc->n_multipliers ? cc->multipliers[0] : 1.0, value[l], d);
    }
    return to < d ? d - to : 0;
}

/* What a measured cut of layer l costs per attention parameter saved (lower: better); the
 * rank rule's order is the most dims removed first. */
static double cut_score(const struct round_ctx *x, int l, int removed, const struct campaign_sensitivity *sens)
{
    if (!sens) return -(double)removed;
    int to = x->arch->layers[l].qk_dim - removed;
    double loss = NAN;
    for (int j = 0; j < sens->n_dims; j++) if (sens->dims[j] == to) loss = sens->cut_loss[l][j];
    struct model_config a = *x->arch;
    cut_layer(&a.layers[l], removed);
    double saved = (double)model_config_param_counts(x->arch).attention - (double)model_config_param_counts(&a).attention;
    return (loss - sens->base_loss) / (saved > 0 ? saved : 1.0);
}

int campaign_propose_round(const struct campaign_config *cc, int round, const char *incumbent,
                           const struct model_config *arch, const double *value,
                           const struct campaign_sensitivity *sens, const struct model_config *trained,
                           int n_trained, struct run_spec **out, int *n)
{
    struct proposals p = { 0 };
    const int L = arch->n_layer;
    const int random = cc->strategy == STRATEGY_RANDOM;
    const char *mname = campaign_measure_name(cc->measure);
    struct round_ctx x = { cc, round, incumbent, arch, trained, n_trained, "" };
    char prev_ref[64], er[256];
    campaign_round_reference(x.ref, sizeof x.ref, round);
    campaign_round_reference(prev_ref, sizeof prev_ref, round - 1);
    int k = 0;
    er[0] = 0;
    for (int l = 0; !random && l < L && k < (int)sizeof er; l++)
        k += arch->layers[l].kind == ATTN_SD ? snprintf(er + k, sizeof er - k, "%s%.3g", l ? ", " : "", value[l])
                                             : snprintf(er + k, sizeof er - k, "%s-", l ? ", " : "");

    /* the equal-budget reference of this round: the previous one continued once more (its Δ
     * against the previous reference), and its replicates with other seeds */
    struct run_spec probe, standard;
    campaign_baselines(cc, &probe, &standard);
    for (int i = 1; i <= cc->replicates; i++) {
        struct run_spec *r = append(&p);
        if (!r) break;
        *r = probe;
        if (i == 1) snprintf(r->name, sizeof r->name, "%s", x.ref);
        else snprintf(r->name, sizeof r->name, "%s_r%d", x.ref, i);
        snprintf(r->role, sizeof r->role, "baseline");
        if (i == 1)
            snprintf(r->reason, sizeof r->reason, "equal-budget reference of round %d: %s continued %d steps more, as "
                     "long as this round's proposals have trained in all", round, prev_ref, cc->inherit_steps);
        else
            snprintf(r->reason, sizeof r->reason, "noise floor of round %d: %s again with seed %llu (the continuation's "
                     "data order), replicate %d of %d", round, x.ref, (unsigned long long)(cc->search_seed + i - 1),
                     i, cc->replicates);
        r->round = round;
        r->inherit_from = SOURCE_PROBE;
        snprintf(r->parent, sizeof r->parent, "%s", prev_ref);
        snprintf(r->reference, sizeof r->reference, "%s", prev_ref);
        if (i > 1) {
            snprintf(r->replicate_of, sizeof r->replicate_of, "%s", x.ref);
            r->seed = cc->search_seed + (uint64_t)(i - 1);
            snprintf(r->reference, sizeof r->reference, "%s", x.ref);
        }
        r->steps = cc->inherit_steps;
    }

    int sd[TRAINER_MAX_LAYERS], n_sd = 0;
    for (int l = 0; l < L; l++) if (arch->layers[l].kind == ATTN_SD) sd[n_sd++] = l;
    uint64_t rng = cc->search_seed * 7919u + (uint64_t)round;
    struct run_spec *r;

    if (random) {
        /* per_round changes, lin and cut in turn, each of a layer drawn from the seed; a draw
         * that repeats a model trained before is drawn again (a few times) */
        for (int made = 0, tries = 0; made < cc->per_round && tries < 64 && n_sd > 0; tries++) {
            int want_lin = made % 2 == 0, l = sd[trainer_rng_next(&rng) % (uint64_t)n_sd];
            struct model_config a = *arch;
            char name[64], why[512];
            if (want_lin && n_sd >= 2) {
                a.layers[l].kind = ATTN_LINEAR;
                snprintf(name, sizeof name, "r%d_rlin%d", round, l);
                snprintf(why, sizeof why, "round %d from %s (random search): layer %d, drawn from the seed, made linear",
                         round, incumbent, l);
            } else {
                int cut = cut_dims(&x, l, value, NULL, 1);
                if (!cut) continue;
                cut_layer(&a.layers[l], cut);
                snprintf(name, sizeof name, "r%d_rcut%d", round, l);
                snprintf(why, sizeof why, "round %d from %s (random search): layer %d, drawn from the seed, cut from d "
                         "%d to %d (half, rounded up to %d)", round, incumbent, l, arch->layers[l].qk_dim,
                         a.layers[l].qk_dim, cc->head_dim_step);
            }
            if (!(r = round_spec(&p, &x, &a, "candidate"))) continue;
            snprintf(r->name, sizeof r->name, "%s", name);
            snprintf(r->reason, sizeof r->reason, "%s", why);
            made++;
        }
    } else {
        int made = 0;
        /* 1. linearise the S–D layer the measurement ranks lowest (the next lowest where that
         * model was trained before), and a blind other one */
        if (n_sd >= 2 && made < cc->per_round) {
            int order[TRAINER_MAX_LAYERS], lo = -1;
            double v[TRAINER_MAX_LAYERS];
            for (int l = 0; l < L; l++) v[l] = arch->layers[l].kind == ATTN_SD ? value[l] : NAN;
            rank_layers(v, L, order);
            struct model_config a;
            for (int i = 0; i < n_sd && lo < 0; i++) {
                a = *arch;
                a.layers[order[i]].kind = ATTN_LINEAR;
                if (!was_trained(&x, &a)) lo = order[i];
            }
            char name[64];
            snprintf(name, sizeof name, "r%d_lin%d", round, lo);
            if (lo >= 0 && (r = round_spec(&p, &x, &a, "candidate"))) {
                snprintf(r->name, sizeof r->name, "%s", name);
                snprintf(r->reason, sizeof r->reason, "round %d from %s: layer %d, the S-D layer with the lowest %s "
                         "(%.3g; by layer: %s) of those not made linear before, made linear [SPEC 5]", round,
                         incumbent, lo, mname, value[lo], er);
                made++;
                int other = lo;
                for (int tries = 0; tries < 64 && other == lo; tries++) other = sd[trainer_rng_next(&rng) % (uint64_t)n_sd];
                a = *arch;
                a.layers[other].kind = ATTN_LINEAR;
                if (other != lo && made < cc->per_round && (r = round_spec(&p, &x, &a, "control"))) {
                    snprintf(r->name, sizeof r->name, "r%d_linblind%d", round, other);
                    snprintf(r->control_of, sizeof r->control_of, "%s", name);
                    snprintf(r->reason, sizeof r->reason, "blind control of %s: layer %d, drawn from the seed without "
                             "the measurement, made linear [SPEC 5]", name, other);
                    made++;
                }
            }
        }
        /* 2. cut the S–D layer the measurement says gives most (most room to its measured
         * rank; under sensitivity the least loss per parameter saved), skipping models
         * trained before; as its blind control another S–D layer (from the seed) cut by as
         * many dims */
        if (n_sd >= 1 && made < cc->per_round) {
            int at = -1, cut = 0;
            double best = INFINITY;
            for (int i = 0; i < n_sd; i++) {
                int l = sd[i], c = cut_dims(&x, l, value, sens, 0);
                if (!c) continue;
                struct model_config a = *arch;
                cut_layer(&a.layers[l], c);
                double score = cut_score(&x, l, c, sens);
                if (!was_trained(&x, &a) && score < best) { best = score; at = l; cut = c; }
            }
            char name[64];
            snprintf(name, sizeof name, "r%d_cut%d", round, at);
            struct model_config a = *arch;
            if (at >= 0) cut_layer(&a.layers[at], cut);
            if (at >= 0 && (r = round_spec(&p, &x, &a, "candidate"))) {
                snprintf(r->name, sizeof r->name, "%s", name);
                if (sens)
                    snprintf(r->reason, sizeof r->reason, "round %d from %s: layer %d, the cut one grid step down (d %d "
                             "to %d) that adds the least validation loss per attention parameter saved (sensitivity) "
                             "[ours]", round, incumbent, at, arch->layers[at].qk_dim, a.layers[at].qk_dim);
                else
                    snprintf(r->reason, sizeof r->reason, "round %d from %s: layer %d, the S-D layer with the most "
                             "room, cut from d %d to clamp(round_up(%g * %s, %d), %d, d) = %d (%s by layer: %s) "
                             "[SPEC 5]", round, incumbent, at, arch->layers[at].qk_dim,
                             cc->n_multipliers ? cc->multipliers[0] : 1.0, mname, cc->head_dim_step, cc->head_dim_min,
                             a.layers[at].qk_dim, mname, er);
                made++;
                int other = -1;
                uint64_t rng2 = cc->search_seed * 104729u + (uint64_t)round;
                for (int tries = 0; tries < 64 && other < 0; tries++) {
                    int l = sd[trainer_rng_next(&rng2) % (uint64_t)n_sd];
                    if (l != at && arch->layers[l].qk_dim - cut >= cc->head_dim_min) other = l;
                }
                a = *arch;
                if (other >= 0) cut_layer(&a.layers[other], cut);
                if (other >= 0 && made < cc->per_round && (r = round_spec(&p, &x, &a, "control"))) {
                    snprintf(r->name, sizeof r->name, "r%d_cutblind%d", round, other);
                    snprintf(r->control_of, sizeof r->control_of, "%s", name);
                    snprintf(r->reason, sizeof r->reason, "blind control of %s: layer %d, drawn from the seed without "
                             "the measurement, cut by the same %d dims (same size) [SPEC 5]", name, other, cut);
                    made++;
                }
            }
        }
    }
    if (p.oom) { free(p.v); *out = NULL; *n = 0; return -1; }
    *out = p.v;
    *n = p.n;
    return 0;
}
