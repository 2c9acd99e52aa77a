/* SPDX-License-Identifier: MIT */
/* Track-mode atoms on the GPU (atoms_gpu.h): buffers, recording, and the submission loop
 * that records more closure passes or labelling iterations until both reached their
 * fixed points. The records become atom frames in atoms_records.c. */
#include "atoms_gpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atoms_records.h"
#include "closure.h"
#include "closure_gpu.h"
#include "monotonic.h"

#define WG 256u
#define TILE 16u
#define SMOOTH 11u                 /* smooth2d width of the carrier's detail (atoms.c) */
#define SCAN_BLOCK 1024u           /* cells per block of the id scan (atoms_scan.comp) */
#define LEVELS_MAX 64u             /* closure passes one submission records at most */
#define TOTAL_LEVELS_MAX 4096u     /* as atoms_closed_carrier: reaching it is an error */
#define META_ITERS 1024u           /* labelling iterations of one batch at most */
#define META_STRIDE (4u + META_ITERS)
#define BATCH_CELLS (1u << 22)     /* cells per batch by default */
#define BATCH_MAX 64u
#define FIRST_LEVELS 12u
#define FIRST_ITERS 8u
#define BOX (2 * M_PI)

/* Push constants of the atoms kernels (atoms_common.glsl) and of the encoder's. */
struct atoms_push {
    uint32_t n, nb, cap, src, dst, iter, meta_stride, gx;
    double tau;
};
struct smooth_push { uint32_t n, nb, f0, gx, k; };
struct maxabs_push { uint32_t n; };

enum kern {
    K_SMOOTH_X, K_SMOOTH_Y, K_MAXABS, K_TERNARY, K_PROP, K_COUNT, K_BLOCKS, K_ASSIGN, K_SHAPE, K_SUMS, K_MOMENTS,
    K_PACK, K_COUNT_ALL
};
static const char *const kernel_names[K_COUNT_ALL] = {
    "encode_smooth_x", "encode_smooth_y", "encode_maxabs", "atoms_ternary", "atoms_prop", "atoms_scan_count",
    "atoms_scan_blocks", "atoms_scan_assign", "atoms_shape", "atoms_sums", "atoms_moments", "atoms_pack"};

enum buf {
    B_STAGING, B_FRAMES, B_TMP, B_REAL, B_MAXR, B_CARRIER, B_LAB, B_OFF, B_META, B_CCNT, B_PART, B_RES, B_RECS,
    B_LABELS_H, B_RECS_H, B_META_H, B_COUNT
};

struct atoms_gpu {
    struct vk_runtime *vk;
    uint32_t n, batch, cap, groups;
    double tau;
    uint32_t levels, iters; /* recorded in a batch's first submission; adapted to the last batch */
    struct vk_buffer buf[B_COUNT];
    const struct vk_kernel *k[K_COUNT_ALL];
    VkDescriptorSet ds[K_COUNT_ALL];
    bool have_ds[K_COUNT_ALL];
    struct closure_gpu *closure;
    struct vk_cmd cmd;
    bool have_cmd;
    struct atoms_gpu_stats stats;
    int ts[8];
    int nts;
};

/* Closed carriers have at most n²/8 atoms (each has ≥ 3 cells and no two are 8-adjacent,
 * so the 2×2 dilations of the atoms, ≥ 8 cells each, are disjoint). */
static uint32_t cap_of(uint32_t n) { return (uint32_t)((uint64_t)n * n / 8 + 1); }

static uint32_t ccnt_stride(void) { return (LEVELS_MAX + 1) * 4; }

/* Sizes of every buffer for (n, batch); kinds in kind_of. */
static void sizes_of(uint32_t n, uint32_t batch, uint64_t size[B_COUNT])
{
    uint64_t nn = (uint64_t)n * n, b = batch, g = (uint64_t)((n + TILE - 1) / TILE) * ((n + TILE - 1) / TILE);
    uint64_t rec = sizeof(struct atoms_gpu_rec) * cap_of(n) * b;
    size[B_STAGING] = b * nn * 8;
    size[B_FRAMES] = b * nn * 8;
    size[B_TMP] = b * nn * 8; /* smoothing, then the id scratch: b*nn + b*blocks uints */
    size[B_REAL] = 2 * b * nn * 8;
    size[B_MAXR] = b * 8;
    size[B_CARRIER] = 2 * b * nn * 4;
    size[B_LAB] = 2 * b * nn * 4;
    size[B_OFF] = 2 * b * nn * 8;
    size[B_META] = b * META_STRIDE * 4;
    size[B_CCNT] = b * ccnt_stride() * 4;
    size[B_PART] = b * (LEVELS_MAX + 1) * g * 8;
    size[B_RES] = b * (LEVELS_MAX + 1) * 8;
    size[B_RECS] = rec;
    size[B_LABELS_H] = b * nn * 4;
    size[B_RECS_H] = rec;
    size[B_META_H] = size[B_META] + size[B_CCNT];
}

static enum vk_mem_kind kind_of(int i)
{
    return i == B_STAGING || i == B_LABELS_H || i == B_RECS_H || i == B_META_H ? VK_MEM_HOST : VK_MEM_DEVICE;
}

uint32_t atoms_gpu_default_batch(uint32_t n)
{
    uint64_t b = BATCH_CELLS / ((uint64_t)n * n);
    return (uint32_t)(b < 1 ? 1 : b > BATCH_MAX ? BATCH_MAX : b);
}

uint64_t atoms_gpu_bytes(uint32_t n, uint32_t batch)
{
    uint64_t size[B_COUNT], total = 0;
    sizes_of(n, batch, size);
    for (int i = 0; i < B_COUNT; i++)
        total += size[i];
    return total;
}

/* The batch (≤ the one asked for) whose largest buffer fits one storage-buffer binding of
 * this device; 0 when not even one frame does. */
static uint32_t fit_batch(const struct vk_runtime *vk, uint32_t n, uint32_t batch)
{
    batch = batch < 1 ? 1 : batch > BATCH_MAX ? BATCH_MAX : batch;
    for (; batch >= 1; batch /= 2) {
        uint64_t size[B_COUNT], largest = 0;
        sizes_of(n, batch, size);
        for (int i = 0; i < B_COUNT; i++)
            largest = size[i] > largest ? size[i] : largest;
        if (largest <= vk->max_storage_range)
            return batch;
    }
    return 0;
}

uint64_t atoms_gpu_bytes_on(const struct vk_runtime *vk, uint32_t n)
{
    if (!vk)
        return atoms_gpu_bytes(n, atoms_gpu_default_batch(n));
    uint32_t batch = fit_batch(vk, n, atoms_gpu_default_batch(n));
    return vk->int64_atomics && batch ? atoms_gpu_bytes(n, batch) : 0;
}

uint32_t atoms_gpu_batch(const struct atoms_gpu *ag) { return ag->batch; }

double *atoms_gpu_frame(struct atoms_gpu *ag, uint32_t b)
{
    return (double *)ag->buf[B_STAGING].mapped + (size_t)b * ag->n * ag->n;
}

const struct atoms_gpu_stats *atoms_gpu_last_stats(const struct atoms_gpu *ag) { return &ag->stats; }

void atoms_gpu_set_first(struct atoms_gpu *ag, uint32_t levels, uint32_t iters)
{
    levels = (levels + 1) & ~1u;
    ag->levels = levels < 2 ? 2 : levels > LEVELS_MAX ? LEVELS_MAX : levels;
    ag->iters = iters < 1 ? 1 : iters > 64 ? 64 : iters;
}

void atoms_gpu_destroy(struct atoms_gpu *ag)
{
    if (!ag)
        return;
    if (ag->have_cmd)
        vk_cmd_destroy(ag->vk, &ag->cmd);
    closure_gpu_destroy(ag->closure);
    for (int i = 0; i < K_COUNT_ALL; i++)
        if (ag->have_ds[i])
            vk_descriptor_set_free(ag->vk, ag->ds[i]);
    for (int i = 0; i < B_COUNT; i++)
        vk_buffer_free(ag->vk, &ag->buf[i]);
    free(ag);
}

static int make_kernels(struct atoms_gpu *ag, struct dashi_error *err)
{
    struct vk_buffer *b = ag->buf;
    const struct vk_buffer *smooth[] = {&b[B_FRAMES], &b[B_TMP], &b[B_REAL]};
    const struct vk_buffer *maxabs[] = {&b[B_REAL], &b[B_MAXR]};
    const struct vk_buffer *atoms[] = {&b[B_CARRIER], &b[B_REAL],     &b[B_LAB],    &b[B_OFF],   &b[B_TMP],
                                       &b[B_META],    &b[B_RECS],     &b[B_LABELS_H], &b[B_RECS_H], &b[B_MAXR]};
    for (int i = 0; i < K_COUNT_ALL; i++) {
        const struct vk_buffer *const *set = i <= K_SMOOTH_Y ? smooth : i == K_MAXABS ? maxabs : atoms;
        uint32_t bindings = i <= K_SMOOTH_Y ? 3 : i == K_MAXABS ? 2 : 10;
        uint32_t push = i <= K_SMOOTH_Y   ? sizeof(struct smooth_push)
                        : i == K_MAXABS ? sizeof(struct maxabs_push)
                                        : sizeof(struct atoms_push);
        if (vk_kernel_get(ag->vk, kernel_names[i], bindings, push, NULL, 0, &ag->k[i], err) != 0 ||
            vk_descriptor_set(ag->vk, ag->k[i], set, &ag->ds[i], err) != 0)
            return -1;
        ag->have_ds[i] = true;
    }
    return 0;
}

int atoms_gpu_create(struct vk_runtime *vk, uint32_t n, uint32_t batch, double tau, struct atoms_gpu **out,
                     struct dashi_error *err)
{
    if (n < 4 || n > 4096)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "N", "the GPU atoms need N in [4, 4096], got %u", n);
    if (!(tau > 0 && tau <= 1))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "tau", "tau must be in (0, 1]");
    if (!vk->int64_atomics)
        return dashi_fail(err, DASHI_E_NO_GPU, "device", "%s lacks shaderBufferInt64Atomics (the atoms reductions)",
                          vk->device_name);
    batch = fit_batch(vk, n, batch);
    if (batch == 0)
        return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "N",
                          "N = %u needs buffers past this device's storage-buffer range (%llu bytes)", n,
                          (unsigned long long)vk->max_storage_range);
    uint64_t size[B_COUNT];
    sizes_of(n, batch, size);
    struct atoms_gpu *ag = calloc(1, sizeof *ag);
    if (!ag)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    ag->vk = vk;
    ag->n = n;
    ag->batch = batch;
    ag->cap = cap_of(n);
    ag->groups = closure_gpu_groups(n);
    ag->tau = tau;
    ag->levels = FIRST_LEVELS;
    ag->iters = FIRST_ITERS;
    for (int i = 0; i < B_COUNT; i++)
        ag->buf[i].block = -1;
    for (int i = 0; i < B_COUNT; i++)
        if (vk_buffer_alloc(vk, size[i], kind_of(i), &ag->buf[i], err) != 0) {
            atoms_gpu_destroy(ag);
            return -1;
        }
    if (make_kernels(ag, err) != 0 ||
        closure_gpu_create(vk, n, &ag->buf[B_CARRIER], &ag->buf[B_REAL], &ag->buf[B_CCNT], &ag->buf[B_PART],
                           &ag->buf[B_RES], &ag->closure, err) != 0 ||
        vk_cmd_create(vk, &ag->cmd, err) != 0) {
        atoms_gpu_destroy(ag);
        return -1;
    }
    ag->have_cmd = true;
    *out = ag;
    return 0;
}

/* ---- recording ---- */

static void stamp(struct atoms_gpu *ag) { ag->ts[ag->nts++] = vk_cmd_timestamp(&ag->cmd); }

static struct atoms_push push_of(const struct atoms_gpu *ag, uint32_t count, struct vk_grid g)
{
    struct atoms_push p = {ag->n, count, ag->cap, 0, 0, 0, META_STRIDE, g.gx, ag->tau};
    return p;
}

static void dispatch_cells(struct atoms_gpu *ag, enum kern k, const struct atoms_push *p, struct vk_grid g)
{
    vk_cmd_dispatch(&ag->cmd, ag->k[k], ag->ds[k], p, g.gx, g.gy, 1);
    vk_cmd_barrier(&ag->cmd);
}

/* Zeroed counters, frames (and given carriers) to the device. */
static void record_upload(struct atoms_gpu *ag, uint32_t count, bool carriers)
{
    uint64_t nn = (uint64_t)ag->n * ag->n;
    struct vk_cmd *c = &ag->cmd;
    vk_cmd_fill_zero(c, &ag->buf[B_META], 0, ag->buf[B_META].size);
    vk_cmd_fill_zero(c, &ag->buf[B_CCNT], 0, ag->buf[B_CCNT].size);
    vk_cmd_copy(c, &ag->buf[B_STAGING], 0, &ag->buf[B_FRAMES], 0, count * nn * 8);
    if (carriers) /* staged in the labels buffer: plane 0 of each frame */
        for (uint32_t b = 0; b < count; b++)
            vk_cmd_copy(c, &ag->buf[B_LABELS_H], b * nn * 4, &ag->buf[B_CARRIER], 2 * b * nn * 4, nn * 4);
    vk_cmd_barrier(c);
}

/* ω and R = ω − smooth2d(ω, 11) into the real planes; with `threshold`, also max |R| and
 * the thresholded carrier. */
static void record_detail(struct atoms_gpu *ag, uint32_t count, bool threshold)
{
    uint32_t n = ag->n;
    struct vk_grid g = vk_grid_for((uint64_t)count * n * n, WG);
    struct smooth_push sp = {n, count, 0, g.gx, SMOOTH};
    vk_cmd_dispatch(&ag->cmd, ag->k[K_SMOOTH_X], ag->ds[K_SMOOTH_X], &sp, g.gx, g.gy, 1);
    vk_cmd_barrier(&ag->cmd);
    vk_cmd_dispatch(&ag->cmd, ag->k[K_SMOOTH_Y], ag->ds[K_SMOOTH_Y], &sp, g.gx, g.gy, 1);
    vk_cmd_barrier(&ag->cmd);
    if (!threshold)
        return;
    struct maxabs_push mp = {n};
    vk_cmd_dispatch(&ag->cmd, ag->k[K_MAXABS], ag->ds[K_MAXABS], &mp, count, 1, 1);
    vk_cmd_barrier(&ag->cmd);
    struct atoms_push p = push_of(ag, count, g);
    dispatch_cells(ag, K_TERNARY, &p, g);
}

/* `levels` closure passes on every frame of the batch, continuing from plane 0 (levels is
 * even, so the result is in plane 0 again); counters from ccnt's start. */
static void record_closure(struct atoms_gpu *ag, uint32_t count, uint32_t levels)
{
    uint32_t nn = ag->n * ag->n;
    vk_cmd_fill_zero(&ag->cmd, &ag->buf[B_CCNT], 0, ag->buf[B_CCNT].size);
    struct closure_record r = {CLOSURE_OP_CLOSURE, levels, CLOSURE_ETA, 0, 0, 0, 0, count, 2 * nn, ccnt_stride(),
                               (LEVELS_MAX + 1) * ag->groups, 2 * nn, LEVELS_MAX + 1};
    closure_gpu_record(ag->closure, &ag->cmd, &r);
}

/* Labelling iterations [from, to). Iteration t reads state t % 2, writes (t + 1) % 2. */
static void record_label(struct atoms_gpu *ag, uint32_t count, uint32_t from, uint32_t to)
{
    uint32_t nn = ag->n * ag->n, tiles = (ag->n + TILE - 1) / TILE;
    struct atoms_push p = push_of(ag, count, vk_grid_for(1, WG));
    for (uint32_t t = from; t < to; t++) {
        p.src = (t % 2) * ag->batch * nn;
        p.dst = ((t + 1) % 2) * ag->batch * nn;
        p.iter = t;
        vk_cmd_dispatch(&ag->cmd, ag->k[K_PROP], ag->ds[K_PROP], &p, tiles, tiles, count);
        vk_cmd_barrier(&ag->cmd);
    }
}

/* Ids, reductions and the copies to the host, from the label state after `iters`. */
static void record_reduce(struct atoms_gpu *ag, uint32_t count, uint32_t iters)
{
    uint32_t n = ag->n, nn = n * n, blocks = (nn + SCAN_BLOCK - 1) / SCAN_BLOCK;
    struct vk_grid g = vk_grid_for((uint64_t)count * nn, WG);
    struct atoms_push p = push_of(ag, count, g);
    p.src = (iters % 2) * ag->batch * nn;
    struct vk_cmd *c = &ag->cmd;
    vk_cmd_dispatch(c, ag->k[K_COUNT], ag->ds[K_COUNT], &p, blocks, count, 1);
    vk_cmd_barrier(c);
    vk_cmd_dispatch(c, ag->k[K_BLOCKS], ag->ds[K_BLOCKS], &p, count, 1, 1);
    vk_cmd_barrier(c);
    vk_cmd_dispatch(c, ag->k[K_ASSIGN], ag->ds[K_ASSIGN], &p, blocks, count, 1);
    vk_cmd_barrier(c);
    dispatch_cells(ag, K_SHAPE, &p, g);
    dispatch_cells(ag, K_SUMS, &p, g);
    dispatch_cells(ag, K_MOMENTS, &p, g);
    dispatch_cells(ag, K_PACK, &p, g);
    vk_cmd_copy(c, &ag->buf[B_META], 0, &ag->buf[B_META_H], 0, ag->buf[B_META].size);
    vk_cmd_copy(c, &ag->buf[B_CCNT], 0, &ag->buf[B_META_H], ag->buf[B_META].size, ag->buf[B_CCNT].size);
}

/* Submits and adds the stage times between the stamps (stage s between stamps s and s+1). */
static int submit(struct atoms_gpu *ag, struct dashi_error *err)
{
    if (vk_cmd_submit_wait(ag->vk, &ag->cmd, err) != 0)
        return -1;
    ag->stats.submits++;
    for (int s = 0; s + 1 < ag->nts && s < ATOMS_GPU_STAGES; s++) {
        double ms = vk_cmd_elapsed_ms(ag->vk, &ag->cmd, ag->ts[s], ag->ts[s + 1]);
        if (ms > 0)
            ag->stats.gpu_ms[s] += ms;
    }
    return 0;
}

static int begin(struct atoms_gpu *ag, struct dashi_error *err)
{
    if (vk_cmd_begin(ag->vk, &ag->cmd, err) != 0)
        return -1;
    ag->nts = 0;
    stamp(ag);
    return 0;
}

/* ---- the batch ---- */

static const uint32_t *meta_h(const struct atoms_gpu *ag, uint32_t b)
{
    return (const uint32_t *)ag->buf[B_META_H].mapped + (size_t)b * META_STRIDE;
}

static const uint32_t *ccnt_h(const struct atoms_gpu *ag, uint32_t b)
{
    return (const uint32_t *)((const char *)ag->buf[B_META_H].mapped + ag->buf[B_META].size) +
           (size_t)b * ccnt_stride();
}

/* One whole pass over the batch: upload, carrier (with `levels` closure passes, or the
 * given carriers when levels is 0), iterations [0, iters), reductions. */
static int first_submission(struct atoms_gpu *ag, uint32_t count, uint32_t levels, uint32_t iters,
                            struct dashi_error *err)
{
    if (begin(ag, err) != 0)
        return -1;
    record_upload(ag, count, levels == 0);
    stamp(ag);
    record_detail(ag, count, levels > 0);
    stamp(ag);
    if (levels > 0)
        record_closure(ag, count, levels);
    stamp(ag);
    record_label(ag, count, 0, iters);
    stamp(ag);
    record_reduce(ag, count, iters);
    stamp(ag);
    return submit(ag, err);
}

static int run(struct atoms_gpu *ag, uint32_t count, bool from_omega, struct atom_frame *frames, int *depths,
               struct dashi_error *err)
{
    double t0 = monotonic_ms();
    if (count > ag->batch)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "frames", "%u frames in a batch of %u", count, ag->batch);
    memset(&ag->stats, 0, sizeof ag->stats);
    ag->stats.frames = count;
    for (uint32_t b = 0; b < count; b++)
        memset(&frames[b], 0, sizeof frames[b]);
    if (count == 0)
        return 0;
    uint32_t nn = ag->n * ag->n;
    int depth[BATCH_MAX] = {0};
    uint32_t levels = from_omega ? ag->levels : 0, iters = ag->iters, total_levels = 0;
    if (first_submission(ag, count, levels, iters, err) != 0)
        return -1;
    ag->stats.closure_levels = levels;
    for (;;) {
        /* The closure: a frame whose last recorded pass still killed cells goes on. */
        bool closure_more = false;
        for (uint32_t b = 0; b < count && levels > 0; b++) {
            const uint32_t *cc = ccnt_h(ag, b);
            for (uint32_t k = 1; k <= levels; k++)
                depth[b] += cc[4 * k + 1] != 0;
            closure_more |= cc[4 * levels + 1] != 0;
        }
        total_levels += levels;
        if (closure_more) {
            if (total_levels >= TOTAL_LEVELS_MAX)
                return dashi_fail(err, DASHI_E_INTERNAL, "", "the closure reached no fixed point in %u passes",
                                  TOTAL_LEVELS_MAX);
            levels = levels < 8 ? 16 : levels < LEVELS_MAX / 2 ? 2 * levels : LEVELS_MAX;
            ag->stats.closure_levels += levels;
            if (begin(ag, err) != 0)
                return -1;
            stamp(ag); /* no upload, no detail */
            stamp(ag);
            record_closure(ag, count, levels);
            stamp(ag);
            vk_cmd_fill_zero(&ag->cmd, &ag->buf[B_META], 0, ag->buf[B_META].size);
            vk_cmd_barrier(&ag->cmd);
            record_label(ag, count, 0, iters);
            stamp(ag);
            record_reduce(ag, count, iters);
            stamp(ag);
            if (submit(ag, err) != 0)
                return -1;
            continue;
        }
        /* The labelling: converged when its last iteration changed nothing. */
        bool label_more = false;
        for (uint32_t b = 0; b < count; b++)
            label_more |= meta_h(ag, b)[4 + iters - 1] != 0;
        if (!label_more)
            break;
        uint32_t more = iters < META_ITERS - iters ? iters : META_ITERS - iters;
        if (more == 0)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "the labelling did not converge in %u iterations",
                              META_ITERS);
        levels = 0;
        if (begin(ag, err) != 0)
            return -1;
        stamp(ag);
        stamp(ag);
        stamp(ag);
        record_label(ag, count, iters, iters + more);
        stamp(ag);
        record_reduce(ag, count, iters + more);
        stamp(ag);
        if (submit(ag, err) != 0)
            return -1;
        iters += more;
    }
    ag->stats.label_iters = iters;

    /* Adapt the next batch's first submission to what this one needed (+ the pass or
     * iteration that confirms the fixed point, + one; never fewer closure passes than the
     * first batch's, as passes past the fixed point are cheap copies while a short count
     * costs a submission). */
    uint32_t need_iters = 1, max_depth = 0;
    for (uint32_t b = 0; b < count; b++) {
        const uint32_t *m = meta_h(ag, b);
        uint32_t t = 0;
        while (t < iters && m[4 + t] != 0)
            t++;
        need_iters = t + 1 > need_iters ? t + 1 : need_iters;
        max_depth = (uint32_t)depth[b] > max_depth ? (uint32_t)depth[b] : max_depth;
        if (m[1])
            return dashi_fail(err, DASHI_E_BAD_VALUE, "carrier", "frame %u has %u atoms, more than a closed carrier "
                              "can have (%u)", b, m[0], ag->cap);
    }
    ag->iters = need_iters + 1 < 2 ? 2 : need_iters + 1 > 64 ? 64 : need_iters + 1;
    if (from_omega) {
        uint32_t l = (max_depth + 3) & ~1u;
        ag->levels = l < FIRST_LEVELS ? FIRST_LEVELS : l > LEVELS_MAX ? LEVELS_MAX : l;
    }

    double t1 = monotonic_ms();
    const struct atoms_gpu_rec *recs = ag->buf[B_RECS_H].mapped;
    const int32_t *labels = ag->buf[B_LABELS_H].mapped;
    for (uint32_t b = 0; b < count; b++) {
        uint32_t wind = 0;
        if (atoms_gpu_finish_frame(recs + (size_t)b * ag->cap, meta_h(ag, b)[0], labels + (size_t)b * nn,
                                   atoms_gpu_frame(ag, b), ag->n, BOX, &frames[b], &wind, err) != 0) {
            for (uint32_t e = 0; e < b; e++)
                atom_frame_free(&frames[e]);
            return -1;
        }
        ag->stats.winding += wind;
        if (depths)
            depths[b] = depth[b];
    }
    ag->stats.finish_ms = monotonic_ms() - t1;
    ag->stats.wall_ms = monotonic_ms() - t0;
    return 0;
}

int atoms_gpu_run(struct atoms_gpu *ag, uint32_t count, struct atom_frame *frames, int *depths,
                  struct dashi_error *err)
{
    return run(ag, count, true, frames, depths, err);
}

int atoms_gpu_run_carriers(struct atoms_gpu *ag, uint32_t count, const int8_t *carriers, struct atom_frame *frames,
                           struct dashi_error *err)
{
    size_t nn = (size_t)ag->n * ag->n;
    if (count > ag->batch)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "frames", "%u frames in a batch of %u", count, ag->batch);
    int32_t *stage = ag->buf[B_LABELS_H].mapped;
    for (size_t c = 0; c < count * nn; c++) {
        if (carriers[c] < -1 || carriers[c] > 1)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "carrier", "carrier value %d at cell %zu is not in {-1,0,1}",
                              carriers[c], c % nn);
        stage[c] = carriers[c];
    }
    return run(ag, count, false, frames, NULL, err);
}
