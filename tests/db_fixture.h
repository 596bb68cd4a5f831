/* tests/db_fixture.h — helpers shared by the database tests (tests/db_fixture.c): fresh
 * paths, raw access to a file through SQLite itself, bypassing db/, and the layouts of
 * older schema versions. */
#ifndef CASCADE_TESTS_DB_FIXTURE_H
#define CASCADE_TESTS_DB_FIXTURE_H
#include <stddef.h>

/* test_tmppath(name), with the file and its -wal, -shm and .lock companions removed. */
void db_fixture_fresh_path(char *out, size_t n, const char *name);
/* Runs sql on the raw file (sqlite3_exec); 0 on success. */
int db_fixture_exec(const char *path, const char *sql);
/* Overwrites the root page of `table` in the closed file (no FILE-wal) with 0xFF bytes:
 * the file still opens and identifies, and reading the table fails as corrupt. 0 on
 * success. */
int db_fixture_corrupt_table(const char *path, const char *table);

/* db/schema.sql of schema version 1 (commit 882a98e), verbatim: the base of the
 * migration tests, and the views version 2 kept. */
extern const char db_fixture_schema_v1_sql[];
/* Turns a closed file of version 3 (no FILE-wal) into one of version 2 as cascade's
 * version 2 left it: without runs.control_of, runs.replicate_of, results.reference_run,
 * v_noise and v_controls, with version 1's v_runs and v_results. 0 on success. */
int db_fixture_make_v2(const char *path);

#endif
