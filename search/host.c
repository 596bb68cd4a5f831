/* search/host.c — the machine: its CPU's model name and making directories
 * (search/host.h). The OpenBLAS core check is search/blas_core.c. */
#include "search/host.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int host_mkdir_p(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int host_mkdir_parent(const char *file_path)
{
    char dir[4096];
    const char *slash = strrchr(file_path, '/');
    if (!slash || slash == file_path) return 0;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - file_path), file_path);
    return host_mkdir_p(dir);
}

void host_cpu_model(char *out, size_t n)
{
    char line[512];
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(out, n, "%s", colon + 2);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
}
