/* search/blas_core.c — makes OpenBLAS use the CPU's fastest sgemm kernels.
 *
 * Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise several of the project's CPUs
 * and falls back to a weaker core: "Prescott" (SSE3) on some AVX-512 Xeons, "Haswell"
 * (AVX2) on AMD Zen 5. sgemm then runs 1.7-5x slower (docs/performance.md, "OpenBLAS and
 * threads", has the measurements per CPU). OpenBLAS reads OPENBLAS_CORETYPE only when it is loaded, so
 * the fix is to set it and re-execute ourselves before anything else runs.
 *
 * The decision is a pure function of (the core OpenBLAS chose, the CPU's features):
 * blas_core_choose(), tested over a table of Intel and AMD feature sets. The rule:
 *   AVX-512 F+BW+DQ+VL (with OS support)  good: SkylakeX, Cooperlake, SapphireRapids
 *                                         else force SkylakeX (its sgemm kernel is the one
 *                                         the other two AVX-512 cores use as well)
 *   AVX2 + FMA                            good: Haswell, Zen, or any AVX-512 core above;
 *                                         else force Haswell
 *   anything older                        leave OpenBLAS' choice
 *
 * Environment:
 *   CASCADE_KEEP_BLAS_CORE=1   keep whatever OpenBLAS chose (no check, no re-exec)
 *   CASCADE_BLAS_REEXEC=CORE   set by us on re-exec: the core OpenBLAS had chosen. It stays
 *                              in the environment, so the process (and blas_core_describe)
 *                              knows how it was started and never re-executes twice.
 *   CASCADE_BLAS_CPU="avx2 fma ..."  test hook: the CPU features to assume instead of the
 *                              host's (names as in struct blas_cpu), so the re-exec path
 *                              can be tested the same way on every machine.
 * Nothing is printed here: `info`, `bench`, `train` and `search` show the description in
 * their banners, so stderr stays for errors (one line each) on every CPU.
 */
#include "search/host.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0) return 1;
    return 0;
}

const char *blas_core_choose(const char *have, const struct blas_cpu *cpu)
{
    static const char *const avx512_cores[] = { "SkylakeX", "Cooperlake", "SapphireRapids", NULL };
    static const char *const avx2_cores[] = { "Haswell", "Zen", "SkylakeX", "Cooperlake",
                                              "SapphireRapids", NULL };
    if (!have) have = "";
    int avx512 = cpu->avx512f && cpu->avx512bw && cpu->avx512dq && cpu->avx512vl;
    if (avx512) return in_list(have, avx512_cores) ? NULL : "SkylakeX";
    if (cpu->avx2 && cpu->fma) return in_list(have, avx2_cores) ? NULL : "Haswell";
    return NULL;
}

/* Parses "avx2 fma avx512f" (spaces or commas) into *cpu; unknown names are ignored. */
static void parse_features(const char *s, struct blas_cpu *cpu)
{
    memset(cpu, 0, sizeof *cpu);
    static const struct { const char *name; size_t off; } names[] = {
        { "avx2", offsetof(struct blas_cpu, avx2) },
        { "fma", offsetof(struct blas_cpu, fma) },
        { "avx512f", offsetof(struct blas_cpu, avx512f) },
        { "avx512bw", offsetof(struct blas_cpu, avx512bw) },
        { "avx512dq", offsetof(struct blas_cpu, avx512dq) },
        { "avx512vl", offsetof(struct blas_cpu, avx512vl) },
    };
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *w = strtok_r(buf, " ,", &save); w; w = strtok_r(NULL, " ,", &save))
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(w, names[i].name) == 0) *(int *)((char *)cpu + names[i].off) = 1;
}

void blas_cpu_detect(struct blas_cpu *cpu)
{
    const char *fake = getenv("CASCADE_BLAS_CPU");
    if (fake) { parse_features(fake, cpu); return; }
    /* __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV) */
    __builtin_cpu_init();
    cpu->avx2 = __builtin_cpu_supports("avx2") != 0;
    cpu->fma = __builtin_cpu_supports("fma") != 0;
    cpu->avx512f = __builtin_cpu_supports("avx512f") != 0;
    cpu->avx512bw = __builtin_cpu_supports("avx512bw") != 0;
    cpu->avx512dq = __builtin_cpu_supports("avx512dq") != 0;
    cpu->avx512vl = __builtin_cpu_supports("avx512vl") != 0;
}

void blas_core_check(char **argv)
{
    const char *keep = getenv("CASCADE_KEEP_BLAS_CORE");
    if ((keep && strcmp(keep, "1") == 0) || getenv("CASCADE_BLAS_REEXEC")) return;
    struct blas_cpu cpu;
    blas_cpu_detect(&cpu);
    const char *have = openblas_get_corename();
    const char *want = blas_core_choose(have, &cpu);
    if (!want) return;
    setenv("CASCADE_BLAS_REEXEC", have, 1);
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the slow core; the description says so */
    setenv("CASCADE_BLAS_REEXEC", "failed", 1);
}

void blas_core_describe(char *out, int n)
{
    const char *now = openblas_get_corename(), *prev = getenv("CASCADE_BLAS_REEXEC");
    if (!prev)
        snprintf(out, n, "%s", now);
    else if (strcmp(prev, "failed") == 0)
        snprintf(out, n, "%s (slower than this CPU allows: re-executing with OPENBLAS_CORETYPE=%s "
                 "failed; set it yourself)", now, getenv("OPENBLAS_CORETYPE"));
    else
        snprintf(out, n, "%s (OpenBLAS had chosen '%s' for this CPU; cascade re-ran itself with "
                 "OPENBLAS_CORETYPE=%s)", now, prev, getenv("OPENBLAS_CORETYPE"));
}

const char *blas_core_name(void)
{
    return openblas_get_corename();
}
