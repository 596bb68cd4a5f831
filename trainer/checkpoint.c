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
 * A file written by Python's safetensors with the same names loads too (moments absent:
 * they start at zero and step at 0 unless "step" is given).
 */
#include "trainer/trainer.h"

#include <cjson/cJSON.h>
#include <math.h>
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
    snprintf(secs, sizeof secs, "%.3f", info && isfinite(info->train_s) ? info->train_s : 0.0);
    snprintf(ptot, sizeof ptot, "%zu", pc.total);
    snprintf(patt, sizeof patt, "%zu", pc.attention);
    char *mc = model_config_to_json(&m->cfg);
    char *tcj = tc ? trainer_config_to_json(tc) : NULL;
    const char *keys[] = { "format", "format_version", "model_config", "train_config", "step",
                           "val_loss", "params_total", "params_attention", "train_seconds" };
    const char *vals[] = { "cascade-checkpoint", "1", mc, tcj ? tcj : "{}", step, val, ptot, patt, secs };
    int rc = st_write(path, ts, 3 * n, keys, vals, 9, err);
    free(mc);
    free(tcj);
    free(ts);
    free(names);
    return rc;
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
    if (!t) { snprintf(err, CASCADE_ERR_MAX, "%s: tensor '%s' is missing", f->path, name); return -1; }
    int64_t want[2] = { pt->shape[0], pt->shape[1] };
    int ok = t->ndim == pt->ndim && t->shape[0] == want[0] && (pt->ndim == 1 || t->shape[1] == want[1]);
    if (!ok) {
        char got_s[64], want_s[64];
        shape_str(got_s, sizeof got_s, t->ndim, t->shape);
        shape_str(want_s, sizeof want_s, pt->ndim, want);
        snprintf(err, CASCADE_ERR_MAX, "%s: tensor '%s' has shape %s but the model config needs %s",
                 f->path, name, got_s, want_s);
        return -1;
    }
    return st_read_f32(f, t, dst, err);
}

int checkpoint_load(const char *path, struct model *m, struct train_config *tc,
                    struct checkpoint_info *info, char *err)
{
    struct st_file f;
    if (st_open(&f, path, err) != 0) return -1;
    int rc = -1;
    const char *mc = st_metadata_get(&f, "model_config");
    struct model_config cfg;
    if (!mc) {
        snprintf(err, CASCADE_ERR_MAX, "%s: __metadata__.model_config is missing (not a cascade checkpoint)", path);
        goto done;
    }
    /* errors read "FILE: __metadata__.model_config: model.n_head: ..." */
    char label[TRAINER_PATH_MAX + 40];
    snprintf(label, sizeof label, "%s: __metadata__.model_config", path);
    if (model_config_from_json_string(&cfg, mc, label, err) != 0) goto done;
    if (model_init(m, &cfg, 0, err) != 0) goto done;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct param_tensor *pt = &m->tensors[i];
        char nm[96];
        if (read_tensor(&f, pt->name, pt, m->params + pt->offset, err) != 0) goto fail;
        snprintf(nm, sizeof nm, "optim.m.%s", pt->name);
        if (st_find(&f, nm) && read_tensor(&f, nm, pt, m->adam_m + pt->offset, err) != 0) goto fail;
        snprintf(nm, sizeof nm, "optim.v.%s", pt->name);
        if (st_find(&f, nm) && read_tensor(&f, nm, pt, m->adam_v + pt->offset, err) != 0) goto fail;
    }
    for (size_t i = 0; i < m->n_params; i++) {
        if (!isfinite(m->params[i])) {
            snprintf(err, CASCADE_ERR_MAX, "%s: parameters contain NaN or inf", path);
            goto fail;
        }
    }
    const char *step = st_metadata_get(&f, "step");
    if (step) {
        char *end;
        long long s = strtoll(step, &end, 10);
        if (*end || s < 0) { snprintf(err, CASCADE_ERR_MAX, "%s: __metadata__.step: '%s' is not a step count", path, step); goto fail; }
        m->step = s;
    }
    if (info) {
        const char *v = st_metadata_get(&f, "val_loss");
        info->step = m->step;
        info->val_loss = v ? strtod(v, NULL) : NAN;
        const char *s = st_metadata_get(&f, "train_seconds");
        char *end = NULL;
        info->train_s = s ? strtod(s, &end) : 0.0;
        if (s && (*end || !(info->train_s >= 0) || !isfinite(info->train_s))) {
            snprintf(err, CASCADE_ERR_MAX, "%s: __metadata__.train_seconds: '%.32s' is not a duration", path, s);
            goto fail;
        }
    }
    if (tc) {
        /* The stored training config (provenance); its model section is the one above. */
        const char *tj = st_metadata_get(&f, "train_config");
        trainer_config_defaults(tc);
        cJSON *json = tj ? cJSON_Parse(tj) : NULL;
        if (json && trainer_config_from_json(tc, json, path, "__metadata__.train_config.", err) != 0) {
            cJSON_Delete(json);
            goto fail;
        }
        cJSON_Delete(json);
        tc->model = cfg;
    }
    rc = 0;
    goto done;
fail:
    model_free(m);
done:
    st_close(&f);
    return rc;
}
