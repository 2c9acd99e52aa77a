/* SPDX-License-Identifier: MIT */
/* Blocks of steps for fast batches (rollout_block.h): the powers of A, and the
 * recording of a run as one wide GEMM per block (shaders/rollout_tile.comp). */
#include "rollout_block.h"

#include <stdlib.h>
#include <string.h>

#include "rollout_tuning.h"

#define BLOCK_DEFAULT 40 /* the most steps per block, unless DASHI_ROLLOUT_BLOCK says */
#define BLOCK_MAX 64
#define BLOCK_FIT_RANGE 24 /* rollout_block_fit looks this far below the most */
#define BLOCK_MAX_BYTES ((uint64_t)256 << 20) /* the powers, and the two areas, each */
#define POWERS_PAYBACK 8 /* a run's multiply-adds must be >= 8× the powers' */

struct rollout_block {
    struct vk_runtime *vk;
    uint32_t D, B, m, first_area;
    size_t elem, state_elems;
    uint32_t bm, bn; /* output tile */
    const struct vk_kernel *kernel;
    VkDescriptorSet set;
    const struct vk_buffer *states;
};

/* rollout_tile.comp's push constants. */
struct tile_push {
    uint32_t step, src, dst, ncols;
};

uint32_t rollout_block_steps(const struct rollout_config *cfg)
{
    if (cfg->mode != ROLLOUT_FAST || cfg->B < 8)
        return 1;
    uint64_t elem = cfg->precision == ROLLOUT_F64 ? 8 : 4, D = cfg->D, B = cfg->B;
    uint32_t block = rollout_tuning_or_defaults(cfg->tuning)->block, m = block ? block : BLOCK_DEFAULT;
    if (m > BLOCK_MAX)
        m = BLOCK_MAX;
    if (m > cfg->max_steps_per_run)
        m = cfg->max_steps_per_run;
    uint64_t fit_powers = BLOCK_MAX_BYTES / (D * D * elem), fit_areas = BLOCK_MAX_BYTES / (2 * B * D * elem);
    if (m > fit_powers)
        m = (uint32_t)fit_powers;
    if (m > fit_areas)
        m = (uint32_t)fit_areas;
    if (m < 2)
        return 1;
    /* The powers cost (m-1)·D³ multiply-adds, a step B·D². */
    if (cfg->expected_steps && cfg->expected_steps * B < (uint64_t)POWERS_PAYBACK * (m - 1) * D)
        return 1;
    return m;
}

/* The tile (BM, BN, RP, CP, BK, WX) asked for: 128×128 outputs, 8×8 per invocation, 8 k
 * per stage, invocations in row-major order (the best of the H100 sweep,
 * bench/README.md), or DASHI_ROLLOUT_TILE (WX left out: row-major; else subgroup
 * patches WX wide, rollout_tile.comp). */
#define TILE_PARAMS ROLLOUT_TILE_PARAMS
static void tile_wanted(const struct rollout_tuning *tuning, uint32_t t[TILE_PARAMS])
{
    uint32_t def[TILE_PARAMS] = {128, 128, 4, 4, 8, 0};
    memcpy(t, def, sizeof def);
    memcpy(t, tuning->tile, (size_t)tuning->tile_n * sizeof *t);
}

uint32_t rollout_block_fit(const struct rollout_config *cfg, uint32_t most, uint32_t sms, uint64_t max_range)
{
    uint64_t elem = cfg->precision == ROLLOUT_F64 ? 8 : 4, D = cfg->D, B = cfg->B;
    while (most > 1 && (most * D * D * elem > max_range || (3 + 2 * (uint64_t)most) * B * D * elem > max_range))
        most--;
    const struct rollout_tuning *tuning = rollout_tuning_or_defaults(cfg->tuning);
    if (most <= 1 || sms == 0 || tuning->block)
        return most;
    uint32_t t[TILE_PARAMS];
    tile_wanted(tuning, t);
    uint64_t rows = (cfg->B + t[0] - 1) / t[0];
    uint32_t best = most;
    double best_fill = 0;
    for (uint32_t m = most; m >= 2 && m + BLOCK_FIT_RANGE >= most; m--) {
        uint64_t tiles = rows * (((uint64_t)m * cfg->D + t[1] - 1) / t[1]);
        uint64_t waves = (tiles + sms - 1) / sms;
        double fill = (double)tiles / (double)(waves * sms);
        if (fill > best_fill + 1e-9) { /* ties: the longer block */
            best_fill = fill;
            best = m;
        }
    }
    return best;
}

/* The tile for this device: tile_wanted, if valid, with BK halved until the stages fit
 * in shared memory. */
static int choose_tile(struct vk_runtime *vk, const struct rollout_config *cfg, size_t elem, uint32_t t[TILE_PARAMS],
                       struct dashi_error *err)
{
    tile_wanted(rollout_tuning_or_defaults(cfg->tuning), t);
    for (;;) {
        uint32_t bm = t[0], bn = t[1], rp = t[2], cp = t[3], bk = t[4], wx = t[5];
        bool shape = bm % (2 * rp) == 0 && bn % (2 * cp) == 0;
        uint32_t nx = shape ? bn / (2 * cp) : 0, ny = shape ? bm / (2 * rp) : 0, nt = nx * ny;
        bool patches = wx == 0 || (wx <= 32 && 32 % wx == 0 && nx % wx == 0 && ny % (32 / wx) == 0);
        bool valid = shape && patches && nt <= vk->max_workgroup_size && (bk * bm / 2) % nt == 0 &&
                     (bk * bn / 2) % nt == 0;
        if (!valid)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "rollout tile %u,%u,%u,%u,%u,%u is not valid", bm, bn, rp,
                              cp, bk, wx);
        size_t shared = ((size_t)2 * bk * (bm / 2 + 1) * 2 + (size_t)2 * bk * bn) * elem;
        if (shared <= vk->max_shared_bytes)
            return 0;
        if (bk == 1 || (bk / 2 * bm / 2) % nt != 0 || (bk / 2 * bn / 2) % nt != 0)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "rollout tile %u,%u,%u,%u,%u,%u does not fit this device",
                              bm, bn, rp, cp, bk, wx);
        t[4] /= 2;
    }
}

static int tile_kernel(struct vk_runtime *vk, uint32_t D, uint32_t rows, size_t elem, const uint32_t t[TILE_PARAMS],
                       const struct vk_kernel **out, struct dashi_error *err)
{
    uint32_t nx = t[1] / (2 * t[3]), ny = t[0] / (2 * t[2]);
    uint32_t spec[11] = {D, rows, t[0], t[1], nx, ny, t[4], t[2], t[3], t[5], nx * ny};
    return vk_kernel_get(vk, elem == 8 ? "rollout_tile_f64" : "rollout_tile_f32", 3, sizeof(struct tile_push), spec, 11,
                         out, err);
}

/* Powers 2..m: block i+1 = block i · A, each a D-row product; 1 if one is not finite. */
static int build_powers(struct vk_runtime *vk, uint32_t D, uint32_t m, size_t elem, const uint32_t t[TILE_PARAMS],
                        const struct vk_buffer *powers, const struct vk_buffer *flags, struct dashi_error *err)
{
    const struct vk_kernel *k;
    if (tile_kernel(vk, D, D, elem, t, &k, err) != 0)
        return -1;
    const struct vk_buffer *bufs[3] = {powers, powers, flags};
    VkDescriptorSet set;
    if (vk_descriptor_set(vk, k, bufs, &set, err) != 0)
        return -1;
    struct vk_cmd c = {0};
    int rc = vk_cmd_create(vk, &c, err);
    if (rc == 0)
        rc = vk_cmd_begin(vk, &c, err);
    if (rc == 0) {
        vkCmdFillBuffer(c.cb, flags->buffer, flags->offset, 4, 0xFFFFFFFFu);
        vk_cmd_barrier(&c);
        uint32_t gx = (D + t[0] - 1) / t[0], gy = (D + t[1] - 1) / t[1];
        for (uint32_t i = 0; i + 1 < m; i++) {
            uint64_t block = (uint64_t)D * D;
            struct tile_push push = {.step = 1, .src = (uint32_t)(i * block), .dst = (uint32_t)((i + 1) * block),
                                     .ncols = D};
            vk_cmd_dispatch(&c, k, set, &push, gx, gy, 1);
            vk_cmd_barrier(&c);
        }
        rc = vk_cmd_submit_wait(vk, &c, err);
    }
    uint32_t bad = 0;
    if (rc == 0)
        rc = vk_download(vk, flags, 0, &bad, 4, err);
    if (c.cb)
        vk_cmd_destroy(vk, &c);
    vk_descriptor_set_free(vk, set);
    if (rc != 0)
        return -1;
    return bad == 0xFFFFFFFFu ? 0 : 1;
}

int rollout_block_create(struct vk_runtime *vk, const struct rollout_config *cfg, uint32_t m,
                         const struct vk_buffer *powers, const struct vk_buffer *states,
                         const struct vk_buffer *flags, uint32_t first_area, struct rollout_block **out,
                         struct dashi_error *err)
{
    *out = NULL;
    size_t elem = cfg->precision == ROLLOUT_F64 ? 8 : 4;
    uint32_t t[TILE_PARAMS];
    if (choose_tile(vk, cfg, elem, t, err) != 0)
        return -1;
    int rc = build_powers(vk, cfg->D, m, elem, t, powers, flags, err);
    if (rc != 0)
        return rc;
    struct rollout_block *bl = calloc(1, sizeof *bl);
    if (!bl)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    *bl = (struct rollout_block){.vk = vk, .D = cfg->D, .B = cfg->B, .m = m, .first_area = first_area,
                                 .elem = elem, .state_elems = (size_t)cfg->B * cfg->D, .bm = t[0], .bn = t[1],
                                 .states = states};
    const struct vk_buffer *bufs[3] = {powers, states, flags};
    if (tile_kernel(vk, cfg->D, cfg->B, elem, t, &bl->kernel, err) != 0 ||
        vk_descriptor_set(vk, bl->kernel, bufs, &bl->set, err) != 0) {
        rollout_block_destroy(bl);
        return -1;
    }
    *out = bl;
    return 0;
}

void rollout_block_destroy(struct rollout_block *bl)
{
    if (!bl)
        return;
    vk_descriptor_set_free(bl->vk, bl->set);
    free(bl);
}

uint32_t rollout_block_record_run(struct rollout_block *bl, struct vk_cmd *c, uint64_t before, uint32_t n,
                                  uint64_t every, const struct vk_buffer *readback, VkDeviceSize records_at)
{
    VkDeviceSize state_bytes = bl->state_elems * bl->elem;
    uint32_t src = (uint32_t)(before & 1), recorded = 0, gx = (bl->B + bl->bm - 1) / bl->bm;
    for (uint32_t s = 1, q = 0; s <= n; q++) {
        uint32_t mb = n - s + 1 < bl->m ? n - s + 1 : bl->m;
        uint32_t area = bl->first_area + (q & 1) * bl->m;
        struct tile_push push = {.step = s, .src = (uint32_t)(src * bl->state_elems),
                                 .dst = (uint32_t)(area * bl->state_elems), .ncols = mb * bl->D};
        vk_cmd_dispatch(c, bl->kernel, bl->set, &push, gx, (push.ncols + bl->bn - 1) / bl->bn, 1);
        vk_cmd_barrier(c);
        for (uint32_t i = 0; i < mb; i++)
            if (every && (before + s + i) % every == 0)
                vk_cmd_copy(c, bl->states, (area + i) * state_bytes, readback, records_at + recorded++ * state_bytes,
                            state_bytes);
        src = area + mb - 1;
        s += mb;
    }
    vk_cmd_copy(c, bl->states, src * state_bytes, bl->states, ((before + n) & 1) * state_bytes, state_bytes);
    vk_cmd_barrier(c);
    return recorded;
}
