/* SPDX-License-Identifier: MIT */
/* The rollout engine: z_{t+1} = z_t · A for B trajectories at once (row vectors,
 * A is D×D row-major), on the GPU, many steps per submission. Knows nothing of jobs;
 * the rollout job (job_rollout.c) drives it slice by slice.
 *
 * Exact mode fixes the summation order of every output element (documented in
 * docs/numerics.md and reproduced by rollout_ref_step) and marks the arithmetic
 * `precise`, so results are bit-identical on every Vulkan device and to the C loop.
 * Fast mode may use any order; it is still deterministic run to run on one device.
 * The plain C loop of exact mode is rollout_ref.h; the state hash zhash.h; the tuning
 * knobs rollout_tuning.h. */
#ifndef DASHI_ROLLOUT_GPU_H
#define DASHI_ROLLOUT_GPU_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "rollout_config.h"
#include "vk.h"

struct rollout_gpu;

/* Device bytes the engine will allocate for this configuration. */
uint64_t rollout_gpu_memory_estimate(const struct rollout_config *cfg);

/* A: D×D f64 row-major; z0: B×D f64 (converted to f32 on upload in f32 mode). */
int rollout_gpu_create(struct vk_runtime *vk, const struct rollout_config *cfg, const double *A, const double *z0,
                       struct rollout_gpu **out, struct dashi_error *err);
/* As rollout_gpu_create, but z is the state after `step` steps (a checkpoint): the step
 * count, hashes and recordings continue from there exactly as in an unbroken run. */
int rollout_gpu_create_at(struct vk_runtime *vk, const struct rollout_config *cfg, const double *A, const double *z,
                          uint64_t step, struct rollout_gpu **out, struct dashi_error *err);
void rollout_gpu_destroy(struct rollout_gpu *r);

/* Advances n steps (1 <= n <= max_steps_per_run) in one submission. Steps are counted
 * globally from 1. For every step t of this run with t % record_every == 0, the B×D
 * state after step t is written, as f64, to `records` (in order; the caller provides
 * room for n/record_every + 1 states; record_every 0 records nothing).
 * *nrecords = states written. *nonfinite_step = the first global step whose state holds
 * a NaN/Inf (0: none) — detected on the GPU for every step, not only recorded ones.
 * *gpu_ms = GPU time of the steps from timestamps (negative if unsupported). */
int rollout_gpu_run(struct rollout_gpu *r, uint32_t n, uint64_t record_every, double *records, uint32_t *nrecords,
                    uint64_t *nonfinite_step, double *gpu_ms, struct dashi_error *err);
/* Steps done so far. */
uint64_t rollout_gpu_steps(const struct rollout_gpu *r);
/* True while the engine runs many steps per dispatch (the persistent kernel; see
 * rollout_gpu.c for when it is chosen and how it falls back), false for one dispatch
 * per step. The results are the same either way. */
bool rollout_gpu_persistent(const struct rollout_gpu *r);
/* How the products are computed: "f64" or "f32" (IEEE arithmetic in the configured
 * precision), "split-int8-matrix" (fast f64 batches: the split product on int8
 * cooperative matrices, rollout_split.h) or "split-int8" (the same on the portable
 * integer kernel). */
const char *rollout_gpu_arithmetic(const struct rollout_gpu *r);
/* Steps computed together from one state (blocks of steps, rollout_block.h); 1 when
 * the engine goes step by step. */
uint32_t rollout_gpu_block_steps(const struct rollout_gpu *r);
/* Steps for the next run to take about target_ms, runs so far having taken ms_per_step
 * (> 0) each step: `current` while it is within [1/2, 5/4] of that (each distinct run
 * length records its own command buffer, so it should not change with every small
 * variation of the measured time), else the target; whole blocks where the engine
 * computes blocks of steps, 1 <= steps <= max_steps_per_run. */
uint32_t rollout_gpu_run_steps(const struct rollout_gpu *r, uint32_t current, double ms_per_step, double target_ms);
/* Digits per value of the split product; 0 for IEEE arithmetic. */
uint32_t rollout_gpu_split_digits(const struct rollout_gpu *r);
/* Current state, B×D f64. */
int rollout_gpu_read_state(struct rollout_gpu *r, double *z, struct dashi_error *err);

#endif
