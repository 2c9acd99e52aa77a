/* SPDX-License-Identifier: MIT */
/* Drawing into an 8-bit RGB pixel buffer (row 0 at the top, 3 bytes a pixel): the few
 * primitives the atom overlay of `dashi render` and the `dashi lineage --png` picture
 * need. A canvas either wraps periodically (a field on the torus: a shape that runs off
 * one edge continues at the opposite one) or clips at its edges. */
#ifndef DASHI_DRAW_H
#define DASHI_DRAW_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"

struct draw_rgb {
    uint8_t r, g, b;
};

struct draw_canvas {
    uint8_t *px; /* h rows of w pixels */
    int w, h;
    bool wrap; /* periodic (true) or clipped (false) */
};

/* Allocates a w×h canvas filled with background. E_TOO_LARGE beyond 2^15 a side. */
int draw_canvas_init(struct draw_canvas *c, int w, int h, struct draw_rgb background, bool wrap,
                     struct dashi_error *err);
void draw_canvas_free(struct draw_canvas *c);

/* The colour at (x, y), wrapped or, when clipped and outside, false. */
bool draw_get(const struct draw_canvas *c, int x, int y, struct draw_rgb *out);
void draw_pixel(const struct draw_canvas *c, int x, int y, struct draw_rgb colour);
/* A one-pixel line from (x0, y0) to (x1, y1), both ends included (Bresenham: exactly
 * max(|x1-x0|, |y1-y0|) + 1 pixels, each within half a pixel of the true segment). */
void draw_line(const struct draw_canvas *c, int x0, int y0, int x1, int y1, struct draw_rgb colour);
/* The filled rectangle [x0, x1] × [y0, y1] (corners in any order). */
void draw_rect(const struct draw_canvas *c, int x0, int y0, int x1, int y1, struct draw_rgb colour);
/* The pixels whose centre lies less than r + 1/2 from (cx, cy) (r >= 0; r = 0 is one pixel). */
void draw_disc(const struct draw_canvas *c, int cx, int cy, int r, struct draw_rgb colour);
/* The pixels whose distance from (cx, cy) rounds to r (r - 1/2 <= d < r + 1/2): a closed
 * one-pixel circle (r = 0 is the centre pixel). */
void draw_ring(const struct draw_canvas *c, int cx, int cy, int r, struct draw_rgb colour);

#endif
