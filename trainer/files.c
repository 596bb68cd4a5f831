/* trainer/files.c — opening the files a user names (configs, checkpoints, token files,
 * corpora) the same way everywhere: only regular files, never blocking.
 *
 * A named pipe, a device or a directory given where a file is expected would make a plain
 * fopen() wait forever for a writer (a FIFO) or read something endless (/dev/zero). We
 * open with O_NONBLOCK, check with fstat that it is a regular file, and only then clear
 * O_NONBLOCK and hand out the stream.
 */
#include "trainer/trainer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t m)
{
    return S_ISFIFO(m) ? "a named pipe" : S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

FILE *trainer_fopen_regular(const char *path, size_t *size, char *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, CASCADE_ERR_MAX, "%s: not a regular file (%s)", path, file_kind(sb.st_mode));
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (size) *size = (size_t)sb.st_size;
    return f;
}

int trainer_read_file(const char *path, size_t max_bytes, char **out, size_t *len, char *err)
{
    size_t size = 0;
    *out = NULL;
    FILE *f = trainer_fopen_regular(path, &size, err);
    if (!f) return -1;
    if (size > max_bytes) {
        fclose(f);
        snprintf(err, CASCADE_ERR_MAX, "%s: %zu bytes, larger than the %zu this file may have", path, size,
                 max_bytes);
        return -1;
    }
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, CASCADE_ERR_MAX, "%s: out of memory for %zu bytes", path, size);
        return -1;
    }
    size_t got = fread(buf, 1, size, f);
    int bad = ferror(f) || got != size;
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot read (%zu of %zu bytes)", path, got, size);
        return -1;
    }
    buf[size] = '\0';
    *out = buf;
    if (len) *len = size;
    return 0;
}
