/* db/schema.c — the database schema, compiled in: db/schema.sql verbatim (the current
 * layout, documented there), and the migrations from each older schema version.
 *
 * db_schema_sql is db/schema.sql itself: the Makefile turns the file into the string
 * literals of build/<mode>/db/schema_sql.h (one a line, escaped) and this file includes
 * them, so editing schema.sql is all a new layout needs here (test
 * db_schema_c_matches_sql checks the string against the file).
 *
 * Changing the layout: raise DB_SCHEMA_VERSION in db/db.h, edit db/schema.sql (the whole
 * new layout, ending with PRAGMA user_version = the new version), and add
 * db_migrations[new version]: the SQL that turns the tables of a file of the previous
 * version into the new layout (ALTER TABLE ... ADD COLUMN, or CREATE new / INSERT SELECT /
 * DROP old / ALTER TABLE RENAME for a rebuild). db_open runs the missing steps in order,
 * each in a transaction with foreign keys off; db_migrate sets user_version. Views need
 * nothing here: they hold no data, so the last step drops db/schema.sql's views before
 * its SQL and creates them again after it (db_migrate's `views`), and a migrated file has
 * exactly a new file's views (test db_v3_migrates_a_v2_file_keeping_its_rows). A view the
 * schema no longer has, and a view a step that is not the last breaks by rebuilding a
 * table, the step drops itself.
 */
#include "db/db_internal.h"

#include <stddef.h>

const char db_schema_sql[] =
#include "db/schema_sql.h"   /* generated from db/schema.sql by the Makefile */
    ;

const char *const db_migrations[DB_SCHEMA_VERSION + 1] = {
    [0] = NULL,   /* no version before 0 */
    [1] = NULL,   /* version 1 is the first layout: a version-0 file is new and gets db_schema_sql */
    /* 2: the campaign's setup (machine, BLAS core, tool version, corpus and its split) */
    [2] = "ALTER TABLE campaigns ADD COLUMN setup_json TEXT;",
    /* 3: blind controls and seed replicates (SPEC 5): which candidate a control is compared
     * with, which run a replicate repeats, and which run each Δ is against; the views
     * v_noise and v_controls come with db/schema.sql's views */
    [3] = "ALTER TABLE runs ADD COLUMN control_of TEXT;"
          "ALTER TABLE runs ADD COLUMN replicate_of TEXT;"
          "ALTER TABLE results ADD COLUMN reference_run TEXT;",
    /* 4: budget-driven rounds: each run's round and parent, each round's incumbent */
    [4] = "ALTER TABLE runs ADD COLUMN round INTEGER;"
          "ALTER TABLE runs ADD COLUMN parent TEXT;"
          "CREATE TABLE rounds ("
          "campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE, round INTEGER NOT NULL, "
          "incumbent TEXT NOT NULL, objective TEXT NOT NULL, value REAL, delta_ppl_pct REAL, "
          "final INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (campaign_id, round));",
    /* 5: the per-layer values the proposal rules read, with their spread over windows, and
     * the sensitivity curves (one layer cut or linearised, no retraining) */
    [5] = "CREATE TABLE layer_values ("
          "run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, measure TEXT NOT NULL, "
          "layer INTEGER NOT NULL, value REAL, spread REAL, n INTEGER NOT NULL, "
          "PRIMARY KEY (run_id, measure, layer)) WITHOUT ROWID;"
          "CREATE TABLE sensitivity ("
          "run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, layer INTEGER NOT NULL, "
          "change TEXT NOT NULL CHECK (change IN ('cut', 'linear')), head_dim INTEGER NOT NULL, val_loss REAL, "
          "delta_loss REAL, PRIMARY KEY (run_id, layer, change, head_dim)) WITHOUT ROWID;",
};
