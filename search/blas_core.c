/* search/blas_core.c — makes OpenBLAS use the CPU's real kernels.
 *
 * Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) can fail to recognise newer CPUs and fall back
 * to "Prescott" (SSE3) kernels: sgemm then runs ~4-5x slower (measured here: 54 vs 184
 * GFLOP/s on 2 cores). We compare the core it chose with the CPU's features
 * (__builtin_cpu_supports) and, when the core is weaker than the CPU, set
 * OPENBLAS_CORETYPE (SkylakeX for AVX-512, Haswell for AVX2) and re-execute ourselves:
 * OpenBLAS reads the variable only at load time. CASCADE_BLAS_REEXEC guards against a
 * loop; CASCADE_KEEP_BLAS_CORE=1 turns the check off.
 */
#include "search/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0) return 1;
    return 0;
}

/* The core to ask for, or NULL when the chosen one already fits the CPU. */
static const char *wanted_core(const char *have)
{
    static const char *const avx512[] = { "SkylakeX", "Cooperlake", "SapphireRapids", NULL };
    static const char *const avx2[] = { "Haswell", "Zen", "SkylakeX", "Cooperlake",
                                        "SapphireRapids", NULL };
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && !in_list(have, avx512)) return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !in_list(have, avx2))
        return "Haswell";
    return NULL;
}

const char *blas_core_name(void)
{
    return openblas_get_corename();
}

void blas_core_check(int argc, char **argv, char *note, int note_len)
{
    (void)argc;
    note[0] = 0;
    const char *keep = getenv("CASCADE_KEEP_BLAS_CORE");
    if (keep && strcmp(keep, "1") == 0) return;
    const char *have = openblas_get_corename();
    const char *prev = getenv("CASCADE_BLAS_REEXEC");
    if (prev) {
        /* We are the re-executed process: report what happened, once. */
        snprintf(note, note_len, "cascade: OpenBLAS had chosen core '%s' for this CPU; "
                 "re-ran with OPENBLAS_CORETYPE=%s (now '%s')", prev, getenv("OPENBLAS_CORETYPE"), have);
        unsetenv("CASCADE_BLAS_REEXEC");
        return;
    }
    const char *want = wanted_core(have);
    if (!want) return;
    setenv("CASCADE_BLAS_REEXEC", have, 1);
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on slowly, but say so */
    unsetenv("CASCADE_BLAS_REEXEC");
    snprintf(note, note_len, "cascade: warning: OpenBLAS uses core '%s' on a CPU that supports %s "
             "kernels and re-exec failed; set OPENBLAS_CORETYPE=%s", have, want, want);
}
