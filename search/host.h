/* search/host.h — the machine a campaign or a command runs on (module `search`, below
 * both the campaign library and the command line): its CPU, its OpenBLAS core, and
 * making directories. Nothing here prints. */
#ifndef CASCADE_SEARCH_HOST_H
#define CASCADE_SEARCH_HOST_H

#include <stddef.h>

/* The CPU's model name from /proc/cpuinfo ("unknown" where there is none), for every
 * figure that names the machine (campaign setups, benchmarks). */
void host_cpu_model(char *out, size_t n);
/* mkdir -p; 0 on success. */
int host_mkdir_p(const char *path);
/* mkdir -p of the directory part of a file's path (none for "name"); 0 on success. */
int host_mkdir_parent(const char *file_path);

/* OpenBLAS core check (search/blas_core.c). Debian's OpenBLAS 0.3.21 picks a weak core
 * on several CPUs (Prescott on some AVX-512 Xeons, Haswell on Zen 5). */
struct blas_cpu {          /* the CPU features the choice depends on: 1 present, 0 not */
    int avx2, fma;
    int avx512f, avx512bw, avx512dq, avx512vl;
};
/* The host's features (or CASCADE_BLAS_CPU's, a test hook: "avx2 fma ..."). */
void blas_cpu_detect(struct blas_cpu *cpu);
/* Pure: the OpenBLAS core to force on a CPU with these features when OpenBLAS chose
 * `have`, or NULL when `have` is already the fastest kind for it. */
const char *blas_core_choose(const char *have, const struct blas_cpu *cpu);
/* Re-executes the program (argv) with OPENBLAS_CORETYPE set when blas_core_choose asks
 * for another core; returns when no re-exec was needed (or it failed). Prints nothing. */
void blas_core_check(char **argv);
/* "SkylakeX", or "SkylakeX (OpenBLAS had chosen 'Prescott' for this CPU; cascade re-ran
 * itself with OPENBLAS_CORETYPE=SkylakeX)", for banners and the recorded setup. */
void blas_core_describe(char *out, int n);
/* The core OpenBLAS uses now, e.g. "SkylakeX". */
const char *blas_core_name(void);

#endif
