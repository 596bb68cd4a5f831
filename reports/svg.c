/* reports/svg.c — the one place that writes SVG (interface: reports/svg.h).
 *
 * Why our own: Debian packages no well-kept C library that draws charts. Cairo's SVG
 * surface draws shapes, but turns text into glyph outlines and would still leave axes,
 * ticks and legends to us; GNU plotutils' libplot has not been released since 2009. Plain
 * SVG text is small, valid by construction and readable in a diff, so this file writes it.
 *
 * Format: SVG 1.1, one <svg> element with width/height in pixels and a matching viewBox,
 * a white background (plots stay readable in a dark browser theme), inline presentation
 * attributes only (no CSS), fonts "DejaVu Sans, Helvetica, Arial, sans-serif". Markers
 * carry a class (the plots give every data point class="pt") and a <title> child, which
 * browsers show as a tooltip. Text is XML-escaped (& < > " ') and anything that is not
 * valid UTF-8, or is a control character XML forbids, becomes '?'.
 */
#include "reports/svg.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SVG_FONT "DejaVu Sans, Helvetica, Arial, sans-serif"

/* ---- documents and text ---------------------------------------------------------------- */

void svg_begin(struct report_buf *b, double w, double h, const char *title, const char *desc)
{
    report_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
                      "viewBox=\"0 0 %.0f %.0f\" font-family=\"%s\">\n<title>", w, h, w, h, SVG_FONT);
    svg_escape(b, title);
    report_buf_puts(b, "</title>\n<desc>");
    svg_escape(b, desc);
    report_buf_printf(b, "</desc>\n<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", w, h);
}

void svg_end(struct report_buf *b) { report_buf_puts(b, "</svg>\n"); }

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static int utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;  /* overlong, surrogate */
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;  /* overlong, > U+10FFFF */
    return n;
}

void svg_escape(struct report_buf *b, const char *text)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    while (*s) {
        int n = utf8_len(s);
        if (n == 0 || (*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')) { report_buf_puts(b, "?"); s++; continue; }
        switch (*s) {
        case '&': report_buf_puts(b, "&amp;"); break;
        case '<': report_buf_puts(b, "&lt;"); break;
        case '>': report_buf_puts(b, "&gt;"); break;
        case '"': report_buf_puts(b, "&quot;"); break;
        case '\'': report_buf_puts(b, "&apos;"); break;
        default: report_buf_printf(b, "%.*s", n, (const char *)s);
        }
        s += n;
    }
}

/* Advance of one character in ems, about DejaVu Sans' rounded up (Helvetica's and Arial's
 * are narrower), so estimated boxes hold the text. */
static double char_em(unsigned char c)
{
    if (c >= 0x80) return 0.8;   /* the first byte of a non-ASCII character */
    if (strchr(" .,:;'|!il", c)) return 0.34;
    if (strchr("ftrj()[]{}-", c)) return 0.44;
    if (strchr("+=<>~^*#", c)) return 0.86;
    if (strchr("%&@mwMW", c)) return 1.0;
    if (c >= 'A' && c <= 'Z') return 0.76;
    return 0.64;                 /* digits, other lowercase letters, '_', '/' */
}

double svg_text_width(const char *text, double size)
{
    double em = 0;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++)
        if ((*s & 0xC0) != 0x80) em += char_em(*s);
    return em * size;
}

void svg_text(struct report_buf *b, double x, double y, double size, const char *anchor, const char *extra,
              const char *text)
{
    report_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"%s\"%s%s>", x, y, size,
                      anchor ? anchor : "start", extra ? " " : "", extra ? extra : "");
    svg_escape(b, text);
    report_buf_puts(b, "</text>\n");
}

/* ---- axes and panels --------------------------------------------------------------------- */

void svg_axis_fit(struct svg_axis *a, double lo, double hi, int ticks, int integer_step)
{
    assert(ticks >= 2);
    if (!isfinite(lo) || !isfinite(hi)) { lo = 0; hi = 1; }
    if (hi < lo) { double t = lo; lo = hi; hi = t; }
    if (hi - lo < 1e-12 * (fabs(lo) + fabs(hi)) || hi == lo) {
        double pad = fabs(lo) > 0 ? 0.1 * fabs(lo) : 1.0;
        lo -= pad;
        hi += pad;
    }
    double pad = 0.04 * (hi - lo);
    lo -= pad;
    hi += pad;
    double raw = (hi - lo) / ticks, mag = pow(10, floor(log10(raw))), norm = raw / mag;
    double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    if (integer_step && step < 1) step = 1;
    if (integer_step) step = round(step);
    a->step = step;
    a->lo = floor(lo / step + 1e-9) * step;
    a->hi = ceil(hi / step - 1e-9) * step;
    int d = (int)ceil(-log10(step) - 1e-9);
    a->decimals = d > 0 ? d : 0;
}

double svg_px(const struct svg_panel *p, double x) { return p->x + (x - p->ax.lo) / (p->ax.hi - p->ax.lo) * p->w; }
double svg_py(const struct svg_panel *p, double y) { return p->y + p->h - (y - p->ay.lo) / (p->ay.hi - p->ay.lo) * p->h; }

/* The tick values of an axis: the multiples of step from lo to hi (at most 64). */
static int axis_ticks(const struct svg_axis *a, double *v)
{
    int n = 0;
    if (!(a->step > 0)) return 0;   /* a categorical axis: the caller labels it */
    double first = ceil(a->lo / a->step - 1e-9) * a->step;
    for (int i = 0; n < 64; i++) {
        double t = first + i * a->step;
        if (t > a->hi + 1e-9 * a->step) break;
        v[n++] = fabs(t) < 1e-12 * a->step ? 0.0 : t;
    }
    return n;
}

static void tick_label(char *out, size_t n, const struct svg_axis *a, double v)
{
    report_fmt_fixed(out, n, v, a->decimals);
}

void svg_panel_draw(struct report_buf *b, const struct svg_panel *p, const char *title)
{
    double v[64];
    char label[64];
    report_buf_puts(b, "<g class=\"axes\">\n");
    int nx = axis_ticks(&p->ax, v);
    for (int i = 0; i < nx; i++) {
        double x = svg_px(p, v[i]);
        report_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\" stroke-width=\"1\"/>\n",
                          x, p->y, x, p->y + p->h);
        report_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\" stroke-width=\"1\"/>\n",
                          x, p->y + p->h, x, p->y + p->h + 5);
        tick_label(label, sizeof label, &p->ax, v[i]);
        svg_text(b, x, p->y + p->h + 19, 12, "middle", "fill=\"#333333\"", label);
    }
    int ny = axis_ticks(&p->ay, v);
    double widest = 0;
    for (int i = 0; i < ny; i++) {
        double y = svg_py(p, v[i]);
        report_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\" stroke-width=\"1\"/>\n",
                          p->x, y, p->x + p->w, y);
        report_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\" stroke-width=\"1\"/>\n",
                          p->x - 5, y, p->x, y);
        tick_label(label, sizeof label, &p->ay, v[i]);
        svg_text(b, p->x - 8, y + 4, 12, "end", "fill=\"#333333\"", label);
        double w = svg_text_width(label, 12);
        if (w > widest) widest = w;
    }
    report_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\" "
                      "stroke-width=\"1\"/>\n", p->x, p->y, p->w, p->h);
    if (p->ax.title) svg_text(b, p->x + p->w / 2, p->y + p->h + 42, 13, "middle", NULL, p->ax.title);
    if (p->ay.title) {
        double x = p->x - widest - 20, y = p->y + p->h / 2;
        char rot[64];
        snprintf(rot, sizeof rot, "transform=\"rotate(-90 %.1f %.1f)\"", x, y);
        svg_text(b, x, y, 13, "middle", rot, p->ay.title);
    }
    if (title) svg_text(b, p->x + p->w / 2, p->y - 10, 13, "middle", "font-weight=\"bold\"", title);
    report_buf_puts(b, "</g>\n");
}

void svg_panel_hline(struct report_buf *b, const struct svg_panel *p, double y, const char *colour)
{
    if (y < p->ay.lo || y > p->ay.hi) return;
    double py = svg_py(p, y);
    report_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\" "
                      "stroke-dasharray=\"2 3\"/>\n", p->x, py, p->x + p->w, py, colour);
}

/* ---- marks ------------------------------------------------------------------------------- */

static void marker_paint(struct report_buf *b, const struct svg_style *s)
{
    /* hollow: a transparent fill, so what lies below shows and the inside still takes the pointer */
    report_buf_printf(b, " fill=\"%s\"%s stroke=\"%s\" stroke-width=\"1.5\"", s->hollow ? "#ffffff" : s->colour,
                      s->hollow ? " fill-opacity=\"0\"" : "", s->colour);
}

/* A closed polygon of n vertices at angles start + 2 pi i / n, alternating radii r0, r1. */
static void polygon(struct report_buf *b, double cx, double cy, int n, double start, double r0, double r1)
{
    report_buf_puts(b, " points=\"");
    for (int i = 0; i < n; i++) {
        double a = start + 2 * M_PI * i / n, r = i % 2 ? r1 : r0;
        report_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", cx + r * cos(a), cy + r * sin(a));
    }
    report_buf_puts(b, "\"");
}

void svg_marker(struct report_buf *b, double px, double py, double r, const struct svg_style *s, const char *cls,
                const char *tooltip)
{
    const char *tag = s->shape == SVG_CIRCLE ? "circle" : s->shape == SVG_SQUARE ? "rect" : "polygon";
    report_buf_printf(b, "<%s", tag);
    if (cls) report_buf_printf(b, " class=\"%s\"", cls);
    switch (s->shape) {
    case SVG_CIRCLE: report_buf_printf(b, " cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", px, py, r); break;
    case SVG_SQUARE:
        report_buf_printf(b, " x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", px - 0.9 * r, py - 0.9 * r,
                          1.8 * r, 1.8 * r);
        break;
    case SVG_DIAMOND: polygon(b, px, py, 4, -M_PI / 2, 1.3 * r, 1.3 * r); break;
    case SVG_TRIANGLE: polygon(b, px, py + 0.2 * r, 3, -M_PI / 2, 1.3 * r, 1.3 * r); break;
    case SVG_TRIANGLE_DOWN: polygon(b, px, py - 0.2 * r, 3, M_PI / 2, 1.3 * r, 1.3 * r); break;
    case SVG_STAR: polygon(b, px, py, 10, -M_PI / 2, 1.6 * r, 0.7 * r); break;
    }
    marker_paint(b, s);
    if (!tooltip) { report_buf_puts(b, "/>\n"); return; }
    report_buf_puts(b, "><title>");
    svg_escape(b, tooltip);
    report_buf_printf(b, "</title></%s>\n", tag);
}

void svg_polyline(struct report_buf *b, const double *px, const double *py, int n, const struct svg_style *s,
                  const char *cls)
{
    assert(n >= 2);
    report_buf_puts(b, "<polyline");
    if (cls) report_buf_printf(b, " class=\"%s\"", cls);
    report_buf_puts(b, " points=\"");
    for (int i = 0; i < n; i++) report_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", px[i], py[i]);
    report_buf_printf(b, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" stroke-linejoin=\"round\"", s->colour,
                      s->width > 0 ? s->width : 2.0);
    if (s->dash) report_buf_printf(b, " stroke-dasharray=\"%s\"", s->dash);
    report_buf_puts(b, "/>\n");
}

/* ---- legends ------------------------------------------------------------------------------- */

#define LEGEND_PAD 8.0
#define LEGEND_SAMPLE 28.0

void svg_legend_size(const struct svg_legend_item *items, int n, double size, double *w, double *h)
{
    double widest = 0;
    for (int i = 0; i < n; i++) {
        double tw = svg_text_width(items[i].label, size);
        if (tw > widest) widest = tw;
    }
    *w = 2 * LEGEND_PAD + LEGEND_SAMPLE + 8 + widest;
    *h = 2 * LEGEND_PAD + n * (size + 8) - 8;
}

void svg_legend(struct report_buf *b, double x, double y, const struct svg_legend_item *items, int n, double size)
{
    double w, h;
    svg_legend_size(items, n, size, &w, &h);
    report_buf_printf(b, "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\" "
                      "stroke=\"#bbbbbb\" stroke-width=\"1\"/>\n", x, y, w, h);
    for (int i = 0; i < n; i++) {
        double cy = y + LEGEND_PAD + i * (size + 8) + size / 2;
        double sx = x + LEGEND_PAD;
        if (items[i].line) {
            double px[2] = { sx, sx + LEGEND_SAMPLE }, py[2] = { cy, cy };
            svg_polyline(b, px, py, 2, &items[i].style, "lg");
        }
        if (items[i].marker) svg_marker(b, sx + LEGEND_SAMPLE / 2, cy, 4.5, &items[i].style, "lg", NULL);
        svg_text(b, sx + LEGEND_SAMPLE + 8, cy + size * 0.35, size, "start", NULL, items[i].label);
    }
    report_buf_puts(b, "</g>\n");
}

/* ---- labels that do not overlap ------------------------------------------------------------ */

void svg_boxes_add(struct svg_boxes *bx, double x0, double y0, double x1, double y1)
{
    if (bx->n == bx->cap) {
        int cap = bx->cap ? 2 * bx->cap : 64;
        double (*grown)[4] = realloc(bx->box, (size_t)cap * sizeof *grown);
        if (!grown) return;   /* a box lost: at worst two labels touch */
        bx->box = grown;
        bx->cap = cap;
    }
    double *v = bx->box[bx->n++];
    v[0] = x0; v[1] = y0; v[2] = x1; v[3] = y1;
}

void svg_boxes_free(struct svg_boxes *bx)
{
    free(bx->box);
    memset(bx, 0, sizeof *bx);
}

static int collides(const struct svg_boxes *bx, double x0, double y0, double x1, double y1)
{
    for (int i = 0; i < bx->n; i++) {
        const double *v = bx->box[i];
        if (x0 < v[2] && v[0] < x1 && y0 < v[3] && v[1] < y1) return 1;
    }
    return 0;
}

int svg_label(struct report_buf *b, struct svg_boxes *bx, const struct svg_panel *p, double px, double py, double r,
              double size, const char *text)
{
    double w = svg_text_width(text, size), h = size, g = r + 3;
    /* candidate top-left corners: right, left, above, below, then the four diagonals */
    const double pos[8][2] = {
        { px + g, py - h / 2 }, { px - g - w, py - h / 2 }, { px - w / 2, py - g - h }, { px - w / 2, py + g },
        { px + g, py - g - h * 0.8 }, { px + g, py + g - h * 0.2 }, { px - g - w, py - g - h * 0.8 },
        { px - g - w, py + g - h * 0.2 },
    };
    for (int i = 0; i < 8; i++) {
        double x0 = pos[i][0], y0 = pos[i][1], x1 = x0 + w, y1 = y0 + h;
        if (x0 < p->x + 2 || x1 > p->x + p->w - 2 || y0 < p->y + 2 || y1 > p->y + p->h - 2) continue;
        if (collides(bx, x0, y0, x1, y1)) continue;
        svg_boxes_add(bx, x0, y0, x1, y1);
        svg_text(b, x0, y0 + 0.8 * h, size, "start", "fill=\"#333333\" class=\"label\"", text);
        return 0;
    }
    return -1;
}
