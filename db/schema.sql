-- db/schema.sql — the results database of cascade, schema version 5.
--
-- One SQLite file holds campaigns (one architecture search each), their runs (the probe,
-- the baselines, the candidates and their controls), per-step training metrics, per-head
-- and per-layer spectral measurements, and the result of every finished run.
--
-- cascade compiles this file in verbatim (the Makefile makes it a C string for db/schema.c)
-- and runs it on a new database; a file of an older version is migrated forward step by
-- step (db/schema.c, db_migrations).
-- PRAGMA user_version is the schema version; PRAGMA application_id is 0x63617363 ('casc').
-- Versions: 1, the first layout; 2 adds campaigns.setup_json (the machine and corpus setup);
-- 3 adds runs.control_of and runs.replicate_of (blind controls and seed replicates, SPEC 5),
-- results.reference_run, and the views v_noise (the noise floor) and v_controls; 4 adds
-- runs.round and runs.parent (budget-driven rounds, SPEC 5) and the table rounds; 5 adds
-- the tables layer_values (what the proposal rules read, with the measure's own error) and
-- sensitivity (what cutting or linearising one layer costs without retraining).
--
-- Units and conventions: times are unix seconds (REAL; the views show UTC dates); losses
-- are in nats per token; percentages are in %, savings against the campaign's probe and
-- Δ perplexity against the run named in results.reference_run (the probe or, for
-- warm-started runs, its continuation); NULL means unknown or not applicable. v_noise needs
-- SQLite's math functions (sqrt; 3.35 or later built with them, as Debian's is). Comments inside each CREATE statement are kept by
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
    control_of    TEXT,                     -- a control: the name of the candidate it is compared with (uniform_m1 -> cut_m1, linlast1 and std_lin1 -> lin1); NULL otherwise (added in version 3)
    replicate_of  TEXT,                     -- a replicate: the name of the run it repeats with another seed (probe_r2 -> probe); NULL otherwise (added in version 3)
    round         INTEGER,                  -- the search round that proposed it: 0 the first (probe, references, candidates), 1.. budget-driven rounds; NULL in files older than version 4
    parent        TEXT,                     -- the run whose weights it inherited (probe, standard, a round's incumbent); NULL when trained from scratch (added in version 4)
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
    delta_ppl_pct        REAL,              -- 100 (perplexity / the reference's - 1), %; positive = worse. The reference is reference_run: the probe; for the runs an inherit-mode campaign warm-starts (candidates, controls, standard_cont) probe_cont, the probe continued for the same inherit_steps
    tokens_per_s         REAL,              -- training throughput, tokens/s
    flops_per_token      REAL,              -- training FLOPs per token (docs/performance.md, FLOP formula)
    wall_s               REAL,              -- wall time of the run, seconds
    steps                INTEGER,           -- optimiser steps trained
    tokens_trained       INTEGER,           -- training tokens seen
    recorded_at          REAL NOT NULL,     -- unix seconds
    reference_run        TEXT               -- the name of the run delta_ppl_pct is measured against, chosen by the controller; NULL when not recorded (before version 3)
);

CREATE TABLE layer_values (  -- the per-layer value the proposal rules read (search.measure) for a measured run, with its own error (added in version 5)
    run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    measure  TEXT NOT NULL,             -- erank | pr | k90 | planes | erank_minus_init (weight level) | realised_erank | realised_pr (on validation windows)
    layer    INTEGER NOT NULL,          -- from 0
    value    REAL,                      -- the layer's value: the mean over its heads, and over the windows for a realised measure; NULL for a layer the measure does not see (a linear layer on text)
    spread   REAL,                      -- the standard deviation of the layer's value across the windows (n >= 2); NULL otherwise
    n        INTEGER NOT NULL,          -- validation windows measured (1 at weight level)
    PRIMARY KEY (run_id, measure, layer)
) WITHOUT ROWID;

CREATE TABLE sensitivity (  -- what one change to one layer of a measured run costs, without retraining (search.measure "sensitivity"; added in version 5)
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    layer       INTEGER NOT NULL,          -- from 0: the one S-D layer changed
    change      TEXT NOT NULL CHECK (change IN ('cut', 'linear')),  -- cut: to head_dim leading rotation planes (the inherit surgery); linear: made linear (the inherit map)
    head_dim    INTEGER NOT NULL,          -- the layer's head dim after the change
    val_loss    REAL,                      -- validation loss of the changed model, nats per token, on the first search.sensitivity_batches batches
    delta_loss  REAL,                      -- val_loss minus the unchanged model's on the same batches
    PRIMARY KEY (run_id, layer, change, head_dim)
) WITHOUT ROWID;

CREATE TABLE rounds (  -- a budget-driven search (search.budget_ppl_pct): the incumbent each round started from (added in version 4)
    campaign_id   INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    round         INTEGER NOT NULL,         -- the incumbent after round r (0: after the first round, the one-round campaign); round r+1 starts from it
    incumbent     TEXT NOT NULL,            -- the run: the best by the objective among the runs within budget so far
    objective     TEXT NOT NULL,            -- attention_params | flops_per_token | tokens_per_s
    value         REAL,                     -- the incumbent's objective value
    delta_ppl_pct REAL,                     -- the incumbent's Δ perplexity against its reference, in %
    final         INTEGER NOT NULL DEFAULT 0,  -- 1 on the last row: the search's answer (no round improved on it, or max_rounds)
    PRIMARY KEY (campaign_id, round)
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
       r.error, r.reason, r.control_of, r.replicate_of, c.id AS campaign_id, r.id AS run_id
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

CREATE VIEW v_noise AS  -- the noise floor (SPEC 5): per reference run with replicates, the spread of its perplexity over seeds
WITH member AS (  -- a run that has replicates, and each of them: those done, with their perplexity
    SELECT g.id AS ref_id, x.perplexity AS ppl
    FROM runs g JOIN runs m ON m.campaign_id = g.campaign_id AND (m.id = g.id OR m.replicate_of = g.name)
    JOIN results x ON x.run_id = m.id
    WHERE m.status = 'done' AND x.perplexity IS NOT NULL
      AND EXISTS (SELECT 1 FROM runs k WHERE k.campaign_id = g.campaign_id AND k.replicate_of = g.name)
), spread AS (
    SELECT ref_id, count(*) AS n, avg(ppl) AS ppl_mean, min(ppl) AS ppl_min, max(ppl) AS ppl_max
    FROM member GROUP BY ref_id
), sd AS (  -- the sample standard deviation, from the deviations (not from sums of squares, which cancel)
    SELECT s.*, CASE WHEN s.n >= 2 THEN sqrt((SELECT sum((m.ppl - s.ppl_mean) * (m.ppl - s.ppl_mean))
                                             FROM member m WHERE m.ref_id = s.ref_id) / (s.n - 1)) END AS ppl_sd
    FROM spread s
)
SELECT c.name AS campaign, g.name AS reference,
       d.n,                                              -- the reference and its replicates that are done
       d.ppl_mean, d.ppl_sd, d.ppl_min, d.ppl_max,       -- their perplexities: mean, sample sd (NULL when n < 2), range
       100.0 * 2 * d.ppl_sd / d.ppl_mean AS noise_pct,   -- the noise floor, %: twice the spread; a smaller Δ is noise
       c.id AS campaign_id, g.id AS run_id, g.seq
FROM sd d JOIN runs g ON g.id = d.ref_id JOIN campaigns c ON c.id = g.campaign_id;

CREATE VIEW v_results AS  -- the results table: one row per run (metrics NULL until it is done)
SELECT c.name AS campaign, r.seq, r.name AS run, r.role, r.status, r.arch,
       x.params_total, x.params_attention, x.params_saved_pct, x.attention_saved_pct,
       x.val_loss, x.perplexity, x.bits_per_byte, x.delta_ppl_pct, x.tokens_per_s,
       x.flops_per_token, x.wall_s, r.seed,
       EXISTS (SELECT 1 FROM v_pareto p WHERE p.run_id = r.id) AS pareto,  -- 1: on the Pareto front
       r.error, r.reason, r.control_of, r.replicate_of, x.reference_run,
       nz.noise_pct,                                     -- the noise floor of reference_run (v_noise), %; NULL without replicates
       CASE WHEN x.delta_ppl_pct IS NULL OR nz.noise_pct IS NULL THEN NULL
            WHEN abs(x.delta_ppl_pct) > nz.noise_pct THEN 1 ELSE 0 END AS beyond_noise,  -- 1: |Δ| exceeds the noise floor
       c.id AS campaign_id, r.id AS run_id
FROM runs r JOIN campaigns c ON c.id = r.campaign_id LEFT JOIN results x ON x.run_id = r.id
LEFT JOIN v_noise nz ON nz.campaign_id = r.campaign_id AND nz.reference = x.reference_run;

CREATE VIEW v_controls AS  -- each candidate beside each of its controls (runs.control_of): does the measured choice beat a blind one?
WITH pair AS (
    SELECT c.name AS campaign, a.name AS candidate, a.arch AS candidate_arch,
           xa.params_attention AS candidate_params_attention, xa.perplexity AS candidate_ppl,
           xa.delta_ppl_pct AS candidate_delta_ppl_pct,
           b.name AS control,
           CASE WHEN json_valid(a.arch_json) AND json_valid(b.arch_json)
                     AND json_extract(a.arch_json, '$.layernorm') IS NOT json_extract(b.arch_json, '$.layernorm')
                THEN 'standard model'
                WHEN b.name LIKE 'high%' OR b.name LIKE 'inverse%' THEN 'opposite' ELSE 'blind' END AS control_kind,
           b.arch AS control_arch, xb.params_attention AS control_params_attention,
           100.0 * (CAST(xb.params_attention AS REAL) / xa.params_attention - 1) AS size_diff_pct,
           xb.perplexity AS control_ppl, xb.delta_ppl_pct AS control_delta_ppl_pct,
           100.0 * (xa.perplexity / xb.perplexity - 1) AS gap_pct,
           nz.noise_pct, c.id AS campaign_id, a.id AS candidate_run_id, b.id AS control_run_id,
           a.seq AS candidate_seq, b.seq AS control_seq
    FROM runs b JOIN runs a ON a.campaign_id = b.campaign_id AND a.name = b.control_of
    JOIN campaigns c ON c.id = b.campaign_id
    LEFT JOIN results xa ON xa.run_id = a.id AND a.status = 'done'
    LEFT JOIN results xb ON xb.run_id = b.id AND b.status = 'done'
    LEFT JOIN v_noise nz ON nz.campaign_id = a.campaign_id AND nz.reference = coalesce(xa.reference_run, xb.reference_run)
)
SELECT campaign, candidate, candidate_arch, candidate_params_attention, candidate_ppl, candidate_delta_ppl_pct,
       control,
       control_kind,             -- blind: the candidate's own model, equal size, choices that ignore the measurement (uniform_m, reversed_m, linlast, lowblind); opposite: the choice the measurement ranks worst (high: the highest-measured layers); standard model: its change made to the standard model (std_lin; other LayerNorm)
       control_arch, control_params_attention,
       size_diff_pct,            -- 100 (control's attention parameters / the candidate's - 1), %
       control_ppl, control_delta_ppl_pct,
       gap_pct,                  -- 100 (candidate's perplexity / the control's - 1), %; negative: the candidate is better
       noise_pct,                -- the noise floor of the candidate's reference (v_noise), %
       CASE WHEN gap_pct IS NULL THEN NULL                -- one of the two is not done
            WHEN noise_pct IS NULL THEN 'no noise floor'  -- the reference has no replicates
            WHEN gap_pct < -noise_pct THEN 'measured better'
            WHEN gap_pct > noise_pct THEN 'blind better'
            ELSE 'within noise' END AS verdict,
       campaign_id, candidate_run_id, control_run_id, candidate_seq, control_seq
FROM pair;

CREATE VIEW v_paired AS  -- each candidate against each control over their paired seeds (search.candidate_replicates): the paired gap and its verdict
WITH seedpair AS (  -- one row per seed: the candidate (or its replicate) and the control of that seed, both done
    SELECT p.campaign_id, p.campaign, coalesce(ra.replicate_of, p.candidate) AS candidate,
           coalesce(rb.replicate_of, p.control) AS control, p.control_kind, p.gap_pct, ra.seed
    FROM v_controls p JOIN runs ra ON ra.id = p.candidate_run_id JOIN runs rb ON rb.id = p.control_run_id
    WHERE p.gap_pct IS NOT NULL
), agg AS (
    SELECT campaign_id, campaign, candidate, control, min(control_kind) AS control_kind, count(*) AS n,
           avg(gap_pct) AS gap_mean, sum(gap_pct < 0) AS wins
    FROM seedpair GROUP BY campaign_id, candidate, control
), sd AS (  -- the sample standard deviation of the gap over seeds (NULL for one seed)
    SELECT a.*, CASE WHEN a.n >= 2 THEN sqrt((SELECT sum((s.gap_pct - a.gap_mean) * (s.gap_pct - a.gap_mean))
                                             FROM seedpair s WHERE s.campaign_id = a.campaign_id
                                             AND s.candidate = a.candidate AND s.control = a.control) / (a.n - 1)) END
           AS gap_sd
    FROM agg a
)
SELECT campaign, candidate, control, control_kind,
       n,                        -- seeds on which both are done
       gap_mean AS gap_mean_pct, -- mean over seeds of 100 (candidate's perplexity / the control's - 1), %; negative: the candidate is better
       gap_sd AS gap_sd_pct,     -- its sample standard deviation over seeds, %
       gap_sd / sqrt(n) AS gap_se_pct,  -- the standard error of the mean gap, %
       wins,                     -- seeds on which the candidate's perplexity is lower
       CASE WHEN n < 2 THEN 'one seed'
            WHEN gap_mean < -2 * gap_sd / sqrt(n) THEN 'measured better'   -- the mean gap beyond twice its standard error
            WHEN gap_mean > 2 * gap_sd / sqrt(n) THEN 'control better'
            ELSE 'within noise' END AS verdict,
       campaign_id
FROM sd;

CREATE VIEW v_cascade AS  -- the cascade profile: per-layer measures of every measured run
SELECT c.name AS campaign, r.name AS run, r.role, m.level, m.layer, m.routing_erank_mean,
       m.routing_erank_min, m.routing_erank_max, m.routing_fraction_mean, m.filtering_erank_mean,
       a.cascade_spearman, c.id AS campaign_id, r.id AS run_id, r.seq
FROM layer_measures m JOIN runs r ON r.id = m.run_id JOIN campaigns c ON c.id = r.campaign_id
LEFT JOIN analysis_summary a ON a.run_id = m.run_id AND a.level = m.level;

PRAGMA application_id = 1667330915;
CREATE VIEW v_rounds AS  -- the path of a budget-driven search: each round's incumbent with its architecture and result
SELECT c.name AS campaign, g.round, g.incumbent, r.arch, g.objective, g.value, x.params_attention,
       x.attention_saved_pct, x.perplexity, g.delta_ppl_pct, x.tokens_per_s, x.flops_per_token, g.final,
       c.id AS campaign_id
    FROM rounds g JOIN campaigns c ON c.id = g.campaign_id
    LEFT JOIN runs r ON r.campaign_id = g.campaign_id AND r.name = g.incumbent
    LEFT JOIN results x ON x.run_id = r.id;

PRAGMA user_version = 5;
