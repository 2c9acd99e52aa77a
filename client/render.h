/* SPDX-License-Identifier: MIT */
/* `dashi render`: a PNG of a vorticity field so a person can look at what the daemon
 * computed. One pixel per grid point, row 0 at the top. */
#ifndef DASHI_RENDER_H
#define DASHI_RENDER_H

#include <stddef.h>

#include "atom_overlay.h"
#include "errors.h"

/* Renders npy_path (an N×M float64 field, or frame `frame` of an F×N×M trajectory;
 * frame is ignored for 2-D input) to png_path. cmap: "diverging" (NULL = default):
 * blue (negative) - white (0) - red (positive), symmetric around 0 with the scale set
 * by max |value|. Errors: E_BAD_VALUE naming "cmap", "frame" or "npy"; E_IO. */
int render_png(const char *npy_path, const char *png_path, int frame, const char *cmap, struct dashi_error *err);

/* render_png with atom markers drawn over the field (atom_overlay.h): marks in box
 * coordinates of a periodic box of side 2π. */
int render_png_marked(const char *npy_path, const char *png_path, int frame, const char *cmap,
                      const struct atom_mark *marks, size_t nmarks, struct dashi_error *err);

#endif
