/* tests/test_report_audit.c — the report against findings of an audit (#5, #11, #12).
 *
 * #5: every string the report reads from the database goes into the Markdown through one
 * escaping (reports/buf.c). A campaign, runs, errors, reasons, arch strings and setup
 * values made of newlines, "# evil", '|', backticks and <script> must leave the Markdown's
 * structure as the report made it: no heading but the report's own, every table row with
 * as many cell separators as its header, every code span closed by a run of backticks
 * longer than any inside it, no raw HTML; and the SVG plots escape them for XML. Checked
 * for a one-campaign report and for a comparison of two.
 * #11: `cascade report` without --campaign refuses a database of several campaigns, as
 * `cascade export` does, naming them on one line.
 * #12: counts agree with their nouns ("1 thread", never "1 threads").
 *
 * The databases are made here through db/db.h; tests/test_report.c holds the report's
 * checks against ordinary rows. */
#include "test.h"
#include "tests/db_fixture.h"
#include "db/db.h"
#include "reports/report_internal.h"

#include <dirent.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a crafted campaign ------------------------------------------------------------------- */

struct ev_run {
    const char *name, *role, *status, *arch, *arch_json;
    int64_t attn;
    double ppl;
    const char *reason, *error, *control_of, *replicate_of;
};

#define AJ_PROBE "{\"n_layer\":2,\"layernorm\":false,\"attention\":[\"sd\",\"sd\"],\"head_dim\":[8,8]}"
#define AJ_STD "{\"n_layer\":2,\"layernorm\":true,\"attention\":[\"softmax\",\"softmax\"],\"head_dim\":[8,8]}"

#define EV_PROBE "pr`obe|<script>alert(1)</script>"
#define EV_STD "std\n# evil |<script>alert(1)</script>"
#define EV_LIN "tick`name"
#define EV_CUT "<script>alert(1)</script>"
#define EV_CAMPAIGN "evil\n# evil `one` ``two``|x"
#define EV_CAMPAIGN2 "two|`x`\n## evil2 <script>alert(1)</script>"

/* Every role and section: a measured probe and standard baseline, replicates (a noise
 * floor), a linear prefix on each model (the sweep), an allocation with a blind control
 * (the controls), a failed, a queued and a running run. */
static const struct ev_run ev_runs[] = {
    { EV_PROBE, "probe", "done", "S S | d 8,8 `x`|<b>\n# evil", AJ_PROBE, 200, 6.00, "ref\n# evil", NULL, NULL, NULL },
    { EV_STD, "baseline", "done", "A A | LN", AJ_STD, 190, 5.90, "std | <i>", NULL, NULL, NULL },
    { "rep``2`|<i>", "baseline", "done", "S S", AJ_PROBE, 200, 6.02, "replicate", NULL, NULL, EV_PROBE },
    { "`edge`", "baseline", "done", "S S", AJ_PROBE, 200, 5.98, "replicate", NULL, NULL, EV_PROBE },
    { EV_LIN, "candidate", "done", "L S | d 8,8 ``", "{\"n_layer\":2,\"layernorm\":false,\"attention\":[\"linear\",\"sd\"],"
      "\"head_dim\":[8,8]}", 150, 6.10, "why | <script>alert(1)</script>\n# evil *b* [l](u) `t`", NULL, NULL, NULL },
    { EV_CUT, "candidate", "done", "S S | d 4,8\n|---|", "{\"n_layer\":2,\"layernorm\":false,\"attention\":[\"sd\",\"sd\"],"
      "\"head_dim\":[4,8]}", 120, 6.05, "cut", NULL, NULL, NULL },
    { "ctl|`x`", "control", "done", "S S | d 6,6", "{\"n_layer\":2,\"layernorm\":false,\"attention\":[\"sd\",\"sd\"],"
      "\"head_dim\":[6,6]}", 120, 6.20, "blind", NULL, EV_CUT, NULL },
    { "std_lin\n## evil", "control", "done", "L A | LN", "{\"n_layer\":2,\"layernorm\":true,\"attention\":[\"linear\","
      "\"softmax\"],\"head_dim\":[8,8]}", 185, 6.00, "standard model", NULL, EV_LIN, NULL },
    { "fail`ed|<script>", "candidate", "failed", "L L `|`", AJ_PROBE, 0, 0, "r", "boom\n# evil | <script>alert(1)</script> `t` *x*",
      NULL, NULL },
    { "queued|`q`\n# evil", "candidate", "queued", "S S", AJ_PROBE, 0, 0, "r", NULL, NULL, NULL },
    { "run<script>ning", "candidate", "running", "S S", AJ_PROBE, 0, 0, "r", NULL, NULL, NULL },
};
#define N_EV (int)(sizeof ev_runs / sizeof ev_runs[0])

static const char ev_setup[] =
    "{\"cpu_model\": \"CPU | <script>alert(1)</script>\\n# evil\", \"cores\": 2, \"threads\": 2, "
    "\"blas_core\": \"`core`|x\", \"version\": \"v`2`|<i>\\n# evil\", "
    "\"corpus_path\": \"data/`we ird`|<x>\\n# evil.txt\", \"tokens\": 1000, \"train_tokens\": 950, \"val_tokens\": 50, "
    "\"val_fraction\": 0.05, \"is_bytes\": true, \"k`ey|<script>\\n# evil\": \"v`al|<script>alert(1)</script>\", "
    "\"search\": {\"retrain\": \"scr`atch|<script>\", \"runs_dir\": \"r``un|<script>\\n# evil\", \"inherit_steps\": 2}}";

/* The campaign `name` with the runs above (measurements of the probe and the standard
 * baseline, results of the done runs), and two rounds of a budget-driven search. */
static int ev_campaign(struct db *db, const char *name, const char *host, char *err)
{
    int64_t cid, rid;
    int created;
    if (db_campaign_begin(db, name, "{\"search\": {\"retrain\": \"scratch\"}}", "v1`\n# evil|<b>", host, &cid, err) != 0 ||
        db_campaign_set_setup(db, cid, ev_setup, err) != 0)
        return -1;
    for (int i = 0; i < N_EV; i++) {
        const struct ev_run *f = &ev_runs[i];
        struct db_run r;
        memset(&r, 0, sizeof r);
        r.campaign_id = cid;
        snprintf(r.name, sizeof r.name, "%s", f->name);
        r.role = (enum db_role)db_role_from_name(f->role);
        r.arch = (char *)f->arch;
        r.arch_json = (char *)f->arch_json;
        r.reason = (char *)f->reason;
        snprintf(r.retrain, sizeof r.retrain, "%s", r.role >= DB_ROLE_CANDIDATE ? "scratch" : "");
        snprintf(r.control_of, sizeof r.control_of, "%s", f->control_of ? f->control_of : "");
        snprintf(r.replicate_of, sizeof r.replicate_of, "%s", f->replicate_of ? f->replicate_of : "");
        r.seed = 7;
        r.seq = i;
        if (db_run_add(db, &r, &rid, &created, err) != 0) return -1;
        if (strcmp(f->status, "queued") == 0) continue;
        if (db_run_set_status(db, rid, DB_RUNNING, NULL, err) != 0) return -1;
        if (strcmp(f->status, "failed") == 0 && db_run_set_status(db, rid, DB_FAILED, f->error, err) != 0) return -1;
        if (strcmp(f->status, "done") != 0) continue;
        struct db_result res;
        memset(&res, 0, sizeof res);
        res.params_total = 1000 + f->attn;
        res.params_attention = f->attn;
        res.attention_saved_pct = 100.0 * (1.0 - f->attn / 200.0);
        res.val_loss = log(f->ppl);
        res.perplexity = f->ppl;
        res.bits_per_byte = res.val_loss / log(2.0);
        res.delta_ppl_pct = 100.0 * (f->ppl / 6.0 - 1.0);
        res.tokens_per_s = 1000;
        res.wall_s = 10;
        snprintf(res.reference_run, sizeof res.reference_run, "%s", EV_PROBE);
        if (db_record_result(db, rid, &res, err) != 0) return -1;
        if (i < 2) {   /* the probe and the standard baseline: measured */
            struct db_head_measure heads[2];
            struct db_layer_measure layers[2];
            memset(heads, 0, sizeof heads);
            memset(layers, 0, sizeof layers);
            for (int l = 0; l < 2; l++) {
                heads[l] = (struct db_head_measure){ .layer = l, .kind = "sd", .routing_erank = 1.0 + l,
                                                     .routing_fraction = 0.2, .filtering_erank = 3 };
                layers[l] = (struct db_layer_measure){ l, "", 1.0 + l, 1.0 + l, 1.0 + l, 0.2, 3 };
            }
            for (int level = 0; level < 2; level++)
                if (db_record_analysis(db, rid, level ? "realised" : "weight", heads, 2, layers, 2, 1.0, err) != 0)
                    return -1;
        }
    }
    if (db_round_set(db, cid, 0, EV_CUT, "obj`|<script>x", 150, 1.0, 0, err) != 0 ||
        db_round_set(db, cid, 1, EV_CUT, "obj`|<script>x", 120, 0.8, 1, err) != 0)
        return -1;
    return db_campaign_set_status(db, cid, DB_CAMPAIGN_STOPPED, err);
}

/* A database at test_tmppath(file) holding the campaigns `names` (n of them). */
static int ev_database(struct test_ctx *t_, char *path, size_t n, const char *file, const char *const *names, int nn)
{
    char err[CASCADE_ERR_MAX];
    db_fixture_fresh_path(path, n, file);
    struct db *db;
    if (db_open(&db, path, DB_WRITE, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return -1; }
    int rc = 0;
    for (int i = 0; i < nn && rc == 0; i++) rc = ev_campaign(db, names[i], "host|<script>alert(1)</script>\n# evil", err);
    db_close(db);
    if (rc != 0) test_fail(t_, __FILE__, __LINE__, "%s", err);
    return rc;
}

/* ---- what a Markdown reader makes of it --------------------------------------------------- */

/* The report's own headings (reports/report.h); a campaign's title is checked apart. */
static int known_heading(const char *text, size_t len)
{
    static const char *const titles[] = { "Setup", "Status", "The measured cascade", "Candidates", "Tradeoff",
                                          "Linearisation sweep", "Noise floor", "Measured vs blind at equal size",
                                          "Search rounds", "Findings", "Reproduce", "Comparison", "Strategies",
                                          "Sensitivity", "Paired verdicts" };
    for (size_t i = 0; i < sizeof titles / sizeof *titles; i++)
        if (strlen(titles[i]) == len && strncmp(text, titles[i], len) == 0) return 1;
    return len > 9 && strncmp(text, "Campaign ", 9) == 0;
}

/* Cell separators of a table row: the '|' not after a backslash (a GFM table splits a row
 * there before it reads anything else, code spans included). */
static int row_pipes(const char *line, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++) n += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    return n;
}

static int is_delimiter_row(const char *line, size_t len)
{
    if (len < 3 || line[0] != '|') return 0;
    for (size_t i = 0; i < len; i++)
        if (!strchr("|-: ", line[i])) return 0;
    return 1;
}

/* The code spans of one line as CommonMark reads them (6.1): a backtick run opens a span
 * closed by the next run of the same length; a backslash-escaped backtick outside a span
 * is text. Appends each span's content (its single leading and trailing space stripped
 * when both are there, and in a table row "\|" read as '|') to spans, one per line.
 * Returns 0, or -1 and why: a run that nothing closes (a value's backtick ended a span
 * early, or began one), or a span with a run inside as long as its delimiters or longer. */
static int line_spans(const char *line, size_t len, int table, struct report_buf *spans, char *why, size_t wn)
{
    for (size_t i = 0; i < len;) {
        if (line[i] == '\\' && i + 1 < len && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", line[i + 1])) {
            i += 2;
            continue;
        }
        if (line[i] != '`') { i++; continue; }
        size_t n = 0;
        while (i + n < len && line[i + n] == '`') n++;
        size_t j = i + n, close = 0, inner_max = 0;
        while (j < len && !close) {
            if (line[j] != '`') { j++; continue; }
            size_t m = 0;
            while (j + m < len && line[j + m] == '`') m++;
            if (m == n) close = j;
            else if (m > inner_max) inner_max = m;
            j += m;
        }
        if (!close) {
            snprintf(why, wn, "a run of %zu backtick(s) at column %zu is never closed: %.*s", n, i, (int)len, line);
            return -1;
        }
        if (inner_max >= n) {
            snprintf(why, wn, "a span of %zu backtick(s) at column %zu holds a run of %zu: %.*s", n, i, inner_max, (int)len,
                     line);
            return -1;
        }
        const char *c = line + i + n;
        size_t cl = close - (i + n);
        if (cl >= 2 && c[0] == ' ' && c[cl - 1] == ' ' && strspn(c, " ") < cl) { c++; cl -= 2; }
        for (size_t k = 0; k < cl; k++) {
            if (table && c[k] == '\\' && k + 1 < cl && c[k + 1] == '|') continue;
            report_buf_printf(spans, "%c", c[k]);
        }
        report_buf_puts(spans, "\n");
        i = close + n;
    }
    return 0;
}

/* Whether `want` (as a value: control characters read as spaces) is the content of one of
 * the code spans collected by line_spans. */
static int has_span(const char *spans, const char *want)
{
    char w[300];
    size_t k = 0;
    for (; want[k] && k + 1 < sizeof w; k++) w[k] = (unsigned char)want[k] < 0x20 ? ' ' : want[k];
    w[k] = 0;
    for (const char *p = spans; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, w, k) == 0 && p[k] == '\n') return 1;
    return 0;
}

/* The Markdown's structure as the report made it, whatever the database holds: one title
 * line, the report's own headings and no other line a reader would take for a heading or
 * HTML, the same number of cells in every row of a table, well-formed code spans (their
 * contents appended to spans), no raw HTML tag anywhere. */
static void check_structure(struct test_ctx *t_, const char *md, const char *what, struct report_buf *spans)
{
    int titles = 0, fenced = 0, header = -1, bad_spans = 0;
    for (const char *line = md; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *next = eol ? eol + 1 : NULL;
        size_t nlen = next ? (strchr(next, '\n') ? (size_t)(strchr(next, '\n') - next) : strlen(next)) : 0;
        CHECK_MSG(!(len >= 6 && strncmp(line, "# evil", 6) == 0), "%s: a line begins '# evil'", what);
        if (len >= 3 && strncmp(line, "```", 3) == 0) {
            fenced = !fenced;
        } else if (!fenced) {
            size_t h = strspn(line, "#");
            if (h > 0 && h <= 6 && (h == len || line[h] == ' ')) {
                if (h == 1 && len > 17 && strncmp(line, "# Cascade report:", 17) == 0) titles++;
                else CHECK_MSG(h >= 2 && h <= 3 && known_heading(line + h + 1, len - h - 1), "%s: a heading not the "
                               "report's: %.*s", what, (int)len, line);
            }
            CHECK_MSG(!(len && (line[0] == '<' || line[0] == '>' || line[0] == '=')), "%s: a line begins with "
                      "'%c': %.*s", what, line[0], (int)len, line);
            /* tables: a header row, its delimiter row, then rows until a line that is not one */
            if (header < 0 && len && line[0] == '|' && is_delimiter_row(next ? next : "", nlen)) header = row_pipes(line, len);
            if (header >= 0 && len && line[0] == '|')
                CHECK_MSG(row_pipes(line, len) == header, "%s: %d cell separators, the header has %d: %.*s", what,
                          row_pipes(line, len), header, (int)len, line);
            if (!(len && line[0] == '|')) header = -1;
            char why[1200];
            if (line_spans(line, len, len && line[0] == '|', spans, why, sizeof why) != 0 && bad_spans++ < 5)
                test_fail(t_, __FILE__, __LINE__, "%s: %s", what, why);
        }
        line = next;
    }
    CHECK_MSG(titles == 1, "%s: %d title lines", what, titles);
    CHECK_MSG(!fenced, "%s: a code block is never closed", what);
    for (const char *p = strchr(md, '<'); p; p = strchr(p + 1, '<'))
        CHECK_MSG(!(p[1] == '/' || p[1] == '!' || p[1] == '?' || (p[1] >= 'a' && p[1] <= 'z') ||
                    (p[1] >= 'A' && p[1] <= 'Z')), "%s: raw HTML: %.40s", what, p);
    CHECK_MSG(strstr(md, "<script") == NULL, "%s: <script", what);
}

/* Each SVG written beside test_tmppath(prefix): no <script, and it parses. Returns how many. */
static int check_svgs(struct test_ctx *t_, const char *prefix)
{
    DIR *d = opendir(test_tmpdir());
    if (!d) { test_fail(t_, __FILE__, __LINE__, "cannot list %s", test_tmpdir()); return 0; }
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || len < 4 || strcmp(e->d_name + len - 4, ".svg") != 0) continue;
        char path[1200], cmd[1400], *out = NULL;
        snprintf(path, sizeof path, "%s/%s", test_tmpdir(), e->d_name);
        char *svg = test_read_file(path, NULL);
        CHECK_MSG(svg && !strstr(svg, "<script") && !strstr(svg, "<b>") && !strstr(svg, "<i>"), "%s: raw markup", path);
        free(svg);
        snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
        CHECK_MSG(test_run(cmd, &out) == 0, "%s: %s", path, out ? out : "");
        free(out);
        n++;
    }
    closedir(d);
    return n;
}

static char *ev_report(struct test_ctx *t_, const char *db_path, const char *const *campaigns, int n, const char *name)
{
    char out[600], err[CASCADE_ERR_MAX];
    struct db *db;
    if (db_open(&db, db_path, DB_READ_ONLY, err) != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return NULL; }
    test_tmppath(out, sizeof out, name);
    int rc = report_write(db, campaigns, n, out, err);
    db_close(db);
    if (rc != 0) { test_fail(t_, __FILE__, __LINE__, "%s", err); return NULL; }
    return test_read_file(out, NULL);
}

/* ---- #5: escaping -------------------------------------------------------------------------- */

TEST(report_audit_crafted_strings_keep_the_markdown_structure)
{
    char path[600];
    const char *names[] = { EV_CAMPAIGN };
    REQUIRE(ev_database(t_, path, sizeof path, "evil.db", names, 1) == 0);
    char *md = ev_report(t_, path, names, 1, "evil.md");
    REQUIRE(md != NULL);
    /* every section that shows a value is there */
    const char *sections[] = { "## Setup", "## Status", "## The measured cascade", "## Candidates", "## Linearisation sweep",
                               "## Noise floor", "## Measured vs blind at equal size", "## Search rounds", "## Findings",
                               "## Reproduce" };
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        CHECK_MSG(strstr(md, sections[i]) != NULL, "no %s", sections[i]);
    struct report_buf spans = { 0 };
    check_structure(t_, md, "evil.md", &spans);
    /* values with backticks are whole code spans, wherever they are */
    CHECK_MSG(has_span(spans.s, EV_CAMPAIGN), "the campaign name is not one code span");
    CHECK_MSG(has_span(spans.s, EV_LIN) && has_span(spans.s, "`edge`") && has_span(spans.s, "ctl|`x`"),
              "a run name is not one code span");
    CHECK_MSG(has_span(spans.s, "L S | d 8,8 ``"), "an arch is not one code span");
    CHECK(strstr(md, "# Cascade report: campaign ```evil # evil `one` ``two``|x```\n") != NULL);
    CHECK(strstr(md, "| `` `edge` `` |") != NULL);   /* a backtick at an end: padded */
    /* values with '<' or '>' as escaped text; the failed run's error on one line */
    CHECK(strstr(md, "pr\\`obe\\|&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
    CHECK(strstr(md, "boom # evil \\| &lt;script&gt;alert(1)&lt;/script&gt; \\`t\\` \\*x\\*") != NULL);
    CHECK(strstr(md, "why \\| &lt;script&gt;alert(1)&lt;/script&gt; # evil \\*b\\* \\[l\\](u) \\`t\\`") != NULL);
    CHECK(strstr(md, "| Host | host\\|&lt;script&gt;alert(1)&lt;/script&gt; # evil |") != NULL);
    CHECK(strstr(md, "| Setup: k\\`ey\\|&lt;script&gt; # evil | ") != NULL);
    /* the command lines run as they are written: one line each, the name one word */
    const char *cmd = strstr(md, "\n```\ncascade report --db ");
    REQUIRE(cmd != NULL);
    CHECK(strstr(cmd, " --campaign $'evil\\x0A# evil `one` ``two``|x' --out ") != NULL);
    report_buf_free(&spans);
    CHECK(check_svgs(t_, "evil-") == 4);
    free(md);
}

TEST(report_audit_comparison_escapes_too)
{
    char path[600];
    const char *names[] = { EV_CAMPAIGN, EV_CAMPAIGN2 };
    REQUIRE(ev_database(t_, path, sizeof path, "evil2.db", names, 2) == 0);
    char *md = ev_report(t_, path, names, 2, "evcmp.md");
    REQUIRE(md != NULL);
    CHECK(strstr(md, "## Comparison") != NULL);
    struct report_buf spans = { 0 };
    check_structure(t_, md, "evcmp.md", &spans);
    CHECK_MSG(has_span(spans.s, EV_CAMPAIGN) && has_span(spans.s, EV_LIN), "a name is not one code span");
    CHECK(strstr(md, "## Campaign two\\|\\`x\\` ## evil2 &lt;script&gt;alert(1)&lt;/script&gt;\n") != NULL);
    report_buf_free(&spans);
    CHECK(check_svgs(t_, "evcmp-") == 1 + 2 * 4);
    free(md);
}

/* The three writers, value by value. */
TEST(report_audit_markdown_writers)
{
    struct { const char *in; int table; const char *want; } code[] = {
        { "plain", 0, "`plain`" },
        { "a`b", 0, "``a`b``" },
        { "a``b`c", 0, "```a``b`c```" },
        { "`x", 0, "`` `x ``" },
        { "x`", 0, "`` x` ``" },
        { " x ", 0, "`  x  `" },
        { "  ", 0, "`  `" },
        { "", 0, "` `" },
        { "a|b", 0, "`a|b`" },
        { "a|b", 1, "`a\\|b`" },
        { "a\nb\tc", 1, "`a b c`" },
        { "a<b", 1, "a&lt;b" },
    };
    for (size_t i = 0; i < sizeof code / sizeof *code; i++) {
        struct report_buf b = { 0 };
        report_md_code(&b, code[i].in, code[i].table ? REPORT_MD_TABLE : REPORT_MD_PROSE);
        CHECK_MSG(b.s && strcmp(b.s, code[i].want) == 0, "code '%s' -> '%s', want '%s'", code[i].in, b.s ? b.s : "",
                  code[i].want);
        report_buf_free(&b);
    }
    struct { const char *in, *want; } text[] = {
        { "a|b\nc <d> <= 2 </e>", "a\\|b c &lt;d&gt; &lt;= 2 &lt;/e&gt;" },
        { "*a* _b_ [c](d) `e` ~f~ $g$ \\h &amp;", "\\*a\\* \\_b\\_ \\[c\\](d) \\`e\\` \\~f\\~ \\$g\\$ \\\\h &amp;amp;" },
        { "line\r\nbreak\x7f", "line  break " },
        { "Ünïcode – ok", "Ünïcode – ok" },
    };
    for (size_t i = 0; i < sizeof text / sizeof *text; i++) {
        struct report_buf b = { 0 };
        report_md_cell(&b, text[i].in);
        CHECK_MSG(b.s && strcmp(b.s, text[i].want) == 0, "text '%s' -> '%s'", text[i].in, b.s ? b.s : "");
        report_buf_free(&b);
    }
    /* shell words: what a shell reads back is the value */
    const char *words[] = { "demo", "runs/x.db", "two words", "it's", "a`b`$(c)|d", "nl\nx<y>", "back\\slash'q", "" };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        struct report_buf b = { 0 }, cmd = { 0 };
        report_sh_word(&b, words[i]);
        REQUIRE(b.s && !strchr(b.s, '\n') && !strchr(b.s, '<') && !strchr(b.s, '>'));
        /* run by bash from a file: sh would read the words first, and dash lacks $'...' */
        char script[600], line[700];
        test_tmppath(script, sizeof script, "word.sh");
        report_buf_printf(&cmd, "printf %%s %s", b.s);
        REQUIRE(test_write_text(script, cmd.s) == 0);
        snprintf(line, sizeof line, "bash '%s'", script);
        char *out = NULL;
        int rc = test_run(line, &out);
        CHECK_MSG(rc == 0 && out && strcmp(out, words[i]) == 0, "'%s' as %s read back as '%s'", words[i], b.s,
                  out ? out : "");
        free(out);
        report_buf_free(&b);
        report_buf_free(&cmd);
    }
}

/* ---- #12: counts and their nouns ---------------------------------------------------------- */

/* A campaign of one of everything: one core and thread, one layer of one head, one step
 * of one token, one run, and that run failed. */
static const char one_setup[] =
    "{\"cpu_model\": \"c\", \"cores\": 1, \"threads\": 1, \"blas_core\": \"b\", \"version\": \"v\", "
    "\"corpus_path\": \"d.txt\", \"tokens\": 1, \"train_tokens\": 1, \"val_tokens\": 1, \"val_fraction\": 0.5, "
    "\"is_bytes\": true, "
    "\"train_config\": {\"data\": {\"path\": \"d.txt\", \"val_fraction\": 0.5}, \"model\": {\"vocab_size\": 1, "
    "\"n_layer\": 1, \"n_embd\": 8, \"n_head\": 1, \"seq_len\": 1}, \"train\": {\"batch_size\": 1, \"steps\": 1, "
    "\"lr\": 0.1, \"warmup_steps\": 1, \"min_lr_frac\": 0.1, \"seed\": 1}}, "
    "\"search\": {\"retrain\": \"inherit\", \"inherit_steps\": 1}, "
    "\"parallel\": {\"setting\": 0, \"runs\": 1, \"threads_per_run\": 1, \"measured\": "
    "[{\"runs\": 1, \"threads_per_run\": 1, \"tokens_per_s\": 1}]}}";

/* Whether text holds the count 1 followed by a plural noun ("1 threads", "1 byte tokens";
 * "11 threads" and "0.1 steps" are not that); the match in *hit. */
static int one_plural(const char *text, char *hit, size_t n)
{
    regex_t re;
    if (regcomp(&re, "(^|[^0-9.,])1 (byte |done )?(thread|core|layer|head|step|token|run|round|replicate|campaign|"
                     "candidate|control|prefix length|seed)s([^a-z]|$)", REG_EXTENDED | REG_NEWLINE) != 0)
        return 1;
    regmatch_t m;
    int found = regexec(&re, text, 1, &m, 0) == 0;
    if (found) snprintf(hit, n, "%.*s", (int)(m.rm_eo - m.rm_so), text + m.rm_so);
    regfree(&re);
    return found;
}

TEST(report_audit_one_is_singular)
{
    char path[600], err[CASCADE_ERR_MAX], hit[200];
    db_fixture_fresh_path(path, sizeof path, "one.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    int64_t cid, rid;
    int created;
    struct db_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "probe");
    r.role = DB_ROLE_PROBE;
    r.arch = (char *)"S | d 8";
    r.arch_json = "{\"n_layer\":1,\"layernorm\":false,\"attention\":[\"sd\"],\"head_dim\":[8]}";
    r.reason = "reference";
    int ok = db_campaign_begin(db, "one", "{}", "v", "h", &cid, err) == 0 && db_campaign_set_setup(db, cid, one_setup, err) == 0;
    r.campaign_id = cid;
    ok = ok && db_run_add(db, &r, &rid, &created, err) == 0 && db_run_set_status(db, rid, DB_RUNNING, NULL, err) == 0 &&
         db_run_set_status(db, rid, DB_FAILED, "diverged", err) == 0 &&
         db_campaign_set_status(db, cid, DB_CAMPAIGN_DONE, err) == 0;
    db_close(db);
    REQUIRE_MSG(ok, "%s", err);
    CHECK(!one_plural("11 threads, 0.1 steps, 1 thread, 1,001 runs", hit, sizeof hit));   /* the check itself */
    CHECK(one_plural("x; 1 threads; y", hit, sizeof hit) && one_plural("of 1 byte tokens", hit, sizeof hit));
    const char *c[] = { "one" };
    char *md = ev_report(t_, path, c, 1, "one.md");
    REQUIRE(md != NULL);
    CHECK_MSG(!one_plural(md, hit, sizeof hit), "'%s' in the report", hit);
    CHECK(strstr(md, "| Machine | CPU c; 1 core; 1 thread; OpenBLAS core b; arithmetic fp32 |") != NULL);
    CHECK(strstr(md, "1 layer, width 8, 1 head per layer (head dim 8), context 1 token, vocabulary 1 |") != NULL);
    CHECK(strstr(md, "1 step of batch 1 × 1 token (1 token per run)") != NULL);
    CHECK(strstr(md, "1 of its 1 run did not finish") != NULL);
    free(md);
}

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
