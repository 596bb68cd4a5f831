/* search/main.c — entry point of ./cascade: checks the BLAS core, then dispatches to the
 * subcommand. Each subcommand lives in its own search/cmd_*.c file (see cli.h). Built with
 * `make MPI=1` (./cascade-mpi) it also starts MPI and makes ranks 1..N-1 workers of
 * `search` (search/executor_mpi.c). */
#include "search/cli.h"
#include "trainer/trainer.h"

#ifdef CASCADE_MPI
#include "search/executor.h"
#include <mpi.h>
#endif
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *usage;
} commands[] = {
    { "search", cmd_search, "search --config FILE --db FILE [--threads N]" },
    { "query", cmd_query, "query --db FILE (campaigns|runs|results|pareto|cascade|noise|controls|rounds) [--campaign NAME] [--format table|csv|json] | --sql \"SELECT ...\"" },
    { "report", cmd_report, "report --db FILE [--campaign NAME]... --out DIR/NAME.md" },
    { "export", cmd_export, "export --db FILE [--campaign NAME] --run NAME --out FILE.json [--force]" },
    { "train", cmd_train, "train --config FILE [--steps N] [--out CKPT] [--seed S] [--threads N] [--resume]" },
    { "eval", cmd_eval, "eval --checkpoint CKPT [--data FILE] [--batches N] [--threads N]" },
    { "analyze", cmd_analyze, "analyze CKPT [--data FILE --tokens N] [--minus-init] [--json] [--heads] [--n-head N]" },
    { "prepare-brown", cmd_prepare_brown, "prepare-brown CORPUS_DIR OUT.txt" },
    { "bench", cmd_bench, "bench [--quick] [--profile] [--sharing] [--threads N]" },
    { "info", cmd_info, "info" },
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "cascade — architecture search for cheaper transformers, driven by the routing cascade\n\nusage:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  cascade %s\n", commands[i].usage);
    fprintf(f, "\n'cascade COMMAND --help' describes a command; README.md has the details.\n");
}

static int run_command(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            printf("usage: cascade %s\n", commands[i].usage);
            return 0;
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "cascade: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    blas_core_check(argv);   /* may re-execute: before MPI_Init */
    trainer_fp_setup();      /* before any other thread exists: they inherit it */
#ifdef CASCADE_MPI
    /* Every rank runs main. Rank 0 is the ./cascade of a single process; under `search` the
     * others are its workers (search/executor_mpi.c); other commands run on rank 0 alone. */
    int provided, rank = 0, rc = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int search = argc >= 2 && strcmp(argv[1], "search") == 0;
    if (rank == 0) {
        rc = run_command(argc, argv);
        if (search) search_mpi_quit();
    } else if (search) {
        rc = search_mpi_worker(argc - 1, argv + 1);
    }
    MPI_Finalize();
    return rc;
#else
    return run_command(argc, argv);
#endif
}
