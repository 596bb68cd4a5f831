/* tests/test_cli_audit.c — defects of an audit of the command line, each checked where it
 * showed: `make fuzz` gives each harness its own -max_len (the Makefile's FUZZ_LEN_NAME);
 * `cascade export` writes data.path absolute from the directory the campaign ran from,
 * keeps an existing --out without --force, refuses an empty --out, a run that is not done
 * and a run without a recorded architecture (schema version 1); `cascade query --sql`
 * refuses fts3_tokenizer(). */
#include "test.h"
#include "tests/db_fixture.h"
#include "db/db.h"
#include "db/db_internal.h"
#include "trainer/trainer.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- make fuzz: -max_len per harness ------------------------------------------------------ */

/* The value of `NAME := VALUE` in the Makefile text ("" when absent), blanks trimmed. */
static void make_var(const char *mk, const char *name, char *out, size_t n)
{
    out[0] = 0;
    size_t len = strlen(name);
    for (const char *l = mk; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, len) != 0 || (l[len] != ' ' && l[len] != ':')) continue;
        const char *v = strstr(l, ":=");
        const char *end = strchr(l, '\n');
        if (!v || (end && v > end)) continue;
        v += 2;
        while (*v == ' ' || *v == '\t') v++;
        size_t k = end ? (size_t)(end - v) : strlen(v);
        while (k && (v[k - 1] == ' ' || v[k - 1] == '\t')) k--;
        snprintf(out, n, "%.*s", (int)k, v);
        return;
    }
}

/* `make -n fuzz` shows one command per harness, each with -max_len= the harness's
 * FUZZ_LEN_NAME (before: one shell loop whose $(FUZZ_LEN_$$h) make expanded to nothing,
 * so every harness ran at libFuzzer's default). A dry run: nothing is built or fuzzed. */
TEST(cli_audit_fuzz_max_len)
{
    char *mk = test_read_file("Makefile", NULL);
    REQUIRE_MSG(mk, "Makefile: cannot read it (the tests run from the repository root)");
    char names[512];
    make_var(mk, "FUZZ_NAMES", names, sizeof names);
    REQUIRE_MSG(names[0], "Makefile: no FUZZ_NAMES");
    char *out = NULL;
    /* the parent make's flags (jobserver, SAN=1) are not this dry run's */
    int rc = test_run("env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n fuzz FUZZ_SECONDS=1", &out);
    REQUIRE_MSG(rc == 0 && out, "make -n fuzz: exit %d: %.2000s", rc, out ? out : "");
    int n_names = 0;
    for (char *save = NULL, *h = strtok_r(names, " \t", &save); h; h = strtok_r(NULL, " \t", &save)) {
        n_names++;
        char var[128], len[32], want[160];
        snprintf(var, sizeof var, "FUZZ_LEN_%s", h);
        make_var(mk, var, len, sizeof len);
        CHECK_MSG(atoi(len) > 0, "Makefile: %s is '%s'", var, len);
        /* the line that runs this harness */
        char run[160];
        snprintf(run, sizeof run, "/fuzz_%s -max_total_time=1 ", h);
        const char *at = strstr(out, run);
        CHECK_MSG(at != NULL, "make -n fuzz: no command of its own runs fuzz_%s", h);
        if (!at) continue;
        const char *eol = strchr(at, '\n');
        snprintf(want, sizeof want, " -max_len=%s ", len);
        const char *ml = strstr(at, want);
        CHECK_MSG(ml && (!eol || ml < eol), "fuzz_%s runs without%s: %.*s", h, want,
                  eol ? (int)(eol - at) : (int)strlen(at), at);
    }
    /* and no other harness command, none without its length */
    int n_runs = 0;
    for (const char *p = out; (p = strstr(p, " -max_total_time=")) != NULL; p++) {
        n_runs++;
        const char *eol = strchr(p, '\n'), *ml = strstr(p, " -max_len=");
        CHECK_MSG(ml && (!eol || ml < eol) && ml[10] >= '1' && ml[10] <= '9', "a harness runs without -max_len: ...%.*s",
                  eol && eol - p < 200 ? (int)(eol - p) : 200, p);
    }
    CHECK_MSG(n_runs == n_names, "%d harness commands for %d harnesses", n_runs, n_names);
    free(out);
    free(mk);
}
