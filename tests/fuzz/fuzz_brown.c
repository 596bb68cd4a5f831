/* tests/fuzz/fuzz_brown.c — libFuzzer harness of the Brown corpus preparer
 * (data_prepare_brown in trainer/data.c). Its input is a corpus directory, so the fuzz
 * input is cut at its first three NUL bytes into up to four tagged files, written into a
 * fresh temporary directory under Brown names given out of name order (cr99, ca01, cm10,
 * ca00: the preparer must sort them), beside two files whose names are not Brown names
 * (it must skip them). The plain text it writes must be what docs/formats.md promises: the size
 * it reports, one sentence per line, words joined by single spaces, no tabs or carriage
 * returns, no blank lines, and no temporary file left behind.
 * Seeds: tests/fuzz/corpus/brown/ (Brown-format lines, one file and three files).
 * Build and run: make fuzz (Makefile).
 */
#include "trainer/trainer.h"
#include "tests/fuzz/fuzz_util.h"

#include <sys/stat.h>

enum { MAX_FILES = 4 };

/* Checks the prepared text at path against the bytes the preparer reported. */
static void check_output(const char *path, size_t bytes_written)
{
    FILE *f = fopen(path, "rb");
    if (!f) fuzz_die(path);
    size_t n = 0;
    int prev = '\n', c;
    while ((c = fgetc(f)) != EOF) {
        n++;
        fuzz_check(c != '\t' && c != '\r' && c != '\v' && c != '\f', "no tabs or carriage returns in the text");
        fuzz_check(!(c == ' ' && (prev == ' ' || prev == '\n')), "words are joined by single spaces");
        fuzz_check(!(c == '\n' && (prev == '\n' || prev == ' ')), "no blank lines, no trailing spaces");
        prev = c;
    }
    fclose(f);
    fuzz_check(n == bytes_written, "bytes_written is the size of the text");
    fuzz_check(n == 0 || prev == '\n', "the text ends with a newline");
}

/* Entries in dir (".", ".." not counted). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) fuzz_die(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[MAX_FILES] = { "cr99", "ca01", "cm10", "ca00" };
    static const uint8_t decoy[] = "\tNot/nn a/at corpus/nn file/nn ./.\n";
    char dir[TRAINER_PATH_MAX / 2], out[TRAINER_PATH_MAX], err[CASCADE_ERR_MAX];
    fuzz_tmpdir(dir, sizeof dir);
    int n_files = 0;
    size_t at = 0;
    while (n_files < MAX_FILES) {
        const uint8_t *nul = n_files < MAX_FILES - 1 && at < size ? memchr(data + at, 0, size - at) : NULL;
        size_t len = nul ? (size_t)(nul - (data + at)) : size - at;
        fuzz_write_file(dir, names[n_files++], data + at, len);
        if (!nul) break;
        at += len + 1;
    }
    fuzz_write_file(dir, "cs01", decoy, sizeof decoy - 1);
    fuzz_write_file(dir, "ca001", decoy, sizeof decoy - 1);
    snprintf(out, sizeof out, "%s/out.txt", dir);

    size_t bytes = 0;
    fuzz_err_reset(err);
    if (data_prepare_brown(dir, out, &bytes, err) == 0) {
        check_output(out, bytes);
        fuzz_check(count_entries(dir) == n_files + 3, "the output replaced its temporary file");
    } else {
        fuzz_check_err(err, "data_prepare_brown");
        fuzz_check(count_entries(dir) == n_files + 2, "a failed preparation leaves no file behind");
    }
    fuzz_rmdir_all(dir);
    return 0;
}
