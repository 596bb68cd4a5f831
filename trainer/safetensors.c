/* trainer/safetensors.c — read and write Hugging Face safetensors files (checkpoints of
 * this trainer, and Hugging Face models for analysis).
 *
 * On-disk format (https://github.com/huggingface/safetensors):
 *   bytes [0, 8)        N, uint64 little-endian: length of the header
 *   bytes [8, 8+N)      header: a UTF-8 JSON object, possibly padded with trailing spaces
 *                         "NAME": {"dtype": "F32", "shape": [d0, d1, ...],
 *                                  "data_offsets": [begin, end]}   one per tensor
 *                         "__metadata__": {"key": "value", ...}   optional, strings only
 *   bytes [8+N, EOF)    data section; a tensor's bytes are [begin, end) relative to its
 *                       start, row-major, little-endian, end - begin = numel * dtype size
 * Files written here hold F32 tensors laid out in the order given, with the header padded
 * so that the data section starts at a multiple of 8 bytes.
 *
 * Reading maps the file read-only (mmap) and validates every header entry against the
 * mapped size, so later accesses (st_read_f32) cannot run out of bounds; as in the
 * reference reader, the tensors must tile the data section exactly (no overlap, no gap).
 */
#include "trainer/trainer.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_NAME_MAX 159                      /* longest tensor name (struct st_tensor.name) */
#define ST_MAX_DIMS 8
#define ST_HEADER_MAX ((uint64_t)100000000)   /* the reference reader's limit, 100 MB */
#define ST_JSON_INT_MAX 9007199254740992.0    /* 2^53: largest exactly representable int */

/* ------------------------------------------------------------------------------------ */
/* Small helpers                                                                          */

/* Writes one formatted line into err (CASCADE_ERR_MAX bytes); returns -1. Control
 * characters (from names or paths) become '?' so the message stays one line. */
static int st_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int st_fail(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, CASCADE_ERR_MAX, fmt, ap);
        va_end(ap);
        for (char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20) *c = '?';
    }
    return -1;
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t load_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static float bits_to_float(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* IEEE 754 binary16 -> binary32, exact for every input (subnormals, ±0, ±inf, NaN with
 * its payload). half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | mant << 13); /* inf, NaN */
    if (exp != 0) return bits_to_float(sign | (exp + 127 - 15) << 23 | mant << 13);
    if (mant == 0) return bits_to_float(sign);                             /* ±0 */
    /* subnormal: mant * 2^-24; shift the leading 1 up to bit 10, value = 1.f * 2^(-14-s) */
    int s = 0;
    while (!(mant & 0x400)) { mant <<= 1; s++; }
    return bits_to_float(sign | (uint32_t)(127 - 14 - s) << 23 | (mant & 0x3ff) << 13);
}

/* bfloat16 is the top half of a binary32. */
static float bf16_to_float(uint16_t b) { return bits_to_float((uint32_t)b << 16); }

/* ------------------------------------------------------------------------------------ */
/* Dtypes                                                                                 */

static const struct { const char *name; enum st_dtype dtype; size_t size; } st_dtypes[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2},
    {"I32", ST_I32, 4}, {"I64", ST_I64, 8}, {"U8", ST_U8, 1},
    /* kept as ST_OTHER, sizes still checked */
    {"F64", ST_OTHER, 8}, {"I8", ST_OTHER, 1}, {"I16", ST_OTHER, 2}, {"U16", ST_OTHER, 2},
    {"U32", ST_OTHER, 4}, {"U64", ST_OTHER, 8}, {"BOOL", ST_OTHER, 1},
    {"F8_E4M3", ST_OTHER, 1}, {"F8_E5M2", ST_OTHER, 1},
};

/* A dtype name is 1..15 characters of [A-Za-z0-9_]. */
static int dtype_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((struct st_tensor *)0)->dtype_name)) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Fills dtype and returns the element size in bytes; 0 for a dtype we do not know. */
static size_t dtype_lookup(const char *name, enum st_dtype *dtype)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(name, st_dtypes[i].name) == 0) { *dtype = st_dtypes[i].dtype; return st_dtypes[i].size; }
    *dtype = ST_OTHER;
    return 0;
}

/* "[2, 3, 4]" into buf (n bytes), for messages. */
static void format_shape(char *buf, size_t n, const int64_t *shape, int ndim)
{
    size_t len = 0;
    buf[0] = 0;
    len += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < n) snprintf(buf + len, n - len, "]");
}

/* ------------------------------------------------------------------------------------ */
/* Reading                                                                                */

/* Reads the 8-byte length, copies the header (NUL-terminated, *header malloc'ed) and
 * maps f->path, with f->data pointing at the data section. */
static int read_file_parts(struct st_file *f, char **header, size_t *header_len, char *err)
{
    const char *path = f->path;
    size_t file_size = 0;
    FILE *fp = trainer_fopen_regular(path, &file_size, err);
    if (!fp) return -1;
    uint64_t size = (uint64_t)file_size;
    uint8_t lenbuf[8];
    if (size < 8 || fread(lenbuf, 1, 8, fp) != 8) {
        fclose(fp);
        return st_fail(err, "%s: not a safetensors file (%llu bytes, shorter than the 8-byte header length)",
                       path, (unsigned long long)size);
    }
    uint64_t n = load_le64(lenbuf);
    if (n < 2 || n > size - 8 || n > ST_HEADER_MAX) {
        fclose(fp);
        if (n > size - 8)
            return st_fail(err, "%s: not a safetensors file (header length %llu > file size %llu - 8)",
                           path, (unsigned long long)n, (unsigned long long)size);
        return st_fail(err, "%s: not a safetensors file (header length %llu, must be 2..%llu)",
                       path, (unsigned long long)n, (unsigned long long)ST_HEADER_MAX);
    }
    /* Our checkpoints are replaced by rename, never rewritten in place, so a mapping keeps
     * seeing the file it opened. A file that another program truncates while we read it
     * (a third-party model) would raise SIGBUS: callers read the tensors at once and
     * close. */
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fileno(fp), 0);
    fclose(fp);
    if (map == MAP_FAILED)
        return st_fail(err, "%s: cannot map %llu bytes: %s", path, (unsigned long long)size, strerror(errno));
    char *h = malloc((size_t)n + 1);
    if (!h) {
        munmap(map, (size_t)size);
        return st_fail(err, "%s: out of memory for a %llu-byte header", path, (unsigned long long)n);
    }
    memcpy(h, (const char *)map + 8, (size_t)n);
    h[n] = 0;
    *header = h;
    *header_len = (size_t)n;
    f->map = map;
    f->map_len = (size_t)size;
    f->data = (const uint8_t *)map + 8 + n;
    f->data_len = (size_t)(size - 8 - n);
    return 0;
}

/* Parses the header as one JSON object followed only by whitespace. NULL on error. */
static cJSON *parse_header(const char *path, const char *header, size_t len, char *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, len, &end, 0);
    if (!root) {
        size_t at = end && end >= header ? (size_t)(end - header) : 0;
        st_fail(err, "%s: header is not valid JSON (error near byte %zu of %zu)", path, at, len);
        return NULL;
    }
    for (const char *p = end; p < header + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            st_fail(err, "%s: header has bytes after its JSON object (at byte %zu)", path, (size_t)(p - header));
            return NULL;
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        st_fail(err, "%s: header is not a JSON object", path);
        return NULL;
    }
    return root;
}

/* A JSON number that is an integer in [0, 2^53]. */
static int json_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item)) return -1;
    double d = item->valuedouble;
    if (!(d >= 0.0 && d <= ST_JSON_INT_MAX) || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_dtype(const char *path, const cJSON *entry, struct st_tensor *t, size_t *elem_size, char *err)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!dt) return st_fail(err, "%s: tensor '%s': missing \"dtype\"", path, t->name);
    if (!cJSON_IsString(dt) || !dtype_name_ok(dt->valuestring))
        return st_fail(err, "%s: tensor '%s': \"dtype\" is not a dtype name (like \"F32\")", path, t->name);
    strcpy(t->dtype_name, dt->valuestring);
    *elem_size = dtype_lookup(t->dtype_name, &t->dtype);
    return 0;
}

/* Fills t->ndim, t->shape and *numel (checked against overflow). */
static int parse_shape(const char *path, const cJSON *entry, struct st_tensor *t, size_t *numel, char *err)
{
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsArray(sh)) return st_fail(err, "%s: tensor '%s': missing or non-array \"shape\"", path, t->name);
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > ST_MAX_DIMS)
        return st_fail(err, "%s: tensor '%s': \"shape\" has %d dimensions (at most %d)", path, t->name, ndim, ST_MAX_DIMS);
    size_t n = 1;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, sh) {
        uint64_t v;
        if (json_uint(d, &v) != 0)
            return st_fail(err, "%s: tensor '%s': \"shape\"[%d] is not a non-negative integer", path, t->name, i);
        if (v != 0 && n > SIZE_MAX / v)
            return st_fail(err, "%s: tensor '%s': \"shape\" has too many elements", path, t->name);
        n *= (size_t)v;
        t->shape[i++] = (int64_t)v;
    }
    t->ndim = ndim;
    *numel = n;
    return 0;
}

/* Fills t->begin, t->end: within the data section (data_len bytes), begin <= end. */
static int parse_offsets(const char *path, const cJSON *entry, struct st_tensor *t, size_t data_len, char *err)
{
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    uint64_t b, e;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        json_uint(cJSON_GetArrayItem(off, 0), &b) != 0 || json_uint(cJSON_GetArrayItem(off, 1), &e) != 0)
        return st_fail(err, "%s: tensor '%s': \"data_offsets\" is not [begin, end] of non-negative integers",
                       path, t->name);
    if (b > e)
        return st_fail(err, "%s: tensor '%s': data_offsets [%llu, %llu] have begin > end", path, t->name,
                       (unsigned long long)b, (unsigned long long)e);
    if (e > data_len)
        return st_fail(err, "%s: tensor '%s': data_offsets [%llu, %llu] exceed the data section (%zu bytes)",
                       path, t->name, (unsigned long long)b, (unsigned long long)e, data_len);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    return 0;
}

/* One header entry "name": {...} into t. */
static int parse_tensor(const char *path, const cJSON *entry, struct st_tensor *t, size_t data_len, char *err)
{
    const char *name = entry->string;
    if (strlen(name) > ST_NAME_MAX)
        return st_fail(err, "%s: tensor '%.60s...': name is %zu bytes long (at most %d)", path, name,
                       strlen(name), ST_NAME_MAX);
    strcpy(t->name, name);
    if (!cJSON_IsObject(entry)) return st_fail(err, "%s: tensor '%s': entry is not a JSON object", path, name);
    size_t elem_size = 0, numel = 0;
    if (parse_dtype(path, entry, t, &elem_size, err) != 0) return -1;
    if (parse_shape(path, entry, t, &numel, err) != 0) return -1;
    if (parse_offsets(path, entry, t, data_len, err) != 0) return -1;
    if (elem_size == 0) return 0; /* unknown dtype: size not checkable */
    if (numel > SIZE_MAX / elem_size || numel * elem_size != t->end - t->begin) {
        char sh[128];
        format_shape(sh, sizeof sh, t->shape, t->ndim);
        return st_fail(err, "%s: tensor '%s': data_offsets [%zu, %zu] hold %zu bytes but %s shape %s needs %zu (%zu x %zu)",
                       path, name, t->begin, t->end, t->end - t->begin, t->dtype_name, sh, numel * elem_size,
                       numel, elem_size);
    }
    return 0;
}

/* "__metadata__" must map strings to strings; detached from root into f->metadata. */
static int take_metadata(struct st_file *f, cJSON *root, char *err)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    if (!meta) return 0;
    if (!cJSON_IsObject(meta)) return st_fail(err, "%s: \"__metadata__\" is not a JSON object", f->path);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, meta) {
        if (!cJSON_IsString(kv))
            return st_fail(err, "%s: \"__metadata__\" key '%.100s': value is not a string", f->path, kv->string);
    }
    f->metadata = cJSON_DetachItemViaPointer(root, meta);
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const struct st_tensor *x = *(const struct st_tensor *const *)a, *y = *(const struct st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* The reference reader's rule: the tensors' byte ranges, in order of begin, tile the data
 * section exactly (no overlap, no gap, nothing after the last). Overlapping tensors would
 * alias each other's bytes; a gap hides bytes nobody reads. */
static int check_coverage(const struct st_file *f, char *err)
{
    if (f->n_tensors == 0) return 0;
    const struct st_tensor **order = malloc(sizeof *order * (size_t)f->n_tensors);
    if (!order) return st_fail(err, "%s: out of memory for %d tensors", f->path, f->n_tensors);
    for (int i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, cmp_begin);
    size_t at = 0;
    int rc = 0;
    for (int i = 0; i < f->n_tensors && rc == 0; i++) {
        const struct st_tensor *t = order[i];
        if (t->begin < at)
            rc = st_fail(err, "%s: tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' (ends at %zu)",
                         f->path, t->name, t->begin, t->end, order[i - 1]->name, at);
        else if (t->begin > at)
            rc = st_fail(err, "%s: tensor '%s': data_offsets [%zu, %zu] leave bytes [%zu, %zu) of the data "
                         "section unused", f->path, t->name, t->begin, t->end, at, t->begin);
        at = t->end;
    }
    if (rc == 0 && at != f->data_len)
        rc = st_fail(err, "%s: the tensors end at byte %zu of a %zu-byte data section", f->path, at, f->data_len);
    free(order);
    return rc;
}

/* Fills f->tensors (header order) from every key of root except "__metadata__". */
static int parse_entries(struct st_file *f, cJSON *root, char *err)
{
    int n_keys = cJSON_GetArraySize(root), n_meta = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) n_meta += strcmp(e->string, "__metadata__") == 0;
    if (n_meta > 1) return st_fail(err, "%s: \"__metadata__\" appears %d times", f->path, n_meta);
    f->tensors = calloc((size_t)(n_keys > 0 ? n_keys : 1), sizeof *f->tensors);
    if (!f->tensors) return st_fail(err, "%s: out of memory for %d tensors", f->path, n_keys);
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        struct st_tensor *t = &f->tensors[f->n_tensors];
        if (parse_tensor(f->path, e, t, f->data_len, err) != 0) return -1;
        if (st_find(f, t->name)) return st_fail(err, "%s: tensor '%s': name appears twice", f->path, t->name);
        f->n_tensors++;
    }
    if (check_coverage(f, err) != 0) return -1;
    return take_metadata(f, root, err);
}

int st_open(struct st_file *f, const char *path, char *err)
{
    memset(f, 0, sizeof *f);
    if (strlen(path) >= sizeof f->path)
        return st_fail(err, "%.200s...: path too long (at most %zu bytes)", path, sizeof f->path - 1);
    strcpy(f->path, path);
    char *header = NULL;
    size_t header_len = 0;
    if (read_file_parts(f, &header, &header_len, err) != 0) goto fail;
    cJSON *root = parse_header(path, header, header_len, err);
    free(header);
    if (!root) goto fail;
    int rc = parse_entries(f, root, err);
    cJSON_Delete(root);
    if (rc != 0) goto fail;
    return 0;
fail:
    st_close(f);
    return -1;
}

void st_close(struct st_file *f)
{
    free(f->tensors);
    cJSON_Delete((cJSON *)f->metadata);
    if (f->map) munmap(f->map, f->map_len);
    memset(f, 0, sizeof *f);
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

size_t st_numel(const struct st_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

int st_read_f32(const struct st_file *f, const struct st_tensor *t, float *out, char *err)
{
    assert(t->begin <= t->end && t->end <= f->data_len);
    const uint8_t *p = f->data + t->begin;
    size_t n = st_numel(t);
    switch (t->dtype) {
    case ST_F32:
        assert(t->end - t->begin == 4 * n);
        for (size_t i = 0; i < n; i++) out[i] = bits_to_float(load_le32(p + 4 * i));
        return 0;
    case ST_F16:
        assert(t->end - t->begin == 2 * n);
        for (size_t i = 0; i < n; i++) out[i] = half_to_float(load_le16(p + 2 * i));
        return 0;
    case ST_BF16:
        assert(t->end - t->begin == 2 * n);
        for (size_t i = 0; i < n; i++) out[i] = bf16_to_float(load_le16(p + 2 * i));
        return 0;
    default:
        return st_fail(err, "%s: tensor '%s': dtype %s cannot be read as float32 (F32, F16, BF16 only)",
                       f->path, t->name, t->dtype_name);
    }
}

const char *st_metadata_get(const struct st_file *f, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive((const cJSON *)f->metadata, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Writing                                                                                */

/* A growable string for building the header. */
struct strbuf {
    char *p;
    size_t len, cap;
    int oom;               /* 1 once an allocation failed; later appends do nothing */
};

static void sb_append(struct strbuf *sb, const char *s, size_t n)
{
    if (sb->oom) return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 256;
        while (sb->len + n + 1 > cap) cap *= 2;
        char *p = realloc(sb->p, cap);
        if (!p) { sb->oom = 1; return; }
        sb->p = p;
        sb->cap = cap;
    }
    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = 0;
}

static void sb_puts(struct strbuf *sb, const char *s) { sb_append(sb, s, strlen(s)); }

static void sb_put_u64(struct strbuf *sb, uint64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    sb_append(sb, buf, (size_t)n);
}

/* s as a quoted JSON string: escapes '"', '\\' and control characters, bytes >= 0x80
 * (UTF-8) pass through. */
static void sb_put_json_string(struct strbuf *sb, const char *s)
{
    sb_append(sb, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') { esc[0] = '\\'; esc[1] = (char)*c; sb_append(sb, esc, 2); }
        else if (*c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *c); sb_append(sb, esc, 6); }
        else sb_append(sb, (const char *)c, 1);
    }
    sb_append(sb, "\"", 1);
}

/* numel of a tensor to write; (size_t)-1 on overflow (checked by validate_write). */
static size_t write_numel(const struct st_write_tensor *w)
{
    size_t n = 1;
    for (int i = 0; i < w->ndim; i++) {
        if (w->shape[i] != 0 && n > SIZE_MAX / 4 / (uint64_t)w->shape[i]) return (size_t)-1;
        n *= (size_t)w->shape[i];
    }
    return n;
}

/* Names, shapes and data pointers of the tensors, and the metadata pairs. */
static int validate_write(const char *path, const struct st_write_tensor *ts, int n,
                          const char *const *keys, const char *const *values, int n_meta, char *err)
{
    if (n < 0 || n_meta < 0) return st_fail(err, "%s: negative tensor or metadata count", path);
    size_t total = 0;                      /* floats in the data section */
    for (int i = 0; i < n; i++) {
        const struct st_write_tensor *w = &ts[i];
        if (!w->name || !w->name[0] || strlen(w->name) > ST_NAME_MAX)
            return st_fail(err, "%s: tensor %d '%.60s': name must be 1..%d bytes", path, i,
                           w->name ? w->name : "(null)", ST_NAME_MAX);
        if (strcmp(w->name, "__metadata__") == 0)
            return st_fail(err, "%s: tensor %d: the name '__metadata__' is reserved", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(ts[j].name, w->name) == 0) return st_fail(err, "%s: tensor '%s': name appears twice", path, w->name);
        if (w->ndim < 0 || w->ndim > ST_MAX_DIMS)
            return st_fail(err, "%s: tensor '%s': ndim %d (must be 0..%d)", path, w->name, w->ndim, ST_MAX_DIMS);
        for (int d = 0; d < w->ndim; d++)
            if (w->shape[d] < 0)
                return st_fail(err, "%s: tensor '%s': shape[%d] = %lld is negative", path, w->name, d, (long long)w->shape[d]);
        size_t numel = write_numel(w);
        if (numel == (size_t)-1 || numel > SIZE_MAX / 4 - total)
            return st_fail(err, "%s: tensor '%s': shape has too many elements", path, w->name);
        total += numel;
        if (numel > 0 && !w->data) return st_fail(err, "%s: tensor '%s': data is NULL", path, w->name);
    }
    for (int i = 0; i < n_meta; i++) {
        if (!keys[i] || !values[i]) return st_fail(err, "%s: metadata pair %d has a NULL key or value", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(keys[j], keys[i]) == 0) return st_fail(err, "%s: metadata key '%.100s' appears twice", path, keys[i]);
    }
    return 0;
}

/* The header JSON, padded with spaces so that 8 + its length is a multiple of 8.
 * *data_len receives the size of the data section. NULL when out of memory. */
static char *build_header(const struct st_write_tensor *ts, int n, const char *const *keys,
                          const char *const *values, int n_meta, size_t *header_len, size_t *data_len)
{
    struct strbuf sb = {0};
    sb_puts(&sb, "{");
    if (n_meta > 0) {
        sb_puts(&sb, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_puts(&sb, ",");
            sb_put_json_string(&sb, keys[i]);
            sb_puts(&sb, ":");
            sb_put_json_string(&sb, values[i]);
        }
        sb_puts(&sb, "}");
    }
    size_t offset = 0;                     /* bytes of data so far */
    for (int i = 0; i < n; i++) {
        size_t bytes = 4 * write_numel(&ts[i]);
        if (n_meta > 0 || i > 0) sb_puts(&sb, ",");
        sb_put_json_string(&sb, ts[i].name);
        sb_puts(&sb, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < ts[i].ndim; d++) {
            if (d) sb_puts(&sb, ",");
            sb_put_u64(&sb, (uint64_t)ts[i].shape[d]);
        }
        sb_puts(&sb, "],\"data_offsets\":[");
        sb_put_u64(&sb, offset);
        sb_puts(&sb, ",");
        sb_put_u64(&sb, offset + bytes);
        sb_puts(&sb, "]}");
        offset += bytes;
    }
    sb_puts(&sb, "}");
    while ((8 + sb.len) % 8 != 0) sb_puts(&sb, " ");
    if (sb.oom) { free(sb.p); return NULL; }
    *header_len = sb.len;
    *data_len = offset;
    return sb.p;
}

/* Writes n floats as little-endian F32. 0 or -1 (see ferror). */
static int write_f32_le(FILE *fp, const float *x, size_t n)
{
    uint8_t buf[4096];
    size_t chunk = sizeof buf / 4;
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        for (size_t k = 0; k < m; k++) {
            uint32_t bits;
            memcpy(&bits, &x[i + k], 4);
            store_le32(buf + 4 * k, bits);
        }
        if (fwrite(buf, 4, m, fp) != m) return -1;
    }
    return 0;
}

/* Length, header, then every tensor's data in order. */
static int write_contents(FILE *fp, const char *header, size_t header_len,
                          const struct st_write_tensor *ts, int n)
{
    uint8_t lenbuf[8];
    store_le64(lenbuf, (uint64_t)header_len);
    if (fwrite(lenbuf, 1, 8, fp) != 8 || fwrite(header, 1, header_len, fp) != header_len) return -1;
    for (int i = 0; i < n; i++)
        if (write_f32_le(fp, ts[i].data, write_numel(&ts[i])) != 0) return -1;
    return 0;   /* trainer_commit_temp flushes and fsyncs */
}

int st_write(const char *path, const struct st_write_tensor *tensors, int n_tensors,
             const char *const *meta_keys, const char *const *meta_values, int n_meta, char *err)
{
    char tmp[TRAINER_PATH_MAX + 8];
    if (strlen(path) >= TRAINER_PATH_MAX)
        return st_fail(err, "%.200s...: path too long (at most %d bytes)", path, TRAINER_PATH_MAX - 1);
    if (validate_write(path, tensors, n_tensors, meta_keys, meta_values, n_meta, err) != 0) return -1;
    size_t header_len, data_len;
    char *header = build_header(tensors, n_tensors, meta_keys, meta_values, n_meta, &header_len, &data_len);
    if (!header) return st_fail(err, "%s: out of memory building the header", path);
    assert((8 + header_len) % 8 == 0);
    FILE *fp = trainer_fopen_temp(path, tmp, sizeof tmp, err);
    if (!fp) { free(header); return -1; }
    int rc = write_contents(fp, header, header_len, tensors, n_tensors);
    if (rc != 0) st_fail(err, "%s: writing %s (%zu bytes of data) failed: %s", path, tmp, data_len, strerror(errno));
    else err[0] = 0;
    free(header);
    return trainer_commit_temp(fp, tmp, path, rc != 0, err);
}
