/* SPDX-License-Identifier: MIT */
/* .npy header parser and writer: the reference files, round trips for every dtype, and
 * a catalogue of hostile headers that must be rejected without reading past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"
#include "scratch_dir.h"

static int setup_dir(void **state)
{
    char *dir = malloc(64);
    if (!dir || scratch_dir_make(dir, 64, "npy") != 0) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int teardown_dir(void **state)
{
    scratch_dir_remove(*state);
    free(*state);
    return 0;
}

/* A reference value from tests/data/summary.json (written by the numpy reference). */
static double summary_value(const char *key)
{
    FILE *f = fopen("tests/data/summary.json", "r");
    assert_non_null(f);
    char line[256], want[64];
    snprintf(want, sizeof want, "\"%s\":", key);
    double v = NAN;
    while (fgets(line, sizeof line, f))
        if (strstr(line, want))
            v = strtod(strstr(line, want) + strlen(want), NULL);
    fclose(f);
    assert_false(isnan(v));
    return v;
}

/* Our writer must produce numpy's header byte for byte. */
static void expect_same_header(const char *path, const struct npy_info *parsed)
{
    uint8_t file[128];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(file, 1, sizeof file, f), sizeof file);
    fclose(f);
    char made[256];
    struct npy_info info = {.dtype = parsed->dtype, .ndim = parsed->ndim};
    memcpy(info.shape, parsed->shape, sizeof info.shape);
    assert_int_equal(npy_make_header(made, sizeof made, &info), parsed->header_len);
    assert_memory_equal(made, file, parsed->header_len);
}

static void test_reference_A(void **state)
{
    (void)state;
    struct npy_info info;
    void *data;
    struct dashi_error err = {0};
    assert_int_equal(npy_load("tests/data/A.npy", &info, &data, &err), 0);
    assert_int_equal(info.dtype, NPY_F8);
    assert_int_equal(info.ndim, 2);
    assert_int_equal(info.shape[0], 654);
    assert_int_equal(info.shape[1], 654);
    assert_int_equal(info.count, 654 * 654);
    assert_int_equal(info.nbytes, 654 * 654 * 8);
    assert_int_equal(info.header_len % 64, 0);
    const double *a = data;
    double trace = 0, sumsq = 0;
    for (int i = 0; i < 654; i++)
        trace += a[i * 654 + i];
    for (uint64_t i = 0; i < info.count; i++)
        sumsq += a[i] * a[i];
    assert_true(fabs(trace - summary_value("A_trace")) < 1e-10 * fabs(summary_value("A_trace")));
    assert_true(fabs(sqrt(sumsq) - summary_value("A_fro")) < 1e-10 * summary_value("A_fro"));
    free(data);
    expect_same_header("tests/data/A.npy", &info);
}

static void test_reference_z(void **state)
{
    (void)state;
    struct npy_info info;
    void *data;
    struct dashi_error err = {0};
    assert_int_equal(npy_load("tests/data/z_t0000.npy", &info, &data, &err), 0);
    assert_int_equal(info.dtype, NPY_F8);
    assert_int_equal(info.ndim, 1);
    assert_int_equal(info.shape[0], 654);
    assert_int_equal(info.nbytes, 654 * 8);
    free(data);
    expect_same_header("tests/data/z_t0000.npy", &info);
}

static void test_round_trip_every_dtype(void **state)
{
    const char *dir = *state;
    static const uint64_t shapes[][NPY_MAX_DIMS] = {{0}, {5}, {2, 3}, {2, 1, 3}, {1, 2, 2, 3}, {0, 4}};
    static const int ndims[] = {0, 1, 2, 3, 4, 2};
    for (int t = 0; t < NPY_DTYPE_COUNT; t++) {
        for (size_t k = 0; k < sizeof ndims / sizeof *ndims; k++) {
            uint8_t src[256];
            for (size_t i = 0; i < sizeof src; i++)
                src[i] = (uint8_t)(i * 37 + (size_t)t * 11 + k);
            char path[256];
            snprintf(path, sizeof path, "%s/a.npy", dir);
            struct dashi_error err = {0};
            assert_int_equal(npy_save(path, (enum npy_dtype)t, ndims[k], shapes[k], src, &err), 0);

            struct npy_info info;
            void *data;
            assert_int_equal(npy_load(path, &info, &data, &err), 0);
            assert_int_equal(info.dtype, t);
            assert_int_equal(info.ndim, ndims[k]);
            uint64_t count = 1;
            for (int d = 0; d < ndims[k]; d++) {
                assert_int_equal(info.shape[d], shapes[k][d]);
                count *= shapes[k][d];
            }
            assert_int_equal(info.count, count);
            assert_int_equal(info.nbytes, count * npy_item_size((enum npy_dtype)t));
            assert_int_equal(info.header_len % 64, 0);
            assert_memory_equal(data, src, info.nbytes);
            free(data);
        }
    }
}

/* Builds preamble + dict (+ newline) for a given version; returns the total length. */
static size_t raw_header(uint8_t *buf, int major, const char *dict)
{
    size_t pre = major == 1 ? 10 : 12;
    size_t dlen = strlen(dict);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major;
    buf[7] = 0;
    size_t hlen = dlen + 1;
    buf[8] = (uint8_t)hlen;
    buf[9] = (uint8_t)(hlen >> 8);
    if (major != 1) {
        buf[10] = 0;
        buf[11] = 0;
    }
    memcpy(buf + pre, dict, dlen);
    buf[pre + dlen] = '\n';
    return pre + hlen;
}

/* Parses from an exact-size heap copy so ASan catches any read past the end. */
static int parse_exact(const uint8_t *p, size_t n, struct npy_info *info, struct dashi_error *err)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, p, n);
    int rc = npy_parse_header(copy, n, info, err);
    free(copy);
    return rc;
}

static void expect_reject(int major, const char *dict)
{
    uint8_t buf[1024];
    size_t n = raw_header(buf, major, dict);
    struct npy_info info;
    struct dashi_error err = {0};
    if (parse_exact(buf, n, &info, &err) == 0) {
        print_message("accepted: %s\n", dict);
        fail();
    }
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_string_equal(err.field, "npy");
}

static void expect_accept(int major, const char *dict, enum npy_dtype dtype, int ndim, uint64_t count)
{
    uint8_t buf[1024];
    size_t n = raw_header(buf, major, dict);
    struct npy_info info;
    struct dashi_error err = {0};
    if (parse_exact(buf, n, &info, &err) != 0) {
        print_message("rejected: %s (%s)\n", dict, err.message);
        fail();
    }
    assert_int_equal(info.dtype, dtype);
    assert_int_equal(info.ndim, ndim);
    assert_int_equal(info.count, count);
    assert_int_equal(info.header_len, n);
}

static void test_accepts_variants(void **state)
{
    (void)state;
    expect_accept(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (654,), }", NPY_F8, 1, 654);
    expect_accept(1, "{'shape': (3, 4), 'descr': '<f4', 'fortran_order': False}", NPY_F4, 2, 12);
    expect_accept(1, "{\"fortran_order\": False, \"shape\": (), \"descr\": \"<i8\"}", NPY_I8, 0, 1);
    expect_accept(2, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3, 4, 5,), }", NPY_I4, 4, 120);
    expect_accept(3, "{'descr': '<i2', 'fortran_order': False, 'shape': (0,), }", NPY_I2, 1, 0);
    expect_accept(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (7,)}", NPY_I1, 1, 7);
    expect_accept(1, "{'descr': '<u1', 'fortran_order': False, 'shape': (7,)}", NPY_U1, 1, 7);
    expect_accept(1, "  {'descr':'|u1','fortran_order':False,'shape':(1,2)}   ", NPY_U1, 2, 2);
}

static void test_rejects_bad_dicts(void **state)
{
    (void)state;
    expect_reject(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }");       /* big-endian */
    expect_reject(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }");        /* Fortran */
    expect_reject(1, "{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }");      /* complex */
    expect_reject(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }");
    expect_reject(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }");
    expect_reject(1, "{'descr': '<U8', 'fortran_order': False, 'shape': (3,), }");
    expect_reject(1, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,), }");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}"); /* unknown key */
    expect_reject(1, "{'descr': '<f8', 'shape': (3,), }");                               /* missing key */
    expect_reject(1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3)}");  /* int, not tuple */
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5)}");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3.0,)}");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,,)}");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': [3]}");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': Falsey, 'shape': (3,)}");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,)}");
    expect_reject(1, "{'descr': '<f8' 'fortran_order': False, 'shape': (3,)}");   /* missing comma */
    expect_reject(1, "{'descr: '<f8', 'fortran_order': False, 'shape': (3,)}");   /* broken quote */
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} x"); /* trailing */
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)");   /* unclosed */
    expect_reject(1, "['descr', '<f8']");
    expect_reject(1, "");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}\x01");
}

static void test_rejects_overflowing_shapes(void **state)
{
    (void)state;
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}");
    expect_reject(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}");
    expect_reject(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551615,)}");
    expect_reject(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551616,)}");
    expect_reject(1, "{'descr': '<i2', 'fortran_order': False, 'shape': (99999999999999999999999,)}");
    expect_reject(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (65536, 65536, 65536, 65536)}");
    /* zero anywhere makes the product zero even when the rest is huge */
    expect_accept(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 18446744073709551615)}", NPY_F8, 2, 0);
}

static void test_rejects_bad_preamble(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = raw_header(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}");
    struct npy_info info;
    struct dashi_error err = {0};

    buf[1] = 'M'; /* bad magic */
    assert_int_equal(parse_exact(buf, n, &info, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    buf[1] = 'N';
    assert_int_equal(parse_exact(buf, n, &info, &err), 0);

    buf[6] = 4; /* unknown major version */
    assert_int_equal(parse_exact(buf, n, &info, &err), -1);
    buf[6] = 0;
    assert_int_equal(parse_exact(buf, n, &info, &err), -1);
    buf[6] = 1;
    buf[7] = 1; /* minor version */
    assert_int_equal(parse_exact(buf, n, &info, &err), -1);
    buf[7] = 0;

    buf[8] = (uint8_t)(buf[8] + 1); /* header length one past the data */
    assert_int_equal(parse_exact(buf, n, &info, &err), -1);
    buf[8] = (uint8_t)(buf[8] - 1);

    /* version 2 with a 4 GiB header length */
    uint8_t big[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0xff};
    size_t len;
    assert_int_equal(npy_header_length(big, sizeof big, &len, &err), -1);
    assert_int_equal(parse_exact(big, sizeof big, &info, &err), -1);
}

static void test_rejects_every_truncation(void **state)
{
    (void)state;
    char head[256];
    struct npy_info info = {.dtype = NPY_F8, .ndim = 2, .shape = {654, 654}};
    size_t n = npy_make_header(head, sizeof head, &info);
    assert_int_equal(n, 128);
    struct dashi_error err = {0};
    for (size_t k = 0; k < n; k++) {
        struct npy_info got;
        assert_int_equal(parse_exact((const uint8_t *)head, k, &got, &err), -1);
        size_t len;
        assert_int_equal(npy_header_length((const uint8_t *)head, k, &len, &err), 0);
        assert_true(len == 0 || len == n);
    }
    struct npy_info got;
    assert_int_equal(parse_exact((const uint8_t *)head, n, &got, &err), 0);
    assert_int_equal(got.header_len, n);
}

/* Random byte flips of a valid header: any answer is fine, reading past the end is not
 * (ASan); an accepted header must describe a consistent size. */
static void test_mutations_stay_in_bounds(void **state)
{
    (void)state;
    char head[256];
    struct npy_info info = {.dtype = NPY_I4, .ndim = 3, .shape = {3, 4, 5}};
    size_t n = npy_make_header(head, sizeof head, &info);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t buf[256];
        memcpy(buf, head, n);
        for (int flips = 0; flips < 3; flips++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[x % n] = (uint8_t)(x >> 32);
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = n - (x % 4 == 0 ? x % n : 0);
        struct npy_info got;
        struct dashi_error err = {0};
        if (parse_exact(buf, len, &got, &err) == 0) {
            assert_true(got.header_len <= len);
            assert_int_equal(got.nbytes, got.count * npy_item_size(got.dtype));
        } else {
            assert_int_equal(err.code, DASHI_E_BAD_VALUE);
        }
    }
}

static void test_load_rejects_size_mismatch(void **state)
{
    const char *dir = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/short.npy", dir);
    double v[4] = {1, 2, 3, 4};
    uint64_t shape[1] = {4};
    struct dashi_error err = {0};
    assert_int_equal(npy_save(path, NPY_F8, 1, shape, v, &err), 0);
    assert_int_equal(truncate(path, 128 + 3 * 8), 0);
    struct npy_info info;
    void *data;
    assert_int_equal(npy_load(path, &info, &data, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_null(data);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not an npy file at all", f);
    fclose(f);
    assert_int_equal(npy_load(path, &info, &data, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);

    snprintf(path, sizeof path, "%s/absent.npy", dir);
    assert_int_equal(npy_load(path, &info, &data, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);
}

static void test_make_header_limits(void **state)
{
    (void)state;
    char head[256];
    struct npy_info info = {.dtype = NPY_F8, .ndim = 2, .shape = {1ull << 40, 1ull << 40}};
    assert_int_equal(npy_make_header(head, sizeof head, &info), 0); /* overflow */
    struct npy_info small = {.dtype = NPY_F8, .ndim = 1, .shape = {3}};
    assert_int_equal(npy_make_header(head, 10, &small), 0); /* no room */
    assert_string_equal(npy_dtype_descr(NPY_U1), "|u1");
    assert_string_equal(npy_dtype_name(NPY_F4), "f4");
    assert_int_equal(npy_item_size(NPY_I2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_A),
        cmocka_unit_test(test_reference_z),
        cmocka_unit_test_setup_teardown(test_round_trip_every_dtype, setup_dir, teardown_dir),
        cmocka_unit_test(test_accepts_variants),
        cmocka_unit_test(test_rejects_bad_dicts),
        cmocka_unit_test(test_rejects_overflowing_shapes),
        cmocka_unit_test(test_rejects_bad_preamble),
        cmocka_unit_test(test_rejects_every_truncation),
        cmocka_unit_test(test_mutations_stay_in_bounds),
        cmocka_unit_test_setup_teardown(test_load_rejects_size_mismatch, setup_dir, teardown_dir),
        cmocka_unit_test(test_make_header_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
