/* search/cli.h — the command-line layer of ./cascade (module `search`): one function per
 * subcommand, each taking (argc, argv) with argv[0] the subcommand name, printing its
 * own output and errors (the one place that prints), and returning the exit status:
 * 0 success, 1 the work failed, 2 bad usage or bad input. */
#ifndef CASCADE_SEARCH_CLI_H
#define CASCADE_SEARCH_CLI_H

#include <stddef.h>

#include "search/host.h"

int cmd_search(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_prepare_brown(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Prints the rows of a read-only statement on db_path as `cascade query` does (format
 * "table", "csv" or "json"); -1 with err on error. */
int cli_print_sql(const char *db_path, const char *sql, const char *format, char *err);

/* Option parsing shared by the subcommands (search/cli.c).
 * cli_opt: if argv[*i] is `flag`, stores the next argument in *out, advances *i and
 * returns 1; prints "cascade CMD: option FLAG needs a value" and returns -1 if there is
 * none; returns 0 if argv[*i] is not `flag`.
 * cli_long / cli_double: parse a flag's value in [lo, hi]; print an error naming the
 * flag and return -1 when it is not a number in range. */
int cli_opt(int argc, char **argv, int *i, const char *cmd, const char *flag, const char **out);
int cli_long(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out);
int cli_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);
/* Prints "cascade CMD: unknown option 'X' (see cascade CMD --help)"; returns 2. */
int cli_unknown(const char *cmd, const char *arg);
/* Seconds on a monotonic clock, for durations. */
double cli_now(void);
/* "1h02m", "3m05s", "12s": report_fmt_duration (reports/report.h), but "?" for a
 * duration not known (not finite or negative), as in an ETA before the first steps. */
void cli_format_duration(char *out, int n, double seconds);

#endif
