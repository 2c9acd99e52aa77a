/* SPDX-License-Identifier: MIT */
/* 2-D FFTs on the GPU through VkFFT, behind a plan cache. The only VkFFT user: this
 * header exposes no VkFFT type, so nothing else pays VkFFT's compile time.
 *
 * A plan owns its buffers. VkFFT binds buffers when a plan is built and its descriptor
 * ranges start at offset 0 of a VkBuffer, so a plan cannot be re-pointed at arbitrary
 * sub-allocated ranges; instead callers write their input into the plan's buffers with
 * their own kernels and read the result from them. Consequently a plan's buffers are
 * scratch: nothing may be assumed to survive in them between two recorded runs.
 *
 * Layout: plane b of the real buffer is N*N values at b*N*N (row-major, no padding);
 * plane b of the spectrum is N rows of (N/2+1) complex values (R2C) or N*N complex
 * values (C2C) at b*(plane size). Forward is unnormalised, inverse scaled by 1/N^2.
 * The inverse destroys the spectrum (VkFFT works in place on it). */
#ifndef DASHI_FFT_VKFFT_H
#define DASHI_FFT_VKFFT_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "vk.h"

enum fft_precision { FFT_F64, FFT_F32 };
enum fft_kind { FFT_R2C, FFT_C2C };

struct fft_cache;
struct fft_plan;

/* One cache per Vulkan runtime (the daemon's GPU thread owns it); initialises glslang
 * once per process. */
int fft_cache_create(struct vk_runtime *vk, struct fft_cache **out, struct dashi_error *err);
/* Frees every plan and its buffers. The runtime must still be open. NULL is fine. */
void fft_cache_destroy(struct fft_cache *c);
/* Frees the plans no one holds (plans are reference counted by fft_plan_get/put). */
void fft_cache_trim(struct fft_cache *c);

/* The plan for N x N, `batch` planes. Built on first use (0.1-0.6 s), then shared:
 * each get must be paired with fft_plan_put. E_DEVICE_MEMORY when its buffers do not
 * fit. */
int fft_plan_get(struct fft_cache *c, uint32_t n, uint32_t batch, enum fft_precision prec, enum fft_kind kind,
                 struct fft_plan **out, struct dashi_error *err);
void fft_plan_put(struct fft_cache *c, struct fft_plan *p);

/* The plan's buffers: real planes (R2C only; empty for C2C) and the spectrum. */
const struct vk_buffer *fft_plan_real(const struct fft_plan *p);
const struct vk_buffer *fft_plan_spectrum(const struct fft_plan *p);
/* Complex values per spectrum plane: N*(N/2+1) for R2C, N*N for C2C. */
uint64_t fft_plan_spectrum_plane(const struct fft_plan *p);

/* Device bytes a plan's buffers take (for memory estimates). */
uint64_t fft_plan_bytes(uint32_t n, uint32_t batch, enum fft_precision prec, enum fft_kind kind);

/* Record the transform into c (recording). Barriers around it are the caller's:
 * put vk_cmd_barrier before (input written) and after (output read). R2C forward reads
 * the real planes and writes the spectrum; inverse reads the spectrum and writes the
 * real planes. C2C works in place on the spectrum. */
int fft_record_forward(struct fft_plan *p, struct vk_cmd *c, struct dashi_error *err);
int fft_record_inverse(struct fft_plan *p, struct vk_cmd *c, struct dashi_error *err);

#endif
