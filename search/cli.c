/* search/cli.c — small helpers shared by the subcommands: option parsing with one-line
 * errors naming the flag, thread setup, durations (in the reports' format: search drives
 * reports and may use them, while reports/ may include only db/). */
#include "search/cli.h"
#include "reports/report.h"
#include "trainer/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int cli_opt(int argc, char **argv, int *i, const char *cmd, const char *flag, const char **out)
{
    if (strcmp(argv[*i], flag) != 0) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "cascade %s: option %s needs a value\n", cmd, flag);
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

int cli_long(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "cascade %s: %s: expected an integer in [%ld, %ld], got '%s'\n", cmd, flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "cascade %s: %s: expected a number in [%g, %g], got '%s'\n", cmd, flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_unknown(const char *cmd, const char *arg)
{
    fprintf(stderr, "cascade %s: unknown option '%s' (see cascade %s --help)\n", cmd, arg, cmd);
    return 2;
}

void cli_format_duration(char *out, int n, double s)
{
    if (!isfinite(s) || s < 0) snprintf(out, n, "?");   /* e.g. no ETA yet */
    else report_fmt_duration(out, (size_t)n, s);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

