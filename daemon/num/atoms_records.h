/* SPDX-License-Identifier: MIT */
/* The host end of atoms_gpu.c: the per-atom records the GPU reduction reads back, turned
 * into a struct atom_frame (atoms.h) in the host's order. Separate from the GPU code so
 * that the arithmetic on the records can be read (and tested) on its own. */
#ifndef DASHI_ATOMS_RECORDS_H
#define DASHI_ATOMS_RECORDS_H

#include <stdint.h>

#include "atoms.h"
#include "errors.h"

/* One atom as shaders/atoms_common.glsl lays it out (AtomRec, std430). */
struct atoms_gpu_rec {
    uint32_t seed;
    int32_t sigma;
    uint32_t cells;
    uint32_t umax;
    uint32_t flags;   /* ATOMS_GPU_WINDS */
    int32_t k;        /* limb split */
    int32_t q[3];     /* class scale exponents */
    uint32_t pad;
    uint64_t maxw;    /* bits of max |ω| */
    int64_t acc[14];  /* (hi, lo) of Σω, Σw, Σw·u, Σw·v, Σw·du², Σw·dv², Σw·du·dv */
    double mu_u, mu_v;
};
#define ATOMS_GPU_WINDS 1u

/* A slot's fixed-point sum (hi·2^k + lo)·2^-q as the double nearest to it (exact
 * integer arithmetic in 128 bits, one rounding). */
double atoms_gpu_rec_sum(const struct atoms_gpu_rec *r, int slot);

/* frame from `count` records (slot order = flat order of the seeds) and slot_labels (n×n:
 * the slot of each cell, -1 off the support). Atoms flagged as winding around the torus
 * are measured again by atoms_extract's walk on omega (their centroid depends on the
 * walk), so the frame equals the host's; *winding (may be NULL) gets their number. */
int atoms_gpu_finish_frame(const struct atoms_gpu_rec *recs, uint32_t count, const int32_t *slot_labels,
                           const double *omega, uint32_t n, double box, struct atom_frame *frame, uint32_t *winding,
                           struct dashi_error *err);

#endif
