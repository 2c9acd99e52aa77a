/* SPDX-License-Identifier: MIT */
/* SeedSequence + PCG64 of pcg64.h; constants are numpy's (bit_generator.pyx, pcg64.h). */
#include "pcg64.h"

#define POOL 4
#define INIT_A 0x43b0d7e5u
#define MULT_A 0x931e8875u
#define INIT_B 0x8b51f9ddu
#define MULT_B 0x58f38dedu
#define MIX_L 0xca01f9ddu
#define MIX_R 0x4973f715u

static uint32_t hashmix(uint32_t v, uint32_t *hc)
{
    v ^= *hc;
    *hc *= MULT_A;
    v *= *hc;
    v ^= v >> 16;
    return v;
}

static uint32_t mix(uint32_t x, uint32_t y)
{
    uint32_t r = MIX_L * x - MIX_R * y;
    return r ^ (r >> 16);
}

void seedseq_generate_state(uint64_t seed, uint32_t *out, int n_words)
{
    uint32_t entropy[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int n_entropy = (seed >> 32) ? 2 : 1;
    uint32_t pool[POOL], hc = INIT_A;
    for (int i = 0; i < POOL; i++)
        pool[i] = hashmix(i < n_entropy ? entropy[i] : 0, &hc);
    for (int src = 0; src < POOL; src++)
        for (int dst = 0; dst < POOL; dst++)
            if (src != dst)
                pool[dst] = mix(pool[dst], hashmix(pool[src], &hc));
    /* Entropy beyond the pool size would be mixed in here; two words never exceed it. */
    uint32_t hb = INIT_B;
    for (int i = 0; i < n_words; i++) {
        uint32_t v = pool[i % POOL];
        v ^= hb;
        hb *= MULT_B;
        v *= hb;
        v ^= v >> 16;
        out[i] = v;
    }
}

static const unsigned __int128 PCG_MULT =
    ((unsigned __int128)0x2360ED051FC65DA4ull << 64) | (unsigned __int128)0x4385DF649FCCF645ull;

static void step(struct pcg64 *g) { g->state = g->state * PCG_MULT + g->inc; }

void pcg64_seed(struct pcg64 *g, uint64_t seed)
{
    uint32_t w[8];
    seedseq_generate_state(seed, w, 8);
    uint64_t v[4];
    for (int k = 0; k < 4; k++)
        v[k] = (uint64_t)w[2 * k] | ((uint64_t)w[2 * k + 1] << 32);
    unsigned __int128 initstate = ((unsigned __int128)v[0] << 64) | v[1];
    unsigned __int128 initseq = ((unsigned __int128)v[2] << 64) | v[3];
    g->state = 0;
    g->inc = (initseq << 1) | 1u;
    step(g);
    g->state += initstate;
    step(g);
}

uint64_t pcg64_next(struct pcg64 *g)
{
    step(g);
    uint64_t x = (uint64_t)(g->state >> 64) ^ (uint64_t)g->state;
    unsigned rot = (unsigned)(g->state >> 122);
    return (x >> rot) | (x << ((64u - rot) & 63u));
}

double pcg64_double(struct pcg64 *g) { return (double)(pcg64_next(g) >> 11) * (1.0 / 9007199254740992.0); }

double pcg64_uniform(struct pcg64 *g, double lo, double hi) { return lo + (hi - lo) * pcg64_double(g); }
