/* tests/test_safetensors.c — safetensors reading and writing (trainer/safetensors.c):
 * round trips, the byte layout of written files, exact F16/BF16 decoding from files
 * written by hand, and one error per kind of malformed file. */
#include "test.h"
#include "trainer/trainer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* err must contain s. */
#define CHECK_HAS(err, s) CHECK_MSG(strstr((err), (s)) != NULL, "error '%s' lacks '%s'", (err), (s))


/* A safetensors file by hand: 8-byte length (header_len, or strlen(header) when
 * header_len is 0), the header as given, then data_len bytes of data. */
static int write_raw_st(const char *path, const char *header, uint64_t header_len,
                        const void *data, size_t data_len)
{
    size_t hl = strlen(header);
    uint64_t n = header_len ? header_len : hl;
    uint8_t *buf = malloc(8 + hl + data_len);
    if (!buf) return -1;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (data_len) memcpy(buf + 8 + hl, data, data_len);
    int rc = test_write_file(path, buf, 8 + hl + data_len);
    free(buf);
    return rc;
}


static uint32_t float_bits(float x)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    return b;
}

/* Opens a hand-written file that must fail; checks the message names path and each of
 * the (NULL-terminated) fragments. */
static void expect_open_error(struct test_ctx *t_, const char *path, const char *frag1, const char *frag2)
{
    struct st_file f;
    char err[CASCADE_ERR_MAX] = "";
    CHECK(st_open(&f, path, err) == -1);
    CHECK(f.tensors == NULL && f.data == NULL && f.metadata == NULL);
    CHECK_HAS(err, path);
    if (frag1) CHECK_HAS(err, frag1);
    if (frag2) CHECK_HAS(err, frag2);
    CHECK(strchr(err, '\n') == NULL);
    st_close(&f); /* safe after a failed open */
}

TEST(st_round_trip_tensors_and_metadata)
{
    char path[512], tmp[600], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "st_round_trip.safetensors");
    float a[5], b[12], c[12], s[1] = {-7.25f};
    for (int i = 0; i < 5; i++) a[i] = 0.5f * i - 1.0f;
    for (int i = 0; i < 12; i++) { b[i] = 1.0f / (i + 1); c[i] = -1e-30f * i; }
    c[3] = 3.4e38f;
    struct st_write_tensor ts[] = {
        {"wte", 1, {5}, a},
        {"h.0.attn.qkv.w", 2, {3, 4}, b},
        {"h.0.cube", 3, {2, 3, 2}, c},
        {"scalar", 0, {0}, s},
        {"empty", 2, {0, 3}, NULL},
    };
    const char *keys[] = {"format", "config", "quote\"and\\slash"};
    const char *vals[] = {"pt", "{\"n_layer\": 2}", "line\nbreak \xc3\xa9"};
    REQUIRE_MSG(st_write(path, ts, 5, keys, vals, 3, err) == 0, "%s", err);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0);

    struct st_file f;
    REQUIRE_MSG(st_open(&f, path, err) == 0, "%s", err);
    REQUIRE(f.n_tensors == 5);
    CHECK(strcmp(f.path, path) == 0);
    size_t offset = 0;
    for (int i = 0; i < 5; i++) {
        const struct st_tensor *t = &f.tensors[i];
        CHECK(strcmp(t->name, ts[i].name) == 0);
        CHECK(st_find(&f, ts[i].name) == t);
        CHECK(t->dtype == ST_F32 && strcmp(t->dtype_name, "F32") == 0);
        CHECK(t->ndim == ts[i].ndim);
        for (int d = 0; d < t->ndim; d++) CHECK(t->shape[d] == ts[i].shape[d]);
        CHECK(t->begin == offset);            /* laid out in the order given */
        offset = t->end;
    }
    CHECK(offset == f.data_len);
    CHECK(st_numel(st_find(&f, "wte")) == 5);
    CHECK(st_numel(st_find(&f, "h.0.cube")) == 12);
    CHECK(st_numel(st_find(&f, "scalar")) == 1);
    CHECK(st_numel(st_find(&f, "empty")) == 0);
    CHECK(st_find(&f, "nope") == NULL);

    float out[12];
    const float *want[] = {a, b, c, s};
    for (int i = 0; i < 4; i++) {
        const struct st_tensor *t = &f.tensors[i];
        CHECK_MSG(st_read_f32(&f, t, out, err) == 0, "%s", err);
        CHECK_MSG(memcmp(out, want[i], st_numel(t) * sizeof(float)) == 0, "tensor %s differs", t->name);
    }
    CHECK(st_read_f32(&f, st_find(&f, "empty"), out, err) == 0);

    for (int i = 0; i < 3; i++) {
        const char *v = st_metadata_get(&f, keys[i]);
        CHECK_MSG(v && strcmp(v, vals[i]) == 0, "metadata %s = %s", keys[i], v ? v : "(null)");
    }
    CHECK(st_metadata_get(&f, "absent") == NULL);
    st_close(&f);
    CHECK(f.tensors == NULL && f.n_tensors == 0);

    /* overwriting an existing file, without metadata */
    REQUIRE_MSG(st_write(path, ts, 1, NULL, NULL, 0, err) == 0, "%s", err);
    REQUIRE_MSG(st_open(&f, path, err) == 0, "%s", err);
    CHECK(f.n_tensors == 1 && f.metadata == NULL && f.data_len == 20);
    CHECK(st_metadata_get(&f, "format") == NULL);
    st_close(&f);
}

TEST(st_write_byte_layout)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "st_layout.safetensors");
    float x[3] = {1.0f, -2.5f, 0.1f}, y[2] = {3.0f, 4.0f};
    struct st_write_tensor ts[] = {{"x", 1, {3}, x}, {"y", 2, {1, 2}, y}};
    const char *k[] = {"format"}, *v[] = {"pt"};
    REQUIRE_MSG(st_write(path, ts, 2, k, v, 1, err) == 0, "%s", err);
    size_t n;
    uint8_t *buf = (uint8_t *)test_read_file(path, &n);
    REQUIRE(buf != NULL && n >= 8);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    CHECK((8 + hl) % 8 == 0);                  /* data section 8-aligned */
    REQUIRE(8 + hl + 20 == n);                  /* 5 floats of data, nothing else */
    CHECK(buf[8] == '{');
    size_t last = 8 + hl - 1;                   /* header: JSON then spaces only */
    while (buf[last] == ' ') last--;
    CHECK(buf[last] == '}');
    CHECK(8 + hl - 1 - last < 8);
    char *header = strndup((const char *)buf + 8, hl);
    const char *want =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
        "\"y\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[12,20]}}";
    CHECK_MSG(strncmp(header, want, strlen(want)) == 0, "header %s", header);
    free(header);
    const float all[5] = {1.0f, -2.5f, 0.1f, 3.0f, 4.0f};
    for (int i = 0; i < 5; i++) {              /* little-endian F32 */
        const uint8_t *p = buf + 8 + hl + 4 * i;
        uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        CHECK(bits == float_bits(all[i]));
    }
    free(buf);

    /* no tensors and no metadata: "{}" padded to 8 bytes */
    REQUIRE_MSG(st_write(path, NULL, 0, NULL, NULL, 0, err) == 0, "%s", err);
    buf = (uint8_t *)test_read_file(path, &n);
    REQUIRE(buf != NULL);
    CHECK(n == 16 && buf[0] == 8 && memcmp(buf + 8, "{}      ", 8) == 0);
    free(buf);
    struct st_file f;
    CHECK_MSG(st_open(&f, path, err) == 0, "%s", err);
    CHECK(f.n_tensors == 0 && f.data_len == 0);
    st_close(&f);
}

TEST(st_read_f16_bf16_exact)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "st_half.safetensors");
    /* binary16 bit patterns and their exact values */
    const uint16_t h[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x8001, 0x0400, 0x8000, 0x7c00,
                          0xfc00, 0x7bff, 0x3555, 0x7e00};
    const float hv[] = {1.0f, -2.0f, 0x1p-24f, 0x1.ff8p-15f, -0x1p-24f, 0x1p-14f, -0.0f, INFINITY,
                        -INFINITY, 65504.0f, 0x1.554p-2f, NAN};
    /* bfloat16: the top 16 bits of a float (0x0001 is a float subnormal, 2^-133) */
    const uint16_t b[] = {0x3f80, 0xc040, 0x8000, 0x7f80, 0xff80, 0x0001, 0x3eab, 0x7fc0};
    const float bv[] = {1.0f, -3.0f, -0.0f, INFINITY, -INFINITY, 0x1p-133f, 0x1.56p-2f, NAN};
    uint8_t data[40];
    for (int i = 0; i < 12; i++) { data[2 * i] = (uint8_t)h[i]; data[2 * i + 1] = (uint8_t)(h[i] >> 8); }
    for (int i = 0; i < 8; i++) { data[24 + 2 * i] = (uint8_t)b[i]; data[25 + 2 * i] = (uint8_t)(b[i] >> 8); }
    const char *header =
        "{\"half\":{\"dtype\":\"F16\",\"shape\":[3,4],\"data_offsets\":[0,24]},"
        " \"brain\":{\"dtype\":\"BF16\",\"shape\":[8],\"data_offsets\":[24,40]}}   ";
    REQUIRE(write_raw_st(path, header, 0, data, sizeof data) == 0);
    struct st_file f;
    REQUIRE_MSG(st_open(&f, path, err) == 0, "%s", err);
    const struct st_tensor *th = st_find(&f, "half"), *tb = st_find(&f, "brain");
    REQUIRE(th && tb);
    CHECK(th->dtype == ST_F16 && tb->dtype == ST_BF16 && strcmp(tb->dtype_name, "BF16") == 0);
    float out[12];
    REQUIRE_MSG(st_read_f32(&f, th, out, err) == 0, "%s", err);
    for (int i = 0; i < 12; i++) {
        if (isnan(hv[i])) CHECK_MSG(isnan(out[i]), "half %04x -> %g", h[i], out[i]);
        else CHECK_MSG(float_bits(out[i]) == float_bits(hv[i]), "half %04x -> %a, want %a", h[i], out[i], hv[i]);
    }
    REQUIRE_MSG(st_read_f32(&f, tb, out, err) == 0, "%s", err);
    for (int i = 0; i < 8; i++) {
        if (isnan(bv[i])) CHECK_MSG(isnan(out[i]), "bf16 %04x -> %g", b[i], out[i]);
        else CHECK_MSG(float_bits(out[i]) == float_bits(bv[i]), "bf16 %04x -> %a, want %a", b[i], out[i], bv[i]);
    }
    CHECK(signbit(out[2]));
    st_close(&f);
}

/* Every binary16 value against the compiler's own conversion, where it has _Float16. */
TEST(st_read_f16_all_values)
{
#ifdef __FLT16_MAX__
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "st_half_all.safetensors");
    uint8_t *data = malloc(2 * 65536);
    REQUIRE(data != NULL);
    for (int i = 0; i < 65536; i++) { data[2 * i] = (uint8_t)i; data[2 * i + 1] = (uint8_t)(i >> 8); }
    int rc = write_raw_st(path, "{\"all\":{\"dtype\":\"F16\",\"shape\":[256,256],\"data_offsets\":[0,131072]}}",
                          0, data, 2 * 65536);
    free(data);
    REQUIRE(rc == 0);
    struct st_file f;
    REQUIRE_MSG(st_open(&f, path, err) == 0, "%s", err);
    float *out = malloc(65536 * sizeof(float));
    REQUIRE(out != NULL);
    CHECK(st_read_f32(&f, &f.tensors[0], out, err) == 0);
    int bad = 0;
    for (int i = 0; i < 65536; i++) {
        uint16_t u = (uint16_t)i;
        _Float16 hf;
        memcpy(&hf, &u, 2);
        float want = (float)hf;
        int ok = isnan(want) ? isnan(out[i]) && signbit(out[i]) == signbit(want)
                             : float_bits(out[i]) == float_bits(want);
        if (!ok && bad++ < 5) CHECK_MSG(0, "half %04x -> %a, compiler %a", i, out[i], want);
    }
    CHECK(bad == 0);
    free(out);
    st_close(&f);
#endif
}

TEST(st_unknown_dtypes_kept_not_read)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "st_dtypes.safetensors");
    uint8_t data[64] = {0};
    const char *header =
        "{\"ids\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"wide\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[8,24]},"
        "\"q\":{\"dtype\":\"Q4_K\",\"shape\":[64],\"data_offsets\":[24,60]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[60,64]}}";
    REQUIRE(write_raw_st(path, header, 0, data, sizeof data) == 0);
    struct st_file f;
    REQUIRE_MSG(st_open(&f, path, err) == 0, "%s", err);
    REQUIRE(f.n_tensors == 4);
    CHECK(f.tensors[0].dtype == ST_I32);
    CHECK(f.tensors[1].dtype == ST_OTHER && strcmp(f.tensors[1].dtype_name, "F64") == 0);
    CHECK(f.tensors[2].dtype == ST_OTHER && strcmp(f.tensors[2].dtype_name, "Q4_K") == 0);
    CHECK(f.tensors[3].dtype == ST_U8);
    float out[64];
    CHECK(st_read_f32(&f, &f.tensors[0], out, err) == -1);
    CHECK_HAS(err, path);
    CHECK_HAS(err, "'ids'");
    CHECK_HAS(err, "I32");
    CHECK(st_read_f32(&f, &f.tensors[2], out, err) == -1);
    CHECK_HAS(err, "'q'");
    CHECK_HAS(err, "Q4_K");
    st_close(&f);

    /* a known dtype's size is checked even when kept as ST_OTHER */
    REQUIRE(write_raw_st(path, "{\"wide\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, data, 8) == 0);
    expect_open_error(t_, path, "'wide'", "F64");
}

TEST(st_error_truncated_data)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "st_truncated.safetensors");
    float x[4] = {1, 2, 3, 4}, y[4] = {5, 6, 7, 8};
    struct st_write_tensor ts[] = {{"h.0.attn.u", 2, {2, 2}, x}, {"h.0.attn.s", 1, {4}, y}};
    REQUIRE_MSG(st_write(path, ts, 2, NULL, NULL, 0, err) == 0, "%s", err);
    size_t n;
    uint8_t *buf = (uint8_t *)test_read_file(path, &n);
    REQUIRE(buf != NULL);
    CHECK(test_write_file(path, buf, n - 4) == 0);  /* the data section is cut short */
    free(buf);
    expect_open_error(t_, path, "tensor 'h.0.attn.s'", "exceed the data section (28 bytes)");
}

TEST(st_error_short_and_oversized_header_length)
{
    char path[512];
    test_tmppath(path, sizeof path, "st_short.safetensors");
    REQUIRE(test_write_file(path, "\x02\0\0\0", 4) == 0);
    expect_open_error(t_, path, "not a safetensors file", "4 bytes");
    REQUIRE(write_raw_st(path, "{}", 1000, NULL, 0) == 0);
    expect_open_error(t_, path, "not a safetensors file", "header length 1000 > file size 10");
    REQUIRE(write_raw_st(path, "{}", (uint64_t)1 << 62, NULL, 0) == 0);
    expect_open_error(t_, path, "header length", NULL);
    REQUIRE(write_raw_st(path, "", 0, NULL, 0) == 0);
    expect_open_error(t_, path, "header length 0", NULL);
    test_tmppath(path, sizeof path, "st_does_not_exist.safetensors");
    expect_open_error(t_, path, "cannot open", NULL);
}

TEST(st_error_header_not_json)
{
    char path[512];
    test_tmppath(path, sizeof path, "st_notjson.safetensors");
    REQUIRE(write_raw_st(path, "{\"a\": {\"dtype\": \"F32\", oops}}   ", 0, NULL, 0) == 0);
    expect_open_error(t_, path, "not valid JSON", NULL);
    REQUIRE(write_raw_st(path, "[1, 2]", 0, NULL, 0) == 0);
    expect_open_error(t_, path, "not a JSON object", NULL);
    REQUIRE(write_raw_st(path, "{} x", 0, NULL, 0) == 0);
    expect_open_error(t_, path, "after its JSON object", NULL);
}

TEST(st_error_offsets_out_of_range)
{
    char path[512];
    test_tmppath(path, sizeof path, "st_offsets.safetensors");
    uint8_t data[16] = {0};
    REQUIRE(write_raw_st(path, "{\"ok\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                               "\"wte\":{\"dtype\":\"F32\",\"shape\":[4,4],\"data_offsets\":[8,72]}}",
                         0, data, sizeof data) == 0);
    expect_open_error(t_, path, "tensor 'wte'", "data_offsets [8, 72] exceed the data section (16 bytes)");
    REQUIRE(write_raw_st(path, "{\"wte\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}",
                         0, data, sizeof data) == 0);
    expect_open_error(t_, path, "tensor 'wte'", "begin > end");
    REQUIRE(write_raw_st(path, "{\"wte\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}",
                         0, data, sizeof data) == 0);
    expect_open_error(t_, path, "tensor 'wte'", "data_offsets");
    REQUIRE(write_raw_st(path, "{\"wte\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, data, sizeof data) == 0);
    expect_open_error(t_, path, "tensor 'wte'", "data_offsets");
}

TEST(st_error_numel_offsets_mismatch)
{
    char path[512];
    test_tmppath(path, sizeof path, "st_numel.safetensors");
    uint8_t data[32] = {0};
    REQUIRE(write_raw_st(path, "{\"h.1.mlp.fc.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}",
                         0, data, sizeof data) == 0);
    expect_open_error(t_, path, "tensor 'h.1.mlp.fc.w'", "hold 16 bytes but F32 shape [2, 3] needs 24 (6 x 4)");
    REQUIRE(write_raw_st(path, "{\"h\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                         0, data, sizeof data) == 0);
    expect_open_error(t_, path, "tensor 'h'", "BF16");
}

TEST(st_error_bad_entries)
{
    char path[512];
    test_tmppath(path, sizeof path, "st_entries.safetensors");
    uint8_t data[8] = {0};
    REQUIRE(write_raw_st(path, "{\"lnf.w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'lnf.w'", "missing \"dtype\"");
    REQUIRE(write_raw_st(path, "{\"lnf.w\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'lnf.w'", "\"dtype\"");
    REQUIRE(write_raw_st(path, "{\"lnf.w\":{\"dtype\":\"F 32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'lnf.w'", "\"dtype\"");
    REQUIRE(write_raw_st(path, "{\"lnf.w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'lnf.w'", "\"shape\"[0]");
    REQUIRE(write_raw_st(path, "{\"lnf.w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'lnf.w'", "\"shape\"[0]");
    REQUIRE(write_raw_st(path, "{\"lnf.w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'lnf.w'", "\"shape\"");
    REQUIRE(write_raw_st(path, "{\"lnf.w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,8],\"data_offsets\":[0,8]}}",
                         0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'lnf.w'", "9 dimensions");
    REQUIRE(write_raw_st(path, "{\"lnf.w\":[0,8]}", 0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'lnf.w'", "not a JSON object");
    REQUIRE(write_raw_st(path, "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                               "\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'a'", "twice");
    REQUIRE(write_raw_st(path, "{\"line\\nbreak\":{\"dtype\":\"U8\",\"shape\":[9],\"data_offsets\":[0,9]}}",
                         0, data, 8) == 0);
    expect_open_error(t_, path, "tensor 'line?break'", NULL); /* still one line */
    REQUIRE(write_raw_st(path, "{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}", 0, NULL, 0) == 0);
    expect_open_error(t_, path, "__metadata__", "'step'");
    REQUIRE(write_raw_st(path, "{\"__metadata__\":[\"pt\"]}", 0, NULL, 0) == 0);
    expect_open_error(t_, path, "__metadata__", NULL);

    char header[512], name[200];
    memset(name, 'n', 160);
    name[160] = 0;
    snprintf(header, sizeof header, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", name);
    REQUIRE(write_raw_st(path, header, 0, data, 8) == 0);
    expect_open_error(t_, path, "160 bytes", "nnnnnnnn");
    name[159] = 0;                              /* 159 bytes fit */
    snprintf(header, sizeof header, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", name);
    REQUIRE(write_raw_st(path, header, 0, data, 8) == 0);
    struct st_file f;
    char err[CASCADE_ERR_MAX] = "";
    CHECK_MSG(st_open(&f, path, err) == 0, "%s", err);
    CHECK(f.n_tensors == 1 && st_find(&f, name) != NULL);
    st_close(&f);
}

TEST(st_write_errors)
{
    char path[512], err[CASCADE_ERR_MAX] = "";
    test_tmppath(path, sizeof path, "st_write_err.safetensors");
    float x[4] = {0};
    char name[200];
    memset(name, 'w', 160);
    name[160] = 0;
    struct st_write_tensor long_name[] = {{name, 1, {4}, x}};
    CHECK(st_write(path, long_name, 1, NULL, NULL, 0, err) == -1);
    CHECK_HAS(err, path);
    CHECK_HAS(err, "159");
    name[159] = 0;
    CHECK_MSG(st_write(path, long_name, 1, NULL, NULL, 0, err) == 0, "%s", err);

    struct st_write_tensor dup[] = {{"a", 1, {4}, x}, {"a", 1, {4}, x}};
    CHECK(st_write(path, dup, 2, NULL, NULL, 0, err) == -1);
    CHECK_HAS(err, path);
    CHECK_HAS(err, "'a'");
    struct st_write_tensor neg[] = {{"a", 2, {4, -1}, x}};
    CHECK(st_write(path, neg, 1, NULL, NULL, 0, err) == -1);
    CHECK_HAS(err, "'a'");
    struct st_write_tensor dims[] = {{"a", 9, {1}, x}};
    CHECK(st_write(path, dims, 1, NULL, NULL, 0, err) == -1);
    CHECK_HAS(err, "ndim 9");
    struct st_write_tensor reserved[] = {{"__metadata__", 1, {4}, x}};
    CHECK(st_write(path, reserved, 1, NULL, NULL, 0, err) == -1);
    CHECK_HAS(err, "reserved");
    const char *k[] = {"k", "k"}, *v[] = {"1", "2"};
    CHECK(st_write(path, dup, 1, k, v, 2, err) == -1);
    CHECK_HAS(err, "'k'");

    char bad[600];
    test_tmppath(bad, sizeof bad, "no_such_dir/x.safetensors");
    CHECK(st_write(bad, dup, 1, NULL, NULL, 0, err) == -1);
    CHECK_HAS(err, bad);
    /* the failed writes left the earlier good file untouched */
    struct st_file f;
    CHECK_MSG(st_open(&f, path, err) == 0, "%s", err);
    CHECK(f.n_tensors == 1 && f.tensors[0].shape[0] == 4);
    st_close(&f);
}
