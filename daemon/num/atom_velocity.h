/* SPDX-License-Identifier: MIT */
/* The velocity that a set of Gaussian vortex atoms induces on the periodic box, their
 * transport by it, and their rendering back into a vorticity field (docs/numerics.md "Evolve:
 * induced velocity" and "Evolve mode").
 *
 * An atom a (centroid x_a, strength q_a = σ_a Γ_a, core radius ε_a) stands for the
 * vorticity  ω_a(x) = q_a/(2π ε_a²) · exp(−|x − x_a|²/(2 ε_a²))  summed over periodic images.
 * Its Fourier coefficients on the box of side L (ω = Σ_k c_k e^{ik·x}) are
 *   c_k = q_a/L² · exp(−|k|² ε_a²/2) · e^{−ik·x_a},   k = (2π/L)·(m_x, m_y).
 * The velocity follows the LES's convention (ψ̂ = ω̂/|k|², mode 0 dropped, u = ∂yψ,
 * v = −∂xψ), from the modes |m_x|, |m_y| ≤ kmax: the spectral Poisson solve of the
 * rasterised field, without the grid (the "documented equivalent" the issue allows).
 * Atom b moves with that velocity averaged over its own Gaussian (each mode weighted by
 * exp(−|k|²ε_b²/2)), which is the velocity of its vorticity centroid; the interaction is
 * then symmetric in a and b, so Σ q·x (linear impulse) is conserved whatever the ε, and
 * an atom's own contribution cancels between k and −k, so it does not move itself.
 *
 * Summation order is fixed (modes in ascending (m_y, m_x) order over the half plane,
 * atoms in index order on the host, a fixed split into chunks and tiles on the GPU), so
 * results are deterministic on one device; the GPU and host paths agree to rounding
 * (tested). */
#ifndef DASHI_ATOM_VELOCITY_H
#define DASHI_ATOM_VELOCITY_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "vk.h"

struct atom_point {
    double x, y;  /* centroid in [0, L) */
    double q;     /* σΓ */
    double eps;   /* core radius ε > 0 */
};

#define ATOM_VELOCITY_MAX_KMAX 128

/* E_BAD_VALUE unless kmax is in [1, ATOM_VELOCITY_MAX_KMAX], box is finite and positive,
 * and every atom has finite x, y, q and a finite ε > 0 (a may be NULL when count is 0). */
int atom_velocity_check(const struct atom_point *a, size_t count, uint32_t kmax, double box,
                        struct dashi_error *err);
/* The same plus a finite dt and substeps ≥ 1. */
int atom_advect_check(const struct atom_point *a, size_t count, uint32_t kmax, double box, double dt,
                      uint32_t substeps, struct dashi_error *err);
/* x wrapped into [0, box). */
double atom_wrap(double x, double box);

/* Host reference: u[i], v[i], the velocity of atom i's centroid. */
int atom_velocity_host(const struct atom_point *a, size_t count, uint32_t kmax, double box, double *u, double *v,
                       struct dashi_error *err);

/* Host reference transport: `substeps` midpoint (RK2) steps of length dt/substeps, the
 * velocity re-evaluated at each stage, centroids wrapped back into [0, L). */
int atom_advect_host(struct atom_point *a, size_t count, uint32_t kmax, double box, double dt, uint32_t substeps,
                     struct dashi_error *err);

/* The same on the GPU, keeping the atoms on the device between stages. capacity (1 to
 * 4e6, else E_TOO_LARGE) bounds count for the buffers allocated at create; E_DEVICE_MEMORY
 * when they exceed the device's budget or its per-binding range (the tables take
 * 16 (kmax+1) bytes per atom each). eval and advect check their arguments as the host
 * functions do, and E_BAD_VALUE for count > capacity. */
struct atom_velocity_gpu;
int atom_velocity_gpu_create(struct vk_runtime *vk, size_t capacity, uint32_t kmax, struct atom_velocity_gpu **out,
                             struct dashi_error *err);
void atom_velocity_gpu_destroy(struct atom_velocity_gpu *g); /* NULL is fine */
/* Device-local bytes create allocates (for a job's memory estimate); it also maps a
 * host-visible staging buffer of 48 bytes per atom of capacity. */
uint64_t atom_velocity_gpu_bytes(size_t capacity, uint32_t kmax);
int atom_velocity_gpu_eval(struct atom_velocity_gpu *g, const struct atom_point *a, size_t count, double box,
                           double *u, double *v, struct dashi_error *err);
int atom_advect_gpu(struct atom_velocity_gpu *g, struct atom_point *a, size_t count, double box, double dt,
                    uint32_t substeps, struct dashi_error *err);
/* Device milliseconds of the last eval or advect (its copies in and out included) from
 * GPU timestamps; negative when the queue has none or nothing ran yet. */
double atom_velocity_gpu_last_ms(const struct atom_velocity_gpu *g);

/* Renders the atoms into an n×n field (row-major, axis 0 = y, grid point (i, j) at
 * (x, y) = (j·dx, i·dx), dx = box/n), each Gaussian evaluated over the periodic images in
 * the square of half-side 6 ε about its centroid (the tail beyond is below 1.6e-8 of the
 * peak); field is overwritten. E_BAD_VALUE also for n outside [1, 65536] or ε > box. */
int atoms_render_host(const struct atom_point *a, size_t count, uint32_t n, double box, double *field,
                      struct dashi_error *err);

#endif
