-- db/schema.sql — the results database of cascade, schema version 2.
--
-- One SQLite file holds campaigns (one architecture search each), their runs (the probe,
-- the baselines, the candidates and their controls), per-step training metrics, per-head
-- and per-layer spectral measurements, and the result of every finished run.
--
-- cascade compiles this file in verbatim (the Makefile makes it a C string for db/schema.c)
-- and runs it on a new database; a file of an older version is migrated forward step by
-- step (db/schema.c, db_migrations).
-- PRAGMA user_version is the schema version; PRAGMA application_id is 0x63617363 ('casc').
-- Versions: 1, the first layout; 2 adds campaigns.setup_json (the machine and corpus setup).
--
-- Units and conventions: times are unix seconds (REAL; the views show UTC dates); losses
-- are in nats per token; percentages are in %, savings against the campaign's probe and
-- Δ perplexity against the probe or, for warm-started runs, its continuation (results);
-- NULL means unknown or not applicable. Comments inside each CREATE statement are kept by
-- SQLite, so `.schema runs` in the sqlite3 shell shows them. To read a database:
--   sqlite3 -header -column runs/demo.db 'SELECT * FROM v_results'
--   sqlite3 -header -column runs/demo.db 'SELECT * FROM v_pareto'

CREATE TABLE campaigns (  -- one architecture-search campaign (cascade search --config C --db F)
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,     -- the campaign's name, chosen by the user
    config_json   TEXT NOT NULL,            -- the campaign config (JSON) as given
    status        TEXT NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'done', 'failed', 'stopped')),
    started_at    REAL NOT NULL,            -- unix seconds, when it was first begun
    finished_at   REAL,                     -- unix seconds, when it last ended; NULL while running
    code_version  TEXT,                     -- version (git describe) of the cascade that began it
    host          TEXT,                     -- host name of the machine that began it
    setup_json    TEXT                      -- the setup it ran on, a JSON object (db/db.h lists the keys): machine, BLAS core, tool version, corpus and its split; NULL until recorded (added in version 2)
);

CREATE TABLE runs (  -- one model trained in a campaign: the probe, a baseline, a candidate or a control
    id            INTEGER PRIMARY KEY,
    campaign_id   INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,            -- unique in its campaign: probe, standard, lin2, cut_m1.5, ...
    role          TEXT NOT NULL CHECK (role IN ('probe', 'baseline', 'candidate', 'control')),
    status        TEXT NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'done', 'failed')),
    seq           INTEGER NOT NULL,         -- order of execution in the campaign
    arch          TEXT,                     -- kinds per layer and head dims, e.g. L L S S | d 32,32,16,16
    arch_json     TEXT,                     -- the model config (JSON, full per-layer form)
    reason        TEXT,                     -- why it was proposed: which measurement, which rule
    retrain       TEXT CHECK (retrain IN ('scratch', 'inherit')),  -- how the run was trained; 'scratch' for the probe and baselines
    seed          INTEGER,                  -- training seed (initialisation and data order)
    checkpoint    TEXT,                     -- path of its checkpoint file
    attempts      INTEGER NOT NULL DEFAULT 0,  -- times it was started; more than 1: resumed after an interruption
    started_at    REAL,                     -- unix seconds, when it was first started; NULL while queued
    finished_at   REAL,                     -- unix seconds, when it became done or failed; NULL before
    host          TEXT,                     -- host name of the machine that ran it
    error         TEXT,                     -- why it failed, e.g. training diverged at step 412; NULL unless failed
    UNIQUE (campaign_id, name)
);
CREATE INDEX runs_by_seq ON runs (campaign_id, seq);

CREATE TABLE steps (  -- training metrics of a run at each step it reported; a resumed run replaces the rows it repeats
    run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step          INTEGER NOT NULL,         -- optimiser steps done, from 1
    loss          REAL,                     -- training loss of the step, nats/token
    lr            REAL,                     -- learning rate of the step
    grad_norm     REAL,                     -- global L2 norm of the gradient, before clipping
    tokens_per_s  REAL,                     -- training throughput since the previous report, tokens/s
    val_loss      REAL,                     -- validation loss, nats/token; NULL when not evaluated at this step
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;

CREATE TABLE head_measures (  -- the routing/filtering spectra of one attention head of a run's model (SPEC 1, 3)
    run_id             INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    level              TEXT NOT NULL CHECK (level IN ('weight', 'realised')),  -- weights, or logits on validation tokens
    layer              INTEGER NOT NULL,    -- from 0
    head               INTEGER NOT NULL,    -- from 0
    kind               TEXT NOT NULL CHECK (kind IN ('softmax', 'sd', 'linear')),  -- the layer's attention kind
    routing_fraction   REAL,                -- |R|^2 / |M|^2 (Frobenius), R the skew part; in [0, 1]
    routing_erank      REAL,                -- effective rank of the routing (skew) part
    routing_pr         REAL,                -- participation ratio of the routing part
    routing_k90        INTEGER,             -- singular values holding 90% of the routing part's energy
    routing_planes     INTEGER,             -- rotation planes, ceil(routing_k90 / 2)
    filtering_erank    REAL,                -- effective rank of the filtering (symmetric) part
    filtering_pr       REAL,                -- participation ratio of the filtering part
    filtering_k90      INTEGER,             -- singular values holding 90% of the filtering part's energy
    routing_sv_json    TEXT,                -- routing singular values, descending, as a JSON array; NULL if not kept
    filtering_sv_json  TEXT,                -- filtering singular values, descending, as a JSON array; NULL if not kept
    PRIMARY KEY (run_id, level, layer, head)
) WITHOUT ROWID;

CREATE TABLE layer_measures (  -- one layer's measures over its heads (the cascade profile is these by depth)
    run_id                 INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    level                  TEXT NOT NULL CHECK (level IN ('weight', 'realised')),
    layer                  INTEGER NOT NULL,  -- from 0
    routing_erank_mean     REAL,              -- mean over the layer's heads of routing_erank
    routing_erank_min      REAL,              -- smallest routing_erank of its heads
    routing_erank_max      REAL,              -- largest routing_erank of its heads
    routing_fraction_mean  REAL,              -- mean routing_fraction, in [0, 1]
    filtering_erank_mean   REAL,              -- mean filtering_erank
    PRIMARY KEY (run_id, level, layer)
) WITHOUT ROWID;

CREATE TABLE analysis_summary (  -- the cascade of a run's model at one level
    run_id            INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    level             TEXT NOT NULL CHECK (level IN ('weight', 'realised')),
    cascade_spearman  REAL,                 -- Spearman correlation of layer mean routing erank with depth, in [-1, 1]; NULL when undefined
    measured_at       REAL NOT NULL,        -- unix seconds
    PRIMARY KEY (run_id, level)
) WITHOUT ROWID;

CREATE TABLE results (  -- the evaluation of a finished run, one row per done run
    run_id               INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    params_total         INTEGER NOT NULL,  -- trainable parameters (floats)
    params_attention     INTEGER NOT NULL,  -- of which in the attention sublayers (q, k, v, u, s, delta, projection)
    params_saved_pct     REAL,              -- 100 (1 - params_total / the probe's), %; positive = smaller
    attention_saved_pct  REAL,              -- 100 (1 - params_attention / the probe's), %
    val_loss             REAL,              -- validation loss, nats/token
    perplexity           REAL,              -- exp(val_loss)
    bits_per_byte        REAL,              -- val_loss / ln 2 for byte-level data; NULL otherwise
    delta_ppl_pct        REAL,              -- 100 (perplexity / the reference's - 1), %; positive = worse. The reference is the probe; for the runs an inherit-mode campaign warm-starts (candidates, controls, standard_cont) it is probe_cont, the probe continued for the same inherit_steps
    tokens_per_s         REAL,              -- training throughput, tokens/s
    flops_per_token      REAL,              -- training FLOPs per token (README, FLOP formula)
    wall_s               REAL,              -- wall time of the run, seconds
    steps                INTEGER,           -- optimiser steps trained
    tokens_trained       INTEGER,           -- training tokens seen
    recorded_at          REAL NOT NULL      -- unix seconds
);

CREATE VIEW v_campaigns AS  -- one row per campaign with its run counts
SELECT c.name AS campaign, c.status,
       (SELECT count(*) FROM runs r WHERE r.campaign_id = c.id) AS runs,
       (SELECT count(*) FROM runs r WHERE r.campaign_id = c.id AND r.status = 'done') AS done,
       (SELECT count(*) FROM runs r WHERE r.campaign_id = c.id AND r.status = 'failed') AS failed,
       datetime(c.started_at, 'unixepoch') AS started_utc,
       datetime(c.finished_at, 'unixepoch') AS finished_utc,
       c.code_version, c.host, c.id AS campaign_id
FROM campaigns c;

CREATE VIEW v_runs AS  -- one row per run, in execution order
SELECT c.name AS campaign, r.seq, r.name AS run, r.role, r.status, r.arch, r.retrain, r.seed,
       r.attempts, datetime(r.started_at, 'unixepoch') AS started_utc,
       datetime(r.finished_at, 'unixepoch') AS finished_utc, r.host, r.checkpoint,
       r.error, r.reason, c.id AS campaign_id, r.id AS run_id
FROM runs r JOIN campaigns c ON c.id = r.campaign_id;

CREATE VIEW v_pareto AS  -- the Pareto front of attention parameters vs perplexity among each campaign's done runs
SELECT c.name AS campaign, r.seq, r.name AS run, r.role, r.arch, x.params_attention,
       x.attention_saved_pct, x.perplexity, x.delta_ppl_pct, c.id AS campaign_id, r.id AS run_id
FROM results x JOIN runs r ON r.id = x.run_id JOIN campaigns c ON c.id = r.campaign_id
WHERE r.status = 'done' AND x.perplexity IS NOT NULL
  AND NOT EXISTS (  -- no done run of the campaign is as good in both and better in one
      SELECT 1 FROM results y JOIN runs s ON s.id = y.run_id
      WHERE s.campaign_id = r.campaign_id AND s.status = 'done' AND y.perplexity IS NOT NULL
        AND y.params_attention <= x.params_attention AND y.perplexity <= x.perplexity
        AND (y.params_attention < x.params_attention OR y.perplexity < x.perplexity));

CREATE VIEW v_results AS  -- the results table: one row per run (metrics NULL until it is done)
SELECT c.name AS campaign, r.seq, r.name AS run, r.role, r.status, r.arch,
       x.params_total, x.params_attention, x.params_saved_pct, x.attention_saved_pct,
       x.val_loss, x.perplexity, x.bits_per_byte, x.delta_ppl_pct, x.tokens_per_s,
       x.flops_per_token, x.wall_s, r.seed,
       EXISTS (SELECT 1 FROM v_pareto p WHERE p.run_id = r.id) AS pareto,  -- 1: on the Pareto front
       r.error, r.reason, c.id AS campaign_id, r.id AS run_id
FROM runs r JOIN campaigns c ON c.id = r.campaign_id LEFT JOIN results x ON x.run_id = r.id;

CREATE VIEW v_cascade AS  -- the cascade profile: per-layer measures of every measured run
SELECT c.name AS campaign, r.name AS run, r.role, m.level, m.layer, m.routing_erank_mean,
       m.routing_erank_min, m.routing_erank_max, m.routing_fraction_mean, m.filtering_erank_mean,
       a.cascade_spearman, c.id AS campaign_id, r.id AS run_id, r.seq
FROM layer_measures m JOIN runs r ON r.id = m.run_id JOIN campaigns c ON c.id = r.campaign_id
LEFT JOIN analysis_summary a ON a.run_id = m.run_id AND a.level = m.level;

PRAGMA application_id = 1667330915;
PRAGMA user_version = 2;
