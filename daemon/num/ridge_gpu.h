/* SPDX-License-Identifier: MIT */
/* The matrix products and triangular solves of the full-rank ridge fit (ridge.h) on the
 * GPU in float64 (shaders/ridge_gemm.comp, ridge_trsm.comp); the Cholesky factorisation
 * of the small normal matrix stays on the host (LAPACK), between two submissions:
 *
 *   open:   X, Y to the device
 *   normal: dual (T < D) G = X Xᵀ (T×T); primal G = XᵀX (D×D) and W = XᵀY     -> G
 *   host:   G + λI = Uᵀ U (dpotrf "U")
 *   solve:  W = Y (dual); W <- (G + λI)⁻¹ W by two triangular solves with U;
 *           dual A = XᵀW and S = W Xᵀ (A's nonzero spectrum); primal A = W;
 *           XA = X·A (the fit residual)                                        -> A, S, XA
 *
 * Every product is summed over k in ascending order with separately rounded products
 * and sums, and every solve performs dtrsm's operations in dtrsm's order with correctly
 * rounded divisions: the host path's operations (reference BLAS dgemm, dposv). lavapipe
 * reproduces its results bit for bit; the H100 its products, and A to ~1e-13 (the solves
 * differ in the last bits there, docs/numerics.md). Runs are deterministic. */
#ifndef DASHI_RIDGE_GPU_H
#define DASHI_RIDGE_GPU_H

#include <stdint.h>

#include "errors.h"
#include "vk.h"

struct ridge_gpu;

/* X, Y: T×D row-major (Y == X + D, the shifted trajectory, is uploaded once).
 * E_DEVICE_MEMORY / E_TOO_LARGE when the matrices do not fit the device or the kernels'
 * 32-bit indexing (the caller may then fit on the host). */
int ridge_gpu_open(struct vk_runtime *vk, const double *X, const double *Y, uint32_t T, uint32_t D,
                   struct ridge_gpu **out, struct dashi_error *err);
void ridge_gpu_close(struct ridge_gpu *g); /* NULL is fine */

/* The normal matrix into G (n×n, n = T when T < D else D; symmetric, so row- and
 * column-major alike). */
int ridge_gpu_normal(struct ridge_gpu *g, double *G, struct dashi_error *err);

/* U: the n×n buffer dpotrf("U") returned for G + λI (only its upper triangle, column-
 * major, is read). A: D×D row-major. S: the dual form's T×T matrix W Xᵀ, column-major
 * (NULL: not wanted; never written in the primal form). XA: T×D row-major. */
int ridge_gpu_solve(struct ridge_gpu *g, const double *U, double *A, double *S, double *XA,
                    struct dashi_error *err);

/* GPU milliseconds of the last normal + solve (timestamps), negative if unavailable. */
double ridge_gpu_ms(const struct ridge_gpu *g);

#endif
