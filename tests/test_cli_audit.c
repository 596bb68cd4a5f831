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

/* ---- cascade export ----------------------------------------------------------------------- */

/* The absolute path of the binary, for commands run from another directory. */
static void abs_bin(char *out, size_t n)
{
    char *r = realpath(test_cascade_bin(), NULL);
    snprintf(out, n, "%s", r ? r : test_cascade_bin());
    free(r);
}

/* A small training config whose data.path is `data_path`, as the trainer resolves it:
 * the setup's train_config (every key) in *train_json, the model in *arch_json. */
static int small_config(const char *data_path, char **train_json, char **arch_json)
{
    char cfg[512], text[1024], err[CASCADE_ERR_MAX];
    test_tmppath(cfg, sizeof cfg, "audit_small.json");
    snprintf(text, sizeof text,
             "{\"data\": {\"path\": \"%s\", \"val_fraction\": 0.1},\n"
             " \"model\": {\"n_layer\": 2, \"n_embd\": 16, \"n_head\": 2, \"seq_len\": 16, \"attention\": [\"linear\", "
             "\"sd\"], \"layernorm\": false},\n"
             " \"train\": {\"steps\": 20, \"batch_size\": 4, \"log_every\": 10, \"eval_every\": 10, \"eval_batches\": 2, "
             "\"threads\": 1}}\n", data_path);
    struct train_config tc;
    if (test_write_text(cfg, text) != 0 || trainer_config_load(&tc, cfg, err) != 0) {
        fprintf(stderr, "small_config: %s\n", err);
        return -1;
    }
    *train_json = trainer_config_to_json(&tc);
    *arch_json = model_config_to_json(&tc.model);
    return *train_json && *arch_json ? 0 : -1;
}

/* A database (fresh at db_path) holding campaign "exp" with the setup `setup_json` and the
 * runs "best" (done), "waiting" (queued), "busy" (running), "broke" (failed), each with
 * the architecture arch_json. */
static int export_db(const char *db_path, const char *setup_json, const char *arch_json, char *err)
{
    struct db *db;
    int64_t cid, rid;
    int created;
    if (db_open(&db, db_path, DB_WRITE, err) != 0) return -1;
    int rc = db_campaign_begin(db, "exp", "{\"name\": \"exp\"}", "test", "host", &cid, err);
    if (rc == 0) rc = db_campaign_set_setup(db, cid, setup_json, err);
    static const char *const names[] = { "best", "waiting", "busy", "broke" };
    for (int i = 0; rc == 0 && i < 4; i++) {
        struct db_run r = { 0 };
        r.campaign_id = cid;
        snprintf(r.name, sizeof r.name, "%s", names[i]);
        r.role = DB_ROLE_CANDIDATE;
        r.arch = (char *)"L S | d 8,8";
        r.arch_json = (char *)arch_json;
        r.reason = (char *)"test";
        r.seq = i;
        rc = db_run_add(db, &r, &rid, &created, err);
        if (rc != 0) break;
        if (i == 0) {
            struct db_result res = { 0 };
            res.params_total = 1000;
            res.val_loss = 2.0;
            res.perplexity = 7.4;
            res.bits_per_byte = 2.9;
            rc = db_record_result(db, rid, &res, err);
        } else if (i == 2) {
            rc = db_run_set_status(db, rid, DB_RUNNING, NULL, err);
        } else if (i == 3) {
            rc = db_run_set_status(db, rid, DB_FAILED, "diverged at step 3", err);
        }
    }
    db_close(db);
    return rc;
}

/* The exported config's data.path ("" when none), in out. */
static void exported_data_path(const char *json_path, char *out, size_t n)
{
    out[0] = 0;
    char *text = test_read_file(json_path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"), "path");
    if (cJSON_IsString(p)) snprintf(out, n, "%s", p->valuestring);
    cJSON_Delete(j);
    free(text);
}

/* A campaign that ran in DIR on data.path "corpus.txt": exported from another directory,
 * data.path is DIR/corpus.txt (realpath), and `cascade train` reads it from anywhere
 * (before: "corpus.txt" was copied and the training failed, naming neither the config nor
 * data.path). */
TEST(cli_audit_export_relative_data_path)
{
    char dir[PATH_MAX], corpus[PATH_MAX + 16], db[512], out[512], bin[PATH_MAX], cmd[4096], err[CASCADE_ERR_MAX];
    char *train = NULL, *arch = NULL, *o = NULL;
    test_tmppath(dir, sizeof dir, "audit_campaign_dir");
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    REQUIRE(system(cmd) == 0);
    char *real_dir = realpath(dir, NULL);
    REQUIRE(real_dir);
    snprintf(dir, sizeof dir, "%s", real_dir);
    free(real_dir);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    char *t = malloc(30000);
    REQUIRE(t);
    for (int i = 0; i < 30000; i++) t[i] = "the jury said the county election was fair.\n"[i % 45];
    REQUIRE(test_write_file(corpus, t, 30000) == 0);
    free(t);
    REQUIRE(small_config("corpus.txt", &train, &arch) == 0);
    char *setup = malloc(strlen(train) + 2 * PATH_MAX);
    REQUIRE(setup);
    sprintf(setup, "{\"corpus_path\": \"corpus.txt\", \"cwd\": \"%s\", \"train_config\": %s}", dir, train);
    db_fixture_fresh_path(db, sizeof db, "audit_export_rel.db");
    REQUIRE_MSG(export_db(db, setup, arch, err) == 0, "%s", err);
    abs_bin(bin, sizeof bin);
    test_tmppath(out, sizeof out, "audit_rel/best.json");
    snprintf(cmd, sizeof cmd, "cd / && %s export --db %s --run best --out %s", bin, db, out);
    int rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "wrote"), "exit %d: %s", rc, o);
    free(o);
    char got[PATH_MAX];
    exported_data_path(out, got, sizeof got);
    CHECK_MSG(strcmp(got, corpus) == 0, "data.path '%s', expected '%s'", got, corpus);
    /* it trains from a directory that has no corpus.txt */
    snprintf(cmd, sizeof cmd, "cd / && %s train --config %s --steps 2", bin, out);
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "bits per byte"), "exit %d: %s", rc, o);
    free(o);

    /* the campaign's directory no longer has the file: still absolute, with a note */
    snprintf(cmd, sizeof cmd, "mv %s %s.gone", corpus, corpus);
    REQUIRE(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "cd / && %s export --db %s --run best --out %s --force", bin, db, out);
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "note: data.path 'corpus.txt'") && strstr(o, "no file is there now"), "exit %d: %s",
              rc, o);
    free(o);
    exported_data_path(out, got, sizeof got);
    CHECK_MSG(strcmp(got, corpus) == 0, "data.path '%s', expected '%s'", got, corpus);
    /* a training on it names the config and data.path */
    snprintf(cmd, sizeof cmd, "cd / && %s train --config %s --steps 2", bin, out);
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 2 && strstr(o, "best.json: data.path: ") && strstr(o, "corpus.txt: cannot open") && one_line(o),
              "exit %d: %s", rc, o);
    free(o);
    snprintf(cmd, sizeof cmd, "mv %s.gone %s", corpus, corpus);
    REQUIRE(system(cmd) == 0);

    /* a campaign recorded before "cwd": resolved against the current directory where the
     * file is there, with a note; else kept relative, with a note */
    sprintf(setup, "{\"corpus_path\": \"corpus.txt\", \"train_config\": %s}", train);
    db_fixture_fresh_path(db, sizeof db, "audit_export_nocwd.db");
    REQUIRE_MSG(export_db(db, setup, arch, err) == 0, "%s", err);
    snprintf(cmd, sizeof cmd, "cd %s && %s export --db %s --run best --out %s --force", dir, bin, db, out);
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "note: data.path 'corpus.txt'") && strstr(o, "resolved against the current one"),
              "exit %d: %s", rc, o);
    free(o);
    exported_data_path(out, got, sizeof got);
    CHECK_MSG(strcmp(got, corpus) == 0, "data.path '%s', expected '%s'", got, corpus);
    snprintf(cmd, sizeof cmd, "cd / && %s export --db %s --run best --out %s --force", bin, db, out);
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "note: data.path 'corpus.txt' stays relative"), "exit %d: %s", rc, o);
    free(o);
    exported_data_path(out, got, sizeof got);
    CHECK_MSG(strcmp(got, "corpus.txt") == 0, "data.path '%s'", got);
    free(setup);
    free(train);
    free(arch);
}

/* An existing --out is kept without --force (before: replaced silently); --out "" is a
 * one-line error with exit 2 (before: exit 1); a queued, running or failed run is refused
 * naming its status (before: exported). */
TEST(cli_audit_export_refusals)
{
    char db[512], out[512], cmd[2048], err[CASCADE_ERR_MAX], *train = NULL, *arch = NULL, *o = NULL;
    REQUIRE(small_config("/nonexistent/corpus.txt", &train, &arch) == 0);
    char *setup = malloc(strlen(train) + 64);
    REQUIRE(setup);
    sprintf(setup, "{\"train_config\": %s}", train);
    db_fixture_fresh_path(db, sizeof db, "audit_export_refuse.db");
    REQUIRE_MSG(export_db(db, setup, arch, err) == 0, "%s", err);
    free(setup);
    free(train);
    free(arch);
    test_tmppath(out, sizeof out, "audit_refuse.json");
    REQUIRE(test_write_text(out, "{\"edited\": \"by hand\"}\n") == 0);
    snprintf(cmd, sizeof cmd, "%s export --db %s --run best --out %s", test_cascade_bin(), db, out);
    int rc = test_run(cmd, &o);
    CHECK_MSG(rc == 2 && strstr(o, "audit_refuse.json exists") && strstr(o, "--force") && one_line(o), "exit %d: %s",
              rc, o);
    free(o);
    char *kept = test_read_file(out, NULL);
    CHECK_MSG(kept && strcmp(kept, "{\"edited\": \"by hand\"}\n") == 0, "%s", kept ? kept : "(gone)");
    free(kept);
    snprintf(cmd, sizeof cmd, "%s export --db %s --run best --out %s --force", test_cascade_bin(), db, out);
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "wrote"), "exit %d: %s", rc, o);
    free(o);
    kept = test_read_file(out, NULL);
    CHECK_MSG(kept && strstr(kept, "\"model\"") && strstr(kept, "/nonexistent/corpus.txt"), "%s", kept ? kept : "(gone)");
    free(kept);
    /* the usage names the flag */
    snprintf(cmd, sizeof cmd, "%s export --help", test_cascade_bin());
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "[--force]"), "exit %d: %s", rc, o);
    free(o);

    snprintf(cmd, sizeof cmd, "%s export --db %s --run best --out ''", test_cascade_bin(), db);
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 2 && strstr(o, "--out") && one_line(o), "exit %d: %s", rc, o);
    free(o);

    static const char *const runs[][2] = { { "waiting", "is queued" }, { "busy", "is running" }, { "broke", "is failed" } };
    for (int i = 0; i < 3; i++) {
        char fresh[512];
        test_tmppath(fresh, sizeof fresh, "audit_refuse_not_done.json");
        snprintf(cmd, sizeof cmd, "%s export --db %s --run %s --out %s", test_cascade_bin(), db, runs[i][0], fresh);
        rc = test_run(cmd, &o);
        CHECK_MSG(rc == 2 && strstr(o, runs[i][1]) && strstr(o, "only a done run") && one_line(o), "%s: exit %d: %s",
                  runs[i][0], rc, o);
        CHECK_MSG(access(fresh, F_OK) != 0, "%s: %s was written", runs[i][0], fresh);
        free(o);
    }
}

/* A database of schema version 1 recorded no architecture ("{}"): refused (before: wrote
 * {"model": {}}, the trainer's default model, and reported success). */
TEST(cli_audit_export_v1_no_architecture)
{
    char db[512], out[512], cmd[2048], *o = NULL;
    db_fixture_fresh_path(db, sizeof db, "audit_v1.db");
    REQUIRE(db_fixture_exec(db, db_fixture_schema_v1_sql) == 0);
    REQUIRE(db_fixture_exec(db,
        "INSERT INTO campaigns (id, name, config_json, status, started_at, finished_at, code_version, host) "
        "  VALUES (1, 'old', '{\"name\": \"old\"}', 'done', 1700000000.5, 1700000600.25, 'v1-abc', 'h1');"
        "INSERT INTO runs (id, campaign_id, name, role, status, seq, arch, arch_json, reason, retrain, seed, attempts, "
        "  started_at, finished_at, host, error) VALUES "
        "  (10, 1, 'probe', 'probe', 'done', 0, 'S S | d 16,16', '{}', 'reference', NULL, 7, 1, 1700000001, "
        "  1700000100, 'h1', NULL);") == 0);
    test_tmppath(out, sizeof out, "audit_v1.json");
    snprintf(cmd, sizeof cmd, "%s export --db %s --run probe --out %s", test_cascade_bin(), db, out);
    int rc = test_run(cmd, &o);
    CHECK_MSG(rc == 2 && strstr(o, "audit_v1.db") && strstr(o, "'probe' has no recorded architecture") && one_line(o),
              "exit %d: %s", rc, o);
    CHECK_MSG(access(out, F_OK) != 0, "%s was written", out);
    free(o);
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

/* End to end: a campaign run in DIR on data.path "corpus.txt" records DIR in its setup
 * ("cwd"), and its probe, exported and trained from another directory, reads
 * DIR/corpus.txt. */
TEST(cli_audit_export_campaign_from_its_directory)
{
    char dir[PATH_MAX], corpus[PATH_MAX + 16], cfg[PATH_MAX + 16], db[PATH_MAX + 16], out[PATH_MAX + 16];
    char bin[PATH_MAX], cmd[8192], *o = NULL;
    test_tmppath(dir, sizeof dir, "audit_e2e");
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    REQUIRE(system(cmd) == 0);
    char *real_dir = realpath(dir, NULL);
    REQUIRE(real_dir);
    snprintf(dir, sizeof dir, "%s", real_dir);
    free(real_dir);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    char *t = malloc(40000);
    REQUIRE(t);
    for (int i = 0; i < 40000; i++) t[i] = "the jury said the county election was fair and the city found money.\n"[i % 70];
    REQUIRE(test_write_file(corpus, t, 40000) == 0);
    free(t);
    snprintf(cfg, sizeof cfg, "%s/e2e.json", dir);
    REQUIRE(test_write_text(cfg,
        "{\"name\": \"e2e\", \"data\": {\"path\": \"corpus.txt\", \"val_fraction\": 0.1},\n"
        " \"model\": {\"n_layer\": 2, \"n_embd\": 16, \"n_head\": 2, \"seq_len\": 16},\n"
        " \"train\": {\"steps\": 10, \"batch_size\": 4, \"warmup_steps\": 2, \"log_every\": 5, \"eval_batches\": 2,\n"
        "           \"checkpoint_every\": 10, \"threads\": 1},\n"
        " \"search\": {\"linear_threshold\": 50, \"max_prefix\": 1, \"multipliers\": [0.5], \"replicates\": 1,\n"
        "            \"runs_dir\": \"runs\"}}\n") == 0);
    snprintf(db, sizeof db, "%s/e2e.db", dir);
    abs_bin(bin, sizeof bin);
    snprintf(cmd, sizeof cmd, "cd %s && %s search --config e2e.json --db e2e.db", dir, bin);
    int rc = test_run(cmd, &o);
    REQUIRE_MSG(rc == 0, "search: exit %d: %s", rc, o);
    free(o);
    snprintf(out, sizeof out, "%s/exported/probe.json", dir);
    snprintf(cmd, sizeof cmd, "cd / && %s export --db %s --run probe --out %s", bin, db, out);
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "wrote") && !strstr(o, "note:"), "export: exit %d: %s", rc, o);
    free(o);
    char got[PATH_MAX];
    exported_data_path(out, got, sizeof got);
    CHECK_MSG(strcmp(got, corpus) == 0, "data.path '%s', expected '%s'", got, corpus);
    snprintf(cmd, sizeof cmd, "cd / && %s train --config %s --steps 2", bin, out);
    rc = test_run(cmd, &o);
    CHECK_MSG(rc == 0 && strstr(o, "bits per byte"), "train: exit %d: %s", rc, o);
    free(o);
}

/* `cascade bench --quick` measures every shape and attention kind it lists: each row has a
 * positive tokens/s and the exit status is 0 (a shape whose model could not be built once
 * printed 0 tokens/s and exited 0). Figures are not compared with anything: speed is not
 * asserted by tests. */
TEST(cli_bench_quick_measures_every_row)
{
    char cmd[600], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s bench --quick --threads 1 2>&1", test_cascade_bin());
    int rc = test_run(cmd, &out);
    REQUIRE_MSG(rc == 0, "rc %d: %s", rc, out ? out : "");
    const char *rows[3] = { "tiny  (", "small (", "demo probe (" };
    for (int i = 0; i < 3; i++) {
        const char *at = strstr(out, rows[i]);
        CHECK_MSG(at != NULL, "no row %s", rows[i]);
        char line[200] = "";
        if (at) snprintf(line, sizeof line, "%.*s", (int)strcspn(at, "\n"), at);
        const char *p = strrchr(line, ')');   /* the figures follow the shape's "(...)" */
        double tps = p ? strtod(p + 1, NULL) : 0;
        CHECK_MSG(tps > 0, "%s: %.40s", rows[i], at ? at : "");
    }
    const char *kinds = strstr(out, "\n128 ");
    double a = 0, b = 0, c = 0;
    CHECK_MSG(kinds && sscanf(kinds, " 128 %lf %lf %lf", &a, &b, &c) == 3 && a > 0 && b > 0 && c > 0,
              "attention kinds row: %.80s", kinds ? kinds : "(none)");
    free(out);
}
