/* SPDX-License-Identifier: MIT */
/* Operator classes beyond the full ridge fit, and the stabilisation of a fitted operator
 * (docs/numerics.md "Operator classes and stabilisation"), with LAPACK on the host. Same
 * conventions as ridge.h: row-vector dynamics Y ≈ X·A, X and Y T×D, A D×D, all row-major.
 *
 * banded:K   A[i][j] = 0 for |i − j| > K; column j of A is the ridge fit of Y's column j on
 *            X's columns j−K..j+K alone: (G_SS + λI) a_S = (XᵀY)_Sj with G = XᵀX (dposv
 *            per column). The full class is K = D − 1; the low-rank class is ridge.h's rank.
 * stabilize  A = Wᵀ Λ W⁻ᵀ (dgeev of the column-major buffer, which is Aᵀ): every eigenvalue
 *            with |λ| > 1 is moved radially to just inside the unit circle,
 *            λ' = ρ λ/|λ| with ρ = OPERATOR_STABLE_RADIUS, and A is
 *            rebuilt as A + Re(W diag(λ' − λ) W⁻¹)ᵀ (zgesv for W⁻¹); conjugate pairs move
 *            together, so the correction is real up to rounding, which is dropped. The
 *            other eigenvalues and their eigenvectors are kept. */
#ifndef DASHI_OPERATOR_CLASS_H
#define DASHI_OPERATOR_CLASS_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* Where stabilize puts the eigenvalues it moves: below 1 by far more than the rebuild's
 * rounding (~1e-15 · cond(W)), so that the stored A's radius is <= 1 as computed again. */
#define OPERATOR_STABLE_RADIUS (1.0 - 1e-9)

/* Errors: E_BAD_VALUE naming "ridge" when a band's normal matrix is singular (λ = 0),
 * E_INTERNAL (out of memory). */
int operator_fit_banded(const double *X, const double *Y, uint32_t T, uint32_t D, double lambda, uint32_t K,
                        double *A, struct dashi_error *err);

/* ‖a − b‖ / ‖b‖ over n values (the fit residual, the change of a stabilised A), summed in
 * index order. */
double relative_difference(const double *a, const double *b, size_t n);

/* ‖XA − Y‖_F / ‖Y‖_F. Errors: E_INTERNAL (out of memory). */
int operator_fit_residual(const double *X, const double *Y, uint32_t T, uint32_t D, const double *A, double *res,
                          struct dashi_error *err);

/* max |eigenvalue| of A (dgeev). Errors: E_INTERNAL. */
int operator_spectral_radius(const double *A, uint32_t D, double *rho, struct dashi_error *err);

struct operator_stabilize_report {
    double radius_before, radius_after; /* max |λ| of A before and after */
    double rel_change;                  /* ‖A' − A‖_F / ‖A‖_F (0 when nothing moved) */
    uint32_t moved;                     /* eigenvalues moved */
};

/* Moves A's eigenvalues outside the unit disc to radius OPERATOR_STABLE_RADIUS, in place (A unchanged,
 * bit for bit, when none is outside). Errors: E_INTERNAL (out of memory, a LAPACK failure). */
int operator_stabilize(double *A, uint32_t D, struct operator_stabilize_report *rep, struct dashi_error *err);

#endif
