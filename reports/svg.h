/* reports/svg.h — the small SVG writer of module `reports` (reports/svg.c): documents,
 * plot panels with axes, ticks, tick labels and axis titles, markers, lines, legends and
 * labels placed so they do not overlap. Coordinates are pixels unless a function says it
 * takes data values; y grows downwards in pixels. All text is escaped for XML. */
#ifndef CASCADE_REPORT_SVG_H
#define CASCADE_REPORT_SVG_H

#include "reports/report_internal.h"

/* Colour-blind-safe colours (Okabe and Ito). */
#define SVG_BLACK   "#000000"
#define SVG_ORANGE  "#E69F00"
#define SVG_SKY     "#56B4E9"
#define SVG_GREEN   "#009E73"
#define SVG_BLUE    "#0072B2"
#define SVG_RED     "#D55E00"
#define SVG_PURPLE  "#CC79A7"
#define SVG_GREY    "#888888"

/* One axis: the data range shown and its ticks. */
struct svg_axis {
    double lo, hi;          /* data values at the ends of the axis */
    double step;            /* between ticks, from lo; 0: no ticks (a categorical axis the caller labels) */
    int decimals;           /* of the tick labels */
    const char *title;      /* with its unit, e.g. "attention parameters (thousands)" */
};

/* A plot area: where it is (pixels) and what it shows. */
struct svg_panel {
    double x, y, w, h;
    struct svg_axis ax, ay;
};

enum svg_shape { SVG_CIRCLE, SVG_SQUARE, SVG_DIAMOND, SVG_TRIANGLE, SVG_TRIANGLE_DOWN, SVG_STAR };

struct svg_style {
    const char *colour;
    enum svg_shape shape;
    int hollow;             /* markers: outline only */
    const char *dash;       /* lines: stroke-dasharray, NULL for solid */
    double width;           /* lines: stroke width (0: 2) */
};

struct svg_legend_item {
    const char *label;
    struct svg_style style;
    int marker, line;       /* draw the marker, a line sample, or both */
};

/* Obstacles (marker and label boxes) for label placement. */
struct svg_boxes {
    double (*box)[4];       /* x0, y0, x1, y1 */
    int n, cap;
};

/* <svg ...> with a white background, <title> and <desc>; svg_end closes it. */
void svg_begin(struct report_buf *b, double w, double h, const char *title, const char *desc);
void svg_end(struct report_buf *b);
/* Text as escaped XML character data (invalid UTF-8 and control characters as '?'). */
void svg_escape(struct report_buf *b, const char *text);
/* Estimated width in pixels of text at font size `size` (per-character widths close to
 * DejaVu Sans', rounded up). */
double svg_text_width(const char *text, double size);
void svg_text(struct report_buf *b, double x, double y, double size, const char *anchor, const char *extra,
              const char *text);

/* Fits an axis to the data range [lo, hi] (widened 4% each side) with about `ticks`
 * ticks at 1, 2, 5 x 10^k; integer_step: steps of whole numbers only. */
void svg_axis_fit(struct svg_axis *a, double lo, double hi, int ticks, int integer_step);
double svg_px(const struct svg_panel *p, double x);
double svg_py(const struct svg_panel *p, double y);
/* Grid, frame, ticks, tick labels, axis titles and a panel title (may be NULL). */
void svg_panel_draw(struct report_buf *b, const struct svg_panel *p, const char *title);
/* A dashed horizontal line at data value y across the panel, when y is inside it. */
void svg_panel_hline(struct report_buf *b, const struct svg_panel *p, double y, const char *colour);

/* A marker of radius r at (px, py); cls and tooltip (a <title>) may be NULL. */
void svg_marker(struct report_buf *b, double px, double py, double r, const struct svg_style *s, const char *cls,
                const char *tooltip);
/* A polyline through n pixel points (n >= 2). */
void svg_polyline(struct report_buf *b, const double *px, const double *py, int n, const struct svg_style *s,
                  const char *cls);
/* A legend box with its top-left corner at (x, y); svg_legend_size gives its size. */
void svg_legend_size(const struct svg_legend_item *items, int n, double size, double *w, double *h);
void svg_legend(struct report_buf *b, double x, double y, const struct svg_legend_item *items, int n, double size);

void svg_boxes_add(struct svg_boxes *bx, double x0, double y0, double x1, double y1);
void svg_boxes_free(struct svg_boxes *bx);
/* A label near the marker at (px, py) of radius r: the first of eight positions around it
 * that stays inside the panel and overlaps no box; it becomes a box. Returns 0 when
 * written, -1 when every position collides (then nothing is written). */
int svg_label(struct report_buf *b, struct svg_boxes *bx, const struct svg_panel *p, double px, double py, double r,
              double size, const char *text);

#endif
