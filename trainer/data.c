/* trainer/data.c — training data: loading a token stream, train/validation batches, and
 * turning the Brown corpus into plain text.
 *
 * On-disk formats read by data_load():
 *   - llm.c token file: a header of 256 int32 little-endian values, [0] = 20240520 (magic),
 *     [1] = 1 (version), [2] = N (token count), the rest unused; then N uint16
 *     little-endian token ids, and nothing after them (as llm.c's dataloader requires).
 *     A file whose first int32 is the magic is always read this way: a wrong version, a
 *     short header, fewer or more token bytes than N, or a token >= vocab_size is an error.
 *   - anything else (including files shorter than 4 bytes): raw bytes, one token per byte
 *     (ids 0..255), is_bytes = 1; vocab_size must be >= 256.
 * The stream is split in place: the first n_train tokens train, the last
 * (size_t)(val_fraction * n_tokens) validate.
 *
 * Batches (targets are the inputs shifted by one token):
 *   - train: B windows of T+1 tokens at offsets drawn uniformly from [0, n_train - T - 1]
 *     by a splitmix64 generator whose state is a hash of (seed, step) only, so a batch can
 *     be recomputed for any step (resume) and does not depend on earlier batches.
 *   - validation: window i starts at n_train + i*T (stride T, T+1 tokens each, so every
 *     validation token after the first is a target exactly once); batch `index` holds
 *     windows index*B .. index*B + B-1. data_val_batch_count() is 0 when the validation
 *     split holds fewer than B*T+1 tokens: callers must check it (and that n_train >= T+1
 *     before data_train_batch), since data_load() does not know T and only requires
 *     each split to hold >= 2 tokens.
 *
 * data_prepare_brown() writes plain text: for each file c[a-r][0-9][0-9] of the corpus
 * directory in name order, for each non-blank line (a sentence; most start with a tab,
 * some do not), the words of its whitespace-separated `word/tag` tokens (split at the
 * LAST '/', since words may contain '/'; a token without '/' is kept whole) joined by
 * single spaces, then '\n'.
 */
#include "trainer/trainer.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LLMC_MAGIC 20240520
#define LLMC_VERSION 1
#define LLMC_HEADER_INTS 256
#define LLMC_HEADER_BYTES (LLMC_HEADER_INTS * 4)
#define READ_CHUNK (1 << 16)   /* bytes read per fread while converting */
#define BROWN_MAX_FILES (18 * 100) /* names c[a-r][0-9][0-9] */

/* Writes one error line into err (CASCADE_ERR_MAX bytes; long paths are cut short). */
__attribute__((format(printf, 2, 3)))
static void set_err(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CASCADE_ERR_MAX, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------------------ */
/* Loading                                                                                */

static int32_t read_le_i32(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (int32_t)u;
}

/* Reads the rest of f as raw bytes into tokens (n of them, the file's remaining size). */
static int read_bytes_tokens(int32_t *tokens, size_t n, FILE *f, const char *path, char *err)
{
    unsigned char buf[READ_CHUNK];
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < READ_CHUNK ? n - done : READ_CHUNK;
        size_t got = fread(buf, 1, want, f);
        for (size_t i = 0; i < got; i++) tokens[done + i] = buf[i];
        done += got;
        if (got < want) {
            set_err(err, "%s: read failed after %zu of %zu bytes", path, done, n);
            return -1;
        }
    }
    return 0;
}

/* Reads n uint16 little-endian tokens from f (positioned after the header), checking
 * each against vocab_size. */
static int read_u16_tokens(int32_t *tokens, size_t n, int vocab_size, FILE *f,
                           const char *path, char *err)
{
    unsigned char buf[READ_CHUNK];
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < READ_CHUNK / 2 ? n - done : READ_CHUNK / 2;
        size_t got = fread(buf, 2, want, f);
        for (size_t i = 0; i < got; i++) {
            int32_t tok = (int32_t)buf[2 * i] | (int32_t)buf[2 * i + 1] << 8;
            if (tok >= vocab_size) {
                set_err(err, "%s: token %zu: id %d >= vocab_size %d",
                        path, done + i, (int)tok, vocab_size);
                return -1;
            }
            tokens[done + i] = tok;
        }
        done += got;
        if (got < want) {
            set_err(err, "%s: truncated: read %zu of %zu tokens", path, done, n);
            return -1;
        }
    }
    return 0;
}

/* Validates an llm.c header (file_size bytes in all) and returns its token count. */
static int check_llmc_header(const unsigned char *hdr, size_t file_size, const char *path,
                             size_t *n_out, char *err)
{
    if (file_size < LLMC_HEADER_BYTES) {
        set_err(err, "%s: header: llm.c magic but only %zu of %d header bytes",
                path, file_size, LLMC_HEADER_BYTES);
        return -1;
    }
    int32_t version = read_le_i32(hdr + 4), count = read_le_i32(hdr + 8);
    if (version != LLMC_VERSION) {
        set_err(err, "%s: header: version %d, expected %d (uint16 tokens)",
                path, (int)version, LLMC_VERSION);
        return -1;
    }
    if (count < 0) {
        set_err(err, "%s: header: negative token count %d", path, (int)count);
        return -1;
    }
    size_t n = (size_t)count, have = (file_size - LLMC_HEADER_BYTES) / 2;
    if (file_size - LLMC_HEADER_BYTES < 2 * n) {
        set_err(err, "%s: truncated: header says %zu tokens, file holds %zu",
                path, n, have);
        return -1;
    }
    if (file_size - LLMC_HEADER_BYTES > 2 * n) {
        set_err(err, "%s: %zu trailing bytes after the %zu tokens the header declares",
                path, file_size - LLMC_HEADER_BYTES - 2 * n, n);
        return -1;
    }
    if (n == 0) {
        set_err(err, "%s: header: token count is 0", path);
        return -1;
    }
    *n_out = n;
    return 0;
}

/* Sets n_train from val_fraction; each split must hold at least one window of one token
 * and its target (2 tokens). Whether they hold a window of T+1 is the caller's check. */
static int split_dataset(struct dataset *ds, double val_fraction, char *err)
{
    size_t n_val = (size_t)(val_fraction * (double)ds->n_tokens);
    if (n_val > ds->n_tokens) n_val = ds->n_tokens;
    ds->n_train = ds->n_tokens - n_val;
    if (ds->n_train < 2 || n_val < 2) {
        set_err(err, "%s: val_fraction: %g of %zu tokens leaves %zu train and %zu validation tokens (each needs >= 2)",
                ds->path, val_fraction, ds->n_tokens, ds->n_train, n_val);
        return -1;
    }
    return 0;
}

/* Reads the opened file f (file_size bytes) into ds->tokens. */
static int read_tokens(struct dataset *ds, FILE *f, size_t file_size, int vocab_size, char *err)
{
    unsigned char hdr[LLMC_HEADER_BYTES];
    size_t want = file_size < LLMC_HEADER_BYTES ? file_size : LLMC_HEADER_BYTES, n = 0;
    if (fread(hdr, 1, want, f) != want) {
        set_err(err, "%s: cannot read the first %zu bytes", ds->path, want);
        return -1;
    }
    int is_llmc = want >= 4 && read_le_i32(hdr) == LLMC_MAGIC;
    if (is_llmc) {
        if (check_llmc_header(hdr, file_size, ds->path, &n, err)) return -1;
    } else {
        if (vocab_size < 256) {
            set_err(err, "%s: vocab_size: %d, but byte data needs >= 256",
                    ds->path, vocab_size);
            return -1;
        }
        if (fseek(f, 0, SEEK_SET)) {
            set_err(err, "%s: cannot seek: %s", ds->path, strerror(errno));
            return -1;
        }
        n = file_size;
    }
    ds->tokens = malloc((n ? n : 1) * sizeof(int32_t));
    if (!ds->tokens) {
        set_err(err, "%s: out of memory for %zu tokens", ds->path, n);
        return -1;
    }
    ds->n_tokens = n;
    ds->is_bytes = !is_llmc;
    return is_llmc ? read_u16_tokens(ds->tokens, n, vocab_size, f, ds->path, err)
                   : read_bytes_tokens(ds->tokens, n, f, ds->path, err);
}

/* FNV-1a 64 over the tokens (little-endian int32 bytes), then the split point: two files
 * with the same tokens split alike are the same data wherever they live. */
static uint64_t data_digest(const struct dataset *ds)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < ds->n_tokens; i++) {
        uint32_t v = (uint32_t)ds->tokens[i];
        for (int b = 0; b < 4; b++) { h ^= (v >> (8 * b)) & 0xff; h *= 0x100000001b3ULL; }
    }
    for (int b = 0; b < 8; b++) { h ^= ((uint64_t)ds->n_train >> (8 * b)) & 0xff; h *= 0x100000001b3ULL; }
    return h ? h : 1;
}

int data_load(struct dataset *ds, const char *path, int vocab_size, double val_fraction, char *err)
{
    memset(ds, 0, sizeof *ds);
    if (strlen(path) >= sizeof ds->path) {
        set_err(err, "%.200s...: path longer than %d bytes", path, TRAINER_PATH_MAX - 1);
        return -1;
    }
    strcpy(ds->path, path);
    ds->vocab_size = vocab_size;
    if (vocab_size < 1) {
        set_err(err, "%s: vocab_size: %d, must be >= 1", path, vocab_size);
        return -1;
    }
    if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
        set_err(err, "%s: val_fraction: %g, must be in (0, 1)", path, val_fraction);
        return -1;
    }
    size_t size = 0;
    FILE *f = trainer_fopen_regular(path, &size, err);
    if (!f) return -1;
    int rc = -1;
    if (size == 0) {
        set_err(err, "%s: empty file", path);
    } else if (read_tokens(ds, f, size, vocab_size, err) == 0) {
        rc = split_dataset(ds, val_fraction, err);
    }
    fclose(f);
    if (rc) data_free(ds);
    else ds->digest = data_digest(ds);
    return rc;
}

void data_free(struct dataset *ds)
{
    free(ds->tokens);
    memset(ds, 0, sizeof *ds);
}

/* ------------------------------------------------------------------------------------ */
/* Batches                                                                                */

/* splitmix64's output function: a bijective 64-bit mix. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64_next(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ULL;
    return mix64(*state);
}

/* Uniform in [0, n), n >= 1, without modulo bias (rejection). */
static uint64_t rng_below(uint64_t *state, uint64_t n)
{
    assert(n >= 1);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;   /* accept r < limit: a multiple of n */
    uint64_t r;
    do r = splitmix64_next(state); while (r >= limit);
    return r % n;
}

/* Copies window [start, start+T] into one row of inputs and targets (T each). */
static void copy_window(const struct dataset *ds, size_t start, int T, int32_t *inp, int32_t *tgt)
{
    assert(start + (size_t)T + 1 <= ds->n_tokens);
    memcpy(inp, ds->tokens + start, (size_t)T * sizeof(int32_t));
    memcpy(tgt, ds->tokens + start + 1, (size_t)T * sizeof(int32_t));
}

void data_train_batch(const struct dataset *ds, uint64_t seed, int64_t step, int B, int T,
                      int32_t *inputs, int32_t *targets)
{
    assert(B >= 1 && T >= 1);
    assert(ds->n_train >= (size_t)T + 1);
    /* the domain constant keeps this stream apart from others seeded with the same seed */
    uint64_t state = mix64(mix64(seed ^ 0x64617461ULL /* "data" */) ^ (uint64_t)step);
    uint64_t n_starts = ds->n_train - (size_t)T;     /* offsets 0 .. n_train - T - 1 */
    for (int b = 0; b < B; b++) {
        size_t start = (size_t)rng_below(&state, n_starts);
        copy_window(ds, start, T, inputs + (size_t)b * T, targets + (size_t)b * T);
    }
}

/* Validation windows of T+1 tokens at stride T that fit in the validation split. */
static size_t val_window_count(const struct dataset *ds, int T)
{
    size_t n_val = ds->n_tokens - ds->n_train;
    return n_val < (size_t)T + 1 ? 0 : (n_val - 1) / (size_t)T;
}

int data_val_batch_count(const struct dataset *ds, int B, int T)
{
    assert(B >= 1 && T >= 1);
    size_t n = val_window_count(ds, T) / (size_t)B;
    return n > INT_MAX ? INT_MAX : (int)n;
}

void data_val_batch(const struct dataset *ds, int index, int B, int T,
                    int32_t *inputs, int32_t *targets)
{
    assert(index >= 0 && index < data_val_batch_count(ds, B, T));
    for (int b = 0; b < B; b++) {
        size_t w = (size_t)index * B + b;
        copy_window(ds, ds->n_train + w * (size_t)T, T, inputs + (size_t)b * T,
                    targets + (size_t)b * T);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Brown corpus                                                                           */

/* 1 if name is c[a-r][0-9][0-9] exactly. */
static int is_brown_name(const char *s)
{
    return s[0] == 'c' && s[1] >= 'a' && s[1] <= 'r' && s[2] >= '0' && s[2] <= '9' &&
           s[3] >= '0' && s[3] <= '9' && s[4] == 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Fills names (up to max, 5 bytes each) with the Brown file names in dir, sorted. */
static int list_brown_files(const char *dir, char (*names)[5], int max, int *n_out, char *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        set_err(err, "%s: cannot open directory: %s", dir, strerror(errno));
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_brown_name(e->d_name)) continue;
        assert(n < max);   /* names are unique and there are only max of them */
        memcpy(names[n++], e->d_name, 5);
    }
    closedir(d);
    if (n == 0) {
        set_err(err, "%s: no Brown corpus files (c[a-r][0-9][0-9]) in directory", dir);
        return -1;
    }
    qsort(names, (size_t)n, sizeof names[0], cmp_name);
    *n_out = n;
    return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Writes the words of one tagged line [p, end) followed by '\n', or nothing if it has no
 * words. Adds the bytes written to *bytes. Returns 0, or -1 on a write error. */
static int write_sentence(FILE *out, const char *p, const char *end, size_t *bytes)
{
    int n_words = 0;
    while (p < end) {
        while (p < end && is_blank(*p)) p++;
        const char *tok = p;
        while (p < end && !is_blank(*p)) p++;
        if (p == tok) break;
        const char *slash = NULL;   /* the last '/' of the token */
        for (const char *q = tok; q < p; q++) if (*q == '/') slash = q;
        size_t len = (size_t)((slash ? slash : p) - tok);
        if (len == 0) continue;     /* "/tag": no word */
        if (n_words > 0) {
            if (fputc(' ', out) == EOF) return -1;
            *bytes += 1;
        }
        if (fwrite(tok, 1, len, out) != len) return -1;
        *bytes += len;
        n_words++;
    }
    if (n_words == 0) return 0;
    if (fputc('\n', out) == EOF) return -1;
    *bytes += 1;
    return 0;
}

/* Converts one tagged file into sentences on out. */
static int convert_brown_file(FILE *out, const char *path, const char *out_path,
                              size_t *bytes, char *err)
{
    size_t len;
    char *text;
    /* a Brown file is ~30 KB; 1 GiB bounds a wrong directory's contents */
    if (trainer_read_file(path, (size_t)1 << 30, &text, &len, err) != 0) return -1;
    const char *p = text, *end = text + len;
    int rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        rc = write_sentence(out, p, line_end, bytes);
        p = line_end + 1;
    }
    free(text);
    if (rc) set_err(err, "%s: write failed: %s", out_path, strerror(errno));
    return rc;
}

/* Writes every listed file of dir, in order, to the already open out. */
static int write_brown_text(FILE *out, const char *dir, char (*names)[5], int n,
                            const char *out_path, size_t *bytes, char *err)
{
    char path[TRAINER_PATH_MAX + 8];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (convert_brown_file(out, path, out_path, bytes, err)) return -1;
    }
    return 0;
}

int data_prepare_brown(const char *corpus_dir, const char *out_path, size_t *bytes_written, char *err)
{
    char (*names)[5] = malloc((size_t)BROWN_MAX_FILES * sizeof *names);
    char tmp[TRAINER_PATH_MAX + 32];
    int n = 0;
    if (!names) {
        set_err(err, "%s: out of memory", corpus_dir);
        return -1;
    }
    if (strlen(corpus_dir) >= TRAINER_PATH_MAX || strlen(out_path) >= TRAINER_PATH_MAX) {
        set_err(err, "%.200s...: path longer than %d bytes",
                strlen(corpus_dir) >= TRAINER_PATH_MAX ? corpus_dir : out_path, TRAINER_PATH_MAX - 1);
        free(names);
        return -1;
    }
    if (list_brown_files(corpus_dir, names, BROWN_MAX_FILES, &n, err)) { free(names); return -1; }
    FILE *out = trainer_fopen_temp(out_path, tmp, sizeof tmp, err);
    if (!out) { free(names); return -1; }
    size_t bytes = 0;
    int rc = write_brown_text(out, corpus_dir, names, n, out_path, &bytes, err);
    free(names);
    if (trainer_commit_temp(out, tmp, out_path, rc != 0, err) != 0) return -1;
    if (bytes_written) *bytes_written = bytes;
    return 0;
}
