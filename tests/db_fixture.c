/* tests/db_fixture.c — see db_fixture.h. */
#include "tests/db_fixture.h"
#include "test.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* db/schema.sql of schema version 1 (commit 882a98e), verbatim. */
const char db_fixture_schema_v1_sql[] =
    "-- db/schema.sql — the results database of cascade, schema version 1.\n"
    "--\n"
    "-- One SQLite file holds campaigns (one architecture search each), their runs (the probe,\n"
    "-- the baselines, the candidates and their controls), per-step training metrics, per-head\n"
    "-- and per-layer spectral measurements, and the result of every finished run.\n"
    "--\n"
    "-- cascade carries this file verbatim (db/schema.c) and runs it on a new database; a file\n"
    "-- of an older version is migrated forward step by step (db/schema.c, db_migrations).\n"
    "-- PRAGMA user_version is the schema version; PRAGMA application_id is 0x63617363 ('casc').\n"
    "--\n"
    "-- Units and conventions: times are unix seconds (REAL; the views show UTC dates); losses\n"
    "-- are in nats per token; percentages are in % and compare with the campaign's probe;\n"
    "-- NULL means unknown or not applicable. Comments inside each CREATE statement are kept by\n"
    "-- SQLite, so `.schema runs` in the sqlite3 shell shows them. To read a database:\n"
    "--   sqlite3 -header -column runs/demo.db 'SELECT * FROM v_results'\n"
    "--   sqlite3 -header -column runs/demo.db 'SELECT * FROM v_pareto'\n"
    "\n"
    "CREATE TABLE campaigns (  -- one architecture-search campaign (cascade search --config C --db F)\n"
    "    id            INTEGER PRIMARY KEY,\n"
    "    name          TEXT NOT NULL UNIQUE,     -- the campaign's name, chosen by the user\n"
    "    config_json   TEXT NOT NULL,            -- the campaign config (JSON) as given\n"
    "    status        TEXT NOT NULL DEFAULT 'running'\n"
    "                  CHECK (status IN ('running', 'done', 'failed', 'stopped')),\n"
    "    started_at    REAL NOT NULL,            -- unix seconds, when it was first begun\n"
    "    finished_at   REAL,                     -- unix seconds, when it last ended; NULL while running\n"
    "    code_version  TEXT,                     -- version (git describe) of the cascade that began it\n"
    "    host          TEXT                      -- host name of the machine that began it\n"
    ");\n"
    "\n"
    "CREATE TABLE runs (  -- one model trained in a campaign: the probe, a baseline, a candidate or a control\n"
    "    id            INTEGER PRIMARY KEY,\n"
    "    campaign_id   INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,\n"
    "    name          TEXT NOT NULL,            -- unique in its campaign: probe, standard, lin2, cut_m1.5, ...\n"
    "    role          TEXT NOT NULL CHECK (role IN ('probe', 'baseline', 'candidate', 'control')),\n"
    "    status        TEXT NOT NULL DEFAULT 'queued'\n"
    "                  CHECK (status IN ('queued', 'running', 'done', 'failed')),\n"
    "    seq           INTEGER NOT NULL,         -- order of execution in the campaign\n"
    "    arch          TEXT,                     -- kinds per layer and head dims, e.g. L L S S | d 32,32,16,16\n"
    "    arch_json     TEXT,                     -- the model config (JSON, full per-layer form)\n"
    "    reason        TEXT,                     -- why it was proposed: which measurement, which rule\n"
    "    retrain       TEXT CHECK (retrain IN ('scratch', 'inherit')),  -- how a candidate was trained; NULL for the probe and baselines\n"
    "    seed          INTEGER,                  -- training seed (initialisation and data order)\n"
    "    checkpoint    TEXT,                     -- path of its checkpoint file\n"
    "    attempts      INTEGER NOT NULL DEFAULT 0,  -- times it was started; more than 1: resumed after an interruption\n"
    "    started_at    REAL,                     -- unix seconds, when it was first started; NULL while queued\n"
    "    finished_at   REAL,                     -- unix seconds, when it became done or failed; NULL before\n"
    "    host          TEXT,                     -- host name of the machine that ran it\n"
    "    error         TEXT,                     -- why it failed, e.g. training diverged at step 412; NULL unless failed\n"
    "    UNIQUE (campaign_id, name)\n"
    ");\n"
    "CREATE INDEX runs_by_seq ON runs (campaign_id, seq);\n"
    "\n"
    "CREATE TABLE steps (  -- training metrics of a run at each step it reported; a resumed run replaces the rows it repeats\n"
    "    run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    step          INTEGER NOT NULL,         -- optimiser steps done, from 1\n"
    "    loss          REAL,                     -- training loss of the step, nats/token\n"
    "    lr            REAL,                     -- learning rate of the step\n"
    "    grad_norm     REAL,                     -- global L2 norm of the gradient, before clipping\n"
    "    tokens_per_s  REAL,                     -- training throughput since the previous report, tokens/s\n"
    "    val_loss      REAL,                     -- validation loss, nats/token; NULL when not evaluated at this step\n"
    "    PRIMARY KEY (run_id, step)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE head_measures (  -- the routing/filtering spectra of one attention head of a run's model (SPEC 1, 3)\n"
    "    run_id             INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    level              TEXT NOT NULL CHECK (level IN ('weight', 'realised')),  -- weights, or logits on validation tokens\n"
    "    layer              INTEGER NOT NULL,    -- from 0\n"
    "    head               INTEGER NOT NULL,    -- from 0\n"
    "    kind               TEXT NOT NULL CHECK (kind IN ('softmax', 'sd', 'linear')),  -- the layer's attention kind\n"
    "    routing_fraction   REAL,                -- |R|^2 / |M|^2 (Frobenius), R the skew part; in [0, 1]\n"
    "    routing_erank      REAL,                -- effective rank of the routing (skew) part\n"
    "    routing_pr         REAL,                -- participation ratio of the routing part\n"
    "    routing_k90        INTEGER,             -- singular values holding 90% of the routing part's energy\n"
    "    routing_planes     INTEGER,             -- rotation planes, ceil(routing_k90 / 2)\n"
    "    filtering_erank    REAL,                -- effective rank of the filtering (symmetric) part\n"
    "    filtering_pr       REAL,                -- participation ratio of the filtering part\n"
    "    filtering_k90      INTEGER,             -- singular values holding 90% of the filtering part's energy\n"
    "    routing_sv_json    TEXT,                -- routing singular values, descending, as a JSON array; NULL if not kept\n"
    "    filtering_sv_json  TEXT,                -- filtering singular values, descending, as a JSON array; NULL if not kept\n"
    "    PRIMARY KEY (run_id, level, layer, head)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE layer_measures (  -- one layer's measures over its heads (the cascade profile is these by depth)\n"
    "    run_id                 INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    level                  TEXT NOT NULL CHECK (level IN ('weight', 'realised')),\n"
    "    layer                  INTEGER NOT NULL,  -- from 0\n"
    "    routing_erank_mean     REAL,              -- mean over the layer's heads of routing_erank\n"
    "    routing_erank_min      REAL,              -- smallest routing_erank of its heads\n"
    "    routing_erank_max      REAL,              -- largest routing_erank of its heads\n"
    "    routing_fraction_mean  REAL,              -- mean routing_fraction, in [0, 1]\n"
    "    filtering_erank_mean   REAL,              -- mean filtering_erank\n"
    "    PRIMARY KEY (run_id, level, layer)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE analysis_summary (  -- the cascade of a run's model at one level\n"
    "    run_id            INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    level             TEXT NOT NULL CHECK (level IN ('weight', 'realised')),\n"
    "    cascade_spearman  REAL,                 -- Spearman correlation of layer mean routing erank with depth, in [-1, 1]; NULL when undefined\n"
    "    measured_at       REAL NOT NULL,        -- unix seconds\n"
    "    PRIMARY KEY (run_id, level)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE results (  -- the evaluation of a finished run, one row per done run\n"
    "    run_id               INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    params_total         INTEGER NOT NULL,  -- trainable parameters (floats)\n"
    "    params_attention     INTEGER NOT NULL,  -- of which in the attention sublayers (q, k, v, u, s, delta, projection)\n"
    "    params_saved_pct     REAL,              -- 100 (1 - params_total / the probe's), %; positive = smaller\n"
    "    attention_saved_pct  REAL,              -- 100 (1 - params_attention / the probe's), %\n"
    "    val_loss             REAL,              -- validation loss, nats/token\n"
    "    perplexity           REAL,              -- exp(val_loss)\n"
    "    bits_per_byte        REAL,              -- val_loss / ln 2 for byte-level data; NULL otherwise\n"
    "    delta_ppl_pct        REAL,              -- 100 (perplexity / the probe's - 1), %; positive = worse\n"
    "    tokens_per_s         REAL,              -- training throughput, tokens/s\n"
    "    flops_per_token      REAL,              -- training FLOPs per token (README, FLOP formula)\n"
    "    wall_s               REAL,              -- wall time of the run, seconds\n"
    "    steps                INTEGER,           -- optimiser steps trained\n"
    "    tokens_trained       INTEGER,           -- training tokens seen\n"
    "    recorded_at          REAL NOT NULL      -- unix seconds\n"
    ");\n"
    "\n"
    "CREATE VIEW v_campaigns AS  -- one row per campaign with its run counts\n"
    "SELECT c.name AS campaign, c.status,\n"
    "       (SELECT count(*) FROM runs r WHERE r.campaign_id = c.id) AS runs,\n"
    "       (SELECT count(*) FROM runs r WHERE r.campaign_id = c.id AND r.status = 'done') AS done,\n"
    "       (SELECT count(*) FROM runs r WHERE r.campaign_id = c.id AND r.status = 'failed') AS failed,\n"
    "       datetime(c.started_at, 'unixepoch') AS started_utc,\n"
    "       datetime(c.finished_at, 'unixepoch') AS finished_utc,\n"
    "       c.code_version, c.host, c.id AS campaign_id\n"
    "FROM campaigns c;\n"
    "\n"
    "CREATE VIEW v_runs AS  -- one row per run, in execution order\n"
    "SELECT c.name AS campaign, r.seq, r.name AS run, r.role, r.status, r.arch, r.retrain, r.seed,\n"
    "       r.attempts, datetime(r.started_at, 'unixepoch') AS started_utc,\n"
    "       datetime(r.finished_at, 'unixepoch') AS finished_utc, r.host, r.checkpoint,\n"
    "       r.error, r.reason, c.id AS campaign_id, r.id AS run_id\n"
    "FROM runs r JOIN campaigns c ON c.id = r.campaign_id;\n"
    "\n"
    "CREATE VIEW v_pareto AS  -- the Pareto front of attention parameters vs perplexity among each campaign's done runs\n"
    "SELECT c.name AS campaign, r.seq, r.name AS run, r.role, r.arch, x.params_attention,\n"
    "       x.attention_saved_pct, x.perplexity, x.delta_ppl_pct, c.id AS campaign_id, r.id AS run_id\n"
    "FROM results x JOIN runs r ON r.id = x.run_id JOIN campaigns c ON c.id = r.campaign_id\n"
    "WHERE r.status = 'done' AND x.perplexity IS NOT NULL\n"
    "  AND NOT EXISTS (  -- no done run of the campaign is as good in both and better in one\n"
    "      SELECT 1 FROM results y JOIN runs s ON s.id = y.run_id\n"
    "      WHERE s.campaign_id = r.campaign_id AND s.status = 'done' AND y.perplexity IS NOT NULL\n"
    "        AND y.params_attention <= x.params_attention AND y.perplexity <= x.perplexity\n"
    "        AND (y.params_attention < x.params_attention OR y.perplexity < x.perplexity));\n"
    "\n"
    "CREATE VIEW v_results AS  -- the results table: one row per run (metrics NULL until it is done)\n"
    "SELECT c.name AS campaign, r.seq, r.name AS run, r.role, r.status, r.arch,\n"
    "       x.params_total, x.params_attention, x.params_saved_pct, x.attention_saved_pct,\n"
    "       x.val_loss, x.perplexity, x.bits_per_byte, x.delta_ppl_pct, x.tokens_per_s,\n"
    "       x.flops_per_token, x.wall_s, r.seed,\n"
    "       EXISTS (SELECT 1 FROM v_pareto p WHERE p.run_id = r.id) AS pareto,  -- 1: on the Pareto front\n"
    "       r.error, r.reason, c.id AS campaign_id, r.id AS run_id\n"
    "FROM runs r JOIN campaigns c ON c.id = r.campaign_id LEFT JOIN results x ON x.run_id = r.id;\n"
    "\n"
    "CREATE VIEW v_cascade AS  -- the cascade profile: per-layer measures of every measured run\n"
    "SELECT c.name AS campaign, r.name AS run, r.role, m.level, m.layer, m.routing_erank_mean,\n"
    "       m.routing_erank_min, m.routing_erank_max, m.routing_fraction_mean, m.filtering_erank_mean,\n"
    "       a.cascade_spearman, c.id AS campaign_id, r.id AS run_id, r.seq\n"
    "FROM layer_measures m JOIN runs r ON r.id = m.run_id JOIN campaigns c ON c.id = r.campaign_id\n"
    "LEFT JOIN analysis_summary a ON a.run_id = m.run_id AND a.level = m.level;\n"
    "\n"
    "PRAGMA application_id = 1667330915;\n"
    "PRAGMA user_version = 1;\n"
    ;

/* A statement of db_fixture_schema_v1_sql, from "CREATE VIEW name " to its ';' at a line's
 * end, into out; 0 when found. */
static int v1_statement(const char *head, char *out, size_t n)
{
    const char *a = strstr(db_fixture_schema_v1_sql, head), *b = a ? strstr(a, ";\n") : NULL;
    if (!b || (size_t)(b - a) + 3 > n) return -1;
    snprintf(out, n, "%.*s;\n", (int)(b - a), a);
    return 0;
}

int db_fixture_make_v2(const char *path)
{
    /* the views of version 3 that read the new columns go first, or dropping them fails */
    char sql[8192] = "DROP VIEW v_paired; DROP VIEW v_controls; DROP VIEW v_results; DROP VIEW v_noise; DROP VIEW v_runs;"
                     "ALTER TABLE runs DROP COLUMN control_of; ALTER TABLE runs DROP COLUMN replicate_of;"
                     "ALTER TABLE results DROP COLUMN reference_run;";
    size_t k = strlen(sql);
    if (v1_statement("CREATE VIEW v_runs ", sql + k, sizeof sql - k) != 0) return -1;
    k = strlen(sql);
    if (v1_statement("CREATE VIEW v_results ", sql + k, sizeof sql - k) != 0) return -1;
    k = strlen(sql);
    snprintf(sql + k, sizeof sql - k, "PRAGMA user_version = 2;");
    return db_fixture_exec(path, sql);
}

void db_fixture_fresh_path(char *out, size_t n, const char *name)
{
    char side[1100];
    test_tmppath(out, n, name);
    remove(out);
    const char *sfx[] = { "-wal", "-shm", ".lock" };
    for (int i = 0; i < 3; i++) { snprintf(side, sizeof side, "%s%s", out, sfx[i]); remove(side); }
}

int db_fixture_exec(const char *path, const char *sql)
{
    sqlite3 *h;
    int rc = sqlite3_open(path, &h);
    if (rc == SQLITE_OK) rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc == SQLITE_OK ? 0 : -1;
}

int db_fixture_corrupt_table(const char *path, const char *table)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long root = 0, page_size = 0;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master "
                           "WHERE type = 'table' AND name = ?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            root = sqlite3_column_int(st, 0);
            page_size = sqlite3_column_int(st, 1);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    if (root < 2 || page_size < 512) return -1;
    unsigned char junk[65536];
    memset(junk, 0xFF, sizeof junk);
    FILE *f = fopen(path, "r+b");
    if (!f) return -1;
    int ok = fseek(f, (root - 1) * page_size, SEEK_SET) == 0 && fwrite(junk, 1, (size_t)page_size, f) == (size_t)page_size;
    return fclose(f) == 0 && ok ? 0 : -1;
}
