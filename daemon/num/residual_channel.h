/* SPDX-License-Identifier: MIT */
/* The residual channel of evolve mode's fidelity slider (docs/numerics.md "Fidelity
 * slider"): the part of the start frame that the atoms miss, kept as the Fourier modes of
 * a disc |m| ≤ K = fidelity·N/√2 (integer mode units, m in numpy's fftfreq order; none at
 * fidelity 0), evolved between steps as below.
 *
 * At fidelity 1 the disc holds every mode of the grid, so the start frame is represented
 * exactly (to rounding); by Parseval the start's error is the energy of the modes outside
 * the disc, which can only fall as the disc grows: the slider is monotone by construction.
 *
 * Time: the atoms move by their own velocity (atom_velocity.h); the channel takes the disc's
 * part of what the whole field's vorticity equation asks beyond that motion,
 * ∂r/∂t = P_D[−u·∇(A + r) − ∂A/∂t], pseudo-spectral on the N×N grid (A the rendered atoms,
 * u the velocity of A + r), classic RK4 substeps. At fidelity 1 (P_D the identity) A + r is
 * then the pseudo-spectral Euler solution on the grid, whatever the atoms do; a Hou–Li
 * filter after each substep keeps the grid scale from piling up. */
#ifndef DASHI_RESIDUAL_CHANNEL_H
#define DASHI_RESIDUAL_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct residual_channel;

/* The transforms are FFTW's, whose planner is shared by the process: a process whose
 * threads create channels concurrently calls residual_channel_process_init once before
 * they start (it makes FFTW's planner serialise itself), and residual_channel_process_done
 * once they have all ended (FFTW's cached plans freed: a clean shutdown under valgrind). */
void residual_channel_process_init(void);
void residual_channel_process_done(void);

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
/* field += delta's part on the disc (what Π removed from the atoms after a transport). */
void residual_channel_absorb(struct residual_channel *c, const double *delta);
/* Evolves the channel over dt so that atoms + channel follows ∂ω/∂t = −u·∇ω on the disc
 * (u the whole field's velocity): the channel takes the disc's part of −u·∇ω − ∂A/∂t, with
 * A the rendered atoms, linear in time from atoms_before (the step's start) to atoms_after
 * (after transport), both n×n. At least `substeps` RK4 substeps, more when needed for
 * |u|·|k|max·h ≤ 2 (RK4's stable range on the imaginary axis is 2.83). E_DIVERGED when the
 * field stops being finite or needs over 1e5 substeps. */
int residual_channel_advect(struct residual_channel *c, const double *atoms_before, const double *atoms_after,
                            double dt, uint32_t substeps, struct dashi_error *err);

#endif
