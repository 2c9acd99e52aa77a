/* SPDX-License-Identifier: MIT */
#include "axes.h"

#include <math.h>
#include <stdio.h>

#include "figure.h"

/* Ten well-separated colours (the usual categorical palette of plotting tools). */
static const double PALETTE[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

static void set_colour(cairo_t *cr, int k)
{
    const double *c = PALETTE[(unsigned)k % 10];
    cairo_set_source_rgb(cr, c[0] / 255, c[1] / 255, c[2] / 255);
}

int axes_x_range(const struct axes_series *s, size_t n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].n; k++)
            if (isfinite(s[i].x[k]) && isfinite(s[i].y[k])) {
                *lo = fmin(*lo, s[i].x[k]);
                *hi = fmax(*hi, s[i].x[k]);
            }
    return isfinite(*lo);
}

static void y_range(const struct axes_series *s, size_t n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].n; k++)
            if (isfinite(s[i].x[k]) && isfinite(s[i].y[k])) {
                *lo = fmin(*lo, s[i].y[k]);
                *hi = fmax(*hi, s[i].y[k]);
            }
    if (!isfinite(*lo))
        *lo = 0, *hi = 1;
    double pad = (*hi - *lo) * 0.05; /* keep the lines off the frame */
    *lo -= pad;
    *hi += pad;
}

/* A one-value range becomes a window around the value. */
static void widen(double *lo, double *hi)
{
    if (*hi > *lo)
        return;
    double pad = *lo != 0 ? fabs(*lo) * 0.5 : 1;
    *lo -= pad;
    *hi += pad;
}

struct map {
    double lo, hi, a, b; /* data [lo, hi] onto pixels [a, b] */
};

static double map(const struct map *m, double v)
{
    return m->a + (v - m->lo) / (m->hi - m->lo) * (m->b - m->a);
}

static void ticks(cairo_t *cr, const struct axes_panel *p, const struct map *m, int vertical)
{
    double step = fig_nice_step(m->hi - m->lo, 5);
    for (double v = ceil(m->lo / step - 1e-9) * step; v <= m->hi + step * 1e-9; v += step) {
        double q = map(m, v);
        char buf[32];
        fig_number(buf, sizeof buf, v, step);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, vertical ? p->x : q, vertical ? q : p->y);
        cairo_line_to(cr, vertical ? p->x + p->w : q, vertical ? q : p->y + p->h);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        if (vertical)
            fig_text(cr, p->x - 6, q, 1, 0.5, 11, buf);
        else
            fig_text(cr, q, p->y + p->h + 6, 0.5, 0, 11, buf);
    }
}

static size_t lines(cairo_t *cr, const struct map *mx, const struct map *my, const struct axes_series *s)
{
    size_t drawn = 0;
    int open = 0;
    set_colour(cr, s->colour);
    cairo_set_line_width(cr, 1.8);
    for (size_t k = 0; k < s->n; k++) {
        if (!isfinite(s->x[k]) || !isfinite(s->y[k])) {
            open = 0;
            continue;
        }
        double x = map(mx, s->x[k]), y = map(my, s->y[k]);
        if (open)
            cairo_line_to(cr, x, y);
        else
            cairo_move_to(cr, x, y);
        open = 1;
        drawn++;
    }
    cairo_stroke(cr);
    if (drawn == 1) /* a lone point stays visible */
        for (size_t k = 0; k < s->n; k++)
            if (isfinite(s->x[k]) && isfinite(s->y[k])) {
                cairo_arc(cr, map(mx, s->x[k]), map(my, s->y[k]), 2.5, 0, 2 * M_PI);
                cairo_fill(cr);
            }
    return drawn;
}

size_t axes_draw(cairo_t *cr, const struct axes_panel *p, double x_lo, double x_hi, const struct axes_series *s,
                 size_t n)
{
    struct map mx = {x_lo, x_hi, p->x, p->x + p->w}, my = {0, 0, p->y + p->h, p->y};
    widen(&mx.lo, &mx.hi);
    y_range(s, n, &my.lo, &my.hi);
    widen(&my.lo, &my.hi);
    cairo_save(cr);
    cairo_set_line_width(cr, 1);
    ticks(cr, p, &mx, 0);
    ticks(cr, p, &my, 1);
    cairo_rectangle(cr, p->x, p->y, p->w, p->h);
    cairo_stroke(cr);
    fig_text(cr, p->x + p->w / 2, p->y + p->h + 22, 0.5, 0, 12, p->xlabel);
    cairo_save(cr); /* the y label reads upwards */
    cairo_translate(cr, p->x - AXES_LEFT + 14, p->y + p->h / 2);
    cairo_rotate(cr, -M_PI / 2);
    fig_text(cr, 0, 0, 0.5, 0.5, 12, p->ylabel);
    cairo_restore(cr);
    if (isfinite(p->mark_x) && p->mark_x >= mx.lo && p->mark_x <= mx.hi) {
        static const double DASH[] = {5, 4};
        double x = map(&mx, p->mark_x);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        cairo_set_dash(cr, DASH, 2, 0);
        cairo_move_to(cr, x, p->y);
        cairo_line_to(cr, x, p->y + p->h);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        if (p->mark_label)
            fig_text(cr, x + 4, p->y + 3, 0, 0, 10, p->mark_label);
    }
    cairo_rectangle(cr, p->x, p->y, p->w, p->h);
    cairo_clip(cr);
    size_t drawn = 0;
    for (size_t i = 0; i < n; i++)
        drawn += lines(cr, &mx, &my, &s[i]);
    cairo_restore(cr);
    return drawn;
}

void axes_legend(cairo_t *cr, double x, double y, const char *const *labels, const int *colours, size_t n)
{
    cairo_save(cr);
    cairo_set_line_width(cr, 2.5);
    for (size_t i = 0; i < n; i++) {
        double ly = y + (double)i * AXES_LEGEND_ROW + AXES_LEGEND_ROW / 2.0;
        set_colour(cr, colours[i]);
        cairo_move_to(cr, x, ly);
        cairo_line_to(cr, x + 24, ly);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        fig_text(cr, x + 30, ly, 0, 0.5, 11, labels[i]);
    }
    cairo_restore(cr);
}
