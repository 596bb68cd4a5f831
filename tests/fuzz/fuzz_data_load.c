/* tests/fuzz/fuzz_data_load.c — libFuzzer harness of the token-file reader
 * (trainer/data.c): the input is a whole data file for data_load, read as an llm.c token
 * file when it starts with magic 20240520 and as bytes otherwise. Each input is loaded
 * with a few (vocab_size, val_fraction) pairs: GPT-2's vocabulary, the uint16 maximum,
 * bytes, and a vocabulary too small for bytes. A loaded dataset must hold tokens below
 * vocab_size in two splits of at least two tokens; a training and a validation batch are
 * then drawn where the splits hold one.
 * Seeds: tests/fuzz/corpus/data_load/ (an llm.c token file, a byte file).
 * Build and run: make fuzz (Makefile).
 */
#include "trainer/trainer.h"
#include "tests/fuzz/fuzz_util.h"

enum { BATCH_B = 2, BATCH_T = 4 };

static void check_dataset(const struct dataset *ds, int vocab_size)
{
    fuzz_check(ds->tokens != NULL && ds->vocab_size == vocab_size, "a loaded dataset has its tokens");
    fuzz_check(ds->n_train >= 2 && ds->n_tokens - ds->n_train >= 2 && ds->n_train < ds->n_tokens,
               "both splits hold at least two tokens");
    for (size_t i = 0; i < ds->n_tokens; i++)
        if (ds->tokens[i] < 0 || ds->tokens[i] >= vocab_size) fuzz_check(0, "every token is below vocab_size");
    int32_t in[BATCH_B * BATCH_T], tgt[BATCH_B * BATCH_T];
    if (ds->n_train >= (size_t)BATCH_T + 1)
        data_train_batch(ds, 42, 7, BATCH_B, BATCH_T, in, tgt);
    int n_val = data_val_batch_count(ds, BATCH_B, BATCH_T);
    fuzz_check(n_val >= 0, "validation batch count");
    if (n_val > 0) {
        data_val_batch(ds, 0, BATCH_B, BATCH_T, in, tgt);
        data_val_batch(ds, n_val - 1, BATCH_B, BATCH_T, in, tgt);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct { int vocab_size; double val_fraction; } params[] = {
        { 50257, 0.1 }, { 65536, 0.5 }, { 256, 0.05 }, { 40, 0.9 },
    };
    char path[FUZZ_PATH_MAX], err[CASCADE_ERR_MAX];
    int fd = fuzz_memfd(data, size, path);
    for (size_t k = 0; k < sizeof params / sizeof params[0]; k++) {
        struct dataset ds;
        fuzz_err_reset(err);
        if (data_load(&ds, path, params[k].vocab_size, params[k].val_fraction, err) == 0) {
            check_dataset(&ds, params[k].vocab_size);
            data_free(&ds);
        } else {
            fuzz_check_err(err, "data_load");
            fuzz_check(ds.tokens == NULL, "a failed data_load frees the tokens");
        }
    }
    fuzz_memfd_close(fd);
    return 0;
}
