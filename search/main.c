/* search/main.c — entry point of ./cascade: parses the subcommand and dispatches. */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "cascade: not built yet\n");
    return 2;
}
