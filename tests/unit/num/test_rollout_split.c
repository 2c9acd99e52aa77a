/* SPDX-License-Identifier: MIT */
/* The split product of fast f64 batches (rollout_split.h) on lavapipe, where it runs on
 * the portable integer kernel: bit for bit against its C loop, close to the IEEE product,
 * non-finite states found, device memory returned, and never used unless asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "lavapipe_fixture.h"
#include "rollout_gpu.h"
#include "rollout_ref.h"
#include "rollout_split.h"
#include "rollout_tuning.h"

/* Neither a multiple of the kernels' 32×32 tiles: the padding is exercised. */
enum { D = 45, B = 11 };

/* A with growth about 1 per step; rows of z0 spread over 2^-40 .. 2^30 in magnitude,
 * one row all zero, signs mixed: every row gets its own exponent. */
static void make_inputs(double *A, double *z0)
{
    uint64_t s = 0x2545F4914F6CDD1Dull;
    for (int i = 0; i < D * D; i++)
        A[i] = (2 * unit_rand(&s) - 1) * sqrt(3.0 / D);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < D; k++)
            z0[b * D + k] = b == 4 ? 0.0 : (2 * unit_rand(&s) - 1) * ldexp(1.0, 7 * b - 40);
}

static struct rollout_gpu *make(struct fixture *f, const double *A, const double *z0, uint32_t max_run)
{
    struct rollout_tuning tuning; /* the knobs the test set, as the daemon reads them at start */
    rollout_tuning_from_env(&tuning);
    struct rollout_config cfg = {.D = D, .B = B, .precision = ROLLOUT_F64, .mode = ROLLOUT_FAST,
                                 .max_steps_per_run = max_run, .tuning = &tuning};
    struct rollout_gpu *r = NULL;
    struct dashi_error err = {0};
    if (rollout_gpu_create(&f->vk, &cfg, A, z0, &r, &err) != 0)
        fail_msg("rollout_gpu_create: %s", err.message);
    return r;
}

/* Runs of 7 steps recording every 5th, 19 steps: every record and every run's final state
 * equal rollout_split_ref_step iterated from z0. */
static void test_bit_identical_to_c_loop(void **state)
{
    struct fixture *f = *state;
    setenv("DASHI_ROLLOUT_SPLIT", "on", 1);
    double A[D * D], z[B * D], next[B * D], got[B * D], rec[2 * B * D];
    make_inputs(A, z);
    struct rollout_gpu *r = make(f, A, z, 7);
    assert_string_equal(rollout_gpu_arithmetic(r), "split-int8");
    assert_int_equal(rollout_gpu_split_digits(r), SPLIT_DIGITS);
    struct dashi_error err = {0};
    for (uint32_t done = 0; done < 19;) {
        uint32_t n = 19 - done < 7 ? 19 - done : 7, nrec;
        uint64_t bad;
        double ms;
        assert_int_equal(rollout_gpu_run(r, n, 5, rec, &nrec, &bad, &ms, &err), 0);
        assert_int_equal(bad, 0);
        assert_int_equal(rollout_gpu_read_state(r, got, &err), 0);
        uint32_t k = 0;
        for (uint32_t s = 1; s <= n; s++) {
            rollout_split_ref_step(A, z, next, D, B, SPLIT_DIGITS);
            memcpy(z, next, sizeof z);
            if ((done + s) % 5 == 0)
                assert_memory_equal(rec + (size_t)(k++) * B * D, z, sizeof z);
        }
        assert_int_equal(k, nrec);
        assert_memory_equal(got, z, sizeof z);
        done += n;
    }
    for (int k = 0; k < D; k++)
        assert_true(z[4 * D + k] == 0.0); /* the zero row stays zero */
    rollout_gpu_destroy(r);
    unsetenv("DASHI_ROLLOUT_SPLIT");
}

/* Largest deviation of one step from the IEEE product (exact order), relative to each
 * output row's largest magnitude, with `digits` digits per value. */
static double deviation(struct fixture *f, const char *digits)
{
    setenv("DASHI_ROLLOUT_SPLIT", "on", 1);
    setenv("DASHI_ROLLOUT_SPLIT_DIGITS", digits, 1);
    double A[D * D], z0[B * D], got[B * D], ieee[B * D];
    make_inputs(A, z0);
    struct rollout_gpu *r = make(f, A, z0, 1);
    assert_int_equal(rollout_gpu_split_digits(r), atoi(digits));
    struct dashi_error err = {0};
    uint32_t nrec;
    uint64_t bad;
    double ms, worst = 0;
    assert_int_equal(rollout_gpu_run(r, 1, 0, NULL, &nrec, &bad, &ms, &err), 0);
    assert_int_equal(rollout_gpu_read_state(r, got, &err), 0);
    rollout_ref_step_f64(A, z0, ieee, D, B);
    for (int b = 0; b < B; b++) {
        double top = 0;
        for (int c = 0; c < D; c++)
            top = fmax(top, fabs(ieee[b * D + c]));
        for (int c = 0; c < D; c++)
            if (top > 0)
                worst = fmax(worst, fabs(got[b * D + c] - ieee[b * D + c]) / top);
    }
    rollout_gpu_destroy(r);
    unsetenv("DASHI_ROLLOUT_SPLIT_DIGITS");
    unsetenv("DASHI_ROLLOUT_SPLIT");
    return worst;
}

/* 8 digits (56 bits below each row's and column's top) are as close to the IEEE product
 * as its own rounding; fewer digits are coarser, as the digit count says. */
static void test_accuracy_follows_digits(void **state)
{
    struct fixture *f = *state;
    double d8 = deviation(f, "8"), d3 = deviation(f, "3");
    assert_true(d8 < 1e-14);
    assert_true(d3 > 1e3 * d8);
    assert_true(d3 < 1e-4); /* 21 bits: a few units of 2^-21 after D products */
}

/* A state that overflows is reported at its step, as by the IEEE kernels. */
static void test_nonfinite_step(void **state)
{
    struct fixture *f = *state;
    setenv("DASHI_ROLLOUT_SPLIT", "on", 1);
    double A[D * D] = {0}, z0[B * D];
    for (int i = 0; i < D; i++)
        A[i * D + i] = 1e100;
    for (int i = 0; i < B * D; i++)
        z0[i] = 1.0;
    struct rollout_gpu *r = make(f, A, z0, 10);
    struct dashi_error err = {0};
    uint32_t nrec;
    uint64_t bad;
    double ms;
    assert_int_equal(rollout_gpu_run(r, 2, 0, NULL, &nrec, &bad, &ms, &err), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(rollout_gpu_run(r, 10, 0, NULL, &nrec, &bad, &ms, &err), 0);
    assert_int_equal(bad, 4); /* 1e300 after step 3, inf at step 4 */
    rollout_gpu_destroy(r);
    unsetenv("DASHI_ROLLOUT_SPLIT");
}

/* Without DASHI_ROLLOUT_SPLIT the IEEE GEMM runs; with it the device memory the engine
 * takes stays within its estimate and is all returned. */
static void test_default_and_memory(void **state)
{
    struct fixture *f = *state;
    double A[D * D], z0[B * D];
    make_inputs(A, z0);
    struct rollout_gpu *r = make(f, A, z0, 4);
    assert_string_equal(rollout_gpu_arithmetic(r), "f64");
    assert_int_equal(rollout_gpu_split_digits(r), 0);
    rollout_gpu_destroy(r);
    setenv("DASHI_ROLLOUT_SPLIT", "on", 1);
    struct rollout_tuning tuning;
    rollout_tuning_from_env(&tuning);
    struct rollout_config cfg = {.D = D, .B = B, .precision = ROLLOUT_F64, .mode = ROLLOUT_FAST,
                                 .max_steps_per_run = 4, .tuning = &tuning};
    uint64_t est = rollout_gpu_memory_estimate(&cfg);
    VkDeviceSize before = f->vk.memory_used;
    r = make(f, A, z0, 4);
    assert_true(f->vk.memory_used - before <= est);
    rollout_gpu_destroy(r);
    assert_int_equal(f->vk.memory_used, before);
    unsetenv("DASHI_ROLLOUT_SPLIT");
    /* The int32 sums bound D: 8 · 16640 · 127² < 2^31 <= 8 · 16672 · 127². */
    assert_true(rollout_split_exact_for(16640, 8));
    assert_false(rollout_split_exact_for(16641, 8));
    assert_false(rollout_split_exact_for(D, 9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bit_identical_to_c_loop),
        cmocka_unit_test(test_accuracy_follows_digits),
        cmocka_unit_test(test_nonfinite_step),
        cmocka_unit_test(test_default_and_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
