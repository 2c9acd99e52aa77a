/* SPDX-License-Identifier: MIT */
/* The plain C loop with exact mode's summation order (rollout_ref.c): the reference the
 * engine's exact mode reproduces bit for bit, and the host step of jobs and benches. */
#ifndef DASHI_ROLLOUT_REF_H
#define DASHI_ROLLOUT_REF_H

#include <stdint.h>

/* out = z · A for B rows (A: D×D row-major). */
void rollout_ref_step_f64(const double *A, const double *z, double *out, uint32_t D, uint32_t B);
void rollout_ref_step_f32(const float *A, const float *z, float *out, uint32_t D, uint32_t B);

#endif
