/* tests/db_fixture.h — helpers shared by the database tests (tests/db_fixture.c): fresh
 * paths and raw access to a file through SQLite itself, bypassing db/. */
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

#endif
