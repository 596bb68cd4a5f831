/* trainer/layout.c — walks PARAM_TABLE (trainer/layout.h) for one model config: which
 * tensors the config has, in checkpoint order, with their shapes. model.c builds the
 * tensor table and initialises from this walk, config.c counts parameters with it, so
 * the two cannot disagree.
 */
#include "trainer/layout.h"

#include <string.h>

/* The table's columns other than the shape, indexed by enum param_row. */
struct layout_row {
    const char *name;
    int per_layer;          /* 1: an L row */
    int decay;
    enum param_init init;
    unsigned when;          /* enum param_when bits */
};

#define LAYOUT_G_ROW(field, name, rows, cols, decay, init, when) [ROW_##field] = { name, 0, decay, init, when },
#define LAYOUT_L_ROW(field, name, rows, cols, decay, init, when) [ROW_##field] = { name, 1, decay, init, when },
static const struct layout_row layout_rows[PARAM_ROWS] = { PARAM_TABLE(LAYOUT_G_ROW, LAYOUT_L_ROW) };
#undef LAYOUT_G_ROW
#undef LAYOUT_L_ROW

_Static_assert(ATTN_SOFTMAX < 8 && ATTN_SD < 8 && ATTN_LINEAR < 8, "kind bits stay below WITH_LN");

/* Shape of row r in layer l (l = -1 for G rows), as written in the table. The dimensions
 * are longs so that counts of an unvalidated config do not overflow an int. */
static void row_shape(enum param_row r, const struct model_config *c, int l, long *rows, long *cols)
{
    const long V = c->vocab_size, T = c->seq_len, C = c->n_embd, H = c->n_head;
    const long d = l >= 0 ? c->layers[l].qk_dim : 0, Hd = H * d;
    const long dv = l >= 0 ? c->layers[l].v_dim : 0, Hdv = H * dv;
    (void)V; (void)T; (void)C; (void)H; (void)d; (void)Hd; (void)dv; (void)Hdv;  /* a table may not use all */
    switch (r) {
#define LAYOUT_SHAPE(field, name, rs, cs, ...) case ROW_##field: *rows = (rs); *cols = (cs); return;
    PARAM_TABLE(LAYOUT_SHAPE, LAYOUT_SHAPE)
#undef LAYOUT_SHAPE
    case PARAM_ROWS: break;
    }
    *rows = *cols = 0;
}

/* 1 when config c has row r in layer l (-1: model-wide). */
static int row_present(const struct layout_row *row, const struct model_config *c, int l)
{
    if ((row->when & WITH_LN) && !c->layernorm) return 0;
    if (l < 0) return 1;
    int kind = c->layers[l].kind;
    return kind >= 0 && kind < 8 && (row->when & (1u << kind));
}

/* Visits row r in layer l if c has it; returns 1 if it did. */
static int visit(const struct model_config *c, int r, int l, layout_fn fn, void *user)
{
    const struct layout_row *row = &layout_rows[r];
    if (!row_present(row, c, l)) return 0;
    if (!fn) return 1;
    long rows, cols;
    row_shape((enum param_row)r, c, l, &rows, &cols);
    struct layout_tensor t = { 0 };
    t.row = (enum param_row)r;
    t.layer = l;
    t.name = row->name;
    t.ndim = cols > 0 ? 2 : 1;
    t.shape[0] = rows;
    t.shape[1] = cols > 0 ? cols : 0;
    t.numel = (size_t)rows * (size_t)(cols > 0 ? cols : 1);
    t.decay = row->decay;
    t.init = row->init;
    t.attention = row->per_layer && strncmp(row->name, "attn.", 5) == 0;
    fn(&t, user);
    return 1;
}

int layout_walk(const struct model_config *c, layout_fn fn, void *user)
{
    int n_layer = c->n_layer < 0 ? 0 : c->n_layer > TRAINER_MAX_LAYERS ? TRAINER_MAX_LAYERS : c->n_layer;
    int n = 0, r = 0;
    while (r < PARAM_ROWS) {
        if (!layout_rows[r].per_layer) { n += visit(c, r++, -1, fn, user); continue; }
        int start = r;                             /* the run of L rows [start, r) */
        while (r < PARAM_ROWS && layout_rows[r].per_layer) r++;
        for (int l = 0; l < n_layer; l++)
            for (int k = start; k < r; k++) n += visit(c, k, l, fn, user);
    }
    return n;
}
