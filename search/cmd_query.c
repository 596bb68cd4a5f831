/* search/cmd_query.c — `cascade query`: reads a results database (db/schema.sql) and
 * prints a named query (db_query_names(): campaigns, runs, results, ..., rounds) or the
 * rows of one read-only SQL statement, as an aligned table, CSV or JSON.
 *
 * Output formats:
 *   table  a header, a rule of dashes, one line per row; columns two spaces apart, numbers
 *          right-aligned, reals rounded to 6 significant digits for reading, NULL blank.
 *   csv    RFC 4180: a header line, CRLF line ends, fields with a comma, a quote or a line
 *          break in double quotes (quotes doubled); NULL is an empty field. Values exact.
 *   json   an array of objects, one per row, keys in column order; numbers as numbers
 *          (exact), NULL and non-finite numbers as null.
 * The database is opened read-only (DB_READ_ONLY), so a campaign writing it is not
 * disturbed, and --sql refuses statements that would write. */
#include "search/cli.h"
#include "db/db.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_USAGE "query --db FILE (campaigns|runs|results|pareto|cascade|noise|controls|rounds) [--campaign NAME] " \
                    "[--format table|csv|json] | query --db FILE --sql \"SELECT ...\" [--format ...]"

/* The rows of a query, kept to size the table's columns. */
struct rows {
    int ncols, nrows, cap;
    char **names;          /* (ncols) */
    char **cells;          /* (nrows * ncols), NULL for SQL NULL */
    enum db_type *types;   /* (nrows * ncols) */
    int oom;
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int collect_row(void *user, const struct db_row *row)
{
    struct rows *r = user;
    int nc = row->ncols;
    if (row->index < 0) {
        r->ncols = nc;
        r->names = calloc((size_t)nc + 1, sizeof *r->names);
        if (!r->names) { r->oom = 1; return 1; }
        for (int i = 0; i < nc; i++)
            if (!(r->names[i] = strdup(row->names[i]))) { r->oom = 1; return 1; }
        return 0;
    }
    if (r->nrows == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        char **cells = realloc(r->cells, (size_t)cap * nc * sizeof *cells);
        if (cells) r->cells = cells;
        enum db_type *types = realloc(r->types, (size_t)cap * nc * sizeof *types);
        if (types) r->types = types;
        if (!cells || !types) { r->oom = 1; return 1; }
        r->cap = cap;
    }
    char **cells = r->cells + (size_t)r->nrows * nc;
    for (int i = 0; i < nc; i++) {
        cells[i] = dup_or_null(row->values[i]);
        r->types[(size_t)r->nrows * nc + i] = row->types[i];
        if (row->values[i] && !cells[i]) r->oom = 1;
    }
    r->nrows++;
    return r->oom;
}

static void rows_free(struct rows *r)
{
    for (int i = 0; r->names && i < r->ncols; i++) free(r->names[i]);
    for (size_t i = 0; r->cells && i < (size_t)r->nrows * r->ncols; i++) free(r->cells[i]);
    free(r->names);
    free(r->cells);
    free(r->types);
}

/* ---- table --------------------------------------------------------------------------- */

/* Characters on screen: UTF-8 code points. */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* A real for reading: 6 significant digits, whole numbers of 1e6 and more in full. */
static void table_real(char *out, size_t n, const char *text)
{
    double x = strtod(text, NULL);
    if (!isfinite(x)) snprintf(out, n, "%s", text);
    else if (fabs(x) >= 1e6 && fabs(x) < 1e15) snprintf(out, n, "%.0f", x);
    else snprintf(out, n, "%.6g", x);
}

/* The cell as the table shows it (buf for reals). */
static const char *table_cell(const struct rows *r, int row, int col, char *buf, size_t n)
{
    size_t k = (size_t)row * r->ncols + col;
    const char *v = r->cells[k];
    if (!v) return "";
    if (r->types[k] == DB_TYPE_REAL) { table_real(buf, n, v); return buf; }
    return v;
}

/* One line: cells[0..nc) padded to their columns; blank cells at the end are left out, so
 * no line ends in spaces. */
static void print_line(const char **cells, const int *width, const int *right, int nc)
{
    int end = nc - 1;
    while (end > 0 && !cells[end][0]) end--;
    for (int c = 0; c <= end; c++) {
        int pad = width[c] - text_width(cells[c]);
        if (pad < 0) pad = 0;
        if (right[c]) printf("%*s%s", pad, "", cells[c]);
        else if (c == end) fputs(cells[c], stdout);
        else printf("%s%*s", cells[c], pad, "");
        fputs(c == end ? "\n" : "  ", stdout);
    }
}

static void print_table(const struct rows *r)
{
    int nc = r->ncols;
    int *width = calloc((size_t)nc + 1, sizeof *width), *right = calloc((size_t)nc + 1, sizeof *right);
    const char **line = calloc((size_t)nc + 1, sizeof *line);
    char (*bufs)[64] = calloc((size_t)nc + 1, sizeof *bufs);
    if (!width || !right || !line || !bufs) goto out;
    for (int c = 0; c < nc; c++) {
        width[c] = text_width(r->names[c]);
        int numbers = 0, others = 0;
        for (int i = 0; i < r->nrows; i++) {
            enum db_type t = r->types[(size_t)i * nc + c];
            numbers += t == DB_TYPE_INTEGER || t == DB_TYPE_REAL;
            others += t == DB_TYPE_TEXT || t == DB_TYPE_BLOB;
            int w = text_width(table_cell(r, i, c, bufs[0], sizeof bufs[0]));
            if (w > width[c]) width[c] = w;
        }
        right[c] = numbers > 0 && others == 0;
    }
    print_line((const char **)r->names, width, right, nc);
    for (int c = 0; c < nc; c++) {
        for (int k = 0; k < width[c]; k++) putchar('-');
        fputs(c == nc - 1 ? "\n" : "  ", stdout);
    }
    for (int i = 0; i < r->nrows; i++) {
        for (int c = 0; c < nc; c++) line[c] = table_cell(r, i, c, bufs[c], sizeof bufs[c]);
        print_line(line, width, right, nc);
    }
out:
    free(width);
    free(right);
    free(line);
    free(bufs);
}

/* ---- csv and json -------------------------------------------------------------------- */

static void print_csv_field(const char *s, int last)
{
    if (s && strpbrk(s, ",\"\r\n")) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"') putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else if (s) {
        fputs(s, stdout);
    }
    fputs(last ? "\r\n" : ",", stdout);
}

static void print_csv(const struct rows *r)
{
    for (int c = 0; c < r->ncols; c++) print_csv_field(r->names[c], c == r->ncols - 1);
    for (int i = 0; i < r->nrows; i++)
        for (int c = 0; c < r->ncols; c++)
            print_csv_field(r->cells[(size_t)i * r->ncols + c], c == r->ncols - 1);
}

static cJSON *json_value(const char *v, enum db_type t)
{
    if (!v) return cJSON_CreateNull();
    if (t == DB_TYPE_INTEGER) return cJSON_CreateRaw(v);
    if (t == DB_TYPE_REAL) return isfinite(strtod(v, NULL)) ? cJSON_CreateRaw(v) : cJSON_CreateNull();
    return cJSON_CreateString(v);
}

static int print_json(const struct rows *r)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < r->nrows; i++) {
        cJSON *obj = cJSON_CreateObject();
        if (!obj) { cJSON_Delete(arr); return -1; }
        cJSON_AddItemToArray(arr, obj);
        for (int c = 0; c < r->ncols; c++) {
            size_t k = (size_t)i * r->ncols + c;
            cJSON *v = json_value(r->cells[k], r->types[k]);
            if (!v) { cJSON_Delete(arr); return -1; }
            cJSON_AddItemToObject(obj, r->names[c], v);
        }
    }
    char *s = arr ? cJSON_Print(arr) : NULL;
    cJSON_Delete(arr);
    if (!s) return -1;
    puts(s);
    free(s);
    return 0;
}

/* ---- the command --------------------------------------------------------------------- */

/* One of db_query_names(), the database module's list ("campaigns, runs, ..."). */
static int is_named_query(const char *s)
{
    const char *names = db_query_names();
    size_t n = strlen(s);
    for (const char *p = strstr(names, s); n && p; p = strstr(p + 1, s))
        if ((p == names || p[-1] == ' ') && (p[n] == ',' || p[n] == 0)) return 1;
    return 0;
}

static int print_rows(const struct rows *r, const char *format)
{
    if (strcmp(format, "json") == 0) return print_json(r);
    if (strcmp(format, "csv") == 0) print_csv(r);
    else print_table(r);
    return 0;
}

int cli_print_sql(const char *db_path, const char *sql, const char *format, char *err)
{
    struct db *db;
    if (db_open(&db, db_path, DB_READ_ONLY, err) != 0) return -1;
    struct rows rows = { 0 };
    int rc = db_query_sql(db, sql, collect_row, &rows, err);
    db_close(db);
    if (rc == 0 && rows.oom) { rc = -1; snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", db_path); }
    if (rc == 0 && print_rows(&rows, format) != 0) { rc = -1; snprintf(err, CASCADE_ERR_MAX, "out of memory"); }
    rows_free(&rows);
    return rc;
}

int cmd_query(int argc, char **argv)
{
    const char *cmd = "query", *path = NULL, *campaign = NULL, *format = "table", *sql = NULL, *query = NULL;
    int r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(argc, argv, &i, cmd, "--db", &path))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--campaign", &campaign))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--format", &format))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--sql", &sql))) { if (r < 0) return 2; continue; }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: cascade %s\n", QUERY_USAGE);
            return 0;
        }
        if (argv[i][0] == '-') return cli_unknown(cmd, argv[i]);
        if (query) { fprintf(stderr, "cascade query: give one query name (got '%s' and '%s')\n", query, argv[i]); return 2; }
        if (!is_named_query(argv[i])) {
            fprintf(stderr, "cascade query: unknown query '%s' (%s)\n", argv[i], db_query_names());
            return 2;
        }
        query = argv[i];
    }
    if (!path) { fprintf(stderr, "cascade query: --db FILE is required\n"); return 2; }
    if (!query == !sql) {
        if (sql) fprintf(stderr, "cascade query: give either a query name or --sql, not both\n");
        else fprintf(stderr, "cascade query: name a query (%s) or give --sql\n", db_query_names());
        return 2;
    }
    if (sql && campaign) { fprintf(stderr, "cascade query: --campaign applies to named queries, not --sql\n"); return 2; }
    if (strcmp(format, "table") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        fprintf(stderr, "cascade query: --format: expected table, csv or json, got '%s'\n", format);
        return 2;
    }
    char err[CASCADE_ERR_MAX];
    struct db *db;
    if (db_open(&db, path, DB_READ_ONLY, err) != 0) { fprintf(stderr, "cascade query: %s\n", err); return 2; }
    struct rows rows = { 0 };
    int rc = sql ? db_query_sql(db, sql, collect_row, &rows, err)
                 : db_query_named(db, query, campaign, collect_row, &rows, err);
    db_close(db);
    if (rows.oom) { rc = -1; snprintf(err, sizeof err, "%s: out of memory", path); }
    if (rc != 0) {
        fprintf(stderr, "cascade query: %s\n", err);
        rows_free(&rows);
        return 2;
    }
    rc = print_rows(&rows, format);
    rows_free(&rows);
    if (rc != 0 || fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "cascade query: %s\n", rc ? "out of memory" : "cannot write the output");
        return 1;
    }
    return 0;
}
