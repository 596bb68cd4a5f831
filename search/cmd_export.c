/* search/cmd_export.c — `cascade export --db FILE [--campaign NAME] --run NAME --out FILE.json
 * [--force]`: writes the architecture a campaign chose as a `cascade train` config, for a
 * full-length training elsewhere.
 *
 * Output (the trainer's config schema, trainer/config.c; every key written):
 *   {"data":  the campaign's data section (path, val_fraction),
 *    "model": the run's model config: vocab_size, n_layer, n_embd, n_head, seq_len,
 *             layernorm (false where the probe had none), residual_scale_init,
 *             embed_scale, sd_s_init_std, "attention": [one kind per layer],
 *             "head_dim": [one per layer] (or "qk_dim" and "v_dim" where they differ),
 *    "train": the campaign's training section (batch, steps, schedule, seed, ...)}
 * The data and train sections come from the campaign's recorded setup ("train_config",
 * resolved with every default) or, for a database that predates it, from the campaign's
 * config as given. The config is checked with the trainer's own reader before it is
 * written, and read back after, so what export writes, `cascade train --config` reads.
 *
 * Rules (each refusal is one line and exit status 2):
 *   - only a done run is exported: a queued or running one has not finished, a failed one
 *     diverged or crashed, and none has a result to justify training it at full length;
 *   - a run without a recorded architecture (arch_json empty or {}, as schema version 1
 *     kept it) is refused: the trainer would fill the model with its defaults, which is
 *     not the run;
 *   - an existing --out is replaced only with --force, as `cascade train` keeps an
 *     existing checkpoint;
 *   - a relative data.path is relative to the directory the campaign ran from, not to
 *     where the exported file is used: it is written absolute, joined to the setup's
 *     "cwd" (realpath where the file exists there). A campaign recorded before "cwd"
 *     existed is resolved against the current directory where the file exists there, and
 *     otherwise kept as it is; either way a note on stderr says so.
 */
#include "search/cli.h"
#include "db/db.h"
#include "trainer/trainer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Collects campaign names (at most 2: enough to know there is more than one). */
struct names { char first[128]; int n; };
static int collect_name(void *user, const struct db_row *row)
{
    struct names *nm = user;
    if (row->index < 0) return 0;
    if (nm->n++ == 0) snprintf(nm->first, sizeof nm->first, "%s", row->values[0] ? row->values[0] : "");
    return 0;
}

/* Makes the exported data.path absolute (the rules at the top of this file). path is the
 * path as the campaign read it, dir the directory it ran from (NULL where not recorded).
 * Writes the path to use into out (n bytes) and, where the reader should know how it was
 * found, a note; -1 with err when the result does not fit. */
static int resolve_data_path(const char *path, const char *dir, char *out, size_t n, char *note, size_t note_n,
                             char *err)
{
    note[0] = 0;
    if (path[0] == '/' || !path[0]) { snprintf(out, n, "%s", path); return 0; }
    char joined[2 * TRAINER_PATH_MAX];
    if (dir && dir[0] == '/') snprintf(joined, sizeof joined, "%s/%s", dir, path);
    else snprintf(joined, sizeof joined, "%s", path);
    char *real = realpath(joined, NULL);   /* where the file exists: its canonical path */
    const char *use = real ? real : dir && dir[0] == '/' ? joined : path;
    if ((size_t)snprintf(out, n, "%s", use) >= n) {
        snprintf(err, CASCADE_ERR_MAX, "data.path '%s' resolves to a path longer than %zu bytes", path, n - 1);
        free(real);
        return -1;
    }
    if (dir && dir[0] == '/' && !real)
        snprintf(note, note_n, "data.path '%s' is written as %s (the campaign ran in %s), but no file is there now",
                 path, out, dir);
    else if (!(dir && dir[0] == '/') && real)
        snprintf(note, note_n, "data.path '%s' is written as %s: the campaign did not record the directory it ran "
                 "from, so it was resolved against the current one; check that it is the campaign's corpus", path, out);
    else if (!real)
        snprintf(note, note_n, "data.path '%s' stays relative: the campaign did not record the directory it ran "
                 "from and no such file is in the current one; the exported config reads it relative to where "
                 "cascade train runs", path);
    free(real);
    return 0;
}

/* The campaign's data and train sections: the recorded setup's resolved train_config, or
 * the config as given; data.path made absolute (resolve_data_path). A new cJSON object
 * with "data" and "train" (either may be absent); NULL with err on failure. */
static cJSON *campaign_sections(const struct db_campaign *dc, char *note, size_t note_n, char *err)
{
    err[0] = 0;
    cJSON *setup = dc->setup_json && dc->setup_json[0] ? cJSON_Parse(dc->setup_json) : NULL;
    cJSON *from = cJSON_GetObjectItemCaseSensitive(setup, "train_config");
    cJSON *config = NULL;
    if (!cJSON_IsObject(from)) {
        config = cJSON_Parse(dc->config_json);
        from = config;
    }
    cJSON *out = cJSON_CreateObject();
    static const char *const keys[] = { "data", "train" };
    for (int k = 0; out && k < 2; k++) {
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(from, keys[k]);
        if (cJSON_IsObject(sec)) cJSON_AddItemToObject(out, keys[k], cJSON_Duplicate(sec, 1));
    }
    /* the file the campaign read: data.path, else (a config that left it to the default)
     * the setup's corpus_path */
    cJSON *data = cJSON_GetObjectItemCaseSensitive(out, "data");
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(data, "path");
    const char *path = cJSON_IsString(given) ? given->valuestring : NULL;
    if (!path) {
        const cJSON *cp = cJSON_GetObjectItemCaseSensitive(setup, "corpus_path");
        path = cJSON_IsString(cp) ? cp->valuestring : NULL;
    }
    note[0] = 0;
    if (out && path) {
        const cJSON *cwd = cJSON_GetObjectItemCaseSensitive(setup, "cwd");
        char resolved[TRAINER_PATH_MAX];
        char e[CASCADE_ERR_MAX];
        if (resolve_data_path(path, cJSON_IsString(cwd) ? cwd->valuestring : NULL, resolved, sizeof resolved, note,
                              note_n, e) != 0) {
            snprintf(err, CASCADE_ERR_MAX, "campaign '%s': %s", dc->name, e);
            cJSON_Delete(out);
            out = NULL;
        } else {
            if (!data) data = cJSON_AddObjectToObject(out, "data");
            cJSON *s = cJSON_CreateString(resolved);
            if (!data || !s || !(cJSON_HasObjectItem(data, "path") ? cJSON_ReplaceItemInObjectCaseSensitive(data, "path", s)
                                                                    : cJSON_AddItemToObject(data, "path", s))) {
                cJSON_Delete(s);
                cJSON_Delete(out);
                out = NULL;
            }
        }
    }
    if (!out && !err[0]) snprintf(err, CASCADE_ERR_MAX, "out of memory");
    cJSON_Delete(setup);
    cJSON_Delete(config);
    return out;
}

/* Writes text to path atomically (a unique temporary file beside it, then rename). */
static int write_atomically(const char *path, const char *text, char *err)
{
    char tmp[TRAINER_PATH_MAX + 8];
    FILE *f = trainer_fopen_temp(path, tmp, sizeof tmp, err);
    if (!f) return -1;
    err[0] = 0;
    int bad = fputs(text, f) == EOF || fputc('\n', f) == EOF;
    return trainer_commit_temp(f, tmp, path, bad, err);
}

/* An architecture was recorded: arch_json is a JSON object with members. Version 1 of the
 * schema wrote "{}" for every run. */
static int has_architecture(const char *arch_json)
{
    if (!arch_json[0]) return 0;
    cJSON *a = cJSON_Parse(arch_json);
    int empty = cJSON_IsObject(a) && !a->child;   /* text that is no object is reported as such later */
    cJSON_Delete(a);
    return !empty;
}

/* Builds the config text of `run` in campaign dc, checked with the trainer's reader
 * (errors labelled with out, the file it goes to); NULL with err on failure. */
static char *export_text(struct db *db, const struct db_campaign *dc, const char *run, const char *out_path,
                         char *note, size_t note_n, char *err)
{
    struct db_run *rows;
    int n;
    note[0] = 0;
    if (db_runs_list(db, dc->id, &rows, &n, err) != 0) return NULL;
    const struct db_run *r = NULL;
    for (int i = 0; i < n; i++) if (strcmp(rows[i].name, run) == 0) r = &rows[i];
    char *text = NULL;
    err[0] = 0;
    if (!r) {
        snprintf(err, CASCADE_ERR_MAX, "%s: campaign '%s' has no run named '%s' (cascade query runs lists them)",
                 db_path(db), dc->name, run);
    } else if (r->status != DB_DONE) {
        snprintf(err, CASCADE_ERR_MAX, "%s: run '%s' of campaign '%s' is %s; only a done run is exported (one with a "
                 "result)", db_path(db), run, dc->name, db_status_name(r->status));
    } else if (!has_architecture(r->arch_json)) {
        snprintf(err, CASCADE_ERR_MAX, "%s: run '%s' has no recorded architecture (arch_json is empty, as in a "
                 "database of schema version 1); nothing to export", db_path(db), run);
    } else {
        cJSON *out = campaign_sections(dc, note, note_n, err), *model = cJSON_Parse(r->arch_json);
        if (out && cJSON_IsObject(model)) {
            cJSON_AddItemToObject(out, "model", model);
            model = NULL;
            /* what export writes must be what train reads */
            struct train_config tc;
            if (trainer_config_from_json(&tc, out, out_path, "", err) == 0 &&
                trainer_config_validate(&tc, out_path, err) == 0)
                text = cJSON_Print(out);
            else if (!err[0])
                snprintf(err, CASCADE_ERR_MAX, "%s: the config of run '%s' does not read back", out_path, run);
        } else if (out) {
            snprintf(err, CASCADE_ERR_MAX, "%s: run '%s': its model config (arch_json) does not read as a JSON object",
                     db_path(db), run);
        }
        if (!text && !err[0]) snprintf(err, CASCADE_ERR_MAX, "out of memory");
        cJSON_Delete(model);
        cJSON_Delete(out);
    }
    db_runs_free(rows, n);
    return text;
}

int cmd_export(int argc, char **argv)
{
    const char *cmd = "export", *dbpath = NULL, *campaign = NULL, *run = NULL, *out = NULL;
    int r, force = 0;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(argc, argv, &i, cmd, "--db", &dbpath))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--campaign", &campaign))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--run", &run))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--out", &out))) { if (r < 0) return 2; continue; }
        if (strcmp(argv[i], "--force") == 0) { force = 1; continue; }
        return cli_unknown(cmd, argv[i]);
    }
    if (!dbpath || !run || !out) {
        fprintf(stderr, "cascade export: --db FILE, --run NAME and --out FILE.json are required\n");
        return 2;
    }
    if (!out[0]) {
        fprintf(stderr, "cascade export: --out: the path is empty; name the file to write (FILE.json)\n");
        return 2;
    }
    struct stat st;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cascade export: --out %s is a directory; name the file to write (FILE.json)\n", out);
        return 2;
    }
    char err[CASCADE_ERR_MAX], note[CASCADE_ERR_MAX + TRAINER_PATH_MAX];
    struct db *db;
    if (db_open(&db, dbpath, DB_READ_ONLY, err) != 0) { fprintf(stderr, "cascade export: %s\n", err); return 2; }
    struct names nm = { "", 0 };
    if (!campaign) {
        if (db_query_sql(db, "SELECT name FROM campaigns ORDER BY id", collect_name, &nm, err) != 0) goto bad;
        if (nm.n != 1) {
            snprintf(err, CASCADE_ERR_MAX, "%s: %s; name one with --campaign", dbpath,
                     nm.n ? "holds several campaigns" : "holds no campaign");
            goto bad;
        }
        campaign = nm.first;
    }
    struct db_campaign dc;
    if (db_campaign_get(db, campaign, &dc, err) != 0) goto bad;
    char *text = export_text(db, &dc, run, out, note, sizeof note, err);
    db_campaign_free(&dc);
    db_close(db);
    db = NULL;
    if (!text) { fprintf(stderr, "cascade export: %s\n", err); return 2; }
    /* as `cascade train` keeps an existing checkpoint: a config someone may have edited
     * is replaced only when asked (checked after the run, whose errors come first) */
    if (!force && lstat(out, &st) == 0) {
        fprintf(stderr, "cascade export: %s exists; pass --force to replace it, or --out NEW.json\n", out);
        free(text);
        return 2;
    }
    struct train_config tc;
    int rc = 0;
    if (host_mkdir_parent(out) != 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot create its directory: %s", out, strerror(errno));
        rc = 1;
    } else if (write_atomically(out, text, err) != 0 || trainer_config_load(&tc, out, err) != 0) {
        rc = 1;
    } else {
        if (note[0]) fprintf(stderr, "cascade export: note: %s\n", note);
        printf("wrote %s: run '%s' of campaign '%s' as a training config (cascade train --config %s)\n", out, run,
               campaign, out);
    }
    free(text);
    if (rc) fprintf(stderr, "cascade export: %s\n", err);
    return rc;
bad:
    fprintf(stderr, "cascade export: %s\n", err);
    if (db) db_close(db);
    return 2;
}
