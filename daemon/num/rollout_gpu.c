/* SPDX-License-Identifier: MIT */
/* The rollout engine on the GPU. Device buffers: A (D×D), three state slots of B×D
 * (step t reads slot (t-1)&1 and writes slot t&1; slot 2 backs up a run's input), a
 * flag block, and for the persistent kernel a ring of per-step states; a host-visible
 * readback buffer receives the flags and the recorded states.
 * One run is one command buffer: reset the flags, then the steps, plus a copy of the
 * state for recorded steps, with timestamps around the steps. Recordings are cached by
 * (n, record_every, phase of the step count) and resubmitted unchanged: push constants
 * carry the step index within the run, so a recording fits any run with the same shape.
 *
 * Two ways to run the steps (same results bit for bit in exact mode):
 *  - portable: one dispatch and one pipeline barrier per step (rollout_gemv/gemm.comp);
 *  - persistent (small B, rollout_persist.comp): one dispatch runs all steps up to the
 *    next recorded one (at most one ring's worth), its workgroups exchanging each step's
 *    state through its own ring slot, pre-filled with a sentinel they poll for. That
 *    needs every workgroup resident at once, which Vulkan does not promise, so it is only
 *    used where the device says how many it runs together (VK_NV_shader_sm_builtins: at
 *    most one workgroup per multiprocessor), never by default on CPU devices such as
 *    lavapipe (which may run the workgroups one after another; forced there, it is
 *    correct, tests/unit/num/test_rollout_persist.c); and should a wait still time out
 *    or be cut short (lavapipe's loop limit, docs/numerics.md), the run is discarded,
 *    its input restored from slot 2 and repeated with the portable kernel, which is then
 *    kept.
 * Fast batches run in blocks of steps where the run is long enough (rollout_block.h:
 * one wide GEMM with the powers of A per block), or, fast f64 batches, on the split
 * product (rollout_split.h: two dispatches per step, int8 digits on tensor cores) where
 * the daemon is told to use it. */
#include "rollout_gpu.h"

#include "rollout_block.h"
#include "rollout_split.h"
#include "rollout_tuning.h"

#include <stdlib.h>
#include <string.h>

#define PLAN_SLOTS 4
#define FLAG_BYTES 256                  /* readback bytes before the first record; flag block size */
#define RECORD_CAP_BYTES ((size_t)64 << 20) /* records per submission are limited to this */
#define PERSIST_MAX_B 4                 /* the persistent kernel is for one or a few trajectories */
#define PERSIST_MAX_D 1024              /* it keeps ceil(D/16) terms of A per invocation in registers */
#define PERSIST_EPT 2                   /* state elements each of its invocations polls (sweep) */
#define RING_MAX_BYTES ((uint64_t)16 << 20) /* its ring of per-step states ... */
#define RING_MAX_SLOTS 4096u                /* ... one per step, a dispatch's most */
#define RING_FILL 0x7FF4D45Cu           /* rollout_persist.comp's SENTINEL for f64 ... */
#define RING_FILL_F32 0x7FA5D45Cu       /* ... and for f32: signalling NaNs */
#define STATE_SLOTS 3

struct rollout_plan {
    bool valid;
    uint32_t n;
    uint64_t record_every, phase; /* phase: steps done before the run, mod 2*record_every (or 2) */
    uint32_t nrecords;
    int ts_begin, ts_end;
    struct vk_cmd cmd;
};

struct rollout_gpu {
    struct vk_runtime *vk;
    struct rollout_config cfg; /* cfg.tuning points at `tuning` */
    struct rollout_tuning tuning;
    size_t elem;        /* 8 (f64) or 4 (f32) */
    size_t state_elems; /* B*D */
    struct vk_buffer a, states, flags, readback;
    struct vk_buffer ring;   /* persistent kernel only: ring_slots states of B×D */
    uint32_t ring_slots;
    size_t readback_records; /* states the readback buffer holds */
    const struct vk_kernel *kernel;
    VkDescriptorSet set;
    uint32_t groups_x, groups_y;
    bool persistent;    /* rollout_persist.comp: many steps per dispatch */
    struct rollout_split *split; /* fast f64 batches: the split product (rollout_split.h) */
    struct rollout_block *block; /* fast batches: blocks of steps (rollout_block.h) */
    uint32_t block_steps;        /* steps per block the buffers are sized for (1: none) */
    bool no_persistent; /* it timed out once on this device: portable kernels only */
    uint64_t steps;
    struct rollout_plan plans[PLAN_SLOTS];
    int next_plan;
};

struct rollout_push {
    uint32_t step, src, dst;
};

/* dst: the slot that receives the state after the dispatch's last step. */
struct rollout_persist_push {
    uint32_t step, src, dst, nsteps;
};

static uint64_t round256(uint64_t x)
{
    return (x + 255) / 256 * 256;
}

static bool persist_shape(const struct rollout_config *c)
{
    return c->B <= PERSIST_MAX_B && c->D <= PERSIST_MAX_D;
}

/* Steps one persistent dispatch may run: its ring holds one state per step. */
static uint32_t ring_slots(const struct rollout_config *c, uint64_t elem)
{
    uint64_t fit = RING_MAX_BYTES / ((uint64_t)c->B * c->D * elem);
    if (fit == 0)
        fit = 1;
    if (fit > RING_MAX_SLOTS)
        fit = RING_MAX_SLOTS;
    return c->max_steps_per_run < fit ? c->max_steps_per_run : (uint32_t)fit;
}

/* Whether fast f64 batches use the split product (rollout_split.h) instead of the f64
 * GEMM: only when asked, DASHI_ROLLOUT_SPLIT=on (int8 cooperative matrices where the
 * device has them, else the portable integer kernel) or =portable. It is not the default
 * because on the H100 it is slower than the f64 GEMM (bench/README.md, "Split product"). */
static bool split_wanted(const struct rollout_config *c)
{
    return c->B >= 8 && c->precision == ROLLOUT_F64 && c->mode == ROLLOUT_FAST &&
           rollout_tuning_or_defaults(c->tuning)->split != ROLLOUT_SPLIT_OFF;
}

/* Steps per block of fast batches, 1 for none; never with the split product. */
static uint32_t block_steps(const struct rollout_config *c)
{
    return split_wanted(c) ? 1 : rollout_block_steps(c);
}

/* State slots: 0 and 1 alternate, 2 backs up a run's input, then two areas of blocks. */
static uint64_t state_slots(uint32_t block)
{
    return STATE_SLOTS + (block > 1 ? 2 * (uint64_t)block : 0);
}

uint64_t rollout_gpu_memory_estimate(const struct rollout_config *cfg)
{
    uint64_t elem = cfg->precision == ROLLOUT_F64 ? 8 : 4, block = block_steps(cfg);
    uint64_t ring = persist_shape(cfg) ? round256((uint64_t)ring_slots(cfg, elem) * cfg->B * cfg->D * elem) : 0;
    uint64_t split = split_wanted(cfg) ? rollout_split_memory_estimate(cfg->D, cfg->B, SPLIT_DIGITS) : 0;
    return round256(block * cfg->D * cfg->D * elem) + round256(state_slots(block) * cfg->B * cfg->D * elem) +
           round256(FLAG_BYTES) + ring + split;
}

/* Optional tuning knobs for benchmarks (rollout_tuning.h): DASHI_ROLLOUT_GEMV="OUT_WG,RB",
 * DASHI_ROLLOUT_GEMM="BM,BN,TM,TN,BK,SK" (fast batches) and
 * DASHI_ROLLOUT_GEMM_EXACT="BM,BN,TM,TN,BK" (exact batches) override the tile shapes
 * (they do not change exact mode's results: its order is fixed per output element). */
static void tile_override(uint32_t *t, const uint32_t *given, int n)
{
    memcpy(t, given, (size_t)n * sizeof *t);
}

/* Workgroups the device is known to run at the same time: one per multiprocessor, as
 * VK_NV_shader_sm_builtins reports them (each persistent workgroup needs at most 1024
 * invocations and 48 KiB of shared memory, which one multiprocessor always holds).
 * 0 when unknown: CPU devices and devices without the extension. */
static uint32_t resident_workgroups(const struct vk_runtime *vk)
{
    if (vk->is_cpu || !vk_device_has_extension(vk->phys, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME))
        return 0;
    VkPhysicalDeviceShaderSMBuiltinsPropertiesNV sm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sm};
    vkGetPhysicalDeviceProperties2(vk->phys, &p2);
    return sm.shaderSMCount;
}

/* The persistent kernel where it applies: 0 chosen, 1 not applicable, -1 error.
 * DASHI_ROLLOUT_PERSIST=0 switches it off; =N uses it with at most N workgroups even
 * where residency is unknown (benchmarks, tests: a timeout then falls back safely);
 * DASHI_ROLLOUT_PERSIST_EPT=N sets the state elements each invocation polls. */
static int choose_persistent(struct rollout_gpu *r, struct dashi_error *err)
{
    struct vk_runtime *vk = r->vk;
    const struct rollout_config *c = &r->cfg;
    if (r->no_persistent || !persist_shape(c) || (c->precision == ROLLOUT_F64 && !vk->int64_atomics))
        return 1; /* f64: the ring is read and written with 64-bit atomics */
    /* Half as many workgroups as multiprocessors (twice the columns each): fewer pollers,
     * same latency chain per step; 1.16-1.23x faster than one per multiprocessor on the
     * H100 (bench/README.md). */
    uint32_t limit = r->tuning.persist_set ? r->tuning.persist : (resident_workgroups(vk) + 1) / 2;
    if (limit == 0)
        return 1;
    uint32_t ept = r->tuning.persist_ept ? r->tuning.persist_ept : PERSIST_EPT;
    uint32_t nc = (c->D + limit - 1) / limit, nwg = (c->D + nc - 1) / nc;
    uint32_t bd = c->B * c->D, poll = (bd + ept - 1) / ept;
    uint32_t wgs = nc * 16 > poll ? nc * 16 : poll;
    wgs = (wgs + 31) / 32 * 32;
    if (wgs > vk->max_workgroup_size)
        wgs = vk->max_workgroup_size / 32 * 32;
    size_t shared = ((size_t)bd + (size_t)c->B * nc * 16) * r->elem;
    if (nc * 16 > wgs || shared > vk->max_shared_bytes)
        return 1;
    bool f64 = c->precision == ROLLOUT_F64;
    const char *name = c->mode == ROLLOUT_EXACT ? (f64 ? "rollout_persist_exact_f64" : "rollout_persist_exact_f32")
                                                : (f64 ? "rollout_persist_f64" : "rollout_persist_f32");
    uint32_t spec[5] = {c->D, c->B, nc, wgs, vk->is_cpu}; /* CPU_DEVICE: how it polls */
    if (vk_kernel_get(vk, name, 4, sizeof(struct rollout_persist_push), spec, 5, &r->kernel, err) != 0)
        return -1;
    r->ring_slots = ring_slots(c, r->elem);
    if (!r->ring.buffer &&
        vk_buffer_alloc(vk, (VkDeviceSize)r->ring_slots * bd * r->elem, VK_MEM_DEVICE, &r->ring, err) != 0)
        return -1;
    r->persistent = true;
    r->groups_x = nwg;
    r->groups_y = 1;
    return 0;
}

/* The batched GEMM (rollout_gemm.comp) for B >= 8: tile t = BM, BN, TM, TN, BK, SK.
 * Exact mode needs SK = 16 (slice p = partial p) and BK a multiple of 16. A tile that
 * does not fit the device's workgroup or shared memory (lavapipe: 32 KiB) has its SK
 * (fast), then BN, then BK halved. */
static int choose_gemm(struct rollout_gpu *r, struct dashi_error *err)
{
    struct vk_runtime *vk = r->vk;
    const struct rollout_config *c = &r->cfg;
    bool exact = c->mode == ROLLOUT_EXACT, f64 = c->precision == ROLLOUT_F64;
    /* Defaults: best of the H100 sweep (bench/README.md). */
    uint32_t t[6] = {32, 48, 4, 6, 32, 8};
    if (exact) {
        uint32_t e[5] = {16, 48, 4, 6, 32};
        tile_override(e, r->tuning.gemm_exact, r->tuning.gemm_exact_n);
        memcpy(t, e, sizeof e);
        t[5] = 16;
    } else {
        tile_override(t, r->tuning.gemm, r->tuning.gemm_n);
    }
    for (;;) {
        uint32_t bm = t[0], bn = t[1], tm = t[2], tn = t[3], bk = t[4], sk = t[5];
        bool valid = bm % tm == 0 && bn % tn == 0 && (sk & (sk - 1)) == 0 && bk % sk == 0 &&
                     (!exact || (sk == 16 && bk % 16 == 0));
        if (!valid)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "rollout GEMM tile %u,%u,%u,%u,%u,%u is not valid", bm, bn,
                              tm, tn, bk, sk);
        size_t threads = (size_t)(bm / tm) * (bn / tn) * sk;
        size_t stage = (size_t)bk * (bm + bn), red = (size_t)(sk + 1) / 2 * bm * bn;
        size_t shared = (stage > red ? stage : red) * r->elem; /* one array, reused */
        if (threads <= vk->max_workgroup_size && shared <= vk->max_shared_bytes)
            break;
        if (!exact && sk > 1)
            t[5] /= 2;
        else if (bn / tn >= 2 && (bn / 2) % tn == 0)
            t[1] /= 2;
        else if (bk > 16)
            t[4] /= 2;
        else
            return dashi_fail(err, DASHI_E_INTERNAL, "", "rollout GEMM tile %u,%u,%u,%u,%u,%u does not fit this device",
                              bm, bn, tm, tn, bk, sk);
    }
    uint32_t spec[10] = {c->D, c->B, t[0], t[1], t[2], t[3], t[1] / t[3], t[0] / t[2], t[4], t[5]};
    r->groups_x = (c->D + t[1] - 1) / t[1];
    r->groups_y = (c->B + t[0] - 1) / t[0];
    const char *name = exact ? (f64 ? "rollout_gemm_exact_f64" : "rollout_gemm_exact_f32")
                             : (f64 ? "rollout_gemm_f64" : "rollout_gemm_f32");
    return vk_kernel_get(vk, name, 3, sizeof(struct rollout_push), spec, 10, &r->kernel, err);
}

/* The split product where wanted: 0 chosen, 1 not, -1 error.
 * DASHI_ROLLOUT_SPLIT_DIGITS=N (1..8) sets the digits per value. */
static int choose_split(struct rollout_gpu *r, const double *A, struct dashi_error *err)
{
    const struct rollout_config *c = &r->cfg;
    if (!split_wanted(c))
        return 1;
    uint32_t digits = r->tuning.split_digits ? r->tuning.split_digits : SPLIT_DIGITS;
    if (!rollout_split_exact_for(c->D, digits))
        return 1; /* too long a sum for int32 (or no such digit count): IEEE, recorded so */
    bool portable = r->tuning.split == ROLLOUT_SPLIT_PORTABLE;
    if (rollout_split_create(r->vk, c->D, c->B, digits, portable, A, &r->states, &r->flags, &r->split, err) !=
        0)
        return -1;
    return 0;
}

static int choose_kernel(struct rollout_gpu *r, struct dashi_error *err)
{
    struct vk_runtime *vk = r->vk;
    const struct rollout_config *c = &r->cfg;
    bool f64 = c->precision == ROLLOUT_F64;
    /* DASHI_ROLLOUT_GEMM_EXACT=off keeps exact batches on the GEMV (benchmarks). */
    bool gemm = c->B >= 8 && !(c->mode == ROLLOUT_EXACT && r->tuning.gemm_exact_off);
    r->persistent = false;
    int pick = choose_persistent(r, err);
    if (pick <= 0)
        return pick;
    if (gemm)
        return choose_gemm(r, err);
    /* OUT_WG outputs × RB batch rows per workgroup; picked by sweeping on an H100
     * (bench/README.md): small workgroups for few rows, wide ones for batches. */
    uint32_t t[2] = {vk->is_cpu ? 8 : 2, c->B}; /* lavapipe prefers fewer, larger groups */
    if (c->B >= 8) {
        t[0] = 32;
        t[1] = 4;
    }
    tile_override(t, r->tuning.gemv, r->tuning.gemv_n);
    while (t[0] * 16 > vk->max_workgroup_size && t[0] > 1)
        t[0] /= 2;
    while ((size_t)t[1] * 16 * t[0] * r->elem > vk->max_shared_bytes && t[1] > 1)
        t[1] /= 2;
    const char *name = c->mode == ROLLOUT_EXACT ? (f64 ? "rollout_exact_f64" : "rollout_exact_f32")
                                                : (f64 ? "rollout_gemv_f64" : "rollout_gemv_f32");
    uint32_t spec[4] = {c->D, c->B, t[0], t[1]};
    r->groups_x = (c->D + t[0] - 1) / t[0];
    r->groups_y = (c->B + t[1] - 1) / t[1];
    return vk_kernel_get(vk, name, 3, sizeof(struct rollout_push), spec, 4, &r->kernel, err);
}

/* Converts n doubles to the engine's precision into a malloc'ed buffer (NULL: f64, use src). */
static void *to_device_precision(const struct rollout_gpu *r, const double *src, size_t n, bool *failed)
{
    *failed = false;
    if (r->elem == 8)
        return NULL;
    float *f = malloc(n * sizeof *f);
    if (!f) {
        *failed = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        f[i] = (float)src[i];
    return f;
}

/* Uploads n doubles at element `at` of dst, in the engine's precision. */
static int upload_doubles(struct rollout_gpu *r, const struct vk_buffer *dst, size_t at, const double *src, size_t n,
                          struct dashi_error *err)
{
    bool failed;
    void *conv = to_device_precision(r, src, n, &failed);
    if (failed)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    int rc = vk_upload(r->vk, dst, at * r->elem, conv ? conv : (const void *)src, n * r->elem, err);
    free(conv);
    return rc;
}

int rollout_gpu_create(struct vk_runtime *vk, const struct rollout_config *cfg, const double *A, const double *z0,
                       struct rollout_gpu **out, struct dashi_error *err)
{
    return rollout_gpu_create_at(vk, cfg, A, z0, 0, out, err);
}

int rollout_gpu_create_at(struct vk_runtime *vk, const struct rollout_config *cfg, const double *A, const double *z,
                          uint64_t step, struct rollout_gpu **out, struct dashi_error *err)
{
    *out = NULL;
    if (cfg->D == 0 || cfg->B == 0 || cfg->max_steps_per_run == 0 || cfg->max_steps_per_run > ROLLOUT_MAX_RUN)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "D", "rollout needs D, B >= 1 and max_steps_per_run in 1..%u",
                          ROLLOUT_MAX_RUN);
    uint64_t elem = cfg->precision == ROLLOUT_F64 ? 8 : 4;
    uint64_t block = rollout_block_fit(cfg, block_steps(cfg), resident_workgroups(vk), vk->max_storage_range);
    uint64_t slots = state_slots(block);
    if (slots * cfg->B * cfg->D >= UINT32_MAX || block * cfg->D * cfg->D * elem > vk->max_storage_range ||
        slots * cfg->B * cfg->D * elem > vk->max_storage_range)
        return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "", "rollout of D=%u B=%u exceeds the device's buffer range",
                          cfg->D, cfg->B);
    struct rollout_gpu *r = calloc(1, sizeof *r);
    if (!r)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    r->vk = vk;
    r->cfg = *cfg;
    r->tuning = *rollout_tuning_or_defaults(cfg->tuning);
    r->cfg.tuning = &r->tuning;
    r->elem = elem;
    r->state_elems = (size_t)cfg->B * cfg->D;
    r->block_steps = (uint32_t)block;
    r->a.block = r->states.block = r->flags.block = r->readback.block = r->ring.block = -1;
    /* With blocks, the operator buffer holds the powers A..A^block, A first. */
    if (vk_buffer_alloc(vk, block * cfg->D * cfg->D * elem, VK_MEM_DEVICE, &r->a, err) != 0 ||
        vk_buffer_alloc(vk, slots * r->state_elems * elem, VK_MEM_DEVICE, &r->states, err) != 0 ||
        vk_buffer_alloc(vk, FLAG_BYTES, VK_MEM_DEVICE, &r->flags, err) != 0 ||
        upload_doubles(r, &r->a, 0, A, (size_t)cfg->D * cfg->D, err) != 0 ||
        upload_doubles(r, &r->states, (step & 1) * r->state_elems, z, r->state_elems, err) != 0)
        goto fail;
    int split = choose_split(r, A, err), blocks = 1;
    if (split < 0)
        goto fail;
    if (split == 1 && r->block_steps > 1) {
        blocks = rollout_block_create(vk, cfg, r->block_steps, &r->a, &r->states, &r->flags, STATE_SLOTS, &r->block,
                                      err);
        if (blocks < 0)
            goto fail;
        if (blocks == 1) /* a power of A is not finite: step by step (the buffers stay) */
            r->block_steps = 1;
    }
    if (split == 1 && blocks == 1 && choose_kernel(r, err) != 0)
        goto fail;
    /* Step t reads slot (t-1)&1: the state after `step` steps lives in slot step&1. */
    r->steps = step;
    const struct vk_buffer *bufs[4] = {&r->a, &r->states, &r->flags, &r->ring};
    if (!r->split && !r->block && vk_descriptor_set(vk, r->kernel, bufs, &r->set, err) != 0)
        goto fail;
    *out = r;
    return 0;
fail:
    rollout_gpu_destroy(r);
    return -1;
}

void rollout_gpu_destroy(struct rollout_gpu *r)
{
    if (!r)
        return;
    for (int i = 0; i < PLAN_SLOTS; i++)
        if (r->plans[i].cmd.cb)
            vk_cmd_destroy(r->vk, &r->plans[i].cmd);
    vk_descriptor_set_free(r->vk, r->set);
    rollout_split_destroy(r->split);
    rollout_block_destroy(r->block);
    vk_buffer_free(r->vk, &r->a);
    vk_buffer_free(r->vk, &r->states);
    vk_buffer_free(r->vk, &r->flags);
    vk_buffer_free(r->vk, &r->readback);
    vk_buffer_free(r->vk, &r->ring);
    free(r);
}

uint64_t rollout_gpu_steps(const struct rollout_gpu *r)
{
    return r->steps;
}

bool rollout_gpu_persistent(const struct rollout_gpu *r)
{
    return r->persistent;
}

uint32_t rollout_gpu_block_steps(const struct rollout_gpu *r)
{
    return r->block ? r->block_steps : 1;
}

uint32_t rollout_gpu_run_steps(const struct rollout_gpu *r, uint32_t current, double ms_per_step, double target_ms)
{
    double want = ms_per_step > 0 ? target_ms / ms_per_step : r->cfg.max_steps_per_run;
    if (current >= 1 && current <= r->cfg.max_steps_per_run && current >= want / 2 && current <= want * 1.25)
        return current;
    uint32_t n = want < 1 ? 1 : want > r->cfg.max_steps_per_run ? r->cfg.max_steps_per_run : (uint32_t)want;
    uint32_t block = rollout_gpu_block_steps(r);
    if (n > block)
        n -= n % block;
    return n;
}

uint32_t rollout_gpu_split_digits(const struct rollout_gpu *r)
{
    return r->split ? rollout_split_digits(r->split) : 0;
}

const char *rollout_gpu_arithmetic(const struct rollout_gpu *r)
{
    if (r->split)
        return rollout_split_on_matrices(r->split) ? "split-int8-matrix" : "split-int8";
    return r->elem == 8 ? "f64" : "f32";
}

static uint32_t records_in(uint64_t done, uint32_t n, uint64_t every)
{
    if (every == 0)
        return 0;
    return (uint32_t)((done + n) / every - done / every);
}

static int ensure_readback(struct rollout_gpu *r, uint32_t nrecords, struct dashi_error *err)
{
    if (r->readback.buffer && r->readback_records >= nrecords)
        return 0;
    /* Recordings point at the old buffer. */
    for (int i = 0; i < PLAN_SLOTS; i++)
        r->plans[i].valid = false;
    vk_buffer_free(r->vk, &r->readback);
    r->readback_records = 0;
    size_t bytes = FLAG_BYTES + (size_t)nrecords * r->state_elems * r->elem;
    if (vk_buffer_alloc(r->vk, bytes, VK_MEM_HOST, &r->readback, err) != 0)
        return -1;
    r->readback_records = nrecords;
    return 0;
}

static int record_plan(struct rollout_gpu *r, struct rollout_plan *pl, uint32_t n, uint64_t every,
                       struct dashi_error *err)
{
    struct vk_cmd *c = &pl->cmd;
    pl->valid = false;
    if (!c->cb && vk_cmd_create(r->vk, c, err) != 0)
        return -1;
    if (vk_cmd_begin(r->vk, c, err) != 0)
        return -1;
    VkDeviceSize state_bytes = r->state_elems * r->elem;
    vkCmdFillBuffer(c->cb, r->flags.buffer, r->flags.offset, 4, 0xFFFFFFFFu);
    if (r->persistent) {
        vkCmdFillBuffer(c->cb, r->flags.buffer, r->flags.offset + 4, 4, 0);
        vk_cmd_copy(c, &r->states, (r->steps & 1) * state_bytes, &r->states, 2 * state_bytes, state_bytes);
    }
    vk_cmd_barrier(c);
    pl->ts_begin = vk_cmd_timestamp(c);
    uint32_t k = 0;
    /* Persistent: one dispatch per stretch of steps that ends at a recorded step, at n or
     * when the ring is full; the ring is refilled with the sentinel before each. */
    for (uint32_t s = 1; r->persistent && s <= n;) {
        uint64_t t = r->steps + s;
        uint32_t e = n - s + 1 > r->ring_slots ? s + r->ring_slots - 1 : n;
        if (every) {
            uint64_t rec = (t + every - 1) / every * every;
            if (rec - r->steps < e)
                e = (uint32_t)(rec - r->steps);
        }
        uint64_t te = r->steps + e;
        struct rollout_persist_push push = {.step = s,
                                            .src = (uint32_t)(((t - 1) & 1) * r->state_elems),
                                            .dst = (uint32_t)((te & 1) * r->state_elems),
                                            .nsteps = e - s + 1};
        vkCmdFillBuffer(c->cb, r->ring.buffer, r->ring.offset, (VkDeviceSize)push.nsteps * state_bytes,
                        r->elem == 8 ? RING_FILL : RING_FILL_F32);
        vk_cmd_barrier(c);
        vk_cmd_dispatch(c, r->kernel, r->set, &push, r->groups_x, 1, 1);
        vk_cmd_barrier(c);
        if (every && te % every == 0)
            vk_cmd_copy(c, &r->states, (te & 1) * state_bytes, &r->readback, FLAG_BYTES + (k++) * state_bytes,
                        state_bytes);
        s = e + 1;
    }
    if (r->block)
        k = rollout_block_record_run(r->block, c, r->steps, n, every, &r->readback, FLAG_BYTES);
    for (uint32_t s = 1; !r->persistent && !r->block && s <= n; s++) {
        uint64_t t = r->steps + s;
        struct rollout_push push = {.step = s,
                                    .src = (uint32_t)(((t - 1) & 1) * r->state_elems),
                                    .dst = (uint32_t)((t & 1) * r->state_elems)};
        if (r->split) {
            rollout_split_record_step(r->split, c, &push);
        } else {
            vk_cmd_dispatch(c, r->kernel, r->set, &push, r->groups_x, r->groups_y, 1);
            vk_cmd_barrier(c);
        }
        if (every && t % every == 0)
            vk_cmd_copy(c, &r->states, (t & 1) * state_bytes, &r->readback, FLAG_BYTES + (k++) * state_bytes,
                        state_bytes);
    }
    pl->ts_end = vk_cmd_timestamp(c);
    vk_cmd_copy(c, &r->flags, 0, &r->readback, 0, 8);
    pl->n = n;
    pl->record_every = every;
    pl->phase = r->steps % (every ? 2 * every : 2);
    pl->nrecords = k;
    pl->valid = true;
    return 0;
}

/* After a persistent run timed out: restore the run's input (slot 2) to its slot and
 * switch to the portable kernel for good. */
static int fall_back_to_portable(struct rollout_gpu *r, struct dashi_error *err)
{
    size_t bytes = r->state_elems * r->elem;
    void *tmp = malloc(bytes);
    if (!tmp)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    int rc = vk_download(r->vk, &r->states, 2 * bytes, tmp, bytes, err);
    if (rc == 0)
        rc = vk_upload(r->vk, &r->states, (r->steps & 1) * bytes, tmp, bytes, err);
    free(tmp);
    if (rc != 0)
        return -1;
    for (int i = 0; i < PLAN_SLOTS; i++)
        r->plans[i].valid = false;
    vk_descriptor_set_free(r->vk, r->set);
    r->set = VK_NULL_HANDLE;
    r->no_persistent = true;
    vk_buffer_free(r->vk, &r->ring);
    const struct vk_buffer *bufs[3] = {&r->a, &r->states, &r->flags};
    if (choose_kernel(r, err) != 0 || vk_descriptor_set(r->vk, r->kernel, bufs, &r->set, err) != 0)
        return -1;
    return 0;
}

/* One submission of n steps; records (if any) go to records[0..). */
static int run_once(struct rollout_gpu *r, uint32_t n, uint64_t every, double *records, uint32_t *nrecords,
                    uint64_t *nonfinite_step, double *gpu_ms, struct dashi_error *err)
{
    uint32_t want = records_in(r->steps, n, every);
    if (ensure_readback(r, want, err) != 0)
        return -1;
    uint64_t phase = r->steps % (every ? 2 * every : 2);
    struct rollout_plan *pl = NULL;
    for (int i = 0; i < PLAN_SLOTS && !pl; i++)
        if (r->plans[i].valid && r->plans[i].n == n && r->plans[i].record_every == every &&
            r->plans[i].phase == phase)
            pl = &r->plans[i];
    if (!pl) {
        pl = &r->plans[r->next_plan];
        r->next_plan = (r->next_plan + 1) % PLAN_SLOTS;
        if (record_plan(r, pl, n, every, err) != 0)
            return -1;
    }
    if (vk_cmd_submit_wait(r->vk, &pl->cmd, err) != 0)
        return -1;
    uint32_t bad, timed_out = 0;
    memcpy(&bad, r->readback.mapped, 4);
    if (r->persistent) /* only the persistent kernel's runs reset and write this word */
        memcpy(&timed_out, (const char *)r->readback.mapped + 4, 4);
    if (r->persistent && timed_out) {
        if (fall_back_to_portable(r, err) != 0)
            return -1;
        return run_once(r, n, every, records, nrecords, nonfinite_step, gpu_ms, err);
    }
    if (bad != 0xFFFFFFFFu && *nonfinite_step == 0)
        *nonfinite_step = r->steps + bad;
    double ms = vk_cmd_elapsed_ms(r->vk, &pl->cmd, pl->ts_begin, pl->ts_end);
    if (ms < 0 || *gpu_ms < 0)
        *gpu_ms = -1.0;
    else
        *gpu_ms += ms;
    const char *src = (const char *)r->readback.mapped + FLAG_BYTES;
    size_t count = (size_t)pl->nrecords * r->state_elems;
    double *dst = records ? records + (size_t)*nrecords * r->state_elems : NULL;
    if (count == 0) {
        /* nothing recorded in this submission */
    } else if (r->elem == 8) {
        memcpy(dst, src, count * 8);
    } else {
        const float *f = (const float *)(const void *)src;
        for (size_t i = 0; i < count; i++)
            dst[i] = f[i];
    }
    *nrecords += pl->nrecords;
    r->steps += n;
    return 0;
}

int rollout_gpu_run(struct rollout_gpu *r, uint32_t n, uint64_t record_every, double *records, uint32_t *nrecords,
                    uint64_t *nonfinite_step, double *gpu_ms, struct dashi_error *err)
{
    *nrecords = 0;
    *nonfinite_step = 0;
    *gpu_ms = 0;
    if (n == 0 || n > r->cfg.max_steps_per_run)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "steps", "run of %u steps (1..%u allowed)", n,
                          r->cfg.max_steps_per_run);
    if (record_every && !records)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "rollout_gpu_run: records requested without a buffer");
    /* Recorded states of one submission are limited to RECORD_CAP_BYTES of readback;
     * more records split the run into several submissions. */
    size_t state_bytes = r->state_elems * r->elem;
    uint64_t max_records = RECORD_CAP_BYTES / state_bytes ? RECORD_CAP_BYTES / state_bytes : 1;
    uint32_t left = n;
    while (left > 0) {
        uint32_t chunk = left;
        if (record_every && records_in(r->steps, chunk, record_every) > max_records) {
            /* Up to and including the max_records-th recorded step from here. */
            uint64_t first = (r->steps / record_every + 1) * record_every;
            uint64_t last = first + (max_records - 1) * record_every;
            chunk = (uint32_t)(last - r->steps);
        }
        if (run_once(r, chunk, record_every, records, nrecords, nonfinite_step, gpu_ms, err) != 0)
            return -1;
        left -= chunk;
    }
    return 0;
}

int rollout_gpu_read_state(struct rollout_gpu *r, double *z, struct dashi_error *err)
{
    VkDeviceSize off = (r->steps & 1) * r->state_elems * r->elem;
    if (r->elem == 8)
        return vk_download(r->vk, &r->states, off, z, r->state_elems * 8, err);
    float *f = malloc(r->state_elems * sizeof *f);
    if (!f)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    int rc = vk_download(r->vk, &r->states, off, f, r->state_elems * 4, err);
    for (size_t i = 0; rc == 0 && i < r->state_elems; i++)
        z[i] = f[i];
    free(f);
    return rc;
}
