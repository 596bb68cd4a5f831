/* reports/buf.c — the report's text buffers and number formats: a growing buffer written
 * with printf, saved to a file atomically (FILE.tmp, then rename), and the formats that
 * reports/report.h documents (thousands separators, durations, UTC dates), and the three
 * writers every string from the database goes through on its way into the Markdown
 * (text, code spans, shell words: report_internal.h). */
#include "reports/report_internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

static int buf_reserve(struct report_buf *b, size_t extra)
{
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) { b->oom = 1; return -1; }
    b->s = s;
    b->cap = cap;
    return 0;
}

void report_buf_printf(struct report_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert(n >= 0);
    if (buf_reserve(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void report_buf_puts(struct report_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (buf_reserve(b, n) != 0) return;
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void report_buf_free(struct report_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

int report_buf_save(const struct report_buf *b, const char *path, char *err)
{
    if (b->oom) {
        snprintf(err, CASCADE_ERR_MAX, "%s: out of memory while writing it", path);
        return -1;
    }
    /* a unique temporary file beside the report (O_EXCL: a planted symlink is never
     * followed, two writers never share one), then rename */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        snprintf(err, CASCADE_ERR_MAX, "%.200s...: path too long", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    mode_t mask = umask(022);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    size_t w = b->len ? fwrite(b->s, 1, b->len, f) : 0;
    int bad = w != b->len || ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot write: %s", path, strerror(errno ? errno : EIO));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* "1234567" -> "1,234,567" (digits only, no sign). */
static void group_digits(char *out, size_t n, const char *digits)
{
    size_t len = strlen(digits), k = 0;
    for (size_t i = 0; i < len && k + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
}

void report_fmt_int(char *out, size_t n, long long v)
{
    char digits[32], grouped[48];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    snprintf(digits, sizeof digits, "%llu", u);
    group_digits(grouped, sizeof grouped, digits);
    snprintf(out, n, "%s%s", v < 0 ? "-" : "", grouped);
}

void report_fmt_fixed(char *out, size_t n, double v, int decimals)
{
    if (!isfinite(v)) { snprintf(out, n, "%s", isnan(v) ? "–" : v > 0 ? "inf" : "-inf"); return; }
    char text[400], grouped[420];
    snprintf(text, sizeof text, "%.*f", decimals, v);
    char *digits = text[0] == '-' ? text + 1 : text;
    int negative = digits != text && strspn(digits, "0.") != strlen(digits);   /* no "-0.00" */
    char *dot = strchr(digits, '.');
    if (dot) *dot = 0;
    group_digits(grouped, sizeof grouped, digits);
    snprintf(out, n, "%s%s%s%s", negative ? "-" : "", grouped, dot ? "." : "", dot ? dot + 1 : "");
}

void report_fmt_duration(char *out, size_t n, double s)
{
    if (!isfinite(s) || s < 0) { snprintf(out, n, "–"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, n, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    else if (t >= 60) snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(out, n, "%lds", t);
}

void report_fmt_utc(char *out, size_t n, double unix_s)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (unix_s <= 0 || !gmtime_r(&t, &tm) || strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm) == 0) snprintf(out, n, "–");
}

/* ---- strings from the database in Markdown (why each rule: report_internal.h) ---------- */

static int is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

void report_md_cell(struct report_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (is_control(*p)) report_buf_puts(b, " ");
        else if (*p == '&') report_buf_puts(b, "&amp;");
        else if (*p == '<') report_buf_puts(b, "&lt;");
        else if (*p == '>') report_buf_puts(b, "&gt;");
        else if (strchr("\\`*_[]~$|", *p)) report_buf_printf(b, "\\%c", *p);
        else report_buf_printf(b, "%c", *p);
    }
}

void report_md_code(struct report_buf *b, const char *s, enum report_md_where where)
{
    if (!s) s = "";
    if (strpbrk(s, "<>")) { report_md_cell(b, s); return; }
    size_t len = strlen(s), longest = 0, run = 0, spaces = 0;
    for (size_t i = 0; i < len; i++) {
        run = s[i] == '`' ? run + 1 : 0;
        if (run > longest) longest = run;
        spaces += s[i] == ' ' || is_control((unsigned char)s[i]);
    }
    /* the ends as a renderer sees them: control characters become spaces */
    char first = len ? s[0] : ' ', last = len ? s[len - 1] : ' ';
    if (is_control((unsigned char)first)) first = ' ';
    if (is_control((unsigned char)last)) last = ' ';
    int pad = spaces < len && (first == '`' || last == '`' || (first == ' ' && last == ' '));
    if (len == 0) pad = 1;   /* "` `": a code span cannot be empty */
    for (size_t k = 0; k <= longest; k++) report_buf_puts(b, "`");
    if (pad) report_buf_puts(b, " ");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_control(c)) report_buf_puts(b, " ");
        else if (c == '|' && where == REPORT_MD_TABLE) report_buf_puts(b, "\\|");
        else report_buf_printf(b, "%c", c);
    }
    if (pad && len) report_buf_puts(b, " ");
    for (size_t k = 0; k <= longest; k++) report_buf_puts(b, "`");
}

void report_sh_word(struct report_buf *b, const char *s)
{
    if (!s) s = "";
    int plain = s[0] != 0, dollar = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        plain &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 (*p && strchr("_-./,:=+@%", *p));
        dollar |= is_control(*p) || *p == '<' || *p == '>';
    }
    if (plain) { report_buf_puts(b, s); return; }
    report_buf_puts(b, dollar ? "$'" : "'");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (dollar && (is_control(*p) || *p == '<' || *p == '>')) report_buf_printf(b, "\\x%02X", *p);
        else if (dollar && (*p == '\\' || *p == '\'')) report_buf_printf(b, "\\%c", *p);
        else if (*p == '\'') report_buf_puts(b, "'\\''");
        else report_buf_printf(b, "%c", *p);
    }
    report_buf_puts(b, "'");
}

const char *report_plural(double n)
{
    return n == 1 ? "" : "s";
}
