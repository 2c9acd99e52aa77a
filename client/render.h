/* SPDX-License-Identifier: MIT */
/* `dashi render`: one field (an N×M array, or one frame of an F×N×M trajectory) as a
 * figure (figure.h): the field scaled up nearest-neighbour to a square of `size` points,
 * axes in box units, a colorbar with values and a title. Atom markers (atom_overlay.h) are
 * drawn on the grid-resolution image before it is scaled, one grid cell per marker pixel. */
#ifndef DASHI_RENDER_H
#define DASHI_RENDER_H

#include <stddef.h>

#include "atom_overlay.h"
#include "colormap.h"
#include "errors.h"
#include "figure.h"

/* A loaded float64 field or trajectory: frames = 1 for a 2-D array. */
struct render_field {
    double *data;
    size_t frames, ny, nx;
};
/* E_BAD_VALUE naming "npy" when the file is not an N×M or F×N×M float64 array. */
int render_load(const char *npy_path, struct render_field *f, struct dashi_error *err);
void render_field_free(struct render_field *f);

struct render_style {
    int size;         /* the field's square, in points (pixels for PNG) */
    double vmax;      /* the colour scale's end; <= 0: max |value| of the frame */
    enum cmap_kind cmap;
    const char *title;
};

/* What render_figure drew, for --json and the tests: the scale and where the field lies. */
struct render_result {
    double lo, hi;
    struct fig_panel panel;
};

/* Draws frame `frame` (< f->frames) with the markers over it into out (format from its
 * extension). Diverging: the scale is ±vmax; sequential: from the frame's minimum to vmax
 * (or its maximum). Errors: E_BAD_VALUE ("o", "size"), E_IO ("o"). */
int render_figure(const struct render_field *f, size_t frame, const struct render_style *style,
                  const struct atom_mark *marks, size_t nmarks, const char *out, struct render_result *res,
                  struct dashi_error *err);

/* The colour image of one frame on [lo, hi] (malloc'd, 3 bytes a pixel); NULL when out of memory. */
uint8_t *render_colours(const double *field, size_t n, enum cmap_kind cmap, double lo, double hi);
/* max |v| (or, when sequential, min and max) over the finite values of field. */
void render_range(const double *field, size_t n, enum cmap_kind cmap, double vmax, double *lo, double *hi);

#endif
