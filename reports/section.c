/* reports/section.c — the helpers every section writer calls (headings, number formats of
 * the cascade tables, plot file names and links, saving a plot). They live below both
 * report.c, which assembles the sections, and the section files (setup.c, compare.c,
 * controls.c, rounds.c, ...), so that no section file calls back into report.c. */
#include "reports/report_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void report_heading(struct report_buf *md, int level, const char *text)
{
    report_buf_printf(md, "\n%.*s %s\n\n", level, "######", text);
}

void report_fmt_spearman(char *out, size_t n, double rho)
{
    if (isfinite(rho)) snprintf(out, n, "%.3f", rho);
    else snprintf(out, n, "undefined");
}

/* A campaign name as part of a file name. */
static void file_safe(char *out, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        out[k++] = ok ? c : '_';
    }
    out[k] = 0;
}

/* ---- plot files -------------------------------------------------------------------------------- */

void report_plot_path(struct report_plot *pf, const struct report_out *o, const char *campaign, const char *kind)
{
    char safe[300] = "";
    if (campaign) file_safe(safe, sizeof safe, campaign);
    snprintf(pf->path, sizeof pf->path, "%s%s-%s%s%s.svg", o->dir, o->name, safe, campaign ? "-" : "", kind);
    pf->name = strrchr(pf->path, '/') ? strrchr(pf->path, '/') + 1 : pf->path;
    size_t k = 0;
    for (const unsigned char *c = (const unsigned char *)pf->name; *c && k + 4 < sizeof pf->link; c++) {
        int plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-._~", *c);
        if (plain) pf->link[k++] = (char)*c;
        else k += (size_t)snprintf(pf->link + k, sizeof pf->link - k, "%%%02X", *c);
    }
    pf->link[k] = 0;
}

int report_plot_save(struct report_plot *pf, char *err)
{
    return pf->made ? report_buf_save(&pf->svg, pf->path, err) : 0;
}
