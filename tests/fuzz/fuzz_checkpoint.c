/* tests/fuzz/fuzz_checkpoint.c — libFuzzer harness of checkpoint loading
 * (trainer/checkpoint.c): the input is a whole checkpoint file. checkpoint_load parses
 * the safetensors container, the model config in its metadata, builds the model, reads
 * parameters and AdamW moments, and returns the stored training config (the tc
 * out-param) and the checkpoint info. A loaded model is freed again; a failed load must
 * free everything itself (LeakSanitizer checks).
 * Seeds: tests/fuzz/corpus/checkpoint/ (two very small models written by cascade train).
 * Build and run: make fuzz (Makefile).
 */
#include "trainer/trainer.h"
#include "tests/fuzz/fuzz_util.h"

#include <math.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    trainer_set_threads(1);   /* model_init's loops: one thread per fuzzing process */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[FUZZ_PATH_MAX], err[CASCADE_ERR_MAX];
    int fd = fuzz_memfd(data, size, path);
    struct model m;
    struct train_config tc;
    struct checkpoint_info info;
    memset(&m, 0, sizeof m);
    fuzz_err_reset(err);
    if (checkpoint_load(path, &m, &tc, &info, err) == 0) {
        fuzz_check(m.n_params > 0 && m.params && m.n_tensors > 0, "a loaded model has parameters");
        fuzz_check(info.step == m.step && m.step >= 0, "info.step is the model's step");
        fuzz_check(info.train_s >= 0 && isfinite(info.train_s), "train_seconds is a duration");
        fuzz_check(memcmp(&tc.model, &m.cfg, sizeof m.cfg) == 0, "tc->model is the checkpoint's model config");
        for (size_t i = 0; i < m.n_params; i++)
            if (!isfinite(m.params[i])) fuzz_check(0, "loaded parameters are finite");
        model_free(&m);
    } else {
        fuzz_check_err(err, "checkpoint_load");
    }
    fuzz_memfd_close(fd);
    return 0;
}
