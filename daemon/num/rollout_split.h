/* SPDX-License-Identifier: MIT */
/* The split product of fast f64 batches: Z · A computed exactly in integers from int8
 * digits of Z and A, on tensor cores where the device has int8 cooperative matrices
 * (docs/numerics.md, "Split product"; shaders/rollout_split.comp). Its result is a
 * function of Z and A only: the same on every device, with either GEMM kernel, and in
 * rollout_split_ref_step. The rollout engine (rollout_gpu.c) owns the state buffers and
 * the command buffers; this records the two dispatches of a step into them. */
#ifndef DASHI_ROLLOUT_SPLIT_H
#define DASHI_ROLLOUT_SPLIT_H

#include <stdint.h>

#include "errors.h"
#include "vk.h"

#define SPLIT_DIGITS 8 /* default digits per value: 56 bits below each row's/column's top */

struct rollout_split;

/* Whether the int32 sums stay exact for D and `digits` (digits · D_pad · 127² < 2^31,
 * D_pad = D rounded up to 32: D up to 16,640 with 8 digits). */
bool rollout_split_exact_for(uint32_t D, uint32_t digits);

/* Bytes of device memory for D, B and `digits`. */
uint64_t rollout_split_memory_estimate(uint32_t D, uint32_t B, uint32_t digits);

/* A: D×D f64 row-major. states/flags: the engine's buffers (rollout_common.glsl). The
 * GEMM runs on int8 cooperative matrices when vk->int8_matrix and `portable` is false,
 * else on the portable kernel. */
int rollout_split_create(struct vk_runtime *vk, uint32_t D, uint32_t B, uint32_t digits, bool portable,
                         const double *A, const struct vk_buffer *states, const struct vk_buffer *flags,
                         struct rollout_split **out, struct dashi_error *err);
void rollout_split_destroy(struct rollout_split *s);

/* Records one step (slice Z's digits, then the product), each followed by a barrier.
 * push: struct {step, src, dst} as rollout_common.glsl. */
void rollout_split_record_step(struct rollout_split *s, struct vk_cmd *c, const void *push);

/* Whether the product runs on cooperative matrices; the digits per value. */
bool rollout_split_on_matrices(const struct rollout_split *s);
uint32_t rollout_split_digits(const struct rollout_split *s);

/* The same arithmetic in C: out = Z · A for B rows, bit for bit the GPU's. */
void rollout_split_ref_step(const double *A, const double *z, double *out, uint32_t D, uint32_t B, uint32_t digits);

#endif
