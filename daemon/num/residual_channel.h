/* SPDX-License-Identifier: MIT */
/* The residual channel of evolve mode's fidelity slider (docs/numerics.md "Fidelity
 * slider"): the part of the start frame that the atoms miss, kept as the Fourier modes of
 * a disc |m| ≤ K = fidelity·N/√2 (integer mode units, m in numpy's fftfreq order), and
 * advected by the atoms' own velocity field (atom_velocity.h) between steps.
 *
 * At fidelity 1 the disc holds every mode of the grid, so the start frame is represented
 * exactly (to rounding); by Parseval the start's error is the energy of the modes outside
 * the disc, which can only fall as the disc grows: the slider is monotone by construction.
 *
 * Time: ∂r/∂t = −u·∇r, pseudo-spectral on the N×N grid (gradients from the spectrum, the
 * product on the grid, the tendency projected back onto the disc), classic RK4 substeps.
 * u is the atoms' velocity sampled at the grid points, interpolated linearly in time
 * between the atoms before and after their transport over the step. */
#ifndef DASHI_RESIDUAL_CHANNEL_H
#define DASHI_RESIDUAL_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "atom_velocity.h"
#include "errors.h"

struct residual_channel;

/* The channel of `fidelity` ∈ [0, 1] holding the disc's modes of `missed` (n×n row-major,
 * axis 0 = y, box side `box`). E_BAD_VALUE for n outside [2, 4096] or a fidelity outside
 * [0, 1]; E_INTERNAL when out of host memory. */
int residual_channel_create(const double *missed, uint32_t n, double box, double fidelity,
                            struct residual_channel **out, struct dashi_error *err);
void residual_channel_destroy(struct residual_channel *c); /* NULL is fine */
/* Modes in the disc (each (mx, my) counted once; a real field's ±m are two). */
size_t residual_channel_modes(const struct residual_channel *c);
/* field += the channel's field on the grid. */
void residual_channel_add(struct residual_channel *c, double *field); /* uses c's scratch */
/* Advects the channel over dt by the velocity of `before` (count atoms at the step's
 * start) then `after` (the same atoms transported), modes |mx|, |my| ≤ kmax: at least
 * `substeps` RK4 substeps, more when needed for |u|·kdisc·h ≤ 2 (RK4's stable range on
 * the imaginary axis is 2.83). E_DIVERGED when the field stops being finite. */
int residual_channel_advect(struct residual_channel *c, const struct atom_point *before,
                            const struct atom_point *after, size_t count, uint32_t kmax, double dt,
                            uint32_t substeps, struct dashi_error *err);

#endif
