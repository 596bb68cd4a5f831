/* db/query.c — reading the database for `cascade query` and reports: the named queries
 * (campaigns, runs, results, pareto, cascade, noise, controls: SELECTs over the views of
 * db/schema.sql)
 * and arbitrary read-only SQL. Rows go to a callback as text (and types); nothing here
 * formats tables. */
#include "db/db_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The named queries. ?1 is the campaign's id (NULL: all campaigns, "campaigns" only). */
static const struct {
    const char *name;
    int all_campaigns;   /* without a campaign name: every campaign (else the most recent) */
    const char *sql;
    int since;           /* the schema version that added its view (0: every version has it) */
} named_queries[] = {
    { "campaigns", 1,
      "SELECT campaign, status, runs, done, failed, started_utc, finished_utc, code_version, host "
      "FROM v_campaigns WHERE ?1 IS NULL OR campaign_id = ?1 ORDER BY campaign_id" },
    { "runs", 0,
      "SELECT seq, run, role, status, arch, retrain, seed, attempts, started_utc, finished_utc, host, "
      "error, reason FROM v_runs WHERE campaign_id = ?1 ORDER BY seq, run_id" },
    { "results", 0,
      "SELECT run, role, status, arch, params_total, params_attention, params_saved_pct, "
      "attention_saved_pct, val_loss, perplexity, bits_per_byte, delta_ppl_pct, tokens_per_s, "
      "flops_per_token, wall_s, seed, pareto, error, reason "
      "FROM v_results WHERE campaign_id = ?1 ORDER BY seq, run_id" },
    { "pareto", 0,
      "SELECT run, role, arch, params_attention, attention_saved_pct, perplexity, delta_ppl_pct "
      "FROM v_pareto WHERE campaign_id = ?1 ORDER BY params_attention, perplexity, seq" },
    { "cascade", 0,
      "SELECT run, role, level, layer, routing_erank_mean, routing_erank_min, routing_erank_max, "
      "routing_fraction_mean, filtering_erank_mean, cascade_spearman "
      "FROM v_cascade WHERE campaign_id = ?1 AND role IN ('probe', 'baseline') "
      "ORDER BY seq, run_id, level = 'realised', layer" },
    { "noise", 0,
      "SELECT reference, n, ppl_mean, ppl_sd, ppl_min, ppl_max, noise_pct "
      "FROM v_noise WHERE campaign_id = ?1 ORDER BY seq, run_id", 3 },
    { "controls", 0,
      "SELECT candidate, control, control_kind, candidate_params_attention, control_params_attention, "
      "size_diff_pct, candidate_ppl, control_ppl, gap_pct, noise_pct, verdict "
      "FROM v_controls WHERE campaign_id = ?1 ORDER BY candidate_seq, candidate_run_id, control_seq, control_run_id", 3 },
    { "rounds", 0,
      "SELECT round, incumbent, arch, objective, value, params_attention, attention_saved_pct, perplexity, "
      "delta_ppl_pct, final FROM v_rounds WHERE campaign_id = ?1 ORDER BY round", 4 },
};
#define N_NAMED (int)(sizeof named_queries / sizeof named_queries[0])

const char *db_query_names(void) { return "campaigns, runs, results, pareto, cascade, noise, controls, rounds"; }

/* ---- rows to text ---------------------------------------------------------------------- */

/* The shortest "%.Ng" that reads back to x, with ".0" when it looks like an integer. */
static void format_real(char *out, size_t n, double x)
{
    if (isinf(x)) { snprintf(out, n, "%s", x > 0 ? "Inf" : "-Inf"); return; }
    for (int p = 15; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, x);
        if (strtod(out, NULL) == x) break;
    }
    if (!strpbrk(out, ".en")) {
        size_t k = strlen(out);
        if (k + 2 < n) memcpy(out + k, ".0", 3);
    }
}

static char *format_blob(const unsigned char *b, int len)
{
    char *s = malloc(2 * (size_t)len + 4);
    if (!s) return NULL;
    s[0] = 'X';
    s[1] = '\'';
    for (int i = 0; i < len; i++) snprintf(s + 2 + 2 * i, 3, "%02X", b[i]);
    memcpy(s + 2 + 2 * (size_t)len, "'", 2);
    return s;
}

/* Steps st to the end, giving fn the header and then each row. */
static int deliver_rows(struct db *db, sqlite3_stmt *st, db_rows_fn fn, void *user, char *err)
{
    int nc = sqlite3_column_count(st);
    char **names = calloc((size_t)nc + 1, sizeof *names);
    char **values = calloc((size_t)nc + 1, sizeof *values);
    char (*nums)[40] = calloc((size_t)nc + 1, sizeof *nums);
    unsigned char *is_blob = calloc((size_t)nc + 1, 1);
    enum db_type *types = calloc((size_t)nc + 1, sizeof *types);
    int rc = -1, step = SQLITE_DONE;
    if (!names || !values || !nums || !is_blob || !types) {
        snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", db->path);
        goto out;
    }
    for (int i = 0; i < nc; i++) {   /* copied: a re-prepare by sqlite3_step may move them */
        names[i] = strdup(sqlite3_column_name(st, i) ? sqlite3_column_name(st, i) : "?");
        if (!names[i]) { snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", db->path); goto out; }
    }
    struct db_row row = { nc, names, NULL, NULL, -1 };
    int stop = fn(user, &row);
    row.values = values;
    row.types = types;
    while (!stop && (step = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < nc; i++) {
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                types[i] = DB_TYPE_INTEGER;
                snprintf(nums[i], sizeof nums[i], "%lld", (long long)sqlite3_column_int64(st, i));
                values[i] = nums[i];
                break;
            case SQLITE_FLOAT:
                types[i] = DB_TYPE_REAL;
                format_real(nums[i], sizeof nums[i], sqlite3_column_double(st, i));
                values[i] = nums[i];
                break;
            case SQLITE_TEXT:
                types[i] = DB_TYPE_TEXT;
                values[i] = (char *)sqlite3_column_text(st, i);
                break;
            case SQLITE_BLOB:
                types[i] = DB_TYPE_BLOB;
                values[i] = format_blob(sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i));
                is_blob[i] = 1;
                break;
            default:
                types[i] = DB_TYPE_NULL;
                values[i] = NULL;
            }
        }
        row.index++;
        stop = fn(user, &row);
        for (int i = 0; i < nc; i++)
            if (is_blob[i]) { free(values[i]); is_blob[i] = 0; }
    }
    if (stop || step == SQLITE_DONE) rc = 0;
    else db_fail(db, "running the query", err);
out:
    for (int i = 0; names && i < nc; i++) free(names[i]);
    free(names);
    free(values);
    free(nums);
    free(is_blob);
    free(types);
    return rc;
}

/* ---- named queries --------------------------------------------------------------------- */

/* The id of the campaign `name` (NULL: the most recent one). */
static int find_campaign(struct db *db, const char *name, int64_t *id, char *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, &st, "SELECT id FROM campaigns WHERE ?1 IS NULL OR name = ?1 "
                   "ORDER BY started_at DESC, id DESC LIMIT 1", err) != 0)
        return -1;
    if (name) sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc != SQLITE_DONE) return db_fail(db, "looking up the campaign", err);
    if (name) snprintf(err, CASCADE_ERR_MAX, "%s: no campaign named '%s'", db->path, name);
    else snprintf(err, CASCADE_ERR_MAX, "%s: no campaign yet", db->path);
    return -1;
}

int db_query_named(struct db *db, const char *query, const char *campaign, db_rows_fn fn,
                   void *user, char *err)
{
    int q = 0;
    while (q < N_NAMED && (!query || strcmp(query, named_queries[q].name) != 0)) q++;
    if (q == N_NAMED) {
        snprintf(err, CASCADE_ERR_MAX, "unknown query '%s' (%s)", query ? query : "(null)", db_query_names());
        return -1;
    }
    if (db->version < named_queries[q].since) {
        snprintf(err, CASCADE_ERR_MAX, "%s: query '%s' needs schema version %d; the file is version %d (a campaign "
                 "resumed on it migrates it)", db->path, query, named_queries[q].since, db->version);
        return -1;
    }
    int64_t id = 0;
    int all = !campaign && named_queries[q].all_campaigns;
    if (!all && find_campaign(db, campaign, &id, err) != 0) return -1;
    sqlite3_stmt *st;
    if (db_prepare(db, &st, named_queries[q].sql, err) != 0) return -1;
    if (!all) sqlite3_bind_int64(st, 1, id);
    int rc = deliver_rows(db, st, fn, user, err);
    sqlite3_finalize(st);
    return rc;
}

/* ---- arbitrary read-only SQL --------------------------------------------------------- */

/* Pragmas that only report. Those in the first list take a table or index name as their
 * argument; the others must have no argument (with one, they would change a setting). */
static int pragma_allowed(const char *name, const char *arg)
{
    static const char *const with_object[] = {
        "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list",
        "foreign_key_check", "integrity_check", "quick_check",
    };
    static const char *const bare[] = {
        "user_version", "application_id", "schema_version", "page_count", "page_size",
        "freelist_count", "encoding", "compile_options", "database_list", "collation_list",
        "function_list", "module_list", "pragma_list", "table_list", "foreign_keys", "data_version",
    };
    if (!name) return 0;
    for (size_t i = 0; i < sizeof with_object / sizeof *with_object; i++)
        if (strcasecmp(name, with_object[i]) == 0) return 1;
    for (size_t i = 0; i < sizeof bare / sizeof *bare; i++)
        if (strcasecmp(name, bare[i]) == 0) return arg == NULL;
    return 0;
}

/* Functions --sql may not call. fts3_tokenizer(NAME) returns the address of a tokenizer
 * module in the process (defeating address randomisation) and fts3_tokenizer(NAME, PTR)
 * registers one at any address, which SQLite then calls: a query could run arbitrary
 * code. The two-argument form is also off on every connection (db/db.c); the one-argument
 * form cannot be turned off there, so it is refused here. */
static const char *const denied_functions[] = { "fts3_tokenizer" };

/* What the authorizer refused, for the error message. */
struct read_auth { const char *denied_function; };

/* Authorizer for db_query_sql: reading only, no function of denied_functions. */
static int authorize_read(void *user, int action, const char *a, const char *b, const char *c, const char *d)
{
    struct read_auth *ra = user;
    (void)c; (void)d;
    switch (action) {
    case SQLITE_ATTACH: case SQLITE_DETACH: case SQLITE_TRANSACTION: case SQLITE_SAVEPOINT:
        return SQLITE_DENY;
    case SQLITE_PRAGMA:
        return pragma_allowed(a, b) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_FUNCTION:   /* b: the function's name */
        for (size_t i = 0; b && i < sizeof denied_functions / sizeof *denied_functions; i++)
            if (strcasecmp(b, denied_functions[i]) == 0) {
                ra->denied_function = denied_functions[i];
                return SQLITE_DENY;
            }
        return SQLITE_OK;
    default:
        return SQLITE_OK;   /* anything that writes is caught by sqlite3_stmt_readonly */
    }
}

static int only_blank(const char *s)
{
    /* The tail after the statement: blanks, ';' and comments are fine. */
    while (*s) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ';') s++;
        else if (s[0] == '-' && s[1] == '-') { while (*s && *s != '\n') s++; }
        else if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            if (!e) return 1;
            s = e + 2;
        } else return 0;
    }
    return 1;
}

int db_query_sql(struct db *db, const char *sql, db_rows_fn fn, void *user, char *err)
{
    if (!sql || only_blank(sql)) {
        snprintf(err, CASCADE_ERR_MAX, "%s: the SQL is empty", db->path);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    struct read_auth ra = { NULL };
    sqlite3_set_authorizer(db->h, authorize_read, &ra);
    int prc = sqlite3_prepare_v2(db->h, sql, -1, &st, &tail);
    sqlite3_set_authorizer(db->h, NULL, NULL);
    if (prc != SQLITE_OK) {
        if (ra.denied_function)   /* SQLite reports it as SQLITE_ERROR, not SQLITE_AUTH */
            snprintf(err, CASCADE_ERR_MAX, "%s: the query may not call %s() (it reads and sets addresses in the "
                     "process's memory)", db->path, ra.denied_function);
        else if (prc == SQLITE_AUTH)
            snprintf(err, CASCADE_ERR_MAX, "%s: the query may only read (%s)", db->path, sqlite3_errmsg(db->h));
        else
            db_fail(db, "in the SQL", err);
        return -1;
    }
    if (!st) {
        snprintf(err, CASCADE_ERR_MAX, "%s: the SQL is empty", db->path);
        return -1;
    }
    int rc = -1;
    if (!sqlite3_stmt_readonly(st))
        snprintf(err, CASCADE_ERR_MAX, "%s: the query may only read; this statement writes", db->path);
    else if (tail && !only_blank(tail))
        snprintf(err, CASCADE_ERR_MAX, "%s: give one statement (found more after the first)", db->path);
    else
        rc = deliver_rows(db, st, fn, user, err);
    sqlite3_finalize(st);
    return rc;
}
