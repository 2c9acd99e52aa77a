/* SPDX-License-Identifier: MIT */
/* Line charts of metric series for `dashi plot`: several series (job × key) on one pair
 * of axes with ticks, grid and a legend, written as PNG (libpng; a built-in 3×5 pixel
 * font for the labels) or SVG (text). Deterministic: the same series give the same bytes. */
#ifndef DASHI_PLOT_H
#define DASHI_PLOT_H

#include <stddef.h>

#include "errors.h"

struct plot_series {
    const char *label; /* legend text, e.g. "job 3 energy" */
    const double *x;   /* n steps */
    const double *y;   /* n values; non-finite points break the line */
    size_t n;
};

enum plot_format { PLOT_PNG, PLOT_SVG };

/* The format named by path's extension (.png or .svg, any case); -1 with E_BAD_VALUE
 * naming field "o" otherwise. */
int plot_format_of(const char *path, enum plot_format *fmt, struct dashi_error *err);

/* Draws the series (1..PLOT_MAX_SERIES) into path in the format of its extension,
 * with x_label under the x axis. Errors: E_BAD_VALUE ("o" for the extension, "key" when
 * no series has a finite point), E_IO. */
#define PLOT_MAX_SERIES 32
int plot_write(const char *path, const struct plot_series *series, size_t nseries, const char *x_label,
               struct dashi_error *err);

#endif
