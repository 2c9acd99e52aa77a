/* SPDX-License-Identifier: MIT */
/* The split product: digits, buffers and dispatches (see rollout_split.h). */
#include "rollout_split.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rollout_split {
    struct vk_runtime *vk;
    uint32_t D, B, DP, BP, digits;
    bool matrices;
    struct vk_buffer ad, zd, exps;
    const struct vk_kernel *slice, *gemm;
    VkDescriptorSet slice_set, gemm_set;
    uint32_t slice_groups, gemm_groups_x, gemm_groups_y;
};

static uint32_t round_up(uint32_t x, uint32_t m)
{
    return (x + m - 1) / m * m;
}

/* Rows and columns are padded to the matrix kernel's 32×32 tiles (and k-steps of 32). */
static uint32_t padded(uint32_t n)
{
    return round_up(n, 32);
}

bool rollout_split_exact_for(uint32_t D, uint32_t digits)
{
    return digits >= 1 && digits <= SPLIT_DIGITS && (uint64_t)digits * padded(D) * 127 * 127 < ((uint64_t)1 << 31);
}

uint64_t rollout_split_memory_estimate(uint32_t D, uint32_t B, uint32_t digits)
{
    uint64_t DP = padded(D), BP = padded(B);
    return (uint64_t)digits * DP * DP + (uint64_t)digits * BP * DP + 4 * (DP + BP) + 3 * 256;
}

/* The exponent e with |x| <= m < 2^e for the largest magnitude m (0 for zeros), and the
 * digits of x: floor(|x| 2^(7S-e)) cut into S 7-bit pieces, most significant first,
 * carrying x's sign. The slice kernel does exactly this. */
static int exponent_of_max(double m)
{
    int e = 0;
    if (m > 0 && isfinite(m))
        frexp(m, &e);
    return e;
}

static void digits_of(double v, int e, uint32_t S, int8_t *d, size_t plane_stride)
{
    /* < 2^(7S) <= 2^56 for finite v (|v| < 2^e); a non-finite state has been flagged by
     * the step that made it, its digits do not matter. */
    uint64_t X = isfinite(v) ? (uint64_t)(fabs(ldexp(v, -e)) * ldexp(1.0, (int)(7 * S))) : 0;
    for (uint32_t i = 0; i < S; i++) {
        int x = (int)((X >> (7 * (S - 1 - i))) & 127);
        d[i * plane_stride] = (int8_t)(v < 0 ? -x : x);
    }
}

/* A's digit planes (S × DP × DP, column c scaled by its own exponent) and exponents. */
static void split_operator(const double *A, uint32_t D, uint32_t DP, uint32_t S, int8_t *ad, int *col_exp)
{
    memset(ad, 0, (size_t)S * DP * DP);
    for (uint32_t c = 0; c < DP; c++) {
        col_exp[c] = 0; /* padding columns: zero digits */
        if (c >= D)
            continue;
        double m = 0;
        for (uint32_t k = 0; k < D; k++)
            m = fmax(m, fabs(A[(size_t)k * D + c]));
        col_exp[c] = exponent_of_max(m);
        for (uint32_t k = 0; k < D; k++)
            digits_of(A[(size_t)k * D + c], col_exp[c], S, ad + (size_t)k * DP + c, (size_t)DP * DP);
    }
}

void rollout_split_ref_step(const double *A, const double *z, double *out, uint32_t D, uint32_t B, uint32_t S)
{
    uint32_t DP = padded(D);
    int8_t *ad = malloc((size_t)S * DP * DP), *zd = malloc((size_t)S * DP);
    int *col_exp = malloc(DP * sizeof *col_exp);
    if (!ad || !zd || !col_exp) {
        for (size_t i = 0; i < (size_t)B * D; i++)
            out[i] = NAN;
        free(ad);
        free(zd);
        free(col_exp);
        return;
    }
    split_operator(A, D, DP, S, ad, col_exp);
    for (uint32_t b = 0; b < B; b++) {
        const double *row = z + (size_t)b * D;
        double m = 0;
        for (uint32_t k = 0; k < D; k++)
            m = fmax(m, fabs(row[k]));
        int e = exponent_of_max(m);
        for (uint32_t k = 0; k < D; k++)
            digits_of(row[k], e, S, zd + k, DP);
        for (uint32_t c = 0; c < D; c++) {
            int32_t acc[SPLIT_DIGITS] = {0};
            for (uint32_t k = 0; k < D; k++)
                for (uint32_t j = 0; j < S; j++)
                    for (uint32_t i = 0; i + j < S; i++)
                        acc[i + j] += (int32_t)zd[(size_t)i * DP + k] * ad[(size_t)j * DP * DP + (size_t)k * DP + c];
            double v = 0;
            for (int q = (int)S - 1; q >= 0; q--)
                v = v + (double)acc[q] * ldexp(1.0, -7 * (q + 2));
            out[(size_t)b * D + c] = ldexp(v, e + col_exp[c]);
        }
    }
    free(ad);
    free(zd);
    free(col_exp);
}

static int build_kernels(struct rollout_split *s, struct dashi_error *err)
{
    uint32_t nt = s->vk->max_workgroup_size >= 128 ? 128 : 32;
    uint32_t slice_spec[6] = {s->D, s->DP, s->B, s->BP, s->digits, nt};
    if (vk_kernel_get(s->vk, "rollout_split_slice", 5, 12, slice_spec, 6, &s->slice, err) != 0)
        return -1;
    s->slice_groups = s->BP;
    if (s->matrices) {
        char name[64];
        snprintf(name, sizeof name, "rollout_split_mm_s%u", s->digits);
        uint32_t spec[4] = {s->D, s->DP, s->B, s->BP};
        s->gemm_groups_x = s->DP / 32;
        s->gemm_groups_y = s->BP / 32;
        return vk_kernel_get(s->vk, name, 5, 12, spec, 4, &s->gemm, err);
    }
    uint32_t spec[5] = {s->D, s->DP, s->B, s->BP, s->digits};
    s->gemm_groups_x = (s->D + 15) / 16;
    s->gemm_groups_y = (s->B + 15) / 16;
    return vk_kernel_get(s->vk, "rollout_split_gemm", 5, 12, spec, 5, &s->gemm, err);
}

int rollout_split_create(struct vk_runtime *vk, uint32_t D, uint32_t B, uint32_t digits, bool portable,
                         const double *A, const struct vk_buffer *states, const struct vk_buffer *flags,
                         struct rollout_split **out, struct dashi_error *err)
{
    *out = NULL;
    if (!rollout_split_exact_for(D, digits))
        return dashi_fail(err, DASHI_E_INTERNAL, "", "split product with %u digits is not exact for D=%u", digits, D);
    struct rollout_split *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    s->vk = vk;
    s->D = D;
    s->B = B;
    s->digits = digits;
    s->matrices = vk->int8_matrix && !portable && (digits == 7 || digits == 8);
    s->DP = padded(D);
    s->BP = padded(B);
    s->ad.block = s->zd.block = s->exps.block = -1;
    int8_t *ad = malloc((size_t)digits * s->DP * s->DP);
    int *exps = calloc((size_t)s->DP + s->BP, sizeof *exps);
    int rc = -1;
    if (!ad || !exps) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto done;
    }
    split_operator(A, D, s->DP, digits, ad, exps);
    if (vk_buffer_alloc(vk, (VkDeviceSize)digits * s->DP * s->DP, VK_MEM_DEVICE, &s->ad, err) != 0 ||
        vk_buffer_alloc(vk, (VkDeviceSize)digits * s->BP * s->DP, VK_MEM_DEVICE, &s->zd, err) != 0 ||
        vk_buffer_alloc(vk, ((VkDeviceSize)s->DP + s->BP) * 4, VK_MEM_DEVICE, &s->exps, err) != 0 ||
        vk_upload(vk, &s->ad, 0, ad, (size_t)digits * s->DP * s->DP, err) != 0 ||
        vk_upload(vk, &s->exps, 0, exps, ((size_t)s->DP + s->BP) * 4, err) != 0 || build_kernels(s, err) != 0)
        goto done;
    const struct vk_buffer *bufs[5] = {&s->ad, states, flags, &s->zd, &s->exps};
    if (vk_descriptor_set(vk, s->slice, bufs, &s->slice_set, err) != 0 ||
        vk_descriptor_set(vk, s->gemm, bufs, &s->gemm_set, err) != 0)
        goto done;
    *out = s;
    rc = 0;
done:
    free(ad);
    free(exps);
    if (rc != 0)
        rollout_split_destroy(s);
    return rc;
}

void rollout_split_destroy(struct rollout_split *s)
{
    if (!s)
        return;
    vk_descriptor_set_free(s->vk, s->slice_set);
    vk_descriptor_set_free(s->vk, s->gemm_set);
    vk_buffer_free(s->vk, &s->ad);
    vk_buffer_free(s->vk, &s->zd);
    vk_buffer_free(s->vk, &s->exps);
    free(s);
}

void rollout_split_record_step(struct rollout_split *s, struct vk_cmd *c, const void *push)
{
    vk_cmd_dispatch(c, s->slice, s->slice_set, push, s->slice_groups, 1, 1);
    vk_cmd_barrier(c);
    vk_cmd_dispatch(c, s->gemm, s->gemm_set, push, s->gemm_groups_x, s->gemm_groups_y, 1);
    vk_cmd_barrier(c);
}

bool rollout_split_on_matrices(const struct rollout_split *s)
{
    return s->matrices;
}

uint32_t rollout_split_digits(const struct rollout_split *s)
{
    return s->digits;
}
