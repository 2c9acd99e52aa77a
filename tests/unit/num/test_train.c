/* SPDX-License-Identifier: MIT */
/* The operator fit (docs/numerics.md "Encode and train"): on the reference's Z_all (X = Z[0..299],
 * Y = Z[1..300], ridge 1e-3) A matches A.npy to 1e-7 elementwise; the fit residual is the one A.npy
 * gives; on a system with a known operator the fit recovers it and its spectral radius;
 * the rank-truncated (SVD) path at full rank agrees with the Cholesky path; small systems
 * exercise the dual (T < D) and primal (T >= D) forms and the argument errors; the GPU
 * fit (lavapipe) gives the host fit's A and diagnostics bit for bit in both forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "test_data.h"
#include "ridge.h"

#define D 654
#define T 300

static double residual_of(const double *X, const double *Y, const double *A, uint32_t t, uint32_t d)
{
    double num = 0, den = 0;
    for (uint32_t r = 0; r < t; r++)
        for (uint32_t c = 0; c < d; c++) {
            double acc = 0;
            for (uint32_t k = 0; k < d; k++)
                acc += X[(size_t)r * d + k] * A[(size_t)k * d + c];
            double e = acc - Y[(size_t)r * d + c];
            num += e * e;
            den += Y[(size_t)r * d + c] * Y[(size_t)r * d + c];
        }
    return sqrt(num) / sqrt(den);
}

static void test_fit_on_Z_all_matches_A(void **state)
{
    (void)state;
    double *Z = test_data_load("Z_all.npy", NPY_F8, (uint64_t)(T + 1) * D);
    double *Aref = test_data_load("A.npy", NPY_F8, (uint64_t)D * D);
    assert_non_null(Z);
    assert_non_null(Aref);
    double *A = malloc(sizeof(double) * D * D);
    assert_non_null(A);
    struct ridge_report rep;
    struct dashi_error err = {0};
    assert_int_equal(ridge_fit(Z, Z + D, T, D, 1e-3, 0, NULL, A, &rep, &err), 0);
    double worst = 0;
    for (size_t i = 0; i < (size_t)D * D; i++)
        worst = fmax(worst, fabs(A[i] - Aref[i]));
    fprintf(stderr, "A vs A.npy: max |diff| %.3g; residual %.6g cond %.3g rho %.9f rank %u; solve %.1f ms, "
                    "diagnostics %.1f ms\n",
            worst, rep.fit_residual, rep.cond, rep.spectral_radius, rep.numerical_rank, rep.solve_ms, rep.diag_ms);
    assert_true(worst <= 1e-7);
    double ref_res = residual_of(Z, Z + D, Aref, T, D);
    assert_true(fabs(rep.fit_residual - ref_res) <= 1e-6 * ref_res);
    assert_int_equal(rep.rank_used, T);
    assert_true(rep.numerical_rank >= 1 && rep.numerical_rank <= T);
    assert_true(rep.cond > 1);
    assert_true(rep.spectral_radius > 0 && rep.spectral_radius < 2);
    assert_int_equal(rep.unstable, rep.spectral_radius > 1);

    /* The SVD path at full rank is the same operator. */
    double *A2 = malloc(sizeof(double) * D * D);
    assert_non_null(A2);
    struct ridge_report rep2;
    assert_int_equal(ridge_fit(Z, Z + D, T, D, 1e-3, T, NULL, A2, &rep2, &err), 0);
    double gap = 0;
    for (size_t i = 0; i < (size_t)D * D; i++)
        gap = fmax(gap, fabs(A2[i] - Aref[i]));
    fprintf(stderr, "SVD path vs A.npy: %.3g; rho %.9f\n", gap, rep2.spectral_radius);
    assert_true(gap <= 1e-7);
    assert_true(fabs(rep2.spectral_radius - rep.spectral_radius) <= 1e-7);
    /* A truncation keeps fewer directions: a worse (not better) fit. */
    struct ridge_report rep3;
    assert_int_equal(ridge_fit(Z, Z + D, T, D, 1e-3, 20, NULL, A2, &rep3, &err), 0);
    assert_int_equal(rep3.rank_used, 20);
    assert_true(rep3.fit_residual > rep.fit_residual);
    free(A2);
    free(A);
    free(Z);
    free(Aref);
}

/* Small systems whose answer is known: an underdetermined one (dual form) is fitted
 * exactly; a diagonal operator seen through 12 independent states (primal form) is
 * recovered with its spectral radius. */
static void test_known_operator_is_recovered(void **state)
{
    (void)state;
    const uint32_t d = 3;
    const double ev[3] = {0.9, -0.5, 1.05};
    {
        /* two states of dimension 3 (the dual form, T < D): XA = Y has exact solutions
         * and a tiny ridge picks one that reproduces Y */
        const uint32_t t = 2;
        double Z[3 * 3];
        for (uint32_t r = 0; r <= t; r++)
            for (uint32_t c = 0; c < d; c++)
                Z[r * d + c] = r == 0 ? 1.0 + c : Z[(r - 1) * d + c] * ev[c] + (r == 1 ? 0.3 * c : 0);
        double A[9];
        struct ridge_report rep;
        struct dashi_error err = {0};
        assert_int_equal(ridge_fit(Z, Z + d, t, d, 1e-12, 0, NULL, A, &rep, &err), 0);
        assert_true(rep.fit_residual < 1e-6);
        assert_int_equal(rep.rank_used, 2);
        assert_int_equal(rep.numerical_rank, 2);
    }
    /* an exactly diagonal system with many independent states: A = diag(ev) */
    const uint32_t t = 12;
    double *X = malloc(sizeof(double) * t * d), *Y = malloc(sizeof(double) * t * d);
    assert_non_null(X);
    assert_non_null(Y);
    for (uint32_t r = 0; r < t; r++)
        for (uint32_t c = 0; c < d; c++) {
            X[r * d + c] = sin(1.0 + r * (1.1 + 0.7 * c) + c);
            Y[r * d + c] = X[r * d + c] * ev[c];
        }
    double A[9];
    struct ridge_report rep;
    struct dashi_error err = {0};
    assert_int_equal(ridge_fit(X, Y, t, d, 0, 0, NULL, A, &rep, &err), 0);
    for (uint32_t i = 0; i < d; i++)
        for (uint32_t j = 0; j < d; j++)
            assert_true(fabs(A[i * d + j] - (i == j ? ev[i] : 0)) < 1e-10);
    assert_true(fabs(rep.spectral_radius - 1.05) < 1e-10);
    assert_true(rep.unstable);
    assert_int_equal(rep.numerical_rank, 3);
    /* errors: a bad rank, a negative ridge, a singular normal matrix without ridge */
    assert_int_equal(ridge_fit(X, Y, t, d, 1e-3, 4, NULL, A, &rep, &err), -1);
    assert_string_equal(err.field, "rank");
    assert_int_equal(ridge_fit(X, Y, t, d, -1, 0, NULL, A, &rep, &err), -1);
    assert_string_equal(err.field, "ridge");
    for (uint32_t r = 0; r < t; r++)
        X[r * d + 2] = 0; /* a zero column: XᵀX singular */
    assert_int_equal(ridge_fit(X, Y, t, d, 0, 0, NULL, A, &rep, &err), -1);
    assert_string_equal(err.field, "ridge");
    free(X);
    free(Y);
}

/* The host fit and the GPU fit of the same system: the same bits. */
static void assert_gpu_equals_host(struct vk_runtime *vk, const double *X, const double *Y, uint32_t t, uint32_t d,
                                   double lambda)
{
    double *Ah = malloc(sizeof(double) * d * d), *Ag = malloc(sizeof(double) * d * d);
    assert_non_null(Ah);
    assert_non_null(Ag);
    struct ridge_report rh, rg;
    struct dashi_error err = {0};
    assert_int_equal(ridge_fit(X, Y, t, d, lambda, 0, NULL, Ah, &rh, &err), 0);
    if (ridge_fit(X, Y, t, d, lambda, 0, vk, Ag, &rg, &err) != 0)
        fail_msg("GPU fit: %s", err.message);
    assert_false(rh.on_gpu);
    assert_true(rg.on_gpu);
    double worst = 0;
    for (size_t i = 0; i < (size_t)d * d; i++)
        worst = fmax(worst, fabs(Ag[i] - Ah[i]));
    fprintf(stderr, "T %u D %u: GPU vs host A max |diff| %.3g; GPU %.2f ms, solve %.1f ms (host %.1f ms)\n", t, d,
            worst, rg.gpu_ms, rg.solve_ms, rh.solve_ms);
    assert_true(worst == 0);
    assert_true(rg.fit_residual == rh.fit_residual);
    assert_true(rg.spectral_radius == rh.spectral_radius);
    assert_true(rg.cond == rh.cond && rg.sigma_max == rh.sigma_max && rg.sigma_min == rh.sigma_min);
    assert_int_equal(rg.numerical_rank, rh.numerical_rank);
    assert_int_equal(rg.rank_used, rh.rank_used);
    free(Ah);
    free(Ag);
}

static void test_gpu_fit_equals_host(void **state)
{
    (void)state;
    (void)dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE); /* see test_rollout.c */
    struct vk_runtime vk;
    struct dashi_error err = {0};
    if (vk_runtime_open(&vk, "lavapipe", NULL, &err) != 0)
        fail_msg("lavapipe: %s", err.message);
    /* the dual form on the reference's proxies (X and Y overlap) */
    double *Z = test_data_load("Z_all.npy", NPY_F8, (uint64_t)(T + 1) * D);
    assert_non_null(Z);
    assert_gpu_equals_host(&vk, Z, Z + D, T, D, 1e-3);
    free(Z);
    /* the primal form (T >= D) with X and Y apart; sizes that leave partial tiles */
    const uint32_t t = 150, d = 70;
    double *X = malloc(sizeof(double) * t * d), *Y = malloc(sizeof(double) * t * d);
    assert_non_null(X);
    assert_non_null(Y);
    for (uint32_t r = 0; r < t; r++)
        for (uint32_t c = 0; c < d; c++) {
            X[r * d + c] = sin(0.3 + 1.7 * r + 0.61 * c * c) + 0.1 * cos(0.2 * r * c);
            Y[r * d + c] = cos(0.9 * r - 0.37 * c) * X[r * d + c];
        }
    assert_gpu_equals_host(&vk, X, Y, t, d, 1e-6);
    /* a singular normal matrix without ridge is refused on the GPU path too */
    for (uint32_t r = 0; r < t; r++)
        X[r * d + 5] = 0;
    double *A = malloc(sizeof(double) * d * d);
    assert_non_null(A);
    struct ridge_report rep;
    assert_int_equal(ridge_fit(X, Y, t, d, 0, 0, &vk, A, &rep, &err), -1);
    assert_string_equal(err.field, "ridge");
    free(A);
    free(X);
    free(Y);
    vk_runtime_close(&vk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_on_Z_all_matches_A),
        cmocka_unit_test(test_known_operator_is_recovered),
        cmocka_unit_test(test_gpu_fit_equals_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
