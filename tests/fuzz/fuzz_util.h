/* tests/fuzz/fuzz_util.h — helpers shared by the libFuzzer harnesses of tests/fuzz/.
 *
 * The readers under test take file paths, so each harness hands its input over as a
 * file: an anonymous memory file (memfd_create, named /proc/self/fd/N, nothing on disk)
 * or, for readers of a directory, files in a fresh temporary directory. Everything is
 * created and removed within one iteration; nothing here keeps state between inputs.
 * A helper that cannot set up its file aborts: that is a broken machine (or a library
 * that leaks file descriptors until none are left), never an input to skip.
 */
#ifndef CASCADE_FUZZ_UTIL_H
#define CASCADE_FUZZ_UTIL_H

#include "trainer/trainer.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_PATH_MAX 64

static inline void fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz harness: %s: %s\n", what, strerror(errno));
    abort();
}

/* Writes all of data to fd. */
static inline void fuzz_write_all(int fd, const uint8_t *data, size_t size)
{
    while (size > 0) {
        ssize_t w = write(fd, data, size);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fuzz_die("write");
        data += w;
        size -= (size_t)w;
    }
}

/* A memory file holding data; its path (/proc/self/fd/N) goes to path. Returns the fd,
 * which the caller closes (fuzz_memfd_close) when the reader is done. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char path[FUZZ_PATH_MAX])
{
    int fd = memfd_create("cascade-fuzz-input", MFD_CLOEXEC);
    if (fd < 0) fuzz_die("memfd_create (a file descriptor leak?)");
    fuzz_write_all(fd, data, size);
    snprintf(path, FUZZ_PATH_MAX, "/proc/self/fd/%d", fd);
    return fd;
}

static inline void fuzz_memfd_close(int fd)
{
    if (close(fd) != 0) fuzz_die("close");
}

/* A fresh empty directory under $TMPDIR (or /tmp); its path goes to dir (n bytes). */
static inline void fuzz_tmpdir(char *dir, size_t n)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    if ((size_t)snprintf(dir, n, "%s/cascade-fuzz.XXXXXX", base) >= n) {
        errno = ENAMETOOLONG;
        fuzz_die("TMPDIR");
    }
    if (!mkdtemp(dir)) fuzz_die("mkdtemp");
}

/* Writes a file dir/name holding data. */
static inline void fuzz_write_file(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[TRAINER_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) fuzz_die(path);
    if (size > 0 && fwrite(data, 1, size, f) != size) fuzz_die(path);
    if (fclose(f) != 0) fuzz_die(path);
}

/* Removes every entry of the flat directory dir, then dir itself. */
static inline void fuzz_rmdir_all(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) fuzz_die(dir);
    struct dirent *e;
    char path[TRAINER_PATH_MAX + 256];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) fuzz_die(path);
    }
    closedir(d);
    if (rmdir(dir) != 0) fuzz_die(dir);
}

/* Before a call: fills err with a byte that is not NUL, so that a failure which writes
 * no message is seen. */
static inline void fuzz_err_reset(char err[CASCADE_ERR_MAX])
{
    memset(err, 'X', CASCADE_ERR_MAX);
}

/* After a call that returned -1: the modules' convention (trainer/trainer.h) is a
 * non-empty, NUL-terminated message in err. With CASCADE_FUZZ_ONE_LINE_ERRORS=1 in the
 * environment (make fuzz FUZZ_ONE_LINE_ERRORS=1; always in make fuzz-regress) it must
 * also be one line of text: no newline or other control character, which config.c and
 * safetensors.c replace by '?' in names taken from a file. Off by default while the
 * reports of tests/fuzz/regress/README.md are open. */
static inline void fuzz_check_err(const char err[CASCADE_ERR_MAX], const char *fn)
{
    if (!memchr(err, 0, CASCADE_ERR_MAX) || err[0] == 0) {
        fprintf(stderr, "fuzz harness: %s failed without an error message\n", fn);
        abort();
    }
    const char *strict = getenv("CASCADE_FUZZ_ONE_LINE_ERRORS");
    if (!strict || strcmp(strict, "1") != 0) return;
    for (const char *c = err; *c; c++) {
        if ((unsigned char)*c < 0x20) {
            fprintf(stderr, "fuzz harness: %s: the error message is not one line of text "
                    "(byte 0x%02x at %zu): %s\n", fn, (unsigned)(unsigned char)*c, (size_t)(c - err), err);
            abort();
        }
    }
}

/* A property of the result does not hold: report and abort (libFuzzer saves the input). */
static inline void fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz harness: check failed: %s\n", what);
        abort();
    }
}

#endif
