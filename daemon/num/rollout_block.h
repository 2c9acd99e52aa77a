/* SPDX-License-Identifier: MIT */
/* Blocks of steps for fast batches: with the powers A, A², ..., A^m on the device, the
 * states after 1..mb ≤ m steps all follow from one state in a single wide GEMM,
 *   [z_{t+1} | ... | z_{t+mb}] = z_t · [A | A² | ... | A^mb]
 * (shaders/rollout_tile.comp), instead of mb dependent narrow ones. That is a
 * reassociation of the products ((z·A)·A = z·(A·A)), which fast mode allows: the
 * results differ from step-by-step ones by rounding only (docs/numerics.md, "Blocks of
 * steps"), and are deterministic run to run. It pays where one step's GEMM is too small
 * to fill the GPU and its dispatch and barrier cost as much as its arithmetic.
 *
 * The rollout engine (rollout_gpu.c) owns the buffers: the operator buffer holds the m
 * powers (block i = A^(i+1); the engine uploads A as block 0, rollout_block_create
 * computes the rest), and the state buffer has 2·m slots after the engine's own, two
 * areas that successive blocks write in turn. */
#ifndef DASHI_ROLLOUT_BLOCK_H
#define DASHI_ROLLOUT_BLOCK_H

#include <stdint.h>

#include "errors.h"
#include "rollout_config.h"
#include "vk.h"

struct rollout_block;

/* The most steps per block for this configuration (it sizes the buffers); 1: none (step
 * by step). Blocks are for fast batches (B >= 8) whose run is long enough to repay the
 * powers (at least 8 times their multiply-adds, when cfg->expected_steps is known), with
 * the powers and the areas under 256 MiB each: at most 40 steps, or
 * DASHI_ROLLOUT_BLOCK=m (1..64; cfg->tuning). */
uint32_t rollout_block_steps(const struct rollout_config *cfg);

/* The steps per block to use: at most `most`, and few enough for the powers and the
 * state slots (3 + 2 per step) to fit the device's buffer range `max_range` (bytes;
 * lavapipe: 128 MiB). Then, on a device of `sms` multiprocessors (0: unknown), the block
 * among the 24 longest whose output tiles fill the last wave best, one workgroup per
 * multiprocessor (the default tile's 244 registers per invocation allow no more on the
 * H100): D=654, B=256 on 132 gives 38 steps, 390 tiles in 3 waves. With
 * DASHI_ROLLOUT_BLOCK set, the longest that fits. */
uint32_t rollout_block_fit(const struct rollout_config *cfg, uint32_t most, uint32_t sms, uint64_t max_range);

/* Computes the powers into `powers` (block 0 must hold A) and prepares the kernel.
 * states: slots of B×D elements, areas from slot `first_area`. Returns 1, having built
 * nothing, when a power is not finite: blocks would then overflow where single steps
 * might not, so the engine goes step by step. Tuning: DASHI_ROLLOUT_TILE="BM,BN,RP,CP,BK[,WX]"
 * (cfg->tuning). */
int rollout_block_create(struct vk_runtime *vk, const struct rollout_config *cfg, uint32_t m,
                         const struct vk_buffer *powers, const struct vk_buffer *states,
                         const struct vk_buffer *flags, uint32_t first_area, struct rollout_block **out,
                         struct dashi_error *err);
void rollout_block_destroy(struct rollout_block *bl);

/* Records steps 1..n of a run that starts after `before` steps, its input in slot
 * before&1: the blocks, each followed by a barrier and by copies of the recorded states
 * (global steps divisible by `every`; 0: none) to `readback` from byte `records_at` on,
 * then the last state copied to slot (before+n)&1. Returns the states recorded. */
uint32_t rollout_block_record_run(struct rollout_block *bl, struct vk_cmd *c, uint64_t before, uint32_t n,
                                  uint64_t every, const struct vk_buffer *readback, VkDeviceSize records_at);

#endif
