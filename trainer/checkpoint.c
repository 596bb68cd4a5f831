/* trainer/checkpoint.c — model checkpoints as safetensors files.
 *
 * On-disk format (all tensors F32, little-endian, shapes as in trainer.h):
 *   NAME              every parameter tensor by its name in trainer.h ("wte", "h.0.attn.u", …)
 *   optim.m.NAME      AdamW first moment of NAME (same shape)
 *   optim.v.NAME      AdamW second moment of NAME
 *   __metadata__ (strings):
 *     format          "cascade-checkpoint"       format_version  "1"
 *     model_config    JSON of the model section (full per-layer form)
 *     train_config    JSON of the whole training config (provenance; resume uses the CLI's)
 *     step            optimiser steps taken       val_loss  last validation loss or "nan"
 *     train_seconds   wall seconds of training up to step, summed over resumed segments
 *     params_total, params_attention   parameter counts from the architecture
 *     data_digest     16 hex digits: the dataset trained on (struct dataset's digest:
 *                     FNV-1a 64 of its tokens and split); absent when unknown
 * A file written by Python's safetensors with the same names loads too (without
 * "format", moments may be absent: they start at zero, and step at 0 unless "step" is
 * given). Loading checks everything before it allocates (docs/formats.md, "Checkpoint format"):
 * the metadata values (step an integer 0..2^31-1, val_loss a number >= 0 or "nan",
 * train_seconds a number >= 0, train_config a valid config), the tensors' total size
 * against the parameter count of model_config, every moment present (ours) and finite,
 * and the parameters finite; the safetensors reader has already checked the offsets.
 */
#include "trainer/trainer.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int checkpoint_save(const char *path, const struct model *m, const struct train_config *tc,
                    const struct checkpoint_info *info, char *err)
{
    int n = m->n_tensors;
    struct st_write_tensor *ts = calloc(3 * (size_t)n, sizeof *ts);
    char (*names)[80] = calloc(2 * (size_t)n, sizeof *names);
    if (!ts || !names) { free(ts); free(names); snprintf(err, CASCADE_ERR_MAX, "%s: out of memory", path); return -1; }
    const float *blocks[3] = { m->params, m->adam_m, m->adam_v };
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < n; i++) {
            const struct param_tensor *pt = &m->tensors[i];
            struct st_write_tensor *w = &ts[k * n + i];
            if (k == 0) w->name = pt->name;
            else {
                char *nm = names[(k - 1) * n + i];
                snprintf(nm, 80, "optim.%c.%s", k == 1 ? 'm' : 'v', pt->name);
                w->name = nm;
            }
            w->ndim = pt->ndim;
            w->shape[0] = pt->shape[0];
            w->shape[1] = pt->shape[1];
            w->data = blocks[k] + pt->offset;
        }
    }
    struct param_counts pc = model_config_param_counts(&m->cfg);
    char step[32], val[32], ptot[32], patt[32], secs[32];
    snprintf(step, sizeof step, "%lld", (long long)m->step);
    if (info && isfinite(info->val_loss)) snprintf(val, sizeof val, "%.9g", info->val_loss);
    else snprintf(val, sizeof val, "nan");
    snprintf(secs, sizeof secs, "%.6f", info && isfinite(info->train_s) ? info->train_s : 0.0);
    snprintf(ptot, sizeof ptot, "%zu", pc.total);
    snprintf(patt, sizeof patt, "%zu", pc.attention);
    char *mc = model_config_to_json(&m->cfg);
    char *tcj = tc ? trainer_config_to_json(tc) : NULL;
    char digest[24];
    snprintf(digest, sizeof digest, "%016llx", (unsigned long long)(info ? info->data_digest : 0));
    const char *keys[] = { "format", "format_version", "model_config", "train_config", "step",
                           "val_loss", "params_total", "params_attention", "train_seconds", "data_digest" };
    const char *vals[] = { "cascade-checkpoint", "1", mc, tcj ? tcj : "{}", step, val, ptot, patt, secs, digest };
    int rc = st_write(path, ts, 3 * n, keys, vals, info && info->data_digest ? 10 : 9, err);
    free(mc);
    free(tcj);
    free(ts);
    free(names);
    return rc;
}

/* Writes one formatted line into err and returns -1. Control characters (a newline inside
 * a metadata string) become '?' so the message stays one line. */
static int ck_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ck_fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CASCADE_ERR_MAX, fmt, ap);
    va_end(ap);
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

/* "[3, 4]" */
static void shape_str(char *out, size_t n, int ndim, const int64_t *shape)
{
    size_t k = snprintf(out, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += snprintf(out + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(out + k, n - k, "]");
}

/* Reads tensor `name` into dst after checking that its shape matches pt's. */
static int read_tensor(const struct st_file *f, const char *name, const struct param_tensor *pt,
                       float *dst, char *err)
{
    const struct st_tensor *t = st_find(f, name);
    if (!t) return ck_fail(err, "%s: tensor '%s' is missing", f->path, name);
    int64_t want[2] = { pt->shape[0], pt->shape[1] };
    int ok = t->ndim == pt->ndim && t->shape[0] == want[0] && (pt->ndim == 1 || t->shape[1] == want[1]);
    if (!ok) {
        char got_s[64], want_s[64];
        shape_str(got_s, sizeof got_s, t->ndim, t->shape);
        shape_str(want_s, sizeof want_s, pt->ndim, want);
        return ck_fail(err, "%s: tensor '%s' has shape %s but the model config needs %s", f->path, name, got_s,
                       want_s);
    }
    return st_read_f32(f, t, dst, err);
}

/* The values in a checkpoint's metadata, parsed and checked before anything is allocated.
 * Every reader (train --resume, eval, analyze, search) sees the same checks. */
struct ck_meta {
    int cascade;                 /* format is "cascade-checkpoint": moments are required */
    struct model_config cfg;
    int64_t step;                /* 0 when absent (a foreign file) */
    double val_loss, train_s;
    uint64_t data_digest;        /* 0 when absent */
    int has_tc;                  /* 1 when train_config is stored (and not "{}") */
    struct train_config tc;      /* the stored training config, or defaults when absent */
};

/* A decimal integer in [0, INT32_MAX]: a step count (train.steps is an int). */
static int parse_step(const char *s, int64_t *out)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10) return -1;
    long long v = strtoll(s, NULL, 10);
    if (v > 2147483647LL) return -1;
    *out = v;
    return 0;
}

/* A number as written by checkpoint_save ("%.9g", or "nan" where allowed). */
static int parse_real(const char *s, int allow_nan, double *out)
{
    if (allow_nan && strcmp(s, "nan") == 0) { *out = NAN; return 0; }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v) || v < 0 || isspace((unsigned char)s[0])) return -1;
    *out = v;
    return 0;
}

static int read_meta(const struct st_file *f, struct ck_meta *km, char *err)
{
    const char *path = f->path;
    memset(km, 0, sizeof *km);
    const char *fmt = st_metadata_get(f, "format");
    if (fmt && strcmp(fmt, "cascade-checkpoint") != 0)
        return ck_fail(err, "%s: __metadata__.format: '%.60s', expected 'cascade-checkpoint'", path, fmt);
    km->cascade = fmt != NULL;
    const char *ver = st_metadata_get(f, "format_version");
    if (ver && strcmp(ver, "1") != 0)
        return ck_fail(err, "%s: __metadata__.format_version: '%.20s', this version reads 1", path, ver);
    const char *mc = st_metadata_get(f, "model_config");
    if (!mc) return ck_fail(err, "%s: __metadata__.model_config is missing (not a cascade checkpoint)", path);
    /* errors read "FILE: __metadata__.model_config: model.n_head: ..." */
    char label[TRAINER_PATH_MAX + 40];
    snprintf(label, sizeof label, "%s: __metadata__.model_config", path);
    if (model_config_from_json_string(&km->cfg, mc, label, err) != 0) return -1;
    const char *step = st_metadata_get(f, "step");
    if (step && parse_step(step, &km->step) != 0)
        return ck_fail(err, "%s: __metadata__.step: '%.40s' is not a step count (0..2147483647)", path, step);
    const char *v = st_metadata_get(f, "val_loss");
    km->val_loss = NAN;
    if (v && parse_real(v, 1, &km->val_loss) != 0)
        return ck_fail(err, "%s: __metadata__.val_loss: '%.40s' is not a loss (a number >= 0 or nan)", path, v);
    const char *s = st_metadata_get(f, "train_seconds");
    if (s && parse_real(s, 0, &km->train_s) != 0)
        return ck_fail(err, "%s: __metadata__.train_seconds: '%.40s' is not a duration", path, s);
    /* The stored training config (provenance: eval's data path, analyze's val_fraction);
     * its model section is the one above. */
    const char *dg = st_metadata_get(f, "data_digest");
    if (dg) {
        char *end;
        errno = 0;
        km->data_digest = strtoull(dg, &end, 16);
        if (strlen(dg) != 16 || *end || errno || strspn(dg, "0123456789abcdef") != 16)
            return ck_fail(err, "%s: __metadata__.data_digest: '%.40s' is not 16 hex digits", path, dg);
    }
    trainer_config_defaults(&km->tc);
    const char *tj = st_metadata_get(f, "train_config");
    km->has_tc = tj && strcmp(tj, "{}") != 0;
    if (tj) {
        const char *end = NULL;
        cJSON *json = cJSON_ParseWithOpts(tj, &end, 1);
        if (!json) return ck_fail(err, "%s: __metadata__.train_config: not valid JSON", path);
        int rc = trainer_config_from_json(&km->tc, json, path, "__metadata__.train_config.", err);
        cJSON_Delete(json);
        if (rc != 0) return -1;
    }
    km->tc.model = km->cfg;
    return 0;
}

/* Checks the file's tensors against the model before any allocation: a small file whose
 * model_config claims a huge model is refused here, not after allocating it. Also the
 * optimiser moments: all present or (a file from elsewhere) none; required in ours. */
static int check_tensors(const struct st_file *f, const struct ck_meta *km, char *err)
{
    size_t have = 0;
    int n_optim = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        if (strncmp(f->tensors[i].name, "optim.", 6) == 0) n_optim++;
        else have += st_numel(&f->tensors[i]);
    }
    struct param_counts pc = model_config_param_counts(&km->cfg);
    if (have < pc.total)
        return ck_fail(err, "%s: __metadata__.model_config describes %zu parameters but the file's tensors "
                       "hold %zu values", f->path, pc.total, have);
    if (km->cascade && n_optim == 0)
        return ck_fail(err, "%s: tensor 'optim.m.wte' is missing (a cascade checkpoint holds the AdamW "
                       "moments of every parameter)", f->path);
    return 0;
}

/* Moments are all there or all absent; m finite, v finite and >= 0. */
static int read_moments(const struct st_file *f, struct model *m, int required, char *err)
{
    int present = 0, missing = 0;
    const char *first_missing = NULL;
    char nm[96];
    for (int i = 0; i < m->n_tensors; i++) {
        for (int k = 0; k < 2; k++) {
            snprintf(nm, sizeof nm, "optim.%c.%s", k ? 'v' : 'm', m->tensors[i].name);
            if (st_find(f, nm)) present++;
            else if (!missing++) first_missing = m->tensors[i].name;
        }
    }
    if (present == 0 && !required) return 0;   /* a file from elsewhere: moments start at 0 */
    if (missing)
        return ck_fail(err, "%s: tensor 'optim.m/v.%s' is missing (moments must be given for every "
                       "parameter or none)", f->path, first_missing);
    for (int i = 0; i < m->n_tensors; i++) {
        const struct param_tensor *pt = &m->tensors[i];
        for (int k = 0; k < 2; k++) {
            float *dst = (k ? m->adam_v : m->adam_m) + pt->offset;
            snprintf(nm, sizeof nm, "optim.%c.%s", k ? 'v' : 'm', pt->name);
            if (read_tensor(f, nm, pt, dst, err) != 0) return -1;
            for (size_t j = 0; j < pt->numel; j++)
                if (!isfinite(dst[j]) || (k && dst[j] < 0))
                    return ck_fail(err, "%s: tensor '%s' holds %s", f->path, nm,
                                   isfinite(dst[j]) ? "a negative second moment" : "NaN or inf");
        }
    }
    return 0;
}

int checkpoint_load(const char *path, struct model *m, struct train_config *tc,
                    struct checkpoint_info *info, char *err)
{
    memset(m, 0, sizeof *m);
    struct st_file f;
    if (st_open(&f, path, err) != 0) return -1;
    int rc = -1;
    struct ck_meta *km = malloc(sizeof *km);
    if (!km) { ck_fail(err, "%s: out of memory", path); goto done; }
    if (read_meta(&f, km, err) != 0 || check_tensors(&f, km, err) != 0) goto done;
    if (model_init(m, &km->cfg, 0, err) != 0) goto done;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct param_tensor *pt = &m->tensors[i];
        if (read_tensor(&f, pt->name, pt, m->params + pt->offset, err) != 0) goto fail;
    }
    for (size_t i = 0; i < m->n_params; i++)
        if (!isfinite(m->params[i])) { ck_fail(err, "%s: parameters contain NaN or inf", path); goto fail; }
    if (read_moments(&f, m, km->cascade, err) != 0) goto fail;
    m->step = km->step;
    if (info) {
        info->step = km->step;
        info->val_loss = km->val_loss;
        info->train_s = km->train_s;
        info->data_digest = km->data_digest;
        info->has_train_config = km->has_tc;
    }
    if (tc) *tc = km->tc;
    rc = 0;
    goto done;
fail:
    model_free(m);
done:
    free(km);
    st_close(&f);
    return rc;
}

int checkpoint_peek(const char *path, struct train_config *tc, struct checkpoint_info *info, char *err)
{
    struct st_file f;
    if (st_open(&f, path, err) != 0) return -1;
    struct ck_meta *km = malloc(sizeof *km);
    int rc = km ? read_meta(&f, km, err) : ck_fail(err, "%s: out of memory", path);
    if (rc == 0) {
        *tc = km->tc;
        info->step = km->step;
        info->val_loss = km->val_loss;
        info->train_s = km->train_s;
        info->data_digest = km->data_digest;
        info->has_train_config = km->has_tc;
    }
    free(km);
    st_close(&f);
    return rc;
}

int checkpoint_check_training(const char *path, const struct train_config *had, const struct checkpoint_info *info,
                              const struct train_config *tc, const struct dataset *ds, int allow_longer, char *err)
{
    const char *what = NULL;
    char a[64] = "", b[64] = "";
#define CK_INT(field, name) \
    if (!what && had->field != tc->field) { what = name; snprintf(a, sizeof a, "%lld", (long long)had->field); \
                                            snprintf(b, sizeof b, "%lld", (long long)tc->field); }
#define CK_REAL(field, name) \
    if (!what && had->field != tc->field) { what = name; snprintf(a, sizeof a, "%.9g", (double)had->field); \
                                            snprintf(b, sizeof b, "%.9g", (double)tc->field); }
    if (info->has_train_config) {
        CK_INT(seed, "train.seed")
        if (!(allow_longer && had->steps <= tc->steps)) CK_INT(steps, "train.steps")
        CK_INT(batch_size, "train.batch_size")
        CK_REAL(lr, "train.lr")
        CK_INT(warmup_steps, "train.warmup_steps")
        CK_REAL(min_lr_frac, "train.min_lr_frac")
        CK_REAL(weight_decay, "train.weight_decay")
        CK_INT(decay_s, "train.decay_s")
        CK_REAL(beta1, "train.beta1")
        CK_REAL(beta2, "train.beta2")
        CK_REAL(adam_eps, "train.adam_eps")
        CK_REAL(grad_clip, "train.grad_clip")
        CK_REAL(val_fraction, "data.val_fraction")
    }
#undef CK_INT
#undef CK_REAL
    if (!what && ds && info->data_digest && ds->digest && info->data_digest != ds->digest) {
        what = "data";
        snprintf(a, sizeof a, "digest %016llx", (unsigned long long)info->data_digest);
        snprintf(b, sizeof b, "digest %016llx (%.30s)", (unsigned long long)ds->digest, ds->path);
    }
    if (!what) return 0;
    return ck_fail(err, "%s: %s is %s in the checkpoint but %s here: it belongs to another experiment; refusing to "
                   "resume from it (remove it, or use another output path)", path, what, a, b);
}
