/* tests/fuzz/fuzz_campaign_config.c — libFuzzer harness of the campaign config loader
 * (search/campaign.c): the input is a whole JSON campaign config for
 * campaign_config_load. An accepted config must hold a valid training config; its two
 * baselines and the candidate list for a made-up cascade (campaign_propose) are built
 * and freed, so that the rules run on every shape the loader lets through.
 * Seeds: tests/fuzz/corpus/campaign_config/ (configs/demo.json and a config setting every
 * search key). Build and run: make fuzz (Makefile).
 */
#include "search/campaign.h"
#include "tests/fuzz/fuzz_util.h"

static void check_loaded(const struct campaign_config *cc)
{
    char err[CASCADE_ERR_MAX], arch[CAMPAIGN_ARCH_MAX];
    fuzz_err_reset(err);
    fuzz_check(trainer_config_validate(&cc->base, cc->path, err) == 0, "the campaign's training config validates");
    fuzz_check(cc->json != NULL && cc->name[0] != 0, "a loaded campaign has its text and name");
    struct run_spec probe, standard;
    campaign_baselines(cc, &probe, &standard);
    campaign_arch_string(arch, sizeof arch, &probe.arch);
    campaign_arch_string(arch, sizeof arch, &standard.arch);

    /* A cascade that rises from half the threshold to twice it, so that linear prefixes,
     * the knee, cut head dims and their combinations are all proposed. */
    const int L = cc->base.model.n_layer;
    double erank[TRAINER_MAX_LAYERS];
    for (int l = 0; l < L && l < TRAINER_MAX_LAYERS; l++)
        erank[l] = cc->linear_threshold * (0.5 + 1.5 * l / (L > 1 ? L - 1 : 1)) + 0.25;
    struct run_spec *runs = NULL;
    int n = 0;
    if (campaign_propose(cc, erank, NULL, &runs, &n) == 0) {
        for (int i = 0; i < n; i++) {
            fuzz_check(runs[i].name[0] != 0 && runs[i].arch.n_layer == L, "a proposal names a run of the campaign's depth");
            char *mj = model_config_to_json(&runs[i].arch);
            struct model_config mc;
            fuzz_err_reset(err);
            int ok = mj && model_config_from_json_string(&mc, mj, "proposal", err) == 0;
            if (!ok) fprintf(stderr, "fuzz harness: proposal %s: %s\n", runs[i].name, err);
            fuzz_check(ok, "every proposed architecture is a valid model config");
            free(mj);
            campaign_arch_string(arch, sizeof arch, &runs[i].arch);
        }
    }
    free(runs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[FUZZ_PATH_MAX], err[CASCADE_ERR_MAX];
    int fd = fuzz_memfd(data, size, path);
    struct campaign_config cc;
    fuzz_err_reset(err);
    if (campaign_config_load(&cc, path, err) == 0) {
        check_loaded(&cc);
        campaign_config_free(&cc);
    } else {
        fuzz_check_err(err, "campaign_config_load");
        fuzz_check(cc.json == NULL, "a failed load frees the config text");
    }
    fuzz_memfd_close(fd);
    return 0;
}
