/* SPDX-License-Identifier: MIT */
/* The GPU half of the ridge fit (ridge_gpu.h). All matrices live in one device buffer
 * (element offsets below); a host-visible buffer with the same layout carries them to
 * and from the device, copied inside the two recorded submissions. Every product is
 * C = A·Bᵀ of row-major matrices (shaders/ridge_gemm.comp); the other shapes use
 * transposed copies (shaders/ridge_transpose.comp), which move values and round none. */
#include "ridge_gpu.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_TILE 64u
#define TRSM_COLS 32u
#define TRANSPOSE_TILE 32u

struct gemm_push {
    uint32_t M, N, K;
    uint32_t a_off, lda, b_off, ldb, c_off, ldc;
};
struct trsm_push {
    uint32_t n, nrhs, l_off, w_off;
};
struct transpose_push {
    uint32_t R, C, in_off, out_off;
};

struct ridge_gpu {
    struct vk_runtime *vk;
    uint32_t T, D, n;
    bool dual, shared_xy;
    /* element offsets into mat (and stage); xt, yt, wt, at: transposed copies */
    uint64_t x_off, y_off, g_off, w_off, a_off, s_off, xa_off, xt_off, yt_off, wt_off, at_off, total;
    struct vk_buffer mat, stage;
    const struct vk_kernel *k_gemm, *k_trsm[2], *k_transpose;
    VkDescriptorSet ds_gemm, ds_trsm[2], ds_transpose;
    bool have_gemm, have_trsm[2], have_transpose, have_cmd;
    struct vk_cmd cmd;
    double gpu_ms;
};

static void copy_elems(struct ridge_gpu *g, bool to_device, uint64_t off, uint64_t count)
{
    VkDeviceSize bytes = count * sizeof(double), at = off * sizeof(double);
    if (to_device)
        vk_cmd_copy(&g->cmd, &g->stage, at, &g->mat, at, bytes);
    else
        vk_cmd_copy(&g->cmd, &g->mat, at, &g->stage, at, bytes);
}

/* C (M×N) = A (M×K) · Bᵀ (B: N×K), all row-major and dense (row strides K, K, N). */
static void gemm_nt(struct ridge_gpu *g, uint32_t M, uint32_t N, uint32_t K, uint64_t a_off, uint64_t b_off,
                    uint64_t c_off)
{
    struct gemm_push p = {M, N, K, (uint32_t)a_off, K, (uint32_t)b_off, K, (uint32_t)c_off, N};
    vk_cmd_dispatch(&g->cmd, g->k_gemm, g->ds_gemm, &p, (N + GEMM_TILE - 1) / GEMM_TILE,
                    (M + GEMM_TILE - 1) / GEMM_TILE, 1);
}

/* out (C×R) = in (R×C)ᵀ. */
static void transpose(struct ridge_gpu *g, uint32_t R, uint32_t C, uint64_t in_off, uint64_t out_off)
{
    struct transpose_push p = {R, C, (uint32_t)in_off, (uint32_t)out_off};
    vk_cmd_dispatch(&g->cmd, g->k_transpose, g->ds_transpose, &p, (C + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE,
                    (R + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE, 1);
}

static void trsm(struct ridge_gpu *g, int backward)
{
    struct trsm_push p = {g->n, g->D, (uint32_t)g->g_off, (uint32_t)g->w_off};
    vk_cmd_dispatch(&g->cmd, g->k_trsm[backward], g->ds_trsm[backward], &p, (g->D + TRSM_COLS - 1) / TRSM_COLS, 1,
                    1);
}

void ridge_gpu_close(struct ridge_gpu *g)
{
    if (!g)
        return;
    if (g->have_cmd)
        vk_cmd_destroy(g->vk, &g->cmd);
    if (g->have_gemm)
        vk_descriptor_set_free(g->vk, g->ds_gemm);
    for (int b = 0; b < 2; b++)
        if (g->have_trsm[b])
            vk_descriptor_set_free(g->vk, g->ds_trsm[b]);
    if (g->have_transpose)
        vk_descriptor_set_free(g->vk, g->ds_transpose);
    vk_buffer_free(g->vk, &g->mat);
    vk_buffer_free(g->vk, &g->stage);
    free(g);
}

int ridge_gpu_open(struct vk_runtime *vk, const double *X, const double *Y, uint32_t T, uint32_t D,
                   struct ridge_gpu **out, struct dashi_error *err)
{
    struct ridge_gpu *g = calloc(1, sizeof *g);
    if (!g)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    g->vk = vk;
    g->mat.block = g->stage.block = -1;
    g->T = T, g->D = D;
    g->dual = T < D;
    g->n = g->dual ? T : D;
    g->shared_xy = Y == X + D;
    uint64_t td = (uint64_t)T * D, dd = (uint64_t)D * D, nn = (uint64_t)g->n * g->n;
    g->x_off = 0;
    g->y_off = g->shared_xy ? D : td;
    g->g_off = g->shared_xy ? td + D : 2 * td;
    g->w_off = g->g_off + nn;
    g->a_off = g->w_off + (g->dual ? td : dd);   /* primal: A is W */
    g->s_off = g->a_off + (g->dual ? dd : 0);
    g->xa_off = g->s_off + (g->dual ? (uint64_t)T * T : 0);
    g->xt_off = g->xa_off + td;
    g->yt_off = g->xt_off + td;                   /* primal only */
    g->wt_off = g->yt_off + (g->dual ? 0 : td);   /* dual only */
    g->at_off = g->wt_off + (g->dual ? td : 0);
    g->total = g->at_off + dd;
    /* The kernels index with 32 bits: every element offset must fit. */
    if (g->total >= (1ull << 32)) {
        ridge_gpu_close(g);
        return dashi_fail(err, DASHI_E_TOO_LARGE, "frames", "T = %u, D = %u is too large for the GPU fit", T, D);
    }
    if (vk_buffer_alloc(vk, g->total * sizeof(double), VK_MEM_DEVICE, &g->mat, err) != 0 ||
        vk_buffer_alloc(vk, g->total * sizeof(double), VK_MEM_HOST, &g->stage, err) != 0) {
        ridge_gpu_close(g);
        return -1;
    }
    const struct vk_buffer *bufs[] = {&g->mat};
    const uint32_t backward[2] = {0, 1};
    if (vk_kernel_get(vk, "ridge_gemm", 1, sizeof(struct gemm_push), NULL, 0, &g->k_gemm, err) != 0 ||
        vk_kernel_get(vk, "ridge_trsm", 1, sizeof(struct trsm_push), &backward[0], 1, &g->k_trsm[0], err) != 0 ||
        vk_kernel_get(vk, "ridge_trsm", 1, sizeof(struct trsm_push), &backward[1], 1, &g->k_trsm[1], err) != 0 ||
        vk_kernel_get(vk, "ridge_transpose", 1, sizeof(struct transpose_push), NULL, 0, &g->k_transpose, err) != 0 ||
        vk_descriptor_set(vk, g->k_gemm, bufs, &g->ds_gemm, err) != 0) {
        ridge_gpu_close(g);
        return -1;
    }
    g->have_gemm = true;
    for (int b = 0; b < 2; b++) {
        if (vk_descriptor_set(vk, g->k_trsm[b], bufs, &g->ds_trsm[b], err) != 0) {
            ridge_gpu_close(g);
            return -1;
        }
        g->have_trsm[b] = true;
    }
    if (vk_descriptor_set(vk, g->k_transpose, bufs, &g->ds_transpose, err) != 0) {
        ridge_gpu_close(g);
        return -1;
    }
    g->have_transpose = true;
    if (vk_cmd_create(vk, &g->cmd, err) != 0) {
        ridge_gpu_close(g);
        return -1;
    }
    g->have_cmd = true;
    double *st = g->stage.mapped;
    memcpy(st + g->x_off, X, td * sizeof(double));
    if (g->shared_xy)
        memcpy(st + g->x_off + td, Y + td - D, D * sizeof(double)); /* the last row of Y */
    else
        memcpy(st + g->y_off, Y, td * sizeof(double));
    *out = g;
    return 0;
}

/* Ends, submits, waits; adds the GPU time between the two timestamps. */
static int submit(struct ridge_gpu *g, int t0, struct dashi_error *err)
{
    int t1 = vk_cmd_timestamp(&g->cmd);
    if (vk_cmd_submit_wait(g->vk, &g->cmd, err) != 0)
        return -1;
    double ms = t0 >= 0 && t1 >= 0 ? vk_cmd_elapsed_ms(g->vk, &g->cmd, t0, t1) : -1;
    g->gpu_ms = ms >= 0 && g->gpu_ms >= 0 ? g->gpu_ms + ms : -1;
    return 0;
}

int ridge_gpu_normal(struct ridge_gpu *g, double *G, struct dashi_error *err)
{
    uint32_t T = g->T, D = g->D;
    uint64_t td = (uint64_t)T * D;
    if (vk_cmd_begin(g->vk, &g->cmd, err) != 0)
        return -1;
    g->gpu_ms = 0;
    int t0 = vk_cmd_timestamp(&g->cmd);
    copy_elems(g, true, g->x_off, g->shared_xy ? td + D : 2 * td);
    vk_cmd_barrier(&g->cmd);
    transpose(g, T, D, g->x_off, g->xt_off);
    if (!g->dual)
        transpose(g, T, D, g->y_off, g->yt_off);
    if (g->dual) { /* G(i,j) = Σ_d X(i,d) X(j,d) */
        gemm_nt(g, T, T, D, g->x_off, g->x_off, g->g_off);
    } else {       /* G(i,j) = Σ_t X(t,i) X(t,j);  W(i,j) = Σ_t X(t,i) Y(t,j) */
        vk_cmd_barrier(&g->cmd);
        gemm_nt(g, D, D, T, g->xt_off, g->xt_off, g->g_off);
        gemm_nt(g, D, D, T, g->xt_off, g->yt_off, g->w_off);
    }
    vk_cmd_barrier(&g->cmd);
    copy_elems(g, false, g->g_off, (uint64_t)g->n * g->n);
    if (submit(g, t0, err) != 0)
        return -1;
    memcpy(G, (double *)g->stage.mapped + g->g_off, (size_t)g->n * g->n * sizeof(double));
    return 0;
}

int ridge_gpu_solve(struct ridge_gpu *g, const double *U, double *A, double *S, double *XA, struct dashi_error *err)
{
    uint32_t T = g->T, D = g->D;
    uint64_t td = (uint64_t)T * D, dd = (uint64_t)D * D, nn = (uint64_t)g->n * g->n;
    double *st = g->stage.mapped;
    memcpy(st + g->g_off, U, nn * sizeof(double));
    if (vk_cmd_begin(g->vk, &g->cmd, err) != 0)
        return -1;
    int t0 = vk_cmd_timestamp(&g->cmd);
    copy_elems(g, true, g->g_off, nn);
    if (g->dual) /* the right-hand sides: Y */
        vk_cmd_copy(&g->cmd, &g->mat, g->y_off * sizeof(double), &g->mat, g->w_off * sizeof(double),
                    td * sizeof(double));
    vk_cmd_barrier(&g->cmd);
    trsm(g, 0);
    vk_cmd_barrier(&g->cmd);
    trsm(g, 1);
    vk_cmd_barrier(&g->cmd);
    uint64_t a_off = g->dual ? g->a_off : g->w_off;
    if (g->dual) {
        transpose(g, T, D, g->w_off, g->wt_off);
        if (S) /* S(i,j) = Σ_d W(i,d) X(j,d), stored column-major: element (j, i) of X·Wᵀ row-major */
            gemm_nt(g, T, T, D, g->x_off, g->w_off, g->s_off);
        vk_cmd_barrier(&g->cmd);
        gemm_nt(g, D, D, T, g->xt_off, g->wt_off, g->a_off); /* A(i,j) = Σ_t X(t,i) W(t,j) */
        vk_cmd_barrier(&g->cmd);
    }
    transpose(g, D, D, a_off, g->at_off);
    vk_cmd_barrier(&g->cmd);
    gemm_nt(g, T, D, D, g->x_off, g->at_off, g->xa_off); /* XA(t,i) = Σ_l X(t,l) A(l,i) */
    vk_cmd_barrier(&g->cmd);
    copy_elems(g, false, a_off, dd);
    if (g->dual && S)
        copy_elems(g, false, g->s_off, (uint64_t)T * T);
    copy_elems(g, false, g->xa_off, td);
    if (submit(g, t0, err) != 0)
        return -1;
    memcpy(A, st + a_off, dd * sizeof(double));
    if (g->dual && S)
        memcpy(S, st + g->s_off, (size_t)T * T * sizeof(double));
    memcpy(XA, st + g->xa_off, td * sizeof(double));
    return 0;
}

double ridge_gpu_ms(const struct ridge_gpu *g)
{
    return g->gpu_ms;
}
