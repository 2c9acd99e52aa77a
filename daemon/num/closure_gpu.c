/* SPDX-License-Identifier: MIT */
/* GPU closure passes of closure_gpu.h. */
#include "closure_gpu.h"

#include <stdlib.h>

#define TILE 16u

struct closure_push {
    uint32_t n, op, level, eta, in_off, out_off, cnt_base, part_off, field_off;
    uint32_t f_carrier, f_cnt, f_part, f_field;
};
struct reduce_push {
    uint32_t count, stride, base, dst, op, fpart, fres;
};

struct closure_gpu {
    struct vk_runtime *vk;
    uint32_t n;
    const struct vk_kernel *k_pass, *k_reduce;
    VkDescriptorSet ds_pass, ds_reduce;
    bool have_pass, have_reduce;
};

uint32_t closure_gpu_groups(uint32_t n)
{
    uint32_t g = (n + TILE - 1) / TILE;
    return g * g;
}

int closure_gpu_create(struct vk_runtime *vk, uint32_t n, const struct vk_buffer *carrier,
                       const struct vk_buffer *field, const struct vk_buffer *counters,
                       const struct vk_buffer *partials, const struct vk_buffer *results, struct closure_gpu **out,
                       struct dashi_error *err)
{
    struct closure_gpu *cg = calloc(1, sizeof *cg);
    if (!cg)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    cg->vk = vk;
    cg->n = n;
    const struct vk_buffer *pass[] = {carrier, field, counters, partials};
    const struct vk_buffer *red[] = {partials, results};
    if (vk_kernel_get(vk, "closure", 4, sizeof(struct closure_push), NULL, 0, &cg->k_pass, err) != 0 ||
        vk_kernel_get(vk, "dashi_reduce", 2, sizeof(struct reduce_push), NULL, 0, &cg->k_reduce, err) != 0 ||
        vk_descriptor_set(vk, cg->k_pass, pass, &cg->ds_pass, err) != 0) {
        closure_gpu_destroy(cg);
        return -1;
    }
    cg->have_pass = true;
    if (vk_descriptor_set(vk, cg->k_reduce, red, &cg->ds_reduce, err) != 0) {
        closure_gpu_destroy(cg);
        return -1;
    }
    cg->have_reduce = true;
    *out = cg;
    return 0;
}

void closure_gpu_destroy(struct closure_gpu *cg)
{
    if (!cg)
        return;
    if (cg->have_pass)
        vk_descriptor_set_free(cg->vk, cg->ds_pass);
    if (cg->have_reduce)
        vk_descriptor_set_free(cg->vk, cg->ds_reduce);
    free(cg);
}

void closure_gpu_record(struct closure_gpu *cg, struct vk_cmd *c, const struct closure_record *r)
{
    uint32_t n = cg->n, nn = n * n, g = (n + TILE - 1) / TILE, groups = g * g;
    uint32_t frames = r->frames ? r->frames : 1;
    vk_cmd_barrier(c);
    for (uint32_t level = 0; level <= r->levels; level++) {
        uint32_t in = level == 0 ? 0 : (level - 1) % 2, outp = level % 2;
        struct closure_push p = {n, level == 0 ? CLOSURE_OP_STATS : (uint32_t)r->op, level, r->eta, in * nn,
                                 outp * nn, r->cnt_base, r->part_off + level * groups, r->field_off,
                                 r->f_carrier, r->f_cnt, r->f_part, r->f_field};
        vk_cmd_dispatch(c, cg->k_pass, cg->ds_pass, &p, g, g, frames);
        vk_cmd_barrier(c);
    }
    struct reduce_push rp = {groups, groups, r->part_off, r->res_off, 0, r->f_part, r->f_res};
    vk_cmd_dispatch(c, cg->k_reduce, cg->ds_reduce, &rp, r->levels + 1, frames, 1);
    vk_cmd_barrier(c);
}
