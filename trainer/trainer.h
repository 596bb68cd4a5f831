/* trainer/trainer.h — the whole interface of the trainer module.
 *
 * The trainer is a GPT-2-style byte/token language model in C with hand-written exact
 * gradients, per-layer attention kinds (softmax, S–D, ELU+1 linear; SPEC.md §2, §4) and
 * per-layer head dimensions, AdamW, data loading, and safetensors checkpoints.
 *
 * Conventions used throughout:
 *   - Errors: a function that can fail returns 0 on success and -1 on failure, after
 *     writing one line (no trailing newline) naming the file and field into `err`, a
 *     caller-provided buffer of CASCADE_ERR_MAX bytes. Nothing in this module prints,
 *     except trainer_train(), which reports progress through a callback.
 *   - Shapes are given in comments as (rows, cols) of row-major float32 arrays.
 *     B = batch, T = sequence length, C = model width, H = heads, d = head dim of a layer,
 *     V = vocabulary, L = layers.
 *   - Weights are stored (in, out): y = x W + b, x (N, in), W (in, out).
 *
 * Parameter tensors (checkpoints use their names): listed once, with shapes, order,
 * weight decay, initialisation and which attention kinds have them, in PARAM_TABLE of
 * trainer/layout.h. Model-wide tensors have plain names ("wte", "wpe", "lnf.w"), those of
 * layer l are "h.{l}.SUFFIX" ("h.0.attn.qkv.w", "h.2.attn.u"); docs/formats.md has the table
 * for readers of checkpoint files.
 */
#ifndef CASCADE_TRAINER_H
#define CASCADE_TRAINER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef CASCADE_ERR_MAX
#define CASCADE_ERR_MAX 512
#endif

#define TRAINER_MAX_LAYERS 64
#define TRAINER_PATH_MAX 1024

/* ------------------------------------------------------------------------------------ */
/* Configuration                                                                          */

enum attn_kind { ATTN_SOFTMAX = 0, ATTN_SD = 1, ATTN_LINEAR = 2 };

const char *attn_kind_name(enum attn_kind k);          /* "softmax", "sd", "linear" */
int attn_kind_parse(const char *s, enum attn_kind *out); /* 0 ok, -1 unknown */

struct layer_arch {
    enum attn_kind kind;   /* attention of this layer */
    int qk_dim;            /* d: a head's query/key width, the routing side (U, S, D of S–D,
                            * W_Q and W_K otherwise; SPEC §2 with p of size d), 1 <= d */
    int v_dim;             /* a head's value width (W_V, and W_O's rows), 1 <= v_dim.
                            * Config key head_dim sets both; qk_dim and v_dim set one side.
                            * Every layer has n_head heads. */
};
/* Sets both widths of a layer: a joint head-dim cut (the config key head_dim). */
static inline void layer_arch_set_head_dim(struct layer_arch *la, int d)
{
    la->qk_dim = d;
    la->v_dim = d;
}

struct model_config {
    int vocab_size;        /* V: 256 for bytes */
    int seq_len;           /* T: context length = rows of wpe */
    int n_layer;           /* L <= TRAINER_MAX_LAYERS */
    int n_head;            /* H, the same in every layer */
    int n_embd;            /* C */
    int layernorm;         /* 1: pre-norm blocks and a final norm; 0: x + attn(x), x + mlp(x) */
    int residual_scale_init; /* 1: output projections start at std 0.02/sqrt(2L) (GPT-2) */
    float embed_scale;     /* [ours] token + position embeddings are multiplied by this; a
                            * config file without the key gets model_default_embed_scale(),
                            * a checkpoint without it 1 (it predates the key), and
                            * trainer_config_defaults() 1 (its layernorm is on): code that
                            * turns layernorm off sets this too */
    float sd_s_init_std;   /* [ours, SPEC 2] S–D's s starts N(0, this^2); default (and the
                            * value of checkpoints that predate the key) 0.1 */
    struct layer_arch layers[TRAINER_MAX_LAYERS];
};
#define TRAINER_SD_S_INIT_STD 0.1f

struct train_config {
    struct model_config model;
    char data_path[TRAINER_PATH_MAX]; /* text file (bytes) or llm.c token file */
    double val_fraction;   /* last fraction of the token stream held out for validation */
    int batch_size;        /* B */
    int steps;             /* optimiser steps in all */
    double lr;             /* peak learning rate */
    int warmup_steps;      /* linear warmup from lr/warmup to lr */
    double min_lr_frac;    /* cosine decay ends at lr * min_lr_frac (1.0 = constant lr) */
    double weight_decay;   /* AdamW decoupled decay, applied to 2-D weight matrices only */
    int decay_s;           /* 1: weight_decay also applies to S-D's s (S toward 0) [ours] */
    double beta1, beta2, adam_eps;
    double grad_clip;      /* global L2 norm clip; 0 disables */
    uint64_t seed;         /* initialisation and data order */
    int eval_every;        /* steps between validation evaluations (0: only at the end) */
    int eval_batches;      /* validation batches of B x T tokens per evaluation */
    int log_every;         /* steps between progress reports */
    int checkpoint_every;  /* steps between checkpoints (0: only at the end) */
    int threads;           /* 0: all cores, fewer while other work keeps them busy (train.c) */
    char precision[8];     /* "fp32", the arithmetic of every kernel; "bf16" is refused with
                            * the reason (trainer/config.c, docs/performance.md) */
    char out_path[TRAINER_PATH_MAX]; /* checkpoint path ("" = none) */
};

/* [ours] The embedding multiplier a model config gets when it does not set one: 1 with
 * LayerNorm (GPT-2), TRAINER_NO_LN_EMBED_SCALE without. With no norm, every sub-layer
 * reads the raw residual stream, which GPT-2's N(0, 0.02) embeddings start ~35x below the
 * unit scale a LayerNorm would give; the multiplier brings it to ~1 per element (docs/studies.md,
 * "Training without LayerNorm", has the measurements). */
#define TRAINER_NO_LN_EMBED_SCALE 32.0f
float model_default_embed_scale(int layernorm);

/* Fills every field with its documented default (docs/config.md). */
void trainer_config_defaults(struct train_config *cfg);
/* Loads and validates a JSON config file on top of the defaults. On error, `err`
 * names the file and the key path, e.g. "configs/x.json: model.n_head: must be >= 1". */
int trainer_config_load(struct train_config *cfg, const char *path, char *err);
/* The same for an already parsed JSON object (a cJSON *), for configs that embed a
 * training config (campaigns). `file` and `key_prefix` only label errors. */
int trainer_config_from_json(struct train_config *cfg, const void *cjson_object,
                             const char *file, const char *key_prefix, char *err);
/* Checks ranges and consistency (also of a config built in code). */
int trainer_config_validate(const struct train_config *cfg, const char *file, char *err);
/* The whole training config as a JSON string in the loader's schema (malloc'ed). */
char *trainer_config_to_json(const struct train_config *cfg);
/* The model config as a JSON string in the same schema the loader reads (malloc'ed). */
char *model_config_to_json(const struct model_config *mc);
int model_config_from_json_string(struct model_config *mc, const char *json, const char *file, char *err);

/* The one JSON config reader, shared by the trainer's configs and the campaign configs
 * (trainer/config.c). A config is a table of keys: */
enum config_type { CONFIG_INT, CONFIG_BOOL, CONFIG_NUM, CONFIG_FLOAT, CONFIG_SEED, CONFIG_STR };
struct config_key {
    const char *section;   /* "" for the top level, else the section object's key */
    const char *key;
    enum config_type type; /* INT: int, BOOL: int 0/1, NUM: double, FLOAT: float, SEED:
                            * uint64_t, STR: char[hi + 1] */
    double lo, hi;         /* allowed range (STR: length range) */
    int lo_open, hi_open;  /* NUM, FLOAT: 1 where the bound itself is excluded */
    const char *why;       /* appended to range errors, or NULL */
    size_t offset;         /* of the member in the struct the table fills */
};
/* The training config's scalar keys (the reader's table in trainer/config.c), *n of them,
 * and in *layer_keys (when not NULL) the NULL-terminated model keys read by hand
 * (attention, linear_prefix, head_dim): so that a test can hold docs/config.md to them. */
const struct config_key *trainer_config_keys(int *n, const char *const **layer_keys);
/* Reads a config file (a regular file of at most 16 MiB, no NUL byte) and parses it as
 * one JSON object; *text (malloc'ed) and *root (a cJSON *, cJSON_Delete) on success.
 * Errors: "FILE: line L, column C: invalid JSON near '...'" and the like. */
int config_file_parse(const char *path, char **text, void **root, char *err);
/* Checks that obj (a cJSON object) has only the keys of `section` in `keys` or in `extra`
 * (NULL-terminated, read by the caller), none twice, then reads those of the table that
 * are present into base. Errors: "FILE: SECTION.KEY: expected ..., got ...". */
int config_read_section(const char *file, const void *obj, const char *section,
                        const struct config_key *keys, size_t n_keys, const char *const *extra,
                        void *base, char *err);
/* Writes "FILE: PATH: message" (one line: control characters become '?'); returns -1. */
int config_fail(char *err, const char *file, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 1 when a and b describe the same model (every key, per-layer kinds and dims); otherwise
 * 0 and `why` names the first field that differs, "embed_scale 1 vs 32" (a's vs b's). */
int model_config_same(const struct model_config *a, const struct model_config *b, char *why, size_t n);

/* Parameter counts from the architecture alone. */
struct param_counts {
    size_t total;          /* every trainable float */
    size_t attention;      /* attention sub-layers: q/k/v/u/s/delta/proj weights and biases */
};
struct param_counts model_config_param_counts(const struct model_config *mc);
/* FLOPs per token of one training step (forward + backward = 3 x forward) at context T
 * (T <= 0: seq_len). Forward = 2 x every matmul weight (incl. the tied head) + attention
 * (softmax/S–D: 4*H*d*(T+1)/2 causal average, S–D adds 2*H*d*d; linear: 4*H*d*d + 2*H*d).
 * docs/performance.md, "FLOP formula", has the derivation. */
double model_config_train_flops_per_token(const struct model_config *mc, int T);

/* ------------------------------------------------------------------------------------ */
/* Files a user names (trainer/files.c)                                                   */

/* Opens a regular file for reading without ever blocking (a named pipe, a directory or a
 * device is refused: "PATH: not a regular file (a named pipe)"); *size (if not NULL)
 * receives its size. NULL on error. */
FILE *trainer_fopen_regular(const char *path, size_t *size, char *err);
/* Writing a file atomically: trainer_fopen_temp opens a new, unique temporary file beside
 * path (tmp receives its name: path.XXXXXX, never a symlink's target); write to it, then
 * trainer_commit_temp flushes, fsyncs, closes and renames it over path, or (failed != 0,
 * or any step failing) removes it. A reader sees the old file or the new one, whole. Both
 * return NULL / -1 with err naming the file. n: the size of tmp, >= strlen(path) + 8. */
FILE *trainer_fopen_temp(const char *path, char *tmp, size_t n, char *err);
int trainer_commit_temp(FILE *f, const char *tmp, const char *path, int failed, char *err);
/* The whole regular file, at most max_bytes, NUL-terminated (malloc'ed into *out); *len
 * (if not NULL) receives its length, which may include NUL bytes. */
int trainer_read_file(const char *path, size_t max_bytes, char **out, size_t *len, char *err);

/* ------------------------------------------------------------------------------------ */
/* Data                                                                                   */

struct dataset {
    int32_t *tokens;       /* (n_tokens) all tokens, train split then validation split */
    size_t n_tokens;
    size_t n_train;        /* tokens [0, n_train) train, [n_train, n_tokens) validation */
    int vocab_size;        /* every token < vocab_size (checked on load) */
    int is_bytes;          /* 1 when read as raw bytes (bits per byte is meaningful) */
    uint64_t digest;       /* FNV-1a 64 of every token (as little-endian int32) and n_train:
                            * the data's identity in checkpoints (0: unknown) */
    char path[TRAINER_PATH_MAX];
};

/* Reads a token file in llm.c's format (a file starting with magic 20240520) or, otherwise,
 * any file as bytes (vocab_size must then be >= 256). Splits off the last val_fraction
 * as validation. Whether the splits fit a (B, T) is checked by the caller. */
int data_load(struct dataset *ds, const char *path, int vocab_size, double val_fraction, char *err);
void data_free(struct dataset *ds);
/* Training batch for optimiser step `step`: B windows of T+1 tokens at offsets drawn from
 * a generator seeded by (seed, step), so the batch depends on nothing else (resumable).
 * inputs, targets: (B, T). */
void data_train_batch(const struct dataset *ds, uint64_t seed, int64_t step, int B, int T,
                      int32_t *inputs, int32_t *targets);
/* Validation batch `index`: contiguous windows from the start of the validation split,
 * the same for every model. Returns the number of full batches available for B, T (0 when
 * the split holds fewer than B*T + 1 tokens). */
int data_val_batch_count(const struct dataset *ds, int B, int T);
void data_val_batch(const struct dataset *ds, int index, int B, int T,
                    int32_t *inputs, int32_t *targets);
/* Turns the Brown corpus' tagged files (word/tag tokens, dir/c[a-r][0-9][0-9] in name
 * order) into plain text: words joined by single spaces, one sentence (non-blank line,
 * tab-led or not) per line. */
int data_prepare_brown(const char *corpus_dir, const char *out_path, size_t *bytes_written, char *err);

/* ------------------------------------------------------------------------------------ */
/* Safetensors (read and write; also used by analysis for Hugging Face checkpoints)       */

enum st_dtype { ST_F32 = 0, ST_F16 = 1, ST_BF16 = 2, ST_I32 = 3, ST_I64 = 4, ST_U8 = 5, ST_OTHER = 6 };

struct st_tensor {
    char name[160];
    enum st_dtype dtype;
    char dtype_name[16];   /* as in the header, e.g. "F32" */
    int ndim;
    int64_t shape[8];
    size_t begin, end;     /* byte offsets in the data section */
};

struct st_file {
    char path[TRAINER_PATH_MAX];
    int n_tensors;
    struct st_tensor *tensors;  /* (n_tensors) in header order */
    void *metadata;        /* cJSON object of "__metadata__" (string -> string), or NULL */
    const uint8_t *data;   /* the data section, inside the mapping */
    size_t data_len;
    void *map;             /* the whole file mapped read-only (mmap), map_len bytes */
    size_t map_len;
};

/* Maps the file read-only and parses its header; tensors are converted on st_read_f32,
 * so a large pretrained file costs page cache, not a private copy. On error *f is
 * zeroed (st_close is safe). */
int st_open(struct st_file *f, const char *path, char *err);
void st_close(struct st_file *f);
const struct st_tensor *st_find(const struct st_file *f, const char *name);
size_t st_numel(const struct st_tensor *t);
/* Copies a tensor into float32 (converting F16/BF16); out must hold st_numel(t) floats. */
int st_read_f32(const struct st_file *f, const struct st_tensor *t, float *out, char *err);
const char *st_metadata_get(const struct st_file *f, const char *key); /* NULL if absent */

struct st_write_tensor {
    const char *name;
    int ndim;
    int64_t shape[8];
    const float *data;     /* F32, st numel floats */
};
/* Writes atomically (temp file, fsync, rename). meta: n_meta key/value string pairs. */
int st_write(const char *path, const struct st_write_tensor *tensors, int n_tensors,
             const char *const *meta_keys, const char *const *meta_values, int n_meta, char *err);

/* ------------------------------------------------------------------------------------ */
/* Model                                                                                  */

enum param_decay { DECAY_NEVER = 0, DECAY_ALWAYS = 1, DECAY_IF_S = 2 };

struct param_tensor {
    char name[64];
    int ndim;
    int shape[2];          /* ndim 1 or 2 */
    size_t offset;         /* into model.params (and grads, adam_m, adam_v) */
    size_t numel;
    int decay;             /* 0 never, 1 (DECAY_ALWAYS) AdamW weight decay applies (2-D matmul
                            * weights, not wte/wpe), 2 (DECAY_IF_S) only with train.decay_s */
};

/* Per-op wall time of training steps, for `cascade bench --profile` (search/bench.c):
 * seconds summed over calls, forward and backward apart (the optimiser's step and the
 * zeroing of gradients count as backward). Filled only while model.profile is set; the
 * clock is read around whole ops, so an op's time includes its OpenMP fork/join. */
enum model_prof_op {
    PROF_EMBED,        /* token + position embedding */
    PROF_LAYERNORM,
    PROF_MM_ATTN_IN,   /* matmuls into attention: [W_Q W_K W_V] or S-D's U and W_V */
    PROF_ATTN_CORE,    /* attention itself: softmax or S-D (with its q = p L) or linear */
    PROF_MM_ATTN_OUT,  /* W_O */
    PROF_MM_FC,        /* MLP up-projection (C -> 4C) */
    PROF_GELU,
    PROF_MM_FC_PROJ,   /* MLP down-projection (4C -> C) */
    PROF_RESIDUAL,
    PROF_HEAD,         /* tied output head */
    PROF_XENT,         /* softmax cross-entropy */
    PROF_ZERO,         /* zeroing gradients and gradient buffers */
    PROF_ADAMW,        /* gradient norm, clipping, AdamW */
    PROF_N
};
struct model_profile {
    double fwd[PROF_N], bwd[PROF_N];   /* seconds */
};
const char *model_prof_op_name(enum model_prof_op op);

struct model_acts;         /* activations, laid out once per (B, T); private */
struct model_layout;       /* tensor offsets (model-wide and per layer), recorded once by model_init; private */

struct model {
    struct model_config cfg;
    size_t n_params;
    float *params;         /* (n_params) all parameters, one block */
    float *grads;          /* (n_params) */
    float *adam_m, *adam_v;/* (n_params) AdamW moments */
    int n_tensors;
    struct param_tensor *tensors; /* (n_tensors) names/shapes/offsets into params */
    int64_t step;          /* optimiser steps taken */
    struct model_layout *layout;
    struct model_acts *acts;
    struct model_profile *profile; /* NULL (the default): no timing; else accumulated into */
};

int model_init(struct model *m, const struct model_config *cfg, uint64_t seed, char *err);
void model_free(struct model *m);
const struct param_tensor *model_find_tensor(const struct model *m, const char *name);
float *model_param(const struct model *m, const char *name); /* NULL if absent */

/* Forward pass on (B, T) tokens. Activations are laid out for (B, T) on the first call and
 * again when B, T or the thread count change; when that memory cannot be had, returns -1
 * with `err` set (nothing else fails, so -1 always means out of memory, never divergence).
 * Otherwise returns 0 and, with targets, sets *loss to the mean cross-entropy in nats
 * (NaN or inf when the model has diverged); without targets, *loss = 0. loss may be NULL. */
int model_forward(struct model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                  float *loss, char *err);
/* Backward pass of the last forward (which must have had targets); accumulates into grads. */
void model_backward(struct model *m);
void model_zero_grad(struct model *m);
/* Logits of the last forward: (B, T, V). */
const float *model_logits(const struct model *m);
/* Pre-softmax attention logits of layer l, head h, batch row b of the last forward:
 * (T, T), entry (i, j) = q_i . k_j / sqrt(d) for j <= i and the unmasked value for j > i
 * too (the full matrix, for the routing/filtering split on data). Softmax and S–D layers
 * only; returns -1 for linear layers. out holds T*T floats. */
int model_attention_logits(const struct model *m, int l, int h, int b, float *out);

/* L = S - D (d, d) of head h of S–D layer l (SPEC §2), row-major. Returns -1 if layer l
 * is not an S–D layer. */
int model_sd_matrix(const struct model *m, int l, int h, float *out);

/* S - S_0 (SPEC §2): subtracts from every S–D layer's s the values model_init gives it for
 * `seed` (the run's training seed), so that what remains is what training changed. Used
 * to measure the learned part of a routing spectrum without the random init's tail. */
int model_sd_subtract_init(struct model *m, uint64_t seed, char *err);

/* Global-norm clipping then one AdamW step at learning rate lr; returns the norm before
 * clipping. */
float model_clip_and_step(struct model *m, const struct train_config *tc, float lr);
/* Learning rate at step (0-based) for the schedule in tc. */
float trainer_lr_at(const struct train_config *tc, int64_t step);

/* ------------------------------------------------------------------------------------ */
/* Checkpoints: safetensors with model params, optimiser moments and step (docs/formats.md). */

struct checkpoint_info {
    int64_t step;
    double val_loss;       /* last validation loss in nats/token, NAN if none */
    double train_s;        /* wall seconds of training up to step, over every resumed
                            * segment (0 in files that predate it) */
    uint64_t data_digest;  /* the dataset it trains on (struct dataset's digest); 0: unknown
                            * (files that predate it, files from elsewhere) */
    int has_train_config;  /* load: 1 when the file holds its training config */
};
/* 0 when a checkpoint's recorded training (its stored config, info from checkpoint_load)
 * is the one `tc` on `ds` would continue: seed, steps, batch, the schedule, the optimiser
 * and the data (val_fraction, the digest; ds may be NULL). Otherwise -1 and err names the
 * first field that differs, e.g. "CKPT: train.seed is 1 in the checkpoint but 2 here; ...".
 * Resuming another experiment's checkpoint would record its numbers as this run's.
 * allow_longer: train.steps may be larger here (train --resume --steps N extends a run;
 * a campaign passes 0). */
int checkpoint_check_training(const char *path, const struct train_config *had, const struct checkpoint_info *info,
                              const struct train_config *tc, const struct dataset *ds, int allow_longer, char *err);
/* The metadata of a checkpoint only (no tensors read): its stored training config (model
 * included) and info. Same checks and errors as checkpoint_load's. */
int checkpoint_peek(const char *path, struct train_config *tc, struct checkpoint_info *info, char *err);
int checkpoint_save(const char *path, const struct model *m, const struct train_config *tc,
                    const struct checkpoint_info *info, char *err);
/* Loads a checkpoint into a freshly initialised model (model_init done inside).
 * tc may be NULL; when given, it receives the training config stored in the file. */
int checkpoint_load(const char *path, struct model *m, struct train_config *tc,
                    struct checkpoint_info *info, char *err);

/* ------------------------------------------------------------------------------------ */
/* Training loop and evaluation                                                           */

struct eval_result {
    double loss;           /* mean cross-entropy, nats per token */
    double perplexity;     /* exp(loss) */
    double bits_per_byte;  /* loss / ln 2 for byte data, NAN otherwise */
    int64_t tokens;        /* tokens evaluated */
};
/* Mean loss over the first max_batches (0: all) validation batches of (B, T). -1 with `err`
 * set when the split holds no full batch or memory runs out. */
int trainer_evaluate(struct model *m, const struct dataset *ds, int B, int T, int max_batches,
                     struct eval_result *out, char *err);

struct train_progress {
    int64_t step, steps;   /* step just finished (1-based), total */
    double loss, lr, grad_norm;
    double tokens_per_s;   /* over the last report interval */
    double elapsed_s, eta_s;
    int is_report;         /* 1: a progress report (log_every, evaluation, last step) */
    int is_eval;           /* 1: this report carries a validation result */
    struct eval_result val;
};
/* Called after every step (p->is_report 0) and, with p->is_report 1, at log_every, at each
 * evaluation and at the last step; returning non-zero stops training after the current
 * step (a checkpoint is written). Only a report's rate and ETA fields are meaningful. */
typedef int (*train_progress_fn)(const struct train_progress *p, void *user);

struct train_result {
    int64_t steps_done;
    double final_train_loss;
    struct eval_result val;
    double wall_s;         /* training wall time of the run, every resumed segment included */
    double tokens_per_s;   /* over this segment: the steps it took / its wall time; NAN
                            * when it took none (resumed after its final checkpoint) */
    int diverged;          /* 1 if a loss or gradient became NaN/inf (training stopped) */
    int stopped;           /* 1 if the callback asked to stop */
};
/* Trains per tc. If resume_path names an existing checkpoint, continues from it exactly
 * (same params, moments, step, data order). Writes tc->out_path at checkpoint_every and
 * at the end. *m is zeroed first, so model_free(m) is always safe afterwards.
 * Returns 0; TRAIN_BAD_INPUT when the inputs cannot work (data too short for the shape,
 * a checkpoint that cannot be resumed); TRAIN_FAILED when the work failed in a way that
 * retrying may fix (out of memory, a checkpoint that could not be written). A diverged
 * or stopped run returns 0 with res->diverged / res->stopped set.
 * The callback runs after every step (cheap: it may only read a stop flag) with
 * p->is_report set at log_every, at each evaluation and at the last step. */
enum { TRAIN_BAD_INPUT = -1, TRAIN_FAILED = -2 };
int trainer_train(const struct train_config *tc, const char *resume_path, struct model *m,
                  const struct dataset *ds, train_progress_fn cb, void *user,
                  struct train_result *res, char *err);

/* Floats of the activation block model_forward lays out for (B, T) on nthreads threads. */
size_t model_activation_floats(const struct model_config *mc, int B, int T, int nthreads);
/* Refuses, before anything is allocated, a (B, T) whose activations plus parameters and
 * AdamW state exceed this machine's physical memory: "FILE: train.batch_size x
 * model.seq_len = 64 x 65536 needs 4166.3 GiB (...); this machine has 23.4 GiB". */
int trainer_check_memory(const struct model_config *mc, int B, int T, const char *file, char *err);

/* Threads for OpenMP loops and OpenBLAS (0 = every CPU this process may run on). */
void trainer_set_threads(int n);
/* Flushes subnormal floats to zero in the calling thread and OpenMP's pool (x86 FTZ+DAZ;
 * trainer/train.c says why). trainer_train calls it; so does main, before any thread. */
void trainer_fp_setup(void);
/* Threads a run with train.threads 0 uses while `others` runnable tasks that are not its
 * own share `cpus` CPUs: max(1, min(max_threads, cpus - others)) (trainer/train.c,
 * "Sharing the cores"). */
int trainer_threads_for_load(int max_threads, int cpus, int others);

/* Deterministic random numbers (splitmix64 + Box–Muller); no global state. */
uint64_t trainer_rng_next(uint64_t *state);
float trainer_rng_uniform(uint64_t *state);   /* [0, 1) */
float trainer_rng_normal(uint64_t *state);    /* N(0, 1) */

#endif
