/* analysis/json.c — an analysed model as JSON, for scripts (`cascade analyze --json`).
 *
 * Schema (keys in this order; NaN prints as null; layers and heads numbered from 0):
 *   { "path", "format", "n_layer", "n_head", "n_embd", "realised_tokens",
 *     "cascade_spearman", "cascade_spearman_realised",
 *     "summary": { "routing_fraction" | "routing_erank" | "routing_erank_over_capacity":
 *                  { "mean", "min", "p10", "p50", "p90", "max" } },
 *     "layers": [ { "layer", "kind", "head_dim", "capacity", "n_head",
 *                   "mean" | "min" | "max": MEASURES,
 *                   "realised": { "mean", "min", "max" } (when measured) } ],
 *     "heads": [ { "layer", "head", "kind", "head_dim", "capacity", SPLIT...,
 *                  "realised": { SPLIT... } (when measured) } ] }
 *   MEASURES = routing_fraction, routing_erank, routing_pr, routing_k90, routing_planes,
 *              filtering_erank, filtering_pr, filtering_k90
 *   SPLIT    = MEASURES + routing_singular_values, filtering_singular_values (descending)
 */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "analysis/analysis.h"

static void add_measures(cJSON *o, const struct analysis_measures *m)
{
    cJSON_AddNumberToObject(o, "routing_fraction", m->routing_fraction);
    cJSON_AddNumberToObject(o, "routing_erank", m->routing_erank);
    cJSON_AddNumberToObject(o, "routing_pr", m->routing_pr);
    cJSON_AddNumberToObject(o, "routing_k90", m->routing_k90);
    cJSON_AddNumberToObject(o, "routing_planes", m->routing_planes);
    cJSON_AddNumberToObject(o, "filtering_erank", m->filtering_erank);
    cJSON_AddNumberToObject(o, "filtering_pr", m->filtering_pr);
    cJSON_AddNumberToObject(o, "filtering_k90", m->filtering_k90);
}

static void add_split(cJSON *o, const struct analysis_split *s)
{
    struct analysis_measures m = analysis_measures_of(s);
    add_measures(o, &m);
    cJSON_AddItemToObject(o, "routing_singular_values", cJSON_CreateDoubleArray(s->routing.sv, s->routing.n));
    cJSON_AddItemToObject(o, "filtering_singular_values", cJSON_CreateDoubleArray(s->filtering.sv, s->filtering.n));
}

static cJSON *measures_object(const struct analysis_measures *m)
{
    cJSON *o = cJSON_CreateObject();
    if (o) add_measures(o, m);
    return o;
}

static cJSON *dist_object(const struct analysis_dist *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mean", d->mean);
    cJSON_AddNumberToObject(o, "min", d->min);
    cJSON_AddNumberToObject(o, "p10", d->p10);
    cJSON_AddNumberToObject(o, "p50", d->p50);
    cJSON_AddNumberToObject(o, "p90", d->p90);
    cJSON_AddNumberToObject(o, "max", d->max);
    return o;
}

static cJSON *layer_object(const struct analysis_layer *ly)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "layer", ly->layer);
    cJSON_AddStringToObject(o, "kind", ly->kind);
    cJSON_AddNumberToObject(o, "head_dim", ly->head_dim);
    cJSON_AddNumberToObject(o, "capacity", ly->capacity);
    cJSON_AddNumberToObject(o, "n_head", ly->n_head);
    cJSON_AddItemToObject(o, "mean", measures_object(&ly->mean));
    cJSON_AddItemToObject(o, "min", measures_object(&ly->min));
    cJSON_AddItemToObject(o, "max", measures_object(&ly->max));
    if (ly->has_realised) {
        cJSON *r = cJSON_AddObjectToObject(o, "realised");
        cJSON_AddItemToObject(r, "mean", measures_object(&ly->realised_mean));
        cJSON_AddItemToObject(r, "min", measures_object(&ly->realised_min));
        cJSON_AddItemToObject(r, "max", measures_object(&ly->realised_max));
    }
    return o;
}

static cJSON *head_object(const struct analysis_head *hd)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "layer", hd->layer);
    cJSON_AddNumberToObject(o, "head", hd->head);
    cJSON_AddStringToObject(o, "kind", hd->kind);
    cJSON_AddNumberToObject(o, "head_dim", hd->head_dim);
    cJSON_AddNumberToObject(o, "capacity", hd->capacity);
    add_split(o, &hd->weight);
    if (hd->has_realised) add_split(cJSON_AddObjectToObject(o, "realised"), &hd->realised);
    return o;
}

char *analysis_model_to_json(const struct analysis_model *m)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "path", m->path);
    cJSON_AddStringToObject(root, "format", analysis_format_name(m->format));
    cJSON_AddNumberToObject(root, "n_layer", m->n_layer);
    cJSON_AddNumberToObject(root, "n_head", m->n_head);
    cJSON_AddNumberToObject(root, "n_embd", m->n_embd);
    cJSON_AddNumberToObject(root, "realised_tokens", m->realised_tokens);
    cJSON_AddNumberToObject(root, "cascade_spearman", m->cascade);
    cJSON_AddNumberToObject(root, "cascade_spearman_realised", m->cascade_realised);
    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddItemToObject(sum, "routing_fraction", dist_object(&m->routing_fraction));
    cJSON_AddItemToObject(sum, "routing_erank", dist_object(&m->routing_erank));
    cJSON_AddItemToObject(sum, "routing_erank_over_capacity", dist_object(&m->routing_erank_frac));
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int l = 0; l < m->n_layer; l++) cJSON_AddItemToArray(layers, layer_object(&m->layers[l]));
    cJSON *heads = cJSON_AddArrayToObject(root, "heads");
    for (int i = 0; i < m->n_layer * m->n_head; i++) cJSON_AddItemToArray(heads, head_object(&m->heads[i]));
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}
