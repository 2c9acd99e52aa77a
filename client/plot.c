/* SPDX-License-Identifier: MIT */
#include "plot.h"

#include "draw.h"
#include "png_write.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Canvas: the plot area on the left, the legend on the right. */
enum { WIDTH = 960, HEIGHT = 540, LEFT = 90, RIGHT = 690, TOP = 20, BOTTOM = 480, LEGEND_X = 710 };

/* Ten well-separated colours (the usual categorical palette of plotting tools). */
static const struct draw_rgb PALETTE[10] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

int plot_format_of(const char *path, enum plot_format *fmt, struct dashi_error *err)
{
    const char *dot = strrchr(path, '.');
    if (dot && strcasecmp(dot, ".png") == 0)
        *fmt = PLOT_PNG;
    else if (dot && strcasecmp(dot, ".svg") == 0)
        *fmt = PLOT_SVG;
    else
        return dashi_fail(err, DASHI_E_BAD_VALUE, "o", "the plot file must end in .png or .svg, got '%s'", path);
    return 0;
}

/* ---- axes: data ranges and tick positions ---- */

struct axis {
    double lo, hi;   /* data range shown */
    double step;     /* tick spacing */
    double first;    /* first tick >= lo */
};

/* A 1, 2 or 5 times a power of ten near span/5, so ticks land on round numbers. */
static double nice_step(double span)
{
    double raw = span / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void axis_fit(struct axis *a, double lo, double hi)
{
    if (!(hi > lo)) { /* one value (or none): a unit-wide window around it */
        double pad = lo != 0 ? fabs(lo) * 0.5 : 1;
        lo -= pad;
        hi += pad;
    }
    a->step = nice_step(hi - lo);
    a->lo = lo;
    a->hi = hi;
    a->first = ceil(lo / a->step - 1e-9) * a->step;
}

static double map_x(const struct axis *a, double v)
{
    return LEFT + (v - a->lo) / (a->hi - a->lo) * (RIGHT - LEFT);
}

static double map_y(const struct axis *a, double v)
{
    return BOTTOM - (v - a->lo) / (a->hi - a->lo) * (BOTTOM - TOP);
}

static void tick_label(char *buf, size_t cap, double v, double step)
{
    if (fabs(v) < step * 1e-9)
        v = 0; /* -0 and rounding dust at the origin */
    snprintf(buf, cap, "%.4g", v);
}

struct layout {
    struct axis x, y;
};

static int fit_layout(struct layout *l, const struct plot_series *s, size_t ns, struct dashi_error *err)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < ns; i++)
        for (size_t k = 0; k < s[i].n; k++) {
            if (!isfinite(s[i].x[k]) || !isfinite(s[i].y[k]))
                continue;
            x0 = fmin(x0, s[i].x[k]);
            x1 = fmax(x1, s[i].x[k]);
            y0 = fmin(y0, s[i].y[k]);
            y1 = fmax(y1, s[i].y[k]);
        }
    if (!isfinite(x0))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "key", "nothing to plot: the series have no finite points");
    double ypad = (y1 - y0) * 0.05; /* keep the lines off the frame */
    axis_fit(&l->x, x0, x1);
    axis_fit(&l->y, y0 - ypad, y1 + ypad);
    return 0;
}

/* ---- PNG: lines and rectangles on a clipped canvas (draw.h) and a 3×5 font ---- */

/* A data line, thickened by the pixel below and the one to the right of each of its
 * pixels so thin lines stay visible. */
static void thick_line(const struct draw_canvas *c, int x0, int y0, int x1, int y1, struct draw_rgb col)
{
    draw_line(c, x0, y0, x1, y1, col);
    draw_line(c, x0, y0 + 1, x1, y1 + 1, col);
    draw_line(c, x0 + 1, y0, x1 + 1, y1, col);
}

/* 3×5 glyphs, rows top to bottom, '#' = ink. Letters are drawn in one case. */
static const struct {
    char ch;
    const char rows[20];
} FONT[] = {
    {'0', "### #.# #.# #.# ###"}, {'1', ".#. ##. .#. .#. ###"}, {'2', "### ..# ### #.. ###"},
    {'3', "### ..# .## ..# ###"}, {'4', "#.# #.# ### ..# ..#"}, {'5', "### #.. ### ..# ###"},
    {'6', "### #.. ### #.# ###"}, {'7', "### ..# .#. .#. .#."}, {'8', "### #.# ### #.# ###"},
    {'9', "### #.# ### ..# ###"}, {'a', ".#. #.# ### #.# #.#"}, {'b', "##. #.# ##. #.# ##."},
    {'c', ".## #.. #.. #.. .##"}, {'d', "##. #.# #.# #.# ##."}, {'e', "### #.. ##. #.. ###"},
    {'f', "### #.. ##. #.. #.."}, {'g', ".## #.. #.# #.# .##"}, {'h', "#.# #.# ### #.# #.#"},
    {'i', "### .#. .#. .#. ###"}, {'j', "..# ..# ..# #.# .#."}, {'k', "#.# #.# ##. #.# #.#"},
    {'l', "#.. #.. #.. #.. ###"}, {'m', "#.# ### ### #.# #.#"}, {'n', "##. #.# #.# #.# #.#"},
    {'o', ".#. #.# #.# #.# .#."}, {'p', "##. #.# ##. #.. #.."}, {'q', ".#. #.# #.# ##. .##"},
    {'r', "##. #.# ##. #.# #.#"}, {'s', ".## #.. .#. ..# ##."}, {'t', "### .#. .#. .#. .#."},
    {'u', "#.# #.# #.# #.# ###"}, {'v', "#.# #.# #.# #.# .#."}, {'w', "#.# #.# ### ### #.#"},
    {'x', "#.# #.# .#. #.# #.#"}, {'y', "#.# #.# .#. .#. .#."}, {'z', "### ..# .#. #.. ###"},
    {'.', "... ... ... ... .#."}, {'-', "... ... ### ... ..."}, {'+', "... .#. ### .#. ..."},
    {':', "... .#. ... .#. ..."}, {'_', "... ... ... ... ###"}, {'/', "..# ..# .#. #.. #.."},
    {'(', ".#. #.. #.. #.. .#."}, {')', ".#. ..# ..# ..# .#."}, {'=', "... ### ... ### ..."},
    {'#', "#.# ### #.# ### #.#"}, {'?', "### ..# .## ... .#."},
};

enum { GLYPH_SCALE = 2, GLYPH_ADVANCE = 4 * GLYPH_SCALE, GLYPH_HEIGHT = 5 * GLYPH_SCALE };

static const char *glyph_rows(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        ch = (char)(ch - 'A' + 'a');
    for (size_t i = 0; i < sizeof FONT / sizeof FONT[0]; i++)
        if (FONT[i].ch == ch)
            return FONT[i].rows;
    return ch == ' ' ? NULL : glyph_rows('?');
}

static int text_width(const char *s)
{
    return (int)strlen(s) * GLYPH_ADVANCE - GLYPH_SCALE;
}

/* Text with its top-left corner at (x, y). */
static void draw_text(const struct draw_canvas *c, int x, int y, const char *s, struct draw_rgb col)
{
    for (; *s; s++, x += GLYPH_ADVANCE) {
        const char *rows = glyph_rows(*s);
        for (int r = 0; rows && r < 5; r++)
            for (int k = 0; k < 3; k++)
                if (rows[r * 4 + k] == '#')
                    draw_rect(c, x + k * GLYPH_SCALE, y + r * GLYPH_SCALE, x + k * GLYPH_SCALE + GLYPH_SCALE - 1,
                              y + r * GLYPH_SCALE + GLYPH_SCALE - 1, col);
    }
}

static const struct draw_rgb BLACK = {0, 0, 0}, GRID = {225, 225, 225}, WHITE = {255, 255, 255};

/* On a WIDTH × HEIGHT canvas with a white background. */
static void draw_png(const struct draw_canvas *c, const struct layout *l, const struct plot_series *s, size_t ns,
                     const char *x_label)
{
    char buf[32];
    for (double v = l->x.first; v <= l->x.hi + l->x.step * 1e-9; v += l->x.step) {
        int px = (int)lround(map_x(&l->x, v));
        draw_line(c, px, TOP, px, BOTTOM, GRID);
        draw_line(c, px, BOTTOM, px, BOTTOM + 5, BLACK);
        tick_label(buf, sizeof buf, v, l->x.step);
        draw_text(c, px - text_width(buf) / 2, BOTTOM + 10, buf, BLACK);
    }
    for (double v = l->y.first; v <= l->y.hi + l->y.step * 1e-9; v += l->y.step) {
        int py = (int)lround(map_y(&l->y, v));
        draw_line(c, LEFT, py, RIGHT, py, GRID);
        draw_line(c, LEFT - 5, py, LEFT, py, BLACK);
        tick_label(buf, sizeof buf, v, l->y.step);
        draw_text(c, LEFT - 10 - text_width(buf), py - GLYPH_HEIGHT / 2, buf, BLACK);
    }
    draw_line(c, LEFT, TOP, LEFT, BOTTOM, BLACK);
    draw_line(c, LEFT, BOTTOM, RIGHT, BOTTOM, BLACK);
    draw_line(c, LEFT, TOP, RIGHT, TOP, BLACK);
    draw_line(c, RIGHT, TOP, RIGHT, BOTTOM, BLACK);
    draw_text(c, (LEFT + RIGHT - text_width(x_label)) / 2, BOTTOM + 32, x_label, BLACK);
    for (size_t i = 0; i < ns; i++) {
        struct draw_rgb col = PALETTE[i % 10];
        bool have_prev = false;
        int px0 = 0, py0 = 0;
        for (size_t k = 0; k < s[i].n; k++) {
            if (!isfinite(s[i].x[k]) || !isfinite(s[i].y[k])) {
                have_prev = false;
                continue;
            }
            int px = (int)lround(map_x(&l->x, s[i].x[k])), py = (int)lround(map_y(&l->y, s[i].y[k]));
            if (have_prev)
                thick_line(c, px0, py0, px, py, col);
            else
                draw_rect(c, px - 1, py - 1, px + 1, py + 1, col); /* a lone point stays visible */
            px0 = px;
            py0 = py;
            have_prev = true;
        }
        int ly = TOP + 10 + (int)i * 20;
        draw_rect(c, LEGEND_X, ly + 3, LEGEND_X + 24, ly + 6, col);
        draw_text(c, LEGEND_X + 32, ly, s[i].label, BLACK);
    }
}

/* ---- SVG ---- */

static void svg_escaped(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

static void write_svg(FILE *f, const struct layout *l, const struct plot_series *s, size_t ns, const char *x_label)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"13\">\n"
               "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
            WIDTH, HEIGHT, WIDTH, HEIGHT, WIDTH, HEIGHT);
    char buf[32];
    fputs("<g class=\"grid\" stroke=\"#e1e1e1\">\n", f);
    for (double v = l->x.first; v <= l->x.hi + l->x.step * 1e-9; v += l->x.step)
        fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/>\n", map_x(&l->x, v), TOP, map_x(&l->x, v),
                BOTTOM);
    for (double v = l->y.first; v <= l->y.hi + l->y.step * 1e-9; v += l->y.step)
        fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>\n", LEFT, map_y(&l->y, v), RIGHT,
                map_y(&l->y, v));
    fputs("</g>\n<g class=\"ticks\">\n", f);
    for (double v = l->x.first; v <= l->x.hi + l->x.step * 1e-9; v += l->x.step) {
        tick_label(buf, sizeof buf, v, l->x.step);
        fprintf(f, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", map_x(&l->x, v), BOTTOM + 20, buf);
    }
    for (double v = l->y.first; v <= l->y.hi + l->y.step * 1e-9; v += l->y.step) {
        tick_label(buf, sizeof buf, v, l->y.step);
        fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n", LEFT - 8,
                map_y(&l->y, v), buf);
    }
    fprintf(f, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n", LEFT,
            TOP, RIGHT - LEFT, BOTTOM - TOP);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (LEFT + RIGHT) / 2, BOTTOM + 45);
    svg_escaped(f, x_label);
    fputs("</text>\n", f);
    for (size_t i = 0; i < ns; i++) {
        struct draw_rgb col = PALETTE[i % 10];
        char colour[8];
        snprintf(colour, sizeof colour, "#%02x%02x%02x", col.r, col.g, col.b);
        /* One polyline per finite run, so a non-finite point breaks the line. */
        bool open = false;
        for (size_t k = 0; k < s[i].n; k++) {
            bool finite = isfinite(s[i].x[k]) && isfinite(s[i].y[k]);
            if (finite && !open) {
                fprintf(f, "<polyline class=\"series\" data-series=\"%zu\" fill=\"none\" stroke=\"%s\" "
                           "stroke-width=\"2\" points=\"",
                        i, colour);
                open = true;
            } else if (!finite && open) {
                fputs("\"/>\n", f);
                open = false;
            }
            if (finite)
                fprintf(f, "%.2f,%.2f ", map_x(&l->x, s[i].x[k]), map_y(&l->y, s[i].y[k]));
        }
        if (open)
            fputs("\"/>\n", f);
        int ly = TOP + 10 + (int)i * 20;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"24\" height=\"4\" fill=\"%s\"/>\n", LEGEND_X, ly + 3, colour);
        fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">", LEGEND_X + 32, ly + 5);
        svg_escaped(f, s[i].label);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

int plot_write(const char *path, const struct plot_series *series, size_t nseries, const char *x_label,
               struct dashi_error *err)
{
    enum plot_format fmt;
    if (plot_format_of(path, &fmt, err) != 0)
        return -1;
    if (nseries == 0 || nseries > PLOT_MAX_SERIES)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "key", "a plot takes 1 to %d series, got %zu", PLOT_MAX_SERIES,
                          nseries);
    struct layout l;
    if (fit_layout(&l, series, nseries, err) != 0)
        return -1;
    if (fmt == PLOT_PNG) {
        struct draw_canvas c;
        if (draw_canvas_init(&c, WIDTH, HEIGHT, WHITE, false, err) != 0)
            return -1;
        draw_png(&c, &l, series, nseries, x_label);
        int rc = png_write_rgb(path, c.px, WIDTH, HEIGHT, "o", err);
        draw_canvas_free(&c);
        return rc;
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return dashi_fail(err, DASHI_E_IO, "o", "cannot create %s: %s", path, strerror(errno));
    write_svg(f, &l, series, nseries, x_label);
    if (ferror(f) | (fclose(f) != 0))
        return dashi_fail(err, DASHI_E_IO, "o", "writing %s: %s", path, strerror(errno));
    return 0;
}
