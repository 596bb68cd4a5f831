/* search/cmd_report.c — `cascade report --db FILE [--campaign NAME]... --out DIR/NAME.md`:
 * the Markdown report of a campaign (the most recent one when no --campaign is given), or
 * of several compared, with its SVG plots beside it (reports/report.h describes the files
 * and their contents). The database is opened read-only, so a campaign still writing it
 * is not disturbed; DIR is created when missing.
 *
 * Exit status: 0 written; 1 the report could not be written; 2 bad usage, a database
 * that cannot be read (missing, not a database, corrupt, locked), or a campaign that is
 * not in it; errors are one line on stderr naming the file. */
#include "search/cli.h"
#include "db/db.h"
#include "reports/report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define REPORT_USAGE "report --db FILE [--campaign NAME]... --out DIR/NAME.md"

static int has_md_suffix(const char *s)
{
    size_t n = strlen(s);
    const char *base = strrchr(s, '/') ? strrchr(s, '/') + 1 : s;
    return n > 3 && strcmp(s + n - 3, ".md") == 0 && strlen(base) > 3;
}

int cmd_report(int argc, char **argv)
{
    const char *cmd = "report", *path = NULL, *out = NULL, *campaigns[REPORT_MAX_CAMPAIGNS];
    int n = 0, r;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((r = cli_opt(argc, argv, &i, cmd, "--db", &path))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--out", &out))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--campaign", &v))) {
            if (r < 0) return 2;
            if (n == REPORT_MAX_CAMPAIGNS) {
                fprintf(stderr, "cascade report: at most %d --campaign options\n", REPORT_MAX_CAMPAIGNS);
                return 2;
            }
            for (int k = 0; k < n; k++)
                if (strcmp(campaigns[k], v) == 0) {
                    fprintf(stderr, "cascade report: campaign '%s' is given twice\n", v);
                    return 2;
                }
            campaigns[n++] = v;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: cascade %s\n", REPORT_USAGE);
            return 0;
        }
        return cli_unknown(cmd, argv[i]);
    }
    if (!path || !out) { fprintf(stderr, "cascade report: --db FILE and --out DIR/NAME.md are required\n"); return 2; }
    if (!has_md_suffix(out)) {
        fprintf(stderr, "cascade report: --out: expected a Markdown file DIR/NAME.md, got '%s'\n", out);
        return 2;
    }
    char err[CASCADE_ERR_MAX];
    struct db *db;
    if (db_open(&db, path, DB_READ_ONLY, err) != 0) { fprintf(stderr, "cascade report: %s\n", err); return 2; }
    /* every campaign must exist: a bad name is bad input (2), found before writing anything */
    for (int k = 0; k < (n > 0 ? n : 1); k++) {
        struct db_campaign c;
        if (db_campaign_get(db, n > 0 ? campaigns[k] : NULL, &c, err) != 0) {
            fprintf(stderr, "cascade report: %s\n", err);
            db_close(db);
            return 2;
        }
        db_campaign_free(&c);
    }
    if (cli_mkdir_parent(out) != 0) {
        fprintf(stderr, "cascade report: %s: cannot create its directory: %s\n", out, strerror(errno));
        db_close(db);
        return 1;
    }
    int rc = report_write(db, campaigns, n, out, err);
    db_close(db);
    if (rc != 0) { fprintf(stderr, "cascade report: %s\n", err); return rc == REPORT_ERR_DB ? 2 : 1; }
    printf("wrote %s (plots beside it)\n", out);
    return 0;
}
