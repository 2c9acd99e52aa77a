/* SPDX-License-Identifier: MIT */
/* The annihilation trace of the closure (docs/numerics.md "Filament survival"): the filaments of
 * the thresholded carrier s_0 (8-connected same-sign periodic components, labelled as atoms are,
 * atoms.h) followed through the closure's passes (closure.h). A filament is alive at level k
 * while one of its sites is supported in s_k; it is annihilated at the level whose pass removes
 * its last site, and it survives when it still has a site at the fixed point s_K.
 *
 * Bounded: the labels and the per-filament site counts are O(n²), like the carrier; only counts
 * leave (no per-filament rows). Levels past CLOSURE_TRACE_LEVELS are counted in the depth, the
 * survivors and the mean level, but their alive counts are not kept. Deterministic: a fixed walk,
 * no threads. */
#ifndef DASHI_CLOSURE_TRACE_H
#define DASHI_CLOSURE_TRACE_H

#include <stdint.h>

#include "errors.h"

#define CLOSURE_TRACE_LEVELS 16

struct closure_trace {
    int depth;          /* the closure depth K, as closure_run counts it */
    uint64_t born;      /* filaments of s_0 */
    uint64_t survived;  /* filaments with a site at the fixed point */
    uint64_t level_sum; /* Σ annihilation level over the annihilated filaments */
    uint64_t alive[CLOSURE_TRACE_LEVELS + 1]; /* alive at level k; for k > depth, the survivors */
};

/* Closes s (n×n, values in {-1, 0, +1}) in place to its fixed point as closure_run(s, n, eta,
 * NULL, max_levels, ...) does and fills *t. E_INTERNAL when no fixed point is reached within
 * max_levels passes; E_BAD_VALUE for a value outside {-1, 0, 1}. */
int closure_trace_run(int8_t *s, uint32_t n, int eta, int max_levels, struct closure_trace *t,
                      struct dashi_error *err);

/* Adds b's counts into a (the depth becomes the larger one): a trace pooled over frames. */
void closure_trace_add(struct closure_trace *a, const struct closure_trace *b);

/* Mean annihilation level over the annihilated filaments (0 when none was annihilated). */
double closure_trace_mean_level(const struct closure_trace *t);
/* Alive filaments at level k over those born (1 when none was born: nothing died). */
double closure_trace_alive_fraction(const struct closure_trace *t, int k);

#endif
