/* trainer/files.c — opening the files a user names (configs, checkpoints, token files,
 * corpora) the same way everywhere: only regular files, never blocking; and writing files
 * atomically (a unique temporary file beside the target, then rename).
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

/* Atomic writes. The temporary file is PATH.XXXXXX made by mkstemp (O_CREAT | O_EXCL,
 * mode 0600 then widened to 0644 less the umask): a symlink planted beside the target is
 * never followed, and two writers of one target never share a temporary file; the last
 * rename wins whole. */
FILE *trainer_fopen_temp(const char *path, char *tmp, size_t n, char *err)
{
    if (snprintf(tmp, n, "%s.XXXXXX", path) >= (int)n) {
        snprintf(err, CASCADE_ERR_MAX, "%.200s...: path too long", path);
        return NULL;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        return NULL;
    }
    mode_t mask = umask(022);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot open %s: %s", path, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
    }
    return f;
}

/* fsync of the directory holding path, so that a rename is durable (best effort). */
static void fsync_parent_dir(const char *path)
{
    char dir[TRAINER_PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
}

int trainer_commit_temp(FILE *f, const char *tmp, const char *path, int failed, char *err)
{
    int saved = 0;
    if (!failed && (fflush(f) != 0 || fsync(fileno(f)) != 0)) { failed = 1; saved = errno; }
    if (fclose(f) != 0 && !failed) { failed = 1; saved = errno; }
    if (failed) {
        unlink(tmp);
        if (saved) snprintf(err, CASCADE_ERR_MAX, "%s: writing %s failed: %s", path, tmp, strerror(saved));
        else if (!err[0]) snprintf(err, CASCADE_ERR_MAX, "%s: writing %s failed", path, tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        snprintf(err, CASCADE_ERR_MAX, "%s: cannot rename %s over it: %s", path, tmp, strerror(saved));
        return -1;
    }
    fsync_parent_dir(path);
    return 0;
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
