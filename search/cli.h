/* search/cli.h — the command-line layer of ./cascade (module `search`): one function per
 * subcommand, each taking (argc, argv) with argv[0] the subcommand name, printing its
 * own output and errors (the one place that prints), and returning the exit status:
 * 0 success, 1 the work failed, 2 bad usage or bad input. */
#ifndef CASCADE_SEARCH_CLI_H
#define CASCADE_SEARCH_CLI_H

#include <stddef.h>

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
/* The CPU's model name from /proc/cpuinfo ("unknown" where there is none), for every
 * figure that names the machine (campaign setups, benchmarks). */
void cli_cpu_model(char *out, size_t n);

/* OpenBLAS core check (search/blas_core.c). Debian's OpenBLAS 0.3.21 picks a weak core
 * on several CPUs (Prescott on some AVX-512 Xeons, Haswell on Zen 5). */
struct blas_cpu {          /* the CPU features the choice depends on: 1 present, 0 not */
    int avx2, fma;
    int avx512f, avx512bw, avx512dq, avx512vl;
};
/* The host's features (or CASCADE_BLAS_CPU's, a test hook: "avx2 fma ..."). */
void blas_cpu_detect(struct blas_cpu *cpu);
/* Pure: the OpenBLAS core to force on a CPU with these features when OpenBLAS chose
 * `have`, or NULL when `have` is already the fastest kind for it. */
const char *blas_core_choose(const char *have, const struct blas_cpu *cpu);
/* Re-executes the program (argv) with OPENBLAS_CORETYPE set when blas_core_choose asks
 * for another core; returns when no re-exec was needed (or it failed). Prints nothing. */
void blas_core_check(char **argv);
/* "SkylakeX", or "SkylakeX (OpenBLAS had chosen 'Prescott' for this CPU; cascade re-ran
 * itself with OPENBLAS_CORETYPE=SkylakeX)", for banners and the recorded setup. */
void blas_core_describe(char *out, int n);
/* The core OpenBLAS uses now, e.g. "SkylakeX". */
const char *blas_core_name(void);

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
/* Sets the thread count from --threads (0 = all cores) and prints nothing. */
void cli_set_threads(long n);
/* Seconds on a monotonic clock, for durations. */
double cli_now(void);
/* mkdir -p; 0 on success. */
int cli_mkdir_p(const char *path);
/* mkdir -p of the directory part of a file's path (none for "name"); 0 on success. */
int cli_mkdir_parent(const char *file_path);
/* "1h02m", "3m05s", "12s": report_fmt_duration (reports/report.h), but "?" for a
 * duration not known (not finite or negative), as in an ETA before the first steps. */
void cli_format_duration(char *out, int n, double seconds);

#endif
