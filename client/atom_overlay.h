/* SPDX-License-Identifier: MIT */
/* Atom markers over a rendered field (`dashi render --atoms`): at each atom's centroid a
 * black ring of radius ~ε, edged outside in white, with a black '+' (σ = +1) or '−'
 * (σ = −1) inside; black stands out on the blue-white-red map, which never produces it.
 * Inside the ring the field stays visible around the glyph. The field is periodic, so
 * markers near an edge wrap to the opposite one. */
#ifndef DASHI_ATOM_OVERLAY_H
#define DASHI_ATOM_OVERLAY_H

#include <stddef.h>

#include "draw.h"

#define OVERLAY_INK ((struct draw_rgb){0, 0, 0})
#define OVERLAY_HALO ((struct draw_rgb){255, 255, 255})
enum { OVERLAY_MIN_RADIUS = 3, OVERLAY_MAX_RADIUS = 64 };

/* One atom in box coordinates: cx along x (columns), cy along y (rows), both in [0, box). */
struct atom_mark {
    double cx, cy, eps;
    int sigma;
};

/* The pixel of box coordinate v on a side of n pixels: pixel k is grid point k, at k·box/n
 * (the cell convention of the atoms job), so v maps to round(v·n/box) mod n. */
int overlay_pixel(double v, double box, int n);
/* The ring radius in pixels: ε·w/box rounded, within [OVERLAY_MIN_RADIUS, OVERLAY_MAX_RADIUS]. */
int overlay_radius(double eps, double box, int w);
/* The half-length of the sign glyph's strokes for a ring of radius r (fits inside the ring). */
int overlay_arm(int r);
/* Draws the n markers onto c (which should wrap), the last atom first so the first
 * (strongest, index 0) ends on top. */
void overlay_atoms(const struct draw_canvas *c, const struct atom_mark *atoms, size_t n, double box);

#endif
