/* SPDX-License-Identifier: MIT */
/* The decode engine (docs/numerics.md "Decode"): proxies z back to fields on the GPU, scored against
 * the truth with GPU reductions. Two modes:
 *   reference  the numpy reference exactly: low-k scatter, ω_lp = Re ifft, R = ω_lp −
 *              smooth(ω_lp), ternary + saturate(·, 8) mask, residual synthesis of the
 *              mid\anchors and high bands with PCG64 phases (drawn on the host, uploaded),
 *              complex ifft, real part, gating, rescaling to mean(r²) = n_band·E.
 *   dashi      anchors added into the spectrum before the inverse FFT (a lone anchor with
 *              its conjugate partner), Hermitian residual spectrum with a counter-based
 *              generator keyed by (seed, t, k) on the GPU, the closure as the mask.
 * Frames are decoded in batches recorded into one command buffer; what is read back
 * depends on the observer policy. */
#ifndef DASHI_DECODE_H
#define DASHI_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "closure.h"
#include "errors.h"
#include "fft_vkfft.h"
#include "vk.h"

#define DECODE_MAX_LEVELS 64
#define DECODE_MAX_BATCH 64

enum decode_observer { DECODE_OBSERVE_NONE, DECODE_OBSERVE_METRICS, DECODE_OBSERVE_SNAPSHOTS };

struct decode_config {
    uint32_t n;               /* even, >= 8 */
    bool dashi;               /* mode: false = reference */
    uint32_t M, topk;         /* low-k count (== popcount of mask_low) and anchors; D = 2M + 4 + 2 topk */
    const uint8_t *mask_low;  /* n*n; the low band, ascending flat index = z order */
    const int64_t *anchors;   /* topk flat indices, in z's anchor order */
    double k_cut, mid_cut;    /* band edges (|k| with numpy's wavenumbers) */
    double tau;               /* ternary threshold */
    uint32_t box;             /* smoothing width (odd, >= 1) */
    uint32_t eta;             /* closure persistence (dashi) */
    uint32_t max_levels;      /* closure passes recorded (dashi), <= DECODE_MAX_LEVELS */
    uint64_t residual_seed;
    uint32_t max_batch;       /* frames per run, 1..DECODE_MAX_BATCH */
    bool truth;               /* runs come with truth fields */
    bool snapshots;           /* room for returning fields */
};

/* Checks the configuration (E_BAD_VALUE naming the field: "N", "mask_low", "anchors",
 * "topk", "tau", "smooth", "max_levels", "batch"). */
int decode_config_validate(const struct decode_config *cfg, struct dashi_error *err);
uint64_t decode_gpu_memory_estimate(const struct decode_config *cfg);
static inline uint32_t decode_dim(const struct decode_config *cfg) { return 2 * cfg->M + 4 + 2 * cfg->topk; }

struct decode_result {
    double rel_l2, corr;             /* NaN without truth */
    double energy, enstrophy;        /* of the decoded field */
    double energy_truth, enstrophy_truth; /* NaN without truth */
    int closure_depth;               /* passes to the fixed point; max_levels+1: not reached */
    uint32_t nlevels;                /* entries of level[] filled: min(depth, max_levels) + 1 */
    struct closure_level level[DECODE_MAX_LEVELS + 1];
};

struct decode_gpu;

/* The engine keeps pointers to vk and fft (they must outlive it); cfg's arrays are copied. */
int decode_gpu_create(struct vk_runtime *vk, struct fft_cache *fft, const struct decode_config *cfg,
                      struct decode_gpu **out, struct dashi_error *err);
void decode_gpu_destroy(struct decode_gpu *d); /* NULL is fine */

/* Decodes nframes (1..max_batch) proxies z (nframes × D, row-major) for the steps t
 * (seeds residual_seed + 1000003·t), against truth (nframes × n × n, or NULL when the
 * config has none). Observer NONE reads nothing back (res may be NULL); METRICS fills
 * res[nframes]; SNAPSHOTS also fills fields (nframes × n × n). gpu_ms (may be NULL)
 * receives the GPU time of the run, negative when unavailable. */
int decode_gpu_run(struct decode_gpu *d, uint32_t nframes, const uint64_t *steps, const double *z,
                   const double *truth, enum decode_observer obs, struct decode_result *res, double *fields,
                   double *gpu_ms, struct dashi_error *err);

/* Binds a trajectory of count n × n f64 frames on the device (a resident LES output; not
 * owned: it must outlive the runs) for decode_gpu_run_bound, which is decode_gpu_run with
 * the truth of frame f taken from frame truth_index[f] of it, copied on the device: no
 * host round trip. */
void decode_gpu_bind_truth(struct decode_gpu *d, const struct vk_buffer *frames, uint64_t count);
int decode_gpu_run_bound(struct decode_gpu *d, uint32_t nframes, const uint64_t *steps, const double *z,
                         const uint64_t *truth_index, enum decode_observer obs, struct decode_result *res,
                         double *fields, double *gpu_ms, struct dashi_error *err);

/* The intermediates of the last frame decoded: ω_lp (n*n) and the final carrier (n*n). */
int decode_gpu_read_lowpass(struct decode_gpu *d, double *omega_lp, struct dashi_error *err);
int decode_gpu_read_carrier(struct decode_gpu *d, int8_t *carrier, struct dashi_error *err);
/* The level-0 carrier s_0 of the last frame decoded with metrics (before any closure pass), as
 * the GPU thresholded it: for the annihilation trace (closure_trace.h). */
int decode_gpu_read_initial_carrier(struct decode_gpu *d, int8_t *carrier, struct dashi_error *err);

/* numpy's fftfreq(n, 2π/n)·2π, k[0..n) (docs/numerics.md "LES"). */
void decode_wavenumbers(uint32_t n, double *k);

#endif
