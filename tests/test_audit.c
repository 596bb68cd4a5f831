/* tests/test_audit.c — the defects of the audit of c065bda (issue "Nothing silently
 * wrong"), each with a test that failed before its fix: temporary files that follow
 * symlinks, foreign checkpoints, run caps, campaign names, long architecture strings,
 * keys that do nothing. */
#include "test.h"
#include "reports/report_internal.h"
#include "db/db.h"
#include "search/campaign.h"
#include "trainer/trainer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes a file through each atomic writer with a symlink planted at the old fixed
 * temporary name FILE.tmp: the symlink's target must stay as it was. */
TEST(audit_temp_files_never_follow_a_planted_symlink)
{
    char victim[512], ck[512], link[600], report[512], err[CASCADE_ERR_MAX];
    test_tmppath(victim, sizeof victim, "audit_victim.txt");
    REQUIRE(test_write_text(victim, "precious\n") == 0);

    /* a checkpoint */
    test_tmppath(ck, sizeof ck, "audit_symlink.safetensors");
    snprintf(link, sizeof link, "%s.tmp", ck);
    REQUIRE(symlink(victim, link) == 0);
    struct model_config mc;
    char cfg[] = "{\"vocab_size\": 16, \"seq_len\": 4, \"n_layer\": 1, \"n_head\": 1, \"n_embd\": 4}";
    REQUIRE_MSG(model_config_from_json_string(&mc, cfg, "test", err) == 0, "%s", err);
    struct model m;
    REQUIRE_MSG(model_init(&m, &mc, 1, err) == 0, "%s", err);
    CHECK_MSG(checkpoint_save(ck, &m, NULL, NULL, err) == 0, "%s", err);
    model_free(&m);
    struct model back;
    CHECK_MSG(checkpoint_load(ck, &back, NULL, NULL, err) == 0, "%s", err);
    model_free(&back);

    /* a report */
    test_tmppath(report, sizeof report, "audit_symlink.md");
    snprintf(link, sizeof link, "%s.tmp", report);
    REQUIRE(symlink(victim, link) == 0);
    struct report_buf b = { 0 };
    report_buf_puts(&b, "# report\n");
    CHECK_MSG(report_buf_save(&b, report, err) == 0, "%s", err);
    report_buf_free(&b);

    char *v = test_read_file(victim, NULL);
    CHECK_MSG(v && strcmp(v, "precious\n") == 0, "the symlink's target was overwritten: '%s'", v ? v : "(gone)");
    free(v);
    char *r = test_read_file(report, NULL);
    CHECK(r && strcmp(r, "# report\n") == 0);
    free(r);
    /* nothing left behind but the planted links */
    char cmd[700], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls %s | grep -c 'audit_symlink.*\\.' ", test_tmpdir());
    test_run(cmd, &out);
    CHECK_MSG(out && atoi(out) == 4, "files named audit_symlink.*: %s", out ? out : "");
    free(out);
}

/* Writes a campaign config whose top level is `name_json` and whose search section is
 * `search` and loads it; returns campaign_config_load's status, err its message. */
static int load_campaign(const char *name_json, const char *search, char *err)
{
    char path[512], text[2048];
    test_tmppath(path, sizeof path, "audit_campaign.json");
    snprintf(text, sizeof text,
             "{\"name\": %s, \"data\": {\"path\": \"x.txt\"},\n"
             " \"model\": {\"n_layer\": 2, \"n_embd\": 16, \"n_head\": 2, \"seq_len\": 16},\n"
             " \"search\": {%s}}\n", name_json, search);
    if (test_write_text(path, text) != 0) return -2;
    struct campaign_config cc;
    int rc = campaign_config_load(&cc, path, err);
    if (rc == 0) campaign_config_free(&cc);
    return rc;
}

/* ".." as a campaign name put every checkpoint beside search.runs_dir. */
TEST(audit_campaign_names_of_dots_are_refused)
{
    char err[CASCADE_ERR_MAX];
    const char *bad[] = { "\".\"", "\"..\"", "\"...\"", "\".hidden\"" };
    for (int i = 0; i < 4; i++) {
        err[0] = 0;
        CHECK_MSG(load_campaign(bad[i], "", err) == -1 && strstr(err, "audit_campaign.json: name:") &&
                  strstr(err, "may not start with '.'"), "%s: %s", bad[i], err);
    }
    CHECK_MSG(load_campaign("\"a.b-c_1\"", "", err) == 0, "%s", err);
}

/* Keys that do nothing in the campaign they are given in are refused, naming the key. */
TEST(audit_campaign_keys_without_effect_are_refused)
{
    char err[CASCADE_ERR_MAX];
    const char *rounds_only[] = { "\"objective\": \"flops_per_token\"", "\"max_rounds\": 2", "\"per_round\": 2" };
    const char *keys[] = { "search.objective", "search.max_rounds", "search.per_round" };
    for (int i = 0; i < 3; i++) {
        err[0] = 0;
        CHECK_MSG(load_campaign("\"k\"", rounds_only[i], err) == -1 && strstr(err, keys[i]) &&
                  strstr(err, "no effect without search.budget_ppl_pct"), "%s: %s", keys[i], err);
        char with[256];
        snprintf(with, sizeof with, "%s, \"budget_ppl_pct\": 5, \"retrain\": \"inherit\"", rounds_only[i]);
        CHECK_MSG(load_campaign("\"k\"", with, err) == 0, "%s", err);
    }
    /* head dim 8 (16 / 2): a minimum of 8 leaves no cut */
    CHECK_MSG(load_campaign("\"k\"", "\"head_dim_min\": 8", err) == -1 && strstr(err, "search.head_dim_min: 8 leaves no cut"),
              "%s", err);
    CHECK_MSG(load_campaign("\"k\"", "\"head_dim_min\": 4", err) == 0, "%s", err);
}

/* Two 64-layer models that differ only in the last layer's head dim read differently in
 * the arch string and in the database (before, both were cut at 255 bytes). */
TEST(audit_arch_strings_are_whole)
{
    struct model_config a = { 0 };
    a.n_layer = TRAINER_MAX_LAYERS;
    a.layernorm = 1;
    for (int l = 0; l < a.n_layer; l++) a.layers[l] = (struct layer_arch){ ATTN_SD, 16384, 16384 };
    struct model_config b = a;
    layer_arch_set_head_dim(&b.layers[TRAINER_MAX_LAYERS - 1], 16383);
    char sa[CAMPAIGN_ARCH_MAX], sb[CAMPAIGN_ARCH_MAX];
    campaign_arch_string(sa, sizeof sa, &a);
    campaign_arch_string(sb, sizeof sb, &b);
    size_t n = strlen(sa);
    CHECK_MSG(n + 1 < sizeof sa && n > 255 && strstr(sa, ",16384 | LN"), "%zu: %s", n, sa);
    CHECK(strcmp(sa, sb) != 0);

    char path[512], err[CASCADE_ERR_MAX];
    test_tmppath(path, sizeof path, "audit_arch.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    int64_t cid, rid;
    int created;
    REQUIRE_MSG(db_campaign_begin(db, "arch", "{}", "v", "h", &cid, err) == 0, "%s", err);
    const char *archs[2] = { sa, sb }, *names[2] = { "a", "b" };
    for (int i = 0; i < 2; i++) {
        struct db_run r;
        memset(&r, 0, sizeof r);
        r.campaign_id = cid;
        snprintf(r.name, sizeof r.name, "%s", names[i]);
        r.role = DB_ROLE_CANDIDATE;
        r.seq = i;
        r.arch = (char *)archs[i];
        REQUIRE_MSG(db_run_add(db, &r, &rid, &created, err) == 0, "%s", err);
    }
    struct db_run *rows;
    int nr;
    REQUIRE_MSG(db_runs_list(db, cid, &rows, &nr, err) == 0, "%s", err);
    CHECK(nr == 2 && strcmp(rows[0].arch, sa) == 0 && strcmp(rows[1].arch, sb) == 0);
    db_runs_free(rows, nr);
    db_close(db);
}

/* The data's identity in checkpoints: the same tokens split alike give one digest wherever
 * the file lives; other tokens or another split, another digest. */
TEST(audit_data_digest_is_the_data_not_the_path)
{
    char a[512], b[512], c[512], err[CASCADE_ERR_MAX];
    test_tmppath(a, sizeof a, "audit_data_a.txt");
    test_tmppath(b, sizeof b, "audit_data_b.txt");
    test_tmppath(c, sizeof c, "audit_data_c.txt");
    char text[4000];
    for (int i = 0; i < (int)sizeof text - 1; i++) text[i] = (char)('a' + (i * 7) % 26);
    text[sizeof text - 1] = 0;
    REQUIRE(test_write_text(a, text) == 0 && test_write_text(b, text) == 0);
    text[100] = '!';
    REQUIRE(test_write_text(c, text) == 0);
    struct dataset da, db_, dc, dsplit;
    REQUIRE_MSG(data_load(&da, a, 256, 0.1, err) == 0, "%s", err);
    REQUIRE_MSG(data_load(&db_, b, 256, 0.1, err) == 0, "%s", err);
    REQUIRE_MSG(data_load(&dc, c, 256, 0.1, err) == 0, "%s", err);
    REQUIRE_MSG(data_load(&dsplit, a, 256, 0.2, err) == 0, "%s", err);
    CHECK(da.digest != 0 && da.digest == db_.digest);
    CHECK(da.digest != dc.digest && da.digest != dsplit.digest);
    data_free(&da);
    data_free(&db_);
    data_free(&dc);
    data_free(&dsplit);
}

/* Every "schema version N" / "the schema (version N" in the docs is the version db/ writes. */
TEST(audit_docs_name_the_schema_version)
{
    const char *files[] = { "db/schema.sql", "README.md", "docs/reference.md", "docs/formats.md" };
    int seen = 0;
    for (int f = 0; f < 4; f++) {
        char *text = test_read_file(files[f], NULL);
        if (!text) continue;
        const char *pats[] = { "schema version ", "the schema (version " };
        for (int p = 0; p < 2; p++) {
            for (const char *at = strstr(text, pats[p]); at; at = strstr(at + 1, pats[p])) {
                const char *num = at + strlen(pats[p]);
                if (*num < '0' || *num > '9') continue;
                seen++;
                CHECK_MSG(atoi(num) == DB_SCHEMA_VERSION, "%s says %.40s (the schema is version %d)", files[f], at,
                          DB_SCHEMA_VERSION);
            }
        }
        free(text);
    }
    CHECK(seen >= 2);
}

/* The campaign library (search/controller.c and the parts it drives) does not depend on
 * the command line: only the CLI's own files include search/cli.h. */
TEST(layout_the_library_does_not_include_the_cli)
{
    char *out = NULL;
    test_run("grep -l '#include \"search/cli.h\"' search/*.c | grep -v -E '^search/(cmd_[a-z_]*|cli|main|bench)\\.c$'",
             &out);
    CHECK_MSG(out && out[0] == 0, "files of the library that include search/cli.h: %s", out ? out : "?");
    free(out);
    char *c = test_read_file("search/controller.c", NULL);
    REQUIRE(c);
    CHECK(!strstr(c, "search/cli.h") && !strstr(c, "cli_"));
    free(c);
}
