/* SPDX-License-Identifier: MIT */
/* lowpass_disc (daemon/num/lowpass.h) on fields built from known Fourier modes: the modes on
 * the disc |m| ≤ K come back exactly (to rounding), those off it vanish, at the edge of
 * the disc, with mixed-sign wavevectors, and when n/2 − 1 caps K. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lowpass.h"

struct mode {
    int mx, my;
    double amp, phase;
};

/* f(i, j) = Σ amp·cos(2π(mx·j + my·i)/n + phase) over the modes, or over those with
 * mx² + my² ≤ kcap² when kcap ≥ 0. */
static void paint(double *f, uint32_t n, const struct mode *m, size_t count, int kcap)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double v = 0;
            for (size_t t = 0; t < count; t++) {
                if (kcap >= 0 && m[t].mx * m[t].mx + m[t].my * m[t].my > kcap * kcap)
                    continue;
                v += m[t].amp * cos(2 * M_PI * (m[t].mx * (double)j + m[t].my * (double)i) / n + m[t].phase);
            }
            f[(size_t)i * n + j] = v;
        }
}

static double max_diff(const double *a, const double *b, size_t count)
{
    double d = 0;
    for (size_t k = 0; k < count; k++)
        d = fmax(d, fabs(a[k] - b[k]));
    return d;
}

static void keeps_the_disc(void **state)
{
    (void)state;
    const uint32_t n = 48;
    const struct mode modes[] = {{0, 0, 0.7, 0},   {3, -4, 1.0, 0.3}, {8, 0, 0.5, 1.1}, {0, -8, 0.25, 2.0},
                                 {6, 6, 2.0, 0.4}, {1, 9, 1.5, -0.7}, {20, 3, 3.0, 0},  {-5, 7, 0.9, 0.2}};
    size_t count = sizeof modes / sizeof modes[0];
    double *f = malloc(n * n * sizeof *f), *want = malloc(n * n * sizeof *want), *got = malloc(n * n * sizeof *got);
    paint(f, n, modes, count, -1);
    paint(want, n, modes, count, 8);
    struct dashi_error err;
    assert_int_equal(lowpass_disc(f, n, 8, got, &err), 0);
    assert_true(max_diff(got, want, (size_t)n * n) < 1e-12);
    /* K 0 keeps the mean only */
    assert_int_equal(lowpass_disc(f, n, 0, got, &err), 0);
    for (size_t k = 0; k < (size_t)n * n; k++)
        assert_true(fabs(got[k] - 0.7) < 1e-12);
    free(f), free(want), free(got);
}

static void caps_below_nyquist(void **state)
{
    (void)state;
    const uint32_t n = 16; /* K = min(8, 7): the Nyquist mode 8 is not kept */
    const struct mode modes[] = {{7, 0, 1.0, 0.2}, {8, 0, 1.0, 0}, {0, 8, 0.5, 0}, {2, 2, 0.3, 1.0}};
    double f[16 * 16], want[16 * 16], got[16 * 16];
    paint(f, n, modes, 4, -1);
    paint(want, n, modes, 4, 7);
    struct dashi_error err;
    assert_int_equal(lowpass_disc(f, n, 8, got, &err), 0);
    assert_true(max_diff(got, want, (size_t)n * n) < 1e-12);
    assert_int_equal(lowpass_disc(f, n, -1, got, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keeps_the_disc),
        cmocka_unit_test(caps_below_nyquist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
