/* db/db.c — opening and closing the results database: the writer's lock, recognising a
 * cascade file, creating and migrating the schema, and the helpers the other db/ files
 * share.
 *
 * On disk: FILE is an SQLite database (layout: db/schema.sql) in WAL mode, so FILE-wal
 * and FILE-shm sit beside it while it is open. PRAGMA application_id 0x63617363 ('casc')
 * marks it as cascade's; PRAGMA user_version is its schema version. A writer also holds
 * FILE.lock: a small text file holding the writer's pid and a newline, locked with
 * flock(LOCK_EX). The lock belongs to the open file, so it goes away with the process,
 * however it dies; the file itself is left in place (removing it would let two writers
 * lock two different files of one name).
 *
 * Settings of every connection: busy_timeout 5000 ms, foreign keys on, the two-argument
 * fts3_tokenizer() off (SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER); a writer sets
 * journal_mode WAL and synchronous NORMAL (a commit survives the process being killed;
 * a power cut may lose the last commits but never corrupts the file); a reader sets
 * query_only.
 *
 * Reading: a reader opens FILE with SQLITE_OPEN_READONLY and writes nothing to it. In WAL
 * mode SQLite still wants FILE-shm (the WAL index), and FILE-wal, beside it: it opens
 * them when they exist (read-only if need be, so a campaign writing the file is read as
 * of its last commit) and creates them when they do not. Where neither can be done (a
 * directory the user cannot write, a read-only mount, no FILE-shm), the first read fails
 * ("attempt to write a readonly database", "unable to open database file"); the reader
 * then opens FILE again as immutable (URI "file:FILE?immutable=1": no WAL, no locks) and
 * reads the main file alone. That is exact when FILE-wal is absent or empty: every
 * commit is in FILE (a writer's close checkpoints the WAL into it and removes it). When
 * FILE-wal holds data, an immutable read would silently miss the commits in it, so the
 * open is refused instead, naming FILE-wal. Immutable also means unlocked: were a
 * campaign to begin writing FILE while it is read this way (only possible for a user who
 * can write the directory), the reader may see the file as of its last checkpoint, or
 * fail with "database disk image is malformed"; reading again gives the current state.
 */
#include "db/db_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers shared by the files of db/ -------------------------------------------- */

int db_fail(const struct db *db, const char *what, char *err)
{
    snprintf(err, CASCADE_ERR_MAX, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
    return -1;
}

int db_prepare(struct db *db, sqlite3_stmt **st, const char *sql, char *err)
{
    if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) == SQLITE_OK) return 0;
    *st = NULL;
    return db_fail(db, "preparing a statement", err);
}

int db_begin(struct db *db, char *err)
{
    assert(db->mode == DB_WRITE);
    if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK) return 0;
    return db_fail(db, "beginning a transaction", err);
}

int db_commit(struct db *db, char *err)
{
    if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return 0;
    db_fail(db, "committing", err);
    db_rollback(db);
    return -1;
}

void db_rollback(struct db *db)
{
    if (!sqlite3_get_autocommit(db->h)) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

double db_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s && s[0]) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

void db_bind_real(sqlite3_stmt *st, int i, double x)
{
    if (isnan(x)) sqlite3_bind_null(st, i);
    else sqlite3_bind_double(st, i, x);
}

const char *db_column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

int db_run_exists(struct db *db, int64_t run_id, char *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, &st, "SELECT 1 FROM runs WHERE id = ?1", err) != 0) return -1;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return db_fail(db, "looking up a run", err);
}

const char *db_path(const struct db *db) { return db->path; }
int db_schema_version(const struct db *db) { return db->version; }

/* ---- the names of states (db/db.h, "states") ------------------------------------------ */

static const char *const status_names[] = {
    [DB_QUEUED] = "queued", [DB_RUNNING] = "running", [DB_DONE] = "done", [DB_FAILED] = "failed",
};
static const char *const campaign_status_names[] = {
    [DB_CAMPAIGN_RUNNING] = "running", [DB_CAMPAIGN_DONE] = "done", [DB_CAMPAIGN_FAILED] = "failed",
    [DB_CAMPAIGN_STOPPED] = "stopped",
};
static const char *const role_names[] = {
    [DB_ROLE_PROBE] = "probe", [DB_ROLE_BASELINE] = "baseline", [DB_ROLE_CANDIDATE] = "candidate",
    [DB_ROLE_CONTROL] = "control",
};
#define N_NAMES(a) (int)(sizeof a / sizeof a[0])

static const char *name_of(const char *const *names, int n, int v) { return v >= 0 && v < n ? names[v] : "?"; }

static int value_of(const char *const *names, int n, const char *name)
{
    for (int v = 0; name && v < n; v++)
        if (strcmp(name, names[v]) == 0) return v;
    return -1;
}

const char *db_status_name(enum db_status s) { return name_of(status_names, N_NAMES(status_names), (int)s); }
const char *db_campaign_status_name(enum db_campaign_status s)
{
    return name_of(campaign_status_names, N_NAMES(campaign_status_names), (int)s);
}
const char *db_role_name(enum db_role r) { return name_of(role_names, N_NAMES(role_names), (int)r); }
int db_status_from_name(const char *name) { return value_of(status_names, N_NAMES(status_names), name); }
int db_campaign_status_from_name(const char *name)
{
    return value_of(campaign_status_names, N_NAMES(campaign_status_names), name);
}
int db_role_from_name(const char *name) { return value_of(role_names, N_NAMES(role_names), name); }

/* ---- the writer's lock --------------------------------------------------------------- */

static int db_lock(struct db *db, char *err)
{
    char lock_path[DB_PATH_MAX + 8];
    snprintf(lock_path, sizeof lock_path, "%s.lock", db->path);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot create its lock file %s: %s", db->path, lock_path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char buf[32] = { 0 };
            ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
            long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
            if (pid > 0)
                snprintf(err, CASCADE_ERR_MAX, "%s is in use by another cascade process (pid %ld)", db->path, pid);
            else
                snprintf(err, CASCADE_ERR_MAX, "%s is in use by another cascade process", db->path);
        } else {
            snprintf(err, CASCADE_ERR_MAX, "%s: cannot lock %s: %s", db->path, lock_path, strerror(e));
        }
        close(fd);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot write its lock file %s: %s", db->path, lock_path, strerror(errno));
        close(fd);
        return -1;
    }
    db->lock_fd = fd;
    return 0;
}

static void db_unlock(struct db *db)
{
    if (db->lock_fd < 0) return;
    if (ftruncate(db->lock_fd, 0) != 0) { /* a stale pid in an unlocked file is harmless */ }
    close(db->lock_fd);   /* releases the flock */
    db->lock_fd = -1;
}

/* ---- recognising the file ------------------------------------------------------------ */

/* Reads the file's identity: application_id, user_version and how many schema objects
 * it has. The first read of the file: a file that is not SQLite fails here, untouched. */
static int db_identify(struct db *db, int64_t *app_id, int *version, int *n_objects, char *err)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT (SELECT application_id FROM pragma_application_id), "
                      "(SELECT user_version FROM pragma_user_version), "
                      "(SELECT count(*) FROM sqlite_master)";
    int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *app_id = sqlite3_column_int64(st, 0);
            *version = sqlite3_column_int(st, 1);
            *n_objects = sqlite3_column_int(st, 2);
        }
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_ROW) return 0;
    int code = sqlite3_errcode(db->h) & 0xff;
    if (code == SQLITE_NOTADB)
        snprintf(err, CASCADE_ERR_MAX, "%s: not a cascade database (%s)", db->path, sqlite3_errmsg(db->h));
    else if (code == SQLITE_CORRUPT)
        snprintf(err, CASCADE_ERR_MAX, "%s: the database is corrupt (%s)", db->path, sqlite3_errmsg(db->h));
    else
        db_fail(db, "cannot read it", err);
    return -1;
}

/* Checks the identity against what this mode can use; *is_new: an empty file. */
static int db_check_identity(struct db *db, int64_t app_id, int version, int n_objects, int *is_new, char *err)
{
    *is_new = app_id == 0 && version == 0 && n_objects == 0;
    if (*is_new) {
        if (db->mode == DB_WRITE) return 0;
        snprintf(err, CASCADE_ERR_MAX, "%s: not a cascade database (an empty file)", db->path);
        return -1;
    }
    if (app_id != DB_APPLICATION_ID || version < 1) {
        snprintf(err, CASCADE_ERR_MAX, "%s: not a cascade database (an SQLite database of another application)", db->path);
        return -1;
    }
    if (version > DB_SCHEMA_VERSION) {
        snprintf(err, CASCADE_ERR_MAX, "%s: schema version %d is newer than this cascade knows (%d); "
                 "use a newer cascade", db->path, version, DB_SCHEMA_VERSION);
        return -1;
    }
    if (db->mode == DB_READ_ONLY && version < DB_READ_MIN_VERSION) {
        snprintf(err, CASCADE_ERR_MAX, "%s: schema version %d is too old to read; opening it for writing "
                 "(resuming its campaign) migrates it", db->path, version);
        return -1;
    }
    return 0;
}

/* ---- creating and migrating ---------------------------------------------------------- */

static int exec_or_fail(sqlite3 *h, const char *path, const char *sql, const char *what, char *err)
{
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    snprintf(err, CASCADE_ERR_MAX, "%s: %s: %s", path, what, msg ? msg : sqlite3_errmsg(h));
    sqlite3_free(msg);
    return -1;
}

static int read_user_version(sqlite3 *h, int *version)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Fails when PRAGMA foreign_key_check reports a row. */
static int check_foreign_keys(sqlite3 *h, const char *path, const char *what, char *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, CASCADE_ERR_MAX, "%s: %s: %s", path, what, sqlite3_errmsg(h));
        return -1;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(err, CASCADE_ERR_MAX, "%s: %s: a row of table %s refers to a missing row of %s",
                 path, what, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 2));
    else if (rc != SQLITE_DONE)
        snprintf(err, CASCADE_ERR_MAX, "%s: %s: %s", path, what, sqlite3_errmsg(h));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The views that `schema` creates (each CREATE VIEW statement starting a line): drops
 * them all (create = 0; a view may read another, so all go before any is made again) or
 * creates them in order (create = 1). Views the schema does not name (a user's own) are
 * left alone. */
static int schema_views(sqlite3 *h, const char *path, const char *schema, int create, const char *what, char *err)
{
    static const char key[] = "\nCREATE VIEW ";
    for (const char *p = strstr(schema, key); p; p = strstr(p + 1, key)) {
        const char *name = p + sizeof key - 1;
        char view[128], *drop = NULL;
        snprintf(view, sizeof view, "%.*s", (int)strcspn(name, " ("), name);
        if (!create && !(drop = sqlite3_mprintf("DROP VIEW IF EXISTS \"%w\"", view))) {
            snprintf(err, CASCADE_ERR_MAX, "%s: %s: out of memory", path, what);
            return -1;
        }
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(h, create ? p + 1 : drop, -1, &st, NULL);   /* the first statement only */
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            sqlite3_finalize(st);
        }
        sqlite3_free(drop);
        if (rc != SQLITE_DONE) {
            snprintf(err, CASCADE_ERR_MAX, "%s: %s: view %s: %s", path, what, view, sqlite3_errmsg(h));
            return -1;
        }
    }
    return 0;
}

/* views: NULL, or the schema whose views replace the file's (db_migrate). */
static int migrate_step(sqlite3 *h, const char *path, const char *sql, int to, const char *views, char *err)
{
    char what[96], pragma[64];
    snprintf(what, sizeof what, "migrating schema version %d to %d", to - 1, to);
    if (exec_or_fail(h, path, "BEGIN IMMEDIATE", what, err) != 0) return -1;
    int v = -1;
    if (read_user_version(h, &v) != 0 || v != to - 1) {
        snprintf(err, CASCADE_ERR_MAX, "%s: %s: the file is at version %d", path, what, v);
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", to);
    if ((views && schema_views(h, path, views, 0, what, err) != 0) ||
        (sql && exec_or_fail(h, path, sql, what, err) != 0) ||
        (views && schema_views(h, path, views, 1, what, err) != 0) ||
        exec_or_fail(h, path, pragma, what, err) != 0 ||
        check_foreign_keys(h, path, what, err) != 0 ||
        exec_or_fail(h, path, "COMMIT", what, err) != 0) {
        if (!sqlite3_get_autocommit(h)) sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int db_migrate(sqlite3 *h, const char *path, const char *const *steps, int from, int to, const char *views,
               char *err)
{
    assert(from >= 0 && from <= to);
    sqlite3_exec(h, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
    int rc = 0;
    for (int v = from + 1; v <= to && rc == 0; v++) rc = migrate_step(h, path, steps[v], v, v == to ? views : NULL, err);
    sqlite3_exec(h, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return rc;
}

/* A new file: the whole schema in one transaction. */
static int db_create_schema(struct db *db, char *err)
{
    const char *what = "creating the schema";
    if (exec_or_fail(db->h, db->path, "BEGIN IMMEDIATE", what, err) != 0) return -1;
    int v = -1;
    if (exec_or_fail(db->h, db->path, db_schema_sql, what, err) != 0 || read_user_version(db->h, &v) != 0) {
        db_rollback(db);
        return -1;
    }
    assert(v == DB_SCHEMA_VERSION);   /* db/schema.sql ends with PRAGMA user_version = DB_SCHEMA_VERSION */
    return exec_or_fail(db->h, db->path, "COMMIT", what, err) == 0 ? 0 : (db_rollback(db), -1);
}

/* ---- reading a file whose directory cannot be written ------------------------------- */

void db_immutable_uri(char *out, size_t n, const char *path)
{
    assert(n >= DB_URI_MAX && strlen(path) < DB_PATH_MAX);
    size_t k = (size_t)snprintf(out, n, "file:%s", path[0] == '/' ? "//" : "");   /* "file:///abs", "file:rel" */
    for (const char *p = path; *p; p++)
        k += (size_t)(strchr("%?#", *p) ? snprintf(out + k, n - k, "%%%02X", (unsigned char)*p)
                                        : snprintf(out + k, n - k, "%c", *p));
    snprintf(out + k, n - k, "?immutable=1");
}

int db_read_fallback(const char *path, int sqlite_code, char *err)
{
    if (sqlite_code != SQLITE_READONLY && sqlite_code != SQLITE_CANTOPEN) return 0;
    char wal[DB_PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct stat sb;
    if (stat(wal, &sb) == 0 && sb.st_size > 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot read it: its write-ahead log %s may hold commits that are not in "
                 "the file yet, and reading them needs write access to its directory", path, wal);
        return -1;
    }
    return 1;
}

/* ---- open and close ------------------------------------------------------------------ */

static int db_open_sqlite(struct db *db, char *err)
{
    int flags = db->mode == DB_WRITE ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    char uri[DB_URI_MAX];
    const char *name = db->path;
    if (db->immutable) {
        db_immutable_uri(uri, sizeof uri, db->path);
        name = uri;
        flags |= SQLITE_OPEN_URI;
    }
    if (sqlite3_open_v2(name, &db->h, flags, NULL) != SQLITE_OK) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot open: %s", db->path,
                 db->h ? sqlite3_errmsg(db->h) : "out of memory");
        return -1;
    }
    sqlite3_extended_result_codes(db->h, 0);
    sqlite3_busy_timeout(db->h, DB_BUSY_TIMEOUT_MS);
    /* fts3_tokenizer(NAME, PTR) registers a tokenizer at any address: off, so that no
     * statement, a view of a file from elsewhere included, can (db/query.c denies the
     * one-argument form, which only reads an address, in --sql) */
    if (sqlite3_db_config(db->h, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, (int *)NULL) != SQLITE_OK) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot turn off fts3_tokenizer: %s", db->path, sqlite3_errmsg(db->h));
        return -1;
    }
    return 0;
}

/* db_identify for a reader, with the fallback of "Reading" (top of this file). */
static int db_identify_reader(struct db *db, int64_t *app_id, int *version, int *n_objects, char *err)
{
    if (db_identify(db, app_id, version, n_objects, err) == 0) return 0;
    int fallback = db_read_fallback(db->path, sqlite3_errcode(db->h) & 0xff, err);
    if (fallback <= 0) return -1;
    sqlite3_close_v2(db->h);
    db->h = NULL;
    db->immutable = 1;
    if (db_open_sqlite(db, err) != 0) return -1;
    return db_identify(db, app_id, version, n_objects, err);
}

static int db_setup(struct db *db, char *err)
{
    int64_t app_id = 0;
    int version = 0, n_objects = 0, is_new = 0;
    int rc = db->mode == DB_READ_ONLY ? db_identify_reader(db, &app_id, &version, &n_objects, err)
                                      : db_identify(db, &app_id, &version, &n_objects, err);
    if (rc != 0) return -1;
    if (db_check_identity(db, app_id, version, n_objects, &is_new, err) != 0) return -1;
    db->version = db->mode == DB_WRITE ? DB_SCHEMA_VERSION : version;   /* a writer migrates below */
    if (db->mode == DB_READ_ONLY)
        return exec_or_fail(db->h, db->path, "PRAGMA foreign_keys = ON; PRAGMA query_only = ON", "setting up", err);
    if (exec_or_fail(db->h, db->path, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
                     "setting up", err) != 0)
        return -1;
    rc = 0;
    if (is_new) rc = db_create_schema(db, err);
    else if (version < DB_SCHEMA_VERSION)
        rc = db_migrate(db->h, db->path, db_migrations, version, DB_SCHEMA_VERSION, db_schema_sql, err);
    if (rc != 0) return -1;
    return exec_or_fail(db->h, db->path, "PRAGMA foreign_keys = ON", "setting up", err);
}

int db_open(struct db **out, const char *path, enum db_mode mode, char *err)
{
    *out = NULL;
    assert(mode == DB_READ_ONLY || mode == DB_WRITE);
    if (!path || !path[0] || strlen(path) >= DB_PATH_MAX) {
        snprintf(err, CASCADE_ERR_MAX, "database path is empty or longer than %d bytes", DB_PATH_MAX - 1);
        return -1;
    }
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (!exists && (mode == DB_READ_ONLY || errno != ENOENT)) {
        if (errno == ENOENT) snprintf(err, CASCADE_ERR_MAX, "%s: no such database", path);
        else snprintf(err, CASCADE_ERR_MAX, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (exists && S_ISDIR(sb.st_mode)) {
        snprintf(err, CASCADE_ERR_MAX, "%s: is a directory, not a database file", path);
        return -1;
    }
    struct db *db = calloc(1, sizeof *db);
    if (!db) { snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", path); return -1; }
    db->mode = mode;
    db->lock_fd = -1;
    snprintf(db->path, sizeof db->path, "%s", path);
    if ((mode == DB_WRITE && db_lock(db, err) != 0) || db_open_sqlite(db, err) != 0 || db_setup(db, err) != 0) {
        db_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

void db_close(struct db *db)
{
    if (!db) return;
    if (db->h) sqlite3_close_v2(db->h);   /* a writer's close checkpoints the WAL */
    db_unlock(db);
    free(db);
}
