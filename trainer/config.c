/* trainer/config.c — training configuration: defaults, the JSON loader with exact error
 * messages, validation, the JSON forms of the whole config and of its model section
 * (stored in checkpoints, in the loader's schema), and the parameter and FLOP counts that
 * follow from the architecture alone.
 *
 * JSON schema (every section and every key is optional; a missing key keeps its default):
 *
 *   {
 *     "data":  {"path": "data/brown.txt",   text file (read as bytes) or llm.c token file
 *               "val_fraction": 0.05},      last fraction held out, in (0, 1)
 *     "model": {"vocab_size": 256,          1..65536 (token files store uint16)
 *               "n_layer": 4,               1..64 (TRAINER_MAX_LAYERS)
 *               "n_embd": 128,              1..16384
 *               "n_head": 4,                1..1024, the same in every layer
 *               "seq_len": 128,             1..65536
 *               "layernorm": true,          false: no LayerNorm anywhere (S–D trains without)
 *               "residual_scale_init": true,  output projections at std 0.02/sqrt(2L)
 *               "sd_s_init_std": 0.1,       >= 0: S–D's s starts N(0, this^2) [ours, SPEC 2];
 *                                           0 starts every S at zero (D alone)
 *               "embed_scale": 1,           > 0, multiplies token + position embeddings;
 *                                           default 1 with LayerNorm, 32 without [ours]
 *               "attention": "softmax",     "softmax" | "sd" | "linear" for every layer, or a
 *                                           list with one entry per layer: ["sd", "linear", ...]
 *               "linear_prefix": 0,         0..n_layer: the first k layers become "linear",
 *                                           applied after "attention"
 *               "head_dim": 32,             1..1024 for every layer, or a list, one per layer:
 *                                           a head's query/key and value widths both;
 *                                           when absent, n_embd / n_head (which must then
 *                                           divide); explicit head dims need not divide n_embd
 *               "qk_dim": 32,               like head_dim, the query/key width alone (the
 *                                           routing side: U, S, D of S–D), over head_dim
 *               "v_dim": 32},               like head_dim, the value width alone (W_V, W_O)
 *     "train": {"batch_size": 16,           >= 1
 *               "steps": 2000,              optimiser steps, >= 1
 *               "lr": 2e-3,                 peak learning rate, > 0
 *               "warmup_steps": 100,        linear warmup, >= 0
 *               "min_lr_frac": 0.1,         cosine decay ends at lr * min_lr_frac, in [0, 1]
 *               "weight_decay": 0.0,        AdamW, on 2-D matmul weights only, >= 0
 *               "decay_s": false,           also decay S-D's s toward 0 [ours, issue 12]
 *               "beta1": 0.9, "beta2": 0.95,  in [0, 1)
 *               "adam_eps": 1e-8,           > 0
 *               "grad_clip": 1.0,           global L2 norm, 0 disables, >= 0
 *               "seed": 1337,               integer in 0..2^53 (exact as a JSON number)
 *               "eval_every": 250,          steps between evaluations, 0: only at the end
 *               "eval_batches": 16,         validation batches per evaluation, >= 1
 *               "log_every": 50,            steps between progress reports, >= 1
 *               "checkpoint_every": 500,    0: only at the end
 *               "threads": 0,               0: all cores
 *               "precision": "fp32",        the only arithmetic cascade trains in; "bf16"
 *                                           is refused, naming what is missing (below)
 *               "out": ""}   checkpoint path, "" (default) for none
 *   }
 *
 * Integers must be integral JSON numbers (2.5 and "4" are rejected), booleans must be
 * true/false. An unknown or duplicated key anywhere is an error, so a typo never silently
 * falls back to a default. Lists must have exactly n_layer entries. Every error is one line
 * "FILE: KEY.PATH: what was expected, got what", e.g.
 *   configs/x.json: model.n_head: expected an integer in 1..1024, got "four"
 * The upper bounds on n_embd, n_head, seq_len and head_dim are ours: they keep every
 * weight matrix's element count (C x 4C, C x (2Hd + Hd_v), V x C, T x C) within an int.
 *
 * FLOPs per token of training (model_config_train_flops_per_token), at context T:
 *   train   = 3 x forward                     (backward costs about twice the forward)
 *   forward = 2 x W + sum over layers of A_l
 *   W       = V*C (tied output head) + sum over layers of
 *               softmax, linear: C*(2Hd + Hd_v) (qkv) + Hd_v*C (proj)
 *               sd:              C*Hd (U) + C*Hd_v (W_V) + Hd_v*C (proj)
 *             + C*4C + 4C*C (MLP)
 *             i.e. every matmul weight element; the wte lookup, wpe, biases, LayerNorm,
 *             GELU and softmax are not counted.
 *   A_l     = softmax: H*(d+d_v)*(T+1)       QK^T and AV, 2 FLOPs per multiply-add, each
 *                                            query attends to (T+1)/2 positions on average
 *             sd:      H*(d+d_v)*(T+1) + 2*H*d*d  plus the query transform p_i^T L (d x d)
 *             linear:  4*H*d*d_v + 2*H*d      state update phi(k) v^T and readout phi(q)^T S,
 *                                            plus the denominator phi(q) . z
 *   where H = n_head, d = that layer's qk_dim, d_v its v_dim, C = n_embd, V = vocab_size.
 */
#include "trainer/trainer.h"
#include "trainer/layout.h"

#include <cjson/cJSON.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_VOCAB 65536          /* token files store uint16 */
#define CFG_MAX_EMBD 16384           /* C x 4C stays within an int */
#define CFG_MAX_HEAD 1024
#define CFG_MAX_SEQ 65536
#define CFG_MAX_HEAD_DIM 1024
#define CFG_MAX_SEED 9007199254740992.0  /* 2^53: larger integers are not exact in JSON */
#define CFG_MAX_FILE (16u << 20)     /* a config larger than this is surely a wrong file */

/* ------------------------------------------------------------------------------------ */
/* Attention kinds                                                                        */

static const char *const attn_kind_names[] = { "softmax", "sd", "linear" };

const char *attn_kind_name(enum attn_kind k)
{
    if ((int)k < 0 || (int)k > ATTN_LINEAR) return "unknown";
    return attn_kind_names[k];
}

int attn_kind_parse(const char *s, enum attn_kind *out)
{
    if (!s) return -1;
    for (int k = 0; k <= ATTN_LINEAR; k++) {
        if (strcmp(s, attn_kind_names[k]) == 0) {
            *out = (enum attn_kind)k;
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------------------ */
/* Defaults                                                                               */

/* n_layer clamped to what layers[] holds, for code that must not trust the config. */
static int clamp_layers(const struct model_config *mc)
{
    return mc->n_layer < 0 ? 0 : mc->n_layer > TRAINER_MAX_LAYERS ? TRAINER_MAX_LAYERS : mc->n_layer;
}

/* Layers beyond n_layer are zeroed everywhere, so configs compare equal with memcmp. */
static void model_config_defaults(struct model_config *mc)
{
    memset(mc, 0, sizeof *mc);
    mc->vocab_size = 256;
    mc->seq_len = 128;
    mc->n_layer = 4;
    mc->n_head = 4;
    mc->n_embd = 128;
    mc->layernorm = 1;
    mc->residual_scale_init = 1;
    mc->embed_scale = 1.0f;
    mc->sd_s_init_std = TRAINER_SD_S_INIT_STD;
    for (int l = 0; l < mc->n_layer; l++) {
        mc->layers[l].kind = ATTN_SOFTMAX;
        layer_arch_set_head_dim(&mc->layers[l], mc->n_embd / mc->n_head);
    }
}

void trainer_config_defaults(struct train_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    model_config_defaults(&cfg->model);
    snprintf(cfg->data_path, sizeof cfg->data_path, "%s", "data/brown.txt");
    cfg->val_fraction = 0.05;
    cfg->batch_size = 16;
    cfg->steps = 2000;
    cfg->lr = 2e-3;
    cfg->warmup_steps = 100;
    cfg->min_lr_frac = 0.1;
    cfg->weight_decay = 0.0;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.95;
    cfg->adam_eps = 1e-8;
    cfg->grad_clip = 1.0;
    cfg->seed = 1337;
    cfg->eval_every = 250;
    cfg->eval_batches = 16;
    cfg->log_every = 50;
    cfg->checkpoint_every = 500;
    cfg->threads = 0;
    snprintf(cfg->precision, sizeof cfg->precision, "%s", "fp32");
    snprintf(cfg->out_path, sizeof cfg->out_path, "%s", "");
}

/* ------------------------------------------------------------------------------------ */
/* Error messages                                                                         */

/* Labels for errors: "FILE: PREFIX.PATH: message". */
struct cfg_ctx {
    const char *file;      /* NULL or "" for none */
    const char *prefix;    /* prepended to key paths, e.g. "probe." (campaign configs) */
    char *err;             /* CASCADE_ERR_MAX bytes, or NULL */
};

static void vappendf(char *buf, const char *fmt, va_list ap)
{
    size_t n = strlen(buf);
    if (n + 1 < CASCADE_ERR_MAX) vsnprintf(buf + n, CASCADE_ERR_MAX - n, fmt, ap);
}

static void appendf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappendf(buf, fmt, ap);
    va_end(ap);
}

/* Writes the error line and returns -1. `path` is the key path ("model.n_head"), "" for
 * the object itself. Control characters (say, a newline inside an unknown key) become '?'
 * so the message stays one line. */
static int cfg_fail(const struct cfg_ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfg_fail(const struct cfg_ctx *c, const char *path, const char *fmt, ...)
{
    char *e = c->err;
    if (!e) return -1;
    e[0] = '\0';
    if (c->file && c->file[0]) appendf(e, "%s: ", c->file);
    const char *pre = c->prefix ? c->prefix : "";
    size_t pl = strlen(pre);
    int pre_dot = pl > 0 && pre[pl - 1] == '.';
    if (path && path[0]) appendf(e, "%s%s%s: ", pre, (pl && !pre_dot) ? "." : "", path);
    else if (pl) appendf(e, "%.*s: ", (int)(pre_dot ? pl - 1 : pl), pre);
    va_list ap;
    va_start(ap, fmt);
    vappendf(e, fmt, ap);
    va_end(ap);
    for (char *p = e; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return -1;
}

/* A JSON value as a message shows it: "four", 2.5, true, an array. */
static void describe_value(const cJSON *v, char *out, size_t n)
{
    if (!v) snprintf(out, n, "nothing");
    else if (cJSON_IsString(v)) {
        size_t len = strlen(v->valuestring);
        snprintf(out, n, "\"%.*s%s\"", len > 40 ? 40 : (int)len, v->valuestring,
                 len > 40 ? "..." : "");
    } else if (cJSON_IsNumber(v)) snprintf(out, n, "%.15g", v->valuedouble);
    else if (cJSON_IsBool(v)) snprintf(out, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v)) snprintf(out, n, "null");
    else if (cJSON_IsArray(v)) snprintf(out, n, "an array");
    else if (cJSON_IsObject(v)) snprintf(out, n, "an object");
    else snprintf(out, n, "an unsupported value");
}

/* "model" + "n_head" -> "model.n_head"; "" + "model" -> "model". */
static void join_path(char *out, size_t n, const char *section, const char *key)
{
    if (!section || !section[0]) snprintf(out, n, "%s", key);
    else snprintf(out, n, "%s.%s", section, key);
}

/* A JSON syntax error as "[PATH: ]line L, column C: invalid JSON near '...'". `at` is
 * where cJSON stopped (inside text), or NULL. cJSON often stops just past the offending
 * token (after the second comma of ",,"), so when the rest of that line is blank the
 * message quotes the text before the position instead of what follows. */
static int syntax_fail(const struct cfg_ctx *c, const char *path, const char *text, const char *at)
{
    size_t len = strlen(text);
    if (strspn(text, " \t\r\n") == len) return cfg_fail(c, path, "invalid JSON: the text is empty");
    if (!at || at < text || at > text + len) at = text + len;
    int line = 1, col = 1;
    const char *line_start = text;
    for (const char *p = text; p < at; p++) {
        if (*p == '\n') { line++; col = 1; line_start = p + 1; } else col++;
    }
    if (at[strspn(at, " \t\r\n")] == '\0')
        return cfg_fail(c, path, "line %d, column %d: invalid JSON: unexpected end of text",
                        line, col);
    size_t rest = strcspn(at, "\r\n");
    if (at[strspn(at, " \t")] != '\r' && at[strspn(at, " \t")] != '\n')
        return cfg_fail(c, path, "line %d, column %d: invalid JSON near '%.*s'", line, col,
                        (int)(rest > 20 ? 20 : rest), at);
    const char *from = line_start + strspn(line_start, " \t");
    if (at - from > 20) from = at - 20;
    return cfg_fail(c, path, "line %d, column %d: invalid JSON after '%.*s'", line, col,
                    (int)(at - from), from);
}

/* ------------------------------------------------------------------------------------ */
/* The scalar keys, one table for reading and for validating                              */

#define OFF_T(member) offsetof(struct train_config, member)
#define OFF_M(member) offsetof(struct model_config, member)
#define NO_MAX ((double)INT_MAX)   /* an int with no bound of its own */

static const struct config_key fields[] = {
    /* section key                 type    lo   hi                open  why  offset */
    { "data",  "path",             CONFIG_STR,  1,   TRAINER_PATH_MAX - 1, 0, 0, NULL, OFF_T(data_path) },
    { "data",  "val_fraction",     CONFIG_NUM,  0,   1,                1, 1, NULL, OFF_T(val_fraction) },
    { "model", "vocab_size",       CONFIG_INT,  1,   CFG_MAX_VOCAB,    0, 0, "token files store uint16", OFF_M(vocab_size) },
    { "model", "n_layer",          CONFIG_INT,  1,   TRAINER_MAX_LAYERS, 0, 0, NULL, OFF_M(n_layer) },
    { "model", "n_embd",           CONFIG_INT,  1,   CFG_MAX_EMBD,     0, 0, NULL, OFF_M(n_embd) },
    { "model", "n_head",           CONFIG_INT,  1,   CFG_MAX_HEAD,     0, 0, NULL, OFF_M(n_head) },
    { "model", "seq_len",          CONFIG_INT,  1,   CFG_MAX_SEQ,      0, 0, NULL, OFF_M(seq_len) },
    { "model", "layernorm",        CONFIG_BOOL, 0,   1,                0, 0, NULL, OFF_M(layernorm) },
    { "model", "residual_scale_init", CONFIG_BOOL, 0, 1,               0, 0, NULL, OFF_M(residual_scale_init) },
    { "model", "embed_scale",      CONFIG_FLOAT, 0,  1e6,              1, 0, NULL, OFF_M(embed_scale) },
    { "model", "sd_s_init_std",    CONFIG_FLOAT, 0,  10,               0, 0, NULL, OFF_M(sd_s_init_std) },
    { "train", "batch_size",       CONFIG_INT,  1,   NO_MAX,           0, 0, NULL, OFF_T(batch_size) },
    { "train", "steps",            CONFIG_INT,  1,   NO_MAX,           0, 0, NULL, OFF_T(steps) },
    { "train", "lr",               CONFIG_NUM,  0,   INFINITY,         1, 0, NULL, OFF_T(lr) },
    { "train", "warmup_steps",     CONFIG_INT,  0,   NO_MAX,           0, 0, NULL, OFF_T(warmup_steps) },
    { "train", "min_lr_frac",      CONFIG_NUM,  0,   1,                0, 0, NULL, OFF_T(min_lr_frac) },
    { "train", "weight_decay",     CONFIG_NUM,  0,   INFINITY,         0, 0, NULL, OFF_T(weight_decay) },
    { "train", "decay_s",          CONFIG_BOOL, 0,   1,                0, 0, NULL, OFF_T(decay_s) },
    { "train", "beta1",            CONFIG_NUM,  0,   1,                0, 1, NULL, OFF_T(beta1) },
    { "train", "beta2",            CONFIG_NUM,  0,   1,                0, 1, NULL, OFF_T(beta2) },
    { "train", "adam_eps",         CONFIG_NUM,  0,   INFINITY,         1, 0, NULL, OFF_T(adam_eps) },
    { "train", "grad_clip",        CONFIG_NUM,  0,   INFINITY,         0, 0, NULL, OFF_T(grad_clip) },
    { "train", "seed",             CONFIG_SEED, 0,   CFG_MAX_SEED,     0, 0, "2^53, exact as a JSON number", OFF_T(seed) },
    { "train", "eval_every",       CONFIG_INT,  0,   NO_MAX,           0, 0, NULL, OFF_T(eval_every) },
    { "train", "eval_batches",     CONFIG_INT,  1,   NO_MAX,           0, 0, NULL, OFF_T(eval_batches) },
    { "train", "log_every",        CONFIG_INT,  1,   NO_MAX,           0, 0, NULL, OFF_T(log_every) },
    { "train", "checkpoint_every", CONFIG_INT,  0,   NO_MAX,           0, 0, NULL, OFF_T(checkpoint_every) },
    { "train", "threads",          CONFIG_INT,  0,   NO_MAX,           0, 0, NULL, OFF_T(threads) },
    { "train", "precision",        CONFIG_STR,  1,   7,                0, 0, NULL, OFF_T(precision) },
    { "train", "out",              CONFIG_STR,  0,   TRAINER_PATH_MAX - 1, 0, 0, NULL, OFF_T(out_path) },
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

/* Model keys that describe layers; read by parse_layers, not through the table. */
static const char *const model_layer_keys[] = { "attention", "linear_prefix", "head_dim", "qk_dim",
                                                "v_dim", NULL };
static const char *const top_keys[] = { "data", "model", "train", NULL };

const struct config_key *trainer_config_keys(int *n, const char *const **layer_keys)
{
    *n = (int)N_FIELDS;
    if (layer_keys) *layer_keys = model_layer_keys;
    return fields;
}

/* A key of `section`: a table key of that section, or one of `extra` (NULL-terminated). */
static int key_known(const struct config_key *keys, size_t n, const char *const *extra,
                     const char *section, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(section, keys[i].section) == 0 && strcmp(key, keys[i].key) == 0) return 1;
    for (; extra && *extra; extra++)
        if (strcmp(key, *extra) == 0) return 1;
    return 0;
}

/* "a, b, c": the keys a section knows, for the unknown-key message. */
static void known_keys(const struct config_key *keys, size_t n, const char *const *extra,
                       const char *section, char *out, size_t cap)
{
    out[0] = '\0';
    size_t len = 0;
#define ADD_KEY(k) do { int w_ = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", (k)); \
                        if (w_ > 0 && (size_t)w_ < cap - len) len += (size_t)w_; } while (0)
    for (size_t i = 0; i < n; i++)
        if (strcmp(section, keys[i].section) == 0) ADD_KEY(keys[i].key);
    for (; extra && *extra; extra++) ADD_KEY(*extra);
#undef ADD_KEY
}

/* Rejects unknown and duplicated keys: cJSON keeps both copies of a duplicate and reads
 * the first, so a later correction in the file would silently be ignored. */
static int check_keys_of(const struct cfg_ctx *c, const cJSON *obj, const char *section,
                         const struct config_key *keys, size_t n, const char *const *extra)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *key = it->string ? it->string : "";
        char path[160];
        join_path(path, sizeof path, section, key);
        if (!key_known(keys, n, extra, section, key)) {
            char known[512];
            known_keys(keys, n, extra, section, known, sizeof known);
            return cfg_fail(c, path, "unknown key (known keys: %s)", known);
        }
        for (const cJSON *p = obj->child; p != it; p = p->next)
            if (p->string && strcmp(p->string, key) == 0)
                return cfg_fail(c, path, "duplicate key");
    }
    return 0;
}

/* The training config's sections: the table above, the per-layer model keys. */
static int check_keys(const struct cfg_ctx *c, const cJSON *obj, const char *section)
{
    return check_keys_of(c, obj, section, fields, N_FIELDS,
                         !section[0] ? top_keys : strcmp(section, "model") == 0 ? model_layer_keys : NULL);
}

/* "in 1..64" or ">= 1", with the reason in brackets. */
static void int_range(char *out, size_t n, double lo, double hi, const char *why)
{
    if (hi == NO_MAX) snprintf(out, n, ">= %.0f", lo);
    else snprintf(out, n, "in %.0f..%.0f", lo, hi);
    if (why) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, " (%s)", why);
    }
}

/* "> 0", "in [0, 1)". */
static void num_range(char *out, size_t n, const struct config_key *f)
{
    if (isinf(f->hi)) snprintf(out, n, "%s %g", f->lo_open ? ">" : ">=", f->lo);
    else snprintf(out, n, "in %c%g, %g%c", f->lo_open ? '(' : '[', f->lo, f->hi,
                  f->hi_open ? ')' : ']');
}

static int num_ok(const struct config_key *f, double x)
{
    if (!isfinite(x)) return 0;
    if (f->lo_open ? !(x > f->lo) : !(x >= f->lo)) return 0;
    if (isinf(f->hi)) return 1;
    return f->hi_open ? x < f->hi : x <= f->hi;
}

/* An integral JSON number in [lo, hi]. */
static int read_int(const struct cfg_ctx *c, const cJSON *v, const char *path,
                    double lo, double hi, const char *why, double *out)
{
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (isfinite(x) && x == floor(x) && x >= lo && x <= hi) {
            *out = x;
            return 0;
        }
    }
    char range[128], got[64];
    int_range(range, sizeof range, lo, hi, why);
    describe_value(v, got, sizeof got);
    return cfg_fail(c, path, "expected an integer %s, got %s", range, got);
}

/* Reads one table key into the struct at `dst`. */
static int read_field(const struct cfg_ctx *c, const struct config_key *f, const cJSON *v,
                      const char *path, void *dst)
{
    char got[64], range[128];
    double x;
    switch (f->type) {
    case CONFIG_INT:
        if (read_int(c, v, path, f->lo, f->hi, f->why, &x)) return -1;
        *(int *)dst = (int)x;
        return 0;
    case CONFIG_SEED:
        if (read_int(c, v, path, f->lo, f->hi, f->why, &x)) return -1;
        *(uint64_t *)dst = (uint64_t)x;
        return 0;
    case CONFIG_BOOL:
        if (!cJSON_IsBool(v)) {
            describe_value(v, got, sizeof got);
            return cfg_fail(c, path, "expected true or false, got %s", got);
        }
        *(int *)dst = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    case CONFIG_NUM:
    case CONFIG_FLOAT:
        if (!cJSON_IsNumber(v) || !num_ok(f, v->valuedouble)) {
            num_range(range, sizeof range, f);
            describe_value(v, got, sizeof got);
            return cfg_fail(c, path, "expected a number %s, got %s", range, got);
        }
        if (f->type == CONFIG_FLOAT) *(float *)dst = (float)v->valuedouble;
        else *(double *)dst = v->valuedouble;
        return 0;
    case CONFIG_STR: {
        if (!cJSON_IsString(v)) {
            describe_value(v, got, sizeof got);
            return cfg_fail(c, path, "expected a string, got %s", got);
        }
        size_t len = strlen(v->valuestring);
        if ((double)len < f->lo) return cfg_fail(c, path, "expected a non-empty string");
        if ((double)len > f->hi)
            return cfg_fail(c, path, "is %zu bytes long, at most %.0f allowed", len, f->hi);
        memcpy(dst, v->valuestring, len + 1);
        return 0;
    }
    }
    return cfg_fail(c, path, "internal error: unknown field type");
}

/* Checks one table key of a config built in code (same messages as when reading). */
static int check_field(const struct cfg_ctx *c, const struct config_key *f, const void *src,
                       const char *path)
{
    char range[128];
    switch (f->type) {
    case CONFIG_INT: {
        int x = *(const int *)src;
        if (x < f->lo || x > f->hi) {
            int_range(range, sizeof range, f->lo, f->hi, f->why);
            return cfg_fail(c, path, "expected an integer %s, got %d", range, x);
        }
        return 0;
    }
    case CONFIG_SEED: {
        uint64_t x = *(const uint64_t *)src;
        if (x > (uint64_t)f->hi) {   /* compared as integers: 2^53 + 1 rounds to 2^53 */
            int_range(range, sizeof range, f->lo, f->hi, f->why);
            return cfg_fail(c, path, "expected an integer %s, got %llu", range,
                            (unsigned long long)x);
        }
        return 0;
    }
    case CONFIG_BOOL: {
        int x = *(const int *)src;
        if (x != 0 && x != 1)
            return cfg_fail(c, path, "expected true or false (1 or 0), got %d", x);
        return 0;
    }
    case CONFIG_NUM:
    case CONFIG_FLOAT: {
        double x = f->type == CONFIG_FLOAT ? *(const float *)src : *(const double *)src;
        if (!num_ok(f, x)) {
            num_range(range, sizeof range, f);
            return cfg_fail(c, path, "expected a number %s, got %g", range, x);
        }
        return 0;
    }
    case CONFIG_STR: {
        const char *s = src;
        const char *nul = memchr(s, '\0', TRAINER_PATH_MAX);
        if (!nul) return cfg_fail(c, path, "is not NUL-terminated within %d bytes", TRAINER_PATH_MAX);
        if ((double)(nul - s) < f->lo) return cfg_fail(c, path, "expected a non-empty string");
        return 0;
    }
    }
    return cfg_fail(c, path, "internal error: unknown field type");
}

/* Reads the keys of `section` in table `keys` present in obj into base. */
static int parse_keys_of(const struct cfg_ctx *c, const cJSON *obj, const char *section,
                         const struct config_key *keys, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        const struct config_key *f = &keys[i];
        if (strcmp(f->section, section) != 0) continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->key);
        if (!v) continue;
        char path[160];
        join_path(path, sizeof path, section, f->key);
        if (read_field(c, f, v, path, (char *)base + f->offset)) return -1;
    }
    return 0;
}

static int parse_fields(const struct cfg_ctx *c, const cJSON *obj, const char *section, void *base)
{
    return parse_keys_of(c, obj, section, fields, N_FIELDS, base);
}

static int check_fields(const struct cfg_ctx *c, const char *section, const void *base)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        const struct config_key *f = &fields[i];
        if (strcmp(f->section, section) != 0) continue;
        char path[64];
        join_path(path, sizeof path, section, f->key);
        if (check_field(c, f, (const char *)base + f->offset, path)) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Per-layer keys: attention, linear_prefix, head_dim, qk_dim, v_dim                     */

static int read_kind(const struct cfg_ctx *c, const cJSON *v, const char *path, enum attn_kind *out)
{
    if (cJSON_IsString(v) && attn_kind_parse(v->valuestring, out) == 0) return 0;
    char got[64];
    describe_value(v, got, sizeof got);
    return cfg_fail(c, path, "expected \"softmax\", \"sd\" or \"linear\", got %s", got);
}

/* A per-layer list must match n_layer exactly: a short list silently padded would train
 * a different architecture than the one written down. */
static int check_list_length(const struct cfg_ctx *c, const cJSON *v, const char *path, int n_layer)
{
    int n = cJSON_GetArraySize(v);
    if (n != n_layer)
        return cfg_fail(c, path, "has %d entr%s, n_layer is %d", n, n == 1 ? "y" : "ies", n_layer);
    return 0;
}

static int parse_attention(const struct cfg_ctx *c, const cJSON *v, struct model_config *mc)
{
    const char *path = "model.attention";
    if (cJSON_IsString(v)) {
        enum attn_kind k;
        if (read_kind(c, v, path, &k)) return -1;
        for (int l = 0; l < mc->n_layer; l++) mc->layers[l].kind = k;
        return 0;
    }
    if (!cJSON_IsArray(v)) {
        char got[64];
        describe_value(v, got, sizeof got);
        return cfg_fail(c, path, "expected \"softmax\", \"sd\", \"linear\" or a list of them "
                        "(one per layer), got %s", got);
    }
    if (check_list_length(c, v, path, mc->n_layer)) return -1;
    int l = 0;
    for (const cJSON *e = v->child; e; e = e->next, l++) {
        char epath[64];
        snprintf(epath, sizeof epath, "%s[%d]", path, l);
        if (read_kind(c, e, epath, &mc->layers[l].kind)) return -1;
    }
    return 0;
}

/* Which widths a per-layer dim key sets: head_dim both, qk_dim or v_dim one. */
enum dim_side { DIM_BOTH, DIM_QK, DIM_V };

static void set_dim(struct layer_arch *la, enum dim_side side, int d)
{
    if (side != DIM_V) la->qk_dim = d;
    if (side != DIM_QK) la->v_dim = d;
}

/* head_dim, qk_dim or v_dim (v, present): an integer for every layer or a list of them. */
static int parse_dim(const struct cfg_ctx *c, const cJSON *v, const char *key, enum dim_side side,
                     struct model_config *mc)
{
    char path[32];
    snprintf(path, sizeof path, "model.%s", key);
    double x;
    if (cJSON_IsNumber(v)) {
        if (read_int(c, v, path, 1, CFG_MAX_HEAD_DIM, NULL, &x)) return -1;
        for (int l = 0; l < mc->n_layer; l++) set_dim(&mc->layers[l], side, (int)x);
        return 0;
    }
    if (!cJSON_IsArray(v)) {
        char got[64];
        describe_value(v, got, sizeof got);
        return cfg_fail(c, path, "expected an integer in 1..%d or a list of them (one per "
                        "layer), got %s", CFG_MAX_HEAD_DIM, got);
    }
    if (check_list_length(c, v, path, mc->n_layer)) return -1;
    int l = 0;
    for (const cJSON *e = v->child; e; e = e->next, l++) {
        char epath[64];
        snprintf(epath, sizeof epath, "%s[%d]", path, l);
        if (read_int(c, e, epath, 1, CFG_MAX_HEAD_DIM, NULL, &x)) return -1;
        set_dim(&mc->layers[l], side, (int)x);
    }
    return 0;
}

/* head_dim, then qk_dim and v_dim over it. Without head_dim, a side neither of the two
 * sets gets n_embd / n_head. */
static int parse_head_dims(const struct cfg_ctx *c, const cJSON *obj, struct model_config *mc)
{
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(obj, "head_dim");
    const cJSON *qk = cJSON_GetObjectItemCaseSensitive(obj, "qk_dim");
    const cJSON *vd = cJSON_GetObjectItemCaseSensitive(obj, "v_dim");
    if (hd) {
        if (parse_dim(c, hd, "head_dim", DIM_BOTH, mc)) return -1;
    } else if (!qk || !vd) {
        /* The default splits the width evenly; an uneven split has no obvious meaning. */
        if (mc->n_embd % mc->n_head != 0)
            return cfg_fail(c, "model.head_dim", "not given, and its default n_embd / n_head "
                            "needs n_embd (%d) divisible by model.n_head (%d); give head_dim "
                            "explicitly", mc->n_embd, mc->n_head);
        for (int l = 0; l < mc->n_layer; l++)
            layer_arch_set_head_dim(&mc->layers[l], mc->n_embd / mc->n_head);
    }
    if (qk && parse_dim(c, qk, "qk_dim", DIM_QK, mc)) return -1;
    if (vd && parse_dim(c, vd, "v_dim", DIM_V, mc)) return -1;
    return 0;
}

/* Where a model object comes from: a user's config, or a checkpoint's metadata, which
 * has every key written out except in files made before "embed_scale" existed, when the
 * scale was always 1. */
enum model_source { FROM_CONFIG, FROM_CHECKPOINT };

float model_default_embed_scale(int layernorm)
{
    return layernorm ? 1.0f : TRAINER_NO_LN_EMBED_SCALE;
}

/* Reads the "model" object into mc (which holds the defaults). The per-layer keys come
 * after the scalars because their lengths and defaults depend on n_layer, n_embd, n_head;
 * keys with no entry get the defaults softmax and n_embd / n_head. */
static int parse_model(const struct cfg_ctx *c, const cJSON *obj, struct model_config *mc,
                       enum model_source source)
{
    if (check_keys(c, obj, "model")) return -1;
    if (parse_fields(c, obj, "model", mc)) return -1;
    if (!cJSON_GetObjectItemCaseSensitive(obj, "embed_scale"))
        mc->embed_scale = source == FROM_CHECKPOINT ? 1.0f : model_default_embed_scale(mc->layernorm);
    for (int l = 0; l < TRAINER_MAX_LAYERS; l++) {
        mc->layers[l].kind = ATTN_SOFTMAX;
        layer_arch_set_head_dim(&mc->layers[l], 0);
    }
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(obj, "attention");
    if (att && parse_attention(c, att, mc)) return -1;
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(obj, "linear_prefix");
    if (lp) {
        char why[48];
        double k;
        snprintf(why, sizeof why, "n_layer is %d", mc->n_layer);
        if (read_int(c, lp, "model.linear_prefix", 0, mc->n_layer, why, &k)) return -1;
        for (int l = 0; l < (int)k; l++) mc->layers[l].kind = ATTN_LINEAR;
    }
    if (parse_head_dims(c, obj, mc)) return -1;
    memset(&mc->layers[mc->n_layer], 0,
           (size_t)(TRAINER_MAX_LAYERS - mc->n_layer) * sizeof mc->layers[0]);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Validation                                                                             */

static int validate_model(const struct cfg_ctx *c, const struct model_config *mc)
{
    if (check_fields(c, "model", mc)) return -1;
    for (int l = 0; l < mc->n_layer; l++) {
        const struct layer_arch *la = &mc->layers[l];
        char path[64];
        snprintf(path, sizeof path, "model.attention[%d]", l);
        if ((int)la->kind < 0 || (int)la->kind > ATTN_LINEAR)
            return cfg_fail(c, path, "expected \"softmax\", \"sd\" or \"linear\", got kind %d",
                            (int)la->kind);
        /* A layer whose two widths agree is named by head_dim, as its config wrote it. */
        int same = la->qk_dim == la->v_dim;
        snprintf(path, sizeof path, "model.%s[%d]", same ? "head_dim" : "qk_dim", l);
        if (la->qk_dim < 1 || la->qk_dim > CFG_MAX_HEAD_DIM)
            return cfg_fail(c, path, "expected an integer in 1..%d, got %d", CFG_MAX_HEAD_DIM,
                            la->qk_dim);
        if (!same) snprintf(path, sizeof path, "model.v_dim[%d]", l);
        if (la->v_dim < 1 || la->v_dim > CFG_MAX_HEAD_DIM)
            return cfg_fail(c, path, "expected an integer in 1..%d, got %d", CFG_MAX_HEAD_DIM,
                            la->v_dim);
        /* The widest attention matrix, qkv.w (C, 2Hd + Hd_v), must be indexable with an int. */
        long long numel = (long long)mc->n_embd * mc->n_head * (2LL * la->qk_dim + la->v_dim);
        if (numel > INT_MAX)
            return cfg_fail(c, path, "n_embd x n_head x (2 qk_dim + v_dim) = %lld exceeds %d",
                            numel, INT_MAX);
    }
    return 0;
}

/* Why train.precision "bf16" cannot be had here, into why (issue 21, docs/performance.md):
 * it needs bf16 dot products in the CPU (AVX512-BF16: CPUID.(7,1):EAX bit 5; AMX-BF16:
 * CPUID.(7,0):EDX bit 22) and a bf16 GEMM: OpenBLAS's cblas_sbgemm, which Debian's 0.3.21
 * is built without (BUILD_BFLOAT16), and a kernel of our own measured slower than its
 * fp32 sgemm. */
static void bf16_refusal(char *why, size_t n)
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    int bf16 = __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
    int amx = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22));
    int sbgemm = dlsym(RTLD_DEFAULT, "cblas_sbgemm") != NULL;
    if (!bf16 && !amx)
        snprintf(why, n, "\"bf16\" needs AVX512-BF16 or AMX-BF16, which this CPU lacks; use \"fp32\"");
    else if (!sbgemm)
        snprintf(why, n, "\"bf16\" needs a bf16 GEMM (OpenBLAS cblas_sbgemm), which the OpenBLAS loaded here lacks "
                 "(Debian's 0.3.21 is built without BUILD_BFLOAT16), though the CPU has %s; use \"fp32\" "
                 "(docs/performance.md)", bf16 ? "AVX512-BF16" : "AMX-BF16");
    else
        snprintf(why, n, "\"bf16\" is not implemented: cascade's matrix products are fp32 (docs/performance.md); "
                 "use \"fp32\"");
}

static int validate_train(const struct cfg_ctx *c, const struct train_config *cfg)
{
    if (check_fields(c, "data", cfg)) return -1;
    if (validate_model(c, &cfg->model)) return -1;
    if (check_fields(c, "train", cfg)) return -1;
    if (strcmp(cfg->precision, "fp32") != 0) {
        char why[400];
        if (strcmp(cfg->precision, "bf16") == 0) bf16_refusal(why, sizeof why);
        else snprintf(why, sizeof why, "expected \"fp32\" or \"bf16\", got \"%s\"", cfg->precision);
        return cfg_fail(c, "train.precision", "%s", why);
    }
    long long bt = (long long)cfg->batch_size * cfg->model.seq_len;
    if (bt > INT_MAX)
        return cfg_fail(c, "train.batch_size", "batch_size x model.seq_len = %lld exceeds %d",
                        bt, INT_MAX);
    return 0;
}

int trainer_config_validate(const struct train_config *cfg, const char *file, char *err)
{
    const struct cfg_ctx c = { file, "", err };
    return validate_train(&c, cfg);
}

/* ------------------------------------------------------------------------------------ */
/* Loading                                                                                */

/* root[name] when it is an object, NULL when absent, an error otherwise. */
static int get_section(const struct cfg_ctx *c, const cJSON *root, const char *name,
                       const cJSON **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    *out = NULL;
    if (!v) return 0;
    if (!cJSON_IsObject(v)) {
        char got[64];
        describe_value(v, got, sizeof got);
        return cfg_fail(c, name, "expected an object, got %s", got);
    }
    *out = v;
    return 0;
}

int trainer_config_from_json(struct train_config *cfg, const void *cjson_object,
                             const char *file, const char *key_prefix, char *err)
{
    const struct cfg_ctx c = { file, key_prefix, err };
    const cJSON *root = cjson_object;
    if (!cJSON_IsObject(root)) {
        char got[64];
        describe_value(root, got, sizeof got);
        return cfg_fail(&c, "", "expected a JSON object, got %s", got);
    }
    /* Built in a copy so that *cfg is untouched on error. */
    struct train_config tmp;
    trainer_config_defaults(&tmp);
    const cJSON *data, *model, *train;
    if (check_keys(&c, root, "")) return -1;
    if (get_section(&c, root, "data", &data) || get_section(&c, root, "model", &model) ||
        get_section(&c, root, "train", &train))
        return -1;
    if (data && (check_keys(&c, data, "data") || parse_fields(&c, data, "data", &tmp))) return -1;
    if (model && parse_model(&c, model, &tmp.model, FROM_CONFIG)) return -1;
    if (train && (check_keys(&c, train, "train") || parse_fields(&c, train, "train", &tmp)))
        return -1;
    if (validate_train(&c, &tmp)) return -1;
    *cfg = tmp;
    return 0;
}

/* Reads a whole file as a NUL-terminated string (malloc'ed); a NUL byte inside is an
 * error (it would silently end the JSON text there). */
static int read_text_file(const struct cfg_ctx *c, const char *path, char **out)
{
    size_t len;
    if (trainer_read_file(path, CFG_MAX_FILE, out, &len, c->err) != 0) return -1;
    if (strlen(*out) != len) {
        size_t at = strlen(*out);
        free(*out);
        *out = NULL;
        return cfg_fail(c, "", "contains a NUL byte at offset %zu; not a JSON text file", at);
    }
    return 0;
}

int trainer_config_load(struct train_config *cfg, const char *path, char *err)
{
    char *text;
    void *root;
    if (config_file_parse(path, &text, &root, err)) return -1;
    int rc = trainer_config_from_json(cfg, root, path, "", err);
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* The same reader for other config files (campaigns)                                     */

int config_file_parse(const char *path, char **text, void **root, char *err)
{
    const struct cfg_ctx c = { path, "", err };
    *text = NULL;
    *root = NULL;
    if (read_text_file(&c, path, text)) return -1;
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithOpts(*text, &end, 1);
    int rc = 0;
    if (!json) rc = syntax_fail(&c, "", *text, end);
    else if (!cJSON_IsObject(json)) {
        char got[64];
        describe_value(json, got, sizeof got);
        rc = cfg_fail(&c, "", "expected a JSON object, got %s", got);
    }
    if (rc) { cJSON_Delete(json); free(*text); *text = NULL; return -1; }
    *root = json;
    return 0;
}

int config_read_section(const char *file, const void *obj, const char *section,
                        const struct config_key *keys, size_t n_keys, const char *const *extra,
                        void *base, char *err)
{
    const struct cfg_ctx c = { file, "", err };
    const cJSON *o = obj;
    if (!cJSON_IsObject(o)) {
        char got[64];
        describe_value(o, got, sizeof got);
        return cfg_fail(&c, section, "expected an object, got %s", got);
    }
    if (check_keys_of(&c, o, section, keys, n_keys, extra)) return -1;
    return parse_keys_of(&c, o, section, keys, n_keys, base);
}

int config_fail(char *err, const char *file, const char *path, const char *fmt, ...)
{
    char msg[CASCADE_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct cfg_ctx c = { file, "", err };
    return cfg_fail(&c, path, "%s", msg);
}

/* ------------------------------------------------------------------------------------ */
/* The model section as JSON (checkpoints)                                                */

/* A double as JSON text that reads back to the same bits. cJSON's own printer compares
 * with a relative tolerance and may keep only 15 digits, which loses the last bits of a
 * learning rate and the low digits of a seed near 2^53. */
static cJSON *exact_number(double x)
{
    char buf[40];
    if (!isfinite(x)) return cJSON_CreateNull();   /* invalid anyway; the reader rejects it */
    snprintf(buf, sizeof buf, "%.15g", x);
    if (strtod(buf, NULL) != x) snprintf(buf, sizeof buf, "%.17g", x);
    return cJSON_CreateRaw(buf);
}

/* The table keys of `section` as a JSON object; NULL when out of memory. */
static cJSON *section_to_json(const char *section, const void *base)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < N_FIELDS; i++) {
        const struct config_key *f = &fields[i];
        if (strcmp(f->section, section) != 0) continue;
        const char *src = (const char *)base + f->offset;
        cJSON *v = NULL;
        switch (f->type) {
        case CONFIG_INT:  v = cJSON_CreateNumber(*(const int *)src); break;
        case CONFIG_BOOL: v = cJSON_CreateBool(*(const int *)src != 0); break;
        case CONFIG_NUM:  v = exact_number(*(const double *)src); break;
        case CONFIG_FLOAT: v = exact_number(*(const float *)src); break;
        case CONFIG_SEED: v = exact_number((double)*(const uint64_t *)src); break;  /* <= 2^53 */
        case CONFIG_STR:  v = cJSON_CreateString(src); break;
        }
        if (!v) { cJSON_Delete(o); return NULL; }
        cJSON_AddItemToObject(o, f->key, v);
    }
    return o;
}

/* The model object with the per-layer lists written out even when uniform, so a reload
 * needs no defaults and reproduces the architecture exactly. Widths go out as one
 * "head_dim" list when every layer's qk_dim equals its v_dim (the form of every file made
 * before the split, byte for byte), else as a "qk_dim" and a "v_dim" list. */
static cJSON *model_to_json(const struct model_config *mc)
{
    int split = 0;
    for (int l = 0; l < clamp_layers(mc); l++)
        if (mc->layers[l].qk_dim != mc->layers[l].v_dim) split = 1;
    cJSON *o = section_to_json("model", mc);
    cJSON *att = cJSON_AddArrayToObject(o, "attention");
    cJSON *qk = cJSON_AddArrayToObject(o, split ? "qk_dim" : "head_dim");
    cJSON *vd = split ? cJSON_AddArrayToObject(o, "v_dim") : NULL;
    if (!att || !qk || (split && !vd)) { cJSON_Delete(o); return NULL; }
    for (int l = 0; l < clamp_layers(mc); l++) {
        cJSON *k = cJSON_CreateString(attn_kind_name(mc->layers[l].kind));
        if (k) cJSON_AddItemToArray(att, k);
        cJSON *d = cJSON_CreateNumber(mc->layers[l].qk_dim);
        if (d) cJSON_AddItemToArray(qk, d);
        cJSON *dv = split ? cJSON_CreateNumber(mc->layers[l].v_dim) : NULL;
        if (dv) cJSON_AddItemToArray(vd, dv);
        if (!k || !d || (split && !dv)) { cJSON_Delete(o); return NULL; }
    }
    return o;
}

/* Compact JSON text (malloc'ed through cJSON's default hooks: free() it). */
static char *print_and_delete(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

char *model_config_to_json(const struct model_config *mc)
{
    return print_and_delete(model_to_json(mc));
}

char *trainer_config_to_json(const struct train_config *cfg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *data = section_to_json("data", cfg);
    cJSON *model = model_to_json(&cfg->model);
    cJSON *train = section_to_json("train", cfg);
    if (!o || !data || !model || !train) {
        cJSON_Delete(o); cJSON_Delete(data); cJSON_Delete(model); cJSON_Delete(train);
        return NULL;
    }
    cJSON_AddItemToObject(o, "data", data);
    cJSON_AddItemToObject(o, "model", model);
    cJSON_AddItemToObject(o, "train", train);
    return print_and_delete(o);
}

int model_config_from_json_string(struct model_config *mc, const char *json, const char *file,
                                  char *err)
{
    const struct cfg_ctx c = { file, "", err };
    if (!json) return cfg_fail(&c, "model", "no JSON text given");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) return syntax_fail(&c, "model", json, end);
    struct model_config tmp;
    model_config_defaults(&tmp);
    int rc;
    if (!cJSON_IsObject(root)) {
        char got[64];
        describe_value(root, got, sizeof got);
        rc = cfg_fail(&c, "model", "expected an object, got %s", got);
    } else {
        rc = parse_model(&c, root, &tmp, FROM_CHECKPOINT);
        if (!rc) rc = validate_model(&c, &tmp);
    }
    cJSON_Delete(root);
    if (!rc) *mc = tmp;
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Parameter and FLOP counts                                                              */

static void count_tensor(const struct layout_tensor *t, void *user)
{
    struct param_counts *pc = user;
    pc->total += t->numel;
    if (t->attention) pc->attention += t->numel;
}

/* The tensors model_init lays out (PARAM_TABLE in trainer/layout.h), so the counts and the
 * model cannot disagree. */
struct param_counts model_config_param_counts(const struct model_config *mc)
{
    struct param_counts pc = { 0, 0 };
    layout_walk(mc, count_tensor, &pc);
    return pc;
}

double model_config_train_flops_per_token(const struct model_config *mc, int T)
{
    if (T <= 0) T = mc->seq_len;
    double C = mc->n_embd, H = mc->n_head, ctx = (double)T + 1.0;
    double weights = (double)mc->vocab_size * C;   /* the tied output head */
    double attn = 0;                               /* FLOPs that are not weight matmuls */
    for (int l = 0; l < clamp_layers(mc); l++) {
        double d = mc->layers[l].qk_dim, dv = mc->layers[l].v_dim, Hd = H * d, Hdv = H * dv;
        switch (mc->layers[l].kind) {
        case ATTN_SD:
            weights += C * Hd + C * Hdv + Hdv * C;  /* u, v.w, proj.w */
            attn += H * (d + dv) * ctx + 2 * H * d * d;
            break;
        case ATTN_LINEAR:
            weights += C * (2 * Hd + Hdv) + Hdv * C; /* qkv.w, proj.w */
            attn += 4 * H * d * dv + 2 * H * d;
            break;
        default:
            weights += C * (2 * Hd + Hdv) + Hdv * C;
            attn += H * (d + dv) * ctx;
            break;
        }
        weights += 8 * C * C;                       /* mlp.fc.w, mlp.proj.w */
    }
    return 3.0 * (2.0 * weights + attn);
}
