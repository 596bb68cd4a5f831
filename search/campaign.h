/* search/campaign.h — the search controller's parts (private to search/):
 *   search/campaign_config.c  the campaign config
 *   search/proposals.c        the reference runs and the candidate rules of SPEC.md §5,
 *                             with the blind and opposite controls, the paired seeds,
 *                             the fraction allocations and the rounds' proposals
 *   search/measure.c          what the rules read: the per-layer value of search.measure
 *                             with its own error, and the sensitivity curves
 *   search/inherit.c          weight surgery: warm starts ("inherit")
 *   search/run.c              training one run (its schedule, its outcome)
 * The machine (CPU, directories, the OpenBLAS core) is search/host.h.
 * The controller (search/controller.c) records everything through db/db.h; the parts
 * here touch only checkpoint files, so a worker process (MPI) runs them without the
 * database. The command line is search/cmd_*.c; executors search/executor_*.c.
 */
#ifndef CASCADE_SEARCH_CAMPAIGN_H
#define CASCADE_SEARCH_CAMPAIGN_H

#include "trainer/trainer.h"

#define CAMPAIGN_MAX_MULTIPLIERS 8

enum retrain_mode { RETRAIN_SCRATCH = 0, RETRAIN_INHERIT = 1 };

/* How a budget-driven search chooses (search.strategy):
 *   mixed     the first stage's candidates and controls, then rounds; any of them, measured
 *             or blind, may become the incumbent (the behaviour before strategies existed)
 *   measured  rounds only, from the probe: each round's proposals from the measurement, with
 *             their blind controls trained and reported but never made incumbents
 *   random    rounds only, from the probe: per_round changes of the same kinds (a layer made
 *             linear, a layer's head dim halved), layers drawn from search.seed, nothing
 *             measured
 * measured and random train the same runs per round: a comparison at equal cost. */
enum campaign_strategy { STRATEGY_MIXED = 0, STRATEGY_MEASURED = 1, STRATEGY_RANDOM = 2 };
const char *campaign_strategy_name(enum campaign_strategy s);   /* "mixed", ... */

/* What a budget-driven search minimises (tokens_per_s: maximises, the measured training
 * speed of the run). */
enum campaign_objective { OBJECTIVE_ATTENTION_PARAMS = 0, OBJECTIVE_FLOPS_PER_TOKEN = 1, OBJECTIVE_TOKENS_PER_S = 2 };
const char *campaign_objective_name(enum campaign_objective o);   /* "attention_params", ... */

/* The layer value the proposal rules read: the mean over the probe's heads (weight level)
 * of the routing spectrum's effective rank, participation ratio, k90, or 2 x planes (the
 * rank of the dominant rotation planes), or the erank of S - S_0 (the init subtracted).
 * erank weighs every singular value by sigma, so the tail left by the random init lifts
 * it; PR, k90 and planes see the dominant planes; S - S_0 removes the init itself. */
enum campaign_measure { MEASURE_ERANK = 0, MEASURE_PR = 1, MEASURE_K90 = 2, MEASURE_PLANES = 3,
                        MEASURE_ERANK_MINUS_INIT = 4, /* erank of S - S_0 (SPEC §2) */
                        /* realised (SPEC §1 on the logits P S P^T of validation text): the
                         * layer's mean routing erank / PR over its heads, averaged over
                         * search.analysis_windows windows; the spread across windows is
                         * the measure's own error */
                        MEASURE_REALISED_ERANK = 5, MEASURE_REALISED_PR = 6,
                        /* causal: the validation loss one change to one layer adds, without
                         * retraining (struct campaign_sensitivity); the layer's value is
                         * what making it linear costs, in nats per token */
                        MEASURE_SENSITIVITY = 7 };
#define CAMPAIGN_N_MEASURES 8
/* "erank", "pr", "k90", "planes", "erank_minus_init", "realised_erank", "realised_pr",
 * "sensitivity" */
const char *campaign_measure_name(enum campaign_measure m);

struct campaign_config {
    char name[128];              /* campaign name, unique in the database */
    char path[TRAINER_PATH_MAX]; /* the config file, for messages */
    char *json;                  /* the file's text, stored with the campaign (malloc'ed) */
    struct train_config base;    /* data, probe shape, budgets, seed (model kinds set per run) */
    /* proposal rules, SPEC §5 [ours] */
    enum campaign_measure measure; /* which per-layer value the rules read (SPEC §3) */
    double linear_threshold;     /* a layer with mean routing erank <= this may be linear */
    int max_prefix;              /* longest linear prefix tried (<= n_layer) */
    int n_multipliers;
    double multipliers[CAMPAIGN_MAX_MULTIPLIERS]; /* m in d_l = clamp(round_up(m erank_l, step), d_min, d) */
    int head_dim_step, head_dim_min;
    int n_fractions;             /* search.fractions: for each f, cut_f{f} (head dims from the
                                  * measurement at f of the probe's attention parameters, within
                                  * 2%), its opposite inverse_f{f} and the blind uniform_f{f} and
                                  * reversed_f{f} */
    double fractions[CAMPAIGN_MAX_MULTIPLIERS];
    int n_low_k;                 /* search.low_k: for each k, low{k} (the k lowest-measured
                                  * layers linear, anywhere), its opposite high{k} and a blind
                                  * control lowblind{k} (k layers drawn from the seed) */
    int low_k[CAMPAIGN_MAX_MULTIPLIERS];
    int control;                 /* 1: the same prefixes on the standard model */
    int combine;                 /* 1: linear prefix + cut head dims */
    int qk_cuts;                 /* 1: every head-dim candidate (cut_m, cut_f) and opposite
                                  * (inverse_f) also as a routing-only cut, NAME_qk: its dims as
                                  * the query/key widths, the value widths kept; with blind
                                  * controls uniform_..._qk, reversed_..._qk */
    enum retrain_mode retrain;
    int inherit_steps;           /* step budget of inherited candidates */
    /* budget-driven rounds [ours, SPEC 5]: off while budget_ppl_pct is 0 */
    double budget_ppl_pct;       /* Δ perplexity allowed against the equal-budget reference, % */
    enum campaign_objective objective; /* what "cheapest" means */
    enum campaign_strategy strategy;   /* how the rounds choose */
    uint64_t search_seed;        /* search.seed (default train.seed): the draws of blind controls
                                  * and of random search, and the seed of inherited runs (their
                                  * data order) */
    int max_rounds;              /* rounds after the first */
    int per_round;               /* proposals per round (1..4: lin, its blind control, cut,
                                  * its blind control) */
    int replicates;              /* the Δ reference trained this many times (seeds seed, seed+1,
                                  * ...): 1 = no noise floor */
    int candidate_replicates;    /* every candidate and control of the first round trained this
                                  * many times, with the same seeds (paired): NAME, NAME_s2, ... */
    int inherit_short_steps;     /* [ours] an inherited run of fewer steps keeps the probe's final
                                  * lr, constant (no warmup, no peak) */
    double inherit_lr_frac;      /* [ours] peak lr of an inherited run, as a fraction of
                                  * train.lr; its cosine ends where the probe's ended
                                  * (lr x min_lr_frac), after a warmup of inherit_steps/20 */
    int analysis_tokens;         /* N of the realised analysis window (<= seq_len) */
    int analysis_windows;        /* validation windows of N tokens a realised measure averages
                                  * (spread evenly over the validation split) */
    int sensitivity_batches;     /* validation batches (B x T) each sensitivity point is measured on */
    char runs_dir[TRAINER_PATH_MAX]; /* checkpoints go to runs_dir/NAME/RUN.safetensors */
    char baselines_from[TRAINER_PATH_MAX]; /* "" or another campaign's folder whose finished
                                  * probe and standard checkpoints this campaign starts from
                                  * (copied; each must be this campaign's run exactly: same
                                  * model, seed, schedule and data, or it is refused) */
    double probe_embed_scale;    /* [ours] embedding multiplier of the runs without LayerNorm
                                  * (the probe and its candidates); runs with it use 1 */
    int parallel;                /* runs training side by side in one process: 0 auto (a
                                  * measurement decides, search/parallel.c), 1 one at a time
                                  * with every thread, k >= 2 k at once, max(1, threads / k)
                                  * threads each; results do not depend on it */
};

/* Loads and validates a campaign config. Errors name the file and the key path. */
int campaign_config_load(struct campaign_config *cc, const char *path, char *err);
void campaign_config_free(struct campaign_config *cc);
/* The campaign config's keys read by the table (the top-level name and the search
 * section), *n of them, and in *search_extra (when not NULL) the NULL-terminated search
 * keys read by hand (multipliers, retrain, measure, objective): so that a test can hold
 * docs/config.md to them. */
const struct config_key *campaign_config_keys(int *n, const char *const **search_extra);
/* The resolved search section, every key with its value (a cJSON object, or NULL when out
 * of memory), for the campaign's recorded setup. */
void *campaign_search_to_json(const struct campaign_config *cc);

/* One run of a campaign: what to train and why. */
enum run_source { SOURCE_NONE = 0, SOURCE_PROBE = 1, SOURCE_STANDARD = 2 };
struct run_spec {
    char name[64];               /* "probe", "standard", "lin2", "std_lin2", "cut_m1.5", ... */
    char role[16];               /* "probe" | "baseline" | "candidate" | "control" */
    char control_of[64];         /* controls: the candidate they are compared with ("" for
                                  * other roles) */
    struct model_config arch;
    char reason[512];
    enum run_source inherit_from;/* warm start source in inherit mode, else SOURCE_NONE */
    int steps;                   /* step budget */
    uint64_t seed;               /* training seed; 0: the campaign's train.seed */
    int round;                   /* the search round that proposes it (0: the first) */
    char parent[64];             /* warm start from this run's checkpoint ("": the source
                                  * inherit_from names: the probe or the standard model) */
    char reference[64];          /* the run its Δ is against ("": the probe, or probe_cont
                                  * for inherited runs) */
    char replicate_of[64];       /* replicates: the reference they repeat with another seed */
};

/* The two reference runs: the S–D probe without LayerNorm and the standard softmax model
 * with LayerNorm, both of the campaign's shape. */
void campaign_baselines(const struct campaign_config *cc, struct run_spec *probe, struct run_spec *standard);

/* In inherit mode the probe and the standard model continued for inherit_steps are runs
 * too: the equal-budget references of inherited candidates and controls. */
#define CAMPAIGN_PROBE_CONT "probe_cont"
#define CAMPAIGN_STANDARD_CONT "standard_cont"

/* Candidates from the probe's per-layer cascade value (search.measure, weight level; the
 * argument keeps its historical name layer_erank), SPEC §5:
 * linear prefixes up to the threshold plus the knee, the same prefixes on the standard
 * model (control), cascade-allocated head dims per multiplier, and their combination with
 * the linear prefix; then the blind controls of equal size (role "control"): for each
 * cut_m{m} uniform_m{m} (one head dim everywhere, the size nearest the candidate's) and
 * reversed_m{m} (its dims in reverse layer order), for each lin{k} linlast{k} (the last k
 * layers linear); for each k of search.low_k, low{k} (the k layers with the lowest
 * value linear, wherever they are; ties: the earlier layer), its opposite high{k} (the k
 * highest) and its blind control lowblind{k} (k layers drawn from train.seed, another set
 * than low{k}'s where one exists), both role "control"; for each f of search.fractions,
 * cut_f{f} (campaign_fraction_dims), its opposite inverse_f{f} and blind controls
 * uniform_f{f} / reversed_f{f}. Under measure "sensitivity" the multiplier rule (which
 * reads a rank) proposes nothing. Identical architectures are proposed once. In inherit mode the list
 * starts with the two continued references; then come the replicates of the Δ reference
 * (the probe, or probe_cont in inherit mode): "{ref}_r2" ... "{ref}_r{replicates}" with
 * seeds train.seed + 1, ...; last, with candidate_replicates n >= 2, every candidate and
 * control again with seeds train.seed + 1 .. + n - 1 as "{name}_s{i}" (replicate_of its
 * name; a control's control_of the candidate's replicate of the same seed; Δ against the
 * reference's replicate of that seed where there is one), so each candidate and control
 * are compared seed by seed (db view v_paired). *out is malloc'ed; -1 when out of memory. */
struct campaign_sensitivity;
int campaign_propose(const struct campaign_config *cc, const double *layer_erank,
                     const struct campaign_sensitivity *sens, struct run_spec **out, int *n);
/* The head dims of a fraction allocation of `probe` (an all-S–D model): f of its attention
 * parameters, within 2% where the grid allows (returns 1 when within). From the
 * measurement: with sens, greedy cuts one grid step at a time, each the step of least
 * loss added per parameter saved (opposite: the most); else d_l proportional to value_l
 * (opposite: to 1 / value_l), rounded to head_dim_step in [head_dim_min, d]. */
int campaign_fraction_dims(const struct campaign_config *cc, const struct model_config *probe, const double *value,
                           const struct campaign_sensitivity *sens, double f, int opposite, int *dims);

/* Round `round` >= 1 of a budget-driven search [ours, SPEC 5], from the incumbent (its
 * name and architecture) and its re-measured per-layer values (search.measure; only its
 * S–D layers' entries are read), one layer's change at a time:
 *   probe_round{r}        the equal-budget reference: the previous round's reference
 *                         (probe_cont for round 1) continued inherit_steps more (its Δ
 *                         against that previous reference), and its replicates
 *                         probe_round{r}_r{i}, i <= replicates, with seeds search.seed + i - 1
 * then, strategies mixed and measured:
 *   r{r}_lin{l}           the S–D layer the measurement ranks lowest made linear
 *   r{r}_linblind{l'}     its blind control: another S–D layer, drawn from the seed
 *   r{r}_cut{l}           the S–D layer with the most room cut to clamp(round_up(m v_l,
 *                         step), head_dim_min, d_l), m the first multiplier (1 if none);
 *                         under "sensitivity" the cut one grid step down that adds the
 *                         least loss per attention parameter saved (sens)
 *   r{r}_cutblind{l'}     its blind control: another S–D layer, drawn from the seed, cut
 *                         by as many dims (the same size)
 * strategy random: r{r}_rlin{l} and r{r}_rcut{l} in turn, layers drawn from the seed, a cut
 * halving the head dim (rounded up to head_dim_step); value and sens are not read.
 * At most per_round proposals, none the incumbent and none a model in trained[] (a
 * measured choice already trained gives way to the next: the next-lowest layer, the next
 * best cut). Each inherits the incumbent's weights and is measured against probe_round{r}.
 * *out is malloc'ed; -1 when out of memory. */
int campaign_propose_round(const struct campaign_config *cc, int round, const char *incumbent,
                           const struct model_config *arch, const double *value,
                           const struct campaign_sensitivity *sens, const struct model_config *trained,
                           int n_trained, struct run_spec **out, int *n);
/* "probe_cont" for round 0, "probe_round{r}" after. */
void campaign_round_reference(char *out, size_t n, int round);


/* What one change to one S–D layer of a model costs, measured without retraining on the
 * first sensitivity_batches validation batches [ours]: the layer cut to each head dim of
 * the grid (multiples of head_dim_step from head_dim_min, below the layer's own, by the
 * inherit path's Schur cut: the leading rotation planes of S) and the layer made linear
 * (the inherit map). Layers that are not S–D have NAN everywhere. */
#define CAMPAIGN_MAX_GRID 64
struct campaign_sensitivity {
    int n_layer;
    double base_loss;                 /* the unchanged model's loss on the same batches */
    int n_dims;
    int dims[CAMPAIGN_MAX_GRID];      /* (n_dims) the grid, ascending */
    double cut_loss[TRAINER_MAX_LAYERS][CAMPAIGN_MAX_GRID]; /* (n_layer, n_dims) loss with layer l
                                       * cut to dims[j]; NAN where dims[j] >= its head dim */
    double linear_loss[TRAINER_MAX_LAYERS]; /* (n_layer) loss with layer l linear */
    int head_dim[TRAINER_MAX_LAYERS]; /* (n_layer) each layer's own head dim */
};
/* Measures the curves of model m (search/measure.c; m is evaluated, not changed). */
int campaign_measure_sensitivity(const struct campaign_config *cc, struct model *m, const struct dataset *ds,
                                 struct campaign_sensitivity *out, char *err);

/* The per-layer value the proposal rules read (search.measure) of model m (search/measure.c;
 * label names it in errors): value[l] the layer's mean over its heads (and, realised, over
 * the windows), NAN for a layer the measure does not see (a linear layer on text);
 * spread[l] its standard deviation across windows (NAN with one window, or at weight
 * level); *n the windows measured (1 at weight level). erank_minus_init subtracts S_0
 * (regenerated from the campaign's train.seed) from m itself: m is changed. sensitivity:
 * value[l] = linear_loss[l] - base_loss, and *sens (when not NULL) receives the curves. */
int campaign_measure_layers(const struct campaign_config *cc, struct model *m, const char *label,
                            const struct dataset *ds, double *value, double *spread, int *n,
                            struct campaign_sensitivity *sens, char *err);

/* "L L S S | d 32,32,16,8": every layer, so distinct models read differently. n >=
 * CAMPAIGN_ARCH_MAX holds the longest: 64 layers of "S " and of "16384," and " | LN". */
#define CAMPAIGN_ARCH_MAX (TRAINER_MAX_LAYERS * 8 + 16)
void campaign_arch_string(char *out, int n, const struct model_config *mc);

/* Warm start (SPEC §4, §5): builds `dst` with architecture `arch` from a trained source
 * model: S–D layers kept, or cut to fewer dims keeping the leading rotation planes of S
 * (real Schur form) and the projection columns spanning them; S–D layers made linear
 * with W_K = U, W_Q = U L; softmax layers made linear by copying W_Q, W_K, W_V. Every
 * other tensor is copied. */
int campaign_inherit(struct model *dst, const struct model_config *arch, const struct model *src,
                     uint64_t seed, char *err);

/* The schedule of an inherited run (the continued references included) [ours]: shorter
 * than inherit_short_steps, constant at train.lr x train.min_lr_frac (the probe's final lr);
 * else peak lr
 * = train.lr x inherit_lr_frac (never below the probe's final lr), a warmup of steps/20,
 * then cosine down to train.lr x train.min_lr_frac, where the probe's own schedule ended.
 * Restarting at the full peak (with the probe's warmup) undid the probe's anneal: the
 * continued probe came out worse than the probe (docs/campaigns.md, "Continuation schedule"). */
#define CAMPAIGN_INHERIT_LR_FRAC 0.25
void campaign_continuation_schedule(const struct campaign_config *cc, struct train_config *tc);

/* What a run produced. */
struct run_outcome {
    int status;                  /* 0 done, 1 failed (diverged etc.), 2 stopped (signal) */
    char error[512];
    struct eval_result val;
    double tokens_per_s, wall_s;
    int64_t steps;
};

/* Trains (or resumes) one run to its budget: checkpoint at ckpt_path, warm-started from
 * source_ckpt when the spec inherits and no checkpoint exists yet. Returns 0 when the run
 * ended (out->status says how); CAMPAIGN_RUN_BAD when its architecture cannot be trained
 * (a permanent failure); CAMPAIGN_RUN_RETRY when the environment failed it (a checkpoint
 * that cannot be written or read, memory): the run stays queued for the next attempt. */
enum { CAMPAIGN_RUN_BAD = -1, CAMPAIGN_RUN_RETRY = -2 };
int campaign_train_run(const struct campaign_config *cc, const struct run_spec *spec,
                       const char *ckpt_path, const char *source_ckpt, const struct dataset *ds,
                       train_progress_fn cb, void *user, struct run_outcome *out, char *err);

#endif
