/* tests/test_report_audit.c — the report against findings of an audit.
 *
 * #11: `cascade report` without --campaign refuses a database of several campaigns, as
 * `cascade export` does, naming them on one line.
 *
 * The databases are made here through db/db.h; tests/test_report.c holds the report's
 * checks against ordinary rows. */
#include "test.h"
#include "tests/db_fixture.h"
#include "db/db.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- #11: several campaigns and no --campaign ----------------------------------------------- */

static int report_cli(const char *db, const char *extra, const char *out_md, char **out)
{
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "%s report --db '%s' %s --out '%s'", test_cascade_bin(), db, extra, out_md);
    return test_run(cmd, out);
}

TEST(report_audit_cli_several_campaigns_need_campaign)
{
    char path[600], one[600], md[600], err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, sizeof path, "several.db");
    db_fixture_fresh_path(one, sizeof one, "single.db");
    struct db *db;
    int64_t id;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    int ok = db_campaign_begin(db, "first", "{}", "v", "h", &id, err) == 0 &&
             db_campaign_begin(db, "sec\nond", "{}", "v", "h", &id, err) == 0 &&
             db_campaign_begin(db, "third", "{}", "v", "h", &id, err) == 0;
    db_close(db);
    REQUIRE_MSG(ok, "%s", err);
    REQUIRE_MSG(db_open(&db, one, DB_WRITE, err) == 0, "%s", err);
    ok = db_campaign_begin(db, "only", "{}", "v", "h", &id, err) == 0;
    db_close(db);
    REQUIRE_MSG(ok, "%s", err);

    /* several: refused, one line naming each, nothing written */
    test_tmppath(md, sizeof md, "several/r.md");
    char *out = NULL;
    int rc = report_cli(path, "", md, &out);
    CHECK_MSG(rc == 2, "exit %d: %s", rc, out ? out : "");
    CHECK_MSG(out && strstr(out, "cascade report: ") == out && strstr(out, "holds several campaigns") &&
              strstr(out, "'first'") && strstr(out, "'sec?ond'") && strstr(out, "'third'") && strstr(out, "--campaign") &&
              strchr(out, '\n') == out + strlen(out) - 1, "got '%s'", out ? out : "");
    free(out);
    CHECK(access(md, F_OK) != 0);
    /* naming one, or several, goes on */
    rc = report_cli(path, "--campaign third", md, &out);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out ? out : "");
    free(out);
    char *text = test_read_file(md, NULL);
    CHECK(text && strstr(text, "# Cascade report: campaign `third`\n"));
    free(text);
    /* a single campaign: as before, without --campaign */
    test_tmppath(md, sizeof md, "single/r.md");
    rc = report_cli(one, "", md, &out);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out ? out : "");
    free(out);
    text = test_read_file(md, NULL);
    CHECK(text && strstr(text, "# Cascade report: campaign `only`\n") && strstr(text, " --campaign only --out "));
    free(text);
}
