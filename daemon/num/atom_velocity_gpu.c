/* SPDX-License-Identifier: MIT */
/* GPU path of atom_velocity.h (kernels in shaders/atom_velocity.comp). One velocity
 * evaluation is four dispatches: per-atom 1-D tables, the mode sums per tile and chunk of
 * atoms, the chunk reduction and Poisson factors per mode, and the per-atom sum over
 * modes, which also performs the RK stage. The atoms stay on the device across stages
 * and substeps: an advect call is one command buffer (copy in from a mapped staging
 * buffer, every stage of every substep, copy out) and one submission.
 *
 * Determinism: the split into chunks depends only on the atom count, every sum runs in a
 * fixed order, and no atomics are used, so a device gives the same bits on every run. */
#include "atom_velocity.h"

#include <math.h>
#include <stdlib.h>

#define CHUNK_MIN 256u   /* atoms per chunk of the mode sums, at least */
#define CHUNKS_MAX 64u   /* chunks at most (bounds the partials buffer) */
#define ATOM_STRIDE 6u   /* doubles per atom on the device: x, y, xe, ye, q, c */
#define LOCAL 64u        /* invocations per workgroup of the per-atom/per-mode kernels */
#define TILE_COLS 16u    /* m_x per workgroup of atom_modes */
#define TILE_ROWS 8u     /* m_y per workgroup of atom_modes */
#define MAX_CAPACITY 4000000u /* keeps ceil(capacity / LOCAL) within the dispatch limit */

/* Push constants of every atom_* kernel (std430: doubles first). */
struct atom_push {
    double box, h;
    uint32_t count, kmax, cap, chunks, chunk_len, stage;
};

enum { K_TABLES, K_MODES, K_REDUCE, K_MOVE, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"atom_tables", "atom_modes", "atom_reduce", "atom_move"};

enum { B_ATOMS, B_TX, B_TY, B_PART, B_MODES, B_VEL, B_COUNT };

struct atom_velocity_gpu {
    struct vk_runtime *vk;
    size_t cap;
    uint32_t kmax, width, modes;
    const struct vk_kernel *kernels[K_COUNT];
    VkDescriptorSet sets[K_COUNT];
    struct vk_buffer bufs[B_COUNT];
    struct vk_buffer staging; /* host-visible, ATOM_STRIDE × cap doubles: atoms in, atoms or (u, v) out */
    struct vk_cmd cmd;
    double last_ms;
};

static uint64_t buffer_bytes(int which, size_t cap, uint32_t kmax)
{
    uint64_t modes = ((uint64_t)kmax + 1) * (2 * (uint64_t)kmax + 1);
    switch (which) {
    case B_ATOMS:
        return (uint64_t)cap * ATOM_STRIDE * sizeof(double);
    case B_TX:
    case B_TY:
        return ((uint64_t)kmax + 1) * cap * 2 * sizeof(double);
    case B_PART:
        return CHUNKS_MAX * modes * 2 * sizeof(double);
    case B_MODES:
        return modes * 4 * sizeof(double);
    default:
        return (uint64_t)cap * 2 * sizeof(double);
    }
}

uint64_t atom_velocity_gpu_bytes(size_t capacity, uint32_t kmax)
{
    uint64_t total = 0;
    for (int b = 0; b < B_COUNT; b++)
        total += buffer_bytes(b, capacity ? capacity : 1, kmax);
    return total;
}

void atom_velocity_gpu_destroy(struct atom_velocity_gpu *g)
{
    if (!g)
        return;
    vk_cmd_destroy(g->vk, &g->cmd);
    for (int k = 0; k < K_COUNT; k++)
        vk_descriptor_set_free(g->vk, g->sets[k]);
    for (int b = 0; b < B_COUNT; b++)
        vk_buffer_free(g->vk, &g->bufs[b]);
    vk_buffer_free(g->vk, &g->staging);
    free(g);
}

int atom_velocity_gpu_create(struct vk_runtime *vk, size_t capacity, uint32_t kmax, struct atom_velocity_gpu **out,
                             struct dashi_error *err)
{
    if (kmax < 1 || kmax > ATOM_VELOCITY_MAX_KMAX)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "kmax", "kmax must be in [1, %d], got %u", ATOM_VELOCITY_MAX_KMAX,
                          kmax);
    if (capacity < 1 || capacity > MAX_CAPACITY)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "atoms", "the GPU path takes 1 to %u atoms, asked %zu",
                          MAX_CAPACITY, capacity);
    struct atom_velocity_gpu *g = calloc(1, sizeof *g);
    if (!g)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    g->vk = vk;
    g->cap = capacity;
    g->kmax = kmax;
    g->width = 2 * kmax + 1;
    g->modes = (kmax + 1) * g->width;
    g->last_ms = -1;
    if (vk_buffer_alloc(vk, buffer_bytes(B_ATOMS, capacity, kmax), VK_MEM_HOST, &g->staging, err) != 0) {
        atom_velocity_gpu_destroy(g);
        return -1;
    }
    for (int b = 0; b < B_COUNT; b++)
        if (vk_buffer_alloc(vk, buffer_bytes(b, capacity, kmax), VK_MEM_DEVICE, &g->bufs[b], err) != 0) {
            atom_velocity_gpu_destroy(g);
            return -1;
        }
    const struct vk_buffer *bind[B_COUNT];
    for (int b = 0; b < B_COUNT; b++)
        bind[b] = &g->bufs[b];
    for (int k = 0; k < K_COUNT; k++)
        if (vk_kernel_get(vk, kernel_names[k], B_COUNT, sizeof(struct atom_push), NULL, 0, &g->kernels[k], err) != 0 ||
            vk_descriptor_set(vk, g->kernels[k], bind, &g->sets[k], err) != 0) {
            atom_velocity_gpu_destroy(g);
            return -1;
        }
    if (vk_cmd_create(vk, &g->cmd, err) != 0) {
        atom_velocity_gpu_destroy(g);
        return -1;
    }
    *out = g;
    return 0;
}

/* Chunks of the mode sums: a function of the count alone, so the order is too. */
static void split_chunks(size_t count, uint32_t *chunks, uint32_t *chunk_len)
{
    size_t s = (count + CHUNK_MIN - 1) / CHUNK_MIN;
    if (s < 1)
        s = 1;
    if (s > CHUNKS_MAX)
        s = CHUNKS_MAX;
    size_t len = (count + s - 1) / s;
    len = (len + TILE_COLS - 1) / TILE_COLS * TILE_COLS;
    *chunk_len = (uint32_t)len;
    *chunks = (uint32_t)((count + len - 1) / len);
}

/* Records one velocity evaluation at the atoms' evaluation points and its stage:
 * 0 stores (u, v), 1 moves the evaluation point to the midpoint, 2 completes the step. */
static void record_eval(struct atom_velocity_gpu *g, size_t count, double box, double h, uint32_t stage)
{
    struct atom_push p = {.box = box, .h = h, .count = (uint32_t)count, .kmax = g->kmax, .cap = (uint32_t)g->cap,
                          .stage = stage};
    split_chunks(count, &p.chunks, &p.chunk_len);
    uint32_t atom_groups = (uint32_t)((count + LOCAL - 1) / LOCAL);
    vk_cmd_dispatch(&g->cmd, g->kernels[K_TABLES], g->sets[K_TABLES], &p, atom_groups, 1, 1);
    vk_cmd_barrier(&g->cmd);
    vk_cmd_dispatch(&g->cmd, g->kernels[K_MODES], g->sets[K_MODES], &p, (g->width + TILE_COLS - 1) / TILE_COLS,
                    (g->kmax + 1 + TILE_ROWS - 1) / TILE_ROWS, p.chunks);
    vk_cmd_barrier(&g->cmd);
    vk_cmd_dispatch(&g->cmd, g->kernels[K_REDUCE], g->sets[K_REDUCE], &p, (g->modes + LOCAL - 1) / LOCAL, 1, 1);
    vk_cmd_barrier(&g->cmd);
    vk_cmd_dispatch(&g->cmd, g->kernels[K_MOVE], g->sets[K_MOVE], &p, atom_groups, 1, 1);
    vk_cmd_barrier(&g->cmd);
}

/* Packs the atoms into the staging buffer and begins a command buffer that copies them
 * to the device; a timestamp then opens the timed span. */
static int begin_with_atoms(struct atom_velocity_gpu *g, const struct atom_point *a, size_t count, double box,
                            int *ts, struct dashi_error *err)
{
    double k1 = 2 * M_PI / box;
    double *staging = g->staging.mapped;
    for (size_t i = 0; i < count; i++) {
        double *s = staging + ATOM_STRIDE * i;
        double ke = k1 * a[i].eps;
        s[0] = s[2] = a[i].x;
        s[1] = s[3] = a[i].y;
        s[4] = a[i].q;
        s[5] = 0.5 * ke * ke;
    }
    if (vk_cmd_begin(g->vk, &g->cmd, err) != 0)
        return -1;
    *ts = vk_cmd_timestamp(&g->cmd);
    vk_cmd_copy(&g->cmd, &g->staging, 0, &g->bufs[B_ATOMS], 0, count * ATOM_STRIDE * sizeof(double));
    vk_cmd_barrier(&g->cmd);
    return 0;
}

/* Copies bytes of buffer `which` into the staging buffer, submits and waits. */
static int finish_with(struct atom_velocity_gpu *g, int which, size_t bytes, int ts, struct dashi_error *err)
{
    vk_cmd_copy(&g->cmd, &g->bufs[which], 0, &g->staging, 0, bytes);
    int te = vk_cmd_timestamp(&g->cmd);
    if (vk_cmd_submit_wait(g->vk, &g->cmd, err) != 0)
        return -1;
    g->last_ms = vk_cmd_elapsed_ms(g->vk, &g->cmd, ts, te);
    return 0;
}

double atom_velocity_gpu_last_ms(const struct atom_velocity_gpu *g)
{
    return g->last_ms;
}

static int check_count(const struct atom_velocity_gpu *g, size_t count, struct dashi_error *err)
{
    if (count > g->cap)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "atoms", "%zu atoms exceed the capacity of %zu", count, g->cap);
    return 0;
}

int atom_velocity_gpu_eval(struct atom_velocity_gpu *g, const struct atom_point *a, size_t count, double box,
                           double *u, double *v, struct dashi_error *err)
{
    if (check_count(g, count, err) != 0 || atom_velocity_check(a, count, g->kmax, box, err) != 0)
        return -1;
    if (count > 0 && (!u || !v))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "velocity", "no output arrays given");
    if (count == 0)
        return 0;
    int ts;
    if (begin_with_atoms(g, a, count, box, &ts, err) != 0)
        return -1;
    record_eval(g, count, box, 0, 0);
    if (finish_with(g, B_VEL, count * 2 * sizeof(double), ts, err) != 0)
        return -1;
    const double *out = g->staging.mapped;
    for (size_t i = 0; i < count; i++) {
        u[i] = out[2 * i];
        v[i] = out[2 * i + 1];
    }
    return 0;
}

int atom_advect_gpu(struct atom_velocity_gpu *g, struct atom_point *a, size_t count, double box, double dt,
                    uint32_t substeps, struct dashi_error *err)
{
    if (check_count(g, count, err) != 0 || atom_advect_check(a, count, g->kmax, box, dt, substeps, err) != 0)
        return -1;
    if (count == 0)
        return 0;
    int ts;
    if (begin_with_atoms(g, a, count, box, &ts, err) != 0)
        return -1;
    double h = dt / substeps;
    for (uint32_t s = 0; s < substeps; s++) {
        record_eval(g, count, box, h, 1);
        record_eval(g, count, box, h, 2);
    }
    if (finish_with(g, B_ATOMS, count * ATOM_STRIDE * sizeof(double), ts, err) != 0)
        return -1;
    const double *out = g->staging.mapped;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(out[ATOM_STRIDE * i]) || !isfinite(out[ATOM_STRIDE * i + 1]))
            return dashi_fail(err, DASHI_E_DIVERGED, "atoms", "atom %zu left the box after advection", i);
    for (size_t i = 0; i < count; i++) {
        a[i].x = out[ATOM_STRIDE * i];
        a[i].y = out[ATOM_STRIDE * i + 1];
    }
    return 0;
}
