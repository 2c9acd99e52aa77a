/* SPDX-License-Identifier: MIT */
#include "ic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* MT19937 constants (Matsumoto & Nishimura 1998). */
#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

void legacy_rng_seed(struct legacy_rng *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (int i = 1; i < MT19937_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->pos = MT19937_N;
    r->has_gauss = false;
    r->gauss = 0.0;
}

static void mt_regenerate(struct legacy_rng *r)
{
    for (int i = 0; i < MT19937_N; i++) {
        uint32_t y = (r->mt[i] & MT_UPPER) | (r->mt[(i + 1) % MT19937_N] & MT_LOWER);
        r->mt[i] = r->mt[(i + MT_M) % MT19937_N] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    }
    r->pos = 0;
}

uint32_t legacy_rng_u32(struct legacy_rng *r)
{
    if (r->pos >= MT19937_N)
        mt_regenerate(r);
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double legacy_rng_double(struct legacy_rng *r)
{
    uint32_t a = legacy_rng_u32(r) >> 5, b = legacy_rng_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

double legacy_rng_gauss(struct legacy_rng *r)
{
    if (r->has_gauss) {
        r->has_gauss = false;
        return r->gauss;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * legacy_rng_double(r) - 1.0;
        x2 = 2.0 * legacy_rng_double(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    r->gauss = f * x1;
    r->has_gauss = true;
    return f * x2;
}

/* One zero-padded box pass over `count` lines of length n; element m of line l is
 * at src[l * line_stride + m * elem_stride]. */
static void box_pass(const double *src, double *dst, size_t n, size_t count, size_t line_stride,
                     size_t elem_stride, int k)
{
    long half = k / 2;
    for (size_t l = 0; l < count; l++) {
        const double *s = src + l * line_stride;
        double *d = dst + l * line_stride;
        for (long i = 0; i < (long)n; i++) {
            long lo = i - half, hi = i + k - 1 - half;
            if (lo < 0)
                lo = 0;
            if (hi > (long)n - 1)
                hi = (long)n - 1;
            double sum = 0.0;
            for (long m = lo; m <= hi; m++)
                sum += s[(size_t)m * elem_stride];
            d[(size_t)i * elem_stride] = sum / (double)k;
        }
    }
}

int smooth2d(const double *a, double *out, size_t n, int k, struct dashi_error *err)
{
    if (n == 0 || k < 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "k", "smooth2d needs n > 0 and k >= 1");
    double *tmp = malloc(n * n * sizeof *tmp);
    if (!tmp)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "N", "out of host memory for a %zux%zu field", n, n);
    box_pass(a, tmp, n, n, n, 1, k);   /* axis 1: along each row */
    box_pass(tmp, out, n, n, 1, n, k); /* axis 0: down each column */
    free(tmp);
    return 0;
}

int les_initial_condition(uint32_t seed, size_t n, double *omega, struct dashi_error *err)
{
    struct legacy_rng *rng = malloc(sizeof *rng);
    if (!rng)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "N", "out of host memory");
    legacy_rng_seed(rng, seed);
    size_t count = n * n;
    for (size_t i = 0; i < count; i++)
        omega[i] = legacy_rng_gauss(rng);
    free(rng);
    if (smooth2d(omega, omega, n, 11, err) != 0)
        return -1;
    double sum = 0.0;
    for (size_t i = 0; i < count; i++)
        sum += omega[i];
    double mean = sum / (double)count;
    double ss = 0.0;
    for (size_t i = 0; i < count; i++)
        ss += (omega[i] - mean) * (omega[i] - mean);
    double sd = sqrt(ss / (double)count);
    for (size_t i = 0; i < count; i++)
        omega[i] = (omega[i] - mean) / (sd + 1e-12);
    return 0;
}
