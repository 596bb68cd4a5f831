/* db/db_internal.h — what the files of module `db` share with each other (and the tests
 * with them): the connection struct, the schema text and migrations, and small helpers
 * for statements and transactions. Not part of the interface (that is db/db.h). */
#ifndef CASCADE_DB_INTERNAL_H
#define CASCADE_DB_INTERNAL_H

#include "db/db.h"

#include <sqlite3.h>
#include <stddef.h>

#define DB_APPLICATION_ID 0x63617363   /* PRAGMA application_id of a cascade database: 'casc' */
#define DB_READ_MIN_VERSION 1          /* the oldest schema version DB_READ_ONLY can read */
#define DB_BUSY_TIMEOUT_MS 5000        /* how long a statement waits for another connection */
#define DB_PATH_MAX 1024

struct db {
    sqlite3 *h;
    enum db_mode mode;
    int lock_fd;                /* FILE.lock, flock()ed while open for writing; -1 read-only */
    int version;                /* the file's schema version once open (a reader may have an older one) */
    int immutable;              /* a reader that opened FILE as immutable (db/db.c, "Reading") */
    char path[DB_PATH_MAX];
};

/* db/schema.c: db/schema.sql verbatim (the current layout, run on a new file), and the
 * migrations: db_migrations[v] is the SQL that takes a file from version v - 1 to v
 * (db_migrations[1] is NULL: version 1 is the first layout, so a version-0 file is a
 * new, empty one). DB_SCHEMA_VERSION + 1 entries. */
extern const char db_schema_sql[];
extern const char *const db_migrations[DB_SCHEMA_VERSION + 1];

/* Applies steps[from + 1 .. to] in order, each in its own transaction that also sets
 * PRAGMA user_version to the step's version and checks foreign keys; a failing step is
 * rolled back and leaves the file at the previous version. Foreign keys are off while
 * migrating (table rebuilds) and on afterwards. views (NULL: views are left alone): a
 * schema text whose CREATE VIEW statements (each at the start of a line) replace the
 * views of those names in the last step's transaction: dropped before its SQL, created
 * after it. */
int db_migrate(sqlite3 *h, const char *path, const char *const *steps, int from, int to, const char *views,
               char *err);

/* Reading a file whose directory cannot be written (db/db.c, "Reading"). db_immutable_uri
 * writes the URI that opens path (shorter than DB_PATH_MAX) as immutable,
 * "file:PATH?immutable=1" with '%', '?' and '#' escaped, into out (DB_URI_MAX bytes).
 * db_read_fallback decides, after a reader's first read of path failed with sqlite_code
 * (a primary result code): 1 read it as immutable; 0 no (another failure: keep its
 * error); -1 refuse, with err saying why (FILE-wal holds data an immutable read would
 * not see). */
#define DB_URI_MAX (3 * DB_PATH_MAX + 32)
void db_immutable_uri(char *out, size_t n, const char *path);
int db_read_fallback(const char *path, int sqlite_code, char *err);

/* "PATH: what: <sqlite message>"; returns -1. */
int db_fail(const struct db *db, const char *what, char *err);
int db_prepare(struct db *db, sqlite3_stmt **st, const char *sql, char *err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. db_commit rolls back when COMMIT fails. */
int db_begin(struct db *db, char *err);
int db_commit(struct db *db, char *err);
void db_rollback(struct db *db);
/* Unix seconds, sub-second resolution. */
double db_now(void);
/* Bind helpers: NULL or "" text binds SQL NULL; NaN binds SQL NULL. */
void db_bind_text(sqlite3_stmt *st, int i, const char *s);
void db_bind_real(sqlite3_stmt *st, int i, double x);
/* The column as text, "" for NULL (never NULL). */
const char *db_column_text(sqlite3_stmt *st, int i);
/* Whether the run (or campaign) with this id exists: 1, 0, or -1 on error. */
int db_run_exists(struct db *db, int64_t run_id, char *err);

#endif
