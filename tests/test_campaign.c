/* tests/test_campaign.c — `cascade search` end to end on a small corpus the test writes:
 * a whole campaign, kill -9 then resume (the database must equal an uninterrupted run's),
 * a second process refused, bad configs and a corrupt database, and a diverging run. */
#include "test.h"
#include "tests/db_fixture.h"
#include "search/campaign.h"
#include "search/executor.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ~60 KB of pseudo-English from a fixed generator: enough structure to learn a little. */
static void write_corpus(const char *path)
{
    static const char *const words[] = { "the", "a", "jury", "said", "county", "election", "was", "of",
                                         "in", "and", "city", "report", "that", "it", "found", "money" };
    FILE *f = fopen(path, "w");
    uint64_t rng = 42;
    for (int s = 0; s < 2500; s++) {
        int n = 4 + trainer_rng_next(&rng) % 8;
        for (int w = 0; w < n; w++) fprintf(f, "%s%s", w ? " " : "", words[(w * 5 + trainer_rng_next(&rng) % 6) % 16]);
        fputs(" .\n", f);
    }
    fclose(f);
}

/* Writes a campaign config over the corpus; `extra` is spliced into "search". */
static void write_config(struct test_ctx *t_, const char *name, const char *runs, const char *extra, char *path, size_t n)
{
    char corpus[512], text[2048];
    test_tmppath(corpus, sizeof corpus, "corpus.txt");
    if (access(corpus, F_OK) != 0) write_corpus(corpus);
    snprintf(text, sizeof text,
             "{\"name\": \"%s\", \"data\": {\"path\": \"%s\", \"val_fraction\": 0.1},\n"
             " \"model\": {\"n_layer\": 3, \"n_embd\": 16, \"n_head\": 2, \"seq_len\": 16},\n"
             " \"train\": {\"steps\": 40, \"batch_size\": 4, \"lr\": 5e-3, \"warmup_steps\": 4,\n"
             "           \"log_every\": 5, \"eval_batches\": 4, \"checkpoint_every\": 10, \"threads\": 1},\n"
             " \"search\": {\"linear_threshold\": 50, \"max_prefix\": 2, \"multipliers\": [0.5],%s\n"
             "            \"runs_dir\": \"%s\"%s}}\n", name, corpus,
             strstr(extra, "\"measure\"") ? "" : " \"measure\": \"erank\",", runs, extra);
    char file[128];
    snprintf(file, sizeof file, "%s.json", name);
    test_tmppath(path, n, file);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* Gives the config written by write_config another train.seed; 0 on success. */
static int set_train_seed(const char *cfg, int seed)
{
    char *text = test_read_file(cfg, NULL), patched[4096];
    char *at = text ? strstr(text, "\"threads\": 1}") : NULL;
    if (at) snprintf(patched, sizeof patched, "%.*s\"threads\": 1, \"seed\": %d}%s", (int)(at - text), text, seed,
                     at + strlen("\"threads\": 1}"));
    int rc = at ? test_write_text(cfg, patched) : -1;
    free(text);
    return rc;
}

static int search(const char *config, const char *db, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s search --config %s --db %s", test_cascade_bin(), config, db);
    return test_run(cmd, out);
}

__attribute__((noinline)) static char *query(const char *db, const char *sql)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s query --db %s --format csv --sql \"%s\"", test_cascade_bin(), db, sql);
    test_run(cmd, &out);
    return out;
}

/* Writes campaign `name`'s config (runs_NAME/, NAME.db in the test directory; `extra` as
 * in write_config) and runs it to the end; the exit status, with its output in *out. */
static int run_campaign(struct test_ctx *t_, const char *name, const char *extra, char *cfg, char *db, char **out)
{
    char runs[512], file[128];
    snprintf(file, sizeof file, "runs_%s", name);
    test_tmppath(runs, sizeof runs, file);
    snprintf(file, sizeof file, "%s.db", name);
    test_tmppath(db, 512, file);
    write_config(t_, name, runs, extra, cfg, 512);
    return search(cfg, db, out);
}

/* The number on the last line of `out` (-1 when there is none). */
static int last_number(const char *out)
{
    if (!out) return -1;
    const char *end = out + strlen(out);
    while (end > out && (end[-1] == '\n' || end[-1] == '\r')) end--;
    const char *at = end;
    while (at > out && at[-1] != '\n') at--;
    return at < end && at[0] >= '0' && at[0] <= '9' ? atoi(at) : -1;
}

#define RESULTS_SQL "SELECT run, role, status, arch, params_attention, val_loss, perplexity, delta_ppl_pct, pareto FROM v_results ORDER BY seq"

TEST(campaign_end_to_end)
{
    char cfg[512], db[512], runs[512], *out = NULL;
    test_tmppath(runs, sizeof runs, "runs_e2e");
    test_tmppath(db, sizeof db, "e2e_new_dir/e2e.db");   /* the database's directory is made */
    write_config(t_, "e2e", runs, "", cfg, sizeof cfg);
    int rc = search(cfg, db, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK(strstr(out, "stage 3/3") != NULL && strstr(out, "finished") != NULL);
    free(out);
    /* probe, standard, lin1, lin2 (threshold 50: every layer qualifies, max_prefix 2),
     * std_lin1, std_lin2, cut_m0.5, lin2_cut_m0.5, the blind controls linlast1,
     * linlast2 (cut_m0.5 is uniform d 4: it is its own uniform and reversed control), and
     * the probe's replicates probe_r2, probe_r3 */
    out = query(db, "SELECT count(*), sum(status = 'done') FROM runs");
    CHECK_MSG(strstr(out, "12,12") != NULL, "%s", out);
    free(out);
    out = query(db, "SELECT seed FROM runs WHERE name = 'probe_r3'");
    CHECK_MSG(strstr(out, "\n1339") != NULL, "%s", out);
    free(out);
    /* who controls what, what replicates what, and each Δ's reference are recorded */
    out = query(db, "SELECT r.name, r.control_of, r.replicate_of, x.reference_run FROM runs r JOIN results x "
                    "ON x.run_id = r.id WHERE r.name IN ('linlast2', 'std_lin1', 'probe_r2', 'cut_m0.5') ORDER BY r.name");
    CHECK_MSG(strstr(out, "cut_m0.5,,,probe") && strstr(out, "linlast2,lin2,,probe") &&
              strstr(out, "probe_r2,,probe,probe") && strstr(out, "std_lin1,lin1,,probe"), "%s", out);
    free(out);
    out = query(db, "SELECT delta_ppl_pct, attention_saved_pct FROM v_results WHERE run = 'probe'");
    CHECK_MSG(strstr(out, "\n0.0,0.0") != NULL, "%s", out);
    free(out);
    /* every head of the probe measured at both levels; the Pareto front is non-empty and
     * every run on it is undominated */
    out = query(db, "SELECT count(*) FROM head_measures h JOIN runs r ON r.id = h.run_id WHERE r.name = 'probe'");
    CHECK_MSG(strstr(out, "\n12") != NULL, "%s", out);   /* 3 layers x 2 heads x 2 levels */
    free(out);
    out = query(db, "SELECT count(*) FROM v_pareto p WHERE EXISTS (SELECT 1 FROM v_results x WHERE x.status = 'done' "
                    "AND x.params_attention <= p.params_attention AND x.perplexity < p.perplexity "
                    "AND x.params_attention < p.params_attention)");
    CHECK_MSG(strstr(out, "\n0") != NULL, "%s", out);
    free(out);
    /* running it again reports the campaign as finished and changes nothing */
    rc = search(cfg, db, &out);
    CHECK(rc == 0 && strstr(out, "is finished") != NULL);
    free(out);
    /* a new database over the same checkpoints is refused: the folder is the other
     * campaign's (campaign.tag), and nothing is recorded in the new database */
    char db2[512];
    test_tmppath(db2, sizeof db2, "e2e_other.db");
    rc = search(cfg, db2, &out);
    CHECK_MSG(rc == 2 && strstr(out, "campaign.tag: the folder belongs to campaign 'e2e'") && strstr(out, "e2e.db"),
              "exit %d: %s", rc, out);
    free(out);
    out = query(db2, "SELECT count(*) FROM runs");
    CHECK_MSG(strstr(out, "\n0") != NULL, "%s", out);
    free(out);
    /* without the tag, each checkpoint of a run it never started is refused, said once */
    char tag[600];
    snprintf(tag, sizeof tag, "%s/e2e/campaign.tag", runs);
    REQUIRE(unlink(tag) == 0);
    rc = search(cfg, db2, &out);
    const char *said = out ? strstr(out, "has never started") : NULL;
    CHECK_MSG(rc != 0 && said && !strstr(said + 1, "has never started"), "exit %d: %s", rc, out);
    free(out);
}

TEST(campaign_kill9_then_resume_equals_uninterrupted)
{
    char cfg_a[512], cfg_b[512], db_a[512], db_b[512], runs_a[512], runs_b[512], *out = NULL;
    test_tmppath(runs_a, sizeof runs_a, "runs_a");
    test_tmppath(runs_b, sizeof runs_b, "runs_b");
    test_tmppath(db_a, sizeof db_a, "a.db");
    test_tmppath(db_b, sizeof db_b, "b.db");
    write_config(t_, "k9", runs_a, "", cfg_a, sizeof cfg_a);
    REQUIRE(search(cfg_a, db_a, &out) == 0);
    free(out);
    /* the same campaign (same name and config text, other runs_dir is part of the config,
     * so use a copy with b's dir) killed twice at different moments */
    write_config(t_, "k9", runs_b, "", cfg_b, sizeof cfg_b);
    const char *delays[] = { "0.4", "0.9" };
    for (int k = 0; k < 2; k++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s search --config %s --db %s > /dev/null 2>&1 & p=$!; sleep %s; kill -9 $p; wait $p",
                 test_cascade_bin(), cfg_b, db_b, delays[k]);
        test_run(cmd, NULL);
    }
    int rc = search(cfg_b, db_b, &out);
    REQUIRE_MSG(rc == 0, "resume exit %d: %s", rc, out);
    free(out);
    char *ra = query(db_a, RESULTS_SQL), *rb = query(db_b, RESULTS_SQL);
    CHECK_MSG(strcmp(ra, rb) == 0, "results differ:\n%s\nvs\n%s", ra, rb);
    free(ra); free(rb);
    /* nothing recorded twice: one row per (run, step) and per measured head */
    const char *counts = "SELECT (SELECT count(*) FROM steps), (SELECT count(*) FROM head_measures), "
                         "(SELECT count(*) FROM runs), (SELECT status FROM campaigns)";
    ra = query(db_a, counts);
    rb = query(db_b, counts);
    CHECK_MSG(strcmp(ra, rb) == 0, "counts differ: %s vs %s", ra, rb);
    free(ra); free(rb);
}

/* A campaign whose recorded probe is another model than this version would train (here:
 * recorded before embed_scale existed, so x1) is refused, not continued with a mixed probe. */
TEST(campaign_recorded_with_another_model_is_refused)
{
    char cfg[512], db[512], *out = NULL;
    int rc = run_campaign(t_, "old", "", cfg, db, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    free(out);
    /* as a stopped campaign of the older version would look */
    REQUIRE(db_fixture_exec(db, "UPDATE runs SET arch_json = json_remove(arch_json, '$.embed_scale') "
                                "WHERE name = 'probe'; UPDATE campaigns SET status = 'stopped', finished_at = NULL") == 0);
    rc = search(cfg, db, &out);
    CHECK_MSG(rc != 0 && strstr(out, "run 'probe' of campaign 'old' was recorded with another model: embed_scale 1 "
                                     "(this version gives 32"), "exit %d: %s", rc, out);
    free(out);
}

TEST(campaign_second_process_is_refused)
{
    char cfg[512], db[512], lock[600], runs[512], *out = NULL;
    test_tmppath(runs, sizeof runs, "runs_lock");
    test_tmppath(db, sizeof db, "locked.db");
    write_config(t_, "lockt", runs, "", cfg, sizeof cfg);
    snprintf(lock, sizeof lock, "%s.lock", db);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    REQUIRE(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);   /* as another campaign would */
    int rc = search(cfg, db, &out);
    CHECK_MSG(rc == 2 && strstr(out, "in use"), "exit %d: %s", rc, out);
    free(out);
    close(fd);
    /* another database, the same campaign folder, while a campaign holds it (its lock on
     * campaign.tag, as a running campaign does): refused before anything is written */
    char tag[700], cmd[800], db2[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/lockt", runs);
    REQUIRE(system(cmd) == 0);
    snprintf(tag, sizeof tag, "%s/lockt/campaign.tag", runs);
    fd = open(tag, O_RDWR | O_CREAT, 0644);
    REQUIRE(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    test_tmppath(db2, sizeof db2, "locked_other.db");
    rc = search(cfg, db2, &out);
    CHECK_MSG(rc == 2 && strstr(out, "campaign.tag: another cascade process is running a campaign in"), "exit %d: %s",
              rc, out);
    free(out);
    close(fd);
}

TEST(campaign_bad_inputs_are_clear_errors)
{
    char cfg[512], db[512], runs[512], *out = NULL;
    test_tmppath(runs, sizeof runs, "runs_bad");
    write_config(t_, "bad", runs, ", \"retrain\": \"sometimes\"", cfg, sizeof cfg);
    test_tmppath(db, sizeof db, "bad.db");
    int rc = search(cfg, db, &out);
    CHECK_MSG(rc == 2 && strstr(out, "search.retrain") && strstr(out, "bad.json"), "exit %d: %s", rc, out);
    free(out);
    /* a corrupt database: refused, and left as it was */
    write_config(t_, "bad", runs, "", cfg, sizeof cfg);
    FILE *f = fopen(db, "w");
    for (int i = 0; i < 4096; i++) fputc((i * 37) & 0xff, f);
    fclose(f);
    rc = search(cfg, db, &out);
    CHECK_MSG(rc == 2 && strstr(out, db), "exit %d: %s", rc, out);
    free(out);
    f = fopen(db, "r");
    int same = 1;
    for (int i = 0; i < 4096; i++) same &= fgetc(f) == ((i * 37) & 0xff);
    same &= fgetc(f) == EOF;
    fclose(f);
    CHECK(same);
    /* a missing flag value and an unknown flag */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s search --config", test_cascade_bin());
    rc = test_run(cmd, &out);
    CHECK(rc == 2 && strstr(out, "--config needs a value"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s search --bogus 1", test_cascade_bin());
    rc = test_run(cmd, &out);
    CHECK(rc == 2 && strstr(out, "unknown option '--bogus'"));
    free(out);
}

TEST(campaign_diverging_run_is_reported_failed)
{
    char cfg[512], runs[512], ck[600], err[CASCADE_ERR_MAX];
    test_tmppath(runs, sizeof runs, "runs_div");
    write_config(t_, "div", runs, "", cfg, sizeof cfg);
    struct campaign_config cc;
    REQUIRE_MSG(campaign_config_load(&cc, cfg, err) == 0, "%s", err);
    cc.base.lr = 1e9;          /* Adam steps of 1e9: the logits overflow */
    cc.base.grad_clip = 0;
    struct dataset ds;
    REQUIRE_MSG(data_load(&ds, cc.base.data_path, 256, 0.1, err) == 0, "%s", err);
    struct run_spec probe, standard;
    campaign_baselines(&cc, &probe, &standard);
    snprintf(ck, sizeof ck, "%s.div.safetensors", runs);
    struct run_outcome o;
    REQUIRE_MSG(campaign_train_run(&cc, &standard, ck, NULL, &ds, NULL, NULL, &o, err) == 0, "%s", err);
    CHECK_MSG(o.status == 1 && strstr(o.error, "diverged"), "status %d: %s", o.status, o.error);
    data_free(&ds);
    campaign_config_free(&cc);
}

TEST(campaign_inherit_mode_compares_equal_budgets)
{
    char cfg[512], db[512], *out = NULL;
    int rc = run_campaign(t_, "inh", ", \"retrain\": \"inherit\", \"inherit_steps\": 10", cfg, db, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    free(out);
    /* the continued references exist, ran inherit_steps, and every inherited run's delta
     * is against the mean perplexity of probe_cont and its replicates, not the probe's */
    out = query(db, "SELECT count(*) FROM v_results r JOIN results x ON x.run_id = r.run_id WHERE r.run IN "
                    "('probe_cont', 'standard_cont') AND x.steps = 10 AND r.status = 'done'");
    CHECK_MSG(strstr(out, "\n2") != NULL, "%s", out);
    free(out);
    out = query(db, "SELECT count(*) FROM v_results c, (SELECT avg(perplexity) AS m, count(*) AS n FROM v_results "
                    "WHERE run IN ('probe_cont', 'probe_cont_r2', 'probe_cont_r3')) p WHERE p.n = 3 AND c.role IN "
                    "('candidate', 'control') AND abs(c.delta_ppl_pct - 100.0 * (c.perplexity / p.m - 1)) > 1e-9");
    CHECK_MSG(strstr(out, "\n0") != NULL, "%s", out);
    free(out);
    out = query(db, "SELECT count(*) FROM v_results WHERE role IN ('candidate', 'control')");
    CHECK_MSG(strstr(out, "\n0") == NULL, "no candidates: %s", out);
    free(out);
    /* the recorded reference is probe_cont for every inherited run but probe_cont itself
     * (against the probe: what the continuation did); the replicates repeat probe_cont
     * with other seeds; a noise floor exists */
    out = query(db, "SELECT count(*) FROM runs r JOIN results x ON x.run_id = r.id WHERE "
                    "(r.retrain = 'inherit' AND r.name != 'probe_cont') != (x.reference_run = 'probe_cont')");
    CHECK_MSG(strstr(out, "\n0") != NULL, "%s", out);
    free(out);
    out = query(db, "SELECT group_concat(name), group_concat(seed) FROM runs WHERE replicate_of = 'probe_cont'");
    CHECK_MSG(strstr(out, "probe_cont_r2,probe_cont_r3") && strstr(out, "1338,1339"), "%s", out);
    free(out);
    out = query(db, "SELECT n, noise_pct > 0 FROM v_noise WHERE reference = 'probe_cont'");
    CHECK_MSG(strstr(out, "\n3,1") != NULL, "%s", out);
    free(out);
}

TEST(campaign_ctrl_c_stops_cleanly_and_resumes)
{
    char cfg[512], db[512], runs[512], cmd[2048], *out = NULL;
    test_tmppath(runs, sizeof runs, "runs_int");
    test_tmppath(db, sizeof db, "int.db");
    write_config(t_, "intr", runs, "", cfg, sizeof cfg);
    /* ten times the steps, so that 0.5 s is surely mid-campaign on any machine */
    char *text = test_read_file(cfg, NULL), *at = text ? strstr(text, "\"steps\": 40") : NULL;
    REQUIRE(at != NULL);
    char longer[4096];
    snprintf(longer, sizeof longer, "%.*s\"steps\": 400%s", (int)(at - text), text, at + strlen("\"steps\": 40"));
    free(text);
    REQUIRE(test_write_text(cfg, longer) == 0);
    /* SIGINT mid-campaign: the run in flight stops after its step with a checkpoint */
    /* SIGINT once a run is training (an MPI build starts MPI first, which can take a while) */
    snprintf(cmd, sizeof cmd, "%s search --config %s --db %s > /dev/null 2>&1 & p=$!; i=0; "
             "while [ $i -lt 3000 ] && ! sqlite3 %s \"SELECT 1 FROM steps LIMIT 1\" 2>/dev/null | grep -q 1; do "
             "i=$((i+1)); sleep 0.01; done; kill -INT $p; wait $p", test_cascade_bin(), cfg, db, db);
    int rc = test_run(cmd, NULL);
    CHECK_MSG(rc == 130, "exit %d after SIGINT", rc);
    out = query(db, "SELECT status FROM campaigns");
    CHECK_MSG(strstr(out, "stopped") != NULL, "%s", out);
    free(out);
    /* the run it stopped is queued again (it resumes from its checkpoint), not left running */
    out = query(db, "SELECT (SELECT count(*) FROM runs WHERE status = 'running'), "
                    "(SELECT count(*) FROM runs WHERE status = 'queued' AND attempts > 0)");
    CHECK_MSG(strstr(out, "\n0,1") != NULL, "%s", out);
    free(out);
    rc = search(cfg, db, &out);
    CHECK_MSG(rc == 0 && strstr(out, "finished"), "resume exit %d: %s", rc, out);
    free(out);
    out = query(db, "SELECT count(*) FROM runs WHERE status != 'done'");
    CHECK_MSG(strstr(out, "\n0") != NULL, "%s", out);
    free(out);
}

/* A write failure (disk full, here a directory where the probe's checkpoint goes) stops
 * the campaign with the probe still queued; once the cause is gone the same command
 * finishes it (before: the probe was marked failed and the campaign refused for good). */
TEST(campaign_environment_failure_stays_retryable)
{
    char cfg[512], db[512], runs[512], block[600], *out = NULL;
    test_tmppath(runs, sizeof runs, "runs_envfail");
    test_tmppath(db, sizeof db, "envfail.db");
    write_config(t_, "envfail", runs, "", cfg, sizeof cfg);
    snprintf(block, sizeof block, "%s/envfail/probe.safetensors", runs);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/in_the_way", block);
    REQUIRE(system(cmd) == 0);
    int rc = search(cfg, db, &out);
    CHECK_MSG(rc == 1 && strstr(out, "INTERRUPTED") && strstr(out, "run the same command again"), "rc %d: %s", rc, out);
    free(out);
    out = query(db, "SELECT status, error IS NOT NULL FROM runs WHERE name = 'probe'");
    CHECK_MSG(strstr(out, "queued,1") != NULL, "%s", out);
    free(out);
    out = query(db, "SELECT status FROM campaigns");
    CHECK_MSG(strstr(out, "stopped") != NULL, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -r %s", block);
    REQUIRE(system(cmd) == 0);
    rc = search(cfg, db, &out);
    CHECK_MSG(rc == 0 && strstr(out, "finished"), "rc %d: %s", rc, out);
    free(out);
    out = query(db, "SELECT count(*), sum(status = 'done') FROM runs");
    CHECK_MSG(strstr(out, "12,12") != NULL, "%s", out);
    free(out);
}

/* The rules can read the erank of S - S_0 (search.measure "erank_minus_init"). */
TEST(campaign_measure_minus_init)
{
    char cfg[512], db[512], *out = NULL;
    int rc = run_campaign(t_, "mi", ", \"measure\": \"erank_minus_init\", \"replicates\": 1", cfg, db, &out);
    CHECK_MSG(rc == 0 && strstr(out, "measured cascade (probe, erank_minus_init by layer):"), "exit %d: %s",
              rc, out);
    free(out);
    out = query(db, "SELECT reason FROM runs WHERE name = 'cut_m0.5'");
    CHECK_MSG(strstr(out, "from erank_minus_init [") != NULL, "%s", out);
    free(out);
}

/* cascade export writes a run's architecture as a training config that `cascade train`
 * reads and trains: per-layer kinds and dims, no LayerNorm where the probe had none. */
TEST(campaign_export_trains)
{
    char cfg[512], db[512], out_json[512], cmd[2048], *out = NULL;
    int rc = run_campaign(t_, "exp", ", \"replicates\": 1", cfg, db, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    free(out);
    test_tmppath(out_json, sizeof out_json, "exported/lin2_cut.json");
    snprintf(cmd, sizeof cmd, "%s export --db %s --run lin2_cut_m0.5 --out %s", test_cascade_bin(), db, out_json);
    rc = test_run(cmd, &out);
    CHECK_MSG(rc == 0 && strstr(out, "wrote"), "exit %d: %s", rc, out);
    free(out);
    struct train_config tc;
    char err[CASCADE_ERR_MAX];
    REQUIRE_MSG(trainer_config_load(&tc, out_json, err) == 0, "%s", err);
    CHECK(tc.model.n_layer == 3 && tc.model.layers[0].kind == ATTN_LINEAR && tc.model.layers[1].kind == ATTN_LINEAR &&
          tc.model.layers[2].kind == ATTN_SD && tc.model.layers[2].qk_dim == 4 && !tc.model.layernorm);
    CHECK(tc.steps == 40 && tc.batch_size == 4 && tc.model.embed_scale == TRAINER_NO_LN_EMBED_SCALE);
    char ck[600];
    snprintf(ck, sizeof ck, "%s.safetensors", out_json);
    snprintf(cmd, sizeof cmd, "%s train --config %s --steps 2 --out %s", test_cascade_bin(), out_json, ck);
    rc = test_run(cmd, &out);
    CHECK_MSG(rc == 0 && strstr(out, "attention L L S (d=8,8,4)"), "exit %d: %s", rc, out);
    free(out);
    /* errors: an unknown run, a missing flag */
    snprintf(cmd, sizeof cmd, "%s export --db %s --run nope --out %s 2>&1", test_cascade_bin(), db, out_json);
    rc = test_run(cmd, &out);
    CHECK_MSG(rc == 2 && strstr(out, "has no run named 'nope'"), "exit %d: %s", rc, out);
    free(out);
}

#define ROUNDS_EXTRA ", \"retrain\": \"inherit\", \"inherit_steps\": 10, \"budget_ppl_pct\": 50, \"max_rounds\": 3, " \
                     "\"replicates\": 1, \"head_dim_step\": 1, \"head_dim_min\": 1"
#define ROUNDS_SQL "SELECT round, incumbent, objective, value, delta_ppl_pct, final FROM rounds ORDER BY round"

/* A budget-driven search: rounds after the first, each from the best run within budget,
 * re-measured, one layer's change at a time; each run records its round and parent, each
 * round its incumbent; the answer is cheaper than the probe and within budget. */
TEST(campaign_rounds_search_to_a_budget)
{
    char cfg[512], db[512], *out = NULL;
    int rc = run_campaign(t_, "rnd", ROUNDS_EXTRA, cfg, db, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK_MSG(strstr(out, "round 0: incumbent") && strstr(out, "round 1: ") && strstr(out, "| final"), "%s", out);
    free(out);
    out = query(db, "SELECT sum(final), max(round) >= 2, count(DISTINCT incumbent) >= 2 FROM rounds");
    CHECK_MSG(strstr(out, "\n1,1,1") != NULL, "%s", out);
    free(out);
    /* every round's proposals inherit from the previous row's incumbent and are measured
     * against that round's reference */
    out = query(db, "SELECT count(*) FROM runs r JOIN rounds g ON g.round = r.round - 1 JOIN results x ON x.run_id = r.id "
                    "WHERE r.round >= 1 AND r.name NOT LIKE 'probe_round%' AND (r.parent != g.incumbent OR "
                    "x.reference_run != 'probe_round' || r.round)");
    CHECK_MSG(strstr(out, "\n0") != NULL, "%s", out);
    free(out);
    /* the answer: within budget, no more attention parameters than the probe */
    out = query(db, "SELECT g.delta_ppl_pct <= 50, g.value <= (SELECT params_attention FROM v_results WHERE run = 'probe') "
                    "FROM rounds g WHERE final = 1");
    CHECK_MSG(strstr(out, "\n1,1") != NULL, "%s", out);
    free(out);
    /* the rounds view and query */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s query --db %s rounds --format csv", test_cascade_bin(), db);
    rc = test_run(cmd, &out);
    CHECK_MSG(rc == 0 && strstr(out, "round,incumbent,arch,objective") && strstr(out, "attention_params"), "%s", out);
    free(out);
    /* the report shows the path and states the answer */
    char md[600];
    snprintf(md, sizeof md, "%s.report/rnd.md", db);
    snprintf(cmd, sizeof cmd, "%s report --db %s --out %s", test_cascade_bin(), db, md);
    rc = test_run(cmd, &out);
    free(out);
    char *text = test_read_file(md, NULL);
    CHECK_MSG(rc == 0 && text && strstr(text, "## Search rounds") && strstr(text, " (final) | `") &&
              strstr(text, "The answer: `") && strstr(text, "cascade export --run "), "%s", text ? text : "(none)");
    free(text);
}

/* kill -9 in round 2, then the same command: the same answer, the same numbers. */
TEST(campaign_rounds_kill9_in_round_2_resumes_to_the_same_answer)
{
    char cfg_a[512], cfg_b[512], db_a[512], db_b[512], runs_a[512], runs_b[512], *out = NULL;
    test_tmppath(runs_a, sizeof runs_a, "runs_ra");
    test_tmppath(runs_b, sizeof runs_b, "runs_rb");
    test_tmppath(db_a, sizeof db_a, "ra.db");
    test_tmppath(db_b, sizeof db_b, "rb.db");
    write_config(t_, "rk9", runs_a, ROUNDS_EXTRA, cfg_a, sizeof cfg_a);
    REQUIRE(search(cfg_a, db_a, &out) == 0);
    free(out);
    write_config(t_, "rk9", runs_b, ROUNDS_EXTRA, cfg_b, sizeof cfg_b);
    char cmd[4096];
    /* killed as soon as round 2 is proposed and not finished (polled through sqlite3: a
     * round's runs of 10 steps can finish between two polls, so "training" is too narrow) */
    snprintf(cmd, sizeof cmd, "%s search --config %s --db %s > /dev/null 2>&1 & p=$!; i=0; "
             "while [ $i -lt 6000 ] && ! sqlite3 %s \"SELECT 1 FROM runs WHERE round = 2 AND status != 'done'\" "
             "2>/dev/null | grep -q 1; do i=$((i+1)); sleep 0.01; done; kill -9 $p; wait $p; "
             "sqlite3 %s \"SELECT count(*) FROM runs WHERE round = 2 AND status != 'done'\"",
             test_cascade_bin(), cfg_b, db_b, db_b, db_b);
    int rc = test_run(cmd, &out);
    CHECK_MSG(last_number(out) >= 1, "not killed in round 2: %s", out);
    free(out);
    rc = search(cfg_b, db_b, &out);
    REQUIRE_MSG(rc == 0, "resume exit %d: %s", rc, out);
    free(out);
    char *ra = query(db_a, RESULTS_SQL), *rb = query(db_b, RESULTS_SQL);
    CHECK_MSG(strcmp(ra, rb) == 0, "results differ:\n%s\nvs\n%s", ra, rb);
    free(ra); free(rb);
    ra = query(db_a, ROUNDS_SQL);
    rb = query(db_b, ROUNDS_SQL);
    CHECK_MSG(strcmp(ra, rb) == 0 && strstr(ra, ",1\r\n"), "rounds differ:\n%s\nvs\n%s", ra, rb);
    free(ra); free(rb);
}

/* ---- runs side by side (search.parallel) -------------------------------------------------- */

#define PARALLEL_EXTRA ", \"retrain\": \"inherit\", \"inherit_steps\": 10, \"parallel\": "
#define EXACT_RESULTS_SQL "SELECT run, role, status, arch, params_attention, printf('%.17g', val_loss), " \
    "printf('%.17g', perplexity), printf('%.17g', delta_ppl_pct), pareto FROM v_results ORDER BY seq"
#define EXACT_STEPS_SQL "SELECT r.name, s.step, printf('%.17g', s.loss), printf('%.17g', s.val_loss) FROM steps s " \
    "JOIN runs r ON r.id = s.run_id ORDER BY r.name, s.step"

/* Two runs at once record the numbers one at a time records, bit for bit (inherit mode:
 * runs read the baselines' checkpoints side by side, and a Δ whose reference, probe_cont,
 * is still training waits for it); a parallel campaign interrupted part-way (a run whose
 * checkpoint cannot be written, the other one in flight finishing) and resumed ends the
 * same; the layout is said and recorded. */
TEST(campaign_parallel_runs_record_what_one_at_a_time_records)
{
    char cfg1[512], db1[512], cfg2[512], db2[512], cfg3[512], db3[512], runs3[512], block[600], cmd[1300], *out = NULL;
    int rc = run_campaign(t_, "pone", PARALLEL_EXTRA "1", cfg1, db1, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK_MSG(strstr(out, "parallel 1 (search.parallel): one run at a time, 1 thread\n"), "%s", out);
    free(out);
    rc = run_campaign(t_, "ptwo", PARALLEL_EXTRA "2", cfg2, db2, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK_MSG(strstr(out, "parallel 2 (search.parallel): 2 runs at once, 1 thread each\n"), "%s", out);
    free(out);
    char *r1 = query(db1, EXACT_RESULTS_SQL), *r2 = query(db2, EXACT_RESULTS_SQL);
    CHECK_MSG(strcmp(r1, r2) == 0 && strstr(r1, "probe_cont,"), "results differ:\n%s\nvs\n%s", r1, r2);
    free(r2);
    char *s1 = query(db1, EXACT_STEPS_SQL), *s2 = query(db2, EXACT_STEPS_SQL);
    CHECK_MSG(strcmp(s1, s2) == 0, "recorded steps differ");
    free(s2);
    out = query(db2, "SELECT json_extract(setup_json, '$.parallel.setting'), json_extract(setup_json, '$.parallel.runs'), "
                     "json_extract(setup_json, '$.parallel.threads_per_run'), json_extract(setup_json, '$.search.parallel') "
                     "FROM campaigns");
    CHECK_MSG(strstr(out, "\n2,2,1,2") != NULL, "%s", out);
    free(out);

    /* lin1 cannot write its checkpoint: interrupted, the run beside it finishes */
    snprintf(runs3, sizeof runs3, "%s/runs_pthree", test_tmpdir());
    test_tmppath(db3, sizeof db3, "pthree.db");
    write_config(t_, "pthree", runs3, PARALLEL_EXTRA "2", cfg3, sizeof cfg3);
    snprintf(block, sizeof block, "%s/pthree/lin1.safetensors", runs3);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/in_the_way", block);
    REQUIRE(system(cmd) == 0);
    rc = search(cfg3, db3, &out);
    CHECK_MSG(rc == 1 && strstr(out, "INTERRUPTED"), "rc %d: %s", rc, out);
    free(out);
    out = query(db3, "SELECT status FROM runs WHERE name = 'lin1' UNION ALL SELECT status FROM campaigns");
    CHECK_MSG(strstr(out, "queued") && strstr(out, "stopped"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -r %s", block);
    REQUIRE(system(cmd) == 0);
    rc = search(cfg3, db3, &out);
    CHECK_MSG(rc == 0 && strstr(out, "finished"), "rc %d: %s", rc, out);
    free(out);
    char *r3 = query(db3, EXACT_RESULTS_SQL), *s3 = query(db3, EXACT_STEPS_SQL);
    CHECK_MSG(strcmp(r1, r3) == 0, "results differ after the resume:\n%s\nvs\n%s", r1, r3);
    CHECK_MSG(strcmp(s1, s3) == 0, "recorded steps differ after the resume");
    free(r1); free(r3); free(s1); free(s3);
}

/* The threaded executor in process: progress reaches on_step in the caller's thread only;
 * a stop asked at a report stops that run after that very step (with its checkpoint) while
 * the other trains on; resumed alone, it ends where an uninterrupted run ends. */
struct exec_watch {
    pthread_t caller;
    int off_thread;                   /* on_step calls from another thread */
    int64_t stop_run, stop_at;        /* ask run stop_run to stop at report step stop_at */
    int reports[3];                   /* by run id */
};

static int exec_watch_step(void *user, const struct run_job *job, const struct train_progress *p)
{
    struct exec_watch *w = user;
    if (!pthread_equal(pthread_self(), w->caller)) w->off_thread++;
    if (p->is_report && job->run_id >= 0 && job->run_id < 3) w->reports[job->run_id]++;
    return job->run_id == w->stop_run && p->is_report && p->step == w->stop_at;
}

TEST(campaign_parallel_executor_relays_stops_from_the_callers_thread)
{
    char cfg[512], runs[512], err[CASCADE_ERR_MAX];
    test_tmppath(runs, sizeof runs, "runs_pexec");
    write_config(t_, "pexec", runs, "", cfg, sizeof cfg);
    struct campaign_config cc;
    REQUIRE_MSG(campaign_config_load(&cc, cfg, err) == 0, "%s", err);
    struct dataset ds;
    REQUIRE_MSG(data_load(&ds, cc.base.data_path, cc.base.model.vocab_size, cc.base.val_fraction, err) == 0, "%s", err);
    struct run_job jobs[2];
    memset(jobs, 0, sizeof jobs);
    campaign_baselines(&cc, &jobs[0].spec, &jobs[1].spec);
    for (int i = 0; i < 2; i++) {
        char name[64];
        jobs[i].run_id = i + 1;
        jobs[i].index = i + 1;
        jobs[i].total = 2;
        snprintf(name, sizeof name, "pexec_%s.safetensors", jobs[i].spec.name);
        test_tmppath(jobs[i].ckpt, sizeof jobs[i].ckpt, name);
    }
    struct exec_watch w = { pthread_self(), 0, 1, 10, { 0 } };
    struct executor ex;
    REQUIRE(executor_local_open(&ex, &cc, &ds, (struct run_layout){ 2, 1 }, exec_watch_step, &w) == 0);
    CHECK(ex.slots == 2);
    CHECK(ex.start(&ex, &jobs[0]) == 0 && ex.start(&ex, &jobs[1]) == 0);
    CHECK(ex.start(&ex, &jobs[0]) == -1);   /* no slot free */
    struct run_report rep[2], r;
    for (int i = 0; i < 2; i++) {
        REQUIRE(ex.next(&ex, &r) == 0 && r.run_id >= 1 && r.run_id <= 2);
        rep[r.run_id - 1] = r;
    }
    CHECK(ex.next(&ex, &r) == -1);          /* none in flight */
    CHECK_MSG(rep[0].rc == 0 && rep[0].outcome.status == 2 && rep[0].outcome.steps == 10, "probe: rc %d status %d at %lld",
              rep[0].rc, rep[0].outcome.status, (long long)rep[0].outcome.steps);
    CHECK_MSG(rep[1].rc == 0 && rep[1].outcome.status == 0 && rep[1].outcome.steps == 40, "standard: rc %d status %d at %lld",
              rep[1].rc, rep[1].outcome.status, (long long)rep[1].outcome.steps);
    CHECK(w.reports[1] == 2 && w.reports[2] == 8);   /* log_every 5 */
    w.stop_run = 0;
    REQUIRE(ex.start(&ex, &jobs[0]) == 0 && ex.next(&ex, &r) == 0);
    ex.close(&ex);
    CHECK(w.off_thread == 0);
    struct run_outcome ref;
    char ck[600];
    snprintf(ck, sizeof ck, "%s.ref", jobs[0].ckpt);
    REQUIRE_MSG(campaign_train_run(&cc, &jobs[0].spec, ck, NULL, &ds, NULL, NULL, &ref, err) == 0, "%s", err);
    CHECK_MSG(r.rc == 0 && r.outcome.status == 0 && r.outcome.steps == 40 && r.outcome.val.loss == ref.val.loss &&
              r.outcome.val.perplexity == ref.val.perplexity, "resumed %.17g vs %.17g", r.outcome.val.loss, ref.val.loss);
    data_free(&ds);
    campaign_config_free(&cc);
}

/* A stopped campaign whose run's checkpoint was replaced by another experiment's (here the
 * same probe trained with another seed) refuses to resume it, naming the field, and
 * records nothing from it; before, it recorded the other probe's validation loss. */
TEST(campaign_foreign_checkpoint_is_refused)
{
    char cfg_a[512], db_a[512], cfg_b[512], db_b[512], runs_b[512], *out = NULL;
    int rc = run_campaign(t_, "swapa", "", cfg_a, db_a, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    free(out);
    test_tmppath(runs_b, sizeof runs_b, "runs_swapb");
    test_tmppath(db_b, sizeof db_b, "swapb.db");
    write_config(t_, "swapb", runs_b, "", cfg_b, sizeof cfg_b);
    REQUIRE(set_train_seed(cfg_b, 2) == 0);
    rc = search(cfg_b, db_b, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    free(out);
    /* as if seed-2's campaign had been killed during its probe, and seed-1's probe put there */
    REQUIRE(db_fixture_exec(db_b, "DELETE FROM results WHERE run_id = (SELECT id FROM runs WHERE name = 'probe'); "
                                  "UPDATE runs SET status = 'running' WHERE name = 'probe'; "
                                  "UPDATE campaigns SET status = 'stopped', finished_at = NULL") == 0);
    char cmd[1400], runs_a[512];
    test_tmppath(runs_a, sizeof runs_a, "runs_swapa");
    snprintf(cmd, sizeof cmd, "cp %s/swapa/probe.safetensors %s/swapb/probe.safetensors", runs_a, runs_b);
    REQUIRE(system(cmd) == 0);
    rc = search(cfg_b, db_b, &out);
    CHECK_MSG(rc != 0 && strstr(out, "probe.safetensors: train.seed is 1337 in the checkpoint but 2 here"),
              "exit %d: %s", rc, out);
    free(out);
    out = query(db_b, "SELECT status, (SELECT count(*) FROM results r WHERE r.run_id = runs.id) FROM runs "
                      "WHERE name = 'probe'");
    CHECK_MSG(strstr(out, "queued,0") != NULL, "%s", out);
    free(out);
}

/* More than 256 runs (an 8-layer model's ~35 candidates and controls on 8 paired seeds
 * and 16 reference seeds in round 0, then 2 rounds): every round's reference is found and
 * recorded, and the campaign ends done with no run left queued or running. Before, the
 * 257th finished run was dropped from the controller's table of references: a later
 * round's proposals stayed `running` in a campaign marked done (the audit's 64-layer repro,
 * 263 runs, showed it; this shape takes seconds instead of a minute). */
TEST(campaign_with_more_than_256_runs_records_every_run)
{
    char corpus[512], cfg[512], db[512], runs[512], text[2048], *out = NULL;
    test_tmppath(corpus, sizeof corpus, "corpus.txt");
    if (access(corpus, F_OK) != 0) write_corpus(corpus);
    test_tmppath(runs, sizeof runs, "runs_many");
    test_tmppath(db, sizeof db, "many.db");
    test_tmppath(cfg, sizeof cfg, "many.json");
    snprintf(text, sizeof text,
             "{\"name\": \"many\", \"data\": {\"path\": \"%s\", \"val_fraction\": 0.1},\n"
             " \"model\": {\"n_layer\": 8, \"n_embd\": 8, \"n_head\": 1, \"seq_len\": 4},\n"
             " \"train\": {\"steps\": 1, \"batch_size\": 1, \"warmup_steps\": 1, \"log_every\": 100,\n"
             "           \"eval_batches\": 1, \"checkpoint_every\": 0, \"threads\": 1},\n"
             " \"search\": {\"linear_threshold\": 1e6, \"max_prefix\": 8, \"multipliers\": [0.5, 1, 1.5, 2], \"measure\": \"erank\",\n"
             "            \"replicates\": 16, \"candidate_replicates\": 8, \"retrain\": \"inherit\", \"inherit_steps\": 1,\n"
             "            \"budget_ppl_pct\": 1000, \"max_rounds\": 2, \"head_dim_step\": 1, \"head_dim_min\": 1,\n"
             "            \"runs_dir\": \"%s\"}}\n",
             corpus, runs);
    REQUIRE(test_write_text(cfg, text) == 0);
    int rc = search(cfg, db, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %.2000s", rc, out);
    free(out);
    out = query(db, "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM runs WHERE status IN ('queued', 'running')), "
                    "(SELECT count(*) FROM runs r JOIN results x ON x.run_id = r.id WHERE r.name = 'probe_round2'), "
                    "(SELECT count(*) FROM rounds), (SELECT status FROM campaigns)");
    int n_runs = 0, open = -1, ref8 = 0, n_rounds = 0;
    char status[32] = "";
    const char *row = out ? strchr(out, '\n') : NULL;
    int got = row ? sscanf(row + 1, "%d,%d,%d,%d,%31s", &n_runs, &open, &ref8, &n_rounds, status) : 0;
    CHECK(got == 5);
    CHECK_MSG(n_runs > 256 && open == 0 && ref8 == 1 && n_rounds == 3 && strcmp(status, "done") == 0,
              "runs %d, open %d, probe_round2 results %d, rounds %d, campaign %s", n_runs, open, ref8, n_rounds, status);
    free(out);
}

/* The rules can read the realised measure: averaged over search.analysis_windows windows,
 * the spread across them recorded (layer_values) and shown in the log. */
TEST(campaign_measure_realised_over_windows)
{
    char cfg[512], db[512], *out = NULL;
    int rc = run_campaign(t_, "rw", ", \"measure\": \"realised_erank\", \"analysis_windows\": 3, \"replicates\": 1", cfg,
                          db, &out);
    CHECK_MSG(rc == 0 && strstr(out, "measured cascade (probe, realised_erank by layer, mean ± sd over 3 windows): "),
              "exit %d: %s", rc, out);
    free(out);
    out = query(db, "SELECT count(*), sum(n = 3), sum(spread > 0), sum(value > 1) FROM layer_values v "
                    "JOIN runs r ON r.id = v.run_id WHERE r.name = 'probe' AND v.measure = 'realised_erank'");
    CHECK_MSG(strstr(out, "\n3,3,3,3") != NULL, "%s", out);
    free(out);
    out = query(db, "SELECT reason FROM runs WHERE name = 'cut_m0.5'");
    CHECK_MSG(strstr(out, "realised_erank") != NULL, "%s", out);
    free(out);
}

/* inherit_steps 0: every inherited run is its warm start evaluated as it is, so the
 * continued probe is the probe itself (the same perplexity, exactly), and a cut candidate
 * measures what the surgery alone costs. */
TEST(campaign_inherit_steps_0_evaluates_the_warm_start)
{
    char cfg[512], db[512], *out = NULL;
    int rc = run_campaign(t_, "zero", ", \"retrain\": \"inherit\", \"inherit_steps\": 0, \"replicates\": 1", cfg, db,
                          &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    free(out);
    out = query(db, "SELECT (SELECT x.perplexity FROM results x JOIN runs r ON r.id = x.run_id WHERE r.name = 'probe') = "
                    "(SELECT x.perplexity FROM results x JOIN runs r ON r.id = x.run_id WHERE r.name = 'probe_cont'), "
                    "(SELECT count(*) FROM results x JOIN runs r ON r.id = x.run_id WHERE r.retrain = 'inherit' AND x.steps = 0), "
                    "(SELECT count(*) FROM runs WHERE retrain = 'inherit'), "
                    "(SELECT count(*) FROM results x JOIN runs r ON r.id = x.run_id WHERE r.name = 'cut_m0.5' AND x.delta_ppl_pct > 0)");
    int same = 0, zero = 0, inherited = -1, cut_costs = 0;
    const char *row = out ? strchr(out, '\n') : NULL;
    int got = row ? sscanf(row + 1, "%d,%d,%d,%d", &same, &zero, &inherited, &cut_costs) : 0;
    CHECK_MSG(got == 4 && same == 1 && zero == inherited && inherited > 3 && cut_costs == 1, "%s", out ? out : "");
    free(out);
}

/* search.baselines_from: a campaign starts from another's finished probe and standard
 * model (the same perplexities, nothing retrained); a folder whose probe was trained
 * another way (here another seed) is refused, naming the field. */
TEST(campaign_baselines_from_another_campaign)
{
    char cfg_a[512], db_a[512], cfg_b[512], db_b[512], runs_b[512], extra[700], *out = NULL;
    int rc = run_campaign(t_, "basea", ", \"replicates\": 1", cfg_a, db_a, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    free(out);
    snprintf(extra, sizeof extra, ", \"replicates\": 1, \"baselines_from\": \"%s/runs_basea/basea\"",
             test_tmpdir());
    test_tmppath(runs_b, sizeof runs_b, "runs_baseb");
    test_tmppath(db_b, sizeof db_b, "baseb.db");
    write_config(t_, "baseb", runs_b, extra, cfg_b, sizeof cfg_b);
    rc = search(cfg_b, db_b, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK_MSG(!strstr(out, "probe          [#"), "the probe was retrained: %s", out);
    free(out);
    const char *sql = "SELECT r.name, x.perplexity FROM runs r JOIN results x ON x.run_id = r.id "
                      "WHERE r.name IN ('probe', 'standard') ORDER BY r.name";
    char *a = query(db_a, sql), *b = query(db_b, sql);
    CHECK_MSG(a && b && strcmp(a, b) == 0, "%s vs %s", a, b);
    free(a);
    free(b);
    /* another seed: the copied probe is not this campaign's */
    char cfg_c[512], db_c[512], runs_c[512];
    test_tmppath(runs_c, sizeof runs_c, "runs_basec");
    test_tmppath(db_c, sizeof db_c, "basec.db");
    write_config(t_, "basec", runs_c, extra, cfg_c, sizeof cfg_c);
    REQUIRE(set_train_seed(cfg_c, 5) == 0);
    rc = search(cfg_c, db_c, &out);
    CHECK_MSG(rc != 0 && strstr(out, "train.seed is 1337 in the checkpoint but 5 here"), "exit %d: %s", rc, out);
    free(out);
}

/* search.strategy random: nothing measured is recorded (no layer_values row: the rules
 * read nothing), every round proposes per_round drawn changes; killed in round 2 it
 * resumes to the same answer. measured: no blind control ever becomes the incumbent. */
#define RANDOM_EXTRA ", \"retrain\": \"inherit\", \"inherit_steps\": 10, \"budget_ppl_pct\": 50, \"max_rounds\": 3, " \
    "\"per_round\": 4, \"strategy\": \"random\", \"seed\": 11"
TEST(campaign_random_strategy_kill9_in_round_2_resumes_to_the_same_answer)
{
    char cfg_a[512], cfg_b[512], db_a[512], db_b[512], runs_a[512], runs_b[512], *out = NULL;
    test_tmppath(runs_a, sizeof runs_a, "runs_rsa");
    test_tmppath(runs_b, sizeof runs_b, "runs_rsb");
    test_tmppath(db_a, sizeof db_a, "rsa.db");
    test_tmppath(db_b, sizeof db_b, "rsb.db");
    write_config(t_, "rs9", runs_a, RANDOM_EXTRA, cfg_a, sizeof cfg_a);
    int rc = search(cfg_a, db_a, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK_MSG(!strstr(out, "measured cascade"), "random search measured: %s", out);
    free(out);
    out = query(db_a, "SELECT (SELECT count(*) FROM layer_values), (SELECT count(*) FROM runs WHERE role = 'control'), "
                      "(SELECT count(*) FROM runs WHERE round >= 1 AND role = 'candidate' AND name LIKE 'r%_r%')");
    CHECK_MSG(strstr(out, "\n0,0,") != NULL && !strstr(out, ",0\r\n"), "%s", out);
    free(out);
    write_config(t_, "rs9", runs_b, RANDOM_EXTRA, cfg_b, sizeof cfg_b);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s search --config %s --db %s > /dev/null 2>&1 & p=$!; i=0; "
             "while [ $i -lt 6000 ] && ! sqlite3 %s \"SELECT 1 FROM runs WHERE round = 2 AND status != 'done'\" "
             "2>/dev/null | grep -q 1; do i=$((i+1)); sleep 0.01; done; kill -9 $p; wait $p; "
             "sqlite3 %s \"SELECT count(*) FROM runs WHERE round = 2 AND status != 'done'\"",
             test_cascade_bin(), cfg_b, db_b, db_b, db_b);
    test_run(cmd, &out);
    CHECK_MSG(last_number(out) >= 1, "not killed in round 2: %s", out);
    free(out);
    rc = search(cfg_b, db_b, &out);
    REQUIRE_MSG(rc == 0, "resume exit %d: %s", rc, out);
    free(out);
    char *ra = query(db_a, RESULTS_SQL), *rb = query(db_b, RESULTS_SQL);
    CHECK_MSG(strcmp(ra, rb) == 0, "results differ:\n%s\nvs\n%s", ra, rb);
    free(ra); free(rb);
    ra = query(db_a, ROUNDS_SQL);
    rb = query(db_b, ROUNDS_SQL);
    CHECK_MSG(strcmp(ra, rb) == 0, "rounds differ:\n%s\nvs\n%s", ra, rb);
    free(ra); free(rb);

    /* measured: the same rounds from the measurement; no control is ever an incumbent */
    char cfg_m[512], db_m[512];
    rc = run_campaign(t_, "msr", ", \"retrain\": \"inherit\", \"inherit_steps\": 10, \"budget_ppl_pct\": 50, "
                      "\"max_rounds\": 2, \"strategy\": \"measured\"", cfg_m, db_m, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out);
    free(out);
    out = query(db_m, "SELECT (SELECT count(*) FROM rounds g JOIN runs r ON r.name = g.incumbent AND "
                      "r.campaign_id = g.campaign_id WHERE r.role = 'control'), (SELECT count(*) FROM runs WHERE round = 0 "
                      "AND role IN ('candidate', 'control')), (SELECT count(*) FROM runs WHERE round >= 1 AND role = 'control')");
    int ctl_inc = -1, first = -1, controls = 0;
    const char *row = out ? strchr(out, '\n') : NULL;
    int got = row ? sscanf(row + 1, "%d,%d,%d", &ctl_inc, &first, &controls) : 0;
    CHECK_MSG(got == 3 && ctl_inc == 0 && first == 0 && controls > 0, "%s", out ? out : "");
    free(out);
}
