/* reports/plots.c — the report's plots, drawn with reports/svg.c:
 *   cascade   routing effective rank by layer; every head a point (class "pt"), the layer
 *             means a line; the S–D probe and the standard model side by side (x offset
 *             -0.12 / +0.12 of a layer); one panel per level measured (weight, realised)
 *   tradeoff  attention parameters (x, from 0) vs validation perplexity (y) of every done
 *             run (class "pt"), markers by role, the Pareto front as a line through its
 *             runs sorted by attention parameters, run names as labels where they fit;
 *             with several campaigns colours tell the campaigns apart
 *   sweep     Δ perplexity % (y) vs linearised leading layers k (x): the S–D series (Δ vs
 *             the probe) and the standard series (Δ vs the standard baseline), a point
 *             (class "pt") per done run of each, a dashed line at 0
 *   controls  attention parameters (x) vs validation perplexity (y) of each candidate
 *             (filled circle) and its done blind controls of equal size (open triangles),
 *             a point (class "pt") per run, a line (class "pair") from the candidate to
 *             each control, and a bar (class "noise") through the candidate spanning the
 *             perplexities within its reference's noise floor; one colour per candidate
 *             (with paired seeds: the first seed's runs only)
 *   paired    the gap % (x) of each candidate against each control (a row each, v_paired):
 *             one dot (class "pt") per seed on which both are done, a bar (class "mean") at
 *             the mean gap, a line (class "se") over mean ± 2 standard errors, a dashed line
 *             at 0; colours by the control's kind
 *   sensitivity  loss added, nats/token (y) vs the head dim after a cut (x), one line per
 *             layer through its cuts and a diamond at x = 0 for the layer made linear, each
 *             a point (class "pt"); one panel per measured run (at most 4)
 * Sizes are pixels; fonts 12-15 px. */
#include "reports/svg.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP 62.0        /* figure title, then panel titles above the plot area */
#define BOTTOM 62.0     /* tick labels and the x axis title */
#define LEFT 84.0       /* tick labels and the y axis title */
#define MARK_BOX 1.7    /* half the side of the box a marker of radius r covers, in r (a star reaches 1.6 r) */

static const char *const campaign_colours[] = { SVG_BLUE, SVG_RED, SVG_GREEN, SVG_PURPLE, SVG_ORANGE, SVG_SKY,
                                                SVG_BLACK, SVG_GREY };

/* Tick step for an axis of n whole numbers: 1, 2, 5, 10, ... keeping about 12 ticks at most. */
static double integer_step(int n)
{
    double step = 1;
    for (int k = 0; n / step > 12; k++) step *= k % 3 == 1 ? 2.5 : 2;   /* 1, 2, 5, 10, 20, 50, ... */
    return step;
}

static void figure_title(struct report_buf *b, double w, const char *text)
{
    svg_text(b, w / 2, 24, 15, "middle", "font-weight=\"bold\"", text);
}

/* A figure of one plot area pw × ph with its legend to the right: the document, its title,
 * and the panel (axes for the caller to fit and draw); figure_end adds the legend. */
static struct svg_panel figure_begin(struct report_buf *b, const struct svg_legend_item *items, int ni, double pw,
                                     double ph, const char *title, const char *desc)
{
    double lw, lh;
    svg_legend_size(items, ni, 12, &lw, &lh);
    double w = LEFT + pw + 24 + lw + 16;
    svg_begin(b, w, TOP + ph + BOTTOM, title, desc);
    figure_title(b, w, title);
    return (struct svg_panel){ LEFT, TOP, pw, ph, { 0 }, { 0 } };
}

static void figure_end(struct report_buf *b, const struct svg_panel *p, const struct svg_legend_item *items, int ni)
{
    svg_legend(b, p->x + p->w + 24, p->y, items, ni, 12);
    svg_end(b);
}

/* ---- cascade -------------------------------------------------------------------------------- */

struct cascade_series {
    const char *who;                     /* "probe", "standard" */
    const struct report_level *lv;       /* [2] */
    struct svg_style heads, mean;
    double dx;
};

static void cascade_range(const struct cascade_series *s, int ns, const int *levels, int nl, double *hi, int *n_layer)
{
    for (int i = 0; i < ns; i++)
        for (int k = 0; k < nl; k++) {
            const struct report_level *lv = &s[i].lv[levels[k]];
            for (int h = 0; h < lv->n_heads; h++) {
                if (isfinite(lv->heads[h].routing_erank) && lv->heads[h].routing_erank > *hi) *hi = lv->heads[h].routing_erank;
                if (lv->heads[h].layer + 1 > *n_layer) *n_layer = lv->heads[h].layer + 1;
            }
            for (int l = 0; l < lv->n_layers; l++) {
                if (isfinite(lv->layers[l].routing_erank_max) && lv->layers[l].routing_erank_max > *hi)
                    *hi = lv->layers[l].routing_erank_max;
                if (lv->layers[l].layer + 1 > *n_layer) *n_layer = lv->layers[l].layer + 1;
            }
        }
}

static void cascade_panel(struct report_buf *b, const struct svg_panel *p, const char *title,
                          const struct cascade_series *s, int ns, int level)
{
    svg_panel_draw(b, p, title);
    for (int i = 0; i < ns; i++) {
        const struct report_level *lv = &s[i].lv[level];
        if (lv->n_layers >= 2) {
            double px[REPORT_MAX_LAYERS], py[REPORT_MAX_LAYERS];
            int n = 0;
            for (int l = 0; l < lv->n_layers && n < REPORT_MAX_LAYERS; l++) {
                if (!isfinite(lv->layers[l].routing_erank_mean)) continue;
                px[n] = svg_px(p, lv->layers[l].layer + s[i].dx);
                py[n++] = svg_py(p, lv->layers[l].routing_erank_mean);
            }
            if (n >= 2) svg_polyline(b, px, py, n, &s[i].mean, "mean");
        }
        for (int h = 0; h < lv->n_heads; h++) {
            const struct db_head_measure *m = &lv->heads[h];
            char tip[160];
            snprintf(tip, sizeof tip, "%s, layer %d head %d: routing effective rank %.2f (%s level)", s[i].who,
                     m->layer, m->head, m->routing_erank, level ? "realised" : "weight");
            double y = isfinite(m->routing_erank) ? m->routing_erank : 0;
            svg_marker(b, svg_px(p, m->layer + s[i].dx), svg_py(p, y), 3.5, &s[i].heads, "pt", tip);
        }
    }
}

/* Whether a run has any head or layer measure at either level. */
static int has_measures(const struct report_level *lv)
{
    return lv[0].n_heads > 0 || lv[0].n_layers > 0 || lv[1].n_heads > 0 || lv[1].n_layers > 0;
}

int report_plot_cascade(const struct report_campaign *rc, struct report_buf *out, char *why)
{
    struct cascade_series s[2];
    int ns = 0;
    if (rc->probe >= 0 && has_measures(rc->probe_lv))
        s[ns++] = (struct cascade_series){ "S–D probe", rc->probe_lv, { SVG_BLUE, SVG_CIRCLE, 1, NULL, 0 },
                                           { SVG_BLUE, SVG_CIRCLE, 0, NULL, 2.5 }, 0 };
    if (rc->standard >= 0 && has_measures(rc->standard_lv))
        s[ns++] = (struct cascade_series){ "standard", rc->standard_lv, { SVG_RED, SVG_SQUARE, 1, NULL, 0 },
                                           { SVG_RED, SVG_SQUARE, 0, "7 4", 2.5 }, 0 };
    int levels[2], nl = 0;
    for (int l = 0; l < 2; l++) {
        int any = 0;
        for (int i = 0; i < ns; i++) any |= s[i].lv[l].n_heads > 0 || s[i].lv[l].n_layers > 0;
        if (any) levels[nl++] = l;
    }
    if (nl == 0) {
        snprintf(why, 256, "no measurement of the probe or the standard model is recorded yet");
        return 1;
    }
    if (ns == 2) { s[0].dx = -0.12; s[1].dx = 0.12; }
    double hi = 0;
    int n_layer = 1;
    cascade_range(s, ns, levels, nl, &hi, &n_layer);

    const double pw = 300, ph = 300, gap = 76;
    struct svg_legend_item items[4];
    int ni = 0;
    const char *labels[2][2] = { { "S–D probe (no LayerNorm): heads", "S–D probe: layer mean" },
                                 { "standard (softmax, LayerNorm): heads", "standard: layer mean" } };
    for (int i = 0; i < ns; i++) {
        int which = s[i].lv == rc->standard_lv;
        items[ni++] = (struct svg_legend_item){ labels[which][0], s[i].heads, 1, 0 };
        items[ni++] = (struct svg_legend_item){ labels[which][1], s[i].mean, 0, 1 };
    }
    double lw, lh;
    svg_legend_size(items, ni, 12, &lw, &lh);
    double w = LEFT + nl * pw + (nl - 1) * gap + 24 + lw + 16, h = TOP + ph + BOTTOM;
    char title[300];
    snprintf(title, sizeof title, "Routing effective rank by layer, campaign %s", rc->c.name);
    svg_begin(out, w, h, title, "Each head of the S–D probe and of the standard model is a point, the layer means a line; "
              "panels: weight level (W_Q W_K^T) and realised (attention logits on validation tokens).");
    figure_title(out, w, title);
    for (int k = 0; k < nl; k++) {
        struct svg_panel p = { LEFT + k * (pw + gap), TOP, pw, ph, { 0 }, { 0 } };
        p.ax = (struct svg_axis){ -0.5, n_layer - 0.5, integer_step(n_layer), 0, "layer (0 = first)" };
        svg_axis_fit(&p.ay, 0, hi > 0 ? hi : 1, 6, 0);
        p.ay.lo = 0;
        p.ay.title = "routing effective rank (dims)";
        cascade_panel(out, &p, levels[k] ? "realised (validation tokens)" : "weight level", s, ns, levels[k]);
    }
    svg_legend(out, LEFT + nl * pw + (nl - 1) * gap + 24, TOP, items, ni, 12);
    svg_end(out);
    return 0;
}

/* ---- tradeoff ------------------------------------------------------------------------------- */

static struct svg_style role_style(enum db_role role, const char *colour, int by_campaign)
{
    switch (role) {
    case DB_ROLE_PROBE: return (struct svg_style){ by_campaign ? colour : SVG_BLACK, SVG_STAR, 0, NULL, 0 };
    case DB_ROLE_BASELINE: return (struct svg_style){ by_campaign ? colour : SVG_RED, SVG_SQUARE, 0, NULL, 0 };
    case DB_ROLE_CONTROL: return (struct svg_style){ by_campaign ? colour : SVG_ORANGE, SVG_TRIANGLE, 1, NULL, 0 };
    case DB_ROLE_CANDIDATE: break;
    }
    return (struct svg_style){ by_campaign ? colour : SVG_BLUE, SVG_CIRCLE, 0, NULL, 0 };
}

/* Drawing order of the markers: later ones stay visible on top. */
static int role_rank(enum db_role role)
{
    return role == DB_ROLE_PROBE ? 3 : role == DB_ROLE_BASELINE ? 2 : role == DB_ROLE_CONTROL ? 1 : 0;
}

static int plottable(const struct report_run *r)
{
    return r->has_result && isfinite(r->res.perplexity) && r->res.params_attention >= 0;
}

/* The Pareto front of one campaign (order: its done runs sorted, nd of them) as pixel
 * points sorted by attention parameters, drawn as a line. */
static void front_line(struct report_buf *b, const struct report_campaign *rc, const int *order, int nd,
                       const struct svg_panel *p, double xdiv, const struct svg_style *st)
{
    double *px = malloc(2 * sizeof(double) * ((size_t)nd + 1)), *py = px ? px + nd + 1 : NULL;
    int n = 0;
    for (int i = 0; px && i < nd; i++) {
        const struct report_run *r = &rc->runs[order[i]];
        if (!r->pareto || !plottable(r)) continue;
        px[n] = svg_px(p, r->res.params_attention / xdiv);
        py[n++] = svg_py(p, r->res.perplexity);
    }
    if (n >= 2) svg_polyline(b, px, py, n, st, "front");
    free(px);
}

int report_plot_tradeoff(const struct report_campaign *const *rcs, int n, struct report_buf *out, char *why)
{
    double xmax = 0, ylo = INFINITY, yhi = -INFINITY;
    int points = 0;
    for (int c = 0; c < n; c++)
        for (int i = 0; i < rcs[c]->n_runs; i++) {
            const struct report_run *r = &rcs[c]->runs[i];
            if (!plottable(r)) continue;
            points++;
            if (r->res.params_attention > xmax) xmax = (double)r->res.params_attention;
            if (r->res.perplexity < ylo) ylo = r->res.perplexity;
            if (r->res.perplexity > yhi) yhi = r->res.perplexity;
        }
    if (points == 0) {
        snprintf(why, 256, "no run is done yet");
        return 1;
    }
    assert(n >= 1 && n <= REPORT_MAX_CAMPAIGNS);
    const int by_campaign = n > 1;
    double xdiv = xmax >= 10000 ? 1000 : 1;
    struct svg_legend_item items[16];
    int ni = 0;
    static const enum db_role roles[4] = { DB_ROLE_PROBE, DB_ROLE_BASELINE, DB_ROLE_CANDIDATE, DB_ROLE_CONTROL };
    static const char *const role_labels[4] = { "probe (S–D, no LayerNorm)", "standard baseline (softmax, LayerNorm)",
                                                "candidates", "controls (blind; prefix on the standard model)" };
    for (int k = 0; k < 4; k++) {
        int present = 0;
        for (int c = 0; c < n; c++)
            for (int i = 0; i < rcs[c]->n_runs; i++) present |= plottable(&rcs[c]->runs[i]) && rcs[c]->runs[i].run->role == roles[k];
        if (present) items[ni++] = (struct svg_legend_item){ role_labels[k], role_style(roles[k], SVG_GREY, by_campaign), 1, 0 };
    }
    char camp_labels[REPORT_MAX_CAMPAIGNS][200];
    for (int c = 0; c < n && c < REPORT_MAX_CAMPAIGNS; c++) {
        int front = 0;
        for (int i = 0; i < rcs[c]->n_runs; i++) front += rcs[c]->runs[i].pareto && plottable(&rcs[c]->runs[i]);
        if (by_campaign) snprintf(camp_labels[c], sizeof camp_labels[c], "%s: runs and Pareto front", rcs[c]->c.name);
        else if (front >= 2) snprintf(camp_labels[c], sizeof camp_labels[c], "Pareto front");
        else continue;   /* a front of one run draws no line */
        items[ni++] = (struct svg_legend_item){ camp_labels[c],
                                                { by_campaign ? campaign_colours[c % 8] : SVG_GREEN, SVG_CIRCLE, 0,
                                                  c % 2 ? "6 3" : NULL, 2 },
                                                0, 1 };
    }
    char title[300];
    if (by_campaign) snprintf(title, sizeof title, "Attention parameters vs perplexity, %d campaigns", n);
    else snprintf(title, sizeof title, "Attention parameters vs perplexity, campaign %s", rcs[0]->c.name);
    struct svg_panel p = figure_begin(out, items, ni, 520, 340, title,
                                      "Every done run; lower left is better. The line joins the Pareto-optimal runs.");
    svg_axis_fit(&p.ax, 0, xmax / xdiv, 6, 0);
    p.ax.lo = 0;
    p.ax.title = xdiv > 1 ? "attention parameters (thousands)" : "attention parameters";
    svg_axis_fit(&p.ay, ylo, yhi, 6, 0);
    p.ay.title = "validation perplexity (per token)";
    svg_panel_draw(out, &p, NULL);

    int *orders[REPORT_MAX_CAMPAIGNS] = { 0 }, nds[REPORT_MAX_CAMPAIGNS] = { 0 };
    for (int c = 0; c < n && c < REPORT_MAX_CAMPAIGNS; c++) {
        orders[c] = malloc(sizeof(int) * ((size_t)rcs[c]->n_runs + 1));
        if (!orders[c]) { out->oom = 1; continue; }
        nds[c] = report_sorted_done(rcs[c], orders[c]);
        struct svg_style line = { by_campaign ? campaign_colours[c % 8] : SVG_GREEN, SVG_CIRCLE, 0,
                                  c % 2 ? "6 3" : NULL, 2 };
        front_line(out, rcs[c], orders[c], nds[c], &p, xdiv, &line);
    }
    struct svg_boxes boxes = { 0 };
    /* markers first (all of them are obstacles), then labels: the front and the baselines
     * before the others, so those are the ones that get a place when space runs out */
    for (int pass = 0; pass < 3 + 3; pass++)   /* 0-3: markers, the probe's last (on top); 4, 5: labels */
        for (int c = 0; c < n && c < REPORT_MAX_CAMPAIGNS; c++) {
            const struct report_campaign *rc = rcs[c];
            const int *order = orders[c], nd = nds[c];
            for (int j = 0; j < nd; j++) {
                const struct report_run *r = &rc->runs[order[j]];
                if (!plottable(r) || (pass < 4 && role_rank(r->run->role) != pass)) continue;
                double px = svg_px(&p, r->res.params_attention / xdiv), py = svg_py(&p, r->res.perplexity);
                if (pass < 4) {
                    struct svg_style st = role_style(r->run->role, campaign_colours[c % 8], by_campaign);
                    char tip[300];
                    snprintf(tip, sizeof tip, "%s%s%s (%s): %lld attention parameters, perplexity %.3f (%+.2f%%)%s",
                             by_campaign ? rc->c.name : "", by_campaign ? "/" : "", r->run->name, db_role_name(r->run->role),
                             (long long)r->res.params_attention, r->res.perplexity, r->res.delta_ppl_pct,
                             r->pareto ? ", Pareto-optimal" : "");
                    svg_marker(out, px, py, 5, &st, "pt", tip);
                    svg_boxes_add(&boxes, px - MARK_BOX * 5, py - MARK_BOX * 5, px + MARK_BOX * 5, py + MARK_BOX * 5);
                } else if (!by_campaign) {
                    int key = r->pareto || r->run->role == DB_ROLE_PROBE || r->run->role == DB_ROLE_BASELINE;
                    if (key == (pass == 4)) svg_label(out, &boxes, &p, px, py, MARK_BOX * 5, 11, r->run->name);
                }
            }
        }
    svg_boxes_free(&boxes);
    for (int c = 0; c < n && c < REPORT_MAX_CAMPAIGNS; c++) free(orders[c]);
    figure_end(out, &p, items, ni);
    return 0;
}

/* ---- sweep ---------------------------------------------------------------------------------- */

struct sweep_point { int k; double delta; const char *name; };

static int sweep_series(const struct report_campaign *rc, int series, struct sweep_point *pts, int cap)
{
    int n = 0;
    for (int i = 0; i < rc->n_runs && n < cap; i++) {
        const struct report_run *r = &rc->runs[i];
        if (r->sweep_series != series || !isfinite(r->sweep_delta)) continue;
        pts[n++] = (struct sweep_point){ r->sweep_k, r->sweep_delta, r->run->name };
    }
    for (int i = 1; i < n; i++)   /* by k */
        for (int j = i; j > 0 && pts[j - 1].k > pts[j].k; j--) {
            struct sweep_point t = pts[j];
            pts[j] = pts[j - 1];
            pts[j - 1] = t;
        }
    return n;
}

int report_plot_sweep(const struct report_campaign *rc, struct report_buf *out, char *why)
{
    struct sweep_point pts[2][REPORT_MAX_LAYERS + 1];
    int np[2], kmax = 0, any_prefix = 0;
    double ylo = 0, yhi = 0;
    for (int s = 0; s < 2; s++) {
        np[s] = sweep_series(rc, s, pts[s], REPORT_MAX_LAYERS + 1);
        for (int i = 0; i < np[s]; i++) {
            if (pts[s][i].k > kmax) kmax = pts[s][i].k;
            any_prefix |= pts[s][i].k > 0;
            if (pts[s][i].delta < ylo) ylo = pts[s][i].delta;
            if (pts[s][i].delta > yhi) yhi = pts[s][i].delta;
        }
    }
    if (!any_prefix) {
        snprintf(why, 256, "no linear-prefix run is done yet");
        return 1;
    }
    static const struct svg_style styles[2] = { { SVG_BLUE, SVG_CIRCLE, 0, NULL, 2.5 }, { SVG_RED, SVG_SQUARE, 0, "7 4", 2.5 } };
    static const char *const labels[2] = { "S–D model: Δ vs the probe (k = 0)",
                                           "standard model: Δ vs the standard baseline (k = 0)" };
    struct svg_legend_item items[2];
    int ni = 0;
    for (int s = 0; s < 2; s++)
        if (np[s] > 0) items[ni++] = (struct svg_legend_item){ labels[s], styles[s], 1, 1 };
    char title[300];
    snprintf(title, sizeof title, "Linearisation sweep, campaign %s", rc->c.name);
    struct svg_panel p = figure_begin(out, items, ni, 460, 320, title, "Perplexity change when the first k layers are made "
                                      "linear: the S–D model against the standard softmax model with LayerNorm, each "
                                      "relative to its own k = 0 model.");
    p.ax = (struct svg_axis){ -0.4, kmax + 0.4, integer_step(kmax + 1), 0, "linearised leading layers k" };
    svg_axis_fit(&p.ay, ylo, yhi, 6, 0);
    p.ay.title = "Δ perplexity (%)";
    svg_panel_draw(out, &p, NULL);
    svg_panel_hline(out, &p, 0, SVG_GREY);
    struct svg_boxes boxes = { 0 };
    for (int s = 0; s < 2; s++) {
        double px[REPORT_MAX_LAYERS + 1], py[REPORT_MAX_LAYERS + 1];
        for (int i = 0; i < np[s]; i++) {
            px[i] = svg_px(&p, pts[s][i].k);
            py[i] = svg_py(&p, pts[s][i].delta);
        }
        if (np[s] >= 2) svg_polyline(out, px, py, np[s], &styles[s], "series");
        for (int i = 0; i < np[s]; i++) {
            char tip[200];
            snprintf(tip, sizeof tip, "%s: k = %d, Δ perplexity %+.2f%%", pts[s][i].name, pts[s][i].k, pts[s][i].delta);
            svg_marker(out, px[i], py[i], 4.5, &styles[s], "pt", tip);
            svg_boxes_add(&boxes, px[i] - MARK_BOX * 4.5, py[i] - MARK_BOX * 4.5, px[i] + MARK_BOX * 4.5,
                          py[i] + MARK_BOX * 4.5);
        }
    }
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < np[s]; i++) {
            if (pts[s][i].k == 0) continue;
            char label[32];
            snprintf(label, sizeof label, "%+.1f%%", pts[s][i].delta);
            svg_label(out, &boxes, &p, svg_px(&p, pts[s][i].k), svg_py(&p, pts[s][i].delta), MARK_BOX * 4.5, 11,
                      label);
        }
    svg_boxes_free(&boxes);
    figure_end(out, &p, items, ni);
    return 0;
}

/* ---- controls ------------------------------------------------------------------------------- */

/* A blind pair of v_controls with both runs done, so both are points of the plot. The
 * candidates' changes on the standard model are left to the table and the sweep plot: of
 * another size and perplexity range, they would squash the comparison at equal size. */
static int pair_plottable(const struct report_campaign *rc, const struct report_pair *p)
{
    /* a paired seed's pair is left to the paired plot: one point per candidate and control here */
    return p->blind && isfinite(p->cand_params) && isfinite(p->ctl_params) && isfinite(p->cand_ppl) &&
           isfinite(p->ctl_ppl) && !report_is_paired_seed(rc, p->cand);
}

/* The perplexities a control may have and be within the candidate's noise floor f (%):
 * |cand / ctl - 1| <= f/100 (v_controls' verdict), so the bar drawn through the candidate
 * holds exactly the controls it cannot be told apart from. */
static void noise_band(double ppl, double f, double *lo, double *hi)
{
    *lo = ppl / (1 + f / 100);
    *hi = f < 100 ? ppl / (1 - f / 100) : ppl * 2;
}

/* Whether pair k is its candidate's first one on the plot (the candidate is drawn there). */
static int first_plotted(const struct report_campaign *rc, int k)
{
    for (int j = 0; j < k; j++)
        if (rc->pairs[j].cand == rc->pairs[k].cand && pair_plottable(rc, &rc->pairs[j])) return 0;
    return 1;
}

int report_plot_controls(const struct report_campaign *rc, struct report_buf *out, char *why)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int n = 0, floors = 0;
    for (int k = 0; k < rc->n_pairs; k++) {
        const struct report_pair *p = &rc->pairs[k];
        if (!pair_plottable(rc, p)) continue;
        n++;
        double ys[4] = { p->cand_ppl, p->ctl_ppl, p->cand_ppl, p->cand_ppl };
        if (isfinite(p->noise_pct) && p->noise_pct >= 0) { noise_band(p->cand_ppl, p->noise_pct, &ys[2], &ys[3]); floors++; }
        for (int j = 0; j < 4; j++) { ylo = fmin(ylo, ys[j]); yhi = fmax(yhi, ys[j]); }
        xlo = fmin(xlo, fmin(p->cand_params, p->ctl_params));
        xhi = fmax(xhi, fmax(p->cand_params, p->ctl_params));
    }
    if (n == 0) {
        snprintf(why, 256, "%s", rc->schema_version < 3 ? "the database predates controls (schema version 3)"
                 : rc->n_pairs == 0 ? "the campaign has no controls" : "no candidate is done with a done blind control");
        return 1;
    }
    const double xdiv = xhi >= 10000 ? 1000 : 1;
    const struct svg_style cand_st = { SVG_BLACK, SVG_CIRCLE, 0, NULL, 0 }, blind_st = { SVG_BLACK, SVG_TRIANGLE, 1, NULL, 1.5 },
                           noise_st = { SVG_GREY, SVG_CIRCLE, 0, NULL, 1.5 };
    struct svg_legend_item items[3];
    int ni = 0;
    items[ni++] = (struct svg_legend_item){ "candidate (the measured choice)", cand_st, 1, 0 };
    items[ni++] = (struct svg_legend_item){ "blind control of equal size", blind_st, 1, 1 };
    if (floors) items[ni++] = (struct svg_legend_item){ "noise floor around the candidate", noise_st, 0, 1 };
    char title[300];
    snprintf(title, sizeof title, "Measured vs blind at equal size, campaign %s", rc->c.name);
    struct svg_panel p = figure_begin(out, items, ni, 460, 340, title, "Each candidate joined to its controls: attention "
                                      "parameters against validation perplexity; a control inside the candidate's noise "
                                      "bar cannot be told apart from it.");
    svg_axis_fit(&p.ax, xlo / xdiv, xhi / xdiv, 6, 0);
    p.ax.title = xdiv > 1 ? "attention parameters (thousands)" : "attention parameters";
    svg_axis_fit(&p.ay, ylo, yhi, 6, 0);
    p.ay.title = "validation perplexity (per token)";
    svg_panel_draw(out, &p, NULL);
    struct svg_boxes boxes = { 0 };
    /* lines and noise bars below the markers, markers below the labels; a candidate's
     * group (its controls) in one colour */
    for (int pass = 0; pass < 3; pass++) {
        int group = -1;
        for (int k = 0; k < rc->n_pairs; k++) {
            const struct report_pair *q = &rc->pairs[k];
            if (!pair_plottable(rc, q)) continue;
            int first = first_plotted(rc, k);
            group += first;
            const char *colour = campaign_colours[(group < 0 ? 0 : group) % 8];
            double cx = svg_px(&p, q->cand_params / xdiv), cy = svg_py(&p, q->cand_ppl);
            double bx = svg_px(&p, q->ctl_params / xdiv), by = svg_py(&p, q->ctl_ppl);
            struct svg_style ctl = blind_st;
            ctl.colour = colour;
            const struct report_run *a = &rc->runs[q->cand], *b = &rc->runs[q->ctl];
            if (pass == 0) {
                double px[2] = { cx, bx }, py[2] = { cy, by };
                svg_polyline(out, px, py, 2, &ctl, "pair");
                if (first && isfinite(q->noise_pct) && q->noise_pct >= 0) {
                    double lo, hi;
                    noise_band(q->cand_ppl, q->noise_pct, &lo, &hi);
                    double nx[6] = { cx - 5, cx + 5, cx, cx, cx - 5, cx + 5 };
                    double ny[6] = { svg_py(&p, lo), svg_py(&p, lo), svg_py(&p, lo), svg_py(&p, hi), svg_py(&p, hi),
                                     svg_py(&p, hi) };
                    svg_polyline(out, nx, ny, 6, &noise_st, "noise");
                }
            } else if (pass == 1) {
                /* the candidate first: a hollow control drawn over it leaves it visible */
                char tip[300];
                if (first) {
                    struct svg_style st = cand_st;
                    st.colour = colour;
                    snprintf(tip, sizeof tip, "%s (candidate): %lld attention parameters, perplexity %.3f", a->run->name,
                             (long long)llround(q->cand_params), q->cand_ppl);
                    svg_marker(out, cx, cy, 5, &st, "pt", tip);
                    svg_boxes_add(&boxes, cx - MARK_BOX * 5, cy - MARK_BOX * 5, cx + MARK_BOX * 5, cy + MARK_BOX * 5);
                }
                snprintf(tip, sizeof tip, "%s (blind control of %s): %lld attention parameters, perplexity %.3f; gap %+.2f%%, "
                         "%s", b->run->name, a->run->name, (long long)llround(q->ctl_params), q->ctl_ppl, q->gap_pct,
                         q->verdict);
                svg_marker(out, bx, by, 5, &ctl, "pt", tip);
                svg_boxes_add(&boxes, bx - MARK_BOX * 5, by - MARK_BOX * 5, bx + MARK_BOX * 5, by + MARK_BOX * 5);
            } else {
                if (first) svg_label(out, &boxes, &p, cx, cy, MARK_BOX * 5, 11, a->run->name);
                svg_label(out, &boxes, &p, bx, by, MARK_BOX * 5, 11, b->run->name);
            }
        }
    }
    svg_boxes_free(&boxes);
    figure_end(out, &p, items, ni);
    return 0;
}

/* ---- paired seeds ----------------------------------------------------------------------------- */

/* The colour of a control kind in the paired plot. */
static const char *kind_colour(const char *kind)
{
    return strcmp(kind, "blind") == 0 ? SVG_BLUE : strcmp(kind, "opposite") == 0 ? SVG_RED : SVG_GREY;
}

int report_plot_paired(const struct report_campaign *rc, struct report_buf *out, char *why)
{
    if (!rc->paired_seeds) {
        snprintf(why, 256, "no candidate and control are both done on two seeds or more (db view v_paired)");
        return 1;
    }
    int *seeds = malloc(sizeof(int) * ((size_t)rc->n_pairs + 1));
    if (!seeds) { out->oom = 1; snprintf(why, 256, "out of memory"); return 1; }
    int rows = 0;
    double xlo = 0, xhi = 0, widest = 0;   /* 0 always shown: the line a verdict is judged against */
    char label[200];
    for (int k = 0; k < rc->n_paired; k++) {
        const struct db_paired *q = &rc->paired[k];
        int m = report_paired_seeds(rc, k, seeds);
        if (m == 0) continue;
        rows++;
        for (int j = 0; j < m; j++) {
            xlo = fmin(xlo, rc->pairs[seeds[j]].gap_pct);
            xhi = fmax(xhi, rc->pairs[seeds[j]].gap_pct);
        }
        if (isfinite(q->gap_mean_pct) && isfinite(q->gap_se_pct)) {
            xlo = fmin(xlo, q->gap_mean_pct - 2 * q->gap_se_pct);
            xhi = fmax(xhi, q->gap_mean_pct + 2 * q->gap_se_pct);
        }
        snprintf(label, sizeof label, "%s vs %s", q->candidate, q->control);
        widest = fmax(widest, svg_text_width(label, 12));
    }
    if (rows == 0) {
        free(seeds);
        snprintf(why, 256, "no candidate and control of a pair are both done on any seed");
        return 1;
    }
    struct svg_legend_item items[5];
    int ni = 0;
    static const char *const kind_names[3] = { "blind", "opposite", "standard model" };
    static const char *const kind_labels[3] = { "a seed, blind control", "a seed, opposite control",
                                                "a seed, change on the standard model" };
    for (int g = 0; g < 3; g++) {
        int present = 0;
        for (int k = 0; k < rc->n_paired; k++) present |= strcmp(kind_colour(rc->paired[k].control_kind),
                                                                 kind_colour(kind_names[g])) == 0;
        if (present) items[ni++] = (struct svg_legend_item){ kind_labels[g], { kind_colour(kind_names[g]), SVG_CIRCLE,
                                                                              0, NULL, 0 }, 1, 0 };
    }
    const struct svg_style mean_st = { SVG_BLACK, SVG_CIRCLE, 0, NULL, 2.5 }, se_st = { SVG_BLACK, SVG_CIRCLE, 0, NULL, 1 },
                           zero_st = { SVG_GREY, SVG_CIRCLE, 0, "2 3", 1 };
    items[ni++] = (struct svg_legend_item){ "mean gap", mean_st, 0, 1 };
    items[ni++] = (struct svg_legend_item){ "mean ± 2 standard errors", se_st, 0, 1 };
    double lw, lh;
    svg_legend_size(items, ni, 12, &lw, &lh);
    const double row_h = 28, pw = 440, left = fmax(LEFT, widest + 24);
    double ph = fmax(rows * row_h, lh);
    double w = left + pw + 24 + lw + 16;
    char title[300];
    snprintf(title, sizeof title, "Paired gaps by seed, campaign %s", rc->c.name);
    svg_begin(out, w, TOP + ph + BOTTOM, title, "Each seed's gap between a candidate and one of its controls (dots), "
              "the mean gap (bar) and twice its standard error either side (line); negative: the candidate is better.");
    figure_title(out, w, title);
    struct svg_panel p = { left, TOP, pw, ph, { 0 }, { 0 } };
    svg_axis_fit(&p.ax, xlo, xhi, 6, 0);
    p.ax.title = "gap: the candidate's perplexity relative to the control's (%)";
    /* row r at y = -r, top to bottom, half a row of room above the first and below the last */
    p.ay = (struct svg_axis){ -(ph / row_h) + 0.5, 0.5, 0, 0, NULL };
    svg_panel_draw(out, &p, NULL);
    double zx[2] = { svg_px(&p, 0), svg_px(&p, 0) }, zy[2] = { p.y, p.y + p.h };
    svg_polyline(out, zx, zy, 2, &zero_st, "zero");
    int r = 0;
    for (int k = 0; k < rc->n_paired; k++) {
        const struct db_paired *q = &rc->paired[k];
        int m = report_paired_seeds(rc, k, seeds);
        if (m == 0) continue;
        double cy = svg_py(&p, -r);
        r++;
        snprintf(label, sizeof label, "%s vs %s", q->candidate, q->control);
        svg_text(out, p.x - 8, cy + 4, 12, "end", "fill=\"#333333\"", label);
        if (isfinite(q->gap_mean_pct) && isfinite(q->gap_se_pct)) {
            double sx[2] = { svg_px(&p, q->gap_mean_pct - 2 * q->gap_se_pct), svg_px(&p, q->gap_mean_pct + 2 * q->gap_se_pct) },
                   sy[2] = { cy, cy };
            svg_polyline(out, sx, sy, 2, &se_st, "se");
        }
        if (isfinite(q->gap_mean_pct)) {
            double mx[2] = { svg_px(&p, q->gap_mean_pct), svg_px(&p, q->gap_mean_pct) }, my[2] = { cy - 10, cy + 10 };
            svg_polyline(out, mx, my, 2, &mean_st, "mean");
        }
        /* the seeds spread a little up and down, so equal gaps stay apart */
        double dy = m > 1 ? fmin(5, 16.0 / (m - 1)) : 0;
        struct svg_style st = { kind_colour(q->control_kind), SVG_CIRCLE, 0, NULL, 0 };
        for (int j = 0; j < m; j++) {
            const struct report_pair *s = &rc->pairs[seeds[j]];
            char tip[400];
            snprintf(tip, sizeof tip, "%s vs %s (seed %lld): gap %+.2f%% (perplexity %.3f vs %.3f)",
                     rc->runs[s->cand].run->name, rc->runs[s->ctl].run->name, (long long)rc->runs[s->cand].run->seed,
                     s->gap_pct, s->cand_ppl, s->ctl_ppl);
            svg_marker(out, svg_px(&p, s->gap_pct), cy + (j - (m - 1) / 2.0) * dy, 4, &st, "pt", tip);
        }
    }
    free(seeds);
    figure_end(out, &p, items, ni);
    return 0;
}

/* ---- sensitivity ------------------------------------------------------------------------------- */

#define SENS_MAX_PANELS 4

int report_plot_sensitivity(const struct report_campaign *rc, struct report_buf *out, char *why)
{
    if (rc->n_sens == 0) {
        snprintf(why, 256, "no sensitivity curve is recorded (search.measure \"sensitivity\")");
        return 1;
    }
    /* one panel per measured run (the probe, then round incumbents), at most SENS_MAX_PANELS */
    int64_t panel_run[SENS_MAX_PANELS];
    int np = 0, n_layer = 0;
    double xhi = 1, ylo = 0, yhi = 0;
    for (int i = 0; i < rc->n_sens; i++) {
        const struct db_sensitivity_row *s = &rc->sens[i];
        int seen = 0;
        for (int k = 0; k < np; k++) seen |= panel_run[k] == s->run_id;
        if (!seen && np == SENS_MAX_PANELS) continue;
        if (!seen) panel_run[np++] = s->run_id;
        if (s->pt.layer + 1 > n_layer) n_layer = s->pt.layer + 1;
        if (strcmp(s->pt.change, "cut") == 0) xhi = fmax(xhi, s->pt.head_dim);
        if (isfinite(s->pt.delta_loss)) { ylo = fmin(ylo, s->pt.delta_loss); yhi = fmax(yhi, s->pt.delta_loss); }
    }
    struct svg_legend_item items[REPORT_MAX_LAYERS + 1];
    char layer_labels[REPORT_MAX_LAYERS][32];
    int ni = 0;
    for (int l = 0; l < n_layer && l < REPORT_MAX_LAYERS; l++) {
        snprintf(layer_labels[l], sizeof layer_labels[l], "layer %d: cuts", l);
        items[ni++] = (struct svg_legend_item){ layer_labels[l], { campaign_colours[l % 8], SVG_CIRCLE, 0,
                                                                   l >= 8 ? "6 3" : NULL, 2 }, 1, 1 };
    }
    items[ni++] = (struct svg_legend_item){ "layer made linear (at 0)", { SVG_GREY, SVG_DIAMOND, 0, NULL, 0 }, 1, 0 };
    double lw, lh;
    svg_legend_size(items, ni, 12, &lw, &lh);
    const double pw = 340, ph = fmax(300, lh), gap = 76;
    double w = LEFT + np * pw + (np - 1) * gap + 24 + lw + 16;
    char title[300];
    snprintf(title, sizeof title, "Sensitivity: loss added by one layer's cut, campaign %s", rc->c.name);
    svg_begin(out, w, TOP + ph + BOTTOM, title, "The validation loss one change to one layer adds without retraining: "
              "each layer's head dim cut (a line per layer) or the layer made linear (a diamond at head dim 0).");
    figure_title(out, w, title);
    for (int k = 0; k < np; k++) {
        int ri = report_run_by_id(rc, panel_run[k]);
        struct svg_panel p = { LEFT + k * (pw + gap), TOP, pw, ph, { 0 }, { 0 } };
        svg_axis_fit(&p.ax, 0, xhi, 6, 1);
        p.ax.lo = 0;
        p.ax.title = "head dim after the cut";
        svg_axis_fit(&p.ay, ylo, yhi, 6, 0);
        p.ay.title = "loss added (nats/token)";
        svg_panel_draw(out, &p, ri >= 0 ? rc->runs[ri].run->name : "?");
        svg_panel_hline(out, &p, 0, SVG_GREY);
        for (int l = 0; l < n_layer && l < REPORT_MAX_LAYERS; l++) {
            double px[64], py[64];
            int n = 0;
            struct svg_style st = { campaign_colours[l % 8], SVG_CIRCLE, 0, l >= 8 ? "6 3" : NULL, 2 };
            /* the rows come by head dim, widest first: the line runs from the mildest cut down */
            for (int i = 0; i < rc->n_sens && n < 64; i++) {
                const struct db_sensitivity_row *s = &rc->sens[i];
                if (s->run_id != panel_run[k] || s->pt.layer != l || strcmp(s->pt.change, "cut") != 0 ||
                    !isfinite(s->pt.delta_loss))
                    continue;
                px[n] = svg_px(&p, s->pt.head_dim);
                py[n++] = svg_py(&p, s->pt.delta_loss);
            }
            if (n >= 2) svg_polyline(out, px, py, n, &st, "curve");
            for (int i = 0; i < rc->n_sens; i++) {
                const struct db_sensitivity_row *s = &rc->sens[i];
                if (s->run_id != panel_run[k] || s->pt.layer != l || !isfinite(s->pt.delta_loss)) continue;
                int linear = strcmp(s->pt.change, "linear") == 0;
                struct svg_style m = st;
                if (linear) m.shape = SVG_DIAMOND;
                char tip[300];
                if (linear)
                    snprintf(tip, sizeof tip, "%s, layer %d made linear (head dim %d): loss %+.4f nats/token",
                             ri >= 0 ? rc->runs[ri].run->name : "?", l, s->pt.head_dim, s->pt.delta_loss);
                else
                    snprintf(tip, sizeof tip, "%s, layer %d cut to head dim %d: loss %+.4f nats/token",
                             ri >= 0 ? rc->runs[ri].run->name : "?", l, s->pt.head_dim, s->pt.delta_loss);
                svg_marker(out, svg_px(&p, linear ? 0 : s->pt.head_dim), svg_py(&p, s->pt.delta_loss), linear ? 4.5 : 3.5,
                           &m, "pt", tip);
            }
        }
    }
    svg_legend(out, LEFT + np * pw + (np - 1) * gap + 24, TOP, items, ni, 12);
    svg_end(out);
    return 0;
}
