/* tests/test_audit.c — the defects of the audit of c065bda (issue "Nothing silently
 * wrong"), each with a test that failed before its fix: temporary files that follow
 * symlinks, foreign checkpoints, run caps, campaign names, long architecture strings,
 * keys that do nothing. */
#include "test.h"
#include "reports/report_internal.h"
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
