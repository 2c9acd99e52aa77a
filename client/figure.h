/* SPDX-License-Identifier: MIT */
/* A figure drawn with cairo (docs/cli.md "Figures"): the output format comes from the
 * file's extension (.png, .svg, .pdf), text is DejaVu Sans through fontconfig, and a field
 * panel is the field scaled up with nearest-neighbour sampling, axes in box units (the
 * periodic box of side 2π, docs/numerics.md), a colorbar with values and a title. */
#ifndef DASHI_FIGURE_H
#define DASHI_FIGURE_H

#include <cairo.h>
#include <stddef.h>
#include <stdint.h>

#include "colormap.h"
#include "errors.h"

enum fig_format { FIG_PNG, FIG_SVG, FIG_PDF };

/* The format named by path's extension (any case); E_NOT_FOUND naming field otherwise. */
int fig_format_of(const char *path, const char *field, enum fig_format *fmt, struct dashi_error *err);
const char *fig_format_name(enum fig_format fmt);

struct fig {
    cairo_surface_t *surface;
    cairo_t *cr;
    enum fig_format fmt;
    const char *path, *field; /* field: the option naming path, for errors */
};

/* A w×h figure (points; pixels for PNG) with a white background, to be written to path. */
int fig_open(struct fig *f, const char *path, const char *field, int w, int h, struct dashi_error *err);
/* Writes the figure and frees it (also after an error). E_IO naming f->field. */
int fig_close(struct fig *f, struct dashi_error *err);

/* Text with its anchor at (x, y): ax, ay = 0 left/top, 0.5 centre, 1 right/bottom. */
void fig_text(cairo_t *cr, double x, double y, double ax, double ay, double size, const char *s);
/* Tick labels: enough digits to tell ticks step apart (at least 3), -0 and rounding dust
 * at 0 shown as 0. */
void fig_number(char *buf, size_t cap, double v, double step);
/* A 1, 2 or 5 times a power of ten near span/n, so ticks land on round numbers. */
double fig_nice_step(double span, int n);

/* An nx×ny image, 3 bytes a pixel, row 0 at the top. */
struct fig_image {
    const uint8_t *rgb;
    int nx, ny;
};

/* Writes the image as an 8-bit RGB PNG, one pixel per image pixel. E_IO naming field. */
int fig_write_png(const char *path, const char *field, const struct fig_image *img, struct dashi_error *err);

/* Where a field panel goes and what its colorbar says. */
struct fig_panel {
    double x, y, side; /* the field's square on the figure */
    double box;        /* the side in box units (2π) */
    enum cmap_kind cmap;
    double lo, hi;     /* the colour scale */
    const char *title; /* above the panel; NULL for none */
    int colorbar;      /* draw the colorbar to the right */
};
/* The space a panel needs around its square: left (y ticks), right (colorbar), top
 * (title), bottom (x ticks and label). */
enum { FIG_PANEL_LEFT = 56, FIG_PANEL_RIGHT = 96, FIG_PANEL_TOP = 40, FIG_PANEL_BOTTOM = 48 };

int fig_field_panel(struct fig *f, const struct fig_image *img, const struct fig_panel *p, struct dashi_error *err);

#endif
