/* tests/db_fixture.c — see db_fixture.h. */
#include "tests/db_fixture.h"
#include "test.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

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
