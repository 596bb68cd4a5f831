/* tests/test.h — the project's test framework: plain C, no dependencies.
 *
 * A test is written as
 *     TEST(module_what_it_checks) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-5); }
 * at the start of a line in any tests/<name>.c file. The Makefile collects those lines into
 * test_list.h, so adding a test never needs editing a central list. The runner
 * (tests/runner.c) prints one line per test ("ok name" or "FAIL name" plus the failed
 * checks) and ends with "N passed, N failed"; it exits non-zero on any failure.
 * `cascade_test NAME_PREFIX...` runs only the tests whose names start with a prefix.
 */
#ifndef CASCADE_TEST_H
#define CASCADE_TEST_H
#include <math.h>
#include <stdio.h>

struct test_ctx {
    const char *name;   /* the running test's name */
    int failures;       /* checks failed so far in this test */
};

#define TEST(name) void test_##name(struct test_ctx *t_)

void test_fail(struct test_ctx *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* CHECK(cond) and CHECK_MSG(cond, fmt, ...) record a failure and go on. */
#define CHECK(cond) do { if (!(cond)) test_fail(t_, __FILE__, __LINE__, "%s", #cond); } while (0)
#define CHECK_MSG(cond, ...) do { if (!(cond)) test_fail(t_, __FILE__, __LINE__, __VA_ARGS__); } while (0)
/* |a-b| <= tol, NaN fails. */
#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); \
    if (!(fabs(a_ - b_) <= (tol))) test_fail(t_, __FILE__, __LINE__, "%s = %.9g, %s = %.9g, tol %.3g", #a, a_, #b, b_, (double)(tol)); } while (0)
/* A check whose failure makes the rest of the test meaningless. */
#define REQUIRE(cond) do { if (!(cond)) { test_fail(t_, __FILE__, __LINE__, "%s", #cond); return; } } while (0)
#define REQUIRE_MSG(cond, ...) do { if (!(cond)) { test_fail(t_, __FILE__, __LINE__, __VA_ARGS__); return; } } while (0)

/* Helpers shared by tests (tests/runner.c). */
const char *test_tmpdir(void);                 /* a fresh directory for this run's files */
void test_tmppath(char *out, size_t n, const char *name);  /* test_tmpdir()/name */
const char *test_cascade_bin(void);            /* path of ./cascade, for CLI tests */
/* Writes n bytes to path; 0 on success. */
int test_write_file(const char *path, const void *data, size_t n);
int test_write_text(const char *path, const char *text);   /* the string, without its NUL */
/* The whole file, malloc'ed and NUL-terminated (so text can be used as a string);
 * *n (if not NULL) receives its size. NULL if it cannot be read. */
char *test_read_file(const char *path, size_t *n);
/* Runs a shell command; returns its exit status; its stdout+stderr go to *output
 * (malloc'ed, caller frees) when output != NULL. */
int test_run(const char *cmd, char **output);

#endif
