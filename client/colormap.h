/* SPDX-License-Identifier: MIT */
/* The colour maps of the field figures (docs/cli.md "Figures"): diverging (blue - white -
 * red, symmetric around 0: the default for vorticity, whose sign matters) and sequential
 * (light yellow - teal - navy from lo to hi, for magnitudes). */
#ifndef DASHI_COLORMAP_H
#define DASHI_COLORMAP_H

#include <stdint.h>

#include "errors.h"

enum cmap_kind { CMAP_DIVERGING, CMAP_SEQUENTIAL };

/* "diverging" or "sequential"; NULL or "" gives diverging. E_BAD_VALUE naming "cmap". */
int cmap_parse(const char *name, enum cmap_kind *kind, struct dashi_error *err);
const char *cmap_name(enum cmap_kind kind);

/* The 8-bit RGB colour of v on [lo, hi] (clamped; NaN gives the colour of the middle). */
void cmap_colour(enum cmap_kind kind, double v, double lo, double hi, uint8_t rgb[3]);

#endif
