/* tests/db_fixture.c — see db_fixture.h. */
#include "tests/db_fixture.h"
#include "test.h"

#include <sqlite3.h>
#include <stdio.h>

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
