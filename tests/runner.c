/* tests/runner.c — main() of cascade_test: runs every TEST() in tests/<name>.c.
 * Prints "ok NAME (0.12 s)" or "FAIL NAME" with the failed checks, then
 * "N passed, N failed". Arguments are name prefixes that select tests. */
#include "test.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define X(name) void test_##name(struct test_ctx *);
#include "test_list.h"
#undef X

static const struct { const char *name; void (*fn)(struct test_ctx *); } all_tests[] = {
#define X(name) { #name, test_##name },
#include "test_list.h"
#undef X
};

static char tmpdir_path[256];

void test_fail(struct test_ctx *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    t->failures++;
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

const char *test_tmpdir(void) { return tmpdir_path; }

void test_tmppath(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir_path, name);
}

const char *test_cascade_bin(void)
{
    const char *b = getenv("CASCADE_BIN");
    return b ? b : "./cascade";
}

int test_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = fwrite(data, 1, n, f);
    return fclose(f) == 0 && put == n ? 0 : -1;
}

int test_write_text(const char *path, const char *text)
{
    return test_write_file(path, text, strlen(text));
}

char *test_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    if (!buf) return NULL;
    buf[got] = 0;
    if (n) *n = got;
    return buf;
}

int test_run(const char *cmd, char **output)
{
    char full[4096];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) { cap *= 2; buf = realloc(buf, cap); }
    }
    buf[len] = 0;
    int st = pclose(p);
    if (output) *output = buf; else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int selected(const char *name, int argc, char **argv)
{
    if (argc < 2) return 1;
    for (int i = 1; i < argc; i++)
        if (strncmp(name, argv[i], strlen(argv[i])) == 0) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    snprintf(tmpdir_path, sizeof tmpdir_path, "/tmp/cascade_test.XXXXXX");
    if (!mkdtemp(tmpdir_path)) { perror("mkdtemp"); return 2; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof all_tests / sizeof all_tests[0]; i++) {
        if (!selected(all_tests[i].name, argc, argv)) continue;
        struct test_ctx t = { all_tests[i].name, 0 };
        double t0 = now_s();
        all_tests[i].fn(&t);
        double dt = now_s() - t0;
        if (t.failures == 0) { passed++; printf("ok   %s (%.2f s)\n", t.name, dt); }
        else { failed++; printf("FAIL %s (%d checks failed)\n", t.name, t.failures); }
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir_path);
    if (failed == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir_path);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
