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

/* Exactly one line of output. */
static int one_line(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && strchr(s, '\n') == s + n - 1;
}

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

/* ---- cascade query --sql ------------------------------------------------------------------- */

/* fts3_tokenizer() is refused in --sql, one line, exit 2 (before: it printed the address
 * of a tokenizer module); the two-argument form is off on every connection db_open makes. */
TEST(cli_audit_query_sql_fts3_tokenizer)
{
    char db[512], cmd[2048], err[CASCADE_ERR_MAX], *o = NULL;
    db_fixture_fresh_path(db, sizeof db, "audit_fts3.db");
    struct db *d;
    REQUIRE_MSG(db_open(&d, db, DB_WRITE, err) == 0, "%s", err);
    db_close(d);
    static const char *const sql[] = {
        "SELECT fts3_tokenizer('simple')",
        "SELECT FTS3_TOKENIZER('mine', fts3_tokenizer('simple'))",
        "SELECT name FROM campaigns WHERE name = fts3_tokenizer('porter')",
    };
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s query --db %s --sql \"%s\"", test_cascade_bin(), db, sql[i]);
        int rc = test_run(cmd, &o);
        CHECK_MSG(rc == 2 && strstr(o, "may not call fts3_tokenizer()") && one_line(o) && !strstr(o, "X'"),
                  "%s: exit %d: %s", sql[i], rc, o);
        free(o);
    }
    /* other functions still work */
    snprintf(cmd, sizeof cmd, "%s query --db %s --sql \"SELECT upper('ok'), count(*) FROM campaigns\"",
             test_cascade_bin(), db);
    int rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "OK"), "exit %d: %s", rc, o);
    free(o);
    /* outside --sql (no authorizer), the registering form is off on the connection */
    REQUIRE_MSG(db_open(&d, db, DB_READ_ONLY, err) == 0, "%s", err);
    char *msg = NULL;
    int erc = sqlite3_exec(d->h, "SELECT fts3_tokenizer('mine', fts3_tokenizer('simple'))", NULL, NULL, &msg);
    CHECK_MSG(erc != SQLITE_OK && msg && strstr(msg, "disabled"), "rc %d: %s", erc, msg ? msg : "(no message)");
    sqlite3_free(msg);
    db_close(d);
}
