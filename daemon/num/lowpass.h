/* SPDX-License-Identifier: MIT */
/* The low-wavenumber part of a periodic field by a direct DFT (evolve mode's background,
 * docs/numerics.md "Evolve mode"). */
#ifndef DASHI_LOWPASS_H
#define DASHI_LOWPASS_H

#include <stdint.h>

#include "errors.h"

/* out = Σ over the integer modes mx² + my² ≤ K² of f's Fourier series (f, out: n×n
 * row-major, axis 0 = y; out may not alias f), K = min(kcut, n/2 − 1) so that no kept mode
 * meets its alias. Separable: O(n²·(2K+1)) work, phases from exact integers (m·j mod n).
 * E_BAD_VALUE for n < 1 or kcut < 0; E_INTERNAL when out of memory. */
int lowpass_disc(const double *f, uint32_t n, int kcut, double *out, struct dashi_error *err);

#endif
