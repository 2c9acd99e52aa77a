/* SPDX-License-Identifier: MIT */
/* The LES engine (docs/numerics.md "LES"): 2-D vorticity with a Smagorinsky eddy viscosity,
 * pseudo-spectral with VkFFT R2C/C2R, RK2 (Heun) with nu frozen per step, entirely on
 * the GPU. A run of many steps is recorded into one command buffer; the host sees the
 * energy/enstrophy series, the saved frames and the field only when a run ends. Up to
 * LES_RUNS_IN_FLIGHT runs may be submitted before the first is collected, so the host
 * never waits on the GPU between runs (les_gpu_submit, les_gpu_collect).
 *
 * Per step: 2 forward FFTs (omega, then the stage-2 field) and 12 inverse FFTs in two
 * batched calls (7 planes: u v wx wy lap ux Sxy; 5 planes: u v wx wy lap). */
#ifndef DASHI_LES_GPU_H
#define DASHI_LES_GPU_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "fft_vkfft.h"
#include "vk.h"

#define LES_MIN_N 8u
#define LES_MAX_N 65536u
#define LES_FFTS_PER_STEP 14u

struct les_config {
    uint32_t n;          /* even, >= 8 */
    double dt;           /* > 0, finite */
    double nu0;          /* >= 0 */
    double cs;           /* Smagorinsky constant, >= 0 */
    bool f32;            /* float32 storage and FFTs (default float64) */
    bool dealias;        /* 2/3 rule on the spectrum of each RHS (mode dashi only) */
    uint32_t max_steps;  /* most steps one les_gpu_run may take (sizes the series buffer) */
    uint32_t max_frames; /* most frames one run may save (sizes the frame buffer; may be 0) */
};

/* Checks every field (E_BAD_VALUE naming it: "N", "dt", "nu0", "cs", "max_steps") and,
 * when vk is not NULL, that the estimate fits the device (E_DEVICE_MEMORY naming "N"). */
int les_config_validate(const struct les_config *cfg, const struct vk_runtime *vk, struct dashi_error *err);
/* Device bytes the engine needs, FFT plans included. */
uint64_t les_gpu_memory_estimate(const struct les_config *cfg);

struct les_gpu;

/* Allocates, builds (or reuses) the FFT plans and uploads omega0 (n*n doubles, row-major).
 * The engine keeps pointers to vk and fft: both must outlive it. */
int les_gpu_create(struct vk_runtime *vk, struct fft_cache *fft, const struct les_config *cfg,
                   const double *omega0, uint64_t step0, struct les_gpu **out, struct dashi_error *err);
void les_gpu_destroy(struct les_gpu *les); /* NULL is fine */

struct les_run {
    uint32_t steps;           /* steps taken (== requested) */
    uint32_t frames;          /* frames written */
    uint32_t host_copied_frames; /* of them, copied by the host (not straight into frames_vk) */
    int64_t nonfinite_step;   /* first step whose field is not finite, -1 if none */
    double gpu_ms;            /* GPU time of the steps (timestamps), negative if unavailable */
    double readback_ms;       /* GPU time of the copies into host-visible memory, likewise */
    double wait_ms;           /* host time les_gpu_collect waited for the run's fence */
};

/* Where a run's results go. frames (may be NULL when the run saves none): n*n doubles per
 * saved frame. When frames_vk is not NULL, frames is its mapping at frames_off (host-
 * visible memory, vk_buffer_alloc VK_MEM_HOST) and the GPU copies f64 frames there
 * itself; otherwise (and for f32, widened on the host) they are copied at collect.
 * energy/enstrophy (may be NULL) receive nsteps+1 values at collect. Every pointer must
 * stay valid until the run is collected. */
struct les_dest {
    double *frames;
    const struct vk_buffer *frames_vk;
    VkDeviceSize frames_off;
    double *energy, *enstrophy;
};
#define LES_RUNS_IN_FLIGHT 2

/* Takes nsteps (1..max_steps) steps from the current step s0.
 * energy/enstrophy (may be NULL) receive nsteps+1 values: of the field at s0, then after
 * each step. frames (may be NULL when save_every is 0) receives, row-major n*n doubles
 * each, the field after every step s in (s0, s0+nsteps] with s % save_every == 0; at most
 * max_frames of them (E_BAD_VALUE "save_every" otherwise). A non-finite field is not an
 * error here: it is reported in run->nonfinite_step, the engine's state is then garbage. */
int les_gpu_run(struct les_gpu *les, uint32_t nsteps, uint32_t save_every, double *frames, double *energy,
                double *enstrophy, struct les_run *run, struct dashi_error *err);
/* les_gpu_run in two halves: submit records the run from the step after those already
 * submitted and returns without waiting (E_INTERNAL when LES_RUNS_IN_FLIGHT are); collect
 * waits for the oldest run submitted and fills run and its destination. */
int les_gpu_submit(struct les_gpu *les, uint32_t nsteps, uint32_t save_every, const struct les_dest *dst,
                   struct dashi_error *err);
int les_gpu_collect(struct les_gpu *les, struct les_run *run, struct dashi_error *err);
unsigned les_gpu_in_flight(const struct les_gpu *les);
/* From the next run on, every saved frame is also copied on the device into dst (which
 * must outlive the engine's runs), at frame index first, first + 1, ... (bytes from
 * index × the field's bytes): a trajectory kept whole on the device for its consumer. */
void les_gpu_keep_frames(struct les_gpu *les, const struct vk_buffer *dst, uint64_t first);
/* Frames a run of nsteps from les_gpu_step would save. */
uint32_t les_gpu_frames_in(const struct les_gpu *les, uint32_t nsteps, uint32_t save_every);
/* The current field (n*n doubles); no run may be in flight. */
int les_gpu_read_field(struct les_gpu *les, double *omega, struct dashi_error *err);
/* The step after the runs submitted so far (collected or not). */
uint64_t les_gpu_step(const struct les_gpu *les);

/* Where a step's GPU time goes (benchmarks): takes nsteps (1..LES_PROFILE_MAX_STEPS)
 * steps like les_gpu_run, without series or frames, with a timestamp after each phase;
 * ms[k] = mean milliseconds per step of phase k (negative without timestamps), in order:
 * forward FFT, spectral(7), inverse FFT x7, stage 1, reduce, forward FFT, spectral(5),
 * inverse FFT x5, stage 2. */
#define LES_PROFILE_PHASES 9
#define LES_PROFILE_MAX_STEPS 6
int les_gpu_profile(struct les_gpu *les, uint32_t nsteps, double ms[LES_PROFILE_PHASES], struct dashi_error *err);

#endif
