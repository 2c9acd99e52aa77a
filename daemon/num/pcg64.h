/* SPDX-License-Identifier: MIT */
/* numpy's default_rng, bit for bit: SeedSequence (pool of 4 32-bit words) seeding a
 * PCG64 (128-bit LCG, XSL-RR 128/64 output), and Generator.uniform for doubles
 * (docs/numerics.md "Decode"). The reference decode draws its residual phases from it, so parity with
 * the published numbers depends on every detail here. Host only. */
#ifndef DASHI_PCG64_H
#define DASHI_PCG64_H

#include <stdint.h>

struct pcg64 {
    unsigned __int128 state, inc;
};

/* SeedSequence(seed).generate_state(n_words) as 32-bit words (the entropy is the seed's
 * little-endian 32-bit words, [0] for 0). n_words <= 64. */
void seedseq_generate_state(uint64_t seed, uint32_t *out, int n_words);
/* np.random.default_rng(seed)'s bit generator. */
void pcg64_seed(struct pcg64 *g, uint64_t seed);
uint64_t pcg64_next(struct pcg64 *g);
/* Generator.random(): (next >> 11) * 2^-53, in [0, 1). */
double pcg64_double(struct pcg64 *g);
/* Generator.uniform(lo, hi) = lo + (hi - lo) * random(). */
double pcg64_uniform(struct pcg64 *g, double lo, double hi);

#endif
