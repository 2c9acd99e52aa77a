/* SPDX-License-Identifier: MIT */
#include "figure.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Installed by `make deps` (fonts-dejavu-core), so figures look the same on every machine. */
#define FIG_FONT "DejaVu Sans"

int fig_format_of(const char *path, const char *field, enum fig_format *fmt, struct dashi_error *err)
{
    const char *dot = strrchr(path, '.');
    if (dot && strcasecmp(dot, ".png") == 0)
        *fmt = FIG_PNG;
    else if (dot && strcasecmp(dot, ".svg") == 0)
        *fmt = FIG_SVG;
    else if (dot && strcasecmp(dot, ".pdf") == 0)
        *fmt = FIG_PDF;
    else
        /* An unknown format is something that does not exist (exit status 2, docs/cli.md). */
        return dashi_fail(err, DASHI_E_NOT_FOUND, field,
                          "no figure format for '%s': the file must end in .png, .svg or .pdf", path);
    return 0;
}

const char *fig_format_name(enum fig_format fmt)
{
    return fmt == FIG_PNG ? "png" : fmt == FIG_SVG ? "svg" : "pdf";
}

int fig_open(struct fig *f, const char *path, const char *field, int w, int h, struct dashi_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->field = field;
    if (fig_format_of(path, field, &f->fmt, err) != 0)
        return -1;
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "size", "figure size %dx%d out of range (1..16384 a side)", w, h);
    /* SVG and PDF stream to the file as they are drawn; PNG is written at fig_close. */
    f->surface = f->fmt == FIG_PNG ? cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h)
                 : f->fmt == FIG_SVG ? cairo_svg_surface_create(path, w, h)
                                     : cairo_pdf_surface_create(path, w, h);
    f->cr = cairo_create(f->surface);
    if (cairo_status(f->cr) != CAIRO_STATUS_SUCCESS) {
        int rc = dashi_fail(err, DASHI_E_IO, field, "cannot create %s: %s", path,
                            cairo_status_to_string(cairo_status(f->cr)));
        cairo_destroy(f->cr);
        cairo_surface_destroy(f->surface);
        f->cr = NULL;
        f->surface = NULL;
        return rc;
    }
    cairo_set_source_rgb(f->cr, 1, 1, 1);
    cairo_paint(f->cr);
    cairo_select_font_face(f->cr, FIG_FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    return 0;
}

int fig_close(struct fig *f, struct dashi_error *err)
{
    if (!f->cr)
        return 0;
    cairo_status_t st = cairo_status(f->cr);
    cairo_destroy(f->cr);
    f->cr = NULL;
    if (st == CAIRO_STATUS_SUCCESS && f->fmt == FIG_PNG)
        st = cairo_surface_write_to_png(f->surface, f->path);
    cairo_surface_finish(f->surface);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(f->surface);
    cairo_surface_destroy(f->surface);
    f->surface = NULL;
    /* cairo and fontconfig keep their font caches for the life of the process; a command
     * draws one figure, so they are released here and the leak checkers of the tests
     * (ASan, valgrind) see a clean exit. */
    cairo_debug_reset_static_data();
    FcFini();
    if (st != CAIRO_STATUS_SUCCESS)
        return dashi_fail(err, DASHI_E_IO, f->field, "writing %s: %s", f->path, cairo_status_to_string(st));
    return 0;
}

void fig_text(cairo_t *cr, double x, double y, double ax, double ay, double size, const char *s)
{
    cairo_text_extents_t e;
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &e);
    /* Vertical placement by the font's size, not the glyphs', so labels of one row align. */
    cairo_move_to(cr, x - e.x_advance * ax, y + size * 0.75 * (1 - ay));
    cairo_show_text(cr, s);
}

void fig_number(char *buf, size_t cap, double v, double step)
{
    if (fabs(v) < fabs(step) * 1e-9)
        v = 0;
    /* Enough digits that neighbouring ticks differ (at least 3). */
    int digits = v != 0 && step > 0 ? (int)ceil(log10(fabs(v) / fabs(step))) + 1 : 3;
    snprintf(buf, cap, "%.*g", digits < 3 ? 3 : digits > 12 ? 12 : digits, v);
}

double fig_nice_step(double span, int n)
{
    if (!(span > 0))
        return 1;
    double raw = span / n, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

/* The field as a cairo image (0x00RRGGBB words), sampled nearest-neighbour when scaled. */
static cairo_surface_t *image_surface(const struct fig_image *img)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img->nx, img->ny);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        return s;
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < img->ny; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * (size_t)stride);
        for (int x = 0; x < img->nx; x++) {
            const uint8_t *p = img->rgb + 3 * ((size_t)y * (size_t)img->nx + (size_t)x);
            row[x] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        }
    }
    cairo_surface_mark_dirty(s);
    return s;
}

static void stroke_line(cairo_t *cr, double x0, double y0, double x1, double y1)
{
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
}

/* Ticks at multiples of π/2 of the box (labelled 0, π/2, π, 3π/2, 2π when box = 2π). */
static void box_axes(cairo_t *cr, const struct fig_panel *p)
{
    static const char *const LABELS[] = {"0", "π/2", "π", "3π/2", "2π"};
    int exact = fabs(p->box - 2 * M_PI) < 1e-12;
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, p->x, p->y, p->side, p->side);
    cairo_stroke(cr);
    for (int k = 0; k <= 4; k++) {
        double d = p->side * k / 4.0;
        char buf[16];
        if (exact)
            snprintf(buf, sizeof buf, "%s", LABELS[k]);
        else
            fig_number(buf, sizeof buf, p->box * k / 4.0, p->box / 4);
        stroke_line(cr, p->x + d, p->y + p->side, p->x + d, p->y + p->side + 5);
        fig_text(cr, p->x + d, p->y + p->side + 7, 0.5, 0, 11, buf);
        stroke_line(cr, p->x - 5, p->y + d, p->x, p->y + d);
        fig_text(cr, p->x - 7, p->y + d, 1, 0.5, 11, buf);
    }
    fig_text(cr, p->x + p->side / 2, p->y + p->side + 24, 0.5, 0, 12, "x");
    fig_text(cr, p->x - 44, p->y + p->side / 2, 0.5, 0.5, 12, "y");
}

enum { BAR_GAP = 14, BAR_WIDTH = 18, BAR_STEPS = 256 };

/* A vertical bar from lo (bottom) to hi (top) with ticks at round values. */
static void colorbar(cairo_t *cr, const struct fig_panel *p)
{
    double x = p->x + p->side + BAR_GAP, y = p->y, h = p->side;
    for (int i = 0; i < BAR_STEPS; i++) {
        uint8_t c[3];
        cmap_colour(p->cmap, p->lo + (p->hi - p->lo) * (i + 0.5) / BAR_STEPS, p->lo, p->hi, c);
        cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
        double y1 = y + h - h * (i + 1) / BAR_STEPS, y0 = y + h - h * i / BAR_STEPS;
        cairo_rectangle(cr, x, floor(y1), BAR_WIDTH, ceil(y0) - floor(y1));
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x, y, BAR_WIDTH, h);
    cairo_stroke(cr);
    if (!(p->hi > p->lo))
        return;
    double step = fig_nice_step(p->hi - p->lo, 4);
    for (double v = ceil(p->lo / step - 1e-9) * step; v <= p->hi + step * 1e-9; v += step) {
        double ty = y + h - (v - p->lo) / (p->hi - p->lo) * h;
        char buf[32];
        fig_number(buf, sizeof buf, v, step);
        stroke_line(cr, x + BAR_WIDTH, ty, x + BAR_WIDTH + 4, ty);
        fig_text(cr, x + BAR_WIDTH + 6, ty, 0, 0.5, 10, buf);
    }
}

int fig_write_png(const char *path, const char *field, const struct fig_image *img, struct dashi_error *err)
{
    cairo_surface_t *s = image_surface(img);
    cairo_status_t st = cairo_surface_status(s);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_write_to_png(s, path);
    cairo_surface_destroy(s);
    cairo_debug_reset_static_data();
    if (st != CAIRO_STATUS_SUCCESS)
        return dashi_fail(err, DASHI_E_IO, field, "writing %s: %s", path, cairo_status_to_string(st));
    return 0;
}

int fig_field_panel(struct fig *f, const struct fig_image *img, const struct fig_panel *p, struct dashi_error *err)
{
    cairo_t *cr = f->cr;
    cairo_surface_t *s = image_surface(img);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return dashi_fail(err, DASHI_E_TOO_LARGE, "", "cannot make a %dx%d image", img->nx, img->ny);
    }
    cairo_save(cr);
    cairo_translate(cr, p->x, p->y);
    cairo_scale(cr, p->side / img->nx, p->side / img->ny);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, img->nx, img->ny);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(s);
    box_axes(cr, p);
    if (p->colorbar)
        colorbar(cr, p);
    if (p->title) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        fig_text(cr, p->x + p->side / 2, p->y - 10, 0.5, 1, 13, p->title);
    }
    return 0;
}
