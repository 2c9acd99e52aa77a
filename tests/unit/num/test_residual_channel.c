/* SPDX-License-Identifier: MIT */
/* The residual channel of the fidelity slider (daemon/num/residual_channel.h): the start
 * field's error is non-increasing in the fidelity and vanishes at 1 (power-of-two and other
 * sizes); a same-|k| field (a steady Euler solution) stays put; and at fidelity 1 the whole
 * field (atoms + channel) evolves the same whatever the atoms do, since the channel takes
 * what the vorticity equation asks beyond their motion. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "residual_channel.h"

#define BOX (2 * M_PI)

static uint64_t next_rand(uint64_t *x) /* splitmix64 */
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unit_rand(uint64_t *x) { return (double)(next_rand(x) >> 11) * (1.0 / 9007199254740992.0); }

/* A field of `count` random modes |m| ≤ 5 on an n×n grid. */
static void random_field(uint64_t *rng, uint32_t n, int count, double *f)
{
    memset(f, 0, (size_t)n * n * sizeof *f);
    for (int q = 0; q < count; q++) {
        int mx = (int)(next_rand(rng) % 11) - 5, my = (int)(next_rand(rng) % 11) - 5;
        double amp = 2 * unit_rand(rng) - 1, ph = 2 * M_PI * unit_rand(rng);
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t j = 0; j < n; j++)
                f[(size_t)i * n + j] += amp * cos(2 * M_PI * (mx * (double)j + my * (double)i) / n + ph);
    }
}

/* A periodic Gaussian blob of radius 0.5 at (x, y), its grid samples added to f. */
static void add_blob(uint32_t n, double x, double y, double q, double *f)
{
    double dx = BOX / n;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double ux = remainder(j * dx - x, BOX), uy = remainder(i * dx - y, BOX);
            f[(size_t)i * n + j] += q * exp(-(ux * ux + uy * uy) / (2 * 0.25));
        }
}

static double rel_diff(const double *a, const double *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t k = 0; k < n; k++)
        d += (a[k] - b[k]) * (a[k] - b[k]), s += b[k] * b[k];
    return sqrt(d / s);
}

/* The channel's field alone (zero plus the channel). */
static void channel_field(struct residual_channel *c, uint32_t n, double *out)
{
    memset(out, 0, (size_t)n * n * sizeof *out);
    residual_channel_add(c, out);
}

static void monotone_and_exact_at_one(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {16, 12}; /* a power of two and not: FFTW plans both */
    uint64_t rng = 7;
    for (size_t si = 0; si < 2; si++) {
        uint32_t n = sizes[si];
        size_t nn = (size_t)n * n;
        double *f = malloc(nn * sizeof *f), *got = malloc(nn * sizeof *got);
        assert_non_null(f && got);
        for (size_t k = 0; k < nn; k++) /* white noise: every mode carries energy */
            f[k] = 2 * unit_rand(&rng) - 1;
        double prev = INFINITY;
        size_t prev_modes = 0;
        for (int s = 0; s <= 10; s++) {
            struct residual_channel *c;
            struct dashi_error err;
            assert_int_equal(residual_channel_create(f, n, BOX, s / 10.0, &c, &err), 0);
            channel_field(c, n, got);
            double e = rel_diff(got, f, nn);
            assert_true(e <= prev + 1e-15);
            assert_true(residual_channel_modes(c) >= prev_modes);
            if (s == 0)
                assert_true(fabs(e - 1) < 1e-15 && residual_channel_modes(c) == 0);
            if (s == 10)
                assert_true(e < 1e-13 && residual_channel_modes(c) == nn);
            if (s == 5)
                assert_true(e > 0.1 && e < 0.9); /* a real trade-off in between */
            prev = e, prev_modes = residual_channel_modes(c);
            residual_channel_destroy(c);
        }
        free(f), free(got);
    }
    struct residual_channel *c;
    struct dashi_error err;
    double z[4] = {0};
    assert_int_equal(residual_channel_create(z, 2, BOX, 1.5, &c, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
}

static void same_wavenumber_field_is_steady(void **state)
{
    (void)state;
    uint32_t n = 32;
    size_t nn = (size_t)n * n;
    double *f = malloc(nn * sizeof *f), *got = malloc(nn * sizeof *got), *zero = calloc(nn, sizeof *zero);
    assert_non_null(f && got && zero);
    for (uint32_t i = 0; i < n; i++) /* |m|² = 25: (3, 4), (5, 0), (4, −3) */
        for (uint32_t j = 0; j < n; j++) {
            double x = j * BOX / n, y = i * BOX / n;
            f[(size_t)i * n + j] = cos(3 * x + 4 * y) + 0.7 * sin(5 * x) + 0.4 * cos(4 * x - 3 * y + 1);
        }
    struct residual_channel *c;
    struct dashi_error err;
    assert_int_equal(residual_channel_create(f, n, BOX, 1, &c, &err), 0);
    assert_int_equal(residual_channel_advect(c, zero, zero, 1.0, 8, &err), 0);
    channel_field(c, n, got);
    assert_true(rel_diff(got, f, nn) < 1e-11);
    residual_channel_destroy(c);
    free(f), free(got), free(zero);
}

/* (a) no atoms, the channel holds ω0; (b) atoms A0 → A1 (a blob moved), the channel holds
 * ω0 − A0. At fidelity 1 A1 + channel(b) equals channel(a): RK4 on r' = N(A + r) − Ȧ with
 * A linear in time is RK4 on ω' = N(ω), stage by stage. */
static void whole_field_independent_of_the_atoms(void **state)
{
    (void)state;
    uint32_t n = 16;
    size_t nn = (size_t)n * n;
    uint64_t rng = 11;
    double *w0 = malloc(nn * sizeof *w0), *a0 = calloc(nn, sizeof *a0), *a1 = calloc(nn, sizeof *a1);
    double *zero = calloc(nn, sizeof *zero), *ra = malloc(nn * sizeof *ra), *rb = malloc(nn * sizeof *rb);
    assert_non_null(w0 && a0 && a1 && zero && ra && rb);
    random_field(&rng, n, 6, w0);
    add_blob(n, 1.0, 2.0, 2.0, w0);
    add_blob(n, 1.0, 2.0, 2.0, a0);
    add_blob(n, 1.3, 2.2, 2.0, a1);
    double *start_b = malloc(nn * sizeof *start_b);
    assert_non_null(start_b);
    for (size_t k = 0; k < nn; k++)
        start_b[k] = w0[k] - a0[k];
    struct residual_channel *ca, *cb;
    struct dashi_error err;
    assert_int_equal(residual_channel_create(w0, n, BOX, 1, &ca, &err), 0);
    assert_int_equal(residual_channel_create(start_b, n, BOX, 1, &cb, &err), 0);
    /* enough substeps that neither run asks for more (the counts must be equal) */
    assert_int_equal(residual_channel_advect(ca, zero, zero, 0.5, 200, &err), 0);
    assert_int_equal(residual_channel_advect(cb, a0, a1, 0.5, 200, &err), 0);
    channel_field(ca, n, ra);
    memcpy(rb, a1, nn * sizeof *rb);
    residual_channel_add(cb, rb);
    assert_true(rel_diff(ra, w0, nn) > 1e-2); /* the field did move */
    assert_true(rel_diff(rb, ra, nn) < 1e-11);
    residual_channel_destroy(ca);
    residual_channel_destroy(cb);
    free(w0), free(a0), free(a1), free(zero), free(ra), free(rb), free(start_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(monotone_and_exact_at_one),
        cmocka_unit_test(same_wavenumber_field_is_steady),
        cmocka_unit_test(whole_field_independent_of_the_atoms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
