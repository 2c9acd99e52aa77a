/* SPDX-License-Identifier: MIT */
/* The signed-filament closure (docs/numerics.md "Closure") and the reference's sign-of-sum saturate
 * (docs/numerics.md "Encode and train"), on the host: the documented reference and the oracle of the GPU kernels
 * (closure_gpu.h). A carrier is an n×n periodic field of int8 in {-1, 0, +1}.
 *
 * Closure: s_{k+1} = M_eta(K_ann(s_k)) until a fixed point. K_ann zeroes a supported
 * site whose 3×3 neighbourhood (centre included) holds both signs; M_eta keeps a
 * supported site as sign(sum of its 3×3) when |sum| >= eta, else zeroes it. Both only
 * remove support, so the iteration terminates. Level 0 is the thresholded carrier;
 * level k the carrier after k passes; the depth K is the number of passes that changed
 * something (s_K is the fixed point). */
#ifndef DASHI_CLOSURE_H
#define DASHI_CLOSURE_H

#include <stddef.h>
#include <stdint.h>

#define CLOSURE_ETA 3
#define SATURATE_PASSES 8

/* One level's statistics. */
struct closure_level {
    uint64_t active;   /* supported cells */
    uint64_t killed;   /* cells supported at the previous level and not at this one */
    int64_t balance;   /* sum of signs: (#+1) - (#-1) */
    double abs_sum;    /* sum of |field| over the support (mean = abs_sum / active) */
};

/* Derived values of a level: mean |field| on the support and coherence |balance|/active
 * (0 when nothing is active). */
double closure_level_mean_abs(const struct closure_level *l);
double closure_level_coherence(const struct closure_level *l);

/* ternary(x, tau): +1 if x >= tau, -1 if x <= -tau, else 0. */
void carrier_ternary(const double *x, size_t count, double tau, int8_t *s);

/* The reference saturate: up to max_passes of periodic 3×3 sign-of-sum (0 on a tie),
 * stopping early at a fixed point; tmp has n*n entries. Returns the passes that changed
 * the carrier. */
int carrier_saturate(int8_t *s, uint32_t n, int max_passes, int8_t *tmp);

/* One closure pass each (out must not alias s). */
void closure_annihilate(const int8_t *s, uint32_t n, int8_t *out);
void closure_persist(const int8_t *s, uint32_t n, int eta, int8_t *out);

/* Iterates the closure in place until a fixed point or max_levels passes. levels (may be
 * NULL) receives levels 0..min(depth, max_levels) (room for max_levels + 1), with
 * abs_sum taken over `field` (may be NULL: abs_sum 0). Returns the depth K, or
 * max_levels + 1 when no fixed point was reached within max_levels passes. tmp has
 * 2*n*n entries. */
int closure_run(int8_t *s, uint32_t n, int eta, const double *field, int max_levels, struct closure_level *levels,
                int8_t *tmp);

/* The statistics of one carrier against its predecessor (prev may be NULL: killed 0). */
struct closure_level closure_level_of(const int8_t *s, const int8_t *prev, uint32_t n, const double *field);

#endif
