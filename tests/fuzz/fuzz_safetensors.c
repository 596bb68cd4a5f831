/* tests/fuzz/fuzz_safetensors.c — libFuzzer harness of the safetensors reader
 * (trainer/safetensors.c): the input is a whole file. st_open parses it; on success every
 * tensor is looked up by name and read with st_read_f32 (F32, F16, BF16 converted; other
 * dtypes refused), and the metadata is read back with st_metadata_get.
 * Seeds: tests/fuzz/corpus/safetensors/ (two small cascade checkpoints, one file with
 * every dtype). Build and run: make fuzz (Makefile).
 */
#include "trainer/trainer.h"
#include "tests/fuzz/fuzz_util.h"

#include <cjson/cJSON.h>

static void read_every_tensor(const struct st_file *f)
{
    char err[CASCADE_ERR_MAX];
    for (int i = 0; i < f->n_tensors; i++) {
        const struct st_tensor *t = &f->tensors[i];
        fuzz_check(st_find(f, t->name) == t, "st_find returns the tensor of that name (names are unique)");
        fuzz_check(t->begin <= t->end && t->end <= f->data_len, "tensor bytes lie in the data section");
        /* Known dtypes have numel * size == end - begin (checked by st_open), so numel is
         * bounded by the file; an unknown dtype's shape is not, and is refused unread. */
        size_t n = t->dtype == ST_OTHER ? 1 : st_numel(t);
        float *out = malloc((n ? n : 1) * sizeof *out);
        if (!out) fuzz_die("malloc");
        fuzz_err_reset(err);
        int rc = st_read_f32(f, t, out, err);
        int readable = t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16;
        fuzz_check(rc == (readable ? 0 : -1), "st_read_f32 reads exactly the F32, F16 and BF16 tensors");
        if (rc != 0) fuzz_check_err(err, "st_read_f32");
        free(out);
    }
}

static void read_metadata(const struct st_file *f)
{
    const cJSON *kv;
    cJSON_ArrayForEach(kv, (const cJSON *)f->metadata)
        fuzz_check(st_metadata_get(f, kv->string) != NULL, "st_metadata_get finds every metadata key");
    (void)st_metadata_get(f, "format");
    (void)st_metadata_get(f, "model_config");
    (void)st_metadata_get(f, "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[FUZZ_PATH_MAX], err[CASCADE_ERR_MAX];
    int fd = fuzz_memfd(data, size, path);
    struct st_file f;
    fuzz_err_reset(err);
    if (st_open(&f, path, err) == 0) {
        read_every_tensor(&f);
        read_metadata(&f);
    } else {
        fuzz_check_err(err, "st_open");
        fuzz_check(f.map == NULL && f.tensors == NULL && f.metadata == NULL, "a failed st_open leaves *f zeroed");
    }
    st_close(&f);
    fuzz_memfd_close(fd);
    return 0;
}
