/* SPDX-License-Identifier: MIT */
/* The proxy encoder of encode.h. See the header for the flow; the kernels are
 * shaders/encode_*.comp. Host work: the bands (once), the top-k of one frame's mid band
 * (once per training set), the tables uploaded per run. */
#include "encode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WG 256u
#define CHUNK_BYTES (32ull << 20)      /* B frames: the FFT plan holds 2B planes */
#define MAX_CHUNK 64u
#define FRAME_BUF_BYTES (64ull << 20)  /* frames uploaded per submission */
#define SATURATE_PASSES 8

struct smooth_push { uint32_t n, nb, f0, gx, k; };
struct maxabs_push { uint32_t n; };
struct carrier_push { uint32_t n, nb, gx, pad; double tau; };
struct reduce_push { uint32_t n, plane, f0, m, d, topk, n_mid, n_high; };
struct gather_push { uint32_t n, plane, f0, m, d, topk, nb, anchor_plane, gx; };

struct encoder {
    struct vk_runtime *vk;
    struct fft_cache *fft;
    struct encode_config cfg;
    struct encode_bands bands;
    uint32_t chunk;       /* B: frames per FFT batch */
    uint32_t cap_frames;  /* frames per submission */
    struct fft_plan *plan;
    struct vk_buffer frames, tmp, maxr, s0, s1, band, gidx, z;
    const struct vk_kernel *k_sx, *k_sy, *k_max, *k_tern, *k_sat, *k_red, *k_gat;
    VkDescriptorSet ds_sx, ds_sy, ds_max, ds_tern, ds_sat01, ds_sat10, ds_red, ds_gat;
    bool sets[8];
    struct vk_cmd cmd;
    bool have_cmd;
    uint32_t *band_host;  /* N×N table uploaded per run (anchors marked 3) */
    uint32_t *gidx_host;  /* low_idx then anchors */
};

/* ---- bands (host) ---- */

int encode_bands_make(const struct encode_config *cfg, struct encode_bands *out, struct dashi_error *err)
{
    memset(out, 0, sizeof *out);
    uint32_t n = cfg->n;
    if (n < 8 || n > 65536 || n % 2 != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "N", "N must be even and in [8, 65536], got %u", n);
    if (!isfinite(cfg->k_cut) || cfg->k_cut < 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "k_cut", "k_cut must be finite and >= 0");
    if (!isfinite(cfg->mid_cut) || cfg->mid_cut <= cfg->k_cut)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "mid_cut", "mid_cut must be finite and > k_cut");
    if (!isfinite(cfg->tau) || cfg->tau <= 0 || cfg->tau > 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "tau", "tau must be in (0, 1]");
    if (cfg->smooth < 1 || cfg->smooth > n)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "smooth", "smooth must be in [1, N]");
    size_t nn = (size_t)n * n;
    out->n = n;
    out->band = malloc(nn);
    double *k = malloc(n * sizeof *k);
    if (!out->band || !k) {
        free(k);
        encode_bands_free(out);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    }
    /* numpy's fftfreq(N, d=dx) * 2 pi with exactly this formula (docs/numerics.md "LES"). */
    double dx = (2.0 * M_PI) / (double)n;
    double val = 1.0 / ((double)n * dx);
    for (uint32_t m = 0; m < n; m++)
        k[m] = (m < n / 2 ? (double)m : (double)m - (double)n) * val * 2.0 * M_PI;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double kk = sqrt(k[j] * k[j] + k[i] * k[i]);
            uint8_t b = kk <= cfg->k_cut ? 0 : kk <= cfg->mid_cut ? 1 : 2;
            out->band[(size_t)i * n + j] = b;
            out->m += b == 0;
            out->n_mid += b == 1;
            out->n_high += b == 2;
        }
    free(k);
    out->low_idx = malloc((out->m ? out->m : 1) * sizeof(uint32_t));
    out->mid_idx = malloc((out->n_mid ? out->n_mid : 1) * sizeof(uint32_t));
    if (!out->low_idx || !out->mid_idx) {
        encode_bands_free(out);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    }
    uint32_t lo = 0, mi = 0;
    for (size_t e = 0; e < nn; e++) {
        if (out->band[e] == 0)
            out->low_idx[lo++] = (uint32_t)e;
        else if (out->band[e] == 1)
            out->mid_idx[mi++] = (uint32_t)e;
    }
    if (cfg->topk > out->n_mid) {
        uint32_t n_mid = out->n_mid;
        encode_bands_free(out);
        return dashi_fail(err, DASHI_E_BAD_VALUE, "topk", "topk must be <= the mid band's size (%u at these cuts)",
                          n_mid);
    }
    out->d = 2 * out->m + 4 + 2 * cfg->topk;
    return 0;
}

void encode_bands_free(struct encode_bands *b)
{
    free(b->band);
    free(b->low_idx);
    free(b->mid_idx);
    memset(b, 0, sizeof *b);
}

void encode_mask_low(const struct encode_bands *b, uint8_t *mask)
{
    size_t nn = (size_t)b->n * b->n;
    for (size_t e = 0; e < nn; e++)
        mask[e] = b->band[e] == 0;
}

struct ranked { double mag; uint32_t idx; };

static int by_magnitude(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->mag != y->mag)
        return x->mag > y->mag ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int by_index(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void encode_pick_anchors(const struct encode_bands *b, uint32_t topk, const double *half, int64_t *anchors)
{
    uint32_t n = b->n, h = n / 2 + 1;
    struct ranked *r = malloc((b->n_mid ? b->n_mid : 1) * sizeof *r);
    if (!r) { /* cannot happen at sane sizes; fall back to the first mid indices */
        for (uint32_t a = 0; a < topk; a++)
            anchors[a] = b->mid_idx[a];
        return;
    }
    for (uint32_t q = 0; q < b->n_mid; q++) {
        uint32_t e = b->mid_idx[q], i = e / n, j = e % n;
        /* |X(i,j)| = |X(-i,-j)|: columns past N/2 read their mirror. */
        size_t at = j <= n / 2 ? (size_t)i * h + j : (size_t)((n - i) % n) * h + (n - j);
        r[q].mag = hypot(half[2 * at], half[2 * at + 1]);
        r[q].idx = e;
    }
    qsort(r, b->n_mid, sizeof *r, by_magnitude);
    for (uint32_t a = 0; a < topk; a++)
        anchors[a] = r[a].idx;
    free(r);
    qsort(anchors, topk, sizeof *anchors, by_index);
}

/* ---- the GPU encoder ---- */

static uint64_t frame_bytes(uint32_t n) { return (uint64_t)n * n * sizeof(double); }

static uint32_t chunk_of(uint32_t n)
{
    uint64_t b = CHUNK_BYTES / frame_bytes(n);
    return (uint32_t)(b < 1 ? 1 : b > MAX_CHUNK ? MAX_CHUNK : b);
}

static uint32_t cap_of(uint32_t n)
{
    uint64_t c = FRAME_BUF_BYTES / frame_bytes(n);
    return (uint32_t)(c < 1 ? 1 : c > 65536 ? 65536 : c);
}

uint64_t encoder_memory_estimate(const struct encode_config *cfg)
{
    uint32_t n = cfg->n, b = chunk_of(n), cap = cap_of(n);
    uint64_t fb = frame_bytes(n), nn = (uint64_t)n * n;
    uint64_t d_max = 2 * nn + 4 + 2 * (uint64_t)cfg->topk; /* an upper bound on D */
    return fft_plan_bytes(n, 2 * b, FFT_F64, FFT_R2C) + (uint64_t)cap * fb + (uint64_t)b * fb +
           b * sizeof(double) + 2ull * b * nn * 4 + nn * 4 + (nn + cfg->topk) * 4 + (uint64_t)cap * d_max * 8;
}

const struct encode_bands *encoder_bands(const struct encoder *e) { return &e->bands; }

static int get_kernels(struct encoder *e, struct dashi_error *err)
{
    struct vk_runtime *vk = e->vk;
    return vk_kernel_get(vk, "encode_smooth_x", 3, sizeof(struct smooth_push), NULL, 0, &e->k_sx, err) ||
           vk_kernel_get(vk, "encode_smooth_y", 3, sizeof(struct smooth_push), NULL, 0, &e->k_sy, err) ||
           vk_kernel_get(vk, "encode_maxabs", 2, sizeof(struct maxabs_push), NULL, 0, &e->k_max, err) ||
           vk_kernel_get(vk, "encode_ternary", 3, sizeof(struct carrier_push), NULL, 0, &e->k_tern, err) ||
           vk_kernel_get(vk, "encode_saturate", 3, sizeof(struct carrier_push), NULL, 0, &e->k_sat, err) ||
           vk_kernel_get(vk, "encode_reduce", 4, sizeof(struct reduce_push), NULL, 0, &e->k_red, err) ||
           vk_kernel_get(vk, "encode_gather", 3, sizeof(struct gather_push), NULL, 0, &e->k_gat, err)
               ? -1 : 0;
}

static int make_sets(struct encoder *e, struct dashi_error *err)
{
    const struct vk_buffer *real = fft_plan_real(e->plan), *spec = fft_plan_spectrum(e->plan);
    const struct vk_buffer *sx[] = {&e->frames, &e->tmp, real};
    const struct vk_buffer *mx[] = {real, &e->maxr};
    const struct vk_buffer *te[] = {real, &e->maxr, &e->s0};
    const struct vk_buffer *s01[] = {&e->s0, &e->maxr, &e->s1};
    const struct vk_buffer *s10[] = {&e->s1, &e->maxr, &e->s0};
    const struct vk_buffer *re[] = {spec, &e->s0, &e->band, &e->z};
    const struct vk_buffer *ga[] = {spec, &e->gidx, &e->z};
    struct { const struct vk_kernel *k; const struct vk_buffer *const *b; VkDescriptorSet *ds; } list[8] = {
        {e->k_sx, sx, &e->ds_sx},    {e->k_sy, sx, &e->ds_sy},      {e->k_max, mx, &e->ds_max},
        {e->k_tern, te, &e->ds_tern}, {e->k_sat, s01, &e->ds_sat01}, {e->k_sat, s10, &e->ds_sat10},
        {e->k_red, re, &e->ds_red},   {e->k_gat, ga, &e->ds_gat},
    };
    for (int i = 0; i < 8; i++) {
        if (vk_descriptor_set(e->vk, list[i].k, list[i].b, list[i].ds, err) != 0)
            return -1;
        e->sets[i] = true;
    }
    return 0;
}

int encoder_create(struct vk_runtime *vk, struct fft_cache *fft, const struct encode_config *cfg,
                   struct encoder **out, struct dashi_error *err)
{
    struct encoder *e = calloc(1, sizeof *e);
    if (!e)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    e->vk = vk;
    e->fft = fft;
    e->cfg = *cfg;
    struct vk_buffer *bufs[] = {&e->frames, &e->tmp, &e->maxr, &e->s0, &e->s1, &e->band, &e->gidx, &e->z};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        bufs[i]->block = -1;
    if (encode_bands_make(cfg, &e->bands, err) != 0) {
        free(e);
        return -1;
    }
    uint32_t n = cfg->n;
    uint64_t nn = (uint64_t)n * n, fb = frame_bytes(n);
    e->chunk = chunk_of(n);
    /* The plan's 2B planes are one buffer, which must fit the device's storage-buffer range
     * (128 MiB on lavapipe, Vulkan's minimum): 64 frames at N = 256 would need 135 MB. Each
     * frame's transform is its own, so a smaller chunk gives the same proxies. */
    while (e->chunk > 1 && fft_plan_bytes(n, 2 * e->chunk, FFT_F64, FFT_R2C) > vk->max_storage_range)
        e->chunk--;
    e->cap_frames = cap_of(n);
    uint32_t per = e->bands.m + cfg->topk;
    e->band_host = malloc(nn * sizeof(uint32_t));
    e->gidx_host = malloc(per * sizeof(uint32_t));
    if (!e->band_host || !e->gidx_host) {
        encoder_destroy(e);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    }
    if (fft_plan_get(fft, n, 2 * e->chunk, FFT_F64, FFT_R2C, &e->plan, err) != 0 ||
        vk_buffer_alloc(vk, (uint64_t)e->cap_frames * fb, VK_MEM_DEVICE, &e->frames, err) != 0 ||
        vk_buffer_alloc(vk, (uint64_t)e->chunk * fb, VK_MEM_DEVICE, &e->tmp, err) != 0 ||
        vk_buffer_alloc(vk, e->chunk * sizeof(double), VK_MEM_DEVICE, &e->maxr, err) != 0 ||
        vk_buffer_alloc(vk, (uint64_t)e->chunk * nn * 4, VK_MEM_DEVICE, &e->s0, err) != 0 ||
        vk_buffer_alloc(vk, (uint64_t)e->chunk * nn * 4, VK_MEM_DEVICE, &e->s1, err) != 0 ||
        vk_buffer_alloc(vk, nn * 4, VK_MEM_DEVICE, &e->band, err) != 0 ||
        vk_buffer_alloc(vk, (uint64_t)per * 4, VK_MEM_DEVICE, &e->gidx, err) != 0 ||
        vk_buffer_alloc(vk, (uint64_t)e->cap_frames * e->bands.d * sizeof(double), VK_MEM_DEVICE, &e->z, err) != 0 ||
        get_kernels(e, err) != 0 || make_sets(e, err) != 0 || vk_cmd_create(vk, &e->cmd, err) != 0) {
        encoder_destroy(e);
        return -1;
    }
    e->have_cmd = true;
    *out = e;
    return 0;
}

void encoder_destroy(struct encoder *e)
{
    if (!e)
        return;
    if (e->have_cmd)
        vk_cmd_destroy(e->vk, &e->cmd);
    VkDescriptorSet ds[8] = {e->ds_sx, e->ds_sy, e->ds_max, e->ds_tern, e->ds_sat01, e->ds_sat10, e->ds_red, e->ds_gat};
    for (int i = 0; i < 8; i++)
        if (e->sets[i])
            vk_descriptor_set_free(e->vk, ds[i]);
    struct vk_buffer *bufs[] = {&e->frames, &e->tmp, &e->maxr, &e->s0, &e->s1, &e->band, &e->gidx, &e->z};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vk_buffer_free(e->vk, bufs[i]);
    if (e->plan)
        fft_plan_put(e->fft, e->plan);
    encode_bands_free(&e->bands);
    free(e->band_host);
    free(e->gidx_host);
    free(e);
}

/* Smoothing and the residual of nb frames starting at frame f0 of the frame buffer, into
 * the plan's real planes (2b = omega, 2b+1 = R); with `carrier`, also the saturated carrier
 * in s0. */
static void record_residual(struct encoder *e, uint32_t f0, uint32_t nb, bool carrier)
{
    struct vk_cmd *c = &e->cmd;
    uint32_t n = e->cfg.n;
    struct vk_grid g = vk_grid_for((uint64_t)nb * n * n, WG);
    struct smooth_push sp = {n, nb, f0, g.gx, e->cfg.smooth};
    vk_cmd_dispatch(c, e->k_sx, e->ds_sx, &sp, g.gx, g.gy, 1);
    vk_cmd_barrier(c);
    vk_cmd_dispatch(c, e->k_sy, e->ds_sy, &sp, g.gx, g.gy, 1);
    vk_cmd_barrier(c);
    if (!carrier)
        return;
    struct maxabs_push mp = {n};
    vk_cmd_dispatch(c, e->k_max, e->ds_max, &mp, nb, 1, 1);
    vk_cmd_barrier(c);
    struct carrier_push cp = {n, nb, g.gx, 0, e->cfg.tau};
    vk_cmd_dispatch(c, e->k_tern, e->ds_tern, &cp, g.gx, g.gy, 1);
    vk_cmd_barrier(c);
    for (int pass = 0; pass < SATURATE_PASSES; pass++) { /* even count: the result is in s0 */
        vk_cmd_dispatch(c, e->k_sat, pass % 2 == 0 ? e->ds_sat01 : e->ds_sat10, &cp, g.gx, g.gy, 1);
        vk_cmd_barrier(c);
    }
}

/* Begins a submission whose frame buffer holds frames [first, first + n) of src: uploaded
 * now from the host, or copied on the device at the start of the command buffer. */
static int begin_with_frames(struct encoder *e, struct encode_frames src, uint64_t first, uint32_t n,
                             struct dashi_error *err)
{
    uint64_t fb = frame_bytes(e->cfg.n), nn = (uint64_t)e->cfg.n * e->cfg.n;
    if (src.host && vk_upload(e->vk, &e->frames, 0, src.host + first * nn, n * fb, err) != 0)
        return -1;
    if (vk_cmd_begin(e->vk, &e->cmd, err) != 0)
        return -1;
    if (src.dev) {
        vk_cmd_copy(&e->cmd, src.dev, first * fb, &e->frames, 0, n * fb);
        vk_cmd_barrier(&e->cmd);
    }
    return 0;
}

int encoder_select_anchors(struct encoder *e, const double *frame, int64_t *anchors, struct dashi_error *err)
{
    return encoder_select_anchors_from(e, (struct encode_frames){.host = frame}, 0, anchors, err);
}

int encoder_select_anchors_from(struct encoder *e, struct encode_frames from, uint64_t frame, int64_t *anchors,
                                struct dashi_error *err)
{
    uint32_t n = e->cfg.n, h = n / 2 + 1;
    uint64_t plane = fft_plan_spectrum_plane(e->plan);
    double *half = malloc((size_t)n * h * 2 * sizeof(double));
    if (!half)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    int rc = -1;
    if (begin_with_frames(e, from, frame, 1, err) != 0)
        goto out;
    record_residual(e, 0, 1, false);
    if (fft_record_forward(e->plan, &e->cmd, err) != 0) {
        e->cmd.recording = false;
        goto out;
    }
    vk_cmd_barrier(&e->cmd);
    /* dashi: anchors of omega^ (plane 0); reference: of R^ (plane 1). */
    uint64_t src = e->cfg.mode == ENCODE_REFERENCE ? 1 : 0;
    if (vk_cmd_submit_wait(e->vk, &e->cmd, err) != 0 ||
        vk_download(e->vk, fft_plan_spectrum(e->plan), src * plane * 16, half, (size_t)n * h * 16, err) != 0)
        goto out;
    encode_pick_anchors(&e->bands, e->cfg.topk, half, anchors);
    rc = 0;
out:
    free(half);
    return rc;
}

/* The tables of one anchor set: gather indices (low band, then anchors) and the band
 * table with the anchors marked 3 (their energy is not residual). */
static int upload_tables(struct encoder *e, const int64_t *anchors, struct dashi_error *err)
{
    const struct encode_bands *b = &e->bands;
    size_t nn = (size_t)b->n * b->n;
    for (size_t i = 0; i < nn; i++)
        e->band_host[i] = b->band[i];
    memcpy(e->gidx_host, b->low_idx, b->m * sizeof(uint32_t));
    for (uint32_t a = 0; a < e->cfg.topk; a++) {
        if (anchors[a] < 0 || (uint64_t)anchors[a] >= nn || b->band[anchors[a]] != 1)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "anchors", "anchor %u (%lld) is not a mid-band index", a,
                              (long long)anchors[a]);
        if (e->band_host[anchors[a]] == 3)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "anchors", "anchor %lld appears twice", (long long)anchors[a]);
        e->band_host[anchors[a]] = 3;
        e->gidx_host[b->m + a] = (uint32_t)anchors[a];
    }
    return vk_upload(e->vk, &e->band, 0, e->band_host, nn * 4, err) ||
                   vk_upload(e->vk, &e->gidx, 0, e->gidx_host, (size_t)(b->m + e->cfg.topk) * 4, err)
               ? -1 : 0;
}

int encoder_run(struct encoder *e, const double *frames, uint64_t count, const int64_t *anchors, double *z,
                double *gpu_ms, struct dashi_error *err)
{
    return encoder_run_from(e, (struct encode_frames){.host = frames}, 0, count, anchors, z, gpu_ms, err);
}

int encoder_run_from(struct encoder *e, struct encode_frames src, uint64_t first, uint64_t count,
                     const int64_t *anchors, double *z, double *gpu_ms, struct dashi_error *err)
{
    const struct encode_bands *b = &e->bands;
    uint32_t n = e->cfg.n;
    uint32_t plane = (uint32_t)fft_plan_spectrum_plane(e->plan);
    double total_ms = 0;
    bool timed = true;
    if (upload_tables(e, anchors, err) != 0)
        return -1;
    for (uint64_t r0 = 0; r0 < count; r0 += e->cap_frames) {
        uint32_t nrun = (uint32_t)(count - r0 < e->cap_frames ? count - r0 : e->cap_frames);
        if (begin_with_frames(e, src, first + r0, nrun, err) != 0)
            return -1;
        struct vk_cmd *c = &e->cmd;
        int t0 = vk_cmd_timestamp(c);
        for (uint32_t f0 = 0; f0 < nrun; f0 += e->chunk) {
            uint32_t nb = nrun - f0 < e->chunk ? nrun - f0 : e->chunk;
            record_residual(e, f0, nb, true);
            if (fft_record_forward(e->plan, c, err) != 0) {
                c->recording = false;
                return -1;
            }
            vk_cmd_barrier(c);
            struct reduce_push rp = {n, plane, f0, b->m, b->d, e->cfg.topk, b->n_mid, b->n_high};
            vk_cmd_dispatch(c, e->k_red, e->ds_red, &rp, nb, 1, 1);
            struct vk_grid g = vk_grid_for((uint64_t)nb * (b->m + e->cfg.topk), WG);
            struct gather_push gp = {n, plane, f0, b->m, b->d, e->cfg.topk, nb,
                                     e->cfg.mode == ENCODE_REFERENCE ? 1u : 0u, g.gx};
            vk_cmd_dispatch(c, e->k_gat, e->ds_gat, &gp, g.gx, g.gy, 1);
            vk_cmd_barrier(c); /* the next chunk overwrites the plan's buffers */
        }
        int t1 = vk_cmd_timestamp(c);
        if (vk_cmd_submit_wait(e->vk, c, err) != 0)
            return -1;
        double ms = t0 >= 0 && t1 >= 0 ? vk_cmd_elapsed_ms(e->vk, c, t0, t1) : -1;
        if (ms < 0)
            timed = false;
        total_ms += ms;
        if (vk_download(e->vk, &e->z, 0, z + r0 * b->d, (size_t)nrun * b->d * sizeof(double), err) != 0)
            return -1;
    }
    if (gpu_ms)
        *gpu_ms = timed ? total_ms : -1;
    return 0;
}
