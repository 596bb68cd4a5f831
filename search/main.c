/* search/main.c — entry point of ./cascade: checks the BLAS core, then dispatches to the
 * subcommand. Each subcommand lives in its own search/cmd_*.c file (see cli.h). */
#include "search/cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *usage;
} commands[] = {
    { "search", cmd_search, "search --config FILE --db FILE [--threads N]" },
    { "query", cmd_query, "query --db FILE (campaigns|runs|results|pareto|cascade) [--campaign NAME] [--format table|csv|json] | --sql \"SELECT ...\"" },
    { "train", cmd_train, "train --config FILE [--steps N] [--out CKPT] [--seed S] [--threads N] [--resume]" },
    { "eval", cmd_eval, "eval --checkpoint CKPT [--data FILE] [--batches N] [--threads N]" },
    { "analyze", cmd_analyze, "analyze CKPT [--data FILE --tokens N] [--json] [--heads] [--n-head N]" },
    { "prepare-brown", cmd_prepare_brown, "prepare-brown CORPUS_DIR OUT.txt" },
    { "bench", cmd_bench, "bench [--quick] [--threads N]" },
    { "info", cmd_info, "info" },
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "cascade — architecture search for cheaper transformers, driven by the routing cascade\n\nusage:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  cascade %s\n", commands[i].usage);
    fprintf(f, "\n'cascade COMMAND --help' describes a command; README.md has the details.\n");
}

int main(int argc, char **argv)
{
    char note[512];
    blas_core_check(argc, argv, note, sizeof note);
    if (note[0]) fprintf(stderr, "%s\n", note);
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
