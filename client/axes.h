/* SPDX-License-Identifier: MIT */
/* Line charts on cairo (figure.h): one pair of axes with ticks at round values, grid,
 * labels and lines of one or more series, and a legend. `dashi plot` stacks one such
 * panel per quantity; `dashi figure` puts its metric panels under the field panels. */
#ifndef DASHI_AXES_H
#define DASHI_AXES_H

#include <cairo.h>
#include <stddef.h>

struct axes_series {
    const double *x, *y; /* n points; a non-finite one breaks the line */
    size_t n;
    int colour; /* index into the palette */
};

struct axes_panel {
    double x, y, w, h; /* the plot area (ticks and labels go outside it) */
    const char *xlabel, *ylabel;
    double mark_x;          /* a dashed vertical line there (NaN: none) */
    const char *mark_label; /* written beside it */
};
/* Room the labels need around the plot area. */
enum { AXES_LEFT = 78, AXES_BOTTOM = 42, AXES_TOP = 12, AXES_RIGHT = 16 };

/* Draws the panel; the x range is [x_lo, x_hi] (shared by stacked panels), the y range
 * fits the series. Returns the number of finite points drawn. */
size_t axes_draw(cairo_t *cr, const struct axes_panel *p, double x_lo, double x_hi, const struct axes_series *s,
                 size_t n);
/* The x range of the finite points of the series; false when there is none. */
int axes_x_range(const struct axes_series *s, size_t n, double *lo, double *hi);
/* A legend: a line of each entry's colour and its label, one row each from (x, y). */
void axes_legend(cairo_t *cr, double x, double y, const char *const *labels, const int *colours, size_t n);
enum { AXES_LEGEND_ROW = 18 };

#endif
