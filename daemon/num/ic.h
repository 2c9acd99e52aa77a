/* SPDX-License-Identifier: MIT */
/* The LES initial condition, computed on the host exactly as the numpy reference does
 * (docs/numerics.md "LES"): legacy MT19937 seeded like np.random.seed, legacy polar Box-Muller
 * normals (np.random.randn), a zero-padded separable box filter, normalisation. */
#ifndef DASHI_IC_H
#define DASHI_IC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#define MT19937_N 624

/* numpy's legacy RandomState: the generator plus the cached second Box-Muller value. */
struct legacy_rng {
    uint32_t mt[MT19937_N];
    int pos;
    bool has_gauss;
    double gauss;
};

/* np.random.seed(seed) for an integer seed (init_genrand). */
void legacy_rng_seed(struct legacy_rng *r, uint32_t seed);
uint32_t legacy_rng_u32(struct legacy_rng *r);
/* 53-bit uniform in [0, 1) from two outputs, as numpy's legacy random_sample. */
double legacy_rng_double(struct legacy_rng *r);
/* One standard normal, polar Box-Muller with the cached second value (legacy_gauss). */
double legacy_rng_gauss(struct legacy_rng *r);

/* Separable box filter of width k along axis 1, then axis 0, zero padded (not periodic):
 * out[i] = (1/k) * sum over m in [i - k/2, i + k - 1 - k/2] within [0, n) of a[m].
 * a and out are n x n row-major; they may be the same array. */
int smooth2d(const double *a, double *out, size_t n, int k, struct dashi_error *err);

/* The LES initial vorticity for `seed` on an n x n grid into omega (n*n doubles):
 * randn(n, n) row-major, smooth2d(., 11), then (w - mean) / (std + 1e-12), std the
 * population standard deviation. */
int les_initial_condition(uint32_t seed, size_t n, double *omega, struct dashi_error *err);

#endif
