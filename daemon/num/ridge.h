/* SPDX-License-Identifier: MIT */
/* Ridge regression of the DASHI operator (docs/numerics.md "Encode and train") with LAPACK on the
 * host: A = (XᵀX + λI)⁻¹ XᵀY for row-vector dynamics Y ≈ X·A (X, Y: T×D, A: D×D, all
 * row-major), plus the diagnostics the train job reports.
 *
 * Full rank: Cholesky (dposv) of the smaller normal matrix: XᵀX + λI (D×D) when T >= D,
 * else the dual form A = Xᵀ (XXᵀ + λI)⁻¹ Y (T×T), which is the same matrix
 * ((XᵀX + λI)⁻¹Xᵀ = Xᵀ(XXᵀ + λI)⁻¹) at a fraction of the cost.
 * Rank r > 0: truncated SVD of X (dgesdd), A = V_r diag(s/(s² + λ)) U_rᵀ Y.
 * The spectral radius comes from the eigenvalues (dgeev) of the smallest matrix with the
 * same nonzero spectrum as A (W Xᵀ, T×T, in the dual form; C V_r, r×r, when truncated).
 *
 * With a Vulkan runtime, the full-rank fit runs its products and triangular solves on the
 * GPU (ridge_gpu.h: the same operations in the same order) and only the
 * Cholesky factorisation of the normal matrix on the host; the singular values (dgesdd)
 * are computed on a second host thread meanwhile. */
#ifndef DASHI_RIDGE_H
#define DASHI_RIDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "vk.h"

struct ridge_report {
    double fit_residual;    /* ‖XA − Y‖_F / ‖Y‖_F */
    double sigma_max;       /* largest singular value of X */
    double sigma_min;       /* smallest nonzero one (of the numerical rank) */
    double cond;            /* condition number of XᵀX + λI: (σ_max² + λ)/(σ_D² + λ), σ_D = 0 when T < D */
    uint32_t numerical_rank;/* singular values above σ_max · max(T, D) · eps */
    uint32_t rank_used;     /* min(T, D) for a full fit, else the truncation rank */
    double spectral_radius; /* max |eigenvalue of A| */
    bool unstable;          /* spectral_radius > 1 */
    bool on_gpu;            /* the products and solves ran on the GPU */
    double solve_ms, diag_ms; /* wall: the fit itself (A); the diagnostics after it (eigenvalues, the
                               * singular values' thread, residual) */
    double gpu_ms;          /* GPU time of the products and solves (timestamps), negative if none */
};

/* X, Y: T×D row-major (they may overlap, e.g. X = Z, Y = Z + D). lambda >= 0 (0 needs a
 * rank truncation or a nonsingular XᵀX); rank 0 = full, else 1..min(T, D). vk: the GPU
 * for a full-rank fit, or NULL for the host alone (also the fallback when the matrices
 * do not fit the device). A: D×D out.
 * Errors: E_BAD_VALUE ("ridge" when the normal matrix is singular, "rank"), E_INTERNAL
 * (out of memory, a LAPACK failure), E_VULKAN. */
int ridge_fit(const double *X, const double *Y, uint32_t T, uint32_t D, double lambda, uint32_t rank,
              struct vk_runtime *vk, double *A, struct ridge_report *rep, struct dashi_error *err);

#endif
