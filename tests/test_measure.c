/* tests/test_measure.c — the per-layer value the proposal rules read
 * (campaign_measure_layers, search/measure.c): weight level and realised over windows. */
#include "test.h"
#include "analysis/analysis.h"
#include "db/db.h"
#include "search/campaign.h"
#include "tests/db_fixture.h"

#include <stdlib.h>
#include <string.h>

/* A 3-layer S–D model checkpoint and a byte corpus of 3000 tokens (val 0.2: 600). */
static int measure_setup(struct test_ctx *t_, struct campaign_config *cc, char *ckpt, size_t n, struct dataset *ds)
{
    char corpus[512], err[CASCADE_ERR_MAX];
    test_tmppath(corpus, sizeof corpus, "measure_corpus.txt");
    char text[3001];
    uint64_t rng = 7;
    for (int i = 0; i < 3000; i++) text[i] = (char)('a' + trainer_rng_next(&rng) % 20);
    text[3000] = 0;
    if (test_write_text(corpus, text) != 0) return -1;
    if (data_load(ds, corpus, 256, 0.2, err) != 0) { CHECK_MSG(0, "%s", err); return -1; }
    memset(cc, 0, sizeof *cc);
    trainer_config_defaults(&cc->base);
    const char *mj = "{\"vocab_size\": 256, \"seq_len\": 32, \"n_layer\": 3, \"n_head\": 2, \"n_embd\": 16, "
                     "\"attention\": \"sd\", \"layernorm\": false}";
    if (model_config_from_json_string(&cc->base.model, mj, "test", err) != 0) { CHECK_MSG(0, "%s", err); return -1; }
    cc->analysis_tokens = 24;
    struct model m;
    if (model_init(&m, &cc->base.model, 5, err) != 0) { CHECK_MSG(0, "%s", err); return -1; }
    test_tmppath(ckpt, n, "measure.safetensors");
    int rc = checkpoint_save(ckpt, &m, NULL, NULL, err);
    CHECK_MSG(rc == 0, "%s", err);
    model_free(&m);
    return rc;
}

/* realised: the mean and sample sd over windows evenly spread over the validation split
 * (first at its start, last ending at its end), each window analysed as analysis_model_trainer
 * does; weight level: one value, no spread. */
TEST(measure_realised_is_the_mean_over_windows)
{
    struct campaign_config cc;
    struct dataset ds;
    char ckpt[512], err[CASCADE_ERR_MAX];
    REQUIRE(measure_setup(t_, &cc, ckpt, sizeof ckpt, &ds) == 0);
    struct model m;
    REQUIRE_MSG(checkpoint_load(ckpt, &m, NULL, NULL, err) == 0, "%s", err);
    const int W = 3, N = 24, L = 3;
    size_t n_val = ds.n_tokens - ds.n_train, stride = (n_val - N) / (W - 1);
    double x[3][3];
    for (int w = 0; w < W; w++) {
        struct analysis_model am;
        REQUIRE_MSG(analysis_model_trainer(&am, &m, ds.tokens + ds.n_train + w * stride, N, "t", err) == 0, "%s", err);
        for (int l = 0; l < L; l++) x[w][l] = am.layers[l].realised_mean.routing_pr;
        analysis_model_free(&am);
    }
    CHECK(ds.n_train + (W - 1) * stride + N <= ds.n_tokens && ds.n_train + (W - 1) * stride + N > ds.n_tokens - W);
    cc.measure = MEASURE_REALISED_PR;
    cc.analysis_windows = W;
    double value[3], spread[3];
    int n = 0;
    REQUIRE_MSG(campaign_measure_layers(&cc, &m, ckpt, &ds, value, spread, &n, NULL, err) == 0, "%s", err);
    CHECK(n == W);
    for (int l = 0; l < L; l++) {
        double mean = (x[0][l] + x[1][l] + x[2][l]) / 3.0, ss = 0.0;
        for (int w = 0; w < W; w++) ss += (x[w][l] - mean) * (x[w][l] - mean);
        CHECK_NEAR(value[l], mean, 1e-12);
        CHECK_NEAR(spread[l], sqrt(ss / 2.0), 1e-12);
        CHECK(spread[l] > 0);   /* different text, different routing */
    }
    /* one window: the first, no spread */
    cc.analysis_windows = 1;
    REQUIRE_MSG(campaign_measure_layers(&cc, &m, ckpt, &ds, value, spread, &n, NULL, err) == 0, "%s", err);
    CHECK(n == 1 && isnan(spread[0]));
    CHECK_NEAR(value[1], x[0][1], 1e-12);
    /* weight level: the analysis of the weights alone */
    struct analysis_model am;
    REQUIRE_MSG(analysis_model_trainer(&am, &m, NULL, 0, "t", err) == 0, "%s", err);
    cc.measure = MEASURE_ERANK;
    cc.analysis_windows = 8;
    REQUIRE_MSG(campaign_measure_layers(&cc, &m, ckpt, &ds, value, spread, &n, NULL, err) == 0, "%s", err);
    CHECK(n == 1 && isnan(spread[2]));
    CHECK_NEAR(value[2], am.layers[2].mean.routing_erank, 1e-12);
    analysis_model_free(&am);
    /* a validation split shorter than a window is refused, naming the key */
    cc.measure = MEASURE_REALISED_ERANK;
    cc.analysis_tokens = (int)n_val + 1;
    CHECK(campaign_measure_layers(&cc, &m, ckpt, &ds, value, spread, &n, NULL, err) == -1 &&
          strstr(err, "search.analysis_tokens"));
    model_free(&m);
    data_free(&ds);
}

/* search.candidate_replicates: every candidate and control again with the same seeds,
 * paired: a control's replicate is the control of the candidate's replicate of that seed,
 * and each is measured against the reference's replicate of that seed. */
TEST(measure_candidate_replicates_are_paired_seeds)
{
    char path[512], err[CASCADE_ERR_MAX];
    test_tmppath(path, sizeof path, "paired.json");
    const char *json = "{\"name\": \"p\", \"data\": {\"path\": \"x.txt\"},\n"
                       " \"model\": {\"n_layer\": 4, \"n_embd\": 32, \"n_head\": 2, \"seq_len\": 32},\n"
                       " \"train\": {\"steps\": 100, \"seed\": 10},\n"
                       " \"search\": {\"linear_threshold\": 2.5, \"max_prefix\": 1, \"multipliers\": [1],\n"
                       "            \"retrain\": \"inherit\", \"replicates\": 3, \"candidate_replicates\": 3}}\n";
    REQUIRE(test_write_text(path, json) == 0);
    struct campaign_config cc;
    REQUIRE_MSG(campaign_config_load(&cc, path, err) == 0, "%s", err);
    double v[4] = { 2.0, 3.0, 4.0, 5.0 };
    struct run_spec *p;
    int n;
    REQUIRE(campaign_propose(&cc, v, NULL, &p, &n) == 0);
    int n_base = 0, n_rep = 0;
    for (int i = 0; i < n; i++) {
        const struct run_spec *r = &p[i];
        if (strcmp(r->role, "candidate") != 0 && strcmp(r->role, "control") != 0) continue;
        if (!r->replicate_of[0]) { n_base++; continue; }
        n_rep++;
        int s = atoi(strrchr(r->name, 's') + 1);
        CHECK_MSG(s >= 2 && s <= 3 && r->seed == 10 + (uint64_t)(s - 1), "%s seed %llu", r->name,
                  (unsigned long long)r->seed);
        char ref[64];
        snprintf(ref, sizeof ref, "probe_cont_r%d", s);
        CHECK_MSG(strcmp(r->reference, ref) == 0, "%s: reference %s", r->name, r->reference);
        /* the same architecture as the run it repeats */
        const struct run_spec *base = NULL;
        for (int j = 0; j < n; j++) if (strcmp(p[j].name, r->replicate_of) == 0) base = &p[j];
        REQUIRE(base);
        CHECK(memcmp(&base->arch, &r->arch, sizeof r->arch) == 0 && base->steps == r->steps);
        if (base->control_of[0]) {
            char want[80];
            snprintf(want, sizeof want, "%s_s%d", base->control_of, s);
            CHECK_MSG(strcmp(r->control_of, want) == 0, "%s: control_of %s", r->name, r->control_of);
        }
    }
    CHECK_MSG(n_base > 2 && n_rep == 2 * n_base, "%d base, %d replicates", n_base, n_rep);
    free(p);
    campaign_config_free(&cc);
}

/* v_paired: the gap of a candidate to its control seed by seed; "measured better" when the
 * mean gap is below minus twice its standard error, "within noise" inside it. */
TEST(measure_paired_verdict)
{
    char path[512], err[CASCADE_ERR_MAX];
    test_tmppath(path, sizeof path, "paired.db");
    struct db *db;
    REQUIRE_MSG(db_open(&db, path, DB_WRITE, err) == 0, "%s", err);
    int64_t cid;
    REQUIRE_MSG(db_campaign_begin(db, "pv", "{}", "v", "h", &cid, err) == 0, "%s", err);
    db_close(db);
    /* a: consistently 4.8% better; b: better on one seed, worse on another */
    const char *names[2][2] = { { "a", "a_ctl" }, { "b", "b_ctl" } };
    const double ppl[2][2][3] = { { { 10.0, 10.1, 9.9 }, { 10.5, 10.6, 10.4 } },
                                  { { 10.0, 10.5, 9.8 }, { 10.2, 10.1, 10.0 } } };
    char sql[8192];
    size_t k = 0;
    int id = 1;
    for (int c = 0; c < 2; c++) {
        for (int s = 1; s <= 3; s++) {
            for (int w = 0; w < 2; w++) {
                char name[32], of[32] = "", rep[32] = "";
                if (s == 1) snprintf(name, sizeof name, "%s", names[c][w]);
                else {
                    snprintf(name, sizeof name, "%s_s%d", names[c][w], s);
                    snprintf(rep, sizeof rep, "%s", names[c][w]);
                }
                if (w == 1) {
                    if (s == 1) snprintf(of, sizeof of, "%s", names[c][0]);
                    else snprintf(of, sizeof of, "%s_s%d", names[c][0], s);
                }
                k += snprintf(sql + k, sizeof sql - k,
                              "INSERT INTO runs (id, campaign_id, name, role, status, seq, seed, control_of, replicate_of) "
                              "VALUES (%d, %lld, '%s', '%s', 'done', %d, %d, NULLIF('%s', ''), NULLIF('%s', ''));"
                              "INSERT INTO results (run_id, params_total, params_attention, perplexity, recorded_at) "
                              "VALUES (%d, 100, 50, %.17g, 0);",
                              id, (long long)cid, name, w ? "control" : "candidate", id, s, of, rep, id, ppl[c][w][s - 1]);
                id++;
            }
        }
    }
    REQUIRE(db_fixture_exec(path, sql) == 0);
    char *out = NULL, cmd[1200];
    snprintf(cmd, sizeof cmd, "%s query --db %s --format csv --sql \"SELECT candidate, control, n, wins, verdict, "
             "round(gap_mean_pct, 2) FROM v_paired ORDER BY candidate\"", test_cascade_bin(), path);
    REQUIRE(test_run(cmd, &out) == 0);
    CHECK_MSG(strstr(out, "a,a_ctl,3,3,measured better,-4.76") != NULL, "%s", out);
    CHECK_MSG(strstr(out, "b,b_ctl,3,2,within noise,") != NULL, "%s", out);
    free(out);
}

/* A layer whose attention output is zero (its output projection zeroed) cannot cost
 * anything to cut or linearise: its sensitivity is exactly 0 at every point; the other
 * layers' cuts do cost. */
TEST(measure_sensitivity_of_a_silent_layer_is_zero)
{
    struct campaign_config cc;
    struct dataset ds;
    char ckpt[512], err[CASCADE_ERR_MAX];
    REQUIRE(measure_setup(t_, &cc, ckpt, sizeof ckpt, &ds) == 0);
    struct model m;
    REQUIRE_MSG(checkpoint_load(ckpt, &m, NULL, NULL, err) == 0, "%s", err);
    const struct param_tensor *pw = model_find_tensor(&m, "h.1.attn.proj.w");
    REQUIRE(pw);
    memset(m.params + pw->offset, 0, sizeof(float) * pw->numel);
    cc.head_dim_step = 2;
    cc.head_dim_min = 2;
    cc.sensitivity_batches = 2;
    cc.base.batch_size = 2;
    struct campaign_sensitivity *s = malloc(sizeof *s);
    REQUIRE(s);
    REQUIRE_MSG(campaign_measure_sensitivity(&cc, &m, &ds, s, err) == 0, "%s", err);
    CHECK(s->n_layer == 3 && s->n_dims == 3 && s->dims[0] == 2 && s->dims[2] == 6);   /* head dim 8 */
    CHECK(s->linear_loss[1] == s->base_loss);
    for (int j = 0; j < s->n_dims; j++) CHECK(s->cut_loss[1][j] == s->base_loss);
    int others = 0;   /* the live layers' changes do cost (at this untrained init, a little) */
    for (int l = 0; l < 3; l += 2)
        for (int j = 0; j < s->n_dims; j++) others += s->cut_loss[l][j] != s->base_loss;
    CHECK(others > 0);
    /* the value the rules read is the linearisation cost */
    cc.measure = MEASURE_SENSITIVITY;
    double value[3], spread[3];
    int n;
    REQUIRE_MSG(campaign_measure_layers(&cc, &m, ckpt, &ds, value, spread, &n, s, err) == 0, "%s", err);
    CHECK(value[1] == 0.0 && value[0] == s->linear_loss[0] - s->base_loss && n == 1);
    free(s);
    model_free(&m);
    data_free(&ds);
}

/* Fraction allocations are within 2% of their target; proportional dims follow the
 * measure and the opposite follows its inverse; the greedy cut takes the free layer first. */
TEST(measure_fraction_allocations_hit_their_size)
{
    struct campaign_config cc;
    memset(&cc, 0, sizeof cc);
    trainer_config_defaults(&cc.base);
    char err[CASCADE_ERR_MAX];
    const char *mj = "{\"vocab_size\": 256, \"seq_len\": 128, \"n_layer\": 6, \"n_head\": 4, \"n_embd\": 128, "
                     "\"attention\": \"sd\", \"layernorm\": false}";
    REQUIRE_MSG(model_config_from_json_string(&cc.base.model, mj, "test", err) == 0, "%s", err);
    cc.head_dim_step = 4;
    cc.head_dim_min = 4;
    const struct model_config *probe = &cc.base.model;
    size_t full = model_config_param_counts(probe).attention;
    double v[6] = { 6.7, 2.8, 2.2, 2.3, 2.5, 2.7 };
    const double fs[2] = { 0.5, 0.25 };
    for (int i = 0; i < 2; i++) {
        for (int opp = 0; opp < 2; opp++) {
            int dims[6];
            CHECK(campaign_fraction_dims(&cc, probe, v, NULL, fs[i], opp, dims) == 1);
            struct model_config a = *probe;
            for (int l = 0; l < 6; l++) layer_arch_set_head_dim(&a.layers[l], dims[l]);
            double got = (double)model_config_param_counts(&a).attention / (double)full;
            CHECK_MSG(fabs(got / fs[i] - 1.0) <= 0.02, "f %g opposite %d: %.4f", fs[i], opp, got);
            /* layer 0 measures highest: most dims when proportional, fewest when inverse */
            for (int l = 1; l < 6; l++) CHECK(opp ? dims[0] <= dims[l] : dims[0] >= dims[l]);
        }
    }
    /* greedy: layer 3's cuts cost nothing, the others' cost their dims removed */
    struct campaign_sensitivity *s = calloc(1, sizeof *s);
    REQUIRE(s);
    s->n_layer = 6;
    s->base_loss = 2.0;
    for (int j = 0; j < 7; j++) s->dims[s->n_dims++] = 4 * (j + 1);
    for (int l = 0; l < 6; l++) {
        s->head_dim[l] = 32;
        s->linear_loss[l] = 2.5;
        for (int j = 0; j < 7; j++) s->cut_loss[l][j] = l == 3 ? 2.0 : 2.0 + 0.01 * (32 - s->dims[j]) * (1 + l);
    }
    int dims[6];
    CHECK(campaign_fraction_dims(&cc, probe, v, s, 0.5, 0, dims) == 1);
    CHECK_MSG(dims[3] == 4 && dims[5] >= dims[0], "%d %d %d %d %d %d", dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]);
    CHECK(campaign_fraction_dims(&cc, probe, v, s, 0.5, 1, dims) == 1);
    CHECK_MSG(dims[3] == 32, "opposite keeps the free layer: %d", dims[3]);
    free(s);
}
