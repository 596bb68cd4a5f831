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
 * db_migrations[new version]: the SQL that turns a file of the previous version into the
 * new layout (ALTER TABLE ... ADD COLUMN, or CREATE new / INSERT SELECT / DROP old /
 * ALTER TABLE RENAME for a rebuild). db_open runs the missing steps in order, each in a
 * transaction with foreign keys off; db_migrate sets user_version.
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
};
