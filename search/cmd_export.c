/* search/cmd_export.c — `cascade export --db FILE [--campaign NAME] --run NAME --out FILE.json`:
 * writes the architecture a campaign chose as a `cascade train` config, for a full-length
 * training elsewhere.
 *
 * Output (the trainer's config schema, trainer/config.c; every key written):
 *   {"data":  the campaign's data section (path, val_fraction),
 *    "model": the run's model config: vocab_size, n_layer, n_embd, n_head, seq_len,
 *             layernorm (false where the probe had none), residual_scale_init,
 *             embed_scale, sd_s_init_std, "attention": [one kind per layer],
 *             "head_dim": [one per layer],
 *    "train": the campaign's training section (batch, steps, schedule, seed, ...)}
 * The data and train sections come from the campaign's recorded setup ("train_config",
 * resolved with every default) or, for a database that predates it, from the campaign's
 * config as given. The file is checked by loading it with the trainer's loader before it
 * is written, so what export writes, `cascade train --config` reads.
 */
#include "search/cli.h"
#include "db/db.h"
#include "trainer/trainer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The campaign's data and train sections: the recorded setup's resolved train_config, or
 * the config as given. A new cJSON object with "data" and "train" (either may be absent). */
static cJSON *campaign_sections(const struct db_campaign *dc)
{
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

/* Builds the config text of `run` in campaign dc; NULL with err on failure. */
static char *export_text(struct db *db, const struct db_campaign *dc, const char *run, char *err)
{
    struct db_run *rows;
    int n;
    if (db_runs_list(db, dc->id, &rows, &n, err) != 0) return NULL;
    const struct db_run *r = NULL;
    for (int i = 0; i < n; i++) if (strcmp(rows[i].name, run) == 0) r = &rows[i];
    char *text = NULL;
    if (!r) {
        snprintf(err, CASCADE_ERR_MAX, "%s: campaign '%s' has no run named '%s' (cascade query runs lists them)",
                 db_path(db), dc->name, run);
    } else if (!r->arch_json[0]) {
        snprintf(err, CASCADE_ERR_MAX, "%s: run '%s' has no recorded model config (arch_json)", db_path(db), run);
    } else {
        cJSON *out = campaign_sections(dc), *model = cJSON_Parse(r->arch_json);
        if (out && cJSON_IsObject(model)) {
            cJSON_AddItemToObject(out, "model", model);
            model = NULL;
            text = cJSON_Print(out);
        }
        if (!text) snprintf(err, CASCADE_ERR_MAX, "%s: run '%s': its model config does not read as JSON", db_path(db), run);
        cJSON_Delete(model);
        cJSON_Delete(out);
    }
    db_runs_free(rows, n);
    return text;
}

int cmd_export(int argc, char **argv)
{
    const char *cmd = "export", *dbpath = NULL, *campaign = NULL, *run = NULL, *out = NULL;
    int r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(argc, argv, &i, cmd, "--db", &dbpath))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--campaign", &campaign))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--run", &run))) { if (r < 0) return 2; continue; }
        if ((r = cli_opt(argc, argv, &i, cmd, "--out", &out))) { if (r < 0) return 2; continue; }
        return cli_unknown(cmd, argv[i]);
    }
    if (!dbpath || !run || !out) {
        fprintf(stderr, "cascade export: --db FILE, --run NAME and --out FILE.json are required\n");
        return 2;
    }
    char err[CASCADE_ERR_MAX];
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
    char *text = export_text(db, &dc, run, err);
    db_campaign_free(&dc);
    db_close(db);
    db = NULL;
    if (!text) { fprintf(stderr, "cascade export: %s\n", err); return 2; }
    /* what export writes must be what train reads */
    struct train_config tc;
    int rc = 0;
    if (cli_mkdir_parent(out) != 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot create its directory: %s", out, strerror(errno));
        rc = 1;
    } else if (write_atomically(out, text, err) != 0 || trainer_config_load(&tc, out, err) != 0) {
        rc = 1;
    } else {
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
