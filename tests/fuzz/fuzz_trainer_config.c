/* tests/fuzz/fuzz_trainer_config.c — libFuzzer harness of the training config loader
 * (trainer/config.c): the input is a whole JSON config file for trainer_config_load.
 * A config it accepts must also pass trainer_config_validate, survive the round trip
 * through trainer_config_to_json / trainer_config_from_json (and the model section
 * through model_config_to_json / model_config_from_json_string, as in checkpoints) with
 * the same JSON text, and give parameter and FLOP counts.
 * Seeds: tests/fuzz/corpus/trainer_config/ (configs/ and two very small models).
 * Build and run: make fuzz (Makefile).
 */
#include "trainer/trainer.h"
#include "tests/fuzz/fuzz_util.h"

#include <cjson/cJSON.h>
#include <math.h>

/* to_json, from_json, to_json again: the two texts are equal. */
static void check_round_trip(const struct train_config *cfg)
{
    char err[CASCADE_ERR_MAX];
    char *json = trainer_config_to_json(cfg);
    fuzz_check(json != NULL, "trainer_config_to_json");
    cJSON *root = cJSON_Parse(json);
    fuzz_check(root != NULL, "trainer_config_to_json writes valid JSON");
    struct train_config again;
    trainer_config_defaults(&again);
    fuzz_err_reset(err);
    int rc = trainer_config_from_json(&again, root, "round-trip", "", err);
    if (rc != 0) fprintf(stderr, "fuzz harness: %s\n  %s\n", json, err);
    fuzz_check(rc == 0, "a loaded config reads back from its own JSON");
    cJSON_Delete(root);
    char *json2 = trainer_config_to_json(&again);
    fuzz_check(json2 && strcmp(json, json2) == 0, "the JSON round trip gives the same config");
    free(json2);
    free(json);

    char *mj = model_config_to_json(&cfg->model);
    fuzz_check(mj != NULL, "model_config_to_json");
    struct model_config mc;
    fuzz_err_reset(err);
    rc = model_config_from_json_string(&mc, mj, "round-trip", err);
    if (rc != 0) fprintf(stderr, "fuzz harness: %s\n  %s\n", mj, err);
    fuzz_check(rc == 0, "a loaded model config reads back as a checkpoint's model_config");
    char *mj2 = model_config_to_json(&mc);
    fuzz_check(mj2 && strcmp(mj, mj2) == 0, "the model_config round trip gives the same model");
    free(mj2);
    free(mj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[FUZZ_PATH_MAX], err[CASCADE_ERR_MAX];
    int fd = fuzz_memfd(data, size, path);
    struct train_config cfg;
    trainer_config_defaults(&cfg);
    fuzz_err_reset(err);
    if (trainer_config_load(&cfg, path, err) == 0) {
        fuzz_err_reset(err);
        fuzz_check(trainer_config_validate(&cfg, path, err) == 0, "a loaded config validates");
        check_round_trip(&cfg);
        struct param_counts pc = model_config_param_counts(&cfg.model);
        fuzz_check(pc.total > pc.attention && pc.attention > 0, "parameter counts");
        double flops = model_config_train_flops_per_token(&cfg.model, 0);
        fuzz_check(flops > 0 && isfinite(flops), "FLOPs per token");
    } else {
        fuzz_check_err(err, "trainer_config_load");
    }
    fuzz_memfd_close(fd);
    return 0;
}
