/* SPDX-License-Identifier: MIT */
/* The LES engine of les_gpu.h. Buffers and the flow of one step:
 *
 *   omega --copy--> fwd.real          (once per run: plan buffers are shared scratch)
 *   step:  fwd: real -> spectrum          spectral(7): fwd.spectrum -> inv7.spectrum
 *          inv7 -> inv7.real (7 planes)   stage1: nu, k1, w2 -> fwd.real, partial sums
 *          reduce: partials -> series[s]  fwd again (w2)   spectral(5) -> inv5.spectrum
 *          inv5 -> inv5.real (5 planes)   stage2: omega += dt (k1+k2)/2, also -> fwd.real
 *   after the last step one more stage-1 pass gives the series entry of the final field.
 *   saved frames: omega --copy--> frames (the device ring); at the run's end the series and
 *   the ring are copied into host-visible memory: the caller's (its staging buffer: the
 *   bytes are then where the I/O thread writes them from) or the slot's own bounce buffer.
 *
 * Runs go through LES_RUNS_IN_FLIGHT slots (command buffer, fence, host-visible series),
 * so the host records and submits run k+1 while run k executes and collects run k after.
 * One queue runs them in order and each ends with a full barrier (vk_cmd_submit), so run
 * k+1's writes to the ring, the series and omega wait for run k's copies: the device
 * buffers need no second copy. */
#include "monotonic.h"
#include "les_gpu.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define WG 256u

struct spectral_push { uint32_t n, plane, nout, dealias, gx; };
struct stage1_push { uint32_t nn, gx, pad0, pad1; double dt, nu0, c2; };
struct stage2_push { uint32_t nn, gx, pad0, pad1; double dt; };
struct reduce_push { uint32_t count, slot; double scale; };

struct les_gpu {
    struct vk_runtime *vk;
    struct fft_cache *fft;
    struct les_config cfg;
    uint64_t step;
    size_t elem; /* bytes per real value on the GPU */

    struct fft_plan *fwd, *inv7, *inv5;
    struct vk_buffer omega, k1, nu, kvec, part, series, frames;

    const struct vk_kernel *k_spectral, *k_stage1, *k_stage2, *k_reduce;
    VkDescriptorSet ds_spec7, ds_spec5, ds_stage1, ds_stage2, ds_reduce;
    bool have_sets;

    struct vk_grid pointwise, spectral;
    struct les_slot {
        struct vk_cmd cmd;
        bool have_cmd;
        struct vk_buffer series;  /* host-visible: the run's series, interleaved */
        struct vk_buffer bounce;  /* host-visible frames when the caller's are not (made when needed) */
        struct les_dest dst;
        bool direct;              /* the frames went straight into dst.frames_vk */
        uint64_t step0;
        uint32_t nsteps, nframes;
        int t0, t1, t2;
    } slot[LES_RUNS_IN_FLIGHT];
    unsigned oldest, in_flight;  /* slot[oldest] is the next to collect */
    struct vk_cmd *rec;          /* the command buffer being recorded */
    int *marks; /* les_gpu_profile: timestamp indices after each phase, NULL otherwise */
    int nmarks;
    void *host; /* staging for precision conversion: max(n*n, 2*(max_steps+1)) doubles */
    const struct vk_buffer *keep; /* les_gpu_keep_frames: every saved frame also goes here */
    uint64_t keep_next;           /* at this frame index */
};

static uint64_t field_bytes(const struct les_config *cfg)
{
    return (uint64_t)cfg->n * cfg->n * (cfg->f32 ? 4 : 8);
}

uint64_t les_gpu_memory_estimate(const struct les_config *cfg)
{
    enum fft_precision prec = cfg->f32 ? FFT_F32 : FFT_F64;
    uint64_t n = cfg->n;
    struct vk_grid g = vk_grid_for(n * n, WG);
    uint64_t bytes = fft_plan_bytes(cfg->n, 1, prec, FFT_R2C) + fft_plan_bytes(cfg->n, 7, prec, FFT_R2C) +
                     fft_plan_bytes(cfg->n, 5, prec, FFT_R2C);
    bytes += 3 * field_bytes(cfg);                          /* omega, k1, nu */
    bytes += (n / 2 + 1 + n) * (cfg->f32 ? 4 : 8);          /* wavenumbers */
    bytes += (uint64_t)g.gx * g.gy * 2 * sizeof(double);    /* partial sums */
    bytes += ((uint64_t)cfg->max_steps + 1) * 2 * sizeof(double);
    bytes += (uint64_t)cfg->max_frames * field_bytes(cfg);
    return bytes;
}

int les_config_validate(const struct les_config *cfg, const struct vk_runtime *vk, struct dashi_error *err)
{
    if (cfg->n < LES_MIN_N || cfg->n > LES_MAX_N || cfg->n % 2 != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "N", "N must be even and in [%u, %u], got %u", LES_MIN_N,
                          LES_MAX_N, cfg->n);
    if (!isfinite(cfg->dt) || cfg->dt <= 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "dt", "dt must be finite and > 0, got %g", cfg->dt);
    if (!isfinite(cfg->nu0) || cfg->nu0 < 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "nu0", "nu0 must be finite and >= 0, got %g", cfg->nu0);
    if (!isfinite(cfg->cs) || cfg->cs < 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "cs", "cs must be finite and >= 0, got %g", cfg->cs);
    if (cfg->max_steps < 1 || cfg->max_steps > (1u << 24))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "max_steps", "steps per run must be in [1, 2^24]");
    if (vk) {
        uint64_t need = les_gpu_memory_estimate(cfg);
        uint64_t largest = fft_plan_bytes(cfg->n, 7, cfg->f32 ? FFT_F32 : FFT_F64, FFT_R2C) / 2;
        if (need > vk->memory_budget)
            return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "N",
                              "N=%u needs %.1f MiB of device memory, the budget of %s is %.1f MiB", cfg->n,
                              need / 1048576.0, vk->device_name, vk->memory_budget / 1048576.0);
        if (largest > vk->max_storage_range)
            return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "N",
                              "N=%u needs a %.1f MiB buffer, %s allows %.1f MiB per buffer", cfg->n,
                              largest / 1048576.0, vk->device_name, vk->max_storage_range / 1048576.0);
    }
    return 0;
}

/* Doubles -> the GPU's storage type, into les->host. */
static const void *to_device_type(struct les_gpu *les, const double *src, size_t count)
{
    if (!les->cfg.f32)
        return src;
    float *dst = les->host;
    for (size_t i = 0; i < count; i++)
        dst[i] = (float)src[i];
    return dst;
}

static int upload_wavenumbers(struct les_gpu *les, struct dashi_error *err)
{
    uint32_t n = les->cfg.n, h = n / 2 + 1;
    double *k = malloc((size_t)(h + n) * sizeof *k);
    if (!k)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    /* numpy's fftfreq(N, d=dx) * 2 pi with exactly this formula (docs/numerics.md "LES"). */
    double dx = (2.0 * M_PI) / (double)n;
    double val = 1.0 / ((double)n * dx);
    for (uint32_t m = 0; m < n; m++) {
        double mm = m < n / 2 ? (double)m : (double)m - (double)n;
        double km = mm * val * 2.0 * M_PI;
        if (m < h)
            k[m] = km; /* kx of the half spectrum: column N/2 is the negative Nyquist */
        k[h + m] = km;
    }
    int rc = vk_upload(les->vk, &les->kvec, 0, to_device_type(les, k, h + n), (size_t)(h + n) * les->elem, err);
    free(k);
    return rc;
}

static int make_sets(struct les_gpu *les, struct dashi_error *err)
{
    const struct vk_buffer *spec7[] = {fft_plan_spectrum(les->fwd), fft_plan_spectrum(les->inv7), &les->kvec};
    const struct vk_buffer *spec5[] = {fft_plan_spectrum(les->fwd), fft_plan_spectrum(les->inv5), &les->kvec};
    const struct vk_buffer *st1[] = {fft_plan_real(les->inv7), &les->omega, &les->k1, &les->nu,
                                     fft_plan_real(les->fwd), &les->part};
    const struct vk_buffer *st2[] = {fft_plan_real(les->inv5), &les->omega, &les->k1, &les->nu,
                                     fft_plan_real(les->fwd)};
    const struct vk_buffer *red[] = {&les->part, &les->series};
    if (vk_descriptor_set(les->vk, les->k_spectral, spec7, &les->ds_spec7, err) != 0)
        return -1;
    if (vk_descriptor_set(les->vk, les->k_spectral, spec5, &les->ds_spec5, err) != 0) {
        vk_descriptor_set_free(les->vk, les->ds_spec7);
        return -1;
    }
    if (vk_descriptor_set(les->vk, les->k_stage1, st1, &les->ds_stage1, err) != 0) {
        vk_descriptor_set_free(les->vk, les->ds_spec7);
        vk_descriptor_set_free(les->vk, les->ds_spec5);
        return -1;
    }
    if (vk_descriptor_set(les->vk, les->k_stage2, st2, &les->ds_stage2, err) != 0) {
        vk_descriptor_set_free(les->vk, les->ds_spec7);
        vk_descriptor_set_free(les->vk, les->ds_spec5);
        vk_descriptor_set_free(les->vk, les->ds_stage1);
        return -1;
    }
    if (vk_descriptor_set(les->vk, les->k_reduce, red, &les->ds_reduce, err) != 0) {
        vk_descriptor_set_free(les->vk, les->ds_spec7);
        vk_descriptor_set_free(les->vk, les->ds_spec5);
        vk_descriptor_set_free(les->vk, les->ds_stage1);
        vk_descriptor_set_free(les->vk, les->ds_stage2);
        return -1;
    }
    les->have_sets = true;
    return 0;
}

static int get_kernels(struct les_gpu *les, struct dashi_error *err)
{
    const char *sfx = les->cfg.f32 ? "f32" : "f64";
    char name[64];
    snprintf(name, sizeof name, "les_spectral_%s", sfx);
    if (vk_kernel_get(les->vk, name, 3, sizeof(struct spectral_push), NULL, 0, &les->k_spectral, err) != 0)
        return -1;
    snprintf(name, sizeof name, "les_stage1_%s", sfx);
    if (vk_kernel_get(les->vk, name, 6, sizeof(struct stage1_push), NULL, 0, &les->k_stage1, err) != 0)
        return -1;
    snprintf(name, sizeof name, "les_stage2_%s", sfx);
    if (vk_kernel_get(les->vk, name, 5, sizeof(struct stage2_push), NULL, 0, &les->k_stage2, err) != 0)
        return -1;
    return vk_kernel_get(les->vk, "les_reduce", 2, sizeof(struct reduce_push), NULL, 0, &les->k_reduce, err);
}

int les_gpu_create(struct vk_runtime *vk, struct fft_cache *fft, const struct les_config *cfg,
                   const double *omega0, uint64_t step0, struct les_gpu **out, struct dashi_error *err)
{
    if (les_config_validate(cfg, vk, err) != 0)
        return -1;
    struct les_gpu *les = calloc(1, sizeof *les);
    if (!les)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    les->vk = vk;
    les->fft = fft;
    les->cfg = *cfg;
    les->step = step0;
    les->elem = cfg->f32 ? 4 : 8;
    struct vk_buffer *bufs[] = {&les->omega, &les->k1, &les->nu, &les->kvec, &les->part, &les->series, &les->frames};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        bufs[i]->block = -1;
    for (int i = 0; i < LES_RUNS_IN_FLIGHT; i++)
        les->slot[i].series.block = les->slot[i].bounce.block = -1;
    uint64_t n = cfg->n, nn = n * n;
    les->pointwise = vk_grid_for(nn, WG);
    les->spectral = vk_grid_for(n * (n / 2 + 1), WG);
    size_t host_doubles = nn > 2 * ((size_t)cfg->max_steps + 1) ? nn : 2 * ((size_t)cfg->max_steps + 1);
    if (host_doubles < n / 2 + 1 + n)
        host_doubles = n / 2 + 1 + n;
    les->host = malloc(host_doubles * sizeof(double));
    if (!les->host) {
        free(les);
        return dashi_fail(err, DASHI_E_TOO_LARGE, "N", "out of host memory");
    }
    enum fft_precision prec = cfg->f32 ? FFT_F32 : FFT_F64;
    uint64_t fb = field_bytes(cfg);
    if (fft_plan_get(fft, cfg->n, 1, prec, FFT_R2C, &les->fwd, err) != 0 ||
        fft_plan_get(fft, cfg->n, 7, prec, FFT_R2C, &les->inv7, err) != 0 ||
        fft_plan_get(fft, cfg->n, 5, prec, FFT_R2C, &les->inv5, err) != 0 ||
        vk_buffer_alloc(vk, fb, VK_MEM_DEVICE, &les->omega, err) != 0 ||
        vk_buffer_alloc(vk, fb, VK_MEM_DEVICE, &les->k1, err) != 0 ||
        vk_buffer_alloc(vk, fb, VK_MEM_DEVICE, &les->nu, err) != 0 ||
        vk_buffer_alloc(vk, (n / 2 + 1 + n) * les->elem, VK_MEM_DEVICE, &les->kvec, err) != 0 ||
        vk_buffer_alloc(vk, (uint64_t)les->pointwise.gx * les->pointwise.gy * 2 * sizeof(double), VK_MEM_DEVICE,
                        &les->part, err) != 0 ||
        vk_buffer_alloc(vk, ((uint64_t)cfg->max_steps + 1) * 2 * sizeof(double), VK_MEM_DEVICE, &les->series,
                        err) != 0 ||
        (cfg->max_frames > 0 &&
         vk_buffer_alloc(vk, (uint64_t)cfg->max_frames * fb, VK_MEM_DEVICE, &les->frames, err) != 0) ||
        get_kernels(les, err) != 0 || make_sets(les, err) != 0 || upload_wavenumbers(les, err) != 0 ||
        vk_upload(vk, &les->omega, 0, to_device_type(les, omega0, nn), fb, err) != 0) {
        les_gpu_destroy(les);
        return -1;
    }
    for (int i = 0; i < LES_RUNS_IN_FLIGHT; i++) {
        struct les_slot *sl = &les->slot[i];
        if (vk_cmd_create(vk, &sl->cmd, err) != 0) {
            les_gpu_destroy(les);
            return -1;
        }
        sl->have_cmd = true;
        if (vk_buffer_alloc(vk, ((uint64_t)cfg->max_steps + 1) * 2 * sizeof(double), VK_MEM_HOST, &sl->series,
                            err) != 0) {
            les_gpu_destroy(les);
            return -1;
        }
    }
    *out = les;
    return 0;
}

void les_gpu_destroy(struct les_gpu *les)
{
    if (!les)
        return;
    for (int i = 0; i < LES_RUNS_IN_FLIGHT; i++) { /* first: a run in flight is waited for */
        struct les_slot *sl = &les->slot[i];
        if (sl->have_cmd)
            vk_cmd_destroy(les->vk, &sl->cmd);
        vk_buffer_free(les->vk, &sl->series);
        vk_buffer_free(les->vk, &sl->bounce);
    }
    if (les->have_sets) {
        vk_descriptor_set_free(les->vk, les->ds_spec7);
        vk_descriptor_set_free(les->vk, les->ds_spec5);
        vk_descriptor_set_free(les->vk, les->ds_stage1);
        vk_descriptor_set_free(les->vk, les->ds_stage2);
        vk_descriptor_set_free(les->vk, les->ds_reduce);
    }
    struct vk_buffer *bufs[] = {&les->omega, &les->k1, &les->nu, &les->kvec, &les->part, &les->series, &les->frames};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vk_buffer_free(les->vk, bufs[i]);
    if (les->fwd)
        fft_plan_put(les->fft, les->fwd);
    if (les->inv7)
        fft_plan_put(les->fft, les->inv7);
    if (les->inv5)
        fft_plan_put(les->fft, les->inv5);
    free(les->host);
    free(les);
}

uint64_t les_gpu_step(const struct les_gpu *les) { return les->step; }

uint32_t les_gpu_frames_in(const struct les_gpu *les, uint32_t nsteps, uint32_t save_every)
{
    if (save_every == 0)
        return 0;
    uint64_t s0 = les->step;
    return (uint32_t)((s0 + nsteps) / save_every - s0 / save_every);
}

/* A timestamp after a phase, while profiling. */
static void mark(struct les_gpu *les)
{
    if (les->marks)
        les->marks[les->nmarks++] = vk_cmd_timestamp(les->rec);
}

/* The stage-1 pass of the current forward input: u, v, ... and the series entry `slot`. */
static int record_stage1(struct les_gpu *les, uint32_t slot, struct dashi_error *err)
{
    struct vk_cmd *c = les->rec;
    const struct les_config *cfg = &les->cfg;
    uint32_t nn = cfg->n * cfg->n;
    double dx = (2.0 * M_PI) / (double)cfg->n, cdx = cfg->cs * dx;
    struct spectral_push sp = {cfg->n, (uint32_t)fft_plan_spectrum_plane(les->fwd), 7, cfg->dealias ? 1u : 0u,
                               les->spectral.gx};
    struct stage1_push s1 = {nn, les->pointwise.gx, 0, 0, cfg->dt, cfg->nu0, cdx * cdx};
    struct reduce_push rp = {les->pointwise.gx * les->pointwise.gy, slot, 0.5 / (double)nn};
    if (fft_record_forward(les->fwd, c, err) != 0)
        return -1;
    vk_cmd_barrier(c);
    mark(les);
    vk_cmd_dispatch(c, les->k_spectral, les->ds_spec7, &sp, les->spectral.gx, les->spectral.gy, 1);
    vk_cmd_barrier(c);
    mark(les);
    if (fft_record_inverse(les->inv7, c, err) != 0)
        return -1;
    vk_cmd_barrier(c);
    mark(les);
    vk_cmd_dispatch(c, les->k_stage1, les->ds_stage1, &s1, les->pointwise.gx, les->pointwise.gy, 1);
    vk_cmd_barrier(c);
    mark(les);
    vk_cmd_dispatch(c, les->k_reduce, les->ds_reduce, &rp, 1, 1, 1);
    vk_cmd_barrier(c);
    mark(les);
    return 0;
}

static int record_stage2(struct les_gpu *les, struct dashi_error *err)
{
    struct vk_cmd *c = les->rec;
    const struct les_config *cfg = &les->cfg;
    struct spectral_push sp = {cfg->n, (uint32_t)fft_plan_spectrum_plane(les->fwd), 5, cfg->dealias ? 1u : 0u,
                               les->spectral.gx};
    struct stage2_push s2 = {cfg->n * cfg->n, les->pointwise.gx, 0, 0, cfg->dt};
    if (fft_record_forward(les->fwd, c, err) != 0)
        return -1;
    vk_cmd_barrier(c);
    mark(les);
    vk_cmd_dispatch(c, les->k_spectral, les->ds_spec5, &sp, les->spectral.gx, les->spectral.gy, 1);
    vk_cmd_barrier(c);
    mark(les);
    if (fft_record_inverse(les->inv5, c, err) != 0)
        return -1;
    vk_cmd_barrier(c);
    mark(les);
    vk_cmd_dispatch(c, les->k_stage2, les->ds_stage2, &s2, les->pointwise.gx, les->pointwise.gy, 1);
    vk_cmd_barrier(c);
    mark(les);
    return 0;
}

static int download_field(struct les_gpu *les, const struct vk_buffer *src, VkDeviceSize off, double *dst,
                          struct dashi_error *err)
{
    size_t nn = (size_t)les->cfg.n * les->cfg.n;
    if (!les->cfg.f32)
        return vk_download(les->vk, src, off, dst, nn * sizeof(double), err);
    float *tmp = les->host;
    if (vk_download(les->vk, src, off, tmp, nn * sizeof(float), err) != 0)
        return -1;
    for (size_t i = 0; i < nn; i++)
        dst[i] = (double)tmp[i];
    return 0;
}

static int check_run(const struct les_gpu *les, uint32_t nsteps, uint32_t save_every, const struct les_dest *dst,
                     struct dashi_error *err)
{
    if (nsteps < 1 || nsteps > les->cfg.max_steps)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "steps", "a run takes 1..%u steps, asked %u", les->cfg.max_steps,
                          nsteps);
    uint32_t nframes = les_gpu_frames_in(les, nsteps, save_every);
    if (nframes > les->cfg.max_frames || (nframes > 0 && !dst->frames))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "save_every",
                          "%u frames in a run of %u steps, room for %u", nframes, nsteps, les->cfg.max_frames);
    if (les->in_flight == LES_RUNS_IN_FLIGHT)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "les: %d runs in flight: collect one first", LES_RUNS_IN_FLIGHT);
    return 0;
}

/* The steps, the saved frames into the ring (and the kept trajectory), then the series
 * and the frames into host-visible memory. */
static int record_run(struct les_gpu *les, struct les_slot *sl, uint32_t save_every, struct dashi_error *err)
{
    struct vk_cmd *c = les->rec = &sl->cmd;
    uint64_t fb = field_bytes(&les->cfg);
    if (vk_cmd_begin(les->vk, c, err) != 0)
        return -1;
    sl->t0 = vk_cmd_timestamp(c);
    vk_cmd_copy(c, &les->omega, 0, fft_plan_real(les->fwd), 0, fb);
    vk_cmd_barrier(c);
    uint32_t saved = 0;
    for (uint32_t s = 0; s < sl->nsteps; s++) {
        if (record_stage1(les, s, err) != 0 || record_stage2(les, err) != 0)
            return -1;
        uint64_t abs_step = les->step + s + 1;
        if (save_every && abs_step % save_every == 0) {
            vk_cmd_copy(c, &les->omega, 0, &les->frames, (VkDeviceSize)saved * fb, fb);
            if (les->keep)
                vk_cmd_copy(c, &les->omega, 0, les->keep, (VkDeviceSize)(les->keep_next + saved) * fb, fb);
            vk_cmd_barrier(c);
            saved++;
        }
    }
    if (record_stage1(les, sl->nsteps, err) != 0) /* the series entry of the final field */
        return -1;
    sl->t1 = vk_cmd_timestamp(c);
    vk_cmd_copy(c, &les->series, 0, &sl->series, 0, ((VkDeviceSize)sl->nsteps + 1) * 2 * sizeof(double));
    if (saved) {
        const struct vk_buffer *to = sl->direct ? sl->dst.frames_vk : &sl->bounce;
        vk_cmd_copy(c, &les->frames, 0, to, sl->direct ? sl->dst.frames_off : 0, (VkDeviceSize)saved * fb);
    }
    sl->t2 = vk_cmd_timestamp(c);
    return 0;
}

int les_gpu_submit(struct les_gpu *les, uint32_t nsteps, uint32_t save_every, const struct les_dest *dst,
                   struct dashi_error *err)
{
    if (check_run(les, nsteps, save_every, dst, err) != 0)
        return -1;
    struct les_slot *sl = &les->slot[(les->oldest + les->in_flight) % LES_RUNS_IN_FLIGHT];
    uint64_t fb = field_bytes(&les->cfg);
    sl->dst = *dst;
    sl->step0 = les->step;
    sl->nsteps = nsteps;
    sl->nframes = les_gpu_frames_in(les, nsteps, save_every);
    sl->direct = dst->frames_vk && !les->cfg.f32 &&
                 dst->frames_off + (VkDeviceSize)sl->nframes * fb <= dst->frames_vk->size;
    if (sl->nframes && !sl->direct && sl->bounce.block < 0 &&
        vk_buffer_alloc(les->vk, (VkDeviceSize)les->cfg.max_frames * fb, VK_MEM_HOST, &sl->bounce, err) != 0)
        return -1;
    if (record_run(les, sl, save_every, err) != 0) {
        sl->cmd.recording = false; /* nothing was submitted: the next vk_cmd_begin resets it */
        return -1;
    }
    if (vk_cmd_submit(les->vk, &sl->cmd, err) != 0)
        return -1;
    les->in_flight++;
    les->step += nsteps;
    les->keep_next += sl->nframes;
    return 0;
}

/* The frames of a run that did not go straight to the caller: copied (or widened) now. */
static void copy_bounced(const struct les_gpu *les, const struct les_slot *sl)
{
    size_t count = (size_t)sl->nframes * les->cfg.n * les->cfg.n;
    if (!les->cfg.f32) {
        memcpy(sl->dst.frames, sl->bounce.mapped, count * sizeof(double));
        return;
    }
    const float *src = sl->bounce.mapped;
    for (size_t i = 0; i < count; i++)
        sl->dst.frames[i] = (double)src[i];
}

int les_gpu_collect(struct les_gpu *les, struct les_run *run, struct dashi_error *err)
{
    memset(run, 0, sizeof *run);
    run->nonfinite_step = -1;
    if (les->in_flight == 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "les: no run in flight to collect");
    struct les_slot *sl = &les->slot[les->oldest];
    les->oldest = (les->oldest + 1) % LES_RUNS_IN_FLIGHT;
    les->in_flight--;
    double t = monotonic_ms();
    int rc = vk_cmd_wait(les->vk, &sl->cmd, err);
    run->wait_ms = monotonic_ms() - t;
    if (rc != 0)
        return -1;
    run->gpu_ms = (sl->t0 >= 0 && sl->t1 >= 0) ? vk_cmd_elapsed_ms(les->vk, &sl->cmd, sl->t0, sl->t1) : -1.0;
    run->readback_ms = (sl->t1 >= 0 && sl->t2 >= 0) ? vk_cmd_elapsed_ms(les->vk, &sl->cmd, sl->t1, sl->t2) : -1.0;
    const double *series = sl->series.mapped;
    for (uint32_t k = 0; k <= sl->nsteps; k++) {
        if (sl->dst.energy)
            sl->dst.energy[k] = series[2 * k];
        if (sl->dst.enstrophy)
            sl->dst.enstrophy[k] = series[2 * k + 1];
        if (run->nonfinite_step < 0 && (!isfinite(series[2 * k]) || !isfinite(series[2 * k + 1])))
            run->nonfinite_step = (int64_t)(sl->step0 + k);
    }
    if (sl->nframes && !sl->direct) {
        copy_bounced(les, sl);
        run->host_copied_frames = sl->nframes;
    }
    run->steps = sl->nsteps;
    run->frames = sl->nframes;
    return 0;
}

unsigned les_gpu_in_flight(const struct les_gpu *les) { return les->in_flight; }

int les_gpu_run(struct les_gpu *les, uint32_t nsteps, uint32_t save_every, double *frames, double *energy,
                double *enstrophy, struct les_run *run, struct dashi_error *err)
{
    if (les->in_flight)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "les: les_gpu_run with runs in flight");
    const struct les_dest dst = {.frames = frames, .energy = energy, .enstrophy = enstrophy};
    if (les_gpu_submit(les, nsteps, save_every, &dst, err) != 0)
        return -1;
    return les_gpu_collect(les, run, err);
}

void les_gpu_keep_frames(struct les_gpu *les, const struct vk_buffer *dst, uint64_t first)
{
    les->keep = dst;
    les->keep_next = first;
}

int les_gpu_read_field(struct les_gpu *les, double *omega, struct dashi_error *err)
{
    if (les->in_flight)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "les: the field is read with runs in flight");
    return download_field(les, &les->omega, 0, omega, err);
}

int les_gpu_profile(struct les_gpu *les, uint32_t nsteps, double ms[LES_PROFILE_PHASES], struct dashi_error *err)
{
    int marks[1 + LES_PROFILE_MAX_STEPS * LES_PROFILE_PHASES];
    if (nsteps < 1 || nsteps > LES_PROFILE_MAX_STEPS || nsteps > les->cfg.max_steps)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "steps", "a profile takes 1..%d steps", LES_PROFILE_MAX_STEPS);
    if (les->in_flight)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "les: a profile with runs in flight");
    struct vk_cmd *c = les->rec = &les->slot[0].cmd;
    if (vk_cmd_begin(les->vk, c, err) != 0)
        return -1;
    vk_cmd_copy(c, &les->omega, 0, fft_plan_real(les->fwd), 0, field_bytes(&les->cfg));
    vk_cmd_barrier(c);
    les->marks = marks;
    les->nmarks = 0;
    mark(les);
    int rc = 0;
    for (uint32_t s = 0; s < nsteps && rc == 0; s++)
        rc = (record_stage1(les, s, err) != 0 || record_stage2(les, err) != 0) ? -1 : 0;
    les->marks = NULL;
    if (rc != 0) {
        c->recording = false;
        return -1;
    }
    if (vk_cmd_submit_wait(les->vk, c, err) != 0)
        return -1;
    for (int k = 0; k < LES_PROFILE_PHASES; k++)
        ms[k] = 0;
    for (uint32_t s = 0; s < nsteps; s++)
        for (int k = 0; k < LES_PROFILE_PHASES; k++) {
            int i = (int)s * LES_PROFILE_PHASES + k;
            double d = vk_cmd_elapsed_ms(les->vk, c, marks[i], marks[i + 1]);
            ms[k] = (ms[k] < 0 || d < 0) ? -1.0 : ms[k] + d / nsteps;
        }
    les->step += nsteps;
    return 0;
}
