/* SPDX-License-Identifier: MIT */
/* The proxy encoder (docs/numerics.md "Encode and train") on lavapipe against the numpy reference
 * vectors: the low mask exactly, the anchors as a set, z of frames 0, 1 and 300 (Z_all rows) to
 * 1e-10; dashi-mode anchors against a direct DFT; chunking does not change results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "fft_vkfft.h"
#include "fixtures.h"
#include "npy.h"
#include "test_data.h"
#include "vk.h"

#define N 64
#define NN (N * N)
#define D 654
#define M 197
#define TOPK 128

struct fixture {
    struct vk_runtime vk;
    struct fft_cache *fft;
    double frames[3 * NN]; /* omega at t = 0, 1, 300 */
};

static const int ref_rows[3] = {0, 1, 300};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx || lavapipe_fft_open(&fx->vk, &fx->fft) != 0) {
        free(fx);
        return -1;
    }
    const char *names[3] = {"omega_t0000.npy", "omega_t0001.npy", "omega_t0300.npy"};
    for (int f = 0; f < 3; f++) {
        double *w = test_data_load(names[f], NPY_F8, NN);
        if (!w)
            return -1;
        memcpy(fx->frames + f * NN, w, sizeof(double) * NN);
        free(w);
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    lavapipe_fft_close(&fx->vk, fx->fft);
    free(fx);
    return 0;
}

static void test_bands_match_mask_low(void **state)
{
    (void)state;
    struct encode_config cfg = ENCODE_DEFAULTS(N);
    struct encode_bands b;
    struct dashi_error err = {0};
    assert_int_equal(encode_bands_make(&cfg, &b, &err), 0);
    assert_int_equal(b.m, M);
    assert_int_equal(b.n_mid, 244);
    assert_int_equal(b.n_high, NN - M - 244);
    assert_int_equal(b.d, D);
    uint8_t *ref = test_data_load("mask_low.npy", NPY_U1, NN);
    assert_non_null(ref);
    uint8_t mask[NN];
    encode_mask_low(&b, mask);
    assert_memory_equal(mask, ref, NN);
    for (uint32_t q = 1; q < b.m; q++)
        assert_true(b.low_idx[q - 1] < b.low_idx[q]);
    free(ref);
    encode_bands_free(&b);

    cfg.topk = 245;
    assert_int_equal(encode_bands_make(&cfg, &b, &err), -1);
    assert_string_equal(err.field, "topk");
    cfg = ENCODE_DEFAULTS(N);
    cfg.mid_cut = 8;
    assert_int_equal(encode_bands_make(&cfg, &b, &err), -1);
    assert_string_equal(err.field, "mid_cut");
}

/* Column of the reference row that holds what our column `col` holds: the reference
 * orders anchors as in anchor_idx.npy, ours ascend. */
static int ref_column(int col, const int64_t *ours, const int64_t *ref_order)
{
    int off = 2 * M + 4;
    if (col < off)
        return col;
    int a = (col - off) % TOPK, part = (col - off) / TOPK;
    for (int p = 0; p < TOPK; p++)
        if (ref_order[p] == ours[a])
            return off + part * TOPK + p;
    return -1;
}

static void test_reference_mode_matches_Z_all(void **state)
{
    struct fixture *fx = *state;
    struct encode_config cfg = ENCODE_DEFAULTS(N);
    cfg.mode = ENCODE_REFERENCE;
    struct encoder *enc;
    struct dashi_error err = {0};
    assert_int_equal(encoder_create(&fx->vk, fx->fft, &cfg, &enc, &err), 0);
    int64_t anchors[TOPK];
    assert_int_equal(encoder_select_anchors(enc, fx->frames, anchors, &err), 0);
    int64_t *ref_anchors = test_data_load("anchor_idx.npy", NPY_I8, TOPK);
    double *Z_all = test_data_load("Z_all.npy", NPY_F8, 301 * D);
    assert_non_null(ref_anchors);
    assert_non_null(Z_all);
    int64_t sorted_ref[TOPK];
    memcpy(sorted_ref, ref_anchors, sizeof sorted_ref);
    for (int i = 1; i < TOPK; i++) /* insertion sort: the set, in our (ascending) order */
        for (int j = i; j > 0 && sorted_ref[j - 1] > sorted_ref[j]; j--) {
            int64_t t = sorted_ref[j];
            sorted_ref[j] = sorted_ref[j - 1];
            sorted_ref[j - 1] = t;
        }
    assert_memory_equal(anchors, sorted_ref, sizeof anchors);

    double z[3 * D];
    double gpu_ms;
    assert_int_equal(encoder_run(enc, fx->frames, 3, anchors, z, &gpu_ms, &err), 0);
    const char *single[3] = {"z_t0000.npy", "z_t0001.npy", "z_t0300.npy"};
    double worst = 0;
    for (int f = 0; f < 3; f++) {
        const double *ref = Z_all + (size_t)ref_rows[f] * D;
        double *zf = test_data_load(single[f], NPY_F8, D);
        assert_non_null(zf);
        double scale = 0;
        for (int c = 0; c < D; c++)
            scale = fmax(scale, fabs(ref[c]));
        for (int c = 0; c < D; c++) {
            int rc = ref_column(c, anchors, ref_anchors);
            assert_true(rc >= 0);
            assert_true(ref[rc] == zf[rc]); /* z_tXXXX.npy are rows of Z_all */
            double d = fabs(z[f * D + c] - ref[rc]);
            /* 1e-10 relative to the entry, with a floor of 1e-10 of the row's scale for
             * entries near zero (FFT rounding is absolute, relative to the largest value). */
            double tol = 1e-10 * fmax(fabs(ref[rc]), 1e-3 * scale);
            if (d > tol)
                fprintf(stderr, "frame %d column %d: %.17g vs %.17g\n", ref_rows[f], c, z[f * D + c], ref[rc]);
            assert_true(d <= tol);
            worst = fmax(worst, d / fmax(fabs(ref[rc]), 1e-3 * scale));
        }
        /* the discrete entries exactly: support fraction and topk */
        assert_true(z[f * D + 2 * M] == ref[2 * M]);
        assert_true(z[f * D + 2 * M + 3] == ref[2 * M + 3]);
        free(zf);
    }
    fprintf(stderr, "reference encode: worst relative difference %.3g\n", worst);
    free(ref_anchors);
    free(Z_all);
    encoder_destroy(enc);
}

/* Frames are encoded independently: 67 frames (two chunks of the FFT batch) give, row
 * for row, exactly what the three frames alone give. */
static void test_chunks_do_not_change_results(void **state)
{
    struct fixture *fx = *state;
    struct encode_config cfg = ENCODE_DEFAULTS(N);
    cfg.mode = ENCODE_REFERENCE;
    struct encoder *enc;
    struct dashi_error err = {0};
    assert_int_equal(encoder_create(&fx->vk, fx->fft, &cfg, &enc, &err), 0);
    int64_t anchors[TOPK];
    assert_int_equal(encoder_select_anchors(enc, fx->frames, anchors, &err), 0);
    enum { COUNT = 67 };
    double *many = malloc(sizeof(double) * NN * COUNT);
    double *z = malloc(sizeof(double) * D * COUNT);
    double z3[3 * D];
    assert_non_null(many);
    assert_non_null(z);
    for (int f = 0; f < COUNT; f++)
        memcpy(many + (size_t)f * NN, fx->frames + (f % 3) * NN, sizeof(double) * NN);
    assert_int_equal(encoder_run(enc, many, COUNT, anchors, z, NULL, &err), 0);
    assert_int_equal(encoder_run(enc, fx->frames, 3, anchors, z3, NULL, &err), 0);
    for (int f = 0; f < COUNT; f++)
        assert_memory_equal(z + (size_t)f * D, z3 + (f % 3) * D, sizeof(double) * D);
    free(many);
    free(z);
    encoder_destroy(enc);
}

/* A direct DFT of one entry (independent of VkFFT). */
static void dft(const double *w, int ky, int kx, double *re, double *im)
{
    double sr = 0, si = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double ph = -2.0 * M_PI * (double)(((long)ky * i + (long)kx * j) % N) / N;
            sr += w[i * N + j] * cos(ph);
            si += w[i * N + j] * sin(ph);
        }
    *re = sr;
    *im = si;
}

static void test_dashi_mode_anchors_come_from_omega_hat(void **state)
{
    struct fixture *fx = *state;
    struct encode_config cfg = ENCODE_DEFAULTS(N);
    struct encoder *enc;
    struct dashi_error err = {0};
    assert_int_equal(encoder_create(&fx->vk, fx->fft, &cfg, &enc, &err), 0);
    const struct encode_bands *b = encoder_bands(enc);
    int64_t anchors[TOPK];
    assert_int_equal(encoder_select_anchors(enc, fx->frames, anchors, &err), 0);
    double z[D];
    assert_int_equal(encoder_run(enc, fx->frames, 1, anchors, z, NULL, &err), 0);
    /* The anchors are the largest |omega^| of the mid band. */
    double min_in = INFINITY, max_out = 0;
    for (uint32_t q = 0; q < b->n_mid; q++) {
        int e = (int)b->mid_idx[q];
        double re, im;
        dft(fx->frames, e / N, e % N, &re, &im);
        bool in = false;
        for (int a = 0; a < TOPK; a++)
            if (anchors[a] == e) {
                in = true;
                /* and their values are omega^/N^2 */
                assert_true(fabs(z[2 * M + 4 + a] - re / NN) <= 1e-12);
                assert_true(fabs(z[2 * M + 4 + TOPK + a] - im / NN) <= 1e-12);
            }
        double mag = hypot(re, im);
        if (in)
            min_in = fmin(min_in, mag);
        else
            max_out = fmax(max_out, mag);
    }
    assert_true(min_in >= max_out);
    for (int a = 1; a < TOPK; a++)
        assert_true(anchors[a - 1] < anchors[a]);
    /* a bad anchor set is refused */
    anchors[0] = 0; /* the origin is in the low band */
    assert_int_equal(encoder_run(enc, fx->frames, 1, anchors, z, NULL, &err), -1);
    assert_string_equal(err.field, "anchors");
    encoder_destroy(enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bands_match_mask_low),
        cmocka_unit_test(test_reference_mode_matches_Z_all),
        cmocka_unit_test(test_chunks_do_not_change_results),
        cmocka_unit_test(test_dashi_mode_anchors_come_from_omega_hat),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
