/* SPDX-License-Identifier: MIT */
/* Filament atoms (docs/numerics.md "Atoms and threads"): connected components of same-sign support
 * of a closed ternary carrier s ∈ {-1,0,+1} (N×N, row-major, axis 0 = y, axis 1 = x), 8-connected
 * on the periodic grid, measured against the vorticity ω of the same frame.
 *
 * Per atom:
 *   sigma        the carrier sign of the component (+1 / -1)
 *   gamma        Γ = |Σ ω dx²| over the component's cells
 *   cx, cy       centroid in box units [0, L), L = 2π, weighted by |ω| (uniform when
 *                Σ|ω| = 0), computed on coordinates unwrapped along the labelling walk
 *                from the component's seed cell, so a component across the periodic seam
 *                gets its true centre; grid point (i, j) sits at (x, y) = (j dx, i dx)
 *   eps          core radius ε = dx·sqrt(Cxx + Cyy + 1/6): the weighted second moment
 *                about the centroid (cells²) plus each cell's own 1/12 per axis, so a
 *                one-cell atom has ε = dx/√6 rather than 0
 *   orientation  angle of the major axis of the moment tensor (radians in (-π/2, π/2],
 *                from the x axis towards y)
 *   elongation   sqrt(λmax/λmin) of the (regularised) moment tensor, ≥ 1
 *   cells        number of cells
 *   seed         the lowest flat index of the component
 *
 * Order: Γ descending, ties by lower seed. `labels` maps each cell to its atom index in
 * that order, or -1 off support. Everything is deterministic (no threads, a fixed walk). */
#ifndef DASHI_ATOMS_H
#define DASHI_ATOMS_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct atom {
    int sigma;
    double gamma;
    double cx, cy;
    double eps;
    double orientation;
    double elongation;
    uint32_t cells;
    uint32_t seed;
};

struct atom_frame {
    uint32_t n;            /* grid side */
    size_t count;
    struct atom *atoms;    /* count entries, malloc'd */
    int32_t *labels;       /* n*n entries, malloc'd (-1 off support) */
};

/* Extracts the atoms of carrier s (values -1, 0, +1; anything else is E_BAD_VALUE) with
 * vorticity omega, both n×n (omega NULL: the labelling alone matters, Γ is 0 and the
 * weights uniform). box is the side L (2π for dashid's fields). Fills frame
 * (free it with atom_frame_free). */
int atoms_extract(const int8_t *s, const double *omega, uint32_t n, double box, struct atom_frame *frame,
                  struct dashi_error *err);
void atom_frame_free(struct atom_frame *frame);

/* The atom order as a qsort comparator: Γ descending, ties by lower seed. */
int atom_order(const void *a, const void *b);

/* The finishing step every extraction shares: Γ, centroid, ε, orientation and
 * elongation of *a from Σω (sum_om), the weight total Σw, the weighted centroid
 * (mu, mv) in unwrapped cells and the weighted central second-moment sums sxx, syy, sxy
 * (cells²). Leaves sigma, cells and seed alone. */
void atom_from_sums(struct atom *a, double sum_om, double total, double mu, double mv, double sxx, double syy,
                    double sxy, double dx, double box);

/* The closure's passes at most (atoms_closed_carrier): every pass removes support, so the cap
 * is never reached in practice (K ≈ 6 on LES fields); reaching it is reported. */
#define CARRIER_MAX_LEVELS 4096

/* atoms_initial_carrier: the level-0 carrier s_0 of field omega (the detail thresholded at τ,
 * before any closure pass). The closed carrier of field omega (docs/numerics.md "Closure": detail, PDA threshold τ,
 * annihilation and persistence to a fixed point) written into s (n×n). A thin wrapper over the
 * closure kernel (closure.h) so atoms have one definition of the carrier; *depth receives the
 * closure depth K when depth is not NULL. */
int atoms_initial_carrier(const double *omega, uint32_t n, double tau, int8_t *s, struct dashi_error *err);
int atoms_closed_carrier(const double *omega, uint32_t n, double tau, int8_t *s, int *depth,
                         struct dashi_error *err);

/* Periodic distance between two points of the box of side L. */
double atoms_periodic_distance(double ax, double ay, double bx, double by, double box);

#endif
