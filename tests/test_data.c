/* tests/test_data.c — trainer/data.c: loading byte and llm.c token files, the split,
 * train/validation batches, and the Brown corpus conversion (on a tiny fake corpus). */
#include "test.h"
#include "trainer/trainer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

/* ------------------------------------------------------------------------------------ */
/* helpers                                                                                */



static void put_le32(unsigned char *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = u & 255; p[1] = (u >> 8) & 255; p[2] = (u >> 16) & 255; p[3] = u >> 24;
}

/* An llm.c token file: header (magic, version, declared) then n uint16 LE tokens. */
static int write_llmc(const char *path, int32_t magic, int32_t version, int32_t declared,
                      const uint16_t *tokens, size_t n)
{
    size_t len = 1024 + 2 * n;
    unsigned char *buf = calloc(len, 1);
    put_le32(buf, magic);
    put_le32(buf + 4, version);
    put_le32(buf + 8, declared);
    for (size_t i = 0; i < n; i++) {
        buf[1024 + 2 * i] = tokens[i] & 255;
        buf[1024 + 2 * i + 1] = tokens[i] >> 8;
    }
    int rc = test_write_file(path, buf, len);
    free(buf);
    return rc;
}

/* A token file whose token i is i (n <= 65536): every token names its position. */
static int write_position_tokens(const char *path, size_t n)
{
    uint16_t *tok = malloc(n * sizeof *tok);
    for (size_t i = 0; i < n; i++) tok[i] = (uint16_t)i;
    int rc = write_llmc(path, 20240520, 1, (int32_t)n, tok, n);
    free(tok);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* loading                                                                                */

TEST(data_load_bytes_and_split)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "data_bytes.txt");
    unsigned char bytes[1001];
    for (int i = 0; i < 1001; i++) bytes[i] = (unsigned char)(i * 7 + 3);  /* includes >= 128 */
    REQUIRE(test_write_file(path, bytes, sizeof bytes) == 0);

    struct dataset ds;
    REQUIRE_MSG(data_load(&ds, path, 256, 0.15, err) == 0, "%s", err);
    CHECK(ds.is_bytes == 1);
    CHECK(ds.vocab_size == 256);
    CHECK(ds.n_tokens == 1001);
    CHECK(ds.n_train == 1001 - 150);          /* (size_t)(0.15 * 1001) = 150 validate */
    CHECK(strcmp(ds.path, path) == 0);
    int same = 1;
    for (int i = 0; i < 1001; i++) same &= ds.tokens[i] == bytes[i];
    CHECK(same);
    data_free(&ds);
    CHECK(ds.tokens == NULL && ds.n_tokens == 0);

    /* a larger vocab is allowed for bytes; a smaller one is not */
    REQUIRE_MSG(data_load(&ds, path, 512, 0.5, err) == 0, "%s", err);
    CHECK(ds.n_train == 1001 - 500);
    data_free(&ds);
    CHECK(data_load(&ds, path, 255, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "vocab_size"), "err: %s", err);
    CHECK(ds.tokens == NULL);
}

TEST(data_load_rejects_bad_files_and_splits)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    struct dataset ds;
    test_tmppath(path, sizeof path, "data_missing.txt");
    CHECK(data_load(&ds, path, 256, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) != NULL, "err: %s", err);

    test_tmppath(path, sizeof path, "data_empty.txt");
    REQUIRE(test_write_file(path, "", 0) == 0);
    CHECK(data_load(&ds, path, 256, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "empty"), "err: %s", err);

    /* 10 bytes at 0.1: 1 validation token is too few for one (input, target) pair */
    test_tmppath(path, sizeof path, "data_small.txt");
    REQUIRE(test_write_file(path, "0123456789", 10) == 0);
    CHECK(data_load(&ds, path, 256, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "val_fraction"), "err: %s", err);
    CHECK_MSG(data_load(&ds, path, 256, 0.2, err) == 0, "%s", err);   /* 8 + 2 is enough */
    CHECK(ds.n_train == 8);
    data_free(&ds);
    CHECK(data_load(&ds, path, 256, 0.9, err) == -1);                 /* 1 train token */
    CHECK(data_load(&ds, path, 256, 0.0, err) == -1);
    CHECK(data_load(&ds, path, 256, 1.0, err) == -1);
    CHECK_MSG(strstr(err, "val_fraction"), "err: %s", err);
}

TEST(data_load_llmc_tokens_round_trip)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    enum { N = 3000 };
    uint16_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = (uint16_t)((i * 7919) % 50257);
    tok[123] = 65535;                         /* high byte set: checks the LE decoding */
    test_tmppath(path, sizeof path, "data_tokens.bin");
    REQUIRE(write_llmc(path, 20240520, 1, N, tok, N) == 0);

    struct dataset ds;
    REQUIRE_MSG(data_load(&ds, path, 65536, 0.1, err) == 0, "%s", err);
    CHECK(ds.is_bytes == 0);
    CHECK(ds.n_tokens == N);
    CHECK(ds.n_train == N - 300);
    int same = 1;
    for (int i = 0; i < N; i++) same &= ds.tokens[i] == tok[i];
    CHECK(same);
    CHECK(ds.tokens[123] == 65535);
    data_free(&ds);

    /* vocab 50257: the token at index 123 is out of range; the error names it */
    CHECK(data_load(&ds, path, 50257, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "123") && strstr(err, "65535") &&
              strstr(err, "vocab_size"), "err: %s", err);
    CHECK(ds.tokens == NULL);
    CHECK(data_load(&ds, path, 65535, 0.1, err) == -1);     /* id == vocab_size is out too */
}

TEST(data_load_llmc_header_errors)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    uint16_t tok[500] = {0};
    struct dataset ds;

    /* the magic with a wrong version is an error, not byte data */
    test_tmppath(path, sizeof path, "data_v2.bin");
    REQUIRE(write_llmc(path, 20240520, 2, 500, tok, 500) == 0);
    CHECK(data_load(&ds, path, 65536, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "version"), "err: %s", err);

    /* fewer tokens than the header declares */
    test_tmppath(path, sizeof path, "data_trunc.bin");
    REQUIRE(write_llmc(path, 20240520, 1, 500, tok, 499) == 0);
    CHECK(data_load(&ds, path, 65536, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "truncated") && strstr(err, "500"), "err: %s", err);

    /* more bytes than declared (llm.c requires an exact size) */
    test_tmppath(path, sizeof path, "data_long.bin");
    REQUIRE(write_llmc(path, 20240520, 1, 400, tok, 500) == 0);
    CHECK(data_load(&ds, path, 65536, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "trailing"), "err: %s", err);

    /* the magic, then a header cut short */
    test_tmppath(path, sizeof path, "data_shorthdr.bin");
    unsigned char hdr[100] = {0};
    put_le32(hdr, 20240520);
    put_le32(hdr + 4, 1);
    REQUIRE(test_write_file(path, hdr, sizeof hdr) == 0);
    CHECK(data_load(&ds, path, 65536, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "header"), "err: %s", err);

    /* a header declaring no tokens */
    test_tmppath(path, sizeof path, "data_zero.bin");
    REQUIRE(write_llmc(path, 20240520, 1, 0, tok, 0) == 0);
    CHECK(data_load(&ds, path, 65536, 0.1, err) == -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "header"), "err: %s", err);

    /* first int32 not the magic (magic + 1): the whole file is plain bytes */
    test_tmppath(path, sizeof path, "data_nomagic.bin");
    REQUIRE(write_llmc(path, 20240521, 1, 500, tok, 500) == 0);
    REQUIRE_MSG(data_load(&ds, path, 256, 0.1, err) == 0, "%s", err);
    CHECK(ds.is_bytes == 1);
    CHECK(ds.n_tokens == 1024 + 1000);
    CHECK(ds.tokens[0] == (20240521 & 255));
    data_free(&ds);
}

/* ------------------------------------------------------------------------------------ */
/* batches                                                                                */

TEST(data_train_batch_deterministic_and_shifted)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "data_pos.bin");
    REQUIRE(write_position_tokens(path, 5000) == 0);
    struct dataset ds;
    REQUIRE_MSG(data_load(&ds, path, 65536, 0.1, err) == 0, "%s", err);
    REQUIRE(ds.n_train == 4500);
    enum { B = 4, T = 32 };
    int32_t in1[B * T], tg1[B * T], in2[B * T], tg2[B * T];

    data_train_batch(&ds, 42, 7, B, T, in1, tg1);
    data_train_batch(&ds, 42, 3, B, T, in2, tg2);           /* another step in between */
    data_train_batch(&ds, 42, 7, B, T, in2, tg2);
    CHECK(memcmp(in1, in2, sizeof in1) == 0 && memcmp(tg1, tg2, sizeof tg1) == 0);

    /* each row is a contiguous training window; targets are the inputs shifted by one */
    int ok = 1;
    for (int b = 0; b < B; b++) {
        int32_t start = in1[b * T];
        ok &= start >= 0 && start + T < 4500;                /* target T-1 still in train */
        for (int t = 0; t < T; t++) ok &= in1[b * T + t] == start + t && tg1[b * T + t] == start + t + 1;
    }
    CHECK(ok);

    data_train_batch(&ds, 42, 8, B, T, in2, tg2);
    CHECK(memcmp(in1, in2, sizeof in1) != 0);
    data_train_batch(&ds, 43, 7, B, T, in2, tg2);
    CHECK(memcmp(in1, in2, sizeof in1) != 0);
    data_free(&ds);
}

TEST(data_train_batch_covers_offset_range)
{
    /* 40 train tokens, T = 8: the 32 offsets 0..31 must all be drawn, none beyond */
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "data_pos_small.bin");
    REQUIRE(write_position_tokens(path, 50) == 0);
    struct dataset ds;
    REQUIRE_MSG(data_load(&ds, path, 65536, 0.2, err) == 0, "%s", err);
    REQUIRE(ds.n_train == 40);
    enum { B = 4, T = 8 };
    int32_t in[B * T], tg[B * T];
    int seen[64] = {0}, outside = 0;
    for (int64_t step = 0; step < 200; step++) {
        data_train_batch(&ds, 1, step, B, T, in, tg);
        for (int b = 0; b < B; b++) {
            int32_t s = in[b * T];
            if (s < 0 || s > 31 || tg[b * T + T - 1] >= 40) outside++;
            else seen[s]++;
        }
    }
    CHECK(outside == 0);
    int all = 1;
    for (int s = 0; s < 32; s++) all &= seen[s] > 0;
    CHECK_MSG(all, "first offset %d, last offset %d seen", seen[0], seen[31]);
    data_free(&ds);
}

TEST(data_val_batches_fixed_and_in_validation)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "data_pos_val.bin");
    REQUIRE(write_position_tokens(path, 1000) == 0);
    struct dataset ds;
    REQUIRE_MSG(data_load(&ds, path, 65536, 0.2, err) == 0, "%s", err);
    REQUIRE(ds.n_train == 800);
    enum { B = 3, T = 16 };
    /* 200 validation tokens hold (200 - 1) / 16 = 12 windows: 4 batches of 3 */
    REQUIRE(data_val_batch_count(&ds, B, T) == 4);
    int32_t in[B * T], tg[B * T], in2[B * T], tg2[B * T];
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        data_val_batch(&ds, i, B, T, in, tg);
        data_val_batch(&ds, i, B, T, in2, tg2);
        ok &= memcmp(in, in2, sizeof in) == 0 && memcmp(tg, tg2, sizeof tg) == 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                int32_t want = 800 + (i * B + b) * T + t;
                ok &= in[b * T + t] == want && tg[b * T + t] == want + 1 && want + 1 < 1000;
            }
    }
    CHECK(ok);
    CHECK(data_val_batch_count(&ds, 13, 16) == 0);   /* 12 windows < one batch of 13 */
    CHECK(data_val_batch_count(&ds, 1, 20) == 9);    /* a 10th window would need token 1000 */
    CHECK(data_val_batch_count(&ds, 1, 199) == 1);   /* 200 tokens: exactly one window */
    CHECK(data_val_batch_count(&ds, 1, 200) == 0);
    data_free(&ds);
}

/* ------------------------------------------------------------------------------------ */
/* Brown corpus                                                                           */

static int write_text(const char *dir, const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return test_write_file(path, text, strlen(text));
}

TEST(data_prepare_brown_fake_corpus)
{
    char dir[512], out[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(dir, sizeof dir, "data_brown");
    test_tmppath(out, sizeof out, "data_brown.txt");
    REQUIRE(mkdir(dir, 0755) == 0);
    /* written out of order; README/CONTENTS/cs01/ca1/ca011 are not corpus files */
    REQUIRE(write_text(dir, "cb01", "\n\n\tLast/ap one/cd ./.\n") == 0);
    REQUIRE(write_text(dir, "ca02",
        "\n\n\tHe/pps paid/vbd 1/2/cd and/cc and/or/cc ``/`` //in ''/'' ./.\n\n\n"
        "Merger/nn-hl proposed/vbn-hl \n\t  \n") == 0);
    REQUIRE(write_text(dir, "ca01",
        "\n\n\tThe/at jury/nn said/vbd it/pps ./.\n\n\n\tIt's/pps+bez  over/rp ./.") == 0);
    REQUIRE(write_text(dir, "README", "Brown/np corpus/nn readme/nn\n") == 0);
    REQUIRE(write_text(dir, "CONTENTS", "ca01/x ca02/y\n") == 0);
    REQUIRE(write_text(dir, "cs01", "Not/x included/y\n") == 0);
    REQUIRE(write_text(dir, "ca1", "Not/x included/y\n") == 0);
    REQUIRE(write_text(dir, "ca011", "Not/x included/y\n") == 0);
    const char *want =
        "The jury said it .\n"
        "It's over .\n"
        "He paid 1/2 and and/or `` / '' .\n"
        "Merger proposed\n"
        "Last one .\n";

    REQUIRE(test_write_file(out, "old contents", 12) == 0);    /* replaced atomically */
    size_t bytes = 0;
    REQUIRE_MSG(data_prepare_brown(dir, out, &bytes, err) == 0, "%s", err);
    size_t len = 0;
    char *got = test_read_file(out, &len);
    REQUIRE(got != NULL);
    CHECK_MSG(strcmp(got, want) == 0, "got:\n%s", got);
    CHECK(bytes == strlen(want) && len == strlen(want));
    free(got);

    /* no temp file left beside the output */
    DIR *d = opendir(test_tmpdir());
    REQUIRE(d != NULL);
    struct dirent *e;
    int leftovers = 0;
    while ((e = readdir(d)) != NULL) leftovers += strncmp(e->d_name, "data_brown.txt.", 15) == 0;
    closedir(d);
    CHECK(leftovers == 0);
}

TEST(data_prepare_brown_errors)
{
    char dir[512], out[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(dir, sizeof dir, "data_brown_empty");
    test_tmppath(out, sizeof out, "data_brown_empty.txt");
    REQUIRE(mkdir(dir, 0755) == 0);
    REQUIRE(write_text(dir, "README", "nothing here\n") == 0);
    size_t bytes = 77;
    CHECK(data_prepare_brown(dir, out, &bytes, err) == -1);
    CHECK_MSG(strstr(err, dir) != NULL, "err: %s", err);
    CHECK(bytes == 77);
    struct stat st;
    CHECK(stat(out, &st) != 0);                              /* nothing written */

    test_tmppath(dir, sizeof dir, "data_brown_missing");
    CHECK(data_prepare_brown(dir, out, &bytes, err) == -1);
    CHECK_MSG(strstr(err, dir) != NULL, "err: %s", err);
}
