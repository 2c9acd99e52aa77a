/* SPDX-License-Identifier: MIT */
/* The closure and the reference saturate (docs/numerics.md "Closure") as GPU passes recorded into a
 * caller's command buffer (shaders/closure.comp), over buffers the caller owns, so a
 * decode can run them between its own kernels without reading anything back.
 *
 * Buffers: carrier, two int32 planes of n*n (plane 0 holds the input; level k is
 * written to plane k % 2); field, doubles (|field| summed over the support per level);
 * counters, uint32 (active, killed, #+1, #-1) per level at cnt_base + 4*level, which
 * must be zero before recording; partials, doubles (one per workgroup per level);
 * results, doubles (the |field| sum of level k lands at res_off + k). */
#ifndef DASHI_CLOSURE_GPU_H
#define DASHI_CLOSURE_GPU_H

#include <stdint.h>

#include "errors.h"
#include "vk.h"

enum closure_op { CLOSURE_OP_STATS = 0, CLOSURE_OP_CLOSURE = 1, CLOSURE_OP_SATURATE = 2 };

struct closure_gpu;

int closure_gpu_create(struct vk_runtime *vk, uint32_t n, const struct vk_buffer *carrier,
                       const struct vk_buffer *field, const struct vk_buffer *counters,
                       const struct vk_buffer *partials, const struct vk_buffer *results, struct closure_gpu **out,
                       struct dashi_error *err);
void closure_gpu_destroy(struct closure_gpu *cg); /* NULL is fine */

/* Partials one level writes (its workgroups). */
uint32_t closure_gpu_groups(uint32_t n);

struct closure_record {
    enum closure_op op;  /* CLOSURE or SATURATE */
    uint32_t levels;     /* passes recorded (levels 1..levels; level 0 is the input) */
    uint32_t eta;        /* persistence threshold (CLOSURE) */
    uint32_t field_off;  /* element offset of the field in its buffer */
    uint32_t cnt_base;   /* element offset of level 0's counters */
    uint32_t part_off;   /* element offset of the partials: (levels+1) * groups of them */
    uint32_t res_off;    /* element offset of the |field| sums: levels+1 of them */
    /* A batch of frames in the same dispatches (0 counts as 1): frame f's carrier planes,
     * counters, partials, field and sums start at f times these strides past frame 0's. */
    uint32_t frames;
    uint32_t f_carrier, f_cnt, f_part, f_field, f_res;
};

/* Records level-0 statistics, the passes and the reduction of the |field| sums, with
 * barriers between them (and one before: the input plane must be written). The result
 * is in plane levels % 2. */
void closure_gpu_record(struct closure_gpu *cg, struct vk_cmd *c, const struct closure_record *r);

#endif
