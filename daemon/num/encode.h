/* SPDX-License-Identifier: MIT */
/* The proxy encoder (docs/numerics.md "Encode and train"): a batch of N×N vorticity frames ->
 * proxies z (D values each), on the GPU with VkFFT. Knows nothing of jobs; the train job drives it.
 *
 * z = [Re low (M), Im low (M), support_frac, resid_mid_E, resid_high_E, topk,
 *      Re anchors (topk), Im anchors (topk)],  D = 2M + 4 + 2 topk.
 * low is the spectrum of omega on the mask |k| <= k_cut (ascending flat index), anchors
 * are mid-band (k_cut < |k| <= mid_cut) entries of R^ = fft(omega - smooth2d(omega))
 * (reference mode) or of omega^ (dashi mode), all divided by N^2. Anchors are chosen
 * once (encoder_select_anchors, on the first training frame) and then fixed, so
 * held-out frames are encoded with the training anchors.
 *
 * Flow of encoder_run (one submission per run of frames that fit the frame buffer):
 *   upload frames -> per chunk of B frames: smooth_x, smooth_y (planes 2b = omega,
 *   2b+1 = R into the FFT plan's real buffer), max|R|, ternary, 8 saturate passes,
 *   forward R2C FFT of the 2B planes, reduce (support, band energies), gather (low band,
 *   anchors) -> z rows; download z. */
#ifndef DASHI_ENCODE_H
#define DASHI_ENCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "fft_vkfft.h"
#include "vk.h"

enum encode_mode { ENCODE_DASHI, ENCODE_REFERENCE };

struct encode_config {
    uint32_t n;        /* grid size, even, >= 8 */
    double k_cut;      /* low band |k| <= k_cut (default 8) */
    double mid_cut;    /* mid band k_cut < |k| <= mid_cut (default 12) */
    uint32_t topk;     /* anchors (default 128), <= the mid band's size */
    double tau;        /* ternary threshold (default 0.35) */
    uint32_t smooth;   /* box filter width (default 11), 1..N */
    enum encode_mode mode;
};

#define ENCODE_DEFAULTS(N) \
    ((struct encode_config){.n = (N), .k_cut = 8, .mid_cut = 12, .topk = 128, .tau = 0.35, .smooth = 11, \
                            .mode = ENCODE_DASHI})

/* The bands of a configuration (host only). band[e] for every full-spectrum flat index e:
 * 0 low, 1 mid, 2 high. |k| = sqrt(KX^2 + KY^2) with k from numpy's fftfreq formula. */
struct encode_bands {
    uint32_t n, m, n_mid, n_high, d;
    uint8_t *band;      /* N×N */
    uint32_t *low_idx;  /* m flat indices, ascending */
    uint32_t *mid_idx;  /* n_mid flat indices, ascending */
};

/* Checks the configuration (E_BAD_VALUE naming the field: "N", "k_cut", "mid_cut",
 * "topk", "tau", "smooth") and computes its bands; encode_bands_free releases them. */
int encode_bands_make(const struct encode_config *cfg, struct encode_bands *out, struct dashi_error *err);
void encode_bands_free(struct encode_bands *b);
/* mask_low as N×N bytes (1 on the low band). */
void encode_mask_low(const struct encode_bands *b, uint8_t *mask);

/* Picks the anchors from one spectrum (host): the topk mid-band indices of largest
 * |X| (ties: lower flat index first), returned in ascending flat-index order. `half` is
 * an R2C half spectrum (N rows of N/2+1 complex, interleaved re/im). */
void encode_pick_anchors(const struct encode_bands *b, uint32_t topk, const double *half, int64_t *anchors);

struct encoder;

/* Device bytes the encoder allocates for a configuration (plans included). */
uint64_t encoder_memory_estimate(const struct encode_config *cfg);

int encoder_create(struct vk_runtime *vk, struct fft_cache *fft, const struct encode_config *cfg,
                   struct encoder **out, struct dashi_error *err);
void encoder_destroy(struct encoder *e);
const struct encode_bands *encoder_bands(const struct encoder *e);

/* The anchors of `frame` (N×N f64): topk flat indices, ascending. One GPU submission
 * plus a small host step (the top-k of the mid band's magnitudes). */
int encoder_select_anchors(struct encoder *e, const double *frame, int64_t *anchors, struct dashi_error *err);

/* Encodes `count` frames (count×N×N f64) with the given anchors (topk flat indices in
 * the mid band) into z (count×D f64). *gpu_ms: GPU time from timestamps, summed over
 * the submissions (negative when unavailable); may be NULL. */
int encoder_run(struct encoder *e, const double *frames, uint64_t count, const int64_t *anchors, double *z,
                double *gpu_ms, struct dashi_error *err);

/* Frames the encoder reads: in host memory (host, F×N×N f64), or already on the device
 * (dev, the same bytes from offset 0: a trajectory kept resident by the job that made
 * it), copied into the encoder's frame buffer on the device. Exactly one is set; the
 * numbers are the same either way (the kernels see the same bytes). */
struct encode_frames {
    const double *host;
    const struct vk_buffer *dev;
};
/* encoder_select_anchors and encoder_run on frames of src: frame `frame`, and frames
 * [first, first + count). */
int encoder_select_anchors_from(struct encoder *e, struct encode_frames src, uint64_t frame, int64_t *anchors,
                                struct dashi_error *err);
int encoder_run_from(struct encoder *e, struct encode_frames src, uint64_t first, uint64_t count,
                     const int64_t *anchors, double *z, double *gpu_ms, struct dashi_error *err);

#endif
