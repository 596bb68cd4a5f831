/* search/cmd_report.c — `cascade report --db FILE [--campaign NAME]... --out DIR/NAME.md`:
 * the Markdown report of a campaign, or of several compared, with its SVG plots beside it
 * (reports/report.h describes the files and their contents). Without --campaign the
 * database must hold exactly one campaign, which is reported; one of several is refused
 * with their names, as `cascade export` refuses it (picking the newest would report a
 * campaign the user may not mean, silently). The database is opened read-only, so a
 * campaign still writing it is not disturbed; DIR is created when missing.
 *
 * Exit status: 0 written; 1 the report could not be written; 2 bad usage, a database
 * that cannot be read (missing, not a database, corrupt, locked), a campaign that is not
 * in it, or several campaigns and no --campaign; errors are one line on stderr naming the
 * file. */
#include "search/cli.h"
#include "db/db.h"
#include "reports/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPORT_USAGE "report --db FILE [--campaign NAME]... --out DIR/NAME.md"

/* The campaigns' names in order of creation, for the refusal: each in quotes with any
 * control character as '?' (the error stays one line), as many as fit in the line. */
struct campaign_names { char list[CASCADE_ERR_MAX / 2]; size_t len; int n; char *first; };
static int collect_campaign(void *user, const struct db_row *row)
{
    struct campaign_names *cn = user;
    if (row->index < 0) return 0;
    const char *name = row->values[0] ? row->values[0] : "";
    if (cn->n++ == 0 && !(cn->first = strdup(name))) return 1;
    char quoted[160];
    int k = snprintf(quoted, sizeof quoted, "%s'%.120s'", cn->n > 1 ? ", " : "", name);
    for (int i = 0; i < k && i < (int)sizeof quoted - 1; i++)
        if ((unsigned char)quoted[i] < 0x20 || quoted[i] == 0x7F) quoted[i] = '?';
    size_t q = strlen(quoted);
    if (cn->len + q + 8 < sizeof cn->list) {
        memcpy(cn->list + cn->len, quoted, q + 1);
        cn->len += q;
    } else if (!strstr(cn->list, ", ...")) {
        snprintf(cn->list + cn->len, sizeof cn->list - cn->len, ", ...");
        cn->len = strlen(cn->list);
    }
    return 0;
}

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
    /* without --campaign: the database's only campaign (none: the error below) */
    struct campaign_names cn = { "", 0, 0, NULL };
    int rc = 0;
    if (n == 0) {
        if (db_query_sql(db, "SELECT name FROM campaigns ORDER BY id", collect_campaign, &cn, err) != 0) {
            rc = 2;
        } else if (cn.n > 0 && !cn.first) {
            snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", path);
            rc = 2;
        } else if (cn.n > 1) {
            snprintf(err, CASCADE_ERR_MAX, "%s: holds several campaigns (%s); name one or more with --campaign", path,
                     cn.list);
            rc = 2;
        } else if (cn.n == 1) {
            campaigns[n++] = cn.first;
        }
    }
    /* every campaign must exist: a bad name is bad input (2), found before writing anything */
    for (int k = 0; rc == 0 && k < (n > 0 ? n : 1); k++) {
        struct db_campaign c;
        if (db_campaign_get(db, n > 0 ? campaigns[k] : NULL, &c, err) != 0) rc = 2;
        else db_campaign_free(&c);
    }
    if (rc == 0 && host_mkdir_parent(out) != 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot create its directory: %s", out, strerror(errno));
        rc = 1;
    }
    if (rc == 0 && (rc = report_write(db, campaigns, n, out, err)) != 0) rc = rc == REPORT_ERR_DB ? 2 : 1;
    db_close(db);
    free(cn.first);
    if (rc != 0) { fprintf(stderr, "cascade report: %s\n", err); return rc; }
    printf("wrote %s (plots beside it)\n", out);
    return 0;
}
