/* SPDX-License-Identifier: MIT */
/* Track-mode atoms on the GPU (docs/numerics.md "Atoms on the GPU"): for a batch of frames ω (n×n
 * each), the closed carrier (detail, PDA threshold, closure to its fixed point), the 8-connected
 * same-sign periodic components, and per atom Γ, σ, centroid, second moments and cells,
 * giving struct atom_frame exactly as atoms_extract(atoms_closed_carrier(ω)) does
 * (docs/numerics.md, "Atoms on the GPU", says how and to what precision).
 *
 * Kernels: shaders/encode_smooth.comp and encode_maxabs.comp (the detail, shared with the
 * encoder), shaders/closure.comp (closure_gpu.h), shaders/atoms_*.comp (threshold,
 * labelling, ids, reductions). Per batch one submission normally; more when the closure
 * or the labelling needed more passes than were recorded (then they are recorded and
 * the batch finished again).
 *
 * Usage: write up to atoms_gpu_batch() frames into atoms_gpu_frame(ag, b), then
 * atoms_gpu_run. Needs shaderBufferInt64Atomics (E_NO_GPU without). */
#ifndef DASHI_ATOMS_GPU_H
#define DASHI_ATOMS_GPU_H

#include <stdint.h>

#include "atoms.h"
#include "errors.h"
#include "vk.h"

struct atoms_gpu;

/* Where the time of the last atoms_gpu_run went. GPU stages from timestamps (summed
 * over its submissions; 0 when the queue has no timestamps). */
enum atoms_gpu_stage {
    ATOMS_GPU_UPLOAD,   /* frames to the device */
    ATOMS_GPU_DETAIL,   /* smoothing, max |R|, threshold */
    ATOMS_GPU_CLOSURE,  /* closure passes */
    ATOMS_GPU_LABEL,    /* labelling iterations */
    ATOMS_GPU_REDUCE,   /* ids, reductions, copies to the host */
    ATOMS_GPU_STAGES
};
struct atoms_gpu_stats {
    double gpu_ms[ATOMS_GPU_STAGES];
    double wall_ms;        /* of the whole call */
    double finish_ms;      /* host: records to atom frames (sort, labels, winding atoms) */
    uint32_t frames, submits;
    uint32_t closure_levels; /* closure passes recorded (all submissions) */
    uint32_t label_iters;    /* labelling iterations recorded */
    uint32_t winding;        /* atoms that wind around the torus (measured by the host walk) */
};

/* The batch this device and grid side get by default (frames per submission). */
uint32_t atoms_gpu_default_batch(uint32_t n);
/* Device and host-visible bytes atoms_gpu_create allocates for (n, batch). */
uint64_t atoms_gpu_bytes(uint32_t n, uint32_t batch);
/* What atoms_gpu_create(vk, n, atoms_gpu_default_batch(n)) allocates on this device: 0 when
 * it cannot run there (no 64-bit buffer atomics, buffers past the storage-buffer range), so
 * a job knows its estimate before starting; vk NULL: as atoms_gpu_bytes. */
uint64_t atoms_gpu_bytes_on(const struct vk_runtime *vk, uint32_t n);

/* n in [4, 4096]; batch ≥ 1 (lowered when a buffer would exceed the device's storage-
 * buffer range); tau the threshold of the normalised detail, in (0, 1]. */
int atoms_gpu_create(struct vk_runtime *vk, uint32_t n, uint32_t batch, double tau, struct atoms_gpu **out,
                     struct dashi_error *err);
void atoms_gpu_destroy(struct atoms_gpu *ag); /* NULL is fine */

uint32_t atoms_gpu_batch(const struct atoms_gpu *ag);
/* Frame slot b (< batch) of the staging buffer: n*n doubles, write ω there. */
double *atoms_gpu_frame(struct atoms_gpu *ag, uint32_t b);

/* Atoms of the first `count` frames in the slots: frames[b] as atoms_extract fills it
 * (free each with atom_frame_free) and depths[b] the closure depth (may be NULL). */
int atoms_gpu_run(struct atoms_gpu *ag, uint32_t count, struct atom_frame *frames, int *depths,
                  struct dashi_error *err);

/* The same from given carriers (count n*n int8 planes in {-1, 0, 1}) instead of ω's
 * closed carrier: the labelling and reductions alone (tests). Any carrier with at most
 * n²/8 + 1 atoms per frame, else E_BAD_VALUE; every closed carrier qualifies (its atoms
 * have ≥ 3 cells and no two touch, so their 2×2 dilations, ≥ 8 cells each, are disjoint). */
int atoms_gpu_run_carriers(struct atoms_gpu *ag, uint32_t count, const int8_t *carriers, struct atom_frame *frames,
                           struct dashi_error *err);

const struct atoms_gpu_stats *atoms_gpu_last_stats(const struct atoms_gpu *ag);

/* Closure passes and labelling iterations the next batch records in its first submission
 * (then adapted to what each batch needed; more are recorded when they do not suffice).
 * levels is rounded up to an even number in [2, 64], iters to [1, 64]. For tests and
 * benchmarks: the results never depend on it. */
void atoms_gpu_set_first(struct atoms_gpu *ag, uint32_t levels, uint32_t iters);

#endif
